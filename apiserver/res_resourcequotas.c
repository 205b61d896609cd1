/* core/v1 resourcequotas and limitranges: ValidateResourceQuota / ValidateLimitRange (the
 * parts this milestone checks) and printResourceQuota. LimitRange has no printer upstream,
 * so it gets the default "Name, Created At" table. */
#include "resource.h"

#include <stdio.h>
#include <string.h>

#include "quantity.h"

static void quantities_validate(const cJSON *map, const char *path, res_errs *e)
{
	const cJSON *q;
	cJSON_ArrayForEach(q, map)
	{
		char f[200];
		snprintf(f, sizeof(f), "%s[%s]", path, q->string ? q->string : "");
		kc_quantity v;
		char err[128];
		if (!cJSON_IsString(q) || kc_quantity_parse(q->valuestring, &v, err, sizeof(err)))
			res_err(e, "FieldValueInvalid", f,
				"Invalid value: \"%s\": quantities must match the regular expression "
				"'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'",
				cJSON_IsString(q) ? q->valuestring : "");
	}
}

static void rq_validate(const cJSON *obj, const cJSON *old, res_errs *e)
{
	(void)old;
	quantities_validate(res_path(obj, "spec.hard"), "spec.hard", e);
	const cJSON *s;
	cJSON_ArrayForEach(s, res_path(obj, "spec.scopes"))
	{
		static const char *const ok[] = { "Terminating", "NotTerminating", "BestEffort",
						  "NotBestEffort", "PriorityClass",
						  "CrossNamespacePodAffinity", NULL };
		int found = 0;
		for (int i = 0; ok[i]; i++)
			found |= cJSON_IsString(s) && !strcmp(s->valuestring, ok[i]);
		if (!found)
			res_err(e, "FieldValueNotSupported", "spec.scopes",
				"Unsupported value: \"%s\"", cJSON_IsString(s) ? s->valuestring : "");
	}
}

static const res_col rq_cols[] = {
	{ "Name", "string", "name", 0 },
	{ "Age", "string", "", 0 },
	{ "Request", "string", "", 0 },
	{ "Limit", "string", "", 0 },
};

/* printResourceQuota: "key: used/hard" pairs, limits.* in Limit, the rest in Request. */
static void rq_row(const cJSON *obj, cJSON *cells, int64_t now)
{
	char req[1024] = "", lim[1024] = "";
	size_t ro = 0, lo = 0;
	const cJSON *h;
	cJSON_ArrayForEach(h, res_path(obj, "status.hard"))
	{
		if (!cJSON_IsString(h) || !h->string)
			continue;
		const cJSON *u = cJSON_GetObjectItemCaseSensitive(res_path(obj, "status.used"),
								 h->string);
		const char *used = cJSON_IsString(u) ? u->valuestring : "0";
		int is_limit = !strncmp(h->string, "limits.", 7);
		char *buf = is_limit ? lim : req;
		size_t *off = is_limit ? &lo : &ro;
		if (*off < sizeof(req))
			*off += (size_t)snprintf(buf + *off, sizeof(req) - *off, "%s%s: %s/%s",
						 *off ? ", " : "", h->string, used, h->valuestring);
	}
	RES_CELL_NAME(cells, obj);
	res_cell_age(obj, cells, now);
	RES_CELL_S(cells, req);
	RES_CELL_S(cells, lim);
}

const res_desc res_resourcequotas = {
	.group = "", .version = "v1", .kind = "ResourceQuota", .list_kind = "ResourceQuotaList",
	.plural = "resourcequotas", .singular = "resourcequota", .short_names = { "quota" },
	.namespaced = 1, .has_status = 1, .validate = rq_validate, .cols = rq_cols, .ncols = 4,
	.row = rq_row,
};

static void lr_validate(const cJSON *obj, const cJSON *old, res_errs *e)
{
	(void)old;
	const cJSON *it;
	int i = 0;
	cJSON_ArrayForEach(it, res_path(obj, "spec.limits"))
	{
		char f[100];
		snprintf(f, sizeof(f), "spec.limits[%d].type", i);
		const char *t = res_str(it, "type", "");
		if (!t[0])
			res_err_required(e, f);
		else if (strcmp(t, "Pod") && strcmp(t, "Container") &&
			 strcmp(t, "PersistentVolumeClaim"))
			res_err(e, "FieldValueNotSupported", f,
				"Unsupported value: \"%s\": supported values: \"Container\", "
				"\"PersistentVolumeClaim\", \"Pod\"", t);
		static const char *const maps[] = { "max", "min", "default", "defaultRequest",
						    "maxLimitRequestRatio", NULL };
		for (int k = 0; maps[k]; k++) {
			snprintf(f, sizeof(f), "spec.limits[%d].%s", i, maps[k]);
			quantities_validate(cJSON_GetObjectItemCaseSensitive(it, maps[k]), f, e);
		}
		i++;
	}
}

const res_desc res_limitranges = {
	.group = "", .version = "v1", .kind = "LimitRange", .list_kind = "LimitRangeList",
	.plural = "limitranges", .singular = "limitrange", .short_names = { "limits" },
	.namespaced = 1, .validate = lr_validate,
};
