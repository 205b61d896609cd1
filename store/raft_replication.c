/* Log replication: AppendEntries with batching and pipelining, conflict backtracking with
 * the follower's hint, commit by quorum of the current term only (Figure 8), heartbeats.
 * Follower progress states (probe / replicate / snapshot) as etcd's tracker.Progress. */
#include <stdlib.h>

#include "log.h"
#include "raft_int.h"

void raft_progress_reset(struct raft_progress *pr, uint64_t next)
{
	pr->match = 0;
	pr->next = next;
	pr->state = RAFT_PR_PROBE;
	pr->paused = false;
	pr->pending_snap = 0;
	pr->snap_ticks = 0;
	pr->infl_start = pr->infl_count = 0;
	pr->read_ack = 0;
}

void raft_progress_become_probe(struct raft_progress *pr)
{
	if (pr->state == RAFT_PR_SNAPSHOT) {
		uint64_t n = pr->pending_snap + 1;
		pr->next = pr->match + 1 > n ? pr->match + 1 : n;
	} else {
		pr->next = pr->match + 1;
	}
	pr->state = RAFT_PR_PROBE;
	pr->paused = false;
	pr->pending_snap = 0;
	pr->infl_start = pr->infl_count = 0;
}

void raft_progress_become_replicate(struct raft_progress *pr)
{
	pr->state = RAFT_PR_REPLICATE;
	pr->next = pr->match + 1;
	pr->paused = false;
	pr->pending_snap = 0;
	pr->infl_start = pr->infl_count = 0;
}

static void infl_free_to(struct raft_progress *pr, size_t cap, uint64_t index)
{
	while (pr->infl_count && pr->infl[pr->infl_start] <= index) {
		pr->infl_start = (pr->infl_start + 1) % cap;
		pr->infl_count--;
	}
}

/* Send the next batch to pr if its state allows; true if a message went out. */
static bool send_append(struct raft *r, struct raft_progress *pr, bool allow_empty)
{
	if (pr->id == r->id || pr->state == RAFT_PR_SNAPSHOT)
		return false;
	if (pr->state == RAFT_PR_PROBE && pr->paused)
		return false;
	if (pr->state == RAFT_PR_REPLICATE && pr->infl_count >= r->cfg.max_inflight)
		return false;
	uint64_t prev = pr->next - 1, prev_term;
	if (raft_log_term(&r->log, prev, &prev_term) != 0 || pr->next < raft_log_first_index(&r->log)) {
		if (prev > raft_log_last_index(&r->log)) {
			/* Our view of the follower is ahead of our log (after a
			 * membership rebuild): probe from the end. */
			pr->next = raft_log_last_index(&r->log) + 1;
			pr->match = pr->match < pr->next - 1 ? pr->match : pr->next - 1;
			return send_append(r, pr, allow_empty);
		}
		raft_send_snapshot(r, pr);
		return true;
	}
	uint64_t last = raft_log_last_index(&r->log);
	if (last < pr->next && !allow_empty && pr->state == RAFT_PR_REPLICATE)
		return false;
	struct raft_msg *m = raft_out(r, RAFT_MSG_APPEND, pr->id);
	if (!m)
		return false;
	m->index = prev;
	m->log_term = prev_term;
	m->commit = r->commit;
	int n = raft_out_entries(r, m, pr->next, r->cfg.max_msg_entries, r->cfg.max_msg_bytes);
	if (n > 0) {
		uint64_t last_sent = pr->next + (uint64_t)n - 1;
		if (pr->state == RAFT_PR_REPLICATE) {
			/* Pipelining: assume success and keep streaming. */
			pr->next = last_sent + 1;
			size_t cap = r->cfg.max_inflight;
			pr->infl[(pr->infl_start + pr->infl_count) % cap] = last_sent;
			pr->infl_count++;
		}
	}
	if (pr->state == RAFT_PR_PROBE)
		pr->paused = true;
	return true;
}

void raft_send_append(struct raft *r, struct raft_progress *pr, bool allow_empty)
{
	send_append(r, pr, allow_empty);
}

void raft_broadcast_append(struct raft *r)
{
	for (size_t i = 0; i < RAFT_MAX_MEMBERS; i++) {
		struct raft_progress *pr = &r->prs[i];
		if (!pr->id || pr->id == r->id)
			continue;
		/* Fill the pipeline: replicate state streams batches up to the window. */
		while (send_append(r, pr, false) && pr->state == RAFT_PR_REPLICATE)
			;
	}
}

