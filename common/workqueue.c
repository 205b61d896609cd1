/* Rate-limited work queue; see workqueue.h. Upstream: client-go util/workqueue
 * (queue.go, delaying_queue.go, rate_limiting_queue.go, default_rate_limiters.go). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "errors.h"
#include "log.h"
#include "workqueue.h"

/* ---- a small string-keyed hash table (sets, counters, ready times) ---- */

struct wq_ent {
	char *key;
	int64_t val;
	struct wq_ent *next;
};

struct wq_map {
	struct wq_ent **b;
	size_t nb, n;
};

static uint64_t wq_hash(const char *s)
{
	uint64_t h = 1469598103934665603ull; /* FNV-1a */
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h;
}

static struct wq_ent *wq_map_find(struct wq_map *m, const char *key)
{
	if (!m->nb)
		return NULL;
	for (struct wq_ent *e = m->b[wq_hash(key) % m->nb]; e; e = e->next)
		if (!strcmp(e->key, key))
			return e;
	return NULL;
}

static int wq_map_grow(struct wq_map *m)
{
	size_t nb = m->nb ? m->nb * 2 : 64;
	struct wq_ent **b = calloc(nb, sizeof(*b));
	if (!b)
		return -ENOMEM;
	for (size_t i = 0; i < m->nb; i++) {
		struct wq_ent *e = m->b[i], *next;
		for (; e; e = next) {
			next = e->next;
			size_t h = wq_hash(e->key) % nb;
			e->next = b[h];
			b[h] = e;
		}
	}
	free(m->b);
	m->b = b;
	m->nb = nb;
	return 0;
}

/* Insert or update key -> val. */
static int wq_map_put(struct wq_map *m, const char *key, int64_t val)
{
	struct wq_ent *e = wq_map_find(m, key);
	if (e) {
		e->val = val;
		return 0;
	}
	if (m->n + 1 > m->nb * 2 && wq_map_grow(m) < 0)
		return -ENOMEM;
	e = malloc(sizeof(*e));
	if (!e || !(e->key = strdup(key))) {
		free(e);
		return -ENOMEM;
	}
	e->val = val;
	size_t h = wq_hash(key) % m->nb;
	e->next = m->b[h];
	m->b[h] = e;
	m->n++;
	return 0;
}

static void wq_map_del(struct wq_map *m, const char *key)
{
	if (!m->nb)
		return;
	struct wq_ent **pp = &m->b[wq_hash(key) % m->nb];
	for (; *pp; pp = &(*pp)->next) {
		if (!strcmp((*pp)->key, key)) {
			struct wq_ent *e = *pp;
			*pp = e->next;
			free(e->key);
			free(e);
			m->n--;
			return;
		}
	}
}

static void wq_map_free(struct wq_map *m)
{
	for (size_t i = 0; i < m->nb; i++) {
		struct wq_ent *e = m->b[i], *next;
		for (; e; e = next) {
			next = e->next;
			free(e->key);
			free(e);
		}
	}
	free(m->b);
	memset(m, 0, sizeof(*m));
}

/* ---- clock-aware condition wait ---- */

int kc_wq_cond_init(pthread_cond_t *cv)
{
	pthread_condattr_t a;
	int rc = pthread_condattr_init(&a);
	if (rc)
		return -rc;
	pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
	rc = pthread_cond_init(cv, &a);
	pthread_condattr_destroy(&a);
	return -rc;
}

void kc_wq_cond_wait_until(kc_clock_t *c, pthread_cond_t *cv, pthread_mutex_t *mu,
			   int64_t deadline_mono)
{
	struct timespec ts;
	int64_t at;
	if (deadline_mono <= 0 && c == kc_clock_real()) {
		pthread_cond_wait(cv, mu);
		return;
	}
	clock_gettime(CLOCK_MONOTONIC, &ts);
	int64_t rnow = (int64_t)ts.tv_sec * KC_NSEC_PER_SEC + ts.tv_nsec;
	if (c == kc_clock_real()) {
		at = deadline_mono;
	} else {
		/* Another clock (a test's fake one) does not tick with real time; re-check it
		 * every millisecond. Without a deadline we still only need wake-ups. */
		if (deadline_mono <= 0) {
			pthread_cond_wait(cv, mu);
			return;
		}
		at = rnow + KC_NSEC_PER_MSEC;
	}
	if (at <= rnow)
		return;
	ts.tv_sec = at / KC_NSEC_PER_SEC;
	ts.tv_nsec = at % KC_NSEC_PER_SEC;
	pthread_cond_timedwait(cv, mu, &ts);
}

/* ---- the queue ---- */

struct wq_timer {
	int64_t at;
	uint64_t seq; /* FIFO among equal times */
	char *key;
};

