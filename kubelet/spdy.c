/* SPDY/3.1 client framing; see spdy.h.  Frame layouts from the SPDY/3 draft as Go's
 * spdy framer (moby/spdystream/spdy) writes and reads them. */
#include "spdy.h"

#include <errno.h>
#include <string.h>

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static uint32_t get32(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

/* control frame header: C bit, version 3, type; flags; 24-bit length */
static void control_header(uint8_t *p, int type, int flags, size_t len)
{
	p[0] = 0x80;
	p[1] = 3;
	p[2] = 0;
	p[3] = (uint8_t)type;
	p[4] = (uint8_t)flags;
	p[5] = (uint8_t)(len >> 16);
	p[6] = (uint8_t)(len >> 8);
	p[7] = (uint8_t)len;
}

size_t spdy_syn_stream(spdy_enc *e, uint8_t *out, size_t cap, uint32_t stream_id, const char *const *kv,
		       size_t n, int fin)
{
	/* the uncompressed header block: count, then (len, name, len, value) pairs */
	uint8_t block[2048];
	size_t b = 0;
	put32(block, (uint32_t)n);
	b = 4;
	for (size_t i = 0; i < 2 * n; i++) {
		size_t l = strlen(kv[i]);
		if (b + 4 + l > sizeof(block))
			return 0;
		put32(block + b, (uint32_t)l);
		memcpy(block + b + 4, kv[i], l);
		b += 4 + l;
	}
	/* zlib: the 2-byte header once per connection (deflate, no preset dictionary:
	 * 0x78 0x01, (0x7801 % 31) == 0), then one non-final stored block with the pairs and
	 * an empty one, the sync-flush marker a real compressor ends each block with: Go's
	 * inflater hands out stored bytes only when the next block starts, so without it the
	 * reader would wait for (and fail on) bytes past this frame. */
	size_t z = (e->zlib_started ? 0 : 2) + 5 + b + 5;
	size_t total = 8 + 10 + z;
	if (total > cap || b > 0xffff)
		return 0;
	control_header(out, SPDY_SYN_STREAM, fin ? SPDY_FLAG_FIN : 0, total - 8);
	put32(out + 8, stream_id & 0x7fffffff);
	put32(out + 12, 0);  /* associated-to stream */
	out[16] = 0;         /* priority 0 (highest), unused bits */
	out[17] = 0;         /* slot */
	size_t o = 18;
	if (!e->zlib_started) {
		out[o++] = 0x78;
		out[o++] = 0x01;
		e->zlib_started = 1;
	}
	out[o++] = 0x00; /* BFINAL 0, BTYPE 00 (stored), padding to the byte boundary */
	out[o++] = (uint8_t)b;
	out[o++] = (uint8_t)(b >> 8);
	out[o++] = (uint8_t)~b;
	out[o++] = (uint8_t)(~b >> 8);
	memcpy(out + o, block, b);
	o += b;
	static const uint8_t sync_flush[5] = { 0x00, 0x00, 0x00, 0xff, 0xff };
	memcpy(out + o, sync_flush, 5);
	return o + 5;
}

void spdy_data_header(uint8_t out[8], uint32_t stream_id, int fin, size_t len)
{
	put32(out, stream_id & 0x7fffffff);
	out[4] = fin ? SPDY_FLAG_FIN : 0;
	out[5] = (uint8_t)(len >> 16);
	out[6] = (uint8_t)(len >> 8);
	out[7] = (uint8_t)len;
}

void spdy_ping(uint8_t out[12], uint32_t id)
{
	control_header(out, SPDY_PING, 0, 4);
	put32(out + 8, id);
}

void spdy_goaway(uint8_t out[16])
{
	control_header(out, SPDY_GOAWAY, 0, 8);
	put32(out + 8, 0);
	put32(out + 12, 0);
}

long spdy_parse(const uint8_t *buf, size_t len, spdy_frame *f)
{
	if (len < 8)
		return 0;
	size_t flen = ((size_t)buf[5] << 16) | ((size_t)buf[6] << 8) | buf[7];
	if (len < 8 + flen)
		return 0;
	memset(f, 0, sizeof(*f));
	f->flags = buf[4];
	if (!(buf[0] & 0x80)) {
		f->type = SPDY_DATA;
		f->stream_id = get32(buf) & 0x7fffffff;
		f->data = buf + 8;
		f->len = flen;
		return (long)(8 + flen);
	}
	int version = ((buf[0] & 0x7f) << 8) | buf[1];
	if (version != 3)
		return -EPROTO;
	f->type = (buf[2] << 8) | buf[3];
	f->data = buf + 8;
	f->len = flen;
	switch (f->type) {
	case SPDY_SYN_STREAM:
	case SPDY_SYN_REPLY:
	case SPDY_RST_STREAM:
	case SPDY_PING:
	case SPDY_HEADERS:
	case SPDY_WINDOW_UPDATE:
		if (flen < 4)
			return -EPROTO;
		f->stream_id = get32(buf + 8) & 0x7fffffff;
		if (f->type == SPDY_PING)
			f->stream_id = get32(buf + 8);
		break;
	default:
		break;
	}
	return (long)(8 + flen);
}
