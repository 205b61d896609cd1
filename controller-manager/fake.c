/* Test doubles for cm_lister and cm_api (see fake.h). */
#include "fake.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"
#include "json.h"
#include "meta.h"

#define FAKE(p, member) ((cm_fake *)((char *)(p) - offsetof(cm_fake, member)))

static cJSON *res_array(cJSON *root, const char *resource)
{
	cJSON *a = cJSON_GetObjectItemCaseSensitive(root, resource);
	if (!a) {
		a = cJSON_CreateArray();
		cJSON_AddItemToObject(root, resource, a);
	}
	return a;
}

static void action(cm_fake *f, const char *verb, const char *resource, const char *ns,
		   const char *name, const char *sub)
{
	char buf[600];
	snprintf(buf, sizeof(buf), "%s %s %s/%s%s%s", verb, resource, ns, name, sub ? " " : "",
		 sub ? sub : "");
	cJSON_AddItemToArray(f->actions, cJSON_CreateString(buf));
}

static cJSON *find_in(cJSON *arr, const char *ns, const char *name, int *idx)
{
	int i = 0;
	cJSON *o;
	cJSON_ArrayForEach(o, arr)
	{
		if (!strcmp(kc_meta_namespace(o), ns) && !strcmp(kc_meta_name(o), name)) {
			if (idx)
				*idx = i;
			return o;
		}
		i++;
	}
	return NULL;
}

cJSON *cm_fake_find(cm_fake *f, const char *resource, const char *ns, const char *name)
{
	return find_in(cJSON_GetObjectItemCaseSensitive(f->store, resource), ns, name, NULL);
}

static void bump_rv(cm_fake *f, cJSON *obj)
{
	char rv[32];
	snprintf(rv, sizeof(rv), "%d", ++f->rv);
	kc_meta_set_resource_version(obj, rv);
}

static bool cluster_scoped(const char *resource)
{
	return !strcmp(resource, "namespaces") || !strcmp(resource, "nodes");
}

static void fill(cm_fake *f, const char *resource, cJSON *obj)
{
	if (!*kc_meta_namespace(obj) && !cluster_scoped(resource))
		kc_meta_set_namespace(obj, "default");
	if (!*kc_meta_uid(obj)) {
		char uid[KC_UUID_LEN + 1];
		kc_meta_uuid_v4(f->clock, uid);
		kc_meta_set_uid(obj, uid);
	}
	if (!*kc_meta_creation_timestamp(obj))
		kc_meta_set_creation_time(obj, kc_now_wall(f->clock));
	if (!kc_meta_generation(obj))
		kc_meta_set_generation(obj, 1);
	bump_rv(f, obj);
}

cJSON *cm_fake_add(cm_fake *f, const char *resource, cJSON *obj)
{
	fill(f, resource, obj);
	cJSON_AddItemToArray(res_array(f->store, resource), obj);
	return obj;
}

static int f_get(cm_lister *l, const char *resource, const char *ns, const char *name,
		 cJSON **out)
{
	cm_fake *f = FAKE(l, lister);
	const cJSON *o = cm_fake_find(f, resource, ns, name);
	*out = o ? kc_json_dup(o) : NULL;
	return o ? 0 : KC_ENOTFOUND;
}

static int f_list_controlled(cm_lister *l, const char *resource, const char *ns,
			     const char *const *uids, bool orphans,
			     bool (*keep)(const cJSON *obj, void *arg), void *arg, cJSON **out)
{
	cm_fake *f = FAKE(l, lister);
	cJSON *arr = cJSON_CreateArray(), *o;
	cJSON_ArrayForEach(o, cJSON_GetObjectItemCaseSensitive(f->store, resource))
	{
		if (ns && *ns && strcmp(kc_meta_namespace(o), ns))
			continue;
		const cJSON *ref = kc_meta_controller_ref(o);
		bool in = !ref && orphans;
		for (int i = 0; ref && uids && uids[i] && !in; i++)
			in = !strcmp(kc_json_get_string(ref, "uid", ""), uids[i]);
		if (in && (!keep || keep(o, arg)))
			cJSON_AddItemToArray(arr, kc_json_dup(o));
	}
	*out = arr;
	return 0;
}

