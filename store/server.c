/* kube-store's HTTP server: etcd 3.4's v3 JSON gateway on libmicrohttpd (server.h). */
#include "server.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/gnutls.h>
#include <microhttpd.h>
#include <openssl/evp.h>

#include "errors.h"
#include "jsonpb.h"
#include "kv.h"
#include "log.h"
#include "metrics.h"
#include "watchstream.h"

#define DEFAULT_MAX_REQUEST ((size_t)1572864)
/* etcd's gRPC server accepts MaxRequestBytes plus this much framing overhead
 * (embed/config: grpcOverheadBytes = 512 * 1024). */
#define GRPC_OVERHEAD ((size_t)512 * 1024)
#define SNAPSHOT_CHUNK (32 * 1024) /* etcd's maintenance Snapshot send size */

enum rkind {
	RK_UNARY,
	RK_WATCH,
	RK_KEEPALIVE,
	RK_SNAPSHOT,
	RK_HEALTH,
	RK_METRICS,
	RK_VERSION,
	RK_OPTIONS,
	RK_405,     /* gateway: Method Not Allowed */
	RK_405_GET, /* GET-only endpoint asked with another method */
	RK_404_GW,  /* under /v3/: "Not Found" */
	RK_404_MUX, /* anywhere else: Go's "404 page not found" */
};

typedef int (*unary_fn)(struct kv *kv, const ProtobufCMessage *rq, ProtobufCMessage **rs);

/* Adapters from the engine's typed calls to one shape. */
#define UNARY(name, fn, Req, Resp)                                                     \
	static int name(struct kv *kv, const ProtobufCMessage *rq, ProtobufCMessage **rs) \
	{                                                                              \
		Resp *r = NULL;                                                        \
		int rc = fn(kv, (const Req *)rq, &r);                                  \
		*rs = r ? &r->base : NULL;                                             \
		return rc;                                                             \
	}
UNARY(u_range, kv_range, Kvpb__RangeRequest, Kvpb__RangeResponse)
UNARY(u_put, kv_put, Kvpb__PutRequest, Kvpb__PutResponse)
UNARY(u_delete, kv_delete_range, Kvpb__DeleteRangeRequest, Kvpb__DeleteRangeResponse)
UNARY(u_txn, kv_txn, Kvpb__TxnRequest, Kvpb__TxnResponse)
UNARY(u_compact, kv_compact, Kvpb__CompactionRequest, Kvpb__CompactionResponse)
UNARY(u_grant, kv_lease_grant, Kvpb__LeaseGrantRequest, Kvpb__LeaseGrantResponse)
UNARY(u_revoke, kv_lease_revoke, Kvpb__LeaseRevokeRequest, Kvpb__LeaseRevokeResponse)
UNARY(u_ttl, kv_lease_timetolive, Kvpb__LeaseTimeToLiveRequest, Kvpb__LeaseTimeToLiveResponse)
UNARY(u_leases, kv_lease_leases, Kvpb__LeaseLeasesRequest, Kvpb__LeaseLeasesResponse)
UNARY(u_status, kv_status, Kvpb__StatusRequest, Kvpb__StatusResponse)
UNARY(u_defrag, kv_defragment, Kvpb__DefragmentRequest, Kvpb__DefragmentResponse)
UNARY(u_alarm, kv_alarm, Kvpb__AlarmRequest, Kvpb__AlarmResponse)
UNARY(u_hash, kv_hash, Kvpb__HashRequest, Kvpb__HashResponse)
UNARY(u_members, kv_member_list, Kvpb__MemberListRequest, Kvpb__MemberListResponse)
UNARY(u_member_add, kv_member_add, Kvpb__MemberAddRequest, Kvpb__MemberAddResponse)
UNARY(u_member_remove, kv_member_remove, Kvpb__MemberRemoveRequest, Kvpb__MemberRemoveResponse)
UNARY(u_member_update, kv_member_update, Kvpb__MemberUpdateRequest, Kvpb__MemberUpdateResponse)
UNARY(u_member_promote, kv_member_promote, Kvpb__MemberPromoteRequest,
      Kvpb__MemberPromoteResponse)
UNARY(u_move_leader, kv_move_leader, Kvpb__MoveLeaderRequest, Kvpb__MoveLeaderResponse)

struct route {
	const char *path; /* after the /v3/ or /v3beta/ prefix */
	enum rkind kind;
	const ProtobufCMessageDescriptor *desc;
	unary_fn fn;
	enum met_method met;
	bool write; /* subject to etcd's request size limit (goes through raft) */
};

/* The gateway's routes in etcd 3.4 (etcdserverpb/gw/rpc.pb.gw.go). */
static const struct route routes[] = {
	{ "kv/range", RK_UNARY, &kvpb__range_request__descriptor, u_range, MET_RANGE, false },
	{ "kv/put", RK_UNARY, &kvpb__put_request__descriptor, u_put, MET_PUT, true },
	{ "kv/deleterange", RK_UNARY, &kvpb__delete_range_request__descriptor, u_delete,
	  MET_DELETE_RANGE, true },
	{ "kv/txn", RK_UNARY, &kvpb__txn_request__descriptor, u_txn, MET_TXN, true },
	{ "kv/compaction", RK_UNARY, &kvpb__compaction_request__descriptor, u_compact, MET_COMPACT,
	  true },
	{ "watch", RK_WATCH, &kvpb__watch_request__descriptor, NULL, MET_WATCH, false },
	{ "lease/grant", RK_UNARY, &kvpb__lease_grant_request__descriptor, u_grant,
	  MET_LEASE_GRANT, true },
	{ "lease/revoke", RK_UNARY, &kvpb__lease_revoke_request__descriptor, u_revoke,
	  MET_LEASE_REVOKE, true },
	{ "kv/lease/revoke", RK_UNARY, &kvpb__lease_revoke_request__descriptor, u_revoke,
	  MET_LEASE_REVOKE, true },
	{ "lease/keepalive", RK_KEEPALIVE, &kvpb__lease_keep_alive_request__descriptor, NULL,
	  MET_LEASE_KEEPALIVE, false },
	{ "lease/timetolive", RK_UNARY, &kvpb__lease_time_to_live_request__descriptor, u_ttl,
	  MET_LEASE_TTL, false },
	{ "kv/lease/timetolive", RK_UNARY, &kvpb__lease_time_to_live_request__descriptor, u_ttl,
	  MET_LEASE_TTL, false },
	{ "lease/leases", RK_UNARY, &kvpb__lease_leases_request__descriptor, u_leases,
	  MET_LEASE_LEASES, false },
	{ "kv/lease/leases", RK_UNARY, &kvpb__lease_leases_request__descriptor, u_leases,
	  MET_LEASE_LEASES, false },
	{ "maintenance/status", RK_UNARY, &kvpb__status_request__descriptor, u_status, MET_STATUS,
	  false },
	{ "maintenance/defragment", RK_UNARY, &kvpb__defragment_request__descriptor, u_defrag,
	  MET_DEFRAGMENT, false },
	{ "maintenance/alarm", RK_UNARY, &kvpb__alarm_request__descriptor, u_alarm, MET_ALARM,
	  true },
	{ "maintenance/hash", RK_UNARY, &kvpb__hash_request__descriptor, u_hash, MET_HASH, false },
	{ "maintenance/snapshot", RK_SNAPSHOT, &kvpb__snapshot_request__descriptor, NULL,
	  MET_SNAPSHOT, false },
	{ "cluster/member/list", RK_UNARY, &kvpb__member_list_request__descriptor, u_members,
	  MET_MEMBER_LIST, false },
	{ "cluster/member/add", RK_UNARY, &kvpb__member_add_request__descriptor, u_member_add,
	  MET_MEMBER_ADD, false },
	{ "cluster/member/remove", RK_UNARY, &kvpb__member_remove_request__descriptor,
	  u_member_remove, MET_MEMBER_REMOVE, false },
	{ "cluster/member/update", RK_UNARY, &kvpb__member_update_request__descriptor,
	  u_member_update, MET_MEMBER_UPDATE, false },
	{ "cluster/member/promote", RK_UNARY, &kvpb__member_promote_request__descriptor,
	  u_member_promote, MET_MEMBER_PROMOTE, false },
	{ "maintenance/transfer-leadership", RK_UNARY, &kvpb__move_leader_request__descriptor,
	  u_move_leader, MET_MOVE_LEADER, false },
};

