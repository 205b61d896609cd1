/* ServiceAccount admission; see admission_serviceaccount.h. */
#include "admission_serviceaccount.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "json.h"
#include "log.h"
#include "meta.h"
#include "status.h"

#define MIRROR_ANNOTATION "kubernetes.io/config.mirror"

int sa_should_automount(const cJSON *sa, const cJSON *pod)
{
	/* Pod's preference wins, then the service account's, default true for backwards
	 * compatibility (upstream's shouldAutomount). */
	const cJSON *p = kc_json_get(pod, "spec.automountServiceAccountToken");
	if (cJSON_IsBool(p))
		return cJSON_IsTrue(p);
	const cJSON *s = sa ? cJSON_GetObjectItemCaseSensitive(sa, "automountServiceAccountToken") : NULL;
	if (cJSON_IsBool(s))
		return cJSON_IsTrue(s);
	return 1;
}

cJSON *sa_token_volume_source(void)
{
	cJSON *proj = cJSON_CreateObject();
	cJSON *src = cJSON_AddArrayToObject(proj, "sources");
	cJSON *s = cJSON_CreateObject();
	cJSON *tok = cJSON_AddObjectToObject(s, "serviceAccountToken");
	cJSON_AddNumberToObject(tok, "expirationSeconds", SA_WARN_ONLY_EXPIRATION);
	cJSON_AddStringToObject(tok, "path", "token");
	cJSON_AddItemToArray(src, s);
	s = cJSON_CreateObject();
	cJSON *cm = cJSON_AddObjectToObject(s, "configMap");
	cJSON_AddStringToObject(cm, "name", "kube-root-ca.crt");
	cJSON *items = cJSON_AddArrayToObject(cm, "items");
	cJSON *it = cJSON_CreateObject();
	cJSON_AddStringToObject(it, "key", "ca.crt");
	cJSON_AddStringToObject(it, "path", "ca.crt");
	cJSON_AddItemToArray(items, it);
	cJSON_AddItemToArray(src, s);
	s = cJSON_CreateObject();
	cJSON *dapi = cJSON_AddObjectToObject(s, "downwardAPI");
	items = cJSON_AddArrayToObject(dapi, "items");
	it = cJSON_CreateObject();
	cJSON_AddStringToObject(it, "path", "namespace");
	cJSON *fr = cJSON_AddObjectToObject(it, "fieldRef");
	cJSON_AddStringToObject(fr, "apiVersion", "v1");
	cJSON_AddStringToObject(fr, "fieldPath", "metadata.namespace");
	cJSON_AddItemToArray(items, it);
	cJSON_AddItemToArray(src, s);
	/* Set explicitly (kubernetes#104464): 0644. */
	cJSON_AddNumberToObject(proj, "defaultMode", 420);
	return proj;
}

/* Adds the mount to every container of list that has none at the token path; returns
 * whether any needed it. */
static int mount_in(cJSON *list, const char *volname)
{
	int needed = 0;
	cJSON *c;
	cJSON_ArrayForEach(c, list)
	{
		if (!cJSON_IsObject(c))
			continue;
		cJSON *vms = cJSON_GetObjectItemCaseSensitive(c, "volumeMounts");
		int have = 0;
		const cJSON *vm;
		cJSON_ArrayForEach(vm, vms)
		{
			/* Existing mounts at the default path prevent mounting the API token. */
			if (!strcmp(kc_json_get_string(vm, "mountPath", ""), SA_TOKEN_MOUNT_PATH))
				have = 1;
		}
		if (have)
			continue;
		if (!cJSON_IsArray(vms)) {
			cJSON_DeleteItemFromObjectCaseSensitive(c, "volumeMounts");
			vms = cJSON_AddArrayToObject(c, "volumeMounts");
		}
		cJSON *m = cJSON_CreateObject();
		cJSON_AddStringToObject(m, "name", volname);
		cJSON_AddBoolToObject(m, "readOnly", 1);
		cJSON_AddStringToObject(m, "mountPath", SA_TOKEN_MOUNT_PATH);
		cJSON_AddItemToArray(vms, m);
		needed = 1;
	}
	return needed;
}

