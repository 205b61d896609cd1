#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "errors.h"
#include "kc_test.h"
#include "client.h"
#include "leader.h"
#include "meta.h"
#include "testsrv.h"
#include "workqueue.h"

#define SEC KC_NSEC_PER_SEC
#define MS KC_NSEC_PER_MSEC

/* ---- an in-memory Lease "server" and a lock per candidate ---- */

struct fake_store {
	pthread_mutex_t mu;
	bool exists;
	kc_leader_record rec;
	uint64_t rv;
	int writes;
};

struct fake_lock {
	kc_leader_lock base;
	struct fake_store *st;
	uint64_t rv_seen;
	int fail_get, fail_update; /* next N calls fail with -ECONNREFUSED */
	void (*before_update)(void *);
	void *hook_arg;
};

static int fl_get(kc_leader_lock *b, kc_leader_record *out)
{
	struct fake_lock *l = (struct fake_lock *)b;
	if (l->fail_get > 0) {
		l->fail_get--;
		return -ECONNREFUSED;
	}
	pthread_mutex_lock(&l->st->mu);
	int rc = KC_ENOTFOUND;
	if (l->st->exists) {
		*out = l->st->rec;
		l->rv_seen = l->st->rv;
		rc = 0;
	}
	pthread_mutex_unlock(&l->st->mu);
	return rc;
}

static int fl_create(kc_leader_lock *b, const kc_leader_record *rec)
{
	struct fake_lock *l = (struct fake_lock *)b;
	pthread_mutex_lock(&l->st->mu);
	int rc = KC_EEXIST;
	if (!l->st->exists) {
		l->st->exists = true;
		l->st->rec = *rec;
		l->rv_seen = ++l->st->rv;
		l->st->writes++;
		rc = 0;
	}
	pthread_mutex_unlock(&l->st->mu);
	return rc;
}

static int fl_update(kc_leader_lock *b, const kc_leader_record *rec)
{
	struct fake_lock *l = (struct fake_lock *)b;
	if (l->before_update) {
		void (*h)(void *) = l->before_update;
		l->before_update = NULL;
		h(l->hook_arg);
	}
	if (l->fail_update > 0) {
		l->fail_update--;
		return -ECONNREFUSED;
	}
	pthread_mutex_lock(&l->st->mu);
	int rc;
	if (!l->st->exists) {
		rc = KC_ENOTFOUND;
	} else if (l->st->rv != l->rv_seen) {
		rc = KC_ECONFLICT;
	} else {
		l->st->rec = *rec;
		l->rv_seen = ++l->st->rv;
		l->st->writes++;
		rc = 0;
	}
	pthread_mutex_unlock(&l->st->mu);
	return rc;
}

static const char *fl_describe(kc_leader_lock *b) { (void)b; return "kube-system/test"; }

static void fake_lock_init(struct fake_lock *l, struct fake_store *st)
{
	memset(l, 0, sizeof(*l));
	l->base = (kc_leader_lock){ fl_get, fl_create, fl_update, fl_describe };
	l->st = st;
}

/* ---- callbacks that count ---- */

struct cand {
	struct fake_lock lock;
	kc_leader *le;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int started, stopped, new_leader;
	char last_leader[KC_LEADER_HOLDER_MAX];
};

static void on_started(void *arg)
{
	struct cand *c = arg;
	pthread_mutex_lock(&c->mu);
	c->started++;
	pthread_cond_broadcast(&c->cv);
	pthread_mutex_unlock(&c->mu);
}

static void on_stopped(void *arg)
{
	struct cand *c = arg;
	pthread_mutex_lock(&c->mu);
	c->stopped++;
	pthread_cond_broadcast(&c->cv);
	pthread_mutex_unlock(&c->mu);
}

static void on_new(void *arg, const char *id)
{
	struct cand *c = arg;
	pthread_mutex_lock(&c->mu);
	c->new_leader++;
	snprintf(c->last_leader, sizeof(c->last_leader), "%s", id);
	pthread_mutex_unlock(&c->mu);
}

static kc_fake_clock fc;
static struct fake_store store;

static void setup(void)
{
	kc_fake_clock_init(&fc, 1700000000 * SEC, 3);
	memset(&store, 0, sizeof(store));
	pthread_mutex_init(&store.mu, NULL);
}

