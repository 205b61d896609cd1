/* autoscaling/v2 and autoscaling/v1 horizontalpodautoscalers, one storage (v2, as upstream's
 * storage version): SetDefaults_HorizontalPodAutoscaler, ValidateHorizontalPodAutoscaler,
 * printHorizontalPodAutoscaler, and the v1 <-> v2 conversion of the CPU target
 * (pkg/apis/autoscaling/v1/conversion.go). */
#include "resource.h"

#include <stdio.h>
#include <string.h>

/* autoscaling/v2 SetDefaults_HorizontalPodAutoscaler: minReplicas 1 and, without metrics,
 * a CPU utilization target of 80% (autoscaling.DefaultCPUUtilization). */
static void hpa_defaults(cJSON *obj)
{
	cJSON *spec = res_obj(obj, "spec");
	res_def_num(spec, "minReplicas", 1);
	if (!cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(spec, "metrics"))) {
		cJSON_DeleteItemFromObjectCaseSensitive(spec, "metrics");
		cJSON *m = cJSON_CreateObject();
		cJSON_AddStringToObject(m, "type", "Resource");
		cJSON *r = cJSON_AddObjectToObject(m, "resource");
		cJSON_AddStringToObject(r, "name", "cpu");
		cJSON *t = cJSON_AddObjectToObject(r, "target");
		cJSON_AddStringToObject(t, "type", "Utilization");
		cJSON_AddNumberToObject(t, "averageUtilization", 80);
		cJSON_AddItemToArray(cJSON_AddArrayToObject(spec, "metrics"), m);
	}
}

static void hpa_validate(const cJSON *obj, const cJSON *old, res_errs *e)
{
	(void)old;
	if (!res_str(obj, "spec.scaleTargetRef.kind", "")[0])
		res_err_required(e, "spec.scaleTargetRef.kind");
	if (!res_str(obj, "spec.scaleTargetRef.name", "")[0])
		res_err_required(e, "spec.scaleTargetRef.name");
	int minr = (int)res_num(obj, "spec.minReplicas", 1);
	int maxr = (int)res_num(obj, "spec.maxReplicas", 0);
	if (minr < 1)
		res_err(e, "FieldValueInvalid", "spec.minReplicas",
			"Invalid value: %d: must be greater than or equal to 1", minr);
	if (maxr < 1)
		res_err(e, "FieldValueInvalid", "spec.maxReplicas",
			"Invalid value: %d: must be greater than 0", maxr);
	else if (maxr < minr)
		res_err(e, "FieldValueInvalid", "spec.maxReplicas",
			"Invalid value: %d: must be greater than or equal to `minReplicas`", maxr);
	int i = 0;
	const cJSON *m;
	cJSON_ArrayForEach(m, res_path(obj, "spec.metrics"))
	{
		char f[64];
		snprintf(f, sizeof(f), "spec.metrics[%d].type", i++);
		const char *t = res_str(m, "type", "");
		if (!t[0])
			res_err_required(e, f);
		else if (strcmp(t, "Object") && strcmp(t, "Pods") && strcmp(t, "Resource") &&
			 strcmp(t, "ContainerResource") && strcmp(t, "External"))
			res_err(e, "FieldValueNotSupported", f,
				"Unsupported value: \"%s\": supported values: \"ContainerResource\", "
				"\"External\", \"Object\", \"Pods\", \"Resource\"", t);
	}
}

