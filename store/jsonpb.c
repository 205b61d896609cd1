/* etcd's JSON encoding of protobuf-c messages: see jsonpb.h for the rules mirrored. */
#include "jsonpb.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------------------------
 * Encoding */

static size_t elem_size(ProtobufCType t)
{
	switch (t) {
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
	case PROTOBUF_C_TYPE_DOUBLE:
		return 8;
	case PROTOBUF_C_TYPE_STRING:
		return sizeof(char *);
	case PROTOBUF_C_TYPE_BYTES:
		return sizeof(ProtobufCBinaryData);
	case PROTOBUF_C_TYPE_MESSAGE:
		return sizeof(ProtobufCMessage *);
	case PROTOBUF_C_TYPE_BOOL:
		return sizeof(protobuf_c_boolean);
	default:
		return 4;
	}
}

/* Is the scalar at p its type's zero value? */
static bool value_is_zero(const ProtobufCFieldDescriptor *f, const void *p)
{
	switch (f->type) {
	case PROTOBUF_C_TYPE_STRING: {
		const char *s = *(char *const *)p;
		return !s || !*s;
	}
	case PROTOBUF_C_TYPE_BYTES:
		return ((const ProtobufCBinaryData *)p)->len == 0;
	case PROTOBUF_C_TYPE_MESSAGE:
		return *(ProtobufCMessage *const *)p == NULL;
	case PROTOBUF_C_TYPE_BOOL:
		return *(const protobuf_c_boolean *)p == 0;
	case PROTOBUF_C_TYPE_FLOAT:
		return *(const float *)p == 0;
	case PROTOBUF_C_TYPE_DOUBLE:
		return *(const double *)p == 0;
	default:
		if (elem_size(f->type) == 8)
			return *(const uint64_t *)p == 0;
		return *(const uint32_t *)p == 0;
	}
}

/* Decimal integer, optionally quoted (jsonpb writes 64-bit integers as strings). The
 * encoder's hottest path (every revision in every watch event and response), so
 * formatted here instead of through two vsnprintf calls. */
