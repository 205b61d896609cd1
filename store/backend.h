/* Engine internals shared by kv.c (open/close, propose -> commit -> apply pipeline, public
 * API) and backend_apply.c (the deterministic apply step and the read path). Not for use
 * outside store/: the daemon includes only kv.h. */
#ifndef KUBEC_STORE_BACKEND_H
#define KUBEC_STORE_BACKEND_H

#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "kv.h"
#include "lease.h"
#include "mvcc.h"
#include "snapshot.h"
#include "wal.h"
#include "watchhub.h"

#define KV_MAX_ALARMS 16

/* One proposed write waiting for commit and apply. Lives on the proposer's stack. */
struct proposal {
	struct proposal *next;
	const Kvpb__InternalRequest *req; /* borrowed from the proposer */
	uint8_t *rec;                     /* framed record (header filled by the committer) */
	size_t len;                       /* payload length */
	void *resp;                       /* apply output (response tree) */
	int err;
	sem_t done;
	/* asynchronous submissions (kv_*_async): heap proposal, own unpacked request */
	kv_done_cb cb;
	void *cb_arg;
	Kvpb__InternalRequest *owned;
};

struct kv {
	/* config (copied) */
	char *data_dir, *wal_dir, *snap_dir, *name;
	char **peer_urls, **client_urls;
	size_t n_peer_urls, n_client_urls;
	uint64_t member_id, cluster_id, raft_term;
	uint64_t snapshot_count;
	int64_t quota_bytes;
	uint32_t max_txn_ops;
	int64_t min_lease_ttl;
	enum kv_compaction_mode compact_mode;
	int64_t compact_retention;   /* ns (periodic) or revisions; 0 = off */
	kc_clock_t *clock;

	/* state, guarded by lock (write: committer only) */
	pthread_rwlock_t lock;
	struct mvcc mvcc;
	struct lessor lessor;
	struct snap_alarm alarms[KV_MAX_ALARMS];
	size_t nalarms;
	int64_t db_size;             /* high-water mark of mvcc.bytes since last defragment */
	_Atomic uint64_t applied_index;
	_Atomic int64_t cur_rev, compact_rev;
	uint64_t snap_index;         /* index covered by the latest snapshot */

	struct watchhub hub;
	struct wal wal;

	/* proposal queue */
	pthread_mutex_t qmu;
	pthread_cond_t qcv;
	struct proposal *qhead, *qtail;
	bool stopping;
	int failed;                  /* sticky WAL failure: every later write fails with it */
	_Atomic uint64_t next_req_id;

	pthread_t committer, bg;
	bool threads_started;
	/* lease/compactor threads sleep on the injected clock; this wakes them at close */
	_Atomic bool stop_bg;
	int64_t open_mono, open_rev; /* first auto-compaction sample, taken in kv_open */
	pthread_mutex_t bgmu;
	pthread_cond_t bgcv;

	/* counters */
	_Atomic uint64_t n_fsyncs, fsync_ns, n_proposals, n_snapshots;
};

/* Propose a write and wait until it is durable and applied (kv.c). *resp as backend_apply. */
int backend_propose(struct kv *kv, Kvpb__InternalRequest *req, void **resp);
/* Background thread body (backend_bg.c): lease expiry and auto-compaction. */
void *backend_bg_main(void *arg);
/* Go duration ("1h", "30m", "1h30m") or bare hours, in ns; -1 if malformed. */
int64_t backend_parse_retention_ns(const char *s);
/* Copy n strings into a NULL-terminated malloc'd vector (NULL on -ENOMEM). */
char **backend_dup_strv(const char *const *v, size_t n);
/* mkdir -p with mode 0700. */
int backend_mkdir_p(const char *path);

/* Apply one committed request (state write lock held). On success *resp gets the response
 * tree of the request's type (NULL for internal-only requests). Deterministic. */
int backend_apply(struct kv *kv, const Kvpb__InternalRequest *req, void **resp);
/* Read path (state read lock held by the caller). */
int backend_range(struct kv *kv, const Kvpb__RangeRequest *req, Kvpb__RangeResponse **out);
/* Txn: t is the open write txn (write lock), or NULL for a read-only txn (read lock). */
int backend_txn(struct kv *kv, struct mvcc_txn *t, const Kvpb__TxnRequest *r,
		Kvpb__TxnResponse **out);
/* Does the txn contain a put or delete anywhere (then it goes through the WAL)? */
bool backend_txn_is_write(const Kvpb__TxnRequest *r);
/* Validate a request before proposing it (static checks: etcd's v3rpc checks). */
int backend_check_put(struct kv *kv, const Kvpb__PutRequest *r);
int backend_check_txn(struct kv *kv, const Kvpb__TxnRequest *r);
int backend_check_range(const Kvpb__RangeRequest *r);
/* Estimated bytes a request adds (quota), etcd's quota cost. */
int64_t backend_cost(const Kvpb__InternalRequest *req);
bool backend_alarm_active(const struct kv *kv, uint32_t type);
/* Full response header with the current revision. Returns NULL on -ENOMEM. */
Kvpb__ResponseHeader *backend_header(const struct kv *kv, int64_t rev);

#endif
