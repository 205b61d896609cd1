/* The HTTPS front end (libmicrohttpd, GnuTLS inside): TLS, keep-alive, request bodies up to
 * 3 MiB (413 beyond, as upstream's MaxRequestBodyBytes), authentication, then api_handle. */
#ifndef APISERVER_SERVER_H
#define APISERVER_SERVER_H

#include <stdint.h>

#include "api.h"
#include "authn.h"

typedef struct srv_config {
	const char *bind_address; /* "0.0.0.0" */
	int port;
	const char *cert_pem; /* borrowed PEM text; NULL = plain HTTP (tests only) */
	const char *key_pem;
	const char *client_ca_pem; /* NULL: no client certificates requested */
	authn *auth;               /* borrowed; NULL: no authenticators (everyone allowed) */
	sat *sa_tokens;            /* borrowed, may be NULL: service-account bearer tokens */
	int threads;
} srv_config;

typedef struct srv srv;

/* api is borrowed and must outlive the server. Returns 0 and *out, or -errno. */
int srv_start(const srv_config *cfg, api_ctx *api, srv **out);
/* Port actually bound (for --secure-port=0). */
int srv_port(const srv *s);
void srv_stop(srv *s);

#define SRV_MAX_BODY (3 * 1024 * 1024)

#endif
