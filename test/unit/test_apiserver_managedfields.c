/* Server-side apply and managedFields (apiserver/managedfields.c): upstream's FieldsV1
 * encoding, set algebra, path strings, conflicts with their Status, force, removal of
 * dropped fields, and Update bookkeeping. */
#include <string.h>

#include "json.h"
#include "kc_test.h"
#include "../../apiserver/managedfields.h"

static cJSON *J(const char *s)
{
	cJSON *v = NULL;
	ck_assert_msg(kc_json_parse_str(s, &v, NULL, 0) == 0, "bad test JSON: %s", s);
	return v;
}

#define CHECK_JSON(got, want_s)                                                  \
	do {                                                                     \
		cJSON *want_ = J(want_s);                                        \
		char *g_ = kc_json_print(got);                                   \
		ck_assert_msg(kc_json_equal((got), want_), "got %s", g_);        \
		free(g_);                                                        \
		cJSON_Delete(want_);                                             \
	} while (0)

/* 2026-01-02T03:04:05Z */
#define T1 1767323045000000000LL
#define T2 (T1 + 60000000000LL)

static const mf_req APPLY_A = { .manager = "kubectl", .subresource = "",
				.api_version = "apps/v1", .now_ns = T1 };

static const char *DEPLOY =
	"{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\","
	"\"metadata\":{\"name\":\"web\",\"namespace\":\"default\",\"uid\":\"u\","
	"\"resourceVersion\":\"7\",\"labels\":{\"app\":\"web\"},\"finalizers\":[\"x/y\"]},"
	"\"spec\":{\"replicas\":2,\"selector\":{\"matchLabels\":{\"app\":\"web\"}},"
	"\"template\":{\"metadata\":{\"labels\":{\"app\":\"web\"}},\"spec\":{\"containers\":"
	"[{\"name\":\"nginx\",\"image\":\"nginx\",\"args\":[\"a\"],"
	"\"ports\":[{\"containerPort\":80}],\"env\":[{\"name\":\"A\",\"value\":\"1\"}]}]}}},"
	"\"status\":{\"replicas\":2}}";

START_TEST(fieldset_uses_upstream_fieldsv1_encoding)
{
	cJSON *obj = J(DEPLOY);
	cJSON *s = mf_fieldset(obj, "Deployment", "");
	CHECK_JSON(s, "{\"f:metadata\":{\"f:labels\":{\"f:app\":{}},"
		      "\"f:finalizers\":{\"v:\\\"x/y\\\"\":{}}},"
		      "\"f:spec\":{\"f:replicas\":{},\"f:selector\":{},"
		      "\"f:template\":{\"f:metadata\":{\"f:labels\":{\"f:app\":{}}},"
		      "\"f:spec\":{\"f:containers\":{\"k:{\\\"name\\\":\\\"nginx\\\"}\":{"
		      "\".\":{},\"f:name\":{},\"f:image\":{},\"f:args\":{},"
		      "\"f:ports\":{\"k:{\\\"containerPort\\\":80,\\\"protocol\\\":\\\"TCP\\\"}\":"
		      "{\".\":{},\"f:containerPort\":{}}},"
		      "\"f:env\":{\"k:{\\\"name\\\":\\\"A\\\"}\":{\".\":{},\"f:name\":{},"
		      "\"f:value\":{}}}}}}}}}");
	cJSON_Delete(s);
	/* The status subresource owns status and metadata, never spec. */
	s = mf_fieldset(obj, "Deployment", "status");
	ck_assert_ptr_nonnull(cJSON_GetObjectItemCaseSensitive(s, "f:status"));
	ck_assert_ptr_null(cJSON_GetObjectItemCaseSensitive(s, "f:spec"));
	cJSON_Delete(s);
	/* Service ports are keyed by port+protocol. */
	cJSON *svc = J("{\"spec\":{\"ports\":[{\"port\":443,\"protocol\":\"UDP\"}]}}");
	s = mf_fieldset(svc, "Service", "");
	CHECK_JSON(s, "{\"f:spec\":{\"f:ports\":{\"k:{\\\"port\\\":443,\\\"protocol\\\":\\\"UDP\\\"}\":"
		      "{\".\":{},\"f:port\":{},\"f:protocol\":{}}}}}");
	cJSON_Delete(s);
	cJSON_Delete(svc);
	cJSON_Delete(obj);
}
END_TEST

