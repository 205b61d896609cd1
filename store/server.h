/* kube-store's client port: etcd 3.4's v3 JSON gateway over HTTP/1.1 (and HTTPS), on
 * libmicrohttpd.
 *
 * Threads: each listener runs MHD with internal epoll threads that never block. A unary
 * request's body is read there, then the connection is suspended and the request is
 * handed to a pool of worker threads that call the engine (a put waits for the WAL
 * fsync); the worker resumes the connection with the response. So 64 concurrent clients
 * need 64 busy workers, not 64 event threads, and a slow fsync never stalls other
 * connections. Watch streams (watchstream.c) hold no thread while idle: the engine's
 * callback queues encoded messages and resumes the suspended connection.
 *
 * Routes, encoding and error bodies follow docs STORE_API.md (observed from etcd 3.4.23):
 * POST /v3/... (and /v3beta/...), GET /health, /version, /metrics. */
#ifndef KC_STORE_SERVER_H
#define KC_STORE_SERVER_H

#include <stdbool.h>
#include <stddef.h>

struct kv;
struct srv;

struct srv_config {
	const char *const *listen_urls; /* borrowed during srv_start: "http://127.0.0.1:2379",
	                                   "https://0.0.0.0:2379"; host may be a name */
	size_t n_listen_urls;
	const char *cert_file;          /* PEM paths for https listeners (borrowed) */
	const char *key_file;
	const char *trusted_ca_file;    /* client CA bundle (with client_cert_auth) */
	bool client_cert_auth;          /* require and verify a client certificate */
	size_t max_request_bytes;       /* etcd --max-request-bytes; 0 means 1572864 */
	int workers;                    /* blocking-request threads; 0 means 128 */
};

/* Bind every listener, start the threads and serve kv (borrowed; must outlive the
 * server). On success *out is the server; on failure nothing is left running and the
 * return is negative (-EADDRINUSE, -EINVAL for a bad URL or TLS material, ...) after
 * logging why. */
int srv_start(struct kv *kv, const struct srv_config *cfg, struct srv **out);

/* The port the i-th listener bound (useful when the URL asked for port 0). */
int srv_port(const struct srv *s, size_t i);

/* Stop accepting, close every connection (cancelling their watches), join the
 * threads and free. NULL is a no-op. Call before kv_close. */
void srv_stop(struct srv *s);

/* ---- shared with watchstream.c ---- */
struct MHD_Response;
/* Add the headers every etcd gateway answer carries: the CORS trio, Content-Type
 * application/json and, with grpc_meta, Grpc-Metadata-Content-Type: application/grpc. */
void srv_add_headers(struct MHD_Response *r, bool grpc_meta);

#endif
