/* Single-server membership changes (Ongaro's dissertation §4.1): a configuration is in
 * effect on a server as soon as its entry is in that server's log, committed or not; a
 * truncated configuration entry reverts to the previous one. Entries carry the whole new
 * configuration, so the one in effect is always the last CONF entry in the log, else the
 * snapshot's, else the bootstrap one. */
#include <errno.h>
#include <string.h>

#include "log.h"
#include "raft_int.h"

size_t raft_conf_size(const struct raft_conf *c)
{
	return 4 + c->n * 9;
}

static void put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

void raft_conf_encode(const struct raft_conf *c, uint8_t *out)
{
	uint32_t n = (uint32_t)c->n;
	for (int i = 0; i < 4; i++)
		out[i] = (uint8_t)(n >> (8 * i));
	for (size_t i = 0; i < c->n; i++) {
		put64(out + 4 + i * 9, c->ids[i]);
		out[4 + i * 9 + 8] = c->learner[i] ? 1 : 0;
	}
}

int raft_conf_decode(const uint8_t *data, size_t len, struct raft_conf *c)
{
	memset(c, 0, sizeof(*c));
	if (!data || len < 4)
		return -EINVAL;
	uint32_t n = (uint32_t)data[0] | (uint32_t)data[1] << 8 | (uint32_t)data[2] << 16 |
		     (uint32_t)data[3] << 24;
	if (n > RAFT_MAX_MEMBERS || len != 4 + (size_t)n * 9)
		return -EINVAL;
	for (uint32_t i = 0; i < n; i++) {
		uint64_t id = get64(data + 4 + i * 9);
		uint8_t l = data[4 + i * 9 + 8];
		if (id == RAFT_NONE || l > 1 || raft_conf_find(c, id) >= 0)
			return -EINVAL;
		c->ids[i] = id;
		c->learner[i] = l;
		c->n = i + 1;
	}
	return 0;
}

int raft_conf_find(const struct raft_conf *c, uint64_t id)
{
	for (size_t i = 0; i < c->n; i++)
		if (c->ids[i] == id)
			return (int)i;
	return -1;
}

bool raft_conf_is_voter(const struct raft_conf *c, uint64_t id)
{
	int i = raft_conf_find(c, id);
	return i >= 0 && !c->learner[i];
}

/* Make the progress tracker match r->conf: keep entries of members that stay, reset new
 * ones to probe at the end of the log. Rings stay with their slot. */
static void rebuild_progress(struct raft *r)
{
	uint64_t last = raft_log_last_index(&r->log);
	for (size_t i = 0; i < RAFT_MAX_MEMBERS; i++) {
		struct raft_progress *pr = &r->prs[i];
		if (pr->id && raft_conf_find(&r->conf, pr->id) < 0)
			pr->id = RAFT_NONE;
	}
	for (size_t k = 0; k < r->conf.n; k++) {
		struct raft_progress *pr = raft_progress_get(r, r->conf.ids[k]);
		if (!pr) {
			for (size_t i = 0; i < RAFT_MAX_MEMBERS; i++) {
				if (!r->prs[i].id) {
					pr = &r->prs[i];
					break;
				}
			}
			pr->id = r->conf.ids[k];
			raft_progress_reset(pr, last + 1);
			pr->vote = RAFT_VOTE_UNKNOWN;
			pr->recent_active = true; /* a new member gets one round of grace */
			if (pr->id == r->id)
				pr->match = last;
		}
		pr->learner = r->conf.learner[k];
	}
}

void raft_apply_conf(struct raft *r, const struct raft_conf *c, uint64_t index)
{
	r->conf = *c;
	r->conf_index = index;
	rebuild_progress(r);
	if (r->role == RAFT_LEADER) {
		/* §4.2.2: a leader not in the new configuration keeps managing the
		 * cluster until the entry commits, then steps down. */
		r->step_down_pending = !raft_is_voter(r);
		if (r->transferee && !raft_conf_is_voter(&r->conf, r->transferee))
			raft_transfer_abort(r);
	}
}

void raft_conf_after_append(struct raft *r, const struct raft_entry *e)
{
	if (!e || e->type != RAFT_ENTRY_CONF)
		return;
	struct raft_conf c;
	if (raft_conf_decode(e->data, e->len, &c) != 0) {
		kc_warn("raft %llx: undecodable configuration entry %llu ignored",
			(unsigned long long)r->id, (unsigned long long)e->index);
		return;
	}
	raft_apply_conf(r, &c, e->index);
}

void raft_conf_recompute(struct raft *r)
{
	struct raft_conf c;
	for (uint64_t i = raft_log_last_index(&r->log); i > r->log.snap_index; i--) {
		const struct raft_entry *e = raft_log_get(&r->log, i);
		if (e->type == RAFT_ENTRY_CONF && raft_conf_decode(e->data, e->len, &c) == 0) {
			raft_apply_conf(r, &c, i);
			return;
		}
	}
	raft_apply_conf(r, r->log.snap_index ? &r->own_snap.conf : &r->cfg.initial, 0);
}

void raft_conf_after_truncate(struct raft *r)
{
	if (r->conf_index > raft_log_last_index(&r->log))
		raft_conf_recompute(r);
}

void raft_membership_on_commit(struct raft *r)
{
	if (r->role == RAFT_LEADER && r->step_down_pending && r->commit >= r->conf_index) {
		kc_log_v(1, "raft %llx: removed from the configuration at %llu; stepping down",
			(unsigned long long)r->id, (unsigned long long)r->conf_index);
		raft_become_follower(r, r->term, RAFT_NONE);
	}
}

int raft_change_membership(struct raft *r, enum raft_conf_change type, uint64_t id,
			   uint64_t *index)
{
	if (r->role != RAFT_LEADER)
		return -EPERM;
	if (id == RAFT_NONE)
		return -EINVAL;
	if (r->transferee != RAFT_NONE || r->conf_index > r->commit ||
	    raft_log_term_or0(&r->log, r->commit) != r->term)
		return -EBUSY;
	struct raft_conf *c = &r->scratch;
	*c = r->conf;
	int pos = raft_conf_find(c, id);
	switch (type) {
	case RAFT_CC_ADD_VOTER:
		if (pos >= 0 && !c->learner[pos])
			return -EINVAL;
		if (pos >= 0) {
			c->learner[pos] = false; /* promote a learner */
			break;
		}
		/* fallthrough */
	case RAFT_CC_ADD_LEARNER:
		if (pos >= 0)
			return -EINVAL;
		if (c->n == RAFT_MAX_MEMBERS)
			return -ENOSPC;
		c->ids[c->n] = id;
		c->learner[c->n] = type == RAFT_CC_ADD_LEARNER;
		c->n++;
		break;
	case RAFT_CC_REMOVE: {
		if (pos < 0)
			return -EINVAL;
		for (size_t i = (size_t)pos; i + 1 < c->n; i++) {
			c->ids[i] = c->ids[i + 1];
			c->learner[i] = c->learner[i + 1];
		}
		c->n--;
		bool voter = false;
		for (size_t i = 0; i < c->n; i++)
			voter |= !c->learner[i];
		if (!voter)
			return -EINVAL;
		break;
	}
	default:
		return -EINVAL;
	}
	uint8_t buf[4 + RAFT_MAX_MEMBERS * 9];
	raft_conf_encode(c, buf);
	int rc = raft_append_local(r, RAFT_ENTRY_CONF, buf, raft_conf_size(c));
	if (rc)
		return rc;
	if (index)
		*index = raft_log_last_index(&r->log);
	if (r->role == RAFT_LEADER)
		raft_broadcast_append(r);
	return 0;
}
