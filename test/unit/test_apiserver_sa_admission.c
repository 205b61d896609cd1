/* ServiceAccount admission's pure steps: shouldAutomount, the kube-api-access projected
 * volume and its mounts, and the mirror-pod rules (admission_serviceaccount.h). */
#include <stdio.h>
#include <string.h>

#include "json.h"
#include "kc_test.h"
#include "../../apiserver/admission_serviceaccount.h"

static cJSON *J(const char *s)
{
	cJSON *v = NULL;
	ck_assert_msg(kc_json_parse_str(s, &v, NULL, 0) == 0, "bad test JSON: %s", s);
	return v;
}

START_TEST(automount_preference)
{
	cJSON *pod = J("{\"spec\":{}}"), *sa = J("{}");
	ck_assert(sa_should_automount(sa, pod));
	ck_assert(sa_should_automount(NULL, pod));
	cJSON *sa_off = J("{\"automountServiceAccountToken\":false}");
	ck_assert(!sa_should_automount(sa_off, pod));
	/* The pod's preference wins over the account's, both ways. */
	cJSON *pod_on = J("{\"spec\":{\"automountServiceAccountToken\":true}}");
	cJSON *pod_off = J("{\"spec\":{\"automountServiceAccountToken\":false}}");
	ck_assert(sa_should_automount(sa_off, pod_on));
	ck_assert(!sa_should_automount(sa, pod_off));
	cJSON_Delete(pod);
	cJSON_Delete(sa);
	cJSON_Delete(sa_off);
	cJSON_Delete(pod_on);
	cJSON_Delete(pod_off);
}
END_TEST

START_TEST(projected_volume_as_upstream)
{
	cJSON *pod = J("{\"spec\":{\"initContainers\":[{\"name\":\"i\"}],\"containers\":["
		       "{\"name\":\"a\",\"volumeMounts\":[{\"name\":\"data\",\"mountPath\":\"/data\"}]},"
		       "{\"name\":\"b\",\"volumeMounts\":[{\"name\":\"mine\",\"mountPath\":"
		       "\"/var/run/secrets/kubernetes.io/serviceaccount\"}]}],"
		       "\"volumes\":[{\"name\":\"data\",\"emptyDir\":{}},{\"name\":\"mine\",\"emptyDir\":{}}]}}");
	sa_mount_token(pod, "kube-api-access-x7k2p");
	cJSON *want = J("{\"name\":\"kube-api-access-x7k2p\",\"projected\":{\"sources\":["
			"{\"serviceAccountToken\":{\"expirationSeconds\":3607,\"path\":\"token\"}},"
			"{\"configMap\":{\"name\":\"kube-root-ca.crt\",\"items\":[{\"key\":\"ca.crt\",\"path\":\"ca.crt\"}]}},"
			"{\"downwardAPI\":{\"items\":[{\"path\":\"namespace\",\"fieldRef\":{\"apiVersion\":\"v1\","
			"\"fieldPath\":\"metadata.namespace\"}}]}}],\"defaultMode\":420}}");
	ck_assert_int_eq(cJSON_GetArraySize(kc_json_get(pod, "spec.volumes")), 3);
	ck_assert(kc_json_equal(kc_json_get(pod, "spec.volumes.2"), want));
	cJSON *mount = J("{\"name\":\"kube-api-access-x7k2p\",\"readOnly\":true,"
			 "\"mountPath\":\"/var/run/secrets/kubernetes.io/serviceaccount\"}");
	/* Init container and the container without a mount there get it, appended... */
	ck_assert(kc_json_equal(kc_json_get(pod, "spec.initContainers.0.volumeMounts.0"), mount));
	ck_assert_int_eq(cJSON_GetArraySize(kc_json_get(pod, "spec.containers.0.volumeMounts")), 2);
	ck_assert(kc_json_equal(kc_json_get(pod, "spec.containers.0.volumeMounts.1"), mount));
	/* ...a container with its own mount at the path keeps only its own. */
	ck_assert_int_eq(cJSON_GetArraySize(kc_json_get(pod, "spec.containers.1.volumeMounts")), 1);
	ck_assert_str_eq(kc_json_get_string(pod, "spec.containers.1.volumeMounts.0.name", ""), "mine");
	cJSON_Delete(want);
	cJSON_Delete(mount);
	cJSON_Delete(pod);
}
END_TEST

