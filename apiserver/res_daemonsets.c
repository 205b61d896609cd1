/* apps/v1 daemonsets: SetDefaults_DaemonSet, ValidateDaemonSet and printDaemonSet. */
#include "res_workloads.h"

#include <stdio.h>
#include <string.h>

static void ds_defaults(cJSON *obj)
{
	cJSON *spec = res_obj(obj, "spec");
	cJSON *tmpl = res_obj(spec, "template");
	res_obj(tmpl, "metadata");
	res_pod_spec_defaults(res_obj(tmpl, "spec"));
	cJSON *us = res_obj(spec, "updateStrategy");
	res_def_str(us, "type", "RollingUpdate");
	if (!strcmp(res_str(us, "type", ""), "RollingUpdate")) {
		cJSON *ru = res_obj(us, "rollingUpdate");
		res_def_num(ru, "maxUnavailable", 1);
		res_def_num(ru, "maxSurge", 0);
	}
	res_def_num(spec, "revisionHistoryLimit", 10);
}

static void ds_validate(const cJSON *obj, const cJSON *old, res_errs *e)
{
	(void)old;
	/* The selector/template rules are the workloads' ones; a DaemonSet has no replicas. */
	wl_validate_selector_template(obj, e);
	const char *ut = res_str(obj, "spec.updateStrategy.type", "RollingUpdate");
	if (strcmp(ut, "RollingUpdate") && strcmp(ut, "OnDelete"))
		res_err(e, "FieldValueNotSupported", "spec.updateStrategy.type",
			"Unsupported value: \"%s\": supported values: \"OnDelete\", \"RollingUpdate\"",
			ut);
}

static const res_col ds_cols[] = {
	{ "Name", "string", "name", 0 },          { "Desired", "integer", "", 0 },
	{ "Current", "integer", "", 0 },          { "Ready", "integer", "", 0 },
	{ "Up-to-date", "integer", "", 0 },       { "Available", "integer", "", 0 },
	{ "Node Selector", "string", "", 0 },     { "Age", "string", "", 0 },
	{ "Containers", "string", "", 1 },        { "Images", "string", "", 1 },
	{ "Selector", "string", "", 1 },
};

static void ds_row(const cJSON *obj, cJSON *cells, int64_t now)
{
	char buf[512];
	RES_CELL_NAME(cells, obj);
	RES_CELL_I(cells, res_num(obj, "status.desiredNumberScheduled", 0));
	RES_CELL_I(cells, res_num(obj, "status.currentNumberScheduled", 0));
	RES_CELL_I(cells, res_num(obj, "status.numberReady", 0));
	RES_CELL_I(cells, res_num(obj, "status.updatedNumberScheduled", 0));
	RES_CELL_I(cells, res_num(obj, "status.numberAvailable", 0));
	res_labels_str(res_path(obj, "spec.template.spec.nodeSelector"), buf, sizeof(buf));
	RES_CELL_S(cells, buf);
	res_cell_age(obj, cells, now);
	res_containers_cells(res_path(obj, "spec.template.spec"), cells);
	res_selector_str(res_path(obj, "spec.selector"), buf, sizeof(buf));
	RES_CELL_S(cells, buf);
}

const res_desc res_daemonsets = {
	.group = "apps", .version = "v1", .kind = "DaemonSet", .list_kind = "DaemonSetList",
	.plural = "daemonsets", .singular = "daemonset", .short_names = { "ds" },
	.categories = { "all" }, .namespaced = 1, .has_status = 1, .gen_on_spec = 1,
	.defaults = ds_defaults, .validate = ds_validate, .cols = ds_cols, .ncols = 11,
	.row = ds_row,
};
