/* sched_schedule_pod end to end over in-memory nodes: the FailedScheduling message
 * (upstream FitError.Error() plus the preemption part), scoring plugins, adaptive
 * percentageOfNodesToScore and the random tie-break. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "clock.h"
#include "json.h"
#include "fixtures.h"
#include "kc_test.h"
#include "../../scheduler/framework.h"

static sched_node_info *node(const char *name, const char *cpu, const char *mem,
			     const char *extra_spec)
{
	char buf[1024];
	snprintf(buf, sizeof(buf),
		 "{\"metadata\":{\"name\":\"%s\",\"labels\":{\"kubernetes.io/hostname\":\"%s\"}},"
		 "\"spec\":{%s},\"status\":{\"allocatable\":{\"cpu\":\"%s\",\"memory\":\"%s\","
		 "\"pods\":\"110\"}}}",
		 name, name, extra_spec ? extra_spec : "", cpu, mem);
	return fx_sched_node(buf);
}

static sched_pod *pod(const char *name, int prio, const char *cpu, const char *mem,
		      const char *extra_spec)
{
	char buf[1024];
	snprintf(buf, sizeof(buf),
		 "{\"metadata\":{\"name\":\"%s\",\"namespace\":\"default\"},\"spec\":{"
		 "\"priority\":%d,\"containers\":[{\"name\":\"c\",\"image\":\"nginx\","
		 "\"resources\":{\"requests\":{\"cpu\":\"%s\",\"memory\":\"%s\"}}}]%s%s}}",
		 name, prio, cpu, mem, extra_spec ? "," : "", extra_spec ? extra_spec : "");
	return fx_sched_pod(buf);
}

typedef struct fixture {
	kc_fake_clock fc;
	sched_state st;
	sched_profile prof;
	sched_node_info *nodes[8];
	int n;
	sched_pod *pods[8];
	int np;
} fixture;

static void fx_init(fixture *f)
{
	memset(f, 0, sizeof(*f));
	kc_fake_clock_init(&f->fc, 0, 1);
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

#define CP_TAINT "\"taints\":[{\"key\":\"node-role.kubernetes.io/control-plane\"," \
		 "\"effect\":\"NoSchedule\"}]"

START_TEST(message_taint_and_memory)
{
	fixture f;
	fx_init(&f);
	f.nodes[f.n++] = node("cp", "4", "8Gi", CP_TAINT);
	f.nodes[f.n++] = node("n1", "4", "1Gi", NULL);
	f.nodes[f.n++] = node("n2", "4", "1Gi", NULL);
	sched_pod *p = pod("web-1", 0, "100m", "2Gi", NULL);
	sched_result res;
	ck_assert_int_eq(sched_schedule_pod(&f.st, &f.prof, p, f.nodes, f.n, &res), 1);
	ck_assert_int_eq(res.node_index, -1);
	/* Insufficient memory beyond allocatable cannot be fixed by preemption either; the
	 * doubled period is upstream's: the inner FitError ends in "." and the outer one
	 * appends another. */
	ck_assert_str_eq(res.message,
			 "0/3 nodes are available: 1 node(s) had untolerated taint "
			 "{node-role.kubernetes.io/control-plane: }, 2 Insufficient memory. "
			 "preemption: 0/3 nodes are available: 3 Preemption is not helpful for "
			 "scheduling..");
	sched_pod_free(p);
	fx_close(&f);
}
END_TEST

START_TEST(message_no_victims_and_victims_too_small)
{
	fixture f;
	fx_init(&f);
	f.nodes[f.n++] = node("n1", "2", "4Gi", NULL);
	f.nodes[f.n++] = node("n2", "2", "4Gi", NULL);
	/* n1 is full of equal-priority pods: no victims */
	fx_bind(&f, 0, pod("a", 10, "1500m", "1Gi", NULL));
	/* n2 has a low-priority pod, but evicting it is not enough (1.5 + 0.5 needed beyond)
	 * because a high-priority pod holds 1 cpu */
	fx_bind(&f, 1, pod("b", 0, "200m", "1Gi", NULL));
	fx_bind(&f, 1, pod("c", 100, "1500m", "1Gi", NULL));
	sched_pod *p = pod("web-1", 10, "1", "1Gi", NULL);
	sched_result res;
	ck_assert_int_eq(sched_schedule_pod(&f.st, &f.prof, p, f.nodes, f.n, &res), 1);
	ck_assert_str_eq(res.message,
			 "0/2 nodes are available: 2 Insufficient cpu. preemption: 0/2 nodes are "
			 "available: 1 Insufficient cpu, 1 No preemption victims found for "
			 "incoming pod..");
	sched_pod_free(p);
	fx_close(&f);
}
END_TEST

