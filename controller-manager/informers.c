/* Shared informers (upstream's SharedInformerFactory) and the production lister and API
 * over them and kc_client (see controller.h). */
#include "controller.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"
#include "json.h"
#include "log.h"
#include "meta.h"
#include "transform.h"

#define CM_MAX_INFORMERS 32

typedef struct inf_slot {
	char resource[32];
	kc_informer *inf;
	struct cm_informers *f;
} inf_slot;

typedef struct inf_lister {
	cm_lister base;
	cm_informers *f;
} inf_lister;

struct cm_informers {
	kc_client *client;
	inf_slot slots[CM_MAX_INFORMERS];
	int n, started;
	inf_lister lister;
	cm_strpool pool; /* strings of the cached objects (transform.h); closed last */
};

static kc_informer *find_inf(cm_informers *f, const char *resource)
{
	for (int i = 0; i < f->n; i++)
		if (!strcmp(f->slots[i].resource, resource))
			return f->slots[i].inf;
	return NULL;
}

/* The informer cache key of ns/name ("name" for cluster-scoped objects). */
static void cache_key(const char *ns, const char *name, char *key, size_t len)
{
	if (ns && *ns)
		snprintf(key, len, "%s/%s", ns, name);
	else
		snprintf(key, len, "%s", name);
}

static int lister_get(cm_lister *l, const char *resource, const char *ns, const char *name,
		      cJSON **out)
{
	*out = NULL;
	kc_informer *inf = find_inf(((inf_lister *)l)->f, resource);
	if (!inf)
		return -ENOENT;
	char key[512];
	cache_key(ns, name, key, sizeof(key));
	return kc_informer_get(inf, key, out);
}

static int lister_list(cm_lister *l, const char *resource, const char *ns, cJSON **out)
{
	*out = NULL;
	kc_informer *inf = find_inf(((inf_lister *)l)->f, resource);
	if (!inf)
		return -ENOENT;
	if (!ns || !*ns)
		return kc_informer_list(inf, out);
	return kc_informer_by_index(inf, KC_INDEX_NAMESPACE, ns, out);
}

typedef struct with_ctx {
	int (*fn)(const cJSON *obj, void *arg);
	void *arg;
	int *found;
} with_ctx;

static int with_one(const cJSON *obj, void *arg)
{
	with_ctx *w = arg;
	*w->found = 1;
	w->fn(obj, w->arg);
	return 1; /* the key is unique: stop */
}

/* Copies into out the objects of namespace ns (NULL: any) that keep (NULL: all)
 * accepts. */
typedef struct filter_ctx {
	const char *ns;
	bool (*keep)(const cJSON *obj, void *arg);
	void *arg;
	cJSON *out;
} filter_ctx;

static int filter_one(const cJSON *obj, void *arg)
{
	filter_ctx *fc = arg;
	if (fc->ns && *fc->ns && strcmp(kc_meta_namespace(obj), fc->ns))
		return 0;
	if (fc->keep && !fc->keep(obj, fc->arg))
		return 0;
	cJSON *c = kc_json_dup(obj);
	if (!c)
		return -ENOMEM;
	cJSON_AddItemToArray(fc->out, c);
	return 0;
}

static int lister_list_filtered(cm_lister *l, const char *resource, const char *ns,
				bool (*keep)(const cJSON *obj, void *arg), void *arg, cJSON **out)
{
	*out = NULL;
	kc_informer *inf = find_inf(((inf_lister *)l)->f, resource);
	if (!inf)
		return -ENOENT;
	filter_ctx fc = { NULL, keep, arg, cJSON_CreateArray() };
	if (!fc.out)
		return -ENOMEM;
	int rc = kc_informer_foreach(inf, ns && *ns ? KC_INDEX_NAMESPACE : NULL,
				     ns && *ns ? ns : NULL, filter_one, &fc);
	if (rc < 0) {
		cJSON_Delete(fc.out);
		return rc;
	}
	*out = fc.out;
	return 0;
}

/* An index of each object by its own cache key, so that lister_with finds one object
 * without copying it (kc_informer_get copies). */
#define KEY_INDEX "cm-key"

static void key_index(const cJSON *obj, kc_index_keys *keys, void *arg)
{
	(void)arg;
	char key[512];
	if (kc_informer_key(obj, key, sizeof(key)) == 0)
		kc_index_keys_add(keys, key);
}

/* An index by controller: "u/<controllerRef uid>", or "o/<namespace>" for objects
 * without a controllerRef (the orphans an owner may adopt). */
#define CTRL_INDEX "cm-controller"

