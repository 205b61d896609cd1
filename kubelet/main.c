/* kubelet: the node agent.
 *
 * Upstream's flags and KubeletConfiguration file, the CRI client (connect, Version, as
 * upstream's start-up), the Node: registration with capacity, allocatable, addresses,
 * nodeInfo and conditions, periodic status updates every nodeStatusUpdateFrequency, the
 * heartbeat Lease in kube-node-lease, and the pod workers (pod_worker.h) that run the
 * pods bound to this node.  The Node is Ready once the runtime reports RuntimeReady and
 * NetworkReady.  The kubelet server (server.h) serves 10250 and the healthz port.  Static
 * pods come from staticPodPath / --pod-manifest-path (static_pods.h) with mirror pods in
 * the apiserver.  Without --kubeconfig (standalone mode) the kubelet runs its static pods
 * alone: no Node, no Lease, no API pods, no status, no events. */
#include <errno.h>
#include <malloc.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "client.h"
#include "config.h"
#include "cri_client.h"
#include "errors.h"
#include "flags.h"
#include "json.h"
#include "quantity.h"
#include "kubeconfig.h"
#include "log.h"
#include "node_lease.h"
#include "node_status.h"
#include "pod_worker.h"
#include "sdnotify.h"
#include "server.h"

/* The Ready condition from the runtime's Status, as upstream's runtime state checks
 * (kubelet.go updateRuntimeUp): RuntimeReady and NetworkReady must both be true. */
static void runtime_readiness(cri_client *cri, node_readiness *rd, char *msg, size_t msglen)
{
	Runtime__V1__StatusResponse *r = NULL;
	cri_grpc_status st;
	rd->ready = 0;
	rd->reason = "KubeletNotReady";
	rd->message = msg;
	if (cri_status(cri, 0, &r, &st) < 0) {
		snprintf(msg, msglen, "container runtime status check may not have completed yet: rpc error: code = %s desc = %.300s",
			 cri_grpc_code_name(st.code), st.message);
		return;
	}
	int rt = 0, net = 0;
	msg[0] = 0;
	for (size_t i = 0; r->status && i < r->status->n_conditions; i++) {
		const Runtime__V1__RuntimeCondition *c = r->status->conditions[i];
		if (!c->type)
			continue;
		if (!strcmp(c->type, "RuntimeReady"))
			rt = c->status;
		else if (!strcmp(c->type, "NetworkReady")) {
			net = c->status;
			if (!net)
				snprintf(msg, msglen, "container runtime network not ready: NetworkReady=false reason:%s message:%s",
					 c->reason ? c->reason : "", c->message ? c->message : "");
		}
	}
	cri_msg_free(r);
	if (!rt) {
		snprintf(msg, msglen, "container runtime is down");
	} else if (net) {
		rd->ready = 1;
		rd->reason = "KubeletReady";
		snprintf(msg, msglen, "kubelet is posting ready status");
	}
}