void sa_mount_token(cJSON *pod, const char *volname)
{
	cJSON *spec = cJSON_GetObjectItemCaseSensitive(pod, "spec");
	if (!cJSON_IsObject(spec))
		return;
	cJSON *vols = cJSON_GetObjectItemCaseSensitive(spec, "volumes");
	char name[128];
	snprintf(name, sizeof(name), "%s", volname);
	int has_volume = 0;
	const cJSON *v;
	cJSON_ArrayForEach(v, vols)
	{
		const char *vn = kc_json_get_string(v, "name", "");
		if (!strncmp(vn, SA_VOLUME_PREFIX, strlen(SA_VOLUME_PREFIX))) {
			snprintf(name, sizeof(name), "%s", vn);
			has_volume = 1;
			break;
		}
	}
	int needed = mount_in(cJSON_GetObjectItemCaseSensitive(spec, "initContainers"), name);
	needed |= mount_in(cJSON_GetObjectItemCaseSensitive(spec, "containers"), name);
	if (has_volume || !needed)
		return;
	if (!cJSON_IsArray(vols)) {
		cJSON_DeleteItemFromObjectCaseSensitive(spec, "volumes");
		vols = cJSON_AddArrayToObject(spec, "volumes");
	}
	cJSON *vol = cJSON_CreateObject();
	cJSON_AddStringToObject(vol, "name", name);
	cJSON_AddItemToObject(vol, "projected", sa_token_volume_source());
	cJSON_AddItemToArray(vols, vol);
}

/* podutil.VisitPodSecretNames over every container kind: env secretKeyRef, envFrom
 * secretRef, imagePullSecrets, secret / projected secret volumes and the secretRef-style
 * references of the other volume plugins. */
static int containers_use_secrets(const cJSON *list)
{
	const cJSON *c, *e;
	cJSON_ArrayForEach(c, list)
	{
		cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(c, "env"))
		{
			if (kc_json_get(e, "valueFrom.secretKeyRef"))
				return 1;
		}
		cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(c, "envFrom"))
		{
			if (cJSON_GetObjectItemCaseSensitive(e, "secretRef"))
				return 1;
		}
	}
	return 0;
}

static int pod_uses_secrets(const cJSON *spec)
{
	if (cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(spec, "imagePullSecrets")) > 0)
		return 1;
	static const char *const lists[] = { "initContainers", "containers", "ephemeralContainers" };
	for (int i = 0; i < 3; i++)
		if (containers_use_secrets(cJSON_GetObjectItemCaseSensitive(spec, lists[i])))
			return 1;
	const cJSON *v, *src, *s;
	cJSON_ArrayForEach(v, cJSON_GetObjectItemCaseSensitive(spec, "volumes"))
	{
		if (cJSON_GetObjectItemCaseSensitive(v, "secret"))
			return 1;
		cJSON_ArrayForEach(src, v)
		{
			if (!cJSON_IsObject(src))
				continue;
			if (cJSON_GetObjectItemCaseSensitive(src, "secretRef") ||
			    cJSON_GetObjectItemCaseSensitive(src, "nodePublishSecretRef") ||
			    cJSON_GetObjectItemCaseSensitive(src, "secretName"))
				return 1;
		}
		cJSON_ArrayForEach(s, kc_json_get(v, "projected.sources"))
		{
			if (cJSON_GetObjectItemCaseSensitive(s, "secret"))
				return 1;
		}
	}
	return 0;
}

const char *sa_mirror_pod_error(const cJSON *pod)
{
	const cJSON *spec = cJSON_GetObjectItemCaseSensitive(pod, "spec");
	if (kc_json_get_string(spec, "serviceAccountName", "")[0])
		return "a mirror pod may not reference service accounts";
	if (pod_uses_secrets(spec))
		return "a mirror pod may not reference secrets";
	const cJSON *v, *s;
	cJSON_ArrayForEach(v, cJSON_GetObjectItemCaseSensitive(spec, "volumes"))
	{
		cJSON_ArrayForEach(s, kc_json_get(v, "projected.sources"))
		{
			if (cJSON_GetObjectItemCaseSensitive(s, "serviceAccountToken"))
				return "a mirror pod may not use ServiceAccountToken volume projections";
		}
	}
	return NULL;
}

static cJSON *forbidden(const cJSON *pod, const char *fmt, const char *a, const char *b,
			const char *c)
{
	const char *name = kc_json_get_string(pod, "metadata.name", "");
	char why[1024];
	snprintf(why, sizeof(why), fmt, a, b, c);
	cJSON *st = st_new(403, "Forbidden", "pods \"%s\" is forbidden: %s", name, why);
	st_details(st, name, "", "pods");
	return st;
}

