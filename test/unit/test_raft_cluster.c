/* Targeted cluster scenarios on the deterministic fixture (no loss, 1-slot delay, every
 * invariant checked after every step): election, pre-vote, check-quorum, a stale leader,
 * snapshot catch-up, leadership transfer, membership changes, learners, ReadIndex. */
#include <errno.h>
#include <string.h>

#include "kc_test.h"
#include "raft_fixture.h"

#define T 10 /* election timeout in ticks */

static struct raft_fixture F;

static bool has_stable_leader(struct raft_fixture *f, void *arg)
{
	(void)arg;
	return raft_fixture_stable_leader(f) >= 0;
}

static void must_run(int ticks)
{
	int rc = raft_fixture_run(&F, ticks);
	ck_assert_msg(rc == 0, "%s", F.err);
}

static int elect(size_t n, uint64_t seed)
{
	ck_assert_int_eq(raft_fixture_init(&F, n, seed), 0);
	int rc = raft_fixture_run_until(&F, 5 * T, has_stable_leader, NULL);
	ck_assert_msg(rc == 0, "no leader: %d %s", rc, F.err);
	return raft_fixture_stable_leader(&F);
}

struct applied_arg {
	size_t node;
	uint64_t index;
};

static bool node_applied(struct raft_fixture *f, void *arg)
{
	struct applied_arg *a = arg;
	return f->nodes[a->node].alive && f->nodes[a->node].applied >= a->index;
}

static void wait_applied(size_t node, uint64_t index, int ticks)
{
	struct applied_arg a = { node, index };
	int rc = raft_fixture_run_until(&F, ticks, node_applied, &a);
	ck_assert_msg(rc == 0, "node %zu did not apply %llu (applied %llu): %s", node + 1,
		      (unsigned long long)index, (unsigned long long)F.nodes[node].applied, F.err);
}

static uint64_t propose_ok(size_t leader)
{
	uint64_t idx = 0;
	ck_assert_int_eq(raft_fixture_propose(&F, leader, &idx), 0);
	return idx;
}

START_TEST(elects_one_leader_with_noop)
{
	for (uint64_t seed = 1; seed <= 20; seed++) {
		int l = elect(seed % 2 ? 5 : 3, seed);
		struct raft *r = F.nodes[l].r;
		/* Within the randomized [T, 2T) timeout plus a round trip, usually term 1. */
		ck_assert_uint_ge(raft_term(r), 1);
		const struct raft_entry *e = raft_entry_at(r, raft_last_index(r));
		ck_assert_uint_eq(e->type, RAFT_ENTRY_NOOP);
		ck_assert_uint_eq(e->term, raft_term(r));
		size_t leaders = 0;
		for (size_t i = 0; i < F.n; i++)
			leaders += raft_role(F.nodes[i].r) == RAFT_LEADER;
		ck_assert_uint_eq(leaders, 1);
		/* The no-op commits, and everyone applies it. */
		for (size_t i = 0; i < F.n; i++)
			wait_applied(i, e->index, 3 * T);
		raft_fixture_close(&F);
	}
}
END_TEST

START_TEST(replicates_and_applies_in_order)
{
	int l = elect(3, 7);
	uint64_t last = 0;
	for (int i = 0; i < 100; i++) {
		last = propose_ok((size_t)l);
		if (i % 7 == 0)
			must_run(1);
	}
	for (size_t i = 0; i < 3; i++)
		wait_applied(i, last, 5 * T);
	/* Order is checked by the fixture (applies must be consecutive); the payload of
	 * the last one is ours. */
	const struct raft_entry *e = raft_entry_at(F.nodes[(l + 1) % 3].r, last);
	ck_assert_ptr_nonnull(e);
	ck_assert_int_eq(memcmp(e->data, "s7-p100", 7), 0);
	raft_fixture_close(&F);
}
END_TEST

START_TEST(prevote_keeps_partitioned_node_from_disrupting)
{
	int l = elect(3, 11);
	size_t x = ((size_t)l + 1) % 3;
	uint64_t term = raft_term(F.nodes[l].r);
	raft_fixture_isolate(&F, x, true);
	must_run(10 * T);
	/* Pre-votes failed: the isolated node never bumped its term. */
	ck_assert_uint_eq(raft_term(F.nodes[x].r), term);
	raft_fixture_heal(&F);
	must_run(3 * T);
	ck_assert_int_eq(raft_fixture_stable_leader(&F), l);
	ck_assert_uint_eq(raft_term(F.nodes[l].r), term);
	raft_fixture_close(&F);
}
END_TEST

