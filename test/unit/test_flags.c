#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "errors.h"
#include "flags.h"
#include "kc_test.h"
#include "log.h"

/* A daemon-like flag table. */
static int port;
static const char *addr;
static bool debug, quiet;
static int64_t timeout_ns, count;
static double ratio;
static kc_strlist servers;
static const char *default_servers[] = { "a", "b" };

static const kc_flag table[] = {
	{ "port", 'p', KC_FLAG_INT, &port, "The port on which to serve HTTPS." },
	{ "bind-address", 0, KC_FLAG_STRING, &addr, "The IP address on which to listen." },
	{ "debug", 'd', KC_FLAG_BOOL, &debug, "Enable debugging." },
	{ "quiet", 'q', KC_FLAG_BOOL, &quiet, "Say less." },
	{ "timeout", 0, KC_FLAG_DURATION, &timeout_ns, "Request `limit` for calls." },
	{ "count", 0, KC_FLAG_INT64, &count, "How many." },
	{ "ratio", 0, KC_FLAG_FLOAT, &ratio, "A ratio." },
	{ "servers", 0, KC_FLAG_STRINGS, &servers, "Servers,\ncomma separated." },
	{ NULL, 0, 0, NULL, NULL },
};
static const kc_flagset fs = { "kube-test", NULL, table };

static void reset(void)
{
	port = 6443;
	addr = "0.0.0.0";
	debug = false;
	quiet = false;
	timeout_ns = 10 * KC_NSEC_PER_SEC;
	count = 0;
	ratio = 0.5;
	kc_strlist_free(&servers);
	servers.items = (char **)default_servers;
	servers.n = 2;
	servers.owned = false;
	kc_log_set_verbosity(0);
}

/* Parse a NULL-terminated argument list (argv[0] added). */
static int run(const char *const *args, int *nargs, char *err, size_t errlen, char **argv)
{
	int argc = 1;
	argv[0] = (char *)"kube-test";
	for (int i = 0; args[i]; i++)
		argv[argc++] = (char *)args[i];
	argv[argc] = NULL;
	return kc_flags_parse(&fs, argc, argv, nargs, err, errlen);
}

#define ARGS(...) ((const char *const[]){ __VA_ARGS__, NULL })

START_TEST(accepts_pflag_forms)
{
	char *argv[32], err[256];
	int n = -1;
	reset();
	ck_assert_int_eq(run(ARGS("--port=1", "pos1", "--bind-address", "127.0.0.1", "-d",
				  "--timeout=1m30s", "--count", "0x10", "--ratio=2.5", "pos2"),
			     &n, err, sizeof(err), argv), 0);
	ck_assert_int_eq(port, 1);
	ck_assert_str_eq(addr, "127.0.0.1");
	ck_assert(debug);
	ck_assert(timeout_ns == 90 * KC_NSEC_PER_SEC);
	ck_assert(count == 16);
	ck_assert(ratio == 2.5);
	ck_assert_int_eq(n, 2);
	ck_assert_str_eq(argv[1], "pos1");
	ck_assert_str_eq(argv[2], "pos2");
	ck_assert_ptr_null(argv[3]);

	reset();
	ck_assert_int_eq(run(ARGS("-p", "7"), &n, err, sizeof(err), argv), 0);
	ck_assert_int_eq(port, 7);
	ck_assert_int_eq(run(ARGS("-p8"), &n, err, sizeof(err), argv), 0);
	ck_assert_int_eq(port, 8);
	ck_assert_int_eq(run(ARGS("-p=9"), &n, err, sizeof(err), argv), 0);
	ck_assert_int_eq(port, 9);
	/* combined bool shorthands; a bare bool never eats the next argument */
	ck_assert_int_eq(run(ARGS("-dq", "--debug", "file"), &n, err, sizeof(err), argv), 0);
	ck_assert(debug && quiet);
	ck_assert_int_eq(n, 1);
	ck_assert_str_eq(argv[1], "file");
	ck_assert_int_eq(run(ARGS("--debug=false", "--quiet=F"), &n, err, sizeof(err), argv), 0);
	ck_assert(!debug && !quiet);
	/* "--" ends flags; "-" alone is positional */
	ck_assert_int_eq(run(ARGS("-", "--", "--port=5", "-x"), &n, err, sizeof(err), argv), 0);
	ck_assert_int_eq(n, 3);
	ck_assert_str_eq(argv[1], "-");
	ck_assert_str_eq(argv[2], "--port=5");
	ck_assert_str_eq(argv[3], "-x");
	ck_assert_int_eq(port, 9);
	/* a string may be empty */
	ck_assert_int_eq(run(ARGS("--bind-address="), &n, err, sizeof(err), argv), 0);
	ck_assert_str_eq(addr, "");
	kc_strlist_free(&servers);
}
END_TEST

