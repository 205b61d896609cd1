/* printPod; see pod_print.h. */
#include "pod_print.h"

#include <stdio.h>
#include <string.h>

#include "resource.h"

/* A restartable init container (a sidecar): restartPolicy Always. */
static int restartable(const cJSON *spec, const char *name)
{
	const cJSON *c;
	cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(spec, "initContainers"))
	{
		if (!strcmp(res_str(c, "name", ""), name))
			return !strcmp(res_str(c, "restartPolicy", ""), "Always");
	}
	return 0;
}

static int condition_true(const cJSON *pod, const char *type)
{
	const cJSON *c;
	cJSON_ArrayForEach(c, res_path(pod, "status.conditions"))
	{
		if (!strcmp(res_str(c, "type", ""), type))
			return !strcmp(res_str(c, "status", ""), "True");
	}
	return 0;
}

/* lastState.terminated.finishedAt of a status, -1 when unset (Go's zero time). */
static int64_t last_finished(const cJSON *cs)
{
	const char *f = res_str(cs, "lastState.terminated.finishedAt", NULL);
	return f ? res_parse_time(f) : -1;
}

static int bool_true(const cJSON *obj, const char *key)
{
	return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(obj, key));
}

/* "Signal:N" / "ExitCode:N" of a terminated state without a reason, after prefix. */
static void exit_reason(const cJSON *term, const char *prefix, char *buf, size_t n)
{
	int sig = (int)res_num(term, "signal", 0);
	if (sig)
		snprintf(buf, n, "%sSignal:%d", prefix, sig);
	else
		snprintf(buf, n, "%sExitCode:%d", prefix, (int)res_num(term, "exitCode", 0));
}

