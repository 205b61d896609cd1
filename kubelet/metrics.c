/* Kubelet metrics registry and /metrics rendering; see metrics.h. */
#include "metrics.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

/* metrics.go: PodStartDurationKey buckets */
static const double pod_start_bounds[] = { 0.5, 1, 2, 3, 4, 5, 6, 8, 10, 20, 30, 45, 60, 120, 180, 240, 300, 360,
					   480, 600, 900, 1200, 1800, 2700, 3600 };
/* prometheus.DefBuckets (PodWorkerDurationKey) */
static const double def_bounds[] = { .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10 };
/* RuntimeOperationsDurationKey: prometheus.ExponentialBuckets(.005, 2.5, 14) */
static const double op_bounds[] = { .005, .0125, .03125, .078125, .1953125, .48828125, 1.220703125, 3.0517578125,
				    7.62939453125, 19.073486328125, 47.6837158203125, 119.20928955078125,
				    298.0232238769531, 745.0580596923828 };
static const char *const worker_ops[3] = { "create", "sync", "kill" };

#define NB(a) ((int)(sizeof(a) / sizeof((a)[0])))

static void hist_init(kmet_hist *h, const double *b, int nb)
{
	memset(h, 0, sizeof(*h));
	h->bounds = b;
	h->nb = nb;
}

static void hist_observe(kmet_hist *h, double v)
{
	int i = 0;
	while (i < h->nb && v > h->bounds[i])
		i++;
	h->counts[i]++;
	h->count++;
	h->sum += v;
}

void kmet_registry_init(kmet_registry *r)
{
	memset(r, 0, sizeof(*r));
	pthread_mutex_init(&r->mu, NULL);
	hist_init(&r->pod_start, pod_start_bounds, NB(pod_start_bounds));
	for (int i = 0; i < 3; i++)
		hist_init(&r->worker[i], def_bounds, NB(def_bounds));
}

void kmet_registry_close(kmet_registry *r)
{
	pthread_mutex_destroy(&r->mu);
}

static kmet_registry def_reg;
static pthread_once_t def_once = PTHREAD_ONCE_INIT;

static void def_init(void)
{
	kmet_registry_init(&def_reg);
}

kmet_registry *kmet_default(void)
{
	pthread_once(&def_once, def_init);
	return &def_reg;
}

int64_t kmet_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

void kmet_operation_type(const char *path, char *out, size_t outlen)
{
	if (!outlen)
		return;
	out[0] = 0;
	const char *m = path ? strrchr(path, '/') : NULL;
	if (!m || !m[1])
		return;
	m++;
	char tmp[64];
	size_t n = 0;
	for (const char *p = m; *p && n + 2 < sizeof(tmp); p++) {
		if (isupper((unsigned char)*p)) {
			if (n > 0)
				tmp[n++] = '_';
			tmp[n++] = (char)tolower((unsigned char)*p);
		} else {
			tmp[n++] = *p;
		}
	}
	tmp[n] = 0;
	/* upstream spells the sandbox calls "run_podsandbox", "podsandbox_status", ... */
	char *ps = strstr(tmp, "pod_sandbox");
	if (ps)
		memmove(ps + 3, ps + 4, strlen(ps + 4) + 1);
	snprintf(out, outlen, "%s", tmp);
}

void kmet_runtime_op(kmet_registry *r, const char *path, int failed, int64_t dur_ns)
{
	char op[40];
	kmet_operation_type(path, op, sizeof(op));
	if (!r || !op[0])
		return;
	pthread_mutex_lock(&r->mu);
	kmet_op *o = NULL;
	for (int i = 0; i < r->nops && !o; i++)
		if (!strcmp(r->ops[i].name, op))
			o = &r->ops[i];
	if (!o && r->nops < KMET_MAX_OPS) {
		o = &r->ops[r->nops++];
		snprintf(o->name, sizeof(o->name), "%s", op);
		hist_init(&o->dur, op_bounds, NB(op_bounds));
	}
	if (o) {
		o->total++;
		if (failed)
			o->errors++;
		hist_observe(&o->dur, (double)dur_ns / 1e9);
	}
	pthread_mutex_unlock(&r->mu);
}

void kmet_pod_start(kmet_registry *r, double seconds)
{
	if (!r)
		return;
	pthread_mutex_lock(&r->mu);
	hist_observe(&r->pod_start, seconds);
	pthread_mutex_unlock(&r->mu);
}

void kmet_pod_worker(kmet_registry *r, const char *op, double seconds)
{
	if (!r || !op)
		return;
	for (int i = 0; i < 3; i++) {
		if (!strcmp(op, worker_ops[i])) {
			pthread_mutex_lock(&r->mu);
			hist_observe(&r->worker[i], seconds);
			pthread_mutex_unlock(&r->mu);
			return;
		}
	}
}

