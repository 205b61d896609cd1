/* core/v1 serviceaccounts: printServiceAccount. */
#include "resource.h"

static const res_col sa_cols[] = {
	{ "Name", "string", "name", 0 },
	{ "Secrets", "integer", "", 0 },
	{ "Age", "string", "", 0 },
};

static void sa_row(const cJSON *obj, cJSON *cells, int64_t now)
{
	RES_CELL_NAME(cells, obj);
	RES_CELL_I(cells, cJSON_GetArraySize(res_path(obj, "secrets")));
	res_cell_age(obj, cells, now);
}

const res_desc res_serviceaccounts = {
	.group = "", .version = "v1", .kind = "ServiceAccount",
	.list_kind = "ServiceAccountList", .plural = "serviceaccounts",
	.singular = "serviceaccount", .short_names = { "sa" }, .namespaced = 1,
	.cols = sa_cols, .ncols = 3, .row = sa_row,
};