START_TEST(set_algebra_and_paths)
{
	cJSON *a = J("{\"f:spec\":{\"f:replicas\":{},\"f:c\":{\"k:{\\\"name\\\":\\\"n\\\"}\":"
		     "{\".\":{},\"f:image\":{},\"f:name\":{}}}}}");
	cJSON *b = J("{\"f:spec\":{\"f:c\":{\"k:{\\\"name\\\":\\\"n\\\"}\":{\"f:image\":{}}},"
		     "\"f:paused\":{}}}");
	cJSON *u = mf_set_union(a, b), *d = mf_set_diff(a, b), *i = mf_set_intersect(a, b);
	CHECK_JSON(u, "{\"f:spec\":{\"f:replicas\":{},\"f:paused\":{},\"f:c\":{"
		      "\"k:{\\\"name\\\":\\\"n\\\"}\":{\".\":{},\"f:image\":{},\"f:name\":{}}}}}");
	/* The item stays a member of a-b though its image went. */
	CHECK_JSON(d, "{\"f:spec\":{\"f:replicas\":{},\"f:c\":{"
		      "\"k:{\\\"name\\\":\\\"n\\\"}\":{\".\":{},\"f:name\":{}}}}}");
	CHECK_JSON(i, "{\"f:spec\":{\"f:c\":{\"k:{\\\"name\\\":\\\"n\\\"}\":{\"f:image\":{}}}}}");
	ck_assert(!mf_set_empty(i));
	cJSON *none = mf_set_diff(a, a);
	ck_assert(mf_set_empty(none));
	cJSON *paths = cJSON_CreateArray();
	mf_set_paths(a, paths);
	CHECK_JSON(paths, "[\".spec.replicas\",\".spec.c[name=\\\"n\\\"]\","
			  "\".spec.c[name=\\\"n\\\"].image\",\".spec.c[name=\\\"n\\\"].name\"]");
	cJSON_Delete(paths);
	cJSON *p = J("{\"f:spec\":{\"f:ports\":{\"k:{\\\"containerPort\\\":80,\\\"protocol\\\":"
		     "\\\"TCP\\\"}\":{\"f:name\":{}}}},\"f:metadata\":{\"f:finalizers\":"
		     "{\"v:\\\"a\\\"\":{}}}}");
	paths = cJSON_CreateArray();
	mf_set_paths(p, paths);
	CHECK_JSON(paths, "[\".spec.ports[containerPort=80,protocol=\\\"TCP\\\"].name\","
			  "\".metadata.finalizers[=\\\"a\\\"]\"]");
	cJSON_Delete(paths);
	cJSON_Delete(p);
	cJSON_Delete(none);
	cJSON_Delete(u);
	cJSON_Delete(d);
	cJSON_Delete(i);
	cJSON_Delete(a);
	cJSON_Delete(b);
}
END_TEST

/* Live deployment whose replicas belong to an Update manager. */
static cJSON *live_owned_by_csa(void)
{
	return J("{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{"
		 "\"name\":\"web\",\"resourceVersion\":\"5\",\"managedFields\":[{"
		 "\"manager\":\"kubectl-client-side-apply\",\"operation\":\"Update\","
		 "\"apiVersion\":\"apps/v1\",\"time\":\"2026-01-01T00:00:00Z\","
		 "\"fieldsType\":\"FieldsV1\",\"fieldsV1\":{\"f:spec\":{\"f:replicas\":{},"
		 "\"f:paused\":{}}}}]},\"spec\":{\"replicas\":1,\"paused\":false}}");
}

