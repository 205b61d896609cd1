/* pflag-style command-line parsing (see flags.h). The parsing loop follows
 * spf13/pflag's FlagSet.parseArgs / parseLongArg / parseSingleShortArg so the same
 * command lines are accepted and the same error texts come out. */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"
#include "flags.h"
#include "log.h"

#define DEF_TEXT_LEN 256

/* ------------------------------------------------------------------------------ */
/* string lists                                                                   */
/* ------------------------------------------------------------------------------ */

void kc_strlist_free(kc_strlist *l)
{
	if (!l)
		return;
	if (l->owned) {
		for (size_t i = 0; i < l->n; i++)
			free(l->items[i]);
		free(l->items);
	}
	l->items = NULL;
	l->n = 0;
	l->owned = false;
}

/* Turn a borrowed (static default) list into an owned copy. */
static int strlist_own(kc_strlist *l)
{
	if (l->owned)
		return 0;
	char **items = calloc(l->n + 1, sizeof(*items));
	if (!items)
		return -ENOMEM;
	for (size_t i = 0; i < l->n; i++) {
		items[i] = strdup(l->items[i] ? l->items[i] : "");
		if (!items[i]) {
			while (i--)
				free(items[i]);
			free(items);
			return -ENOMEM;
		}
	}
	l->items = items;
	l->owned = true;
	return 0;
}

int kc_strlist_append_csv(kc_strlist *l, const char *s)
{
	if (!l || !s)
		return -EINVAL;
	int rc = strlist_own(l);
	if (rc)
		return rc;
	const char *p = s;
	for (;;) {
		const char *comma = strchr(p, ',');
		size_t len = comma ? (size_t)(comma - p) : strlen(p);
		char **ni = realloc(l->items, (l->n + 2) * sizeof(*ni));
		if (!ni)
			return -ENOMEM;
		l->items = ni;
		char *item = strndup(p, len);
		if (!item)
			return -ENOMEM;
		l->items[l->n++] = item;
		l->items[l->n] = NULL;
		if (!comma)
			return 0;
		p = comma + 1;
	}
}

/* ------------------------------------------------------------------------------ */
/* durations (Go's time.ParseDuration / Duration.String)                         */
/* ------------------------------------------------------------------------------ */

