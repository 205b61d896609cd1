/* ControllerRefManager (upstream pkg/controller/controller_ref_manager.go): an owner
 * claims the children its selector matches. For every candidate child:
 *   - controlled by owner and matching: kept;
 *   - controlled by owner, not matching: released (the ownerReference is removed with
 *     a strategic-merge PATCH) unless the owner is being deleted;
 *   - orphan, matching, neither side being deleted: adopted (PATCH adding
 *     {apiVersion, kind, name, uid, controller: true, blockOwnerDeletion: true});
 *   - controlled by someone else: ignored.
 * Both patches carry metadata.uid as a precondition, as upstream's. Upstream re-reads
 * the owner from the API before adopting (canAdopt); we trust the cache copy. */
#ifndef CM_CONTROLLER_REF_H
#define CM_CONTROLLER_REF_H

#include <cjson/cJSON.h>

#include "controller.h"
#include "labels.h"

typedef struct cm_owner {
	const cJSON *obj;        /* the owner (borrowed) */
	const char *api_version; /* "apps/v1" */
	const char *kind;        /* "ReplicaSet" */
} cm_owner;

/* Claim among children (a borrowed array of objects of child_resource). Returns in
 * *claimed a new array of copies of the claimed children (adopted ones carry their new
 * ownerReference). Returns 0, or the first error from the API (the claim is then
 * partial, as upstream's aggregated error; the caller retries). */
int cm_claim(cm_api *api, const char *child_resource, const cm_owner *owner,
	     const kc_label_selector *sel, const cJSON *children, cJSON **claimed);

/* The controllerRef of obj if it names kind (e.g. "ReplicaSet"), else NULL. */
const cJSON *cm_controller_ref_of_kind(const cJSON *obj, const char *kind);

#endif
