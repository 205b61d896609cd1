/* The container's environment (pkg/kubelet/kubelet_pods.go makeEnvironmentVariables,
 * podFieldSelectorRuntimeValue, containerResourceRuntimeValue); declared in pod_spec.h.
 * Pure apart from the fetch callback the caller supplies. */
#include "pod_spec.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"
#include "etcd.h"
#include "json.h"
#include "quantity.h"

int pspec_is_env_var_name(const char *s)
{
	if (!s || !*s)
		return 0;
	for (const char *p = s; *p; p++) {
		char c = *p;
		int alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-' || c == '.' || c == '_';
		if (!alpha && !(p != s && c >= '0' && c <= '9'))
			return 0;
	}
	return 1;
}

int pspec_secret_value(const char *b64, char **out, size_t *len)
{
	uint8_t *d = NULL;
	size_t n = 0;
	int rc = kc_etcd_b64_decode(b64 ? b64 : "", strlen(b64 ? b64 : ""), &d, &n);
	if (rc < 0)
		return rc;
	*out = (char *)d;
	*len = n;
	return 0;
}

/* metadata.labels['key'] / metadata.annotations['key'] */
static const char *map_subscript(const cJSON *pod, const char *path, const char *field)
{
	size_t fl = strlen(field);
	if (strncmp(path, field, fl) || strncmp(path + fl, "['", 2))
		return NULL;
	const char *k = path + fl + 2;
	size_t kl = strlen(k);
	if (kl < 2 || strcmp(k + kl - 2, "']"))
		return NULL;
	char key[320];
	if (kl - 2 >= sizeof(key))
		return NULL;
	memcpy(key, k, kl - 2);
	key[kl - 2] = 0;
	const cJSON *m = kc_json_get(pod, field);
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(m, key);
	return cJSON_IsString(v) ? v->valuestring : "";
}

const char *pspec_field_ref(const cJSON *pod, const pspec_podinfo *pi, const char *path)
{
	if (!path)
		return NULL;
	if (!strcmp(path, "metadata.name"))
		return kc_json_get_string(pod, "metadata.name", "");
	if (!strcmp(path, "metadata.namespace"))
		return kc_json_get_string(pod, "metadata.namespace", "default");
	if (!strcmp(path, "metadata.uid"))
		return kc_json_get_string(pod, "metadata.uid", "");
	if (!strcmp(path, "spec.nodeName"))
		return pi && pi->node_name ? pi->node_name : kc_json_get_string(pod, "spec.nodeName", "");
	if (!strcmp(path, "spec.serviceAccountName"))
		return kc_json_get_string(pod, "spec.serviceAccountName", "default");
	if (!strcmp(path, "status.podIP"))
		return pi && pi->pod_ip ? pi->pod_ip : "";
	if (!strcmp(path, "status.hostIP"))
		return pi && pi->host_ip ? pi->host_ip : "";
	const char *v = map_subscript(pod, path, "metadata.labels");
	if (!v)
		v = map_subscript(pod, path, "metadata.annotations");
	return v;
}

/* resources.<kind>.<res> of the container into q; 1 set, 0 absent, <0 malformed */
static int res_quantity(const cJSON *c, const char *kind, const char *res, kc_quantity *q)
{
	const cJSON *r = cJSON_GetObjectItemCaseSensitive(kc_json_get(c, "resources"), kind);
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(r, res);
	if (!v)
		return 0;
	char e[64];
	return kc_quantity_from_json(v, q, e, sizeof(e)) < 0 ? -EINVAL : 1;
}

