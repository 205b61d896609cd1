/* What the EndpointSlice controller expects its informer cache to show, as upstream's
 * EndpointSliceTracker (staging/src/k8s.io/endpointslice/endpointslice_tracker.go).
 *
 * The controller's own writes reach its slice cache only when the watch event arrives.
 * A sync that runs in between (the Service updated, a pod event, a retry) would see no
 * slice where it just created one and create a second placeholder or a duplicate data
 * slice. So every slice the controller creates or updates is recorded here per Service
 * ("ns/name" from the kubernetes.io/service-name label), every slice it deletes is
 * marked "deletion expected", and a sync first asks est_stale_slices: when the cache
 * lacks a recorded slice, shows it older than recorded, or still shows one being
 * deleted, the sync returns an error and is retried later (upstream's
 * StaleInformerCache error), instead of acting on the stale view.
 *
 * Versions: upstream compares metadata.generation. kubec's apiserver does not set or
 * bump generation for EndpointSlices (they have no spec; upstream's strategy bumps it
 * when endpoints, ports or addressType change), so this tracker orders by
 * metadata.resourceVersion, which is the store's mod_revision, a number that grows
 * with every write to the object (as upstream's first tracker, which compared
 * resourceVersions). A resourceVersion that is not a decimal number is never "older".
 *
 * Expiry (kubec addition): a write the cache has not confirmed within EST_TTL_NS (as
 * ControllerExpectations' 5 minutes) no longer makes the cache stale -- e.g. a slice
 * created and deleted by someone else while the watch was relisting never shows up and
 * never sends a delete event, and without the expiry its Service would never sync again.
 *
 * Thread-safe: syncs run on several workers and the handlers on informer threads.
 * Every slice argument is borrowed. */
#ifndef CM_ENDPOINTSLICE_TRACKER_H
#define CM_ENDPOINTSLICE_TRACKER_H

#include <pthread.h>
#include <stdbool.h>

#include <cjson/cJSON.h>

#include "clock.h"

#define EST_BUCKETS 256
#define EST_TTL_NS (300 * KC_NSEC_PER_SEC)

typedef struct est_service est_service; /* one Service's tracked slices */

typedef struct est_tracker {
	pthread_mutex_t mu;
	kc_clock_t *clock; /* borrowed; the expiry's monotonic time */
	est_service *buckets[EST_BUCKETS];
} est_tracker;

/* clock borrowed (NULL: real). 0 or -errno. */
int est_init(est_tracker *t, kc_clock_t *clock);
void est_close(est_tracker *t);

/* Has: slice (by uid) is tracked for its Service. */
bool est_has(est_tracker *t, const cJSON *slice);
/* ShouldSync: an informer event for slice is news to the controller -- the slice is
 * not tracked, or the event shows a newer version than the one the controller wrote.
 * Events of the controller's own writes answer false (no pointless resync). */
bool est_should_sync(est_tracker *t, const cJSON *slice);
/* StaleSlices: slices (a borrowed array: the Service's slices in the cache, without
 * those pending deletion) are older than what the controller wrote for Service ns/name:
 * a tracked slice is missing or older, or a slice expected deleted is still there
 * (writes older than EST_TTL_NS excepted). */
bool est_stale_slices(est_tracker *t, const char *ns, const char *name, const cJSON *slices);
/* Update: record slice (the server's copy after a create or update). 0, -EINVAL for a
 * slice without uid or service-name label, -ENOMEM. */
int est_update(est_tracker *t, const cJSON *slice);
/* ExpectDeletion: the controller deleted slice; it must leave the cache. 0, -EINVAL,
 * -ENOMEM. */
int est_expect_deletion(est_tracker *t, const cJSON *slice);
/* HandleDeletion: the informer saw slice go; forget it. True when the controller
 * expected it (its own delete), false when it was tracked as live, i.e. someone else
 * deleted it and the Service needs a sync. Untracked slices answer false too (kubec
 * deviation: upstream ignores them, but after a controller restart nothing is tracked
 * and a slice deleted by a user should still be put back). */
bool est_handle_deletion(est_tracker *t, const cJSON *slice);
/* DeleteService: forget everything tracked for Service ns/name (the Service is gone). */
void est_delete_service(est_tracker *t, const char *ns, const char *name);
/* Number of slices tracked for ns/name (tests). */
int est_count(est_tracker *t, const char *ns, const char *name);

#endif
