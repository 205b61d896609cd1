#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"
#include "json.h"
#include "kc_test.h"

/* Parse s or fail the test. */
static cJSON *must_parse(const char *s)
{
	cJSON *j = NULL;
	char err[KC_JSON_ERRLEN];
	int rc = kc_json_parse_str(s, &j, err, sizeof(err));
	ck_assert_msg(rc == 0, "parse %s: %s", s, err);
	ck_assert_ptr_nonnull(j);
	return j;
}

/* Parse, expect failure with rc and exactly this error text. */
static void expect_err(const char *s, size_t len, int want_rc, const char *want)
{
	cJSON *j = (cJSON *)1;
	char err[KC_JSON_ERRLEN];
	int rc = kc_json_parse(s, len, 0, &j, err, sizeof(err));
	ck_assert_int_eq(rc, want_rc);
	ck_assert_ptr_null(j);
	ck_assert_str_eq(err, want);
}

/* Round trip through the compact printer. */
static void expect_print(const char *in, const char *want)
{
	cJSON *j = must_parse(in);
	char *out = kc_json_print(j);
	ck_assert_ptr_nonnull(out);
	ck_assert_str_eq(out, want);
	free(out);
	cJSON_Delete(j);
}

START_TEST(parse_errors_name_the_position)
{
	expect_err("{\"a\": x}", 8, KC_EPARSE,
		   "invalid character 'x' looking for beginning of value at offset 6");
	expect_err("{\"a\" 1}", 7, KC_EPARSE, "invalid character '1' after object key at offset 5");
	expect_err("{\"a\":1 \"b\":2}", 13, KC_EPARSE,
		   "invalid character '\"' after object key:value pair at offset 7");
	expect_err("[1 2]", 5, KC_EPARSE, "invalid character '2' after array element at offset 3");
	expect_err("{1:2}", 5, KC_EPARSE,
		   "invalid character '1' looking for beginning of object key string at offset 1");
	expect_err("tru", 3, KC_EPARSE, "unexpected end of JSON input at offset 3");
	expect_err("trux", 4, KC_EPARSE,
		   "invalid character 'x' in literal true (expecting 'e') at offset 3");
	expect_err("-x", 2, KC_EPARSE, "invalid character 'x' in numeric literal at offset 1");
	expect_err("1.e5", 4, KC_EPARSE,
		   "invalid character 'e' after decimal point in numeric literal at offset 2");
	expect_err("1e+", 3, KC_EPARSE, "unexpected end of JSON input at offset 3");
	expect_err("\"a\\qb\"", 6, KC_EPARSE,
		   "invalid character 'q' in string escape code at offset 3");
	expect_err("\"\\u12g4\"", 8, KC_EPARSE,
		   "invalid character 'g' in \\u hexadecimal character escape at offset 5");
	expect_err("", 0, KC_EPARSE, "unexpected end of JSON input at offset 0");
	expect_err("   ", 3, KC_EPARSE, "unexpected end of JSON input at offset 3");
	/* bytes are quoted as Go's quoteChar does */
	expect_err("\xff", 1, KC_EPARSE,
		   "invalid character '\xc3\xbf' looking for beginning of value at offset 0");
	expect_err("\x85", 1, KC_EPARSE,
		   "invalid character '\\u0085' looking for beginning of value at offset 0");
	expect_err("[\v]", 3, KC_EPARSE,
		   "invalid character '\\v' looking for beginning of value at offset 1");
	expect_err("'a'", 3, KC_EPARSE,
		   "invalid character '\\'' looking for beginning of value at offset 0");
	expect_err("1e999", 5, KC_EPARSE,
		   "json: cannot unmarshal number 1e999 into Go value of type float64 at offset 0");
}
END_TEST

