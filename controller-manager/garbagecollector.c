/* The garbage collector (see garbagecollector.h). */
#include "garbagecollector.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"
#include "json.h"
#include "log.h"
#include "meta.h"

/* The kinds kubec's apiserver serves that the GC knows about. watched: dependents the GC
 * follows (they are the kinds controllers put ownerReferences on); the others are only
 * owners, looked up by a live GET when not cached. */
static const gc_kind kinds[] = {
	{ "pods", "v1", "Pod", true, true },
	{ "services", "v1", "Service", true, true },
	{ "endpoints", "v1", "Endpoints", true, true },
	{ "configmaps", "v1", "ConfigMap", true, true },
	{ "serviceaccounts", "v1", "ServiceAccount", true, true },
	{ "persistentvolumeclaims", "v1", "PersistentVolumeClaim", true, true },
	{ "replicasets", "apps/v1", "ReplicaSet", true, true },
	{ "deployments", "apps/v1", "Deployment", true, true },
	{ "statefulsets", "apps/v1", "StatefulSet", true, true },
	{ "daemonsets", "apps/v1", "DaemonSet", true, true },
	{ "controllerrevisions", "apps/v1", "ControllerRevision", true, true },
	{ "jobs", "batch/v1", "Job", true, true },
	{ "endpointslices", "discovery.k8s.io/v1", "EndpointSlice", true, true },
	{ "namespaces", "v1", "Namespace", false, false },
	{ "nodes", "v1", "Node", false, false },
};
#define NKINDS (sizeof(kinds) / sizeof(kinds[0]))

const gc_kind *gc_kind_lookup(const char *api_version, const char *kind)
{
	for (size_t i = 0; api_version && kind && i < NKINDS; i++)
		if (!strcmp(kinds[i].api_version, api_version) && !strcmp(kinds[i].kind, kind))
			return &kinds[i];
	return NULL;
}

const gc_kind *gc_kind_by_resource(const char *resource)
{
	for (size_t i = 0; resource && i < NKINDS; i++)
		if (!strcmp(kinds[i].resource, resource))
			return &kinds[i];
	return NULL;
}

int gc_controller_init(gc_controller *gc, cm_lister *lister, cm_api *api)
{
	memset(gc, 0, sizeof(*gc));
	gc->lister = lister;
	gc->api = api;
	return 0;
}

static void enqueue(gc_controller *gc, const char *resource, const char *ns, const char *name)
{
	char key[600];
	snprintf(key, sizeof(key), "%s/%s/%s", resource, ns ? ns : "", name);
	cm_controller_enqueue(gc->ctrl, key);
}

/* ---- dependents: scan the caches of the watched kinds ---- */

typedef struct dep {
	const gc_kind *k;
	cJSON *obj; /* owned */
} dep;

typedef struct deps {
	dep *v;
	size_t n, cap;
} deps;

static void deps_free(deps *d)
{
	for (size_t i = 0; i < d->n; i++)
		cJSON_Delete(d->v[i].obj);
	free(d->v);
	memset(d, 0, sizeof(*d));
}

static bool keep_owned(const cJSON *obj, void *arg)
{
	return kc_meta_is_owned_by(obj, arg);
}

/* Every cached object that lists owner_uid among its owners, in ns (NULL = all). */
static int find_dependents(gc_controller *gc, const char *ns, const char *owner_uid, deps *out)
{
	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < NKINDS; i++) {
		if (!kinds[i].watched)
			continue;
		cJSON *arr = NULL;
		int rc = gc->lister->list_filtered(gc->lister, kinds[i].resource, ns, keep_owned,
						   (void *)owner_uid, &arr);
		if (rc == -ENOENT)
			continue; /* kind not watched in this process */
		if (rc < 0) {
			deps_free(out);
			return rc;
		}
		cJSON *o;
		while ((o = cJSON_DetachItemFromArray(arr, 0))) {
			if (out->n == out->cap) {
				size_t nc = out->cap ? out->cap * 2 : 8;
				dep *nv = realloc(out->v, nc * sizeof(*nv));
				if (!nv) {
					cJSON_Delete(o);
					cJSON_Delete(arr);
					deps_free(out);
					return -ENOMEM;
				}
				out->v = nv;
				out->cap = nc;
			}
			out->v[out->n++] = (dep){ &kinds[i], o };
		}
		cJSON_Delete(arr);
	}
	return 0;
}

