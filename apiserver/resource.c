/* Descriptor table and the helpers descriptor files share. */
#include "resource.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

const res_desc *const res_all[] = {
	&res_pods, &res_namespaces, &res_services, &res_endpoints, &res_nodes, &res_configmaps,
	&res_secrets, &res_serviceaccounts, &res_events, &res_deployments, &res_replicasets,
	&res_leases, &res_endpointslices, &res_persistentvolumes, &res_persistentvolumeclaims,
	&res_resourcequotas, &res_limitranges, &res_statefulsets, &res_daemonsets,
	&res_controllerrevisions, &res_jobs, &res_cronjobs, &res_poddisruptionbudgets,
	/* autoscaling: v2 first, it is the preferred (and storage) version as upstream. */
	&res_hpa_v2, &res_hpa_v1, &res_ingresses, &res_networkpolicies, &res_priorityclasses,
	&res_storageclasses, &res_events_v1, NULL,
};

/* Sets apiVersion/kind first, as Go prints them. */
static void set_type_meta(const res_desc *d, cJSON *obj)
{
	char apiv[96];
	cJSON_DeleteItemFromObjectCaseSensitive(obj, "apiVersion");
	cJSON_DeleteItemFromObjectCaseSensitive(obj, "kind");
	cJSON *kv = cJSON_CreateString(res_api_version(d, apiv, sizeof(apiv)));
	cJSON *kk = cJSON_CreateString(d->kind);
	cJSON_InsertItemInArray(obj, 0, kk);
	kk->string = strdup("kind");
	cJSON_InsertItemInArray(obj, 0, kv);
	kv->string = strdup("apiVersion");
}

int res_field_selector_to_storage(const res_desc *d, const char *in, char *out, size_t n)
{
	size_t o = 0;
	if (!in)
		in = "";
	if (n)
		out[0] = 0;
	while (*in) {
		const char *end = strchr(in, ',');
		size_t len = end ? (size_t)(end - in) : strlen(in);
		size_t kl = strcspn(in, "!=");
		if (kl > len)
			kl = len;
		char key[128];
		if (kl >= sizeof(key))
			return -1;
		memcpy(key, in, kl);
		key[kl] = 0;
		const char *mapped = d->field_label ? d->field_label(key) : key;
		int w = snprintf(out + o, n - o, "%s%s%.*s", o ? "," : "", mapped,
				 (int)(len - kl), in + kl);
		if (w < 0 || (size_t)w >= n - o)
			return -1;
		o += (size_t)w;
		in += len + (end ? 1 : 0);
	}
	return 0;
}

void res_view(const res_desc *d, cJSON *obj)
{
	if (!d->storage || !cJSON_IsObject(obj))
		return;
	const char *k = res_str(obj, "kind", "");
	if (!strcmp(k, d->storage->list_kind)) {
		cJSON *it;
		cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(obj, "items"))
			res_view(d, it);
		char apiv[96];
		cJSON_ReplaceItemInObjectCaseSensitive(obj, "kind", cJSON_CreateString(d->list_kind));
		cJSON_DeleteItemFromObjectCaseSensitive(obj, "apiVersion");
		cJSON_AddStringToObject(obj, "apiVersion", res_api_version(d, apiv, sizeof(apiv)));
		return;
	}
	if (k[0] && strcmp(k, d->storage->kind))
		return; /* a Status or a Table */
	char apiv[96];
	if (!strcmp(res_str(obj, "apiVersion", ""), res_api_version(d, apiv, sizeof(apiv))))
		return; /* already in d's version: conversions are not idempotent */
	if (d->from_storage)
		d->from_storage(obj);
	set_type_meta(d, obj);
}

void res_err(res_errs *e, const char *reason, const char *field, const char *fmt, ...)
{
	if (e->n >= (int)(sizeof(e->c) / sizeof(e->c[0])))
		return;
	res_cause *c = &e->c[e->n++];
	snprintf(c->reason, sizeof(c->reason), "%s", reason);
	snprintf(c->field, sizeof(c->field), "%s", field);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(c->message, sizeof(c->message), fmt, ap);
	va_end(ap);
}

const res_desc *res_find(const char *group, const char *version, const char *plural)
{
	for (int i = 0; res_all[i]; i++) {
		const res_desc *d = res_all[i];
		if (!strcmp(d->group, group) && !strcmp(d->version, version) &&
		    !strcmp(d->plural, plural))
			return d;
	}
	return NULL;
}

/* Appends s at *o in buf (size n > 0), truncating as snprintf does. */
static void av_put(char *buf, size_t n, size_t *o, const char *s)
{
	size_t l = strlen(s);
	if (l > n - 1 - *o)
		l = n - 1 - *o;
	memcpy(buf + *o, s, l);
	*o += l;
	buf[*o] = 0;
}

/* What snprintf("%s/%s") wrote, without its setup cost: called several times per write. */
const char *res_api_version(const res_desc *d, char *buf, size_t n)
{
	if (!n)
		return buf;
	size_t o = 0;
	if (d->group[0]) {
		av_put(buf, n, &o, d->group);
		av_put(buf, n, &o, "/");
	}
	av_put(buf, n, &o, d->version);
	return buf;
}

