/* The scheduling queue on a fake clock: ordering, backoff, unschedulable pods moved by
 * cluster events and by the 5-minute flush (upstream backend/queue/scheduling_queue.go). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "json.h"
#include "fixtures.h"
#include "kc_test.h"
#include "../../scheduler/queue.h"

static sched_pod *pod(const char *name, int prio)
{
	char buf[256];
	snprintf(buf, sizeof(buf),
		 "{\"metadata\":{\"name\":\"%s\",\"namespace\":\"default\"},\"spec\":{\"priority\":%d}}",
		 name, prio);
	return fx_sched_pod(buf);
}

typedef struct fx {
	kc_fake_clock fc;
	sched_queue q;
} fx;

static void fx_init(fx *f)
{
	kc_fake_clock_init(&f->fc, 0, 1);
	sched_queue_init(&f->q, &f->fc.base);
}

static void fx_close(fx *f)
{
	sched_queue_close(&f->q);
	kc_fake_clock_close(&f->fc);
}

static void advance_ms(fx *f, int64_t ms)
{
	kc_fake_clock_advance(&f->fc, ms * KC_NSEC_PER_MSEC);
}

static const char *pop_name(fx *f)
{
	sched_qpod *qp = sched_queue_try_pop(&f->q);
	return qp ? qp->pod->name : NULL;
}

START_TEST(priority_then_arrival)
{
	fx f;
	fx_init(&f);
	sched_queue_add(&f.q, pod("low", 0));
	advance_ms(&f, 1);
	sched_queue_add(&f.q, pod("high", 100));
	advance_ms(&f, 1);
	sched_queue_add(&f.q, pod("low2", 0));
	sched_queue_add(&f.q, pod("high2", 100));
	ck_assert_str_eq(pop_name(&f), "high");
	ck_assert_str_eq(pop_name(&f), "high2");
	ck_assert_str_eq(pop_name(&f), "low");
	ck_assert_str_eq(pop_name(&f), "low2");
	ck_assert_ptr_null(sched_queue_try_pop(&f.q));
	fx_close(&f);
}
END_TEST

START_TEST(backoff_doubles_to_ten_seconds)
{
	fx f;
	fx_init(&f);
	int64_t want[] = { 0, 1, 2, 4, 8, 10, 10, 10 };
	for (int a = 0; a < 8; a++)
		ck_assert_int_eq(sched_queue_backoff_ns(&f.q, a), want[a] * KC_NSEC_PER_SEC);
	fx_close(&f);
}
END_TEST

START_TEST(error_goes_to_backoff_and_returns_after_it)
{
	fx f;
	fx_init(&f);
	sched_queue_add(&f.q, pod("p", 0));
	for (int attempt = 1; attempt <= 3; attempt++) {
		sched_qpod *qp = sched_queue_try_pop(&f.q);
		ck_assert_ptr_nonnull(qp);
		ck_assert_int_eq(qp->attempts, attempt);
		sched_queue_requeue(&f.q, qp, false, NULL);
		ck_assert_int_eq(sched_queue_count(&f.q, SCHED_Q_BACKOFF), 1);
		int64_t backoff_ms = (int64_t)1000 << (attempt - 1);
		advance_ms(&f, backoff_ms - 1);
		sched_queue_flush(&f.q);
		ck_assert_ptr_null(sched_queue_try_pop(&f.q));
		advance_ms(&f, 1);
		sched_queue_flush(&f.q);
	}
	ck_assert_str_eq(pop_name(&f), "p");
	fx_close(&f);
}
END_TEST

START_TEST(unschedulable_waits_for_event)
{
	fx f;
	fx_init(&f);
	sched_queue_add(&f.q, pod("p", 0));
	sched_qpod *qp = sched_queue_try_pop(&f.q);
	sched_queue_requeue(&f.q, qp, true, "NodeResourcesFit");
	ck_assert_int_eq(sched_queue_count(&f.q, SCHED_Q_UNSCHEDULABLE), 1);
	/* backoff alone does not bring it back */
	advance_ms(&f, 30000);
	sched_queue_flush(&f.q);
	ck_assert_ptr_null(sched_queue_try_pop(&f.q));
	/* a node event does; backoff (1 s) is long over, so straight to activeQ */
	sched_queue_move_all(&f.q, "NodeAdd");
	ck_assert_str_eq(pop_name(&f), "p");
	fx_close(&f);
}
END_TEST

START_TEST(event_during_backoff_goes_to_backoffq)
{
	fx f;
	fx_init(&f);
	sched_queue_add(&f.q, pod("p", 0));
	sched_qpod *qp = sched_queue_try_pop(&f.q);
	sched_queue_requeue(&f.q, qp, true, NULL);
	advance_ms(&f, 200);
	sched_queue_move_all(&f.q, "NodeUpdate");
	ck_assert_int_eq(sched_queue_count(&f.q, SCHED_Q_BACKOFF), 1);
	ck_assert_ptr_null(sched_queue_try_pop(&f.q));
	advance_ms(&f, 800);
	sched_queue_flush(&f.q);
	ck_assert_str_eq(pop_name(&f), "p");
	fx_close(&f);
}
END_TEST

