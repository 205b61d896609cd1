/* RFC 7386 JSON merge patch: objects merge recursively, null deletes, anything else
 * (arrays included) replaces. */
#include "patch.h"

#include <stdio.h>

#include "errors.h"

static cJSON *merge(const cJSON *target, const cJSON *patch)
{
	if (!cJSON_IsObject(patch))
		return cJSON_Duplicate(patch, 1);
	cJSON *res = cJSON_IsObject(target) ? cJSON_Duplicate(target, 1) : cJSON_CreateObject();
	const cJSON *p;
	cJSON_ArrayForEach(p, patch)
	{
		if (cJSON_IsNull(p)) {
			cJSON_DeleteItemFromObjectCaseSensitive(res, p->string);
			continue;
		}
		cJSON *cur = cJSON_GetObjectItemCaseSensitive(res, p->string);
		cJSON *m = merge(cur, p);
		if (cur)
			cJSON_ReplaceItemInObjectCaseSensitive(res, p->string, m);
		else
			cJSON_AddItemToObject(res, p->string, m);
	}
	return res;
}

int patch_merge(const cJSON *doc, const cJSON *patch, cJSON **out, char *err, size_t errlen)
{
	*out = NULL;
	if (!cJSON_IsObject(patch)) {
		snprintf(err, errlen, "json: cannot unmarshal %s into Go value of type "
				      "map[string]interface {}",
			 cJSON_IsArray(patch) ? "array" : "non-object");
		return KC_EPARSE;
	}
	*out = merge(doc, patch);
	return 0;
}
