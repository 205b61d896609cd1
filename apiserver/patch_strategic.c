/* Strategic merge patch (k8s.io/apimachinery/pkg/util/strategicpatch/patch.go) for the
 * built-in kinds: a merge patch in which lists with a patch merge key are merged element by
 * element, with the directives $patch (replace|delete|merge), $retainKeys,
 * $deleteFromPrimitiveList/<f> and $setElementOrder/<f>. The merge keys come from the
 * `patchMergeKey` tags of k8s.io/api types; lists without one are replaced. */
#include "patch.h"

#include <stdio.h>
#include <string.h>

#include "errors.h"

typedef struct smp_ctx {
	const char *kind;
	char *err;
	size_t errlen;
	int rc;
} smp_ctx;

/* path: dotted, list elements as "[]", e.g. "spec.template.spec.containers[]". */
static const char *merge_key(const smp_ctx *c, const char *path, const char *field,
			     int *primitive_merge)
{
	*primitive_merge = 0;
	if (!strcmp(field, "ports")) {
		size_t pl = strlen(path);
		if (pl >= 2 && !strcmp(path + pl - 2, "[]"))
			return "containerPort"; /* Container.Ports */
		if (!strcmp(c->kind, "Service") && !strcmp(path, "spec"))
			return "port"; /* ServiceSpec.Ports */
		return NULL;       /* EndpointSubset/EndpointSlice ports: atomic */
	}
	if (!strcmp(field, "finalizers") && !strcmp(path, "metadata")) {
		*primitive_merge = 1; /* ObjectMeta.Finalizers: patchStrategy=merge */
		return NULL;
	}
	static const struct {
		const char *field, *key;
	} keys[] = {
		{ "containers", "name" },       { "initContainers", "name" },
		{ "ephemeralContainers", "name" }, { "volumes", "name" },
		{ "env", "name" },              { "imagePullSecrets", "name" },
		{ "resourceClaims", "name" },   { "volumeMounts", "mountPath" },
		{ "volumeDevices", "devicePath" }, { "conditions", "type" },
		{ "ownerReferences", "uid" },   { "hostAliases", "ip" },
		{ "podIPs", "ip" },             { "hostIPs", "ip" },
		{ "addresses", "type" },        { "topologySpreadConstraints", "topologyKey" },
		{ "secrets", "name" },          { "schedulingGates", "name" },
	};
	if (!strcmp(field, "addresses") && strcmp(c->kind, "Node"))
		return NULL; /* only NodeStatus.Addresses has a merge key */
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (!strcmp(keys[i].field, field))
			return keys[i].key;
	return NULL;
}

static int is_directive(const char *k)
{
	return k && (k[0] == '$');
}

/* Deep copy of a patch value with directives removed, as upstream does when the original
 * has nothing to merge into. Elements that are {"$patch":"delete"} vanish. */
static cJSON *strip(const cJSON *v)
{
	if (cJSON_IsObject(v)) {
		cJSON *o = cJSON_CreateObject();
		const cJSON *it;
		cJSON_ArrayForEach(it, v)
		{
			if (is_directive(it->string) || cJSON_IsNull(it))
				continue;
			cJSON_AddItemToObject(o, it->string, strip(it));
		}
		return o;
	}
	if (cJSON_IsArray(v)) {
		cJSON *a = cJSON_CreateArray();
		const cJSON *it;
		cJSON_ArrayForEach(it, v)
		{
			const cJSON *d = cJSON_GetObjectItemCaseSensitive(it, "$patch");
			if (cJSON_IsString(d))
				continue;
			cJSON_AddItemToArray(a, strip(it));
		}
		return a;
	}
	return cJSON_Duplicate(v, 1);
}

static cJSON *merge_map(smp_ctx *c, const cJSON *orig, const cJSON *patch, const char *path);

static int elem_match(const cJSON *a, const cJSON *b, const char *key)
{
	const cJSON *x = cJSON_GetObjectItemCaseSensitive(a, key);
	const cJSON *y = cJSON_GetObjectItemCaseSensitive(b, key);
	return x && y && cJSON_Compare(x, y, 1);
}

