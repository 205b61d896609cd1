/* Leader election; see leader.h. Upstream: client-go tools/leaderelection/leaderelection.go
 * and resourcelock/leaselock.go. */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "client.h"
#include "errors.h"
#include "leader.h"
#include "meta.h"
#include "log.h"
#include "workqueue.h"

enum le_phase { LE_ACQUIRING, LE_LEADING, LE_DONE };

struct kc_leader {
	kc_leader_config cfg;
	char identity[KC_LEADER_HOLDER_MAX];
	kc_clock_t *clock;

	pthread_mutex_t mu; /* guards observed, cancelled, and wakes the run loop */
	pthread_cond_t cv;
	bool cancelled;

	/* upstream observedRecord / observedRawRecord / observedTime / reportedLeader */
	kc_leader_record observed;
	kc_leader_record observed_raw;
	bool have_raw;
	int64_t observed_time; /* our monotonic clock when observed was set */
	char reported[KC_LEADER_HOLDER_MAX];

	/* state machine (only the stepping thread touches these) */
	enum le_phase phase;
	bool announced;
	int64_t next_attempt;
	int64_t round_deadline; /* leading: renew must succeed before this */

	pthread_t thread;
	bool thread_started;
};

/* ---- Lease <-> record (LeaseSpecToLeaderElectionRecord and back) ---- */

static int get_time_field(const cJSON *spec, const char *name, int64_t *out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(spec, name);
	*out = 0;
	if (!v || cJSON_IsNull(v))
		return 0;
	if (!cJSON_IsString(v) || kc_meta_time_parse(v->valuestring, out) < 0)
		return KC_EPARSE;
	return 0;
}

static int get_int_field(const cJSON *spec, const char *name, int *out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(spec, name);
	*out = 0;
	if (!v || cJSON_IsNull(v))
		return 0;
	if (!cJSON_IsNumber(v) || v->valuedouble < INT32_MIN || v->valuedouble > INT32_MAX)
		return KC_EPARSE;
	*out = (int)v->valuedouble;
	return 0;
}

int kc_leader_record_from_lease(const cJSON *lease, kc_leader_record *out)
{
	if (!lease || !out)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	const cJSON *spec = cJSON_GetObjectItemCaseSensitive(lease, "spec");
	if (!spec || cJSON_IsNull(spec))
		return 0;
	if (!cJSON_IsObject(spec))
		return KC_EPARSE;
	const cJSON *h = cJSON_GetObjectItemCaseSensitive(spec, "holderIdentity");
	if (h && !cJSON_IsNull(h)) {
		if (!cJSON_IsString(h))
			return KC_EPARSE;
		if (strlen(h->valuestring) >= sizeof(out->holder))
			return -ENAMETOOLONG;
		strcpy(out->holder, h->valuestring);
	}
	int rc;
	if ((rc = get_int_field(spec, "leaseDurationSeconds", &out->lease_duration_s)) < 0 ||
	    (rc = get_int_field(spec, "leaseTransitions", &out->lease_transitions)) < 0 ||
	    (rc = get_time_field(spec, "acquireTime", &out->acquire_time_ns)) < 0 ||
	    (rc = get_time_field(spec, "renewTime", &out->renew_time_ns)) < 0)
		return rc;
	return 0;
}

static int add_time(cJSON *o, const char *name, int64_t ns)
{
	char buf[40];
	if (!ns)
		return cJSON_AddNullToObject(o, name) ? 0 : -ENOMEM;
	if (kc_meta_microtime_format(ns, buf, sizeof(buf)) < 0)
		return -EINVAL;
	return cJSON_AddStringToObject(o, name, buf) ? 0 : -ENOMEM;
}