START_TEST(message_when_preemption_nominates_is_upstreams)
{
	fixture f;
	fx_init(&f);
	f.nodes[f.n++] = node("n1", "2", "4Gi", NULL);
	fx_bind(&f, 0, pod("low", 0, "1500m", "1Gi", NULL));
	sched_pod *p = pod("urgent", 100, "1", "1Gi", NULL);
	sched_result res;
	ck_assert_int_eq(sched_schedule_pod(&f.st, &f.prof, p, f.nodes, f.n, &res), 1);
	/* DefaultPreemption succeeded: its status has no message, so the FitError is the
	 * filter histogram alone (upstream), and "low" is the victim on n1 */
	ck_assert_str_eq(res.message, "0/1 nodes are available: 1 Insufficient cpu.");
	ck_assert_str_eq(res.plugins, "NodeResourcesFit");
	ck_assert_str_eq(res.nominated_node, "n1");
	ck_assert_int_eq(res.nvictims, 1);
	ck_assert_str_eq(res.victims[0]->key, "default/low");
	sched_pod_free(p);
	fx_close(&f);
}
END_TEST

START_TEST(message_preemption_policy_never)
{
	fixture f;
	fx_init(&f);
	f.nodes[f.n++] = node("n1", "1", "1Gi", "\"unschedulable\":true");
	sched_pod *p = pod("web-1", 0, "100m", "1Mi", "\"preemptionPolicy\":\"Never\"");
	sched_result res;
	ck_assert_int_eq(sched_schedule_pod(&f.st, &f.prof, p, f.nodes, f.n, &res), 1);
	ck_assert_str_eq(res.message, "0/1 nodes are available: 1 node(s) were unschedulable. "
				      "preemption: not eligible due to preemptionPolicy=Never..");
	sched_pod_free(p);
	fx_close(&f);
}
END_TEST

START_TEST(message_histogram_sorted_as_strings)
{
	sched_status st[4];
	memset(st, 0, sizeof(st));
	sched_status_set(&st[0], SCHED_UNSCHEDULABLE, "Insufficient cpu");
	sched_status_add_reason(&st[0], "Insufficient memory");
	sched_status_set(&st[1], SCHED_UNSCHEDULABLE, "Insufficient cpu");
	sched_status_set(&st[2], SCHED_UNSCHEDULABLE_UNRESOLVABLE, "node(s) were unschedulable");
	st[3].code = SCHED_SUCCESS;
	char buf[512];
	sched_fit_error_message(buf, sizeof(buf), 12, st, 4, NULL, NULL);
	/* "1 ..." sorts before "2 ...": Go's sort.Strings on "<count> <reason>" */
	ck_assert_str_eq(buf, "0/12 nodes are available: 1 Insufficient memory, 1 node(s) were "
			      "unschedulable, 2 Insufficient cpu.");
	sched_fit_error_message(buf, sizeof(buf), 3, st, 4, "pod has unbound claims", NULL);
	ck_assert_str_eq(buf, "0/3 nodes are available: pod has unbound claims.");
	/* truncation keeps a NUL and reports the full length */
	char small[10];
	size_t need = sched_fit_error_message(small, sizeof(small), 3, st, 4, NULL, NULL);
	ck_assert_uint_gt(need, sizeof(small));
	ck_assert_uint_eq(strlen(small), sizeof(small) - 1);
}
END_TEST

START_TEST(least_allocated_picks_emptier_node)
{
	fixture f;
	fx_init(&f);
	f.nodes[f.n++] = node("busy", "4", "8Gi", NULL);
	f.nodes[f.n++] = node("idle", "4", "8Gi", NULL);
	fx_bind(&f, 0, pod("a", 0, "3", "6Gi", NULL));
	sched_pod *p = pod("web-1", 0, "500m", "512Mi", NULL);
	sched_result res;
	for (int i = 0; i < 5; i++) {
		ck_assert_int_eq(sched_schedule_pod(&f.st, &f.prof, p, f.nodes, f.n, &res), 0);
		ck_assert_str_eq(res.node_name, "idle");
	}
	sched_pod_free(p);
	fx_close(&f);
}
END_TEST

