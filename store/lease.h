/* The lessor: leases by ID with their TTL, expiry and attached keys, as etcd's
 * server/lease/lessor.go.
 *
 * Grant/revoke/attach/detach happen only while applying (the engine's state lock held
 * for writing); lookups under the read lock. Expiry deadlines are atomics so keepalive can
 * renew under the read lock. Expiry itself is not decided here: the engine's lease thread
 * asks for expired IDs and proposes a LeaseRevoke through the WAL (etcd's lessor sends them
 * to the leader's revoke loop), so replay stays deterministic. Like etcd 3.4 (no lease
 * checkpointing), a restart gives every lease its full TTL again. */
#ifndef KUBEC_STORE_LEASE_H
#define KUBEC_STORE_LEASE_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "mvcc.h"

/* etcd's MaxLeaseTTL: 9,000,000,000 seconds. */
#define LEASE_MAX_TTL INT64_C(9000000000)

struct lease {
	int64_t id;
	int64_t ttl;               /* granted TTL in seconds (after the minimum is applied) */
	_Atomic int64_t expiry_ns; /* monotonic deadline */
	struct mvcc_key *keys;     /* attached keys (mvcc_key.lease_next list) */
	size_t nkeys;
	struct lease *hnext;
};

struct lessor {
	struct lease **buckets;
	size_t nbuckets, n;
};

int lessor_init(struct lessor *l);
void lessor_close(struct lessor *l);

struct lease *lessor_get(const struct lessor *l, int64_t id);
/* New lease (id must be absent): -EEXIST if present, -ENOMEM. */
int lessor_grant(struct lessor *l, int64_t id, int64_t ttl, int64_t expiry_ns,
		 struct lease **out);
/* Unlink and free the lease; its key list must already be empty. */
void lessor_remove(struct lessor *l, struct lease *ls);

/* Attach k to lease id (no-op for 0 or an unknown id); detach from old first. */
void lessor_attach(struct lessor *l, struct mvcc_key *k, int64_t old, int64_t id);
void lessor_detach(struct lessor *l, struct mvcc_key *k, int64_t id);

/* Visit every lease (order unspecified). fn returns non-zero to stop. */
typedef int (*lessor_fn)(void *arg, struct lease *ls);
int lessor_each(const struct lessor *l, lessor_fn fn, void *arg);

/* Up to max IDs of leases whose deadline is <= now_ns into ids; returns the count. */
size_t lessor_expired(const struct lessor *l, int64_t now_ns, int64_t *ids, size_t max);

#endif
