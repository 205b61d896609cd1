/* kube-apiserver: parses upstream's flags and starts the store client, the watch cache and
 * the HTTPS server. */
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api.h"
#include "authn.h"
#include "bootstrap.h"
#include "endpoint_reconciler.h"
#include "ipalloc.h"
#include "errors.h"
#include "etcd.h"
#include "flags.h"
#include "log.h"
#include "podlog.h"
#include "registry.h"
#include "satoken.h"
#include "sdnotify.h"
#include "server.h"
#include "watchcache.h"

static char *read_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	char *buf = NULL;
	size_t len = 0, cap = 0, n;
	char chunk[8192];
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		if (len + n + 1 > cap) {
			cap = (len + n + 1) * 2;
			char *nb = realloc(buf, cap);
			if (!nb) {
				free(buf);
				fclose(f);
				return NULL;
			}
			buf = nb;
		}
		memcpy(buf + len, chunk, n);
		len += n;
	}
	fclose(f);
	if (!buf)
		buf = calloc(1, 1);
	else
		buf[len] = 0;
	return buf;
}

/* Flags of upstream kube-apiserver that kubeadm / "the hard way" command lines pass and
 * this milestone accepts without acting on them. */
#define IGNORED_STR(name) { name, 0, KC_FLAG_STRING, NULL, "accepted for compatibility; ignored" }
static const char *const ignored_string[] = {
	"authorization-mode", "admission-control", "encryption-provider-config",
	"runtime-config", "audit-log-path",
	"audit-log-maxage", "audit-log-maxbackup", "audit-log-maxsize", "audit-policy-file",
	"apiserver-count", "requestheader-client-ca-file", "requestheader-allowed-names",
	"requestheader-extra-headers-prefix", "requestheader-group-headers",
	"requestheader-username-headers", "proxy-client-cert-file", "proxy-client-key-file",
	"storage-backend", "storage-media-type", "max-requests-inflight",
	"max-mutating-requests-inflight", "feature-gates", "cloud-provider",
	"endpoint-reconciler-type", "service-account-extend-token-expiration",
	"kubelet-timeout", "tls-cipher-suites", "tls-min-version", "oidc-issuer-url",
	"oidc-client-id", "api-audiences", "watch-cache-sizes", "cert-dir",
	"external-hostname", "min-request-timeout", "request-timeout", NULL,
};
static const char *const ignored_bool[] = {
	"allow-privileged", "service-account-lookup", "kubelet-https", "enable-bootstrap-token-auth",
	"anonymous-auth", "profiling", "enable-aggregator-routing", "logtostderr",
	"alsologtostderr", "enable-garbage-collector", "watch-cache", NULL,
};

/* Is name an item of the comma-separated list (may be NULL)? */
static int plugin_listed(const char *list, const char *name)
{
	size_t n = strlen(name);
	for (const char *p = list; p && *p;) {
		const char *e = strchr(p, ',');
		size_t l = e ? (size_t)(e - p) : strlen(p);
		while (l && *p == ' ') {
			p++;
			l--;
		}
		if (l == n && !strncmp(p, name, n))
			return 1;
		p = e ? e + 1 : p + l;
	}
	return 0;
}

static volatile sig_atomic_t stop_flag;
static void on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
}