START_TEST(prefer_no_schedule_and_preferred_affinity)
{
	fixture f;
	fx_init(&f);
	f.nodes[f.n++] = node("tainted", "4", "8Gi",
			      "\"taints\":[{\"key\":\"k\",\"effect\":\"PreferNoSchedule\"}]");
	f.nodes[f.n++] = node("plain", "4", "8Gi", NULL);
	sched_pod *p = pod("web-1", 0, "100m", "100Mi", NULL);
	sched_result res;
	for (int i = 0; i < 5; i++) {
		ck_assert_int_eq(sched_schedule_pod(&f.st, &f.prof, p, f.nodes, f.n, &res), 0);
		ck_assert_str_eq(res.node_name, "plain");
	}
	sched_pod_free(p);
	/* once the pod tolerates the taint, preferred node affinity decides */
	p = pod("web-2", 0, "100m", "100Mi",
		"\"tolerations\":[{\"key\":\"k\",\"operator\":\"Exists\"}],\"affinity\":{"
		"\"nodeAffinity\":{\"preferredDuringSchedulingIgnoredDuringExecution\":[{"
		"\"weight\":10,\"preference\":{\"matchFields\":[{\"key\":\"metadata.name\","
		"\"operator\":\"In\",\"values\":[\"tainted\"]}]}}]}}");
	for (int i = 0; i < 5; i++) {
		ck_assert_int_eq(sched_schedule_pod(&f.st, &f.prof, p, f.nodes, f.n, &res), 0);
		ck_assert_str_eq(res.node_name, "tainted");
	}
	sched_pod_free(p);
	fx_close(&f);
}
END_TEST

START_TEST(image_locality_prefers_node_with_image)
{
	fixture f;
	fx_init(&f);
	f.nodes[f.n++] = node("cold", "4", "8Gi", NULL);
	f.nodes[f.n++] = fx_sched_node("{\"metadata\":{\"name\":\"warm\"},\"status\":{\"allocatable\":{"
				"\"cpu\":\"4\",\"memory\":\"8Gi\",\"pods\":\"110\"},\"images\":[{"
				"\"names\":[\"docker.io/library/nginx:latest\",\"nginx:latest\"],"
				"\"sizeBytes\":524288000}]}}");
	f.nodes[f.n++] = node("cold2", "4", "8Gi", NULL);
	sched_pod *p = pod("web-1", 0, "100m", "100Mi", NULL);
	sched_result res;
	for (int i = 0; i < 5; i++) {
		ck_assert_int_eq(sched_schedule_pod(&f.st, &f.prof, p, f.nodes, f.n, &res), 0);
		ck_assert_str_eq(res.node_name, "warm");
	}
	/* ImageLocality alone: 500Mi * 1/3 spread = 166Mi -> (166-23)*100/(1000-23) = 14 */
	sched_profile only;
	memset(&only, 0, sizeof(only));
	only.scores[0] = &sched_plugin_image_locality;
	only.weights[only.nscores++] = 1;
	sched_cycle cy;
	memset(&cy, 0, sizeof(cy));
	cy.profile = &only;
	cy.pod = p;
	cy.nodes = f.nodes;
	cy.nnodes = cy.total_nodes = f.n;
	ck_assert_int_eq(sched_plugin_image_locality.pre_score(&cy, f.nodes, f.n,
							      &cy.score_state[0]), 0);
	ck_assert_int_eq(sched_plugin_image_locality.score(&cy, cy.score_state[0], f.nodes[1]), 14);
	ck_assert_int_eq(sched_plugin_image_locality.score(&cy, cy.score_state[0], f.nodes[0]), 0);
	sched_cycle_close(&cy);
	sched_pod_free(p);
	fx_close(&f);
}
END_TEST

/* NodeResourcesFit scores the same through PreScore's state (resource names resolved
 * once per cycle) as without it, for every kind of configured resource, and counts the
 * node's existing pods. */
