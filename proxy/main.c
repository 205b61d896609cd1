/* kube-proxy: flags and config, then the proxier, its HTTP servers and the sync loop.
 * See proxy/README.md. */
#include <ctype.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "client.h"
#include "config.h"
#include "errors.h"
#include "flags.h"
#include "iptables.h"
#include "json.h"
#include "kubeconfig.h"
#include "log.h"
#include "proxier.h"
#include "runner.h"
#include "sdnotify.h"
#include "server.h"

/* Read a whole file (for --sync-once-from). */
static int slurp(const char *path, char **out, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return -errno;
	size_t cap = 65536, n = 0;
	char *b = malloc(cap);
	for (;;) {
		if (!b) {
			fclose(f);
			return -ENOMEM;
		}
		size_t r = fread(b + n, 1, cap - n, f);
		n += r;
		if (r == 0)
			break;
		if (n == cap) {
			char *nb = realloc(b, cap * 2);
			if (!nb)
				free(b);
			b = nb;
			cap *= 2;
		}
	}
	fclose(f);
	*out = b;
	*len = n;
	return 0;
}

/* A v1 List ({"items": [...]}) of Services and EndpointSlices, or
 * {"services": [...], "endpointSlices": [...]}, split into two arrays (taken items are
 * detached from doc). */
static int split_model(cJSON *doc, cJSON **svcs, cJSON **slices)
{
	*svcs = cJSON_CreateArray();
	*slices = cJSON_CreateArray();
	if (!*svcs || !*slices)
		return -ENOMEM;
	cJSON *items = cJSON_GetObjectItemCaseSensitive(doc, "items");
	if (cJSON_IsArray(items)) {
		/* Detach through the list itself: cJSON_GetArraySize walks the list, so
		 * a size check per item made this quadratic (seconds at 20,000 items). */
		while (items->child) {
			cJSON *it = cJSON_DetachItemViaPointer(items, items->child);
			const char *kind = kc_json_get_string(it, "kind", "");
			if (strcmp(kind, "Service") == 0)
				cJSON_AddItemToArray(*svcs, it);
			else if (strcmp(kind, "EndpointSlice") == 0)
				cJSON_AddItemToArray(*slices, it);
			else {
				kc_warn("--sync-once-from: ignoring item of kind \"%.64s\"", kind);
				cJSON_Delete(it);
			}
		}
		return 0;
	}
	cJSON *s = cJSON_DetachItemFromObjectCaseSensitive(doc, "services");
	cJSON *e = cJSON_DetachItemFromObjectCaseSensitive(doc, "endpointSlices");
	if ((s && !cJSON_IsArray(s)) || (e && !cJSON_IsArray(e))) {
		cJSON_Delete(s);
		cJSON_Delete(e);
		return KC_EINVALID;
	}
	if (s) {
		cJSON_Delete(*svcs);
		*svcs = s;
	}
	if (e) {
		cJSON_Delete(*slices);
		*slices = e;
	}
	return 0;
}