/* Reorders list in place following order ($setElementOrder): listed elements first in that
 * order, then the others in their current relative order. */
static void apply_order(cJSON *list, const cJSON *order, const char *key)
{
	if (!cJSON_IsArray(order))
		return;
	cJSON *sorted = cJSON_CreateArray();
	const cJSON *o;
	cJSON_ArrayForEach(o, order)
	{
		int n = cJSON_GetArraySize(list);
		for (int i = 0; i < n; i++) {
			cJSON *e = cJSON_GetArrayItem(list, i);
			int m = key ? elem_match(e, o, key) : cJSON_Compare(e, o, 1);
			if (m) {
				cJSON_AddItemToArray(sorted, cJSON_DetachItemFromArray(list, i));
				break;
			}
		}
	}
	while (cJSON_GetArraySize(list) > 0)
		cJSON_AddItemToArray(sorted, cJSON_DetachItemFromArray(list, 0));
	while (cJSON_GetArraySize(sorted) > 0)
		cJSON_AddItemToArray(list, cJSON_DetachItemFromArray(sorted, 0));
	cJSON_Delete(sorted);
}

static cJSON *merge_list(smp_ctx *c, const cJSON *orig, const cJSON *patch, const char *path,
			 const char *key, int primitive_merge)
{
	/* A {"$patch":"replace"} element replaces the whole list with the others. */
	const cJSON *it;
	cJSON_ArrayForEach(it, patch)
	{
		const cJSON *d = cJSON_GetObjectItemCaseSensitive(it, "$patch");
		if (cJSON_IsString(d) && !strcmp(d->valuestring, "replace"))
			return strip(patch);
	}
	if (primitive_merge) {
		cJSON *res = cJSON_Duplicate(orig, 1);
		cJSON_ArrayForEach(it, patch)
		{
			int have = 0;
			const cJSON *e;
			cJSON_ArrayForEach(e, res)
				have |= cJSON_Compare(e, it, 1);
			if (!have)
				cJSON_AddItemToArray(res, cJSON_Duplicate(it, 1));
		}
		return res;
	}
	if (!key)
		return strip(patch);
	cJSON *res = cJSON_Duplicate(orig, 1);
	char epath[512];
	snprintf(epath, sizeof(epath), "%s[]", path);
	cJSON_ArrayForEach(it, patch)
	{
		if (!cJSON_IsObject(it)) {
			snprintf(c->err, c->errlen, "unable to find api field in struct for the "
						    "list element of %s", path);
			c->rc = KC_EINVALID;
			break;
		}
		if (!cJSON_GetObjectItemCaseSensitive(it, key)) {
			snprintf(c->err, c->errlen, "map: %s does not contain declared merge key: %s",
				 "element", key);
			c->rc = KC_EINVALID;
			break;
		}
		const cJSON *d = cJSON_GetObjectItemCaseSensitive(it, "$patch");
		int del = cJSON_IsString(d) && !strcmp(d->valuestring, "delete");
		int n = cJSON_GetArraySize(res), found = -1;
		for (int i = 0; i < n; i++)
			if (elem_match(cJSON_GetArrayItem(res, i), it, key)) {
				found = i;
				break;
			}
		if (del) {
			if (found >= 0)
				cJSON_DeleteItemFromArray(res, found);
		} else if (found >= 0) {
			cJSON *m = merge_map(c, cJSON_GetArrayItem(res, found), it, epath);
			if (m)
				cJSON_ReplaceItemInArray(res, found, m);
			else
				cJSON_DeleteItemFromArray(res, found);
		} else {
			cJSON_AddItemToArray(res, strip(it));
		}
	}
	return res;
}