typedef struct owner_check {
	const char *uid;
	bool live; /* cached with that uid and not being deleted */
} owner_check;

static int check_owner(const cJSON *owner, void *arg)
{
	owner_check *c = arg;
	c->live = !strcmp(kc_meta_uid(owner), c->uid) && !*kc_meta_deletion_timestamp(owner);
	return 0;
}

/* As upstream's graph builder, which queues a dependent for attemptToDelete only when
 * one of its owners is absent from the graph (a "virtual" node): true when some owner
 * of a kind the collector knows is not in the cache with that uid, is being deleted,
 * or is of a kind not watched here (then the sync decides). Owners found alive need no
 * sync, which spares one per pod and ReplicaSet event (borrowed lookups, no copies). */
static bool owner_needs_attention(gc_controller *gc, const char *ns, const cJSON *obj)
{
	const cJSON *r;
	cJSON_ArrayForEach(r, kc_meta_owner_refs(obj))
	{
		const gc_kind *ok = gc_kind_lookup(kc_json_get_string(r, "apiVersion", NULL),
						   kc_json_get_string(r, "kind", NULL));
		if (!ok)
			continue; /* unknown kinds are left alone by the sync too */
		owner_check c = { kc_json_get_string(r, "uid", ""), false };
		int rc = gc->lister->with(gc->lister, ok->resource, ok->namespaced ? ns : "",
					  kc_json_get_string(r, "name", ""), check_owner, &c);
		if (rc < 0 || !c.live)
			return true;
	}
	return false;
}

void gc_object_changed(gc_controller *gc, const char *resource, const cJSON *obj, bool deleted)
{
	if (!obj)
		return;
	const char *ns = kc_meta_namespace(obj), *name = kc_meta_name(obj);
	if (!deleted) {
		/* an owner whose GC finalizer we must honour, or a dependent with an owner
		 * that is not plainly there */
		if ((*kc_meta_deletion_timestamp(obj) &&
		     (kc_meta_has_finalizer(obj, "orphan") ||
		      kc_meta_has_finalizer(obj, "foregroundDeletion"))) ||
		    owner_needs_attention(gc, ns, obj))
			enqueue(gc, resource, ns, name);
		return;
	}
	/* a dependent went away: an owner waiting in the foreground may now finish */
	const cJSON *r;
	cJSON_ArrayForEach(r, kc_meta_owner_refs(obj))
	{
		const gc_kind *ok = gc_kind_lookup(kc_json_get_string(r, "apiVersion", NULL),
						   kc_json_get_string(r, "kind", NULL));
		const char *oname = kc_json_get_string(r, "name", "");
		if (ok && *oname)
			enqueue(gc, ok->resource, ok->namespaced ? ns : "", oname);
	}
	/* an owner went away: its dependents may now be dangling (upstream
	 * processGraphChanges -> attemptToDelete for each dependent) */
	const gc_kind *k = gc_kind_by_resource(resource);
	deps d;
	if (find_dependents(gc, k && k->namespaced ? ns : NULL, kc_meta_uid(obj), &d) < 0)
		return;
	for (size_t i = 0; i < d.n; i++)
		enqueue(gc, d.v[i].k->resource, kc_meta_namespace(d.v[i].obj),
			kc_meta_name(d.v[i].obj));
	deps_free(&d);
}

/* ---- owner state ---- */

enum owner_state { OWNER_SOLID, OWNER_DANGLING, OWNER_WAITING, OWNER_UNKNOWN };

/* Upstream isDangling: the cache first, a live GET when the cache does not show the
 * owner with the referenced uid. Returns the state or a negative error (retry). */
