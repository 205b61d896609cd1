/* Unit tests of the Raft core driven by hand-made messages: the log, configuration
 * encoding, message validation, vote persistence, the Figure 8 commit rule, batching and
 * pipelining. Cluster behaviour is in test_raft_cluster.c and test_raft_sim.c. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "../../store/raft.h"
#include "../../store/raft_log.h"
#include "kc_test.h"
#include "log.h"

static uint64_t core_rand_state;
static uint64_t core_rand(void *arg)
{
	(void)arg;
	core_rand_state = core_rand_state * 6364136223846793005ULL + 1442695040888963407ULL;
	return core_rand_state >> 33;
}

static struct raft *mk(uint64_t id, size_t voters, bool pre_vote)
{
	struct raft_config cfg;
	memset(&cfg, 0, sizeof(cfg));
	cfg.id = id;
	cfg.rand = core_rand;
	cfg.disable_pre_vote = !pre_vote;
	cfg.max_msg_entries = 8;
	cfg.max_inflight = 4;
	for (size_t i = 0; i < voters; i++)
		cfg.initial.ids[cfg.initial.n++] = i + 1;
	struct raft *r = NULL;
	ck_assert_int_eq(raft_new(&cfg, &r), 0);
	return r;
}

/* Messages of the last drained Ready (copied shallowly; entries not kept). */
struct sent {
	struct raft_msg m[64];
	size_t n;
	struct raft_hard_state hs;
	bool hs_changed;
	size_t n_entries_in_msg[64];
};

static void drain(struct raft *r, struct sent *s)
{
	memset(s, 0, sizeof(*s));
	while (raft_has_ready(r)) {
		struct raft_ready rd;
		raft_ready(r, &rd);
		if (rd.hs_changed) {
			s->hs = rd.hs;
			s->hs_changed = true;
		}
		for (size_t i = 0; i < rd.n_msgs && s->n < 64; i++) {
			s->m[s->n] = rd.msgs[i];
			s->m[s->n].entries = NULL;
			s->n_entries_in_msg[s->n] = rd.msgs[i].n_entries;
			s->n++;
		}
		raft_advance(r, &rd);
	}
}

static const struct raft_msg *find(const struct sent *s, uint8_t type, uint64_t to)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->m[i].type == type && s->m[i].to == to)
			return &s->m[i];
	return NULL;
}

static size_t count(const struct sent *s, uint8_t type, uint64_t to)
{
	size_t c = 0;
	for (size_t i = 0; i < s->n; i++)
		c += s->m[i].type == type && s->m[i].to == to;
	return c;
}

/* Make r (id 1 of 3, no pre-vote) leader of the next term via a vote from node 2. */
static void make_leader(struct raft *r, struct sent *s)
{
	for (int i = 0; i < 40 && raft_role(r) != RAFT_CANDIDATE; i++)
		raft_tick(r);
	ck_assert_int_eq(raft_role(r), RAFT_CANDIDATE);
	drain(r, s);
	struct raft_msg v = { .type = RAFT_MSG_VOTE_RESP, .from = 2, .to = 1, .term = raft_term(r) };
	ck_assert_int_eq(raft_step(r, &v), 0);
	ck_assert_int_eq(raft_role(r), RAFT_LEADER);
	drain(r, s);
}

START_TEST(log_terms_truncate_compact)
{
	struct raft_log l;
	raft_log_init(&l);
	uint64_t terms[] = { 1, 1, 2, 3, 3 };
	for (int i = 0; i < 5; i++)
		ck_assert_int_eq(raft_log_append(&l, terms[i], RAFT_ENTRY_NORMAL, "x", 1), 0);
	ck_assert_uint_eq(raft_log_last_index(&l), 5);
	ck_assert_uint_eq(raft_log_term_or0(&l, 3), 2);
	ck_assert(raft_log_match(&l, 4, 3));
	ck_assert(!raft_log_match(&l, 4, 2));
	ck_assert(!raft_log_match(&l, 6, 3));
	/* §5.4.1 up-to-date: higher last term wins, equal term needs >= length. */
	ck_assert(raft_log_up_to_date(&l, 1, 4));
	ck_assert(raft_log_up_to_date(&l, 5, 3));
	ck_assert(!raft_log_up_to_date(&l, 4, 3));
	ck_assert(!raft_log_up_to_date(&l, 9, 2));
	ck_assert_uint_eq(raft_log_find_conflict_by_term(&l, 5, 2), 3);
	ck_assert_uint_eq(raft_log_find_conflict_by_term(&l, 5, 0), 0);
	raft_log_truncate_after(&l, 3);
	ck_assert_uint_eq(raft_log_last_index(&l), 3);
	raft_log_compact(&l, 2, 1);
	ck_assert_uint_eq(raft_log_first_index(&l), 3);
	ck_assert_uint_eq(raft_log_term_or0(&l, 2), 1); /* the snapshot base keeps its term */
	uint64_t t;
	ck_assert_int_eq(raft_log_term(&l, 1, &t), -ENOENT);
	ck_assert_ptr_null(raft_log_get(&l, 2));
	ck_assert_uint_eq(raft_log_get(&l, 3)->term, 2);
	raft_log_close(&l);
}
END_TEST

