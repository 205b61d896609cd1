/* resource.Quantity over a 128-bit nano-unit count. Parsing follows
 * parseQuantityString/ParseQuantity in k8s.io/apimachinery/pkg/api/resource/quantity.go
 * (same scanner, same errors, same rounding: up, away from zero, to 1n; binary SI
 * capped at 2^63-1); printing follows CanonicalizeBytes / AsCanonicalBytes /
 * AsCanonicalBase1024Bytes. */
#include "quantity.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"

typedef __int128 i128;
typedef unsigned __int128 u128;

#define NANO ((i128)1000000000)
/* Keep clear of INT128_MIN so negation never overflows. */
#define Q_MAX ((i128)(~(u128)0 >> 1))
#define Q_MIN (-Q_MAX)
/* maxAllowed for binary SI: 2^63-1 units. */
#define BIN_MAX_NANO ((i128)INT64_MAX * NANO)

static const char ERR_FORMAT[] =
	"quantities must match the regular expression "
	"'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'";
static const char ERR_NUMERIC[] = "unable to parse numeric part of quantity";
static const char ERR_SUFFIX[] = "unable to parse quantity's suffix";

static int fail(char *err, size_t errlen, int code, const char *msg)
{
	if (err && errlen)
		snprintf(err, errlen, "%s", msg);
	return code;
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* ---------------------------------------------------------------------------
 * Scanner: parseQuantityString */

struct scan {
	bool positive;
	const char *value; /* str[0:value_len] */
	size_t value_len;
	const char *num; /* digits after leading zeros; "0" if none */
	size_t num_len;
	const char *denom;
	size_t denom_len;
	const char *suffix;
	size_t suffix_len;
};

static int scan_quantity(const char *str, struct scan *o)
{
	size_t pos = 0, end = strlen(str);
	memset(o, 0, sizeof(*o));
	o->positive = true;
	o->denom = o->suffix = str + end;
	if (pos < end) {
		if (str[0] == '-') {
			o->positive = false;
			pos++;
		} else if (str[0] == '+') {
			pos++;
		}
	}
	/* strip leading zeros */
	for (size_t i = pos;; i++) {
		if (i >= end) {
			o->num = o->value = "0";
			o->num_len = o->value_len = 1;
			return 0;
		}
		if (str[i] != '0')
			break;
		pos++;
	}
	/* numerator */
	size_t i = pos;
	while (i < end && is_digit(str[i]))
		i++;
	o->num = str + pos;
	o->num_len = i - pos;
	if (i >= end) {
		o->value = str;
		o->value_len = end;
		if (o->num_len == 0) {
			o->num = "0";
			o->num_len = 1;
		}
		return 0;
	}
	pos = i;
	if (o->num_len == 0) {
		o->num = "0";
		o->num_len = 1;
	}
	/* denominator */
	if (pos < end && str[pos] == '.') {
		pos++;
		i = pos;
		while (i < end && is_digit(str[i]))
			i++;
		o->denom = str + pos;
		o->denom_len = i - pos;
		if (i >= end) {
			o->value = str;
			o->value_len = end;
			return 0;
		}
		pos = i;
	}
	o->value = str;
	o->value_len = pos;
	/* suffix: letters from the set, an optional sign, digits */
	size_t suffix_start = pos;
	i = pos;
	while (i < end && strchr("eEinumkKMGTP", str[i]))
		i++;
	if (i >= end) {
		o->suffix = str + suffix_start;
		o->suffix_len = end - suffix_start;
		return 0;
	}
	pos = i;
	if (str[pos] == '-' || str[pos] == '+')
		pos++;
	for (i = pos;; i++) {
		if (i >= end) {
			o->suffix = str + suffix_start;
			o->suffix_len = end - suffix_start;
			return 0;
		}
		if (!is_digit(str[i]))
			break;
	}
	return KC_EPARSE; /* ErrFormatWrong */
}

/* quantitySuffixer.interpret */
static bool interpret_suffix(const char *s, size_t n, int *base, int32_t *exp,
			     kc_quantity_format *fmt)
{
	static const struct {
		const char *s;
		int base;
		int exp;
		kc_quantity_format fmt;
	} tab[] = {
		{ "", 10, 0, KC_QUANTITY_DECIMAL_SI },	 { "n", 10, -9, KC_QUANTITY_DECIMAL_SI },
		{ "u", 10, -6, KC_QUANTITY_DECIMAL_SI }, { "m", 10, -3, KC_QUANTITY_DECIMAL_SI },
		{ "k", 10, 3, KC_QUANTITY_DECIMAL_SI },	 { "M", 10, 6, KC_QUANTITY_DECIMAL_SI },
		{ "G", 10, 9, KC_QUANTITY_DECIMAL_SI },	 { "T", 10, 12, KC_QUANTITY_DECIMAL_SI },
		{ "P", 10, 15, KC_QUANTITY_DECIMAL_SI }, { "E", 10, 18, KC_QUANTITY_DECIMAL_SI },
		{ "Ki", 2, 10, KC_QUANTITY_BINARY_SI },	 { "Mi", 2, 20, KC_QUANTITY_BINARY_SI },
		{ "Gi", 2, 30, KC_QUANTITY_BINARY_SI },	 { "Ti", 2, 40, KC_QUANTITY_BINARY_SI },
		{ "Pi", 2, 50, KC_QUANTITY_BINARY_SI },	 { "Ei", 2, 60, KC_QUANTITY_BINARY_SI },
	};
	for (size_t i = 0; i < sizeof(tab) / sizeof(tab[0]); i++) {
		if (strlen(tab[i].s) == n && memcmp(tab[i].s, s, n) == 0) {
			*base = tab[i].base;
			*exp = tab[i].exp;
			*fmt = tab[i].fmt;
			return true;
		}
	}
	if (n > 1 && (s[0] == 'e' || s[0] == 'E')) {
		/* strconv.ParseInt(s[1:], 10, 64), then int32(parsed) as upstream */
		size_t i = 1;
		bool neg = false;
		if (s[i] == '+' || s[i] == '-')
			neg = s[i++] == '-';
		if (i >= n)
			return false;
		u128 v = 0;
		for (; i < n; i++) {
			if (!is_digit(s[i]))
				return false;
			v = v * 10 + (unsigned)(s[i] - '0');
			if (v > (u128)INT64_MAX + 1)
				return false;
		}
		/* ParseInt at 64 bits, but the exponent lives in an int32 scale that is
		 * later negated: upstream accepts [-MaxInt32, MaxInt32] and rejects the
		 * rest rather than truncating ("1e4294967297" is an error). */
		if (v > (u128)INT32_MAX)
			return false;
		*base = 10;
		*exp = neg ? -(int32_t)v : (int32_t)v;
		*fmt = KC_QUANTITY_DECIMAL_EXPONENT;
		return true;
	}
	return false;
}

/* ---------------------------------------------------------------------------
 * Exact scaling of a decimal digit string */

/* digits[0..*n) (most significant first) *= m, m <= 1024. cap is the buffer size. */
static void digits_mul(char *d, size_t *n, size_t cap, unsigned m)
{
	unsigned carry = 0;
	for (size_t i = *n; i-- > 0;) {
		unsigned v = (unsigned)(d[i] - '0') * m + carry;
		d[i] = (char)('0' + v % 10);
		carry = v / 10;
	}
	while (carry && *n < cap) {
		memmove(d + 1, d, *n);
		d[0] = (char)('0' + carry % 10);
		carry /= 10;
		(*n)++;
	}
}

/* *out = ceil_away(M * 10^s) where M is a digit string; false on overflow. */
static bool scale_digits(const char *m, size_t n, long long s, i128 *out)
{
	while (n > 0 && m[0] == '0') {
		m++;
		n--;
	}
	*out = 0;
	if (n == 0)
		return true;
	size_t keep = n;
	bool round_up = false;
	if (s < 0) {
		unsigned long long k = (unsigned long long)(-s);
		if (k >= n) {
			*out = 1; /* nonzero below 1n rounds up to 1n */
			return true;
		}
		keep = n - (size_t)k;
		for (size_t i = keep; i < n; i++)
			if (m[i] != '0')
				round_up = true;
		s = 0;
	}
	if ((long long)keep + s > 39)
		return false;
	i128 v = 0;
	for (size_t i = 0; i < keep; i++) {
		if (__builtin_mul_overflow(v, 10, &v) ||
		    __builtin_add_overflow(v, (i128)(m[i] - '0'), &v))
			return false;
	}
	for (long long i = 0; i < s; i++)
		if (__builtin_mul_overflow(v, 10, &v))
			return false;
	if (round_up && __builtin_add_overflow(v, 1, &v))
		return false;
	if (v > Q_MAX)
		return false;
	*out = v;
	return true;
}

int kc_quantity_parse(const char *str, kc_quantity *out, char *err, size_t errlen)
{
	out->nano = 0;
	out->format = KC_QUANTITY_DECIMAL_SI;
	out->text[0] = '\0';
	if (err && errlen)
		err[0] = '\0';
	if (!str || !*str)
		return fail(err, errlen, KC_EPARSE, ERR_FORMAT);
	if (strcmp(str, "0") == 0) {
		strcpy(out->text, "0");
		return 0;
	}
	struct scan sc;
	if (scan_quantity(str, &sc) < 0)
		return fail(err, errlen, KC_EPARSE, ERR_FORMAT);
	int base;
	int32_t exp;
	kc_quantity_format fmt;
	if (!interpret_suffix(sc.suffix, sc.suffix_len, &base, &exp, &fmt))
		return fail(err, errlen, KC_EPARSE, ERR_SUFFIX);

	/* Upstream's int64 fast path; outside it, inf.Dec.SetString(value) must accept the
	 * numeric text, which fails when it holds no digit at all (e.g. "-.e-10"). */
	bool fast;
	size_t ndig = sc.num_len + sc.denom_len;
	if (fmt == KC_QUANTITY_BINARY_SI) {
		int precision = 15 - (int)sc.num_len - (int)((float)exp * 3 / 10) - 1;
		fast = exp >= 0 && sc.denom_len == 0 && precision >= 0;
		if (fast) {
			/* int64Multiply(value, 1<<exp) must not overflow */
			u128 v = 0;
			for (size_t i = 0; i < sc.num_len; i++)
				v = v * 10 + (unsigned)(sc.num[i] - '0');
			fast = (v << exp) <= (u128)INT64_MAX;
		}
	} else {
		fast = 18 - (long long)ndig >= 0 && (long long)exp - (long long)sc.denom_len >= -9;
	}
	if (!fast) {
		bool any = false;
		for (size_t i = 0; i < sc.value_len; i++)
			if (is_digit(sc.value[i]))
				any = true;
		if (!any)
			return fail(err, errlen, KC_EPARSE, ERR_NUMERIC);
	}

	/* Exact value: D * base^exp / 10^len(denom), in nano units, rounded up. */
	size_t cap = ndig + 40;
	char *d = malloc(cap);
	if (!d)
		return fail(err, errlen, -ENOMEM, "out of memory");
	memcpy(d, sc.num, sc.num_len);
	memcpy(d + sc.num_len, sc.denom, sc.denom_len);
	size_t n = ndig;
	long long s = 9 - (long long)sc.denom_len;
	if (base == 2) {
		int e = exp;
		while (e >= 10) {
			digits_mul(d, &n, cap, 1024);
			e -= 10;
		}
		if (e > 0)
			digits_mul(d, &n, cap, 1u << e);
	} else {
		s += exp;
	}
	i128 nano;
	bool ok = scale_digits(d, n, s, &nano);
	free(d);
	if (fmt == KC_QUANTITY_BINARY_SI) {
		if (!ok || nano > BIN_MAX_NANO)
			nano = BIN_MAX_NANO; /* "The max is just a simple cap." */
		if (nano > 0 && nano < NANO)
			fmt = KC_QUANTITY_DECIMAL_SI; /* binary below 1 prints as decimal */
	} else if (!ok) {
		return fail(err, errlen, KC_ETOOLARGE, "quantity too large");
	}
	out->nano = sc.positive ? nano : -nano;
	out->format = fmt;

	/* ParseQuantity keeps the input text as the quantity's string when the int64
	 * fast path sees it is already canonical, so String()/MarshalJSON echo it
	 * ("+1", "1E3", "1.G" come back as written). Same conditions here. */
	if (fast && strlen(str) < sizeof(out->text)) {
		bool reuse;
		if (fmt == KC_QUANTITY_BINARY_SI) {
			uint64_t v = 0;
			for (size_t i = 0; i < sc.num_len; i++)
				v = v * 10 + (unsigned)(sc.num[i] - '0');
			reuse = exp % 10 == 0 && (v & 7) != 0;
		} else {
			long long scale = (long long)exp - (long long)sc.denom_len;
			/* shifted = num + denom; ends in "000"? starts with '0'? */
			char tail[3];
			size_t t = 0;
			for (size_t i = ndig; i-- > 0 && t < 3;)
				tail[t++] = i >= sc.num_len ? sc.denom[i - sc.num_len] : sc.num[i];
			bool ends000 = t == 3 && tail[0] == '0' && tail[1] == '0' && tail[2] == '0';
			reuse = scale % 3 == 0 && !ends000 && sc.num[0] != '0';
		}
		if (reuse)
			memcpy(out->text, str, strlen(str) + 1);
	}
	return 0;
}

int kc_quantity_from_json(const cJSON *item, kc_quantity *out, char *err, size_t errlen)
{
	out->nano = 0;
	out->format = KC_QUANTITY_DECIMAL_SI;
	out->text[0] = '\0';
	if (!item || cJSON_IsNull(item))
		return 0;
	if (cJSON_IsString(item) || (cJSON_IsRaw(item) && item->valuestring)) {
		/* strings.TrimSpace, as UnmarshalJSON */
		const char *s = item->valuestring;
		while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r' || *s == '\v' ||
		       *s == '\f')
			s++;
		size_t n = strlen(s);
		while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\n' ||
			     s[n - 1] == '\r' || s[n - 1] == '\v' || s[n - 1] == '\f'))
			n--;
		char *t = strndup(s, n);
		if (!t)
			return fail(err, errlen, -ENOMEM, "out of memory");
		int rc = kc_quantity_parse(t, out, err, errlen);
		free(t);
		return rc;
	}
	if (cJSON_IsNumber(item)) {
		/* Upstream parses the JSON number's own text; the shortest text that reads
		 * back as the same double is what a client sent for any sane value. */
		char buf[64];
		double v = item->valuedouble;
		for (int prec = 1; prec <= 17; prec++) {
			snprintf(buf, sizeof(buf), "%.*g", prec, v);
			if (strtod(buf, NULL) == v)
				break;
		}
		/* "%g" writes "1e+20"; the quantity grammar accepts that exponent. */
		return kc_quantity_parse(buf, out, err, errlen);
	}
	return fail(err, errlen, KC_EPARSE, ERR_FORMAT);
}

