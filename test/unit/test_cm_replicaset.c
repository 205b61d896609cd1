/* ReplicaSet controller sync against the fake lister and recording API. */
#include <stdio.h>
#include <string.h>

#include "errors.h"
#include "json.h"
#include "fixtures.h"
#include "kc_test.h"
#include "meta.h"

#include "../../controller-manager/fake.h"
#include "../../controller-manager/replicaset.h"

#define T0 (INT64_C(1700000000) * KC_NSEC_PER_SEC)

typedef struct fixture {
	kc_fake_clock fc;
	cm_fake f;
	rs_controller rc;
} fixture;

static void fx_init(fixture *x)
{
	kc_fake_clock_init(&x->fc, T0, 11);
	ck_assert_int_eq(cm_fake_init(&x->f, &x->fc.base), 0);
	ck_assert_int_eq(rs_controller_init(&x->rc, &x->f.lister, &x->f.api, &x->fc.base), 0);
}

static void fx_close(fixture *x)
{
	rs_controller_close(&x->rc);
	cm_fake_close(&x->f);
	kc_fake_clock_close(&x->fc);
}

static cJSON *add_rs(fixture *x, const char *name, int replicas, int min_ready)
{
	char buf[1024];
	snprintf(buf, sizeof(buf),
		 "{\"metadata\":{\"name\":\"%s\",\"namespace\":\"default\",\"generation\":3},"
		 "\"spec\":{\"replicas\":%d,\"minReadySeconds\":%d,"
		 "\"selector\":{\"matchLabels\":{\"app\":\"web\"}},"
		 "\"template\":{\"metadata\":{\"labels\":{\"app\":\"web\",\"tier\":\"fe\"}},"
		 "\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"nginx\"}]}}}}",
		 name, replicas, min_ready);
	return cm_fake_add(&x->f, "replicasets", fx_json(buf));
}

/* A pod; owner may be NULL (orphan). ready_at: wall ns of the Ready transition, 0 for
 * not ready. */
static cJSON *add_pod(fixture *x, const char *name, const cJSON *owner, const char *labels,
		      const char *node, const char *phase, int64_t ready_at)
{
	char buf[1024];
	snprintf(buf, sizeof(buf),
		 "{\"metadata\":{\"name\":\"%s\",\"namespace\":\"default\",\"labels\":%s},"
		 "\"spec\":{\"nodeName\":\"%s\"},\"status\":{\"phase\":\"%s\"}}",
		 name, labels ? labels : "{\"app\":\"web\",\"tier\":\"fe\"}", node ? node : "",
		 phase);
	cJSON *p = fx_json(buf);
	if (ready_at) {
		char ts[KC_TIME_BUFLEN], c[256];
		kc_meta_time_format(ready_at, ts, sizeof(ts));
		snprintf(c, sizeof(c),
			 "[{\"type\":\"Ready\",\"status\":\"True\",\"lastTransitionTime\":\"%s\"}]",
			 ts);
		kc_json_set(p, "status.conditions", fx_json(c));
	}
	if (owner) {
		kc_owner_ref o = { "apps/v1", "ReplicaSet", kc_meta_name(owner),
				   kc_meta_uid(owner), true, true };
		kc_meta_add_owner_ref(p, &o);
	}
	return cm_fake_add(&x->f, "pods", p);
}

static int count_owned(fixture *x, const cJSON *rs)
{
	int n = 0;
	const cJSON *p;
	cJSON_ArrayForEach(p, cJSON_GetObjectItem(x->f.store, "pods"))
	{
		const cJSON *ref = kc_meta_controller_ref(p);
		if (ref && !strcmp(kc_json_get_string(ref, "uid", ""), kc_meta_uid(rs)))
			n++;
	}
	return n;
}

