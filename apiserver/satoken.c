/* RS256 service-account JWTs with OpenSSL (EVP_DigestSign/Verify over SHA-256), claims as
 * upstream's pkg/serviceaccount/claims.go: iss, sub, aud, exp, iat, nbf, jti and the private
 * "kubernetes.io" claim {namespace, serviceaccount{name, uid}}; the header's kid is the
 * base64url SHA-256 of the public key's DER, as upstream's keyIDFromPublicKey. */
#include "satoken.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include "errors.h"
#include "json.h"

#define SAT_MAX_KEYS 16

struct sat {
	EVP_PKEY *signer;
	char signer_kid[64];
	EVP_PKEY *keys[SAT_MAX_KEYS];
	size_t nkeys;
	char issuer[512];
};

static void b64url(const unsigned char *in, size_t len, char *out, size_t n)
{
	static const char tbl[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	size_t o = 0;
	for (size_t i = 0; i < len && o + 5 < n; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16;
		if (i + 1 < len)
			v |= (uint32_t)in[i + 1] << 8;
		if (i + 2 < len)
			v |= in[i + 2];
		out[o++] = tbl[(v >> 18) & 63];
		out[o++] = tbl[(v >> 12) & 63];
		if (i + 1 < len)
			out[o++] = tbl[(v >> 6) & 63];
		if (i + 2 < len)
			out[o++] = tbl[v & 63];
	}
	out[o] = 0;
}

/* Decodes base64url without padding; returns the length or -1. */
static long b64url_dec(const char *in, size_t len, unsigned char *out, size_t n)
{
	size_t o = 0;
	uint32_t acc = 0;
	int bits = 0;
	for (size_t i = 0; i < len; i++) {
		char ch = in[i];
		int v;
		if (ch >= 'A' && ch <= 'Z')
			v = ch - 'A';
		else if (ch >= 'a' && ch <= 'z')
			v = ch - 'a' + 26;
		else if (ch >= '0' && ch <= '9')
			v = ch - '0' + 52;
		else if (ch == '-')
			v = 62;
		else if (ch == '_')
			v = 63;
		else
			return -1;
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (o >= n)
				return -1;
			out[o++] = (unsigned char)(acc >> bits);
		}
	}
	return (long)o;
}

static EVP_PKEY *load_key(const char *path, int want_private, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
		return NULL;
	}
	EVP_PKEY *k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	if (!k && !want_private) {
		rewind(f);
		k = PEM_read_PUBKEY(f, NULL, NULL, NULL);
	}
	fclose(f);
	if (!k) {
		snprintf(err, errlen, "%s: no %s key in PEM", path, want_private ? "private" : "RSA");
		return NULL;
	}
	if (EVP_PKEY_base_id(k) != EVP_PKEY_RSA) {
		snprintf(err, errlen, "%s: only RSA keys are supported (RS256)", path);
		EVP_PKEY_free(k);
		return NULL;
	}
	return k;
}

static void key_id(EVP_PKEY *k, char *out, size_t n)
{
	unsigned char *der = NULL;
	int len = i2d_PUBKEY(k, &der);
	out[0] = 0;
	if (len <= 0)
		return;
	unsigned char h[SHA256_DIGEST_LENGTH];
	SHA256(der, (size_t)len, h);
	OPENSSL_free(der);
	b64url(h, sizeof(h), out, n);
}

int sat_new(const char *signing_key_file, const char *const *key_files, size_t nkeys,
	    const char *issuer, sat **out, char *err, size_t errlen)
{
	sat *s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	snprintf(s->issuer, sizeof(s->issuer), "%s", issuer ? issuer : "");
	if (signing_key_file) {
		s->signer = load_key(signing_key_file, 1, err, errlen);
		if (!s->signer) {
			sat_free(s);
			return -EINVAL;
		}
		key_id(s->signer, s->signer_kid, sizeof(s->signer_kid));
		EVP_PKEY_up_ref(s->signer);
		s->keys[s->nkeys++] = s->signer;
	}
	for (size_t i = 0; i < nkeys && s->nkeys < SAT_MAX_KEYS; i++) {
		EVP_PKEY *k = load_key(key_files[i], 0, err, errlen);
		if (!k) {
			sat_free(s);
			return -EINVAL;
		}
		s->keys[s->nkeys++] = k;
	}
	*out = s;
	return 0;
}

void sat_free(sat *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->nkeys; i++)
		EVP_PKEY_free(s->keys[i]);
	EVP_PKEY_free(s->signer);
	free(s);
}

const char *sat_issuer(const sat *s)
{
	return s->issuer;
}

int sat_can_sign(const sat *s)
{
	return s && s->signer;
}

