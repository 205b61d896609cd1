/* Patches as kube-apiserver applies them: RFC 7386, RFC 6902 and strategic merge patch. */
#include <string.h>

#include "errors.h"
#include "json.h"
#include "kc_test.h"
#include "../../apiserver/patch.h"

static cJSON *J(const char *s)
{
	cJSON *v = NULL;
	ck_assert_msg(kc_json_parse_str(s, &v, NULL, 0) == 0, "bad test JSON: %s", s);
	return v;
}

/* Asserts that applying fn(doc, patch) yields want (compared as JSON values). */
#define CHECK_PATCH(call, want_s)                                                    \
	do {                                                                         \
		cJSON *out_ = NULL;                                                  \
		char err_[256] = "";                                                 \
		int rc_ = (call);                                                    \
		ck_assert_msg(rc_ == 0, "patch failed: %s", err_);                   \
		cJSON *want_ = J(want_s);                                            \
		char *got_ = kc_json_print(out_);                                    \
		ck_assert_msg(kc_json_equal(out_, want_), "got %s", got_);           \
		free(got_);                                                          \
		cJSON_Delete(want_);                                                 \
		cJSON_Delete(out_);                                                  \
	} while (0)

START_TEST(merge_patch_null_deletes_and_lists_replace)
{
	cJSON *doc = J("{\"metadata\":{\"labels\":{\"a\":\"1\",\"b\":\"2\"}},"
		       "\"spec\":{\"args\":[\"x\",\"y\"],\"n\":1}}");
	cJSON *p = J("{\"metadata\":{\"labels\":{\"a\":null,\"c\":\"3\"}},\"spec\":{\"args\":[\"z\"]}}");
	CHECK_PATCH(patch_merge(doc, p, &out_, err_, sizeof(err_)),
		    "{\"metadata\":{\"labels\":{\"b\":\"2\",\"c\":\"3\"}},"
		    "\"spec\":{\"args\":[\"z\"],\"n\":1}}");
	cJSON *bad = J("[1]");
	cJSON *out = NULL;
	char err[128];
	ck_assert_int_eq(patch_merge(doc, bad, &out, err, sizeof(err)), KC_EPARSE);
	ck_assert_ptr_null(out);
	cJSON_Delete(bad);
	cJSON_Delete(doc);
	cJSON_Delete(p);
}
END_TEST

START_TEST(json_patch_operations)
{
	cJSON *doc = J("{\"spec\":{\"replicas\":1,\"list\":[\"a\",\"b\"]},"
		       "\"metadata\":{\"annotations\":{\"x/y\":\"1\"}}}");
	cJSON *p = J("[{\"op\":\"replace\",\"path\":\"/spec/replicas\",\"value\":3},"
		     "{\"op\":\"add\",\"path\":\"/spec/list/-\",\"value\":\"c\"},"
		     "{\"op\":\"add\",\"path\":\"/spec/list/0\",\"value\":\"z\"},"
		     "{\"op\":\"remove\",\"path\":\"/metadata/annotations/x~1y\"},"
		     "{\"op\":\"copy\",\"from\":\"/spec/replicas\",\"path\":\"/spec/copy\"},"
		     "{\"op\":\"move\",\"from\":\"/spec/copy\",\"path\":\"/spec/moved\"},"
		     "{\"op\":\"test\",\"path\":\"/spec/moved\",\"value\":3}]");
	CHECK_PATCH(patch_json(doc, p, &out_, err_, sizeof(err_)),
		    "{\"spec\":{\"replicas\":3,\"list\":[\"z\",\"a\",\"b\",\"c\"],\"moved\":3},"
		    "\"metadata\":{\"annotations\":{}}}");
	cJSON_Delete(p);
	cJSON_Delete(doc);
}
END_TEST

START_TEST(json_patch_failures_leave_no_result)
{
	cJSON *doc = J("{\"spec\":{\"replicas\":1}}");
	cJSON *out = NULL;
	char err[256];
	cJSON *t = J("[{\"op\":\"test\",\"path\":\"/spec/replicas\",\"value\":2}]");
	ck_assert_int_eq(patch_json(doc, t, &out, err, sizeof(err)), KC_EINVALID);
	ck_assert_ptr_null(out);
	ck_assert_str_eq(err, "testing value /spec/replicas failed: test failed");
	cJSON *m = J("[{\"op\":\"replace\",\"path\":\"/spec/nope\",\"value\":2}]");
	ck_assert_int_eq(patch_json(doc, m, &out, err, sizeof(err)), KC_EINVALID);
	cJSON *r = J("[{\"op\":\"remove\",\"path\":\"/metadata\"}]");
	ck_assert_int_eq(patch_json(doc, r, &out, err, sizeof(err)), KC_EINVALID);
	cJSON *o = J("{\"op\":\"add\"}");
	ck_assert_int_eq(patch_json(doc, o, &out, err, sizeof(err)), KC_EPARSE);
	cJSON *u = J("[{\"op\":\"frobnicate\",\"path\":\"/spec\"}]");
	ck_assert_int_eq(patch_json(doc, u, &out, err, sizeof(err)), KC_EPARSE);
	ck_assert_str_eq(err, "Unexpected kind: frobnicate");
	/* The document itself is untouched. */
	ck_assert_int_eq(kc_json_get_int64(doc, "spec.replicas", 0), 1);
	cJSON_Delete(t);
	cJSON_Delete(m);
	cJSON_Delete(r);
	cJSON_Delete(o);
	cJSON_Delete(u);
	cJSON_Delete(doc);
}
END_TEST

