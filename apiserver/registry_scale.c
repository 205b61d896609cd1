/* The scale subresource (autoscaling/v1 Scale) of Deployments, ReplicaSets and
 * StatefulSets: a view of spec.replicas, status.replicas and the selector, written back
 * through the main registry's update path. */
#include "registry.h"
#include "registry_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "labels.h"
#include "meta.h"
#include "patch.h"
#include "status.h"

static cJSON *to_scale(const cJSON *obj)
{
	cJSON *s = cJSON_CreateObject();
	cJSON_AddStringToObject(s, "kind", "Scale");
	cJSON_AddStringToObject(s, "apiVersion", "autoscaling/v1");
	cJSON *md = cJSON_AddObjectToObject(s, "metadata");
	static const char *const f[] = { "name", "namespace", "uid", "resourceVersion",
					 "creationTimestamp", NULL };
	for (int i = 0; f[i]; i++) {
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(
			cJSON_GetObjectItemCaseSensitive(obj, "metadata"), f[i]);
		if (v)
			cJSON_AddItemToObject(md, f[i], cJSON_Duplicate(v, 1));
	}
	cJSON_AddNumberToObject(cJSON_AddObjectToObject(s, "spec"), "replicas",
				res_num(obj, "spec.replicas", 0));
	cJSON *st = cJSON_AddObjectToObject(s, "status");
	cJSON_AddNumberToObject(st, "replicas", res_num(obj, "status.replicas", 0));
	char sel[512] = "";
	kc_label_selector ls;
	if (!kc_selector_from_json(res_path(obj, "spec.selector"), &ls, NULL, 0)) {
		char *str = kc_selector_string(&ls);
		if (str)
			snprintf(sel, sizeof(sel), "%s", str);
		free(str);
	}
	kc_selector_close(&ls);
	cJSON_AddStringToObject(st, "selector", sel);
	return s;
}

int reg_get_scale(reg *r, const res_desc *d, const char *ns, const char *name, cJSON **out)
{
	cJSON *obj;
	int code = reg_get(r, d, ns, name, &obj);
	if (code != 200) {
		*out = obj;
		return code;
	}
	*out = to_scale(obj);
	cJSON_Delete(obj);
	return 200;
}

int reg_set_scale(reg *r, const res_desc *d, const char *ns, const char *name,
		  const char *ctype, const cJSON *body, int dry_run, cJSON **out)
{
	for (int attempt = 0; attempt < REG_RETRIES; attempt++) {
		cJSON *obj, *st = NULL;
		int code = reg_get(r, d, ns, name, &obj);
		if (code != 200) {
			*out = obj;
			return code;
		}
		cJSON *cur = to_scale(obj), *want = NULL;
		if (ctype) {
			char err[256];
			int rc = !strncmp(ctype, "application/json-patch+json", 27)
					 ? patch_json(cur, body, &want, err, sizeof(err))
					 : patch_merge(cur, body, &want, err, sizeof(err));
			if (rc)
				st = st_bad_request("%s", err);
		} else {
			want = cJSON_Duplicate(body, 1);
		}
		cJSON_Delete(cur);
		if (st) {
			cJSON_Delete(obj);
			return reg__fail(out, st);
		}
		cJSON *rep = res_path(want, "spec.replicas");
		const char *wrv = kc_json_get_string(want, "metadata.resourceVersion", "");
		res_errs e = { 0 };
		if (!cJSON_IsNumber(rep) || rep->valuedouble < 0)
			res_err(&e, "FieldValueInvalid", "spec.replicas",
				"Invalid value: %d: must be greater than or equal to 0",
				cJSON_IsNumber(rep) ? rep->valueint : 0);
		if (e.n) {
			static const res_desc scale_desc = { .group = "autoscaling", .kind = "Scale",
							     .plural = "scale" };
			st = st_invalid(&scale_desc, name, &e);
			cJSON_Delete(want);
			cJSON_Delete(obj);
			return reg__fail(out, st);
		}
		if (!ctype && wrv[0] && strcmp(wrv, kc_meta_resource_version(obj))) {
			cJSON_Delete(want);
			cJSON_Delete(obj);
			return reg__fail(out, st_conflict(d, name, ST_MODIFIED));
		}
		cJSON *nobj = cJSON_Duplicate(obj, 1);
		kc_json_set_int64(nobj, "spec.replicas", (int64_t)rep->valuedouble);
		cJSON_Delete(want);
		char key[512];
		reg_key(r, d, ns, name, key, sizeof(key));
		int64_t mod = strtoll(kc_meta_resource_version(obj), NULL, 10);
		nobj = reg__prepare_update(r, d, obj, nobj, REG_MAIN);
		int conflict;
		cJSON *res = NULL;
		code = reg__write_update(r, d, key, obj, mod, nobj, dry_run, &conflict, &res);
		cJSON_Delete(obj);
		if (conflict && ctype) {
			cJSON_Delete(res);
			continue;
		}
		if (code != 200) {
			*out = res;
			return code;
		}
		*out = to_scale(res);
		cJSON_Delete(res);
		return 200;
	}
	return reg__fail(out, st_conflict(d, name, ST_MODIFIED));
}