static int owner_state(gc_controller *gc, const char *dep_ns, const cJSON *ref)
{
	kc_owner_ref o;
	if (kc_meta_owner_ref_read(ref, &o) < 0)
		return OWNER_UNKNOWN;
	const gc_kind *k = gc_kind_lookup(o.api_version, o.kind);
	if (!k)
		return OWNER_UNKNOWN;
	/* a namespaced dependent's namespaced owner lives in its namespace; a
	 * cluster-scoped dependent cannot have a namespaced owner (upstream: dangling
	 * with a warning event; kubec leaves it alone) */
	const char *ns = k->namespaced ? dep_ns : "";
	if (k->namespaced && !*dep_ns)
		return OWNER_UNKNOWN;
	cJSON *owner = NULL;
	int rc = gc->lister->get(gc->lister, k->resource, ns, o.name, &owner);
	if (rc == 0 && strcmp(kc_meta_uid(owner), o.uid)) {
		cJSON_Delete(owner);
		owner = NULL;
		rc = KC_ENOTFOUND;
	}
	if (rc != 0) {
		if (rc != KC_ENOTFOUND && rc != -ENOENT)
			return rc;
		rc = gc->api->get(gc->api, k->resource, ns, o.name, &owner);
		if (rc == KC_ENOTFOUND)
			return OWNER_DANGLING;
		if (rc < 0)
			return rc;
		if (strcmp(kc_meta_uid(owner), o.uid)) {
			cJSON_Delete(owner);
			return OWNER_DANGLING;
		}
	}
	int st = OWNER_SOLID;
	if (*kc_meta_deletion_timestamp(owner) &&
	    kc_meta_has_finalizer(owner, "foregroundDeletion"))
		st = OWNER_WAITING;
	cJSON_Delete(owner);
	return st;
}

static cJSON *refs_patch(cJSON *refs, const char *uid)
{
	cJSON *p = cJSON_CreateObject();
	cJSON *md = cJSON_AddObjectToObject(p, "metadata");
	cJSON_AddItemToObject(md, "ownerReferences", refs);
	cJSON_AddStringToObject(md, "uid", uid);
	return p;
}

static int delete_obj(gc_controller *gc, const gc_kind *k, const cJSON *obj, const char *policy)
{
	cJSON *opts = cJSON_CreateObject();
	if (!opts)
		return -ENOMEM;
	/* the uid precondition: never delete a newer object of the same name */
	cJSON *pre = cJSON_AddObjectToObject(opts, "preconditions");
	cJSON_AddStringToObject(pre, "uid", kc_meta_uid(obj));
	if (policy)
		cJSON_AddStringToObject(opts, "propagationPolicy", policy);
	cJSON_AddStringToObject(opts, "kind", "DeleteOptions");
	cJSON_AddStringToObject(opts, "apiVersion", "v1");
	int rc = gc->api->del(gc->api, k->resource, kc_meta_namespace(obj), kc_meta_name(obj),
			      opts);
	cJSON_Delete(opts);
	kc_info("garbage collector: deleting %s %s/%s (propagationPolicy=%s): %s", k->resource,
		kc_meta_namespace(obj), kc_meta_name(obj), policy ? policy : "default",
		rc < 0 ? kc_strerror(rc) : "ok");
	if (rc == KC_ENOTFOUND || rc == KC_ECONFLICT)
		return 0; /* already gone, or replaced by a new object */
	return rc;
}

static bool has_dependents(gc_controller *gc, const gc_kind *k, const cJSON *obj)
{
	deps d;
	if (find_dependents(gc, k->namespaced ? kc_meta_namespace(obj) : NULL, kc_meta_uid(obj),
			    &d) < 0)
		return true;
	bool any = d.n > 0;
	deps_free(&d);
	return any;
}

/* Upstream attemptToDeleteItem for one dependent. obj comes from the cache (live false)
 * or from a live GET (live true): before changing anything the decision is taken again on
 * the live object, as upstream does, because a cached copy can still carry an owner
 * reference that was removed meanwhile (e.g. orphaned just before its owner went away). */
