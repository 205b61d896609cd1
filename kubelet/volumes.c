/* Pod volumes; see volumes.h. */
#include "volumes.h"

/* paths and messages are cut to their buffers on purpose (names are bounded by the API) */
#pragma GCC diagnostic ignored "-Wformat-truncation"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include "errors.h"
#include "json.h"
#include "log.h"
#include "quantity.h"

#define SEC 1000000000LL

static const struct {
	const char *field, *plugin;
} plugins[] = {
	{ "emptyDir", "empty-dir" },	     { "hostPath", "host-path" }, { "configMap", "configmap" },
	{ "secret", "secret" },		     { "downwardAPI", "downward-api" }, { "projected", "projected" },
};

/* the volume source fields upstream knows, to name an unsupported one */
static const char *const other_types[] = { "persistentVolumeClaim", "nfs", "csi", "iscsi", "rbd", "cephfs",
					   "glusterfs", "awsElasticBlockStore", "gcePersistentDisk",
					   "azureDisk", "azureFile", "fc", "flexVolume", "flocker", "gitRepo",
					   "cinder", "vsphereVolume", "quobyte", "photonPersistentDisk",
					   "portworxVolume", "scaleIO", "storageos", "ephemeral", "image" };

const char *vol_plugin(const cJSON *volume, const char **type)
{
	*type = "";
	for (size_t i = 0; i < sizeof(plugins) / sizeof(plugins[0]); i++) {
		if (cJSON_GetObjectItemCaseSensitive(volume, plugins[i].field)) {
			*type = plugins[i].field;
			return plugins[i].plugin;
		}
	}
	for (size_t i = 0; i < sizeof(other_types) / sizeof(other_types[0]); i++) {
		if (cJSON_GetObjectItemCaseSensitive(volume, other_types[i])) {
			*type = other_types[i];
			return NULL;
		}
	}
	/* the first member other than name */
	const cJSON *it;
	cJSON_ArrayForEach(it, volume)
	{
		if (it->string && strcmp(it->string, "name")) {
			*type = it->string;
			break;
		}
	}
	return NULL;
}

int vol_pod_dir(char *buf, size_t len, const char *root_dir, const char *uid)
{
	int n = snprintf(buf, len, "%s/pods/%s", root_dir, uid);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : n;
}

int vol_path(char *buf, size_t len, const char *root_dir, const char *uid, const char *plugin, const char *name)
{
	int n = snprintf(buf, len, "%s/pods/%s/volumes/kubernetes.io~%s/%s", root_dir, uid, plugin, name);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : n;
}

/* ---- payloads ---- */

static int mode_of(const cJSON *o, const char *field, int def)
{
	const cJSON *m = cJSON_GetObjectItemCaseSensitive(o, field);
	if (!cJSON_IsNumber(m))
		return def;
	int v = (int)m->valuedouble;
	return v < 0 || v > 0777 ? def : v;
}