int pspec_resource_value(const cJSON *container, const char *resource, const cJSON *divisor,
			 const pspec_podinfo *pi, char *buf, size_t len, char *err, size_t errlen)
{
	const char *dot = resource ? strchr(resource, '.') : NULL;
	if (!dot) {
		snprintf(err, errlen, "unsupported container resource : %s", resource ? resource : "");
		return -EINVAL;
	}
	char kind[16];
	size_t kl = (size_t)(dot - resource);
	if (kl >= sizeof(kind)) {
		snprintf(err, errlen, "unsupported container resource : %s", resource);
		return -EINVAL;
	}
	memcpy(kind, resource, kl);
	kind[kl] = 0;
	const char *res = dot + 1;
	int is_cpu = !strcmp(res, "cpu");
	if ((strcmp(kind, "limits") && strcmp(kind, "requests")) ||
	    (!is_cpu && strcmp(res, "memory") && strcmp(res, "ephemeral-storage"))) {
		snprintf(err, errlen, "unsupported container resource : %s", resource);
		return -EINVAL;
	}
	/* the divisor: absent or zero means 1 */
	kc_quantity d = kc_quantity_from_int(1, 0);
	if (divisor && !cJSON_IsNull(divisor)) {
		char e[128];
		if (kc_quantity_from_json(divisor, &d, e, sizeof(e)) < 0) {
			snprintf(err, errlen, "resourceFieldRef %s: divisor: %s", resource, e);
			return -EINVAL;
		}
		if (kc_quantity_is_zero(&d))
			d = kc_quantity_from_int(1, 0);
	}
	kc_quantity q;
	int have = res_quantity(container, kind, res, &q);
	if (have < 0) {
		snprintf(err, errlen, "resourceFieldRef %s: the container's quantity does not parse", resource);
		return -EINVAL;
	}
	if (!have && !strcmp(kind, "requests")) {
		/* a request defaults to the limit (API defaulting), else zero */
		have = res_quantity(container, "limits", res, &q);
		if (have < 0)
			have = 0;
	}
	if (!have) {
		/* defaultPodLimitsForDownwardAPI: an unset limit is the node's allocatable */
		if (!strcmp(kind, "limits") && pi) {
			int64_t a = is_cpu ? pi->alloc_cpu_milli : !strcmp(res, "memory") ? pi->alloc_memory : pi->alloc_ephemeral;
			q = is_cpu ? kc_quantity_from_milli(a, 0) : kc_quantity_from_int(a, 0);
		} else {
			q = kc_quantity_from_int(0, 0);
		}
	}
	long long v;
	if (is_cpu) {
		int64_t num = kc_quantity_milli_value(&q), den = kc_quantity_milli_value(&d);
		if (den <= 0)
			den = 1000;
		v = (long long)((num + den - 1) / den); /* math.Ceil for non-negative values */
	} else {
		int64_t num = kc_quantity_value(&q), den = kc_quantity_value(&d);
		if (den <= 0)
			den = 1;
		v = (long long)((num + den - 1) / den);
	}
	snprintf(buf, len, "%lld", v);
	return 0;
}

/* The objects a container's env refers to, fetched once per build (upstream keeps a
 * per-call map too). */
typedef struct objcache {
	struct {
		char resource[16];
		char name[256];
		cJSON *obj; /* NULL: not found */
	} e[32];
	int n;
} objcache;

/* 0 with *obj (borrowed from the cache, NULL when it does not exist), or <0 with err */
static int cache_get(objcache *oc, const pspec_podinfo *pi, const char *ns, const char *resource, const char *name,
		     const cJSON **obj, char *err, size_t errlen)
{
	for (int i = 0; i < oc->n; i++) {
		if (!strcmp(oc->e[i].resource, resource) && !strcmp(oc->e[i].name, name)) {
			*obj = oc->e[i].obj;
			return 0;
		}
	}
	if (!pi || !pi->src || !pi->src->fetch) {
		snprintf(err, errlen, "couldn't get %s %s/%s, no kubeClient defined",
			 !strcmp(resource, "secrets") ? "secret" : "configMap", ns, name);
		return -ENOTSUP;
	}
	cJSON *o = NULL;
	char e[512] = "";
	int rc = pi->src->fetch(pi->src->arg, resource, ns, name, &o, e, sizeof(e));
	if (rc < 0 && rc != KC_ENOTFOUND) {
		snprintf(err, errlen, "%s", e[0] ? e : kc_strerror(rc));
		return rc;
	}
	if (oc->n < (int)(sizeof(oc->e) / sizeof(oc->e[0]))) {
		snprintf(oc->e[oc->n].resource, sizeof(oc->e[oc->n].resource), "%s", resource);
		snprintf(oc->e[oc->n].name, sizeof(oc->e[oc->n].name), "%s", name);
		oc->e[oc->n].obj = o;
		*obj = o;
		oc->n++;
		return 0;
	}
	cJSON_Delete(o);
	snprintf(err, errlen, "too many configMaps and secrets referenced");
	return -E2BIG;
}