static void set_err(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
	if (!err || !errlen)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static const struct {
	const char *name;
	uint64_t ns;
} dur_units[] = {
	{ "ns", 1ULL },
	{ "us", 1000ULL },
	{ "\xc2\xb5s", 1000ULL }, /* U+00B5 micro sign */
	{ "\xce\xbcs", 1000ULL }, /* U+03BC Greek mu */
	{ "ms", 1000000ULL },
	{ "s", 1000000000ULL },
	{ "m", 60ULL * 1000000000ULL },
	{ "h", 3600ULL * 1000000000ULL },
};

int kc_parse_duration(const char *orig, int64_t *ns, char *err, size_t errlen)
{
	const uint64_t lim = 1ULL << 63;
	const char *s = orig ? orig : "";
	uint64_t d = 0;
	int neg = 0;
	if (*s == '-' || *s == '+') {
		neg = *s == '-';
		s++;
	}
	if (strcmp(s, "0") == 0) {
		if (ns)
			*ns = 0;
		return 0;
	}
	if (!*s)
		goto invalid;
	while (*s) {
		uint64_t v = 0, f = 0;
		double scale = 1;
		if (!(*s == '.' || isdigit((unsigned char)*s)))
			goto invalid;
		const char *st = s;
		while (isdigit((unsigned char)*s)) {
			if (v > (lim - 1) / 10)
				goto invalid; /* overflow */
			v = v * 10 + (uint64_t)(*s - '0');
			if (v > lim)
				goto invalid;
			s++;
		}
		int pre = s != st, post = 0;
		if (*s == '.') {
			s++;
			const char *fs = s;
			int overflow = 0;
			while (isdigit((unsigned char)*s)) {
				if (!overflow) {
					if (f > (lim - 1) / 10) {
						overflow = 1; /* ignore further digits, as Go does */
					} else {
						f = f * 10 + (uint64_t)(*s - '0');
						scale *= 10;
					}
				}
				s++;
			}
			post = s != fs;
		}
		if (!pre && !post)
			goto invalid;
		const char *us = s;
		while (*s && *s != '.' && !isdigit((unsigned char)*s))
			s++;
		size_t ulen = (size_t)(s - us);
		if (ulen == 0) {
			set_err(err, errlen, "time: missing unit in duration \"%s\"", orig);
			return -EINVAL;
		}
		uint64_t unit = 0;
		for (size_t i = 0; i < sizeof(dur_units) / sizeof(dur_units[0]); i++) {
			if (strlen(dur_units[i].name) == ulen && memcmp(dur_units[i].name, us, ulen) == 0) {
				unit = dur_units[i].ns;
				break;
			}
		}
		if (!unit) {
			set_err(err, errlen, "time: unknown unit \"%.*s\" in duration \"%s\"", (int)ulen,
				us, orig);
			return -EINVAL;
		}
		if (v > lim / unit)
			goto invalid;
		v *= unit;
		if (f > 0) {
			v += (uint64_t)((double)f * ((double)unit / scale));
			if (v > lim)
				goto invalid;
		}
		d += v;
		if (d > lim)
			goto invalid;
	}
	if (!neg && d > lim - 1)
		goto invalid;
	if (ns)
		*ns = neg ? (int64_t)(0 - d) : (int64_t)d;
	return 0;
invalid:
	set_err(err, errlen, "time: invalid duration \"%s\"", orig ? orig : "");
	return -EINVAL;
}

/* Write the fraction v/10^prec (without trailing zeros, no point if zero) ending at
 * buf[w); returns the new start and stores the integer part in *rest. */
static int fmt_frac(char *buf, int w, uint64_t v, int prec, uint64_t *rest)
{
	int print = 0;
	for (int i = 0; i < prec; i++) {
		int digit = (int)(v % 10);
		print = print || digit != 0;
		if (print)
			buf[--w] = (char)('0' + digit);
		v /= 10;
	}
	if (print)
		buf[--w] = '.';
	*rest = v;
	return w;
}

static int fmt_int(char *buf, int w, uint64_t v)
{
	if (v == 0) {
		buf[--w] = '0';
		return w;
	}
	while (v > 0) {
		buf[--w] = (char)('0' + v % 10);
		v /= 10;
	}
	return w;
}

int kc_format_duration(int64_t d, char *out, size_t outlen)
{
	char buf[32];
	int w = (int)sizeof(buf);
	uint64_t u = (uint64_t)d;
	int neg = d < 0;
	if (neg)
		u = 0 - u;
	if (u < 1000000000ULL) {
		int prec;
		buf[--w] = 's';
		if (u == 0) {
			buf[--w] = '0';
			return snprintf(out, outlen, "%.*s", (int)sizeof(buf) - w, buf + w);
		} else if (u < 1000ULL) {
			prec = 0;
			buf[--w] = 'n';
		} else if (u < 1000000ULL) {
			prec = 3;
			buf[--w] = '\xb5'; /* "µ" is two bytes: C2 B5 */
			buf[--w] = '\xc2';
		} else {
			prec = 6;
			buf[--w] = 'm';
		}
		w = fmt_frac(buf, w, u, prec, &u);
		w = fmt_int(buf, w, u);
	} else {
		buf[--w] = 's';
		w = fmt_frac(buf, w, u, 9, &u);
		w = fmt_int(buf, w, u % 60);
		u /= 60;
		if (u > 0) {
			buf[--w] = 'm';
			w = fmt_int(buf, w, u % 60);
			u /= 60;
			if (u > 0) {
				buf[--w] = 'h';
				w = fmt_int(buf, w, u);
			}
		}
	}
	if (neg)
		buf[--w] = '-';
	return snprintf(out, outlen, "%.*s", (int)sizeof(buf) - w, buf + w);
}

/* ------------------------------------------------------------------------------ */
/* values                                                                         */
/* ------------------------------------------------------------------------------ */

/* Go's strconv.ParseBool. */
static int parse_bool(const char *s, bool *out)
{
	static const char *const t[] = { "1", "t", "T", "TRUE", "true", "True" };
	static const char *const f[] = { "0", "f", "F", "FALSE", "false", "False" };
	for (size_t i = 0; i < 6; i++) {
		if (strcmp(s, t[i]) == 0) {
			*out = true;
			return 0;
		}
		if (strcmp(s, f[i]) == 0) {
			*out = false;
			return 0;
		}
	}
	return -EINVAL;
}

/* strconv.ParseInt(s, 0, 64): decimal, 0x hex, 0o / leading-0 octal, 0b binary,
 * underscores allowed as digit separators. -EINVAL syntax, -ERANGE range. */
static int parse_int64(const char *s, int64_t *out)
{
	const char *p = s;
	int neg = 0, base = 10, nd = 0, range = 0;
	uint64_t u = 0;
	if (*p == '+' || *p == '-')
		neg = *p++ == '-';
	if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
		base = 16;
		p += 2;
	} else if (p[0] == '0' && (p[1] == 'o' || p[1] == 'O')) {
		base = 8;
		p += 2;
	} else if (p[0] == '0' && (p[1] == 'b' || p[1] == 'B')) {
		base = 2;
		p += 2;
	} else if (p[0] == '0' && p[1]) {
		base = 8;
		p += 1;
	}
	for (; *p; p++) {
		if (*p == '_' && nd > 0 && p[1] && p[1] != '_')
			continue;
		unsigned dv = 99;
		if (*p >= '0' && *p <= '9')
			dv = (unsigned)(*p - '0');
		else if (*p >= 'a' && *p <= 'f')
			dv = (unsigned)(*p - 'a' + 10);
		else if (*p >= 'A' && *p <= 'F')
			dv = (unsigned)(*p - 'A' + 10);
		if (dv >= (unsigned)base)
			return -EINVAL;
		if (u > (UINT64_MAX - dv) / (unsigned)base)
			range = 1;
		else
			u = u * (unsigned)base + dv;
		nd++;
	}
	if (nd == 0)
		return -EINVAL;
	if (range || (neg ? u > 9223372036854775808ULL : u > 9223372036854775807ULL))
		return -ERANGE;
	*out = neg ? (int64_t)(0 - u) : (int64_t)u;
	return 0;
}

