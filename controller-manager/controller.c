/* The controller loop: workqueue + workers + metrics (see controller.h). Mirrors the
 * processNextWorkItem / handleErr pattern of upstream's replicaset and deployment
 * controllers. */
#include "controller.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"
#include "json.h"
#include "labels.h"
#include "log.h"
#include "meta.h"

/* workqueue_work_duration_seconds buckets: prometheus.ExponentialBuckets(10e-9, 10, 10),
 * as client-go's workqueue metrics provider. */
#define CM_NBUCKETS 10
static const double cm_buckets[CM_NBUCKETS] = { 1e-8, 1e-7, 1e-6, 1e-5, 1e-4,
						 1e-3, 1e-2, 1e-1, 1,    10 };

struct cm_controller {
	char name[64];
	kc_wq *queue;
	kc_clock_t *clock;
	cm_sync_fn sync;
	void *arg;
	int workers, max_retries;
	pthread_t *threads;
	int started;

	pthread_mutex_t mu; /* guards the counters below */
	uint64_t hist[CM_NBUCKETS];
	uint64_t count, syncs, errors;
	double sum_s;
};

int cm_controller_new(const cm_controller_opts *opts, cm_controller **out)
{
	*out = NULL;
	if (!opts || !opts->name || !opts->sync)
		return -EINVAL;
	cm_controller *c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	snprintf(c->name, sizeof(c->name), "%s", opts->name);
	c->clock = opts->clock ? opts->clock : kc_clock_real();
	c->sync = opts->sync;
	c->arg = opts->arg;
	c->workers = opts->workers > 0 ? opts->workers : 1;
	c->max_retries = opts->max_retries;
	pthread_mutex_init(&c->mu, NULL);
	kc_wq_options wo = { .name = c->name, .clock = c->clock };
	int rc = kc_wq_new(&wo, &c->queue);
	if (rc < 0) {
		pthread_mutex_destroy(&c->mu);
		free(c);
		return rc;
	}
	*out = c;
	return 0;
}

void cm_controller_free(cm_controller *c)
{
	if (!c)
		return;
	cm_controller_stop(c);
	kc_wq_free(c->queue);
	pthread_mutex_destroy(&c->mu);
	free(c->threads);
	free(c);
}

const char *cm_controller_name(const cm_controller *c)
{
	return c->name;
}

void cm_controller_enqueue(cm_controller *c, const char *key)
{
	if (c && key && *key)
		kc_wq_add(c->queue, key);
}

void cm_controller_enqueue_after(cm_controller *c, const char *key, int64_t delay_ns)
{
	if (c && key && *key)
		kc_wq_add_after(c->queue, key, delay_ns);
}

void cm_controller_enqueue_obj(cm_controller *c, const cJSON *obj)
{
	char key[512];
	if (c && kc_informer_key(obj, key, sizeof(key)) >= 0)
		kc_wq_add(c->queue, key);
}

static void observe(cm_controller *c, int64_t ns, int failed)
{
	double s = (double)ns / 1e9;
	pthread_mutex_lock(&c->mu);
	for (int i = 0; i < CM_NBUCKETS; i++)
		if (s <= cm_buckets[i])
			c->hist[i]++;
	c->count++;
	c->sum_s += s;
	c->syncs++;
	if (failed)
		c->errors++;
	pthread_mutex_unlock(&c->mu);
}

static void handle(cm_controller *c, char *key)
{
	int64_t t0 = kc_now_mono(c->clock);
	int rc = c->sync(c->arg, key);
	observe(c, kc_now_mono(c->clock) - t0, rc < 0);
	if (rc >= 0) {
		kc_wq_forget(c->queue, key);
	} else if (c->max_retries > 0 && kc_wq_num_requeues(c->queue, key) >= c->max_retries) {
		/* upstream: "Dropping ... out of the queue" after maxRetries */
		kc_warn("%s: dropping %s out of the queue: %s", c->name, key, kc_strerror(rc));
		kc_wq_forget(c->queue, key);
	} else {
		kc_log_v(2, "%s: error syncing %s, requeuing: %s", c->name, key,
			 kc_strerror(rc));
		kc_wq_add_rate_limited(c->queue, key);
	}
	kc_wq_done(c->queue, key);
	free(key);
}

int cm_controller_process_one(cm_controller *c)
{
	char *key = NULL;
	int rc = kc_wq_try_get(c->queue, &key);
	if (rc == -EAGAIN)
		return kc_wq_shutting_down(c->queue) ? KC_ECLOSED : 0;
	if (rc < 0)
		return rc;
	handle(c, key);
	return 1;
}

size_t cm_controller_len(cm_controller *c)
{
	return kc_wq_len(c->queue);
}

static void *worker(void *arg)
{
	cm_controller *c = arg;
	for (;;) {
		char *key = NULL;
		if (kc_wq_get(c->queue, &key) < 0)
			break;
		handle(c, key);
	}
	return NULL;
}

