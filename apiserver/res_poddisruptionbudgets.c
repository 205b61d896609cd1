/* policy/v1 poddisruptionbudgets: ValidatePodDisruptionBudget and
 * printPodDisruptionBudget. */
#include "resource.h"

#include <stdio.h>
#include <string.h>

/* An IntOrString: non-negative int, or "N%" with 0 <= N <= 100. */
static void int_or_percent(const cJSON *v, const char *f, res_errs *e)
{
	if (!v || cJSON_IsNull(v))
		return;
	if (cJSON_IsNumber(v)) {
		if (v->valuedouble < 0)
			res_err(e, "FieldValueInvalid", f,
				"Invalid value: %d: must be greater than or equal to 0", v->valueint);
		return;
	}
	const char *s = cJSON_IsString(v) ? v->valuestring : "";
	int pct = -1, len = 0;
	if (sscanf(s, "%d%%%n", &pct, &len) != 1 || (size_t)len != strlen(s)) {
		res_err(e, "FieldValueInvalid", f,
			"Invalid value: \"%s\": a valid percent string must be a numeric string "
			"followed by an ending '%%' (e.g. '1%%',  or '93%%', regex used for "
			"validation is '[0-9]+%%')", s);
		return;
	}
	if (pct < 0 || pct > 100)
		res_err(e, "FieldValueInvalid", f,
			"Invalid value: \"%s\": must not be greater than 100%%", s);
}

static void pdb_validate(const cJSON *obj, const cJSON *old, res_errs *e)
{
	(void)old;
	cJSON *minv = res_path(obj, "spec.minAvailable");
	cJSON *maxu = res_path(obj, "spec.maxUnavailable");
	if (minv && !cJSON_IsNull(minv) && maxu && !cJSON_IsNull(maxu))
		res_err(e, "FieldValueInvalid", "spec",
			"Invalid value: policy.PodDisruptionBudgetSpec{...}: minAvailable and "
			"maxUnavailable cannot be both set");
	int_or_percent(minv, "spec.minAvailable", e);
	int_or_percent(maxu, "spec.maxUnavailable", e);
	const char *uhp = res_str(obj, "spec.unhealthyPodEvictionPolicy", NULL);
	if (uhp && strcmp(uhp, "IfHealthyBudget") && strcmp(uhp, "AlwaysAllow"))
		res_err(e, "FieldValueNotSupported", "spec.unhealthyPodEvictionPolicy",
			"Unsupported value: \"%s\": supported values: \"AlwaysAllow\", "
			"\"IfHealthyBudget\"", uhp);
}

static void pdb_defaults(cJSON *obj)
{
	/* PrepareForCreate: the disruption controller owns status. */
	cJSON *st = res_obj(obj, "status");
	res_def_num(st, "disruptionsAllowed", 0);
	res_def_num(st, "currentHealthy", 0);
	res_def_num(st, "desiredHealthy", 0);
	res_def_num(st, "expectedPods", 0);
}

static void pdb_cell(const cJSON *v, cJSON *cells)
{
	char buf[32];
	if (cJSON_IsNumber(v)) {
		snprintf(buf, sizeof(buf), "%d", v->valueint);
		RES_CELL_S(cells, buf);
	} else {
		RES_CELL_S(cells, cJSON_IsString(v) ? v->valuestring : "N/A");
	}
}

static const res_col pdb_cols[] = {
	{ "Name", "string", "name", 0 },          { "Min Available", "string", "", 0 },
	{ "Max Unavailable", "string", "", 0 },   { "Allowed Disruptions", "integer", "", 0 },
	{ "Age", "string", "", 0 },
};

static void pdb_row(const cJSON *obj, cJSON *cells, int64_t now)
{
	RES_CELL_NAME(cells, obj);
	pdb_cell(res_path(obj, "spec.minAvailable"), cells);
	pdb_cell(res_path(obj, "spec.maxUnavailable"), cells);
	RES_CELL_I(cells, res_num(obj, "status.disruptionsAllowed", 0));
	res_cell_age(obj, cells, now);
}

const res_desc res_poddisruptionbudgets = {
	.group = "policy", .version = "v1", .kind = "PodDisruptionBudget",
	.list_kind = "PodDisruptionBudgetList", .plural = "poddisruptionbudgets",
	.singular = "poddisruptionbudget", .short_names = { "pdb" }, .namespaced = 1,
	.has_status = 1, .gen_on_spec = 1, .defaults = pdb_defaults, .validate = pdb_validate,
	.cols = pdb_cols, .ncols = 5, .row = pdb_row,
};