cJSON *kc_leader_record_to_spec(const kc_leader_record *rec)
{
	cJSON *s = cJSON_CreateObject();
	if (!s)
		return NULL;
	if (!cJSON_AddStringToObject(s, "holderIdentity", rec->holder) ||
	    !cJSON_AddNumberToObject(s, "leaseDurationSeconds", rec->lease_duration_s) ||
	    add_time(s, "acquireTime", rec->acquire_time_ns) < 0 ||
	    add_time(s, "renewTime", rec->renew_time_ns) < 0 ||
	    !cJSON_AddNumberToObject(s, "leaseTransitions", rec->lease_transitions)) {
		cJSON_Delete(s);
		return NULL;
	}
	return s;
}

/* ---- identity ---- */

int kc_leader_default_identity(char *buf, size_t len, kc_clock_t *c)
{
	char host[256];
	if (!buf)
		return -EINVAL;
	if (!c)
		c = kc_clock_real();
	if (gethostname(host, sizeof(host)) < 0)
		return -errno;
	host[sizeof(host) - 1] = 0;
	uint64_t a = kc_rand64(c), b = kc_rand64(c);
	/* RFC 4122 version 4, variant 10 */
	a = (a & ~UINT64_C(0xF000)) | UINT64_C(0x4000);
	b = (b & ~(UINT64_C(3) << 62)) | (UINT64_C(2) << 62);
	int n = snprintf(buf, len, "%s_%08" PRIx64 "-%04" PRIx64 "-%04" PRIx64 "-%04" PRIx64
			 "-%012" PRIx64, host, a >> 32, (a >> 16) & 0xFFFF, a & 0xFFFF,
			 b >> 48, b & UINT64_C(0xFFFFFFFFFFFF));
	return (n < 0 || (size_t)n >= len) ? -ENAMETOOLONG : 0;
}

/* ---- elector ---- */

int kc_leader_new(const kc_leader_config *cfg, kc_leader **out)
{
	if (!out)
		return -EINVAL;
	*out = NULL;
	if (!cfg || !cfg->lock || !cfg->lock->get || !cfg->lock->create || !cfg->lock->update ||
	    !cfg->identity || !*cfg->identity || strlen(cfg->identity) >= KC_LEADER_HOLDER_MAX ||
	    !cfg->cb.on_started_leading || !cfg->cb.on_stopped_leading)
		return -EINVAL;
	kc_leader_config c = *cfg;
	if (!c.lease_duration_ns)
		c.lease_duration_ns = KC_LEADER_DEFAULT_LEASE_DURATION_NS;
	if (!c.renew_deadline_ns)
		c.renew_deadline_ns = KC_LEADER_DEFAULT_RENEW_DEADLINE_NS;
	if (!c.retry_period_ns)
		c.retry_period_ns = KC_LEADER_DEFAULT_RETRY_PERIOD_NS;
	/* NewLeaderElector's checks */
	if (c.lease_duration_ns <= c.renew_deadline_ns || c.retry_period_ns <= 0 ||
	    c.renew_deadline_ns <= 0 ||
	    (double)c.renew_deadline_ns <= KC_LEADER_JITTER_FACTOR * (double)c.retry_period_ns ||
	    c.lease_duration_ns < KC_NSEC_PER_SEC)
		return -EINVAL;
	kc_leader *le = calloc(1, sizeof(*le));
	if (!le)
		return -ENOMEM;
	le->cfg = c;
	strcpy(le->identity, cfg->identity);
	le->cfg.identity = le->identity;
	le->clock = c.clock ? c.clock : kc_clock_real();
	pthread_mutex_init(&le->mu, NULL);
	if (kc_wq_cond_init(&le->cv) < 0) {
		pthread_mutex_destroy(&le->mu);
		free(le);
		return -ENOMEM;
	}
	le->phase = LE_ACQUIRING;
	le->next_attempt = kc_now_mono(le->clock);
	*out = le;
	return 0;
}

void kc_leader_free(kc_leader *le)
{
	if (!le)
		return;
	pthread_cond_destroy(&le->cv);
	pthread_mutex_destroy(&le->mu);
	free(le);
}

