/* Deterministic Raft cluster for the unit suites; see raft_fixture.h. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "raft_fixture.h"
#include "../../store/raft_codec.h"

static uint64_t raft_fixture_splitmix(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

uint64_t raft_fixture_rand(struct raft_fixture *f)
{
	return raft_fixture_splitmix(&f->rng);
}

static uint64_t raft_fixture_node_rand(void *arg)
{
	return raft_fixture_splitmix((uint64_t *)arg);
}

static uint64_t raft_fixture_mix(uint64_t h, const void *p, size_t n)
{
	const uint8_t *b = p;
	for (size_t i = 0; i < n; i++) {
		h ^= b[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

static uint64_t raft_fixture_entry_hash(const struct raft_entry *e)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	h = raft_fixture_mix(h, &e->term, 8);
	h = raft_fixture_mix(h, &e->index, 8);
	h = raft_fixture_mix(h, &e->type, 1);
	return raft_fixture_mix(h, e->data, e->len);
}

static int raft_fixture_fail(struct raft_fixture *f, const char *fmt, ...)
{
	if (f->failed)
		return -1;
	f->failed = true;
	int n = snprintf(f->err, sizeof(f->err), "seed %llu slot %llu: ",
			 (unsigned long long)f->seed, (unsigned long long)f->now);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(f->err + n, sizeof(f->err) - (size_t)n, fmt, ap);
	va_end(ap);
	return -1;
}

static int raft_fixture_grow(void **p, size_t *cap, size_t need, size_t elem)
{
	if (need <= *cap)
		return 0;
	size_t nc = *cap ? *cap : 64;
	while (nc < need)
		nc *= 2;
	uint8_t *q = realloc(*p, nc * elem);
	if (!q)
		return -ENOMEM;
	memset(q + *cap * elem, 0, (nc - *cap) * elem);
	*p = q;
	*cap = nc;
	return 0;
}

static int raft_fixture_boot(struct raft_fixture *f, struct raft_fixture_node *nd)
{
	struct raft_config cfg;
	memset(&cfg, 0, sizeof(cfg));
	cfg.id = nd->id;
	cfg.election_ticks = f->election_ticks;
	cfg.heartbeat_ticks = 1;
	cfg.max_msg_entries = f->max_msg_entries;
	cfg.max_inflight = f->max_inflight;
	cfg.disable_pre_vote = !f->pre_vote;
	cfg.disable_check_quorum = !f->check_quorum;
	cfg.initial = nd->initial;
	cfg.rand = raft_fixture_node_rand;
	cfg.rand_arg = &nd->rng;
	int rc = raft_new(&cfg, &nd->r);
	if (rc)
		return rc;
	rc = raft_load(nd->r, &nd->hs, nd->has_snap ? &nd->snap : NULL, nd->ents, nd->n_ents);
	if (rc)
		return rc;
	nd->alive = true;
	nd->applied = nd->has_snap ? nd->snap.index : 0;
	nd->sm_hash = nd->has_snap ? nd->snap_hash : 0;
	nd->checked_commit = nd->applied;
	nd->la_term = 0;
	nd->member = raft_conf_find(raft_configuration(nd->r), nd->id) >= 0;
	return 0;
}

int raft_fixture_init(struct raft_fixture *f, size_t n, uint64_t seed)
{
	memset(f, 0, sizeof(*f));
	if (n == 0 || n > RAFT_FIXTURE_MAX)
		return -EINVAL;
	f->seed = seed;
	f->rng = seed * 0x2545f4914f6cdd1dULL + 1;
	f->slots_per_tick = 5;
	f->election_ticks = 10;
	f->pre_vote = f->check_quorum = true;
	f->min_delay = f->max_delay = 1;
	f->max_msg_entries = 8;
	f->max_inflight = 8;
	f->next_ctx = 1;
	struct raft_conf c;
	memset(&c, 0, sizeof(c));
	for (size_t i = 0; i < n; i++)
		c.ids[c.n++] = i + 1;
	for (size_t i = 0; i < n; i++) {
		struct raft_fixture_node *nd = &f->nodes[i];
		nd->id = i + 1;
		nd->initial = c;
		nd->rng = raft_fixture_rand(f);
		nd->phase = (int)(raft_fixture_rand(f) % (uint64_t)f->slots_per_tick);
	}
	f->n = n;
	for (size_t i = 0; i < n; i++) {
		int rc = raft_fixture_boot(f, &f->nodes[i]);
		if (rc)
			return rc;
	}
	return 0;
}

int raft_fixture_add_node(struct raft_fixture *f)
{
	if (f->n == RAFT_FIXTURE_MAX)
		return -ENOSPC;
	size_t i = f->n;
	struct raft_fixture_node *nd = &f->nodes[i];
	memset(nd, 0, sizeof(*nd));
	nd->id = i + 1;
	nd->rng = raft_fixture_rand(f);
	nd->phase = (int)(raft_fixture_rand(f) % (uint64_t)f->slots_per_tick);
	f->n++;
	int rc = raft_fixture_boot(f, nd);
	return rc ? rc : (int)i;
}

static void raft_fixture_free_msg(struct raft_fixture_msg *fm)
{
	free(fm->buf);
	fm->buf = NULL;
}

static void raft_fixture_free_durable(struct raft_fixture_node *nd)
{
	for (size_t k = 0; k < nd->n_ents; k++)
		free(nd->ents[k].data);
	free(nd->ents);
	nd->ents = NULL;
	nd->n_ents = nd->cap_ents = 0;
}

void raft_fixture_close(struct raft_fixture *f)
{
	for (size_t i = 0; i < f->n; i++) {
		raft_free(f->nodes[i].r);
		raft_fixture_free_durable(&f->nodes[i]);
	}
	for (size_t i = 0; i < f->n_net; i++)
		raft_fixture_free_msg(&f->net[i]);
	free(f->net);
	free(f->term_leader);
	free(f->cm);
	free(f->read_floor);
	memset(f, 0, sizeof(*f));
}

int raft_fixture_index_of(struct raft_fixture *f, uint64_t id)
{
	for (size_t i = 0; i < f->n; i++)
		if (f->nodes[i].id == id)
			return (int)i;
	return -1;
}

/* ---- network ---- */

