/* Field selectors: cases from apimachinery/pkg/fields/selector_test.go
 * (TestSelectorParse, TestSelectorMatches, TestEscapeValue, TestUnescapeValue,
 * TestSplitTerms) and the per-kind field tables of the apiserver registries. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"
#include "fields.h"
#include "kc_test.h"

static char *roundtrip(const char *in)
{
	kc_field_selector s;
	char err[KC_FIELDS_ERRLEN];
	ck_assert_msg(kc_fields_parse(in, &s, err, sizeof(err)) == 0, "'%s': %s", in, err);
	char *out = kc_fields_string(&s);
	ck_assert_ptr_nonnull(out);
	kc_fields_close(&s);
	return out;
}

static void expect_error(const char *in, const char *msg)
{
	kc_field_selector s;
	char err[KC_FIELDS_ERRLEN] = "";
	ck_assert_msg(kc_fields_parse(in, &s, err, sizeof(err)) == KC_EPARSE, "'%s' parsed", in);
	ck_assert_msg(strcmp(err, msg) == 0, "'%s': got '%s' want '%s'", in, err, msg);
	ck_assert(kc_fields_empty(&s));
	kc_fields_close(&s);
}

START_TEST(parse_print_upstream_strings)
{
	/* TestSelectorParse: good strings print back unchanged */
	const char *good[] = { "x=a,y=b,z=c", "", "x!=a,y=b", "x=a||y\\=b", "x=a\\=\\=b" };
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		char *out = roundtrip(good[i]);
		ck_assert_str_eq(out, good[i]);
		free(out);
	}
	/* sorted, "==" prints as "=", escapes preserved, empty terms skipped */
	const struct {
		const char *in, *out;
	} t[] = {
		{ "z=c,x=a", "x=a,z=c" },
		{ "status.phase!=Running,spec.nodeName==node-1", "spec.nodeName=node-1,status.phase!=Running" },
		{ "a=b\\,c", "a=b\\,c" },
		{ "a=b\\\\", "a=b\\\\" },
		{ "spec.nodeName=", "spec.nodeName=" },
		{ "a=1,,b=2,", "a=1,b=2" },
		{ "x==\\=,x=b", "x=\\=,x=b" },
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		char *out = roundtrip(t[i].in);
		ck_assert_msg(strcmp(out, t[i].out) == 0, "'%s' -> '%s'", t[i].in, out);
		char *again = roundtrip(out);
		ck_assert_str_eq(again, out);
		free(again);
		free(out);
	}
	/* values are stored unescaped */
	kc_field_selector s;
	ck_assert_int_eq(kc_fields_parse("a=b\\,c\\=d\\\\e", &s, NULL, 0), 0);
	ck_assert_int_eq(s.nreqs, 1);
	ck_assert_str_eq(s.reqs[0].field, "a");
	ck_assert_str_eq(s.reqs[0].value, "b,c=d\\e");
	kc_fields_close(&s);
	/* no trimming, as upstream */
	ck_assert_int_eq(kc_fields_parse("a = b", &s, NULL, 0), 0);
	ck_assert_str_eq(s.reqs[0].field, "a ");
	ck_assert_str_eq(s.reqs[0].value, " b");
	kc_fields_close(&s);
}
END_TEST

START_TEST(parse_errors)
{
	expect_error("x=a||y=b", "invalid field selector: unescaped character in value: =");
	expect_error("x==a==b", "invalid field selector: unescaped character in value: =");
	expect_error("x=a,b", "invalid selector: 'x=a,b'; can't understand 'b'");
	expect_error("x in (a)", "invalid selector: 'x in (a)'; can't understand 'x in (a)'");
	expect_error("x", "invalid selector: 'x'; can't understand 'x'");
	/* terms are checked in sorted order, so "a" is reported before "z" */
	expect_error("z,a", "invalid selector: 'z,a'; can't understand 'a'");
	expect_error("a=b\\", "invalid field selector: invalid escape sequence: \\");
	expect_error("a=\\a", "invalid field selector: invalid escape sequence: \\a");
	expect_error("a=\\\xc3\xa9", "invalid field selector: invalid escape sequence: \\\xc3\xa9");
}
END_TEST