static void teardown(void)
{
	pthread_mutex_destroy(&store.mu);
	kc_fake_clock_close(&fc);
}

static void cand_init(struct cand *c, const char *id, bool release)
{
	memset(c, 0, sizeof(*c));
	pthread_mutex_init(&c->mu, NULL);
	pthread_cond_init(&c->cv, NULL);
	fake_lock_init(&c->lock, &store);
	kc_leader_config cfg = {
		.lock = &c->lock.base,
		.identity = id,
		.release_on_cancel = release,
		.clock = &fc.base,
		.cb = { on_started, on_stopped, on_new, c },
	};
	ck_assert_int_eq(kc_leader_new(&cfg, &c->le), 0);
}

static void cand_close(struct cand *c)
{
	kc_leader_free(c->le);
	pthread_cond_destroy(&c->cv);
	pthread_mutex_destroy(&c->mu);
}

/* Step a candidate until nothing more is due now. */
static void settle(struct cand *c)
{
	for (int i = 0; i < 10; i++)
		if (kc_leader_step(c->le) != 0)
			return;
}

START_TEST(config_is_validated_as_upstream)
{
	struct fake_lock l;
	kc_leader *le = NULL;
	fake_lock_init(&l, &store);
	kc_leader_config cfg = { .lock = &l.base, .identity = "a", .clock = &fc.base,
				 .cb = { on_started, on_stopped, NULL, NULL } };
	ck_assert_int_eq(kc_leader_new(&cfg, &le), 0);
	kc_leader_free(le);
	kc_leader_config bad = cfg;
	bad.identity = "";
	ck_assert_int_eq(kc_leader_new(&bad, &le), -EINVAL);
	bad = cfg;
	bad.lease_duration_ns = 10 * SEC; /* not > renew deadline 10 s */
	ck_assert_int_eq(kc_leader_new(&bad, &le), -EINVAL);
	bad = cfg;
	bad.retry_period_ns = 9 * SEC; /* renew deadline must exceed 1.2 * retry */
	ck_assert_int_eq(kc_leader_new(&bad, &le), -EINVAL);
	bad = cfg;
	bad.cb.on_stopped_leading = NULL;
	ck_assert_int_eq(kc_leader_new(&bad, &le), -EINVAL);
	ck_assert_ptr_null(le);
}
END_TEST

START_TEST(acquires_absent_lease_with_upstream_fields)
{
	struct cand a;
	cand_init(&a, "host-a_1", false);
	int64_t t0 = kc_now_wall(&fc.base);
	settle(&a);
	ck_assert_int_eq(a.started, 1);
	ck_assert(kc_leader_is_leader(a.le));
	ck_assert_int_eq(a.new_leader, 1);
	ck_assert_str_eq(a.last_leader, "host-a_1");
	ck_assert(store.exists);
	ck_assert_str_eq(store.rec.holder, "host-a_1");
	ck_assert_int_eq(store.rec.lease_duration_s, 15);
	ck_assert_int_eq(store.rec.acquire_time_ns, t0);
	ck_assert_int_eq(store.rec.renew_time_ns, t0);
	ck_assert_int_eq(store.rec.lease_transitions, 0);

	/* renewals every retry period move renewTime, keep acquireTime */
	kc_fake_clock_advance(&fc, 2 * SEC);
	settle(&a);
	ck_assert_int_eq(store.rec.renew_time_ns, t0 + 2 * SEC);
	ck_assert_int_eq(store.rec.acquire_time_ns, t0);
	ck_assert_int_eq(store.rec.lease_transitions, 0);
	ck_assert_int_eq(a.started, 1);
	ck_assert_int_eq(a.stopped, 0);
	cand_close(&a);
}
END_TEST

START_TEST(two_candidates_only_one_leads)
{
	struct cand a, b;
	cand_init(&a, "a", false);
	cand_init(&b, "b", false);
	settle(&a);
	settle(&b);
	for (int i = 0; i < 60; i++) { /* two minutes, stepping both every second */
		kc_fake_clock_advance(&fc, SEC);
		settle(&a);
		settle(&b);
		ck_assert(kc_leader_is_leader(a.le));
		ck_assert(!kc_leader_is_leader(b.le));
	}
	ck_assert_int_eq(a.started, 1);
	ck_assert_int_eq(b.started, 0);
	ck_assert_int_eq(b.new_leader, 1);
	ck_assert_str_eq(b.last_leader, "a");
	char buf[64];
	kc_leader_get_leader(b.le, buf, sizeof(buf));
	ck_assert_str_eq(buf, "a");
	cand_close(&a);
	cand_close(&b);
}
END_TEST

