/* The controller framework: queue handling of sync results, workers, metrics,
 * expectations and --controllers. */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "errors.h"
#include "kc_test.h"

#include "../../controller-manager/controller.h"
#include "../../controller-manager/options.h"

typedef struct counter {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int calls, fail_first;
	char last[64];
} counter;

static int counting_sync(void *arg, const char *key)
{
	counter *c = arg;
	pthread_mutex_lock(&c->mu);
	int n = ++c->calls;
	snprintf(c->last, sizeof(c->last), "%s", key);
	pthread_cond_broadcast(&c->cv);
	pthread_mutex_unlock(&c->mu);
	return n <= c->fail_first ? KC_ECONFLICT : 0;
}

static void counter_init(counter *c, int fail_first)
{
	memset(c, 0, sizeof(*c));
	pthread_mutex_init(&c->mu, NULL);
	kc_wq_cond_init(&c->cv);
	c->fail_first = fail_first;
}

START_TEST(failed_sync_is_requeued_with_backoff_then_forgotten)
{
	kc_fake_clock fc;
	kc_fake_clock_init(&fc, 0, 1);
	counter c;
	counter_init(&c, 2);
	cm_controller *ctl;
	cm_controller_opts o = { .name = "test", .clock = &fc.base, .sync = counting_sync,
				 .arg = &c };
	ck_assert_int_eq(cm_controller_new(&o, &ctl), 0);
	cm_controller_enqueue(ctl, "default/a");
	cm_controller_enqueue(ctl, "default/a"); /* de-duplicated */
	ck_assert_int_eq(cm_controller_process_one(ctl), 1);
	ck_assert_int_eq(c.calls, 1);
	/* failed: not ready again until the backoff (5 ms) passes */
	ck_assert_int_eq(cm_controller_process_one(ctl), 0);
	kc_fake_clock_advance(&fc, 5 * KC_NSEC_PER_MSEC);
	ck_assert_int_eq(cm_controller_process_one(ctl), 1);
	ck_assert_int_eq(c.calls, 2);
	/* second failure: backoff doubled to 10 ms */
	kc_fake_clock_advance(&fc, 5 * KC_NSEC_PER_MSEC);
	ck_assert_int_eq(cm_controller_process_one(ctl), 0);
	kc_fake_clock_advance(&fc, 5 * KC_NSEC_PER_MSEC);
	ck_assert_int_eq(cm_controller_process_one(ctl), 1);
	ck_assert_int_eq(c.calls, 3); /* succeeded */
	kc_fake_clock_advance(&fc, 3600 * KC_NSEC_PER_SEC);
	ck_assert_int_eq(cm_controller_process_one(ctl), 0);
	cm_controller_stats st;
	cm_controller_get_stats(ctl, &st);
	ck_assert_uint_eq(st.syncs, 3);
	ck_assert_uint_eq(st.errors, 2);
	ck_assert_uint_eq(st.retries, 2);
	char *m = NULL;
	size_t len = 0;
	ck_assert_int_eq(cm_controller_metrics(ctl, &m, &len), 0);
	ck_assert_ptr_nonnull(strstr(m, "workqueue_retries_total{name=\"test\"} 2\n"));
	ck_assert_ptr_nonnull(strstr(m, "workqueue_work_duration_seconds_count{name=\"test\"} 3\n"));
	ck_assert_ptr_nonnull(strstr(m, "workqueue_depth{name=\"test\"} 0\n"));
	free(m);
	cm_controller_free(ctl);
	kc_fake_clock_close(&fc);
}
END_TEST

START_TEST(max_retries_drops_the_key)
{
	kc_fake_clock fc;
	kc_fake_clock_init(&fc, 0, 1);
	counter c;
	counter_init(&c, 1000);
	cm_controller *ctl;
	cm_controller_opts o = { .name = "t", .clock = &fc.base, .sync = counting_sync,
				 .arg = &c, .max_retries = 3 };
	ck_assert_int_eq(cm_controller_new(&o, &ctl), 0);
	cm_controller_enqueue(ctl, "ns/x");
	for (int i = 0; i < 10; i++) {
		cm_controller_process_one(ctl);
		kc_fake_clock_advance(&fc, 10 * KC_NSEC_PER_SEC);
	}
	/* the first try plus 3 retries, then dropped */
	ck_assert_int_eq(c.calls, 4);
	cm_controller_free(ctl);
	kc_fake_clock_close(&fc);
}
END_TEST

START_TEST(workers_process_keys_and_stop)
{
	counter c;
	counter_init(&c, 0);
	cm_controller *ctl;
	cm_controller_opts o = { .name = "w", .workers = 3, .sync = counting_sync, .arg = &c };
	ck_assert_int_eq(cm_controller_new(&o, &ctl), 0);
	ck_assert_int_eq(cm_controller_start(ctl), 0);
	char key[32];
	for (int i = 0; i < 20; i++) {
		snprintf(key, sizeof(key), "ns/k%d", i);
		cm_controller_enqueue(ctl, key);
	}
	pthread_mutex_lock(&c.mu);
	int64_t deadline = kc_now_mono(kc_clock_real()) + 10 * KC_NSEC_PER_SEC;
	while (c.calls < 20 && kc_now_mono(kc_clock_real()) < deadline)
		kc_wq_cond_wait_until(kc_clock_real(), &c.cv, &c.mu, deadline);
	int calls = c.calls;
	pthread_mutex_unlock(&c.mu);
	ck_assert_int_eq(calls, 20);
	cm_controller_stop(ctl);
	ck_assert_int_eq(cm_controller_process_one(ctl), KC_ECLOSED);
	cm_controller_free(ctl);
}
END_TEST