START_TEST(string_lists_replace_default_then_append)
{
	char *argv[32], err[256];
	reset();
	ck_assert_int_eq(run(ARGS("--servers=x,y", "--servers", "z"), NULL, err, sizeof(err), argv), 0);
	ck_assert_uint_eq(servers.n, 3);
	ck_assert(servers.owned);
	ck_assert_str_eq(servers.items[0], "x");
	ck_assert_str_eq(servers.items[1], "y");
	ck_assert_str_eq(servers.items[2], "z");
	kc_strlist_free(&servers);
	ck_assert_uint_eq(servers.n, 0);
	/* untouched defaults stay borrowed */
	reset();
	ck_assert_int_eq(run(ARGS("--port=1"), NULL, err, sizeof(err), argv), 0);
	ck_assert(!servers.owned);
	ck_assert_uint_eq(servers.n, 2);
	/* appending to a default list copies it first */
	ck_assert_int_eq(kc_strlist_append_csv(&servers, "c"), 0);
	ck_assert(servers.owned);
	ck_assert_uint_eq(servers.n, 3);
	ck_assert_str_eq(servers.items[0], "a");
	ck_assert_str_eq(servers.items[2], "c");
	kc_strlist_free(&servers);
}
END_TEST

static void expect_err(const char *const *args, const char *want)
{
	char *argv[32], err[256];
	reset();
	int rc = run(args, NULL, err, sizeof(err), argv);
	ck_assert_int_eq(rc, -EINVAL);
	ck_assert_str_eq(err, want);
	kc_strlist_free(&servers);
}

START_TEST(errors_are_pflags)
{
	expect_err(ARGS("--foo"), "unknown flag: --foo");
	expect_err(ARGS("--foo=1"), "unknown flag: --foo");
	expect_err(ARGS("-x"), "unknown shorthand flag: 'x' in -x");
	expect_err(ARGS("-dx"), "unknown shorthand flag: 'x' in -x");
	expect_err(ARGS("--port"), "flag needs an argument: --port");
	expect_err(ARGS("-p"), "flag needs an argument: 'p' in -p");
	expect_err(ARGS("---port"), "bad flag syntax: ---port");
	expect_err(ARGS("--port=abc"),
		   "invalid argument \"abc\" for \"-p, --port\" flag: strconv.ParseInt: parsing \"abc\": invalid syntax");
	expect_err(ARGS("--port=99999999999"),
		   "invalid argument \"99999999999\" for \"-p, --port\" flag: strconv.ParseInt: parsing \"99999999999\": value out of range");
	expect_err(ARGS("--count=9223372036854775808"),
		   "invalid argument \"9223372036854775808\" for \"--count\" flag: strconv.ParseInt: parsing \"9223372036854775808\": value out of range");
	expect_err(ARGS("--debug=maybe"),
		   "invalid argument \"maybe\" for \"-d, --debug\" flag: strconv.ParseBool: parsing \"maybe\": invalid syntax");
	expect_err(ARGS("--timeout=10"),
		   "invalid argument \"10\" for \"--timeout\" flag: time: missing unit in duration \"10\"");
	expect_err(ARGS("--ratio=x"),
		   "invalid argument \"x\" for \"--ratio\" flag: strconv.ParseFloat: parsing \"x\": invalid syntax");
}
END_TEST

START_TEST(verbosity_flag_sets_log_level)
{
	char *argv[32], err[256];
	reset();
	ck_assert_int_eq(run(ARGS("-v", "4"), NULL, err, sizeof(err), argv), 0);
	ck_assert_int_eq(kc_log_verbosity, 4);
	ck_assert_int_eq(run(ARGS("--v=2"), NULL, err, sizeof(err), argv), 0);
	ck_assert_int_eq(kc_log_verbosity, 2);
	ck_assert_int_eq(run(ARGS("-v5"), NULL, err, sizeof(err), argv), 0);
	ck_assert_int_eq(kc_log_verbosity, 5);
	ck_assert_int_eq(run(ARGS("--v=high"), NULL, err, sizeof(err), argv), -EINVAL);
	kc_log_set_verbosity(0);
}
END_TEST

/* Run parse with stdout captured into buf. */
static int capture_help(const char *const *args, char *buf, size_t len)
{
	char *argv[32], err[256];
	FILE *tmp = tmpfile();
	ck_assert_ptr_nonnull(tmp);
	fflush(stdout);
	int saved = dup(1);
	dup2(fileno(tmp), 1);
	int rc = run(args, NULL, err, sizeof(err), argv);
	fflush(stdout);
	dup2(saved, 1);
	close(saved);
	rewind(tmp);
	size_t n = fread(buf, 1, len - 1, tmp);
	buf[n] = '\0';
	fclose(tmp);
	return rc;
}

