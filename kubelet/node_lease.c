/* Node heartbeat Lease.  See node_lease.h. */
#include "node_lease.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "errors.h"
#include "json.h"
#include "meta.h"

int64_t lease_renew_interval_ns(int32_t duration_s)
{
	return (int64_t)duration_s * 1000000000LL / 4;
}

cJSON *lease_build(const char *node_name, const char *node_uid, int32_t duration_s, int64_t now_ns,
		   const char *resource_version)
{
	char now[KC_TIME_BUFLEN];
	if (kc_meta_microtime_format(now_ns, now, sizeof(now)) < 0)
		return NULL;
	cJSON *l = cJSON_CreateObject();
	cJSON_AddStringToObject(l, "apiVersion", "coordination.k8s.io/v1");
	cJSON_AddStringToObject(l, "kind", "Lease");
	cJSON *md = cJSON_AddObjectToObject(l, "metadata");
	cJSON_AddStringToObject(md, "name", node_name);
	cJSON_AddStringToObject(md, "namespace", LEASE_NAMESPACE);
	if (resource_version && resource_version[0])
		cJSON_AddStringToObject(md, "resourceVersion", resource_version);
	if (node_uid && node_uid[0]) {
		cJSON *refs = cJSON_AddArrayToObject(md, "ownerReferences");
		cJSON *r = cJSON_CreateObject();
		cJSON_AddStringToObject(r, "apiVersion", "v1");
		cJSON_AddStringToObject(r, "kind", "Node");
		cJSON_AddStringToObject(r, "name", node_name);
		cJSON_AddStringToObject(r, "uid", node_uid);
		cJSON_AddItemToArray(refs, r);
	}
	cJSON *spec = cJSON_AddObjectToObject(l, "spec");
	cJSON_AddStringToObject(spec, "holderIdentity", node_name);
	cJSON_AddNumberToObject(spec, "leaseDurationSeconds", duration_s);
	cJSON_AddStringToObject(spec, "renewTime", now);
	return l;
}

static void take_rv(const cJSON *obj, char *rv, size_t rvlen)
{
	const char *v = kc_json_get_string(obj, "metadata.resourceVersion", "");
	snprintf(rv, rvlen, "%s", v);
}

int lease_renew(kc_client *c, const char *node_name, const char *node_uid, int32_t duration_s,
		int64_t now_ns, char *rv, size_t rvlen, kc_status *st)
{
	kc_ref ref = { .api_version = "coordination.k8s.io/v1", .resource = "leases", .ns = LEASE_NAMESPACE,
		       .name = node_name };
	kc_ref coll = ref;
	coll.name = NULL;
	for (int attempt = 0; attempt < 2; attempt++) {
		cJSON *out = NULL;
		int rc;
		if (!rv[0]) {
			/* unknown state: read it first (it may survive a kubelet restart) */
			rc = kc_client_get(c, &ref, NULL, &out, st);
			if (rc == KC_ENOTFOUND) {
				cJSON *l = lease_build(node_name, node_uid, duration_s, now_ns, NULL);
				if (!l)
					return -ENOMEM;
				rc = kc_client_create(c, &coll, l, &out, st);
				cJSON_Delete(l);
				if (rc == 0)
					take_rv(out, rv, rvlen);
				cJSON_Delete(out);
				if (rc == KC_EEXIST)
					continue;
				return rc;
			}
			if (rc < 0)
				return rc;
			take_rv(out, rv, rvlen);
			cJSON_Delete(out);
			out = NULL;
		}
		cJSON *l = lease_build(node_name, node_uid, duration_s, now_ns, rv);
		if (!l)
			return -ENOMEM;
		rc = kc_client_update(c, &ref, l, &out, st);
		cJSON_Delete(l);
		if (rc == 0) {
			take_rv(out, rv, rvlen);
			cJSON_Delete(out);
			return 0;
		}
		cJSON_Delete(out);
		if (rc != KC_ECONFLICT && rc != KC_ENOTFOUND)
			return rc;
		rv[0] = '\0'; /* someone else wrote it (or it was deleted): re-read */
	}
	return KC_ECONFLICT;
}
