/* The etcd client's allocation-free reader (common/etcd_scan.c): the JSON tokenizer it
 * decodes Txn/Put/Range answers and watch messages with, the table base64 decoder, and the
 * watch decoder's reuse of its buffers from one message to the next. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"
#include "etcd.h"
#include "etcd_int.h"
#include "kc_test.h"

static int scan(const char *js, struct kc_etcd__scan *s)
{
	kc_etcd__scan_init(s);
	return kc_etcd__scan_parse(s, js, strlen(js));
}

START_TEST(scanner_refuses_what_is_not_json)
{
	static const char *const bad[] = {
		"", "   ", "{", "}", "{\"a\"}", "{\"a\":}", "{\"a\":1,}", "[1,]", "{\"a\" 1}", "{a:1}",
		"{\"a\":1}x", "{\"a\":1}{}", "\"abc", "\"a\\qb\"", "\"\\u12g4\"", "01", "1.", "-",
		"1e", "tru", "truex", "nul", "[}", "{]", "{\"a\":[1,2}", "\"a\x01\"", "{\"a\":1 \"b\":2}",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct kc_etcd__scan s;
		int rc = scan(bad[i], &s);
		ck_assert_msg(rc == KC_EPARSE, "accepted %s", bad[i]);
		kc_etcd__scan_close(&s);
	}
	/* 65 nested arrays: deeper than any etcd answer, refused before the stack overflows */
	char deep[200];
	memset(deep, '[', 65);
	memset(deep + 65, ']', 65);
	deep[130] = 0;
	struct kc_etcd__scan s;
	ck_assert_int_eq(scan(deep, &s), KC_EPARSE);
	kc_etcd__scan_close(&s);
}
END_TEST

START_TEST(scanner_finds_fields_and_skips_subtrees)
{
	struct kc_etcd__scan s;
	/* more tokens than the inline array holds: the heap takes over */
	char big[8192];
	size_t n = (size_t)snprintf(big, sizeof(big), "{\"skip\":[");
	for (int i = 0; i < 300; i++)
		n += (size_t)snprintf(big + n, sizeof(big) - n, "%s{\"x\":[%d,{\"y\":null}]}", i ? "," : "", i);
	snprintf(big + n, sizeof(big) - n,
	         "],\"header\":{\"revision\":\"42\",\"cluster_id\":\"18446744073709551615\"},"
	         "\"succeeded\":true,\"neg\":-7,\"dbl\":5.0,\"bad\":\"12a\",\"e\\u0073c\":1,\"f\":false}");
	ck_assert_int_eq(scan(big, &s), 0);
	ck_assert_uint_gt(s.n, KC_ETCD__SCAN_INLINE);
	ck_assert_int_eq(s.t[kc_etcd__scan_find(&s, 0, "skip")].size, 300);
	struct kc_etcd_header h;
	ck_assert_int_eq(kc_etcd__scan_header(&s, 0, &h), 0);
	ck_assert_int_eq(h.revision, 42);
	ck_assert(h.cluster_id == UINT64_MAX);
	ck_assert(kc_etcd__scan_bool(&s, 0, "succeeded"));
	ck_assert(!kc_etcd__scan_bool(&s, 0, "f"));
	ck_assert(!kc_etcd__scan_bool(&s, 0, "absent"));
	int64_t v;
	ck_assert_int_eq(kc_etcd__scan_i64(&s, 0, "neg", &v), 0);
	ck_assert_int_eq(v, -7);
	ck_assert_int_eq(kc_etcd__scan_i64(&s, 0, "dbl", &v), 0);
	ck_assert_int_eq(v, 5);
	ck_assert_int_eq(kc_etcd__scan_i64(&s, 0, "absent", &v), 0);
	ck_assert_int_eq(v, 0);
	ck_assert_int_eq(kc_etcd__scan_i64(&s, 0, "bad", &v), -1);
	ck_assert_int_eq(kc_etcd__scan_i64(&s, 0, "f", &v), -1);
	/* the 300th element of skip, reached by skipping the 299 before it */
	int arr = kc_etcd__scan_find(&s, 0, "skip");
	int last = kc_etcd__scan_child(&s, arr, 299);
	int x = kc_etcd__scan_find(&s, last, "x");
	ck_assert_int_eq(kc_etcd__scan_tok_i64(&s, kc_etcd__scan_child(&s, x, 0), &v), 0);
	ck_assert_int_eq(v, 299);
	kc_etcd__scan_close(&s);

	/* int64 limits */
	ck_assert_int_eq(scan("{\"a\":\"9223372036854775807\",\"b\":\"-9223372036854775808\","
	                      "\"c\":\"9223372036854775808\"}", &s), 0);
	ck_assert_int_eq(kc_etcd__scan_i64(&s, 0, "a", &v), 0);
	ck_assert(v == INT64_MAX);
	ck_assert_int_eq(kc_etcd__scan_i64(&s, 0, "b", &v), 0);
	ck_assert(v == INT64_MIN);
	ck_assert_int_eq(kc_etcd__scan_i64(&s, 0, "c", &v), -1);
	kc_etcd__scan_close(&s);
}
END_TEST

