#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "errors.h"
#include "json.h"
#include "kc_test.h"
#include "meta.h"

static cJSON *parse(const char *s)
{
	cJSON *j = NULL;
	char err[KC_JSON_ERRLEN];
	ck_assert_msg(kc_json_parse_str(s, &j, err, sizeof(err)) == 0, "%s", err);
	return j;
}

static void expect_json(const cJSON *j, const char *want)
{
	char *out = kc_json_print(j);
	ck_assert_str_eq(out, want);
	free(out);
}

START_TEST(string_fields_get_and_set)
{
	cJSON *o = parse("{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"web-1\","
			 "\"namespace\":\"default\",\"uid\":\"u-1\",\"resourceVersion\":\"12\","
			 "\"generation\":3,\"creationTimestamp\":\"2024-01-02T03:04:05Z\"}}");
	ck_assert_str_eq(kc_meta_name(o), "web-1");
	ck_assert_str_eq(kc_meta_namespace(o), "default");
	ck_assert_str_eq(kc_meta_uid(o), "u-1");
	ck_assert_str_eq(kc_meta_resource_version(o), "12");
	ck_assert_str_eq(kc_meta_generate_name(o), "");
	ck_assert_str_eq(kc_meta_deletion_timestamp(o), "");
	ck_assert_str_eq(kc_meta_creation_timestamp(o), "2024-01-02T03:04:05Z");
	ck_assert(kc_meta_generation(o) == 3);

	ck_assert_int_eq(kc_meta_set_resource_version(o, "13"), 0);
	ck_assert_int_eq(kc_meta_set_generate_name(o, "web-"), 0);
	ck_assert_int_eq(kc_meta_set_namespace(o, ""), 0); /* empty removes, as upstream */
	ck_assert_int_eq(kc_meta_set_uid(o, NULL), 0);
	ck_assert_int_eq(kc_meta_set_generation(o, 1000000), 0);
	expect_json(o, "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"web-1\","
		       "\"resourceVersion\":\"13\",\"generation\":1000000,"
		       "\"creationTimestamp\":\"2024-01-02T03:04:05Z\",\"generateName\":\"web-\"}}");
	cJSON_Delete(o);

	/* metadata is created on demand; a non-object is refused */
	o = parse("{\"kind\":\"ConfigMap\"}");
	ck_assert_str_eq(kc_meta_name(o), "");
	ck_assert(kc_meta_generation(o) == 0);
	ck_assert_int_eq(kc_meta_set_name(o, "cm"), 0);
	expect_json(o, "{\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"cm\"}}");
	cJSON_Delete(o);
	o = parse("{\"metadata\":\"oops\"}");
	ck_assert_str_eq(kc_meta_name(o), "");
	ck_assert_int_eq(kc_meta_set_name(o, "x"), -EINVAL);
	cJSON_Delete(o);
	o = parse("[1]");
	ck_assert_int_eq(kc_meta_set_name(o, "x"), -EINVAL);
	ck_assert_str_eq(kc_meta_name(NULL), "");
	cJSON_Delete(o);
}
END_TEST

START_TEST(timestamps_round_trip)
{
	cJSON *o = parse("{\"metadata\":{\"name\":\"a\"}}");
	int64_t ns = 0;
	ck_assert_int_eq(kc_meta_get_creation_time(o, &ns), KC_ENOTFOUND);
	ck_assert_int_eq(kc_meta_set_creation_time(o, INT64_C(1704164645) * KC_NSEC_PER_SEC + 999), 0);
	ck_assert_str_eq(kc_meta_creation_timestamp(o), "2024-01-02T03:04:05Z");
	ck_assert_int_eq(kc_meta_get_creation_time(o, &ns), 0);
	ck_assert(ns == INT64_C(1704164645) * KC_NSEC_PER_SEC);
	ck_assert_int_eq(kc_meta_set_deletion_time(o, INT64_C(1704164700) * KC_NSEC_PER_SEC), 0);
	ck_assert_str_eq(kc_meta_deletion_timestamp(o), "2024-01-02T03:05:00Z");
	ck_assert_int_eq(kc_meta_set_deletion_time(o, -1), 0);
	ck_assert_int_eq(kc_meta_get_deletion_time(o, &ns), KC_ENOTFOUND);
	kc_json_set_string(o, "metadata.deletionTimestamp", "yesterday");
	ck_assert_int_eq(kc_meta_get_deletion_time(o, &ns), KC_EPARSE);
	cJSON_Delete(o);
}
END_TEST

