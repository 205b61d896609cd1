/* NodeResourcesBalancedAllocation (plugins/noderesources/balanced_allocation.go):
 * favours nodes whose cpu and memory fractions (requests incl. this pod, over
 * allocatable, capped at 1) are close: score = (1 - stddev) * 100, where for two
 * resources stddev = |f_cpu - f_mem| / 2. Uses the real requests (no 100m/200Mi
 * defaults), as upstream's useRequested. */
#include <math.h>

#include "framework.h"

static int64_t score(sched_cycle *cy, void *state, const sched_node_info *ni)
{
	(void)state;
	double f[2];
	int n = 0;
	if (ni->allocatable.milli_cpu > 0) {
		double v = (double)(ni->requested.milli_cpu + cy->pod->req.milli_cpu) /
			   (double)ni->allocatable.milli_cpu;
		f[n++] = v > 1 ? 1 : v;
	}
	if (ni->allocatable.memory > 0) {
		double v = (double)(ni->requested.memory + cy->pod->req.memory) /
			   (double)ni->allocatable.memory;
		f[n++] = v > 1 ? 1 : v;
	}
	double std = n == 2 ? fabs((f[0] - f[1]) / 2) : 0.0;
	return (int64_t)((1 - std) * (double)SCHED_MAX_NODE_SCORE);
}

const sched_plugin sched_plugin_balanced_allocation = {
	.name = "NodeResourcesBalancedAllocation",
	.default_weight = 1,
	.score = score,
};
