/* Sidecar init containers (restartPolicy Always on an init container) in the pod status
 * (kubelet/pod_status.c): phase (getPhase's restartable init containers), the
 * Initialized condition (started, not completed; kept once an app container started),
 * ContainersReady/Ready counting the sidecar's readiness, initContainerStatuses with
 * started/ready. */
#include <stdio.h>
#include <string.h>

#include "../../kubelet/pod_status.h"
#include "json.h"
#include "kc_test.h"

static cJSON *J(const char *s)
{
	cJSON *o = NULL;
	char err[256];
	ck_assert_msg(kc_json_parse_str(s, &o, err, sizeof(err)) == 0, "%s: %s", s, err);
	return o;
}

static pstat_container ctr(const char *name, enum pstat_state s, int started, int ready)
{
	pstat_container c;
	memset(&c, 0, sizeof(c));
	snprintf(c.name, sizeof(c.name), "%s", name);
	snprintf(c.image, sizeof(c.image), "busybox:1.35");
	c.state = s;
	c.started = started;
	c.ready = ready;
	return c;
}

static pstat_container sidecar(enum pstat_state s, int started, int ready)
{
	pstat_container c = ctr("proxy", s, started, ready);
	c.init = c.sidecar = 1;
	return c;
}

static const cJSON *cond(const cJSON *st, const char *type)
{
	const cJSON *c;
	cJSON_ArrayForEach(c, kc_json_get(st, "conditions"))
	if (!strcmp(kc_json_get_string(c, "type", ""), type))
		return c;
	return NULL;
}

START_TEST(phase_with_sidecars)
{
	pstat_container app = ctr("app", PSTAT_WAITING, 0, 0);
	snprintf(app.reason, sizeof(app.reason), "PodInitializing");
	/* the sidecar runs but its startup probe has not passed: still initializing */
	pstat_container sc = sidecar(PSTAT_RUNNING, 0, 0);
	ck_assert_str_eq(pstat_phase_init("Always", &sc, 1, &app, 1), "Pending");
	/* waiting for its first start */
	sc = sidecar(PSTAT_WAITING, 0, 0);
	ck_assert_str_eq(pstat_phase_init("Never", &sc, 1, &app, 1), "Pending");
	/* started, app running: Running */
	sc = sidecar(PSTAT_RUNNING, 1, 1);
	app = ctr("app", PSTAT_RUNNING, 1, 1);
	ck_assert_str_eq(pstat_phase_init("Never", &sc, 1, &app, 1), "Running");
	/* the app finished under Never while the sidecar still runs: Running (the kubelet
	 * stops the sidecar next), then Succeeded once the sidecar is terminated, whatever
	 * its exit code (a sidecar's end does not count) */
	app = ctr("app", PSTAT_TERMINATED, 0, 0);
	ck_assert_str_eq(pstat_phase_init("Never", &sc, 1, &app, 1), "Running");
	sc = sidecar(PSTAT_TERMINATED, 0, 0);
	sc.term.exit_code = 143;
	ck_assert_str_eq(pstat_phase_init("Never", &sc, 1, &app, 1), "Succeeded");
	app.term.exit_code = 2;
	ck_assert_str_eq(pstat_phase_init("Never", &sc, 1, &app, 1), "Failed");
	/* a sidecar in back-off after a crash does not make the pod Pending again */
	sc = sidecar(PSTAT_WAITING, 0, 0);
	snprintf(sc.reason, sizeof(sc.reason), "CrashLoopBackOff");
	sc.has_last = 1;
	sc.last.exit_code = 1;
	app = ctr("app", PSTAT_RUNNING, 1, 1);
	ck_assert_str_eq(pstat_phase_init("Always", &sc, 1, &app, 1), "Running");
	/* a regular init container after the sidecar still gates the pod */
	pstat_container ics[2] = { sidecar(PSTAT_RUNNING, 1, 1), ctr("init", PSTAT_RUNNING, 1, 0) };
	ics[1].init = 1;
	app = ctr("app", PSTAT_WAITING, 0, 0);
	ck_assert_str_eq(pstat_phase_init("Always", ics, 2, &app, 1), "Pending");
	ck_assert(!pstat_initialized(ics, 2));
	ics[1].state = PSTAT_TERMINATED;
	ck_assert(pstat_initialized(ics, 2));
	ics[0].started = 0; /* a sidecar not (yet) started: not initialized */
	ck_assert(!pstat_initialized(ics, 2));
}
END_TEST

