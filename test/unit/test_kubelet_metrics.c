/* The kubelet's metrics: operation types, histograms and the Prometheus text of
 * /metrics and /metrics/resource, node and cgroup figures read from files. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <errno.h>

#include "kc_test.h"
#include "../../kubelet/metrics.h"

static void op_is(const char *path, const char *want)
{
	char out[64];
	kmet_operation_type(path, out, sizeof(out));
	ck_assert_str_eq(out, want);
}

START_TEST(operation_types_as_upstream)
{
	op_is("/runtime.v1.RuntimeService/RunPodSandbox", "run_podsandbox");
	op_is("/runtime.v1.RuntimeService/PodSandboxStatus", "podsandbox_status");
	op_is("/runtime.v1.RuntimeService/ListPodSandbox", "list_podsandbox");
	op_is("/runtime.v1.RuntimeService/ListContainers", "list_containers");
	op_is("/runtime.v1.RuntimeService/ExecSync", "exec_sync");
	op_is("/runtime.v1.ImageService/ImageFsInfo", "image_fs_info");
	op_is("/runtime.v1.RuntimeService/Version", "version");
	op_is("nomethod/", "");
	op_is(NULL, "");
}
END_TEST

/* the line "series value" in text, or NULL */
static const char *line_of(const char *text, const char *series)
{
	size_t l = strlen(series);
	for (const char *p = text; p && *p;) {
		if (!strncmp(p, series, l) && p[l] == ' ')
			return p + l + 1;
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	return NULL;
}

static double value_of(const char *text, const char *series)
{
	const char *v = line_of(text, series);
	ck_assert_msg(v != NULL, "no series %s", series);
	return strtod(v, NULL);
}

START_TEST(metrics_page_counts_and_histograms)
{
	kmet_registry r;
	kmet_registry_init(&r);
	kmet_runtime_op(&r, "/runtime.v1.RuntimeService/RunPodSandbox", 0, 2000000);
	kmet_runtime_op(&r, "/runtime.v1.RuntimeService/RunPodSandbox", 1, 40000000);
	kmet_runtime_op(&r, "/runtime.v1.RuntimeService/StartContainer", 0, 1000000);
	kmet_pod_start(&r, 0.3);
	kmet_pod_start(&r, 1.5);
	kmet_pod_start(&r, 5000);
	kmet_pod_worker(&r, "create", 0.02);
	kmet_pod_worker(&r, "bogus", 1);
	kmet_state s = { .node_name = "node-\"a\"", .running_pods = 3, .containers = { 1, 4, 2, 0 } };
	kmet_process p = { .cpu_seconds = 1.25, .resident_bytes = 123456, .virtual_bytes = 1e9,
			   .start_time_seconds = 1700000000.5, .open_fds = 9, .max_fds = 1024, .threads = 5 };
	char *t = kmet_render(&r, &s, &p);
	ck_assert_ptr_nonnull(t);
	ck_assert_double_eq(value_of(t, "kubelet_node_name{node=\"node-\\\"a\\\"\"}"), 1);
	ck_assert_double_eq(value_of(t, "kubelet_running_pods"), 3);
	ck_assert_double_eq(value_of(t, "kubelet_running_containers{container_state=\"running\"}"), 4);
	ck_assert_double_eq(value_of(t, "kubelet_running_containers{container_state=\"created\"}"), 1);
	ck_assert_double_eq(value_of(t, "kubelet_running_containers{container_state=\"exited\"}"), 2);
	ck_assert_ptr_null(line_of(t, "kubelet_running_containers{container_state=\"unknown\"}"));
	ck_assert_double_eq(value_of(t, "kubelet_runtime_operations_total{operation_type=\"run_podsandbox\"}"), 2);
	ck_assert_double_eq(value_of(t, "kubelet_runtime_operations_errors_total{operation_type=\"run_podsandbox\"}"), 1);
	ck_assert_ptr_null(line_of(t, "kubelet_runtime_operations_errors_total{operation_type=\"start_container\"}"));
	/* buckets are cumulative; 5000 s only in +Inf */
	ck_assert_double_eq(value_of(t, "kubelet_pod_start_duration_seconds_bucket{le=\"0.5\"}"), 1);
	ck_assert_double_eq(value_of(t, "kubelet_pod_start_duration_seconds_bucket{le=\"2\"}"), 2);
	ck_assert_double_eq(value_of(t, "kubelet_pod_start_duration_seconds_bucket{le=\"3600\"}"), 2);
	ck_assert_double_eq(value_of(t, "kubelet_pod_start_duration_seconds_bucket{le=\"+Inf\"}"), 3);
	ck_assert_double_eq(value_of(t, "kubelet_pod_start_duration_seconds_count"), 3);
	ck_assert_double_eq_tol(value_of(t, "kubelet_pod_start_duration_seconds_sum"), 5001.8, 1e-9);
	ck_assert_double_eq(value_of(t, "kubelet_pod_worker_duration_seconds_count{operation_type=\"create\"}"), 1);
	ck_assert_double_eq(value_of(t, "kubelet_pod_worker_duration_seconds_bucket{operation_type=\"create\",le=\"0.025\"}"), 1);
	ck_assert_double_eq(value_of(t, "kubelet_pod_worker_duration_seconds_count{operation_type=\"sync\"}"), 0);
	ck_assert_double_eq(value_of(t, "kubelet_runtime_operations_duration_seconds_bucket{operation_type=\"run_podsandbox\",le=\"0.005\"}"), 1);
	ck_assert_double_eq(value_of(t, "process_resident_memory_bytes"), 123456);
	ck_assert_double_eq(value_of(t, "process_start_time_seconds"), 1700000000.5);
	ck_assert_ptr_nonnull(strstr(t, "# TYPE kubelet_pod_start_duration_seconds histogram\n"));
	ck_assert_ptr_nonnull(strstr(t, "# TYPE kubelet_runtime_operations_total counter\n"));
	ck_assert_ptr_nonnull(strstr(t, "# HELP kubelet_running_pods [ALPHA] Number of pods that have a running pod sandbox\n"));
	/* every non-comment line is "series value" */
	for (char *l = t; *l;) {
		char *e = strchr(l, '\n');
		ck_assert_ptr_nonnull(e);
		if (*l != '#') {
			char *sp = memrchr(l, ' ', (size_t)(e - l));
			ck_assert_ptr_nonnull(sp);
			char *end;
			strtod(sp + 1, &end);
			ck_assert_ptr_eq(end, e);
		}
		l = e + 1;
	}
	free(t);
	t = kmet_render(&r, &s, NULL);
	ck_assert_ptr_null(strstr(t, "process_"));
	free(t);
	kmet_registry_close(&r);
}
END_TEST

START_TEST(process_figures_of_this_process)
{
	kmet_process p;
	ck_assert_int_eq(kmet_process_read(&p), 0);
	ck_assert(p.resident_bytes > 100000);
	ck_assert(p.open_fds >= 3);
	ck_assert(p.threads >= 1);
	ck_assert(p.start_time_seconds > 1e9);
}
END_TEST

START_TEST(resource_page)
{
	kmet_usage pods[1] = { { .ns = "default", .pod = "web", .cpu_seconds = 1.5, .working_set_bytes = 4096, .ts_ms = 1700000000123 } };
	kmet_usage ctrs[1] = { { .ns = "default", .pod = "web", .container = "app", .cpu_seconds = 0.25,
				 .working_set_bytes = 2048, .ts_ms = 1700000000124 } };
	kmet_resource r = { .node_ok = 1, .node_cpu_seconds = 357.5, .node_working_set_bytes = 1e9, .node_ts_ms = 1700000000100,
			    .pods = pods, .npods = 1, .containers = ctrs, .ncontainers = 1 };
	char *t = kmet_render_resource(&r);
	ck_assert_ptr_nonnull(strstr(t, "node_cpu_usage_seconds_total 357.5 1700000000100\n"));
	ck_assert_ptr_nonnull(strstr(t, "node_memory_working_set_bytes 1000000000 1700000000100\n"));
	ck_assert_ptr_nonnull(strstr(t, "container_cpu_usage_seconds_total{container=\"app\",namespace=\"default\",pod=\"web\"} 0.25 1700000000124\n"));
	ck_assert_ptr_nonnull(strstr(t, "container_memory_working_set_bytes{container=\"app\",namespace=\"default\",pod=\"web\"} 2048 1700000000124\n"));
	ck_assert_ptr_nonnull(strstr(t, "pod_cpu_usage_seconds_total{namespace=\"default\",pod=\"web\"} 1.5 1700000000123\n"));
	ck_assert_ptr_nonnull(strstr(t, "pod_memory_working_set_bytes{namespace=\"default\",pod=\"web\"} 4096 1700000000123\n"));
	ck_assert_ptr_nonnull(strstr(t, "# TYPE node_cpu_usage_seconds_total counter\n"));
	ck_assert_ptr_nonnull(strstr(t, "scrape_error 0\n"));
	free(t);
	r.node_ok = 0;
	r.scrape_error = 1;
	r.npods = r.ncontainers = 0;
	t = kmet_render_resource(&r);
	ck_assert_ptr_null(strstr(t, "\nnode_cpu_usage_seconds_total "));
	ck_assert_ptr_null(strstr(t, "\npod_cpu_usage_seconds_total{"));
	ck_assert_ptr_nonnull(strstr(t, "scrape_error 1\n"));
	free(t);
}
END_TEST

static void put(const char *dir, const char *name, const char *text)
{
	char p[1024];
	snprintf(p, sizeof(p), "%s/%s", dir, name);
	FILE *f = fopen(p, "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
}

static void mkdirs(const char *path)
{
	char cmd[1200];
	snprintf(cmd, sizeof(cmd), "mkdir -p '%s'", path);
	ck_assert_int_eq(system(cmd), 0);
}

START_TEST(node_and_cgroup_figures_from_files)
{
	char tmpl[] = "/tmp/kmet-test.XXXXXX";
	char *d = mkdtemp(tmpl);
	ck_assert_ptr_nonnull(d);
	char p[1024];
	/* /proc: busy = user+nice+system+irq+softirq+steal ticks */
	snprintf(p, sizeof(p), "%s/proc", d);
	mkdirs(p);
	put(p, "stat", "cpu  1000 100 400 9000 50 10 20 30 0 0\ncpu0 1 2 3 4\n");
	put(p, "meminfo", "MemTotal:       4000000 kB\nMemFree:        1000000 kB\nInactive(file):   500000 kB\n");
	double cpu = 0, ws = 0;
	ck_assert_int_eq(kmet_node_usage(p, &cpu, &ws), 0);
	long hz = sysconf(_SC_CLK_TCK);
	ck_assert_double_eq_tol(cpu, 1560.0 / (double)hz, 1e-9);
	ck_assert_double_eq(ws, 2500000.0 * 1024);
	snprintf(p, sizeof(p), "%s/noproc", d);
	ck_assert_int_lt(kmet_node_usage(p, &cpu, &ws), 0);
	/* cgroup v1 */
	snprintf(p, sizeof(p), "%s/v1/cpuacct/kubepods/podx", d);
	mkdirs(p);
	put(p, "cpuacct.usage", "2500000000\n");
	snprintf(p, sizeof(p), "%s/v1/memory/kubepods/podx", d);
	mkdirs(p);
	put(p, "memory.usage_in_bytes", "10000000\n");
	put(p, "memory.stat", "cache 1\ntotal_cache 5\ntotal_inactive_file 3000000\n");
	snprintf(p, sizeof(p), "%s/v1", d);
	ck_assert_int_eq(kmet_cgroup_usage(p, "/kubepods/podx", &cpu, &ws), 0);
	ck_assert_double_eq(cpu, 2.5);
	ck_assert_double_eq(ws, 7000000);
	ck_assert_int_eq(kmet_cgroup_usage(p, "/kubepods/missing", &cpu, &ws), -ENOENT);
	/* cgroup v2 */
	snprintf(p, sizeof(p), "%s/v2/kubepods/pody", d);
	mkdirs(p);
	put(p, "cpu.stat", "usage_usec 1500000\nuser_usec 1000000\n");
	put(p, "memory.current", "8000000\n");
	put(p, "memory.stat", "anon 1\ninactive_file 1000000\n");
	snprintf(p, sizeof(p), "%s/v2", d);
	ck_assert_int_eq(kmet_cgroup_usage(p, "/kubepods/pody", &cpu, &ws), 0);
	ck_assert_double_eq(cpu, 1.5);
	ck_assert_double_eq(ws, 7000000);
	char cmd[1200];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", d);
	ck_assert_int_eq(system(cmd), 0);
}
END_TEST

static Suite *kubelet_metrics_suite(void)
{
	Suite *s = suite_create("kubelet_metrics");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, operation_types_as_upstream);
	tcase_add_test(tc, metrics_page_counts_and_histograms);
	tcase_add_test(tc, process_figures_of_this_process);
	tcase_add_test(tc, resource_page);
	tcase_add_test(tc, node_and_cgroup_figures_from_files);
	suite_add_tcase(s, tc);
	return s;
}

KC_TEST_MAIN(kubelet_metrics_suite)
