/* Leases with a fake clock: grant/keepalive/timetolive/leases/revoke as etcd 3.4, and
 * expiry deleting every attached key in one revision that watchers see. */
#include <errno.h>
#include <pthread.h>
#include <time.h>

#include "../../store/kv.h"
#include "kc_test.h"

#include "kvtest.h"

static int64_t grant(struct kv *kv, int64_t id, int64_t ttl, int *err)
{
	Kvpb__LeaseGrantRequest g = KVPB__LEASE_GRANT_REQUEST__INIT;
	g.id = id;
	g.ttl = ttl;
	Kvpb__LeaseGrantResponse *r = NULL;
	*err = kv_lease_grant(kv, &g, &r);
	if (*err)
		return 0;
	int64_t granted = r->ttl;
	ck_assert(r->id != 0);
	if (id)
		ck_assert_int_eq(r->id, id);
	kvpb__lease_grant_response__free_unpacked(r, NULL);
	return granted;
}

static int put_lease(struct kv *kv, const char *k, int64_t lease)
{
	Kvpb__PutRequest p = KVPB__PUT_REQUEST__INIT;
	p.key = kvt_bin(k);
	p.value = kvt_bin("v");
	p.lease = lease;
	Kvpb__PutResponse *r = NULL;
	int rc = kv_put(kv, &p, &r);
	if (!rc)
		kvpb__put_response__free_unpacked(r, NULL);
	return rc;
}

static Kvpb__LeaseTimeToLiveResponse *ttl_of(struct kv *kv, int64_t id)
{
	Kvpb__LeaseTimeToLiveRequest q = KVPB__LEASE_TIME_TO_LIVE_REQUEST__INIT;
	q.id = id;
	q.keys = true;
	Kvpb__LeaseTimeToLiveResponse *r = NULL;
	ck_assert_int_eq(kv_lease_timetolive(kv, &q, &r), 0);
	return r;
}

START_TEST(grant_keepalive_timetolive_revoke)
{
	kc_fake_clock fc;
	kc_fake_clock_init(&fc, INT64_C(1700000000) * KC_NSEC_PER_SEC, 1);
	char *dir = kvt_tmpdir();
	struct kv *kv = kvt_open(dir, &fc.base, 0);
	int err;
	ck_assert_int_eq(grant(kv, 7587, 60, &err), 60);
	grant(kv, 7587, 60, &err);
	ck_assert_int_eq(err, KV_ELEASEEXIST);
	ck_assert_int_eq(grant(kv, 0, 0, &err), 2); /* etcd's minimum TTL */
	grant(kv, 0, INT64_C(9000000001), &err);
	ck_assert_int_eq(err, KV_ELEASETTLTOOLARGE);
	ck_assert_int_eq(put_lease(kv, "leased", 7587), 0);
	ck_assert_int_eq(put_lease(kv, "leased2", 7587), 0);
	ck_assert_int_eq(put_lease(kv, "nolease", 12345), KV_ELEASENOTFOUND);

	kc_fake_clock_advance(&fc, 1500 * KC_NSEC_PER_MSEC);
	Kvpb__LeaseTimeToLiveResponse *t = ttl_of(kv, 7587);
	ck_assert_int_eq(t->ttl, 58); /* 58.5 s left, truncated like etcd */
	ck_assert_int_eq(t->grantedttl, 60);
	ck_assert_uint_eq(t->n_keys, 2);
	ck_assert(t->keys[0].len == 6 && memcmp(t->keys[0].data, "leased", 6) == 0);
	kvpb__lease_time_to_live_response__free_unpacked(t, NULL);
	t = ttl_of(kv, 12345);
	ck_assert_int_eq(t->ttl, -1);
	kvpb__lease_time_to_live_response__free_unpacked(t, NULL);

	Kvpb__LeaseKeepAliveRequest ka = KVPB__LEASE_KEEP_ALIVE_REQUEST__INIT;
	ka.id = 7587;
	Kvpb__LeaseKeepAliveResponse *kr = NULL;
	ck_assert_int_eq(kv_lease_keepalive(kv, &ka, &kr), 0);
	ck_assert_int_eq(kr->ttl, 60);
	kvpb__lease_keep_alive_response__free_unpacked(kr, NULL);
	t = ttl_of(kv, 7587);
	ck_assert_int_eq(t->ttl, 60);
	kvpb__lease_time_to_live_response__free_unpacked(t, NULL);
	ka.id = 12345;
	ck_assert_int_eq(kv_lease_keepalive(kv, &ka, &kr), 0);
	ck_assert_int_eq(kr->ttl, 0); /* unknown: TTL 0, no error */
	kvpb__lease_keep_alive_response__free_unpacked(kr, NULL);

	Kvpb__LeaseLeasesRequest lq = KVPB__LEASE_LEASES_REQUEST__INIT;
	Kvpb__LeaseLeasesResponse *lr = NULL;
	ck_assert_int_eq(kv_lease_leases(kv, &lq, &lr), 0);
	ck_assert_uint_eq(lr->n_leases, 2);
	kvpb__lease_leases_response__free_unpacked(lr, NULL);

	/* moving a key to no lease detaches it */
	ck_assert_int_eq(put_lease(kv, "leased2", 0), 0);
	t = ttl_of(kv, 7587);
	ck_assert_uint_eq(t->n_keys, 1);
	kvpb__lease_time_to_live_response__free_unpacked(t, NULL);

	int64_t before = kv_current_rev(kv);
	Kvpb__LeaseRevokeRequest rq = KVPB__LEASE_REVOKE_REQUEST__INIT;
	rq.id = 7587;
	Kvpb__LeaseRevokeResponse *rr = NULL;
	ck_assert_int_eq(kv_lease_revoke(kv, &rq, &rr), 0);
	ck_assert_int_eq(rr->header->revision, before + 1);
	kvpb__lease_revoke_response__free_unpacked(rr, NULL);
	char v[8];
	Kvpb__KeyValue m;
	kvt_get_at(kv, "leased", 0, v, sizeof(v), &m);
	ck_assert_int_eq(m.mod_revision, 0);
	kvt_get_at(kv, "leased2", 0, v, sizeof(v), &m);
	ck_assert_int_gt(m.mod_revision, 0);
	ck_assert_int_eq(kv_lease_revoke(kv, &rq, &rr), KV_ELEASENOTFOUND);
	kv_close(kv);
	kc_fake_clock_close(&fc);
	kvt_rm_rf(dir);
	free(dir);
}
END_TEST

