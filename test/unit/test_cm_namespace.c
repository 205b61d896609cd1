/* Namespace controller and ServiceAccount controller syncs against the fakes. */
#include <stdio.h>
#include <string.h>

#include "errors.h"
#include "json.h"
#include "kc_test.h"
#include "meta.h"

#include "../../controller-manager/fake.h"
#include "../../controller-manager/namespace.h"
#include "../../controller-manager/serviceaccount.h"

#define T0 (INT64_C(1700000000) * KC_NSEC_PER_SEC)

typedef struct fixture {
	kc_fake_clock fc;
	cm_fake f;
	ns_controller nc;
	sa_controller sc;
} fixture;

static void fx_init(fixture *x)
{
	kc_fake_clock_init(&x->fc, T0, 5);
	ck_assert_int_eq(cm_fake_init(&x->f, &x->fc.base), 0);
	ck_assert_int_eq(ns_controller_init(&x->nc, &x->f.lister, &x->f.api, &x->fc.base), 0);
	ck_assert_int_eq(sa_controller_init(&x->sc, &x->f.lister, &x->f.api), 0);
}

static void fx_close(fixture *x)
{
	cm_fake_close(&x->f);
	kc_fake_clock_close(&x->fc);
}

static cJSON *parse(const char *s)
{
	cJSON *o = NULL;
	char err[256];
	ck_assert_msg(kc_json_parse_str(s, &o, err, sizeof(err)) == 0, "%s", err);
	return o;
}

static cJSON *add_ns(fixture *x, const char *name, bool terminating)
{
	char buf[256];
	snprintf(buf, sizeof(buf),
		 "{\"metadata\":{\"name\":\"%s\"},\"spec\":{\"finalizers\":[\"kubernetes\"]},"
		 "\"status\":{\"phase\":\"%s\"}}",
		 name, terminating ? "Terminating" : "Active");
	cJSON *ns = cm_fake_add(&x->f, "namespaces", parse(buf));
	if (terminating)
		kc_meta_set_deletion_time(ns, kc_now_wall(&x->fc.base));
	return ns;
}

static void add(fixture *x, const char *resource, const char *ns, const char *name)
{
	char buf[256];
	snprintf(buf, sizeof(buf), "{\"metadata\":{\"name\":\"%s\",\"namespace\":\"%s\"}}", name,
		 ns);
	cm_fake_add(&x->f, resource, parse(buf));
}

START_TEST(terminating_namespace_is_emptied_and_finalized)
{
	fixture x;
	fx_init(&x);
	add_ns(&x, "team", true);
	add(&x, "pods", "team", "a");
	add(&x, "pods", "team", "b");
	add(&x, "configmaps", "team", "cfg");
	add(&x, "deployments", "team", "web");
	add(&x, "pods", "other", "keep");
	ck_assert_int_eq(ns_sync(&x.nc, "team"), 0);
	ck_assert_int_eq(cm_fake_count(&x.f, "delete pods team/"), 2);
	ck_assert_int_eq(cm_fake_count(&x.f, "delete configmaps team/cfg"), 1);
	ck_assert_int_eq(cm_fake_count(&x.f, "delete deployments team/web"), 1);
	ck_assert_str_eq(x.f.last_propagation, "Background");
	ck_assert_ptr_nonnull(cm_fake_find(&x.f, "pods", "other", "keep"));
	ck_assert_int_eq(cm_fake_count(&x.f, "update namespaces /team finalize"), 1);
	ck_assert_ptr_null(cm_fake_find(&x.f, "namespaces", "", "team"));
	fx_close(&x);
}
END_TEST

START_TEST(active_namespace_is_left_alone)
{
	fixture x;
	fx_init(&x);
	add_ns(&x, "team", false);
	add(&x, "pods", "team", "a");
	ck_assert_int_eq(ns_sync(&x.nc, "team"), 0);
	ck_assert_int_eq(ns_sync(&x.nc, "missing"), 0);
	ck_assert_int_eq(cJSON_GetArraySize(x.f.actions), 0);
	fx_close(&x);
}
END_TEST

/* A pod still terminating gracefully keeps the namespace: the finalizer stays and the
 * NamespaceContentRemaining condition says what is left. */
