/* The Kubernetes REST client (client-go's rest.Interface, trimmed), on libcurl.
 *
 * A kc_client is built from a kc_kubeconfig (kubeconfig.h) and is thread-safe: any number
 * of threads may call it at once. Each call borrows a curl easy handle from a pool (up to
 * 16 idle ones are kept, each with its keep-alive connection), so connections are reused
 * across calls and threads; DNS entries and TLS sessions are shared through a CURLSH.
 * A watch uses a handle of its own. TLS: CA file or in-memory CA, client cert/key
 * (file or in-memory), insecure-skip-tls-verify, tls-server-name (SNI and certificate
 * name check against that name while connecting to the server's address); bearer token.
 * HTTP/1.1 only (the watch protocol is chunked lines).
 *
 * Bodies are JSON in and out (cJSON trees). Errors (errors.h):
 *   404 -> KC_ENOTFOUND            409 reason AlreadyExists -> KC_EEXIST
 *   409 (Conflict, other) -> KC_ECONFLICT   410 -> KC_EGONE   422 -> KC_EINVALID
 *   400 -> KC_EINVALID (BadRequest)  401 -> KC_EUNAUTH  403 -> KC_EFORBIDDEN
 *   413 -> KC_ETOOLARGE   429 -> KC_ESERVER (after retries)   504 / timeout -> KC_ETIMEOUT
 *   other 5xx -> KC_ESERVER   other non-2xx -> KC_EHTTP
 *   connection refused / DNS / TLS failures -> -ECONNREFUSED, -EHOSTUNREACH, -EPROTO
 *   2xx with a body that is not JSON -> KC_EPARSE
 * The HTTP status and the decoded metav1.Status of a failure go into a caller-provided
 * kc_status (pass NULL when not wanted).
 *
 * Retries (as client-go's request.go for idempotent requests): GET is retried on
 * connection errors, 5xx and 429, at most max_retries times, sleeping an exponential
 * backoff (retry_base_ms doubling, capped at 5 s) or the server's Retry-After seconds
 * (capped at 30 s) when given. Other verbs are never retried by the client.
 *
 * Ownership: the kubeconfig and options are copied at kc_client_new; every const pointer
 * argument is borrowed for the call; every cJSON ** out receives a new tree the caller
 * owns (cJSON_Delete), or NULL. */
#ifndef KC_CLIENT_H
#define KC_CLIENT_H

#include <stdatomic.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "clock.h"
#include "kubeconfig.h"
#include "watch.h"

typedef struct kc_client kc_client;

typedef struct kc_client_opts {
	const char *user_agent;  /* default "kubec/v0.1 (linux/amd64)" */
	long timeout_ms;         /* whole-request timeout for non-watch calls; default 60000 */
	long connect_timeout_ms; /* default 10000 */
	int max_retries;         /* GET retries; default 3; -1 means none */
	long retry_base_ms;      /* first backoff; default 200 */
	kc_clock_t *clock;       /* for backoff sleeps; default kc_clock_real() */
} kc_client_opts;

/* A decoded metav1.Status (from a failed response or a watch ERROR event). Plain data,
 * caller-provided, no heap: no close needed. Strings are truncated to fit. */
typedef struct kc_status {
	long http_code;     /* HTTP status of the response; 0 when no response */
	int code;           /* Status.code (falls back to http_code) */
	char status[16];    /* "Success" / "Failure" */
	char reason[64];    /* "NotFound", "AlreadyExists", "Conflict", "Expired", ... */
	char message[1024];
	struct {
		char name[256];
		char group[128];
		char kind[64];
		int retry_after_seconds;
	} details;
	int retry_after;    /* Retry-After header in seconds, -1 when absent */
} kc_status;

/* Reset to "no response". */
void kc_status_clear(kc_status *st);
/* Fill st from a Status object (borrowed; anything not a Status just leaves fields
 * empty); st->code falls back to http_code. */
void kc_status_from_json(kc_status *st, const cJSON *obj, long http_code);
/* KC_E* for an HTTP code and Status reason (reason may be NULL); 0 for 2xx. */
int kc_status_to_err(int code, const char *reason);

/* Build a client. kc (copied) must have an http(s) server; opts may be NULL. -EINVAL for a
 * token or user agent with control bytes or a tls-server-name that is not a host name. */
int kc_client_new(const kc_kubeconfig *kc, const kc_client_opts *opts, kc_client **out);
/* Free a client no call is using any more. NULL is fine. */
void kc_client_free(kc_client *c);
/* The server URL ("https://host:port", no trailing slash). Borrowed from c. */
const char *kc_client_server(const kc_client *c);

