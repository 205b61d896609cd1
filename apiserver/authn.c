#include "authn.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include "errors.h"

typedef struct tok_entry {
	char *token;
	authn_user user;
} tok_entry;

/* Verified client-certificate chains, so that a keep-alive client (the scheduler, a
 * kubelet, kubectl) is not re-parsed and re-verified with OpenSSL on every request: that was
 * the apiserver's largest single cost per request in the scheduler benchmark. Go's TLS stack
 * hands upstream's x509 authenticator already-parsed certificates, so its per-request work
 * is only the chain verification; ours was DER decoding plus verification. Only successful
 * verifications are cached, each for at most CERT_CACHE_TTL seconds and never past the
 * leaf's notAfter, so an expired certificate is refused as before. */
#define CERT_CACHE_SLOTS 32
#define CERT_CACHE_TTL 60

typedef struct cert_slot {
	uint64_t hash;
	unsigned char *blob; /* the chain as presented: (u32 length, DER) per certificate */
	size_t blob_len;
	int64_t until_mono;  /* CLOCK_MONOTONIC seconds */
	time_t not_after;    /* the leaf's notAfter (wall clock) */
	authn_user user;
} cert_slot;

typedef struct cert_cache {
	pthread_mutex_t mu;
	cert_slot slot[CERT_CACHE_SLOTS];
	unsigned next; /* round-robin replacement */
} cert_cache;

struct authn {
	tok_entry *toks;
	size_t ntoks;
	X509_STORE *ca;
	cert_cache *certs; /* NULL without a client CA */
};

/* One CSV record (encoding/csv as the tokenfile authenticator reads it). */
static int csv_fields(const char *line, char fields[][1024], int max)
{
	int n = 0;
	const char *p = line;
	while (n < max) {
		size_t o = 0;
		if (*p == '"') {
			p++;
			while (*p && !(*p == '"' && p[1] != '"')) {
				if (*p == '"')
					p++;
				if (o + 1 < 1024)
					fields[n][o++] = *p;
				p++;
			}
			if (*p == '"')
				p++;
		} else {
			while (*p && *p != ',' && *p != '\n' && *p != '\r') {
				if (o + 1 < 1024)
					fields[n][o++] = *p;
				p++;
			}
		}
		fields[n++][o] = 0;
		if (*p != ',')
			break;
		p++;
	}
	return n;
}

static void add_groups(authn_user *u, const char *csv)
{
	const char *p = csv;
	while (*p && u->ngroups < AUTHN_MAX_GROUPS) {
		const char *c = strchr(p, ',');
		size_t l = c ? (size_t)(c - p) : strlen(p);
		if (l && l < sizeof(u->groups[0])) {
			memcpy(u->groups[u->ngroups], p, l);
			u->groups[u->ngroups++][l] = 0;
		}
		if (!c)
			break;
		p = c + 1;
	}
}

static int load_tokens(authn *a, const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		snprintf(err, errlen, "open %s: %s", path, strerror(errno));
		return -errno;
	}
	char line[4096];
	static char fields[5][1024];
	int lineno = 0;
	while (fgets(line, sizeof(line), f)) {
		lineno++;
		if (line[0] == '\n' || line[0] == '#')
			continue;
		int n = csv_fields(line, fields, 5);
		if (n < 3) {
			/* tokenfile.NewCSV: "token file '%s' must have at least 3 columns (token,
			 * user name, user uid), found %d" */
			snprintf(err, errlen, "token file '%s' must have at least 3 columns (token, "
					      "user name, user uid), found %d", path, n);
			fclose(f);
			return -EINVAL;
		}
		tok_entry *nt = realloc(a->toks, (a->ntoks + 1) * sizeof(*nt));
		if (!nt) {
			fclose(f);
			return -ENOMEM;
		}
		a->toks = nt;
		tok_entry *t = &a->toks[a->ntoks++];
		memset(t, 0, sizeof(*t));
		t->token = strdup(fields[0]);
		snprintf(t->user.name, sizeof(t->user.name), "%.255s", fields[1]);
		snprintf(t->user.uid, sizeof(t->user.uid), "%.127s", fields[2]);
		if (n >= 4)
			add_groups(&t->user, fields[3]);
	}
	fclose(f);
	return 0;
}

