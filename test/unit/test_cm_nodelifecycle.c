/* Node lifecycle controller sync against the fakes, driven by a fake clock. */
#include <stdio.h>
#include <string.h>

#include "errors.h"
#include "json.h"
#include "kc_test.h"
#include "meta.h"

#include "../../controller-manager/fake.h"
#include "../../controller-manager/nodelifecycle.h"

#define T0 (INT64_C(1700000000) * KC_NSEC_PER_SEC)
#define SEC KC_NSEC_PER_SEC

typedef struct fixture {
	kc_fake_clock fc;
	cm_fake f;
	nl_controller nc;
} fixture;

static cJSON *parse(const char *s)
{
	cJSON *o = NULL;
	char err[256];
	ck_assert_msg(kc_json_parse_str(s, &o, err, sizeof(err)) == 0, "%s", err);
	return o;
}

static void ts(fixture *x, char *buf, size_t n)
{
	kc_meta_time_format(kc_now_wall(&x->fc.base), buf, n);
}

/* The kubelet: Ready=status with a heartbeat now, and the Lease renewed now. */
static void kubelet_posts(fixture *x, const char *node, const char *status)
{
	char t[KC_TIME_BUFLEN], buf[512];
	ts(x, t, sizeof(t));
	cJSON *n = cm_fake_find(&x->f, "nodes", "", node);
	snprintf(buf, sizeof(buf),
		 "[{\"type\":\"Ready\",\"status\":\"%s\",\"reason\":\"KubeletReady\","
		 "\"lastHeartbeatTime\":\"%s\",\"lastTransitionTime\":\"%s\"}]",
		 status, t, t);
	kc_json_delete(n, "status.conditions");
	kc_json_set(n, "status.conditions", parse(buf));
	cJSON *l = cm_fake_find(&x->f, "leases", NL_LEASE_NAMESPACE, node);
	if (!l) {
		snprintf(buf, sizeof(buf), "{\"metadata\":{\"name\":\"%s\",\"namespace\":\"%s\"}}",
			 node, NL_LEASE_NAMESPACE);
		l = cm_fake_add(&x->f, "leases", parse(buf));
	}
	kc_json_set_string(l, "spec.renewTime", t);
}

static void fx_init(fixture *x)
{
	kc_fake_clock_init(&x->fc, T0, 3);
	ck_assert_int_eq(cm_fake_init(&x->f, &x->fc.base), 0);
	ck_assert_int_eq(nl_controller_init(&x->nc, &x->f.lister, &x->f.api, &x->fc.base), 0);
	cm_fake_add(&x->f, "nodes", parse("{\"metadata\":{\"name\":\"n1\"}}"));
	cm_fake_add(&x->f, "nodes", parse("{\"metadata\":{\"name\":\"n2\"}}"));
	kubelet_posts(x, "n1", "True");
	kubelet_posts(x, "n2", "True");
}

static void fx_close(fixture *x)
{
	cm_fake_close(&x->f);
	kc_fake_clock_close(&x->fc);
}

/* A Ready pod on node; tolerations is a JSON array or NULL. */
static void add_pod(fixture *x, const char *name, const char *node, const char *tolerations)
{
	char buf[1024];
	snprintf(buf, sizeof(buf),
		 "{\"metadata\":{\"name\":\"%s\",\"namespace\":\"default\"},"
		 "\"spec\":{\"nodeName\":\"%s\",\"tolerations\":%s},"
		 "\"status\":{\"phase\":\"Running\",\"conditions\":[{\"type\":\"Ready\","
		 "\"status\":\"True\"}]}}",
		 name, node, tolerations ? tolerations : "[]");
	cm_fake_add(&x->f, "pods", parse(buf));
}

static const cJSON *taint(fixture *x, const char *node, const char *key, const char *effect)
{
	const cJSON *t;
	cJSON_ArrayForEach(t, kc_json_get(cm_fake_find(&x->f, "nodes", "", node), "spec.taints"))
	{
		if (!strcmp(kc_json_get_string(t, "key", ""), key) &&
		    !strcmp(kc_json_get_string(t, "effect", ""), effect))
			return t;
	}
	return NULL;
}

static const char *ready_status(fixture *x, const char *resource, const char *ns, const char *name)
{
	return kc_json_get_string(cm_condition(cm_fake_find(&x->f, resource, ns, name), "Ready"),
				  "status", "");
}

#define TOL_300 "[{\"key\":\"node.kubernetes.io/unreachable\",\"operator\":\"Exists\"," \
		"\"effect\":\"NoExecute\",\"tolerationSeconds\":300}]"
#define TOL_EVER "[{\"operator\":\"Exists\"}]"

