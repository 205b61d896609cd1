#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "errors.h"
#include "kc_test.h"
#include "workqueue.h"

static kc_fake_clock fc;

static kc_wq *new_queue(void)
{
	kc_wq *q = NULL;
	kc_wq_options o = { .name = "test", .clock = &fc.base };
	ck_assert_int_eq(kc_wq_new(&o, &q), 0);
	return q;
}

static void setup(void) { kc_fake_clock_init(&fc, 1700000000 * KC_NSEC_PER_SEC, 1); }
static void teardown(void) { kc_fake_clock_close(&fc); }

/* Take the next ready key without blocking; fails the test if none. */
static char *take(kc_wq *q)
{
	char *k = NULL;
	ck_assert_int_eq(kc_wq_try_get(q, &k), 0);
	ck_assert_ptr_nonnull(k);
	return k;
}

START_TEST(add_dedups_and_keeps_fifo_order)
{
	kc_wq *q = new_queue();
	ck_assert_int_eq(kc_wq_add(q, "ns/a"), 0);
	ck_assert_int_eq(kc_wq_add(q, "ns/b"), 0);
	ck_assert_int_eq(kc_wq_add(q, "ns/a"), 0);
	ck_assert_uint_eq(kc_wq_len(q), 2);
	char *a = take(q), *b = take(q);
	ck_assert_str_eq(a, "ns/a");
	ck_assert_str_eq(b, "ns/b");
	char *none = NULL;
	ck_assert_int_eq(kc_wq_try_get(q, &none), -EAGAIN);
	kc_wq_done(q, a);
	kc_wq_done(q, b);
	free(a);
	free(b);
	ck_assert_uint_eq(kc_wq_len(q), 0);
	kc_wq_metrics m;
	kc_wq_get_metrics(q, &m);
	ck_assert_uint_eq(m.adds, 2);
	ck_assert_uint_eq(m.depth, 0);
	kc_wq_free(q);
}
END_TEST

START_TEST(add_while_processing_requeues_after_done)
{
	kc_wq *q = new_queue();
	kc_wq_add(q, "k");
	char *k = take(q);
	/* added twice while in flight: must not be handed to a second worker now */
	kc_wq_add(q, "k");
	kc_wq_add(q, "k");
	ck_assert_uint_eq(kc_wq_len(q), 0);
	char *none = NULL;
	ck_assert_int_eq(kc_wq_try_get(q, &none), -EAGAIN);
	kc_wq_done(q, k);
	free(k);
	/* ... and is processed exactly once more afterwards */
	ck_assert_uint_eq(kc_wq_len(q), 1);
	k = take(q);
	ck_assert_str_eq(k, "k");
	kc_wq_done(q, k);
	free(k);
	ck_assert_uint_eq(kc_wq_len(q), 0);
	kc_wq_free(q);
}
END_TEST

struct getter {
	kc_wq *q;
	int rc;
	char *key;
};

static void *getter_main(void *arg)
{
	struct getter *g = arg;
	g->rc = kc_wq_get(g->q, &g->key);
	return NULL;
}

START_TEST(get_blocks_until_add)
{
	kc_wq *q = new_queue();
	struct getter g = { q, 1, NULL };
	pthread_t t;
	pthread_create(&t, NULL, getter_main, &g);
	ck_assert_int_eq(kc_wq_add(q, "late"), 0);
	/* join is the signal; Check's per-test timeout is the deadline */
	pthread_join(t, NULL);
	ck_assert_int_eq(g.rc, 0);
	ck_assert_str_eq(g.key, "late");
	kc_wq_done(q, g.key);
	free(g.key);
	kc_wq_free(q);
}
END_TEST

