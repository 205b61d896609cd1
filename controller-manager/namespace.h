/* The namespace controller (upstream pkg/controller/namespace, NamespacedResourcesDeleter).
 *
 * For a namespace with a deletionTimestamp whose spec.finalizers holds "kubernetes":
 * list every namespaced kind in ns_kinds live from the apiserver and delete each object
 * (propagationPolicy Background, as upstream's deleteCollection); while objects remain
 * (graceful pod deletion, finalizers) set the NamespaceContentRemaining condition and
 * check again later; once empty, PUT /api/v1/namespaces/<ns>/finalize with "kubernetes"
 * removed from spec.finalizers, and the apiserver removes the namespace.
 * kubec's apiserver currently empties and removes a namespace itself on DELETE unless it
 * has metadata.finalizers, and does not serve namespaces/finalize; the controller is
 * correct either way: it finds nothing to do for a namespace already gone, and answers a
 * 404 from /finalize with a warning rather than a retry loop. */
#ifndef CM_NAMESPACE_H
#define CM_NAMESPACE_H

#include "controller.h"

#define NS_FINALIZER "kubernetes"
/* re-check delay while content remains (upstream estimates from grace periods) */
#define NS_RECHECK_NS (2 * KC_NSEC_PER_SEC)

typedef struct ns_controller {
	cm_lister *lister;   /* borrowed */
	cm_api *api;         /* borrowed */
	cm_controller *ctrl; /* NULL in unit tests */
	kc_clock_t *clock;   /* borrowed; condition timestamps */
} ns_controller;

/* The namespaced resources the deleter empties, NULL-terminated. */
extern const char *const ns_kinds[];

int ns_controller_init(ns_controller *nc, cm_lister *lister, cm_api *api, kc_clock_t *clock);
/* cm_sync_fn; key is the namespace name. Returns 0 when done or waiting (a recheck is
 * queued when content remains), negative to retry. */
int ns_sync(void *arg, const char *key);
int ns_controller_register(ns_controller *nc, cm_informers *f);
void ns_on_add(const cJSON *obj, void *arg);
void ns_on_update(const cJSON *old_obj, const cJSON *new_obj, void *arg);

#endif
