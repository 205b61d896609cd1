/* NodeName (plugins/nodename): a pod that names a node in spec.nodeName fits only there. */
#include <string.h>

#include "framework.h"

static void filter(sched_cycle *cy, void *state, const sched_node_info *ni, sched_status *st)
{
	(void)state;
	const char *want = cy->pod->node_name;
	if (want && *want && strcmp(want, ni->name) != 0)
		sched_status_set(st, SCHED_UNSCHEDULABLE_UNRESOLVABLE,
				 "node(s) didn't match the requested node name");
}

/* spec.nodeName unset: every node matches */
static bool filter_skip(const sched_cycle *cy, void *state)
{
	(void)state;
	return !cy->pod->node_name || !*cy->pod->node_name;
}

const sched_plugin sched_plugin_node_name = {
	.name = "NodeName",
	.filter = filter,
	.filter_skip = filter_skip,
};
