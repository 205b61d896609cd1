/* RFC 6902 JSON patch with RFC 6901 pointers, as evanphx/json-patch which the apiserver
 * uses: add, remove, replace, move, copy, test; "-" appends to an array. */
#include "patch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"

/* Splits "/a/b~1c" into decoded tokens; returns count or -1 if malformed. */
static int ptr_split(const char *ptr, char toks[][256], int max)
{
	if (!ptr[0])
		return 0;
	if (ptr[0] != '/')
		return -1;
	int n = 0;
	const char *p = ptr + 1;
	for (;;) {
		if (n >= max)
			return -1;
		size_t o = 0;
		while (*p && *p != '/') {
			char c = *p++;
			if (c == '~') {
				if (*p == '0')
					c = '~';
				else if (*p == '1')
					c = '/';
				else
					return -1;
				p++;
			}
			if (o + 1 >= 256)
				return -1;
			toks[n][o++] = c;
		}
		toks[n][o] = 0;
		n++;
		if (!*p)
			break;
		p++;
	}
	return n;
}

static int arr_index(const char *tok, int size, int allow_end)
{
	if (allow_end && !strcmp(tok, "-"))
		return size;
	if (!tok[0] || strspn(tok, "0123456789") != strlen(tok) || (tok[0] == '0' && tok[1]))
		return -1;
	long i = strtol(tok, NULL, 10);
	if (i > size - (allow_end ? 0 : 1))
		return -1;
	return (int)i;
}

/* Parent container of the pointer's last token; NULL when missing. */
static cJSON *resolve_parent(cJSON *doc, char toks[][256], int n)
{
	cJSON *cur = doc;
	for (int i = 0; i < n - 1 && cur; i++) {
		if (cJSON_IsObject(cur)) {
			cur = cJSON_GetObjectItemCaseSensitive(cur, toks[i]);
		} else if (cJSON_IsArray(cur)) {
			int idx = arr_index(toks[i], cJSON_GetArraySize(cur), 0);
			cur = idx < 0 ? NULL : cJSON_GetArrayItem(cur, idx);
		} else {
			cur = NULL;
		}
	}
	return cur;
}

static cJSON *get_at(cJSON *doc, char toks[][256], int n)
{
	if (n == 0)
		return doc;
	cJSON *parent = resolve_parent(doc, toks, n);
	if (cJSON_IsObject(parent))
		return cJSON_GetObjectItemCaseSensitive(parent, toks[n - 1]);
	if (cJSON_IsArray(parent)) {
		int idx = arr_index(toks[n - 1], cJSON_GetArraySize(parent), 0);
		return idx < 0 ? NULL : cJSON_GetArrayItem(parent, idx);
	}
	return NULL;
}

/* Detaches the value at the pointer; NULL when missing. */
static cJSON *detach_at(cJSON *doc, char toks[][256], int n)
{
	if (n == 0)
		return NULL;
	cJSON *parent = resolve_parent(doc, toks, n);
	if (cJSON_IsObject(parent))
		return cJSON_DetachItemFromObjectCaseSensitive(parent, toks[n - 1]);
	if (cJSON_IsArray(parent)) {
		int idx = arr_index(toks[n - 1], cJSON_GetArraySize(parent), 0);
		return idx < 0 ? NULL : cJSON_DetachItemFromArray(parent, idx);
	}
	return NULL;
}

/* Adds val (taken) at the pointer; replace=1 requires an existing target. */
static int put_at(cJSON **doc, char toks[][256], int n, cJSON *val, int replace)
{
	if (n == 0) {
		cJSON_Delete(*doc);
		*doc = val;
		return 0;
	}
	cJSON *parent = resolve_parent(*doc, toks, n);
	const char *last = toks[n - 1];
	if (cJSON_IsObject(parent)) {
		if (cJSON_GetObjectItemCaseSensitive(parent, last))
			cJSON_ReplaceItemInObjectCaseSensitive(parent, last, val);
		else if (replace)
			goto missing;
		else
			cJSON_AddItemToObject(parent, last, val);
		return 0;
	}
	if (cJSON_IsArray(parent)) {
		int size = cJSON_GetArraySize(parent);
		int idx = arr_index(last, size, !replace);
		if (idx < 0)
			goto missing;
		if (replace)
			cJSON_ReplaceItemInArray(parent, idx, val);
		else if (idx == size)
			cJSON_AddItemToArray(parent, val);
		else
			cJSON_InsertItemInArray(parent, idx, val);
		return 0;
	}
missing:
	cJSON_Delete(val);
	return KC_EINVALID;
}

