/* Static token file authentication (--token-auth-file). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "errors.h"
#include "kc_test.h"
#include "../../apiserver/authn.h"

static char path[64];

static void write_file(const char *text)
{
	snprintf(path, sizeof(path), "/tmp/kubec-authn-XXXXXX");
	int fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
}

START_TEST(token_file_users_and_groups)
{
	write_file("# comment\n"
		   "t1,alice,1001,\"system:masters,dev\"\n"
		   "t2,bob,1002\n");
	authn *a = NULL;
	char err[256];
	ck_assert_int_eq(authn_new(path, NULL, &a, err, sizeof(err)), 0);
	unlink(path);
	authn_user u;
	ck_assert_int_eq(authn_token(a, "t1", &u), 0);
	ck_assert_str_eq(u.name, "alice");
	ck_assert_str_eq(u.uid, "1001");
	ck_assert_int_eq(u.ngroups, 2);
	ck_assert_str_eq(u.groups[0], "system:masters");
	ck_assert_str_eq(u.groups[1], "dev");
	ck_assert_int_eq(authn_token(a, "t2", &u), 0);
	ck_assert_str_eq(u.name, "bob");
	ck_assert_int_eq(u.ngroups, 0);
	ck_assert_int_eq(authn_token(a, "t3", &u), KC_EUNAUTH);
	ck_assert_int_eq(authn_token(a, "t", &u), KC_EUNAUTH);
	ck_assert_int_eq(authn_token(a, "", &u), KC_EUNAUTH);
	/* No client CA: certificates never authenticate. */
	const unsigned char *der[1] = { (const unsigned char *)"x" };
	size_t len[1] = { 1 };
	ck_assert_int_eq(authn_cert(a, der, len, 1, &u, err, sizeof(err)), KC_EUNAUTH);
	authn_free(a);
}
END_TEST

START_TEST(bad_token_files)
{
	write_file("onlytoken,user\n");
	authn *a = NULL;
	char err[256];
	ck_assert_int_eq(authn_new(path, NULL, &a, err, sizeof(err)), -EINVAL);
	ck_assert(strstr(err, "must have at least 3 columns") != NULL);
	unlink(path);
	ck_assert_int_lt(authn_new("/nonexistent/tokens.csv", NULL, &a, err, sizeof(err)), 0);
	ck_assert_int_lt(authn_new(NULL, "/nonexistent/ca.crt", &a, err, sizeof(err)), 0);
}
END_TEST

static Suite *apiserver_authn_suite(void)
{
	Suite *s = suite_create("apiserver_authn");
	TCase *tc = tcase_create("authn");
	tcase_add_test(tc, token_file_users_and_groups);
	tcase_add_test(tc, bad_token_files);
	suite_add_tcase(s, tc);
	return s;
}

KC_TEST_MAIN(apiserver_authn_suite)
