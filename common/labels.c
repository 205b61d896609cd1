/* Label selectors: a port of the lexer/parser of
 * k8s.io/apimachinery/pkg/labels/selector.go (same tokens, same lookahead rules, same
 * error texts), plus metav1.LabelSelectorAsSelector for the object form. */
#include "labels.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"
#include "validate.h"

/* ---------------------------------------------------------------------------
 * Small helpers */

static void set_err(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
	if (!err || errlen == 0)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* Length of a valid UTF-8 sequence at s (1..4), or 0 if s starts an invalid one. */
static int utf8_seq_len(const unsigned char *s)
{
	unsigned c = s[0];
	int n;
	uint32_t cp;
	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf) {
		n = 2;
		cp = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		n = 3;
		cp = c & 0x0f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 4;
		cp = c & 0x07;
	} else {
		return 0;
	}
	for (int i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

/* Append Go's %q rendering of s to buf (strconv.Quote: escapes quotes, backslashes,
 * control bytes and invalid UTF-8; keeps other UTF-8 as is). Always terminates. */
static void go_quote(char *buf, size_t len, const char *s)
{
	size_t o = strlen(buf);
#define PUT(ch)                            \
	do {                               \
		if (o + 1 < len)           \
			buf[o++] = (ch);   \
	} while (0)
	PUT('"');
	const unsigned char *p = (const unsigned char *)s;
	while (*p) {
		unsigned c = *p;
		const char *esc = NULL;
		switch (c) {
		case '"': esc = "\\\""; break;
		case '\\': esc = "\\\\"; break;
		case '\a': esc = "\\a"; break;
		case '\b': esc = "\\b"; break;
		case '\f': esc = "\\f"; break;
		case '\n': esc = "\\n"; break;
		case '\r': esc = "\\r"; break;
		case '\t': esc = "\\t"; break;
		case '\v': esc = "\\v"; break;
		}
		if (esc) {
			for (; *esc; esc++)
				PUT(*esc);
			p++;
			continue;
		}
		if (c < 0x20 || c == 0x7f) {
			char hex[5];
			snprintf(hex, sizeof(hex), "\\x%02x", c);
			for (int i = 0; hex[i]; i++)
				PUT(hex[i]);
			p++;
			continue;
		}
		int n = utf8_seq_len(p);
		if (n == 0) {
			char hex[5];
			snprintf(hex, sizeof(hex), "\\x%02x", c);
			for (int i = 0; hex[i]; i++)
				PUT(hex[i]);
			p++;
			continue;
		}
		for (int i = 0; i < n; i++)
			PUT((char)p[i]);
		p += n;
	}
	PUT('"');
	if (o < len)
		buf[o] = '\0';
	else if (len)
		buf[len - 1] = '\0';
#undef PUT
}

/* field.Invalid(path, value, detail).Error() for a string value:
 *   <path>: Invalid value: "<value>": <detail> */
static void field_invalid_str(char *buf, size_t len, const char *path, const char *value,
			      const char *detail)
{
	if (!buf || len == 0)
		return;
	snprintf(buf, len, "%s: Invalid value: ", path);
	go_quote(buf, len, value);
	size_t o = strlen(buf);
	if (o < len)
		snprintf(buf + o, len - o, ": %s", detail);
}

/* Go's %#v of a []string: []string{"a", "b"}, or []string(nil) for nil. */
static void go_strslice(char *buf, size_t len, char *const *vals, size_t n, bool is_nil)
{
	size_t o = strlen(buf);
	if (is_nil) {
		snprintf(buf + o, len > o ? len - o : 0, "[]string(nil)");
		return;
	}
	snprintf(buf + o, len > o ? len - o : 0, "[]string{");
	for (size_t i = 0; i < n; i++) {
		if (i) {
			o = strlen(buf);
			snprintf(buf + o, len > o ? len - o : 0, ", ");
		}
		go_quote(buf, len, vals[i]);
	}
	o = strlen(buf);
	snprintf(buf + o, len > o ? len - o : 0, "}");
}

int kc_labels_validate_key(const char *key, char *err, size_t errlen)
{
	kc_verrs ve;
	kc_verrs_init(&ve);
	if (kc_validate_qualified_name(key ? key : "", &ve) == 0)
		return 0;
	if (err && errlen)
		kc_verrs_join(&ve, "; ", err, errlen);
	return KC_EINVALID;
}

int kc_labels_validate_value(const char *value, char *err, size_t errlen)
{
	kc_verrs ve;
	kc_verrs_init(&ve);
	if (kc_validate_label_value(value ? value : "", &ve) == 0)
		return 0;
	if (err && errlen)
		kc_verrs_join(&ve, "; ", err, errlen);
	return KC_EINVALID;
}

const char *kc_selector_op_string(kc_selector_op op)
{
	switch (op) {
	case KC_SEL_IN: return "in";
	case KC_SEL_NOT_IN: return "notin";
	case KC_SEL_EQUALS: return "=";
	case KC_SEL_DOUBLE_EQUALS: return "==";
	case KC_SEL_NOT_EQUALS: return "!=";
	case KC_SEL_EXISTS: return "exists";
	case KC_SEL_DOES_NOT_EXIST: return "!";
	case KC_SEL_GT: return "gt";
	case KC_SEL_LT: return "lt";
	}
	return "?";
}

const char *kc_selector_op_api_name(kc_selector_op op)
{
	switch (op) {
	case KC_SEL_IN: return "In";
	case KC_SEL_NOT_IN: return "NotIn";
	case KC_SEL_EXISTS: return "Exists";
	case KC_SEL_DOES_NOT_EXIST: return "DoesNotExist";
	default: return NULL;
	}
}

/* ---------------------------------------------------------------------------
 * Selector storage */

void kc_selector_init(kc_label_selector *sel)
{
	sel->reqs = NULL;
	sel->nreqs = 0;
	sel->nothing = false;
}

void kc_selector_init_nothing(kc_label_selector *sel)
{
	kc_selector_init(sel);
	sel->nothing = true;
}

static void req_free(kc_label_requirement *r)
{
	free(r->key);
	for (size_t i = 0; i < r->nvalues; i++)
		free(r->values[i]);
	free(r->values);
	memset(r, 0, sizeof(*r));
}

void kc_selector_close(kc_label_selector *sel)
{
	if (!sel)
		return;
	for (size_t i = 0; i < sel->nreqs; i++)
		req_free(&sel->reqs[i]);
	free(sel->reqs);
	kc_selector_init(sel);
}

bool kc_selector_empty(const kc_label_selector *sel)
{
	return !sel->nothing && sel->nreqs == 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Append a requirement (taking key and values, also on failure). */
static int sel_append(kc_label_selector *sel, kc_label_requirement *r)
{
	kc_label_requirement *n = realloc(sel->reqs, (sel->nreqs + 1) * sizeof(*n));
	if (!n) {
		req_free(r);
		return -ENOMEM;
	}
	sel->reqs = n;
	sel->reqs[sel->nreqs++] = *r;
	memset(r, 0, sizeof(*r));
	return 0;
}

/* Stable sort of requirements by key (upstream sorts with sort.Sort(ByKey), which for
 * selector-sized inputs is an insertion sort, i.e. stable). */
static void sel_sort(kc_label_selector *sel)
{
	for (size_t i = 1; i < sel->nreqs; i++) {
		kc_label_requirement t = sel->reqs[i];
		size_t j = i;
		while (j > 0 && strcmp(sel->reqs[j - 1].key, t.key) > 0) {
			sel->reqs[j] = sel->reqs[j - 1];
			j--;
		}
		sel->reqs[j] = t;
	}
}

/* strconv.ParseInt(s, 10, 64) */
static bool parse_int64(const char *s, long long *out)
{
	if (!s || !*s)
		return false;
	const char *p = s;
	if (*p == '+' || *p == '-')
		p++;
	if (!*p)
		return false;
	for (const char *q = p; *q; q++)
		if (*q < '0' || *q > '9')
			return false;
	errno = 0;
	char *end;
	long long v = strtoll(s, &end, 10);
	if (errno || *end)
		return false;
	*out = v;
	return true;
}

/* NewRequirement's checks. path is the field path prefix ("" for none; upstream's
 * Parse passes a nil path whose children print as "key", "values[0]"). Writes the
 * aggregated message and returns KC_EINVALID on failure. */
static int check_requirement(const char *key, kc_selector_op op, char *const *vals,
			     size_t nvals, bool vals_nil, char *err, size_t errlen)
{
	char msgs[4][KC_SELECTOR_ERRLEN];
	int nmsg = 0;
	char detail[KC_SELECTOR_ERRLEN];

	if (kc_labels_validate_key(key, detail, sizeof(detail)) != 0 && nmsg < 4) {
		field_invalid_str(msgs[nmsg], sizeof(msgs[0]), "key", key, detail);
		nmsg++;
	}
	const char *opmsg = NULL;
	switch (op) {
	case KC_SEL_IN:
	case KC_SEL_NOT_IN:
		if (nvals == 0)
			opmsg = "for 'in', 'notin' operators, values set can't be empty";
		break;
	case KC_SEL_EQUALS:
	case KC_SEL_DOUBLE_EQUALS:
	case KC_SEL_NOT_EQUALS:
		if (nvals != 1)
			opmsg = "exact-match compatibility requires one single value";
		break;
	case KC_SEL_EXISTS:
	case KC_SEL_DOES_NOT_EXIST:
		if (nvals != 0)
			opmsg = "values set must be empty for exists and does not exist";
		break;
	case KC_SEL_GT:
	case KC_SEL_LT:
		if (nvals != 1)
			opmsg = "for 'Gt', 'Lt' operators, exactly one value is required";
		break;
	}
	if (opmsg && nmsg < 4) {
		msgs[nmsg][0] = '\0';
		snprintf(msgs[nmsg], sizeof(msgs[0]), "values: Invalid value: ");
		go_strslice(msgs[nmsg], sizeof(msgs[0]), vals, nvals, vals_nil);
		size_t o = strlen(msgs[nmsg]);
		snprintf(msgs[nmsg] + o, sizeof(msgs[0]) - o, ": %s", opmsg);
		nmsg++;
	}
	for (size_t i = 0; i < nvals && nmsg < 4; i++) {
		char path[64];
		snprintf(path, sizeof(path), "values[%zu]", i);
		if (op == KC_SEL_GT || op == KC_SEL_LT) {
			/* strconv.ParseInt(v, 10, 64) */
			const char *v = vals[i];
			long long dummy;
			if (!parse_int64(v, &dummy)) {
				field_invalid_str(msgs[nmsg], sizeof(msgs[0]), path, v,
						  "for 'Gt', 'Lt' operators, the value must be an integer");
				nmsg++;
			}
		}
	}
	for (size_t i = 0; i < nvals && nmsg < 4; i++) {
		if (kc_labels_validate_value(vals[i], detail, sizeof(detail)) != 0) {
			char path[KC_SELECTOR_ERRLEN];
			snprintf(path, sizeof(path), "values[%zu][%s]", i, key);
			field_invalid_str(msgs[nmsg], sizeof(msgs[0]), path, vals[i], detail);
			nmsg++;
		}
	}
	if (nmsg == 0)
		return 0;
	/* utilerrors.Aggregate: one error prints bare, several as "[a, b]" (deduplicated). */
	if (err && errlen) {
		if (nmsg == 1) {
			snprintf(err, errlen, "%s", msgs[0]);
		} else {
			size_t o = 0;
			int shown = 0;
			err[0] = '\0';
			o += (size_t)snprintf(err, errlen, "[");
			for (int i = 0; i < nmsg; i++) {
				bool dup = false;
				for (int j = 0; j < i; j++)
					if (strcmp(msgs[i], msgs[j]) == 0)
						dup = true;
				if (dup)
					continue;
				if (o < errlen)
					o += (size_t)snprintf(err + o, errlen - o, "%s%s",
							      shown ? ", " : "", msgs[i]);
				shown++;
			}
			if (shown == 1) {
				/* everything was the same message: no brackets */
				memmove(err, err + 1, strlen(err + 1) + 1);
			} else if (o < errlen) {
				snprintf(err + o, errlen - o, "]");
			}
		}
	}
	return KC_EINVALID;
}

/* ---------------------------------------------------------------------------
 * Lexer (selector.go Lexer) */

enum tok {
	T_ERROR,
	T_EOS,
	T_CLOSE_PAR,
	T_COMMA,
	T_NOT, /* DoesNotExistToken "!" */
	T_DOUBLE_EQ,
	T_EQ,
	T_GT,
	T_IDENT,
	T_IN,
	T_LT,
	T_NOT_EQ,
	T_NOTIN,
	T_OPEN_PAR,
};

struct item {
	enum tok tok;
	const char *lit; /* points into the input; literal length len */
	size_t len;
};

static bool is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static bool is_special(char c)
{
	switch (c) {
	case '=': case '!': case '(': case ')': case ',': case '>': case '<':
		return true;
	}
	return false;
}

static enum tok special_tok(const char *s, size_t n)
{
	if (n == 2) {
		if (s[0] == '=' && s[1] == '=')
			return T_DOUBLE_EQ;
		if (s[0] == '!' && s[1] == '=')
			return T_NOT_EQ;
		return T_ERROR;
	}
	switch (s[0]) {
	case ')': return T_CLOSE_PAR;
	case ',': return T_COMMA;
	case '!': return T_NOT;
	case '=': return T_EQ;
	case '>': return T_GT;
	case '<': return T_LT;
	case '(': return T_OPEN_PAR;
	}
	return T_ERROR;
}

/* Tokenise the whole input, as Parser.scan does before parsing. */
static int lex_all(const char *s, struct item **out, size_t *nout)
{
	size_t cap = 8, n = 0, pos = 0;
	struct item *items = malloc(cap * sizeof(*items));
	if (!items)
		return -ENOMEM;
	for (;;) {
		while (is_ws(s[pos]))
			pos++;
		struct item it = { T_EOS, s + pos, 0 };
		if (s[pos] == '\0') {
			/* EndOfStringToken, literal "" */
		} else if (is_special(s[pos])) {
			/* scanSpecialSymbol: longest operator; each special char alone is
			 * one, so at most two chars ("==", "!=") are taken. */
			size_t len = 1;
			if (is_special(s[pos + 1]) && special_tok(s + pos, 2) != T_ERROR)
				len = 2;
			it.tok = special_tok(s + pos, len);
			it.len = len;
			pos += len;
		} else {
			size_t st = pos;
			while (s[pos] && !is_special(s[pos]) && !is_ws(s[pos]))
				pos++;
			it.len = pos - st;
			it.tok = T_IDENT;
			if (it.len == 2 && memcmp(s + st, "in", 2) == 0)
				it.tok = T_IN;
			else if (it.len == 5 && memcmp(s + st, "notin", 5) == 0)
				it.tok = T_NOTIN;
		}
		if (n == cap) {
			cap *= 2;
			struct item *ni = realloc(items, cap * sizeof(*items));
			if (!ni) {
				free(items);
				return -ENOMEM;
			}
			items = ni;
		}
		items[n++] = it;
		if (it.tok == T_EOS)
			break;
	}
	*out = items;
	*nout = n;
	return 0;
}

/* ---------------------------------------------------------------------------
 * Parser (selector.go Parser) */

struct parser {
	struct item *items;
	size_t n, pos;
	char *err;
	size_t errlen;
};

enum ctx { CTX_KEY_AND_OP, CTX_VALUES };

static enum tok ctx_tok(enum tok t, enum ctx c)
{
	if (c == CTX_VALUES && (t == T_IN || t == T_NOTIN))
		return T_IDENT;
	return t;
}

static const struct item *lookahead(struct parser *p, enum ctx c, enum tok *t)
{
	const struct item *it = &p->items[p->pos];
	*t = ctx_tok(it->tok, c);
	return it;
}

static const struct item *consume(struct parser *p, enum ctx c, enum tok *t)
{
	const struct item *it = &p->items[p->pos];
	if (p->pos + 1 < p->n)
		p->pos++;
	*t = ctx_tok(it->tok, c);
	return it;
}

/* "found '%s', <rest>" with the literal of it */
static int perr(struct parser *p, const struct item *it, const char *rest)
{
	set_err(p->err, p->errlen, "found '%.*s', %s", (int)it->len, it->lit, rest);
	return KC_EPARSE;
}

struct strvec {
	char **v;
	size_t n;
};

static void strvec_free(struct strvec *sv)
{
	for (size_t i = 0; i < sv->n; i++)
		free(sv->v[i]);
	free(sv->v);
	sv->v = NULL;
	sv->n = 0;
}

/* sets.String insert: keep unique */
static int strvec_insert(struct strvec *sv, const char *s, size_t len)
{
	for (size_t i = 0; i < sv->n; i++)
		if (strlen(sv->v[i]) == len && memcmp(sv->v[i], s, len) == 0)
			return 0;
	char **nv = realloc(sv->v, (sv->n + 1) * sizeof(*nv));
	if (!nv)
		return -ENOMEM;
	sv->v = nv;
	char *d = strndup(s, len);
	if (!d)
		return -ENOMEM;
	sv->v[sv->n++] = d;
	return 0;
}

static int parse_identifiers_list(struct parser *p, struct strvec *sv)
{
	for (;;) {
		enum tok t, t2;
		const struct item *it = consume(p, CTX_VALUES, &t);
		int rc;
		switch (t) {
		case T_IDENT: {
			if ((rc = strvec_insert(sv, it->lit, it->len)) < 0)
				return rc;
			const struct item *it2 = lookahead(p, CTX_VALUES, &t2);
			if (t2 == T_COMMA)
				continue;
			if (t2 == T_CLOSE_PAR)
				return 0;
			return perr(p, it2, "expected: ',' or ')'");
		}
		case T_COMMA:
			if (sv->n == 0 && (rc = strvec_insert(sv, "", 0)) < 0)
				return rc; /* "(," */
			lookahead(p, CTX_VALUES, &t2);
			if (t2 == T_CLOSE_PAR) {
				if ((rc = strvec_insert(sv, "", 0)) < 0)
					return rc; /* ",)" */
				return 0;
			}
			if (t2 == T_COMMA) {
				consume(p, CTX_VALUES, &t2);
				if ((rc = strvec_insert(sv, "", 0)) < 0)
					return rc; /* ",," */
			}
			break;
		default:
			return perr(p, it, "expected: ',', or identifier");
		}
	}
}

static int parse_values(struct parser *p, struct strvec *sv)
{
	enum tok t;
	const struct item *it = consume(p, CTX_VALUES, &t);
	if (t != T_OPEN_PAR) {
		/* sic: upstream's message has no comma here */
		set_err(p->err, p->errlen, "found '%.*s' expected: '('", (int)it->len, it->lit);
		return KC_EPARSE;
	}
	it = lookahead(p, CTX_VALUES, &t);
	switch (t) {
	case T_IDENT:
	case T_COMMA: {
		int rc = parse_identifiers_list(p, sv);
		if (rc < 0)
			return rc;
		enum tok t2;
		consume(p, CTX_VALUES, &t2);
		if (t2 != T_CLOSE_PAR)
			return perr(p, it, "expected: ')'");
		return 0;
	}
	case T_CLOSE_PAR:
		consume(p, CTX_VALUES, &t);
		return strvec_insert(sv, "", 0); /* "()" */
	default:
		return perr(p, it, "expected: ',', ')' or identifier");
	}
}

static int parse_exact_value(struct parser *p, struct strvec *sv)
{
	enum tok t;
	lookahead(p, CTX_VALUES, &t);
	if (t == T_EOS || t == T_COMMA)
		return strvec_insert(sv, "", 0);
	const struct item *it = consume(p, CTX_VALUES, &t);
	if (t == T_IDENT)
		return strvec_insert(sv, it->lit, it->len);
	return perr(p, it, "expected: identifier");
}

static int parse_requirement(struct parser *p, kc_label_requirement *out)
{
	enum tok t;
	bool not = false;
	int rc;
	/* parseKeyAndInferOperator */
	const struct item *it = consume(p, CTX_VALUES, &t);
	if (t == T_NOT) {
		not = true;
		it = consume(p, CTX_VALUES, &t);
	}
	if (t != T_IDENT)
		return perr(p, it, "expected: identifier");
	char *key = strndup(it->lit, it->len);
	if (!key)
		return -ENOMEM;
	char detail[KC_SELECTOR_ERRLEN];
	if (kc_labels_validate_key(key, detail, sizeof(detail)) != 0) {
		/* validateLabelKey(literal, p.path) with a nil path prints "<nil>" */
		field_invalid_str(p->err, p->errlen, "<nil>", key, detail);
		free(key);
		return KC_EPARSE;
	}
	kc_selector_op op;
	bool unary = false;
	lookahead(p, CTX_VALUES, &t);
	if (not) {
		op = KC_SEL_DOES_NOT_EXIST;
		unary = true;
	} else if (t == T_EOS || t == T_COMMA) {
		op = KC_SEL_EXISTS;
		unary = true;
	}
	struct strvec sv = { 0 };
	if (!unary) {
		/* parseOperator */
		it = consume(p, CTX_KEY_AND_OP, &t);
		switch (t) {
		case T_IN: op = KC_SEL_IN; break;
		case T_EQ: op = KC_SEL_EQUALS; break;
		case T_DOUBLE_EQ: op = KC_SEL_DOUBLE_EQUALS; break;
		case T_GT: op = KC_SEL_GT; break;
		case T_LT: op = KC_SEL_LT; break;
		case T_NOTIN: op = KC_SEL_NOT_IN; break;
		case T_NOT_EQ: op = KC_SEL_NOT_EQUALS; break;
		default:
			free(key);
			return perr(p, it, "expected: in, notin, =, ==, !=, gt, lt");
		}
		if (op == KC_SEL_IN || op == KC_SEL_NOT_IN)
			rc = parse_values(p, &sv);
		else
			rc = parse_exact_value(p, &sv);
		if (rc < 0) {
			free(key);
			strvec_free(&sv);
			return rc;
		}
	}
	/* sets.String.List(): sorted */
	if (sv.n > 1)
		qsort(sv.v, sv.n, sizeof(char *), cmp_str);
	rc = check_requirement(key, op, sv.v, sv.n, false, p->err, p->errlen);
	if (rc < 0) {
		free(key);
		strvec_free(&sv);
		return KC_EPARSE;
	}
	out->key = key;
	out->op = op;
	out->values = sv.v;
	out->nvalues = sv.n;
	return 0;
}

static int parse_all(struct parser *p, kc_label_selector *sel)
{
	for (;;) {
		enum tok t;
		const struct item *it = lookahead(p, CTX_VALUES, &t);
		switch (t) {
		case T_IDENT:
		case T_NOT: {
			kc_label_requirement r = { 0 };
			char sub[KC_SELECTOR_ERRLEN] = "";
			char *saved = p->err;
			size_t savedlen = p->errlen;
			p->err = sub;
			p->errlen = sizeof(sub);
			int rc = parse_requirement(p, &r);
			p->err = saved;
			p->errlen = savedlen;
			if (rc == -ENOMEM)
				return rc;
			if (rc < 0) {
				set_err(p->err, p->errlen, "unable to parse requirement: %s", sub);
				return KC_EPARSE;
			}
			if ((rc = sel_append(sel, &r)) < 0)
				return rc;
			it = consume(p, CTX_VALUES, &t);
			if (t == T_EOS)
				return 0;
			if (t == T_COMMA) {
				const struct item *it2 = lookahead(p, CTX_VALUES, &t);
				if (t != T_IDENT && t != T_NOT)
					return perr(p, it2, "expected: identifier after ','");
				break;
			}
			return perr(p, it, "expected: ',' or 'end of string'");
		}
		case T_EOS:
			return 0;
		default:
			return perr(p, it, "expected: !, identifier, or 'end of string'");
		}
	}
}

int kc_selector_parse(const char *str, kc_label_selector *out, char *err, size_t errlen)
{
	kc_selector_init(out);
	if (err && errlen)
		err[0] = '\0';
	if (!str)
		str = "";
	struct item *items;
	size_t n;
	int rc = lex_all(str, &items, &n);
	if (rc < 0)
		return rc;
	struct parser p = { items, n, 0, err, errlen };
	rc = parse_all(&p, out);
	free(items);
	if (rc < 0) {
		if (rc == -ENOMEM)
			set_err(err, errlen, "out of memory");
		kc_selector_close(out);
		return rc;
	}
	sel_sort(out);
	return 0;
}

/* ---------------------------------------------------------------------------
 * Object forms */

static int make_req(const char *key, kc_selector_op op, const char *const *vals, size_t n,
		    kc_label_requirement *r)
{
	memset(r, 0, sizeof(*r));
	r->key = strdup(key);
	if (!r->key)
		return -ENOMEM;
	r->op = op;
	if (n) {
		r->values = calloc(n, sizeof(char *));
		if (!r->values) {
			req_free(r);
			return -ENOMEM;
		}
		for (size_t i = 0; i < n; i++) {
			r->values[i] = strdup(vals[i]);
			if (!r->values[i]) {
				r->nvalues = i;
				req_free(r);
				return -ENOMEM;
			}
		}
		r->nvalues = n;
		/* upstream keeps the given order in memory and sorts when printing;
		 * sorting once here gives the same String() and the same matches. */
		if (n > 1)
			qsort(r->values, n, sizeof(char *), cmp_str);
	}
	return 0;
}

static int add_from_set(const cJSON *set, kc_label_selector *out, char *err, size_t errlen,
			int errcode)
{
	const cJSON *kv;
	cJSON_ArrayForEach(kv, set)
	{
		if (!cJSON_IsString(kv)) {
			set_err(err, errlen, "matchLabels[%s]: must be a string", kv->string);
			return KC_EINVALID;
		}
		const char *v = kv->valuestring;
		int rc = check_requirement(kv->string, KC_SEL_EQUALS, (char *const *)&v, 1,
					   false, err, errlen);
		if (rc < 0)
			return errcode;
		kc_label_requirement r;
		if ((rc = make_req(kv->string, KC_SEL_EQUALS, &v, 1, &r)) < 0 ||
		    (rc = sel_append(out, &r)) < 0)
			return rc;
	}
	return 0;
}

int kc_selector_from_set(const cJSON *set, kc_label_selector *out, char *err, size_t errlen)
{
	kc_selector_init(out);
	if (err && errlen)
		err[0] = '\0';
	if (!set || cJSON_IsNull(set))
		return 0;
	if (!cJSON_IsObject(set)) {
		set_err(err, errlen, "selector must be an object of label key/value pairs");
		return KC_EINVALID;
	}
	int rc = add_from_set(set, out, err, errlen, KC_EINVALID);
	if (rc < 0) {
		kc_selector_close(out);
		return rc;
	}
	sel_sort(out);
	return 0;
}

/* The matchExpressions list of a LabelSelector (node == false, operators In, NotIn,
 * Exists, DoesNotExist) or a NodeSelectorTerm (node == true, also Gt and Lt), each
 * entry through NewRequirement. Appends to out. */
static int add_expressions(const cJSON *me, bool node, kc_label_selector *out, char *err,
			   size_t errlen)
{
	const char *what = node ? "node selector" : "label selector";
	const cJSON *expr;
	cJSON_ArrayForEach(expr, me)
	{
		if (!cJSON_IsObject(expr)) {
			set_err(err, errlen, "matchExpressions entries must be objects");
			return KC_EINVALID;
		}
		const cJSON *k = cJSON_GetObjectItemCaseSensitive(expr, "key");
		const cJSON *o = cJSON_GetObjectItemCaseSensitive(expr, "operator");
		const cJSON *vs = cJSON_GetObjectItemCaseSensitive(expr, "values");
		const char *key = cJSON_IsString(k) ? k->valuestring : "";
		const char *opname = cJSON_IsString(o) ? o->valuestring : "";
		if ((k && !cJSON_IsString(k) && !cJSON_IsNull(k)) ||
		    (o && !cJSON_IsString(o) && !cJSON_IsNull(o)) ||
		    (vs && !cJSON_IsArray(vs) && !cJSON_IsNull(vs))) {
			set_err(err, errlen,
				"matchExpressions: key and operator must be strings, values an array");
			return KC_EINVALID;
		}
		kc_selector_op op;
		if (strcmp(opname, "In") == 0)
			op = KC_SEL_IN;
		else if (strcmp(opname, "NotIn") == 0)
			op = KC_SEL_NOT_IN;
		else if (strcmp(opname, "Exists") == 0)
			op = KC_SEL_EXISTS;
		else if (strcmp(opname, "DoesNotExist") == 0)
			op = KC_SEL_DOES_NOT_EXIST;
		else if (node && strcmp(opname, "Gt") == 0)
			op = KC_SEL_GT;
		else if (node && strcmp(opname, "Lt") == 0)
			op = KC_SEL_LT;
		else {
			char q[256] = "";
			go_quote(q, sizeof(q), opname);
			set_err(err, errlen, "%s is not a valid %s operator", q, what);
			return KC_EINVALID;
		}
		size_t n = cJSON_IsArray(vs) ? (size_t)cJSON_GetArraySize(vs) : 0;
		const char **vals = n ? calloc(n, sizeof(char *)) : NULL;
		if (n && !vals)
			return -ENOMEM;
		size_t i = 0;
		const cJSON *v;
		if (n) {
			cJSON_ArrayForEach(v, vs)
			{
				if (!cJSON_IsString(v)) {
					free(vals);
					set_err(err, errlen, "matchExpressions: values must be strings");
					return KC_EINVALID;
				}
				vals[i++] = v->valuestring;
			}
		}
		/* LabelSelectorAsSelector passes append([]string(nil), expr.Values...), nil
		 * when empty; NodeSelectorRequirementsAsSelector passes expr.Values itself,
		 * which is an empty (non-nil) slice when the JSON had "values": []. */
		bool is_nil = n == 0 && (!node || !cJSON_IsArray(vs));
		int rc = check_requirement(key, op, (char *const *)vals, n, is_nil, err, errlen);
		if (rc == 0) {
			kc_label_requirement r;
			rc = make_req(key, op, vals, n, &r);
			if (rc == 0)
				rc = sel_append(out, &r);
		}
		free(vals);
		if (rc < 0)
			return rc;
	}
	return 0;
}

int kc_selector_from_json(const cJSON *ls, kc_label_selector *out, char *err, size_t errlen)
{
	kc_selector_init(out);
	if (err && errlen)
		err[0] = '\0';
	if (!ls || cJSON_IsNull(ls)) {
		out->nothing = true; /* labels.Nothing() */
		return 0;
	}
	if (!cJSON_IsObject(ls)) {
		set_err(err, errlen, "label selector must be an object");
		return KC_EINVALID;
	}
	const cJSON *ml = cJSON_GetObjectItemCaseSensitive(ls, "matchLabels");
	const cJSON *me = cJSON_GetObjectItemCaseSensitive(ls, "matchExpressions");
	if (ml && !cJSON_IsNull(ml) && !cJSON_IsObject(ml)) {
		set_err(err, errlen, "matchLabels must be an object");
		return KC_EINVALID;
	}
	if (me && !cJSON_IsNull(me) && !cJSON_IsArray(me)) {
		set_err(err, errlen, "matchExpressions must be an array");
		return KC_EINVALID;
	}
	int rc = 0;
	if (ml && cJSON_IsObject(ml))
		rc = add_from_set(ml, out, err, errlen, KC_EINVALID);
	if (rc == 0 && me && cJSON_IsArray(me))
		rc = add_expressions(me, false, out, err, errlen);
	if (rc < 0) {
		kc_selector_close(out);
		return rc;
	}
	sel_sort(out);
	return 0;
}

int kc_selector_from_node_selector_requirements(const cJSON *exprs, kc_label_selector *out,
						char *err, size_t errlen)
{
	kc_selector_init(out);
	if (err && errlen)
		err[0] = '\0';
	if (exprs && !cJSON_IsNull(exprs) && !cJSON_IsArray(exprs)) {
		set_err(err, errlen, "matchExpressions must be an array");
		return KC_EINVALID;
	}
	if (!exprs || !cJSON_IsArray(exprs) || cJSON_GetArraySize(exprs) == 0) {
		out->nothing = true; /* len(nsm) == 0 -> labels.Nothing() */
		return 0;
	}
	int rc = add_expressions(exprs, true, out, err, errlen);
	if (rc < 0) {
		kc_selector_close(out);
		return rc;
	}
	sel_sort(out);
	return 0;
}

/* ---------------------------------------------------------------------------
 * ValidateLabelSelector */

static void verr_add(kc_verrs *errs, const char *msg)
{
	if (!errs)
		return;
	if (errs->n < KC_VERRS_MAX) {
		size_t n = strnlen(msg, KC_VERR_LEN - 1); /* truncate to the slot */
		memcpy(errs->msg[errs->n], msg, n);
		errs->msg[errs->n][n] = '\0';
		errs->n++;
	} else {
		errs->dropped++;
	}
}

/* field.Invalid(path, value, msg) once per message of a kc_verrs from validate.h */
static void verr_invalid_each(kc_verrs *errs, const char *path, const char *value,
			      const kc_verrs *msgs)
{
	for (int i = 0; i < msgs->n; i++) {
		char line[KC_VERR_LEN];
		field_invalid_str(line, sizeof(line), path, value, msgs->msg[i]);
		verr_add(errs, line);
	}
}

int kc_selector_validate_json(const cJSON *ls, const char *path, struct kc_verrs *errs)
{
	bool bad = false;
	char p[256], line[2048]; /* verr_add truncates to KC_VERR_LEN */
	if (!path)
		path = "";
	if (!ls || cJSON_IsNull(ls))
		return 0;
	if (!cJSON_IsObject(ls)) {
		snprintf(line, sizeof(line), "%s: Invalid value: \"object\": must be an object",
			 path);
		verr_add(errs, line);
		return KC_EINVALID;
	}
	const cJSON *ml = cJSON_GetObjectItemCaseSensitive(ls, "matchLabels");
	if (ml && !cJSON_IsNull(ml)) {
		snprintf(p, sizeof(p), "%s%smatchLabels", path, *path ? "." : "");
		if (!cJSON_IsObject(ml)) {
			snprintf(line, sizeof(line), "%s: Invalid value: \"%s\": must be an object", p,
				 "matchLabels");
			verr_add(errs, line);
			bad = true;
		} else {
			/* ValidateLabels: keys with ValidateLabelName, values with
			 * IsValidLabelValue, both reported at the matchLabels path */
			const cJSON *kv;
			cJSON_ArrayForEach(kv, ml)
			{
				kc_verrs m;
				kc_verrs_init(&m);
				if (kc_validate_qualified_name(kv->string, &m) != 0) {
					verr_invalid_each(errs, p, kv->string, &m);
					bad = true;
				}
				if (!cJSON_IsString(kv)) {
					snprintf(line, sizeof(line), "%s: Invalid value: \"%s\": must be a string",
						 p, kv->string);
					verr_add(errs, line);
					bad = true;
					continue;
				}
				kc_verrs_init(&m);
				if (kc_validate_label_value(kv->valuestring, &m) != 0) {
					verr_invalid_each(errs, p, kv->valuestring, &m);
					bad = true;
				}
			}
		}
	}
	const cJSON *me = cJSON_GetObjectItemCaseSensitive(ls, "matchExpressions");
	if (me && !cJSON_IsNull(me) && !cJSON_IsArray(me)) {
		snprintf(line, sizeof(line), "%s%smatchExpressions: Invalid value: \"object\": must be a list",
			 path, *path ? "." : "");
		verr_add(errs, line);
		bad = true;
	} else if (me && cJSON_IsArray(me)) {
		int idx = 0;
		const cJSON *e;
		cJSON_ArrayForEach(e, me)
		{
			snprintf(p, sizeof(p), "%s%smatchExpressions[%d]", path, *path ? "." : "", idx++);
			const cJSON *k = cJSON_GetObjectItemCaseSensitive(e, "key");
			const cJSON *o = cJSON_GetObjectItemCaseSensitive(e, "operator");
			const cJSON *vs = cJSON_GetObjectItemCaseSensitive(e, "values");
			const char *key = cJSON_IsString(k) ? k->valuestring : "";
			const char *op = cJSON_IsString(o) ? o->valuestring : "";
			int nvals = cJSON_IsArray(vs) ? cJSON_GetArraySize(vs) : 0;
			if (!strcmp(op, "In") || !strcmp(op, "NotIn")) {
				if (nvals == 0) {
					snprintf(line, sizeof(line),
						 "%s.values: Required value: must be specified when "
						 "`operator` is 'In' or 'NotIn'", p);
					verr_add(errs, line);
					bad = true;
				}
			} else if (!strcmp(op, "Exists") || !strcmp(op, "DoesNotExist")) {
				if (nvals > 0) {
					snprintf(line, sizeof(line),
						 "%s.values: Forbidden: may not be specified when "
						 "`operator` is 'Exists' or 'DoesNotExist'", p);
					verr_add(errs, line);
					bad = true;
				}
			} else {
				char path2[320];
				snprintf(path2, sizeof(path2), "%s.operator", p);
				field_invalid_str(line, sizeof(line), path2, op,
						  "not a valid selector operator");
				verr_add(errs, line);
				bad = true;
			}
			kc_verrs m;
			kc_verrs_init(&m);
			if (kc_validate_qualified_name(key, &m) != 0) {
				char path2[320];
				snprintf(path2, sizeof(path2), "%s.key", p);
				verr_invalid_each(errs, path2, key, &m);
				bad = true;
			}
			int vi = 0;
			const cJSON *v;
			if (cJSON_IsArray(vs))
				cJSON_ArrayForEach(v, vs)
				{
					char path2[320];
					snprintf(path2, sizeof(path2), "%s.values[%d]", p, vi++);
					if (!cJSON_IsString(v)) {
						snprintf(line, sizeof(line), "%s: Invalid value: must be a string",
							 path2);
						verr_add(errs, line);
						bad = true;
						continue;
					}
					kc_verrs_init(&m);
					if (kc_validate_label_value(v->valuestring, &m) != 0) {
						verr_invalid_each(errs, path2, v->valuestring, &m);
						bad = true;
					}
				}
		}
	}
	return bad ? KC_EINVALID : 0;
}

/* ---------------------------------------------------------------------------
 * Printing and matching */

struct sbuf {
	char *s;
	size_t len, cap;
	bool oom;
};

static void sb_put(struct sbuf *b, const char *s, size_t n)
{
	if (b->oom)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t nc = b->cap ? b->cap : 64;
		while (nc < b->len + n + 1)
			nc *= 2;
		char *ns = realloc(b->s, nc);
		if (!ns) {
			b->oom = true;
			return;
		}
		b->s = ns;
		b->cap = nc;
	}
	memcpy(b->s + b->len, s, n);
	b->len += n;
	b->s[b->len] = '\0';
}

static void sb_str(struct sbuf *b, const char *s)
{
	sb_put(b, s, strlen(s));
}

char *kc_selector_string(const kc_label_selector *sel)
{
	struct sbuf b = { 0 };
	sb_put(&b, "", 0);
	for (size_t i = 0; sel && !sel->nothing && i < sel->nreqs; i++) {
		const kc_label_requirement *r = &sel->reqs[i];
		if (i)
			sb_str(&b, ",");
		if (r->op == KC_SEL_DOES_NOT_EXIST)
			sb_str(&b, "!");
		sb_str(&b, r->key);
		const char *op = NULL;
		switch (r->op) {
		case KC_SEL_EQUALS: op = "="; break;
		case KC_SEL_DOUBLE_EQUALS: op = "=="; break;
		case KC_SEL_NOT_EQUALS: op = "!="; break;
		case KC_SEL_IN: op = " in "; break;
		case KC_SEL_NOT_IN: op = " notin "; break;
		case KC_SEL_GT: op = ">"; break;
		case KC_SEL_LT: op = "<"; break;
		case KC_SEL_EXISTS:
		case KC_SEL_DOES_NOT_EXIST:
			break;
		}
		if (!op)
			continue;
		sb_str(&b, op);
		bool set = r->op == KC_SEL_IN || r->op == KC_SEL_NOT_IN;
		if (set)
			sb_str(&b, "(");
		for (size_t j = 0; j < r->nvalues; j++) {
			if (j)
				sb_str(&b, ",");
			sb_str(&b, r->values[j]);
		}
		if (set)
			sb_str(&b, ")");
	}
	if (b.oom) {
		free(b.s);
		return NULL;
	}
	return b.s;
}

static const char *label_lookup(const cJSON *labels, const char *key, bool *exists)
{
	*exists = false;
	if (!labels || !cJSON_IsObject(labels))
		return NULL;
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(labels, key);
	if (!v)
		return NULL;
	*exists = true;
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static bool has_value(const kc_label_requirement *r, const char *v)
{
	if (!v)
		return false;
	for (size_t i = 0; i < r->nvalues; i++)
		if (strcmp(r->values[i], v) == 0)
			return true;
	return false;
}

static bool req_matches(const kc_label_requirement *r, const cJSON *labels)
{
	bool exists;
	const char *val = label_lookup(labels, r->key, &exists);
	switch (r->op) {
	case KC_SEL_IN:
	case KC_SEL_EQUALS:
	case KC_SEL_DOUBLE_EQUALS:
		return exists && has_value(r, val);
	case KC_SEL_NOT_IN:
	case KC_SEL_NOT_EQUALS:
		return !exists || !has_value(r, val);
	case KC_SEL_EXISTS:
		return exists;
	case KC_SEL_DOES_NOT_EXIST:
		return !exists;
	case KC_SEL_GT:
	case KC_SEL_LT: {
		long long lv, rv;
		if (!exists || r->nvalues != 1 || !parse_int64(val, &lv) ||
		    !parse_int64(r->values[0], &rv))
			return false;
		return r->op == KC_SEL_GT ? lv > rv : lv < rv;
	}
	}
	return false;
}

bool kc_selector_matches(const kc_label_selector *sel, const cJSON *labels)
{
	if (sel->nothing)
		return false;
	for (size_t i = 0; i < sel->nreqs; i++)
		if (!req_matches(&sel->reqs[i], labels))
			return false;
	return true;
}

bool kc_selector_matches_object(const kc_label_selector *sel, const cJSON *obj)
{
	const cJSON *md = obj ? cJSON_GetObjectItemCaseSensitive(obj, "metadata") : NULL;
	const cJSON *labels = md ? cJSON_GetObjectItemCaseSensitive(md, "labels") : NULL;
	return kc_selector_matches(sel, labels);
}

bool kc_selector_requires_exact(const kc_label_selector *sel, const char *key,
				const char **value)
{
	for (size_t i = 0; !sel->nothing && i < sel->nreqs; i++) {
		const kc_label_requirement *r = &sel->reqs[i];
		if (strcmp(r->key, key) != 0)
			continue;
		if ((r->op == KC_SEL_EQUALS || r->op == KC_SEL_DOUBLE_EQUALS ||
		     r->op == KC_SEL_IN) &&
		    r->nvalues == 1) {
			if (value)
				*value = r->values[0];
			return true;
		}
		return false;
	}
	return false;
}
