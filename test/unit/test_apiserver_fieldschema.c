/* fieldValidation's unknown-field detection against the per-kind field schema. */
#include <string.h>

#include "json.h"
#include "kc_test.h"
#include "../../apiserver/fieldschema.h"

static cJSON *J(const char *s)
{
	cJSON *v = NULL;
	ck_assert_msg(kc_json_parse_str(s, &v, NULL, 0) == 0, "bad test JSON: %s", s);
	return v;
}

START_TEST(known_fields_pass)
{
	cJSON *d = J("{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"name\":"
		     "\"w\",\"labels\":{\"any-key\":\"x\"},\"annotations\":{\"a/b\":\"c\"}},"
		     "\"spec\":{\"replicas\":2,\"selector\":{\"matchLabels\":{\"app\":\"w\"}},"
		     "\"strategy\":{\"type\":\"Recreate\"},\"template\":{\"metadata\":{\"labels\":"
		     "{\"app\":\"w\"}},\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"nginx\","
		     "\"ports\":[{\"containerPort\":80}],\"env\":[{\"name\":\"A\",\"value\":\"1\"}],"
		     "\"resources\":{\"limits\":{\"cpu\":\"1\"}},\"livenessProbe\":{\"anything\":1}}],"
		     "\"affinity\":{\"free\":{\"form\":true}}}}},\"status\":{\"whatever\":1}}");
	char msg[512];
	ck_assert_int_eq(fs_unknown_fields(&res_deployments, d, msg, sizeof(msg)), 0);
	ck_assert_str_eq(msg, "");
	cJSON_Delete(d);
}
END_TEST

START_TEST(unknown_fields_reported_with_paths)
{
	cJSON *d = J("{\"metadata\":{\"name\":\"w\",\"nmae\":\"x\"},\"spec\":{\"foo\":1,\"template\":"
		     "{\"spec\":{\"containers\":[{\"name\":\"a\"},{\"name\":\"b\",\"imagex\":\"n\"}]}}}}");
	char msg[512];
	ck_assert_int_eq(fs_unknown_fields(&res_deployments, d, msg, sizeof(msg)), 3);
	ck_assert_str_eq(msg, "unknown field \"metadata.nmae\", unknown field \"spec.foo\", "
			      "unknown field \"spec.template.spec.containers[1].imagex\"");
	cJSON_Delete(d);
	/* Indices of two digits and more. */
	char buf[1024] = "{\"spec\":{\"template\":{\"spec\":{\"containers\":[";
	for (int i = 0; i < 12; i++)
		strcat(buf, i == 11 ? "{\"name\":\"l\",\"imagex\":\"n\"}" : "{\"name\":\"c\"},");
	strcat(buf, "]}}}}");
	d = J(buf);
	ck_assert_int_eq(fs_unknown_fields(&res_deployments, d, msg, sizeof(msg)), 1);
	ck_assert_str_eq(msg, "unknown field \"spec.template.spec.containers[11].imagex\"");
	cJSON_Delete(d);
	/* Top-level fields of kinds without spec. */
	cJSON *cm = J("{\"metadata\":{\"name\":\"c\"},\"data\":{\"k\":\"v\"},\"datta\":{}}");
	ck_assert_int_eq(fs_unknown_fields(&res_configmaps, cm, msg, sizeof(msg)), 1);
	ck_assert_str_eq(msg, "unknown field \"datta\"");
	cJSON_Delete(cm);
	/* Versions differ: targetCPUUtilizationPercentage is v1 only. */
	cJSON *h = J("{\"spec\":{\"targetCPUUtilizationPercentage\":50}}");
	ck_assert_int_eq(fs_unknown_fields(&res_hpa_v1, h, msg, sizeof(msg)), 0);
	ck_assert_int_eq(fs_unknown_fields(&res_hpa_v2, h, msg, sizeof(msg)), 1);
	cJSON_Delete(h);
}
END_TEST

START_TEST(patch_directives_skipped_and_truncation_safe)
{
	cJSON *p = J("{\"spec\":{\"template\":{\"spec\":{\"$setElementOrder/containers\":[{\"name\":"
		     "\"c\"}],\"containers\":[{\"name\":\"c\",\"$patch\":\"delete\"}]}}}}");
	char msg[16];
	ck_assert_int_eq(fs_unknown_fields(&res_deployments, p, msg, sizeof(msg)), 0);
	cJSON_Delete(p);
	cJSON *many = J("{\"a1\":1,\"a2\":2,\"a3\":3,\"a4\":4}");
	ck_assert_int_eq(fs_unknown_fields(&res_pods, many, msg, sizeof(msg)), 4);
	ck_assert_uint_lt(strlen(msg), sizeof(msg));
	cJSON_Delete(many);
}
END_TEST

/* The typed schema reaches the structures it knows (strategy, tolerations, volumes, service
 * ports, label selectors) and still leaves the free-form ones alone. */
START_TEST(typed_structures_checked_deeper)
{
	cJSON *d = J("{\"spec\":{\"strategy\":{\"type\":\"RollingUpdate\",\"rollingUpdate\":"
		     "{\"maxSurge\":1,\"maxSurgee\":2}},\"selector\":{\"matchExpressions\":[{\"key\":"
		     "\"a\",\"operator\":\"In\",\"values\":[\"x\"],\"vals\":1}]},\"template\":{\"spec\":"
		     "{\"tolerations\":[{\"key\":\"k\",\"operator\":\"Exists\",\"effect\":\"NoSchedule\","
		     "\"tolerationSeconds\":5,\"efect\":1}],\"volumes\":[{\"name\":\"v\",\"configMap\":"
		     "{\"name\":\"c\",\"anything\":1}},{\"name\":\"w\",\"emptyDirr\":{}}]}}}}");
	char msg[512];
	ck_assert_int_eq(fs_unknown_fields(&res_deployments, d, msg, sizeof(msg)), 4);
	ck_assert_str_eq(msg, "unknown field \"spec.strategy.rollingUpdate.maxSurgee\", "
			      "unknown field \"spec.selector.matchExpressions[0].vals\", "
			      "unknown field \"spec.template.spec.tolerations[0].efect\", "
			      "unknown field \"spec.template.spec.volumes[1].emptyDirr\"");
	cJSON_Delete(d);
	cJSON *svc = J("{\"spec\":{\"ports\":[{\"port\":80,\"targetPort\":\"http\",\"nodeport\":1}]}}");
	ck_assert_int_eq(fs_unknown_fields(&res_services, svc, msg, sizeof(msg)), 1);
	ck_assert_str_eq(msg, "unknown field \"spec.ports[0].nodeport\"");
	cJSON_Delete(svc);
}
END_TEST

static Suite *apiserver_fieldschema_suite(void)
{
	Suite *s = suite_create("apiserver_fieldschema");
	TCase *tc = tcase_create("fieldschema");
	tcase_add_test(tc, known_fields_pass);
	tcase_add_test(tc, unknown_fields_reported_with_paths);
	tcase_add_test(tc, patch_directives_skipped_and_truncation_safe);
	tcase_add_test(tc, typed_structures_checked_deeper);
	suite_add_tcase(s, tc);
	return s;
}

KC_TEST_MAIN(apiserver_fieldschema_suite)