const char *kc_leader_identity(const kc_leader *le) { return le->identity; }

static const char *describe(kc_leader *le)
{
	const char *d = le->cfg.lock->describe ? le->cfg.lock->describe(le->cfg.lock) : NULL;
	return d ? d : "lease";
}

static void set_observed(kc_leader *le, const kc_leader_record *r)
{
	pthread_mutex_lock(&le->mu);
	le->observed = *r;
	le->observed_time = kc_now_mono(le->clock);
	pthread_mutex_unlock(&le->mu);
}

static bool is_leader_locked(kc_leader *le)
{
	return strcmp(le->observed.holder, le->identity) == 0;
}

bool kc_leader_is_leader(kc_leader *le)
{
	pthread_mutex_lock(&le->mu);
	bool r = is_leader_locked(le);
	pthread_mutex_unlock(&le->mu);
	return r;
}

void kc_leader_get_leader(kc_leader *le, char *buf, size_t len)
{
	if (!buf || !len)
		return;
	pthread_mutex_lock(&le->mu);
	snprintf(buf, len, "%s", le->observed.holder);
	pthread_mutex_unlock(&le->mu);
}

int kc_leader_check(kc_leader *le, int64_t max_tolerable_ns)
{
	int64_t now = kc_now_mono(le->clock);
	pthread_mutex_lock(&le->mu);
	bool leading = is_leader_locked(le);
	int64_t since = now - le->observed_time;
	pthread_mutex_unlock(&le->mu);
	if (leading && since > le->cfg.lease_duration_ns + max_tolerable_ns) {
		kc_error("failed election to renew leadership on lease %s", describe(le));
		return -ETIMEDOUT;
	}
	return 0;
}

/* isLeaseValid: observedTime + observed leaseDurationSeconds is after now */
static bool lease_valid(kc_leader *le, int64_t now_mono)
{
	pthread_mutex_lock(&le->mu);
	int64_t until = le->observed_time + (int64_t)le->observed.lease_duration_s * KC_NSEC_PER_SEC;
	pthread_mutex_unlock(&le->mu);
	return until > now_mono;
}

static bool records_equal(const kc_leader_record *a, const kc_leader_record *b)
{
	return !strcmp(a->holder, b->holder) && a->lease_duration_s == b->lease_duration_s &&
	       a->acquire_time_ns == b->acquire_time_ns && a->renew_time_ns == b->renew_time_ns &&
	       a->lease_transitions == b->lease_transitions;
}

