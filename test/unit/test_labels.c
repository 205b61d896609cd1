/* Label selectors: cases from apimachinery/pkg/labels/selector_test.go
 * (TestSelectorParse, TestSelectorMatches, TestSetSelectorParser, TestToString,
 * TestRequirementConstructor, TestRequiresExactMatch) and
 * metav1 helpers_test.go (LabelSelectorAsSelector), with upstream's error texts. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"
#include "kc_test.h"
#include "labels.h"
#include "validate.h"

static char *canon(const char *in)
{
	kc_label_selector s;
	char err[KC_SELECTOR_ERRLEN];
	int rc = kc_selector_parse(in, &s, err, sizeof(err));
	ck_assert_msg(rc == 0, "parse '%s': %s", in, err);
	char *out = kc_selector_string(&s);
	ck_assert_ptr_nonnull(out);
	kc_selector_close(&s);
	return out;
}

static void expect_canon(const char *in, const char *want)
{
	char *out = canon(in);
	ck_assert_msg(strcmp(out, want) == 0, "'%s' printed '%s', want '%s'", in, out, want);
	/* the printed form parses back to itself */
	char *again = canon(out);
	ck_assert_str_eq(again, out);
	free(again);
	free(out);
}

static void expect_error(const char *in, const char *msg)
{
	kc_label_selector s;
	char err[KC_SELECTOR_ERRLEN] = "";
	int rc = kc_selector_parse(in, &s, err, sizeof(err));
	ck_assert_msg(rc == KC_EPARSE, "'%s' parsed (rc %d)", in, rc);
	ck_assert_msg(strncmp(err, msg, strlen(msg)) == 0, "'%s': got '%s', want '%s'", in, err,
		      msg);
	ck_assert(kc_selector_empty(&s)); /* left empty and closable on failure */
	kc_selector_close(&s);
}

static bool matches(const char *sel, const char *labels_json)
{
	kc_label_selector s;
	char err[KC_SELECTOR_ERRLEN];
	ck_assert_msg(kc_selector_parse(sel, &s, err, sizeof(err)) == 0, "%s: %s", sel, err);
	cJSON *l = cJSON_Parse(labels_json);
	ck_assert_ptr_nonnull(l);
	bool m = kc_selector_matches(&s, l);
	cJSON_Delete(l);
	kc_selector_close(&s);
	return m;
}

START_TEST(parse_and_print_good_strings)
{
	/* TestSelectorParse: String() equals the input without spaces */
	const char *good[] = { "x=a,y=b,z=c", "", "x!=a,y=b", "x=", "x= ", "x=,z= ",
			       "x= ,z= ", "!x", "x>1", "x>1,z<5" };
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		char want[64];
		size_t o = 0;
		for (const char *p = good[i]; *p; p++)
			if (*p != ' ')
				want[o++] = *p;
		want[o] = '\0';
		expect_canon(good[i], want);
	}
	/* canonical form: sorted by key, values sorted and deduplicated, "==" kept */
	expect_canon("x=a,a=x", "a=x,x=a");
	expect_canon("tier!=db,app=web", "app=web,tier!=db");
	expect_canon("env in (qa, prod,prod)", "env in (prod,qa)");
	expect_canon("x notin (abc,def),bar,z in (),w", "bar,w,x notin (abc,def),z in ()");
	expect_canon("x in (abc,)", "x in (,abc)");
	expect_canon("x notin (, a)", "x notin (,a)");
	expect_canon("a in (x,y,notin, z,in)", "a in (in,notin,x,y,z)");
	expect_canon("x==abc,z!=a,z", "x==abc,z!=a,z");
	expect_canon("\rx", "x");
	expect_canon("foo  in\t (abc)", "foo in (abc)");
	expect_canon("x notin\n (abc)", "x notin (abc)");
	expect_canon("this-is-a-dns.domain.com/key-with-dash", "this-is-a-dns.domain.com/key-with-dash");
	expect_canon("0.1.2.domain/99 notin (10.10.100.1, tick.tack.clock)",
		     "0.1.2.domain/99 notin (10.10.100.1,tick.tack.clock)");
	expect_canon("a ", "a");
	expect_canon("x,y", "x,y");
	expect_canon("notin=in", "notin=in");
	/* stable sort: requirements with the same key keep their order */
	expect_canon("b=1,a=2,b!=3", "a=2,b=1,b!=3");
}
END_TEST