static int attempt_to_delete(gc_controller *gc, const gc_kind *k, const cJSON *obj, bool live)
{
	const cJSON *refs = kc_meta_owner_refs(obj), *r;
	if (!cJSON_GetArraySize(refs))
		return 0;
	/* an object already being deleted without a GC finalizer is the apiserver's
	 * business (upstream: "processing item ... in deletion, skipping") */
	if (*kc_meta_deletion_timestamp(obj) && !kc_meta_has_finalizer(obj, "foregroundDeletion"))
		return 0;
	int solid = 0, dangling = 0, waiting = 0, unknown = 0;
	cJSON *fix = cJSON_CreateArray(); /* patch entries for dangling/waiting refs */
	if (!fix)
		return -ENOMEM;
	cJSON_ArrayForEach(r, refs)
	{
		int st = owner_state(gc, kc_meta_namespace(obj), r);
		if (st < 0) {
			cJSON_Delete(fix);
			return st;
		}
		const char *uid = kc_json_get_string(r, "uid", "");
		if (st == OWNER_SOLID) {
			solid++;
		} else if (st == OWNER_UNKNOWN) {
			unknown++;
		} else if (st == OWNER_DANGLING) {
			dangling++;
			cJSON *d = cJSON_CreateObject();
			cJSON_AddStringToObject(d, "$patch", "delete");
			cJSON_AddStringToObject(d, "uid", uid);
			cJSON_AddItemToArray(fix, d);
		} else {
			waiting++;
		}
	}
	int rc = 0;
	if (!live && (dangling || (!solid && !unknown))) {
		cJSON *cur = NULL;
		cJSON_Delete(fix);
		rc = gc->api->get(gc->api, k->resource, kc_meta_namespace(obj), kc_meta_name(obj),
				  &cur);
		if (rc == KC_ENOTFOUND)
			return 0;
		if (rc < 0)
			return rc;
		if (!strcmp(kc_meta_uid(cur), kc_meta_uid(obj)))
			rc = attempt_to_delete(gc, k, cur, true);
		cJSON_Delete(cur);
		return rc;
	}
	if (solid || unknown) {
		/* some owner remains: only drop the references to dangling owners (upstream
		 * also unblocks references to waiting owners; a blocking reference to an
		 * owner being foreground-deleted is what keeps that owner waiting, and the
		 * owner's own sync handles it) */
		if (dangling) {
			cJSON *p = refs_patch(fix, kc_meta_uid(obj));
			fix = NULL;
			rc = gc->api->patch(gc->api, k->resource, kc_meta_namespace(obj),
					    kc_meta_name(obj), KC_PATCH_STRATEGIC, p, NULL);
			cJSON_Delete(p);
			kc_log_v(2, "garbage collector: removed dangling owner references of %s %s/%s: %s",
				 k->resource, kc_meta_namespace(obj), kc_meta_name(obj),
				 rc < 0 ? kc_strerror(rc) : "ok");
			if (rc == KC_ENOTFOUND || rc == KC_ECONFLICT)
				rc = 0;
		}
		cJSON_Delete(fix);
		return rc;
	}
	cJSON_Delete(fix);
	if (*kc_meta_deletion_timestamp(obj))
		return 0; /* foreground deletion of obj already in progress */
	/* every owner is gone or waiting for its dependents: delete obj. With a waiting
	 * owner and dependents of its own, obj goes in the foreground too, so the owner
	 * waits for the whole chain (upstream). Otherwise the object's own finalizer
	 * decides, else the default (background). */
	const char *policy = NULL;
	if (waiting && has_dependents(gc, k, obj))
		policy = "Foreground";
	else if (kc_meta_has_finalizer(obj, "orphan"))
		policy = "Orphan";
	else if (kc_meta_has_finalizer(obj, "foregroundDeletion"))
		policy = "Foreground";
	else
		policy = "Background";
	return delete_obj(gc, k, obj, policy);
}

/* Upstream removeFinalizer: read the object live (the cache may hold only part of it,
 * see transform.h) and send a JSON merge patch of metadata.finalizers with the
 * resourceVersion read as the precondition; on a conflict (another writer, such as
 * the object's own controller updating its status) read again, as RetryOnConflict. */
