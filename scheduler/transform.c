/* Informer transforms; see transform.h. */
#include "transform.h"

#include <stdbool.h>
#include <string.h>

/* Remove every member of obj (if an object) whose name is not in keep (NULL-terminated). */
static void keep_only(cJSON *obj, const char *const *keep)
{
	if (!cJSON_IsObject(obj))
		return;
	cJSON *c = obj->child;
	while (c) {
		cJSON *next = c->next;
		bool kept = false;
		for (int i = 0; keep[i] && !kept; i++)
			kept = c->string && strcmp(c->string, keep[i]) == 0;
		if (!kept)
			cJSON_Delete(cJSON_DetachItemViaPointer(obj, c));
		c = next;
	}
}

static cJSON *member(cJSON *obj, const char *name)
{
	return cJSON_IsObject(obj) ? cJSON_GetObjectItemCaseSensitive(obj, name) : NULL;
}

/* Re-allocate the members of obj at their exact size, except the one named skip.
 * kc_json_parse gives every string a buffer of at least 64 bytes (an 80-byte malloc
 * chunk for "cpu"); a pod keeps ~40 strings, so a compact copy saves ~2 KB per cached
 * object. cJSON_Duplicate copies keys and values with their exact lengths. On ENOMEM the
 * member stays as it was. */
static void compact(cJSON *obj, const char *skip)
{
	if (!cJSON_IsObject(obj))
		return;
	cJSON *c = obj->child;
	while (c) {
		cJSON *next = c->next;
		if (!(skip && c->string && strcmp(c->string, skip) == 0)) {
			cJSON *d = cJSON_Duplicate(c, 1);
			if (d && !cJSON_ReplaceItemViaPointer(obj, c, d))
				cJSON_Delete(d);
		}
		c = next;
	}
}

/* Compact the whole object but metadata.resourceVersion: the informer reads that string
 * before calling the transform and uses it afterwards (common/informer.c on_event). */
static void compact_object(cJSON *obj)
{
	cJSON *md = member(obj, "metadata");
	compact(obj, "metadata");
	compact(md, "resourceVersion");
}

/* apiVersion and kind are not read either: the informer knows what it lists */
static const char *const top_keys[] = { "metadata", "spec", "status", NULL };

/* Delete obj[name] when it is the string def (the value the readers default to). */
static void drop_default_string(cJSON *obj, const char *name, const char *def)
{
	cJSON *v = member(obj, name);
	if (cJSON_IsString(v) && v->valuestring && strcmp(v->valuestring, def) == 0)
		cJSON_Delete(cJSON_DetachItemViaPointer(obj, v));
}

/* Delete obj[name] when it is an empty object or empty array. */
static void drop_empty(cJSON *obj, const char *name)
{
	cJSON *v = member(obj, name);
	if ((cJSON_IsObject(v) || cJSON_IsArray(v)) && !v->child)
		cJSON_Delete(cJSON_DetachItemViaPointer(obj, v));
}

static void prune_container(cJSON *c)
{
	static const char *const keys[] = { "image", "resources", "ports", "restartPolicy",
					    NULL };
	static const char *const res_keys[] = { "requests", NULL };
	static const char *const port_keys[] = { "hostPort", "hostIP", "protocol", NULL };
	keep_only(c, keys);
	keep_only(member(c, "resources"), res_keys);
	drop_empty(member(c, "resources"), "requests");
	drop_empty(c, "resources");
	cJSON *ports = member(c, "ports");
	if (!cJSON_IsArray(ports))
		return;
	/* NodePorts only looks at ports with a hostPort (types.c pod_ports) */
	cJSON *p = ports->child;
	while (p) {
		cJSON *next = p->next;
		cJSON *hp = member(p, "hostPort");
		if (!cJSON_IsNumber(hp) || hp->valuedouble <= 0)
			cJSON_Delete(cJSON_DetachItemViaPointer(ports, p));
		else
			keep_only(p, port_keys);
		p = next;
	}
	if (!ports->child)
		cJSON_Delete(cJSON_DetachItemViaPointer(c, ports));
}

void sched_transform_pod(cJSON *obj, void *arg)
{
	(void)arg;
	static const char *const meta_keys[] = { "name", "namespace", "uid", "resourceVersion",
						 "labels", "deletionTimestamp", NULL };
	static const char *const spec_keys[] = { "nodeName", "schedulerName", "priority",
						 "preemptionPolicy", "tolerations", "nodeSelector",
						 "affinity", "topologySpreadConstraints", "overhead",
						 "containers", "initContainers", NULL };
	static const char *const status_keys[] = { "phase", "startTime", "nominatedNodeName",
						   NULL };
	if (!cJSON_IsObject(obj))
		return;
	keep_only(obj, top_keys);
	keep_only(member(obj, "metadata"), meta_keys);
	cJSON *spec = member(obj, "spec");
	keep_only(spec, spec_keys);
	cJSON *status = member(obj, "status");
	keep_only(status, status_keys);
	/* values the readers default to anyway (types.c, scheduler.c) */
	cJSON *prio = member(spec, "priority");
	if (cJSON_IsNumber(prio) && prio->valuedouble == 0)
		cJSON_Delete(cJSON_DetachItemViaPointer(spec, prio));
	drop_default_string(spec, "schedulerName", "default-scheduler");
	drop_default_string(spec, "preemptionPolicy", "PreemptLowerPriority");
	/* only a terminal phase is acted on (scheduler.c terminal()) */
	cJSON *phase = member(status, "phase");
	if (cJSON_IsString(phase) && phase->valuestring &&
	    strcmp(phase->valuestring, "Succeeded") != 0 && strcmp(phase->valuestring, "Failed") != 0)
		cJSON_Delete(cJSON_DetachItemViaPointer(status, phase));
	drop_empty(obj, "status");
	static const char *const lists[] = { "containers", "initContainers" };
	for (int l = 0; l < 2; l++) {
		cJSON *c, *arr = member(spec, lists[l]);
		if (cJSON_IsArray(arr))
			cJSON_ArrayForEach(c, arr) prune_container(c);
	}
	compact_object(obj);
}

void sched_transform_node(cJSON *obj, void *arg)
{
	(void)arg;
	static const char *const meta_keys[] = { "name", "uid", "resourceVersion", "labels",
						 NULL };
	static const char *const spec_keys[] = { "unschedulable", "taints", NULL };
	static const char *const status_keys[] = { "allocatable", "images", "conditions", NULL };
	static const char *const cond_keys[] = { "type", "status", NULL };
	if (!cJSON_IsObject(obj))
		return;
	keep_only(obj, top_keys);
	keep_only(member(obj, "metadata"), meta_keys);
	keep_only(member(obj, "spec"), spec_keys);
	cJSON *status = member(obj, "status");
	keep_only(status, status_keys);
	cJSON *c, *conds = member(status, "conditions");
	if (cJSON_IsArray(conds))
		cJSON_ArrayForEach(c, conds) keep_only(c, cond_keys);
	compact_object(obj);
}

void sched_transform_strip_managed(cJSON *obj, void *arg)
{
	(void)arg;
	cJSON *md = member(obj, "metadata");
	if (!cJSON_IsObject(md))
		return;
	cJSON_DeleteItemFromObjectCaseSensitive(md, "managedFields");
	cJSON_DeleteItemFromObjectCaseSensitive(md, "annotations");
}
