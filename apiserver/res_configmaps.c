/* core/v1 configmaps and secrets: printConfigMap / printSecret. */
#include "resource.h"

#include <stdlib.h>

#include "etcd.h"

#include <stdio.h>
#include <string.h>

static const res_col cm_cols[] = {
	{ "Name", "string", "name", 0 },
	{ "Data", "integer", "", 0 },
	{ "Age", "string", "", 0 },
};

static int data_count(const cJSON *obj)
{
	return cJSON_GetArraySize(res_path(obj, "data")) +
	       cJSON_GetArraySize(res_path(obj, "binaryData"));
}

static void cm_row(const cJSON *obj, cJSON *cells, int64_t now)
{
	RES_CELL_NAME(cells, obj);
	RES_CELL_I(cells, data_count(obj));
	res_cell_age(obj, cells, now);
}

/* ValidateConfigMap: data values must be strings, keys [-._a-zA-Z0-9]+. */
static void data_validate(const cJSON *obj, const char *key, res_errs *e)
{
	const cJSON *it;
	cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(obj, key))
	{
		char f[200];
		snprintf(f, sizeof(f), "%s[%s]", key, it->string);
		size_t len = strlen(it->string);
		if (!len || strspn(it->string, "-._abcdefghijklmnopqrstuvwxyz"
					       "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") != len)
			res_err(e, "FieldValueInvalid", f,
				"Invalid value: \"%.100s\": a valid config key must consist of "
				"alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or "
				"'KEY_NAME',  or 'key-name', regex used for validation is "
				"'[-._a-zA-Z0-9]+')",
				it->string);
		if (!cJSON_IsString(it))
			res_err(e, "FieldValueInvalid", f, "Invalid value: must be a string");
	}
}

static void cm_validate(const cJSON *obj, const cJSON *old, res_errs *e)
{
	(void)old;
	data_validate(obj, "data", e);
	data_validate(obj, "binaryData", e);
}

const res_desc res_configmaps = {
	.group = "", .version = "v1", .kind = "ConfigMap", .list_kind = "ConfigMapList",
	.plural = "configmaps", .singular = "configmap", .short_names = { "cm" },
	.namespaced = 1, .validate = cm_validate, .cols = cm_cols, .ncols = 3, .row = cm_row,
};

/* stringData is write-only: upstream's conversion to the internal type merges it into
 * data (a stringData key wins over the same data key) and never stores it. */
static void secret_merge_string_data(cJSON *obj)
{
	cJSON *sd = cJSON_DetachItemFromObjectCaseSensitive(obj, "stringData");
	if (!cJSON_IsObject(sd) || !sd->child) {
		cJSON_Delete(sd);
		return;
	}
	cJSON *data = cJSON_GetObjectItemCaseSensitive(obj, "data");
	if (!cJSON_IsObject(data)) {
		cJSON_DeleteItemFromObjectCaseSensitive(obj, "data");
		data = cJSON_AddObjectToObject(obj, "data");
	}
	for (cJSON *kv = sd->child; data && kv; kv = kv->next) {
		const char *v = cJSON_IsString(kv) ? kv->valuestring : "";
		char *b64 = NULL;
		if (kc_etcd_b64_encode(v, strlen(v), &b64) < 0)
			break;
		cJSON *item = cJSON_CreateString(b64);
		free(b64);
		if (!item)
			break;
		if (cJSON_GetObjectItemCaseSensitive(data, kv->string))
			cJSON_ReplaceItemInObjectCaseSensitive(data, kv->string, item);
		else
			cJSON_AddItemToObject(data, kv->string, item);
	}
	cJSON_Delete(sd);
}

static void secret_defaults(cJSON *obj)
{
	secret_merge_string_data(obj);
	/* kubectl create secret generic sends an empty type: SetDefaults_Secret -> Opaque. */
	res_def_str(obj, "type", "Opaque");
}

static void secret_validate(const cJSON *obj, const cJSON *old, res_errs *e)
{
	data_validate(obj, "data", e);
	if (old && strcmp(res_str(obj, "type", ""), res_str(old, "type", "")))
		res_err(e, "FieldValueInvalid", "type",
			"Invalid value: \"%s\": field is immutable", res_str(obj, "type", ""));
}

static const res_col secret_cols[] = {
	{ "Name", "string", "name", 0 },
	{ "Type", "string", "", 0 },
	{ "Data", "integer", "", 0 },
	{ "Age", "string", "", 0 },
};

static void secret_row(const cJSON *obj, cJSON *cells, int64_t now)
{
	RES_CELL_NAME(cells, obj);
	RES_CELL_S(cells, res_str(obj, "type", ""));
	RES_CELL_I(cells, data_count(obj));
	res_cell_age(obj, cells, now);
}

static const char *secret_field(const cJSON *obj, const char *path, char *buf, size_t n)
{
	(void)buf;
	(void)n;
	return !strcmp(path, "type") ? res_str(obj, "type", "") : NULL;
}

const res_desc res_secrets = {
	.group = "", .version = "v1", .kind = "Secret", .list_kind = "SecretList",
	.plural = "secrets", .singular = "secret", .namespaced = 1,
	.defaults = secret_defaults, .validate = secret_validate, .cols = secret_cols,
	.ncols = 4, .row = secret_row, .field = secret_field,
};
