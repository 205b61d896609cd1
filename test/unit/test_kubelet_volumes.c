/* The kubelet's volume logic: the atomic writer's ..data layout and updates, upstream's
 * volume path layout, configMap/secret/downwardAPI payloads, FormatMap quoting,
 * /etc/hosts, per-container mounts (subPath, read-only, escapes refused), hostPath type
 * checks and teardown. Everything runs in a temp dir; nothing is mounted. */
#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "errors.h"
#include "json.h"
#include "kc_test.h"
#include "../../kubelet/atomic_writer.h"
#include "../../kubelet/volumes.h"

/* the temp dir path is short; buffers are sized for it */
#pragma GCC diagnostic ignored "-Wformat-truncation"

static cJSON *J(const char *s)
{
	cJSON *o = NULL;
	char err[256];
	ck_assert_msg(kc_json_parse_str(s, &o, err, sizeof(err)) == 0, "%s: %s", s, err);
	return o;
}

static char tmp[PATH_MAX];

static int rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	remove(p);
	return 0;
}

static void setup(void)
{
	snprintf(tmp, sizeof(tmp), "/tmp/kubec-voltest.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmp));
}

static void teardown(void)
{
	/* a failed test may leave the token test's tmpfs mounted */
	vol_teardown(tmp, "u-4");
	nftw(tmp, rm_entry, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
}

static char *slurp(const char *path)
{
	static char buf[4096];
	FILE *f = fopen(path, "r");
	if (!f)
		return NULL;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = 0;
	fclose(f);
	return buf;
}

static int count_ts_dirs(const char *dir)
{
	DIR *d = opendir(dir);
	int n = 0;
	struct dirent *de;
	while (d && (de = readdir(d)))
		n += !strncmp(de->d_name, "..20", 4);
	if (d)
		closedir(d);
	return n;
}

START_TEST(atomic_writer_layout_and_updates)
{
	char err[256] = "", p[PATH_MAX], link[PATH_MAX];
	aw_payload pl = { 0 };
	ck_assert_int_eq(aw_payload_add(&pl, "a", "one", 3, 0644), 0);
	ck_assert_int_eq(aw_payload_add(&pl, "dir/b", "two", 3, 0400), 0);
	ck_assert_int_eq(aw_write(tmp, &pl, err, sizeof(err)), 1);
	/* user-visible links point through ..data into one timestamped dir */
	snprintf(p, sizeof(p), "%s/a", tmp);
	ck_assert_str_eq(slurp(p), "one");
	ssize_t l = readlink(p, link, sizeof(link) - 1);
	ck_assert_int_gt(l, 0);
	link[l] = 0;
	ck_assert_str_eq(link, "..data/a");
	snprintf(p, sizeof(p), "%s/dir", tmp);
	l = readlink(p, link, sizeof(link) - 1);
	link[l > 0 ? l : 0] = 0;
	ck_assert_str_eq(link, "..data/dir");
	snprintf(p, sizeof(p), "%s/dir/b", tmp);
	ck_assert_str_eq(slurp(p), "two");
	struct stat st;
	ck_assert_int_eq(stat(p, &st), 0);
	ck_assert_int_eq(st.st_mode & 07777, 0400);
	snprintf(p, sizeof(p), "%s/..data", tmp);
	l = readlink(p, link, sizeof(link) - 1);
	ck_assert_int_gt(l, 0);
	link[l] = 0;
	ck_assert_msg(!strncmp(link, "..20", 4), "..data -> %s", link);
	char first[PATH_MAX];
	snprintf(first, sizeof(first), "%s", link);
	ck_assert_int_eq(count_ts_dirs(tmp), 1);

	/* the same payload again: nothing rewritten */
	ck_assert_int_eq(aw_write(tmp, &pl, err, sizeof(err)), 0);
	l = readlink(p, link, sizeof(link) - 1);
	link[l] = 0;
	ck_assert_str_eq(link, first);
	/* a changed mode alone is a change */
	pl.f[0].mode = 0600;
	ck_assert_int_eq(aw_write(tmp, &pl, err, sizeof(err)), 1);
	aw_payload_close(&pl);

	/* an update: a changes, dir/b goes away, c appears; old dir removed, one ts dir */
	ck_assert_int_eq(aw_payload_add(&pl, "a", "uno", 3, 0644), 0);
	ck_assert_int_eq(aw_payload_add(&pl, "c", "", 0, 0644), 0);
	ck_assert_int_eq(aw_write(tmp, &pl, err, sizeof(err)), 1);
	snprintf(p, sizeof(p), "%s/a", tmp);
	ck_assert_str_eq(slurp(p), "uno");
	snprintf(p, sizeof(p), "%s/c", tmp);
	ck_assert_str_eq(slurp(p), "");
	snprintf(p, sizeof(p), "%s/dir", tmp);
	ck_assert_int_eq(lstat(p, &st), -1);
	ck_assert_int_eq(count_ts_dirs(tmp), 1);
	snprintf(p, sizeof(p), "%s/%s", tmp, first);
	ck_assert_int_eq(lstat(p, &st), -1);
	snprintf(p, sizeof(p), "%s/..data_tmp", tmp);
	ck_assert_int_eq(lstat(p, &st), -1);
	aw_payload_close(&pl);

	/* a later add of the same path replaces it (payload map semantics) */
	aw_payload_add(&pl, "x", "1", 1, 0644);
	aw_payload_add(&pl, "x", "22", 2, 0644);
	ck_assert_uint_eq(pl.n, 1);
	ck_assert_str_eq(pl.f[0].data, "22");
	aw_payload_close(&pl);
}
END_TEST

START_TEST(atomic_writer_rejects_bad_paths)
{
	const char *bad[] = { "/abs", "..x", "a/../b", "..", "", "a/.." };
	char err[256];
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		aw_payload pl = { 0 };
		aw_payload_add(&pl, bad[i], "x", 1, 0644);
		ck_assert_msg(aw_write(tmp, &pl, err, sizeof(err)) == -EINVAL, "%s accepted", bad[i]);
		ck_assert_ptr_nonnull(strstr(err, "invalid path"));
		aw_payload_close(&pl);
	}
	ck_assert_int_eq(aw_validate_path("a/b..c/.d", err, sizeof(err)), 0);
	/* nothing was written */
	ck_assert_int_eq(count_ts_dirs(tmp), 0);
}
END_TEST

START_TEST(volume_paths_and_plugins)
{
	char buf[512];
	ck_assert_int_gt(vol_path(buf, sizeof(buf), "/var/lib/kubelet", "u-1", "empty-dir", "work"), 0);
	ck_assert_str_eq(buf, "/var/lib/kubelet/pods/u-1/volumes/kubernetes.io~empty-dir/work");
	ck_assert_int_lt(vol_path(buf, 20, "/var/lib/kubelet", "u-1", "secret", "s"), 0);
	const char *type;
	cJSON *v = J("{\"name\":\"a\",\"configMap\":{\"name\":\"x\"}}");
	ck_assert_str_eq(vol_plugin(v, &type), "configmap");
	ck_assert_str_eq(type, "configMap");
	cJSON_Delete(v);
	v = J("{\"name\":\"a\",\"downwardAPI\":{}}");
	ck_assert_str_eq(vol_plugin(v, &type), "downward-api");
	cJSON_Delete(v);
	v = J("{\"name\":\"a\",\"persistentVolumeClaim\":{\"claimName\":\"c\"}}");
	ck_assert_ptr_null(vol_plugin(v, &type));
	ck_assert_str_eq(type, "persistentVolumeClaim");
	cJSON_Delete(v);
	v = J("{\"name\":\"a\",\"somethingNew\":{}}");
	ck_assert_ptr_null(vol_plugin(v, &type));
	ck_assert_str_eq(type, "somethingNew");
	cJSON_Delete(v);
}
END_TEST

START_TEST(configmap_and_secret_payloads)
{
	cJSON *cm = J("{\"data\":{\"a\":\"1\",\"b\":\"2\"},\"binaryData\":{\"bin\":\"AAE=\"}}");
	char err[256] = "";
	aw_payload pl = { 0 };
	/* all keys with defaultMode, binaryData decoded */
	cJSON *src = J("{\"name\":\"cm\"}");
	ck_assert_int_eq(vol_keys_payload(src, cm, 0, 0644, &pl, err, sizeof(err)), 0);
	ck_assert_uint_eq(pl.n, 3);
	ck_assert_str_eq(pl.f[2].path, "bin");
	ck_assert_uint_eq(pl.f[2].len, 2);
	ck_assert_int_eq(pl.f[2].data[1], 1);
	aw_payload_close(&pl);
	cJSON_Delete(src);
	/* items: key -> path with their own mode */
	src = J("{\"name\":\"cm\",\"items\":[{\"key\":\"b\",\"path\":\"x/y\",\"mode\":256}]}");
	ck_assert_int_eq(vol_keys_payload(src, cm, 0, 0644, &pl, err, sizeof(err)), 0);
	ck_assert_uint_eq(pl.n, 1);
	ck_assert_str_eq(pl.f[0].path, "x/y");
	ck_assert_str_eq(pl.f[0].data, "2");
	ck_assert_int_eq(pl.f[0].mode, 0400);
	aw_payload_close(&pl);
	cJSON_Delete(src);
	/* a missing key: upstream's message, or skipped when optional */
	src = J("{\"name\":\"cm\",\"items\":[{\"key\":\"zz\",\"path\":\"z\"}]}");
	ck_assert_int_eq(vol_keys_payload(src, cm, 0, 0644, &pl, err, sizeof(err)), -ENOENT);
	ck_assert_str_eq(err, "configmap references non-existent config key: zz");
	cJSON_Delete(src);
	src = J("{\"name\":\"cm\",\"optional\":true,\"items\":[{\"key\":\"zz\",\"path\":\"z\"}]}");
	ck_assert_int_eq(vol_keys_payload(src, cm, 0, 0644, &pl, err, sizeof(err)), 0);
	ck_assert_uint_eq(pl.n, 0);
	/* a missing object */
	ck_assert_int_eq(vol_keys_payload(src, NULL, 0, 0644, &pl, err, sizeof(err)), 0);
	cJSON_Delete(src);
	src = J("{\"secretName\":\"s\"}");
	ck_assert_int_eq(vol_keys_payload(src, NULL, 1, 0644, &pl, err, sizeof(err)), -ENOENT);
	ck_assert_str_eq(err, "secret \"s\" not found");
	/* a secret's values are base64 */
	cJSON *sec = J("{\"data\":{\"password\":\"czNjcmV0\"}}");
	ck_assert_int_eq(vol_keys_payload(src, sec, 1, 0440, &pl, err, sizeof(err)), 0);
	ck_assert_str_eq(pl.f[0].data, "s3cret");
	ck_assert_int_eq(pl.f[0].mode, 0440);
	aw_payload_close(&pl);
	cJSON_Delete(src);
	src = J("{\"secretName\":\"s\",\"items\":[{\"key\":\"k\",\"path\":\"k\"}]}");
	ck_assert_int_eq(vol_keys_payload(src, sec, 1, 0644, &pl, err, sizeof(err)), -ENOENT);
	ck_assert_str_eq(err, "references non-existent secret key: k");
	cJSON_Delete(src);
	cJSON_Delete(sec);
	cJSON_Delete(cm);
}
END_TEST

START_TEST(downward_api_payload)
{
	cJSON *m = J("{\"b\":\"2\",\"a\":\"say \\\"hi\\\"\\n\\\\\"}");
	char *s = vol_format_map(m);
	ck_assert_str_eq(s, "a=\"say \\\"hi\\\"\\n\\\\\"\nb=\"2\"\n");
	free(s);
	cJSON_Delete(m);
	cJSON *pod = J("{\"metadata\":{\"name\":\"p\",\"namespace\":\"ns\",\"uid\":\"u\",\"labels\":{\"z\":\"1\",\"app\":\"x\"}},"
		       "\"spec\":{\"containers\":[{\"name\":\"c\",\"resources\":{\"limits\":{\"memory\":\"128Mi\"}}}]}}");
	cJSON *items = J("[{\"path\":\"labels\",\"fieldRef\":{\"fieldPath\":\"metadata.labels\"}},"
			 "{\"path\":\"ns\",\"fieldRef\":{\"fieldPath\":\"metadata.namespace\"}},"
			 "{\"path\":\"app\",\"fieldRef\":{\"fieldPath\":\"metadata.labels['app']\"}},"
			 "{\"path\":\"mem\",\"mode\":256,\"resourceFieldRef\":{\"containerName\":\"c\",\"resource\":\"limits.memory\",\"divisor\":\"1Mi\"}}]");
	aw_payload pl = { 0 };
	char err[256] = "";
	pspec_podinfo pi = { .node_name = "n" };
	ck_assert_int_eq(vol_downward_payload(items, pod, &pi, 0644, &pl, err, sizeof(err)), 0);
	ck_assert_uint_eq(pl.n, 4);
	ck_assert_str_eq(pl.f[0].data, "app=\"x\"\nz=\"1\"\n");
	ck_assert_str_eq(pl.f[1].data, "ns");
	ck_assert_str_eq(pl.f[2].data, "x");
	ck_assert_str_eq(pl.f[3].data, "128");
	ck_assert_int_eq(pl.f[3].mode, 0400);
	aw_payload_close(&pl);
	cJSON_Delete(items);
	/* a container that does not exist, and status fields, are errors */
	items = J("[{\"path\":\"m\",\"resourceFieldRef\":{\"containerName\":\"nope\",\"resource\":\"limits.memory\"}}]");
	ck_assert_int_lt(vol_downward_payload(items, pod, &pi, 0644, &pl, err, sizeof(err)), 0);
	aw_payload_close(&pl);
	cJSON_Delete(items);
	items = J("[{\"path\":\"ip\",\"fieldRef\":{\"fieldPath\":\"status.podIP\"}}]");
	ck_assert_int_lt(vol_downward_payload(items, pod, &pi, 0644, &pl, err, sizeof(err)), 0);
	aw_payload_close(&pl);
	cJSON_Delete(items);
	cJSON_Delete(pod);
}
END_TEST

START_TEST(etc_hosts_as_upstream)
{
	cJSON *pod = J("{\"metadata\":{\"name\":\"web\",\"namespace\":\"ns\"},\"spec\":{\"hostAliases\":[{\"ip\":\"1.2.3.4\","
		       "\"hostnames\":[\"a\",\"b\"]}]}}");
	char *h = vol_etc_hosts_content(pod, "10.0.0.9", "cluster.local");
	ck_assert_str_eq(h, "# Kubernetes-managed hosts file.\n127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"
			    "fe00::0\tip6-localnet\nfe00::0\tip6-mcastprefix\nfe00::1\tip6-allnodes\nfe00::2\tip6-allrouters\n"
			    "10.0.0.9\tweb\n\n# Entries added by HostAliases.\n1.2.3.4\ta\tb\n");
	free(h);
	cJSON_Delete(pod);
	pod = J("{\"metadata\":{\"name\":\"web\",\"namespace\":\"ns\"},\"spec\":{\"hostname\":\"h\",\"subdomain\":\"s\"}}");
	h = vol_etc_hosts_content(pod, "10.0.0.9", "");
	ck_assert_ptr_nonnull(strstr(h, "\n10.0.0.9\th.s.ns.svc.cluster.local\th\n"));
	free(h);
	cJSON_Delete(pod);
}
END_TEST

START_TEST(container_mounts)
{
	vol_pod vp;
	vol_pod_init(&vp, tmp, "u-1");
	char hostdir[PATH_MAX], cmdir[PATH_MAX], err[512] = "";
	snprintf(hostdir, sizeof(hostdir), "%s/host", tmp);
	mkdir(hostdir, 0755);
	char podjs[2048];
	snprintf(podjs, sizeof(podjs),
		 "{\"metadata\":{\"name\":\"p\",\"namespace\":\"ns\",\"uid\":\"u-1\"},\"spec\":{\"volumes\":["
		 "{\"name\":\"w\",\"emptyDir\":{}},{\"name\":\"cm\",\"configMap\":{\"name\":\"x\"}},"
		 "{\"name\":\"h\",\"hostPath\":{\"path\":\"%s\"}},{\"name\":\"pvc\",\"persistentVolumeClaim\":{\"claimName\":\"c\"}}]}}",
		 hostdir);
	cJSON *pod = J(podjs);
	/* a configMap volume with a key, so a subPath resolves through ..data */
	vol_path(cmdir, sizeof(cmdir), tmp, "u-1", "configmap", "cm");
	char mk[PATH_MAX + 32];
	snprintf(mk, sizeof(mk), "mkdir -p %s", cmdir);
	ck_assert_int_eq(system(mk), 0);
	aw_payload pl = { 0 };
	aw_payload_add(&pl, "key", "v", 1, 0644);
	ck_assert_int_eq(aw_write(cmdir, &pl, err, sizeof(err)), 1);
	aw_payload_close(&pl);
	pspec_env env = { 0 };
	pspec_env_set(&env, "SUB", "logs");
	cJSON *c = J("{\"name\":\"c\",\"volumeMounts\":[{\"name\":\"w\",\"mountPath\":\"/w\"},"
		     "{\"name\":\"cm\",\"mountPath\":\"/k\",\"subPath\":\"key\"},"
		     "{\"name\":\"h\",\"mountPath\":\"/h\",\"readOnly\":true},"
		     "{\"name\":\"w\",\"mountPath\":\"/l\",\"subPathExpr\":\"$(SUB)\"}]}");
	vol_mount *m = NULL;
	int n = 0;
	ck_assert_msg(vol_container_mounts(&vp, pod, c, &env, "/x/etc-hosts", "/x/term", &m, &n, err, sizeof(err)) == 0, "%s",
		      err);
	ck_assert_int_eq(n, 6);
	char want[PATH_MAX];
	vol_path(want, sizeof(want), tmp, "u-1", "empty-dir", "w");
	ck_assert_str_eq(m[0].container_path, "/w");
	ck_assert_str_eq(m[0].host_path, want);
	ck_assert_int_eq(m[0].readonly, 0);
	/* the subPath of a configMap key is the resolved file in the payload dir, read-only */
	ck_assert_ptr_nonnull(strstr(m[1].host_path, "/..20"));
	ck_assert_str_eq(slurp(m[1].host_path), "v");
	ck_assert_int_eq(m[1].readonly, 1);
	ck_assert_str_eq(m[2].host_path, hostdir);
	ck_assert_int_eq(m[2].readonly, 1);
	/* subPathExpr expanded; a missing subPath is created as a directory */
	ck_assert_str_eq(m[3].container_path, "/l");
	ck_assert_ptr_nonnull(strstr(m[3].host_path, "/kubernetes.io~empty-dir/w/logs"));
	struct stat st;
	ck_assert_int_eq(stat(m[3].host_path, &st), 0);
	ck_assert(S_ISDIR(st.st_mode));
	ck_assert_str_eq(m[4].container_path, "/etc/hosts");
	ck_assert_str_eq(m[5].container_path, "/dev/termination-log");
	ck_assert_str_eq(m[5].host_path, "/x/term");
	free(m);
	cJSON_Delete(c);
	/* subPath escapes are refused: "..", absolute, and a symlink out of the volume */
	const char *bad[] = { "{\"name\":\"c\",\"volumeMounts\":[{\"name\":\"w\",\"mountPath\":\"/a\",\"subPath\":\"../x\"}]}",
			      "{\"name\":\"c\",\"volumeMounts\":[{\"name\":\"w\",\"mountPath\":\"/a\",\"subPath\":\"/etc\"}]}",
			      "{\"name\":\"c\",\"volumeMounts\":[{\"name\":\"w\",\"mountPath\":\"/a\",\"subPath\":\"esc\"}]}",
			      "{\"name\":\"c\",\"volumeMounts\":[{\"name\":\"nope\",\"mountPath\":\"/a\"}]}" };
	char esc[PATH_MAX];
	snprintf(esc, sizeof(esc), "%s/esc", want);
	ck_assert_int_eq(symlink("/etc", esc), 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		c = J(bad[i]);
		m = NULL;
		ck_assert_msg(vol_container_mounts(&vp, pod, c, &env, NULL, NULL, &m, &n, err, sizeof(err)) < 0, "%s accepted",
			      bad[i]);
		cJSON_Delete(c);
	}
	/* a mount of an unsupported volume */
	c = J("{\"name\":\"c\",\"volumeMounts\":[{\"name\":\"pvc\",\"mountPath\":\"/a\"}]}");
	ck_assert_int_eq(vol_container_mounts(&vp, pod, c, &env, NULL, NULL, &m, &n, err, sizeof(err)), VOL_UNSUPPORTED);
	cJSON_Delete(c);
	pspec_env_close(&env);
	cJSON_Delete(pod);
	/* teardown removes the pod directory (nothing is mounted here) */
	ck_assert_int_eq(vol_teardown(tmp, "u-1"), 0);
	char pd[PATH_MAX];
	vol_pod_dir(pd, sizeof(pd), tmp, "u-1");
	ck_assert_int_eq(lstat(pd, &st), -1);
	/* the hostPath's content is not the pod's */
	ck_assert_int_eq(stat(hostdir, &st), 0);
	vol_pod_close(&vp);
}
END_TEST

static int fake_fetch(void *arg, const char *resource, const char *ns, const char *name, cJSON **out, char *err,
		      size_t errlen)
{
	int *gets = arg;
	(*gets)++;
	(void)ns;
	(void)err;
	(void)errlen;
	if (!strcmp(resource, "configmaps") && !strcmp(name, "cfg")) {
		*out = J("{\"data\":{\"k\":\"v\"}}");
		return 0;
	}
	return KC_ENOTFOUND;
}

START_TEST(setup_disk_volumes_and_errors)
{
	vol_pod vp;
	vol_pod_init(&vp, tmp, "u-2");
	int gets = 0;
	pspec_sources get = { .fetch = fake_fetch, .arg = &gets };
	vol_sources src = { .get = &get };
	pspec_podinfo pi = { .node_name = "n" };
	char podjs[2048], err[512] = "";
	snprintf(podjs, sizeof(podjs),
		 "{\"metadata\":{\"name\":\"p\",\"namespace\":\"ns\",\"uid\":\"u-2\",\"labels\":{\"a\":\"b\"}},\"spec\":{\"volumes\":["
		 "{\"name\":\"w\",\"emptyDir\":{}},{\"name\":\"cm\",\"configMap\":{\"name\":\"cfg\"}},"
		 "{\"name\":\"d\",\"downwardAPI\":{\"items\":[{\"path\":\"l\",\"fieldRef\":{\"fieldPath\":\"metadata.labels\"}}]}},"
		 "{\"name\":\"h\",\"hostPath\":{\"path\":\"%s/made/here\",\"type\":\"DirectoryOrCreate\"}},"
		 "{\"name\":\"f\",\"hostPath\":{\"path\":\"%s/made/file\",\"type\":\"FileOrCreate\"}}]}}",
		 tmp, tmp);
	cJSON *pod = J(podjs);
	ck_assert_msg(vol_setup(&vp, pod, &pi, &src, 1, err, sizeof(err)) == 0, "%s", err);
	char p[PATH_MAX];
	struct stat st;
	vol_path(p, sizeof(p), tmp, "u-2", "empty-dir", "w");
	ck_assert_int_eq(stat(p, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0777);
	vol_path(p, sizeof(p), tmp, "u-2", "configmap", "cm");
	strcat(p, "/k");
	ck_assert_str_eq(slurp(p), "v");
	vol_path(p, sizeof(p), tmp, "u-2", "downward-api", "d");
	strcat(p, "/l");
	ck_assert_str_eq(slurp(p), "a=\"b\"\n");
	snprintf(p, sizeof(p), "%s/made/here", tmp);
	ck_assert_int_eq(stat(p, &st), 0);
	ck_assert(S_ISDIR(st.st_mode));
	snprintf(p, sizeof(p), "%s/made/file", tmp);
	ck_assert_int_eq(stat(p, &st), 0);
	ck_assert(S_ISREG(st.st_mode));
	/* before the resync period nothing is read again */
	int before = gets;
	ck_assert_int_eq(vol_setup(&vp, pod, &pi, &src, 2, err, sizeof(err)), 0);
	ck_assert_int_eq(gets, before);
	ck_assert_int_eq(vol_setup(&vp, pod, &pi, &src, 2 + VOL_RESYNC_NS, err, sizeof(err)), 0);
	ck_assert_int_eq(gets, before + 1);
	cJSON_Delete(pod);
	vol_pod_close(&vp);

	/* errors: hostPath type checks, a missing configMap, an unsupported type */
	struct {
		const char *vol;
		int rc;
		const char *msg;
	} cases[] = {
		{ "{\"name\":\"x\",\"hostPath\":{\"path\":\"%s/made/file\",\"type\":\"Directory\"}}", -ENOTDIR,
		  "MountVolume.SetUp failed for volume \"x\" : hostPath type check failed: %s/made/file is not a directory" },
		{ "{\"name\":\"x\",\"hostPath\":{\"path\":\"%s/made/here\",\"type\":\"File\"}}", -EINVAL,
		  "MountVolume.SetUp failed for volume \"x\" : hostPath type check failed: %s/made/here is not a file" },
		{ "{\"name\":\"x\",\"hostPath\":{\"path\":\"%s/made/here\",\"type\":\"Socket\"}}", -EINVAL,
		  "MountVolume.SetUp failed for volume \"x\" : hostPath type check failed: %s/made/here is not a socket file" },
		{ "{\"name\":\"x\",\"hostPath\":{\"path\":\"%s\",\"type\":\"Bogus\"}}", -EINVAL,
		  "MountVolume.SetUp failed for volume \"x\" : Bogus is an invalid volume type%.0s" },
		{ "{\"name\":\"x\",\"configMap\":{\"name\":\"nope\"}%.0s}", -ENOENT,
		  "MountVolume.SetUp failed for volume \"x\" : configmap \"nope\" not found%.0s" },
		{ "{\"name\":\"x\",\"nfs\":{\"server\":\"s\",\"path\":\"%s\"}}", VOL_UNSUPPORTED,
		  "volume \"x\": volume type nfs is not supported by this kubelet%.0s" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char vj[1024], pj[1400], want[1024];
		snprintf(vj, sizeof(vj), cases[i].vol, tmp);
		snprintf(pj, sizeof(pj), "{\"metadata\":{\"name\":\"p\",\"uid\":\"u-3\"},\"spec\":{\"volumes\":[%s]}}", vj);
		snprintf(want, sizeof(want), cases[i].msg, tmp);
		pod = J(pj);
		vol_pod_init(&vp, tmp, "u-3");
		ck_assert_int_eq(vol_setup(&vp, pod, &pi, &src, 1, err, sizeof(err)), cases[i].rc);
		ck_assert_str_eq(err, want);
		ck_assert_int_eq(vp.ready, 0);
		vol_pod_close(&vp);
		cJSON_Delete(pod);
	}
	ck_assert_int_eq(vol_teardown(tmp, "u-2"), 0);
	ck_assert_int_eq(vol_teardown(tmp, "u-3"), 0);
	snprintf(p, sizeof(p), "%s/pods/u-2", tmp);
	ck_assert_int_eq(lstat(p, &st), -1);
}
END_TEST

/* TokenRequest for a projected serviceAccountToken: asked with the audience, expiration
 * and the pod as bound object, reused until 80 % of its lifetime, then asked again; the
 * volume is a tmpfs (root, as the kubelet) and teardown unmounts it. */
typedef struct fake_tokens {
	int calls;
	char last_req[1024];
} fake_tokens;

static int fake_token(void *arg, const char *ns, const char *sa, const cJSON *req, cJSON **out, char *err,
		      size_t errlen)
{
	fake_tokens *f = arg;
	(void)err;
	(void)errlen;
	f->calls++;
	char *txt = kc_json_print(req);
	snprintf(f->last_req, sizeof(f->last_req), "%s|%s|%s", ns, sa, txt);
	free(txt);
	char js[256];
	/* no expirationTimestamp: the lifetime asked for is used */
	snprintf(js, sizeof(js), "{\"status\":{\"token\":\"tok-%d\"}}", f->calls);
	*out = J(js);
	return 0;
}

START_TEST(projected_token_refresh)
{
	vol_pod vp;
	vol_pod_init(&vp, tmp, "u-4");
	fake_tokens ft = { 0 };
	int gets = 0;
	pspec_sources get = { .fetch = fake_fetch, .arg = &gets };
	vol_sources src = { .get = &get, .token = fake_token, .arg = &ft };
	pspec_podinfo pi = { .node_name = "n" };
	cJSON *pod = J("{\"metadata\":{\"name\":\"p\",\"namespace\":\"ns\",\"uid\":\"u-4\"},\"spec\":{\"serviceAccountName\":\"sa1\","
		       "\"volumes\":[{\"name\":\"tok\",\"projected\":{\"sources\":[{\"serviceAccountToken\":{\"audience\":\"aud1\","
		       "\"expirationSeconds\":1000,\"path\":\"token\"}},{\"configMap\":{\"name\":\"cfg\"}}]}}]}}");
	char err[512] = "", p[PATH_MAX];
	int64_t t0 = 5;
	ck_assert_msg(vol_setup(&vp, pod, &pi, &src, t0, err, sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(ft.calls, 1);
	ck_assert_ptr_nonnull(strstr(ft.last_req, "ns|sa1|"));
	ck_assert_ptr_nonnull(strstr(ft.last_req, "\"audiences\":[\"aud1\"]"));
	ck_assert_ptr_nonnull(strstr(ft.last_req, "\"expirationSeconds\":1000"));
	ck_assert_ptr_nonnull(strstr(ft.last_req, "\"boundObjectRef\":{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"name\":\"p\",\"uid\":\"u-4\"}"));
	vol_path(p, sizeof(p), tmp, "u-4", "projected", "tok");
	ck_assert(vol_is_mounted(p));
	char f[PATH_MAX + 16];
	snprintf(f, sizeof(f), "%s/token", p);
	ck_assert_str_eq(slurp(f), "tok-1");
	snprintf(f, sizeof(f), "%s/k", p);
	ck_assert_str_eq(slurp(f), "v");
	/* a resync before 80 % of the lifetime keeps the token */
	ck_assert_int_eq(vol_setup(&vp, pod, &pi, &src, t0 + VOL_RESYNC_NS, err, sizeof(err)), 0);
	ck_assert_int_eq(ft.calls, 1);
	ck_assert_int_eq(vol_setup(&vp, pod, &pi, &src, t0 + 799LL * 1000000000LL, err, sizeof(err)), 0);
	ck_assert_int_eq(ft.calls, 1);
	/* past 80 %: a new token, written atomically */
	ck_assert_int_eq(vol_setup(&vp, pod, &pi, &src, t0 + 801LL * 1000000000LL, err, sizeof(err)), 0);
	ck_assert_int_eq(ft.calls, 2);
	snprintf(f, sizeof(f), "%s/token", p);
	ck_assert_str_eq(slurp(f), "tok-2");
	vol_pod_close(&vp);
	cJSON_Delete(pod);
	ck_assert_int_eq(vol_teardown(tmp, "u-4"), 0);
	ck_assert(!vol_is_mounted(p));
}
END_TEST

static Suite *kubelet_volumes_suite(void)
{
	Suite *s = suite_create("kubelet_volumes");
	TCase *tc = tcase_create("core");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, atomic_writer_layout_and_updates);
	tcase_add_test(tc, atomic_writer_rejects_bad_paths);
	tcase_add_test(tc, volume_paths_and_plugins);
	tcase_add_test(tc, configmap_and_secret_payloads);
	tcase_add_test(tc, downward_api_payload);
	tcase_add_test(tc, etc_hosts_as_upstream);
	tcase_add_test(tc, container_mounts);
	tcase_add_test(tc, setup_disk_volumes_and_errors);
	tcase_add_test(tc, projected_token_refresh);
	suite_add_tcase(s, tc);
	return s;
}

KC_TEST_MAIN(kubelet_volumes_suite)