/* The follower measures expiry from when *it* saw the record change, not from the
 * holder's renewTime: a stale renewTime (clock skew, or an old record) does not let it
 * take over early. */
START_TEST(takeover_waits_full_lease_duration_on_own_clock)
{
	struct cand a, b;
	cand_init(&a, "a", false);
	cand_init(&b, "b", false);
	settle(&a);
	kc_fake_clock_advance(&fc, 2 * SEC);
	settle(&a); /* last renewal; then "a" dies */
	ck_assert(!kc_leader_try_acquire_or_renew(b.le)); /* b observes the record now */
	kc_fake_clock_advance(&fc, 15 * SEC - 1);
	ck_assert(!kc_leader_try_acquire_or_renew(b.le));
	ck_assert_str_eq(store.rec.holder, "a");
	kc_fake_clock_advance(&fc, 1);
	ck_assert(kc_leader_try_acquire_or_renew(b.le));
	ck_assert_str_eq(store.rec.holder, "b");
	ck_assert_int_eq(store.rec.lease_transitions, 1);
	ck_assert_int_eq(store.rec.acquire_time_ns, kc_now_wall(&fc.base));
	cand_close(&a);
	cand_close(&b);
}
END_TEST

START_TEST(stale_renew_time_does_not_expire_early)
{
	struct cand b;
	cand_init(&b, "b", false);
	store.exists = true;
	store.rv = 7;
	snprintf(store.rec.holder, sizeof(store.rec.holder), "x");
	store.rec.lease_duration_s = 15;
	store.rec.renew_time_ns = kc_now_wall(&fc.base) - 3600 * SEC; /* an hour "ago" */
	ck_assert(!kc_leader_try_acquire_or_renew(b.le));
	kc_fake_clock_advance(&fc, 14 * SEC);
	ck_assert(!kc_leader_try_acquire_or_renew(b.le));
	kc_fake_clock_advance(&fc, SEC);
	ck_assert(kc_leader_try_acquire_or_renew(b.le));
	cand_close(&b);
}
END_TEST

START_TEST(leader_that_stops_renewing_is_replaced_via_steps)
{
	struct cand a, b;
	cand_init(&a, "a", false);
	cand_init(&b, "b", false);
	settle(&a);
	settle(&b);
	int64_t a_last = kc_now_mono(&fc.base);
	/* "a" stops stepping (hung / dead). b steps every 100 ms. */
	int64_t took = 0;
	for (int i = 0; i < 400 && !took; i++) {
		kc_fake_clock_advance(&fc, 100 * MS);
		settle(&b);
		if (kc_leader_is_leader(b.le))
			took = kc_now_mono(&fc.base);
	}
	ck_assert_int_ne(took, 0);
	/* not before the lease duration, and within one jittered retry after it */
	ck_assert_int_ge(took - a_last, 15 * SEC);
	ck_assert_int_le(took - a_last, 15 * SEC + (int64_t)(2.2 * 2 * SEC) + 100 * MS);
	ck_assert_int_eq(b.started, 1);
	ck_assert_str_eq(b.last_leader, "b");
	/* the old leader wakes up: its renewal conflicts and then sees "b" */
	ck_assert(!kc_leader_try_acquire_or_renew(a.le));
	ck_assert(!kc_leader_is_leader(a.le));
	ck_assert_str_eq(store.rec.holder, "b");
	cand_close(&a);
	cand_close(&b);
}
END_TEST

