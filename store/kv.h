/* kube-store's storage engine: the public API the daemon (store/main.c and the HTTP
 * gateway) calls. It mirrors etcd 3.4's EtcdServer as seen through its v3 API:
 *
 *   request --validate--> InternalRequest --propose--> Raft (the raft thread: WAL with
 *           one fdatasync per Ready, replication to a quorum) --commit--> apply to
 *           MVCC/lessor/alarms/members --> watchers notified --> reply
 *
 * A write is acknowledged only after it is committed by a quorum and applied locally, so a
 * read issued after a write returns sees it. Concurrent writers share one fdatasync. Any
 * member takes writes (followers forward them to the leader); reads are linearizable by
 * ReadIndex unless `serializable`. See backend_raft.c and store/README.md.
 *
 * Messages are the protobuf-c structs generated from store/etcdserver.proto
 * (#include "store/etcdserver.pb-c.h"), with etcd's own field names and numbers.
 *
 * Ownership:
 *   - request structs are borrowed for the duration of the call;
 *   - every response is returned as a freshly malloc'd tree (*out) that the caller owns and
 *     frees with the generated kvpb__<msg>__free_unpacked(resp, NULL) (all nested messages,
 *     bytes and arrays are individually malloc'd, exactly as free_unpacked expects).
 *     On error *out is left NULL.
 *
 * Thread safety: every function may be called from any thread concurrently, except
 * kv_close (once, after all other calls have returned).
 *
 * Errors: negative codes. KV_E* below are etcd's own errors: kv_errmsg() gives etcd's exact
 * message text and kv_grpc_code() the gRPC status code etcd returns (the gateway maps it to
 * an HTTP status). Other negative values are -errno (e.g. -ENOMEM, -EIO) and map to gRPC
 * 2 Unknown (13 Internal for -EIO) with kc_strerror() text. */
#ifndef KUBEC_STORE_KV_H
#define KUBEC_STORE_KV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "clock.h"
#include "store/etcdserver.pb-c.h"

struct kv;
struct kv_watch;

/* ---- errors: etcd's api/v3rpc/rpctypes, same text, same gRPC code ---- */
enum {
	KV_EBASE = 20000,
	KV_ECOMPACTED = -(KV_EBASE + 1),      /* "etcdserver: mvcc: required revision has been compacted" 11 */
	KV_EFUTUREREV = -(KV_EBASE + 2),      /* "etcdserver: mvcc: required revision is a future revision" 11 */
	KV_ELEASENOTFOUND = -(KV_EBASE + 3),  /* "etcdserver: requested lease not found" 5 */
	KV_ELEASEEXIST = -(KV_EBASE + 4),     /* "etcdserver: lease already exists" 9 */
	KV_ELEASETTLTOOLARGE = -(KV_EBASE + 5), /* "etcdserver: too large lease TTL" 11 */
	KV_EDUPKEY = -(KV_EBASE + 6),         /* "etcdserver: duplicate key given in txn request" 3 */
	KV_ETOOMANYOPS = -(KV_EBASE + 7),     /* "etcdserver: too many operations in txn request" 3 */
	KV_ENOSPACE = -(KV_EBASE + 8),        /* "etcdserver: mvcc: database space exceeded" 8 */
	KV_EKEYNOTFOUND = -(KV_EBASE + 9),    /* "etcdserver: key not found" 3 (put ignore_value/ignore_lease) */
	KV_EEMPTYKEY = -(KV_EBASE + 10),      /* "etcdserver: key is not provided" 3 */
	KV_EREQTOOLARGE = -(KV_EBASE + 11),   /* "etcdserver: request is too large" 3 */
	KV_ETIMEOUT = -(KV_EBASE + 12),       /* "etcdserver: request timed out" 14 */
	KV_ESTOPPED = -(KV_EBASE + 13),       /* "etcdserver: server stopped" 14 */
	KV_ECORRUPT = -(KV_EBASE + 14),       /* local data corrupted (open only) 13 */
	KV_ENOTSUPPORTED = -(KV_EBASE + 15),  /* "etcdserver: not supported" 12 (honest "not implemented") */
	KV_EBADSORT = -(KV_EBASE + 16),       /* "etcdserver: invalid sort option" 3 */
	KV_EVALUEPROVIDED = -(KV_EBASE + 17), /* "etcdserver: value is provided" 3 (ignore_value + value) */
	KV_ELEASEPROVIDED = -(KV_EBASE + 18), /* "etcdserver: lease is provided" 3 (ignore_lease + lease) */
	KV_EMEMBERNOTFOUND = -(KV_EBASE + 19), /* "etcdserver: member not found" 5 */
	KV_EPEERURLEXIST = -(KV_EBASE + 20),  /* "etcdserver: Peer URLs already exists" 9 */
	KV_ENOTENOUGHSTARTED = -(KV_EBASE + 21), /* "etcdserver: re-configuration failed due to
	                                          not enough started members" 9 */
	KV_EUNHEALTHY = -(KV_EBASE + 22),     /* "etcdserver: unhealthy cluster" 14 */
	KV_ENOLEADER = -(KV_EBASE + 23),      /* "etcdserver: no leader" 14 */
	KV_ENOTLEADER = -(KV_EBASE + 24),     /* "etcdserver: not leader" 14 */
	KV_EBADLEADERTRANSFEREE = -(KV_EBASE + 25), /* "etcdserver: bad leader transferee" 9 */
	KV_EMEMBERNOTLEARNER = -(KV_EBASE + 26), /* "etcdserver: can only promote a learner member" 9 */
	KV_ELEARNERNOTREADY = -(KV_EBASE + 27), /* "etcdserver: can only promote a learner member
	                                         which is in sync with leader" 9 */
	KV_ELAST = -(KV_EBASE + 28),
};

