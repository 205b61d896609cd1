/* The kubelet's pod logic: env expansion, QoS, resources, cgroup parents, CrashLoopBackOff
 * delays, restart policy, status computation (phase, conditions, container states) and
 * probes (defaults, thresholds, tcp/http against local sockets). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "errors.h"
#include "json.h"
#include "kc_test.h"
#include "../../kubelet/pod_spec.h"
#include "../../kubelet/pod_status.h"
#include "../../kubelet/lifecycle.h"
#include "../../kubelet/prober.h"

static cJSON *J(const char *s)
{
	cJSON *o = NULL;
	char err[256];
	ck_assert_msg(kc_json_parse_str(s, &o, err, sizeof(err)) == 0, "%s: %s", s, err);
	return o;
}

START_TEST(expand_as_upstream)
{
	pspec_env e = { 0 };
	pspec_env_set(&e, "A", "x");
	pspec_env_set(&e, "B", "y y");
	const char *cases[][2] = {
		{ "$(A)", "x" },          { "pre-$(A)-$(B)", "pre-x-y y" }, { "$$(A)", "$(A)" },
		{ "$(C)", "$(C)" },       { "$A", "$A" },                   { "$", "$" },
		{ "$(A", "$(A" },         { "$$$$", "$$" },                 { "a$()b", "a$()b" },
		{ "$(A)$(A)", "xx" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *r = pspec_expand(cases[i][0], &e);
		ck_assert_msg(r && !strcmp(r, cases[i][1]), "%s -> %s, want %s", cases[i][0], r, cases[i][1]);
		free(r);
	}
	/* a later duplicate replaces the value */
	pspec_env_set(&e, "A", "z");
	ck_assert_str_eq(pspec_env_get(&e, "A"), "z");
	ck_assert_uint_eq(e.n, 2);
	pspec_env_close(&e);
}
END_TEST

START_TEST(env_in_order_with_field_refs)
{
	cJSON *pod = J("{\"metadata\":{\"name\":\"web\",\"namespace\":\"ns1\",\"uid\":\"u-1\"},\"spec\":{\"nodeName\":\"n1\"}}");
	cJSON *c = J("{\"name\":\"c\",\"env\":["
		     "{\"name\":\"LATER\",\"value\":\"$(FIRST)\"},"
		     "{\"name\":\"FIRST\",\"value\":\"one\"},"
		     "{\"name\":\"BOTH\",\"value\":\"$(FIRST)-$(POD)\"},"
		     "{\"name\":\"POD\",\"valueFrom\":{\"fieldRef\":{\"fieldPath\":\"metadata.name\"}}},"
		     "{\"name\":\"IP\",\"valueFrom\":{\"fieldRef\":{\"fieldPath\":\"status.podIP\"}}},"
		     "{\"name\":\"NODE\",\"valueFrom\":{\"fieldRef\":{\"fieldPath\":\"spec.nodeName\"}}}]}");
	pspec_podinfo pi = { .pod_ip = "10.0.0.5", .host_ip = "1.2.3.4", .node_name = "n1" };
	pspec_env e = { 0 };
	char err[256] = "";
	ck_assert_int_eq(pspec_build_env(pod, c, &pi, &e, err, sizeof(err)), 0);
	/* only variables defined earlier are expanded (makeEnvironmentVariables) */
	ck_assert_str_eq(pspec_env_get(&e, "LATER"), "$(FIRST)");
	ck_assert_str_eq(pspec_env_get(&e, "BOTH"), "one-$(POD)");
	ck_assert_str_eq(pspec_env_get(&e, "POD"), "web");
	ck_assert_str_eq(pspec_env_get(&e, "IP"), "10.0.0.5");
	ck_assert_str_eq(pspec_env_get(&e, "NODE"), "n1");
	pspec_env_close(&e);
	/* an unsupported fieldPath is an error naming the variable, never skipped */
	cJSON *bad = J("{\"name\":\"c\",\"env\":[{\"name\":\"S\",\"valueFrom\":{\"fieldRef\":{\"fieldPath\":\"status.phase\"}}}]}");
	ck_assert_int_lt(pspec_build_env(pod, bad, &pi, &e, err, sizeof(err)), 0);
	ck_assert_ptr_nonnull(strstr(err, "env S"));
	pspec_env_close(&e);
	cJSON_Delete(bad);
	cJSON_Delete(c);
	cJSON_Delete(pod);
}
END_TEST

START_TEST(qos_classes)
{
	cJSON *be = J("{\"spec\":{\"containers\":[{\"name\":\"a\"},{\"name\":\"b\",\"resources\":{}}]}}");
	cJSON *g = J("{\"spec\":{\"containers\":[{\"name\":\"a\",\"resources\":{\"limits\":{\"cpu\":\"1\",\"memory\":\"1Gi\"}}}]}}");
	cJSON *g2 = J("{\"spec\":{\"containers\":[{\"name\":\"a\",\"resources\":{\"requests\":{\"cpu\":\"1000m\",\"memory\":\"1Gi\"},"
		      "\"limits\":{\"cpu\":\"1\",\"memory\":\"1Gi\"}}}]}}");
	cJSON *b = J("{\"spec\":{\"containers\":[{\"name\":\"a\",\"resources\":{\"requests\":{\"cpu\":\"100m\"}}}]}}");
	cJSON *b2 = J("{\"spec\":{\"containers\":[{\"name\":\"a\",\"resources\":{\"limits\":{\"cpu\":\"1\",\"memory\":\"1Gi\"}}},"
		      "{\"name\":\"b\"}]}}");
	ck_assert_str_eq(pspec_qos_class(be), "BestEffort");
	ck_assert_str_eq(pspec_qos_class(g), "Guaranteed");
	ck_assert_str_eq(pspec_qos_class(g2), "Guaranteed");
	ck_assert_str_eq(pspec_qos_class(b), "Burstable");
	ck_assert_str_eq(pspec_qos_class(b2), "Burstable");
	cJSON_Delete(be);
	cJSON_Delete(g);
	cJSON_Delete(g2);
	cJSON_Delete(b);
	cJSON_Delete(b2);
}
END_TEST