START_TEST(parse_errors_carry_upstream_text)
{
	expect_error("(", "found '(', expected: !, identifier, or 'end of string'");
	expect_error(",x,y", "found ',', expected: !, identifier, or 'end of string'");
	expect_error("x,,y", "found ',', expected: identifier after ','");
	expect_error("a in (xyz),", "found '', expected: identifier after ','");
	expect_error("a in (xyz)b notin ()", "found 'b', expected: ',' or 'end of string'");
	expect_error("!x=a", "found '=', expected: ',' or 'end of string'");
	expect_error("x==a==b", "found '==', expected: ',' or 'end of string'");
	expect_error("a (",
		     "unable to parse requirement: found '(', expected: in, notin, =, ==, !=, gt, lt");
	expect_error("x nott in (y)",
		     "unable to parse requirement: found 'nott', expected: in, notin, =, ==, !=, gt, lt");
	expect_error("a in (xyz abc)", "unable to parse requirement: found 'abc', expected: ',' or ')'");
	expect_error("a notin(",
		     "unable to parse requirement: found '', expected: ',', ')' or identifier");
	expect_error("x in y", "unable to parse requirement: found 'y' expected: '('");
	expect_error("x=(", "unable to parse requirement: found '(', expected: identifier");
	expect_error("!", "unable to parse requirement: found '', expected: identifier");
	expect_error("x<a", "unable to parse requirement: values[0]: Invalid value: \"a\": for "
			    "'Gt', 'Lt' operators, the value must be an integer");
	/* invalid keys and values are rejected with the validation message */
	expect_error("-abc", "unable to parse requirement: <nil>: Invalid value: \"-abc\": name "
			     "part must consist of alphanumeric characters");
	expect_error("x=a||y=b", "unable to parse requirement: values[0][x]: Invalid value: "
				 "\"a||y\": a valid label must be an empty string or consist of");
	char longv[100];
	memset(longv, 'a', 70);
	strcpy(longv + 70, "");
	char sel[128];
	snprintf(sel, sizeof(sel), "k=%s", longv);
	expect_error(sel, "unable to parse requirement: values[0][k]: Invalid value: \"aaaa");
	/* a NULL errbuf is allowed */
	kc_label_selector s;
	ck_assert_int_eq(kc_selector_parse("(", &s, NULL, 0), KC_EPARSE);
	kc_selector_close(&s);
}
END_TEST

START_TEST(matching_as_upstream)
{
	/* TestSelectorMatches */
	ck_assert(matches("", "{\"x\":\"y\"}"));
	ck_assert(matches("x=y", "{\"x\":\"y\"}"));
	ck_assert(matches("x=y,z=w", "{\"x\":\"y\",\"z\":\"w\"}"));
	ck_assert(matches("x!=y,z!=w", "{\"x\":\"z\",\"z\":\"a\"}"));
	ck_assert(matches("notin=in", "{\"notin\":\"in\"}"));
	ck_assert(matches("x", "{\"x\":\"z\"}"));
	ck_assert(matches("!x", "{\"y\":\"z\"}"));
	ck_assert(matches("x>1", "{\"x\":\"2\"}"));
	ck_assert(matches("x<1", "{\"x\":\"0\"}"));
	ck_assert(!matches("x=z", "{}"));
	ck_assert(!matches("x=y", "{\"x\":\"z\"}"));
	ck_assert(!matches("x=y,z=w", "{\"x\":\"w\",\"z\":\"w\"}"));
	ck_assert(!matches("x!=y,z!=w", "{\"x\":\"z\",\"z\":\"w\"}"));
	ck_assert(!matches("x", "{\"y\":\"z\"}"));
	ck_assert(!matches("!x", "{\"x\":\"z\"}"));
	ck_assert(!matches("x>1", "{\"x\":\"0\"}"));
	ck_assert(!matches("x<1", "{\"x\":\"2\"}"));
	ck_assert(!matches("foo=bar,foobar=bar,baz=blah", "{\"foo\":\"bar\",\"baz\":\"blah\"}"));
	/* TestRequirementSelectorMatching */
	ck_assert(matches("x notin (),y", "{\"y\":\"\"}"));
	ck_assert(!matches("x notin (),!y", "{\"y\":\"\"}"));
	ck_assert(!matches("x in ()", "{\"y\":\"baz\"}"));
	ck_assert(matches("x in ()", "{\"x\":\"\"}"));
	ck_assert(!matches("z>1", "{\"z\":\"v2\"}"));
	/* set forms */
	ck_assert(matches("env in (prod,qa)", "{\"env\":\"qa\"}"));
	ck_assert(!matches("env in (prod,qa)", "{\"env\":\"dev\"}"));
	ck_assert(!matches("env in (prod,qa)", "{}"));
	ck_assert(matches("env notin (prod,qa)", "{}"));
	ck_assert(!matches("env notin (prod,qa)", "{\"env\":\"prod\"}"));
	/* NULL labels are "no labels" */
	kc_label_selector s;
	kc_selector_parse("!gpu", &s, NULL, 0);
	ck_assert(kc_selector_matches(&s, NULL));
	kc_selector_close(&s);
	/* against an object's metadata.labels */
	cJSON *pod = cJSON_Parse("{\"metadata\":{\"name\":\"p\",\"labels\":{\"app\":\"web\"}}}");
	kc_selector_parse("app=web", &s, NULL, 0);
	ck_assert(kc_selector_matches_object(&s, pod));
	kc_selector_close(&s);
	kc_selector_parse("app=db", &s, NULL, 0);
	ck_assert(!kc_selector_matches_object(&s, pod));
	kc_selector_close(&s);
	cJSON_Delete(pod);
}
END_TEST

