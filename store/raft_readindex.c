/* ReadIndex (Ongaro §6.4, etcd's ReadOnlySafe): the leader records its commit index,
 * confirms it is still leader by a heartbeat round acknowledged by a quorum, then answers;
 * the caller serves the read once it has applied up to that index. A leader answers only
 * after committing an entry of its own term (its commit index is current only then).
 * Followers forward the request to their leader and relay its answer. */
#include <errno.h>
#include <stdlib.h>

#include "raft_int.h"

static int leader_read(struct raft *r, uint64_t ctx, uint64_t from)
{
	if (raft_log_term_or0(&r->log, r->commit) != r->term)
		return -EAGAIN;
	if (raft_quorum(r) == 1 && raft_is_voter(r)) {
		if (from == r->id) {
			raft_push_read_state(r, ctx, r->commit);
		} else {
			struct raft_msg *o = raft_out(r, RAFT_MSG_READ_INDEX_RESP, from);
			if (o) {
				o->index = r->commit;
				o->ctx = ctx;
			}
		}
		return 0;
	}
	if (r->n_reads_pending == r->cap_reads_pending) {
		size_t nc = r->cap_reads_pending ? r->cap_reads_pending * 2 : 16;
		void *p = realloc(r->reads_pending, nc * sizeof(*r->reads_pending));
		if (!p)
			return -ENOMEM;
		r->reads_pending = p;
		r->cap_reads_pending = nc;
	}
	r->read_round++;
	r->reads_pending[r->n_reads_pending++] =
		(struct raft_pending_read){ ctx, r->commit, r->read_round, from };
	raft_broadcast_heartbeat(r, r->read_round);
	return 0;
}

int raft_read_index(struct raft *r, uint64_t ctx)
{
	if (r->role == RAFT_LEADER)
		return leader_read(r, ctx, r->id);
	if (r->role != RAFT_FOLLOWER || r->lead == RAFT_NONE)
		return -EAGAIN;
	struct raft_msg *o = raft_out(r, RAFT_MSG_READ_INDEX, r->lead);
	if (!o)
		return -ENOMEM;
	o->ctx = ctx;
	return 0;
}

void raft_handle_read_index(struct raft *r, const struct raft_msg *m)
{
	if (r->role == RAFT_LEADER)
		leader_read(r, m->ctx, m->from); /* on -EAGAIN the follower times out */
}

void raft_handle_read_index_resp(struct raft *r, const struct raft_msg *m)
{
	if (r->role == RAFT_FOLLOWER && m->from == r->lead && !m->reject)
		raft_push_read_state(r, m->ctx, m->index);
}

void raft_readindex_ack(struct raft *r, uint64_t from, uint64_t round)
{
	struct raft_progress *pr = raft_progress_get(r, from);
	if (!pr || pr->learner)
		return;
	if (round > r->read_round)
		return; /* not a round of this leadership */
	if (pr->read_ack < round)
		pr->read_ack = round;
	size_t done = 0;
	while (done < r->n_reads_pending) {
		struct raft_pending_read *p = &r->reads_pending[done];
		int acks = 0;
		for (size_t i = 0; i < r->conf.n; i++) {
			if (r->conf.learner[i])
				continue;
			struct raft_progress *q = raft_progress_get(r, r->conf.ids[i]);
			if (r->conf.ids[i] == r->id || (q && q->read_ack >= p->round))
				acks++;
		}
		if (acks < raft_quorum(r))
			break;
		if (p->from == r->id) {
			raft_push_read_state(r, p->ctx, p->index);
		} else {
			struct raft_msg *o = raft_out(r, RAFT_MSG_READ_INDEX_RESP, p->from);
			if (o) {
				o->index = p->index;
				o->ctx = p->ctx;
			}
		}
		done++;
	}
	if (done) {
		for (size_t i = done; i < r->n_reads_pending; i++)
			r->reads_pending[i - done] = r->reads_pending[i];
		r->n_reads_pending -= done;
	}
}

void raft_readindex_reset(struct raft *r)
{
	r->n_reads_pending = 0;
	for (size_t i = 0; i < RAFT_MAX_MEMBERS; i++)
		r->prs[i].read_ack = 0;
}
