#include <stdlib.h>
#include <string.h>

#include "errors.h"
#include "json.h"
#include "kc_test.h"
#include "validate.h"

/* Upstream's exact texts (apimachinery pkg/util/validation). */
#define SUBDOMAIN_MSG                                                                        \
	"a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, " \
	"'-' or '.', and must start and end with an alphanumeric character (e.g. "            \
	"'example.com', regex used for validation is "                                        \
	"'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
#define LABEL_MSG                                                                            \
	"a lowercase RFC 1123 label must consist of lower case alphanumeric characters or "    \
	"'-', and must start and end with an alphanumeric character (e.g. 'my-name',  or "     \
	"'123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
#define DNS1035_MSG                                                                          \
	"a DNS-1035 label must consist of lower case alphanumeric characters or '-', start "   \
	"with an alphabetic character, and end with an alphanumeric character (e.g. "          \
	"'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"
#define QNAME_MSG                                                                            \
	"name part must consist of alphanumeric characters, '-', '_' or '.', and must start "  \
	"and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or "           \
	"'123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
#define LABEL_VALUE_MSG                                                                      \
	"a valid label must be an empty string or consist of alphanumeric characters, '-', "   \
	"'_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  " \
	"or 'my_value',  or '12345', regex used for validation is "                            \
	"'(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"

static char *repeat(char c, size_t n)
{
	char *s = malloc(n + 1);
	memset(s, c, n);
	s[n] = '\0';
	return s;
}

START_TEST(dns1123_subdomain)
{
	kc_verrs e;
	const char *good[] = { "a", "example.com", "web-1", "0", "a.b-c.d9", "1.2.3.4", NULL };
	const char *badv[] = { "", "Foo", "-a", "a-", "a..b", ".a", "a.", "a_b", "a b", "a.-b", NULL };
	for (int i = 0; good[i]; i++)
		ck_assert_msg(kc_validate_dns1123_subdomain(good[i], NULL) == 0, "%s", good[i]);
	for (int i = 0; badv[i]; i++) {
		kc_verrs_init(&e);
		ck_assert_msg(kc_validate_dns1123_subdomain(badv[i], &e) == KC_EINVALID, "%s", badv[i]);
		ck_assert_int_eq(e.n, 1);
		ck_assert_str_eq(e.msg[0], SUBDOMAIN_MSG);
	}
	char *s = repeat('a', 253);
	ck_assert_int_eq(kc_validate_dns1123_subdomain(s, NULL), 0);
	free(s);
	s = repeat('a', 254);
	kc_verrs_init(&e);
	ck_assert_int_eq(kc_validate_dns1123_subdomain(s, &e), KC_EINVALID);
	ck_assert_int_eq(e.n, 1);
	ck_assert_str_eq(e.msg[0], "must be no more than 253 characters");
	s[0] = 'A'; /* both problems, in upstream's order */
	kc_verrs_init(&e);
	kc_validate_dns1123_subdomain(s, &e);
	ck_assert_int_eq(e.n, 2);
	ck_assert_str_eq(e.msg[0], "must be no more than 253 characters");
	ck_assert_str_eq(e.msg[1], SUBDOMAIN_MSG);
	free(s);
}
END_TEST

START_TEST(dns1123_label_and_dns1035)
{
	kc_verrs e;
	ck_assert_int_eq(kc_validate_dns1123_label("kube-system", NULL), 0);
	ck_assert_int_eq(kc_validate_dns1123_label("123-abc", NULL), 0);
	kc_verrs_init(&e);
	ck_assert_int_eq(kc_validate_dns1123_label("a.b", &e), KC_EINVALID);
	ck_assert_str_eq(e.msg[0], "must not contain dots");
	kc_verrs_init(&e);
	ck_assert_int_eq(kc_validate_dns1123_label("My-ns", &e), KC_EINVALID);
	ck_assert_str_eq(e.msg[0], LABEL_MSG);
	char *s = repeat('a', 64);
	kc_verrs_init(&e);
	ck_assert_int_eq(kc_validate_dns1123_label(s, &e), KC_EINVALID);
	ck_assert_int_eq(e.n, 1);
	ck_assert_str_eq(e.msg[0], "must be no more than 63 characters");
	s[63] = '\0';
	ck_assert_int_eq(kc_validate_dns1123_label(s, NULL), 0);
	free(s);

	ck_assert_int_eq(kc_validate_dns1035_label("my-svc", NULL), 0);
	ck_assert_int_eq(kc_validate_dns1035_label("a1", NULL), 0);
	const char *bad[] = { "1svc", "svc-", "Svc", "", "a.b", NULL };
	for (int i = 0; bad[i]; i++) {
		kc_verrs_init(&e);
		ck_assert_msg(kc_validate_dns1035_label(bad[i], &e) == KC_EINVALID, "%s", bad[i]);
		ck_assert_str_eq(e.msg[0], DNS1035_MSG);
	}
}
END_TEST

