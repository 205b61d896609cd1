/* The raft thread: kube-store's EtcdServer.run loop. It owns struct raft and turns every
 * input (client proposals, peer messages, linearizable readers, ticks, commands) into raft
 * calls, then processes each Ready as etcd's raftNode does:
 *
 *   persist hard state + snapshot + entries to the WAL, ONE fdatasync per Ready
 *   -> send the messages -> apply committed entries in order under the state write lock
 *   -> answer local waiters (by request id) -> answer ReadIndex batches -> raft_advance.
 *
 * Group commit survives: every proposal queued while an fsync runs goes in the next Ready.
 * Proposals carry cluster-unique ids (etcd's idutil); each member answers only its own
 * waiters, with the response its own (deterministic) apply produced. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "backend.h"
#include "errors.h"
#include "log.h"

/* Longest a proposal waits for company in a group-commit window (about one fdatasync). */
#define GROUP_COMMIT_WINDOW_NS 150000

/* A peer message copied off the transport thread (entries and bytes inline). */
struct kv_inmsg {
	struct kv_inmsg *next;
	struct raft_msg m;
	struct raft_entry ents[];
};

struct kv_reader {
	struct kv_reader *next;
	sem_t done;
	int err;
	int64_t deadline;
};

struct kv_readbatch {
	struct kv_readbatch *next;
	struct kv_reader *readers;
	uint64_t ctx, index;
	bool answered;
	int64_t issued, deadline;
};

struct kv_cmd {
	struct kv_cmd *next;
	enum kv_cmd_type type;
	int cc;
	uint64_t id;
	int err;
	bool started;
	uint64_t index; /* conf change: entry index to wait for */
	int64_t deadline;
	sem_t done;
};

static int64_t mono(struct kv *kv)
{
	return kc_now_mono(kv->clock);
}

/* ---- request ids (etcd's pkg/idutil: member low 16 bits, ms time, counter) ---- */

static uint64_t next_id(struct kv *kv)
{
	uint64_t s = atomic_fetch_add(&kv->id_suffix, 1) + 1;
	return kv->id_prefix | (s & ((UINT64_C(1) << 48) - 1));
}

/* The id is InternalRequest field 1, a varint packed first by protobuf-c. */
static uint64_t peek_id(const uint8_t *d, size_t n)
{
	if (n < 2 || d[0] != 0x08)
		return 0;
	uint64_t v = 0;
	for (size_t i = 1, sh = 0; i < n && i < 11; i++, sh += 7) {
		v |= (uint64_t)(d[i] & 0x7f) << sh;
		if (!(d[i] & 0x80))
			return v;
	}
	return 0;
}

/* ---- waiters (raft thread only) ---- */

static void waiter_add(struct kv *kv, struct proposal *p)
{
	struct proposal **b = &kv->wbuckets[p->id & 1023];
	p->hnext = *b;
	*b = p;
	p->fnext = NULL;
	p->fprev = kv->wlast;
	if (kv->wlast)
		kv->wlast->fnext = p;
	else
		kv->wfirst = p;
	kv->wlast = p;
	atomic_fetch_add(&kv->proposals_pending, 1);
}

static void waiter_unlink(struct kv *kv, struct proposal *p)
{
	for (struct proposal **b = &kv->wbuckets[p->id & 1023]; *b; b = &(*b)->hnext)
		if (*b == p) {
			*b = p->hnext;
			break;
		}
	if (p->fprev)
		p->fprev->fnext = p->fnext;
	else
		kv->wfirst = p->fnext;
	if (p->fnext)
		p->fnext->fprev = p->fprev;
	else
		kv->wlast = p->fprev;
	if (p->stuck) {
		for (size_t i = 0; i < kv->nstuck; i++)
			if (kv->stuck[i] == p) {
				memmove(&kv->stuck[i], &kv->stuck[i + 1],
					(kv->nstuck - i - 1) * sizeof(*kv->stuck));
				kv->nstuck--;
				break;
			}
		p->stuck = false;
	}
	atomic_fetch_sub(&kv->proposals_pending, 1);
}

static struct proposal *waiter_find(struct kv *kv, uint64_t id)
{
	for (struct proposal *p = kv->wbuckets[id & 1023]; p; p = p->hnext)
		if (p->id == id)
			return p;
	return NULL;
}

/* Answer a proposal already unlinked from the waiter structures. */
static void finish(struct proposal *p)
{
	if (p->cb) {
		/* The request may die in cb (kv_*_submit): read what we need first. */
		Kvpb__InternalRequest__RequestCase rcase = p->req->request_case;
		void *stale = p->err ? p->resp : NULL;
		p->cb(p->cb_arg, p->err, p->err ? NULL : p->resp);
		if (stale)
			backend_free_resp(rcase, stale);
		if (p->owned)
			kvpb__internal_request__free_unpacked(p->owned, NULL);
		free(p->rec);
		free(p);
	} else {
		sem_post(&p->done);
	}
}

static void fail_waiter(struct kv *kv, struct proposal *p, int err)
{
	waiter_unlink(kv, p);
	p->err = err;
	p->resp = NULL;
	atomic_fetch_add(&kv->proposals_failed, 1);
	finish(p);
}

static void stuck_add(struct kv *kv, struct proposal *p)
{
	if (kv->nstuck == kv->capstuck) {
		size_t nc = kv->capstuck ? kv->capstuck * 2 : 64;
		struct proposal **ns = realloc(kv->stuck, nc * sizeof(*ns));
		if (!ns) {
			fail_waiter(kv, p, -ENOMEM);
			return;
		}
		kv->stuck = ns;
		kv->capstuck = nc;
	}
	p->stuck = true;
	kv->stuck[kv->nstuck++] = p;
}

static void propose_one(struct kv *kv, struct proposal *p)
{
	uint64_t idx;
	int rc = raft_propose(kv->raft, p->rec, p->len, &idx);
	if (rc == -EPERM || rc == -EBUSY)
		stuck_add(kv, p); /* no leader yet / transferring: retried each tick */
	else if (rc)
		fail_waiter(kv, p, rc);
}

static void retry_stuck(struct kv *kv)
{
	if (!kv->nstuck || raft_leader(kv->raft) == RAFT_NONE)
		return;
	size_t n = kv->nstuck;
	struct proposal **v = malloc(n * sizeof(*v));
	if (!v)
		return;
	memcpy(v, kv->stuck, n * sizeof(*v));
	kv->nstuck = 0;
	for (size_t i = 0; i < n; i++) {
		v[i]->stuck = false;
		propose_one(kv, v[i]);
	}
	free(v);
}

/* ---- readers ---- */

static void wake_readers(struct kv_reader *r, int err)
{
	for (struct kv_reader *next; r; r = next) {
		next = r->next;
		r->err = err;
		sem_post(&r->done);
	}
}

static void issue_read(struct kv *kv, struct kv_readbatch *b)
{
	b->ctx = ++kv->read_ctx;
	b->issued = mono(kv);
	int rc = raft_read_index(kv->raft, b->ctx);
	if (rc)
		b->issued = 0; /* -EAGAIN: no leader / no commit in its term yet; retry */
}

