/* Parsing pods and nodes into the scheduler's types; see types.h. */
#include "types.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"
#include "json.h"
#include "meta.h"
#include "quantity.h"

bool sched_is_scalar_resource(const char *name)
{
	if (!name || !*name)
		return false;
	/* extended resources and prefixed native resources both carry a '/' */
	if (strchr(name, '/'))
		return strncmp(name, "requests.", 9) != 0;
	return strncmp(name, "hugepages-", 10) == 0 ||
	       strncmp(name, "attachable-volumes-", 19) == 0;
}

/* The intern table: a short list (scalar resource names), never freed, so bounded: the
 * names come from pods, and a stream of made-up names must not grow it for ever. */
#define INTERN_MAX 1024
static pthread_mutex_t intern_mu = PTHREAD_MUTEX_INITIALIZER;
static char **interned;
static int ninterned, capinterned;

const char *sched_intern(const char *s)
{
	if (!s || strlen(s) >= SCHED_RES_NAME_MAX)
		return NULL;
	const char *r = NULL;
	pthread_mutex_lock(&intern_mu);
	for (int i = 0; i < ninterned && !r; i++)
		if (strcmp(interned[i], s) == 0)
			r = interned[i];
	if (!r && ninterned == capinterned && capinterned < INTERN_MAX) {
		int cap = capinterned ? capinterned * 2 : 16;
		char **n = realloc(interned, (size_t)cap * sizeof(*n));
		if (n) {
			interned = n;
			capinterned = cap;
		}
	}
	if (!r && ninterned < capinterned) {
		char *c = strdup(s);
		if (c)
			r = interned[ninterned++] = c;
	}
	pthread_mutex_unlock(&intern_mu);
	return r;
}

int64_t sched_resource_scalar(const sched_resource *r, const char *name)
{
	for (int i = 0; i < r->nscalar; i++)
		if (strcmp(r->scalar[i].name, name) == 0)
			return r->scalar[i].value;
	return 0;
}

static int64_t *scalar_slot(sched_resource *r, const char *name, int *err)
{
	for (int i = 0; i < r->nscalar; i++)
		if (strcmp(r->scalar[i].name, name) == 0)
			return &r->scalar[i].value;
	if (strlen(name) >= SCHED_RES_NAME_MAX) {
		*err = -ENAMETOOLONG;
		return NULL;
	}
	if (r->nscalar >= SCHED_MAX_SCALAR) {
		*err = -ENOSPC;
		return NULL;
	}
	const char *in = sched_intern(name);
	if (!in) {
		*err = -ENOSPC; /* ENOMEM, or more distinct names than the table holds */
		return NULL;
	}
	int i = r->nscalar++;
	r->scalar[i].name = in;
	r->scalar[i].value = 0;
	return &r->scalar[i].value;
}

int sched_resource_set_scalar(sched_resource *r, const char *name, int64_t v)
{
	int err = 0;
	int64_t *s = scalar_slot(r, name, &err);
	if (!s)
		return err;
	*s = v;
	return 0;
}

void sched_resource_add(sched_resource *r, const sched_resource *b)
{
	int err;
	r->milli_cpu += b->milli_cpu;
	r->memory += b->memory;
	r->ephemeral += b->ephemeral;
	r->allowed_pods += b->allowed_pods;
	for (int i = 0; i < b->nscalar; i++) {
		int64_t *s = scalar_slot(r, b->scalar[i].name, &err);
		if (s)
			*s += b->scalar[i].value;
	}
}

void sched_resource_sub(sched_resource *r, const sched_resource *b)
{
	int err;
	r->milli_cpu -= b->milli_cpu;
	r->memory -= b->memory;
	r->ephemeral -= b->ephemeral;
	r->allowed_pods -= b->allowed_pods;
	for (int i = 0; i < b->nscalar; i++) {
		int64_t *s = scalar_slot(r, b->scalar[i].name, &err);
		if (s)
			*s -= b->scalar[i].value;
	}
}

#define MAX64(a, b) ((a) > (b) ? (a) : (b))

void sched_resource_max(sched_resource *r, const sched_resource *b)
{
	int err;
	r->milli_cpu = MAX64(r->milli_cpu, b->milli_cpu);
	r->memory = MAX64(r->memory, b->memory);
	r->ephemeral = MAX64(r->ephemeral, b->ephemeral);
	r->allowed_pods = MAX64(r->allowed_pods, b->allowed_pods);
	for (int i = 0; i < b->nscalar; i++) {
		int64_t *s = scalar_slot(r, b->scalar[i].name, &err);
		if (s)
			*s = MAX64(*s, b->scalar[i].value);
	}
}