START_TEST(failed_renewals_lose_leadership_at_renew_deadline)
{
	struct cand a;
	cand_init(&a, "a", false);
	settle(&a);
	ck_assert_int_eq(a.started, 1);
	a.lock.fail_update = 1000;
	a.lock.fail_get = 1000;
	int64_t t0 = kc_now_mono(&fc.base);
	int64_t lost = 0;
	for (int i = 0; i < 300 && !lost; i++) {
		kc_fake_clock_advance(&fc, 100 * MS);
		if (kc_leader_step(a.le) < 0)
			lost = kc_now_mono(&fc.base);
	}
	ck_assert_int_ne(lost, 0);
	ck_assert_int_eq(a.stopped, 1);
	/* the last good renewal opened a round at t0 (+ one retry period) whose renew
	 * deadline is 10 s later */
	ck_assert_int_ge(lost - t0, 10 * SEC);
	ck_assert_int_le(lost - t0, 12 * SEC);
	ck_assert_int_eq(kc_leader_step(a.le), -1);
	ck_assert_int_eq(a.stopped, 1);
	cand_close(&a);
}
END_TEST

START_TEST(transient_renew_failure_within_deadline_keeps_leading)
{
	struct cand a;
	cand_init(&a, "a", false);
	settle(&a);
	a.lock.fail_update = 3;
	a.lock.fail_get = 3;
	for (int i = 0; i < 100; i++) {
		kc_fake_clock_advance(&fc, 100 * MS);
		ck_assert_int_ge(kc_leader_step(a.le), 0);
	}
	ck_assert(kc_leader_is_leader(a.le));
	ck_assert_int_eq(a.stopped, 0);
	ck_assert_int_le(kc_now_wall(&fc.base) - store.rec.renew_time_ns, 2 * SEC);
	cand_close(&a);
}
END_TEST

static void race_hook(void *arg)
{
	struct cand *a = arg;
	ck_assert(kc_leader_try_acquire_or_renew(a->le));
}

/* Two candidates read the same expired lease; the one whose write lands second gets
 * a Conflict and must not believe it leads. */
START_TEST(conflict_loses_the_race)
{
	struct cand a, b;
	cand_init(&a, "a", false);
	cand_init(&b, "b", false);
	store.exists = true;
	store.rv = 1;
	snprintf(store.rec.holder, sizeof(store.rec.holder), "old");
	store.rec.lease_duration_s = 15;
	store.rec.lease_transitions = 4;
	ck_assert(!kc_leader_try_acquire_or_renew(a.le));
	ck_assert(!kc_leader_try_acquire_or_renew(b.le));
	kc_fake_clock_advance(&fc, 16 * SEC);
	b.lock.before_update = race_hook; /* a wins between b's get and b's update */
	b.lock.hook_arg = &a;
	ck_assert(!kc_leader_try_acquire_or_renew(b.le));
	ck_assert(!kc_leader_is_leader(b.le));
	ck_assert(kc_leader_is_leader(a.le));
	ck_assert_str_eq(store.rec.holder, "a");
	ck_assert_int_eq(store.rec.lease_transitions, 5);
	/* next period b sees a fresh record held by a and backs off */
	kc_fake_clock_advance(&fc, 2 * SEC);
	ck_assert(!kc_leader_try_acquire_or_renew(b.le));
	cand_close(&a);
	cand_close(&b);
}
END_TEST

static void bump_hook(void *arg)
{
	/* someone else touched the object (e.g. a label) without changing the spec */
	(void)arg;
	pthread_mutex_lock(&store.mu);
	store.rv++;
	pthread_mutex_unlock(&store.mu);
}

START_TEST(leader_fast_path_conflict_falls_back_and_renews)
{
	struct cand a;
	cand_init(&a, "a", false);
	settle(&a);
	kc_fake_clock_advance(&fc, 2 * SEC);
	a.lock.before_update = bump_hook;
	ck_assert(kc_leader_try_acquire_or_renew(a.le));
	ck_assert(kc_leader_is_leader(a.le));
	ck_assert_int_eq(store.rec.renew_time_ns, kc_now_wall(&fc.base));
	ck_assert_int_eq(store.rec.lease_transitions, 0);
	cand_close(&a);
}
END_TEST