START_TEST(shutdown_wakes_getters_after_drain_of_queue)
{
	kc_wq *q = new_queue();
	struct getter g[2] = { { q, 1, NULL }, { q, 1, NULL } };
	pthread_t t[2];
	for (int i = 0; i < 2; i++)
		pthread_create(&t[i], NULL, getter_main, &g[i]);
	kc_wq_shutdown(q);
	for (int i = 0; i < 2; i++) {
		pthread_join(t[i], NULL);
		ck_assert_int_eq(g[i].rc, KC_ECLOSED);
		ck_assert_ptr_null(g[i].key);
	}
	ck_assert(kc_wq_shutting_down(q));
	/* adds after shutdown are ignored */
	ck_assert_int_eq(kc_wq_add(q, "x"), 0);
	ck_assert_uint_eq(kc_wq_len(q), 0);
	kc_wq_free(q);

	/* keys queued before shutdown are still handed out, then KC_ECLOSED */
	q = new_queue();
	kc_wq_add(q, "a");
	kc_wq_shutdown(q);
	char *k = NULL;
	ck_assert_int_eq(kc_wq_get(q, &k), 0);
	ck_assert_str_eq(k, "a");
	kc_wq_done(q, k);
	free(k);
	ck_assert_int_eq(kc_wq_get(q, &k), KC_ECLOSED);
	kc_wq_free(q);
}
END_TEST

START_TEST(add_after_waits_for_clock)
{
	kc_wq *q = new_queue();
	ck_assert_int_eq(kc_wq_add_after(q, "later", 2 * KC_NSEC_PER_SEC), 0);
	ck_assert_uint_eq(kc_wq_len(q), 0);
	kc_fake_clock_advance(&fc, 1999 * KC_NSEC_PER_MSEC);
	ck_assert_uint_eq(kc_wq_len(q), 0);
	kc_fake_clock_advance(&fc, KC_NSEC_PER_MSEC);
	ck_assert_uint_eq(kc_wq_len(q), 1);
	char *k = take(q);
	ck_assert_str_eq(k, "later");
	kc_wq_done(q, k);
	free(k);
	kc_wq_free(q);
}
END_TEST

START_TEST(add_after_keeps_earliest_time)
{
	kc_wq *q = new_queue();
	kc_wq_add_after(q, "k", 10 * KC_NSEC_PER_SEC);
	kc_wq_add_after(q, "k", 1 * KC_NSEC_PER_SEC);  /* earlier wins */
	kc_wq_add_after(q, "k", 20 * KC_NSEC_PER_SEC); /* later ignored */
	kc_wq_metrics m;
	kc_wq_get_metrics(q, &m);
	ck_assert_uint_eq(m.waiting, 1);
	kc_fake_clock_advance(&fc, KC_NSEC_PER_SEC);
	ck_assert_uint_eq(kc_wq_len(q), 1);
	char *k = take(q);
	kc_wq_done(q, k);
	free(k);
	/* no stale copy fires later */
	kc_fake_clock_advance(&fc, 30 * KC_NSEC_PER_SEC);
	ck_assert_uint_eq(kc_wq_len(q), 0);
	kc_wq_free(q);
}
END_TEST

START_TEST(delayed_items_fire_in_time_order)
{
	kc_wq *q = new_queue();
	kc_wq_add_after(q, "c", 3 * KC_NSEC_PER_SEC);
	kc_wq_add_after(q, "a", 1 * KC_NSEC_PER_SEC);
	kc_wq_add_after(q, "b", 2 * KC_NSEC_PER_SEC);
	kc_fake_clock_advance(&fc, 3 * KC_NSEC_PER_SEC);
	const char *want[] = { "a", "b", "c" };
	for (int i = 0; i < 3; i++) {
		char *k = take(q);
		ck_assert_str_eq(k, want[i]);
		kc_wq_done(q, k);
		free(k);
	}
	kc_wq_free(q);
}
END_TEST

START_TEST(blocked_getter_wakes_when_delay_passes)
{
	kc_wq *q = new_queue();
	struct getter g = { q, 1, NULL };
	pthread_t t;
	kc_wq_add_after(q, "d", 5 * KC_NSEC_PER_SEC);
	pthread_create(&t, NULL, getter_main, &g);
	kc_fake_clock_advance(&fc, 5 * KC_NSEC_PER_SEC);
	pthread_join(t, NULL);
	ck_assert_int_eq(g.rc, 0);
	ck_assert_str_eq(g.key, "d");
	free(g.key);
	kc_wq_free(q);
}
END_TEST

/* The per-item part of DefaultControllerRateLimiter: 5ms, 10ms, 20ms ... capped at
 * 1000s; forget resets. The overall bucket is disabled here to isolate it. */
