/* Keep-alive HTTP/1.1 POSTs of small JSON bodies for the binding cycle (upstream's
 * DefaultBinder POSTs pods/<name>/binding through client-go's keep-alive transport).
 *
 * Why not kc_client (libcurl): a binding is one ~300-byte request and a ~100-byte Status
 * answer, and libcurl spent ~11 system calls and most of the binder threads' CPU on each
 * (multi-handle wake-up polls, a liveness MSG_PEEK, zero-timeout polls, record-by-record
 * reads), measured at ~0.12 ms per binding in the scheduler benchmark. Here a request is
 * one SSL_write and, with OpenSSL's read-ahead, usually one read.
 *
 * Scope, so that nothing a user can see changes: only POST with a JSON body, with the
 * same request headers as kc_client (Host, User-Agent, Accept, Content-Type,
 * Authorization, Content-Length) and the same TLS settings from the kubeconfig (CA
 * file or data, client certificate and key, tls-server-name for SNI and the
 * certificate check, insecure-skip-tls-verify). sched_poster_new refuses (-ENOTSUP)
 * whatever it does not do the way kc_client would: a proxy in the environment, a
 * server URL that is not plain http(s)://host[:port][/prefix]. When nothing could be
 * sent (connect or TLS failure) the caller repeats the request with kc_client, so those
 * failure messages stay libcurl's own; a request is only ever sent twice here when a
 * kept-alive connection turned out closed before any byte of the answer arrived
 * (libcurl does the same). A failure after the request went out is reported with
 * libcurl's wording for it (curl_easy_strerror), as kc_client would.
 *
 * Thread-safe: idle connections are kept in a small pool (as kc_client's handles).
 * Ownership: kc and user_agent are copied at new; every other pointer is borrowed for
 * the call; *resp (when returned) is the caller's to free. */
#ifndef SCHED_POSTER_H
#define SCHED_POSTER_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "client.h"
#include "kubeconfig.h"

typedef struct sched_poster sched_poster;

/* 0, -ENOTSUP (not eligible, see above), -EINVAL (bad URL or TLS material) or -ENOMEM.
 * Nothing is connected yet. */
int sched_poster_new(const kc_kubeconfig *kc, const char *user_agent, sched_poster **out);
void sched_poster_free(sched_poster *p);

/* POST body (len bytes of JSON) to path ("/api/v1/..."). Returns the HTTP status
 * (100-599) with the answer's body in *resp (NUL-terminated, *resp_len bytes; may be
 * empty). Otherwise no answer: -EPIPE when nothing was sent (the caller may send it
 * another way), or -ECONNRESET / KC_ETIMEOUT when the request went out and the answer
 * did not come (err says so as kc_client would: "POST <url>: <libcurl's text>");
 * -EINVAL for a path with spaces or control bytes; -ENOMEM. */
int sched_poster_post(sched_poster *p, const char *path, const char *body, size_t len,
		      char **resp, size_t *resp_len, char *err, size_t errlen);

/* POST obj as JSON to path and read the answer the way kc_client_create does. Returns 1
 * when nothing was sent (the caller sends it through kc_client instead); 0 for a 2xx
 * answer, with *out (when out is non-NULL) the answer's object or NULL; otherwise a
 * negative code: a transport failure after sending (err says so, as above), or
 * kc_status_to_err of the answer's status and Status reason, with err its message. */
int sched_poster_post_json(sched_poster *p, const char *path, const cJSON *obj, cJSON **out,
			   char *err, size_t errlen);

#endif