START_TEST(release_on_cancel_hands_over_immediately)
{
	struct cand a, b;
	cand_init(&a, "a", true);
	cand_init(&b, "b", false);
	settle(&a);
	settle(&b);
	ck_assert(!kc_leader_is_leader(b.le));
	kc_leader_cancel(a.le);
	ck_assert_int_eq(kc_leader_step(a.le), -1);
	ck_assert_int_eq(a.stopped, 1);
	ck_assert_str_eq(store.rec.holder, "");
	ck_assert_int_eq(store.rec.lease_duration_s, 1);
	ck_assert_int_eq(store.rec.lease_transitions, 0);
	/* an empty holder is free for the taking at once */
	ck_assert(kc_leader_try_acquire_or_renew(b.le));
	ck_assert_str_eq(store.rec.holder, "b");
	ck_assert_int_eq(store.rec.lease_transitions, 1);
	cand_close(&a);
	cand_close(&b);
}
END_TEST

START_TEST(cancel_without_release_keeps_record)
{
	struct cand a, c;
	cand_init(&a, "a", false);
	cand_init(&c, "c", true);
	settle(&a);
	kc_leader_cancel(a.le);
	ck_assert_int_eq(kc_leader_step(a.le), -1);
	ck_assert_str_eq(store.rec.holder, "a");
	/* a candidate that never led and is cancelled writes nothing but still reports
	 * stopped, as upstream's deferred OnStoppedLeading */
	int writes = store.writes;
	settle(&c);
	kc_leader_cancel(c.le);
	ck_assert_int_eq(kc_leader_step(c.le), -1);
	ck_assert_int_eq(store.writes, writes);
	ck_assert_int_eq(c.started, 0);
	ck_assert_int_eq(c.stopped, 1);
	cand_close(&a);
	cand_close(&c);
}
END_TEST

/* The threaded runner with the real clock: acquiring is immediate on an absent lease,
 * stop releases it. Waits are on the callbacks' condition variable with a deadline. */
START_TEST(threaded_run_acquires_and_releases)
{
	struct cand a;
	memset(&a, 0, sizeof(a));
	pthread_mutex_init(&a.mu, NULL);
	pthread_cond_init(&a.cv, NULL);
	fake_lock_init(&a.lock, &store);
	kc_leader_config cfg = { .lock = &a.lock.base, .identity = "t", .release_on_cancel = true,
				 .cb = { on_started, on_stopped, on_new, &a } };
	ck_assert_int_eq(kc_leader_new(&cfg, &a.le), 0);
	ck_assert_int_eq(kc_leader_start(a.le), 0);
	struct timespec dl;
	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += 3;
	pthread_mutex_lock(&a.mu);
	while (!a.started)
		if (pthread_cond_timedwait(&a.cv, &a.mu, &dl) != 0)
			break;
	int started = a.started;
	pthread_mutex_unlock(&a.mu);
	ck_assert_int_eq(started, 1);
	kc_leader_stop(a.le);
	ck_assert_int_eq(a.stopped, 1);
	ck_assert_str_eq(store.rec.holder, "");
	cand_close(&a);
}
END_TEST


START_TEST(health_check_flags_a_wedged_leader)
{
	struct cand a, b;
	cand_init(&a, "a", false);
	cand_init(&b, "b", false);
	settle(&a);
	settle(&b);
	ck_assert_int_eq(kc_leader_check(a.le, 20 * SEC), 0);
	/* a's thread hangs: no steps for lease duration + tolerance */
	kc_fake_clock_advance(&fc, 35 * SEC);
	ck_assert_int_eq(kc_leader_check(a.le, 20 * SEC), 0);
	kc_fake_clock_advance(&fc, 1);
	ck_assert_int_eq(kc_leader_check(a.le, 20 * SEC), -ETIMEDOUT);
	/* a follower is never unhealthy by this check */
	ck_assert_int_eq(kc_leader_check(b.le, 20 * SEC), 0);
	cand_close(&a);
	cand_close(&b);
}
END_TEST

START_TEST(micro_time_round_trips)
{
	char buf[40];
	int64_t t = 1700000000 * SEC + 123456789;
	ck_assert_int_eq(kc_meta_microtime_format(t, buf, sizeof(buf)) > 0, 1);
	ck_assert_str_eq(buf, "2023-11-14T22:13:20.123456Z");
	int64_t back;
	ck_assert_int_eq(kc_meta_time_parse(buf, &back), 0);
	ck_assert_int_eq(back, t - 789);
	ck_assert_int_eq(kc_meta_time_parse("2023-11-14T23:13:20+01:00", &back), 0);
	ck_assert_int_eq(back, 1700000000 * SEC);
	ck_assert_int_eq(kc_meta_time_parse("2023-11-14 22:13:20Z", &back), KC_EPARSE);
	ck_assert_int_eq(kc_meta_time_parse("2023-11-14T22:13:20", &back), KC_EPARSE);
	ck_assert_int_eq(kc_meta_time_parse("2023-13-14T22:13:20Z", &back), KC_EPARSE);
}
END_TEST

