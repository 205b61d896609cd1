/* The namespace controller (see namespace.h). */
#include "namespace.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"
#include "json.h"
#include "log.h"
#include "meta.h"

/* Namespaced kinds kubec's apiserver serves; events last so the deletions' own events
 * do not keep the namespace non-empty for long (upstream deletes in discovery order). */
const char *const ns_kinds[] = {
	"deployments", "replicasets", "statefulsets", "daemonsets", "jobs",
	"controllerrevisions", "horizontalpodautoscalers", "poddisruptionbudgets",
	"pods", "services", "endpoints", "endpointslices", "ingresses", "configmaps",
	"serviceaccounts", "persistentvolumeclaims", "resourcequotas", "leases", NULL,
};

int ns_controller_init(ns_controller *nc, cm_lister *lister, cm_api *api, kc_clock_t *clock)
{
	memset(nc, 0, sizeof(*nc));
	nc->lister = lister;
	nc->api = api;
	nc->clock = clock ? clock : kc_clock_real();
	return 0;
}

static bool has_spec_finalizer(const cJSON *ns, const char *fin)
{
	const cJSON *f;
	cJSON_ArrayForEach(f, kc_json_get(ns, "spec.finalizers"))
	{
		if (cJSON_IsString(f) && !strcmp(f->valuestring, fin))
			return true;
	}
	return false;
}

/* Delete every object of resource in ns; *remaining counts those still present
 * (being deleted gracefully, or refused). */
static int delete_all(ns_controller *nc, const char *resource, const char *ns, int *remaining)
{
	cJSON *list = NULL;
	int rc = nc->api->get(nc->api, resource, ns, NULL, &list);
	*remaining = 0;
	if (rc == KC_ENOTFOUND || rc == -ENOENT)
		return 0; /* resource not served: nothing of it can be in ns */
	if (rc < 0)
		return rc;
	const cJSON *o;
	int first_err = 0;
	cJSON_ArrayForEach(o, cJSON_GetObjectItemCaseSensitive(list, "items"))
	{
		(*remaining)++;
		if (*kc_meta_deletion_timestamp(o))
			continue; /* already on its way out */
		cJSON *opts = cJSON_CreateObject();
		cJSON_AddStringToObject(opts, "kind", "DeleteOptions");
		cJSON_AddStringToObject(opts, "apiVersion", "v1");
		cJSON_AddStringToObject(opts, "propagationPolicy", "Background");
		int e = nc->api->del(nc->api, resource, ns, kc_meta_name(o), opts);
		cJSON_Delete(opts);
		kc_log_v(2, "namespace controller: deleting %s %s/%s: %s", resource, ns,
			 kc_meta_name(o), e < 0 ? kc_strerror(e) : "ok");
		if (e == 0 || e == KC_ENOTFOUND) {
			/* gone unless it is deleted gracefully: the next pass re-lists */
			continue;
		}
		if (!first_err)
			first_err = e;
	}
	cJSON_Delete(list);
	/* whatever we just deleted without error is re-counted by the next list */
	if (first_err == 0) {
		list = NULL;
		if (nc->api->get(nc->api, resource, ns, NULL, &list) == 0)
			*remaining = cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(list, "items"));
		cJSON_Delete(list);
	}
	return first_err;
}

/* Set the NamespaceContentRemaining condition (upstream's namespace status). */
static void set_content_condition(ns_controller *nc, const cJSON *nsobj, const char *msg)
{
	cJSON *c = cm_condition(nsobj, "NamespaceContentRemaining");
	if (c && !strcmp(kc_json_get_string(c, "message", ""), msg))
		return;
	cJSON *n = kc_json_dup(nsobj);
	if (!n)
		return;
	cJSON *conds = kc_json_get(n, "status.conditions");
	if (!cJSON_IsArray(conds)) {
		conds = cJSON_CreateArray();
		kc_json_set(n, "status.conditions", conds);
	}
	int i = 0;
	cJSON *e;
	cJSON_ArrayForEach(e, conds)
	{
		if (!strcmp(kc_json_get_string(e, "type", ""), "NamespaceContentRemaining"))
			break;
		i++;
	}
	if (e)
		cJSON_DeleteItemFromArray(conds, i);
	char ts[64];
	kc_meta_time_format(kc_now_wall(nc->clock), ts, sizeof(ts));
	cJSON *nc2 = cJSON_CreateObject();
	cJSON_AddStringToObject(nc2, "type", "NamespaceContentRemaining");
	cJSON_AddStringToObject(nc2, "status", "True");
	cJSON_AddStringToObject(nc2, "lastTransitionTime", ts);
	cJSON_AddStringToObject(nc2, "reason", "SomeResourcesRemain");
	cJSON_AddStringToObject(nc2, "message", msg);
	cJSON_AddItemToArray(conds, nc2);
	int rc = nc->api->update(nc->api, "namespaces", "", kc_meta_name(nsobj), "status", n, NULL);
	if (rc < 0)
		kc_log_v(2, "namespace controller: status of %s: %s", kc_meta_name(nsobj),
			 kc_strerror(rc));
	cJSON_Delete(n);
}