static uint8_t *raft_fixture_dup_bytes(const uint8_t *p, size_t n)
{
	if (!n)
		return NULL;
	uint8_t *q = malloc(n);
	if (q)
		memcpy(q, p, n);
	return q;
}

/* Messages travel as raftpb frames (store/raft_codec.c), as between real peers. */
static void raft_fixture_enqueue(struct raft_fixture *f, const struct raft_msg *m,
				 const uint8_t *snap, size_t snap_len)
{
	if (raft_fixture_grow((void **)&f->net, &f->cap_net, f->n_net + 1, sizeof(*f->net)))
		abort();
	struct raft_msg copy = *m;
	copy.snap_data = snap;
	copy.snap_len = snap_len;
	struct raft_fixture_msg *fm = &f->net[f->n_net];
	memset(fm, 0, sizeof(*fm));
	if (raft_codec_encode(&copy, 0x6b756265, &fm->buf, &fm->len) != 0)
		abort();
	int span = f->max_delay - f->min_delay + 1;
	fm->at = f->now + (uint64_t)f->min_delay + raft_fixture_rand(f) % (uint64_t)span;
	fm->from = m->from;
	fm->to = m->to;
	f->n_net++;
}

static void raft_fixture_send(struct raft_fixture *f, struct raft_fixture_node *from,
			      const struct raft_msg *m)
{
	uint8_t snapbuf[16];
	const uint8_t *snap = NULL;
	size_t snap_len = 0;
	if (m->type == RAFT_MSG_SNAPSHOT) {
		/* The transport attaches the sender's snapshot bytes (raft.h). */
		if (!from->has_snap || from->snap.index != m->snap.index)
			return;
		memcpy(snapbuf, &from->snap_hash, 8);
		memcpy(snapbuf + 8, &from->snap.index, 8);
		snap = snapbuf;
		snap_len = 16;
	}
	if (f->drop_pct && raft_fixture_rand(f) % 100 < f->drop_pct)
		return;
	raft_fixture_enqueue(f, m, snap, snap_len);
	if (f->dup_pct && raft_fixture_rand(f) % 100 < f->dup_pct)
		raft_fixture_enqueue(f, m, snap, snap_len);
}