START_TEST(apply_conflicts_on_a_scalar_owned_by_another_manager)
{
	cJSON *live = live_owned_by_csa();
	cJSON *cfg = J("{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\","
		       "\"metadata\":{\"name\":\"web\"},\"spec\":{\"replicas\":3}}");
	cJSON *out = NULL, *st = NULL;
	ck_assert_int_eq(mf_apply(live, cfg, "Deployment", &APPLY_A, &out, &st), 409);
	ck_assert_ptr_null(out);
	ck_assert_str_eq(kc_json_get_string(st, "message", ""),
			 "Apply failed with 1 conflict: conflict with \"kubectl-client-side-apply\" "
			 "using apps/v1: .spec.replicas");
	ck_assert_str_eq(kc_json_get_string(st, "reason", ""), "Conflict");
	ck_assert_int_eq((int)kc_json_get_int64(st, "code", 0), 409);
	const cJSON *cause = cJSON_GetArrayItem(kc_json_get(st, "details.causes"), 0);
	ck_assert_str_eq(kc_json_get_string(cause, "reason", ""), "FieldManagerConflict");
	ck_assert_str_eq(kc_json_get_string(cause, "field", ""), ".spec.replicas");
	ck_assert_str_eq(kc_json_get_string(cause, "message", ""),
			 "conflict with \"kubectl-client-side-apply\" using apps/v1");
	cJSON_Delete(st);

	/* The same value is no conflict: both own the field. */
	cJSON_ReplaceItemInObjectCaseSensitive(kc_json_get(cfg, "spec"), "replicas",
					       cJSON_CreateNumber(1));
	ck_assert_int_eq(mf_apply(live, cfg, "Deployment", &APPLY_A, &out, &st), 0);
	const cJSON *mf = kc_json_get(out, "metadata.managedFields");
	ck_assert_int_eq(cJSON_GetArraySize(mf), 2);
	/* Sorted as upstream: Apply before Update. */
	ck_assert_str_eq(kc_json_get_string(cJSON_GetArrayItem(mf, 0), "operation", ""), "Apply");
	ck_assert_str_eq(kc_json_get_string(cJSON_GetArrayItem(mf, 0), "time", ""),
			 "2026-01-02T03:04:05Z");
	CHECK_JSON(kc_json_get(cJSON_GetArrayItem(mf, 0), "fieldsV1"),
		   "{\"f:spec\":{\"f:replicas\":{}}}");
	CHECK_JSON(kc_json_get(cJSON_GetArrayItem(mf, 1), "fieldsV1"),
		   "{\"f:spec\":{\"f:replicas\":{},\"f:paused\":{}}}");
	cJSON_Delete(out);
	cJSON_Delete(cfg);
	cJSON_Delete(live);
}
END_TEST

START_TEST(apply_force_moves_ownership)
{
	cJSON *live = live_owned_by_csa();
	cJSON *cfg = J("{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\","
		       "\"metadata\":{\"name\":\"web\"},\"spec\":{\"replicas\":3,\"paused\":true}}");
	mf_req rq = APPLY_A;
	rq.force = 1;
	cJSON *out = NULL, *st = NULL;
	ck_assert_int_eq(mf_apply(live, cfg, "Deployment", &rq, &out, &st), 0);
	ck_assert_ptr_null(st);
	ck_assert_int_eq((int)kc_json_get_int64(out, "spec.replicas", 0), 3);
	const cJSON *mf = kc_json_get(out, "metadata.managedFields");
	/* The other manager lost every field, so its entry is gone. */
	ck_assert_int_eq(cJSON_GetArraySize(mf), 1);
	ck_assert_str_eq(kc_json_get_string(cJSON_GetArrayItem(mf, 0), "manager", ""), "kubectl");
	cJSON_Delete(out);
	cJSON_Delete(cfg);
	cJSON_Delete(live);
}
END_TEST

