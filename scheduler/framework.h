/* The scheduling framework (upstream pkg/scheduler/framework and schedule_one.go), as pure
 * logic over an in-memory list of sched_node_info: PreFilter/Filter plugins decide which
 * nodes can run a pod, PreScore/Score/NormalizeScore plugins rank the feasible ones, and
 * sched_schedule_pod picks the best (random tie-break from the injected clock).
 *
 * Nothing here talks to the network or reads the wall clock, so every plugin and the
 * FailedScheduling message builder are unit-tested directly.
 *
 * Ownership: the pod and node infos passed in are borrowed for the call. */
#ifndef SCHED_FRAMEWORK_H
#define SCHED_FRAMEWORK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "clock.h"
#include "labels.h"
#include "types.h"

#define SCHED_MAX_NODE_SCORE 100
#define SCHED_MAX_REASONS 6
#define SCHED_REASON_LEN 192

/* framework.Code, the subset used by filters. */
typedef enum sched_code {
	SCHED_SUCCESS = 0,
	SCHED_ERROR,
	SCHED_UNSCHEDULABLE,               /* preemption might help */
	SCHED_UNSCHEDULABLE_UNRESOLVABLE,  /* preemption cannot help */
	SCHED_SKIP,
} sched_code;

/* framework.Status: a code, reasons and the plugin that set it. Plain value type. */
typedef struct sched_status {
	sched_code code;
	const char *plugin;
	int nreasons;
	char reasons[SCHED_MAX_REASONS][SCHED_REASON_LEN];
} sched_status;

void sched_status_set(sched_status *st, sched_code code, const char *reason);
void sched_status_add_reason(sched_status *st, const char *reason);

typedef struct sched_cycle sched_cycle;

/* A policy/v1 PodDisruptionBudget as preemption reads it (pdb.c; upstream
 * filterPodsWithPDBViolation): namespace, selector, status.disruptionsAllowed and
 * status.disruptedPods. Owns its object copy and selector. */
typedef struct sched_pdb {
	cJSON *obj;
	const char *ns, *name;
	kc_label_selector sel;
	bool sel_ok;                 /* false when the selector does not parse: ignored */
	int64_t disruptions_allowed;
	const cJSON *disrupted_pods; /* object keyed by pod name, or NULL */
} sched_pdb;

/* Parse pdb (copied). 0, KC_EINVALID (no name) or -ENOMEM. */
int sched_pdb_init(sched_pdb *p, const cJSON *pdb);
void sched_pdb_close(sched_pdb *p);
/* The PDB covers pod (same namespace, non-empty selector matching its labels) and the
 * pod is not already listed in status.disruptedPods. */
bool sched_pdb_counts(const sched_pdb *p, const sched_pod *pod);

/* A pod nominated to a node by an earlier preemption (upstream's nominator): it has not
 * been bound yet, but filters treat it as running there for pods of lower or equal
 * priority (RunFilterPluginsWithNominatedPods). Both pointers borrowed. */
typedef struct sched_nominated {
	const sched_pod *pod;
	const char *node;
} sched_nominated;

/* A plugin is a table of hooks (any may be NULL). state is per-cycle data made by
 * pre_filter / pre_score and freed by free_state. */
typedef struct sched_plugin {
	const char *name;
	int default_weight; /* upstream's default score weight (0 = not a score plugin) */
	/* Return 0, or a negative error; may set *state (freed with free_state). A status
	 * with a non-success code rejects the pod on every node (PreFilterMsg). */
	int (*pre_filter)(sched_cycle *cy, void **state, sched_status *st);
	void (*filter)(sched_cycle *cy, void *state, const sched_node_info *ni, sched_status *st);
	/* After pre_filter (state is its state): true when filter passes every node whatever
	 * the node, so sched_run_filters does not call it this cycle (upstream's PreFilter
	 * returning Skip: a pod without host ports, node selector/affinity, spread
	 * constraints or pod affinity, in a cluster without anti-affinity). NULL: never
	 * skipped. */
	bool (*filter_skip)(const sched_cycle *cy, void *state);
	int (*pre_score)(sched_cycle *cy, sched_node_info **nodes, int n, void **state);
	int64_t (*score)(sched_cycle *cy, void *state, const sched_node_info *ni);
	void (*normalize)(sched_cycle *cy, void *state, int64_t *scores, int n);
	/* After pre_score (state is pre_score's): true when every one of the n nodes would
	 * get the same normalised score, so score and normalize are not run for them
	 * (upstream's PreScore returning Skip). A score equal on every node adds the same
	 * to every total and cannot change which node wins or which nodes tie. NULL: always
	 * scored. */
	bool (*score_uniform)(sched_cycle *cy, void *state, sched_node_info **nodes, int n);
	void (*free_state)(void *state);
	/* frees pre_score's state when it differs from pre_filter's (NULL: free_state) */
	void (*free_score_state)(void *state);
} sched_plugin;

