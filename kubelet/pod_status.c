/* Pod status computation; see pod_status.h. */
#include "pod_status.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "json.h"
#include "pod_spec.h"

void pstat_time(char *buf, size_t len, int64_t ns)
{
	time_t t = (time_t)(ns / 1000000000LL);
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* getPhase over the app containers; running / waiting start with the sidecars' counts */
static const char *phase_of(const char *restart_policy, const pstat_container *cs, int n, int running, int waiting)
{
	int stopped = 0, succeeded = 0;
	for (int i = 0; i < n; i++) {
		switch (cs[i].state) {
		case PSTAT_RUNNING:
			running++;
			break;
		case PSTAT_TERMINATED:
			stopped++;
			if (cs[i].term.exit_code == 0)
				succeeded++;
			break;
		default:
			/* waiting after a previous run counts as stopped (getPhase) */
			if (cs[i].has_last) {
				stopped++;
				if (cs[i].last.exit_code == 0)
					succeeded++;
			} else {
				waiting++;
			}
		}
	}
	if (n == 0 || waiting > 0)
		return "Pending";
	if (running > 0)
		return "Running";
	if (!restart_policy || !restart_policy[0] || !strcmp(restart_policy, "Always"))
		return "Running";
	if (stopped == succeeded)
		return "Succeeded";
	if (!strcmp(restart_policy, "Never"))
		return "Failed";
	return "Running"; /* OnFailure: a failed container will be restarted */
}

const char *pstat_phase(const char *restart_policy, const pstat_container *cs, int n)
{
	return phase_of(restart_policy, cs, n, 0, 0);
}

const char *pstat_phase_init(const char *restart_policy, const pstat_container *ics, int ni, const pstat_container *cs,
			     int n)
{
	int pending = 0, failed = 0, sc_running = 0, sc_waiting = 0;
	for (int i = 0; i < ni; i++) {
		const pstat_container *c = &ics[i];
		if (c->sidecar) {
			/* restartable init containers (getPhase): pending until started */
			if (c->state == PSTAT_RUNNING) {
				pending += !c->started;
				sc_running++;
			} else if (c->state == PSTAT_WAITING && !c->has_last) {
				pending++;
				sc_waiting++;
			}
			continue;
		}
		if (c->state == PSTAT_RUNNING)
			pending++;
		else if (c->state == PSTAT_TERMINATED)
			failed += c->term.exit_code != 0;
		else if (c->has_last)
			failed += c->last.exit_code != 0;
		else
			pending++;
	}
	if (failed > 0 && restart_policy && !strcmp(restart_policy, "Never"))
		return "Failed";
	if (pending > 0)
		return "Pending";
	return phase_of(restart_policy, cs, n, sc_running, sc_waiting);
}

/* isInitContainerInitialized */
static int init_done(const pstat_container *c)
{
	if (c->sidecar)
		return c->state == PSTAT_RUNNING && c->started;
	return c->state == PSTAT_TERMINATED && c->term.exit_code == 0;
}

int pstat_initialized(const pstat_container *ics, int ni)
{
	for (int i = 0; i < ni; i++)
		if (!init_done(&ics[i]))
			return 0;
	return 1;
}

static const cJSON *old_cond(const cJSON *pod, const char *type)
{
	const cJSON *c;
	cJSON_ArrayForEach(c, kc_json_get(pod, "status.conditions"))
	if (!strcmp(kc_json_get_string(c, "type", ""), type))
		return c;
	return NULL;
}

static void add_cond(cJSON *arr, const cJSON *pod, const char *type, int ok, const char *reason,
		     const char *message, int64_t now_ns)
{
	cJSON *c = cJSON_CreateObject();
	const char *st = ok ? "True" : "False";
	cJSON_AddStringToObject(c, "type", type);
	cJSON_AddStringToObject(c, "status", st);
	cJSON_AddNullToObject(c, "lastProbeTime");
	const cJSON *o = old_cond(pod, type);
	const char *ot = o ? kc_json_get_string(o, "lastTransitionTime", NULL) : NULL;
	char ts[32];
	if (o && ot && !strcmp(kc_json_get_string(o, "status", ""), st)) {
		cJSON_AddStringToObject(c, "lastTransitionTime", ot);
	} else {
		pstat_time(ts, sizeof(ts), now_ns);
		cJSON_AddStringToObject(c, "lastTransitionTime", ts);
	}
	if (reason)
		cJSON_AddStringToObject(c, "reason", reason);
	if (message)
		cJSON_AddStringToObject(c, "message", message);
	cJSON_AddItemToArray(arr, c);
}

static cJSON *term_json(const pstat_term *t)
{
	cJSON *o = cJSON_CreateObject();
	char ts[32];
	cJSON_AddNumberToObject(o, "exitCode", t->exit_code);
	if (t->reason[0])
		cJSON_AddStringToObject(o, "reason", t->reason);
	if (t->message[0])
		cJSON_AddStringToObject(o, "message", t->message);
	pstat_time(ts, sizeof(ts), t->started_ns);
	if (t->started_ns > 0)
		cJSON_AddStringToObject(o, "startedAt", ts);
	else
		cJSON_AddNullToObject(o, "startedAt");
	pstat_time(ts, sizeof(ts), t->finished_ns);
	if (t->finished_ns > 0)
		cJSON_AddStringToObject(o, "finishedAt", ts);
	else
		cJSON_AddNullToObject(o, "finishedAt");
	if (t->container_id[0])
		cJSON_AddStringToObject(o, "containerID", t->container_id);
	return o;
}

static cJSON *container_json(const pstat_container *c)
{
	cJSON *o = cJSON_CreateObject();
	char ts[32];
	cJSON_AddStringToObject(o, "name", c->name);
	cJSON *state = cJSON_AddObjectToObject(o, "state");
	if (c->state == PSTAT_RUNNING) {
		cJSON *r = cJSON_AddObjectToObject(state, "running");
		pstat_time(ts, sizeof(ts), c->started_ns);
		cJSON_AddStringToObject(r, "startedAt", ts);
	} else if (c->state == PSTAT_TERMINATED) {
		cJSON_AddItemToObject(state, "terminated", term_json(&c->term));
	} else {
		cJSON *w = cJSON_AddObjectToObject(state, "waiting");
		cJSON_AddStringToObject(w, "reason", c->reason[0] ? c->reason : "ContainerCreating");
		if (c->message[0])
			cJSON_AddStringToObject(w, "message", c->message);
	}
	cJSON *last = cJSON_AddObjectToObject(o, "lastState");
	if (c->has_last)
		cJSON_AddItemToObject(last, "terminated", term_json(&c->last));
	cJSON_AddBoolToObject(o, "ready", c->ready);
	cJSON_AddNumberToObject(o, "restartCount", c->restart_count);
	cJSON_AddStringToObject(o, "image", c->image);
	cJSON_AddStringToObject(o, "imageID", c->image_id);
	if (c->container_id[0])
		cJSON_AddStringToObject(o, "containerID", c->container_id);
	cJSON_AddBoolToObject(o, "started", c->started);
	return o;
}

cJSON *pstat_build(const pstat_input *in)
{
	cJSON *s = cJSON_CreateObject();
	if (!s)
		return NULL;
	const char *policy = kc_json_get_string(in->pod, "spec.restartPolicy", "Always");
	const char *phase = pstat_phase_init(policy, in->init_containers, in->n_init, in->containers, in->n_containers);
	cJSON_AddStringToObject(s, "phase", phase);

	/* ContainersReady / Ready: "containers with unready status: [a b]" */
	char unready[512] = "";
	int all_ready = in->n_containers > 0;
	/* sidecars first, as generateContainersReadyCondition */
	for (int i = 0; i < in->n_init; i++) {
		if (in->init_containers[i].sidecar && !in->init_containers[i].ready) {
			all_ready = 0;
			size_t l = strlen(unready);
			snprintf(unready + l, sizeof(unready) - l, "%s%s", l ? " " : "", in->init_containers[i].name);
		}
	}
	for (int i = 0; i < in->n_containers; i++) {
		if (!in->containers[i].ready) {
			all_ready = 0;
			size_t l = strlen(unready);
			snprintf(unready + l, sizeof(unready) - l, "%s%s", l ? " " : "", in->containers[i].name);
		}
	}
	char msg[600];
	snprintf(msg, sizeof(msg), "containers with unready status: [%s]", unready);
	int succeeded = !strcmp(phase, "Succeeded");
	cJSON *conds = cJSON_AddArrayToObject(s, "conditions");
	add_cond(conds, in->pod, "PodReadyToStartContainers", in->sandbox_ready, NULL, NULL, in->now_ns);
	char incomplete[512] = "";
	for (int i = 0; i < in->n_init; i++) {
		const pstat_container *c = &in->init_containers[i];
		if (init_done(c))
			continue;
		size_t l = strlen(incomplete);
		snprintf(incomplete + l, sizeof(incomplete) - l, "%s%s", l ? " " : "", c->name);
	}
	char imsg[600];
	snprintf(imsg, sizeof(imsg), "containers with incomplete status: [%s]", incomplete);
	int inited = pstat_initialized(in->init_containers, in->n_init);
	/* HasAnyRegularContainerStarted: the pod was initialized before (a sidecar that
	 * restarts does not make it uninitialized) */
	for (int i = 0; !inited && i < in->n_containers; i++)
		inited = in->containers[i].state != PSTAT_WAITING || in->containers[i].has_last;
	add_cond(conds, in->pod, "Initialized", inited, inited ? NULL : "ContainersNotInitialized", inited ? NULL : imsg,
		 in->now_ns);
	add_cond(conds, in->pod, "Ready", all_ready, all_ready ? NULL : succeeded ? "PodCompleted" : "ContainersNotReady",
		 all_ready || succeeded ? NULL : msg, in->now_ns);
	add_cond(conds, in->pod, "ContainersReady", all_ready,
		 all_ready ? NULL : succeeded ? "PodCompleted" : "ContainersNotReady", all_ready || succeeded ? NULL : msg,
		 in->now_ns);
	add_cond(conds, in->pod, "PodScheduled", 1, NULL, NULL, in->now_ns);

	if (in->host_ip && in->host_ip[0]) {
		cJSON_AddStringToObject(s, "hostIP", in->host_ip);
		cJSON *a = cJSON_AddArrayToObject(s, "hostIPs");
		cJSON *ip = cJSON_CreateObject();
		cJSON_AddStringToObject(ip, "ip", in->host_ip);
		cJSON_AddItemToArray(a, ip);
	}
	if (in->pod_ip && in->pod_ip[0]) {
		cJSON_AddStringToObject(s, "podIP", in->pod_ip);
		cJSON *a = cJSON_AddArrayToObject(s, "podIPs");
		cJSON *ip = cJSON_CreateObject();
		cJSON_AddStringToObject(ip, "ip", in->pod_ip);
		cJSON_AddItemToArray(a, ip);
	}
	const char *old_start = kc_json_get_string(in->pod, "status.startTime", NULL);
	char ts[32];
	if (old_start) {
		cJSON_AddStringToObject(s, "startTime", old_start);
	} else {
		pstat_time(ts, sizeof(ts), in->start_time_ns);
		cJSON_AddStringToObject(s, "startTime", ts);
	}
	cJSON_AddStringToObject(s, "qosClass", pspec_qos_class(in->pod));
	if (in->n_init > 0) {
		cJSON *ics = cJSON_AddArrayToObject(s, "initContainerStatuses");
		for (int i = 0; i < in->n_init; i++)
			cJSON_AddItemToArray(ics, container_json(&in->init_containers[i]));
	}
	cJSON *cs = cJSON_AddArrayToObject(s, "containerStatuses");
	for (int i = 0; i < in->n_containers; i++)
		cJSON_AddItemToArray(cs, container_json(&in->containers[i]));
	return s;
}