static int f_with(cm_lister *l, const char *resource, const char *ns, const char *name,
		  int (*fn)(const cJSON *obj, void *arg), void *arg)
{
	cm_fake *f = FAKE(l, lister);
	const cJSON *o = cm_fake_find(f, resource, ns ? ns : "", name);
	if (!o)
		return KC_ENOTFOUND;
	fn(o, arg);
	return 0;
}

static int f_list(cm_lister *l, const char *resource, const char *ns, cJSON **out)
{
	cm_fake *f = FAKE(l, lister);
	cJSON *arr = cJSON_CreateArray(), *o;
	cJSON_ArrayForEach(o, cJSON_GetObjectItemCaseSensitive(f->store, resource))
	{
		if (!ns || !*ns || !strcmp(kc_meta_namespace(o), ns))
			cJSON_AddItemToArray(arr, kc_json_dup(o));
	}
	*out = arr;
	return 0;
}

/* A quota-like refusal, worded as the apiserver's Status message. */
static int forbid(const char *resource, const cJSON *obj, kc_status *st)
{
	if (st) {
		kc_status_clear(st);
		st->http_code = st->code = 403;
		snprintf(st->reason, sizeof(st->reason), "Forbidden");
		snprintf(st->message, sizeof(st->message),
			 "%s \"%s\" is forbidden: exceeded quota: fake", resource,
			 *kc_meta_name(obj) ? kc_meta_name(obj) : kc_meta_generate_name(obj));
	}
	return KC_EFORBIDDEN;
}

static int f_list_filtered(cm_lister *l, const char *resource, const char *ns,
			   bool (*keep)(const cJSON *obj, void *arg), void *arg, cJSON **out)
{
	cm_fake *f = FAKE(l, lister);
	cJSON *arr = cJSON_CreateArray(), *o;
	cJSON_ArrayForEach(o, cJSON_GetObjectItemCaseSensitive(f->store, resource))
	{
		if ((!ns || !*ns || !strcmp(kc_meta_namespace(o), ns)) && keep(o, arg))
			cJSON_AddItemToArray(arr, kc_json_dup(o));
	}
	*out = arr;
	return 0;
}

static int f_create(cm_api *a, const char *resource, const char *ns, const cJSON *obj,
		    cJSON **out, kc_status *st)
{
	cm_fake *f = FAKE(a, api);
	if (out)
		*out = NULL;
	if (st)
		kc_status_clear(st);
	f->create_calls++;
	if (f->fail_from > 0 && f->create_calls >= f->fail_from)
		return forbid(resource, obj, st);
	if (f->fail_creates > 0) {
		f->fail_creates--;
		return forbid(resource, obj, st);
	}
	cJSON *o = kc_json_dup(obj);
	if (ns && *ns)
		kc_meta_set_namespace(o, ns);
	if (!*kc_meta_name(o)) {
		char name[80];
		if (!*kc_meta_generate_name(o) ||
		    kc_meta_generate_name_suffix(f->clock, kc_meta_generate_name(o), name,
						 sizeof(name)) < 0) {
			cJSON_Delete(o);
			return KC_EINVALID;
		}
		kc_meta_set_name(o, name);
	}
	if (cm_fake_find(f, resource, ns, kc_meta_name(o)) ||
	    find_in(cJSON_GetObjectItemCaseSensitive(f->pending, resource), ns,
		    kc_meta_name(o), NULL)) {
		cJSON_Delete(o);
		return KC_EEXIST;
	}
	fill(f, resource, o);
	action(f, "create", resource, ns, kc_meta_name(o), NULL);
	if (out)
		*out = kc_json_dup(o);
	cJSON_AddItemToArray(res_array(f->writes_visible ? f->store : f->pending, resource), o);
	return 0;
}