static void add_ref(cJSON *k8s, const char *key, const sat_ref *r)
{
	if (!r->name[0])
		return;
	cJSON *o = cJSON_AddObjectToObject(k8s, key);
	cJSON_AddStringToObject(o, "name", r->name);
	cJSON_AddStringToObject(o, "uid", r->uid);
}

/* A ref claim into r; 0, or -1 when present but not an object of strings. */
static int get_ref(const cJSON *k8s, const char *key, sat_ref *r)
{
	memset(r, 0, sizeof(*r));
	const cJSON *o = cJSON_GetObjectItemCaseSensitive(k8s, key);
	if (!o)
		return 0;
	const cJSON *n = cJSON_GetObjectItemCaseSensitive(o, "name");
	const cJSON *u = cJSON_GetObjectItemCaseSensitive(o, "uid");
	if (!cJSON_IsObject(o) || !cJSON_IsString(n) || !n->valuestring[0] ||
	    (u && !cJSON_IsString(u)))
		return -1;
	snprintf(r->name, sizeof(r->name), "%s", n->valuestring);
	snprintf(r->uid, sizeof(r->uid), "%s", u ? u->valuestring : "");
	return 0;
}

int sat_sign(const sat *s, const sat_claims *c, const char *const *aud, size_t naud,
	     int64_t iat, int64_t exp, char **tok)
{
	*tok = NULL;
	if (!sat_can_sign(s))
		return -ENOTSUP;
	char hdr[160];
	snprintf(hdr, sizeof(hdr), "{\"alg\":\"RS256\",\"kid\":\"%s\"}", s->signer_kid);
	cJSON *cl = cJSON_CreateObject();
	cJSON *a = cJSON_AddArrayToObject(cl, "aud");
	if (!naud)
		cJSON_AddItemToArray(a, cJSON_CreateString(s->issuer));
	for (size_t i = 0; i < naud; i++)
		cJSON_AddItemToArray(a, cJSON_CreateString(aud[i]));
	cJSON_AddItemToObject(cl, "exp", kc_json_new_int64(exp));
	cJSON_AddItemToObject(cl, "iat", kc_json_new_int64(iat));
	cJSON_AddStringToObject(cl, "iss", s->issuer);
	unsigned char rnd[16];
	char jti[40];
	RAND_bytes(rnd, sizeof(rnd));
	rnd[6] = (unsigned char)((rnd[6] & 0x0f) | 0x40);
	rnd[8] = (unsigned char)((rnd[8] & 0x3f) | 0x80);
	snprintf(jti, sizeof(jti),
		 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", rnd[0],
		 rnd[1], rnd[2], rnd[3], rnd[4], rnd[5], rnd[6], rnd[7], rnd[8], rnd[9], rnd[10],
		 rnd[11], rnd[12], rnd[13], rnd[14], rnd[15]);
	cJSON_AddStringToObject(cl, "jti", jti);
	/* Member order as upstream's privateClaims struct: namespace, node, pod, secret,
	 * serviceaccount, warnafter (Go's JSON encoder writes struct fields in order; the
	 * refs are omitted when nil). */
	cJSON *k8s = cJSON_AddObjectToObject(cl, "kubernetes.io");
	cJSON_AddStringToObject(k8s, "namespace", c->ns);
	add_ref(k8s, "node", &c->node);
	add_ref(k8s, "pod", &c->pod);
	add_ref(k8s, "secret", &c->secret);
	cJSON *sa = cJSON_AddObjectToObject(k8s, "serviceaccount");
	cJSON_AddStringToObject(sa, "name", c->name);
	cJSON_AddStringToObject(sa, "uid", c->uid);
	if (c->warnafter > 0)
		cJSON_AddItemToObject(k8s, "warnafter", kc_json_new_int64(c->warnafter));
	cJSON_AddItemToObject(cl, "nbf", kc_json_new_int64(iat));
	char sub[600];
	snprintf(sub, sizeof(sub), "system:serviceaccount:%s:%s", c->ns, c->name);
	cJSON_AddStringToObject(cl, "sub", sub);
	char *payload = cJSON_PrintUnformatted(cl);
	cJSON_Delete(cl);
	if (!payload)
		return -ENOMEM;
	size_t plen = strlen(payload);
	size_t cap = (strlen(hdr) + plen) * 2 + 1024;
	char *out = malloc(cap);
	if (!out) {
		free(payload);
		return -ENOMEM;
	}
	b64url((const unsigned char *)hdr, strlen(hdr), out, cap);
	size_t off = strlen(out);
	out[off++] = '.';
	b64url((const unsigned char *)payload, plen, out + off, cap - off);
	free(payload);
	size_t signed_len = strlen(out);
	unsigned char sig[1024];
	size_t siglen = sizeof(sig);
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	int ok = md && EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, s->signer) == 1 &&
		 EVP_DigestSign(md, sig, &siglen, (const unsigned char *)out, signed_len) == 1;
	EVP_MD_CTX_free(md);
	if (!ok) {
		free(out);
		return -EIO;
	}
	out[signed_len] = '.';
	b64url(sig, siglen, out + signed_len + 1, cap - signed_len - 1);
	*tok = out;
	return 0;
}