static void ctrl_index(const cJSON *obj, kc_index_keys *keys, void *arg)
{
	(void)arg;
	char v[300];
	const cJSON *ref = kc_meta_controller_ref(obj);
	if (ref)
		snprintf(v, sizeof(v), "u/%s", kc_json_get_string(ref, "uid", ""));
	else
		snprintf(v, sizeof(v), "o/%s", kc_meta_namespace(obj));
	kc_index_keys_add(keys, v);
}

static int lister_list_controlled(cm_lister *l, const char *resource, const char *ns,
				  const char *const *uids, bool orphans,
				  bool (*keep)(const cJSON *obj, void *arg), void *arg,
				  cJSON **out)
{
	*out = NULL;
	kc_informer *inf = find_inf(((inf_lister *)l)->f, resource);
	if (!inf)
		return -ENOENT;
	filter_ctx c = { ns, keep, arg, cJSON_CreateArray() };
	if (!c.out)
		return -ENOMEM;
	char v[300];
	int rc = 0;
	for (int i = 0; uids && uids[i] && rc >= 0; i++) {
		/* a uid listed twice must not list its objects twice */
		bool dup = false;
		for (int j = 0; j < i && !dup; j++)
			dup = !strcmp(uids[i], uids[j]);
		if (dup || !*uids[i])
			continue;
		snprintf(v, sizeof(v), "u/%s", uids[i]);
		rc = kc_informer_foreach(inf, CTRL_INDEX, v, filter_one, &c);
	}
	if (rc >= 0 && orphans) {
		snprintf(v, sizeof(v), "o/%s", ns ? ns : "");
		rc = kc_informer_foreach(inf, CTRL_INDEX, v, filter_one, &c);
	}
	if (rc < 0) {
		cJSON_Delete(c.out);
		return rc;
	}
	*out = c.out;
	return 0;
}

static int lister_with(cm_lister *l, const char *resource, const char *ns, const char *name,
		       int (*fn)(const cJSON *obj, void *arg), void *arg)
{
	kc_informer *inf = find_inf(((inf_lister *)l)->f, resource);
	if (!inf)
		return -ENOENT;
	char key[512];
	cache_key(ns, name, key, sizeof(key));
	int found = 0;
	with_ctx w = { fn, arg, &found };
	int rc = kc_informer_foreach(inf, KEY_INDEX, key, with_one, &w);
	if (rc < 0)
		return rc;
	return found ? 0 : KC_ENOTFOUND;
}

/* The informers' TransformFunc: what each resource keeps (transform.h). */
static void transform(cJSON *obj, void *arg)
{
	inf_slot *s = arg;
	cm_transform_object(s->resource, obj, &s->f->pool);
}

int cm_informers_new(kc_client *client, cm_informers **out)
{
	cm_informers *f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	if (cm_strpool_init(&f->pool, 0, 0) < 0) {
		free(f);
		return -ENOMEM;
	}
	f->client = client;
	f->lister.base.get = lister_get;
	f->lister.base.list = lister_list;
	f->lister.base.list_filtered = lister_list_filtered;
	f->lister.base.with = lister_with;
	f->lister.base.list_controlled = lister_list_controlled;
	f->lister.f = f;
	*out = f;
	return 0;
}

kc_informer *cm_informers_get(cm_informers *f, const char *resource)
{
	kc_informer *inf = find_inf(f, resource);
	if (inf)
		return inf;
	const char *av = cm_resource_api_version(resource);
	if (!av || f->started || f->n >= CM_MAX_INFORMERS)
		return NULL;
	char path[128];
	snprintf(path, sizeof(path), "%s/%s/%s", strchr(av, '/') ? "/apis" : "/api", av,
		 resource);
	inf_slot *s = &f->slots[f->n];
	snprintf(s->resource, sizeof(s->resource), "%s", resource);
	s->f = f;
	kc_informer_opts o = { .path = path, .name = resource, .transform = transform,
			       .transform_arg = s };
	if (kc_informer_new(f->client, &o, &inf) < 0)
		return NULL;
	if (kc_informer_add_index(inf, KEY_INDEX, key_index, NULL) < 0 ||
	    kc_informer_add_index(inf, CTRL_INDEX, ctrl_index, NULL) < 0) {
		kc_informer_free(inf);
		return NULL;
	}
	s->inf = inf;
	f->n++;
	return inf;
}

int cm_informers_start(cm_informers *f)
{
	f->started = 1;
	for (int i = 0; i < f->n; i++) {
		int rc = kc_informer_start(f->slots[i].inf);
		if (rc < 0)
			return rc;
		/* One initial list at a time: an informer holds its whole list, as parsed,
		 * until the transform trims each object, so lists running together would add
		 * up (thousands of pods, ReplicaSets and Deployments at once). Bounded, so
		 * one resource the apiserver is slow to list does not hold the rest back;
		 * cm_informers_wait_for_sync still waits for all. */
		rc = kc_informer_wait_for_sync(f->slots[i].inf, 5000);
		if (rc < 0 && rc != -ETIMEDOUT)
			return rc;
	}
	return 0;
}