static void readers_progress(struct kv *kv, int64_t now)
{
	uint64_t applied = atomic_load(&kv->applied_index);
	for (struct kv_readbatch **pb = &kv->rbatches; *pb;) {
		struct kv_readbatch *b = *pb;
		if (b->answered && b->index <= applied) {
			*pb = b->next;
			wake_readers(b->readers, 0);
			free(b);
			continue;
		}
		if (now >= b->deadline) {
			*pb = b->next;
			wake_readers(b->readers, KV_ETIMEOUT);
			free(b);
			continue;
		}
		/* An unanswered round is lost with a leader change: ask again after an
		 * election timeout (etcd retries its ReadIndex the same way). */
		if (!b->answered && (b->issued == 0 || now - b->issued >= kv->election_ns))
			issue_read(kv, b);
		pb = &b->next;
	}
}

int backend_read_barrier(struct kv *kv)
{
	/* A sole voter that leads needs no round: its applies ARE the commit order and it
	 * acknowledges a write only after applying it. */
	if (atomic_load(&kv->r_leader) && atomic_load(&kv->r_sole))
		return 0;
	struct kv_reader r;
	memset(&r, 0, sizeof(r));
	sem_init(&r.done, 0, 0);
	pthread_mutex_lock(&kv->qmu);
	if (kv->stopping) {
		pthread_mutex_unlock(&kv->qmu);
		sem_destroy(&r.done);
		return KV_ESTOPPED;
	}
	if (kv->rtail)
		kv->rtail->next = &r;
	else
		kv->rhead = &r;
	kv->rtail = &r;
	pthread_cond_signal(&kv->qcv);
	pthread_mutex_unlock(&kv->qmu);
	while (sem_wait(&r.done) != 0 && errno == EINTR)
		;
	sem_destroy(&r.done);
	return r.err;
}

/* ---- proposals from clients ---- */

static int enqueue(struct kv *kv, struct proposal *p)
{
	pthread_mutex_lock(&kv->qmu);
	if (kv->stopping || atomic_load(&kv->removed)) {
		pthread_mutex_unlock(&kv->qmu);
		return KV_ESTOPPED;
	}
	if (kv->qtail)
		kv->qtail->next = p;
	else
		kv->qhead = p;
	kv->qtail = p;
	/* In a group-commit window the raft thread waits for gc_target proposals: wake
	 * it once, not per proposal. */
	if (++kv->qlen >= kv->gc_target)
		pthread_cond_signal(&kv->qcv);
	pthread_mutex_unlock(&kv->qmu);
	return 0;
}

int backend_propose(struct kv *kv, Kvpb__InternalRequest *req, void **resp)
{
	struct proposal p;
	memset(&p, 0, sizeof(p));
	req->id = next_id(kv);
	p.id = req->id;
	p.req = req;
	p.len = kvpb__internal_request__get_packed_size(req);
	p.rec = malloc(p.len ? p.len : 1);
	if (!p.rec)
		return -ENOMEM;
	kvpb__internal_request__pack(req, p.rec);
	sem_init(&p.done, 0, 0);
	int rc = enqueue(kv, &p);
	if (rc) {
		sem_destroy(&p.done);
		free(p.rec);
		return rc;
	}
	while (sem_wait(&p.done) != 0 && errno == EINTR)
		;
	sem_destroy(&p.done);
	free(p.rec);
	if (resp)
		*resp = p.resp;
	else if (p.resp)
		backend_free_resp(req->request_case, p.resp);
	return p.err;
}

int backend_propose_async(struct kv *kv, Kvpb__InternalRequest *req, kv_done_cb cb, void *arg)
{
	if (!cb)
		return -EINVAL;
	struct proposal *p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	req->id = next_id(kv);
	p->id = req->id;
	p->len = kvpb__internal_request__get_packed_size(req);
	p->rec = malloc(p->len ? p->len : 1);
	if (p->rec) {
		kvpb__internal_request__pack(req, p->rec);
		/* The caller's request dies with this call: apply from our own copy. */
		p->owned = kvpb__internal_request__unpack(NULL, p->len, p->rec);
	}
	if (!p->rec || !p->owned) {
		free(p->rec);
		free(p);
		return -ENOMEM;
	}
	p->req = p->owned;
	p->cb = cb;
	p->cb_arg = arg;
	int rc = enqueue(kv, p);
	if (rc) {
		kvpb__internal_request__free_unpacked(p->owned, NULL);
		free(p->rec);
		free(p);
	}
	return rc;
}

int backend_propose_borrowed(struct kv *kv, const Kvpb__InternalRequest *req, kv_done_cb cb,
			     void *arg)
{
	if (!cb)
		return -EINVAL;
	struct proposal *p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->ireq = *req;
	p->ireq.id = next_id(kv);
	p->id = p->ireq.id;
	p->len = kvpb__internal_request__get_packed_size(&p->ireq);
	p->rec = malloc(p->len ? p->len : 1);
	if (!p->rec) {
		free(p);
		return -ENOMEM;
	}
	kvpb__internal_request__pack(&p->ireq, p->rec);
	p->req = &p->ireq;
	p->cb = cb;
	p->cb_arg = arg;
	int rc = enqueue(kv, p);
	if (rc) {
		free(p->rec);
		free(p);
	}
	return rc;
}

/* ---- commands (conf change, leader transfer) ---- */

int backend_raft_cmd(struct kv *kv, enum kv_cmd_type type, int cc, uint64_t id)
{
	struct kv_cmd c;
	memset(&c, 0, sizeof(c));
	c.type = type;
	c.cc = cc;
	c.id = id;
	sem_init(&c.done, 0, 0);
	pthread_mutex_lock(&kv->qmu);
	if (kv->stopping) {
		pthread_mutex_unlock(&kv->qmu);
		sem_destroy(&c.done);
		return KV_ESTOPPED;
	}
	c.next = kv->chead;
	kv->chead = &c;
	pthread_cond_signal(&kv->qcv);
	pthread_mutex_unlock(&kv->qmu);
	while (sem_wait(&c.done) != 0 && errno == EINTR)
		;
	sem_destroy(&c.done);
	return c.err;
}

