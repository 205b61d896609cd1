/* The etcd client's allocation-free JSON reader for its hot answers (Txn/Put/Range/Delete
 * responses and watch messages; see etcd_int.h). A jsmn-shaped tokenizer: one pass over the
 * text fills a flat array of tokens (spans into the text, never copies), each container
 * knowing where its subtree ends, so a lookup is a walk over one object's keys. The
 * decoders then base64-decode the few fields they keep straight from the text. Profiling
 * the apiserver under the scheduler benchmark showed cJSON trees (a malloc per node and per
 * string, strcmp lookups) and the base64 decoder among the top costs of the store client.
 *
 * Strictness follows RFC 8259 (what Go's encoding/json, behind etcd's gateway, writes):
 * anything else is refused, so a caller never sees a half-understood answer. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "errors.h"
#include "etcd_int.h"

#define SCAN_MAX_DEPTH 64

void kc_etcd__scan_init(struct kc_etcd__scan *s)
{
	memset(s, 0, sizeof(*s));
	s->t = s->inline_toks;
	s->cap = KC_ETCD__SCAN_INLINE;
}

void kc_etcd__scan_close(struct kc_etcd__scan *s)
{
	if (s->t != s->inline_toks)
		free(s->t);
	s->t = s->inline_toks;
	s->cap = KC_ETCD__SCAN_INLINE;
	s->n = 0;
}

static int tok_new(struct kc_etcd__scan *s, uint8_t type, size_t start)
{
	if (s->n == s->cap) {
		size_t nc = s->cap * 2;
		if (nc > (1u << 26))
			return KC_ETOOLARGE;
		struct kc_etcd__tok *nt;
		if (s->t == s->inline_toks) {
			nt = malloc(nc * sizeof(*nt));
			if (nt)
				memcpy(nt, s->inline_toks, s->n * sizeof(*nt));
		} else {
			nt = realloc(s->t, nc * sizeof(*nt));
		}
		if (!nt)
			return -ENOMEM;
		s->t = nt;
		s->cap = nc;
	}
	struct kc_etcd__tok *t = &s->t[s->n];
	t->type = type;
	t->esc = 0;
	t->start = (uint32_t)start;
	t->end = (uint32_t)start;
	t->size = 0;
	t->next = 0;
	return (int)s->n++;
}

static bool is_ws(char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; }
static bool is_digit(char c) { return c >= '0' && c <= '9'; }
static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* The index of the first quote, backslash or control byte at or after p (len if none).
 * The long runs (base64 values, a few KB per watch event) have none: 16 bytes are checked
 * at once, where a memchr for the quote followed by a byte loop over the run read every
 * byte twice. */
static size_t plain_run(const char *js, size_t p, size_t len)
{
#ifdef __SSE2__
	const __m128i quote = _mm_set1_epi8('"'), bs = _mm_set1_epi8('\\'),
		      ctl = _mm_set1_epi8(0x1f);
	while (len - p >= 16) {
		__m128i v = _mm_loadu_si128((const __m128i *)(const void *)(js + p));
		/* min(v, 0x1f) == v: an unsigned byte below 0x20 */
		__m128i hit = _mm_or_si128(
			_mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, bs)),
			_mm_cmpeq_epi8(_mm_min_epu8(v, ctl), v));
		int m = _mm_movemask_epi8(hit);
		if (m)
			return p + (size_t)__builtin_ctz((unsigned)m);
		p += 16;
	}
#endif
	while (p < len && (unsigned char)js[p] >= 0x20 && js[p] != '"' && js[p] != '\\')
		p++;
	return p;
}

/* A string starting at js[*i] == '"': *i ends past the closing quote. */
static int scan_string(struct kc_etcd__scan *s, const char *js, size_t len, size_t *i, int *tok)
{
	size_t p = *i + 1;
	int t = tok_new(s, KC_ETCD__TSTR, p);
	if (t < 0)
		return t;
	uint8_t esc = 0;
	while (p < len) {
		p = plain_run(js, p, len);
		if (p >= len)
			break;
		unsigned char c = (unsigned char)js[p];
		if (c == '"') {
			s->t[t].end = (uint32_t)p;
			s->t[t].esc = esc;
			*i = p + 1;
			*tok = t;
			return 0;
		}
		if (c < 0x20)
			return KC_EPARSE;
		if (c == '\\') {
			esc = 1;
			if (p + 1 >= len)
				return KC_EPARSE;
			char e = js[p + 1];
			if (e == 'u') {
				if (p + 5 >= len)
					return KC_EPARSE;
				for (int k = 2; k < 6; k++)
					if (hexval(js[p + k]) < 0)
						return KC_EPARSE;
				p += 6;
				continue;
			}
			if (!strchr("\"\\/bfnrt", e) || e == 0)
				return KC_EPARSE;
			p += 2;
			continue;
		}
		p++;
	}
	return KC_EPARSE;
}

