/* Informers: a local, indexed, watch-fed cache of one resource (client-go's
 * SharedIndexInformer = Reflector + Indexer + handlers), on kc_client.
 *
 * A background thread lists the resource (pages of `limit`, following `continue`), then
 * watches from the list's resourceVersion with allowWatchBookmarks=true and a server-side
 * timeoutSeconds of 5-10 minutes (as the reflector). When the watch ends normally it
 * re-watches from the last resourceVersion seen; on 410 Expired/Gone (an ERROR event or
 * the watch request itself) it relists at once; on any other failure it relists after
 * an exponential backoff (backoff_min_ms doubling up to backoff_max_ms, reset once a
 * watch delivered events).
 *
 * The cache is keyed "namespace/name" ("name" for cluster-scoped objects), as
 * cache.MetaNamespaceKeyFunc. A relist replaces the cache and diffs it with the old one:
 * new keys -> on_add, keys in both -> on_update(old, new) (for every object, as upstream's
 * Replace/Sync deltas), keys gone -> on_delete(old, final_state_unknown=1): the deletion
 * happened while we were not watching, so the last state we saw is all there is
 * (upstream's DeletedFinalStateUnknown).
 * Watch events: ADDED/MODIFIED -> on_add or on_update depending on whether the key was
 * cached; DELETED -> on_delete(obj, 0); BOOKMARK only advances the resourceVersion.
 * Periodic resync (resync_ms > 0) calls on_update(obj, obj) for every cached object.
 *
 * Threads and locking: handlers run on the informer's threads, one at a time (never two
 * handler calls at once for one informer), in event order. The objects handed to handlers
 * are borrowed for the call only. Handlers may call the read functions below (get, list,
 * index, foreach) but must not call kc_informer_stop/free. The cache is guarded by a
 * reader-writer lock: any thread may read at any time.
 *
 * Reads: kc_informer_get/list/by_index return deep copies the caller owns. foreach
 * hands out borrowed objects under the read lock (valid only inside the callback; the
 * callback must not block for long nor call into the informer's write paths).
 *
 * Indexes: built-in "namespace" (metadata.namespace), "nodeName" (spec.nodeName, pods),
 * "label" (one "key=value" entry per label); user indexes are added before start with
 * kc_informer_add_index. */
#ifndef KC_INFORMER_H
#define KC_INFORMER_H

#include <stdint.h>

#include <cjson/cJSON.h>

#include "client.h"

typedef struct kc_informer kc_informer;

#define KC_INDEX_NAMESPACE "namespace"
#define KC_INDEX_NODENAME "nodeName"
#define KC_INDEX_LABEL "label"

typedef struct kc_informer_opts {
	const char *path;           /* collection path, e.g. "/api/v1/pods" or
				     * "/api/v1/namespaces/ns/pods" or "/apis/apps/v1/deployments" */
	const char *label_selector; /* optional, unescaped ("app=web,tier!=db") */
	const char *field_selector; /* optional, unescaped ("spec.nodeName=node-1") */
	int64_t resync_ms;          /* 0: no periodic resync */
	int page_size;              /* list limit; default 500; -1 disables pagination */
	int64_t backoff_min_ms;     /* default 800 (reflector's initial backoff) */
	int64_t backoff_max_ms;     /* default 30000 */
	const char *name;           /* for logs; default the path */
	/* client-go's TransformFunc: called on every object (list items and watch events,
	 * DELETED included) before it is cached or handed to handlers, on the informer's
	 * thread; it may strip fields in place to save memory (e.g. metadata.managedFields).
	 * It must keep metadata.name/namespace/resourceVersion and whatever the indexes and
	 * handlers read. NULL: objects are cached as received. */
	void (*transform)(cJSON *obj, void *arg);
	void *transform_arg;
	/* Non-zero: do not build the built-in indexes (KC_INDEX_NAMESPACE, _NODENAME,
	 * _LABEL; kc_informer_by_index on them then returns -ENOENT). For a consumer that
	 * only reads its handlers' events, such as the scheduler, whose 10,000 pending pods
	 * of one namespace would otherwise be re-indexed on every event. */
	int no_default_indexes;
} kc_informer_opts;

typedef struct kc_informer_handlers {
	void (*on_add)(const cJSON *obj, void *arg);
	void (*on_update)(const cJSON *old_obj, const cJSON *new_obj, void *arg);
	/* final_state_unknown: the delete was inferred at relist; obj is the last known state. */
	void (*on_delete)(const cJSON *obj, int final_state_unknown, void *arg);
	void *arg;
} kc_informer_handlers;

/* Keys an index function produces for one object. */
typedef struct kc_index_keys kc_index_keys;
/* Add a key (copied). Returns 0 or -ENOMEM. */
int kc_index_keys_add(kc_index_keys *k, const char *key);
/* An index function: call kc_index_keys_add for every index value of obj (none is fine). */
typedef void (*kc_index_fn)(const cJSON *obj, kc_index_keys *keys, void *arg);

/* c is borrowed and must outlive the informer; opts and its strings are copied. */
int kc_informer_new(kc_client *c, const kc_informer_opts *opts, kc_informer **out);
/* Before start only (-EBUSY after). h is copied; up to 16 handler sets. */
int kc_informer_add_handlers(kc_informer *inf, const kc_informer_handlers *h);
/* Before start only. name is copied; -EEXIST for a duplicate name. */
int kc_informer_add_index(kc_informer *inf, const char *name, kc_index_fn fn, void *arg);
/* Start the background threads. -EBUSY if already started (or stopped). */
int kc_informer_start(kc_informer *inf);
/* Stop and join the threads (idempotent; fine if never started). A list or watch in
 * flight is aborted (within about a second). Returns after the last handler call. The
 * cache stays readable until free; a stopped informer cannot be started again. */
void kc_informer_stop(kc_informer *inf);
/* Stop, then free everything. NULL is fine. */
void kc_informer_free(kc_informer *inf);

/* True once the first full list has been applied (handlers called for it). */
int kc_informer_has_synced(kc_informer *inf);
/* Wait until synced: 0, -ETIMEDOUT after timeout_ms, KC_ECLOSED if stopped first. */
int kc_informer_wait_for_sync(kc_informer *inf, int64_t timeout_ms);
/* The resourceVersion of the last list or event applied ("" before the first list);
 * copied into buf. */
void kc_informer_last_rv(kc_informer *inf, char *buf, size_t len);

/* ---- reads ---- */

/* Deep copy of the object at key ("ns/name" or "name"); 0, KC_ENOTFOUND, -ENOMEM. */
int kc_informer_get(kc_informer *inf, const char *key, cJSON **out);
/* A new cJSON array of deep copies of every object (order unspecified). */
int kc_informer_list(kc_informer *inf, cJSON **out);
/* A new cJSON array of deep copies of the objects whose index `index` holds value.
 * -ENOENT for an unknown index name. */
int kc_informer_by_index(kc_informer *inf, const char *index, const char *value, cJSON **out);
/* Number of cached objects. */
int kc_informer_count(kc_informer *inf);
/* Call fn for every cached object (borrowed, read lock held) until fn returns non-zero,
 * which is then returned. index/value NULL means all objects, else only the index's
 * matches (-ENOENT for an unknown index). */
int kc_informer_foreach(kc_informer *inf, const char *index, const char *value,
			int (*fn)(const cJSON *obj, void *arg), void *arg);

/* The cache key of obj into buf: "ns/name" or "name". -EINVAL without metadata.name,
 * -ENAMETOOLONG if it does not fit. */
int kc_informer_key(const cJSON *obj, char *buf, size_t len);

#endif
