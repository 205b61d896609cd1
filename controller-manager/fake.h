/* In-memory test doubles for the controller interfaces (controller.h): a lister over a
 * JSON "cache" and a recording API over the same objects, so each controller's sync
 * runs in unit tests without an apiserver. Not used by the daemon.
 *
 * Objects live per resource in one store. By default writes through the API are
 * visible to the lister at once; with writes_visible = false they are parked until
 * cm_fake_flush, which plays an informer catching up (tests of expectations).
 * Every write is logged as a line in `actions`:
 *   "create pods ns/name", "update replicasets ns/name", "update replicasets ns/name
 *   status", "patch pods ns/name", "delete pods ns/name"
 * and every event as {"type","reason","message","kind","name"} in `events`.
 * api.get reads the store and the parked writes (the "server" state).
 * An update (or a merge patch, which carries metadata.resourceVersion as a precondition)
 * that leaves an object with deletionTimestamp and no finalizers removes it.
 * Refused creates (fail_creates, fail_from) answer 403 with the message
 * `<resource> "<name or generateName>" is forbidden: exceeded quota: fake`.
 * Not thread-safe: one test thread drives it. */
#ifndef CM_FAKE_H
#define CM_FAKE_H

#include <stdbool.h>

#include "controller.h"

typedef struct cm_fake {
	cm_lister lister;
	cm_api api;
	kc_clock_t *clock; /* borrowed: uids, names and timestamps */
	cJSON *store;      /* {"pods":[...], ...} as the lister sees it */
	cJSON *pending;    /* writes not yet visible (writes_visible = false) */
	cJSON *actions;    /* array of strings */
	cJSON *events;     /* array of objects */
	bool writes_visible;
	int fail_creates;  /* the next N creates fail with KC_EFORBIDDEN (quota-like) */
	int fail_from;     /* if > 0, create call number fail_from and later ones fail */
	int create_calls;  /* create calls so far, failed ones included */
	int rv;
	/* propagationPolicy of the last delete ("" when none) */
	char last_propagation[16];
	/* deletes with propagationPolicy Foreground/Orphan mark the object (deletionTimestamp
	 * + finalizer) as the apiserver does instead of removing it */
	bool finalize_deletes;
} cm_fake;

/* clock borrowed, must outlive the fake. */
int cm_fake_init(cm_fake *f, kc_clock_t *clock);
void cm_fake_close(cm_fake *f);
/* Add obj (taken) to the store as if it came from the apiserver: namespace "default",
 * uid, creationTimestamp (the clock's wall time), resourceVersion, generation 1 filled
 * when missing. Returns the stored object (borrowed) or NULL on ENOMEM. */
cJSON *cm_fake_add(cm_fake *f, const char *resource, cJSON *obj);
/* The stored object (borrowed) or NULL. */
cJSON *cm_fake_find(cm_fake *f, const char *resource, const char *ns, const char *name);
/* Make parked writes visible; returns an array (caller owns) of the objects that were
 * created, for feeding to informer handlers. */
cJSON *cm_fake_flush(cm_fake *f);
/* Number of actions starting with prefix ("create pods"). */
int cm_fake_count(const cm_fake *f, const char *prefix);
/* Forget the recorded actions and events. */
void cm_fake_clear(cm_fake *f);
/* Number of objects of resource. */
int cm_fake_len(cm_fake *f, const char *resource);

#endif