static int remove_finalizer(gc_controller *gc, const gc_kind *k, const cJSON *obj,
			    const char *fin)
{
	const char *ns = kc_meta_namespace(obj), *name = kc_meta_name(obj);
	int rc = 0;
	for (int attempt = 0; attempt < 3; attempt++) {
		cJSON *cur = NULL;
		rc = gc->api->get(gc->api, k->resource, ns, name, &cur);
		if (rc < 0)
			break;
		if (!kc_meta_has_finalizer(cur, fin) || strcmp(kc_meta_uid(cur), kc_meta_uid(obj))) {
			cJSON_Delete(cur);
			break; /* someone else removed it, or a new object took the name */
		}
		cJSON *patch = cJSON_CreateObject();
		cJSON *md = cJSON_AddObjectToObject(patch, "metadata");
		cJSON *fins = cJSON_AddArrayToObject(md, "finalizers");
		if (!fins) {
			cJSON_Delete(patch);
			cJSON_Delete(cur);
			rc = -ENOMEM;
			break;
		}
		cJSON_AddStringToObject(md, "resourceVersion", kc_meta_resource_version(cur));
		const cJSON *f;
		cJSON_ArrayForEach(f, kc_json_get(cur, "metadata.finalizers"))
		{
			if (cJSON_IsString(f) && strcmp(f->valuestring, fin))
				cJSON_AddItemToArray(fins, cJSON_CreateString(f->valuestring));
		}
		cJSON_Delete(cur);
		rc = gc->api->patch(gc->api, k->resource, ns, name, KC_PATCH_MERGE, patch, NULL);
		cJSON_Delete(patch);
		if (rc != KC_ECONFLICT)
			break;
	}
	kc_log_v(2, "garbage collector: removed finalizer %s from %s %s/%s: %s", fin, k->resource,
		 ns, name, rc < 0 ? kc_strerror(rc) : "ok");
	return rc == KC_ENOTFOUND ? 0 : rc;
}

/* Upstream orphanDependents + removeFinalizer(orphan). */
static int orphan(gc_controller *gc, const gc_kind *k, const cJSON *owner)
{
	deps d;
	int rc = find_dependents(gc, k->namespaced ? kc_meta_namespace(owner) : NULL,
				 kc_meta_uid(owner), &d);
	if (rc < 0)
		return rc;
	for (size_t i = 0; i < d.n && rc == 0; i++) {
		cJSON *e = cJSON_CreateObject();
		cJSON_AddStringToObject(e, "$patch", "delete");
		cJSON_AddStringToObject(e, "uid", kc_meta_uid(owner));
		cJSON *arr = cJSON_CreateArray();
		cJSON_AddItemToArray(arr, e);
		cJSON *p = refs_patch(arr, kc_meta_uid(d.v[i].obj));
		rc = gc->api->patch(gc->api, d.v[i].k->resource, kc_meta_namespace(d.v[i].obj),
				    kc_meta_name(d.v[i].obj), KC_PATCH_STRATEGIC, p, NULL);
		cJSON_Delete(p);
		kc_log_v(2, "garbage collector: orphaning %s %s/%s from %s %s: %s",
			 d.v[i].k->resource, kc_meta_namespace(d.v[i].obj),
			 kc_meta_name(d.v[i].obj), k->kind, kc_meta_name(owner),
			 rc < 0 ? kc_strerror(rc) : "ok");
		if (rc == KC_ENOTFOUND || rc == KC_ECONFLICT)
			rc = 0;
	}
	deps_free(&d);
	if (rc < 0)
		return rc;
	return remove_finalizer(gc, k, owner, "orphan");
}

/* Upstream processDeletingDependentsItem: delete the dependents, wait for the blocking
 * ones, then drop foregroundDeletion. */
