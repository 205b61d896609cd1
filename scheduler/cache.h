/* The scheduler cache (upstream backend/cache): node infos built from the Node informer,
 * the assigned pods accounted on them, and pods the scheduler has assumed onto a node
 * before the binding is seen through the watch (so the next cycle does not double-book).
 *
 * Guarded by one mutex: informer handlers update it, the scheduling loop holds the lock
 * for one sched_schedule_pod call (sched_cache_lock / unlock) and reads nodes[] then.
 * Ownership: objects passed in are borrowed (copied); pods are owned by the cache. */
#ifndef SCHED_CACHE_H
#define SCHED_CACHE_H

#include <pthread.h>
#include <stdbool.h>

#include <cjson/cJSON.h>

#include "strmap.h"
#include "types.h"

typedef struct sched_cache_pod {
	sched_pod *pod; /* its node_name is the node it is accounted on */
	bool assumed;
} sched_cache_pod;

typedef struct sched_cache {
	pthread_mutex_t mu;
	sched_node_info **nodes;
	int nnodes, capnodes;
	sched_cache_pod *pods;
	int npods, cappods;
	sched_strmap node_idx; /* name -> index in nodes */
	sched_strmap pod_idx;  /* "ns/name" -> index in pods */
	/* cluster-wide totals over the node infos, kept as they change, so that a cycle can
	 * skip whole-cluster passes that cannot find anything (upstream's snapshot keeps
	 * HavePodsWithAffinityNodeInfoList / HavePodsWithRequiredAntiAffinityNodeInfoList and
	 * imageStates for the same reason) */
	int affinity_pods;     /* accounted pods with pod (anti-)affinity */
	int anti_pods;         /* ... with required anti-affinity */
	int nodes_with_images; /* nodes reporting status.images */
} sched_cache;

void sched_cache_init(sched_cache *c);
void sched_cache_close(sched_cache *c);
void sched_cache_lock(sched_cache *c);
void sched_cache_unlock(sched_cache *c);

/* Node add/update (copied) and delete by name. */
int sched_cache_upsert_node(sched_cache *c, const cJSON *node);
void sched_cache_remove_node(sched_cache *c, const char *name);
/* An assigned pod (spec.nodeName set) seen through the informer, copied; confirms an
 * assumed pod with the same key. */
int sched_cache_upsert_pod(sched_cache *c, const cJSON *pod);
/* The same, and *known says whether the pod's key was cached (assumed or confirmed)
 * just before, also when pod cannot be cached: one lock instead of
 * sched_cache_has_pod's and upsert's (the scheduling loop holds it through cycles). */
int sched_cache_upsert_pod_known(sched_cache *c, const cJSON *pod, const char *key,
				 bool *known);
void sched_cache_remove_pod(sched_cache *c, const char *key);
/* Assume pod (copied) on node: accounted at once. Call with the lock held. */
int sched_cache_assume_locked(sched_cache *c, const sched_pod *pod, const char *node);
/* Undo an assume whose binding failed (no-op if the pod was confirmed meanwhile). */
void sched_cache_forget(sched_cache *c, const char *key);
/* True while key is assumed and not yet confirmed by the informer. */
bool sched_cache_is_assumed(sched_cache *c, const char *key);
/* True if key is cached (assumed or confirmed). */
bool sched_cache_has_pod(sched_cache *c, const char *key);
/* Counts (take the lock). */
int sched_cache_node_count(sched_cache *c);
int sched_cache_pod_count(sched_cache *c, int *assumed);

#endif