static void broadcast_commit(struct raft *r)
{
	for (size_t i = 0; i < RAFT_MAX_MEMBERS; i++)
		if (r->prs[i].id && r->prs[i].id != r->id)
			send_append(r, &r->prs[i], true);
}

void raft_broadcast_heartbeat(struct raft *r, uint64_t ctx)
{
	for (size_t i = 0; i < RAFT_MAX_MEMBERS; i++) {
		struct raft_progress *pr = &r->prs[i];
		if (!pr->id || pr->id == r->id)
			continue;
		struct raft_msg *m = raft_out(r, RAFT_MSG_HEARTBEAT, pr->id);
		if (!m)
			continue;
		/* Never tell a follower to commit past what it is known to hold. */
		m->commit = pr->match < r->commit ? pr->match : r->commit;
		m->ctx = ctx;
	}
}

int raft_append_local(struct raft *r, uint8_t type, const void *data, size_t len)
{
	int rc = raft_log_append(&r->log, r->term, type, data, len);
	if (rc)
		return rc;
	const struct raft_entry *e = raft_log_get(&r->log, raft_log_last_index(&r->log));
	raft_conf_after_append(r, e);
	struct raft_progress *self = raft_progress_get(r, r->id);
	if (self) {
		self->match = e->index;
		self->next = e->index + 1;
	}
	raft_maybe_commit(r);
	return 0;
}

void raft_commit_to(struct raft *r, uint64_t index)
{
	uint64_t last = raft_log_last_index(&r->log);
	if (index > last)
		index = last;
	if (index <= r->commit)
		return;
	r->commit = index;
	raft_membership_on_commit(r);
}

static int cmp_desc(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? 1 : x > y ? -1 : 0;
}

bool raft_maybe_commit(struct raft *r)
{
	if (r->role != RAFT_LEADER)
		return false;
	uint64_t m[RAFT_MAX_MEMBERS];
	size_t n = 0;
	for (size_t i = 0; i < r->conf.n; i++) {
		if (r->conf.learner[i])
			continue;
		struct raft_progress *pr = raft_progress_get(r, r->conf.ids[i]);
		m[n++] = pr ? pr->match : 0;
	}
	if (!n)
		return false;
	qsort(m, n, sizeof(m[0]), cmp_desc);
	uint64_t idx = m[raft_quorum(r) - 1];
	/* Figure 8: only entries of the current term commit by counting replicas. */
	if (idx <= r->commit || raft_log_term_or0(&r->log, idx) != r->term)
		return false;
	raft_commit_to(r, idx);
	return true;
}

static bool entries_valid(const struct raft_msg *m)
{
	uint64_t prev_term = m->log_term;
	for (size_t i = 0; i < m->n_entries; i++) {
		const struct raft_entry *e = &m->entries[i];
		if (e->index != m->index + 1 + i || e->term < prev_term || e->term > m->term ||
		    e->term == 0 || (e->len && !e->data) || e->type > RAFT_ENTRY_NOOP)
			return false;
		prev_term = e->term;
	}
	return true;
}

void raft_handle_append(struct raft *r, const struct raft_msg *m)
{
	if (!entries_valid(m)) {
		kc_warn("raft %llx: malformed Append from %llx dropped",
			(unsigned long long)r->id, (unsigned long long)m->from);
		return;
	}
	struct raft_msg *o;
	if (m->index < r->commit) {
		/* Everything up to commit is already settled here. */
		o = raft_out(r, RAFT_MSG_APPEND_RESP, m->from);
		if (o)
			o->index = r->commit;
		return;
	}
	if (!raft_log_match(&r->log, m->index, m->log_term)) {
		uint64_t last = raft_log_last_index(&r->log);
		uint64_t hint = m->index < last ? m->index : last;
		hint = raft_log_find_conflict_by_term(&r->log, hint, m->log_term);
		o = raft_out(r, RAFT_MSG_APPEND_RESP, m->from);
		if (o) {
			o->reject = true;
			o->index = m->index;
			o->reject_hint = hint;
			o->log_term = raft_log_term_or0(&r->log, hint);
		}
		return;
	}
	size_t i = 0;
	for (; i < m->n_entries; i++) {
		const struct raft_entry *e = &m->entries[i];
		uint64_t t;
		if (raft_log_term(&r->log, e->index, &t) != 0)
			break; /* beyond our end: append from here */
		if (t != e->term) {
			if (e->index <= r->commit) {
				kc_error("raft %llx: leader %llx conflicts with committed entry %llu",
					 (unsigned long long)r->id, (unsigned long long)m->from,
					 (unsigned long long)e->index);
				return;
			}
			raft_log_truncate_after(&r->log, e->index - 1);
			raft_conf_after_truncate(r);
			break;
		}
	}
	for (; i < m->n_entries; i++) {
		const struct raft_entry *e = &m->entries[i];
		if (raft_log_append(&r->log, e->term, e->type, e->data, e->len) != 0)
			break; /* out of memory: acknowledge only what we hold */
		raft_conf_after_append(r, raft_log_get(&r->log, e->index));
	}
	uint64_t last_new = m->index + i;
	raft_commit_to(r, m->commit < last_new ? m->commit : last_new);
	o = raft_out(r, RAFT_MSG_APPEND_RESP, m->from);
	if (o)
		o->index = last_new;
}