START_TEST(qualified_names)
{
	kc_verrs e;
	const char *good[] = { "app", "App_1.x", "app.kubernetes.io/name", "example.com/MyName",
			       "k8s.io/a", "a", NULL };
	for (int i = 0; good[i]; i++)
		ck_assert_msg(kc_validate_qualified_name(good[i], NULL) == 0, "%s", good[i]);

	kc_verrs_init(&e);
	ck_assert_int_eq(kc_validate_qualified_name("-app", &e), KC_EINVALID);
	ck_assert_int_eq(e.n, 1);
	ck_assert_str_eq(e.msg[0], QNAME_MSG);

	kc_verrs_init(&e);
	ck_assert_int_eq(kc_validate_qualified_name("/app", &e), KC_EINVALID);
	ck_assert_str_eq(e.msg[0], "prefix part must be non-empty");

	kc_verrs_init(&e);
	ck_assert_int_eq(kc_validate_qualified_name("Example.com/app", &e), KC_EINVALID);
	ck_assert_int_eq(e.n, 1);
	ck_assert_str_eq(e.msg[0], "prefix part " SUBDOMAIN_MSG);

	kc_verrs_init(&e);
	ck_assert_int_eq(kc_validate_qualified_name("example.com/", &e), KC_EINVALID);
	ck_assert_int_eq(e.n, 2);
	ck_assert_str_eq(e.msg[0], "name part must be non-empty");
	ck_assert_str_eq(e.msg[1], QNAME_MSG);

	kc_verrs_init(&e);
	ck_assert_int_eq(kc_validate_qualified_name("a/b/c", &e), KC_EINVALID);
	ck_assert_int_eq(e.n, 1);
	ck_assert_str_eq(e.msg[0],
			 "a qualified name must consist of alphanumeric characters, '-', '_' or '.', "
			 "and must start and end with an alphanumeric character (e.g. 'MyName',  or "
			 "'my.name',  or '123-abc', regex used for validation is "
			 "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain "
			 "prefix and '/' (e.g. 'example.com/MyName')");

	char *longname = repeat('n', 64);
	kc_verrs_init(&e);
	ck_assert_int_eq(kc_validate_qualified_name(longname, &e), KC_EINVALID);
	ck_assert_int_eq(e.n, 1);
	ck_assert_str_eq(e.msg[0], "name part must be no more than 63 characters");
	free(longname);

	/* a 254-character prefix reports its length, prefixed */
	char *key = malloc(254 + 3);
	memset(key, 'p', 254);
	strcpy(key + 254, "/n");
	kc_verrs_init(&e);
	ck_assert_int_eq(kc_validate_qualified_name(key, &e), KC_EINVALID);
	ck_assert_int_eq(e.n, 1);
	ck_assert_str_eq(e.msg[0], "prefix part must be no more than 253 characters");
	free(key);
}
END_TEST

