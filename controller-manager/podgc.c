/* The pod garbage collector (see podgc.h). */
#include "podgc.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"
#include "json.h"
#include "log.h"
#include "meta.h"

int podgc_controller_init(podgc_controller *pc, cm_lister *lister, cm_api *api,
			  kc_clock_t *clock, int threshold)
{
	memset(pc, 0, sizeof(*pc));
	pc->lister = lister;
	pc->api = api;
	pc->clock = clock ? clock : kc_clock_real();
	pc->threshold = threshold;
	return 0;
}

static bool terminated(const cJSON *pod)
{
	const char *ph = kc_json_get_string(pod, "status.phase", "");
	return !strcmp(ph, "Succeeded") || !strcmp(ph, "Failed");
}

static int force_delete(podgc_controller *pc, const cJSON *pod, const char *why)
{
	cJSON *opts = cJSON_CreateObject();
	if (!opts)
		return -ENOMEM;
	cJSON_AddNumberToObject(opts, "gracePeriodSeconds", 0);
	cJSON_AddStringToObject(cJSON_AddObjectToObject(opts, "preconditions"), "uid",
				kc_meta_uid(pod));
	int rc = pc->api->del(pc->api, "pods", kc_meta_namespace(pod), kc_meta_name(pod), opts);
	cJSON_Delete(opts);
	kc_info("podgc: deleting %s pod %s/%s: %s", why, kc_meta_namespace(pod), kc_meta_name(pod),
		rc < 0 ? kc_strerror(rc) : "ok");
	return rc == KC_ENOTFOUND || rc == KC_ECONFLICT ? 0 : rc;
}

static int cmp_created(const void *a, const void *b)
{
	const cJSON *pa = *(const cJSON *const *)a, *pb = *(const cJSON *const *)b;
	int c = strcmp(kc_meta_creation_timestamp(pa), kc_meta_creation_timestamp(pb));
	if (c)
		return c;
	c = strcmp(kc_meta_namespace(pa), kc_meta_namespace(pb));
	return c ? c : strcmp(kc_meta_name(pa), kc_meta_name(pb));
}

/* Upstream gcTerminated. */
static int gc_terminated(podgc_controller *pc, const cJSON *pods)
{
	if (pc->threshold <= 0)
		return 0;
	int n = 0;
	const cJSON *p;
	cJSON_ArrayForEach(p, pods)
	{
		if (terminated(p) && !*kc_meta_deletion_timestamp(p))
			n++;
	}
	if (n <= pc->threshold)
		return 0;
	const cJSON **v = calloc((size_t)n, sizeof(*v));
	if (!v)
		return -ENOMEM;
	int i = 0;
	cJSON_ArrayForEach(p, pods)
	{
		if (terminated(p) && !*kc_meta_deletion_timestamp(p))
			v[i++] = p;
	}
	qsort(v, (size_t)n, sizeof(*v), cmp_created);
	int del = n - pc->threshold, first_err = 0;
	kc_info("podgc: garbage collecting %d terminated pods (threshold %d)", del, pc->threshold);
	for (i = 0; i < del; i++) {
		int rc = force_delete(pc, v[i], "terminated");
		if (rc < 0 && !first_err)
			first_err = rc;
	}
	free(v);
	return first_err;
}