START_TEST(truncated_input_is_rejected)
{
	const char *full = "{\"metadata\":{\"name\":\"web\",\"labels\":{\"app\":\"x\"}},\"n\":[1,2.5,true]}";
	size_t n = strlen(full);
	/* Every strict prefix of a valid document must fail, never crash or succeed. */
	for (size_t len = 0; len < n; len++) {
		cJSON *j = NULL;
		char err[KC_JSON_ERRLEN];
		int rc = kc_json_parse(full, len, 0, &j, err, sizeof(err));
		ck_assert_msg(rc == KC_EPARSE, "prefix %zu parsed", len);
		ck_assert_ptr_null(j);
		ck_assert_msg(strstr(err, "unexpected end of JSON input") != NULL ||
				      strstr(err, "invalid character") != NULL,
			      "prefix %zu: %s", len, err);
	}
	cJSON *j = NULL;
	ck_assert_int_eq(kc_json_parse(full, n, 0, &j, NULL, 0), 0);
	cJSON_Delete(j);
}
END_TEST

START_TEST(trailing_garbage_is_rejected)
{
	expect_err("{} x", 4, KC_EPARSE, "invalid character 'x' after top-level value at offset 3");
	expect_err("{}{}", 4, KC_EPARSE, "invalid character '{' after top-level value at offset 2");
	expect_err("01", 2, KC_EPARSE, "invalid character '1' after top-level value at offset 1");
	/* Trailing whitespace is fine. */
	cJSON *j = must_parse(" {\"a\":1} \n\t");
	cJSON_Delete(j);
}
END_TEST

START_TEST(embedded_nul_is_rejected)
{
	/* A NUL inside the buffer (len covers it) is an invalid character, not the end. */
	expect_err("{\"a\":1}\0garbage", 15, KC_EPARSE,
		   "invalid character '\\x00' after top-level value at offset 7");
	expect_err("\"ab\0c\"", 6, KC_EPARSE,
		   "invalid character '\\x00' in string literal at offset 3");
	/* \u0000 would be silently truncated by NUL-terminated strings. */
	expect_err("{\"k\":\"a\\u0000b\"}", 16, KC_EPARSE,
		   "string contains NUL (\\u0000), which is not supported at offset 7");
}
END_TEST

START_TEST(depth_and_size_limits)
{
	size_t depth = KC_JSON_MAX_DEPTH + 1;
	char *deep = malloc(2 * depth + 1);
	memset(deep, '[', depth);
	memset(deep + depth, ']', depth);
	deep[2 * depth] = '\0';
	cJSON *j = NULL;
	char err[KC_JSON_ERRLEN];
	ck_assert_int_eq(kc_json_parse(deep, 2 * depth, 0, &j, err, sizeof(err)), KC_EPARSE);
	ck_assert_ptr_null(j);
	ck_assert_ptr_nonnull(strstr(err, "exceeded max depth"));
	/* Exactly at the limit is accepted. */
	ck_assert_int_eq(kc_json_parse(deep + 1, 2 * depth - 2, 0, &j, err, sizeof(err)), 0);
	cJSON_Delete(j);
	free(deep);

	ck_assert_int_eq(kc_json_parse("[1,2,3]", 7, 6, &j, err, sizeof(err)), KC_ETOOLARGE);
	ck_assert_str_eq(err, "JSON input of 7 bytes exceeds the limit of 6 bytes");
	ck_assert_int_eq(kc_json_parse("[1,2,3]", 7, 7, &j, err, sizeof(err)), 0);
	cJSON_Delete(j);
}
END_TEST