static int from_json(const char *json, kc_label_selector *s, char *err, size_t errlen)
{
	cJSON *j = json ? cJSON_Parse(json) : NULL;
	if (json)
		ck_assert_ptr_nonnull(j);
	int rc = kc_selector_from_json(j, s, err, errlen);
	cJSON_Delete(j);
	return rc;
}

START_TEST(label_selector_object_form)
{
	kc_label_selector s;
	char err[KC_SELECTOR_ERRLEN];
	cJSON *labels = cJSON_Parse("{\"app\":\"web\",\"tier\":\"fe\"}");

	/* nil -> Nothing, empty -> Everything */
	ck_assert_int_eq(from_json(NULL, &s, err, sizeof(err)), 0);
	ck_assert(!kc_selector_matches(&s, labels));
	ck_assert(!kc_selector_empty(&s));
	kc_selector_close(&s);
	ck_assert_int_eq(from_json("null", &s, err, sizeof(err)), 0);
	ck_assert(!kc_selector_matches(&s, labels));
	kc_selector_close(&s);
	ck_assert_int_eq(from_json("{}", &s, err, sizeof(err)), 0);
	ck_assert(kc_selector_matches(&s, labels));
	ck_assert(kc_selector_empty(&s));
	kc_selector_close(&s);
	ck_assert_int_eq(from_json("{\"matchLabels\":{},\"matchExpressions\":[]}", &s, err,
				   sizeof(err)), 0);
	ck_assert(kc_selector_empty(&s));
	kc_selector_close(&s);

	ck_assert_int_eq(
		from_json("{\"matchLabels\":{\"tier\":\"fe\",\"app\":\"web\"},"
			  "\"matchExpressions\":[{\"key\":\"env\",\"operator\":\"NotIn\","
			  "\"values\":[\"prod\",\"dev\"]},{\"key\":\"gpu\",\"operator\":\"DoesNotExist\"}]}",
			  &s, err, sizeof(err)),
		0);
	char *str = kc_selector_string(&s);
	ck_assert_str_eq(str, "app=web,env notin (dev,prod),!gpu,tier=fe");
	free(str);
	ck_assert(kc_selector_matches(&s, labels));
	kc_selector_close(&s);

	ck_assert_int_eq(from_json("{\"matchExpressions\":[{\"key\":\"app\",\"operator\":\"In\","
				   "\"values\":[\"db\"]}]}", &s, err, sizeof(err)), 0);
	ck_assert(!kc_selector_matches(&s, labels));
	kc_selector_close(&s);

	/* upstream's errors */
	ck_assert_int_eq(from_json("{\"matchExpressions\":[{\"key\":\"x\",\"operator\":\"In\"}]}",
				   &s, err, sizeof(err)), KC_EINVALID);
	ck_assert_str_eq(err, "values: Invalid value: []string(nil): for 'in', 'notin' operators, "
			      "values set can't be empty");
	ck_assert_int_eq(from_json("{\"matchExpressions\":[{\"key\":\"x\",\"operator\":\"NotIn\","
				   "\"values\":[]}]}", &s, err, sizeof(err)), KC_EINVALID);
	ck_assert_str_eq(err, "values: Invalid value: []string(nil): for 'in', 'notin' operators, "
			      "values set can't be empty");
	ck_assert_int_eq(from_json("{\"matchExpressions\":[{\"key\":\"x\",\"operator\":\"Exists\","
				   "\"values\":[\"a\"]}]}", &s, err, sizeof(err)), KC_EINVALID);
	ck_assert_str_eq(err, "values: Invalid value: []string{\"a\"}: values set must be empty for "
			      "exists and does not exist");
	ck_assert_int_eq(from_json("{\"matchExpressions\":[{\"key\":\"x\",\"operator\":\"Gt\","
				   "\"values\":[\"1\"]}]}", &s, err, sizeof(err)), KC_EINVALID);
	ck_assert_str_eq(err, "\"Gt\" is not a valid label selector operator");
	ck_assert_int_eq(from_json("{\"matchLabels\":{\"app\":\"a b\"}}", &s, err, sizeof(err)),
			 KC_EINVALID);
	ck_assert_msg(strncmp(err, "values[0][app]: Invalid value: \"a b\": a valid label must be",
			      50) == 0, "%s", err);
	ck_assert_int_eq(from_json("{\"matchExpressions\":[{\"key\":\"-x\",\"operator\":\"In\"}]}",
				   &s, err, sizeof(err)), KC_EINVALID);
	/* two problems aggregate as "[a, b]" */
	ck_assert_msg(strncmp(err, "[key: Invalid value: \"-x\": name part must", 40) == 0, "%s", err);
	ck_assert_msg(strstr(err, ", values: Invalid value: []string(nil)") != NULL, "%s", err);
	ck_assert_int_eq(err[strlen(err) - 1], ']');
	/* wrong JSON types are rejected, not crashed on */
	ck_assert_int_eq(from_json("[]", &s, err, sizeof(err)), KC_EINVALID);
	ck_assert_int_eq(from_json("{\"matchLabels\":{\"a\":1}}", &s, err, sizeof(err)), KC_EINVALID);
	ck_assert_int_eq(from_json("{\"matchExpressions\":{}}", &s, err, sizeof(err)), KC_EINVALID);
	ck_assert_int_eq(from_json("{\"matchExpressions\":[{\"key\":\"x\",\"operator\":\"In\","
				   "\"values\":[1]}]}", &s, err, sizeof(err)), KC_EINVALID);
	ck_assert(kc_selector_empty(&s));
	cJSON_Delete(labels);
}
END_TEST

