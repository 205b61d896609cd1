/* The second-milestone descriptors: defaults, validation, version conversion and Tables of
 * jobs, cronjobs, statefulsets, priorityclasses, poddisruptionbudgets, HPAs (v1 <-> v2) and
 * events.k8s.io/v1 (<-> core events). */
#include <stdio.h>
#include <string.h>

#include "json.h"
#include "kc_test.h"
#include "../../apiserver/resource.h"
#include "../../apiserver/table.h"

static cJSON *J(const char *s)
{
	cJSON *v = NULL;
	ck_assert_msg(kc_json_parse_str(s, &v, NULL, 0) == 0, "bad test JSON: %s", s);
	return v;
}

static int has_cause(const res_errs *e, const char *field, const char *msg_part)
{
	for (int i = 0; i < e->n; i++)
		if (!strcmp(e->c[i].field, field) && strstr(e->c[i].message, msg_part))
			return 1;
	return 0;
}

#define JOB "{\"metadata\":{\"name\":\"pi\",\"uid\":\"u-1\"},\"spec\":{\"template\":{\"spec\":{" \
	    "\"restartPolicy\":\"%s\",\"containers\":[{\"name\":\"c\",\"image\":\"busybox\"}]}}}}"

/* stringData is merged into data (base64, stringData wins) and never stored. */
START_TEST(secret_string_data_merges_into_data)
{
	cJSON *s = J("{\"metadata\":{\"name\":\"s\"},\"data\":{\"a\":\"b2xk\",\"keep\":\"eA==\"},"
		     "\"stringData\":{\"a\":\"new\",\"password\":\"s3cr3t\"}}");
	res_secrets.defaults(s);
	ck_assert_ptr_null(cJSON_GetObjectItemCaseSensitive(s, "stringData"));
	cJSON *d = cJSON_GetObjectItemCaseSensitive(s, "data");
	ck_assert_str_eq(cJSON_GetObjectItemCaseSensitive(d, "a")->valuestring, "bmV3");
	ck_assert_str_eq(cJSON_GetObjectItemCaseSensitive(d, "password")->valuestring, "czNjcjN0");
	ck_assert_str_eq(cJSON_GetObjectItemCaseSensitive(d, "keep")->valuestring, "eA==");
	ck_assert_str_eq(kc_json_get_string(s, "type", ""), "Opaque");
	cJSON_Delete(s);
	s = J("{\"metadata\":{\"name\":\"s\"},\"stringData\":{\"k\":\"v\"}}");
	res_secrets.defaults(s);
	ck_assert_str_eq(kc_json_get_string(s, "data.k", ""), "dg==");
	cJSON_Delete(s);
}
END_TEST

START_TEST(job_defaults_generate_selector)
{
	char buf[512];
	snprintf(buf, sizeof(buf), JOB, "Never");
	cJSON *j = J(buf);
	res_jobs.defaults(j);
	ck_assert_str_eq(kc_json_get_string(j, "spec.selector.matchLabels.batch\\.kubernetes\\.io/controller-uid", "?"), "u-1");
	cJSON *ml = kc_json_get(j, "spec.selector.matchLabels");
	ck_assert_str_eq(cJSON_GetObjectItemCaseSensitive(ml, "batch.kubernetes.io/controller-uid")->valuestring, "u-1");
	cJSON *tl = kc_json_get(j, "spec.template.metadata.labels");
	ck_assert_str_eq(cJSON_GetObjectItemCaseSensitive(tl, "job-name")->valuestring, "pi");
	ck_assert_int_eq((int)kc_json_get_int64(j, "spec.completions", 0), 1);
	ck_assert_int_eq((int)kc_json_get_int64(j, "spec.parallelism", 0), 1);
	ck_assert_int_eq((int)kc_json_get_int64(j, "spec.backoffLimit", 0), 6);
	ck_assert_str_eq(kc_json_get_string(j, "spec.completionMode", ""), "NonIndexed");
	/* The Job takes its template's labels. */
	ck_assert_ptr_nonnull(cJSON_GetObjectItemCaseSensitive(kc_json_get(j, "metadata.labels"), "job-name"));
	res_errs e = { 0 };
	res_jobs.validate(j, NULL, &e);
	ck_assert_int_eq(e.n, 0);
	cJSON_Delete(j);
}
END_TEST