START_TEST(strings_unescape_and_reescape_like_go)
{
	cJSON *j = must_parse("\"a\\n\\t\\\"\\\\\\/\\u00e9\\ud83d\\ude00<&>\"");
	ck_assert_str_eq(j->valuestring, "a\n\t\"\\/\xc3\xa9\xf0\x9f\x98\x80<&>");
	char *out = kc_json_print(j);
	/* Go escapes <, >, & for HTML safety and leaves non-ASCII as UTF-8. */
	ck_assert_str_eq(out, "\"a\\n\\t\\\"\\\\/\xc3\xa9\xf0\x9f\x98\x80\\u003c\\u0026\\u003e\"");
	free(out);
	cJSON_Delete(j);
	/* Invalid UTF-8 and lone surrogates become U+FFFD, as Go decodes them. */
	j = must_parse("\"x\xff" "y\\ud800z\"");
	ck_assert_str_eq(j->valuestring, "x\xef\xbf\xbdy\xef\xbf\xbdz");
	cJSON_Delete(j);
	expect_print("\"\\u2028\\u0001\"", "\"\\u2028\\u0001\"");
	/* empty strings are empty (and terminated), as values and as keys */
	j = must_parse("{\"e\":\"\",\"\":\"k\"}");
	ck_assert_str_eq(kc_json_get_string(j, "e", NULL), "");
	ck_assert_str_eq(cJSON_GetObjectItemCaseSensitive(j, "")->valuestring, "k");
	cJSON_Delete(j);
	expect_print("{\"e\":\"\",\"\":\"\"}", "{\"e\":\"\",\"\":\"\"}");
}
END_TEST

START_TEST(printer_escapes_bytes_not_from_the_parser)
{
	/* Strings built in C (not parsed) may hold invalid or cut UTF-8: each bad byte prints
	 * as U+FFFD, a sequence cut by the end of the string too; good ones stay raw. */
	cJSON *s = cJSON_CreateString("a\xc3" "b\xe2\x80" "\xf0\x9f\x98\x80" "\xe2\x80\xa9" "\x7f\xc3");
	char *out = kc_json_print(s);
	ck_assert_str_eq(out, "\"a\\ufffdb\\ufffd\\ufffd\xf0\x9f\x98\x80\\u2029\x7f\\ufffd\"");
	free(out);
	cJSON_Delete(s);
	s = cJSON_CreateString("\xe2\x80");
	out = kc_json_print(s);
	ck_assert_str_eq(out, "\"\\ufffd\\ufffd\"");
	free(out);
	cJSON_Delete(s);
}
END_TEST

START_TEST(print_mark_finds_the_closing_brace)
{
	cJSON *j = must_parse("{\"a\":1,\"metadata\":{\"name\":\"x\",\"l\":{\"k\":\"}\"}},\"z\":[{}]}");
	cJSON *md = cJSON_GetObjectItemCaseSensitive(j, "metadata");
	size_t len = 0, end = 0;
	char *out = kc_json_print_mark(j, md, &len, &end);
	ck_assert_uint_eq(len, strlen(out));
	ck_assert_uint_eq(end, strlen("{\"a\":1,\"metadata\":{\"name\":\"x\",\"l\":{\"k\":\"}\"}"));
	ck_assert_int_eq(out[end], '}');
	/* Splicing a member in at end gives what printing the tree with it appended gives. */
	char spliced[256];
	snprintf(spliced, sizeof(spliced), "%.*s,\"rv\":\"7\"%s", (int)end, out, out + end);
	cJSON_AddStringToObject(md, "rv", "7");
	char *again = kc_json_print(j);
	ck_assert_str_eq(spliced, again);
	free(again);
	free(out);
	/* An empty or absent mark: 0. */
	cJSON *e = cJSON_CreateObject();
	cJSON_AddItemToObject(j, "e", e);
	out = kc_json_print_mark(j, e, &len, &end);
	ck_assert_uint_eq(end, 0);
	free(out);
	cJSON *other = cJSON_CreateObject();
	out = kc_json_print_mark(j, other, NULL, &end);
	ck_assert_uint_eq(end, 0);
	free(out);
	cJSON_Delete(other);
	cJSON_Delete(j);
}
END_TEST

