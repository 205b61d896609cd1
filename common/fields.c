/* Field selectors: k8s.io/apimachinery/pkg/fields/selector.go (splitTerms, splitTerm,
 * EscapeValue/UnescapeValue, hasTerm/notHasTerm/andTerm) and the per-kind selectable
 * fields of the apiserver registries. */
#include "fields.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"

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

void kc_fields_init(kc_field_selector *sel)
{
	sel->reqs = NULL;
	sel->nreqs = 0;
}

void kc_fields_close(kc_field_selector *sel)
{
	if (!sel)
		return;
	for (size_t i = 0; i < sel->nreqs; i++) {
		free(sel->reqs[i].field);
		free(sel->reqs[i].value);
	}
	free(sel->reqs);
	kc_fields_init(sel);
}

bool kc_fields_empty(const kc_field_selector *sel)
{
	return sel->nreqs == 0;
}

/* ---------------------------------------------------------------------------
 * Escaping */

char *kc_fields_escape_value(const char *v)
{
	size_t n = 0;
	for (const char *p = v; *p; p++)
		n += (*p == '\\' || *p == ',' || *p == '=') ? 2 : 1;
	char *out = malloc(n + 1), *o = out;
	if (!out)
		return NULL;
	for (const char *p = v; *p; p++) {
		if (*p == '\\' || *p == ',' || *p == '=')
			*o++ = '\\';
		*o++ = *p;
	}
	*o = '\0';
	return out;
}

/* Bytes of the UTF-8 character starting with lead byte c (1 for invalid bytes), so
 * error texts quote the whole rune as Go's string([]rune{'\\', c}) does. */
static size_t rune_len(const char *p)
{
	unsigned char c = (unsigned char)*p;
	size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 1;
	for (size_t i = 1; i < n; i++)
		if (((unsigned char)p[i] & 0xc0) != 0x80)
			return 1;
	return n;
}

static int unescape_n(const char *v, size_t len, char **out, char *err, size_t errlen)
{
	char *res = malloc(len + 1), *o = res;
	if (!res)
		return -ENOMEM;
	for (size_t i = 0; i < len; i++) {
		char c = v[i];
		if (c == '\\') {
			if (i + 1 >= len) {
				/* a trailing single backslash */
				set_err(err, errlen, "invalid field selector: invalid escape sequence: \\");
				free(res);
				return KC_EPARSE;
			}
			char d = v[i + 1];
			if (d != '\\' && d != ',' && d != '=') {
				size_t rl = rune_len(v + i + 1);
				if (i + 1 + rl > len)
					rl = len - i - 1;
				set_err(err, errlen,
					"invalid field selector: invalid escape sequence: \\%.*s",
					(int)rl, v + i + 1);
				free(res);
				return KC_EPARSE;
			}
			*o++ = d;
			i++;
			continue;
		}
		if (c == ',' || c == '=') {
			set_err(err, errlen,
				"invalid field selector: unescaped character in value: %c", c);
			free(res);
			return KC_EPARSE;
		}
		*o++ = c;
	}
	*o = '\0';
	*out = res;
	return 0;
}

int kc_fields_unescape_value(const char *v, char **out, char *err, size_t errlen)
{
	*out = NULL;
	return unescape_n(v, strlen(v), out, err, errlen);
}

/* ---------------------------------------------------------------------------
 * Parse / print */

static char *term_string(const kc_field_requirement *r)
{
	char *ev = kc_fields_escape_value(r->value);
	if (!ev)
		return NULL;
	char *s = NULL;
	if (asprintf(&s, "%s%s%s", r->field, r->op == KC_FIELD_NOT_EQUALS ? "!=" : "=", ev) < 0)
		s = NULL;
	free(ev);
	return s;
}

struct sorted_term {
	kc_field_requirement r;
	char *printed;
};

static int cmp_term(const void *a, const void *b)
{
	return strcmp(((const struct sorted_term *)a)->printed,
		      ((const struct sorted_term *)b)->printed);
}

