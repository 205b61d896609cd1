#include "table.h"

#include <string.h>

#include "json.h"

int tbl_wanted(const char *accept)
{
	if (!accept)
		return 0;
	/* The first acceptable clause wins; kubectl lists Table first. */
	const char *p = strstr(accept, "as=Table");
	if (!p)
		return 0;
	const char *g = strstr(accept, "g=meta.k8s.io");
	return g != NULL;
}

enum tbl_include tbl_include_parse(const char *v)
{
	if (v && !strcmp(v, "Object"))
		return TBL_INCLUDE_OBJECT;
	if (v && !strcmp(v, "None"))
		return TBL_INCLUDE_NONE;
	return TBL_INCLUDE_METADATA;
}

/* Default table (printers' default handler): Name, Created At. */
static const res_col default_cols[] = {
	{ "Name", "string", "name", 0 },
	{ "Created At", "date", "", 0 },
};

/* Upstream's column descriptions come from the API docs; the name is an acceptable
 * stand-in for "Name" and the others carry the OpenAPI field description upstream. */
static void add_columns(cJSON *t, const res_col *cols, int n)
{
	cJSON *cd = cJSON_AddArrayToObject(t, "columnDefinitions");
	for (int i = 0; i < n; i++) {
		cJSON *c = cJSON_CreateObject();
		cJSON_AddStringToObject(c, "name", cols[i].name);
		cJSON_AddStringToObject(c, "type", cols[i].type);
		cJSON_AddStringToObject(c, "format", cols[i].format);
		cJSON_AddStringToObject(c, "description",
					!strcmp(cols[i].name, "Name")
						? "Name must be unique within a namespace. Is required "
						  "when creating resources, although some resources "
						  "may allow a client to request the generation of an "
						  "appropriate name automatically. Name is primarily "
						  "intended for creation idempotence and configuration "
						  "definition. Cannot be updated. More info: "
						  "https://kubernetes.io/docs/concepts/overview/"
						  "working-with-objects/names#names"
						: cols[i].name);
		cJSON_AddNumberToObject(c, "priority", cols[i].priority);
		cJSON_AddItemToArray(cd, c);
	}
}

static cJSON *partial_meta(const cJSON *obj)
{
	cJSON *p = cJSON_CreateObject();
	cJSON_AddStringToObject(p, "kind", "PartialObjectMetadata");
	cJSON_AddStringToObject(p, "apiVersion", "meta.k8s.io/v1");
	const cJSON *md = cJSON_GetObjectItemCaseSensitive(obj, "metadata");
	cJSON *m = md ? cJSON_Duplicate(md, 1) : cJSON_CreateObject();
	cJSON_DeleteItemFromObjectCaseSensitive(m, "managedFields");
	cJSON_AddItemToObject(p, "metadata", m);
	return p;
}

static void add_row(const res_desc *d, cJSON *rows, const cJSON *obj, enum tbl_include inc,
		    int64_t now)
{
	cJSON *row = cJSON_CreateObject();
	cJSON *cells = cJSON_AddArrayToObject(row, "cells");
	if (d->cols && d->row) {
		d->row(obj, cells, now);
	} else {
		RES_CELL_NAME(cells, obj);
		RES_CELL_S(cells, kc_json_get_string(obj, "metadata.creationTimestamp", ""));
	}
	if (inc == TBL_INCLUDE_METADATA)
		cJSON_AddItemToObject(row, "object", partial_meta(obj));
	else if (inc == TBL_INCLUDE_OBJECT)
		cJSON_AddItemToObject(row, "object", cJSON_Duplicate(obj, 1));
	cJSON_AddItemToArray(rows, row);
}

cJSON *tbl_render(const res_desc *d, const cJSON *objs, enum tbl_include inc, int columns,
		  const char *rv, const char *continue_tok, int64_t now_sec)
{
	cJSON *t = cJSON_CreateObject();
	cJSON_AddStringToObject(t, "kind", "Table");
	cJSON_AddStringToObject(t, "apiVersion", "meta.k8s.io/v1");
	cJSON *md = cJSON_AddObjectToObject(t, "metadata");
	if (rv)
		cJSON_AddStringToObject(md, "resourceVersion", rv);
	if (continue_tok && continue_tok[0])
		cJSON_AddStringToObject(md, "continue", continue_tok);
	if (columns)
		add_columns(t, d->cols ? d->cols : default_cols, d->cols ? d->ncols : 2);
	else
		cJSON_AddNullToObject(t, "columnDefinitions");
	cJSON *rows = cJSON_AddArrayToObject(t, "rows");
	if (cJSON_IsArray(objs)) {
		const cJSON *o;
		cJSON_ArrayForEach(o, objs)
			add_row(d, rows, o, inc, now_sec);
	} else if (cJSON_IsObject(objs)) {
		add_row(d, rows, objs, inc, now_sec);
	}
	return t;
}