/* The text --help shows as a flag's default; "" means the zero value (not shown). */
static void default_text(const kc_flag *f, char *buf, size_t len)
{
	buf[0] = '\0';
	switch (f->type) {
	case KC_FLAG_BOOL:
		if (*(bool *)f->ptr)
			snprintf(buf, len, "true");
		break;
	case KC_FLAG_STRING: {
		const char *s = *(const char **)f->ptr;
		if (s && *s)
			snprintf(buf, len, "\"%s\"", s);
		break;
	}
	case KC_FLAG_INT:
		if (*(int *)f->ptr)
			snprintf(buf, len, "%d", *(int *)f->ptr);
		break;
	case KC_FLAG_INT64:
		if (*(int64_t *)f->ptr)
			snprintf(buf, len, "%" PRId64, *(int64_t *)f->ptr);
		break;
	case KC_FLAG_DURATION:
		if (*(int64_t *)f->ptr)
			kc_format_duration(*(int64_t *)f->ptr, buf, len);
		break;
	case KC_FLAG_FLOAT: {
		double d = *(double *)f->ptr;
		if (d != 0) {
			for (int p = 1; p <= 17; p++) {
				snprintf(buf, len, "%.*g", p, d);
				if (strtod(buf, NULL) == d)
					break;
			}
		}
		break;
	}
	case KC_FLAG_STRINGS: {
		const kc_strlist *l = f->ptr;
		if (l->n) {
			size_t o = (size_t)snprintf(buf, len, "[");
			for (size_t i = 0; i < l->n && o < len; i++)
				o += (size_t)snprintf(buf + o, len - o, "%s%s", i ? "," : "",
						      l->items[i] ? l->items[i] : "");
			if (o < len)
				snprintf(buf + o, len - o, "]");
		}
		break;
	}
	}
}

static const char *type_name(enum kc_flag_type t)
{
	switch (t) {
	case KC_FLAG_BOOL: return "";
	case KC_FLAG_STRING: return "string";
	case KC_FLAG_INT: return "int";
	case KC_FLAG_INT64: return "int";
	case KC_FLAG_DURATION: return "duration";
	case KC_FLAG_STRINGS: return "strings";
	case KC_FLAG_FLOAT: return "float";
	}
	return "";
}

/* ------------------------------------------------------------------------------ */
/* usage                                                                          */
/* ------------------------------------------------------------------------------ */

static int verbosity_tmp;
static const kc_flag builtin_v = { "v", 'v', KC_FLAG_INT, &verbosity_tmp,
				   "number for the log level verbosity" };
static bool help_tmp;
static const kc_flag builtin_help = { "help", 'h', KC_FLAG_BOOL, &help_tmp, NULL };

static size_t table_len(const kc_flagset *fs)
{
	size_t n = 0;
	while (fs->flags && fs->flags[n].name)
		n++;
	return n;
}

