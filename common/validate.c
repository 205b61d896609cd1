/* Name and label syntax, mirroring k8s.io/apimachinery/pkg/util/validation: the regular
 * expressions are matched by hand and the messages are upstream's byte for byte
 * (including RegexError's double space before "or"). */
#include <ctype.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "errors.h"
#include "validate.h"

#define DNS1123_LABEL_FMT "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
#define DNS1123_SUBDOMAIN_FMT DNS1123_LABEL_FMT "(\\." DNS1123_LABEL_FMT ")*"
#define DNS1035_LABEL_FMT "[a-z]([-a-z0-9]*[a-z0-9])?"
#define QNAME_FMT "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
#define LABEL_VALUE_FMT "(" QNAME_FMT ")?"

#define DNS1123_LABEL_MSG                                                                  \
	"a lowercase RFC 1123 label must consist of lower case alphanumeric characters or "  \
	"'-', and must start and end with an alphanumeric character"
#define DNS1123_SUBDOMAIN_MSG                                                              \
	"a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, " \
	"'-' or '.', and must start and end with an alphanumeric character"
#define DNS1035_LABEL_MSG                                                                  \
	"a DNS-1035 label must consist of lower case alphanumeric characters or '-', start " \
	"with an alphabetic character, and end with an alphanumeric character"
#define QNAME_MSG                                                                          \
	"must consist of alphanumeric characters, '-', '_' or '.', and must start and end "  \
	"with an alphanumeric character"
#define LABEL_VALUE_MSG                                                                    \
	"a valid label must be an empty string or consist of alphanumeric characters, '-', " \
	"'_' or '.', and must start and end with an alphanumeric character"

void kc_verrs_init(kc_verrs *errs)
{
	if (errs) {
		errs->n = 0;
		errs->dropped = 0;
	}
}

static void add(kc_verrs *errs, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void add(kc_verrs *errs, const char *fmt, ...)
{
	if (!errs)
		return;
	if (errs->n < 0 || errs->n >= KC_VERRS_MAX) {
		errs->dropped++;
		return;
	}
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(errs->msg[errs->n], KC_VERR_LEN, fmt, ap);
	va_end(ap);
	errs->n++;
}

size_t kc_verrs_join(const kc_verrs *errs, const char *sep, char *buf, size_t buflen)
{
	size_t need = 0;
	if (buflen)
		buf[0] = '\0';
	for (int i = 0; errs && i < errs->n && i < KC_VERRS_MAX; i++) {
		const char *parts[2] = { i ? (sep ? sep : "") : "", errs->msg[i] };
		for (int k = 0; k < 2; k++) {
			size_t l = strlen(parts[k]);
			if (need < buflen) {
				size_t room = buflen - need - 1;
				size_t c = l < room ? l : room;
				memcpy(buf + need, parts[k], c);
				buf[need + c] = '\0';
			}
			need += l;
		}
	}
	return need;
}

/* upstream RegexError(msg, fmt, examples...): " (e.g. 'a',  or 'b', regex used for
 * validation is '<fmt>')". Examples are passed as one NULL-terminated list. */
static void regex_error(char *out, size_t outlen, const char *msg, const char *fmt,
			const char *const *examples)
{
	size_t o = (size_t)snprintf(out, outlen, "%s", msg);
	if (!examples || !examples[0]) {
		if (o < outlen)
			snprintf(out + o, outlen - o, " (regex used for validation is '%s')", fmt);
		return;
	}
	if (o < outlen)
		o += (size_t)snprintf(out + o, outlen - o, " (e.g. ");
	for (int i = 0; examples[i] && o < outlen; i++)
		o += (size_t)snprintf(out + o, outlen - o, "%s'%s', ", i ? " or " : "", examples[i]);
	if (o < outlen)
		snprintf(out + o, outlen - o, "regex used for validation is '%s')", fmt);
}

static bool is_lower_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

/* [a-z0-9]([-a-z0-9]*[a-z0-9])? over s[0..n); with first_alpha, DNS-1035's
 * [a-z]([-a-z0-9]*[a-z0-9])? instead. */
static bool match_dns_label(const char *s, size_t n, bool first_alpha)
{
	if (n == 0)
		return false;
	if (first_alpha ? !(s[0] >= 'a' && s[0] <= 'z') : !is_lower_alnum(s[0]))
		return false;
	if (!is_lower_alnum(s[n - 1]))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!is_lower_alnum(s[i]) && s[i] != '-')
			return false;
	return true;
}

