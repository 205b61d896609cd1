/* Service-account tokens (pkg/serviceaccount/jwt.go, claims.go): RS256 JWTs signed with
 * --service-account-signing-key-file for serviceaccounts/<name>/token (TokenRequest), and
 * bearer-token authentication against the public keys of --service-account-key-file
 * (private or public PEM keys, several files allowed) and --service-account-issuer. */
#ifndef APISERVER_SATOKEN_H
#define APISERVER_SATOKEN_H

#include <stddef.h>
#include <stdint.h>

typedef struct sat sat;

/* serviceaccount.WarnOnlyBoundTokenExpirationSeconds (what ServiceAccount admission
 * requests) and ExpirationExtensionSeconds (one year), token.go's extension of such
 * pod-bound tokens. */
#define SAT_WARN_ONLY_EXPIRATION 3607
#define SAT_EXTENDED_EXPIRATION (24LL * 365 * 60 * 60)

/* signing_key_file may be NULL (then tokens cannot be issued: sat_sign -> -ENOTSUP);
 * key_files: nkeys paths (borrowed) whose keys verify tokens (the signing key's public half
 * is always one of them). issuer copied. Returns 0, or a negative error with err set. */
int sat_new(const char *signing_key_file, const char *const *key_files, size_t nkeys,
	    const char *issuer, sat **out, char *err, size_t errlen);
void sat_free(sat *s);
/* The issuer, also the default (and required) audience, as upstream's --api-audiences
 * default. */
const char *sat_issuer(const sat *s);
/* Nonzero when tokens can be issued. */
int sat_can_sign(const sat *s);

/* A bound object in the private claims: {"name", "uid"}; empty name = absent. */
typedef struct sat_ref {
	char name[256];
	char uid[64];
} sat_ref;

/* Zero-initialise before filling (absent refs have an empty name). */
typedef struct sat_claims {
	char ns[256];
	char name[256];
	char uid[64];
	/* The object the token is bound to (TokenRequest boundObjectRef), as upstream's
	 * "kubernetes.io" claim: "pod" or "secret", plus "node" for a pod with a node. */
	sat_ref pod, secret, node;
	/* "kubernetes.io".warnafter (unix seconds), 0 = absent: the time after which a token
	 * whose expiry was extended is reported stale. */
	int64_t warnafter;
	char jti[64]; /* set by sat_verify; ignored by sat_sign (a new one is drawn) */
} sat_claims;

/* Signs a token for ns/name (uid) with the audiences (borrowed; naud 0 = the issuer),
 * valid from iat to exp (unix seconds). *tok is heap (free()). */
int sat_sign(const sat *s, const sat_claims *c, const char *const *aud, size_t naud,
	     int64_t iat, int64_t exp, char **tok);
/* Verifies signature, issuer, audience (must include the issuer), nbf/exp against now and
 * the kubernetes.io claims (bound pod/secret/node refs included); fills *c. 0, KC_EUNAUTH when the token is not ours or invalid. */
int sat_verify(const sat *s, const char *token, int64_t now, sat_claims *c);

#endif