static const kc_flag *find_long(const kc_flagset *fs, const char *name, size_t len)
{
	for (size_t i = 0; fs->flags && fs->flags[i].name; i++)
		if (strlen(fs->flags[i].name) == len && memcmp(fs->flags[i].name, name, len) == 0)
			return &fs->flags[i];
	if (len == 1 && name[0] == 'v')
		return &builtin_v;
	if (len == 4 && memcmp(name, "help", 4) == 0)
		return &builtin_help;
	return NULL;
}

static const kc_flag *find_short(const kc_flagset *fs, char c)
{
	for (size_t i = 0; fs->flags && fs->flags[i].name; i++)
		if (fs->flags[i].shorthand == c)
			return &fs->flags[i];
	if (c == 'v')
		return &builtin_v;
	if (c == 'h')
		return &builtin_help;
	return NULL;
}

typedef struct uline {
	const kc_flag *f;
	char head[160]; /* "  -p, --port int" */
	char def[DEF_TEXT_LEN];
	char varname[64];
	const char *usage;
} uline;

static int uline_cmp(const void *a, const void *b)
{
	return strcmp(((const uline *)a)->f->name, ((const uline *)b)->f->name);
}

/* Print the usage; defs[i] (may be NULL) overrides the default text of table entry i. */
static void usage_with(const kc_flagset *fs, FILE *out, char (*defs)[DEF_TEXT_LEN])
{
	size_t n = table_len(fs);
	uline *lines = calloc(n + 2, sizeof(*lines));
	char prog_help[128];
	if (!lines)
		return;
	size_t k = 0;
	int have_v = 0, have_h = 0;
	for (size_t i = 0; i < n; i++) {
		lines[k].f = &fs->flags[i];
		if (defs)
			snprintf(lines[k].def, sizeof(lines[k].def), "%s", defs[i]);
		else
			default_text(&fs->flags[i], lines[k].def, sizeof(lines[k].def));
		have_v |= strcmp(fs->flags[i].name, "v") == 0;
		have_h |= strcmp(fs->flags[i].name, "help") == 0;
		k++;
	}
	if (!have_v) {
		lines[k].f = &builtin_v;
		snprintf(lines[k].varname, sizeof(lines[k].varname), "Level"); /* klog's type */
		if (kc_log_verbosity)
			snprintf(lines[k].def, sizeof(lines[k].def), "%d", kc_log_verbosity);
		k++;
	}
	if (!have_h) {
		/* cobra adds "-h, --help   help for <prog>". */
		snprintf(prog_help, sizeof(prog_help), "help for %s", fs->prog ? fs->prog : "this command");
		lines[k].f = &builtin_help;
		lines[k].usage = prog_help;
		k++;
	}
	qsort(lines, k, sizeof(*lines), uline_cmp);

	/* pflag's UnquoteUsage: a `name` in the usage names the value and loses its
	 * backquotes; otherwise the type name is the value name. */
	char (*texts)[1024] = calloc(k, sizeof(*texts));
	if (!texts) {
		free(lines);
		return;
	}
	size_t maxlen = 0;
	for (size_t i = 0; i < k; i++) {
		uline *l = &lines[i];
		const char *u = l->usage ? l->usage : (l->f->usage ? l->f->usage : "");
		const char *b1 = strchr(u, '`'), *b2 = b1 ? strchr(b1 + 1, '`') : NULL;
		if (b1 && b2) {
			snprintf(l->varname, sizeof(l->varname), "%.*s", (int)(b2 - b1 - 1), b1 + 1);
			snprintf(texts[i], sizeof(texts[i]), "%.*s%.*s%s", (int)(b1 - u), u,
				 (int)(b2 - b1 - 1), b1 + 1, b2 + 1);
		} else {
			if (!l->varname[0])
				snprintf(l->varname, sizeof(l->varname), "%s", type_name(l->f->type));
			snprintf(texts[i], sizeof(texts[i]), "%s", u);
		}
		if (l->f->shorthand)
			snprintf(l->head, sizeof(l->head), "  -%c, --%s", l->f->shorthand, l->f->name);
		else
			snprintf(l->head, sizeof(l->head), "      --%s", l->f->name);
		if (l->varname[0]) {
			size_t hl = strlen(l->head);
			snprintf(l->head + hl, sizeof(l->head) - hl, " %s", l->varname);
		}
		if (strlen(l->head) > maxlen)
			maxlen = strlen(l->head);
	}
	if (fs->summary && *fs->summary)
		fprintf(out, "%s\n\n", fs->summary);
	fprintf(out, "Usage of %s:\n", fs->prog ? fs->prog : "this command");
	for (size_t i = 0; i < k; i++) {
		uline *l = &lines[i];
		/* pflag: maxlen counts a separator byte after the head, spacing is
		 * maxlen - len(head), and fmt.Fprintln(head, spacing, usage) joins the
		 * three with spaces; so the longest head gets three spaces and continuation
		 * lines are indented by len(longest head) + 3. */
		fprintf(out, "%s %*s ", l->head, (int)(maxlen + 1 - strlen(l->head)), "");
		for (const char *p = texts[i]; *p; p++) {
			fputc(*p, out);
			if (*p == '\n')
				fprintf(out, "%*s", (int)maxlen + 3, "");
		}
		if (l->def[0])
			fprintf(out, " (default %s)", l->def);
		fputc('\n', out);
	}
	free(texts);
	free(lines);
}

