/* Internals shared by the etcd client's parts: etcd.c (the client, its transport and the
 * unary calls with their JSON encoding), etcd_stream.c (the long streams: stream framing,
 * lease keep-alive, snapshot, the watch decoder and kc_etcd_watch) and etcd_scan.c (the
 * allocation-free JSON tokenizer and base64 decoder the hot answers are read with).
 *
 * Not a public API: only those files and their unit tests / fuzz harnesses include this
 * header. Everything here is
 * prefixed kc_etcd__ (two underscores, as libuv's uv__) to say so. Ownership and return
 * conventions are those of etcd.h unless stated. */
#ifndef KC_ETCD_INT_H
#define KC_ETCD_INT_H

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "etcd.h"

#define KC_ETCD__POOL_MAX 64

/* A unary response larger than this is refused: etcd's own gRPC limit for a client to
 * receive is math.MaxInt32, but a JSON answer this big means a runaway range. */
#define ETCD_MAX_RESPONSE (512u * 1024 * 1024)

/* An endpoint the own HTTP transport (etcd_http.c) serves: plain http://host[:port]. */
struct kc_etcd__hep {
	bool fast;           /* false: libcurl serves it */
	char host[256];
	char port[8];
	char authority[300]; /* the Host header */
};

/* An idle keep-alive connection of the own transport. */
struct kc_etcd__conn {
	int fd;
	int ep;
	long to_ms; /* the socket's current SO_RCVTIMEO */
};

struct kc_etcd {
	char **endpoints;     /* n_endpoints URLs without a trailing '/' */
	size_t n_endpoints;
	char *cacert, *cert, *key;
	long dial_timeout_ms;
	long request_timeout_ms;
	bool insecure;
	atomic_int preferred; /* endpoint that last answered */
	pthread_mutex_t mu;   /* guards pool */
	CURL *pool[KC_ETCD__POOL_MAX];
	size_t n_pool;
	struct curl_slist *hdrs; /* the request headers every POST sends, built once */
	struct kc_etcd__hep *hep; /* n_endpoints entries */
	struct kc_etcd__conn idle[KC_ETCD__POOL_MAX]; /* guarded by mu */
	size_t n_idle;
};

/* ---- errors ---- */

