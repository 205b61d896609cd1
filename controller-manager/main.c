/* kube-controller-manager: flags, then start things (cmd/kube-controller-manager).
 *
 * Start-up as upstream: serve /healthz and /metrics, then (with --leader-elect, the
 * default) wait to become leader of the kube-system/kube-controller-manager Lease; once
 * leading, create the shared informers, the enabled controllers, start the informers,
 * wait for their caches and start the workers. Losing the lease exits the process
 * ("leaderelection lost"), so a restarted process begins from a clean cache. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client.h"
#include "errors.h"
#include "events.h"
#include "flags.h"
#include "informer.h"
#include "kubeconfig.h"
#include "leader.h"
#include "log.h"

#include "controller.h"
#include "deployment.h"
#include "disruption.h"
#include "endpoints.h"
#include "endpointslice.h"
#include "garbagecollector.h"
#include "namespace.h"
#include "nodeipam.h"
#include "nodelifecycle.h"
#include "options.h"
#include "podgc.h"
#include "replicaset.h"
#include "rootcacertpublisher.h"
#include "sdnotify.h"
#include "server.h"
#include "serviceaccount.h"
#include "ttlafterfinished.h"

static int wake_fd[2] = { -1, -1 };

static void wake(char c)
{
	ssize_t n = write(wake_fd[1], &c, 1);
	(void)n;
}

static void on_signal(int sig)
{
	(void)sig;
	wake('T');
}

typedef struct cm_app {
	kc_client *client;
	kc_leader *leader;
	cm_informers *informers;
	cm_controller *ctrls[16];
	int nctrls;
	kc_recorder *recs[16];
	cm_api *apis[16];
	kc_event_sink *sink;
	rs_controller rs;
	dc_controller dc;
	eps_controller eps;
	gc_controller gc;
	ns_controller ns;
	sa_controller sa;
	nl_controller nl;
	podgc_controller pgc;
	ep_controller ep;
	nodeipam_controller ipam;
	pdb_controller pdb;
	ttl_controller ttl;
	rca_controller rca;
	char *root_ca;       /* PEM for root-ca-cert-publisher, NULL when none */
	size_t root_ca_len;
	bool rca_on;
	bool rs_on, dc_on, eps_on, gc_on, ns_on, sa_on, nl_on, pgc_on;
	bool ep_on, ipam_on, pdb_on, ttl_on;
	int ep_workers, ttl_workers;
	int64_t node_grace, node_period;
	int terminated_gc;
	int eps_workers, gc_workers, ns_workers, sa_workers;
	pthread_mutex_t mu; /* guards ctrls/nctrls for /metrics */
} cm_app;

static void started_leading(void *arg)
{
	(void)arg;
	wake('L');
}

static void stopped_leading(void *arg)
{
	(void)arg;
	wake('S');
}

static void new_leader(void *arg, const char *id)
{
	(void)arg;
	kc_info("new leader elected: %s", id);
}

static char *metrics(void *arg)
{
	cm_app *a = arg;
	char *buf = NULL;
	size_t len = 0;
	pthread_mutex_lock(&a->mu);
	for (int i = 0; i < a->nctrls; i++)
		cm_controller_metrics(a->ctrls[i], &buf, &len);
	pthread_mutex_unlock(&a->mu);
	char *out = NULL;
	int leading = a->leader ? kc_leader_is_leader(a->leader) : 1;
	if (asprintf(&out,
		     "# TYPE leader_election_master_status gauge\n"
		     "leader_election_master_status{name=\"kube-controller-manager\"} %d\n%s",
		     leading, buf ? buf : "") < 0)
		out = NULL;
	free(buf);
	return out;
}

static int healthz(void *arg, char *why, size_t n)
{
	cm_app *a = arg;
	/* upstream: leader-election watchdog with a 20 s tolerance */
	if (a->leader && kc_leader_check(a->leader, 20 * KC_NSEC_PER_SEC) < 0) {
		snprintf(why, n, "leaderElection");
		return -1;
	}
	return 0;
}

