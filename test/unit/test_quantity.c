/* resource.Quantity: the cases are upstream's own (apimachinery/pkg/api/resource/
 * quantity_test.go: TestQuantityParse, TestQuantityString, TestQuantityParseEmit,
 * TestNegativeValueRoundsAwayFromZero, TestMilliNewSet, TestNewSet, TestSub ...). */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "errors.h"
#include "kc_test.h"
#include "quantity.h"

static kc_quantity must(const char *s)
{
	kc_quantity q;
	char err[KC_QUANTITY_ERRLEN];
	int rc = kc_quantity_parse(s, &q, err, sizeof(err));
	ck_assert_msg(rc == 0, "parse %s: %s", s, err);
	return q;
}

static const char *str(const kc_quantity *q)
{
	static char buf[KC_QUANTITY_STRMAX];
	ck_assert_int_ge(kc_quantity_string(q, buf, sizeof(buf)), 1);
	return buf;
}

/* value as mantissa * 10^exp, compared exactly through the nano count */
static __int128 decval(int64_t m, int exp)
{
	__int128 v = m;
	int e = exp + 9;
	for (; e > 0; e--)
		v *= 10;
	for (; e < 0; e++)
		v /= 10;
	return v;
}

static const struct {
	const char *in;
	int64_t m;
	int exp;
	kc_quantity_format fmt;
} parse_table[] = {
	{ "0", 0, 0, KC_QUANTITY_DECIMAL_SI },
	{ "0n", 0, 0, KC_QUANTITY_DECIMAL_SI },
	{ "0m", 0, 0, KC_QUANTITY_DECIMAL_SI },
	{ "0Ki", 0, 0, KC_QUANTITY_BINARY_SI },
	{ "0Mi", 0, 0, KC_QUANTITY_BINARY_SI },
	{ "0T", 0, 0, KC_QUANTITY_DECIMAL_SI },
	{ "1", 1, 0, KC_QUANTITY_DECIMAL_SI },
	{ "1Ki", 1024, 0, KC_QUANTITY_BINARY_SI },
	{ "8Ki", 8 * 1024, 0, KC_QUANTITY_BINARY_SI },
	{ "7Mi", 7 * 1024 * 1024, 0, KC_QUANTITY_BINARY_SI },
	{ "6Gi", 6LL * 1024 * 1024 * 1024, 0, KC_QUANTITY_BINARY_SI },
	{ "5Ti", 5LL * 1024 * 1024 * 1024 * 1024, 0, KC_QUANTITY_BINARY_SI },
	{ "4Pi", 4LL * 1024 * 1024 * 1024 * 1024 * 1024, 0, KC_QUANTITY_BINARY_SI },
	{ "3Ei", 3LL * 1024 * 1024 * 1024 * 1024 * 1024 * 1024, 0, KC_QUANTITY_BINARY_SI },
	{ "100Ti", 100LL * 1024 * 1024 * 1024 * 1024, 0, KC_QUANTITY_BINARY_SI },
	{ "5n", 5, -9, KC_QUANTITY_DECIMAL_SI },
	{ "4u", 4, -6, KC_QUANTITY_DECIMAL_SI },
	{ "3m", 3, -3, KC_QUANTITY_DECIMAL_SI },
	{ "8k", 8, 3, KC_QUANTITY_DECIMAL_SI },
	{ "50k", 5, 4, KC_QUANTITY_DECIMAL_SI },
	{ "7M", 7, 6, KC_QUANTITY_DECIMAL_SI },
	{ "6G", 6, 9, KC_QUANTITY_DECIMAL_SI },
	{ "300T", 3, 14, KC_QUANTITY_DECIMAL_SI },
	{ "2P", 2, 15, KC_QUANTITY_DECIMAL_SI },
	{ "1E", 1, 18, KC_QUANTITY_DECIMAL_SI },
	{ "1E-3", 1, -3, KC_QUANTITY_DECIMAL_EXPONENT },
	{ "1e3", 1, 3, KC_QUANTITY_DECIMAL_EXPONENT },
	{ "1E6", 1, 6, KC_QUANTITY_DECIMAL_EXPONENT },
	{ "1e14", 1, 14, KC_QUANTITY_DECIMAL_EXPONENT },
	{ "1E18", 1, 18, KC_QUANTITY_DECIMAL_EXPONENT },
	{ "100.035k", 100035, 0, KC_QUANTITY_DECIMAL_SI },
	{ "0.001", 1, -3, KC_QUANTITY_DECIMAL_SI },
	{ "0.0005k", 5, -1, KC_QUANTITY_DECIMAL_SI },
	{ "0.5", 5, -1, KC_QUANTITY_DECIMAL_SI },
	{ "0.00050k", 5, -1, KC_QUANTITY_DECIMAL_SI },
	{ "0.50000", 5, -1, KC_QUANTITY_DECIMAL_SI },
	{ "0.5e-2", 5, -3, KC_QUANTITY_DECIMAL_EXPONENT },
	{ "10.035M", 10035, 3, KC_QUANTITY_DECIMAL_SI },
	{ "1.2e3", 12, 2, KC_QUANTITY_DECIMAL_EXPONENT },
	{ "1.3E+6", 13, 5, KC_QUANTITY_DECIMAL_EXPONENT },
	{ "1.53E12", 153, 10, KC_QUANTITY_DECIMAL_EXPONENT },
	{ "1.7E18", 17, 17, KC_QUANTITY_DECIMAL_EXPONENT },
	{ "9.01", 901, -2, KC_QUANTITY_DECIMAL_SI },
	{ "6.987654321G", 6987654321LL, 0, KC_QUANTITY_DECIMAL_SI },
	{ "1.01E", 101, 16, KC_QUANTITY_DECIMAL_SI },
	/* things that saturate / round up */
	{ "3.001n", 4, -9, KC_QUANTITY_DECIMAL_SI },
	{ "1.1E-9", 2, -9, KC_QUANTITY_DECIMAL_EXPONENT },
	{ "0.0000000001", 1, -9, KC_QUANTITY_DECIMAL_SI },
	{ "0.00000000050", 1, -9, KC_QUANTITY_DECIMAL_SI },
	{ "0.9n", 1, -9, KC_QUANTITY_DECIMAL_SI },
	{ "0.00000012345", 124, -9, KC_QUANTITY_DECIMAL_SI },
	{ "9Ei", INT64_MAX, 0, KC_QUANTITY_BINARY_SI },
	{ "9223372036854775807Ki", INT64_MAX, 0, KC_QUANTITY_BINARY_SI },
	{ "12E", 12, 18, KC_QUANTITY_DECIMAL_SI },
	/* fractional binary */
	{ "100.035Ki", 10243584, -2, KC_QUANTITY_BINARY_SI },
	{ "0.5Mi", 512 * 1024, 0, KC_QUANTITY_BINARY_SI },
	{ "0.05Gi", 536870912, -1, KC_QUANTITY_BINARY_SI },
	{ "0.025Ti", 274877906944LL, -1, KC_QUANTITY_BINARY_SI },
	/* "things written by trolls" */
	{ "0.000000000001Ki", 2, -9, KC_QUANTITY_DECIMAL_SI },
	{ ".001", 1, -3, KC_QUANTITY_DECIMAL_SI },
	{ ".0001k", 100, -3, KC_QUANTITY_DECIMAL_SI },
	{ "1.", 1, 0, KC_QUANTITY_DECIMAL_SI },
	{ "1.G", 1, 9, KC_QUANTITY_DECIMAL_SI },
	{ ".", 0, 0, KC_QUANTITY_DECIMAL_SI },
};