/* ---- ready processing ---- */

static int raft_fixture_record_apply(struct raft_fixture *f, struct raft_fixture_node *nd,
				     uint64_t index)
{
	if (raft_fixture_grow((void **)&f->cm, &f->cap_cm, index + 1, sizeof(*f->cm)))
		abort();
	struct raft_fixture_commit *c = &f->cm[index];
	if (!c->applied_set) {
		c->applied_set = true;
		c->sm_hash = nd->sm_hash;
	} else if (c->sm_hash != nd->sm_hash) {
		return raft_fixture_fail(f, "State Machine Safety: node %llu state at index %llu differs",
					 (unsigned long long)nd->id, (unsigned long long)index);
	}
	return 0;
}

static int raft_fixture_process(struct raft_fixture *f, struct raft_fixture_node *nd)
{
	while (nd->alive && raft_has_ready(nd->r)) {
		struct raft_ready rd;
		raft_ready(nd->r, &rd);
		/* 1. persist */
		if (rd.has_snap) {
			if (rd.snap_len != 16)
				return raft_fixture_fail(f, "node %llu got snapshot of %zu bytes",
							 (unsigned long long)nd->id, rd.snap_len);
			nd->has_snap = true;
			nd->snap = rd.snap;
			memcpy(&nd->snap_hash, rd.snap_data, 8);
			raft_fixture_free_durable(nd);
			nd->sm_hash = nd->snap_hash;
			nd->applied = rd.snap.index;
			if (raft_fixture_record_apply(f, nd, rd.snap.index))
				return -1;
		}
		if (rd.n_entries) {
			uint64_t first = rd.entries[0].index;
			uint64_t base = nd->has_snap ? nd->snap.index : 0;
			while (nd->n_ents && base + nd->n_ents >= first) {
				nd->n_ents--;
				free(nd->ents[nd->n_ents].data);
			}
			if (base + nd->n_ents + 1 != first)
				return raft_fixture_fail(f, "node %llu: Ready entries start at %llu, durable log ends at %llu",
							 (unsigned long long)nd->id,
							 (unsigned long long)first,
							 (unsigned long long)(base + nd->n_ents));
			if (raft_fixture_grow((void **)&nd->ents, &nd->cap_ents,
					      nd->n_ents + rd.n_entries, sizeof(*nd->ents)))
				abort();
			for (size_t k = 0; k < rd.n_entries; k++) {
				struct raft_entry *e = &nd->ents[nd->n_ents++];
				*e = rd.entries[k];
				e->data = raft_fixture_dup_bytes(rd.entries[k].data, rd.entries[k].len);
			}
		}
		if (rd.hs_changed)
			nd->hs = rd.hs;
		/* 2. send */
		for (size_t k = 0; k < rd.n_msgs; k++)
			raft_fixture_send(f, nd, &rd.msgs[k]);
		/* 3. apply */
		bool removed = false;
		for (size_t k = 0; k < rd.n_committed; k++) {
			const struct raft_entry *e = &rd.committed[k];
			if (e->index != nd->applied + 1)
				return raft_fixture_fail(f, "node %llu applies %llu after %llu",
							 (unsigned long long)nd->id,
							 (unsigned long long)e->index,
							 (unsigned long long)nd->applied);
			uint64_t eh = raft_fixture_entry_hash(e);
			nd->sm_hash = raft_fixture_mix(nd->sm_hash ^ 0x9e37, &eh, 8);
			nd->applied = e->index;
			if (raft_fixture_record_apply(f, nd, e->index))
				return -1;
			if (e->type == RAFT_ENTRY_CONF) {
				struct raft_conf c;
				if (raft_conf_decode(e->data, e->len, &c) == 0) {
					/* Removed: it was a member, the applied configuration
					 * drops it, and so does the newest one in its log (a
					 * restart replays configurations from before it joined). */
					bool in = raft_conf_find(&c, nd->id) >= 0;
					bool in_log = raft_conf_find(raft_configuration(nd->r), nd->id) >= 0;
					removed = nd->member && !in && !in_log;
					nd->member |= in;
				}
			}
		}
		/* 4. reads */
		for (size_t k = 0; k < rd.n_reads; k++) {
			uint64_t ctx = rd.reads[k].ctx;
			if (ctx >= f->cap_reads || f->read_floor[ctx] == UINT64_MAX)
				return raft_fixture_fail(f, "node %llu: unknown read ctx %llu",
							 (unsigned long long)nd->id,
							 (unsigned long long)ctx);
			if (rd.reads[k].index < f->read_floor[ctx])
				return raft_fixture_fail(f, "ReadIndex: node %llu answered ctx %llu with %llu < commit %llu seen before the request",
							 (unsigned long long)nd->id,
							 (unsigned long long)ctx,
							 (unsigned long long)rd.reads[k].index,
							 (unsigned long long)f->read_floor[ctx]);
			nd->reads_done++;
		}
		raft_advance(nd->r, &rd);
		if (removed) {
			/* As etcd: a member that applies its own removal shuts down. */
			nd->removed = true;
			raft_fixture_crash(f, (size_t)(nd - f->nodes));
		}
	}
	return 0;
}

