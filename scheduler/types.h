/* The scheduler's view of pods and nodes, as upstream's framework.PodInfo / NodeInfo
 * (pkg/scheduler/framework/types.go): the fields the plugins need, parsed once from the
 * API objects so that filter and score loops never re-parse JSON.
 *
 * Memory: the scheduler holds every pod and node of the cluster (issue 6: 100 MB for 5,000
 * nodes and 10,000 pods), so neither keeps the API object. What the plugins compute with
 * (requests, host ports, images, allocatable) is parsed into plain fields; what they match
 * with cJSON helpers (labels, tolerations, affinity, spread constraints, taints) is kept
 * in a pruned copy holding only those subtrees (sched_pod.obj / sched_node_info.node).
 *
 * Ownership: a sched_pod owns its pruned object, key, ports and images; the string
 * pointers are borrowed from the pruned object. A sched_node_info owns its pruned Node
 * copy and borrows the sched_pod pointers listed in pods[] (the cache owns them). */
#ifndef SCHED_TYPES_H
#define SCHED_TYPES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "labels.h"

#define SCHED_MAX_SCALAR 16
#define SCHED_RES_NAME_MAX 128

/* Upstream schedutil.DefaultMilliCPURequest / DefaultMemoryRequest: what a container
 * without requests counts as when scoring (never when filtering). */
#define SCHED_DEFAULT_MILLI_CPU 100
#define SCHED_DEFAULT_MEMORY (200LL * 1024 * 1024)

/* framework.Resource: cpu in millicores, the rest in units. */
typedef struct sched_resource {
	int64_t milli_cpu;
	int64_t memory;
	int64_t ephemeral;
	int64_t allowed_pods;
	int nscalar;
	struct {
		const char *name; /* interned (sched_intern): compare with strcmp or == */
		int64_t value;
	} scalar[SCHED_MAX_SCALAR];
} sched_resource;

/* A process-wide copy of s that lives until exit (scalar resource names: a handful of
 * distinct strings shared by thousands of pods). NULL on ENOMEM, when s is longer than
 * SCHED_RES_NAME_MAX - 1, or when 1,024 distinct names are already held. Thread-safe. */
const char *sched_intern(const char *s);

/* r += b, max(r, b) per resource, and a scalar lookup (0 when absent). */
void sched_resource_add(sched_resource *r, const sched_resource *b);
void sched_resource_sub(sched_resource *r, const sched_resource *b);
void sched_resource_max(sched_resource *r, const sched_resource *b);
int64_t sched_resource_scalar(const sched_resource *r, const char *name);
/* Set a scalar (adds the name if new). -ENOSPC past SCHED_MAX_SCALAR, -ENAMETOOLONG. */
int sched_resource_set_scalar(sched_resource *r, const char *name, int64_t v);
/* Parse a ResourceList object ({"cpu":"500m","memory":"1Gi",...}); list borrowed.
 * Unknown non-scalar names are ignored as upstream's Resource.Add does. 0 or KC_EPARSE
 * (err names the resource). */
int sched_resource_from_list(const cJSON *list, sched_resource *out, char *err, size_t errlen);
/* upstream schedutil.IsScalarResourceName: extended (domain-prefixed), hugepages-*,
 * attachable-volumes-* and prefixed native (kubernetes.io/...) resources. */
bool sched_is_scalar_resource(const char *name);

typedef struct sched_host_port {
	char ip[64];       /* "" means 0.0.0.0 */
	char protocol[8];  /* TCP, UDP, SCTP */
	int port;
} sched_host_port;

/* A required pod (anti-)affinity term parsed once (upstream framework.AffinityTerm in
 * PodInfo.RequiredAntiAffinityTerms): every cycle matches every existing pod's
 * anti-affinity terms against the incoming pod, so they are not re-parsed each time.
 * Namespaces: the listed ones, else the carrying pod's own; an empty namespaceSelector
 * ({}) means all. The pointers are borrowed from the pod's pruned object. */
typedef struct sched_affinity_term {
	const char *topology_key;
	const cJSON *namespaces; /* array or NULL */
	bool all_namespaces;
	kc_label_selector sel;   /* owned; selects nothing when absent or invalid */
} sched_affinity_term;

/* Parse a PodAffinityTerm object (borrowed; t borrows from it; close t->sel). */
void sched_affinity_term_init(sched_affinity_term *t, const cJSON *j);
/* Does term t, carried by a pod of namespace own_ns, select pod p? */
struct sched_pod;
bool sched_affinity_term_matches(const sched_affinity_term *t, const char *own_ns,
				 const struct sched_pod *p);

/* A pod as the scheduler keeps it. obj is the pruned copy: metadata.{labels,
 * deletionTimestamp}, spec.{nodeSelector, affinity,
 * topologySpreadConstraints} and status.{startTime, nominatedNodeName}, each only when
 * present in the source, and NULL when none is (most pods): read it with the
 * NULL-tolerant kc_json_get* helpers. The identifying strings live in one block (strs).
 * Tolerations are held once per distinct list (nearly every pod carries the same two
 * that DefaultTolerationSeconds admission adds), read-only and reference-counted. */
