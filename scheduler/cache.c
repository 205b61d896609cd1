/* The scheduler cache; see cache.h. Linear lookups by name/key. */
#include "cache.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"
#include "json.h"
#include "log.h"

void sched_cache_init(sched_cache *c)
{
	memset(c, 0, sizeof(*c));
	pthread_mutex_init(&c->mu, NULL);
	sched_strmap_init(&c->node_idx);
	sched_strmap_init(&c->pod_idx);
}

void sched_cache_close(sched_cache *c)
{
	for (int i = 0; i < c->nnodes; i++)
		sched_node_info_free(c->nodes[i]);
	for (int i = 0; i < c->npods; i++)
		sched_pod_free(c->pods[i].pod);
	free(c->nodes);
	free(c->pods);
	sched_strmap_close(&c->node_idx);
	sched_strmap_close(&c->pod_idx);
	pthread_mutex_destroy(&c->mu);
	memset(c, 0, sizeof(*c));
}

void sched_cache_lock(sched_cache *c)
{
	pthread_mutex_lock(&c->mu);
}

void sched_cache_unlock(sched_cache *c)
{
	pthread_mutex_unlock(&c->mu);
}

/* Add (sign 1) or take out (-1) a node info's share of the cluster totals: called around
 * every change of a node info. */
static void account(sched_cache *c, const sched_node_info *ni, int sign)
{
	c->affinity_pods += sign * ni->naffinity;
	c->anti_pods += sign * ni->nanti;
	c->nodes_with_images += sign * (ni->nimages > 0);
}

static int find_node(sched_cache *c, const char *name)
{
	return sched_strmap_get(&c->node_idx, name);
}

static int find_pod(sched_cache *c, const char *key)
{
	return sched_strmap_get(&c->pod_idx, key);
}

int sched_cache_upsert_node(sched_cache *c, const cJSON *node)
{
	char err[256];
	const char *name = kc_json_get_string(node, "metadata.name", "");
	pthread_mutex_lock(&c->mu);
	int i = find_node(c, name);
	int rc = 0;
	if (i >= 0) {
		/* drop the key before the object holding it is replaced */
		sched_strmap_del(&c->node_idx, c->nodes[i]->name);
		account(c, c->nodes[i], -1);
		rc = sched_node_info_set_node(c->nodes[i], node, err, sizeof(err));
		account(c, c->nodes[i], 1);
		/* the name now lives in the new object */
		if (sched_strmap_put(&c->node_idx, c->nodes[i]->name, i) != 0)
			rc = -ENOMEM;
	} else {
		sched_node_info *ni = NULL;
		rc = sched_node_info_new(node, &ni, err, sizeof(err));
		if (rc == 0 && c->nnodes == c->capnodes) {
			int cap = c->capnodes ? c->capnodes * 2 : 16;
			sched_node_info **nn = realloc(c->nodes, (size_t)cap * sizeof(*nn));
			if (!nn) {
				sched_node_info_free(ni);
				rc = -ENOMEM;
			} else {
				c->nodes = nn;
				c->capnodes = cap;
			}
		}
		if (rc == 0 && sched_strmap_put(&c->node_idx, ni->name, c->nnodes) != 0) {
			sched_node_info_free(ni);
			rc = -ENOMEM;
		}
		if (rc == 0) {
			c->nodes[c->nnodes++] = ni;
			/* attach pods that arrived before their node */
			for (int p = 0; p < c->npods; p++)
				if (strcmp(c->pods[p].pod->node_name, ni->name) == 0)
					sched_node_info_add_pod(ni, c->pods[p].pod);
			account(c, ni, 1);
		}
	}
	pthread_mutex_unlock(&c->mu);
	if (rc)
		kc_warn("node %s: ignoring update: %s", name, err);
	return rc;
}

void sched_cache_remove_node(sched_cache *c, const char *name)
{
	pthread_mutex_lock(&c->mu);
	int i = find_node(c, name);
	if (i >= 0) {
		sched_strmap_del(&c->node_idx, name);
		account(c, c->nodes[i], -1);
		sched_node_info_free(c->nodes[i]);
		c->nodes[i] = c->nodes[--c->nnodes];
		if (i < c->nnodes)
			sched_strmap_put(&c->node_idx, c->nodes[i]->name, i);
	}
	pthread_mutex_unlock(&c->mu);
}

static void detach(sched_cache *c, int pi)
{
	int ni = find_node(c, c->pods[pi].pod->node_name);
	if (ni >= 0) {
		account(c, c->nodes[ni], -1);
		sched_node_info_remove_pod(c->nodes[ni], c->pods[pi].pod->key);
		account(c, c->nodes[ni], 1);
	}
}

