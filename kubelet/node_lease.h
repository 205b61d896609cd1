/* The node's heartbeat Lease in kube-node-lease, as
 * k8s.io/component-helpers/apimachinery/lease (the kubelet's nodelease controller):
 * holderIdentity = node name, leaseDurationSeconds = nodeLeaseDurationSeconds, renewTime
 * refreshed every 1/4 of the duration, ownerReference to the Node.  Prefix lease_. */
#ifndef KUBELET_NODE_LEASE_H
#define KUBELET_NODE_LEASE_H

#include <cjson/cJSON.h>
#include <stdint.h>

#include "client.h"

#define LEASE_NAMESPACE "kube-node-lease"

/* The Lease object for a renewal at now_ns (new tree).  node_uid may be NULL/"" (no
 * ownerReference yet).  resource_version NULL for a create. */
cJSON *lease_build(const char *node_name, const char *node_uid, int32_t duration_s, int64_t now_ns,
		   const char *resource_version);

/* Create or renew: PUT with the last seen resourceVersion, POST when it does not exist,
 * and on Conflict re-GET and retry once.  rv (in/out, >= 32 bytes) carries the
 * resourceVersion between calls ("" initially). */
int lease_renew(kc_client *c, const char *node_name, const char *node_uid, int32_t duration_s,
		int64_t now_ns, char *rv, size_t rvlen, kc_status *st);

/* Renew interval: 25% of the duration (upstream's renewIntervalFraction), in ns. */
int64_t lease_renew_interval_ns(int32_t duration_s);

#endif