START_TEST(job_rejects_restart_always_and_selector_change)
{
	char buf[512];
	snprintf(buf, sizeof(buf), JOB, "Always");
	cJSON *j = J(buf);
	res_jobs.defaults(j);
	res_errs e = { 0 };
	res_jobs.validate(j, NULL, &e);
	ck_assert_msg(has_cause(&e, "spec.template.spec.restartPolicy",
				"Unsupported value: \"Always\": supported values: \"OnFailure\", \"Never\""),
		      "restartPolicy cause missing (%d causes)", e.n);
	cJSON_Delete(j);

	snprintf(buf, sizeof(buf), JOB, "OnFailure");
	cJSON *old = J(buf);
	res_jobs.defaults(old);
	cJSON *nw = cJSON_Duplicate(old, 1);
	cJSON_ReplaceItemInObjectCaseSensitive(kc_json_get(nw, "spec"), "selector",
					       J("{\"matchLabels\":{\"a\":\"b\"}}"));
	memset(&e, 0, sizeof(e));
	res_jobs.validate(nw, old, &e);
	ck_assert(has_cause(&e, "spec.selector", "field is immutable"));
	cJSON_Delete(old);
	cJSON_Delete(nw);
}
END_TEST

START_TEST(cronjob_schedule_validation)
{
	static const struct {
		const char *sched;
		int ok;
	} cases[] = { { "*/5 * * * *", 1 }, { "@hourly", 1 }, { "0 0 1 1 MON", 1 },
		      { "* * * *", 0 },     { "bogus", 0 },   { "TZ=UTC * * * * *", 0 } };
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char buf[600];
		snprintf(buf, sizeof(buf),
			 "{\"metadata\":{\"name\":\"cj\"},\"spec\":{\"schedule\":\"%s\",\"jobTemplate\":"
			 "{\"spec\":{\"template\":{\"spec\":{\"restartPolicy\":\"OnFailure\","
			 "\"containers\":[{\"name\":\"c\",\"image\":\"busybox\"}]}}}}}}",
			 cases[i].sched);
		cJSON *cj = J(buf);
		res_cronjobs.defaults(cj);
		res_errs e = { 0 };
		res_cronjobs.validate(cj, NULL, &e);
		ck_assert_msg(has_cause(&e, "spec.schedule", "") == !cases[i].ok,
			      "schedule '%s': %d causes", cases[i].sched, e.n);
		ck_assert_str_eq(kc_json_get_string(cj, "spec.concurrencyPolicy", ""), "Allow");
		ck_assert_int_eq((int)kc_json_get_int64(cj, "spec.successfulJobsHistoryLimit", 0), 3);
		cJSON_Delete(cj);
	}
}
END_TEST

START_TEST(statefulset_defaults_and_forbidden_update)
{
	cJSON *s = J("{\"metadata\":{\"name\":\"web\"},\"spec\":{\"serviceName\":\"web\","
		     "\"selector\":{\"matchLabels\":{\"app\":\"web\"}},\"template\":{\"metadata\":"
		     "{\"labels\":{\"app\":\"web\"}},\"spec\":{\"containers\":[{\"name\":\"c\","
		     "\"image\":\"nginx\"}]}}}}");
	res_statefulsets.defaults(s);
	ck_assert_str_eq(kc_json_get_string(s, "spec.podManagementPolicy", ""), "OrderedReady");
	ck_assert_str_eq(kc_json_get_string(s, "spec.updateStrategy.type", ""), "RollingUpdate");
	ck_assert_int_eq((int)kc_json_get_int64(s, "spec.replicas", -1), 1);
	res_errs e = { 0 };
	res_statefulsets.validate(s, NULL, &e);
	ck_assert_int_eq(e.n, 0);
	cJSON *n = cJSON_Duplicate(s, 1);
	cJSON_ReplaceItemInObjectCaseSensitive(kc_json_get(n, "spec"), "serviceName",
					       cJSON_CreateString("other"));
	res_statefulsets.validate(n, s, &e);
	ck_assert(has_cause(&e, "spec", "updates to statefulset spec for fields other than"));
	/* replicas may change */
	cJSON *r = cJSON_Duplicate(s, 1);
	cJSON_ReplaceItemInObjectCaseSensitive(kc_json_get(r, "spec"), "replicas", cJSON_CreateNumber(5));
	memset(&e, 0, sizeof(e));
	res_statefulsets.validate(r, s, &e);
	ck_assert_int_eq(e.n, 0);
	cJSON_Delete(s);
	cJSON_Delete(n);
	cJSON_Delete(r);
}
END_TEST