/* DNS-1123 subdomain regex over s[0..n): labels separated by single dots. */
static bool match_dns_subdomain(const char *s, size_t n)
{
	const char *p = s, *end = s + n;
	for (;;) {
		const char *dot = memchr(p, '.', (size_t)(end - p));
		size_t len = dot ? (size_t)(dot - p) : (size_t)(end - p);
		if (!match_dns_label(p, len, false))
			return false;
		if (!dot)
			return true;
		p = dot + 1;
	}
}

/* ([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9] over s[0..n) */
static bool match_qname(const char *s, size_t n)
{
	if (n == 0)
		return false;
	if (!isalnum((unsigned char)s[0]) || !isalnum((unsigned char)s[n - 1]))
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (!(c < 0x80 && isalnum(c)) && c != '-' && c != '_' && c != '.')
			return false;
	}
	return true;
}

/* IsDNS1123Subdomain over v[0..n), each message prefixed with pfx. */
static int check_subdomain(const char *v, size_t n, const char *pfx, kc_verrs *errs)
{
	static const char *const ex[] = { "example.com", NULL };
	char msg[KC_VERR_LEN];
	int bad = 0;
	if (n > KC_DNS1123_SUBDOMAIN_MAX) {
		add(errs, "%smust be no more than %d characters", pfx, KC_DNS1123_SUBDOMAIN_MAX);
		bad = 1;
	}
	if (!match_dns_subdomain(v, n)) {
		regex_error(msg, sizeof(msg), DNS1123_SUBDOMAIN_MSG, DNS1123_SUBDOMAIN_FMT, ex);
		add(errs, "%s%s", pfx, msg);
		bad = 1;
	}
	return bad ? KC_EINVALID : 0;
}

int kc_validate_dns1123_subdomain(const char *v, kc_verrs *errs)
{
	if (!v)
		v = "";
	return check_subdomain(v, strlen(v), "", errs);
}

int kc_validate_dns1123_label(const char *v, kc_verrs *errs)
{
	static const char *const ex[] = { "my-name", "123-abc", NULL };
	char msg[KC_VERR_LEN];
	int bad = 0;
	if (!v)
		v = "";
	if (strlen(v) > KC_DNS1123_LABEL_MAX) {
		add(errs, "must be no more than %d characters", KC_DNS1123_LABEL_MAX);
		bad = 1;
	}
	if (!match_dns_label(v, strlen(v), false)) {
		bad = 1;
		/* A valid subdomain that is not a label can only be failing on dots. */
		if (match_dns_subdomain(v, strlen(v))) {
			add(errs, "must not contain dots");
		} else {
			regex_error(msg, sizeof(msg), DNS1123_LABEL_MSG, DNS1123_LABEL_FMT, ex);
			add(errs, "%s", msg);
		}
	}
	return bad ? KC_EINVALID : 0;
}

int kc_validate_dns1035_label(const char *v, kc_verrs *errs)
{
	static const char *const ex[] = { "my-name", "abc-123", NULL };
	char msg[KC_VERR_LEN];
	int bad = 0;
	if (!v)
		v = "";
	if (strlen(v) > KC_DNS1035_LABEL_MAX) {
		add(errs, "must be no more than %d characters", KC_DNS1035_LABEL_MAX);
		bad = 1;
	}
	if (!match_dns_label(v, strlen(v), true)) {
		regex_error(msg, sizeof(msg), DNS1035_LABEL_MSG, DNS1035_LABEL_FMT, ex);
		add(errs, "%s", msg);
		bad = 1;
	}
	return bad ? KC_EINVALID : 0;
}