static int f_update(cm_api *a, const char *resource, const char *ns, const char *name,
		    const char *sub, const cJSON *obj, cJSON **out)
{
	cm_fake *f = FAKE(a, api);
	if (out)
		*out = NULL;
	int idx;
	cJSON *arr = res_array(f->store, resource);
	cJSON *cur = find_in(arr, ns, name, &idx);
	if (!cur)
		return KC_ENOTFOUND;
	const char *rv = kc_meta_resource_version(obj);
	if (*rv && strcmp(rv, kc_meta_resource_version(cur)))
		return KC_ECONFLICT;
	cJSON *n;
	if (sub && !strcmp(sub, "finalize")) {
		/* namespaces/finalize changes spec.finalizers only */
		n = kc_json_dup(cur);
		kc_json_delete(n, "spec.finalizers");
		const cJSON *fin = kc_json_get(obj, "spec.finalizers");
		if (fin)
			kc_json_set(n, "spec.finalizers", kc_json_dup(fin));
	} else if (sub && !strcmp(sub, "status")) {
		/* the status subresource changes status only */
		n = kc_json_dup(cur);
		cJSON_DeleteItemFromObjectCaseSensitive(n, "status");
		const cJSON *st = cJSON_GetObjectItemCaseSensitive(obj, "status");
		if (st)
			cJSON_AddItemToObject(n, "status", kc_json_dup(st));
		/* as upstream's deployment status strategy: annotations follow the request */
		const cJSON *an = kc_meta_annotations(obj);
		kc_json_delete(n, "metadata.annotations");
		if (an)
			kc_json_set(n, "metadata.annotations", kc_json_dup(an));
	} else {
		/* the main resource ignores status, bumps generation on spec changes */
		n = kc_json_dup(obj);
		cJSON_DeleteItemFromObjectCaseSensitive(n, "status");
		const cJSON *st = cJSON_GetObjectItemCaseSensitive(cur, "status");
		if (st)
			cJSON_AddItemToObject(n, "status", kc_json_dup(st));
		kc_meta_set_generation(n, kc_meta_generation(cur));
		if (!kc_json_equal(kc_json_get(cur, "spec"), kc_json_get(n, "spec")))
			kc_meta_set_generation(n, kc_meta_generation(cur) + 1);
	}
	/* as the apiserver: an object being deleted whose finalizers (metadata, and for
	 * namespaces spec) are all gone is deleted by this write */
	if (*kc_meta_deletion_timestamp(n) &&
	    !cJSON_GetArraySize(kc_json_get(n, "metadata.finalizers")) &&
	    !cJSON_GetArraySize(kc_json_get(n, "spec.finalizers"))) {
		cJSON_Delete(n);
		cJSON_DeleteItemFromArray(arr, idx);
		action(f, "update", resource, ns, name, sub);
		return 0;
	}
	bump_rv(f, n);
	/* replace the contents in place so pointers tests hold stay valid */
	cm_json_replace(cur, n);
	n = cur;
	(void)idx;
	action(f, "update", resource, ns, name, sub);
	if (out)
		*out = kc_json_dup(n);
	return 0;
}

/* RFC 7386 JSON merge patch of target (an object) with patch, in place. */
static void merge_patch(cJSON *target, const cJSON *patch)
{
	const cJSON *p;
	cJSON_ArrayForEach(p, patch)
	{
		if (!p->string)
			continue;
		cJSON *t = cJSON_GetObjectItemCaseSensitive(target, p->string);
		if (cJSON_IsNull(p)) {
			cJSON_DeleteItemFromObjectCaseSensitive(target, p->string);
		} else if (cJSON_IsObject(p) && cJSON_IsObject(t)) {
			merge_patch(t, p);
		} else {
			cJSON *v = kc_json_dup(p);
			if (cJSON_IsObject(v)) { /* nulls inside a new object are dropped */
				cJSON *o = cJSON_CreateObject();
				merge_patch(o, v);
				cJSON_Delete(v);
				v = o;
			}
			cJSON_DeleteItemFromObjectCaseSensitive(target, p->string);
			cJSON_AddItemToObject(target, p->string, v);
		}
	}
}

/* A merge patch (the garbage collector's finalizer removal): metadata.resourceVersion
 * in the patch is a precondition, and the result goes through f_update's rules. */
