/* Defaulting and validation of the descriptors, and the 422 Status kubectl formats. */
#include <string.h>

#include "json.h"
#include "kc_test.h"
#include "../../apiserver/resource.h"
#include "../../apiserver/status.h"

static cJSON *J(const char *s)
{
	cJSON *v = NULL;
	ck_assert_msg(kc_json_parse_str(s, &v, NULL, 0) == 0, "bad test JSON: %s", s);
	return v;
}

static const res_cause *find_cause(const res_errs *e, const char *field)
{
	for (int i = 0; i < e->n; i++)
		if (!strcmp(e->c[i].field, field))
			return &e->c[i];
	return NULL;
}

START_TEST(pod_defaults_follow_upstream)
{
	cJSON *pod = J("{\"metadata\":{\"name\":\"p\"},\"spec\":{\"containers\":["
		       "{\"name\":\"a\",\"image\":\"nginx\"},{\"name\":\"b\",\"image\":\"nginx:1.25\","
		       "\"ports\":[{\"containerPort\":80}]},{\"name\":\"c\",\"image\":\"r/x:latest\"}]}}");
	res_pods.defaults(pod);
	ck_assert_str_eq(kc_json_get_string(pod, "spec.containers.0.imagePullPolicy", ""), "Always");
	ck_assert_str_eq(kc_json_get_string(pod, "spec.containers.1.imagePullPolicy", ""),
			 "IfNotPresent");
	ck_assert_str_eq(kc_json_get_string(pod, "spec.containers.2.imagePullPolicy", ""), "Always");
	ck_assert_str_eq(kc_json_get_string(pod, "spec.containers.1.ports.0.protocol", ""), "TCP");
	ck_assert_str_eq(kc_json_get_string(pod, "spec.containers.0.terminationMessagePath", ""),
			 "/dev/termination-log");
	ck_assert_str_eq(kc_json_get_string(pod, "spec.restartPolicy", ""), "Always");
	ck_assert_str_eq(kc_json_get_string(pod, "spec.dnsPolicy", ""), "ClusterFirst");
	ck_assert_str_eq(kc_json_get_string(pod, "spec.schedulerName", ""), "default-scheduler");
	/* serviceAccountName is ServiceAccount admission's (create only), not defaulting's. */
	ck_assert_ptr_null(kc_json_get(pod, "spec.serviceAccountName"));
	ck_assert_int_eq(kc_json_get_int64(pod, "spec.terminationGracePeriodSeconds", 0), 30);
	ck_assert_int_eq(cJSON_GetArraySize(kc_json_get(pod, "spec.tolerations")), 2);
	ck_assert_str_eq(kc_json_get_string(pod, "status.phase", ""), "Pending");
	cJSON_Delete(pod);
}
END_TEST

