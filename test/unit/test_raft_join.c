/* A member joining a running cluster (the kubeadm-style bring-up of the multi-host lab:
 * `member add` on a single member, then the new member starts with
 * --initial-cluster-state existing). With two voters a joiner that cannot answer yet costs
 * the leader its quorum (check-quorum steps it down, as etcd's leader does); once the
 * joiner's answers get through an election must finish within a few election timeouts,
 * whatever the joiner believed meanwhile. Deterministic fixture, every invariant checked
 * after every step. */
#include <errno.h>
#include <string.h>

#include "kc_test.h"
#include "log.h"
#include "raft_fixture.h"

#define T 10 /* election timeout in ticks (the fixture's default) */

static struct raft_fixture F;

static bool has_stable_leader(struct raft_fixture *f, void *arg)
{
	(void)arg;
	return raft_fixture_stable_leader(f) >= 0;
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

/* One member elected and holding a few entries; node 2 added as a voter (in effect on
 * the leader at once) and booted empty. Returns the new node's index. */
static int one_member_then_add(uint64_t seed)
{
	ck_assert_int_eq(raft_fixture_init(&F, 1, seed), 0);
	int rc = raft_fixture_run_until(&F, 5 * T, has_stable_leader, NULL);
	ck_assert_msg(rc == 0, "no leader: %s", F.err);
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(raft_fixture_propose(&F, 0, NULL), 0);
	ck_assert_int_eq(raft_fixture_run(&F, 2), 0);
	uint64_t ci;
	ck_assert_int_eq(raft_change_membership(F.nodes[0].r, RAFT_CC_ADD_VOTER, 2, &ci), 0);
	int n2 = raft_fixture_add_node(&F);
	ck_assert_int_eq(n2, 1);
	return n2;
}

/* After the link is whole again: one leader both follow within `ticks`, and a write
 * through it commits on both. */
static void expect_recovery(int ticks)
{
	int rc = raft_fixture_run_until(&F, ticks, has_stable_leader, NULL);
	if (rc != 0)
		raft_fixture_dump(&F, stderr);
	ck_assert_msg(rc == 0, "no leader within %d ticks of the heal (%d) %s", ticks, rc,
		      F.err);
	int l = raft_fixture_stable_leader(&F);
	uint64_t idx = 0;
	ck_assert_int_eq(raft_fixture_propose(&F, (size_t)l, &idx), 0);
	for (size_t i = 0; i < 2; i++) {
		struct applied_arg a = { i, idx };
		rc = raft_fixture_run_until(&F, 3 * T, node_applied, &a);
		ck_assert_msg(rc == 0, "node %zu did not apply %llu: %s", i + 1,
			      (unsigned long long)idx, F.err);
	}
}

/* The lab's case: the leader reaches the joiner (which therefore follows it) but the
 * joiner's answers are refused for a while (its cluster id was not known yet). */
START_TEST(joiner_answers_refused_then_accepted)
{
	for (uint64_t seed = 1; seed <= 50; seed++) {
		int n2 = one_member_then_add(seed);
		F.cut[n2][0] = true; /* joiner -> leader only */
		ck_assert_int_eq(raft_fixture_run(&F, 4 * T), 0);
		/* Two voters, one silent: the leader stepped down (etcd's checkQuorum). */
		ck_assert_int_ne(raft_role(F.nodes[0].r), RAFT_LEADER);
		raft_fixture_heal(&F);
		expect_recovery(4 * T);
		raft_fixture_close(&F);
	}
}
END_TEST

/* The joiner starts late: nothing passes either way until then. */
START_TEST(joiner_starts_late)
{
	for (uint64_t seed = 1; seed <= 50; seed++) {
		int n2 = one_member_then_add(seed);
		raft_fixture_isolate(&F, (size_t)n2, true);
		ck_assert_int_eq(raft_fixture_run(&F, 4 * T), 0);
		ck_assert_int_ne(raft_role(F.nodes[0].r), RAFT_LEADER);
		raft_fixture_heal(&F);
		expect_recovery(4 * T);
		raft_fixture_close(&F);
	}
}
END_TEST

/* The joiner's lease. Before it started, the leader's transport queued heartbeats for it;
 * they arrive late, after the leader stepped down, and each one told the joiner "your
 * leader is alive", so it ignored that same member's pre-votes for a new term (the leader
 * lease, etcd's "lease is not expired") for as long as stale messages trickled in, and,
 * not being a voter yet, never campaigned itself (the lab's 110 s). A vote request from
 * the very member we follow proves it no longer leads: the lease must not block it. */
START_TEST(stale_heartbeats_do_not_hold_the_election)
{
	int stalls = 0;
	for (uint64_t seed = 1; seed <= 50; seed++) {
		int n2 = one_member_then_add(seed);
		F.cut[n2][0] = true;
		/* Everything the leader sends now arrives 5 to 9 election timeouts later. */
		F.min_delay = 5 * T * F.slots_per_tick;
		F.max_delay = 9 * T * F.slots_per_tick;
		ck_assert_int_eq(raft_fixture_run(&F, 3 * T), 0);
		ck_assert_int_ne(raft_role(F.nodes[0].r), RAFT_LEADER);
		F.min_delay = F.max_delay = 1;
		ck_assert_int_eq(raft_fixture_run(&F, 3 * T), 0); /* stale ones arriving now */
		raft_fixture_heal(&F);
		if (raft_fixture_run_until(&F, 3 * T, has_stable_leader, NULL) != 0)
			stalls++;
		else
			expect_recovery(T);
		raft_fixture_close(&F);
	}
	ck_assert_msg(stalls == 0, "%d of 50 seeds elected no leader within 3 election "
		      "timeouts of the heal", stalls);
}
END_TEST

/* A joiner that can answer from the start never costs the leader its quorum. */
START_TEST(prompt_joiner_keeps_the_leader)
{
	for (uint64_t seed = 1; seed <= 50; seed++) {
		one_member_then_add(seed);
		uint64_t term = raft_term(F.nodes[0].r);
		ck_assert_int_eq(raft_fixture_run(&F, 6 * T), 0);
		ck_assert_int_eq(raft_role(F.nodes[0].r), RAFT_LEADER);
		ck_assert_uint_eq(raft_term(F.nodes[0].r), term);
		expect_recovery(T);
		raft_fixture_close(&F);
	}
}
END_TEST

/* Every seed steps a leader down on purpose: keep its warnings out of the output. */
static void quiet(void)
{
	kc_log_set_min_severity(KC_LOG_ERROR);
}

static Suite *raft_join_suite(void)
{
	Suite *s = suite_create("raft_join");
	TCase *tc = tcase_create("join");
	tcase_set_timeout(tc, 60);
	tcase_add_checked_fixture(tc, quiet, NULL);
	tcase_add_test(tc, joiner_answers_refused_then_accepted);
	tcase_add_test(tc, joiner_starts_late);
	tcase_add_test(tc, prompt_joiner_keeps_the_leader);
	tcase_add_test(tc, stale_heartbeats_do_not_hold_the_election);
	suite_add_tcase(s, tc);
	return s;
}

KC_TEST_MAIN(raft_join_suite)