START_TEST(expectations_lifecycle)
{
	kc_fake_clock fc;
	kc_fake_clock_init(&fc, 0, 1);
	cm_expectations *e;
	ck_assert_int_eq(cm_expectations_new(&fc.base, &e), 0);
	ck_assert(cm_expectations_satisfied(e, "a/b")); /* unknown key */
	cm_expectations_expect(e, "a/b", 2, 0);
	ck_assert(!cm_expectations_satisfied(e, "a/b"));
	cm_expectations_creation_observed(e, "a/b");
	ck_assert(!cm_expectations_satisfied(e, "a/b"));
	cm_expectations_creation_observed(e, "a/b");
	ck_assert(cm_expectations_satisfied(e, "a/b"));
	cm_expectations_expect(e, "a/b", 0, 1);
	ck_assert(!cm_expectations_satisfied(e, "a/b"));
	kc_fake_clock_advance(&fc, CM_EXPECTATIONS_TTL_NS + 1);
	ck_assert(cm_expectations_satisfied(e, "a/b")); /* expired */
	cm_expectations_expect(e, "a/b", 1, 0);
	cm_expectations_delete(e, "a/b");
	ck_assert(cm_expectations_satisfied(e, "a/b"));
	cm_expectations_free(e);
	kc_fake_clock_close(&fc);
}
END_TEST

static void list(kc_strlist *l, const char *csv)
{
	memset(l, 0, sizeof(*l));
	ck_assert_int_eq(kc_strlist_append_csv(l, csv), 0);
}

START_TEST(controllers_flag)
{
	kc_strlist l;
	char err[256];
	list(&l, "*");
	ck_assert(cm_controller_enabled(&l, "deployment", false));
	ck_assert(!cm_controller_enabled(&l, "deployment", true)); /* disabled by default */
	kc_strlist_free(&l);
	list(&l, "*,-deployment");
	ck_assert(!cm_controller_enabled(&l, "deployment", false));
	ck_assert(cm_controller_enabled(&l, "replicaset", false));
	kc_strlist_free(&l);
	/* first match wins; the 1.32 "-controller" names work too */
	list(&l, "replicaset-controller,-replicaset");
	ck_assert(cm_controller_enabled(&l, "replicaset", false));
	ck_assert(!cm_controller_enabled(&l, "deployment", false)); /* no star */
	ck_assert_int_eq(cm_validate_controllers(&l, err, sizeof(err)), 0);
	kc_strlist_free(&l);
	list(&l, "*,-nodeipam,bogus");
	ck_assert_int_eq(cm_validate_controllers(&l, err, sizeof(err)), -EINVAL);
	ck_assert_str_eq(err, "\"bogus\" is not in the list of known controllers");
	kc_strlist_free(&l);
	ck_assert(cm_controller_unimplemented("cronjob"));
	ck_assert(cm_controller_unimplemented("statefulset-controller"));
	ck_assert(!cm_controller_unimplemented("deployment"));
	/* milestone 3, under the 1.32 names as well */
	const char *const m3[] = { "endpoint", "endpoints-controller", "nodeipam",
				   "node-ipam-controller", "disruption", "disruption-controller",
				   "ttl-after-finished", "ttl-after-finished-controller" };
	for (size_t i = 0; i < sizeof(m3) / sizeof(m3[0]); i++) {
		ck_assert_msg(!cm_controller_unimplemented(m3[i]), "%s", m3[i]);
		kc_strlist one = { (char *[]){ (char *)m3[i] }, 1, false };
		ck_assert_int_eq(cm_validate_controllers(&one, err, sizeof(err)), 0);
	}
	/* milestone 2: known, implemented, and validated under their 1.32 names too */
	const char *const m2[] = { "garbagecollector", "namespace", "serviceaccount",
				   "nodelifecycle", "podgc" };
	for (size_t i = 0; i < sizeof(m2) / sizeof(m2[0]); i++)
		ck_assert_msg(!cm_controller_unimplemented(m2[i]), "%s", m2[i]);
	list(&l, "*,-garbage-collector-controller,namespace-controller,-podgc");
	ck_assert_int_eq(cm_validate_controllers(&l, err, sizeof(err)), 0);
	ck_assert(cm_controller_enabled(&l, "namespace", false));
	ck_assert(cm_controller_enabled(&l, "nodelifecycle", false));
	ck_assert(!cm_controller_enabled(&l, "podgc", false));
	kc_strlist_free(&l);
}
END_TEST

START_TEST(split_key_rejects_malformed)
{
	char ns[16], name[16];
	ck_assert_int_eq(cm_split_key("default/web", ns, sizeof(ns), name, sizeof(name)), 0);
	ck_assert_str_eq(ns, "default");
	ck_assert_str_eq(name, "web");
	ck_assert_int_lt(cm_split_key("web", ns, sizeof(ns), name, sizeof(name)), 0);
	ck_assert_int_lt(cm_split_key("/web", ns, sizeof(ns), name, sizeof(name)), 0);
	ck_assert_int_lt(cm_split_key("a/b/c", ns, sizeof(ns), name, sizeof(name)), 0);
	ck_assert_int_lt(cm_split_key("default/averyveryverylongname", ns, sizeof(ns), name,
				      sizeof(name)),
			 0);
}
END_TEST

static Suite *cm_controller_suite(void)
{
	Suite *s = suite_create("cm_controller");
	TCase *tc = tcase_create("core");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, failed_sync_is_requeued_with_backoff_then_forgotten);
	tcase_add_test(tc, max_retries_drops_the_key);
	tcase_add_test(tc, workers_process_keys_and_stop);
	tcase_add_test(tc, expectations_lifecycle);
	tcase_add_test(tc, controllers_flag);
	tcase_add_test(tc, split_key_rejects_malformed);
	suite_add_tcase(s, tc);
	return s;
}

KC_TEST_MAIN(cm_controller_suite)
