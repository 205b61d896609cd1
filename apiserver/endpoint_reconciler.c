#include "endpoint_reconciler.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bootstrap.h"
#include "log.h"

struct epr {
	reg *r;
	kc_etcd *etcd;
	char prefix[256];
	char ip[64];
	int port;
	int64_t lease; /* 0 until granted */
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int stop;
	int started;
};

/* <prefix>/masterleases/ (upstream's key space for apiserver leases) */
static void lease_dir(const char *prefix, char *buf, size_t len)
{
	size_t n = strlen(prefix);
	while (n && prefix[n - 1] == '/')
		n--;
	snprintf(buf, len, "%.*s/masterleases/", (int)n, prefix);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void epr_ips_free(char **ips, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(ips[i]);
	free(ips);
}

int epr_list_ips(kc_etcd *etcd, const char *prefix, char ***ips_out, size_t *n_out)
{
	char dir[300];
	lease_dir(prefix, dir, sizeof(dir));
	size_t dl = strlen(dir);
	uint8_t end[300];
	size_t el = kc_etcd_prefix_end(dir, dl, end);
	struct kc_etcd_range_req q = { .key = dir, .key_len = dl, .range_end = end,
				       .range_end_len = el, .keys_only = true };
	struct kc_etcd_range_resp resp;
	struct kc_etcd_error err;
	memset(&resp, 0, sizeof(resp));
	int rc = kc_etcd_range(etcd, &q, &resp, &err);
	if (rc) {
		kc_warn("endpoint reconciler: listing %s: %s", dir, err.message);
		return rc;
	}
	char **ips = calloc(resp.n_kvs ? resp.n_kvs : 1, sizeof(char *));
	size_t n = 0;
	if (!ips) {
		kc_etcd_range_resp_free(&resp);
		return -ENOMEM;
	}
	for (size_t i = 0; i < resp.n_kvs; i++) {
		const struct kc_etcd_kv *kv = &resp.kvs[i];
		if (kv->key_len <= dl || kv->key_len - dl > 63)
			continue;
		ips[n] = strndup((const char *)kv->key + dl, kv->key_len - dl);
		if (ips[n])
			n++;
	}
	kc_etcd_range_resp_free(&resp);
	qsort(ips, n, sizeof(char *), cmp_str);
	*ips_out = ips;
	*n_out = n;
	return 0;
}

/* Keep our key alive: renew the lease, or grant a new one and (re)write the key under it
 * when the old lease is gone (first run, store restored, lease expired while the store was
 * unreachable). */
static int update_lease(epr *e)
{
	struct kc_etcd_error err;
	int64_t ttl = 0;
	if (e->lease && kc_etcd_lease_keepalive_once(e->etcd, e->lease, &ttl, &err) == 0 && ttl > 0)
		return 0;
	int64_t id = 0;
	int rc = kc_etcd_lease_grant(e->etcd, EPR_LEASE_TTL_S, 0, &id, &ttl, &err);
	if (rc) {
		kc_warn("endpoint reconciler: lease grant: %s", err.message);
		return rc;
	}
	char key[400];
	lease_dir(e->prefix, key, sizeof(key));
	strncat(key, e->ip, sizeof(key) - strlen(key) - 1);
	/* The value is an Endpoints object naming this apiserver, as upstream stores it. */
	char val[256];
	snprintf(val, sizeof(val),
		 "{\"kind\":\"Endpoints\",\"apiVersion\":\"v1\",\"metadata\":{\"creationTimestamp\":null},"
		 "\"subsets\":[{\"addresses\":[{\"ip\":\"%s\"}]}]}",
		 e->ip);
	struct kc_etcd_put_req p = { .key = key, .key_len = strlen(key), .value = val,
				     .value_len = strlen(val), .lease = id };
	struct kc_etcd_put_resp pr;
	memset(&pr, 0, sizeof(pr));
	rc = kc_etcd_put(e->etcd, &p, &pr, &err);
	kc_etcd_put_resp_free(&pr);
	if (rc) {
		kc_warn("endpoint reconciler: put %s: %s", key, err.message);
		return rc;
	}
	e->lease = id;
	return 0;
}

/* Write the kubernetes endpoints from the live keys (ours included unless stopping). */
static int reconcile(epr *e)
{
	char **ips = NULL;
	size_t n = 0;
	int rc = epr_list_ips(e->etcd, e->prefix, &ips, &n);
	if (rc)
		return rc;
	rc = boot_kubernetes_endpoints(e->r, (const char *const *)ips, n, e->port);
	epr_ips_free(ips, n);
	return rc;
}

static void *run(void *arg)
{
	epr *e = arg;
	pthread_mutex_lock(&e->mu);
	while (!e->stop) {
		struct timespec until;
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += EPR_INTERVAL_S;
		while (!e->stop && pthread_cond_timedwait(&e->cv, &e->mu, &until) != ETIMEDOUT)
			;
		if (e->stop)
			break;
		pthread_mutex_unlock(&e->mu);
		if (update_lease(e) == 0)
			reconcile(e);
		pthread_mutex_lock(&e->mu);
	}
	pthread_mutex_unlock(&e->mu);
	return NULL;
}

int epr_start(reg *r, kc_etcd *etcd, const char *prefix, const char *ip, int port, epr **out)
{
	epr *e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	e->r = r;
	e->etcd = etcd;
	snprintf(e->prefix, sizeof(e->prefix), "%s", prefix ? prefix : "/registry");
	snprintf(e->ip, sizeof(e->ip), "%s", ip);
	e->port = port;
	pthread_mutex_init(&e->mu, NULL);
	pthread_cond_init(&e->cv, NULL);
	if (update_lease(e) == 0)
		reconcile(e);
	int rc = pthread_create(&e->thread, NULL, run, e);
	if (rc) {
		pthread_mutex_destroy(&e->mu);
		pthread_cond_destroy(&e->cv);
		free(e);
		return -rc;
	}
	e->started = 1;
	*out = e;
	return 0;
}

void epr_stop(epr *e)
{
	if (!e)
		return;
	pthread_mutex_lock(&e->mu);
	e->stop = 1;
	pthread_cond_broadcast(&e->cv);
	pthread_mutex_unlock(&e->mu);
	if (e->started)
		pthread_join(e->thread, NULL);
	/* upstream's RemoveEndpoints: drop our key (revoking the lease deletes it) and
	 * rewrite the endpoints without us. */
	if (e->lease) {
		struct kc_etcd_error err;
		if (kc_etcd_lease_revoke(e->etcd, e->lease, &err))
			kc_warn("endpoint reconciler: revoking lease: %s", err.message);
		else
			reconcile(e);
	}
	pthread_mutex_destroy(&e->mu);
	pthread_cond_destroy(&e->cv);
	free(e);
}
