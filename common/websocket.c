/* WebSocket framing and handshake helpers; see websocket.h. */
#include "websocket.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <poll.h>
#include <sys/socket.h>

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

/* ---- handshake ---- */

static int is_b64(int c)
{
	return isalnum(c) || c == '+' || c == '/';
}

int kc_ws_accept(const char *key, char out[KC_WS_ACCEPT_LEN])
{
	/* 16 random bytes in base64: 22 characters and "==" (RFC 6455 4.1 item 7) */
	if (!key || strlen(key) != 24 || key[22] != '=' || key[23] != '=')
		return -EINVAL;
	for (int i = 0; i < 22; i++)
		if (!is_b64((unsigned char)key[i]))
			return -EINVAL;
	char buf[24 + sizeof(KC_WS_GUID)];
	memcpy(buf, key, 24);
	memcpy(buf + 24, KC_WS_GUID, sizeof(KC_WS_GUID));
	unsigned char md[SHA_DIGEST_LENGTH];
	SHA1((const unsigned char *)buf, 24 + sizeof(KC_WS_GUID) - 1, md);
	EVP_EncodeBlock((unsigned char *)out, md, SHA_DIGEST_LENGTH);
	return 0;
}

int kc_ws_client_key(char out[25])
{
	unsigned char raw[16];
	if (RAND_bytes(raw, sizeof(raw)) != 1)
		return -EIO;
	EVP_EncodeBlock((unsigned char *)out, raw, sizeof(raw));
	return 0;
}

/* Calls fn for each trimmed comma-separated element of value; stops when fn returns 1. */
static int each_token(const char *value, int (*fn)(const char *t, size_t n, void *arg), void *arg)
{
	if (!value)
		return 0;
	const char *p = value;
	while (*p) {
		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		const char *s = p;
		while (*p && *p != ',')
			p++;
		const char *e = p;
		while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
			e--;
		if (e > s && fn(s, (size_t)(e - s), arg))
			return 1;
	}
	return 0;
}

static int token_eq(const char *t, size_t n, void *arg)
{
	const char *want = arg;
	return strlen(want) == n && !strncasecmp(t, want, n);
}

int kc_ws_header_has_token(const char *value, const char *token)
{
	return each_token(value, token_eq, (void *)token);
}

typedef struct pick {
	const char *const *supported;
	size_t n;
	const char *found;
	size_t found_len;
} pick;

static int pick_one(const char *t, size_t n, void *arg)
{
	pick *p = arg;
	for (size_t i = 0; i < p->n; i++) {
		if (strlen(p->supported[i]) == n && !strncmp(t, p->supported[i], n)) {
			p->found = t;
			p->found_len = n;
			return 1;
		}
	}
	return 0;
}

int kc_ws_pick_protocol(const char *offer, const char *const *supported, size_t n, char *out,
			size_t cap)
{
	pick p = { supported, n, NULL, 0 };
	if (!each_token(offer, pick_one, &p))
		return -ENOENT;
	if (p.found_len + 1 > cap)
		return -ENOSPC;
	memcpy(out, p.found, p.found_len);
	out[p.found_len] = 0;
	return 0;
}

/* ---- encoder ---- */

size_t kc_ws_frame_size(size_t len, int masked)
{
	size_t h = 2;
	if (len > 0xffff)
		h += 8;
	else if (len > 125)
		h += 2;
	return h + (masked ? 4 : 0) + len;
}

size_t kc_ws_frame_header(uint8_t out[KC_WS_MAX_HEADER], int fin, int opcode, uint64_t len)
{
	size_t o = 0;
	out[o++] = (uint8_t)((fin ? 0x80 : 0) | (opcode & 0xf));
	if (len > 0xffff) {
		out[o++] = 127;
		for (int i = 7; i >= 0; i--)
			out[o++] = (uint8_t)(len >> (i * 8));
	} else if (len > 125) {
		out[o++] = 126;
		out[o++] = (uint8_t)(len >> 8);
		out[o++] = (uint8_t)len;
	} else {
		out[o++] = (uint8_t)len;
	}
	return o;
}