START_TEST(without_prevote_partitioned_node_disrupts)
{
	/* The control for the test above: the same scenario with pre-vote and
	 * check-quorum off lets the returning node force a new election. */
	ck_assert_int_eq(raft_fixture_init(&F, 3, 11), 0);
	F.pre_vote = F.check_quorum = false;
	for (size_t i = 0; i < 3; i++) {
		raft_fixture_crash(&F, i);
		raft_fixture_restart(&F, i);
	}
	ck_assert_int_eq(raft_fixture_run_until(&F, 5 * T, has_stable_leader, NULL), 0);
	int l = raft_fixture_stable_leader(&F);
	size_t x = ((size_t)l + 1) % 3;
	uint64_t term = raft_term(F.nodes[l].r);
	raft_fixture_isolate(&F, x, true);
	must_run(10 * T);
	ck_assert_uint_gt(raft_term(F.nodes[x].r), term);
	raft_fixture_heal(&F);
	must_run(3 * T);
	ck_assert_uint_gt(raft_term(F.nodes[l].r), term);
	raft_fixture_close(&F);
}
END_TEST

START_TEST(check_quorum_leader_steps_down)
{
	int l = elect(5, 3);
	raft_fixture_isolate(&F, (size_t)l, true);
	/* Within two election timeouts (the check runs once per timeout). */
	must_run(2 * T + 1);
	ck_assert_int_ne(raft_role(F.nodes[l].r), RAFT_LEADER);
	raft_fixture_close(&F);
}
END_TEST

static bool other_leader(struct raft_fixture *f, void *arg)
{
	int l = raft_fixture_leader(f);
	return l >= 0 && l != *(int *)arg;
}

START_TEST(stale_leader_entries_are_replaced)
{
	int l = elect(3, 5);
	must_run(1);
	raft_fixture_isolate(&F, (size_t)l, true);
	/* The stale leader still accepts a proposal it can never commit. */
	uint64_t lost = propose_ok((size_t)l);
	int rc = raft_fixture_run_until(&F, 6 * T, other_leader, &l);
	ck_assert_int_eq(rc, 0);
	int l2 = raft_fixture_leader(&F);
	ck_assert_int_ne(l2, l);
	uint64_t kept = propose_ok((size_t)l2);
	raft_fixture_heal(&F);
	for (size_t i = 0; i < 3; i++)
		wait_applied(i, kept, 6 * T);
	/* Everyone, including the old leader, holds the new leader's entry at `lost`. */
	const struct raft_entry *a = raft_entry_at(F.nodes[l].r, lost);
	const struct raft_entry *b = raft_entry_at(F.nodes[l2].r, lost);
	ck_assert_ptr_nonnull(a);
	ck_assert_ptr_nonnull(b);
	ck_assert_uint_eq(a->term, b->term);
	ck_assert_uint_gt(a->term, 1);
	raft_fixture_close(&F);
}
END_TEST

START_TEST(lagging_node_catches_up_by_snapshot)
{
	int l = elect(3, 9);
	size_t x = ((size_t)l + 1) % 3, y = ((size_t)l + 2) % 3;
	raft_fixture_crash(&F, x);
	uint64_t last = 0;
	for (int i = 0; i < 50; i++) {
		last = propose_ok((size_t)l);
		must_run(1);
	}
	wait_applied((size_t)l, last, 3 * T);
	wait_applied(y, last, 3 * T);
	ck_assert_int_eq(raft_fixture_compact(&F, (size_t)l), 0);
	ck_assert_int_eq(raft_fixture_compact(&F, y), 0);
	ck_assert_uint_gt(raft_first_index(F.nodes[l].r), 40);
	ck_assert_int_eq(raft_fixture_restart(&F, x), 0);
	wait_applied(x, last, 5 * T);
	/* It got there by InstallSnapshot: its log starts after the snapshot. */
	ck_assert_uint_gt(raft_first_index(F.nodes[x].r), 40);
	ck_assert(F.nodes[x].has_snap);
	/* And it keeps replicating normally afterwards. */
	uint64_t more = propose_ok((size_t)raft_fixture_leader(&F));
	wait_applied(x, more, 3 * T);
	/* A restart from the installed snapshot + log works too. */
	raft_fixture_crash(&F, x);
	ck_assert_int_eq(raft_fixture_restart(&F, x), 0);
	ck_assert_uint_ge(F.nodes[x].applied, last);
	raft_fixture_close(&F);
}
END_TEST