START_TEST(priorityclass_and_pdb_validation)
{
	cJSON *pc = J("{\"metadata\":{\"name\":\"huge\"},\"value\":2000000001}");
	res_priorityclasses.defaults(pc);
	res_errs e = { 0 };
	res_priorityclasses.validate(pc, NULL, &e);
	ck_assert(has_cause(&e, "value", "maximum allowed value of a user defined priority is 1000000000"));
	ck_assert_str_eq(kc_json_get_string(pc, "preemptionPolicy", ""), "PreemptLowerPriority");
	cJSON_Delete(pc);
	pc = J("{\"metadata\":{\"name\":\"system-mine\"},\"value\":10}");
	memset(&e, 0, sizeof(e));
	res_priorityclasses.validate(pc, NULL, &e);
	ck_assert(has_cause(&e, "metadata.name", "'system-' prefix are reserved"));
	cJSON_Delete(pc);
	pc = J("{\"metadata\":{\"name\":\"system-node-critical\"},\"value\":2000001000}");
	memset(&e, 0, sizeof(e));
	res_priorityclasses.validate(pc, NULL, &e);
	ck_assert_int_eq(e.n, 0);
	cJSON_Delete(pc);

	cJSON *pdb = J("{\"metadata\":{\"name\":\"p\"},\"spec\":{\"minAvailable\":1,"
		       "\"maxUnavailable\":\"150%\"}}");
	memset(&e, 0, sizeof(e));
	res_poddisruptionbudgets.validate(pdb, NULL, &e);
	ck_assert(has_cause(&e, "spec", "minAvailable and maxUnavailable cannot be both set"));
	ck_assert(has_cause(&e, "spec.maxUnavailable", "must not be greater than 100%"));
	cJSON_Delete(pdb);
}
END_TEST

