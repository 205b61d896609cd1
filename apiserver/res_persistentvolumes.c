/* core/v1 persistentvolumes: SetDefaults_PersistentVolume, ValidatePersistentVolume (the
 * parts this milestone checks) and printPersistentVolume. */
#include "res_volumes.h"

#include <stdio.h>
#include <string.h>

void vol_access_modes(const cJSON *modes, char *buf, size_t n)
{
	/* Fixed order as GetAccessModesAsString, each at most once. */
	static const char *const full[] = { "ReadWriteOnce", "ReadOnlyMany", "ReadWriteMany",
					    "ReadWriteOncePod", NULL };
	static const char *const abbr[] = { "RWO", "ROX", "RWX", "RWOP" };
	size_t off = 0;
	buf[0] = 0;
	for (int i = 0; full[i]; i++) {
		const cJSON *m;
		int has = 0;
		cJSON_ArrayForEach(m, modes)
			has |= cJSON_IsString(m) && !strcmp(m->valuestring, full[i]);
		if (has && off < n)
			off += (size_t)snprintf(buf + off, n - off, "%s%s", off ? "," : "", abbr[i]);
	}
}

void vol_validate_access_modes(const cJSON *modes, const char *path, res_errs *e)
{
	if (!cJSON_GetArraySize(modes)) {
		res_err_required(e, path);
		return;
	}
	const cJSON *m;
	cJSON_ArrayForEach(m, modes)
	{
		const char *s = cJSON_IsString(m) ? m->valuestring : "";
		if (strcmp(s, "ReadWriteOnce") && strcmp(s, "ReadOnlyMany") &&
		    strcmp(s, "ReadWriteMany") && strcmp(s, "ReadWriteOncePod"))
			res_err(e, "FieldValueNotSupported", path,
				"Unsupported value: \"%s\": supported values: \"ReadOnlyMany\", "
				"\"ReadWriteMany\", \"ReadWriteOnce\", \"ReadWriteOncePod\"", s);
	}
}

static void pv_defaults(cJSON *obj)
{
	cJSON *spec = res_obj(obj, "spec");
	res_def_str(spec, "persistentVolumeReclaimPolicy", "Retain");
	res_def_str(spec, "volumeMode", "Filesystem");
	res_def_str(res_obj(obj, "status"), "phase", "Pending");
}

/* The volume sources a PV may name (exactly one). */
static const char *const pv_sources[] = {
	"hostPath", "local", "nfs", "csi", "iscsi", "fc", "rbd", "cephfs", "cinder", "flexVolume",
	"azureFile", "azureDisk", "gcePersistentDisk", "awsElasticBlockStore", "glusterfs",
	"vsphereVolume", "quobyte", "portworxVolume", "scaleIO", "storageos", "photonPersistentDisk",
	"flocker", NULL,
};

static void pv_validate(const cJSON *obj, const cJSON *old, res_errs *e)
{
	(void)old;
	vol_validate_access_modes(res_path(obj, "spec.accessModes"), "spec.accessModes", e);
	if (!res_str(obj, "spec.capacity.storage", NULL))
		res_err_required(e, "spec.capacity");
	int nsrc = 0;
	for (int i = 0; pv_sources[i]; i++)
		nsrc += cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(res_path(obj, "spec"),
									 pv_sources[i]));
	if (!nsrc)
		res_err_required(e, "spec");
	else if (nsrc > 1)
		res_err(e, "FieldValueForbidden", "spec",
			"Forbidden: may not specify more than 1 volume type");
	const char *rp = res_str(obj, "spec.persistentVolumeReclaimPolicy", "Retain");
	if (strcmp(rp, "Retain") && strcmp(rp, "Delete") && strcmp(rp, "Recycle"))
		res_err(e, "FieldValueNotSupported", "spec.persistentVolumeReclaimPolicy",
			"Unsupported value: \"%s\": supported values: \"Delete\", \"Recycle\", "
			"\"Retain\"", rp);
}

static const res_col pv_cols[] = {
	{ "Name", "string", "name", 0 },         { "Capacity", "string", "", 0 },
	{ "Access Modes", "string", "", 0 },     { "Reclaim Policy", "string", "", 0 },
	{ "Status", "string", "", 0 },           { "Claim", "string", "", 0 },
	{ "StorageClass", "string", "", 0 },     { "VolumeAttributesClass", "string", "", 0 },
	{ "Reason", "string", "", 0 },           { "Age", "string", "", 0 },
	{ "VolumeMode", "string", "", 1 },
};

static void pv_row(const cJSON *obj, cJSON *cells, int64_t now)
{
	char buf[300];
	RES_CELL_NAME(cells, obj);
	RES_CELL_S(cells, res_str(obj, "spec.capacity.storage", ""));
	vol_access_modes(res_path(obj, "spec.accessModes"), buf, sizeof(buf));
	RES_CELL_S(cells, buf);
	RES_CELL_S(cells, res_str(obj, "spec.persistentVolumeReclaimPolicy", ""));
	RES_CELL_S(cells, res_str(obj, "status.phase", ""));
	buf[0] = 0;
	if (res_str(obj, "spec.claimRef.name", NULL))
		snprintf(buf, sizeof(buf), "%s/%s", res_str(obj, "spec.claimRef.namespace", ""),
			 res_str(obj, "spec.claimRef.name", ""));
	RES_CELL_S(cells, buf);
	RES_CELL_S(cells, res_str(obj, "spec.storageClassName", ""));
	RES_CELL_S(cells, res_none(res_str(obj, "spec.volumeAttributesClassName", NULL)));
	RES_CELL_S(cells, res_str(obj, "status.reason", ""));
	res_cell_age(obj, cells, now);
	RES_CELL_S(cells, res_str(obj, "spec.volumeMode", "<unset>"));
}

const res_desc res_persistentvolumes = {
	.group = "", .version = "v1", .kind = "PersistentVolume",
	.list_kind = "PersistentVolumeList", .plural = "persistentvolumes",
	.singular = "persistentvolume", .short_names = { "pv" }, .has_status = 1,
	.defaults = pv_defaults, .validate = pv_validate, .cols = pv_cols, .ncols = 11,
	.row = pv_row,
};