static int foreground(gc_controller *gc, const gc_kind *k, const cJSON *owner)
{
	deps d;
	int rc = find_dependents(gc, k->namespaced ? kc_meta_namespace(owner) : NULL,
				 kc_meta_uid(owner), &d);
	if (rc < 0)
		return rc;
	int blocking = 0;
	for (size_t i = 0; i < d.n; i++) {
		const cJSON *r;
		cJSON_ArrayForEach(r, kc_meta_owner_refs(d.v[i].obj))
		{
			if (!strcmp(kc_json_get_string(r, "uid", ""), kc_meta_uid(owner)) &&
			    kc_json_get_bool(r, "blockOwnerDeletion", false))
				blocking++;
		}
		int e = attempt_to_delete(gc, d.v[i].k, d.v[i].obj, false);
		if (e < 0 && rc == 0)
			rc = e;
	}
	deps_free(&d);
	if (rc < 0)
		return rc;
	if (blocking) {
		/* level-triggered: each dependent's deletion requeues the owner */
		kc_log_v(4, "garbage collector: %s %s/%s waits for %d blocking dependents",
			 k->resource, kc_meta_namespace(owner), kc_meta_name(owner), blocking);
		return 0;
	}
	return remove_finalizer(gc, k, owner, "foregroundDeletion");
}

int gc_sync(void *arg, const char *key)
{
	gc_controller *gc = arg;
	char resource[64], ns[256], name[256];
	const char *s1 = strchr(key, '/'), *s2 = s1 ? strchr(s1 + 1, '/') : NULL;
	if (!s1 || !s2 || (size_t)(s1 - key) >= sizeof(resource) ||
	    (size_t)(s2 - s1 - 1) >= sizeof(ns) || strlen(s2 + 1) >= sizeof(name) || !s2[1])
		return 0; /* malformed: drop */
	snprintf(resource, sizeof(resource), "%.*s", (int)(s1 - key), key);
	snprintf(ns, sizeof(ns), "%.*s", (int)(s2 - s1 - 1), s1 + 1);
	snprintf(name, sizeof(name), "%s", s2 + 1);
	const gc_kind *k = gc_kind_by_resource(resource);
	if (!k)
		return 0;
	cJSON *obj = NULL;
	int rc = gc->lister->get(gc->lister, resource, ns, name, &obj);
	if (rc == KC_ENOTFOUND || rc == -ENOENT)
		return 0;
	if (rc < 0)
		return rc;
	if (*kc_meta_deletion_timestamp(obj) && kc_meta_has_finalizer(obj, "orphan"))
		rc = orphan(gc, k, obj);
	else if (*kc_meta_deletion_timestamp(obj) &&
		 kc_meta_has_finalizer(obj, "foregroundDeletion"))
		rc = foreground(gc, k, obj);
	else
		rc = attempt_to_delete(gc, k, obj, false);
	cJSON_Delete(obj);
	if (rc < 0)
		kc_warn("garbage collector: %s: %s", key, kc_strerror(rc));
	return rc;
}

/* ---- informer handlers: one small binding per watched kind ---- */


static void on_add(const cJSON *obj, void *arg)
{
	gc_binding *b = arg;
	gc_object_changed(b->gc, b->resource, obj, false);
}

static void on_update(const cJSON *old_obj, const cJSON *new_obj, void *arg)
{
	gc_binding *b = arg;
	(void)old_obj;
	gc_object_changed(b->gc, b->resource, new_obj, false);
}

static void on_delete(const cJSON *obj, int final_state_unknown, void *arg)
{
	gc_binding *b = arg;
	(void)final_state_unknown;
	gc_object_changed(b->gc, b->resource, obj, true);
}

int gc_controller_register(gc_controller *gc, cm_informers *f)
{
	_Static_assert(NKINDS <= GC_MAX_KINDS, "GC_MAX_KINDS too small");
	for (size_t i = 0; i < NKINDS; i++) {
		if (!kinds[i].watched)
			continue;
		kc_informer *inf = cm_informers_get(f, kinds[i].resource);
		if (!inf)
			return -ENOMEM;
		gc->bind[i] = (gc_binding){ gc, kinds[i].resource };
		kc_informer_handlers h = { on_add, on_update, on_delete, &gc->bind[i] };
		int rc = kc_informer_add_handlers(inf, &h);
		if (rc < 0)
			return rc;
	}
	return 0;
}
