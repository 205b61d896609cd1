/* Static pods from a manifest directory; see static_pods.h. */
#include "static_pods.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "errors.h"
#include "json.h"
#include "log.h"

/* ---- decoding (config/common.go tryDecodeSinglePod + applyDefaults) ---- */

static cJSON *obj_member(cJSON *o, const char *key)
{
	cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	if (!v) {
		v = cJSON_AddObjectToObject(o, key);
	} else if (!cJSON_IsObject(v)) {
		cJSON *n = cJSON_CreateObject();
		if (!n)
			return NULL;
		cJSON_ReplaceItemInObjectCaseSensitive(o, key, n);
		v = n;
	}
	return v;
}

static int set_ann(cJSON *pod, const char *key, const char *val)
{
	cJSON *md = obj_member(pod, "metadata");
	cJSON *ann = md ? obj_member(md, "annotations") : NULL;
	if (!ann)
		return -ENOMEM;
	cJSON_DeleteItemFromObjectCaseSensitive(ann, key);
	return cJSON_AddStringToObject(ann, key, val) ? 0 : -ENOMEM;
}

static const char *get_ann(const cJSON *pod, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(kc_json_get(pod, "metadata.annotations"), key);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

int sp_is_static(const cJSON *pod)
{
	const char *s = get_ann(pod, SP_ANN_SOURCE);
	return s && !strcmp(s, "file");
}

int sp_is_mirror(const cJSON *pod)
{
	return get_ann(pod, SP_ANN_MIRROR) != NULL;
}

/* upstream: a uid from the object's hash, then "host:<node>" and "file:<path>"
 * (md5, hex); the canonical JSON stands in for Go's DeepHashObject */
static int hash_uid(const cJSON *pod, const char *node, const char *path, char out[33])
{
	char *txt = kc_json_print_canonical(pod);
	if (!txt)
		return -ENOMEM;
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int ok = ctx && EVP_DigestInit_ex(ctx, EVP_md5(), NULL) && EVP_DigestUpdate(ctx, txt, strlen(txt)) &&
		 EVP_DigestUpdate(ctx, "host:", 5) && EVP_DigestUpdate(ctx, node, strlen(node)) &&
		 EVP_DigestUpdate(ctx, "file:", 5) && EVP_DigestUpdate(ctx, path, strlen(path)) &&
		 EVP_DigestFinal_ex(ctx, md, &n) && n == 16;
	EVP_MD_CTX_free(ctx);
	free(txt);
	if (!ok)
		return -EIO;
	for (unsigned i = 0; i < 16; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
	return 0;
}

int sp_decode(const char *buf, size_t len, const char *path, const char *node_name, cJSON **out, char *err,
	      size_t errlen)
{
	*out = NULL;
	size_t i = 0;
	while (i < len && (buf[i] == ' ' || buf[i] == '\t' || buf[i] == '\n' || buf[i] == '\r'))
		i++;
	cJSON *pod = NULL;
	char perr[256] = "";
	/* JSON is YAML, but a JSON file indented with tabs is not: parse it as JSON */
	int rc = i < len && buf[i] == '{' ? kc_json_parse(buf, len, SP_MAX_MANIFEST, &pod, perr, sizeof(perr))
					   : kcfg_yaml_to_json(buf, len, &pod, perr, sizeof(perr));
	if (rc < 0) {
		snprintf(err, errlen, "%s: couldn't parse as pod: %s", path, perr);
		return -EINVAL;
	}
	const char *why = NULL;
	if (!cJSON_IsObject(pod))
		why = "not an object";
	else if (strcmp(kc_json_get_string(pod, "kind", ""), "Pod"))
		why = "kind must be Pod";
	else if (strcmp(kc_json_get_string(pod, "apiVersion", ""), "v1"))
		why = "apiVersion must be v1";
	else if (!kc_json_get_string(pod, "metadata.name", "")[0])
		why = "metadata.name: Required value: name or generateName is required";
	else if (cJSON_GetArraySize(kc_json_get(pod, "spec.containers")) < 1)
		why = "spec.containers: Required value";
	else if (strlen(kc_json_get_string(pod, "metadata.name", "")) + 1 + strlen(node_name) > 253)
		why = "metadata.name: Invalid value: must be no more than 253 characters with the node name";
	else if (strlen(kc_json_get_string(pod, "metadata.namespace", "")) > 63)
		why = "metadata.namespace: Invalid value: must be no more than 63 characters";
	if (why) {
		snprintf(err, errlen, "%s: invalid pod: %s", path, why);
		cJSON_Delete(pod);
		return -EINVAL;
	}
	/* applyDefaults */
	char uid[33];
	const char *given = kc_json_get_string(pod, "metadata.uid", "");
	if (given[0] && strlen(given) < sizeof(uid)) {
		snprintf(uid, sizeof(uid), "%s", given);
	} else if ((rc = hash_uid(pod, node_name, path, uid)) < 0) {
		cJSON_Delete(pod);
		snprintf(err, errlen, "%s: %s", path, kc_strerror(rc));
		return rc;
	}
	char name[320];
	snprintf(name, sizeof(name), "%s-%s", kc_json_get_string(pod, "metadata.name", ""), node_name);
	rc = kc_json_set_string(pod, "metadata.name", name);
	if (!rc && !kc_json_get_string(pod, "metadata.namespace", "")[0])
		rc = kc_json_set_string(pod, "metadata.namespace", "default");
	if (!rc)
		rc = kc_json_set_string(pod, "metadata.uid", uid);
	if (!rc)
		rc = kc_json_set_string(pod, "spec.nodeName", node_name);
	if (!rc)
		rc = set_ann(pod, SP_ANN_HASH, uid);
	if (!rc)
		rc = set_ann(pod, SP_ANN_SOURCE, "file");
	/* static pods tolerate every NoExecute taint, so node problems do not evict them */
	cJSON *spec = rc ? NULL : obj_member(pod, "spec");
	cJSON *tol = spec ? cJSON_GetObjectItemCaseSensitive(spec, "tolerations") : NULL;
	if (!rc && !cJSON_IsArray(tol)) {
		cJSON_DeleteItemFromObjectCaseSensitive(spec, "tolerations");
		tol = cJSON_AddArrayToObject(spec, "tolerations");
	}
	cJSON *t = tol ? cJSON_CreateObject() : NULL;
	if (t) {
		cJSON_AddStringToObject(t, "operator", "Exists");
		cJSON_AddStringToObject(t, "effect", "NoExecute");
		cJSON_AddItemToArray(tol, t);
	} else {
		rc = -ENOMEM;
	}
	cJSON_DeleteItemFromObjectCaseSensitive(pod, "status");
	if (!rc)
		rc = kc_json_set_string(pod, "status.phase", "Pending");
	if (rc < 0) {
		cJSON_Delete(pod);
		snprintf(err, errlen, "%s: %s", path, kc_strerror(rc));
		return rc;
	}
	*out = pod;
	return 0;
}

cJSON *sp_mirror_pod(const cJSON *static_pod, const char *node_name, const char *node_uid)
{
	cJSON *p = kc_json_dup(static_pod);
	if (!p)
		return NULL;
	const char *hash = get_ann(static_pod, SP_ANN_HASH);
	cJSON *md = obj_member(p, "metadata");
	if (!md || set_ann(p, SP_ANN_MIRROR, hash ? hash : kc_json_get_string(static_pod, "metadata.uid", "")) < 0)
		goto fail;
	cJSON_DeleteItemFromObjectCaseSensitive(md, "uid");
	cJSON_DeleteItemFromObjectCaseSensitive(md, "resourceVersion");
	cJSON_DeleteItemFromObjectCaseSensitive(md, "ownerReferences");
	cJSON_DeleteItemFromObjectCaseSensitive(p, "status");
	cJSON *refs = cJSON_AddArrayToObject(md, "ownerReferences");
	cJSON *r = cJSON_CreateObject();
	if (!refs || !r) {
		cJSON_Delete(r);
		goto fail;
	}
	cJSON_AddStringToObject(r, "apiVersion", "v1");
	cJSON_AddStringToObject(r, "kind", "Node");
	cJSON_AddStringToObject(r, "name", node_name);
	cJSON_AddStringToObject(r, "uid", node_uid);
	cJSON_AddBoolToObject(r, "controller", 1);
	cJSON_AddItemToArray(refs, r);
	return p;
fail:
	cJSON_Delete(p);
	return NULL;
}

/* ---- the directory source (config/file.go) ---- */

typedef struct sp_file {
	char *path;
	int64_t mtime_ns;
	int64_t size;
	cJSON *pod;   /* NULL: the manifest did not decode (logged once per version) */
} sp_file;

struct sp_source {
	char *dir, *node;
	int64_t period_ns;
	sp_update_fn update;
	sp_tick_fn tick;
	void *arg;
	pthread_mutex_t mu; /* files (read by sp_source_pods), stop, wake */
	pthread_cond_t cv;
	sp_file *files;
	size_t nfiles;
	int stop, wake, running, dir_err;
	pthread_t th;
};

static void file_free(sp_file *f)
{
	free(f->path);
	cJSON_Delete(f->pod);
}

int sp_source_new(const char *dir, const char *node_name, int64_t period_ns, sp_update_fn update, sp_tick_fn tick,
		  void *arg, sp_source **out)
{
	if (!dir || !dir[0] || !node_name || !node_name[0] || !out)
		return -EINVAL;
	sp_source *s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->dir = strdup(dir);
	s->node = strdup(node_name);
	if (!s->dir || !s->node) {
		free(s->dir);
		free(s->node);
		free(s);
		return -ENOMEM;
	}
	s->period_ns = period_ns > 0 ? period_ns : 20000000000LL;
	s->update = update;
	s->tick = tick;
	s->arg = arg;
	pthread_mutex_init(&s->mu, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&s->cv, &ca);
	pthread_condattr_destroy(&ca);
	*out = s;
	return 0;
}

static int read_file(const char *path, char **buf, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	char *b = malloc(SP_MAX_MANIFEST + 1);
	size_t n = 0;
	ssize_t r = 0;
	while (b && n <= SP_MAX_MANIFEST && (r = read(fd, b + n, SP_MAX_MANIFEST + 1 - n)) > 0)
		n += (size_t)r;
	int e = r < 0 ? -errno : 0;
	close(fd);
	if (!b)
		return -ENOMEM;
	if (e < 0 || n > SP_MAX_MANIFEST) {
		free(b);
		return e < 0 ? e : -EFBIG;
	}
	b[n] = 0;
	*buf = b;
	*len = n;
	return 0;
}

static const char *pod_uid(const sp_file *f)
{
	return f->pod ? kc_json_get_string(f->pod, "metadata.uid", "") : "";
}

static const sp_file *find_uid(const sp_file *v, size_t n, const char *uid)
{
	for (size_t i = 0; i < n; i++)
		if (v[i].pod && !strcmp(pod_uid(&v[i]), uid))
			return &v[i];
	return NULL;
}

static int path_cmp(const void *a, const void *b)
{
	return strcmp(((const sp_file *)a)->path, ((const sp_file *)b)->path);
}

/* RFC 3339 with nanoseconds, as Go's time.Time.String in config.seen */
static void seen_now(char *buf, size_t len)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	struct tm tm;
	gmtime_r(&ts.tv_sec, &tm);
	char d[40];
	strftime(d, sizeof(d), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf, len, "%s.%09ldZ", d, ts.tv_nsec);
}

int sp_source_scan(sp_source *s)
{
	DIR *d = opendir(s->dir);
	if (!d) {
		int e = -errno;
		if (!s->dir_err)
			kc_error("\"Unable to read config path\" path=\"%s\" err=\"%s\"", s->dir, strerror(-e));
		s->dir_err = 1;
		if (s->tick)
			s->tick(s->arg);
		return e;
	}
	s->dir_err = 0;
	sp_file *nv = NULL;
	size_t nn = 0, cap = 0;
	struct dirent *de;
	int rc = 0;
	while (rc == 0 && (de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue; /* hidden files are ignored, as upstream */
		char path[4096];
		if ((size_t)snprintf(path, sizeof(path), "%s/%s", s->dir, de->d_name) >= sizeof(path))
			continue;
		struct stat sb;
		if (stat(path, &sb) < 0 || !S_ISREG(sb.st_mode))
			continue;
		if (nn == cap) {
			size_t nc = cap ? cap * 2 : 8;
			sp_file *t = realloc(nv, nc * sizeof(*t));
			if (!t) {
				rc = -ENOMEM;
				break;
			}
			nv = t;
			cap = nc;
		}
		sp_file *f = &nv[nn];
		memset(f, 0, sizeof(*f));
		f->path = strdup(path);
		if (!f->path) {
			rc = -ENOMEM;
			break;
		}
		nn++;
		f->mtime_ns = (int64_t)sb.st_mtim.tv_sec * 1000000000LL + sb.st_mtim.tv_nsec;
		f->size = (int64_t)sb.st_size;
		/* unchanged since the last scan: keep what was decoded (and its seen time) */
		const sp_file *old = NULL;
		for (size_t i = 0; i < s->nfiles; i++)
			if (!strcmp(s->files[i].path, path))
				old = &s->files[i];
		if (old && old->mtime_ns == f->mtime_ns && old->size == f->size) {
			f->pod = old->pod ? kc_json_dup(old->pod) : NULL;
			if (old->pod && !f->pod)
				rc = -ENOMEM;
			continue;
		}
		char *buf = NULL, err[512] = "";
		size_t len = 0;
		int r = read_file(path, &buf, &len);
		if (r < 0) {
			kc_error("\"Could not process manifest file\" path=\"%s\" err=\"%s\"", path, strerror(-r));
			continue;
		}
		cJSON *pod = NULL;
		r = sp_decode(buf, len, path, s->node, &pod, err, sizeof(err));
		free(buf);
		if (r < 0) {
			kc_error("\"Could not process manifest file\" path=\"%s\" err=\"%s\"", path, err);
			continue;
		}
		/* the same content rewritten is the same pod (same uid): keep its seen time */
		const sp_file *same = find_uid(s->files, s->nfiles, kc_json_get_string(pod, "metadata.uid", ""));
		if (same) {
			cJSON_Delete(pod);
			pod = kc_json_dup(same->pod);
		} else {
			char seen[64];
			seen_now(seen, sizeof(seen));
			if (pod && set_ann(pod, SP_ANN_SEEN, seen) < 0) {
				cJSON_Delete(pod);
				pod = NULL;
			}
		}
		if (!pod) {
			rc = -ENOMEM;
			continue;
		}
		f->pod = pod;
	}
	closedir(d);
	if (rc < 0) {
		for (size_t i = 0; i < nn; i++)
			file_free(&nv[i]);
		free(nv);
		return rc;
	}
	/* deterministic order; two manifests with one pod name: the first file wins, as
	 * upstream's podStorage drops a duplicate full name */
	if (nn > 1)
		qsort(nv, nn, sizeof(*nv), path_cmp);
	for (size_t i = 0; i < nn; i++) {
		for (size_t j = 0; nv[i].pod && j < i; j++) {
			if (!nv[j].pod ||
			    strcmp(kc_json_get_string(nv[j].pod, "metadata.name", ""),
				   kc_json_get_string(nv[i].pod, "metadata.name", "")) ||
			    strcmp(kc_json_get_string(nv[j].pod, "metadata.namespace", ""),
				   kc_json_get_string(nv[i].pod, "metadata.namespace", "")))
				continue;
			kc_warn("\"Pod with the same full name already exists in the static pod source, dropping\" "
				"path=\"%s\" pod=\"%s/%s\"", nv[i].path, kc_json_get_string(nv[i].pod, "metadata.namespace", ""),
				kc_json_get_string(nv[i].pod, "metadata.name", ""));
			cJSON_Delete(nv[i].pod);
			nv[i].pod = NULL;
		}
	}
	/* report the differences by uid: removed first (a changed file kills the old pod
	 * before the new one starts), then added */
	sp_file *ov = s->files;
	size_t on = s->nfiles;
	for (size_t i = 0; i < on; i++)
		if (ov[i].pod && !find_uid(nv, nn, pod_uid(&ov[i])) && s->update)
			s->update(ov[i].pod, 1, s->arg);
	for (size_t i = 0; i < nn; i++)
		if (nv[i].pod && !find_uid(ov, on, pod_uid(&nv[i])) && s->update)
			s->update(nv[i].pod, 0, s->arg);
	pthread_mutex_lock(&s->mu);
	s->files = nv;
	s->nfiles = nn;
	pthread_mutex_unlock(&s->mu);
	for (size_t i = 0; i < on; i++)
		file_free(&ov[i]);
	free(ov);
	if (s->tick)
		s->tick(s->arg);
	return 0;
}

static void *source_main(void *arg)
{
	sp_source *s = arg;
	pthread_mutex_lock(&s->mu);
	while (!s->stop) {
		s->wake = 0;
		pthread_mutex_unlock(&s->mu);
		struct timespec now;
		clock_gettime(CLOCK_MONOTONIC, &now);
		int64_t next = (int64_t)now.tv_sec * 1000000000LL + now.tv_nsec + s->period_ns;
		sp_source_scan(s);
		struct timespec ts = { .tv_sec = next / 1000000000LL, .tv_nsec = next % 1000000000LL };
		pthread_mutex_lock(&s->mu);
		while (!s->stop && !s->wake && pthread_cond_timedwait(&s->cv, &s->mu, &ts) == 0)
			;
	}
	pthread_mutex_unlock(&s->mu);
	return NULL;
}

int sp_source_start(sp_source *s)
{
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 512 * 1024);
	int rc = pthread_create(&s->th, &attr, source_main, s);
	pthread_attr_destroy(&attr);
	if (rc != 0)
		return -rc;
	s->running = 1;
	return 0;
}

void sp_source_wake(sp_source *s)
{
	if (!s)
		return;
	pthread_mutex_lock(&s->mu);
	s->wake = 1;
	pthread_cond_signal(&s->cv);
	pthread_mutex_unlock(&s->mu);
}

cJSON *sp_source_pods(sp_source *s)
{
	cJSON *a = cJSON_CreateArray();
	if (!a)
		return NULL;
	pthread_mutex_lock(&s->mu);
	for (size_t i = 0; i < s->nfiles; i++) {
		if (!s->files[i].pod)
			continue;
		cJSON *d = kc_json_dup(s->files[i].pod);
		if (!d) {
			cJSON_Delete(a);
			a = NULL;
			break;
		}
		cJSON_AddItemToArray(a, d);
	}
	pthread_mutex_unlock(&s->mu);
	return a;
}

void sp_source_free(sp_source *s)
{
	if (!s)
		return;
	if (s->running) {
		pthread_mutex_lock(&s->mu);
		s->stop = 1;
		pthread_cond_signal(&s->cv);
		pthread_mutex_unlock(&s->mu);
		pthread_join(s->th, NULL);
	}
	for (size_t i = 0; i < s->nfiles; i++)
		file_free(&s->files[i]);
	free(s->files);
	free(s->dir);
	free(s->node);
	pthread_mutex_destroy(&s->mu);
	pthread_cond_destroy(&s->cv);
	free(s);
}
