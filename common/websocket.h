/* WebSocket (RFC 6455) framing and handshake helpers: what kubectl's exec/attach stream
 * (k8s.io/client-go/tools/remotecommand/websocket.go, gorilla/websocket) needs from the
 * apiserver and the kubelet.  Prefix kc_ws_.
 *
 * Everything here is pure (no I/O): the encoder writes one frame into a caller buffer, the
 * decoder is fed bytes in arbitrary pieces and hands back whole messages (data frames
 * reassembled across continuation frames, control frames one by one, unmasked).  The
 * handshake helpers compute Sec-WebSocket-Accept and choose a subprotocol. */
#ifndef KC_WEBSOCKET_H
#define KC_WEBSOCKET_H

#include <stddef.h>
#include <stdint.h>

/* RFC 6455 section 1.3: appended to Sec-WebSocket-Key before hashing. */
#define KC_WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
/* base64 of a SHA-1 digest (28 characters) plus NUL. */
#define KC_WS_ACCEPT_LEN 29
/* Longest frame header: 2 + 8 (64-bit length) + 4 (mask). */
#define KC_WS_MAX_HEADER 14
/* Control frames carry at most 125 payload bytes (RFC 6455 5.5). */
#define KC_WS_MAX_CONTROL 125

enum kc_ws_opcode {
	KC_WS_CONT = 0x0,
	KC_WS_TEXT = 0x1,
	KC_WS_BINARY = 0x2,
	KC_WS_CLOSE = 0x8,
	KC_WS_PING = 0x9,
	KC_WS_PONG = 0xA,
};

/* Close status codes used here (RFC 6455 7.4.1). */
#define KC_WS_CLOSE_NORMAL 1000
#define KC_WS_CLOSE_PROTOCOL 1002
#define KC_WS_CLOSE_TOO_BIG 1009

/* ---- handshake ---- */

/* Sec-WebSocket-Accept for a client's Sec-WebSocket-Key (borrowed): base64(SHA1(key +
 * GUID)) into out.  The key must be base64 of 16 bytes (24 characters), as gorilla and
 * Go's x/net/websocket send and check.  0 or -EINVAL. */
int kc_ws_accept(const char *key, char out[KC_WS_ACCEPT_LEN]);
/* A fresh random Sec-WebSocket-Key (24 characters + NUL) for a client.  0 or -EIO. */
int kc_ws_client_key(char out[25]);
/* Whether a comma-separated header value (borrowed; NULL ok) holds token, compared
 * case-insensitively, e.g. Connection: "keep-alive, Upgrade" holds "upgrade". */
int kc_ws_header_has_token(const char *value, const char *token);
/* Choose the subprotocol: the first of the client's offer (a Sec-WebSocket-Protocol value,
 * comma-separated, borrowed) that is in supported[0..n) (borrowed), in the client's order
 * of preference as k8s.io/apimachinery wsstream's handshake does.  Copies it into out
 * (cap bytes) and returns 0; -ENOENT when nothing matches or offer is empty; -ENOSPC. */
int kc_ws_pick_protocol(const char *offer, const char *const *supported, size_t n, char *out,
			size_t cap);

/* ---- encoder ---- */

/* Bytes a frame with len payload bytes takes, masked or not. */
size_t kc_ws_frame_size(size_t len, int masked);
/* Write one frame into out (cap bytes): fin flag, opcode, payload (borrowed, len bytes;
 * NULL only when len is 0), masked with mask[4] when mask is non-NULL (clients must mask,
 * servers must not).  Returns the bytes written, or 0 when cap is too small or a control
 * frame is fragmented or longer than 125 bytes. */
size_t kc_ws_frame_encode(uint8_t *out, size_t cap, int fin, int opcode, const uint8_t *mask,
			  const void *payload, size_t len);
/* Write only the header of an unmasked frame carrying len payload bytes (a server sending
 * a payload it holds elsewhere).  Returns the header's length. */
size_t kc_ws_frame_header(uint8_t out[KC_WS_MAX_HEADER], int fin, int opcode, uint64_t len);
/* The payload of a close frame: 2-byte code then reason (borrowed, truncated to fit 125
 * bytes).  Returns its length. */
size_t kc_ws_close_payload(uint8_t out[KC_WS_MAX_CONTROL], unsigned code, const char *reason);

/* ---- decoder ---- */

typedef struct kc_ws_decoder {
	int server;          /* 1: frames come from a client and must be masked (RFC 6455
			      * 5.1); 0: frames come from a server and must not be */
	size_t max_msg;      /* a message longer than this is an error (-EMSGSIZE) */
	uint8_t *in;         /* owned: bytes fed and not yet parsed */
	size_t in_len, in_off, in_cap;
	uint8_t *msg;        /* owned: the data message being reassembled */
	size_t msg_len, msg_cap;
	int msg_opcode;      /* 0 when no fragmented message is open */
	uint8_t ctl[KC_WS_MAX_CONTROL]; /* the last control frame's payload */
	int err;             /* sticky error */
	int closed;          /* a close frame was returned: nothing more is parsed */
} kc_ws_decoder;

/* One decoded message.  data points into the decoder and stays valid until the next call
 * of kc_ws_decoder_feed/next/close. */
typedef struct kc_ws_message {
	int opcode;          /* KC_WS_TEXT, KC_WS_BINARY, KC_WS_CLOSE, KC_WS_PING, KC_WS_PONG */
	const uint8_t *data;
	size_t len;
	unsigned close_code; /* KC_WS_CLOSE: the code (1005 when the frame had none) */
} kc_ws_message;

void kc_ws_decoder_init(kc_ws_decoder *d, int server, size_t max_msg);
void kc_ws_decoder_close(kc_ws_decoder *d);
/* Append bytes (copied).  0, -ENOMEM or the sticky error. */
int kc_ws_decoder_feed(kc_ws_decoder *d, const void *data, size_t len);
/* Next complete message: 1 and *m filled; 0 when more bytes are needed (or after a close
 * frame); a negative sticky error: -EPROTO (reserved bits, bad opcode, masking contrary
 * to the side, a fragmented or long control frame, a continuation with no message open,
 * a new data frame inside a fragmented one, a 64-bit length with its top bit set, a close
 * payload of one byte), -EMSGSIZE (message above max_msg), -ENOMEM. */
int kc_ws_decoder_next(kc_ws_decoder *d, kc_ws_message *m);

/* ---- I/O ---- */

/* Send all of buf (borrowed) on a socket, blocking or not (waits up to timeout_ms for room
 * each time the socket is full), without SIGPIPE.  0, -ETIMEDOUT or -EPIPE. */
int kc_ws_send_all(int fd, const void *buf, size_t len, int timeout_ms);

/* ---- scanner ---- */

/* Follows frame boundaries in a byte stream without keeping payloads: what a byte-pipe
 * proxy needs to notice the end of a session (the apiserver's exec splice: once the
 * kubelet's close frame went through, the session is over).  Zero-initialise. */
typedef struct kc_ws_scanner {
	uint8_t hdr[KC_WS_MAX_HEADER];
	size_t hlen;          /* header bytes collected */
	uint64_t skip;        /* payload bytes still to pass */
	int in_close;         /* the payload being skipped belongs to a close frame */
	int closed;           /* a whole close frame has passed */
	int err;              /* a header that cannot be valid (64-bit length top bit) */
} kc_ws_scanner;

/* Feed bytes (borrowed).  Returns 1 once a complete close frame has been seen (then and
 * on every later call), -EPROTO on a malformed header, else 0. */
int kc_ws_scan(kc_ws_scanner *s, const uint8_t *p, size_t n);

#endif
