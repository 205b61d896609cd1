/* core/v1 namespaces: pkg/registry/core/namespace/strategy.go, printNamespace. */
#include "resource.h"

#include <string.h>

static void ns_defaults(cJSON *obj)
{
	/* The NamespaceDefaultLabelName feature: kubernetes.io/metadata.name = name. */
	cJSON *labels = res_obj(res_obj(obj, "metadata"), "labels");
	const char *name = res_str(obj, "metadata.name", "");
	cJSON_DeleteItemFromObjectCaseSensitive(labels, "kubernetes.io/metadata.name");
	cJSON_AddStringToObject(labels, "kubernetes.io/metadata.name", name);
	cJSON *spec = res_obj(obj, "spec");
	if (!cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(spec, "finalizers"))) {
		cJSON_DeleteItemFromObjectCaseSensitive(spec, "finalizers");
		cJSON *f = cJSON_AddArrayToObject(spec, "finalizers");
		cJSON_AddItemToArray(f, cJSON_CreateString("kubernetes"));
	}
	res_def_str(res_obj(obj, "status"), "phase", "Active");
}

static void ns_validate(const cJSON *obj, const cJSON *old, res_errs *e)
{
	(void)obj;
	(void)old;
	(void)e;
}

static const res_col ns_cols[] = {
	{ "Name", "string", "name", 0 },
	{ "Status", "string", "", 0 },
	{ "Age", "string", "", 0 },
};

static void ns_row(const cJSON *obj, cJSON *cells, int64_t now)
{
	RES_CELL_NAME(cells, obj);
	RES_CELL_S(cells, res_str(obj, "status.phase", ""));
	res_cell_age(obj, cells, now);
}

static const char *ns_field(const cJSON *obj, const char *path, char *buf, size_t n)
{
	(void)buf;
	(void)n;
	if (!strcmp(path, "status.phase"))
		return res_str(obj, path, "");
	return NULL;
}

const res_desc res_namespaces = {
	.group = "", .version = "v1", .kind = "Namespace", .list_kind = "NamespaceList",
	.plural = "namespaces", .singular = "namespace", .short_names = { "ns" },
	.namespaced = 0, .has_status = 1, .defaults = ns_defaults, .validate = ns_validate,
	.cols = ns_cols, .ncols = 3, .row = ns_row, .field = ns_field,
};
