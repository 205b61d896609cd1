/* The anchor for the kubelet's pod-startup benchmark (test/bench/kubelet/run.sh): what
 * containerd alone can do on this machine.  No apiserver, no kubelet: N worker threads
 * drive PODS pods straight through the CRI with the kubelet's own client
 * (kubelet/cri_client.h, one multiplexed HTTP/2 connection, as the kubelet uses), each
 * pod doing the calls the kubelet's pod worker makes to start a one-container pod with
 * its image present (kubelet/pod_worker.c ensure_sandbox / ensure_image /
 * start_container, i.e. upstream's kuberuntime SyncPod):
 *
 *   RunPodSandbox -> PodSandboxStatus (pod IP) -> ImageStatus (IfNotPresent)
 *     -> CreateContainer -> StartContainer
 *
 * with the same request shapes: sandbox metadata/labels/hostname/log directory, cgroup
 * parent <root>/kubepods/besteffort/pod<uid>, busybox:1.35 `sleep 3600`, the
 * kubelet-managed /etc/hosts and termination-log mounts, log path c/0.log.
 *
 * All pods are released at once (a burst, as the benchmark's 100 POSTs); a worker takes
 * the next pod when its previous one has started.  Per pod it records the wall time of
 * its own CRI sequence ("per-pod CRI time") and the time from the burst's start to its
 * StartContainer returning ("since burst start": what the pod startup SLI would see if
 * every pod had been created at that instant, so queueing behind busy workers counts).
 * Then it checks every container is RUNNING and removes every container and sandbox
 * (StopContainer, RemoveContainer, StopPodSandbox, RemovePodSandbox).
 *
 * usage: ctrd_anchor ENDPOINT CGROUP_ROOT WORKDIR PODS WORKERS [CONNS [CTRD_PID]]
 *   WORKDIR: pod log directories and the per-pod /etc/hosts + termination-log files
 *   CONNS: HTTP/2 connections shared round-robin by the workers (default 1, as the
 *   kubelet); more shows whether one connection's stream limit or I/O thread is the
 *   bottleneck rather than containerd
 *   CTRD_PID: containerd's pid; then the CPU time of containerd and its shims (those
 *   whose command line names ENDPOINT's socket) during the start phase is printed, both
 *   their own and including reaped children (runc under the shims, CNI plugins under
 *   containerd), with the machine's busy share from /proc/stat
 * Prints the figures on stdout; exit 0 only if every pod started and was removed. */
#include <errno.h>
#include <pthread.h>
#include <dirent.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cri_client.h"
#include "errors.h"

#define IMAGE "docker.io/library/busybox:1.35"
#define USER_IMAGE "busybox:1.35"
#define MAX_PODS 10000
#define MAX_WORKERS 1000

enum { ST_RUN, ST_SBSTATUS, ST_IMAGE, ST_CREATE, ST_START, ST_N };
static const char *const stage_names[ST_N] = { "RunPodSandbox", "PodSandboxStatus", "ImageStatus",
					       "CreateContainer", "StartContainer" };

typedef struct pod {
	char name[64];
	char uid[40];
	char sandbox_id[80];
	char container_id[80];
	double stage[ST_N]; /* seconds per call */
	double cri_s;       /* RunPodSandbox sent -> StartContainer returned */
	double burst_s;     /* burst start -> StartContainer returned */
	int ok;
	char err[600];
} pod;

#define MAX_CONNS 64
static cri_client conns[MAX_CONNS];
static int nconns = 1;
static const char *cgroup_root, *workdir;
static pod *pods;
static int npods;
static atomic_int next_pod;
static double t_burst;

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int write_file(const char *path, const char *content)
{
	FILE *f = fopen(path, "w");
	if (!f)
		return -errno;
	fputs(content, f);
	return fclose(f) == 0 ? 0 : -errno;
}

static void fail(pod *p, const char *call, int rc, const cri_grpc_status *st)
{
	snprintf(p->err, sizeof(p->err), "%s: %s (%s: %s)", call, kc_strerror(rc), cri_grpc_code_name(st->code),
		 st->message);
}

/* The kubelet's sandbox config for a BestEffort pod without clusterDNS or hostPorts
 * (pod_worker.c build_sandbox_cfg). */