struct raw_term {
	const char *s;
	size_t len;
};

static int cmp_raw(const void *a, const void *b)
{
	const struct raw_term *x = a, *y = b;
	size_t n = x->len < y->len ? x->len : y->len;
	int c = memcmp(x->s, y->s, n);
	if (c)
		return c;
	return x->len < y->len ? -1 : x->len > y->len ? 1 : 0;
}

/* splitTerms: split on ',' not preceded by an escaping backslash (the backslash
 * stays in the term). Empty terms are kept here and skipped by the caller. */
static int split_terms(const char *str, struct raw_term **out, size_t *nout)
{
	size_t n = 0, cap = 4, start = 0, slen = strlen(str);
	struct raw_term *t = malloc(cap * sizeof(*t));
	if (!t)
		return -ENOMEM;
	bool in_slash = false;
	for (size_t i = 0; i <= slen; i++) {
		if (i < slen) {
			char c = str[i];
			if (in_slash) {
				in_slash = false;
				continue;
			}
			if (c == '\\') {
				in_slash = true;
				continue;
			}
			if (c != ',')
				continue;
		}
		if (n == cap) {
			cap *= 2;
			struct raw_term *nt = realloc(t, cap * sizeof(*t));
			if (!nt) {
				free(t);
				return -ENOMEM;
			}
			t = nt;
		}
		t[n].s = str + start;
		t[n].len = i - start;
		n++;
		start = i + 1;
	}
	*out = t;
	*nout = n;
	return 0;
}

int kc_fields_parse(const char *str, kc_field_selector *out, char *err, size_t errlen)
{
	kc_fields_init(out);
	if (err && errlen)
		err[0] = '\0';
	if (!str)
		str = "";
	struct raw_term *raw = NULL;
	size_t nraw = 0;
	int rc = split_terms(str, &raw, &nraw);
	if (rc < 0) {
		set_err(err, errlen, "out of memory");
		return rc;
	}
	/* upstream sorts the raw terms before parsing them, so with several bad terms
	 * the error names the first in sorted order */
	qsort(raw, nraw, sizeof(*raw), cmp_raw);
	struct sorted_term *terms = calloc(nraw ? nraw : 1, sizeof(*terms));
	size_t n = 0;
	if (!terms)
		rc = -ENOMEM;
	for (size_t k = 0; k < nraw && rc == 0; k++) {
		const char *term = raw[k].s;
		size_t tlen = raw[k].len;
		if (tlen == 0)
			continue;
		/* splitTerm: first position where "!=", "==" or "=" starts (the field
		 * name has no escaping) */
		size_t j, oplen = 0;
		kc_field_op op = KC_FIELD_EQUALS;
		for (j = 0; j < tlen; j++) {
			if (term[j] == '!' && j + 1 < tlen && term[j + 1] == '=') {
				op = KC_FIELD_NOT_EQUALS;
				oplen = 2;
				break;
			}
			if (term[j] == '=') {
				oplen = (j + 1 < tlen && term[j + 1] == '=') ? 2 : 1;
				break;
			}
		}
		if (oplen == 0) {
			set_err(err, errlen, "invalid selector: '%s'; can't understand '%.*s'", str,
				(int)tlen, term);
			rc = KC_EPARSE;
			break;
		}
		char *value = NULL;
		rc = unescape_n(term + j + oplen, tlen - j - oplen, &value, err, errlen);
		if (rc < 0)
			break;
		char *field = strndup(term, j);
		if (!field) {
			free(value);
			rc = -ENOMEM;
			break;
		}
		terms[n].r.field = field;
		terms[n].r.op = op;
		terms[n].r.value = value;
		terms[n].printed = term_string(&terms[n].r);
		n++;
		if (!terms[n - 1].printed)
			rc = -ENOMEM;
	}
	free(raw);
	if (rc == 0 && n > 1) {
		/* printed order: differs from upstream's raw order only for "==" terms and
		 * keeps print(parse(print(x))) == print(parse(x)). qsort is not stable,
		 * but equal printed terms are identical requirements. */
		qsort(terms, n, sizeof(*terms), cmp_term);
	}
	if (rc == 0 && n) {
		out->reqs = calloc(n, sizeof(*out->reqs));
		if (!out->reqs)
			rc = -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		free(terms[i].printed);
		if (rc == 0) {
			out->reqs[i] = terms[i].r;
		} else {
			free(terms[i].r.field);
			free(terms[i].r.value);
		}
	}
	free(terms);
	if (rc == 0)
		out->nreqs = n;
	else if (rc == -ENOMEM)
		set_err(err, errlen, "out of memory");
	return rc;
}

