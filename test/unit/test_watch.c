#include <stdio.h>
#include <string.h>

#include "errors.h"
#include "kc_test.h"
#include "watch.h"

/* Records what the decoder delivered: "TYPE:name" per event, in order. */
struct rec {
	char log[4096];
	int n;
	int errs[16];
	int stop_after; /* return -1 after this many events (0: never) */
};

static int record(kc_watch_event *ev, void *arg)
{
	struct rec *r = arg;
	const cJSON *md = cJSON_GetObjectItemCaseSensitive(ev->object, "metadata");
	const cJSON *name = cJSON_GetObjectItemCaseSensitive(md, "name");
	size_t l = strlen(r->log);
	snprintf(r->log + l, sizeof(r->log) - l, "%s%s:%s", l ? " " : "",
		 kc_watch_type_name(ev->type), cJSON_IsString(name) ? name->valuestring : "-");
	if (r->n < 16)
		r->errs[r->n] = ev->err;
	r->n++;
	if (r->stop_after && r->n == r->stop_after)
		return -1;
	return 0;
}

#define EV(type, name) "{\"type\":\"" type "\",\"object\":{\"metadata\":{\"name\":\"" name "\"}}}"

START_TEST(several_events_in_one_chunk)
{
	kc_watch_decoder d;
	struct rec r = { 0 };
	kc_watch_decoder_init(&d, 0);
	const char *s = EV("ADDED", "a") "\n" EV("MODIFIED", "a") "\n" EV("DELETED", "a") "\n"
		EV("BOOKMARK", "") "\n";
	ck_assert_int_eq(kc_watch_decoder_feed(&d, s, strlen(s), record, &r), 0);
	ck_assert_str_eq(r.log, "ADDED:a MODIFIED:a DELETED:a BOOKMARK:");
	ck_assert_int_eq(r.n, 4);
	kc_watch_decoder_close(&d);
}
END_TEST

START_TEST(partial_lines_across_every_split)
{
	/* Every way of cutting the stream in three pieces gives the same events. */
	const char *s = EV("ADDED", "x") "\r\n\n" EV("MODIFIED", "y") "\n  \n" EV("DELETED", "z") "\n";
	size_t n = strlen(s);
	for (size_t i = 0; i <= n; i += 3) {
		for (size_t j = i; j <= n; j += 7) {
			kc_watch_decoder d;
			struct rec r = { 0 };
			kc_watch_decoder_init(&d, 0);
			ck_assert_int_eq(kc_watch_decoder_feed(&d, s, i, record, &r), 0);
			ck_assert_int_eq(kc_watch_decoder_feed(&d, s + i, j - i, record, &r), 0);
			ck_assert_int_eq(kc_watch_decoder_feed(&d, s + j, n - j, record, &r), 0);
			ck_assert_str_eq(r.log, "ADDED:x MODIFIED:y DELETED:z");
			kc_watch_decoder_close(&d);
		}
	}
}
END_TEST

START_TEST(byte_by_byte)
{
	const char *s = EV("ADDED", "one") "\n" EV("ADDED", "two") "\n";
	kc_watch_decoder d;
	struct rec r = { 0 };
	kc_watch_decoder_init(&d, 0);
	for (size_t i = 0; i < strlen(s); i++) {
		ck_assert_int_eq(kc_watch_decoder_feed(&d, s + i, 1, record, &r), 0);
		if (i < strlen(EV("ADDED", "one")))
			ck_assert_int_eq(r.n, 0);
	}
	ck_assert_str_eq(r.log, "ADDED:one ADDED:two");
	kc_watch_decoder_close(&d);
}
END_TEST

START_TEST(error_event_410_is_gone)
{
	const char *s = "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"apiVersion\":\"v1\","
			"\"status\":\"Failure\",\"message\":\"too old resource version: 1 (5)\","
			"\"reason\":\"Expired\",\"code\":410}}\n"
			"{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"code\":500}}\n"
			"{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\"}}\n";
	kc_watch_decoder d;
	struct rec r = { 0 };
	kc_watch_decoder_init(&d, 0);
	ck_assert_int_eq(kc_watch_decoder_feed(&d, s, strlen(s), record, &r), 0);
	ck_assert_int_eq(r.n, 3);
	ck_assert_int_eq(r.errs[0], KC_EGONE);
	ck_assert_int_eq(r.errs[1], KC_ESERVER);
	ck_assert_int_eq(r.errs[2], KC_EHTTP);
	kc_watch_decoder_close(&d);
}
END_TEST

START_TEST(malformed_line_poisons_decoder)
{
	const char *bad[] = {
		"{\"type\":\"ADDED\",\"object\":{}\n",          /* truncated JSON */
		"{\"type\":\"ADDED\"}\n",                        /* no object */
		"{\"type\":\"SOMETHING\",\"object\":{}}\n",      /* unknown type */
		"{\"type\":\"ADDED\",\"object\":[]}\n",          /* object not an object */
		"[1,2]\n",
		"{\"type\":\"ADDED\",\"object\":{}} trailing\n",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		kc_watch_decoder d;
		struct rec r = { 0 };
		kc_watch_decoder_init(&d, 0);
		const char *good = EV("ADDED", "ok") "\n";
		ck_assert_int_eq(kc_watch_decoder_feed(&d, good, strlen(good), record, &r), 0);
		ck_assert_int_eq(kc_watch_decoder_feed(&d, bad[i], strlen(bad[i]), record, &r),
				 KC_EPARSE);
		/* Sticky: later good input is refused too. */
		ck_assert_int_eq(kc_watch_decoder_feed(&d, good, strlen(good), record, &r),
				 KC_EPARSE);
		ck_assert_int_eq(r.n, 1);
		kc_watch_decoder_close(&d);
	}
}
END_TEST

