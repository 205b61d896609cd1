/* CRI smoke driver for test/integration/kubelet_cri.sh: runs one pod through the
 * kubelet's own CRI client (kubelet/cri_client.c) against a real containerd and checks
 * every reply.  Prints "ok <step>" lines; exits 0 only if every check passed.
 *
 * usage: cri_smoke ENDPOINT LOGDIR CGROUP_PARENT PULL_IMAGE [MIRROR_IMAGE]
 *   PULL_IMAGE: an image in a local registry (e.g. localhost:PORT/busybox:1.35)
 *   MIRROR_IMAGE: an image containerd pulls through a registry mirror (docker.io/...)
 * env CRI_SMOKE_RESTART: a shell command that restarts containerd (reconnect check). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "cri_client.h"
#include "errors.h"

#define BUSYBOX "docker.io/library/busybox:1.35"

static int failures;

#define CHECK(cond, ...)                                                        \
	do {                                                                    \
		if (!(cond)) {                                                  \
			printf("FAIL %s:%d: ", __FILE__, __LINE__);             \
			printf(__VA_ARGS__);                                    \
			printf("\n");                                           \
			fflush(stdout);                                         \
			failures++;                                             \
		}                                                               \
	} while (0)

#define MUST(cond, ...)                                                         \
	do {                                                                    \
		CHECK(cond, __VA_ARGS__);                                       \
		if (!(cond))                                                    \
			goto out;                                               \
	} while (0)

static void ok(const char *step)
{
	printf("ok %s\n", step);
	fflush(stdout);
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* GET http://ip:port/ and return the body in buf; 0 on HTTP 200. */
static int http_get(const char *ip, int port, char *buf, size_t cap)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	struct timeval tv = { 2, 0 };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
	if (inet_pton(AF_INET, ip, &sa.sin_addr) != 1) {
		close(fd);
		return -EINVAL;
	}
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = -errno;
		close(fd);
		return e;
	}
	const char req[] = "GET / HTTP/1.0\r\nHost: pod\r\n\r\n";
	if (write(fd, req, sizeof(req) - 1) != (ssize_t)(sizeof(req) - 1)) {
		close(fd);
		return -EIO;
	}
	size_t have = 0;
	ssize_t n;
	while (have + 1 < cap && (n = read(fd, buf + have, cap - 1 - have)) > 0)
		have += (size_t)n;
	buf[have] = '\0';
	close(fd);
	return strncmp(buf, "HTTP/1.0 200", 12) == 0 || strncmp(buf, "HTTP/1.1 200", 12) == 0 ? 0 : -EPROTO;
}

/* containerd answers CRI calls with "server is not initialized yet" until its CRI
 * plugin has recovered state, a moment after the socket accepts; wait for Version. */
static int wait_cri_ready(cri_client *cl, double secs)
{
	double deadline = now_s() + secs;
	cri_grpc_status st;
	for (;;) {
		Runtime__V1__VersionResponse *v = NULL;
		int rc = cri_version(cl, &v, &st);
		if (rc == 0) {
			cri_msg_free(v);
			return 0;
		}
		if (now_s() >= deadline) {
			printf("CRI not ready after %.0fs: %s: %s\n", secs, cri_grpc_code_name(st.code), st.message);
			return rc;
		}
		usleep(50000);
	}
}

struct hammer {
	cri_client *cl;
	const char *cid;
	int errors;
};