START_TEST(rfc3339_parse_forms)
{
	int64_t ns;
	const int64_t base = INT64_C(1704164645) * KC_NSEC_PER_SEC; /* 2024-01-02T03:04:05Z */
	ck_assert_int_eq(kc_meta_time_parse("2024-01-02T03:04:05Z", &ns), 0);
	ck_assert(ns == base);
	ck_assert_int_eq(kc_meta_time_parse("2024-01-02T03:04:05.123456Z", &ns), 0);
	ck_assert(ns == base + 123456000);
	ck_assert_int_eq(kc_meta_time_parse("2024-01-02T03:04:05.5+00:00", &ns), 0);
	ck_assert(ns == base + 500000000);
	/* The Python client sends local offsets: 05:04:05+02:00 is 03:04:05Z. */
	ck_assert_int_eq(kc_meta_time_parse("2024-01-02T05:04:05+02:00", &ns), 0);
	ck_assert(ns == base);
	ck_assert_int_eq(kc_meta_time_parse("2024-01-01T22:34:05-04:30", &ns), 0);
	ck_assert(ns == base);
	/* more than 9 fraction digits are truncated */
	ck_assert_int_eq(kc_meta_time_parse("2024-01-02T03:04:05.1234567891Z", &ns), 0);
	ck_assert(ns == base + 123456789);
	ck_assert_int_eq(kc_meta_time_parse("1970-01-01T00:00:00Z", &ns), 0);
	ck_assert(ns == 0);
	ck_assert_int_eq(kc_meta_time_parse("1969-12-31T23:59:59Z", &ns), 0);
	ck_assert(ns == -KC_NSEC_PER_SEC);
	ck_assert_int_eq(kc_meta_time_parse("2024-02-29T00:00:00Z", &ns), 0);

	const char *bad[] = { "", "2024-01-02", "2024-01-02 03:04:05Z", "2024-01-02T03:04:05",
			      "2024-13-02T03:04:05Z", "2023-02-29T00:00:00Z", "2024-01-02T24:00:00Z",
			      "2024-01-02T03:04:05.Z", "2024-01-02T03:04:05+0200",
			      "2024-01-02T03:04:05Zjunk", "2024-01-32T03:04:05Z",
			      "0001-01-01T00:00:00Z", NULL };
	for (int i = 0; bad[i]; i++)
		ck_assert_msg(kc_meta_time_parse(bad[i], &ns) == KC_EPARSE, "accepted %s", bad[i]);
}
END_TEST

START_TEST(rfc3339_format_forms)
{
	char buf[KC_TIME_BUFLEN];
	const int64_t t = INT64_C(1704164645) * KC_NSEC_PER_SEC + 123456789;
	ck_assert_int_eq(kc_meta_time_format(t, buf, sizeof(buf)), 20);
	ck_assert_str_eq(buf, "2024-01-02T03:04:05Z");
	ck_assert_int_eq(kc_meta_microtime_format(t, buf, sizeof(buf)), 27);
	ck_assert_str_eq(buf, "2024-01-02T03:04:05.123456Z");
	ck_assert_int_eq(kc_meta_microtime_format(-1, buf, sizeof(buf)), 27);
	ck_assert_str_eq(buf, "1969-12-31T23:59:59.999999Z");
	ck_assert_int_eq(kc_meta_time_format(t, buf, 20), -ENOSPC);
	/* format then parse is the identity at second precision */
	for (int64_t s = -86400 * 400; s < INT64_C(86400) * 365 * 250; s += 86400 * 37 + 3607) {
		int64_t back;
		kc_meta_time_format(s * KC_NSEC_PER_SEC, buf, sizeof(buf));
		ck_assert_int_eq(kc_meta_time_parse(buf, &back), 0);
		ck_assert_msg(back == s * KC_NSEC_PER_SEC, "%s", buf);
	}
}
END_TEST

