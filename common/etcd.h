/* A client of etcd v3's JSON gateway API (etcd 3.4 / kube-store), over HTTP/1.1.
 *
 * Wire format as in docs/STORE_API.md: POST only, bytes as standard base64, int64 as JSON
 * strings, zero values omitted. Every call is a blocking HTTP request; the client is
 * thread-safe (any number of threads may call it at once; each call borrows an idle
 * keep-alive connection from a pool). Unary calls and watches to plain http://host:port
 * endpoints use the client's own transport (etcd_http.c); https endpoints, the other
 * streams and health checks use libcurl (each call borrows a pooled curl handle).
 *
 * Endpoints: "http://host:port" or "https://host:port". A call tries the endpoint that
 * last worked first, and on a connection-level failure (refused, timeout, TLS) moves on
 * to the next one, like clientv3's balancer. An HTTP answer (even an error) is final.
 *
 * Return convention (errors.h): 0 on success, negative on failure. Failures from etcd
 * (its {"error","message","code"} body) map the gRPC code to:
 *   11 OutOfRange + "compacted"    -> KC_EGONE      (the apiserver answers 410 Expired)
 *   11 OutOfRange (future rev)     -> KC_EINVALID
 *    3 InvalidArgument             -> KC_EINVALID
 *    5 NotFound (lease not found)  -> KC_ENOTFOUND
 *    9 FailedPrecondition          -> KC_EEXIST     (lease already exists)
 *    8 ResourceExhausted (NOSPACE) -> KC_ETOOLARGE
 *    14 Unavailable, 2, 4 deadline -> KC_ETIMEOUT
 *    other                         -> KC_ESERVER
 * Transport failure on every endpoint -> -ECONNREFUSED (or -ETIMEDOUT); an undecodable
 * answer -> KC_EPARSE. Pass a struct kc_etcd_error to learn the HTTP status, gRPC code and
 * message (NULL when not wanted).
 *
 * Ownership: request structs and their buffers are borrowed for the call only. Response
 * structs are filled by the call (the caller provides the struct; zero it or not, the call
 * overwrites it), own their heap memory, and are released with the matching *_free, which
 * leaves the struct zeroed and is safe on a zeroed or failed response. */
#ifndef KC_ETCD_H
#define KC_ETCD_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct kc_etcd kc_etcd;

struct kc_etcd_config {
	const char *const *endpoints; /* copied; n_endpoints >= 1 */
	size_t n_endpoints;
	const char *cacert;           /* copied; PEM CA bundle for https, or NULL */
	const char *cert;             /* copied; client certificate PEM, or NULL */
	const char *key;              /* copied; client key PEM, or NULL */
	long dial_timeout_ms;         /* connect timeout; 0 means 2000 (etcdctl's 2s) */
	long request_timeout_ms;      /* whole unary request; 0 means 5000 (etcdctl's 5s);
	                                 not applied to watch / snapshot streams */
	bool insecure_skip_verify;    /* https without verifying the server (etcdctl's
	                                 --insecure-skip-tls-verify); tests only */
};

/* Creates a client. cfg is copied. Returns 0 and *out, or -EINVAL on a bad config. */
int kc_etcd_new(const struct kc_etcd_config *cfg, kc_etcd **out);
/* Frees the client; no call may be in flight. NULL is fine. */
void kc_etcd_free(kc_etcd *c);

/* Error detail for a failed call. */
struct kc_etcd_error {
	int http_status;   /* 0 when no HTTP answer was received */
	int grpc_code;     /* etcd's "code" (gRPC code), 0 when absent */
	char message[512]; /* etcd's "message", or a transport error text */
};

/* ---- data ---- */

struct kc_etcd_header {
	uint64_t cluster_id;
	uint64_t member_id;
	int64_t revision;
	uint64_t raft_term;
};

/* One key-value. key/value are heap buffers (NUL-terminated for convenience, but may
 * contain NULs: use the lengths). value is NULL/0 when absent (keys_only, empty value). */
struct kc_etcd_kv {
	uint8_t *key;
	size_t key_len;
	uint8_t *value;
	size_t value_len;
	int64_t create_revision;
	int64_t mod_revision;
	int64_t version;
	int64_t lease;
};

/* ---- KV ---- */

enum kc_etcd_sort_order { KC_ETCD_SORT_NONE = 0, KC_ETCD_SORT_ASCEND = 1, KC_ETCD_SORT_DESCEND = 2 };
enum kc_etcd_sort_target {
	KC_ETCD_SORT_KEY = 0, KC_ETCD_SORT_VERSION = 1, KC_ETCD_SORT_CREATE = 2,
	KC_ETCD_SORT_MOD = 3, KC_ETCD_SORT_VALUE = 4
};