char *kc_fields_string(const kc_field_selector *sel)
{
	size_t cap = 1, len = 0;
	char *out = malloc(cap);
	if (!out)
		return NULL;
	out[0] = '\0';
	for (size_t i = 0; i < sel->nreqs; i++) {
		char *t = term_string(&sel->reqs[i]);
		if (!t) {
			free(out);
			return NULL;
		}
		size_t tl = strlen(t);
		char *no = realloc(out, len + tl + 2 + 1);
		if (!no) {
			free(t);
			free(out);
			return NULL;
		}
		out = no;
		if (i)
			out[len++] = ',';
		memcpy(out + len, t, tl);
		len += tl;
		out[len] = '\0';
		free(t);
	}
	return out;
}

bool kc_fields_requires_exact(const kc_field_selector *sel, const char *field,
			      const char **value)
{
	for (size_t i = 0; i < sel->nreqs; i++) {
		if (sel->reqs[i].op == KC_FIELD_EQUALS && strcmp(sel->reqs[i].field, field) == 0) {
			if (value)
				*value = sel->reqs[i].value;
			return true;
		}
	}
	return false;
}

/* ---------------------------------------------------------------------------
 * Getters */

/* Walk a dotted path (no escapes) through objects. */
static const cJSON *walk(const cJSON *obj, const char *path)
{
	const cJSON *cur = obj;
	const char *p = path;
	char seg[128];
	while (cur && *p) {
		const char *dot = strchr(p, '.');
		size_t n = dot ? (size_t)(dot - p) : strlen(p);
		if (n >= sizeof(seg) || !cJSON_IsObject(cur))
			return NULL;
		memcpy(seg, p, n);
		seg[n] = '\0';
		cur = cJSON_GetObjectItemCaseSensitive(cur, seg);
		p += n;
		if (*p == '.')
			p++;
	}
	return cur;
}

/* The selector text of a JSON scalar (fields.Set values are strings in upstream:
 * strconv.FormatBool for bools, strconv.Itoa for counts). */
static char *scalar_text(const cJSON *v)
{
	if (!v)
		return strdup("");
	if (cJSON_IsString(v))
		return strdup(v->valuestring);
	if (cJSON_IsBool(v))
		return strdup(cJSON_IsTrue(v) ? "true" : "false");
	if (cJSON_IsRaw(v) && v->valuestring) /* kc_json keeps big int64 literals raw */
		return strdup(v->valuestring);
	if (cJSON_IsNumber(v)) {
		char buf[64];
		double d = v->valuedouble;
		if (d >= -9007199254740992.0 && d <= 9007199254740992.0 && d == (double)(int64_t)d)
			snprintf(buf, sizeof(buf), "%" PRId64, (int64_t)d);
		else
			snprintf(buf, sizeof(buf), "%.17g", d);
		return strdup(buf);
	}
	return strdup("");
}

static char *get_path(const cJSON *obj, const char *path)
{
	return scalar_text(walk(obj, path));
}

/* Pod spec.hostNetwork: strconv.FormatBool, false when unset. */
static char *pod_host_network(const cJSON *obj)
{
	const cJSON *v = walk(obj, "spec.hostNetwork");
	return strdup(cJSON_IsTrue(v) ? "true" : "false");
}