static int insert_pod_locked(sched_cache *c, sched_pod *p, const char *node, bool assumed)
{
	int i = find_pod(c, p->key);
	if (i >= 0) {
		detach(c, i);
		sched_strmap_del(&c->pod_idx, c->pods[i].pod->key);
		sched_pod_free(c->pods[i].pod);
	} else {
		if (c->npods == c->cappods) {
			int cap = c->cappods ? c->cappods * 2 : 64;
			sched_cache_pod *np = realloc(c->pods, (size_t)cap * sizeof(*np));
			if (!np) {
				sched_pod_free(p);
				return -ENOMEM;
			}
			c->pods = np;
			c->cappods = cap;
		}
		i = c->npods++;
	}
	if (sched_strmap_put(&c->pod_idx, p->key, i) != 0) {
		/* keep the array and the index consistent: drop the slot */
		c->pods[i] = c->pods[--c->npods];
		if (i < c->npods)
			sched_strmap_put(&c->pod_idx, c->pods[i].pod->key, i);
		sched_pod_free(p);
		return -ENOMEM;
	}
	c->pods[i].pod = p;
	c->pods[i].assumed = assumed;
	int ni = find_node(c, node);
	if (ni < 0)
		return 0;
	account(c, c->nodes[ni], -1);
	int rc = sched_node_info_add_pod(c->nodes[ni], p);
	account(c, c->nodes[ni], 1);
	return rc;
}

static void remove_pod_locked(sched_cache *c, int i)
{
	detach(c, i);
	sched_strmap_del(&c->pod_idx, c->pods[i].pod->key);
	sched_pod_free(c->pods[i].pod);
	c->pods[i] = c->pods[--c->npods];
	if (i < c->npods)
		sched_strmap_put(&c->pod_idx, c->pods[i].pod->key, i);
}

int sched_cache_upsert_pod_known(sched_cache *c, const cJSON *pod, const char *key,
				 bool *known)
{
	char err[256];
	sched_pod *p = NULL;
	int rc = sched_pod_new(pod, &p, err, sizeof(err));
	if (rc) {
		kc_warn("pod %s/%s: not cached: %s", kc_json_get_string(pod, "metadata.namespace", ""),
			kc_json_get_string(pod, "metadata.name", ""), err);
		if (known)
			*known = sched_cache_has_pod(c, key);
		return rc;
	}
	pthread_mutex_lock(&c->mu);
	if (known)
		*known = find_pod(c, key) >= 0;
	rc = insert_pod_locked(c, p, p->node_name, false);
	pthread_mutex_unlock(&c->mu);
	return rc;
}

int sched_cache_upsert_pod(sched_cache *c, const cJSON *pod)
{
	return sched_cache_upsert_pod_known(c, pod, "", NULL);
}

void sched_cache_remove_pod(sched_cache *c, const char *key)
{
	pthread_mutex_lock(&c->mu);
	int i = find_pod(c, key);
	if (i >= 0)
		remove_pod_locked(c, i);
	pthread_mutex_unlock(&c->mu);
}

int sched_cache_assume_locked(sched_cache *c, const sched_pod *pod, const char *node)
{
	sched_pod *p = NULL;
	int rc = sched_pod_dup(pod, node, &p);
	if (rc)
		return rc;
	return insert_pod_locked(c, p, node, true);
}

void sched_cache_forget(sched_cache *c, const char *key)
{
	pthread_mutex_lock(&c->mu);
	int i = find_pod(c, key);
	if (i >= 0 && c->pods[i].assumed)
		remove_pod_locked(c, i);
	pthread_mutex_unlock(&c->mu);
}

bool sched_cache_is_assumed(sched_cache *c, const char *key)
{
	pthread_mutex_lock(&c->mu);
	int i = find_pod(c, key);
	bool a = i >= 0 && c->pods[i].assumed;
	pthread_mutex_unlock(&c->mu);
	return a;
}

bool sched_cache_has_pod(sched_cache *c, const char *key)
{
	pthread_mutex_lock(&c->mu);
	bool has = find_pod(c, key) >= 0;
	pthread_mutex_unlock(&c->mu);
	return has;
}

int sched_cache_node_count(sched_cache *c)
{
	pthread_mutex_lock(&c->mu);
	int n = c->nnodes;
	pthread_mutex_unlock(&c->mu);
	return n;
}

int sched_cache_pod_count(sched_cache *c, int *assumed)
{
	pthread_mutex_lock(&c->mu);
	int n = c->npods, a = 0;
	for (int i = 0; i < c->npods; i++)
		a += c->pods[i].assumed;
	pthread_mutex_unlock(&c->mu);
	if (assumed)
		*assumed = a;
	return n;
}