static cm_api *new_api(cm_app *a, const char *component)
{
	kc_recorder_options ro = { .component = component, .sink = a->sink };
	kc_recorder *rec = NULL;
	cm_api *api = NULL;
	if (kc_recorder_new(&ro, &rec) < 0)
		return NULL;
	if (cm_client_api_new(a->client, rec, &api) < 0) {
		kc_recorder_free(rec);
		return NULL;
	}
	a->recs[a->nctrls] = rec;
	a->apis[a->nctrls] = api;
	return api;
}

static int add_ctrl(cm_app *a, const char *name, int workers, int max_retries, cm_sync_fn fn,
		    void *arg, cm_controller **out)
{
	cm_controller_opts o = { .name = name, .workers = workers, .sync = fn, .arg = arg,
				 .max_retries = max_retries };
	int rc = cm_controller_new(&o, out);
	if (rc < 0)
		return rc;
	pthread_mutex_lock(&a->mu);
	a->ctrls[a->nctrls++] = *out;
	pthread_mutex_unlock(&a->mu);
	return 0;
}

/* Informers, controllers, workers: what runs while leading. */
static int run_controllers(cm_app *a, int rs_workers, int dc_workers)
{
	int rc = cm_informers_new(a->client, &a->informers);
	if (rc < 0)
		return rc;
	cm_lister *l = cm_informers_lister(a->informers);
	if (a->rs_on) {
		cm_api *api = new_api(a, "replicaset-controller");
		if (!api)
			return -ENOMEM;
		rs_controller_init(&a->rs, l, api, NULL);
		if ((rc = add_ctrl(a, "replicaset", rs_workers, 0, rs_sync, &a->rs, &a->rs.ctrl)) < 0 ||
		    (rc = rs_controller_register(&a->rs, a->informers)) < 0)
			return rc;
	}
	if (a->dc_on) {
		cm_api *api = new_api(a, "deployment-controller");
		if (!api)
			return -ENOMEM;
		dc_controller_init(&a->dc, l, api, NULL);
		if ((rc = add_ctrl(a, "deployment", dc_workers, 15, dc_sync, &a->dc, &a->dc.ctrl)) < 0 ||
		    (rc = dc_controller_register(&a->dc, a->informers)) < 0)
			return rc;
	}
	if (a->eps_on) {
		cm_api *api = new_api(a, "endpointslice-controller");
		if (!api)
			return -ENOMEM;
		int max_eps = a->eps.max_endpoints;
		eps_controller_init(&a->eps, l, api);
		a->eps.max_endpoints = max_eps;
		if ((rc = add_ctrl(a, "endpointslice", a->eps_workers, 15, eps_sync, &a->eps,
				   &a->eps.ctrl)) < 0 ||
		    (rc = eps_controller_register(&a->eps, a->informers)) < 0)
			return rc;
	}
	if (a->gc_on) {
		cm_api *api = new_api(a, "garbage-collector-controller");
		if (!api)
			return -ENOMEM;
		gc_controller_init(&a->gc, l, api);
		if ((rc = add_ctrl(a, "garbagecollector", a->gc_workers, 15, gc_sync, &a->gc,
				   &a->gc.ctrl)) < 0 ||
		    (rc = gc_controller_register(&a->gc, a->informers)) < 0)
			return rc;
	}
	if (a->ns_on) {
		cm_api *api = new_api(a, "namespace-controller");
		if (!api)
			return -ENOMEM;
		ns_controller_init(&a->ns, l, api, NULL);
		if ((rc = add_ctrl(a, "namespace", a->ns_workers, 0, ns_sync, &a->ns,
				   &a->ns.ctrl)) < 0 ||
		    (rc = ns_controller_register(&a->ns, a->informers)) < 0)
			return rc;
	}
	if (a->sa_on) {
		cm_api *api = new_api(a, "service-account-controller");
		if (!api)
			return -ENOMEM;
		sa_controller_init(&a->sa, l, api);
		if ((rc = add_ctrl(a, "serviceaccount", a->sa_workers, 15, sa_sync, &a->sa,
				   &a->sa.ctrl)) < 0 ||
		    (rc = sa_controller_register(&a->sa, a->informers)) < 0)
			return rc;
	}
	if (a->nl_on) {
		cm_api *api = new_api(a, "node-controller");
		if (!api)
			return -ENOMEM;
		nl_controller_init(&a->nl, l, api, NULL);
		a->nl.grace_ns = a->node_grace;
		a->nl.period_ns = a->node_period;
		if ((rc = add_ctrl(a, "nodelifecycle", 1, 0, nl_sync, &a->nl, &a->nl.ctrl)) < 0 ||
		    (rc = nl_controller_register(&a->nl, a->informers)) < 0)
			return rc;
	}
	if (a->pgc_on) {
		cm_api *api = new_api(a, "pod-garbage-collector");
		if (!api)
			return -ENOMEM;
		podgc_controller_init(&a->pgc, l, api, NULL, a->terminated_gc);
		if ((rc = add_ctrl(a, "podgc", 1, 0, podgc_sync, &a->pgc, &a->pgc.ctrl)) < 0 ||
		    (rc = podgc_controller_register(&a->pgc, a->informers)) < 0)
			return rc;
	}
	if (a->ep_on) {
		cm_api *api = new_api(a, "endpoint-controller");
		if (!api)
			return -ENOMEM;
		ep_controller_init(&a->ep, l, api);
		if ((rc = add_ctrl(a, "endpoint", a->ep_workers, 15, ep_sync, &a->ep,
				   &a->ep.ctrl)) < 0 ||
		    (rc = ep_controller_register(&a->ep, a->informers)) < 0)
			return rc;
	}
	if (a->ipam_on) {
		/* a->ipam was initialised (and its flags validated) in main */
		cm_api *api = new_api(a, "node-controller");
		if (!api)
			return -ENOMEM;
		a->ipam.lister = l;
		a->ipam.api = api;
		if ((rc = add_ctrl(a, "nodeipam", 1, 0, nodeipam_sync, &a->ipam,
				   &a->ipam.ctrl)) < 0 ||
		    (rc = nodeipam_register(&a->ipam, a->informers)) < 0)
			return rc;
	}
	if (a->pdb_on) {
		cm_api *api = new_api(a, "controllermanager");
		if (!api)
			return -ENOMEM;
		pdb_controller_init(&a->pdb, l, api, NULL);
		if ((rc = add_ctrl(a, "disruption", 1, 0, pdb_sync, &a->pdb, &a->pdb.ctrl)) < 0 ||
		    (rc = pdb_controller_register(&a->pdb, a->informers)) < 0)
			return rc;
	}
	if (a->ttl_on) {
		cm_api *api = new_api(a, "ttl-after-finished-controller");
		if (!api)
			return -ENOMEM;
		ttl_controller_init(&a->ttl, l, api, NULL);
		if ((rc = add_ctrl(a, "ttl_jobs_to_delete", a->ttl_workers, 0, ttl_sync, &a->ttl,
				   &a->ttl.ctrl)) < 0 ||
		    (rc = ttl_controller_register(&a->ttl, a->informers)) < 0)
			return rc;
	}
	if (a->rca_on) {
		cm_api *api = new_api(a, "root-ca-cert-publisher");
		if (!api)
			return -ENOMEM;
		if ((rc = rca_controller_init(&a->rca, l, api, a->root_ca, a->root_ca_len)) < 0 ||
		    (rc = add_ctrl(a, "root_ca_cert_publisher", 1, 0, rca_sync, &a->rca,
				   &a->rca.ctrl)) < 0 ||
		    (rc = rca_controller_register(&a->rca, a->informers)) < 0)
			return rc;
	}
	if ((rc = cm_informers_start(a->informers)) < 0)
		return rc;
	kc_info("Waiting for caches to sync");
	while ((rc = cm_informers_wait_for_sync(a->informers, 10000)) == -ETIMEDOUT)
		kc_info("Still waiting for caches to sync");
	if (rc < 0)
		return rc;
	kc_info("Caches are synced");
	for (int i = 0; i < a->nctrls; i++)
		if ((rc = cm_controller_start(a->ctrls[i])) < 0)
			return rc;
	return 0;
}