/* ---- invariants ---- */

static int raft_fixture_check_commits(struct raft_fixture *f, struct raft_fixture_node *nd)
{
	uint64_t c = raft_commit_index(nd->r);
	if (c <= nd->checked_commit)
		return 0;
	if (raft_fixture_grow((void **)&f->cm, &f->cap_cm, c + 1, sizeof(*f->cm)))
		abort();
	uint64_t from = nd->checked_commit + 1;
	if (from < raft_first_index(nd->r))
		from = raft_first_index(nd->r);
	for (uint64_t i = from; i <= c; i++) {
		const struct raft_entry *e = raft_entry_at(nd->r, i);
		if (!e)
			return raft_fixture_fail(f, "node %llu committed %llu but lacks the entry",
						 (unsigned long long)nd->id, (unsigned long long)i);
		struct raft_fixture_commit *cm = &f->cm[i];
		uint64_t h = raft_fixture_entry_hash(e);
		if (!cm->set) {
			cm->set = true;
			cm->term = e->term;
			cm->hash = h;
			cm->commit_term = raft_term(nd->r);
		} else if (cm->term != e->term || cm->hash != h) {
			return raft_fixture_fail(f, "committed entry %llu differs on node %llu (term %llu vs %llu)",
						 (unsigned long long)i, (unsigned long long)nd->id,
						 (unsigned long long)e->term,
						 (unsigned long long)cm->term);
		} else if (raft_term(nd->r) < cm->commit_term) {
			cm->commit_term = raft_term(nd->r);
		}
	}
	nd->checked_commit = c;
	if (c > f->max_commit)
		f->max_commit = c;
	return 0;
}

static int raft_fixture_check_pair(struct raft_fixture *f, struct raft_fixture_node *a,
				   struct raft_fixture_node *b)
{
	uint64_t lo = raft_first_index(a->r), hi = raft_last_index(a->r);
	if (raft_first_index(b->r) > lo)
		lo = raft_first_index(b->r);
	if (raft_last_index(b->r) < hi)
		hi = raft_last_index(b->r);
	uint64_t k = hi;
	while (k >= lo && k > 0 && raft_entry_at(a->r, k)->term != raft_entry_at(b->r, k)->term)
		k--;
	for (; k >= lo && k > 0; k--) {
		const struct raft_entry *x = raft_entry_at(a->r, k), *y = raft_entry_at(b->r, k);
		if (x->term != y->term || x->type != y->type || x->len != y->len ||
		    (x->len && memcmp(x->data, y->data, x->len) != 0))
			return raft_fixture_fail(f, "Log Matching: nodes %llu and %llu differ at %llu below a common entry",
						 (unsigned long long)a->id, (unsigned long long)b->id,
						 (unsigned long long)k);
	}
	return 0;
}