/* etcd's message for err ("etcdserver: ..."); for -errno, kc_strerror(err). Never NULL. */
const char *kv_errmsg(int err);
/* gRPC status code etcd returns for err (3 InvalidArgument, 5 NotFound, 8 ResourceExhausted,
 * 9 FailedPrecondition, 11 OutOfRange, 12 Unimplemented, 13 Internal, 14 Unavailable,
 * 2 Unknown for anything else). */
int kv_grpc_code(int err);

/* ---- configuration ---- */
enum kv_compaction_mode { KV_COMPACT_PERIODIC = 0, KV_COMPACT_REVISION = 1 };

struct kv_config {
	const char *data_dir;        /* borrowed during kv_open; created if missing (0700) */
	const char *name;            /* member name (etcd --name), default "default" */
	uint64_t member_id;          /* 0: derived from name + peer URLs (stable, as etcd) */
	uint64_t cluster_id;         /* 0: derived from member_id */
	const char *const *peer_urls;   /* member list; borrowed during kv_open (copied) */
	size_t n_peer_urls;
	const char *const *client_urls; /* advertise-client-urls; copied */
	size_t n_client_urls;
	uint64_t snapshot_count;     /* entries between snapshots; 0 means 100000 (etcd 3.4) */
	int64_t quota_bytes;         /* --quota-backend-bytes; 0 means 2 GiB; < 0 invalid */
	enum kv_compaction_mode auto_compaction_mode;   /* --auto-compaction-mode */
	const char *auto_compaction_retention;          /* --auto-compaction-retention: "0" (off,
	                                 default), "1h", "30m", "5" (hours in periodic mode,
	                                 revisions in revision mode); NULL means "0" */
	uint32_t max_txn_ops;        /* --max-txn-ops; 0 means 128 */
	int64_t min_lease_ttl;       /* seconds; 0 means 2 (etcd with the default 1 s election) */
	int64_t progress_notify_interval_ms; /* 0 means 600000 (etcd's 10 min) */
	size_t wal_segment_bytes;    /* 0 means 64 MiB */
	bool unsafe_no_fsync;        /* etcd --unsafe-no-fsync: tests only */
	kc_clock_t *clock;           /* borrowed for the engine's life; NULL = kc_clock_real() */

	/* ---- Raft (etcd's cluster flags) ---- */
	const char *initial_cluster;       /* --initial-cluster "n1=url,n2=url"; NULL/"" = this
	                                      member alone (name=peer_urls) */
	const char *initial_cluster_token; /* NULL = "etcd-cluster" */
	bool initial_cluster_existing;     /* --initial-cluster-state existing */
	const char *const *listen_peer_urls; /* --listen-peer-urls (copied); NULL = none */
	size_t n_listen_peer_urls;
	bool peer_listen_optional;         /* a bind failure is only a warning (the single-member
	                                      default URL, which parallel tests share) */
	int64_t heartbeat_ms;              /* 0 = 100 */
	int64_t election_ms;               /* 0 = 1000; must be >= 5 x heartbeat */
	const char *peer_cert_file, *peer_key_file, *peer_trusted_ca_file; /* borrowed */
	bool peer_client_cert_auth;
};