/* true, false, null or a number (RFC 8259 grammar). */
static int scan_prim(struct kc_etcd__scan *s, const char *js, size_t len, size_t *i, int *tok)
{
	size_t p = *i;
	int t = tok_new(s, KC_ETCD__TPRIM, p);
	if (t < 0)
		return t;
	static const char *const words[] = { "true", "false", "null" };
	for (int w = 0; w < 3; w++) {
		size_t wl = strlen(words[w]);
		if (len - p >= wl && memcmp(js + p, words[w], wl) == 0) {
			p += wl;
			goto done;
		}
	}
	if (js[p] == '-')
		p++;
	if (p >= len || !is_digit(js[p]))
		return KC_EPARSE;
	if (js[p] == '0')
		p++;
	else
		while (p < len && is_digit(js[p]))
			p++;
	if (p < len && js[p] == '.') {
		p++;
		if (p >= len || !is_digit(js[p]))
			return KC_EPARSE;
		while (p < len && is_digit(js[p]))
			p++;
	}
	if (p < len && (js[p] == 'e' || js[p] == 'E')) {
		p++;
		if (p < len && (js[p] == '+' || js[p] == '-'))
			p++;
		if (p >= len || !is_digit(js[p]))
			return KC_EPARSE;
		while (p < len && is_digit(js[p]))
			p++;
	}
done:
	/* a primitive must end at a delimiter ("truex", "12a" are not JSON) */
	if (p < len && !is_ws(js[p]) && js[p] != ',' && js[p] != '}' && js[p] != ']')
		return KC_EPARSE;
	s->t[t].end = (uint32_t)p;
	*i = p;
	*tok = t;
	return 0;
}

int kc_etcd__scan_parse(struct kc_etcd__scan *s, const char *js, size_t len)
{
	s->n = 0;
	s->js = js;
	if (len >= UINT32_MAX)
		return KC_ETOOLARGE;
	int stack[SCAN_MAX_DEPTH];
	int depth = 0;
	/* what may come next: a value, an object key (or '}' when first), a ':' */
	enum { WANT_VALUE, WANT_KEY, WANT_COLON, WANT_SEP } want = WANT_VALUE;
	bool first = false; /* the container just opened (allows ']' / '}' at once) */
	bool done = false;
	size_t i = 0;
	while (i < len) {
		char c = js[i];
		if (is_ws(c)) {
			i++;
			continue;
		}
		if (done)
			return KC_EPARSE; /* trailing bytes after the top-level value */
		int rc, t;
		switch (want) {
		case WANT_COLON:
			if (c != ':')
				return KC_EPARSE;
			i++;
			want = WANT_VALUE;
			first = false;
			continue;
		case WANT_KEY:
			if (c == '}' && first)
				goto close;
			if (c != '"')
				return KC_EPARSE;
			if ((rc = scan_string(s, js, len, &i, &t)) != 0)
				return rc;
			s->t[t].next = (uint32_t)s->n;
			s->t[stack[depth - 1]].size++;
			want = WANT_COLON;
			continue;
		case WANT_SEP:
			if (c == ',') {
				i++;
				want = s->t[stack[depth - 1]].type == KC_ETCD__TOBJ ? WANT_KEY : WANT_VALUE;
				first = false;
				continue;
			}
			if (c == '}' || c == ']')
				goto close;
			return KC_EPARSE;
		case WANT_VALUE:
			if (c == ']' && first && depth > 0 && s->t[stack[depth - 1]].type == KC_ETCD__TARR)
				goto close;
			if (c == '{' || c == '[') {
				if (depth == SCAN_MAX_DEPTH)
					return KC_EPARSE;
				t = tok_new(s, c == '{' ? KC_ETCD__TOBJ : KC_ETCD__TARR, i);
				if (t < 0)
					return t;
				if (depth > 0 && s->t[stack[depth - 1]].type == KC_ETCD__TARR)
					s->t[stack[depth - 1]].size++;
				stack[depth++] = t;
				i++;
				want = c == '{' ? WANT_KEY : WANT_VALUE;
				first = true;
				continue;
			}
			if (c == '"')
				rc = scan_string(s, js, len, &i, &t);
			else
				rc = scan_prim(s, js, len, &i, &t);
			if (rc)
				return rc;
			s->t[t].next = (uint32_t)s->n;
			if (depth > 0 && s->t[stack[depth - 1]].type == KC_ETCD__TARR)
				s->t[stack[depth - 1]].size++;
			if (depth == 0)
				done = true;
			want = WANT_SEP;
			first = false;
			continue;
		}
		return KC_EPARSE;
	close:
		if (depth == 0)
			return KC_EPARSE;
		{
			struct kc_etcd__tok *ct = &s->t[stack[depth - 1]];
			if ((c == '}') != (ct->type == KC_ETCD__TOBJ))
				return KC_EPARSE;
			ct->end = (uint32_t)(i + 1);
			ct->next = (uint32_t)s->n;
		}
		depth--;
		i++;
		want = WANT_SEP;
		first = false;
		if (depth == 0)
			done = true;
	}
	return done ? 0 : KC_EPARSE;
}