/* v1 -> v2: targetCPUUtilizationPercentage becomes a Resource cpu metric. */
static void hpa_v1_to_v2(cJSON *obj)
{
	cJSON *spec = res_obj(obj, "spec");
	cJSON *pct = cJSON_DetachItemFromObjectCaseSensitive(spec, "targetCPUUtilizationPercentage");
	if (cJSON_IsNumber(pct)) {
		cJSON *metrics = cJSON_AddArrayToObject(spec, "metrics");
		cJSON *m = cJSON_CreateObject();
		cJSON_AddStringToObject(m, "type", "Resource");
		cJSON *r = cJSON_AddObjectToObject(m, "resource");
		cJSON_AddStringToObject(r, "name", "cpu");
		cJSON *t = cJSON_AddObjectToObject(r, "target");
		cJSON_AddStringToObject(t, "type", "Utilization");
		cJSON_AddNumberToObject(t, "averageUtilization", pct->valuedouble);
		cJSON_AddItemToArray(metrics, m);
	}
	cJSON_Delete(pct);
	cJSON *st = cJSON_GetObjectItemCaseSensitive(obj, "status");
	cJSON *cur = cJSON_DetachItemFromObjectCaseSensitive(st, "currentCPUUtilizationPercentage");
	if (cJSON_IsNumber(cur)) {
		cJSON *metrics = cJSON_AddArrayToObject(st, "currentMetrics");
		cJSON *m = cJSON_CreateObject();
		cJSON_AddStringToObject(m, "type", "Resource");
		cJSON *r = cJSON_AddObjectToObject(m, "resource");
		cJSON_AddStringToObject(r, "name", "cpu");
		cJSON_AddNumberToObject(cJSON_AddObjectToObject(r, "current"), "averageUtilization",
					cur->valuedouble);
		cJSON_AddItemToArray(metrics, m);
	}
	cJSON_Delete(cur);
}

/* v2 -> v1: the cpu Utilization target back; other metrics are dropped (upstream keeps
 * them in an annotation, which this server does not). */
static void hpa_v2_to_v1(cJSON *obj)
{
	cJSON *spec = res_obj(obj, "spec");
	cJSON *metrics = cJSON_DetachItemFromObjectCaseSensitive(spec, "metrics");
	const cJSON *m;
	cJSON_ArrayForEach(m, metrics)
	{
		if (!strcmp(res_str(m, "type", ""), "Resource") &&
		    !strcmp(res_str(m, "resource.name", ""), "cpu") &&
		    cJSON_IsNumber(res_path(m, "resource.target.averageUtilization"))) {
			cJSON_AddNumberToObject(spec, "targetCPUUtilizationPercentage",
						res_num(m, "resource.target.averageUtilization", 0));
			break;
		}
	}
	cJSON_Delete(metrics);
	cJSON_Delete(cJSON_DetachItemFromObjectCaseSensitive(spec, "behavior"));
	cJSON *st = cJSON_GetObjectItemCaseSensitive(obj, "status");
	cJSON *cur = cJSON_DetachItemFromObjectCaseSensitive(st, "currentMetrics");
	cJSON_ArrayForEach(m, cur)
	{
		if (!strcmp(res_str(m, "type", ""), "Resource") &&
		    !strcmp(res_str(m, "resource.name", ""), "cpu") &&
		    cJSON_IsNumber(res_path(m, "resource.current.averageUtilization"))) {
			cJSON_AddNumberToObject(st, "currentCPUUtilizationPercentage",
						res_num(m, "resource.current.averageUtilization", 0));
			break;
		}
	}
	cJSON_Delete(cur);
	cJSON_Delete(cJSON_DetachItemFromObjectCaseSensitive(st, "conditions"));
}

static const res_col hpa_cols[] = {
	{ "Name", "string", "name", 0 },    { "Reference", "string", "", 0 },
	{ "Targets", "string", "", 0 },     { "MinPods", "string", "", 0 },
	{ "MaxPods", "integer", "", 0 },    { "Replicas", "integer", "", 0 },
	{ "Age", "string", "", 0 },
};