enum resp_type {
	RESP_JSON,      /* 200 unary success: Content-Length, Grpc-Metadata-Content-Type */
	RESP_ERR_PLAIN, /* gateway decode error: Content-Length JSON error body */
	RESP_ERR_GRPC,  /* error from etcd: chunked JSON body + Grpc-Trailer-Content-Type */
	RESP_TEXT,      /* text/plain (404/405, /health, /metrics) */
	RESP_MSGS,      /* chunked stream of {"result":..}\n messages (keepalive, snapshot) */
};

struct listener {
	struct srv *srv;
	struct MHD_Daemon *d;
	int fd, port;
	bool tls;
	char url[256];
};

struct srv {
	struct kv *kv;
	size_t max_req;
	bool client_cert_auth;
	char *cert_pem, *key_pem, *ca_pem;
	struct listener *ls;
	size_t nls;

	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct req *qhead, *qtail;
	bool stopping;
	pthread_t *workers;
	int nworkers;
	size_t inflight;    /* writes handed to the engine by the event loop (submit_write) */
	pthread_cond_t idle; /* inflight reached 0 while stopping */
};

struct req {
	struct srv *srv;
	struct MHD_Connection *conn;
	const struct route *rt;
	enum rkind kind;
	struct jpb_buf body;
	bool too_big, submitted, done, failed;
	struct req *qnext;
	struct ws *ws;
	/* a write submitted from the event loop (submit_write): the decoded request, kept
	 * alive until the engine answers, and the answer */
	ProtobufCMessage *rq, *rs;
	int arc;
	bool async;
	double t0;

	/* result */
	unsigned status;
	enum resp_type rtype;
	const char *ctype; /* RESP_TEXT content type */
	char *out;
	size_t out_len, out_off;
	/* RESP_MSGS: pre-built messages (keepalive) */
	char **msgs;
	size_t *msg_len;
	size_t n_msgs, msg_idx;
	/* RESP_MSGS: snapshot file */
	int snap_fd;
	uint64_t snap_size, snap_sent;
	EVP_MD_CTX *sha;
	bool snap_done;
};

/* ------------------------------------------------------------------------------------
 * Responses */

void srv_add_headers(struct MHD_Response *r, bool grpc_meta)
{
	MHD_add_response_header(r, "Access-Control-Allow-Headers",
				"accept, content-type, authorization");
	MHD_add_response_header(r, "Access-Control-Allow-Methods", "POST, GET, OPTIONS, PUT, DELETE");
	MHD_add_response_header(r, "Access-Control-Allow-Origin", "*");
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
	if (grpc_meta)
		MHD_add_response_header(r, "Grpc-Metadata-Content-Type", "application/grpc");
}

/* grpc-gateway v1's runtime.HTTPStatusFromCode. */
static unsigned http_status_for(int code)
{
	static const unsigned map[17] = { 200, 408, 500, 400, 504, 404, 409, 403, 429,
					   412, 409, 400, 501, 500, 503, 500, 401 };
	return code >= 0 && code <= 16 ? map[code] : 500;
}

/* {"error":msg,"message":msg,"code":code}: the gateway's errorBody. */
static void set_error(struct req *r, enum resp_type t, int code, const char *msg)
{
	struct jpb_buf b;
	jpb_buf_init(&b);
	size_t ml = strlen(msg);
	if (jpb_buf_puts(&b, "{\"error\":") || jpb_buf_json_string(&b, msg, ml) ||
	    jpb_buf_puts(&b, ",\"message\":") || jpb_buf_json_string(&b, msg, ml) ||
	    jpb_buf_printf(&b, ",\"code\":%d}", code)) {
		jpb_buf_free(&b);
		b.data = NULL;
	}
	free(r->out);
	r->out = jpb_buf_take(&b, &r->out_len);
	r->rtype = t;
	r->status = http_status_for(code);
}

static void set_text(struct req *r, unsigned status, const char *ctype, const char *text)
{
	free(r->out);
	r->out = strdup(text);
	r->out_len = r->out ? strlen(text) : 0;
	r->rtype = RESP_TEXT;
	r->ctype = ctype;
	r->status = status;
}

/* Chunked body of an error answer: the whole body in one chunk, then the end. */
static ssize_t once_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct req *r = cls;
	if (r->out_off >= r->out_len)
		return MHD_CONTENT_READER_END_OF_STREAM;
	size_t n = r->out_len - r->out_off;
	if (n > max)
		n = max;
	memcpy(buf, r->out + r->out_off, n);
	r->out_off += n;
	return (ssize_t)n;
}

static void noop_free(void *cls)
{
	(void)cls; /* struct req is freed at request completion */
}

