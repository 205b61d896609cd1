/* The text side of etcd's JSON encoding (jsonpb.h): the output buffer, JSON strings as
 * Go's encoding/json writes them, and base64 as grpc-gateway encodes bytes. The message
 * encoder and decoder (jsonpb.c) build on these. */
#include "jsonpb.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------------------------
 * Buffer */

void jpb_buf_init(struct jpb_buf *b)
{
	b->data = NULL;
	b->len = b->cap = 0;
}

void jpb_buf_free(struct jpb_buf *b)
{
	free(b->data);
	jpb_buf_init(b);
}

char *jpb_buf_take(struct jpb_buf *b, size_t *len)
{
	char *d = b->data;
	if (len)
		*len = b->len;
	if (!d)
		d = calloc(1, 1);
	jpb_buf_init(b);
	return d;
}

static int buf_reserve(struct jpb_buf *b, size_t n)
{
	if (b->len + n + 1 <= b->cap)
		return 0;
	size_t cap = b->cap ? b->cap : 256;
	while (cap < b->len + n + 1)
		cap *= 2;
	char *d = realloc(b->data, cap);
	if (!d)
		return -ENOMEM;
	b->data = d;
	b->cap = cap;
	return 0;
}

int jpb_buf_append(struct jpb_buf *b, const void *s, size_t n)
{
	if (buf_reserve(b, n))
		return -ENOMEM;
	if (n)
		memcpy(b->data + b->len, s, n);
	b->len += n;
	b->data[b->len] = 0;
	return 0;
}

int jpb_buf_puts(struct jpb_buf *b, const char *s)
{
	return jpb_buf_append(b, s, strlen(s));
}

int jpb_buf_printf(struct jpb_buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -EINVAL;
	if (buf_reserve(b, (size_t)n))
		return -ENOMEM;
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return 0;
}

/* Length of the valid UTF-8 sequence at s (1..4), or 0 if invalid (Go replaces each
 * invalid byte with U+FFFD). */
size_t jpb_utf8_len(const unsigned char *s, size_t n)
{
	unsigned c = s[0];
	if (c < 0x80)
		return 1;
	size_t need;
	unsigned min;
	if ((c & 0xe0) == 0xc0) {
		need = 2;
		min = 0x80;
	} else if ((c & 0xf0) == 0xe0) {
		need = 3;
		min = 0x800;
	} else if ((c & 0xf8) == 0xf0) {
		need = 4;
		min = 0x10000;
	} else {
		return 0;
	}
	if (n < need)
		return 0;
	unsigned cp = c & (0x7f >> need);
	for (size_t i = 1; i < need; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return need;
}

int jpb_buf_json_string(struct jpb_buf *b, const char *str, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *s = (const unsigned char *)str;
	if (jpb_buf_append(b, "\"", 1))
		return -ENOMEM;
	size_t start = 0, i = 0;
	while (i < n) {
		unsigned c = s[i];
		if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\' && c != '<' && c != '>' &&
		    c != '&') {
			i++;
			continue;
		}
		char esc[8];
		size_t elen = 0, adv = 1;
		if (c < 0x80) {
			if (c == '"' || c == '\\') {
				esc[0] = '\\';
				esc[1] = (char)c;
				elen = 2;
			} else if (c == '\n' || c == '\r' || c == '\t') {
				esc[0] = '\\';
				esc[1] = c == '\n' ? 'n' : c == '\r' ? 'r' : 't';
				elen = 2;
			} else {
				memcpy(esc, "\\u00", 4);
				esc[4] = hex[c >> 4];
				esc[5] = hex[c & 15];
				elen = 6;
			}
		} else {
			size_t l = jpb_utf8_len(s + i, n - i);
			if (l == 0) {
				memcpy(esc, "\\ufffd", 6);
				elen = 6;
			} else if (l == 3 && c == 0xe2 && s[i + 1] == 0x80 &&
				   (s[i + 2] == 0xa8 || s[i + 2] == 0xa9)) {
				memcpy(esc, s[i + 2] == 0xa8 ? "\\u2028" : "\\u2029", 6);
				elen = 6;
				adv = 3;
			} else {
				i += l;
				continue;
			}
		}
		if (jpb_buf_append(b, s + start, i - start) || jpb_buf_append(b, esc, elen))
			return -ENOMEM;
		i += adv;
		start = i;
	}
	if (jpb_buf_append(b, s + start, n - start) || jpb_buf_append(b, "\"", 1))
		return -ENOMEM;
	return 0;
}

/* ------------------------------------------------------------------------------------
 * Base64 (standard alphabet, padded), decoding exactly as Go's encoding/base64 so the
 * error offsets match etcd's "illegal base64 data at input byte N". */

