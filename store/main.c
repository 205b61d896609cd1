/* kube-store: an etcd-v3-compatible, durable MVCC key-value store, replicated by Raft.
 *
 * main only parses etcd's flags, opens the engine (kv.h) and starts the client server
 * (server.h), then waits for SIGTERM/SIGINT and closes both cleanly. */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "errors.h"
#include "flags.h"
#include "kv.h"
#include "log.h"
#include "sdnotify.h"
#include "server.h"

/* The etcd release whose API, flags and wire encoding kube-store reproduces. */
#define ETCD_API_VERSION "3.4.23"

static char *default_listen[] = { "http://localhost:2379" };
static char *default_peer[] = { "http://localhost:2380" };

int main(int argc, char **argv)
{
	const char *name = "default", *data_dir = "";
	kc_strlist listen = { default_listen, 1, false };
	kc_strlist advertise = { default_listen, 1, false };
	kc_strlist adv_peer = { default_peer, 1, false };
	kc_strlist listen_peer = { default_peer, 1, false };
	int64_t snapshot_count = 100000, quota = 0, max_request = 1572864, max_txn_ops = 128;
	const char *compaction_mode = "periodic", *compaction_retention = "0";
	const char *cert = "", *key = "", *ca = "", *log_level = "info";
	bool client_cert_auth = false, version = false, no_fsync = false;
	const char *initial_cluster = "", *initial_state = "new", *initial_token = "etcd-cluster";
	const char *peer_cert = "", *peer_key = "", *peer_ca = "";
	bool peer_client_cert_auth = false;
	const char *logger = "", *log_outputs = "";
	int64_t heartbeat = 100, election = 1000;
	bool enable_v2 = false, enable_pprof = false;
	int workers = 128;

	const kc_flag flags[] = {
		{ "name", 0, KC_FLAG_STRING, &name, "Human-readable name for this member." },
		{ "data-dir", 0, KC_FLAG_STRING, &data_dir, "Path to the data directory (default `${name}.etcd`)." },
		{ "listen-client-urls", 0, KC_FLAG_STRINGS, &listen, "List of URLs to listen on for client traffic." },
		{ "advertise-client-urls", 0, KC_FLAG_STRINGS, &advertise, "List of this member's client URLs to advertise to the public." },
		{ "listen-peer-urls", 0, KC_FLAG_STRINGS, &listen_peer, "List of URLs to listen on for peer traffic." },
		{ "initial-advertise-peer-urls", 0, KC_FLAG_STRINGS, &adv_peer, "List of this member's peer URLs to advertise to the rest of the cluster." },
		{ "initial-cluster", 0, KC_FLAG_STRING, &initial_cluster, "Initial cluster configuration for bootstrapping." },
		{ "initial-cluster-state", 0, KC_FLAG_STRING, &initial_state, "Initial cluster state ('new' or 'existing')." },
		{ "initial-cluster-token", 0, KC_FLAG_STRING, &initial_token, "Initial cluster token for the etcd cluster during bootstrap." },
		{ "heartbeat-interval", 0, KC_FLAG_INT64, &heartbeat, "Time (in milliseconds) of a heartbeat interval." },
		{ "election-timeout", 0, KC_FLAG_INT64, &election, "Time (in milliseconds) for an election to timeout." },
		{ "peer-cert-file", 0, KC_FLAG_STRING, &peer_cert, "Path to the peer server TLS cert file." },
		{ "peer-key-file", 0, KC_FLAG_STRING, &peer_key, "Path to the peer server TLS key file." },
		{ "peer-trusted-ca-file", 0, KC_FLAG_STRING, &peer_ca, "Path to the peer server TLS trusted CA file." },
		{ "peer-client-cert-auth", 0, KC_FLAG_BOOL, &peer_client_cert_auth, "Enable peer client cert authentication." },
		{ "snapshot-count", 0, KC_FLAG_INT64, &snapshot_count, "Number of committed transactions to trigger a snapshot to disk." },
		{ "auto-compaction-mode", 0, KC_FLAG_STRING, &compaction_mode, "Interpret 'auto-compaction-retention' one of: periodic|revision." },
		{ "auto-compaction-retention", 0, KC_FLAG_STRING, &compaction_retention, "Auto compaction retention for mvcc key value store. 0 means disable auto compaction." },
		{ "quota-backend-bytes", 0, KC_FLAG_INT64, &quota, "Raise alarms when backend size exceeds the given quota. 0 means use the default quota (2 GiB)." },
		{ "max-request-bytes", 0, KC_FLAG_INT64, &max_request, "Maximum client request size in bytes the server will accept." },
		{ "max-txn-ops", 0, KC_FLAG_INT64, &max_txn_ops, "Maximum number of operations permitted in a transaction." },
		{ "cert-file", 0, KC_FLAG_STRING, &cert, "Path to the client server TLS cert file." },
		{ "key-file", 0, KC_FLAG_STRING, &key, "Path to the client server TLS key file." },
		{ "trusted-ca-file", 0, KC_FLAG_STRING, &ca, "Path to the client server TLS trusted CA cert file." },
		{ "client-cert-auth", 0, KC_FLAG_BOOL, &client_cert_auth, "Enable client cert authentication." },
		{ "log-level", 0, KC_FLAG_STRING, &log_level, "Configures log level. Only supports debug, info, warn, error." },
		{ "logger", 0, KC_FLAG_STRING, &logger, "Accepted for compatibility (klog-style output only)." },
		{ "log-outputs", 0, KC_FLAG_STRING, &log_outputs, "Accepted for compatibility (logs go to stderr)." },
		{ "enable-v2", 0, KC_FLAG_BOOL, &enable_v2, "Accepted for compatibility (no v2 API)." },
		{ "enable-pprof", 0, KC_FLAG_BOOL, &enable_pprof, "Accepted for compatibility." },
		{ "unsafe-no-fsync", 0, KC_FLAG_BOOL, &no_fsync, "Disables fsync, unsafe, will cause data loss." },
		{ "experimental-client-workers", 0, KC_FLAG_INT, &workers, "kubec: threads serving blocking client requests." },
		{ "version", 0, KC_FLAG_BOOL, &version, "Print the version and exit." },
		{ NULL, 0, 0, NULL, NULL },
	};
	const kc_flagset fs = {
		.prog = "kube-store",
		.summary = "kube-store: an etcd-v3-compatible key-value store (etcd 3.4's client API).",
		.flags = flags,
	};
	char err[512];
	int rc = kc_flags_parse(&fs, argc, argv, NULL, err, sizeof(err));
	if (rc == KC_FLAGS_HELP)
		return 0;
	if (rc) {
		fprintf(stderr, "kube-store: %s\n", err);
		return 1;
	}
	if (version) {
		printf("kube-store Version: %s\nAPI Version: 3.4\n", ETCD_API_VERSION);
		return 0;
	}
	if (strcmp(log_level, "debug") == 0)
		kc_log_set_verbosity(kc_log_verbosity > 4 ? kc_log_verbosity : 4);
	else if (strcmp(log_level, "warn") == 0)
		kc_log_set_min_severity(KC_LOG_WARN);
	else if (strcmp(log_level, "error") == 0)
		kc_log_set_min_severity(KC_LOG_ERROR);
	else if (strcmp(log_level, "info")) {
		fprintf(stderr, "kube-store: unknown log level %s\n", log_level);
		return 1;
	}
	enum kv_compaction_mode cmode;
	if (strcmp(compaction_mode, "periodic") == 0) {
		cmode = KV_COMPACT_PERIODIC;
	} else if (strcmp(compaction_mode, "revision") == 0) {
		cmode = KV_COMPACT_REVISION;
	} else {
		fprintf(stderr, "kube-store: unknown auto-compaction-mode \"%s\"\n", compaction_mode);
		return 1;
	}
	if (quota < 0 || max_request <= 0 || max_txn_ops <= 0 || max_txn_ops > UINT32_MAX ||
	    snapshot_count < 0 || workers <= 0) {
		fprintf(stderr, "kube-store: --quota-backend-bytes, --max-request-bytes, --max-txn-ops, "
				"--snapshot-count and --experimental-client-workers must be positive\n");
		return 1;
	}
	/* etcd's embed.Config.Validate messages. */
	if (strcmp(initial_state, "new") != 0 && strcmp(initial_state, "existing") != 0) {
		fprintf(stderr, "kube-store: invalid value \"%s\" for flag -initial-cluster-state: "
				"valid values are \"new\", \"existing\"\n", initial_state);
		return 1;
	}
	if (heartbeat <= 0 || 5 * heartbeat > election) {
		fprintf(stderr, "kube-store: --election-timeout[%lldms] should be at least as 5 times "
				"as --heartbeat-interval[%lldms]\n", (long long)election, (long long)heartbeat);
		return 1;
	}
	if (election > 50000) {
		fprintf(stderr, "kube-store: --election-timeout[%lldms] is too long, and should be set "
				"less than 50000ms\n", (long long)election);
		return 1;
	}
	bool explicit_peer_listen = listen_peer.items != default_peer;
	char dd[4096];
	if (!*data_dir) {
		snprintf(dd, sizeof(dd), "%s.etcd", name);
		data_dir = dd;
	}

	/* Many watch streams mean many sockets. */
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	/* Signals are taken by sigwait below; every thread inherits this mask. */
	sigset_t sigs;
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);

	kc_info("starting kube-store (etcd API %s) name=%s data-dir=%s", ETCD_API_VERSION, name,
		data_dir);
	struct kv_config kc = {
		.data_dir = data_dir,
		.name = name,
		.peer_urls = (const char *const *)adv_peer.items,
		.n_peer_urls = adv_peer.n,
		.client_urls = (const char *const *)advertise.items,
		.n_client_urls = advertise.n,
		.snapshot_count = (uint64_t)snapshot_count,
		.quota_bytes = quota,
		.auto_compaction_mode = cmode,
		.auto_compaction_retention = compaction_retention,
		.max_txn_ops = (uint32_t)max_txn_ops,
		.unsafe_no_fsync = no_fsync,
		.initial_cluster = initial_cluster,
		.initial_cluster_token = initial_token,
		.initial_cluster_existing = strcmp(initial_state, "existing") == 0,
		.listen_peer_urls = (const char *const *)listen_peer.items,
		.n_listen_peer_urls = listen_peer.n,
		.peer_listen_optional = !explicit_peer_listen,
		.heartbeat_ms = heartbeat,
		.election_ms = election,
		.peer_cert_file = peer_cert,
		.peer_key_file = peer_key,
		.peer_trusted_ca_file = peer_ca,
		.peer_client_cert_auth = peer_client_cert_auth,
	};
	struct kv *kv = NULL;
	rc = kv_open(&kc, &kv);
	if (rc) {
		kc_error("cannot open data dir %s: %s", data_dir, kv_errmsg(rc));
		fprintf(stderr, "kube-store: cannot open data dir %s: %s\n", data_dir, kv_errmsg(rc));
		return 1;
	}
	kc_info("opened data dir %s: member %016" PRIx64 " in cluster %016" PRIx64 ", revision %" PRId64,
		data_dir, kv_member_id(kv), kv_cluster_id(kv), kv_current_rev(kv));

	struct srv_config sc = {
		.listen_urls = (const char *const *)listen.items,
		.n_listen_urls = listen.n,
		.cert_file = cert,
		.key_file = key,
		.trusted_ca_file = ca,
		.client_cert_auth = client_cert_auth,
		.max_request_bytes = (size_t)max_request,
		.workers = workers,
	};
	struct srv *srv = NULL;
	rc = srv_start(kv, &sc, &srv);
	if (rc) {
		fprintf(stderr, "kube-store: cannot serve client requests: %s\n", kc_strerror(rc));
		kv_close(kv);
		return 1;
	}
	/* etcd's readiness line, which scripts wait for. */
	kc_info("ready to serve client requests");
	/* etcd notifies systemd (Type=notify) right after this line. */
	kc_sd_notify("READY=1");

	int sig = 0;
	bool removed = false;
	for (;;) {
		struct timespec ts = { 0, 100 * 1000 * 1000 };
		sig = sigtimedwait(&sigs, NULL, &ts);
		if (sig > 0)
			break;
		if (kv_removed(kv)) {
			/* etcd exits once it learns it was removed. */
			kc_warn("the member has been permanently removed from the cluster; exiting");
			removed = true;
			break;
		}
	}
	kc_sd_notify("STOPPING=1");
	if (!removed) {
		kc_info("received %s, shutting down", sig == SIGTERM ? "terminated" : "interrupt");
		/* etcd's TransferLeadershipOnShutdown: a leader hands over before it goes. */
		kv_transfer_on_shutdown(kv);
	}
	srv_stop(srv);
	kv_close(kv);
	kc_info("kube-store stopped");
	kc_strlist_free(&listen);
	kc_strlist_free(&advertise);
	kc_strlist_free(&adv_peer);
	kc_strlist_free(&listen_peer);
	return 0;
}