static int raft_fixture_check_leader(struct raft_fixture *f, struct raft_fixture_node *nd)
{
	uint64_t t = raft_term(nd->r), last = raft_last_index(nd->r);
	if (raft_fixture_grow((void **)&f->term_leader, &f->cap_term_leader, t + 1,
			      sizeof(*f->term_leader)))
		abort();
	if (f->term_leader[t] == 0)
		f->term_leader[t] = nd->id;
	else if (f->term_leader[t] != nd->id)
		return raft_fixture_fail(f, "Election Safety: nodes %llu and %llu both led term %llu",
					 (unsigned long long)f->term_leader[t],
					 (unsigned long long)nd->id, (unsigned long long)t);
	if (nd->la_term == t) {
		const struct raft_entry *e = raft_entry_at(nd->r, nd->la_last);
		if (last < nd->la_last || (e && e->term != nd->la_last_term))
			return raft_fixture_fail(f, "Leader Append-Only: leader %llu of term %llu lost or rewrote entry %llu",
						 (unsigned long long)nd->id, (unsigned long long)t,
						 (unsigned long long)nd->la_last);
	}
	nd->la_term = t;
	nd->la_last = last;
	const struct raft_entry *e = raft_entry_at(nd->r, last);
	nd->la_last_term = e ? e->term : 0;
	/* Leader Completeness: every entry committed in an earlier term is in its log. */
	uint64_t first = raft_first_index(nd->r);
	for (uint64_t i = first; i <= f->max_commit && i < f->cap_cm; i++) {
		struct raft_fixture_commit *cm = &f->cm[i];
		if (!cm->set || cm->commit_term >= t)
			continue;
		const struct raft_entry *x = raft_entry_at(nd->r, i);
		if (!x || x->term != cm->term || raft_fixture_entry_hash(x) != cm->hash)
			return raft_fixture_fail(f, "Leader Completeness: leader %llu of term %llu lacks entry %llu committed in term <= %llu",
						 (unsigned long long)nd->id, (unsigned long long)t,
						 (unsigned long long)i,
						 (unsigned long long)cm->commit_term);
	}
	return 0;
}

int raft_fixture_check(struct raft_fixture *f)
{
	if (f->failed)
		return -1;
	for (size_t i = 0; i < f->n; i++) {
		struct raft_fixture_node *nd = &f->nodes[i];
		if (!nd->alive)
			continue;
		if (raft_fixture_check_commits(f, nd))
			return -1;
	}
	for (size_t i = 0; i < f->n; i++) {
		struct raft_fixture_node *nd = &f->nodes[i];
		if (!nd->alive)
			continue;
		if (raft_role(nd->r) == RAFT_LEADER) {
			if (raft_fixture_check_leader(f, nd))
				return -1;
		} else {
			nd->la_term = 0;
		}
		for (size_t j = i + 1; j < f->n; j++)
			if (f->nodes[j].alive && raft_fixture_check_pair(f, nd, &f->nodes[j]))
				return -1;
	}
	return 0;
}

/* ---- driving ---- */

int raft_fixture_step(struct raft_fixture *f)
{
	if (f->failed)
		return -1;
	f->now++;
	/* Deliver due messages in random order. */
	size_t due = 0;
	for (size_t i = 0; i < f->n_net; i++) {
		if (f->net[i].at <= f->now) {
			struct raft_fixture_msg t = f->net[due];
			f->net[due] = f->net[i];
			f->net[i] = t;
			due++;
		}
	}
	for (size_t i = due; i > 1; i--) {
		size_t j = (size_t)(raft_fixture_rand(f) % i);
		struct raft_fixture_msg t = f->net[i - 1];
		f->net[i - 1] = f->net[j];
		f->net[j] = t;
	}
	for (size_t i = 0; i < due; i++) {
		struct raft_fixture_msg *fm = &f->net[i];
		int from = raft_fixture_index_of(f, fm->from), to = raft_fixture_index_of(f, fm->to);
		struct raft_decoded dec;
		if (from >= 0 && to >= 0 && f->nodes[to].alive && !f->cut[from][to]) {
			if (raft_codec_decode(fm->buf, fm->len, &dec) != 0 ||
			    dec.cluster_id != 0x6b756265)
				return raft_fixture_fail(f, "message %llu->%llu does not decode",
							 (unsigned long long)fm->from,
							 (unsigned long long)fm->to);
			const struct raft_msg *mm = &dec.msg;
			if (f->trace)
				fprintf(stderr, "%llu: %llu->%llu %s t%llu i%llu lt%llu c%llu n%zu rej%d hint%llu\n",
					(unsigned long long)f->now, (unsigned long long)mm->from,
					(unsigned long long)mm->to, raft_msg_type_name(mm->type),
					(unsigned long long)mm->term, (unsigned long long)mm->index,
					(unsigned long long)mm->log_term, (unsigned long long)mm->commit,
					mm->n_entries, mm->reject, (unsigned long long)mm->reject_hint);
			raft_step(f->nodes[to].r, mm);
			raft_codec_decoded_free(&dec);
			f->msgs_delivered++;
		}
		raft_fixture_free_msg(fm);
	}
	if (due) {
		memmove(f->net, f->net + due, (f->n_net - due) * sizeof(*f->net));
		f->n_net -= due;
	}
	for (size_t i = 0; i < f->n; i++) {
		struct raft_fixture_node *nd = &f->nodes[i];
		if (nd->alive && (f->now + (uint64_t)nd->phase) % (uint64_t)f->slots_per_tick == 0)
			raft_tick(nd->r);
	}
	for (size_t i = 0; i < f->n; i++)
		if (raft_fixture_process(f, &f->nodes[i]))
			return -1;
	return raft_fixture_check(f);
}