kc_quantity kc_quantity_from_int(int64_t value, kc_quantity_format format)
{
	kc_quantity q = { (i128)value * NANO, format, "" };
	return q;
}

kc_quantity kc_quantity_from_milli(int64_t milli, kc_quantity_format format)
{
	kc_quantity q = { (i128)milli * 1000000, format, "" };
	return q;
}

int kc_quantity_from_scaled(int64_t value, int scale, kc_quantity *out)
{
	char buf[32];
	snprintf(buf, sizeof(buf), "%llu",
		 value < 0 ? 0ULL - (unsigned long long)value : (unsigned long long)value);
	i128 v;
	if (!scale_digits(buf, strlen(buf), (long long)scale + 9, &v))
		return -ERANGE;
	out->nano = value < 0 ? -v : v;
	out->format = KC_QUANTITY_DECIMAL_SI;
	out->text[0] = '\0';
	return 0;
}

/* ---------------------------------------------------------------------------
 * Printing */

/* Decimal text of v (sign included) into buf (>= 41 bytes). */
static void i128_text(i128 v, char *buf)
{
	char tmp[48];
	int n = 0;
	u128 u = v < 0 ? (u128)0 - (u128)v : (u128)v;
	do {
		tmp[n++] = (char)('0' + (int)(u % 10));
		u /= 10;
	} while (u);
	int o = 0;
	if (v < 0)
		buf[o++] = '-';
	while (n)
		buf[o++] = tmp[--n];
	buf[o] = '\0';
}

