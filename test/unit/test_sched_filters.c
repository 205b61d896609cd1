/* Filter plugins of kube-scheduler: each plugin's pass/fail cases and its exact reason
 * string (upstream pkg/scheduler/framework/plugins/...). */
#include <stdio.h>
#include <string.h>

#include "errors.h"
#include "json.h"
#include "fixtures.h"
#include "kc_test.h"
#include "../../scheduler/framework.h"

#define NODE_RES "\"status\":{\"allocatable\":{\"cpu\":\"4\",\"memory\":\"8Gi\"," \
		 "\"ephemeral-storage\":\"10Gi\",\"pods\":\"110\",\"example.com/gpu\":\"2\"}}"

/* Run one plugin's pre_filter + filter for pod on node; the status in *st. */
static void run_one(const sched_plugin *pl, sched_pod *pod, sched_node_info *ni,
		    sched_status *st)
{
	sched_profile prof;
	memset(&prof, 0, sizeof(prof));
	prof.filters[prof.nfilters++] = pl;
	sched_cycle cy;
	memset(&cy, 0, sizeof(cy));
	cy.profile = &prof;
	cy.pod = pod;
	cy.nodes = &ni;
	cy.nnodes = cy.total_nodes = 1;
	sched_status pst;
	ck_assert_int_eq(sched_cycle_prefilter(&cy, &pst), 0);
	sched_run_filters(&cy, ni, st);
	sched_cycle_close(&cy);
}

static void expect(const sched_plugin *pl, const char *pod_json, const char *node_json,
		   sched_code code, const char *reason)
{
	sched_pod *p = fx_sched_pod(pod_json);
	sched_node_info *n = fx_sched_node(node_json);
	sched_status st;
	run_one(pl, p, n, &st);
	ck_assert_msg(st.code == code, "code %d, want %d (%s)", st.code, code,
		      st.nreasons ? st.reasons[0] : "");
	if (reason) {
		ck_assert_int_ge(st.nreasons, 1);
		ck_assert_str_eq(st.reasons[0], reason);
		ck_assert_str_eq(st.plugin, pl->name);
	}
	sched_pod_free(p);
	sched_node_info_free(n);
}

#define POD(spec) "{\"metadata\":{\"name\":\"p\",\"namespace\":\"default\"},\"spec\":" spec "}"
#define NODE(name, rest) "{\"metadata\":{\"name\":\"" name "\"}" rest "}"

/* ---- NodeUnschedulable ---- */
START_TEST(unschedulable_node_rejects)
{
	expect(&sched_plugin_node_unschedulable, POD("{}"),
	       NODE("n1", ",\"spec\":{\"unschedulable\":true}"), SCHED_UNSCHEDULABLE_UNRESOLVABLE,
	       "node(s) were unschedulable");
	expect(&sched_plugin_node_unschedulable, POD("{}"), NODE("n1", ""), SCHED_SUCCESS, NULL);
	expect(&sched_plugin_node_unschedulable,
	       POD("{\"tolerations\":[{\"key\":\"node.kubernetes.io/unschedulable\","
		   "\"operator\":\"Exists\",\"effect\":\"NoSchedule\"}]}"),
	       NODE("n1", ",\"spec\":{\"unschedulable\":true}"), SCHED_SUCCESS, NULL);
}
END_TEST

/* ---- NodeName ---- */
START_TEST(node_name_must_match)
{
	expect(&sched_plugin_node_name, POD("{\"nodeName\":\"n2\"}"), NODE("n1", ""),
	       SCHED_UNSCHEDULABLE_UNRESOLVABLE, "node(s) didn't match the requested node name");
	expect(&sched_plugin_node_name, POD("{\"nodeName\":\"n1\"}"), NODE("n1", ""),
	       SCHED_SUCCESS, NULL);
	expect(&sched_plugin_node_name, POD("{}"), NODE("n1", ""), SCHED_SUCCESS, NULL);
}
END_TEST

/* ---- TaintToleration ---- */
#define CP_TAINT ",\"spec\":{\"taints\":[{\"key\":\"node-role.kubernetes.io/control-plane\"," \
		 "\"effect\":\"NoSchedule\"}]}"