struct events {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int msgs, deletes;
	int64_t del_rev[8];
	int del_msgs;
};

static int on_watch(void *arg, const Kvpb__WatchResponse *r)
{
	struct events *e = arg;
	pthread_mutex_lock(&e->mu);
	e->msgs++;
	bool had_delete = false;
	for (size_t i = 0; i < r->n_events; i++)
		if (r->events[i]->type == KVPB__EVENT__EVENT_TYPE__DELETE) {
			if (e->deletes < 8)
				e->del_rev[e->deletes] = r->events[i]->kv->mod_revision;
			e->deletes++;
			had_delete = true;
		}
	e->del_msgs += had_delete;
	pthread_cond_broadcast(&e->cv);
	pthread_mutex_unlock(&e->mu);
	return 0;
}

/* Wait (real time, bounded) until at least n deletes arrived. */
static int wait_deletes(struct events *e, int n)
{
	struct timespec dl;
	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += 10;
	pthread_mutex_lock(&e->mu);
	int rc = 0;
	while (e->deletes < n && rc == 0)
		rc = pthread_cond_timedwait(&e->cv, &e->mu, &dl);
	int got = e->deletes;
	pthread_mutex_unlock(&e->mu);
	return got;
}

START_TEST(expiry_deletes_keys_in_one_revision)
{
	kc_fake_clock fc;
	kc_fake_clock_init(&fc, INT64_C(1700000000) * KC_NSEC_PER_SEC, 2);
	char *dir = kvt_tmpdir();
	struct kv *kv = kvt_open(dir, &fc.base, 0);
	int err;
	grant(kv, 100, 10, &err);
	ck_assert_int_eq(err, 0);
	ck_assert_int_eq(put_lease(kv, "l/a", 100), 0);
	ck_assert_int_eq(put_lease(kv, "l/b", 100), 0);
	ck_assert_int_eq(put_lease(kv, "l/c", 100), 0);
	kvt_put(kv, "l/keep", "x");
	struct events ev = { .msgs = 0 };
	pthread_mutex_init(&ev.mu, NULL);
	pthread_cond_init(&ev.cv, NULL);
	Kvpb__WatchCreateRequest wr = KVPB__WATCH_CREATE_REQUEST__INIT;
	wr.key = kvt_bin("l/");
	wr.range_end = kvt_bin("l0");
	struct kv_watch *w = NULL;
	ck_assert_int_eq(kv_watch_create(kv, &wr, 0, on_watch, &ev, &w), 0);

	/* keepalive moves the deadline: 8 s later, 2 s remain */
	kc_fake_clock_advance(&fc, 8 * KC_NSEC_PER_SEC);
	Kvpb__LeaseKeepAliveRequest ka = KVPB__LEASE_KEEP_ALIVE_REQUEST__INIT;
	ka.id = 100;
	Kvpb__LeaseKeepAliveResponse *kr = NULL;
	ck_assert_int_eq(kv_lease_keepalive(kv, &ka, &kr), 0);
	kvpb__lease_keep_alive_response__free_unpacked(kr, NULL);
	kc_fake_clock_advance(&fc, 8 * KC_NSEC_PER_SEC);
	Kvpb__LeaseTimeToLiveResponse *t = ttl_of(kv, 100);
	ck_assert_int_eq(t->ttl, 2);
	kvpb__lease_time_to_live_response__free_unpacked(t, NULL);

	int64_t rev = kv_current_rev(kv);
	kc_fake_clock_advance(&fc, 3 * KC_NSEC_PER_SEC);
	ck_assert_int_eq(wait_deletes(&ev, 3), 3);
	pthread_mutex_lock(&ev.mu);
	ck_assert_int_eq(ev.del_msgs, 1); /* one message: one revision */
	ck_assert_int_eq(ev.del_rev[0], rev + 1);
	ck_assert_int_eq(ev.del_rev[2], rev + 1);
	pthread_mutex_unlock(&ev.mu);
	ck_assert_int_eq(kv_current_rev(kv), rev + 1);
	t = ttl_of(kv, 100);
	ck_assert_int_eq(t->ttl, -1);
	kvpb__lease_time_to_live_response__free_unpacked(t, NULL);
	char v[8];
	Kvpb__KeyValue m;
	kvt_get_at(kv, "l/keep", 0, v, sizeof(v), &m);
	ck_assert_str_eq(v, "x");
	kv_watch_cancel(kv, w, false);
	kv_close(kv);
	kc_fake_clock_close(&fc);
	pthread_mutex_destroy(&ev.mu);
	pthread_cond_destroy(&ev.cv);
	kvt_rm_rf(dir);
	free(dir);
}
END_TEST