bool kc_leader_try_acquire_or_renew(kc_leader *le)
{
	kc_leader_lock *lk = le->cfg.lock;
	int64_t now_mono = kc_now_mono(le->clock);
	int64_t now_wall = kc_now_wall(le->clock);
	/* MicroTime precision, so what we remember equals what the server echoes back */
	now_wall -= now_wall % 1000;
	kc_leader_record rec = { 0 };
	strcpy(rec.holder, le->identity);
	rec.lease_duration_s = (int)(le->cfg.lease_duration_ns / KC_NSEC_PER_SEC);
	rec.renew_time_ns = now_wall;
	rec.acquire_time_ns = now_wall;

	/* 1. fast path: the leader updates optimistically with the record observed last */
	if (kc_leader_is_leader(le) && lease_valid(le, now_mono)) {
		pthread_mutex_lock(&le->mu);
		rec.acquire_time_ns = le->observed.acquire_time_ns;
		rec.lease_transitions = le->observed.lease_transitions;
		pthread_mutex_unlock(&le->mu);
		int rc = lk->update(lk, &rec);
		if (rc == 0) {
			set_observed(le, &rec);
			return true;
		}
		kc_error("Failed to update lock optimistically: %s, falling back to slow path",
			 kc_strerror(rc));
	}

	/* 2. obtain or create the record */
	kc_leader_record old;
	int rc = lk->get(lk, &old);
	if (rc < 0) {
		if (rc != KC_ENOTFOUND) {
			kc_error("error retrieving resource lock %s: %s", describe(le),
				 kc_strerror(rc));
			return false;
		}
		rec.acquire_time_ns = rec.renew_time_ns = now_wall;
		rec.lease_transitions = 0;
		if ((rc = lk->create(lk, &rec)) < 0) {
			kc_error("error initially creating leader election record: %s",
				 kc_strerror(rc));
			return false;
		}
		set_observed(le, &rec);
		return true;
	}

	/* 3. record obtained: a change restarts our own expiry clock */
	if (!le->have_raw || !records_equal(&le->observed_raw, &old)) {
		set_observed(le, &old);
		le->observed_raw = old;
		le->have_raw = true;
	}
	if (old.holder[0] && lease_valid(le, now_mono) && !kc_leader_is_leader(le)) {
		kc_log_v(4, "lock is held by %s and has not yet expired", old.holder);
		return false;
	}

	/* 4. take or renew it */
	if (kc_leader_is_leader(le)) {
		rec.acquire_time_ns = old.acquire_time_ns;
		rec.lease_transitions = old.lease_transitions;
	} else {
		rec.lease_transitions = old.lease_transitions + 1;
	}
	if ((rc = lk->update(lk, &rec)) < 0) {
		kc_error("Failed to update lock: %s", kc_strerror(rc));
		return false;
	}
	set_observed(le, &rec);
	return true;
}

bool kc_leader_release(kc_leader *le)
{
	if (!kc_leader_is_leader(le))
		return true;
	int64_t now_wall = kc_now_wall(le->clock);
	now_wall -= now_wall % 1000;
	kc_leader_record rec = { 0 };
	pthread_mutex_lock(&le->mu);
	rec.lease_transitions = le->observed.lease_transitions;
	pthread_mutex_unlock(&le->mu);
	rec.lease_duration_s = 1;
	rec.renew_time_ns = rec.acquire_time_ns = now_wall;
	int rc = le->cfg.lock->update(le->cfg.lock, &rec);
	if (rc < 0) {
		kc_error("Failed to release lock: %s", kc_strerror(rc));
		return false;
	}
	set_observed(le, &rec);
	return true;
}

/* maybeReportTransition */
static void report_transition(kc_leader *le)
{
	char holder[KC_LEADER_HOLDER_MAX];
	pthread_mutex_lock(&le->mu);
	bool same = !strcmp(le->observed.holder, le->reported);
	strcpy(holder, le->observed.holder);
	pthread_mutex_unlock(&le->mu);
	if (same)
		return;
	strcpy(le->reported, holder);
	if (le->cfg.cb.on_new_leader)
		le->cfg.cb.on_new_leader(le->cfg.cb.arg, holder);
}

static int64_t finish(kc_leader *le, bool was_leading)
{
	if (was_leading && le->cfg.release_on_cancel)
		kc_leader_release(le);
	le->phase = LE_DONE;
	le->cfg.cb.on_stopped_leading(le->cfg.cb.arg);
	return -1;
}

