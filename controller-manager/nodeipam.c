/* Node IPAM range allocator (see nodeipam.h). */
#include "nodeipam.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"
#include "json.h"
#include "log.h"
#include "meta.h"

/* Parse an IPv4 "a.b.c.d/n" into the network address (host order) and prefix length. */
static int parse_cidr4(const char *s, uint32_t *addr, int *bits)
{
	char buf[64];
	const char *slash = strchr(s, '/');
	if (!slash || (size_t)(slash - s) >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, s, (size_t)(slash - s));
	buf[slash - s] = 0;
	struct in_addr in;
	if (inet_pton(AF_INET, buf, &in) != 1)
		return -EINVAL;
	char *end;
	long n = strtol(slash + 1, &end, 10);
	if (!slash[1] || *end || n < 0 || n > 32)
		return -EINVAL;
	uint32_t a = ntohl(in.s_addr);
	uint32_t mask = n ? 0xffffffffu << (32 - n) : 0;
	*addr = a & mask;
	*bits = (int)n;
	return 0;
}

static void format_cidr4(uint32_t addr, int bits, char *out, size_t len)
{
	snprintf(out, len, "%u.%u.%u.%u/%d", addr >> 24, (addr >> 16) & 255, (addr >> 8) & 255,
		 addr & 255, bits);
}

static bool bit_get(const nodeipam_controller *nc, uint32_t i)
{
	return nc->used[i / 8] & (1u << (i % 8));
}

static void bit_set(nodeipam_controller *nc, uint32_t i, bool v)
{
	if (v)
		nc->used[i / 8] |= (uint8_t)(1u << (i % 8));
	else
		nc->used[i / 8] &= (uint8_t)~(1u << (i % 8));
}

/* Index of cidr in the cluster range; -1 when it is not one of our subnets. */
static int64_t subnet_index(const nodeipam_controller *nc, const char *cidr)
{
	uint32_t a;
	int bits;
	if (parse_cidr4(cidr, &a, &bits) < 0 || bits != nc->node_bits)
		return -1;
	uint32_t cmask = nc->cluster_bits ? 0xffffffffu << (32 - nc->cluster_bits) : 0;
	if ((a & cmask) != nc->base)
		return -1;
	return (int64_t)((a - nc->base) >> (32 - nc->node_bits));
}

int nodeipam_init(nodeipam_controller *nc, cm_lister *lister, cm_api *api,
		  const char *cluster_cidr, const char *service_cidr, int mask_size, char *err,
		  size_t errlen)
{
	memset(nc, 0, sizeof(*nc));
	nc->lister = lister;
	nc->api = api;
	nc->svc_bits = -1;
	if (!cluster_cidr || !*cluster_cidr) {
		snprintf(err, errlen, "--cluster-cidr is required with --allocate-node-cidrs");
		return -EINVAL;
	}
	if (strchr(cluster_cidr, ':') || strchr(cluster_cidr, ',')) {
		snprintf(err, errlen, "--cluster-cidr %s: only a single IPv4 range is supported",
			 cluster_cidr);
		return -EINVAL;
	}
	if (parse_cidr4(cluster_cidr, &nc->base, &nc->cluster_bits) < 0) {
		snprintf(err, errlen, "invalid --cluster-cidr %s", cluster_cidr);
		return -EINVAL;
	}
	nc->node_bits = mask_size > 0 ? mask_size : NODEIPAM_DEFAULT_MASK_V4;
	if (nc->node_bits > 32 || nc->node_bits < nc->cluster_bits ||
	    nc->node_bits - nc->cluster_bits > NODEIPAM_MAX_DIFF) {
		/* upstream cidrset.NewCIDRSet: "CIDRSet: mask size too big" */
		snprintf(err, errlen,
			 "--node-cidr-mask-size %d does not fit --cluster-cidr %s (must be between "
			 "%d and %d)",
			 nc->node_bits, cluster_cidr, nc->cluster_bits,
			 nc->cluster_bits + NODEIPAM_MAX_DIFF);
		return -EINVAL;
	}
	if (service_cidr && *service_cidr && !strchr(service_cidr, ':') &&
	    parse_cidr4(service_cidr, &nc->svc_base, &nc->svc_bits) < 0) {
		snprintf(err, errlen, "invalid --service-cluster-ip-range %s", service_cidr);
		return -EINVAL;
	}
	nc->nsubnets = 1u << (nc->node_bits - nc->cluster_bits);
	nc->used = calloc((nc->nsubnets + 7) / 8, 1);
	if (!nc->used)
		return -ENOMEM;
	pthread_mutex_init(&nc->mu, NULL);
	/* filterOutServiceRange: subnets overlapping the service range are never handed out */
	if (nc->svc_bits >= 0) {
		for (uint32_t i = 0; i < nc->nsubnets; i++) {
			uint32_t sa = nc->base + (i << (32 - nc->node_bits));
			int b = nc->svc_bits < nc->node_bits ? nc->svc_bits : nc->node_bits;
			uint32_t m = b ? 0xffffffffu << (32 - b) : 0;
			if ((sa & m) == (nc->svc_base & m))
				bit_set(nc, i, true);
		}
	}
	return 0;
}