static void cache_close(objcache *oc)
{
	for (int i = 0; i < oc->n; i++)
		cJSON_Delete(oc->e[i].obj);
	oc->n = 0;
}

/* The string value of key in a ConfigMap's data / a Secret's data (decoded); *out heap.
 * 1 found, 0 absent, <0 error. */
static int object_value(const cJSON *obj, int secret, const char *key, char **out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(kc_json_get(obj, "data"), key);
	if (!cJSON_IsString(v))
		return 0;
	if (!secret) {
		*out = strdup(v->valuestring);
		return *out ? 1 : -ENOMEM;
	}
	size_t n;
	return pspec_secret_value(v->valuestring, out, &n) < 0 ? -EINVAL : 1;
}

/* The ConfigMap / Secret ref names: 0 with *obj (NULL: missing and optional, skip), or
 * <0 with err (the watch/cache-based managers' NotFound names the resource "configmap" /
 * "secret"). */
static int ref_object(objcache *oc, const pspec_podinfo *pi, const char *ns, const cJSON *ref, int secret,
		      const cJSON **obj, char *err, size_t errlen)
{
	const char *name = kc_json_get_string(ref, "name", "");
	*obj = NULL;
	int rc = cache_get(oc, pi, ns, secret ? "secrets" : "configmaps", name, obj, err, errlen);
	if (rc < 0)
		return rc;
	if (!*obj && !kc_json_get_bool(ref, "optional", false)) {
		snprintf(err, errlen, "%s \"%s\" not found", secret ? "secret" : "configmap", name);
		return KC_ENOTFOUND;
	}
	return 0;
}

static int env_from(const cJSON *pod, const cJSON *ef, const pspec_podinfo *pi, objcache *oc, pspec_env *out,
		    char *err, size_t errlen)
{
	const char *ns = kc_json_get_string(pod, "metadata.namespace", "default");
	const cJSON *ref = kc_json_get(ef, "configMapRef");
	int secret = 0;
	if (!ref) {
		ref = kc_json_get(ef, "secretRef");
		secret = 1;
	}
	if (!ref)
		return 0; /* neither: validation rejects it upstream */
	const char *name = kc_json_get_string(ref, "name", "");
	const char *prefix = kc_json_get_string(ef, "prefix", "");
	const cJSON *obj = NULL;
	int rc = ref_object(oc, pi, ns, ref, secret, &obj, err, errlen);
	if (rc < 0 || !obj)
		return rc;
	char invalid[1024] = "";
	/* upstream sorts the skipped keys; data keys arrive sorted from the apiserver's JSON,
	 * and insertion sort keeps it so whatever their order */
	const char *bad[64];
	int nbad = 0;
	const cJSON *kv;
	cJSON_ArrayForEach(kv, kc_json_get(obj, "data"))
	{
		if (!kv->string || !cJSON_IsString(kv))
			continue;
		char name_buf[512];
		snprintf(name_buf, sizeof(name_buf), "%s%s", prefix, kv->string);
		if (!pspec_is_env_var_name(name_buf)) {
			if (nbad < 64) {
				int j = nbad++;
				while (j > 0 && strcmp(bad[j - 1], kv->string) > 0) {
					bad[j] = bad[j - 1];
					j--;
				}
				bad[j] = kv->string;
			}
			continue;
		}
		char *val = NULL;
		int r = object_value(obj, secret, kv->string, &val);
		if (r < 0) {
			snprintf(err, errlen, "%s %s/%s: key %s does not decode", secret ? "secret" : "configmap", ns, name,
				 kv->string);
			return r;
		}
		r = pspec_env_set(out, name_buf, val);
		free(val);
		if (r < 0)
			return r;
	}
	if (nbad > 0 && pi && pi->src && pi->src->event) {
		for (int i = 0; i < nbad; i++) {
			size_t l = strlen(invalid);
			snprintf(invalid + l, sizeof(invalid) - l, "%s%s%s", i ? ", " : "", prefix, bad[i]);
		}
		char msg[1400];
		snprintf(msg, sizeof(msg),
			 "Keys [%s] from the EnvFrom %s %s/%s were skipped since they are considered invalid environment "
			 "variable names.",
			 invalid, secret ? "secret" : "configMap", ns, name);
		pi->src->event(pi->src->arg, "InvalidEnvironmentVariableNames", msg);
	}
	return 0;
}

