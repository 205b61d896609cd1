/* ImageLocality (plugins/imagelocality): favours nodes that already have the pod's
 * images (Node status.images), weighted by image size and by how many nodes have it
 * (spread = nodes with the image / all nodes, so a node is not favoured for an image
 * every node has), clamped to [23 MiB, 1000 MiB * containers] and scaled to 0-100. */
#include <errno.h>
#include <stdlib.h>

#include <stdio.h>

#include "json.h"
#include "framework.h"

#define MB (1024LL * 1024)
#define MIN_THRESHOLD (23 * MB)
#define MAX_CONTAINER_THRESHOLD (1000 * MB)

typedef struct il_state {
	int nimages;
	const char **names; /* borrowed from the pod (sched_pod_image), valid for the cycle */
	int *num_nodes; /* nodes (of all, not only feasible) holding each image */
	int ncontainers;
} il_state;

static void free_state(void *arg)
{
	il_state *s = arg;
	if (!s)
		return;
	free(s->names);
	free(s->num_nodes);
	free(s);
}

static int pre_score(sched_cycle *cy, sched_node_info **nodes, int n, void **state)
{
	(void)nodes;
	(void)n;
	il_state *s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	const sched_pod *pod = cy->pod;
	int total = pod->ncontainers;
	s->ncontainers = total;
	s->names = calloc((size_t)(total ? total : 1), sizeof(*s->names));
	s->num_nodes = calloc((size_t)(total ? total : 1), sizeof(int));
	if (!s->names || !s->num_nodes) {
		free_state(s);
		return -ENOMEM;
	}
	/* the pod's images were normalised when it was parsed (types.c) */
	for (int i = 0; i < pod->nimages && s->nimages < total; i++)
		s->names[s->nimages++] = sched_pod_image(pod, i);
	/* no node reports images: every count stays 0 without looking (upstream keeps the
	 * per-image node counts in the snapshot's imageStates) */
	int nnodes = cy->counts_known && cy->nodes_with_images == 0 ? 0 : cy->nnodes;
	for (int i = 0; i < s->nimages; i++)
		for (int k = 0; k < nnodes; k++)
			if (cy->nodes[k]->nimages &&
			    sched_node_image_size(cy->nodes[k], s->names[i]) >= 0)
				s->num_nodes[i]++;
	*state = s;
	return 0;
}

static int64_t score(sched_cycle *cy, void *state, const sched_node_info *ni)
{
	il_state *s = state;
	if (!s || s->ncontainers == 0)
		return 0;
	int64_t sum = 0;
	for (int i = 0; i < s->nimages; i++) {
		int64_t size = sched_node_image_size(ni, s->names[i]);
		if (size < 0)
			continue;
		double spread = (double)s->num_nodes[i] / (double)cy->total_nodes;
		sum += (int64_t)((double)size * spread);
	}
	int64_t max = MAX_CONTAINER_THRESHOLD * s->ncontainers;
	if (sum < MIN_THRESHOLD)
		sum = MIN_THRESHOLD;
	else if (sum > max)
		sum = max;
	return SCHED_MAX_NODE_SCORE * (sum - MIN_THRESHOLD) / (max - MIN_THRESHOLD);
}

/* no container, or no node at all holds any of the pod's images: every node sums
 * below the threshold and scores 0 */
static bool score_uniform(sched_cycle *cy, void *state, sched_node_info **nodes, int n)
{
	(void)cy;
	(void)nodes;
	(void)n;
	const il_state *s = state;
	if (!s || s->ncontainers == 0)
		return true;
	for (int i = 0; i < s->nimages; i++)
		if (s->num_nodes[i] > 0)
			return false;
	return true;
}

const sched_plugin sched_plugin_image_locality = {
	.name = "ImageLocality",
	.default_weight = 1,
	.pre_score = pre_score,
	.score = score,
	.score_uniform = score_uniform,
	.free_state = free_state,
};
