/* ResourceQuota admission and usage; see admission_quota.h. */
#include "admission_quota.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "quantity.h"
#include "status.h"

/* The resource names that make quota require an explicit container request/limit
 * (podEvaluator.Constraints' validationSet). */
static const char *const pod_compute[] = { "cpu", "memory", "requests.cpu", "requests.memory",
					   "limits.cpu", "limits.memory", NULL };

static int is_pod_compute(const char *rn)
{
	for (int i = 0; pod_compute[i]; i++)
		if (!strcmp(rn, pod_compute[i]))
			return 1;
	return 0;
}

/* Is an object of kind d charged for resource name rn at all (whatever its content)? */
static int charges(const res_desc *d, const char *rn)
{
	char cnt[200];
	if (d->group[0])
		snprintf(cnt, sizeof(cnt), "count/%s.%s", d->plural, d->group);
	else
		snprintf(cnt, sizeof(cnt), "count/%s", d->plural);
	if (!strcmp(rn, cnt))
		return 1;
	if (d->group[0])
		return 0;
	static const char *const legacy[] = { "pods", "services", "configmaps", "secrets",
					      "persistentvolumeclaims", "resourcequotas",
					      "replicationcontrollers", NULL };
	for (int i = 0; legacy[i]; i++)
		if (!strcmp(rn, legacy[i]) && !strcmp(d->plural, rn))
			return 1;
	if (d == &res_services)
		return !strcmp(rn, "services.nodeports") || !strcmp(rn, "services.loadbalancers");
	if (d == &res_persistentvolumeclaims)
		return !strcmp(rn, "requests.storage");
	if (d == &res_pods)
		return is_pod_compute(rn);
	return 0;
}

/* Sum of the containers' resources.<part>[res], max'd with each init container's
 * (PodUsageFunc / resourcehelper.PodRequests without overhead). */
static kc_quantity pod_sum(const cJSON *pod, const char *part, const char *res)
{
	kc_quantity sum = kc_quantity_from_int(0, KC_QUANTITY_DECIMAL_SI), q;
	char err[KC_QUANTITY_ERRLEN], path[64];
	snprintf(path, sizeof(path), "resources.%s", part);
	const cJSON *c;
	cJSON_ArrayForEach(c, res_path(pod, "spec.containers"))
	{
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(res_path(c, path), res);
		if (v && !kc_quantity_from_json(v, &q, err, sizeof(err)))
			kc_quantity_add(&sum, &q);
	}
	cJSON_ArrayForEach(c, res_path(pod, "spec.initContainers"))
	{
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(res_path(c, path), res);
		if (v && !kc_quantity_from_json(v, &q, err, sizeof(err)) &&
		    kc_quantity_cmp(&q, &sum) > 0)
			sum = q;
	}
	return sum;
}

/* obj's usage of rn (charges(d, rn) must hold). */
static kc_quantity usage(const res_desc *d, const cJSON *obj, const char *rn)
{
	kc_quantity one = kc_quantity_from_int(1, KC_QUANTITY_DECIMAL_SI);
	kc_quantity zero = kc_quantity_from_int(0, KC_QUANTITY_DECIMAL_SI);
	if (d == &res_services && !strcmp(rn, "services.nodeports")) {
		const char *type = kc_json_get_string(obj, "spec.type", "ClusterIP");
		if (strcmp(type, "NodePort") && strcmp(type, "LoadBalancer"))
			return zero;
		return kc_quantity_from_int(cJSON_GetArraySize(res_path(obj, "spec.ports")),
					    KC_QUANTITY_DECIMAL_SI);
	}
	if (d == &res_services && !strcmp(rn, "services.loadbalancers"))
		return strcmp(kc_json_get_string(obj, "spec.type", ""), "LoadBalancer") ? zero : one;
	if (d == &res_persistentvolumeclaims && !strcmp(rn, "requests.storage")) {
		kc_quantity q;
		char err[KC_QUANTITY_ERRLEN];
		const cJSON *v = res_path(obj, "spec.resources.requests.storage");
		return v && !kc_quantity_from_json(v, &q, err, sizeof(err)) ? q : zero;
	}
	if (d == &res_pods && is_pod_compute(rn)) {
		const char *dot = strchr(rn, '.');
		if (!dot)
			return pod_sum(obj, "requests", rn);
		return pod_sum(obj, !strncmp(rn, "limits", 6) ? "limits" : "requests", dot + 1);
	}
	return one;
}

