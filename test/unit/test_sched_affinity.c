/* InterPodAffinity and PodTopologySpread filters over in-memory nodes in zones, with
 * upstream's reason strings in the FailedScheduling message. */
#include <stdio.h>
#include <string.h>

#include "clock.h"
#include "json.h"
#include "fixtures.h"
#include "kc_test.h"
#include "../../scheduler/framework.h"

static sched_pod *mkpod(const char *name, const char *labels, const char *spec_extra)
{
	char buf[2048];
	snprintf(buf, sizeof(buf),
		 "{\"metadata\":{\"name\":\"%s\",\"namespace\":\"default\",\"labels\":%s},"
		 "\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"x\"}]%s%s}}",
		 name, labels, spec_extra ? "," : "", spec_extra ? spec_extra : "");
	return fx_sched_pod(buf);
}

static sched_node_info *mknode(const char *name, const char *zone)
{
	char buf[512], zl[64] = "";
	if (zone)
		snprintf(zl, sizeof(zl), ",\"zone\":\"%s\"", zone);
	snprintf(buf, sizeof(buf),
		 "{\"metadata\":{\"name\":\"%s\",\"labels\":{\"kubernetes.io/hostname\":\"%s\"%s}},"
		 "\"status\":{\"allocatable\":{\"cpu\":\"4\",\"memory\":\"8Gi\",\"pods\":\"110\"}}}",
		 name, name, zl);
	return fx_sched_node(buf);
}

typedef struct fx {
	kc_fake_clock fc;
	sched_state st;
	sched_profile prof;
	sched_node_info *nodes[3];
	sched_pod *pods[8];
	int np;
} fx;

/* n1 in zone a, n2 in zone b, n3 without a zone label */
static void fx_init(fx *f)
{
	memset(f, 0, sizeof(*f));
	kc_fake_clock_init(&f->fc, 0, 5);
	f->st.clock = &f->fc.base;
	sched_profile_default(&f->prof);
	f->nodes[0] = mknode("n1", "a");
	f->nodes[1] = mknode("n2", "b");
	f->nodes[2] = mknode("n3", NULL);
}

static void fx_place(fx *f, int node, sched_pod *p)
{
	f->pods[f->np++] = p;
	ck_assert_int_eq(sched_node_info_add_pod(f->nodes[node], p), 0);
}

static void fx_close(fx *f)
{
	for (int i = 0; i < 3; i++)
		sched_node_info_free(f->nodes[i]);
	for (int i = 0; i < f->np; i++)
		sched_pod_free(f->pods[i]);
	sched_state_close(&f->st);
	kc_fake_clock_close(&f->fc);
}

#define WEB "{\"app\":\"web\"}"
#define SPREAD(extra) "\"topologySpreadConstraints\":[{\"maxSkew\":1,\"topologyKey\":\"zone\"," \
	"\"whenUnsatisfiable\":\"DoNotSchedule\",\"labelSelector\":{\"matchLabels\":" WEB "}" extra "}]"

START_TEST(spread_picks_the_emptier_zone)
{
	fx f;
	fx_init(&f);
	fx_place(&f, 0, mkpod("w1", WEB, NULL));
	fx_place(&f, 0, mkpod("w2", WEB, NULL));
	/* pods of other apps and other namespaces do not count */
	fx_place(&f, 1, mkpod("other", "{\"app\":\"db\"}", NULL));
	sched_pod *p = mkpod("w3", WEB, SPREAD(""));
	sched_result res;
	for (int i = 0; i < 5; i++) {
		ck_assert_int_eq(sched_schedule_pod(&f.st, &f.prof, p, f.nodes, 3, &res), 0);
		ck_assert_str_eq(res.node_name, "n2");
	}
	sched_pod_free(p);
	fx_close(&f);
}
END_TEST