START_TEST(apply_removes_fields_the_manager_stopped_applying)
{
	cJSON *cfg1 = J("{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{"
			"\"name\":\"web\",\"labels\":{\"app\":\"web\",\"tier\":\"front\"}},"
			"\"spec\":{\"template\":{\"spec\":{\"containers\":[{\"name\":\"a\","
			"\"image\":\"x\"},{\"name\":\"b\",\"image\":\"y\"}]}}}}");
	cJSON *live = NULL, *st = NULL;
	ck_assert_int_eq(mf_apply(NULL, cfg1, "Deployment", &APPLY_A, &live, &st), 0);
	cJSON *cfg2 = J("{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{"
			"\"name\":\"web\",\"labels\":{\"app\":\"web\"}},"
			"\"spec\":{\"template\":{\"spec\":{\"containers\":[{\"name\":\"a\","
			"\"image\":\"x2\"}]}}}}");
	mf_req rq = APPLY_A;
	rq.now_ns = T2;
	cJSON *out = NULL;
	ck_assert_int_eq(mf_apply(live, cfg2, "Deployment", &rq, &out, &st), 0);
	CHECK_JSON(kc_json_get(out, "metadata.labels"), "{\"app\":\"web\"}");
	CHECK_JSON(kc_json_get(out, "spec.template.spec.containers"),
		   "[{\"name\":\"a\",\"image\":\"x2\"}]");
	ck_assert_str_eq(kc_json_get_string(cJSON_GetArrayItem(
				 kc_json_get(out, "metadata.managedFields"), 0), "time", ""),
			 "2026-01-02T03:05:05Z");
	cJSON_Delete(out);

	/* Another manager that also owns tier keeps it alive. */
	cJSON *live2 = cJSON_Duplicate(live, 1);
	cJSON *mf = kc_json_get(live2, "metadata.managedFields");
	cJSON_AddItemToArray(mf, J("{\"manager\":\"other\",\"operation\":\"Apply\","
				   "\"apiVersion\":\"apps/v1\",\"fieldsType\":\"FieldsV1\","
				   "\"fieldsV1\":{\"f:metadata\":{\"f:labels\":{\"f:tier\":{}}}}}"));
	ck_assert_int_eq(mf_apply(live2, cfg2, "Deployment", &rq, &out, &st), 0);
	CHECK_JSON(kc_json_get(out, "metadata.labels"), "{\"app\":\"web\",\"tier\":\"front\"}");
	cJSON_Delete(out);

	/* Re-applying the same configuration changes nothing, not even the entry's time. */
	ck_assert_int_eq(mf_apply(live, cfg1, "Deployment", &rq, &out, &st), 0);
	ck_assert(kc_json_equal(kc_json_get(out, "metadata.managedFields"),
				kc_json_get(live, "metadata.managedFields")));
	CHECK_JSON(kc_json_get(out, "metadata.labels"), "{\"app\":\"web\",\"tier\":\"front\"}");
	cJSON_Delete(out);
	cJSON_Delete(live2);
	cJSON_Delete(live);
	cJSON_Delete(cfg1);
	cJSON_Delete(cfg2);
}
END_TEST

