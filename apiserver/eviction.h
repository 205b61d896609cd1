/* pods/eviction and PodDisruptionBudgets (pkg/registry/core/pod/storage/eviction.go). */
#ifndef APISERVER_EVICTION_H
#define APISERVER_EVICTION_H

#include <cjson/cJSON.h>

#include "registry.h"

/* Evicts pod ns/name: checks the PodDisruptionBudget that selects it (429 TooManyRequests
 * "Cannot evict pod as it would violate the pod's disruption budget." when it allows no
 * disruption or its status is stale, 500 when more than one selects the pod), takes one
 * disruption from its status (disruptionsAllowed-1, disruptedPods[name]) and deletes the
 * pod with opts (borrowed DeleteOptions, may be NULL). Returns the HTTP code with *out:
 * a Success Status (201) or a failure Status. */
int evict_pod(reg *r, const char *ns, const char *name, const cJSON *opts, int dry_run,
	      cJSON **out);

#endif