START_TEST(conf_roundtrip_and_garbage)
{
	struct raft_conf c = { .n = 3, .ids = { 1, 7, 9 }, .learner = { false, true, false } }, d;
	uint8_t buf[4 + RAFT_MAX_MEMBERS * 9];
	raft_conf_encode(&c, buf);
	ck_assert_int_eq(raft_conf_decode(buf, raft_conf_size(&c), &d), 0);
	ck_assert_uint_eq(d.n, 3);
	ck_assert_uint_eq(d.ids[1], 7);
	ck_assert(d.learner[1] && !d.learner[2]);
	ck_assert(raft_conf_is_voter(&d, 9) && !raft_conf_is_voter(&d, 7));
	ck_assert_int_eq(raft_conf_decode(buf, raft_conf_size(&c) - 1, &d), -EINVAL);
	ck_assert_int_eq(raft_conf_decode(NULL, 0, &d), -EINVAL);
	c.ids[2] = 1; /* duplicate id */
	raft_conf_encode(&c, buf);
	ck_assert_int_eq(raft_conf_decode(buf, raft_conf_size(&c), &d), -EINVAL);
	buf[0] = 200; /* too many members */
	ck_assert_int_eq(raft_conf_decode(buf, 4 + 200 * 9, &d), -EINVAL);
}
END_TEST

START_TEST(config_validation)
{
	struct raft_config cfg;
	memset(&cfg, 0, sizeof(cfg));
	struct raft *r;
	ck_assert_int_eq(raft_new(&cfg, &r), -EINVAL); /* id 0, no rand */
	cfg.id = 1;
	ck_assert_int_eq(raft_new(&cfg, &r), -EINVAL); /* no rand */
	cfg.rand = core_rand;
	cfg.election_ticks = 3;
	cfg.heartbeat_ticks = 3;
	ck_assert_int_eq(raft_new(&cfg, &r), -EINVAL); /* heartbeat >= election */
}
END_TEST

START_TEST(malformed_messages_rejected)
{
	struct raft *r = mk(1, 3, false);
	struct raft_msg m = { .type = 99, .from = 2, .to = 1, .term = 1 };
	ck_assert_int_eq(raft_step(r, &m), -EINVAL);
	m.type = RAFT_MSG_HEARTBEAT;
	m.from = 0;
	ck_assert_int_eq(raft_step(r, &m), -EINVAL);
	m.from = 2;
	m.to = 3;
	ck_assert_int_eq(raft_step(r, &m), -EINVAL);
	m.to = 1;
	m.n_entries = 2; /* entries without a pointer */
	ck_assert_int_eq(raft_step(r, &m), -EINVAL);
	ck_assert_int_eq(raft_step(r, NULL), -EINVAL);
	/* An APPEND whose entries skip an index is dropped without touching the log. */
	struct raft_entry ents[2] = { { .term = 1, .index = 1 }, { .term = 1, .index = 3 } };
	struct raft_msg a = { .type = RAFT_MSG_APPEND, .from = 2, .to = 1, .term = 1,
			      .entries = ents, .n_entries = 2 };
	ck_assert_int_eq(raft_step(r, &a), 0);
	ck_assert_uint_eq(raft_last_index(r), 0);
	/* Entries claiming a term above the message's are dropped too. */
	ents[1].index = 2;
	ents[1].term = 5;
	ck_assert_int_eq(raft_step(r, &a), 0);
	ck_assert_uint_eq(raft_last_index(r), 0);
	ents[1].term = 1;
	ck_assert_int_eq(raft_step(r, &a), 0);
	ck_assert_uint_eq(raft_last_index(r), 2);
	raft_free(r);
}
END_TEST