/* Returns the merged map, or NULL when the patch says {"$patch":"delete"}. */
static cJSON *merge_map(smp_ctx *c, const cJSON *orig, const cJSON *patch, const char *path)
{
	const cJSON *d = cJSON_GetObjectItemCaseSensitive(patch, "$patch");
	if (cJSON_IsString(d)) {
		if (!strcmp(d->valuestring, "delete"))
			return NULL;
		if (!strcmp(d->valuestring, "replace"))
			return strip(patch);
		if (strcmp(d->valuestring, "merge")) {
			snprintf(c->err, c->errlen, "Unknown patch type: %s", d->valuestring);
			c->rc = KC_EINVALID;
		}
	}
	cJSON *res = cJSON_IsObject(orig) ? cJSON_Duplicate(orig, 1) : cJSON_CreateObject();
	const cJSON *p;
	cJSON_ArrayForEach(p, patch)
	{
		const char *k = p->string;
		if (!strncmp(k, "$deleteFromPrimitiveList/", 25)) {
			cJSON *l = cJSON_GetObjectItemCaseSensitive(res, k + 25);
			const cJSON *v;
			cJSON_ArrayForEach(v, p)
			{
				for (int i = cJSON_GetArraySize(l) - 1; i >= 0; i--)
					if (cJSON_Compare(cJSON_GetArrayItem(l, i), v, 1))
						cJSON_DeleteItemFromArray(l, i);
			}
			continue;
		}
		if (is_directive(k))
			continue;
		cJSON *cur = cJSON_GetObjectItemCaseSensitive(res, k);
		if (cJSON_IsNull(p)) {
			cJSON_DeleteItemFromObjectCaseSensitive(res, k);
			continue;
		}
		char sub[512];
		snprintf(sub, sizeof(sub), "%s%s%s", path, path[0] ? "." : "", k);
		cJSON *m;
		if (cJSON_IsObject(p) && cJSON_IsObject(cur)) {
			m = merge_map(c, cur, p, sub);
		} else if (cJSON_IsArray(p) && cJSON_IsArray(cur)) {
			int prim;
			const char *key = merge_key(c, path, k, &prim);
			m = merge_list(c, cur, p, path, key, prim);
		} else if (cJSON_IsObject(p)) {
			m = merge_map(c, NULL, p, sub);
		} else {
			m = strip(p);
		}
		if (!m)
			cJSON_DeleteItemFromObjectCaseSensitive(res, k);
		else if (cur)
			cJSON_ReplaceItemInObjectCaseSensitive(res, k, m);
		else
			cJSON_AddItemToObject(res, k, m);
	}
	/* Second pass: element order, then $retainKeys. */
	cJSON_ArrayForEach(p, patch)
	{
		const char *k = p->string;
		if (!strncmp(k, "$setElementOrder/", 17)) {
			int prim;
			cJSON *l = cJSON_GetObjectItemCaseSensitive(res, k + 17);
			if (cJSON_IsArray(l))
				apply_order(l, p, merge_key(c, path, k + 17, &prim));
		}
	}
	const cJSON *rk = cJSON_GetObjectItemCaseSensitive(patch, "$retainKeys");
	if (cJSON_IsArray(rk)) {
		cJSON *it = res->child;
		while (it) {
			cJSON *next = it->next;
			int keep = 0;
			const cJSON *r;
			cJSON_ArrayForEach(r, rk)
				keep |= cJSON_IsString(r) && !strcmp(r->valuestring, it->string);
			if (!keep)
				cJSON_Delete(cJSON_DetachItemViaPointer(res, it));
			it = next;
		}
	}
	return res;
}

int patch_strategic(const cJSON *doc, const cJSON *patch, const char *kind, cJSON **out,
		    char *err, size_t errlen)
{
	*out = NULL;
	if (!cJSON_IsObject(patch)) {
		snprintf(err, errlen, "json: cannot unmarshal %s into Go value of type "
				      "map[string]interface {}",
			 cJSON_IsArray(patch) ? "array" : "non-object");
		return KC_EPARSE;
	}
	smp_ctx c = { .kind = kind ? kind : "", .err = err, .errlen = errlen, .rc = 0 };
	cJSON *res = merge_map(&c, doc, patch, "");
	if (c.rc) {
		cJSON_Delete(res);
		return c.rc;
	}
	if (!res)
		res = cJSON_CreateObject();
	*out = res;
	return 0;
}
