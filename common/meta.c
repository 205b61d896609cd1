/* Object metadata accessors, UIDs, generateName and RFC 3339 times (see meta.h). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"
#include "json.h"
#include "meta.h"

/* ------------------------------------------------------------------------------ */
/* metadata object helpers                                                        */
/* ------------------------------------------------------------------------------ */

static cJSON *meta_of(const cJSON *obj)
{
	cJSON *m = cJSON_IsObject(obj) ? cJSON_GetObjectItemCaseSensitive(obj, "metadata") : NULL;
	return cJSON_IsObject(m) ? m : NULL;
}

/* The metadata object, created if absent. NULL with *rc set on failure. */
static cJSON *meta_ensure(cJSON *obj, int *rc)
{
	if (!cJSON_IsObject(obj)) {
		*rc = -EINVAL;
		return NULL;
	}
	cJSON *m = cJSON_GetObjectItemCaseSensitive(obj, "metadata");
	if (m) {
		if (!cJSON_IsObject(m)) {
			*rc = -EINVAL;
			return NULL;
		}
		return m;
	}
	m = cJSON_CreateObject();
	if (!m || !cJSON_AddItemToObject(obj, "metadata", m)) {
		cJSON_Delete(m);
		*rc = -ENOMEM;
		return NULL;
	}
	return m;
}

/* Replace or add member key of parent with item (taken on success). */
static int put_member(cJSON *parent, const char *key, cJSON *item)
{
	if (!item)
		return -ENOMEM;
	int ok = cJSON_GetObjectItemCaseSensitive(parent, key)
			 ? cJSON_ReplaceItemInObjectCaseSensitive(parent, key, item)
			 : cJSON_AddItemToObject(parent, key, item);
	if (!ok) {
		cJSON_Delete(item);
		return -ENOMEM;
	}
	return 0;
}

static const char *meta_str(const cJSON *obj, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(meta_of(obj), key);
	return cJSON_IsString(v) && v->valuestring ? v->valuestring : "";
}

/* As Unstructured.SetX: an empty value removes the field. */
static int meta_set_str(cJSON *obj, const char *key, const char *v)
{
	int rc = 0;
	if (!v || !*v) {
		if (!cJSON_IsObject(obj))
			return -EINVAL;
		cJSON *m = meta_of(obj);
		if (m)
			cJSON_DeleteItemFromObjectCaseSensitive(m, key);
		return 0;
	}
	cJSON *m = meta_ensure(obj, &rc);
	if (!m)
		return rc;
	return put_member(m, key, cJSON_CreateString(v));
}

const char *kc_meta_name(const cJSON *obj) { return meta_str(obj, "name"); }
const char *kc_meta_generate_name(const cJSON *obj) { return meta_str(obj, "generateName"); }
const char *kc_meta_namespace(const cJSON *obj) { return meta_str(obj, "namespace"); }
const char *kc_meta_uid(const cJSON *obj) { return meta_str(obj, "uid"); }
const char *kc_meta_resource_version(const cJSON *obj) { return meta_str(obj, "resourceVersion"); }
const char *kc_meta_creation_timestamp(const cJSON *obj)
{
	return meta_str(obj, "creationTimestamp");
}
const char *kc_meta_deletion_timestamp(const cJSON *obj)
{
	return meta_str(obj, "deletionTimestamp");
}

int kc_meta_set_name(cJSON *obj, const char *v) { return meta_set_str(obj, "name", v); }
int kc_meta_set_generate_name(cJSON *obj, const char *v)
{
	return meta_set_str(obj, "generateName", v);
}
int kc_meta_set_namespace(cJSON *obj, const char *v) { return meta_set_str(obj, "namespace", v); }
int kc_meta_set_uid(cJSON *obj, const char *v) { return meta_set_str(obj, "uid", v); }
int kc_meta_set_resource_version(cJSON *obj, const char *v)
{
	return meta_set_str(obj, "resourceVersion", v);
}

int64_t kc_meta_generation(const cJSON *obj)
{
	int64_t v;
	const cJSON *g = cJSON_GetObjectItemCaseSensitive(meta_of(obj), "generation");
	return kc_json_item_int64(g, &v) == 0 ? v : 0;
}

int kc_meta_set_generation(cJSON *obj, int64_t v)
{
	int rc = 0;
	cJSON *m = meta_ensure(obj, &rc);
	if (!m)
		return rc;
	return put_member(m, "generation", kc_json_new_int64(v));
}