/* The registry of built-in plugins, in upstream's default profile order. */
extern const sched_plugin sched_plugin_node_unschedulable;
extern const sched_plugin sched_plugin_node_name;
extern const sched_plugin sched_plugin_taint_toleration;
extern const sched_plugin sched_plugin_node_affinity;
extern const sched_plugin sched_plugin_node_ports;
extern const sched_plugin sched_plugin_node_resources_fit;
extern const sched_plugin sched_plugin_pod_topology_spread;
extern const sched_plugin sched_plugin_inter_pod_affinity;
extern const sched_plugin sched_plugin_balanced_allocation;
extern const sched_plugin sched_plugin_image_locality;

/* The known plugins (NULL-terminated) and a lookup by name (NULL when unknown). */
extern const sched_plugin *const sched_all_plugins[];
const sched_plugin *sched_plugin_lookup(const char *name);

#define SCHED_MAX_PLUGINS 16
#define SCHED_FIT_MAX_RESOURCES 8
#define SCHED_FIT_MAX_SHAPE 16

/* NodeResourcesFitArgs.scoringStrategy (apis/config/types_pluginargs.go). */
typedef enum sched_fit_strategy {
	SCHED_FIT_LEAST_ALLOCATED = 0,
	SCHED_FIT_MOST_ALLOCATED,
	SCHED_FIT_REQUESTED_TO_CAPACITY_RATIO,
} sched_fit_strategy;

typedef struct sched_fit_args {
	sched_fit_strategy strategy;
	int nresources; /* default cpu 1, memory 1 */
	struct {
		char name[SCHED_RES_NAME_MAX];
		int64_t weight;
	} resources[SCHED_FIT_MAX_RESOURCES];
	int nshape; /* RequestedToCapacityRatio: utilization 0-100 -> score 0-10 */
	struct {
		int64_t utilization, score;
	} shape[SCHED_FIT_MAX_SHAPE];
} sched_fit_args;

/* A profile: enabled filter and score plugins with weights. */
typedef struct sched_profile {
	char scheduler_name[128];
	const sched_plugin *filters[SCHED_MAX_PLUGINS];
	int nfilters;
	const sched_plugin *scores[SCHED_MAX_PLUGINS];
	int weights[SCHED_MAX_PLUGINS];
	int nscores;
	int percentage_of_nodes_to_score; /* 0 = adaptive */
	sched_fit_args fit; /* pluginConfig NodeResourcesFit args */
} sched_profile;

/* Upstream's default profile ("default-scheduler") with the plugins implemented here. */
void sched_profile_default(sched_profile *p);
/* Enable/disable by name ("*" disables all, as upstream); -ENOENT for an unknown plugin.
 * weight 0 means the plugin's default. For score plugins that also filter (e.g.
 * NodeResourcesFit, TaintToleration, NodeAffinity) the point selects the list. */
int sched_profile_enable(sched_profile *p, bool score_point, const char *name, int weight);
int sched_profile_disable(sched_profile *p, bool score_point, const char *name);

/* State of one scheduling attempt. */
struct sched_cycle {
	const sched_profile *profile;
	const sched_pod *pod;
	sched_node_info **nodes;
	int nnodes;
	void *filter_state[SCHED_MAX_PLUGINS];
	bool filter_skip[SCHED_MAX_PLUGINS]; /* set by sched_cycle_prefilter */
	void *score_state[SCHED_MAX_PLUGINS];
	int total_nodes;
	const sched_nominated *nominated; /* borrowed from sched_state; may be NULL */
	int nnominated;
	const sched_pdb *pdbs;            /* borrowed from sched_state; may be NULL */
	int npdbs;
	/* cluster totals (sched_state), valid when counts_known: a plugin may skip a pass
	 * over every node that cannot find anything */
	bool counts_known;
	int affinity_pods, anti_pods, nodes_with_images;
};

/* Run the profile's filters on one node (stopping at the first failure, as upstream's
 * RunFilterPlugins). pre_filter must have run (sched_cycle_prefilter). */
void sched_run_filters(sched_cycle *cy, const sched_node_info *ni, sched_status *st);
/* Run every plugin's pre_filter; on a rejection st says why and 1 is returned. */
int sched_cycle_prefilter(sched_cycle *cy, sched_status *st);
void sched_cycle_close(sched_cycle *cy);

/* upstream numFeasibleNodesToFind: all nodes under 100; otherwise percentage (profile's,
 * or adaptive 50 - n/125, at least 5) of n, at least 100. */
int sched_num_feasible_nodes_to_find(int percentage, int num_all_nodes);

/* Victims per node are capped: a node needing more is not a preemption candidate. */
#define SCHED_MAX_VICTIMS 256