START_TEST(integers_print_as_integers)
{
	expect_print("{\"generation\":1000000}", "{\"generation\":1000000}");
	expect_print("[1e6, 1E+2, -0.0, 123456789012345]", "[1000000,100,0,123456789012345]");
	expect_print("[1.5, 0.1, -2.25, 1e-7, 1e21, 1.5e300, 0.000001]",
		     "[1.5,0.1,-2.25,1e-7,1e+21,1.5e+300,0.000001]");
	/* Beyond 2^53 a double would lose digits; the literal survives exactly. */
	expect_print("{\"v\":9007199254740993,\"w\":-9223372036854775808}",
		     "{\"v\":9007199254740993,\"w\":-9223372036854775808}");
	cJSON *j = must_parse("{\"v\":9223372036854775807,\"f\":2.5,\"s\":\"7\"}");
	int64_t v = 0;
	ck_assert_int_eq(kc_json_item_int64(kc_json_get(j, "v"), &v), 0);
	ck_assert(v == INT64_MAX);
	ck_assert(kc_json_is_number(kc_json_get(j, "v")));
	ck_assert_int_eq(kc_json_item_int64(kc_json_get(j, "f"), &v), -EINVAL);
	ck_assert_int_eq(kc_json_item_int64(kc_json_get(j, "s"), &v), -EINVAL);
	ck_assert(kc_json_get_int64(j, "f", -1) == -1);
	cJSON_Delete(j);
	/* Beyond int64 falls back to a double, as Go's interface{} decoding. */
	expect_print("[123456789012345678901234567890]", "[1.2345678901234568e+29]");

	cJSON *big = kc_json_new_int64(INT64_C(1) << 60);
	char *out = kc_json_print(big);
	ck_assert_str_eq(out, "1152921504606846976");
	free(out);
	cJSON *dbl = cJSON_CreateNumber(1152921504606846976.0);
	ck_assert(kc_json_equal(big, dbl));
	cJSON_Delete(dbl);
	cJSON_Delete(big);
}
END_TEST

START_TEST(duplicate_keys_last_wins)
{
	expect_print("{\"a\":1,\"b\":2,\"a\":3}", "{\"a\":3,\"b\":2}");
	expect_print("{\"a\":1,\"b\":2,\"b\":[4]}", "{\"a\":1,\"b\":[4]}");
	expect_print("{\"a\":1,\"a\":{\"x\":1},\"c\":0}", "{\"a\":{\"x\":1},\"c\":0}");
	cJSON *j = must_parse("{\"k\":1,\"k\":2}");
	ck_assert_int_eq(cJSON_GetArraySize(j), 1);
	/* Appending after a replaced tail must still work (list invariants intact). */
	cJSON_AddNumberToObject(j, "z", 9);
	char *out = kc_json_print(j);
	ck_assert_str_eq(out, "{\"k\":2,\"z\":9}");
	free(out);
	cJSON_Delete(j);

	/* Large objects (indexed duplicate check): 5000 keys, then k7 and k4999 again. */
	size_t cap = 5000 * 24 + 64, o = 0;
	char *big = malloc(cap);
	o += (size_t)snprintf(big + o, cap - o, "{");
	for (int i = 0; i < 5000; i++)
		o += (size_t)snprintf(big + o, cap - o, "\"k%d\":%d,", i, i);
	snprintf(big + o, cap - o, "\"k7\":\"x\",\"k4999\":\"y\",\"k31\":null}");
	j = must_parse(big);
	ck_assert_int_eq(cJSON_GetArraySize(j), 5000);
	ck_assert_str_eq(kc_json_get_string(j, "k7", ""), "x");
	ck_assert_str_eq(kc_json_get_string(j, "k4999", ""), "y");
	ck_assert(cJSON_IsNull(kc_json_get(j, "k31")));
	ck_assert(kc_json_get_int64(j, "k4998", -1) == 4998);
	ck_assert_str_eq(cJSON_GetArrayItem(j, 7)->string, "k7"); /* first position kept */
	cJSON_Delete(j);
	free(big);
}
END_TEST