int sched_resource_from_list(const cJSON *list, sched_resource *out, char *err, size_t errlen)
{
	memset(out, 0, sizeof(*out));
	if (!list || cJSON_IsNull(list))
		return 0;
	if (!cJSON_IsObject(list)) {
		snprintf(err, errlen, "resource list is not an object");
		return KC_EPARSE;
	}
	const cJSON *it;
	cJSON_ArrayForEach(it, list)
	{
		kc_quantity q;
		char qerr[KC_QUANTITY_ERRLEN];
		if (kc_quantity_from_json(it, &q, qerr, sizeof(qerr)) != 0) {
			snprintf(err, errlen, "resource %s: %s", it->string, qerr);
			return KC_EPARSE;
		}
		const char *n = it->string;
		if (strcmp(n, "cpu") == 0)
			out->milli_cpu = kc_quantity_milli_value(&q);
		else if (strcmp(n, "memory") == 0)
			out->memory = kc_quantity_value(&q);
		else if (strcmp(n, "ephemeral-storage") == 0)
			out->ephemeral = kc_quantity_value(&q);
		else if (strcmp(n, "pods") == 0)
			out->allowed_pods = kc_quantity_value(&q);
		else if (sched_is_scalar_resource(n)) {
			int rc = sched_resource_set_scalar(out, n, kc_quantity_value(&q));
			if (rc != 0) {
				snprintf(err, errlen, "resource %s: %s", n, kc_strerror(rc));
				return KC_EPARSE;
			}
		}
	}
	return 0;
}

/* ---- pods ---- */

static bool is_restartable_init(const cJSON *c)
{
	const char *rp = kc_json_get_string(c, "restartPolicy", NULL);
	return rp && strcmp(rp, "Always") == 0;
}

/* One container's requests, parsed once: *out as written and *nz with missing cpu/memory
 * counted as the scoring defaults (upstream NonMissingContainerRequests: only absent
 * keys, an explicit 0 stays). */
static int container_requests(const cJSON *c, sched_resource *out, sched_resource *nz,
			      char *err, size_t errlen)
{
	const cJSON *reqs = kc_json_get(c, "resources.requests");
	int rc = sched_resource_from_list(reqs, out, err, errlen);
	if (rc != 0)
		return rc;
	*nz = *out;
	if (!reqs || !cJSON_GetObjectItemCaseSensitive(reqs, "cpu"))
		nz->milli_cpu = SCHED_DEFAULT_MILLI_CPU;
	if (!reqs || !cJSON_GetObjectItemCaseSensitive(reqs, "memory"))
		nz->memory = SCHED_DEFAULT_MEMORY;
	return 0;
}

/* The sums of pod_requests for one of its two views (as written, or nonzero). */
typedef struct req_acc {
	sched_resource reqs, sidecars, init_max;
} req_acc;

static void acc_container(req_acc *a, const sched_resource *c)
{
	sched_resource_add(&a->reqs, c);
}

static void acc_init(req_acc *a, const sched_resource *c, bool restartable)
{
	sched_resource r = *c;
	if (restartable) {
		sched_resource_add(&a->reqs, &r);
		sched_resource_add(&a->sidecars, &r);
		r = a->sidecars;
	} else {
		sched_resource_add(&r, &a->sidecars);
	}
	sched_resource_max(&a->init_max, &r);
}

/* upstream resourcehelper.PodRequests: regular containers summed; restartable (sidecar)
 * init containers added to the sum; each regular init container runs alone with the
 * sidecars started before it, and the pod needs the max of that and the sum; plus
 * spec.overhead. Computed at once for the requests as written (*out) and with the
 * scoring defaults per container (*out_nz), from one parse of each container. */
static int pod_requests(const cJSON *spec, sched_resource *out, sched_resource *out_nz,
			char *err, size_t errlen)
{
	req_acc a, n;
	memset(&a, 0, sizeof(a));
	memset(&n, 0, sizeof(n));
	sched_resource c, cn;
	const cJSON *it;
	int rc;
	cJSON_ArrayForEach(it, kc_json_get(spec, "containers"))
	{
		if ((rc = container_requests(it, &c, &cn, err, errlen)) != 0)
			return rc;
		acc_container(&a, &c);
		acc_container(&n, &cn);
	}
	cJSON_ArrayForEach(it, kc_json_get(spec, "initContainers"))
	{
		if ((rc = container_requests(it, &c, &cn, err, errlen)) != 0)
			return rc;
		bool restartable = is_restartable_init(it);
		acc_init(&a, &c, restartable);
		acc_init(&n, &cn, restartable);
	}
	sched_resource_max(&a.reqs, &a.init_max);
	sched_resource_max(&n.reqs, &n.init_max);
	const cJSON *overhead = kc_json_get(spec, "overhead");
	if (overhead) {
		if ((rc = sched_resource_from_list(overhead, &c, err, errlen)) != 0)
			return rc;
		sched_resource_add(&a.reqs, &c);
		sched_resource_add(&n.reqs, &c);
	}
	*out = a.reqs;
	*out_nz = n.reqs;
	return 0;
}