START_TEST(set_selector_and_exact_match)
{
	kc_label_selector s;
	char err[KC_SELECTOR_ERRLEN];
	cJSON *set = cJSON_Parse("{\"foo\":\"bar\",\"baz\":\"blah\"}");
	ck_assert_int_eq(kc_selector_from_set(set, &s, err, sizeof(err)), 0);
	char *str = kc_selector_string(&s);
	ck_assert_str_eq(str, "baz=blah,foo=bar");
	free(str);
	ck_assert(kc_selector_matches(&s, set));
	const char *v = NULL;
	ck_assert(kc_selector_requires_exact(&s, "foo", &v));
	ck_assert_str_eq(v, "bar");
	ck_assert(!kc_selector_requires_exact(&s, "nope", &v));
	kc_selector_close(&s);
	cJSON_Delete(set);
	ck_assert_int_eq(kc_selector_from_set(NULL, &s, err, sizeof(err)), 0);
	ck_assert(kc_selector_empty(&s));
	kc_selector_close(&s);

	/* TestRequiresExactMatch */
	kc_selector_parse("key in (value,value2)", &s, NULL, 0);
	ck_assert(!kc_selector_requires_exact(&s, "key", &v));
	kc_selector_close(&s);
	kc_selector_parse("key in (value,value1),key2 in (value2)", &s, NULL, 0);
	ck_assert(kc_selector_requires_exact(&s, "key2", &v));
	ck_assert_str_eq(v, "value2");
	kc_selector_close(&s);
	kc_selector_parse("key==value", &s, NULL, 0);
	ck_assert(kc_selector_requires_exact(&s, "key", &v));
	kc_selector_close(&s);
	kc_selector_parse("key!=value", &s, NULL, 0);
	ck_assert(!kc_selector_requires_exact(&s, "key", &v));
	kc_selector_close(&s);
}
END_TEST

