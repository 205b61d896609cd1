/* The scheduling queue; see queue.h. activeQ is a heap; moves between the other states
 * are linear scans over all queued pods (one per cluster event, not per pod). */
#include "queue.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "json.h"
#include "log.h"

int sched_queue_init(sched_queue *q, kc_clock_t *clock)
{
	memset(q, 0, sizeof(*q));
	q->clock = clock ? clock : kc_clock_real();
	q->initial_backoff_ns = SCHED_INITIAL_BACKOFF_NS;
	q->max_backoff_ns = SCHED_MAX_BACKOFF_NS;
	sched_strmap_init(&q->idx);
	pthread_mutex_init(&q->mu, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&q->cv, &ca);
	pthread_condattr_destroy(&ca);
	return 0;
}

static void qpod_free(sched_qpod *qp)
{
	sched_pod_free(qp->pod);
	sched_pod_free(qp->next_pod);
	free(qp);
}

void sched_queue_close(sched_queue *q)
{
	for (int i = 0; i < q->n; i++)
		qpod_free(q->items[i]);
	free(q->items);
	free(q->heap);
	sched_strmap_close(&q->idx);
	pthread_mutex_destroy(&q->mu);
	pthread_cond_destroy(&q->cv);
	memset(q, 0, sizeof(*q));
}

void sched_queue_shutdown(sched_queue *q)
{
	pthread_mutex_lock(&q->mu);
	q->closed = true;
	pthread_cond_broadcast(&q->cv);
	pthread_mutex_unlock(&q->mu);
}

int64_t sched_queue_backoff_ns(const sched_queue *q, int attempts)
{
	if (attempts <= 0)
		return 0;
	int64_t d = q->initial_backoff_ns;
	for (int i = 1; i < attempts; i++) {
		if (d > q->max_backoff_ns - d)
			return q->max_backoff_ns;
		d += d;
	}
	return d > q->max_backoff_ns ? q->max_backoff_ns : d;
}

static bool backing_off(sched_queue *q, const sched_qpod *qp, int64_t now)
{
	return now < qp->timestamp_ns + sched_queue_backoff_ns(q, qp->attempts);
}

/* PrioritySort: higher priority first, then the earlier timestamp. */
static bool less(const sched_qpod *a, const sched_qpod *b)
{
	if (a->pod->priority != b->pod->priority)
		return a->pod->priority > b->pod->priority;
	if (a->timestamp_ns != b->timestamp_ns)
		return a->timestamp_ns < b->timestamp_ns;
	return a->seq < b->seq;
}

/* ---- activeQ heap (q->heap[0] is the next pod to pop) ---- */

static void heap_set(sched_queue *q, int i, sched_qpod *qp)
{
	q->heap[i] = qp;
	qp->heap_idx = i;
}

static void sift_up(sched_queue *q, int i)
{
	sched_qpod *qp = q->heap[i];
	while (i > 0) {
		int parent = (i - 1) / 2;
		if (!less(qp, q->heap[parent]))
			break;
		heap_set(q, i, q->heap[parent]);
		i = parent;
	}
	heap_set(q, i, qp);
}

static void sift_down(sched_queue *q, int i)
{
	sched_qpod *qp = q->heap[i];
	for (;;) {
		int c = 2 * i + 1;
		if (c >= q->nheap)
			break;
		if (c + 1 < q->nheap && less(q->heap[c + 1], q->heap[c]))
			c++;
		if (!less(q->heap[c], qp))
			break;
		heap_set(q, i, q->heap[c]);
		i = c;
	}
	heap_set(q, i, qp);
}

/* The heap has room for every queued pod (grown with items in sched_queue_add). */
static void heap_push(sched_queue *q, sched_qpod *qp)
{
	heap_set(q, q->nheap++, qp);
	sift_up(q, qp->heap_idx);
}

static void heap_remove(sched_queue *q, sched_qpod *qp)
{
	int i = qp->heap_idx;
	qp->heap_idx = -1;
	sched_qpod *last = q->heap[--q->nheap];
	if (i == q->nheap)
		return;
	heap_set(q, i, last);
	sift_up(q, i);
	sift_down(q, last->heap_idx);
}

/* Every state change goes through here so that activeQ's heap holds exactly the
 * SCHED_Q_ACTIVE pods. */
static void set_state(sched_queue *q, sched_qpod *qp, sched_qstate st)
{
	if (qp->heap_idx >= 0 && st != SCHED_Q_ACTIVE)
		heap_remove(q, qp);
	else if (qp->heap_idx < 0 && st == SCHED_Q_ACTIVE)
		heap_push(q, qp);
	qp->state = st;
}

static int find(sched_queue *q, const char *key)
{
	return sched_strmap_get(&q->idx, key);
}

static void remove_at(sched_queue *q, int i)
{
	if (q->items[i]->heap_idx >= 0)
		heap_remove(q, q->items[i]);
	sched_strmap_del(&q->idx, q->items[i]->pod->key);
	q->items[i] = q->items[--q->n];
	if (i < q->n)
		sched_strmap_put(&q->idx, q->items[i]->pod->key, i);
}