START_TEST(lease_json_round_trips)
{
	kc_leader_record r = { .lease_duration_s = 15, .lease_transitions = 3,
			       .acquire_time_ns = 1700000000 * SEC,
			       .renew_time_ns = 1700000002 * SEC + 500000000 };
	snprintf(r.holder, sizeof(r.holder), "node1_abc");
	cJSON *lease = cJSON_CreateObject();
	cJSON *spec = kc_leader_record_to_spec(&r);
	ck_assert_ptr_nonnull(spec);
	ck_assert_str_eq(cJSON_GetObjectItem(spec, "renewTime")->valuestring,
			 "2023-11-14T22:13:22.500000Z");
	cJSON_AddItemToObject(lease, "spec", spec);
	kc_leader_record back;
	ck_assert_int_eq(kc_leader_record_from_lease(lease, &back), 0);
	ck_assert_str_eq(back.holder, "node1_abc");
	ck_assert_int_eq(back.lease_duration_s, 15);
	ck_assert_int_eq(back.lease_transitions, 3);
	ck_assert_int_eq(back.acquire_time_ns, r.acquire_time_ns);
	ck_assert_int_eq(back.renew_time_ns, r.renew_time_ns);
	/* wrong types are rejected, not crashed on */
	cJSON_ReplaceItemInObject(spec, "leaseDurationSeconds", cJSON_CreateString("15"));
	ck_assert_int_eq(kc_leader_record_from_lease(lease, &back), KC_EPARSE);
	cJSON_ReplaceItemInObject(spec, "leaseDurationSeconds", cJSON_CreateNumber(15));
	cJSON_ReplaceItemInObject(spec, "renewTime", cJSON_CreateString("yesterday"));
	ck_assert_int_eq(kc_leader_record_from_lease(lease, &back), KC_EPARSE);
	cJSON_Delete(lease);
	/* an empty Lease (no spec) is an empty record */
	lease = cJSON_Parse("{\"metadata\":{\"name\":\"x\"}}");
	ck_assert_int_eq(kc_leader_record_from_lease(lease, &back), 0);
	ck_assert_str_eq(back.holder, "");
	cJSON_Delete(lease);
}
END_TEST

START_TEST(default_identity_is_host_underscore_uuid)
{
	char id[300], host[256];
	ck_assert_int_eq(kc_leader_default_identity(id, sizeof(id), &fc.base), 0);
	gethostname(host, sizeof(host));
	size_t hl = strlen(host);
	ck_assert_int_eq(strncmp(id, host, hl), 0);
	ck_assert_int_eq(id[hl], '_');
	const char *u = id + hl + 1;
	ck_assert_uint_eq(strlen(u), 36);
	ck_assert(u[8] == '-' && u[13] == '-' && u[18] == '-' && u[23] == '-');
	ck_assert_int_eq(u[14], '4');
	char id2[300];
	kc_leader_default_identity(id2, sizeof(id2), &fc.base);
	ck_assert_str_ne(id, id2);
}
END_TEST


/* ---- the real Lease lock against a tiny in-memory Lease endpoint ---- */

#define LEASES "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases"

struct lease_srv {
	pthread_mutex_t mu;
	cJSON *obj;
	int rv, gets, posts, puts, conflicts;
};

static char *status_body(int code, const char *reason)
{
	char *b = NULL;
	if (asprintf(&b, "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"status\":\"Failure\","
		     "\"reason\":\"%s\",\"code\":%d}", reason, code) < 0)
		return NULL;
	return b;
}

static void set_rv(cJSON *obj, int rv)
{
	char buf[16];
	snprintf(buf, sizeof(buf), "%d", rv);
	cJSON *m = cJSON_GetObjectItem(obj, "metadata");
	cJSON_DeleteItemFromObject(m, "resourceVersion");
	cJSON_AddStringToObject(m, "resourceVersion", buf);
}