void kc_flags_usage(const kc_flagset *fs, FILE *out)
{
	if (fs && out)
		usage_with(fs, out, NULL);
}

/* ------------------------------------------------------------------------------ */
/* parsing                                                                        */
/* ------------------------------------------------------------------------------ */

typedef struct pstate {
	const kc_flagset *fs;
	bool *list_set; /* per table entry: string list already replaced its default */
	char *err;
	size_t errlen;
	int help;
} pstate;

/* Apply value to flag f; shown is how the flag was named ("--port" or "-p, --port"). */
static int set_value(pstate *ps, const kc_flag *f, const char *value, const char *shown)
{
	int rc = 0;
	switch (f->type) {
	case KC_FLAG_BOOL: {
		bool b;
		if (parse_bool(value, &b)) {
			set_err(ps->err, ps->errlen,
				"invalid argument \"%s\" for \"%s\" flag: strconv.ParseBool: parsing \"%s\": invalid syntax",
				value, shown, value);
			return -EINVAL;
		}
		if (f == &builtin_help) {
			ps->help = b;
			return 0;
		}
		*(bool *)f->ptr = b;
		return 0;
	}
	case KC_FLAG_STRING:
		*(const char **)f->ptr = value;
		return 0;
	case KC_FLAG_INT:
	case KC_FLAG_INT64: {
		int64_t v;
		rc = parse_int64(value, &v);
		if (!rc && f->type == KC_FLAG_INT && (v < INT_MIN || v > INT_MAX))
			rc = -ERANGE;
		if (rc) {
			set_err(ps->err, ps->errlen,
				"invalid argument \"%s\" for \"%s\" flag: strconv.ParseInt: parsing \"%s\": %s",
				value, shown, value, rc == -ERANGE ? "value out of range" : "invalid syntax");
			return -EINVAL;
		}
		if (f->type == KC_FLAG_INT)
			*(int *)f->ptr = (int)v;
		else
			*(int64_t *)f->ptr = v;
		if (f == &builtin_v)
			kc_log_set_verbosity((int)v);
		return 0;
	}
	case KC_FLAG_DURATION: {
		char derr[200];
		int64_t ns;
		if (kc_parse_duration(value, &ns, derr, sizeof(derr))) {
			set_err(ps->err, ps->errlen, "invalid argument \"%s\" for \"%s\" flag: %s", value,
				shown, derr);
			return -EINVAL;
		}
		*(int64_t *)f->ptr = ns;
		return 0;
	}
	case KC_FLAG_FLOAT: {
		char *end;
		errno = 0;
		double d = strtod(value, &end);
		if (!*value || *end || isspace((unsigned char)*value) || errno == ERANGE) {
			set_err(ps->err, ps->errlen,
				"invalid argument \"%s\" for \"%s\" flag: strconv.ParseFloat: parsing \"%s\": %s",
				value, shown, value, errno == ERANGE ? "value out of range" : "invalid syntax");
			return -EINVAL;
		}
		*(double *)f->ptr = d;
		return 0;
	}
	case KC_FLAG_STRINGS: {
		kc_strlist *l = f->ptr;
		size_t idx = (size_t)(f - ps->fs->flags);
		if (!ps->list_set[idx]) {
			/* The first occurrence replaces the default (pflag stringSlice). */
			kc_strlist_free(l);
			ps->list_set[idx] = true;
		}
		rc = kc_strlist_append_csv(l, value);
		if (rc)
			set_err(ps->err, ps->errlen, "out of memory");
		return rc;
	}
	}
	return -EINVAL;
}