int authn_new(const char *token_file, const char *client_ca_file, authn **out, char *err,
	      size_t errlen)
{
	authn *a = calloc(1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	int rc = 0;
	if (token_file && token_file[0])
		rc = load_tokens(a, token_file, err, errlen);
	if (!rc && client_ca_file && client_ca_file[0]) {
		a->ca = X509_STORE_new();
		if (!a->ca || X509_STORE_load_file(a->ca, client_ca_file) != 1) {
			snprintf(err, errlen, "unable to load client CA file \"%s\"", client_ca_file);
			rc = -EINVAL;
		} else if (!(a->certs = calloc(1, sizeof(*a->certs)))) {
			rc = -ENOMEM;
		} else {
			pthread_mutex_init(&a->certs->mu, NULL);
		}
	}
	if (rc) {
		authn_free(a);
		return rc;
	}
	*out = a;
	return 0;
}

void authn_free(authn *a)
{
	if (!a)
		return;
	for (size_t i = 0; i < a->ntoks; i++)
		free(a->toks[i].token);
	free(a->toks);
	if (a->ca)
		X509_STORE_free(a->ca);
	if (a->certs) {
		for (int i = 0; i < CERT_CACHE_SLOTS; i++)
			free(a->certs->slot[i].blob);
		pthread_mutex_destroy(&a->certs->mu);
		free(a->certs);
	}
	free(a);
}

int authn_token(const authn *a, const char *token, authn_user *u)
{
	if (!a || !token || !token[0])
		return KC_EUNAUTH;
	size_t tl = strlen(token);
	for (size_t i = 0; i < a->ntoks; i++) {
		const char *t = a->toks[i].token;
		/* Constant-time compare of equal-length tokens. */
		if (strlen(t) != tl)
			continue;
		unsigned char diff = 0;
		for (size_t k = 0; k < tl; k++)
			diff |= (unsigned char)(t[k] ^ token[k]);
		if (!diff) {
			*u = a->toks[i].user;
			return 0;
		}
	}
	return KC_EUNAUTH;
}

static int64_t mono_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

/* The chain as one byte string: each certificate's length (4 bytes) then its DER, so that
 * two different chains never compare equal. NULL when a certificate is over 16 MiB or on
 * out of memory (the chain is then verified without the cache). */
static unsigned char *chain_blob(const unsigned char *const *der, const size_t *der_len,
				 size_t n, size_t *len)
{
	size_t total = 0;
	for (size_t i = 0; i < n; i++) {
		if (der_len[i] > (16u << 20))
			return NULL;
		total += 4 + der_len[i];
	}
	unsigned char *b = malloc(total ? total : 1);
	if (!b)
		return NULL;
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		uint32_t l = (uint32_t)der_len[i];
		memcpy(b + o, &l, 4);
		memcpy(b + o + 4, der[i], der_len[i]);
		o += 4 + der_len[i];
	}
	*len = total;
	return b;
}

/* A hash of the chain as chain_blob lays it out, computed over the DER pieces in place and
 * eight bytes at a time: a hit no longer copies the chain into a new blob nor hashes it a
 * byte at a time (FNV-1a over ~1 KB was most of a cached authentication's cost, paid on
 * every request of a kept-alive client). Collisions are harmless: a hit is confirmed by
 * chain_is. */
static uint64_t mix(uint64_t h, uint64_t w)
{
	h ^= w;
	h *= 0x9e3779b97f4a7c15ULL;
	return h ^ (h >> 29);
}

static uint64_t chain_hash(const unsigned char *const *der, const size_t *der_len, size_t n)
{
	uint64_t h = 1469598103934665603ULL;
	for (size_t i = 0; i < n; i++) {
		const unsigned char *p = der[i];
		size_t len = der_len[i], k = 0;
		h = mix(h, (uint64_t)len);
		for (; k + 8 <= len; k += 8) {
			uint64_t w;
			memcpy(&w, p + k, 8);
			h = mix(h, w);
		}
		uint64_t t = 0;
		memcpy(&t, p + k, len - k);
		h = mix(h, t);
	}
	return h;
}

/* Whether blob (chain_blob's layout) holds exactly this chain. */
static int chain_is(const unsigned char *blob, size_t blen, const unsigned char *const *der,
		    const size_t *der_len, size_t n)
{
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		uint32_t l;
		if (der_len[i] > (16u << 20) || blen - o < 4)
			return 0;
		memcpy(&l, blob + o, 4);
		if (l != der_len[i] || blen - o - 4 < der_len[i] ||
		    memcmp(blob + o + 4, der[i], der_len[i]))
			return 0;
		o += 4 + der_len[i];
	}
	return o == blen;
}

/* 1 and *u when the chain was verified recently, still within its leaf's validity. */
static int cache_lookup(cert_cache *c, uint64_t h, const unsigned char *const *der,
			const size_t *der_len, size_t n, authn_user *u)
{
	int64_t now = mono_now();
	time_t wall = time(NULL);
	int hit = 0;
	pthread_mutex_lock(&c->mu);
	for (int i = 0; i < CERT_CACHE_SLOTS; i++) {
		cert_slot *sl = &c->slot[i];
		if (!sl->blob || sl->hash != h || !chain_is(sl->blob, sl->blob_len, der, der_len, n))
			continue;
		if (now < sl->until_mono && wall < sl->not_after) {
			*u = sl->user;
			hit = 1;
		} else {
			free(sl->blob);
			sl->blob = NULL;
		}
		break;
	}
	pthread_mutex_unlock(&c->mu);
	return hit;
}