START_TEST(taint_untolerated_control_plane)
{
	expect(&sched_plugin_taint_toleration, POD("{}"), NODE("cp", CP_TAINT),
	       SCHED_UNSCHEDULABLE_UNRESOLVABLE,
	       "node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }");
	expect(&sched_plugin_taint_toleration,
	       POD("{\"tolerations\":[{\"key\":\"node-role.kubernetes.io/control-plane\","
		   "\"operator\":\"Exists\",\"effect\":\"NoSchedule\"}]}"),
	       NODE("cp", CP_TAINT), SCHED_SUCCESS, NULL);
	/* an empty key with Exists tolerates everything */
	expect(&sched_plugin_taint_toleration, POD("{\"tolerations\":[{\"operator\":\"Exists\"}]}"),
	       NODE("cp", CP_TAINT), SCHED_SUCCESS, NULL);
}
END_TEST

#define GPU_TAINT ",\"spec\":{\"taints\":[{\"key\":\"dedicated\",\"value\":\"gpu\"," \
		  "\"effect\":\"NoExecute\"}]}"
START_TEST(taint_value_and_effect)
{
	expect(&sched_plugin_taint_toleration, POD("{}"), NODE("g", GPU_TAINT),
	       SCHED_UNSCHEDULABLE_UNRESOLVABLE, "node(s) had untolerated taint {dedicated: gpu}");
	/* Equal with another value does not tolerate */
	expect(&sched_plugin_taint_toleration,
	       POD("{\"tolerations\":[{\"key\":\"dedicated\",\"operator\":\"Equal\","
		   "\"value\":\"cpu\"}]}"),
	       NODE("g", GPU_TAINT), SCHED_UNSCHEDULABLE_UNRESOLVABLE, NULL);
	/* effect must match when given */
	expect(&sched_plugin_taint_toleration,
	       POD("{\"tolerations\":[{\"key\":\"dedicated\",\"value\":\"gpu\","
		   "\"effect\":\"NoSchedule\"}]}"),
	       NODE("g", GPU_TAINT), SCHED_UNSCHEDULABLE_UNRESOLVABLE, NULL);
	expect(&sched_plugin_taint_toleration,
	       POD("{\"tolerations\":[{\"key\":\"dedicated\",\"value\":\"gpu\"}]}"),
	       NODE("g", GPU_TAINT), SCHED_SUCCESS, NULL);
	/* PreferNoSchedule never filters */
	expect(&sched_plugin_taint_toleration, POD("{}"),
	       NODE("g", ",\"spec\":{\"taints\":[{\"key\":\"a\",\"effect\":\"PreferNoSchedule\"}]}"),
	       SCHED_SUCCESS, NULL);
}
END_TEST

/* ---- NodeAffinity ---- */
#define ZONE_A "{\"metadata\":{\"name\":\"n1\",\"labels\":{\"zone\":\"a\",\"rank\":\"5\"}}}"
#define NA_REASON "node(s) didn't match Pod's node affinity/selector"
#define REQ(terms) POD("{\"affinity\":{\"nodeAffinity\":{\"requiredDuringScheduling" \
		       "IgnoredDuringExecution\":{\"nodeSelectorTerms\":" terms "}}}}")