START_TEST(vote_is_persisted_with_the_response)
{
	struct raft *r = mk(2, 3, false);
	struct sent s;
	struct raft_msg v = { .type = RAFT_MSG_VOTE, .from = 1, .to = 2, .term = 5 };
	ck_assert_int_eq(raft_step(r, &v), 0);
	drain(r, &s);
	const struct raft_msg *resp = find(&s, RAFT_MSG_VOTE_RESP, 1);
	ck_assert_ptr_nonnull(resp);
	ck_assert(!resp->reject);
	/* The same Ready carries the hard state that must be fsynced before sending. */
	ck_assert(s.hs_changed);
	ck_assert_uint_eq(s.hs.term, 5);
	ck_assert_uint_eq(s.hs.vote, 1);
	/* A second candidate in the same term is refused. */
	v.from = 3;
	v.to = 2;
	ck_assert_int_eq(raft_step(r, &v), 0);
	drain(r, &s);
	resp = find(&s, RAFT_MSG_VOTE_RESP, 3);
	ck_assert_ptr_nonnull(resp);
	ck_assert(resp->reject);
	/* A restarted server remembers its vote. */
	struct raft *r2 = mk(2, 3, false);
	struct raft_hard_state hs = { 5, 1, 0 };
	ck_assert_int_eq(raft_load(r2, &hs, NULL, NULL, 0), 0);
	ck_assert_int_eq(raft_step(r2, &v), 0);
	drain(r2, &s);
	ck_assert(find(&s, RAFT_MSG_VOTE_RESP, 3)->reject);
	raft_free(r2);
	raft_free(r);
}
END_TEST

START_TEST(stale_log_gets_no_vote)
{
	struct raft *r = mk(2, 3, false);
	struct raft_entry e[2] = { { .term = 1, .index = 1 }, { .term = 3, .index = 2 } };
	struct raft_hard_state hs = { 3, 0, 0 };
	ck_assert_int_eq(raft_load(r, &hs, NULL, e, 2), 0);
	struct sent s;
	/* Longer log, older last term: refused (§5.4.1). */
	struct raft_msg v = { .type = RAFT_MSG_VOTE, .from = 1, .to = 2, .term = 4,
			      .index = 9, .log_term = 2 };
	raft_step(r, &v);
	drain(r, &s);
	ck_assert(find(&s, RAFT_MSG_VOTE_RESP, 1)->reject);
	ck_assert_uint_eq(raft_term(r), 4); /* the term still advances */
	raft_free(r);
}
END_TEST

/* Ticks until a fresh follower campaigns; with `stale`, a Vote for a higher term from a
 * candidate whose log is too old arrives after 5 ticks and is refused. */
static int ticks_to_campaign(bool stale)
{
	core_rand_state = 4242;
	struct raft *r = mk(2, 3, false);
	struct raft_entry e[2] = { { .term = 1, .index = 1 }, { .term = 3, .index = 2 } };
	struct raft_hard_state hs = { 3, 0, 0 };
	ck_assert_int_eq(raft_load(r, &hs, NULL, e, 2), 0);
	struct sent s;
	int t;
	for (t = 1; t < 100; t++) {
		raft_tick(r);
		drain(r, &s);
		if (count(&s, RAFT_MSG_VOTE, 1))
			break;
		if (t == 5 && stale) {
			struct raft_msg v = { .type = RAFT_MSG_VOTE, .from = 3, .to = 2, .term = 4,
					      .index = 1, .log_term = 1 };
			raft_step(r, &v);
			drain(r, &s);
			ck_assert(find(&s, RAFT_MSG_VOTE_RESP, 3)->reject);
			ck_assert_uint_eq(raft_term(r), 4);
		}
	}
	raft_free(r);
	return t;
}

/* Only a granted vote restarts the election timer (Figure 3.1): a stale candidate that
 * keeps campaigning must not hold off the servers that could win. */
START_TEST(refused_vote_keeps_election_timer)
{
	int plain = ticks_to_campaign(false), disturbed = ticks_to_campaign(true);
	ck_assert_int_gt(plain, 5);
	ck_assert_int_eq(disturbed, plain);
}
END_TEST