START_TEST(update_takes_changed_fields_from_other_managers)
{
	cJSON *cfg = J("{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\","
		       "\"metadata\":{\"name\":\"web\"},\"spec\":{\"replicas\":2,\"paused\":false}}");
	cJSON *live = NULL, *st = NULL;
	ck_assert_int_eq(mf_apply(NULL, cfg, "Deployment", &APPLY_A, &live, &st), 0);
	cJSON *nobj = cJSON_Duplicate(live, 1);
	cJSON_ReplaceItemInObjectCaseSensitive(kc_json_get(nobj, "spec"), "replicas",
					       cJSON_CreateNumber(5));
	mf_req up = { .manager = "kubectl", .subresource = "scale", .api_version = "apps/v1",
		      .now_ns = T2 };
	mf_update(live, nobj, "Deployment", &up);
	const cJSON *mf = kc_json_get(nobj, "metadata.managedFields");
	ck_assert_int_eq(cJSON_GetArraySize(mf), 2);
	CHECK_JSON(kc_json_get(cJSON_GetArrayItem(mf, 0), "fieldsV1"),
		   "{\"f:spec\":{\"f:paused\":{}}}");
	const cJSON *u = cJSON_GetArrayItem(mf, 1);
	ck_assert_str_eq(kc_json_get_string(u, "operation", ""), "Update");
	ck_assert_str_eq(kc_json_get_string(u, "subresource", ""), "scale");
	CHECK_JSON(kc_json_get(u, "fieldsV1"), "{\"f:spec\":{\"f:replicas\":{}}}");

	/* Now the applier conflicts with the scaler, named as upstream's printManager. */
	cJSON *out = NULL;
	cJSON_ReplaceItemInObjectCaseSensitive(kc_json_get(cfg, "spec"), "replicas",
					       cJSON_CreateNumber(3));
	ck_assert_int_eq(mf_apply(nobj, cfg, "Deployment", &APPLY_A, &out, &st), 409);
	ck_assert_str_eq(kc_json_get_string(st, "message", ""),
			 "Apply failed with 1 conflict: conflict with \"kubectl\" with subresource "
			 "\"scale\" using apps/v1: .spec.replicas");
	cJSON_Delete(st);

	/* A no-op update leaves the entries exactly as they were. */
	cJSON *same = cJSON_Duplicate(nobj, 1);
	mf_req later = { .manager = "kube-controller-manager", .subresource = "",
			 .api_version = "apps/v1", .now_ns = T2 + 1000000000000LL };
	mf_update(nobj, same, "Deployment", &later);
	ck_assert(kc_json_equal(kc_json_get(same, "metadata.managedFields"),
				kc_json_get(nobj, "metadata.managedFields")));
	cJSON_Delete(same);
	cJSON_Delete(nobj);
	cJSON_Delete(live);
	cJSON_Delete(cfg);
}
END_TEST

START_TEST(create_update_records_all_set_fields)
{
	cJSON *obj = J("{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"c\","
		       "\"uid\":\"u\",\"creationTimestamp\":\"x\"},\"data\":{\"a\":\"1\"}}");
	mf_req rq = { .manager = "kubectl-create", .subresource = "", .api_version = "v1",
		      .now_ns = T1 };
	mf_update(NULL, obj, "ConfigMap", &rq);
	CHECK_JSON(kc_json_get(obj, "metadata.managedFields"),
		   "[{\"manager\":\"kubectl-create\",\"operation\":\"Update\",\"apiVersion\":\"v1\","
		   "\"time\":\"2026-01-02T03:04:05Z\",\"fieldsType\":\"FieldsV1\","
		   "\"fieldsV1\":{\"f:data\":{\"f:a\":{}}}}]");
	/* Removing a field drops it from every set (the entry goes when empty). */
	cJSON *n = cJSON_Duplicate(obj, 1);
	cJSON_DeleteItemFromObjectCaseSensitive(n, "data");
	rq.manager = "kubectl-edit";
	mf_update(obj, n, "ConfigMap", &rq);
	ck_assert_ptr_null(kc_json_get(n, "metadata.managedFields"));
	cJSON_Delete(n);
	cJSON_Delete(obj);
}
END_TEST

/* The set of an object as bytes (member order is part of the managedFields output). */
static void check_fieldset_bytes(const char *obj_s, const char *sub, const char *want)
{
	cJSON *obj = J(obj_s);
	cJSON *s = mf_fieldset(obj, "ConfigMap", sub);
	char *g = kc_json_print(s);
	ck_assert_str_eq(g, want);
	free(g);
	cJSON_Delete(s);
	/* mf_fieldset must not change its input. */
	cJSON *again = J(obj_s);
	ck_assert(kc_json_equal(obj, again));
	cJSON_Delete(again);
	cJSON_Delete(obj);
}

