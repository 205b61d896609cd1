/* Authentication (k8s.io/apiserver/pkg/authentication): static token file
 * (--token-auth-file, CSV "token,user,uid,\"group1,group2\"") and x509 client certificates
 * verified against --client-ca-file (CN = user, O = groups). */
#ifndef APISERVER_AUTHN_H
#define APISERVER_AUTHN_H

#include <stddef.h>

#define AUTHN_MAX_GROUPS 16

typedef struct authn_user {
	char name[256];
	char uid[128];
	int ngroups;
	char groups[AUTHN_MAX_GROUPS][128];
	/* user.Info extra of a service-account token (upstream's
	 * authentication.kubernetes.io/{credential-id,pod-name,pod-uid,node-name,node-uid});
	 * empty when absent. */
	char credential_id[80];
	char pod_name[256], pod_uid[64], node_name[256], node_uid[64];
} authn_user;

typedef struct authn authn;

/* token_file / client_ca_file may be NULL. Returns 0 and *out, or a negative error with a
 * message in err (unreadable file, malformed CSV line as upstream's tokenfile errors). */
int authn_new(const char *token_file, const char *client_ca_file, authn **out, char *err,
	      size_t errlen);
void authn_free(authn *a);

/* Bearer token -> user. 0 on success, KC_EUNAUTH when unknown. */
int authn_token(const authn *a, const char *token, authn_user *u);
/* DER certificate chain (leaf first; borrowed) -> user, after verifying it against the
 * client CA. 0, KC_EUNAUTH (no CA configured / verify failed). */
int authn_cert(const authn *a, const unsigned char *const *der, const size_t *der_len,
	       size_t n, authn_user *u, char *why, size_t whylen);

#endif