START_TEST(help_prints_every_flag_with_defaults)
{
	static char out[8192];
	reset();
	/* --port=1 before --help must not change the default shown */
	ck_assert_int_eq(capture_help(ARGS("--port=1", "--help"), out, sizeof(out)), KC_FLAGS_HELP);
	ck_assert_str_eq(out,
		"Usage of kube-test:\n"
		"      --bind-address string   The IP address on which to listen. (default \"0.0.0.0\")\n"
		"      --count int             How many.\n"
		"  -d, --debug                 Enable debugging.\n"
		"  -h, --help                  help for kube-test\n"
		"  -p, --port int              The port on which to serve HTTPS. (default 6443)\n"
		"  -q, --quiet                 Say less.\n"
		"      --ratio float           A ratio. (default 0.5)\n"
		"      --servers strings       Servers,\n"
		"                              comma separated. (default [a,b])\n"
		"      --timeout limit         Request limit for calls. (default 10s)\n"
		"  -v, --v Level               number for the log level verbosity\n");
	reset();
	ck_assert_int_eq(capture_help(ARGS("-h"), out, sizeof(out)), KC_FLAGS_HELP);
	ck_assert_ptr_nonnull(strstr(out, "Usage of kube-test:\n"));
	kc_strlist_free(&servers);
}
END_TEST

START_TEST(durations_like_go)
{
	struct {
		const char *in;
		int64_t ns;
	} ok[] = {
		{ "0", 0 },
		{ "10s", 10 * KC_NSEC_PER_SEC },
		{ "1m30s", 90 * KC_NSEC_PER_SEC },
		{ "500ms", 500 * 1000000LL },
		{ "2h", 7200 * KC_NSEC_PER_SEC },
		{ "-1.5h", -5400 * KC_NSEC_PER_SEC },
		{ "+5s", 5 * KC_NSEC_PER_SEC },
		{ "1.5us", 1500 },
		{ "1\xc2\xb5s", 1000 },
		{ "3ns", 3 },
		{ ".5s", 500000000 },
		{ "1h2m3s4ms5us6ns", 3723004005006LL },
		{ "2562047h47m16.854775807s", INT64_MAX },
	};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		int64_t ns = -42;
		char err[128];
		ck_assert_msg(kc_parse_duration(ok[i].in, &ns, err, sizeof(err)) == 0, "%s: %s", ok[i].in, err);
		ck_assert_msg(ns == ok[i].ns, "%s -> %lld", ok[i].in, (long long)ns);
	}
	struct {
		const char *in, *err;
	} bad[] = {
		{ "", "time: invalid duration \"\"" },
		{ "x", "time: invalid duration \"x\"" },
		{ "1", "time: missing unit in duration \"1\"" },
		{ "1d", "time: unknown unit \"d\" in duration \"1d\"" },
		{ "1s2", "time: missing unit in duration \"1s2\"" },
		{ ".s", "time: invalid duration \".s\"" },
		{ "-", "time: invalid duration \"-\"" },
		{ "9999999999h", "time: invalid duration \"9999999999h\"" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char err[128];
		int64_t ns;
		ck_assert_int_eq(kc_parse_duration(bad[i].in, &ns, err, sizeof(err)), -EINVAL);
		ck_assert_str_eq(err, bad[i].err);
	}
	struct {
		int64_t ns;
		const char *out;
	} fmt[] = {
		{ 0, "0s" },
		{ 1, "1ns" },
		{ 1500, "1.5\xc2\xb5s" },
		{ 500000000, "500ms" },
		{ 90 * KC_NSEC_PER_SEC, "1m30s" },
		{ 7200 * KC_NSEC_PER_SEC, "2h0m0s" },
		{ -5400 * KC_NSEC_PER_SEC - 500000000, "-1h30m0.5s" },
		{ INT64_MIN, "-2562047h47m16.854775808s" },
	};
	for (size_t i = 0; i < sizeof(fmt) / sizeof(fmt[0]); i++) {
		char buf[32];
		ck_assert_int_eq(kc_format_duration(fmt[i].ns, buf, sizeof(buf)), (int)strlen(fmt[i].out));
		ck_assert_str_eq(buf, fmt[i].out);
	}
}
END_TEST

static Suite *flags_suite(void)
{
	Suite *s = suite_create("flags");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, accepts_pflag_forms);
	tcase_add_test(tc, string_lists_replace_default_then_append);
	tcase_add_test(tc, errors_are_pflags);
	tcase_add_test(tc, verbosity_flag_sets_log_level);
	tcase_add_test(tc, help_prints_every_flag_with_defaults);
	tcase_add_test(tc, durations_like_go);
	suite_add_tcase(s, tc);
	return s;
}

KC_TEST_MAIN(flags_suite)