struct kc_wq {
	pthread_mutex_t mu;
	pthread_cond_t cv;       /* getters: item ready or shutdown or earlier deadline */
	pthread_cond_t drain_cv; /* shutdown_with_drain: processing set emptied */
	kc_clock_t *clock;
	char name[64];

	/* FIFO of ready keys: q[head..tail) */
	char **q;
	size_t head, tail, cap;
	struct wq_map dirty, processing;

	/* delayed keys: min-heap on (at, seq); waiting maps key -> its current at.
	 * A heap entry whose at differs from waiting[key] is stale and skipped. */
	struct wq_timer *heap;
	size_t nheap, capheap;
	uint64_t seq;
	struct wq_map waiting;

	/* rate limiting */
	struct wq_map failures;
	int64_t base_delay, max_delay;
	double qps;
	int burst;
	double tokens;
	int64_t tokens_at;

	bool shutting_down;
	uint64_t adds, retries;
};

static int wq_push(kc_wq *q, const char *key)
{
	if (q->tail == q->cap) {
		if (q->head > 0) {
			memmove(q->q, q->q + q->head, (q->tail - q->head) * sizeof(char *));
			q->tail -= q->head;
			q->head = 0;
		}
		if (q->tail == q->cap) {
			size_t cap = q->cap ? q->cap * 2 : 32;
			char **n = realloc(q->q, cap * sizeof(char *));
			if (!n)
				return -ENOMEM;
			q->q = n;
			q->cap = cap;
		}
	}
	char *k = strdup(key);
	if (!k)
		return -ENOMEM;
	q->q[q->tail++] = k;
	return 0;
}

/* upstream Type.Add, mu held */
static int wq_add_locked(kc_wq *q, const char *key)
{
	if (q->shutting_down)
		return 0;
	if (wq_map_find(&q->dirty, key))
		return 0;
	int rc = wq_map_put(&q->dirty, key, 0);
	if (rc < 0)
		return rc;
	q->adds++;
	if (wq_map_find(&q->processing, key))
		return 0; /* re-queued by done */
	rc = wq_push(q, key);
	if (rc < 0) {
		wq_map_del(&q->dirty, key);
		return rc;
	}
	pthread_cond_signal(&q->cv);
	return 0;
}

static bool timer_less(const struct wq_timer *a, const struct wq_timer *b)
{
	return a->at < b->at || (a->at == b->at && a->seq < b->seq);
}

static void heap_swap(kc_wq *q, size_t i, size_t j)
{
	struct wq_timer t = q->heap[i];
	q->heap[i] = q->heap[j];
	q->heap[j] = t;
}

static int heap_push(kc_wq *q, const char *key, int64_t at)
{
	if (q->nheap == q->capheap) {
		size_t cap = q->capheap ? q->capheap * 2 : 16;
		struct wq_timer *n = realloc(q->heap, cap * sizeof(*n));
		if (!n)
			return -ENOMEM;
		q->heap = n;
		q->capheap = cap;
	}
	char *k = strdup(key);
	if (!k)
		return -ENOMEM;
	size_t i = q->nheap++;
	q->heap[i] = (struct wq_timer){ at, q->seq++, k };
	while (i > 0 && timer_less(&q->heap[i], &q->heap[(i - 1) / 2])) {
		heap_swap(q, i, (i - 1) / 2);
		i = (i - 1) / 2;
	}
	return 0;
}

static void heap_pop(kc_wq *q)
{
	free(q->heap[0].key);
	q->heap[0] = q->heap[--q->nheap];
	size_t i = 0;
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;
		if (l < q->nheap && timer_less(&q->heap[l], &q->heap[m]))
			m = l;
		if (r < q->nheap && timer_less(&q->heap[r], &q->heap[m]))
			m = r;
		if (m == i)
			break;
		heap_swap(q, i, m);
		i = m;
	}
}

/* Move every due delayed key onto the queue; returns the next pending deadline or 0. */
static int64_t wq_promote_locked(kc_wq *q)
{
	int64_t now = kc_now_mono(q->clock);
	while (q->nheap > 0) {
		struct wq_timer *t = &q->heap[0];
		struct wq_ent *w = wq_map_find(&q->waiting, t->key);
		if (!w || w->val != t->at) { /* superseded by an earlier add_after */
			heap_pop(q);
			continue;
		}
		if (t->at > now)
			return t->at;
		wq_map_del(&q->waiting, t->key);
		if (wq_add_locked(q, t->key) < 0)
			kc_error("workqueue %s: out of memory queueing %s", q->name, t->key);
		heap_pop(q);
	}
	return 0;
}

