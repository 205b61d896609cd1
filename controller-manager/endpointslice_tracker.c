/* The EndpointSlice controller's tracker of its own writes (see endpointslice_tracker.h). */
#include "endpointslice_tracker.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "endpointslice.h"
#include "meta.h"

/* One slice the controller wrote: its uid and the resourceVersion it got back, or
 * "deletion expected" (upstream's generation -1). */
typedef struct est_slice {
	char *uid;
	char *rv;
	uint64_t ver;
	bool ver_ok; /* rv is a decimal number */
	bool deletion_expected;
	int64_t stamp; /* monotonic time of the write */
} est_slice;

struct est_service {
	char *key; /* "ns/name" */
	est_slice *slices;
	int n, cap;
	est_service *next;
};

int est_init(est_tracker *t, kc_clock_t *clock)
{
	memset(t, 0, sizeof(*t));
	t->clock = clock ? clock : kc_clock_real();
	return -pthread_mutex_init(&t->mu, NULL);
}

static void slice_clear(est_slice *s)
{
	free(s->uid);
	free(s->rv);
	s->uid = s->rv = NULL;
}

static void service_free(est_service *s)
{
	for (int i = 0; i < s->n; i++)
		slice_clear(&s->slices[i]);
	free(s->slices);
	free(s->key);
	free(s);
}

void est_close(est_tracker *t)
{
	for (int b = 0; b < EST_BUCKETS; b++)
		for (est_service *s = t->buckets[b], *n; s; s = n) {
			n = s->next;
			service_free(s);
		}
	memset(t->buckets, 0, sizeof(t->buckets));
	pthread_mutex_destroy(&t->mu);
}

static unsigned bucket_of(const char *ns, const char *name)
{
	/* FNV-1a over "ns/name" */
	uint32_t h = 2166136261u;
	for (const char *p = ns; *p; p++)
		h = (h ^ (uint8_t)*p) * 16777619u;
	h = (h ^ '/') * 16777619u;
	for (const char *p = name; *p; p++)
		h = (h ^ (uint8_t)*p) * 16777619u;
	return h % EST_BUCKETS;
}

static bool key_is(const char *key, const char *ns, const char *name)
{
	size_t nl = strlen(ns);
	return !strncmp(key, ns, nl) && key[nl] == '/' && !strcmp(key + nl + 1, name);
}

/* The entry of Service ns/name; created when create is set (NULL on ENOMEM). */
static est_service **find_service(est_tracker *t, const char *ns, const char *name)
{
	est_service **p = &t->buckets[bucket_of(ns, name)];
	while (*p && !key_is((*p)->key, ns, name))
		p = &(*p)->next;
	return p;
}

static est_service *get_service(est_tracker *t, const char *ns, const char *name, bool create)
{
	est_service **p = find_service(t, ns, name);
	if (*p || !create)
		return *p;
	est_service *s = calloc(1, sizeof(*s));
	if (!s || asprintf(&s->key, "%s/%s", ns, name) < 0) {
		free(s);
		return NULL;
	}
	*p = s;
	return s;
}

/* The Service a slice belongs to: its namespace and kubernetes.io/service-name label
 * (upstream getServiceNN). False when the slice has no such label or no uid. */
static bool slice_service(const cJSON *slice, const char **ns, const char **name)
{
	*ns = kc_meta_namespace(slice);
	*name = kc_meta_label(slice, EPS_SERVICE_NAME_LABEL);
	return *name && **name && *kc_meta_uid(slice);
}

static est_slice *find_slice(est_service *s, const char *uid)
{
	for (int i = 0; s && i < s->n; i++)
		if (!strcmp(s->slices[i].uid, uid))
			return &s->slices[i];
	return NULL;
}

