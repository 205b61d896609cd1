/* The Raft core: construction, restore, the Ready/advance cycle, message dispatch by term,
 * ticks, proposals and compaction. Elections, replication, snapshots, membership,
 * transfer and ReadIndex live in their own raft_*.c files. Shape and term rules mirror
 * etcd's raft.go Step(). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "raft_int.h"

#define RAFT_MAX_PROPOSAL (64u << 20)

static int grow(void **p, size_t *cap, size_t need, size_t elem)
{
	if (need <= *cap)
		return 0;
	size_t nc = *cap ? *cap : 16;
	while (nc < need)
		nc *= 2;
	void *q = realloc(*p, nc * elem);
	if (!q)
		return -ENOMEM;
	*p = q;
	*cap = nc;
	return 0;
}

int raft_new(const struct raft_config *cfg, struct raft **out)
{
	*out = NULL;
	if (!cfg || cfg->id == RAFT_NONE || !cfg->rand || cfg->initial.n > RAFT_MAX_MEMBERS)
		return -EINVAL;
	struct raft *r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->cfg = *cfg;
	if (r->cfg.election_ticks <= 0)
		r->cfg.election_ticks = 10;
	if (r->cfg.heartbeat_ticks <= 0)
		r->cfg.heartbeat_ticks = 1;
	if (r->cfg.heartbeat_ticks >= r->cfg.election_ticks) {
		free(r);
		return -EINVAL;
	}
	if (!r->cfg.max_msg_entries)
		r->cfg.max_msg_entries = 64;
	if (!r->cfg.max_msg_bytes)
		r->cfg.max_msg_bytes = 1u << 20;
	if (!r->cfg.max_inflight)
		r->cfg.max_inflight = 64;
	r->id = cfg->id;
	raft_log_init(&r->log);
	for (size_t i = 0; i < RAFT_MAX_MEMBERS; i++) {
		r->prs[i].infl = calloc(r->cfg.max_inflight, sizeof(uint64_t));
		if (!r->prs[i].infl) {
			raft_free(r);
			return -ENOMEM;
		}
	}
	raft_apply_conf(r, &r->cfg.initial, 0);
	r->role = RAFT_FOLLOWER;
	raft_reset_randomized_timeout(r);
	*out = r;
	return 0;
}

void raft_free(struct raft *r)
{
	if (!r)
		return;
	raft_log_close(&r->log);
	for (size_t i = 0; i < RAFT_MAX_MEMBERS; i++)
		free(r->prs[i].infl);
	free(r->reads_pending);
	free(r->msgs);
	free(r->pool);
	free(r->reads);
	free(r->snap_data);
	for (size_t i = 0; i < r->n_fwd; i++)
		free(r->fwd[i]);
	free(r->fwd);
	free(r);
}

int raft_load(struct raft *r, const struct raft_hard_state *hs,
	      const struct raft_snapshot_meta *snap, const struct raft_entry *ents, size_t n)
{
	uint64_t base = snap ? snap->index : 0, base_term = snap ? snap->term : 0;
	if ((snap && snap->conf.n > RAFT_MAX_MEMBERS) || (n && !ents))
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		if (ents[i].index != base + 1 + i || ents[i].term == 0 ||
		    (ents[i].len && !ents[i].data))
			return -EINVAL;
		if (ents[i].term < (i ? ents[i - 1].term : base_term))
			return -EINVAL;
	}
	if (hs && n && ents[n - 1].term > hs->term)
		return -EINVAL;
	raft_log_reset(&r->log, base, base_term);
	if (snap)
		r->own_snap = *snap;
	for (size_t i = 0; i < n; i++) {
		int rc = raft_log_append(&r->log, ents[i].term, ents[i].type, ents[i].data,
					 ents[i].len);
		if (rc)
			return rc;
	}
	r->log.stable = raft_log_last_index(&r->log);
	raft_log_free_garbage(&r->log);
	raft_conf_recompute(r);
	if (hs) {
		r->term = hs->term;
		r->vote = hs->vote;
		r->commit = hs->commit;
	}
	if (r->commit > raft_log_last_index(&r->log))
		r->commit = raft_log_last_index(&r->log);
	if (r->commit < base)
		r->commit = base;
	r->applied = base;
	r->prev_hs = (struct raft_hard_state){ r->term, r->vote, hs ? hs->commit : 0 };
	r->role = RAFT_FOLLOWER;
	r->lead = RAFT_NONE;
	raft_reset_randomized_timeout(r);
	return 0;
}

/* ---- outbox ---- */