START_TEST(spread_min_domains_message)
{
	fx f;
	fx_init(&f);
	fx_place(&f, 0, mkpod("w1", WEB, NULL));
	fx_place(&f, 1, mkpod("w2", WEB, NULL));
	/* only 2 zones exist but 3 are required: the global minimum counts as 0 */
	sched_pod *p = mkpod("w3", WEB, SPREAD(",\"minDomains\":3"));
	sched_result res;
	ck_assert_int_eq(sched_schedule_pod(&f.st, &f.prof, p, f.nodes, 3, &res), 1);
	ck_assert_str_eq(res.message,
			 "0/3 nodes are available: 1 node(s) didn't match pod topology spread "
			 "constraints (missing required label), 2 node(s) didn't match pod topology "
			 "spread constraints. preemption: 0/3 nodes are available: 1 Preemption is not "
			 "helpful for scheduling, 2 No preemption victims found for incoming pod..");
	sched_pod_free(p);
	/* without minDomains, zone b ties with a: skew 1 + 1 - 1 = 1 fits both */
	p = mkpod("w4", WEB, SPREAD(""));
	ck_assert_int_eq(sched_schedule_pod(&f.st, &f.prof, p, f.nodes, 3, &res), 0);
	sched_pod_free(p);
	fx_close(&f);
}
END_TEST

/* nodeAffinityPolicy Honor (the default): nodes the pod's nodeSelector excludes do not
 * count towards a domain's pods (upstream nodeInclusionPolicy); Ignore counts them. */
static sched_node_info *disk_node(const char *name, const char *zone, bool ssd)
{
	char buf[512];
	snprintf(buf, sizeof(buf),
		 "{\"metadata\":{\"name\":\"%s\",\"labels\":{\"kubernetes.io/hostname\":\"%s\","
		 "\"zone\":\"%s\"%s}},\"status\":{\"allocatable\":{\"cpu\":\"4\","
		 "\"memory\":\"8Gi\",\"pods\":\"110\"}}}",
		 name, name, zone, ssd ? ",\"disk\":\"ssd\"" : "");
	return fx_sched_node(buf);
}

START_TEST(spread_node_affinity_policy)
{
	kc_fake_clock fc;
	kc_fake_clock_init(&fc, 0, 9);
	sched_state st;
	memset(&st, 0, sizeof(st));
	st.clock = &fc.base;
	sched_profile prof;
	sched_profile_default(&prof);
	sched_node_info *nodes[3] = { disk_node("a1", "a", true), disk_node("b1", "b", false),
				      disk_node("b2", "b", true) };
	sched_pod *w1 = mkpod("w1", WEB, NULL), *w2 = mkpod("w2", WEB, NULL);
	ck_assert_int_eq(sched_node_info_add_pod(nodes[1], w1), 0);
	ck_assert_int_eq(sched_node_info_add_pod(nodes[1], w2), 0);
	sched_result res;
	/* Honor: b1 (no ssd) is not counted, zones a and b both hold 0 pods: a1 and b2 fit */
	sched_pod *p = mkpod("w3", WEB, "\"nodeSelector\":{\"disk\":\"ssd\"}," SPREAD(""));
	ck_assert_int_eq(sched_schedule_pod(&st, &prof, p, nodes, 3, &res), 0);
	ck_assert_int_eq(res.feasible_nodes, 2);
	ck_assert(!strcmp(res.node_name, "a1") || !strcmp(res.node_name, "b2"));
	sched_pod_free(p);
	/* Ignore: zone b counts b1's 2 pods, so b2 would make the skew 3: only a1 fits */
	p = mkpod("w4", WEB, "\"nodeSelector\":{\"disk\":\"ssd\"},"
		  SPREAD(",\"nodeAffinityPolicy\":\"Ignore\""));
	ck_assert_int_eq(sched_schedule_pod(&st, &prof, p, nodes, 3, &res), 0);
	ck_assert_int_eq(res.feasible_nodes, 1);
	ck_assert_str_eq(res.node_name, "a1");
	sched_pod_free(p);
	for (int i = 0; i < 3; i++)
		sched_node_info_free(nodes[i]);
	sched_pod_free(w1);
	sched_pod_free(w2);
	sched_state_close(&st);
	kc_fake_clock_close(&fc);
}
END_TEST

