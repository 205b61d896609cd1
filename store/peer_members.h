/* The member list a joining member fetches from a running one before it starts Raft: etcd's
 * GetClusterFromRemotePeers (GET <peer URL>/members, answered by etcdhttp's
 * peerMembersHandler with the member list as JSON and the cluster id in the
 * X-Etcd-Cluster-ID header), carried by kube-store's peer transport (peer.h) instead of HTTP.
 *
 * Wire (the same frames as peer.h: uint32 big-endian length | payload):
 *   request  one frame of PEER_HANDSHAKE_LEN bytes: PEER_MEMBERS_MAGIC, then 16 zero bytes
 *            (it stands where a stream's handshake stands, so an older member refuses it as
 *            a bad handshake and closes);
 *   reply    one frame: PEER_MEMBERS_MAGIC, the cluster id (uint64 big-endian), then the
 *            member list in cluster_encode's form (members and removed ids);
 * then the answering member closes the connection. With peer TLS configured the exchange is
 * mutual TLS like any stream (https peer URLs, etcd's --peer-* flags), so a member whose
 * certificate the cluster refuses learns nothing.
 *
 * Ownership: every pointer argument is borrowed for the call; *out is the caller's to free
 * with cluster_members_free. */
#ifndef KUBEC_STORE_PEER_MEMBERS_H
#define KUBEC_STORE_PEER_MEMBERS_H

#include <stddef.h>
#include <stdint.h>

#include "cluster.h"
#include "peer_tls.h"

#define PEER_MEMBERS_MAGIC "KCMEMB01"
/* etcd's GetClusterFromRemotePeers gives each URL 10 s. */
#define PEER_MEMBERS_TIMEOUT_NS (10 * INT64_C(1000000000))
/* Largest reply accepted: 64 members with their URLs are a few KiB, removed ids 8 bytes. */
#define PEER_MEMBERS_MAX_REPLY (16u << 20)

/* Ask the member at url (`http://host:port`, or `https://` exactly when tls->cert_file is
 * set, as peer.h's streams) for its cluster id and member list, waiting at most timeout_ns
 * (real time). 0 with *cluster_id (never 0) and *out filled; otherwise a negative code and
 * a reason (connection refused, the TLS error, a malformed reply) in err:
 * -EINVAL (bad URL or scheme, malformed reply), -ETIMEDOUT, -ECONNREFUSED and other -errno,
 * KC_EUNAUTH (TLS refused), KC_ECLOSED (closed without a reply), -ENOMEM. */
int peer_members_fetch(const char *url, const struct peer_tls_config *tls, int64_t timeout_ns,
		       uint64_t *cluster_id, struct cluster_members *out, char *err,
		       size_t errlen);

#endif
