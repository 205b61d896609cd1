/* Static pods (kubelet/static_pods.c): manifest decoding with upstream's defaults, the
 * mirror pod, and the directory source's add / change / remove reports. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../../kubelet/static_pods.h"
#include "json.h"
#include "kc_test.h"

static const char *ann(const cJSON *pod, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(kc_json_get(pod, "metadata.annotations"), key);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static const char web_yaml[] = "apiVersion: v1\n"
			       "kind: Pod\n"
			       "metadata:\n"
			       "  name: web\n"
			       "  annotations:\n"
			       "    team: a\n"
			       "spec:\n"
			       "  containers:\n"
			       "  - name: c\n"
			       "    image: busybox:1.35\n"
			       "status:\n"
			       "  phase: Running\n";

START_TEST(decode_applies_upstream_defaults)
{
	cJSON *p = NULL;
	char err[256] = "";
	ck_assert_int_eq(sp_decode(web_yaml, strlen(web_yaml), "/etc/k/web.yaml", "node-1", &p, err, sizeof(err)), 0);
	ck_assert_str_eq(kc_json_get_string(p, "metadata.name", ""), "web-node-1");
	ck_assert_str_eq(kc_json_get_string(p, "metadata.namespace", ""), "default");
	ck_assert_str_eq(kc_json_get_string(p, "spec.nodeName", ""), "node-1");
	const char *uid = kc_json_get_string(p, "metadata.uid", "");
	ck_assert_uint_eq(strlen(uid), 32);
	ck_assert_str_eq(ann(p, SP_ANN_HASH), uid);
	ck_assert_str_eq(ann(p, SP_ANN_SOURCE), "file");
	ck_assert_str_eq(ann(p, "team"), "a");
	ck_assert_ptr_null(ann(p, SP_ANN_SEEN)); /* the source sets it */
	/* whatever status the file had: Pending */
	ck_assert_str_eq(kc_json_get_string(p, "status.phase", ""), "Pending");
	const cJSON *t = cJSON_GetArrayItem(kc_json_get(p, "spec.tolerations"), 0);
	ck_assert_str_eq(kc_json_get_string(t, "operator", ""), "Exists");
	ck_assert_str_eq(kc_json_get_string(t, "effect", ""), "NoExecute");
	ck_assert(sp_is_static(p));
	ck_assert(!sp_is_mirror(p));

	/* the uid depends on the content, the node and the file */
	cJSON *q = NULL;
	ck_assert_int_eq(sp_decode(web_yaml, strlen(web_yaml), "/etc/k/web.yaml", "node-1", &q, err, sizeof(err)), 0);
	ck_assert_str_eq(kc_json_get_string(q, "metadata.uid", ""), uid);
	cJSON_Delete(q);
	ck_assert_int_eq(sp_decode(web_yaml, strlen(web_yaml), "/etc/k/other.yaml", "node-1", &q, err, sizeof(err)), 0);
	ck_assert_str_ne(kc_json_get_string(q, "metadata.uid", ""), uid);
	cJSON_Delete(q);
	ck_assert_int_eq(sp_decode(web_yaml, strlen(web_yaml), "/etc/k/web.yaml", "node-2", &q, err, sizeof(err)), 0);
	ck_assert_str_ne(kc_json_get_string(q, "metadata.uid", ""), uid);
	ck_assert_str_eq(kc_json_get_string(q, "metadata.name", ""), "web-node-2");
	cJSON_Delete(q);
	char changed[sizeof(web_yaml)];
	memcpy(changed, web_yaml, sizeof(web_yaml));
	memcpy(strstr(changed, "team: a"), "team: b", 7);
	ck_assert_int_eq(sp_decode(changed, strlen(changed), "/etc/k/web.yaml", "node-1", &q, err, sizeof(err)), 0);
	ck_assert_str_ne(kc_json_get_string(q, "metadata.uid", ""), uid);
	cJSON_Delete(q);
	cJSON_Delete(p);
}
END_TEST

START_TEST(decode_json_and_given_uid_and_namespace)
{
	/* tab-indented JSON (not valid YAML) with a namespace and a uid of its own */
	const char *j = "{\n\t\"apiVersion\": \"v1\", \"kind\": \"Pod\",\n\t\"metadata\": {\"name\": \"db\", \"namespace\": "
			"\"kube-system\", \"uid\": \"u-1\"},\n\t\"spec\": {\"containers\": [{\"name\": \"c\", \"image\": \"x\"}],"
			" \"tolerations\": [{\"key\": \"k\", \"operator\": \"Exists\"}]}\n}";
	cJSON *p = NULL;
	char err[256] = "";
	ck_assert_int_eq(sp_decode(j, strlen(j), "/m/db.json", "n", &p, err, sizeof(err)), 0);
	ck_assert_str_eq(kc_json_get_string(p, "metadata.name", ""), "db-n");
	ck_assert_str_eq(kc_json_get_string(p, "metadata.namespace", ""), "kube-system");
	ck_assert_str_eq(kc_json_get_string(p, "metadata.uid", ""), "u-1");
	ck_assert_str_eq(ann(p, SP_ANN_HASH), "u-1");
	/* the pod's own tolerations stay, the NoExecute one is added */
	ck_assert_int_eq(cJSON_GetArraySize(kc_json_get(p, "spec.tolerations")), 2);
	cJSON_Delete(p);
}
END_TEST

