/* The kubelet's Prometheus metrics (pkg/kubelet/metrics/metrics.go, the subset kubec
 * keeps) and their text exposition for /metrics on the 10250 server.  Prefix kmet_.
 *
 * A registry holds what is counted as things happen: CRI calls by operation type
 * (kubelet_runtime_operations_total / _errors_total / _duration_seconds, counted in
 * cri_unary for containerd and the fake alike), pod start durations (first seen by the
 * kubelet to all containers running, kubelet_pod_start_duration_seconds) and pod worker
 * sync durations (kubelet_pod_worker_duration_seconds{operation_type=create|sync|kill}).
 * Gauges that describe the present (running pods and containers, the node name, process
 * figures) are passed in at render time.  The process uses one registry, kmet_default()
 * (upstream's legacyregistry); tests make their own.  Thread-safe. */
#ifndef KUBELET_METRICS_H
#define KUBELET_METRICS_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#define KMET_MAX_BUCKETS 28
#define KMET_MAX_OPS 32

typedef struct kmet_hist {
	const double *bounds;  /* upper bounds, ascending; +Inf implied */
	int nb;
	uint64_t counts[KMET_MAX_BUCKETS]; /* non-cumulative per bucket; [nb] is +Inf */
	uint64_t count;
	double sum;
} kmet_hist;

typedef struct kmet_op {
	char name[40];         /* operation_type label: "run_podsandbox" */
	uint64_t total, errors;
	kmet_hist dur;
} kmet_op;

typedef struct kmet_registry {
	pthread_mutex_t mu;
	kmet_op ops[KMET_MAX_OPS];
	int nops;
	kmet_hist pod_start;
	kmet_hist worker[3];   /* create, sync, kill */
} kmet_registry;

void kmet_registry_init(kmet_registry *r);
void kmet_registry_close(kmet_registry *r);
/* The process's registry (initialised on first use). */
kmet_registry *kmet_default(void);
/* Monotonic nanoseconds, for durations. */
int64_t kmet_now_ns(void);

/* Upstream's operation_type of a CRI method path: "/runtime.v1.RuntimeService/RunPodSandbox"
 * -> "run_podsandbox", ".../ListContainers" -> "list_containers" (instrumented_services.go).
 * out gets "" for a path without a method. */
void kmet_operation_type(const char *path, char *out, size_t outlen);
/* One CRI call (path borrowed). */
void kmet_runtime_op(kmet_registry *r, const char *path, int failed, int64_t dur_ns);
void kmet_pod_start(kmet_registry *r, double seconds);
/* op: "create", "sync" or "kill" (others ignored). */
void kmet_pod_worker(kmet_registry *r, const char *op, double seconds);

/* What is true now, counted at scrape time. */
typedef struct kmet_state {
	const char *node_name;
	int running_pods;          /* pods with a ready sandbox */
	int containers[4];         /* by container_state: created, running, exited, unknown */
} kmet_state;

/* Figures of this process (process_* metrics of the Go client). */
typedef struct kmet_process {
	double cpu_seconds;
	double resident_bytes, virtual_bytes;
	double start_time_seconds; /* since the epoch */
	int open_fds, max_fds;
	int threads;
} kmet_process;
/* Read /proc/self; 0 or -errno. */
int kmet_process_read(kmet_process *p);

/* The /metrics page in Prometheus text format 0.0.4 (# HELP / # TYPE, histograms with
 * cumulative _bucket{le=...}, _sum, _count).  proc may be NULL (no process_* metrics).
 * Returns a malloc'd string, NULL on ENOMEM. */
char *kmet_render(kmet_registry *r, const kmet_state *s, const kmet_process *proc);

/* ---- /metrics/resource (pkg/kubelet/metrics/collectors/resource_metrics.go) ---- */

typedef struct kmet_usage {
	const char *ns, *pod, *container; /* container NULL for a pod's own figures */
	double cpu_seconds;                /* cumulative core-seconds */
	double working_set_bytes;
	int64_t ts_ms;                     /* when measured (the sample's timestamp) */
} kmet_usage;

typedef struct kmet_resource {
	int node_ok;
	double node_cpu_seconds, node_working_set_bytes;
	int64_t node_ts_ms;
	const kmet_usage *pods;            /* container == NULL */
	size_t npods;
	const kmet_usage *containers;
	size_t ncontainers;
	int scrape_error;                  /* some figure could not be read */
} kmet_resource;

/* Render the resource metrics page (malloc'd, NULL on ENOMEM). */
char *kmet_render_resource(const kmet_resource *r);

/* Node figures from /proc: cpu (sum of /proc/stat's non-idle times) and working set
 * (MemTotal - MemFree - Inactive(file), as cAdvisor's root working set).  proc_root
 * is "/proc" (tests pass a directory with stat and meminfo).  0 or -errno. */
int kmet_node_usage(const char *proc_root, double *cpu_seconds, double *working_set);
/* A cgroup's figures: cgroup v2 (<root>/unified or <root> with cpu.stat usage_usec,
 * memory.current - memory.stat inactive_file) or v1 (cpuacct.usage, memory.usage_in_bytes
 * - total_inactive_file).  cg_root "/sys/fs/cgroup"; cg the cgroup path ("/kubepods/...").
 * 0 or -errno (-ENOENT when the cgroup does not exist). */
int kmet_cgroup_usage(const char *cg_root, const char *cg, double *cpu_seconds, double *working_set);

#endif
