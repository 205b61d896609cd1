/* NodeResourcesFit (plugins/noderesources/fit.go, least_allocated.go).
 * Filter (fitsRequest): pod count, then cpu, memory, ephemeral-storage and scalar
 * resources against allocatable minus what the node's pods request; every shortfall is a
 * reason ("Too many pods", "Insufficient cpu", "Insufficient <name>"). A request larger
 * than the node's whole allocatable cannot be fixed by preemption (Unresolvable).
 * Score by scoringStrategy (default LeastAllocated, cpu and memory weight 1):
 *   LeastAllocated  (alloc - requested) * 100 / alloc
 *   MostAllocated   requested * 100 / alloc
 *   RequestedToCapacityRatio  the shape's broken-line function of utilization
 * weighted-averaged over the configured resources, with requested counting containers
 * without requests as 100m / 200Mi. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "framework.h"

static void insufficient(sched_status *st, const char *reason, bool unresolvable)
{
	if (st->code == SCHED_SUCCESS)
		st->code = SCHED_UNSCHEDULABLE;
	if (unresolvable)
		st->code = SCHED_UNSCHEDULABLE_UNRESOLVABLE;
	sched_status_add_reason(st, reason);
}

static int cmp_scalar_name(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void filter(sched_cycle *cy, void *state, const sched_node_info *ni, sched_status *st)
{
	(void)state;
	const sched_resource *req = &cy->pod->req;
	const sched_resource *alloc = &ni->allocatable, *used = &ni->requested;
	if ((int64_t)ni->npods + 1 > alloc->allowed_pods)
		insufficient(st, "Too many pods", false);
	if (req->milli_cpu == 0 && req->memory == 0 && req->ephemeral == 0 && req->nscalar == 0)
		return;
	if (req->milli_cpu > 0 && req->milli_cpu > alloc->milli_cpu - used->milli_cpu)
		insufficient(st, "Insufficient cpu", req->milli_cpu > alloc->milli_cpu);
	if (req->memory > 0 && req->memory > alloc->memory - used->memory)
		insufficient(st, "Insufficient memory", req->memory > alloc->memory);
	if (req->ephemeral > 0 && req->ephemeral > alloc->ephemeral - used->ephemeral)
		insufficient(st, "Insufficient ephemeral-storage", req->ephemeral > alloc->ephemeral);
	/* scalar resources in name order (upstream iterates a map; sorted is stable) */
	const char *names[SCHED_MAX_SCALAR];
	int n = 0;
	for (int i = 0; i < req->nscalar; i++)
		if (req->scalar[i].value > 0)
			names[n++] = req->scalar[i].name;
	qsort(names, (size_t)n, sizeof(names[0]), cmp_scalar_name);
	for (int i = 0; i < n; i++) {
		int64_t want = sched_resource_scalar(req, names[i]);
		int64_t cap = sched_resource_scalar(alloc, names[i]);
		if (want > cap - sched_resource_scalar(used, names[i])) {
			char reason[SCHED_REASON_LEN];
			snprintf(reason, sizeof(reason), "Insufficient %s", names[i]);
			insufficient(st, reason, want > cap);
		}
	}
}

static int64_t least_requested(int64_t requested, int64_t capacity)
{
	if (capacity == 0 || requested > capacity)
		return 0;
	return (capacity - requested) * SCHED_MAX_NODE_SCORE / capacity;
}

static int64_t most_requested(int64_t requested, int64_t capacity)
{
	if (capacity == 0)
		return 0;
	if (requested > capacity)
		requested = capacity; /* more than allocatable still scores the maximum */
	return requested * SCHED_MAX_NODE_SCORE / capacity;
}

/* buildBrokenLinearFunction over the shape (scores 0-10 scaled to 0-100) */
static int64_t broken_linear(const sched_fit_args *a, int64_t p)
{
	for (int i = 0; i < a->nshape; i++) {
		if (p <= a->shape[i].utilization) {
			if (i == 0)
				return a->shape[0].score * 10;
			int64_t du = a->shape[i].utilization - a->shape[i - 1].utilization;
			int64_t s0 = a->shape[i - 1].score * 10, s1 = a->shape[i].score * 10;
			return s0 + (s1 - s0) * (p - a->shape[i - 1].utilization) / (du ? du : 1);
		}
	}
	return a->nshape ? a->shape[a->nshape - 1].score * 10 : 0;
}

/* calculateResourceAllocatableRequest: cpu and memory count the scoring defaults
 * (NonZeroRequested); a scalar resource the pod does not request is skipped. */
static void alloc_req(const sched_cycle *cy, const sched_node_info *ni, const char *name,
		      int64_t *alloc, int64_t *req)
{
	const sched_pod *p = cy->pod;
	*alloc = *req = 0;
	if (!strcmp(name, "cpu")) {
		*alloc = ni->allocatable.milli_cpu;
		*req = ni->nonzero_cpu + p->nonzero_cpu;
	} else if (!strcmp(name, "memory")) {
		*alloc = ni->allocatable.memory;
		*req = ni->nonzero_mem + p->nonzero_mem;
	} else if (!strcmp(name, "ephemeral-storage")) {
		*alloc = ni->allocatable.ephemeral;
		*req = ni->requested.ephemeral + p->req.ephemeral;
	} else if (sched_resource_scalar(&p->req, name) > 0) {
		*alloc = sched_resource_scalar(&ni->allocatable, name);
		*req = sched_resource_scalar(&ni->requested, name) + sched_resource_scalar(&p->req, name);
	}
}

static int64_t score(sched_cycle *cy, void *state, const sched_node_info *ni)
{
	(void)state;
	const sched_fit_args *a = &cy->profile->fit;
	int64_t sum = 0, weights = 0;
	for (int i = 0; i < a->nresources; i++) {
		int64_t alloc, req, s;
		alloc_req(cy, ni, a->resources[i].name, &alloc, &req);
		if (alloc == 0)
			continue;
		switch (a->strategy) {
		case SCHED_FIT_MOST_ALLOCATED:
			s = most_requested(req, alloc);
			break;
		case SCHED_FIT_REQUESTED_TO_CAPACITY_RATIO:
			s = broken_linear(a, req > alloc ? 100 : req * 100 / alloc);
			/* RequestedToCapacityRatio only averages resources that score > 0 */
			if (s <= 0)
				continue;
			break;
		default:
			s = least_requested(req, alloc);
		}
		sum += s * a->resources[i].weight;
		weights += a->resources[i].weight;
	}
	if (weights == 0)
		return 0;
	if (a->strategy == SCHED_FIT_REQUESTED_TO_CAPACITY_RATIO)
		return (int64_t)llround((double)sum / (double)weights);
	return sum / weights;
}

const sched_plugin sched_plugin_node_resources_fit = {
	.name = "NodeResourcesFit",
	.default_weight = 1,
	.filter = filter,
	.score = score,
};