static bool parse_rv(const char *rv, uint64_t *out)
{
	if (!*rv || strlen(rv) > 19)
		return false;
	uint64_t v = 0;
	for (const char *p = rv; *p; p++) {
		if (*p < '0' || *p > '9')
			return false;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	*out = v;
	return true;
}

/* The cached slice is older than the tracked write. */
static bool older(const est_slice *tr, const cJSON *slice)
{
	uint64_t v;
	return tr->ver_ok && parse_rv(kc_meta_resource_version(slice), &v) && v < tr->ver;
}

/* The cached slice is newer than the tracked write (someone else changed it). */
static bool newer(const est_slice *tr, const cJSON *slice)
{
	uint64_t v;
	const char *rv = kc_meta_resource_version(slice);
	if (tr->ver_ok && parse_rv(rv, &v))
		return v > tr->ver;
	return strcmp(rv, tr->rv ? tr->rv : "") != 0;
}

bool est_has(est_tracker *t, const cJSON *slice)
{
	const char *ns, *name;
	if (!slice_service(slice, &ns, &name))
		return false;
	pthread_mutex_lock(&t->mu);
	bool has = find_slice(get_service(t, ns, name, false), kc_meta_uid(slice)) != NULL;
	pthread_mutex_unlock(&t->mu);
	return has;
}

bool est_should_sync(est_tracker *t, const cJSON *slice)
{
	const char *ns, *name;
	if (!slice_service(slice, &ns, &name))
		return true;
	pthread_mutex_lock(&t->mu);
	est_slice *tr = find_slice(get_service(t, ns, name, false), kc_meta_uid(slice));
	bool sync = !tr || tr->deletion_expected || newer(tr, slice);
	pthread_mutex_unlock(&t->mu);
	return sync;
}

bool est_stale_slices(est_tracker *t, const char *ns, const char *name, const cJSON *slices)
{
	bool stale = false;
	pthread_mutex_lock(&t->mu);
	est_service *s = get_service(t, ns, name, false);
	if (!s)
		goto out;
	int64_t now = kc_now_mono(t->clock);
	const cJSON *sl;
	cJSON_ArrayForEach(sl, slices)
	{
		est_slice *tr = find_slice(s, kc_meta_uid(sl));
		if (tr && now - tr->stamp <= EST_TTL_NS && (tr->deletion_expected || older(tr, sl))) {
			stale = true;
			goto out;
		}
	}
	/* every slice written and not deleted must be in the cache */
	for (int i = 0; i < s->n && !stale; i++) {
		if (s->slices[i].deletion_expected || now - s->slices[i].stamp > EST_TTL_NS)
			continue;
		bool seen = false;
		cJSON_ArrayForEach(sl, slices)
		{
			if (!strcmp(kc_meta_uid(sl), s->slices[i].uid)) {
				seen = true;
				break;
			}
		}
		stale = !seen;
	}
out:
	pthread_mutex_unlock(&t->mu);
	return stale;
}

/* Record slice as written (deletion false) or deleted (true). */
static int record(est_tracker *t, const cJSON *slice, bool deletion)
{
	const char *ns, *name;
	if (!slice_service(slice, &ns, &name))
		return -EINVAL;
	const char *uid = kc_meta_uid(slice), *rv = kc_meta_resource_version(slice);
	int rc = -ENOMEM;
	pthread_mutex_lock(&t->mu);
	est_service *s = get_service(t, ns, name, true);
	if (!s)
		goto out;
	est_slice *tr = find_slice(s, uid);
	if (!tr) {
		if (s->n == s->cap) {
			int cap = s->cap ? s->cap * 2 : 4;
			est_slice *ns2 = realloc(s->slices, (size_t)cap * sizeof(*ns2));
			if (!ns2)
				goto out;
			s->slices = ns2;
			s->cap = cap;
		}
		tr = &s->slices[s->n];
		memset(tr, 0, sizeof(*tr));
		if (!(tr->uid = strdup(uid)))
			goto out;
		s->n++;
	}
	char *rvc = strdup(rv);
	if (!rvc)
		goto out;
	free(tr->rv);
	tr->rv = rvc;
	tr->ver_ok = parse_rv(rv, &tr->ver);
	tr->deletion_expected = deletion;
	tr->stamp = kc_now_mono(t->clock);
	rc = 0;
out:
	pthread_mutex_unlock(&t->mu);
	return rc;
}

int est_update(est_tracker *t, const cJSON *slice)
{
	return record(t, slice, false);
}

int est_expect_deletion(est_tracker *t, const cJSON *slice)
{
	return record(t, slice, true);
}

bool est_handle_deletion(est_tracker *t, const cJSON *slice)
{
	const char *ns, *name;
	if (!slice_service(slice, &ns, &name))
		return false;
	bool expected = false;
	pthread_mutex_lock(&t->mu);
	est_service *s = get_service(t, ns, name, false);
	est_slice *tr = find_slice(s, kc_meta_uid(slice));
	if (tr) {
		expected = tr->deletion_expected;
		slice_clear(tr);
		*tr = s->slices[--s->n];
	}
	pthread_mutex_unlock(&t->mu);
	return expected;
}

void est_delete_service(est_tracker *t, const char *ns, const char *name)
{
	pthread_mutex_lock(&t->mu);
	est_service **p = find_service(t, ns, name);
	if (*p) {
		est_service *s = *p;
		*p = s->next;
		service_free(s);
	}
	pthread_mutex_unlock(&t->mu);
}

int est_count(est_tracker *t, const char *ns, const char *name)
{
	pthread_mutex_lock(&t->mu);
	est_service *s = get_service(t, ns, name, false);
	int n = s ? s->n : 0;
	pthread_mutex_unlock(&t->mu);
	return n;
}