START_TEST(paths_get_set_delete)
{
	cJSON *j = must_parse("{\"metadata\":{\"name\":\"web\",\"labels\":{\"app\":\"nginx\","
			      "\"app.kubernetes.io/name\":\"web\"}},"
			      "\"spec\":{\"replicas\":3,\"paused\":true,"
			      "\"containers\":[{\"image\":\"nginx:1\"},{\"image\":\"busybox\"}]}}");
	ck_assert_str_eq(kc_json_get_string(j, "metadata.labels.app", NULL), "nginx");
	ck_assert_str_eq(kc_json_get_string(j, "metadata.labels.app\\.kubernetes\\.io/name", NULL),
			 "web");
	ck_assert_ptr_null(kc_json_get(j, "metadata.labels.app.kubernetes.io/name"));
	ck_assert_str_eq(kc_json_get_string(j, "spec.containers.1.image", "?"), "busybox");
	ck_assert_str_eq(kc_json_get_string(j, "spec.containers.2.image", "?"), "?");
	ck_assert(kc_json_get_int64(j, "spec.replicas", 0) == 3);
	ck_assert(kc_json_get_int64(j, "spec.missing", 42) == 42);
	ck_assert(kc_json_get_int64(j, "metadata.name", 7) == 7); /* wrong type -> default */
	ck_assert(kc_json_get_bool(j, "spec.paused", false));
	ck_assert(kc_json_get_bool(j, "spec.nothere", true));
	ck_assert_str_eq(kc_json_get_string(j, "spec.replicas", "def"), "def");
	ck_assert_ptr_eq(kc_json_get(j, ""), j);
	ck_assert_ptr_null(kc_json_get(j, "metadata..name"));
	ck_assert_ptr_null(kc_json_get(j, "metadata.name."));

	/* set creates intermediate objects */
	ck_assert_int_eq(kc_json_set_string(j, "metadata.annotations.a\\.b/c", "v"), 0);
	ck_assert_str_eq(kc_json_get_string(j, "metadata.annotations.a\\.b/c", NULL), "v");
	ck_assert_int_eq(kc_json_set_int64(j, "spec.replicas", 5), 0);
	ck_assert(kc_json_get_int64(j, "spec.replicas", 0) == 5);
	ck_assert_int_eq(kc_json_set_bool(j, "spec.containers.0.tty", true), 0);
	ck_assert(kc_json_get_bool(j, "spec.containers.0.tty", false));
	ck_assert_int_eq(kc_json_set_string(j, "spec.containers.1", "replaced"), 0);
	ck_assert_str_eq(kc_json_get_string(j, "spec.containers.1", NULL), "replaced");
	/* arrays are not extended; scalars are not traversed; nothing half-created */
	ck_assert_int_eq(kc_json_set_string(j, "spec.containers.5", "x"), -EINVAL);
	ck_assert_int_eq(kc_json_set_string(j, "spec.replicas.x", "x"), -EINVAL);
	ck_assert_int_eq(kc_json_set_string(j, "status.a.b.c", NULL), 0);
	ck_assert_int_eq(kc_json_set_string(j, "x.y.containers.5", "v"), 0);
	ck_assert_int_eq(kc_json_set_string(j, "spec.containers.9.image", "v"), -EINVAL);
	ck_assert_int_eq(kc_json_set_string(j, "", "v"), -EINVAL);
	ck_assert_int_eq(kc_json_set_string(j, "a\\", "v"), -EINVAL);

	ck_assert_int_eq(kc_json_delete(j, "metadata.labels.app"), 0);
	ck_assert_int_eq(kc_json_delete(j, "metadata.labels.app"), KC_ENOTFOUND);
	ck_assert_int_eq(kc_json_delete(j, "spec.containers.0"), 0);
	ck_assert_str_eq(kc_json_get_string(j, "spec.containers.0", NULL), "replaced");
	char *out = kc_json_print(j);
	ck_assert_str_eq(out,
			 "{\"metadata\":{\"name\":\"web\",\"labels\":{\"app.kubernetes.io/name\":\"web\"},"
			 "\"annotations\":{\"a.b/c\":\"v\"}},\"spec\":{\"replicas\":5,\"paused\":true,"
			 "\"containers\":[\"replaced\"]},\"status\":{\"a\":{\"b\":{\"c\":\"\"}}},"
			 "\"x\":{\"y\":{\"containers\":{\"5\":\"v\"}}}}");
	free(out);
	cJSON_Delete(j);
}
END_TEST