START_TEST(creates_missing_pods_with_owner_refs)
{
	fixture x;
	fx_init(&x);
	cJSON *rs = add_rs(&x, "web", 3, 0);
	add_pod(&x, "web-old", rs, NULL, "n1", "Running", 0);
	ck_assert_int_eq(rs_sync(&x.rc, "default/web"), 0);
	ck_assert_int_eq(cm_fake_count(&x.f, "create pods default/web-"), 2);
	ck_assert_int_eq(cm_fake_len(&x.f, "pods"), 3);
	/* the new pods: generateName web-, template labels and spec, controller ref */
	int seen = 0;
	const cJSON *p;
	cJSON_ArrayForEach(p, cJSON_GetObjectItem(x.f.store, "pods"))
	{
		if (!strcmp(kc_meta_name(p), "web-old"))
			continue;
		seen++;
		ck_assert_str_eq(kc_meta_generate_name(p), "web-");
		ck_assert_int_eq(strlen(kc_meta_name(p)), 4 + 5);
		ck_assert_str_eq(kc_meta_label(p, "tier"), "fe");
		ck_assert_str_eq(kc_json_get_string(p, "spec.containers.0.image", ""), "nginx");
		const cJSON *ref = kc_meta_controller_ref(p);
		ck_assert_ptr_nonnull(ref);
		ck_assert_str_eq(kc_json_get_string(ref, "apiVersion", ""), "apps/v1");
		ck_assert_str_eq(kc_json_get_string(ref, "kind", ""), "ReplicaSet");
		ck_assert_str_eq(kc_json_get_string(ref, "name", ""), "web");
		ck_assert_str_eq(kc_json_get_string(ref, "uid", ""), kc_meta_uid(rs));
		ck_assert(kc_json_get_bool(ref, "blockOwnerDeletion", false));
	}
	ck_assert_int_eq(seen, 2);
	/* events name the created pods */
	ck_assert_int_eq(cJSON_GetArraySize(x.f.events), 2);
	const cJSON *ev = cJSON_GetArrayItem(x.f.events, 0);
	ck_assert_str_eq(kc_json_get_string(ev, "reason", ""), "SuccessfulCreate");
	ck_assert_str_eq(kc_json_get_string(ev, "kind", ""), "ReplicaSet");
	ck_assert(!strncmp(kc_json_get_string(ev, "message", ""), "Created pod: web-", 17));
	/* status written through the status subresource */
	ck_assert_int_eq(cm_fake_count(&x.f, "update replicasets default/web status"), 1);
	/* a second sync with everything visible does nothing more */
	cm_fake_clear(&x.f);
	ck_assert_int_eq(rs_sync(&x.rc, "default/web"), 0);
	ck_assert_int_eq(cm_fake_count(&x.f, "create"), 0);
	ck_assert_int_eq(cm_fake_count(&x.f, "delete"), 0);
	fx_close(&x);
}
END_TEST

START_TEST(expectations_prevent_double_creation)
{
	fixture x;
	fx_init(&x);
	cJSON *rs = add_rs(&x, "web", 3, 0);
	x.f.writes_visible = false; /* the informer lags */
	ck_assert_int_eq(rs_sync(&x.rc, "default/web"), 0);
	ck_assert_int_eq(cm_fake_count(&x.f, "create pods"), 3);
	/* resync before the cache shows the pods: no new creations */
	ck_assert_int_eq(rs_sync(&x.rc, "default/web"), 0);
	ck_assert_int_eq(cm_fake_count(&x.f, "create pods"), 3);
	/* the informer delivers two of them: still waiting for the third */
	cJSON *created = cm_fake_flush(&x.f);
	ck_assert_int_eq(cJSON_GetArraySize(created), 3);
	rs_on_pod_add(cJSON_GetArrayItem(created, 0), &x.rc);
	rs_on_pod_add(cJSON_GetArrayItem(created, 1), &x.rc);
	/* pretend the third is still invisible: remove it from the cache */
	const char *third = kc_meta_name(cJSON_GetArrayItem(created, 2));
	ck_assert_int_eq(x.f.api.del(&x.f.api, "pods", "default", third, NULL), 0);
	ck_assert_int_eq(rs_sync(&x.rc, "default/web"), 0);
	ck_assert_int_eq(cm_fake_count(&x.f, "create pods"), 3);
	/* the expectation expires after 5 minutes: the controller acts again */
	kc_fake_clock_advance(&x.fc, CM_EXPECTATIONS_TTL_NS + KC_NSEC_PER_SEC);
	x.f.writes_visible = true;
	ck_assert_int_eq(rs_sync(&x.rc, "default/web"), 0);
	ck_assert_int_eq(cm_fake_count(&x.f, "create pods"), 4);
	ck_assert_int_eq(count_owned(&x, rs), 3);
	cJSON_Delete(created);
	fx_close(&x);
}
END_TEST