/* Open (or create) the store in cfg->data_dir (layout as etcd: member/wal/<seq>-<index>.wal,
 * member/snap/<index>.snap): load the latest snapshot, replay the WAL after it (a torn final
 * record is truncated with a warning; a corrupt record anywhere else fails with
 * KV_ECORRUPT after logging the file and offset: the daemon must exit 1), then start the
 * committer, watch-sync and background (lease expiry, auto-compaction) threads.
 * -EBUSY if another process has the data dir open; -EINVAL for a bad config (logged).
 * cfg is borrowed (strings copied). */
int kv_open(const struct kv_config *cfg, struct kv **out);
/* Stop the threads, cancel all watchers (no callback after return), sync and free.
 * In-flight proposals fail with KV_ESTOPPED. NULL is a no-op. */
void kv_close(struct kv *kv);

/* Identity and progress (cheap, lock-free reads). */
uint64_t kv_cluster_id(const struct kv *kv);
uint64_t kv_member_id(const struct kv *kv);
uint64_t kv_raft_term(const struct kv *kv);
/* Leader id as this member knows it (0 = none) and whether it is this member. */
uint64_t kv_leader(const struct kv *kv);
/* The peer port actually bound (after listening on port 0), or -ENOENT without one. */
int kv_peer_port(struct kv *kv);
/* etcd's TransferLeadershipOnShutdown: if leader with other voters, hand leadership to the
 * most caught-up voter and wait (bounded by ~election timeout). 0 when transferred or
 * nothing to do; KV_ETIMEOUT otherwise. */
int kv_transfer_on_shutdown(struct kv *kv);
/* Has this member been removed from the cluster (the daemon should exit)? */
bool kv_removed(const struct kv *kv);
int64_t kv_current_rev(struct kv *kv);
int64_t kv_compact_rev(struct kv *kv);

/* ---- KV ---- (each fills (*out)->header fully: cluster_id, member_id, revision, raft_term) */
int kv_range(struct kv *kv, const Kvpb__RangeRequest *req, Kvpb__RangeResponse **out);
int kv_put(struct kv *kv, const Kvpb__PutRequest *req, Kvpb__PutResponse **out);
int kv_delete_range(struct kv *kv, const Kvpb__DeleteRangeRequest *req,
		    Kvpb__DeleteRangeResponse **out);
/* Nested responses carry headers exactly as etcd's: range/put/delete_range ops get a
 * header with only revision set; a nested response_txn has an all-zero header. */
int kv_txn(struct kv *kv, const Kvpb__TxnRequest *req, Kvpb__TxnResponse **out);
/* Physical compaction happens while applying, so `physical` needs no extra wait. */
int kv_compact(struct kv *kv, const Kvpb__CompactionRequest *req, Kvpb__CompactionResponse **out);

/* Asynchronous writes, for event-driven callers that must not park a thread per request:
 * validate (errors returned at once, cb not called), then queue the write and return 0;
 * cb(arg, err, resp) runs exactly once, on the committer thread, after the write is on
 * disk and applied (err 0, resp the response tree of the call's type, owned by cb: free
 * it with kvpb__<msg>__free_unpacked), or with err < 0 and resp NULL. A read-only txn is
 * answered inline: cb runs before kv_txn_async returns. cb must be cheap and must not
 * call kv_* write functions (it would wait for its own thread). req is borrowed for the
 * call only. */
typedef void (*kv_done_cb)(void *arg, int err, void *resp);
int kv_put_async(struct kv *kv, const Kvpb__PutRequest *req, kv_done_cb cb, void *arg);
int kv_delete_range_async(struct kv *kv, const Kvpb__DeleteRangeRequest *req, kv_done_cb cb,
			  void *arg);
