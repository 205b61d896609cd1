/* The informers' transform and its string pool (see transform.h). */
#include "transform.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define POOL_BLOCK 16384

/* ---- the string pool ---- */

static uint64_t pool_hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL; /* FNV-1a */
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

int cm_strpool_init(cm_strpool *p, size_t max_n, size_t max_len)
{
	memset(p, 0, sizeof(*p));
	p->max_n = max_n ? max_n : 16384;
	p->max_len = max_len ? max_len : 63;
	if (p->max_len >= POOL_BLOCK)
		p->max_len = POOL_BLOCK - 1;
	/* load factor at most 1/2 */
	p->nslots = 16;
	while (p->nslots < 2 * p->max_n)
		p->nslots *= 2;
	p->slots = calloc(p->nslots, sizeof(*p->slots));
	if (!p->slots)
		return -ENOMEM;
	pthread_mutex_init(&p->mu, NULL);
	return 0;
}

void cm_strpool_close(cm_strpool *p)
{
	if (!p || !p->slots)
		return;
	for (size_t i = 0; i < p->nblocks; i++)
		free(p->blocks[i]);
	free(p->blocks);
	free(p->slots);
	pthread_mutex_destroy(&p->mu);
	memset(p, 0, sizeof(*p));
}

/* Room for len bytes in the current block (a new block when full); NULL on ENOMEM. */
static char *pool_alloc(cm_strpool *p, size_t len)
{
	if (!p->block || p->block_used + len > p->block_cap) {
		if (p->nblocks == p->cap_blocks) {
			size_t nc = p->cap_blocks ? p->cap_blocks * 2 : 8;
			char **nb = realloc(p->blocks, nc * sizeof(*nb));
			if (!nb)
				return NULL;
			p->blocks = nb;
			p->cap_blocks = nc;
		}
		char *b = malloc(POOL_BLOCK);
		if (!b)
			return NULL;
		p->blocks[p->nblocks++] = b;
		p->block = b;
		p->block_used = 0;
		p->block_cap = POOL_BLOCK;
	}
	char *s = p->block + p->block_used;
	p->block_used += len;
	p->bytes += len;
	return s;
}

/* As cm_strpool_intern, adding s only while fewer than limit strings are held. */
static const char *intern_upto(cm_strpool *p, const char *s, size_t limit)
{
	if (!p || !p->slots || !s)
		return NULL;
	size_t len = strlen(s);
	if (len > p->max_len)
		return NULL;
	uint64_t h = pool_hash(s);
	const char *out = NULL;
	pthread_mutex_lock(&p->mu);
	size_t i = (size_t)h & (p->nslots - 1);
	for (; p->slots[i]; i = (i + 1) & (p->nslots - 1)) {
		if (!strcmp(p->slots[i], s)) {
			out = p->slots[i];
			goto done;
		}
	}
	if (p->n >= limit)
		goto done;
	char *c = pool_alloc(p, len + 1);
	if (!c)
		goto done;
	memcpy(c, s, len + 1);
	p->slots[i] = c;
	p->n++;
	out = c;
done:
	pthread_mutex_unlock(&p->mu);
	return out;
}

const char *cm_strpool_intern(cm_strpool *p, const char *s)
{
	return intern_upto(p, s, p ? p->max_n : 0);
}

size_t cm_strpool_len(cm_strpool *p)
{
	pthread_mutex_lock(&p->mu);
	size_t n = p->n;
	pthread_mutex_unlock(&p->mu);
	return n;
}

/* ---- compaction ---- */

/* Values worth pooling: few distinct values across all objects (kinds, API versions,
 * namespaces, enums, images, node names), keyed by the member name. */
static const char *const pooled_values[] = {
	"apiVersion", "kind", "namespace", "image", "imagePullPolicy", "restartPolicy",
	"dnsPolicy", "schedulerName", "terminationMessagePath", "terminationMessagePolicy",
	"serviceAccountName", "serviceAccount", "effect", "key", "operator", "type", "status",
	"reason", "phase", "qosClass", "protocol", "nodeName", "preemptionPolicy", "hostIP",
	"priorityClassName", "addressType", "sessionAffinity", "ipFamilyPolicy",
	"internalTrafficPolicy", "clusterIP", "app", "pod-template-hash",
	"deployment.kubernetes.io/revision", "deployment.kubernetes.io/desired-replicas",
	"deployment.kubernetes.io/max-replicas", NULL
};

