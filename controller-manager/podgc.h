/* The pod garbage collector (upstream pkg/controller/podgc/gc_controller.go).
 *
 * One key ("podgc"), synced every PODGC_PERIOD (upstream gcCheckPeriod, 20 s) and when a
 * node is deleted:
 *   - terminated pods (phase Succeeded or Failed) beyond --terminated-pod-gc-threshold
 *     (12500; 0 or less disables it) are deleted, oldest creationTimestamp first;
 *   - orphaned pods, bound to a node that no longer exists (checked with a live GET, as
 *     upstream's quarantine re-check), are marked Failed with a DisruptionTarget
 *     condition (reason DeletionByPodGC) and force-deleted (gracePeriodSeconds 0);
 *   - unscheduled pods being deleted (no nodeName, deletionTimestamp set) are
 *     force-deleted.
 * Differences from upstream: no 40 s quarantine before an orphaned pod is deleted (the
 * live GET of the node stands in for it), terminated pods are ordered by creation time
 * only (upstream puts evicted ones first). */
#ifndef CM_PODGC_H
#define CM_PODGC_H

#include "controller.h"

#define PODGC_KEY "podgc"
#define PODGC_PERIOD_NS (20 * KC_NSEC_PER_SEC)
#define PODGC_DEFAULT_THRESHOLD 12500

typedef struct podgc_controller {
	cm_lister *lister;   /* borrowed */
	cm_api *api;         /* borrowed */
	kc_clock_t *clock;   /* borrowed */
	cm_controller *ctrl; /* NULL in unit tests */
	int threshold;       /* --terminated-pod-gc-threshold */
} podgc_controller;

int podgc_controller_init(podgc_controller *pc, cm_lister *lister, cm_api *api,
			  kc_clock_t *clock, int threshold);
/* cm_sync_fn; any key runs the whole pass */
int podgc_sync(void *arg, const char *key);
/* Register on the nodes and pods informers and queue the first pass. */
int podgc_controller_register(podgc_controller *pc, cm_informers *f);

#endif