int kc_etcd__scan_find(const struct kc_etcd__scan *s, int obj, const char *key)
{
	if (obj < 0 || (size_t)obj >= s->n || s->t[obj].type != KC_ETCD__TOBJ)
		return -1;
	size_t kl = strlen(key);
	uint32_t k = (uint32_t)obj + 1;
	for (int n = 0; n < s->t[obj].size; n++) {
		const struct kc_etcd__tok *kt = &s->t[k];
		/* Keys are matched as written: Go never escapes the ASCII field names. */
		if (!kt->esc && kt->end - kt->start == kl && memcmp(s->js + kt->start, key, kl) == 0)
			return (int)k + 1;
		k = s->t[k + 1].next;
	}
	return -1;
}

int kc_etcd__scan_child(const struct kc_etcd__scan *s, int tok, int idx)
{
	if (tok < 0)
		return -1;
	uint32_t k = (uint32_t)tok + 1;
	for (int n = 0; n < idx; n++)
		k = s->t[k].next;
	return (int)k;
}

int kc_etcd__scan_i64(const struct kc_etcd__scan *s, int obj, const char *key, int64_t *v)
{
	*v = 0;
	int t = kc_etcd__scan_find(s, obj, key);
	if (t < 0)
		return obj >= 0 && s->t[obj].type == KC_ETCD__TOBJ ? 0 : -1;
	return kc_etcd__scan_tok_i64(s, t, v);
}

int kc_etcd__scan_tok_i64(const struct kc_etcd__scan *s, int t, int64_t *v)
{
	const struct kc_etcd__tok *tk = &s->t[t];
	const char *p = s->js + tk->start, *e = s->js + tk->end;
	*v = 0;
	if (tk->type == KC_ETCD__TPRIM) {
		if (p < e && (*p == 't' || *p == 'f' || *p == 'n'))
			return -1;
		/* a JSON number (int64 fields go out as strings, but numbers are accepted,
		 * possibly with a fraction as a double would carry it) */
		for (const char *q = p; q < e; q++)
			if (*q == '.' || *q == 'e' || *q == 'E') {
				char tmp[64];
				size_t l = (size_t)(e - p);
				if (l >= sizeof(tmp))
					return -1;
				memcpy(tmp, p, l);
				tmp[l] = 0;
				double d = strtod(tmp, NULL);
				/* outside int64 (or NaN): malformed, not undefined behaviour */
				if (!(d >= -9223372036854775808.0 && d < 9223372036854775808.0))
					return -1;
				*v = (int64_t)d;
				return 0;
			}
	} else if (tk->type != KC_ETCD__TSTR || tk->esc) {
		return -1;
	}
	bool neg = false;
	if (p < e && *p == '-') {
		neg = true;
		p++;
	}
	if (p == e)
		return -1;
	uint64_t x = 0;
	for (; p < e; p++) {
		if (!is_digit(*p))
			return -1;
		unsigned d = (unsigned)(*p - '0');
		if (x > (UINT64_MAX - d) / 10)
			return -1;
		x = x * 10 + d;
	}
	if (neg ? x > (uint64_t)INT64_MAX + 1 : x > (uint64_t)INT64_MAX)
		return -1;
	*v = neg ? (int64_t)(0 - x) : (int64_t)x;
	return 0;
}