static int f_merge_patch(cm_fake *f, const char *resource, const char *ns, const char *name,
			 const cJSON *cur, const cJSON *patch, cJSON **out)
{
	const char *rv = kc_json_get_string(patch, "metadata.resourceVersion", NULL);
	if (rv && strcmp(rv, kc_meta_resource_version(cur)))
		return KC_ECONFLICT;
	cJSON *n = kc_json_dup(cur);
	if (!n)
		return -ENOMEM;
	merge_patch(n, patch);
	kc_meta_set_resource_version(n, kc_meta_resource_version(cur));
	int rc = f->api.update(&f->api, resource, ns, name, NULL, n, out);
	cJSON_Delete(n);
	if (rc == 0) {
		/* recorded as a patch, as the apiserver sees it */
		cJSON *last = cJSON_GetArrayItem(f->actions, cJSON_GetArraySize(f->actions) - 1);
		if (last)
			cJSON_DeleteItemFromArray(f->actions, cJSON_GetArraySize(f->actions) - 1);
		action(f, "patch", resource, ns, name, NULL);
	}
	return rc;
}

/* The strategic-merge patch of metadata.ownerReferences the controllers send
 * (ControllerRefManager's adopt/release), with metadata.uid as a precondition, and
 * merge patches (f_merge_patch). */
static int f_patch(cm_api *a, const char *resource, const char *ns, const char *name,
		   enum kc_patch_type type, const cJSON *patch, cJSON **out)
{
	cm_fake *f = FAKE(a, api);
	if (out)
		*out = NULL;
	cJSON *cur = cm_fake_find(f, resource, ns, name);
	if (!cur)
		return KC_ENOTFOUND;
	if (type == KC_PATCH_MERGE)
		return f_merge_patch(f, resource, ns, name, cur, patch, out);
	if (type != KC_PATCH_STRATEGIC)
		return -ENOTSUP;
	const char *uid = kc_json_get_string(patch, "metadata.uid", NULL);
	if (uid && strcmp(uid, kc_meta_uid(cur)))
		return KC_ECONFLICT;
	const cJSON *r;
	cJSON_ArrayForEach(r, kc_json_get(patch, "metadata.ownerReferences"))
	{
		const char *ruid = kc_json_get_string(r, "uid", "");
		if (!strcmp(kc_json_get_string(r, "$patch", ""), "delete")) {
			kc_meta_remove_owner_ref(cur, ruid);
			continue;
		}
		kc_owner_ref o;
		if (kc_meta_owner_ref_read(r, &o) < 0)
			return KC_EINVALID;
		o.controller = kc_json_get_bool(r, "controller", false);
		o.block_owner_deletion = kc_json_get_bool(r, "blockOwnerDeletion", false);
		int rc = kc_meta_add_owner_ref(cur, &o);
		if (rc < 0)
			return rc;
	}
	bump_rv(f, cur);
	action(f, "patch", resource, ns, name, NULL);
	if (out)
		*out = kc_json_dup(cur);
	return 0;
}

static int f_del(cm_api *a, const char *resource, const char *ns, const char *name,
		 const cJSON *opts)
{
	cm_fake *f = FAKE(a, api);
	int idx;
	cJSON *arr = res_array(f->store, resource);
	cJSON *cur = find_in(arr, ns, name, &idx);
	if (!cur)
		return KC_ENOTFOUND;
	const char *puid = kc_json_get_string(opts, "preconditions.uid", NULL);
	if (puid && strcmp(puid, kc_meta_uid(cur)))
		return KC_ECONFLICT;
	snprintf(f->last_propagation, sizeof(f->last_propagation), "%s",
		 kc_json_get_string(opts, "propagationPolicy", ""));
	const char *pp = f->last_propagation;
	if (f->finalize_deletes && (!strcmp(pp, "Foreground") || !strcmp(pp, "Orphan"))) {
		/* as the apiserver: mark with the GC finalizer instead of removing */
		kc_meta_add_finalizer(cur, !strcmp(pp, "Orphan") ? "orphan" : "foregroundDeletion");
		if (!*kc_meta_deletion_timestamp(cur))
			kc_meta_set_deletion_time(cur, kc_now_wall(f->clock));
		bump_rv(f, cur);
		action(f, "delete", resource, ns, name, NULL);
		return 0;
	}
	cJSON_DeleteItemFromArray(arr, idx);
	action(f, "delete", resource, ns, name, NULL);
	return 0;
}