START_TEST(healthy_node_is_left_alone)
{
	fixture x;
	fx_init(&x);
	add_pod(&x, "a", "n1", NULL);
	kc_fake_clock_advance(&x.fc, 49 * SEC);
	ck_assert_int_eq(nl_sync(&x.nc, "n1"), 0);
	ck_assert_int_eq(cJSON_GetArraySize(x.f.actions), 0);
	ck_assert_int_eq(nl_sync(&x.nc, "missing"), 0);
	fx_close(&x);
}
END_TEST

/* The Lease alone keeps a node healthy (kubelets post status rarely). */
START_TEST(lease_renewal_counts_as_heartbeat)
{
	fixture x;
	fx_init(&x);
	kc_fake_clock_advance(&x.fc, 40 * SEC);
	char t[KC_TIME_BUFLEN];
	ts(&x, t, sizeof(t));
	kc_json_set_string(cm_fake_find(&x.f, "leases", NL_LEASE_NAMESPACE, "n1"), "spec.renewTime", t);
	kc_fake_clock_advance(&x.fc, 40 * SEC);
	ck_assert_int_eq(nl_sync(&x.nc, "n1"), 0);
	ck_assert_str_eq(ready_status(&x, "nodes", "", "n1"), "True");
	ck_assert_int_eq(cJSON_GetArraySize(x.f.actions), 0);
	fx_close(&x);
}
END_TEST

START_TEST(silent_node_goes_unknown_tainted_and_evicts)
{
	fixture x;
	fx_init(&x);
	add_pod(&x, "plain", "n1", NULL);
	add_pod(&x, "tol300", "n1", TOL_300);
	add_pod(&x, "forever", "n1", TOL_EVER);
	add_pod(&x, "elsewhere", "n2", NULL);
	kc_fake_clock_advance(&x.fc, 51 * SEC);
	kubelet_posts(&x, "n2", "True");
	ck_assert_int_eq(nl_sync(&x.nc, "n1"), 0);

	const cJSON *r = cm_condition(cm_fake_find(&x.f, "nodes", "", "n1"), "Ready");
	ck_assert_str_eq(kc_json_get_string(r, "status", ""), "Unknown");
	ck_assert_str_eq(kc_json_get_string(r, "reason", ""), "NodeStatusUnknown");
	ck_assert_str_eq(kc_json_get_string(r, "message", ""), "Kubelet stopped posting node status.");
	r = cm_condition(cm_fake_find(&x.f, "nodes", "", "n1"), "MemoryPressure");
	ck_assert_str_eq(kc_json_get_string(r, "reason", ""), "NodeStatusNeverUpdated");
	ck_assert_ptr_nonnull(taint(&x, "n1", NL_TAINT_UNREACHABLE, "NoSchedule"));
	const cJSON *ne = taint(&x, "n1", NL_TAINT_UNREACHABLE, "NoExecute");
	ck_assert_ptr_nonnull(ne);
	ck_assert_str_ne(kc_json_get_string(ne, "timeAdded", ""), "");
	/* no toleration: evicted at once; tolerating ones not yet, and marked not ready */
	ck_assert_ptr_null(cm_fake_find(&x.f, "pods", "default", "plain"));
	ck_assert_str_eq(ready_status(&x, "pods", "default", "tol300"), "False");
	ck_assert_str_eq(ready_status(&x, "pods", "default", "forever"), "False");
	ck_assert_str_eq(ready_status(&x, "pods", "default", "elsewhere"), "True");
	ck_assert_int_eq(cm_fake_count(&x.f, "delete pods"), 1);

	/* the toleration runs out after 300 s, not before */
	kc_fake_clock_advance(&x.fc, 299 * SEC);
	ck_assert_int_eq(nl_sync(&x.nc, "n1"), 0);
	ck_assert_ptr_nonnull(cm_fake_find(&x.f, "pods", "default", "tol300"));
	kc_fake_clock_advance(&x.fc, 2 * SEC);
	ck_assert_int_eq(nl_sync(&x.nc, "n1"), 0);
	ck_assert_ptr_null(cm_fake_find(&x.f, "pods", "default", "tol300"));
	ck_assert_ptr_nonnull(cm_fake_find(&x.f, "pods", "default", "forever"));
	/* n2 kept posting: untouched */
	kubelet_posts(&x, "n2", "True");
	ck_assert_int_eq(nl_sync(&x.nc, "n2"), 0);
	ck_assert_ptr_null(taint(&x, "n2", NL_TAINT_UNREACHABLE, "NoExecute"));
	fx_close(&x);
}
END_TEST