START_TEST(move_request_during_cycle_is_not_lost)
{
	fx f;
	fx_init(&f);
	sched_queue_add(&f.q, pod("p", 0));
	sched_qpod *qp = sched_queue_try_pop(&f.q);
	/* a node is added while p is being scheduled */
	sched_queue_move_all(&f.q, "NodeAdd");
	sched_queue_requeue(&f.q, qp, true, NULL);
	ck_assert_int_eq(sched_queue_count(&f.q, SCHED_Q_UNSCHEDULABLE), 0);
	ck_assert_int_eq(sched_queue_count(&f.q, SCHED_Q_BACKOFF), 1);
	/* the next cycle without an event parks it */
	advance_ms(&f, 1000);
	sched_queue_flush(&f.q);
	qp = sched_queue_try_pop(&f.q);
	ck_assert_ptr_nonnull(qp);
	sched_queue_requeue(&f.q, qp, true, NULL);
	ck_assert_int_eq(sched_queue_count(&f.q, SCHED_Q_UNSCHEDULABLE), 1);
	fx_close(&f);
}
END_TEST

START_TEST(unschedulable_flushed_after_five_minutes)
{
	fx f;
	fx_init(&f);
	sched_queue_add(&f.q, pod("p", 0));
	sched_qpod *qp = sched_queue_try_pop(&f.q);
	sched_queue_requeue(&f.q, qp, true, NULL);
	advance_ms(&f, 300000);
	sched_queue_flush(&f.q);
	ck_assert_ptr_null(sched_queue_try_pop(&f.q));
	advance_ms(&f, 1);
	sched_queue_flush(&f.q);
	ck_assert_str_eq(pop_name(&f), "p");
	fx_close(&f);
}
END_TEST

START_TEST(delete_and_update)
{
	fx f;
	fx_init(&f);
	sched_queue_add(&f.q, pod("a", 0));
	sched_queue_add(&f.q, pod("b", 0));
	sched_queue_delete(&f.q, "default/a");
	ck_assert_str_eq(pop_name(&f), "b");
	/* b is in flight: deleting it drops it when it comes back */
	sched_queue_delete(&f.q, "default/b");
	sched_qpod *qp = NULL;
	ck_assert_ptr_null(sched_queue_try_pop(&f.q));
	sched_queue_add(&f.q, pod("c", 0));
	qp = sched_queue_try_pop(&f.q);
	ck_assert_str_eq(qp->pod->name, "c");
	sched_queue_requeue(&f.q, qp, true, NULL);
	ck_assert_int_eq(sched_queue_count(&f.q, SCHED_Q_UNSCHEDULABLE), 1);
	/* updating an unschedulable pod moves it (its priority now 5) */
	advance_ms(&f, 2000);
	sched_queue_add(&f.q, pod("c", 5));
	qp = sched_queue_try_pop(&f.q);
	ck_assert_ptr_nonnull(qp);
	ck_assert_int_eq(qp->pod->priority, 5);
	sched_queue_done(&f.q, qp);
	/* only the in-flight deleted "b" is left; returning it frees it */
	ck_assert_int_eq(sched_queue_count(&f.q, SCHED_Q_INFLIGHT), 1);
	fx_close(&f);
}
END_TEST

START_TEST(move_only_pods_the_event_can_help)
{
	fx f;
	fx_init(&f);
	sched_queue_add(&f.q, pod("spread", 0));
	sched_queue_add(&f.q, pod("big", 0));
	sched_qpod *a = sched_queue_try_pop(&f.q);
	sched_qpod *b = sched_queue_try_pop(&f.q);
	sched_queue_requeue(&f.q, a, true, "NodeAffinity,PodTopologySpread");
	sched_queue_requeue(&f.q, b, true, "NodeResourcesFit");
	advance_ms(&f, 2000);
	static const char *const pl[] = { "InterPodAffinity", "PodTopologySpread", NULL };
	sched_queue_move_for_plugins(&f.q, "AssignedPodAdd", pl);
	ck_assert_str_eq(pop_name(&f), "spread");
	ck_assert_ptr_null(sched_queue_try_pop(&f.q));
	/* "Fit" inside "NodeResourcesFit" is not a match for a plugin named "Fit" */
	static const char *const fit[] = { "Fit", NULL };
	sched_queue_move_for_plugins(&f.q, "X", fit);
	ck_assert_ptr_null(sched_queue_try_pop(&f.q));
	fx_close(&f);
}
END_TEST

static sched_pod *pod_with(const char *name, const char *extra)
{
	char buf[512];
	snprintf(buf, sizeof(buf),
		 "{\"metadata\":{\"name\":\"%s\",\"namespace\":\"default\"%s}",
		 name, extra);
	return fx_sched_pod(buf);
}