/* valueFrom.configMapKeyRef / secretKeyRef: 1 with *val, 0 to skip (optional), <0 error */
static int key_ref(const cJSON *pod, const cJSON *ref, int secret, const pspec_podinfo *pi, objcache *oc, char **val,
		   char *err, size_t errlen)
{
	const char *ns = kc_json_get_string(pod, "metadata.namespace", "default");
	const char *name = kc_json_get_string(ref, "name", "");
	const char *key = kc_json_get_string(ref, "key", "");
	int optional = kc_json_get_bool(ref, "optional", false);
	const cJSON *obj = NULL;
	int rc = ref_object(oc, pi, ns, ref, secret, &obj, err, errlen);
	if (rc < 0 || !obj)
		return rc;
	rc = object_value(obj, secret, key, val);
	if (rc < 0) {
		snprintf(err, errlen, "couldn't decode key %s in Secret %s/%s", key, ns, name);
		return rc;
	}
	if (rc == 0) {
		if (optional)
			return 0;
		snprintf(err, errlen, "couldn't find key %s in %s %s/%s", key, secret ? "Secret" : "ConfigMap", ns, name);
		return KC_ENOTFOUND;
	}
	return 1;
}

/* makeEnvVariableName: upper case, '-' -> '_' */
static void env_name(char *buf, size_t len, const char *svc, const char *suffix)
{
	size_t n = 0;
	for (const char *p = svc; *p && n + 1 < len; p++)
		buf[n++] = *p == '-' ? '_' : (char)(*p >= 'a' && *p <= 'z' ? *p - 32 : *p);
	buf[n] = 0;
	snprintf(buf + n, len - n, "%s", suffix);
}

static int svc_ip_set(const cJSON *svc)
{
	const char *ip = kc_json_get_string(svc, "spec.clusterIP", "");
	return ip[0] && strcmp(ip, "None") != 0;
}