int kc_wq_new(const kc_wq_options *opts, kc_wq **out)
{
	kc_wq_options o = opts ? *opts : (kc_wq_options){ 0 };
	if (!out)
		return -EINVAL;
	*out = NULL;
	if (o.base_delay_ns < 0 || o.max_delay_ns < 0 || o.burst < 0)
		return -EINVAL;
	kc_wq *q = calloc(1, sizeof(*q));
	if (!q)
		return -ENOMEM;
	pthread_mutex_init(&q->mu, NULL);
	if (kc_wq_cond_init(&q->cv) < 0 || kc_wq_cond_init(&q->drain_cv) < 0) {
		free(q);
		return -ENOMEM;
	}
	q->clock = o.clock ? o.clock : kc_clock_real();
	snprintf(q->name, sizeof(q->name), "%s", o.name ? o.name : "workqueue");
	q->base_delay = o.base_delay_ns ? o.base_delay_ns : KC_WQ_DEFAULT_BASE_DELAY_NS;
	q->max_delay = o.max_delay_ns ? o.max_delay_ns : KC_WQ_DEFAULT_MAX_DELAY_NS;
	q->qps = o.qps == 0 ? KC_WQ_DEFAULT_QPS : o.qps;
	q->burst = o.burst ? o.burst : KC_WQ_DEFAULT_BURST;
	q->tokens = q->burst;
	q->tokens_at = kc_now_mono(q->clock);
	*out = q;
	return 0;
}

void kc_wq_free(kc_wq *q)
{
	if (!q)
		return;
	for (size_t i = q->head; i < q->tail; i++)
		free(q->q[i]);
	free(q->q);
	for (size_t i = 0; i < q->nheap; i++)
		free(q->heap[i].key);
	free(q->heap);
	wq_map_free(&q->dirty);
	wq_map_free(&q->processing);
	wq_map_free(&q->waiting);
	wq_map_free(&q->failures);
	pthread_cond_destroy(&q->cv);
	pthread_cond_destroy(&q->drain_cv);
	pthread_mutex_destroy(&q->mu);
	free(q);
}

int kc_wq_add(kc_wq *q, const char *key)
{
	if (!q || !key || !*key)
		return -EINVAL;
	pthread_mutex_lock(&q->mu);
	wq_promote_locked(q);
	int rc = wq_add_locked(q, key);
	pthread_mutex_unlock(&q->mu);
	return rc;
}

int kc_wq_add_after(kc_wq *q, const char *key, int64_t delay_ns)
{
	if (!q || !key || !*key)
		return -EINVAL;
	if (delay_ns <= 0)
		return kc_wq_add(q, key);
	int rc = 0;
	pthread_mutex_lock(&q->mu);
	if (q->shutting_down)
		goto out;
	wq_promote_locked(q);
	int64_t at = kc_now_mono(q->clock) + delay_ns;
	struct wq_ent *w = wq_map_find(&q->waiting, key);
	/* as upstream: a key already waiting only moves to an earlier time */
	if (w && w->val <= at)
		goto out;
	if ((rc = wq_map_put(&q->waiting, key, at)) < 0)
		goto out;
	if ((rc = heap_push(q, key, at)) < 0) {
		wq_map_del(&q->waiting, key);
		goto out;
	}
	/* a getter may be sleeping until a later deadline */
	pthread_cond_broadcast(&q->cv);
out:
	pthread_mutex_unlock(&q->mu);
	return rc;
}

/* Overall token bucket (golang.org/x/time/rate Reserve().Delay()): tokens may go
 * negative; the delay is how long until this reservation's token has been refilled. */
static int64_t bucket_delay_locked(kc_wq *q)
{
	if (q->qps < 0)
		return 0;
	int64_t now = kc_now_mono(q->clock);
	double elapsed = (double)(now - q->tokens_at) / (double)KC_NSEC_PER_SEC;
	q->tokens_at = now;
	q->tokens += elapsed * q->qps;
	if (q->tokens > q->burst)
		q->tokens = q->burst;
	q->tokens -= 1.0;
	if (q->tokens >= 0)
		return 0;
	return (int64_t)(-q->tokens / q->qps * (double)KC_NSEC_PER_SEC);
}

int kc_wq_add_rate_limited(kc_wq *q, const char *key)
{
	if (!q || !key || !*key)
		return -EINVAL;
	pthread_mutex_lock(&q->mu);
	if (q->shutting_down) {
		pthread_mutex_unlock(&q->mu);
		return 0;
	}
	/* ItemExponentialFailureRateLimiter.When: backoff = base * 2^failures, capped */
	struct wq_ent *f = wq_map_find(&q->failures, key);
	int64_t exp = f ? f->val : 0;
	int rc = wq_map_put(&q->failures, key, exp + 1);
	if (rc < 0) {
		pthread_mutex_unlock(&q->mu);
		return rc;
	}
	int64_t delay = q->max_delay;
	if (exp < 62 && q->base_delay <= (q->max_delay >> exp))
		delay = q->base_delay << exp;
	int64_t b = bucket_delay_locked(q);
	if (b > delay)
		delay = b; /* MaxOfRateLimiter */
	q->retries++;
	pthread_mutex_unlock(&q->mu);
	return kc_wq_add_after(q, key, delay);
}