static int sync_once(px_proxier *p, const char *path, bool dry_run)
{
	char *buf = NULL;
	size_t len = 0;
	int rc = slurp(path, &buf, &len);
	if (rc) {
		fprintf(stderr, "error: read %s: %s\n", path, kc_strerror(rc));
		return 1;
	}
	cJSON *doc = NULL, *svcs = NULL, *slices = NULL;
	char err[KC_JSON_ERRLEN];
	rc = kc_json_parse(buf, len, 256u * 1024 * 1024, &doc, err, sizeof(err));
	free(buf);
	if (rc) {
		fprintf(stderr, "error: %s: %s\n", path, err);
		return 1;
	}
	rc = split_model(doc, &svcs, &slices);
	if (rc == 0)
		rc = px_proxier_sync(p, svcs, slices, true);
	if (rc == 0 && dry_run)
		fputs(px_proxier_last_rules(p), stdout);
	cJSON_Delete(doc);
	cJSON_Delete(svcs);
	cJSON_Delete(slices);
	if (rc) {
		fprintf(stderr, "error: sync from %s failed: %s\n", path, kc_strerror(rc));
		return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	const char *config = NULL, *kubeconfig = NULL, *master = NULL, *hostname = NULL;
	const char *cluster_cidr = NULL, *mode = NULL, *healthz = NULL, *metrics = NULL;
	const char *once = NULL, *backend = "";
	int64_t sync_period = -1, min_sync_period = -1;
	int masq_bit = -1;
	bool cleanup = false, dry_run = false;
	static const char summary[] =
		"The Kubernetes network proxy runs on each node. It programs iptables so that\n"
		"traffic to a Service's ClusterIP and NodePorts reaches its ready endpoints.\n";
	const kc_flag flags[] = {
		{ "config", 0, KC_FLAG_STRING, &config, "The path to the `configuration` file "
		  "(KubeProxyConfiguration v1alpha1)." },
		{ "kubeconfig", 0, KC_FLAG_STRING, &kubeconfig, "Path to kubeconfig file with "
		  "authorization information (the master location can be overridden by --master)." },
		{ "master", 0, KC_FLAG_STRING, &master, "The address of the Kubernetes API server "
		  "(overrides any value in kubeconfig)." },
		{ "hostname-override", 0, KC_FLAG_STRING, &hostname, "If non-empty, will be used as "
		  "the name of the Node that kube-proxy is running on." },
		{ "cluster-cidr", 0, KC_FLAG_STRING, &cluster_cidr, "The CIDR range of the pods in "
		  "the cluster. Traffic to a ClusterIP from outside it is masqueraded." },
		{ "proxy-mode", 0, KC_FLAG_STRING, &mode, "Which proxy mode to use: only "
		  "'iptables' is implemented." },
		{ "cleanup", 0, KC_FLAG_BOOL, &cleanup, "If true cleanup iptables rules and exit." },
		{ "healthz-bind-address", 0, KC_FLAG_STRING, &healthz, "The IP address with port "
		  "for the health check server to serve on (default 0.0.0.0:10256)." },
		{ "metrics-bind-address", 0, KC_FLAG_STRING, &metrics, "The IP address with port "
		  "for the metrics server to serve on (default 127.0.0.1:10249)." },
		{ "iptables-sync-period", 0, KC_FLAG_DURATION, &sync_period, "The maximum "
		  "interval of how often iptables rules are refreshed (default 30s)." },
		{ "iptables-min-sync-period", 0, KC_FLAG_DURATION, &min_sync_period, "The minimum "
		  "period between iptables rule resyncs (default 1s)." },
		{ "iptables-masquerade-bit", 0, KC_FLAG_INT, &masq_bit, "The bit of the fwmark "
		  "space to mark packets requiring SNAT with, in [0, 31] (default 14)." },
		{ "iptables-backend", 0, KC_FLAG_STRING, &backend, "kubec: which iptables to run: "
		  "'' (the `iptables` in PATH), 'nft' or 'legacy' (iptables-legacy*: much faster "
		  "restores of large rulesets)." },
		{ "sync-once-from", 0, KC_FLAG_STRING, &once, "kubec testing aid: load Services and "
		  "EndpointSlices from this JSON `file` (a v1 List), sync the rules once and exit." },
		{ "dry-run", 0, KC_FLAG_BOOL, &dry_run, "With --sync-once-from: print the "
		  "iptables-restore input instead of applying it." },
		{ NULL, 0, 0, NULL, NULL },
	};
	kc_flagset fs = { .prog = "kube-proxy", .summary = summary, .flags = flags };
	char err[1024];
	int rc = kc_flags_parse(&fs, argc, argv, NULL, err, sizeof(err));
	if (rc == KC_FLAGS_HELP)
		return 0;
	if (rc) {
		fprintf(stderr, "Error: %s\n", err);
		kc_flags_usage(&fs, stderr);
		return 1;
	}

	px_config cfg;
	px_config_defaults(&cfg);
	if (config && px_config_load(&cfg, config, err, sizeof(err))) {
		fprintf(stderr, "Error: failed to load config file: %s\n", err);
		return 1;
	}
	/* Flags given on the command line override the file. */
#define SETSTR(dst, v) \
	do { \
		if (v) \
			snprintf(dst, sizeof(dst), "%s", v); \
	} while (0)
	SETSTR(cfg.mode, mode);
	SETSTR(cfg.cluster_cidr, cluster_cidr);
	SETSTR(cfg.kubeconfig, kubeconfig);
	SETSTR(cfg.hostname_override, hostname);
	SETSTR(cfg.healthz_bind, healthz);
	SETSTR(cfg.metrics_bind, metrics);
#undef SETSTR
	if (sync_period >= 0)
		cfg.sync_period_ns = sync_period;
	if (min_sync_period >= 0)
		cfg.min_sync_period_ns = min_sync_period;
	if (masq_bit != -1)
		cfg.masq_bit = masq_bit;
	if (px_config_validate(&cfg, err, sizeof(err))) {
		fprintf(stderr, "Error: invalid configuration: %s\n", err);
		return 1;
	}

	px_ipt ipt;
	px_ipt_defaults(&ipt);
	if (strcmp(backend, "legacy") == 0) {
		ipt.iptables = "iptables-legacy";
		ipt.restore = "iptables-legacy-restore";
		ipt.save = "iptables-legacy-save";
	} else if (strcmp(backend, "nft") == 0) {
		ipt.iptables = "iptables-nft";
		ipt.restore = "iptables-nft-restore";
		ipt.save = "iptables-nft-save";
	} else if (*backend) {
		fprintf(stderr, "Error: --iptables-backend: Unsupported value: \"%s\": supported "
			"values: \"\", \"nft\", \"legacy\"\n", backend);
		return 1;
	}
	if (cleanup) {
		rc = px_ipt_cleanup(&ipt, err, sizeof(err));
		if (rc) {
			fprintf(stderr, "Error: cleanup failed: %s\n", err);
			return 1;
		}
		return 0;
	}

	char node[256];
	if (*cfg.hostname_override) {
		snprintf(node, sizeof(node), "%s", cfg.hostname_override);
	} else if (gethostname(node, sizeof(node)) != 0) {
		node[0] = '\0';
	}
	node[sizeof(node) - 1] = '\0';
	for (char *c = node; *c; c++)
		*c = (char)tolower((unsigned char)*c);
	if (!*cfg.cluster_cidr)
		kc_warn("clusterCIDR not set: off-cluster traffic to ClusterIPs will not be "
			"masqueraded (as upstream's no-op local detector)");

	px_proxier_opts po = {
		.rules = { .cluster_cidr = cfg.cluster_cidr, .masq_bit = cfg.masq_bit,
			   .random_fully = !dry_run && px_ipt_has_random_fully(&ipt),
			   .localhost_nodeports = false },
		.ipt = ipt,
		.node_name = node,
		.sync_period_ns = cfg.sync_period_ns,
		.min_sync_period_ns = cfg.min_sync_period_ns,
		.dry_run = dry_run,
	};
	px_proxier *p = NULL;
	if ((rc = px_proxier_new(&po, &p))) {
		fprintf(stderr, "Error: %s\n", kc_strerror(rc));
		return 1;
	}
	if (once) {
		rc = sync_once(p, once, dry_run);
		px_proxier_free(p);
		return rc;
	}
	if (dry_run) {
		fprintf(stderr, "Error: --dry-run needs --sync-once-from\n");
		px_proxier_free(p);
		return 1;
	}

	/* Signals are taken by sigwait below; block them before any thread starts (curl
	 * and the informers start threads that would otherwise receive SIGTERM). */
	sigset_t sigs;
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);

	kc_kubeconfig kc;
	memset(&kc, 0, sizeof(kc));
	if ((rc = kc_kubeconfig_from_flags(&kc, master, *cfg.kubeconfig ? cfg.kubeconfig : NULL,
					   err, sizeof(err)))) {
		fprintf(stderr, "Error: kubeconfig: %s\n", err);
		px_proxier_free(p);
		return 1;
	}
	kc_client *client = NULL;
	kc_client_opts co = { .user_agent = "kube-proxy/v0.1 (linux/amd64) kubec" };
	rc = kc_client_new(&kc, &co, &client);
	kc_kubeconfig_close(&kc);
	if (rc) {
		fprintf(stderr, "Error: client: %s\n", kc_strerror(rc));
		px_proxier_free(p);
		return 1;
	}

	signal(SIGPIPE, SIG_IGN);

	px_server *hs = NULL, *ms = NULL;
	int exit_code = 0;
	if (*cfg.healthz_bind &&
	    (rc = px_server_start(PX_SERVER_HEALTHZ, cfg.healthz_bind, p, &hs))) {
		kc_error("healthz server on %s: %s", cfg.healthz_bind, kc_strerror(rc));
		exit_code = 1;
		goto out;
	}
	if (*cfg.metrics_bind &&
	    (rc = px_server_start(PX_SERVER_METRICS, cfg.metrics_bind, p, &ms))) {
		kc_error("metrics server on %s: %s", cfg.metrics_bind, kc_strerror(rc));
		exit_code = 1;
		goto out;
	}
	kc_info("kube-proxy starting: mode iptables, node \"%s\", clusterCIDR \"%s\", "
		"syncPeriod %.3gs, minSyncPeriod %.3gs, server %s",
		node, cfg.cluster_cidr, (double)cfg.sync_period_ns / 1e9,
		(double)cfg.min_sync_period_ns / 1e9, kc_client_server(client));
	px_runner *r = NULL;
	if ((rc = px_runner_start(client, p, cfg.sync_period_ns, cfg.min_sync_period_ns, &r))) {
		kc_error("starting informers: %s", kc_strerror(rc));
		exit_code = 1;
		goto out;
	}
	/* READY=1 once the first sync has run (its rules are in place or its error logged). */
	bool notified = false;
	int sig;
	for (;;) {
		struct timespec ts = { 0, notified ? 500 * 1000000 : 50 * 1000000 };
		if ((sig = sigtimedwait(&sigs, NULL, &ts)) > 0)
			break;
		if (!notified && px_proxier_sync_count(p) > 0) {
			kc_sd_notify("READY=1");
			notified = true;
		}
	}
	kc_sd_notify("STOPPING=1");
	kc_info("received signal %d, shutting down", sig);
	px_runner_stop(r);
out:
	px_server_stop(hs);
	px_server_stop(ms);
	kc_client_free(client);
	px_proxier_free(p);
	return exit_code;
}
