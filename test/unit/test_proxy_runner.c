/* kube-proxy's sync loop against a fake apiserver (testsrv): the informers list
 * Services and EndpointSlices, the first sync writes the rules, and an EndpointSlice
 * watch event (a new endpoint, then the service's deletion) reaches the rules. The
 * proxier runs in dry-run mode (rules generated, not applied), so no iptables is
 * touched. Waits poll a condition under a deadline. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "client.h"
#include "kc_test.h"
#include "testsrv.h"
#include "../../proxy/proxier.h"
#include "../../proxy/runner.h"

#define SVC                                                                            \
	"{\"kind\":\"Service\",\"apiVersion\":\"v1\",\"metadata\":{\"namespace\":\"default\"," \
	"\"name\":\"web\",\"resourceVersion\":\"5\"},\"spec\":{\"clusterIP\":\"10.96.0.10\","  \
	"\"ports\":[{\"name\":\"http\",\"port\":80,\"protocol\":\"TCP\"}]}}"
#define SLICE(eps, rv)                                                                  \
	"{\"kind\":\"EndpointSlice\",\"apiVersion\":\"discovery.k8s.io/v1\",\"metadata\":"   \
	"{\"namespace\":\"default\",\"name\":\"web-abc\",\"resourceVersion\":\"" rv "\","    \
	"\"labels\":{\"kubernetes.io/service-name\":\"web\"}},\"addressType\":\"IPv4\","      \
	"\"ports\":[{\"name\":\"http\",\"port\":8080,\"protocol\":\"TCP\"}],\"endpoints\":[" eps "]}"
#define EP(ip) "{\"addresses\":[\"" ip "\"],\"conditions\":{\"ready\":true}}"

struct fake {
	pthread_mutex_t mu;
	testsrv_stream *svc_watch, *eps_watch;
};
static struct fake F = { .mu = PTHREAD_MUTEX_INITIALIZER };

static void handler(const testsrv_req *req, testsrv_resp *resp, void *arg)
{
	struct fake *f = arg;
	const char *w = testsrv_arg(req, "watch");
	bool watch = w && (strcmp(w, "1") == 0 || strcmp(w, "true") == 0);
	bool svc = strcmp(req->path, "/api/v1/services") == 0;
	bool eps = strcmp(req->path, "/apis/discovery.k8s.io/v1/endpointslices") == 0;
	if (!svc && !eps) {
		resp->status = 404;
		return;
	}
	if (watch) {
		pthread_mutex_lock(&f->mu);
		testsrv_stream **slot = svc ? &f->svc_watch : &f->eps_watch;
		if (*slot)
			testsrv_stream_unref(*slot);
		*slot = testsrv_stream_new();
		resp->stream = testsrv_stream_ref(*slot);
		pthread_mutex_unlock(&f->mu);
		return;
	}
	resp->body = strdup(svc ? "{\"kind\":\"ServiceList\",\"apiVersion\":\"v1\",\"metadata\":"
				  "{\"resourceVersion\":\"10\"},\"items\":[" SVC "]}"
				: "{\"kind\":\"EndpointSliceList\",\"apiVersion\":"
				  "\"discovery.k8s.io/v1\",\"metadata\":{\"resourceVersion\":\"10\"},"
				  "\"items\":[" SLICE(EP("10.1.0.1"), "6") "]}");
}

/* Poll (every 5 ms, up to 10 s) until the rules contain / lack needle. */
static bool wait_rules(px_proxier *p, const char *needle, bool present)
{
	for (int i = 0; i < 2000; i++) {
		char *r = px_proxier_rules_copy(p);
		bool has = r && strstr(r, needle) != NULL;
		free(r);
		if (has == present)
			return true;
		struct timespec ts = { 0, 5 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
	return false;
}

/* Wait until the test server has an open eps watch (the informer is watching). */
static testsrv_stream *wait_eps_watch(void)
{
	for (int i = 0; i < 2000; i++) {
		pthread_mutex_lock(&F.mu);
		testsrv_stream *s = F.eps_watch ? testsrv_stream_ref(F.eps_watch) : NULL;
		pthread_mutex_unlock(&F.mu);
		if (s)
			return s;
		struct timespec ts = { 0, 5 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
	return NULL;
}

START_TEST(runner_follows_endpoint_changes)
{
	testsrv *srv = NULL;
	ck_assert_int_eq(testsrv_start(&srv, handler, &F), 0);
	kc_kubeconfig kc;
	ck_assert_int_eq(kc_kubeconfig_from_parts(&kc, testsrv_url(srv), NULL, NULL, NULL, NULL), 0);
	kc_client *c = NULL;
	ck_assert_int_eq(kc_client_new(&kc, NULL, &c), 0);
	kc_kubeconfig_close(&kc);

	px_proxier_opts o = { .rules = { .masq_bit = 14, .cluster_cidr = "10.244.0.0/16" },
			      .node_name = "node1", .sync_period_ns = 30 * KC_NSEC_PER_SEC,
			      .min_sync_period_ns = 0, .dry_run = true };
	px_ipt_defaults(&o.ipt);
	px_proxier *p = NULL;
	ck_assert_int_eq(px_proxier_new(&o, &p), 0);
	px_runner *r = NULL;
	ck_assert_int_eq(px_runner_start(c, p, o.sync_period_ns, 0, &r), 0);

	ck_assert(wait_rules(p, "\"default/web:http -> 10.1.0.1:8080\" -j KUBE-SEP-", true));
	ck_assert(wait_rules(p, "-d 10.96.0.10 --dport 80 -j KUBE-SVC-", true));

	testsrv_stream *st = wait_eps_watch();
	ck_assert_ptr_nonnull(st);
	testsrv_stream_puts(st, "{\"type\":\"MODIFIED\",\"object\":" SLICE(EP("10.1.0.1") ","
			    EP("10.1.0.2"), "11") "}\n");
	ck_assert(wait_rules(p, "--to-destination 10.1.0.2:8080", true));
	ck_assert(wait_rules(p, "--probability 0.5000000000", true));

	/* All endpoints gone: the service REJECTs. */
	testsrv_stream_puts(st, "{\"type\":\"DELETED\",\"object\":" SLICE(EP("10.1.0.1") ","
			    EP("10.1.0.2"), "12") "}\n");
	ck_assert(wait_rules(p, "\"default/web:http has no endpoints\"", true));
	ck_assert(wait_rules(p, "-j KUBE-SEP-", false));
	/* ... and the chains of the vanished endpoints are deleted. */
	ck_assert(wait_rules(p, "-X KUBE-SEP-", true));
	testsrv_stream_unref(st);

	px_runner_stop(r);
	testsrv_stop(srv);
	pthread_mutex_lock(&F.mu);
	if (F.svc_watch)
		testsrv_stream_unref(F.svc_watch);
	if (F.eps_watch)
		testsrv_stream_unref(F.eps_watch);
	F.svc_watch = F.eps_watch = NULL;
	pthread_mutex_unlock(&F.mu);
	kc_client_free(c);
	px_proxier_free(p);
}
END_TEST

static Suite *proxy_runner_suite(void)
{
	Suite *s = suite_create("proxy_runner");
	TCase *tc = tcase_create("runner");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, runner_follows_endpoint_changes);
	suite_add_tcase(s, tc);
	return s;
}

KC_TEST_MAIN(proxy_runner_suite)