static int pod_ports(sched_pod *p, const cJSON *spec, char *err, size_t errlen)
{
	const cJSON *c, *port;
	int n = 0;
	cJSON_ArrayForEach(c, kc_json_get(spec, "containers"))
		cJSON_ArrayForEach(port, kc_json_get(c, "ports")) n++;
	if (n == 0)
		return 0;
	p->ports = calloc((size_t)n, sizeof(*p->ports));
	if (!p->ports)
		return -ENOMEM;
	cJSON_ArrayForEach(c, kc_json_get(spec, "containers"))
	{
		cJSON_ArrayForEach(port, kc_json_get(c, "ports"))
		{
			int64_t hp = kc_json_get_int64(port, "hostPort", 0);
			if (hp <= 0)
				continue;
			if (hp > 65535) {
				snprintf(err, errlen, "hostPort %lld out of range", (long long)hp);
				return KC_EINVALID;
			}
			sched_host_port *h = &p->ports[p->nports++];
			const char *ip = kc_json_get_string(port, "hostIP", "");
			const char *proto = kc_json_get_string(port, "protocol", "TCP");
			snprintf(h->ip, sizeof(h->ip), "%s", strcmp(ip, "0.0.0.0") == 0 ? "" : ip);
			snprintf(h->protocol, sizeof(h->protocol), "%s", *proto ? proto : "TCP");
			h->port = (int)hp;
		}
	}
	return 0;
}

/* Copy the members of src named in keys (NULL-terminated) that exist into dst[name], an
 * object created when needed (nothing is added when none exists). -ENOMEM on failure. */
static int copy_members(cJSON *dst, const char *name, const cJSON *src,
			const char *const *keys)
{
	cJSON *o = cJSON_GetObjectItemCaseSensitive(dst, name);
	for (int i = 0; keys[i]; i++) {
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(src, keys[i]);
		if (!v || cJSON_IsNull(v))
			continue;
		if (!o && (!(o = cJSON_CreateObject()) || !cJSON_AddItemToObject(dst, name, o))) {
			cJSON_Delete(o);
			return -ENOMEM;
		}
		cJSON *c = cJSON_Duplicate(v, 1);
		if (!c || !cJSON_AddItemToObject(o, keys[i], c)) {
			cJSON_Delete(c);
			return -ENOMEM;
		}
	}
	return 0;
}

static const char *const pod_meta_keys[] = { "labels", "deletionTimestamp", NULL };
static const char *const pod_spec_keys[] = { "nodeSelector", "affinity",
					     "topologySpreadConstraints", NULL };

/* Shared tolerations lists: read-only trees, found by a hash and an in-order
 * comparison (not by printing each pod's list: that cost a serialisation per watch
 * event). Bounded: past SHARED_MAX distinct live lists a pod keeps its own copy in obj. */
#define SHARED_MAX 64
static pthread_mutex_t shared_mu = PTHREAD_MUTEX_INITIALIZER;
static struct {
	uint64_t hash;
	cJSON *tree;
	int refs;
} shared[SHARED_MAX];

static uint64_t hash_tree(uint64_t h, const cJSON *j, int depth, bool in_metadata);

/* a and b are the same JSON in the same order (member order kept, as a serialisation
 * would compare them); numbers compare by their bits. */
static bool tree_same(const cJSON *a, const cJSON *b)
{
	if ((a->type & 0xff) != (b->type & 0xff))
		return false;
	if (cJSON_IsString(a) || cJSON_IsRaw(a)) {
		if (!a->valuestring || !b->valuestring)
			return a->valuestring == b->valuestring;
		return strcmp(a->valuestring, b->valuestring) == 0;
	}
	if (cJSON_IsNumber(a))
		return memcmp(&a->valuedouble, &b->valuedouble, sizeof(a->valuedouble)) == 0;
	const cJSON *x = a->child, *y = b->child;
	for (; x && y; x = x->next, y = y->next) {
		if (!x->string != !y->string || (x->string && strcmp(x->string, y->string) != 0))
			return false;
		if (!tree_same(x, y))
			return false;
	}
	return !x && !y;
}

