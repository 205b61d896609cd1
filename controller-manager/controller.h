/* The controller framework of kube-controller-manager: the one shape every controller
 * has (STYLE.md rule 6), as upstream's controllers built on client-go:
 *
 *   - a lister (cm_lister) the sync reads from: informer caches in production
 *     (cm_informers_lister), an in-memory fake in unit tests (fake.h);
 *   - an API (cm_api) the sync writes through: kc_client + event recorder in production
 *     (cm_client_api_new), a recording fake in unit tests;
 *   - a cm_controller: a rate-limited workqueue of "namespace/name" keys, N worker
 *     threads (upstream's --concurrent-*-syncs) that call sync(key), requeue with the
 *     per-item exponential backoff when sync fails and forget the key when it succeeds
 *     (processNextWorkItem / handleErr), and per-controller metrics;
 *   - cm_informers: one shared informer per resource (SharedInformerFactory), so the
 *     ReplicaSet and Deployment controllers share one pod/replicaset cache.
 * Controllers never keep state that is not in the cache or the API, except upstream's
 * expectations (cm_expectations), which only guard against acting on a stale cache. */
#ifndef CM_CONTROLLER_H
#define CM_CONTROLLER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "client.h"
#include "clock.h"
#include "events.h"
#include "informer.h"
#include "workqueue.h"

/* apiVersion of a resource the controllers use ("pods" -> "v1", "replicasets" ->
 * "apps/v1", ...); NULL for one the controller-manager does not know. */
const char *cm_resource_api_version(const char *resource);

/* ---- reading: the lister ---- */

/* All objects handed out are deep copies the caller owns. resource is the plural
 * ("pods"). Returns 0, KC_ENOTFOUND (get), -ENOENT for an unknown resource, -ENOMEM. */
typedef struct cm_lister cm_lister;
struct cm_lister {
	int (*get)(cm_lister *l, const char *resource, const char *ns, const char *name,
		   cJSON **out);
	/* a new array of every object of resource in namespace ns */
	int (*list)(cm_lister *l, const char *resource, const char *ns, cJSON **out);
	/* as list, copying only the objects keep (borrowed obj, called under the cache's
	 * read lock: it must not call back into the lister) returns true for, so a sync
	 * does not copy a whole namespace to look at a few objects */
	int (*list_filtered)(cm_lister *l, const char *resource, const char *ns,
			     bool (*keep)(const cJSON *obj, void *arg), void *arg, cJSON **out);
	/* as list_filtered over the objects of namespace ns whose controllerRef uid is one
	 * of the NULL-terminated uids, plus (orphans true) those with no controllerRef;
	 * keep may be NULL (keep all). Production serves it from an index by controller
	 * uid, so a sync does not scan every pod of the namespace (upstream's
	 * ControllerRefManager reads the same set from a namespace lister, in Go). */
	int (*list_controlled)(cm_lister *l, const char *resource, const char *ns,
			       const char *const *uids, bool orphans,
			       bool (*keep)(const cJSON *obj, void *arg), void *arg,
			       cJSON **out);
	/* call fn(obj, arg) with the named object borrowed (no copy: event handlers use
	 * it on every event), under the cache's read lock: fn must not call back into the
	 * lister nor block. Returns 0 after fn ran, KC_ENOTFOUND, -ENOENT. */
	int (*with)(cm_lister *l, const char *resource, const char *ns, const char *name,
		    int (*fn)(const cJSON *obj, void *arg), void *arg);
};

/* A keep function for list_filtered: objects controlled by owner_uid, and orphans
 * (no controllerRef) that sel matches -- what an owner may claim. */
typedef struct cm_claimable {
	const char *owner_uid;
	const struct kc_label_selector *sel;
} cm_claimable;
bool cm_keep_claimable(const cJSON *obj, void *arg);
/* A keep function: objects whose controllerRef uid is one of the NULL-terminated
 * uids array passed as arg. */
bool cm_keep_controlled_by_any(const cJSON *obj, void *arg);

/* ---- writing: the API ---- */

/* Every pointer argument is borrowed; *out (may be NULL) receives the server's copy
 * (caller owns). Returns 0 or a client.h error (KC_ENOTFOUND, KC_ECONFLICT, ...). */
