/* Leadership transfer (Ongaro §3.10, etcd's MsgTransferLeader): the leader stops taking
 * proposals, brings the target up to date, then sends TimeoutNow; the target campaigns at
 * once, without pre-vote and past the other members' leader lease. A transfer that has
 * not finished within an election timeout is abandoned. */
#include <errno.h>

#include "raft_int.h"

int raft_transfer_leader(struct raft *r, uint64_t id)
{
	if (r->role != RAFT_LEADER)
		return -EPERM;
	if (id == r->id || !raft_conf_is_voter(&r->conf, id))
		return -EINVAL;
	if (r->transferee == id)
		return 0;
	r->transferee = id;
	r->transfer_elapsed = 0;
	struct raft_progress *pr = raft_progress_get(r, id);
	if (pr->match == raft_log_last_index(&r->log))
		raft_transfer_check(r, pr);
	else
		raft_send_append(r, pr, false);
	return 0;
}

void raft_transfer_check(struct raft *r, struct raft_progress *pr)
{
	if (r->role != RAFT_LEADER || r->transferee == RAFT_NONE || pr->id != r->transferee)
		return;
	if (pr->match != raft_log_last_index(&r->log))
		return;
	raft_out(r, RAFT_MSG_TIMEOUT_NOW, pr->id);
}

void raft_transfer_tick(struct raft *r)
{
	if (r->transferee == RAFT_NONE)
		return;
	if (++r->transfer_elapsed >= r->cfg.election_ticks)
		raft_transfer_abort(r);
}

void raft_transfer_abort(struct raft *r)
{
	r->transferee = RAFT_NONE;
	r->transfer_elapsed = 0;
}

void raft_handle_timeout_now(struct raft *r, const struct raft_msg *m)
{
	if (r->role == RAFT_LEADER || m->from != r->lead || !raft_is_voter(r))
		return;
	raft_campaign(r, false, true);
}
