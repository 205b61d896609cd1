/* Disruption controller (PDB status) sync against the fake lister and recording API. */
#include <stdio.h>
#include <string.h>

#include "errors.h"
#include "fixtures.h"
#include "json.h"
#include "kc_test.h"
#include "meta.h"

#include "../../controller-manager/disruption.h"
#include "../../controller-manager/fake.h"

typedef struct fixture {
	kc_fake_clock fc;
	cm_fake f;
	pdb_controller pc;
} fixture;

static void fx_init(fixture *x)
{
	kc_fake_clock_init(&x->fc, INT64_C(1700000000) * KC_NSEC_PER_SEC, 3);
	ck_assert_int_eq(cm_fake_init(&x->f, &x->fc.base), 0);
	ck_assert_int_eq(pdb_controller_init(&x->pc, &x->f.lister, &x->f.api, &x->fc.base), 0);
}

static void fx_close(fixture *x)
{
	cm_fake_close(&x->f);
	kc_fake_clock_close(&x->fc);
}

static void add_pdb(fixture *x, const char *spec_extra)
{
	char buf[512];
	snprintf(buf, sizeof(buf),
		 "{\"metadata\":{\"name\":\"pdb\",\"generation\":2},\"spec\":{\"selector\":"
		 "{\"matchLabels\":{\"app\":\"web\"}}%s}}",
		 spec_extra);
	cm_fake_add(&x->f, "poddisruptionbudgets", fx_json(buf));
}

/* A Deployment with replicas, its ReplicaSet, and n pods of which `ready` are Ready. */
static void add_workload(fixture *x, int replicas, int n, int ready)
{
	char buf[1024];
	snprintf(buf, sizeof(buf),
		 "{\"metadata\":{\"name\":\"web\",\"uid\":\"d-uid\"},\"spec\":{\"replicas\":%d}}",
		 replicas);
	cm_fake_add(&x->f, "deployments", fx_json(buf));
	cm_fake_add(&x->f, "replicasets",
		    fx_json("{\"metadata\":{\"name\":\"web-1\",\"uid\":\"rs-uid\","
			    "\"ownerReferences\":[{\"apiVersion\":\"apps/v1\",\"kind\":"
			    "\"Deployment\",\"name\":\"web\",\"uid\":\"d-uid\",\"controller\":true}]},"
			    "\"spec\":{\"replicas\":1}}"));
	for (int i = 0; i < n; i++) {
		snprintf(buf, sizeof(buf),
			 "{\"metadata\":{\"name\":\"web-1-%d\",\"labels\":{\"app\":\"web\"},"
			 "\"ownerReferences\":[{\"apiVersion\":\"apps/v1\",\"kind\":\"ReplicaSet\","
			 "\"name\":\"web-1\",\"uid\":\"rs-uid\",\"controller\":true}]},"
			 "\"status\":{\"phase\":\"Running\",\"conditions\":[{\"type\":\"Ready\","
			 "\"status\":\"%s\"}]}}",
			 i, i < ready ? "True" : "False");
		cm_fake_add(&x->f, "pods", fx_json(buf));
	}
}

static const cJSON *pdb(fixture *x)
{
	return cm_fake_find(&x->f, "poddisruptionbudgets", "default", "pdb");
}

START_TEST(min_available_int)
{
	fixture x;
	fx_init(&x);
	add_pdb(&x, ",\"minAvailable\":2");
	add_workload(&x, 5, 4, 3);
	ck_assert_int_eq(pdb_sync(&x.pc, "default/pdb"), 0);
	ck_assert_int_eq(cm_fake_count(&x.f, "update poddisruptionbudgets default/pdb status"), 1);
	const cJSON *p = pdb(&x);
	ck_assert_int_eq(cm_int(p, "status.currentHealthy", -1), 3);
	ck_assert_int_eq(cm_int(p, "status.desiredHealthy", -1), 2);
	ck_assert_int_eq(cm_int(p, "status.expectedPods", -1), 4); /* int: the pod count */
	ck_assert_int_eq(cm_int(p, "status.disruptionsAllowed", -1), 1);
	ck_assert_int_eq(cm_int(p, "status.observedGeneration", -1), 2);
	const cJSON *c = cm_condition(p, "DisruptionAllowed");
	ck_assert_str_eq(kc_json_get_string(c, "status", ""), "True");
	ck_assert_str_eq(kc_json_get_string(c, "reason", ""), "SufficientPods");
	/* unchanged: no write */
	cm_fake_clear(&x.f);
	ck_assert_int_eq(pdb_sync(&x.pc, "default/pdb"), 0);
	ck_assert_int_eq(cJSON_GetArraySize(x.f.actions), 0);
	/* a pod stops being ready: no disruption allowed */
	kc_json_set_string(cJSON_GetArrayItem(kc_json_get(cm_fake_find(&x.f, "pods", "default",
								     "web-1-0"),
							  "status.conditions"),
					      0),
			   "status", "False");
	ck_assert_int_eq(pdb_sync(&x.pc, "default/pdb"), 0);
	p = pdb(&x);
	ck_assert_int_eq(cm_int(p, "status.currentHealthy", -1), 2);
	ck_assert_int_eq(cm_int(p, "status.disruptionsAllowed", -1), 0);
	c = cm_condition(p, "DisruptionAllowed");
	ck_assert_str_eq(kc_json_get_string(c, "status", ""), "False");
	ck_assert_str_eq(kc_json_get_string(c, "reason", ""), "InsufficientPods");
	fx_close(&x);
}
END_TEST

