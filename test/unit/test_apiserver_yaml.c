/* YAML request bodies -> JSON with upstream's scalar resolution. */
#include <string.h>

#include "errors.h"
#include "json.h"
#include "kc_test.h"
#include "../../apiserver/yamljson.h"

static cJSON *Y(const char *s)
{
	cJSON *v = NULL;
	char err[256];
	int rc = yj_parse(s, strlen(s), &v, err, sizeof(err));
	ck_assert_msg(rc == 0, "yaml rejected: %s", err);
	return v;
}

START_TEST(scalars_resolve_as_go_yaml)
{
	cJSON *v = Y("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n  labels: {a: b}\n"
		     "data:\n  q: \"42\"\n  s: 'true'\nn: 42\nf: 1.5\nneg: -3\nb1: true\nb2: no\n"
		     "z: ~\ne:\nlist: [1, two, \"3\"]\nver: 1.32.4\nhex: 0x1f\n");
	ck_assert_str_eq(kc_json_get_string(v, "data.q", ""), "42");
	ck_assert_str_eq(kc_json_get_string(v, "data.s", ""), "true");
	ck_assert_int_eq((int)kc_json_get_int64(v, "n", 0), 42);
	ck_assert(cJSON_IsNumber(kc_json_get(v, "f")) && kc_json_get(v, "f")->valuedouble == 1.5);
	ck_assert_int_eq((int)kc_json_get_int64(v, "neg", 0), -3);
	ck_assert(cJSON_IsTrue(kc_json_get(v, "b1")));
	ck_assert(cJSON_IsFalse(kc_json_get(v, "b2")));
	ck_assert(cJSON_IsNull(kc_json_get(v, "z")));
	ck_assert(cJSON_IsNull(kc_json_get(v, "e")));
	ck_assert_int_eq((int)kc_json_get_int64(v, "list.0", 0), 1);
	ck_assert_str_eq(kc_json_get_string(v, "list.1", ""), "two");
	ck_assert_str_eq(kc_json_get_string(v, "list.2", ""), "3");
	ck_assert_str_eq(kc_json_get_string(v, "ver", ""), "1.32.4");
	ck_assert_str_eq(kc_json_get_string(v, "metadata.labels.a", ""), "b");
	cJSON_Delete(v);
}
END_TEST

START_TEST(bad_yaml_refused)
{
	static const char *const bad[] = {
		"a: [unclosed\n",
		"a: &x [1]\nb: *x\n",          /* aliases */
		"a: 1\na: 2\n",                /* duplicate keys */
		"? [1, 2]\n: v\n",             /* non-scalar key */
		"",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cJSON *v = NULL;
		char err[256] = "";
		int rc = yj_parse(bad[i], strlen(bad[i]), &v, err, sizeof(err));
		ck_assert_msg(rc == KC_EPARSE && !v && err[0], "case %zu accepted", i);
	}
}
END_TEST

static Suite *apiserver_yaml_suite(void)
{
	Suite *s = suite_create("apiserver_yaml");
	TCase *tc = tcase_create("yaml");
	tcase_add_test(tc, scalars_resolve_as_go_yaml);
	tcase_add_test(tc, bad_yaml_refused);
	suite_add_tcase(s, tc);
	return s;
}

KC_TEST_MAIN(apiserver_yaml_suite)