int kc_etcd__scan_u64(const struct kc_etcd__scan *s, int obj, const char *key, uint64_t *v)
{
	*v = 0;
	int t = kc_etcd__scan_find(s, obj, key);
	if (t < 0)
		return 0;
	const struct kc_etcd__tok *tk = &s->t[t];
	const char *p = s->js + tk->start, *e = s->js + tk->end;
	if ((tk->type != KC_ETCD__TSTR && tk->type != KC_ETCD__TPRIM) || tk->esc || p == e)
		return -1;
	if (tk->type == KC_ETCD__TPRIM && *p == '-')
		return 0; /* a negative number reads as 0, as the cJSON decoder did */
	uint64_t x = 0;
	for (; p < e; p++) {
		if (!is_digit(*p))
			return -1;
		unsigned d = (unsigned)(*p - '0');
		if (x > (UINT64_MAX - d) / 10)
			return -1;
		x = x * 10 + d;
	}
	*v = x;
	return 0;
}

bool kc_etcd__scan_bool(const struct kc_etcd__scan *s, int obj, const char *key)
{
	int t = kc_etcd__scan_find(s, obj, key);
	return t >= 0 && s->t[t].type == KC_ETCD__TPRIM && s->js[s->t[t].start] == 't';
}

int kc_etcd__scan_header(const struct kc_etcd__scan *s, int o, struct kc_etcd_header *h)
{
	memset(h, 0, sizeof(*h));
	int hj = kc_etcd__scan_find(s, o, "header");
	if (hj < 0)
		return 0;
	if (s->t[hj].type != KC_ETCD__TOBJ)
		return KC_EPARSE;
	if (kc_etcd__scan_u64(s, hj, "cluster_id", &h->cluster_id) || kc_etcd__scan_u64(s, hj, "member_id", &h->member_id) ||
	    kc_etcd__scan_i64(s, hj, "revision", &h->revision) || kc_etcd__scan_u64(s, hj, "raft_term", &h->raft_term))
		return KC_EPARSE;
	return 0;
}

/* ---- the KV answers, read with the token scanner (etcd_scan.c): no tree, no copy of
 * the base64 text; each key and value is decoded once into its own heap buffer. */

/* Base64 bytes token t (absent when t < 0: NULL/0) into a NUL-terminated heap buffer. */
static int scan_bytes_heap(const struct kc_etcd__scan *s, int t, uint8_t **p, size_t *len)
{
	*p = NULL;
	*len = 0;
	size_t max;
	int rc = kc_etcd__scan_bytes_len(s, t, &max);
	if (rc || t < 0)
		return rc;
	uint8_t *b = malloc(max + 1);
	if (!b)
		return -ENOMEM;
	rc = kc_etcd__scan_bytes_into(s, t, b, len);
	if (rc) {
		free(b);
		*len = 0;
		return rc;
	}
	b[*len] = 0;
	*p = b;
	return 0;
}

int kc_etcd__scan_kv(const struct kc_etcd__scan *s, int o, struct kc_etcd_kv *kv)
{
	memset(kv, 0, sizeof(*kv));
	if (o < 0 || s->t[o].type != KC_ETCD__TOBJ)
		return KC_EPARSE;
	int rc = scan_bytes_heap(s, kc_etcd__scan_find(s, o, "key"), &kv->key, &kv->key_len);
	if (rc == 0)
		rc = scan_bytes_heap(s, kc_etcd__scan_find(s, o, "value"), &kv->value, &kv->value_len);
	if (rc == 0 && (kc_etcd__scan_i64(s, o, "create_revision", &kv->create_revision) ||
	                kc_etcd__scan_i64(s, o, "mod_revision", &kv->mod_revision) ||
	                kc_etcd__scan_i64(s, o, "version", &kv->version) || kc_etcd__scan_i64(s, o, "lease", &kv->lease)))
		rc = KC_EPARSE;
	if (rc == 0 && !kv->key) { /* an empty key is never valid in etcd, but keep it non-NULL */
		kv->key = calloc(1, 1);
		if (!kv->key)
			rc = -ENOMEM;
	}
	if (rc)
		kc_etcd__kv_free(kv);
	return rc;
}