START_TEST(resources_to_cgroup_values)
{
	pspec_resources r;
	char err[128];
	cJSON *c = J("{\"resources\":{\"requests\":{\"cpu\":\"250m\"},\"limits\":{\"cpu\":\"500m\",\"memory\":\"64Mi\"}}}");
	ck_assert_int_eq(pspec_container_resources(c, &r, err, sizeof(err)), 0);
	ck_assert_int_eq(r.cpu_shares, 256);
	ck_assert_int_eq(r.cpu_quota, 50000);
	ck_assert_int_eq(r.cpu_period, 100000);
	ck_assert_int_eq(r.memory_limit, 64 * 1024 * 1024);
	cJSON_Delete(c);
	/* none: MinShares, no quota, no limit */
	c = J("{\"name\":\"x\"}");
	ck_assert_int_eq(pspec_container_resources(c, &r, err, sizeof(err)), 0);
	ck_assert_int_eq(r.cpu_shares, 2);
	ck_assert_int_eq(r.cpu_quota, 0);
	ck_assert_int_eq(r.memory_limit, 0);
	cJSON_Delete(c);
	/* tiny: 1m gives MinShares and MinQuotaPeriod; a limit alone is also the request */
	c = J("{\"resources\":{\"limits\":{\"cpu\":\"1m\"}}}");
	ck_assert_int_eq(pspec_container_resources(c, &r, err, sizeof(err)), 0);
	ck_assert_int_eq(r.cpu_shares, 2);
	ck_assert_int_eq(r.cpu_quota, 1000);
	cJSON_Delete(c);
	c = J("{\"resources\":{\"limits\":{\"cpu\":\"2\"}}}");
	ck_assert_int_eq(pspec_container_resources(c, &r, err, sizeof(err)), 0);
	ck_assert_int_eq(r.cpu_shares, 2048);
	cJSON_Delete(c);
	c = J("{\"resources\":{\"limits\":{\"memory\":\"lots\"}}}");
	ck_assert_int_lt(pspec_container_resources(c, &r, err, sizeof(err)), 0);
	cJSON_Delete(c);
}
END_TEST

START_TEST(cgroup_parents)
{
	char b[256];
	pspec_cgroup_parent(b, sizeof(b), "", "Guaranteed", "u1");
	ck_assert_str_eq(b, "/kubepods/podu1");
	pspec_cgroup_parent(b, sizeof(b), "/test/", "Burstable", "u1");
	ck_assert_str_eq(b, "/test/kubepods/burstable/podu1");
	pspec_cgroup_parent(b, sizeof(b), "/", "BestEffort", "u1");
	ck_assert_str_eq(b, "/kubepods/besteffort/podu1");
	ck_assert_int_lt(pspec_cgroup_parent(b, 8, "/x", "BestEffort", "u1"), 0);
}
END_TEST

START_TEST(crashloop_backoff_and_policy)
{
	const int64_t S = 1000000000LL;
	ck_assert_int_eq(pspec_backoff_ns(0), 0);
	ck_assert_int_eq(pspec_backoff_ns(1), 10 * S);
	ck_assert_int_eq(pspec_backoff_ns(2), 20 * S);
	ck_assert_int_eq(pspec_backoff_ns(3), 40 * S);
	ck_assert_int_eq(pspec_backoff_ns(5), 160 * S);
	ck_assert_int_eq(pspec_backoff_ns(6), 300 * S);
	ck_assert_int_eq(pspec_backoff_ns(1000), 300 * S);
	ck_assert(pspec_should_restart("Always", 0));
	ck_assert(pspec_should_restart("", 0));
	ck_assert(pspec_should_restart("OnFailure", 1));
	ck_assert(!pspec_should_restart("OnFailure", 0));
	ck_assert(!pspec_should_restart("Never", 1));
}
END_TEST

START_TEST(named_ports)
{
	cJSON *c = J("{\"ports\":[{\"name\":\"http\",\"containerPort\":8080}]}");
	cJSON *p = cJSON_CreateString("http");
	ck_assert_int_eq(pspec_resolve_port(c, p), 8080);
	cJSON_Delete(p);
	p = cJSON_CreateString("9090");
	ck_assert_int_eq(pspec_resolve_port(c, p), 9090);
	cJSON_Delete(p);
	p = cJSON_CreateString("nope");
	ck_assert_int_lt(pspec_resolve_port(c, p), 0);
	cJSON_Delete(p);
	p = cJSON_CreateNumber(70000);
	ck_assert_int_lt(pspec_resolve_port(c, p), 0);
	cJSON_Delete(p);
	cJSON_Delete(c);
}
END_TEST

static pstat_container ctr(const char *name, enum pstat_state s, int exit_code, int ready)
{
	pstat_container c;
	memset(&c, 0, sizeof(c));
	snprintf(c.name, sizeof(c.name), "%s", name);
	snprintf(c.image, sizeof(c.image), "busybox:1.35");
	c.state = s;
	c.term.exit_code = exit_code;
	c.ready = ready;
	return c;
}

START_TEST(phases)
{
	pstat_container a[2] = { ctr("a", PSTAT_RUNNING, 0, 1), ctr("b", PSTAT_WAITING, 0, 0) };
	ck_assert_str_eq(pstat_phase("Always", a, 2), "Pending");
	a[1].state = PSTAT_RUNNING;
	ck_assert_str_eq(pstat_phase("Always", a, 2), "Running");
	pstat_container t[2] = { ctr("a", PSTAT_TERMINATED, 0, 0), ctr("b", PSTAT_TERMINATED, 1, 0) };
	ck_assert_str_eq(pstat_phase("Never", t, 2), "Failed");
	ck_assert_str_eq(pstat_phase("OnFailure", t, 2), "Running");
	ck_assert_str_eq(pstat_phase("Always", t, 2), "Running");
	t[1].term.exit_code = 0;
	ck_assert_str_eq(pstat_phase("Never", t, 2), "Succeeded");
	ck_assert_str_eq(pstat_phase("OnFailure", t, 2), "Succeeded");
	/* waiting in CrashLoopBackOff after a run counts as stopped: Running under Always */
	pstat_container w = ctr("a", PSTAT_WAITING, 0, 0);
	w.has_last = 1;
	w.last.exit_code = 1;
	ck_assert_str_eq(pstat_phase("Always", &w, 1), "Running");
}
END_TEST

