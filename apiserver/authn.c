#include "authn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include "errors.h"

typedef struct tok_entry {
	char *token;
	authn_user user;
} tok_entry;

struct authn {
	tok_entry *toks;
	size_t ntoks;
	X509_STORE *ca;
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

int authn_cert(const authn *a, const unsigned char *const *der, const size_t *der_len,
	       size_t n, authn_user *u, char *why, size_t whylen)
{
	if (!a || !a->ca || n == 0) {
		snprintf(why, whylen, "no client CA configured");
		return KC_EUNAUTH;
	}
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
	X509_STORE_CTX_free(ctx);
	sk_X509_pop_free(chain, X509_free);
	X509_free(leaf);
	ERR_clear_error();
	return ok ? 0 : KC_EUNAUTH;
}