static const char *const DEPLOY =
	"{\"spec\":{\"template\":{\"spec\":{\"containers\":["
	"{\"name\":\"web\",\"image\":\"nginx:1.25\",\"ports\":[{\"containerPort\":80,\"protocol\":\"TCP\"}],"
	"\"env\":[{\"name\":\"A\",\"value\":\"1\"},{\"name\":\"B\",\"value\":\"2\"}],"
	"\"args\":[\"-a\",\"-b\"]},"
	"{\"name\":\"side\",\"image\":\"busybox\"}]}}}}";

START_TEST(smp_merges_containers_by_name)
{
	cJSON *doc = J(DEPLOY);
	/* kubectl set image: only the changed container, with $setElementOrder. */
	cJSON *p = J("{\"spec\":{\"template\":{\"spec\":{\"$setElementOrder/containers\":"
		     "[{\"name\":\"web\"},{\"name\":\"side\"}],\"containers\":[{\"image\":\"nginx:1.27\","
		     "\"name\":\"web\"}]}}}}");
	CHECK_PATCH(patch_strategic(doc, p, "Deployment", &out_, err_, sizeof(err_)),
		    "{\"spec\":{\"template\":{\"spec\":{\"containers\":["
		    "{\"name\":\"web\",\"image\":\"nginx:1.27\",\"ports\":[{\"containerPort\":80,"
		    "\"protocol\":\"TCP\"}],\"env\":[{\"name\":\"A\",\"value\":\"1\"},{\"name\":\"B\","
		    "\"value\":\"2\"}],\"args\":[\"-a\",\"-b\"]},"
		    "{\"name\":\"side\",\"image\":\"busybox\"}]}}}}");
	cJSON_Delete(p);
	cJSON_Delete(doc);
}
END_TEST

START_TEST(smp_nested_keys_and_atomic_lists)
{
	cJSON *doc = J(DEPLOY);
	/* env merges by name, ports by containerPort, args (no merge key) is replaced. */
	cJSON *p = J("{\"spec\":{\"template\":{\"spec\":{\"containers\":[{\"name\":\"web\","
		     "\"env\":[{\"name\":\"B\",\"value\":\"3\"},{\"name\":\"C\",\"value\":\"4\"}],"
		     "\"ports\":[{\"containerPort\":443}],\"args\":[\"-c\"]}]}}}}");
	CHECK_PATCH(patch_strategic(doc, p, "Deployment", &out_, err_, sizeof(err_)),
		    "{\"spec\":{\"template\":{\"spec\":{\"containers\":["
		    "{\"name\":\"web\",\"image\":\"nginx:1.25\",\"ports\":[{\"containerPort\":80,"
		    "\"protocol\":\"TCP\"},{\"containerPort\":443}],\"env\":[{\"name\":\"A\","
		    "\"value\":\"1\"},{\"name\":\"B\",\"value\":\"3\"},{\"name\":\"C\",\"value\":\"4\"}],"
		    "\"args\":[\"-c\"]},{\"name\":\"side\",\"image\":\"busybox\"}]}}}}");
	cJSON_Delete(p);
	cJSON_Delete(doc);
}
END_TEST

START_TEST(smp_patch_directives)
{
	cJSON *doc = J(DEPLOY);
	/* $patch: delete removes one element by its merge key. */
	cJSON *del = J("{\"spec\":{\"template\":{\"spec\":{\"containers\":[{\"name\":\"side\","
		       "\"$patch\":\"delete\"}]}}}}");
	cJSON *out = NULL;
	char err[256];
	ck_assert_int_eq(patch_strategic(doc, del, "Deployment", &out, err, sizeof(err)), 0);
	cJSON *cs = kc_json_get(out, "spec.template.spec.containers");
	ck_assert_int_eq(cJSON_GetArraySize(cs), 1);
	ck_assert_str_eq(kc_json_get_string(out, "spec.template.spec.containers.0.name", ""), "web");
	cJSON_Delete(out);
	/* $patch: replace on a list replaces it wholesale. */
	cJSON *rep = J("{\"spec\":{\"template\":{\"spec\":{\"containers\":[{\"name\":\"only\","
		       "\"image\":\"x\"},{\"$patch\":\"replace\"}]}}}}");
	CHECK_PATCH(patch_strategic(doc, rep, "Deployment", &out_, err_, sizeof(err_)),
		    "{\"spec\":{\"template\":{\"spec\":{\"containers\":[{\"name\":\"only\","
		    "\"image\":\"x\"}]}}}}");
	/* $patch: replace on a map. */
	cJSON *mrep = J("{\"spec\":{\"template\":{\"$patch\":\"replace\",\"metadata\":{}}}}");
	CHECK_PATCH(patch_strategic(doc, mrep, "Deployment", &out_, err_, sizeof(err_)),
		    "{\"spec\":{\"template\":{\"metadata\":{}}}}");
	cJSON_Delete(del);
	cJSON_Delete(rep);
	cJSON_Delete(mrep);
	cJSON_Delete(doc);
}
END_TEST