static int get_time(const cJSON *obj, const char *key, int64_t *ns)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(meta_of(obj), key);
	if (!v || cJSON_IsNull(v))
		return KC_ENOTFOUND;
	if (!cJSON_IsString(v) || !v->valuestring)
		return KC_EPARSE;
	return kc_meta_time_parse(v->valuestring, ns);
}

static int set_time(cJSON *obj, const char *key, int64_t ns)
{
	char buf[KC_TIME_BUFLEN];
	if (ns < 0)
		return meta_set_str(obj, key, NULL);
	int n = kc_meta_time_format(ns, buf, sizeof(buf));
	if (n < 0)
		return n;
	return meta_set_str(obj, key, buf);
}

int kc_meta_get_creation_time(const cJSON *obj, int64_t *ns)
{
	return get_time(obj, "creationTimestamp", ns);
}
int kc_meta_get_deletion_time(const cJSON *obj, int64_t *ns)
{
	return get_time(obj, "deletionTimestamp", ns);
}
int kc_meta_set_creation_time(cJSON *obj, int64_t ns)
{
	return set_time(obj, "creationTimestamp", ns);
}
int kc_meta_set_deletion_time(cJSON *obj, int64_t ns)
{
	return set_time(obj, "deletionTimestamp", ns);
}

/* ------------------------------------------------------------------------------ */
/* labels / annotations                                                           */
/* ------------------------------------------------------------------------------ */

static cJSON *map_of(const cJSON *obj, const char *field)
{
	cJSON *m = cJSON_GetObjectItemCaseSensitive(meta_of(obj), field);
	return cJSON_IsObject(m) ? m : NULL;
}

static const char *map_get(const cJSON *obj, const char *field, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(map_of(obj, field), key ? key : "");
	return cJSON_IsString(v) && v->valuestring ? v->valuestring : NULL;
}

static int map_set(cJSON *obj, const char *field, const char *key, const char *value)
{
	int rc = 0;
	if (!key || !value)
		return -EINVAL;
	cJSON *m = meta_ensure(obj, &rc);
	if (!m)
		return rc;
	cJSON *map = cJSON_GetObjectItemCaseSensitive(m, field);
	if (map && !cJSON_IsObject(map)) {
		if (!cJSON_IsNull(map))
			return -EINVAL;
		cJSON_DeleteItemFromObjectCaseSensitive(m, field);
		map = NULL;
	}
	if (!map) {
		map = cJSON_CreateObject();
		if (!map || !cJSON_AddItemToObject(m, field, map)) {
			cJSON_Delete(map);
			return -ENOMEM;
		}
	}
	return put_member(map, key, cJSON_CreateString(value));
}

static int map_remove(cJSON *obj, const char *field, const char *key)
{
	cJSON *map = map_of(obj, field);
	if (!key || !cJSON_GetObjectItemCaseSensitive(map, key))
		return KC_ENOTFOUND;
	cJSON_DeleteItemFromObjectCaseSensitive(map, key);
	/* Typed objects omit an empty map (omitempty); do the same. */
	if (!map->child)
		cJSON_DeleteItemFromObjectCaseSensitive(meta_of(obj), field);
	return 0;
}

cJSON *kc_meta_labels(const cJSON *obj) { return map_of(obj, "labels"); }
cJSON *kc_meta_annotations(const cJSON *obj) { return map_of(obj, "annotations"); }
const char *kc_meta_label(const cJSON *obj, const char *key) { return map_get(obj, "labels", key); }
const char *kc_meta_annotation(const cJSON *obj, const char *key)
{
	return map_get(obj, "annotations", key);
}
int kc_meta_set_label(cJSON *obj, const char *key, const char *value)
{
	return map_set(obj, "labels", key, value);
}
int kc_meta_set_annotation(cJSON *obj, const char *key, const char *value)
{
	return map_set(obj, "annotations", key, value);
}
int kc_meta_remove_label(cJSON *obj, const char *key) { return map_remove(obj, "labels", key); }
int kc_meta_remove_annotation(cJSON *obj, const char *key)
{
	return map_remove(obj, "annotations", key);
}

/* ------------------------------------------------------------------------------ */
/* ownerReferences                                                                */
/* ------------------------------------------------------------------------------ */

cJSON *kc_meta_owner_refs(const cJSON *obj)
{
	cJSON *a = cJSON_GetObjectItemCaseSensitive(meta_of(obj), "ownerReferences");
	return cJSON_IsArray(a) ? a : NULL;
}

static const char *str_field(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
	return cJSON_IsString(v) && v->valuestring ? v->valuestring : NULL;
}