/* The array o[name]: its token (or -1 when absent: proto3 omits empty repeated fields)
 * and length; anything but an array is KC_EPARSE. */
int kc_etcd__scan_array(const struct kc_etcd__scan *s, int o, const char *name, int *arr, size_t *n)
{
	*arr = kc_etcd__scan_find(s, o, name);
	*n = 0;
	if (*arr < 0)
		return 0;
	if (s->t[*arr].type != KC_ETCD__TARR)
		return KC_EPARSE;
	*n = (size_t)s->t[*arr].size;
	return 0;
}

int kc_etcd__scan_kvs(const struct kc_etcd__scan *s, int o, const char *name, struct kc_etcd_kv **out, size_t *n)
{
	*out = NULL;
	*n = 0;
	int arr;
	size_t cnt;
	int rc = kc_etcd__scan_array(s, o, name, &arr, &cnt);
	if (rc || cnt == 0)
		return rc;
	struct kc_etcd_kv *kvs = calloc(cnt, sizeof(*kvs));
	if (!kvs)
		return -ENOMEM;
	int it = arr + 1;
	for (size_t i = 0; i < cnt; i++) {
		rc = kc_etcd__scan_kv(s, it, &kvs[i]);
		if (rc) {
			for (size_t k = 0; k < i; k++)
				kc_etcd__kv_free(&kvs[k]);
			free(kvs);
			return rc;
		}
		it = (int)s->t[it].next;
	}
	*out = kvs;
	*n = cnt;
	return 0;
}

/* ------------------------------------------------------------------ base64 */

/* 0..63 for the standard alphabet, 64 for '=', 255 for anything else. */
static const uint8_t b64_dec[256] = {
	255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
	255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
	255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,  62, 255, 255, 255,  63,
	 52,  53,  54,  55,  56,  57,  58,  59,  60,  61, 255, 255, 255,  64, 255, 255,
	255,   0,   1,   2,   3,   4,   5,   6,   7,   8,   9,  10,  11,  12,  13,  14,
	 15,  16,  17,  18,  19,  20,  21,  22,  23,  24,  25, 255, 255, 255, 255, 255,
	255,  26,  27,  28,  29,  30,  31,  32,  33,  34,  35,  36,  37,  38,  39,  40,
	 41,  42,  43,  44,  45,  46,  47,  48,  49,  50,  51, 255, 255, 255, 255, 255,
	255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
	255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
	255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
	255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
	255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
	255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
	255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
	255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
};

size_t kc_etcd__b64_max(size_t in_len) { return in_len / 4 * 3; }

/* Go's base64.StdEncoding (what etcd's gateway uses): padding required, nothing after it,
 * no whitespace. A table lookup per character and the whole quantum checked at once. */
int kc_etcd__b64_decode_into(const char *in, size_t in_len, uint8_t *out, size_t *out_len)
{
	if (in_len % 4 != 0)
		return KC_EPARSE;
	const unsigned char *p = (const unsigned char *)in;
	size_t j = 0;
	size_t full = in_len >= 4 ? in_len - 4 : 0; /* the last quantum may carry padding */
	size_t i = 0;
	for (; i < full; i += 4) {
		uint32_t a = b64_dec[p[i]], b = b64_dec[p[i + 1]], c = b64_dec[p[i + 2]], d = b64_dec[p[i + 3]];
		if ((a | b | c | d) & 0xc0) /* 64 ('=') or 255: not allowed before the end */
			return KC_EPARSE;
		uint32_t x = a << 18 | b << 12 | c << 6 | d;
		out[j] = (uint8_t)(x >> 16);
		out[j + 1] = (uint8_t)(x >> 8);
		out[j + 2] = (uint8_t)x;
		j += 3;
	}
	if (i < in_len) {
		uint32_t a = b64_dec[p[i]], b = b64_dec[p[i + 1]], c = b64_dec[p[i + 2]], d = b64_dec[p[i + 3]];
		if ((a | b) & 0xc0)
			return KC_EPARSE;
		if (c == 64 && d != 64)
			return KC_EPARSE; /* "xx=y" */
		if ((c | d) & 0x80)
			return KC_EPARSE;
		int pad = (c == 64) + (d == 64);
		uint32_t x = a << 18 | b << 12 | (pad >= 2 ? 0 : c) << 6 | (pad >= 1 ? 0 : d);
		out[j++] = (uint8_t)(x >> 16);
		if (pad < 2)
			out[j++] = (uint8_t)(x >> 8);
		if (pad < 1)
			out[j++] = (uint8_t)x;
	}
	*out_len = j;
	return 0;
}