START_TEST(node_back_loses_taints)
{
	fixture x;
	fx_init(&x);
	kc_fake_clock_advance(&x.fc, 60 * SEC);
	ck_assert_int_eq(nl_sync(&x.nc, "n1"), 0);
	ck_assert_ptr_nonnull(taint(&x, "n1", NL_TAINT_UNREACHABLE, "NoExecute"));
	/* a taint of the user's survives */
	cJSON_AddItemToArray(kc_json_get(cm_fake_find(&x.f, "nodes", "", "n1"), "spec.taints"),
			     parse("{\"key\":\"dedicated\",\"value\":\"db\",\"effect\":\"NoSchedule\"}"));
	kubelet_posts(&x, "n1", "True");
	ck_assert_int_eq(nl_sync(&x.nc, "n1"), 0);
	ck_assert_ptr_null(taint(&x, "n1", NL_TAINT_UNREACHABLE, "NoExecute"));
	ck_assert_ptr_null(taint(&x, "n1", NL_TAINT_UNREACHABLE, "NoSchedule"));
	ck_assert_ptr_nonnull(taint(&x, "n1", "dedicated", "NoSchedule"));
	/* steady: nothing more to write */
	cm_fake_clear(&x.f);
	ck_assert_int_eq(nl_sync(&x.nc, "n1"), 0);
	ck_assert_int_eq(cJSON_GetArraySize(x.f.actions), 0);
	fx_close(&x);
}
END_TEST

START_TEST(kubelet_reporting_not_ready_gets_not_ready_taints)
{
	fixture x;
	fx_init(&x);
	kubelet_posts(&x, "n1", "False");
	ck_assert_int_eq(nl_sync(&x.nc, "n1"), 0);
	ck_assert_str_eq(ready_status(&x, "nodes", "", "n1"), "False");
	ck_assert_ptr_nonnull(taint(&x, "n1", NL_TAINT_NOT_READY, "NoExecute"));
	ck_assert_ptr_nonnull(taint(&x, "n1", NL_TAINT_NOT_READY, "NoSchedule"));
	ck_assert_ptr_null(taint(&x, "n1", NL_TAINT_UNREACHABLE, "NoExecute"));
	fx_close(&x);
}
END_TEST

/* A node registered without status is left alone until its grace period ends. */
START_TEST(new_node_without_status_gets_grace)
{
	fixture x;
	fx_init(&x);
	cm_fake_add(&x.f, "nodes", parse("{\"metadata\":{\"name\":\"fresh\"}}"));
	add_pod(&x, "p", "fresh", NULL);
	kc_fake_clock_advance(&x.fc, 10 * SEC);
	ck_assert_int_eq(nl_sync(&x.nc, "fresh"), 0);
	ck_assert_int_eq(cJSON_GetArraySize(x.f.actions), 0);
	kc_fake_clock_advance(&x.fc, 41 * SEC);
	ck_assert_int_eq(nl_sync(&x.nc, "fresh"), 0);
	const cJSON *r = cm_condition(cm_fake_find(&x.f, "nodes", "", "fresh"), "Ready");
	ck_assert_str_eq(kc_json_get_string(r, "status", ""), "Unknown");
	ck_assert_str_eq(kc_json_get_string(r, "message", ""), "Kubelet never posted node status.");
	ck_assert_ptr_nonnull(taint(&x, "fresh", NL_TAINT_UNREACHABLE, "NoExecute"));
	fx_close(&x);
}
END_TEST

START_TEST(tolerates_matches_upstream)
{
	cJSON *t = parse("{\"key\":\"k\",\"value\":\"v\",\"effect\":\"NoExecute\"}");
	static const struct {
		const char *tol;
		bool want;
	} cases[] = {
		{ "{\"key\":\"k\",\"operator\":\"Equal\",\"value\":\"v\",\"effect\":\"NoExecute\"}", true },
		{ "{\"key\":\"k\",\"value\":\"v\"}", true },
		{ "{\"key\":\"k\",\"value\":\"w\"}", false },
		{ "{\"key\":\"k\",\"operator\":\"Exists\"}", true },
		{ "{\"key\":\"other\",\"operator\":\"Exists\"}", false },
		{ "{\"operator\":\"Exists\"}", true },
		{ "{\"operator\":\"Exists\",\"effect\":\"NoSchedule\"}", false },
		{ "{\"key\":\"k\",\"operator\":\"Bogus\"}", false },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cJSON *tol = parse(cases[i].tol);
		ck_assert_msg(nl_tolerates(tol, t) == cases[i].want, "%s", cases[i].tol);
		cJSON_Delete(tol);
	}
	cJSON_Delete(t);
}
END_TEST

static Suite *cm_nodelifecycle_suite(void)
{
	Suite *s = suite_create("cm_nodelifecycle");
	TCase *tc = tcase_create("sync");
	tcase_add_test(tc, healthy_node_is_left_alone);
	tcase_add_test(tc, lease_renewal_counts_as_heartbeat);
	tcase_add_test(tc, silent_node_goes_unknown_tainted_and_evicts);
	tcase_add_test(tc, node_back_loses_taints);
	tcase_add_test(tc, kubelet_reporting_not_ready_gets_not_ready_taints);
	tcase_add_test(tc, new_node_without_status_gets_grace);
	tcase_add_test(tc, tolerates_matches_upstream);
	suite_add_tcase(s, tc);
	return s;
}

KC_TEST_MAIN(cm_nodelifecycle_suite)