START_TEST(spread_schedule_anyway_does_not_filter)
{
	fx f;
	fx_init(&f);
	fx_place(&f, 0, mkpod("w1", WEB, NULL));
	fx_place(&f, 0, mkpod("w2", WEB, NULL));
	sched_pod *p = mkpod("w3", WEB,
			     "\"topologySpreadConstraints\":[{\"maxSkew\":1,\"topologyKey\":\"zone\","
			     "\"whenUnsatisfiable\":\"ScheduleAnyway\",\"labelSelector\":{}}]");
	sched_result res;
	ck_assert_int_eq(sched_schedule_pod(&f.st, &f.prof, p, f.nodes, 3, &res), 0);
	ck_assert_int_eq(res.feasible_nodes, 3);
	sched_pod_free(p);
	fx_close(&f);
}
END_TEST

START_TEST(spread_schedule_anyway_scores)
{
	fx f;
	fx_init(&f);
	fx_place(&f, 0, mkpod("w1", WEB, NULL));
	fx_place(&f, 0, mkpod("w2", WEB, NULL));
	sched_pod *p = mkpod("w3", WEB,
			     "\"topologySpreadConstraints\":[{\"maxSkew\":1,\"topologyKey\":\"zone\","
			     "\"whenUnsatisfiable\":\"ScheduleAnyway\",\"labelSelector\":{"
			     "\"matchLabels\":" WEB "}}]");
	sched_profile only;
	memset(&only, 0, sizeof(only));
	only.scores[0] = &sched_plugin_pod_topology_spread;
	only.weights[only.nscores++] = 2;
	sched_cycle cy;
	memset(&cy, 0, sizeof(cy));
	cy.profile = &only;
	cy.pod = p;
	cy.nodes = f.nodes;
	cy.nnodes = cy.total_nodes = 3;
	ck_assert_int_eq(sched_plugin_pod_topology_spread.pre_score(&cy, f.nodes, 3,
								    &cy.score_state[0]), 0);
	int64_t sc[3];
	for (int i = 0; i < 3; i++)
		sc[i] = sched_plugin_pod_topology_spread.score(&cy, cy.score_state[0], f.nodes[i]);
	/* 2 pods * log(2 domains + 2) = 2.77 -> 3; zone b 0; n3 (no zone) ignored */
	ck_assert_int_eq(sc[0], 3);
	ck_assert_int_eq(sc[1], 0);
	sched_plugin_pod_topology_spread.normalize(&cy, cy.score_state[0], sc, 3);
	ck_assert_int_eq(sc[0], 0);
	ck_assert_int_eq(sc[1], 100);
	ck_assert_int_eq(sc[2], 0);
	sched_cycle_close(&cy);
	sched_result res;
	for (int i = 0; i < 5; i++) {
		ck_assert_int_eq(sched_schedule_pod(&f.st, &f.prof, p, f.nodes, 3, &res), 0);
		ck_assert_str_eq(res.node_name, "n2");
	}
	sched_pod_free(p);
	fx_close(&f);
}
END_TEST

#define AFF(kind, sel, key) "\"affinity\":{\"" kind "\":{\"requiredDuringSchedulingIgnored" \
	"DuringExecution\":[{\"labelSelector\":{\"matchLabels\":" sel "},\"topologyKey\":\"" key "\"}]}}"