int raft_fixture_run(struct raft_fixture *f, int ticks)
{
	for (int i = 0; i < ticks * f->slots_per_tick; i++)
		if (raft_fixture_step(f))
			return -1;
	return 0;
}

int raft_fixture_run_until(struct raft_fixture *f, int max_ticks,
			   bool (*pred)(struct raft_fixture *f, void *arg), void *arg)
{
	for (int i = 0; i < max_ticks * f->slots_per_tick; i++) {
		if (pred(f, arg))
			return 0;
		if (raft_fixture_step(f))
			return -1;
	}
	return pred(f, arg) ? 0 : -ETIMEDOUT;
}

int raft_fixture_leader(struct raft_fixture *f)
{
	int best = -1;
	for (size_t i = 0; i < f->n; i++) {
		struct raft_fixture_node *nd = &f->nodes[i];
		if (nd->alive && raft_role(nd->r) == RAFT_LEADER &&
		    (best < 0 || raft_term(nd->r) > raft_term(f->nodes[best].r)))
			best = (int)i;
	}
	return best;
}

int raft_fixture_stable_leader(struct raft_fixture *f)
{
	int l = raft_fixture_leader(f);
	if (l < 0)
		return -1;
	const struct raft_conf *c = raft_configuration(f->nodes[l].r);
	for (size_t k = 0; k < c->n; k++) {
		int j = raft_fixture_index_of(f, c->ids[k]);
		if (j < 0 || !f->nodes[j].alive)
			continue;
		if (raft_leader(f->nodes[j].r) != f->nodes[l].id ||
		    raft_term(f->nodes[j].r) != raft_term(f->nodes[l].r))
			return -1;
	}
	return l;
}

bool raft_fixture_all_applied(struct raft_fixture *f, size_t leader, uint64_t index)
{
	if (!f->nodes[leader].alive) {
		/* The leader left (e.g. applied its own removal): use the new one's view. */
		int l = raft_fixture_leader(f);
		if (l < 0)
			return false;
		leader = (size_t)l;
	}
	const struct raft_conf *c = raft_configuration(f->nodes[leader].r);
	for (size_t k = 0; k < c->n; k++) {
		int j = raft_fixture_index_of(f, c->ids[k]);
		if (j < 0 || !f->nodes[j].alive)
			continue;
		if (f->nodes[j].applied < index)
			return false;
	}
	return true;
}

void raft_fixture_crash(struct raft_fixture *f, size_t i)
{
	struct raft_fixture_node *nd = &f->nodes[i];
	if (!nd->alive)
		return;
	nd->alive = false;
	raft_free(nd->r);
	nd->r = NULL;
}

int raft_fixture_restart(struct raft_fixture *f, size_t i)
{
	struct raft_fixture_node *nd = &f->nodes[i];
	if (nd->alive || nd->removed)
		return -EINVAL;
	int rc = raft_fixture_boot(f, nd);
	if (rc)
		return raft_fixture_fail(f, "node %llu failed to restart: %d",
					 (unsigned long long)nd->id, rc);
	return 0;
}