/* The slot holding a list equal to v with a reference taken, or -1 (table full). */
static int share_acquire(const cJSON *v)
{
	uint64_t hash = hash_tree(14695981039346656037ULL, v, 1, false);
	int slot = -1, empty = -1;
	pthread_mutex_lock(&shared_mu);
	for (int i = 0; i < SHARED_MAX && slot < 0; i++) {
		if (shared[i].refs > 0 && shared[i].hash == hash && tree_same(shared[i].tree, v))
			slot = i;
		else if (shared[i].refs == 0 && empty < 0)
			empty = i;
	}
	if (slot < 0 && empty >= 0) {
		cJSON *tree = cJSON_Duplicate(v, 1);
		if (tree) {
			slot = empty;
			shared[slot].hash = hash;
			shared[slot].tree = tree;
		}
	}
	if (slot >= 0)
		shared[slot].refs++;
	pthread_mutex_unlock(&shared_mu);
	return slot;
}

static void share_ref(int slot)
{
	pthread_mutex_lock(&shared_mu);
	shared[slot].refs++;
	pthread_mutex_unlock(&shared_mu);
}

static void share_release(int slot)
{
	cJSON *tree = NULL;
	pthread_mutex_lock(&shared_mu);
	if (--shared[slot].refs == 0) {
		tree = shared[slot].tree;
		shared[slot].tree = NULL;
		shared[slot].hash = 0;
	}
	pthread_mutex_unlock(&shared_mu);
	cJSON_Delete(tree);
}

/* The tree of a slot the caller holds a reference on (stable while referenced). */
static const cJSON *share_tree(int slot)
{
	pthread_mutex_lock(&shared_mu);
	const cJSON *t = shared[slot].tree;
	pthread_mutex_unlock(&shared_mu);
	return t;
}
static const char *const pod_status_keys[] = { "startTime", "nominatedNodeName", NULL };

/* The pruned object of sched_pod.obj (see types.h): *out NULL when nothing is kept.
 * 0 or -ENOMEM. */
static int prune_pod(const cJSON *pod, cJSON **out, int *tol_slot)
{
	static const char *const tol_key[] = { "tolerations", NULL };
	*out = NULL;
	*tol_slot = -1;
	cJSON *o = cJSON_CreateObject();
	if (!o)
		return -ENOMEM;
	const cJSON *tol = kc_json_get(pod, "spec.tolerations");
	if (tol && !cJSON_IsNull(tol))
		*tol_slot = share_acquire(tol);
	if (copy_members(o, "metadata", kc_json_get(pod, "metadata"), pod_meta_keys) ||
	    copy_members(o, "spec", kc_json_get(pod, "spec"), pod_spec_keys) ||
	    copy_members(o, "status", kc_json_get(pod, "status"), pod_status_keys) ||
	    (*tol_slot < 0 && copy_members(o, "spec", kc_json_get(pod, "spec"), tol_key))) {
		cJSON_Delete(o);
		return -ENOMEM;
	}
	if (!o->child)
		cJSON_Delete(o);
	else
		*out = o;
	return 0;
}

/* The identifying strings, in this order, in p->strs. */
enum { STR_NS, STR_NAME, STR_UID, STR_RV, STR_NODE, STR_SCHED, STR_PP, STR_KEY, STR_COUNT };

static void bind_strings(sched_pod *p)
{
	const char *v[STR_COUNT];
	const char *s = p->strs;
	for (int i = 0; i < STR_COUNT; i++) {
		v[i] = s;
		s += strlen(s) + 1;
	}
	p->ns = v[STR_NS];
	p->name = v[STR_NAME];
	p->uid = v[STR_UID];
	p->resource_version = v[STR_RV];
	p->node_name = v[STR_NODE];
	p->scheduler_name = v[STR_SCHED];
	p->preemption_policy = v[STR_PP];
	p->key = v[STR_KEY];
}

static int build_strings(sched_pod *p, const cJSON *pod)
{
	const char *ns = kc_meta_namespace(pod), *name = kc_meta_name(pod);
	const char *v[STR_COUNT] = {
		[STR_NS] = ns,
		[STR_NAME] = name,
		[STR_UID] = kc_meta_uid(pod),
		[STR_RV] = kc_json_get_string(pod, "metadata.resourceVersion", ""),
		[STR_NODE] = kc_json_get_string(pod, "spec.nodeName", ""),
		[STR_SCHED] = kc_json_get_string(pod, "spec.schedulerName", "default-scheduler"),
		[STR_PP] = kc_json_get_string(pod, "spec.preemptionPolicy", "PreemptLowerPriority"),
		[STR_KEY] = "",
	};
	size_t len = strlen(ns) + 1 + strlen(name) + 1;
	for (int i = 0; i < STR_COUNT; i++)
		len += strlen(v[i]) + 1;
	if (!(p->strs = malloc(len)))
		return -ENOMEM;
	p->strs_len = len;
	char *o = p->strs;
	for (int i = 0; i < STR_KEY; i++)
		o = stpcpy(o, v[i]) + 1;
	sprintf(o, "%s/%s", ns, name);
	bind_strings(p);
	return 0;
}

