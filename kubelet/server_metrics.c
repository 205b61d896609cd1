/* The kubelet server's metrics pages; see server.h and metrics.h. */
#include "server.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "metrics.h"

char *ksrv_metrics_text(pw_manager *pods, const char *node_name)
{
	kmet_state st;
	memset(&st, 0, sizeof(st));
	st.node_name = node_name;
	pw_pod_view *v = NULL;
	int n = 0;
	if (pods && pw_pod_views(pods, &v, &n) < 0)
		return NULL;
	for (int i = 0; i < n; i++) {
		st.running_pods += v[i].sandbox_ready;
		for (int k = 0; k < v[i].nc; k++)
			if (v[i].c[k].state >= PW_CTR_CREATED && v[i].c[k].state <= PW_CTR_UNKNOWN)
				st.containers[v[i].c[k].state]++;
	}
	pw_pod_views_free(v, n);
	kmet_process proc;
	int have_proc = kmet_process_read(&proc) == 0;
	return kmet_render(kmet_default(), &st, have_proc ? &proc : NULL);
}

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* As the resource metrics collector: a pod's figures are its cgroup's, a container's its
 * own cgroup below the pod's (<pod cgroup>/<container id> under the cgroupfs driver).
 * Running containers only; a pod or container whose cgroup cannot be read (the fake
 * runtime has none) is left out, and scrape_error says some figure was missing. */
char *ksrv_metrics_resource_text(pw_manager *pods, const char *proc_root, const char *cg_root)
{
	kmet_resource r;
	memset(&r, 0, sizeof(r));
	r.node_ts_ms = now_ms();
	r.node_ok = kmet_node_usage(proc_root, &r.node_cpu_seconds, &r.node_working_set_bytes) == 0;
	if (!r.node_ok)
		r.scrape_error = 1;
	pw_pod_view *v = NULL;
	int n = 0;
	if (pods && pw_pod_views(pods, &v, &n) < 0)
		return NULL;
	int nc = 0;
	for (int i = 0; i < n; i++)
		nc += v[i].nc;
	kmet_usage *pu = calloc((size_t)n + 1, sizeof(*pu)), *cu = calloc((size_t)nc + 1, sizeof(*cu));
	char *out = NULL;
	if (!pu || !cu)
		goto done;
	for (int i = 0; i < n; i++) {
		int running = 0;
		for (int k = 0; k < v[i].nc; k++) {
			const pw_ctr_view *c = &v[i].c[k];
			if (c->state != PW_CTR_RUNNING || !c->id[0])
				continue;
			running++;
			char cg[1200];
			snprintf(cg, sizeof(cg), "%s/%s", v[i].cgroup, c->id);
			kmet_usage *u = &cu[r.ncontainers];
			if (kmet_cgroup_usage(cg_root, cg, &u->cpu_seconds, &u->working_set_bytes) < 0) {
				r.scrape_error = 1;
				continue;
			}
			u->ns = v[i].ns;
			u->pod = v[i].name;
			u->container = c->name;
			u->ts_ms = now_ms();
			r.ncontainers++;
		}
		if (!running)
			continue;
		kmet_usage *u = &pu[r.npods];
		if (kmet_cgroup_usage(cg_root, v[i].cgroup, &u->cpu_seconds, &u->working_set_bytes) < 0) {
			r.scrape_error = 1;
			continue;
		}
		u->ns = v[i].ns;
		u->pod = v[i].name;
		u->ts_ms = now_ms();
		r.npods++;
	}
	r.pods = pu;
	r.containers = cu;
	out = kmet_render_resource(&r);
done:
	free(pu);
	free(cu);
	pw_pod_views_free(v, n);
	return out;
}