int kc_quantity_string(const kc_quantity *q, char *buf, size_t buflen)
{
	char out[96];
	char num[48];
	const char *suffix = "";
	char sufbuf[24];
	i128 v = q->nano;

	if (q->text[0] && memchr(q->text, '\0', sizeof(q->text))) {
		snprintf(out, sizeof(out), "%s", q->text);
		goto done;
	}
	if (v == 0) {
		snprintf(out, sizeof(out), "0");
		goto done;
	}
	kc_quantity_format fmt = q->format;
	if (fmt == KC_QUANTITY_BINARY_SI) {
		/* -1024 < q < 1024, or not a whole number: emit as DecimalSI. */
		if ((v > -1024 * NANO && v < 1024 * NANO) || v % NANO != 0)
			fmt = KC_QUANTITY_DECIMAL_SI;
	}
	if (fmt == KC_QUANTITY_BINARY_SI) {
		static const char *bin[] = { "", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei" };
		i128 u = v / NANO;
		int k = 0;
		/* removeInt64Factors(value, 1024) */
		while ((u >= 1024 || u <= -1024) && u % 1024 == 0) {
			u /= 1024;
			k++;
		}
		if (k <= 6) {
			i128_text(u, num);
			suffix = bin[k];
			goto emit;
		}
		/* Past Ei there is no binary suffix: upstream falls back to the exact
		 * decimal form in exponent notation (2^70 -> "1180591620717411303424"). */
		fmt = KC_QUANTITY_DECIMAL_EXPONENT;
	}
	{
		i128 m = v;
		int e = -9;
		while (m % 10 == 0) {
			m /= 10;
			e++;
		}
		/* exponent to a multiple of 3, moving digits back into the mantissa; this
		 * never overflows as those digits were just removed */
		while (((e % 3) + 3) % 3 != 0) {
			m *= 10;
			e--;
		}
		/* DecimalSI has no suffix past E (10^18): upstream falls back to exponent
		 * notation ("1000E" -> "1e21") instead of dropping the magnitude. */
		if (fmt == KC_QUANTITY_DECIMAL_EXPONENT || e > 18) {
			if (e != 0) {
				snprintf(sufbuf, sizeof(sufbuf), "e%d", e);
				suffix = sufbuf;
			}
		} else {
			static const char *dec[] = { "n", "u", "m", "", "k", "M", "G", "T", "P", "E" };
			suffix = dec[(e + 9) / 3];
		}
		i128_text(m, num);
	}
emit:
	snprintf(out, sizeof(out), "%s%s", num, suffix);
done:;
	size_t len = strlen(out);
	if (!buf || buflen == 0)
		return -ENOSPC;
	snprintf(buf, buflen, "%s", out);
	return len < buflen ? (int)len : -ENOSPC;
}

cJSON *kc_quantity_to_json(const kc_quantity *q)
{
	char buf[KC_QUANTITY_STRMAX];
	kc_quantity_string(q, buf, sizeof(buf));
	return cJSON_CreateString(buf);
}

/* ---------------------------------------------------------------------------
 * Arithmetic and accessors */

int kc_quantity_cmp(const kc_quantity *a, const kc_quantity *b)
{
	return a->nano < b->nano ? -1 : a->nano > b->nano ? 1 : 0;
}

int kc_quantity_cmp_int64(const kc_quantity *a, int64_t units)
{
	i128 b = (i128)units * NANO;
	return a->nano < b ? -1 : a->nano > b ? 1 : 0;
}

bool kc_quantity_is_zero(const kc_quantity *q)
{
	return q->nano == 0;
}

int kc_quantity_sign(const kc_quantity *q)
{
	return q->nano < 0 ? -1 : q->nano > 0 ? 1 : 0;
}

int kc_quantity_add(kc_quantity *q, const kc_quantity *b)
{
	i128 r;
	if (__builtin_add_overflow(q->nano, b->nano, &r) || r < Q_MIN)
		return -ERANGE;
	if (q->nano == 0)
		q->format = b->format;
	q->nano = r;
	q->text[0] = '\0';
	return 0;
}

int kc_quantity_sub(kc_quantity *q, const kc_quantity *b)
{
	i128 r;
	if (__builtin_sub_overflow(q->nano, b->nano, &r) || r < Q_MIN)
		return -ERANGE;
	if (q->nano == 0)
		q->format = b->format;
	q->nano = r;
	q->text[0] = '\0';
	return 0;
}

int kc_quantity_mul(kc_quantity *q, int64_t k)
{
	i128 r;
	if (__builtin_mul_overflow(q->nano, (i128)k, &r) || r < Q_MIN)
		return -ERANGE;
	q->nano = r;
	q->text[0] = '\0';
	return 0;
}

void kc_quantity_neg(kc_quantity *q)
{
	q->nano = -q->nano;
	q->text[0] = '\0';
}

/* ceil(|nano| / div) with the sign of nano, saturated to int64. */
static int64_t scaled_away(i128 nano, i128 div)
{
	i128 r = nano / div;
	if (nano % div != 0)
		r += nano < 0 ? -1 : 1;
	if (r > INT64_MAX)
		return INT64_MAX;
	if (r < INT64_MIN)
		return INT64_MIN;
	return (int64_t)r;
}

int64_t kc_quantity_value(const kc_quantity *q)
{
	return scaled_away(q->nano, NANO);
}

int64_t kc_quantity_milli_value(const kc_quantity *q)
{
	return scaled_away(q->nano, 1000000);
}