/* Build the next snapshot message into r->out; false at the end. */
static bool snapshot_next(struct req *r)
{
	if (r->snap_done)
		return false;
	Kvpb__SnapshotResponse m = KVPB__SNAPSHOT_RESPONSE__INIT;
	uint8_t chunk[SNAPSHOT_CHUNK];
	unsigned char digest[EVP_MAX_MD_SIZE];
	if (r->snap_sent < r->snap_size) {
		size_t want = r->snap_size - r->snap_sent;
		if (want > sizeof(chunk))
			want = sizeof(chunk);
		ssize_t n = pread(r->snap_fd, chunk, want, (off_t)r->snap_sent);
		if (n <= 0) {
			kc_error("snapshot: read back failed: %s", n < 0 ? strerror(errno) : "short file");
			r->snap_done = true;
			return false;
		}
		EVP_DigestUpdate(r->sha, chunk, (size_t)n);
		r->snap_sent += (uint64_t)n;
		m.remaining_bytes = r->snap_size - r->snap_sent;
		m.blob.data = chunk;
		m.blob.len = (size_t)n;
	} else {
		/* etcd ends with the SHA-256 of the stream so clients can check it. */
		unsigned dl = 0;
		EVP_DigestFinal_ex(r->sha, digest, &dl);
		m.blob.data = digest;
		m.blob.len = dl;
		r->snap_done = true;
	}
	struct jpb_buf b;
	jpb_buf_init(&b);
	if (jpb_buf_puts(&b, "{\"result\":") || jpb_encode(&m.base, &b) || jpb_buf_puts(&b, "}\n")) {
		jpb_buf_free(&b);
		r->snap_done = true;
		return false;
	}
	free(r->out);
	r->out = jpb_buf_take(&b, &r->out_len);
	r->out_off = 0;
	return true;
}

/* Keepalive/snapshot streams: one message per chunk. */
static ssize_t msgs_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct req *r = cls;
	if (r->out && r->out_off < r->out_len)
		return once_reader(cls, pos, buf, max);
	if (r->kind == RK_SNAPSHOT) {
		if (!snapshot_next(r))
			return MHD_CONTENT_READER_END_OF_STREAM;
		return once_reader(cls, pos, buf, max);
	}
	if (r->msg_idx >= r->n_msgs)
		return MHD_CONTENT_READER_END_OF_STREAM;
	free(r->out);
	r->out = r->msgs[r->msg_idx];
	r->out_len = r->msg_len[r->msg_idx];
	r->msgs[r->msg_idx++] = NULL;
	r->out_off = 0;
	return once_reader(cls, pos, buf, max);
}

static enum MHD_Result queue_result(struct req *r)
{
	struct MHD_Response *resp = NULL;
	switch (r->rtype) {
	case RESP_JSON:
	case RESP_ERR_PLAIN:
		resp = MHD_create_response_from_buffer(r->out_len, r->out, MHD_RESPMEM_MUST_FREE);
		if (resp) {
			r->out = NULL;
			srv_add_headers(resp, r->rtype == RESP_JSON);
		}
		break;
	case RESP_TEXT:
		resp = MHD_create_response_from_buffer(r->out_len, r->out, MHD_RESPMEM_MUST_FREE);
		if (resp) {
			r->out = NULL;
			MHD_add_response_header(resp, "Access-Control-Allow-Headers",
						"accept, content-type, authorization");
			MHD_add_response_header(resp, "Access-Control-Allow-Methods",
						"POST, GET, OPTIONS, PUT, DELETE");
			MHD_add_response_header(resp, "Access-Control-Allow-Origin", "*");
			if (r->ctype)
				MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, r->ctype);
			if (r->status == 404 || r->status == 405 || r->status == 503)
				MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
			if (r->kind == RK_405_GET)
				MHD_add_response_header(resp, "Allow", "GET");
		}
		break;
	case RESP_ERR_GRPC:
		r->out_off = 0;
		resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, once_reader, r,
							 noop_free);
		if (resp) {
			srv_add_headers(resp, false);
			MHD_add_response_header(resp, "Trailer", "Grpc-Trailer-Content-Type");
			MHD_add_response_footer(resp, "Grpc-Trailer-Content-Type", "application/grpc");
		}
		break;
	case RESP_MSGS:
		resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 64 * 1024, msgs_reader, r,
							 noop_free);
		if (resp)
			srv_add_headers(resp, true);
		break;
	}
	if (!resp)
		return MHD_NO;
	enum MHD_Result ok = MHD_queue_response(r->conn, r->status, resp);
	MHD_destroy_response(resp);
	return ok;
}

/* ------------------------------------------------------------------------------------
 * Request processing (worker threads) */

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Decode the body as one message of desc; an empty body is an empty message (the
 * gateway ignores io.EOF). On failure the 400 answer is set and NULL returned. */
static ProtobufCMessage *decode_body(struct req *r, const ProtobufCMessageDescriptor *desc)
{
	char err[JPB_ERRLEN];
	size_t used;
	ProtobufCMessage *m = NULL;
	int rc = jpb_decode(desc, r->body.data ? r->body.data : "", r->body.len, &used, &m, err,
			    sizeof(err));
	if (rc == JPB_EOF) {
		m = malloc(desc->sizeof_message);
		if (m)
			desc->message_init(m);
		rc = m ? 0 : -ENOMEM;
		if (rc)
			snprintf(err, sizeof(err), "%s", kc_strerror(rc));
	}
	if (rc) {
		set_error(r, RESP_ERR_PLAIN, rc == -ENOMEM ? 8 : 3, err);
		return NULL;
	}
	return m;
}

/* The gRPC server's and etcdserver's size limits on a decoded request. */
static bool check_size(struct req *r, const ProtobufCMessage *m)
{
	size_t sz = protobuf_c_message_get_packed_size(m);
	size_t grpc_max = r->srv->max_req + GRPC_OVERHEAD;
	if (sz > grpc_max) {
		char msg[160];
		snprintf(msg, sizeof(msg), "grpc: received message larger than max (%zu vs. %zu)", sz,
			 grpc_max);
		set_error(r, RESP_ERR_GRPC, 8, msg);
		return false;
	}
	if (r->rt->write && sz > r->srv->max_req) {
		set_error(r, RESP_ERR_GRPC, kv_grpc_code(KV_EREQTOOLARGE), kv_errmsg(KV_EREQTOOLARGE));
		return false;
	}
	return true;
}

static void unary_result(struct req *r, int rc, ProtobufCMessage *rs);