START_TEST(status_only_update_does_not_retry)
{
	fx f;
	fx_init(&f);
	sched_queue_add(&f.q, pod_with("p", ",\"resourceVersion\":\"1\"},\"spec\":{}"));
	sched_qpod *qp = sched_queue_try_pop(&f.q);
	sched_queue_requeue(&f.q, qp, true, NULL);
	advance_ms(&f, 2000);
	/* the scheduler's own PodScheduled patch comes back as an update */
	sched_queue_add(&f.q, pod_with("p", ",\"resourceVersion\":\"2\"},\"spec\":{},"
					  "\"status\":{\"conditions\":[{\"type\":\"PodScheduled\"}]}"));
	ck_assert_ptr_null(sched_queue_try_pop(&f.q));
	ck_assert_int_eq(sched_queue_count(&f.q, SCHED_Q_UNSCHEDULABLE), 1);
	/* a label change is a real update */
	sched_queue_add(&f.q, pod_with("p", ",\"resourceVersion\":\"3\",\"labels\":{\"a\":\"b\"}},"
					  "\"spec\":{}"));
	ck_assert_str_eq(pop_name(&f), "p");
	fx_close(&f);
}
END_TEST

/* activeQ is a heap: many pods with mixed priorities come out in PrioritySort order,
 * an active pod whose update raises its priority moves to the front, and deleted pods
 * never come out. */
START_TEST(active_heap_order_with_updates_and_deletes)
{
	fx f;
	fx_init(&f);
	enum { N = 300 };
	unsigned seed = 12345;
	int prio[N];
	for (int i = 0; i < N; i++) {
		seed = seed * 1103515245u + 12345u;
		prio[i] = (int)((seed >> 16) % 7) * 10;
		char name[32];
		snprintf(name, sizeof(name), "p%03d", i);
		sched_queue_add(&f.q, pod(name, prio[i]));
		advance_ms(&f, 1);
	}
	/* every third pod deleted; p151 (not deleted) updated to the top priority */
	for (int i = 0; i < N; i += 3) {
		char key[48];
		snprintf(key, sizeof(key), "default/p%03d", i);
		sched_queue_delete(&f.q, key);
	}
	sched_queue_add(&f.q, pod("p151", 1000));
	ck_assert_int_eq(sched_queue_count(&f.q, SCHED_Q_ACTIVE), N - N / 3);
	ck_assert_str_eq(pop_name(&f), "p151");
	int last_prio = 1000, last_idx = -1, popped = 1;
	const char *n;
	while ((n = pop_name(&f)) != NULL) {
		int idx = atoi(n + 1);
		ck_assert_msg(idx % 3 != 0, "deleted pod %s popped", n);
		ck_assert_msg(prio[idx] <= last_prio, "%s (priority %d) after priority %d", n,
			      prio[idx], last_prio);
		if (prio[idx] == last_prio)
			ck_assert_msg(idx > last_idx, "%s popped after p%03d of equal priority", n,
				      last_idx);
		last_prio = prio[idx];
		last_idx = idx;
		popped++;
	}
	ck_assert_int_eq(popped, N - N / 3);
	fx_close(&f);
}
END_TEST

START_TEST(pop_waits_and_shutdown_wakes)
{
	fx f;
	fx_init(&f);
	/* nothing queued: a short timed wait returns NULL */
	ck_assert_ptr_null(sched_queue_pop(&f.q, 10 * KC_NSEC_PER_MSEC));
	sched_queue_add(&f.q, pod("p", 0));
	sched_qpod *qp = sched_queue_pop(&f.q, KC_NSEC_PER_SEC);
	ck_assert_ptr_nonnull(qp);
	sched_queue_done(&f.q, qp);
	sched_queue_shutdown(&f.q);
	sched_queue_add(&f.q, pod("q", 0));
	ck_assert_ptr_null(sched_queue_pop(&f.q, KC_NSEC_PER_SEC));
	fx_close(&f);
}
END_TEST

static Suite *sched_queue_suite(void)
{
	Suite *s = suite_create("sched_queue");
	TCase *tc = tcase_create("queue");
	tcase_add_test(tc, priority_then_arrival);
	tcase_add_test(tc, backoff_doubles_to_ten_seconds);
	tcase_add_test(tc, error_goes_to_backoff_and_returns_after_it);
	tcase_add_test(tc, unschedulable_waits_for_event);
	tcase_add_test(tc, event_during_backoff_goes_to_backoffq);
	tcase_add_test(tc, move_request_during_cycle_is_not_lost);
	tcase_add_test(tc, unschedulable_flushed_after_five_minutes);
	tcase_add_test(tc, delete_and_update);
	tcase_add_test(tc, move_only_pods_the_event_can_help);
	tcase_add_test(tc, status_only_update_does_not_retry);
	tcase_add_test(tc, pop_waits_and_shutdown_wakes);
	tcase_add_test(tc, active_heap_order_with_updates_and_deletes);
	suite_add_tcase(s, tc);
	return s;
}

KC_TEST_MAIN(sched_queue_suite)
