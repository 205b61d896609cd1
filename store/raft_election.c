/* Leader election: randomized timeouts, pre-vote (Ongaro §9.6), votes, check-quorum and
 * the leader lease (§6.2 / etcd's checkQuorum), and the no-op entry of a new leader. */
#include <limits.h>

#include "log.h"
#include "raft_int.h"

void raft_reset_randomized_timeout(struct raft *r)
{
	/* Random in [T, 2T), as etcd's resetRandomizedElectionTimeout. */
	int t = r->cfg.election_ticks;
	r->rand_timeout = t + (int)(r->cfg.rand(r->cfg.rand_arg) % (uint64_t)t);
}

bool raft_in_lease(const struct raft *r)
{
	return !r->cfg.disable_check_quorum && r->lead != RAFT_NONE &&
	       r->elapsed < r->cfg.election_ticks;
}

void raft_election_tick(struct raft *r)
{
	if (r->elapsed < INT_MAX)
		r->elapsed++;
	/* A server that may not campaign (learner, not yet or no longer a member) keeps
	 * counting, as etcd's tickElection: its leader lease must expire, or it would
	 * ignore the votes a new configuration depends on. */
	if (r->elapsed < r->rand_timeout || !raft_is_voter(r))
		return;
	r->elapsed = 0;
	raft_campaign(r, !r->cfg.disable_pre_vote, false);
}

static void count_votes(struct raft *r, int *granted, int *rejected)
{
	*granted = *rejected = 0;
	for (size_t i = 0; i < r->conf.n; i++) {
		if (r->conf.learner[i])
			continue;
		struct raft_progress *pr = raft_progress_get(r, r->conf.ids[i]);
		if (!pr)
			continue;
		*granted += pr->vote == RAFT_VOTE_GRANTED;
		*rejected += pr->vote == RAFT_VOTE_REJECTED;
	}
}

static void tally(struct raft *r)
{
	int g, rej;
	count_votes(r, &g, &rej);
	int q = raft_quorum(r);
	if (g >= q) {
		if (r->role == RAFT_PRECANDIDATE)
			raft_campaign(r, false, r->campaign_transfer);
		else
			raft_become_leader(r);
	} else if (rej >= q) {
		raft_become_follower(r, r->term, RAFT_NONE);
	}
}

void raft_campaign(struct raft *r, bool pre, bool transfer)
{
	if (!raft_is_voter(r))
		return;
	uint64_t term;
	if (pre) {
		r->role = RAFT_PRECANDIDATE;
		term = r->term + 1; /* asked for, not taken */
	} else {
		raft_reset_term(r, r->term + 1);
		r->vote = r->id;
		r->role = RAFT_CANDIDATE;
		term = r->term;
	}
	r->lead = RAFT_NONE;
	r->campaign_transfer = transfer;
	r->elapsed = 0;
	raft_reset_randomized_timeout(r);
	raft_readindex_reset(r);
	for (size_t i = 0; i < RAFT_MAX_MEMBERS; i++)
		r->prs[i].vote = RAFT_VOTE_UNKNOWN;
	struct raft_progress *self = raft_progress_get(r, r->id);
	self->vote = RAFT_VOTE_GRANTED;
	int g, rej;
	count_votes(r, &g, &rej);
	if (g >= raft_quorum(r)) {
		tally(r);
		return;
	}
	for (size_t i = 0; i < r->conf.n; i++) {
		if (r->conf.learner[i] || r->conf.ids[i] == r->id)
			continue;
		struct raft_msg *m = raft_out(r, pre ? RAFT_MSG_PREVOTE : RAFT_MSG_VOTE,
					      r->conf.ids[i]);
		if (!m)
			continue;
		m->term = term;
		m->index = raft_log_last_index(&r->log);
		m->log_term = raft_log_last_term(&r->log);
		m->transfer = transfer;
	}
}