/* qp->pod was replaced: its key string moved */
static void reindex(sched_queue *q, sched_qpod *qp, int i)
{
	sched_strmap_put(&q->idx, qp->pod->key, i);
}

/* Move out of unschedulablePods: to backoffQ while backing off, else activeQ. */
static void reactivate(sched_queue *q, sched_qpod *qp, int64_t now)
{
	set_state(q, qp, backing_off(q, qp, now) ? SCHED_Q_BACKOFF : SCHED_Q_ACTIVE);
	if (qp->state == SCHED_Q_ACTIVE)
		pthread_cond_broadcast(&q->cv);
}

/* upstream isPodUpdated: a change other than resourceVersion, generation,
 * managedFields, finalizers or status (our own PodScheduled patch comes back as such an
 * update and must not count as a reason to retry). The comparison is of hashes taken
 * when the pods were parsed (types.c), since the objects themselves are not kept. */
static bool pod_updated(const sched_pod *a, const sched_pod *b)
{
	return a->update_hash != b->update_hash;
}

int sched_queue_add(sched_queue *q, sched_pod *pod)
{
	if (!pod)
		return -EINVAL;
	pthread_mutex_lock(&q->mu);
	int64_t now = kc_now_mono(q->clock);
	int i = find(q, pod->key);
	if (i >= 0) {
		sched_qpod *qp = q->items[i];
		if (qp->state == SCHED_Q_INFLIGHT) {
			sched_pod_free(qp->next_pod);
			qp->next_pod = pod;
		} else {
			bool changed = pod_updated(qp->pod, pod);
			sched_strmap_del(&q->idx, qp->pod->key); /* before the key is freed */
			sched_pod_free(qp->pod);
			qp->pod = pod;
			reindex(q, qp, i);
			if (qp->heap_idx >= 0) { /* the priority may have changed */
				sift_up(q, qp->heap_idx);
				sift_down(q, qp->heap_idx);
			}
			if (qp->state == SCHED_Q_UNSCHEDULABLE && changed)
				reactivate(q, qp, now);
		}
		pthread_mutex_unlock(&q->mu);
		return 0;
	}
	if (q->n == q->cap) {
		int cap = q->cap ? q->cap * 2 : 64;
		sched_qpod **ni = realloc(q->items, (size_t)cap * sizeof(*ni));
		if (ni)
			q->items = ni;
		sched_qpod **nh = ni ? realloc(q->heap, (size_t)cap * sizeof(*nh)) : NULL;
		if (!nh) {
			pthread_mutex_unlock(&q->mu);
			sched_pod_free(pod);
			return -ENOMEM;
		}
		q->heap = nh;
		q->cap = cap;
	}
	sched_qpod *qp = calloc(1, sizeof(*qp));
	if (!qp) {
		pthread_mutex_unlock(&q->mu);
		sched_pod_free(pod);
		return -ENOMEM;
	}
	qp->pod = pod;
	qp->heap_idx = -1;
	qp->state = SCHED_Q_INFLIGHT; /* not yet in activeQ: set_state below puts it there */
	qp->timestamp_ns = qp->added_ns = now;
	qp->seq = ++q->seq;
	if (sched_strmap_put(&q->idx, pod->key, q->n) != 0) {
		pthread_mutex_unlock(&q->mu);
		qpod_free(qp);
		return -ENOMEM;
	}
	q->items[q->n++] = qp;
	set_state(q, qp, SCHED_Q_ACTIVE);
	pthread_cond_broadcast(&q->cv);
	pthread_mutex_unlock(&q->mu);
	return 0;
}

void sched_queue_delete(sched_queue *q, const char *key)
{
	pthread_mutex_lock(&q->mu);
	int i = find(q, key);
	if (i >= 0) {
		sched_qpod *qp = q->items[i];
		if (qp->state == SCHED_Q_INFLIGHT) {
			qp->deleted = true;
		} else {
			remove_at(q, i);
			qpod_free(qp);
		}
	}
	pthread_mutex_unlock(&q->mu);
}

static sched_qpod *pop_locked(sched_queue *q)
{
	if (q->nheap == 0)
		return NULL;
	sched_qpod *best = q->heap[0];
	set_state(q, best, SCHED_Q_INFLIGHT);
	best->attempts++;
	best->cycle = ++q->scheduling_cycle;
	if (best->initial_attempt_ns == 0)
		best->initial_attempt_ns = kc_now_mono(q->clock);
	return best;
}

sched_qpod *sched_queue_try_pop(sched_queue *q)
{
	pthread_mutex_lock(&q->mu);
	sched_qpod *qp = q->closed ? NULL : pop_locked(q);
	pthread_mutex_unlock(&q->mu);
	return qp;
}