int64_t kc_leader_step(kc_leader *le)
{
	if (le->phase == LE_DONE)
		return -1;
	pthread_mutex_lock(&le->mu);
	bool cancelled = le->cancelled;
	pthread_mutex_unlock(&le->mu);
	if (cancelled)
		return finish(le, le->phase == LE_LEADING);

	int64_t now = kc_now_mono(le->clock);
	if (le->phase == LE_ACQUIRING) {
		if (!le->announced) {
			kc_info("attempting to acquire leader lease %s...", describe(le));
			le->announced = true;
		}
		if (now < le->next_attempt)
			return le->next_attempt - now;
		bool ok = kc_leader_try_acquire_or_renew(le);
		report_transition(le);
		now = kc_now_mono(le->clock);
		if (!ok) {
			kc_log_v(4, "failed to acquire lease %s", describe(le));
			/* wait.JitterUntil(retryPeriod, 1.2, sliding) */
			double j = kc_rand_unit(le->clock) * KC_LEADER_JITTER_FACTOR;
			le->next_attempt = now + le->cfg.retry_period_ns +
					   (int64_t)(j * (double)le->cfg.retry_period_ns);
			return le->next_attempt - now;
		}
		kc_info("successfully acquired lease %s", describe(le));
		le->phase = LE_LEADING;
		/* renew's wait.Until runs its first poll round right away */
		le->next_attempt = now;
		le->round_deadline = now + le->cfg.renew_deadline_ns;
		le->cfg.cb.on_started_leading(le->cfg.cb.arg);
		return 0;
	}

	/* LE_LEADING: PollImmediateUntil(retryPeriod) bounded by renewDeadline */
	if (now >= le->round_deadline) {
		kc_info("failed to renew lease %s: timed out waiting for the condition",
			describe(le));
		return finish(le, true);
	}
	if (now >= le->next_attempt) {
		bool ok = kc_leader_try_acquire_or_renew(le);
		report_transition(le);
		now = kc_now_mono(le->clock);
		le->next_attempt = now + le->cfg.retry_period_ns;
		if (ok) {
			kc_log_v(5, "successfully renewed lease %s", describe(le));
			le->round_deadline = le->next_attempt + le->cfg.renew_deadline_ns;
		}
	}
	int64_t next = le->next_attempt < le->round_deadline ? le->next_attempt
							      : le->round_deadline;
	return next > now ? next - now : 0;
}

void kc_leader_cancel(kc_leader *le)
{
	pthread_mutex_lock(&le->mu);
	le->cancelled = true;
	pthread_cond_broadcast(&le->cv);
	pthread_mutex_unlock(&le->mu);
}

void kc_leader_run(kc_leader *le)
{
	for (;;) {
		int64_t wait = kc_leader_step(le);
		if (wait < 0)
			return;
		if (wait == 0)
			continue;
		int64_t deadline = kc_now_mono(le->clock) + wait;
		pthread_mutex_lock(&le->mu);
		while (!le->cancelled && kc_now_mono(le->clock) < deadline)
			kc_wq_cond_wait_until(le->clock, &le->cv, &le->mu, deadline);
		pthread_mutex_unlock(&le->mu);
	}
}

static void *run_main(void *arg)
{
	kc_leader_run(arg);
	return NULL;
}

int kc_leader_start(kc_leader *le)
{
	if (le->thread_started)
		return -EALREADY;
	int rc = pthread_create(&le->thread, NULL, run_main, le);
	if (rc)
		return -rc;
	le->thread_started = true;
	return 0;
}

void kc_leader_stop(kc_leader *le)
{
	kc_leader_cancel(le);
	if (le->thread_started) {
		pthread_join(le->thread, NULL);
		le->thread_started = false;
	}
}

/* ---- the Lease lock over kc_client (resourcelock.LeaseLock) ---- */

struct lease_lock {
	kc_leader_lock base;
	kc_client *client;
	char ns[254], name[254], desc[512];
	cJSON *lease; /* last object read or written; its resourceVersion guards updates */
};

static int lease_ref(struct lease_lock *l, kc_ref *ref, bool named)
{
	*ref = (kc_ref){ .api_version = "coordination.k8s.io/v1", .resource = "leases",
			 .ns = l->ns, .name = named ? l->name : NULL };
	return 0;
}

static void keep_lease(struct lease_lock *l, cJSON *obj)
{
	cJSON_Delete(l->lease);
	l->lease = obj;
}