START_TEST(affinity_follows_the_matching_pod_zone)
{
	fx f;
	fx_init(&f);
	fx_place(&f, 1, mkpod("db", "{\"app\":\"db\"}", NULL));
	sched_pod *p = mkpod("web", WEB, AFF("podAffinity", "{\"app\":\"db\"}", "zone"));
	sched_result res;
	ck_assert_int_eq(sched_schedule_pod(&f.st, &f.prof, p, f.nodes, 3, &res), 0);
	ck_assert_str_eq(res.node_name, "n2");
	ck_assert_int_eq(res.feasible_nodes, 1);
	sched_pod_free(p);
	/* no db pod anywhere and the pod is not a db itself: nothing fits */
	p = mkpod("web", WEB, AFF("podAffinity", "{\"app\":\"cache\"}", "zone"));
	ck_assert_int_eq(sched_schedule_pod(&f.st, &f.prof, p, f.nodes, 3, &res), 1);
	ck_assert_str_eq(res.message, "0/3 nodes are available: 3 node(s) didn't match pod "
				      "affinity rules. preemption: 0/3 nodes are available: 3 "
				      "Preemption is not helpful for scheduling..");
	sched_pod_free(p);
	/* the first pod of a self-affine group may go anywhere with the topology key */
	p = mkpod("web", WEB, AFF("podAffinity", WEB, "zone"));
	ck_assert_int_eq(sched_schedule_pod(&f.st, &f.prof, p, f.nodes, 3, &res), 0);
	ck_assert_int_eq(res.feasible_nodes, 2);
	sched_pod_free(p);
	fx_close(&f);
}
END_TEST

START_TEST(anti_affinity_both_directions)
{
	fx f;
	fx_init(&f);
	fx_place(&f, 0, mkpod("w1", WEB, NULL));
	sched_pod *p = mkpod("w2", WEB, AFF("podAntiAffinity", WEB, "kubernetes.io/hostname"));
	sched_result res;
	for (int i = 0; i < 5; i++) {
		ck_assert_int_eq(sched_schedule_pod(&f.st, &f.prof, p, f.nodes, 3, &res), 0);
		ck_assert_str_ne(res.node_name, "n1");
	}
	sched_pod_free(p);
	/* an existing pod whose anti-affinity matches the incoming pod keeps it away */
	fx_place(&f, 1, mkpod("lonely", "{\"app\":\"lonely\"}",
			      AFF("podAntiAffinity", WEB, "zone")));
	p = mkpod("w3", WEB, AFF("podAntiAffinity", WEB, "kubernetes.io/hostname"));
	ck_assert_int_eq(sched_schedule_pod(&f.st, &f.prof, p, f.nodes, 3, &res), 0);
	ck_assert_str_eq(res.node_name, "n3");
	sched_pod_free(p);
	/* and with n3 taken by a web pod too, the message names both rules */
	fx_place(&f, 2, mkpod("w4", WEB, NULL));
	p = mkpod("w5", WEB, AFF("podAntiAffinity", WEB, "kubernetes.io/hostname"));
	ck_assert_int_eq(sched_schedule_pod(&f.st, &f.prof, p, f.nodes, 3, &res), 1);
	ck_assert_str_eq(res.message,
			 "0/3 nodes are available: 1 node(s) didn't satisfy existing pods "
			 "anti-affinity rules, 2 node(s) didn't match pod anti-affinity rules. "
			 "preemption: 0/3 nodes are available: 3 No preemption victims found for "
			 "incoming pod..");
	sched_pod_free(p);
	fx_close(&f);
}
END_TEST

#define PREF(kind, w, sel, key) "\"affinity\":{\"" kind "\":{\"preferredDuringScheduling" \
	"IgnoredDuringExecution\":[{\"weight\":" w ",\"podAffinityTerm\":{\"labelSelector\":{" \
	"\"matchLabels\":" sel "},\"topologyKey\":\"" key "\"}}]}}"