START_TEST(escape_unescape)
{
	/* TestEscapeValue */
	const struct {
		const char *in, *out;
	} t[] = {
		{ "", "" }, { "a", "a" }, { "=", "\\=" }, { ",", "\\," }, { "\\", "\\\\" },
		{ "\\=\\,\\", "\\\\\\=\\\\\\,\\\\" },
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		char *e = kc_fields_escape_value(t[i].in);
		ck_assert_str_eq(e, t[i].out);
		char *u = NULL;
		ck_assert_int_eq(kc_fields_unescape_value(e, &u, NULL, 0), 0);
		ck_assert_str_eq(u, t[i].in);
		free(u);
		free(e);
	}
	/* TestUnescapeValue invalid cases */
	const struct {
		const char *in, *msg;
	} bad[] = {
		{ "\\", "invalid field selector: invalid escape sequence: \\" },
		{ "\\\\\\", "invalid field selector: invalid escape sequence: \\" },
		{ "\\a", "invalid field selector: invalid escape sequence: \\a" },
		{ ",", "invalid field selector: unescaped character in value: ," },
		{ "=", "invalid field selector: unescaped character in value: =" },
		{ "a,", "invalid field selector: unescaped character in value: ," },
		{ "a=", "invalid field selector: unescaped character in value: =" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char *u = NULL;
		char err[KC_FIELDS_ERRLEN];
		ck_assert_int_eq(kc_fields_unescape_value(bad[i].in, &u, err, sizeof(err)), KC_EPARSE);
		ck_assert_ptr_null(u);
		ck_assert_str_eq(err, bad[i].msg);
	}
}
END_TEST

static int match(const char *sel, const char *kind, const char *obj_json, char *err, size_t len)
{
	kc_field_selector s;
	ck_assert_int_eq(kc_fields_parse(sel, &s, NULL, 0), 0);
	cJSON *obj = cJSON_Parse(obj_json);
	ck_assert_ptr_nonnull(obj);
	int rc = kc_fields_matches(&s, kind, obj, err, len);
	cJSON_Delete(obj);
	kc_fields_close(&s);
	return rc;
}

static const char POD[] =
	"{\"kind\":\"Pod\",\"metadata\":{\"name\":\"web-1\",\"namespace\":\"default\"},"
	"\"spec\":{\"nodeName\":\"node-1\",\"restartPolicy\":\"Always\","
	"\"schedulerName\":\"default-scheduler\",\"serviceAccountName\":\"default\"},"
	"\"status\":{\"phase\":\"Running\",\"podIP\":\"10.0.0.9\","
	"\"podIPs\":[{\"ip\":\"10.0.0.5\"},{\"ip\":\"fd00::5\"}],\"nominatedNodeName\":\"n2\"}}";

START_TEST(pod_fields)
{
	char err[KC_FIELDS_ERRLEN];
	ck_assert_int_eq(match("", "Pod", POD, err, sizeof(err)), 1);
	ck_assert_int_eq(match("spec.nodeName=node-1", "Pod", POD, err, sizeof(err)), 1);
	ck_assert_int_eq(match("spec.nodeName=node-2", "Pod", POD, err, sizeof(err)), 0);
	ck_assert_int_eq(match("spec.nodeName!=node-2", "Pod", POD, err, sizeof(err)), 1);
	ck_assert_int_eq(match("spec.host=node-1", "Pod", POD, err, sizeof(err)), 1);
	ck_assert_int_eq(match("metadata.name=web-1,metadata.namespace=default", "Pod", POD, err,
			       sizeof(err)), 1);
	ck_assert_int_eq(match("metadata.namespace!=default", "Pod", POD, err, sizeof(err)), 0);
	ck_assert_int_eq(match("spec.restartPolicy=Always,spec.schedulerName=default-scheduler,"
			       "spec.serviceAccountName=default", "Pod", POD, err, sizeof(err)), 1);
	ck_assert_int_eq(match("status.phase=Running", "Pod", POD, err, sizeof(err)), 1);
	ck_assert_int_eq(match("status.phase!=Running", "Pod", POD, err, sizeof(err)), 0);
	/* podIP comes from podIPs[0] */
	ck_assert_int_eq(match("status.podIP=10.0.0.5", "Pod", POD, err, sizeof(err)), 1);
	ck_assert_int_eq(match("status.nominatedNodeName=n2", "Pod", POD, err, sizeof(err)), 1);
	/* hostNetwork reads "false" when unset, "true" when set */
	ck_assert_int_eq(match("spec.hostNetwork=false", "Pod", POD, err, sizeof(err)), 1);
	ck_assert_int_eq(match("spec.hostNetwork=true", "Pod",
			       "{\"spec\":{\"hostNetwork\":true}}", err, sizeof(err)), 1);
	/* an absent field reads as "": unscheduled pods */
	ck_assert_int_eq(match("spec.nodeName=", "Pod", "{\"spec\":{}}", err, sizeof(err)), 1);
	ck_assert_int_eq(match("spec.nodeName=", "Pod", POD, err, sizeof(err)), 0);
	ck_assert_int_eq(match("status.podIP=10.1.1.1", "Pod",
			       "{\"status\":{\"podIP\":\"10.1.1.1\"}}", err, sizeof(err)), 1);
	/* unsupported field */
	ck_assert_int_eq(match("spec.foo=bar", "Pod", POD, err, sizeof(err)), KC_EINVALID);
	ck_assert_str_eq(err, "field label not supported: spec.foo");
}
END_TEST

START_TEST(other_kinds)
{
	char err[KC_FIELDS_ERRLEN];
	const char *ev = "{\"metadata\":{\"name\":\"e1\",\"namespace\":\"default\"},"
			 "\"involvedObject\":{\"kind\":\"Pod\",\"namespace\":\"default\","
			 "\"name\":\"web-1\",\"uid\":\"u-1\",\"apiVersion\":\"v1\","
			 "\"resourceVersion\":\"42\",\"fieldPath\":\"spec.containers{c}\"},"
			 "\"reason\":\"Scheduled\",\"reportingComponent\":\"default-scheduler\","
			 "\"source\":{\"component\":\"kubelet\"},\"type\":\"Normal\"}";
	ck_assert_int_eq(match("involvedObject.kind=Pod,involvedObject.name=web-1,"
			       "involvedObject.namespace=default,involvedObject.uid=u-1,"
			       "involvedObject.apiVersion=v1,involvedObject.resourceVersion=42,"
			       "involvedObject.fieldPath=spec.containers{c}",
			       "Event", ev, err, sizeof(err)), 1);
	ck_assert_int_eq(match("reason=Scheduled,type=Normal,reportingComponent=default-scheduler",
			       "Event", ev, err, sizeof(err)), 1);
	ck_assert_int_eq(match("source=kubelet", "Event", ev, err, sizeof(err)), 1);
	/* source falls back to reportingComponent */
	ck_assert_int_eq(match("source=ctrl", "Event", "{\"reportingComponent\":\"ctrl\"}", err,
			       sizeof(err)), 1);
	ck_assert_int_eq(match("type=Warning", "Event", ev, err, sizeof(err)), 0);

	ck_assert_int_eq(match("spec.unschedulable=true", "Node",
			       "{\"metadata\":{\"name\":\"n1\"},\"spec\":{\"unschedulable\":true}}",
			       err, sizeof(err)), 1);
	ck_assert_int_eq(match("spec.unschedulable=false", "Node",
			       "{\"metadata\":{\"name\":\"n1\"}}", err, sizeof(err)), 1);
	/* cluster-scoped kinds do not know metadata.namespace */
	ck_assert_int_eq(match("metadata.namespace=x", "Node", "{}", err, sizeof(err)), KC_EINVALID);
	ck_assert_str_eq(err, "field label not supported: metadata.namespace");
	ck_assert_int_eq(match("status.phase=Active,metadata.name=kube-system", "Namespace",
			       "{\"metadata\":{\"name\":\"kube-system\"},\"status\":{\"phase\":\"Active\"}}",
			       err, sizeof(err)), 1);
	ck_assert_int_eq(match("type=kubernetes.io/service-account-token", "Secret",
			       "{\"type\":\"kubernetes.io/service-account-token\"}", err, sizeof(err)),
			 1);
	ck_assert_int_eq(match("status.replicas=3", "ReplicaSet", "{\"status\":{\"replicas\":3}}",
			       err, sizeof(err)), 1);
	ck_assert_int_eq(match("status.replicas=0", "ReplicaSet", "{\"status\":{}}", err,
			       sizeof(err)), 1);
	ck_assert_int_eq(match("status.successful=2", "Job", "{\"status\":{\"succeeded\":2}}", err,
			       sizeof(err)), 1);
	ck_assert_int_eq(match("spec.clusterIP=10.96.0.1,spec.type=ClusterIP,metadata.name=kubernetes",
			       "Service",
			       "{\"metadata\":{\"name\":\"kubernetes\"},"
			       "\"spec\":{\"clusterIP\":\"10.96.0.1\",\"type\":\"ClusterIP\"}}",
			       err, sizeof(err)), 1);
	/* unknown kinds get metadata.name / metadata.namespace only */
	ck_assert_int_eq(match("metadata.name=cm", "ConfigMap", "{\"metadata\":{\"name\":\"cm\"}}",
			       err, sizeof(err)), 1);
	ck_assert_int_eq(match("data.x=1", "ConfigMap", "{}", err, sizeof(err)), KC_EINVALID);
	ck_assert_str_eq(err, "field label not supported: data.x");
	/* type confusion in the object never crashes and reads as "" */
	ck_assert_int_eq(match("spec.nodeName=", "Pod", "{\"spec\":[1,2]}", err, sizeof(err)), 1);
	ck_assert_int_eq(match("status.podIP=", "Pod", "{\"status\":{\"podIPs\":[5]}}", err,
			       sizeof(err)), 1);
}
END_TEST

START_TEST(check_get_and_exact)
{
	kc_field_selector s;
	char err[KC_FIELDS_ERRLEN];
	ck_assert_int_eq(kc_fields_parse("spec.nodeName=n1,status.phase!=Failed", &s, NULL, 0), 0);
	ck_assert_int_eq(kc_fields_check(&s, "Pod", err, sizeof(err)), 0);
	ck_assert_int_eq(kc_fields_check(&s, "Node", err, sizeof(err)), KC_EINVALID);
	ck_assert_str_eq(err, "field label not supported: spec.nodeName");
	const char *v = NULL;
	ck_assert(kc_fields_requires_exact(&s, "spec.nodeName", &v));
	ck_assert_str_eq(v, "n1");
	ck_assert(!kc_fields_requires_exact(&s, "status.phase", &v));
	kc_fields_close(&s);

	cJSON *pod = cJSON_Parse(POD);
	char *out = NULL;
	ck_assert_int_eq(kc_fields_get("Pod", pod, "status.phase", &out), 0);
	ck_assert_str_eq(out, "Running");
	free(out);
	ck_assert_int_eq(kc_fields_get("Pod", pod, "nope", &out), KC_EINVALID);
	ck_assert_ptr_null(out);
	cJSON_Delete(pod);

	const kc_field_table *t = kc_fields_table_for_kind("Pod");
	ck_assert_str_eq(t->kind, "Pod");
	ck_assert_ptr_nonnull(kc_fields_table_find(t, "spec.schedulerName"));
	ck_assert_str_eq(kc_fields_table_for_kind(NULL)->kind, "");
	ck_assert_str_eq(kc_fields_table_for_kind("Widget")->kind, "");
}
END_TEST

static Suite *fields_suite(void)
{
	Suite *s = suite_create("fields");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, parse_print_upstream_strings);
	tcase_add_test(tc, parse_errors);
	tcase_add_test(tc, escape_unescape);
	tcase_add_test(tc, pod_fields);
	tcase_add_test(tc, other_kinds);
	tcase_add_test(tc, check_get_and_exact);
	suite_add_tcase(s, tc);
	return s;
}

KC_TEST_MAIN(fields_suite)
