/* Helpers of the Deployment controller: upstream's util/deployment_util.go (hash,
 * fenceposts, revisions, conditions) and controller_utils.go sort orders. */
#include "deployment.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"
#include "json.h"
#include "meta.h"

/* k8s.io/apimachinery/pkg/util/rand: consonants and digits that cannot spell words */
static const char alphanums[] = "bcdfghjklmnpqrstvwxz2456789";

void dc_safe_encode(const char *s, char *out, size_t outlen)
{
	size_t i = 0;
	for (; s[i] && i + 1 < outlen; i++)
		out[i] = alphanums[(unsigned char)s[i] % (sizeof(alphanums) - 1)];
	if (outlen)
		out[i] = 0;
}

static uint32_t fnv32a(uint32_t h, const unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		h ^= p[i];
		h *= 16777619u;
	}
	return h;
}

void dc_compute_hash(const cJSON *template, int64_t collision_count, char out[16])
{
	uint32_t h = 2166136261u;
	cJSON *t = kc_json_dup(template);
	cm_json_normalize(t);
	char *s = kc_json_print_canonical(t);
	cJSON_Delete(t);
	if (s) {
		h = fnv32a(h, (const unsigned char *)s, strlen(s));
		free(s);
	}
	if (collision_count >= 0) {
		/* binary.LittleEndian.PutUint32 into an 8-byte slice, all 8 hashed */
		unsigned char b[8] = { 0 };
		uint32_t cc = (uint32_t)collision_count;
		for (int i = 0; i < 4; i++)
			b[i] = (unsigned char)(cc >> (8 * i));
		h = fnv32a(h, b, sizeof(b));
	}
	char dec[16];
	snprintf(dec, sizeof(dec), "%u", h);
	dc_safe_encode(dec, out, 16);
}

int dc_scaled_value(const cJSON *v, const char *def, int64_t total, bool round_up,
		    int64_t *out)
{
	const char *s = def;
	if (v && kc_json_is_number(v)) {
		if (kc_json_item_int64(v, out) < 0)
			return -EINVAL;
		return 0;
	}
	if (v && cJSON_IsString(v))
		s = v->valuestring;
	else if (v && !cJSON_IsNull(v))
		return -EINVAL;
	if (!s)
		return -EINVAL;
	size_t n = strlen(s);
	if (n < 2 || s[n - 1] != '%')
		return -EINVAL;
	char *end;
	long long p = strtoll(s, &end, 10);
	if (end != s + n - 1 || p < 0)
		return -EINVAL;
	/* math.Ceil / math.Floor of value*total/100 */
	*out = round_up ? (p * total + 99) / 100 : (p * total) / 100;
	return 0;
}

bool dc_is_rolling(const cJSON *d)
{
	return !strcmp(kc_json_get_string(d, "spec.strategy.type", "RollingUpdate"),
		       "RollingUpdate");
}

int64_t dc_replicas(const cJSON *d)
{
	return cm_int(d, "spec.replicas", 1);
}

int dc_fenceposts(const cJSON *d, int64_t *surge, int64_t *unavailable)
{
	int64_t desired = dc_replicas(d);
	const cJSON *ru = kc_json_get(d, "spec.strategy.rollingUpdate");
	int rc = dc_scaled_value(kc_json_get(ru, "maxSurge"), "25%", desired, true, surge);
	if (rc == 0)
		rc = dc_scaled_value(kc_json_get(ru, "maxUnavailable"), "25%", desired, false,
				     unavailable);
	if (rc < 0) {
		*surge = 0;
		*unavailable = 1;
		return rc;
	}
	if (*surge == 0 && *unavailable == 0)
		*unavailable = 1; /* else the rollout could never progress */
	return 0;
}

int64_t dc_max_surge(const cJSON *d)
{
	if (!dc_is_rolling(d))
		return 0;
	int64_t s, u;
	dc_fenceposts(d, &s, &u);
	return s;
}

int64_t dc_max_unavailable(const cJSON *d)
{
	if (!dc_is_rolling(d) || dc_replicas(d) == 0)
		return 0;
	int64_t s, u;
	dc_fenceposts(d, &s, &u);
	return u > dc_replicas(d) ? dc_replicas(d) : u;
}

int64_t dc_revision(const cJSON *rs)
{
	const char *v = kc_meta_annotation(rs, DC_REVISION_ANNOTATION);
	if (!v || !*v)
		return 0;
	char *end;
	long long x = strtoll(v, &end, 10);
	return *end || x < 0 ? 0 : x;
}

bool dc_templates_equal(const cJSON *a, const cJSON *b)
{
	cJSON *x = kc_json_dup(a), *y = kc_json_dup(b);
	if (x) {
		kc_meta_remove_label(x, DC_HASH_LABEL);
		cm_json_normalize(x);
	}
	if (y) {
		kc_meta_remove_label(y, DC_HASH_LABEL);
		cm_json_normalize(y);
	}
	bool eq = kc_json_equal(x, y);
	cJSON_Delete(x);
	cJSON_Delete(y);
	return eq;
}

cJSON *dc_get_condition(const cJSON *status, const char *type)
{
	const cJSON *c;
	cJSON_ArrayForEach(c, kc_json_get(status, "conditions"))
	{
		if (!strcmp(kc_json_get_string(c, "type", ""), type))
			return (cJSON *)c;
	}
	return NULL;
}

