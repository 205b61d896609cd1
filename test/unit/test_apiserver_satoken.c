/* Service-account JWTs: sign, verify, and every reason to refuse one. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include <cjson/cJSON.h>

#include "errors.h"
#include "kc_test.h"
#include "../../apiserver/satoken.h"

#define ISS "https://kubernetes.default.svc.cluster.local"
#define NOW 1795331830LL

static char priv_a[64], pub_a[64], priv_b[64];

static void write_key(EVP_PKEY *k, char *path, int pub)
{
	snprintf(path, 64, "/tmp/kc-sat-test-XXXXXX");
	int fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	FILE *f = fdopen(fd, "w");
	ck_assert_ptr_nonnull(f);
	if (pub)
		ck_assert_int_eq(PEM_write_PUBKEY(f, k), 1);
	else
		ck_assert_int_eq(PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL), 1);
	fclose(f);
}

static void setup(void)
{
	EVP_PKEY *a = EVP_RSA_gen(2048), *b = EVP_RSA_gen(2048);
	ck_assert(a && b);
	write_key(a, priv_a, 0);
	write_key(a, pub_a, 1);
	write_key(b, priv_b, 0);
	EVP_PKEY_free(a);
	EVP_PKEY_free(b);
}

static void teardown(void)
{
	unlink(priv_a);
	unlink(pub_a);
	unlink(priv_b);
}

static char *sign(const char *key, const char *iss, const char *const *aud, size_t naud,
		  int64_t iat, int64_t exp)
{
	sat *s = NULL;
	char err[256];
	ck_assert_msg(sat_new(key, NULL, 0, iss, &s, err, sizeof(err)) == 0, "%s", err);
	sat_claims c = { .ns = "default", .name = "builder", .uid = "uid-1" };
	char *tok = NULL;
	ck_assert_int_eq(sat_sign(s, &c, aud, naud, iat, exp, &tok), 0);
	sat_free(s);
	return tok;
}

START_TEST(round_trip_with_public_key_file)
{
	char *tok = sign(priv_a, ISS, NULL, 0, NOW, NOW + 3600);
	const char *keys[] = { pub_a };
	sat *v = NULL;
	char err[256];
	ck_assert_msg(sat_new(NULL, keys, 1, ISS, &v, err, sizeof(err)) == 0, "%s", err);
	ck_assert(!sat_can_sign(v));
	sat_claims c;
	ck_assert_int_eq(sat_verify(v, tok, NOW + 10, &c), 0);
	ck_assert_str_eq(c.ns, "default");
	ck_assert_str_eq(c.name, "builder");
	ck_assert_str_eq(c.uid, "uid-1");
	/* Expired, and before nbf beyond the allowed skew. */
	ck_assert_int_eq(sat_verify(v, tok, NOW + 3600, &c), KC_EUNAUTH);
	ck_assert_int_eq(sat_verify(v, tok, NOW - 3600, &c), KC_EUNAUTH);
	/* Tampered signature / payload / shape. */
	char *bad = strdup(tok);
	bad[strlen(bad) - 3] = bad[strlen(bad) - 3] == 'A' ? 'B' : 'A';
	ck_assert_int_eq(sat_verify(v, bad, NOW + 10, &c), KC_EUNAUTH);
	free(bad);
	bad = strdup(tok);
	char *dot = strchr(bad, '.');
	dot[5] = dot[5] == 'A' ? 'B' : 'A';
	ck_assert_int_eq(sat_verify(v, bad, NOW + 10, &c), KC_EUNAUTH);
	free(bad);
	ck_assert_int_eq(sat_verify(v, "not.a-jwt", NOW, &c), KC_EUNAUTH);
	ck_assert_int_eq(sat_verify(v, "", NOW, &c), KC_EUNAUTH);
	sat_free(v);
	free(tok);
}
END_TEST

START_TEST(other_key_issuer_or_audience_refused)
{
	sat *v = NULL;
	char err[256];
	ck_assert_int_eq(sat_new(priv_a, NULL, 0, ISS, &v, err, sizeof(err)), 0);
	sat_claims c;
	char *other_key = sign(priv_b, ISS, NULL, 0, NOW, NOW + 3600);
	ck_assert_int_eq(sat_verify(v, other_key, NOW + 1, &c), KC_EUNAUTH);
	char *other_iss = sign(priv_a, "https://evil", NULL, 0, NOW, NOW + 3600);
	ck_assert_int_eq(sat_verify(v, other_iss, NOW + 1, &c), KC_EUNAUTH);
	const char *aud[] = { "vault" };
	char *other_aud = sign(priv_a, ISS, aud, 1, NOW, NOW + 3600);
	ck_assert_int_eq(sat_verify(v, other_aud, NOW + 1, &c), KC_EUNAUTH);
	const char *both[] = { "vault", ISS };
	char *with_api = sign(priv_a, ISS, both, 2, NOW, NOW + 3600);
	ck_assert_int_eq(sat_verify(v, with_api, NOW + 1, &c), 0);
	free(other_key);
	free(other_iss);
	free(other_aud);
	free(with_api);
	sat_free(v);
	/* A missing key file is an error at start-up, not a silent no-op. */
	const char *missing[] = { "/nonexistent/sa.pub" };
	ck_assert_int_ne(sat_new(NULL, missing, 1, ISS, &v, err, sizeof(err)), 0);
	ck_assert_ptr_nonnull(strstr(err, "/nonexistent/sa.pub"));
}
END_TEST