START_TEST(leases_survive_restart_with_full_ttl)
{
	kc_fake_clock fc;
	kc_fake_clock_init(&fc, INT64_C(1700000000) * KC_NSEC_PER_SEC, 3);
	char *dir = kvt_tmpdir();
	struct kv *kv = kvt_open(dir, &fc.base, 0);
	int err;
	grant(kv, 55, 30, &err);
	ck_assert_int_eq(put_lease(kv, "k", 55), 0);
	kc_fake_clock_advance(&fc, 20 * KC_NSEC_PER_SEC);
	kv_close(kv);
	kv = kvt_open(dir, &fc.base, 0);
	/* etcd 3.4 (no checkpoints): a restarted member gives leases their full TTL */
	Kvpb__LeaseTimeToLiveResponse *t = ttl_of(kv, 55);
	ck_assert_int_eq(t->ttl, 30);
	ck_assert_uint_eq(t->n_keys, 1);
	kvpb__lease_time_to_live_response__free_unpacked(t, NULL);
	kv_close(kv);
	kc_fake_clock_close(&fc);
	kvt_rm_rf(dir);
	free(dir);
}
END_TEST

static Suite *lease_suite(void)
{
	Suite *s = suite_create("lease");
	TCase *tc = tcase_create("core");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, grant_keepalive_timetolive_revoke);
	tcase_add_test(tc, expiry_deletes_keys_in_one_revision);
	tcase_add_test(tc, leases_survive_restart_with_full_ttl);
	suite_add_tcase(s, tc);
	return s;
}

KC_TEST_MAIN(lease_suite)
