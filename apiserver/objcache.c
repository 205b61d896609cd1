/* Key -> latest object text; see objcache.h. Chained hash table, doubled when the load
 * passes 2 so that lookups stay O(1) with tens of thousands of objects. */
#include "objcache.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "json.h"

#define OC_MIN_BUCKETS 64

static uint64_t key_hash(const char *k)
{
	uint64_t h = 1469598103934665603ULL; /* FNV-1a */
	for (; *k; k++) {
		h ^= (unsigned char)*k;
		h *= 1099511628211ULL;
	}
	return h;
}

void oc_init(oc_map *m, int own)
{
	memset(m, 0, sizeof(*m));
	m->own = own;
}

static void entry_free(const oc_map *m, oc_entry *e)
{
	free(e->key);
	if (m->own)
		free(e->text);
	free(e);
}

void oc_clear(oc_map *m)
{
	for (size_t i = 0; i < m->nb; i++) {
		oc_entry *e = m->b[i];
		while (e) {
			oc_entry *next = e->next;
			entry_free(m, e);
			e = next;
		}
		m->b[i] = NULL;
	}
	m->count = 0;
}

void oc_close(oc_map *m)
{
	oc_clear(m);
	free(m->b);
	m->b = NULL;
	m->nb = 0;
}

static int grow(oc_map *m)
{
	size_t nb = m->nb ? m->nb * 2 : OC_MIN_BUCKETS;
	oc_entry **b = calloc(nb, sizeof(*b));
	if (!b)
		return -ENOMEM;
	for (size_t i = 0; i < m->nb; i++) {
		oc_entry *e = m->b[i];
		while (e) {
			oc_entry *next = e->next;
			size_t j = key_hash(e->key) & (nb - 1);
			e->next = b[j];
			b[j] = e;
			e = next;
		}
	}
	free(m->b);
	m->b = b;
	m->nb = nb;
	return 0;
}

static oc_entry **slot_of(const oc_map *m, const char *key)
{
	if (!m->nb)
		return NULL;
	oc_entry **pp = &m->b[key_hash(key) & (m->nb - 1)];
	while (*pp && strcmp((*pp)->key, key))
		pp = &(*pp)->next;
	return pp;
}

int oc_put(oc_map *m, const char *key, const char *text, size_t n, int64_t rev, uint64_t seq,
	   int deleted)
{
	if ((!m->nb || m->count >= m->nb * 2) && grow(m) && !m->nb)
		return -ENOMEM; /* a failed grow of a non-empty table only costs longer chains */
	char *t = (char *)text;
	if (m->own) {
		t = malloc(n + 1);
		if (!t)
			return -ENOMEM;
		memcpy(t, text, n);
		t[n] = 0;
	}
	oc_entry **pp = slot_of(m, key);
	oc_entry *e = *pp;
	if (!e) {
		e = calloc(1, sizeof(*e));
		char *k = strdup(key);
		if (!e || !k) {
			free(e);
			free(k);
			if (m->own)
				free(t);
			return -ENOMEM;
		}
		e->key = k;
		*pp = e;
		m->count++;
	} else if (m->own) {
		free(e->text);
	}
	e->text = t;
	e->n = n;
	e->rev = rev;
	e->seq = seq;
	e->deleted = deleted;
	return 0;
}

static void unlink_at(oc_map *m, oc_entry **pp)
{
	oc_entry *e = *pp;
	*pp = e->next;
	entry_free(m, e);
	m->count--;
}

void oc_del(oc_map *m, const char *key)
{
	oc_entry **pp = slot_of(m, key);
	if (pp && *pp)
		unlink_at(m, pp);
}

void oc_del_if_seq(oc_map *m, const char *key, uint64_t seq)
{
	oc_entry **pp = slot_of(m, key);
	if (pp && *pp && (*pp)->seq == seq)
		unlink_at(m, pp);
}

const oc_entry *oc_find(const oc_map *m, const char *key)
{
	oc_entry **pp = slot_of(m, key);
	return pp ? *pp : NULL;
}

int oc_foreach(const oc_map *m, int (*fn)(const oc_entry *e, void *arg), void *arg)
{
	for (size_t i = 0; i < m->nb; i++)
		for (const oc_entry *e = m->b[i]; e; e = e->next) {
			int rc = fn(e, arg);
			if (rc)
				return rc;
		}
	return 0;
}

int oc_key(const char *ns, const char *name, char *buf, size_t n)
{
	int w = (ns && ns[0]) ? snprintf(buf, n, "%s/%s", ns, name) : snprintf(buf, n, "%s", name);
	return (w < 0 || (size_t)w >= n) ? -1 : w;
}

/* ---- stored texts read without parsing them (oc_raw) ---- */

#define RAW_DEPTH 128
#define RAW_KEYS 1024 /* keys of the objects open at once (duplicate check) */

