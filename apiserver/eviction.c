/* Eviction with disruption budgets; see eviction.h. */
#include "eviction.h"

#include <stdio.h>
#include <string.h>

#include "json.h"
#include "labels.h"
#include "meta.h"
#include "status.h"

#define EVICT_MSG "Cannot evict pod as it would violate the pod's disruption budget."
#define EVICT_RETRIES 5

static int pod_ready(const cJSON *pod)
{
	const cJSON *c;
	cJSON_ArrayForEach(c, kc_json_get(pod, "status.conditions"))
	{
		if (!strcmp(kc_json_get_string(c, "type", ""), "Ready"))
			return !strcmp(kc_json_get_string(c, "status", ""), "True");
	}
	return 0;
}

/* 429 with the DisruptionBudget cause, as upstream's createTooManyRequestsError. */
static cJSON *too_many(const char *msg)
{
	cJSON *st = st_new(429, "TooManyRequests", EVICT_MSG);
	cJSON *det = cJSON_AddObjectToObject(st, "details");
	cJSON *causes = cJSON_AddArrayToObject(det, "causes");
	cJSON *c = cJSON_CreateObject();
	cJSON_AddStringToObject(c, "reason", "DisruptionBudget");
	cJSON_AddStringToObject(c, "message", msg);
	cJSON_AddItemToArray(causes, c);
	return st;
}

/* Finds the one PDB selecting pod; 0 with *pdb (NULL when none), or an HTTP code. */
static int find_pdb(reg *r, const char *ns, const cJSON *pod, cJSON **pdb, cJSON **out)
{
	*pdb = NULL;
	cJSON *list = NULL;
	reg_list_opts lo = { 0 };
	int code = reg_list(r, &res_poddisruptionbudgets, ns, &lo, &list);
	if (code != 200) {
		*out = list;
		return code;
	}
	const cJSON *labels = kc_json_get(pod, "metadata.labels");
	const cJSON *it;
	int n = 0;
	cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(list, "items"))
	{
		kc_label_selector sel;
		char err[128];
		const cJSON *js = kc_json_get(it, "spec.selector");
		/* policy/v1: an empty selector matches every pod; a missing one none. */
		if (!cJSON_IsObject(js) || kc_selector_from_json(js, &sel, err, sizeof(err)))
			continue;
		int m = kc_selector_matches(&sel, labels);
		kc_selector_close(&sel);
		if (!m)
			continue;
		if (n++ == 0)
			*pdb = cJSON_Duplicate(it, 1);
	}
	cJSON_Delete(list);
	if (n > 1) {
		cJSON_Delete(*pdb);
		*pdb = NULL;
		*out = st_new(500, "InternalError", "This pod has more than one PodDisruptionBudget, "
						    "which the eviction subresource does not support.");
		return 500;
	}
	return 0;
}

int evict_pod(reg *r, const char *ns, const char *name, const cJSON *opts, int dry_run,
	      cJSON **out)
{
	for (int attempt = 0; attempt < EVICT_RETRIES; attempt++) {
		cJSON *pod = NULL;
		int code = reg_get(r, &res_pods, ns, name, &pod);
		if (code != 200) {
			*out = pod;
			return code;
		}
		const char *phase = kc_json_get_string(pod, "status.phase", "");
		/* canIgnorePDB: finished, pending or already terminating pods. */
		int ignore = !strcmp(phase, "Succeeded") || !strcmp(phase, "Failed") ||
			     !strcmp(phase, "Pending") || kc_json_get(pod, "metadata.deletionTimestamp");
		cJSON *pdb = NULL;
		if (!ignore && (code = find_pdb(r, ns, pod, &pdb, out)) != 0) {
			cJSON_Delete(pod);
			return code;
		}
		int unhealthy_ok = pdb && !pod_ready(pod) &&
				   !strcmp(kc_json_get_string(pdb, "spec.unhealthyPodEvictionPolicy", ""),
					   "AlwaysAllow");
		cJSON_Delete(pod);
		if (pdb && !unhealthy_ok) {
			const char *pname = kc_json_get_string(pdb, "metadata.name", "");
			int64_t gen = kc_json_get_int64(pdb, "metadata.generation", 0);
			int64_t obs = kc_json_get_int64(pdb, "status.observedGeneration", 0);
			int64_t allowed = kc_json_get_int64(pdb, "status.disruptionsAllowed", 0);
			char msg[512];
			if (obs < gen) {
				snprintf(msg, sizeof(msg), "The disruption budget %s is still being "
					 "processed by the server.", pname);
				*out = too_many(msg);
				cJSON_Delete(pdb);
				return 429;
			}
			if (allowed <= 0) {
				snprintf(msg, sizeof(msg), "The disruption budget %s needs %lld healthy "
					 "pods and has %lld currently", pname,
					 (long long)kc_json_get_int64(pdb, "status.desiredHealthy", 0),
					 (long long)kc_json_get_int64(pdb, "status.currentHealthy", 0));
				*out = too_many(msg);
				cJSON_Delete(pdb);
				return 429;
			}
			/* Take the disruption before deleting, as upstream (conflict -> retry). */
			cJSON *st = cJSON_GetObjectItemCaseSensitive(pdb, "status");
			cJSON_ReplaceItemInObjectCaseSensitive(st, "disruptionsAllowed",
							       cJSON_CreateNumber((double)(allowed - 1)));
			cJSON *dp = cJSON_GetObjectItemCaseSensitive(st, "disruptedPods");
			if (!cJSON_IsObject(dp)) {
				cJSON_DeleteItemFromObjectCaseSensitive(st, "disruptedPods");
				dp = cJSON_AddObjectToObject(st, "disruptedPods");
			}
			char ts[40];
			res_fmt_time(kc_now_wall(r->clock) / 1000000000LL, ts, sizeof(ts));
			cJSON_DeleteItemFromObjectCaseSensitive(dp, name);
			cJSON_AddStringToObject(dp, name, ts);
			cJSON *upd = NULL;
			code = reg_update(r, &res_poddisruptionbudgets, ns, pname, pdb, REG_STATUS,
					  dry_run, &upd);
			cJSON_Delete(pdb);
			if (code == 409) {
				cJSON_Delete(upd);
				continue;
			}
			if (code != 200) {
				*out = upd;
				return code;
			}
			cJSON_Delete(upd);
		} else {
			cJSON_Delete(pdb);
		}
		cJSON *del = NULL;
		code = reg_delete(r, &res_pods, ns, name, opts, dry_run, &del);
		if (code != 200) {
			*out = del;
			return code;
		}
		cJSON_Delete(del);
		*out = st_success(201);
		return 201;
	}
	*out = st_conflict(&res_poddisruptionbudgets, "", ST_MODIFIED);
	return 409;
}