/* ---- process figures ---- */

int kmet_process_read(kmet_process *p)
{
	memset(p, 0, sizeof(*p));
	FILE *f = fopen("/proc/self/stat", "re");
	if (!f)
		return -errno;
	char buf[2048];
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	/* fields after the ")" of comm: state(3) ... utime(14) stime(15) ... num_threads(20)
	 * starttime(22) vsize(23) rss(24) */
	char *rp = strrchr(buf, ')');
	if (!rp)
		return -EPROTO;
	unsigned long long v[24] = { 0 };
	int k = 0;
	char *save = NULL;
	for (char *t = strtok_r(rp + 2, " ", &save); t && k < 24; t = strtok_r(NULL, " ", &save))
		v[k++] = strtoull(t, NULL, 10);
	/* v[0] is field 3 */
	long hz = sysconf(_SC_CLK_TCK), page = sysconf(_SC_PAGESIZE);
	if (hz <= 0)
		hz = 100;
	p->cpu_seconds = (double)(v[11] + v[12]) / (double)hz;
	p->threads = (int)v[17];
	p->virtual_bytes = (double)v[20];
	p->resident_bytes = (double)v[21] * (double)page;
	/* start time: boot time + starttime ticks */
	FILE *s = fopen("/proc/stat", "re");
	if (s) {
		char line[256];
		while (fgets(line, sizeof(line), s)) {
			if (!strncmp(line, "btime ", 6)) {
				p->start_time_seconds = (double)strtoull(line + 6, NULL, 10) + (double)v[19] / (double)hz;
				break;
			}
		}
		fclose(s);
	}
	DIR *d = opendir("/proc/self/fd");
	if (d) {
		struct dirent *de;
		while ((de = readdir(d)))
			if (de->d_name[0] != '.')
				p->open_fds++;
		closedir(d);
		p->open_fds--; /* the directory's own fd */
	}
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
		p->max_fds = rl.rlim_cur == RLIM_INFINITY ? -1 : (int)rl.rlim_cur;
	return 0;
}

/* ---- rendering ---- */

typedef struct sbuf {
	char *p;
	size_t n, cap;
	int oom;
} sbuf;

static void sb_printf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(sbuf *b, const char *fmt, ...)
{
	if (b->oom)
		return;
	for (;;) {
		va_list ap;
		va_start(ap, fmt);
		int w = vsnprintf(b->p ? b->p + b->n : NULL, b->p ? b->cap - b->n : 0, fmt, ap);
		va_end(ap);
		if (w < 0) {
			b->oom = 1;
			return;
		}
		if (b->p && b->n + (size_t)w < b->cap) {
			b->n += (size_t)w;
			return;
		}
		size_t cap = (b->cap ? b->cap * 2 : 4096) + (size_t)w;
		char *np = realloc(b->p, cap);
		if (!np) {
			b->oom = 1;
			return;
		}
		b->p = np;
		b->cap = cap;
	}
}

static char *sb_take(sbuf *b)
{
	if (b->oom || !b->p) {
		free(b->p);
		return NULL;
	}
	return b->p;
}

/* Numbers as client_golang prints them: integers plainly, others in the shortest form
 * that parses back exactly. */
static void fmt_num(char *out, size_t len, double v)
{
	if (v == (double)(long long)v && v < 1e15 && v > -1e15) {
		snprintf(out, len, "%lld", (long long)v);
		return;
	}
	/* the shortest precision that reads back to the same double ("0.025", not
	 * "0.025000000000000001"), as Go's strconv.FormatFloat(v, 'g', -1, 64) */
	for (int prec = 1; prec <= 17; prec++) {
		snprintf(out, len, "%.*g", prec, v);
		if (strtod(out, NULL) == v)
			return;
	}
}

/* label values escaped as the text format asks: \ " and newline */
static void esc(char *out, size_t len, const char *s)
{
	size_t n = 0;
	for (; s && *s && n + 3 < len; s++) {
		if (*s == '\\' || *s == '"') {
			out[n++] = '\\';
			out[n++] = *s;
		} else if (*s == '\n') {
			out[n++] = '\\';
			out[n++] = 'n';
		} else {
			out[n++] = *s;
		}
	}
	out[n] = 0;
}

