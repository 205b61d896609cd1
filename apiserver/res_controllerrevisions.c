/* apps/v1 controllerrevisions: ValidateControllerRevision and printControllerRevision. */
#include "resource.h"

#include <stdio.h>
#include <string.h>

static void cr_validate(const cJSON *obj, const cJSON *old, res_errs *e)
{
	double rev = res_num(obj, "revision", 0);
	if (rev < 0)
		res_err(e, "FieldValueInvalid", "revision",
			"Invalid value: %lld: must be greater than or equal to 0", (long long)rev);
	if (old) {
		/* ValidateControllerRevisionUpdate: data is immutable. */
		char *a = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(obj, "data"));
		char *b = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(old, "data"));
		if ((a || b) && (!a || !b || strcmp(a, b)))
			res_err(e, "FieldValueInvalid", "data", "Invalid value: \"\": field is immutable");
		cJSON_free(a);
		cJSON_free(b);
	}
}

static const res_col cr_cols[] = {
	{ "Name", "string", "name", 0 },
	{ "Controller", "string", "", 0 },
	{ "Revision", "integer", "", 0 },
	{ "Age", "string", "", 0 },
};

static void cr_row(const cJSON *obj, cJSON *cells, int64_t now)
{
	char ctrl[400] = "<none>";
	const cJSON *o;
	cJSON_ArrayForEach(o, res_path(obj, "metadata.ownerReferences"))
	{
		if (!cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "controller")))
			continue;
		/* printControllerRevision: "<kind>.<group>/<name>" of the controller. */
		const char *av = res_str(o, "apiVersion", "");
		const char *slash = strchr(av, '/');
		char group[128] = "";
		if (slash)
			snprintf(group, sizeof(group), "%.*s", (int)(slash - av), av);
		char kind[64];
		snprintf(kind, sizeof(kind), "%s", res_str(o, "kind", ""));
		for (char *p = kind; *p; p++)
			*p = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
		snprintf(ctrl, sizeof(ctrl), "%s%s%s/%s", kind, group[0] ? "." : "", group,
			 res_str(o, "name", ""));
		break;
	}
	RES_CELL_NAME(cells, obj);
	RES_CELL_S(cells, ctrl);
	RES_CELL_I(cells, res_num(obj, "revision", 0));
	res_cell_age(obj, cells, now);
}

const res_desc res_controllerrevisions = {
	.group = "apps", .version = "v1", .kind = "ControllerRevision",
	.list_kind = "ControllerRevisionList", .plural = "controllerrevisions",
	.singular = "controllerrevision", .namespaced = 1, .validate = cr_validate,
	.cols = cr_cols, .ncols = 4, .row = cr_row,
};