static void process_unary(struct req *r)
{
	const struct route *rt = r->rt;
	if (r->rq) {
		/* A read-only txn the event loop decoded, counted and handed over
		 * (submit_write). */
		ProtobufCMessage *rs = NULL;
		double t0 = now_s();
		int rc = rt->fn(r->srv->kv, r->rq, &rs);
		met_observe(rt->met, now_s() - t0);
		protobuf_c_message_free_unpacked(r->rq, NULL);
		r->rq = NULL;
		unary_result(r, rc, rs);
		return;
	}
	met_started(rt->met);
	if (r->too_big) {
		char msg[160];
		snprintf(msg, sizeof(msg), "grpc: received message larger than max (%zu vs. %zu)",
			 r->body.len / 4 * 3, r->srv->max_req + GRPC_OVERHEAD);
		set_error(r, RESP_ERR_GRPC, 8, msg);
		met_handled(rt->met, 8);
		return;
	}
	ProtobufCMessage *rq = decode_body(r, rt->desc);
	if (!rq) {
		met_handled(rt->met, 3);
		return;
	}
	if (!check_size(r, rq)) {
		protobuf_c_message_free_unpacked(rq, NULL);
		met_handled(rt->met, r->status == 429 ? 8 : 3);
		return;
	}
	ProtobufCMessage *rs = NULL;
	double t0 = now_s();
	int rc = rt->fn(r->srv->kv, rq, &rs);
	met_observe(rt->met, now_s() - t0);
	protobuf_c_message_free_unpacked(rq, NULL);
	unary_result(r, rc, rs);
}

/* Encode an engine answer (rs taken) as the response. */
static void unary_result(struct req *r, int rc, ProtobufCMessage *rs)
{
	const struct route *rt = r->rt;
	if (rc) {
		int code = kv_grpc_code(rc);
		set_error(r, RESP_ERR_GRPC, code, kv_errmsg(rc));
		met_handled(rt->met, code);
		if (rs)
			protobuf_c_message_free_unpacked(rs, NULL);
		return;
	}
	struct jpb_buf b;
	jpb_buf_init(&b);
	if (!rs || jpb_encode(rs, &b)) {
		jpb_buf_free(&b);
		set_error(r, RESP_ERR_GRPC, 13, rs ? "out of memory" : "engine returned no response");
		met_handled(rt->met, 13);
	} else {
		free(r->out);
		r->out = jpb_buf_take(&b, &r->out_len);
		r->rtype = RESP_JSON;
		r->status = 200;
		met_handled(rt->met, 0);
	}
	if (rs)
		protobuf_c_message_free_unpacked(rs, NULL);
}

static int push_msg(struct req *r, struct jpb_buf *b)
{
	char **nm = realloc(r->msgs, (r->n_msgs + 1) * sizeof(*nm));
	if (!nm)
		return -ENOMEM;
	r->msgs = nm;
	size_t *nl = realloc(r->msg_len, (r->n_msgs + 1) * sizeof(*nl));
	if (!nl)
		return -ENOMEM;
	r->msg_len = nl;
	r->msgs[r->n_msgs] = jpb_buf_take(b, &r->msg_len[r->n_msgs]);
	r->n_msgs++;
	return 0;
}

/* /v3/lease/keepalive: one answer per request object, then the stream ends when the
 * body has (the gateway closes its send side; etcd's LeaseKeepAlive returns). */
static void process_keepalive(struct req *r)
{
	met_started(MET_LEASE_KEEPALIVE);
	if (r->too_big) {
		char msg[160];
		snprintf(msg, sizeof(msg), "grpc: received message larger than max (%zu vs. %zu)",
			 r->body.len / 4 * 3, r->srv->max_req + GRPC_OVERHEAD);
		set_error(r, RESP_ERR_PLAIN, 8, msg);
		met_handled(MET_LEASE_KEEPALIVE, 8);
		return;
	}
	size_t off = 0;
	const char *data = r->body.data ? r->body.data : "";
	int code = 0;
	for (;;) {
		char err[JPB_ERRLEN];
		size_t used;
		ProtobufCMessage *m = NULL;
		int rc = jpb_decode(&kvpb__lease_keep_alive_request__descriptor, data + off,
				    r->body.len - off, &used, &m, err, sizeof(err));
		if (rc == JPB_EOF)
			break;
		if (rc) {
			if (r->n_msgs == 0) {
				/* The first request failing is an HTTP error: 500, code 2. */
				set_error(r, RESP_ERR_PLAIN, 2, err);
				met_handled(MET_LEASE_KEEPALIVE, 2);
				return;
			}
			break;
		}
		off += used;
		Kvpb__LeaseKeepAliveResponse *rs = NULL;
		rc = kv_lease_keepalive(r->srv->kv, (Kvpb__LeaseKeepAliveRequest *)m, &rs);
		protobuf_c_message_free_unpacked(m, NULL);
		struct jpb_buf b;
		jpb_buf_init(&b);
		if (rc) {
			/* A stream error: grpc-gateway v1 writes it as an "error" object. */
			code = kv_grpc_code(rc);
			jpb_buf_printf(&b, "{\"error\":{\"grpc_code\":%d,\"http_code\":%u,\"message\":", code,
				       http_status_for(code));
			jpb_buf_json_string(&b, kv_errmsg(rc), strlen(kv_errmsg(rc)));
			jpb_buf_puts(&b, ",\"http_status\":\"\"}}\n");
		} else {
			jpb_buf_puts(&b, "{\"result\":");
			jpb_encode(&rs->base, &b);
			jpb_buf_puts(&b, "}\n");
			kvpb__lease_keep_alive_response__free_unpacked(rs, NULL);
		}
		if (push_msg(r, &b)) {
			jpb_buf_free(&b);
			break;
		}
		if (rc)
			break;
	}
	met_handled(MET_LEASE_KEEPALIVE, code);
	r->rtype = RESP_MSGS;
	r->status = 200;
}