START_TEST(slow_start_stops_after_failing_batch)
{
	fixture x;
	fx_init(&x);
	add_rs(&x, "web", 10, 0);
	x.f.fail_from = 4; /* creates 1..3 succeed (batches 1 and 2), then quota */
	ck_assert_int_lt(rs_sync(&x.rc, "default/web"), 0);
	/* batches 1, 2, 4: the batch of 4 fails entirely, nothing after it is tried */
	ck_assert_int_eq(x.f.create_calls, 7);
	ck_assert_int_eq(cm_fake_count(&x.f, "create pods"), 3);
	int failed = 0;
	const cJSON *ev;
	cJSON_ArrayForEach(ev, x.f.events)
	{
		if (!strcmp(kc_json_get_string(ev, "reason", ""), "FailedCreate")) {
			failed++;
			ck_assert_str_eq(kc_json_get_string(ev, "message", ""),
					 "Error creating: pods \"web-\" is forbidden: exceeded quota: "
					 "fake");
		}
	}
	ck_assert_int_eq(failed, 4);
	/* ReplicaFailure condition on the status */
	const cJSON *rs = cm_fake_find(&x.f, "replicasets", "default", "web");
	const cJSON *c = cm_condition(rs, "ReplicaFailure");
	ck_assert_ptr_nonnull(c);
	ck_assert_str_eq(kc_json_get_string(c, "reason", ""), "FailedCreate");
	ck_assert_str_eq(kc_json_get_string(c, "status", ""), "True");
	ck_assert_str_eq(kc_json_get_string(c, "message", ""),
			 "pods \"web-\" is forbidden: exceeded quota: fake");
	/* the 7 pods never created were subtracted from the expectations: the three
	 * created pods are still expected, so an immediate resync creates nothing */
	x.f.fail_from = 0;
	ck_assert_int_eq(rs_sync(&x.rc, "default/web"), 0);
	ck_assert_int_eq(cm_fake_count(&x.f, "create pods"), 3);
	fx_close(&x);
}
END_TEST

START_TEST(scale_down_deletes_in_upstream_order)
{
	fixture x;
	fx_init(&x);
	cJSON *rs = add_rs(&x, "web", 1, 0);
	add_pod(&x, "ready-old", rs, NULL, "n1", "Running", T0 - 3600 * KC_NSEC_PER_SEC);
	add_pod(&x, "running-unready", rs, NULL, "n2", "Running", 0);
	add_pod(&x, "unassigned", rs, NULL, NULL, "Pending", 0);
	add_pod(&x, "pending", rs, NULL, "n3", "Pending", 0);
	ck_assert_int_eq(rs_sync(&x.rc, "default/web"), 0);
	ck_assert_int_eq(cm_fake_count(&x.f, "delete pods"), 3);
	ck_assert_str_eq(cJSON_GetArrayItem(x.f.actions, 0)->valuestring,
			 "delete pods default/unassigned");
	ck_assert_str_eq(cJSON_GetArrayItem(x.f.actions, 1)->valuestring,
			 "delete pods default/pending");
	ck_assert_str_eq(cJSON_GetArrayItem(x.f.actions, 2)->valuestring,
			 "delete pods default/running-unready");
	ck_assert_ptr_nonnull(cm_fake_find(&x.f, "pods", "default", "ready-old"));
	const cJSON *ev = cJSON_GetArrayItem(x.f.events, 0);
	ck_assert_str_eq(kc_json_get_string(ev, "reason", ""), "SuccessfulDelete");
	ck_assert_str_eq(kc_json_get_string(ev, "message", ""), "Deleted pod: unassigned");
	fx_close(&x);
}
END_TEST