START_TEST(preferred_affinity_and_anti_affinity_score)
{
	fx f;
	fx_init(&f);
	fx_place(&f, 1, mkpod("db", "{\"app\":\"db\"}", NULL));
	sched_pod *p = mkpod("web", WEB, PREF("podAffinity", "50", "{\"app\":\"db\"}", "zone"));
	sched_result res;
	for (int i = 0; i < 5; i++) {
		ck_assert_int_eq(sched_schedule_pod(&f.st, &f.prof, p, f.nodes, 3, &res), 0);
		ck_assert_str_eq(res.node_name, "n2");
	}
	sched_pod_free(p);
	/* preferred anti-affinity to db: anywhere but n2 */
	p = mkpod("web", WEB, PREF("podAntiAffinity", "50", "{\"app\":\"db\"}",
				   "kubernetes.io/hostname"));
	for (int i = 0; i < 8; i++) {
		ck_assert_int_eq(sched_schedule_pod(&f.st, &f.prof, p, f.nodes, 3, &res), 0);
		ck_assert_str_ne(res.node_name, "n2");
	}
	sched_pod_free(p);
	fx_close(&f);
}
END_TEST

START_TEST(existing_pods_terms_attract_and_normalize)
{
	fx f;
	fx_init(&f);
	/* a cache pod on n3 requires affinity to web pods: web pods are drawn there (hard
	 * weight 1, normalised: n3 100, others 0) */
	fx_place(&f, 2, mkpod("cache", "{\"app\":\"cache\"}",
			      AFF("podAffinity", WEB, "kubernetes.io/hostname")));
	sched_pod *p = mkpod("web", WEB, NULL);
	sched_profile only;
	memset(&only, 0, sizeof(only));
	only.scores[0] = &sched_plugin_inter_pod_affinity;
	only.weights[only.nscores++] = 2;
	sched_cycle cy;
	memset(&cy, 0, sizeof(cy));
	cy.profile = &only;
	cy.pod = p;
	cy.nodes = f.nodes;
	cy.nnodes = cy.total_nodes = 3;
	ck_assert_int_eq(sched_plugin_inter_pod_affinity.pre_score(&cy, f.nodes, 3,
								   &cy.score_state[0]), 0);
	int64_t sc[3];
	for (int i = 0; i < 3; i++)
		sc[i] = sched_plugin_inter_pod_affinity.score(&cy, cy.score_state[0], f.nodes[i]);
	ck_assert_int_eq(sc[0], 0);
	ck_assert_int_eq(sc[2], 1);
	sched_plugin_inter_pod_affinity.normalize(&cy, cy.score_state[0], sc, 3);
	ck_assert_int_eq(sc[0], 0);
	ck_assert_int_eq(sc[1], 0);
	ck_assert_int_eq(sc[2], 100);
	sched_cycle_close(&cy);
	sched_result res;
	ck_assert_int_eq(sched_schedule_pod(&f.st, &f.prof, p, f.nodes, 3, &res), 0);
	ck_assert_str_eq(res.node_name, "n3");
	sched_pod_free(p);
	fx_close(&f);
}
END_TEST

static Suite *sched_affinity_suite(void)
{
	Suite *s = suite_create("sched_affinity");
	TCase *pts = tcase_create("PodTopologySpread");
	tcase_add_test(pts, spread_picks_the_emptier_zone);
	tcase_add_test(pts, spread_min_domains_message);
	tcase_add_test(pts, spread_node_affinity_policy);
	tcase_add_test(pts, spread_schedule_anyway_does_not_filter);
	tcase_add_test(pts, spread_schedule_anyway_scores);
	suite_add_tcase(s, pts);
	TCase *ipa = tcase_create("InterPodAffinity");
	tcase_add_test(ipa, affinity_follows_the_matching_pod_zone);
	tcase_add_test(ipa, anti_affinity_both_directions);
	tcase_add_test(ipa, preferred_affinity_and_anti_affinity_score);
	tcase_add_test(ipa, existing_pods_terms_attract_and_normalize);
	suite_add_tcase(s, ipa);
	return s;
}

KC_TEST_MAIN(sched_affinity_suite)