void nodeipam_close(nodeipam_controller *nc)
{
	if (!nc->used)
		return;
	free(nc->used);
	nc->used = NULL;
	pthread_mutex_destroy(&nc->mu);
}

uint32_t nodeipam_used(nodeipam_controller *nc)
{
	uint32_t n = 0;
	pthread_mutex_lock(&nc->mu);
	for (uint32_t i = 0; i < nc->nsubnets; i++)
		n += bit_get(nc, i);
	pthread_mutex_unlock(&nc->mu);
	return n;
}

/* Occupy the subnets of every node in the cache (upstream NewCIDRRangeAllocator's
 * occupyCIDRs over the initial node list). Called with mu held. */
static int rebuild(nodeipam_controller *nc)
{
	cJSON *nodes = NULL;
	int rc = nc->lister->list(nc->lister, "nodes", NULL, &nodes);
	if (rc < 0)
		return rc;
	const cJSON *n, *c;
	cJSON_ArrayForEach(n, nodes)
	{
		cJSON_ArrayForEach(c, kc_json_get(n, "spec.podCIDRs"))
		{
			int64_t i = cJSON_IsString(c) ? subnet_index(nc, c->valuestring) : -1;
			if (i >= 0)
				bit_set(nc, (uint32_t)i, true);
		}
		int64_t i = subnet_index(nc, kc_json_get_string(n, "spec.podCIDR", ""));
		if (i >= 0)
			bit_set(nc, (uint32_t)i, true);
	}
	cJSON_Delete(nodes);
	nc->rebuilt = true;
	return 0;
}

static bool cidr_in_use(nodeipam_controller *nc, const char *cidr)
{
	cJSON *nodes = NULL;
	if (nc->lister->list(nc->lister, "nodes", NULL, &nodes) < 0)
		return true; /* unsure: keep it */
	bool used = false;
	const cJSON *n;
	cJSON_ArrayForEach(n, nodes)
	{
		if (!strcmp(kc_json_get_string(n, "spec.podCIDR", ""), cidr))
			used = true;
	}
	cJSON_Delete(nodes);
	return used;
}