START_TEST(leadership_transfer)
{
	int l = elect(3, 13);
	size_t x = ((size_t)l + 1) % 3;
	uint64_t term = raft_term(F.nodes[l].r);
	uint64_t idx = propose_ok((size_t)l);
	ck_assert_int_eq(raft_transfer_leader(F.nodes[l].r, F.nodes[l].id), -EINVAL);
	ck_assert_int_eq(raft_transfer_leader(F.nodes[l].r, 99), -EINVAL);
	ck_assert_int_eq(raft_transfer_leader(F.nodes[l].r, F.nodes[x].id), 0);
	/* Proposals are refused while the transfer runs. */
	ck_assert_int_eq(raft_fixture_propose(&F, (size_t)l, NULL), -EBUSY);
	int rc = raft_fixture_run_until(&F, 2 * T, has_stable_leader, NULL);
	ck_assert_int_eq(rc, 0);
	must_run(2);
	ck_assert_int_eq(raft_fixture_stable_leader(&F), (int)x);
	ck_assert_uint_eq(raft_term(F.nodes[x].r), term + 1);
	/* The entry proposed before the transfer survived it. */
	wait_applied(x, idx, 2 * T);
	raft_fixture_close(&F);
}
END_TEST

START_TEST(add_and_remove_members)
{
	int l = elect(3, 17);
	struct raft *r = F.nodes[l].r;
	uint64_t ci;
	must_run(2);
	/* Add node 4 as a voter: it starts empty and receives the log. */
	ck_assert_int_eq(raft_change_membership(r, RAFT_CC_ADD_VOTER, 4, &ci), 0);
	/* One change at a time. */
	ck_assert_int_eq(raft_change_membership(r, RAFT_CC_ADD_VOTER, 5, NULL), -EBUSY);
	/* In effect on append, before commit: the leader already counts 4 voters. */
	ck_assert_uint_eq(raft_configuration(r)->n, 4);
	int n4 = raft_fixture_add_node(&F);
	ck_assert_int_eq(n4, 3);
	wait_applied(3, ci, 5 * T);
	ck_assert_uint_eq(raft_configuration(F.nodes[3].r)->n, 4);
	uint64_t idx = propose_ok((size_t)l);
	wait_applied(3, idx, 3 * T);
	ck_assert_int_eq(raft_change_membership(r, RAFT_CC_ADD_VOTER, 4, NULL), -EINVAL);
	/* Remove the leader itself: it commits the change, then steps down, and the
	 * remaining three elect a leader among themselves. */
	ck_assert_int_eq(raft_change_membership(r, RAFT_CC_REMOVE, F.nodes[l].id, &ci), 0);
	int rc = raft_fixture_run_until(&F, 6 * T, has_stable_leader, NULL);
	ck_assert_int_eq(rc, 0);
	must_run(2 * T);
	int l2 = raft_fixture_stable_leader(&F);
	ck_assert_int_ge(l2, 0);
	ck_assert_int_ne(l2, l);
	ck_assert(!F.nodes[l].alive && F.nodes[l].removed); /* it applied its removal */
	ck_assert_uint_eq(raft_configuration(F.nodes[l2].r)->n, 3);
	idx = propose_ok((size_t)l2);
	wait_applied(3, idx, 3 * T);
	raft_fixture_close(&F);
}
END_TEST

START_TEST(learner_replicates_without_voting)
{
	int l = elect(3, 19);
	struct raft *r = F.nodes[l].r;
	must_run(2);
	ck_assert_int_eq(raft_change_membership(r, RAFT_CC_ADD_LEARNER, 4, NULL), 0);
	ck_assert_int_eq(raft_fixture_add_node(&F), 3);
	uint64_t idx = propose_ok((size_t)l);
	wait_applied(3, idx, 5 * T);
	/* The learner never campaigns, even cut off. */
	raft_fixture_isolate(&F, 3, true);
	must_run(5 * T);
	ck_assert_int_eq(raft_role(F.nodes[3].r), RAFT_FOLLOWER);
	ck_assert_uint_eq(raft_term(F.nodes[3].r), raft_term(r));
	/* Quorum is still 2 of the 3 voters: with one voter down, commits continue. */
	size_t down = ((size_t)l + 1) % 3;
	raft_fixture_crash(&F, down);
	idx = propose_ok((size_t)l);
	wait_applied((size_t)l, idx, 3 * T);
	/* Promotion. */
	raft_fixture_heal(&F);
	ck_assert_int_eq(raft_fixture_restart(&F, down), 0);
	must_run(T);
	ck_assert_int_eq(raft_change_membership(r, RAFT_CC_ADD_VOTER, 4, NULL), 0);
	must_run(T);
	ck_assert(raft_conf_is_voter(raft_configuration(F.nodes[3].r), 4));
	raft_fixture_close(&F);
}
END_TEST

