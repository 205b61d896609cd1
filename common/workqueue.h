/* Rate-limited work queue for controllers, as client-go's util/workqueue.
 *
 * Items are string keys ("namespace/name"). The queue mirrors upstream's guarantees:
 *  - de-duplication: a key added several times before a worker picks it up is handed
 *    out once ("dirty" set);
 *  - no concurrent processing: a key added while a worker holds it (between get and
 *    done) is not handed out again until done, and then exactly once ("processing" set);
 *  - kc_wq_get blocks until a key is ready or the queue is shut down; after shutdown
 *    getters still drain what is queued, then get returns KC_ECLOSED;
 *  - kc_wq_add_after queues a key once the injected clock passes now+delay; a key
 *    already waiting keeps the earlier of the two times (upstream's waitingForQueue);
 *  - kc_wq_add_rate_limited is add_after(max(per-item backoff, bucket delay)) as
 *    upstream's DefaultControllerRateLimiter: per-item exponential failure backoff
 *    base*2^failures capped at max (5 ms .. 1000 s), combined with an overall token
 *    bucket (10 qps, burst 100) shared by all keys; kc_wq_forget resets an item.
 *
 * Delayed keys are moved onto the queue lazily by every call (and by waiting getters
 * when their deadline passes), so no timer thread exists; with a fake clock, advancing
 * the clock and calling kc_wq_len or kc_wq_get makes due keys visible deterministically.
 *
 * All functions are thread-safe. Key strings passed in are borrowed (copied inside). */
#ifndef KC_WORKQUEUE_H
#define KC_WORKQUEUE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "clock.h"

/* Upstream defaults (workqueue.DefaultControllerRateLimiter). */
#define KC_WQ_DEFAULT_BASE_DELAY_NS (5 * KC_NSEC_PER_MSEC)
#define KC_WQ_DEFAULT_MAX_DELAY_NS (1000 * KC_NSEC_PER_SEC)
#define KC_WQ_DEFAULT_QPS 10.0
#define KC_WQ_DEFAULT_BURST 100

typedef struct kc_wq kc_wq;

typedef struct kc_wq_options {
	const char *name;      /* copied; used in log lines; NULL = "workqueue" */
	kc_clock_t *clock;     /* borrowed, must outlive the queue; NULL = kc_clock_real() */
	int64_t base_delay_ns; /* per-item backoff base; 0 = 5 ms */
	int64_t max_delay_ns;  /* per-item backoff cap; 0 = 1000 s */
	double qps;            /* overall bucket refill; 0 = 10; negative disables the bucket */
	int burst;             /* overall bucket size; 0 = 100 */
} kc_wq_options;

typedef struct kc_wq_metrics {
	uint64_t depth;   /* keys queued and ready now (upstream workqueue_depth) */
	uint64_t adds;    /* keys actually enqueued (upstream workqueue_adds_total) */
	uint64_t retries; /* add_rate_limited calls (upstream workqueue_retries_total) */
	uint64_t waiting; /* keys waiting for their add_after delay */
} kc_wq_metrics;

/* Create a queue. opts may be NULL (all defaults); it is borrowed. */
int kc_wq_new(const kc_wq_options *opts, kc_wq **out);
/* Free the queue. No other thread may be using it (shut down and join workers first). */
void kc_wq_free(kc_wq *q);

/* Queue key now. Ignored (returns 0) after shutdown. -EINVAL for NULL/empty key. */
int kc_wq_add(kc_wq *q, const char *key);
/* Queue key once delay_ns of the queue's clock has passed; delay <= 0 is kc_wq_add. */
int kc_wq_add_after(kc_wq *q, const char *key, int64_t delay_ns);
/* Queue key after its rate-limited backoff; counts one more requeue for key. */
int kc_wq_add_rate_limited(kc_wq *q, const char *key);
/* Stop tracking key's failures: its next add_rate_limited waits the base delay again. */
void kc_wq_forget(kc_wq *q, const char *key);
/* How many times key went through add_rate_limited since the last forget. */
int kc_wq_num_requeues(kc_wq *q, const char *key);

/* Block until a key is ready, then hand it to the caller: *key is malloc'd and owned by
 * the caller (free it after kc_wq_done). Returns 0, or KC_ECLOSED once the queue is shut
 * down and empty (*key = NULL). */
int kc_wq_get(kc_wq *q, char **key);
/* As kc_wq_get but never blocks: -EAGAIN when nothing is ready. */
int kc_wq_try_get(kc_wq *q, char **key);
/* The worker finished key (borrowed). If key was added meanwhile it is queued again. */
void kc_wq_done(kc_wq *q, const char *key);

/* Number of keys ready to be handed out (not counting delayed or in-flight ones). */
size_t kc_wq_len(kc_wq *q);
/* Stop accepting keys and wake every getter. Queued keys can still be drained. */
void kc_wq_shutdown(kc_wq *q);
/* Shut down, then wait until every key handed out has been marked done. */
void kc_wq_shutdown_with_drain(kc_wq *q);
bool kc_wq_shutting_down(kc_wq *q);
void kc_wq_get_metrics(kc_wq *q, kc_wq_metrics *m);

/* Waiting on the injected clock (shared by leader.c and events.c).
 *
 * kc_wq_cond_init initialises cv to time out on CLOCK_MONOTONIC, the real clock's
 * mono_ns. kc_wq_cond_wait_until waits on cv (mu held) until signalled or until the
 * clock c reaches deadline_mono (0 or less = no deadline). It may return early
 * (spuriously); callers re-check their condition and the clock in a loop. With the
 * real clock it is one pthread_cond_timedwait; with any other clock (a fake one moves
 * only when a test advances it) it waits at most 1 ms of real time per call, so
 * loops notice the test moving the clock. */
int kc_wq_cond_init(pthread_cond_t *cv);
void kc_wq_cond_wait_until(kc_clock_t *c, pthread_cond_t *cv, pthread_mutex_t *mu,
			   int64_t deadline_mono);

#endif
