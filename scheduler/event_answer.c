/* The recorder's fields of an Event create's answer; see event_answer.h. */
#include "event_answer.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

typedef struct scan {
	const unsigned char *p, *end;
	int depth;
} scan;

/* A string of the answer: its raw bytes (between the quotes) and whether they can be
 * used as they are (no escape, printable ASCII only). */
typedef struct span {
	const unsigned char *s;
	size_t len;
	bool plain;
} span;

static void ws(scan *s)
{
	while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
		s->p++;
}

static bool is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

static bool is_hex(unsigned char c)
{
	return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static bool str(scan *s, span *out)
{
	if (s->p >= s->end || *s->p != '"')
		return false;
	const unsigned char *b = ++s->p;
	bool plain = true;
	while (s->p < s->end) {
		unsigned char c = *s->p;
		if (c == '"') {
			out->s = b;
			out->len = (size_t)(s->p - b);
			out->plain = plain;
			s->p++;
			return true;
		}
		if (c < 0x20)
			return false;
		if (c == '\\') {
			plain = false;
			if (++s->p >= s->end)
				return false;
			switch (*s->p) {
			case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
				break;
			case 'u':
				for (int i = 0; i < 4; i++)
					if (++s->p >= s->end || !is_hex(*s->p))
						return false;
				break;
			default:
				return false;
			}
		} else if (c > 0x7e) {
			plain = false;
		}
		s->p++;
	}
	return false;
}

/* A number (RFC 8259 grammar); with out, its value (false when not a plain finite
 * number of at most 24 characters: the caller then parses the answer itself). */
static bool number(scan *s, double *out)
{
	const unsigned char *b = s->p, *e = s->end;
	const unsigned char *p = b;
	if (p < e && *p == '-')
		p++;
	if (p >= e)
		return false;
	if (*p == '0')
		p++;
	else if (*p >= '1' && *p <= '9')
		while (p < e && is_digit(*p))
			p++;
	else
		return false;
	if (p < e && *p == '.') {
		if (++p >= e || !is_digit(*p))
			return false;
		while (p < e && is_digit(*p))
			p++;
	}
	if (p < e && (*p == 'e' || *p == 'E')) {
		p++;
		if (p < e && (*p == '+' || *p == '-'))
			p++;
		if (p >= e || !is_digit(*p))
			return false;
		while (p < e && is_digit(*p))
			p++;
	}
	s->p = p;
	if (out) {
		char tmp[25];
		size_t n = (size_t)(p - b);
		if (n >= sizeof(tmp))
			return false;
		memcpy(tmp, b, n);
		tmp[n] = '\0';
		*out = strtod(tmp, NULL);
		if (!isfinite(*out))
			return false;
	}
	return true;
}

static bool literal(scan *s, const char *word)
{
	size_t n = strlen(word);
	if ((size_t)(s->end - s->p) < n || memcmp(s->p, word, n) != 0)
		return false;
	s->p += n;
	return true;
}

/* A member handler: parses the member's value (whitespace before it skipped). */
typedef bool (*member_fn)(scan *s, const span *key, void *arg);

static bool value(scan *s);

/* An object at s->p; each member's value goes to fn (NULL: skipped). */
static bool object(scan *s, member_fn fn, void *arg)
{
	if (s->p >= s->end || *s->p != '{' || ++s->depth > SCHED_EVENT_ANSWER_MAX_DEPTH)
		return false;
	s->p++;
	ws(s);
	if (s->p < s->end && *s->p == '}') {
		s->p++;
		s->depth--;
		return true;
	}
	for (;;) {
		span key;
		ws(s);
		if (!str(s, &key))
			return false;
		ws(s);
		if (s->p >= s->end || *s->p != ':')
			return false;
		s->p++;
		ws(s);
		if (!(fn ? fn(s, &key, arg) : value(s)))
			return false;
		ws(s);
		if (s->p < s->end && *s->p == ',') {
			s->p++;
			continue;
		}
		if (s->p < s->end && *s->p == '}') {
			s->p++;
			s->depth--;
			return true;
		}
		return false;
	}
}

static bool array(scan *s)
{
	if (++s->depth > SCHED_EVENT_ANSWER_MAX_DEPTH)
		return false;
	s->p++; /* '[' */
	ws(s);
	if (s->p < s->end && *s->p == ']') {
		s->p++;
		s->depth--;
		return true;
	}
	for (;;) {
		ws(s);
		if (!value(s))
			return false;
		ws(s);
		if (s->p < s->end && *s->p == ',') {
			s->p++;
			continue;
		}
		if (s->p < s->end && *s->p == ']') {
			s->p++;
			s->depth--;
			return true;
		}
		return false;
	}
}

/* Any value at s->p (no leading whitespace), checked and skipped. */
static bool value(scan *s)
{
	if (s->p >= s->end)
		return false;
	span sp;
	switch (*s->p) {
	case '{':
		return object(s, NULL, NULL);
	case '[':
		return array(s);
	case '"':
		return str(s, &sp);
	case 't':
		return literal(s, "true");
	case 'f':
		return literal(s, "false");
	case 'n':
		return literal(s, "null");
	default:
		return number(s, NULL);
	}
}

static bool key_is(const span *k, const char *name)
{
	return k->len == strlen(name) && memcmp(k->s, name, k->len) == 0;
}

typedef struct found {
	bool has_count, has_ts, has_md, has_name, has_rv;
	double count;
	span ts, name, rv;
} found;

/* A target string: plain, once. */
static bool target_string(scan *s, bool *seen, span *out)
{
	if (*seen || !str(s, out) || !out->plain)
		return false;
	*seen = true;
	return true;
}

static bool md_member(scan *s, const span *key, void *arg)
{
	found *f = arg;
	if (!key->plain)
		return false; /* an escaped key might spell a target */
	if (key_is(key, "name"))
		return target_string(s, &f->has_name, &f->name);
	if (key_is(key, "resourceVersion"))
		return target_string(s, &f->has_rv, &f->rv);
	return value(s);
}

static bool top_member(scan *s, const span *key, void *arg)
{
	found *f = arg;
	if (!key->plain)
		return false;
	if (key_is(key, "count")) {
		if (f->has_count || !number(s, &f->count))
			return false;
		f->has_count = true;
		return true;
	}
	if (key_is(key, "firstTimestamp"))
		return target_string(s, &f->has_ts, &f->ts);
	if (key_is(key, "metadata")) {
		if (f->has_md)
			return false;
		f->has_md = true;
		return object(s, md_member, f);
	}
	return value(s);
}

static bool add_span(cJSON *o, const char *name, const span *sp)
{
	char *v = malloc(sp->len + 1);
	if (!v)
		return false;
	memcpy(v, sp->s, sp->len);
	v[sp->len] = '\0';
	bool ok = cJSON_AddStringToObject(o, name, v) != NULL;
	free(v);
	return ok;
}

cJSON *sched_event_answer_summary(const char *buf, size_t len)
{
	if (!buf)
		return NULL;
	scan s = { .p = (const unsigned char *)buf, .end = (const unsigned char *)buf + len };
	found f;
	memset(&f, 0, sizeof(f));
	ws(&s);
	if (!object(&s, top_member, &f))
		return NULL;
	ws(&s);
	if (s.p != s.end)
		return NULL;
	cJSON *o = cJSON_CreateObject();
	if (!o)
		return NULL;
	bool ok = true;
	if (f.has_count)
		ok = cJSON_AddNumberToObject(o, "count", f.count) != NULL;
	if (ok && f.has_ts)
		ok = add_span(o, "firstTimestamp", &f.ts);
	if (ok && f.has_md) {
		cJSON *md = cJSON_AddObjectToObject(o, "metadata");
		ok = md != NULL;
		if (ok && f.has_name)
			ok = add_span(md, "name", &f.name);
		if (ok && f.has_rv)
			ok = add_span(md, "resourceVersion", &f.rv);
	}
	if (!ok) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}