typedef struct sched_result {
	int node_index;          /* into nodes[], -1 when unschedulable */
	char node_name[256];
	int evaluated_nodes;     /* nodes filtered */
	int feasible_nodes;
	char message[4096];      /* FitError text when unschedulable */
	char plugins[256];       /* rejecting plugins, comma separated (UnschedulablePlugins) */
	bool error;              /* an internal error rather than a fit failure */
	/* Preemption (set only when unschedulable and DefaultPreemption found a node):
	 * the node to nominate and the pods to delete there, highest priority first. The
	 * victims are borrowed from the node infos passed to sched_schedule_pod. */
	char nominated_node[256];
	int nvictims;
	const sched_pod *victims[SCHED_MAX_VICTIMS];
} sched_result;

/* The scheduler's round-robin start (nextStartNodeIndex) between calls. */
typedef struct sched_state {
	int next_start_node_index;
	kc_clock_t *clock; /* randomness for tie-breaking; borrowed */
	/* per-node statuses, reused between calls (no per-cycle allocation) */
	sched_status *statuses;
	int cap;
	/* pods nominated by earlier preemptions (borrowed; the caller keeps them valid for
	 * the sched_schedule_pod call); NULL when none */
	const sched_nominated *nominated;
	int nnominated;
	/* PodDisruptionBudgets for preemption (borrowed like nominated); NULL when none */
	const sched_pdb *pdbs;
	int npdbs;
	/* the cache's cluster totals (sched_cache), when the caller knows them; false (the
	 * zero value) makes plugins look at every node */
	bool counts_known;
	int affinity_pods, anti_pods, nodes_with_images;
	/* per-node scratch of the cycle, reused (cap entries each) */
	sched_node_info **feasible;
	int64_t *total, *scores;
	int *feasible_idx;
} sched_state;

/* Free the reusable buffers (the struct is caller-allocated; zero-initialise it). */
void sched_state_close(sched_state *s);

/* Schedule pod on nodes: filter (from the round-robin start, until enough feasible nodes
 * were found), score, select. On failure the PostFilter (sched_preempt) runs:
 * res->message holds upstream's FitError text (with a "preemption: ..." part when no
 * node can be freed) and res->nominated_node / victims say what to preempt when one can.
 * Nodes see s->nominated pods as upstream's nominator. Returns 0 when a node was
 * chosen, 1 when unschedulable, negative on internal errors (-ENOMEM). */
int sched_schedule_pod(sched_state *s, const sched_profile *prof, const sched_pod *pod,
		       sched_node_info **nodes, int nnodes, sched_result *res);

/* ---- explanations (message.c) ---- */

/* FitError.Error(): "0/N nodes are available: <sorted histogram>." plus
 * pre_filter_msg / post_filter_msg (each may be NULL or ""). statuses[i] is node i's
 * failing status. Writes into buf (truncated, NUL-terminated); returns needed length. */
size_t sched_fit_error_message(char *buf, size_t len, int num_all_nodes,
			       const sched_status *statuses, int nstatuses,
			       const char *pre_filter_msg, const char *post_filter_msg);

/* ---- preemption (preemption.c) ---- */

/* Run the filters on ni as upstream's RunFilterPluginsWithNominatedPods: when pods of
 * priority >= cy->pod's are nominated to ni (other than cy->pod itself), the pod must fit
 * both with them counted and without them. -ENOMEM only on allocation failure (st then
 * says so with SCHED_ERROR). */
void sched_filter_node(sched_cycle *cy, const sched_node_info *ni, sched_status *st);

/* upstream DefaultPreemption PostFilter (framework/preemption and
 * plugins/defaultpreemption): for a pod that fit nowhere, find nodes where removing
 * lower-priority pods makes it fit, keep the minimal victim set per node (all
 * lower-priority pods removed, then reprieved highest priority first while the pod still
 * fits) and pick one node by upstream's pickOneNodeForPreemption order (lowest
 * highest-victim priority, smallest priority sum, fewest victims, latest start of the
 * highest-priority victims), after the fewest PodDisruptionBudget violations (cy->pdbs;
 * victims whose PDB would be violated are reprieved first). statuses[i] is node i's
 * filter status.
 * Returns 1 with res->nominated_node / victims set and buf "" (upstream's PostFilter
 * succeeds without a message), 0 with buf holding upstream's "preemption: ..." text when
 * no node can be made to fit, negative on error. now_ns stands for the start time of
 * pods that have none (upstream GetPodStartTime uses time.Now()). */
int sched_preempt(sched_cycle *cy, const sched_status *statuses, int64_t now_ns,
		  sched_result *res, char *buf, size_t len);

/* helpers shared by plugins */
/* v1.Toleration.ToleratesTaint on JSON objects (both borrowed). */
bool sched_toleration_tolerates(const cJSON *toleration, const cJSON *taint);
/* Any toleration (array, may be NULL) tolerates the taint. */
bool sched_tolerations_tolerate(const cJSON *tolerations, const cJSON *taint);
/* upstream DefaultNormalizeScore. */
void sched_default_normalize(int64_t max_priority, bool reverse, int64_t *scores, int n);

#endif