int nodeipam_sync(void *arg, const char *key)
{
	nodeipam_controller *nc = arg;
	pthread_mutex_lock(&nc->mu);
	int rc = nc->rebuilt ? 0 : rebuild(nc);
	pthread_mutex_unlock(&nc->mu);
	if (rc < 0)
		return rc;
	if (!strncmp(key, NODEIPAM_RELEASE_PREFIX, strlen(NODEIPAM_RELEASE_PREFIX))) {
		const char *cidr = key + strlen(NODEIPAM_RELEASE_PREFIX);
		int64_t i = subnet_index(nc, cidr);
		if (i < 0 || cidr_in_use(nc, cidr))
			return 0;
		pthread_mutex_lock(&nc->mu);
		bit_set(nc, (uint32_t)i, false);
		pthread_mutex_unlock(&nc->mu);
		kc_info("nodeipam: released CIDR %s of a deleted node", cidr);
		return 0;
	}
	cJSON *node = NULL;
	rc = nc->lister->get(nc->lister, "nodes", "", key, &node);
	if (rc == KC_ENOTFOUND)
		return 0;
	if (rc < 0)
		return rc;
	const char *have = kc_json_get_string(node, "spec.podCIDR", "");
	if (*have) {
		/* assigned already (by us before a restart, or by hand): keep it occupied */
		int64_t i = subnet_index(nc, have);
		if (i >= 0) {
			pthread_mutex_lock(&nc->mu);
			bit_set(nc, (uint32_t)i, true);
			pthread_mutex_unlock(&nc->mu);
		}
		cJSON_Delete(node);
		return 0;
	}
	/* cidrset.AllocateNext: the first free subnet from the rotating candidate */
	int64_t got = -1;
	pthread_mutex_lock(&nc->mu);
	for (uint32_t k = 0; k < nc->nsubnets; k++) {
		uint32_t i = (nc->next + k) % nc->nsubnets;
		if (!bit_get(nc, i)) {
			bit_set(nc, i, true);
			nc->next = (i + 1) % nc->nsubnets;
			got = i;
			break;
		}
	}
	pthread_mutex_unlock(&nc->mu);
	if (got < 0) {
		char msg[512];
		snprintf(msg, sizeof(msg), "Node %s status is now: CIDRNotAvailable", key);
		nc->api->event(nc->api, node, "v1", "Node", "Normal", "CIDRNotAvailable", msg);
		kc_error("nodeipam: failed to allocate a CIDR for node %s: the cluster CIDR is "
			 "exhausted", key);
		cJSON_Delete(node);
		return -ENOSPC;
	}
	char cidr[64];
	format_cidr4(nc->base + ((uint32_t)got << (32 - nc->node_bits)), nc->node_bits, cidr,
		     sizeof(cidr));
	cJSON *upd = kc_json_dup(node);
	kc_json_set_string(upd, "spec.podCIDR", cidr);
	cJSON *list = cJSON_CreateArray();
	cJSON_AddItemToArray(list, cJSON_CreateString(cidr));
	kc_json_delete(upd, "spec.podCIDRs");
	kc_json_set(upd, "spec.podCIDRs", list);
	/* a PUT with the cached resourceVersion: a node changed meanwhile answers 409 and
	 * is retried from the cache, so a node never gets two subnets */
	rc = nc->api->update(nc->api, "nodes", "", key, NULL, upd, NULL);
	cJSON_Delete(upd);
	if (rc < 0) {
		pthread_mutex_lock(&nc->mu);
		bit_set(nc, (uint32_t)got, false);
		pthread_mutex_unlock(&nc->mu);
		kc_warn("nodeipam: failed to set podCIDR %s on node %s: %s", cidr, key,
			kc_strerror(rc));
		cJSON_Delete(node);
		return rc == KC_ENOTFOUND ? 0 : rc;
	}
	kc_info("nodeipam: set node %s PodCIDR to [%s]", key, cidr);
	cJSON_Delete(node);
	return 0;
}

/* ---- handlers ---- */

/* every node once (a podCIDR set by hand is occupied by its sync), then only when
 * spec.podCIDR changes or is still missing: heartbeats do not queue anything */
static void on_node(const cJSON *obj, void *arg)
{
	cm_controller_enqueue_obj(((nodeipam_controller *)arg)->ctrl, obj);
}

static void on_node_update(const cJSON *old_obj, const cJSON *new_obj, void *arg)
{
	const char *now = kc_json_get_string(new_obj, "spec.podCIDR", "");
	if (!*now || strcmp(now, kc_json_get_string(old_obj, "spec.podCIDR", "")))
		on_node(new_obj, arg);
}

static void on_node_delete(const cJSON *obj, int final_state_unknown, void *arg)
{
	nodeipam_controller *nc = arg;
	(void)final_state_unknown;
	const char *cidr = kc_json_get_string(obj, "spec.podCIDR", "");
	if (!*cidr)
		return;
	char key[128];
	snprintf(key, sizeof(key), NODEIPAM_RELEASE_PREFIX "%s", cidr);
	cm_controller_enqueue(nc->ctrl, key);
}

int nodeipam_register(nodeipam_controller *nc, cm_informers *f)
{
	kc_informer *ni = cm_informers_get(f, "nodes");
	if (!ni)
		return -ENOMEM;
	kc_informer_handlers h = { on_node, on_node_update, on_node_delete, nc };
	return kc_informer_add_handlers(ni, &h);
}