static void header(sbuf *b, const char *name, const char *help, const char *type)
{
	sb_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* labels: "" or `operation_type="x"` (without braces) */
static void hist_lines(sbuf *b, const char *name, const char *labels, const kmet_hist *h)
{
	uint64_t cum = 0;
	char num[64];
	const char *sep = labels[0] ? "," : "";
	for (int i = 0; i < h->nb; i++) {
		cum += h->counts[i];
		fmt_num(num, sizeof(num), h->bounds[i]);
		sb_printf(b, "%s_bucket{%s%sle=\"%s\"} %llu\n", name, labels, sep, num, (unsigned long long)cum);
	}
	cum += h->counts[h->nb];
	sb_printf(b, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", name, labels, sep, (unsigned long long)cum);
	fmt_num(num, sizeof(num), h->sum);
	if (labels[0]) {
		sb_printf(b, "%s_sum{%s} %s\n", name, labels, num);
		sb_printf(b, "%s_count{%s} %llu\n", name, labels, (unsigned long long)h->count);
	} else {
		sb_printf(b, "%s_sum %s\n", name, num);
		sb_printf(b, "%s_count %llu\n", name, (unsigned long long)h->count);
	}
}

char *kmet_render(kmet_registry *r, const kmet_state *s, const kmet_process *proc)
{
	sbuf b = { 0 };
	char e[600], num[64];
	static const char *const cstates[4] = { "created", "running", "exited", "unknown" };
	esc(e, sizeof(e), s && s->node_name ? s->node_name : "");
	header(&b, "kubelet_node_name", "[ALPHA] The node's name. The count is always 1.", "gauge");
	sb_printf(&b, "kubelet_node_name{node=\"%s\"} 1\n", e);
	header(&b, "kubelet_running_pods", "[ALPHA] Number of pods that have a running pod sandbox", "gauge");
	sb_printf(&b, "kubelet_running_pods %d\n", s ? s->running_pods : 0);
	header(&b, "kubelet_running_containers", "[ALPHA] Number of containers currently running", "gauge");
	for (int i = 0; i < 4; i++)
		if (s && s->containers[i] > 0)
			sb_printf(&b, "kubelet_running_containers{container_state=\"%s\"} %d\n", cstates[i], s->containers[i]);
	pthread_mutex_lock(&r->mu);
	header(&b, "kubelet_pod_start_duration_seconds",
	       "[ALPHA] Duration in seconds from kubelet seeing a pod for the first time to the pod starting to run",
	       "histogram");
	hist_lines(&b, "kubelet_pod_start_duration_seconds", "", &r->pod_start);
	header(&b, "kubelet_pod_worker_duration_seconds",
	       "[ALPHA] Duration in seconds to sync a single pod. Broken down by operation type: create, update, or sync",
	       "histogram");
	for (int i = 0; i < 3; i++) {
		char l[64];
		snprintf(l, sizeof(l), "operation_type=\"%s\"", worker_ops[i]);
		hist_lines(&b, "kubelet_pod_worker_duration_seconds", l, &r->worker[i]);
	}
	header(&b, "kubelet_runtime_operations_total", "[ALPHA] Cumulative number of runtime operations by operation type.",
	       "counter");
	for (int i = 0; i < r->nops; i++)
		sb_printf(&b, "kubelet_runtime_operations_total{operation_type=\"%s\"} %llu\n", r->ops[i].name,
			  (unsigned long long)r->ops[i].total);
	header(&b, "kubelet_runtime_operations_errors_total",
	       "[ALPHA] Cumulative number of runtime operation errors by operation type.", "counter");
	for (int i = 0; i < r->nops; i++)
		if (r->ops[i].errors)
			sb_printf(&b, "kubelet_runtime_operations_errors_total{operation_type=\"%s\"} %llu\n", r->ops[i].name,
				  (unsigned long long)r->ops[i].errors);
	header(&b, "kubelet_runtime_operations_duration_seconds",
	       "[ALPHA] Duration in seconds of runtime operations. Broken down by operation type.", "histogram");
	for (int i = 0; i < r->nops; i++) {
		char l[80];
		snprintf(l, sizeof(l), "operation_type=\"%s\"", r->ops[i].name);
		hist_lines(&b, "kubelet_runtime_operations_duration_seconds", l, &r->ops[i].dur);
	}
	pthread_mutex_unlock(&r->mu);
	if (proc) {
		fmt_num(num, sizeof(num), proc->cpu_seconds);
		header(&b, "process_cpu_seconds_total", "Total user and system CPU time spent in seconds.", "counter");
		sb_printf(&b, "process_cpu_seconds_total %s\n", num);
		header(&b, "process_max_fds", "Maximum number of open file descriptors.", "gauge");
		sb_printf(&b, "process_max_fds %d\n", proc->max_fds);
		header(&b, "process_open_fds", "Number of open file descriptors.", "gauge");
		sb_printf(&b, "process_open_fds %d\n", proc->open_fds);
		fmt_num(num, sizeof(num), proc->resident_bytes);
		header(&b, "process_resident_memory_bytes", "Resident memory size in bytes.", "gauge");
		sb_printf(&b, "process_resident_memory_bytes %s\n", num);
		fmt_num(num, sizeof(num), proc->start_time_seconds);
		header(&b, "process_start_time_seconds", "Start time of the process since unix epoch in seconds.", "gauge");
		sb_printf(&b, "process_start_time_seconds %s\n", num);
		fmt_num(num, sizeof(num), proc->virtual_bytes);
		header(&b, "process_virtual_memory_bytes", "Virtual memory size in bytes.", "gauge");
		sb_printf(&b, "process_virtual_memory_bytes %s\n", num);
		header(&b, "process_threads", "Number of OS threads in the process (kubec; Go reports go_threads).", "gauge");
		sb_printf(&b, "process_threads %d\n", proc->threads);
	}
	return sb_take(&b);
}

/* ---- /metrics/resource ---- */

char *kmet_render_resource(const kmet_resource *r)
{
	sbuf b = { 0 };
	char num[64], ns[300], pod[300], ctr[300];
	header(&b, "container_cpu_usage_seconds_total",
	       "[STABLE] Cumulative cpu time consumed by the container in core-seconds", "counter");
	for (size_t i = 0; i < r->ncontainers; i++) {
		const kmet_usage *u = &r->containers[i];
		esc(ctr, sizeof(ctr), u->container);
		esc(ns, sizeof(ns), u->ns);
		esc(pod, sizeof(pod), u->pod);
		fmt_num(num, sizeof(num), u->cpu_seconds);
		sb_printf(&b, "container_cpu_usage_seconds_total{container=\"%s\",namespace=\"%s\",pod=\"%s\"} %s %lld\n", ctr,
			  ns, pod, num, (long long)u->ts_ms);
	}
	header(&b, "container_memory_working_set_bytes", "[STABLE] Current working set of the container in bytes",
	       "gauge");
	for (size_t i = 0; i < r->ncontainers; i++) {
		const kmet_usage *u = &r->containers[i];
		esc(ctr, sizeof(ctr), u->container);
		esc(ns, sizeof(ns), u->ns);
		esc(pod, sizeof(pod), u->pod);
		fmt_num(num, sizeof(num), u->working_set_bytes);
		sb_printf(&b, "container_memory_working_set_bytes{container=\"%s\",namespace=\"%s\",pod=\"%s\"} %s %lld\n",
			  ctr, ns, pod, num, (long long)u->ts_ms);
	}
	header(&b, "node_cpu_usage_seconds_total", "[STABLE] Cumulative cpu time consumed by the node in core-seconds",
	       "counter");
	if (r->node_ok) {
		fmt_num(num, sizeof(num), r->node_cpu_seconds);
		sb_printf(&b, "node_cpu_usage_seconds_total %s %lld\n", num, (long long)r->node_ts_ms);
	}
	header(&b, "node_memory_working_set_bytes", "[STABLE] Current working set of the node in bytes", "gauge");
	if (r->node_ok) {
		fmt_num(num, sizeof(num), r->node_working_set_bytes);
		sb_printf(&b, "node_memory_working_set_bytes %s %lld\n", num, (long long)r->node_ts_ms);
	}
	header(&b, "pod_cpu_usage_seconds_total", "[STABLE] Cumulative cpu time consumed by the pod in core-seconds",
	       "counter");
	for (size_t i = 0; i < r->npods; i++) {
		const kmet_usage *u = &r->pods[i];
		esc(ns, sizeof(ns), u->ns);
		esc(pod, sizeof(pod), u->pod);
		fmt_num(num, sizeof(num), u->cpu_seconds);
		sb_printf(&b, "pod_cpu_usage_seconds_total{namespace=\"%s\",pod=\"%s\"} %s %lld\n", ns, pod, num,
			  (long long)u->ts_ms);
	}
	header(&b, "pod_memory_working_set_bytes", "[STABLE] Current working set of the pod in bytes", "gauge");
	for (size_t i = 0; i < r->npods; i++) {
		const kmet_usage *u = &r->pods[i];
		esc(ns, sizeof(ns), u->ns);
		esc(pod, sizeof(pod), u->pod);
		fmt_num(num, sizeof(num), u->working_set_bytes);
		sb_printf(&b, "pod_memory_working_set_bytes{namespace=\"%s\",pod=\"%s\"} %s %lld\n", ns, pod, num,
			  (long long)u->ts_ms);
	}
	header(&b, "scrape_error", "[ALPHA] 1 if there was an error while getting container metrics, 0 otherwise",
	       "gauge");
	sb_printf(&b, "scrape_error %d\n", r->scrape_error ? 1 : 0);
	return sb_take(&b);
}