/* A hash over a cJSON tree (keys, types, values, in order), compared only with other
 * hashes made by this process (never stored): a word at a time with a multiply-xorshift
 * step, because FNV-1a's byte at a time cost more than the rest of sched_pod_new on a
 * pod with a few containers (every pod is hashed on each watch event). */
static uint64_t hmix(uint64_t h, uint64_t v)
{
	h ^= v;
	h *= 0x9e3779b97f4a7c15ULL;
	return h ^ (h >> 32);
}

static uint64_t hbytes(uint64_t h, const void *data, size_t n)
{
	const unsigned char *b = data;
	for (; n >= 8; b += 8, n -= 8) {
		uint64_t v;
		memcpy(&v, b, 8);
		h = hmix(h, v);
	}
	uint64_t v = 0;
	memcpy(&v, b, n);
	/* the tail's length too, so "a" and "a\0" differ */
	return hmix(h, v ^ ((uint64_t)n << 56));
}

static uint64_t hash_tree(uint64_t h, const cJSON *j, int depth, bool in_metadata)
{
	static const char *const meta_ignored[] = { "resourceVersion", "generation",
						    "managedFields", "finalizers", NULL };
	h = hmix(h, (uint64_t)(j->type & 0xff));
	if ((cJSON_IsString(j) || cJSON_IsRaw(j)) && j->valuestring)
		return hbytes(h, j->valuestring, strlen(j->valuestring));
	if (cJSON_IsNumber(j)) {
		uint64_t v;
		memcpy(&v, &j->valuedouble, sizeof(v));
		return hmix(h, v);
	}
	const cJSON *c;
	cJSON_ArrayForEach(c, j)
	{
		if (c->string) {
			if (depth == 0 && !strcmp(c->string, "status"))
				continue;
			bool skip = false;
			for (int i = 0; in_metadata && meta_ignored[i] && !skip; i++)
				skip = !strcmp(c->string, meta_ignored[i]);
			if (skip)
				continue;
			h = hbytes(h, c->string, strlen(c->string));
		}
		h = hash_tree(h, c, depth + 1,
			      depth == 0 && c->string && !strcmp(c->string, "metadata"));
	}
	return hmix(h, 0x7d); /* end of the object or array */
}

/* Point the borrowed fields at p->obj (after building or copying it). */
static void bind_pod_fields(sched_pod *p)
{
	const cJSON *spec = kc_json_get(p->obj, "spec");
	p->tolerations = p->tol_slot >= 0 ? share_tree(p->tol_slot) : kc_json_get(spec, "tolerations");
	p->node_selector = kc_json_get(spec, "nodeSelector");
	p->affinity = kc_json_get(spec, "affinity");
	p->terminating = *kc_json_get_string(p->obj, "metadata.deletionTimestamp", "") != '\0';
	p->pod_affinity = kc_json_get(p->affinity, "podAffinity") ||
			  kc_json_get(p->affinity, "podAntiAffinity");
	p->required_anti = cJSON_GetArraySize(kc_json_get(
		p->affinity, "podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution")) > 0;
}

void sched_affinity_term_init(sched_affinity_term *t, const cJSON *j)
{
	char err[KC_SELECTOR_ERRLEN];
	kc_selector_init(&t->sel);
	t->topology_key = kc_json_get_string(j, "topologyKey", "");
	t->namespaces = kc_json_get(j, "namespaces");
	const cJSON *nss = kc_json_get(j, "namespaceSelector");
	t->all_namespaces = cJSON_IsObject(nss) && !nss->child;
	/* LabelSelectorAsSelector(nil) selects nothing */
	if (kc_selector_from_json(kc_json_get(j, "labelSelector"), &t->sel, err, sizeof(err)))
		kc_selector_init_nothing(&t->sel);
}

bool sched_affinity_term_matches(const sched_affinity_term *t, const char *own_ns,
				 const sched_pod *p)
{
	if (!t->all_namespaces) {
		bool ok = false;
		if (cJSON_GetArraySize(t->namespaces) > 0) {
			const cJSON *ns;
			cJSON_ArrayForEach(ns, t->namespaces)
				ok = ok || (cJSON_IsString(ns) && !strcmp(ns->valuestring, p->ns));
		} else {
			ok = !strcmp(own_ns, p->ns);
		}
		if (!ok)
			return false;
	}
	return kc_selector_matches_object(&t->sel, p->obj);
}