/* getServiceAccount: the "default" account is tried 10 times 100-200 ms apart, since the
 * controller-manager creates it right after the namespace. Returns the HTTP code of the
 * last read; *sa the account on 200. */
static int get_service_account(reg *r, const char *ns, const char *name, cJSON **sa)
{
	int attempts = strcmp(name, "default") ? 1 : 10;
	int code = 404;
	for (int i = 0; i < attempts; i++) {
		if (i) {
			struct timespec ts = { 0, (100 + rand() % 100) * 1000000L };
			nanosleep(&ts, NULL);
		}
		*sa = NULL;
		code = reg_get_cached(r, &res_serviceaccounts, ns, name, sa);
		if (code != 404)
			return code;
		cJSON_Delete(*sa);
		*sa = NULL;
	}
	return code;
}

cJSON *adm_serviceaccount(reg *r, const char *ns, cJSON *pod)
{
	cJSON *spec = cJSON_GetObjectItemCaseSensitive(pod, "spec");
	if (!cJSON_IsObject(spec))
		return NULL;
	/* Don't modify the spec of mirror pods: the kubelet would delete them at once as the
	 * spec no longer matches its static pod. */
	int mirror = cJSON_GetObjectItemCaseSensitive(kc_json_get(pod, "metadata.annotations"),
						      MIRROR_ANNOTATION) != NULL;
	if (mirror) {
		if (!r->sa_admission)
			return NULL;
		const char *why = sa_mirror_pod_error(pod);
		return why ? forbidden(pod, "%s%s%s", why, "", "") : NULL;
	}
	/* The deprecated spec.serviceAccount is its alias (v1 conversion). */
	const char *dep = kc_json_get_string(spec, "serviceAccount", "");
	if (!kc_json_get_string(spec, "serviceAccountName", "")[0] && dep[0]) {
		cJSON_DeleteItemFromObjectCaseSensitive(spec, "serviceAccountName");
		cJSON_AddStringToObject(spec, "serviceAccountName", dep);
	}
	if (!kc_json_get_string(spec, "serviceAccountName", "")[0]) {
		cJSON_DeleteItemFromObjectCaseSensitive(spec, "serviceAccountName");
		cJSON_AddStringToObject(spec, "serviceAccountName", "default");
	}
	char sa_name[256];
	snprintf(sa_name, sizeof(sa_name), "%s", kc_json_get_string(spec, "serviceAccountName", ""));
	cJSON_DeleteItemFromObjectCaseSensitive(spec, "serviceAccount");
	cJSON_AddStringToObject(spec, "serviceAccount", sa_name);
	if (!r->sa_admission)
		return NULL;
	cJSON *sa = NULL;
	int code = get_service_account(r, ns, sa_name, &sa);
	if (code == 404)
		return forbidden(pod, "error looking up service account %s/%s: serviceaccount \"%s\" "
				 "not found", ns, sa_name, sa_name);
	if (code != 200) {
		char msg[512];
		snprintf(msg, sizeof(msg), "%s", kc_json_get_string(sa, "message", "store error"));
		cJSON_Delete(sa);
		return forbidden(pod, "error looking up service account %s/%s: %s", ns, sa_name, msg);
	}
	if (sa_should_automount(sa, pod)) {
		char vol[80];
		if (kc_meta_generate_name_suffix(r->clock, SA_VOLUME_PREFIX, vol, sizeof(vol)) == 0)
			sa_mount_token(pod, vol);
	}
	const cJSON *ips = cJSON_GetObjectItemCaseSensitive(sa, "imagePullSecrets");
	if (!cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(spec, "imagePullSecrets")) &&
	    cJSON_GetArraySize(ips) > 0) {
		cJSON_DeleteItemFromObjectCaseSensitive(spec, "imagePullSecrets");
		cJSON *out = cJSON_AddArrayToObject(spec, "imagePullSecrets");
		const cJSON *it;
		cJSON_ArrayForEach(it, ips)
		{
			cJSON *ref = cJSON_CreateObject();
			cJSON_AddStringToObject(ref, "name", kc_json_get_string(it, "name", ""));
			cJSON_AddItemToArray(out, ref);
		}
	}
	cJSON_Delete(sa);
	return NULL;
}