START_TEST(node_selector_and_required_terms)
{
	expect(&sched_plugin_node_affinity, POD("{\"nodeSelector\":{\"zone\":\"b\"}}"), ZONE_A,
	       SCHED_UNSCHEDULABLE_UNRESOLVABLE, NA_REASON);
	expect(&sched_plugin_node_affinity, POD("{\"nodeSelector\":{\"zone\":\"a\"}}"), ZONE_A,
	       SCHED_SUCCESS, NULL);
	/* terms are ORed */
	expect(&sched_plugin_node_affinity,
	       REQ("[{\"matchExpressions\":[{\"key\":\"zone\",\"operator\":\"In\",\"values\":[\"b\"]}]},"
		   "{\"matchExpressions\":[{\"key\":\"zone\",\"operator\":\"In\",\"values\":[\"a\"]}]}]"),
	       ZONE_A, SCHED_SUCCESS, NULL);
	/* expressions inside a term are ANDed */
	expect(&sched_plugin_node_affinity,
	       REQ("[{\"matchExpressions\":[{\"key\":\"zone\",\"operator\":\"Exists\"},"
		   "{\"key\":\"rank\",\"operator\":\"Gt\",\"values\":[\"7\"]}]}]"),
	       ZONE_A, SCHED_UNSCHEDULABLE_UNRESOLVABLE, NA_REASON);
	expect(&sched_plugin_node_affinity,
	       REQ("[{\"matchExpressions\":[{\"key\":\"rank\",\"operator\":\"Lt\",\"values\":[\"7\"]},"
		   "{\"key\":\"gpu\",\"operator\":\"DoesNotExist\"}]}]"),
	       ZONE_A, SCHED_SUCCESS, NULL);
	/* matchFields on metadata.name */
	expect(&sched_plugin_node_affinity,
	       REQ("[{\"matchFields\":[{\"key\":\"metadata.name\",\"operator\":\"In\","
		   "\"values\":[\"n2\"]}]}]"),
	       ZONE_A, SCHED_UNSCHEDULABLE_UNRESOLVABLE, NA_REASON);
	expect(&sched_plugin_node_affinity,
	       REQ("[{\"matchFields\":[{\"key\":\"metadata.name\",\"operator\":\"In\","
		   "\"values\":[\"n1\"]}]}]"),
	       ZONE_A, SCHED_SUCCESS, NULL);
	/* an empty term matches nothing */
	expect(&sched_plugin_node_affinity, REQ("[{}]"), ZONE_A, SCHED_UNSCHEDULABLE_UNRESOLVABLE,
	       NA_REASON);
	/* both nodeSelector and affinity must hold */
	expect(&sched_plugin_node_affinity,
	       POD("{\"nodeSelector\":{\"zone\":\"b\"},\"affinity\":{\"nodeAffinity\":{"
		   "\"requiredDuringSchedulingIgnoredDuringExecution\":{\"nodeSelectorTerms\":"
		   "[{\"matchExpressions\":[{\"key\":\"zone\",\"operator\":\"Exists\"}]}]}}}}"),
	       ZONE_A, SCHED_UNSCHEDULABLE_UNRESOLVABLE, NA_REASON);
}
END_TEST

/* ---- NodeResourcesFit ---- */
#define C(req) "{\"name\":\"c\",\"image\":\"x\",\"resources\":{\"requests\":" req "}}"
START_TEST(fit_insufficient_each_resource)
{
	expect(&sched_plugin_node_resources_fit, POD("{\"containers\":[" C("{\"cpu\":\"1\"}") "]}"),
	       NODE("n", "," NODE_RES), SCHED_SUCCESS, NULL);
	/* more than allocatable: preemption cannot help */
	expect(&sched_plugin_node_resources_fit, POD("{\"containers\":[" C("{\"cpu\":\"5\"}") "]}"),
	       NODE("n", "," NODE_RES), SCHED_UNSCHEDULABLE_UNRESOLVABLE, "Insufficient cpu");
	expect(&sched_plugin_node_resources_fit,
	       POD("{\"containers\":[" C("{\"memory\":\"9Gi\"}") "]}"), NODE("n", "," NODE_RES),
	       SCHED_UNSCHEDULABLE_UNRESOLVABLE, "Insufficient memory");
	expect(&sched_plugin_node_resources_fit,
	       POD("{\"containers\":[" C("{\"ephemeral-storage\":\"11Gi\"}") "]}"),
	       NODE("n", "," NODE_RES), SCHED_UNSCHEDULABLE_UNRESOLVABLE,
	       "Insufficient ephemeral-storage");
	expect(&sched_plugin_node_resources_fit,
	       POD("{\"containers\":[" C("{\"example.com/gpu\":\"3\"}") "]}"), NODE("n", "," NODE_RES),
	       SCHED_UNSCHEDULABLE_UNRESOLVABLE, "Insufficient example.com/gpu");
	expect(&sched_plugin_node_resources_fit,
	       POD("{\"containers\":[" C("{\"example.com/fpga\":\"1\"}") "]}"), NODE("n", "," NODE_RES),
	       SCHED_UNSCHEDULABLE_UNRESOLVABLE, "Insufficient example.com/fpga");
}
END_TEST