static int put_int(struct jpb_buf *b, bool neg, uint64_t v, bool quoted)
{
	char tmp[24];
	size_t i = sizeof(tmp);
	if (quoted)
		tmp[--i] = '"';
	do {
		tmp[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	if (neg)
		tmp[--i] = '-';
	if (quoted)
		tmp[--i] = '"';
	return jpb_buf_append(b, tmp + i, sizeof(tmp) - i);
}

static int put_signed(struct jpb_buf *b, int64_t v, bool quoted)
{
	/* magnitude computed unsigned, so INT64_MIN does not overflow */
	return put_int(b, v < 0, v < 0 ? 0 - (uint64_t)v : (uint64_t)v, quoted);
}

static int encode_value(const ProtobufCFieldDescriptor *f, const void *p, struct jpb_buf *b)
{
	switch (f->type) {
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SFIXED32:
		return put_signed(b, *(const int32_t *)p, false);
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32:
		return put_int(b, false, *(const uint32_t *)p, false);
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
		return put_signed(b, *(const int64_t *)p, true);
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
		return put_int(b, false, *(const uint64_t *)p, true);
	case PROTOBUF_C_TYPE_FLOAT:
		return jpb_buf_printf(b, "%.9g", (double)*(const float *)p);
	case PROTOBUF_C_TYPE_DOUBLE:
		return jpb_buf_printf(b, "%.17g", *(const double *)p);
	case PROTOBUF_C_TYPE_BOOL:
		return jpb_buf_puts(b, *(const protobuf_c_boolean *)p ? "true" : "false");
	case PROTOBUF_C_TYPE_ENUM: {
		int v = *(const int *)p;
		const ProtobufCEnumValue *ev =
			protobuf_c_enum_descriptor_get_value(f->descriptor, v);
		if (ev)
			return jpb_buf_append(b, "\"", 1) || jpb_buf_puts(b, ev->name) ||
					       jpb_buf_append(b, "\"", 1)
				       ? -ENOMEM
				       : 0;
		return put_signed(b, v, false);
	}
	case PROTOBUF_C_TYPE_STRING: {
		const char *s = *(char *const *)p;
		return jpb_buf_json_string(b, s ? s : "", s ? strlen(s) : 0);
	}
	case PROTOBUF_C_TYPE_BYTES: {
		const ProtobufCBinaryData *bd = p;
		if (jpb_buf_append(b, "\"", 1) || jpb_base64_encode(b, bd->data, bd->len) ||
		    jpb_buf_append(b, "\"", 1))
			return -ENOMEM;
		return 0;
	}
	case PROTOBUF_C_TYPE_MESSAGE: {
		const ProtobufCMessage *m = *(ProtobufCMessage *const *)p;
		if (!m)
			return jpb_buf_puts(b, "{}");
		return jpb_encode(m, b);
	}
	}
	return -EINVAL;
}

int jpb_encode(const ProtobufCMessage *msg, struct jpb_buf *b)
{
	const ProtobufCMessageDescriptor *d = msg->descriptor;
	const char *base = (const char *)msg;
	bool first = true;
	if (jpb_buf_append(b, "{", 1))
		return -ENOMEM;
	for (unsigned i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &d->fields[i];
		const void *p = base + f->offset;
		size_t count = 1;
		if (f->label == PROTOBUF_C_LABEL_REPEATED) {
			count = *(const size_t *)(base + f->quantifier_offset);
			if (count == 0)
				continue;
		} else if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
			/* A set oneof member is written even when zero (jsonpb). */
			if (*(const uint32_t *)(base + f->quantifier_offset) != f->id)
				continue;
		} else if (f->label == PROTOBUF_C_LABEL_OPTIONAL &&
			   f->type != PROTOBUF_C_TYPE_MESSAGE && f->type != PROTOBUF_C_TYPE_STRING) {
			if (!*(const protobuf_c_boolean *)(base + f->quantifier_offset))
				continue;
		} else if (f->type == PROTOBUF_C_TYPE_MESSAGE) {
			if (!*(ProtobufCMessage *const *)p)
				continue;
		} else if (value_is_zero(f, p)) {
			continue;
		}
		if (!first && jpb_buf_append(b, ",", 1))
			return -ENOMEM;
		first = false;
		if (jpb_buf_append(b, "\"", 1) || jpb_buf_puts(b, f->name) ||
		    jpb_buf_append(b, "\":", 2))
			return -ENOMEM;
		if (f->label != PROTOBUF_C_LABEL_REPEATED) {
			int rc = encode_value(f, p, b);
			if (rc)
				return rc;
			continue;
		}
		const char *arr = *(char *const *)p;
		size_t es = elem_size(f->type);
		if (jpb_buf_append(b, "[", 1))
			return -ENOMEM;
		for (size_t k = 0; k < count; k++) {
			if (k && jpb_buf_append(b, ",", 1))
				return -ENOMEM;
			int rc = encode_value(f, arr + k * es, b);
			if (rc)
				return rc;
		}
		if (jpb_buf_append(b, "]", 1))
			return -ENOMEM;
	}
	return jpb_buf_append(b, "}", 1);
}

/* ------------------------------------------------------------------------------------
 * JSON scanning into a flat tree, with Go's encoding/json error texts. */

enum { JN_NULL, JN_BOOL, JN_NUM, JN_STR, JN_ARR, JN_OBJ };

struct jnode {
	int type;
	bool bval;
	size_t start, end;   /* value text; for strings, between the quotes */
	size_t kstart, kend; /* member key (between quotes), for object members */
	bool kesc, vesc;     /* key / string value contains escapes */
	int child, next;     /* first child, next sibling (-1 = none) */
};

#define JPB_MAX_DEPTH 1000

struct scanner {
	const char *s;
	size_t n, i;
	struct jnode *nodes;
	int nn, cap;
	char *err;
	size_t errlen;
	int depth;
};

/* Go's quoteChar: the offending byte as it appears in "invalid character '%s'". */
static void quote_char(unsigned char c, char *out, size_t outlen)
{
	if (c == '\'') {
		snprintf(out, outlen, "'\\''");
	} else if (c == '"') {
		snprintf(out, outlen, "'\"'");
	} else if (c == '\\') {
		snprintf(out, outlen, "'\\\\'");
	} else if (c >= 0x20 && c < 0x7f) {
		snprintf(out, outlen, "'%c'", c);
	} else if (c == '\a' || c == '\b' || c == '\f' || c == '\n' || c == '\r' || c == '\t' ||
		   c == '\v') {
		const char *m = "abfnrtv";
		const char *cs = "\a\b\f\n\r\t\v";
		snprintf(out, outlen, "'\\%c'", m[strchr(cs, c) - cs]);
	} else if (c < 0x20 || c == 0x7f) {
		snprintf(out, outlen, "'\\x%02x'", c);
	} else if (c < 0xa0 || c == 0xad) {
		/* Go converts the byte to the rune U+00XX; these are not printable. */
		snprintf(out, outlen, "'\\u%04x'", c);
	} else {
		snprintf(out, outlen, "'%c%c'", 0xc0 | (c >> 6), 0x80 | (c & 0x3f));
	}
}

static int scan_fail(struct scanner *sc, const char *context)
{
	if (sc->i >= sc->n) {
		snprintf(sc->err, sc->errlen, "unexpected EOF");
		return JPB_EPARTIAL;
	} else {
		char q[16];
		quote_char((unsigned char)sc->s[sc->i], q, sizeof(q));
		snprintf(sc->err, sc->errlen, "invalid character %s %s", q, context);
	}
	return JPB_ESYNTAX;
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static void skip_space(struct scanner *sc)
{
	while (sc->i < sc->n && is_space(sc->s[sc->i]))
		sc->i++;
}

static int new_node(struct scanner *sc, int type)
{
	if (sc->nn == sc->cap) {
		int cap = sc->cap ? sc->cap * 2 : 32;
		struct jnode *nn = realloc(sc->nodes, (size_t)cap * sizeof(*nn));
		if (!nn)
			return -ENOMEM;
		sc->nodes = nn;
		sc->cap = cap;
	}
	struct jnode *n = &sc->nodes[sc->nn];
	memset(n, 0, sizeof(*n));
	n->type = type;
	n->child = n->next = -1;
	return sc->nn++;
}

static bool is_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* At the opening quote; leaves sc->i after the closing quote. */
static uint64_t load8(const char *p)
{
	uint64_t v;
	memcpy(&v, p, 8);
	return v;
}

/* Does any byte of v end an ordinary run in a JSON string: '"', '\\' or a control
 * byte (< 0x20)? The usual SWAR tests: a zero byte of v ^ c, a byte below 0x20;
 * bytes >= 0x80 never match. */
static bool word_special(uint64_t v)
{
	const uint64_t ones = 0x0101010101010101ull, high = 0x8080808080808080ull;
	uint64_t q = v ^ (ones * '"'), b = v ^ (ones * '\\');
	uint64_t t = ((q - ones) & ~q) | ((b - ones) & ~b) | ((v - ones * 0x20) & ~v);
	return (t & high) != 0;
}

/* Does any byte of v have its high bit set, or equal '\\'? */
static bool word_high_or_backslash(uint64_t v)
{
	const uint64_t ones = 0x0101010101010101ull, high = 0x8080808080808080ull;
	uint64_t b = v ^ (ones * '\\');
	return ((v | ((b - ones) & ~b)) & high) != 0;
}

static int scan_string(struct scanner *sc, size_t *start, size_t *end, bool *esc)
{
	sc->i++;
	*start = sc->i;
	*esc = false;
	while (sc->i < sc->n) {
		/* Ordinary bytes eight at a time: a string value here is mostly base64 of a
		 * whole object (a few KB per Txn), and the byte loop was the store's largest
		 * own cost per write. */
		while (sc->n - sc->i >= 8 && !word_special(load8(sc->s + sc->i)))
			sc->i += 8;
		if (sc->i >= sc->n)
			break;
		unsigned char c = (unsigned char)sc->s[sc->i];
		if (c == '"') {
			*end = sc->i++;
			return 0;
		}
		if (c < 0x20)
			return scan_fail(sc, "in string literal");
		if (c == '\\') {
			*esc = true;
			sc->i++;
			if (sc->i >= sc->n)
				break;
			c = (unsigned char)sc->s[sc->i];
			if (c == 'u') {
				for (int k = 0; k < 4; k++) {
					sc->i++;
					if (sc->i >= sc->n)
						return scan_fail(sc, "");
					if (!is_hex(sc->s[sc->i]))
						return scan_fail(
							sc, "in \\u hexadecimal character escape");
				}
			} else if (!strchr("\"\\/bfnrt", c) || c == 0) {
				return scan_fail(sc, "in string escape code");
			}
		}
		sc->i++;
	}
	return scan_fail(sc, "");
}

static int scan_number(struct scanner *sc)
{
	const char *s = sc->s;
	if (s[sc->i] == '-') {
		sc->i++;
		if (sc->i >= sc->n)
			return scan_fail(sc, "");
		if (s[sc->i] < '0' || s[sc->i] > '9')
			return scan_fail(sc, "in numeric literal");
	}
	if (s[sc->i] == '0') {
		sc->i++;
	} else {
		while (sc->i < sc->n && s[sc->i] >= '0' && s[sc->i] <= '9')
			sc->i++;
	}
	if (sc->i < sc->n && s[sc->i] == '.') {
		sc->i++;
		if (sc->i >= sc->n)
			return scan_fail(sc, "");
		if (s[sc->i] < '0' || s[sc->i] > '9')
			return scan_fail(sc, "after decimal point in numeric literal");
		while (sc->i < sc->n && s[sc->i] >= '0' && s[sc->i] <= '9')
			sc->i++;
	}
	if (sc->i < sc->n && (s[sc->i] == 'e' || s[sc->i] == 'E')) {
		sc->i++;
		if (sc->i < sc->n && (s[sc->i] == '+' || s[sc->i] == '-'))
			sc->i++;
		if (sc->i >= sc->n)
			return scan_fail(sc, "");
		if (s[sc->i] < '0' || s[sc->i] > '9')
			return scan_fail(sc, "in exponent of numeric literal");
		while (sc->i < sc->n && s[sc->i] >= '0' && s[sc->i] <= '9')
			sc->i++;
	}
	/* A number at the very end of the input is unterminated for a streaming
	 * decoder (more digits could follow): Go reports unexpected EOF. */
	if (sc->i >= sc->n)
		return scan_fail(sc, "");
	return 0;
}

static int scan_literal(struct scanner *sc, const char *lit)
{
	sc->i++;
	for (size_t k = 1; lit[k]; k++, sc->i++) {
		if (sc->i >= sc->n)
			return scan_fail(sc, "");
		if (sc->s[sc->i] != lit[k]) {
			char ctx[64];
			snprintf(ctx, sizeof(ctx), "in literal %s (expecting '%c')", lit, lit[k]);
			return scan_fail(sc, ctx);
		}
	}
	return 0;
}

static int scan_value(struct scanner *sc);

static int scan_object(struct scanner *sc, int self)
{
	int last = -1;
	sc->i++;
	skip_space(sc);
	if (sc->i < sc->n && sc->s[sc->i] == '}') {
		sc->i++;
		return 0;
	}
	for (;;) {
		skip_space(sc);
		if (sc->i >= sc->n || sc->s[sc->i] != '"')
			return scan_fail(sc, "looking for beginning of object key string");
		size_t ks, ke;
		bool kesc;
		int rc = scan_string(sc, &ks, &ke, &kesc);
		if (rc)
			return rc;
		skip_space(sc);
		if (sc->i >= sc->n || sc->s[sc->i] != ':')
			return scan_fail(sc, "after object key");
		sc->i++;
		skip_space(sc);
		int v = scan_value(sc);
		if (v < 0)
			return v;
		sc->nodes[v].kstart = ks;
		sc->nodes[v].kend = ke;
		sc->nodes[v].kesc = kesc;
		if (last < 0)
			sc->nodes[self].child = v;
		else
			sc->nodes[last].next = v;
		last = v;
		skip_space(sc);
		if (sc->i >= sc->n)
			return scan_fail(sc, "");
		if (sc->s[sc->i] == ',') {
			sc->i++;
			continue;
		}
		if (sc->s[sc->i] == '}') {
			sc->i++;
			return 0;
		}
		return scan_fail(sc, "after object key:value pair");
	}
}

static int scan_array(struct scanner *sc, int self)
{
	int last = -1;
	sc->i++;
	skip_space(sc);
	if (sc->i < sc->n && sc->s[sc->i] == ']') {
		sc->i++;
		return 0;
	}
	for (;;) {
		skip_space(sc);
		int v = scan_value(sc);
		if (v < 0)
			return v;
		if (last < 0)
			sc->nodes[self].child = v;
		else
			sc->nodes[last].next = v;
		last = v;
		skip_space(sc);
		if (sc->i >= sc->n)
			return scan_fail(sc, "");
		if (sc->s[sc->i] == ',') {
			sc->i++;
			continue;
		}
		if (sc->s[sc->i] == ']') {
			sc->i++;
			return 0;
		}
		return scan_fail(sc, "after array element");
	}
}

/* Returns the node index (>= 0) or a negative error. */
static int scan_value(struct scanner *sc)
{
	if (sc->i >= sc->n)
		return scan_fail(sc, "");
	char c = sc->s[sc->i];
	int idx, rc = 0;
	switch (c) {
	case '{':
	case '[':
		if (++sc->depth > JPB_MAX_DEPTH) {
			snprintf(sc->err, sc->errlen, "exceeded max depth");
			return JPB_ESYNTAX;
		}
		idx = new_node(sc, c == '{' ? JN_OBJ : JN_ARR);
		if (idx < 0)
			return idx;
		sc->nodes[idx].start = sc->i;
		rc = c == '{' ? scan_object(sc, idx) : scan_array(sc, idx);
		sc->depth--;
		break;
	case '"': {
		idx = new_node(sc, JN_STR);
		if (idx < 0)
			return idx;
		size_t st, en;
		bool esc;
		rc = scan_string(sc, &st, &en, &esc);
		sc->nodes[idx].start = st;
		sc->nodes[idx].end = en;
		sc->nodes[idx].vesc = esc;
		return rc ? rc : idx;
	}
	case 't':
	case 'f':
	case 'n':
		idx = new_node(sc, c == 'n' ? JN_NULL : JN_BOOL);
		if (idx < 0)
			return idx;
		sc->nodes[idx].bval = c == 't';
		sc->nodes[idx].start = sc->i;
		rc = scan_literal(sc, c == 't' ? "true" : c == 'f' ? "false" : "null");
		break;
	default:
		if (c != '-' && (c < '0' || c > '9'))
			return scan_fail(sc, "looking for beginning of value");
		idx = new_node(sc, JN_NUM);
		if (idx < 0)
			return idx;
		sc->nodes[idx].start = sc->i;
		rc = scan_number(sc);
		break;
	}
	if (rc)
		return rc;
	sc->nodes[idx].end = sc->i;
	return idx;
}

/* ------------------------------------------------------------------------------------
 * Strings: unescape JSON text (as Go: invalid UTF-8 and lone surrogates become U+FFFD). */

static int hex4(const char *p)
{
	int v = 0;
	for (int k = 0; k < 4; k++) {
		char c = p[k];
		v = v * 16 + (c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10);
	}
	return v;
}

static size_t put_utf8(char *o, unsigned cp)
{
	if (cp < 0x80) {
		o[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = (char)(0xc0 | (cp >> 6));
		o[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = (char)(0xe0 | (cp >> 12));
		o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		o[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	o[0] = (char)(0xf0 | (cp >> 18));
	o[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	o[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	o[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/* Unescaped copy of s[start..end) into a malloc'd NUL-terminated buffer. The result
 * is never longer than 3x the input (a bad byte becomes 3-byte U+FFFD). */
static char *unescape(const char *s, size_t start, size_t end, size_t *outlen)
{
	size_t n = end - start, a = 0;
	while (n - a >= 8 && !word_high_or_backslash(load8(s + start + a)))
		a += 8;
	while (a < n && (unsigned char)s[start + a] < 0x80 && s[start + a] != '\\')
		a++;
	if (a == n) { /* plain ASCII (the common case): a copy */
		char *o = malloc(n + 1);
		if (!o)
			return NULL;
		memcpy(o, s + start, n);
		o[n] = 0;
		*outlen = n;
		return o;
	}
	char *o = malloc((end - start) * 3 + 1);
	if (!o)
		return NULL;
	size_t k = 0, i = start;
	while (i < end) {
		unsigned char c = (unsigned char)s[i];
		if (c == '\\') {
			char e = s[i + 1];
			i += 2;
			switch (e) {
			case 'b': o[k++] = '\b'; break;
			case 'f': o[k++] = '\f'; break;
			case 'n': o[k++] = '\n'; break;
			case 'r': o[k++] = '\r'; break;
			case 't': o[k++] = '\t'; break;
			case 'u': {
				unsigned cp = (unsigned)hex4(s + i);
				i += 4;
				if (cp >= 0xd800 && cp < 0xdc00 && i + 6 <= end && s[i] == '\\' &&
				    s[i + 1] == 'u') {
					unsigned lo = (unsigned)hex4(s + i + 2);
					if (lo >= 0xdc00 && lo < 0xe000) {
						cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
						i += 6;
					} else {
						cp = 0xfffd;
					}
				} else if (cp >= 0xd800 && cp < 0xe000) {
					cp = 0xfffd;
				}
				k += put_utf8(o + k, cp);
				break;
			}
			default: o[k++] = e; break;
			}
			continue;
		}
		if (c < 0x80) {
			o[k++] = (char)c;
			i++;
			continue;
		}
		size_t l = jpb_utf8_len((const unsigned char *)s + i, end - i);
		if (l == 0) {
			k += put_utf8(o + k, 0xfffd);
			i++;
		} else {
			memcpy(o + k, s + i, l);
			k += l;
			i += l;
		}
	}
	o[k] = 0;
	*outlen = k;
	return o;
}

/* ------------------------------------------------------------------------------------
 * Mapping the tree onto a message. */

struct dctx {
	const char *s;
	struct jnode *nodes;
	char *err;
	size_t errlen;
};

static const char *kind_name(int type)
{
	switch (type) {
	case JN_STR: return "string";
	case JN_NUM: return "number";
	case JN_BOOL: return "bool";
	case JN_ARR: return "array";
	case JN_OBJ: return "object";
	}
	return "null";
}

/* Go type name for a proto package: etcd's messages live in package etcdserverpb
 * (mvccpb for KeyValue/Event); ours is kvpb, so report Go's names. */
static const char *go_package(const char *pkg)
{
	if (pkg && strcmp(pkg, "kvpb") == 0)
		return "etcdserverpb";
	return pkg ? pkg : "";
}

static void enum_go_name(const ProtobufCEnumDescriptor *ed, char *out, size_t outlen)
{
	const char *pkg = ed->package_name ? ed->package_name : "";
	const char *rest = ed->name;
	size_t pl = strlen(pkg);
	if (pl && strncmp(rest, pkg, pl) == 0 && rest[pl] == '.')
		rest += pl + 1;
	int n = snprintf(out, outlen, "%s.%s", go_package(pkg), rest);
	/* Nested names: RangeRequest.SortOrder -> RangeRequest_SortOrder */
	for (int i = (int)strlen(go_package(pkg)) + 1; i < n && (size_t)i < outlen; i++)
		if (out[i] == '.')
			out[i] = '_';
}

static const char *go_scalar_type(ProtobufCType t)
{
	switch (t) {
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SFIXED32:
		return "int32";
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32:
		return "uint32";
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
		return "int64";
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
		return "uint64";
	case PROTOBUF_C_TYPE_FLOAT:
		return "float32";
	case PROTOBUF_C_TYPE_DOUBLE:
		return "float64";
	case PROTOBUF_C_TYPE_BOOL:
		return "bool";
	case PROTOBUF_C_TYPE_STRING:
		return "string";
	case PROTOBUF_C_TYPE_BYTES:
		return "[]uint8";
	default:
		return "map[string]json.RawMessage";
	}
}

static int type_error(struct dctx *c, const char *kind, const char *gotype)
{
	snprintf(c->err, c->errlen, "json: cannot unmarshal %s into Go value of type %s", kind,
		 gotype);
	return JPB_ETYPE;
}

/* Validate txt[0..n) as a complete JSON number, as json.Unmarshal does on a quoted
 * number's contents. */
static int check_number_text(struct dctx *c, const char *txt, size_t n)
{
	size_t i = 0;
	while (i < n && is_space(txt[i]))
		i++;
	if (i == n) {
		snprintf(c->err, c->errlen, "unexpected end of JSON input");
		return JPB_ESYNTAX;
	}
	/* Go's scanner flushes the end of input as a space, so "-" or "1." fail with
	 * "invalid character ' ' in numeric literal": scan the text plus one space. */
	char *t = malloc(n + 1);
	if (!t)
		return -ENOMEM;
	memcpy(t, txt, n);
	t[n] = ' ';
	struct scanner sc = { .s = t, .n = n + 1, .i = i, .err = c->err, .errlen = c->errlen };
	int rc;
	char ch = t[i];
	if (ch != '-' && (ch < '0' || ch > '9')) {
		rc = scan_fail(&sc, "looking for beginning of value");
	} else {
		rc = scan_number(&sc);
		if (rc == 0) {
			while (sc.i < sc.n && is_space(t[sc.i]))
				sc.i++;
			if (sc.i < sc.n)
				rc = scan_fail(&sc, "after top-level value");
		}
	}
	free(t);
	return rc;
}

/* Decode a scalar number node (JN_NUM or a quoted JN_STR) into the integer at p. */
static int decode_int(struct dctx *c, const ProtobufCFieldDescriptor *f, const struct jnode *nd,
		      void *p)
{
	const char *txt = c->s + nd->start;
	size_t n = nd->end - nd->start;
	if (nd->type == JN_STR) {
		int rc = check_number_text(c, txt, n);
		if (rc)
			return rc;
		while (n && is_space(txt[0])) {
			txt++;
			n--;
		}
		while (n && is_space(txt[n - 1]))
			n--;
	}
	char buf[64];
	const char *gt = go_scalar_type(f->type);
	bool isfloat = f->type == PROTOBUF_C_TYPE_FLOAT || f->type == PROTOBUF_C_TYPE_DOUBLE;
	if (n >= sizeof(buf)) {
		snprintf(c->err, c->errlen, "json: cannot unmarshal number %.*s into Go value of type %s",
			 (int)n, txt, gt);
		return JPB_ETYPE;
	}
	memcpy(buf, txt, n);
	buf[n] = 0;
	char *end;
	errno = 0;
	if (isfloat) {
		double d = strtod(buf, &end);
		if (f->type == PROTOBUF_C_TYPE_FLOAT)
			*(float *)p = (float)d;
		else
			*(double *)p = d;
		return 0;
	}
	bool bad = strpbrk(buf, ".eE") != NULL;
	if (!bad && (f->type == PROTOBUF_C_TYPE_UINT32 || f->type == PROTOBUF_C_TYPE_FIXED32 ||
		     f->type == PROTOBUF_C_TYPE_UINT64 || f->type == PROTOBUF_C_TYPE_FIXED64)) {
		if (buf[0] == '-') {
			bad = true;
		} else {
			unsigned long long v = strtoull(buf, &end, 10);
			if (errno || *end)
				bad = true;
			else if (elem_size(f->type) == 4 && v > UINT32_MAX)
				bad = true;
			else if (elem_size(f->type) == 4)
				*(uint32_t *)p = (uint32_t)v;
			else
				*(uint64_t *)p = v;
		}
	} else if (!bad) {
		long long v = strtoll(buf, &end, 10);
		if (errno || *end)
			bad = true;
		else if (elem_size(f->type) == 4 && (v > INT32_MAX || v < INT32_MIN))
			bad = true;
		else if (elem_size(f->type) == 4)
			*(int32_t *)p = (int32_t)v;
		else
			*(int64_t *)p = v;
	}
	if (bad) {
		snprintf(c->err, c->errlen, "json: cannot unmarshal number %s into Go value of type %s",
			 buf, gt);
		return JPB_ETYPE;
	}
	return 0;
}

static void *new_message(const ProtobufCMessageDescriptor *d)
{
	ProtobufCMessage *m = malloc(d->sizeof_message);
	if (m)
		d->message_init(m);
	return m;
}

static int decode_message(struct dctx *c, const ProtobufCMessageDescriptor *d, int node,
			  ProtobufCMessage *m);

/* Decode node into the single value at p (scalar slot, string, bytes or message ptr). */
static int decode_value(struct dctx *c, const ProtobufCFieldDescriptor *f, int node, void *p)
{
	const struct jnode *nd = &c->nodes[node];
	switch (f->type) {
	case PROTOBUF_C_TYPE_BOOL:
		if (nd->type == JN_NULL)
			return 0;
		if (nd->type != JN_BOOL)
			return type_error(c, kind_name(nd->type), "bool");
		*(protobuf_c_boolean *)p = nd->bval;
		return 0;
	case PROTOBUF_C_TYPE_ENUM: {
		if (nd->type == JN_NULL)
			return 0;
		if (nd->type == JN_STR) {
			size_t l;
			char *s = unescape(c->s, nd->start, nd->end, &l);
			if (!s)
				return -ENOMEM;
			const ProtobufCEnumDescriptor *ed = f->descriptor;
			const ProtobufCEnumValue *ev = protobuf_c_enum_descriptor_get_value_by_name(ed, s);
			if (!ev) {
				char gn[160];
				struct jpb_buf q = { 0 };
				enum_go_name(ed, gn, sizeof(gn));
				jpb_buf_json_string(&q, s, l);
				snprintf(c->err, c->errlen, "unknown value %s for enum %s",
					 q.data ? q.data : "\"\"", gn);
				jpb_buf_free(&q);
				free(s);
				return JPB_ETYPE;
			}
			free(s);
			*(int *)p = ev->value;
			return 0;
		}
		if (nd->type != JN_NUM) {
			char gn[160];
			enum_go_name(f->descriptor, gn, sizeof(gn));
			return type_error(c, kind_name(nd->type), gn);
		}
		ProtobufCFieldDescriptor tmp = *f;
		tmp.type = PROTOBUF_C_TYPE_INT32;
		return decode_int(c, &tmp, nd, p);
	}
	case PROTOBUF_C_TYPE_STRING: {
		if (nd->type == JN_NULL)
			return 0;
		if (nd->type != JN_STR)
			return type_error(c, kind_name(nd->type), "string");
		size_t l;
		char *s = unescape(c->s, nd->start, nd->end, &l);
		if (!s)
			return -ENOMEM;
		char **slot = p;
		if (*slot && *slot != f->default_value && *slot != protobuf_c_empty_string)
			free(*slot);
		*slot = s;
		return 0;
	}
	case PROTOBUF_C_TYPE_BYTES: {
		if (nd->type == JN_NULL)
			return 0;
		if (nd->type != JN_STR)
			return type_error(c, kind_name(nd->type), "[]uint8");
		size_t l = nd->end - nd->start, bad;
		uint8_t *dst = NULL;
		long dl = -1;
		if (!nd->vesc) {
			/* Without escapes the text is the base64 itself: decode it where it
			 * lies. Any other byte fails the decode, and the copy below then
			 * reports it at the same offset as before. */
			if (!(dst = malloc(l / 4 * 3 + 4)))
				return -ENOMEM;
			dl = jpb_base64_decode(c->s + nd->start, l, dst, &bad);
			if (dl < 0) {
				free(dst);
				dst = NULL;
			}
		}
		if (!dst) {
			char *s = unescape(c->s, nd->start, nd->end, &l);
			if (!s)
				return -ENOMEM;
			dst = malloc(l / 4 * 3 + 4);
			if (!dst) {
				free(s);
				return -ENOMEM;
			}
			dl = jpb_base64_decode(s, l, dst, &bad);
			free(s);
		}
		if (dl < 0) {
			free(dst);
			snprintf(c->err, c->errlen, "illegal base64 data at input byte %zu", bad);
			return JPB_ETYPE;
		}
		ProtobufCBinaryData *bd = p;
		if (bd->data && (!f->default_value ||
				 ((const ProtobufCBinaryData *)f->default_value)->data != bd->data))
			free(bd->data);
		if (dl == 0) {
			free(dst);
			dst = NULL;
		}
		bd->data = dst;
		bd->len = (size_t)dl;
		return 0;
	}
	case PROTOBUF_C_TYPE_MESSAGE: {
		if (nd->type == JN_NULL)
			return 0;
		if (nd->type != JN_OBJ)
			return type_error(c, kind_name(nd->type), "map[string]json.RawMessage");
		ProtobufCMessage **slot = p;
		if (*slot) {
			protobuf_c_message_free_unpacked(*slot, NULL);
			*slot = NULL;
		}
		ProtobufCMessage *sub = new_message(f->descriptor);
		if (!sub)
			return -ENOMEM;
		int rc = decode_message(c, f->descriptor, node, sub);
		if (rc) {
			protobuf_c_message_free_unpacked(sub, NULL);
			return rc;
		}
		*slot = sub;
		return 0;
	}
	default:
		if (nd->type == JN_NULL)
			return 0;
		if (nd->type == JN_NUM || nd->type == JN_STR)
			return decode_int(c, f, nd, p);
		return type_error(c, kind_name(nd->type), go_scalar_type(f->type));
	}
}

/* Release what a field holds (repeated arrays, strings, bytes, sub-messages) and reset
 * it to empty, so a duplicate key or a second oneof member does not leak. */
static void clear_field(ProtobufCMessage *m, const ProtobufCFieldDescriptor *f)
{
	char *base = (char *)m;
	void *p = base + f->offset;
	if (f->label == PROTOBUF_C_LABEL_REPEATED) {
		size_t *cnt = (size_t *)(base + f->quantifier_offset);
		char *arr = *(char **)p;
		for (size_t k = 0; k < *cnt; k++) {
			void *e = arr + k * elem_size(f->type);
			if (f->type == PROTOBUF_C_TYPE_STRING)
				free(*(char **)e);
			else if (f->type == PROTOBUF_C_TYPE_BYTES)
				free(((ProtobufCBinaryData *)e)->data);
			else if (f->type == PROTOBUF_C_TYPE_MESSAGE && *(ProtobufCMessage **)e)
				protobuf_c_message_free_unpacked(*(ProtobufCMessage **)e, NULL);
		}
		free(arr);
		*(char **)p = NULL;
		*cnt = 0;
		return;
	}
	if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
		uint32_t *cs = (uint32_t *)(base + f->quantifier_offset);
		if (*cs == 0)
			return;
		/* The union holds the active member, which may be another field. */
		const ProtobufCFieldDescriptor *act =
			protobuf_c_message_descriptor_get_field(m->descriptor, *cs);
		*cs = 0;
		if (!act)
			return;
		if (act->type == PROTOBUF_C_TYPE_STRING) {
			char *s = *(char **)p;
			if (s && s != act->default_value && s != protobuf_c_empty_string)
				free(s);
		} else if (act->type == PROTOBUF_C_TYPE_BYTES) {
			free(((ProtobufCBinaryData *)p)->data);
		} else if (act->type == PROTOBUF_C_TYPE_MESSAGE && *(ProtobufCMessage **)p) {
			protobuf_c_message_free_unpacked(*(ProtobufCMessage **)p, NULL);
		}
		memset(p, 0, elem_size(act->type));
		return;
	}
}

static int decode_repeated(struct dctx *c, ProtobufCMessage *m, const ProtobufCFieldDescriptor *f,
			   int node)
{
	const struct jnode *nd = &c->nodes[node];
	if (nd->type == JN_NULL)
		return 0;
	if (nd->type != JN_ARR)
		return type_error(c, kind_name(nd->type), "[]json.RawMessage");
	clear_field(m, f);
	size_t cnt = 0;
	for (int k = nd->child; k >= 0; k = c->nodes[k].next)
		cnt++;
	if (cnt == 0)
		return 0;
	size_t es = elem_size(f->type);
	char *arr = calloc(cnt, es);
	if (!arr)
		return -ENOMEM;
	char *base = (char *)m;
	*(char **)(base + f->offset) = arr;
	/* Counted up front: every slot starts zeroed (NULL), so clear_field can release
	 * a partly decoded array on failure. */
	*(size_t *)(base + f->quantifier_offset) = cnt;
	size_t idx = 0;
	for (int k = nd->child; k >= 0; k = c->nodes[k].next, idx++) {
		void *slot = arr + idx * es;
		int rc;
		if (f->type == PROTOBUF_C_TYPE_MESSAGE && c->nodes[k].type == JN_NULL) {
			/* jsonpb gives an empty message for a null element. */
			ProtobufCMessage *sub = new_message(f->descriptor);
			rc = sub ? 0 : -ENOMEM;
			*(ProtobufCMessage **)slot = sub;
		} else {
			rc = decode_value(c, f, k, slot);
		}
		if (rc == 0 && f->type == PROTOBUF_C_TYPE_STRING && !*(char **)slot) {
			*(char **)slot = strdup("");
			if (!*(char **)slot)
				rc = -ENOMEM;
		}
		if (rc) {
			clear_field(m, f);
			return rc;
		}
	}
	return 0;
}

/* Does the member key at node nd equal name? */
static bool key_is(struct dctx *c, const struct jnode *nd, const char *name)
{
	size_t kl = nd->kend - nd->kstart;
	if (!nd->kesc)
		return strlen(name) == kl && memcmp(c->s + nd->kstart, name, kl) == 0;
	size_t l;
	char *k = unescape(c->s, nd->kstart, nd->kend, &l);
	bool eq = k && strlen(name) == l && memcmp(k, name, l) == 0;
	free(k);
	return eq;
}

static int decode_field(struct dctx *c, ProtobufCMessage *m, const ProtobufCFieldDescriptor *f,
			int node)
{
	char *base = (char *)m;
	if (f->label == PROTOBUF_C_LABEL_REPEATED)
		return decode_repeated(c, m, f, node);
	if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
		if (c->nodes[node].type == JN_NULL)
			return 0;
		clear_field(m, f);
		uint32_t *cs = (uint32_t *)(base + f->quantifier_offset);
		int rc = decode_value(c, f, node, base + f->offset);
		if (f->type == PROTOBUF_C_TYPE_STRING && !*(char **)(base + f->offset))
			*(char **)(base + f->offset) = (char *)protobuf_c_empty_string;
		*cs = f->id; /* set even on failure so the member is freed */
		return rc;
	}
	int rc = decode_value(c, f, node, base + f->offset);
	if (rc == 0 && f->label == PROTOBUF_C_LABEL_OPTIONAL && f->type != PROTOBUF_C_TYPE_MESSAGE &&
	    f->type != PROTOBUF_C_TYPE_STRING && c->nodes[node].type != JN_NULL)
		*(protobuf_c_boolean *)(base + f->quantifier_offset) = 1;
	return rc;
}

static int decode_message(struct dctx *c, const ProtobufCMessageDescriptor *d, int node,
			  ProtobufCMessage *m)
{
	/* jsonpb visits regular fields in declaration order, then oneofs; the first
	 * failing field names the error. Within a field the camelCase spelling wins over
	 * the proto name, and for repeated keys the last occurrence wins. */
	for (int pass = 0; pass < 2; pass++) {
		for (unsigned i = 0; i < d->n_fields; i++) {
			const ProtobufCFieldDescriptor *f = &d->fields[i];
			bool oneof = (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) != 0;
			if (oneof != (pass == 1))
				continue;
			char camel[128];
			jpb_camel_name(f->name, camel, sizeof(camel));
			int orig = -1, cam = -1;
			for (int k = c->nodes[node].child; k >= 0; k = c->nodes[k].next) {
				if (key_is(c, &c->nodes[k], f->name))
					orig = k;
				if (key_is(c, &c->nodes[k], camel))
					cam = k;
			}
			int use = cam >= 0 ? cam : orig;
			if (use < 0)
				continue;
			int rc = decode_field(c, m, f, use);
			if (rc)
				return rc;
		}
	}
	return 0;
}

void jpb_camel_name(const char *name, char *out, size_t outlen)
{
	size_t k = 0;
	bool up = false;
	if (outlen == 0)
		return;
	for (const char *p = name; *p && k + 1 < outlen; p++) {
		if (*p == '_') {
			up = true;
			continue;
		}
		char ch = *p;
		if (up && ch >= 'a' && ch <= 'z')
			ch = (char)(ch - 'a' + 'A');
		up = false;
		out[k++] = ch;
	}
	out[k] = 0;
}

int jpb_decode(const ProtobufCMessageDescriptor *desc, const char *buf, size_t len,
	       size_t *consumed, ProtobufCMessage **out, char *err, size_t errlen)
{
	char dummy[8];
	if (!err || errlen == 0) {
		err = dummy;
		errlen = sizeof(dummy);
	}
	err[0] = 0;
	*out = NULL;
	struct scanner sc = { .s = buf, .n = len, .err = err, .errlen = errlen };
	skip_space(&sc);
	if (sc.i >= len) {
		*consumed = len;
		return JPB_EOF;
	}
	int root = scan_value(&sc);
	if (root < 0) {
		free(sc.nodes);
		return root;
	}
	*consumed = sc.i;
	struct dctx c = { .s = buf, .nodes = sc.nodes, .err = err, .errlen = errlen };
	int rc;
	ProtobufCMessage *m = new_message(desc);
	if (!m) {
		free(sc.nodes);
		return -ENOMEM;
	}
	if (sc.nodes[root].type == JN_NULL)
		rc = 0;
	else if (sc.nodes[root].type != JN_OBJ)
		rc = type_error(&c, kind_name(sc.nodes[root].type), "map[string]json.RawMessage");
	else
		rc = decode_message(&c, desc, root, m);
	free(sc.nodes);
	if (rc) {
		protobuf_c_message_free_unpacked(m, NULL);
		return rc;
	}
	*out = m;
	return 0;
}