/* range_end as etcd: NULL/0 = the single key; "\0" (len 1) with key "\0" = all keys;
 * otherwise [key, range_end). kc_etcd_prefix_end() computes a prefix's range_end. */
struct kc_etcd_range_req {
	const void *key;
	size_t key_len;
	const void *range_end;
	size_t range_end_len;
	int64_t limit;    /* 0 = no limit */
	int64_t revision; /* 0 = current */
	enum kc_etcd_sort_order sort_order;
	enum kc_etcd_sort_target sort_target;
	bool serializable;
	bool keys_only;
	bool count_only;
	int64_t min_mod_revision, max_mod_revision;
	int64_t min_create_revision, max_create_revision;
};

struct kc_etcd_range_resp {
	struct kc_etcd_header header;
	struct kc_etcd_kv *kvs;
	size_t n_kvs;
	bool more;
	int64_t count;
};

struct kc_etcd_put_req {
	const void *key;
	size_t key_len;
	const void *value;
	size_t value_len;
	int64_t lease; /* 0 = none */
	bool prev_kv;
	bool ignore_value;
	bool ignore_lease;
};

struct kc_etcd_put_resp {
	struct kc_etcd_header header;
	bool has_prev_kv;
	struct kc_etcd_kv prev_kv;
};

struct kc_etcd_delete_req {
	const void *key;
	size_t key_len;
	const void *range_end;
	size_t range_end_len;
	bool prev_kv;
};

struct kc_etcd_delete_resp {
	struct kc_etcd_header header;
	int64_t deleted;
	struct kc_etcd_kv *prev_kvs;
	size_t n_prev_kvs;
};

/* range_end for a prefix: the prefix with its last byte < 0xff incremented (trailing 0xff
 * dropped); an all-0xff or empty prefix gives "\0" (everything from key). out must hold
 * len bytes (or 1); returns the range_end length. */
size_t kc_etcd_prefix_end(const void *prefix, size_t len, uint8_t *out);

int kc_etcd_range(kc_etcd *c, const struct kc_etcd_range_req *req,
                  struct kc_etcd_range_resp *resp, struct kc_etcd_error *err);
void kc_etcd_range_resp_free(struct kc_etcd_range_resp *r);

int kc_etcd_put(kc_etcd *c, const struct kc_etcd_put_req *req,
                struct kc_etcd_put_resp *resp, struct kc_etcd_error *err);
void kc_etcd_put_resp_free(struct kc_etcd_put_resp *r);

int kc_etcd_delete_range(kc_etcd *c, const struct kc_etcd_delete_req *req,
                         struct kc_etcd_delete_resp *resp, struct kc_etcd_error *err);
void kc_etcd_delete_resp_free(struct kc_etcd_delete_resp *r);

/* ---- Txn ---- */

enum kc_etcd_cmp_result {
	KC_ETCD_CMP_EQUAL = 0, KC_ETCD_CMP_GREATER = 1, KC_ETCD_CMP_LESS = 2, KC_ETCD_CMP_NOT_EQUAL = 3
};
enum kc_etcd_cmp_target {
	KC_ETCD_CMP_VERSION = 0, KC_ETCD_CMP_CREATE = 1, KC_ETCD_CMP_MOD = 2,
	KC_ETCD_CMP_VALUE = 3, KC_ETCD_CMP_LEASE = 4
};

struct kc_etcd_compare {
	enum kc_etcd_cmp_result result;
	enum kc_etcd_cmp_target target;
	const void *key;
	size_t key_len;
	const void *range_end; /* optional, as in etcd 3.4 */
	size_t range_end_len;
	int64_t number;        /* version / create_revision / mod_revision / lease */
	const void *value;     /* for KC_ETCD_CMP_VALUE */
	size_t value_len;
};

enum kc_etcd_op_type { KC_ETCD_OP_RANGE = 0, KC_ETCD_OP_PUT = 1, KC_ETCD_OP_DELETE = 2, KC_ETCD_OP_TXN = 3 };

struct kc_etcd_txn_req;

struct kc_etcd_op {
	enum kc_etcd_op_type type;
	union {
		struct kc_etcd_range_req range;
		struct kc_etcd_put_req put;
		struct kc_etcd_delete_req del;
		const struct kc_etcd_txn_req *txn;
	} u;
};

struct kc_etcd_txn_req {
	const struct kc_etcd_compare *compare;
	size_t n_compare;
	const struct kc_etcd_op *success;
	size_t n_success;
	const struct kc_etcd_op *failure;
	size_t n_failure;
};

struct kc_etcd_txn_resp;

