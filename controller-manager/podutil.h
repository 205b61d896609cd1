/* Pod helpers shared by the Endpoints and EndpointSlice controllers (upstream
 * pkg/api/v1/pod FindPort and staging endpointslice/util ShouldPodBeInEndpoints). */
#ifndef CM_PODUTIL_H
#define CM_PODUTIL_H

#include <stdbool.h>
#include <stdint.h>

#include <cjson/cJSON.h>

/* ShouldPodBeInEndpoints: the pod has an IP, is not being deleted unless
 * include_terminating, and is not finished for good by its restartPolicy (Never: not
 * Succeeded/Failed; OnFailure: not Succeeded). pod borrowed. */
bool cm_pod_in_endpoints(const cJSON *pod, bool include_terminating);
/* podutil.FindPort: the container port a Service port (sp, borrowed) targets on pod
 * (borrowed): a numeric targetPort (or a string of digits) as is, a name looked up among
 * the containers' ports with the same protocol, the Service port when targetPort is
 * absent; -1 when it does not resolve. */
int64_t cm_pod_find_port(const cJSON *pod, const cJSON *sp);

/* getEndpointPorts: the ports of Service svc resolved for pod (a new array, in the
 * Service's order; ports that do not resolve are skipped): {name, port, protocol,
 * appProtocol}. with_empty_name keeps "name": "" for unnamed ports (EndpointSlice
 * does, Endpoints omits it). */
cJSON *cm_pod_service_ports(const cJSON *svc, const cJSON *pod, bool with_empty_name);

struct cm_lister;
struct cm_controller;
/* getPodServiceMemberships: enqueue (into ctrl; nothing when NULL) every Service of
 * pod's namespace whose non-empty selector matches pod. */
void cm_enqueue_pod_services(struct cm_lister *l, struct cm_controller *ctrl,
			     const cJSON *pod);

#endif
