/* The TTL-after-finished controller (upstream
 * pkg/controller/ttlafterfinished/ttlafterfinished_controller.go).
 *
 * A Job with spec.ttlSecondsAfterFinished whose Complete or Failed condition is True is
 * deleted ttlSecondsAfterFinished seconds after that condition's lastTransitionTime, as
 * read on the injected clock; before that the key is requeued for the remaining time.
 * Before deleting, the Job is read live from the apiserver (the cache may be stale: the
 * TTL may have been changed or removed) and the DELETE carries a uid precondition.
 * Propagation is Background, as this project's issue asks (upstream 1.32 sends
 * Foreground so the Job disappears after its pods); the garbage collector deletes the
 * pods either way. Jobs being deleted are skipped. */
#ifndef CM_TTLAFTERFINISHED_H
#define CM_TTLAFTERFINISHED_H

#include "controller.h"

typedef struct ttl_controller {
	cm_lister *lister;   /* borrowed */
	cm_api *api;         /* borrowed */
	kc_clock_t *clock;   /* borrowed */
	cm_controller *ctrl; /* NULL in unit tests */
	int64_t last_requeue_ns; /* delay of the last requeue asked by sync (tests), 0 none */
} ttl_controller;

/* lister, api and clock (NULL = real) borrowed. */
int ttl_controller_init(ttl_controller *tc, cm_lister *lister, cm_api *api, kc_clock_t *clock);
/* cm_sync_fn; key is the Job's "ns/name" */
int ttl_sync(void *arg, const char *key);
int ttl_controller_register(ttl_controller *tc, cm_informers *f);

#endif