START_TEST(status_object)
{
	cJSON *pod = J("{\"metadata\":{\"name\":\"p\"},\"spec\":{\"containers\":[{\"name\":\"a\"},{\"name\":\"b\"}]},"
		       "\"status\":{\"startTime\":\"2026-01-01T00:00:00Z\",\"conditions\":["
		       "{\"type\":\"Ready\",\"status\":\"False\",\"lastTransitionTime\":\"2026-01-01T00:00:01Z\"},"
		       "{\"type\":\"PodScheduled\",\"status\":\"True\",\"lastTransitionTime\":\"2026-01-01T00:00:02Z\"}]}}");
	pstat_container cs[2] = { ctr("a", PSTAT_RUNNING, 0, 1), ctr("b", PSTAT_WAITING, 0, 0) };
	snprintf(cs[1].reason, sizeof(cs[1].reason), "CrashLoopBackOff");
	snprintf(cs[1].message, sizeof(cs[1].message), "back-off 10s restarting failed container=b pod=p_default(u)");
	cs[1].has_last = 1;
	cs[1].last.exit_code = 1;
	snprintf(cs[1].last.reason, sizeof(cs[1].last.reason), "Error");
	cs[1].restart_count = 2;
	snprintf(cs[0].container_id, sizeof(cs[0].container_id), "containerd://abc");
	pstat_input in = { .pod = pod, .host_ip = "10.0.0.1", .pod_ip = "10.88.0.4", .sandbox_ready = 1,
			   .start_time_ns = 1, .containers = cs, .n_containers = 2, .now_ns = 1800000000LL * 1000000000LL };
	cJSON *s = pstat_build(&in);
	ck_assert_ptr_nonnull(s);
	ck_assert_str_eq(kc_json_get_string(s, "phase", ""), "Running");
	ck_assert_str_eq(kc_json_get_string(s, "podIP", ""), "10.88.0.4");
	ck_assert_str_eq(kc_json_get_string(s, "podIPs.0.ip", ""), "10.88.0.4");
	ck_assert_str_eq(kc_json_get_string(s, "hostIP", ""), "10.0.0.1");
	ck_assert_str_eq(kc_json_get_string(s, "startTime", ""), "2026-01-01T00:00:00Z");
	ck_assert_str_eq(kc_json_get_string(s, "qosClass", ""), "BestEffort");
	const cJSON *c;
	int seen = 0;
	cJSON_ArrayForEach(c, kc_json_get(s, "conditions"))
	{
		const char *t = kc_json_get_string(c, "type", "");
		const char *st = kc_json_get_string(c, "status", "");
		if (!strcmp(t, "Ready") || !strcmp(t, "ContainersReady")) {
			ck_assert_str_eq(st, "False");
			ck_assert_str_eq(kc_json_get_string(c, "reason", ""), "ContainersNotReady");
			ck_assert_str_eq(kc_json_get_string(c, "message", ""), "containers with unready status: [b]");
		} else {
			ck_assert_str_eq(st, "True");
		}
		/* unchanged status keeps its transition time; a new one gets now */
		if (!strcmp(t, "Ready"))
			ck_assert_str_eq(kc_json_get_string(c, "lastTransitionTime", ""), "2026-01-01T00:00:01Z");
		if (!strcmp(t, "PodScheduled"))
			ck_assert_str_eq(kc_json_get_string(c, "lastTransitionTime", ""), "2026-01-01T00:00:02Z");
		if (!strcmp(t, "Initialized"))
			ck_assert_str_eq(kc_json_get_string(c, "lastTransitionTime", ""), "2027-01-15T08:00:00Z");
		seen++;
	}
	ck_assert_int_eq(seen, 5);
	ck_assert_str_eq(kc_json_get_string(s, "containerStatuses.0.containerID", ""), "containerd://abc");
	ck_assert(kc_json_get(s, "containerStatuses.0.state.running") != NULL);
	ck_assert(kc_json_get_bool(s, "containerStatuses.0.ready", false));
	ck_assert_str_eq(kc_json_get_string(s, "containerStatuses.1.state.waiting.reason", ""), "CrashLoopBackOff");
	ck_assert_int_eq(kc_json_get_int64(s, "containerStatuses.1.restartCount", -1), 2);
	ck_assert_int_eq(kc_json_get_int64(s, "containerStatuses.1.lastState.terminated.exitCode", -1), 1);
	ck_assert_str_eq(kc_json_get_string(s, "containerStatuses.1.lastState.terminated.reason", ""), "Error");
	cJSON_Delete(s);

	/* all ready: Ready True without reason */
	cs[1] = ctr("b", PSTAT_RUNNING, 0, 1);
	s = pstat_build(&in);
	cJSON_ArrayForEach(c, kc_json_get(s, "conditions"))
	{
		ck_assert_str_eq(kc_json_get_string(c, "status", ""), "True");
		ck_assert_ptr_null(kc_json_get(c, "reason"));
	}
	cJSON_Delete(s);
	/* no pod IP yet: fields absent, PodReadyToStartContainers False */
	in.pod_ip = "";
	in.sandbox_ready = 0;
	s = pstat_build(&in);
	ck_assert_ptr_null(kc_json_get(s, "podIP"));
	ck_assert_str_eq(kc_json_get_string(s, "conditions.0.type", ""), "PodReadyToStartContainers");
	ck_assert_str_eq(kc_json_get_string(s, "conditions.0.status", ""), "False");
	cJSON_Delete(s);
	cJSON_Delete(pod);
}
END_TEST