int vol_keys_payload(const cJSON *src, const cJSON *obj, int secret, int default_mode, aw_payload *out, char *err,
		     size_t errlen)
{
	int optional = kc_json_get_bool(src, "optional", false);
	const char *name = kc_json_get_string(src, secret ? "secretName" : "name", NULL);
	if (!name)
		name = kc_json_get_string(src, "name", "");
	if (!obj) {
		if (optional)
			return 0;
		snprintf(err, errlen, "%s \"%s\" not found", secret ? "secret" : "configmap", name);
		return -ENOENT;
	}
	const cJSON *data = kc_json_get(obj, "data");
	const cJSON *bin = secret ? NULL : kc_json_get(obj, "binaryData");
	const cJSON *items = kc_json_get(src, "items");
	int rc = 0;
	if (cJSON_GetArraySize(items) == 0) {
		const cJSON *maps[2] = { data, bin };
		for (int m = 0; m < 2 && rc == 0; m++) {
			const cJSON *kv;
			cJSON_ArrayForEach(kv, maps[m])
			{
				if (!cJSON_IsString(kv) || !kv->string)
					continue;
				if (secret || m == 1) {
					char *v = NULL;
					size_t n = 0;
					if (pspec_secret_value(kv->valuestring, &v, &n) < 0) {
						snprintf(err, errlen, "key %s does not decode", kv->string);
						return -EINVAL;
					}
					rc = aw_payload_add(out, kv->string, v, n, default_mode);
					free(v);
				} else {
					rc = aw_payload_add(out, kv->string, kv->valuestring, strlen(kv->valuestring),
							    default_mode);
				}
				if (rc < 0)
					break;
			}
		}
		return rc;
	}
	const cJSON *it;
	cJSON_ArrayForEach(it, items)
	{
		const char *key = kc_json_get_string(it, "key", "");
		const char *path = kc_json_get_string(it, "path", key);
		int mode = mode_of(it, "mode", default_mode);
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(data, key);
		int is_bin = secret;
		if (!cJSON_IsString(v) && bin) {
			v = cJSON_GetObjectItemCaseSensitive(bin, key);
			is_bin = 1;
		}
		if (!cJSON_IsString(v)) {
			if (optional)
				continue;
			if (secret)
				snprintf(err, errlen, "references non-existent secret key: %s", key);
			else
				snprintf(err, errlen, "configmap references non-existent config key: %s", key);
			return -ENOENT;
		}
		if (is_bin) {
			char *d = NULL;
			size_t n = 0;
			if (pspec_secret_value(v->valuestring, &d, &n) < 0) {
				snprintf(err, errlen, "key %s does not decode", key);
				return -EINVAL;
			}
			rc = aw_payload_add(out, path, d, n, mode);
			free(d);
		} else {
			rc = aw_payload_add(out, path, v->valuestring, strlen(v->valuestring), mode);
		}
		if (rc < 0)
			return rc;
	}
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

typedef struct sbuf {
	char *p;
	size_t n, cap;
	int oom;
} sbuf;

static void sb_add(sbuf *b, const char *s, size_t n)
{
	if (b->oom)
		return;
	if (b->n + n + 1 > b->cap) {
		size_t nc = (b->n + n + 1) * 2 + 64;
		char *np = realloc(b->p, nc);
		if (!np) {
			b->oom = 1;
			return;
		}
		b->p = np;
		b->cap = nc;
	}
	memcpy(b->p + b->n, s, n);
	b->n += n;
	b->p[b->n] = 0;
}

static void sb_str(sbuf *b, const char *s)
{
	sb_add(b, s, strlen(s));
}

/* Go's strconv.Quote for the bytes Kubernetes label/annotation values hold */
static void sb_quote(sbuf *b, const char *s)
{
	sb_add(b, "\"", 1);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		char e[8];
		switch (*p) {
		case '"': sb_str(b, "\\\""); break;
		case '\\': sb_str(b, "\\\\"); break;
		case '\a': sb_str(b, "\\a"); break;
		case '\b': sb_str(b, "\\b"); break;
		case '\f': sb_str(b, "\\f"); break;
		case '\n': sb_str(b, "\\n"); break;
		case '\r': sb_str(b, "\\r"); break;
		case '\t': sb_str(b, "\\t"); break;
		case '\v': sb_str(b, "\\v"); break;
		default:
			if (*p < 0x20 || *p == 0x7f) {
				snprintf(e, sizeof(e), "\\x%02x", *p);
				sb_str(b, e);
			} else {
				sb_add(b, (const char *)p, 1);
			}
		}
	}
	sb_add(b, "\"", 1);
}

char *vol_format_map(const cJSON *map)
{
	int n = cJSON_GetArraySize(map);
	const char **keys = calloc((size_t)(n ? n : 1), sizeof(*keys));
	if (!keys)
		return NULL;
	int k = 0;
	const cJSON *it;
	cJSON_ArrayForEach(it, map)
	if (it->string && cJSON_IsString(it))
		keys[k++] = it->string;
	qsort(keys, (size_t)k, sizeof(*keys), cmp_str);
	sbuf b = { 0 };
	sb_add(&b, "", 0);
	for (int i = 0; i < k; i++) {
		sb_str(&b, keys[i]);
		sb_add(&b, "=", 1);
		sb_quote(&b, cJSON_GetObjectItemCaseSensitive(map, keys[i])->valuestring);
		sb_add(&b, "\n", 1);
	}
	free(keys);
	if (b.oom) {
		free(b.p);
		return NULL;
	}
	return b.p;
}