START_TEST(scale_down_prefers_nodes_doubled_up_with_sibling_pods)
{
	fixture x;
	fx_init(&x);
	/* two ReplicaSets of one Deployment */
	cJSON *a = add_rs(&x, "web-a", 1, 0), *b = add_rs(&x, "web-b", 1, 0);
	kc_owner_ref d = { "apps/v1", "Deployment", "web", "dep-uid-1", true, true };
	kc_meta_add_owner_ref(a, &d);
	kc_meta_add_owner_ref(b, &d);
	kc_meta_set_label(cJSON_GetObjectItem(kc_json_get(b, "spec"), "template"), "x", "y");
	kc_json_set_string(b, "spec.selector.matchLabels.x", "y");
	int64_t t = T0 - 3600 * KC_NSEC_PER_SEC;
	add_pod(&x, "a-old-on-n1", a, NULL, "n1", "Running", t);
	kc_fake_clock_advance(&x.fc, 10 * KC_NSEC_PER_SEC);
	add_pod(&x, "a-new-on-n2", a, NULL, "n2", "Running", t);
	add_pod(&x, "b-on-n1", b, "{\"app\":\"web\",\"tier\":\"fe\",\"x\":\"y\"}", "n1", "Running",
		t);
	/* without the sibling the newer pod would go first; n1 is doubled up instead */
	ck_assert_int_eq(rs_sync(&x.rc, "default/web-a"), 0);
	ck_assert_int_eq(cm_fake_count(&x.f, "delete pods"), 1);
	ck_assert_int_eq(cm_fake_count(&x.f, "delete pods default/a-old-on-n1"), 1);
	fx_close(&x);
}
END_TEST

START_TEST(ranking_newer_ready_and_cost_and_doubled_up)
{
	fixture x;
	fx_init(&x);
	int64_t now = T0;
	cJSON *rs = add_rs(&x, "web", 1, 0);
	/* ready 10 s vs ready 1 h: the shorter-lived goes first */
	cJSON *young = add_pod(&x, "young", rs, NULL, "n1", "Running", now - 10 * KC_NSEC_PER_SEC);
	cJSON *old = add_pod(&x, "old", rs, NULL, "n1", "Running", now - 3600 * KC_NSEC_PER_SEC);
	ck_assert(rs_pod_delete_less(young, 1, old, 1, now));
	ck_assert(!rs_pod_delete_less(old, 1, young, 1, now));
	/* a lower deletion cost wins over readiness age */
	kc_meta_set_annotation(old, "controller.kubernetes.io/pod-deletion-cost", "-5");
	ck_assert(rs_pod_delete_less(old, 1, young, 1, now));
	kc_meta_remove_annotation(old, "controller.kubernetes.io/pod-deletion-cost");
	/* doubled up (more related pods on the node) goes first */
	ck_assert(rs_pod_delete_less(old, 3, young, 1, now));
	/* more restarts first */
	cJSON *a = add_pod(&x, "a", rs, NULL, "n1", "Running", now - 100 * KC_NSEC_PER_SEC);
	cJSON *b = add_pod(&x, "b", rs, NULL, "n1", "Running", now - 100 * KC_NSEC_PER_SEC);
	kc_json_set(a, "status.containerStatuses",
		    fx_json("[{\"name\":\"c\",\"restartCount\":4}]"));
	ck_assert(rs_pod_delete_less(a, 1, b, 1, now));
	ck_assert(!rs_pod_delete_less(b, 1, a, 1, now));
	fx_close(&x);
}
END_TEST

START_TEST(adopts_orphans_and_releases_mismatches)
{
	fixture x;
	fx_init(&x);
	cJSON *rs = add_rs(&x, "web", 1, 0);
	add_pod(&x, "orphan", NULL, NULL, "n1", "Running", 0);
	add_pod(&x, "relabelled", rs, "{\"app\":\"other\"}", "n1", "Running", 0);
	add_pod(&x, "stranger", NULL, "{\"app\":\"other\"}", "n1", "Running", 0);
	ck_assert_int_eq(rs_sync(&x.rc, "default/web"), 0);
	ck_assert_int_eq(cm_fake_count(&x.f, "patch pods default/orphan"), 1);
	ck_assert_int_eq(cm_fake_count(&x.f, "patch pods default/relabelled"), 1);
	ck_assert_int_eq(cm_fake_count(&x.f, "patch pods default/stranger"), 0);
	/* the adopted orphan counts: no creation, no deletion */
	ck_assert_int_eq(cm_fake_count(&x.f, "create"), 0);
	ck_assert_int_eq(cm_fake_count(&x.f, "delete"), 0);
	const cJSON *o = cm_fake_find(&x.f, "pods", "default", "orphan");
	const cJSON *ref = kc_meta_controller_ref(o);
	ck_assert_ptr_nonnull(ref);
	ck_assert_str_eq(kc_json_get_string(ref, "uid", ""), kc_meta_uid(rs));
	const cJSON *r = cm_fake_find(&x.f, "pods", "default", "relabelled");
	ck_assert_ptr_null(kc_meta_owner_refs(r));
	fx_close(&x);
}
END_TEST