/* Pod status.podIP: upstream reads PodIPs[0].IP (v1 conversion fills PodIPs from the
 * legacy podIP field when only that is set). */
static char *pod_ip(const cJSON *obj)
{
	const cJSON *ips = walk(obj, "status.podIPs");
	if (cJSON_IsArray(ips) && cJSON_GetArraySize(ips) > 0) {
		const cJSON *ip = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(ips, 0), "ip");
		return scalar_text(cJSON_IsString(ip) ? ip : NULL);
	}
	const cJSON *ip = walk(obj, "status.podIP");
	return scalar_text(cJSON_IsString(ip) ? ip : NULL);
}

/* Accepted by the v1 conversion but never set in ToSelectableFields: always "". */
static char *always_empty(const cJSON *obj)
{
	(void)obj;
	return strdup("");
}

/* Node spec.unschedulable: strconv.FormatBool. */
static char *node_unschedulable(const cJSON *obj)
{
	return strdup(cJSON_IsTrue(walk(obj, "spec.unschedulable")) ? "true" : "false");
}

/* Counts are ints in upstream (strconv.Itoa), 0 when unset. */
static char *int_or_zero(const cJSON *v)
{
	if (!v || cJSON_IsNull(v))
		return strdup("0");
	return scalar_text(v);
}

static char *rs_replicas(const cJSON *obj)
{
	return int_or_zero(walk(obj, "status.replicas"));
}

static char *job_successful(const cJSON *obj)
{
	return int_or_zero(walk(obj, "status.succeeded"));
}

/* Event "source": source.component, or reportingComponent when that is empty
 * (pkg/registry/core/event/strategy.go). */
static char *event_source(const cJSON *obj)
{
	const cJSON *c = walk(obj, "source.component");
	if (cJSON_IsString(c) && c->valuestring[0])
		return strdup(c->valuestring);
	return get_path(obj, "reportingComponent");
}

#define META_NS \
	{ "metadata.name", "metadata.name", NULL }, \
	{ "metadata.namespace", "metadata.namespace", NULL }
#define META_CLUSTER { "metadata.name", "metadata.name", NULL }
#define TABLE(kind, arr) { kind, arr, sizeof(arr) / sizeof(arr[0]) }

/* DefaultMetaV1FieldSelectorConversion */
static const kc_field_getter default_fields[] = { META_NS };

/* pkg/apis/core/v1/conversion.go (Pod) and pod/strategy.go ToSelectableFields */
static const kc_field_getter pod_fields[] = {
	META_NS,
	{ "spec.nodeName", "spec.nodeName", NULL },
	{ "spec.host", "spec.nodeName", NULL }, /* legacy alias, converted to spec.nodeName */
	{ "spec.restartPolicy", "spec.restartPolicy", NULL },
	{ "spec.schedulerName", "spec.schedulerName", NULL },
	{ "spec.serviceAccountName", "spec.serviceAccountName", NULL },
	{ "spec.hostNetwork", NULL, pod_host_network },
	{ "status.phase", "status.phase", NULL },
	{ "status.podIP", NULL, pod_ip },
	{ "status.podIPs", NULL, always_empty },
	{ "status.nominatedNodeName", "status.nominatedNodeName", NULL },
};

static const kc_field_getter event_fields[] = {
	META_NS,
	{ "involvedObject.kind", "involvedObject.kind", NULL },
	{ "involvedObject.namespace", "involvedObject.namespace", NULL },
	{ "involvedObject.name", "involvedObject.name", NULL },
	{ "involvedObject.uid", "involvedObject.uid", NULL },
	{ "involvedObject.apiVersion", "involvedObject.apiVersion", NULL },
	{ "involvedObject.resourceVersion", "involvedObject.resourceVersion", NULL },
	{ "involvedObject.fieldPath", "involvedObject.fieldPath", NULL },
	{ "reason", "reason", NULL },
	{ "reportingComponent", "reportingComponent", NULL },
	{ "source", NULL, event_source },
	{ "type", "type", NULL },
};