START_TEST(key_and_value_validation)
{
	char err[KC_SELECTOR_ERRLEN];
	ck_assert_int_eq(kc_labels_validate_key("app.kubernetes.io/name", err, sizeof(err)), 0);
	ck_assert_int_eq(kc_labels_validate_key("1234", err, sizeof(err)), 0);
	ck_assert_int_eq(kc_labels_validate_key("", err, sizeof(err)), KC_EINVALID);
	ck_assert_int_eq(kc_labels_validate_key("a/b/c", err, sizeof(err)), KC_EINVALID);
	char longk[300];
	memset(longk, 'a', 254);
	longk[254] = '\0';
	ck_assert_int_eq(kc_labels_validate_key(longk, err, sizeof(err)), KC_EINVALID);
	ck_assert_int_eq(kc_labels_validate_value("", err, sizeof(err)), 0);
	ck_assert_int_eq(kc_labels_validate_value("v1.2_x-y", err, sizeof(err)), 0);
	ck_assert_int_eq(kc_labels_validate_value("-x", err, sizeof(err)), KC_EINVALID);
	ck_assert_str_eq(kc_selector_op_api_name(KC_SEL_NOT_IN), "NotIn");
	ck_assert_ptr_null(kc_selector_op_api_name(KC_SEL_GT));
}
END_TEST

START_TEST(validate_label_selector_object)
{
	/* metav1validation.ValidateLabelSelector messages with field paths */
	kc_verrs ve;
	kc_verrs_init(&ve);
	cJSON *j = cJSON_Parse(
		"{\"matchLabels\":{\"app\":\"web\"},\"matchExpressions\":["
		"{\"key\":\"a\",\"operator\":\"In\"},"
		"{\"key\":\"b\",\"operator\":\"Exists\",\"values\":[\"x\"]},"
		"{\"key\":\"c\",\"operator\":\"Gt\",\"values\":[\"1\"]}]}");
	ck_assert_int_eq(kc_selector_validate_json(j, "spec.selector", &ve), KC_EINVALID);
	ck_assert_int_eq(ve.n, 3);
	ck_assert_str_eq(ve.msg[0], "spec.selector.matchExpressions[0].values: Required value: "
				    "must be specified when `operator` is 'In' or 'NotIn'");
	ck_assert_str_eq(ve.msg[1], "spec.selector.matchExpressions[1].values: Forbidden: may not "
				    "be specified when `operator` is 'Exists' or 'DoesNotExist'");
	ck_assert_str_eq(ve.msg[2], "spec.selector.matchExpressions[2].operator: Invalid value: "
				    "\"Gt\": not a valid selector operator");
	cJSON_Delete(j);

	kc_verrs_init(&ve);
	j = cJSON_Parse("{\"matchLabels\":{\"-a\":\"b c\"},\"matchExpressions\":["
			"{\"key\":\"k\",\"operator\":\"NotIn\",\"values\":[\"ok\",\"-no\"]}]}");
	ck_assert_int_eq(kc_selector_validate_json(j, "spec.selector", &ve), KC_EINVALID);
	ck_assert_int_eq(ve.n, 3);
	ck_assert_msg(strncmp(ve.msg[0], "spec.selector.matchLabels: Invalid value: \"-a\": name part "
					 "must consist of", 70) == 0, "%s", ve.msg[0]);
	ck_assert_msg(strncmp(ve.msg[1], "spec.selector.matchLabels: Invalid value: \"b c\": a valid "
					 "label must be", 65) == 0, "%s", ve.msg[1]);
	ck_assert_msg(strncmp(ve.msg[2], "spec.selector.matchExpressions[0].values[1]: Invalid value: "
					 "\"-no\": a valid label", 75) == 0, "%s", ve.msg[2]);
	cJSON_Delete(j);

	/* valid and nil selectors pass */
	kc_verrs_init(&ve);
	j = cJSON_Parse("{\"matchLabels\":{\"app\":\"web\"},\"matchExpressions\":["
			"{\"key\":\"k\",\"operator\":\"DoesNotExist\"}]}");
	ck_assert_int_eq(kc_selector_validate_json(j, "spec.selector", &ve), 0);
	ck_assert_int_eq(kc_selector_validate_json(NULL, "spec.selector", &ve), 0);
	ck_assert_int_eq(ve.n, 0);
	cJSON_Delete(j);
}
END_TEST