START_TEST(b64_every_quantum_shape)
{
	/* round trip of every length 0..300 through the encoder and the table decoder */
	uint8_t src[300];
	for (size_t i = 0; i < sizeof(src); i++)
		src[i] = (uint8_t)(i * 37 + 11);
	for (size_t len = 0; len <= sizeof(src); len++) {
		char *enc;
		uint8_t *dec;
		size_t n;
		ck_assert_int_eq(kc_etcd_b64_encode(src, len, &enc), 0);
		ck_assert_int_eq(kc_etcd_b64_decode(enc, strlen(enc), &dec, &n), 0);
		ck_assert_uint_eq(n, len);
		ck_assert(memcmp(dec, src, len) == 0);
		ck_assert_int_eq(dec[n], 0);
		free(enc);
		free(dec);
	}
	static const char *const bad[] = { "Zg=", "=AAA", "A===", "AA==AAAA", "AA=A", "Zm9v\n", "Zm 9", "Zm9\x80" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		uint8_t *dec;
		size_t n;
		ck_assert_msg(kc_etcd_b64_decode(bad[i], strlen(bad[i]), &dec, &n) == KC_EPARSE, "accepted %s", bad[i]);
	}
}
END_TEST

/* ---- the watch decoder keeps nothing of a message once its callback returned ---- */

struct got {
	int msgs;
	size_t lens[8];
	char first[8][8]; /* first bytes of each event's value */
	int types[8];
	char reason[64];
	int nev;
};

static int on_resp(void *arg, const struct kc_etcd_watch_resp *r)
{
	struct got *g = arg;
	g->msgs++;
	if (r->cancel_reason)
		snprintf(g->reason, sizeof(g->reason), "%s", r->cancel_reason);
	for (size_t i = 0; i < r->n_events && g->nev < 8; i++, g->nev++) {
		const struct kc_etcd_event *ev = &r->events[i];
		const struct kc_etcd_kv *kv = ev->type == KC_ETCD_EVENT_DELETE ? &ev->prev_kv : &ev->kv;
		g->lens[g->nev] = kv->value_len;
		g->types[g->nev] = ev->type;
		snprintf(g->first[g->nev], sizeof(g->first[0]), "%.*s", (int)(kv->value_len < 7 ? kv->value_len : 7),
		         kv->value ? (const char *)kv->value : "");
		/* a value is NUL-terminated; a letter value is all the same letter */
		if (kv->value)
			ck_assert_int_eq(kv->value[kv->value_len], 0);
		if (kv->value && kv->value[0] >= 'a' && kv->value[0] <= 'z') {
			for (size_t k = 1; k < kv->value_len; k++)
				ck_assert_int_eq(kv->value[k], kv->value[0]);
		}
	}
	return 0;
}