START_TEST(path_escape_and_split)
{
	char buf[64];
	ck_assert_uint_eq(kc_json_path_escape("app.kubernetes.io/name", buf, sizeof(buf)), 24);
	ck_assert_str_eq(buf, "app\\.kubernetes\\.io/name");
	ck_assert_uint_eq(kc_json_path_escape("a\\b", buf, 3), 4);
	ck_assert_str_eq(buf, "a\\"); /* truncated like snprintf */
	char segs[KC_JSON_PATH_MAXSEGS][KC_JSON_PATH_SEGCAP];
	ck_assert_int_eq(kc_json_path_split("a.b\\.c.d\\\\", segs, KC_JSON_PATH_MAXSEGS), 3);
	ck_assert_str_eq(segs[1], "b.c");
	ck_assert_str_eq(segs[2], "d\\");
	ck_assert_int_eq(kc_json_path_split("a.b.c", segs, 2), -EINVAL);
	ck_assert_int_eq(kc_json_path_split("a\\x", segs, 2), -EINVAL);
	ck_assert_int_eq(kc_json_path_split("", segs, 2), 0);

	/* get/set/delete have no segment-count limit */
	char deep[200] = "a";
	for (int i = 0; i < 40; i++)
		strcat(deep, ".b");
	cJSON *j = cJSON_CreateObject();
	ck_assert_int_eq(kc_json_set_int64(j, deep, 7), 0);
	ck_assert(kc_json_get_int64(j, deep, 0) == 7);
	ck_assert_int_eq(kc_json_delete(j, "a..b"), -EINVAL);
	ck_assert_int_eq(kc_json_delete(j, "zz.b"), KC_ENOTFOUND);
	ck_assert_int_eq(kc_json_delete(j, deep), 0);
	ck_assert_ptr_null(kc_json_get(j, deep));
	ck_assert_int_eq(kc_json_delete(j, "a"), 0);
	ck_assert_ptr_null(j->child);
	cJSON_Delete(j);
}
END_TEST

START_TEST(equal_ignores_member_order)
{
	cJSON *a = must_parse("{\"a\":1,\"b\":{\"x\":[1,2],\"y\":null},\"c\":\"s\"}");
	cJSON *b = must_parse("{\"c\":\"s\",\"b\":{\"y\":null,\"x\":[1,2.0]},\"a\":1.0}");
	cJSON *c = must_parse("{\"c\":\"s\",\"b\":{\"y\":null,\"x\":[2,1]},\"a\":1}");
	cJSON *d = must_parse("{\"c\":\"s\",\"b\":{\"y\":null,\"x\":[1,2]},\"a\":1,\"e\":0}");
	cJSON *e = must_parse("{\"c\":\"s\",\"b\":{\"y\":false,\"x\":[1,2]},\"a\":1}");
	ck_assert(kc_json_equal(a, b));
	ck_assert(kc_json_equal(b, a));
	ck_assert(!kc_json_equal(a, c)); /* array order matters */
	ck_assert(!kc_json_equal(a, d));
	ck_assert(!kc_json_equal(d, a));
	ck_assert(!kc_json_equal(a, e));
	ck_assert(kc_json_equal(NULL, NULL));
	ck_assert(!kc_json_equal(a, NULL));
	cJSON *big1 = must_parse("9007199254740993"), *big2 = must_parse("9007199254740992");
	ck_assert(!kc_json_equal(big1, big2));
	cJSON_Delete(big1);
	cJSON_Delete(big2);

	/* canonical printing is the same for equal trees; insertion order is kept otherwise */
	char *pa = kc_json_print_canonical(a), *pb = kc_json_print_canonical(b);
	ck_assert_str_eq(pa, pb);
	ck_assert_str_eq(pa, "{\"a\":1,\"b\":{\"x\":[1,2],\"y\":null},\"c\":\"s\"}");
	free(pa);
	free(pb);
	pb = kc_json_print(b);
	ck_assert_str_eq(pb, "{\"c\":\"s\",\"b\":{\"y\":null,\"x\":[1,2]},\"a\":1}");
	free(pb);

	cJSON *dup = kc_json_dup(b);
	ck_assert(kc_json_equal(dup, b));
	kc_json_set_string(dup, "b.y", "changed");
	ck_assert(!kc_json_equal(dup, b));
	ck_assert(cJSON_IsNull(kc_json_get(b, "b.y"))); /* deep copy: original untouched */
	cJSON_Delete(dup);
	cJSON_Delete(a);
	cJSON_Delete(b);
	cJSON_Delete(c);
	cJSON_Delete(d);
	cJSON_Delete(e);
}
END_TEST

