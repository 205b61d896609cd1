/* The kubelet's containerLogs logic: CRI log-line parsing, time parsing, tail offsets,
 * the reader with tailLines / sinceTime / limitBytes / timestamps / partial lines and a
 * growing file (follow), and the query parsing with upstream's 400/422 answers. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kc_test.h"
#include "../../kubelet/cri_log.h"
#include "../../kubelet/server.h"

START_TEST(parse_lines)
{
	crilog_entry e;
	const char *l = "2026-11-25T15:04:05.123456789Z stdout F hello world";
	ck_assert_int_eq(crilog_parse_line(l, strlen(l), &e), 0);
	ck_assert_int_eq(e.stderr_stream, 0);
	ck_assert_int_eq(e.partial, 0);
	ck_assert_int_eq((int)e.msg_len, 11);
	ck_assert(!memcmp(e.msg, "hello world", 11));
	ck_assert_int_eq((int)e.ts_len, 30);
	ck_assert(e.ts_ns % 1000000000LL == 123456789);
	l = "2026-11-25T15:04:05Z stderr P part";
	ck_assert_int_eq(crilog_parse_line(l, strlen(l), &e), 0);
	ck_assert_int_eq(e.stderr_stream, 1);
	ck_assert_int_eq(e.partial, 1);
	/* an empty message */
	l = "2026-11-25T15:04:05Z stdout F ";
	ck_assert_int_eq(crilog_parse_line(l, strlen(l), &e), 0);
	ck_assert_int_eq((int)e.msg_len, 0);
	const char *bad[] = { "", "garbage", "2026-11-25T15:04:05Z", "2026-11-25T15:04:05Z stdout",
			      "2026-11-25T15:04:05Z stdin F x", "2026-11-25T15:04:05Z stdout X x", "notatime stdout F x" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(crilog_parse_line(bad[i], strlen(bad[i]), &e) < 0, "%s parsed", bad[i]);
}
END_TEST

START_TEST(parse_times)
{
	ck_assert(crilog_parse_time("1970-01-01T00:00:01Z", 20) == 1000000000LL);
	ck_assert(crilog_parse_time("1970-01-01T01:00:01+01:00", 25) == 1000000000LL);
	ck_assert(crilog_parse_time("1970-01-01T00:00:00.5Z", 22) == 500000000LL);
	ck_assert(crilog_parse_time("2026-11-25T15:04:05.1234567891Z", 31) ==
		  crilog_parse_time("2026-11-25T15:04:05.123456789Z", 30));
	ck_assert(crilog_parse_time("2999-01-01T00:00:00Z", 20) == INT64_MAX);
	ck_assert(crilog_parse_time("2026-13-01T00:00:00Z", 20) < 0);
	ck_assert(crilog_parse_time("2026-11-25 15:04:05Z", 20) < 0);
	ck_assert(crilog_parse_time("2026-11-25T15:04:05", 19) < 0);
	ck_assert(crilog_parse_time("2026-11-25T15:04:05.Z", 21) < 0);
}
END_TEST

START_TEST(tail_offsets)
{
	const char *b = "a\nbb\nccc\n";
	size_t n = strlen(b);
	ck_assert_uint_eq(crilog_tail_offset(b, n, 1), 5);
	ck_assert_uint_eq(crilog_tail_offset(b, n, 2), 2);
	ck_assert_uint_eq(crilog_tail_offset(b, n, 3), 0);
	ck_assert_uint_eq(crilog_tail_offset(b, n, 10), 0);
	ck_assert_uint_eq(crilog_tail_offset(b, n, 0), n);
	ck_assert_uint_eq(crilog_tail_offset(b, n, -1), 0);
	/* a last line without its newline counts */
	ck_assert_uint_eq(crilog_tail_offset("a\nbb", 4, 1), 2);
}
END_TEST

static char path[64];

static void write_log(const char *content, const char *mode)
{
	FILE *f = fopen(path, mode);
	ck_assert_ptr_nonnull(f);
	fputs(content, f);
	fclose(f);
}

static char *read_all(const crilog_opts *o)
{
	static char out[8192];
	crilog_reader r;
	ck_assert_int_eq(crilog_reader_open(&r, path, o), 0);
	size_t n = 0;
	ssize_t k;
	while ((k = crilog_reader_read(&r, out + n, 7)) > 0) /* small reads: pending output is kept */
		n += (size_t)k;
	out[n] = 0;
	crilog_reader_close(&r);
	return out;
}

static void setup(void)
{
	snprintf(path, sizeof(path), "/tmp/kubec-crilog.XXXXXX");
	int fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	close(fd);
}

static void teardown(void)
{
	unlink(path);
}

#define LOG4 \
	"2026-11-25T15:00:01.000000001Z stdout F one\n" \
	"2026-11-25T15:00:02Z stderr F two\n" \
	"2026-11-25T15:00:03Z stdout P thr\n" \
	"2026-11-25T15:00:03.5Z stdout F ee\n" \
	"not a cri line\n" \
	"2026-11-25T15:00:04Z stdout F four\n"

