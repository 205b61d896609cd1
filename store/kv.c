/* The engine: open/recover, the propose -> commit (WAL, group fdatasync) -> apply
 * pipeline, and the KV, lease and watch calls of kv.h. Maintenance calls live in
 * backend_maint.c, the lease-expiry/auto-compaction thread in backend_bg.c, the apply
 * step in backend_apply.c. */
#include "kv.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "backend.h"
#include "errors.h"
#include "log.h"

/* ---- errors ---- */

static const struct {
	int err;
	const char *msg;
	int code;
} kv_errs[] = {
	{ KV_ECOMPACTED, "etcdserver: mvcc: required revision has been compacted", 11 },
	{ KV_EFUTUREREV, "etcdserver: mvcc: required revision is a future revision", 11 },
	{ KV_ELEASENOTFOUND, "etcdserver: requested lease not found", 5 },
	{ KV_ELEASEEXIST, "etcdserver: lease already exists", 9 },
	{ KV_ELEASETTLTOOLARGE, "etcdserver: too large lease TTL", 11 },
	{ KV_EDUPKEY, "etcdserver: duplicate key given in txn request", 3 },
	{ KV_ETOOMANYOPS, "etcdserver: too many operations in txn request", 3 },
	{ KV_ENOSPACE, "etcdserver: mvcc: database space exceeded", 8 },
	{ KV_EKEYNOTFOUND, "etcdserver: key not found", 3 },
	{ KV_EEMPTYKEY, "etcdserver: key is not provided", 3 },
	{ KV_EREQTOOLARGE, "etcdserver: request is too large", 3 },
	{ KV_ETIMEOUT, "etcdserver: request timed out", 14 },
	{ KV_ESTOPPED, "etcdserver: server stopped", 14 },
	{ KV_ECORRUPT, "etcdserver: corrupt local data", 13 },
	{ KV_ENOTSUPPORTED, "etcdserver: not supported", 12 },
	{ KV_EBADSORT, "etcdserver: invalid sort option", 3 },
	{ KV_EVALUEPROVIDED, "etcdserver: value is provided", 3 },
	{ KV_ELEASEPROVIDED, "etcdserver: lease is provided", 3 },
	{ KV_EMEMBERNOTFOUND, "etcdserver: member not found", 5 },
	{ KV_EPEERURLEXIST, "etcdserver: Peer URLs already exists", 9 },
	{ KV_ENOTENOUGHSTARTED,
	  "etcdserver: re-configuration failed due to not enough started members", 9 },
	{ KV_EUNHEALTHY, "etcdserver: unhealthy cluster", 14 },
	{ KV_ENOLEADER, "etcdserver: no leader", 14 },
	{ KV_ENOTLEADER, "etcdserver: not leader", 14 },
	{ KV_EBADLEADERTRANSFEREE, "etcdserver: bad leader transferee", 9 },
	{ KV_EMEMBERNOTLEARNER, "etcdserver: can only promote a learner member", 9 },
	{ KV_ELEARNERNOTREADY,
	  "etcdserver: can only promote a learner member which is in sync with leader", 9 },
};

const char *kv_errmsg(int err)
{
	for (size_t i = 0; i < sizeof(kv_errs) / sizeof(kv_errs[0]); i++)
		if (kv_errs[i].err == err)
			return kv_errs[i].msg;
	return kc_strerror(err);
}

int kv_grpc_code(int err)
{
	for (size_t i = 0; i < sizeof(kv_errs) / sizeof(kv_errs[0]); i++)
		if (kv_errs[i].err == err)
			return kv_errs[i].code;
	if (err == -EINVAL)
		return 3;
	if (err == -EIO || err == -ENOSPC)
		return 13;
	return 2;
}

/* ---- config helpers ---- */

char **backend_dup_strv(const char *const *v, size_t n)
{
	char **o = calloc(n + 1, sizeof(*o));
	if (!o)
		return NULL;
	for (size_t i = 0; i < n; i++)
		if (!(o[i] = strdup(v[i] ? v[i] : ""))) {
			for (size_t j = 0; j < i; j++)
				free(o[j]);
			free(o);
			return NULL;
		}
	return o;
}