typedef struct sbcfg {
	Runtime__V1__PodSandboxConfig c;
	Runtime__V1__PodSandboxMetadata md;
	Runtime__V1__LinuxPodSandboxConfig lx;
	Runtime__V1__PodSandboxConfig__LabelsEntry le[3];
	Runtime__V1__PodSandboxConfig__LabelsEntry *lp[3];
	char logdir[1200];
	char cgroup[1200];
} sbcfg;

static void build_sandbox(pod *p, sbcfg *s)
{
	Runtime__V1__PodSandboxConfig c = RUNTIME__V1__POD_SANDBOX_CONFIG__INIT;
	Runtime__V1__PodSandboxMetadata md = RUNTIME__V1__POD_SANDBOX_METADATA__INIT;
	Runtime__V1__LinuxPodSandboxConfig lx = RUNTIME__V1__LINUX_POD_SANDBOX_CONFIG__INIT;
	Runtime__V1__PodSandboxConfig__LabelsEntry le = RUNTIME__V1__POD_SANDBOX_CONFIG__LABELS_ENTRY__INIT;
	s->c = c;
	s->md = md;
	s->lx = lx;
	s->md.name = p->name;
	s->md.namespace_ = "default";
	s->md.uid = p->uid;
	s->c.metadata = &s->md;
	s->c.hostname = p->name;
	snprintf(s->logdir, sizeof(s->logdir), "%s/logs/default_%s_%s", workdir, p->name, p->uid);
	s->c.log_directory = s->logdir;
	const char *keys[3] = { "io.kubernetes.pod.name", "io.kubernetes.pod.namespace", "io.kubernetes.pod.uid" };
	const char *vals[3] = { p->name, "default", p->uid };
	for (int i = 0; i < 3; i++) {
		s->le[i] = le;
		s->le[i].key = (char *)keys[i];
		s->le[i].value = (char *)vals[i];
		s->lp[i] = &s->le[i];
	}
	s->c.n_labels = 3;
	s->c.labels = s->lp;
	snprintf(s->cgroup, sizeof(s->cgroup), "%s/kubepods/besteffort/pod%s", cgroup_root, p->uid);
	s->lx.cgroup_parent = s->cgroup;
	s->c.linux_cfg = &s->lx;
}

