/* apps/v1 statefulsets: SetDefaults_StatefulSet (pkg/apis/apps/v1/defaults.go),
 * ValidateStatefulSet and printStatefulSet. */
#include "res_workloads.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void sts_defaults(cJSON *obj)
{
	wl_defaults(obj);
	cJSON *spec = res_obj(obj, "spec");
	res_def_str(spec, "podManagementPolicy", "OrderedReady");
	cJSON *us = res_obj(spec, "updateStrategy");
	res_def_str(us, "type", "RollingUpdate");
	if (!strcmp(res_str(us, "type", ""), "RollingUpdate"))
		res_def_num(res_obj(us, "rollingUpdate"), "partition", 0);
	res_def_num(spec, "revisionHistoryLimit", 10);
	cJSON *rp = res_obj(spec, "persistentVolumeClaimRetentionPolicy");
	res_def_str(rp, "whenDeleted", "Retain");
	res_def_str(rp, "whenScaled", "Retain");
}

static void sts_validate(const cJSON *obj, const cJSON *old, res_errs *e)
{
	wl_validate_selector_template(obj, e);
	const char *pmp = res_str(obj, "spec.podManagementPolicy", "OrderedReady");
	if (strcmp(pmp, "OrderedReady") && strcmp(pmp, "Parallel"))
		res_err(e, "FieldValueNotSupported", "spec.podManagementPolicy",
			"Unsupported value: \"%s\": supported values: \"OrderedReady\", \"Parallel\"",
			pmp);
	const char *ut = res_str(obj, "spec.updateStrategy.type", "RollingUpdate");
	if (strcmp(ut, "RollingUpdate") && strcmp(ut, "OnDelete"))
		res_err(e, "FieldValueNotSupported", "spec.updateStrategy.type",
			"Unsupported value: \"%s\": supported values: \"OnDelete\", \"RollingUpdate\"",
			ut);
	if (old) {
		/* ValidateStatefulSetUpdate: only replicas, ordinals, template, updateStrategy,
		 * revisionHistoryLimit, persistentVolumeClaimRetentionPolicy and minReadySeconds
		 * may change. */
		static const char *const fixed[] = { "selector", "serviceName", "podManagementPolicy",
						     "volumeClaimTemplates", NULL };
		int changed = 0;
		for (int i = 0; fixed[i]; i++) {
			char p[64];
			snprintf(p, sizeof(p), "spec.%s", fixed[i]);
			char *a = cJSON_PrintUnformatted(res_path(obj, p));
			char *b = cJSON_PrintUnformatted(res_path(old, p));
			if ((a || b) && (!a || !b || strcmp(a, b)))
				changed = 1;
			free(a);
			free(b);
		}
		if (changed)
			res_err(e, "FieldValueForbidden", "spec",
				"Forbidden: updates to statefulset spec for fields other than "
				"'replicas', 'ordinals', 'template', 'updateStrategy', "
				"'revisionHistoryLimit', 'persistentVolumeClaimRetentionPolicy' and "
				"'minReadySeconds' are forbidden");
	}
}

static const res_col sts_cols[] = {
	{ "Name", "string", "name", 0 },   { "Ready", "string", "", 0 },
	{ "Age", "string", "", 0 },        { "Containers", "string", "", 1 },
	{ "Images", "string", "", 1 },
};

static void sts_row(const cJSON *obj, cJSON *cells, int64_t now)
{
	char buf[64];
	RES_CELL_NAME(cells, obj);
	snprintf(buf, sizeof(buf), "%d/%d", (int)res_num(obj, "status.readyReplicas", 0),
		 (int)res_num(obj, "spec.replicas", 0));
	RES_CELL_S(cells, buf);
	res_cell_age(obj, cells, now);
	res_containers_cells(res_path(obj, "spec.template.spec"), cells);
}

const res_desc res_statefulsets = {
	.group = "apps", .version = "v1", .kind = "StatefulSet", .list_kind = "StatefulSetList",
	.plural = "statefulsets", .singular = "statefulset", .short_names = { "sts" },
	.categories = { "all" }, .namespaced = 1, .has_status = 1, .scale = 1,
	.gen_on_spec = 1, .defaults = sts_defaults, .validate = sts_validate, .cols = sts_cols,
	.ncols = 5, .row = sts_row,
};
