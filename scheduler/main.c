/* kube-scheduler: parses upstream's flags and KubeSchedulerConfiguration, starts the pod
 * and node informers, the /healthz and /metrics endpoint, and (as the Lease leader when
 * leader election is on) the scheduling loop. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "api.h"
#include "client.h"
#include "config.h"
#include "errors.h"
#include "event_sink.h"
#include "events.h"
#include "flags.h"
#include "informer.h"
#include "kubeconfig.h"
#include "leader.h"
#include "log.h"
#include "scheduler.h"
#include "sdnotify.h"
#include "serving.h"
#include "transform.h"

typedef struct daemon_state {
	sched_scheduler sched;
	sched_client_api api;
	kc_leader *leader;
	atomic_int stop;
	atomic_int running;
	pthread_t loop_thread, flush_thread;
} daemon_state;

static daemon_state D;

/* ---- informer glue: handlers only feed the cache and the queue ---- */
static void pod_add(const cJSON *o, void *a) { sched_on_pod_add(a, o); }
static void pod_update(const cJSON *o, const cJSON *n, void *a) { sched_on_pod_update(a, o, n); }
static void pod_delete(const cJSON *o, int u, void *a)
{
	(void)u;
	sched_on_pod_delete(a, o);
}
static void node_add(const cJSON *o, void *a) { sched_on_node_add(a, o); }
static void node_update(const cJSON *o, const cJSON *n, void *a) { sched_on_node_update(a, o, n); }
static void node_delete(const cJSON *o, int u, void *a)
{
	(void)u;
	sched_on_node_delete(a, o);
}

static void pdb_add(const cJSON *o, void *a) { sched_on_pdb_upsert(a, o); }
static void pdb_update(const cJSON *o, const cJSON *n, void *a)
{
	(void)o;
	sched_on_pdb_upsert(a, n);
}
static void pdb_delete(const cJSON *o, int u, void *a)
{
	(void)u;
	sched_on_pdb_delete(a, o);
}

static void *loop_main(void *arg)
{
	daemon_state *d = arg;
	while (!atomic_load(&d->stop))
		sched_schedule_one(&d->sched, 500 * KC_NSEC_PER_MSEC);
	return NULL;
}

/* flushBackoffQCompleted every second; the 5-minute unschedulable flush rides along */
static void *flush_main(void *arg)
{
	daemon_state *d = arg;
	while (!atomic_load(&d->stop)) {
		struct timespec ts = { 0, 100 * 1000 * 1000 };
		for (int i = 0; i < 10 && !atomic_load(&d->stop); i++)
			nanosleep(&ts, NULL);
		sched_queue_flush(&d->sched.queue);
	}
	return NULL;
}

static void start_scheduling(daemon_state *d)
{
	if (atomic_exchange(&d->running, 1))
		return;
	kc_info("starting the scheduling loop");
	/* binding cycles run beside the scheduling loop, as upstream's goroutines */
	int rc = sched_scheduler_start_binders(&d->sched, 8);
	if (rc != 0)
		kc_warn("binder threads: %s; binding inline", kc_strerror(rc));
	pthread_create(&d->loop_thread, NULL, loop_main, d);
	pthread_create(&d->flush_thread, NULL, flush_main, d);
}

static void on_started_leading(void *arg)
{
	start_scheduling(arg);
}

static void on_stopped_leading(void *arg)
{
	daemon_state *d = arg;
	if (atomic_load(&d->stop))
		return;
	/* as upstream: a scheduler that lost its lease must not keep binding */
	kc_error("leaderelection lost");
	_exit(1);
}

static void on_new_leader(void *arg, const char *id)
{
	(void)arg;
	kc_info("new leader elected: %s", id);
}