static bool read_done(struct raft_fixture *f, void *arg)
{
	struct applied_arg *a = arg;
	return f->nodes[a->node].reads_done >= a->index;
}

START_TEST(read_index_on_leader_and_follower)
{
	int l = elect(3, 23);
	must_run(2);
	uint64_t idx = propose_ok((size_t)l);
	wait_applied((size_t)l, idx, 3 * T);
	/* Leader: answered after one heartbeat round (checked >= commit by fixture). */
	ck_assert_int_eq(raft_fixture_read(&F, (size_t)l), 0);
	struct applied_arg a = { (size_t)l, 1 };
	ck_assert_int_eq(raft_fixture_run_until(&F, 2, read_done, &a), 0);
	/* Follower: forwarded to the leader and relayed back. */
	size_t x = ((size_t)l + 1) % 3;
	ck_assert_int_eq(raft_fixture_read(&F, x), 0);
	a.node = x;
	ck_assert_int_eq(raft_fixture_run_until(&F, 2, read_done, &a), 0);
	/* A leader cut off from the quorum never confirms a read. */
	raft_fixture_isolate(&F, (size_t)l, true);
	ck_assert_int_eq(raft_fixture_read(&F, (size_t)l), 0);
	must_run(T / 2);
	ck_assert_uint_eq(F.nodes[l].reads_done, 1);
	raft_fixture_close(&F);
}
END_TEST

START_TEST(restart_keeps_committed_state)
{
	int l = elect(3, 29);
	uint64_t idx = 0;
	for (int i = 0; i < 10; i++)
		idx = propose_ok((size_t)l);
	for (size_t i = 0; i < 3; i++)
		wait_applied(i, idx, 3 * T);
	/* Kill everyone; durable state alone brings the cluster back. */
	for (size_t i = 0; i < 3; i++)
		raft_fixture_crash(&F, i);
	for (size_t i = 0; i < 3; i++)
		ck_assert_int_eq(raft_fixture_restart(&F, i), 0);
	ck_assert_int_eq(raft_fixture_run_until(&F, 6 * T, has_stable_leader, NULL), 0);
	int l2 = raft_fixture_stable_leader(&F);
	ck_assert_uint_ge(raft_last_index(F.nodes[l2].r), idx);
	uint64_t more = propose_ok((size_t)l2);
	for (size_t i = 0; i < 3; i++)
		wait_applied(i, more, 3 * T);
	raft_fixture_close(&F);
}
END_TEST

static void teardown(void)
{
	if (F.n)
		raft_fixture_close(&F);
}

static Suite *raft_cluster_suite(void)
{
	Suite *s = suite_create("raft_cluster");
	TCase *tc = tcase_create("cluster");
	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_add_test(tc, elects_one_leader_with_noop);
	tcase_add_test(tc, replicates_and_applies_in_order);
	tcase_add_test(tc, prevote_keeps_partitioned_node_from_disrupting);
	tcase_add_test(tc, without_prevote_partitioned_node_disrupts);
	tcase_add_test(tc, check_quorum_leader_steps_down);
	tcase_add_test(tc, stale_leader_entries_are_replaced);
	tcase_add_test(tc, lagging_node_catches_up_by_snapshot);
	tcase_add_test(tc, leadership_transfer);
	tcase_add_test(tc, add_and_remove_members);
	tcase_add_test(tc, learner_replicates_without_voting);
	tcase_add_test(tc, read_index_on_leader_and_follower);
	tcase_add_test(tc, restart_keeps_committed_state);
	suite_add_tcase(s, tc);
	return s;
}

KC_TEST_MAIN(raft_cluster_suite)