/* Takes blob. */
static void cache_store(cert_cache *c, uint64_t h, unsigned char *blob, size_t len,
			time_t not_after, const authn_user *u)
{
	pthread_mutex_lock(&c->mu);
	cert_slot *sl = NULL;
	for (int i = 0; i < CERT_CACHE_SLOTS && !sl; i++)
		if (c->slot[i].blob && c->slot[i].hash == h && c->slot[i].blob_len == len &&
		    !memcmp(c->slot[i].blob, blob, len))
			sl = &c->slot[i]; /* verified concurrently by another request */
	if (!sl)
		sl = &c->slot[c->next++ % CERT_CACHE_SLOTS];
	free(sl->blob);
	sl->hash = h;
	sl->blob = blob;
	sl->blob_len = len;
	sl->until_mono = mono_now() + CERT_CACHE_TTL;
	sl->not_after = not_after;
	sl->user = *u;
	pthread_mutex_unlock(&c->mu);
}

static int verify_chain(const authn *a, const unsigned char *const *der, const size_t *der_len,
			size_t n, authn_user *u, time_t *not_after, char *why, size_t whylen);

int authn_cert(const authn *a, const unsigned char *const *der, const size_t *der_len,
	       size_t n, authn_user *u, char *why, size_t whylen)
{
	if (!a || !a->ca || n == 0) {
		snprintf(why, whylen, "no client CA configured");
		return KC_EUNAUTH;
	}
	uint64_t h = a->certs ? chain_hash(der, der_len, n) : 0;
	if (a->certs && cache_lookup(a->certs, h, der, der_len, n, u))
		return 0;
	time_t not_after = 0;
	int rc = verify_chain(a, der, der_len, n, u, &not_after, why, whylen);
	size_t blen = 0;
	unsigned char *blob = rc == 0 && a->certs ? chain_blob(der, der_len, n, &blen) : NULL;
	if (rc == 0 && blob)
		cache_store(a->certs, h, blob, blen, not_after, u);
	else
		free(blob);
	return rc;
}

static int verify_chain(const authn *a, const unsigned char *const *der, const size_t *der_len,
			size_t n, authn_user *u, time_t *not_after, char *why, size_t whylen)
{
	const unsigned char *p = der[0];
	X509 *leaf = d2i_X509(NULL, &p, (long)der_len[0]);
	if (!leaf) {
		snprintf(why, whylen, "malformed client certificate");
		return KC_EUNAUTH;
	}
	STACK_OF(X509) *chain = sk_X509_new_null();
	for (size_t i = 1; i < n; i++) {
		const unsigned char *q = der[i];
		X509 *x = d2i_X509(NULL, &q, (long)der_len[i]);
		if (x)
			sk_X509_push(chain, x);
	}
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	int ok = ctx && X509_STORE_CTX_init(ctx, a->ca, leaf, chain) == 1;
	if (ok) {
		/* x509 authenticator: ExtKeyUsageClientAuth. */
		X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_SSL_CLIENT);
		ok = X509_verify_cert(ctx) == 1;
		if (!ok)
			snprintf(why, whylen, "x509: %s",
				 X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx)));
	}
	if (ok) {
		memset(u, 0, sizeof(*u));
		X509_NAME *subj = X509_get_subject_name(leaf);
		X509_NAME_get_text_by_NID(subj, NID_commonName, u->name, sizeof(u->name));
		int idx = -1;
		while ((idx = X509_NAME_get_index_by_NID(subj, NID_organizationName, idx)) >= 0 &&
		       u->ngroups < AUTHN_MAX_GROUPS) {
			ASN1_STRING *s = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subj, idx));
			snprintf(u->groups[u->ngroups++], sizeof(u->groups[0]), "%.*s",
				 ASN1_STRING_length(s), (const char *)ASN1_STRING_get0_data(s));
		}
		if (!u->name[0]) {
			snprintf(why, whylen, "x509: certificate has no common name");
			ok = 0;
		}
	}
	if (ok) {
		struct tm tm;
		if (ASN1_TIME_to_tm(X509_get0_notAfter(leaf), &tm) == 1)
			*not_after = timegm(&tm);
		else
			ok = 0; /* verified, yet no readable expiry: do not authenticate */
	}
	X509_STORE_CTX_free(ctx);
	sk_X509_pop_free(chain, X509_free);
	X509_free(leaf);
	ERR_clear_error();
	return ok ? 0 : KC_EUNAUTH;
}