/* Bytes kc_json_print copies into a string as they are (json.c's print_plain): printable
 * ASCII but '"', '\\' and Go's HTML-escaped '<', '>', '&'. Any other byte below 0x80 is
 * printed escaped, so finding it raw means the text was not printed by kc_json_print. */
static const unsigned char raw_plain[256] = {
	[0x20] = 1, [0x21] = 1, [0x23] = 1, [0x24] = 1, [0x25] = 1, [0x27 ... 0x3b] = 1,
	[0x3d] = 1, [0x3f ... 0x5b] = 1, [0x5d ... 0x7f] = 1,
};

/* The string at *pp (its opening quote) in the printer's form: its escapes are exactly the
 * ones print_string writes (\" \\ \n \r \t \b \f, \u00xx in lower case for other control
 * characters and < > &, \u2028, \u2029), and its other bytes are plain ASCII or UTF-8 as
 * json.c's utf8_decode accepts it (the parser and the printer keep those bytes as they are;
 * they replace anything else by U+FFFD). Moves *pp past the closing quote; returns 1 when
 * the string has escapes, 0 when not, -1 when the printer would not have written it so. */
static int raw_string(const unsigned char **pp, const unsigned char *e)
{
	const unsigned char *p = *pp + 1;
	int esc = 0;
	for (;;) {
#ifdef __SSE2__
		/* 16 bytes at a time while none needs a look: a byte below 0x20 or from 0x80
		 * (negative as a signed byte), or one of " \\ < > & */
		while (e - p >= 16) {
			__m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
			__m128i bad = _mm_or_si128(
				_mm_or_si128(_mm_cmplt_epi8(v, _mm_set1_epi8(0x20)),
					     _mm_cmpeq_epi8(v, _mm_set1_epi8('"'))),
				_mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('\\')),
							  _mm_cmpeq_epi8(v, _mm_set1_epi8('<'))),
					     _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('>')),
							  _mm_cmpeq_epi8(v, _mm_set1_epi8('&')))));
			int m = _mm_movemask_epi8(bad);
			if (m) {
				p += __builtin_ctz((unsigned)m);
				break;
			}
			p += 16;
		}
#endif
		while (p < e && raw_plain[*p])
			p++;
		if (p >= e)
			return -1;
		unsigned char c = *p;
		if (c == '"') {
			*pp = p + 1;
			return esc;
		}
		if (c == '\\') {
			if (e - p < 2)
				return -1;
			esc = 1;
			switch (p[1]) {
			case '"': case '\\': case 'n': case 'r': case 't': case 'b': case 'f':
				p += 2;
				continue;
			case 'u':
				break;
			default:
				return -1; /* \/ parses as '/', printed plain */
			}
			if (e - p < 6)
				return -1;
			uint32_t v = 0;
			for (int i = 2; i < 6; i++) {
				unsigned char h = p[i];
				v <<= 4;
				if (h >= '0' && h <= '9')
					v |= (uint32_t)(h - '0');
				else if (h >= 'a' && h <= 'f')
					v |= (uint32_t)(h - 'a' + 10);
				else
					return -1;
			}
			int ok = (v >= 1 && v < 0x20 && v != '\n' && v != '\r' && v != '\t' && v != '\b' &&
				  v != '\f') ||
				 v == '<' || v == '>' || v == '&' || v == 0x2028 || v == 0x2029;
			if (!ok)
				return -1;
			p += 6;
			continue;
		}
		if (c < 0x80)
			return -1;
		/* Valid UTF-8 prints as itself, except U+2028/U+2029, which the printer
		 * escapes. */
		uint32_t v;
		size_t len = kc_utf8_decode(p, (size_t)(e - p), &v);
		if (!len || v == 0x2028 || v == 0x2029)
			return -1;
		p += len;
	}
}

/* An integer the printer prints back as the same digits: the parser keeps one of up to 18
 * digits exactly (a double up to 2^53, a raw literal above). Fractions, exponents, "-0" and
 * longer integers are printed differently, or may be. */
static int raw_number(const unsigned char **pp, const unsigned char *e)
{
	const unsigned char *p = *pp;
	int neg = 0;
	if (*p == '-') {
		neg = 1;
		p++;
	}
	const unsigned char *d = p;
	if (p < e && *p == '0') {
		p++;
	} else {
		if (p >= e || *p < '1' || *p > '9')
			return -1;
		while (p < e && *p >= '0' && *p <= '9')
			p++;
	}
	size_t nd = (size_t)(p - d);
	if (nd > 18 || (neg && *d == '0'))
		return -1;
	if (p < e && (*p == '.' || *p == 'e' || *p == 'E'))
		return -1;
	*pp = p;
	return 0;
}

