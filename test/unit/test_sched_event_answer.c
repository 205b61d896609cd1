/* scheduler/event_answer.c: the correlator's fields of an Event create's answer, picked
 * without building the tree, must be exactly what kc_json_parse would give the recorder
 * (count, firstTimestamp, metadata.name, metadata.resourceVersion), and whenever the
 * scanner cannot be sure it must say so (NULL) so that the answer is parsed instead. */
#include <stdio.h>
#include <string.h>

#include "json.h"
#include "kc_test.h"
#include "../../scheduler/event_answer.h"

/* An answer as kube-apiserver writes it for a Scheduled event (with managedFields). */
static const char ANSWER[] =
	"{\"kind\":\"Event\",\"apiVersion\":\"v1\",\"metadata\":{\"name\":\"web-1.187b2c1d5e6f7a80\","
	"\"namespace\":\"default\",\"uid\":\"6f1c2e1a-0b7d-4c1e-9a53-1f0e2d3c4b5a\","
	"\"resourceVersion\":\"20417\",\"creationTimestamp\":\"2026-11-26T02:10:11Z\","
	"\"managedFields\":[{\"manager\":\"kube-scheduler\",\"operation\":\"Update\","
	"\"apiVersion\":\"v1\",\"time\":\"2026-11-26T02:10:11Z\",\"fieldsType\":\"FieldsV1\","
	"\"fieldsV1\":{\"f:count\":{},\"f:firstTimestamp\":{},\"f:involvedObject\":{},"
	"\"f:message\":{},\"f:reason\":{},\"f:source\":{\"f:component\":{}},\"f:type\":{}}}]},"
	"\"involvedObject\":{\"kind\":\"Pod\",\"namespace\":\"default\",\"name\":\"web-1\","
	"\"uid\":\"0a1b\",\"apiVersion\":\"v1\",\"resourceVersion\":\"20400\"},"
	"\"reason\":\"Scheduled\",\"message\":\"Successfully assigned default/web-1 to \\\"n1\\\" \\u00e9\","
	"\"source\":{\"component\":\"default-scheduler\"},\"firstTimestamp\":\"2026-11-26T02:10:11Z\","
	"\"lastTimestamp\":\"2026-11-26T02:10:11Z\",\"count\":1,\"type\":\"Normal\","
	"\"eventTime\":null,\"reportingComponent\":\"\",\"reportingInstance\":\"\","
	"\"series\":[1.5e3,-0,true,false,[],{}]}\n";

/* What the recorder reads of an answer tree (NULL for absent, as its jstr would see). */
typedef struct fields {
	bool has_count;
	double count;
	const char *ts, *name, *rv;
} fields;

static const char *str_at(const cJSON *o, const char *a, const char *b)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, a);
	if (b)
		v = cJSON_GetObjectItemCaseSensitive(v, b);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static fields read_fields(const cJSON *o)
{
	fields f = { 0 };
	const cJSON *c = cJSON_GetObjectItemCaseSensitive(o, "count");
	f.has_count = c != NULL;
	f.count = cJSON_IsNumber(c) ? c->valuedouble : -1;
	f.ts = str_at(o, "firstTimestamp", NULL);
	f.name = str_at(o, "metadata", "name");
	f.rv = str_at(o, "metadata", "resourceVersion");
	return f;
}

static bool same_str(const char *a, const char *b)
{
	return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

/* The property: a summary is only ever given when the full parse succeeds and reads the
 * same four fields. Returns whether a summary was given. */
static bool check_agrees(const char *buf, size_t len)
{
	cJSON *sum = sched_event_answer_summary(buf, len);
	if (!sum)
		return false;
	cJSON *full = NULL;
	ck_assert_msg(kc_json_parse(buf, len, len, &full, NULL, 0) == 0,
		      "summary given for an answer kc_json_parse rejects: %.*s", (int)len, buf);
	fields a = read_fields(sum), b = read_fields(full);
	ck_assert_int_eq(a.has_count, b.has_count);
	ck_assert(a.count == b.count);
	ck_assert(same_str(a.ts, b.ts));
	ck_assert(same_str(a.name, b.name));
	ck_assert(same_str(a.rv, b.rv));
	cJSON_Delete(full);
	cJSON_Delete(sum);
	return true;
}

START_TEST(picks_the_correlator_fields)
{
	cJSON *sum = sched_event_answer_summary(ANSWER, strlen(ANSWER));
	ck_assert_ptr_nonnull(sum);
	fields f = read_fields(sum);
	ck_assert(f.has_count && f.count == 1);
	ck_assert_str_eq(f.ts, "2026-11-26T02:10:11Z");
	ck_assert_str_eq(f.name, "web-1.187b2c1d5e6f7a80");
	ck_assert_str_eq(f.rv, "20417");
	/* nothing else is copied (involvedObject's name and resourceVersion are not the
	 * Event's) */
	ck_assert_int_eq(cJSON_GetArraySize(sum), 3);
	ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(sum, "metadata")), 2);
	cJSON_Delete(sum);
	ck_assert(check_agrees(ANSWER, strlen(ANSWER)));
}
END_TEST