START_TEST(fieldset_skips_server_owned_metadata_exactly)
{
	/* Only server-owned metadata: no f:metadata at all. */
	check_fieldset_bytes("{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"a\","
			     "\"namespace\":\"d\",\"uid\":\"u\",\"resourceVersion\":\"3\"},"
			     "\"data\":{\"k\":\"v\"}}",
			     "", "{\"f:data\":{\"f:k\":{}}}");
	/* A member left whose value is null: metadata is tracked as a leaf. */
	check_fieldset_bytes("{\"data\":{},\"metadata\":{\"name\":\"a\",\"labels\":null}}", "",
			     "{\"f:data\":{},\"f:metadata\":{}}");
	/* metadata that is not an object is a plain value. */
	check_fieldset_bytes("{\"metadata\":\"x\",\"data\":{\"z\":\"1\",\"a\":\"2\"}}", "",
			     "{\"f:metadata\":{},\"f:data\":{\"f:z\":{},\"f:a\":{}}}");
	/* The main resource never owns status; /status never spec. Order as in the object. */
	const char *o = "{\"spec\":{\"x\":1},\"metadata\":{\"labels\":{\"b\":\"1\",\"a\":\"2\"},"
			"\"name\":\"n\"},\"status\":{\"p\":1},\"kind\":\"K\"}";
	check_fieldset_bytes(o, "", "{\"f:spec\":{\"f:x\":{}},\"f:metadata\":{\"f:labels\":"
				    "{\"f:b\":{},\"f:a\":{}}}}");
	check_fieldset_bytes(o, "status", "{\"f:metadata\":{\"f:labels\":{\"f:b\":{},\"f:a\":{}}},"
					  "\"f:status\":{\"f:p\":{}}}");
}
END_TEST

START_TEST(create_entry_is_the_whole_fieldset)
{
	const char *o = "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"c\","
			"\"labels\":{\"l\":\"1\"}},\"data\":{\"a\":\"1\",\"b\":\"2\"}}";
	cJSON *obj = J(o);
	mf_req rq = { .manager = "m", .subresource = "", .api_version = "v1", .now_ns = T1 };
	mf_update(NULL, obj, "ConfigMap", &rq);
	char *g = kc_json_print(obj);
	ck_assert_str_eq(g, "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"c\","
			    "\"labels\":{\"l\":\"1\"},\"managedFields\":[{\"manager\":\"m\","
			    "\"operation\":\"Update\",\"apiVersion\":\"v1\","
			    "\"time\":\"2026-01-02T03:04:05Z\",\"fieldsType\":\"FieldsV1\","
			    "\"fieldsV1\":{\"f:metadata\":{\"f:labels\":{\"f:l\":{}}},"
			    "\"f:data\":{\"f:a\":{},\"f:b\":{}}}}]},\"data\":{\"a\":\"1\",\"b\":\"2\"}}");
	free(g);
	cJSON_Delete(obj);
	/* Nothing but server-owned fields: no entry (an empty set is dropped). */
	obj = J("{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"c\"}}");
	mf_update(NULL, obj, "ConfigMap", &rq);
	ck_assert_ptr_null(kc_json_get(obj, "metadata.managedFields"));
	cJSON_Delete(obj);
}
END_TEST

START_TEST(unmanaged_fields_belong_to_before_first_apply)
{
	cJSON *live = J("{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":"
			"{\"name\":\"web\"},\"spec\":{\"replicas\":1}}");
	cJSON *cfg = J("{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\","
		       "\"metadata\":{\"name\":\"web\"},\"spec\":{\"replicas\":4}}");
	cJSON *out = NULL, *st = NULL;
	ck_assert_int_eq(mf_apply(live, cfg, "Deployment", &APPLY_A, &out, &st), 409);
	ck_assert_str_eq(kc_json_get_string(st, "message", ""),
			 "Apply failed with 1 conflict: conflict with \"before-first-apply\" "
			 "using apps/v1: .spec.replicas");
	cJSON_Delete(st);
	cJSON_Delete(cfg);
	cJSON_Delete(live);
}
END_TEST