/* ------------------------------------------------------------------ string unescape */

/* JSON string text (escapes resolved, \u as UTF-8; unpaired surrogates become U+FFFD as
 * Go does) into out, which must hold len + 1 bytes (an escape never grows). */
size_t kc_etcd__unescape(const char *p, size_t len, char *out)
{
	size_t j = 0;
	for (size_t i = 0; i < len; i++) {
		char c = p[i];
		if (c != '\\' || i + 1 >= len) {
			out[j++] = c;
			continue;
		}
		char e = p[++i];
		switch (e) {
		case 'b': out[j++] = '\b'; break;
		case 'f': out[j++] = '\f'; break;
		case 'n': out[j++] = '\n'; break;
		case 'r': out[j++] = '\r'; break;
		case 't': out[j++] = '\t'; break;
		case 'u': {
			if (i + 4 >= len) {
				out[j++] = '?';
				i = len;
				break;
			}
			uint32_t cp = 0;
			for (int k = 1; k <= 4; k++)
				cp = cp << 4 | (uint32_t)hexval(p[i + k]);
			i += 4;
			if (cp >= 0xd800 && cp < 0xdc00 && i + 6 < len && p[i + 1] == '\\' && p[i + 2] == 'u') {
				uint32_t lo = 0;
				for (int k = 3; k <= 6; k++)
					lo = lo << 4 | (uint32_t)hexval(p[i + k]);
				if (lo >= 0xdc00 && lo < 0xe000) {
					cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
					i += 6;
				}
			}
			if (cp >= 0xd800 && cp < 0xe000)
				cp = 0xfffd;
			/* \uXXXX is 6 bytes of input; UTF-8 needs at most 4 (a pair: 12 -> 4) */
			if (cp < 0x80) {
				out[j++] = (char)cp;
			} else if (cp < 0x800) {
				out[j++] = (char)(0xc0 | cp >> 6);
				out[j++] = (char)(0x80 | (cp & 0x3f));
			} else if (cp < 0x10000) {
				out[j++] = (char)(0xe0 | cp >> 12);
				out[j++] = (char)(0x80 | ((cp >> 6) & 0x3f));
				out[j++] = (char)(0x80 | (cp & 0x3f));
			} else {
				out[j++] = (char)(0xf0 | cp >> 18);
				out[j++] = (char)(0x80 | ((cp >> 12) & 0x3f));
				out[j++] = (char)(0x80 | ((cp >> 6) & 0x3f));
				out[j++] = (char)(0x80 | (cp & 0x3f));
			}
			break;
		}
		default: out[j++] = e; break; /* \" \\ \/ */
		}
	}
	out[j] = 0;
	return j;
}

int kc_etcd__scan_bytes_len(const struct kc_etcd__scan *s, int t, size_t *max)
{
	*max = 0;
	if (t < 0)
		return 0;
	if (s->t[t].type != KC_ETCD__TSTR)
		return KC_EPARSE;
	*max = kc_etcd__b64_max(s->t[t].end - s->t[t].start);
	return 0;
}

int kc_etcd__scan_bytes_into(const struct kc_etcd__scan *s, int t, uint8_t *out, size_t *out_len)
{
	const struct kc_etcd__tok *tk = &s->t[t];
	const char *p = s->js + tk->start;
	size_t n = tk->end - tk->start;
	if (tk->type != KC_ETCD__TSTR)
		return KC_EPARSE;
	if (!tk->esc)
		return kc_etcd__b64_decode_into(p, n, out, out_len);
	/* Go escapes no base64 character, but "\u002b" is still a '+': resolve first. */
	char *tmp = malloc(n + 1);
	if (!tmp)
		return -ENOMEM;
	size_t m = kc_etcd__unescape(p, n, tmp);
	int rc = kc_etcd__b64_decode_into(tmp, m, out, out_len);
	free(tmp);
	return rc;
}
