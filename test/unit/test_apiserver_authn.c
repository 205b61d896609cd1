/* Static token file authentication (--token-auth-file). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

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

/* A certificate for cn/org signed by (ca, ca_key), or self-signed when ca is NULL; a CA
 * when is_ca. Returns the certificate; *key gets its key. */
static X509 *make_cert(const char *cn, const char *org, X509 *ca, EVP_PKEY *ca_key, int is_ca,
		       EVP_PKEY **key)
{
	*key = EVP_EC_gen("P-256");
	ck_assert_ptr_nonnull(*key);
	X509 *x = X509_new();
	static long serial = 1;
	ASN1_INTEGER_set(X509_get_serialNumber(x), serial++);
	X509_gmtime_adj(X509_getm_notBefore(x), -60);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	X509_set_pubkey(x, *key);
	X509_NAME *n = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
	if (org)
		X509_NAME_add_entry_by_txt(n, "O", MBSTRING_ASC, (const unsigned char *)org, -1,
					   -1, 0);
	X509_set_issuer_name(x, ca ? X509_get_subject_name(ca) : n);
	X509V3_CTX ctx;
	X509V3_set_ctx(&ctx, ca ? ca : x, x, NULL, NULL, 0);
	X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &ctx,
						  is_ca ? NID_basic_constraints : NID_ext_key_usage,
						  is_ca ? "critical,CA:TRUE" : "clientAuth");
	X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	ck_assert_int_gt(X509_sign(x, ca ? ca_key : *key, EVP_sha256()), 0);
	return x;
}

static size_t der_of(X509 *x, unsigned char **der)
{
	*der = NULL;
	int n = i2d_X509(x, der);
	ck_assert_int_gt(n, 0);
	return (size_t)n;
}

START_TEST(client_certificates_are_verified_and_cached_per_chain)
{
	EVP_PKEY *ca_key, *k1, *k2, *rk;
	X509 *ca = make_cert("ca", NULL, NULL, NULL, 1, &ca_key);
	X509 *c1 = make_cert("alice", "system:masters", ca, ca_key, 0, &k1);
	X509 *c2 = make_cert("bob", "dev", ca, ca_key, 0, &k2);
	X509 *rogue = make_cert("alice", "system:masters", NULL, NULL, 0, &rk);
	snprintf(path, sizeof(path), "/tmp/kubec-authn-ca-XXXXXX");
	int fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	FILE *f = fdopen(fd, "w");
	PEM_write_X509(f, ca);
	fclose(f);
	authn *a = NULL;
	char err[256];
	ck_assert_int_eq(authn_new(NULL, path, &a, err, sizeof(err)), 0);
	unlink(path);
	unsigned char *d1, *d2, *dr;
	size_t l1 = der_of(c1, &d1), l2 = der_of(c2, &d2), lr = der_of(rogue, &dr);
	const unsigned char *der[1];
	size_t len[1];
	authn_user u;
	char why[256];
	/* Twice each: the second answer comes from the cache and must be the same user. */
	for (int round = 0; round < 2; round++) {
		der[0] = d1;
		len[0] = l1;
		memset(&u, 0, sizeof(u));
		ck_assert_int_eq(authn_cert(a, der, len, 1, &u, why, sizeof(why)), 0);
		ck_assert_str_eq(u.name, "alice");
		ck_assert_int_eq(u.ngroups, 1);
		ck_assert_str_eq(u.groups[0], "system:masters");
		der[0] = d2;
		len[0] = l2;
		ck_assert_int_eq(authn_cert(a, der, len, 1, &u, why, sizeof(why)), 0);
		ck_assert_str_eq(u.name, "bob");
		/* Same subject, untrusted issuer: never served from alice's cache entry. */
		der[0] = dr;
		len[0] = lr;
		why[0] = 0;
		ck_assert_int_eq(authn_cert(a, der, len, 1, &u, why, sizeof(why)), KC_EUNAUTH);
		ck_assert_msg(strstr(why, "x509:") != NULL, "why: %s", why);
	}
	/* A chain that only extends a cached one (leaf + CA) is its own entry and still
	 * verifies; a prefix of a cached certificate does not match it. */
	unsigned char *dca;
	size_t lca = der_of(ca, &dca);
	const unsigned char *chain[2] = { d1, dca };
	size_t clen[2] = { l1, lca };
	ck_assert_int_eq(authn_cert(a, chain, clen, 2, &u, why, sizeof(why)), 0);
	ck_assert_str_eq(u.name, "alice");
	der[0] = d1;
	len[0] = l1 - 1;
	ck_assert_int_eq(authn_cert(a, der, len, 1, &u, why, sizeof(why)), KC_EUNAUTH);
	OPENSSL_free(d1);
	OPENSSL_free(d2);
	OPENSSL_free(dr);
	OPENSSL_free(dca);
	X509_free(ca);
	X509_free(c1);
	X509_free(c2);
	X509_free(rogue);
	EVP_PKEY_free(ca_key);
	EVP_PKEY_free(k1);
	EVP_PKEY_free(k2);
	EVP_PKEY_free(rk);
	authn_free(a);
}
END_TEST

static Suite *apiserver_authn_suite(void)
{
	Suite *s = suite_create("apiserver_authn");
	TCase *tc = tcase_create("authn");
	tcase_add_test(tc, token_file_users_and_groups);
	tcase_add_test(tc, bad_token_files);
	tcase_add_test(tc, client_certificates_are_verified_and_cached_per_chain);
	suite_add_tcase(s, tc);
	return s;
}

KC_TEST_MAIN(apiserver_authn_suite)