struct raft_msg *raft_out(struct raft *r, uint8_t type, uint64_t to)
{
	if (grow((void **)&r->msgs, &r->cap_msgs, r->n_msgs + 1, sizeof(*r->msgs)))
		return NULL; /* a dropped message is a lost message: Raft tolerates it */
	struct raft_msg *m = &r->msgs[r->n_msgs++];
	memset(m, 0, sizeof(*m));
	m->type = type;
	m->from = r->id;
	m->to = to;
	m->term = r->term;
	m->pool_off = UINT32_MAX;
	return m;
}

int raft_out_entries(struct raft *r, struct raft_msg *m, uint64_t from_index, uint64_t max_n,
		     size_t max_bytes)
{
	uint64_t last = raft_log_last_index(&r->log);
	size_t bytes = 0, cnt = 0;
	for (uint64_t i = from_index; i <= last && cnt < max_n; i++) {
		const struct raft_entry *e = raft_log_get(&r->log, i);
		if (!e)
			break;
		/* Always at least one entry, so an oversized entry still moves. */
		if (cnt && bytes + e->len > max_bytes)
			break;
		bytes += e->len;
		cnt++;
	}
	if (!cnt)
		return 0;
	size_t msg_pos = (size_t)(m - r->msgs);
	if (grow((void **)&r->pool, &r->cap_pool, r->n_pool + cnt, sizeof(*r->pool)))
		return -ENOMEM;
	m = &r->msgs[msg_pos];
	m->pool_off = (uint32_t)r->n_pool;
	for (size_t k = 0; k < cnt; k++)
		r->pool[r->n_pool++] = *raft_log_get(&r->log, from_index + k);
	m->n_entries = cnt;
	return (int)cnt;
}

void raft_push_read_state(struct raft *r, uint64_t ctx, uint64_t index)
{
	if (grow((void **)&r->reads, &r->cap_reads, r->n_reads + 1, sizeof(*r->reads)))
		return;
	r->reads[r->n_reads++] = (struct raft_read_state){ ctx, index };
}

/* ---- helpers ---- */

int raft_quorum(const struct raft *r)
{
	int voters = 0;
	for (size_t i = 0; i < r->conf.n; i++)
		voters += !r->conf.learner[i];
	return voters / 2 + 1;
}

struct raft_progress *raft_progress_get(struct raft *r, uint64_t id)
{
	for (size_t i = 0; i < RAFT_MAX_MEMBERS; i++)
		if (r->prs[i].id == id && id != RAFT_NONE)
			return &r->prs[i];
	return NULL;
}

bool raft_is_voter(const struct raft *r)
{
	return raft_conf_is_voter(&r->conf, r->id);
}

void raft_reset_term(struct raft *r, uint64_t term)
{
	if (r->term != term) {
		r->term = term;
		r->vote = RAFT_NONE;
	}
}

void raft_become_follower(struct raft *r, uint64_t term, uint64_t lead)
{
	raft_reset_term(r, term);
	r->role = RAFT_FOLLOWER;
	r->lead = lead;
	r->elapsed = 0;
	r->hb_elapsed = 0;
	r->step_down_pending = false;
	raft_transfer_abort(r);
	raft_readindex_reset(r);
	raft_reset_randomized_timeout(r);
}

/* ---- inputs ---- */

static bool msg_valid(const struct raft *r, const struct raft_msg *m)
{
	if (m->type < RAFT_MSG_PREVOTE || m->type > RAFT_MSG_TYPE_MAX)
		return false;
	if (m->from == RAFT_NONE || m->from == r->id || m->to != r->id)
		return false;
	if (m->n_entries &&
	    (!m->entries || (m->type != RAFT_MSG_APPEND && m->type != RAFT_MSG_PROPOSE)))
		return false;
	if (m->snap.conf.n > RAFT_MAX_MEMBERS)
		return false;
	if (m->snap_len && !m->snap_data)
		return false;
	return true;
}