START_TEST(figure8_old_term_entries_not_committed_by_count)
{
	/* Node 1 holds an entry of term 2 at index 2 that was never committed. */
	struct raft *r = mk(1, 3, false);
	struct raft_entry e[2] = { { .term = 1, .index = 1 }, { .term = 2, .index = 2 } };
	struct raft_hard_state hs = { 2, 0, 1 };
	ck_assert_int_eq(raft_load(r, &hs, NULL, e, 2), 0);
	struct sent s;
	make_leader(r, &s);
	ck_assert_uint_eq(raft_term(r), 3);
	ck_assert_uint_eq(raft_last_index(r), 3); /* the no-op of term 3 */
	ck_assert_uint_eq(raft_entry_at(r, 3)->type, RAFT_ENTRY_NOOP);
	/* Node 2 acknowledges index 2: a majority (1, 2) holds the term-2 entry, but
	 * Figure 8 forbids committing it by counting. */
	struct raft_msg ack = { .type = RAFT_MSG_APPEND_RESP, .from = 2, .to = 1, .term = 3,
				.index = 2 };
	ck_assert_int_eq(raft_step(r, &ack), 0);
	ck_assert_uint_eq(raft_commit_index(r), 1);
	/* Once the term-3 no-op is on a majority, both commit. */
	ack.index = 3;
	ck_assert_int_eq(raft_step(r, &ack), 0);
	ck_assert_uint_eq(raft_commit_index(r), 3);
	raft_free(r);
}
END_TEST

START_TEST(batching_and_pipelining)
{
	struct raft *r = mk(1, 3, false);
	struct sent s;
	make_leader(r, &s);
	/* Follower 2 confirms the no-op: it moves to replicate state. */
	struct raft_msg ack = { .type = RAFT_MSG_APPEND_RESP, .from = 2, .to = 1,
				.term = raft_term(r), .index = 1 };
	raft_step(r, &ack);
	drain(r, &s);
	for (int i = 0; i < 40; i++)
		ck_assert_int_eq(raft_propose(r, "data", 4, NULL), 0);
	drain(r, &s);
	/* 40 entries at 8 per message, at most 4 in flight: 4 messages of 8 to node 2
	 * without waiting for any answer; node 3 has not answered its probe (the no-op),
	 * so it gets nothing until it does. */
	ck_assert_uint_eq(count(&s, RAFT_MSG_APPEND, 2), 4);
	for (size_t i = 0; i < s.n; i++)
		if (s.m[i].type == RAFT_MSG_APPEND)
			ck_assert_uint_le(s.n_entries_in_msg[i], 8);
	ck_assert_uint_eq(count(&s, RAFT_MSG_APPEND, 3), 0);
	/* An ack frees the window: the next batch streams out. */
	ack.index = 9;
	raft_step(r, &ack);
	drain(r, &s);
	ck_assert_uint_eq(count(&s, RAFT_MSG_APPEND, 2), 1);
	ck_assert_uint_eq(s.m[0].index, 33);
	raft_free(r);
}
END_TEST

START_TEST(reject_hint_backtracks_fast)
{
	struct raft *r = mk(1, 3, false);
	struct raft_entry e[10];
	for (int i = 0; i < 10; i++)
		e[i] = (struct raft_entry){ .term = 1, .index = (uint64_t)i + 1 };
	struct raft_hard_state hs = { 1, 0, 0 };
	ck_assert_int_eq(raft_load(r, &hs, NULL, e, 10), 0);
	struct sent s;
	make_leader(r, &s);
	const struct raft_msg *probe = find(&s, RAFT_MSG_APPEND, 3);
	ck_assert_ptr_nonnull(probe);
	ck_assert_uint_eq(probe->index, 10);
	/* Node 3 holds only 2 entries (of term 1): it rejects with that hint. */
	struct raft_msg rej = { .type = RAFT_MSG_APPEND_RESP, .from = 3, .to = 1,
				.term = raft_term(r), .reject = true, .index = 10,
				.reject_hint = 2, .log_term = 1 };
	raft_step(r, &rej);
	drain(r, &s);
	/* One round trip: the next APPEND starts right after the follower's end, not
	 * one entry back. */
	const struct raft_msg *next = find(&s, RAFT_MSG_APPEND, 3);
	ck_assert_ptr_nonnull(next);
	ck_assert_uint_eq(next->index, 2);
	ck_assert_uint_eq(next->log_term, 1);
	ck_assert_uint_eq(s.n_entries_in_msg[next - s.m], 8);
	/* A duplicate of the same reject is stale and changes nothing. */
	raft_step(r, &rej);
	drain(r, &s);
	ck_assert_uint_eq(count(&s, RAFT_MSG_APPEND, 3), 0);
	raft_free(r);
}
END_TEST