START_TEST(smp_retain_keys_order_and_primitive_lists)
{
	cJSON *doc = J("{\"metadata\":{\"finalizers\":[\"a\",\"b\"]},\"spec\":{\"strategy\":{"
		       "\"type\":\"RollingUpdate\",\"rollingUpdate\":{\"maxSurge\":\"25%\"}},"
		       "\"list\":[\"x\",\"y\",\"z\"]}}");
	cJSON *p = J("{\"metadata\":{\"finalizers\":[\"b\",\"c\"]},\"spec\":{\"strategy\":{"
		     "\"$retainKeys\":[\"type\"],\"type\":\"Recreate\",\"rollingUpdate\":null},"
		     "\"$deleteFromPrimitiveList/list\":[\"y\"]}}");
	CHECK_PATCH(patch_strategic(doc, p, "Deployment", &out_, err_, sizeof(err_)),
		    "{\"metadata\":{\"finalizers\":[\"a\",\"b\",\"c\"]},\"spec\":{\"strategy\":"
		    "{\"type\":\"Recreate\"},\"list\":[\"x\",\"z\"]}}");
	/* $setElementOrder reorders merged elements. */
	cJSON *p2 = J("{\"$setElementOrder/containers\":[{\"name\":\"b\"},{\"name\":\"a\"}],"
		      "\"containers\":[{\"name\":\"a\",\"image\":\"i\"}]}");
	cJSON *d3 = J("{\"containers\":[{\"name\":\"a\"},{\"name\":\"b\"}]}");
	CHECK_PATCH(patch_strategic(d3, p2, "Pod", &out_, err_, sizeof(err_)),
		    "{\"containers\":[{\"name\":\"b\"},{\"name\":\"a\",\"image\":\"i\"}]}");
	cJSON_Delete(d3);
	cJSON_Delete(p2);
	cJSON_Delete(p);
	cJSON_Delete(doc);
}
END_TEST

START_TEST(smp_service_ports_merge_on_port)
{
	cJSON *doc = J("{\"spec\":{\"ports\":[{\"port\":80,\"targetPort\":8080,\"name\":\"http\"}],"
		       "\"selector\":{\"app\":\"web\"}}}");
	cJSON *p = J("{\"spec\":{\"ports\":[{\"port\":80,\"targetPort\":9090},{\"port\":443,"
		     "\"name\":\"https\"}]}}");
	CHECK_PATCH(patch_strategic(doc, p, "Service", &out_, err_, sizeof(err_)),
		    "{\"spec\":{\"ports\":[{\"port\":80,\"targetPort\":9090,\"name\":\"http\"},"
		    "{\"port\":443,\"name\":\"https\"}],\"selector\":{\"app\":\"web\"}}}");
	/* A merge-keyed list element without its key is an error, not a silent append. */
	cJSON *bad = J("{\"spec\":{\"template\":{\"spec\":{\"containers\":[{\"image\":\"x\"}]}}}}");
	cJSON *out = NULL;
	char err[256];
	cJSON *d2 = J(DEPLOY);
	ck_assert_int_eq(patch_strategic(d2, bad, "Deployment", &out, err, sizeof(err)),
			 KC_EINVALID);
	ck_assert_ptr_null(out);
	cJSON_Delete(d2);
	cJSON_Delete(bad);
	cJSON_Delete(p);
	cJSON_Delete(doc);
}
END_TEST

static Suite *apiserver_patch_suite(void)
{
	Suite *s = suite_create("apiserver_patch");
	TCase *tc = tcase_create("patch");
	tcase_add_test(tc, merge_patch_null_deletes_and_lists_replace);
	tcase_add_test(tc, json_patch_operations);
	tcase_add_test(tc, json_patch_failures_leave_no_result);
	tcase_add_test(tc, smp_merges_containers_by_name);
	tcase_add_test(tc, smp_nested_keys_and_atomic_lists);
	tcase_add_test(tc, smp_patch_directives);
	tcase_add_test(tc, smp_retain_keys_order_and_primitive_lists);
	tcase_add_test(tc, smp_service_ports_merge_on_port);
	suite_add_tcase(s, tc);
	return s;
}

KC_TEST_MAIN(apiserver_patch_suite)