/* Fills *err (NULL is fine) with an HTTP status, a gRPC code and a printf message. */
void kc_etcd__set_err(struct kc_etcd_error *err, int http, int code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* Maps etcd's gRPC code (and, without one, the HTTP status) to a return code, as the
 * table in etcd.h says. msg (borrowed, may be NULL) tells OutOfRange "compacted" apart. */
int kc_etcd__map_grpc(int code, const char *msg, long http);
/* Decodes a non-200 answer's body (borrowed, may be NULL): etcd's {"error","message",
 * "code"} or plain text; fills *err and returns the mapped code. */
int kc_etcd__decode_error(long http, const char *body, struct kc_etcd_error *err);

/* ---- growable byte buffer (always NUL-terminated once non-empty) ---- */

struct kc_etcd__buf {
	char *p; /* heap, owned; free() */
	size_t len, cap;
};
/* Appends n bytes of d (copied). 0 or -ENOMEM. */
/* Room for at least n more bytes (and the NUL) in b: 0 or -ENOMEM. */
int kc_etcd__buf_reserve(struct kc_etcd__buf *b, size_t n);
int kc_etcd__buf_append(struct kc_etcd__buf *b, const void *d, size_t n);

/* ---- transport ---- */

/* Sets URL, timeouts, TLS and the POST body (borrowed until the transfer ends) on h.
 * stream: no overall deadline, TCP keepalive instead (for watch / snapshot). */
void kc_etcd__setup_handle(kc_etcd *c, CURL *h, const char *url, const char *body,
                           struct curl_slist *hdrs, bool stream);
/* True for failures that cannot have reached a server: safe to try the next endpoint. */
bool kc_etcd__is_connect_error(CURLcode rc);
/* A curl failure as -ETIMEDOUT, -ECONNREFUSED or -EIO. */
int kc_etcd__curl_to_err(CURLcode rc);

typedef size_t (*kc_etcd__write_fn)(char *, size_t, size_t, void *);
/* POSTs body (borrowed) to path. ep >= 0 pins an endpoint, -1 fails over from the
 * preferred one. The answer goes to wfn(ud) when wfn is set, else into *out (whose p the
 * caller frees). Returns 0 with *status set once an HTTP answer came, or a transport error. */
int kc_etcd__do_post(kc_etcd *c, int ep, const char *path, const char *body, bool stream,
                     kc_etcd__write_fn wfn, void *ud, struct kc_etcd__buf *out, long *status,
                     struct kc_etcd_error *err);

/* ---- JSON encoding (etcd's gateway: bytes base64, int64 as strings) ---- */

/* Adds o[name] = base64(p[0..len)); p may be NULL (empty). 0 or -ENOMEM. */
int kc_etcd__add_bytes(cJSON *o, const char *name, const void *p, size_t len);
/* Adds o[name] = "<v>" (int64 as a JSON string, as grpc-gateway writes it). */
int kc_etcd__add_i64(cJSON *o, const char *name, int64_t v);
int kc_etcd__add_true(cJSON *o, const char *name);

/* int64 from a JSON string or number; absent = 0. Returns -1 on a malformed value. */
int kc_etcd__get_i64(const cJSON *o, const char *name, int64_t *v);
/* True only for a JSON true. */
bool kc_etcd__get_bool(const cJSON *o, const char *name);
/* Base64 bytes field into *p (heap, NUL-terminated; free()); absent = NULL/0.
 * 0, KC_EPARSE or -ENOMEM. */
int kc_etcd__get_bytes(const cJSON *o, const char *name, uint8_t **p, size_t *len);
/* The array o[name]: *arr and its length *n; absent = NULL/0 (proto3 omits empty
 * repeated fields); anything but an array is KC_EPARSE. */
int kc_etcd__get_array(const cJSON *o, const char *name, const cJSON **arr, size_t *n);
/* ResponseHeader from o["header"] (absent = zeroed). 0 or KC_EPARSE. */
int kc_etcd__decode_header(const cJSON *o, struct kc_etcd_header *h);
/* One mvccpb.KeyValue into *kv (overwritten; release with kc_etcd__kv_free). On failure
 * *kv is left zeroed. */
int kc_etcd__decode_kv(const cJSON *o, struct kc_etcd_kv *kv);
/* Frees kv's buffers and zeroes it. */
void kc_etcd__kv_free(struct kc_etcd_kv *kv);

/* ---- allocation-free JSON reader for the hot answers (etcd_scan.c) ---- */

enum { KC_ETCD__TOBJ = 1, KC_ETCD__TARR = 2, KC_ETCD__TSTR = 3, KC_ETCD__TPRIM = 4 };

/* One JSON value as a span of the text: a string's span excludes its quotes (esc says it
 * holds backslash escapes), a container's covers its brackets. size: an object's number of
 * keys, an array's number of elements. next: the index of the token after this value's
 * subtree (for an object key, its value's index). */
struct kc_etcd__tok {
	uint32_t start, end;
	uint32_t next;
	int32_t size;
	uint8_t type;
	uint8_t esc;
};

#define KC_ETCD__SCAN_INLINE 96

/* Tokens of one JSON text; the first KC_ETCD__SCAN_INLINE need no allocation. */
struct kc_etcd__scan {
	struct kc_etcd__tok *t; /* inline_toks or heap */
	size_t n, cap;
	const char *js;         /* borrowed: the text parsed last */
	struct kc_etcd__tok inline_toks[KC_ETCD__SCAN_INLINE];
};

void kc_etcd__scan_init(struct kc_etcd__scan *s);
void kc_etcd__scan_close(struct kc_etcd__scan *s);
/* Tokenizes js[0..len) (borrowed while the tokens are used): one value, whitespace around
 * it. 0, KC_EPARSE (not RFC 8259 JSON, or nested deeper than 64), KC_ETOOLARGE, -ENOMEM.
 * The root is token 0. */
int kc_etcd__scan_parse(struct kc_etcd__scan *s, const char *js, size_t len);
/* The value of key in object token obj, or -1 (absent, or obj is not an object). */
int kc_etcd__scan_find(const struct kc_etcd__scan *s, int obj, const char *key);
/* The idx-th element of array token tok (idx < its size). */
int kc_etcd__scan_child(const struct kc_etcd__scan *s, int tok, int idx);
/* int64 from a JSON string or number (absent = 0); -1 when malformed or obj is no object. */
int kc_etcd__scan_i64(const struct kc_etcd__scan *s, int obj, const char *key, int64_t *v);
int kc_etcd__scan_tok_i64(const struct kc_etcd__scan *s, int t, int64_t *v);
int kc_etcd__scan_u64(const struct kc_etcd__scan *s, int obj, const char *key, uint64_t *v);
/* ResponseHeader from object token o's "header" (absent = zeroed). 0 or KC_EPARSE. */
int kc_etcd__scan_header(const struct kc_etcd__scan *s, int o, struct kc_etcd_header *h);
/* One mvccpb.KeyValue object token o into *kv, key and value in their own heap buffers
 * (as kc_etcd__decode_kv; release with kc_etcd__kv_free). On failure *kv is zeroed. */
int kc_etcd__scan_kv(const struct kc_etcd__scan *s, int o, struct kc_etcd_kv *kv);
/* The KeyValue array o[name] into *out (heap, n entries; absent = NULL/0). */
int kc_etcd__scan_kvs(const struct kc_etcd__scan *s, int o, const char *name, struct kc_etcd_kv **out, size_t *n);
/* The array o[name]: its token (-1 when absent: proto3 omits empty repeated fields) and
 * length; anything but an array is KC_EPARSE. */
int kc_etcd__scan_array(const struct kc_etcd__scan *s, int o, const char *name, int *arr, size_t *n);
/* True only for a JSON true. */
bool kc_etcd__scan_bool(const struct kc_etcd__scan *s, int obj, const char *key);
/* A base64 string token t: *max bounds its decoded length (t < 0: absent, 0). KC_EPARSE
 * when t is not a string. */
int kc_etcd__scan_bytes_len(const struct kc_etcd__scan *s, int t, size_t *max);
/* Decodes string token t into out (room for the bound above). 0, KC_EPARSE, -ENOMEM. */
int kc_etcd__scan_bytes_into(const struct kc_etcd__scan *s, int t, uint8_t *out, size_t *out_len);
/* Strict standard padded base64 into out (room for kc_etcd__b64_max(in_len)); no NUL. */
int kc_etcd__b64_decode_into(const char *in, size_t in_len, uint8_t *out, size_t *out_len);
size_t kc_etcd__b64_max(size_t in_len);
/* Resolves a JSON string body's escapes into out (room for len + 1; NUL-terminated);
 * returns the length. */
size_t kc_etcd__unescape(const char *p, size_t len, char *out);

/* ---- own HTTP/1.1 transport for unary calls (etcd_http.c) ---- */

/* Fills c->hep from c->endpoints (and the proxy environment). 0 or -ENOMEM. */
int kc_etcd__http_init(kc_etcd *c);
/* Closes the idle connections and frees c->hep. */
void kc_etcd__http_close(kc_etcd *c);
/* POSTs body (borrowed, NUL-terminated) to path on endpoint ep (c->hep[ep].fast) within
 * the request timeout; the answer's body goes to *out (whose p the caller frees), its
 * status to *status. Returns the CURLcode libcurl would have returned for the same
 * outcome; *connected says whether a connection was established. */
CURLcode kc_etcd__http_post(kc_etcd *c, int ep, const char *path, const char *body,
			    struct kc_etcd__buf *out, long *status, bool *connected);

/* A stream on the own transport: POSTs body to path on endpoint ep (c->hep[ep].fast) and
 * hands the answer's body to wfn(ud) as it arrives, until it ends, wfn takes less than it
 * was given (CURLE_WRITE_ERROR), or *stop (may be NULL; looked at every 100 ms) is set
 * (*stopped). *status: the HTTP status, 0 before one arrived. Returns the CURLcode libcurl
 * would have returned. */
CURLcode kc_etcd__http_stream(kc_etcd *c, int ep, const char *path, const char *body,
			      kc_etcd__write_fn wfn, void *ud, const atomic_int *stop, long *status,
			      bool *stopped);

/* Shared by etcd.c (transport, KV, Txn) and etcd_maint.c (leases, maintenance). */
CURL *kc_etcd__pool_get(kc_etcd *c);
void kc_etcd__pool_put(kc_etcd *c, CURL *h);
size_t kc_etcd__write_buf(char *ptr, size_t sz, size_t nm, void *ud);
int kc_etcd__call_json(kc_etcd *c, int ep, const char *path, cJSON *req, cJSON **resp,
		       struct kc_etcd_error *err);
int kc_etcd__add_u64(cJSON *o, const char *name, uint64_t v);
int kc_etcd__get_u64(const cJSON *o, const char *name, uint64_t *v);
void kc_etcd__kvs_free(struct kc_etcd_kv *kvs, size_t n);

#endif