/* One request. method "GET"/"POST"/"PUT"/"PATCH"/"DELETE"; path_with_query starts with
 * '/' ("/api/v1/namespaces/default/pods?limit=10"), the caller escapes the query (see
 * kc_client_query_escape). body NULL sends no body; content_type NULL means
 * "application/json". On 2xx *out (may be NULL if unwanted) is the decoded body (NULL
 * for an empty body) and 0 is returned; on failure *out is NULL and st holds the
 * status. */
int kc_client_request(kc_client *c, const char *method, const char *path_with_query,
		      const cJSON *body, const char *content_type, cJSON **out, kc_status *st);

/* kc_client_request that gives up with -ECANCELED once *stop (any thread) is non-zero:
 * checked about once a second during the transfer and before each retry. */
int kc_client_request_cancel(kc_client *c, const char *method, const char *path_with_query,
			     const cJSON *body, const char *content_type, cJSON **out,
			     kc_status *st, const atomic_int *stop);

/* ---- paths ---- */

/* What a path names. api_version "v1" -> /api/v1, "apps/v1" -> /apis/apps/v1. ns NULL or
 * "" for cluster-scoped resources or all namespaces; name NULL for the collection;
 * subresource NULL, "status", "binding", "scale", ... All borrowed. */
typedef struct kc_ref {
	const char *api_version;
	const char *resource; /* plural, lower case: "pods", "deployments", "leases" */
	const char *ns;
	const char *name;
	const char *subresource;
} kc_ref;

/* Write the path of ref into buf (always NUL-terminated when len > 0). Returns the length,
 * -EINVAL (missing api_version/resource, a segment that is empty, "." / "..", or holds
 * '/', '?', '#', '%', control bytes; a subresource without a name) or -ENAMETOOLONG. */
int kc_client_path(char *buf, size_t len, const kc_ref *ref);

/* Percent-encode s for a query value (RFC 3986 unreserved bytes kept). Returns a
 * malloc'd string, NULL on ENOMEM. */
char *kc_client_query_escape(const char *s);

/* ---- verbs (as client-go's typed clients) ---- */

/* GET one object (ref->name set) or a list (name NULL; query e.g. "labelSelector=app%3Dx"
 * or NULL, appended after '?'). */
int kc_client_get(kc_client *c, const kc_ref *ref, const char *query, cJSON **out,
		  kc_status *st);
/* POST obj to the collection (or to a named subresource such as pods/x/binding). */
int kc_client_create(kc_client *c, const kc_ref *ref, const cJSON *obj, cJSON **out,
		     kc_status *st);
/* PUT obj to the named object (or its subresource, e.g. "status"). */
int kc_client_update(kc_client *c, const kc_ref *ref, const cJSON *obj, cJSON **out,
		     kc_status *st);

enum kc_patch_type {
	KC_PATCH_JSON,      /* application/json-patch+json (RFC 6902) */
	KC_PATCH_MERGE,     /* application/merge-patch+json (RFC 7386) */
	KC_PATCH_STRATEGIC, /* application/strategic-merge-patch+json */
	KC_PATCH_APPLY,     /* application/apply-patch+yaml (JSON is YAML); needs
			     * query "fieldManager=..." */
};
/* The Content-Type of a patch type; NULL for an out-of-range value. */
const char *kc_patch_content_type(enum kc_patch_type t);
/* PATCH the named object (or subresource). query may be NULL ("fieldManager=x&force=true"). */
int kc_client_patch(kc_client *c, const kc_ref *ref, enum kc_patch_type type,
		    const cJSON *patch, const char *query, cJSON **out, kc_status *st);
/* DELETE the named object; opts is an optional DeleteOptions body (NULL for none). */
int kc_client_delete(kc_client *c, const kc_ref *ref, const cJSON *opts, cJSON **out,
		     kc_status *st);

/* ---- watch ---- */

/* Run `GET path?watch=1&<query>` and feed the chunked body to a kc_watch_decoder, calling
 * cb for every event (see watch.h; cb may take ev->object). Blocks until:
 *   - the server ends the stream normally          -> returns 0
 *   - cb returns non-zero                          -> returns that value
 *   - *stop becomes non-zero (any thread)          -> returns -ECANCELED (within ~100 ms)
 *   - the initial answer is not 200                -> KC_E* as above, st filled
 *   - a decode error (KC_EPARSE / KC_ETOOLARGE) or a transport error mid-stream
 *     (-ECONNRESET) -> that code.
 * query may be NULL; it must not contain watch=. stop may be NULL. Not retried: the
 * caller (an informer) owns the relist/rewatch policy. No whole-request timeout applies;
 * ask the server for one with timeoutSeconds=N, as client-go's reflector does. */
int kc_client_watch(kc_client *c, const char *path, const char *query, kc_watch_fn cb,
		    void *arg, const atomic_int *stop, kc_status *st);

#endif
