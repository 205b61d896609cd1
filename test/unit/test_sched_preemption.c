/* DefaultPreemption over in-memory nodes (upstream default_preemption_test.go shapes):
 * the minimal victim set per node, the node choice order of pickOneNodeForPreemption,
 * preemptionPolicy and terminating victims, nominated pods counted by the filters, and
 * PodDisruptionBudgets (fewest violations first; violating pods reprieved first). */
#include <stdio.h>
#include <string.h>

#include "clock.h"
#include "fixtures.h"
#include "json.h"
#include "kc_test.h"
#include "../../scheduler/framework.h"

static sched_node_info *node(const char *name, const char *cpu)
{
	char buf[512];
	snprintf(buf, sizeof(buf),
		 "{\"metadata\":{\"name\":\"%s\",\"labels\":{\"kubernetes.io/hostname\":\"%s\"}},"
		 "\"status\":{\"allocatable\":{\"cpu\":\"%s\",\"memory\":\"8Gi\","
		 "\"pods\":\"110\"}}}",
		 name, name, cpu);
	return fx_sched_node(buf);
}

/* extra_md / extra_status are raw JSON members (may be NULL) */
static sched_pod *pod_full(const char *name, int prio, const char *cpu, const char *extra_md,
			   const char *extra_spec, const char *extra_status)
{
	char buf[1024];
	snprintf(buf, sizeof(buf),
		 "{\"metadata\":{\"name\":\"%s\",\"namespace\":\"default\",\"uid\":\"u-%s\"%s%s},"
		 "\"spec\":{\"priority\":%d,\"containers\":[{\"name\":\"c\",\"image\":\"nginx\","
		 "\"resources\":{\"requests\":{\"cpu\":\"%s\"}}}]%s%s},\"status\":{%s}}",
		 name, name, extra_md ? "," : "", extra_md ? extra_md : "", prio, cpu,
		 extra_spec ? "," : "", extra_spec ? extra_spec : "",
		 extra_status ? extra_status : "");
	return fx_sched_pod(buf);
}

static sched_pod *pod(const char *name, int prio, const char *cpu)
{
	return pod_full(name, prio, cpu, NULL, NULL, NULL);
}

static sched_pod *pod_started(const char *name, int prio, const char *cpu, const char *start)
{
	char st[96];
	snprintf(st, sizeof(st), "\"startTime\":\"%s\"", start);
	return pod_full(name, prio, cpu, NULL, NULL, st);
}

typedef struct fixture {
	kc_fake_clock fc;
	sched_state st;
	sched_profile prof;
	sched_node_info *nodes[8];
	int n;
	sched_pod *pods[16];
	int np;
} fixture;

static void fx_init(fixture *f)
{
	memset(f, 0, sizeof(*f));
	/* wall clock in 2026: pods without startTime count as started now */
	kc_fake_clock_init(&f->fc, 1790000000LL * KC_NSEC_PER_SEC, 1);
	f->st.clock = &f->fc.base;
	sched_profile_default(&f->prof);
}

static void fx_close(fixture *f)
{
	for (int i = 0; i < f->n; i++)
		sched_node_info_free(f->nodes[i]);
	for (int i = 0; i < f->np; i++)
		sched_pod_free(f->pods[i]);
	sched_state_close(&f->st);
	kc_fake_clock_close(&f->fc);
}

static void fx_bind(fixture *f, int node_idx, sched_pod *p)
{
	f->pods[f->np++] = p;
	ck_assert_int_eq(sched_node_info_add_pod(f->nodes[node_idx], p), 0);
}

/* victims' names, comma separated, in the order the result lists them */
static const char *victim_names(const sched_result *res, char *buf, size_t len)
{
	buf[0] = '\0';
	for (int i = 0; i < res->nvictims; i++) {
		size_t l = strlen(buf);
		snprintf(buf + l, len - l, "%s%s", i ? "," : "", res->victims[i]->name);
	}
	return buf;
}

START_TEST(minimal_victims_reprieve_highest_priority_first)
{
	fixture f;
	fx_init(&f);
	f.nodes[f.n++] = node("n1", "4");
	fx_bind(&f, 0, pod("p1", 1, "1"));
	fx_bind(&f, 0, pod("p2", 2, "1"));
	fx_bind(&f, 0, pod("p5", 5, "1500m"));
	/* 3.5 of 4 cpu used; the preemptor needs 1.5: removing all three frees the node,
	 * then p5 (1.5) and p2 (1) are reprieved, p1 does not fit back */
	sched_pod *p = pod("high", 10, "1500m");
	sched_result res;
	char names[256];
	ck_assert_int_eq(sched_schedule_pod(&f.st, &f.prof, p, f.nodes, f.n, &res), 1);
	ck_assert_str_eq(res.nominated_node, "n1");
	ck_assert_str_eq(victim_names(&res, names, sizeof(names)), "p1");
	ck_assert_str_eq(res.message, "0/1 nodes are available: 1 Insufficient cpu.");
	sched_pod_free(p);
	fx_close(&f);
}
END_TEST

