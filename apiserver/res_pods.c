/* core/v1 pods: pkg/registry/core/pod/strategy.go and printers.go printPod. */
#include "resource.h"
#include "pod_print.h"

#include <stdio.h>
#include <string.h>

/* qos.GetPodQOS: BestEffort without any request or limit; Guaranteed when every container
 * has cpu and memory limits equal to its requests; Burstable otherwise. */
static const char *pod_qos(const cJSON *spec)
{
	int any = 0, guaranteed = 1;
	const cJSON *c;
	cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(spec, "containers"))
	{
		const cJSON *req = res_path(c, "resources.requests");
		const cJSON *lim = res_path(c, "resources.limits");
		if (cJSON_GetArraySize(req) || cJSON_GetArraySize(lim))
			any = 1;
		static const char *const rs[] = { "cpu", "memory" };
		for (int i = 0; i < 2; i++) {
			const char *l = res_str(lim, rs[i], NULL), *r = res_str(req, rs[i], NULL);
			/* Requests default to limits when only limits are set. */
			if (!l || (r && strcmp(l, r)))
				guaranteed = 0;
		}
	}
	if (!any)
		return "BestEffort";
	return guaranteed ? "Guaranteed" : "Burstable";
}

int res_pod_not_ready_toleration_s = 300;
int res_pod_unreachable_toleration_s = 300;

static void pod_defaults(cJSON *obj)
{
	cJSON *spec = res_obj(obj, "spec");
	res_pod_spec_defaults(spec);
	/* spec.serviceAccountName is defaulted by ServiceAccount admission on create
	 * (admission_serviceaccount.c), not here, as upstream. */
	/* spec.priority and preemptionPolicy come from Priority admission
	 * (admission_priority.c) on create, as upstream (no defaulting). */
	res_def_num(spec, "enableServiceLinks", 0);
	cJSON *esl = cJSON_GetObjectItemCaseSensitive(spec, "enableServiceLinks");
	if (cJSON_IsNumber(esl))
		cJSON_ReplaceItemInObjectCaseSensitive(spec, "enableServiceLinks", cJSON_CreateTrue());
	/* DefaultTolerationSeconds admission: not-ready/unreachable NoExecute for 300 s
	 * (the two --default-*-toleration-seconds flags). */
	cJSON *tol = cJSON_GetObjectItemCaseSensitive(spec, "tolerations");
	if (!cJSON_IsArray(tol)) {
		cJSON_DeleteItemFromObjectCaseSensitive(spec, "tolerations");
		tol = cJSON_AddArrayToObject(spec, "tolerations");
	}
	static const char *const keys[] = { "node.kubernetes.io/not-ready",
					     "node.kubernetes.io/unreachable" };
	for (int k = 0; k < 2; k++) {
		int have = 0;
		const cJSON *t;
		cJSON_ArrayForEach(t, tol)
		{
			if (!strcmp(res_str(t, "key", ""), keys[k]))
				have = 1;
		}
		if (have)
			continue;
		cJSON *t2 = cJSON_CreateObject();
		cJSON_AddStringToObject(t2, "key", keys[k]);
		cJSON_AddStringToObject(t2, "operator", "Exists");
		cJSON_AddStringToObject(t2, "effect", "NoExecute");
		cJSON_AddNumberToObject(t2, "tolerationSeconds",
					k ? res_pod_unreachable_toleration_s : res_pod_not_ready_toleration_s);
		cJSON_AddItemToArray(tol, t2);
	}
	cJSON *st = res_obj(obj, "status");
	res_def_str(st, "phase", "Pending");
	res_def_str(st, "qosClass", pod_qos(spec));
}

static void pod_validate(const cJSON *obj, const cJSON *old, res_errs *e)
{
	cJSON *spec = cJSON_GetObjectItemCaseSensitive(obj, "spec");
	res_pod_spec_validate(spec, "spec", e);
	if (old) {
		/* Pod updates may not change the containers' set (ValidatePodUpdate), nor nodeName
		 * once set; the message mirrors the start of upstream's. */
		const char *on = res_str(old, "spec.nodeName", ""), *nn = res_str(obj, "spec.nodeName", "");
		if (on[0] && strcmp(on, nn))
			res_err(e, "FieldValueForbidden", "spec",
				"Forbidden: pod updates may not change fields other than "
				"`spec.containers[*].image`,`spec.initContainers[*].image`,"
				"`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to "
				"existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to "
				"be set to 1 if it was previously negative)");
	}
}

static const res_col pod_cols[] = {
	{ "Name", "string", "name", 0 },    { "Ready", "string", "", 0 },
	{ "Status", "string", "", 0 },      { "Restarts", "string", "", 0 },
	{ "Age", "string", "", 0 },         { "IP", "string", "", 1 },
	{ "Node", "string", "", 1 },        { "Nominated Node", "string", "", 1 },
	{ "Readiness Gates", "string", "", 1 },
};

/* printPod lives in pod_print.c. */
static void pod_row(const cJSON *obj, cJSON *cells, int64_t now)
{
	pod_print_row(obj, cells, now);
}

/* pod.ToSelectableFields */
static const char *pod_field(const cJSON *obj, const char *path, char *buf, size_t n)
{
	static const char *const f[] = { "spec.nodeName", "spec.restartPolicy", "spec.schedulerName",
					 "spec.serviceAccountName", "status.phase", "status.podIP",
					 "status.nominatedNodeName", NULL };
	for (int i = 0; f[i]; i++)
		if (!strcmp(path, f[i]))
			return res_str(obj, path, "");
	if (!strcmp(path, "spec.hostNetwork")) {
		snprintf(buf, n, "%s", cJSON_IsTrue(res_path(obj, path)) ? "true" : "false");
		return buf;
	}
	return NULL;
}

const res_desc res_pods = {
	.group = "", .version = "v1", .kind = "Pod", .list_kind = "PodList", .plural = "pods",
	.singular = "pod", .short_names = { "po" }, .categories = { "all" }, .namespaced = 1,
	.has_status = 1, .binding = 1, .defaults = pod_defaults, .validate = pod_validate,
	.cols = pod_cols, .ncols = 9, .row = pod_row, .field = pod_field,
};