static bool pool_value_of(const char *key)
{
	if (!key)
		return false;
	for (int i = 0; pooled_values[i]; i++)
		if (!strcmp(pooled_values[i], key))
			return true;
	return false;
}

/* A copy of s at its exact size (cJSON's allocator), or NULL on ENOMEM. */
static char *exact_copy(const char *s)
{
	size_t n = strlen(s) + 1;
	char *c = cJSON_malloc(n);
	if (c)
		memcpy(c, s, n);
	return c;
}

static void compact_key(cJSON *it, cm_strpool *pool)
{
	if (!it->string || (it->type & cJSON_StringIsConst))
		return;
	const char *k = cm_strpool_intern(pool, it->string);
	if (k) {
		cJSON_free(it->string);
		it->string = (char *)k;
		it->type |= cJSON_StringIsConst;
		return;
	}
	char *c = exact_copy(it->string);
	if (c) {
		cJSON_free(it->string);
		it->string = c;
	}
}

static void compact_value(cJSON *it, const char *key, cm_strpool *pool)
{
	int t = it->type & 0xFF;
	if ((t != cJSON_String && t != cJSON_Raw) || !it->valuestring ||
	    (it->type & cJSON_IsReference))
		return;
	/* strings (cJSON_IsReference: not freed by cJSON_Delete, copied by
	 * cJSON_Duplicate); Raw numbers of up to three digits ("0", "30", "300") */
	bool pool_it = t == cJSON_String ? pool_value_of(key) : strlen(it->valuestring) <= 3;
	if (pool_it && t == cJSON_String) {
		/* values may fill half the pool: keys matter more */
		const char *v = intern_upto(pool, it->valuestring, pool ? pool->max_n / 2 : 0);
		if (v) {
			cJSON_free(it->valuestring);
			it->valuestring = (char *)v;
			it->type |= cJSON_IsReference;
			return;
		}
	}
	/* a Raw keeps its own string: kc_json helpers may not expect a reference there */
	char *c = exact_copy(it->valuestring);
	if (c) {
		cJSON_free(it->valuestring);
		it->valuestring = c;
	}
}

static void compact(cJSON *it, const char *key, cm_strpool *pool)
{
	for (; it; it = it->next) {
		compact_key(it, pool);
		const char *k = it->string ? it->string : key; /* array items: the array's key */
		if (it->child)
			compact(it->child, k, pool);
		else
			compact_value(it, k, pool);
	}
}

/* A compact deep copy of it (next/prev unset): pooled or exact-size strings, as
 * compact() leaves them. NULL on ENOMEM. */
static cJSON *copy_node(const cJSON *it, const char *key, cm_strpool *pool)
{
	cJSON *n = cJSON_malloc(sizeof(*n));
	if (!n)
		return NULL;
	memset(n, 0, sizeof(*n));
	n->type = it->type & ~(cJSON_IsReference | cJSON_StringIsConst);
	n->valueint = it->valueint;
	n->valuedouble = it->valuedouble;
	if (it->string) {
		const char *k = cm_strpool_intern(pool, it->string);
		if (k) {
			n->string = (char *)k;
			n->type |= cJSON_StringIsConst;
		} else if (!(n->string = exact_copy(it->string))) {
			goto fail;
		}
	}
	const char *vk = it->string ? n->string : key; /* array items: the array's key */
	if (it->valuestring) {
		const char *v = NULL;
		/* values may fill half the pool: keys matter more */
		if ((it->type & 0xFF) == cJSON_String && pool_value_of(vk))
			v = intern_upto(pool, it->valuestring, pool ? pool->max_n / 2 : 0);
		if (v) {
			n->valuestring = (char *)v;
			n->type |= cJSON_IsReference;
		} else if (!(n->valuestring = exact_copy(it->valuestring))) {
			goto fail;
		}
	}
	cJSON *last = NULL;
	for (const cJSON *c = it->child; c; c = c->next) {
		cJSON *cc = copy_node(c, vk, pool);
		if (!cc)
			goto fail;
		if (last) {
			last->next = cc;
			cc->prev = last;
		} else {
			n->child = cc;
		}
		last = cc;
	}
	if (n->child)
		n->child->prev = last; /* cJSON: the first child's prev is the last one */
	return n;
fail:
	cJSON_Delete(n);
	return NULL;
}