static void free_anti_terms(sched_pod *p)
{
	for (int i = 0; i < p->nanti_terms; i++)
		kc_selector_close(&p->anti_terms[i].sel);
	free(p->anti_terms);
	p->anti_terms = NULL;
	p->nanti_terms = 0;
}

/* p->anti_terms from p->affinity (after bind_pod_fields). 0 or -ENOMEM. */
static int parse_anti_terms(sched_pod *p)
{
	const cJSON *list = kc_json_get(
		p->affinity, "podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution");
	int n = cJSON_GetArraySize(list);
	p->anti_terms = NULL;
	p->nanti_terms = 0;
	if (n <= 0)
		return 0;
	if (!(p->anti_terms = calloc((size_t)n, sizeof(*p->anti_terms))))
		return -ENOMEM;
	const cJSON *j;
	cJSON_ArrayForEach(j, list) sched_affinity_term_init(&p->anti_terms[p->nanti_terms++], j);
	return 0;
}

/* ImageLocality's input: the normalised images, init containers first. */
static int pod_images(sched_pod *p, const cJSON *spec)
{
	static const char *const lists[] = { "initContainers", "containers" };
	size_t total = 0;
	char buf[1024];
	const cJSON *c;
	for (int l = 0; l < 2; l++)
		cJSON_ArrayForEach(c, kc_json_get(spec, lists[l]))
		{
			p->ncontainers++;
			const char *img = kc_json_get_string(c, "image", "");
			if (*img)
				total += sched_normalize_image(img, buf, sizeof(buf)) + 1;
		}
	if (total == 0)
		return 0;
	if (!(p->images = malloc(total)))
		return -ENOMEM;
	size_t off = 0;
	for (int l = 0; l < 2; l++)
		cJSON_ArrayForEach(c, kc_json_get(spec, lists[l]))
		{
			const char *img = kc_json_get_string(c, "image", "");
			if (!*img)
				continue;
			size_t n = sched_normalize_image(img, p->images + off, total - off);
			off += (n < total - off ? n : total - off - 1) + 1;
			p->nimages++;
		}
	return 0;
}

const char *sched_pod_image(const sched_pod *p, int i)
{
	const char *s = p->images;
	while (i-- > 0)
		s += strlen(s) + 1;
	return s;
}

int sched_pod_new(const cJSON *pod, sched_pod **out, char *err, size_t errlen)
{
	*out = NULL;
	if (!cJSON_IsObject(pod) || !*kc_meta_name(pod)) {
		snprintf(err, errlen, "pod has no metadata.name");
		return KC_EINVALID;
	}
	sched_pod *p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->tol_slot = -1;
	if (prune_pod(pod, &p->obj, &p->tol_slot) != 0 || build_strings(p, pod) != 0) {
		sched_pod_free(p);
		return -ENOMEM;
	}
	bind_pod_fields(p);
	p->update_hash = hash_tree(14695981039346656037ULL, pod, 0, false);
	const cJSON *spec = kc_json_get(pod, "spec");
	int64_t prio = kc_json_get_int64(spec, "priority", 0);
	if (prio > INT32_MAX)
		prio = INT32_MAX;
	if (prio < INT32_MIN)
		prio = INT32_MIN;
	p->priority = (int32_t)prio;
	sched_resource nz;
	int rc = pod_requests(spec, &p->req, &nz, err, errlen);
	if (rc == 0)
		rc = pod_ports(p, spec, err, errlen);
	if (rc == 0)
		rc = pod_images(p, spec);
	if (rc == 0)
		rc = parse_anti_terms(p);
	if (rc != 0) {
		sched_pod_free(p);
		return rc == -ENOMEM ? rc : KC_EINVALID;
	}
	p->nonzero_cpu = nz.milli_cpu;
	p->nonzero_mem = nz.memory;
	*out = p;
	return 0;
}