START_TEST(malformed_stored_entries_are_dropped)
{
	cJSON *live = J("{\"metadata\":{\"name\":\"c\",\"managedFields\":[\"x\",7,"
			"{\"manager\":\"m\",\"fieldsV1\":[1]},"
			"{\"manager\":\"m2\",\"fieldsV1\":{\"f:data\":{\"f:a\":\"s\"}}}]},"
			"\"data\":{\"a\":\"1\"}}");
	cJSON *cfg = J("{\"metadata\":{\"name\":\"c\"},\"data\":{\"b\":\"2\"}}");
	mf_req rq = { .manager = "k", .subresource = "", .api_version = "v1", .now_ns = T1 };
	cJSON *out = NULL, *st = NULL;
	ck_assert_int_eq(mf_apply(live, cfg, "ConfigMap", &rq, &out, &st), 0);
	const cJSON *mf = kc_json_get(out, "metadata.managedFields");
	ck_assert_int_eq(cJSON_GetArraySize(mf), 2);
	ck_assert_str_eq(kc_json_get_string(cJSON_GetArrayItem(mf, 0), "manager", ""), "k");
	ck_assert_str_eq(kc_json_get_string(cJSON_GetArrayItem(mf, 1), "manager", ""),
			 "before-first-apply");
	CHECK_JSON(kc_json_get(out, "data"), "{\"a\":\"1\",\"b\":\"2\"}");
	cJSON *n = cJSON_Duplicate(live, 1);
	cJSON_AddStringToObject(kc_json_get(n, "data"), "z", "9");
	mf_update(live, n, "ConfigMap", &rq);
	CHECK_JSON(kc_json_get(cJSON_GetArrayItem(kc_json_get(n, "metadata.managedFields"), 0),
			       "fieldsV1"), "{\"f:data\":{\"f:z\":{}}}");
	cJSON_Delete(n);
	cJSON_Delete(out);
	cJSON_Delete(cfg);
	cJSON_Delete(live);
}
END_TEST

START_TEST(manager_from_user_agent)
{
	char b[160];
	mf_manager_from_user_agent("kubectl/v1.32.0 (linux/amd64) kubernetes/abc", b, sizeof(b));
	ck_assert_str_eq(b, "kubectl");
	mf_manager_from_user_agent("kube-controller-manager/v1.32.0", b, sizeof(b));
	ck_assert_str_eq(b, "kube-controller-manager");
	mf_manager_from_user_agent(NULL, b, sizeof(b));
	ck_assert_str_eq(b, "unknown");
	char longua[300];
	memset(longua, 'x', sizeof(longua) - 1);
	longua[sizeof(longua) - 1] = 0;
	mf_manager_from_user_agent(longua, b, sizeof(b));
	ck_assert_uint_eq(strlen(b), 128);
}
END_TEST

static Suite *apiserver_managedfields_suite(void)
{
	Suite *s = suite_create("apiserver_managedfields");
	TCase *tc = tcase_create("ssa");
	tcase_add_test(tc, fieldset_uses_upstream_fieldsv1_encoding);
	tcase_add_test(tc, set_algebra_and_paths);
	tcase_add_test(tc, apply_conflicts_on_a_scalar_owned_by_another_manager);
	tcase_add_test(tc, apply_force_moves_ownership);
	tcase_add_test(tc, apply_removes_fields_the_manager_stopped_applying);
	tcase_add_test(tc, update_takes_changed_fields_from_other_managers);
	tcase_add_test(tc, create_update_records_all_set_fields);
	tcase_add_test(tc, fieldset_skips_server_owned_metadata_exactly);
	tcase_add_test(tc, create_entry_is_the_whole_fieldset);
	tcase_add_test(tc, unmanaged_fields_belong_to_before_first_apply);
	tcase_add_test(tc, malformed_stored_entries_are_dropped);
	tcase_add_test(tc, manager_from_user_agent);
	suite_add_tcase(s, tc);
	return s;
}

KC_TEST_MAIN(apiserver_managedfields_suite)