START_TEST(label_values)
{
	kc_verrs e;
	ck_assert_int_eq(kc_validate_label_value("", NULL), 0);
	ck_assert_int_eq(kc_validate_label_value("my_value", NULL), 0);
	ck_assert_int_eq(kc_validate_label_value("1.2.3", NULL), 0);
	kc_verrs_init(&e);
	ck_assert_int_eq(kc_validate_label_value("bad value", &e), KC_EINVALID);
	ck_assert_str_eq(e.msg[0], LABEL_VALUE_MSG);
	kc_verrs_init(&e);
	ck_assert_int_eq(kc_validate_label_value("a/b", &e), KC_EINVALID);
	char *s = repeat('v', 64);
	kc_verrs_init(&e);
	ck_assert_int_eq(kc_validate_label_value(s, &e), KC_EINVALID);
	ck_assert_int_eq(e.n, 1);
	ck_assert_str_eq(e.msg[0], "must be no more than 63 characters");
	free(s);
}
END_TEST

START_TEST(label_and_annotation_maps)
{
	kc_verrs e;
	cJSON *l = NULL;
	ck_assert_int_eq(kc_json_parse_str("{\"app\":\"web\",\"k8s.io/x\":\"\"}", &l, NULL, 0), 0);
	ck_assert_int_eq(kc_validate_labels(l, NULL), 0);
	cJSON_Delete(l);
	ck_assert_int_eq(kc_json_parse_str("{\"ok\":\"-bad\",\"Bad Key\":\"v\",\"n\":1}", &l, NULL, 0), 0);
	kc_verrs_init(&e);
	ck_assert_int_eq(kc_validate_labels(l, &e), KC_EINVALID);
	ck_assert_int_eq(e.n, 3);
	ck_assert_str_eq(e.msg[0], LABEL_VALUE_MSG);
	ck_assert_str_eq(e.msg[1], QNAME_MSG);
	ck_assert_str_eq(e.msg[2], "label value must be a string");
	cJSON_Delete(l);
	ck_assert_int_eq(kc_validate_labels(NULL, NULL), 0);

	/* annotation keys are case-insensitive qualified names */
	cJSON *a = NULL;
	ck_assert_int_eq(kc_json_parse_str("{\"Example.COM/Key\":\"any value at all !\"}", &a, NULL, 0), 0);
	ck_assert_int_eq(kc_validate_annotations(a, NULL), 0);
	cJSON_Delete(a);

	/* total size: exactly 256 KiB passes, one byte more fails with TooLong's detail */
	a = cJSON_CreateObject();
	char *v = repeat('x', KC_ANNOTATIONS_TOTAL_MAX - 1);
	cJSON_AddStringToObject(a, "k", v);
	ck_assert_int_eq(kc_validate_annotations(a, NULL), 0);
	cJSON_AddStringToObject(a, "z", "");
	kc_verrs_init(&e);
	ck_assert_int_eq(kc_validate_annotations(a, &e), KC_EINVALID);
	ck_assert_int_eq(e.n, 1);
	ck_assert_str_eq(e.msg[0], "may not be more than 262144 bytes");
	free(v);
	cJSON_Delete(a);
}
END_TEST

START_TEST(verrs_bounded_and_joinable)
{
	kc_verrs e;
	kc_verrs_init(&e);
	for (int i = 0; i < KC_VERRS_MAX + 3; i++)
		kc_validate_dns1123_label("a.b", &e);
	ck_assert_int_eq(e.n, KC_VERRS_MAX);
	ck_assert_int_eq(e.dropped, 3);
	kc_verrs_init(&e);
	kc_validate_dns1123_label("a.b", &e);
	kc_validate_label_value("b c", &e);
	char buf[1024];
	size_t need = kc_verrs_join(&e, "; ", buf, sizeof(buf));
	ck_assert_uint_eq(need, strlen(buf));
	ck_assert(strncmp(buf, "must not contain dots; a valid label", 36) == 0);
	char small[10];
	ck_assert_uint_eq(kc_verrs_join(&e, "; ", small, sizeof(small)), need);
	ck_assert_str_eq(small, "must not ");
}
END_TEST

static Suite *validate_suite(void)
{
	Suite *s = suite_create("validate");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, dns1123_subdomain);
	tcase_add_test(tc, dns1123_label_and_dns1035);
	tcase_add_test(tc, qualified_names);
	tcase_add_test(tc, label_values);
	tcase_add_test(tc, label_and_annotation_maps);
	tcase_add_test(tc, verrs_bounded_and_joinable);
	suite_add_tcase(s, tc);
	return s;
}

KC_TEST_MAIN(validate_suite)