int cm_informers_wait_for_sync(cm_informers *f, int64_t timeout_ms)
{
	for (int i = 0; i < f->n; i++) {
		int rc = kc_informer_wait_for_sync(f->slots[i].inf, timeout_ms);
		if (rc < 0)
			return rc;
	}
	return 0;
}

void cm_informers_stop(cm_informers *f)
{
	for (int i = 0; i < f->n; i++)
		kc_informer_stop(f->slots[i].inf);
}

void cm_informers_free(cm_informers *f)
{
	if (!f)
		return;
	for (int i = 0; i < f->n; i++)
		kc_informer_free(f->slots[i].inf);
	cm_strpool_close(&f->pool);
	free(f);
}

cm_lister *cm_informers_lister(cm_informers *f)
{
	return &f->lister.base;
}

/* ---- the API over kc_client ---- */

typedef struct client_api {
	cm_api base;
	kc_client *client;
	kc_recorder *rec;
} client_api;

static int mkref(kc_ref *r, const char *resource, const char *ns, const char *name,
		 const char *sub)
{
	r->api_version = cm_resource_api_version(resource);
	if (!r->api_version)
		return -ENOENT;
	r->resource = resource;
	r->ns = ns;
	r->name = name;
	r->subresource = sub;
	return 0;
}

static int ca_create(cm_api *a, const char *resource, const char *ns, const cJSON *obj,
		     cJSON **out, kc_status *st)
{
	kc_ref r;
	kc_status local;
	if (!st)
		st = &local;
	kc_status_clear(st);
	int rc = mkref(&r, resource, ns, NULL, NULL);
	if (rc < 0)
		return rc;
	rc = kc_client_create(((client_api *)a)->client, &r, obj, out, st);
	if (rc < 0)
		kc_log_v(2, "create %s in %s: %s: %s", resource, ns, kc_strerror(rc), st->message);
	return rc;
}

static int ca_update(cm_api *a, const char *resource, const char *ns, const char *name,
		     const char *sub, const cJSON *obj, cJSON **out)
{
	kc_ref r;
	int rc = mkref(&r, resource, ns, name, sub);
	if (rc < 0)
		return rc;
	return kc_client_update(((client_api *)a)->client, &r, obj, out, NULL);
}

static int ca_patch(cm_api *a, const char *resource, const char *ns, const char *name,
		    enum kc_patch_type type, const cJSON *patch, cJSON **out)
{
	kc_ref r;
	int rc = mkref(&r, resource, ns, name, NULL);
	if (rc < 0)
		return rc;
	return kc_client_patch(((client_api *)a)->client, &r, type, patch, NULL, out, NULL);
}

static int ca_del(cm_api *a, const char *resource, const char *ns, const char *name,
		  const cJSON *opts)
{
	kc_ref r;
	int rc = mkref(&r, resource, ns, name, NULL);
	if (rc < 0)
		return rc;
	return kc_client_delete(((client_api *)a)->client, &r, opts, NULL, NULL);
}

static int ca_get(cm_api *a, const char *resource, const char *ns, const char *name,
		  cJSON **out)
{
	kc_ref r;
	*out = NULL;
	int rc = mkref(&r, resource, ns && *ns ? ns : NULL, name, NULL);
	if (rc < 0)
		return rc;
	return kc_client_get(((client_api *)a)->client, &r, NULL, out, NULL);
}

static void ca_event(cm_api *a, const cJSON *obj, const char *api_version, const char *kind,
		     const char *type, const char *reason, const char *message)
{
	client_api *ca = (client_api *)a;
	if (!ca->rec)
		return;
	cJSON *ref = kc_event_object_ref(obj, api_version, kind, NULL);
	if (!ref)
		return;
	kc_event_record(ca->rec, ref, type, reason, "%s", message);
	cJSON_Delete(ref);
}

int cm_client_api_new(kc_client *client, kc_recorder *rec, cm_api **out)
{
	client_api *a = calloc(1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	a->base.create = ca_create;
	a->base.update = ca_update;
	a->base.patch = ca_patch;
	a->base.del = ca_del;
	a->base.get = ca_get;
	a->base.event = ca_event;
	a->client = client;
	a->rec = rec;
	*out = &a->base;
	return 0;
}

void cm_client_api_free(cm_api *a)
{
	free(a);
}
