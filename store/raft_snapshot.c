/* InstallSnapshot: a follower whose next entry was compacted away gets the leader's latest
 * snapshot. The message carries only the metadata; the caller's transport attaches the
 * bytes of its own snapshot at snap.index (the one reported with raft_compact), so the
 * core never holds the state machine. On receipt the bytes are copied into the Ready. */
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "raft_int.h"

void raft_send_snapshot(struct raft *r, struct raft_progress *pr)
{
	if (r->own_snap.index == 0)
		return; /* nothing compacted: unreachable while the log starts at 1 */
	struct raft_msg *m = raft_out(r, RAFT_MSG_SNAPSHOT, pr->id);
	if (!m)
		return;
	m->snap = r->own_snap;
	pr->state = RAFT_PR_SNAPSHOT;
	pr->pending_snap = r->own_snap.index;
	pr->snap_ticks = 0;
	pr->paused = false;
	pr->infl_start = pr->infl_count = 0;
}

void raft_handle_snapshot(struct raft *r, const struct raft_msg *m)
{
	struct raft_msg *o;
	const struct raft_snapshot_meta *s = &m->snap;
	if (s->index == 0 || s->term == 0 || s->term > m->term) {
		kc_warn("raft %llx: malformed Snapshot from %llx dropped",
			(unsigned long long)r->id, (unsigned long long)m->from);
		return;
	}
	if (s->index <= r->commit) {
		o = raft_out(r, RAFT_MSG_APPEND_RESP, m->from);
		if (o)
			o->index = r->commit;
		return;
	}
	if (raft_log_match(&r->log, s->index, s->term)) {
		/* We hold the snapshot's last entry: the log is consistent with it, so
		 * just fast-forward the commit index (etcd's restore() does the same). */
		raft_commit_to(r, s->index);
		o = raft_out(r, RAFT_MSG_APPEND_RESP, m->from);
		if (o)
			o->index = r->commit;
		return;
	}
	uint8_t *copy = NULL;
	if (m->snap_len) {
		copy = malloc(m->snap_len);
		if (!copy)
			return; /* the leader retries after its snapshot wait */
		memcpy(copy, m->snap_data, m->snap_len);
	}
	free(r->snap_data);
	r->snap_data = copy;
	r->snap_len = m->snap_len;
	r->snap = *s;
	r->has_snap = true;
	r->own_snap = *s;
	raft_log_reset(&r->log, s->index, s->term);
	r->commit = s->index;
	if (r->applied > s->index)
		r->applied = s->index; /* cannot happen: applied <= commit < index */
	raft_conf_recompute(r);
	kc_log_v(1, "raft %llx: restored snapshot at index %llu term %llu from %llx",
		(unsigned long long)r->id, (unsigned long long)s->index,
		(unsigned long long)s->term, (unsigned long long)m->from);
	o = raft_out(r, RAFT_MSG_APPEND_RESP, m->from);
	if (o)
		o->index = s->index;
}
