/* core/v1 configmaps and secrets: printConfigMap / printSecret. */
#include "resource.h"

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

static void secret_defaults(cJSON *obj)
{
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
