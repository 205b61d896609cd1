/* The apiserver's per-request caches: the object map behind the watch cache's current
 * objects (objcache.h) and the verified client-certificate cache of authn_cert. */
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
#include "../../apiserver/objcache.h"

static int count_ns(const oc_entry *e, void *arg)
{
	int *n = arg;
	if (!strncmp(e->key, "ns1/", 4))
		(*n)++;
	return 0;
}

START_TEST(objcache_put_replace_delete)
{
	oc_map m;
	oc_init(&m, 1);
	char key[64], text[64];
	/* Enough keys to make the table grow several times. */
	for (int i = 0; i < 10000; i++) {
		snprintf(key, sizeof(key), "ns%d/pod-%d", i % 3, i);
		int n = snprintf(text, sizeof(text), "{\"i\":%d}", i);
		ck_assert_int_eq(oc_put(&m, key, text, (size_t)n, i + 1, 0, 0), 0);
	}
	ck_assert_uint_eq(m.count, 10000);
	const oc_entry *e = oc_find(&m, "ns1/pod-4");
	ck_assert_ptr_nonnull(e);
	ck_assert_str_eq(e->text, "{\"i\":4}");
	ck_assert_int_eq(e->rev, 5);
	ck_assert_ptr_null(oc_find(&m, "ns1/pod-5")); /* pod-5 is in ns2 */
	/* Replacing keeps one entry per key; the text is the map's own copy. */
	char mine[] = "{\"i\":\"new\"}";
	ck_assert_int_eq(oc_put(&m, "ns1/pod-4", mine, strlen(mine), 20000, 0, 0), 0);
	mine[1] = 'X';
	e = oc_find(&m, "ns1/pod-4");
	ck_assert_str_eq(e->text, "{\"i\":\"new\"}");
	ck_assert_int_eq(e->rev, 20000);
	ck_assert_uint_eq(m.count, 10000);
	int n1 = 0;
	oc_foreach(&m, count_ns, &n1);
	ck_assert_int_eq(n1, 3333);
	oc_del(&m, "ns1/pod-4");
	oc_del(&m, "ns1/absent");
	ck_assert_ptr_null(oc_find(&m, "ns1/pod-4"));
	ck_assert_uint_eq(m.count, 9999);
	oc_clear(&m);
	ck_assert_uint_eq(m.count, 0);
	ck_assert_ptr_null(oc_find(&m, "ns0/pod-0"));
	oc_close(&m);
}
END_TEST

START_TEST(objcache_borrowed_texts_and_seq)
{
	oc_map m;
	oc_init(&m, 0);
	static const char a[] = "{\"a\":1}", b[] = "{\"b\":2}";
	ck_assert_int_eq(oc_put(&m, "x", a, strlen(a), 1, 7, 0), 0);
	ck_assert_ptr_eq(oc_find(&m, "x")->text, a); /* borrowed, not copied */
	/* A newer event for the key replaces it: removing the old ring slot (seq 7) must
	 * leave the newer entry alone. */
	ck_assert_int_eq(oc_put(&m, "x", b, strlen(b), 2, 8, 1), 0);
	oc_del_if_seq(&m, "x", 7);
	ck_assert_ptr_nonnull(oc_find(&m, "x"));
	ck_assert_int_eq(oc_find(&m, "x")->deleted, 1);
	oc_del_if_seq(&m, "x", 8);
	ck_assert_ptr_null(oc_find(&m, "x"));
	char k[16];
	ck_assert_int_eq(oc_key("default", "web", k, sizeof(k)), 11);
	ck_assert_str_eq(k, "default/web");
	ck_assert_int_eq(oc_key(NULL, "node-1", k, sizeof(k)), 6);
	ck_assert_str_eq(k, "node-1");
	ck_assert_int_eq(oc_key("a-very-long-namespace", "name", k, sizeof(k)), -1);
	oc_close(&m);
}
END_TEST

/* ---- certificates ---- */

static EVP_PKEY *new_key(void)
{
	EVP_PKEY *k = EVP_EC_gen("P-256");
	ck_assert_ptr_nonnull(k);
	return k;
}

static void add_ext(X509 *c, X509 *issuer, int nid, const char *val)
{
	X509V3_CTX ctx;
	X509V3_set_ctx(&ctx, issuer, c, NULL, NULL, 0);
	X509_EXTENSION *ex = X509V3_EXT_conf_nid(NULL, &ctx, nid, val);
	ck_assert_ptr_nonnull(ex);
	X509_add_ext(c, ex, -1);
	X509_EXTENSION_free(ex);
}