static int pod_best_effort(const cJSON *pod)
{
	static const char *const lists[] = { "spec.containers", "spec.initContainers", NULL };
	for (int l = 0; lists[l]; l++) {
		const cJSON *c;
		cJSON_ArrayForEach(c, res_path(pod, lists[l]))
			if (cJSON_GetArraySize(res_path(c, "resources.requests")) ||
			    cJSON_GetArraySize(res_path(c, "resources.limits")))
				return 0;
	}
	return 1;
}

/* Does quota q cover obj of kind d (scopes as podEvaluator.MatchingScopes; other kinds
 * match only unscoped quotas, as MatchesNoScopeFunc)? -1: not enforced (scopeSelector). */
static int scope_matches(const cJSON *q, const res_desc *d, const cJSON *obj)
{
	if (cJSON_GetArraySize(res_path(q, "spec.scopeSelector.matchExpressions")))
		return -1;
	const cJSON *s;
	cJSON_ArrayForEach(s, res_path(q, "spec.scopes"))
	{
		if (d != &res_pods || !cJSON_IsString(s))
			return 0;
		int term = cJSON_IsNumber(res_path(obj, "spec.activeDeadlineSeconds"));
		int be = pod_best_effort(obj);
		const char *v = s->valuestring;
		if ((!strcmp(v, "Terminating") && !term) || (!strcmp(v, "NotTerminating") && term) ||
		    (!strcmp(v, "BestEffort") && !be) || (!strcmp(v, "NotBestEffort") && be))
			return 0;
		if (strcmp(v, "Terminating") && strcmp(v, "NotTerminating") &&
		    strcmp(v, "BestEffort") && strcmp(v, "NotBestEffort"))
			return -1;
	}
	return 1;
}

static kc_quantity q_of(const cJSON *map, const char *rn)
{
	kc_quantity q = kc_quantity_from_int(0, KC_QUANTITY_DECIMAL_SI);
	char err[KC_QUANTITY_ERRLEN];
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(map, rn);
	if (v && kc_quantity_from_json(v, &q, err, sizeof(err)))
		q = kc_quantity_from_int(0, KC_QUANTITY_DECIMAL_SI);
	return q;
}

static void set_q(cJSON *map, const char *rn, const kc_quantity *q)
{
	cJSON_DeleteItemFromObjectCaseSensitive(map, rn);
	cJSON_AddItemToObject(map, rn, kc_quantity_to_json(q));
}

void quota_plan_free(quota_plan *p)
{
	for (size_t i = 0; i < p->n; i++) {
		free(p->keys[i]);
		free(p->vals[i]);
	}
	p->n = 0;
}