/* Targets as formatHPAMetrics: "cpu: 40%/80%" (current "<unknown>" until measured). */
static void hpa_targets(const cJSON *obj, char *buf, size_t n)
{
	size_t off = 0;
	buf[0] = 0;
	const cJSON *m;
	int i = 0;
	cJSON_ArrayForEach(m, res_path(obj, "spec.metrics"))
	{
		if (off >= n)
			break;
		const char *t = res_str(m, "type", "");
		if (strcmp(t, "Resource") && strcmp(t, "ContainerResource")) {
			off += (size_t)snprintf(buf + off, n - off, "%s<unknown>", off ? ", " : "");
			continue;
		}
		const char *key = !strcmp(t, "Resource") ? "resource" : "containerResource";
		char tk[64], cur[64] = "<unknown>", tgt[64];
		snprintf(tk, sizeof(tk), "%s.target.averageUtilization", key);
		const cJSON *cm = cJSON_GetArrayItem(res_path(obj, "status.currentMetrics"), i);
		if (cJSON_IsNumber(res_path(m, tk))) {
			snprintf(tgt, sizeof(tgt), "%d%%", (int)res_num(m, tk, 0));
			snprintf(tk, sizeof(tk), "%s.current.averageUtilization", key);
			if (cJSON_IsNumber(res_path(cm, tk)))
				snprintf(cur, sizeof(cur), "%d%%", (int)res_num(cm, tk, 0));
		} else {
			snprintf(tk, sizeof(tk), "%s.target.averageValue", key);
			snprintf(tgt, sizeof(tgt), "%s", res_str(m, tk, "<unknown>"));
		}
		char rk[64];
		snprintf(rk, sizeof(rk), "%s.name", key);
		off += (size_t)snprintf(buf + off, n - off, "%s%s: %s/%s", off ? ", " : "",
					res_str(m, rk, ""), cur, tgt);
		i++;
	}
	if (!buf[0])
		snprintf(buf, n, "<none>");
}

static void hpa_row(const cJSON *obj, cJSON *cells, int64_t now)
{
	char buf[512];
	RES_CELL_NAME(cells, obj);
	snprintf(buf, sizeof(buf), "%s/%s", res_str(obj, "spec.scaleTargetRef.kind", ""),
		 res_str(obj, "spec.scaleTargetRef.name", ""));
	RES_CELL_S(cells, buf);
	hpa_targets(obj, buf, sizeof(buf));
	RES_CELL_S(cells, buf);
	snprintf(buf, sizeof(buf), "%d", (int)res_num(obj, "spec.minReplicas", 1));
	RES_CELL_S(cells, buf);
	RES_CELL_I(cells, res_num(obj, "spec.maxReplicas", 0));
	RES_CELL_I(cells, res_num(obj, "status.currentReplicas", 0));
	res_cell_age(obj, cells, now);
}

/* The v1 view converted to v2 for the Table, so both versions print the same columns. */
static void hpa_v1_row(const cJSON *obj, cJSON *cells, int64_t now)
{
	cJSON *v2 = cJSON_Duplicate(obj, 1);
	hpa_v1_to_v2(v2);
	hpa_row(v2, cells, now);
	cJSON_Delete(v2);
}

const res_desc res_hpa_v2 = {
	.group = "autoscaling", .version = "v2", .kind = "HorizontalPodAutoscaler",
	.list_kind = "HorizontalPodAutoscalerList", .plural = "horizontalpodautoscalers",
	.singular = "horizontalpodautoscaler", .short_names = { "hpa" }, .categories = { "all" },
	.namespaced = 1, .has_status = 1, .defaults = hpa_defaults, .validate = hpa_validate,
	.cols = hpa_cols, .ncols = 7, .row = hpa_row,
};

const res_desc res_hpa_v1 = {
	.group = "autoscaling", .version = "v1", .kind = "HorizontalPodAutoscaler",
	.list_kind = "HorizontalPodAutoscalerList", .plural = "horizontalpodautoscalers",
	.singular = "horizontalpodautoscaler", .short_names = { "hpa" }, .categories = { "all" },
	.namespaced = 1, .has_status = 1, .cols = hpa_cols, .ncols = 7, .row = hpa_v1_row,
	.storage = &res_hpa_v2, .to_storage = hpa_v1_to_v2, .from_storage = hpa_v2_to_v1,
};
