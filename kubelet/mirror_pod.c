/* Mirror pods; see mirror_pod.h. */
#include "mirror_pod.h"

#include <stdio.h>
#include <string.h>

#include "errors.h"
#include "json.h"
#include "log.h"
#include "static_pods.h"

static const char *ann(const cJSON *pod, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(kc_json_get(pod, "metadata.annotations"), key);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* DeleteMirrorPod: gracePeriodSeconds 0 with the uid as precondition, so a mirror pod
 * created again meanwhile is not the one deleted */
static int delete_mirror(kc_client *api, const cJSON *mirror, const char *why)
{
	const char *ns = kc_json_get_string(mirror, "metadata.namespace", "default");
	const char *name = kc_json_get_string(mirror, "metadata.name", "");
	cJSON *opts = cJSON_CreateObject();
	if (!opts)
		return -1;
	cJSON_AddStringToObject(opts, "kind", "DeleteOptions");
	cJSON_AddStringToObject(opts, "apiVersion", "v1");
	cJSON_AddNumberToObject(opts, "gracePeriodSeconds", 0);
	cJSON *pre = cJSON_AddObjectToObject(opts, "preconditions");
	cJSON_AddStringToObject(pre, "uid", kc_json_get_string(mirror, "metadata.uid", ""));
	kc_ref ref = { .api_version = "v1", .resource = "pods", .ns = ns, .name = name };
	kc_status st;
	int rc = kc_client_delete(api, &ref, opts, NULL, &st);
	cJSON_Delete(opts);
	if (rc < 0 && rc != KC_ENOTFOUND && rc != KC_ECONFLICT) {
		kc_error("\"Failed deleting a mirror pod\" pod=\"%s/%s\" err=\"%s\"", ns, name,
			 st.message[0] ? st.message : kc_strerror(rc));
		return -1;
	}
	kc_info("\"Deleting mirror pod\" pod=\"%s/%s\" reason=\"%s\"", ns, name, why);
	return 0;
}

static int create_mirror(kc_client *api, const cJSON *pod, const char *node, const char *node_uid)
{
	const char *ns = kc_json_get_string(pod, "metadata.namespace", "default");
	const char *name = kc_json_get_string(pod, "metadata.name", "");
	cJSON *m = sp_mirror_pod(pod, node, node_uid);
	if (!m)
		return -1;
	kc_ref ref = { .api_version = "v1", .resource = "pods", .ns = ns };
	kc_status st;
	int rc = kc_client_create(api, &ref, m, NULL, &st);
	cJSON_Delete(m);
	if (rc == KC_EEXIST || rc == KC_ECONFLICT)
		return 0; /* the informer has not seen it yet; the next pass checks its hash */
	if (rc < 0) {
		kc_error("\"Failed creating a mirror pod\" pod=\"%s/%s\" err=\"%s\"", ns, name,
			 st.message[0] ? st.message : kc_strerror(rc));
		return -1;
	}
	kc_info("\"Creating a mirror pod for static pod\" pod=\"%s/%s\"", ns, name);
	return 0;
}

typedef struct orphan_ctx {
	const cJSON *statics;
	const char *node;
	cJSON *gone; /* mirror pods to delete (copies) */
} orphan_ctx;

static int find_orphan(const cJSON *obj, void *arg)
{
	orphan_ctx *o = arg;
	if (!sp_is_mirror(obj) || strcmp(kc_json_get_string(obj, "spec.nodeName", ""), o->node))
		return 0;
	const char *name = kc_json_get_string(obj, "metadata.name", "");
	const char *ns = kc_json_get_string(obj, "metadata.namespace", "default");
	const cJSON *p;
	cJSON_ArrayForEach(p, o->statics)
	{
		if (!strcmp(kc_json_get_string(p, "metadata.name", ""), name) &&
		    !strcmp(kc_json_get_string(p, "metadata.namespace", ""), ns))
			return 0;
	}
	cJSON *d = kc_json_dup(obj);
	if (d)
		cJSON_AddItemToArray(o->gone, d);
	return 0;
}

int mp_sync(kc_client *api, kc_informer *inf, const cJSON *static_pods, const char *node_name, const char *node_uid)
{
	int failed = 0;
	const cJSON *p;
	cJSON_ArrayForEach(p, static_pods)
	{
		char key[600];
		snprintf(key, sizeof(key), "%s/%s", kc_json_get_string(p, "metadata.namespace", "default"),
			 kc_json_get_string(p, "metadata.name", ""));
		cJSON *cur = NULL;
		int rc = kc_informer_get(inf, key, &cur);
		if (rc == KC_ENOTFOUND) {
			if (node_uid && node_uid[0])
				failed += create_mirror(api, p, node_name, node_uid) < 0;
			continue;
		}
		if (rc < 0)
			continue;
		const char *h = ann(cur, SP_ANN_MIRROR), *want = ann(p, SP_ANN_HASH);
		if (!h) {
			/* a pod that is not a mirror holds the name: left alone, as upstream (the
			 * mirror cannot be created while it exists) */
			kc_log_v(2, "\"A pod that is not a mirror pod has the static pod's name\" pod=\"%s\"", key);
		} else if (kc_json_get(cur, "metadata.deletionTimestamp")) {
			failed += delete_mirror(api, cur, "mirror pod is being deleted") < 0;
		} else if (!want || strcmp(h, want)) {
			failed += delete_mirror(api, cur, "mirror pod hash differs from the static pod's") < 0;
		}
		cJSON_Delete(cur);
	}
	orphan_ctx o = { .statics = static_pods, .node = node_name, .gone = cJSON_CreateArray() };
	if (!o.gone)
		return failed + 1;
	kc_informer_foreach(inf, NULL, NULL, find_orphan, &o);
	cJSON_ArrayForEach(p, o.gone)
	failed += delete_mirror(api, p, "orphaned mirror pod: its static pod is gone") < 0;
	cJSON_Delete(o.gone);
	return failed;
}