/* One op's result; the nested headers carry only the revision. */
struct kc_etcd_op_resp {
	enum kc_etcd_op_type type;
	union {
		struct kc_etcd_range_resp range;
		struct kc_etcd_put_resp put;
		struct kc_etcd_delete_resp del;
		struct kc_etcd_txn_resp *txn; /* heap, owned */
	} u;
};

struct kc_etcd_txn_resp {
	struct kc_etcd_header header;
	bool succeeded;
	struct kc_etcd_op_resp *responses;
	size_t n_responses;
};

/* A failed compare is not an error: returns 0 with succeeded == false. */
int kc_etcd_txn(kc_etcd *c, const struct kc_etcd_txn_req *req,
                struct kc_etcd_txn_resp *resp, struct kc_etcd_error *err);
void kc_etcd_txn_resp_free(struct kc_etcd_txn_resp *r);

/* ---- compaction ---- */

int kc_etcd_compact(kc_etcd *c, int64_t revision, bool physical,
                    struct kc_etcd_header *hdr_out /* may be NULL */, struct kc_etcd_error *err);

/* ---- leases ---- */

/* id 0 lets the server choose. *id_out / *ttl_out receive the granted ID and TTL. */
int kc_etcd_lease_grant(kc_etcd *c, int64_t ttl, int64_t id, int64_t *id_out, int64_t *ttl_out,
                        struct kc_etcd_error *err);
int kc_etcd_lease_revoke(kc_etcd *c, int64_t id, struct kc_etcd_error *err);
/* One keep-alive round trip. *ttl_out receives the new TTL; an unknown lease gives
 * KC_ENOTFOUND (etcd answers TTL 0, as clientv3 reports ErrLeaseNotFound). */
int kc_etcd_lease_keepalive_once(kc_etcd *c, int64_t id, int64_t *ttl_out, struct kc_etcd_error *err);

struct kc_etcd_lease_ttl {
	struct kc_etcd_header header;
	int64_t id;
	int64_t ttl;         /* -1 when the lease does not exist (etcd answers 200 with TTL -1) */
	int64_t granted_ttl;
	struct kc_etcd_kv *keys; /* only key/key_len are set */
	size_t n_keys;
};
int kc_etcd_lease_timetolive(kc_etcd *c, int64_t id, bool keys, struct kc_etcd_lease_ttl *out,
                             struct kc_etcd_error *err);
void kc_etcd_lease_ttl_free(struct kc_etcd_lease_ttl *t);

/* All lease IDs; *ids_out is heap (free()), *n_out its length. */
int kc_etcd_lease_list(kc_etcd *c, int64_t **ids_out, size_t *n_out, struct kc_etcd_error *err);

/* ---- maintenance / cluster ---- */

struct kc_etcd_status {
	struct kc_etcd_header header;
	char *version;
	int64_t db_size;
	uint64_t leader;
	uint64_t raft_index;
	uint64_t raft_term;
	uint64_t raft_applied_index;
	int64_t db_size_in_use;
	bool is_learner;
	char **errors;
	size_t n_errors;
};
/* Status of one endpoint: endpoint_index selects c's endpoint (no failover); -1 = any. */
int kc_etcd_status_get(kc_etcd *c, int endpoint_index, struct kc_etcd_status *out, struct kc_etcd_error *err);
void kc_etcd_status_free(struct kc_etcd_status *s);

/* GET /health on one endpoint: 0 when {"health":"true"}, KC_ESERVER when "false",
 * negative transport error otherwise. */
int kc_etcd_health(kc_etcd *c, int endpoint_index, struct kc_etcd_error *err);

struct kc_etcd_member {
	uint64_t id;
	char *name;
	char **peer_urls;
	size_t n_peer_urls;
	char **client_urls;
	size_t n_client_urls;
	bool is_learner;
};
struct kc_etcd_member_list {
	struct kc_etcd_header header;
	struct kc_etcd_member *members;
	size_t n_members;
};
int kc_etcd_member_list(kc_etcd *c, struct kc_etcd_member_list *out, struct kc_etcd_error *err);
void kc_etcd_member_list_free(struct kc_etcd_member_list *m);

struct kc_etcd_alarm {
	uint64_t member_id;
	char alarm[16]; /* "NOSPACE", "CORRUPT" */
};
/* *alarms_out is heap (free()). */
int kc_etcd_alarm_list(kc_etcd *c, struct kc_etcd_alarm **alarms_out, size_t *n_out,
                       struct kc_etcd_error *err);
/* Disarms every active alarm (as clientv3's AlarmDisarm with an empty member); the
 * disarmed alarms are returned like alarm_list. */
