/* TTL-after-finished controller sync against the fake lister and recording API. */
#include <stdio.h>
#include <string.h>

#include "errors.h"
#include "fixtures.h"
#include "json.h"
#include "kc_test.h"
#include "meta.h"

#include "../../controller-manager/fake.h"
#include "../../controller-manager/ttlafterfinished.h"

typedef struct fixture {
	kc_fake_clock fc;
	cm_fake f;
	ttl_controller tc;
} fixture;

/* 2023-11-14T22:13:20Z */
#define T0 (INT64_C(1700000000) * KC_NSEC_PER_SEC)

static void fx_init(fixture *x)
{
	kc_fake_clock_init(&x->fc, T0, 3);
	ck_assert_int_eq(cm_fake_init(&x->f, &x->fc.base), 0);
	ck_assert_int_eq(ttl_controller_init(&x->tc, &x->f.lister, &x->f.api, &x->fc.base), 0);
}

static void fx_close(fixture *x)
{
	cm_fake_close(&x->f);
	kc_fake_clock_close(&x->fc);
}

/* cond: "Complete", "Failed" or NULL (running); ttl < 0: none */
static void add_job(fixture *x, const char *name, int ttl, const char *cond)
{
	char spec[64] = "{}", status[256] = "{}", buf[768];
	if (ttl >= 0)
		snprintf(spec, sizeof(spec), "{\"ttlSecondsAfterFinished\":%d}", ttl);
	if (cond)
		snprintf(status, sizeof(status),
			 "{\"conditions\":[{\"type\":\"%s\",\"status\":\"True\","
			 "\"lastTransitionTime\":\"2023-11-14T22:13:20Z\"}]}",
			 cond);
	snprintf(buf, sizeof(buf), "{\"metadata\":{\"name\":\"%s\"},\"spec\":%s,\"status\":%s}",
		 name, spec, status);
	cm_fake_add(&x->f, "jobs", fx_json(buf));
}

START_TEST(deleted_after_ttl_on_the_clock)
{
	fixture x;
	fx_init(&x);
	add_job(&x, "done", 100, "Complete");
	ck_assert_int_eq(ttl_sync(&x.tc, "default/done"), 0);
	ck_assert_int_eq(cm_fake_count(&x.f, "delete"), 0);
	ck_assert_int_eq(x.tc.last_requeue_ns, 100 * KC_NSEC_PER_SEC);
	kc_fake_clock_advance(&x.fc, 99 * KC_NSEC_PER_SEC);
	ck_assert_int_eq(ttl_sync(&x.tc, "default/done"), 0);
	ck_assert_int_eq(cm_fake_count(&x.f, "delete"), 0);
	ck_assert_int_eq(x.tc.last_requeue_ns, 1 * KC_NSEC_PER_SEC);
	kc_fake_clock_advance(&x.fc, 1 * KC_NSEC_PER_SEC);
	ck_assert_int_eq(ttl_sync(&x.tc, "default/done"), 0);
	ck_assert_int_eq(cm_fake_count(&x.f, "delete jobs default/done"), 1);
	ck_assert_str_eq(x.f.last_propagation, "Background");
	ck_assert_ptr_null(cm_fake_find(&x.f, "jobs", "default", "done"));
	fx_close(&x);
}
END_TEST

START_TEST(failed_zero_ttl_and_untouched_jobs)
{
	fixture x;
	fx_init(&x);
	add_job(&x, "failed", 0, "Failed");
	add_job(&x, "running", 0, NULL);
	add_job(&x, "keep", -1, "Complete");
	ck_assert_int_eq(ttl_sync(&x.tc, "default/failed"), 0);
	ck_assert_int_eq(ttl_sync(&x.tc, "default/running"), 0);
	ck_assert_int_eq(ttl_sync(&x.tc, "default/keep"), 0);
	ck_assert_int_eq(ttl_sync(&x.tc, "default/missing"), 0);
	ck_assert_int_eq(cm_fake_count(&x.f, "delete jobs default/failed"), 1);
	ck_assert_int_eq(cm_fake_count(&x.f, "delete"), 1);
	ck_assert_ptr_nonnull(cm_fake_find(&x.f, "jobs", "default", "running"));
	ck_assert_ptr_nonnull(cm_fake_find(&x.f, "jobs", "default", "keep"));
	fx_close(&x);
}
END_TEST

START_TEST(being_deleted_is_skipped)
{
	fixture x;
	fx_init(&x);
	add_job(&x, "going", 0, "Complete");
	kc_meta_set_deletion_time(cm_fake_find(&x.f, "jobs", "default", "going"), T0);
	kc_meta_add_finalizer(cm_fake_find(&x.f, "jobs", "default", "going"), "foregroundDeletion");
	ck_assert_int_eq(ttl_sync(&x.tc, "default/going"), 0);
	ck_assert_int_eq(cm_fake_count(&x.f, "delete"), 0);
	fx_close(&x);
}
END_TEST

static Suite *cm_ttlafterfinished_suite(void)
{
	Suite *s = suite_create("cm_ttlafterfinished");
	TCase *tc = tcase_create("sync");
	tcase_add_test(tc, deleted_after_ttl_on_the_clock);
	tcase_add_test(tc, failed_zero_ttl_and_untouched_jobs);
	tcase_add_test(tc, being_deleted_is_skipped);
	suite_add_tcase(s, tc);
	return s;
}

KC_TEST_MAIN(cm_ttlafterfinished_suite)