static void handle_vote_request(struct raft *r, const struct raft_msg *m)
{
	bool pre = m->type == RAFT_MSG_PREVOTE;
	/* etcd's canVote: we already voted for it, or have voted for nobody and know no
	 * leader in this term, or it is a pre-vote for a future term. */
	bool can = r->vote == m->from || (r->vote == RAFT_NONE && r->lead == RAFT_NONE) ||
		   (pre && m->term > r->term);
	bool ok = can && raft_log_up_to_date(&r->log, m->index, m->log_term);
	struct raft_msg *o = raft_out(r, pre ? RAFT_MSG_PREVOTE_RESP : RAFT_MSG_VOTE_RESP, m->from);
	if (ok) {
		if (o)
			o->term = m->term;
		if (!pre) {
			/* The vote is part of the hard state; the Ready carrying this
			 * response persists it before the response is sent. */
			r->vote = m->from;
			r->elapsed = 0;
		}
	} else if (o) {
		o->reject = true;
	}
}

int raft_election_step(struct raft *r, const struct raft_msg *m)
{
	switch (m->type) {
	case RAFT_MSG_PREVOTE:
	case RAFT_MSG_VOTE:
		handle_vote_request(r, m);
		return 0;
	case RAFT_MSG_PREVOTE_RESP:
	case RAFT_MSG_VOTE_RESP: {
		bool pre = m->type == RAFT_MSG_PREVOTE_RESP;
		if ((pre && r->role != RAFT_PRECANDIDATE) || (!pre && r->role != RAFT_CANDIDATE))
			return 0;
		if (pre && !m->reject && m->term != r->term + 1)
			return 0; /* a grant for an older pre-campaign */
		struct raft_progress *pr = raft_progress_get(r, m->from);
		if (!pr || pr->learner || pr->vote != RAFT_VOTE_UNKNOWN)
			return 0;
		pr->vote = m->reject ? RAFT_VOTE_REJECTED : RAFT_VOTE_GRANTED;
		tally(r);
		return 0;
	}
	}
	return 0;
}

void raft_become_leader(struct raft *r)
{
	r->role = RAFT_LEADER;
	r->lead = r->id;
	r->elapsed = 0;
	r->hb_elapsed = 0;
	r->transferee = RAFT_NONE;
	raft_readindex_reset(r);
	uint64_t last = raft_log_last_index(&r->log);
	for (size_t i = 0; i < RAFT_MAX_MEMBERS; i++) {
		struct raft_progress *pr = &r->prs[i];
		if (!pr->id)
			continue;
		raft_progress_reset(pr, last + 1);
		pr->recent_active = true;
	}
	struct raft_progress *self = raft_progress_get(r, r->id);
	if (self)
		self->match = last;
	r->step_down_pending = !raft_is_voter(r);
	/* §8: a no-op entry lets the leader commit (and learn the commit index of) entries
	 * of earlier terms, which it may not commit by counting replicas (Figure 8). */
	raft_append_local(r, RAFT_ENTRY_NOOP, NULL, 0);
	raft_broadcast_append(r);
}

void raft_check_quorum_tick(struct raft *r)
{
	int active = 0, voters = 0;
	for (size_t i = 0; i < r->conf.n; i++) {
		if (r->conf.learner[i])
			continue;
		voters++;
		struct raft_progress *pr = raft_progress_get(r, r->conf.ids[i]);
		if (r->conf.ids[i] == r->id || (pr && pr->recent_active))
			active++;
	}
	for (size_t i = 0; i < RAFT_MAX_MEMBERS; i++)
		if (r->prs[i].id != r->id)
			r->prs[i].recent_active = false;
	if (active < raft_quorum(r)) {
		/* etcd: "stepped down to follower since quorum is not active" */
		kc_warn("raft %llx: stepped down to follower since quorum is not active "
			"(%d of %d voters heard from in the last election timeout)",
			(unsigned long long)r->id, active, voters);
		raft_become_follower(r, r->term, RAFT_NONE);
	}
}