START_TEST(max_unavailable_uses_deployment_scale)
{
	fixture x;
	fx_init(&x);
	add_pdb(&x, ",\"maxUnavailable\":\"30%\"");
	add_workload(&x, 5, 5, 5);
	ck_assert_int_eq(pdb_sync(&x.pc, "default/pdb"), 0);
	const cJSON *p = pdb(&x);
	/* expected from the Deployment (5), not the ReplicaSet (1); 30% of 5 rounds up to 2 */
	ck_assert_int_eq(cm_int(p, "status.expectedPods", -1), 5);
	ck_assert_int_eq(cm_int(p, "status.desiredHealthy", -1), 3);
	ck_assert_int_eq(cm_int(p, "status.disruptionsAllowed", -1), 2);
	fx_close(&x);
}
END_TEST

START_TEST(percentage_min_available_and_orphans)
{
	fixture x;
	fx_init(&x);
	add_pdb(&x, ",\"minAvailable\":\"50%\"");
	/* pods without a controller: expectedPods falls back to the pod count */
	for (int i = 0; i < 3; i++) {
		char buf[512];
		snprintf(buf, sizeof(buf),
			 "{\"metadata\":{\"name\":\"o%d\",\"labels\":{\"app\":\"web\"}},"
			 "\"status\":{\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\"}]}}",
			 i);
		cm_fake_add(&x.f, "pods", fx_json(buf));
	}
	ck_assert_int_eq(pdb_sync(&x.pc, "default/pdb"), 0);
	const cJSON *p = pdb(&x);
	ck_assert_int_eq(cm_int(p, "status.expectedPods", -1), 3);
	ck_assert_int_eq(cm_int(p, "status.desiredHealthy", -1), 2); /* ceil(1.5) */
	ck_assert_int_eq(cm_int(p, "status.disruptionsAllowed", -1), 1);
	bool warned = false;
	const cJSON *ev;
	cJSON_ArrayForEach(ev, x.f.events)
	{
		if (!strcmp(kc_json_get_string(ev, "reason", ""), "NoControllerRef"))
			warned = true;
	}
	ck_assert(warned);
	fx_close(&x);
}
END_TEST

START_TEST(no_pods_and_disrupted_pods)
{
	fixture x;
	fx_init(&x);
	add_pdb(&x, ",\"minAvailable\":1");
	ck_assert_int_eq(pdb_sync(&x.pc, "default/pdb"), 0);
	const cJSON *p = pdb(&x);
	ck_assert_int_eq(cm_int(p, "status.expectedPods", -1), 0);
	ck_assert_int_eq(cm_int(p, "status.disruptionsAllowed", -1), 0);
	ck_assert_str_eq(kc_json_get_string(cJSON_GetArrayItem(x.f.events, 0), "reason", ""),
			 "NoPods");
	/* an eviction in flight (disruptedPods) is not counted healthy for 2 minutes */
	add_workload(&x, 3, 3, 3);
	cJSON *w = cm_fake_find(&x.f, "poddisruptionbudgets", "default", "pdb");
	kc_json_set(w, "status.disruptedPods", fx_json("{\"web-1-0\":\"2023-11-14T22:13:20Z\"}"));
	ck_assert_int_eq(pdb_sync(&x.pc, "default/pdb"), 0);
	p = pdb(&x);
	ck_assert_int_eq(cm_int(p, "status.currentHealthy", -1), 2);
	ck_assert_int_eq(cm_int(p, "status.disruptionsAllowed", -1), 1);
	kc_fake_clock_advance(&x.fc, 121 * KC_NSEC_PER_SEC);
	ck_assert_int_eq(pdb_sync(&x.pc, "default/pdb"), 0);
	p = pdb(&x);
	ck_assert_int_eq(cm_int(p, "status.currentHealthy", -1), 3);
	ck_assert_ptr_null(kc_json_get(p, "status.disruptedPods"));
	fx_close(&x);
}
END_TEST

static Suite *cm_disruption_suite(void)
{
	Suite *s = suite_create("cm_disruption");
	TCase *tc = tcase_create("sync");
	tcase_add_test(tc, min_available_int);
	tcase_add_test(tc, max_unavailable_uses_deployment_scale);
	tcase_add_test(tc, percentage_min_available_and_orphans);
	tcase_add_test(tc, no_pods_and_disrupted_pods);
	suite_add_tcase(s, tc);
	return s;
}

KC_TEST_MAIN(cm_disruption_suite)