START_TEST(proposals_only_on_leader)
{
	struct raft *r = mk(1, 3, false);
	uint64_t idx;
	ck_assert_int_eq(raft_propose(r, "x", 1, &idx), -EPERM);
	ck_assert_int_eq(raft_transfer_leader(r, 2), -EPERM);
	ck_assert_int_eq(raft_change_membership(r, RAFT_CC_ADD_VOTER, 4, NULL), -EPERM);
	ck_assert_int_eq(raft_read_index(r, 1), -EAGAIN); /* no leader known */
	raft_free(r);
}
END_TEST

START_TEST(single_node_commits_alone)
{
	struct raft *r = mk(1, 1, true);
	struct sent s;
	for (int i = 0; i < 40 && raft_role(r) != RAFT_LEADER; i++) {
		raft_tick(r);
		drain(r, &s);
	}
	ck_assert_int_eq(raft_role(r), RAFT_LEADER);
	uint64_t idx;
	ck_assert_int_eq(raft_propose(r, "hello", 5, &idx), 0);
	ck_assert_uint_eq(raft_commit_index(r), idx);
	struct raft_ready rd;
	raft_ready(r, &rd);
	ck_assert_uint_eq(rd.n_entries, 1);
	ck_assert_uint_ge(rd.n_committed, 1);
	ck_assert_mem_eq(rd.committed[rd.n_committed - 1].data, "hello", 5);
	raft_advance(r, &rd);
	ck_assert_uint_eq(raft_applied_index(r), idx);
	ck_assert_int_eq(raft_read_index(r, 77), 0);
	raft_ready(r, &rd);
	ck_assert_uint_eq(rd.n_reads, 1);
	ck_assert_uint_eq(rd.reads[0].ctx, 77);
	ck_assert_uint_eq(rd.reads[0].index, idx);
	raft_advance(r, &rd);
	/* Compaction keeps later indexes addressable. */
	ck_assert_int_eq(raft_compact(r, idx + 1), -EINVAL);
	ck_assert_int_eq(raft_compact(r, idx), 0);
	ck_assert_uint_eq(raft_first_index(r), idx + 1);
	ck_assert_uint_eq(raft_last_snapshot(r)->index, idx);
	ck_assert_uint_eq(raft_last_snapshot(r)->conf.n, 1);
	raft_free(r);
}
END_TEST

START_TEST(non_voter_lease_expires)
{
	/* Node 4 is a learner: it never campaigns, yet its leader lease must expire (as
	 * etcd's tickElection keeps counting), or after a reconfiguration promotes it, it
	 * would keep ignoring the votes the new configuration needs. */
	struct raft_config cfg;
	memset(&cfg, 0, sizeof(cfg));
	cfg.id = 4;
	cfg.rand = core_rand;
	cfg.initial = (struct raft_conf){ .n = 4, .ids = { 1, 2, 3, 4 },
					  .learner = { false, false, false, true } };
	struct raft *r;
	ck_assert_int_eq(raft_new(&cfg, &r), 0);
	struct sent s;
	struct raft_msg hb = { .type = RAFT_MSG_HEARTBEAT, .from = 1, .to = 4, .term = 2 };
	ck_assert_int_eq(raft_step(r, &hb), 0);
	ck_assert_uint_eq(raft_leader(r), 1);
	drain(r, &s);
	/* Within the lease a pre-vote is ignored... */
	struct raft_msg pv = { .type = RAFT_MSG_PREVOTE, .from = 2, .to = 4, .term = 3 };
	raft_step(r, &pv);
	drain(r, &s);
	ck_assert_uint_eq(count(&s, RAFT_MSG_PREVOTE_RESP, 2), 0);
	/* ...and after it, every one is answered, however long the silence lasts. */
	for (int i = 0; i < 10; i++)
		raft_tick(r);
	for (int i = 0; i < 40; i++) {
		raft_tick(r);
		ck_assert_int_eq(raft_role(r), RAFT_FOLLOWER);
		raft_step(r, &pv);
		drain(r, &s);
		ck_assert_uint_eq(count(&s, RAFT_MSG_PREVOTE_RESP, 2), 1);
	}
	raft_free(r);
}
END_TEST