int kv_txn_async(struct kv *kv, const Kvpb__TxnRequest *req, kv_done_cb cb, void *arg);
/* As the _async calls, but req (and everything it points to) stays borrowed until cb has
 * run, which spares the engine a private copy of the request. For event loops: a read-only
 * txn is refused with -EAGAIN (cb not called) because it may wait for a ReadIndex round;
 * serve it with kv_txn from a thread that may block. */
int kv_put_submit(struct kv *kv, const Kvpb__PutRequest *req, kv_done_cb cb, void *arg);
int kv_delete_range_submit(struct kv *kv, const Kvpb__DeleteRangeRequest *req, kv_done_cb cb,
			   void *arg);
int kv_txn_submit(struct kv *kv, const Kvpb__TxnRequest *req, kv_done_cb cb, void *arg);

/* ---- leases ---- */
int kv_lease_grant(struct kv *kv, const Kvpb__LeaseGrantRequest *req,
		   Kvpb__LeaseGrantResponse **out);
int kv_lease_revoke(struct kv *kv, const Kvpb__LeaseRevokeRequest *req,
		    Kvpb__LeaseRevokeResponse **out);
/* Unknown lease: success with TTL 0 (etcd's keepalive stream does not error). */
int kv_lease_keepalive(struct kv *kv, const Kvpb__LeaseKeepAliveRequest *req,
		       Kvpb__LeaseKeepAliveResponse **out);
/* Unknown lease: success with TTL -1, as etcd. */
int kv_lease_timetolive(struct kv *kv, const Kvpb__LeaseTimeToLiveRequest *req,
			Kvpb__LeaseTimeToLiveResponse **out);
/* Leases sorted by ID. */
int kv_lease_leases(struct kv *kv, const Kvpb__LeaseLeasesRequest *req,
		    Kvpb__LeaseLeasesResponse **out);

/* ---- maintenance / cluster ---- */
/* version "3.4.23" (the etcd API level emulated), dbSize/dbSizeInUse (see kv.c: bytes of
 * all stored revisions; dbSize is the high-water mark since the last defragment),
 * raftIndex = raftAppliedIndex = last applied WAL index, errors for raised alarms
 * ("memberID:<id> alarm:NOSPACE "). */
int kv_status(struct kv *kv, const Kvpb__StatusRequest *req, Kvpb__StatusResponse **out);
/* GET lists alarms; ACTIVATE/DEACTIVATE go through the WAL. Like etcd the response has no
 * header (header left NULL). */
int kv_alarm(struct kv *kv, const Kvpb__AlarmRequest *req, Kvpb__AlarmResponse **out);
/* member/list: every member (etcd 3.4's shapes). Header without revision (etcd). */
int kv_member_list(struct kv *kv, const Kvpb__MemberListRequest *req,
		   Kvpb__MemberListResponse **out);
/* etcd's MemberAdd/Remove/Update/Promote (see backend_member.c for the error mapping:
 * KV_EMEMBERNOTFOUND, KV_EPEERURLEXIST, KV_EUNHEALTHY, KV_ENOTENOUGHSTARTED). */
int kv_member_add(struct kv *kv, const Kvpb__MemberAddRequest *req,
		  Kvpb__MemberAddResponse **out);
int kv_member_remove(struct kv *kv, const Kvpb__MemberRemoveRequest *req,
		     Kvpb__MemberRemoveResponse **out);
int kv_member_update(struct kv *kv, const Kvpb__MemberUpdateRequest *req,
		     Kvpb__MemberUpdateResponse **out);
int kv_member_promote(struct kv *kv, const Kvpb__MemberPromoteRequest *req,
		      Kvpb__MemberPromoteResponse **out);
/* etcd's MoveLeader: raft_transfer_leader and wait until done or timeout. */
int kv_move_leader(struct kv *kv, const Kvpb__MoveLeaderRequest *req,
		   Kvpb__MoveLeaderResponse **out);
/* Releases freed space (dbSize := dbSizeInUse). Response has no header (etcd gateway: {}). */
int kv_defragment(struct kv *kv, const Kvpb__DefragmentRequest *req,
		  Kvpb__DefragmentResponse **out);
/* CRC-32C over every stored revision (key, revisions, value, lease), like etcd's hash of
 * its backend: equal states give equal hashes. */
int kv_hash(struct kv *kv, const Kvpb__HashRequest *req, Kvpb__HashResponse **out);

