/* The EndpointSlice controller (upstream pkg/controller/endpointslice and
 * staging/src/k8s.io/endpointslice reconciler), first cut.
 *
 * For every Service with a selector (not ExternalName) it keeps discovery.k8s.io/v1
 * EndpointSlices labelled kubernetes.io/service-name=<svc> and
 * endpointslice.kubernetes.io/managed-by=endpointslice-controller.k8s.io, owned by the
 * Service, named by generateName "<svc>-". One endpoint per pod with an IP that may be in
 * endpoints (not Succeeded/Failed per restartPolicy): addresses [podIP], conditions
 * ready (publishNotReadyAddresses or ready and not terminating), serving (ready),
 * terminating (deletionTimestamp), nodeName, targetRef, hostname (pod hostname with
 * subdomain == service name). Ports from the Service ports resolved per pod (numeric
 * targetPort, or a named container port); pods whose ports resolve differently go to
 * different slices; at most max_endpoints (100) per slice; a Service with no endpoints
 * keeps one empty placeholder slice. The `kubernetes` Service has no selector and is left
 * to the apiserver.
 *
 * Differences from upstream, on purpose for this milestone: slices are rebuilt from a
 * sorted desired state (upstream minimises churn and packs new endpoints into existing
 * slices), IPv4 only (IPv6/dual-stack address types not produced), no zone/hints (nodes
 * are not read), no trigger-time annotation. A deleted Service's slices are deleted here
 * too (written before garbagecollector.c existed; upstream leaves it to the GC, and the
 * two agree: whichever is first, the other finds nothing).
 *
 * Own writes vs a lagging cache (upstream endpointSliceTracker, endpointslice_tracker.h):
 * every slice this controller creates or updates is recorded with the resourceVersion it
 * got back, every slice it deletes is marked "deletion expected"; a sync whose slice
 * cache does not yet show those writes returns -EAGAIN (upstream's "EndpointSlice
 * informer cache is out of date") and is retried with backoff, so a Service gets one
 * placeholder (or one copy of each data slice), never two. Slice events caused by the
 * controller's own writes do not requeue the Service (ShouldSync). Existing slices are
 * reused before new ones are created (upstream's reconciler "prioritize updating
 * existing slices"): a placeholder turns into the first data slice in place. */
#ifndef CM_ENDPOINTSLICE_H
#define CM_ENDPOINTSLICE_H

#include "controller.h"
#include "endpointslice_tracker.h"

#define EPS_SERVICE_NAME_LABEL "kubernetes.io/service-name"
#define EPS_MANAGED_BY_LABEL "endpointslice.kubernetes.io/managed-by"
#define EPS_CONTROLLER_NAME "endpointslice-controller.k8s.io"
#define EPS_MAX_ENDPOINTS 100

typedef struct eps_controller {
	cm_lister *lister;   /* borrowed */
	cm_api *api;         /* borrowed */
	cm_controller *ctrl; /* NULL in unit tests */
	int max_endpoints;   /* --max-endpoints-per-slice, 100 */
	est_tracker tracker; /* the slices this controller wrote */
	uint64_t stale_syncs; /* syncs refused for a stale cache (upstream's "stale" sync
			       * metric label) */
} eps_controller;

/* 0, or -ENOMEM/-errno (tracker mutex). Pair with eps_controller_close. */
int eps_controller_init(eps_controller *ec, cm_lister *lister, cm_api *api);
/* Frees the tracker; lister, api and ctrl are not touched. */
void eps_controller_close(eps_controller *ec);
/* cm_sync_fn; key is the Service's "ns/name" */
int eps_sync(void *arg, const char *key);
int eps_controller_register(eps_controller *ec, cm_informers *f);

void eps_on_service(const cJSON *obj, void *arg);
void eps_on_service_update(const cJSON *old_obj, const cJSON *new_obj, void *arg);
void eps_on_service_delete(const cJSON *obj, int final_state_unknown, void *arg);
void eps_on_pod_add(const cJSON *pod, void *arg);
void eps_on_pod_update(const cJSON *old_pod, const cJSON *new_pod, void *arg);
void eps_on_pod_delete(const cJSON *pod, int final_state_unknown, void *arg);
void eps_on_slice(const cJSON *obj, void *arg);
void eps_on_slice_update(const cJSON *old_obj, const cJSON *new_obj, void *arg);
void eps_on_slice_delete(const cJSON *obj, int final_state_unknown, void *arg);

#endif
