/* The informers' transform (controller-manager/transform.h): what each resource keeps,
 * and that pooled strings survive copies, deletes and the controllers' JSON edits. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "kc_test.h"
#include "meta.h"

#include "../../controller-manager/controller.h"
#include "../../controller-manager/transform.h"

static cJSON *parse(const char *s)
{
	cJSON *o = NULL;
	char err[256];
	ck_assert_msg(kc_json_parse_str(s, &o, err, sizeof(err)) == 0, "%s", err);
	return o;
}

#define POD                                                                                  \
	"{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"web-1\","           \
	"\"namespace\":\"default\",\"uid\":\"u1\",\"resourceVersion\":\"7\","                 \
	"\"labels\":{\"app\":\"web\"},\"annotations\":{\"a\":\"b\"},"                         \
	"\"finalizers\":[\"foregroundDeletion\"],"                                            \
	"\"ownerReferences\":[{\"apiVersion\":\"apps/v1\",\"kind\":\"ReplicaSet\","            \
	"\"name\":\"web\",\"uid\":\"r1\",\"controller\":true}],"                              \
	"\"managedFields\":[{\"manager\":\"m\",\"fieldsV1\":{\"f:spec\":{}}}]},"               \
	"\"spec\":{\"nodeName\":\"n1\",\"hostname\":\"h\",\"subdomain\":\"s\","               \
	"\"restartPolicy\":\"Never\",\"schedulerName\":\"default-scheduler\","                \
	"\"priority\":0,\"volumes\":[{\"name\":\"v\",\"emptyDir\":{}}],"                      \
	"\"tolerations\":[{\"key\":\"node.kubernetes.io/unreachable\",\"operator\":"          \
	"\"Exists\",\"effect\":\"NoExecute\",\"tolerationSeconds\":300}],"                    \
	"\"containers\":[{\"name\":\"c\",\"image\":\"nginx\",\"env\":[{\"name\":\"X\","       \
	"\"value\":\"1\"}],\"ports\":[{\"name\":\"http\",\"containerPort\":8080}]}],"         \
	"\"initContainers\":[{\"name\":\"i\",\"image\":\"busybox\",\"restartPolicy\":"        \
	"\"Always\"}]},"                                                                       \
	"\"status\":{\"phase\":\"Running\",\"podIP\":\"10.0.0.1\",\"conditions\":[{\"type\":"  \
	"\"Ready\",\"status\":\"True\"}],\"containerStatuses\":[{\"name\":\"c\","              \
	"\"restartCount\":2,\"image\":\"nginx\"}]}}"

/* Pods keep metadata (without managedFields), status, and the spec fields the
 * controllers read; the rest of the spec goes. */
START_TEST(pod_keeps_what_controllers_read)
{
	cm_strpool pool;
	ck_assert_int_eq(cm_strpool_init(&pool, 0, 0), 0);
	cJSON *pod = parse(POD);
	cm_transform_object("pods", pod, &pool);
	cJSON *want = parse(
		"{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"web-1\","
		"\"namespace\":\"default\",\"uid\":\"u1\",\"resourceVersion\":\"7\","
		"\"labels\":{\"app\":\"web\"},\"annotations\":{\"a\":\"b\"},"
		"\"finalizers\":[\"foregroundDeletion\"],"
		"\"ownerReferences\":[{\"apiVersion\":\"apps/v1\",\"kind\":\"ReplicaSet\","
		"\"name\":\"web\",\"uid\":\"r1\",\"controller\":true}]},"
		"\"spec\":{\"nodeName\":\"n1\",\"hostname\":\"h\",\"subdomain\":\"s\","
		"\"restartPolicy\":\"Never\","
		"\"tolerations\":[{\"key\":\"node.kubernetes.io/unreachable\",\"operator\":"
		"\"Exists\",\"effect\":\"NoExecute\",\"tolerationSeconds\":300}],"
		"\"containers\":[{\"name\":\"c\",\"ports\":[{\"name\":\"http\","
		"\"containerPort\":8080}]}],"
		"\"initContainers\":[{\"name\":\"i\",\"restartPolicy\":\"Always\"}]},"
		"\"status\":{\"phase\":\"Running\",\"podIP\":\"10.0.0.1\",\"conditions\":[{\"type\":"
		"\"Ready\",\"status\":\"True\"}],\"containerStatuses\":[{\"name\":\"c\","
		"\"restartCount\":2,\"image\":\"nginx\"}]}}");
	char *got = kc_json_print(pod);
	ck_assert_msg(kc_json_equal(pod, want), "%s", got);
	free(got);
	/* what the controllers ask of a pod still answers */
	ck_assert(cm_pod_ready(pod));
	ck_assert_str_eq(kc_meta_controller_ref(pod) ? "ok" : "none", "ok");
	ck_assert_int_eq(cm_int(pod, "status.containerStatuses.0.restartCount", -1), 2);
	cJSON_Delete(want);
	cJSON_Delete(pod);
	cm_strpool_close(&pool);
}
END_TEST

/* Objects written back in full (ReplicaSets, Deployments, nodes...) lose only
 * managedFields; GC-only kinds keep metadata; the root CA ConfigMap keeps its data. */
