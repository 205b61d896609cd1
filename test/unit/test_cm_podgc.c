/* Pod GC sync against the fakes. */
#include <stdio.h>
#include <string.h>

#include "errors.h"
#include "json.h"
#include "kc_test.h"
#include "meta.h"

#include "../../controller-manager/fake.h"
#include "../../controller-manager/podgc.h"

#define T0 (INT64_C(1700000000) * KC_NSEC_PER_SEC)

typedef struct fixture {
	kc_fake_clock fc;
	cm_fake f;
	podgc_controller pc;
} fixture;

static cJSON *parse(const char *s)
{
	cJSON *o = NULL;
	char err[256];
	ck_assert_msg(kc_json_parse_str(s, &o, err, sizeof(err)) == 0, "%s", err);
	return o;
}

static void fx_init(fixture *x, int threshold)
{
	kc_fake_clock_init(&x->fc, T0, 9);
	ck_assert_int_eq(cm_fake_init(&x->f, &x->fc.base), 0);
	ck_assert_int_eq(podgc_controller_init(&x->pc, &x->f.lister, &x->f.api, &x->fc.base,
					       threshold), 0);
	cm_fake_add(&x->f, "nodes", parse("{\"metadata\":{\"name\":\"n1\"}}"));
}

static void fx_close(fixture *x)
{
	cm_fake_close(&x->f);
	kc_fake_clock_close(&x->fc);
}

/* A pod created now (the clock moves a second per pod so creation order is clear). */
static cJSON *add_pod(fixture *x, const char *name, const char *node, const char *phase)
{
	char buf[512];
	snprintf(buf, sizeof(buf),
		 "{\"metadata\":{\"name\":\"%s\",\"namespace\":\"default\"},"
		 "\"spec\":{\"nodeName\":\"%s\"},\"status\":{\"phase\":\"%s\"}}",
		 name, node, phase);
	kc_fake_clock_advance(&x->fc, KC_NSEC_PER_SEC);
	return cm_fake_add(&x->f, "pods", parse(buf));
}

START_TEST(terminated_pods_over_threshold_oldest_first)
{
	fixture x;
	fx_init(&x, 2);
	add_pod(&x, "old-done", "n1", "Succeeded");
	add_pod(&x, "running", "n1", "Running");
	add_pod(&x, "old-failed", "n1", "Failed");
	add_pod(&x, "new-done", "n1", "Succeeded");
	add_pod(&x, "newest-failed", "n1", "Failed");
	ck_assert_int_eq(podgc_sync(&x.pc, PODGC_KEY), 0);
	ck_assert_int_eq(cm_fake_count(&x.f, "delete pods"), 2);
	ck_assert_ptr_null(cm_fake_find(&x.f, "pods", "default", "old-done"));
	ck_assert_ptr_null(cm_fake_find(&x.f, "pods", "default", "old-failed"));
	ck_assert_ptr_nonnull(cm_fake_find(&x.f, "pods", "default", "new-done"));
	ck_assert_ptr_nonnull(cm_fake_find(&x.f, "pods", "default", "newest-failed"));
	ck_assert_ptr_nonnull(cm_fake_find(&x.f, "pods", "default", "running"));
	/* at the threshold now: nothing more */
	cm_fake_clear(&x.f);
	ck_assert_int_eq(podgc_sync(&x.pc, PODGC_KEY), 0);
	ck_assert_int_eq(cJSON_GetArraySize(x.f.actions), 0);
	fx_close(&x);
}
END_TEST

START_TEST(threshold_zero_disables_terminated_gc)
{
	fixture x;
	fx_init(&x, 0);
	add_pod(&x, "done", "n1", "Succeeded");
	ck_assert_int_eq(podgc_sync(&x.pc, PODGC_KEY), 0);
	ck_assert_int_eq(cJSON_GetArraySize(x.f.actions), 0);
	fx_close(&x);
}
END_TEST

START_TEST(pods_of_deleted_nodes_are_failed_and_force_deleted)
{
	fixture x;
	fx_init(&x, 100);
	add_pod(&x, "lost", "gone-node", "Running");
	add_pod(&x, "fine", "n1", "Running");
	add_pod(&x, "pending", "", "Pending");
	ck_assert_int_eq(podgc_sync(&x.pc, PODGC_KEY), 0);
	ck_assert_int_eq(cm_fake_count(&x.f, "update pods default/lost status"), 1);
	ck_assert_int_eq(cm_fake_count(&x.f, "delete pods default/lost"), 1);
	ck_assert_int_eq(cm_fake_count(&x.f, "delete"), 1);
	ck_assert_ptr_nonnull(cm_fake_find(&x.f, "pods", "default", "fine"));
	ck_assert_ptr_nonnull(cm_fake_find(&x.f, "pods", "default", "pending"));
	fx_close(&x);
}
END_TEST

/* A node the cache has not seen yet but the apiserver has: its pods stay. */
START_TEST(node_missing_from_cache_is_verified_live)
{
	fixture x;
	fx_init(&x, 100);
	x.f.writes_visible = false;
	cJSON *in = parse("{\"metadata\":{\"name\":\"n9\"}}");
	ck_assert_int_eq(x.f.api.create(&x.f.api, "nodes", "", in, NULL, NULL), 0);
	cJSON_Delete(in);
	x.f.writes_visible = true;
	cm_fake_clear(&x.f);
	add_pod(&x, "new", "n9", "Running");
	ck_assert_int_eq(podgc_sync(&x.pc, PODGC_KEY), 0);
	ck_assert_int_eq(cJSON_GetArraySize(x.f.actions), 0);
	cJSON_Delete(cm_fake_flush(&x.f));
	fx_close(&x);
}
END_TEST

START_TEST(unscheduled_terminating_pods_are_force_deleted)
{
	fixture x;
	fx_init(&x, 100);
	cJSON *p = add_pod(&x, "stuck", "", "Pending");
	kc_meta_set_deletion_time(p, T0);
	ck_assert_int_eq(podgc_sync(&x.pc, PODGC_KEY), 0);
	ck_assert_ptr_null(cm_fake_find(&x.f, "pods", "default", "stuck"));
	fx_close(&x);
}
END_TEST

static Suite *cm_podgc_suite(void)
{
	Suite *s = suite_create("cm_podgc");
	TCase *tc = tcase_create("sync");
	tcase_add_test(tc, terminated_pods_over_threshold_oldest_first);
	tcase_add_test(tc, threshold_zero_disables_terminated_gc);
	tcase_add_test(tc, pods_of_deleted_nodes_are_failed_and_force_deleted);
	tcase_add_test(tc, node_missing_from_cache_is_verified_live);
	tcase_add_test(tc, unscheduled_terminating_pods_are_force_deleted);
	suite_add_tcase(s, tc);
	return s;
}

KC_TEST_MAIN(cm_podgc_suite)
