/* The garbage collector (upstream pkg/controller/garbagecollector), first cut.
 *
 * It watches every kind in gc_kinds (the kinds kubec serves that carry ownerReferences)
 * and keeps the ownerReference graph true, level-triggered:
 *   - background: a dependent all of whose owners are gone is deleted. "Gone" is
 *     verified with a live GET, as upstream's attemptToDeleteItem/isDangling: an owner
 *     absent from the cache, or present with another uid, is looked up on the apiserver
 *     and only an answer of 404 or a different uid makes it dangling. With some owners
 *     left (solid), references to dangling owners are removed instead.
 *   - foreground: an owner being deleted with the `foregroundDeletion` finalizer gets its
 *     dependents deleted (Foreground again when they have dependents of their own, so
 *     the chain unwinds bottom-up); once no dependent with blockOwnerDeletion=true is
 *     left the finalizer is removed and the apiserver completes the delete.
 *   - orphan: an owner being deleted with the `orphan` finalizer gets its uid removed
 *     from every dependent's ownerReferences, then the finalizer removed.
 * Keys are "<resource>/<namespace>/<name>" (namespace empty for cluster-scoped kinds).
 * Differences from upstream: no uid-indexed graph (dependents are found by scanning the
 * caches of gc_kinds), no discovery of new kinds at runtime (a static table), owners of
 * kinds outside the table are left alone (upstream retries on a RESTMapping error). */
#ifndef CM_GARBAGECOLLECTOR_H
#define CM_GARBAGECOLLECTOR_H

#include <stdbool.h>

#include "controller.h"

typedef struct gc_kind {
	const char *resource, *api_version, *kind;
	bool namespaced;
	bool watched; /* a dependent kind the GC watches (owners may be any kind here) */
} gc_kind;

/* The kind of (apiVersion, kind) or NULL. */
const gc_kind *gc_kind_lookup(const char *api_version, const char *kind);
/* The kind of resource ("pods") or NULL. */
const gc_kind *gc_kind_by_resource(const char *resource);

#define GC_MAX_KINDS 24

typedef struct gc_controller gc_controller;
/* what each informer handler is bound to */
typedef struct gc_binding {
	gc_controller *gc;
	const char *resource;
} gc_binding;

struct gc_controller {
	cm_lister *lister;   /* borrowed */
	cm_api *api;         /* borrowed */
	cm_controller *ctrl; /* NULL in unit tests */
	gc_binding bind[GC_MAX_KINDS];
};

int gc_controller_init(gc_controller *gc, cm_lister *lister, cm_api *api);
/* cm_sync_fn; key "<resource>/<ns>/<name>" */
int gc_sync(void *arg, const char *key);
/* Handlers on every watched kind (arg is the gc_controller; resource bound by the
 * registration). Register the handlers on the shared informers of every watched kind. */
int gc_controller_register(gc_controller *gc, cm_informers *f);
/* Queue the keys gc_sync must look at after obj of resource changed (itself, and on
 * deletion its dependents). deleted: obj is gone. */
void gc_object_changed(gc_controller *gc, const char *resource, const cJSON *obj, bool deleted);

#endif
