/* storage.k8s.io/v1 storageclasses: SetDefaults_StorageClass, ValidateStorageClass and
 * printStorageClass. */
#include "resource.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void sc_defaults(cJSON *obj)
{
	res_def_str(obj, "reclaimPolicy", "Delete");
	res_def_str(obj, "volumeBindingMode", "Immediate");
}

static void sc_validate(const cJSON *obj, const cJSON *old, res_errs *e)
{
	const char *prov = res_str(obj, "provisioner", "");
	if (!prov[0])
		res_err_required(e, "provisioner");
	const char *rp = res_str(obj, "reclaimPolicy", "Delete");
	if (strcmp(rp, "Delete") && strcmp(rp, "Retain"))
		res_err(e, "FieldValueNotSupported", "reclaimPolicy",
			"Unsupported value: \"%s\": supported values: \"Delete\", \"Retain\"", rp);
	const char *bm = res_str(obj, "volumeBindingMode", "Immediate");
	if (strcmp(bm, "Immediate") && strcmp(bm, "WaitForFirstConsumer"))
		res_err(e, "FieldValueNotSupported", "volumeBindingMode",
			"Unsupported value: \"%s\": supported values: \"Immediate\", "
			"\"WaitForFirstConsumer\"", bm);
	if (old) {
		/* ValidateStorageClassUpdate: parameters, provisioner, reclaimPolicy and
		 * volumeBindingMode are immutable. */
		static const char *const fixed[] = { "parameters", "provisioner", "reclaimPolicy",
						     "volumeBindingMode", NULL };
		for (int i = 0; fixed[i]; i++) {
			char *a = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(obj, fixed[i]));
			char *b = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(old, fixed[i]));
			if ((a || b) && (!a || !b || strcmp(a, b)))
				res_err(e, "FieldValueForbidden", fixed[i],
					"Forbidden: updates to %s are forbidden.", fixed[i]);
			cJSON_free(a);
			cJSON_free(b);
		}
	}
}

static const res_col sc_cols[] = {
	{ "Name", "string", "name", 0 },            { "Provisioner", "string", "", 0 },
	{ "ReclaimPolicy", "string", "", 0 },       { "VolumeBindingMode", "string", "", 0 },
	{ "AllowVolumeExpansion", "string", "", 0 }, { "Age", "string", "", 0 },
};

static void sc_row(const cJSON *obj, cJSON *cells, int64_t now)
{
	char name[300];
	const cJSON *ann = res_path(obj, "metadata.annotations");
	const cJSON *def = cJSON_GetObjectItemCaseSensitive(ann,
							   "storageclass.kubernetes.io/is-default-class");
	if (!def)
		def = cJSON_GetObjectItemCaseSensitive(ann,
						       "storageclass.beta.kubernetes.io/is-default-class");
	/* printStorageClass marks the default class "(default)". */
	snprintf(name, sizeof(name), "%s%s", res_str(obj, "metadata.name", ""),
		 cJSON_IsString(def) && !strcmp(def->valuestring, "true") ? " (default)" : "");
	RES_CELL_S(cells, name);
	RES_CELL_S(cells, res_str(obj, "provisioner", ""));
	RES_CELL_S(cells, res_str(obj, "reclaimPolicy", "Delete"));
	RES_CELL_S(cells, res_str(obj, "volumeBindingMode", "Immediate"));
	RES_CELL_S(cells, cJSON_IsTrue(res_path(obj, "allowVolumeExpansion")) ? "true" : "false");
	res_cell_age(obj, cells, now);
}

const res_desc res_storageclasses = {
	.group = "storage.k8s.io", .version = "v1", .kind = "StorageClass",
	.list_kind = "StorageClassList", .plural = "storageclasses", .singular = "storageclass",
	.short_names = { "sc" }, .defaults = sc_defaults, .validate = sc_validate,
	.cols = sc_cols, .ncols = 6, .row = sc_row,
};
