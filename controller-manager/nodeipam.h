/* Node IPAM (upstream pkg/controller/nodeipam, the RangeAllocator of
 * ipam/range_allocator.go over ipam/cidrset): with --allocate-node-cidrs, every Node
 * without spec.podCIDR gets the next free /--node-cidr-mask-size (24 by default for
 * IPv4) subnet of --cluster-cidr in spec.podCIDR and spec.podCIDRs.
 *
 * The allocation bitmap is the one piece of state upstream keeps outside the API: it is
 * rebuilt from the nodes in the cache before the first allocation (occupying every
 * podCIDR already assigned), so a restarted controller never hands out a subnet twice;
 * subnets overlapping --service-cluster-ip-range are occupied too. A deleted node's
 * subnet is released by a "release/<cidr>" key (the delete handler only enqueues), after
 * checking that no node in the cache still uses it. When the range is exhausted the node
 * gets a Normal event CIDRNotAvailable ("Node <n> status is now: CIDRNotAvailable") and
 * the key is retried with backoff.
 * IPv4 only: an IPv6 or dual-stack --cluster-cidr is refused by nodeipam_init. */
#ifndef CM_NODEIPAM_H
#define CM_NODEIPAM_H

#include <pthread.h>
#include <stdint.h>

#include "controller.h"

#define NODEIPAM_RELEASE_PREFIX "release/"
#define NODEIPAM_DEFAULT_MASK_V4 24
/* upstream cidrset: the node mask may be at most 16 bits longer than the cluster's */
#define NODEIPAM_MAX_DIFF 16

typedef struct nodeipam_controller {
	cm_lister *lister;   /* borrowed */
	cm_api *api;         /* borrowed */
	cm_controller *ctrl; /* NULL in unit tests */
	uint32_t base;       /* cluster CIDR network address, host order */
	int cluster_bits;    /* cluster prefix length */
	int node_bits;       /* --node-cidr-mask-size */
	uint32_t svc_base;   /* --service-cluster-ip-range, svc_bits < 0 when none */
	int svc_bits;
	uint32_t nsubnets;
	uint8_t *used;       /* bitmap of nsubnets bits, owned */
	uint32_t next;       /* where the next search starts (cidrset nextCandidate) */
	bool rebuilt;
	pthread_mutex_t mu;
} nodeipam_controller;

/* cluster_cidr ("10.244.0.0/16") and service_cidr (may be NULL) borrowed; mask_size 0
 * means the default 24. -EINVAL with a message in err for an invalid, IPv6 or too
 * large range. */
int nodeipam_init(nodeipam_controller *nc, cm_lister *lister, cm_api *api,
		  const char *cluster_cidr, const char *service_cidr, int mask_size, char *err,
		  size_t errlen);
void nodeipam_close(nodeipam_controller *nc);
/* cm_sync_fn; key is a node name or "release/<cidr>" */
int nodeipam_sync(void *arg, const char *key);
int nodeipam_register(nodeipam_controller *nc, cm_informers *f);
/* Subnets in use, for tests and logs. */
uint32_t nodeipam_used(nodeipam_controller *nc);

#endif