START_TEST(hpa_v1_v2_conversion)
{
	ck_assert_ptr_eq(res_hpa_v1.storage, &res_hpa_v2);
	cJSON *v1 = J("{\"apiVersion\":\"autoscaling/v1\",\"kind\":\"HorizontalPodAutoscaler\","
		      "\"metadata\":{\"name\":\"h\"},\"spec\":{\"scaleTargetRef\":{\"kind\":"
		      "\"Deployment\",\"name\":\"web\"},\"maxReplicas\":5,"
		      "\"targetCPUUtilizationPercentage\":70}}");
	res_hpa_v1.to_storage(v1);
	ck_assert_ptr_null(kc_json_get(v1, "spec.targetCPUUtilizationPercentage"));
	ck_assert_int_eq((int)kc_json_get_int64(v1, "spec.metrics.0.resource.target.averageUtilization", 0), 70);
	ck_assert_str_eq(kc_json_get_string(v1, "spec.metrics.0.resource.name", ""), "cpu");
	/* Stored (v2) -> served as v1: the CPU target back, apiVersion rewritten. */
	cJSON_ReplaceItemInObjectCaseSensitive(v1, "apiVersion", cJSON_CreateString("autoscaling/v2"));
	res_view(&res_hpa_v1, v1);
	ck_assert_str_eq(kc_json_get_string(v1, "apiVersion", ""), "autoscaling/v1");
	ck_assert_int_eq((int)kc_json_get_int64(v1, "spec.targetCPUUtilizationPercentage", 0), 70);
	ck_assert_ptr_null(kc_json_get(v1, "spec.metrics"));
	/* The v1 Table prints the v2 Targets column. */
	cJSON *t = tbl_render(&res_hpa_v1, v1, TBL_INCLUDE_NONE, 1, "1", NULL, 0);
	const cJSON *cells = kc_json_get(t, "rows.0.cells");
	ck_assert_str_eq(cJSON_GetArrayItem(cells, 2)->valuestring, "cpu: <unknown>/70%");
	cJSON_Delete(t);
	cJSON_Delete(v1);
	/* No target at all: v2 defaults to 80% CPU, which v1 shows as its percentage. */
	cJSON *bare = J("{\"spec\":{\"scaleTargetRef\":{\"kind\":\"Deployment\",\"name\":\"w\"},"
			"\"maxReplicas\":3}}");
	res_hpa_v1.to_storage(bare);
	res_hpa_v2.defaults(bare);
	ck_assert_int_eq((int)kc_json_get_int64(bare, "spec.minReplicas", 0), 1);
	res_view(&res_hpa_v1, bare);
	ck_assert_int_eq((int)kc_json_get_int64(bare, "spec.targetCPUUtilizationPercentage", 0), 80);
	cJSON_Delete(bare);
}
END_TEST

START_TEST(events_v1_share_core_storage)
{
	ck_assert_ptr_eq(res_events_v1.storage, &res_events);
	ck_assert_str_eq(res_events_v1.plural, res_events.plural);
	cJSON *core = J("{\"apiVersion\":\"v1\",\"kind\":\"Event\",\"metadata\":{\"name\":\"e\"},"
			"\"involvedObject\":{\"kind\":\"Pod\",\"name\":\"p\"},\"message\":\"hi\","
			"\"reportingComponent\":\"kubelet\",\"count\":3,\"source\":{\"component\":\"k\"}}");
	res_view(&res_events_v1, core);
	ck_assert_str_eq(kc_json_get_string(core, "apiVersion", ""), "events.k8s.io/v1");
	ck_assert_str_eq(kc_json_get_string(core, "note", ""), "hi");
	ck_assert_str_eq(kc_json_get_string(core, "regarding.name", ""), "p");
	ck_assert_str_eq(kc_json_get_string(core, "reportingController", ""), "kubelet");
	ck_assert_int_eq((int)kc_json_get_int64(core, "deprecatedCount", 0), 3);
	ck_assert_ptr_null(kc_json_get(core, "message"));
	res_events_v1.to_storage(core);
	ck_assert_str_eq(kc_json_get_string(core, "message", ""), "hi");
	ck_assert_str_eq(kc_json_get_string(core, "involvedObject.kind", ""), "Pod");
	/* A list is converted item by item and renamed. */
	cJSON *list = J("{\"kind\":\"EventList\",\"apiVersion\":\"v1\",\"items\":[{\"message\":\"x\"}]}");
	res_view(&res_events_v1, list);
	ck_assert_str_eq(kc_json_get_string(list, "apiVersion", ""), "events.k8s.io/v1");
	ck_assert_str_eq(kc_json_get_string(list, "items.0.note", ""), "x");
	/* A Status is left alone. */
	cJSON *st = J("{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"message\":\"m\"}");
	res_view(&res_events_v1, st);
	ck_assert_str_eq(kc_json_get_string(st, "message", ""), "m");
	cJSON_Delete(st);
	cJSON_Delete(list);
	cJSON_Delete(core);
}
END_TEST