int sat_verify(const sat *s, const char *token, int64_t now, sat_claims *c)
{
	if (!s || !token)
		return KC_EUNAUTH;
	const char *d1 = strchr(token, '.');
	const char *d2 = d1 ? strchr(d1 + 1, '.') : NULL;
	if (!d1 || !d2 || strchr(d2 + 1, '.'))
		return KC_EUNAUTH;
	unsigned char hdr[512], sig[1024];
	size_t plen_max = (size_t)(d2 - d1) + 4;
	if (plen_max > 65536)
		return KC_EUNAUTH;
	unsigned char *payload = malloc(plen_max);
	if (!payload)
		return -ENOMEM;
	long hl = b64url_dec(token, (size_t)(d1 - token), hdr, sizeof(hdr) - 1);
	long pl = b64url_dec(d1 + 1, (size_t)(d2 - d1 - 1), payload, plen_max - 1);
	long sl = b64url_dec(d2 + 1, strlen(d2 + 1), sig, sizeof(sig));
	int rc = KC_EUNAUTH;
	cJSON *h = NULL, *p = NULL;
	if (hl <= 0 || pl <= 0 || sl <= 0)
		goto out;
	hdr[hl] = 0;
	payload[pl] = 0;
	h = cJSON_Parse((const char *)hdr);
	p = cJSON_Parse((const char *)payload);
	if (!h || !p || strcmp(kc_json_get_string(h, "alg", ""), "RS256"))
		goto out;
	/* Upstream tries every key; the kid is only a hint. */
	int verified = 0;
	for (size_t i = 0; i < s->nkeys && !verified; i++) {
		EVP_MD_CTX *md = EVP_MD_CTX_new();
		verified = md &&
			   EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, s->keys[i]) == 1 &&
			   EVP_DigestVerify(md, sig, (size_t)sl, (const unsigned char *)token,
					    (size_t)(d2 - token)) == 1;
		EVP_MD_CTX_free(md);
	}
	if (!verified)
		goto out;
	if (strcmp(kc_json_get_string(p, "iss", ""), s->issuer))
		goto out;
	int aud_ok = 0;
	const cJSON *aud = cJSON_GetObjectItemCaseSensitive(p, "aud"), *it;
	if (cJSON_IsString(aud))
		aud_ok = !strcmp(aud->valuestring, s->issuer);
	cJSON_ArrayForEach(it, aud)
		aud_ok |= cJSON_IsString(it) && !strcmp(it->valuestring, s->issuer);
	if (!aud_ok)
		goto out;
	int64_t exp = kc_json_get_int64(p, "exp", 0), nbf = kc_json_get_int64(p, "nbf", 0);
	if (!exp || now >= exp || now < nbf - 60) /* upstream allows 60 s of clock skew */
		goto out;
	/* "kubernetes.io" has a dot: not a dotted path. */
	const cJSON *k8s = cJSON_GetObjectItemCaseSensitive(p, "kubernetes.io");
	const char *ns = kc_json_get_string(k8s, "namespace", "");
	const char *name = kc_json_get_string(k8s, "serviceaccount.name", "");
	const char *uid = kc_json_get_string(k8s, "serviceaccount.uid", "");
	char sub[600];
	snprintf(sub, sizeof(sub), "system:serviceaccount:%s:%s", ns, name);
	if (!ns[0] || !name[0] || strcmp(kc_json_get_string(p, "sub", ""), sub))
		goto out;
	memset(c, 0, sizeof(*c));
	if (get_ref(k8s, "pod", &c->pod) || get_ref(k8s, "secret", &c->secret) ||
	    get_ref(k8s, "node", &c->node))
		goto out;
	snprintf(c->ns, sizeof(c->ns), "%s", ns);
	snprintf(c->name, sizeof(c->name), "%s", name);
	snprintf(c->uid, sizeof(c->uid), "%s", uid);
	c->warnafter = kc_json_get_int64(k8s, "warnafter", 0);
	snprintf(c->jti, sizeof(c->jti), "%s", kc_json_get_string(p, "jti", ""));
	rc = 0;
out:
	cJSON_Delete(h);
	cJSON_Delete(p);
	free(payload);
	return rc;
}