const char *res_qualified(const res_desc *d, char *buf, size_t n)
{
	if (!d->group[0])
		snprintf(buf, n, "%s", d->plural);
	else
		snprintf(buf, n, "%s.%s", d->plural, d->group);
	return buf;
}

cJSON *res_path(const cJSON *obj, const char *dotted)
{
	char key[128];
	const cJSON *cur = obj;
	while (cur && *dotted) {
		const char *dot = strchr(dotted, '.');
		size_t len = dot ? (size_t)(dot - dotted) : strlen(dotted);
		if (len >= sizeof(key))
			return NULL;
		memcpy(key, dotted, len);
		key[len] = 0;
		if (!cJSON_IsObject(cur))
			return NULL;
		cur = cJSON_GetObjectItemCaseSensitive(cur, key);
		dotted += len + (dot ? 1 : 0);
	}
	return (cJSON *)cur;
}

const char *res_str(const cJSON *obj, const char *dotted, const char *def)
{
	cJSON *v = res_path(obj, dotted);
	return cJSON_IsString(v) ? v->valuestring : def;
}

double res_num(const cJSON *obj, const char *dotted, double def)
{
	cJSON *v = res_path(obj, dotted);
	return cJSON_IsNumber(v) ? v->valuedouble : def;
}

cJSON *res_obj(cJSON *parent, const char *key)
{
	cJSON *v = cJSON_GetObjectItemCaseSensitive(parent, key);
	if (cJSON_IsObject(v))
		return v;
	if (v)
		cJSON_DeleteItemFromObjectCaseSensitive(parent, key);
	return cJSON_AddObjectToObject(parent, key);
}

void res_def_str(cJSON *parent, const char *key, const char *val)
{
	cJSON *v = cJSON_GetObjectItemCaseSensitive(parent, key);
	if (v && !cJSON_IsNull(v) && !(cJSON_IsString(v) && !v->valuestring[0]))
		return;
	if (v)
		cJSON_DeleteItemFromObjectCaseSensitive(parent, key);
	cJSON_AddStringToObject(parent, key, val);
}

void res_def_num(cJSON *parent, const char *key, double val)
{
	cJSON *v = cJSON_GetObjectItemCaseSensitive(parent, key);
	if (v && !cJSON_IsNull(v))
		return;
	if (v)
		cJSON_DeleteItemFromObjectCaseSensitive(parent, key);
	cJSON_AddNumberToObject(parent, key, val);
}

int64_t res_parse_time(const char *s)
{
	if (!s)
		return -1;
	struct tm tm;
	memset(&tm, 0, sizeof(tm));
	const char *p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	if (!p)
		return -1;
	if (*p == '.') {
		p++;
		while (isdigit((unsigned char)*p))
			p++;
	}
	int64_t off = 0;
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		int hh, mm;
		if (sscanf(p + 1, "%2d:%2d", &hh, &mm) != 2)
			return -1;
		off = (hh * 3600 + mm * 60) * (*p == '+' ? 1 : -1);
		p += 6;
	} else {
		return -1;
	}
	if (*p)
		return -1;
	return (int64_t)timegm(&tm) - off;
}