static const kc_field_getter node_fields[] = {
	META_CLUSTER,
	{ "spec.unschedulable", NULL, node_unschedulable },
};

static const kc_field_getter namespace_fields[] = {
	META_CLUSTER,
	{ "status.phase", "status.phase", NULL },
};

static const kc_field_getter secret_fields[] = {
	META_NS,
	{ "type", "type", NULL },
};

static const kc_field_getter replicas_fields[] = {
	META_NS,
	{ "status.replicas", NULL, rs_replicas },
};

static const kc_field_getter job_fields[] = {
	META_NS,
	{ "status.successful", NULL, job_successful },
};

static const kc_field_getter service_fields[] = {
	META_NS,
	{ "spec.clusterIP", "spec.clusterIP", NULL },
	{ "spec.type", "spec.type", NULL },
};

/* Cluster-scoped kinds whose registries only know metadata.name. */
static const kc_field_getter cluster_fields[] = { META_CLUSTER };

static const kc_field_table tables[] = {
	TABLE("Pod", pod_fields),
	TABLE("Event", event_fields),
	TABLE("Node", node_fields),
	TABLE("Namespace", namespace_fields),
	TABLE("Secret", secret_fields),
	TABLE("ReplicaSet", replicas_fields),
	TABLE("ReplicationController", replicas_fields),
	TABLE("Job", job_fields),
	TABLE("Service", service_fields),
	TABLE("PersistentVolume", cluster_fields),
};

static const kc_field_table default_table = TABLE("", default_fields);

const kc_field_table *kc_fields_table_for_kind(const char *kind)
{
	if (kind)
		for (size_t i = 0; i < sizeof(tables) / sizeof(tables[0]); i++)
			if (strcmp(tables[i].kind, kind) == 0)
				return &tables[i];
	return &default_table;
}

const kc_field_getter *kc_fields_table_find(const kc_field_table *t, const char *field)
{
	for (size_t i = 0; i < t->ngetters; i++)
		if (strcmp(t->getters[i].field, field) == 0)
			return &t->getters[i];
	return NULL;
}

int kc_fields_check(const kc_field_selector *sel, const char *kind, char *err, size_t errlen)
{
	const kc_field_table *t = kc_fields_table_for_kind(kind);
	for (size_t i = 0; i < sel->nreqs; i++) {
		if (!kc_fields_table_find(t, sel->reqs[i].field)) {
			set_err(err, errlen, "field label not supported: %s", sel->reqs[i].field);
			return KC_EINVALID;
		}
	}
	return 0;
}

static char *getter_value(const kc_field_getter *g, const cJSON *obj)
{
	if (g->fn)
		return g->fn(obj);
	return get_path(obj, g->json_path);
}

int kc_fields_get(const char *kind, const cJSON *obj, const char *field, char **out)
{
	*out = NULL;
	const kc_field_getter *g = kc_fields_table_find(kc_fields_table_for_kind(kind), field);
	if (!g)
		return KC_EINVALID;
	*out = getter_value(g, obj);
	return *out ? 0 : -ENOMEM;
}

int kc_fields_matches(const kc_field_selector *sel, const char *kind, const cJSON *obj,
		      char *err, size_t errlen)
{
	const kc_field_table *t = kc_fields_table_for_kind(kind);
	for (size_t i = 0; i < sel->nreqs; i++) {
		const kc_field_requirement *r = &sel->reqs[i];
		const kc_field_getter *g = kc_fields_table_find(t, r->field);
		if (!g) {
			set_err(err, errlen, "field label not supported: %s", r->field);
			return KC_EINVALID;
		}
		char *v = getter_value(g, obj);
		if (!v)
			return -ENOMEM;
		bool eq = strcmp(v, r->value) == 0;
		free(v);
		if (eq != (r->op == KC_FIELD_EQUALS))
			return 0;
	}
	return 1;
}