/* One pod through the kubelet's start sequence; 0 when its container started. */
static int start_pod(cri_client *c, pod *p)
{
	cri_grpc_status st = { 0 };
	sbcfg s;
	build_sandbox(p, &s);
	char dir[1400], hosts[1500], term[1500];
	snprintf(dir, sizeof(dir), "%s/pods/%s", workdir, p->uid);
	snprintf(hosts, sizeof(hosts), "%s/etc-hosts", dir);
	snprintf(term, sizeof(term), "%s/termination-log", dir);
	if (mkdir(dir, 0755) < 0 || mkdir(s.logdir, 0755) < 0) {
		snprintf(p->err, sizeof(p->err), "mkdir %.400s: %s", dir, strerror(errno));
		return -1;
	}
	char content[256];
	snprintf(content, sizeof(content), "# Kubernetes-managed hosts file.\n127.0.0.1\tlocalhost\n");
	if (write_file(hosts, content) < 0 || write_file(term, "") < 0) {
		snprintf(p->err, sizeof(p->err), "write %.400s: %s", dir, strerror(errno));
		return -1;
	}

	double t0 = now_s(), t = t0, t1;
	char *id = NULL;
	int rc = cri_run_pod_sandbox(c, &s.c, NULL, &id, &st);
	t1 = now_s();
	p->stage[ST_RUN] = t1 - t;
	t = t1;
	if (rc < 0) {
		fail(p, "RunPodSandbox", rc, &st);
		return -1;
	}
	snprintf(p->sandbox_id, sizeof(p->sandbox_id), "%s", id);
	free(id);

	Runtime__V1__PodSandboxStatusResponse *ps = NULL;
	rc = cri_pod_sandbox_status(c, p->sandbox_id, 0, &ps, &st);
	t1 = now_s();
	p->stage[ST_SBSTATUS] = t1 - t;
	t = t1;
	if (rc < 0) {
		fail(p, "PodSandboxStatus", rc, &st);
		return -1;
	}
	int has_ip = ps->status->network && ps->status->network->ip && ps->status->network->ip[0];
	cri_msg_free(ps);
	if (!has_ip) {
		snprintf(p->err, sizeof(p->err), "sandbox %s has no IP", p->sandbox_id);
		return -1;
	}

	Runtime__V1__ImageStatusResponse *is = NULL;
	rc = cri_image_status(c, USER_IMAGE, 0, &is, &st);
	t1 = now_s();
	p->stage[ST_IMAGE] = t1 - t;
	t = t1;
	if (rc < 0 || !is->image) {
		if (rc < 0)
			fail(p, "ImageStatus", rc, &st);
		else
			snprintf(p->err, sizeof(p->err), "image %s not present (import it first)", IMAGE);
		cri_msg_free(is);
		return -1;
	}
	char ref[200];
	snprintf(ref, sizeof(ref), "%s", is->image->id);
	cri_msg_free(is);

	/* the container config start_container sends for `command: [sleep, 3600]` */
	Runtime__V1__ContainerConfig cc = RUNTIME__V1__CONTAINER_CONFIG__INIT;
	Runtime__V1__ContainerMetadata md = RUNTIME__V1__CONTAINER_METADATA__INIT;
	Runtime__V1__ImageSpec ispec = RUNTIME__V1__IMAGE_SPEC__INIT;
	Runtime__V1__LinuxContainerConfig lx = RUNTIME__V1__LINUX_CONTAINER_CONFIG__INIT;
	Runtime__V1__LinuxContainerResources lr = RUNTIME__V1__LINUX_CONTAINER_RESOURCES__INIT;
	Runtime__V1__Mount mnt[2] = { RUNTIME__V1__MOUNT__INIT, RUNTIME__V1__MOUNT__INIT };
	Runtime__V1__Mount *mntp[2] = { &mnt[0], &mnt[1] };
	Runtime__V1__ContainerConfig__LabelsEntry le[4];
	Runtime__V1__ContainerConfig__LabelsEntry *lp[4];
	const char *keys[4] = { "io.kubernetes.pod.name", "io.kubernetes.pod.namespace", "io.kubernetes.pod.uid",
				"io.kubernetes.container.name" };
	const char *vals[4] = { p->name, "default", p->uid, "c" };
	for (int i = 0; i < 4; i++) {
		Runtime__V1__ContainerConfig__LabelsEntry init = RUNTIME__V1__CONTAINER_CONFIG__LABELS_ENTRY__INIT;
		le[i] = init;
		le[i].key = (char *)keys[i];
		le[i].value = (char *)vals[i];
		lp[i] = &le[i];
	}
	char *cmd[] = { "sleep", "3600" };
	md.name = "c";
	cc.metadata = &md;
	ispec.image = ref;
	ispec.user_specified_image = USER_IMAGE;
	cc.image = &ispec;
	cc.command = cmd;
	cc.n_command = 2;
	mnt[0].container_path = "/etc/hosts";
	mnt[0].host_path = hosts;
	mnt[1].container_path = "/dev/termination-log";
	mnt[1].host_path = term;
	cc.mounts = mntp;
	cc.n_mounts = 2;
	cc.labels = lp;
	cc.n_labels = 4;
	cc.log_path = "c/0.log";
	/* BestEffort: cpu shares 2 (MinShares), no quota, no memory limit */
	lr.cpu_shares = 2;
	lr.cpu_period = 100000;
	lx.resources = &lr;
	cc.linux_cfg = &lx;
	char cdir[1300];
	snprintf(cdir, sizeof(cdir), "%s/c", s.logdir);
	mkdir(cdir, 0755);
	rc = cri_create_container(c, p->sandbox_id, &cc, &s.c, &id, &st);
	t1 = now_s();
	p->stage[ST_CREATE] = t1 - t;
	t = t1;
	if (rc < 0) {
		fail(p, "CreateContainer", rc, &st);
		return -1;
	}
	snprintf(p->container_id, sizeof(p->container_id), "%s", id);
	free(id);

	rc = cri_start_container(c, p->container_id, &st);
	t1 = now_s();
	p->stage[ST_START] = t1 - t;
	if (rc < 0) {
		fail(p, "StartContainer", rc, &st);
		return -1;
	}
	p->cri_s = t1 - t0;
	p->burst_s = t1 - t_burst;
	p->ok = 1;
	return 0;
}