/* Upstream markFailedAndDeletePod for a pod whose node is gone. */
static int gc_orphan(podgc_controller *pc, const cJSON *pod)
{
	if (!terminated(pod)) {
		cJSON *n = kc_json_dup(pod);
		char ts[KC_TIME_BUFLEN];
		kc_meta_time_format(kc_now_wall(pc->clock), ts, sizeof(ts));
		kc_json_set_string(n, "status.phase", "Failed");
		cJSON *conds = kc_json_get(n, "status.conditions");
		if (!cJSON_IsArray(conds)) {
			conds = cJSON_CreateArray();
			kc_json_set(n, "status.conditions", conds);
		}
		cJSON *c = cJSON_CreateObject();
		cJSON_AddStringToObject(c, "type", "DisruptionTarget");
		cJSON_AddStringToObject(c, "status", "True");
		cJSON_AddStringToObject(c, "reason", "DeletionByPodGC");
		cJSON_AddStringToObject(c, "message", "PodGC: node no longer exists");
		cJSON_AddStringToObject(c, "lastTransitionTime", ts);
		cJSON_AddItemToArray(conds, c);
		int rc = pc->api->update(pc->api, "pods", kc_meta_namespace(pod), kc_meta_name(pod),
					 "status", n, NULL);
		cJSON_Delete(n);
		if (rc == KC_ENOTFOUND)
			return 0;
		if (rc < 0 && rc != KC_ECONFLICT)
			return rc;
	}
	return force_delete(pc, pod, "orphaned");
}

static bool node_known(const cJSON *nodes, const char *node)
{
	const cJSON *n;
	cJSON_ArrayForEach(n, nodes)
	{
		if (!strcmp(kc_meta_name(n), node))
			return true;
	}
	return false;
}

/* A pod one of the passes below may act on: terminated (gcTerminated), bound to a node
 * not in the cache (gcOrphaned; confirmed live), unscheduled and terminating
 * (gcUnscheduledTerminating). nodes is the node list. */
static bool gc_candidate(const cJSON *pod, void *arg)
{
	const char *node = kc_json_get_string(pod, "spec.nodeName", "");
	if (terminated(pod))
		return true;
	if (!*node)
		return *kc_meta_deletion_timestamp(pod) != 0;
	return !node_known(arg, node);
}

int podgc_sync(void *arg, const char *key)
{
	podgc_controller *pc = arg;
	(void)key;
	cJSON *pods = NULL, *nodes = NULL;
	int rc = pc->lister->list(pc->lister, "nodes", NULL, &nodes);
	/* copy only the pods one of the three passes may act on, not the whole cache */
	if (rc == 0)
		rc = pc->lister->list_filtered(pc->lister, "pods", NULL, gc_candidate, nodes,
					       &pods);
	if (rc < 0) {
		cJSON_Delete(nodes);
		return rc;
	}
	int first_err = gc_terminated(pc, pods);
	const cJSON *p;
	cJSON_ArrayForEach(p, pods)
	{
		const char *node = kc_json_get_string(p, "spec.nodeName", "");
		int e = 0;
		if (!*node) {
			if (*kc_meta_deletion_timestamp(p))
				e = force_delete(pc, p, "unscheduled terminating");
		} else {
			if (!node_known(nodes, node)) {
				/* the cache may lag a new node: ask the apiserver */
				cJSON *live = NULL;
				e = pc->api->get(pc->api, "nodes", "", node, &live);
				cJSON_Delete(live);
				if (e == KC_ENOTFOUND)
					e = gc_orphan(pc, p);
			}
		}
		if (e < 0 && !first_err)
			first_err = e;
	}
	cJSON_Delete(pods);
	cJSON_Delete(nodes);
	cm_controller_enqueue_after(pc->ctrl, PODGC_KEY, PODGC_PERIOD_NS);
	return first_err;
}

static void on_node_delete(const cJSON *obj, int final_state_unknown, void *arg)
{
	podgc_controller *pc = arg;
	(void)obj;
	(void)final_state_unknown;
	cm_controller_enqueue(pc->ctrl, PODGC_KEY);
}

int podgc_controller_register(podgc_controller *pc, cm_informers *f)
{
	kc_informer *ni = cm_informers_get(f, "nodes");
	kc_informer *pi = cm_informers_get(f, "pods");
	if (!ni || !pi)
		return -ENOMEM;
	kc_informer_handlers h = { NULL, NULL, on_node_delete, pc };
	int rc = kc_informer_add_handlers(ni, &h);
	cm_controller_enqueue(pc->ctrl, PODGC_KEY);
	return rc;
}