/* The payload of a JWT, parsed (caller frees). */
static cJSON *payload_of(const char *tok)
{
	const char *d1 = strchr(tok, '.'), *d2 = strchr(d1 + 1, '.');
	char b64[4096];
	size_t n = (size_t)(d2 - d1 - 1);
	ck_assert_uint_lt(n + 4, sizeof(b64));
	memcpy(b64, d1 + 1, n);
	for (size_t i = 0; i < n; i++)
		b64[i] = b64[i] == '-' ? '+' : b64[i] == '_' ? '/' : b64[i];
	while (n % 4)
		b64[n++] = '=';
	b64[n] = 0;
	unsigned char raw[4096];
	int len = EVP_DecodeBlock(raw, (const unsigned char *)b64, (int)n);
	ck_assert_int_gt(len, 0);
	raw[len] = 0;
	cJSON *p = cJSON_Parse((const char *)raw);
	ck_assert_ptr_nonnull(p);
	return p;
}

START_TEST(bound_pod_claims_round_trip)
{
	sat *s = NULL;
	char err[256];
	ck_assert_int_eq(sat_new(priv_a, NULL, 0, ISS, &s, err, sizeof(err)), 0);
	sat_claims c = { .ns = "team", .name = "default", .uid = "sa-uid",
			 .pod = { "web-1", "pod-uid" }, .node = { "node-1", "node-uid" },
			 .warnafter = NOW + 3607 };
	char *tok = NULL;
	ck_assert_int_eq(sat_sign(s, &c, NULL, 0, NOW, NOW + SAT_EXTENDED_EXPIRATION, &tok), 0);
	/* Upstream's private claims: "kubernetes.io": {namespace, node, pod, serviceaccount,
	 * warnafter}; no secret member for a pod-bound token. */
	cJSON *p = payload_of(tok);
	const cJSON *k8s = cJSON_GetObjectItemCaseSensitive(p, "kubernetes.io");
	ck_assert_str_eq(cJSON_GetObjectItemCaseSensitive(k8s, "namespace")->valuestring, "team");
	const cJSON *pod = cJSON_GetObjectItemCaseSensitive(k8s, "pod");
	ck_assert_str_eq(cJSON_GetObjectItemCaseSensitive(pod, "name")->valuestring, "web-1");
	ck_assert_str_eq(cJSON_GetObjectItemCaseSensitive(pod, "uid")->valuestring, "pod-uid");
	const cJSON *sa = cJSON_GetObjectItemCaseSensitive(k8s, "serviceaccount");
	ck_assert_str_eq(cJSON_GetObjectItemCaseSensitive(sa, "uid")->valuestring, "sa-uid");
	ck_assert_ptr_null(cJSON_GetObjectItemCaseSensitive(k8s, "secret"));
	ck_assert_int_eq((long long)cJSON_GetObjectItemCaseSensitive(k8s, "warnafter")->valuedouble,
			 NOW + 3607);
	ck_assert_int_eq((long long)cJSON_GetObjectItemCaseSensitive(p, "exp")->valuedouble,
			 NOW + SAT_EXTENDED_EXPIRATION);
	cJSON_Delete(p);
	/* Verification hands the refs back; still valid after warnafter (only stale). */
	sat_claims v;
	memset(&v, 0x55, sizeof(v));
	ck_assert_int_eq(sat_verify(s, tok, NOW + 4000, &v), 0);
	ck_assert_str_eq(v.pod.name, "web-1");
	ck_assert_str_eq(v.pod.uid, "pod-uid");
	ck_assert_str_eq(v.node.name, "node-1");
	ck_assert_str_eq(v.secret.name, "");
	ck_assert_int_eq(v.warnafter, NOW + 3607);
	ck_assert_int_eq(strlen(v.jti), 36);
	free(tok);
	/* An unbound token has no refs and no warnafter. */
	sat_claims plain = { .ns = "team", .name = "default", .uid = "sa-uid" };
	ck_assert_int_eq(sat_sign(s, &plain, NULL, 0, NOW, NOW + 600, &tok), 0);
	p = payload_of(tok);
	k8s = cJSON_GetObjectItemCaseSensitive(p, "kubernetes.io");
	ck_assert_ptr_null(cJSON_GetObjectItemCaseSensitive(k8s, "pod"));
	ck_assert_ptr_null(cJSON_GetObjectItemCaseSensitive(k8s, "warnafter"));
	cJSON_Delete(p);
	ck_assert_int_eq(sat_verify(s, tok, NOW + 1, &v), 0);
	ck_assert_str_eq(v.pod.name, "");
	ck_assert_int_eq(v.warnafter, 0);
	free(tok);
	sat_free(s);
}
END_TEST

static Suite *apiserver_satoken_suite(void)
{
	Suite *s = suite_create("apiserver_satoken");
	TCase *tc = tcase_create("satoken");
	tcase_add_unchecked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, round_trip_with_public_key_file);
	tcase_add_test(tc, other_key_issuer_or_audience_refused);
	tcase_add_test(tc, bound_pod_claims_round_trip);
	suite_add_tcase(s, tc);
	return s;
}

KC_TEST_MAIN(apiserver_satoken_suite)
