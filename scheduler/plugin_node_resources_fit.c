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
#include <errno.h>
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

/* Sort the (few, distinct) scalar names of a request: an insertion sort, since
 * qsort's setup costs more than sorting the zero or one names nearly every pod has,
 * and this runs on every node of every cycle. */
static void sort_names(const char **names, int n)
{
	for (int i = 1; i < n; i++) {
		const char *v = names[i];
		int j = i - 1;
		for (; j >= 0 && strcmp(names[j], v) > 0; j--)
			names[j + 1] = names[j];
		names[j + 1] = v;
	}
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
	sort_names(names, n);
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

/* What each configured resource of the profile scores, resolved by name once per cycle
 * (pre_score) rather than by string compares on every node. */
typedef enum fit_kind {
	FIT_NONE = 0, /* a scalar resource the pod does not request: skipped */
	FIT_CPU,
	FIT_MEMORY,
	FIT_EPHEMERAL,
	FIT_SCALAR,
} fit_kind;

typedef struct fit_score {
	fit_kind kind[SCHED_FIT_MAX_RESOURCES];
	const char *scalar[SCHED_FIT_MAX_RESOURCES]; /* FIT_SCALAR: the pod's interned name */
	int64_t pod_scalar[SCHED_FIT_MAX_RESOURCES]; /* FIT_SCALAR: the pod's request */
} fit_score;

static void fit_resolve(const sched_cycle *cy, fit_score *fs)
{
	const sched_fit_args *a = &cy->profile->fit;
	const sched_pod *p = cy->pod;
	memset(fs, 0, sizeof(*fs));
	for (int i = 0; i < a->nresources && i < SCHED_FIT_MAX_RESOURCES; i++) {
		const char *name = a->resources[i].name;
		if (!strcmp(name, "cpu")) {
			fs->kind[i] = FIT_CPU;
		} else if (!strcmp(name, "memory")) {
			fs->kind[i] = FIT_MEMORY;
		} else if (!strcmp(name, "ephemeral-storage")) {
			fs->kind[i] = FIT_EPHEMERAL;
		} else {
			for (int j = 0; j < p->req.nscalar; j++)
				if (p->req.scalar[j].value > 0 && !strcmp(p->req.scalar[j].name, name)) {
					fs->kind[i] = FIT_SCALAR;
					fs->scalar[i] = p->req.scalar[j].name;
					fs->pod_scalar[i] = p->req.scalar[j].value;
					break;
				}
		}
	}
}

static int pre_score(sched_cycle *cy, sched_node_info **nodes, int n, void **state)
{
	(void)nodes;
	(void)n;
	fit_score *fs = malloc(sizeof(*fs));
	if (!fs)
		return -ENOMEM;
	fit_resolve(cy, fs);
	*state = fs;
	return 0;
}

/* calculateResourceAllocatableRequest: cpu and memory count the scoring defaults
 * (NonZeroRequested); a scalar resource the pod does not request is skipped. */
static void alloc_req(const sched_cycle *cy, const fit_score *fs, int i,
		      const sched_node_info *ni, int64_t *alloc, int64_t *req)
{
	const sched_pod *p = cy->pod;
	switch (fs->kind[i]) {
	case FIT_CPU:
		*alloc = ni->allocatable.milli_cpu;
		*req = ni->nonzero_cpu + p->nonzero_cpu;
		break;
	case FIT_MEMORY:
		*alloc = ni->allocatable.memory;
		*req = ni->nonzero_mem + p->nonzero_mem;
		break;
	case FIT_EPHEMERAL:
		*alloc = ni->allocatable.ephemeral;
		*req = ni->requested.ephemeral + p->req.ephemeral;
		break;
	case FIT_SCALAR:
		*alloc = sched_resource_scalar(&ni->allocatable, fs->scalar[i]);
		*req = sched_resource_scalar(&ni->requested, fs->scalar[i]) + fs->pod_scalar[i];
		break;
	default:
		*alloc = *req = 0;
	}
}

static int64_t score(sched_cycle *cy, void *state, const sched_node_info *ni)
{
	/* without PreScore's state, resolve here (as upstream's Score falling back to
	 * calculatePodResourceRequestList when the cycle state has none) */
	fit_score local;
	const fit_score *fs = state;
	if (!fs) {
		fit_resolve(cy, &local);
		fs = &local;
	}
	const sched_fit_args *a = &cy->profile->fit;
	int64_t sum = 0, weights = 0;
	for (int i = 0; i < a->nresources && i < SCHED_FIT_MAX_RESOURCES; i++) {
		int64_t alloc, req, s;
		alloc_req(cy, fs, i, ni, &alloc, &req);
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
	.pre_score = pre_score,
	.score = score,
	.free_state = free,
};