typedef struct cm_api cm_api;
struct cm_api {
	/* st (may be NULL) receives the server's Status on failure: its message is what
	 * upstream puts in FailedCreate events and ReplicaFailure conditions */
	int (*create)(cm_api *a, const char *resource, const char *ns, const cJSON *obj,
		      cJSON **out, kc_status *st);
	/* PUT the named object, or its subresource ("status") when sub is non-NULL */
	int (*update)(cm_api *a, const char *resource, const char *ns, const char *name,
		      const char *sub, const cJSON *obj, cJSON **out);
	int (*patch)(cm_api *a, const char *resource, const char *ns, const char *name,
		     enum kc_patch_type type, const cJSON *patch, cJSON **out);
	/* opts: DeleteOptions body or NULL */
	int (*del)(cm_api *a, const char *resource, const char *ns, const char *name,
		   const cJSON *opts);
	/* a live GET from the apiserver, bypassing the cache (the garbage collector's
	 * check that an owner is really gone); ns "" for cluster-scoped resources; name
	 * NULL lists the collection (*out is the List object with "items") */
	int (*get)(cm_api *a, const char *resource, const char *ns, const char *name,
		   cJSON **out);
	/* record an Event about obj (which may lack apiVersion/kind: they are given) */
	void (*event)(cm_api *a, const cJSON *obj, const char *api_version, const char *kind,
		      const char *type, const char *reason, const char *message);
};

/* Production API: client and recorder borrowed, must outlive it. */
int cm_client_api_new(kc_client *client, kc_recorder *rec, cm_api **out);
void cm_client_api_free(cm_api *a);

/* ---- shared informers ---- */

typedef struct cm_informers cm_informers;
/* client borrowed. */
int cm_informers_new(kc_client *client, cm_informers **out);
/* The shared informer of resource (created on first use, cluster-wide); NULL for an
 * unknown resource or ENOMEM, or when called after cm_informers_start. */
kc_informer *cm_informers_get(cm_informers *f, const char *resource);
/* Start every informer created so far. */
int cm_informers_start(cm_informers *f);
/* Wait until all have synced: 0, -ETIMEDOUT, KC_ECLOSED. */
int cm_informers_wait_for_sync(cm_informers *f, int64_t timeout_ms);
void cm_informers_stop(cm_informers *f);
void cm_informers_free(cm_informers *f);
/* A lister over f's caches (owned by f; valid until cm_informers_free). Resources not
 * obtained with cm_informers_get read as -ENOENT. */
cm_lister *cm_informers_lister(cm_informers *f);

/* ---- the controller loop ---- */

/* sync(arg, key): 0 when done (the key's failure count is forgotten); negative to have
 * the key requeued with rate-limited backoff (upstream handleErr). */
typedef int (*cm_sync_fn)(void *arg, const char *key);

typedef struct cm_controller cm_controller;

typedef struct cm_controller_opts {
	const char *name;  /* copied; "replicaset", "deployment": metric label and logs */
	int workers;       /* worker threads started by cm_controller_start; 0 = 1 */
	kc_clock_t *clock; /* borrowed; NULL = real */
	cm_sync_fn sync;
	void *arg;
	int max_retries;   /* give up on a key after this many failures (upstream 15); 0 =
			    * retry forever */
} cm_controller_opts;

int cm_controller_new(const cm_controller_opts *opts, cm_controller **out);
/* Stops the workers if running, then frees. NULL is fine. */
void cm_controller_free(cm_controller *c);
const char *cm_controller_name(const cm_controller *c);

/* Queue a key (borrowed). c may be NULL (no-op), so unit tests can run handlers
 * without a queue. */
void cm_controller_enqueue(cm_controller *c, const char *key);
void cm_controller_enqueue_after(cm_controller *c, const char *key, int64_t delay_ns);
/* Queue obj's cache key ("ns/name"). */
void cm_controller_enqueue_obj(cm_controller *c, const cJSON *obj);

/* Take one ready key, sync it, handle the result. 1 when a key was processed, 0 when
 * none was ready (never blocks), KC_ECLOSED once shut down. For tests and workers. */