START_TEST(equal_or_higher_priority_pods_are_never_victims)
{
	fixture f;
	fx_init(&f);
	f.nodes[f.n++] = node("n1", "2");
	fx_bind(&f, 0, pod("same", 10, "1"));
	fx_bind(&f, 0, pod("low", 0, "500m"));
	/* 1.5 needed; evicting "low" frees only 1 cpu, "same" is not a victim */
	sched_pod *p = pod("high", 10, "1500m");
	sched_result res;
	ck_assert_int_eq(sched_schedule_pod(&f.st, &f.prof, p, f.nodes, f.n, &res), 1);
	ck_assert_str_eq(res.nominated_node, "");
	ck_assert_int_eq(res.nvictims, 0);
	ck_assert_str_eq(res.message, "0/1 nodes are available: 1 Insufficient cpu. preemption: "
				      "0/1 nodes are available: 1 Insufficient cpu..");
	sched_pod_free(p);
	fx_close(&f);
}
END_TEST

START_TEST(node_with_lowest_highest_victim_priority_wins)
{
	fixture f;
	fx_init(&f);
	f.nodes[f.n++] = node("n1", "2");
	f.nodes[f.n++] = node("n2", "2");
	f.nodes[f.n++] = node("n3", "2");
	fx_bind(&f, 0, pod("a5", 5, "2"));
	fx_bind(&f, 1, pod("b1", 1, "2"));
	fx_bind(&f, 2, pod("c3", 3, "2"));
	sched_pod *p = pod("high", 10, "1");
	sched_result res;
	char names[256];
	ck_assert_int_eq(sched_schedule_pod(&f.st, &f.prof, p, f.nodes, f.n, &res), 1);
	ck_assert_str_eq(res.nominated_node, "n2");
	ck_assert_str_eq(victim_names(&res, names, sizeof(names)), "b1");
	sched_pod_free(p);
	fx_close(&f);
}
END_TEST

START_TEST(then_smallest_priority_sum_then_fewest_victims)
{
	fixture f;
	fx_init(&f);
	f.nodes[f.n++] = node("n1", "2");
	f.nodes[f.n++] = node("n2", "2");
	f.nodes[f.n++] = node("n3", "2");
	/* every node needs both of its pods evicted except n3; highest victim is 3 on all */
	fx_bind(&f, 0, pod("a3", 3, "1"));
	fx_bind(&f, 0, pod("a2", 2, "1"));
	fx_bind(&f, 1, pod("b3", 3, "1"));
	fx_bind(&f, 1, pod("b1", 1, "1"));
	sched_pod *p = pod("high", 10, "2");
	sched_result res;
	char names[256];
	ck_assert_int_eq(sched_schedule_pod(&f.st, &f.prof, p, f.nodes, f.n, &res), 0);
	ck_assert_str_eq(res.node_name, "n3"); /* empty node: no preemption at all */
	sched_node_info_free(f.nodes[--f.n]);
	ck_assert_int_eq(sched_schedule_pod(&f.st, &f.prof, p, f.nodes, f.n, &res), 1);
	ck_assert_str_eq(res.nominated_node, "n2"); /* 3+1 < 3+2 */
	ck_assert_str_eq(victim_names(&res, names, sizeof(names)), "b3,b1");
	/* one victim of priority 3 beats two of priorities 3 and 1: upstream adds
	 * MaxInt32+1 per victim to the sum, so fewer victims make the smaller sum */
	f.nodes[f.n++] = node("n3", "2");
	fx_bind(&f, 2, pod("c3", 3, "2"));
	ck_assert_int_eq(sched_schedule_pod(&f.st, &f.prof, p, f.nodes, f.n, &res), 1);
	ck_assert_str_eq(res.nominated_node, "n3");
	ck_assert_str_eq(victim_names(&res, names, sizeof(names)), "c3");
	sched_pod_free(p);
	fx_close(&f);
}
END_TEST

