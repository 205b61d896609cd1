/* Watch hub: synced/unsynced watchers fed from the MVCC revision log (see watchhub.h). */
#include "watchhub.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"

/* etcd's watchBatchMaxRevs: revisions per message when replaying history. */
#define HUB_BATCH_REVS 1000

struct kv_watch {
	struct kv_watch *prev, *next;
	uint8_t *key, *end;
	size_t klen, elen;
	bool noput, nodelete, prev_kv, progress_notify;
	bool synced, dead;
	int64_t id;
	int64_t next_rev;        /* next revision to hand over */
	int64_t last_msg_ns;     /* for progress notifications */
	kv_watch_cb cb;
	void *arg;
};


static bool w_match(const struct kv_watch *w, const struct mvcc_key *k)
{
	const char *kb = mvcc_key_bytes(k);
	if (w->elen == 0)
		return mvcc_keycmp(kb, k->klen, w->key, w->klen) == 0;
	if (mvcc_keycmp(kb, k->klen, w->key, w->klen) < 0)
		return false;
	if (w->elen == 1 && w->end[0] == 0)
		return true;
	return mvcc_keycmp(kb, k->klen, w->end, w->elen) < 0;
}

static void header(const struct watchhub *h, Kvpb__ResponseHeader *hd, int64_t rev)
{
	kvpb__response_header__init(hd);
	hd->cluster_id = h->cluster_id;
	hd->member_id = h->member_id;
	hd->revision = rev;
	hd->raft_term = atomic_load(&h->raft_term);
}

static int ensure(struct watchhub *h, size_t n)
{
	if (n <= h->cap)
		return 0;
	size_t cap = h->cap ? h->cap : 64;
	while (cap < n)
		cap *= 2;
	Kvpb__Event *e = realloc(h->evs, cap * sizeof(*e));
	if (e)
		h->evs = e;
	Kvpb__Event **p = realloc(h->evp, cap * sizeof(*p));
	if (p)
		h->evp = p;
	Kvpb__KeyValue *k = realloc(h->kvs, 2 * cap * sizeof(*k));
	if (k)
		h->kvs = k;
	if (!e || !p || !k)
		return -ENOMEM;
	h->cap = cap;
	return 0;
}

static void fill_kv(Kvpb__KeyValue *kv, const struct mvcc_rev *r, bool full)
{
	kvpb__key_value__init(kv);
	kv->key.data = (uint8_t *)mvcc_key_bytes(r->key);
	kv->key.len = r->key->klen;
	kv->mod_revision = r->main;
	if (!full)
		return;
	kv->create_revision = r->create;
	kv->version = r->version;
	kv->value.data = (uint8_t *)r->value;
	kv->value.len = r->vlen;
	kv->lease = r->lease;
}

/* Append w's events at revision rev to the scratch at *n. */
static int collect(struct watchhub *h, const struct kv_watch *w, int64_t rev, size_t *n)
{
	for (const struct mvcc_rev *r = mvcc_log_at(h->s, rev); r; r = r->next_in_rev) {
		if ((r->tomb && w->nodelete) || (!r->tomb && w->noput) || !w_match(w, r->key))
			continue;
		if (ensure(h, *n + 1))
			return -ENOMEM;
		Kvpb__Event *e = &h->evs[*n];
		kvpb__event__init(e);
		e->type = r->tomb ? KVPB__EVENT__EVENT_TYPE__DELETE : KVPB__EVENT__EVENT_TYPE__PUT;
		e->kv = &h->kvs[2 * *n];
		fill_kv(e->kv, r, !r->tomb);
		if (w->prev_kv && r->older && !r->older->tomb) {
			e->prev_kv = &h->kvs[2 * *n + 1];
			fill_kv(e->prev_kv, r->older, true);
		}
		(*n)++;
	}
	return 0;
}

static int send_events(struct watchhub *h, struct kv_watch *w, size_t n, int64_t hdr_rev)
{
	Kvpb__WatchResponse resp;
	Kvpb__ResponseHeader hd;
	kvpb__watch_response__init(&resp);
	header(h, &hd, hdr_rev);
	resp.header = &hd;
	resp.watch_id = w->id;
	/* The scratch arrays may have moved while collecting (realloc): point the events
	 * at their key-values only now. */
	for (size_t i = 0; i < n; i++) {
		h->evs[i].kv = &h->kvs[2 * i];
		if (h->evs[i].prev_kv)
			h->evs[i].prev_kv = &h->kvs[2 * i + 1];
		h->evp[i] = &h->evs[i];
	}
	resp.events = h->evp;
	resp.n_events = n;
	int rc = w->cb(w->arg, &resp);
	if (rc == 0)
		w->last_msg_ns = kc_now_mono(h->clock);
	return rc;
}

static void send_control(struct watchhub *h, struct kv_watch *w, bool created, bool canceled,
			 int64_t compact_rev, int64_t rev)
{
	Kvpb__WatchResponse resp;
	Kvpb__ResponseHeader hd;
	kvpb__watch_response__init(&resp);
	header(h, &hd, rev);
	resp.header = &hd;
	resp.watch_id = w->id;
	resp.created = created;
	resp.canceled = canceled;
	resp.compact_revision = compact_rev;
	(void)w->cb(w->arg, &resp);
	w->last_msg_ns = kc_now_mono(h->clock);
}