/* A follower's forwarded proposals (etcd's MsgProp stepped on the leader): terms do not
 * matter, only whether we lead now. Dropped otherwise; the proposer times out. */
static int handle_propose(struct raft *r, const struct raft_msg *m)
{
	if (r->role != RAFT_LEADER || r->transferee != RAFT_NONE)
		return 0;
	for (size_t i = 0; i < m->n_entries; i++) {
		const struct raft_entry *e = &m->entries[i];
		if (e->type != RAFT_ENTRY_NORMAL || e->len > RAFT_MAX_PROPOSAL ||
		    (e->len && !e->data))
			continue; /* membership changes are never forwarded */
		if (raft_append_local(r, RAFT_ENTRY_NORMAL, e->data, e->len))
			break;
		r->bcast_pending = true;
	}
	return 0;
}

/* Forward one proposal to the leader as a RAFT_MSG_PROPOSE carrying a pool entry. */
static int forward_propose(struct raft *r, const void *data, size_t len)
{
	/* Proposals made between two Readys share one message (batching, as APPENDs). */
	struct raft_msg *last = r->n_msgs ? &r->msgs[r->n_msgs - 1] : NULL;
	bool extend = last && last->type == RAFT_MSG_PROPOSE && last->to == r->lead &&
		      last->pool_off != UINT32_MAX &&
		      last->pool_off + last->n_entries == r->n_pool && last->n_entries < 256;
	struct raft_msg *m = extend ? last : raft_out(r, RAFT_MSG_PROPOSE, r->lead);
	if (!m)
		return -ENOMEM;
	size_t msg_pos = (size_t)(m - r->msgs);
	uint8_t *copy = NULL;
	if (len) {
		/* Pool entries point into the log elsewhere; a proposal has no log slot, so
		 * the copy lives in the forward arena, freed at raft_advance. */
		copy = malloc(len);
		if (!copy) {
			if (!extend)
				r->n_msgs--;
			return -ENOMEM;
		}
		memcpy(copy, data, len);
	}
	if (grow((void **)&r->pool, &r->cap_pool, r->n_pool + 1, sizeof(*r->pool)) ||
	    grow((void **)&r->fwd, &r->cap_fwd, r->n_fwd + 1, sizeof(*r->fwd))) {
		free(copy);
		if (!extend)
			r->n_msgs--;
		return -ENOMEM;
	}
	r->fwd[r->n_fwd++] = copy;
	m = &r->msgs[msg_pos];
	m->term = 0;
	if (!extend)
		m->pool_off = (uint32_t)r->n_pool;
	r->pool[r->n_pool++] = (struct raft_entry){ 0, 0, RAFT_ENTRY_NORMAL, copy, len };
	m->n_entries++;
	return 0;
}