/* A certificate for cn/org with key, signed by signer (issuer NULL: self-signed CA). */
static X509 *new_cert(const char *cn, const char *org, EVP_PKEY *key, X509 *issuer,
		      EVP_PKEY *signer, long serial)
{
	X509 *c = X509_new();
	X509_set_version(c, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(c), serial);
	X509_gmtime_adj(X509_getm_notBefore(c), -3600);
	X509_gmtime_adj(X509_getm_notAfter(c), 86400);
	X509_NAME *n = X509_get_subject_name(c);
	if (org)
		X509_NAME_add_entry_by_txt(n, "O", MBSTRING_ASC, (const unsigned char *)org, -1, -1, 0);
	X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
	X509_set_issuer_name(c, issuer ? X509_get_subject_name(issuer) : n);
	X509_set_pubkey(c, key);
	if (!issuer) {
		add_ext(c, c, NID_basic_constraints, "critical,CA:TRUE");
		add_ext(c, c, NID_key_usage, "critical,keyCertSign");
	} else {
		add_ext(c, issuer, NID_ext_key_usage, "clientAuth");
	}
	ck_assert_int_gt(X509_sign(c, signer, EVP_sha256()), 0);
	return c;
}

static int check_cert(authn *a, X509 *leaf, authn_user *u)
{
	unsigned char *der = NULL;
	int len = i2d_X509(leaf, &der);
	ck_assert_int_gt(len, 0);
	const unsigned char *ders[1] = { der };
	size_t lens[1] = { (size_t)len };
	char why[256] = "";
	memset(u, 0, sizeof(*u));
	int rc = authn_cert(a, ders, lens, 1, u, why, sizeof(why));
	OPENSSL_free(der);
	return rc;
}

START_TEST(client_cert_cache_never_admits_another_chain)
{
	EVP_PKEY *cakey = new_key(), *otherkey = new_key(), *k1 = new_key();
	X509 *ca = new_cert("test-ca", NULL, cakey, NULL, cakey, 1);
	X509 *other_ca = new_cert("test-ca", NULL, otherkey, NULL, otherkey, 1);
	X509 *good = new_cert("system:kube-scheduler", "system:schedulers", k1, ca, cakey, 2);
	/* Same subject and key, signed by a CA the server does not trust. */
	X509 *forged = new_cert("system:kube-scheduler", "system:schedulers", k1, other_ca,
				otherkey, 2);
	char path[] = "/tmp/kubec-perfcache-ca-XXXXXX";
	int fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	FILE *f = fdopen(fd, "w");
	PEM_write_X509(f, ca);
	fclose(f);
	authn *a = NULL;
	char err[256];
	ck_assert_int_eq(authn_new(NULL, path, &a, err, sizeof(err)), 0);
	unlink(path);
	authn_user u;
	ck_assert_int_eq(check_cert(a, forged, &u), KC_EUNAUTH);
	for (int i = 0; i < 3; i++) { /* first verified, then from the cache: same user */
		ck_assert_int_eq(check_cert(a, good, &u), 0);
		ck_assert_str_eq(u.name, "system:kube-scheduler");
		ck_assert_int_eq(u.ngroups, 1);
		ck_assert_str_eq(u.groups[0], "system:schedulers");
	}
	ck_assert_int_eq(check_cert(a, forged, &u), KC_EUNAUTH);
	ck_assert_str_eq(u.name, "");
	/* More distinct good certificates than the cache holds: each still authenticates
	 * as itself, and the first one again afterwards. */
	for (int i = 0; i < 40; i++) {
		char cn[32];
		snprintf(cn, sizeof(cn), "user-%d", i);
		X509 *c = new_cert(cn, NULL, k1, ca, cakey, 100 + i);
		ck_assert_int_eq(check_cert(a, c, &u), 0);
		ck_assert_str_eq(u.name, cn);
		ck_assert_int_eq(check_cert(a, c, &u), 0);
		ck_assert_str_eq(u.name, cn);
		X509_free(c);
	}
	ck_assert_int_eq(check_cert(a, good, &u), 0);
	ck_assert_str_eq(u.name, "system:kube-scheduler");
	authn_free(a);
	X509_free(ca);
	X509_free(other_ca);
	X509_free(good);
	X509_free(forged);
	EVP_PKEY_free(cakey);
	EVP_PKEY_free(otherkey);
	EVP_PKEY_free(k1);
}
END_TEST

static Suite *apiserver_perfcache_suite(void)
{
	Suite *s = suite_create("apiserver_perfcache");
	TCase *tc = tcase_create("core");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, objcache_put_replace_delete);
	tcase_add_test(tc, objcache_borrowed_texts_and_seq);
	tcase_add_test(tc, client_cert_cache_never_admits_another_chain);
	suite_add_tcase(s, tc);
	return s;
}

KC_TEST_MAIN(apiserver_perfcache_suite)