START_TEST(labels_and_annotations)
{
	cJSON *o = parse("{\"metadata\":{\"name\":\"a\"}}");
	ck_assert_ptr_null(kc_meta_labels(o));
	ck_assert_ptr_null(kc_meta_label(o, "app"));
	ck_assert_int_eq(kc_meta_set_label(o, "app", "web"), 0);
	ck_assert_int_eq(kc_meta_set_label(o, "tier", ""), 0);
	ck_assert_int_eq(kc_meta_set_label(o, "app", "api"), 0);
	ck_assert_str_eq(kc_meta_label(o, "app"), "api");
	ck_assert_str_eq(kc_meta_label(o, "tier"), "");
	ck_assert_int_eq(cJSON_GetArraySize(kc_meta_labels(o)), 2);
	ck_assert_int_eq(kc_meta_set_annotation(o, "kubectl.kubernetes.io/last-applied-configuration", "{}"), 0);
	ck_assert_str_eq(kc_meta_annotation(o, "kubectl.kubernetes.io/last-applied-configuration"), "{}");
	ck_assert_int_eq(kc_meta_remove_label(o, "nope"), KC_ENOTFOUND);
	ck_assert_int_eq(kc_meta_remove_label(o, "app"), 0);
	ck_assert_int_eq(kc_meta_remove_label(o, "tier"), 0);
	ck_assert_ptr_null(kc_meta_labels(o)); /* emptied map removed */
	ck_assert_int_eq(kc_meta_remove_annotation(o, "kubectl.kubernetes.io/last-applied-configuration"), 0);
	expect_json(o, "{\"metadata\":{\"name\":\"a\"}}");
	/* labels: null (as some clients send) is replaced */
	cJSON_Delete(o);
	o = parse("{\"metadata\":{\"labels\":null}}");
	ck_assert_int_eq(kc_meta_set_label(o, "a", "b"), 0);
	expect_json(o, "{\"metadata\":{\"labels\":{\"a\":\"b\"}}}");
	cJSON_Delete(o);
}
END_TEST

START_TEST(owner_references)
{
	cJSON *o = parse("{\"metadata\":{\"name\":\"web-abc\"}}");
	kc_owner_ref rs = { "apps/v1", "ReplicaSet", "web", "uid-rs", true, true };
	kc_owner_ref other = { "v1", "ConfigMap", "cfg", "uid-cm", false, false };
	ck_assert_ptr_null(kc_meta_controller_ref(o));
	ck_assert_int_eq(kc_meta_add_owner_ref(o, &other), 0);
	ck_assert_ptr_null(kc_meta_controller_ref(o));
	ck_assert_int_eq(kc_meta_add_owner_ref(o, &rs), 0);
	cJSON *c = kc_meta_controller_ref(o);
	ck_assert_ptr_nonnull(c);
	kc_owner_ref got;
	ck_assert_int_eq(kc_meta_owner_ref_read(c, &got), 0);
	ck_assert_str_eq(got.kind, "ReplicaSet");
	ck_assert_str_eq(got.uid, "uid-rs");
	ck_assert(got.controller && got.block_owner_deletion);
	expect_json(o, "{\"metadata\":{\"name\":\"web-abc\",\"ownerReferences\":["
		       "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"name\":\"cfg\",\"uid\":\"uid-cm\"},"
		       "{\"apiVersion\":\"apps/v1\",\"kind\":\"ReplicaSet\",\"name\":\"web\",\"uid\":\"uid-rs\","
		       "\"controller\":true,\"blockOwnerDeletion\":true}]}}");
	/* a second controller is refused; re-adding the same uid replaces */
	kc_owner_ref rs2 = { "apps/v1", "ReplicaSet", "web2", "uid-rs2", true, false };
	ck_assert_int_eq(kc_meta_add_owner_ref(o, &rs2), KC_EINVALID);
	rs.name = "web-renamed";
	ck_assert_int_eq(kc_meta_add_owner_ref(o, &rs), 0);
	ck_assert_int_eq(cJSON_GetArraySize(kc_meta_owner_refs(o)), 2);
	ck_assert_str_eq(kc_json_get_string(kc_meta_controller_ref(o), "name", ""), "web-renamed");
	ck_assert(kc_meta_is_owned_by(o, "uid-cm"));
	ck_assert(!kc_meta_is_owned_by(o, "uid-zz"));
	kc_owner_ref bad = { "v1", "Pod", "", "u", false, false };
	ck_assert_int_eq(kc_meta_add_owner_ref(o, &bad), KC_EINVALID);
	ck_assert_int_eq(kc_meta_remove_owner_ref(o, "uid-zz"), KC_ENOTFOUND);
	ck_assert_int_eq(kc_meta_remove_owner_ref(o, "uid-rs"), 0);
	ck_assert_ptr_null(kc_meta_controller_ref(o));
	ck_assert_int_eq(kc_meta_remove_owner_ref(o, "uid-cm"), 0);
	ck_assert_ptr_null(kc_meta_owner_refs(o));
	expect_json(o, "{\"metadata\":{\"name\":\"web-abc\"}}");
	/* an entry missing fields is reported, not crashed on */
	cJSON *partial = parse("{\"kind\":\"X\"}");
	ck_assert_int_eq(kc_meta_owner_ref_read(partial, &got), -EINVAL);
	cJSON_Delete(partial);
	cJSON_Delete(o);
}
END_TEST