START_TEST(fit_counts_existing_pods_and_all_reasons)
{
	sched_node_info *n = fx_sched_node(NODE("n", ",\"status\":{\"allocatable\":{\"cpu\":\"2\","
					      "\"memory\":\"4Gi\",\"pods\":\"2\"}}"));
	sched_pod *a = fx_sched_pod("{\"metadata\":{\"name\":\"a\",\"namespace\":\"d\"},\"spec\":{"
			     "\"containers\":[" C("{\"cpu\":\"1500m\",\"memory\":\"3Gi\"}") "]}}");
	sched_pod *b = fx_sched_pod("{\"metadata\":{\"name\":\"b\",\"namespace\":\"d\"},\"spec\":{}}");
	ck_assert_int_eq(sched_node_info_add_pod(n, a), 0);
	ck_assert_int_eq(sched_node_info_add_pod(n, b), 0);
	sched_pod *p = fx_sched_pod(POD("{\"containers\":[" C("{\"cpu\":\"1\",\"memory\":\"2Gi\"}") "]}"));
	sched_status st;
	run_one(&sched_plugin_node_resources_fit, p, n, &st);
	/* fits an empty node, so preemption could help: Unschedulable, all reasons kept */
	ck_assert_int_eq(st.code, SCHED_UNSCHEDULABLE);
	ck_assert_int_eq(st.nreasons, 3);
	ck_assert_str_eq(st.reasons[0], "Too many pods");
	ck_assert_str_eq(st.reasons[1], "Insufficient cpu");
	ck_assert_str_eq(st.reasons[2], "Insufficient memory");
	/* removing a pod frees its requests */
	ck_assert_int_eq(sched_node_info_remove_pod(n, "d/a"), 0);
	run_one(&sched_plugin_node_resources_fit, p, n, &st);
	ck_assert_int_eq(st.code, SCHED_SUCCESS);
	sched_pod_free(p);
	sched_pod_free(a);
	sched_pod_free(b);
	sched_node_info_free(n);
}
END_TEST

START_TEST(fit_scalar_reasons_in_name_order)
{
	/* every missing extended resource is a reason, in name order whatever the order of
	 * the request (upstream walks a map; kubec sorts so the message is stable) */
	sched_pod *p = fx_sched_pod(POD("{\"containers\":[" C("{\"example.com/zz\":\"1\","
				 "\"example.com/aa\":\"1\",\"example.com/gpu\":\"3\","
				 "\"example.com/mm\":\"1\"}") "]}"));
	sched_node_info *n = fx_sched_node(NODE("n", "," NODE_RES));
	sched_status st;
	run_one(&sched_plugin_node_resources_fit, p, n, &st);
	ck_assert_int_eq(st.code, SCHED_UNSCHEDULABLE_UNRESOLVABLE);
	ck_assert_int_eq(st.nreasons, 4);
	ck_assert_str_eq(st.reasons[0], "Insufficient example.com/aa");
	ck_assert_str_eq(st.reasons[1], "Insufficient example.com/gpu");
	ck_assert_str_eq(st.reasons[2], "Insufficient example.com/mm");
	ck_assert_str_eq(st.reasons[3], "Insufficient example.com/zz");
	sched_pod_free(p);
	sched_node_info_free(n);
}
END_TEST

START_TEST(pod_requests_init_sidecar_overhead)
{
	/* init containers count as max, not sum: max(1+1, 3) = 3 cpu */
	sched_pod *p = fx_sched_pod(POD("{\"containers\":[" C("{\"cpu\":\"1\"}") "," C("{\"cpu\":\"1\"}")
				 "],\"initContainers\":[" C("{\"cpu\":\"3\",\"memory\":\"1Gi\"}") "]}"));
	ck_assert_int_eq(p->req.milli_cpu, 3000);
	ck_assert_int_eq(p->req.memory, 1LL << 30);
	/* scoring defaults apply per container without requests */
	ck_assert_int_eq(p->nonzero_cpu, 3000);
	sched_pod_free(p);
	/* a sidecar (restartPolicy Always) adds to the sum and runs beside later inits */
	p = fx_sched_pod(POD("{\"containers\":[" C("{\"cpu\":\"1\"}") "],\"initContainers\":["
		      "{\"name\":\"s\",\"restartPolicy\":\"Always\",\"resources\":{\"requests\":"
		      "{\"cpu\":\"500m\"}}}," C("{\"cpu\":\"2\"}") "],\"overhead\":{\"cpu\":\"250m\"}}"));
	/* max(1 + 0.5, 2 + 0.5) + 0.25 overhead */
	ck_assert_int_eq(p->req.milli_cpu, 2750);
	sched_pod_free(p);
	/* no requests: 0 for filtering, 100m / 200Mi for scoring */
	p = fx_sched_pod(POD("{\"containers\":[{\"name\":\"c\",\"image\":\"x\"}]}"));
	ck_assert_int_eq(p->req.milli_cpu, 0);
	ck_assert_int_eq(p->nonzero_cpu, 100);
	ck_assert_int_eq(p->nonzero_mem, 200LL * 1024 * 1024);
	sched_pod_free(p);
}
END_TEST