START_TEST(events_v1_field_selectors_map_to_core)
{
	char out[256];
	ck_assert_int_eq(res_field_selector_to_storage(&res_events_v1,
						       "regarding.name=web,reportingController!=kubelet,type=Normal",
						       out, sizeof(out)), 0);
	ck_assert_str_eq(out, "involvedObject.name=web,reportingComponent!=kubelet,type=Normal");
	ck_assert_int_eq(res_field_selector_to_storage(&res_pods, "spec.nodeName==n1", out, sizeof(out)), 0);
	ck_assert_str_eq(out, "spec.nodeName==n1");
	ck_assert_int_eq(res_field_selector_to_storage(&res_pods, NULL, out, sizeof(out)), 0);
	ck_assert_str_eq(out, "");
	ck_assert_int_eq(res_field_selector_to_storage(&res_events_v1, "regarding.name=web", out, 10), -1);
}
END_TEST

START_TEST(job_and_pv_tables)
{
	cJSON *j = J("{\"metadata\":{\"name\":\"pi\",\"creationTimestamp\":\"2026-11-22T07:00:00Z\"},"
		     "\"spec\":{\"completions\":3,\"template\":{\"spec\":{\"containers\":[]}}},"
		     "\"status\":{\"succeeded\":3,\"startTime\":\"2026-11-22T07:00:00Z\","
		     "\"completionTime\":\"2026-11-22T07:00:42Z\",\"conditions\":[{\"type\":"
		     "\"Complete\",\"status\":\"True\"}]}}");
	cJSON *t = tbl_render(&res_jobs, j, TBL_INCLUDE_NONE, 1, "1", NULL, 1795330000);
	const cJSON *cells = kc_json_get(t, "rows.0.cells");
	ck_assert_str_eq(cJSON_GetArrayItem(cells, 1)->valuestring, "Complete");
	ck_assert_str_eq(cJSON_GetArrayItem(cells, 2)->valuestring, "3/3");
	ck_assert_str_eq(cJSON_GetArrayItem(cells, 3)->valuestring, "42s");
	cJSON_Delete(t);
	cJSON_Delete(j);
	cJSON *pv = J("{\"metadata\":{\"name\":\"pv1\"},\"spec\":{\"capacity\":{\"storage\":\"1Gi\"},"
		      "\"accessModes\":[\"ReadWriteMany\",\"ReadWriteOnce\"],\"hostPath\":{\"path\":"
		      "\"/x\"},\"claimRef\":{\"namespace\":\"default\",\"name\":\"data\"}}}");
	res_persistentvolumes.defaults(pv);
	t = tbl_render(&res_persistentvolumes, pv, TBL_INCLUDE_NONE, 1, "1", NULL, 0);
	cells = kc_json_get(t, "rows.0.cells");
	ck_assert_str_eq(cJSON_GetArrayItem(cells, 2)->valuestring, "RWO,RWX");
	ck_assert_str_eq(cJSON_GetArrayItem(cells, 3)->valuestring, "Retain");
	ck_assert_str_eq(cJSON_GetArrayItem(cells, 5)->valuestring, "default/data");
	res_errs e = { 0 };
	res_persistentvolumes.validate(pv, NULL, &e);
	ck_assert_int_eq(e.n, 0);
	cJSON_Delete(t);
	cJSON_Delete(pv);
}
END_TEST

static Suite *apiserver_kinds_suite(void)
{
	Suite *s = suite_create("apiserver_kinds");
	TCase *tc = tcase_create("kinds");
	tcase_add_test(tc, job_defaults_generate_selector);
	tcase_add_test(tc, job_rejects_restart_always_and_selector_change);
	tcase_add_test(tc, cronjob_schedule_validation);
	tcase_add_test(tc, statefulset_defaults_and_forbidden_update);
	tcase_add_test(tc, priorityclass_and_pdb_validation);
	tcase_add_test(tc, hpa_v1_v2_conversion);
	tcase_add_test(tc, events_v1_share_core_storage);
	tcase_add_test(tc, events_v1_field_selectors_map_to_core);
	tcase_add_test(tc, job_and_pv_tables);
	tcase_add_test(tc, secret_string_data_merges_into_data);
	suite_add_tcase(s, tc);
	return s;
}

KC_TEST_MAIN(apiserver_kinds_suite)