void res_fmt_time(int64_t t, char *buf, size_t n)
{
	time_t tt = (time_t)t;
	struct tm tm;
	gmtime_r(&tt, &tm);
	strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* apimachinery/pkg/util/duration.HumanDuration */
static void human_duration(int64_t seconds, char *buf, size_t n)
{
	if (seconds < -1) {
		snprintf(buf, n, "<invalid>");
		return;
	}
	if (seconds < 0)
		seconds = 0;
	if (seconds < 60 * 2) {
		snprintf(buf, n, "%llds", (long long)seconds);
		return;
	}
	long long minutes = seconds / 60;
	if (minutes < 10) {
		long long s = seconds % 60;
		if (s == 0)
			snprintf(buf, n, "%lldm", minutes);
		else
			snprintf(buf, n, "%lldm%llds", minutes, s);
		return;
	}
	if (minutes < 60 * 3) {
		snprintf(buf, n, "%lldm", minutes);
		return;
	}
	long long hours = seconds / 3600;
	if (hours < 8) {
		long long m = minutes % 60;
		if (m == 0)
			snprintf(buf, n, "%lldh", hours);
		else
			snprintf(buf, n, "%lldh%lldm", hours, m);
	} else if (hours < 48) {
		snprintf(buf, n, "%lldh", hours);
	} else if (hours < 24 * 8) {
		long long h = hours % 24;
		if (h == 0)
			snprintf(buf, n, "%lldd", hours / 24);
		else
			snprintf(buf, n, "%lldd%lldh", hours / 24, h);
	} else if (hours < 24 * 365 * 2) {
		snprintf(buf, n, "%lldd", hours / 24);
	} else if (hours < 24 * 365 * 8) {
		long long dy = (hours / 24) % 365;
		if (dy == 0)
			snprintf(buf, n, "%lldy", hours / 24 / 365);
		else
			snprintf(buf, n, "%lldy%lldd", hours / 24 / 365, dy);
	} else {
		snprintf(buf, n, "%lldy", hours / 24 / 365);
	}
}

void res_human_duration(int64_t seconds, char *buf, size_t n)
{
	human_duration(seconds, buf, n);
}

void res_age(const cJSON *obj, int64_t now_sec, char *buf, size_t n)
{
	int64_t t = res_parse_time(res_str(obj, "metadata.creationTimestamp", NULL));
	if (t < 0) {
		snprintf(buf, n, "<unknown>");
		return;
	}
	human_duration(now_sec - t, buf, n);
}

const char *res_none(const char *s)
{
	return (s && *s) ? s : "<none>";
}

void res_labels_str(const cJSON *map, char *buf, size_t n)
{
	size_t off = 0;
	buf[0] = 0;
	const cJSON *it;
	cJSON_ArrayForEach(it, map)
	{
		if (!cJSON_IsString(it) || !it->string)
			continue;
		int w = snprintf(buf + off, off < n ? n - off : 0, "%s%s=%s", off ? "," : "",
				 it->string, it->valuestring);
		if (w < 0 || off + (size_t)w >= n)
			break;
		off += (size_t)w;
	}
	if (!off)
		snprintf(buf, n, "<none>");
}

void res_selector_str(const cJSON *sel, char *buf, size_t n)
{
	/* metav1.FormatLabelSelector: matchLabels as k=v, expressions as "k in (a,b)". */
	size_t off = 0;
	buf[0] = 0;
	const cJSON *it;
	cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(sel, "matchLabels"))
	{
		if (!cJSON_IsString(it))
			continue;
		int w = snprintf(buf + off, off < n ? n - off : 0, "%s%s=%s", off ? "," : "",
				 it->string, it->valuestring);
		if (w < 0 || off + (size_t)w >= n)
			return;
		off += (size_t)w;
	}
	cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(sel, "matchExpressions"))
	{
		const char *k = res_str(it, "key", ""), *op = res_str(it, "operator", "");
		char vals[256] = "";
		size_t vo = 0;
		const cJSON *v;
		cJSON_ArrayForEach(v, cJSON_GetObjectItemCaseSensitive(it, "values"))
		{
			if (cJSON_IsString(v) && vo < sizeof(vals))
				vo += (size_t)snprintf(vals + vo, sizeof(vals) - vo, "%s%s",
						       vo ? "," : "", v->valuestring);
		}
		int w;
		if (!strcmp(op, "Exists"))
			w = snprintf(buf + off, n - off, "%s%s", off ? "," : "", k);
		else if (!strcmp(op, "DoesNotExist"))
			w = snprintf(buf + off, n - off, "%s!%s", off ? "," : "", k);
		else
			w = snprintf(buf + off, n - off, "%s%s %s (%s)", off ? "," : "", k,
				     !strcmp(op, "In") ? "in" : "notin", vals);
		if (w < 0 || off + (size_t)w >= n)
			return;
		off += (size_t)w;
	}
	if (!off)
		snprintf(buf, n, "<none>");
}

/* apimachinery validation.IsDNS1123Subdomain / IsDNS1123Label messages. */
#define DNS1123_LABEL_MSG                                                                      \
	"a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', " \
	"and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', " \
	"regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
#define DNS1123_SUBDOMAIN_MSG                                                                  \
	"a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' " \
	"or '.', and must start and end with an alphanumeric character (e.g. 'example.com', "   \
	"regex used for validation is "                                                          \
	"'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"

static int label_ok(const char *s, size_t len)
{
	if (!len)
		return 0;
	if (!isalnum((unsigned char)s[0]) || !isalnum((unsigned char)s[len - 1]))
		return 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (!(islower(c) || isdigit(c) || c == '-'))
			return 0;
	}
	return 1;
}

void res_validate_name(const char *name, int label, const char *field, res_errs *e)
{
	size_t len = strlen(name);
	size_t max = label ? 63 : 253;
	if (len > max)
		res_err(e, "FieldValueInvalid", field,
			"Invalid value: \"%.200s\": must be no more than %zu characters", name, max);
	int ok = 1;
	if (label) {
		ok = label_ok(name, len);
	} else {
		const char *p = name;
		while (ok) {
			const char *dot = strchr(p, '.');
			size_t l = dot ? (size_t)(dot - p) : strlen(p);
			ok = label_ok(p, l);
			if (!dot)
				break;
			p = dot + 1;
		}
	}
	if (!ok)
		res_err(e, "FieldValueInvalid", field, "Invalid value: \"%.200s\": %s", name,
			label ? DNS1123_LABEL_MSG : DNS1123_SUBDOMAIN_MSG);
}

void res_cell_age(const cJSON *obj, cJSON *cells, int64_t now_sec)
{
	char age[32];
	res_age(obj, now_sec, age, sizeof(age));
	RES_CELL_S(cells, age);
}