START_TEST(random_messages_never_crash)
{
	/* The peer port is a boundary: arbitrary (decodable) messages must never crash
	 * the core or break its basic bookkeeping. */
	int devnull = open("/dev/null", O_WRONLY);
	if (devnull >= 0)
		kc_log_set_fd(devnull); /* forged messages draw expected warnings */
	uint64_t x = 99;
#define NEXT() (x = x * 6364136223846793005ULL + 1442695040888963407ULL, x >> 33)
	for (int round = 0; round < 20; round++) {
		struct raft *r = mk(1, 3, round % 2);
		struct sent s;
		struct raft_entry ents[6];
		uint8_t payload[8] = "payload";
		for (int i = 0; i < 3000; i++) {
			struct raft_msg m;
			memset(&m, 0, sizeof(m));
			m.type = (uint8_t)(NEXT() % 14);
			m.from = 1 + NEXT() % 4;
			m.to = 1;
			m.term = NEXT() % 6;
			m.index = NEXT() % 12;
			m.log_term = NEXT() % 6;
			m.commit = NEXT() % 14;
			m.reject = NEXT() % 2;
			m.reject_hint = NEXT() % 12;
			m.ctx = NEXT() % 5;
			m.transfer = NEXT() % 2;
			if (m.type == RAFT_MSG_APPEND && NEXT() % 2) {
				m.n_entries = 1 + NEXT() % 6;
				uint64_t t = m.log_term;
				for (size_t k = 0; k < m.n_entries; k++) {
					t += NEXT() % 2;
					ents[k] = (struct raft_entry){ .term = t, .index = m.index + 1 + k,
								       .type = (uint8_t)(NEXT() % 3),
								       .data = payload,
								       .len = NEXT() % 8 };
				}
				m.entries = ents;
			}
			if (m.type == RAFT_MSG_SNAPSHOT) {
				m.snap.index = NEXT() % 12;
				m.snap.term = NEXT() % 6;
				m.snap.conf = (struct raft_conf){ .n = 2, .ids = { 1, 2 } };
			}
			raft_step(r, &m);
			if (NEXT() % 4 == 0)
				raft_tick(r);
			if (NEXT() % 8 == 0)
				raft_propose(r, "p", 1, NULL);
			if (NEXT() % 16 == 0)
				raft_read_index(r, NEXT());
			drain(r, &s);
			if (NEXT() % 32 == 0 && raft_applied_index(r) > raft_first_index(r))
				ck_assert_int_eq(raft_compact(r, raft_applied_index(r)), 0);
			ck_assert_uint_le(raft_commit_index(r), raft_last_index(r));
			ck_assert_uint_le(raft_applied_index(r), raft_commit_index(r));
			ck_assert_uint_le(raft_first_index(r), raft_last_index(r) + 1);
		}
		raft_free(r);
	}
#undef NEXT
	kc_log_set_fd(2);
	if (devnull >= 0)
		close(devnull);
}
END_TEST

static Suite *raft_core_suite(void)
{
	Suite *s = suite_create("raft_core");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, log_terms_truncate_compact);
	tcase_add_test(tc, conf_roundtrip_and_garbage);
	tcase_add_test(tc, config_validation);
	tcase_add_test(tc, malformed_messages_rejected);
	tcase_add_test(tc, vote_is_persisted_with_the_response);
	tcase_add_test(tc, stale_log_gets_no_vote);
	tcase_add_test(tc, refused_vote_keeps_election_timer);
	tcase_add_test(tc, figure8_old_term_entries_not_committed_by_count);
	tcase_add_test(tc, batching_and_pipelining);
	tcase_add_test(tc, reject_hint_backtracks_fast);
	tcase_add_test(tc, proposals_only_on_leader);
	tcase_add_test(tc, single_node_commits_alone);
	tcase_add_test(tc, non_voter_lease_expires);
	tcase_add_test(tc, random_messages_never_crash);
	suite_add_tcase(s, tc);
	return s;
}

KC_TEST_MAIN(raft_core_suite)