START_TEST(fit_score_prescore_state)
{
	fixture f;
	fx_init(&f);
	f.nodes[f.n++] = fx_sched_node("{\"metadata\":{\"name\":\"n\"},\"status\":{\"allocatable\":{"
				"\"cpu\":\"4\",\"memory\":\"4Gi\",\"pods\":\"110\","
				"\"ephemeral-storage\":\"8Gi\",\"example.com/gpu\":\"4\"}}}");
	sched_pod *old = fx_sched_pod("{\"metadata\":{\"name\":\"o\",\"namespace\":\"d\"},\"spec\":{"
			       "\"containers\":[{\"name\":\"c\",\"resources\":{\"requests\":{"
			       "\"cpu\":\"1\",\"memory\":\"1Gi\",\"example.com/gpu\":\"1\"}}}]}}");
	ck_assert_int_eq(sched_node_info_add_pod(f.nodes[0], old), 0);
	sched_pod *p = fx_sched_pod("{\"metadata\":{\"name\":\"g\",\"namespace\":\"d\"},\"spec\":{"
			     "\"containers\":[{\"name\":\"c\",\"resources\":{\"requests\":{"
			     "\"cpu\":\"1\",\"memory\":\"1Gi\",\"ephemeral-storage\":\"2Gi\","
			     "\"example.com/gpu\":\"1\"}}}]}}");
	sched_cycle cy;
	memset(&cy, 0, sizeof(cy));
	cy.pod = p;
	cy.profile = &f.prof;
	sched_fit_args *a = &f.prof.fit;
	const sched_plugin *fit = &sched_plugin_node_resources_fit;
	a->strategy = SCHED_FIT_MOST_ALLOCATED;
	a->nresources = 5;
	const char *names[] = { "cpu", "memory", "ephemeral-storage", "example.com/gpu",
				"example.com/fpga" };
	for (int i = 0; i < 5; i++) {
		snprintf(a->resources[i].name, sizeof(a->resources[i].name), "%s", names[i]);
		a->resources[i].weight = 1;
	}
	/* cpu 2/4 = 50, memory 2/4 = 50, ephemeral 2/8 = 25, gpu 2/4 = 50; fpga is not
	 * requested by the pod so it is not averaged: 175 / 4 = 43 */
	void *st = NULL;
	ck_assert_int_eq(fit->pre_score(&cy, f.nodes, 1, &st), 0);
	ck_assert_ptr_nonnull(st);
	ck_assert_int_eq(fit->score(&cy, st, f.nodes[0]), 43);
	ck_assert_int_eq(fit->score(&cy, NULL, f.nodes[0]), 43);
	fit->free_state(st);
	/* LeastAllocated: 50 + 50 + 75 + 50 = 225 / 4 = 56 */
	a->strategy = SCHED_FIT_LEAST_ALLOCATED;
	ck_assert_int_eq(fit->pre_score(&cy, f.nodes, 1, &st), 0);
	ck_assert_int_eq(fit->score(&cy, st, f.nodes[0]), 56);
	ck_assert_int_eq(fit->score(&cy, NULL, f.nodes[0]), 56);
	fit->free_state(st);
	sched_pod_free(p);
	sched_pod_free(old);
	fx_close(&f);
}
END_TEST

START_TEST(balanced_allocation_scores)
{
	fixture f;
	fx_init(&f);
	f.nodes[f.n++] = node("n", "4", "4Gi", NULL);
	/* cpu 2/4 = 0.5, memory 1/4 = 0.25: (1 - 0.125) * 100 = 87 */
	sched_pod *p = pod("web-1", 0, "2", "1Gi", NULL);
	sched_cycle cy;
	memset(&cy, 0, sizeof(cy));
	cy.pod = p;
	cy.profile = &f.prof;
	ck_assert_int_eq(sched_plugin_balanced_allocation.score(&cy, NULL, f.nodes[0]), 87);
	/* LeastAllocated: cpu (4-2)/4 = 50, memory (4-1)/4 = 75 -> 62 */
	ck_assert_int_eq(sched_plugin_node_resources_fit.score(&cy, NULL, f.nodes[0]), 62);
	sched_pod_free(p);
	fx_close(&f);
}
END_TEST

