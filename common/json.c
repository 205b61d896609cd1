/* JSON parsing and printing with Go encoding/json's behaviour, on cJSON trees.
 * See json.h for the contract. Sections: parser, numbers, printer, copy/equality, paths. */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"
#include "json.h"

/* 2^53: the largest magnitude below which every integer is exact in a double. */
#define JSON_EXACT_INT 9007199254740992LL

/* ------------------------------------------------------------------------------ */
/* Parser                                                                         */
/* ------------------------------------------------------------------------------ */

typedef struct jparser {
	const unsigned char *start, *p, *end;
	char *err;
	size_t errlen;
	int depth;
	int rc;
} jparser;

/* Format a byte as Go's scanner quotes it in "invalid character 'x' ..." messages
 * (encoding/json quoteChar: strconv.Quote of the byte taken as a Latin-1 rune). */
static void quote_char(unsigned char c, char *out, size_t outlen)
{
	static const char esc[] = { ['\a'] = 'a', ['\b'] = 'b', ['\f'] = 'f', ['\n'] = 'n',
				    ['\r'] = 'r', ['\t'] = 't', ['\v'] = 'v' };
	if (c == '\'')
		snprintf(out, outlen, "'\\''");
	else if (c == '\\')
		snprintf(out, outlen, "'\\\\'");
	else if (c < sizeof(esc) && esc[c])
		snprintf(out, outlen, "'\\%c'", esc[c]);
	else if (c >= 0x20 && c < 0x7f)
		snprintf(out, outlen, "'%c'", c);
	else if (c < 0x20 || c == 0x7f)
		snprintf(out, outlen, "'\\x%02x'", c);
	else if (c < 0xa0 || c == 0xad)
		snprintf(out, outlen, "'\\u%04x'", c); /* C1 controls, soft hyphen */
	else
		snprintf(out, outlen, "'%c%c'", 0xC0 | (c >> 6), 0x80 | (c & 0x3F));
}

