/* The JSON codec's fast paths give what the straightforward code gave: integers and
 * enums formatted without printf (64-bit integers quoted, 32-bit bare, enums by name or a
 * bare number), and base64 decoded four bytes at a time (same bytes, same error offsets
 * as Go's decoder, checked against the quantum-by-quantum decoder kept here as oracle),
 * string values scanned eight bytes at a time and base64 values decoded where they lie. */
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

/* Random JSON string values for a string field (Member.name) and a bytes field
 * (PutRequest.value), built token by token so the expected result is known: plain ASCII
 * runs of every length (the scanner skips eight bytes at a time), escapes, UTF-8, and now
 * and then a raw control byte, which must fail the decode wherever it falls. */
static uint64_t rnd(uint64_t *st)
{
	*st ^= *st << 13;
	*st ^= *st >> 7;
	*st ^= *st << 17;
	return *st;
}

START_TEST(string_scan_and_copy_fast_paths_match_the_token_oracle)
{
	uint64_t st = 0x9e3779b97f4a7c15ull;
	char json[512], want[256], err[256];
	for (int iter = 0; iter < 30000; iter++) {
		size_t jl = 0, wl = 0;
		bool ctl = false;
		jl += (size_t)snprintf(json, sizeof(json), "{\"name\":\"");
		int toks = (int)(rnd(&st) % 12);
		for (int t = 0; t < toks; t++) {
			unsigned k = (unsigned)(rnd(&st) % 100);
			if (k < 70) { /* a plain run, 0..20 bytes */
				size_t n = rnd(&st) % 21;
				for (size_t i = 0; i < n; i++) {
					char c = (char)('#' + rnd(&st) % 90); /* '#'..'|': no '"' */
					if (c == '\\')
						c = 'x';
					json[jl++] = want[wl++] = c;
				}
			} else if (k < 80) {
				static const char *const esc[] = { "\\n", "\\\"", "\\\\", "\\u0041",
								   "\\/", "\\t" };
				static const char dec[] = { '\n', '"', '\\', 'A', '/', '\t' };
				int e = (int)(rnd(&st) % 6);
				jl += (size_t)sprintf(json + jl, "%s", esc[e]);
				want[wl++] = dec[e];
			} else if (k < 90) {
				memcpy(json + jl, "\xc3\xa9", 2); /* é */
				memcpy(want + wl, "\xc3\xa9", 2);
				jl += 2;
				wl += 2;
			} else if (k < 93) {
				json[jl++] = (char)(rnd(&st) % 0x20);
				ctl = true;
			} else {
				json[jl++] = want[wl++] = '~';
			}
		}
		jl += (size_t)sprintf(json + jl, "\"}");
		ProtobufCMessage *m = NULL;
		size_t used = 0;
		int rc = jpb_decode(&kvpb__member__descriptor, json, jl, &used, &m, err,
				    sizeof(err));
		if (ctl) {
			ck_assert_msg(rc == JPB_ESYNTAX, "iter %d: control byte accepted", iter);
			continue;
		}
		ck_assert_msg(rc == 0, "iter %d: %s", iter, err);
		Kvpb__Member *mm = (Kvpb__Member *)m;
		ck_assert_uint_eq(strlen(mm->name), wl);
		ck_assert_mem_eq(mm->name, want, wl);
		protobuf_c_message_free_unpacked(m, NULL);
	}
}
END_TEST

START_TEST(bytes_decoded_in_place_match_the_escaped_path)
{
	uint64_t st = 0x2545f4914f6cdd1dull;
	uint8_t raw[300];
	char err[2][256];
	for (int iter = 0; iter < 5000; iter++) {
		size_t n = rnd(&st) % sizeof(raw);
		for (size_t i = 0; i < n; i++)
			raw[i] = (uint8_t)rnd(&st);
		struct jpb_buf b64;
		jpb_buf_init(&b64);
		ck_assert_int_eq(jpb_base64_encode(&b64, raw, n), 0);
		/* Variant 0 is decoded in place, variant 1 (the same text with one character
		 * written as \u00XX) through the unescaped copy: same bytes, or the same error
		 * when junk was put in at a random offset. */
		bool junk = rnd(&st) % 3 == 0 && b64.len;
		size_t at = b64.len ? rnd(&st) % b64.len : 0;
		int rc[2];
		ProtobufCMessage *m[2] = { NULL, NULL };
		for (int v = 0; v < 2; v++) {
			struct jpb_buf j;
			jpb_buf_init(&j);
			int bad = jpb_buf_append(&j, "{\"value\":\"", 10);
			for (size_t i = 0; i < b64.len; i++) {
				char c = junk && i == at ? '*' : b64.data[i];
				if (v == 1 && i == at) {
					char u[8];
					snprintf(u, sizeof(u), "\\u%04x", (unsigned)(unsigned char)c);
					bad |= jpb_buf_append(&j, u, 6);
				} else {
					bad |= jpb_buf_append(&j, &c, 1);
				}
			}
			bad |= jpb_buf_append(&j, "\"}", 2);
			ck_assert_int_eq(bad, 0); /* (one check per text: each check is a write) */
			size_t used = 0;
			rc[v] = jpb_decode(&kvpb__put_request__descriptor, j.data, j.len, &used,
					   &m[v], err[v], sizeof(err[v]));
			jpb_buf_free(&j);
		}
		ck_assert_int_eq(rc[0], rc[1]);
		if (junk) {
			ck_assert_int_eq(rc[0], JPB_ETYPE);
			ck_assert_str_eq(err[0], err[1]);
		} else {
			ck_assert_msg(rc[0] == 0, "iter %d: %s", iter, err[0]);
			for (int v = 0; v < 2; v++) {
				Kvpb__PutRequest *p = (Kvpb__PutRequest *)m[v];
				ck_assert_uint_eq(p->value.len, n);
				if (n)
					ck_assert_mem_eq(p->value.data, raw, n);
			}
		}
		for (int v = 0; v < 2; v++)
			if (m[v])
				protobuf_c_message_free_unpacked(m[v], NULL);
		jpb_buf_free(&b64);
	}
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
	tcase_add_test(tc, string_scan_and_copy_fast_paths_match_the_token_oracle);
	tcase_add_test(tc, bytes_decoded_in_place_match_the_escaped_path);
	suite_add_tcase(s, tc);
	return s;
}

KC_TEST_MAIN(store_jsonpb_fast_suite)