static void *hammer_thread(void *arg)
{
	struct hammer *h = arg;
	for (int i = 0; i < 25; i++) {
		Runtime__V1__ContainerStatusResponse *cs = NULL;
		Runtime__V1__VersionResponse *v = NULL;
		if (cri_container_status(h->cl, h->cid, 0, &cs, NULL) < 0 ||
		    strcmp(cs->status->id, h->cid) != 0)
			h->errors++;
		cri_msg_free(cs);
		if (cri_version(h->cl, &v, NULL) < 0)
			h->errors++;
		cri_msg_free(v);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	if (argc != 5 && argc != 6) {
		fprintf(stderr, "usage: %s ENDPOINT LOGDIR CGROUP_PARENT PULL_IMAGE [MIRROR_IMAGE]\n", argv[0]);
		return 2;
	}
	const char *endpoint = argv[1], *logdir = argv[2], *cgparent = argv[3], *pull_image = argv[4];
	cri_client cl, fast;
	cri_grpc_status st;
	char *sandbox_id = NULL, *cid = NULL, *ref = NULL;
	char pod_ip[64] = "";
	int rc;

	MUST(cri_client_init(&cl, endpoint, 20000) == 0, "client init");
	MUST(cri_client_init(&fast, endpoint, 400) == 0, "client init (short deadline)");

	/* Version */
	MUST(wait_cri_ready(&cl, 20) == 0, "CRI never became ready");
	Runtime__V1__VersionResponse *ver = NULL;
	rc = cri_version(&cl, &ver, &st);
	MUST(rc == 0, "Version: %s: %s", kc_strerror(rc), st.message);
	CHECK(strcmp(ver->runtime_name, "containerd") == 0, "runtime_name %s", ver->runtime_name);
	CHECK(strcmp(ver->runtime_api_version, "v1") == 0, "runtime_api_version %s", ver->runtime_api_version);
	printf("runtime %s %s api %s\n", ver->runtime_name, ver->runtime_version, ver->runtime_api_version);
	cri_msg_free(ver);
	ok("Version");

	/* Status: RuntimeReady and NetworkReady (the CNI config may load a moment late) */
	double deadline = now_s() + 20;
	int rt_ready = 0, net_ready = 0;
	while (now_s() < deadline) {
		Runtime__V1__StatusResponse *s = NULL;
		rc = cri_status(&cl, 0, &s, &st);
		MUST(rc == 0, "Status: %s", st.message);
		rt_ready = net_ready = 0;
		for (size_t i = 0; i < s->status->n_conditions; i++) {
			Runtime__V1__RuntimeCondition *c = s->status->conditions[i];
			if (strcmp(c->type, "RuntimeReady") == 0)
				rt_ready = c->status;
			if (strcmp(c->type, "NetworkReady") == 0)
				net_ready = c->status;
		}
		cri_msg_free(s);
		if (rt_ready && net_ready)
			break;
		usleep(100000);
	}
	MUST(rt_ready && net_ready, "runtime not ready: RuntimeReady=%d NetworkReady=%d", rt_ready, net_ready);
	ok("Status");

	/* Images: the imported busybox is present; a real pull from the local registry */
	Runtime__V1__ImageStatusResponse *is = NULL;
	rc = cri_image_status(&cl, BUSYBOX, 0, &is, &st);
	MUST(rc == 0, "ImageStatus: %s", st.message);
	MUST(is->image != NULL, "imported %s not present", BUSYBOX);
	CHECK(strncmp(is->image->id, "sha256:", 7) == 0, "image id %s", is->image->id);
	cri_msg_free(is);
	ok("ImageStatus(imported busybox)");

	rc = cri_pull_image(&cl, pull_image, NULL, NULL, &ref, &st);
	MUST(rc == 0, "PullImage %s: %s (%s)", pull_image, kc_strerror(rc), st.message);
	CHECK(strncmp(ref, "sha256:", 7) == 0, "image ref %s", ref);
	printf("pulled %s -> %s\n", pull_image, ref);
	rc = cri_image_status(&cl, pull_image, 0, &is, &st);
	MUST(rc == 0 && is->image, "ImageStatus after pull: %s", st.message);
	CHECK(strcmp(is->image->id, ref) == 0, "ImageStatus id %s != pull ref %s", is->image->id, ref);
	int tagged = 0;
	for (size_t i = 0; i < is->image->n_repo_tags; i++)
		tagged |= strcmp(is->image->repo_tags[i], pull_image) == 0;
	CHECK(tagged, "repo tags of the pulled image lack %s", pull_image);
	cri_msg_free(is);
	ok("PullImage+ImageStatus");

	if (argc == 6) {
		char *mref = NULL;
		rc = cri_pull_image(&cl, argv[5], NULL, NULL, &mref, &st);
		CHECK(rc == 0, "PullImage %s through the mirror: %s", argv[5], st.message);
		CHECK(rc != 0 || strcmp(mref, ref) == 0, "mirror pull gave %s, expected %s", mref, ref);
		free(mref);
		ok("PullImage through a registry mirror");
	}

	Runtime__V1__ListImagesResponse *li = NULL;
	rc = cri_list_images(&cl, NULL, &li, &st);
	MUST(rc == 0, "ListImages: %s", st.message);
	int found = 0;
	for (size_t i = 0; i < li->n_images; i++)
		for (size_t j = 0; j < li->images[i]->n_repo_tags; j++)
			found |= strcmp(li->images[i]->repo_tags[j], "registry.k8s.io/pause:3.6") == 0;
	CHECK(found, "ListImages lacks registry.k8s.io/pause:3.6 (%zu images)", li->n_images);
	cri_msg_free(li);
	ok("ListImages");

	Runtime__V1__ImageFsInfoResponse *fsi = NULL;
	rc = cri_image_fs_info(&cl, &fsi, &st);
	MUST(rc == 0, "ImageFsInfo: %s", st.message);
	/* containerd samples usage periodically, so a fresh instance may report 0 bytes;
	 * the filesystem itself must be named (our temp root's snapshotter dir). */
	CHECK(fsi->n_image_filesystems >= 1 && fsi->image_filesystems[0]->fs_id &&
		      strstr(fsi->image_filesystems[0]->fs_id->mountpoint, "overlayfs"),
	      "ImageFsInfo names no overlayfs filesystem");
	if (fsi->n_image_filesystems >= 1 && fsi->image_filesystems[0]->fs_id)
		printf("image fs %s\n", fsi->image_filesystems[0]->fs_id->mountpoint);
	cri_msg_free(fsi);
	ok("ImageFsInfo");

	char missing[256];
	snprintf(missing, sizeof(missing), "%.200s-does-not-exist", pull_image);
	char *ref2 = NULL;
	rc = cri_pull_image(&cl, missing, NULL, NULL, &ref2, &st);
	CHECK(rc < 0 && st.code != CRI_GRPC_OK && st.message[0], "pull of a missing image: rc=%d", rc);
	printf("pull of missing image: code=%s msg=%.120s\n", cri_grpc_code_name(st.code), st.message);
	free(ref2);
	ok("PullImage(missing) fails");

	/* Sandbox */
	Runtime__V1__PodSandboxMetadata md = RUNTIME__V1__POD_SANDBOX_METADATA__INIT;
	md.name = "smoke";
	md.namespace_ = "default";
	md.uid = "6a1c3f1e-0000-4000-8000-00000000c01e";
	Runtime__V1__NamespaceOption nso = RUNTIME__V1__NAMESPACE_OPTION__INIT;
	nso.network = RUNTIME__V1__NAMESPACE_MODE__POD;
	nso.pid = RUNTIME__V1__NAMESPACE_MODE__CONTAINER;
	nso.ipc = RUNTIME__V1__NAMESPACE_MODE__POD;
	Runtime__V1__LinuxSandboxSecurityContext ssc = RUNTIME__V1__LINUX_SANDBOX_SECURITY_CONTEXT__INIT;
	ssc.namespace_options = &nso;
	Runtime__V1__LinuxPodSandboxConfig lps = RUNTIME__V1__LINUX_POD_SANDBOX_CONFIG__INIT;
	lps.cgroup_parent = (char *)cgparent;
	lps.security_context = &ssc;
	Runtime__V1__PodSandboxConfig__LabelsEntry lbl = RUNTIME__V1__POD_SANDBOX_CONFIG__LABELS_ENTRY__INIT;
	lbl.key = "app";
	lbl.value = "smoke";
	Runtime__V1__PodSandboxConfig__LabelsEntry *lbls[] = { &lbl };
	Runtime__V1__PodSandboxConfig sb = RUNTIME__V1__POD_SANDBOX_CONFIG__INIT;
	sb.metadata = &md;
	sb.hostname = "smoke";
	sb.log_directory = (char *)logdir;
	sb.n_labels = 1;
	sb.labels = lbls;
	sb.linux_cfg = &lps;
	rc = cri_run_pod_sandbox(&cl, &sb, NULL, &sandbox_id, &st);
	MUST(rc == 0, "RunPodSandbox: %s (%s)", kc_strerror(rc), st.message);
	ok("RunPodSandbox");

	Runtime__V1__PodSandboxStatusResponse *pss = NULL;
	rc = cri_pod_sandbox_status(&cl, sandbox_id, 0, &pss, &st);
	MUST(rc == 0, "PodSandboxStatus: %s", st.message);
	CHECK(pss->status->state == RUNTIME__V1__POD_SANDBOX_STATE__SANDBOX_READY, "sandbox not ready");
	CHECK(strcmp(pss->status->metadata->name, "smoke") == 0, "sandbox name");
	MUST(pss->status->network && pss->status->network->ip[0], "sandbox has no IP");
	snprintf(pod_ip, sizeof(pod_ip), "%s", pss->status->network->ip);
	printf("pod IP %s\n", pod_ip);
	cri_msg_free(pss);
	ok("PodSandboxStatus");

	Runtime__V1__PodSandboxFilter psf = RUNTIME__V1__POD_SANDBOX_FILTER__INIT;
	Runtime__V1__PodSandboxFilter__LabelSelectorEntry sel = RUNTIME__V1__POD_SANDBOX_FILTER__LABEL_SELECTOR_ENTRY__INIT;
	sel.key = "app";
	sel.value = "smoke";
	Runtime__V1__PodSandboxFilter__LabelSelectorEntry *sels[] = { &sel };
	psf.n_label_selector = 1;
	psf.label_selector = sels;
	Runtime__V1__ListPodSandboxResponse *lps_r = NULL;
	rc = cri_list_pod_sandbox(&cl, &psf, &lps_r, &st);
	MUST(rc == 0, "ListPodSandbox: %s", st.message);
	CHECK(lps_r->n_items == 1 && strcmp(lps_r->items[0]->id, sandbox_id) == 0,
	      "ListPodSandbox by label: %zu items", lps_r->n_items);
	cri_msg_free(lps_r);
	ok("ListPodSandbox");

	/* Container: busybox httpd on 8080 */
	Runtime__V1__ContainerMetadata cmd_md = RUNTIME__V1__CONTAINER_METADATA__INIT;
	cmd_md.name = "web";
	Runtime__V1__ImageSpec ispec = RUNTIME__V1__IMAGE_SPEC__INIT;
	ispec.image = BUSYBOX;
	char *command[] = { "httpd", "-f", "-v", "-p", "8080", "-h", "/var/www" };
	Runtime__V1__KeyValue env = RUNTIME__V1__KEY_VALUE__INIT;
	env.key = "SMOKE";
	env.value = "yes";
	Runtime__V1__KeyValue *envs[] = { &env };
	Runtime__V1__LinuxContainerResources res = RUNTIME__V1__LINUX_CONTAINER_RESOURCES__INIT;
	res.memory_limit_in_bytes = 64 << 20;
	res.cpu_shares = 256;
	Runtime__V1__LinuxContainerConfig lcc = RUNTIME__V1__LINUX_CONTAINER_CONFIG__INIT;
	lcc.resources = &res;
	Runtime__V1__ContainerConfig cc = RUNTIME__V1__CONTAINER_CONFIG__INIT;
	cc.metadata = &cmd_md;
	cc.image = &ispec;
	cc.command = command;
	cc.n_command = sizeof(command) / sizeof(command[0]);
	cc.envs = envs;
	cc.n_envs = 1;
	cc.log_path = "web/0.log";
	cc.linux_cfg = &lcc;
	rc = cri_create_container(&cl, sandbox_id, &cc, &sb, &cid, &st);
	MUST(rc == 0, "CreateContainer: %s (%s)", kc_strerror(rc), st.message);
	ok("CreateContainer");
	rc = cri_start_container(&cl, cid, &st);
	MUST(rc == 0, "StartContainer: %s", st.message);
	ok("StartContainer");

	Runtime__V1__ContainerStatusResponse *cs = NULL;
	rc = cri_container_status(&cl, cid, 0, &cs, &st);
	MUST(rc == 0, "ContainerStatus: %s", st.message);
	CHECK(cs->status->state == RUNTIME__V1__CONTAINER_STATE__CONTAINER_RUNNING, "state %s",
	      cri_container_state_name(cs->status->state));
	CHECK(cs->status->started_at > 0, "started_at unset");
	CHECK(cs->status->resources && cs->status->resources->linux_res &&
		      cs->status->resources->linux_res->memory_limit_in_bytes == 64 << 20,
	      "memory limit not reported back");
	cri_msg_free(cs);
	ok("ContainerStatus(running)");

	/* reach the pod over HTTP from the host */
	char body[4096];
	deadline = now_s() + 15;
	rc = -1;
	while (now_s() < deadline && (rc = http_get(pod_ip, 8080, body, sizeof(body))) != 0)
		usleep(100000);
	CHECK(rc == 0 && strstr(body, "hello from busybox httpd"), "GET http://%s:8080/: %s", pod_ip,
	      rc ? kc_strerror(rc) : body);
	ok("HTTP to pod IP");

	/* ExecSync */
	const char *echo[] = { "echo", "hi" };
	Runtime__V1__ExecSyncResponse *ex = NULL;
	rc = cri_exec_sync(&cl, cid, echo, 2, 10, &ex, &st);
	MUST(rc == 0, "ExecSync: %s", st.message);
	CHECK(ex->exit_code == 0, "echo exit %d", ex->exit_code);
	CHECK(ex->stdout.len == 3 && memcmp(ex->stdout.data, "hi\n", 3) == 0, "stdout %.*s",
	      (int)ex->stdout.len, (const char *)ex->stdout.data);
	cri_msg_free(ex);
	const char *env_exit[] = { "sh", "-c", "echo $SMOKE >&2; exit 3" };
	rc = cri_exec_sync(&cl, cid, env_exit, 3, 10, &ex, &st);
	MUST(rc == 0, "ExecSync exit 3: %s", st.message);
	CHECK(ex->exit_code == 3, "exit code %d", ex->exit_code);
	CHECK(ex->stderr.len == 4 && memcmp(ex->stderr.data, "yes\n", 4) == 0, "env SMOKE not set");
	cri_msg_free(ex);
	ok("ExecSync");

	/* a deadline shorter than the work: DeadlineExceeded, and the client stays usable */
	const char *slow[] = { "sleep", "3" };
	double t0 = now_s();
	rc = cri_exec_sync(&fast, cid, slow, 2, 0, &ex, &st);
	CHECK(rc == KC_ETIMEOUT && st.code == CRI_GRPC_DEADLINE_EXCEEDED, "slow exec: rc=%d code=%s", rc,
	      cri_grpc_code_name(st.code));
	CHECK(now_s() - t0 < 3.0, "deadline not enforced (%.2fs)", now_s() - t0);
	if (rc == 0)
		cri_msg_free(ex);
	Runtime__V1__VersionResponse *v2 = NULL;
	rc = cri_version(&fast, &v2, &st);
	CHECK(rc == 0, "call after a deadline: %s", st.message);
	cri_msg_free(v2);
	ok("deadline");

	/* concurrency: 8 threads share one connection */
	unsigned long dials0 = cri_conn_dials(cl.conn);
	pthread_t th[8];
	struct hammer hs[8];
	for (int i = 0; i < 8; i++) {
		hs[i] = (struct hammer){ .cl = &cl, .cid = cid };
		pthread_create(&th[i], NULL, hammer_thread, &hs[i]);
	}
	int herr = 0;
	for (int i = 0; i < 8; i++) {
		pthread_join(th[i], NULL);
		herr += hs[i].errors;
	}
	CHECK(herr == 0, "%d concurrent calls failed", herr);
	CHECK(cri_conn_dials(cl.conn) == dials0, "concurrent calls dialled new connections");
	ok("400 concurrent calls on one connection");

	/* NotFound passes through with its code */
	rc = cri_container_status(&cl, "0000000000000000000000000000000000000000000000000000000000000000", 0, &cs, &st);
	CHECK(rc == KC_ENOTFOUND && st.code == CRI_GRPC_NOT_FOUND, "status of unknown container: rc=%d code=%s",
	      rc, cri_grpc_code_name(st.code));
	if (rc == 0)
		cri_msg_free(cs);
	ok("NotFound");

	/* reconnect: containerd restarts under us; running containers survive */
	const char *restart = getenv("CRI_SMOKE_RESTART");
	if (restart && restart[0]) {
		unsigned long d0 = cri_conn_dials(cl.conn);
		MUST(system(restart) == 0, "restart command failed");
		MUST(wait_cri_ready(&cl, 20) == 0, "CRI not ready after restart");
		rc = cri_container_status(&cl, cid, 0, &cs, &st);
		CHECK(rc == 0, "ContainerStatus after containerd restart: %s", st.message);
		if (rc == 0) {
			CHECK(cs->status->state == RUNTIME__V1__CONTAINER_STATE__CONTAINER_RUNNING,
			      "container not running after restart");
			cri_msg_free(cs);
		}
		CHECK(cri_conn_dials(cl.conn) == d0 + 1, "expected one reconnect, dials %lu -> %lu", d0,
		      cri_conn_dials(cl.conn));
		ok("reconnect after containerd restart");
	}

	/* tear down */
	rc = cri_stop_container(&cl, cid, 2, &st);
	CHECK(rc == 0, "StopContainer: %s", st.message);
	rc = cri_container_status(&cl, cid, 0, &cs, &st);
	MUST(rc == 0, "ContainerStatus after stop: %s", st.message);
	CHECK(cs->status->state == RUNTIME__V1__CONTAINER_STATE__CONTAINER_EXITED, "state after stop %s",
	      cri_container_state_name(cs->status->state));
	CHECK(cs->status->finished_at > 0, "finished_at unset");
	printf("stopped: exit %d reason %s\n", cs->status->exit_code, cs->status->reason);
	cri_msg_free(cs);
	ok("StopContainer");
	rc = cri_remove_container(&cl, cid, &st);
	CHECK(rc == 0, "RemoveContainer: %s", st.message);
	Runtime__V1__ContainerFilter cf = RUNTIME__V1__CONTAINER_FILTER__INIT;
	cf.pod_sandbox_id = sandbox_id;
	Runtime__V1__ListContainersResponse *lc = NULL;
	rc = cri_list_containers(&cl, &cf, &lc, &st);
	MUST(rc == 0, "ListContainers: %s", st.message);
	CHECK(lc->n_containers == 0, "%zu containers left in the sandbox", lc->n_containers);
	cri_msg_free(lc);
	ok("RemoveContainer");
	free(cid);
	cid = NULL;

	/* a container over its memory limit: the CRI reports exit 137, reason OOMKilled
	 * (what the kubelet turns into the OOMKilled container state) */
	Runtime__V1__ContainerMetadata hog_md = RUNTIME__V1__CONTAINER_METADATA__INIT;
	hog_md.name = "hog";
	char *hog_cmd[] = { "sh", "-c", "x=$(head -c 200000000 /dev/zero | tr '\\0' a); echo survived" };
	Runtime__V1__LinuxContainerResources hog_res = RUNTIME__V1__LINUX_CONTAINER_RESOURCES__INIT;
	hog_res.memory_limit_in_bytes = 32 << 20;
	Runtime__V1__LinuxContainerConfig hog_lcc = RUNTIME__V1__LINUX_CONTAINER_CONFIG__INIT;
	hog_lcc.resources = &hog_res;
	Runtime__V1__ContainerConfig hog = RUNTIME__V1__CONTAINER_CONFIG__INIT;
	hog.metadata = &hog_md;
	hog.image = &ispec;
	hog.command = hog_cmd;
	hog.n_command = 3;
	hog.log_path = "hog/0.log";
	hog.linux_cfg = &hog_lcc;
	rc = cri_create_container(&cl, sandbox_id, &hog, &sb, &cid, &st);
	MUST(rc == 0, "CreateContainer hog: %s", st.message);
	rc = cri_start_container(&cl, cid, &st);
	MUST(rc == 0, "StartContainer hog: %s", st.message);
	deadline = now_s() + 60;
	int exited = 0;
	while (!exited && now_s() < deadline) {
		rc = cri_container_status(&cl, cid, 0, &cs, &st);
		MUST(rc == 0, "ContainerStatus hog: %s", st.message);
		if (cs->status->state == RUNTIME__V1__CONTAINER_STATE__CONTAINER_EXITED) {
			exited = 1;
			printf("hog: exit %d reason %s\n", cs->status->exit_code, cs->status->reason);
			CHECK(cs->status->exit_code == 137, "hog exit code %d", cs->status->exit_code);
			CHECK(strcmp(cs->status->reason, "OOMKilled") == 0, "hog reason %s", cs->status->reason);
		}
		cri_msg_free(cs);
		if (!exited)
			usleep(100000);
	}
	CHECK(exited, "hog still running after 60 s");
	rc = cri_remove_container(&cl, cid, &st);
	CHECK(rc == 0, "RemoveContainer hog: %s", st.message);
	free(cid);
	cid = NULL;
	ok("OOMKilled");

	rc = cri_stop_pod_sandbox(&cl, sandbox_id, &st);
	CHECK(rc == 0, "StopPodSandbox: %s", st.message);
	rc = cri_stop_pod_sandbox(&cl, sandbox_id, &st);
	CHECK(rc == 0, "StopPodSandbox is not idempotent: %s", st.message);
	rc = cri_remove_pod_sandbox(&cl, sandbox_id, &st);
	CHECK(rc == 0, "RemovePodSandbox: %s", st.message);
	rc = cri_pod_sandbox_status(&cl, sandbox_id, 0, &pss, &st);
	CHECK(rc == KC_ENOTFOUND, "sandbox still there after RemovePodSandbox (rc=%d)", rc);
	if (rc == 0)
		cri_msg_free(pss);
	ok("StopPodSandbox+RemovePodSandbox");
	free(sandbox_id);
	sandbox_id = NULL;

	/* Last: the pulled image has the same digest as the imported busybox, and
	 * RemoveImage removes every tag of an image (CRI api.proto), so it goes at the end. */
	rc = cri_remove_image(&cl, pull_image, &st);
	CHECK(rc == 0, "RemoveImage: %s", st.message);
	rc = cri_image_status(&cl, pull_image, 0, &is, &st);
	CHECK(rc == 0 && is->image == NULL, "image still present after RemoveImage");
	if (rc == 0)
		cri_msg_free(is);
	ok("RemoveImage");


out:
	/* best effort on failure paths so the shell clean-up has less to do */
	if (cid) {
		cri_stop_container(&cl, cid, 0, NULL);
		cri_remove_container(&cl, cid, NULL);
	}
	if (sandbox_id) {
		cri_stop_pod_sandbox(&cl, sandbox_id, NULL);
		cri_remove_pod_sandbox(&cl, sandbox_id, NULL);
	}
	free(cid);
	free(sandbox_id);
	free(ref);
	cri_client_close(&fast);
	cri_client_close(&cl);
	printf("%s: %d failure(s)\n", failures ? "FAIL" : "PASS", failures);
	return failures ? 1 : 0;
}