static int64_t wall_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Wait up to ns for SIGTERM/SIGINT on sfd; returns 1 when one arrived. */
static int wait_signal(int sfd, int64_t ns)
{
	if (ns < 0)
		ns = 0;
	struct pollfd p = { .fd = sfd, .events = POLLIN };
	int r = poll(&p, 1, (int)((ns + 999999) / 1000000));
	if (r > 0) {
		struct signalfd_siginfo si;
		if (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
			kc_sd_notify("STOPPING=1");
			kc_info("received signal %s, shutting down", strsignal((int)si.ssi_signo));
			return 1;
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	const char *config_path = "", *kubeconfig = "", *hostname_override = "", *node_ip = "";
	const char *endpoint = NULL, *root_dir = "/var/lib/kubelet";
	const char *pod_logs_dir = "/var/log/pods", *cgroup_root = "", *manifest_path = NULL;
	int64_t req_timeout = 2LL * 60 * 1000000000LL;
	bool version = false;
	kc_strlist node_labels = { 0 }, taints = { 0 };
	const kc_flag flags[] = {
		{ "config", 0, KC_FLAG_STRING, &config_path,
		  "The Kubelet will load its initial configuration from this file (KubeletConfiguration v1beta1). "
		  "Command-line flags override configuration from this file." },
		{ "kubeconfig", 0, KC_FLAG_STRING, &kubeconfig,
		  "Path to a kubeconfig file, specifying how to connect to the API server. Providing --kubeconfig "
		  "enables API server mode, omitting --kubeconfig enables standalone mode." },
		{ "hostname-override", 0, KC_FLAG_STRING, &hostname_override,
		  "If non-empty, will use this string as identification instead of the actual hostname." },
		{ "node-ip", 0, KC_FLAG_STRING, &node_ip, "IP address of the node. If set, kubelet will use this IP address for the node." },
		{ "node-labels", 0, KC_FLAG_STRINGS, &node_labels,
		  "Labels to add when registering the node in the cluster. Labels must be key=value pairs separated by ','." },
		{ "register-with-taints", 0, KC_FLAG_STRINGS, &taints,
		  "Register the node with the given list of taints (comma separated \"<key>=<value>:<effect>\")." },
		{ "container-runtime-endpoint", 0, KC_FLAG_STRING, &endpoint,
		  "The endpoint of remote runtime service, e.g. unix:///path/to/runtime.sock "
		  "(default unix:///run/containerd/containerd.sock)" },
		{ "runtime-request-timeout", 0, KC_FLAG_DURATION, &req_timeout,
		  "Timeout of all runtime requests except long running requests - pull, logs, exec and attach." },
		{ "root-dir", 0, KC_FLAG_STRING, &root_dir, "Directory path for managing kubelet files." },
		{ "pod-logs-dir", 0, KC_FLAG_STRING, &pod_logs_dir,
		  "Directory of the pods' container logs (KubeletConfiguration podLogsDir; default /var/log/pods)." },
		{ "cgroup-root", 0, KC_FLAG_STRING, &cgroup_root,
		  "Optional root cgroup to use for pods; pods go under <cgroup-root>/kubepods." },
		{ "pod-manifest-path", 0, KC_FLAG_STRING, &manifest_path,
		  "Path to the directory containing static pod files to run (DEPRECATED upstream: set "
		  "staticPodPath in the --config file instead)." },
		{ "version", 0, KC_FLAG_BOOL, &version, "Print version information and quit" },
		{ NULL, 0, 0, NULL, NULL },
	};
	const kc_flagset fs = { .prog = "kubelet", .summary = NULL, .flags = flags };
	/* one pod worker thread per pod: glibc would give each thread its own malloc arena
	 * (up to 8 per core), ~14 MB of partly used heaps at 100 pods
	 * (test/bench/kubelet); two shared arenas hold the same data */
	mallopt(M_ARENA_MAX, 2);
	char err[512];
	/* flags given on the command line override the config file; note which were */
	bool timeout_given = false;
	for (int i = 1; i < argc && strcmp(argv[i], "--"); i++)
		timeout_given |= strncmp(argv[i], "--runtime-request-timeout", 25) == 0;
	int rc = kc_flags_parse(&fs, argc, argv, NULL, err, sizeof(err));
	if (rc == KC_FLAGS_HELP)
		return 0;
	if (rc < 0) {
		fprintf(stderr, "Error: %s\n", err);
		return 1;
	}
	if (version) {
		printf("Kubernetes %s\n", KUBELET_VERSION);
		return 0;
	}

	/* Block SIGTERM/SIGINT before any thread exists (the CRI I/O thread inherits the
	 * mask), so they are only ever read from the signalfd of the main loop. */
	sigset_t mask;
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	pthread_sigmask(SIG_BLOCK, &mask, NULL);

	kubelet_config cfg;
	if (kcfg_init(&cfg) < 0)
		return 1;
	if (config_path[0] && kcfg_load_file(&cfg, config_path, err, sizeof(err)) < 0) {
		kc_error("\"Failed to load kubelet config file\" err=\"%s\" path=\"%s\"", err, config_path);
		return 1;
	}
	/* flags override the file (as upstream's kubeletFlags/kubeletConfig merge) */
	if (endpoint)
		kcfg_set_str(&cfg.container_runtime_endpoint, endpoint);
	if (timeout_given)
		cfg.runtime_request_timeout_ns = req_timeout;
	if (manifest_path && kcfg_set_str(&cfg.static_pod_path, manifest_path) < 0)
		return 1;
	if (kcfg_validate(&cfg, err, sizeof(err)) < 0) {
		kc_error("\"Failed to validate kubelet configuration\" err=\"%s\"", err);
		return 1;
	}
	if (strcmp(cfg.cgroup_driver, "cgroupfs") != 0)
		kc_warn("cgroupDriver %s: only cgroupfs is supported on machines without systemd", cfg.cgroup_driver);

	/* the container runtime, as kubelet's start-up validates it */
	cri_client cri;
	rc = cri_client_init(&cri, cfg.container_runtime_endpoint, cfg.runtime_request_timeout_ns / 1000000);
	if (rc < 0) {
		kc_error("invalid container runtime endpoint \"%s\": %s", cfg.container_runtime_endpoint, kc_strerror(rc));
		return 1;
	}
	/* the fake runtime (hollow nodes) hands out pod IPs from podCIDR, as upstream's
	 * runtime gets it through UpdateRuntimeConfig */
	if (cri_client_is_fake(&cri) && cfg.pod_cidr && cfg.pod_cidr[0] && cri_fake_set_pod_cidr(cri.fake, cfg.pod_cidr) < 0) {
		kc_error("\"Failed to set the fake runtime's pod CIDR\" podCIDR=\"%s\": an IPv4 CIDR with a /8../30 prefix is required",
			 cfg.pod_cidr);
		cri_client_close(&cri);
		return 1;
	}
	Runtime__V1__VersionResponse *v = NULL;
	cri_grpc_status st;
	rc = cri_version(&cri, &v, &st);
	if (rc < 0) {
		kc_error("\"Failed to get runtime version\" err=\"rpc error: code = %s desc = %s\"",
			 cri_grpc_code_name(st.code), st.message);
		cri_client_close(&cri);
		return 1;
	}
	kc_info("\"Container runtime initialized\" containerRuntime=\"%s\" version=\"%s\" apiVersion=\"%s\"",
		v->runtime_name, v->runtime_version, v->runtime_api_version);
	node_facts facts;
	rc = node_gather(&facts, hostname_override, node_ip, root_dir, err, sizeof(err));
	if (rc < 0) {
		kc_error("\"Failed to gather node facts\" err=\"%s\"", err[0] ? err : kc_strerror(rc));
		cri_msg_free(v);
		cri_client_close(&cri);
		return 1;
	}
	snprintf(facts.runtime_version, sizeof(facts.runtime_version), "%s://%s", v->runtime_name, v->runtime_version);
	cri_msg_free(v);

	kc_client *api = NULL;
	if (!kubeconfig[0]) {
		/* upstream: "No API server defined - no node status update will be sent" */
		kc_info("\"Standalone mode: no --kubeconfig, no node status update will be sent; running static pods only\" "
			"staticPodPath=\"%s\"", cfg.static_pod_path ? cfg.static_pod_path : "");
	} else {
		kc_kubeconfig kc;
		memset(&kc, 0, sizeof(kc));
		if (kc_kubeconfig_load_file(&kc, kubeconfig, NULL, err, sizeof(err)) < 0) {
			kc_error("\"Failed to load kubeconfig\" err=\"%s\"", err);
			cri_client_close(&cri);
			return 1;
		}
		kc_client_opts copts = { .user_agent = "kubelet/" KUBELET_VERSION " (linux/amd64) kubec" };
		rc = kc_client_new(&kc, &copts, &api);
		kc_kubeconfig_close(&kc);
		if (rc < 0) {
			kc_error("\"Failed to create API client\" err=\"%s\"", kc_strerror(rc));
			cri_client_close(&cri);
			return 1;
		}
	}

	int sfd = signalfd(-1, &mask, SFD_CLOEXEC);

	node_readiness rd;
	char rd_msg[512];
	runtime_readiness(&cri, &rd, rd_msg, sizeof(rd_msg));
	pw_config pwc = { .api = api, .cri = &cri, .cfg = &cfg, .node_name = facts.name, .node_ip = facts.internal_ip,
			  .pod_logs_dir = pod_logs_dir, .cgroup_root = cgroup_root, .root_dir = root_dir };
	/* the node's allocatable, for resourceFieldRef of containers without limits */
	{
		cJSON *ns = node_build_status(&facts, &cfg, &rd, wall_ns());
		kc_quantity q;
		char qe[64];
		if (kc_quantity_from_json(kc_json_get(ns, "allocatable.cpu"), &q, qe, sizeof(qe)) == 0)
			pwc.alloc_cpu_milli = kc_quantity_milli_value(&q);
		if (kc_quantity_from_json(kc_json_get(ns, "allocatable.memory"), &q, qe, sizeof(qe)) == 0)
			pwc.alloc_memory = kc_quantity_value(&q);
		const cJSON *es = cJSON_GetObjectItemCaseSensitive(kc_json_get(ns, "allocatable"), "ephemeral-storage");
		if (es && kc_quantity_from_json(es, &q, qe, sizeof(qe)) == 0)
			pwc.alloc_ephemeral = kc_quantity_value(&q);
		cJSON_Delete(ns);
	}
	pw_manager *pods = NULL;
	rc = pw_manager_new(&pwc, &pods);
	if (rc < 0 || (rc = pw_manager_start(pods)) < 0) {
		kc_error("\"Failed to start the pod manager\" err=\"%s\"", kc_strerror(rc));
		pw_manager_free(pods);
		kc_client_free(api);
		cri_client_close(&cri);
		return 1;
	}
	/* the kubelet server (10250) and the healthz port (10248) */
	ksrv *srv = NULL;
	if (cfg.enable_server || cfg.healthz_port > 0) {
		ksrv_config sc = { .address = cfg.address, .port = cfg.enable_server ? cfg.port : 0,
				   .healthz_address = cfg.healthz_bind_address, .healthz_port = cfg.healthz_port,
				   .tls_cert_file = cfg.tls_cert_file, .tls_key_file = cfg.tls_private_key_file,
				   .client_ca_file = cfg.client_ca_file, .anonymous = cfg.anonymous_auth,
				   .authorization_mode = cfg.authorization_mode, .root_dir = root_dir,
				   .node_name = facts.name, .node_ip = facts.internal_ip, .pods = pods };
		rc = ksrv_start(&sc, &srv, err, sizeof(err));
		if (rc == -EADDRINUSE) {
			/* upstream exits here; kubec's tests and `make up` share one machine, so a
			 * port held by another kubelet costs only this server (logged), not the pods */
			kc_error("\"Failed to start the kubelet server, running without it\" err=\"%s\"", err);
			srv = NULL;
		} else if (rc < 0) {
			kc_error("\"Failed to start the kubelet server\" err=\"%s\"", err);
			pw_manager_free(pods);
			kc_client_free(api);
			cri_client_close(&cri);
			return 1;
		}
	}
	char uid[64] = "", lease_rv[64] = "";
	int registered = 0, stop = 0;
	int64_t backoff = 100 * 1000000LL; /* registerWithAPIServer: 100ms doubling to 7s */
	kc_status kst;
	int exit_code = 0;
	if (!api) {
		kc_sd_notify("READY=1");
		while (!stop) {
			pw_cleanup_orphans(pods);
			malloc_trim(0);
			stop = wait_signal(sfd, 10 * 1000000000LL);
		}
	}
	while (api && !stop && !registered) {
		cJSON *node = node_build(&facts, &cfg, &node_labels, &taints, &rd, wall_ns(), err, sizeof(err));
		if (!node) {
			kc_error("\"Unable to construct v1.Node object for kubelet\" err=\"%s\"", err);
			exit_code = 1;
			break;
		}
		rc = node_register(api, node, uid, sizeof(uid), &kst);
		cJSON_Delete(node);
		if (rc == 0) {
			registered = 1;
			kc_info("\"Successfully registered node\" node=\"%s\"", facts.name);
			/* mirror pods of static pods are owned by the Node */
			pw_manager_set_node_uid(pods, uid);
			kc_sd_notify("READY=1");
			break;
		}
		kc_error("\"Unable to register node with API server\" err=\"%s\" node=\"%s\"",
			 kst.message[0] ? kst.message : kc_strerror(rc), facts.name);
		stop = wait_signal(sfd, backoff);
		backoff = backoff * 2 > 7000 * 1000000LL ? 7000 * 1000000LL : backoff * 2;
	}
	int64_t lease_every = lease_renew_interval_ns(cfg.node_lease_duration_seconds);
	int64_t next_lease = mono_ns(), next_status = mono_ns() + cfg.node_status_update_frequency_ns;
	while (registered && !stop) {
		int64_t now = mono_ns();
		if (now >= next_lease) {
			rc = lease_renew(api, facts.name, uid, cfg.node_lease_duration_seconds, wall_ns(), lease_rv,
					 sizeof(lease_rv), &kst);
			if (rc < 0)
				kc_error("\"Failed to update lease\" err=\"%s\"", kst.message[0] ? kst.message : kc_strerror(rc));
			else
				kc_log_v(4, "renewed lease %s/%s", LEASE_NAMESPACE, facts.name);
			/* upstream retries a failed renewal sooner (200ms doubling); keep it simple */
			next_lease = now + (rc < 0 ? 1000000000LL : lease_every);
		}
		if (now >= next_status) {
			runtime_readiness(&cri, &rd, rd_msg, sizeof(rd_msg));
			cJSON *s = node_build_status(&facts, &cfg, &rd, wall_ns());
			rc = node_update_status(api, facts.name, s, &kst);
			cJSON_Delete(s);
			if (rc < 0)
				kc_error("\"Error updating node status, will retry\" err=\"%s\"",
					 kst.message[0] ? kst.message : kc_strerror(rc));
			next_status = now + cfg.node_status_update_frequency_ns;
		}
		pw_cleanup_orphans(pods);
		/* give the pages freed after a burst of pod starts back to the system (glibc
		 * keeps them in its heaps otherwise; ~3-5 MB at 100 pods, test/bench/kubelet) */
		malloc_trim(0);
		int64_t next = next_lease < next_status ? next_lease : next_status;
		stop = wait_signal(sfd, next - mono_ns());
	}
	if (sfd >= 0)
		close(sfd);
	ksrv_stop(srv);
	pw_manager_free(pods);
	kc_client_free(api);
	cri_client_close(&cri);
	kc_strlist_free(&node_labels);
	kc_strlist_free(&taints);
	kcfg_close(&cfg);
	return exit_code;
}