static int f_get_live(cm_api *a, const char *resource, const char *ns, const char *name,
		      cJSON **out)
{
	cm_fake *f = FAKE(a, api);
	if (!name) {
		/* the collection: store and parked writes */
		cJSON *l = cJSON_CreateObject(), *items = cJSON_AddArrayToObject(l, "items"), *o;
		cJSON *srcs[2] = { cJSON_GetObjectItemCaseSensitive(f->store, resource),
				   cJSON_GetObjectItemCaseSensitive(f->pending, resource) };
		for (int i = 0; i < 2; i++)
			cJSON_ArrayForEach(o, srcs[i])
			{
				if (!ns || !*ns || !strcmp(kc_meta_namespace(o), ns))
					cJSON_AddItemToArray(items, kc_json_dup(o));
			}
		*out = l;
		return 0;
	}
	const cJSON *o = cm_fake_find(f, resource, ns ? ns : "", name);
	if (!o)
		o = find_in(cJSON_GetObjectItemCaseSensitive(f->pending, resource), ns ? ns : "",
			    name, NULL);
	*out = o ? kc_json_dup(o) : NULL;
	return o ? 0 : KC_ENOTFOUND;
}

static void f_event(cm_api *a, const cJSON *obj, const char *api_version, const char *kind,
		    const char *type, const char *reason, const char *message)
{
	cm_fake *f = FAKE(a, api);
	cJSON *e = cJSON_CreateObject();
	cJSON_AddStringToObject(e, "type", type);
	cJSON_AddStringToObject(e, "reason", reason);
	cJSON_AddStringToObject(e, "message", message);
	cJSON_AddStringToObject(e, "kind", kind);
	cJSON_AddStringToObject(e, "name", kc_meta_name(obj));
	cJSON_AddItemToArray(f->events, e);
}

int cm_fake_init(cm_fake *f, kc_clock_t *clock)
{
	memset(f, 0, sizeof(*f));
	f->clock = clock;
	f->lister.get = f_get;
	f->lister.list = f_list;
	f->lister.list_filtered = f_list_filtered;
	f->lister.with = f_with;
	f->lister.list_controlled = f_list_controlled;
	f->api.create = f_create;
	f->api.update = f_update;
	f->api.patch = f_patch;
	f->api.del = f_del;
	f->api.get = f_get_live;
	f->api.event = f_event;
	f->writes_visible = true;
	f->store = cJSON_CreateObject();
	f->pending = cJSON_CreateObject();
	f->actions = cJSON_CreateArray();
	f->events = cJSON_CreateArray();
	if (!f->store || !f->pending || !f->actions || !f->events) {
		cm_fake_close(f);
		return -ENOMEM;
	}
	return 0;
}

void cm_fake_close(cm_fake *f)
{
	cJSON_Delete(f->store);
	cJSON_Delete(f->pending);
	cJSON_Delete(f->actions);
	cJSON_Delete(f->events);
	f->store = f->pending = f->actions = f->events = NULL;
}

cJSON *cm_fake_flush(cm_fake *f)
{
	cJSON *out = cJSON_CreateArray();
	cJSON *res;
	cJSON_ArrayForEach(res, f->pending)
	{
		cJSON *o;
		cJSON *dst = res_array(f->store, res->string);
		while ((o = cJSON_DetachItemFromArray(res, 0))) {
			cJSON_AddItemToArray(out, kc_json_dup(o));
			cJSON_AddItemToArray(dst, o);
		}
	}
	return out;
}

int cm_fake_count(const cm_fake *f, const char *prefix)
{
	int n = 0;
	const cJSON *s;
	cJSON_ArrayForEach(s, f->actions)
	{
		if (cJSON_IsString(s) && !strncmp(s->valuestring, prefix, strlen(prefix)))
			n++;
	}
	return n;
}

void cm_fake_clear(cm_fake *f)
{
	cJSON_Delete(f->actions);
	cJSON_Delete(f->events);
	f->actions = cJSON_CreateArray();
	f->events = cJSON_CreateArray();
}

int cm_fake_len(cm_fake *f, const char *resource)
{
	return cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(f->store, resource));
}
