/* KubeSchedulerConfiguration v1 parsing (profiles, plugin sets, weights, percentage,
 * leader election, client connection) and its errors. */
#include <string.h>

#include "errors.h"
#include "kc_test.h"
#include "../../scheduler/config.h"

static int parse(sched_config *c, const char *y, char *err, size_t errlen)
{
	sched_config_default(c);
	return sched_config_parse(c, y, strlen(y), err, errlen);
}

static int score_weight(const sched_profile *p, const char *name)
{
	for (int i = 0; i < p->nscores; i++)
		if (!strcmp(p->scores[i]->name, name))
			return p->weights[i];
	return -1;
}

static bool has_filter(const sched_profile *p, const char *name)
{
	for (int i = 0; i < p->nfilters; i++)
		if (!strcmp(p->filters[i]->name, name))
			return true;
	return false;
}

START_TEST(defaults)
{
	sched_config c;
	sched_config_default(&c);
	ck_assert_int_eq(c.nprofiles, 1);
	ck_assert_str_eq(c.profiles[0].scheduler_name, "default-scheduler");
	ck_assert(c.leader_elect);
	ck_assert_str_eq(c.lease_namespace, "kube-system");
	ck_assert_str_eq(c.lease_name, "kube-scheduler");
	/* upstream default weights */
	ck_assert_int_eq(score_weight(&c.profiles[0], "TaintToleration"), 3);
	ck_assert_int_eq(score_weight(&c.profiles[0], "NodeAffinity"), 2);
	ck_assert_int_eq(score_weight(&c.profiles[0], "NodeResourcesFit"), 1);
	ck_assert_int_eq(score_weight(&c.profiles[0], "NodeResourcesBalancedAllocation"), 1);
	ck_assert_int_eq(score_weight(&c.profiles[0], "ImageLocality"), 1);
	ck_assert_int_eq(score_weight(&c.profiles[0], "InterPodAffinity"), 2);
	ck_assert_int_eq(score_weight(&c.profiles[0], "PodTopologySpread"), 2);
}
END_TEST

START_TEST(full_config)
{
	const char *y = "apiVersion: kubescheduler.config.k8s.io/v1\n"
			"kind: KubeSchedulerConfiguration\n"
			"clientConnection:\n  kubeconfig: /etc/kubernetes/scheduler.conf\n"
			"leaderElection:\n  leaderElect: false\n"
			"percentageOfNodesToScore: 40\n"
			"profiles:\n"
			"- schedulerName: default-scheduler\n"
			"- schedulerName: no-scoring\n"
			"  percentageOfNodesToScore: 70\n"
			"  plugins:\n"
			"    score:\n"
			"      disabled:\n      - name: '*'\n"
			"      enabled:\n      - name: ImageLocality\n        weight: 5\n"
			"    filter:\n"
			"      disabled:\n      - name: TaintToleration\n";
	sched_config c;
	char err[512] = "";
	ck_assert_msg(parse(&c, y, err, sizeof(err)) == 0, "%s", err);
	ck_assert_str_eq(c.kubeconfig, "/etc/kubernetes/scheduler.conf");
	ck_assert(!c.leader_elect);
	ck_assert_int_eq(c.nprofiles, 2);
	ck_assert_int_eq(c.profiles[0].percentage_of_nodes_to_score, 40);
	ck_assert_int_eq(c.profiles[1].percentage_of_nodes_to_score, 70);
	ck_assert_str_eq(c.profiles[1].scheduler_name, "no-scoring");
	ck_assert_int_eq(c.profiles[1].nscores, 1);
	ck_assert_int_eq(score_weight(&c.profiles[1], "ImageLocality"), 5);
	ck_assert(!has_filter(&c.profiles[1], "TaintToleration"));
	ck_assert(has_filter(&c.profiles[0], "TaintToleration"));
	ck_assert(has_filter(&c.profiles[1], "NodeResourcesFit"));
}
END_TEST

START_TEST(multipoint_disable)
{
	const char *y = "apiVersion: kubescheduler.config.k8s.io/v1\n"
			"kind: KubeSchedulerConfiguration\n"
			"profiles:\n- plugins:\n    multiPoint:\n      disabled:\n"
			"      - name: NodeResourcesFit\n";
	sched_config c;
	char err[512] = "";
	ck_assert_msg(parse(&c, y, err, sizeof(err)) == 0, "%s", err);
	ck_assert(!has_filter(&c.profiles[0], "NodeResourcesFit"));
	ck_assert_int_eq(score_weight(&c.profiles[0], "NodeResourcesFit"), -1);
	ck_assert_str_eq(c.profiles[0].scheduler_name, "default-scheduler");
}
END_TEST