void raft_fixture_cut(struct raft_fixture *f, size_t i, size_t j, bool cut)
{
	f->cut[i][j] = f->cut[j][i] = cut;
}

void raft_fixture_isolate(struct raft_fixture *f, size_t i, bool cut)
{
	for (size_t j = 0; j < RAFT_FIXTURE_MAX; j++)
		if (j != i)
			raft_fixture_cut(f, i, j, cut);
}

void raft_fixture_heal(struct raft_fixture *f)
{
	memset(f->cut, 0, sizeof(f->cut));
}

int raft_fixture_propose(struct raft_fixture *f, size_t i, uint64_t *index)
{
	struct raft_fixture_node *nd = &f->nodes[i];
	if (!nd->alive)
		return -EINVAL;
	char buf[48];
	int n = snprintf(buf, sizeof(buf), "s%llu-p%llu", (unsigned long long)f->seed,
			 (unsigned long long)++f->proposals);
	return raft_propose(nd->r, buf, (size_t)n, index);
}

int raft_fixture_compact(struct raft_fixture *f, size_t i)
{
	struct raft_fixture_node *nd = &f->nodes[i];
	if (!nd->alive || nd->applied == 0)
		return -EINVAL;
	uint64_t idx = nd->applied;
	if (!raft_entry_at(nd->r, idx))
		return -EINVAL; /* already compacted there */
	int rc = raft_compact(nd->r, idx);
	if (rc)
		return rc;
	/* Durable snapshot first, then drop the durable entries it covers. */
	uint64_t old_base = nd->has_snap ? nd->snap.index : 0;
	size_t drop = (size_t)(idx - old_base);
	if (drop > nd->n_ents)
		drop = nd->n_ents;
	for (size_t k = 0; k < drop; k++)
		free(nd->ents[k].data);
	if (drop) {
		memmove(nd->ents, nd->ents + drop, (nd->n_ents - drop) * sizeof(*nd->ents));
		nd->n_ents -= drop;
	}
	nd->snap = *raft_last_snapshot(nd->r);
	nd->has_snap = true;
	nd->snap_hash = nd->sm_hash;
	return 0;
}

int raft_fixture_read(struct raft_fixture *f, size_t i)
{
	struct raft_fixture_node *nd = &f->nodes[i];
	if (!nd->alive)
		return -EINVAL;
	uint64_t ctx = f->next_ctx++;
	size_t old = f->cap_reads;
	if (raft_fixture_grow((void **)&f->read_floor, &f->cap_reads, ctx + 1,
			      sizeof(*f->read_floor)))
		abort();
	for (size_t k = old; k < f->cap_reads; k++)
		f->read_floor[k] = UINT64_MAX;
	f->read_floor[ctx] = f->max_commit;
	return raft_read_index(nd->r, ctx);
}

void raft_fixture_dump(struct raft_fixture *f, FILE *out)
{
	fprintf(out, "fixture seed %llu slot %llu: %zu msgs in flight, max commit %llu\n",
		(unsigned long long)f->seed, (unsigned long long)f->now, f->n_net,
		(unsigned long long)f->max_commit);
	for (size_t i = 0; i < f->n; i++) {
		struct raft_fixture_node *nd = &f->nodes[i];
		if (!nd->alive) {
			fprintf(out, "  node %llu: %s\n", (unsigned long long)nd->id,
				nd->removed ? "removed" : "down");
			continue;
		}
		const struct raft_conf *c = raft_configuration(nd->r);
		fprintf(out, "  node %llu: %s term %llu lead %llu commit %llu applied %llu log [%llu..%llu] conf",
			(unsigned long long)nd->id, raft_role_name(raft_role(nd->r)),
			(unsigned long long)raft_term(nd->r), (unsigned long long)raft_leader(nd->r),
			(unsigned long long)raft_commit_index(nd->r), (unsigned long long)nd->applied,
			(unsigned long long)raft_first_index(nd->r),
			(unsigned long long)raft_last_index(nd->r));
		for (size_t k = 0; k < c->n; k++)
			fprintf(out, " %llu%s", (unsigned long long)c->ids[k], c->learner[k] ? "L" : "");
		fprintf(out, "\n");
	}
}
