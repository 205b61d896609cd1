#include <regex.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "kc_test.h"
#include "log.h"

/* Capture what the logger writes through a pipe. */
static int cap_fds[2];

static void cap_start(void)
{
	ck_assert_int_eq(pipe(cap_fds), 0);
	kc_log_set_fd(cap_fds[1]);
}

static size_t cap_end(char *buf, size_t len)
{
	kc_log_set_fd(-1);
	close(cap_fds[1]);
	size_t n = 0;
	ssize_t r;
	while (n < len - 1 && (r = read(cap_fds[0], buf + n, len - 1 - n)) > 0)
		n += (size_t)r;
	buf[n] = '\0';
	close(cap_fds[0]);
	return n;
}

START_TEST(line_has_klog_shape)
{
	char buf[1024];
	regex_t re;
	cap_start();
	kc_warn("pod %s/%s failed", "default", "web-1");
	cap_end(buf, sizeof(buf));
	/* W1122 07:08:09.123456    4242 test_log.c:37] message */
	ck_assert_int_eq(regcomp(&re,
				 "^W[0-9]{4} [0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{6} +[0-9]+ "
				 "test_log\\.c:[0-9]+\\] pod default/web-1 failed\n$",
				 REG_EXTENDED), 0);
	ck_assert_msg(regexec(&re, buf, 0, NULL, 0) == 0, "not klog-shaped: %s", buf);
	regfree(&re);
}
END_TEST

START_TEST(verbosity_gates_v_lines)
{
	char buf[1024];
	kc_log_set_verbosity(2);
	cap_start();
	kc_log_v(2, "shown at 2");
	kc_log_v(3, "hidden at 3");
	cap_end(buf, sizeof(buf));
	kc_log_set_verbosity(0);
	ck_assert_ptr_nonnull(strstr(buf, "shown at 2"));
	ck_assert_ptr_null(strstr(buf, "hidden at 3"));
	ck_assert_int_eq(buf[0], 'I');
}
END_TEST

START_TEST(min_severity_drops_lower_lines)
{
	char buf[1024];
	kc_log_set_min_severity(KC_LOG_WARN);
	cap_start();
	kc_info("an info line");
	kc_warn("a warning");
	kc_error("an error");
	cap_end(buf, sizeof(buf));
	kc_log_set_min_severity(KC_LOG_INFO);
	ck_assert_ptr_null(strstr(buf, "an info line"));
	ck_assert_ptr_nonnull(strstr(buf, "a warning"));
	ck_assert_ptr_nonnull(strstr(buf, "an error"));
}
END_TEST

START_TEST(long_message_is_one_terminated_line)
{
	char big[8000], buf[8192];
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	cap_start();
	kc_error("%s", big);
	size_t n = cap_end(buf, sizeof(buf));
	ck_assert_uint_gt(n, 100);
	ck_assert_int_eq(buf[n - 1], '\n');
	ck_assert_ptr_eq(strchr(buf, '\n'), buf + n - 1);
}
END_TEST

static Suite *log_suite(void)
{
	Suite *s = suite_create("log");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, line_has_klog_shape);
	tcase_add_test(tc, verbosity_gates_v_lines);
	tcase_add_test(tc, min_severity_drops_lower_lines);
	tcase_add_test(tc, long_message_is_one_terminated_line);
	suite_add_tcase(s, tc);
	return s;
}

KC_TEST_MAIN(log_suite)