cJSON *kc_meta_controller_ref(const cJSON *obj)
{
	cJSON *ref;
	cJSON_ArrayForEach(ref, kc_meta_owner_refs(obj))
	{
		if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(ref, "controller")))
			return ref;
	}
	return NULL;
}

int kc_meta_owner_ref_read(const cJSON *ref, kc_owner_ref *out)
{
	if (!cJSON_IsObject(ref) || !out)
		return -EINVAL;
	out->api_version = str_field(ref, "apiVersion");
	out->kind = str_field(ref, "kind");
	out->name = str_field(ref, "name");
	out->uid = str_field(ref, "uid");
	out->controller = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(ref, "controller"));
	out->block_owner_deletion =
		cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(ref, "blockOwnerDeletion"));
	if (!out->api_version || !out->kind || !out->name || !out->uid)
		return -EINVAL;
	return 0;
}

static cJSON *owner_ref_new(const kc_owner_ref *r)
{
	/* Field order as upstream's OwnerReference serialises. */
	cJSON *o = cJSON_CreateObject();
	if (!o)
		return NULL;
	if (!cJSON_AddStringToObject(o, "apiVersion", r->api_version) ||
	    !cJSON_AddStringToObject(o, "kind", r->kind) ||
	    !cJSON_AddStringToObject(o, "name", r->name) ||
	    !cJSON_AddStringToObject(o, "uid", r->uid) ||
	    (r->controller && !cJSON_AddTrueToObject(o, "controller")) ||
	    (r->block_owner_deletion && !cJSON_AddTrueToObject(o, "blockOwnerDeletion"))) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

int kc_meta_add_owner_ref(cJSON *obj, const kc_owner_ref *ref)
{
	int rc = 0;
	if (!ref || !ref->api_version || !*ref->api_version || !ref->kind || !*ref->kind ||
	    !ref->name || !*ref->name || !ref->uid || !*ref->uid)
		return KC_EINVALID;
	cJSON *refs = kc_meta_owner_refs(obj), *same = NULL, *r;
	cJSON_ArrayForEach(r, refs)
	{
		const char *uid = str_field(r, "uid");
		if (uid && strcmp(uid, ref->uid) == 0) {
			same = r;
			continue;
		}
		/* apiserver: "Only one reference can have Controller set to true". */
		if (ref->controller && cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(r, "controller")))
			return KC_EINVALID;
	}
	cJSON *m = meta_ensure(obj, &rc);
	if (!m)
		return rc;
	cJSON *item = owner_ref_new(ref);
	if (!item)
		return -ENOMEM;
	if (same)
		return cJSON_ReplaceItemViaPointer(refs, same, item) ? 0 : -ENOMEM;
	if (!refs) {
		cJSON *old = cJSON_GetObjectItemCaseSensitive(m, "ownerReferences");
		if (old && !cJSON_IsNull(old)) {
			cJSON_Delete(item);
			return -EINVAL;
		}
		refs = cJSON_CreateArray();
		if (!refs || put_member(m, "ownerReferences", refs)) {
			cJSON_Delete(item);
			return -ENOMEM;
		}
	}
	if (!cJSON_AddItemToArray(refs, item)) {
		cJSON_Delete(item);
		return -ENOMEM;
	}
	return 0;
}

int kc_meta_remove_owner_ref(cJSON *obj, const char *uid)
{
	cJSON *refs = kc_meta_owner_refs(obj), *r;
	if (!uid)
		return KC_ENOTFOUND;
	cJSON_ArrayForEach(r, refs)
	{
		const char *u = str_field(r, "uid");
		if (u && strcmp(u, uid) == 0) {
			cJSON_Delete(cJSON_DetachItemViaPointer(refs, r));
			if (!refs->child)
				cJSON_DeleteItemFromObjectCaseSensitive(meta_of(obj), "ownerReferences");
			return 0;
		}
	}
	return KC_ENOTFOUND;
}

bool kc_meta_is_owned_by(const cJSON *obj, const char *uid)
{
	cJSON *r;
	if (!uid)
		return false;
	cJSON_ArrayForEach(r, kc_meta_owner_refs(obj))
	{
		const char *u = str_field(r, "uid");
		if (u && strcmp(u, uid) == 0)
			return true;
	}
	return false;
}

/* ------------------------------------------------------------------------------ */
/* finalizers                                                                     */
/* ------------------------------------------------------------------------------ */

static cJSON *finalizers_of(const cJSON *obj)
{
	cJSON *a = cJSON_GetObjectItemCaseSensitive(meta_of(obj), "finalizers");
	return cJSON_IsArray(a) ? a : NULL;
}