/* A key's tag for the duplicate check: its length and its first and last 8 bytes (equal
 * tags are then compared in full), cheaper than hashing every byte of every key. */
static uint32_t raw_hash(const unsigned char *s, size_t n)
{
	uint64_t a = 0, b = 0;
	if (n >= 8) {
		memcpy(&a, s, 8);
		memcpy(&b, s + n - 8, 8);
	} else {
		for (size_t i = 0; i < n; i++)
			a = a << 8 | s[i];
	}
	uint64_t h = (a * 0x9E3779B97F4A7C15ull) ^ (b * 0xC2B2AE3D27D4EB4Full) ^ n;
	return (uint32_t)(h >> 32) ^ (uint32_t)h;
}

enum { RAW_PLAIN, RAW_TOP, RAW_MD };

static int span_is(const unsigned char *s, size_t n, const char *lit)
{
	size_t l = strlen(lit);
	return n == l && !memcmp(s, lit, l);
}

int oc_raw_scan(const char *text, size_t n, oc_raw *r)
{
	memset(r, 0, sizeof(*r));
	/* kc_json_parse's default limit: a longer text does not parse (reg_decode fails). */
	if (!text || n < 2 || n > KC_JSON_DEFAULT_MAX || text[0] != '{')
		return -1;
	r->text = text;
	r->n = n;
	const unsigned char *s = (const unsigned char *)text, *p = s, *e = s + n;
	struct {
		unsigned char obj, role;
		uint32_t kbase;
	} st[RAW_DEPTH];
	struct {
		uint32_t off, len, h;
	} keys[RAW_KEYS];
	uint32_t nkeys = 0;
	int depth = 0, pending_md = 0, have_md = 0;
	oc_span *md_rec = NULL; /* the metadata member whose value is being scanned */

value:
	if (p >= e)
		return -1;
	switch (*p) {
	case '{': {
		if (depth == RAW_DEPTH)
			return -1;
		unsigned char role = depth == 0 ? RAW_TOP : pending_md ? RAW_MD : RAW_PLAIN;
		if (role == RAW_MD)
			have_md = 1;
		pending_md = 0;
		st[depth].obj = 1;
		st[depth].role = role;
		st[depth].kbase = nkeys;
		depth++;
		p++;
		if (p < e && *p == '}') {
			if (role == RAW_MD) {
				r->md_close = (size_t)(p - s);
				r->md_empty = 1;
			}
			p++;
			depth--;
			goto after;
		}
		goto key;
	}
	case '[':
		if (depth == RAW_DEPTH || pending_md)
			return -1;
		st[depth].obj = 0;
		st[depth].role = RAW_PLAIN;
		st[depth].kbase = nkeys;
		depth++;
		p++;
		if (p < e && *p == ']') {
			p++;
			depth--;
			goto after;
		}
		goto value;
	case '"':
		if (pending_md || raw_string(&p, e) < 0)
			return -1;
		goto after;
	case 't':
		if (pending_md || e - p < 4 || memcmp(p, "true", 4))
			return -1;
		p += 4;
		goto after;
	case 'f':
		if (pending_md || e - p < 5 || memcmp(p, "false", 5))
			return -1;
		p += 5;
		goto after;
	case 'n':
		if (pending_md || e - p < 4 || memcmp(p, "null", 4))
			return -1;
		p += 4;
		goto after;
	default:
		/* metadata that is not an object: reg_decode's resourceVersion is not set */
		if (pending_md || raw_number(&p, e))
			return -1;
		goto after;
	}

key:
	if (p >= e || *p != '"')
		return -1;
	{
		const unsigned char *ks = p + 1;
		if (raw_string(&p, e) < 0)
			return -1;
		size_t kl = (size_t)(p - 1 - ks);
		/* Duplicate keys: the parser keeps one member (the last value at the first
		 * position), so the printed text would differ. Keys compare as their printed
		 * bytes: one string has one printed form. */
		uint32_t h = raw_hash(ks, kl);
		for (uint32_t i = st[depth - 1].kbase; i < nkeys; i++)
			if (keys[i].h == h && keys[i].len == kl && !memcmp(s + keys[i].off, ks, kl))
				return -1;
		if (nkeys == RAW_KEYS)
			return -1;
		keys[nkeys].off = (uint32_t)(ks - s);
		keys[nkeys].len = (uint32_t)kl;
		keys[nkeys].h = h;
		nkeys++;
		if (p >= e || *p != ':')
			return -1;
		p++;
		unsigned char role = st[depth - 1].role;
		if (role == RAW_TOP) {
			if (r->ntop == OC_RAW_TOP)
				return -1;
			r->top[r->ntop].key.off = (uint32_t)(ks - s);
			r->top[r->ntop].key.len = (uint32_t)kl;
			r->top[r->ntop].val.off = (uint32_t)(p - s);
			r->ntop++;
			pending_md = span_is(ks, kl, "metadata");
		} else if (role == RAW_MD) {
			if (span_is(ks, kl, "resourceVersion"))
				return -1; /* replaced in place by the parse path, not appended */
			md_rec = span_is(ks, kl, "name")        ? &r->name
				 : span_is(ks, kl, "namespace") ? &r->ns
				 : span_is(ks, kl, "labels")    ? &r->labels
								: NULL;
			if (md_rec)
				md_rec->off = (uint32_t)(p - s);
		}
	}
	goto value;

after:
	/* A value ended at p; it belongs to st[depth - 1] (none: the top-level object). */
	if (depth == 0)
		return p == e && have_md ? 0 : -1;
	if (st[depth - 1].role == RAW_TOP) {
		uint32_t off = r->top[r->ntop - 1].val.off;
		r->top[r->ntop - 1].val.len = (uint32_t)(p - s) - off;
	} else if (st[depth - 1].role == RAW_MD && md_rec) {
		md_rec->len = (uint32_t)(p - s) - md_rec->off;
		if (md_rec != &r->labels && s[md_rec->off] == '"' &&
		    memchr(s + md_rec->off, '\\', md_rec->len))
			return -1; /* a name with escapes: let the parser decode it */
		md_rec = NULL;
	}
	if (p >= e)
		return -1;
	if (st[depth - 1].obj) {
		if (*p == ',') {
			p++;
			goto key;
		}
		if (*p != '}')
			return -1;
		if (st[depth - 1].role == RAW_MD)
			r->md_close = (size_t)(p - s);
		nkeys = st[depth - 1].kbase;
		p++;
		depth--;
		goto after;
	}
	if (*p == ',') {
		p++;
		goto value;
	}
	if (*p != ']')
		return -1;
	p++;
	depth--;
	goto after;
}