/* envvars.FromServices for one service */
static int service_vars(const cJSON *svc, pspec_env *out)
{
	const char *name = kc_json_get_string(svc, "metadata.name", "");
	const char *ip = kc_json_get_string(svc, "spec.clusterIP", "");
	const cJSON *ports = kc_json_get(svc, "spec.ports");
	if (!name[0] || cJSON_GetArraySize(ports) == 0)
		return 0;
	char n[512], v[512], pfx[300];
	int rc = 0;
	env_name(n, sizeof(n), name, "_SERVICE_HOST");
	rc |= pspec_env_set(out, n, ip);
	env_name(n, sizeof(n), name, "_SERVICE_PORT");
	snprintf(v, sizeof(v), "%lld", (long long)kc_json_get_int64(cJSON_GetArrayItem(ports, 0), "port", 0));
	rc |= pspec_env_set(out, n, v);
	const cJSON *sp;
	cJSON_ArrayForEach(sp, ports)
	{
		const char *pn = kc_json_get_string(sp, "name", "");
		if (!pn[0])
			continue;
		char up[300];
		env_name(up, sizeof(up), pn, "");
		char nn[820];
		snprintf(nn, sizeof(nn), "%s_%s", n, up);
		snprintf(v, sizeof(v), "%lld", (long long)kc_json_get_int64(sp, "port", 0));
		rc |= pspec_env_set(out, nn, v);
	}
	/* Docker-compatible link variables */
	env_name(pfx, sizeof(pfx), name, "");
	int first = 1;
	cJSON_ArrayForEach(sp, ports)
	{
		const char *proto = kc_json_get_string(sp, "protocol", "TCP");
		char lower[16], upper[16];
		size_t i;
		for (i = 0; proto[i] && i < sizeof(lower) - 1; i++) {
			lower[i] = (char)(proto[i] >= 'A' && proto[i] <= 'Z' ? proto[i] + 32 : proto[i]);
			upper[i] = (char)(proto[i] >= 'a' && proto[i] <= 'z' ? proto[i] - 32 : proto[i]);
		}
		lower[i] = upper[i] = 0;
		long long port = (long long)kc_json_get_int64(sp, "port", 0);
		char hostport[128];
		/* net.JoinHostPort: brackets around an IPv6 address */
		snprintf(hostport, sizeof(hostport), strchr(ip, ':') ? "[%s]:%lld" : "%s:%lld", ip, port);
		snprintf(v, sizeof(v), "%s://%s", lower, hostport);
		if (first) {
			snprintf(n, sizeof(n), "%s_PORT", pfx);
			rc |= pspec_env_set(out, n, v);
			first = 0;
		}
		char pp[400];
		snprintf(pp, sizeof(pp), "%s_PORT_%lld_%s", pfx, port, upper);
		rc |= pspec_env_set(out, pp, v);
		snprintf(n, sizeof(n), "%s_PROTO", pp);
		rc |= pspec_env_set(out, n, lower);
		snprintf(n, sizeof(n), "%s_PORT", pp);
		snprintf(v, sizeof(v), "%lld", port);
		rc |= pspec_env_set(out, n, v);
		snprintf(n, sizeof(n), "%s_ADDR", pp);
		rc |= pspec_env_set(out, n, ip);
	}
	return rc ? -ENOMEM : 0;
}

/* getServiceEnvVarMap: the master service default/kubernetes always, and with
 * enableServiceLinks (default true) every service of the pod's namespace with a cluster
 * IP (a same-named one there wins). */
static int service_env(const cJSON *pod, const pspec_podinfo *pi, pspec_env *out, char *err, size_t errlen)
{
	if (!pi || !pi->src || !pi->src->fetch)
		return 0;
	const char *ns = kc_json_get_string(pod, "metadata.namespace", "default");
	int links = kc_json_get_bool(pod, "spec.enableServiceLinks", true);
	cJSON *master = NULL, *list = NULL;
	char e[512] = "";
	int rc = pi->src->fetch(pi->src->arg, "services", "default", "kubernetes", &master, e, sizeof(e));
	if (rc < 0 && rc != KC_ENOTFOUND) {
		snprintf(err, errlen, "failed to get service env: %s", e);
		return rc;
	}
	if (links) {
		rc = pi->src->fetch(pi->src->arg, "services", ns, NULL, &list, e, sizeof(e));
		if (rc < 0 && rc != KC_ENOTFOUND) {
			cJSON_Delete(master);
			snprintf(err, errlen, "failed to list services: %s", e);
			return rc;
		}
	}
	rc = 0;
	int shadowed = 0;
	const cJSON *svc;
	cJSON_ArrayForEach(svc, kc_json_get(list, "items"))
	shadowed |= !strcmp(kc_json_get_string(svc, "metadata.name", ""), "kubernetes") && svc_ip_set(svc);
	if (master && svc_ip_set(master) && !shadowed)
		rc = service_vars(master, out);
	cJSON_ArrayForEach(svc, kc_json_get(list, "items"))
	if (rc == 0 && svc_ip_set(svc))
		rc = service_vars(svc, out);
	cJSON_Delete(master);
	cJSON_Delete(list);
	return rc;
}