static void process_snapshot(struct req *r)
{
	met_started(MET_SNAPSHOT);
	const char *tmp = getenv("TMPDIR");
	char path[512];
	snprintf(path, sizeof(path), "%s/kube-store-snapshot-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	int fd = mkstemp(path);
	if (fd < 0) {
		set_error(r, RESP_ERR_GRPC, 13, strerror(errno));
		met_handled(MET_SNAPSHOT, 13);
		return;
	}
	unlink(path);
	int64_t n = kv_snapshot_write(r->srv->kv, fd);
	if (n < 0) {
		close(fd);
		int code = kv_grpc_code((int)n);
		set_error(r, RESP_ERR_GRPC, code, kv_errmsg((int)n));
		met_handled(MET_SNAPSHOT, code);
		return;
	}
	r->snap_fd = fd;
	r->snap_size = (uint64_t)n;
	r->sha = EVP_MD_CTX_new();
	if (!r->sha || !EVP_DigestInit_ex(r->sha, EVP_sha256(), NULL)) {
		set_error(r, RESP_ERR_GRPC, 13, "sha256 unavailable");
		met_handled(MET_SNAPSHOT, 13);
		return;
	}
	met_handled(MET_SNAPSHOT, 0);
	r->rtype = RESP_MSGS;
	r->status = 200;
}

static void process_health(struct req *r)
{
	/* etcd 3.4's /health: false while any alarm is raised (or without a leader). */
	Kvpb__AlarmRequest aq = KVPB__ALARM_REQUEST__INIT;
	Kvpb__AlarmResponse *ar = NULL;
	bool ok = kv_alarm(r->srv->kv, &aq, &ar) == 0 && ar && ar->n_alarms == 0 &&
		  kv_leader(r->srv->kv) != 0;
	if (ar)
		kvpb__alarm_response__free_unpacked(ar, NULL);
	if (ok)
		set_text(r, 200, "text/plain; charset=utf-8", "{\"health\":\"true\"}");
	else
		/* http.Error: text/plain, trailing newline, 503. */
		set_text(r, 503, "text/plain; charset=utf-8", "{\"health\":\"false\"}\n");
}

static void process_metrics(struct req *r)
{
	struct jpb_buf b;
	jpb_buf_init(&b);
	if (met_render(r->srv->kv, &b)) {
		jpb_buf_free(&b);
		set_text(r, 500, "text/plain; charset=utf-8", "out of memory\n");
		return;
	}
	free(r->out);
	r->out = jpb_buf_take(&b, &r->out_len);
	r->rtype = RESP_TEXT;
	r->ctype = "text/plain; version=0.0.4; charset=utf-8";
	r->status = 200;
}

static void process(struct req *r)
{
	switch (r->kind) {
	case RK_UNARY:
		process_unary(r);
		break;
	case RK_KEEPALIVE:
		process_keepalive(r);
		break;
	case RK_SNAPSHOT:
		process_snapshot(r);
		break;
	case RK_HEALTH:
		process_health(r);
		break;
	case RK_METRICS:
		process_metrics(r);
		break;
	default:
		set_text(r, 500, "text/plain; charset=utf-8", "internal error\n");
		break;
	}
}

static void *worker_main(void *arg)
{
	struct srv *s = arg;
	for (;;) {
		pthread_mutex_lock(&s->mu);
		while (!s->qhead && !s->stopping)
			pthread_cond_wait(&s->cv, &s->mu);
		struct req *r = s->qhead;
		if (!r) {
			pthread_mutex_unlock(&s->mu);
			return NULL;
		}
		s->qhead = r->qnext;
		if (!s->qhead)
			s->qtail = NULL;
		pthread_mutex_unlock(&s->mu);
		process(r);
		r->done = true;
		MHD_resume_connection(r->conn);
	}
}

/* Queue r for a worker (caller holds s->mu; r's connection is suspended). */
static void enqueue_locked(struct srv *s, struct req *r)
{
	r->qnext = NULL;
	if (s->qtail)
		s->qtail->qnext = r;
	else
		s->qhead = r;
	s->qtail = r;
	pthread_cond_signal(&s->cv);
}

static enum MHD_Result submit(struct req *r)
{
	struct srv *s = r->srv;
	pthread_mutex_lock(&s->mu);
	if (s->stopping) {
		/* Shutting down: no worker will take it, so never park the connection. */
		pthread_mutex_unlock(&s->mu);
		set_error(r, RESP_ERR_GRPC, kv_grpc_code(KV_ESTOPPED), kv_errmsg(KV_ESTOPPED));
		return queue_result(r);
	}
	r->submitted = true;
	/* Suspend before a worker can see it: its resume must find the connection
	 * suspended. */
	MHD_suspend_connection(r->conn);
	enqueue_locked(s, r);
	pthread_mutex_unlock(&s->mu);
	return MHD_YES;
}

/* kv_done_cb of a submitted write, on the engine's raft thread right after the write's
 * fsync and apply: hand the answer to the connection's event loop, which encodes it. */
static void write_done(void *arg, int err, void *resp)
{
	struct req *r = arg;
	struct srv *s = r->srv;
	r->arc = err;
	r->rs = resp;
	r->done = true;
	/* r may be freed by the event loop as soon as the connection resumes. */
	MHD_resume_connection(r->conn);
	pthread_mutex_lock(&s->mu);
	if (--s->inflight == 0 && s->stopping)
		pthread_cond_broadcast(&s->idle);
	pthread_mutex_unlock(&s->mu);
}

typedef int (*submit_fn)(struct kv *kv, const void *req, kv_done_cb cb, void *arg);

/* Writes (put, deleterange, txn) go from the event loop straight to the engine and are
 * answered from its thread: the request no longer waits in a worker thread, which saved
 * two thread wake-ups per write (event loop -> worker -> raft -> worker -> event loop
 * became event loop -> raft -> event loop). Read-only txns still go to a worker, since
 * a linearizable read may wait for a ReadIndex round. */
static enum MHD_Result submit_write(struct req *r, submit_fn fn)
{
	struct srv *s = r->srv;
	const struct route *rt = r->rt;
	if (r->too_big)
		return submit(r);
	ProtobufCMessage *rq = decode_body(r, rt->desc);
	if (!rq || !check_size(r, rq)) {
		met_started(rt->met);
		met_handled(rt->met, !rq ? 3 : r->status == 429 ? 8 : 3);
		if (rq)
			protobuf_c_message_free_unpacked(rq, NULL);
		return queue_result(r);
	}
	pthread_mutex_lock(&s->mu);
	if (s->stopping) {
		pthread_mutex_unlock(&s->mu);
		protobuf_c_message_free_unpacked(rq, NULL);
		set_error(r, RESP_ERR_GRPC, kv_grpc_code(KV_ESTOPPED), kv_errmsg(KV_ESTOPPED));
		return queue_result(r);
	}
	/* Suspend before the engine can answer: write_done's resume must find it so. */
	r->submitted = true;
	MHD_suspend_connection(r->conn);
	s->inflight++;
	pthread_mutex_unlock(&s->mu);
	r->rq = rq;
	r->t0 = now_s();
	r->async = true; /* before fn: write_done may run before fn returns */
	met_started(rt->met);
	int rc = fn(s->kv, rq, write_done, r);
	if (rc == 0)
		return MHD_YES;
	pthread_mutex_lock(&s->mu);
	s->inflight--;
	if (rc == -EAGAIN) {
		/* read-only txn: a worker serves it (process_unary takes r->rq) */
		r->async = false;
		if (s->stopping) {
			pthread_mutex_unlock(&s->mu);
			protobuf_c_message_free_unpacked(rq, NULL);
			r->rq = NULL;
			set_error(r, RESP_ERR_GRPC, kv_grpc_code(KV_ESTOPPED),
				  kv_errmsg(KV_ESTOPPED));
			r->done = true;
			MHD_resume_connection(r->conn);
			return MHD_YES;
		}
		enqueue_locked(s, r);
		pthread_mutex_unlock(&s->mu);
		return MHD_YES;
	}
	if (s->inflight == 0 && s->stopping)
		pthread_cond_broadcast(&s->idle);
	pthread_mutex_unlock(&s->mu);
	/* refused before proposing (validation, quota, stopped): answer it now */
	r->arc = rc;
	r->rs = NULL;
	r->done = true;
	MHD_resume_connection(r->conn);
	return MHD_YES;
}

static int submit_put(struct kv *kv, const void *req, kv_done_cb cb, void *arg)
{
	return kv_put_submit(kv, req, cb, arg);
}

static int submit_delete(struct kv *kv, const void *req, kv_done_cb cb, void *arg)
{
	return kv_delete_range_submit(kv, req, cb, arg);
}

static int submit_txn(struct kv *kv, const void *req, kv_done_cb cb, void *arg)
{
	return kv_txn_submit(kv, req, cb, arg);
}

/* ------------------------------------------------------------------------------------
 * MHD callbacks */

static void classify(struct req *r, const char *url, const char *method)
{
	const char *rest = NULL;
	if (strncmp(url, "/v3/", 4) == 0)
		rest = url + 4;
	else if (strncmp(url, "/v3beta/", 8) == 0)
		rest = url + 8;
	if (rest) {
		for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
			if (strcmp(rest, routes[i].path) != 0)
				continue;
			r->rt = &routes[i];
			if (strcmp(method, "POST") == 0)
				r->kind = routes[i].kind;
			else if (strcmp(method, "OPTIONS") == 0)
				r->kind = RK_OPTIONS; /* CORS preflight: 200, empty */
			else
				r->kind = RK_405;
			return;
		}
		r->kind = RK_404_GW;
		return;
	}
	bool get = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
	if (strcmp(url, "/health") == 0)
		r->kind = get ? RK_HEALTH : RK_405_GET;
	else if (strcmp(url, "/version") == 0)
		r->kind = get ? RK_VERSION : RK_405_GET;
	else if (strcmp(url, "/metrics") == 0)
		r->kind = RK_METRICS;
	else
		r->kind = RK_404_MUX;
}

