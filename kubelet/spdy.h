/* The client half of SPDY/3.1 framing that the kubelet needs to drive a container
 * runtime's streaming server (containerd 1.6 serves exec/attach through
 * k8s.io/apimachinery's httpstream/spdy, i.e. moby/spdystream).  Prefix spdy_.
 *
 * Why SPDY and not the runtime's WebSocket endpoint: containerd 1.6 only speaks the
 * channel.k8s.io WebSocket protocols up to v4, which cannot half-close stdin, so
 * `echo hi | kubectl exec -i pod -- cat` would never end.  SPDY streams half-close with a
 * FIN flag; upstream reaches the runtime the same way (the apiserver translates
 * WebSocket v5 into SPDY, the kubelet proxies SPDY to the runtime).
 *
 * Pure functions (no I/O).  Header blocks are written as zlib "stored" (uncompressed)
 * deflate blocks: a valid zlib stream that any inflater reads, so the peer's
 * dictionary-primed decompressor (Go's spdy framer) accepts it without us implementing
 * deflate.  Header blocks the server sends are skipped, never inflated: the client needs
 * nothing from SYN_REPLY but the stream id.  spdystream does no flow control (it ignores
 * WINDOW_UPDATE and never sends one), so neither do we. */
#ifndef KUBELET_SPDY_H
#define KUBELET_SPDY_H

#include <stddef.h>
#include <stdint.h>

enum spdy_type {
	SPDY_DATA = 0,          /* not a control frame */
	SPDY_SYN_STREAM = 1,
	SPDY_SYN_REPLY = 2,
	SPDY_RST_STREAM = 3,
	SPDY_SETTINGS = 4,
	SPDY_PING = 6,
	SPDY_GOAWAY = 7,
	SPDY_HEADERS = 8,
	SPDY_WINDOW_UPDATE = 9,
};

#define SPDY_FLAG_FIN 0x01
/* The 24-bit length field's limit. */
#define SPDY_MAX_FRAME 0xffffff

/* Per-connection header-block encoder state: the first block starts the zlib stream. */
typedef struct spdy_enc {
	int zlib_started;
} spdy_enc;

/* SYN_STREAM for stream id with the header pairs kv[0..2n) (name, value; borrowed; names
 * must be lower-case as SPDY/3 requires).  Returns the bytes written into out (cap), or
 * 0 when it does not fit. */
size_t spdy_syn_stream(spdy_enc *e, uint8_t *out, size_t cap, uint32_t stream_id, const char *const *kv,
		       size_t n, int fin);
/* A DATA frame header (8 bytes) for len payload bytes (len <= SPDY_MAX_FRAME). */
void spdy_data_header(uint8_t out[8], uint32_t stream_id, int fin, size_t len);
/* A PING frame (12 bytes) with id: the answer to a server's ping. */
void spdy_ping(uint8_t out[12], uint32_t id);
/* GOAWAY (16 bytes) with last-good-stream-id 0, status OK. */
void spdy_goaway(uint8_t out[16]);

/* One frame as parsed. */
typedef struct spdy_frame {
	int type;              /* enum spdy_type; SPDY_DATA for data frames */
	int flags;
	uint32_t stream_id;    /* data frames and stream control frames; PING: the id */
	const uint8_t *data;   /* data frames: the payload; control frames: after the header */
	size_t len;
} spdy_frame;

/* Parse the frame at buf[0..len): 0 when more bytes are needed, -EPROTO for a control
 * frame of another version or one too short for its type, else the frame's total size
 * with *f filled (data points into buf). */
long spdy_parse(const uint8_t *buf, size_t len, spdy_frame *f);

#endif
