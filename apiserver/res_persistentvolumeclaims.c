/* core/v1 persistentvolumeclaims: SetDefaults_PersistentVolumeClaim,
 * ValidatePersistentVolumeClaim and printPersistentVolumeClaim. */
#include "res_volumes.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void pvc_defaults(cJSON *obj)
{
	cJSON *spec = res_obj(obj, "spec");
	res_def_str(spec, "volumeMode", "Filesystem");
	res_def_str(res_obj(obj, "status"), "phase", "Pending");
}

static void pvc_validate(const cJSON *obj, const cJSON *old, res_errs *e)
{
	vol_validate_access_modes(res_path(obj, "spec.accessModes"), "spec.accessModes", e);
	if (!res_str(obj, "spec.resources.requests.storage", NULL))
		res_err_required(e, "spec.resources[storage]");
	const char *vm = res_str(obj, "spec.volumeMode", "Filesystem");
	if (strcmp(vm, "Filesystem") && strcmp(vm, "Block"))
		res_err(e, "FieldValueNotSupported", "spec.volumeMode",
			"Unsupported value: \"%s\": supported values: \"Block\", \"Filesystem\"", vm);
	if (old) {
		/* ValidatePersistentVolumeClaimUpdate: only resources.requests (and
		 * volumeAttributesClassName) may change once created. */
		cJSON *a = cJSON_Duplicate(res_path(obj, "spec"), 1);
		cJSON *b = cJSON_Duplicate(res_path(old, "spec"), 1);
		static const char *const mutable_[] = { "resources", "volumeAttributesClassName",
							"volumeName", NULL };
		for (int i = 0; mutable_[i]; i++) {
			cJSON_DeleteItemFromObjectCaseSensitive(a, mutable_[i]);
			cJSON_DeleteItemFromObjectCaseSensitive(b, mutable_[i]);
		}
		char *sa = cJSON_PrintUnformatted(a), *sb = cJSON_PrintUnformatted(b);
		if (sa && sb && strcmp(sa, sb))
			res_err(e, "FieldValueForbidden", "spec",
				"Forbidden: spec is immutable after creation except "
				"resources.requests and volumeAttributesClassName for bound claims");
		cJSON_free(sa);
		cJSON_free(sb);
		cJSON_Delete(a);
		cJSON_Delete(b);
	}
}

static const res_col pvc_cols[] = {
	{ "Name", "string", "name", 0 },          { "Status", "string", "", 0 },
	{ "Volume", "string", "", 0 },            { "Capacity", "string", "", 0 },
	{ "Access Modes", "string", "", 0 },      { "StorageClass", "string", "", 0 },
	{ "VolumeAttributesClass", "string", "", 0 }, { "Age", "string", "", 0 },
	{ "VolumeMode", "string", "", 1 },
};

static void pvc_row(const cJSON *obj, cJSON *cells, int64_t now)
{
	char buf[100];
	RES_CELL_NAME(cells, obj);
	/* A claim being deleted reads "Terminating" as in printPersistentVolumeClaim. */
	RES_CELL_S(cells, res_str(obj, "metadata.deletionTimestamp", NULL)
				  ? "Terminating"
				  : res_str(obj, "status.phase", ""));
	RES_CELL_S(cells, res_str(obj, "spec.volumeName", ""));
	RES_CELL_S(cells, res_str(obj, "status.capacity.storage", ""));
	vol_access_modes(res_path(obj, "status.accessModes"), buf, sizeof(buf));
	RES_CELL_S(cells, buf);
	RES_CELL_S(cells, res_str(obj, "spec.storageClassName", ""));
	RES_CELL_S(cells, res_none(res_str(obj, "spec.volumeAttributesClassName", NULL)));
	res_cell_age(obj, cells, now);
	RES_CELL_S(cells, res_str(obj, "spec.volumeMode", "<unset>"));
}

const res_desc res_persistentvolumeclaims = {
	.group = "", .version = "v1", .kind = "PersistentVolumeClaim",
	.list_kind = "PersistentVolumeClaimList", .plural = "persistentvolumeclaims",
	.singular = "persistentvolumeclaim", .short_names = { "pvc" }, .namespaced = 1,
	.has_status = 1, .defaults = pvc_defaults, .validate = pvc_validate, .cols = pvc_cols,
	.ncols = 9, .row = pvc_row,
};