START_TEST(pod_qos_class)
{
	static const struct {
		const char *spec, *qos;
	} cases[] = {
		{ "{\"containers\":[{\"name\":\"a\",\"image\":\"x\"}]}", "BestEffort" },
		{ "{\"containers\":[{\"name\":\"a\",\"image\":\"x\",\"resources\":{\"limits\":"
		  "{\"cpu\":\"1\",\"memory\":\"1Gi\"}}}]}", "Guaranteed" },
		{ "{\"containers\":[{\"name\":\"a\",\"image\":\"x\",\"resources\":{\"requests\":"
		  "{\"cpu\":\"100m\"}}}]}", "Burstable" },
		{ "{\"containers\":[{\"name\":\"a\",\"image\":\"x\",\"resources\":{\"limits\":"
		  "{\"cpu\":\"1\",\"memory\":\"1Gi\"},\"requests\":{\"cpu\":\"500m\"}}}]}", "Burstable" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cJSON *pod = cJSON_CreateObject();
		cJSON_AddItemToObject(pod, "spec", J(cases[i].spec));
		res_pods.defaults(pod);
		ck_assert_str_eq(kc_json_get_string(pod, "status.qosClass", ""), cases[i].qos);
		cJSON_Delete(pod);
	}
}
END_TEST

START_TEST(pod_validation_causes)
{
	cJSON *pod = J("{\"metadata\":{\"name\":\"web\"},\"spec\":{\"restartPolicy\":\"Sometimes\","
		       "\"containers\":[{\"name\":\"web\"},{\"name\":\"web\",\"image\":\"x\"},"
		       "{\"name\":\"Bad_Name\",\"image\":\"x\"}]}}");
	res_errs e = { 0 };
	res_pods.validate(pod, NULL, &e);
	const res_cause *c = find_cause(&e, "spec.containers[0].image");
	ck_assert_ptr_nonnull(c);
	ck_assert_str_eq(c->reason, "FieldValueRequired");
	ck_assert_str_eq(c->message, "Required value");
	c = find_cause(&e, "spec.restartPolicy");
	ck_assert_ptr_nonnull(c);
	ck_assert_str_eq(c->reason, "FieldValueNotSupported");
	ck_assert_str_eq(c->message, "Unsupported value: \"Sometimes\": supported values: "
				     "\"Always\", \"OnFailure\", \"Never\"");
	c = find_cause(&e, "spec.containers[1].name");
	ck_assert_ptr_nonnull(c);
	ck_assert_str_eq(c->reason, "FieldValueDuplicate");
	c = find_cause(&e, "spec.containers[2].name");
	ck_assert_ptr_nonnull(c);
	ck_assert(strstr(c->message, "a lowercase RFC 1123 label must consist of") != NULL);
	cJSON *none = J("{\"spec\":{}}");
	res_errs e2 = { 0 };
	res_pods.validate(none, NULL, &e2);
	ck_assert_ptr_nonnull(find_cause(&e2, "spec.containers"));
	cJSON_Delete(none);
	cJSON_Delete(pod);
}
END_TEST

START_TEST(invalid_status_is_what_kubectl_formats)
{
	res_errs e = { 0 };
	res_err_required(&e, "spec.containers[0].image");
	cJSON *st = st_invalid(&res_pods, "web", &e);
	ck_assert_int_eq(st_code(st), 422);
	ck_assert_str_eq(kc_json_get_string(st, "reason", ""), "Invalid");
	ck_assert_str_eq(kc_json_get_string(st, "details.kind", ""), "Pod");
	ck_assert_str_eq(kc_json_get_string(st, "details.name", ""), "web");
	ck_assert_str_eq(kc_json_get_string(st, "message", ""),
			 "Pod \"web\" is invalid: spec.containers[0].image: Required value");
	ck_assert_str_eq(kc_json_get_string(st, "details.causes.0.field", ""),
			 "spec.containers[0].image");
	cJSON_Delete(st);
	res_err(&e, "FieldValueInvalid", "spec.replicas", "Invalid value: -1: must be greater "
							   "than or equal to 0");
	st = st_invalid(&res_deployments, "d", &e);
	ck_assert_str_eq(kc_json_get_string(st, "message", ""),
			 "Deployment.apps \"d\" is invalid: [spec.containers[0].image: Required "
			 "value, spec.replicas: Invalid value: -1: must be greater than or equal "
			 "to 0]");
	ck_assert_str_eq(kc_json_get_string(st, "details.group", ""), "apps");
	cJSON_Delete(st);
	st = st_not_found(&res_deployments, "web");
	ck_assert_str_eq(kc_json_get_string(st, "message", ""),
			 "deployments.apps \"web\" not found");
	ck_assert_int_eq(st_code(st), 404);
	cJSON_Delete(st);
	st = st_conflict(&res_pods, "x", ST_MODIFIED);
	ck_assert_str_eq(kc_json_get_string(st, "message", ""),
			 "Operation cannot be fulfilled on pods \"x\": the object has been "
			 "modified; please apply your changes to the latest version and try again");
	cJSON_Delete(st);
}
END_TEST

START_TEST(deployment_defaults_and_selector)
{
	cJSON *d = J("{\"metadata\":{\"name\":\"web\"},\"spec\":{\"selector\":{\"matchLabels\":"
		     "{\"app\":\"web\"}},\"template\":{\"metadata\":{\"labels\":{\"app\":\"other\"}},"
		     "\"spec\":{\"containers\":[{\"name\":\"web\",\"image\":\"nginx\"}]}}}}");
	res_deployments.defaults(d);
	ck_assert_int_eq(kc_json_get_int64(d, "spec.replicas", 0), 1);
	ck_assert_str_eq(kc_json_get_string(d, "spec.strategy.type", ""), "RollingUpdate");
	ck_assert_str_eq(kc_json_get_string(d, "spec.strategy.rollingUpdate.maxSurge", ""), "25%");
	ck_assert_str_eq(kc_json_get_string(d, "spec.strategy.rollingUpdate.maxUnavailable", ""),
			 "25%");
	ck_assert_int_eq(kc_json_get_int64(d, "spec.revisionHistoryLimit", 0), 10);
	ck_assert_int_eq(kc_json_get_int64(d, "spec.progressDeadlineSeconds", 0), 600);
	res_errs e = { 0 };
	res_deployments.validate(d, NULL, &e);
	const res_cause *c = find_cause(&e, "spec.template.metadata.labels");
	ck_assert_ptr_nonnull(c);
	ck_assert_str_eq(c->message, "Invalid value: map[string]string{\"app\":\"other\"}: "
				     "`selector` does not match template `labels`");
	cJSON_Delete(d);
	/* An existing replicas: 0 is kept (not defaulted to 1). */
	cJSON *z = J("{\"spec\":{\"replicas\":0}}");
	res_deployments.defaults(z);
	ck_assert_int_eq(kc_json_get_int64(z, "spec.replicas", -1), 0);
	cJSON_Delete(z);
}
END_TEST

START_TEST(names_and_services)
{
	res_errs e = { 0 };
	res_validate_name("good-name.example", 0, "metadata.name", &e);
	ck_assert_int_eq(e.n, 0);
	res_validate_name("Bad_Name", 0, "metadata.name", &e);
	ck_assert_int_eq(e.n, 1);
	ck_assert(strstr(e.c[0].message, "Invalid value: \"Bad_Name\": a lowercase RFC 1123 "
					 "subdomain") == e.c[0].message);
	res_errs e2 = { 0 };
	res_validate_name("a.b", 1, "metadata.name", &e2);
	ck_assert_int_eq(e2.n, 1);
	char long_name[70];
	memset(long_name, 'a', 64);
	long_name[64] = 0;
	res_errs e3 = { 0 };
	res_validate_name(long_name, 1, "metadata.name", &e3);
	ck_assert(strstr(e3.c[0].message, "must be no more than 63 characters") != NULL);

	cJSON *svc = J("{\"spec\":{\"ports\":[{\"port\":80}],\"selector\":{\"app\":\"web\"}}}");
	res_services.defaults(svc);
	ck_assert_str_eq(kc_json_get_string(svc, "spec.type", ""), "ClusterIP");
	ck_assert_str_eq(kc_json_get_string(svc, "spec.sessionAffinity", ""), "None");
	ck_assert_str_eq(kc_json_get_string(svc, "spec.ports.0.protocol", ""), "TCP");
	ck_assert_int_eq(kc_json_get_int64(svc, "spec.ports.0.targetPort", 0), 80);
	res_errs e4 = { 0 };
	res_services.validate(svc, NULL, &e4);
	ck_assert_int_eq(e4.n, 0);
	cJSON_Delete(svc);
	cJSON *bad = J("{\"spec\":{\"type\":\"Weird\",\"ports\":[{\"port\":70000}]}}");
	res_errs e5 = { 0 };
	res_services.validate(bad, NULL, &e5);
	ck_assert_ptr_nonnull(find_cause(&e5, "spec.type"));
	ck_assert_ptr_nonnull(find_cause(&e5, "spec.ports[0].port"));
	cJSON_Delete(bad);
	cJSON *sec = J("{\"type\":\"\"}");
	res_secrets.defaults(sec);
	ck_assert_str_eq(kc_json_get_string(sec, "type", ""), "Opaque");
	cJSON_Delete(sec);
}
END_TEST

START_TEST(rfc3339_times)
{
	ck_assert_int_eq(res_parse_time("2026-11-22T07:17:10Z"), 1795331830);
	ck_assert_int_eq(res_parse_time("2026-11-22T07:17:10+00:00"), 1795331830);
	ck_assert_int_eq(res_parse_time("2026-11-22T09:17:10.123+02:00"), 1795331830);
	ck_assert_int_eq(res_parse_time("yesterday"), -1);
	ck_assert_int_eq(res_parse_time("2026-11-22T07:17:10"), -1);
}
END_TEST

static Suite *apiserver_validation_suite(void)
{
	Suite *s = suite_create("apiserver_validation");
	TCase *tc = tcase_create("validation");
	tcase_add_test(tc, pod_defaults_follow_upstream);
	tcase_add_test(tc, pod_qos_class);
	tcase_add_test(tc, pod_validation_causes);
	tcase_add_test(tc, invalid_status_is_what_kubectl_formats);
	tcase_add_test(tc, deployment_defaults_and_selector);
	tcase_add_test(tc, names_and_services);
	tcase_add_test(tc, rfc3339_times);
	suite_add_tcase(s, tc);
	return s;
}

KC_TEST_MAIN(apiserver_validation_suite)