START_TEST(status_counts_ready_available_fully_labeled)
{
	fixture x;
	fx_init(&x);
	cJSON *rs = add_rs(&x, "web", 3, 30);
	/* ready for an hour: available */
	add_pod(&x, "p1", rs, NULL, "n1", "Running", T0 - 3600 * KC_NSEC_PER_SEC);
	/* ready 5 s ago: ready but not yet available (minReadySeconds 30) */
	add_pod(&x, "p2", rs, NULL, "n1", "Running", T0 - 5 * KC_NSEC_PER_SEC);
	/* matches the selector but lacks the template's tier label */
	add_pod(&x, "p3", rs, "{\"app\":\"web\"}", "n1", "Running", 0);
	/* a finished pod does not count */
	add_pod(&x, "done", rs, NULL, "n1", "Succeeded", 0);
	ck_assert_int_eq(rs_sync(&x.rc, "default/web"), 0);
	ck_assert_int_eq(cm_fake_count(&x.f, "create"), 0);
	const cJSON *st = kc_json_get(cm_fake_find(&x.f, "replicasets", "default", "web"),
				      "status");
	ck_assert_int_eq(cm_int(st, "replicas", -1), 3);
	ck_assert_int_eq(cm_int(st, "fullyLabeledReplicas", -1), 2);
	ck_assert_int_eq(cm_int(st, "readyReplicas", -1), 2);
	ck_assert_int_eq(cm_int(st, "availableReplicas", -1), 1);
	ck_assert_int_eq(cm_int(st, "observedGeneration", -1), 3);
	/* 30 s later p2 is available too */
	kc_fake_clock_advance(&x.fc, 30 * KC_NSEC_PER_SEC);
	ck_assert_int_eq(rs_sync(&x.rc, "default/web"), 0);
	st = kc_json_get(cm_fake_find(&x.f, "replicasets", "default", "web"), "status");
	ck_assert_int_eq(cm_int(st, "availableReplicas", -1), 2);
	/* nothing changed: no status write */
	cm_fake_clear(&x.f);
	ck_assert_int_eq(rs_sync(&x.rc, "default/web"), 0);
	ck_assert_int_eq(cm_fake_count(&x.f, "update"), 0);
	fx_close(&x);
}
END_TEST

START_TEST(deleted_replicaset_and_bad_key_are_not_retried)
{
	fixture x;
	fx_init(&x);
	ck_assert_int_eq(rs_sync(&x.rc, "default/gone"), 0);
	ck_assert_int_eq(rs_sync(&x.rc, "no-slash"), 0);
	ck_assert_int_eq(cJSON_GetArraySize(x.f.actions), 0);
	fx_close(&x);
}
END_TEST

static Suite *cm_replicaset_suite(void)
{
	Suite *s = suite_create("cm_replicaset");
	TCase *tc = tcase_create("sync");
	tcase_add_test(tc, creates_missing_pods_with_owner_refs);
	tcase_add_test(tc, expectations_prevent_double_creation);
	tcase_add_test(tc, slow_start_stops_after_failing_batch);
	tcase_add_test(tc, scale_down_deletes_in_upstream_order);
	tcase_add_test(tc, scale_down_prefers_nodes_doubled_up_with_sibling_pods);
	tcase_add_test(tc, ranking_newer_ready_and_cost_and_doubled_up);
	tcase_add_test(tc, adopts_orphans_and_releases_mismatches);
	tcase_add_test(tc, status_counts_ready_available_fully_labeled);
	tcase_add_test(tc, deleted_replicaset_and_bad_key_are_not_retried);
	suite_add_tcase(s, tc);
	return s;
}

KC_TEST_MAIN(cm_replicaset_suite)