typedef struct sched_pod {
	cJSON *obj; /* owned, pruned, may be NULL */
	char *strs; /* owned: the strings below, each NUL-terminated */
	size_t strs_len;
	/* into strs */
	const char *ns, *name, *uid, *resource_version, *node_name;
	const char *scheduler_name, *preemption_policy; /* defaults filled in */
	const char *key; /* "ns/name" */
	int32_t priority;
	sched_resource req;            /* requests as PodRequests: init max, sidecars, overhead */
	int64_t nonzero_cpu, nonzero_mem; /* the same with scoring defaults per container */
	sched_host_port *ports;
	int nports;
	const cJSON *tolerations;   /* spec.tolerations (array or NULL); shared between
				     * pods with the same list when tol_slot >= 0 */
	int tol_slot;
	const cJSON *node_selector; /* spec.nodeSelector (object or NULL) */
	const cJSON *affinity;      /* spec.affinity (object or NULL) */
	bool terminating;           /* metadata.deletionTimestamp set */
	bool required_anti;         /* has required pod anti-affinity terms */
	bool pod_affinity;          /* has podAffinity or podAntiAffinity */
	sched_affinity_term *anti_terms; /* owned: the required anti-affinity terms */
	int nanti_terms;
	char *images;               /* owned: normalised images of initContainers then
				     * containers, each NUL-terminated, nimages of them */
	int nimages;
	int ncontainers;            /* initContainers + containers */
	/* upstream isPodUpdated: a hash of the object without metadata.resourceVersion,
	 * generation, managedFields, finalizers and status (equal hashes: not updated) */
	uint64_t update_hash;
} sched_pod;

/* Build from a Pod object (borrowed; nothing of it is kept). 0, KC_EINVALID (no
 * metadata.name, bad quantities; err says why) or -ENOMEM. */
int sched_pod_new(const cJSON *pod, sched_pod **out, char *err, size_t errlen);
/* A deep copy of p (borrowed); with node non-NULL (borrowed) the copy's node_name is
 * node instead (upstream's assume sets spec.nodeName on its copy). 0 or -ENOMEM. */
int sched_pod_dup(const sched_pod *p, const char *node, sched_pod **out);
void sched_pod_free(sched_pod *p);
/* The i-th image of p (i < p->nimages). */
const char *sched_pod_image(const sched_pod *p, int i);

typedef struct sched_image {
	char *name; /* normalised (":latest" added when untagged) */
	int64_t size;
} sched_image;

/* Field order matters: a cycle filters and scores hundreds of nodes, each a separate
 * allocation that is cold in the cache by then, so what every node's filters and
 * scores read (name, taints, npods, unschedulable, the nonzero sums and the head of
 * requested) comes first, in the first 64-byte line (sched_node_info_new aligns the
 * allocation to it), and the head of allocatable is one more line: two lines per node
 * instead of five. */
typedef struct sched_node_info {
	const char *name;
	const cJSON *taints; /* spec.taints (array or NULL) */
	int npods;
	bool unschedulable;
	int64_t nonzero_cpu, nonzero_mem;  /* sum of pods' nonzero requests */
	sched_resource requested;          /* sum of pods' req */
	sched_resource allocatable;
	cJSON *node; /* owned, pruned: metadata.{name, labels} and spec.taints only */
	const cJSON *labels; /* metadata.labels */
	sched_pod **pods;                  /* borrowed */
	int cappods;
	int nanti;                         /* pods with required anti-affinity */
	int naffinity;                     /* pods with any spec.affinity.pod(Anti)Affinity */
	sched_image *images;
	int nimages;
	uint64_t generation;               /* bumped on every change */
} sched_node_info;

/* Build from a Node object (borrowed; nothing of it is kept). */
int sched_node_info_new(const cJSON *node, sched_node_info **out, char *err, size_t errlen);
void sched_node_info_free(sched_node_info *ni);
/* Replace the Node object (borrowed; pods kept). */
int sched_node_info_set_node(sched_node_info *ni, const cJSON *node, char *err, size_t errlen);
/* Account for a pod (borrowed) / stop accounting for the pod with that key. */
int sched_node_info_add_pod(sched_node_info *ni, sched_pod *p);
int sched_node_info_remove_pod(sched_node_info *ni, const char *key);
/* A copy holding only the pods for which keep() is true (used by the preemption dry
 * run). The copy borrows the same pod pointers; free with sched_node_info_free. */
sched_node_info *sched_node_info_filtered(const sched_node_info *ni,
					  bool (*keep)(const sched_pod *p, void *arg), void *arg);
/* The image's size if the node has it (name normalised by the caller), else -1. */
int64_t sched_node_image_size(const sched_node_info *ni, const char *norm_name);
/* upstream normalizedImageName: add ":latest" when the name has no tag. Returns the
 * length written (like snprintf). */
size_t sched_normalize_image(const char *image, char *buf, size_t len);

#endif