/* Remove what start_pod made; 0 when everything it created is gone. */
static int remove_pod(cri_client *c, pod *p)
{
	cri_grpc_status st = { 0 };
	int bad = 0;
	if (p->container_id[0]) {
		int rc = cri_stop_container(c, p->container_id, 0, &st);
		if (rc < 0 && st.code != CRI_GRPC_NOT_FOUND)
			bad = 1;
		rc = cri_remove_container(c, p->container_id, &st);
		if (rc < 0 && st.code != CRI_GRPC_NOT_FOUND)
			bad = 1;
	}
	if (p->sandbox_id[0]) {
		int rc = cri_stop_pod_sandbox(c, p->sandbox_id, &st);
		if (rc < 0 && st.code != CRI_GRPC_NOT_FOUND)
			bad = 1;
		rc = cri_remove_pod_sandbox(c, p->sandbox_id, &st);
		if (rc < 0 && st.code != CRI_GRPC_NOT_FOUND)
			bad = 1;
	}
	if (bad)
		fprintf(stderr, "remove %s: %s\n", p->name, st.message);
	return bad ? -1 : 0;
}

static void *start_worker(void *arg)
{
	cri_client *c = arg;
	int i;
	while ((i = atomic_fetch_add(&next_pod, 1)) < npods)
		start_pod(c, &pods[i]);
	return NULL;
}

static atomic_int remove_failures;

static void *remove_worker(void *arg)
{
	cri_client *c = arg;
	int i;
	while ((i = atomic_fetch_add(&next_pod, 1)) < npods)
		if (remove_pod(c, &pods[i]) < 0)
			atomic_fetch_add(&remove_failures, 1);
	return NULL;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* Nearest-rank on the sorted values, as startup.py's pct(). */
static double pct(const double *v, int n, double q)
{
	int i = (int)(q * (n - 1) + 0.5);
	return v[i < n ? i : n - 1];
}

static int run_workers(int workers, void *(*fn)(void *))
{
	pthread_t th[MAX_WORKERS];
	int started = 0;
	atomic_store(&next_pod, 0);
	for (int i = 0; i < workers; i++) {
		if (pthread_create(&th[i], NULL, fn, &conns[i % nconns]) != 0)
			break;
		started++;
	}
	/* fewer threads than asked still finish every pod; report it */
	for (int i = 0; i < started; i++)
		pthread_join(th[i], NULL);
	return started;
}

static void close_conns(void)
{
	for (int i = 0; i < nconns; i++)
		cri_client_close(&conns[i]);
}

/* utime+stime and cutime+cstime of pid in clock ticks; -1 if it is gone. */
static int proc_ticks(const char *pid, long long *own, long long *kids)
{
	char path[64], buf[1024];
	snprintf(path, sizeof(path), "/proc/%s/stat", pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	/* fields after the parenthesised comm (which may hold spaces): state is field 3 */
	char *p = strrchr(buf, ')');
	if (!p)
		return -1;
	long long v[15] = { 0 };
	int field = 2;
	for (char *tok = strtok(p + 1, " "); tok && field < 17; tok = strtok(NULL, " "))
		v[(++field) - 3] = strtoll(tok, NULL, 10);
	if (field < 17)
		return -1;
	*own = v[11] + v[12];  /* fields 14, 15 */
	*kids = v[13] + v[14]; /* fields 16, 17 */
	return 0;
}

/* containerd (ctrd_pid) plus every live shim whose command line names sock. */
static void ctrd_cpu(const char *ctrd_pid, const char *sock, long long *own, long long *kids)
{
	*own = *kids = 0;
	long long o, k;
	if (proc_ticks(ctrd_pid, &o, &k) == 0) {
		*own += o;
		*kids += k;
	}
	DIR *d = opendir("/proc");
	if (!d)
		return;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (e->d_name[0] < '1' || e->d_name[0] > '9' || !strcmp(e->d_name, ctrd_pid))
			continue;
		char path[300], cmd[4096];
		snprintf(path, sizeof(path), "/proc/%s/cmdline", e->d_name);
		FILE *f = fopen(path, "r");
		if (!f)
			continue;
		size_t n = fread(cmd, 1, sizeof(cmd) - 1, f);
		fclose(f);
		for (size_t i = 0; i < n; i++)
			if (!cmd[i])
				cmd[i] = ' ';
		cmd[n] = 0;
		if (strstr(cmd, "containerd-shim") && strstr(cmd, sock) && proc_ticks(e->d_name, &o, &k) == 0) {
			*own += o;
			*kids += k;
		}
	}
	closedir(d);
}

/* busy and total jiffies of all cores (/proc/stat "cpu" line; idle = idle + iowait) */
static void machine_ticks(long long *busy, long long *total)
{
	*busy = *total = 0;
	FILE *f = fopen("/proc/stat", "r");
	if (!f)
		return;
	long long v[10] = { 0 };
	if (fscanf(f, "cpu %lld %lld %lld %lld %lld %lld %lld %lld", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6],
		   &v[7]) == 8) {
		*total = v[0] + v[1] + v[2] + v[3] + v[4] + v[5] + v[6] + v[7];
		*busy = *total - v[3] - v[4];
	}
	fclose(f);
}