START_TEST(fit_scoring_strategies)
{
	fixture f;
	fx_init(&f);
	f.nodes[f.n++] = fx_sched_node("{\"metadata\":{\"name\":\"n\"},\"status\":{\"allocatable\":{"
				"\"cpu\":\"4\",\"memory\":\"4Gi\",\"pods\":\"110\","
				"\"example.com/gpu\":\"4\"}}}");
	sched_pod *p = pod("web-1", 0, "2", "1Gi", NULL);
	sched_cycle cy;
	memset(&cy, 0, sizeof(cy));
	cy.pod = p;
	cy.profile = &f.prof;
	sched_fit_args *a = &f.prof.fit;
	const sched_plugin *fit = &sched_plugin_node_resources_fit;
	/* cpu 2/4, memory 1/4 */
	ck_assert_int_eq(fit->score(&cy, NULL, f.nodes[0]), 62); /* (50 + 75) / 2 */
	a->strategy = SCHED_FIT_MOST_ALLOCATED;
	ck_assert_int_eq(fit->score(&cy, NULL, f.nodes[0]), 37); /* (50 + 25) / 2 */
	a->resources[0].weight = 3;
	ck_assert_int_eq(fit->score(&cy, NULL, f.nodes[0]), 43); /* (150 + 25) / 4 */
	a->resources[0].weight = 1;
	a->strategy = SCHED_FIT_REQUESTED_TO_CAPACITY_RATIO;
	a->nshape = 2;
	a->shape[0].utilization = 0;
	a->shape[0].score = 0;
	a->shape[1].utilization = 100;
	a->shape[1].score = 10;
	ck_assert_int_eq(fit->score(&cy, NULL, f.nodes[0]), 38); /* round((50 + 25) / 2) */
	a->shape[0].score = 10; /* reversed shape: favour empty nodes */
	a->shape[1].score = 0;
	ck_assert_int_eq(fit->score(&cy, NULL, f.nodes[0]), 63); /* round((50 + 75) / 2) */
	/* an extended resource counts only when the pod asks for it */
	a->strategy = SCHED_FIT_MOST_ALLOCATED;
	a->nresources = 1;
	snprintf(a->resources[0].name, sizeof(a->resources[0].name), "example.com/gpu");
	ck_assert_int_eq(fit->score(&cy, NULL, f.nodes[0]), 0);
	sched_pod_free(p);
	p = fx_sched_pod("{\"metadata\":{\"name\":\"g\",\"namespace\":\"d\"},\"spec\":{\"containers\":[{"
		  "\"name\":\"c\",\"resources\":{\"requests\":{\"example.com/gpu\":\"1\"}}}]}}");
	cy.pod = p;
	ck_assert_int_eq(fit->score(&cy, NULL, f.nodes[0]), 25);
	sched_pod_free(p);
	fx_close(&f);
}
END_TEST

START_TEST(most_allocated_packs)
{
	fixture f;
	fx_init(&f);
	f.nodes[f.n++] = node("busy", "4", "8Gi", NULL);
	f.nodes[f.n++] = node("idle", "4", "8Gi", NULL);
	fx_bind(&f, 0, pod("a", 0, "2", "4Gi", NULL));
	f.prof.fit.strategy = SCHED_FIT_MOST_ALLOCATED;
	sched_pod *p = pod("web-1", 0, "500m", "512Mi", NULL);
	sched_result res;
	for (int i = 0; i < 5; i++) {
		ck_assert_int_eq(sched_schedule_pod(&f.st, &f.prof, p, f.nodes, f.n, &res), 0);
		ck_assert_str_eq(res.node_name, "busy");
	}
	sched_pod_free(p);
	fx_close(&f);
}
END_TEST

START_TEST(tie_break_is_random_but_seeded)
{
	fixture f;
	fx_init(&f);
	f.nodes[f.n++] = node("a", "4", "8Gi", NULL);
	f.nodes[f.n++] = node("b", "4", "8Gi", NULL);
	f.nodes[f.n++] = node("c", "4", "8Gi", NULL);
	sched_pod *p = pod("web-1", 0, "100m", "100Mi", NULL);
	int hits[3] = { 0, 0, 0 };
	sched_result res;
	for (int i = 0; i < 300; i++) {
		ck_assert_int_eq(sched_schedule_pod(&f.st, &f.prof, p, f.nodes, f.n, &res), 0);
		hits[res.node_index]++;
	}
	for (int i = 0; i < 3; i++)
		ck_assert_int_gt(hits[i], 50);
	sched_pod_free(p);
	fx_close(&f);
}
END_TEST

/* Filters that cannot reject any node for this pod are not run (upstream's PreFilter
 * Skip), and only then: a node selector and a host port still decide. */
static bool skipped(const sched_cycle *cy, const char *plugin)
{
	for (int i = 0; i < cy->profile->nfilters; i++)
		if (!strcmp(cy->profile->filters[i]->name, plugin))
			return cy->filter_skip[i];
	ck_abort_msg("no filter %s", plugin);
	return false;
}

