/* NodePorts (plugins/nodeports): a hostPort the pod asks for must be free on the node.
 * As upstream's HostPortInfo.CheckConflict: same protocol and port conflict when either
 * IP is 0.0.0.0 (or empty) or the IPs are equal. */
#include <string.h>

#include "framework.h"

static bool conflict(const sched_host_port *a, const sched_host_port *b)
{
	if (a->port != b->port || strcmp(a->protocol, b->protocol) != 0)
		return false;
	return !*a->ip || !*b->ip || strcmp(a->ip, b->ip) == 0;
}

static void filter(sched_cycle *cy, void *state, const sched_node_info *ni, sched_status *st)
{
	(void)state;
	const sched_pod *pod = cy->pod;
	for (int i = 0; i < pod->nports; i++)
		for (int p = 0; p < ni->npods; p++)
			for (int j = 0; j < ni->pods[p]->nports; j++)
				if (conflict(&pod->ports[i], &ni->pods[p]->ports[j])) {
					sched_status_set(st, SCHED_UNSCHEDULABLE,
							 "node(s) didn't have free ports for the "
							 "requested pod ports");
					return;
				}
}

/* no host port asked for: nothing can conflict */
static bool filter_skip(const sched_cycle *cy, void *state)
{
	(void)state;
	return cy->pod->nports == 0;
}

const sched_plugin sched_plugin_node_ports = {
	.name = "NodePorts",
	.filter = filter,
	.filter_skip = filter_skip,
};