START_TEST(then_latest_start_time_of_highest_priority_victims)
{
	fixture f;
	fx_init(&f);
	f.nodes[f.n++] = node("n1", "2");
	f.nodes[f.n++] = node("n2", "2");
	fx_bind(&f, 0, pod_started("old", 3, "2", "2025-01-01T00:00:00Z"));
	fx_bind(&f, 1, pod_started("new", 3, "2", "2025-06-01T00:00:00Z"));
	sched_pod *p = pod("high", 10, "1");
	sched_result res;
	ck_assert_int_eq(sched_schedule_pod(&f.st, &f.prof, p, f.nodes, f.n, &res), 1);
	/* upstream evicts the pods that started most recently (less work lost) */
	ck_assert_str_eq(res.nominated_node, "n2");
	sched_pod_free(p);
	fx_close(&f);
}
END_TEST

START_TEST(preemption_policy_never_does_not_nominate)
{
	fixture f;
	fx_init(&f);
	f.nodes[f.n++] = node("n1", "2");
	fx_bind(&f, 0, pod("low", 0, "2"));
	sched_pod *p = pod_full("high", 10, "1", NULL, "\"preemptionPolicy\":\"Never\"", NULL);
	sched_result res;
	ck_assert_int_eq(sched_schedule_pod(&f.st, &f.prof, p, f.nodes, f.n, &res), 1);
	ck_assert_str_eq(res.nominated_node, "");
	ck_assert_str_eq(res.message, "0/1 nodes are available: 1 Insufficient cpu. preemption: "
				      "not eligible due to preemptionPolicy=Never..");
	sched_pod_free(p);
	fx_close(&f);
}
END_TEST

START_TEST(terminating_victim_on_nominated_node_blocks_more_preemption)
{
	fixture f;
	fx_init(&f);
	f.nodes[f.n++] = node("n1", "2");
	f.nodes[f.n++] = node("n2", "2");
	fx_bind(&f, 0, pod_full("victim", 0, "2",
				"\"deletionTimestamp\":\"2026-01-01T00:00:00Z\"", NULL, NULL));
	fx_bind(&f, 1, pod("other", 0, "2"));
	sched_pod *p = pod_full("high", 10, "1", NULL, NULL, "\"nominatedNodeName\":\"n1\"");
	sched_result res;
	ck_assert_int_eq(sched_schedule_pod(&f.st, &f.prof, p, f.nodes, f.n, &res), 1);
	/* n2's pod must not be evicted while n1's victim is still terminating */
	ck_assert_str_eq(res.nominated_node, "");
	ck_assert_str_eq(res.message, "0/2 nodes are available: 2 Insufficient cpu. preemption: "
				      "not eligible due to a terminating pod on the nominated "
				      "node..");
	sched_pod_free(p);
	fx_close(&f);
}
END_TEST

START_TEST(nominated_pods_count_for_lower_priority_pods_only)
{
	fixture f;
	fx_init(&f);
	f.nodes[f.n++] = node("n1", "4");
	sched_pod *nom = pod("nominated", 100, "3");
	sched_nominated nn = { .pod = nom, .node = "n1" };
	f.st.nominated = &nn;
	f.st.nnominated = 1;
	/* a lower-priority pod may not take the room the nominated pod waits for */
	sched_pod *low = pod("low", 0, "2");
	sched_result res;
	ck_assert_int_eq(sched_schedule_pod(&f.st, &f.prof, low, f.nodes, f.n, &res), 1);
	ck_assert_str_eq(res.message, "0/1 nodes are available: 1 Insufficient cpu. preemption: "
				      "0/1 nodes are available: 1 No preemption victims found for "
				      "incoming pod..");
	/* a higher-priority pod ignores the nomination */
	sched_pod *top = pod("top", 1000, "2");
	ck_assert_int_eq(sched_schedule_pod(&f.st, &f.prof, top, f.nodes, f.n, &res), 0);
	ck_assert_str_eq(res.node_name, "n1");
	/* the nominated pod itself is not blocked by its own nomination */
	ck_assert_int_eq(sched_schedule_pod(&f.st, &f.prof, nom, f.nodes, f.n, &res), 0);
	sched_pod_free(top);
	sched_pod_free(low);
	sched_pod_free(nom);
	fx_close(&f);
}
END_TEST

static void pdb_make(sched_pdb *p, const char *name, int allowed, const char *disrupted)
{
	char buf[512];
	snprintf(buf, sizeof(buf),
		 "{\"metadata\":{\"name\":\"%s\",\"namespace\":\"default\"},\"spec\":{"
		 "\"selector\":{\"matchLabels\":{\"app\":\"db\"}}},\"status\":{"
		 "\"disruptionsAllowed\":%d,\"disruptedPods\":{%s}}}",
		 name, allowed, disrupted ? disrupted : "");
	cJSON *j = fx_json(buf);
	ck_assert_int_eq(sched_pdb_init(p, j), 0);
	cJSON_Delete(j);
}