START_TEST(filters_skipped_only_when_they_cannot_reject)
{
	fixture f;
	fx_init(&f);
	f.nodes[f.n++] = node("a", "4", "8Gi", NULL);
	f.nodes[f.n++] = node("b", "4", "8Gi", NULL);
	sched_pod *plain = pod("plain", 0, "100m", "100Mi", NULL);
	sched_cycle cy;
	memset(&cy, 0, sizeof(cy));
	cy.profile = &f.prof;
	cy.pod = plain;
	cy.nodes = f.nodes;
	cy.nnodes = cy.total_nodes = f.n;
	sched_status pst;
	ck_assert_int_eq(sched_cycle_prefilter(&cy, &pst), 0);
	ck_assert(skipped(&cy, "NodeName"));
	ck_assert(skipped(&cy, "NodePorts"));
	ck_assert(skipped(&cy, "NodeAffinity"));
	ck_assert(skipped(&cy, "PodTopologySpread"));
	ck_assert(skipped(&cy, "InterPodAffinity"));
	ck_assert(!skipped(&cy, "NodeResourcesFit"));
	ck_assert(!skipped(&cy, "TaintToleration"));
	ck_assert(!skipped(&cy, "NodeUnschedulable"));
	sched_cycle_close(&cy);
	sched_pod_free(plain);

	/* a node selector for b although a is far emptier: only b, every time */
	sched_node_info_free(f.nodes[0]);
	f.nodes[0] = node("a", "64", "256Gi", NULL);
	sched_pod *sel = pod("sel", 0, "100m", "100Mi",
			     "\"nodeSelector\":{\"kubernetes.io/hostname\":\"b\"}");
	sched_result res;
	for (int i = 0; i < 4; i++) {
		ck_assert_int_eq(sched_schedule_pod(&f.st, &f.prof, sel, f.nodes, f.n, &res), 0);
		ck_assert_str_eq(res.node_name, "b");
	}
	sched_pod_free(sel);

	/* hostPort 8080 taken on b, now far emptier than a: only a */
	sched_node_info_free(f.nodes[0]);
	f.nodes[0] = node("a", "4", "8Gi", NULL);
	sched_node_info_free(f.nodes[1]);
	f.nodes[1] = node("b", "64", "256Gi", NULL);
	const char *hp = "{\"metadata\":{\"name\":\"%s\",\"namespace\":\"default\"},"
			 "\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"nginx\","
			 "\"ports\":[{\"containerPort\":80,\"hostPort\":8080}]}]}}";
	char buf[512];
	snprintf(buf, sizeof(buf), hp, "holder");
	fx_bind(&f, 1, fx_sched_pod(buf));
	snprintf(buf, sizeof(buf), hp, "wants");
	sched_pod *wants = fx_sched_pod(buf);
	for (int i = 0; i < 4; i++) {
		ck_assert_int_eq(sched_schedule_pod(&f.st, &f.prof, wants, f.nodes, f.n, &res), 0);
		ck_assert_str_eq(res.node_name, "a");
	}
	sched_pod_free(wants);
	fx_close(&f);
}
END_TEST

START_TEST(num_feasible_nodes_adaptive)
{
	ck_assert_int_eq(sched_num_feasible_nodes_to_find(0, 50), 50);
	ck_assert_int_eq(sched_num_feasible_nodes_to_find(0, 100), 100);
	ck_assert_int_eq(sched_num_feasible_nodes_to_find(0, 1000), 420);
	ck_assert_int_eq(sched_num_feasible_nodes_to_find(0, 5000), 500);
	ck_assert_int_eq(sched_num_feasible_nodes_to_find(0, 6000), 300);
	ck_assert_int_eq(sched_num_feasible_nodes_to_find(30, 1000), 300);
	ck_assert_int_eq(sched_num_feasible_nodes_to_find(5, 1000), 100);
	ck_assert_int_eq(sched_num_feasible_nodes_to_find(100, 1000), 1000);
}
END_TEST