START_TEST(reader_options)
{
	write_log(LOG4, "w");
	crilog_opts all = { .tail_lines = -1, .limit_bytes = -1 };
	/* partial lines join; a malformed line is skipped */
	ck_assert_str_eq(read_all(&all), "one\ntwo\nthree\nfour\n");
	crilog_opts o = all;
	o.tail_lines = 2; /* raw file lines, as upstream's tail */
	ck_assert_str_eq(read_all(&o), "four\n");
	o.tail_lines = 3;
	ck_assert_str_eq(read_all(&o), "ee\nfour\n");
	o.tail_lines = 0;
	ck_assert_str_eq(read_all(&o), "");
	o = all;
	o.timestamps = 1;
	o.tail_lines = 1;
	ck_assert_str_eq(read_all(&o), "2026-11-25T15:00:04Z four\n");
	o = all;
	o.since_ns = crilog_parse_time("2026-11-25T15:00:02Z", 20);
	ck_assert_str_eq(read_all(&o), "two\nthree\nfour\n");
	o = all;
	o.limit_bytes = 6;
	ck_assert_str_eq(read_all(&o), "one\ntw");
	o.limit_bytes = 4;
	ck_assert_str_eq(read_all(&o), "one\n");
}
END_TEST

START_TEST(reader_follows_a_growing_file)
{
	write_log("2026-11-25T15:00:01Z stdout F a\n2026-11-25T15:00:02Z stdout F b", "w"); /* b not finished */
	crilog_opts o = { .tail_lines = -1, .limit_bytes = -1 };
	crilog_reader r;
	ck_assert_int_eq(crilog_reader_open(&r, path, &o), 0);
	char buf[256];
	ck_assert_int_eq((int)crilog_reader_read(&r, buf, sizeof(buf)), 2);
	ck_assert(!memcmp(buf, "a\n", 2));
	/* at EOF with half a line: nothing yet */
	ck_assert_int_eq((int)crilog_reader_read(&r, buf, sizeof(buf)), 0);
	write_log("x\n2026-11-25T15:00:03Z stdout F c\n", "a");
	ssize_t n = crilog_reader_read(&r, buf, sizeof(buf));
	ck_assert_int_eq((int)n, 5);
	ck_assert(!memcmp(buf, "bx\nc\n", 5));
	ck_assert_int_eq((int)crilog_reader_read(&r, buf, sizeof(buf)), 0);
	crilog_reader_close(&r);
	/* limitBytes ends the stream for good */
	o.limit_bytes = 1;
	ck_assert_int_eq(crilog_reader_open(&r, path, &o), 0);
	ck_assert_int_eq((int)crilog_reader_read(&r, buf, sizeof(buf)), 1);
	ck_assert_int_eq((int)crilog_reader_read(&r, buf, sizeof(buf)), -1);
	crilog_reader_close(&r);
	ck_assert_int_eq(crilog_reader_open(&r, "/nonexistent/x.log", &o), -ENOENT);
}
END_TEST

/* query parameters from a NULL-terminated list of name, value pairs */
static const char *qget(void *arg, const char *name)
{
	const char **kv = arg;
	for (int i = 0; kv[i]; i += 2)
		if (!strcmp(kv[i], name))
			return kv[i + 1];
	return NULL;
}

START_TEST(log_query)
{
	ksrv_log_query q;
	char msg[128];
	int64_t now = 1000LL * 1000000000LL;
	const char *none[] = { NULL };
	ck_assert_int_eq(ksrv_parse_log_query(qget, none, now, &q, msg, sizeof(msg)), 0);
	ck_assert(q.tail_lines == -1 && q.limit_bytes == -1 && q.since_ns == 0 && !q.follow && !q.previous);
	const char *good[] = { "follow", "true", "timestamps", "1", "previous", "False", "tailLines", "10",
			       "limitBytes", "100", "sinceSeconds", "30", NULL };
	ck_assert_int_eq(ksrv_parse_log_query(qget, good, now, &q, msg, sizeof(msg)), 0);
	ck_assert(q.follow && q.timestamps && !q.previous);
	ck_assert(q.tail_lines == 10 && q.limit_bytes == 100);
	ck_assert(q.since_ns == now - 30LL * 1000000000LL);
	const char *legacy[] = { "tail", "all", "tailLines", "5", NULL };
	ck_assert_int_eq(ksrv_parse_log_query(qget, legacy, now, &q, msg, sizeof(msg)), 0);
	ck_assert(q.tail_lines == -1);
	const char *since[] = { "sinceTime", "1970-01-01T00:00:10Z", NULL };
	ck_assert_int_eq(ksrv_parse_log_query(qget, since, now, &q, msg, sizeof(msg)), 0);
	ck_assert(q.since_ns == 10LL * 1000000000LL);
	struct {
		const char *kv[5];
		int code;
	} bad[] = {
		{ { "follow", "yes", NULL }, 400 },
		{ { "tailLines", "x", NULL }, 400 },
		{ { "tailLines", "-1", NULL }, 422 },
		{ { "limitBytes", "0", NULL }, 422 },
		{ { "sinceSeconds", "0", NULL }, 422 },
		{ { "sinceTime", "yesterday", NULL }, 400 },
		{ { "sinceSeconds", "1", "sinceTime", "1970-01-01T00:00:10Z", NULL }, 422 },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_int_eq(ksrv_parse_log_query(qget, (void *)bad[i].kv, now, &q, msg, sizeof(msg)), bad[i].code);
		ck_assert_str_eq(msg, bad[i].code == 400 ? "{\"message\": \"Unable to decode query.\"}"
							 : "{\"message\": \"Invalid request.\"}");
	}
}
END_TEST

static Suite *kubelet_logs_suite(void)
{
	Suite *s = suite_create("kubelet_logs");
	TCase *tc = tcase_create("core");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, parse_lines);
	tcase_add_test(tc, parse_times);
	tcase_add_test(tc, tail_offsets);
	tcase_add_test(tc, reader_options);
	tcase_add_test(tc, reader_follows_a_growing_file);
	tcase_add_test(tc, log_query);
	suite_add_tcase(s, tc);
	return s;
}

KC_TEST_MAIN(kubelet_logs_suite)