int pspec_build_env(const cJSON *pod, const cJSON *container, const pspec_podinfo *pi, pspec_env *out,
		    char *err, size_t errlen)
{
	objcache oc = { .n = 0 };
	const cJSON *e;
	/* service variables first: envFrom and env override them */
	int rc = service_env(pod, pi, out, err, errlen);
	if (rc < 0)
		return rc;
	cJSON_ArrayForEach(e, kc_json_get(container, "envFrom"))
	{
		rc = env_from(pod, e, pi, &oc, out, err, errlen);
		if (rc < 0)
			goto done;
	}
	cJSON_ArrayForEach(e, kc_json_get(container, "env"))
	{
		const char *name = kc_json_get_string(e, "name", NULL);
		if (!name || !name[0]) {
			snprintf(err, errlen, "env: a variable without a name");
			rc = -EINVAL;
			goto done;
		}
		const char *value = kc_json_get_string(e, "value", "");
		const cJSON *vf = kc_json_get(e, "valueFrom");
		char *v = NULL;
		if (value[0] || !vf) {
			/* a set value wins over valueFrom, as upstream checks Value first */
			v = pspec_expand(value, out);
			if (!v) {
				rc = -ENOMEM;
				goto done;
			}
		} else if (kc_json_get(vf, "fieldRef")) {
			const char *path = kc_json_get_string(vf, "fieldRef.fieldPath", NULL);
			const char *fv = pspec_field_ref(pod, pi, path);
			if (!fv) {
				snprintf(err, errlen, "env %s: unsupported fieldPath %s", name, path ? path : "");
				rc = -EINVAL;
				goto done;
			}
			v = strdup(fv);
		} else if (kc_json_get(vf, "resourceFieldRef")) {
			const cJSON *rf = kc_json_get(vf, "resourceFieldRef");
			const char *cname = kc_json_get_string(rf, "containerName", "");
			const cJSON *target = container;
			if (cname[0] && strcmp(cname, kc_json_get_string(container, "name", ""))) {
				target = NULL;
				const cJSON *c;
				cJSON_ArrayForEach(c, kc_json_get(pod, "spec.containers"))
				if (!strcmp(kc_json_get_string(c, "name", ""), cname))
					target = c;
				if (!target) {
					snprintf(err, errlen, "env %s: container %s not found", name, cname);
					rc = -EINVAL;
					goto done;
				}
			}
			char buf[32];
			rc = pspec_resource_value(target, kc_json_get_string(rf, "resource", ""), kc_json_get(rf, "divisor"),
						  pi, buf, sizeof(buf), err, errlen);
			if (rc < 0)
				goto done;
			v = strdup(buf);
		} else if (kc_json_get(vf, "configMapKeyRef") || kc_json_get(vf, "secretKeyRef")) {
			int secret = kc_json_get(vf, "configMapKeyRef") == NULL;
			rc = key_ref(pod, kc_json_get(vf, secret ? "secretKeyRef" : "configMapKeyRef"), secret, pi, &oc, &v,
				     err, errlen);
			if (rc < 0)
				goto done;
			if (rc == 0)
				continue; /* optional and missing: the variable is not set */
		} else {
			snprintf(err, errlen, "env %s: this valueFrom source is not supported by this kubelet", name);
			rc = -ENOTSUP;
			goto done;
		}
		if (!v) {
			rc = -ENOMEM;
			goto done;
		}
		rc = pspec_env_set(out, name, v);
		free(v);
		if (rc < 0)
			goto done;
	}
	rc = 0;
done:
	cache_close(&oc);
	return rc;
}
