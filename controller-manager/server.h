/* The controller-manager's HTTPS endpoint (upstream --secure-port 10257,
 * --bind-address): /healthz (with the leader-election check) and /metrics. As upstream,
 * without --tls-cert-file/--tls-private-key-file a self-signed certificate is made in
 * memory at start-up (upstream writes it to --cert-dir; kubec keeps it in memory).
 * No authentication/authorization yet: upstream delegates both to the apiserver
 * (TokenReview/SubjectAccessReview), here every client may read both paths. */
#ifndef CM_SERVER_H
#define CM_SERVER_H

#include <stddef.h>

typedef struct cm_server cm_server;

typedef struct cm_server_opts {
	const char *bind_address; /* "0.0.0.0", "::", "127.0.0.1"; NULL = 0.0.0.0 */
	int port;                 /* > 0; 0 is "do not serve" and is the caller's check */
	const char *cert_file;    /* both or neither; NULL = self-signed */
	const char *key_file;
	/* /metrics body (malloc'd, caller of the hook frees) or NULL on ENOMEM */
	char *(*metrics)(void *arg);
	/* /healthz: 0 healthy, else fills why (e.g. "leaderElection") */
	int (*healthz)(void *arg, char *why, size_t n);
	void *arg;
} cm_server_opts;

/* opts and its strings are borrowed for the call. -EINVAL with err for a bad address
 * or unreadable files; -EADDRINUSE etc. when the port cannot be bound. */
int cm_server_start(const cm_server_opts *opts, cm_server **out, char *err, size_t errlen);
/* The port actually bound. */
int cm_server_port(cm_server *s);
void cm_server_stop(cm_server *s);

/* A self-signed ECDSA P-256 certificate for host (and localhost, 127.0.0.1, ::1),
 * valid one year, as malloc'd PEM strings. 0 or -ENOMEM/-EIO. */
int cm_self_signed(const char *host, char **cert_pem, char **key_pem);

#endif