START_TEST(round_robin_start_advances)
{
	fixture f;
	fx_init(&f);
	/* 200 nodes, 10% to score -> stop after 100 feasible, next start moves by 100 */
	static sched_node_info *many[200];
	for (int i = 0; i < 200; i++) {
		char name[16];
		snprintf(name, sizeof(name), "n%03d", i);
		many[i] = node(name, "4", "8Gi", NULL);
	}
	f.prof.percentage_of_nodes_to_score = 10;
	sched_pod *p = pod("web-1", 0, "100m", "100Mi", NULL);
	sched_result res;
	ck_assert_int_eq(sched_schedule_pod(&f.st, &f.prof, p, many, 200, &res), 0);
	ck_assert_int_eq(res.evaluated_nodes, 100);
	ck_assert_int_eq(f.st.next_start_node_index, 100);
	ck_assert_int_ge(res.node_index, 0);
	ck_assert_int_lt(res.node_index, 100);
	ck_assert_int_eq(sched_schedule_pod(&f.st, &f.prof, p, many, 200, &res), 0);
	ck_assert_int_eq(f.st.next_start_node_index, 0);
	ck_assert_int_ge(res.node_index, 100);
	sched_pod_free(p);
	for (int i = 0; i < 200; i++)
		sched_node_info_free(many[i]);
	fx_close(&f);
}
END_TEST

START_TEST(profile_enable_disable)
{
	sched_profile p;
	sched_profile_default(&p);
	ck_assert_int_eq(p.nfilters, 8);
	ck_assert_int_eq(p.nscores, 7);
	ck_assert_int_eq(sched_profile_disable(&p, false, "TaintToleration"), 0);
	ck_assert_int_eq(p.nfilters, 7);
	ck_assert_int_eq(sched_profile_disable(&p, true, "*"), 0);
	ck_assert_int_eq(p.nscores, 0);
	ck_assert_int_eq(sched_profile_enable(&p, true, "ImageLocality", 7), 0);
	ck_assert_int_eq(p.weights[0], 7);
	ck_assert_int_eq(sched_profile_enable(&p, true, "NoSuchPlugin", 1), -ENOENT);
	ck_assert_int_eq(sched_profile_enable(&p, true, "NodeName", 1), -EINVAL);
	/* with TaintToleration disabled the control-plane node is feasible */
	fixture f;
	fx_init(&f);
	f.nodes[f.n++] = node("cp", "4", "8Gi", CP_TAINT);
	sched_pod *pd = pod("web-1", 0, "100m", "1Mi", NULL);
	sched_result res;
	ck_assert_int_eq(sched_schedule_pod(&f.st, &p, pd, f.nodes, f.n, &res), 0);
	ck_assert_int_eq(sched_schedule_pod(&f.st, &f.prof, pd, f.nodes, f.n, &res), 1);
	sched_pod_free(pd);
	fx_close(&f);
}
END_TEST

START_TEST(no_nodes)
{
	fixture f;
	fx_init(&f);
	sched_pod *p = pod("web-1", 0, "100m", "1Mi", NULL);
	sched_result res;
	ck_assert_int_eq(sched_schedule_pod(&f.st, &f.prof, p, f.nodes, 0, &res), 1);
	ck_assert_str_eq(res.message, "no nodes available to schedule pods");
	sched_pod_free(p);
	fx_close(&f);
}
END_TEST

static Suite *sched_schedule_suite(void)
{
	Suite *s = suite_create("sched_schedule");
	TCase *m = tcase_create("message");
	tcase_add_test(m, message_taint_and_memory);
	tcase_add_test(m, message_no_victims_and_victims_too_small);
	tcase_add_test(m, message_preemption_policy_never);
	tcase_add_test(m, message_when_preemption_nominates_is_upstreams);
	tcase_add_test(m, message_histogram_sorted_as_strings);
	tcase_add_test(m, no_nodes);
	suite_add_tcase(s, m);
	TCase *sc = tcase_create("score");
	tcase_add_test(sc, least_allocated_picks_emptier_node);
	tcase_add_test(sc, prefer_no_schedule_and_preferred_affinity);
	tcase_add_test(sc, image_locality_prefers_node_with_image);
	tcase_add_test(sc, balanced_allocation_scores);
	tcase_add_test(sc, fit_score_prescore_state);
	tcase_add_test(sc, tie_break_is_random_but_seeded);
	tcase_add_test(sc, fit_scoring_strategies);
	tcase_add_test(sc, most_allocated_packs);
	suite_add_tcase(s, sc);
	TCase *fw = tcase_create("framework");
	tcase_add_test(fw, num_feasible_nodes_adaptive);
	tcase_add_test(fw, round_robin_start_advances);
	tcase_add_test(fw, profile_enable_disable);
	tcase_add_test(fw, filters_skipped_only_when_they_cannot_reject);
	suite_add_tcase(s, fw);
	return s;
}

KC_TEST_MAIN(sched_schedule_suite)