typedef int (*verify_peers2_fn)(gnutls_session_t, unsigned int *);
typedef const gnutls_datum_t *(*get_peers_fn)(gnutls_session_t, unsigned int *);

/* --client-cert-auth: MHD only *requests* a client certificate (GNUTLS_CERT_REQUEST) and
 * does not verify it, so check it here against --trusted-ca-file, through the GnuTLS
 * that libmicrohttpd already loaded. etcd refuses such clients in the TLS handshake; we
 * close the connection before answering. Fails closed if GnuTLS cannot be found. */
static bool client_cert_ok(struct MHD_Connection *conn)
{
	static verify_peers2_fn verify;
	static get_peers_fn peers;
	if (!verify) {
		verify = (verify_peers2_fn)dlsym(RTLD_DEFAULT, "gnutls_certificate_verify_peers2");
		peers = (get_peers_fn)dlsym(RTLD_DEFAULT, "gnutls_certificate_get_peers");
	}
	if (!verify || !peers) {
		kc_error("client-cert-auth: GnuTLS verification functions not found; refusing");
		return false;
	}
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);
	if (!ci || !ci->tls_session)
		return false;
	gnutls_session_t sess = (gnutls_session_t)ci->tls_session;
	unsigned int n = 0, status = 0;
	if (!peers(sess, &n) || n == 0) {
		kc_log_v(1, "rejected connection: client didn't provide a certificate");
		return false;
	}
	if (verify(sess, &status) != 0 || status != 0) {
		kc_log_v(1, "rejected connection: bad client certificate (status 0x%x)", status);
		return false;
	}
	return true;
}

static enum MHD_Result on_access(void *cls, struct MHD_Connection *conn, const char *url,
				 const char *method, const char *version, const char *upload_data,
				 size_t *upload_data_size, void **con_cls)
{
	(void)version;
	struct listener *l = cls;
	struct srv *s = l->srv;
	struct req *r = *con_cls;
	if (!r) {
		if (l->tls && s->client_cert_auth && !client_cert_ok(conn))
			return MHD_NO;
		r = calloc(1, sizeof(*r));
		if (!r)
			return MHD_NO;
		r->srv = s;
		r->conn = conn;
		r->snap_fd = -1;
		jpb_buf_init(&r->body);
		classify(r, url, method);
		if (r->kind == RK_WATCH) {
			r->ws = ws_new(s->kv, conn);
			if (!r->ws) {
				free(r);
				return MHD_NO;
			}
			met_started(MET_WATCH);
		}
		*con_cls = r;
		return MHD_YES;
	}
	if (*upload_data_size) {
		size_t n = *upload_data_size;
		*upload_data_size = 0;
		if (r->kind == RK_WATCH) {
			if (!r->failed) {
				char err[JPB_ERRLEN];
				int rc = ws_feed(r->ws, upload_data, n, err, sizeof(err));
				if (rc) {
					r->failed = true;
					set_error(r, RESP_ERR_PLAIN, 2, rc == -ENOMEM ? "out of memory" : err);
				}
			}
			return MHD_YES;
		}
		/* Bodies past what etcd's gRPC server would accept are dropped unread
		 * (the answer says the message is too large). */
		size_t cap = 2 * (s->max_req + GRPC_OVERHEAD) + 65536;
		if (r->too_big || r->body.len + n > cap) {
			r->too_big = true;
			r->body.len += n; /* length only, for the message */
			return MHD_YES;
		}
		if (jpb_buf_append(&r->body, upload_data, n))
			return MHD_NO;
		return MHD_YES;
	}
	/* The whole body is in. */
	if (r->done) {
		if (r->async && r->rq) {
			/* a submitted write came back: encode its answer here */
			met_observe(r->rt->met, now_s() - r->t0);
			protobuf_c_message_free_unpacked(r->rq, NULL);
			r->rq = NULL;
			ProtobufCMessage *rs = r->rs;
			r->rs = NULL;
			unary_result(r, r->arc, rs);
		}
		return queue_result(r);
	}
	if (r->submitted)
		return MHD_YES;
	switch (r->kind) {
	case RK_VERSION:
		/* etcd's /version (etcd 3.4 API level). */
		set_text(r, 200, "application/json", "{\"etcdserver\":\"3.4.23\",\"etcdcluster\":\"3.4.0\"}");
		return queue_result(r);
	case RK_OPTIONS:
		set_text(r, 200, NULL, "");
		return queue_result(r);
	case RK_405:
	case RK_405_GET:
		set_text(r, 405, "text/plain; charset=utf-8", "Method Not Allowed\n");
		return queue_result(r);
	case RK_404_GW:
		set_text(r, 404, "text/plain; charset=utf-8", "Not Found\n");
		return queue_result(r);
	case RK_404_MUX:
		set_text(r, 404, "text/plain; charset=utf-8", "404 page not found\n");
		return queue_result(r);
	case RK_WATCH: {
		if (!r->failed) {
			char err[JPB_ERRLEN];
			int rc = ws_end_of_body(r->ws, err, sizeof(err));
			if (rc) {
				r->failed = true;
				set_error(r, RESP_ERR_PLAIN, 2, rc == -ENOMEM ? "out of memory" : err);
			}
		}
		if (r->failed) {
			met_handled(MET_WATCH, 2);
			return queue_result(r);
		}
		struct MHD_Response *resp = ws_response(r->ws);
		if (!resp)
			return MHD_NO;
		enum MHD_Result ok = MHD_queue_response(conn, 200, resp);
		MHD_destroy_response(resp);
		return ok;
	}
	case RK_UNARY:
		if (r->rt->fn == u_put)
			return submit_write(r, submit_put);
		if (r->rt->fn == u_delete)
			return submit_write(r, submit_delete);
		if (r->rt->fn == u_txn)
			return submit_write(r, submit_txn);
		return submit(r);
	default:
		return submit(r);
	}
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	(void)cls;
	(void)conn;
	struct req *r = *con_cls;
	if (!r)
		return;
	*con_cls = NULL;
	if (r->ws) {
		if (!r->failed)
			met_handled(MET_WATCH, toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? 0 : 1);
		ws_free(r->ws);
	}
	free(r->out);
	for (size_t i = 0; i < r->n_msgs; i++)
		free(r->msgs[i]);
	free(r->msgs);
	free(r->msg_len);
	if (r->snap_fd >= 0)
		close(r->snap_fd);
	if (r->sha)
		EVP_MD_CTX_free(r->sha);
	if (r->rq)
		protobuf_c_message_free_unpacked(r->rq, NULL);
	if (r->rs)
		protobuf_c_message_free_unpacked(r->rs, NULL);
	jpb_buf_free(&r->body);
	free(r);
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	(void)cls;
	char buf[512];
	vsnprintf(buf, sizeof(buf), fmt, ap);
	size_t n = strlen(buf);
	while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		buf[--n] = 0;
	kc_log_v(1, "libmicrohttpd: %s", buf);
}