START_TEST(pretty_print_matches_go_indent)
{
	cJSON *j = must_parse("{\"kind\":\"Pod\",\"a\":[1,{}],\"e\":[],\"o\":{\"k\":true}}");
	char *out = kc_json_print_pretty(j);
	ck_assert_str_eq(out, "{\n  \"kind\": \"Pod\",\n  \"a\": [\n    1,\n    {}\n  ],\n  \"e\": [],\n"
			      "  \"o\": {\n    \"k\": true\n  }\n}");
	free(out);
	size_t len = 0;
	out = kc_json_print_len(j, &len);
	ck_assert_uint_eq(len, strlen(out));
	free(out);
	cJSON_Delete(j);
}
END_TEST

/* Long documents and strings that mix plain runs with escapes, HTML characters and UTF-8
 * print byte for byte as Go's encoder would, whichever path each string takes. */
START_TEST(long_and_mixed_strings_round_trip)
{
	cJSON *j = NULL;
	ck_assert_int_eq(kc_json_parse_str("{\"a\":\"plain\",\"b\":\"tab\\there\",\"c\":\"x<y>&z\","
					   "\"d\":\"caf\u00e9 \\u00e9\",\"e\":\"\\\"q\\\"\"}",
					   &j, NULL, 0), 0);
	ck_assert_str_eq(cJSON_GetObjectItem(j, "b")->valuestring, "tab\there");
	char *out = kc_json_print(j);
	ck_assert_str_eq(out, "{\"a\":\"plain\",\"b\":\"tab\\there\",\"c\":\"x\\u003cy\\u003e\\u0026z\","
			      "\"d\":\"caf\u00e9 \u00e9\",\"e\":\"\\\"q\\\"\"}");
	free(out);
	cJSON_Delete(j);
	/* a document far larger than the printer's first buffer */
	size_t n = 200000;
	char *big = malloc(n + 64);
	ck_assert_ptr_nonnull(big);
	strcpy(big, "{\"k\":\"");
	size_t off = strlen(big);
	for (size_t i = 0; i < n; i++)
		big[off++] = (char)('a' + i % 26);
	strcpy(big + off, "\",\"z\":[1,2,3]}");
	ck_assert_int_eq(kc_json_parse_str(big, &j, NULL, 0), 0);
	size_t len = 0;
	out = kc_json_print_len(j, &len);
	ck_assert_uint_eq(len, strlen(big));
	ck_assert_str_eq(out, big);
	free(out);
	cJSON_Delete(j);
	free(big);
}
END_TEST

static Suite *json_suite(void)
{
	Suite *s = suite_create("json");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, parse_errors_name_the_position);
	tcase_add_test(tc, truncated_input_is_rejected);
	tcase_add_test(tc, trailing_garbage_is_rejected);
	tcase_add_test(tc, embedded_nul_is_rejected);
	tcase_add_test(tc, depth_and_size_limits);
	tcase_add_test(tc, strings_unescape_and_reescape_like_go);
	tcase_add_test(tc, printer_escapes_bytes_not_from_the_parser);
	tcase_add_test(tc, print_mark_finds_the_closing_brace);
	tcase_add_test(tc, integers_print_as_integers);
	tcase_add_test(tc, duplicate_keys_last_wins);
	tcase_add_test(tc, paths_get_set_delete);
	tcase_add_test(tc, path_escape_and_split);
	tcase_add_test(tc, equal_ignores_member_order);
	tcase_add_test(tc, pretty_print_matches_go_indent);
	tcase_add_test(tc, long_and_mixed_strings_round_trip);
	suite_add_tcase(s, tc);
	return s;
}

KC_TEST_MAIN(json_suite)