bool kc_meta_has_finalizer(const cJSON *obj, const char *name)
{
	cJSON *f;
	if (!name)
		return false;
	cJSON_ArrayForEach(f, finalizers_of(obj))
	{
		if (cJSON_IsString(f) && f->valuestring && strcmp(f->valuestring, name) == 0)
			return true;
	}
	return false;
}

int kc_meta_add_finalizer(cJSON *obj, const char *name)
{
	int rc = 0;
	if (!name || !*name)
		return -EINVAL;
	if (kc_meta_has_finalizer(obj, name))
		return 0;
	cJSON *m = meta_ensure(obj, &rc);
	if (!m)
		return rc;
	cJSON *arr = finalizers_of(obj);
	if (!arr) {
		cJSON *old = cJSON_GetObjectItemCaseSensitive(m, "finalizers");
		if (old && !cJSON_IsNull(old))
			return -EINVAL;
		arr = cJSON_CreateArray();
		if (!arr || put_member(m, "finalizers", arr))
			return -ENOMEM;
	}
	cJSON *s = cJSON_CreateString(name);
	if (!s || !cJSON_AddItemToArray(arr, s)) {
		cJSON_Delete(s);
		return -ENOMEM;
	}
	return 0;
}

int kc_meta_remove_finalizer(cJSON *obj, const char *name)
{
	cJSON *arr = finalizers_of(obj);
	int removed = 0;
	if (!arr || !name)
		return KC_ENOTFOUND;
	cJSON *f = arr->child;
	while (f) {
		cJSON *next = f->next;
		if (cJSON_IsString(f) && f->valuestring && strcmp(f->valuestring, name) == 0) {
			cJSON_Delete(cJSON_DetachItemViaPointer(arr, f));
			removed = 1;
		}
		f = next;
	}
	if (!removed)
		return KC_ENOTFOUND;
	if (!arr->child)
		cJSON_DeleteItemFromObjectCaseSensitive(meta_of(obj), "finalizers");
	return 0;
}

/* ------------------------------------------------------------------------------ */
/* identifiers                                                                    */
/* ------------------------------------------------------------------------------ */

void kc_meta_uuid_v4(kc_clock_t *clock, char out[KC_UUID_LEN + 1])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char b[16];
	uint64_t hi = kc_rand64(clock), lo = kc_rand64(clock);
	for (int i = 0; i < 8; i++) {
		b[i] = (unsigned char)(hi >> (56 - 8 * i));
		b[8 + i] = (unsigned char)(lo >> (56 - 8 * i));
	}
	b[6] = (unsigned char)((b[6] & 0x0F) | 0x40); /* version 4 */
	b[8] = (unsigned char)((b[8] & 0x3F) | 0x80); /* RFC 4122 variant */
	size_t o = 0;
	for (int i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			out[o++] = '-';
		out[o++] = hex[b[i] >> 4];
		out[o++] = hex[b[i] & 15];
	}
	out[o] = '\0';
}

int kc_meta_generate_name_suffix(kc_clock_t *clock, const char *base, char *out, size_t outlen)
{
	/* k8s.io/apimachinery/pkg/util/rand: consonants and digits that cannot spell
	 * words (no vowels, no 0/1/3 lookalikes). */
	static const char alphanums[] = "bcdfghjklmnpqrstvwxz2456789";
	size_t blen = base ? strlen(base) : 0;
	if (blen > KC_GENERATE_NAME_MAX_BASE)
		blen = KC_GENERATE_NAME_MAX_BASE;
	if (!out || outlen < blen + KC_GENERATE_NAME_RANDOM + 1)
		return -ENOSPC;
	if (blen)
		memcpy(out, base, blen);
	for (int i = 0; i < KC_GENERATE_NAME_RANDOM; i++)
		out[blen + (size_t)i] = alphanums[kc_rand64(clock) % (sizeof(alphanums) - 1)];
	out[blen + KC_GENERATE_NAME_RANDOM] = '\0';
	return 0;
}

/* ------------------------------------------------------------------------------ */
/* RFC 3339 times                                                                 */
/* ------------------------------------------------------------------------------ */

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
	z += 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	int64_t doe = z - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = yoe + era * 400 + (*m <= 2);
}