static void cmd_start(struct kv *kv, struct kv_cmd *c)
{
	c->deadline = mono(kv) + (c->type == KV_CMD_TRANSFER ? 2 * kv->election_ns
							       : kv->req_timeout_ns);
	int rc;
	if (c->type == KV_CMD_LEARNER_READY) {
		/* etcd's isLearnerReady: the member's match index must be within 90 % of the
		 * leader's (readyPercent); a member the leader has no progress for passes. */
		if (raft_role(kv->raft) != RAFT_LEADER) {
			c->err = KV_ENOTLEADER;
		} else {
			uint64_t lead = raft_last_index(kv->raft);
			bool known = raft_conf_find(raft_configuration(kv->raft), c->id) >= 0;
			uint64_t match = raft_match_index(kv->raft, c->id);
			c->err = known && (double)match < (double)lead * 0.9 ? KV_ELEARNERNOTREADY : 0;
		}
		sem_post(&c->done);
		return;
	}
	if (c->type == KV_CMD_TRANSFER) {
		if (c->id == 0) {
			/* etcd's TransferLeadershipOnShutdown picks the most caught-up voter
			 * (longestConnected there; the highest match index here). */
			const struct raft_conf *cf = raft_configuration(kv->raft);
			uint64_t best = 0;
			for (size_t i = 0; i < cf->n; i++) {
				uint64_t id = cf->ids[i];
				if (id == kv->member_id || cf->learner[i])
					continue;
				if (!c->id || raft_match_index(kv->raft, id) > best) {
					best = raft_match_index(kv->raft, id);
					c->id = id;
				}
			}
		}
		rc = c->id ? raft_transfer_leader(kv->raft, c->id) : -EINVAL;
		if (rc == -EPERM)
			rc = KV_ENOTLEADER;
		else if (rc == -EINVAL)
			rc = KV_EBADLEADERTRANSFEREE;
	} else {
		if (raft_role(kv->raft) != RAFT_LEADER) {
			rc = raft_leader(kv->raft) ? KV_ENOTLEADER : KV_ENOLEADER;
		} else {
			rc = raft_change_membership(kv->raft, (enum raft_conf_change)c->cc, c->id,
						    &c->index);
			if (rc == -EBUSY)
				rc = KV_ENOTENOUGHSTARTED;
			else if (rc == -EINVAL)
				rc = KV_EMEMBERNOTFOUND;
			else if (rc == -EPERM)
				rc = KV_ENOTLEADER;
		}
	}
	if (rc) {
		c->err = rc;
		sem_post(&c->done);
		return;
	}
	c->next = kv->active_cmds;
	kv->active_cmds = c;
}

static void cmds_progress(struct kv *kv, int64_t now)
{
	for (struct kv_cmd **pc = &kv->active_cmds; *pc;) {
		struct kv_cmd *c = *pc;
		bool done = false;
		if (c->type == KV_CMD_TRANSFER) {
			if (raft_leader(kv->raft) == c->id) {
				done = true;
				c->err = 0;
			}
		} else if (atomic_load(&kv->applied_index) >= c->index) {
			done = true;
			c->err = 0;
		}
		if (!done && now >= c->deadline) {
			done = true;
			c->err = KV_ETIMEOUT;
		}
		if (done) {
			*pc = c->next;
			sem_post(&c->done);
		} else {
			pc = &c->next;
		}
	}
}

/* ---- peer messages ---- */

void backend_raft_on_peer_msg(void *arg, const struct raft_msg *m)
{
	struct kv *kv = arg;
	size_t data = 0;
	for (size_t i = 0; i < m->n_entries; i++)
		data += m->entries[i].len;
	data += m->snap_len;
	struct kv_inmsg *im = malloc(sizeof(*im) + m->n_entries * sizeof(struct raft_entry) + data);
	if (!im)
		return; /* a lost message: Raft tolerates it */
	im->next = NULL;
	im->m = *m;
	uint8_t *p = (uint8_t *)&im->ents[m->n_entries];
	for (size_t i = 0; i < m->n_entries; i++) {
		im->ents[i] = m->entries[i];
		if (m->entries[i].len) {
			memcpy(p, m->entries[i].data, m->entries[i].len);
			im->ents[i].data = p;
			p += m->entries[i].len;
		} else {
			im->ents[i].data = NULL;
		}
	}
	im->m.entries = m->n_entries ? im->ents : NULL;
	if (m->snap_len) {
		memcpy(p, m->snap_data, m->snap_len);
		im->m.snap_data = p;
	}
	pthread_mutex_lock(&kv->qmu);
	if (kv->intail)
		kv->intail->next = im;
	else
		kv->inhead = im;
	kv->intail = im;
	pthread_cond_signal(&kv->qcv);
	pthread_mutex_unlock(&kv->qmu);
}

/* Make the transport know every member of the configuration or of the member metadata
 * (a joiner's configuration is empty until the log reaches it, yet it must accept the
 * leader's stream), and forget the others. */
static void sync_peers(struct kv *kv)
{
	if (!kv->peers)
		return;
	pthread_rwlock_rdlock(&kv->lock);
	for (size_t i = 0; i < kv->members.n; i++) {
		const struct cluster_member *m = &kv->members.v[i];
		struct peer_remote_stats st;
		if (m->id == kv->member_id || !m->n_peer ||
		    peer_remote_stats_get(kv->peers, m->id, &st) != -ENOENT)
			continue;
		int rc = peer_add(kv->peers, m->id, m->peer_urls[0]);
		if (rc)
			kc_warn("cannot add peer %016" PRIx64 " at %s: %s", m->id, m->peer_urls[0],
				kc_strerror(rc));
	}
	pthread_rwlock_unlock(&kv->lock);
}

/* Forget a member that left both the configuration and the metadata. */
static void drop_peer_if_gone(struct kv *kv, uint64_t id)
{
	if (!kv->peers || id == kv->member_id)
		return;
	const struct raft_conf *c = raft_configuration(kv->raft);
	pthread_rwlock_rdlock(&kv->lock);
	bool gone = raft_conf_find(c, id) < 0 && !cluster_find(&kv->members, id);
	pthread_rwlock_unlock(&kv->lock);
	if (gone)
		peer_remove(kv->peers, id);
}

/* ---- snapshots ---- */

int backend_raft_blob(struct kv *kv, const struct raft_conf *conf, uint8_t **out, size_t *len)
{
	uint8_t *cb = NULL;
	size_t cl = 0;
	int rc = cluster_encode(&kv->members, &cb, &cl);
	if (rc)
		return rc;
	size_t csz = raft_conf_size(conf);
	uint8_t *b = malloc(4 + csz + cl);
	if (!b) {
		free(cb);
		return -ENOMEM;
	}
	for (int i = 0; i < 4; i++)
		b[i] = (uint8_t)(csz >> (8 * i));
	raft_conf_encode(conf, b + 4);
	memcpy(b + 4 + csz, cb, cl);
	free(cb);
	*out = b;
	*len = 4 + csz + cl;
	return 0;
}

/* Split a snapshot blob into its configuration and member list. */
static int parse_blob(const uint8_t *b, size_t len, struct raft_conf *conf,
		      struct cluster_members *members)
{
	if (len < 4)
		return -EINVAL;
	size_t csz = (size_t)b[0] | (size_t)b[1] << 8 | (size_t)b[2] << 16 | (size_t)b[3] << 24;
	if (csz > len - 4 || raft_conf_decode(b + 4, csz, conf))
		return -EINVAL;
	return cluster_decode(b + 4 + csz, len - 4 - csz, members);
}

