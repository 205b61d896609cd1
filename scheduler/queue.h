/* The scheduling queue, as upstream's PriorityQueue (pkg/scheduler/backend/queue):
 *
 *  - activeQ: pods ready to be tried, popped highest spec.priority first, then earliest
 *    timestamp (PrioritySort's Less);
 *  - backoffQ: pods that failed recently and wait out their backoff, 1 s doubling per
 *    attempt up to 10 s (podInitialBackoffDuration / podMaxBackoffDuration);
 *  - unschedulablePods: pods that did not fit; they move back (to backoffQ while their
 *    backoff lasts, else to activeQ) when a cluster event that might make them fit
 *    happens (a node added or updated, an assigned pod deleted: sched_queue_move_all),
 *    or when they have waited longer than 5 minutes (sched_queue_flush, as
 *    flushUnschedulablePodsLeftover);
 *  - a pod that fails while a move request happened during its scheduling cycle goes to
 *    backoffQ, not unschedulablePods (moveRequestCycle), so the event is not lost.
 *
 * All times come from the injected clock; the queue never sleeps except in
 * sched_queue_pop, which waits on a condition variable (real time) for a pod.
 * Thread-safe. Ownership: sched_queue_add takes the pod; pop hands out a borrowed
 * sched_qpod that stays valid until it is returned with one of the done functions. */
#ifndef SCHED_QUEUE_H
#define SCHED_QUEUE_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "clock.h"
#include "strmap.h"
#include "types.h"

#define SCHED_INITIAL_BACKOFF_NS (1 * KC_NSEC_PER_SEC)
#define SCHED_MAX_BACKOFF_NS (10 * KC_NSEC_PER_SEC)
#define SCHED_UNSCHEDULABLE_MAX_NS (300 * KC_NSEC_PER_SEC)

typedef enum sched_qstate {
	SCHED_Q_ACTIVE,
	SCHED_Q_BACKOFF,
	SCHED_Q_UNSCHEDULABLE,
	SCHED_Q_INFLIGHT,
} sched_qstate;

typedef struct sched_qpod {
	sched_pod *pod;          /* owned by the queue */
	sched_pod *next_pod;     /* an update that arrived while in flight */
	sched_qstate state;
	bool deleted;            /* deleted while in flight */
	int attempts;
	int64_t timestamp_ns;    /* mono: added / last failed (activeQ order, backoff, flush) */
	int64_t initial_attempt_ns; /* mono: first pop (e2e latency); 0 before */
	int64_t added_ns;        /* mono: first added to the queue */
	uint64_t seq;            /* arrival order, final tie-break */
	int64_t cycle;           /* scheduling cycle of the last pop */
	char unschedulable_plugins[256];
	int heap_idx;            /* position in activeQ's heap; -1 when not active */
} sched_qpod;

typedef struct sched_queue {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	kc_clock_t *clock;
	sched_qpod **items;
	int n, cap;
	sched_strmap idx; /* pod key -> index in items */
	/* activeQ: a binary heap in PrioritySort order (upstream's activeQ is a heap too),
	 * so a pop is O(log n) instead of a scan of every queued pod; cap == items' cap */
	sched_qpod **heap;
	int nheap;
	uint64_t seq;
	int64_t scheduling_cycle;
	int64_t move_request_cycle;
	bool closed;
	int64_t initial_backoff_ns, max_backoff_ns;
} sched_queue;

/* clock borrowed (NULL = real). */
int sched_queue_init(sched_queue *q, kc_clock_t *clock);
void sched_queue_close(sched_queue *q);
/* Wake any pop and make further pops return NULL. */
void sched_queue_shutdown(sched_queue *q);

/* Add a new pending pod (taken, also on failure) to activeQ, or update the queued pod
 * with the same key: an update of an unschedulable pod moves it to activeQ (backoffQ
 * while backing off), as upstream's Update, unless only status / resourceVersion /
 * generation / managedFields / finalizers changed (isPodUpdated). */
int sched_queue_add(sched_queue *q, sched_pod *pod);
/* Remove the pod with this key (a pod in flight is dropped when it comes back). */
void sched_queue_delete(sched_queue *q, const char *key);

/* The next pod from activeQ (NULL when empty). Increments the scheduling cycle and the
 * pod's attempts. */
sched_qpod *sched_queue_try_pop(sched_queue *q);
/* Like try_pop, but waits up to timeout_ns (real time) for a pod; NULL on timeout or
 * shutdown. */
sched_qpod *sched_queue_pop(sched_queue *q, int64_t timeout_ns);

/* Return a popped pod: scheduled (bound: forget it) ... */
void sched_queue_done(sched_queue *q, sched_qpod *qp);
/* ... or failed: unschedulable=true puts it in unschedulablePods (or backoffQ if a move
 * request came during its cycle), false (an error) in backoffQ. plugins (may be NULL)
 * names the rejecting plugins, for logs. */
void sched_queue_requeue(sched_queue *q, sched_qpod *qp, bool unschedulable,
			 const char *plugins);

/* A cluster event ("NodeAdd", "NodeUpdate", "AssignedPodDelete", ...) that may make
 * unschedulable pods fit: move all of them (MoveAllToActiveOrBackoffQueue). */
void sched_queue_move_all(sched_queue *q, const char *event);
/* The same, only for unschedulable pods that one of plugins (NULL-terminated names)
 * rejected: events such as an assigned pod being added only help pods that failed
 * InterPodAffinity or PodTopologySpread (upstream's queueing hints, coarsely). */
void sched_queue_move_for_plugins(sched_queue *q, const char *event,
				  const char *const *plugins);
/* Periodic work (every second in the daemon): backoffQ pods whose backoff is over go to
 * activeQ; unschedulable pods waiting more than 5 min are moved. */
void sched_queue_flush(sched_queue *q);

/* upstream calculateBackoffDuration for a number of attempts. */
int64_t sched_queue_backoff_ns(const sched_queue *q, int attempts);
/* Pods per state (thread-safe). */
int sched_queue_count(sched_queue *q, sched_qstate state);

#endif