static char *put_msg(char letter, size_t len)
{
	char *raw = malloc(len + 1);
	memset(raw, letter, len);
	raw[len] = 0;
	char *b64;
	ck_assert_int_eq(kc_etcd_b64_encode(raw, len, &b64), 0);
	free(raw);
	size_t n = strlen(b64) + 200;
	char *m = malloc(n);
	snprintf(m, n, "{\"result\":{\"header\":{\"revision\":\"9\"},\"events\":[{\"kv\":{\"key\":\"YQ==\","
	         "\"mod_revision\":\"9\",\"value\":\"%s\"}}]}}\n", b64);
	free(b64);
	return m;
}

START_TEST(watch_decoder_reuses_its_buffers)
{
	struct got g = { 0 };
	kc_etcd_watch_decoder *d;
	ck_assert_int_eq(kc_etcd_watch_decoder_new(on_resp, &g, NULL, &d), 0);
	/* small, then far larger than the first arena, then small again */
	size_t lens[] = { 3, 100000, 5 };
	char letters[] = { 'a', 'b', 'c' };
	for (int i = 0; i < 3; i++) {
		char *m = put_msg(letters[i], lens[i]);
		ck_assert_int_eq(kc_etcd_watch_decoder_feed(d, m, strlen(m)), 0);
		free(m);
	}
	/* a DELETE by number with its prev_kv, and a base64 '+' written as \u002b ("+/8=" is
	 * 0xfb 0xff) next to a PUT by name */
	const char *m = "{\"result\":{\"events\":[{\"type\":1,\"kv\":{\"key\":\"YQ==\",\"mod_revision\":\"10\"},"
	                "\"prev_kv\":{\"key\":\"YQ==\",\"value\":\"ZGRk\"}},{\"type\":\"PUT\",\"kv\":{\"key\":\"YQ==\","
	                "\"value\":\"\\u002b/8=\"}}]}}";
	ck_assert_int_eq(kc_etcd_watch_decoder_feed(d, m, strlen(m)), 0);
	ck_assert_int_eq(g.msgs, 4);
	ck_assert_int_eq(g.nev, 5);
	ck_assert_uint_eq(g.lens[0], 3);
	ck_assert_str_eq(g.first[0], "aaa");
	ck_assert_uint_eq(g.lens[1], 100000);
	ck_assert_str_eq(g.first[1], "bbbbbbb");
	ck_assert_uint_eq(g.lens[2], 5);
	ck_assert_str_eq(g.first[2], "ccccc");
	ck_assert_int_eq(g.types[3], KC_ETCD_EVENT_DELETE);
	ck_assert_str_eq(g.first[3], "ddd");
	ck_assert_int_eq(g.types[4], KC_ETCD_EVENT_PUT);
	ck_assert_uint_eq(g.lens[4], 2);
	ck_assert_str_eq(g.first[4], "\xfb\xff");
	/* a cancel whose reason carries escapes ends the watch */
	const char *c = "{\"result\":{\"canceled\":true,\"cancel_reason\":\"bad \\\"range\\\" \\u00e9\"}}";
	struct kc_etcd_error err = { 0 };
	kc_etcd_watch_decoder_free(d);
	ck_assert_int_eq(kc_etcd_watch_decoder_new(on_resp, &g, &err, &d), 0);
	ck_assert_int_eq(kc_etcd_watch_decoder_feed(d, c, strlen(c)), KC_ECLOSED);
	ck_assert_str_eq(g.reason, "bad \"range\" \xc3\xa9");
	ck_assert_str_eq(err.message, "watch canceled: bad \"range\" \xc3\xa9");
	kc_etcd_watch_decoder_free(d);
}
END_TEST

static Suite *etcd_scan_suite(void)
{
	Suite *s = suite_create("etcd_scan");
	TCase *tc = tcase_create("scan");
	tcase_add_test(tc, scanner_refuses_what_is_not_json);
	tcase_add_test(tc, scanner_finds_fields_and_skips_subtrees);
	tcase_add_test(tc, b64_every_quantum_shape);
	tcase_add_test(tc, watch_decoder_reuses_its_buffers);
	suite_add_tcase(s, tc);
	return s;
}

KC_TEST_MAIN(etcd_scan_suite)