static int parse_long(pstate *ps, const char *s, char **argv, int argc, int *i)
{
	const char *name = s + 2;
	if (!*name || *name == '-' || *name == '=') {
		set_err(ps->err, ps->errlen, "bad flag syntax: %s", s);
		return -EINVAL;
	}
	const char *eq = strchr(name, '=');
	size_t nlen = eq ? (size_t)(eq - name) : strlen(name);
	const kc_flag *f = find_long(ps->fs, name, nlen);
	if (!f) {
		set_err(ps->err, ps->errlen, "unknown flag: --%.*s", (int)nlen, name);
		return -EINVAL;
	}
	char shown[160];
	snprintf(shown, sizeof(shown), "--%s", f->name);
	if (f->shorthand)
		snprintf(shown, sizeof(shown), "-%c, --%s", f->shorthand, f->name);
	const char *value;
	if (eq)
		value = eq + 1;
	else if (f->type == KC_FLAG_BOOL)
		value = "true"; /* NoOptDefVal: a bare bool never eats the next argument */
	else if (*i + 1 < argc)
		value = argv[++*i];
	else {
		set_err(ps->err, ps->errlen, "flag needs an argument: %s", s);
		return -EINVAL;
	}
	return set_value(ps, f, value, shown);
}

static int parse_short(pstate *ps, const char *s, char **argv, int argc, int *i)
{
	const char *shorts = s + 1;
	while (*shorts) {
		char c = *shorts;
		const kc_flag *f = find_short(ps->fs, c);
		if (!f) {
			set_err(ps->err, ps->errlen, "unknown shorthand flag: '%c' in -%s", c, shorts);
			return -EINVAL;
		}
		char shown[160];
		snprintf(shown, sizeof(shown), "-%c, --%s", f->shorthand, f->name);
		const char *value;
		const char *rest = shorts + 1;
		if (shorts[1] == '=' && shorts[2]) {
			value = shorts + 2;
			rest = "";
		} else if (f->type == KC_FLAG_BOOL) {
			value = "true";
		} else if (shorts[1]) {
			value = shorts + 1;
			rest = "";
		} else if (*i + 1 < argc) {
			value = argv[++*i];
		} else {
			set_err(ps->err, ps->errlen, "flag needs an argument: '%c' in -%s", c, shorts);
			return -EINVAL;
		}
		int rc = set_value(ps, f, value, shown);
		if (rc)
			return rc;
		shorts = rest;
	}
	return 0;
}

int kc_flags_parse(const kc_flagset *fs, int argc, char **argv, int *nargs, char *err,
		   size_t errlen)
{
	if (err && errlen)
		err[0] = '\0';
	if (nargs)
		*nargs = 0;
	if (!fs || argc < 0 || (argc > 0 && !argv))
		return -EINVAL;
	size_t n = table_len(fs);
	pstate ps = { .fs = fs, .err = err, .errlen = errlen };
	char **pos = calloc((size_t)argc + 1, sizeof(*pos));
	char (*defs)[DEF_TEXT_LEN] = calloc(n + 1, sizeof(*defs));
	ps.list_set = calloc(n + 1, sizeof(bool));
	int rc = 0, np = 0;
	if (!pos || !defs || !ps.list_set) {
		rc = -ENOMEM;
		goto out;
	}
	/* Snapshot defaults so --help shows them even after earlier flags were set. */
	for (size_t i = 0; i < n; i++)
		default_text(&fs->flags[i], defs[i], DEF_TEXT_LEN);
	for (int i = 1; i < argc; i++) {
		char *s = argv[i];
		if (!s)
			break;
		if (s[0] != '-' || s[1] == '\0') {
			pos[np++] = s; /* positional, interspersed */
			continue;
		}
		if (s[1] == '-' && s[2] == '\0') {
			for (i++; i < argc && argv[i]; i++)
				pos[np++] = argv[i];
			break;
		}
		rc = s[1] == '-' ? parse_long(&ps, s, argv, argc, &i)
				 : parse_short(&ps, s, argv, argc, &i);
		if (rc)
			goto out;
		if (ps.help) {
			usage_with(fs, stdout, defs);
			fflush(stdout);
			rc = KC_FLAGS_HELP;
			goto out;
		}
	}
	for (int i = 0; i < np; i++)
		argv[1 + i] = pos[i];
	if (1 + np < argc)
		argv[1 + np] = NULL;
	if (nargs)
		*nargs = np;
out:
	free(pos);
	free(defs);
	free(ps.list_set);
	return rc;
}