static void maybe_snapshot(struct kv *kv)
{
	uint64_t idx = atomic_load(&kv->applied_index);
	if (idx - kv->snap_index < kv->snapshot_count)
		return;
	int64_t t0 = kc_now_mono(kc_clock_real());
	int rc = raft_compact(kv->raft, idx);
	if (rc) {
		kc_error("raft: compact at %" PRIu64 " failed: %s", idx, kc_strerror(rc));
		return;
	}
	const struct raft_snapshot_meta *sm = raft_last_snapshot(kv->raft);
	pthread_rwlock_rdlock(&kv->lock);
	struct snap_meta m = { idx, kv->alarms, kv->nalarms, sm->term, NULL, 0 };
	rc = backend_raft_blob(kv, &sm->conf, &m.raft, &m.raft_len);
	if (!rc)
		rc = snapshot_save(kv->snap_dir, &kv->mvcc, &kv->lessor, &m);
	pthread_rwlock_unlock(&kv->lock);
	free(m.raft);
	int64_t took_ms = (kc_now_mono(kc_clock_real()) - t0) / KC_NSEC_PER_MSEC;
	if (rc) {
		kc_error("snapshot at index %" PRIu64 " failed: %s", idx, strerror(-rc));
		return;
	}
	kv->snap_index = idx;
	atomic_fetch_add(&kv->n_snapshots, 1);
	kc_info("saved snapshot at index %" PRIu64 " (revision %lld) in %lld ms", idx,
		(long long)atomic_load(&kv->cur_rev), (long long)took_ms);
	/* As etcd's ReleaseLockTo(snapshot index): WAL segments wholly covered by the
	 * snapshot go. (etcd also keeps SnapshotCatchUpEntries = 5000 entries in its
	 * in-memory log for slow followers; ours is compacted to the snapshot, so a slow
	 * follower gets the snapshot instead; see README.md.) */
	/* The ids live in the 'M' record, which the release may drop: write it again
	 * first (the configuration now comes from the snapshot). */
	pthread_rwlock_rdlock(&kv->lock);
	rc = rwal_save_boot(&kv->rwal, &kv->members, false, kv->member_id, kv->cluster_id);
	pthread_rwlock_unlock(&kv->lock);
	if (!rc)
		rwal_release(&kv->rwal, idx);
}