/* ------------------------------------------------------------------------------------
 * Listeners */

static char *read_file(const char *path, const char *what)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		kc_error("cannot read %s %s: %s", what, path, strerror(errno));
		return NULL;
	}
	struct jpb_buf b;
	jpb_buf_init(&b);
	char tmp[4096];
	size_t n;
	while ((n = fread(tmp, 1, sizeof(tmp), f)) > 0)
		if (jpb_buf_append(&b, tmp, n)) {
			fclose(f);
			jpb_buf_free(&b);
			return NULL;
		}
	fclose(f);
	return jpb_buf_take(&b, NULL);
}

/* "http://host:port" -> tls flag, host, port. Go's net.Listen semantics for host:
 * empty or 0.0.0.0 = all addresses; "localhost" resolves (IPv4 first). */
static int parse_url(const char *url, bool *tls, char *host, size_t hlen, char *port, size_t plen)
{
	const char *p;
	if (strncmp(url, "http://", 7) == 0) {
		*tls = false;
		p = url + 7;
	} else if (strncmp(url, "https://", 8) == 0) {
		*tls = true;
		p = url + 8;
	} else {
		return -EINVAL;
	}
	const char *end = p + strcspn(p, "/?#");
	const char *colon;
	if (*p == '[') {
		const char *rb = memchr(p, ']', (size_t)(end - p));
		if (!rb || rb[1] != ':')
			return -EINVAL;
		if ((size_t)(rb - p - 1) >= hlen)
			return -EINVAL;
		memcpy(host, p + 1, (size_t)(rb - p - 1));
		host[rb - p - 1] = 0;
		colon = rb + 1;
	} else {
		colon = NULL;
		for (const char *q = p; q < end; q++)
			if (*q == ':')
				colon = q;
		if (!colon || (size_t)(colon - p) >= hlen)
			return -EINVAL;
		memcpy(host, p, (size_t)(colon - p));
		host[colon - p] = 0;
	}
	size_t pl = (size_t)(end - colon - 1);
	if (pl == 0 || pl >= plen)
		return -EINVAL;
	memcpy(port, colon + 1, pl);
	port[pl] = 0;
	for (size_t i = 0; i < pl; i++)
		if (port[i] < '0' || port[i] > '9')
			return -EINVAL;
	return 0;
}

static int open_listener(const char *url, bool *tls, int *port_out)
{
	char host[256], port[16];
	if (parse_url(url, tls, host, sizeof(host), port, sizeof(port))) {
		kc_error("invalid listen URL \"%s\"", url);
		return -EINVAL;
	}
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_PASSIVE };
	struct addrinfo *res = NULL;
	const char *h = host[0] && strcmp(host, "0.0.0.0") != 0 ? host : NULL;
	int gai = getaddrinfo(h, port, &hints, &res);
	if (gai) {
		kc_error("listen %s: %s", url, gai_strerror(gai));
		return -EINVAL;
	}
	struct addrinfo *ai = res;
	for (struct addrinfo *a = res; a; a = a->ai_next)
		if (a->ai_family == AF_INET) {
			ai = a;
			break;
		}
	int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
	int rc = 0;
	if (fd < 0) {
		rc = -errno;
	} else {
		int one = 1;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 1024) < 0)
			rc = -errno;
	}
	freeaddrinfo(res);
	if (rc) {
		kc_error("listen %s: %s", url, strerror(-rc));
		if (fd >= 0)
			close(fd);
		return rc;
	}
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	*port_out = 0;
	if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0) {
		if (ss.ss_family == AF_INET)
			*port_out = ntohs(((struct sockaddr_in *)&ss)->sin_port);
		else if (ss.ss_family == AF_INET6)
			*port_out = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	}
	return fd;
}

