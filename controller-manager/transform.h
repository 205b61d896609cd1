/* What the shared informers keep of each object (client-go's TransformFunc, as
 * kube-controller-manager's informer factory sets with WithTransform).
 *
 * Upstream strips metadata.managedFields from every object its informers cache; kubec
 * does that and, because a parsed cJSON object costs far more than Go's structs
 * (a 64-byte node per value plus a malloc'd string per key and value), also:
 *
 *   - keys and a few low-cardinality values ("apiVersion", "kind", "namespace", "phase",
 *     "image", small integers, ...) point into a shared, bounded string pool
 *     (cm_strpool) instead of one allocation each; every other string is re-allocated
 *     at its exact size (the JSON parser reserves at least 64 bytes per string);
 *   - per resource, fields no controller reads are dropped, and only where no
 *     controller writes the cached object back in full (a PUT of a cached copy would
 *     erase what was dropped):
 *       pods: spec keeps nodeName, hostname, subdomain, restartPolicy, tolerations and
 *         the containers' (and init containers') name, ports and restartPolicy
 *         (ReplicaSet/Deployment read metadata and status, the Endpoints/EndpointSlice
 *         controllers podIP, hostname, subdomain, ports and restartPolicy, node
 *         lifecycle nodeName and tolerations, pod GC nodeName; the only writes of a
 *         cached pod are pods/status PUTs, where the apiserver keeps the stored spec);
 *       configmaps other than kube-root-ca.crt, serviceaccounts, persistentvolumeclaims,
 *         daemonsets, controllerrevisions: metadata only (only the garbage collector,
 *         which reads metadata, and the ServiceAccount controller, which reads
 *         existence, watch them: upstream's GC uses metadata-only informers too);
 *       statefulsets: metadata plus spec.replicas and spec.selector (disruption).
 *     Every other resource keeps everything but managedFields.
 *
 * Pooled strings are marked cJSON_StringIsConst (keys) or cJSON_IsReference (string
 * values), so cJSON_Delete leaves them alone and cJSON_Duplicate copies values; keys of
 * copies keep pointing into the pool, so the pool must outlive every object (and copy)
 * that came out of the informers: it belongs to cm_informers and is closed after them. */
#ifndef CM_TRANSFORM_H
#define CM_TRANSFORM_H

#include <pthread.h>
#include <stddef.h>

#include <cjson/cJSON.h>

/* A bounded, append-only, thread-safe set of immutable strings. */
typedef struct cm_strpool {
	pthread_mutex_t mu;
	char **slots;      /* open addressing, power-of-two size */
	size_t nslots, n;  /* n strings held */
	size_t max_n;      /* no new strings past this many */
	size_t max_len;    /* longer strings are never pooled */
	char *block;       /* current storage block (strings packed, never freed singly) */
	size_t block_used, block_cap;
	char **blocks;     /* every block, for _close */
	size_t nblocks, cap_blocks;
	size_t bytes;      /* storage bytes in use */
} cm_strpool;

/* max_n strings of at most max_len bytes; 0, 0 = defaults (16384, 63). -ENOMEM. */
int cm_strpool_init(cm_strpool *p, size_t max_n, size_t max_len);
/* Frees every string: only once nothing points into the pool any more. */
void cm_strpool_close(cm_strpool *p);
/* The pooled copy of s (borrowed, owned by the pool for its lifetime), or NULL when s is
 * too long, the pool is full, or memory ran out (then the caller keeps its own copy). */
const char *cm_strpool_intern(cm_strpool *p, const char *s);
/* Strings held. */
size_t cm_strpool_len(cm_strpool *p);

/* Keys into the pool, pooled values for the keys named above, other strings re-allocated
 * at their exact size; recursively, in place. pool NULL: strings only re-allocated. */
void cm_transform_compact(cJSON *obj, cm_strpool *pool);

/* The whole transform of one object of resource ("pods", ...): drops
 * metadata.managedFields and the resource's unread fields, then compacts. */
void cm_transform_object(const char *resource, cJSON *obj, cm_strpool *pool);

#endif
