/* Engine internals shared by kv.c (open/close, propose -> commit -> apply pipeline, public
 * API) and backend_apply.c (the deterministic apply step and the read path). Not for use
 * outside store/: the daemon includes only kv.h. */
#ifndef KUBEC_STORE_BACKEND_H
#define KUBEC_STORE_BACKEND_H

#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "cluster.h"
#include "kv.h"
#include "lease.h"
#include "mvcc.h"
#include "peer.h"
#include "raft.h"
#include "raft_wal.h"
#include "snapshot.h"
#include "wal.h"
#include "watchhub.h"

#define KV_MAX_ALARMS 16

/* One proposed write waiting for commit and apply. Lives on the proposer's stack (or the
 * heap for kv_*_async). After the raft thread takes it from the queue it is a "waiter"
 * keyed by req->id (etcd's wait.Wait): whichever apply sees that id answers it; a waiter
 * still unanswered at its deadline fails with KV_ETIMEOUT. */
struct proposal {
	struct proposal *next;
	struct proposal *hnext;           /* waiter hash chain (raft thread only) */
	struct proposal *fprev, *fnext;   /* waiters in deadline order (raft thread only) */
	uint64_t id;
	int64_t deadline;
	bool stuck;                       /* waiting for a leader to be known */
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
	Kvpb__InternalRequest ireq;       /* kv_*_submit: wrapper of the caller's request */
};

struct kv {
	/* config (copied) */
	char *data_dir, *wal_dir, *snap_dir, *name;
	char **peer_urls, **client_urls;
	size_t n_peer_urls, n_client_urls;
	uint64_t member_id, cluster_id;
	_Atomic uint64_t raft_term;
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
	struct rwal rwal;

	/* ---- Raft (backend_raft.c) ---- */
	struct raft *raft;           /* raft thread only (and kv_open before it starts) */
	struct peer_transport *peers;
	struct cluster_members members; /* replicated member metadata, guarded by lock */
	struct raft_conf pub_conf;      /* the raft configuration as of the last Ready (lock) */
	bool published;                 /* bg thread: our name/client URLs are replicated */
	bool was_member;                /* raft thread: a configuration has included us */
	char *token;
	int64_t heartbeat_ns, req_timeout_ns, election_ns;
	int election_ticks;
	_Atomic uint64_t r_lead, r_last, r_commit;
	_Atomic bool r_leader, r_sole, removed;
	struct kv_inmsg *inhead, *intail;   /* under qmu: peer messages for the raft thread */
	struct kv_reader *rhead, *rtail;    /* under qmu: linearizable readers */
	struct kv_cmd *chead;               /* under qmu: transfer / conf change commands */
	struct kv_cmd *active_cmds;         /* raft thread: commands in progress */
	struct proposal *wbuckets[1024];    /* raft thread: waiters by id */
	struct proposal *wfirst, *wlast;    /* raft thread: waiters in deadline order */
	struct proposal **stuck;            /* raft thread: proposals waiting for a leader */
	size_t nstuck, capstuck;
	struct kv_readbatch *rbatches;      /* raft thread: ReadIndex rounds in flight */
	uint64_t read_ctx;
	uint64_t id_prefix;
	_Atomic uint64_t id_suffix;
	_Atomic uint64_t leader_changes, proposals_failed, proposals_pending;
	uint64_t conf_index_applied;
	int64_t next_tick;

	/* proposal queue */
	pthread_mutex_t qmu;
	pthread_cond_t qcv;
	struct proposal *qhead, *qtail;
	size_t qlen;                 /* proposals in the queue */
	size_t gc_target;            /* group commit: wake the raft thread at this qlen */
	size_t last_batch;           /* raft thread: proposals taken by its last pass */
	bool stopping;
	int failed;                  /* sticky WAL failure: every later write fails with it */
	_Atomic uint64_t next_req_id;

	pthread_t committer, bg;           /* committer: the raft thread */
	bool threads_started;
	/* lease/compactor threads sleep on the injected clock; this wakes them at close */
	_Atomic bool stop_bg;
	int64_t open_mono, open_rev; /* first auto-compaction sample, taken in kv_open */
	pthread_mutex_t bgmu;
	pthread_cond_t bgcv;

	/* counters */
	_Atomic uint64_t n_fsyncs, fsync_ns, n_proposals, n_snapshots;
};

/* Propose a write and wait until it is committed and applied (backend_raft.c); *resp as
 * backend_apply. KV_ETIMEOUT when not applied within the request timeout. */
int backend_propose(struct kv *kv, Kvpb__InternalRequest *req, void **resp);
/* The same, answered through cb on the raft thread (kv_put_async). */
int backend_propose_async(struct kv *kv, Kvpb__InternalRequest *req, kv_done_cb cb, void *arg);
/* As backend_propose_async, but req's contents stay borrowed until cb has run (the
 * wrapper itself is copied): no private copy of the request (kv_*_submit). */
int backend_propose_borrowed(struct kv *kv, const Kvpb__InternalRequest *req, kv_done_cb cb,
			     void *arg);
/* Wait until a linearizable read may be served locally (ReadIndex); 0 or KV_ETIMEOUT. */
int backend_read_barrier(struct kv *kv);
/* Raft part of kv_open / kv_close (backend_raft.c). */
int backend_raft_open(struct kv *kv, const struct kv_config *cfg, struct snap_meta *sm);
int backend_raft_start(struct kv *kv);
void backend_raft_stop(struct kv *kv);
void backend_raft_free(struct kv *kv);
/* peer_recv_fn: copy a peer's message for the raft thread. */
void backend_raft_on_peer_msg(void *arg, const struct raft_msg *m);
/* Joining (backend_join.c): fetch the running cluster's member list from the other members
 * of --initial-cluster and validate it against members (the parsed flags, bootstrap ids):
 * on success members is replaced by the cluster's metadata and *self_id / *cluster_id are
 * set; otherwise etcd's error is logged and -EINVAL (or -ENOMEM) returned. cfg borrowed. */
int backend_join_existing(struct kv *kv, const struct kv_config *cfg,
			  struct cluster_members *members, uint64_t *self_id, uint64_t *cluster_id);
/* peer_members_fn: the member metadata in cluster_encode form (arg is the kv). */
int backend_members_blob(void *arg, uint8_t **blob, size_t *len);
/* Leader only, raft thread: one conf change toward the member metadata. */
void backend_member_reconcile(struct kv *kv);
/* Apply member metadata requests (backend_member.c; state write lock held). */
int backend_apply_member(struct kv *kv, const Kvpb__InternalRequest *req);
/* Apply a replicated keepalive (lease_renew); *resp a LeaseKeepAliveResponse. */
int backend_apply_renew(struct kv *kv, const Kvpb__LeaseKeepAliveRequest *r,
			Kvpb__LeaseKeepAliveResponse **resp);
/* Free an apply response tree by the request type that produced it. */
void backend_free_resp(Kvpb__InternalRequest__RequestCase c, void *resp);
/* Snapshot blob of the raft part (conf + members); caller frees. Lock held. */
int backend_raft_blob(struct kv *kv, const struct raft_conf *conf, uint8_t **out, size_t *len);
/* A command for the raft thread (member changes, leader transfer); waits for the result. */
enum kv_cmd_type { KV_CMD_CONF = 1, KV_CMD_TRANSFER, KV_CMD_LEARNER_READY };
int backend_raft_cmd(struct kv *kv, enum kv_cmd_type type, int cc, uint64_t id);
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