void cm_transform_compact(cJSON *obj, cm_strpool *pool)
{
	if (!obj)
		return;
	compact_value(obj, NULL, pool);
	if (!obj->child)
		return;
	/* Copy the members into new allocations rather than shrinking the strings in place:
	 * a list or watch event parsed whole leaves every node where the parser put it,
	 * between strings that compacting frees, so the cache would hold pages at a
	 * fraction of their use. A copy made while the parsed original is still live, then
	 * the original freed, lets the next object's copy reuse that memory: after an
	 * initial list of thousands of objects the cache ends up dense and the rest can
	 * be trimmed. The root node stays (the informer holds its address). */
	cJSON *first = NULL, *last = NULL;
	for (const cJSON *c = obj->child; c; c = c->next) {
		cJSON *cc = copy_node(c, obj->string, pool);
		if (!cc) {
			while (first) {
				cJSON *next = first->next;
				first->next = first->prev = NULL;
				cJSON_Delete(first);
				first = next;
			}
			compact(obj->child, obj->string, pool); /* ENOMEM: shrink in place */
			return;
		}
		if (last) {
			last->next = cc;
			cc->prev = last;
		} else {
			first = cc;
		}
		last = cc;
	}
	cJSON *c = obj->child;
	while (c) {
		cJSON *next = c->next;
		c->next = c->prev = NULL;
		cJSON_Delete(c);
		c = next;
	}
	first->prev = last;
	obj->child = first;
}

/* ---- per-resource pruning ---- */

/* Keep only the named members of object o. */
static void keep_only(cJSON *o, const char *const *keep)
{
	if (!cJSON_IsObject(o))
		return;
	cJSON *c = o->child;
	while (c) {
		cJSON *next = c->next;
		bool k = false;
		for (int i = 0; keep[i] && !k; i++)
			k = c->string && !strcmp(c->string, keep[i]);
		if (!k)
			cJSON_Delete(cJSON_DetachItemViaPointer(o, c));
		c = next;
	}
}

static void prune_pod(cJSON *pod)
{
	cJSON *spec = cJSON_GetObjectItemCaseSensitive(pod, "spec");
	static const char *const spec_keep[] = { "nodeName", "hostname", "subdomain",
						 "restartPolicy", "tolerations", "containers",
						 "initContainers", NULL };
	static const char *const ctr_keep[] = { "name", "ports", "restartPolicy", NULL };
	keep_only(spec, spec_keep);
	const char *lists[] = { "containers", "initContainers" };
	for (int i = 0; i < 2; i++) {
		cJSON *c;
		cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(spec, lists[i]))
			keep_only(c, ctr_keep);
	}
}

static const char *const top_meta[] = { "apiVersion", "kind", "metadata", NULL };

void cm_transform_object(const char *resource, cJSON *obj, cm_strpool *pool)
{
	if (!cJSON_IsObject(obj))
		return;
	cJSON *md = cJSON_GetObjectItemCaseSensitive(obj, "metadata");
	cJSON_DeleteItemFromObjectCaseSensitive(md, "managedFields");
	if (resource) {
		if (!strcmp(resource, "pods")) {
			prune_pod(obj);
		} else if (!strcmp(resource, "configmaps")) {
			/* the root CA publisher reads its own ConfigMap's data */
			const cJSON *n = cJSON_GetObjectItemCaseSensitive(md, "name");
			if (!cJSON_IsString(n) || strcmp(n->valuestring, "kube-root-ca.crt"))
				keep_only(obj, top_meta);
		} else if (!strcmp(resource, "serviceaccounts") ||
			   !strcmp(resource, "persistentvolumeclaims") ||
			   !strcmp(resource, "daemonsets") ||
			   !strcmp(resource, "controllerrevisions")) {
			keep_only(obj, top_meta);
		} else if (!strcmp(resource, "statefulsets")) {
			static const char *const keep[] = { "apiVersion", "kind", "metadata",
							    "spec", NULL };
			static const char *const spec_keep[] = { "replicas", "selector", NULL };
			keep_only(obj, keep);
			keep_only(cJSON_GetObjectItemCaseSensitive(obj, "spec"), spec_keep);
		}
	}
	cm_transform_compact(obj, pool);
}
