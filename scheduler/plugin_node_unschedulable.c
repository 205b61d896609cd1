/* NodeUnschedulable (plugins/nodeunschedulable): a cordoned node (spec.unschedulable)
 * only takes pods that tolerate node.kubernetes.io/unschedulable:NoSchedule. */
#include <stddef.h>

#include "framework.h"

static void filter(sched_cycle *cy, void *state, const sched_node_info *ni, sched_status *st)
{
	(void)state;
	if (!ni->unschedulable)
		return;
	cJSON *taint = cJSON_CreateObject();
	bool tolerated = false;
	if (taint) {
		cJSON_AddStringToObject(taint, "key", "node.kubernetes.io/unschedulable");
		cJSON_AddStringToObject(taint, "effect", "NoSchedule");
		tolerated = sched_tolerations_tolerate(cy->pod->tolerations, taint);
		cJSON_Delete(taint);
	}
	if (!tolerated)
		sched_status_set(st, SCHED_UNSCHEDULABLE_UNRESOLVABLE, "node(s) were unschedulable");
}

const sched_plugin sched_plugin_node_unschedulable = {
	.name = "NodeUnschedulable",
	.filter = filter,
};