static int is_leap(int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

static int digits(const char *s, int n, int *out)
{
	int v = 0;
	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 0;
}

int kc_meta_time_parse(const char *s, int64_t *ns)
{
	static const int mdays[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	int Y, M, D, h, mi, sec;
	if (!s || strlen(s) < 20)
		return KC_EPARSE;
	if (digits(s, 4, &Y) || s[4] != '-' || digits(s + 5, 2, &M) || s[7] != '-' ||
	    digits(s + 8, 2, &D) || s[10] != 'T' || digits(s + 11, 2, &h) || s[13] != ':' ||
	    digits(s + 14, 2, &mi) || s[16] != ':' || digits(s + 17, 2, &sec))
		return KC_EPARSE;
	if (M < 1 || M > 12 || h > 23 || mi > 59 || sec > 59 || D < 1)
		return KC_EPARSE;
	if (D > mdays[M - 1] + (M == 2 && is_leap(Y)))
		return KC_EPARSE;
	const char *p = s + 19;
	int64_t frac = 0;
	if (*p == '.') {
		int nd = 0;
		p++;
		while (*p >= '0' && *p <= '9') {
			if (nd < 9) {
				frac = frac * 10 + (*p - '0');
				nd++;
			}
			p++;
		}
		if (nd == 0)
			return KC_EPARSE;
		for (int i = nd; i < 9; i++)
			frac *= 10;
	}
	int off = 0;
	if (*p == 'Z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		int oh, om;
		if (digits(p + 1, 2, &oh) || p[3] != ':' || digits(p + 4, 2, &om) || oh > 23 || om > 59)
			return KC_EPARSE;
		off = (oh * 60 + om) * 60 * (*p == '-' ? -1 : 1);
		p += 6;
	} else {
		return KC_EPARSE;
	}
	if (*p)
		return KC_EPARSE;
	int64_t secs = days_from_civil(Y, M, D) * 86400 + h * 3600 + mi * 60 + sec - off;
	/* int64 nanoseconds cover 1677-09-21 .. 2262-04-11. */
	if (secs < -9223372035LL || secs > 9223372035LL)
		return KC_EPARSE;
	if (ns)
		*ns = secs * 1000000000LL + frac;
	return 0;
}

static int format_time(int64_t ns, int micro, char *buf, size_t buflen)
{
	int64_t secs = ns / 1000000000LL, sub = ns % 1000000000LL;
	if (sub < 0) {
		sub += 1000000000LL;
		secs--;
	}
	int64_t days = secs / 86400, rem = secs % 86400;
	if (rem < 0) {
		rem += 86400;
		days--;
	}
	int64_t y;
	int m, d;
	civil_from_days(days, &y, &m, &d);
	if (buflen < (size_t)(micro ? 28 : 21))
		return -ENOSPC; /* too short for any year, as snprintf's check below says */
	if (y >= 0 && y <= 9999) {
		/* The same bytes as the snprintf below, written directly: every create and
		 * binding stamps a time, and snprintf's setup cost showed in the profile. */
		int f[6] = { (int)(y / 100), (int)(y % 100), m, d, (int)(rem / 3600),
			     (int)(rem / 60 % 60) };
		static const char sep[] = "\0--T:";
		char *p = buf;
		for (int i = 0; i < 6; i++) {
			*p++ = (char)('0' + f[i] / 10);
			*p++ = (char)('0' + f[i] % 10);
			if (sep[i])
				*p++ = sep[i];
		}
		*p++ = ':';
		*p++ = (char)('0' + (int)(rem % 60) / 10);
		*p++ = (char)('0' + (int)(rem % 60) % 10);
		if (micro) {
			int us = (int)(sub / 1000);
			*p++ = '.';
			for (int k = 5; k >= 0; k--, us /= 10)
				p[k] = (char)('0' + us % 10);
			p += 6;
		}
		*p++ = 'Z';
		*p = 0;
		return (int)(p - buf);
	}
	int n;
	if (micro)
		n = snprintf(buf, buflen, "%04" PRId64 "-%02d-%02dT%02d:%02d:%02d.%06dZ", y, m, d,
			     (int)(rem / 3600), (int)(rem / 60 % 60), (int)(rem % 60),
			     (int)(sub / 1000));
	else
		n = snprintf(buf, buflen, "%04" PRId64 "-%02d-%02dT%02d:%02d:%02dZ", y, m, d,
			     (int)(rem / 3600), (int)(rem / 60 % 60), (int)(rem % 60));
	if (n < 0 || (size_t)n >= buflen)
		return -ENOSPC;
	return n;
}

int kc_meta_time_format(int64_t ns, char *buf, size_t buflen)
{
	return format_time(ns, 0, buf, buflen);
}
int kc_meta_microtime_format(int64_t ns, char *buf, size_t buflen)
{
	return format_time(ns, 1, buf, buflen);
}