START_TEST(per_resource_rules)
{
	cm_strpool pool;
	ck_assert_int_eq(cm_strpool_init(&pool, 0, 0), 0);
	const char *rs_json =
		"{\"metadata\":{\"name\":\"web\",\"namespace\":\"d\",\"managedFields\":[{}]},"
		"\"spec\":{\"replicas\":3,\"template\":{\"spec\":{\"containers\":[{\"name\":\"c\","
		"\"image\":\"nginx\"}]}}},\"status\":{\"replicas\":3}}";
	cJSON *rs = parse(rs_json);
	cm_transform_object("replicasets", rs, &pool);
	cJSON *want = parse(rs_json);
	kc_json_delete(want, "metadata.managedFields");
	ck_assert(kc_json_equal(rs, want));
	cJSON_Delete(want);
	cJSON_Delete(rs);

	cJSON *cm = parse("{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":"
			  "\"app\",\"namespace\":\"d\",\"ownerReferences\":[{\"uid\":\"x\"}]},"
			  "\"data\":{\"big\":\"xxxxxxxx\"}}");
	cm_transform_object("configmaps", cm, &pool);
	ck_assert_ptr_null(kc_json_get(cm, "data"));
	ck_assert_str_eq(kc_json_get_string(cm, "metadata.ownerReferences.0.uid", ""), "x");
	ck_assert_str_eq(kc_json_get_string(cm, "kind", ""), "ConfigMap");
	cJSON_Delete(cm);
	cm = parse("{\"metadata\":{\"name\":\"kube-root-ca.crt\",\"namespace\":\"d\"},"
		   "\"data\":{\"ca.crt\":\"PEM\"}}");
	cm_transform_object("configmaps", cm, &pool);
	ck_assert_ptr_nonnull(kc_json_get(cm, "data"));
	cJSON_Delete(cm);

	cJSON *ss = parse("{\"metadata\":{\"name\":\"db\"},\"spec\":{\"replicas\":2,"
			  "\"selector\":{},\"template\":{\"spec\":{}}},\"status\":{\"x\":1}}");
	cm_transform_object("statefulsets", ss, &pool);
	ck_assert_int_eq(cm_int(ss, "spec.replicas", 0), 2);
	ck_assert_ptr_null(kc_json_get(ss, "spec.template"));
	ck_assert_ptr_null(kc_json_get(ss, "status"));
	cJSON_Delete(ss);
	cm_strpool_close(&pool);
}
END_TEST

/* Pooled keys and values: shared between objects, left alone by cJSON_Delete, copied
 * correctly, and the controllers' edits of copies (cm_json_replace, set, delete) neither
 * free nor change pool strings. */
START_TEST(pooled_strings_are_safe)
{
	cm_strpool pool;
	ck_assert_int_eq(cm_strpool_init(&pool, 0, 0), 0);
	cJSON *a = parse(POD), *b = parse(POD);
	cm_transform_object("pods", a, &pool);
	cm_transform_object("pods", b, &pool);
	/* the same key and the same pooled value are one string */
	ck_assert_ptr_eq(kc_json_get(a, "metadata")->string, kc_json_get(b, "metadata")->string);
	ck_assert_ptr_eq(kc_json_get(a, "status.phase")->valuestring,
			 kc_json_get(b, "status.phase")->valuestring);
	/* unique values are each object's own */
	ck_assert_ptr_ne(kc_json_get(a, "metadata.name")->valuestring,
			 kc_json_get(b, "metadata.name")->valuestring);
	size_t pooled = cm_strpool_len(&pool);
	ck_assert_uint_gt(pooled, 10);

	/* a copy edited the way syncs do */
	cJSON *c = kc_json_dup(a);
	ck_assert(kc_json_equal(a, c));
	kc_json_set_string(c, "status.phase", "Failed");
	kc_json_delete(c, "metadata.labels");
	cm_json_replace(c, kc_json_dup(b));
	ck_assert(kc_json_equal(c, b));
	cJSON_Delete(c);
	cJSON_Delete(a);
	/* b is intact after a and its copies went */
	ck_assert_str_eq(kc_json_get_string(b, "status.phase", ""), "Running");
	ck_assert_str_eq(kc_json_get_string(b, "spec.tolerations.0.effect", ""), "NoExecute");
	char *s = kc_json_print(b);
	ck_assert_ptr_nonnull(strstr(s, "\"ownerReferences\""));
	free(s);
	cJSON_Delete(b);
	ck_assert_uint_eq(cm_strpool_len(&pool), pooled);
	cm_strpool_close(&pool);
}
END_TEST

/* The pool is bounded: past max_n strings, or longer than max_len, nothing is added and
 * the transform falls back to private copies. */
START_TEST(pool_is_bounded)
{
	cm_strpool pool;
	ck_assert_int_eq(cm_strpool_init(&pool, 4, 8), 0);
	const char *k1 = cm_strpool_intern(&pool, "one");
	ck_assert_ptr_nonnull(k1);
	ck_assert_ptr_eq(cm_strpool_intern(&pool, "one"), k1);
	ck_assert_ptr_null(cm_strpool_intern(&pool, "longer than eight"));
	ck_assert_ptr_nonnull(cm_strpool_intern(&pool, "two"));
	ck_assert_ptr_nonnull(cm_strpool_intern(&pool, "three"));
	ck_assert_ptr_nonnull(cm_strpool_intern(&pool, "four"));
	ck_assert_ptr_null(cm_strpool_intern(&pool, "five"));
	ck_assert_uint_eq(cm_strpool_len(&pool), 4);
	/* a transform with a full pool still produces an equal object */
	cJSON *pod = parse(POD), *want = parse(POD);
	cm_transform_object("pods", pod, &pool);
	cm_transform_object("pods", want, NULL);
	ck_assert(kc_json_equal(pod, want));
	cJSON_Delete(pod);
	cJSON_Delete(want);
	cm_strpool_close(&pool);
}
END_TEST

static Suite *cm_transform_suite(void)
{
	Suite *s = suite_create("cm_transform");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, pod_keeps_what_controllers_read);
	tcase_add_test(tc, per_resource_rules);
	tcase_add_test(tc, pooled_strings_are_safe);
	tcase_add_test(tc, pool_is_bounded);
	suite_add_tcase(s, tc);
	return s;
}

KC_TEST_MAIN(cm_transform_suite)