int cm_controller_process_one(cm_controller *c);
/* Keys ready now. */
size_t cm_controller_len(cm_controller *c);

/* Start the worker threads / shut the queue down and join them. */
int cm_controller_start(cm_controller *c);
void cm_controller_stop(cm_controller *c);

/* Append this controller's metrics in Prometheus text format to *buf (a malloc'd
 * string grown as needed; *buf may be NULL). upstream names: workqueue_depth,
 * workqueue_adds_total, workqueue_retries_total, workqueue_work_duration_seconds
 * (histogram), all labelled name="<controller>". Returns 0 or -ENOMEM. */
int cm_controller_metrics(cm_controller *c, char **buf, size_t *len);

/* Snapshot for tests. */
typedef struct cm_controller_stats {
	uint64_t syncs, errors, depth, adds, retries;
} cm_controller_stats;
void cm_controller_get_stats(cm_controller *c, cm_controller_stats *st);

/* ---- expectations (controller_utils.go ControllerExpectations) ----
 *
 * After a sync asks for N creations, the controller waits until the informer has
 * shown it N new pods (or 5 minutes pass) before it computes a diff again, so a
 * lagging cache cannot make it create the same pods twice. Thread-safe. */
#define CM_EXPECTATIONS_TTL_NS (300 * KC_NSEC_PER_SEC)

typedef struct cm_expectations cm_expectations;
int cm_expectations_new(kc_clock_t *clock, cm_expectations **out);
void cm_expectations_free(cm_expectations *e);
/* Set (replace) the expectations of key. */
int cm_expectations_expect(cm_expectations *e, const char *key, int adds, int dels);
void cm_expectations_creation_observed(cm_expectations *e, const char *key);
void cm_expectations_deletion_observed(cm_expectations *e, const char *key);
/* Lower the pending creations by n (pods that were never created). */
void cm_expectations_lower(cm_expectations *e, const char *key, int adds, int dels);
/* True when key has no expectations, they are fulfilled, or they expired. */
bool cm_expectations_satisfied(cm_expectations *e, const char *key);
void cm_expectations_delete(cm_expectations *e, const char *key);

/* ---- helpers shared by the controllers ---- */

/* Split "ns/name" into ns and name buffers; -EINVAL when malformed. */
int cm_split_key(const char *key, char *ns, size_t nslen, char *name, size_t namelen);
/* The integer at path or def (kc_json_item_int64; never valuedouble). */
int64_t cm_int(const cJSON *obj, const char *path, int64_t def);
/* podutil.IsPodReady: condition Ready is "True". */
bool cm_pod_ready(const cJSON *pod);
/* lastTransitionTime of the Ready condition in ns, 0 when unknown. */
int64_t cm_pod_ready_time(const cJSON *pod);
/* podutil.IsPodAvailable: ready, and for minReadySeconds > 0 ready since at least that
 * long at now_wall_ns. */
bool cm_pod_available(const cJSON *pod, int64_t min_ready_s, int64_t now_wall_ns);
/* controller.IsPodActive: phase neither Succeeded nor Failed, no deletionTimestamp. */
bool cm_pod_active(const cJSON *pod);
/* Replace the members of object dst with those of src (taken, freed), in place, so
 * pointers to dst stay valid. */
void cm_json_replace(cJSON *dst, cJSON *src);
/* Drop null, [] and {} members recursively. Go decodes them to the zero value and
 * apimachinery's semantic DeepEqual treats nil and empty maps/slices alike (kubectl
 * sends "creationTimestamp": null inside templates), so equal objects compare equal
 * after this. */
void cm_json_normalize(cJSON *obj);
/* a and b (borrowed, NULL reads as {}) equal after cm_json_normalize of copies. */
bool cm_json_normalized_equal(const cJSON *a, const cJSON *b);
/* Sort the items of array arr in place with cmp (called on cJSON ** elements). */
void cm_json_sort_array(cJSON *arr, int (*cmp)(const void *, const void *));
/* A condition of type in status.conditions, or NULL. */
cJSON *cm_condition(const cJSON *obj, const char *type);

#endif