void kc_wq_forget(kc_wq *q, const char *key)
{
	if (!q || !key)
		return;
	pthread_mutex_lock(&q->mu);
	wq_map_del(&q->failures, key);
	pthread_mutex_unlock(&q->mu);
}

int kc_wq_num_requeues(kc_wq *q, const char *key)
{
	if (!q || !key)
		return 0;
	pthread_mutex_lock(&q->mu);
	struct wq_ent *f = wq_map_find(&q->failures, key);
	int n = f ? (int)f->val : 0;
	pthread_mutex_unlock(&q->mu);
	return n;
}

/* Hand out the head key; mu held, queue non-empty. */
static int wq_take_locked(kc_wq *q, char **key)
{
	char *k = q->q[q->head++];
	if (q->head == q->tail)
		q->head = q->tail = 0;
	int rc = wq_map_put(&q->processing, k, 0);
	if (rc < 0) {
		/* put it back at the front; nothing was lost */
		q->q[--q->head] = k;
		return rc;
	}
	wq_map_del(&q->dirty, k);
	*key = k;
	return 0;
}

int kc_wq_get(kc_wq *q, char **key)
{
	if (!q || !key)
		return -EINVAL;
	*key = NULL;
	pthread_mutex_lock(&q->mu);
	for (;;) {
		int64_t next = wq_promote_locked(q);
		if (q->head < q->tail)
			break;
		if (q->shutting_down) {
			pthread_mutex_unlock(&q->mu);
			return KC_ECLOSED;
		}
		kc_wq_cond_wait_until(q->clock, &q->cv, &q->mu, next);
	}
	int rc = wq_take_locked(q, key);
	pthread_mutex_unlock(&q->mu);
	return rc;
}

int kc_wq_try_get(kc_wq *q, char **key)
{
	if (!q || !key)
		return -EINVAL;
	*key = NULL;
	pthread_mutex_lock(&q->mu);
	wq_promote_locked(q);
	int rc;
	if (q->head < q->tail)
		rc = wq_take_locked(q, key);
	else
		rc = q->shutting_down ? KC_ECLOSED : -EAGAIN;
	pthread_mutex_unlock(&q->mu);
	return rc;
}

void kc_wq_done(kc_wq *q, const char *key)
{
	if (!q || !key)
		return;
	pthread_mutex_lock(&q->mu);
	wq_map_del(&q->processing, key);
	if (wq_map_find(&q->dirty, key)) {
		if (wq_push(q, key) < 0) {
			wq_map_del(&q->dirty, key);
			kc_error("workqueue %s: out of memory re-queueing %s", q->name, key);
		} else {
			pthread_cond_signal(&q->cv);
		}
	}
	if (q->processing.n == 0)
		pthread_cond_broadcast(&q->drain_cv);
	pthread_mutex_unlock(&q->mu);
}

size_t kc_wq_len(kc_wq *q)
{
	if (!q)
		return 0;
	pthread_mutex_lock(&q->mu);
	wq_promote_locked(q);
	size_t n = q->tail - q->head;
	pthread_mutex_unlock(&q->mu);
	return n;
}

void kc_wq_shutdown(kc_wq *q)
{
	if (!q)
		return;
	pthread_mutex_lock(&q->mu);
	q->shutting_down = true;
	pthread_cond_broadcast(&q->cv);
	pthread_mutex_unlock(&q->mu);
}

void kc_wq_shutdown_with_drain(kc_wq *q)
{
	if (!q)
		return;
	pthread_mutex_lock(&q->mu);
	q->shutting_down = true;
	pthread_cond_broadcast(&q->cv);
	while (q->processing.n > 0)
		pthread_cond_wait(&q->drain_cv, &q->mu);
	pthread_mutex_unlock(&q->mu);
}

bool kc_wq_shutting_down(kc_wq *q)
{
	if (!q)
		return true;
	pthread_mutex_lock(&q->mu);
	bool s = q->shutting_down;
	pthread_mutex_unlock(&q->mu);
	return s;
}

void kc_wq_get_metrics(kc_wq *q, kc_wq_metrics *m)
{
	if (!q || !m)
		return;
	pthread_mutex_lock(&q->mu);
	wq_promote_locked(q);
	m->depth = q->tail - q->head;
	m->adds = q->adds;
	m->retries = q->retries;
	m->waiting = q->waiting.n;
	pthread_mutex_unlock(&q->mu);
}
