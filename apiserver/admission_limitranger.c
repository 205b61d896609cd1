/* LimitRanger admission; see admission_limitranger.h. */
#include "admission_limitranger.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "quantity.h"
#include "status.h"

/* A Container item's effective defaults, with SetDefaults_LimitRangeItem applied:
 * default <- max, defaultRequest <- default, then <- min. New objects, caller frees. */
static void item_defaults(const cJSON *item, cJSON **lim, cJSON **req)
{
	const cJSON *d = cJSON_GetObjectItemCaseSensitive(item, "default");
	const cJSON *dr = cJSON_GetObjectItemCaseSensitive(item, "defaultRequest");
	*lim = cJSON_IsObject(d) ? cJSON_Duplicate(d, 1) : cJSON_CreateObject();
	*req = cJSON_IsObject(dr) ? cJSON_Duplicate(dr, 1) : cJSON_CreateObject();
	const char *from[] = { "max", NULL };
	const cJSON *v;
	for (int i = 0; from[i]; i++)
		cJSON_ArrayForEach(v, cJSON_GetObjectItemCaseSensitive(item, from[i]))
			if (v->string && !cJSON_GetObjectItemCaseSensitive(*lim, v->string))
				cJSON_AddItemToObject(*lim, v->string, cJSON_Duplicate(v, 1));
	cJSON_ArrayForEach(v, *lim)
		if (v->string && !cJSON_GetObjectItemCaseSensitive(*req, v->string))
			cJSON_AddItemToObject(*req, v->string, cJSON_Duplicate(v, 1));
	cJSON_ArrayForEach(v, cJSON_GetObjectItemCaseSensitive(item, "min"))
		if (v->string && !cJSON_GetObjectItemCaseSensitive(*req, v->string))
			cJSON_AddItemToObject(*req, v->string, cJSON_Duplicate(v, 1));
}

/* Appends "a, b" of the resource names set to buf. */
static void join_names(char *buf, size_t n, const char *name)
{
	size_t l = strlen(buf);
	snprintf(buf + l, n - l, "%s%s", l ? ", " : "", name);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* mergeContainerResources: sets each missing resource from defs into the container's
 * resources.<part>; the names set, sorted and joined, go to set (empty if none). */
static void merge_part(cJSON *container, const char *part, const cJSON *defs, char *set,
		       size_t setn)
{
	const char *names[64];
	int k = 0;
	set[0] = 0;
	cJSON *res = res_obj(container, "resources");
	const cJSON *v;
	cJSON_ArrayForEach(v, defs)
	{
		if (!v->string || k >= 64)
			continue;
		cJSON *dst = res_obj(res, part);
		if (cJSON_GetObjectItemCaseSensitive(dst, v->string))
			continue;
		cJSON_AddItemToObject(dst, v->string, cJSON_Duplicate(v, 1));
		names[k++] = v->string;
	}
	qsort(names, (size_t)k, sizeof(names[0]), cmp_str);
	for (int i = 0; i < k; i++)
		join_names(set, setn, names[i]);
}

/* Quantity of resources.<part>[name]; 1 found, 0 absent (or unparsable: validation of
 * the pod reports that). */
static int get_q(const cJSON *container, const char *part, const char *name, kc_quantity *q)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(
		res_path(container, part[0] == 'r' ? "resources.requests" : "resources.limits"),
		name);
	char err[KC_QUANTITY_ERRLEN];
	return v && kc_quantity_from_json(v, q, err, sizeof(err)) == 0;
}

typedef struct lr_errs {
	char msg[4096];
	int n;
} lr_errs;

static void lr_err(lr_errs *e, const char *fmt, const char *res, const char *enf,
		   const char *what, const char *obs)
{
	size_t l = strlen(e->msg);
	if (e->n)
		l += (size_t)snprintf(e->msg + l, sizeof(e->msg) - l, ", ");
	if (l < sizeof(e->msg))
		snprintf(e->msg + l, sizeof(e->msg) - l, fmt, res, enf, what, obs);
	e->n++;
}