START_TEST(status_with_a_sidecar)
{
	cJSON *pod = J("{\"metadata\":{\"name\":\"p\"},\"spec\":{\"restartPolicy\":\"Always\",\"initContainers\":"
		       "[{\"name\":\"proxy\",\"restartPolicy\":\"Always\"}],\"containers\":[{\"name\":\"app\"}]}}");
	/* the sidecar runs, started, but its readiness probe fails: the app is ready, the
	 * pod is not (ContainersNotReady names the sidecar) */
	pstat_container sc = sidecar(PSTAT_RUNNING, 1, 0);
	pstat_container app = ctr("app", PSTAT_RUNNING, 1, 1);
	pstat_input in = { .pod = pod, .sandbox_ready = 1, .containers = &app, .n_containers = 1,
			   .init_containers = &sc, .n_init = 1, .now_ns = 1 };
	cJSON *s = pstat_build(&in);
	ck_assert_str_eq(kc_json_get_string(s, "phase", ""), "Running");
	ck_assert_str_eq(kc_json_get_string(cond(s, "Initialized"), "status", ""), "True");
	ck_assert_str_eq(kc_json_get_string(cond(s, "ContainersReady"), "status", ""), "False");
	ck_assert_str_eq(kc_json_get_string(cond(s, "Ready"), "message", ""), "containers with unready status: [proxy]");
	ck_assert(kc_json_get(s, "initContainerStatuses.0.state.running") != NULL);
	ck_assert(kc_json_get_bool(s, "initContainerStatuses.0.started", false));
	ck_assert(!kc_json_get_bool(s, "initContainerStatuses.0.ready", true));
	cJSON_Delete(s);
	/* ready: the pod is Ready */
	sc.ready = 1;
	s = pstat_build(&in);
	ck_assert_str_eq(kc_json_get_string(cond(s, "Ready"), "status", ""), "True");
	ck_assert(kc_json_get_bool(s, "initContainerStatuses.0.ready", false));
	cJSON_Delete(s);
	/* the sidecar crashed and waits in back-off: Initialized stays True (an app
	 * container has started), Ready goes False */
	sc = sidecar(PSTAT_WAITING, 0, 0);
	snprintf(sc.reason, sizeof(sc.reason), "CrashLoopBackOff");
	sc.has_last = 1;
	sc.last.exit_code = 1;
	sc.restart_count = 1;
	s = pstat_build(&in);
	ck_assert_str_eq(kc_json_get_string(cond(s, "Initialized"), "status", ""), "True");
	ck_assert_str_eq(kc_json_get_string(cond(s, "Ready"), "status", ""), "False");
	ck_assert_str_eq(kc_json_get_string(s, "initContainerStatuses.0.state.waiting.reason", ""), "CrashLoopBackOff");
	ck_assert_int_eq(kc_json_get_int64(s, "initContainerStatuses.0.restartCount", -1), 1);
	cJSON_Delete(s);
	/* before any app container ran, a sidecar not started keeps Initialized False */
	sc = sidecar(PSTAT_RUNNING, 0, 0);
	app = ctr("app", PSTAT_WAITING, 0, 0);
	snprintf(app.reason, sizeof(app.reason), "PodInitializing");
	s = pstat_build(&in);
	ck_assert_str_eq(kc_json_get_string(s, "phase", ""), "Pending");
	ck_assert_str_eq(kc_json_get_string(cond(s, "Initialized"), "status", ""), "False");
	ck_assert_str_eq(kc_json_get_string(cond(s, "Initialized"), "message", ""),
			 "containers with incomplete status: [proxy]");
	cJSON_Delete(s);
	cJSON_Delete(pod);
}
END_TEST

static Suite *kubelet_sidecar_suite(void)
{
	Suite *s = suite_create("kubelet_sidecar");
	TCase *t = tcase_create("sidecar");
	tcase_add_test(t, phase_with_sidecars);
	tcase_add_test(t, status_with_a_sidecar);
	suite_add_tcase(s, t);
	return s;
}

KC_TEST_MAIN(kubelet_sidecar_suite)