static void free_strv(char **v, size_t n)
{
	if (!v)
		return;
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

int backend_mkdir_p(const char *path)
{
	char *p = strdup(path);
	if (!p)
		return -ENOMEM;
	for (char *s = p + 1; *s; s++)
		if (*s == '/') {
			*s = 0;
			if (mkdir(p, 0700) != 0 && errno != EEXIST) {
				int e = -errno;
				free(p);
				return e;
			}
			*s = '/';
		}
	int rc = mkdir(p, 0700) != 0 && errno != EEXIST ? -errno : 0;
	free(p);
	return rc;
}

/* Free an apply response tree by the request type that produced it. */
void backend_free_resp(Kvpb__InternalRequest__RequestCase c, void *resp)
{
	switch (c) {
	case KVPB__INTERNAL_REQUEST__REQUEST_PUT:
		kvpb__put_response__free_unpacked(resp, NULL);
		break;
	case KVPB__INTERNAL_REQUEST__REQUEST_DELETE_RANGE:
		kvpb__delete_range_response__free_unpacked(resp, NULL);
		break;
	case KVPB__INTERNAL_REQUEST__REQUEST_TXN:
		kvpb__txn_response__free_unpacked(resp, NULL);
		break;
	case KVPB__INTERNAL_REQUEST__REQUEST_COMPACTION:
		kvpb__compaction_response__free_unpacked(resp, NULL);
		break;
	case KVPB__INTERNAL_REQUEST__REQUEST_LEASE_GRANT:
		kvpb__lease_grant_response__free_unpacked(resp, NULL);
		break;
	case KVPB__INTERNAL_REQUEST__REQUEST_LEASE_REVOKE:
		kvpb__lease_revoke_response__free_unpacked(resp, NULL);
		break;
	case KVPB__INTERNAL_REQUEST__REQUEST_ALARM:
		kvpb__alarm_response__free_unpacked(resp, NULL);
		break;
	case KVPB__INTERNAL_REQUEST__REQUEST_LEASE_RENEW:
		kvpb__lease_keep_alive_response__free_unpacked(resp, NULL);
		break;
	default:
		break;
	}
}

/* ---- open / close ---- */

static void publish(struct kv *kv)
{
	atomic_store(&kv->cur_rev, kv->mvcc.rev);
	atomic_store(&kv->compact_rev, kv->mvcc.compact_rev);
	if (kv->mvcc.bytes > kv->db_size)
		kv->db_size = kv->mvcc.bytes;
}

/* The peer transport: started when the cluster has other members or peer URLs were
 * given explicitly (a single member on the default URL tolerates a busy port). */
static int open_peers(struct kv *kv, const struct kv_config *cfg)
{
	if (!cfg->n_listen_peer_urls && kv->members.n <= 1)
		return 0;
	struct peer_config pc;
	memset(&pc, 0, sizeof(pc));
	pc.id = kv->member_id;
	pc.cluster_id = kv->cluster_id;
	pc.listen_urls = cfg->listen_peer_urls;
	pc.n_listen = cfg->n_listen_peer_urls;
	pc.clock = kv->clock;
	pc.recv = backend_raft_on_peer_msg;
	pc.recv_arg = kv;
	pc.tls.cert_file = cfg->peer_cert_file && *cfg->peer_cert_file ? cfg->peer_cert_file : NULL;
	pc.tls.key_file = cfg->peer_key_file && *cfg->peer_key_file ? cfg->peer_key_file : NULL;
	pc.tls.trusted_ca_file = cfg->peer_trusted_ca_file && *cfg->peer_trusted_ca_file
					 ? cfg->peer_trusted_ca_file
					 : NULL;
	pc.tls.client_cert_auth = cfg->peer_client_cert_auth;
	int rc = peer_transport_new(&pc, &kv->peers);
	if (rc && cfg->peer_listen_optional && kv->members.n <= 1) {
		kc_warn("cannot listen for peers on %s: %s; this single member cannot grow",
			cfg->n_listen_peer_urls ? cfg->listen_peer_urls[0] : "", kc_strerror(rc));
		pc.n_listen = 0;
		rc = peer_transport_new(&pc, &kv->peers);
	}
	if (rc)
		kc_error("cannot start the peer transport: %s", kc_strerror(rc));
	return rc;
}

static void kv_free(struct kv *kv)
{
	backend_raft_free(kv);
	mvcc_close(&kv->mvcc);
	lessor_close(&kv->lessor);
	free(kv->data_dir);
	free(kv->wal_dir);
	free(kv->snap_dir);
	free(kv->name);
	free_strv(kv->peer_urls, kv->n_peer_urls);
	free_strv(kv->client_urls, kv->n_client_urls);
	pthread_rwlock_destroy(&kv->lock);
	pthread_mutex_destroy(&kv->qmu);
	pthread_cond_destroy(&kv->qcv);
	pthread_mutex_destroy(&kv->bgmu);
	pthread_cond_destroy(&kv->bgcv);
	free(kv);
}

int kv_open(const struct kv_config *cfg, struct kv **out)
{
	if (!cfg || !out || !cfg->data_dir || !*cfg->data_dir || cfg->quota_bytes < 0 ||
	    cfg->min_lease_ttl < 0)
		return -EINVAL;
	*out = NULL;
	struct kv *kv = calloc(1, sizeof(*kv));
	if (!kv)
		return -ENOMEM;
	pthread_rwlock_init(&kv->lock, NULL);
	pthread_mutex_init(&kv->qmu, NULL);
	pthread_mutex_init(&kv->bgmu, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	/* The raft thread waits on qcv until its next tick (a CLOCK_MONOTONIC deadline). */
	pthread_cond_init(&kv->qcv, &ca);
	pthread_cond_init(&kv->bgcv, &ca);
	pthread_condattr_destroy(&ca);
	int rc = 0;
	kv->clock = cfg->clock ? cfg->clock : kc_clock_real();
	kv->name = strdup(cfg->name ? cfg->name : "default");
	kv->data_dir = strdup(cfg->data_dir);
	if (asprintf(&kv->wal_dir, "%s/member/wal", cfg->data_dir) < 0)
		kv->wal_dir = NULL;
	if (asprintf(&kv->snap_dir, "%s/member/snap", cfg->data_dir) < 0)
		kv->snap_dir = NULL;
	kv->n_peer_urls = cfg->n_peer_urls;
	kv->n_client_urls = cfg->n_client_urls;
	kv->peer_urls = backend_dup_strv(cfg->peer_urls, cfg->n_peer_urls);
	kv->client_urls = backend_dup_strv(cfg->client_urls, cfg->n_client_urls);
	if (!kv->name || !kv->data_dir || !kv->wal_dir || !kv->snap_dir || !kv->peer_urls ||
	    !kv->client_urls) {
		rc = -ENOMEM;
		goto fail;
	}
	kv->snapshot_count = cfg->snapshot_count ? cfg->snapshot_count : 100000;
	kv->quota_bytes = cfg->quota_bytes ? cfg->quota_bytes : INT64_C(2) << 30;
	kv->max_txn_ops = cfg->max_txn_ops ? cfg->max_txn_ops : 128;
	kv->min_lease_ttl = cfg->min_lease_ttl ? cfg->min_lease_ttl : 2;
	kv->compact_mode = cfg->auto_compaction_mode;
	const char *ret = cfg->auto_compaction_retention ? cfg->auto_compaction_retention : "0";
	if (kv->compact_mode == KV_COMPACT_PERIODIC) {
		kv->compact_retention = backend_parse_retention_ns(ret);
	} else if (kv->compact_mode == KV_COMPACT_REVISION) {
		char *end;
		errno = 0;
		long long v = strtoll(ret, &end, 10);
		kv->compact_retention = (end == ret || *end || errno || v < 0) ? -1 : v;
	} else {
		kv->compact_retention = -1;
	}
	if (kv->compact_retention < 0) {
		kc_error("invalid --auto-compaction-retention %s for mode %s", ret,
			 kv->compact_mode == KV_COMPACT_REVISION ? "revision" : "periodic");
		rc = -EINVAL;
		goto fail;
	}
	if ((rc = backend_mkdir_p(kv->snap_dir)) || (rc = backend_mkdir_p(kv->wal_dir))) {
		kc_error("cannot create data dir %s: %s", kv->data_dir, strerror(-rc));
		goto fail;
	}
	if ((rc = mvcc_init(&kv->mvcc)) || (rc = lessor_init(&kv->lessor)))
		goto fail;
	char *snap = NULL;
	struct snap_meta sm;
	memset(&sm, 0, sizeof(sm));
	if ((rc = snapshot_latest(kv->snap_dir, &snap)))
		goto fail;
	if (snap) {
		rc = snapshot_load(snap, &kv->mvcc, &kv->lessor, &sm, kc_now_mono(kv->clock));
		if (rc) {
			kc_error("cannot load snapshot %s: %s", snap, kv_errmsg(rc));
			free(snap);
			goto fail;
		}
		kc_info("loaded snapshot %s (index %" PRIu64 ", revision %lld)", snap, sm.index,
			(long long)kv->mvcc.rev);
		free(snap);
		kv->snap_index = sm.index;
		atomic_store(&kv->applied_index, sm.index);
		kv->nalarms = sm.nalarms < KV_MAX_ALARMS ? sm.nalarms : KV_MAX_ALARMS;
		if (kv->nalarms)
			memcpy(kv->alarms, sm.alarms, kv->nalarms * sizeof(*kv->alarms));
	}
	rc = backend_raft_open(kv, cfg, snap ? &sm : NULL);
	free(sm.alarms);
	free(sm.raft);
	if (rc)
		goto fail_wal;
	publish(kv);
	int64_t pn = cfg->progress_notify_interval_ms ? cfg->progress_notify_interval_ms : 600000;
	watchhub_init(&kv->hub, &kv->mvcc, &kv->lock, kv->clock, pn * KC_NSEC_PER_MSEC,
		      kv->cluster_id, kv->member_id, atomic_load(&kv->raft_term));
	if ((rc = watchhub_start(&kv->hub)))
		goto fail_hub;
	if ((rc = open_peers(kv, cfg))) {
		watchhub_close(&kv->hub);
		goto fail_wal;
	}
	if ((rc = backend_raft_start(kv))) {
		watchhub_close(&kv->hub);
		goto fail_wal;
	}
	kc_info("store ready: revision %lld, compacted %lld, applied index %" PRIu64 ", %lld keys",
		(long long)kv->mvcc.rev, (long long)kv->mvcc.compact_rev,
		atomic_load(&kv->applied_index), (long long)kv->mvcc.nkeys);
	kv->open_mono = kc_now_mono(kv->clock);
	kv->open_rev = kv->mvcc.rev;
	if ((rc = -pthread_create(&kv->bg, NULL, backend_bg_main, kv))) {
		backend_raft_stop(kv);
		watchhub_close(&kv->hub);
		goto fail_wal;
	}
	kv->threads_started = true;
	*out = kv;
	return 0;
fail_hub:
	watchhub_close(&kv->hub);
fail_wal:
	rwal_close(&kv->rwal);
fail:
	kv_free(kv);
	return rc;
}

void kv_close(struct kv *kv)
{
	if (!kv)
		return;
	if (kv->threads_started) {
		pthread_mutex_lock(&kv->bgmu);
		atomic_store(&kv->stop_bg, true);
		pthread_cond_broadcast(&kv->bgcv);
		pthread_mutex_unlock(&kv->bgmu);
		/* Stop the raft thread first: a background proposal in flight (a lease
		 * revoke, our publish) then fails at once with KV_ESTOPPED instead of waiting
		 * out its request timeout. */
		backend_raft_stop(kv);
		pthread_join(kv->bg, NULL);
		if (kv->peers) {
			peer_transport_free(kv->peers);
			kv->peers = NULL;
		}
		watchhub_close(&kv->hub);
	}
	rwal_close(&kv->rwal);
	kv_free(kv);
}

uint64_t kv_cluster_id(const struct kv *kv) { return kv->cluster_id; }
uint64_t kv_member_id(const struct kv *kv) { return kv->member_id; }
uint64_t kv_raft_term(const struct kv *kv) { return atomic_load(&kv->raft_term); }
int64_t kv_current_rev(struct kv *kv) { return atomic_load(&kv->cur_rev); }
int64_t kv_compact_rev(struct kv *kv) { return atomic_load(&kv->compact_rev); }

/* ---- KV API ---- */

int kv_range(struct kv *kv, const Kvpb__RangeRequest *req, Kvpb__RangeResponse **out)
{
	*out = NULL;
	int rc = backend_check_range(req);
	if (rc)
		return rc;
	/* etcd: linearizable unless serializable (ReadIndex, then read locally). */
	if (!req->serializable && (rc = backend_read_barrier(kv)))
		return rc;
	pthread_rwlock_rdlock(&kv->lock);
	rc = backend_range(kv, req, out);
	pthread_rwlock_unlock(&kv->lock);
	return rc;
}

/* etcd's quota check before proposing (quotaKVServer): over quota raises NOSPACE. */
static int check_quota(struct kv *kv, const Kvpb__InternalRequest *ir)
{
	int64_t cost = backend_cost(ir);
	if (cost <= 0)
		return 0;
	pthread_rwlock_rdlock(&kv->lock);
	bool active = backend_alarm_active(kv, KVPB__ALARM_TYPE__NOSPACE);
	bool over = kv->db_size + cost > kv->quota_bytes;
	pthread_rwlock_unlock(&kv->lock);
	if (active)
		return KV_ENOSPACE;
	if (!over)
		return 0;
	Kvpb__InternalRequest ar = KVPB__INTERNAL_REQUEST__INIT;
	Kvpb__AlarmRequest a = KVPB__ALARM_REQUEST__INIT;
	a.action = KVPB__ALARM_REQUEST__ALARM_ACTION__ACTIVATE;
	a.memberid = kv->member_id;
	a.alarm = KVPB__ALARM_TYPE__NOSPACE;
	ar.request_case = KVPB__INTERNAL_REQUEST__REQUEST_ALARM;
	ar.alarm = &a;
	void *resp = NULL;
	backend_propose(kv, &ar, &resp);
	if (resp)
		kvpb__alarm_response__free_unpacked(resp, NULL);
	return KV_ENOSPACE;
}

int kv_put(struct kv *kv, const Kvpb__PutRequest *req, Kvpb__PutResponse **out)
{
	*out = NULL;
	int rc = backend_check_put(kv, req);
	if (rc)
		return rc;
	Kvpb__InternalRequest ir = KVPB__INTERNAL_REQUEST__INIT;
	ir.request_case = KVPB__INTERNAL_REQUEST__REQUEST_PUT;
	ir.put = (Kvpb__PutRequest *)req;
	if ((rc = check_quota(kv, &ir)))
		return rc;
	return backend_propose(kv, &ir, (void **)out);
}

int kv_delete_range(struct kv *kv, const Kvpb__DeleteRangeRequest *req,
		    Kvpb__DeleteRangeResponse **out)
{
	*out = NULL;
	if (!req || req->key.len == 0)
		return KV_EEMPTYKEY;
	Kvpb__InternalRequest ir = KVPB__INTERNAL_REQUEST__INIT;
	ir.request_case = KVPB__INTERNAL_REQUEST__REQUEST_DELETE_RANGE;
	ir.delete_range = (Kvpb__DeleteRangeRequest *)req;
	return backend_propose(kv, &ir, (void **)out);
}

static bool ops_serializable(Kvpb__RequestOp *const *ops, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const Kvpb__RequestOp *op = ops[i];
		if (op->request_case == KVPB__REQUEST_OP__REQUEST_REQUEST_RANGE &&
		    !op->request_range->serializable)
			return false;
		if (op->request_case == KVPB__REQUEST_OP__REQUEST_REQUEST_TXN &&
		    (!ops_serializable(op->request_txn->success, op->request_txn->n_success) ||
		     !ops_serializable(op->request_txn->failure, op->request_txn->n_failure)))
			return false;
	}
	return true;
}

/* etcd's isTxnSerializable: every range in both branches is serializable. */
static bool txn_serializable(const Kvpb__TxnRequest *r)
{
	return ops_serializable(r->success, r->n_success) &&
	       ops_serializable(r->failure, r->n_failure);
}

int kv_txn(struct kv *kv, const Kvpb__TxnRequest *req, Kvpb__TxnResponse **out)
{
	*out = NULL;
	int rc = backend_check_txn(kv, req);
	if (rc)
		return rc;
	if (!backend_txn_is_write(req)) {
		/* Read-only txns need no consensus; linearizable ones wait for a ReadIndex
		 * (etcd: a txn is serializable only when all its ranges are). */
		if (!txn_serializable(req) && (rc = backend_read_barrier(kv)))
			return rc;
		pthread_rwlock_rdlock(&kv->lock);
		rc = backend_txn(kv, NULL, req, out);
		pthread_rwlock_unlock(&kv->lock);
		return rc;
	}
	Kvpb__InternalRequest ir = KVPB__INTERNAL_REQUEST__INIT;
	ir.request_case = KVPB__INTERNAL_REQUEST__REQUEST_TXN;
	ir.txn = (Kvpb__TxnRequest *)req;
	if ((rc = check_quota(kv, &ir)))
		return rc;
	return backend_propose(kv, &ir, (void **)out);
}

/* Validate a write and wrap it for the raft thread (shared by the _async and _submit
 * calls); *ro is set for a read-only txn, which is not wrapped. */
static int prepare_write(struct kv *kv, Kvpb__InternalRequest__RequestCase c, const void *req,
			 Kvpb__InternalRequest *ir, bool *ro)
{
	int rc;
	*ro = false;
	ir->request_case = c;
	switch (c) {
	case KVPB__INTERNAL_REQUEST__REQUEST_PUT:
		if ((rc = backend_check_put(kv, req)))
			return rc;
		ir->put = (Kvpb__PutRequest *)req;
		return check_quota(kv, ir);
	case KVPB__INTERNAL_REQUEST__REQUEST_DELETE_RANGE:
		if (!req || ((const Kvpb__DeleteRangeRequest *)req)->key.len == 0)
			return KV_EEMPTYKEY;
		ir->delete_range = (Kvpb__DeleteRangeRequest *)req;
		return 0;
	case KVPB__INTERNAL_REQUEST__REQUEST_TXN:
		if ((rc = backend_check_txn(kv, req)))
			return rc;
		if (!backend_txn_is_write(req)) {
			*ro = true;
			return 0;
		}
		ir->txn = (Kvpb__TxnRequest *)req;
		return check_quota(kv, ir);
	default:
		return -EINVAL;
	}
}

static int write_async(struct kv *kv, Kvpb__InternalRequest__RequestCase c, const void *req,
		       kv_done_cb cb, void *arg, bool borrowed)
{
	if (!cb)
		return -EINVAL;
	Kvpb__InternalRequest ir = KVPB__INTERNAL_REQUEST__INIT;
	bool ro;
	int rc = prepare_write(kv, c, req, &ir, &ro);
	if (rc)
		return rc;
	if (ro) {
		if (borrowed)
			return -EAGAIN; /* the caller serves it with kv_txn where it may block */
		Kvpb__TxnResponse *out = NULL;
		if (!txn_serializable(req) && (rc = backend_read_barrier(kv)))
			return rc;
		pthread_rwlock_rdlock(&kv->lock);
		rc = backend_txn(kv, NULL, req, &out);
		pthread_rwlock_unlock(&kv->lock);
		cb(arg, rc, out);
		return 0;
	}
	return borrowed ? backend_propose_borrowed(kv, &ir, cb, arg)
			: backend_propose_async(kv, &ir, cb, arg);
}

int kv_put_async(struct kv *kv, const Kvpb__PutRequest *req, kv_done_cb cb, void *arg)
{
	return write_async(kv, KVPB__INTERNAL_REQUEST__REQUEST_PUT, req, cb, arg, false);
}

int kv_delete_range_async(struct kv *kv, const Kvpb__DeleteRangeRequest *req, kv_done_cb cb,
			  void *arg)
{
	return write_async(kv, KVPB__INTERNAL_REQUEST__REQUEST_DELETE_RANGE, req, cb, arg, false);
}

int kv_txn_async(struct kv *kv, const Kvpb__TxnRequest *req, kv_done_cb cb, void *arg)
{
	return write_async(kv, KVPB__INTERNAL_REQUEST__REQUEST_TXN, req, cb, arg, false);
}

int kv_put_submit(struct kv *kv, const Kvpb__PutRequest *req, kv_done_cb cb, void *arg)
{
	return write_async(kv, KVPB__INTERNAL_REQUEST__REQUEST_PUT, req, cb, arg, true);
}

int kv_delete_range_submit(struct kv *kv, const Kvpb__DeleteRangeRequest *req, kv_done_cb cb,
			   void *arg)
{
	return write_async(kv, KVPB__INTERNAL_REQUEST__REQUEST_DELETE_RANGE, req, cb, arg, true);
}

int kv_txn_submit(struct kv *kv, const Kvpb__TxnRequest *req, kv_done_cb cb, void *arg)
{
	return write_async(kv, KVPB__INTERNAL_REQUEST__REQUEST_TXN, req, cb, arg, true);
}

int kv_compact(struct kv *kv, const Kvpb__CompactionRequest *req, Kvpb__CompactionResponse **out)
{
	*out = NULL;
	if (!req)
		return -EINVAL;
	if (req->revision <= atomic_load(&kv->compact_rev))
		return KV_ECOMPACTED;
	if (req->revision > atomic_load(&kv->cur_rev))
		return KV_EFUTUREREV;
	Kvpb__InternalRequest ir = KVPB__INTERNAL_REQUEST__INIT;
	Kvpb__CompactionRequest cr = *req;
	cr.physical = false; /* physical compaction is part of apply */
	ir.request_case = KVPB__INTERNAL_REQUEST__REQUEST_COMPACTION;
	ir.compaction = &cr;
	return backend_propose(kv, &ir, (void **)out);
}

/* ---- leases ---- */

int kv_lease_grant(struct kv *kv, const Kvpb__LeaseGrantRequest *req,
		   Kvpb__LeaseGrantResponse **out)
{
	*out = NULL;
	if (!req)
		return -EINVAL;
	if (req->ttl > LEASE_MAX_TTL)
		return KV_ELEASETTLTOOLARGE;
	Kvpb__LeaseGrantRequest g = *req;
	if (g.id == 0) {
		/* etcd picks a positive 63-bit ID (its request ID generator). */
		pthread_rwlock_rdlock(&kv->lock);
		do {
			g.id = (int64_t)(kc_rand64(kv->clock) & INT64_MAX);
		} while (g.id == 0 || lessor_get(&kv->lessor, g.id));
		pthread_rwlock_unlock(&kv->lock);
	}
	Kvpb__InternalRequest ir = KVPB__INTERNAL_REQUEST__INIT;
	ir.request_case = KVPB__INTERNAL_REQUEST__REQUEST_LEASE_GRANT;
	ir.lease_grant = &g;
	int rc = check_quota(kv, &ir);
	if (rc)
		return rc;
	return backend_propose(kv, &ir, (void **)out);
}

int kv_lease_revoke(struct kv *kv, const Kvpb__LeaseRevokeRequest *req,
		    Kvpb__LeaseRevokeResponse **out)
{
	*out = NULL;
	if (!req)
		return -EINVAL;
	pthread_rwlock_rdlock(&kv->lock);
	bool have = lessor_get(&kv->lessor, req->id) != NULL;
	pthread_rwlock_unlock(&kv->lock);
	if (!have)
		return KV_ELEASENOTFOUND;
	Kvpb__InternalRequest ir = KVPB__INTERNAL_REQUEST__INIT;
	ir.request_case = KVPB__INTERNAL_REQUEST__REQUEST_LEASE_REVOKE;
	ir.lease_revoke = (Kvpb__LeaseRevokeRequest *)req;
	return backend_propose(kv, &ir, (void **)out);
}

int kv_lease_keepalive(struct kv *kv, const Kvpb__LeaseKeepAliveRequest *req,
		       Kvpb__LeaseKeepAliveResponse **out)
{
	*out = NULL;
	if (!req)
		return -EINVAL;
	if (!atomic_load(&kv->r_leader)) {
		/* Only the leader's lessor decides expiry; a follower replicates the renewal
		 * (etcd forwards LeaseRenew to its leader) so every member renews. */
		pthread_rwlock_rdlock(&kv->lock);
		bool have = lessor_get(&kv->lessor, req->id) != NULL;
		pthread_rwlock_unlock(&kv->lock);
		if (!have) {
			Kvpb__LeaseKeepAliveResponse *nr = malloc(sizeof(*nr));
			if (!nr)
				return -ENOMEM;
			kvpb__lease_keep_alive_response__init(nr);
			nr->id = req->id;
			pthread_rwlock_rdlock(&kv->lock);
			nr->header = backend_header(kv, kv->mvcc.rev);
			pthread_rwlock_unlock(&kv->lock);
			*out = nr;
			return nr->header ? 0 : -ENOMEM;
		}
		Kvpb__InternalRequest ir = KVPB__INTERNAL_REQUEST__INIT;
		ir.request_case = KVPB__INTERNAL_REQUEST__REQUEST_LEASE_RENEW;
		ir.lease_renew = (Kvpb__LeaseKeepAliveRequest *)req;
		return backend_propose(kv, &ir, (void **)out);
	}
	Kvpb__LeaseKeepAliveResponse *r = malloc(sizeof(*r));
	if (!r)
		return -ENOMEM;
	kvpb__lease_keep_alive_response__init(r);
	pthread_rwlock_rdlock(&kv->lock);
	struct lease *ls = lessor_get(&kv->lessor, req->id);
	int64_t now = kc_now_mono(kv->clock);
	/* An expired lease is being revoked: etcd's Renew waits for that and answers "not
	 * found" (TTL 0 on the keepalive stream) instead of resurrecting it. */
	if (ls && atomic_load(&ls->expiry_ns) > now) {
		atomic_store(&ls->expiry_ns, now + ls->ttl * KC_NSEC_PER_SEC);
		r->ttl = ls->ttl;
	}
	r->id = req->id;
	r->header = backend_header(kv, kv->mvcc.rev);
	pthread_rwlock_unlock(&kv->lock);
	if (!r->header) {
		kvpb__lease_keep_alive_response__free_unpacked(r, NULL);
		return -ENOMEM;
	}
	*out = r;
	return 0;
}

static int bincmp(const void *a, const void *b)
{
	const ProtobufCBinaryData *x = a, *y = b;
	size_t n = x->len < y->len ? x->len : y->len;
	int c = n ? memcmp(x->data, y->data, n) : 0;
	return c ? c : (x->len < y->len ? -1 : x->len > y->len);
}

int kv_lease_timetolive(struct kv *kv, const Kvpb__LeaseTimeToLiveRequest *req,
			Kvpb__LeaseTimeToLiveResponse **out)
{
	*out = NULL;
	if (!req)
		return -EINVAL;
	Kvpb__LeaseTimeToLiveResponse *r = malloc(sizeof(*r));
	if (!r)
		return -ENOMEM;
	kvpb__lease_time_to_live_response__init(r);
	int rc = 0;
	pthread_rwlock_rdlock(&kv->lock);
	r->id = req->id;
	r->header = backend_header(kv, kv->mvcc.rev);
	struct lease *ls = lessor_get(&kv->lessor, req->id);
	if (!ls) {
		r->ttl = -1; /* etcd: unknown lease answers TTL -1, not an error */
	} else {
		int64_t rem = atomic_load(&ls->expiry_ns) - kc_now_mono(kv->clock);
		r->ttl = rem > 0 ? rem / KC_NSEC_PER_SEC : 0;
		r->grantedttl = ls->ttl;
		if (req->keys && ls->nkeys) {
			r->keys = calloc(ls->nkeys, sizeof(*r->keys));
			if (!r->keys)
				rc = -ENOMEM;
			for (struct mvcc_key *k = ls->keys; k && !rc; k = k->lease_next) {
				ProtobufCBinaryData *b = &r->keys[r->n_keys];
				b->data = malloc(k->klen);
				if (!b->data) {
					rc = -ENOMEM;
					break;
				}
				memcpy(b->data, mvcc_key_bytes(k), k->klen);
				b->len = k->klen;
				r->n_keys++;
			}
			if (!rc)
				qsort(r->keys, r->n_keys, sizeof(*r->keys), bincmp);
		}
	}
	pthread_rwlock_unlock(&kv->lock);
	if (rc || !r->header) {
		kvpb__lease_time_to_live_response__free_unpacked(r, NULL);
		return rc ? rc : -ENOMEM;
	}
	*out = r;
	return 0;
}

struct lease_list {
	Kvpb__LeaseStatus **v;
	size_t n;
	int err;
};

static int list_lease(void *arg, struct lease *ls)
{
	struct lease_list *l = arg;
	Kvpb__LeaseStatus *s = malloc(sizeof(*s));
	if (!s)
		return l->err = -ENOMEM;
	kvpb__lease_status__init(s);
	s->id = ls->id;
	l->v[l->n++] = s;
	return 0;
}

static int lease_status_cmp(const void *a, const void *b)
{
	const Kvpb__LeaseStatus *x = *(Kvpb__LeaseStatus *const *)a;
	const Kvpb__LeaseStatus *y = *(Kvpb__LeaseStatus *const *)b;
	return x->id < y->id ? -1 : x->id > y->id;
}

int kv_lease_leases(struct kv *kv, const Kvpb__LeaseLeasesRequest *req,
		    Kvpb__LeaseLeasesResponse **out)
{
	(void)req;
	*out = NULL;
	Kvpb__LeaseLeasesResponse *r = malloc(sizeof(*r));
	if (!r)
		return -ENOMEM;
	kvpb__lease_leases_response__init(r);
	pthread_rwlock_rdlock(&kv->lock);
	r->header = backend_header(kv, kv->mvcc.rev);
	struct lease_list l = { NULL, 0, 0 };
	if (kv->lessor.n) {
		l.v = calloc(kv->lessor.n, sizeof(*l.v));
		if (!l.v)
			l.err = -ENOMEM;
		else
			lessor_each(&kv->lessor, list_lease, &l);
	}
	pthread_rwlock_unlock(&kv->lock);
	r->leases = l.v;
	r->n_leases = l.n;
	if (l.err || !r->header) {
		kvpb__lease_leases_response__free_unpacked(r, NULL);
		return l.err ? l.err : -ENOMEM;
	}
	if (r->n_leases > 1)
		qsort(r->leases, r->n_leases, sizeof(*r->leases), lease_status_cmp);
	*out = r;
	return 0;
}

/* ---- watch ---- */

int kv_watch_create(struct kv *kv, const Kvpb__WatchCreateRequest *req, int64_t watch_id,
		    kv_watch_cb cb, void *arg, struct kv_watch **out)
{
	return watchhub_create(&kv->hub, req, watch_id, cb, arg, out);
}

void kv_watch_cancel(struct kv *kv, struct kv_watch *w, bool notify)
{
	watchhub_cancel(&kv->hub, w, notify);
}

void kv_watch_resume(struct kv *kv, struct kv_watch *w)
{
	watchhub_resume(&kv->hub, w);
}

int kv_watch_progress(struct kv *kv, struct kv_watch *const *ws, size_t n, int64_t *rev)
{
	return watchhub_progress(&kv->hub, ws, n, rev);
}