START_TEST(line_longer_than_limit)
{
	kc_watch_decoder d;
	struct rec r = { 0 };
	kc_watch_decoder_init(&d, 64);
	const char *ok = EV("ADDED", "short") "\n";
	ck_assert_int_lt(strlen(ok), 64);
	ck_assert_int_eq(kc_watch_decoder_feed(&d, ok, strlen(ok), record, &r), 0);
	/* An unterminated line growing past the limit fails before any newline arrives. */
	char big[100];
	memset(big, 'x', sizeof(big));
	ck_assert_int_eq(kc_watch_decoder_feed(&d, big, 40, record, &r), 0);
	ck_assert_int_eq(kc_watch_decoder_feed(&d, big, 40, record, &r), KC_ETOOLARGE);
	ck_assert_int_eq(r.n, 1);
	kc_watch_decoder_close(&d);

	/* A complete long line inside one chunk fails too. */
	kc_watch_decoder_init(&d, 16);
	ck_assert_int_eq(kc_watch_decoder_feed(&d, ok, strlen(ok), record, &r), KC_ETOOLARGE);
	kc_watch_decoder_close(&d);
}
END_TEST

START_TEST(callback_stop_keeps_rest)
{
	const char *s = EV("ADDED", "a") "\n" EV("ADDED", "b") "\n" EV("ADDED", "c") "\n";
	kc_watch_decoder d;
	struct rec r = { .stop_after = 1 };
	kc_watch_decoder_init(&d, 0);
	ck_assert_int_eq(kc_watch_decoder_feed(&d, s, strlen(s), record, &r), -1);
	ck_assert_str_eq(r.log, "ADDED:a");
	r.stop_after = 0;
	ck_assert_int_eq(kc_watch_decoder_feed(&d, "", 0, record, &r), 0);
	ck_assert_str_eq(r.log, "ADDED:a ADDED:b ADDED:c");
	kc_watch_decoder_close(&d);
}
END_TEST

START_TEST(finish_decodes_unterminated_last_line)
{
	const char *s = EV("ADDED", "a") "\n" EV("DELETED", "a");
	kc_watch_decoder d;
	struct rec r = { 0 };
	kc_watch_decoder_init(&d, 0);
	ck_assert_int_eq(kc_watch_decoder_feed(&d, s, strlen(s), record, &r), 0);
	ck_assert_int_eq(r.n, 1);
	ck_assert_int_eq(kc_watch_decoder_finish(&d, record, &r), 0);
	ck_assert_str_eq(r.log, "ADDED:a DELETED:a");
	kc_watch_decoder_close(&d);

	kc_watch_decoder_init(&d, 0);
	ck_assert_int_eq(kc_watch_decoder_feed(&d, "{\"type\":", 8, record, &r), 0);
	ck_assert_int_eq(kc_watch_decoder_finish(&d, record, &r), KC_EPARSE);
	kc_watch_decoder_close(&d);
}
END_TEST

static int take(kc_watch_event *ev, void *arg)
{
	cJSON **slot = arg;
	*slot = ev->object;
	ev->object = NULL;
	return 0;
}

START_TEST(callback_can_take_object)
{
	const char *s = EV("ADDED", "kept") "\n";
	kc_watch_decoder d;
	cJSON *obj = NULL;
	kc_watch_decoder_init(&d, 0);
	ck_assert_int_eq(kc_watch_decoder_feed(&d, s, strlen(s), take, &obj), 0);
	kc_watch_decoder_close(&d);
	ck_assert_ptr_nonnull(obj);
	ck_assert_str_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(obj, "metadata"), "name")->valuestring,
			 "kept");
	cJSON_Delete(obj);
}
END_TEST

START_TEST(nul_byte_rejected)
{
	const char s[] = "{\"type\":\"ADDED\",\"object\":{}}\0\n";
	kc_watch_decoder d;
	kc_watch_decoder_init(&d, 0);
	ck_assert_int_eq(kc_watch_decoder_feed(&d, s, sizeof(s) - 1, NULL, NULL), KC_EPARSE);
	kc_watch_decoder_close(&d);
}
END_TEST

static Suite *watch_suite(void)
{
	Suite *s = suite_create("watch");
	TCase *tc = tcase_create("decoder");
	tcase_add_test(tc, several_events_in_one_chunk);
	tcase_add_test(tc, partial_lines_across_every_split);
	tcase_add_test(tc, byte_by_byte);
	tcase_add_test(tc, error_event_410_is_gone);
	tcase_add_test(tc, malformed_line_poisons_decoder);
	tcase_add_test(tc, line_longer_than_limit);
	tcase_add_test(tc, callback_stop_keeps_rest);
	tcase_add_test(tc, finish_decodes_unterminated_last_line);
	tcase_add_test(tc, callback_can_take_object);
	tcase_add_test(tc, nul_byte_rejected);
	suite_add_tcase(s, tc);
	return s;
}

KC_TEST_MAIN(watch_suite)