static void cancel_compacted(struct watchhub *h, struct kv_watch *w)
{
	/* etcd: header without revision, canceled, compact_revision = compacted revision. */
	send_control(h, w, false, true, h->s->compact_rev, 0);
	w->dead = true;
	w->synced = false;
}

/* Replay w from history up to cur (state read lock held), at most `budget` messages so
 * one long history does not hold the locks (and so the writers) for long; the sync
 * thread continues later. Leaves w synced once it reached cur. */
static void catch_up(struct watchhub *h, struct kv_watch *w, int64_t cur, int budget)
{
	if (w->dead)
		return;
	if (w->next_rev < h->s->compact_rev) {
		cancel_compacted(h, w);
		return;
	}
	while (w->next_rev <= cur) {
		size_t n = 0;
		int64_t from = w->next_rev, rev = from;
		for (; rev <= cur && rev < from + HUB_BATCH_REVS; rev++)
			if (collect(h, w, rev, &n)) {
				kc_warn("watch %lld: out of memory replaying history", (long long)w->id);
				return;
			}
		if (n > 0 && send_events(h, w, n, cur) != 0) {
			w->synced = false;
			return;
		}
		w->next_rev = rev;
		if (n > 0 && --budget <= 0 && w->next_rev <= cur) {
			w->synced = false;
			h->kick = true;
			return;
		}
	}
	w->synced = true;
}

static void *sync_main(void *arg)
{
	struct watchhub *h = arg;
	pthread_mutex_lock(&h->mu);
	while (!h->stop) {
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_nsec += 100 * 1000 * 1000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		if (!h->kick)
			pthread_cond_timedwait(&h->cv, &h->mu, &ts);
		h->kick = false;
		if (h->stop)
			break;
		bool any = false;
		for (struct kv_watch *w = h->head; w; w = w->next)
			any |= !w->synced && !w->dead;
		if (any) {
			pthread_rwlock_rdlock(h->lock);
			/* Feed up to what the committer has already announced, so live
			 * notification continues seamlessly from notified_rev + 1. */
			int64_t cur = h->notified_rev;
			for (struct kv_watch *w = h->head; w; w = w->next)
				if (!w->synced && !w->dead)
					catch_up(h, w, cur, 8);
			pthread_rwlock_unlock(h->lock);
		}
		int64_t now = kc_now_mono(h->clock);
		for (struct kv_watch *w = h->head; w; w = w->next)
			if (w->synced && !w->dead && w->progress_notify &&
			    now - w->last_msg_ns >= h->progress_ns) {
				/* etcd's progress notification: no events, current revision. */
				if (send_events(h, w, 0, h->notified_rev) != 0)
					w->last_msg_ns = now;
			}
	}
	pthread_mutex_unlock(&h->mu);
	return NULL;
}

int watchhub_init(struct watchhub *h, const struct mvcc *s, pthread_rwlock_t *lock,
		  kc_clock_t *clock, int64_t progress_ns, uint64_t cluster_id,
		  uint64_t member_id, uint64_t raft_term)
{
	memset(h, 0, sizeof(*h));
	h->s = s;
	h->lock = lock;
	h->clock = clock;
	h->progress_ns = progress_ns;
	h->cluster_id = cluster_id;
	h->member_id = member_id;
	atomic_store(&h->raft_term, raft_term);
	h->notified_rev = s->rev;
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&h->cv, &ca);
	pthread_condattr_destroy(&ca);
	pthread_mutex_init(&h->mu, NULL);
	return 0;
}

int watchhub_start(struct watchhub *h)
{
	int rc = pthread_create(&h->thread, NULL, sync_main, h);
	if (rc)
		return -rc;
	h->started = true;
	return 0;
}

static void unlink_free(struct watchhub *h, struct kv_watch *w)
{
	if (w->prev)
		w->prev->next = w->next;
	else
		h->head = w->next;
	if (w->next)
		w->next->prev = w->prev;
	free(w->key);
	free(w->end);
	free(w);
}

void watchhub_close(struct watchhub *h)
{
	pthread_mutex_lock(&h->mu);
	h->stop = true;
	pthread_cond_broadcast(&h->cv);
	pthread_mutex_unlock(&h->mu);
	if (h->started)
		pthread_join(h->thread, NULL);
	while (h->head)
		unlink_free(h, h->head);
	free(h->evs);
	free(h->evp);
	free(h->kvs);
	pthread_cond_destroy(&h->cv);
	pthread_mutex_destroy(&h->mu);
}

static uint8_t *dupbytes(const ProtobufCBinaryData *b)
{
	uint8_t *p = malloc(b->len ? b->len : 1);
	if (p && b->len)
		memcpy(p, b->data, b->len);
	return p;
}

