/* The sync loop. See runner.h. */
#include "runner.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "errors.h"
#include "informer.h"
#include "log.h"

struct px_runner {
	px_proxier *proxier;
	kc_informer *svc, *eps;
	int64_t period, min_period;
	pthread_t thread;
	bool started;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool dirty, stop;
};

static void mark(px_runner *r)
{
	pthread_mutex_lock(&r->mu);
	if (!r->dirty)
		px_proxier_queued(r->proxier);
	r->dirty = true;
	pthread_cond_signal(&r->cv);
	pthread_mutex_unlock(&r->mu);
}

static void on_add(const cJSON *obj, void *arg)
{
	(void)obj;
	mark(arg);
}

static void on_update(const cJSON *o, const cJSON *n, void *arg)
{
	(void)o;
	(void)n;
	mark(arg);
}

static void on_delete(const cJSON *obj, int unknown, void *arg)
{
	(void)obj;
	(void)unknown;
	mark(arg);
}

static int64_t mono_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * KC_NSEC_PER_SEC + ts.tv_nsec;
}

static void wait_ns(px_runner *r, int64_t ns)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	int64_t t = (int64_t)ts.tv_sec * KC_NSEC_PER_SEC + ts.tv_nsec + ns;
	ts.tv_sec = t / KC_NSEC_PER_SEC;
	ts.tv_nsec = t % KC_NSEC_PER_SEC;
	pthread_cond_timedwait(&r->cv, &r->mu, &ts);
}

static void *loop(void *arg)
{
	px_runner *r = arg;
	int64_t last = -1, last_full = -1;
	pthread_mutex_lock(&r->mu);
	while (!r->stop) {
		if (!kc_informer_has_synced(r->svc) || !kc_informer_has_synced(r->eps)) {
			wait_ns(r, 100 * KC_NSEC_PER_MSEC);
			continue;
		}
		int64_t now = mono_now();
		int64_t d = px_next_sync_delay(now, last, r->dirty, r->min_period, r->period);
		if (d > 0) {
			wait_ns(r, d);
			continue;
		}
		r->dirty = false;
		pthread_mutex_unlock(&r->mu);
		bool full = last_full < 0 || now - last_full >= r->period;
		cJSON *svcs = NULL, *slices = NULL;
		int rc = kc_informer_list(r->svc, &svcs);
		if (rc == 0)
			rc = kc_informer_list(r->eps, &slices);
		if (rc == 0)
			rc = px_proxier_sync(r->proxier, svcs, slices, full);
		cJSON_Delete(svcs);
		cJSON_Delete(slices);
		pthread_mutex_lock(&r->mu);
		last = mono_now();
		if (rc == 0 && full)
			last_full = last;
		if (rc != 0) {
			/* Retry after minSyncPeriod (at least 1 s), as upstream's
			 * syncRunner.RetryAfter. */
			kc_warn("sync failed (%s); retrying", kc_strerror(rc));
			r->dirty = true;
			if (r->min_period < KC_NSEC_PER_SEC)
				wait_ns(r, KC_NSEC_PER_SEC);
		}
	}
	pthread_mutex_unlock(&r->mu);
	return NULL;
}

int px_runner_start(kc_client *c, px_proxier *p, int64_t sync_period_ns,
		    int64_t min_sync_period_ns, px_runner **out)
{
	px_runner *r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->proxier = p;
	r->period = sync_period_ns;
	r->min_period = min_sync_period_ns;
	pthread_mutex_init(&r->mu, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&r->cv, &ca);
	pthread_condattr_destroy(&ca);

	kc_informer_opts so = { .path = "/api/v1/services", .name = "services" };
	kc_informer_opts eo = { .path = "/apis/discovery.k8s.io/v1/endpointslices",
				.name = "endpointslices" };
	kc_informer_handlers h = { .on_add = on_add, .on_update = on_update,
				   .on_delete = on_delete, .arg = r };
	int rc;
	if ((rc = kc_informer_new(c, &so, &r->svc)) || (rc = kc_informer_new(c, &eo, &r->eps)) ||
	    (rc = kc_informer_add_handlers(r->svc, &h)) ||
	    (rc = kc_informer_add_handlers(r->eps, &h)) || (rc = kc_informer_start(r->svc)) ||
	    (rc = kc_informer_start(r->eps))) {
		px_runner_stop(r);
		return rc;
	}
	if (pthread_create(&r->thread, NULL, loop, r) != 0) {
		px_runner_stop(r);
		return -EAGAIN;
	}
	r->started = true;
	*out = r;
	return 0;
}

void px_runner_stop(px_runner *r)
{
	if (!r)
		return;
	pthread_mutex_lock(&r->mu);
	r->stop = true;
	pthread_cond_broadcast(&r->cv);
	pthread_mutex_unlock(&r->mu);
	if (r->started)
		pthread_join(r->thread, NULL);
	kc_informer_free(r->svc);
	kc_informer_free(r->eps);
	pthread_cond_destroy(&r->cv);
	pthread_mutex_destroy(&r->mu);
	free(r);
}