int raft_step(struct raft *r, const struct raft_msg *m)
{
	if (!m || !msg_valid(r, m))
		return -EINVAL;
	if (m->type == RAFT_MSG_PROPOSE)
		return handle_propose(r, m);
	bool vote_req = m->type == RAFT_MSG_VOTE || m->type == RAFT_MSG_PREVOTE;
	if (m->term > r->term) {
		if (vote_req && !m->transfer && m->from != r->lead && raft_in_lease(r)) {
			/* etcd: "ignored vote from ... : lease is not expired": a server that
			 * heard from a leader recently does not let a partitioned candidate
			 * (or a removed server) disrupt the cluster. Unlike etcd, not when the
			 * candidate is the leader we follow: it campaigns for a later term, so
			 * it no longer leads and there is no leader to protect. Without this a
			 * joiner fed late heartbeats (queued while it was not running) ignored
			 * its only possible leader for as long as they kept coming, and, not
			 * yet a voter, never campaigned itself (a stall of the multi-host lab's
			 * shape; test/unit/test_raft_join.c). */
			return 0;
		}
		if (m->type == RAFT_MSG_PREVOTE) {
			/* Pre-votes never change our term. */
		} else if (m->type == RAFT_MSG_PREVOTE_RESP && !m->reject) {
			/* A granted pre-vote carries the future term; keep ours. */
		} else if (m->type == RAFT_MSG_VOTE && r->role != RAFT_LEADER) {
			/* Adopt the term but keep our election timer running: only granting
			 * the vote resets it (Raft's Figure 3.1 rule). Otherwise a candidate
			 * whose log is too stale to ever win, campaigning on a short timeout,
			 * restarts everyone's timer on each round and no election can finish
			 * (seen in the simulation without pre-vote). */
			int elapsed = r->elapsed, timeout = r->rand_timeout;
			raft_become_follower(r, m->term, RAFT_NONE);
			r->elapsed = elapsed;
			r->rand_timeout = timeout;
		} else {
			bool from_leader = m->type == RAFT_MSG_APPEND ||
					   m->type == RAFT_MSG_HEARTBEAT ||
					   m->type == RAFT_MSG_SNAPSHOT;
			raft_become_follower(r, m->term, from_leader ? m->from : RAFT_NONE);
		}
	} else if (m->term < r->term) {
		if ((m->type == RAFT_MSG_APPEND || m->type == RAFT_MSG_HEARTBEAT) &&
		    (!r->cfg.disable_check_quorum || !r->cfg.disable_pre_vote)) {
			/* A stale leader (e.g. back from a partition) must learn the new
			 * term, or with check-quorum/pre-vote nobody would tell it. */
			raft_out(r, RAFT_MSG_APPEND_RESP, m->from);
		} else if (m->type == RAFT_MSG_PREVOTE) {
			struct raft_msg *o = raft_out(r, RAFT_MSG_PREVOTE_RESP, m->from);
			if (o)
				o->reject = true;
		}
		return 0;
	}

	switch (m->type) {
	case RAFT_MSG_PREVOTE:
	case RAFT_MSG_VOTE:
	case RAFT_MSG_PREVOTE_RESP:
	case RAFT_MSG_VOTE_RESP:
		return raft_election_step(r, m);
	case RAFT_MSG_APPEND:
	case RAFT_MSG_HEARTBEAT:
	case RAFT_MSG_SNAPSHOT:
		if (r->role == RAFT_LEADER) {
			/* Two leaders in one term is impossible; ignore rather than trust. */
			kc_warn("raft %llx: %s from %llx in my own term %llu",
				(unsigned long long)r->id, raft_msg_type_name(m->type),
				(unsigned long long)m->from, (unsigned long long)m->term);
			return 0;
		}
		if (r->role != RAFT_FOLLOWER || r->lead != m->from)
			raft_become_follower(r, m->term, m->from);
		r->elapsed = 0;
		if (m->type == RAFT_MSG_APPEND)
			raft_handle_append(r, m);
		else if (m->type == RAFT_MSG_HEARTBEAT)
			raft_handle_heartbeat(r, m);
		else
			raft_handle_snapshot(r, m);
		return 0;
	case RAFT_MSG_APPEND_RESP:
		if (r->role == RAFT_LEADER)
			raft_handle_append_resp(r, m);
		return 0;
	case RAFT_MSG_HEARTBEAT_RESP:
		if (r->role == RAFT_LEADER)
			raft_handle_heartbeat_resp(r, m);
		return 0;
	case RAFT_MSG_TIMEOUT_NOW:
		raft_handle_timeout_now(r, m);
		return 0;
	case RAFT_MSG_READ_INDEX:
		raft_handle_read_index(r, m);
		return 0;
	case RAFT_MSG_READ_INDEX_RESP:
		raft_handle_read_index_resp(r, m);
		return 0;
	}
	return -EINVAL;
}

void raft_tick(struct raft *r)
{
	if (r->role != RAFT_LEADER) {
		raft_election_tick(r);
		return;
	}
	r->hb_elapsed++;
	r->elapsed++;
	for (size_t i = 0; i < RAFT_MAX_MEMBERS; i++)
		if (r->prs[i].id && r->prs[i].state == RAFT_PR_SNAPSHOT)
			r->prs[i].snap_ticks++;
	if (r->elapsed >= r->cfg.election_ticks) {
		r->elapsed = 0;
		if (!r->cfg.disable_check_quorum)
			raft_check_quorum_tick(r);
		if (r->role != RAFT_LEADER)
			return;
	}
	raft_transfer_tick(r);
	if (r->hb_elapsed >= r->cfg.heartbeat_ticks) {
		r->hb_elapsed = 0;
		raft_broadcast_heartbeat(r, r->read_round);
	}
}