int sched_pod_dup(const sched_pod *p, const char *node, sched_pod **out)
{
	*out = NULL;
	sched_pod *c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	*c = *p;
	c->anti_terms = NULL;
	c->nanti_terms = 0;
	if (p->tol_slot >= 0)
		share_ref(p->tol_slot);
	c->strs = NULL;
	c->ports = NULL;
	c->images = NULL;
	c->obj = p->obj ? cJSON_Duplicate(p->obj, 1) : NULL;
	if (node) {
		c->strs_len = p->strs_len - strlen(p->node_name) + strlen(node);
		if ((c->strs = malloc(c->strs_len))) {
			char *o = c->strs;
			o = stpcpy(o, p->ns) + 1;
			o = stpcpy(o, p->name) + 1;
			o = stpcpy(o, p->uid) + 1;
			o = stpcpy(o, p->resource_version) + 1;
			o = stpcpy(o, node) + 1;
			o = stpcpy(o, p->scheduler_name) + 1;
			o = stpcpy(o, p->preemption_policy) + 1;
			strcpy(o, p->key);
		}
	} else if ((c->strs = malloc(p->strs_len))) {
		memcpy(c->strs, p->strs, p->strs_len);
	}
	if (p->nports)
		c->ports = malloc((size_t)p->nports * sizeof(*c->ports));
	if (p->nimages) {
		const char *last = sched_pod_image(p, p->nimages - 1);
		size_t len = (size_t)(last - p->images) + strlen(last) + 1;
		if ((c->images = malloc(len)))
			memcpy(c->images, p->images, len);
	}
	if ((p->obj && !c->obj) || !c->strs || (p->nports && !c->ports) ||
	    (p->nimages && !c->images)) {
		sched_pod_free(c);
		return -ENOMEM;
	}
	if (p->nports)
		memcpy(c->ports, p->ports, (size_t)p->nports * sizeof(*c->ports));
	bind_strings(c);
	bind_pod_fields(c);
	if (parse_anti_terms(c) != 0) {
		sched_pod_free(c);
		return -ENOMEM;
	}
	*out = c;
	return 0;
}

void sched_pod_free(sched_pod *p)
{
	if (!p)
		return;
	if (p->tol_slot >= 0)
		share_release(p->tol_slot);
	free_anti_terms(p);
	cJSON_Delete(p->obj);
	free(p->strs);
	free(p->ports);
	free(p->images);
	free(p);
}


/* ---- nodes ---- */

size_t sched_normalize_image(const char *image, char *buf, size_t len)
{
	const char *colon = strrchr(image, ':');
	const char *slash = strrchr(image, '/');
	if (!colon || (slash && colon < slash))
		return (size_t)snprintf(buf, len, "%s:latest", image);
	return (size_t)snprintf(buf, len, "%s", image);
}

static void free_images(sched_node_info *ni)
{
	for (int i = 0; i < ni->nimages; i++)
		free(ni->images[i].name);
	free(ni->images);
	ni->images = NULL;
	ni->nimages = 0;
}

static const char *const node_meta_keys[] = { "name", "labels", NULL };
static const char *const node_spec_keys[] = { "taints", NULL };

/* Point the borrowed fields at ni->node (the pruned copy). */
static void bind_node_fields(sched_node_info *ni)
{
	ni->name = kc_meta_name(ni->node);
	ni->taints = kc_json_get(ni->node, "spec.taints");
	ni->labels = kc_json_get(ni->node, "metadata.labels");
}

/* Parse a Node object (borrowed) into ni: the pruned copy, allocatable, images,
 * unschedulable. On failure ni is left as it was. */
static int parse_node(sched_node_info *ni, const cJSON *n, char *err, size_t errlen)
{
	sched_resource alloc;
	int rc = sched_resource_from_list(kc_json_get(n, "status.allocatable"), &alloc, err,
					  errlen);
	if (rc != 0)
		return rc;
	cJSON *pr = cJSON_CreateObject();
	if (!pr || copy_members(pr, "metadata", kc_json_get(n, "metadata"), node_meta_keys) ||
	    copy_members(pr, "spec", kc_json_get(n, "spec"), node_spec_keys)) {
		cJSON_Delete(pr);
		return -ENOMEM;
	}
	sched_node_info tmp = { 0 };
	const cJSON *img, *nm;
	int count = 0;
	cJSON_ArrayForEach(img, kc_json_get(n, "status.images"))
		cJSON_ArrayForEach(nm, kc_json_get(img, "names")) count++;
	if (count > 0 && !(tmp.images = calloc((size_t)count, sizeof(*tmp.images)))) {
		cJSON_Delete(pr);
		return -ENOMEM;
	}
	cJSON_ArrayForEach(img, kc_json_get(n, "status.images"))
	{
		int64_t size = kc_json_get_int64(img, "sizeBytes", 0);
		cJSON_ArrayForEach(nm, kc_json_get(img, "names"))
		{
			if (!cJSON_IsString(nm))
				continue;
			char buf[1024];
			sched_normalize_image(nm->valuestring, buf, sizeof(buf));
			tmp.images[tmp.nimages].name = strdup(buf);
			if (!tmp.images[tmp.nimages].name) {
				free_images(&tmp);
				cJSON_Delete(pr);
				return -ENOMEM;
			}
			tmp.images[tmp.nimages++].size = size;
		}
	}
	cJSON_Delete(ni->node);
	ni->node = pr;
	bind_node_fields(ni);
	free_images(ni);
	ni->images = tmp.images;
	ni->nimages = tmp.nimages;
	ni->allocatable = alloc;
	ni->unschedulable = kc_json_get_bool(n, "spec.unschedulable", false);
	return 0;
}