START_TEST(decode_rejects_what_is_not_a_pod)
{
	struct {
		const char *in, *msg;
	} cases[] = {
		{ "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\n", "kind must be Pod" },
		{ "apiVersion: v2\nkind: Pod\nmetadata: {name: d}\nspec: {containers: [{name: c}]}\n",
		  "apiVersion must be v1" },
		{ "apiVersion: v1\nkind: Pod\nmetadata: {}\nspec: {containers: [{name: c}]}\n",
		  "name or generateName is required" },
		{ "apiVersion: v1\nkind: Pod\nmetadata: {name: x}\nspec: {containers: []}\n", "spec.containers" },
		{ "- a\n- b\n", "not an object" },
		{ "a: [\n", "couldn't parse as pod" },
		{ "{\"kind\": ", "couldn't parse as pod" },
		{ "", "kind must be Pod" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cJSON *p = (cJSON *)1;
		char err[256] = "";
		int rc = sp_decode(cases[i].in, strlen(cases[i].in), "/m/f.yaml", "n", &p, err, sizeof(err));
		ck_assert_msg(rc == -EINVAL, "case %zu: rc %d", i, rc);
		ck_assert_ptr_null(p);
		ck_assert_msg(strstr(err, cases[i].msg) && strstr(err, "/m/f.yaml"), "case %zu: %s", i, err);
	}
}
END_TEST

START_TEST(mirror_pod_as_upstream)
{
	cJSON *p = NULL;
	char err[256];
	ck_assert_int_eq(sp_decode(web_yaml, strlen(web_yaml), "/etc/k/web.yaml", "node-1", &p, err, sizeof(err)), 0);
	kc_json_set_string(p, "metadata.resourceVersion", "5");
	cJSON *m = sp_mirror_pod(p, "node-1", "node-uid-9");
	ck_assert_ptr_nonnull(m);
	ck_assert(sp_is_mirror(m));
	ck_assert_str_eq(ann(m, SP_ANN_MIRROR), kc_json_get_string(p, "metadata.uid", ""));
	ck_assert_str_eq(ann(m, SP_ANN_HASH), kc_json_get_string(p, "metadata.uid", ""));
	ck_assert_ptr_null(kc_json_get(m, "metadata.uid"));
	ck_assert_ptr_null(kc_json_get(m, "metadata.resourceVersion"));
	ck_assert_ptr_null(kc_json_get(m, "status"));
	ck_assert_str_eq(kc_json_get_string(m, "metadata.name", ""), "web-node-1");
	const cJSON *r = cJSON_GetArrayItem(kc_json_get(m, "metadata.ownerReferences"), 0);
	ck_assert_str_eq(kc_json_get_string(r, "kind", ""), "Node");
	ck_assert_str_eq(kc_json_get_string(r, "apiVersion", ""), "v1");
	ck_assert_str_eq(kc_json_get_string(r, "name", ""), "node-1");
	ck_assert_str_eq(kc_json_get_string(r, "uid", ""), "node-uid-9");
	ck_assert(kc_json_get_bool(r, "controller", false));
	ck_assert_int_eq(cJSON_GetArraySize(kc_json_get(m, "metadata.ownerReferences")), 1);
	/* the static pod itself is untouched */
	ck_assert_ptr_null(ann(p, SP_ANN_MIRROR));
	cJSON_Delete(m);
	cJSON_Delete(p);
}
END_TEST

/* ---- the directory source ---- */

typedef struct reports {
	int n;
	char name[16][320];
	char uid[16][64];
	int removed[16];
	int ticks;
} reports;

static void on_update(const cJSON *pod, int removed, void *arg)
{
	reports *r = arg;
	if (r->n >= 16)
		return;
	snprintf(r->name[r->n], sizeof(r->name[0]), "%s", kc_json_get_string(pod, "metadata.name", ""));
	snprintf(r->uid[r->n], sizeof(r->uid[0]), "%s", kc_json_get_string(pod, "metadata.uid", ""));
	r->removed[r->n] = removed;
	r->n++;
}

static void on_tick(void *arg)
{
	((reports *)arg)->ticks++;
}

static void write_file(const char *dir, const char *name, const char *content, int mtime_bump)
{
	char p[512];
	snprintf(p, sizeof(p), "%s/%s", dir, name);
	FILE *f = fopen(p, "w");
	ck_assert_ptr_nonnull(f);
	fputs(content, f);
	fclose(f);
	/* a distinct mtime, so the source sees a rewrite within one clock tick */
	struct timespec ts[2];
	clock_gettime(CLOCK_REALTIME, &ts[0]);
	ts[0].tv_sec += mtime_bump;
	ts[1] = ts[0];
	ck_assert_int_eq(utimensat(AT_FDCWD, p, ts, 0), 0);
}

static const char *pod_yaml(const char *name, const char *label)
{
	static char buf[512];
	snprintf(buf, sizeof(buf),
		 "apiVersion: v1\nkind: Pod\nmetadata:\n  name: %s\n  labels: {v: %s}\nspec:\n  containers:\n"
		 "  - {name: c, image: busybox:1.35}\n",
		 name, label);
	return buf;
}

START_TEST(source_reports_added_changed_removed)
{
	char dir[] = "/tmp/kc-static-XXXXXX";
	ck_assert_ptr_nonnull(mkdtemp(dir));
	reports r = { 0 };
	sp_source *s = NULL;
	ck_assert_int_eq(sp_source_new(dir, "n1", 0, on_update, on_tick, &r, &s), 0);
	write_file(dir, "a.yaml", pod_yaml("a", "1"), 0);
	write_file(dir, "b.yaml", pod_yaml("b", "1"), 0);
	write_file(dir, ".swp.yaml", pod_yaml("hidden", "1"), 0);
	write_file(dir, "dup.yaml", pod_yaml("a", "2"), 0); /* a second "a": dropped */
	write_file(dir, "bad.yaml", "kind: Service\n", 0);
	ck_assert_int_eq(sp_source_scan(s), 0);
	ck_assert_int_eq(r.ticks, 1);
	ck_assert_int_eq(r.n, 2);
	ck_assert_str_eq(r.name[0], "a-n1");
	ck_assert_str_eq(r.name[1], "b-n1");
	ck_assert(!r.removed[0] && !r.removed[1]);
	cJSON *pods = sp_source_pods(s);
	ck_assert_int_eq(cJSON_GetArraySize(pods), 2);
	const char *seen = ann(cJSON_GetArrayItem(pods, 0), SP_ANN_SEEN);
	ck_assert_ptr_nonnull(seen);
	char seen0[64];
	snprintf(seen0, sizeof(seen0), "%s", seen);
	cJSON_Delete(pods);
	char uid_a[64];
	snprintf(uid_a, sizeof(uid_a), "%s", r.uid[0]);

	/* nothing changed: nothing reported */
	r.n = 0;
	ck_assert_int_eq(sp_source_scan(s), 0);
	ck_assert_int_eq(r.n, 0);
	/* the same content written again: the same pod (its seen time kept) */
	write_file(dir, "a.yaml", pod_yaml("a", "1"), 5);
	ck_assert_int_eq(sp_source_scan(s), 0);
	ck_assert_int_eq(r.n, 0);
	pods = sp_source_pods(s);
	ck_assert_str_eq(ann(cJSON_GetArrayItem(pods, 0), SP_ANN_SEEN), seen0);
	cJSON_Delete(pods);

	/* a changed manifest: the old uid removed, then the new one added */
	write_file(dir, "a.yaml", pod_yaml("a", "2"), 10);
	ck_assert_int_eq(sp_source_scan(s), 0);
	ck_assert_int_eq(r.n, 2);
	ck_assert(r.removed[0]);
	ck_assert_str_eq(r.uid[0], uid_a);
	ck_assert(!r.removed[1]);
	ck_assert_str_eq(r.name[1], "a-n1");
	ck_assert_str_ne(r.uid[1], uid_a);

	/* a removed manifest */
	r.n = 0;
	char p[512];
	snprintf(p, sizeof(p), "%s/b.yaml", dir);
	ck_assert_int_eq(unlink(p), 0);
	ck_assert_int_eq(sp_source_scan(s), 0);
	ck_assert_int_eq(r.n, 1);
	ck_assert(r.removed[0]);
	ck_assert_str_eq(r.name[0], "b-n1");
	pods = sp_source_pods(s);
	ck_assert_int_eq(cJSON_GetArraySize(pods), 1);
	cJSON_Delete(pods);

	/* the directory gone: an error, the pods known are kept (not reported removed) */
	const char *names[] = { "a.yaml", ".swp.yaml", "dup.yaml", "bad.yaml" };
	for (size_t i = 0; i < 4; i++) {
		snprintf(p, sizeof(p), "%s/%s", dir, names[i]);
		unlink(p);
	}
	ck_assert_int_eq(rmdir(dir), 0);
	r.n = 0;
	ck_assert_int_eq(sp_source_scan(s), -ENOENT);
	ck_assert_int_eq(r.n, 0);
	sp_source_free(s);
}
END_TEST

static Suite *kubelet_static_suite(void)
{
	Suite *s = suite_create("kubelet_static");
	TCase *t = tcase_create("static");
	tcase_add_test(t, decode_applies_upstream_defaults);
	tcase_add_test(t, decode_json_and_given_uid_and_namespace);
	tcase_add_test(t, decode_rejects_what_is_not_a_pod);
	tcase_add_test(t, mirror_pod_as_upstream);
	tcase_add_test(t, source_reports_added_changed_removed);
	suite_add_tcase(s, t);
	return s;
}

KC_TEST_MAIN(kubelet_static_suite)