static void lease_handler(const testsrv_req *req, testsrv_resp *resp, void *arg)
{
	struct lease_srv *s = arg;
	pthread_mutex_lock(&s->mu);
	bool named = !strcmp(req->path, LEASES "/sched");
	cJSON *body = req->body_len ? cJSON_Parse(req->body) : NULL;
	if (!strcmp(req->method, "GET") && named) {
		s->gets++;
		if (!s->obj) {
			resp->status = 404;
			resp->body = status_body(404, "NotFound");
		} else {
			resp->body = cJSON_PrintUnformatted(s->obj);
		}
	} else if (!strcmp(req->method, "POST") && !strcmp(req->path, LEASES)) {
		s->posts++;
		if (s->obj) {
			resp->status = 409;
			resp->body = status_body(409, "AlreadyExists");
		} else {
			s->obj = body;
			body = NULL;
			set_rv(s->obj, ++s->rv);
			resp->status = 201;
			resp->body = cJSON_PrintUnformatted(s->obj);
		}
	} else if (!strcmp(req->method, "PUT") && named && body) {
		s->puts++;
		const char *rv = cJSON_GetStringValue(
			cJSON_GetObjectItem(cJSON_GetObjectItem(body, "metadata"), "resourceVersion"));
		char cur[16];
		snprintf(cur, sizeof(cur), "%d", s->rv);
		if (!s->obj) {
			resp->status = 404;
			resp->body = status_body(404, "NotFound");
		} else if (!rv || strcmp(rv, cur)) {
			s->conflicts++;
			resp->status = 409;
			resp->body = status_body(409, "Conflict");
		} else {
			cJSON_Delete(s->obj);
			s->obj = body;
			body = NULL;
			set_rv(s->obj, ++s->rv);
			resp->body = cJSON_PrintUnformatted(s->obj);
		}
	} else {
		resp->status = 405;
		resp->body = status_body(405, "MethodNotAllowed");
	}
	cJSON_Delete(body);
	pthread_mutex_unlock(&s->mu);
}

static const char *spec_str(struct lease_srv *s, const char *f)
{
	return cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetObjectItem(s->obj, "spec"), f));
}

static int spec_int(struct lease_srv *s, const char *f)
{
	return (int)cJSON_GetNumberValue(cJSON_GetObjectItem(cJSON_GetObjectItem(s->obj, "spec"), f));
}