static void shutdown_all(cm_app *a)
{
	for (int i = 0; i < a->nctrls; i++)
		cm_controller_stop(a->ctrls[i]);
	if (a->informers)
		cm_informers_stop(a->informers);
	for (int i = 0; i < a->nctrls; i++) {
		kc_recorder_flush(a->recs[i], 2 * KC_NSEC_PER_SEC);
		cm_controller_free(a->ctrls[i]);
		cm_client_api_free(a->apis[i]);
		kc_recorder_free(a->recs[i]);
	}
	a->nctrls = 0;
	cm_informers_free(a->informers);
	a->informers = NULL;
	if (a->rs_on)
		rs_controller_close(&a->rs);
	if (a->ipam_on)
		nodeipam_close(&a->ipam);
	if (a->rca_on)
		rca_controller_close(&a->rca);
	if (a->eps_on)
		eps_controller_close(&a->eps); /* the EndpointSlice tracker */
}

int main(int argc, char **argv)
{
	const char *kubeconfig = NULL, *master = NULL, *bind_address = "0.0.0.0";
	const char *tls_cert = NULL, *tls_key = NULL;
	const char *le_ns = "kube-system", *le_name = "kube-controller-manager";
	const char *cluster_cidr = NULL, *service_range = NULL, *cluster_name = "kubernetes";
	const char *root_ca_file = NULL;
	const char *unused_str[12] = { 0 };
	kc_strlist controllers = { (char *[]){ "*" }, 1, false };
	bool leader_elect = true, allocate_cidrs = false, use_sa_creds = false;
	int secure_port = 10257, rs_workers = 5, dc_workers = 5, mask_size = 0;
	int terminated_gc = 12500, other_syncs = 5, eps_workers = 5, max_eps = 100;
	int gc_workers = 20, ns_workers = 10, sa_workers = 1, ttl_workers = 5;
	int64_t le_lease = 15 * KC_NSEC_PER_SEC, le_renew = 10 * KC_NSEC_PER_SEC;
	int64_t le_retry = 2 * KC_NSEC_PER_SEC;
	int64_t node_monitor_period = 5 * KC_NSEC_PER_SEC;
	int64_t node_grace = 50 * KC_NSEC_PER_SEC; /* 1.32 default */
	double kube_api_qps = 20;
	int kube_api_burst = 30;

	const kc_flag flags[] = {
		{ "kubeconfig", 0, KC_FLAG_STRING, &kubeconfig,
		  "Path to kubeconfig file with authorization and master location information." },
		{ "master", 0, KC_FLAG_STRING, &master,
		  "The address of the Kubernetes API server (overrides any value in kubeconfig)." },
		{ "controllers", 0, KC_FLAG_STRINGS, &controllers,
		  "A list of controllers to enable. '*' enables all on-by-default controllers, 'foo' "
		  "enables the controller named 'foo', '-foo' disables the controller named 'foo'." },
		{ "leader-elect", 0, KC_FLAG_BOOL, &leader_elect,
		  "Start a leader election client and gain leadership before executing the main loop." },
		{ "leader-elect-lease-duration", 0, KC_FLAG_DURATION, &le_lease,
		  "The duration that non-leader candidates will wait after observing a leadership "
		  "renewal until attempting to acquire leadership." },
		{ "leader-elect-renew-deadline", 0, KC_FLAG_DURATION, &le_renew,
		  "The interval between attempts by the acting master to renew a leadership slot." },
		{ "leader-elect-retry-period", 0, KC_FLAG_DURATION, &le_retry,
		  "The duration the clients should wait between attempting acquisition and renewal "
		  "of a leadership." },
		{ "leader-elect-resource-namespace", 0, KC_FLAG_STRING, &le_ns,
		  "The namespace of resource object that is used for locking during leader election." },
		{ "leader-elect-resource-name", 0, KC_FLAG_STRING, &le_name,
		  "The name of resource object that is used for locking during leader election." },
		{ "concurrent-deployment-syncs", 0, KC_FLAG_INT, &dc_workers,
		  "The number of deployment objects that are allowed to sync concurrently." },
		{ "concurrent-replicaset-syncs", 0, KC_FLAG_INT, &rs_workers,
		  "The number of replica sets that are allowed to sync concurrently." },
		{ "concurrent-gc-syncs", 0, KC_FLAG_INT, &gc_workers,
		  "The number of garbage collector workers that are allowed to sync concurrently." },
		{ "concurrent-namespace-syncs", 0, KC_FLAG_INT, &ns_workers,
		  "The number of namespace objects that are allowed to sync concurrently." },
		{ "concurrent-serviceaccount-syncs", 0, KC_FLAG_INT, &sa_workers,
		  "The number of service account objects that are allowed to sync concurrently." },
		{ "secure-port", 0, KC_FLAG_INT, &secure_port,
		  "The port on which to serve HTTPS with authentication and authorization. If 0, "
		  "don't serve HTTPS at all." },
		{ "bind-address", 0, KC_FLAG_STRING, &bind_address,
		  "The IP address on which to listen for the --secure-port port." },
		{ "tls-cert-file", 0, KC_FLAG_STRING, &tls_cert,
		  "File containing the default x509 Certificate for HTTPS." },
		{ "tls-private-key-file", 0, KC_FLAG_STRING, &tls_key,
		  "File containing the default x509 private key matching --tls-cert-file." },
		/* accepted, warned about when set: controllers not implemented yet */
		{ "cluster-cidr", 0, KC_FLAG_STRING, &cluster_cidr, "CIDR Range for Pods in cluster. Requires --allocate-node-cidrs to be true (IPv4 only)." },
		{ "allocate-node-cidrs", 0, KC_FLAG_BOOL, &allocate_cidrs, "Should CIDRs for Pods be allocated and set on the cloud provider." },
		{ "node-cidr-mask-size", 0, KC_FLAG_INT, &mask_size, "Mask size for node cidr in cluster. Default is 24 for IPv4." },
		{ "service-cluster-ip-range", 0, KC_FLAG_STRING, &service_range, "CIDR Range for Services in cluster. Subnets of --cluster-cidr overlapping it are not given to nodes." },
		{ "node-monitor-period", 0, KC_FLAG_DURATION, &node_monitor_period, "The period for syncing NodeStatus in cloud-node-lifecycle-controller." },
		{ "node-monitor-grace-period", 0, KC_FLAG_DURATION, &node_grace, "Amount of time which we allow running Node to be unresponsive before marking it unhealthy." },
		{ "terminated-pod-gc-threshold", 0, KC_FLAG_INT, &terminated_gc, "Number of terminated pods that can exist before the terminated pod garbage collector starts deleting terminated pods. If <= 0, the terminated pod garbage collector is disabled." },
		{ "cluster-name", 0, KC_FLAG_STRING, &cluster_name, "The instance prefix for the cluster." },
		{ "use-service-account-credentials", 0, KC_FLAG_BOOL, &use_sa_creds, "If true, use individual service account credentials for each controller. (not implemented)" },
		{ "cluster-signing-cert-file", 0, KC_FLAG_STRING, &unused_str[0], "(not implemented)" },
		{ "cluster-signing-key-file", 0, KC_FLAG_STRING, &unused_str[1], "(not implemented)" },
		{ "root-ca-file", 0, KC_FLAG_STRING, &root_ca_file, "If set, this root certificate authority will be included in service account's token secret. This must be a valid PEM-encoded CA bundle." },
		{ "service-account-private-key-file", 0, KC_FLAG_STRING, &unused_str[3], "(not implemented)" },
		{ "authentication-kubeconfig", 0, KC_FLAG_STRING, &unused_str[4], "(not implemented)" },
		{ "authorization-kubeconfig", 0, KC_FLAG_STRING, &unused_str[5], "(not implemented)" },
		{ "requestheader-client-ca-file", 0, KC_FLAG_STRING, &unused_str[6], "(not implemented)" },
		{ "client-ca-file", 0, KC_FLAG_STRING, &unused_str[7], "(not implemented)" },
		{ "cert-dir", 0, KC_FLAG_STRING, &unused_str[8], "(the self-signed certificate is kept in memory)" },
		{ "concurrent-endpoint-syncs", 0, KC_FLAG_INT, &other_syncs,
		  "The number of endpoint syncing operations that will be done concurrently." },
		{ "concurrent-ttl-after-finished-syncs", 0, KC_FLAG_INT, &ttl_workers,
		  "The number of ttl-after-finished-controller workers that are allowed to sync "
		  "concurrently." },
		{ "concurrent-service-endpoint-syncs", 0, KC_FLAG_INT, &eps_workers,
		  "The number of service endpoint syncing operations that will be done concurrently." },
		{ "max-endpoints-per-slice", 0, KC_FLAG_INT, &max_eps,
		  "The maximum number of endpoints that will be added to an EndpointSlice." },
		{ "kube-api-qps", 0, KC_FLAG_FLOAT, &kube_api_qps, "QPS to use while talking with kubernetes apiserver. (not enforced)" },
		{ "kube-api-burst", 0, KC_FLAG_INT, &kube_api_burst, "Burst to use while talking with kubernetes apiserver. (not enforced)" },
		{ NULL, 0, 0, NULL, NULL },
	};
	kc_flagset fs = { "kube-controller-manager",
			  "The Kubernetes controller manager is a daemon that embeds the core control "
			  "loops shipped with Kubernetes.",
			  flags };
	char err[1024];
	int rc = kc_flags_parse(&fs, argc, argv, NULL, err, sizeof(err));
	if (rc == KC_FLAGS_HELP)
		return 0;
	if (rc < 0) {
		fprintf(stderr, "Error: %s\n", err);
		return 1;
	}
	if (cm_validate_controllers(&controllers, err, sizeof(err)) < 0) {
		fprintf(stderr, "Error: %s\n", err);
		return 1;
	}
	if (max_eps < 1 || max_eps > 1000) {
		fprintf(stderr, "Error: --max-endpoints-per-slice must be between 1 and 1000\n");
		return 1;
	}
	if (rs_workers < 1 || dc_workers < 1 || eps_workers < 1 || gc_workers < 1 ||
	    ns_workers < 1 || sa_workers < 1 || other_syncs < 1 || ttl_workers < 1) {
		fprintf(stderr, "Error: --concurrent-*-syncs must be at least 1\n");
		return 1;
	}
	if (!allocate_cidrs && (cluster_cidr || mask_size))
		kc_warn("--cluster-cidr/--node-cidr-mask-size have no effect without "
			"--allocate-node-cidrs");
	if (node_grace <= 0 || node_monitor_period <= 0) {
		fprintf(stderr, "Error: --node-monitor-period and --node-monitor-grace-period must "
				"be positive\n");
		return 1;
	}
	for (size_t i = 0; i < sizeof(unused_str) / sizeof(unused_str[0]); i++)
		if (unused_str[i])
			kc_warn("a flag given is accepted but has no effect yet: %s", unused_str[i]);
	for (size_t i = 0; i < controllers.n; i++) {
		const char *c = controllers.items[i];
		if (c[0] != '-' && strcmp(c, "*") && cm_controller_unimplemented(c))
			kc_warn("controller %s is not implemented yet and will not run", c);
	}


	cm_app a;
	memset(&a, 0, sizeof(a));
	pthread_mutex_init(&a.mu, NULL);
	a.rs_on = cm_controller_enabled(&controllers, "replicaset", false);
	a.dc_on = cm_controller_enabled(&controllers, "deployment", false);
	a.eps_on = cm_controller_enabled(&controllers, "endpointslice", false);
	a.eps_workers = eps_workers;
	a.gc_on = cm_controller_enabled(&controllers, "garbagecollector", false);
	a.ns_on = cm_controller_enabled(&controllers, "namespace", false);
	a.sa_on = cm_controller_enabled(&controllers, "serviceaccount", false);
	a.gc_workers = gc_workers;
	a.ns_workers = ns_workers;
	a.sa_workers = sa_workers;
	a.nl_on = cm_controller_enabled(&controllers, "nodelifecycle", false);
	a.pgc_on = cm_controller_enabled(&controllers, "podgc", false);
	a.node_grace = node_grace;
	a.node_period = node_monitor_period;
	a.terminated_gc = terminated_gc;
	a.eps.max_endpoints = max_eps;
	a.ep_on = cm_controller_enabled(&controllers, "endpoint", false);
	a.ep_workers = other_syncs;
	a.pdb_on = cm_controller_enabled(&controllers, "disruption", false);
	a.ttl_on = cm_controller_enabled(&controllers, "ttl-after-finished", false);
	a.ttl_workers = ttl_workers;
	a.rca_on = cm_controller_enabled(&controllers, "root-ca-cert-publisher", false);
	if (a.rca_on && root_ca_file &&
	    rca_read_ca_file(root_ca_file, &a.root_ca, &a.root_ca_len, err, sizeof(err)) < 0) {
		fprintf(stderr, "Error: %s\n", err);
		return 1;
	}
	/* upstream startNodeIpamController: a no-op unless --allocate-node-cidrs */
	a.ipam_on = allocate_cidrs && cm_controller_enabled(&controllers, "nodeipam", false);
	if (a.ipam_on && nodeipam_init(&a.ipam, NULL, NULL, cluster_cidr, service_range,
				       mask_size, err, sizeof(err)) < 0) {
		fprintf(stderr, "Error: %s\n", err);
		return 1;
	}

	kc_kubeconfig kc;
	memset(&kc, 0, sizeof(kc));
	if ((rc = kc_kubeconfig_from_flags(&kc, master, kubeconfig, err, sizeof(err))) < 0) {
		fprintf(stderr, "Error: invalid kubeconfig: %s\n", err);
		return 1;
	}
	/* upstream startRootCACertPublisher: without --root-ca-file, the CA the
	 * controller-manager itself trusts the apiserver with */
	if (a.rca_on && !a.root_ca) {
		char *pem = NULL;
		size_t plen = 0;
		if (kc.ca_data && kc.ca_len) {
			if ((pem = malloc(kc.ca_len + 1))) {
				memcpy(pem, kc.ca_data, kc.ca_len);
				pem[kc.ca_len] = 0;
				plen = kc.ca_len;
			}
		} else if (kc.ca_file &&
			   rca_read_ca_file(kc.ca_file, &pem, &plen, err, sizeof(err)) < 0) {
			kc_warn("root-ca-cert-publisher: %s", err);
		}
		if (pem) {
			a.root_ca = pem;
			a.root_ca_len = plen;
		} else {
			kc_warn("root-ca-cert-publisher: no --root-ca-file and no certificate "
				"authority in the kubeconfig: the controller will not run");
			a.rca_on = false;
		}
	}
	kc_client_opts co = { .user_agent = "kube-controller-manager/v1.32.0 (linux/amd64) kubec" };
	rc = kc_client_new(&kc, &co, &a.client);
	kc_kubeconfig_close(&kc);
	if (rc < 0) {
		fprintf(stderr, "Error: cannot build the API client: %s\n", kc_strerror(rc));
		return 1;
	}
	if (pipe(wake_fd) < 0) {
		perror("pipe");
		return 1;
	}
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	kc_event_sink_client_new(a.client, &a.sink);

	kc_leader_lock *lock = NULL;
	if (leader_elect) {
		char id[KC_LEADER_HOLDER_MAX];
		kc_leader_default_identity(id, sizeof(id), NULL);
		/* the Lease's holderIdentity when this replica leads (tests find the leader
		 * by it) */
		kc_info("leader election identity: %s", id);
		if ((rc = kc_leader_lease_lock_new(a.client, le_ns, le_name, &lock)) < 0) {
			fprintf(stderr, "Error: leader election lock: %s\n", kc_strerror(rc));
			return 1;
		}
		kc_leader_config lc = {
			.lock = lock, .identity = id, .lease_duration_ns = le_lease,
			.renew_deadline_ns = le_renew, .retry_period_ns = le_retry,
			.release_on_cancel = true,
			.cb = { started_leading, stopped_leading, new_leader, &a },
		};
		if ((rc = kc_leader_new(&lc, &a.leader)) < 0) {
			fprintf(stderr, "Error: invalid leader election configuration: %s\n",
				kc_strerror(rc));
			return 1;
		}
	}

	cm_server *srv = NULL;
	if (secure_port > 0) {
		cm_server_opts so = { .bind_address = bind_address, .port = secure_port,
				      .cert_file = tls_cert, .key_file = tls_key,
				      .metrics = metrics, .healthz = healthz, .arg = &a };
		if ((rc = cm_server_start(&so, &srv, err, sizeof(err))) < 0) {
			fprintf(stderr, "Error: %s\n", err);
			return 1;
		}
		kc_info("Serving securely on %s:%d", bind_address, cm_server_port(srv));
	}

	if (a.leader) {
		kc_info("attempting to acquire leader lease %s/%s...", le_ns, le_name);
		kc_leader_start(a.leader);
	} else {
		wake('L');
	}
	/* /healthz serves; leadership may still be pending (Type=simple upstream). */
	kc_sd_notify("READY=1");

	int exit_code = 0;
	for (;;) {
		struct pollfd p = { wake_fd[0], POLLIN, 0 };
		if (poll(&p, 1, -1) < 0 && errno == EINTR)
			continue;
		char c;
		if (read(wake_fd[0], &c, 1) != 1)
			continue;
		if (c == 'L') {
			kc_info("Started leading: starting controllers (replicaset: %s, deployment: "
				"%s, endpointslice: %s, garbagecollector: %s, namespace: %s, "
				"serviceaccount: %s, nodelifecycle: %s, podgc: %s, endpoint: %s, "
				"nodeipam: %s, disruption: %s, ttl-after-finished: %s, "
				"root-ca-cert-publisher: %s)",
				a.rs_on ? "on" : "off", a.dc_on ? "on" : "off",
				a.eps_on ? "on" : "off", a.gc_on ? "on" : "off",
				a.ns_on ? "on" : "off", a.sa_on ? "on" : "off",
				a.nl_on ? "on" : "off", a.pgc_on ? "on" : "off",
				a.ep_on ? "on" : "off", a.ipam_on ? "on" : "off",
				a.pdb_on ? "on" : "off", a.ttl_on ? "on" : "off",
				a.rca_on ? "on" : "off");
			if ((rc = run_controllers(&a, rs_workers, dc_workers)) < 0) {
				kc_error("error starting controllers: %s", kc_strerror(rc));
				exit_code = 1;
				break;
			}
		} else if (c == 'S') {
			/* as upstream: a leader that lost its lease exits */
			kc_error("leaderelection lost");
			exit_code = 1;
			break;
		} else if (c == 'T') {
			kc_sd_notify("STOPPING=1");
			kc_info("Received termination signal, shutting down");
			break;
		}
	}
	shutdown_all(&a);
	if (a.leader) {
		kc_leader_stop(a.leader);
		kc_leader_free(a.leader);
	}
	kc_leader_lease_lock_free(lock);
	cm_server_stop(srv);
	kc_event_sink_client_free(a.sink);
	kc_client_free(a.client);
	kc_strlist_free(&controllers);
	free(a.root_ca);
	return exit_code;
}