/* ---- env sources: a fake API with a ConfigMap "cfg" and a Secret "sec" ---- */

typedef struct fake_api {
	int gets;
	char events[4][512];
	int nevents;
} fake_api;

static int fake_fetch(void *arg, const char *resource, const char *ns, const char *name, cJSON **out, char *err,
		      size_t errlen)
{
	fake_api *f = arg;
	f->gets++;
	(void)err;
	(void)errlen;
	if (!strcmp(resource, "services")) {
		if (!strcmp(ns, "default") && name && !strcmp(name, "kubernetes")) {
			*out = J("{\"metadata\":{\"name\":\"kubernetes\"},\"spec\":{\"clusterIP\":\"10.32.0.1\","
				 "\"ports\":[{\"name\":\"https\",\"port\":443,\"protocol\":\"TCP\"}]}}");
			return 0;
		}
		ck_assert_str_eq(ns, "ns1");
		ck_assert_ptr_null(name);
		*out = J("{\"items\":[{\"metadata\":{\"name\":\"my-svc\"},\"spec\":{\"clusterIP\":\"10.32.0.9\","
			 "\"ports\":[{\"port\":80},{\"name\":\"dns-udp\",\"port\":53,\"protocol\":\"UDP\"}]}},"
			 "{\"metadata\":{\"name\":\"headless\"},\"spec\":{\"clusterIP\":\"None\",\"ports\":[{\"port\":1}]}}]}");
		return 0;
	}
	ck_assert_str_eq(ns, "ns1");
	if (!strcmp(resource, "configmaps") && !strcmp(name, "cfg")) {
		*out = J("{\"data\":{\"greeting\":\"hello\",\"mode\":\"fast\",\"1bad\":\"x\",\"also bad\":\"y\"}}");
		return 0;
	}
	if (!strcmp(resource, "secrets") && !strcmp(name, "sec")) {
		*out = J("{\"data\":{\"password\":\"czNjcmV0\"}}"); /* s3cret */
		return 0;
	}
	return KC_ENOTFOUND;
}

static void fake_event(void *arg, const char *reason, const char *message)
{
	fake_api *f = arg;
	if (f->nevents < 4)
		snprintf(f->events[f->nevents++], sizeof(f->events[0]), "%s: %s", reason, message);
}

static int env_of(const char *container, fake_api *f, pspec_env *e, char *err, size_t errlen)
{
	cJSON *pod = J("{\"metadata\":{\"name\":\"web\",\"namespace\":\"ns1\",\"uid\":\"u-1\",\"labels\":{\"app\":\"a\"}},"
		       "\"spec\":{\"nodeName\":\"n1\",\"containers\":[{\"name\":\"other\",\"resources\":{\"limits\":{\"cpu\":\"2\"}}}]}}");
	cJSON *c = J(container);
	pspec_sources src = { .fetch = fake_fetch, .event = fake_event, .arg = f };
	pspec_podinfo pi = { .pod_ip = "10.0.0.5", .node_name = "n1", .src = &src, .alloc_cpu_milli = 4000,
			     .alloc_memory = 8LL << 30, .alloc_ephemeral = 100LL << 30 };
	int rc = pspec_build_env(pod, c, &pi, e, err, errlen);
	cJSON_Delete(c);
	cJSON_Delete(pod);
	return rc;
}

START_TEST(env_sources_order_and_precedence)
{
	fake_api f = { 0 };
	pspec_env e = { 0 };
	char err[512] = "";
	int rc = env_of("{\"name\":\"c\",\"envFrom\":["
			"{\"configMapRef\":{\"name\":\"cfg\"}},"
			"{\"prefix\":\"S_\",\"secretRef\":{\"name\":\"sec\"}},"
			"{\"configMapRef\":{\"name\":\"gone\",\"optional\":true}}],"
			"\"env\":["
			"{\"name\":\"mode\",\"value\":\"env-wins-$(greeting)\"},"
			"{\"name\":\"G\",\"valueFrom\":{\"configMapKeyRef\":{\"name\":\"cfg\",\"key\":\"greeting\"}}},"
			"{\"name\":\"P\",\"valueFrom\":{\"secretKeyRef\":{\"name\":\"sec\",\"key\":\"password\"}}},"
			"{\"name\":\"O\",\"valueFrom\":{\"configMapKeyRef\":{\"name\":\"cfg\",\"key\":\"nokey\",\"optional\":true}}},"
			"{\"name\":\"O2\",\"valueFrom\":{\"secretKeyRef\":{\"name\":\"gone\",\"key\":\"k\",\"optional\":true}}},"
			"{\"name\":\"L\",\"valueFrom\":{\"fieldRef\":{\"fieldPath\":\"metadata.labels['app']\"}}},"
			"{\"name\":\"X\",\"value\":\"$(S_password)/$(G)\"}]}",
			&f, &e, err, sizeof(err));
	ck_assert_msg(rc == 0, "%s", err);
	/* envFrom first, env after it and replacing by name, expansion sees both */
	ck_assert_str_eq(pspec_env_get(&e, "greeting"), "hello");
	ck_assert_str_eq(pspec_env_get(&e, "mode"), "env-wins-hello");
	ck_assert_str_eq(pspec_env_get(&e, "S_password"), "s3cret");
	ck_assert_str_eq(pspec_env_get(&e, "G"), "hello");
	ck_assert_str_eq(pspec_env_get(&e, "P"), "s3cret");
	ck_assert_str_eq(pspec_env_get(&e, "L"), "a");
	ck_assert_str_eq(pspec_env_get(&e, "X"), "s3cret/hello");
	ck_assert_ptr_null(pspec_env_get(&e, "O"));
	ck_assert_ptr_null(pspec_env_get(&e, "O2"));
	ck_assert_ptr_null(pspec_env_get(&e, "1bad"));
	/* service variables come first, then envFrom's in the object's order */
	ck_assert_str_eq(e.names[0], "KUBERNETES_SERVICE_HOST");
	/* each object fetched once per build: configmaps cfg, gone; secrets sec, gone; the
	 * master service and the namespace's services */
	ck_assert_int_eq(f.gets, 6);
	/* service variables (envvars.FromServices), headless services skipped */
	const char *svc[][2] = {
		{ "KUBERNETES_SERVICE_HOST", "10.32.0.1" },  { "KUBERNETES_SERVICE_PORT", "443" },
		{ "KUBERNETES_SERVICE_PORT_HTTPS", "443" },  { "KUBERNETES_PORT", "tcp://10.32.0.1:443" },
		{ "KUBERNETES_PORT_443_TCP", "tcp://10.32.0.1:443" }, { "KUBERNETES_PORT_443_TCP_PROTO", "tcp" },
		{ "KUBERNETES_PORT_443_TCP_PORT", "443" },   { "KUBERNETES_PORT_443_TCP_ADDR", "10.32.0.1" },
		{ "MY_SVC_SERVICE_HOST", "10.32.0.9" },      { "MY_SVC_SERVICE_PORT", "80" },
		{ "MY_SVC_SERVICE_PORT_DNS_UDP", "53" },     { "MY_SVC_PORT", "tcp://10.32.0.9:80" },
		{ "MY_SVC_PORT_53_UDP", "udp://10.32.0.9:53" }, { "MY_SVC_PORT_53_UDP_PROTO", "udp" },
	};
	for (size_t i = 0; i < sizeof(svc) / sizeof(svc[0]); i++) {
		const char *v = pspec_env_get(&e, svc[i][0]);
		ck_assert_msg(v && !strcmp(v, svc[i][1]), "%s=%s, want %s", svc[i][0], v ? v : "(unset)", svc[i][1]);
	}
	ck_assert_ptr_null(pspec_env_get(&e, "HEADLESS_SERVICE_HOST"));
	ck_assert_int_eq(f.nevents, 1);
	ck_assert_str_eq(f.events[0], "InvalidEnvironmentVariableNames: Keys [1bad, also bad] from the EnvFrom configMap "
				      "ns1/cfg were skipped since they are considered invalid environment variable names.");
	pspec_env_close(&e);
}
END_TEST