START_TEST(rate_limited_backoff_doubles_and_forget_resets)
{
	kc_wq *q = NULL;
	kc_wq_options o = { .clock = &fc.base, .qps = -1 };
	ck_assert_int_eq(kc_wq_new(&o, &q), 0);
	int64_t want = 5 * KC_NSEC_PER_MSEC;
	for (int i = 0; i < 4; i++) {
		ck_assert_int_eq(kc_wq_add_rate_limited(q, "k"), 0);
		ck_assert_int_eq(kc_wq_num_requeues(q, "k"), i + 1);
		kc_fake_clock_advance(&fc, want - 1);
		ck_assert_uint_eq(kc_wq_len(q), 0);
		kc_fake_clock_advance(&fc, 1);
		ck_assert_uint_eq(kc_wq_len(q), 1);
		char *k = take(q);
		kc_wq_done(q, k);
		free(k);
		want *= 2;
	}
	kc_wq_forget(q, "k");
	ck_assert_int_eq(kc_wq_num_requeues(q, "k"), 0);
	kc_wq_add_rate_limited(q, "k");
	kc_fake_clock_advance(&fc, 5 * KC_NSEC_PER_MSEC);
	ck_assert_uint_eq(kc_wq_len(q), 1);
	/* other keys have their own count */
	ck_assert_int_eq(kc_wq_num_requeues(q, "other"), 0);
	kc_wq_metrics m;
	kc_wq_get_metrics(q, &m);
	ck_assert_uint_eq(m.retries, 5);
	kc_wq_free(q);
}
END_TEST

START_TEST(rate_limited_backoff_caps_at_max)
{
	kc_wq *q = NULL;
	kc_wq_options o = { .clock = &fc.base, .qps = -1 };
	ck_assert_int_eq(kc_wq_new(&o, &q), 0);
	/* 100 failures: 5ms * 2^99 would overflow; every delay must stay <= 1000 s */
	for (int i = 0; i < 100; i++) {
		kc_wq_add_rate_limited(q, "k");
		if (i == 99) {
			kc_fake_clock_advance(&fc, 1000 * KC_NSEC_PER_SEC - 1);
			ck_assert_uint_eq(kc_wq_len(q), 0); /* exactly the cap, not less */
			kc_fake_clock_advance(&fc, 1);
		} else {
			kc_fake_clock_advance(&fc, 1000 * KC_NSEC_PER_SEC);
		}
		ck_assert_uint_eq(kc_wq_len(q), 1);
		char *k = take(q);
		kc_wq_done(q, k);
		free(k);
	}
	ck_assert_int_eq(kc_wq_num_requeues(q, "k"), 100);
	kc_wq_free(q);
}
END_TEST

/* The overall bucket of DefaultControllerRateLimiter: 100 immediate tokens, then one
 * every 100 ms (10 qps) shared across keys, even for keys with no failures. */
START_TEST(overall_bucket_limits_after_burst)
{
	kc_wq *q = new_queue();
	char key[32];
	for (int i = 0; i < 100; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		kc_wq_add_rate_limited(q, key);
	}
	kc_fake_clock_advance(&fc, 5 * KC_NSEC_PER_MSEC); /* per-item delay of the first try */
	ck_assert_uint_eq(kc_wq_len(q), 100);
	kc_wq_add_rate_limited(q, "k100");
	kc_wq_add_rate_limited(q, "k101");
	kc_fake_clock_advance(&fc, 90 * KC_NSEC_PER_MSEC);
	ck_assert_uint_eq(kc_wq_len(q), 100);
	kc_fake_clock_advance(&fc, 10 * KC_NSEC_PER_MSEC);
	ck_assert_uint_eq(kc_wq_len(q), 101);
	kc_fake_clock_advance(&fc, 100 * KC_NSEC_PER_MSEC);
	ck_assert_uint_eq(kc_wq_len(q), 102);
	kc_wq_free(q);
}
END_TEST

struct worker {
	kc_wq *q;
	pthread_mutex_t *mu;
	int *inflight; /* per key index 0..9: workers holding it now */
	int *overlap;
	int *processed;
};

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	char *k;
	while (kc_wq_get(w->q, &k) == 0) {
		int i = atoi(k + 1);
		pthread_mutex_lock(w->mu);
		if (w->inflight[i]++ > 0)
			(*w->overlap)++;
		(*w->processed)++;
		pthread_mutex_unlock(w->mu);
		/* re-add ourselves while in flight: must not reach another worker */
		kc_wq_add(w->q, k);
		sched_yield();
		pthread_mutex_lock(w->mu);
		w->inflight[i]--;
		pthread_mutex_unlock(w->mu);
		kc_wq_done(w->q, k);
		free(k);
	}
	return NULL;
}