START_TEST(finalizers)
{
	cJSON *o = parse("{\"metadata\":{\"finalizers\":[\"kubernetes\"]}}");
	ck_assert(kc_meta_has_finalizer(o, "kubernetes"));
	ck_assert(!kc_meta_has_finalizer(o, "foregroundDeletion"));
	ck_assert_int_eq(kc_meta_add_finalizer(o, "foregroundDeletion"), 0);
	ck_assert_int_eq(kc_meta_add_finalizer(o, "foregroundDeletion"), 0); /* no duplicate */
	expect_json(o, "{\"metadata\":{\"finalizers\":[\"kubernetes\",\"foregroundDeletion\"]}}");
	ck_assert_int_eq(kc_meta_remove_finalizer(o, "kubernetes"), 0);
	ck_assert_int_eq(kc_meta_remove_finalizer(o, "kubernetes"), KC_ENOTFOUND);
	ck_assert_int_eq(kc_meta_remove_finalizer(o, "foregroundDeletion"), 0);
	expect_json(o, "{\"metadata\":{}}");
	ck_assert_int_eq(kc_meta_add_finalizer(o, "a/b"), 0);
	expect_json(o, "{\"metadata\":{\"finalizers\":[\"a/b\"]}}");
	cJSON_Delete(o);
}
END_TEST

START_TEST(uuid_v4_is_random_and_well_formed)
{
	kc_fake_clock a, b;
	kc_fake_clock_init(&a, 0, 99);
	kc_fake_clock_init(&b, 0, 99);
	char u1[KC_UUID_LEN + 1], u2[KC_UUID_LEN + 1], u3[KC_UUID_LEN + 1];
	kc_meta_uuid_v4(&a.base, u1);
	kc_meta_uuid_v4(&b.base, u2);
	kc_meta_uuid_v4(&a.base, u3);
	ck_assert_str_eq(u1, u2); /* deterministic per seed */
	ck_assert_str_ne(u1, u3);
	for (int k = 0; k < 200; k++) {
		kc_meta_uuid_v4(&a.base, u1);
		ck_assert_uint_eq(strlen(u1), 36);
		for (int i = 0; i < 36; i++) {
			if (i == 8 || i == 13 || i == 18 || i == 23)
				ck_assert_int_eq(u1[i], '-');
			else
				ck_assert(strchr("0123456789abcdef", u1[i]) != NULL);
		}
		ck_assert_int_eq(u1[14], '4');
		ck_assert(strchr("89ab", u1[19]) != NULL);
	}
	kc_fake_clock_close(&a);
	kc_fake_clock_close(&b);
}
END_TEST

START_TEST(generate_name_like_upstream)
{
	kc_fake_clock fc;
	kc_fake_clock_init(&fc, 0, 5);
	char out[80];
	ck_assert_int_eq(kc_meta_generate_name_suffix(&fc.base, "web-", out, sizeof(out)), 0);
	ck_assert_uint_eq(strlen(out), 9);
	ck_assert(strncmp(out, "web-", 4) == 0);
	for (int i = 4; i < 9; i++)
		ck_assert(strchr("bcdfghjklmnpqrstvwxz2456789", out[i]) != NULL);
	char longbase[100];
	memset(longbase, 'a', 99);
	longbase[99] = '\0';
	ck_assert_int_eq(kc_meta_generate_name_suffix(&fc.base, longbase, out, sizeof(out)), 0);
	ck_assert_uint_eq(strlen(out), 63);
	ck_assert(strspn(out, "a") >= 58);
	ck_assert_int_eq(kc_meta_generate_name_suffix(&fc.base, "web-", out, 9), -ENOSPC);
	/* different draws give different names */
	char o2[80];
	kc_meta_generate_name_suffix(&fc.base, "x-", out, sizeof(out));
	kc_meta_generate_name_suffix(&fc.base, "x-", o2, sizeof(o2));
	ck_assert_str_ne(out, o2);
	kc_fake_clock_close(&fc);
}
END_TEST

static Suite *meta_suite(void)
{
	Suite *s = suite_create("meta");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, string_fields_get_and_set);
	tcase_add_test(tc, timestamps_round_trip);
	tcase_add_test(tc, rfc3339_parse_forms);
	tcase_add_test(tc, rfc3339_format_forms);
	tcase_add_test(tc, labels_and_annotations);
	tcase_add_test(tc, owner_references);
	tcase_add_test(tc, finalizers);
	tcase_add_test(tc, uuid_v4_is_random_and_well_formed);
	tcase_add_test(tc, generate_name_like_upstream);
	suite_add_tcase(s, tc);
	return s;
}

KC_TEST_MAIN(meta_suite)