START_TEST(env_sources_errors_as_upstream)
{
	const char *cases[][2] = {
		{ "{\"name\":\"c\",\"env\":[{\"name\":\"A\",\"valueFrom\":{\"configMapKeyRef\":{\"name\":\"x\",\"key\":\"k\"}}}]}",
		  "configmap \"x\" not found" },
		{ "{\"name\":\"c\",\"env\":[{\"name\":\"A\",\"valueFrom\":{\"configMapKeyRef\":{\"name\":\"cfg\",\"key\":\"k\"}}}]}",
		  "couldn't find key k in ConfigMap ns1/cfg" },
		{ "{\"name\":\"c\",\"env\":[{\"name\":\"A\",\"valueFrom\":{\"secretKeyRef\":{\"name\":\"s\",\"key\":\"k\"}}}]}",
		  "secret \"s\" not found" },
		{ "{\"name\":\"c\",\"env\":[{\"name\":\"A\",\"valueFrom\":{\"secretKeyRef\":{\"name\":\"sec\",\"key\":\"k\"}}}]}",
		  "couldn't find key k in Secret ns1/sec" },
		{ "{\"name\":\"c\",\"envFrom\":[{\"configMapRef\":{\"name\":\"nope\"}}]}", "configmap \"nope\" not found" },
		{ "{\"name\":\"c\",\"envFrom\":[{\"secretRef\":{\"name\":\"nope\"}}]}", "secret \"nope\" not found" },
		{ "{\"name\":\"c\",\"env\":[{\"name\":\"A\",\"valueFrom\":{\"resourceFieldRef\":{\"resource\":\"limits.gpu\"}}}]}",
		  "unsupported container resource : limits.gpu" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		fake_api f = { 0 };
		pspec_env e = { 0 };
		char err[512] = "";
		ck_assert_int_lt(env_of(cases[i][0], &f, &e, err, sizeof(err)), 0);
		ck_assert_str_eq(err, cases[i][1]);
		pspec_env_close(&e);
	}
}
END_TEST

START_TEST(resource_field_refs)
{
	cJSON *c = J("{\"name\":\"c\",\"resources\":{\"limits\":{\"cpu\":\"250m\",\"memory\":\"64Mi\"},"
		     "\"requests\":{\"memory\":\"33M\"}}}");
	pspec_podinfo pi = { .alloc_cpu_milli = 4000, .alloc_memory = 8LL << 30, .alloc_ephemeral = 1000 };
	char buf[32], err[256];
	cJSON *mi = cJSON_CreateString("1Mi"), *m1 = cJSON_CreateString("1m"), *k = cJSON_CreateString("1k");
	struct {
		const char *res;
		const cJSON *div;
		const char *want;
	} cases[] = {
		{ "limits.cpu", NULL, "1" },           /* ceil(250m / 1) */
		{ "limits.cpu", m1, "250" },
		{ "limits.memory", NULL, "67108864" },
		{ "limits.memory", mi, "64" },
		{ "requests.memory", mi, "32" },        /* ceil(33e6 / 2^20) = 32 */
		{ "requests.memory", k, "33000" },
		{ "requests.cpu", m1, "250" },          /* request defaults to the limit */
		{ "limits.ephemeral-storage", NULL, "1000" }, /* unset limit: node allocatable */
		{ "requests.ephemeral-storage", NULL, "0" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ck_assert_int_eq(pspec_resource_value(c, cases[i].res, cases[i].div, &pi, buf, sizeof(buf), err, sizeof(err)), 0);
		ck_assert_msg(!strcmp(buf, cases[i].want), "%s -> %s, want %s", cases[i].res, buf, cases[i].want);
	}
	/* no cpu limit: the node's allocatable cpu */
	cJSON *none = J("{\"name\":\"c\"}");
	ck_assert_int_eq(pspec_resource_value(none, "limits.cpu", m1, &pi, buf, sizeof(buf), err, sizeof(err)), 0);
	ck_assert_str_eq(buf, "4000");
	ck_assert_int_lt(pspec_resource_value(none, "cpu", NULL, &pi, buf, sizeof(buf), err, sizeof(err)), 0);
	cJSON_Delete(none);
	cJSON_Delete(mi);
	cJSON_Delete(m1);
	cJSON_Delete(k);
	cJSON_Delete(c);
}
END_TEST

START_TEST(env_var_names)
{
	ck_assert(pspec_is_env_var_name("A"));
	ck_assert(pspec_is_env_var_name("a.b-c_d9"));
	ck_assert(pspec_is_env_var_name("_x"));
	ck_assert(!pspec_is_env_var_name(""));
	ck_assert(!pspec_is_env_var_name("1a"));
	ck_assert(!pspec_is_env_var_name("a b"));
	ck_assert(!pspec_is_env_var_name("a=b"));
}
END_TEST

/* ---- init containers: phase, Initialized, initContainerStatuses ---- */

START_TEST(init_container_status)
{
	cJSON *pod = J("{\"metadata\":{\"name\":\"p\"},\"spec\":{\"restartPolicy\":\"Always\","
		       "\"initContainers\":[{\"name\":\"i1\"},{\"name\":\"i2\"}],\"containers\":[{\"name\":\"a\"}]}}");
	pstat_container ics[2] = { ctr("i1", PSTAT_RUNNING, 0, 0), ctr("i2", PSTAT_WAITING, 0, 0) };
	snprintf(ics[1].reason, sizeof(ics[1].reason), "PodInitializing");
	pstat_container app = ctr("a", PSTAT_WAITING, 0, 0);
	snprintf(app.reason, sizeof(app.reason), "PodInitializing");
	/* the first init container runs: Pending, Initialized False naming both */
	ck_assert_str_eq(pstat_phase_init("Always", ics, 2, &app, 1), "Pending");
	pstat_input in = { .pod = pod, .sandbox_ready = 1, .containers = &app, .n_containers = 1,
			   .init_containers = ics, .n_init = 2, .now_ns = 1 };
	cJSON *s = pstat_build(&in);
	const cJSON *c;
	int found = 0;
	cJSON_ArrayForEach(c, kc_json_get(s, "conditions"))
	{
		if (strcmp(kc_json_get_string(c, "type", ""), "Initialized"))
			continue;
		found = 1;
		ck_assert_str_eq(kc_json_get_string(c, "status", ""), "False");
		ck_assert_str_eq(kc_json_get_string(c, "reason", ""), "ContainersNotInitialized");
		ck_assert_str_eq(kc_json_get_string(c, "message", ""), "containers with incomplete status: [i1 i2]");
	}
	ck_assert(found);
	ck_assert_int_eq(cJSON_GetArraySize(kc_json_get(s, "initContainerStatuses")), 2);
	ck_assert(kc_json_get(s, "initContainerStatuses.0.state.running") != NULL);
	ck_assert_str_eq(kc_json_get_string(s, "initContainerStatuses.1.state.waiting.reason", ""), "PodInitializing");
	ck_assert_str_eq(kc_json_get_string(s, "containerStatuses.0.state.waiting.reason", ""), "PodInitializing");
	cJSON_Delete(s);

	/* i1 failed: under Never the pod fails (kubectl shows Init:Error); under Always it
	 * stays Pending while i1 waits in back-off with its last exit (Init:CrashLoopBackOff) */
	ics[0] = ctr("i1", PSTAT_TERMINATED, 2, 0);
	snprintf(ics[0].term.reason, sizeof(ics[0].term.reason), "Error");
	ck_assert_str_eq(pstat_phase_init("Never", ics, 2, &app, 1), "Failed");
	ics[0] = ctr("i1", PSTAT_WAITING, 0, 0);
	snprintf(ics[0].reason, sizeof(ics[0].reason), "CrashLoopBackOff");
	ics[0].has_last = 1;
	ics[0].last.exit_code = 1;
	ck_assert_str_eq(pstat_phase_init("Always", ics, 2, &app, 1), "Pending");
	ck_assert(!pstat_initialized(ics, 2));

	/* both succeeded: Initialized True, the app container's state decides */
	ics[0] = ctr("i1", PSTAT_TERMINATED, 0, 1);
	ics[1] = ctr("i2", PSTAT_TERMINATED, 0, 1);
	app = ctr("a", PSTAT_RUNNING, 0, 1);
	ck_assert(pstat_initialized(ics, 2));
	ck_assert_str_eq(pstat_phase_init("Always", ics, 2, &app, 1), "Running");
	s = pstat_build(&in);
	cJSON_ArrayForEach(c, kc_json_get(s, "conditions"))
	ck_assert_str_eq(kc_json_get_string(c, "status", ""), "True");
	ck_assert_str_eq(kc_json_get_string(s, "phase", ""), "Running");
	cJSON_Delete(s);
	/* no init containers: no initContainerStatuses field */
	in.n_init = 0;
	s = pstat_build(&in);
	ck_assert_ptr_null(kc_json_get(s, "initContainerStatuses"));
	cJSON_Delete(s);
	cJSON_Delete(pod);
}
END_TEST

static void *serve_404_once(void *arg)
{
	int ls = *(int *)arg;
	int fd = accept(ls, NULL, NULL);
	if (fd < 0)
		return NULL;
	char buf[1024];
	ssize_t n = recv(fd, buf, sizeof(buf), 0);
	(void)n;
	const char *r = "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
	ssize_t w = send(fd, r, strlen(r), MSG_NOSIGNAL);
	(void)w;
	close(fd);
	return NULL;
}

/* ---- startup probes and lifecycle hooks ---- */

START_TEST(startup_probe_bookkeeping)
{
	/* the startup result starts Unknown (2): the first success flips it at once, a
	 * failure only after failureThreshold in a row (then the container is killed) */
	cJSON *c = J("{\"name\":\"c\",\"startupProbe\":{\"exec\":{\"command\":[\"true\"]},\"periodSeconds\":1,"
		     "\"failureThreshold\":3}}");
	probe_spec p;
	char err[128];
	ck_assert_int_eq(probe_parse(c, "startupProbe", &p, err, sizeof(err)), 0);
	probe_state s;
	probe_state_init(&s, 2, 0, &p);
	ck_assert_int_eq(probe_state_record(&s, &p, 0, 1), 0);
	ck_assert_int_eq(probe_state_record(&s, &p, 0, 2), 0);
	ck_assert_int_eq(probe_state_record(&s, &p, 0, 3), 1);
	ck_assert_int_eq(s.result, 0);
	probe_state_init(&s, 2, 0, &p);
	ck_assert_int_eq(probe_state_record(&s, &p, 0, 1), 0);
	ck_assert_int_eq(probe_state_record(&s, &p, 1, 2), 1);
	ck_assert_int_eq(s.result, 1);
	ck_assert(s.next_ns == 2 + 1000000000LL);
	probe_spec_close(&p);
	cJSON_Delete(c);
}
END_TEST

START_TEST(lifecycle_hooks)
{
	ck_assert_int_eq(hook_remaining_grace(30, 5), 25);
	ck_assert_int_eq(hook_remaining_grace(30, 29), 2);
	ck_assert_int_eq(hook_remaining_grace(3, 10), 2);
	cJSON *c = J("{\"name\":\"c\",\"lifecycle\":{"
		     "\"postStart\":{\"sleep\":{\"seconds\":0}},\"preStop\":{\"tcpSocket\":{\"port\":1}}}}");
	ck_assert(hook_present(c, "postStart"));
	ck_assert(hook_present(c, "preStop"));
	ck_assert(!hook_present(c, "other"));
	char msg[512];
	ck_assert_int_eq(hook_run(c, "postStart", NULL, "127.0.0.1", "", "p_ns(u)", 5, msg, sizeof(msg)), 0);
	/* neither exec, httpGet nor sleep: an error naming the hook */
	ck_assert_int_eq(hook_run(c, "preStop", NULL, "127.0.0.1", "", "p_ns(u)", 5, msg, sizeof(msg)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(msg, "invalid preStop handler for Container \"c\" in Pod \"p_ns(u)\""));
	cJSON_Delete(c);
}
END_TEST

START_TEST(http_hook_against_a_local_server)
{
	/* an HTTP server answering 404: the hook fails with upstream's wording; the named
	 * port resolves through the container's ports */
	int ls = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	ck_assert_int_eq(bind(ls, (struct sockaddr *)&sa, sizeof(sa)), 0);
	socklen_t sl = sizeof(sa);
	getsockname(ls, (struct sockaddr *)&sa, &sl);
	listen(ls, 4);
	pthread_t th;
	pthread_create(&th, NULL, serve_404_once, &ls);
	char js[512];
	snprintf(js, sizeof(js), "{\"name\":\"c\",\"ports\":[{\"name\":\"web\",\"containerPort\":%d}],\"lifecycle\":{"
			 "\"preStop\":{\"httpGet\":{\"path\":\"/nope\",\"port\":\"web\"}}}}", ntohs(sa.sin_port));
	cJSON *c = J(js);
	char msg[512];
	ck_assert_int_eq(hook_run(c, "preStop", NULL, "127.0.0.1", "", "p_ns(u)", 5, msg, sizeof(msg)), -1);
	ck_assert_str_eq(msg, "HTTP lifecycle hook (/nope) for Container \"c\" in Pod \"p_ns(u)\" failed - error: HTTP probe "
			      "failed with statuscode: 404");
	pthread_join(th, NULL);
	close(ls);
	cJSON_Delete(c);
}
END_TEST

START_TEST(probe_defaults_and_thresholds)
{
	cJSON *c = J("{\"ports\":[{\"name\":\"web\",\"containerPort\":8080}],"
		     "\"readinessProbe\":{\"httpGet\":{\"port\":\"web\",\"path\":\"healthz\"}},"
		     "\"livenessProbe\":{\"tcpSocket\":{\"port\":81},\"failureThreshold\":2,\"successThreshold\":1,"
		     "\"periodSeconds\":3,\"initialDelaySeconds\":5},"
		     "\"startupProbe\":{}}");
	probe_spec r, l, n, bad;
	char err[256];
	ck_assert_int_eq(probe_parse(c, "readinessProbe", &r, err, sizeof(err)), 0);
	ck_assert_int_eq(r.kind, PROBE_HTTP);
	ck_assert_int_eq(r.port, 8080);
	ck_assert_str_eq(r.path, "/healthz");
	ck_assert_int_eq(r.period_s, 10);
	ck_assert_int_eq(r.timeout_s, 1);
	ck_assert_int_eq(r.success_threshold, 1);
	ck_assert_int_eq(r.failure_threshold, 3);
	ck_assert_int_eq(probe_parse(c, "livenessProbe", &l, err, sizeof(err)), 0);
	ck_assert_int_eq(l.kind, PROBE_TCP);
	ck_assert_int_eq(l.failure_threshold, 2);
	ck_assert_int_eq(probe_parse(c, "nothere", &n, err, sizeof(err)), 0);
	ck_assert_int_eq(n.kind, PROBE_NONE);
	ck_assert_int_lt(probe_parse(c, "startupProbe", &bad, err, sizeof(err)), 0);

	/* readiness starts false; 3 failures needed to go back to false */
	const int64_t S = 1000000000LL;
	probe_state s;
	probe_state_init(&s, 0, 100 * S, &r);
	ck_assert_int_eq(s.next_ns, 100 * S);
	ck_assert_int_eq(probe_state_record(&s, &r, 1, 100 * S), 1);
	ck_assert_int_eq(s.result, 1);
	ck_assert_int_eq(s.next_ns, 110 * S);
	ck_assert_int_eq(probe_state_record(&s, &r, 0, 110 * S), 0);
	ck_assert_int_eq(probe_state_record(&s, &r, 0, 120 * S), 0);
	ck_assert_int_eq(s.result, 1);
	ck_assert_int_eq(probe_state_record(&s, &r, 1, 130 * S), 0); /* a success resets the count */
	ck_assert_int_eq(probe_state_record(&s, &r, 0, 140 * S), 0);
	ck_assert_int_eq(probe_state_record(&s, &r, 0, 150 * S), 0);
	ck_assert_int_eq(probe_state_record(&s, &r, 0, 160 * S), 1);
	ck_assert_int_eq(s.result, 0);
	/* liveness: initial delay honoured */
	probe_state_init(&s, 1, 100 * S, &l);
	ck_assert_int_eq(s.next_ns, 105 * S);
	probe_spec_close(&r);
	probe_spec_close(&l);
	cJSON_Delete(c);
}
END_TEST

static int listener(int *port)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(listen(fd, 8), 0);
	socklen_t sl = sizeof(sa);
	getsockname(fd, (struct sockaddr *)&sa, &sl);
	*port = ntohs(sa.sin_port);
	return fd;
}

typedef struct srv {
	int fd;
	const char *reply;
	char got[1024];
} srv;

static void *serve_one(void *arg)
{
	srv *s = arg;
	int c = accept(s->fd, NULL, NULL);
	if (c < 0)
		return NULL;
	ssize_t n = recv(c, s->got, sizeof(s->got) - 1, 0);
	if (n > 0)
		s->got[n] = 0;
	send(c, s->reply, strlen(s->reply), MSG_NOSIGNAL);
	close(c);
	return NULL;
}

static int http_probe_with(const char *reply, char *got, size_t gotlen, char *msg, size_t msglen)
{
	int port;
	srv s = { .reply = reply };
	s.fd = listener(&port);
	char js[256];
	snprintf(js, sizeof(js), "{\"readinessProbe\":{\"httpGet\":{\"port\":%d,\"path\":\"/ok\"}}}", port);
	cJSON *c = J(js);
	probe_spec p;
	char err[128];
	ck_assert_int_eq(probe_parse(c, "readinessProbe", &p, err, sizeof(err)), 0);
	pthread_t th;
	pthread_create(&th, NULL, serve_one, &s);
	int ok = probe_run(&p, NULL, "127.0.0.1", "", msg, msglen);
	pthread_join(th, NULL);
	close(s.fd);
	snprintf(got, gotlen, "%s", s.got);
	probe_spec_close(&p);
	cJSON_Delete(c);
	return ok;
}

START_TEST(http_and_tcp_probes)
{
	char got[1024], msg[512];
	ck_assert_int_eq(http_probe_with("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", got, sizeof(got), msg, sizeof(msg)), 1);
	ck_assert_ptr_nonnull(strstr(got, "GET /ok HTTP/1.1\r\n"));
	ck_assert_ptr_nonnull(strstr(got, "User-Agent: kube-probe/1.32\r\n"));
	ck_assert_int_eq(http_probe_with("HTTP/1.1 302 Found\r\n\r\n", got, sizeof(got), msg, sizeof(msg)), 1);
	ck_assert_int_eq(http_probe_with("HTTP/1.0 503 Unavailable\r\n\r\n", got, sizeof(got), msg, sizeof(msg)), 0);
	ck_assert_str_eq(msg, "HTTP probe failed with statuscode: 503");
	ck_assert_int_eq(http_probe_with("garbage", got, sizeof(got), msg, sizeof(msg)), 0);

	/* tcp: a listening port succeeds, a closed one fails with the dial error */
	int port;
	int fd = listener(&port);
	char js[128];
	snprintf(js, sizeof(js), "{\"p\":{\"tcpSocket\":{\"port\":%d}}}", port);
	cJSON *c = J(js);
	probe_spec p;
	char err[128];
	ck_assert_int_eq(probe_parse(c, "p", &p, err, sizeof(err)), 0);
	ck_assert_int_eq(probe_run(&p, NULL, "127.0.0.1", "", msg, sizeof(msg)), 1);
	close(fd);
	ck_assert_int_eq(probe_run(&p, NULL, "127.0.0.1", "", msg, sizeof(msg)), 0);
	ck_assert_ptr_nonnull(strstr(msg, "dial tcp 127.0.0.1:"));
	/* no pod IP yet: failure, not a crash */
	ck_assert_int_eq(probe_run(&p, NULL, "", "", msg, sizeof(msg)), 0);
	probe_spec_close(&p);
	cJSON_Delete(c);
}
END_TEST

static Suite *kubelet_pod_suite(void)
{
	Suite *s = suite_create("kubelet_pod");
	TCase *tc = tcase_create("core");
	tcase_set_timeout(tc, 20);
	tcase_add_test(tc, expand_as_upstream);
	tcase_add_test(tc, env_in_order_with_field_refs);
	tcase_add_test(tc, env_sources_order_and_precedence);
	tcase_add_test(tc, env_sources_errors_as_upstream);
	tcase_add_test(tc, resource_field_refs);
	tcase_add_test(tc, env_var_names);
	tcase_add_test(tc, init_container_status);
	tcase_add_test(tc, startup_probe_bookkeeping);
	tcase_add_test(tc, lifecycle_hooks);
	tcase_add_test(tc, http_hook_against_a_local_server);
	tcase_add_test(tc, qos_classes);
	tcase_add_test(tc, resources_to_cgroup_values);
	tcase_add_test(tc, cgroup_parents);
	tcase_add_test(tc, crashloop_backoff_and_policy);
	tcase_add_test(tc, named_ports);
	tcase_add_test(tc, phases);
	tcase_add_test(tc, status_object);
	tcase_add_test(tc, probe_defaults_and_thresholds);
	tcase_add_test(tc, http_and_tcp_probes);
	suite_add_tcase(s, tc);
	return s;
}

KC_TEST_MAIN(kubelet_pod_suite)
