/* apps/v1 deployments: pkg/apis/apps/v1/defaults.go SetDefaults_Deployment,
 * ValidateDeployment and printDeployment. */
#include "res_workloads.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int labels_match(const cJSON *match, const cJSON *labels)
{
	const cJSON *it;
	cJSON_ArrayForEach(it, match)
	{
		const char *v = res_str(labels, it->string, NULL);
		if (!cJSON_IsString(it) || !v || strcmp(v, it->valuestring))
			return 0;
	}
	return 1;
}

void wl_defaults(cJSON *obj)
{
	cJSON *spec = res_obj(obj, "spec");
	res_def_num(spec, "replicas", 1);
	cJSON *tmpl = res_obj(spec, "template");
	res_obj(tmpl, "metadata");
	res_pod_spec_defaults(res_obj(tmpl, "spec"));
}

void wl_validate_selector_template(const cJSON *obj, res_errs *e)
{
	cJSON *sel = res_path(obj, "spec.selector");
	if (!cJSON_IsObject(sel) ||
	    (!cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(sel, "matchLabels")) &&
	     !cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(sel, "matchExpressions")))) {
		res_err_required(e, "spec.selector");
	} else {
		cJSON *labels = res_path(obj, "spec.template.metadata.labels");
		if (!labels_match(cJSON_GetObjectItemCaseSensitive(sel, "matchLabels"), labels)) {
			/* Upstream prints the Go map with %#v. */
			char m[512] = "";
			size_t off = 0;
			const cJSON *it;
			cJSON_ArrayForEach(it, labels)
			{
				if (cJSON_IsString(it) && off < sizeof(m))
					off += (size_t)snprintf(m + off, sizeof(m) - off,
								"%s\"%s\":\"%s\"", off ? ", " : "",
								it->string, it->valuestring);
			}
			res_err(e, "FieldValueInvalid", "spec.template.metadata.labels",
				"Invalid value: map[string]string{%s}: `selector` does not match "
				"template `labels`",
				m);
		}
	}
	double r = res_num(obj, "spec.replicas", 0);
	if (r < 0)
		res_err(e, "FieldValueInvalid", "spec.replicas",
			"Invalid value: %d: must be greater than or equal to 0", (int)r);
	res_pod_spec_validate(res_path(obj, "spec.template.spec"), "spec.template.spec", e);
	const char *rp = res_str(obj, "spec.template.spec.restartPolicy", "Always");
	if (strcmp(rp, "Always"))
		res_err(e, "FieldValueNotSupported", "spec.template.spec.restartPolicy",
			"Unsupported value: \"%s\": supported values: \"Always\"", rp);
}

static void deploy_defaults(cJSON *obj)
{
	wl_defaults(obj);
	cJSON *spec = res_obj(obj, "spec");
	cJSON *strategy = res_obj(spec, "strategy");
	res_def_str(strategy, "type", "RollingUpdate");
	if (!strcmp(res_str(strategy, "type", ""), "RollingUpdate")) {
		cJSON *ru = res_obj(strategy, "rollingUpdate");
		res_def_str(ru, "maxUnavailable", "25%");
		res_def_str(ru, "maxSurge", "25%");
	}
	res_def_num(spec, "revisionHistoryLimit", 10);
	res_def_num(spec, "progressDeadlineSeconds", 600);
}

static void deploy_validate(const cJSON *obj, const cJSON *old, res_errs *e)
{
	wl_validate_selector_template(obj, e);
	if (old) {
		/* The selector is immutable in apps/v1. */
		char *a = cJSON_PrintUnformatted(res_path(obj, "spec.selector"));
		char *b = cJSON_PrintUnformatted(res_path(old, "spec.selector"));
		if (a && b && strcmp(a, b))
			res_err(e, "FieldValueInvalid", "spec.selector",
				"Invalid value: %s: field is immutable", a);
		free(a);
		free(b);
	}
}

static const res_col deploy_cols[] = {
	{ "Name", "string", "name", 0 },      { "Ready", "string", "", 0 },
	{ "Up-to-date", "integer", "", 0 },   { "Available", "integer", "", 0 },
	{ "Age", "string", "", 0 },           { "Containers", "string", "", 1 },
	{ "Images", "string", "", 1 },        { "Selector", "string", "", 1 },
};

static void deploy_row(const cJSON *obj, cJSON *cells, int64_t now)
{
	char buf[512];
	RES_CELL_NAME(cells, obj);
	snprintf(buf, sizeof(buf), "%d/%d", (int)res_num(obj, "status.readyReplicas", 0),
		 (int)res_num(obj, "spec.replicas", 0));
	RES_CELL_S(cells, buf);
	RES_CELL_I(cells, res_num(obj, "status.updatedReplicas", 0));
	RES_CELL_I(cells, res_num(obj, "status.availableReplicas", 0));
	res_cell_age(obj, cells, now);
	res_containers_cells(res_path(obj, "spec.template.spec"), cells);
	res_selector_str(res_path(obj, "spec.selector"), buf, sizeof(buf));
	RES_CELL_S(cells, buf);
}

const res_desc res_deployments = {
	.group = "apps", .version = "v1", .kind = "Deployment", .list_kind = "DeploymentList",
	.plural = "deployments", .singular = "deployment", .short_names = { "deploy" },
	.categories = { "all" }, .namespaced = 1, .has_status = 1, .scale = 1,
	.gen_on_spec = 1, .defaults = deploy_defaults, .validate = deploy_validate,
	.cols = deploy_cols, .ncols = 8, .row = deploy_row,
};
