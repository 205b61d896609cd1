/* Shared pieces of apps/v1 workload descriptors (deployments, replicasets). */
#ifndef APISERVER_RES_WORKLOADS_H
#define APISERVER_RES_WORKLOADS_H

#include "resource.h"

/* Selector required, template labels must match it, pod template validated; as
 * apps validation ValidateDeploymentSpec/ValidateReplicaSetSpec. */
void wl_validate_selector_template(const cJSON *obj, res_errs *e);
/* spec.replicas default 1, pod template defaults. */
void wl_defaults(cJSON *obj);

#endif