void pod_print_row(const cJSON *pod, cJSON *cells, int64_t now)
{
	const cJSON *spec = res_path(pod, "spec");
	int restarts = 0, sidecar_restarts = 0, ready = 0;
	int total = cJSON_GetArraySize(res_path(pod, "spec.containers"));
	int64_t last_restart = -1, sidecar_last_restart = -1;
	const char *phase = res_str(pod, "status.phase", "");
	char reason[320];
	snprintf(reason, sizeof(reason), "%s", res_str(pod, "status.reason", "")[0]
						      ? res_str(pod, "status.reason", "")
						      : phase);
	const cJSON *c;
	cJSON_ArrayForEach(c, res_path(pod, "status.conditions"))
	{
		if (!strcmp(res_str(c, "type", ""), "PodScheduled") &&
		    !strcmp(res_str(c, "reason", ""), "SchedulingGated"))
			snprintf(reason, sizeof(reason), "SchedulingGated");
	}
	int ninit = cJSON_GetArraySize(res_path(pod, "spec.initContainers"));
	cJSON_ArrayForEach(c, res_path(pod, "spec.initContainers"))
	{
		if (!strcmp(res_str(c, "restartPolicy", ""), "Always"))
			total++;
	}

	int initializing = 0, i = 0;
	cJSON_ArrayForEach(c, res_path(pod, "status.initContainerStatuses"))
	{
		int idx = i++;
		int rc = (int)res_num(c, "restartCount", 0);
		int64_t fin = last_finished(c);
		int side = restartable(spec, res_str(c, "name", ""));
		restarts += rc;
		if (fin > last_restart)
			last_restart = fin;
		if (side) {
			sidecar_restarts += rc;
			if (fin > sidecar_last_restart)
				sidecar_last_restart = fin;
		}
		const cJSON *term = res_path(c, "state.terminated");
		const char *wreason = res_str(c, "state.waiting.reason", "");
		if (term && (int)res_num(term, "exitCode", 0) == 0)
			continue;
		if (side && bool_true(c, "started")) {
			if (bool_true(c, "ready"))
				ready++;
			continue;
		}
		if (term) {
			/* initialization failed */
			const char *tr = res_str(term, "reason", "");
			if (tr[0])
				snprintf(reason, sizeof(reason), "Init:%s", tr);
			else
				exit_reason(term, "Init:", reason, sizeof(reason));
		} else if (wreason[0] && strcmp(wreason, "PodInitializing")) {
			snprintf(reason, sizeof(reason), "Init:%s", wreason);
		} else {
			snprintf(reason, sizeof(reason), "Init:%d/%d", idx, ninit);
		}
		initializing = 1;
		break;
	}

	if (!initializing || condition_true(pod, "Initialized")) {
		restarts = sidecar_restarts;
		last_restart = sidecar_last_restart;
		int has_running = 0;
		const cJSON *list = res_path(pod, "status.containerStatuses");
		/* Walked from the last to the first, so the first container's state wins. */
		for (int k = cJSON_GetArraySize(list) - 1; k >= 0; k--) {
			const cJSON *cs = cJSON_GetArrayItem(list, k);
			restarts += (int)res_num(cs, "restartCount", 0);
			int64_t fin = last_finished(cs);
			if (fin > last_restart)
				last_restart = fin;
			const char *w = res_str(cs, "state.waiting.reason", "");
			const cJSON *term = res_path(cs, "state.terminated");
			const char *tr = res_str(term, "reason", "");
			if (w[0])
				snprintf(reason, sizeof(reason), "%s", w);
			else if (term && tr[0])
				snprintf(reason, sizeof(reason), "%s", tr);
			else if (term)
				exit_reason(term, "", reason, sizeof(reason));
			else if (bool_true(cs, "ready") && res_path(cs, "state.running")) {
				has_running = 1;
				ready++;
			}
		}
		/* A Completed container next to a running one: the pod is still Running. */
		if (!strcmp(reason, "Completed") && has_running)
			snprintf(reason, sizeof(reason), "%s",
				 condition_true(pod, "Ready") ? "Running" : "NotReady");
	}

	const cJSON *del = res_path(pod, "metadata.deletionTimestamp");
	int deleting = del && !cJSON_IsNull(del);
	if (deleting && !strcmp(res_str(pod, "status.reason", ""), "NodeLost"))
		snprintf(reason, sizeof(reason), "Unknown");
	else if (deleting && strcmp(phase, "Succeeded") && strcmp(phase, "Failed"))
		snprintf(reason, sizeof(reason), "Terminating");

	char buf[96], ago[48];
	RES_CELL_NAME(cells, pod);
	snprintf(buf, sizeof(buf), "%d/%d", ready, total);
	RES_CELL_S(cells, buf);
	RES_CELL_S(cells, reason);
	if (restarts && last_restart >= 0) {
		res_human_duration(now - last_restart, ago, sizeof(ago));
		snprintf(buf, sizeof(buf), "%d (%s ago)", restarts, ago);
	} else {
		snprintf(buf, sizeof(buf), "%d", restarts);
	}
	RES_CELL_S(cells, buf);
	res_cell_age(pod, cells, now);
	const char *ip = res_str(cJSON_GetArrayItem(res_path(pod, "status.podIPs"), 0), "ip", "");
	if (!ip[0])
		ip = res_str(pod, "status.podIP", "");
	RES_CELL_S(cells, res_none(ip));
	RES_CELL_S(cells, res_none(res_str(pod, "spec.nodeName", NULL)));
	RES_CELL_S(cells, res_none(res_str(pod, "status.nominatedNodeName", NULL)));
	const cJSON *gates = res_path(pod, "spec.readinessGates");
	if (cJSON_GetArraySize(gates) > 0) {
		int t = 0;
		const cJSON *g;
		cJSON_ArrayForEach(g, gates)
		{
			if (condition_true(pod, res_str(g, "conditionType", "")))
				t++;
		}
		snprintf(buf, sizeof(buf), "%d/%d", t, cJSON_GetArraySize(gates));
		RES_CELL_S(cells, buf);
	} else {
		RES_CELL_S(cells, "<none>");
	}
}