START_TEST(lease_lock_over_http)
{
	struct lease_srv ls = { .mu = PTHREAD_MUTEX_INITIALIZER };
	testsrv *srv;
	ck_assert_int_eq(testsrv_start(&srv, lease_handler, &ls), 0);
	kc_kubeconfig kc;
	ck_assert_int_eq(kc_kubeconfig_from_parts(&kc, testsrv_url(srv), NULL, NULL, NULL, NULL), 0);
	kc_client *client;
	ck_assert_int_eq(kc_client_new(&kc, NULL, &client), 0);
	kc_kubeconfig_close(&kc);

	kc_leader_lock *la, *lb;
	ck_assert_int_eq(kc_leader_lease_lock_new(client, "kube-system", "sched", &la), 0);
	ck_assert_int_eq(kc_leader_lease_lock_new(client, "kube-system", "sched", &lb), 0);
	ck_assert_int_eq(kc_leader_lease_lock_new(client, "kube-system", "a/b", &(kc_leader_lock *){ NULL }),
			 -EINVAL);
	ck_assert_str_eq(la->describe(la), "kube-system/sched");
	struct cand a = { 0 }, b = { 0 };
	kc_leader_config cfg = { .identity = "a", .clock = &fc.base, .release_on_cancel = true };
	cfg.lock = la;
	cfg.cb = (kc_leader_callbacks){ on_started, on_stopped, on_new, &a };
	pthread_mutex_init(&a.mu, NULL);
	pthread_cond_init(&a.cv, NULL);
	pthread_mutex_init(&b.mu, NULL);
	pthread_cond_init(&b.cv, NULL);
	ck_assert_int_eq(kc_leader_new(&cfg, &a.le), 0);
	cfg.identity = "b";
	cfg.lock = lb;
	cfg.cb.arg = &b;
	ck_assert_int_eq(kc_leader_new(&cfg, &b.le), 0);

	/* absent -> created by a (GET 404 then POST) */
	settle(&a);
	ck_assert(kc_leader_is_leader(a.le));
	ck_assert_int_eq(ls.posts, 1);
	ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(ls.obj, "kind")), "Lease");
	ck_assert_str_eq(spec_str(&ls, "holderIdentity"), "a");
	ck_assert_int_eq(spec_int(&ls, "leaseDurationSeconds"), 15);
	ck_assert_int_eq(spec_int(&ls, "leaseTransitions"), 0);
	ck_assert_str_eq(spec_str(&ls, "renewTime"), "2023-11-14T22:13:20.000000Z");
	ck_assert_str_eq(spec_str(&ls, "acquireTime"), "2023-11-14T22:13:20.000000Z");

	/* b reads it over HTTP and follows */
	settle(&b);
	ck_assert(!kc_leader_is_leader(b.le));
	ck_assert_str_eq(b.last_leader, "a");

	/* renewal is a PUT carrying the resourceVersion; someone else's write in between
	 * makes the optimistic PUT conflict, and the slow path (GET + PUT) renews anyway */
	kc_fake_clock_advance(&fc, 2 * SEC + 250 * MS);
	pthread_mutex_lock(&ls.mu);
	set_rv(ls.obj, ++ls.rv);
	pthread_mutex_unlock(&ls.mu);
	settle(&a);
	ck_assert(kc_leader_is_leader(a.le));
	ck_assert_int_ge(ls.conflicts, 1);
	ck_assert_str_eq(spec_str(&ls, "renewTime"), "2023-11-14T22:13:22.250000Z");
	ck_assert_str_eq(spec_str(&ls, "acquireTime"), "2023-11-14T22:13:20.000000Z");

	/* release on cancel, then b takes over at once */
	kc_leader_cancel(a.le);
	ck_assert_int_eq(kc_leader_step(a.le), -1);
	ck_assert_str_eq(spec_str(&ls, "holderIdentity"), "");
	ck_assert_int_eq(spec_int(&ls, "leaseDurationSeconds"), 1);
	ck_assert(kc_leader_try_acquire_or_renew(b.le));
	ck_assert_str_eq(spec_str(&ls, "holderIdentity"), "b");
	ck_assert_int_eq(spec_int(&ls, "leaseTransitions"), 1);

	kc_leader_free(a.le);
	kc_leader_free(b.le);
	kc_leader_lease_lock_free(la);
	kc_leader_lease_lock_free(lb);
	kc_client_free(client);
	testsrv_stop(srv);
	cJSON_Delete(ls.obj);
}
END_TEST

static Suite *leader_suite(void)
{
	Suite *s = suite_create("leader");
	TCase *tc = tcase_create("core");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, config_is_validated_as_upstream);
	tcase_add_test(tc, acquires_absent_lease_with_upstream_fields);
	tcase_add_test(tc, two_candidates_only_one_leads);
	tcase_add_test(tc, takeover_waits_full_lease_duration_on_own_clock);
	tcase_add_test(tc, stale_renew_time_does_not_expire_early);
	tcase_add_test(tc, leader_that_stops_renewing_is_replaced_via_steps);
	tcase_add_test(tc, failed_renewals_lose_leadership_at_renew_deadline);
	tcase_add_test(tc, transient_renew_failure_within_deadline_keeps_leading);
	tcase_add_test(tc, conflict_loses_the_race);
	tcase_add_test(tc, leader_fast_path_conflict_falls_back_and_renews);
	tcase_add_test(tc, release_on_cancel_hands_over_immediately);
	tcase_add_test(tc, cancel_without_release_keeps_record);
	tcase_add_test(tc, threaded_run_acquires_and_releases);
	tcase_add_test(tc, health_check_flags_a_wedged_leader);
	tcase_add_test(tc, micro_time_round_trips);
	tcase_add_test(tc, lease_json_round_trips);
	tcase_add_test(tc, default_identity_is_host_underscore_uuid);
	tcase_add_test(tc, lease_lock_over_http);
	suite_add_tcase(s, tc);
	return s;
}

KC_TEST_MAIN(leader_suite)
