/* TaintToleration (plugins/tainttoleration).
 * Filter: the first NoSchedule/NoExecute taint the pod does not tolerate rejects the node,
 * "node(s) had untolerated taint {key: value}" (FindMatchingUntoleratedTaint).
 * Score: the number of PreferNoSchedule taints not tolerated by the pod's tolerations
 * whose effect is PreferNoSchedule or empty, normalised reversed (fewer is better). */
#include <stdio.h>
#include <string.h>

#include "json.h"
#include "framework.h"

static void filter(sched_cycle *cy, void *state, const sched_node_info *ni, sched_status *st)
{
	(void)state;
	const cJSON *taint;
	cJSON_ArrayForEach(taint, ni->taints)
	{
		const char *eff = kc_json_get_string(taint, "effect", "");
		if (strcmp(eff, "NoSchedule") != 0 && strcmp(eff, "NoExecute") != 0)
			continue;
		if (sched_tolerations_tolerate(cy->pod->tolerations, taint))
			continue;
		char reason[SCHED_REASON_LEN];
		snprintf(reason, sizeof(reason), "node(s) had untolerated taint {%s: %s}",
			 kc_json_get_string(taint, "key", ""),
			 kc_json_get_string(taint, "value", ""));
		sched_status_set(st, SCHED_UNSCHEDULABLE_UNRESOLVABLE, reason);
		return;
	}
}

static int64_t score(sched_cycle *cy, void *state, const sched_node_info *ni)
{
	(void)state;
	int64_t n = 0;
	const cJSON *taint;
	cJSON_ArrayForEach(taint, ni->taints)
	{
		if (strcmp(kc_json_get_string(taint, "effect", ""), "PreferNoSchedule") != 0)
			continue;
		bool tol = false;
		const cJSON *t;
		cJSON_ArrayForEach(t, cy->pod->tolerations)
		{
			const char *e = kc_json_get_string(t, "effect", "");
			if ((!*e || strcmp(e, "PreferNoSchedule") == 0) &&
			    sched_toleration_tolerates(t, taint)) {
				tol = true;
				break;
			}
		}
		if (!tol)
			n++;
	}
	return n;
}

static void normalize(sched_cycle *cy, void *state, int64_t *scores, int n)
{
	(void)cy;
	(void)state;
	sched_default_normalize(SCHED_MAX_NODE_SCORE, true, scores, n);
}

/* no node carries a taint: every node counts 0 and normalises to 100 */
static bool score_uniform(sched_cycle *cy, void *state, sched_node_info **nodes, int n)
{
	(void)cy;
	(void)state;
	for (int i = 0; i < n; i++)
		if (cJSON_GetArraySize(nodes[i]->taints) > 0)
			return false;
	return true;
}

const sched_plugin sched_plugin_taint_toleration = {
	.name = "TaintToleration",
	.default_weight = 3,
	.filter = filter,
	.score = score,
	.normalize = normalize,
	.score_uniform = score_uniform,
};