int ns_sync(void *arg, const char *key)
{
	ns_controller *nc = arg;
	if (!key || !*key || strchr(key, '/'))
		return 0;
	cJSON *nsobj = NULL;
	int rc = nc->lister->get(nc->lister, "namespaces", "", key, &nsobj);
	if (rc == KC_ENOTFOUND)
		return 0;
	if (rc < 0)
		return rc;
	if (!*kc_meta_deletion_timestamp(nsobj) || !has_spec_finalizer(nsobj, NS_FINALIZER)) {
		cJSON_Delete(nsobj);
		return 0;
	}
	char msg[1024] = "Some resources are remaining: ";
	size_t base = strlen(msg);
	int total = 0, first_err = 0;
	for (int i = 0; ns_kinds[i]; i++) {
		int remaining = 0;
		int e = delete_all(nc, ns_kinds[i], key, &remaining);
		if (e < 0 && !first_err)
			first_err = e;
		if (remaining > 0) {
			size_t l = strlen(msg);
			snprintf(msg + l, sizeof(msg) - l, "%s%s has %d resource instances",
				 l > base ? ", " : "", ns_kinds[i], remaining);
			total += remaining;
		}
	}
	if (first_err < 0) {
		kc_warn("namespace controller: deletion of namespace %s failed: %s", key,
			kc_strerror(first_err));
		cJSON_Delete(nsobj);
		return first_err;
	}
	if (total > 0) {
		set_content_condition(nc, nsobj, msg);
		kc_log_v(2, "namespace controller: namespace %s: %s", key, msg);
		cm_controller_enqueue_after(nc->ctrl, key, NS_RECHECK_NS);
		cJSON_Delete(nsobj);
		return 0;
	}
	/* empty: remove our finalizer through namespaces/<ns>/finalize */
	cJSON *n = kc_json_dup(nsobj);
	cJSON *fins = cJSON_CreateArray();
	const cJSON *f;
	cJSON_ArrayForEach(f, kc_json_get(nsobj, "spec.finalizers"))
	{
		if (cJSON_IsString(f) && strcmp(f->valuestring, NS_FINALIZER))
			cJSON_AddItemToArray(fins, cJSON_CreateString(f->valuestring));
	}
	kc_json_delete(n, "spec.finalizers");
	kc_json_set(n, "spec.finalizers", fins);
	rc = nc->api->update(nc->api, "namespaces", "", key, "finalize", n, NULL);
	cJSON_Delete(n);
	cJSON_Delete(nsobj);
	if (rc == KC_ENOTFOUND) {
		/* the namespace vanished, or this apiserver has no finalize subresource */
		kc_warn("namespace controller: cannot finalize namespace %s: not found (does the "
			"apiserver serve namespaces/finalize?)", key);
		return 0;
	}
	if (rc == 0)
		kc_info("namespace controller: namespace %s emptied and finalized", key);
	return rc;
}

void ns_on_add(const cJSON *obj, void *arg)
{
	ns_controller *nc = arg;
	if (*kc_meta_deletion_timestamp(obj))
		cm_controller_enqueue(nc->ctrl, kc_meta_name(obj));
}

void ns_on_update(const cJSON *old_obj, const cJSON *new_obj, void *arg)
{
	(void)old_obj;
	ns_on_add(new_obj, arg);
}

int ns_controller_register(ns_controller *nc, cm_informers *f)
{
	kc_informer *inf = cm_informers_get(f, "namespaces");
	if (!inf)
		return -ENOMEM;
	kc_informer_handlers h = { ns_on_add, ns_on_update, NULL, nc };
	return kc_informer_add_handlers(inf, &h);
}