int raft_propose(struct raft *r, const void *data, size_t len, uint64_t *index)
{
	if (len > RAFT_MAX_PROPOSAL || (len && !data))
		return -EINVAL;
	if (r->role == RAFT_FOLLOWER && r->lead != RAFT_NONE) {
		if (index)
			*index = 0;
		return forward_propose(r, data, len);
	}
	if (r->role != RAFT_LEADER)
		return -EPERM;
	if (r->transferee != RAFT_NONE)
		return -EBUSY; /* etcd: ErrProposalDropped during a transfer */
	int rc = raft_append_local(r, RAFT_ENTRY_NORMAL, data, len);
	if (rc)
		return rc;
	if (index)
		*index = raft_log_last_index(&r->log);
	/* Batching: the APPENDs go out when the caller collects the next Ready, so all
	 * proposals made in between share messages (and one WAL write). */
	r->bcast_pending = true;
	return 0;
}

int raft_compact(struct raft *r, uint64_t index)
{
	if (index > r->applied || index < r->log.snap_index)
		return -EINVAL;
	if (index == r->log.snap_index)
		return 0;
	struct raft_snapshot_meta meta;
	meta.index = index;
	meta.term = raft_log_term_or0(&r->log, index);
	/* The configuration as of index: the last CONF entry at or before it. */
	bool found = false;
	for (uint64_t i = index; i > r->log.snap_index && !found; i--) {
		const struct raft_entry *e = raft_log_get(&r->log, i);
		if (e->type == RAFT_ENTRY_CONF && raft_conf_decode(e->data, e->len, &meta.conf) == 0)
			found = true;
	}
	if (!found)
		meta.conf = r->log.snap_index ? r->own_snap.conf : r->cfg.initial;
	r->own_snap = meta;
	raft_log_compact(&r->log, index, meta.term);
	return 0;
}

/* ---- outputs ---- */

static struct raft_hard_state hard_state(const struct raft *r)
{
	return (struct raft_hard_state){ r->term, r->vote, r->commit };
}

bool raft_has_ready(const struct raft *r)
{
	struct raft_hard_state hs = hard_state(r);
	return memcmp(&hs, &r->prev_hs, sizeof(hs)) != 0 ||
	       r->log.stable < raft_log_last_index(&r->log) || r->has_snap || r->n_msgs ||
	       r->commit > r->applied || r->n_reads || r->bcast_pending;
}

void raft_ready(struct raft *r, struct raft_ready *rd)
{
	if (r->bcast_pending && r->role == RAFT_LEADER)
		raft_broadcast_append(r);
	r->bcast_pending = false;
	memset(rd, 0, sizeof(*rd));
	rd->hs = hard_state(r);
	rd->hs_changed = memcmp(&rd->hs, &r->prev_hs, sizeof(rd->hs)) != 0;
	uint64_t last = raft_log_last_index(&r->log);
	uint64_t efrom = r->log.stable + 1;
	if (efrom <= r->log.snap_index)
		efrom = r->log.snap_index + 1; /* entries before come with the snapshot */
	if (efrom <= last) {
		rd->entries = raft_log_get(&r->log, efrom);
		rd->n_entries = (size_t)(last - efrom + 1);
	}
	if (r->has_snap) {
		rd->has_snap = true;
		rd->snap = r->snap;
		rd->snap_data = r->snap_data;
		rd->snap_len = r->snap_len;
	}
	for (size_t i = 0; i < r->n_msgs; i++) {
		struct raft_msg *m = &r->msgs[i];
		m->entries = m->pool_off == UINT32_MAX ? NULL : r->pool + m->pool_off;
	}
	rd->msgs = r->msgs;
	rd->n_msgs = r->n_msgs;
	uint64_t from = r->applied + 1;
	if (from <= r->log.snap_index)
		from = r->log.snap_index + 1;
	if (r->commit >= from) {
		rd->committed = raft_log_get(&r->log, from);
		rd->n_committed = (size_t)(r->commit - from + 1);
	}
	rd->reads = r->reads;
	rd->n_reads = r->n_reads;
	rd->lead = r->lead;
	rd->role = r->role;
}

