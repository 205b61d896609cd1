/* sched_api on the REST client: upstream DefaultBinder (POST pods/binding),
 * updatePod's PodScheduled condition patch, and the event recorder. */
#include "api.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"
#include "json.h"
#include "log.h"

/* The binding POST through the poster (poster.h). 1 when it could not be sent that way
 * (the caller uses the client); otherwise the result as kc_client_create gives it, with
 * err set on failure the way do_bind words it. */
static int bind_fast(sched_client_api *a, const kc_ref *ref, const cJSON *b, char *err,
		     size_t errlen)
{
	char path[1024];
	if (kc_client_path(path, sizeof(path), ref) < 0)
		return 1;
	return sched_poster_post_json(a->poster, path, b, NULL, err, errlen);
}

static int do_bind(sched_api *base, const sched_pod *pod, const char *node, char *err,
		   size_t errlen)
{
	sched_client_api *a = (sched_client_api *)base;
	cJSON *b = cJSON_CreateObject();
	if (!b)
		return -ENOMEM;
	cJSON_AddStringToObject(b, "apiVersion", "v1");
	cJSON_AddStringToObject(b, "kind", "Binding");
	cJSON *md = cJSON_AddObjectToObject(b, "metadata");
	cJSON_AddStringToObject(md, "name", pod->name);
	cJSON_AddStringToObject(md, "namespace", pod->ns);
	if (*pod->uid)
		cJSON_AddStringToObject(md, "uid", pod->uid);
	cJSON *t = cJSON_AddObjectToObject(b, "target");
	cJSON_AddStringToObject(t, "apiVersion", "v1");
	cJSON_AddStringToObject(t, "kind", "Node");
	cJSON_AddStringToObject(t, "name", node);
	kc_ref ref = { .api_version = "v1", .resource = "pods", .ns = pod->ns, .name = pod->name,
		       .subresource = "binding" };
	int rc = a->poster ? bind_fast(a, &ref, b, err, errlen) : 1;
	if (rc == 1) {
		kc_status st;
		kc_status_clear(&st);
		rc = kc_client_create(a->client, &ref, b, NULL, &st);
		if (rc != 0)
			snprintf(err, errlen, "%s", *st.message ? st.message : kc_strerror(rc));
	}
	cJSON_Delete(b);
	return rc;
}

static int set_condition(sched_api *base, const sched_pod *pod, const char *reason,
			 const char *message)
{
	sched_client_api *a = (sched_client_api *)base;
	char now[32];
	kc_event_format_time(kc_now_wall(a->clock), now, sizeof(now));
	cJSON *patch = cJSON_CreateObject();
	if (!patch)
		return -ENOMEM;
	cJSON *status = cJSON_AddObjectToObject(patch, "status");
	cJSON *conds = cJSON_AddArrayToObject(status, "conditions");
	cJSON *c = cJSON_CreateObject();
	cJSON_AddItemToArray(conds, c);
	cJSON_AddStringToObject(c, "type", "PodScheduled");
	cJSON_AddStringToObject(c, "status", "False");
	cJSON_AddNullToObject(c, "lastProbeTime");
	cJSON_AddStringToObject(c, "lastTransitionTime", now);
	cJSON_AddStringToObject(c, "reason", reason);
	cJSON_AddStringToObject(c, "message", message);
	kc_ref ref = { .api_version = "v1", .resource = "pods", .ns = pod->ns, .name = pod->name,
		       .subresource = "status" };
	kc_status st;
	kc_status_clear(&st);
	/* strategic merge: conditions merge by type, other conditions are kept */
	int rc = kc_client_patch(a->client, &ref, KC_PATCH_STRATEGIC, patch, NULL, NULL, &st);
	cJSON_Delete(patch);
	if (rc != 0)
		kc_warn("pod %s: updating PodScheduled condition: %s", pod->key,
			*st.message ? st.message : kc_strerror(rc));
	return rc;
}

static void event(sched_api *base, const sched_pod *pod, const char *type, const char *reason,
		  const char *message)
{
	sched_client_api *a = (sched_client_api *)base;
	if (!a->rec)
		return;
	/* the ObjectReference reference.GetReference makes (the pod object itself is not
	 * kept, types.h) */
	cJSON *ref = cJSON_CreateObject();
	if (!ref || !cJSON_AddStringToObject(ref, "kind", "Pod") ||
	    !cJSON_AddStringToObject(ref, "namespace", pod->ns) ||
	    !cJSON_AddStringToObject(ref, "name", pod->name) ||
	    (*pod->uid && !cJSON_AddStringToObject(ref, "uid", pod->uid)) ||
	    !cJSON_AddStringToObject(ref, "apiVersion", "v1") ||
	    (*pod->resource_version &&
	     !cJSON_AddStringToObject(ref, "resourceVersion", pod->resource_version))) {
		cJSON_Delete(ref);
		return;
	}
	int rc = kc_event_record(a->rec, ref, type, reason, "%s", message);
	if (rc != 0)
		kc_log_v(2, "pod %s: event %s dropped: %s", pod->key, reason, kc_strerror(rc));
	cJSON_Delete(ref);
}

/* upstream util.DeletePod for a preemption victim: default grace period, so a running
 * victim terminates as the kubelet sees fit; already gone is fine. */
static int delete_pod(sched_api *base, const sched_pod *pod, char *err, size_t errlen)
{
	sched_client_api *a = (sched_client_api *)base;
	kc_ref ref = { .api_version = "v1", .resource = "pods", .ns = pod->ns, .name = pod->name };
	kc_status st;
	kc_status_clear(&st);
	int rc = kc_client_delete(a->client, &ref, NULL, NULL, &st);
	if (rc == KC_ENOTFOUND)
		return 0;
	if (rc != 0)
		snprintf(err, errlen, "%s", *st.message ? st.message : kc_strerror(rc));
	return rc;
}

/* upstream updatePod with NominatingInfo: status.nominatedNodeName on the preemptor. */
static int set_nominated_node(sched_api *base, const sched_pod *pod, const char *node)
{
	sched_client_api *a = (sched_client_api *)base;
	cJSON *patch = cJSON_CreateObject();
	if (!patch)
		return -ENOMEM;
	cJSON *status = cJSON_AddObjectToObject(patch, "status");
	cJSON_AddStringToObject(status, "nominatedNodeName", node);
	kc_ref ref = { .api_version = "v1", .resource = "pods", .ns = pod->ns, .name = pod->name,
		       .subresource = "status" };
	kc_status st;
	kc_status_clear(&st);
	int rc = kc_client_patch(a->client, &ref, KC_PATCH_STRATEGIC, patch, NULL, NULL, &st);
	cJSON_Delete(patch);
	if (rc != 0)
		kc_warn("pod %s: setting nominatedNodeName %s: %s", pod->key, node,
			*st.message ? st.message : kc_strerror(rc));
	return rc;
}

void sched_client_api_init(sched_client_api *a, kc_client *client, kc_recorder *rec,
			   kc_clock_t *clock)
{
	memset(a, 0, sizeof(*a));
	a->base.bind = do_bind;
	a->base.set_condition = set_condition;
	a->base.event = event;
	a->base.delete_pod = delete_pod;
	a->base.set_nominated_node = set_nominated_node;
	a->client = client;
	a->rec = rec;
	a->clock = clock ? clock : kc_clock_real();
}