#define DB_LABELS "\"labels\":{\"app\":\"db\"}"

START_TEST(pdb_violations_decide_the_node_first)
{
	fixture f;
	fx_init(&f);
	f.nodes[f.n++] = node("n1", "2");
	f.nodes[f.n++] = node("n2", "2");
	fx_bind(&f, 0, pod_full("guarded", 1, "2", DB_LABELS, NULL, NULL));
	fx_bind(&f, 1, pod("free", 5, "2"));
	sched_pod *p = pod("high", 10, "1");
	sched_result res;
	/* without a PDB the lowest-priority victim wins: n1 */
	ck_assert_int_eq(sched_schedule_pod(&f.st, &f.prof, p, f.nodes, f.n, &res), 1);
	ck_assert_str_eq(res.nominated_node, "n1");
	/* a PDB allowing no disruption protects "guarded": n2 (no violation) wins */
	sched_pdb pdb;
	pdb_make(&pdb, "db", 0, NULL);
	f.st.pdbs = &pdb;
	f.st.npdbs = 1;
	ck_assert_int_eq(sched_schedule_pod(&f.st, &f.prof, p, f.nodes, f.n, &res), 1);
	ck_assert_str_eq(res.nominated_node, "n2");
	sched_pdb_close(&pdb);
	/* one disruption allowed: evicting "guarded" violates nothing, n1 again */
	pdb_make(&pdb, "db", 1, NULL);
	ck_assert_int_eq(sched_schedule_pod(&f.st, &f.prof, p, f.nodes, f.n, &res), 1);
	ck_assert_str_eq(res.nominated_node, "n1");
	sched_pdb_close(&pdb);
	/* a pod already in status.disruptedPods is not counted again */
	pdb_make(&pdb, "db", 0, "\"guarded\":\"2026-01-01T00:00:00Z\"");
	ck_assert_int_eq(sched_schedule_pod(&f.st, &f.prof, p, f.nodes, f.n, &res), 1);
	ck_assert_str_eq(res.nominated_node, "n1");
	sched_pdb_close(&pdb);
	sched_pod_free(p);
	fx_close(&f);
}
END_TEST

START_TEST(pdb_violating_pods_are_reprieved_first)
{
	fixture f;
	fx_init(&f);
	f.nodes[f.n++] = node("n1", "2");
	fx_bind(&f, 0, pod_full("db", 1, "1", DB_LABELS, NULL, NULL));
	fx_bind(&f, 0, pod("web", 2, "1"));
	sched_pod *p = pod("high", 10, "1");
	sched_result res;
	char names[256];
	/* by importance "web" (2) is reprieved first, so "db" is the victim */
	ck_assert_int_eq(sched_schedule_pod(&f.st, &f.prof, p, f.nodes, f.n, &res), 1);
	ck_assert_str_eq(victim_names(&res, names, sizeof(names)), "db");
	/* "db" would violate its PDB: it is reprieved before the others */
	sched_pdb pdb;
	pdb_make(&pdb, "db", 0, NULL);
	f.st.pdbs = &pdb;
	f.st.npdbs = 1;
	ck_assert_int_eq(sched_schedule_pod(&f.st, &f.prof, p, f.nodes, f.n, &res), 1);
	ck_assert_str_eq(victim_names(&res, names, sizeof(names)), "web");
	sched_pdb_close(&pdb);
	sched_pod_free(p);
	fx_close(&f);
}
END_TEST

static Suite *sched_preemption_suite(void)
{
	Suite *s = suite_create("sched_preemption");
	TCase *t = tcase_create("preemption");
	tcase_add_test(t, minimal_victims_reprieve_highest_priority_first);
	tcase_add_test(t, equal_or_higher_priority_pods_are_never_victims);
	tcase_add_test(t, node_with_lowest_highest_victim_priority_wins);
	tcase_add_test(t, then_smallest_priority_sum_then_fewest_victims);
	tcase_add_test(t, then_latest_start_time_of_highest_priority_victims);
	tcase_add_test(t, preemption_policy_never_does_not_nominate);
	tcase_add_test(t, terminating_victim_on_nominated_node_blocks_more_preemption);
	tcase_add_test(t, nominated_pods_count_for_lower_priority_pods_only);
	tcase_add_test(t, pdb_violations_decide_the_node_first);
	tcase_add_test(t, pdb_violating_pods_are_reprieved_first);
	suite_add_tcase(s, t);
	return s;
}

KC_TEST_MAIN(sched_preemption_suite)