void raft_advance(struct raft *r, const struct raft_ready *rd)
{
	if (rd->has_snap) {
		if (r->applied < rd->snap.index)
			r->applied = rd->snap.index;
		if (r->log.stable < rd->snap.index)
			r->log.stable = rd->snap.index;
		free(r->snap_data);
		r->snap_data = NULL;
		r->snap_len = 0;
		r->has_snap = false;
	}
	if (rd->n_entries) {
		uint64_t l = rd->entries[rd->n_entries - 1].index;
		if (r->log.stable < l)
			r->log.stable = l;
	}
	if (rd->n_committed) {
		uint64_t l = rd->committed[rd->n_committed - 1].index;
		if (r->applied < l)
			r->applied = l;
	}
	r->prev_hs = rd->hs;
	r->n_msgs = 0;
	r->n_pool = 0;
	r->n_reads = 0;
	for (size_t i = 0; i < r->n_fwd; i++)
		free(r->fwd[i]);
	r->n_fwd = 0;
	raft_log_free_garbage(&r->log);
}

/* ---- introspection ---- */

uint64_t raft_id(const struct raft *r) { return r->id; }
uint64_t raft_term(const struct raft *r) { return r->term; }
uint64_t raft_leader(const struct raft *r) { return r->lead; }
enum raft_role raft_role(const struct raft *r) { return r->role; }
uint64_t raft_commit_index(const struct raft *r) { return r->commit; }
uint64_t raft_applied_index(const struct raft *r) { return r->applied; }
uint64_t raft_last_index(const struct raft *r) { return raft_log_last_index(&r->log); }
uint64_t raft_first_index(const struct raft *r) { return raft_log_first_index(&r->log); }
const struct raft_conf *raft_configuration(const struct raft *r) { return &r->conf; }

uint64_t raft_match_index(const struct raft *r, uint64_t id)
{
	if (r->role != RAFT_LEADER)
		return 0;
	for (size_t i = 0; i < RAFT_MAX_MEMBERS; i++)
		if (r->prs[i].id == id && id != RAFT_NONE)
			return r->prs[i].match;
	return 0;
}
const struct raft_snapshot_meta *raft_last_snapshot(const struct raft *r) { return &r->own_snap; }

const struct raft_entry *raft_entry_at(const struct raft *r, uint64_t index)
{
	return raft_log_get(&r->log, index);
}

const char *raft_role_name(enum raft_role role)
{
	switch (role) {
	case RAFT_FOLLOWER: return "follower";
	case RAFT_PRECANDIDATE: return "pre-candidate";
	case RAFT_CANDIDATE: return "candidate";
	case RAFT_LEADER: return "leader";
	}
	return "unknown";
}

const char *raft_msg_type_name(int type)
{
	static const char *const names[] = {
		[RAFT_MSG_PREVOTE] = "PreVote",
		[RAFT_MSG_PREVOTE_RESP] = "PreVoteResp",
		[RAFT_MSG_VOTE] = "Vote",
		[RAFT_MSG_VOTE_RESP] = "VoteResp",
		[RAFT_MSG_APPEND] = "Append",
		[RAFT_MSG_APPEND_RESP] = "AppendResp",
		[RAFT_MSG_HEARTBEAT] = "Heartbeat",
		[RAFT_MSG_HEARTBEAT_RESP] = "HeartbeatResp",
		[RAFT_MSG_SNAPSHOT] = "Snapshot",
		[RAFT_MSG_TIMEOUT_NOW] = "TimeoutNow",
		[RAFT_MSG_READ_INDEX] = "ReadIndex",
		[RAFT_MSG_READ_INDEX_RESP] = "ReadIndexResp",
		[RAFT_MSG_PROPOSE] = "Propose",
	};
	if (type < RAFT_MSG_PREVOTE || type > RAFT_MSG_TYPE_MAX)
		return "unknown";
	return names[type];
}