static int start_listener(struct srv *s, struct listener *l, const char *url)
{
	l->srv = s;
	snprintf(l->url, sizeof(l->url), "%s", url);
	int fd = open_listener(url, &l->tls, &l->port);
	if (fd < 0)
		return fd;
	l->fd = fd;
	if (l->tls && (!s->cert_pem || !s->key_pem)) {
		kc_error("listen %s: https needs --cert-file and --key-file", url);
		close(fd);
		return -EINVAL;
	}
	unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
	if (l->tls)
		flags |= MHD_USE_TLS;
	struct MHD_OptionItem opts[16];
	int n = 0;
	opts[n++] = (struct MHD_OptionItem){ MHD_OPTION_LISTEN_SOCKET, fd, NULL };
	opts[n++] = (struct MHD_OptionItem){ MHD_OPTION_THREAD_POOL_SIZE, 2, NULL };
	opts[n++] = (struct MHD_OptionItem){ MHD_OPTION_CONNECTION_LIMIT, 60000, NULL };
	opts[n++] = (struct MHD_OptionItem){ MHD_OPTION_CONNECTION_TIMEOUT, 0, NULL };
	/* libmicrohttpd zeroes a connection's whole pool at each keep-alive request and
	 * again for its read buffer (half the pool): with 64 KiB that was ~98 KB of memset
	 * per etcd request, 7 % of the store's CPU under the scheduler benchmark. Request
	 * heads are small, bodies are streamed to on_access through the read buffer (8 KiB
	 * holds a pod's Txn), and watch chunks are written piecewise. */
	opts[n++] = (struct MHD_OptionItem){ MHD_OPTION_CONNECTION_MEMORY_LIMIT, 16 * 1024, NULL };
	opts[n++] = (struct MHD_OptionItem){ MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)on_completed, NULL };
	opts[n++] = (struct MHD_OptionItem){ MHD_OPTION_EXTERNAL_LOGGER, (intptr_t)mhd_log, NULL };
	if (l->tls) {
		opts[n++] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_MEM_KEY, 0, s->key_pem };
		opts[n++] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_MEM_CERT, 0, s->cert_pem };
		if (s->client_cert_auth && s->ca_pem)
			opts[n++] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_MEM_TRUST, 0, s->ca_pem };
	}
	opts[n++] = (struct MHD_OptionItem){ MHD_OPTION_END, 0, NULL };
	l->d = MHD_start_daemon(flags, 0, NULL, NULL, on_access, l, MHD_OPTION_ARRAY, opts,
				MHD_OPTION_END);
	if (!l->d) {
		kc_error("listen %s: libmicrohttpd failed to start (bad TLS material?)", url);
		close(fd);
		return -EINVAL;
	}
	if (l->tls)
		kc_info("serving client traffic securely on %s (port %d)", url, l->port);
	else
		kc_info("serving client traffic insecurely on %s (port %d); this is strongly discouraged!",
			url, l->port);
	return 0;
}

int srv_port(const struct srv *s, size_t i)
{
	return i < s->nls ? s->ls[i].port : -1;
}

int srv_start(struct kv *kv, const struct srv_config *cfg, struct srv **out)
{
	if (!kv || !cfg || !out || cfg->n_listen_urls == 0)
		return -EINVAL;
	struct srv *s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->kv = kv;
	s->max_req = cfg->max_request_bytes ? cfg->max_request_bytes : DEFAULT_MAX_REQUEST;
	s->client_cert_auth = cfg->client_cert_auth;
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->cv, NULL);
	pthread_cond_init(&s->idle, NULL);
	int rc = 0;
	if (cfg->cert_file && *cfg->cert_file) {
		s->cert_pem = read_file(cfg->cert_file, "--cert-file");
		if (!s->cert_pem)
			rc = -EINVAL;
	}
	if (!rc && cfg->key_file && *cfg->key_file) {
		s->key_pem = read_file(cfg->key_file, "--key-file");
		if (!s->key_pem)
			rc = -EINVAL;
	}
	if (!rc && cfg->trusted_ca_file && *cfg->trusted_ca_file) {
		s->ca_pem = read_file(cfg->trusted_ca_file, "--trusted-ca-file");
		if (!s->ca_pem)
			rc = -EINVAL;
	}
	if (!rc && s->client_cert_auth && !s->ca_pem) {
		kc_error("--client-cert-auth needs --trusted-ca-file");
		rc = -EINVAL;
	}
	if (rc)
		goto fail;
	rc = ws_global_start();
	if (rc)
		goto fail;
	s->nworkers = cfg->workers > 0 ? cfg->workers : 128;
	s->workers = calloc((size_t)s->nworkers, sizeof(pthread_t));
	if (!s->workers) {
		rc = -ENOMEM;
		goto fail_ws;
	}
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 1 << 20);
	for (int i = 0; i < s->nworkers; i++) {
		int e = pthread_create(&s->workers[i], &attr, worker_main, s);
		if (e) {
			s->nworkers = i;
			rc = -e;
			break;
		}
	}
	pthread_attr_destroy(&attr);
	if (rc)
		goto fail_workers;
	s->ls = calloc(cfg->n_listen_urls, sizeof(*s->ls));
	if (!s->ls) {
		rc = -ENOMEM;
		goto fail_workers;
	}
	for (size_t i = 0; i < cfg->n_listen_urls; i++) {
		rc = start_listener(s, &s->ls[i], cfg->listen_urls[i]);
		if (rc)
			goto fail_listeners;
		s->nls++;
	}
	*out = s;
	return 0;

fail_listeners:
	for (size_t i = 0; i < s->nls; i++) {
		MHD_stop_daemon(s->ls[i].d);
		close(s->ls[i].fd);
	}
fail_workers:
	pthread_mutex_lock(&s->mu);
	s->stopping = true;
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mu);
	for (int i = 0; i < s->nworkers; i++)
		pthread_join(s->workers[i], NULL);
fail_ws:
	ws_global_stop();
fail:
	free(s->workers);
	free(s->ls);
	free(s->cert_pem);
	free(s->key_pem);
	free(s->ca_pem);
	free(s);
	return rc;
}

void srv_stop(struct srv *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->nls; i++)
		MHD_quiesce_daemon(s->ls[i].d);
	/* Watch streams idle suspended: end them so MHD can close their connections. */
	ws_global_shutdown();
	/* Let queued requests finish (they resume their connections), then stop. */
	pthread_mutex_lock(&s->mu);
	s->stopping = true;
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mu);
	for (int i = 0; i < s->nworkers; i++)
		pthread_join(s->workers[i], NULL);
	/* Writes the event loop handed to the engine resume their connections from the
	 * engine's thread: wait for the last (at most the request timeout) before the
	 * daemons, and their connections, go away. */
	pthread_mutex_lock(&s->mu);
	while (s->inflight)
		pthread_cond_wait(&s->idle, &s->mu);
	pthread_mutex_unlock(&s->mu);
	ws_global_shutdown();
	for (size_t i = 0; i < s->nls; i++) {
		MHD_stop_daemon(s->ls[i].d);
		close(s->ls[i].fd);
	}
	ws_global_stop();
	pthread_mutex_destroy(&s->mu);
	pthread_cond_destroy(&s->cv);
	pthread_cond_destroy(&s->idle);
	free(s->workers);
	free(s->ls);
	free(s->cert_pem);
	free(s->key_pem);
	free(s->ca_pem);
	free(s);
}