START_TEST(concurrent_workers_never_share_a_key)
{
	kc_wq *q = new_queue();
	pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
	int inflight[10] = { 0 }, overlap = 0, processed = 0;
	struct worker w = { q, &mu, inflight, &overlap, &processed };
	pthread_t t[4];
	for (int i = 0; i < 4; i++)
		pthread_create(&t[i], NULL, worker_main, &w);
	char key[8];
	for (int r = 0; r < 200; r++) {
		snprintf(key, sizeof(key), "k%d", r % 10);
		kc_wq_add(q, key);
	}
	/* wait (under Check's timeout) for a good amount of processing, then stop */
	for (;;) {
		pthread_mutex_lock(&mu);
		int p = processed;
		pthread_mutex_unlock(&mu);
		if (p >= 500)
			break;
		sched_yield();
	}
	kc_wq_shutdown_with_drain(q);
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	ck_assert_int_eq(overlap, 0);
	kc_wq_free(q);
}
END_TEST


struct drainer {
	kc_wq *q;
	volatile int *done_called;
	int seen;
};

static void *drain_main(void *arg)
{
	struct drainer *d = arg;
	kc_wq_shutdown_with_drain(d->q);
	d->seen = *d->done_called;
	return NULL;
}

START_TEST(shutdown_with_drain_waits_for_in_flight_items)
{
	kc_wq *q = new_queue();
	kc_wq_add(q, "busy");
	char *k = take(q);
	volatile int done_called = 0;
	struct drainer d = { q, &done_called, -1 };
	pthread_t t;
	pthread_create(&t, NULL, drain_main, &d);
	/* the drainer sets shutting_down and starts waiting under the same lock hold */
	while (!kc_wq_shutting_down(q))
		sched_yield();
	done_called = 1;
	kc_wq_done(q, k);
	free(k);
	pthread_join(t, NULL);
	ck_assert_int_eq(d.seen, 1);
	kc_wq_free(q);
}
END_TEST

START_TEST(invalid_input_is_rejected)
{
	kc_wq *q = new_queue();
	ck_assert_int_eq(kc_wq_add(q, NULL), -EINVAL);
	ck_assert_int_eq(kc_wq_add(q, ""), -EINVAL);
	ck_assert_int_eq(kc_wq_add_after(q, "", 5), -EINVAL);
	ck_assert_int_eq(kc_wq_add_rate_limited(q, NULL), -EINVAL);
	kc_wq_options bad = { .base_delay_ns = -1 };
	kc_wq *q2 = NULL;
	ck_assert_int_eq(kc_wq_new(&bad, &q2), -EINVAL);
	ck_assert_ptr_null(q2);
	kc_wq_free(q);
}
END_TEST

static Suite *workqueue_suite(void)
{
	Suite *s = suite_create("workqueue");
	TCase *tc = tcase_create("core");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, add_dedups_and_keeps_fifo_order);
	tcase_add_test(tc, add_while_processing_requeues_after_done);
	tcase_add_test(tc, get_blocks_until_add);
	tcase_add_test(tc, shutdown_wakes_getters_after_drain_of_queue);
	tcase_add_test(tc, add_after_waits_for_clock);
	tcase_add_test(tc, add_after_keeps_earliest_time);
	tcase_add_test(tc, delayed_items_fire_in_time_order);
	tcase_add_test(tc, blocked_getter_wakes_when_delay_passes);
	tcase_add_test(tc, rate_limited_backoff_doubles_and_forget_resets);
	tcase_add_test(tc, rate_limited_backoff_caps_at_max);
	tcase_add_test(tc, overall_bucket_limits_after_burst);
	tcase_add_test(tc, concurrent_workers_never_share_a_key);
	tcase_add_test(tc, shutdown_with_drain_waits_for_in_flight_items);
	tcase_add_test(tc, invalid_input_is_rejected);
	suite_add_tcase(s, tc);
	return s;
}

KC_TEST_MAIN(workqueue_suite)
