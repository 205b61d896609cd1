/* apps/v1 replicasets: SetDefaults_ReplicaSet, ValidateReplicaSet, printReplicaSet. */
#include "res_workloads.h"

#include <stdio.h>
#include <string.h>

static void rs_validate(const cJSON *obj, const cJSON *old, res_errs *e)
{
	(void)old;
	wl_validate_selector_template(obj, e);
}

static const res_col rs_cols[] = {
	{ "Name", "string", "name", 0 },   { "Desired", "integer", "", 0 },
	{ "Current", "integer", "", 0 },   { "Ready", "integer", "", 0 },
	{ "Age", "string", "", 0 },        { "Containers", "string", "", 1 },
	{ "Images", "string", "", 1 },     { "Selector", "string", "", 1 },
};

static void rs_row(const cJSON *obj, cJSON *cells, int64_t now)
{
	char buf[512];
	RES_CELL_NAME(cells, obj);
	RES_CELL_I(cells, res_num(obj, "spec.replicas", 0));
	RES_CELL_I(cells, res_num(obj, "status.replicas", 0));
	RES_CELL_I(cells, res_num(obj, "status.readyReplicas", 0));
	res_cell_age(obj, cells, now);
	res_containers_cells(res_path(obj, "spec.template.spec"), cells);
	res_selector_str(res_path(obj, "spec.selector"), buf, sizeof(buf));
	RES_CELL_S(cells, buf);
}

static const char *rs_field(const cJSON *obj, const char *path, char *buf, size_t n)
{
	if (!strcmp(path, "status.replicas")) {
		snprintf(buf, n, "%d", (int)res_num(obj, path, 0));
		return buf;
	}
	return NULL;
}

const res_desc res_replicasets = {
	.group = "apps", .version = "v1", .kind = "ReplicaSet", .list_kind = "ReplicaSetList",
	.plural = "replicasets", .singular = "replicaset", .short_names = { "rs" },
	.categories = { "all" }, .namespaced = 1, .has_status = 1, .scale = 1,
	.gen_on_spec = 1, .defaults = wl_defaults, .validate = rs_validate, .cols = rs_cols,
	.ncols = 8, .row = rs_row, .field = rs_field,
};
