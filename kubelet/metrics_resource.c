/* Usage figures for /metrics/resource read from /proc and the cgroup files, as cAdvisor
 * does for the kubelet's resource metrics collector; see metrics.h. */
#include "metrics.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int read_text(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "re");
	if (!f)
		return -errno;
	size_t n = fread(buf, 1, len - 1, f);
	fclose(f);
	buf[n] = 0;
	return 0;
}

/* the value of "key value" in a stat-like file, or -1 */
static long long stat_value(const char *text, const char *key)
{
	size_t kl = strlen(key);
	for (const char *p = text; p && *p;) {
		if (!strncmp(p, key, kl) && (p[kl] == ' ' || p[kl] == ':'))
			return strtoll(p + kl + 1 + strspn(p + kl + 1, " \t"), NULL, 10);
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	return -1;
}

int kmet_node_usage(const char *proc_root, double *cpu_seconds, double *working_set)
{
	char path[1024], buf[16384];
	snprintf(path, sizeof(path), "%s/stat", proc_root);
	int rc = read_text(path, buf, sizeof(buf));
	if (rc < 0)
		return rc;
	if (strncmp(buf, "cpu ", 4))
		return -EPROTO;
	/* user nice system idle iowait irq softirq steal: busy = all but idle and iowait */
	unsigned long long v[8] = { 0 };
	if (sscanf(buf + 4, "%llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6],
		   &v[7]) < 4)
		return -EPROTO;
	long hz = sysconf(_SC_CLK_TCK);
	if (hz <= 0)
		hz = 100;
	*cpu_seconds = (double)(v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) / (double)hz;
	snprintf(path, sizeof(path), "%s/meminfo", proc_root);
	rc = read_text(path, buf, sizeof(buf));
	if (rc < 0)
		return rc;
	long long total = stat_value(buf, "MemTotal"), fr = stat_value(buf, "MemFree"),
		  inactive = stat_value(buf, "Inactive(file)");
	if (total < 0 || fr < 0)
		return -EPROTO;
	long long ws = total - fr - (inactive > 0 ? inactive : 0);
	*working_set = (double)(ws > 0 ? ws : 0) * 1024.0;
	return 0;
}

int kmet_cgroup_usage(const char *cg_root, const char *cg, double *cpu_seconds, double *working_set)
{
	char path[2048], buf[8192];
	/* cgroup v1 (cpuacct + memory hierarchies) */
	snprintf(path, sizeof(path), "%s/cpuacct/%s/cpuacct.usage", cg_root, cg);
	if (read_text(path, buf, sizeof(buf)) == 0) {
		*cpu_seconds = (double)strtoull(buf, NULL, 10) / 1e9;
		snprintf(path, sizeof(path), "%s/memory/%s/memory.usage_in_bytes", cg_root, cg);
		int rc = read_text(path, buf, sizeof(buf));
		if (rc < 0)
			return rc;
		long long usage = strtoll(buf, NULL, 10);
		snprintf(path, sizeof(path), "%s/memory/%s/memory.stat", cg_root, cg);
		long long inactive = read_text(path, buf, sizeof(buf)) == 0 ? stat_value(buf, "total_inactive_file") : 0;
		long long ws = usage - (inactive > 0 ? inactive : 0);
		*working_set = (double)(ws > 0 ? ws : 0);
		return 0;
	}
	/* cgroup v2: the unified mount (hybrid hosts) or the root itself */
	const char *v2roots[2] = { "/unified", "" };
	for (int i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "%s%s/%s/cpu.stat", cg_root, v2roots[i], cg);
		if (read_text(path, buf, sizeof(buf)) < 0)
			continue;
		long long usec = stat_value(buf, "usage_usec");
		snprintf(path, sizeof(path), "%s%s/%s/memory.current", cg_root, v2roots[i], cg);
		if (usec < 0 || read_text(path, buf, sizeof(buf)) < 0)
			continue;
		long long usage = strtoll(buf, NULL, 10);
		snprintf(path, sizeof(path), "%s%s/%s/memory.stat", cg_root, v2roots[i], cg);
		long long inactive = read_text(path, buf, sizeof(buf)) == 0 ? stat_value(buf, "inactive_file") : 0;
		*cpu_seconds = (double)usec / 1e6;
		long long ws = usage - (inactive > 0 ? inactive : 0);
		*working_set = (double)(ws > 0 ? ws : 0);
		return 0;
	}
	return -ENOENT;
}