void dc_remove_condition(cJSON *status, const char *type)
{
	cJSON *conds = cJSON_GetObjectItemCaseSensitive(status, "conditions");
	cJSON *c = dc_get_condition(status, type);
	if (c)
		cJSON_Delete(cJSON_DetachItemViaPointer(conds, c));
	if (conds && !cJSON_GetArraySize(conds))
		cJSON_DeleteItemFromObjectCaseSensitive(status, "conditions");
}

bool dc_set_condition(cJSON *status, const char *type, const char *cstatus,
		      const char *reason, const char *message, int64_t now_ns)
{
	cJSON *cur = dc_get_condition(status, type);
	if (cur && !strcmp(kc_json_get_string(cur, "status", ""), cstatus) &&
	    !strcmp(kc_json_get_string(cur, "reason", ""), reason))
		return false;
	char now[KC_TIME_BUFLEN], ltt[KC_TIME_BUFLEN];
	kc_meta_time_format(now_ns, now, sizeof(now));
	snprintf(ltt, sizeof(ltt), "%s", now);
	if (cur && !strcmp(kc_json_get_string(cur, "status", ""), cstatus))
		snprintf(ltt, sizeof(ltt), "%s",
			 kc_json_get_string(cur, "lastTransitionTime", now));
	cJSON *c = cJSON_CreateObject();
	cJSON_AddStringToObject(c, "type", type);
	cJSON_AddStringToObject(c, "status", cstatus);
	cJSON_AddStringToObject(c, "lastUpdateTime", now);
	cJSON_AddStringToObject(c, "lastTransitionTime", ltt);
	cJSON_AddStringToObject(c, "reason", reason);
	cJSON_AddStringToObject(c, "message", message);
	dc_remove_condition(status, type);
	cJSON *conds = cJSON_GetObjectItemCaseSensitive(status, "conditions");
	if (!conds)
		conds = cJSON_AddArrayToObject(status, "conditions");
	cJSON_AddItemToArray(conds, c);
	return true;
}

int64_t dc_sum(cJSON *const *rss, int n, const char *path)
{
	int64_t s = 0;
	for (int i = 0; i < n; i++)
		if (rss[i])
			s += cm_int(rss[i], path, 0);
	return s;
}

static int64_t ctime_of(const cJSON *o)
{
	int64_t t = 0;
	kc_meta_get_creation_time(o, &t);
	return t;
}

/* ReplicaSetsByCreationTimestamp: older first, name breaks ties */
static int by_creation(const void *x, const void *y)
{
	const cJSON *a = *(cJSON *const *)x, *b = *(cJSON *const *)y;
	int64_t ta = ctime_of(a), tb = ctime_of(b);
	if (ta != tb)
		return ta < tb ? -1 : 1;
	return strcmp(kc_meta_name(a), kc_meta_name(b));
}

static int by_creation_rev(const void *x, const void *y)
{
	return -by_creation(x, y);
}

void dc_sort_by_creation(cJSON **rss, int n, bool newest_first)
{
	qsort(rss, (size_t)n, sizeof(*rss), newest_first ? by_creation_rev : by_creation);
}

/* ReplicaSetsByRevision: lower revision first, creation order on ties */
static int by_revision(const void *x, const void *y)
{
	const cJSON *a = *(cJSON *const *)x, *b = *(cJSON *const *)y;
	int64_t ra = dc_revision(a), rb = dc_revision(b);
	if (ra != rb)
		return ra < rb ? -1 : 1;
	return by_creation(x, y);
}

void dc_sort_by_revision(cJSON **rss, int n)
{
	qsort(rss, (size_t)n, sizeof(*rss), by_revision);
}

/* ReplicaSetsBySizeNewer / BySizeOlder: larger first; ties newer (or older) first */
static int by_size_newer(const void *x, const void *y)
{
	const cJSON *a = *(cJSON *const *)x, *b = *(cJSON *const *)y;
	int64_t sa = cm_int(a, "spec.replicas", 0), sb = cm_int(b, "spec.replicas", 0);
	if (sa != sb)
		return sa > sb ? -1 : 1;
	return by_creation_rev(x, y);
}

static int by_size_older(const void *x, const void *y)
{
	const cJSON *a = *(cJSON *const *)x, *b = *(cJSON *const *)y;
	int64_t sa = cm_int(a, "spec.replicas", 0), sb = cm_int(b, "spec.replicas", 0);
	if (sa != sb)
		return sa > sb ? -1 : 1;
	return by_creation(x, y);
}

void dc_sort_by_size(cJSON **rss, int n, bool newer_first_on_tie)
{
	qsort(rss, (size_t)n, sizeof(*rss), newer_first_on_tie ? by_size_newer : by_size_older);
}

bool dc_complete(const cJSON *d, const cJSON *st)
{
	int64_t r = dc_replicas(d);
	return cm_int(st, "updatedReplicas", 0) == r && cm_int(st, "replicas", 0) == r &&
	       cm_int(st, "availableReplicas", 0) == r &&
	       cm_int(st, "observedGeneration", 0) >= kc_meta_generation(d);
}
