/* Adoption and release of children (see controller_ref.h). */
#include "controller_ref.h"

#include <string.h>

#include "errors.h"
#include "json.h"
#include "log.h"
#include "meta.h"

const cJSON *cm_controller_ref_of_kind(const cJSON *obj, const char *kind)
{
	const cJSON *ref = kc_meta_controller_ref(obj);
	if (!ref || strcmp(kc_json_get_string(ref, "kind", ""), kind))
		return NULL;
	return ref;
}

static cJSON *owner_ref_json(const cm_owner *o)
{
	cJSON *r = cJSON_CreateObject();
	cJSON_AddStringToObject(r, "apiVersion", o->api_version);
	cJSON_AddStringToObject(r, "kind", o->kind);
	cJSON_AddStringToObject(r, "name", kc_meta_name(o->obj));
	cJSON_AddStringToObject(r, "uid", kc_meta_uid(o->obj));
	cJSON_AddBoolToObject(r, "controller", 1);
	cJSON_AddBoolToObject(r, "blockOwnerDeletion", 1);
	return r;
}

/* {"metadata":{"ownerReferences":[ref],"uid":"<child uid>"}} */
static cJSON *refs_patch(cJSON *ref, const char *child_uid)
{
	cJSON *p = cJSON_CreateObject();
	cJSON *md = cJSON_AddObjectToObject(p, "metadata");
	cJSON *arr = cJSON_AddArrayToObject(md, "ownerReferences");
	cJSON_AddItemToArray(arr, ref);
	cJSON_AddStringToObject(md, "uid", child_uid);
	return p;
}

int cm_claim(cm_api *api, const char *child_resource, const cm_owner *owner,
	     const kc_label_selector *sel, const cJSON *children, cJSON **claimed)
{
	*claimed = cJSON_CreateArray();
	if (!*claimed)
		return -ENOMEM;
	const char *ouid = kc_meta_uid(owner->obj);
	bool owner_deleting = *kc_meta_deletion_timestamp(owner->obj) != 0;
	int first_err = 0;
	const cJSON *child;
	cJSON_ArrayForEach(child, children)
	{
		const cJSON *ref = kc_meta_controller_ref(child);
		bool match = kc_selector_matches_object(sel, child);
		const char *ns = kc_meta_namespace(child), *name = kc_meta_name(child);
		if (ref) {
			if (strcmp(kc_json_get_string(ref, "uid", ""), ouid))
				continue; /* someone else's */
			if (match) {
				cJSON_AddItemToArray(*claimed, kc_json_dup(child));
				continue;
			}
			if (owner_deleting)
				continue;
			cJSON *d = cJSON_CreateObject();
			cJSON_AddStringToObject(d, "$patch", "delete");
			cJSON_AddStringToObject(d, "uid", ouid);
			cJSON *p = refs_patch(d, kc_meta_uid(child));
			int rc = api->patch(api, child_resource, ns, name, KC_PATCH_STRATEGIC, p,
					    NULL);
			cJSON_Delete(p);
			kc_log_v(2, "releasing %s %s/%s from %s %s: %s", child_resource, ns, name,
				 owner->kind, kc_meta_name(owner->obj),
				 rc < 0 ? kc_strerror(rc) : "ok");
			/* gone or already changed: nothing left to release (upstream ignores
			 * NotFound and Invalid here) */
			if (rc < 0 && rc != KC_ENOTFOUND && rc != KC_EINVALID && !first_err)
				first_err = rc;
			continue;
		}
		if (!match || owner_deleting || *kc_meta_deletion_timestamp(child))
			continue;
		cJSON *p = refs_patch(owner_ref_json(owner), kc_meta_uid(child));
		cJSON *out = NULL;
		int rc = api->patch(api, child_resource, ns, name, KC_PATCH_STRATEGIC, p, &out);
		cJSON_Delete(p);
		if (rc == 0) {
			kc_log_v(2, "adopted %s %s/%s into %s %s", child_resource, ns, name,
				 owner->kind, kc_meta_name(owner->obj));
			if (!out) {
				out = kc_json_dup(child);
				kc_owner_ref o = { owner->api_version, owner->kind,
						   kc_meta_name(owner->obj), ouid, true, true };
				kc_meta_add_owner_ref(out, &o);
			}
			cJSON_AddItemToArray(*claimed, out);
		} else if (rc != KC_ENOTFOUND && !first_err) {
			first_err = rc;
		}
	}
	return first_err;
}
