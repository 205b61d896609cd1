/* Cluster membership metadata: who the members are (id, name, peer and client URLs,
 * learner), how bootstrap ids are derived, and the binary form kept in snapshots and the
 * WAL. Mirrors etcd's etcdserver/api/membership (member.go, cluster.go).
 *
 * Ids as etcd 3.4 derives them (membership.NewMember / computeMemberId):
 *   bootstrap member id (--initial-cluster, etcd's NewMember(name, urls, token, nil)) =
 *       big-endian first 8 bytes of sha1(sorted peer URLs joined + cluster token), so every
 *       member of a new cluster agrees without talking;
 *   runtime `member add` id (v3rpc MemberAdd: NewMember("", urls, "", &now)) =
 *       the same over sorted peer URLs + decimal Unix second of the add (no token), so the
 *       same host removed and added again a second later gets a new id;
 *   cluster id = big-endian first 8 bytes of sha1(sorted member ids, 8 bytes big-endian each).
 * A member joining a running cluster cannot compute its runtime id: it asks a peer for the
 * member list and takes the ids from it (cluster_assign_ids, etcd's
 * ValidateClusterAndAssignIDs; the fetch is peer_members.h).
 *
 * Ownership: cluster_members owns every string it holds; functions taking a const pointer
 * borrow it for the call. */
#ifndef KUBEC_STORE_CLUSTER_H
#define KUBEC_STORE_CLUSTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct cluster_member {
	uint64_t id;
	char *name;              /* "" until the member has published it */
	char **peer_urls;
	size_t n_peer;
	char **client_urls;
	size_t n_client;
	bool learner;
};

struct cluster_members {
	struct cluster_member *v;
	size_t n;
	/* Ids removed from the cluster, never to come back (etcd's RaftCluster.removed, kept
	 * in its store's members_removed bucket): sorted, no duplicates. */
	uint64_t *removed;
	size_t n_removed;
};

/* etcd's computeMemberId. now_unix 0 = bootstrap (no time component). */
uint64_t cluster_member_id(const char *const *peer_urls, size_t n, const char *token,
			   int64_t now_unix);
/* The id etcd 3.4's MemberAdd gives peer_urls added at now_unix (seconds since the epoch):
 * cluster_member_id(peer_urls, n, "", now_unix). Observed from etcd 3.4.23:
 * http://10.9.8.7:2380 added at 1795635663 is 7145937427856575481. */
uint64_t cluster_runtime_member_id(const char *const *peer_urls, size_t n, int64_t now_unix);
/* etcd's RaftCluster.genID over ids (any order; sorted internally). */
uint64_t cluster_gen_id(const uint64_t *ids, size_t n);

/* Parse --initial-cluster ("n1=http://a:2380,n2=http://b:2380"; a name may repeat to give
 * a member several URLs) into out (ids derived with token, sorted by id). On error a
 * message is written to err and -EINVAL returned. */
int cluster_parse_initial(const char *initial, const char *token, struct cluster_members *out,
			  char *err, size_t errlen);

void cluster_members_free(struct cluster_members *m);
/* Deep copy; 0 or -ENOMEM. */
int cluster_members_copy(struct cluster_members *dst, const struct cluster_members *src);
struct cluster_member *cluster_find(const struct cluster_members *m, uint64_t id);
/* Add a member (strings copied), kept sorted by id. -EEXIST, -ENOMEM. */
int cluster_add(struct cluster_members *m, uint64_t id, const char *name,
		const char *const *peer, size_t n_peer, const char *const *client,
		size_t n_client, bool learner);
/* Remove by id and remember the id as removed (etcd's RemoveMember); -ENOENT if not a
 * member, -ENOMEM (nothing changed). */
int cluster_remove(struct cluster_members *m, uint64_t id);
/* Was id removed from the cluster (etcd's IsIDRemoved)? */
bool cluster_is_removed(const struct cluster_members *m, uint64_t id);
/* Replace a string vector (copied). 0 or -ENOMEM. */
int cluster_set_urls(char ***v, size_t *n, const char *const *urls, size_t nurls);
/* Is url among any member's peer URLs (except member `except`)? */
bool cluster_peer_url_used(const struct cluster_members *m, const char *url, uint64_t except);

/* etcd's ValidateClusterAndAssignIDs, for a member joining a running cluster: local is the
 * member list from --initial-cluster (bootstrap ids), existing the running cluster's. Both
 * must have as many members ("member count is unequal") and, matched in order of their
 * smallest peer URL, the same peer URL sets ("unmatched member while checking PeerURLs
 * (...)", URLs compared as strings: no DNS resolution). On success every local member takes
 * the id of its match (local stays sorted by id) and 0 is returned; otherwise local is
 * unchanged, etcd's message is written to err and -EINVAL returned (-ENOMEM). */
int cluster_assign_ids(struct cluster_members *local, const struct cluster_members *existing,
		       char *err, size_t errlen);
/* etcd's RaftCluster.String() ("{ClusterID:... Members:[&{ID:... RaftAttributes:{...}
 * Attributes:{...}}] RemovedMemberIDs:[...]}"), ids in hex as types.ID prints them,
 * members in id order (Go's map order is random), truncated to cap. */
void cluster_string(const struct cluster_members *m, uint64_t cluster_id, char *buf, size_t cap);

/* Binary form (little endian): u32 n, then per member u64 id, u8 learner, str name,
 * u32 npeer, strs, u32 nclient, strs; str = u32 len + bytes; then u32 nremoved and the
 * removed ids as u64 (absent in blobs written before removed ids were kept: decoded as
 * none). */
int cluster_encode(const struct cluster_members *m, uint8_t **out, size_t *len);
/* -EINVAL (KC-style parse failure) for malformed bytes, -ENOMEM. */
int cluster_decode(const uint8_t *b, size_t len, struct cluster_members *out);

#endif