static int jp_fail(jparser *jp, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int jp_fail(jparser *jp, const char *fmt, ...)
{
	if (jp->rc)
		return jp->rc;
	jp->rc = KC_EPARSE;
	if (jp->err && jp->errlen) {
		va_list ap;
		va_start(ap, fmt);
		int n = vsnprintf(jp->err, jp->errlen, fmt, ap);
		va_end(ap);
		if (n >= 0 && (size_t)n < jp->errlen)
			snprintf(jp->err + n, jp->errlen - (size_t)n, " at offset %zu",
				 (size_t)(jp->p - jp->start));
	}
	return jp->rc;
}

/* "invalid character 'x' <context>", or Go's end-of-input message. */
static int jp_badchar(jparser *jp, const char *context)
{
	char q[16];
	if (jp->p >= jp->end)
		return jp_fail(jp, "unexpected end of JSON input");
	quote_char(*jp->p, q, sizeof(q));
	return jp_fail(jp, "invalid character %s %s", q, context);
}

static int jp_nomem(jparser *jp)
{
	if (!jp->rc) {
		jp->rc = -ENOMEM;
		if (jp->err && jp->errlen)
			snprintf(jp->err, jp->errlen, "out of memory");
	}
	return jp->rc;
}

static void jp_ws(jparser *jp)
{
	while (jp->p < jp->end &&
	       (*jp->p == ' ' || *jp->p == '\t' || *jp->p == '\n' || *jp->p == '\r'))
		jp->p++;
}

/* A growable byte buffer used by the string parser and the printer. The parser's strings
 * become cJSON's (cJSON_malloc); the printer's (plain) is handed out as is, malloc memory. */
typedef struct sbuf {
	char *p;
	size_t len, cap;
	int oom;
	int plain;
	const cJSON *mark; /* printer: object whose closing brace offset is wanted */
	size_t mark_at;
} sbuf;

static int sb_grow(sbuf *b, size_t more)
{
	if (b->oom)
		return -1;
	size_t ncap = b->cap ? b->cap : (b->plain ? 1024 : 64);
	while (ncap < b->len + more + 1) {
		if (ncap > SIZE_MAX / 2) {
			b->oom = 1;
			return -1;
		}
		ncap *= 2;
	}
	if (b->plain) {
		/* in place when the allocator can: no copy of what was printed so far */
		char *np = realloc(b->p, ncap);
		if (!np) {
			b->oom = 1;
			return -1;
		}
		np[b->len] = '\0';
		b->p = np;
		b->cap = ncap;
		return 0;
	}
	char *np = cJSON_malloc(ncap);
	if (!np) {
		b->oom = 1;
		return -1;
	}
	if (b->len)
		memcpy(np, b->p, b->len);
	np[b->len] = '\0'; /* always a valid C string, even when nothing was appended */
	cJSON_free(b->p);
	b->p = np;
	b->cap = ncap;
	return 0;
}

static inline int sb_reserve(sbuf *b, size_t more)
{
	if (b->oom)
		return -1;
	if (b->len + more + 1 <= b->cap)
		return 0;
	return sb_grow(b, more);
}

static inline void sb_putn(sbuf *b, const char *s, size_t n)
{
	if (sb_reserve(b, n))
		return;
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static inline void sb_puts(sbuf *b, const char *s) { sb_putn(b, s, strlen(s)); }

static inline void sb_putc(sbuf *b, char c)
{
	if (sb_reserve(b, 1))
		return;
	b->p[b->len++] = c;
	b->p[b->len] = '\0';
}

static void sb_utf8(sbuf *b, uint32_t cp)
{
	char u[4];
	size_t n;
	if (cp < 0x80) {
		u[0] = (char)cp;
		n = 1;
	} else if (cp < 0x800) {
		u[0] = (char)(0xC0 | (cp >> 6));
		u[1] = (char)(0x80 | (cp & 0x3F));
		n = 2;
	} else if (cp < 0x10000) {
		u[0] = (char)(0xE0 | (cp >> 12));
		u[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
		u[2] = (char)(0x80 | (cp & 0x3F));
		n = 3;
	} else {
		u[0] = (char)(0xF0 | (cp >> 18));
		u[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
		u[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
		u[3] = (char)(0x80 | (cp & 0x3F));
		n = 4;
	}
	sb_putn(b, u, n);
}

size_t kc_utf8_decode(const unsigned char *s, size_t n, uint32_t *cp)
{
	unsigned char c = s[0];
	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	size_t len;
	uint32_t v, min;
	if (c >= 0xC2 && c <= 0xDF) {
		len = 2; v = c & 0x1F; min = 0x80;
	} else if (c >= 0xE0 && c <= 0xEF) {
		len = 3; v = c & 0x0F; min = 0x800;
	} else if (c >= 0xF0 && c <= 0xF4) {
		len = 4; v = c & 0x07; min = 0x10000;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return 0;
		v = (v << 6) | (s[i] & 0x3F);
	}
	if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
		return 0;
	*cp = v;
	return len;
}

static int hex4(const unsigned char *s, uint32_t *out)
{
	uint32_t v = 0;
	for (int i = 0; i < 4; i++) {
		unsigned char c = s[i];
		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= (uint32_t)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v |= (uint32_t)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v |= (uint32_t)(c - 'A' + 10);
		else
			return -1 - i; /* which digit was bad */
	}
	*out = v;
	return 0;
}

/* Parse a string literal at jp->p (which is '"'); returns a cJSON_malloc'd copy. */
/* Bytes a string literal holds as they are: printable ASCII but '"' and '\\' (one table
 * load per byte instead of four comparisons in the parser's hottest loop). */
static const unsigned char jp_plain[256] = {
	[0x20 ... 0x21] = 1, [0x23 ... 0x5b] = 1, [0x5d ... 0x7f] = 1,
};

static char *jp_string(jparser *jp)
{
	sbuf b = { 0 };
	jp->p++; /* opening quote */
	/* Most strings are plain ASCII without escapes: one exact allocation. */
	const unsigned char *q = jp->p;
	while (q < jp->end && jp_plain[*q])
		q++;
	if (q < jp->end && *q == '"') {
		size_t n = (size_t)(q - jp->p);
		char *str = cJSON_malloc(n + 1);
		if (!str) {
			jp_nomem(jp);
			return NULL;
		}
		memcpy(str, jp->p, n);
		str[n] = '\0';
		jp->p = q + 1;
		return str;
	}
	sb_reserve(&b, 16);
	for (;;) {
		if (jp->p >= jp->end) {
			jp_badchar(jp, "");
			goto fail;
		}
		unsigned char c = *jp->p;
		if (c == '"') {
			jp->p++;
			break;
		}
		if (c < 0x20) {
			jp_badchar(jp, "in string literal");
			goto fail;
		}
		if (c == '\\') {
			const unsigned char *esc = jp->p;
			jp->p++;
			if (jp->p >= jp->end) {
				jp_badchar(jp, "");
				goto fail;
			}
			c = *jp->p;
			switch (c) {
			case '"': case '\\': case '/': sb_putc(&b, (char)c); jp->p++; continue;
			case 'b': sb_putc(&b, '\b'); jp->p++; continue;
			case 'f': sb_putc(&b, '\f'); jp->p++; continue;
			case 'n': sb_putc(&b, '\n'); jp->p++; continue;
			case 'r': sb_putc(&b, '\r'); jp->p++; continue;
			case 't': sb_putc(&b, '\t'); jp->p++; continue;
			case 'u': break;
			default:
				jp_badchar(jp, "in string escape code");
				goto fail;
			}
			jp->p++;
			uint32_t cp;
			for (int i = 0; i < 4; i++, jp->p++) {
				if (jp->p >= jp->end || !isxdigit(*jp->p)) {
					jp_badchar(jp, "in \\u hexadecimal character escape");
					goto fail;
				}
			}
			hex4(jp->p - 4, &cp);
			if (cp >= 0xD800 && cp < 0xDC00) {
				/* A high surrogate must pair with a following \uDC00-\uDFFF;
				 * otherwise Go decodes it as U+FFFD. */
				uint32_t lo;
				if (jp->end - jp->p >= 6 && jp->p[0] == '\\' && jp->p[1] == 'u' &&
				    hex4(jp->p + 2, &lo) == 0 && lo >= 0xDC00 && lo <= 0xDFFF) {
					cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
					jp->p += 6;
				} else {
					cp = 0xFFFD;
				}
			} else if (cp >= 0xDC00 && cp <= 0xDFFF) {
				cp = 0xFFFD;
			}
			if (cp == 0) {
				const unsigned char *here = jp->p;
				jp->p = esc;
				jp_fail(jp, "string contains NUL (\\u0000), which is not supported");
				jp->p = here;
				goto fail;
			}
			sb_utf8(&b, cp);
			continue;
		}
		if (c < 0x80) {
			/* Copy a run of plain ASCII at once. */
			const unsigned char *s = jp->p;
			while (jp->p < jp->end && jp_plain[*jp->p])
				jp->p++;
			sb_putn(&b, (const char *)s, (size_t)(jp->p - s));
			continue;
		}
		uint32_t cp;
		size_t n = kc_utf8_decode(jp->p, (size_t)(jp->end - jp->p), &cp);
		if (n == 0) {
			sb_utf8(&b, 0xFFFD); /* invalid UTF-8: Go substitutes U+FFFD */
			jp->p++;
		} else {
			sb_putn(&b, (const char *)jp->p, n);
			jp->p += n;
		}
	}
	if (b.oom) {
		jp_nomem(jp);
		goto fail;
	}
	return b.p;
fail:
	cJSON_free(b.p);
	return NULL;
}

static int is_digit(unsigned char c) { return c >= '0' && c <= '9'; }

static cJSON *jp_number(jparser *jp)
{
	const unsigned char *s = jp->p;
	int integral = 1;
	if (*jp->p == '-') {
		jp->p++;
		if (jp->p >= jp->end || !is_digit(*jp->p)) {
			jp_badchar(jp, "in numeric literal");
			return NULL;
		}
	}
	if (*jp->p == '0') {
		jp->p++;
	} else {
		while (jp->p < jp->end && is_digit(*jp->p))
			jp->p++;
	}
	if (jp->p < jp->end && *jp->p == '.') {
		integral = 0;
		jp->p++;
		if (jp->p >= jp->end || !is_digit(*jp->p)) {
			jp_badchar(jp, "after decimal point in numeric literal");
			return NULL;
		}
		while (jp->p < jp->end && is_digit(*jp->p))
			jp->p++;
	}
	if (jp->p < jp->end && (*jp->p == 'e' || *jp->p == 'E')) {
		integral = 0;
		jp->p++;
		if (jp->p < jp->end && (*jp->p == '+' || *jp->p == '-'))
			jp->p++;
		if (jp->p >= jp->end || !is_digit(*jp->p)) {
			jp_badchar(jp, "in exponent of numeric literal");
			return NULL;
		}
		while (jp->p < jp->end && is_digit(*jp->p))
			jp->p++;
	}
	size_t n = (size_t)(jp->p - s);
	char small[64];
	char *lit = n < sizeof(small) ? small : malloc(n + 1);
	if (!lit) {
		jp_nomem(jp);
		return NULL;
	}
	memcpy(lit, s, n);
	lit[n] = '\0';
	cJSON *item = NULL;
	if (integral) {
		errno = 0;
		long long v = strtoll(lit, NULL, 10);
		if (errno == 0) {
			if (v > JSON_EXACT_INT || v < -JSON_EXACT_INT)
				item = cJSON_CreateRaw(lit); /* keep int64 digits exact */
			else
				item = cJSON_CreateNumber((double)v);
			if (!item)
				jp_nomem(jp);
			goto out;
		}
		/* Beyond int64: a float64, as Go decodes into interface{}. */
	}
	double d = strtod(lit, NULL);
	if (isinf(d)) {
		const unsigned char *here = jp->p;
		jp->p = s;
		jp_fail(jp, "json: cannot unmarshal number %.40s into Go value of type float64", lit);
		jp->p = here;
		goto out;
	}
	item = cJSON_CreateNumber(d);
	if (!item)
		jp_nomem(jp);
out:
	if (lit != small)
		free(lit);
	return item;
}

static int jp_literal(jparser *jp, const char *word)
{
	/* word[0] already matched by the caller's switch. */
	jp->p++;
	for (size_t i = 1; word[i]; i++) {
		if (jp->p >= jp->end || *jp->p != (unsigned char)word[i]) {
			char ctx[48];
			snprintf(ctx, sizeof(ctx), "in literal %s (expecting '%c')", word, word[i]);
			return jp_badchar(jp, ctx);
		}
		jp->p++;
	}
	return 0;
}

/* Append item to the tail of a cJSON child list kept as head/tail. */
static void list_append(cJSON **head, cJSON **tail, cJSON *item)
{
	item->next = NULL;
	if (!*head) {
		*head = item;
		item->prev = item;
	} else {
		(*tail)->next = item;
		item->prev = *tail;
		(*head)->prev = item;
	}
	*tail = item;
}

/* Index of an object's member names, built once an object has KEYSET_MIN members so
 * the duplicate-key check stays linear for large maps (a ConfigMap with thousands of
 * keys) while small objects use a plain scan. Open addressing, FNV-1a. */
#define KEYSET_MIN 32
typedef struct keyset {
	cJSON **slots;
	size_t cap, n; /* cap is a power of two */
} keyset;

static uint64_t key_hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

/* The slot holding key, or the empty slot where it belongs. */
static cJSON **keyset_find(keyset *ks, const char *key)
{
	size_t i = (size_t)key_hash(key) & (ks->cap - 1);
	while (ks->slots[i] && strcmp(ks->slots[i]->string, key) != 0)
		i = (i + 1) & (ks->cap - 1);
	return &ks->slots[i];
}

/* (Re)build the index over obj's members with cap slots. */
static int keyset_rebuild(keyset *ks, const cJSON *obj, size_t cap)
{
	cJSON **slots = calloc(cap, sizeof(*slots));
	if (!slots)
		return -ENOMEM;
	free(ks->slots);
	ks->slots = slots;
	ks->cap = cap;
	ks->n = 0;
	for (cJSON *c = obj->child; c; c = c->next) {
		*keyset_find(ks, c->string) = c;
		ks->n++;
	}
	return 0;
}

static cJSON *jp_value(jparser *jp);

static cJSON *jp_array(jparser *jp)
{
	cJSON *arr = cJSON_CreateArray(), *tail = NULL;
	if (!arr) {
		jp_nomem(jp);
		return NULL;
	}
	jp->p++;
	jp_ws(jp);
	if (jp->p < jp->end && *jp->p == ']') {
		jp->p++;
		return arr;
	}
	for (;;) {
		cJSON *v = jp_value(jp);
		if (!v)
			goto fail;
		list_append(&arr->child, &tail, v);
		jp_ws(jp);
		if (jp->p < jp->end && *jp->p == ',') {
			jp->p++;
			continue;
		}
		if (jp->p < jp->end && *jp->p == ']') {
			jp->p++;
			return arr;
		}
		jp_badchar(jp, "after array element");
		goto fail;
	}
fail:
	cJSON_Delete(arr);
	return NULL;
}

static cJSON *jp_object(jparser *jp)
{
	cJSON *obj = cJSON_CreateObject(), *tail = NULL;
	keyset ks = { 0 };
	size_t nmembers = 0;
	if (!obj) {
		jp_nomem(jp);
		return NULL;
	}
	jp->p++;
	jp_ws(jp);
	if (jp->p < jp->end && *jp->p == '}') {
		jp->p++;
		return obj;
	}
	for (;;) {
		jp_ws(jp);
		if (jp->p >= jp->end || *jp->p != '"') {
			jp_badchar(jp, "looking for beginning of object key string");
			goto fail;
		}
		char *key = jp_string(jp);
		if (!key)
			goto fail;
		jp_ws(jp);
		if (jp->p >= jp->end || *jp->p != ':') {
			cJSON_free(key);
			jp_badchar(jp, "after object key");
			goto fail;
		}
		jp->p++;
		cJSON *v = jp_value(jp);
		if (!v) {
			cJSON_free(key);
			goto fail;
		}
		v->string = key;
		v->type &= ~cJSON_StringIsConst;
		/* Duplicate key: Go's decoder keeps the last value; keep the first position
		 * so printing stays stable. */
		cJSON *old = NULL, **slot = NULL;
		if (ks.slots) {
			slot = keyset_find(&ks, key);
			old = *slot;
		} else {
			for (cJSON *c = obj->child; c; c = c->next) {
				if (c->string[0] == key[0] && strcmp(c->string, key) == 0) {
					old = c;
					break;
				}
			}
		}
		if (old) {
			cJSON_ReplaceItemViaPointer(obj, old, v);
			if (tail == old)
				tail = v;
			if (slot)
				*slot = v;
		} else {
			list_append(&obj->child, &tail, v);
			nmembers++;
			if (slot) {
				*slot = v;
				if (++ks.n * 2 > ks.cap && keyset_rebuild(&ks, obj, ks.cap * 2)) {
					jp_nomem(jp);
					goto fail;
				}
			} else if (nmembers == KEYSET_MIN && keyset_rebuild(&ks, obj, 4 * KEYSET_MIN)) {
				jp_nomem(jp);
				goto fail;
			}
		}
		jp_ws(jp);
		if (jp->p < jp->end && *jp->p == ',') {
			jp->p++;
			continue;
		}
		if (jp->p < jp->end && *jp->p == '}') {
			jp->p++;
			free(ks.slots);
			return obj;
		}
		jp_badchar(jp, "after object key:value pair");
		goto fail;
	}
fail:
	free(ks.slots);
	cJSON_Delete(obj);
	return NULL;
}

static cJSON *jp_value(jparser *jp)
{
	jp_ws(jp);
	if (jp->p >= jp->end) {
		jp_badchar(jp, "");
		return NULL;
	}
	cJSON *item = NULL;
	switch (*jp->p) {
	case '{':
	case '[':
		if (++jp->depth > KC_JSON_MAX_DEPTH) {
			jp_fail(jp, "exceeded max depth");
			return NULL;
		}
		item = *jp->p == '{' ? jp_object(jp) : jp_array(jp);
		jp->depth--;
		return item;
	case '"': {
		char *s = jp_string(jp);
		if (!s)
			return NULL;
		item = cJSON_CreateNull();
		if (!item) {
			cJSON_free(s);
			jp_nomem(jp);
			return NULL;
		}
		item->type = cJSON_String;
		item->valuestring = s;
		return item;
	}
	case 't':
		if (jp_literal(jp, "true"))
			return NULL;
		item = cJSON_CreateTrue();
		break;
	case 'f':
		if (jp_literal(jp, "false"))
			return NULL;
		item = cJSON_CreateFalse();
		break;
	case 'n':
		if (jp_literal(jp, "null"))
			return NULL;
		item = cJSON_CreateNull();
		break;
	default:
		if (*jp->p == '-' || is_digit(*jp->p))
			return jp_number(jp);
		jp_badchar(jp, "looking for beginning of value");
		return NULL;
	}
	if (!item)
		jp_nomem(jp);
	return item;
}

int kc_json_parse(const char *buf, size_t len, size_t max, cJSON **out, char *err,
		  size_t errlen)
{
	jparser jp = { 0 };
	if (out)
		*out = NULL;
	if (err && errlen)
		err[0] = '\0';
	if (!out || (!buf && len))
		return -EINVAL;
	if (!max)
		max = KC_JSON_DEFAULT_MAX;
	if (len > max) {
		if (err && errlen)
			snprintf(err, errlen, "JSON input of %zu bytes exceeds the limit of %zu bytes",
				 len, max);
		return KC_ETOOLARGE;
	}
	jp.start = jp.p = (const unsigned char *)(buf ? buf : "");
	jp.end = jp.start + len;
	jp.err = err;
	jp.errlen = errlen;
	cJSON *v = jp_value(&jp);
	if (!v)
		return jp.rc ? jp.rc : KC_EPARSE;
	jp_ws(&jp);
	if (jp.p < jp.end) {
		jp_badchar(&jp, "after top-level value");
		cJSON_Delete(v);
		return jp.rc;
	}
	*out = v;
	return 0;
}

int kc_json_parse_str(const char *s, cJSON **out, char *err, size_t errlen)
{
	return kc_json_parse(s, s ? strlen(s) : 0, 0, out, err, errlen);
}

/* ------------------------------------------------------------------------------ */
/* Numbers                                                                        */
/* ------------------------------------------------------------------------------ */

/* A Raw item holding an integer literal (what the parser makes for |v| > 2^53). */
static int raw_is_int(const cJSON *item)
{
	if (!item || (item->type & 0xFF) != cJSON_Raw || !item->valuestring)
		return 0;
	const char *s = item->valuestring;
	if (*s == '-')
		s++;
	if (!is_digit((unsigned char)*s))
		return 0;
	while (is_digit((unsigned char)*s))
		s++;
	return *s == '\0';
}

bool kc_json_is_number(const cJSON *item)
{
	return item && (cJSON_IsNumber(item) || raw_is_int(item));
}

double kc_json_number(const cJSON *item)
{
	if (!item)
		return 0;
	if (cJSON_IsNumber(item))
		return item->valuedouble;
	if (raw_is_int(item))
		return strtod(item->valuestring, NULL);
	return 0;
}

int kc_json_item_int64(const cJSON *item, int64_t *out)
{
	if (!item)
		return -EINVAL;
	if (cJSON_IsNumber(item)) {
		double d = item->valuedouble;
		if (!isfinite(d) || d != trunc(d))
			return -EINVAL;
		if (d < -9223372036854775808.0 || d >= 9223372036854775808.0)
			return -ERANGE;
		if (out)
			*out = (int64_t)d;
		return 0;
	}
	if (raw_is_int(item)) {
		errno = 0;
		long long v = strtoll(item->valuestring, NULL, 10);
		if (errno)
			return -ERANGE;
		if (out)
			*out = v;
		return 0;
	}
	return -EINVAL;
}

cJSON *kc_json_new_int64(int64_t v)
{
	if (v > JSON_EXACT_INT || v < -JSON_EXACT_INT) {
		char buf[32];
		snprintf(buf, sizeof(buf), "%" PRId64, v);
		return cJSON_CreateRaw(buf);
	}
	return cJSON_CreateNumber((double)v);
}

/* Format d as Go's encoding/json does (strconv.FormatFloat(f, 'f' or 'e', -1, 64)):
 * shortest digits that round-trip; plain notation for 1e-6 <= |d| < 1e21, else
 * exponent notation with "e-07" shortened to "e-7". Integral values print as integers. */
static void fmt_number(sbuf *b, double d)
{
	char buf[64];
	if (!isfinite(d)) {
		sb_puts(b, "null"); /* Go refuses; we never parse these, so print null */
		return;
	}
	if (d == trunc(d) && d >= -9223372036854775808.0 && d < 9223372036854775808.0) {
		/* an integer: its decimal digits (what "%" PRId64 prints, without printf) */
		int64_t v = (int64_t)d;
		uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
		char *e = buf + sizeof(buf), *q = e;
		do {
			*--q = (char)('0' + u % 10);
			u /= 10;
		} while (u);
		if (v < 0)
			*--q = '-';
		sb_putn(b, q, (size_t)(e - q));
		return;
	}
	/* Shortest round-trip digits. */
	int prec;
	for (prec = 1; prec <= 17; prec++) {
		snprintf(buf, sizeof(buf), "%.*e", prec - 1, d);
		if (strtod(buf, NULL) == d)
			break;
	}
	/* buf is "[-]D[.DDD]e[+-]XX": pull out sign, digits, exponent. */
	char digits[24];
	int nd = 0, neg = 0, exp10;
	const char *s = buf;
	if (*s == '-') {
		neg = 1;
		s++;
	}
	for (; *s && *s != 'e'; s++)
		if (is_digit((unsigned char)*s) && nd < (int)sizeof(digits) - 1)
			digits[nd++] = *s;
	digits[nd] = '\0';
	exp10 = *s == 'e' ? atoi(s + 1) : 0;
	while (nd > 1 && digits[nd - 1] == '0')
		digits[--nd] = '\0';
	double ad = fabs(d);
	char out[400];
	size_t o = 0;
	if (neg)
		out[o++] = '-';
	if (ad >= 1e-6 && ad < 1e21) {
		/* value = 0.digits * 10^(exp10+1) */
		int point = exp10 + 1; /* digits before the decimal point */
		if (point <= 0) {
			out[o++] = '0';
			out[o++] = '.';
			for (int i = 0; i < -point; i++)
				out[o++] = '0';
			for (int i = 0; i < nd; i++)
				out[o++] = digits[i];
		} else {
			for (int i = 0; i < point; i++)
				out[o++] = i < nd ? digits[i] : '0';
			if (nd > point) {
				out[o++] = '.';
				for (int i = point; i < nd; i++)
					out[o++] = digits[i];
			}
		}
		out[o] = '\0';
	} else {
		out[o++] = digits[0];
		if (nd > 1) {
			out[o++] = '.';
			for (int i = 1; i < nd; i++)
				out[o++] = digits[i];
		}
		out[o] = '\0';
		int ae = exp10 < 0 ? -exp10 : exp10;
		snprintf(out + o, sizeof(out) - o, "e%c%s%d", exp10 < 0 ? '-' : '+',
			 (exp10 >= 0 && ae < 10) ? "0" : "", ae);
	}
	sb_puts(b, out);
}

/* ------------------------------------------------------------------------------ */
/* Printer                                                                        */
/* ------------------------------------------------------------------------------ */

/* Bytes print_string copies as they are: printable ASCII but '"', '\\' and Go's
 * HTML-escaped '<', '>', '&'. */
static const unsigned char print_plain[256] = {
	[0x20] = 1, [0x21] = 1, [0x23] = 1, [0x24] = 1, [0x25] = 1, [0x27 ... 0x3b] = 1,
	[0x3d] = 1, [0x3f ... 0x5b] = 1, [0x5d ... 0x7f] = 1,
};

/* One pass over the string: print_plain[0] is 0, so the plain-run scan also finds the
 * terminator and no strlen pass is needed first (print_string and the strlen in front of it
 * were the printer's largest costs). */
static void print_string(sbuf *b, const char *str)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *s = (const unsigned char *)(str ? str : "");
	sb_putc(b, '"');
	for (;;) {
		const unsigned char *run = s;
		/* Fast path: bytes that need no escaping. */
		while (print_plain[*run])
			run++;
		if (run > s) {
			sb_putn(b, (const char *)s, (size_t)(run - s));
			s = run;
		}
		unsigned char c = *s;
		if (!c)
			break;
		if (c < 0x80) {
			char e[7];
			switch (c) {
			case '"': sb_puts(b, "\\\""); break;
			case '\\': sb_puts(b, "\\\\"); break;
			case '\n': sb_puts(b, "\\n"); break;
			case '\r': sb_puts(b, "\\r"); break;
			case '\t': sb_puts(b, "\\t"); break;
			case '\b': sb_puts(b, "\\b"); break;
			case '\f': sb_puts(b, "\\f"); break;
			default:
				/* Control characters and Go's HTML-safe <, >, &. */
				e[0] = '\\'; e[1] = 'u'; e[2] = '0'; e[3] = '0';
				e[4] = hex[c >> 4]; e[5] = hex[c & 15]; e[6] = '\0';
				sb_puts(b, e);
			}
			s++;
			continue;
		}
		uint32_t cp;
		/* utf8_decode reads at most 4 bytes and stops at the terminator (never a
		 * continuation byte), so the bytes left up to 4 bound it as strlen did. */
		size_t len = kc_utf8_decode(s, strnlen((const char *)s, 4), &cp);
		if (len == 0) {
			sb_puts(b, "\\ufffd");
			s++;
		} else if (cp == 0x2028 || cp == 0x2029) {
			sb_puts(b, cp == 0x2028 ? "\\u2028" : "\\u2029");
			s += len;
		} else {
			sb_putn(b, (const char *)s, len);
			s += len;
		}
	}
	sb_putc(b, '"');
}

enum { PR_SORTED = 1, PR_PRETTY = 2 };

static void print_indent(sbuf *b, int flags, int depth)
{
	if (!(flags & PR_PRETTY))
		return;
	sb_putc(b, '\n');
	for (int i = 0; i < depth; i++)
		sb_puts(b, "  ");
}

static int key_cmp(const void *a, const void *b)
{
	const cJSON *x = *(const cJSON *const *)a, *y = *(const cJSON *const *)b;
	return strcmp(x->string ? x->string : "", y->string ? y->string : "");
}

static void print_value(sbuf *b, const cJSON *item, int flags, int depth);

static void print_members(sbuf *b, const cJSON *item, int flags, int depth)
{
	size_t n = 0;
	for (const cJSON *c = item->child; c; c = c->next)
		n++;
	if (n == 0) {
		sb_puts(b, "{}");
		return;
	}
	const cJSON **order = NULL;
	if (flags & PR_SORTED) {
		order = malloc(n * sizeof(*order));
		if (!order) {
			b->oom = 1;
			return;
		}
		size_t i = 0;
		for (const cJSON *c = item->child; c; c = c->next)
			order[i++] = c;
		qsort(order, n, sizeof(*order), key_cmp);
	}
	sb_putc(b, '{');
	const cJSON *c = item->child;
	for (size_t i = 0; i < n; i++) {
		const cJSON *m = order ? order[i] : c;
		if (i)
			sb_putc(b, ',');
		print_indent(b, flags, depth + 1);
		print_string(b, m->string);
		if (flags & PR_PRETTY)
			sb_putn(b, ": ", 2);
		else
			sb_putc(b, ':');
		print_value(b, m, flags, depth + 1);
		if (!order)
			c = c->next;
	}
	print_indent(b, flags, depth);
	if (item == b->mark)
		b->mark_at = b->len;
	sb_putc(b, '}');
	free(order);
}

static void print_value(sbuf *b, const cJSON *item, int flags, int depth)
{
	if (b->oom)
		return;
	switch (item->type & 0xFF) {
	case cJSON_False: sb_puts(b, "false"); return;
	case cJSON_True: sb_puts(b, "true"); return;
	case cJSON_Number: fmt_number(b, item->valuedouble); return;
	case cJSON_String: print_string(b, item->valuestring); return;
	case cJSON_Raw:
		sb_puts(b, item->valuestring ? item->valuestring : "null");
		return;
	case cJSON_Array: {
		if (!item->child) {
			sb_puts(b, "[]");
			return;
		}
		sb_putc(b, '[');
		for (const cJSON *c = item->child; c; c = c->next) {
			if (c != item->child)
				sb_putc(b, ',');
			print_indent(b, flags, depth + 1);
			print_value(b, c, flags, depth + 1);
		}
		print_indent(b, flags, depth);
		sb_putc(b, ']');
		return;
	}
	case cJSON_Object: print_members(b, item, flags, depth); return;
	default: sb_puts(b, "null"); return;
	}
}

static char *print_with(const cJSON *item, int flags, size_t *len, const cJSON *mark,
			size_t *mark_end)
{
	sbuf b = { .plain = 1, .mark = mark };
	if (!item)
		sb_puts(&b, "null");
	else
		print_value(&b, item, flags, 0);
	sb_reserve(&b, 0);
	if (b.oom) {
		free(b.p);
		return NULL;
	}
	/* plain malloc memory (sb_grow): callers free() it */
	if (len)
		*len = b.len;
	if (mark_end)
		*mark_end = b.mark_at;
	return b.p;
}

char *kc_json_print(const cJSON *item) { return print_with(item, 0, NULL, NULL, NULL); }
char *kc_json_print_len(const cJSON *item, size_t *len)
{
	return print_with(item, 0, len, NULL, NULL);
}
char *kc_json_print_mark(const cJSON *item, const cJSON *mark, size_t *len, size_t *mark_end)
{
	return print_with(item, 0, len, mark, mark_end);
}
char *kc_json_print_canonical(const cJSON *item)
{
	return print_with(item, PR_SORTED, NULL, NULL, NULL);
}
char *kc_json_print_pretty(const cJSON *item) { return print_with(item, PR_PRETTY, NULL, NULL, NULL); }

/* ------------------------------------------------------------------------------ */
/* Copy and equality                                                              */
/* ------------------------------------------------------------------------------ */

cJSON *kc_json_dup(const cJSON *item)
{
	if (!item)
		return NULL;
	return cJSON_Duplicate(item, 1);
}

static int kind_of(const cJSON *x)
{
	if (raw_is_int(x))
		return cJSON_Number;
	return x->type & 0xFF;
}

bool kc_json_equal(const cJSON *a, const cJSON *b)
{
	if (!a || !b)
		return a == b;
	int ka = kind_of(a), kb = kind_of(b);
	if (ka != kb)
		return false;
	switch (ka) {
	case cJSON_False:
	case cJSON_True:
	case cJSON_NULL:
		return true;
	case cJSON_Number: {
		int64_t ia, ib;
		if (kc_json_item_int64(a, &ia) == 0 && kc_json_item_int64(b, &ib) == 0)
			return ia == ib;
		return kc_json_number(a) == kc_json_number(b);
	}
	case cJSON_String:
	case cJSON_Raw:
		return strcmp(a->valuestring ? a->valuestring : "",
			      b->valuestring ? b->valuestring : "") == 0;
	case cJSON_Array: {
		const cJSON *x = a->child, *y = b->child;
		for (; x && y; x = x->next, y = y->next)
			if (!kc_json_equal(x, y))
				return false;
		return !x && !y;
	}
	case cJSON_Object: {
		size_t na = 0, nb = 0;
		for (const cJSON *x = a->child; x; x = x->next)
			na++;
		for (const cJSON *y = b->child; y; y = y->next)
			nb++;
		if (na != nb)
			return false;
		for (const cJSON *x = a->child; x; x = x->next) {
			const cJSON *y = cJSON_GetObjectItemCaseSensitive(b, x->string);
			if (!y || !kc_json_equal(x, y))
				return false;
		}
		return true;
	}
	default:
		return false;
	}
}

/* ------------------------------------------------------------------------------ */
/* Paths                                                                          */
/* ------------------------------------------------------------------------------ */

/* Path cursor: *pp is the start of the next segment, or NULL after the last one.
 * Copies the next segment (unescaped) into seg. Returns 1 for a segment, 0 at the end,
 * -EINVAL for a malformed path (empty segment, bad escape, segment too long). */
static int path_next(const char **pp, char seg[KC_JSON_PATH_SEGCAP])
{
	const char *p = *pp;
	size_t len = 0;
	if (!p)
		return 0;
	while (*p && *p != '.') {
		char c = *p++;
		if (c == '\\') {
			if (*p != '.' && *p != '\\')
				return -EINVAL;
			c = *p++;
		}
		if (len + 1 >= KC_JSON_PATH_SEGCAP)
			return -EINVAL;
		seg[len++] = c;
	}
	if (len == 0)
		return -EINVAL; /* "a..b", ".a" or a trailing dot */
	seg[len] = '\0';
	*pp = *p ? p + 1 : NULL;
	return 1;
}

/* A cursor over path: "" has no segments. */
static const char *path_begin(const char *path) { return path && *path ? path : NULL; }

int kc_json_path_split(const char *path, char (*segs)[KC_JSON_PATH_SEGCAP], int max)
{
	if (!path)
		return -EINVAL;
	const char *p = path_begin(path);
	int n = 0, r;
	while (p) {
		if (n >= max)
			return -EINVAL;
		if ((r = path_next(&p, segs[n])) < 0)
			return r;
		n++;
	}
	return n;
}

size_t kc_json_path_escape(const char *key, char *out, size_t outlen)
{
	size_t need = 0;
	for (const char *k = key ? key : ""; *k; k++) {
		if (*k == '.' || *k == '\\') {
			if (outlen && need + 1 < outlen)
				out[need] = '\\';
			need++;
		}
		if (outlen && need + 1 < outlen)
			out[need] = *k;
		need++;
	}
	if (outlen)
		out[need < outlen ? need : outlen - 1] = '\0';
	return need;
}

/* A segment of digits addresses an array element. Returns the index or -1. */
static int seg_index(const char *seg)
{
	long v = 0;
	if (!*seg)
		return -1;
	for (const char *s = seg; *s; s++) {
		if (!is_digit((unsigned char)*s))
			return -1;
		v = v * 10 + (*s - '0');
		if (v > INT_MAX)
			return -1;
	}
	return (int)v;
}

static cJSON *child_of(const cJSON *node, const char *seg)
{
	if (cJSON_IsObject(node))
		return cJSON_GetObjectItemCaseSensitive(node, seg);
	if (cJSON_IsArray(node)) {
		int idx = seg_index(seg);
		return idx < 0 ? NULL : cJSON_GetArrayItem(node, idx);
	}
	return NULL;
}

cJSON *kc_json_get(const cJSON *root, const char *path)
{
	char seg[KC_JSON_PATH_SEGCAP];
	const char *p = path_begin(path);
	const cJSON *node = root;
	if (!path || !root)
		return NULL;
	while (p && node) {
		if (path_next(&p, seg) < 0)
			return NULL;
		node = child_of(node, seg);
	}
	return (cJSON *)node;
}

const char *kc_json_get_string(const cJSON *root, const char *path, const char *def)
{
	const cJSON *v = kc_json_get(root, path);
	return cJSON_IsString(v) && v->valuestring ? v->valuestring : def;
}

int64_t kc_json_get_int64(const cJSON *root, const char *path, int64_t def)
{
	int64_t v;
	return kc_json_item_int64(kc_json_get(root, path), &v) == 0 ? v : def;
}

bool kc_json_get_bool(const cJSON *root, const char *path, bool def)
{
	const cJSON *v = kc_json_get(root, path);
	return cJSON_IsBool(v) ? cJSON_IsTrue(v) : def;
}

int kc_json_set(cJSON *root, const char *path, cJSON *value)
{
	char seg[KC_JSON_PATH_SEGCAP];
	const char *p = path_begin(path);
	if (!p || !root || !value)
		return -EINVAL;
	if (!cJSON_IsObject(root) && !cJSON_IsArray(root))
		return -EINVAL;
	/* Remember the first object we create so a later failure can undo it. */
	cJSON *created = NULL, *created_parent = NULL;
	cJSON *node = root;
	int rc = -EINVAL;
	if (path_next(&p, seg) < 0)
		goto undo;
	while (p) { /* seg is an intermediate segment */
		cJSON *next = child_of(node, seg);
		if (!next) {
			if (!cJSON_IsObject(node))
				goto undo; /* arrays are never extended */
			next = cJSON_CreateObject();
			if (!next || !cJSON_AddItemToObject(node, seg, next)) {
				cJSON_Delete(next);
				rc = -ENOMEM;
				goto undo;
			}
			if (!created) {
				created = next;
				created_parent = node;
			}
		} else if (!cJSON_IsObject(next) && !cJSON_IsArray(next)) {
			goto undo;
		}
		node = next;
		if (path_next(&p, seg) < 0)
			goto undo;
	}
	if (cJSON_IsObject(node)) {
		if (cJSON_GetObjectItemCaseSensitive(node, seg)) {
			if (!cJSON_ReplaceItemInObjectCaseSensitive(node, seg, value)) {
				rc = -ENOMEM;
				goto undo;
			}
		} else if (!cJSON_AddItemToObject(node, seg, value)) {
			rc = -ENOMEM;
			goto undo;
		}
		return 0;
	}
	if (cJSON_IsArray(node)) {
		int idx = seg_index(seg);
		if (idx < 0 || idx >= cJSON_GetArraySize(node))
			goto undo;
		if (!cJSON_ReplaceItemInArray(node, idx, value)) {
			rc = -ENOMEM;
			goto undo;
		}
		return 0;
	}
undo:
	if (created)
		cJSON_Delete(cJSON_DetachItemViaPointer(created_parent, created));
	return rc;
}

/* kc_json_set for a freshly made value: frees it when it was not taken. */
static int set_new(cJSON *root, const char *path, cJSON *v)
{
	if (!v)
		return -ENOMEM;
	int rc = kc_json_set(root, path, v);
	if (rc)
		cJSON_Delete(v);
	return rc;
}

int kc_json_set_string(cJSON *root, const char *path, const char *s)
{
	return set_new(root, path, cJSON_CreateString(s ? s : ""));
}

int kc_json_set_int64(cJSON *root, const char *path, int64_t val)
{
	return set_new(root, path, kc_json_new_int64(val));
}

int kc_json_set_bool(cJSON *root, const char *path, bool val)
{
	return set_new(root, path, cJSON_CreateBool(val));
}

int kc_json_delete(cJSON *root, const char *path)
{
	char seg[KC_JSON_PATH_SEGCAP];
	const char *p = path_begin(path);
	cJSON *parent = NULL, *node = root;
	if (!p || !root)
		return -EINVAL;
	while (p) {
		if (path_next(&p, seg) < 0)
			return -EINVAL;
		if (!node)
			continue; /* keep checking the syntax of the rest */
		parent = node;
		node = child_of(node, seg);
	}
	if (!node)
		return KC_ENOTFOUND;
	cJSON_Delete(cJSON_DetachItemViaPointer(parent, node));
	return 0;
}