START_TEST(remaining_content_keeps_finalizer)
{
	fixture x;
	fx_init(&x);
	add_ns(&x, "team", true);
	add(&x, "pods", "team", "slow");
	kc_meta_set_deletion_time(cm_fake_find(&x.f, "pods", "team", "slow"), T0);
	ck_assert_int_eq(ns_sync(&x.nc, "team"), 0);
	ck_assert_int_eq(cm_fake_count(&x.f, "update namespaces /team finalize"), 0);
	cJSON *ns = cm_fake_find(&x.f, "namespaces", "", "team");
	ck_assert_ptr_nonnull(ns);
	cJSON *c = cm_condition(ns, "NamespaceContentRemaining");
	ck_assert_ptr_nonnull(c);
	ck_assert_str_eq(kc_json_get_string(c, "status", ""), "True");
	ck_assert_str_eq(kc_json_get_string(c, "message", ""),
			 "Some resources are remaining: pods has 1 resource instances");
	/* the pod finishes: the next pass finalizes */
	x.f.api.del(&x.f.api, "pods", "team", "slow", NULL);
	ck_assert_int_eq(ns_sync(&x.nc, "team"), 0);
	ck_assert_ptr_null(cm_fake_find(&x.f, "namespaces", "", "team"));
	fx_close(&x);
}
END_TEST

/* Other finalizers in spec.finalizers are kept. */
START_TEST(other_spec_finalizers_are_kept)
{
	fixture x;
	fx_init(&x);
	cJSON *ns = add_ns(&x, "team", true);
	cJSON_AddItemToArray(kc_json_get(ns, "spec.finalizers"), cJSON_CreateString("example.com/x"));
	ck_assert_int_eq(ns_sync(&x.nc, "team"), 0);
	ns = cm_fake_find(&x.f, "namespaces", "", "team");
	ck_assert_ptr_nonnull(ns);
	cJSON *fins = kc_json_get(ns, "spec.finalizers");
	ck_assert_int_eq(cJSON_GetArraySize(fins), 1);
	ck_assert_str_eq(cJSON_GetArrayItem(fins, 0)->valuestring, "example.com/x");
	/* nothing more to do for us */
	cm_fake_clear(&x.f);
	ck_assert_int_eq(ns_sync(&x.nc, "team"), 0);
	ck_assert_int_eq(cJSON_GetArraySize(x.f.actions), 0);
	fx_close(&x);
}
END_TEST

START_TEST(default_serviceaccount_created)
{
	fixture x;
	fx_init(&x);
	add_ns(&x, "team", false);
	ck_assert_int_eq(sa_sync(&x.sc, "team"), 0);
	ck_assert_int_eq(cm_fake_count(&x.f, "create serviceaccounts team/default"), 1);
	/* present now: nothing more */
	ck_assert_int_eq(sa_sync(&x.sc, "team"), 0);
	ck_assert_int_eq(cm_fake_count(&x.f, "create"), 1);
	fx_close(&x);
}
END_TEST

START_TEST(no_serviceaccount_in_terminating_or_missing_namespace)
{
	fixture x;
	fx_init(&x);
	add_ns(&x, "dying", true);
	ck_assert_int_eq(sa_sync(&x.sc, "dying"), 0);
	ck_assert_int_eq(sa_sync(&x.sc, "missing"), 0);
	ck_assert_int_eq(sa_sync(&x.sc, "bad/key"), 0);
	ck_assert_int_eq(cJSON_GetArraySize(x.f.actions), 0);
	fx_close(&x);
}
END_TEST

/* The cache lagging behind an earlier create: AlreadyExists is success. */
START_TEST(serviceaccount_already_exists_is_fine)
{
	fixture x;
	fx_init(&x);
	add_ns(&x, "team", false);
	x.f.writes_visible = false;
	ck_assert_int_eq(sa_sync(&x.sc, "team"), 0);
	ck_assert_int_eq(sa_sync(&x.sc, "team"), 0);
	ck_assert_int_eq(cm_fake_count(&x.f, "create serviceaccounts team/default"), 1);
	cJSON_Delete(cm_fake_flush(&x.f));
	fx_close(&x);
}
END_TEST

static Suite *cm_namespace_suite(void)
{
	Suite *s = suite_create("cm_namespace");
	TCase *tc = tcase_create("namespace");
	tcase_add_test(tc, terminating_namespace_is_emptied_and_finalized);
	tcase_add_test(tc, active_namespace_is_left_alone);
	tcase_add_test(tc, remaining_content_keeps_finalizer);
	tcase_add_test(tc, other_spec_finalizers_are_kept);
	suite_add_tcase(s, tc);
	TCase *tc2 = tcase_create("serviceaccount");
	tcase_add_test(tc2, default_serviceaccount_created);
	tcase_add_test(tc2, no_serviceaccount_in_terminating_or_missing_namespace);
	tcase_add_test(tc2, serviceaccount_already_exists_is_fine);
	suite_add_tcase(s, tc2);
	return s;
}

KC_TEST_MAIN(cm_namespace_suite)