char *oc_raw_with_rv(const oc_raw *r, int64_t rev, size_t *len)
{
	char mid[64];
	/* as reg_decode formats it: "%lld" */
	int mn = snprintf(mid, sizeof(mid), "%s\"resourceVersion\":\"%lld\"", r->md_empty ? "" : ",",
			  (long long)rev);
	if (mn < 0)
		return NULL;
	size_t total = r->n + (size_t)mn;
	char *out = malloc(total + 1);
	if (!out)
		return NULL;
	memcpy(out, r->text, r->md_close);
	memcpy(out + r->md_close, mid, (size_t)mn);
	memcpy(out + r->md_close + (size_t)mn, r->text + r->md_close, r->n - r->md_close);
	out[total] = 0;
	*len = total;
	return out;
}

const char *oc_raw_str(const oc_raw *r, oc_span v, size_t *len)
{
	if (v.len < 2 || r->text[v.off] != '"') {
		*len = 0;
		return "";
	}
	*len = v.len - 2;
	return r->text + v.off + 1;
}

/* Parses the value at v and adds it to obj as key (borrowed). 0 or -1. */
static int view_put(const oc_raw *r, cJSON *obj, const char *key, oc_span v)
{
	cJSON *val = NULL;
	if (kc_json_parse(r->text + v.off, v.len, r->n, &val, NULL, 0))
		return -1;
	if (!cJSON_AddItemToObject(obj, key, val)) {
		cJSON_Delete(val);
		return -1;
	}
	return 0;
}

cJSON *oc_raw_view_new(void)
{
	cJSON *o = cJSON_CreateObject();
	if (o && !cJSON_AddObjectToObject(o, "metadata")) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

int oc_raw_view_add_meta(const oc_raw *r, cJSON *view, const char *key)
{
	cJSON *md = cJSON_GetObjectItemCaseSensitive(view, "metadata");
	oc_span v;
	if (!strcmp(key, "name"))
		v = r->name;
	else if (!strcmp(key, "namespace"))
		v = r->ns;
	else if (!strcmp(key, "labels"))
		v = r->labels;
	else
		return -1;
	if (!md)
		return -1;
	if (!v.len || cJSON_GetObjectItemCaseSensitive(md, key))
		return 0;
	return view_put(r, md, key, v);
}

int oc_raw_view_add(const oc_raw *r, cJSON *view, const char *key)
{
	if (cJSON_GetObjectItemCaseSensitive(view, key))
		return 0;
	size_t kl = strlen(key);
	for (size_t i = 0; i < kl; i++)
		if (!raw_plain[(unsigned char)key[i]])
			return -1; /* printed escaped: the raw keys cannot be compared with it */
	for (size_t i = 0; i < r->ntop; i++)
		if (r->top[i].key.len == kl && !memcmp(r->text + r->top[i].key.off, key, kl))
			return view_put(r, view, key, r->top[i].val);
	return 0;
}
