/* Minimal unary gRPC client over HTTP/2 (nghttp2) on a unix socket: what the kubelet
 * needs to speak the CRI to containerd.
 *
 * Wire format as gRPC's PROTOCOL-HTTP2.md: each message is a 5-byte prefix (compressed
 * flag, 4-byte big-endian length) followed by the serialized protobuf; requests are
 * POSTs with content-type application/grpc and "te: trailers"; the result comes in the
 * grpc-status / grpc-message trailers (grpc-message percent-encoded).
 *
 * A cri_conn multiplexes any number of concurrent calls from any number of threads on
 * one HTTP/2 connection, driven by one I/O thread that also enforces each call's
 * deadline.  When the connection drops (containerd restarts), calls in flight fail with
 * UNAVAILABLE and the next call dials again, as grpc-go's reconnecting ClientConn does
 * for the upstream kubelet (without WaitForReady: a call never waits for the runtime). */
#ifndef KUBELET_GRPC_H
#define KUBELET_GRPC_H

#include <stddef.h>
#include <stdint.h>

/* gRPC status codes (grpc/codes). */
enum cri_grpc_code {
	CRI_GRPC_OK = 0,
	CRI_GRPC_CANCELLED = 1,
	CRI_GRPC_UNKNOWN = 2,
	CRI_GRPC_INVALID_ARGUMENT = 3,
	CRI_GRPC_DEADLINE_EXCEEDED = 4,
	CRI_GRPC_NOT_FOUND = 5,
	CRI_GRPC_ALREADY_EXISTS = 6,
	CRI_GRPC_PERMISSION_DENIED = 7,
	CRI_GRPC_RESOURCE_EXHAUSTED = 8,
	CRI_GRPC_FAILED_PRECONDITION = 9,
	CRI_GRPC_ABORTED = 10,
	CRI_GRPC_OUT_OF_RANGE = 11,
	CRI_GRPC_UNIMPLEMENTED = 12,
	CRI_GRPC_INTERNAL = 13,
	CRI_GRPC_UNAVAILABLE = 14,
	CRI_GRPC_DATA_LOSS = 15,
	CRI_GRPC_UNAUTHENTICATED = 16,
};

#define CRI_GRPC_PREFIX_LEN 5
/* The upstream kubelet's CRI client limit (pkg/kubelet/cri/remote: maxMsgSize 16 MiB). */
#define CRI_GRPC_DEFAULT_MAX_MSG (16u * 1024 * 1024)
#define CRI_GRPC_MSG_MAX 512

/* Outcome of a call as the server (or the transport) reported it. */
typedef struct cri_grpc_status {
	int code;                        /* enum cri_grpc_code */
	char message[CRI_GRPC_MSG_MAX];  /* decoded grpc-message or a local reason; "" if none */
} cri_grpc_status;

/* ---- framing (pure functions; unit-tested) ---- */

/* Write the 5-byte prefix for an uncompressed message of `len` bytes into out[0..4].
 * Returns 0, or -EMSGSIZE if len does not fit in 32 bits. */
int cri_grpc_prefix_encode(size_t len, uint8_t out[CRI_GRPC_PREFIX_LEN]);

/* Incremental decoder for one response stream: DATA frames arrive in arbitrary pieces.
 * A unary response carries exactly one message; a second message is a protocol error. */
typedef struct cri_grpc_decoder {
	size_t max_msg;
	uint8_t prefix[CRI_GRPC_PREFIX_LEN];
	size_t prefix_have;
	uint8_t *msg;     /* owned */
	size_t msg_len;
	size_t msg_have;
	int complete;     /* one full message decoded */
	int err;          /* sticky error, 0 if none */
} cri_grpc_decoder;

void cri_grpc_decoder_init(cri_grpc_decoder *d, size_t max_msg);
void cri_grpc_decoder_close(cri_grpc_decoder *d);
/* Feed bytes (borrowed).  Returns 0, or a sticky negative error: -EMSGSIZE (declared
 * length above max_msg), -ENOTSUP (compressed flag set: we never offer an encoding),
 * -EPROTO (bad flag byte, or bytes after the single message), -ENOMEM. */
int cri_grpc_decoder_feed(cri_grpc_decoder *d, const uint8_t *data, size_t len);
/* At end of stream: the complete message (ownership taken by the caller, free() it; a
 * zero-length message yields *msg == NULL, *len == 0).  Returns 0, the sticky error, or
 * -ENODATA if no message or only part of one arrived. */
int cri_grpc_decoder_take(cri_grpc_decoder *d, uint8_t **msg, size_t *len);

/* Parse a grpc-status header value (ASCII decimal).  Returns 0 and sets *code, or
 * -EPROTO.  Codes above 16 are reported as UNKNOWN, as grpc-go does. */
int cri_grpc_parse_status(const char *s, size_t len, int *code);
/* Decode a percent-encoded grpc-message into out (NUL-terminated, truncated to cap-1).
 * A '%' not followed by two hex digits is kept literally, as the spec asks.  Returns
 * the decoded length written (excluding NUL). */
size_t cri_grpc_percent_decode(const char *in, size_t len, char *out, size_t cap);
/* Map a non-OK gRPC code to the project's negative error convention. */
int cri_grpc_code_to_err(int code);
/* Upstream spelling of a code ("NotFound", "Unavailable", ...); never NULL. */
const char *cri_grpc_code_name(int code);

/* ---- connection ---- */

typedef struct cri_conn cri_conn;

/* endpoint: "unix:///path/to/sock" or an absolute path (copied).  Does not dial: the
 * first call does.  Returns 0 or -EINVAL / -ENAMETOOLONG / -ENOMEM / -errno. */
int cri_conn_new(const char *endpoint, cri_conn **out);
/* Stops the I/O thread and closes the connection.  No call may be running. */
void cri_conn_free(cri_conn *c);
/* Replies larger than this fail with RESOURCE_EXHAUSTED (default 16 MiB). */
void cri_conn_set_max_msg(cri_conn *c, size_t max_msg);
/* Number of HTTP/2 connections dialled so far (reconnects show as increments). */
unsigned long cri_conn_dials(cri_conn *c);

/* One unary call.  path: "/runtime.v1.RuntimeService/Version" (borrowed); req: the
 * serialized request (borrowed); timeout_ms > 0 is the deadline, also sent as
 * grpc-timeout.  On success returns 0 and *resp (taken by the caller, free(); may be
 * NULL for an empty message) / *resp_len.  On failure returns a negative error
 * (cri_grpc_code_to_err of st->code) and fills st (if non-NULL) with the code and
 * message.  Thread-safe. */
int cri_conn_call(cri_conn *c, const char *path, const uint8_t *req, size_t req_len,
		  int64_t timeout_ms, uint8_t **resp, size_t *resp_len, cri_grpc_status *st);

#endif