/* Consistent snapshot of the whole state (history, leases, alarms, revisions) written to
 * fd (kube-store's own format, see snapshot.h; not bbolt). Returns bytes written or
 * negative. The state is serialised under the read lock into an unlinked temp file in the
 * data dir (writes wait those few ms), then copied to fd without any lock, so a slow
 * reader of fd never stalls the store. */
int64_t kv_snapshot_write(struct kv *kv, int fd);
/* `snapshot restore`: validate the snapshot file at snap_path (KV_ECORRUPT if damaged)
 * and install it as <data_dir>/member/snap/<index>.snap so kv_open starts from it.
 * -EEXIST if <data_dir>/member exists (never overwrites). Both borrowed. */
int kv_snapshot_restore(const char *snap_path, const char *data_dir);

/* Counters for /metrics (cheap; taken under the read lock). */
struct kv_stats {
	int64_t revision, compact_revision;
	int64_t db_size, db_size_in_use;  /* as in status */
	int64_t keys;                     /* keys in the index (live or with history) */
	int64_t leases;
	uint64_t applied_index;
	uint64_t wal_fsyncs;              /* fdatasync calls (each covers a batch) */
	uint64_t wal_fsync_ns;            /* total time spent in them */
	uint64_t proposals;               /* write requests committed */
	uint64_t snapshots;               /* snapshots saved */
	size_t watchers;
	uint64_t commit_index;            /* raft commit index */
	uint64_t proposals_pending, proposals_failed, leader_changes;
};
void kv_stats(struct kv *kv, struct kv_stats *out);

/* ---- watch ----
 *
 * Every message for a watcher goes through its callback, in order: first
 * {created:true, header.revision = current}, then events (one message per revision when
 * live; history replays pack up to 1000 revisions per message, as etcd's watchable store),
 * progress notifications (events empty), and at most one final {canceled:true} (with
 * compact_revision and a header without revision when start_revision was compacted).
 * Every message has watch_id set to the value given to kv_watch_create.
 *
 * The callback runs on an engine thread (the committer, the hub's sync thread, or the
 * caller of kv_watch_create/cancel for created/canceled) with engine locks held: it must be
 * cheap and non-blocking, must not call any kv_* function, and must not keep pointers
 * into resp (borrowed for the call; encode or copy it). Return 0 when accepted, or -EAGAIN
 * when the consumer's buffer is full: the hub then marks the watcher "unsynced" at that
 * revision and resends from the MVCC history later (every 100 ms or on kv_watch_resume),
 * like etcd's unsynced watcher group; if the history it needs is compacted meanwhile the
 * watcher is canceled with compact_revision. Messages with created or canceled set must
 * be accepted (their return value is ignored). */
typedef int (*kv_watch_cb)(void *arg, const Kvpb__WatchResponse *resp);

/* Register a watcher. req borrowed (key/range_end/filters copied). watch_id is chosen by
 * the caller (etcd allocates per stream starting at 0, or echoes the client's); it is only
 * stamped on messages. arg is borrowed until kv_watch_cancel returns. start_revision 0 means
 * "from the next revision"; <= current replays history first; compacted start gives
 * created then canceled. *out stays valid until kv_watch_cancel. */
int kv_watch_create(struct kv *kv, const Kvpb__WatchCreateRequest *req, int64_t watch_id,
		    kv_watch_cb cb, void *arg, struct kv_watch **out);
/* Remove and free the watcher. With notify, first deliver {canceled:true} through the
 * callback (the client's cancel_request); without (the stream went away), nothing more is
 * delivered. After return the callback is never called again. w taken. */
void kv_watch_cancel(struct kv *kv, struct kv_watch *w, bool notify);
/* Ask the hub to retry delivery to an unsynced watcher now (its consumer drained). */
void kv_watch_resume(struct kv *kv, struct kv_watch *w);
/* progress_request: if every listed watcher is synced (has been handed every event up to
 * the current revision) set *rev to the current revision and return 0: the caller then
 * sends {header.revision = *rev, watch_id: -1} after the events it already queued (etcd
 * 3.4 semantics). Returns -EAGAIN if some watcher lags (etcd then sends nothing). */
int kv_watch_progress(struct kv *kv, struct kv_watch *const *ws, size_t n, int64_t *rev);

#endif