START_TEST(existing_volume_reused_or_none_needed)
{
	/* A kube-api-access-* volume already there is reused by name, not added twice. */
	cJSON *pod = J("{\"spec\":{\"containers\":[{\"name\":\"a\"}],"
		       "\"volumes\":[{\"name\":\"kube-api-access-aaaaa\",\"projected\":{\"sources\":[]}}]}}");
	sa_mount_token(pod, "kube-api-access-bbbbb");
	ck_assert_int_eq(cJSON_GetArraySize(kc_json_get(pod, "spec.volumes")), 1);
	ck_assert_str_eq(kc_json_get_string(pod, "spec.containers.0.volumeMounts.0.name", ""),
			 "kube-api-access-aaaaa");
	cJSON_Delete(pod);
	/* Every container mounts something at the path: no volume at all. */
	pod = J("{\"spec\":{\"containers\":[{\"name\":\"a\",\"volumeMounts\":[{\"name\":\"s\","
		"\"mountPath\":\"/var/run/secrets/kubernetes.io/serviceaccount\"}]}]}}");
	sa_mount_token(pod, "kube-api-access-ccccc");
	ck_assert_ptr_null(kc_json_get(pod, "spec.volumes"));
	ck_assert_int_eq(cJSON_GetArraySize(kc_json_get(pod, "spec.containers.0.volumeMounts")), 1);
	cJSON_Delete(pod);
}
END_TEST

START_TEST(mirror_pod_rules)
{
	cJSON *ok = J("{\"spec\":{\"containers\":[{\"name\":\"a\"}],\"volumes\":[{\"name\":\"c\","
		      "\"configMap\":{\"name\":\"x\"}}]}}");
	ck_assert_ptr_null(sa_mirror_pod_error(ok));
	cJSON *sa = J("{\"spec\":{\"serviceAccountName\":\"default\",\"containers\":[{\"name\":\"a\"}]}}");
	ck_assert_str_eq(sa_mirror_pod_error(sa), "a mirror pod may not reference service accounts");
	cJSON *sec = J("{\"spec\":{\"containers\":[{\"name\":\"a\",\"env\":[{\"name\":\"P\",\"valueFrom\":"
		       "{\"secretKeyRef\":{\"name\":\"s\",\"key\":\"k\"}}}]}]}}");
	ck_assert_str_eq(sa_mirror_pod_error(sec), "a mirror pod may not reference secrets");
	cJSON *vol = J("{\"spec\":{\"containers\":[{\"name\":\"a\"}],\"volumes\":[{\"name\":\"s\","
		       "\"secret\":{\"secretName\":\"s\"}}]}}");
	ck_assert_str_eq(sa_mirror_pod_error(vol), "a mirror pod may not reference secrets");
	cJSON *tok = J("{\"spec\":{\"containers\":[{\"name\":\"a\"}],\"volumes\":[{\"name\":\"t\","
		       "\"projected\":{\"sources\":[{\"serviceAccountToken\":{\"path\":\"t\"}}]}}]}}");
	ck_assert_str_eq(sa_mirror_pod_error(tok),
			 "a mirror pod may not use ServiceAccountToken volume projections");
	cJSON_Delete(ok);
	cJSON_Delete(sa);
	cJSON_Delete(sec);
	cJSON_Delete(vol);
	cJSON_Delete(tok);
}
END_TEST

static Suite *apiserver_sa_admission_suite(void)
{
	Suite *s = suite_create("apiserver_sa_admission");
	TCase *tc = tcase_create("sa_admission");
	tcase_add_test(tc, automount_preference);
	tcase_add_test(tc, projected_volume_as_upstream);
	tcase_add_test(tc, existing_volume_reused_or_none_needed);
	tcase_add_test(tc, mirror_pod_rules);
	suite_add_tcase(s, tc);
	return s;
}

KC_TEST_MAIN(apiserver_sa_admission_suite)