START_TEST(fit_plugin_config)
{
	const char *y = "apiVersion: kubescheduler.config.k8s.io/v1\n"
			"kind: KubeSchedulerConfiguration\n"
			"profiles:\n- schedulerName: packer\n  pluginConfig:\n"
			"  - name: NodeResourcesFit\n    args:\n      scoringStrategy:\n"
			"        type: RequestedToCapacityRatio\n"
			"        resources:\n        - {name: cpu, weight: 2}\n"
			"        - {name: example.com/gpu, weight: 5}\n"
			"        requestedToCapacityRatio:\n          shape:\n"
			"          - {utilization: 0, score: 0}\n          - {utilization: 100, score: 10}\n"
			"  - name: InterPodAffinity\n    args: {hardPodAffinityWeight: 1}\n";
	sched_config c;
	char err[512] = "";
	ck_assert_msg(parse(&c, y, err, sizeof(err)) == 0, "%s", err);
	const sched_fit_args *a = &c.profiles[0].fit;
	ck_assert_int_eq(a->strategy, SCHED_FIT_REQUESTED_TO_CAPACITY_RATIO);
	ck_assert_int_eq(a->nresources, 2);
	ck_assert_str_eq(a->resources[1].name, "example.com/gpu");
	ck_assert_int_eq(a->resources[1].weight, 5);
	ck_assert_int_eq(a->nshape, 2);
	ck_assert_int_eq(a->shape[1].score, 10);
	ck_assert_int_eq(parse(&c, "apiVersion: kubescheduler.config.k8s.io/v1\n"
				   "kind: KubeSchedulerConfiguration\nprofiles:\n- pluginConfig:\n"
				   "  - name: NodeResourcesFit\n    args:\n      scoringStrategy:\n"
				   "        type: Random\n", err, sizeof(err)),
			 KC_EINVALID);
	ck_assert_str_eq(err, "profiles[0].pluginConfig[0].args.scoringStrategy.type: Unsupported "
			      "value: \"Random\": supported values: \"LeastAllocated\", "
			      "\"MostAllocated\", \"RequestedToCapacityRatio\"");
	ck_assert_int_eq(parse(&c, "apiVersion: kubescheduler.config.k8s.io/v1\n"
				   "kind: KubeSchedulerConfiguration\nprofiles:\n- pluginConfig:\n"
				   "  - name: NodeResourcesFit\n    args:\n      scoringStrategy:\n"
				   "        type: RequestedToCapacityRatio\n", err, sizeof(err)),
			 KC_EINVALID);
	ck_assert_int_eq(parse(&c, "apiVersion: kubescheduler.config.k8s.io/v1\n"
				   "kind: KubeSchedulerConfiguration\nprofiles:\n- pluginConfig:\n"
				   "  - name: Nope\n", err, sizeof(err)),
			 KC_EINVALID);
	ck_assert_str_eq(err, "profiles[0].pluginConfig[0].name: plugin \"Nope\" does not exist");
}
END_TEST

START_TEST(errors)
{
	sched_config c;
	char err[512];
	ck_assert_int_eq(parse(&c, "apiVersion: kubescheduler.config.k8s.io/v1beta1\n"
				   "kind: KubeSchedulerConfiguration\n", err, sizeof(err)),
			 KC_EINVALID);
	ck_assert_str_eq(err, "no kind \"KubeSchedulerConfiguration\" is registered for version "
			      "\"kubescheduler.config.k8s.io/v1beta1\"");
	ck_assert_int_eq(parse(&c, "apiVersion: kubescheduler.config.k8s.io/v1\n"
				   "kind: KubeSchedulerConfiguration\nprofiles:\n- plugins:\n"
				   "    score:\n      enabled:\n      - name: Nope\n", err, sizeof(err)),
			 KC_EINVALID);
	ck_assert_str_eq(err, "profiles[0].plugins.score.enabled[0].name: plugin \"Nope\" does "
			      "not exist");
	ck_assert_int_eq(parse(&c, "apiVersion: kubescheduler.config.k8s.io/v1\n"
				   "kind: KubeSchedulerConfiguration\npercentageOfNodesToScore: 101\n",
			       err, sizeof(err)),
			 KC_EINVALID);
	ck_assert_int_eq(parse(&c, "apiVersion: kubescheduler.config.k8s.io/v1\n"
				   "kind: KubeSchedulerConfiguration\nprofiles:\n"
				   "- schedulerName: a\n- schedulerName: a\n", err, sizeof(err)),
			 KC_EINVALID);
	ck_assert_str_eq(err, "profiles[1].schedulerName: Duplicate value");
	ck_assert_int_eq(parse(&c, "a: [b\n", err, sizeof(err)), KC_EPARSE);
}
END_TEST

static Suite *sched_config_suite(void)
{
	Suite *s = suite_create("sched_config");
	TCase *tc = tcase_create("config");
	tcase_add_test(tc, defaults);
	tcase_add_test(tc, full_config);
	tcase_add_test(tc, multipoint_disable);
	tcase_add_test(tc, fit_plugin_config);
	tcase_add_test(tc, errors);
	suite_add_tcase(s, tc);
	return s;
}

KC_TEST_MAIN(sched_config_suite)