sched_qpod *sched_queue_pop(sched_queue *q, int64_t timeout_ns)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	int64_t deadline = (int64_t)ts.tv_sec * KC_NSEC_PER_SEC + ts.tv_nsec + timeout_ns;
	ts.tv_sec = deadline / KC_NSEC_PER_SEC;
	ts.tv_nsec = deadline % KC_NSEC_PER_SEC;
	pthread_mutex_lock(&q->mu);
	sched_qpod *qp = NULL;
	while (!q->closed && !(qp = pop_locked(q)))
		if (pthread_cond_timedwait(&q->cv, &q->mu, &ts) == ETIMEDOUT)
			break;
	pthread_mutex_unlock(&q->mu);
	return qp;
}

static int index_of(sched_queue *q, const sched_qpod *qp)
{
	int i = find(q, qp->pod->key);
	return i >= 0 && q->items[i] == qp ? i : -1;
}

void sched_queue_done(sched_queue *q, sched_qpod *qp)
{
	pthread_mutex_lock(&q->mu);
	int i = index_of(q, qp);
	if (i >= 0) {
		remove_at(q, i);
		qpod_free(qp);
	}
	pthread_mutex_unlock(&q->mu);
}

void sched_queue_requeue(sched_queue *q, sched_qpod *qp, bool unschedulable,
			 const char *plugins)
{
	pthread_mutex_lock(&q->mu);
	int i = index_of(q, qp);
	if (i < 0) {
		pthread_mutex_unlock(&q->mu);
		return;
	}
	if (qp->deleted) {
		remove_at(q, i);
		qpod_free(qp);
		pthread_mutex_unlock(&q->mu);
		return;
	}
	int64_t now = kc_now_mono(q->clock);
	qp->timestamp_ns = now;
	snprintf(qp->unschedulable_plugins, sizeof(qp->unschedulable_plugins), "%s",
		 plugins ? plugins : "");
	if (qp->next_pod) {
		/* updated while in flight: the new spec deserves a fresh try after backoff */
		sched_strmap_del(&q->idx, qp->pod->key);
		sched_pod_free(qp->pod);
		qp->pod = qp->next_pod;
		qp->next_pod = NULL;
		reindex(q, qp, i);
		set_state(q, qp, SCHED_Q_BACKOFF);
	} else if (!unschedulable || q->move_request_cycle >= qp->cycle) {
		set_state(q, qp, SCHED_Q_BACKOFF);
	} else {
		set_state(q, qp, SCHED_Q_UNSCHEDULABLE);
	}
	pthread_mutex_unlock(&q->mu);
}

void sched_queue_move_all(sched_queue *q, const char *event)
{
	pthread_mutex_lock(&q->mu);
	int64_t now = kc_now_mono(q->clock);
	int moved = 0;
	for (int i = 0; i < q->n; i++)
		if (q->items[i]->state == SCHED_Q_UNSCHEDULABLE) {
			reactivate(q, q->items[i], now);
			moved++;
		}
	q->move_request_cycle = q->scheduling_cycle;
	pthread_mutex_unlock(&q->mu);
	if (moved)
		kc_log_v(4, "moved %d unschedulable pod(s) on event %s", moved, event);
}

static bool has_plugin(const char *list, const char *name)
{
	size_t l = strlen(name);
	for (const char *h = list; (h = strstr(h, name)) != NULL; h += l)
		if ((h == list || h[-1] == ',') && (h[l] == ',' || h[l] == '\0'))
			return true;
	return false;
}

void sched_queue_move_for_plugins(sched_queue *q, const char *event,
				  const char *const *plugins)
{
	pthread_mutex_lock(&q->mu);
	int64_t now = kc_now_mono(q->clock);
	int moved = 0;
	for (int i = 0; i < q->n; i++) {
		sched_qpod *qp = q->items[i];
		if (qp->state != SCHED_Q_UNSCHEDULABLE)
			continue;
		for (int k = 0; plugins[k]; k++)
			if (has_plugin(qp->unschedulable_plugins, plugins[k])) {
				reactivate(q, qp, now);
				moved++;
				break;
			}
	}
	q->move_request_cycle = q->scheduling_cycle;
	pthread_mutex_unlock(&q->mu);
	if (moved)
		kc_log_v(4, "moved %d unschedulable pod(s) on event %s", moved, event);
}

void sched_queue_flush(sched_queue *q)
{
	pthread_mutex_lock(&q->mu);
	int64_t now = kc_now_mono(q->clock);
	bool woke = false;
	for (int i = 0; i < q->n; i++) {
		sched_qpod *qp = q->items[i];
		if (qp->state == SCHED_Q_BACKOFF && !backing_off(q, qp, now)) {
			set_state(q, qp, SCHED_Q_ACTIVE);
			woke = true;
		} else if (qp->state == SCHED_Q_UNSCHEDULABLE &&
			   now - qp->timestamp_ns > SCHED_UNSCHEDULABLE_MAX_NS) {
			reactivate(q, qp, now);
		}
	}
	if (woke)
		pthread_cond_broadcast(&q->cv);
	pthread_mutex_unlock(&q->mu);
}

int sched_queue_count(sched_queue *q, sched_qstate state)
{
	pthread_mutex_lock(&q->mu);
	int c = 0;
	for (int i = 0; i < q->n; i++)
		if (q->items[i]->state == state)
			c++;
	pthread_mutex_unlock(&q->mu);
	return c;
}
