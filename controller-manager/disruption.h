/* The disruption controller (upstream pkg/controller/disruption/disruption.go): the
 * status of every PodDisruptionBudget, which the apiserver's eviction subresource
 * enforces (status.disruptionsAllowed).
 *
 * For a PDB: the pods of its namespace its spec.selector matches (policy/v1: an empty
 * selector matches every pod, a missing one none); event NoPods "No matching pods found"
 * when there are none.
 *   - maxUnavailable (int or "N%", percentage of expected rounded up):
 *       desiredHealthy = expectedPods - maxUnavailable (not below 0);
 *   - minAvailable int: desiredHealthy = minAvailable, expectedPods = matching pods;
 *   - minAvailable "N%": desiredHealthy = ceil(N * expectedPods / 100).
 * expectedPods for maxUnavailable and percentages is the sum of the scales of the pods'
 * controllers (getExpectedScale: a ReplicaSet counts its Deployment's spec.replicas when
 * it has one, StatefulSets and Deployments their own), each controller once. Difference
 * from upstream, as this project's issue asks: when some pod's controller cannot be
 * resolved (no controllerRef, unknown kind, not in the cache) upstream fails safe
 * (disruptionsAllowed 0, reason SyncFailed); here expectedPods falls back to the number
 * of matching pods, and a Warning event (NoControllerRef / NoControllers) says why.
 * currentHealthy: matching pods Ready and not being deleted, minus those listed in
 * status.disruptedPods (evictions in flight) less than 2 minutes ago; older entries are
 * dropped. disruptionsAllowed = currentHealthy - desiredHealthy, 0 when negative or when
 * expectedPods is 0. Condition DisruptionAllowed: True/SufficientPods or
 * False/InsufficientPods (lastTransitionTime moves only when the status changes).
 * observedGeneration = metadata.generation. The status is written only when it changes. */
#ifndef CM_DISRUPTION_H
#define CM_DISRUPTION_H

#include "controller.h"

/* upstream DeletionTimeout: an eviction not seen through after this is forgotten */
#define PDB_DELETION_TIMEOUT_NS (120 * KC_NSEC_PER_SEC)

typedef struct pdb_controller {
	cm_lister *lister;   /* borrowed */
	cm_api *api;         /* borrowed */
	kc_clock_t *clock;   /* borrowed */
	cm_controller *ctrl; /* NULL in unit tests */
} pdb_controller;

/* lister, api and clock (NULL = real) borrowed. */
int pdb_controller_init(pdb_controller *pc, cm_lister *lister, cm_api *api, kc_clock_t *clock);
/* cm_sync_fn; key is the PDB's "ns/name" */
int pdb_sync(void *arg, const char *key);
/* Register on the poddisruptionbudgets, pods, replicasets, deployments and statefulsets
 * informers. */
int pdb_controller_register(pdb_controller *pc, cm_informers *f);

#endif