int vol_downward_payload(const cJSON *items, const cJSON *pod, const pspec_podinfo *pi, int default_mode,
			 aw_payload *out, char *err, size_t errlen)
{
	const cJSON *it;
	cJSON_ArrayForEach(it, items)
	{
		const char *path = kc_json_get_string(it, "path", "");
		int mode = mode_of(it, "mode", default_mode);
		int rc;
		if (kc_json_get(it, "fieldRef")) {
			const char *fp = kc_json_get_string(it, "fieldRef.fieldPath", "");
			if (!strcmp(fp, "metadata.labels") || !strcmp(fp, "metadata.annotations")) {
				char *s = vol_format_map(kc_json_get(pod, fp));
				if (!s)
					return -ENOMEM;
				rc = aw_payload_add(out, path, s, strlen(s), mode);
				free(s);
			} else {
				const char *v = pspec_field_ref(pod, pi, fp);
				/* status.podIP & co are not allowed in volumes (validation): refuse them */
				if (!v || !strncmp(fp, "status.", 7)) {
					snprintf(err, errlen, "unsupported fieldPath: %s", fp);
					return -EINVAL;
				}
				rc = aw_payload_add(out, path, v, strlen(v), mode);
			}
		} else if (kc_json_get(it, "resourceFieldRef")) {
			const cJSON *rf = kc_json_get(it, "resourceFieldRef");
			const char *cname = kc_json_get_string(rf, "containerName", "");
			const cJSON *target = NULL, *c;
			cJSON_ArrayForEach(c, kc_json_get(pod, "spec.containers"))
			if (!strcmp(kc_json_get_string(c, "name", ""), cname))
				target = c;
			if (!target) {
				snprintf(err, errlen, "resourceFieldRef: container \"%s\" not found", cname);
				return -EINVAL;
			}
			char buf[32];
			rc = pspec_resource_value(target, kc_json_get_string(rf, "resource", ""), kc_json_get(rf, "divisor"), pi,
						  buf, sizeof(buf), err, errlen);
			if (rc < 0)
				return rc;
			rc = aw_payload_add(out, path, buf, strlen(buf), mode);
		} else {
			snprintf(err, errlen, "downwardAPI item %s: neither fieldRef nor resourceFieldRef", path);
			return -EINVAL;
		}
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* ---- mounts and directories ---- */

int vol_is_mounted(const char *path)
{
	FILE *f = fopen("/proc/self/mounts", "re");
	if (!f)
		return 0;
	char line[4096];
	int found = 0;
	while (!found && fgets(line, sizeof(line), f)) {
		char *sp = strchr(line, ' ');
		if (!sp)
			continue;
		char *mp = sp + 1, *e = strchr(mp, ' ');
		if (!e)
			continue;
		*e = 0;
		found = !strcmp(mp, path);
	}
	fclose(f);
	return found;
}

static int mkdir_p(const char *path, mode_t mode)
{
	char p[PATH_MAX];
	snprintf(p, sizeof(p), "%s", path);
	for (char *s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = 0;
		if (mkdir(p, 0750) < 0 && errno != EEXIST)
			return -errno;
		*s = '/';
	}
	if (mkdir(p, mode) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

/* the directory of a volume, made (and tmpfs-mounted when memory) if needed */
static int volume_dir(const vol_pod *vp, const char *plugin, const char *name, int tmpfs, int64_t size_bytes,
		      mode_t mode, char *dir, size_t dirlen, char *err, size_t errlen)
{
	if (vol_path(dir, dirlen, vp->root_dir, vp->uid, plugin, name) < 0) {
		snprintf(err, errlen, "path too long");
		return -ENAMETOOLONG;
	}
	int rc = mkdir_p(dir, mode);
	if (rc < 0) {
		snprintf(err, errlen, "mkdir %s: %s", dir, strerror(-rc));
		return rc;
	}
	if (tmpfs && !vp->no_mount && !vol_is_mounted(dir)) {
		char opts[64] = "";
		if (size_bytes > 0)
			snprintf(opts, sizeof(opts), "size=%lld", (long long)size_bytes);
		if (mount("tmpfs", dir, "tmpfs", MS_NOSUID | MS_NODEV, opts[0] ? opts : NULL) < 0) {
			int e = errno;
			snprintf(err, errlen, "mount tmpfs on %s: %s", dir, strerror(e));
			return -e;
		}
	}
	chmod(dir, mode);
	return 0;
}

static int fetch(const vol_sources *src, const char *resource, const char *ns, const char *name, cJSON **obj,
		 char *err, size_t errlen)
{
	*obj = NULL;
	if (!src || !src->get || !src->get->fetch) {
		snprintf(err, errlen, "no API client");
		return -ENOTSUP;
	}
	int rc = src->get->fetch(src->get->arg, resource, ns, name, obj, err, errlen);
	if (rc == KC_ENOTFOUND) {
		*obj = NULL;
		return 0;
	}
	return rc;
}

static vol_token *token_slot(vol_pod *vp, const char *key)
{
	for (int i = 0; i < vp->ntokens; i++)
		if (!strcmp(vp->tokens[i].key, key))
			return &vp->tokens[i];
	if (vp->ntokens >= (int)(sizeof(vp->tokens) / sizeof(vp->tokens[0])))
		return NULL;
	vol_token *t = &vp->tokens[vp->ntokens++];
	memset(t, 0, sizeof(*t));
	snprintf(t->key, sizeof(t->key), "%s", key);
	return t;
}

static int64_t parse_rfc3339(const char *s)
{
	struct tm tm;
	memset(&tm, 0, sizeof(tm));
	const char *e = s ? strptime(s, "%Y-%m-%dT%H:%M:%S", &tm) : NULL;
	if (!e)
		return -1;
	return (int64_t)timegm(&tm);
}

/* A serviceAccountToken projection: the cached token, refreshed at 80 % of its life */
static int sa_token(vol_pod *vp, const cJSON *pod, const cJSON *sat, const char *key, const vol_sources *src,
		    int64_t now_ns, const char **token, char *err, size_t errlen)
{
	vol_token *t = token_slot(vp, key);
	if (!t) {
		snprintf(err, errlen, "too many serviceAccountToken sources");
		return -E2BIG;
	}
	if (t->token && now_ns < t->refresh_at_ns) {
		*token = t->token;
		return 0;
	}
	if (!src || !src->token) {
		snprintf(err, errlen, "no API client for TokenRequest");
		return -ENOTSUP;
	}
	int64_t exp = kc_json_get_int64(sat, "expirationSeconds", 3600);
	const char *aud = kc_json_get_string(sat, "audience", "");
	cJSON *req = cJSON_CreateObject();
	cJSON_AddStringToObject(req, "apiVersion", "authentication.k8s.io/v1");
	cJSON_AddStringToObject(req, "kind", "TokenRequest");
	cJSON *spec = cJSON_AddObjectToObject(req, "spec");
	if (aud[0]) {
		cJSON *a = cJSON_AddArrayToObject(spec, "audiences");
		cJSON_AddItemToArray(a, cJSON_CreateString(aud));
	}
	cJSON_AddNumberToObject(spec, "expirationSeconds", (double)exp);
	cJSON *bor = cJSON_AddObjectToObject(spec, "boundObjectRef");
	cJSON_AddStringToObject(bor, "apiVersion", "v1");
	cJSON_AddStringToObject(bor, "kind", "Pod");
	cJSON_AddStringToObject(bor, "name", kc_json_get_string(pod, "metadata.name", ""));
	cJSON_AddStringToObject(bor, "uid", kc_json_get_string(pod, "metadata.uid", ""));
	cJSON *resp = NULL;
	const char *ns = kc_json_get_string(pod, "metadata.namespace", "default");
	const char *sa = kc_json_get_string(pod, "spec.serviceAccountName", "default");
	char e[512] = "";
	int rc = src->token(src->arg, ns, sa, req, &resp, e, sizeof(e));
	cJSON_Delete(req);
	const char *tok = rc == 0 ? kc_json_get_string(resp, "status.token", "") : "";
	if (rc < 0 || !tok[0]) {
		snprintf(err, errlen, "failed to fetch token: %s", rc < 0 ? e : "empty token in the TokenRequest status");
		cJSON_Delete(resp);
		return rc < 0 ? rc : -EPROTO;
	}
	/* requiresRefresh: older than 80 % of its lifetime (from the expiration the server
	 * granted, which may be longer than asked) */
	int64_t life = exp;
	int64_t expires = parse_rfc3339(kc_json_get_string(resp, "status.expirationTimestamp", NULL));
	struct timespec wall;
	clock_gettime(CLOCK_REALTIME, &wall);
	if (expires > wall.tv_sec)
		life = expires - wall.tv_sec;
	kc_log_v(3, "\"Fetched service account token\" pod=\"%s/%s\" serviceAccount=\"%s\" audience=\"%s\" boundObject=\"%s\" "
		 "lifetime=%llds", ns, kc_json_get_string(pod, "metadata.name", ""), sa, aud,
		 kc_json_get_string(resp, "spec.boundObjectRef.name", ""), (long long)life);
	free(t->token);
	t->token = strdup(tok);
	cJSON_Delete(resp);
	if (!t->token)
		return -ENOMEM;
	t->refresh_at_ns = now_ns + life * SEC * 8 / 10;
	*token = t->token;
	return 0;
}

static int setup_projected(vol_pod *vp, const cJSON *pod, const cJSON *vol, const pspec_podinfo *pi,
			   const vol_sources *src, int64_t now_ns, aw_payload *pl, char *err, size_t errlen)
{
	const cJSON *pj = kc_json_get(vol, "projected");
	int dmode = mode_of(pj, "defaultMode", 0644);
	const char *ns = kc_json_get_string(pod, "metadata.namespace", "default");
	const char *vname = kc_json_get_string(vol, "name", "");
	int idx = 0;
	const cJSON *s;
	cJSON_ArrayForEach(s, kc_json_get(pj, "sources"))
	{
		int rc = 0;
		idx++;
		if (kc_json_get(s, "configMap") || kc_json_get(s, "secret")) {
			int secret = kc_json_get(s, "configMap") == NULL;
			const cJSON *cs = kc_json_get(s, secret ? "secret" : "configMap");
			cJSON *obj = NULL;
			rc = fetch(src, secret ? "secrets" : "configmaps", ns, kc_json_get_string(cs, "name", ""), &obj, err,
				   errlen);
			if (rc == 0)
				rc = vol_keys_payload(cs, obj, secret, dmode, pl, err, errlen);
			cJSON_Delete(obj);
		} else if (kc_json_get(s, "downwardAPI")) {
			rc = vol_downward_payload(kc_json_get(s, "downwardAPI.items"), pod, pi, dmode, pl, err, errlen);
		} else if (kc_json_get(s, "serviceAccountToken")) {
			const cJSON *sat = kc_json_get(s, "serviceAccountToken");
			char key[320];
			snprintf(key, sizeof(key), "%s/%d", vname, idx);
			const char *tok = NULL;
			rc = sa_token(vp, pod, sat, key, src, now_ns, &tok, err, errlen);
			if (rc == 0)
				rc = aw_payload_add(pl, kc_json_get_string(sat, "path", "token"), tok, strlen(tok),
						    dmode);
		} else {
			const char *type = "";
			const cJSON *it;
			cJSON_ArrayForEach(it, s)
			if (it->string)
				type = it->string;
			snprintf(err, errlen, "projected source %s is not supported by this kubelet", type);
			return VOL_UNSUPPORTED;
		}
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* hostPath type checks (pkg/volume/hostpath checkTypeInternal) */
static int hostpath_check(const char *path, const char *type, char *err, size_t errlen)
{
	struct stat st;
	int exists = stat(path, &st) == 0;
	if (!type || !type[0])
		return 0;
	if (!strcmp(type, "DirectoryOrCreate") && !exists) {
		int rc = mkdir_p(path, 0755);
		if (rc < 0)
			snprintf(err, errlen, "mkdir %s: %s", path, strerror(-rc));
		return rc;
	}
	if (!strcmp(type, "FileOrCreate") && !exists) {
		char dir[PATH_MAX];
		snprintf(dir, sizeof(dir), "%s", path);
		char *sl = strrchr(dir, '/');
		if (sl && sl != dir) {
			*sl = 0;
			mkdir_p(dir, 0755);
		}
		int fd = open(path, O_RDONLY | O_CREAT | O_CLOEXEC, 0644);
		if (fd < 0) {
			int e = errno;
			snprintf(err, errlen, "create %s: %s", path, strerror(e));
			return -e;
		}
		close(fd);
		return 0;
	}
	if (!strcmp(type, "DirectoryOrCreate") || !strcmp(type, "Directory")) {
		if (!exists || !S_ISDIR(st.st_mode)) {
			snprintf(err, errlen, "hostPath type check failed: %s is not a directory", path);
			return -ENOTDIR;
		}
	} else if (!strcmp(type, "FileOrCreate") || !strcmp(type, "File")) {
		if (!exists || !S_ISREG(st.st_mode)) {
			snprintf(err, errlen, "hostPath type check failed: %s is not a file", path);
			return -EINVAL;
		}
	} else if (!strcmp(type, "Socket")) {
		if (!exists || !S_ISSOCK(st.st_mode)) {
			snprintf(err, errlen, "hostPath type check failed: %s is not a socket file", path);
			return -EINVAL;
		}
	} else if (!strcmp(type, "CharDevice")) {
		if (!exists || !S_ISCHR(st.st_mode)) {
			snprintf(err, errlen, "hostPath type check failed: %s is not a character device", path);
			return -EINVAL;
		}
	} else if (!strcmp(type, "BlockDevice")) {
		if (!exists || !S_ISBLK(st.st_mode)) {
			snprintf(err, errlen, "hostPath type check failed: %s is not a block device", path);
			return -EINVAL;
		}
	} else {
		snprintf(err, errlen, "%s is an invalid volume type", type);
		return -EINVAL;
	}
	return 0;
}

void vol_pod_init(vol_pod *vp, const char *root_dir, const char *uid)
{
	memset(vp, 0, sizeof(*vp));
	snprintf(vp->root_dir, sizeof(vp->root_dir), "%s", root_dir && root_dir[0] ? root_dir : "/var/lib/kubelet");
	snprintf(vp->uid, sizeof(vp->uid), "%s", uid);
}

void vol_pod_close(vol_pod *vp)
{
	for (int i = 0; i < vp->ntokens; i++)
		free(vp->tokens[i].token);
	vp->ntokens = 0;
}

static int tokens_due(const vol_pod *vp, int64_t now_ns)
{
	for (int i = 0; i < vp->ntokens; i++)
		if (now_ns >= vp->tokens[i].refresh_at_ns)
			return 1;
	return 0;
}

static int setup_one(vol_pod *vp, const cJSON *pod, const cJSON *vol, const char *plugin, const pspec_podinfo *pi,
		     const vol_sources *src, int64_t now_ns, char *err, size_t errlen)
{
	const char *name = kc_json_get_string(vol, "name", "");
	const char *ns = kc_json_get_string(pod, "metadata.namespace", "default");
	char dir[PATH_MAX];
	int rc;
	if (!strcmp(plugin, "host-path")) {
		const char *p = kc_json_get_string(vol, "hostPath.path", "");
		if (p[0] != '/') {
			snprintf(err, errlen, "hostPath %s: the path must be absolute", p);
			return -EINVAL;
		}
		return hostpath_check(p, kc_json_get_string(vol, "hostPath.type", ""), err, errlen);
	}
	if (!strcmp(plugin, "empty-dir")) {
		int mem = !strcmp(kc_json_get_string(vol, "emptyDir.medium", ""), "Memory");
		int64_t size = 0;
		const cJSON *sl = kc_json_get(vol, "emptyDir.sizeLimit");
		if (sl && mem) {
			kc_quantity q;
			char e[128];
			if (kc_quantity_from_json(sl, &q, e, sizeof(e)) < 0) {
				snprintf(err, errlen, "sizeLimit: %s", e);
				return -EINVAL;
			}
			size = kc_quantity_value(&q);
		}
		/* emptyDir is world-writable, as upstream's perm 0777 */
		return volume_dir(vp, plugin, name, mem, size, 0777, dir, sizeof(dir), err, errlen);
	}
	int tmpfs = !strcmp(plugin, "secret") || !strcmp(plugin, "projected");
	rc = volume_dir(vp, plugin, name, tmpfs, 0, 0755, dir, sizeof(dir), err, errlen);
	if (rc < 0)
		return rc;
	aw_payload pl = { 0 };
	if (!strcmp(plugin, "configmap") || !strcmp(plugin, "secret")) {
		int secret = !strcmp(plugin, "secret");
		const cJSON *s = kc_json_get(vol, secret ? "secret" : "configMap");
		cJSON *obj = NULL;
		rc = fetch(src, secret ? "secrets" : "configmaps", ns,
			   kc_json_get_string(s, secret ? "secretName" : "name", ""), &obj, err, errlen);
		if (rc == 0)
			rc = vol_keys_payload(s, obj, secret, mode_of(s, "defaultMode", 0644), &pl, err, errlen);
		cJSON_Delete(obj);
	} else if (!strcmp(plugin, "downward-api")) {
		const cJSON *s = kc_json_get(vol, "downwardAPI");
		rc = vol_downward_payload(kc_json_get(s, "items"), pod, pi, mode_of(s, "defaultMode", 0644), &pl, err,
					  errlen);
	} else {
		rc = setup_projected(vp, pod, vol, pi, src, now_ns, &pl, err, errlen);
	}
	if (rc == 0) {
		rc = aw_write(dir, &pl, err, errlen);
		rc = rc < 0 ? rc : 0;
	}
	aw_payload_close(&pl);
	return rc;
}

int vol_setup(vol_pod *vp, const cJSON *pod, const pspec_podinfo *pi, const vol_sources *src, int64_t now_ns,
	      char *err, size_t errlen)
{
	if (vp->ready && now_ns < vp->next_resync_ns && !tokens_due(vp, now_ns))
		return 0;
	const cJSON *vol;
	/* every type must be supported before anything is made */
	cJSON_ArrayForEach(vol, kc_json_get(pod, "spec.volumes"))
	{
		const char *type;
		if (!vol_plugin(vol, &type)) {
			snprintf(err, errlen, "volume \"%s\": volume type %s is not supported by this kubelet",
				 kc_json_get_string(vol, "name", ""), type[0] ? type : "(none)");
			return VOL_UNSUPPORTED;
		}
	}
	cJSON_ArrayForEach(vol, kc_json_get(pod, "spec.volumes"))
	{
		const char *type, *plugin = vol_plugin(vol, &type);
		char e[512] = "";
		int rc = setup_one(vp, pod, vol, plugin, pi, src, now_ns, e, sizeof(e));
		if (rc < 0 && vp->ready) /* a failed refresh: keep what is there, retry next period */
			vp->next_resync_ns = now_ns + VOL_RESYNC_NS;
		if (rc == VOL_UNSUPPORTED) {
			snprintf(err, errlen, "volume \"%s\": %s", kc_json_get_string(vol, "name", ""), e);
			return rc;
		}
		if (rc < 0) {
			snprintf(err, errlen, "MountVolume.SetUp failed for volume \"%s\" : %s",
				 kc_json_get_string(vol, "name", ""), e);
			return rc;
		}
	}
	vp->ready = 1;
	vp->next_resync_ns = now_ns + VOL_RESYNC_NS;
	return 0;
}

/* ---- per-container mounts ---- */

static const cJSON *find_volume(const cJSON *pod, const char *name)
{
	const cJSON *v;
	cJSON_ArrayForEach(v, kc_json_get(pod, "spec.volumes"))
	if (!strcmp(kc_json_get_string(v, "name", ""), name))
		return v;
	return NULL;
}

/* subPath validation (validation.go validateLocalDescendingPath): relative, no ".." */
static int bad_subpath(const char *sp)
{
	if (sp[0] == '/')
		return 1;
	for (const char *s = sp; *s;) {
		const char *e = strchr(s, '/');
		size_t l = e ? (size_t)(e - s) : strlen(s);
		if (l == 2 && !strncmp(s, "..", 2))
			return 1;
		s += l;
		if (*s == '/')
			s++;
	}
	return 0;
}

int vol_container_mounts(const vol_pod *vp, const cJSON *pod, const cJSON *container, const pspec_env *env,
			 const char *etc_hosts, const char *term_path, vol_mount **out, int *n, char *err,
			 size_t errlen)
{
	int cap = cJSON_GetArraySize(kc_json_get(container, "volumeMounts")) + 2;
	vol_mount *m = calloc((size_t)cap, sizeof(*m));
	if (!m)
		return -ENOMEM;
	int k = 0, has_hosts = 0;
	const cJSON *vm;
	cJSON_ArrayForEach(vm, kc_json_get(container, "volumeMounts"))
	{
		const char *name = kc_json_get_string(vm, "name", "");
		const char *mp = kc_json_get_string(vm, "mountPath", "");
		const cJSON *vol = find_volume(pod, name);
		const char *type, *plugin = vol ? vol_plugin(vol, &type) : NULL;
		if (!vol || !plugin) {
			snprintf(err, errlen, vol ? "volume %s has an unsupported type" : "cannot find volume \"%s\" to mount into container \"%s\"",
				 name, kc_json_get_string(container, "name", ""));
			free(m);
			return vol ? VOL_UNSUPPORTED : -ENOENT;
		}
		if (!mp[0]) {
			snprintf(err, errlen, "volumeMount %s: mountPath is empty", name);
			free(m);
			return -EINVAL;
		}
		char base[PATH_MAX];
		int ro_vol = 0;
		if (!strcmp(plugin, "host-path")) {
			snprintf(base, sizeof(base), "%s", kc_json_get_string(vol, "hostPath.path", ""));
		} else {
			vol_path(base, sizeof(base), vp->root_dir, vp->uid, plugin, name);
			/* configMap, secret, downwardAPI and projected report ReadOnly attributes */
			ro_vol = strcmp(plugin, "empty-dir") != 0;
		}
		char *sp = NULL;
		const char *spe = kc_json_get_string(vm, "subPathExpr", "");
		if (spe[0])
			sp = pspec_expand(spe, env);
		else
			sp = strdup(kc_json_get_string(vm, "subPath", ""));
		if (!sp) {
			free(m);
			return -ENOMEM;
		}
		char host[PATH_MAX];
		snprintf(host, sizeof(host), "%s", base);
		if (sp[0]) {
			if (bad_subpath(sp)) {
				snprintf(err, errlen, "subPath \"%s\" must be a relative path without '..'", sp);
				free(sp);
				free(m);
				return -EINVAL;
			}
			char want[PATH_MAX];
			snprintf(want, sizeof(want), "%s/%s", base, sp);
			struct stat st;
			if (lstat(want, &st) < 0 && mkdir_p(want, 0750) < 0) {
				/* upstream creates a missing subPath as a directory */
				snprintf(err, errlen, "failed to create subPath directory for volumeMount \"%s\" of container \"%s\"",
					 name, kc_json_get_string(container, "name", ""));
				free(sp);
				free(m);
				return -EIO;
			}
			/* resolve symlinks (configMap keys are ..data links) and refuse an escape
			 * from the volume, as upstream's safe subpath does */
			char real[PATH_MAX], realbase[PATH_MAX];
			if (!realpath(want, real) || !realpath(base, realbase) ||
			    (strncmp(real, realbase, strlen(realbase)) ||
			     (real[strlen(realbase)] != '/' && real[strlen(realbase)] != 0))) {
				snprintf(err, errlen, "subpath \"%s\" not within volume path \"%s\"", want, base);
				free(sp);
				free(m);
				return -EPERM;
			}
			snprintf(host, sizeof(host), "%s", real);
		}
		free(sp);
		snprintf(m[k].container_path, sizeof(m[k].container_path), "%s", mp);
		snprintf(m[k].host_path, sizeof(m[k].host_path), "%s", host);
		m[k].readonly = kc_json_get_bool(vm, "readOnly", false) || ro_vol;
		if (!strcmp(mp, "/etc/hosts"))
			has_hosts = 1;
		k++;
	}
	if (etc_hosts && !has_hosts) {
		snprintf(m[k].container_path, sizeof(m[k].container_path), "/etc/hosts");
		snprintf(m[k].host_path, sizeof(m[k].host_path), "%s", etc_hosts);
		k++;
	}
	if (term_path) {
		snprintf(m[k].container_path, sizeof(m[k].container_path), "%s",
			 kc_json_get_string(container, "terminationMessagePath", "/dev/termination-log"));
		snprintf(m[k].host_path, sizeof(m[k].host_path), "%s", term_path);
		k++;
	}
	*out = m;
	*n = k;
	return 0;
}

char *vol_etc_hosts_content(const cJSON *pod, const char *pod_ip, const char *cluster_domain)
{
	sbuf b = { 0 };
	sb_str(&b, "# Kubernetes-managed hosts file.\n"
		   "127.0.0.1\tlocalhost\n"
		   "::1\tlocalhost ip6-localhost ip6-loopback\n"
		   "fe00::0\tip6-localnet\n"
		   "fe00::0\tip6-mcastprefix\n"
		   "fe00::1\tip6-allnodes\n"
		   "fe00::2\tip6-allrouters\n");
	const char *host = kc_json_get_string(pod, "spec.hostname", kc_json_get_string(pod, "metadata.name", ""));
	char h[64];
	snprintf(h, sizeof(h), "%s", host); /* GeneratePodHostNameAndDomain: at most 63 */
	const char *sub = kc_json_get_string(pod, "spec.subdomain", "");
	if (pod_ip && pod_ip[0]) {
		char line[700];
		if (sub[0])
			snprintf(line, sizeof(line), "%s\t%s.%s.%s.svc.%s\t%s\n", pod_ip, h, sub,
				 kc_json_get_string(pod, "metadata.namespace", "default"),
				 cluster_domain && cluster_domain[0] ? cluster_domain : "cluster.local", h);
		else
			snprintf(line, sizeof(line), "%s\t%s\n", pod_ip, h);
		sb_str(&b, line);
	}
	const cJSON *ha = kc_json_get(pod, "spec.hostAliases");
	if (cJSON_GetArraySize(ha) > 0) {
		sb_str(&b, "\n# Entries added by HostAliases.\n");
		const cJSON *a;
		cJSON_ArrayForEach(a, ha)
		{
			sb_str(&b, kc_json_get_string(a, "ip", ""));
			sb_str(&b, "\t");
			const cJSON *hn;
			int first = 1;
			cJSON_ArrayForEach(hn, kc_json_get(a, "hostnames"))
			{
				if (!cJSON_IsString(hn))
					continue;
				if (!first)
					sb_str(&b, "\t");
				sb_str(&b, hn->valuestring);
				first = 0;
			}
			sb_str(&b, "\n");
		}
	}
	if (b.oom) {
		free(b.p);
		return NULL;
	}
	return b.p;
}

static int write_whole(const char *path, const char *data, mode_t mode)
{
	char tmp[PATH_MAX];
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd < 0)
		return -errno;
	size_t len = strlen(data), off = 0;
	while (off < len) {
		ssize_t w = write(fd, data + off, len - off);
		if (w < 0) {
			int e = errno;
			close(fd);
			unlink(tmp);
			return -e;
		}
		off += (size_t)w;
	}
	fchmod(fd, mode);
	close(fd);
	if (rename(tmp, path) < 0) {
		int e = errno;
		unlink(tmp);
		return -e;
	}
	return 0;
}

int vol_write_etc_hosts(const vol_pod *vp, const cJSON *pod, const char *pod_ip, const char *cluster_domain,
			char *path, size_t pathlen)
{
	char dir[PATH_MAX];
	vol_pod_dir(dir, sizeof(dir), vp->root_dir, vp->uid);
	int rc = mkdir_p(dir, 0750);
	if (rc < 0)
		return rc;
	snprintf(path, pathlen, "%s/etc-hosts", dir);
	char *c = vol_etc_hosts_content(pod, pod_ip, cluster_domain);
	if (!c)
		return -ENOMEM;
	rc = write_whole(path, c, 0644);
	free(c);
	return rc;
}

int vol_termination_file(const vol_pod *vp, const char *container, int attempt, char *path, size_t pathlen)
{
	char dir[PATH_MAX];
	snprintf(dir, sizeof(dir), "%s/pods/%s/containers/%s", vp->root_dir, vp->uid, container);
	int rc = mkdir_p(dir, 0750);
	if (rc < 0)
		return rc;
	/* upstream names it with a random hex id; the attempt keeps one per instance */
	snprintf(path, pathlen, "%s/%08x", dir, (unsigned)attempt);
	int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0666);
	if (fd < 0)
		return -errno;
	fchmod(fd, 0666);
	close(fd);
	return 0;
}

static int cmp_rev(const void *a, const void *b)
{
	return strcmp(*(char *const *)b, *(char *const *)a);
}

int vol_teardown(const char *root_dir, const char *uid)
{
	char dir[PATH_MAX];
	if (vol_pod_dir(dir, sizeof(dir), root_dir && root_dir[0] ? root_dir : "/var/lib/kubelet", uid) < 0 || !uid[0])
		return 0;
	size_t dl = strlen(dir);
	char *mps[256];
	int n = 0;
	FILE *f = fopen("/proc/self/mounts", "re");
	if (f) {
		char line[4096];
		while (n < 256 && fgets(line, sizeof(line), f)) {
			char *sp = strchr(line, ' ');
			if (!sp)
				continue;
			char *mp = sp + 1, *e = strchr(mp, ' ');
			if (!e)
				continue;
			*e = 0;
			if (!strncmp(mp, dir, dl) && (mp[dl] == '/' || mp[dl] == 0))
				mps[n++] = strdup(mp);
		}
		fclose(f);
	}
	qsort(mps, (size_t)n, sizeof(char *), cmp_rev); /* deepest first */
	int left = 0;
	for (int i = 0; i < n; i++) {
		if (mps[i] && umount2(mps[i], 0) < 0 && umount2(mps[i], MNT_DETACH) < 0)
			left++;
		free(mps[i]);
	}
	if (left == 0)
		aw_remove_tree(dir);
	return left;
}