int kc_etcd_alarm_disarm(kc_etcd *c, struct kc_etcd_alarm **alarms_out, size_t *n_out,
                         struct kc_etcd_error *err);

int kc_etcd_defragment(kc_etcd *c, int endpoint_index, struct kc_etcd_error *err);

/* Streams /v3/maintenance/snapshot into fd (borrowed). *bytes_out = bytes written. */
int kc_etcd_snapshot(kc_etcd *c, int fd, uint64_t *bytes_out, struct kc_etcd_error *err);

/* ---- watch ---- */

enum kc_etcd_event_type { KC_ETCD_EVENT_PUT = 0, KC_ETCD_EVENT_DELETE = 1 };

struct kc_etcd_event {
	enum kc_etcd_event_type type;
	struct kc_etcd_kv kv; /* a DELETE's kv has only key and mod_revision */
	bool has_prev_kv;
	struct kc_etcd_kv prev_kv;
};

/* One WatchResponse. Everything is borrowed by the callback for the call only. */
struct kc_etcd_watch_resp {
	struct kc_etcd_header header;
	int64_t watch_id;         /* -1 on a progress response for the whole stream */
	bool created;
	bool canceled;
	int64_t compact_revision; /* >0: the start revision was compacted (watch canceled) */
	const char *cancel_reason;
	bool fragment;
	const struct kc_etcd_event *events;
	size_t n_events;
};

/* Return 0 to continue, nonzero to end the watch (kc_etcd_watch then returns that value). */
typedef int (*kc_etcd_watch_cb)(void *arg, const struct kc_etcd_watch_resp *resp);

struct kc_etcd_watch_req {
	const void *key;
	size_t key_len;
	const void *range_end;
	size_t range_end_len;
	int64_t start_revision;  /* 0 = from now */
	bool prev_kv;
	bool progress_notify;
	bool filter_noput;
	bool filter_nodelete;
};

/* Runs one watch on the long /v3/watch stream, calling cb for every WatchResponse
 * (including the first created:true one, progress notifications and the final cancel).
 * Blocks until: cb returns nonzero (returned), *stop becomes nonzero (checked at least
 * every ~200 ms; returns 0), the watch is canceled for compaction (cb is called with
 * compact_revision set, then returns KC_EGONE), it is canceled otherwise (KC_ECLOSED),
 * or the stream breaks / ends (KC_ECLOSED or a transport error). The caller re-watches
 * from its last seen revision + 1 after KC_ECLOSED. stop may be NULL. */
int kc_etcd_watch(kc_etcd *c, const struct kc_etcd_watch_req *req, kc_etcd_watch_cb cb, void *arg,
                  const atomic_int *stop, struct kc_etcd_error *err);

/* Incremental decoder of a /v3/watch response body, as kc_etcd_watch uses it: bytes in
 * any split (one byte at a time is fine), each complete {"result":{...}} message decoded
 * and passed to cb. Exposed for tests and fuzzing. feed returns 0 to go on, or the watch's
 * final result once it ended (cb's nonzero value, KC_EGONE on a compacted cancel,
 * KC_ECLOSED on another cancel, KC_EPARSE on malformed input); feeding after that returns
 * the same value. err may be NULL (borrowed until free). */
typedef struct kc_etcd_watch_decoder kc_etcd_watch_decoder;
int kc_etcd_watch_decoder_new(kc_etcd_watch_cb cb, void *arg, struct kc_etcd_error *err,
                              kc_etcd_watch_decoder **out);
int kc_etcd_watch_decoder_feed(kc_etcd_watch_decoder *d, const char *data, size_t len);
void kc_etcd_watch_decoder_free(kc_etcd_watch_decoder *d);

/* ---- low level ---- */

/* POSTs body (borrowed, NUL-terminated JSON) to path ("/v3/kv/range") and returns the raw
 * response body in *resp_out (heap, NUL-terminated, free()) with its HTTP status. Failover
 * as above. Non-2xx statuses are returned as 0 with *status_out set (not decoded). */
int kc_etcd_post_raw(kc_etcd *c, const char *path, const char *body, char **resp_out,
                     long *status_out, struct kc_etcd_error *err);

/* Decodes etcd-encoded base64 text (standard alphabet with padding, as etcd requires).
 * *out is heap (NUL-terminated; free()). Returns 0, KC_EPARSE or -ENOMEM. Exposed for
 * tests and tools. */
int kc_etcd_b64_decode(const char *in, size_t in_len, uint8_t **out, size_t *out_len);
/* Encodes to standard padded base64; *out heap NUL-terminated (free()). */
int kc_etcd_b64_encode(const void *in, size_t len, char **out);

#endif