int watchhub_create(struct watchhub *h, const Kvpb__WatchCreateRequest *req, int64_t watch_id,
		    kv_watch_cb cb, void *arg, struct kv_watch **out)
{
	if (!req || !cb || !out)
		return -EINVAL;
	struct kv_watch *w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->key = dupbytes(&req->key);
	w->end = dupbytes(&req->range_end);
	if (!w->key || !w->end) {
		free(w->key);
		free(w->end);
		free(w);
		return -ENOMEM;
	}
	w->klen = req->key.len;
	w->elen = req->range_end.len;
	for (size_t i = 0; i < req->n_filters; i++) {
		if (req->filters[i] == KVPB__WATCH_CREATE_REQUEST__FILTER_TYPE__NOPUT)
			w->noput = true;
		else if (req->filters[i] == KVPB__WATCH_CREATE_REQUEST__FILTER_TYPE__NODELETE)
			w->nodelete = true;
	}
	w->prev_kv = req->prev_kv;
	w->progress_notify = req->progress_notify;
	w->id = watch_id;
	w->cb = cb;
	w->arg = arg;

	pthread_mutex_lock(&h->mu);
	pthread_rwlock_rdlock(h->lock);
	int64_t cur = h->s->rev;
	w->next_rev = req->start_revision > 0 ? req->start_revision : cur + 1;
	w->next = h->head;
	if (h->head)
		h->head->prev = w;
	h->head = w;
	send_control(h, w, true, false, 0, cur);
	/* etcd cancels when start_revision < compacted revision (== is still readable). */
	if (req->start_revision > 0 && req->start_revision < h->s->compact_rev) {
		cancel_compacted(h, w);
	} else if (w->next_rev <= cur) {
		catch_up(h, w, cur, 2);
	} else {
		w->synced = true;
	}
	pthread_rwlock_unlock(h->lock);
	if (!w->synced && !w->dead) {
		h->kick = true;
		pthread_cond_signal(&h->cv);
	}
	pthread_mutex_unlock(&h->mu);
	*out = w;
	return 0;
}

void watchhub_cancel(struct watchhub *h, struct kv_watch *w, bool notify)
{
	if (!w)
		return;
	pthread_mutex_lock(&h->mu);
	if (notify && !w->dead)
		send_control(h, w, false, true, 0, h->notified_rev);
	unlink_free(h, w);
	pthread_mutex_unlock(&h->mu);
}

void watchhub_resume(struct watchhub *h, struct kv_watch *w)
{
	pthread_mutex_lock(&h->mu);
	if (w && !w->synced && !w->dead) {
		h->kick = true;
		pthread_cond_signal(&h->cv);
	}
	pthread_mutex_unlock(&h->mu);
}

int watchhub_progress(struct watchhub *h, struct kv_watch *const *ws, size_t n, int64_t *rev)
{
	pthread_mutex_lock(&h->mu);
	int64_t r = h->notified_rev;
	int rc = 0;
	for (size_t i = 0; i < n; i++) {
		const struct kv_watch *w = ws[i];
		if (!w || w->dead)
			continue;
		if (!w->synced) {
			rc = -EAGAIN;
			break;
		}
		if (w->next_rev - 1 < r)
			r = w->next_rev - 1;
	}
	pthread_mutex_unlock(&h->mu);
	if (!rc)
		*rev = r;
	return rc;
}

void watchhub_notify(struct watchhub *h, int64_t to)
{
	pthread_mutex_lock(&h->mu);
	for (int64_t rev = h->notified_rev + 1; rev <= to; rev++) {
		for (struct kv_watch *w = h->head; w; w = w->next) {
			if (!w->synced || w->dead || w->next_rev > rev)
				continue;
			size_t n = 0;
			if (collect(h, w, rev, &n)) {
				/* Out of memory: let the sync thread retry from history. */
				w->synced = false;
				continue;
			}
			if (n > 0 && send_events(h, w, n, rev) != 0) {
				w->synced = false; /* consumer full: catch up later */
				continue;
			}
			w->next_rev = rev + 1;
		}
	}
	if (to > h->notified_rev)
		h->notified_rev = to;
	bool kick = false;
	for (struct kv_watch *w = h->head; w && !kick; w = w->next)
		kick = !w->synced && !w->dead;
	if (kick) {
		h->kick = true;
		pthread_cond_signal(&h->cv);
	}
	pthread_mutex_unlock(&h->mu);
}

size_t watchhub_count(struct watchhub *h)
{
	size_t n = 0;
	pthread_mutex_lock(&h->mu);
	for (struct kv_watch *w = h->head; w; w = w->next)
		n++;
	pthread_mutex_unlock(&h->mu);
	return n;
}

void watchhub_reset(struct watchhub *h, int64_t rev)
{
	pthread_mutex_lock(&h->mu);
	for (struct kv_watch *w = h->head; w; w = w->next)
		if (!w->dead)
			w->synced = false;
	h->notified_rev = rev;
	h->kick = true;
	pthread_cond_signal(&h->cv);
	pthread_mutex_unlock(&h->mu);
}

void watchhub_set_term(struct watchhub *h, uint64_t term)
{
	atomic_store(&h->raft_term, term);
}