size_t kc_ws_frame_encode(uint8_t *out, size_t cap, int fin, int opcode, const uint8_t *mask,
			  const void *payload, size_t len)
{
	if (opcode & 0x8) {
		if (!fin || len > KC_WS_MAX_CONTROL)
			return 0;
	}
	if ((opcode & ~0xf) || (len && !payload))
		return 0;
	size_t need = kc_ws_frame_size(len, mask != NULL);
	if (need > cap)
		return 0;
	size_t o = kc_ws_frame_header(out, fin, opcode, len);
	if (mask)
		out[1] |= 0x80;
	const uint8_t *p = payload;
	if (mask) {
		memcpy(out + o, mask, 4);
		o += 4;
		for (size_t i = 0; i < len; i++)
			out[o + i] = p[i] ^ mask[i & 3];
	} else if (len) {
		memcpy(out + o, p, len);
	}
	return o + len;
}

size_t kc_ws_close_payload(uint8_t out[KC_WS_MAX_CONTROL], unsigned code, const char *reason)
{
	out[0] = (uint8_t)(code >> 8);
	out[1] = (uint8_t)code;
	size_t n = reason ? strlen(reason) : 0;
	if (n > KC_WS_MAX_CONTROL - 2)
		n = KC_WS_MAX_CONTROL - 2;
	if (n)
		memcpy(out + 2, reason, n);
	return 2 + n;
}

/* ---- decoder ---- */

void kc_ws_decoder_init(kc_ws_decoder *d, int server, size_t max_msg)
{
	memset(d, 0, sizeof(*d));
	d->server = server;
	d->max_msg = max_msg;
}

void kc_ws_decoder_close(kc_ws_decoder *d)
{
	free(d->in);
	free(d->msg);
	memset(d, 0, sizeof(*d));
}

int kc_ws_decoder_feed(kc_ws_decoder *d, const void *data, size_t len)
{
	if (d->err)
		return d->err;
	if (!len)
		return 0;
	if (d->in_off) {
		memmove(d->in, d->in + d->in_off, d->in_len - d->in_off);
		d->in_len -= d->in_off;
		d->in_off = 0;
	}
	if (d->in_len + len > d->in_cap) {
		size_t nc = d->in_cap ? d->in_cap : 4096;
		while (nc < d->in_len + len)
			nc *= 2;
		uint8_t *nb = realloc(d->in, nc);
		if (!nb)
			return d->err = -ENOMEM;
		d->in = nb;
		d->in_cap = nc;
	}
	memcpy(d->in + d->in_len, data, len);
	d->in_len += len;
	return 0;
}

static int append_msg(kc_ws_decoder *d, const uint8_t *p, size_t n, const uint8_t *mask)
{
	if (d->msg_len + n > d->max_msg)
		return -EMSGSIZE;
	if (d->msg_len + n > d->msg_cap) {
		size_t nc = d->msg_cap ? d->msg_cap : 1024;
		while (nc < d->msg_len + n)
			nc *= 2;
		uint8_t *nb = realloc(d->msg, nc);
		if (!nb)
			return -ENOMEM;
		d->msg = nb;
		d->msg_cap = nc;
	}
	for (size_t i = 0; i < n; i++)
		d->msg[d->msg_len + i] = mask ? p[i] ^ mask[i & 3] : p[i];
	d->msg_len += n;
	return 0;
}