static int parse_int(const char *s, int lo, int hi, int *out)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || *end || end == s || v < lo || v > hi)
		return -EINVAL;
	*out = (int)v;
	return 0;
}

int main(int argc, char **argv)
{
	int workers;
	int ctrd_pid = 0;
	if (argc < 6 || argc > 8 || parse_int(argv[4], 1, MAX_PODS, &npods) < 0 ||
	    parse_int(argv[5], 1, MAX_WORKERS, &workers) < 0 ||
	    (argc >= 7 && parse_int(argv[6], 1, MAX_CONNS, &nconns) < 0) ||
	    (argc == 8 && parse_int(argv[7], 1, 1 << 30, &ctrd_pid) < 0)) {
		fprintf(stderr,
			"usage: ctrd_anchor ENDPOINT CGROUP_ROOT WORKDIR PODS(1..%d) WORKERS(1..%d) [CONNS(1..%d) [CTRD_PID]]\n",
			MAX_PODS, MAX_WORKERS, MAX_CONNS);
		return 2;
	}
	cgroup_root = argv[2];
	workdir = argv[3];
	char d[1200];
	snprintf(d, sizeof(d), "%s/logs", workdir);
	mkdir(d, 0755);
	snprintf(d, sizeof(d), "%s/pods", workdir);
	mkdir(d, 0755);
	for (int i = 0; i < nconns; i++) {
		int rc = cri_client_init(&conns[i], argv[1], 0);
		if (rc < 0) {
			fprintf(stderr, "cri_client_init %s: %s\n", argv[1], kc_strerror(rc));
			while (i-- > 0)
				cri_client_close(&conns[i]);
			return 1;
		}
	}
	cri_grpc_status st;
	Runtime__V1__VersionResponse *v = NULL;
	if (cri_version(&conns[0], &v, &st) < 0) {
		fprintf(stderr, "Version: %s\n", st.message);
		close_conns();
		return 1;
	}
	cri_msg_free(v);
	pods = calloc((size_t)npods, sizeof(*pods));
	if (!pods) {
		close_conns();
		return 1;
	}
	/* unique per run: names and uids must not collide with a previous round's leftovers */
	unsigned run = (unsigned)time(NULL) ^ ((unsigned)getpid() << 8);
	for (int i = 0; i < npods; i++) {
		snprintf(pods[i].name, sizeof(pods[i].name), "anchor-w%d-%03d", workers, i);
		snprintf(pods[i].uid, sizeof(pods[i].uid), "%08x-0000-4000-8000-%012d", run, i);
	}

	const char *sock = !strncmp(argv[1], "unix://", 7) ? argv[1] + 7 : argv[1];
	long long own0, kids0, own1, kids1, busy0, tot0, busy1, tot1;
	ctrd_cpu(argc == 8 ? argv[7] : "0", sock, &own0, &kids0);
	machine_ticks(&busy0, &tot0);
	t_burst = now_s();
	int nth = run_workers(workers < npods ? workers : npods, start_worker);
	double wall = now_s() - t_burst;
	ctrd_cpu(argc == 8 ? argv[7] : "0", sock, &own1, &kids1);
	machine_ticks(&busy1, &tot1);

	int nok = 0, running = 0;
	double *cri = calloc((size_t)npods, sizeof(double)), *burst = calloc((size_t)npods, sizeof(double));
	double *stage[ST_N];
	for (int k = 0; k < ST_N; k++)
		stage[k] = calloc((size_t)npods, sizeof(double));
	for (int i = 0; i < npods; i++) {
		if (!pods[i].ok) {
			fprintf(stderr, "pod %s failed: %s\n", pods[i].name, pods[i].err);
			continue;
		}
		cri[nok] = pods[i].cri_s;
		burst[nok] = pods[i].burst_s;
		for (int k = 0; k < ST_N; k++)
			stage[k][nok] = pods[i].stage[k];
		nok++;
		/* honesty check: StartContainer's OK means a running process */
		Runtime__V1__ContainerStatusResponse *cs = NULL;
		if (cri_container_status(&conns[0], pods[i].container_id, 0, &cs, &st) == 0 &&
		    cs->status->state == RUNTIME__V1__CONTAINER_STATE__CONTAINER_RUNNING)
			running++;
		else
			fprintf(stderr, "pod %s: container not running after start\n", pods[i].name);
		cri_msg_free(cs);
	}

	double t_rm = now_s();
	run_workers(workers < npods ? workers : npods, remove_worker);
	double rm_wall = now_s() - t_rm;
	/* nothing of ours may remain: list by our name prefix */
	Runtime__V1__ListPodSandboxResponse *ls = NULL;
	int left = -1;
	if (cri_list_pod_sandbox(&conns[0], NULL, &ls, &st) == 0) {
		char pfx[32];
		snprintf(pfx, sizeof(pfx), "anchor-w%d-", workers);
		left = 0;
		for (size_t i = 0; i < ls->n_items; i++)
			if (ls->items[i]->metadata && !strncmp(ls->items[i]->metadata->name, pfx, strlen(pfx)) &&
			    ls->items[i]->metadata->uid && !strncmp(ls->items[i]->metadata->uid, pods[0].uid, 8))
				left++;
	}
	cri_msg_free(ls);

	if (nok > 0) {
		qsort(cri, (size_t)nok, sizeof(double), cmp_double);
		qsort(burst, (size_t)nok, sizeof(double), cmp_double);
		char label[64];
		if (nconns > 1)
			snprintf(label, sizeof(label), "containerd alone (%d conc., %d conns)", nth, nconns);
		else
			snprintf(label, sizeof(label), "containerd alone (%d concurrent)", nth);
		printf("%-34s pods=%d  since burst start: p50 %.2fs p99 %.2fs max %.2fs  all started after %.2fs\n",
		       label, nok, pct(burst, nok, .5), pct(burst, nok, .99), burst[nok - 1], wall);
		printf("%-34s per-pod CRI time (RunPodSandbox..StartContainer): p50 %.2fs p99 %.2fs max %.2fs\n", "",
		       pct(cri, nok, .5), pct(cri, nok, .99), cri[nok - 1]);
		printf("%-34s per call p50/p99:", "");
		for (int k = 0; k < ST_N; k++) {
			qsort(stage[k], (size_t)nok, sizeof(double), cmp_double);
			printf(" %s %.2f/%.2fs", stage_names[k], pct(stage[k], nok, .5), pct(stage[k], nok, .99));
		}
		printf("\n");
		if (ctrd_pid) {
			double hz = (double)sysconf(_SC_CLK_TCK);
			printf("%-34s containerd + shims CPU during start-up: %.2fs own, %.2fs with runc/CNI children"
			       " (%.1f cores); machine %.0f %% busy\n",
			       "", (double)(own1 - own0) / hz, (double)(own1 - own0 + kids1 - kids0) / hz,
			       (double)(own1 - own0 + kids1 - kids0) / hz / wall,
			       100.0 * (double)(busy1 - busy0) / (double)(tot1 > tot0 ? tot1 - tot0 : 1));
			/* a floor, not a forecast: kernel work done outside these processes
			 * (kworkers, softirq) is not counted */
			double per_pod = (double)(own1 - own0 + kids1 - kids0) / hz / nok;
			long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
			printf("%-34s CPU per pod %.3fs: %d pods need >= %.1fs of this machine's %ld cores even if nothing"
			       " else ran\n",
			       "", per_pod, npods, per_pod * npods / (double)(ncpu > 0 ? ncpu : 1), ncpu);
		}
		printf("%-34s teardown of %d pods: %.2fs\n", "", npods, rm_wall);
	}
	fflush(stdout);
	for (int k = 0; k < ST_N; k++)
		free(stage[k]);
	free(cri);
	free(burst);
	free(pods);
	close_conns();
	int bad = nok != npods || running != nok || remove_failures > 0 || left != 0;
	if (bad)
		fprintf(stderr, "FAIL: %d of %d started, %d running, %d removal failures, %d sandboxes left\n", nok, npods,
			running, (int)remove_failures, left);
	return bad ? 1 : 0;
}