START_TEST(absent_fields_stay_absent)
{
	const char *a = "{\"metadata\":{\"name\":\"e\"},\"count\":3}";
	ck_assert(check_agrees(a, strlen(a)));
	cJSON *sum = sched_event_answer_summary(a, strlen(a));
	ck_assert_ptr_null(cJSON_GetObjectItemCaseSensitive(sum, "firstTimestamp"));
	ck_assert_ptr_null(str_at(sum, "metadata", "resourceVersion"));
	cJSON_Delete(sum);
	const char *b = "  {}  ";
	ck_assert(check_agrees(b, strlen(b)));
}
END_TEST

/* Whatever the scanner cannot give exactly as the parser would: NULL. */
START_TEST(unsure_means_null)
{
	static const char *const cases[] = {
		/* escapes or non-ASCII in a target: the parser would decode them */
		"{\"metadata\":{\"name\":\"a\\u0062\"}}",
		"{\"metadata\":{\"name\":\"caf\xc3\xa9\"}}",
		"{\"firstTimestamp\":\"2026\\/11\"}",
		/* an escaped key may spell a target */
		"{\"metadata\":{\"n\\u0061me\":\"x\"}}",
		/* a target twice: the parser keeps the last value */
		"{\"count\":1,\"count\":2}",
		"{\"metadata\":{\"name\":\"a\"},\"metadata\":{\"name\":\"b\"}}",
		"{\"metadata\":{\"resourceVersion\":\"1\",\"resourceVersion\":\"2\"}}",
		/* unexpected types */
		"{\"count\":\"1\"}",
		"{\"metadata\":null}",
		"{\"firstTimestamp\":null}",
		"{\"count\":1e999}",
		/* not an object, or malformed */
		"[]",
		"",
		"{\"a\":1,}",
		"{\"a\":01}",
		"{\"a\":1.}",
		"{\"a\":tru}",
		"{\"a\":\"\x01\"}",
		"{\"a\":\"\\x\"}",
		"{\"a\":1} x",
		"{\"a\":1}{}",
		"{\"a\" 1}",
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cJSON *sum = sched_event_answer_summary(cases[i], strlen(cases[i]));
		ck_assert_msg(sum == NULL, "case %zu gave a summary: %s", i, cases[i]);
	}
	/* nesting past the limit */
	char deep[512];
	size_t n = 0;
	n += (size_t)snprintf(deep, sizeof(deep), "{\"x\":");
	for (int i = 0; i < SCHED_EVENT_ANSWER_MAX_DEPTH + 1; i++)
		deep[n++] = '[';
	for (int i = 0; i < SCHED_EVENT_ANSWER_MAX_DEPTH + 1; i++)
		deep[n++] = ']';
	deep[n++] = '}';
	ck_assert_ptr_null(sched_event_answer_summary(deep, n));
	ck_assert_ptr_null(sched_event_answer_summary(NULL, 0));
}
END_TEST

/* Every prefix of the answer, and the answer with each byte replaced by one of a few
 * troublesome ones: a summary is either refused or the same as the full parse's. */
START_TEST(mutations_never_disagree)
{
	char buf[sizeof(ANSWER)];
	size_t len = strlen(ANSWER);
	int given = 0;
	for (size_t i = 0; i <= len; i++)
		given += check_agrees(ANSWER, i);
	/* only the whole answer (and the one without its trailing newline) is valid */
	ck_assert_int_eq(given, 2);
	static const char subst[] = { '"', '\\', '}', ']', ',', ':', ' ', 'x', '0', '\0', '\x80' };
	for (size_t i = 0; i < len; i++)
		for (size_t k = 0; k < sizeof(subst); k++) {
			memcpy(buf, ANSWER, len);
			buf[i] = subst[k];
			check_agrees(buf, len);
		}
}
END_TEST

static Suite *sched_event_answer_suite(void)
{
	Suite *s = suite_create("sched_event_answer");
	TCase *tc = tcase_create("summary");
	tcase_add_test(tc, picks_the_correlator_fields);
	tcase_add_test(tc, absent_fields_stay_absent);
	tcase_add_test(tc, unsure_means_null);
	tcase_add_test(tc, mutations_never_disagree);
	suite_add_tcase(s, tc);
	return s;
}

KC_TEST_MAIN(sched_event_answer_suite)