int kc_ws_decoder_next(kc_ws_decoder *d, kc_ws_message *m)
{
	for (;;) {
		if (d->err)
			return d->err;
		if (d->closed)
			return 0;
		const uint8_t *p = d->in + d->in_off;
		size_t avail = d->in_len - d->in_off;
		if (avail < 2)
			return 0;
		int fin = p[0] & 0x80, opcode = p[0] & 0xf, masked = p[1] & 0x80;
		if (p[0] & 0x70)
			return d->err = -EPROTO; /* no extension was negotiated */
		if (masked != (d->server ? 0x80 : 0))
			return d->err = -EPROTO;
		uint64_t len = p[1] & 0x7f;
		size_t h = 2;
		if (len == 126) {
			if (avail < 4)
				return 0;
			len = ((uint64_t)p[2] << 8) | p[3];
			h = 4;
		} else if (len == 127) {
			if (avail < 10)
				return 0;
			len = 0;
			for (int i = 0; i < 8; i++)
				len = (len << 8) | p[2 + i];
			if (len >> 63)
				return d->err = -EPROTO;
			h = 10;
		}
		int control = opcode & 0x8;
		if (control) {
			if (!fin || len > KC_WS_MAX_CONTROL)
				return d->err = -EPROTO;
			if (opcode != KC_WS_CLOSE && opcode != KC_WS_PING && opcode != KC_WS_PONG)
				return d->err = -EPROTO;
		} else {
			if (opcode != KC_WS_CONT && opcode != KC_WS_TEXT && opcode != KC_WS_BINARY)
				return d->err = -EPROTO;
			if (opcode == KC_WS_CONT && !d->msg_opcode)
				return d->err = -EPROTO;
			if (opcode != KC_WS_CONT && d->msg_opcode)
				return d->err = -EPROTO;
			/* check the size before waiting for the bytes: a huge declared length
			 * must not make us buffer it */
			if (len > d->max_msg || d->msg_len + len > d->max_msg)
				return d->err = -EMSGSIZE;
		}
		const uint8_t *mask = NULL;
		if (masked) {
			if (avail < h + 4)
				return 0;
			mask = p + h;
			h += 4;
		}
		if (avail - h < len)
			return 0;
		const uint8_t *payload = p + h;
		d->in_off += h + (size_t)len;
		if (control) {
			for (size_t i = 0; i < len; i++)
				d->ctl[i] = mask ? payload[i] ^ mask[i & 3] : payload[i];
			m->opcode = opcode;
			m->data = d->ctl;
			m->len = (size_t)len;
			m->close_code = 0;
			if (opcode == KC_WS_CLOSE) {
				if (len == 1)
					return d->err = -EPROTO;
				m->close_code = len >= 2 ? ((unsigned)d->ctl[0] << 8) | d->ctl[1] : 1005;
				d->closed = 1;
			}
			return 1;
		}
		if (opcode != KC_WS_CONT) {
			d->msg_opcode = opcode;
			d->msg_len = 0;
		}
		int rc = append_msg(d, payload, (size_t)len, mask);
		if (rc < 0)
			return d->err = rc;
		if (!fin)
			continue;
		m->opcode = d->msg_opcode;
		m->data = d->msg ? d->msg : (const uint8_t *)"";
		m->len = d->msg_len;
		m->close_code = 0;
		d->msg_opcode = 0;
		return 1;
	}
}

/* ---- I/O ---- */

int kc_ws_send_all(int fd, const void *buf, size_t len, int timeout_ms)
{
	const uint8_t *p = buf;
	while (len) {
		ssize_t w = send(fd, p, len, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			struct pollfd pf = { .fd = fd, .events = POLLOUT };
			if (poll(&pf, 1, timeout_ms) <= 0)
				return -ETIMEDOUT;
			continue;
		}
		if (w <= 0)
			return -EPIPE;
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

/* ---- scanner ---- */

int kc_ws_scan(kc_ws_scanner *s, const uint8_t *p, size_t n)
{
	while (n && !s->closed && !s->err) {
		if (s->skip) {
			size_t k = s->skip < n ? (size_t)s->skip : n;
			s->skip -= k;
			p += k;
			n -= k;
			if (!s->skip && s->in_close)
				s->closed = 1;
			continue;
		}
		s->hdr[s->hlen++] = *p++;
		n--;
		if (s->hlen < 2)
			continue;
		size_t need = 2 + ((s->hdr[1] & 0x7f) == 126 ? 2 : (s->hdr[1] & 0x7f) == 127 ? 8 : 0) +
			      ((s->hdr[1] & 0x80) ? 4 : 0);
		if (s->hlen < need)
			continue;
		uint64_t len = s->hdr[1] & 0x7f;
		if (len == 126) {
			len = ((uint64_t)s->hdr[2] << 8) | s->hdr[3];
		} else if (len == 127) {
			len = 0;
			for (int i = 0; i < 8; i++)
				len = (len << 8) | s->hdr[2 + i];
			if (len >> 63)
				s->err = -EPROTO;
		}
		s->in_close = (s->hdr[0] & 0xf) == KC_WS_CLOSE;
		s->skip = len;
		s->hlen = 0;
		if (!len && s->in_close)
			s->closed = 1;
	}
	return s->err ? s->err : s->closed;
}