static int node_sel(const char *json, kc_label_selector *s, char *err, size_t errlen)
{
	cJSON *j = json ? cJSON_Parse(json) : NULL;
	if (json)
		ck_assert_ptr_nonnull(j);
	int rc = kc_selector_from_node_selector_requirements(j, s, err, errlen);
	cJSON_Delete(j);
	return rc;
}

START_TEST(node_selector_requirements)
{
	kc_label_selector s;
	char err[KC_SELECTOR_ERRLEN];
	cJSON *node = cJSON_Parse("{\"kubernetes.io/hostname\":\"n1\",\"cpus\":\"8\","
				  "\"zone\":\"a\"}");
	/* empty list -> Nothing */
	ck_assert_int_eq(node_sel("[]", &s, err, sizeof(err)), 0);
	ck_assert(!kc_selector_matches(&s, node));
	kc_selector_close(&s);
	ck_assert_int_eq(node_sel(NULL, &s, err, sizeof(err)), 0);
	ck_assert(!kc_selector_matches(&s, node));
	kc_selector_close(&s);
	/* Gt/Lt are allowed here */
	ck_assert_int_eq(node_sel("[{\"key\":\"cpus\",\"operator\":\"Gt\",\"values\":[\"4\"]},"
				  "{\"key\":\"zone\",\"operator\":\"In\",\"values\":[\"b\",\"a\"]}]",
				  &s, err, sizeof(err)), 0);
	ck_assert(kc_selector_matches(&s, node));
	char *str = kc_selector_string(&s);
	ck_assert_str_eq(str, "cpus>4,zone in (a,b)");
	free(str);
	kc_selector_close(&s);
	ck_assert_int_eq(node_sel("[{\"key\":\"cpus\",\"operator\":\"Lt\",\"values\":[\"4\"]}]",
				  &s, err, sizeof(err)), 0);
	ck_assert(!kc_selector_matches(&s, node));
	kc_selector_close(&s);
	/* upstream's errors */
	ck_assert_int_eq(node_sel("[{\"key\":\"a\",\"operator\":\"Foo\"}]", &s, err, sizeof(err)),
			 KC_EINVALID);
	ck_assert_str_eq(err, "\"Foo\" is not a valid node selector operator");
	ck_assert_int_eq(node_sel("[{\"key\":\"a\",\"operator\":\"Gt\",\"values\":[\"x\"]}]", &s,
				  err, sizeof(err)), KC_EINVALID);
	ck_assert_str_eq(err, "values[0]: Invalid value: \"x\": for 'Gt', 'Lt' operators, the value "
			      "must be an integer");
	ck_assert_int_eq(node_sel("[{\"key\":\"a\",\"operator\":\"In\",\"values\":[]}]", &s, err,
				  sizeof(err)), KC_EINVALID);
	ck_assert_str_eq(err, "values: Invalid value: []string{}: for 'in', 'notin' operators, "
			      "values set can't be empty");
	ck_assert_int_eq(node_sel("[{\"key\":\"a\",\"operator\":\"Gt\"}]", &s, err, sizeof(err)),
			 KC_EINVALID);
	ck_assert_str_eq(err, "values: Invalid value: []string(nil): for 'Gt', 'Lt' operators, "
			      "exactly one value is required");
	ck_assert_int_eq(node_sel("{}", &s, err, sizeof(err)), KC_EINVALID);
	cJSON_Delete(node);
}
END_TEST

static Suite *labels_suite(void)
{
	Suite *s = suite_create("labels");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, parse_and_print_good_strings);
	tcase_add_test(tc, parse_errors_carry_upstream_text);
	tcase_add_test(tc, matching_as_upstream);
	tcase_add_test(tc, label_selector_object_form);
	tcase_add_test(tc, set_selector_and_exact_match);
	tcase_add_test(tc, key_and_value_validation);
	tcase_add_test(tc, validate_label_selector_object);
	tcase_add_test(tc, node_selector_requirements);
	suite_add_tcase(s, tc);
	return s;
}

KC_TEST_MAIN(labels_suite)