/* minConstraint / maxConstraint of limitranger/admission.go for one container. */
static void check_container(const cJSON *item, const cJSON *c, lr_errs *e)
{
	const cJSON *v;
	char enf[KC_QUANTITY_STRMAX], req_s[KC_QUANTITY_STRMAX], lim_s[KC_QUANTITY_STRMAX];
	char err[KC_QUANTITY_ERRLEN];
	cJSON_ArrayForEach(v, cJSON_GetObjectItemCaseSensitive(item, "min"))
	{
		kc_quantity mn, rq, lm;
		if (!v->string || kc_quantity_from_json(v, &mn, err, sizeof(err)))
			continue;
		kc_quantity_string(&mn, enf, sizeof(enf));
		int hr = get_q(c, "requests", v->string, &rq), hl = get_q(c, "limits", v->string, &lm);
		if (hr)
			kc_quantity_string(&rq, req_s, sizeof(req_s));
		if (hl)
			kc_quantity_string(&lm, lim_s, sizeof(lim_s));
		if (!hr)
			lr_err(e, "minimum %s usage per Container is %s.  No %s is specified%s",
			       v->string, enf, "request", "");
		else if (kc_quantity_cmp(&rq, &mn) < 0)
			lr_err(e, "minimum %s usage per Container is %s, but %s is %s", v->string, enf,
			       "request", req_s);
		else if (hl && kc_quantity_cmp(&lm, &mn) < 0)
			lr_err(e, "minimum %s usage per Container is %s, but %s is %s", v->string, enf,
			       "limit", lim_s);
	}
	cJSON_ArrayForEach(v, cJSON_GetObjectItemCaseSensitive(item, "max"))
	{
		kc_quantity mx, rq, lm;
		if (!v->string || kc_quantity_from_json(v, &mx, err, sizeof(err)))
			continue;
		kc_quantity_string(&mx, enf, sizeof(enf));
		int hr = get_q(c, "requests", v->string, &rq), hl = get_q(c, "limits", v->string, &lm);
		if (hr)
			kc_quantity_string(&rq, req_s, sizeof(req_s));
		if (hl)
			kc_quantity_string(&lm, lim_s, sizeof(lim_s));
		if (!hl)
			lr_err(e, "maximum %s usage per Container is %s.  No %s is specified%s",
			       v->string, enf, "limit", "");
		else if (kc_quantity_cmp(&lm, &mx) > 0)
			lr_err(e, "maximum %s usage per Container is %s, but %s is %s", v->string, enf,
			       "limit", lim_s);
		else if (hr && kc_quantity_cmp(&rq, &mx) > 0)
			lr_err(e, "maximum %s usage per Container is %s, but %s is %s", v->string, enf,
			       "request", req_s);
	}
}

/* Defaults then checks one Container item against every container and init container;
 * annotations collects "cpu, memory request for container c" parts. */
static void apply_item(const cJSON *item, cJSON *pod, char *ann, size_t annn, lr_errs *e)
{
	cJSON *lim, *req;
	item_defaults(item, &lim, &req);
	static const char *const lists[] = { "spec.initContainers", "spec.containers", NULL };
	static const char *const prefix[] = { "init container", "container" };
	for (int l = 0; lists[l]; l++) {
		cJSON *c;
		cJSON_ArrayForEach(c, res_path(pod, lists[l]))
		{
			if (!cJSON_IsObject(c))
				continue;
			const char *cname = kc_json_get_string(c, "name", "");
			char set[512];
			merge_part(c, "requests", req, set, sizeof(set));
			size_t al = strlen(ann);
			if (set[0])
				snprintf(ann + al, annn - al, "%s%s request for %s %s", al ? "; " : "",
					 set, prefix[l], cname);
			merge_part(c, "limits", lim, set, sizeof(set));
			al = strlen(ann);
			if (set[0])
				snprintf(ann + al, annn - al, "%s%s limit for %s %s", al ? "; " : "", set,
					 prefix[l], cname);
			check_container(item, c, e);
		}
	}
	cJSON_Delete(lim);
	cJSON_Delete(req);
}

cJSON *adm_limitranger(reg *r, const char *ns, cJSON *pod)
{
	cJSON *list = NULL;
	if (reg_list_cached(r, &res_limitranges, ns, &list) != 200) {
		cJSON_Delete(list);
		return st_internal("LimitRanger: failed to list limit ranges in namespace %s", ns);
	}
	char ann[2048] = "";
	lr_errs e = { .n = 0 };
	e.msg[0] = 0;
	const cJSON *lr, *item;
	cJSON_ArrayForEach(lr, cJSON_GetObjectItemCaseSensitive(list, "items"))
		cJSON_ArrayForEach(item, res_path(lr, "spec.limits"))
			if (!strcmp(kc_json_get_string(item, "type", ""), "Container"))
				apply_item(item, pod, ann, sizeof(ann), &e);
	cJSON_Delete(list);
	const char *name = kc_json_get_string(pod, "metadata.name", "");
	if (e.n) {
		/* utilerrors.NewAggregate: one error alone, several as "[a, b]". */
		cJSON *st = st_new(403, "Forbidden", e.n > 1 ? "pods \"%s\" is forbidden: [%s]"
							     : "pods \"%s\" is forbidden: %s",
				   name, e.msg);
		st_details(st, name, "", "pods");
		return st;
	}
	if (ann[0]) {
		cJSON *anns = res_obj(res_obj(pod, "metadata"), "annotations");
		char val[2100];
		snprintf(val, sizeof(val), "LimitRanger plugin set: %s", ann);
		cJSON_DeleteItemFromObjectCaseSensitive(anns, "kubernetes.io/limit-ranger");
		cJSON_AddStringToObject(anns, "kubernetes.io/limit-ranger", val);
	}
	return NULL;
}