int kc_validate_qualified_name(const char *v, kc_verrs *errs)
{
	static const char *const ex[] = { "MyName", "my.name", "123-abc", NULL };
	char msg[KC_VERR_LEN];
	int bad = 0;
	if (!v)
		v = "";
	const char *slash = strchr(v, '/');
	const char *name = v;
	if (slash && strchr(slash + 1, '/')) {
		regex_error(msg, sizeof(msg), QNAME_MSG, QNAME_FMT, ex);
		add(errs, "a qualified name %s with an optional DNS subdomain prefix and '/' "
			  "(e.g. 'example.com/MyName')", msg);
		return KC_EINVALID;
	}
	if (slash) {
		size_t plen = (size_t)(slash - v);
		name = slash + 1;
		if (plen == 0) {
			add(errs, "prefix part must be non-empty");
			bad = 1;
		} else if (check_subdomain(v, plen, "prefix part ", errs)) {
			bad = 1;
		}
	}
	size_t nlen = strlen(name);
	if (nlen == 0) {
		add(errs, "name part must be non-empty");
		bad = 1;
	} else if (nlen > KC_QUALIFIED_NAME_MAX) {
		add(errs, "name part must be no more than %d characters", KC_QUALIFIED_NAME_MAX);
		bad = 1;
	}
	if (!match_qname(name, nlen)) {
		regex_error(msg, sizeof(msg), QNAME_MSG, QNAME_FMT, ex);
		add(errs, "name part %s", msg);
		bad = 1;
	}
	return bad ? KC_EINVALID : 0;
}

int kc_validate_label_value(const char *v, kc_verrs *errs)
{
	static const char *const ex[] = { "MyValue", "my_value", "12345", NULL };
	char msg[KC_VERR_LEN];
	int bad = 0;
	if (!v)
		v = "";
	size_t n = strlen(v);
	if (n > KC_LABEL_VALUE_MAX) {
		add(errs, "must be no more than %d characters", KC_LABEL_VALUE_MAX);
		bad = 1;
	}
	if (n > 0 && !match_qname(v, n)) {
		regex_error(msg, sizeof(msg), LABEL_VALUE_MSG, LABEL_VALUE_FMT, ex);
		add(errs, "%s", msg);
		bad = 1;
	}
	return bad ? KC_EINVALID : 0;
}

int kc_validate_labels(const cJSON *labels, kc_verrs *errs)
{
	int bad = 0;
	const cJSON *kv;
	if (!labels || cJSON_IsNull(labels))
		return 0;
	if (!cJSON_IsObject(labels)) {
		add(errs, "must be an object of string keys and values");
		return KC_EINVALID;
	}
	cJSON_ArrayForEach(kv, labels)
	{
		if (kc_validate_qualified_name(kv->string, errs))
			bad = 1;
		if (!cJSON_IsString(kv)) {
			add(errs, "label value must be a string");
			bad = 1;
		} else if (kc_validate_label_value(kv->valuestring, errs)) {
			bad = 1;
		}
	}
	return bad ? KC_EINVALID : 0;
}

int kc_validate_annotations(const cJSON *annotations, kc_verrs *errs)
{
	int bad = 0;
	size_t total = 0;
	const cJSON *kv;
	if (!annotations || cJSON_IsNull(annotations))
		return 0;
	if (!cJSON_IsObject(annotations)) {
		add(errs, "must be an object of string keys and values");
		return KC_EINVALID;
	}
	cJSON_ArrayForEach(kv, annotations)
	{
		const char *k = kv->string ? kv->string : "";
		size_t klen = strlen(k);
		/* Upstream: "The rule is QualifiedName except that case doesn't matter". */
		char lower[KC_VERR_LEN];
		if (klen < sizeof(lower)) {
			for (size_t i = 0; i <= klen; i++)
				lower[i] = (char)tolower((unsigned char)k[i]);
			if (kc_validate_qualified_name(lower, errs))
				bad = 1;
		} else if (kc_validate_qualified_name(k, errs)) {
			bad = 1; /* far too long either way; case cannot rescue it */
		}
		total += klen;
		if (!cJSON_IsString(kv)) {
			add(errs, "annotation value must be a string");
			bad = 1;
		} else {
			total += strlen(kv->valuestring);
		}
	}
	if (total > KC_ANNOTATIONS_TOTAL_MAX) {
		add(errs, "may not be more than %d bytes", KC_ANNOTATIONS_TOTAL_MAX);
		bad = 1;
	}
	return bad ? KC_EINVALID : 0;
}
