/* scheduling.k8s.io/v1 priorityclasses: SetDefaults_PriorityClass, ValidatePriorityClass
 * (pkg/apis/scheduling/validation), printPriorityClass, and the two system classes the
 * apiserver creates at start-up (pkg/registry/scheduling/rest AddSystemPriorityClasses). */
#include "resource.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* scheduling.HighestUserDefinablePriority and SystemCriticalPriority. */
#define PC_HIGHEST_USER 1000000000
#define PC_SYSTEM_CRITICAL 2000000000

static void pc_defaults(cJSON *obj)
{
	res_def_str(obj, "preemptionPolicy", "PreemptLowerPriority");
}

static void pc_validate(const cJSON *obj, const cJSON *old, res_errs *e)
{
	const char *name = res_str(obj, "metadata.name", "");
	cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, "value");
	if (!cJSON_IsNumber(v)) {
		res_err_required(e, "value");
	} else if (!strncmp(name, "system-", 7)) {
		/* Only the built-in classes may use the reserved prefix. */
		int ok = (!strcmp(name, "system-node-critical") &&
			  v->valuedouble == PC_SYSTEM_CRITICAL + 1000) ||
			 (!strcmp(name, "system-cluster-critical") &&
			  v->valuedouble == PC_SYSTEM_CRITICAL);
		if (!ok)
			res_err(e, "FieldValueForbidden", "metadata.name",
				"Forbidden: priority class names with 'system-' prefix are reserved "
				"for system use only. error: name %s is not a known system priority "
				"class", name);
	} else if (v->valuedouble > PC_HIGHEST_USER) {
		res_err(e, "FieldValueForbidden", "value",
			"Forbidden: maximum allowed value of a user defined priority is %d",
			PC_HIGHEST_USER);
	}
	const char *pp = res_str(obj, "preemptionPolicy", "PreemptLowerPriority");
	if (strcmp(pp, "PreemptLowerPriority") && strcmp(pp, "Never"))
		res_err(e, "FieldValueNotSupported", "preemptionPolicy",
			"Unsupported value: \"%s\": supported values: \"Never\", "
			"\"PreemptLowerPriority\"", pp);
	if (old) {
		/* ValidatePriorityClassUpdate: value and preemptionPolicy are immutable. */
		if (res_num(obj, "value", 0) != res_num(old, "value", 0))
			res_err(e, "FieldValueForbidden", "value",
				"Forbidden: may not be changed in an update.");
		if (strcmp(pp, res_str(old, "preemptionPolicy", "PreemptLowerPriority")))
			res_err(e, "FieldValueInvalid", "preemptionPolicy",
				"Invalid value: \"%s\": field is immutable", pp);
	}
}

static const res_col pc_cols[] = {
	{ "Name", "string", "name", 0 },          { "Value", "integer", "", 0 },
	{ "Global-Default", "boolean", "", 0 },   { "Age", "string", "", 0 },
	{ "PreemptionPolicy", "string", "", 0 },
};

static void pc_row(const cJSON *obj, cJSON *cells, int64_t now)
{
	RES_CELL_NAME(cells, obj);
	RES_CELL_I(cells, res_num(obj, "value", 0));
	cJSON_AddItemToArray(cells,
			     cJSON_CreateBool(cJSON_IsTrue(res_path(obj, "globalDefault"))));
	res_cell_age(obj, cells, now);
	RES_CELL_S(cells, res_str(obj, "preemptionPolicy", ""));
}

const res_desc res_priorityclasses = {
	.group = "scheduling.k8s.io", .version = "v1", .kind = "PriorityClass",
	.list_kind = "PriorityClassList", .plural = "priorityclasses", .singular = "priorityclass",
	.short_names = { "pc" }, .defaults = pc_defaults, .validate = pc_validate,
	.cols = pc_cols, .ncols = 5, .row = pc_row,
};