int cm_controller_start(cm_controller *c)
{
	if (c->started)
		return -EBUSY;
	c->threads = calloc((size_t)c->workers, sizeof(pthread_t));
	if (!c->threads)
		return -ENOMEM;
	for (int i = 0; i < c->workers; i++) {
		int rc = pthread_create(&c->threads[i], NULL, worker, c);
		if (rc) {
			c->workers = i;
			c->started = 1;
			cm_controller_stop(c);
			return -rc;
		}
	}
	c->started = 1;
	kc_info("Starting %s controller with %d workers", c->name, c->workers);
	return 0;
}

void cm_controller_stop(cm_controller *c)
{
	kc_wq_shutdown(c->queue);
	if (c->started == 1) {
		for (int i = 0; i < c->workers; i++)
			pthread_join(c->threads[i], NULL);
		c->started = 2;
	}
}

static int appendf(char **buf, size_t *len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int appendf(char **buf, size_t *len, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *s = NULL;
	int n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -ENOMEM;
	char *nb = realloc(*buf, *len + (size_t)n + 1);
	if (!nb) {
		free(s);
		return -ENOMEM;
	}
	memcpy(nb + *len, s, (size_t)n + 1);
	*len += (size_t)n;
	*buf = nb;
	free(s);
	return 0;
}

int cm_controller_metrics(cm_controller *c, char **buf, size_t *len)
{
	kc_wq_metrics m;
	kc_wq_get_metrics(c->queue, &m);
	pthread_mutex_lock(&c->mu);
	uint64_t hist[CM_NBUCKETS];
	memcpy(hist, c->hist, sizeof(hist));
	uint64_t count = c->count;
	double sum = c->sum_s;
	pthread_mutex_unlock(&c->mu);
	const char *n = c->name;
	int rc = 0;
	rc |= appendf(buf, len, "workqueue_depth{name=\"%s\"} %llu\n", n,
		      (unsigned long long)m.depth);
	rc |= appendf(buf, len, "workqueue_adds_total{name=\"%s\"} %llu\n", n,
		      (unsigned long long)m.adds);
	rc |= appendf(buf, len, "workqueue_retries_total{name=\"%s\"} %llu\n", n,
		      (unsigned long long)m.retries);
	for (int i = 0; i < CM_NBUCKETS; i++)
		rc |= appendf(buf, len,
			      "workqueue_work_duration_seconds_bucket{name=\"%s\",le=\"%g\"} %llu\n",
			      n, cm_buckets[i], (unsigned long long)hist[i]);
	rc |= appendf(buf, len,
		      "workqueue_work_duration_seconds_bucket{name=\"%s\",le=\"+Inf\"} %llu\n", n,
		      (unsigned long long)count);
	rc |= appendf(buf, len, "workqueue_work_duration_seconds_sum{name=\"%s\"} %.9f\n", n,
		      sum);
	rc |= appendf(buf, len, "workqueue_work_duration_seconds_count{name=\"%s\"} %llu\n", n,
		      (unsigned long long)count);
	return rc ? -ENOMEM : 0;
}

void cm_controller_get_stats(cm_controller *c, cm_controller_stats *st)
{
	kc_wq_metrics m;
	kc_wq_get_metrics(c->queue, &m);
	pthread_mutex_lock(&c->mu);
	st->syncs = c->syncs;
	st->errors = c->errors;
	pthread_mutex_unlock(&c->mu);
	st->depth = m.depth;
	st->adds = m.adds;
	st->retries = m.retries;
}

/* ---- helpers ---- */

bool cm_keep_claimable(const cJSON *obj, void *arg)
{
	const cm_claimable *c = arg;
	const cJSON *ref = kc_meta_controller_ref(obj);
	if (ref)
		return !strcmp(kc_json_get_string(ref, "uid", ""), c->owner_uid);
	return kc_selector_matches_object(c->sel, obj);
}

bool cm_keep_controlled_by_any(const cJSON *obj, void *arg)
{
	const char *const *uids = arg;
	const cJSON *ref = kc_meta_controller_ref(obj);
	if (!ref)
		return false;
	const char *uid = kc_json_get_string(ref, "uid", "");
	for (int i = 0; uids[i]; i++)
		if (!strcmp(uids[i], uid))
			return true;
	return false;
}

int cm_split_key(const char *key, char *ns, size_t nslen, char *name, size_t namelen)
{
	const char *slash = key ? strchr(key, '/') : NULL;
	if (!slash || slash == key || !slash[1] || strchr(slash + 1, '/'))
		return -EINVAL;
	size_t nl = (size_t)(slash - key);
	if (nl >= nslen || strlen(slash + 1) >= namelen)
		return -ENAMETOOLONG;
	memcpy(ns, key, nl);
	ns[nl] = 0;
	strcpy(name, slash + 1);
	return 0;
}

int64_t cm_int(const cJSON *obj, const char *path, int64_t def)
{
	return kc_json_get_int64(obj, path, def);
}

cJSON *cm_condition(const cJSON *obj, const char *type)
{
	const cJSON *conds = kc_json_get(obj, "status.conditions");
	const cJSON *c;
	cJSON_ArrayForEach(c, conds)
	{
		const char *t = kc_json_get_string(c, "type", "");
		if (!strcmp(t, type))
			return (cJSON *)c;
	}
	return NULL;
}

bool cm_pod_ready(const cJSON *pod)
{
	const cJSON *c = cm_condition(pod, "Ready");
	return c && !strcmp(kc_json_get_string(c, "status", ""), "True");
}

int64_t cm_pod_ready_time(const cJSON *pod)
{
	const cJSON *c = cm_condition(pod, "Ready");
	int64_t ns = 0;
	if (!c || kc_meta_time_parse(kc_json_get_string(c, "lastTransitionTime", ""), &ns) < 0)
		return 0;
	return ns;
}

bool cm_pod_available(const cJSON *pod, int64_t min_ready_s, int64_t now_wall_ns)
{
	if (!cm_pod_ready(pod))
		return false;
	if (min_ready_s <= 0)
		return true;
	int64_t t = cm_pod_ready_time(pod);
	/* upstream: !c.LastTransitionTime.IsZero() && LTT + minReadySeconds < now */
	return t != 0 && t + min_ready_s * KC_NSEC_PER_SEC < now_wall_ns;
}

bool cm_pod_active(const cJSON *pod)
{
	const char *phase = kc_json_get_string(pod, "status.phase", "");
	return strcmp(phase, "Succeeded") && strcmp(phase, "Failed") &&
	       !*kc_meta_deletion_timestamp(pod);
}

const char *cm_resource_api_version(const char *resource)
{
	static const struct {
		const char *res, *av;
	} tab[] = {
		{ "pods", "v1" },
		{ "services", "v1" },
		{ "endpoints", "v1" },
		{ "namespaces", "v1" },
		{ "nodes", "v1" },
		{ "replicasets", "apps/v1" },
		{ "deployments", "apps/v1" },
		{ "endpointslices", "discovery.k8s.io/v1" },
		{ "configmaps", "v1" },
		{ "serviceaccounts", "v1" },
		{ "persistentvolumeclaims", "v1" },
		{ "resourcequotas", "v1" },
		{ "leases", "coordination.k8s.io/v1" },
		{ "statefulsets", "apps/v1" },
		{ "daemonsets", "apps/v1" },
		{ "controllerrevisions", "apps/v1" },
		{ "jobs", "batch/v1" },
		{ "horizontalpodautoscalers", "autoscaling/v2" },
		{ "poddisruptionbudgets", "policy/v1" },
		{ "ingresses", "networking.k8s.io/v1" },
	};
	for (size_t i = 0; resource && i < sizeof(tab) / sizeof(tab[0]); i++)
		if (!strcmp(tab[i].res, resource))
			return tab[i].av;
	return NULL;
}

void cm_json_replace(cJSON *dst, cJSON *src)
{
	if (!dst || !src)
		return;
	while (dst->child)
		cJSON_Delete(cJSON_DetachItemViaPointer(dst, dst->child));
	cJSON *c;
	while ((c = src->child)) {
		cJSON_DetachItemViaPointer(src, c);
		/* a key from the informers' string pool (transform.h) is not ours to free */
		bool pooled = c->type & cJSON_StringIsConst;
		char *k = c->string;
		c->string = NULL;
		cJSON_AddItemToObject(dst, k ? k : "", c);
		if (!pooled)
			free(k);
	}
	cJSON_Delete(src);
}

void cm_json_normalize(cJSON *o)
{
	cJSON *c = o ? o->child : NULL;
	while (c) {
		cJSON *next = c->next;
		cm_json_normalize(c);
		if (cJSON_IsNull(c) || ((cJSON_IsObject(c) || cJSON_IsArray(c)) && !c->child))
			cJSON_Delete(cJSON_DetachItemViaPointer(o, c));
		c = next;
	}
}

bool cm_json_normalized_equal(const cJSON *a, const cJSON *b)
{
	cJSON *x = a ? kc_json_dup(a) : cJSON_CreateObject();
	cJSON *y = b ? kc_json_dup(b) : cJSON_CreateObject();
	cm_json_normalize(x);
	cm_json_normalize(y);
	bool eq = kc_json_equal(x, y);
	cJSON_Delete(x);
	cJSON_Delete(y);
	return eq;
}

void cm_json_sort_array(cJSON *arr, int (*cmp)(const void *, const void *))
{
	int n = cJSON_GetArraySize(arr);
	if (n < 2)
		return;
	cJSON **v = calloc((size_t)n, sizeof(*v));
	if (!v)
		return; /* left unsorted: callers only lose a stable order */
	for (int i = 0; i < n; i++)
		v[i] = cJSON_DetachItemFromArray(arr, 0);
	qsort(v, (size_t)n, sizeof(*v), cmp);
	for (int i = 0; i < n; i++)
		cJSON_AddItemToArray(arr, v[i]);
	free(v);
}
