/* The JSON codec's fast paths give what the straightforward code gave: integers and
 * enums formatted without printf (64-bit integers quoted, 32-bit bare, enums by name or a
 * bare number), and base64 decoded four bytes at a time (same bytes, same error offsets
 * as Go's decoder, checked against the quantum-by-quantum decoder kept here as oracle). */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../store/jsonpb.h"
#include "kc_test.h"

#include "store/etcdserver.pb-c.h"

static char *enc(const ProtobufCMessage *m)
{
	struct jpb_buf b;
	jpb_buf_init(&b);
	ck_assert_int_eq(jpb_encode(m, &b), 0);
	return jpb_buf_take(&b, NULL);
}

START_TEST(int64_extremes_are_quoted_decimals)
{
	static const int64_t vals[] = { INT64_MIN, INT64_MIN + 1, -1000000007, -10, -1, 1, 9,
					10, 99, 100, 1234567890123, INT64_MAX };
	for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
		Kvpb__LeaseTimeToLiveResponse t = KVPB__LEASE_TIME_TO_LIVE_RESPONSE__INIT;
		t.id = vals[i];
		char *s = enc(&t.base);
		char want[96];
		snprintf(want, sizeof(want), "{\"ID\":\"%" PRId64 "\"}", vals[i]);
		ck_assert_str_eq(s, want);
		free(s);
	}
}
END_TEST

START_TEST(uint64_and_uint32_values)
{
	Kvpb__ResponseHeader h = KVPB__RESPONSE_HEADER__INIT;
	h.cluster_id = UINT64_MAX;
	h.member_id = 10;
	h.revision = -7;
	h.raft_term = 1;
	char *s = enc(&h.base);
	ck_assert_str_eq(s, "{\"cluster_id\":\"18446744073709551615\",\"member_id\":\"10\","
			    "\"revision\":\"-7\",\"raft_term\":\"1\"}");
	free(s);
	Kvpb__HashResponse hr = KVPB__HASH_RESPONSE__INIT;
	hr.hash = UINT32_MAX;
	s = enc(&hr.base);
	ck_assert_str_eq(s, "{\"hash\":4294967295}");
	free(s);
	hr.hash = 7;
	s = enc(&hr.base);
	ck_assert_str_eq(s, "{\"hash\":7}");
	free(s);
}
END_TEST

START_TEST(enums_by_name_or_number)
{
	Kvpb__Compare c = KVPB__COMPARE__INIT;
	c.result = KVPB__COMPARE__COMPARE_RESULT__GREATER;
	c.target = KVPB__COMPARE__COMPARE_TARGET__MOD;
	char *s = enc(&c.base);
	ck_assert_str_eq(s, "{\"result\":\"GREATER\",\"target\":\"MOD\"}");
	free(s);
	c.result = (Kvpb__Compare__CompareResult)-3; /* no name: a bare number */
	c.target = (Kvpb__Compare__CompareTarget)42;
	s = enc(&c.base);
	ck_assert_str_eq(s, "{\"result\":-3,\"target\":42}");
	free(s);
}
END_TEST


/* The decoder before its fast path (Go's decodeQuantum, non-strict). */
static int ref_b64val(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/* Go's (*Encoding).decodeQuantum, non-strict, padChar '='. */
static long ref_base64_decode(const char *src, size_t n, uint8_t *dst, size_t *bad)
{
	size_t si = 0, di = 0;
	for (;;) {
		uint8_t dbuf[4] = { 0, 0, 0, 0 };
		size_t dlen = 4;
		bool end = false;
		for (size_t j = 0; j < 4; j++) {
			if (si == n) {
				if (j == 0)
					return (long)di;
				/* j == 1, or any short quantum: padding is required. */
				*bad = si - j;
				return -1;
			}
			unsigned char in = (unsigned char)src[si++];
			int v = ref_b64val(in);
			if (v >= 0) {
				dbuf[j] = (uint8_t)v;
				continue;
			}
			if (in == '\n' || in == '\r') {
				j--;
				continue;
			}
			if (in != '=') {
				*bad = si - 1;
				return -1;
			}
			/* Padding reached. */
			if (j == 0 || j == 1) {
				*bad = si - 1;
				return -1;
			}
			if (j == 2) {
				while (si < n && (src[si] == '\n' || src[si] == '\r'))
					si++;
				if (si == n) {
					*bad = n;
					return -1;
				}
				if (src[si] != '=') {
					*bad = si - 1;
					return -1;
				}
				si++;
			}
			while (si < n && (src[si] == '\n' || src[si] == '\r'))
				si++;
			if (si < n) {
				*bad = si; /* trailing garbage */
				return -1;
			}
			dlen = j;
			end = true;
			break;
		}
		uint32_t val = (uint32_t)dbuf[0] << 18 | (uint32_t)dbuf[1] << 12 |
			       (uint32_t)dbuf[2] << 6 | dbuf[3];
		uint8_t o[3] = { (uint8_t)(val >> 16), (uint8_t)(val >> 8), (uint8_t)val };
		for (size_t k = 0; k + 1 < dlen; k++)
			dst[di++] = o[k];
		if (end)
			return (long)di;
	}
}


START_TEST(base64_fast_path_matches_the_quantum_decoder)
{
	static const char alpha[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	uint64_t seed = 88172645463325252ull;
	char src[64];
	uint8_t a[64], b[64];
	for (int iter = 0; iter < 200000; iter++) {
		seed ^= seed << 13;
		seed ^= seed >> 7;
		seed ^= seed << 17;
		size_t n = seed % 40;
		uint64_t r = seed;
		for (size_t i = 0; i < n; i++) {
			r = r * 6364136223846793005ull + 1442695040888963407ull;
			unsigned k = (unsigned)(r >> 33) % 100;
			/* mostly alphabet, sometimes padding, newlines or junk */
			src[i] = k < 88 ? alpha[(r >> 40) % 64] : k < 94 ? '=' : k < 97 ? '\n' : k < 98 ? '\r' : '-';
		}
		size_t bad_a = 999, bad_b = 999;
		long la = jpb_base64_decode(src, n, a, &bad_a);
		long lb = ref_base64_decode(src, n, b, &bad_b);
		ck_assert_int_eq(la, lb);
		if (la >= 0)
			ck_assert_mem_eq(a, b, (size_t)la);
		else
			ck_assert_uint_eq(bad_a, bad_b);
	}
	/* and a long value (what a pod's JSON is) */
	struct jpb_buf e;
	jpb_buf_init(&e);
	uint8_t raw[3000], out[3000];
	for (size_t i = 0; i < sizeof(raw); i++)
		raw[i] = (uint8_t)(i * 131 + 7);
	ck_assert_int_eq(jpb_base64_encode(&e, raw, sizeof(raw)), 0);
	size_t bad = 0;
	ck_assert_int_eq(jpb_base64_decode(e.data, e.len, out, &bad), (long)sizeof(raw));
	ck_assert_mem_eq(out, raw, sizeof(raw));
	jpb_buf_free(&e);
}
END_TEST

static Suite *store_jsonpb_fast_suite(void)
{
	Suite *s = suite_create("store_jsonpb_fast");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, int64_extremes_are_quoted_decimals);
	tcase_add_test(tc, uint64_and_uint32_values);
	tcase_add_test(tc, enums_by_name_or_number);
	tcase_add_test(tc, base64_fast_path_matches_the_quantum_decoder);
	suite_add_tcase(s, tc);
	return s;
}

KC_TEST_MAIN(store_jsonpb_fast_suite)
