/* The ReplicaSet controller (upstream pkg/controller/replicaset/replica_set.go).
 *
 * sync(key) reads the ReplicaSet and the pods of its namespace from the lister, claims
 * pods (controller_ref.h), creates or deletes pods until the active ones match
 * spec.replicas, and writes status through PUT .../replicasets/<name>/status.
 * Creations go in slow-start batches (1, 2, 4, ...; a failure stops the rest), at
 * most burst_replicas (500) per sync, guarded by expectations; deletions pick pods in
 * upstream's order (rs_pod_delete_less). Events: SuccessfulCreate "Created pod: <n>",
 * SuccessfulDelete "Deleted pod: <n>", FailedCreate "Error creating: <err>",
 * FailedDelete "Error deleting: <err>". */
#ifndef CM_REPLICASET_H
#define CM_REPLICASET_H

#include <stdbool.h>

#include "controller.h"

#define RS_BURST_REPLICAS 500
#define RS_SLOW_START_INITIAL_BATCH 1

typedef struct rs_controller {
	cm_lister *lister;    /* borrowed */
	cm_api *api;          /* borrowed */
	kc_clock_t *clock;    /* borrowed */
	cm_expectations *exp; /* owned */
	cm_controller *ctrl;  /* the queue sync is driven by; NULL in unit tests */
	int burst_replicas;
} rs_controller;

/* All pointers borrowed and must outlive rc. */
int rs_controller_init(rs_controller *rc, cm_lister *lister, cm_api *api, kc_clock_t *clock);
void rs_controller_close(rs_controller *rc);

/* The sync function (cm_sync_fn; arg is the rs_controller). */
int rs_sync(void *arg, const char *key);

/* Informer handlers (arg is the rs_controller): they only update expectations and
 * enqueue keys. */
void rs_on_rs_add(const cJSON *obj, void *arg);
void rs_on_rs_update(const cJSON *old_obj, const cJSON *new_obj, void *arg);
void rs_on_rs_delete(const cJSON *obj, int final_state_unknown, void *arg);
void rs_on_pod_add(const cJSON *pod, void *arg);
void rs_on_pod_update(const cJSON *old_pod, const cJSON *new_pod, void *arg);
void rs_on_pod_delete(const cJSON *pod, int final_state_unknown, void *arg);

/* Register the handlers on the shared "replicasets" and "pods" informers. */
int rs_controller_register(rs_controller *rc, cm_informers *f);

/* Upstream ActivePodsWithRanks.Less: true when pod a should be deleted before pod b.
 * rank_* is the number of related active pods on the pod's node; now_ns the wall
 * clock (logarithmic scale-down buckets). */
bool rs_pod_delete_less(const cJSON *a, int rank_a, const cJSON *b, int rank_b,
			int64_t now_ns);

#endif