/* Adds quota q (its status.used already changed) to the plan. */
static int plan_add(reg *r, const char *ns, const cJSON *q, quota_plan *p)
{
	if (p->n >= QUOTA_MAX)
		return -E2BIG;
	char key[512];
	if (reg_key(r, &res_resourcequotas, ns, kc_json_get_string(q, "metadata.name", ""), key,
		    sizeof(key)) < 0)
		return -ENAMETOOLONG;
	cJSON *c = cJSON_Duplicate(q, 1);
	cJSON_DeleteItemFromObjectCaseSensitive(cJSON_GetObjectItemCaseSensitive(c, "metadata"),
						"resourceVersion");
	char *val = kc_json_print(c);
	cJSON_Delete(c);
	char *k = strdup(key);
	if (!val || !k) {
		free(val);
		free(k);
		return -ENOMEM;
	}
	p->keys[p->n] = k;
	p->vals[p->n] = val;
	p->side[p->n] = (txn_side){ .key = k, .val = val,
				    .expect = strtoll(kc_json_get_string(q, "metadata.resourceVersion",
									 "0"),
						      NULL, 10) };
	p->n++;
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* prettyPrint of a ResourceList restricted to names: "a=1,b=2" in name order. */
static void pretty(const cJSON *map, const char *const *names, int n, char *buf, size_t len)
{
	size_t o = 0;
	buf[0] = 0;
	for (int i = 0; i < n && o < len; i++) {
		kc_quantity q = q_of(map, names[i]);
		char s[KC_QUANTITY_STRMAX];
		kc_quantity_string(&q, s, sizeof(s));
		o += (size_t)snprintf(buf + o, len - o, "%s%s=%s", i ? "," : "", names[i], s);
	}
}

static cJSON *forbidden(const res_desc *d, const cJSON *obj, const char *msg)
{
	const char *name = kc_json_get_string(obj, "metadata.name", "");
	char qr[160];
	snprintf(qr, sizeof(qr), "%s%s%s", d->plural, d->group[0] ? "." : "", d->group);
	cJSON *st = st_new(403, "Forbidden", "%s \"%s\" is forbidden: %s", qr, name, msg);
	st_details(st, name, d->group, d->plural);
	return st;
}

/* podEvaluator.Constraints: "must specify limits.cpu for: a,b; requests.memory for: a". */
static int pod_constraints(const cJSON *hard, const cJSON *pod, char *msg, size_t len)
{
	const char *missing[8];
	int nm = 0;
	for (int i = 0; pod_compute[i]; i++)
		if (cJSON_GetObjectItemCaseSensitive(hard, pod_compute[i]))
			missing[nm++] = pod_compute[i];
	qsort(missing, (size_t)nm, sizeof(missing[0]), cmp_str);
	size_t o = 0;
	msg[0] = 0;
	for (int i = 0; i < nm; i++) {
		const char *rn = missing[i], *dot = strchr(rn, '.');
		const char *part = dot && !strncmp(rn, "limits", 6) ? "resources.limits"
								    : "resources.requests";
		const char *res = dot ? dot + 1 : rn;
		char names[1024] = "";
		size_t no = 0;
		static const char *const lists[] = { "spec.containers", "spec.initContainers", NULL };
		for (int l = 0; lists[l]; l++) {
			const cJSON *c;
			cJSON_ArrayForEach(c, res_path(pod, lists[l]))
				if (!cJSON_GetObjectItemCaseSensitive(res_path(c, part), res) &&
				    no < sizeof(names))
					no += (size_t)snprintf(names + no, sizeof(names) - no, "%s%s",
							       no ? "," : "",
							       kc_json_get_string(c, "name", ""));
		}
		if (names[0] && o < len)
			o += (size_t)snprintf(msg + o, len - o, "%s%s for: %s",
					      o ? "; " : "must specify ", rn, names);
	}
	return msg[0] != 0;
}

/* live: from the store; else from the watch cache when it can answer. */
static int list_quotas(reg *r, const char *ns, int live, cJSON **list)
{
	reg_list_opts lo = { 0 };
	if ((live ? reg_list(r, &res_resourcequotas, ns, &lo, list)
		  : reg_list_cached(r, &res_resourcequotas, ns, list)) != 200) {
		cJSON_Delete(*list);
		*list = NULL;
		return -EIO;
	}
	return 0;
}

cJSON *quota_admit_create(reg *r, const res_desc *d, const char *ns, const cJSON *obj, int live,
			  quota_plan *p)
{
	p->n = 0;
	if (!ns || !ns[0])
		return NULL;
	cJSON *list = NULL;
	if (list_quotas(r, ns, live, &list))
		return st_internal("ResourceQuota: failed to list quotas in namespace %s", ns);
	cJSON *q, *st = NULL;
	cJSON_ArrayForEach(q, cJSON_GetObjectItemCaseSensitive(list, "items"))
	{
		const cJSON *hard = res_path(q, "status.hard");
		if (!cJSON_IsObject(hard))
			hard = res_path(q, "spec.hard");
		const char *names[64], *exceeded[64];
		int n = 0, ne = 0;
		const cJSON *h;
		cJSON_ArrayForEach(h, hard)
			if (h->string && n < 64 && charges(d, h->string))
				names[n++] = h->string;
		if (!n || scope_matches(q, d, obj) != 1)
			continue;
		const char *qname = kc_json_get_string(q, "metadata.name", "");
		char msg[2048];
		if (d == &res_pods && pod_constraints(hard, obj, msg, sizeof(msg))) {
			char full[2400];
			snprintf(full, sizeof(full), "failed quota: %s: %s", qname, msg);
			st = forbidden(d, obj, full);
			break;
		}
		qsort(names, (size_t)n, sizeof(names[0]), cmp_str);
		cJSON *req = cJSON_CreateObject();
		cJSON *used = res_obj(res_obj(q, "status"), "used");
		cJSON *nused = cJSON_Duplicate(used, 1);
		for (int i = 0; i < n; i++) {
			kc_quantity u = usage(d, obj, names[i]), nu = q_of(used, names[i]);
			kc_quantity lim = q_of(hard, names[i]);
			set_q(req, names[i], &u);
			kc_quantity_add(&nu, &u);
			set_q(nused, names[i], &nu);
			if (kc_quantity_cmp(&nu, &lim) > 0)
				exceeded[ne++] = names[i];
		}
		if (ne) {
			char a[512], b[512], c[512], full[2048];
			pretty(req, exceeded, ne, a, sizeof(a));
			pretty(used, exceeded, ne, b, sizeof(b));
			pretty(hard, exceeded, ne, c, sizeof(c));
			snprintf(full, sizeof(full),
				 "exceeded quota: %s, requested: %s, used: %s, limited: %s", qname, a,
				 b, c);
			cJSON_Delete(req);
			cJSON_Delete(nused);
			st = forbidden(d, obj, full);
			break;
		}
		cJSON_Delete(req);
		cJSON_ReplaceItemInObjectCaseSensitive(res_obj(q, "status"), "used", nused);
		if (plan_add(r, ns, q, p)) {
			st = st_internal("ResourceQuota: too many quotas in namespace %s", ns);
			break;
		}
	}
	cJSON_Delete(list);
	if (st)
		quota_plan_free(p);
	return st;
}

int quota_release(reg *r, const res_desc *d, const char *ns, const cJSON *obj, quota_plan *p)
{
	p->n = 0;
	if (!ns || !ns[0])
		return 0;
	cJSON *list = NULL;
	if (list_quotas(r, ns, 1, &list)) /* a removal's txn must not retry on a stale copy */
		return -EIO;
	int rc = 0;
	cJSON *q;
	cJSON_ArrayForEach(q, cJSON_GetObjectItemCaseSensitive(list, "items"))
	{
		/* A quota being deleted does not update itself in the same txn. */
		if (d == &res_resourcequotas &&
		    !strcmp(kc_json_get_string(q, "metadata.name", ""),
			    kc_json_get_string(obj, "metadata.name", "")))
			continue;
		cJSON *used = res_path(q, "status.used");
		if (!cJSON_IsObject(used) || scope_matches(q, d, obj) != 1)
			continue;
		int changed = 0;
		cJSON *u;
		cJSON_ArrayForEach(u, used)
		{
			if (!u->string || !charges(d, u->string))
				continue;
			kc_quantity cur = q_of(used, u->string), del = usage(d, obj, u->string);
			kc_quantity_sub(&cur, &del);
			if (kc_quantity_sign(&cur) < 0)
				cur = kc_quantity_from_int(0, KC_QUANTITY_DECIMAL_SI);
			char s[KC_QUANTITY_STRMAX];
			kc_quantity_string(&cur, s, sizeof(s));
			cJSON_SetValuestring(u, s);
			changed = 1;
		}
		if (changed && (rc = plan_add(r, ns, q, p)) != 0)
			break;
	}
	cJSON_Delete(list);
	if (rc)
		quota_plan_free(p);
	return rc;
}

int quota_init_status(reg *r, const char *ns, cJSON *quota)
{
	const cJSON *hard = res_path(quota, "spec.hard");
	cJSON *st = res_obj(quota, "status");
	cJSON_DeleteItemFromObjectCaseSensitive(st, "hard");
	cJSON_DeleteItemFromObjectCaseSensitive(st, "used");
	if (!cJSON_IsObject(hard))
		return 0;
	cJSON_AddItemToObject(st, "hard", cJSON_Duplicate(hard, 1));
	cJSON *used = cJSON_AddObjectToObject(st, "used");
	const cJSON *h;
	cJSON_ArrayForEach(h, hard)
		if (h->string) {
			kc_quantity z = kc_quantity_from_int(0, KC_QUANTITY_DECIMAL_SI);
			set_q(used, h->string, &z);
		}
	for (int i = 0; res_all[i]; i++) {
		const res_desc *d = res_all[i];
		int any = 0;
		cJSON_ArrayForEach(h, hard)
			any |= h->string && charges(d, h->string);
		if (!any || !d->namespaced || d->storage)
			continue;
		cJSON *list = NULL;
		reg_list_opts lo = { 0 };
		if (reg_list(r, d, ns, &lo, &list) != 200) {
			cJSON_Delete(list);
			return -EIO;
		}
		const cJSON *obj;
		cJSON_ArrayForEach(obj, cJSON_GetObjectItemCaseSensitive(list, "items"))
		{
			if (scope_matches(quota, d, obj) != 1)
				continue;
			cJSON_ArrayForEach(h, hard)
			{
				if (!h->string || !charges(d, h->string))
					continue;
				kc_quantity cur = q_of(used, h->string), u = usage(d, obj, h->string);
				kc_quantity_add(&cur, &u);
				set_q(used, h->string, &cur);
			}
		}
		cJSON_Delete(list);
	}
	return 0;
}