int patch_json(const cJSON *doc, const cJSON *ops, cJSON **out, char *err, size_t errlen)
{
	*out = NULL;
	if (!cJSON_IsArray(ops)) {
		snprintf(err, errlen, "json: cannot unmarshal object into Go value of type "
				      "jsonpatch.Patch");
		return KC_EPARSE;
	}
	cJSON *res = cJSON_Duplicate(doc, 1);
	const cJSON *op;
	cJSON_ArrayForEach(op, ops)
	{
		const cJSON *jop = cJSON_GetObjectItemCaseSensitive(op, "op");
		const cJSON *jpath = cJSON_GetObjectItemCaseSensitive(op, "path");
		const cJSON *jval = cJSON_GetObjectItemCaseSensitive(op, "value");
		const cJSON *jfrom = cJSON_GetObjectItemCaseSensitive(op, "from");
		if (!cJSON_IsString(jop) || !cJSON_IsString(jpath)) {
			snprintf(err, errlen, "Unexpected kind: %s",
				 cJSON_IsString(jop) ? jop->valuestring : "unknown");
			cJSON_Delete(res);
			return KC_EPARSE;
		}
		const char *o = jop->valuestring, *path = jpath->valuestring;
		/* 16 KiB of pointer tokens each: heap, not the (small) MHD thread stacks. */
		char(*t)[256] = malloc(64 * 256);
		char(*ft)[256] = malloc(64 * 256);
		int rc = 0;
		int n = (t && ft) ? ptr_split(path, t, 64) : -1;
		if (n < 0) {
			snprintf(err, errlen, "invalid JSON pointer: %s", path);
			rc = KC_EPARSE;
		} else if (!strcmp(o, "add") || !strcmp(o, "replace")) {
			if (!jval) {
				snprintf(err, errlen, "missing value for %s operation", o);
				rc = KC_EPARSE;
			} else if (put_at(&res, t, n, cJSON_Duplicate(jval, 1), !strcmp(o, "replace"))) {
				snprintf(err, errlen, "%s operation does not apply: doc is missing "
						      "path: \"%s\": missing value",
					 !strcmp(o, "add") ? "add" : "replace", path);
				rc = KC_EINVALID;
			}
		} else if (!strcmp(o, "remove")) {
			cJSON *v = detach_at(res, t, n);
			if (!v) {
				snprintf(err, errlen, "remove operation does not apply: doc is missing "
						      "path: \"%s\": missing value", path);
				rc = KC_EINVALID;
			}
			cJSON_Delete(v);
		} else if (!strcmp(o, "test")) {
			cJSON *v = get_at(res, t, n);
			if (!v || !jval || !cJSON_Compare(v, jval, 1)) {
				snprintf(err, errlen, "testing value %s failed: test failed", path);
				rc = KC_EINVALID;
			}
		} else if (!strcmp(o, "move") || !strcmp(o, "copy")) {
			int fn = cJSON_IsString(jfrom) ? ptr_split(jfrom->valuestring, ft, 64) : -1;
			cJSON *v = NULL;
			if (fn >= 0)
				v = !strcmp(o, "move") ? detach_at(res, ft, fn)
						       : cJSON_Duplicate(get_at(res, ft, fn), 1);
			if (!v) {
				snprintf(err, errlen, "%s operation does not apply: doc is missing from "
						      "path: \"%s\": missing value",
					 o, cJSON_IsString(jfrom) ? jfrom->valuestring : "");
				rc = KC_EINVALID;
			} else if (put_at(&res, t, n, v, 0)) {
				snprintf(err, errlen, "%s operation does not apply: doc is missing "
						      "destination path: %s", o, path);
				rc = KC_EINVALID;
			}
		} else {
			snprintf(err, errlen, "Unexpected kind: %s", o);
			rc = KC_EPARSE;
		}
		free(t);
		free(ft);
		if (rc) {
			cJSON_Delete(res);
			return rc;
		}
	}
	*out = res;
	return 0;
}