int main(int argc, char **argv)
{
	const char *etcd_servers = "http://127.0.0.1:2379", *etcd_prefix = "/registry";
	const char *etcd_ca = NULL, *etcd_cert = NULL, *etcd_key = NULL;
	const char *svc_range = "10.0.0.0/24", *advertise = NULL, *bind = "0.0.0.0";
	const char *client_ca = NULL, *token_file = NULL, *tls_cert = NULL, *tls_key = NULL;
	const char *sa_signing = NULL, *sa_issuer = NULL;
	const char *adm_enable = NULL, *adm_disable = NULL;
	const char *kl_cert = NULL, *kl_key = NULL, *kl_ca = NULL, *kl_addr_types = NULL;
	kc_strlist sa_keys = { 0 };
	int port = 6443;
	int64_t event_ttl = 3600LL * 1000000000LL;
	const char *node_port_range = "30000-32767";
	int nstr = 0, nbool = 0;
	while (ignored_string[nstr])
		nstr++;
	while (ignored_bool[nbool])
		nbool++;
	const char **ign_str = calloc((size_t)nstr, sizeof(char *));
	bool *ign_bool = calloc((size_t)nbool, sizeof(bool));
	kc_flag *flags = calloc((size_t)(nstr + nbool + 32), sizeof(kc_flag));
	if (!ign_str || !ign_bool || !flags)
		return 1;
	int n = 0;
	flags[n++] = (kc_flag){ "etcd-servers", 0, KC_FLAG_STRING, &etcd_servers,
				"List of etcd servers to connect with (scheme://ip:port), comma "
				"separated." };
	flags[n++] = (kc_flag){ "etcd-prefix", 0, KC_FLAG_STRING, &etcd_prefix,
				"The prefix to prepend to all resource paths in etcd." };
	flags[n++] = (kc_flag){ "etcd-cafile", 0, KC_FLAG_STRING, &etcd_ca,
				"SSL Certificate Authority file used to secure etcd communication." };
	flags[n++] = (kc_flag){ "etcd-certfile", 0, KC_FLAG_STRING, &etcd_cert,
				"SSL certification file used to secure etcd communication." };
	flags[n++] = (kc_flag){ "etcd-keyfile", 0, KC_FLAG_STRING, &etcd_key,
				"SSL key file used to secure etcd communication." };
	flags[n++] = (kc_flag){ "service-cluster-ip-range", 0, KC_FLAG_STRING, &svc_range,
				"A CIDR notation IP range from which to assign service cluster IPs." };
	flags[n++] = (kc_flag){ "advertise-address", 0, KC_FLAG_STRING, &advertise,
				"The IP address on which to advertise the apiserver to members of "
				"the cluster." };
	flags[n++] = (kc_flag){ "bind-address", 0, KC_FLAG_STRING, &bind,
				"The IP address on which to listen for the --secure-port port." };
	flags[n++] = (kc_flag){ "secure-port", 0, KC_FLAG_INT, &port,
				"The port on which to serve HTTPS with authentication and "
				"authorization." };
	flags[n++] = (kc_flag){ "service-node-port-range", 0, KC_FLAG_STRING, &node_port_range,
				"A port range to reserve for services with NodePort visibility." };
	flags[n++] = (kc_flag){ "kubelet-client-certificate", 0, KC_FLAG_STRING, &kl_cert,
				"Path to a client cert file for TLS to the kubelets (pods/log)." };
	flags[n++] = (kc_flag){ "kubelet-client-key", 0, KC_FLAG_STRING, &kl_key,
				"Path to a client key file for TLS to the kubelets." };
	flags[n++] = (kc_flag){ "kubelet-certificate-authority", 0, KC_FLAG_STRING, &kl_ca,
				"Path to a cert file for the certificate authority of the kubelets' "
				"serving certificates; without it they are not verified." };
	flags[n++] = (kc_flag){ "kubelet-preferred-address-types", 0, KC_FLAG_STRING,
				&kl_addr_types,
				"List of the preferred NodeAddressTypes to use for kubelet "
				"connections (default Hostname,InternalDNS,InternalIP,ExternalDNS,"
				"ExternalIP)." };
	flags[n++] = (kc_flag){ "event-ttl", 0, KC_FLAG_DURATION, &event_ttl,
				"Amount of time to retain events." };
	flags[n++] = (kc_flag){ "default-not-ready-toleration-seconds", 0, KC_FLAG_INT,
				&res_pod_not_ready_toleration_s,
				"Indicates the tolerationSeconds of the toleration for notReady:NoExecute "
				"that is added by default to every pod that does not already have such "
				"a toleration." };
	flags[n++] = (kc_flag){ "default-unreachable-toleration-seconds", 0, KC_FLAG_INT,
				&res_pod_unreachable_toleration_s,
				"Indicates the tolerationSeconds of the toleration for unreachable:NoExecute "
				"that is added by default to every pod that does not already have such "
				"a toleration." };
	flags[n++] = (kc_flag){ "client-ca-file", 0, KC_FLAG_STRING, &client_ca,
				"If set, any request presenting a client certificate signed by one "
				"of the authorities in the client-ca-file is authenticated with an "
				"identity corresponding to the CommonName of the client certificate." };
	flags[n++] = (kc_flag){ "token-auth-file", 0, KC_FLAG_STRING, &token_file,
				"If set, the file that will be used to secure the secure port of the "
				"API server via token authentication." };
	flags[n++] = (kc_flag){ "service-account-signing-key-file", 0, KC_FLAG_STRING, &sa_signing,
				"Private key (PEM, RSA) that signs service-account tokens (TokenRequest)." };
	flags[n++] = (kc_flag){ "service-account-key-file", 0, KC_FLAG_STRINGS, &sa_keys,
				"PEM keys (public or private RSA) that verify service-account bearer "
				"tokens; repeatable. The signing key is always one of them." };
	flags[n++] = (kc_flag){ "service-account-issuer", 0, KC_FLAG_STRING, &sa_issuer,
				"The iss claim of issued tokens, required in verified ones; also the "
				"default audience." };
	flags[n++] = (kc_flag){ "enable-admission-plugins", 0, KC_FLAG_STRING, &adm_enable,
				"Admission plugins to enable in addition to the default ones; only "
				"ServiceAccount is switchable (the others are always on)." };
	flags[n++] = (kc_flag){ "disable-admission-plugins", 0, KC_FLAG_STRING, &adm_disable,
				"Admission plugins to disable; only ServiceAccount is switchable." };
	flags[n++] = (kc_flag){ "tls-cert-file", 0, KC_FLAG_STRING, &tls_cert,
				"File containing the default x509 Certificate for HTTPS." };
	flags[n++] = (kc_flag){ "tls-private-key-file", 0, KC_FLAG_STRING, &tls_key,
				"File containing the default x509 private key matching "
				"--tls-cert-file." };
	for (int i = 0; i < nstr; i++)
		flags[n++] = (kc_flag){ ignored_string[i], 0, KC_FLAG_STRING, &ign_str[i],
					"Accepted for compatibility with kube-apiserver; ignored." };
	for (int i = 0; i < nbool; i++)
		flags[n++] = (kc_flag){ ignored_bool[i], 0, KC_FLAG_BOOL, &ign_bool[i],
					"Accepted for compatibility with kube-apiserver; ignored." };
	kc_flagset fs = { .prog = "kube-apiserver",
			  .summary = "The Kubernetes API server validates and configures data for "
				     "the api objects, backed by etcd (or kube-store).",
			  .flags = flags };
	char err[512];
	int rc = kc_flags_parse(&fs, argc, argv, NULL, err, sizeof(err));
	if (rc == KC_FLAGS_HELP)
		return 0;
	if (rc) {
		fprintf(stderr, "Error: %s\n", err);
		return 1;
	}
	for (int i = 0; i < nstr; i++)
		if (ign_str[i])
			kc_warn("flag --%s is accepted but not implemented yet; ignoring",
				ignored_string[i]);
	for (int i = 0; i < nbool; i++)
		if (ign_bool[i])
			kc_warn("flag --%s is accepted but not implemented yet; ignoring",
				ignored_bool[i]);

	if (pl_configure(kl_cert, kl_key, kl_ca, kl_addr_types))
		kc_fatal("out of memory");
	if ((kl_cert && !kl_key) || (!kl_cert && kl_key))
		kc_fatal("--kubelet-client-certificate and --kubelet-client-key must be set together");

	/* A request holds its libmicrohttpd thread while it waits for the store (the WAL
	 * fsync of a write), so the thread count bounds the requests in flight. Upstream
	 * serves each in its own goroutine (up to --max-requests-inflight 400 and
	 * --max-mutating-requests-inflight 200). With 4 threads the scheduler benchmark left
	 * a quarter of both cores idle waiting for commits, and the store's group commit
	 * saw ~2 writes per fdatasync; with 32 the cores stay busy, ~6 writes share one
	 * fdatasync, and creation->bound went from ~1,400 to ~2,100 pods/s. */
	srv_config sc = { .bind_address = bind, .port = port, .threads = 32 };
	char *cert_pem = NULL, *key_pem = NULL, *ca_pem = NULL;
	if (tls_cert || tls_key) {
		if (!tls_cert || !tls_key)
			kc_fatal("--tls-cert-file and --tls-private-key-file must be set together");
		cert_pem = read_file(tls_cert);
		key_pem = read_file(tls_key);
		if (!cert_pem || !key_pem)
			kc_fatal("cannot read --tls-cert-file %s or --tls-private-key-file %s",
				 tls_cert, tls_key);
		sc.cert_pem = cert_pem;
		sc.key_pem = key_pem;
	} else {
		kc_warn("no --tls-cert-file given: serving plain HTTP (for tests only)");
	}
	if (client_ca) {
		ca_pem = read_file(client_ca);
		if (!ca_pem)
			kc_fatal("cannot read --client-ca-file %s", client_ca);
		sc.client_ca_pem = ca_pem;
	}
	sat *sa_tokens = NULL;
	if (sa_signing || sa_keys.n) {
		if (!sa_issuer)
			kc_fatal("--service-account-issuer is required with --service-account-*-file");
		if (sat_new(sa_signing, (const char *const *)sa_keys.items, sa_keys.n, sa_issuer,
			    &sa_tokens, err, sizeof(err)))
			kc_fatal("service-account keys: %s", err);
		sc.sa_tokens = sa_tokens;
	}
	authn *auth = NULL;
	if (client_ca || token_file || sa_tokens) {
		if (authn_new(token_file, client_ca, &auth, err, sizeof(err)))
			kc_fatal("authentication: %s", err);
		sc.auth = auth;
	} else {
		kc_warn("neither --client-ca-file nor --token-auth-file is set: every request is "
			"allowed");
	}

	/* --etcd-servers is a comma separated list. */
	char *eps_copy = strdup(etcd_servers);
	const char *eps[16];
	size_t neps = 0;
	for (char *save = NULL, *t = strtok_r(eps_copy, ",", &save); t && neps < 16;
	     t = strtok_r(NULL, ",", &save))
		eps[neps++] = t;
	struct kc_etcd_config ec = { .endpoints = eps, .n_endpoints = neps, .cacert = etcd_ca,
				     .cert = etcd_cert, .key = etcd_key };
	kc_etcd *etcd = NULL;
	if (kc_etcd_new(&ec, &etcd))
		kc_fatal("invalid --etcd-servers %s", etcd_servers);

	kc_clock_t *clock = kc_clock_real();
	reg r;
	reg_init(&r, etcd, etcd_prefix, clock);
	ipa ips;
	if (ipa_init(&ips, etcd, clock, r.prefix, svc_range))
		kc_fatal("invalid --service-cluster-ip-range %s (an IPv4 CIDR with a prefix length "
			 "of 8 to 30 is supported)", svc_range);
	r.ips = &ips;
	npa ports;
	if (npa_init(&ports, etcd, clock, r.prefix, node_port_range))
		kc_fatal("invalid --service-node-port-range %s (want e.g. 30000-32767)",
			 node_port_range);
	r.ports = &ports;
	r.event_ttl_sec = event_ttl / 1000000000LL;
	/* ServiceAccount admission is on by default upstream, where the apiserver cannot start
	 * without --service-account-signing-key-file; here it defaults on only with that key
	 * (without one the mounted tokens could never be issued), and the admission flags
	 * override it. */
	r.sa_admission = sa_signing != NULL;
	if (plugin_listed(adm_enable, "ServiceAccount"))
		r.sa_admission = 1;
	if (plugin_listed(adm_disable, "ServiceAccount"))
		r.sa_admission = 0;
	kc_info("ServiceAccount admission %s", r.sa_admission ? "enabled" : "disabled");
	api_ctx api = { .r = &r, .clock = clock, .sa_tokens = sa_tokens };
	srv *server = NULL;
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	/* Wait for the store, as upstream's storage readiness: /readyz stays failing. */
	wc_set *wc = NULL;
	for (int attempt = 0; !stop_flag; attempt++) {
		int64_t rev;
		if (reg_revision(&r, &rev) == 0 && wc_start(&r, &wc) == 0)
			break;
		if (attempt % 10 == 0)
			kc_warn("waiting for the store at %s", etcd_servers);
		struct timespec ts = { 0, 500 * 1000000 };
		nanosleep(&ts, NULL);
	}
	if (!wc)
		return 1;
	api.wc = wc;
	if ((rc = srv_start(&sc, &api, &server)) != 0)
		kc_fatal("cannot serve on %s:%d: %s", bind, port, kc_strerror(rc));
	char addr[64];
	if (advertise)
		snprintf(addr, sizeof(addr), "%s", advertise);
	else if (strcmp(bind, "0.0.0.0"))
		snprintf(addr, sizeof(addr), "%s", bind);
	else
		boot_default_address(addr, sizeof(addr));
	snprintf(api.server_addr, sizeof(api.server_addr), "%s:%d", addr, srv_port(server));
	boot_system_objects(&r, addr, srv_port(server));
	epr *reconciler = NULL;
	if ((rc = epr_start(&r, etcd, etcd_prefix, addr, srv_port(server), &reconciler)) != 0)
		kc_warn("endpoint reconciler not started: %s", kc_strerror(rc));
	kc_info("Serving securely on %s:%d (%s), store %s prefix %s", bind, srv_port(server),
		sc.cert_pem ? "https" : "http", etcd_servers, etcd_prefix);
	/* READY=1 (Type=notify units) once /readyz would pass: watch caches primed, store up. */
	int64_t ready_rev;
	for (bool notified = false; !stop_flag;) {
		if (!notified && wc_ready(wc) && reg_revision(&r, &ready_rev) == 0) {
			kc_sd_notify("READY=1");
			notified = true;
		}
		struct timespec ts = { 0, notified ? 200 * 1000000 : 20 * 1000000 };
		nanosleep(&ts, NULL);
	}
	kc_sd_notify("STOPPING=1");
	kc_info("shutting down");
	/* before the server stops: kubernetes.default stops pointing here while we still serve */
	epr_stop(reconciler);
	wc_stop(wc);
	srv_stop(server);
	wc_free(wc);
	authn_free(auth);
	sat_free(sa_tokens);
	kc_strlist_free(&sa_keys);
	kc_etcd_free(etcd);
	free(eps_copy);
	free(cert_pem);
	free(key_pem);
	free(ca_pem);
	free(flags);
	free(ign_str);
	free(ign_bool);
	return 0;
}