static const char b64chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int jpb_base64_encode(struct jpb_buf *out, const uint8_t *p, size_t n)
{
	if (buf_reserve(out, (n + 2) / 3 * 4))
		return -ENOMEM;
	char *d = out->data + out->len;
	size_t i = 0;
	for (; i + 3 <= n; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
		*d++ = b64chars[v >> 18];
		*d++ = b64chars[(v >> 12) & 63];
		*d++ = b64chars[(v >> 6) & 63];
		*d++ = b64chars[v & 63];
	}
	if (n - i == 1) {
		uint32_t v = (uint32_t)p[i] << 16;
		*d++ = b64chars[v >> 18];
		*d++ = b64chars[(v >> 12) & 63];
		*d++ = '=';
		*d++ = '=';
	} else if (n - i == 2) {
		uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;
		*d++ = b64chars[v >> 18];
		*d++ = b64chars[(v >> 12) & 63];
		*d++ = b64chars[(v >> 6) & 63];
		*d++ = '=';
	}
	out->len = (size_t)(d - out->data);
	out->data[out->len] = 0;
	return 0;
}

static int b64val(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/* Standard alphabet: value + 1 per byte, 0 for anything else (padding, newlines and
 * invalid bytes take the quantum-by-quantum path). */
static const uint8_t b64dec[256] = {
	 0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,
	 0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,
	 0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0, 63,  0,  0,  0, 64,
	53, 54, 55, 56, 57, 58, 59, 60, 61, 62,  0,  0,  0,  0,  0,  0,
	 0,  1,  2,  3,  4,  5,  6,  7,  8,  9, 10, 11, 12, 13, 14, 15,
	16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26,  0,  0,  0,  0,  0,
	 0, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41,
	42, 43, 44, 45, 46, 47, 48, 49, 50, 51, 52,  0,  0,  0,  0,  0,
	 0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,
	 0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,
	 0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,
	 0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,
	 0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,
	 0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,
	 0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,
	 0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,
};

/* Go's (*Encoding).decodeQuantum, non-strict, padChar '='. */
long jpb_base64_decode(const char *src, size_t n, uint8_t *dst, size_t *bad)
{
	size_t si = 0, di = 0;
	for (;;) {
		/* Fast path: whole quantums of four alphabet bytes (all of a value but its
		 * last quantum), decoded as the loop below would, without its branches. */
		while (n - si >= 4) {
			const unsigned char *q = (const unsigned char *)src + si;
			unsigned a = b64dec[q[0]], b = b64dec[q[1]], c = b64dec[q[2]], d = b64dec[q[3]];
			if (!a || !b || !c || !d)
				break;
			uint32_t val = (a - 1) << 18 | (b - 1) << 12 | (c - 1) << 6 | (d - 1);
			dst[di++] = (uint8_t)(val >> 16);
			dst[di++] = (uint8_t)(val >> 8);
			dst[di++] = (uint8_t)val;
			si += 4;
		}
		uint8_t dbuf[4] = { 0, 0, 0, 0 };
		size_t dlen = 4;
		bool end = false;
		for (size_t j = 0; j < 4; j++) {
			if (si == n) {
				if (j == 0)
					return (long)di;
				/* j == 1, or any short quantum: padding is required. */
				*bad = si - j;
				return -1;
			}
			unsigned char in = (unsigned char)src[si++];
			int v = b64val(in);
			if (v >= 0) {
				dbuf[j] = (uint8_t)v;
				continue;
			}
			if (in == '\n' || in == '\r') {
				j--;
				continue;
			}
			if (in != '=') {
				*bad = si - 1;
				return -1;
			}
			/* Padding reached. */
			if (j == 0 || j == 1) {
				*bad = si - 1;
				return -1;
			}
			if (j == 2) {
				while (si < n && (src[si] == '\n' || src[si] == '\r'))
					si++;
				if (si == n) {
					*bad = n;
					return -1;
				}
				if (src[si] != '=') {
					*bad = si - 1;
					return -1;
				}
				si++;
			}
			while (si < n && (src[si] == '\n' || src[si] == '\r'))
				si++;
			if (si < n) {
				*bad = si; /* trailing garbage */
				return -1;
			}
			dlen = j;
			end = true;
			break;
		}
		uint32_t val = (uint32_t)dbuf[0] << 18 | (uint32_t)dbuf[1] << 12 |
			       (uint32_t)dbuf[2] << 6 | dbuf[3];
		uint8_t o[3] = { (uint8_t)(val >> 16), (uint8_t)(val >> 8), (uint8_t)val };
		for (size_t k = 0; k + 1 < dlen; k++)
			dst[di++] = o[k];
		if (end)
			return (long)di;
	}
}