/* Read our own snapshot file at index (for InstallSnapshot to a follower). */
static int read_own_snapshot(struct kv *kv, uint64_t index, uint8_t **out, size_t *len)
{
	char *path = NULL;
	if (asprintf(&path, "%s/%016" PRIx64 ".snap", kv->snap_dir, index) < 0)
		return -ENOMEM;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	free(path);
	if (fd < 0)
		return -errno;
	struct stat st;
	if (fstat(fd, &st) != 0 || st.st_size <= 0 || st.st_size > (off_t)(PEER_DEFAULT_MAX_FRAME - 4096)) {
		close(fd);
		return -EFBIG;
	}
	size_t n = (size_t)st.st_size, got = 0;
	uint8_t *b = malloc(n);
	if (!b) {
		close(fd);
		return -ENOMEM;
	}
	while (got < n) {
		ssize_t r = pread(fd, b + got, n - got, (off_t)got);
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	close(fd);
	if (got != n) {
		free(b);
		return -EIO;
	}
	*out = b;
	*len = n;
	return 0;
}

/* A snapshot from the leader: save its bytes as our snapshot file, then replace the whole
 * state under the write lock. Watchers are resynced by the hub from the new state. */
static int install_snapshot(struct kv *kv, const struct raft_ready *rd)
{
	char *tmp = NULL, *fin = NULL;
	if (asprintf(&tmp, "%s/%016" PRIx64 ".snap.recv", kv->snap_dir, rd->snap.index) < 0)
		return -ENOMEM;
	if (asprintf(&fin, "%s/%016" PRIx64 ".snap", kv->snap_dir, rd->snap.index) < 0) {
		free(tmp);
		return -ENOMEM;
	}
	int rc = 0;
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		rc = -errno;
	size_t done = 0;
	while (!rc && done < rd->snap_len) {
		ssize_t w = write(fd, rd->snap_data + done, rd->snap_len - done);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			rc = -EIO;
		else
			done += (size_t)w;
	}
	if (fd >= 0) {
		if (!rc && !kv->rwal.w.no_fsync && fsync(fd) != 0)
			rc = -errno;
		close(fd);
	}
	struct mvcc ns;
	struct lessor nl;
	struct snap_meta m;
	memset(&m, 0, sizeof(m));
	bool inited = false;
	if (!rc && !(rc = mvcc_init(&ns))) {
		if ((rc = lessor_init(&nl)))
			mvcc_close(&ns);
		else
			inited = true;
	}
	if (!rc)
		rc = snapshot_load(tmp, &ns, &nl, &m, mono(kv));
	struct raft_conf conf;
	struct cluster_members mem = { 0 };
	if (!rc && m.raft && parse_blob(m.raft, m.raft_len, &conf, &mem))
		rc = KV_ECORRUPT;
	if (!rc && rename(tmp, fin) != 0)
		rc = -errno;
	if (rc) {
		unlink(tmp);
		if (inited) {
			mvcc_close(&ns);
			lessor_close(&nl);
		}
		free(m.alarms);
		free(m.raft);
		cluster_members_free(&mem);
		free(tmp);
		free(fin);
		return rc;
	}
	pthread_rwlock_wrlock(&kv->lock);
	mvcc_close(&kv->mvcc);
	lessor_close(&kv->lessor);
	kv->mvcc = ns;
	kv->lessor = nl;
	kv->nalarms = m.nalarms < KV_MAX_ALARMS ? m.nalarms : KV_MAX_ALARMS;
	if (kv->nalarms)
		memcpy(kv->alarms, m.alarms, kv->nalarms * sizeof(*kv->alarms));
	if (m.raft) {
		cluster_members_free(&kv->members);
		kv->members = mem;
		mem.v = NULL;
		mem.n = 0;
	}
	kv->snap_index = rd->snap.index;
	atomic_store(&kv->applied_index, rd->snap.index);
	atomic_store(&kv->cur_rev, kv->mvcc.rev);
	atomic_store(&kv->compact_rev, kv->mvcc.compact_rev);
	if (kv->mvcc.bytes > kv->db_size)
		kv->db_size = kv->mvcc.bytes;
	pthread_rwlock_unlock(&kv->lock);
	watchhub_reset(&kv->hub, atomic_load(&kv->cur_rev));
	kc_info("installed snapshot at index %" PRIu64 " (revision %lld) from the leader",
		rd->snap.index, (long long)kv->mvcc.rev);
	free(m.alarms);
	free(m.raft);
	cluster_members_free(&mem);
	free(tmp);
	free(fin);
	return 0;
}

/* ---- apply ---- */

static void publish(struct kv *kv)
{
	atomic_store(&kv->cur_rev, kv->mvcc.rev);
	atomic_store(&kv->compact_rev, kv->mvcc.compact_rev);
	if (kv->mvcc.bytes > kv->db_size)
		kv->db_size = kv->mvcc.bytes;
}

struct applied_list {
	struct proposal *head, *tail;
};

static void apply_conf(struct kv *kv, const struct raft_entry *e)
{
	struct raft_conf c;
	if (raft_conf_decode(e->data, e->len, &c))
		return;
	kv->conf_index_applied = e->index;
	/* Removed, not "not yet added": a joiner replaying entries from before its own
	 * addition never was in a configuration. */
	if (kv->was_member && raft_conf_find(&c, kv->member_id) < 0 &&
	    raft_conf_find(raft_configuration(kv->raft), kv->member_id) < 0) {
		/* etcd: "the member has been permanently removed from the cluster" */
		kc_warn("the member has been permanently removed from the cluster");
		atomic_store(&kv->removed, true);
	}
}

static void apply_entries(struct kv *kv, const struct raft_entry *ents, size_t n,
			  struct applied_list *done)
{
	bool conf_changed = false;
	pthread_rwlock_wrlock(&kv->lock);
	for (size_t i = 0; i < n; i++) {
		const struct raft_entry *e = &ents[i];
		if (e->type == RAFT_ENTRY_NORMAL && e->len) {
			struct proposal *p = waiter_find(kv, peek_id(e->data, e->len));
			Kvpb__InternalRequest *own = NULL;
			const Kvpb__InternalRequest *req = p ? p->req : NULL;
			if (!req) {
				own = kvpb__internal_request__unpack(NULL, e->len, e->data);
				req = own;
			}
			if (!req) {
				kc_error("raft: entry %" PRIu64 " does not decode; skipped", e->index);
			} else {
				if (req->request_case == KVPB__INTERNAL_REQUEST__REQUEST_COMPACTION) {
					/* Hand watchers the events this compaction may free first
					 * (etcd notifies at every write txn end). */
					publish(kv);
					pthread_rwlock_unlock(&kv->lock);
					watchhub_notify(&kv->hub, kv->mvcc.rev);
					pthread_rwlock_wrlock(&kv->lock);
				}
				void *resp = NULL;
				int err = backend_apply(kv, req, &resp);
				if (p) {
					waiter_unlink(kv, p);
					p->err = err;
					p->resp = resp;
					p->next = NULL;
					if (done->tail)
						done->tail->next = p;
					else
						done->head = p;
					done->tail = p;
				} else if (resp) {
					backend_free_resp(req->request_case, resp);
				}
				if (req->request_case == KVPB__INTERNAL_REQUEST__REQUEST_MEMBER_ADD ||
				    req->request_case == KVPB__INTERNAL_REQUEST__REQUEST_MEMBER_UPDATE)
					conf_changed = true;
			}
			if (own)
				kvpb__internal_request__free_unpacked(own, NULL);
		} else if (e->type == RAFT_ENTRY_CONF) {
			apply_conf(kv, e);
			conf_changed = true;
		}
		atomic_store(&kv->applied_index, e->index);
	}
	publish(kv);
	pthread_rwlock_unlock(&kv->lock);
	watchhub_notify(&kv->hub, kv->mvcc.rev);
	if (conf_changed)
		sync_peers(kv);
}

/* etcd's lessor.Promote: a new leader extends every lease to now + TTL, so a leader
 * change never expires a lease early. */
static int promote_lease(void *arg, struct lease *ls)
{
	struct kv *kv = arg;
	atomic_store(&ls->expiry_ns, mono(kv) + ls->ttl * KC_NSEC_PER_SEC);
	return 0;
}

static void note_leadership(struct kv *kv, const struct raft_ready *rd)
{
	uint64_t old = atomic_load(&kv->r_lead);
	bool was = atomic_load(&kv->r_leader);
	bool is = rd->role == RAFT_LEADER;
	uint64_t term = raft_term(kv->raft);
	if (atomic_load(&kv->raft_term) != term) {
		atomic_store(&kv->raft_term, term);
		watchhub_set_term(&kv->hub, term);
	}
	if (rd->lead != old) {
		atomic_store(&kv->r_lead, rd->lead);
		if (rd->lead) {
			atomic_fetch_add(&kv->leader_changes, 1);
			kc_info("raft.node: %" PRIx64 " elected leader %" PRIx64 " at term %" PRIu64,
				kv->member_id, rd->lead, term);
		} else {
			kc_info("raft.node: %" PRIx64 " lost leader %" PRIx64 " at term %" PRIu64,
				kv->member_id, old, term);
		}
	}
	if (is && !was) {
		kc_info("%" PRIx64 " became leader at term %" PRIu64, kv->member_id, term);
		pthread_rwlock_rdlock(&kv->lock);
		lessor_each(&kv->lessor, promote_lease, kv);
		pthread_rwlock_unlock(&kv->lock);
	}
	atomic_store(&kv->r_leader, is);
	const struct raft_conf *c = raft_configuration(kv->raft);
	int voters = 0;
	for (size_t i = 0; i < c->n; i++)
		voters += !c->learner[i];
	atomic_store(&kv->r_sole, voters == 1 && raft_conf_is_voter(c, kv->member_id));
	if (raft_conf_find(c, kv->member_id) >= 0)
		kv->was_member = true;
	if (memcmp(c, &kv->pub_conf, sizeof(*c)) != 0) {
		struct raft_conf prev = kv->pub_conf;
		pthread_rwlock_wrlock(&kv->lock);
		kv->pub_conf = *c;
		pthread_rwlock_unlock(&kv->lock);
		sync_peers(kv);
		for (size_t i = 0; i < prev.n; i++)
			drop_peer_if_gone(kv, prev.ids[i]);
	}
}

/* Hand a Ready's messages to the transport (snapshots get our snapshot file's bytes). */
static void send_msgs(struct kv *kv, const struct raft_ready *rd)
{
	for (size_t i = 0; i < rd->n_msgs && kv->peers; i++) {
		const struct raft_msg *m = &rd->msgs[i];
		if (m->type != RAFT_MSG_SNAPSHOT) {
			peer_send(kv->peers, m);
			continue;
		}
		struct raft_msg sm = *m;
		uint8_t *b = NULL;
		size_t len = 0;
		int src = read_own_snapshot(kv, m->snap.index, &b, &len);
		if (src) {
			kc_warn("cannot send snapshot %" PRIu64 " to %" PRIx64 ": %s", m->snap.index,
				m->to, kc_strerror(src));
			continue;
		}
		sm.snap_data = b;
		sm.snap_len = len;
		int sr = peer_send(kv->peers, &sm);
		if (sr)
			kc_warn("snapshot to %" PRIx64 " not queued: %s", m->to, kc_strerror(sr));
		else
			kc_info("sent snapshot at index %" PRIu64 " (%zu bytes) to %" PRIx64,
				m->snap.index, len, m->to);
		free(b);
	}
}

/* Process every pending Ready. Returns a sticky WAL error (0 normally). */
static int process_ready(struct kv *kv)
{
	while (raft_has_ready(kv->raft)) {
		struct raft_ready rd;
		raft_ready(kv->raft, &rd);
		int rc = kv->failed;
		bool leader_first = rd.role == RAFT_LEADER && !rd.has_snap;
		if (!rc && leader_first)
			send_msgs(kv, &rd);
		if (!rc && rd.has_snap)
			rc = install_snapshot(kv, &rd);
		if (!rc) {
			int64_t t0 = kc_now_mono(kc_clock_real());
			bool synced = false;
			rc = rwal_save(&kv->rwal, &rd, &synced);
			if (synced) {
				atomic_fetch_add(&kv->fsync_ns,
						 (uint64_t)(kc_now_mono(kc_clock_real()) - t0));
				atomic_fetch_add(&kv->n_fsyncs, 1);
			}
		}
		if (rc && !kv->failed) {
			/* As etcd, a failed WAL write is fatal for durability: refuse every later
			 * write instead of acknowledging undurable data. */
			kc_error("wal: write/sync failed: %s; refusing further writes",
				 kv_errmsg(rc));
			kv->failed = rc;
		}
		/* A follower persists before it answers (its acknowledgement promises
		 * durability); a leader sends first so its followers' disk writes overlap its
		 * own (Ongaro §10.2.1; etcd's raftNode does the same). Apply, and so every
		 * acknowledgement to a client, still waits for this Ready's fsync. */
		if (!rc && !leader_first)
			send_msgs(kv, &rd);
		struct applied_list done = { NULL, NULL };
		if (!rc && rd.n_committed)
			apply_entries(kv, rd.committed, rd.n_committed, &done);
		/* Status readers woken below must see this Ready's progress. */
		atomic_store(&kv->r_last, raft_last_index(kv->raft));
		atomic_store(&kv->r_commit, raft_commit_index(kv->raft));
		note_leadership(kv, &rd);
		uint64_t napplied = 0;
		for (struct proposal *p = done.head; p; p = p->next)
			napplied++;
		atomic_fetch_add(&kv->n_proposals, napplied);
		for (struct proposal *p = done.head, *next; p; p = next) {
			next = p->next;
			finish(p);
		}
		for (size_t i = 0; i < rd.n_reads; i++)
			for (struct kv_readbatch *b = kv->rbatches; b; b = b->next)
				if (b->ctx == rd.reads[i].ctx && !b->answered) {
					b->answered = true;
					b->index = rd.reads[i].index;
				}
		raft_advance(kv->raft, &rd);
		atomic_store(&kv->r_last, raft_last_index(kv->raft));
		atomic_store(&kv->r_commit, raft_commit_index(kv->raft));
		if (rc)
			return rc;
		maybe_snapshot(kv);
	}
	return 0;
}

/* ---- the thread ---- */

static void expire_waiters(struct kv *kv, int64_t now)
{
	while (kv->wfirst && kv->wfirst->deadline <= now)
		fail_waiter(kv, kv->wfirst, KV_ETIMEOUT);
}

static void *raft_main(void *arg)
{
	struct kv *kv = arg;
	kv->next_tick = mono(kv) + kv->heartbeat_ns;
	for (;;) {
		pthread_mutex_lock(&kv->qmu);
		while (!kv->qhead && !kv->inhead && !kv->rhead && !kv->chead && !kv->stopping) {
			int64_t wait = kv->next_tick - mono(kv);
			if (wait <= 0)
				break;
			struct timespec ts;
			clock_gettime(CLOCK_MONOTONIC, &ts);
			int64_t ns = ts.tv_nsec + wait;
			ts.tv_sec += ns / KC_NSEC_PER_SEC;
			ts.tv_nsec = ns % KC_NSEC_PER_SEC;
			pthread_cond_timedwait(&kv->qcv, &kv->qmu, &ts);
		}
		/* Group commit: when the last pass took several proposals (several clients
		 * are writing) and fewer are queued now, wait a little for as many, so one
		 * fdatasync covers them (each costs ~40 us of CPU and two wake-ups). Only
		 * then: a lone client's write never waits. Anything else queued (peer
		 * messages, reads, commands, stop) ends the window. */
		if (kv->qhead && kv->last_batch > 1 && kv->qlen < kv->last_batch && !kv->inhead &&
		    !kv->rhead && !kv->chead && !kv->stopping) {
			struct timespec ts;
			clock_gettime(CLOCK_MONOTONIC, &ts);
			int64_t ns = ts.tv_nsec + GROUP_COMMIT_WINDOW_NS;
			ts.tv_sec += ns / KC_NSEC_PER_SEC;
			ts.tv_nsec = ns % KC_NSEC_PER_SEC;
			kv->gc_target = kv->last_batch;
			while (kv->qlen < kv->gc_target && !kv->inhead && !kv->rhead && !kv->chead &&
			       !kv->stopping)
				if (pthread_cond_timedwait(&kv->qcv, &kv->qmu, &ts) == ETIMEDOUT)
					break;
			kv->gc_target = 0;
		}
		kv->last_batch = kv->qlen;
		kv->qlen = 0;
		struct proposal *batch = kv->qhead;
		struct kv_inmsg *in = kv->inhead;
		struct kv_reader *readers = kv->rhead;
		struct kv_cmd *cmds = kv->chead;
		kv->qhead = kv->qtail = NULL;
		kv->inhead = kv->intail = NULL;
		kv->rhead = kv->rtail = NULL;
		kv->chead = NULL;
		bool stop = kv->stopping;
		pthread_mutex_unlock(&kv->qmu);
		int64_t now = mono(kv);
		if (stop) {
			for (struct proposal *p = batch, *next; p; p = next) {
				next = p->next;
				p->err = KV_ESTOPPED;
				finish(p);
			}
			wake_readers(readers, KV_ESTOPPED);
			for (struct kv_cmd *c = cmds, *next; c; c = next) {
				next = c->next;
				c->err = KV_ESTOPPED;
				sem_post(&c->done);
			}
			for (struct kv_inmsg *m = in, *next; m; m = next) {
				next = m->next;
				free(m);
			}
			break;
		}
		for (struct kv_inmsg *m = in, *next; m; m = next) {
			next = m->next;
			raft_step(kv->raft, &m->m);
			free(m);
		}
		if (!kv->cluster_id && kv->peers && peer_cluster_id(kv->peers)) {
			/* A joiner learnt the cluster id: keep it for its next start. */
			kv->cluster_id = peer_cluster_id(kv->peers);
			pthread_rwlock_rdlock(&kv->lock);
			int brc = rwal_save_boot(&kv->rwal, &kv->members, false, kv->member_id,
						 kv->cluster_id);
			pthread_rwlock_unlock(&kv->lock);
			if (brc)
				kc_warn("cannot record the cluster id: %s", kv_errmsg(brc));
		}
		bool ticked = false;
		while (now >= kv->next_tick) {
			raft_tick(kv->raft);
			kv->next_tick += kv->heartbeat_ns;
			ticked = true;
		}
		if (ticked)
			kv->next_tick = kv->next_tick > now ? kv->next_tick : now + kv->heartbeat_ns;
		for (struct proposal *p = batch, *next; p; p = next) {
			next = p->next;
			p->next = NULL;
			p->deadline = now + kv->req_timeout_ns;
			waiter_add(kv, p);
			if (kv->failed)
				fail_waiter(kv, p, kv->failed);
			else if (kv->nstuck)
				stuck_add(kv, p); /* keep order behind earlier stuck ones */
			else
				propose_one(kv, p);
		}
		retry_stuck(kv);
		if (readers) {
			struct kv_readbatch *b = calloc(1, sizeof(*b));
			if (!b) {
				wake_readers(readers, -ENOMEM);
			} else {
				b->readers = readers;
				b->deadline = now + kv->req_timeout_ns;
				b->next = kv->rbatches;
				kv->rbatches = b;
				issue_read(kv, b);
			}
		}
		for (struct kv_cmd *c = cmds, *next; c; c = next) {
			next = c->next;
			cmd_start(kv, c);
		}
		process_ready(kv);
		retry_stuck(kv);
		if (ticked)
			backend_member_reconcile(kv);
		if (raft_has_ready(kv->raft))
			process_ready(kv);
		now = mono(kv);
		expire_waiters(kv, now);
		readers_progress(kv, now);
		cmds_progress(kv, now);
	}
	/* Fail everything still waiting. */
	while (kv->wfirst)
		fail_waiter(kv, kv->wfirst, KV_ESTOPPED);
	while (kv->rbatches) {
		struct kv_readbatch *b = kv->rbatches;
		kv->rbatches = b->next;
		wake_readers(b->readers, KV_ESTOPPED);
		free(b);
	}
	while (kv->active_cmds) {
		struct kv_cmd *c = kv->active_cmds;
		kv->active_cmds = c->next;
		c->err = KV_ESTOPPED;
		sem_post(&c->done);
	}
	return NULL;
}

/* ---- open / start / stop ---- */

static uint64_t rand64(void *arg)
{
	struct kv *kv = arg;
	return kc_rand64(kv->clock);
}

static int conf_from_members(const struct cluster_members *m, struct raft_conf *c)
{
	memset(c, 0, sizeof(*c));
	if (m->n > RAFT_MAX_MEMBERS)
		return -EINVAL;
	for (size_t i = 0; i < m->n; i++) {
		c->ids[i] = m->v[i].id;
		c->learner[i] = m->v[i].learner;
	}
	c->n = m->n;
	return 0;
}

int backend_raft_open(struct kv *kv, const struct kv_config *cfg, struct snap_meta *sm)
{
	int rc;
	kv->token = strdup(cfg->initial_cluster_token && *cfg->initial_cluster_token
				   ? cfg->initial_cluster_token
				   : "etcd-cluster");
	if (!kv->token)
		return -ENOMEM;
	int64_t hb = cfg->heartbeat_ms ? cfg->heartbeat_ms : 100;
	int64_t el = cfg->election_ms ? cfg->election_ms : 1000;
	if (hb <= 0 || el < 5 * hb) {
		kc_error("--election-timeout[%lldms] should be at least as 5 times as "
			 "--heartbeat-interval[%lldms]", (long long)el, (long long)hb);
		return -EINVAL;
	}
	kv->heartbeat_ns = hb * KC_NSEC_PER_MSEC;
	kv->election_ns = el * KC_NSEC_PER_MSEC;
	kv->election_ticks = (int)(el / hb);
	/* etcd's ReqTimeout: 5 s + 2 x election timeout. */
	kv->req_timeout_ns = 5 * KC_NSEC_PER_SEC + 2 * kv->election_ns;

	/* The bootstrap members from the flags. */
	struct cluster_members flags_members = { 0 };
	char err[512] = "";
	if (cfg->initial_cluster && *cfg->initial_cluster) {
		rc = cluster_parse_initial(cfg->initial_cluster, kv->token, &flags_members, err,
					   sizeof(err));
		if (rc) {
			kc_error("%s", err);
			return rc;
		}
	} else {
		const char *def = "http://localhost:2380";
		const char *const *pu = cfg->n_peer_urls ? cfg->peer_urls : &def;
		size_t npu = cfg->n_peer_urls ? cfg->n_peer_urls : 1;
		uint64_t id = cfg->member_id ? cfg->member_id
					     : cluster_member_id(pu, npu, kv->token, 0);
		if ((rc = cluster_add(&flags_members, id, kv->name, pu, npu, NULL, 0, false)))
			return rc;
	}

	rc = rwal_open(&kv->rwal, kv->wal_dir, cfg->wal_segment_bytes, cfg->unsafe_no_fsync,
		       sm ? sm->index : 0, sm ? sm->term : 0);
	if (rc) {
		kc_error("cannot open WAL in %s: %s", kv->wal_dir, kv_errmsg(rc));
		cluster_members_free(&flags_members);
		return rc;
	}
	bool fresh = kv->rwal.records == 0;
	struct raft_conf initial;
	memset(&initial, 0, sizeof(initial));
	struct raft_snapshot_meta snapmeta;
	memset(&snapmeta, 0, sizeof(snapmeta));
	bool have_snapconf = false;
	if (fresh) {
		/* A new data dir (or one holding only a restored snapshot: etcd's snapshot
		 * restore also takes the membership from the flags). */
		const struct cluster_member *self = NULL;
		for (size_t i = 0; i < flags_members.n; i++)
			if (strcmp(flags_members.v[i].name, kv->name) == 0)
				self = &flags_members.v[i];
		if (!self) {
			kc_error("couldn't find local name \"%s\" in the initial cluster configuration",
				 kv->name);
			cluster_members_free(&flags_members);
			return -EINVAL;
		}
		for (size_t i = 0; i < self->n_peer && cfg->n_peer_urls; i++) {
			bool found = false;
			for (size_t k = 0; k < cfg->n_peer_urls; k++)
				found |= strcmp(self->peer_urls[i], cfg->peer_urls[k]) == 0;
			if (!found || self->n_peer != cfg->n_peer_urls) {
				kc_error("--initial-cluster has %s=%s but missing from "
					 "--initial-advertise-peer-urls=%s", kv->name,
					 self->peer_urls[i], cfg->peer_urls[0]);
				cluster_members_free(&flags_members);
				return -EINVAL;
			}
		}
		kv->member_id = self->id;
		uint64_t joined_cluster = 0;
		if (cfg->initial_cluster_existing && !cfg->cluster_id) {
			/* etcd's joiner: ids (runtime ones carry the Unix second of their
			 * `member add`) and the cluster id come from a running member. */
			rc = backend_join_existing(kv, cfg, &flags_members, &kv->member_id,
						   &joined_cluster);
			if (rc) {
				cluster_members_free(&flags_members);
				return rc;
			}
		}
		uint64_t ids[64];
		for (size_t i = 0; i < flags_members.n && i < 64; i++)
			ids[i] = flags_members.v[i].id;
		/* A joiner takes the id of the cluster it joins from the member list it
		 * fetched (a test's cfg->cluster_id overrides both). */
		kv->cluster_id = cfg->cluster_id ? cfg->cluster_id
				 : cfg->initial_cluster_existing ? joined_cluster
								 : cluster_gen_id(ids, flags_members.n);
		/* Client URLs (ours included) arrive by each member's publish. Until then a
		 * single member lists its own from the flags (it publishes at once). */
		if (flags_members.n == 1)
			cluster_set_urls(&flags_members.v[0].client_urls, &flags_members.v[0].n_client,
					 cfg->client_urls, cfg->n_client_urls);
		kv->members = flags_members;
		flags_members.v = NULL;
		flags_members.n = 0;
		bool voters = !cfg->initial_cluster_existing;
		rc = rwal_save_boot(&kv->rwal, &kv->members, voters, kv->member_id,
				    kv->cluster_id);
		if (rc)
			return rc;
		if (voters)
			conf_from_members(&kv->members, &initial);
		if (sm && sm->index) {
			snapmeta.index = sm->index;
			snapmeta.term = sm->term;
			snapmeta.conf = initial;
			have_snapconf = true;
		}
	} else {
		cluster_members_free(&flags_members);
		if (!kv->rwal.has_boot) {
			kc_error("wal: %s has no member record (not a kube-store Raft data dir)",
				 kv->wal_dir);
			return KV_ECORRUPT;
		}
		kv->member_id = kv->rwal.boot_self;
		kv->cluster_id = kv->rwal.boot_cluster;
		if (kv->rwal.boot_voters)
			conf_from_members(&kv->rwal.boot, &initial);
		struct raft_conf sconf;
		struct cluster_members smem = { 0 };
		if (sm && sm->index && sm->raft &&
		    parse_blob(sm->raft, sm->raft_len, &sconf, &smem) == 0) {
			kv->members = smem;
			snapmeta.index = sm->index;
			snapmeta.term = sm->term;
			snapmeta.conf = sconf;
			have_snapconf = true;
		} else {
			if ((rc = cluster_members_copy(&kv->members, &kv->rwal.boot)))
				return rc;
			if (sm && sm->index) {
				snapmeta.index = sm->index;
				snapmeta.term = sm->term;
				snapmeta.conf = initial;
				have_snapconf = true;
			}
		}
		/* Our client URLs may have changed since the last start; publish says so. */
	}
	kv->id_prefix = (kv->member_id & 0xffff) << 48;
	uint64_t ms = (uint64_t)(kc_now_wall(kv->clock) / KC_NSEC_PER_MSEC);
	atomic_store(&kv->id_suffix, (ms & ((UINT64_C(1) << 40) - 1)) << 8);

	struct raft_config rc_cfg;
	memset(&rc_cfg, 0, sizeof(rc_cfg));
	rc_cfg.id = kv->member_id;
	rc_cfg.election_ticks = kv->election_ticks;
	rc_cfg.heartbeat_ticks = 1;
	rc_cfg.initial = initial;
	rc_cfg.rand = rand64;
	rc_cfg.rand_arg = kv;
	if ((rc = raft_new(&rc_cfg, &kv->raft)))
		return rc;
	rc = raft_load(kv->raft, kv->rwal.has_hs ? &kv->rwal.hs : NULL,
		       have_snapconf ? &snapmeta : NULL, kv->rwal.ents, kv->rwal.n);
	if (rc) {
		kc_error("raft: the WAL in %s is inconsistent (hard state %" PRIu64 "/%" PRIu64
			 ", %zu entries after %" PRIu64 ")", kv->wal_dir, kv->rwal.hs.term,
			 kv->rwal.hs.commit, kv->rwal.n, kv->rwal.base_index);
		return KV_ECORRUPT;
	}
	uint64_t n_ents = kv->rwal.n;
	rwal_drop_replay(&kv->rwal);
	kc_info("raft: member %016" PRIx64 " of cluster %016" PRIx64 ": term %" PRIu64
		", commit %" PRIu64 ", %" PRIu64 " log entries after snapshot %" PRIu64,
		kv->member_id, kv->cluster_id, raft_term(kv->raft), raft_commit_index(kv->raft),
		n_ents, snapmeta.index);
	atomic_store(&kv->raft_term, raft_term(kv->raft));
	return 0;
}

int backend_raft_start(struct kv *kv)
{
	/* Apply what the log says is committed before serving (etcd replays its WAL up to
	 * the hard state's commit before "ready to serve client requests"). */
	int rc = process_ready(kv);
	if (rc)
		return rc;
	const struct raft_conf *c = raft_configuration(kv->raft);
	int voters = 0;
	for (size_t i = 0; i < c->n; i++)
		voters += !c->learner[i];
	if (voters == 1 && raft_conf_is_voter(c, kv->member_id)) {
		/* A sole voter elects itself at once (etcd fast-forwards its ticks on a
		 * single-member start). */
		for (int i = 0; i < 4 * kv->election_ticks && raft_role(kv->raft) != RAFT_LEADER; i++) {
			raft_tick(kv->raft);
			if ((rc = process_ready(kv)))
				return rc;
		}
		if ((rc = process_ready(kv)))
			return rc;
	}
	if (kv->peers) {
		/* answer joiners' member list requests (etcd's GET /members on the peer port) */
		peer_set_members_source(kv->peers, backend_members_blob, kv);
		sync_peers(kv);
	}
	if ((rc = -pthread_create(&kv->committer, NULL, raft_main, kv)))
		return rc;
	return 0;
}

void backend_raft_stop(struct kv *kv)
{
	pthread_mutex_lock(&kv->qmu);
	kv->stopping = true;
	pthread_cond_signal(&kv->qcv);
	pthread_mutex_unlock(&kv->qmu);
	pthread_join(kv->committer, NULL);
}

void backend_raft_free(struct kv *kv)
{
	if (kv->peers) {
		peer_transport_free(kv->peers);
		kv->peers = NULL;
	}
	/* Messages that arrived after the raft thread stopped. */
	for (struct kv_inmsg *m = kv->inhead, *next; m; m = next) {
		next = m->next;
		free(m);
	}
	kv->inhead = kv->intail = NULL;
	raft_free(kv->raft);
	kv->raft = NULL;
	cluster_members_free(&kv->members);
	free(kv->stuck);
	free(kv->token);
}

uint64_t kv_leader(const struct kv *kv)
{
	return atomic_load(&kv->r_lead);
}

bool kv_removed(const struct kv *kv)
{
	return atomic_load(&kv->removed);
}

int kv_peer_port(struct kv *kv)
{
	return kv->peers ? peer_listen_port(kv->peers, 0) : -ENOENT;
}

int kv_transfer_on_shutdown(struct kv *kv)
{
	if (!atomic_load(&kv->r_leader) || atomic_load(&kv->r_sole))
		return 0;
	kc_info("%016" PRIx64 " starts leadership transfer to the most caught-up voter",
		kv->member_id);
	/* Bounded by 2 election timeouts (the raft core abandons a transfer after one). */
	int rc = backend_raft_cmd(kv, KV_CMD_TRANSFER, 0, 0);
	if (!rc)
		kc_info("leadership transferred to %016" PRIx64, kv_leader(kv));
	else
		kc_warn("leadership transfer failed: %s", kv_errmsg(rc));
	return rc;
}