static int ll_get(kc_leader_lock *base, kc_leader_record *out)
{
	struct lease_lock *l = (struct lease_lock *)base;
	kc_ref ref;
	cJSON *obj = NULL;
	lease_ref(l, &ref, true);
	int rc = kc_client_get(l->client, &ref, NULL, &obj, NULL);
	if (rc < 0)
		return rc;
	if (!cJSON_IsObject(obj)) {
		cJSON_Delete(obj);
		return KC_EPARSE;
	}
	if ((rc = kc_leader_record_from_lease(obj, out)) < 0) {
		cJSON_Delete(obj);
		return rc;
	}
	keep_lease(l, obj);
	return 0;
}

static int ll_create(kc_leader_lock *base, const kc_leader_record *rec)
{
	struct lease_lock *l = (struct lease_lock *)base;
	kc_ref ref;
	cJSON *obj = cJSON_CreateObject(), *meta, *spec = kc_leader_record_to_spec(rec), *res = NULL;
	if (!obj || !spec || !cJSON_AddStringToObject(obj, "apiVersion", "coordination.k8s.io/v1") ||
	    !cJSON_AddStringToObject(obj, "kind", "Lease") ||
	    !(meta = cJSON_AddObjectToObject(obj, "metadata")) ||
	    !cJSON_AddStringToObject(meta, "name", l->name) ||
	    !cJSON_AddStringToObject(meta, "namespace", l->ns)) {
		cJSON_Delete(obj);
		cJSON_Delete(spec);
		return -ENOMEM;
	}
	cJSON_AddItemToObject(obj, "spec", spec);
	lease_ref(l, &ref, false);
	int rc = kc_client_create(l->client, &ref, obj, &res, NULL);
	cJSON_Delete(obj);
	if (rc < 0)
		return rc;
	keep_lease(l, res);
	return 0;
}

static int ll_update(kc_leader_lock *base, const kc_leader_record *rec)
{
	struct lease_lock *l = (struct lease_lock *)base;
	kc_ref ref;
	cJSON *res = NULL;
	if (!l->lease) /* upstream: "lease not initialized, call get or create first" */
		return -EINVAL;
	cJSON *obj = cJSON_Duplicate(l->lease, 1), *spec = kc_leader_record_to_spec(rec);
	if (!obj || !spec) {
		cJSON_Delete(obj);
		cJSON_Delete(spec);
		return -ENOMEM;
	}
	/* PUT the whole object we last saw (its metadata.resourceVersion included) */
	cJSON_DeleteItemFromObjectCaseSensitive(obj, "spec");
	cJSON_AddItemToObject(obj, "spec", spec);
	lease_ref(l, &ref, true);
	int rc = kc_client_update(l->client, &ref, obj, &res, NULL);
	cJSON_Delete(obj);
	if (rc < 0)
		return rc;
	keep_lease(l, res);
	return 0;
}

static const char *ll_describe(kc_leader_lock *base)
{
	return ((struct lease_lock *)base)->desc;
}

int kc_leader_lease_lock_new(struct kc_client *client, const char *ns, const char *name,
			     kc_leader_lock **out)
{
	char path[600];
	if (!out)
		return -EINVAL;
	*out = NULL;
	if (!client || !ns || !name || !*ns || !*name || strlen(ns) >= 254 || strlen(name) >= 254)
		return -EINVAL;
	struct lease_lock *l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	l->base = (kc_leader_lock){ ll_get, ll_create, ll_update, ll_describe };
	l->client = client;
	strcpy(l->ns, ns);
	strcpy(l->name, name);
	snprintf(l->desc, sizeof(l->desc), "%s/%s", ns, name);
	/* reject names the path builder refuses now, not at the first election round */
	kc_ref ref;
	lease_ref(l, &ref, true);
	if (kc_client_path(path, sizeof(path), &ref) < 0) {
		free(l);
		return -EINVAL;
	}
	*out = &l->base;
	return 0;
}

void kc_leader_lease_lock_free(kc_leader_lock *base)
{
	struct lease_lock *l = (struct lease_lock *)base;
	if (!l)
		return;
	cJSON_Delete(l->lease);
	free(l);
}
