/* The node lifecycle controller (upstream pkg/controller/nodelifecycle) with the
 * NoExecute taint eviction of upstream's taint-eviction-controller
 * (pkg/controller/tainteviction), first cut.
 *
 * sync(node), for each node, every --node-monitor-period and on node/Lease changes:
 *   - heartbeat = the latest of the node's Lease (kube-node-lease/<node>) renewTime and
 *     the Ready condition's lastHeartbeatTime (creationTimestamp when it has neither);
 *   - older than --node-monitor-grace-period (50 s): Ready, MemoryPressure, DiskPressure
 *     and PIDPressure become Unknown with reason NodeStatusUnknown and message
 *     "Kubelet stopped posting node status." (NodeStatusNeverUpdated / "Kubelet never
 *     posted node status." for a missing condition), event NodeNotReady;
 *   - a node not Ready has its pods marked not Ready (MarkPodsNotReady);
 *   - taints follow Ready: Unknown -> node.kubernetes.io/unreachable, False ->
 *     node.kubernetes.io/not-ready, each NoSchedule and NoExecute (timeAdded set);
 *     True -> both removed;
 *   - eviction: a pod on the node that does not tolerate one of its NoExecute taints is
 *     deleted now; one that tolerates all for a while (tolerationSeconds) is deleted
 *     once the earliest timeAdded + tolerationSeconds passes (event
 *     TaintManagerEviction "Marking for deletion Pod <ns>/<name>").
 * Differences from upstream: staleness compares heartbeat timestamps with this
 * process's wall clock (upstream remembers when it observed each heartbeat, which
 * tolerates clock skew between hosts); the eviction deadline starts at the taint's
 * timeAdded (a NoExecute taint without timeAdded counts as added long ago), not at
 * the moment this process first saw it; no zone-based rate limiting of evictions,
 * no --node-startup-grace-period (a node that never posted status gets the same grace
 * period from its creation). */
#ifndef CM_NODELIFECYCLE_H
#define CM_NODELIFECYCLE_H

#include <stdbool.h>
#include <stdint.h>

#include "controller.h"

#define NL_TAINT_UNREACHABLE "node.kubernetes.io/unreachable"
#define NL_TAINT_NOT_READY "node.kubernetes.io/not-ready"
#define NL_LEASE_NAMESPACE "kube-node-lease"
#define NL_DEFAULT_GRACE_NS (50 * KC_NSEC_PER_SEC)
#define NL_DEFAULT_PERIOD_NS (5 * KC_NSEC_PER_SEC)

typedef struct nl_controller {
	cm_lister *lister;   /* borrowed */
	cm_api *api;         /* borrowed */
	kc_clock_t *clock;   /* borrowed */
	cm_controller *ctrl; /* NULL in unit tests */
	int64_t grace_ns;    /* --node-monitor-grace-period */
	int64_t period_ns;   /* --node-monitor-period */
} nl_controller;

/* Pointers borrowed; clock NULL = real. Grace and period take the defaults. */
int nl_controller_init(nl_controller *nc, cm_lister *lister, cm_api *api, kc_clock_t *clock);
/* cm_sync_fn; key is the node name */
int nl_sync(void *arg, const char *key);
int nl_controller_register(nl_controller *nc, cm_informers *f);

/* v1.Toleration.ToleratesTaint: both borrowed JSON objects. */
bool nl_tolerates(const cJSON *toleration, const cJSON *taint);

void nl_on_node(const cJSON *obj, void *arg);
void nl_on_node_update(const cJSON *old_obj, const cJSON *new_obj, void *arg);
void nl_on_lease(const cJSON *obj, void *arg);
void nl_on_lease_update(const cJSON *old_obj, const cJSON *new_obj, void *arg);
void nl_on_pod(const cJSON *obj, void *arg);
void nl_on_pod_update(const cJSON *old_obj, const cJSON *new_obj, void *arg);

#endif