/* A zeroed node info starting on a cache line (see the field order in types.h). */
static sched_node_info *node_alloc(void)
{
	size_t size = (sizeof(sched_node_info) + 63) & ~(size_t)63;
	sched_node_info *ni = aligned_alloc(64, size);
	if (ni)
		memset(ni, 0, size);
	return ni;
}

int sched_node_info_new(const cJSON *node, sched_node_info **out, char *err, size_t errlen)
{
	*out = NULL;
	if (!cJSON_IsObject(node) || !*kc_meta_name(node)) {
		snprintf(err, errlen, "node has no metadata.name");
		return KC_EINVALID;
	}
	sched_node_info *ni = node_alloc();
	if (!ni)
		return -ENOMEM;
	int rc = parse_node(ni, node, err, errlen);
	if (rc != 0) {
		sched_node_info_free(ni);
		return rc;
	}
	*out = ni;
	return 0;
}

int sched_node_info_set_node(sched_node_info *ni, const cJSON *node, char *err, size_t errlen)
{
	/* a bad update keeps the previous state: it must not lose the node */
	int rc = parse_node(ni, node, err, errlen);
	if (rc == 0)
		ni->generation++;
	return rc;
}

void sched_node_info_free(sched_node_info *ni)
{
	if (!ni)
		return;
	cJSON_Delete(ni->node);
	free(ni->pods);
	free_images(ni);
	free(ni);
}

int sched_node_info_add_pod(sched_node_info *ni, sched_pod *p)
{
	if (ni->npods == ni->cappods) {
		int cap = ni->cappods ? ni->cappods * 2 : 8;
		sched_pod **np = realloc(ni->pods, (size_t)cap * sizeof(*np));
		if (!np)
			return -ENOMEM;
		ni->pods = np;
		ni->cappods = cap;
	}
	ni->pods[ni->npods++] = p;
	ni->nanti += p->required_anti;
	ni->naffinity += p->pod_affinity;
	sched_resource_add(&ni->requested, &p->req);
	ni->nonzero_cpu += p->nonzero_cpu;
	ni->nonzero_mem += p->nonzero_mem;
	ni->generation++;
	return 0;
}

int sched_node_info_remove_pod(sched_node_info *ni, const char *key)
{
	for (int i = 0; i < ni->npods; i++) {
		sched_pod *p = ni->pods[i];
		if (strcmp(p->key, key) != 0)
			continue;
		sched_resource_sub(&ni->requested, &p->req);
		ni->nanti -= p->required_anti;
		ni->naffinity -= p->pod_affinity;
		ni->nonzero_cpu -= p->nonzero_cpu;
		ni->nonzero_mem -= p->nonzero_mem;
		ni->pods[i] = ni->pods[--ni->npods];
		ni->generation++;
		return 0;
	}
	return KC_ENOTFOUND;
}

sched_node_info *sched_node_info_filtered(const sched_node_info *ni,
					  bool (*keep)(const sched_pod *p, void *arg), void *arg)
{
	sched_node_info *c = node_alloc();
	if (!c)
		return NULL;
	c->node = kc_json_dup(ni->node);
	if (!c->node) {
		free(c);
		return NULL;
	}
	bind_node_fields(c);
	c->unschedulable = ni->unschedulable;
	c->allocatable = ni->allocatable;
	if (ni->nimages && !(c->images = calloc((size_t)ni->nimages, sizeof(*c->images)))) {
		sched_node_info_free(c);
		return NULL;
	}
	for (int i = 0; i < ni->nimages; i++) {
		if (!(c->images[i].name = strdup(ni->images[i].name))) {
			sched_node_info_free(c);
			return NULL;
		}
		c->images[i].size = ni->images[i].size;
		c->nimages++;
	}
	for (int i = 0; i < ni->npods; i++)
		if (keep(ni->pods[i], arg) && sched_node_info_add_pod(c, ni->pods[i]) != 0) {
			sched_node_info_free(c);
			return NULL;
		}
	return c;
}

int64_t sched_node_image_size(const sched_node_info *ni, const char *norm_name)
{
	for (int i = 0; i < ni->nimages; i++)
		if (strcmp(ni->images[i].name, norm_name) == 0)
			return ni->images[i].size;
	return -1;
}