START_TEST(parse_upstream_table)
{
	for (size_t i = 0; i < sizeof(parse_table) / sizeof(parse_table[0]); i++) {
		const char *in = parse_table[i].in;
		kc_quantity q = must(in);
		__int128 want = decval(parse_table[i].m, parse_table[i].exp);
		ck_assert_msg(q.nano == want, "%s: got %s", in, str(&q));
		ck_assert_msg(q.format == parse_table[i].fmt, "%s: format %d", in, q.format);
		/* the negative and the explicitly positive spelling, as upstream's loops */
		char buf[64];
		snprintf(buf, sizeof(buf), "-%s", in);
		kc_quantity n = must(buf);
		ck_assert_msg(n.nano == -want && n.format == parse_table[i].fmt, "%s", buf);
		snprintf(buf, sizeof(buf), "+%s", in);
		kc_quantity p = must(buf);
		ck_assert_msg(p.nano == want && p.format == parse_table[i].fmt, "%s", buf);
	}
}
END_TEST

START_TEST(parse_rejects_with_upstream_messages)
{
	static const struct {
		const char *in;
		const char *msg;
	} bad[] = {
		{ "", "quantities must match the regular expression "
		      "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'" },
		{ "1.1.M", "quantities must match the regular expression "
			   "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'" },
		{ "1+1.0M", "quantities must match the regular expression "
			    "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'" },
		{ "0.1mi", "unable to parse quantity's suffix" },
		{ "0.1am", "quantities must match the regular expression "
			   "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'" },
		{ "aoeu", "quantities must match the regular expression "
			  "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'" },
		{ ".5i", "unable to parse quantity's suffix" },
		{ "1i", "unable to parse quantity's suffix" },
		{ "-3.01i", "unable to parse quantity's suffix" },
		{ "-3.01e-", "unable to parse quantity's suffix" },
		{ "1e4294967297", "unable to parse quantity's suffix" },
		{ "1E2147483648", "unable to parse quantity's suffix" },
		{ " 1", "quantities must match the regular expression "
			"'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'" },
		{ "1 ", "quantities must match the regular expression "
			"'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'" },
		{ "1K", "unable to parse quantity's suffix" },
		{ "Non-Numeric", "quantities must match the regular expression "
				 "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'" },
		{ "-.e-10", "unable to parse numeric part of quantity" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		kc_quantity q;
		char err[KC_QUANTITY_ERRLEN] = "";
		ck_assert_msg(kc_quantity_parse(bad[i].in, &q, err, sizeof(err)) == KC_EPARSE,
			      "'%s' parsed", bad[i].in);
		ck_assert_msg(strcmp(err, bad[i].msg) == 0, "'%s': %s", bad[i].in, err);
	}
	kc_quantity q;
	ck_assert_int_eq(kc_quantity_parse(NULL, &q, NULL, 0), KC_EPARSE);
	/* the documented kubec range limit: an honest error, not a wrong value */
	char err[KC_QUANTITY_ERRLEN];
	ck_assert_int_eq(kc_quantity_parse("1e40", &q, err, sizeof(err)), KC_ETOOLARGE);
	ck_assert_str_eq(err, "quantity too large");
	/* exponents far below 1n round up to 1n instead of failing */
	ck_assert(kc_quantity_parse("1e-2147483647", &q, NULL, 0) == 0 && q.nano == 1);
}
END_TEST

START_TEST(canonical_string_upstream_table)
{
	/* TestQuantityParseEmit, TestQuantityString alternates and the brief's cases */
	static const struct {
		const char *in, *out;
	} t[] = {
		{ "1Ki", "1Ki" },	      { "1Mi", "1Mi" },		{ "1Gi", "1Gi" },
		{ "1024Mi", "1Gi" },	      { "1000M", "1G" },	{ ".001Ki", "1024m" },
		{ ".000001Ki", "1024u" },     { ".000000001Ki", "1024n" },
		{ ".000000000001Ki", "2n" },  { "307200Ki", "300Mi" },	{ "1025024Mi", "1001Gi" },
		{ "1024Gi", "1Ti" },	      { "5000m", "5" },		{ "0.5", "500m" },
		{ "1000M", "1G" },	      { "0.001T", "1G" },	{ "1000u", "1m" },
		{ "1.08", "1080m" },	      { "1080000000n", "1080m" },
		{ "1000E", "1e21" },	      { "5000E", "5e21" },	{ "1000000E", "1e24" },
		{ ".001e12", "1e9" },	      { "0.001e0", "1e-3" },	{ "1000e-12", "1e-9" },
		{ "80e-3", "80e-3" },	      { "300e6", "300e6" },	{ "3e3", "3e3" },
		{ "00", "0" },		      { "1536Mi", "1536Mi" },	{ "1.5Gi", "1536Mi" },
		{ "100m", "100m" },	      { "0.1", "100m" },	{ "1000m", "1" },
		{ "1e3", "1e3" },	      { "12k", "12k" },		{ "+1.0", "1" },
		{ "-2", "-2" },		      { ".5", "500m" },		{ "256Mi", "256Mi" },
		{ "0Gi", "0" },		      { "-0", "0" },		{ "1025Ki", "1025Ki" },
		{ "0.5Ki", "512" },	      { "1.1Ki", "1126400m" },	{ "1234567M", "1234567M" },
		{ "9Ei", "9223372036854775807" },
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		kc_quantity q = must(t[i].in);
		ck_assert_msg(strcmp(str(&q), t[i].out) == 0, "%s -> %s, want %s", t[i].in,
			      str(&q), t[i].out);
		/* the canonical form parses back to the same value and prints the same */
		kc_quantity r = must(t[i].out);
		ck_assert_msg(kc_quantity_cmp(&q, &r) == 0, "%s", t[i].out);
		ck_assert_str_eq(str(&r), t[i].out);
		if (q.nano != 0 && t[i].out[0] != '-') {
			/* negated values print with a leading '-' */
			char want[80];
			snprintf(want, sizeof(want), "-%s", t[i].out);
			kc_quantity_neg(&q);
			ck_assert_str_eq(str(&q), want);
		}
	}
}
END_TEST

START_TEST(canonical_input_text_is_echoed)
{
	/* ParseQuantity keeps q.s when the fast path finds the text canonical */
	static const struct {
		const char *in, *out, *after_arith;
	} t[] = {
		{ "+1", "+1", "1" },	     { "1E3", "1E3", "1e3" },	   { "1e+3", "1e+3", "1e3" },
		{ "1500e0", "1500e0", "1500" }, { "1.G", "1.G", "1G" },	   { "+1Ki", "+1Ki", "1Ki" },
		{ "1025Ki", "1025Ki", "1025Ki" }, { "-100m", "-100m", "-100m" },
		/* not echoed: not canonical or not on the fast path */
		{ "8Ki", "8Ki", "8Ki" },     { "1024Ki", "1Mi", "1Mi" },   { "+1.5", "1500m", "1500m" },
		{ "1000m", "1", "1" },	     { "0.5", "500m", "500m" },	   { "010", "010", "10" },
		{ "0m", "0", "0" },
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		kc_quantity q = must(t[i].in);
		ck_assert_msg(strcmp(str(&q), t[i].out) == 0, "%s -> %s", t[i].in, str(&q));
		kc_quantity zero = must("0");
		ck_assert_int_eq(kc_quantity_add(&q, &zero), 0);
		ck_assert_msg(strcmp(str(&q), t[i].after_arith) == 0, "%s + 0 -> %s", t[i].in,
			      str(&q));
	}
}
END_TEST

START_TEST(binary_past_ei_prints_exact_decimal)
{
	/* TestBinarySIPastEiArithmeticRoundTrip: 1Ei * 1024 = 2^70 */
	kc_quantity q = must("1Ei");
	ck_assert_int_eq(kc_quantity_mul(&q, 1024), 0);
	ck_assert_str_eq(str(&q), "1180591620717411303424");
	kc_quantity r = must(str(&q));
	ck_assert_int_eq(kc_quantity_cmp(&q, &r), 0);
	/* 1024 * 1000Ei is not a multiple of 1024^7 in a way Ei can carry */
	kc_quantity t = kc_quantity_from_int(2000, KC_QUANTITY_BINARY_SI);
	ck_assert_str_eq(str(&t), "2000");
	kc_quantity_neg(&t);
	ck_assert_str_eq(str(&t), "-2000");
}
END_TEST

START_TEST(value_and_milli_round_away_from_zero)
{
	static const struct {
		const char *in;
		int64_t value, milli;
	} t[] = {
		{ "-.484785E-7466", -1, -1 },
		{ ".484785E-7466", 1, 1 },
		{ "-.484785E-1", -1, -49 },
		{ ".484785E-1", 1, 49 },
		{ "-0.0005", -1, -1 },
		{ "0.0005", 1, 1 },
		{ "-1500m", -2, -1500 },
		{ "1500m", 2, 1500 },
		{ "-9.5000000001Gi", -10200547329LL, -10200547328108LL },
		{ "9.5000000001Gi", 10200547329LL, 10200547328108LL },
		{ "-1", -1, -1000 },
		{ "1", 1, 1000 },
		{ "0", 0, 0 },
		{ "100m", 1, 100 },
		{ "1.5Gi", 1610612736LL, 1610612736000LL },
		{ "256Mi", 268435456LL, 268435456000LL },
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		kc_quantity q = must(t[i].in);
		ck_assert_msg(kc_quantity_value(&q) == t[i].value, "%s value %lld", t[i].in,
			      (long long)kc_quantity_value(&q));
		ck_assert_msg(kc_quantity_milli_value(&q) == t[i].milli, "%s milli %lld", t[i].in,
			      (long long)kc_quantity_milli_value(&q));
	}
	/* saturates instead of wrapping */
	kc_quantity big = must("100E");
	ck_assert_int_eq(kc_quantity_milli_value(&big), INT64_MAX);
	kc_quantity_neg(&big);
	ck_assert_int_eq(kc_quantity_milli_value(&big), INT64_MIN);
}
END_TEST

START_TEST(constructors_match_upstream)
{
	/* TestNewSet, TestMilliNewSet, TestNewScaledSet */
	kc_quantity q = kc_quantity_from_int(1000, KC_QUANTITY_DECIMAL_SI);
	ck_assert_str_eq(str(&q), "1k");
	q = kc_quantity_from_int(1234000, KC_QUANTITY_DECIMAL_SI);
	ck_assert_str_eq(str(&q), "1234k");
	q = kc_quantity_from_int(1024, KC_QUANTITY_BINARY_SI);
	ck_assert_str_eq(str(&q), "1Ki");
	q = kc_quantity_from_int(1000000, KC_QUANTITY_DECIMAL_EXPONENT);
	ck_assert_str_eq(str(&q), "1e6");
	q = kc_quantity_from_milli(1, KC_QUANTITY_DECIMAL_SI);
	ck_assert_str_eq(str(&q), "1m");
	q = kc_quantity_from_milli(1024, KC_QUANTITY_BINARY_SI);
	ck_assert_str_eq(str(&q), "1024m");
	q = kc_quantity_from_milli(1024 * 1024, KC_QUANTITY_BINARY_SI);
	ck_assert_str_eq(str(&q), "1048576m");
	q = kc_quantity_from_milli(1000000, KC_QUANTITY_DECIMAL_EXPONENT);
	ck_assert_str_eq(str(&q), "1e3");
	static const struct {
		int64_t v;
		int scale;
		const char *out;
	} s[] = { { 1, -9, "1n" }, { 1000, -9, "1u" }, { 1, -6, "1u" }, { 1000, -6, "1m" },
		  { 1, -3, "1m" }, { 1000, -3, "1" },  { 1, 0, "1" },	 { 0, -9, "0" },
		  { 5, 3, "5k" } };
	for (size_t i = 0; i < sizeof(s) / sizeof(s[0]); i++) {
		ck_assert_int_eq(kc_quantity_from_scaled(s[i].v, s[i].scale, &q), 0);
		ck_assert_str_eq(str(&q), s[i].out);
	}
	ck_assert_int_eq(kc_quantity_from_scaled(1, 40, &q), -ERANGE);
}
END_TEST

START_TEST(arithmetic_and_compare)
{
	/* TestQuantityCmp */
	kc_quantity a = must("100m"), b = must("50m");
	ck_assert_int_eq(kc_quantity_cmp(&a, &b), 1);
	ck_assert_int_eq(kc_quantity_cmp(&b, &a), -1);
	a = must("10000T");
	b = must("100Gi");
	ck_assert_int_eq(kc_quantity_cmp(&a, &b), 1);
	a = must("1");
	b = must("1000m");
	ck_assert_int_eq(kc_quantity_cmp(&a, &b), 0);
	ck_assert_int_eq(kc_quantity_cmp_int64(&a, 1), 0);
	ck_assert_int_eq(kc_quantity_cmp_int64(&a, 2), -1);

	/* TestQuantityAddZeroPreservesSuffix / SubZero */
	const char *vals[] = { "100m", "1Gi" };
	for (int i = 0; i < 2; i++) {
		kc_quantity v = must(vals[i]), zero = must("0");
		kc_quantity v1 = v;
		ck_assert_int_eq(kc_quantity_add(&v1, &zero), 0);
		ck_assert_str_eq(str(&v1), vals[i]);
		kc_quantity v2 = zero;
		ck_assert_int_eq(kc_quantity_add(&v2, &v), 0);
		ck_assert_str_eq(str(&v2), vals[i]);
		kc_quantity v3 = zero;
		ck_assert_int_eq(kc_quantity_sub(&v3, &v), 0);
		kc_quantity neg = v;
		kc_quantity_neg(&neg);
		ck_assert_str_eq(str(&v3), str(&neg));
	}
	/* TestSub: the receiver keeps its format */
	a = kc_quantity_from_int(10, KC_QUANTITY_BINARY_SI);
	b = kc_quantity_from_int(1, KC_QUANTITY_DECIMAL_SI);
	ck_assert_int_eq(kc_quantity_sub(&a, &b), 0);
	ck_assert_int_eq(kc_quantity_value(&a), 9);
	ck_assert_int_eq(a.format, KC_QUANTITY_BINARY_SI);

	/* scheduler-style sums: requests of three containers */
	kc_quantity cpu = must("0");
	const char *reqs[] = { "100m", "0.25", "1" };
	for (int i = 0; i < 3; i++) {
		kc_quantity r = must(reqs[i]);
		ck_assert_int_eq(kc_quantity_add(&cpu, &r), 0);
	}
	ck_assert_int_eq(kc_quantity_milli_value(&cpu), 1350);
	ck_assert_str_eq(str(&cpu), "1350m");
	kc_quantity mem = must("1536Mi");
	ck_assert_int_eq(kc_quantity_mul(&mem, 2), 0);
	ck_assert_str_eq(str(&mem), "3Gi");

	/* TestQuantityNeg */
	a = must("9.01");
	kc_quantity_neg(&a);
	ck_assert_str_eq(str(&a), "-9010m");
	ck_assert_int_eq(kc_quantity_sign(&a), -1);

	/* overflow is reported and leaves the operand unchanged */
	a = must("100000000000000000000000000");
	b = a;
	ck_assert_int_eq(kc_quantity_mul(&a, 1000000000), -ERANGE);
	ck_assert_int_eq(kc_quantity_cmp(&a, &b), 0);
	for (int i = 0; i < 10; i++)
		kc_quantity_add(&a, &b);
	kc_quantity before = a;
	int rc = 0;
	for (int i = 0; i < 100 && rc == 0; i++) {
		before = a;
		rc = kc_quantity_add(&a, &a);
	}
	ck_assert_int_eq(rc, -ERANGE);
	ck_assert_int_eq(kc_quantity_cmp(&a, &before), 0);
}
END_TEST

START_TEST(json_forms)
{
	/* TestJSONWhitespace: strings are trimmed, numbers accepted */
	static const struct {
		const char *json;
		const char *out;
	} t[] = {
		{ "\" 1\"", "1" }, { "\"1 \"", "1" }, { "1", "1" },	  { "10", "10" },
		{ "-1", "-1" },	   { "0.5", "500m" }, { "\"2Gi\"", "2Gi" }, { "null", "0" },
		{ "0.1", "100m" },
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		cJSON *j = cJSON_Parse(t[i].json);
		ck_assert_ptr_nonnull(j);
		kc_quantity q;
		char err[KC_QUANTITY_ERRLEN];
		ck_assert_msg(kc_quantity_from_json(j, &q, err, sizeof(err)) == 0, "%s: %s",
			      t[i].json, err);
		ck_assert_msg(strcmp(str(&q), t[i].out) == 0, "%s -> %s", t[i].json, str(&q));
		cJSON *back = kc_quantity_to_json(&q);
		ck_assert(cJSON_IsString(back));
		ck_assert_str_eq(back->valuestring, t[i].out);
		cJSON_Delete(back);
		cJSON_Delete(j);
	}
	cJSON *j = cJSON_Parse("{}");
	kc_quantity q;
	ck_assert_int_eq(kc_quantity_from_json(j, &q, NULL, 0), KC_EPARSE);
	cJSON_Delete(j);
	j = cJSON_Parse("\"12x\"");
	ck_assert_int_eq(kc_quantity_from_json(j, &q, NULL, 0), KC_EPARSE);
	cJSON_Delete(j);
}
END_TEST

START_TEST(string_buffer_too_small)
{
	kc_quantity q = must("1536Mi");
	char small[4];
	ck_assert_int_eq(kc_quantity_string(&q, small, sizeof(small)), -ENOSPC);
	ck_assert_str_eq(small, "153");
	char ok[7];
	ck_assert_int_eq(kc_quantity_string(&q, ok, sizeof(ok)), 6);
	ck_assert_str_eq(ok, "1536Mi");
}
END_TEST

static Suite *quantity_suite(void)
{
	Suite *s = suite_create("quantity");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, parse_upstream_table);
	tcase_add_test(tc, parse_rejects_with_upstream_messages);
	tcase_add_test(tc, canonical_string_upstream_table);
	tcase_add_test(tc, canonical_input_text_is_echoed);
	tcase_add_test(tc, binary_past_ei_prints_exact_decimal);
	tcase_add_test(tc, value_and_milli_round_away_from_zero);
	tcase_add_test(tc, constructors_match_upstream);
	tcase_add_test(tc, arithmetic_and_compare);
	tcase_add_test(tc, json_forms);
	tcase_add_test(tc, string_buffer_too_small);
	suite_add_tcase(s, tc);
	return s;
}

KC_TEST_MAIN(quantity_suite)