START_TEST(bad_quantity_is_rejected)
{
	cJSON *j = NULL;
	char err[256];
	ck_assert_int_eq(kc_json_parse_str(POD("{\"containers\":[" C("{\"cpu\":\"lots\"}") "]}"),
					   &j, err, sizeof(err)), 0);
	sched_pod *p = NULL;
	ck_assert_int_eq(sched_pod_new(j, &p, err, sizeof(err)), KC_EINVALID);
	ck_assert_ptr_null(p);
	ck_assert_ptr_nonnull(strstr(err, "cpu"));
	cJSON_Delete(j);
}
END_TEST

/* ---- NodePorts ---- */
#define HP(ip, port, proto) "{\"name\":\"c\",\"ports\":[{\"containerPort\":80,\"hostPort\":" \
	port ",\"hostIP\":\"" ip "\",\"protocol\":\"" proto "\"}]}"
static void ports_case(const char *existing, const char *wanted, sched_code code)
{
	sched_node_info *n = fx_sched_node(NODE("n", ""));
	char buf[512];
	snprintf(buf, sizeof(buf),
		 "{\"metadata\":{\"name\":\"e\",\"namespace\":\"d\"},\"spec\":{\"containers\":[%s]}}",
		 existing);
	sched_pod *e = fx_sched_pod(buf);
	sched_node_info_add_pod(n, e);
	snprintf(buf, sizeof(buf),
		 "{\"metadata\":{\"name\":\"p\",\"namespace\":\"d\"},\"spec\":{\"containers\":[%s]}}",
		 wanted);
	sched_pod *p = fx_sched_pod(buf);
	sched_status st;
	run_one(&sched_plugin_node_ports, p, n, &st);
	ck_assert_int_eq(st.code, code);
	if (code != SCHED_SUCCESS)
		ck_assert_str_eq(st.reasons[0],
				 "node(s) didn't have free ports for the requested pod ports");
	sched_pod_free(p);
	sched_pod_free(e);
	sched_node_info_free(n);
}

START_TEST(host_port_conflicts)
{
	ports_case(HP("", "8080", "TCP"), HP("", "8080", "TCP"), SCHED_UNSCHEDULABLE);
	ports_case(HP("0.0.0.0", "8080", "TCP"), HP("10.0.0.1", "8080", "TCP"), SCHED_UNSCHEDULABLE);
	ports_case(HP("10.0.0.2", "8080", "TCP"), HP("10.0.0.1", "8080", "TCP"), SCHED_SUCCESS);
	ports_case(HP("", "8080", "UDP"), HP("", "8080", "TCP"), SCHED_SUCCESS);
	ports_case(HP("", "8081", "TCP"), HP("", "8080", "TCP"), SCHED_SUCCESS);
}
END_TEST

static Suite *sched_filters_suite(void)
{
	Suite *s = suite_create("sched_filters");
	struct {
		const char *name;
		const TTest *t;
	} cases[] = {
		{ "NodeUnschedulable", unschedulable_node_rejects },
		{ "NodeName", node_name_must_match },
		{ "TaintToleration", taint_untolerated_control_plane },
		{ "TaintToleration", taint_value_and_effect },
		{ "NodeAffinity", node_selector_and_required_terms },
		{ "NodeResourcesFit", fit_insufficient_each_resource },
		{ "NodeResourcesFit", fit_counts_existing_pods_and_all_reasons },
		{ "NodeResourcesFit", fit_scalar_reasons_in_name_order },
		{ "NodeResourcesFit", pod_requests_init_sidecar_overhead },
		{ "NodeResourcesFit", bad_quantity_is_rejected },
		{ "NodePorts", host_port_conflicts },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		TCase *tc = tcase_create(cases[i].name);
		tcase_add_test(tc, cases[i].t);
		suite_add_tcase(s, tc);
	}
	return s;
}

KC_TEST_MAIN(sched_filters_suite)