/* etcd's Progress.MaybeDecrTo. */
static bool maybe_decr(struct raft_progress *pr, uint64_t rejected, uint64_t hint)
{
	if (pr->state == RAFT_PR_REPLICATE) {
		if (rejected <= pr->match)
			return false; /* stale */
		pr->next = pr->match + 1;
		return true;
	}
	if (pr->next - 1 != rejected)
		return false; /* stale answer to an older probe */
	uint64_t n = rejected < hint + 1 ? rejected : hint + 1;
	if (n < 1)
		n = 1;
	if (n < pr->match + 1)
		n = pr->match + 1;
	pr->next = n;
	pr->paused = false;
	return true;
}

void raft_handle_append_resp(struct raft *r, const struct raft_msg *m)
{
	struct raft_progress *pr = raft_progress_get(r, m->from);
	if (!pr)
		return;
	pr->recent_active = true;
	if (m->reject) {
		uint64_t hint = m->reject_hint;
		if (m->log_term > 0)
			hint = raft_log_find_conflict_by_term(&r->log, hint, m->log_term);
		if (maybe_decr(pr, m->index, hint)) {
			if (pr->state == RAFT_PR_REPLICATE)
				raft_progress_become_probe(pr);
			send_append(r, pr, false);
		}
		return;
	}
	if (m->index > raft_log_last_index(&r->log))
		return; /* cannot be an answer to anything we sent in this term */
	bool updated = false;
	if (pr->match < m->index) {
		pr->match = m->index;
		updated = true;
	}
	if (pr->next < m->index + 1)
		pr->next = m->index + 1;
	if (pr->state == RAFT_PR_PROBE) {
		pr->paused = false;
		if (updated || pr->match + 1 == pr->next)
			raft_progress_become_replicate(pr);
	} else if (pr->state == RAFT_PR_SNAPSHOT) {
		if (pr->match >= pr->pending_snap) {
			raft_progress_become_probe(pr);
			raft_progress_become_replicate(pr);
		}
	} else {
		infl_free_to(pr, r->cfg.max_inflight, m->index);
	}
	if (updated && raft_maybe_commit(r)) {
		if (r->role == RAFT_LEADER)
			broadcast_commit(r);
	}
	if (r->role != RAFT_LEADER)
		return;
	/* Stream whatever the window allows. */
	while (send_append(r, pr, false)) {
		if (pr->state != RAFT_PR_REPLICATE)
			break;
	}
	raft_transfer_check(r, pr);
}

void raft_handle_heartbeat(struct raft *r, const struct raft_msg *m)
{
	raft_commit_to(r, m->commit);
	struct raft_msg *o = raft_out(r, RAFT_MSG_HEARTBEAT_RESP, m->from);
	if (o)
		o->ctx = m->ctx;
}

void raft_handle_heartbeat_resp(struct raft *r, const struct raft_msg *m)
{
	struct raft_progress *pr = raft_progress_get(r, m->from);
	if (!pr)
		return;
	pr->recent_active = true;
	if (pr->state == RAFT_PR_SNAPSHOT && pr->snap_ticks >= r->cfg.election_ticks) {
		/* The snapshot (or its answer) was lost: try again from a probe. */
		raft_progress_become_probe(pr);
	}
	if (pr->state == RAFT_PR_PROBE)
		pr->paused = false;
	/* As etcd: if the pipeline is full, assume the oldest APPEND was lost; and poke a
	 * follower that is behind even with nothing new, so that a lost batch turns into
	 * a reject and a probe instead of a silent stall. */
	if (pr->state == RAFT_PR_REPLICATE && pr->infl_count >= r->cfg.max_inflight) {
		pr->infl_start = (pr->infl_start + 1) % r->cfg.max_inflight;
		pr->infl_count--;
	}
	if (pr->match < raft_log_last_index(&r->log))
		send_append(r, pr, true);
	raft_readindex_ack(r, m->from, m->ctx);
}