/* ---- /healthz and /metrics (HTTPS as upstream; plain HTTP only with --insecure-serving) ---- */
static enum MHD_Result reply(struct MHD_Connection *c, unsigned code, const char *ctype,
			     char *body, bool owned)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(
		strlen(body), body, owned ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, "Content-Type", ctype);
	enum MHD_Result ret = MHD_queue_response(c, code, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result on_http(void *cls, struct MHD_Connection *c, const char *url,
			       const char *method, const char *version, const char *upload,
			       size_t *upload_size, void **con_cls)
{
	(void)version;
	(void)upload;
	(void)upload_size;
	(void)con_cls;
	daemon_state *d = cls;
	if (strcmp(method, "GET") != 0)
		return reply(c, 405, "text/plain", "method not allowed\n", false);
	if (!strcmp(url, "/healthz") || !strcmp(url, "/livez") || !strcmp(url, "/readyz")) {
		if (d->leader && kc_leader_check(d->leader, 20 * KC_NSEC_PER_SEC) != 0)
			return reply(c, 500, "text/plain",
				     "[-]leaderElection failed: lease expired\nhealthz check failed\n",
				     false);
		return reply(c, 200, "text/plain", "ok", false);
	}
	if (!strcmp(url, "/metrics")) {
		char *m = sched_metrics_text(&d->sched);
		if (!m)
			return reply(c, 500, "text/plain", "out of memory\n", false);
		return reply(c, 200, "text/plain; version=0.0.4", m, true);
	}
	return reply(c, 404, "text/plain", "404 page not found\n", false);
}

int main(int argc, char **argv)
{
	const char *kubeconfig = "", *config_path = "", *bind_address = "0.0.0.0";
	const char *master = "";
	const char *tls_cert = "", *tls_key = "", *cert_dir = "";
	bool insecure_serving = false;
	int secure_port = 10259;
	bool leader_elect = true;
	const char *lock_ns = "", *lock_name = "";
	const kc_flag flags[] = {
		{ "kubeconfig", 0, KC_FLAG_STRING, &kubeconfig,
		  "Path to kubeconfig file with authorization and master location information" },
		{ "master", 0, KC_FLAG_STRING, &master,
		  "The address of the Kubernetes API server (overrides any value in kubeconfig)" },
		{ "config", 0, KC_FLAG_STRING, &config_path,
		  "The path to the configuration file (KubeSchedulerConfiguration v1)" },
		{ "leader-elect", 0, KC_FLAG_BOOL, &leader_elect,
		  "Start a leader election client and gain leadership before executing the main "
		  "loop" },
		{ "leader-elect-resource-namespace", 0, KC_FLAG_STRING, &lock_ns,
		  "The namespace of the lock object (default kube-system)" },
		{ "leader-elect-resource-name", 0, KC_FLAG_STRING, &lock_name,
		  "The name of the lock object (default kube-scheduler)" },
		{ "bind-address", 0, KC_FLAG_STRING, &bind_address,
		  "The IP address on which to listen for the --secure-port port" },
		{ "secure-port", 0, KC_FLAG_INT, &secure_port,
		  "The port on which to serve HTTPS (/healthz, /metrics; kubec does no "
		  "authentication or authorization on them); 0 disables it" },
		{ "tls-cert-file", 0, KC_FLAG_STRING, &tls_cert,
		  "File containing the default x509 Certificate for HTTPS. If HTTPS serving is "
		  "enabled, and --tls-cert-file and --tls-private-key-file are not provided, a "
		  "self-signed certificate and key are generated for the public address and saved "
		  "to the directory specified by --cert-dir" },
		{ "tls-private-key-file", 0, KC_FLAG_STRING, &tls_key,
		  "File containing the default x509 private key matching --tls-cert-file" },
		{ "cert-dir", 0, KC_FLAG_STRING, &cert_dir,
		  "The directory where the TLS certs are located. If --tls-cert-file and "
		  "--tls-private-key-file are provided, this flag will be ignored" },
		{ "insecure-serving", 0, KC_FLAG_BOOL, &insecure_serving,
		  "kubec only: serve /healthz and /metrics over plain HTTP on --secure-port "
		  "instead of HTTPS (upstream removed its insecure port in v1.24)" },
		{ NULL, 0, 0, NULL, NULL },
	};
	kc_flagset fs = { .prog = "kube-scheduler",
			  .summary = "The Kubernetes scheduler (kubec).",
			  .flags = flags };
	/* was --leader-elect given? (else the config file decides) */
	bool leader_flag_given = false;
	for (int i = 1; i < argc; i++)
		if (!strncmp(argv[i], "--leader-elect", 14) &&
		    (argv[i][14] == '\0' || argv[i][14] == '='))
			leader_flag_given = true;
	char err[1024];
	int rc = kc_flags_parse(&fs, argc, argv, NULL, err, sizeof(err));
	if (rc == KC_FLAGS_HELP)
		return 0;
	if (rc != 0) {
		fprintf(stderr, "Error: %s\n", err);
		return 1;
	}

	static sched_config cfg;
	sched_config_default(&cfg);
	if (*config_path && sched_config_load(&cfg, config_path, err, sizeof(err)) != 0) {
		fprintf(stderr, "E kube-scheduler: invalid configuration file %s: %s\n", config_path,
			err);
		return 1;
	}
	if (leader_flag_given)
		cfg.leader_elect = leader_elect;
	if (*lock_ns)
		snprintf(cfg.lease_namespace, sizeof(cfg.lease_namespace), "%s", lock_ns);
	if (*lock_name)
		snprintf(cfg.lease_name, sizeof(cfg.lease_name), "%s", lock_name);
	const char *kcpath = *kubeconfig ? kubeconfig : cfg.kubeconfig;

	kc_kubeconfig kc;
	memset(&kc, 0, sizeof(kc));
	rc = kc_kubeconfig_from_flags(&kc, *master ? master : NULL, *kcpath ? kcpath : NULL, err,
				      sizeof(err));
	if (rc != 0) {
		kc_error("invalid kubeconfig: %s", err);
		return 1;
	}
	kc_client *client = NULL;
	if ((rc = kc_client_new(&kc, NULL, &client)) != 0) {
		kc_error("creating the API client: %s", kc_strerror(rc));
		return 1;
	}

	/* signals are taken by sigwait in this thread only */
	sigset_t sigs;
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);

	/* bindings and Scheduled events over the scheduler's own keep-alive connections
	 * (poster.h; the user agent is kc_client's default, which the client above uses) */
	sched_poster *poster = NULL;
	rc = sched_poster_new(&kc, "kubec/v0.1 (linux/amd64)", &poster);
	if (rc != 0) {
		kc_log_v(2, "bindings and events through the API client: %s", kc_strerror(rc));
		poster = NULL;
	}
	kc_event_sink *sink = NULL;
	kc_recorder *rec = NULL;
	char host[256] = "";
	gethostname(host, sizeof(host) - 1);
	if (sched_event_sink_new(client, poster, &sink) == 0) {
		/* Upstream's scheduler records through the events/v1 broadcaster, which
		 * writes each event in its own goroutine: under a burst every Scheduled
		 * event is written, not only what one writer keeps up with (a single
		 * writer dropped about 9 in 10 of them at 2,000 pods/s). */
		kc_recorder_options ro = { .component = "default-scheduler", .host = NULL,
					   .sink = sink, .workers = 8 };
		if (kc_recorder_new(&ro, &rec) != 0)
			rec = NULL;
	}
	sched_client_api_init(&D.api, client, rec, NULL);
	D.api.poster = poster;
	sched_scheduler_init(&D.sched, &cfg, &D.api.base, NULL);

	kc_informer *pods = NULL, *nodes = NULL;
	kc_informer_opts po = { .path = "/api/v1/pods",
				.field_selector = "status.phase!=Succeeded,status.phase!=Failed",
				.name = "pods",
				.transform = sched_transform_pod,
				.no_default_indexes = 1 };
	/* no informer index is read (the cache and the queue are the scheduler's own) */
	kc_informer_opts no = { .path = "/api/v1/nodes", .name = "nodes",
				.transform = sched_transform_node,
				.no_default_indexes = 1 };
	kc_informer_handlers ph = { pod_add, pod_update, pod_delete, &D.sched };
	kc_informer_handlers nh = { node_add, node_update, node_delete, &D.sched };
	/* PodDisruptionBudgets for preemption; not waited for (an apiserver without
	 * policy/v1 only means no PDB is respected) */
	kc_informer *pdbs = NULL;
	kc_informer_opts pdo = { .path = "/apis/policy/v1/poddisruptionbudgets",
				 .name = "poddisruptionbudgets",
				 .transform = sched_transform_strip_managed };
	kc_informer_handlers pdh = { pdb_add, pdb_update, pdb_delete, &D.sched };
	if (kc_informer_new(client, &po, &pods) || kc_informer_new(client, &no, &nodes) ||
	    kc_informer_new(client, &pdo, &pdbs) || kc_informer_add_handlers(pods, &ph) ||
	    kc_informer_add_handlers(nodes, &nh) || kc_informer_add_handlers(pdbs, &pdh)) {
		kc_error("creating informers failed");
		return 1;
	}

	struct MHD_Daemon *mhd = NULL;
	char *serving_cert = NULL, *serving_key = NULL;
	if (secure_port < 0 || secure_port > 65535) {
		kc_error("--secure-port %d: must be between 0 and 65535", secure_port);
		return 1;
	}
	if (secure_port > 0) {
		struct sockaddr_in sa;
		memset(&sa, 0, sizeof(sa));
		sa.sin_family = AF_INET;
		sa.sin_port = htons((uint16_t)secure_port);
		if (inet_pton(AF_INET, bind_address, &sa.sin_addr) != 1) {
			kc_error("--bind-address %s: not an IPv4 address", bind_address);
			return 1;
		}
		if (insecure_serving) {
			mhd = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD,
					       (uint16_t)secure_port, NULL, NULL, on_http, &D,
					       MHD_OPTION_SOCK_ADDR, &sa, MHD_OPTION_END);
		} else {
			sched_serving_opts so = { .cert_file = tls_cert, .key_file = tls_key,
						  .cert_dir = cert_dir, .bind_address = bind_address };
			if ((rc = sched_serving_cert(&so, &serving_cert, &serving_key, err,
						     sizeof(err))) != 0) {
				kc_error("serving certificate: %s", err);
				return 1;
			}
			mhd = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_TLS,
					       (uint16_t)secure_port, NULL, NULL, on_http, &D,
					       MHD_OPTION_SOCK_ADDR, &sa, MHD_OPTION_HTTPS_MEM_KEY,
					       serving_key, MHD_OPTION_HTTPS_MEM_CERT, serving_cert,
					       MHD_OPTION_END);
		}
		if (!mhd) {
			kc_error("failed to listen on %s:%d", bind_address, secure_port);
			return 1;
		}
		if (insecure_serving)
			kc_info("Serving insecurely on %s:%d (plain HTTP: /healthz, /metrics)",
				bind_address, secure_port);
		else
			kc_info("Serving securely on %s:%d", bind_address, secure_port);
	}

	kc_informer_start(pods);
	kc_informer_start(nodes);
	kc_informer_start(pdbs);
	while (kc_informer_wait_for_sync(nodes, 1000) != 0 ||
	       kc_informer_wait_for_sync(pods, 1000) != 0) {
		int sig;
		struct timespec zero = { 0, 0 };
		if (sigtimedwait(&sigs, NULL, &zero) > 0) {
			(void)sig;
			kc_info("terminating before the caches synced");
			return 0;
		}
	}
	kc_info("caches synced: %d node(s), %d pod(s)", kc_informer_count(nodes),
		kc_informer_count(pods));

	kc_leader_lock *lock = NULL;
	if (cfg.leader_elect) {
		char id[KC_LEADER_HOLDER_MAX];
		kc_leader_default_identity(id, sizeof(id), NULL);
		if ((rc = kc_leader_lease_lock_new(client, cfg.lease_namespace, cfg.lease_name,
						   &lock)) != 0) {
			kc_error("lease lock: %s", kc_strerror(rc));
			return 1;
		}
		kc_leader_config lc = { .lock = lock, .identity = id, .release_on_cancel = true,
					.cb = { on_started_leading, on_stopped_leading, on_new_leader,
						&D } };
		if ((rc = kc_leader_new(&lc, &D.leader)) != 0) {
			kc_error("leader election: %s", kc_strerror(rc));
			return 1;
		}
		kc_info("attempting to acquire leader lease %s/%s...", cfg.lease_namespace,
			cfg.lease_name);
		kc_leader_start(D.leader);
	} else {
		start_scheduling(&D);
	}

	/* /healthz serves and the caches are synced; leadership may still be pending (the
	 * upstream unit is Type=simple, so READY=1 is only informative here). */
	kc_sd_notify("READY=1");
	int sig = 0;
	sigwait(&sigs, &sig);
	kc_sd_notify("STOPPING=1");
	kc_info("received signal %d, shutting down", sig);
	atomic_store(&D.stop, 1);
	sched_queue_shutdown(&D.sched.queue);
	if (D.leader) {
		kc_leader_stop(D.leader);
		kc_leader_free(D.leader);
		kc_leader_lease_lock_free(lock);
	}
	if (atomic_load(&D.running)) {
		pthread_join(D.loop_thread, NULL);
		pthread_join(D.flush_thread, NULL);
	}
	kc_informer_free(pods);
	kc_informer_free(nodes);
	kc_informer_free(pdbs);
	if (mhd)
		MHD_stop_daemon(mhd);
	free(serving_cert);
	free(serving_key);
	if (rec) {
		kc_recorder_flush(rec, 2 * KC_NSEC_PER_SEC);
		kc_recorder_free(rec);
	}
	sched_event_sink_free(sink);
	sched_scheduler_close(&D.sched);
	sched_poster_free(poster);
	kc_client_free(client);
	kc_kubeconfig_close(&kc);
	return 0;
}
