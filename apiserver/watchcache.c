#include "watchcache.h"

#include <malloc.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "errors.h"
#include "fields.h"
#include "json.h"
#include "labels.h"
#include "log.h"
#include "meta.h"
#include "status.h"
#include "table.h"

#define WC_RING 4096
#define WC_DEFAULT_TIMEOUT 1800 /* upstream: minRequestTimeout 1800 s (x random 1..2) */
#define WC_BOOKMARK_EVERY 60    /* upstream sends bookmarks about once a minute */
#define WC_MAX_BUFFER (64 << 20)
#define WC_TRIM_EVERY 10          /* seconds between malloc_trim calls */
#define WC_KEEP_BUFFER (64 << 10) /* a drained buffer larger than this is released */

enum { EV_ADDED, EV_MODIFIED, EV_DELETED };
static const char *const ev_names[] = { "ADDED", "MODIFIED", "DELETED" };

typedef struct wc_event {
	int type;
	int64_t rev;
	cJSON *obj;  /* current object (for DELETED: the last state with the delete's RV) */
	cJSON *prev; /* previous state for MODIFIED (selector transitions), may be NULL */
} wc_event;

/* What the ring keeps of an event: its objects as compact JSON text, parsed again only when
 * a watch starting at an older resourceVersion replays it. A parsed pod costs about five
 * times its text (a cJSON node and a malloc'd key per member), and the ring of a resource
 * holds 4,096 events: parsed, the pods' ring alone was tens of MB with 10,000 pods stored. */
typedef struct wc_slot {
	int type;
	int64_t rev;
	char *obj;  /* NUL-terminated JSON */
	char *prev; /* may be NULL */
	size_t obj_n, prev_n;
} wc_slot;

typedef struct wc_watcher wc_watcher;
typedef struct wc_cache {
	wc_set *set;
	const res_desc *d;
	pthread_mutex_t mu;
	wc_slot ring[WC_RING];
	size_t head, count;
	int64_t floor;   /* events with rev > floor are all in the ring */
	int64_t cur_rev; /* last revision the store watch delivered (or started at) */
	wc_watcher *watchers;
	pthread_t thread;
	int started;
	atomic_int ready;
} wc_cache;

struct wc_set {
	reg *r;
	wc_cache *caches;
	int n;
	atomic_int stop;
	pthread_t timer;
	int timer_started;
};

struct wc_watcher {
	wc_cache *c;
	const res_desc *view; /* the version the client watches (c->d or one on its storage) */
	wc_watcher *next;
	struct MHD_Connection *conn;
	char ns[256];
	kc_label_selector ls;
	kc_field_selector fs;
	int table, include, cols_sent, bookmarks;
	int64_t deadline, last_bookmark, last_rv;
	char *buf;
	size_t len, off, cap;
	int closed, suspended, gone;
};

static int64_t mono_sec(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

/* ---- per-watcher output (c->mu held) ---- */

static void w_append(wc_watcher *w, const char *s, size_t n)
{
	if (w->closed)
		return;
	if (w->len - w->off + n > WC_MAX_BUFFER) {
		/* A client this far behind is cut off, as upstream's cacher does for slow
		 * watchers (it closes the watch; the client re-lists). */
		w->closed = 1;
		return;
	}
	if (w->off && w->off == w->len)
		w->off = w->len = 0;
	if (w->len + n + 1 > w->cap) {
		if (w->off) {
			memmove(w->buf, w->buf + w->off, w->len - w->off);
			w->len -= w->off;
			w->off = 0;
		}
		size_t nc = w->cap ? w->cap : 4096;
		while (nc < w->len + n + 1)
			nc *= 2;
		char *nb = realloc(w->buf, nc);
		if (!nb) {
			w->closed = 1;
			return;
		}
		w->buf = nb;
		w->cap = nc;
	}
	memcpy(w->buf + w->len, s, n);
	w->len += n;
}

/* Connections to resume once c->mu is released: MHD_resume_connection takes MHD's own
 * locks, so it is never called under ours (MHD may free a watcher, taking c->mu, while
 * holding them). A connection we suspended cannot be closed by MHD until resumed, so the
 * pointer stays valid after the unlock. */
typedef struct wake_list {
	struct MHD_Connection *v[64];
	size_t n;
	struct MHD_Connection **more;
	size_t nmore, capmore;
} wake_list;

static void w_wake(wc_watcher *w, wake_list *wl)
{
	if (!w->suspended)
		return;
	w->suspended = 0;
	if (wl->n < 64) {
		wl->v[wl->n++] = w->conn;
		return;
	}
	if (wl->nmore == wl->capmore) {
		size_t nc = wl->capmore ? wl->capmore * 2 : 256;
		struct MHD_Connection **nv = realloc(wl->more, nc * sizeof(*nv));
		if (!nv) {
			/* Cannot defer: resume now (rare; only under memory pressure). */
			MHD_resume_connection(w->conn);
			return;
		}
		wl->more = nv;
		wl->capmore = nc;
	}
	wl->more[wl->nmore++] = w->conn;
}

static void wake_flush(wake_list *wl)
{
	for (size_t i = 0; i < wl->n; i++)
		MHD_resume_connection(wl->v[i]);
	for (size_t i = 0; i < wl->nmore; i++)
		MHD_resume_connection(wl->more[i]);
	free(wl->more);
	memset(wl, 0, sizeof(*wl));
}

static void w_send(wc_watcher *w, const char *type, const cJSON *obj)
{
	cJSON *ev = cJSON_CreateObject();
	cJSON_AddStringToObject(ev, "type", type);
	cJSON *conv = NULL;
	if (w->view != w->c->d && strcmp(type, "ERROR")) {
		conv = cJSON_Duplicate(obj, 1);
		res_view(w->view, conv);
		obj = conv;
	}
	if (w->table && strcmp(type, "BOOKMARK") && strcmp(type, "ERROR")) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		cJSON *t = tbl_render(w->view, obj, (enum tbl_include)w->include, !w->cols_sent,
				      kc_meta_resource_version(obj), NULL, ts.tv_sec);
		w->cols_sent = 1;
		cJSON_AddItemToObject(ev, "object", t);
	} else {
		cJSON_AddItemToObject(ev, "object", cJSON_Duplicate(obj, 1));
	}
	cJSON_Delete(conv);
	size_t n = 0;
	char *s = kc_json_print_len(ev, &n);
	cJSON_Delete(ev);
	if (!s) {
		w->closed = 1;
		return;
	}
	w_append(w, s, n);
	w_append(w, "\n", 1);
	free(s);
}

static int w_matches(const wc_watcher *w, const cJSON *obj)
{
	if (!obj)
		return 0;
	if (w->ns[0] && strcmp(kc_meta_namespace(obj), w->ns))
		return 0;
	return reg_matches(w->c->d, obj, &w->ls, &w->fs);
}

/* One store event serialized once per output type for every watcher that sees it in the
 * storage version without Tables (the common case), instead of once per watcher: with 1,000
 * watches the per-watcher copy and print under c->mu was what made requests wait (the
 * cacher likewise caches an event's serialization, cachingObject). */
typedef struct ev_text {
	char *s[3];
	size_t n[3];
	int failed[3];
} ev_text;

static void ev_text_free(ev_text *t)
{
	for (int i = 0; i < 3; i++)
		free(t->s[i]);
	memset(t, 0, sizeof(*t));
}

static void w_send_ev(wc_watcher *w, int type, const cJSON *obj, ev_text *t)
{
	if (!t || w->table || w->view != w->c->d) {
		w_send(w, ev_names[type], obj);
		return;
	}
	if (!t->s[type] && !t->failed[type]) {
		cJSON *ev = cJSON_CreateObject();
		cJSON_AddStringToObject(ev, "type", ev_names[type]);
		/* A reference item: the envelope borrows obj, cJSON_Delete leaves it alone. */
		cJSON_AddItemReferenceToObject(ev, "object", (cJSON *)obj);
		size_t n = 0;
		char *str = kc_json_print_len(ev, &n);
		cJSON_Delete(ev);
		char *line = str ? realloc(str, n + 2) : NULL;
		if (!line) {
			free(str);
			t->failed[type] = 1;
		} else {
			line[n] = '\n';
			line[n + 1] = 0;
			t->s[type] = line;
			t->n[type] = n + 1;
		}
	}
	if (!t->s[type]) {
		w->closed = 1;
		return;
	}
	w_append(w, t->s[type], t->n[type]);
}

/* Delivers one event to one watcher with upstream's selector transitions. t (may be NULL)
 * caches the serialized event across the watchers of one fan-out. */
static void w_deliver(wc_watcher *w, const wc_event *e, ev_text *t)
{
	if (e->rev <= w->last_rv || w->closed)
		return;
	w->last_rv = e->rev;
	int cur = w_matches(w, e->obj);
	if (e->type == EV_DELETED) {
		if (cur)
			w_send_ev(w, EV_DELETED, e->obj, t);
		return;
	}
	int prev = e->type == EV_MODIFIED && w_matches(w, e->prev);
	if (cur && (prev || e->type == EV_ADDED))
		w_send_ev(w, e->type, e->obj, t);
	else if (cur)
		w_send_ev(w, EV_ADDED, e->obj, t);
	else if (prev)
		w_send_ev(w, EV_DELETED, e->obj, t);
}

static void w_bookmark(wc_watcher *w, int64_t rev)
{
	char apiv[96], rvs[32];
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "kind", w->view->kind);
	cJSON_AddStringToObject(o, "apiVersion", res_api_version(w->view, apiv, sizeof(apiv)));
	snprintf(rvs, sizeof(rvs), "%lld", (long long)rev);
	cJSON_AddStringToObject(cJSON_AddObjectToObject(o, "metadata"), "resourceVersion", rvs);
	w_send(w, "BOOKMARK", o);
	cJSON_Delete(o);
}

/* ---- the ring (c->mu held) ---- */

static void slot_free(wc_slot *sl)
{
	free(sl->obj);
	free(sl->prev);
	memset(sl, 0, sizeof(*sl));
}

static void ring_clear(wc_cache *c)
{
	for (size_t i = 0; i < c->count; i++)
		slot_free(&c->ring[(c->head + i) % WC_RING]);
	c->head = c->count = 0;
}

/* Takes e's objects (freed here). */
static void ring_push(wc_cache *c, wc_event *e)
{
	wc_slot sl = { .type = e->type, .rev = e->rev };
	int had_prev = e->prev != NULL;
	sl.obj = kc_json_print_len(e->obj, &sl.obj_n);
	if (had_prev)
		sl.prev = kc_json_print_len(e->prev, &sl.prev_n);
	cJSON_Delete(e->obj);
	cJSON_Delete(e->prev);
	e->obj = e->prev = NULL;
	if (!sl.obj || (had_prev && !sl.prev)) {
		/* Out of memory: the history is no longer complete, so forget it; watches
		 * from before this revision get 410 and re-list. */
		slot_free(&sl);
		ring_clear(c);
		c->floor = e->rev;
		return;
	}
	if (c->count == WC_RING) {
		wc_slot *old = &c->ring[c->head];
		c->floor = old->rev;
		slot_free(old);
		c->head = (c->head + 1) % WC_RING;
		c->count--;
	}
	c->ring[(c->head + c->count) % WC_RING] = sl;
	c->count++;
}

/* Replays the ring's events newer than what w has seen. 0, or -1 when an event could not
 * be parsed again (out of memory: the watch is closed and the client re-lists). */
static int ring_replay(wc_cache *c, wc_watcher *w)
{
	for (size_t i = 0; i < c->count && !w->closed; i++) {
		const wc_slot *sl = &c->ring[(c->head + i) % WC_RING];
		if (sl->rev <= w->last_rv)
			continue;
		wc_event e = { .type = sl->type, .rev = sl->rev };
		int bad = kc_json_parse(sl->obj, sl->obj_n, sl->obj_n + 1, &e.obj, NULL, 0) != 0;
		if (!bad && sl->prev)
			bad = kc_json_parse(sl->prev, sl->prev_n, sl->prev_n + 1, &e.prev, NULL, 0) != 0;
		if (!bad)
			w_deliver(w, &e, NULL);
		cJSON_Delete(e.obj);
		cJSON_Delete(e.prev);
		if (bad) {
			w->closed = 1;
			return -1;
		}
	}
	return 0;
}

/* ---- store watch ---- */

static int on_watch(void *arg, const struct kc_etcd_watch_resp *resp)
{
	wc_cache *c = arg;
	wake_list wl;
	memset(&wl, 0, sizeof(wl));
	if (resp->created)
		atomic_store(&c->ready, 1);
	pthread_mutex_lock(&c->mu);
	for (size_t i = 0; i < resp->n_events; i++) {
		const struct kc_etcd_event *ev = &resp->events[i];
		wc_event e = { 0 };
		e.rev = ev->kv.mod_revision;
		if (ev->type == KC_ETCD_EVENT_DELETE) {
			if (!ev->has_prev_kv)
				continue;
			e.type = EV_DELETED;
			e.obj = reg_decode(ev->prev_kv.value, ev->prev_kv.value_len, e.rev);
		} else {
			e.type = ev->kv.create_revision == ev->kv.mod_revision ? EV_ADDED : EV_MODIFIED;
			e.obj = reg_decode(ev->kv.value, ev->kv.value_len, e.rev);
			if (ev->has_prev_kv && e.type == EV_MODIFIED)
				e.prev = reg_decode(ev->prev_kv.value, ev->prev_kv.value_len,
						    ev->prev_kv.mod_revision);
		}
		if (!e.obj) {
			cJSON_Delete(e.prev);
			continue;
		}
		ev_text t;
		memset(&t, 0, sizeof(t));
		for (wc_watcher *w = c->watchers; w; w = w->next) {
			w_deliver(w, &e, &t);
			if (w->len > w->off || w->closed)
				w_wake(w, &wl);
		}
		ev_text_free(&t);
		ring_push(c, &e);
		if (e.rev > c->cur_rev)
			c->cur_rev = e.rev;
	}
	if (resp->header.revision > c->cur_rev && resp->n_events == 0 && !resp->created)
		c->cur_rev = resp->header.revision;
	pthread_mutex_unlock(&c->mu);
	wake_flush(&wl);
	return 0;
}

/* Ends every client watch of c (they re-list, as after a cacher reset); with reset_rev >= 0
 * the ring is emptied and restarts at that revision. */
static void close_all(wc_cache *c, int64_t reset_rev)
{
	wake_list wl;
	memset(&wl, 0, sizeof(wl));
	pthread_mutex_lock(&c->mu);
	if (reset_rev >= 0) {
		ring_clear(c);
		c->floor = c->cur_rev = reset_rev;
	}
	for (wc_watcher *w = c->watchers; w; w = w->next) {
		w->closed = 1;
		w_wake(w, &wl);
	}
	pthread_mutex_unlock(&c->mu);
	wake_flush(&wl);
}

static void *watch_thread(void *arg)
{
	wc_cache *c = arg;
	wc_set *s = c->set;
	char prefix[512];
	uint8_t end[512];
	reg_key(s->r, c->d, NULL, NULL, prefix, sizeof(prefix));
	size_t el = kc_etcd_prefix_end(prefix, strlen(prefix), end);
	while (!atomic_load(&s->stop)) {
		pthread_mutex_lock(&c->mu);
		int64_t from = c->cur_rev + 1;
		pthread_mutex_unlock(&c->mu);
		struct kc_etcd_watch_req q = { .key = prefix, .key_len = strlen(prefix),
					       .range_end = end, .range_end_len = el,
					       .start_revision = from, .prev_kv = true };
		int rc = kc_etcd_watch(s->r->etcd, &q, on_watch, c, &s->stop, NULL);
		atomic_store(&c->ready, 0);
		if (atomic_load(&s->stop))
			break;
		if (rc == KC_EGONE) {
			/* Our start revision was compacted: restart from now and end every
			 * client watch (they re-list), as the cacher does on a reset. */
			int64_t now = 0;
			if (reg_revision(s->r, &now) == 0) {
				close_all(c, now);
			}
		}
		kc_log_v(2, "watch of %s ended (%s); re-watching", c->d->plural, kc_strerror(rc));
		struct timespec ts = { 0, 200 * 1000000 }; /* back off before re-dialing */
		nanosleep(&ts, NULL);
	}
	return NULL;
}

/* A suspended connection is not polled by libmicrohttpd, so a client that closed its watch
 * would keep its connection slot, descriptor and memory until the next event or the
 * timeout (upstream's server notices the close at once through the request context). Peek
 * at the socket: a peer that shut down or reset marks the watch closed, and resuming it
 * lets MHD finish and free the connection. c->mu held; w->suspended, so MHD cannot close
 * the connection (and its descriptor stays ours) meanwhile. */
static int w_peer_gone(wc_watcher *w)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(w->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
	if (!ci || ci->connect_fd < 0)
		return 0;
	struct pollfd pf = { .fd = ci->connect_fd, .events = POLLIN | POLLRDHUP };
	if (poll(&pf, 1, 0) != 1)
		return 0;
	return (pf.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL)) != 0;
}

/* Timeouts, bookmarks and closed clients, checked once a second. */
static void *timer_thread(void *arg)
{
	wc_set *s = arg;
	int64_t last_trim = mono_sec();
	while (!atomic_load(&s->stop)) {
		struct timespec ts = { 1, 0 };
		nanosleep(&ts, NULL);
		int64_t now = mono_sec();
		if (now - last_trim >= WC_TRIM_EVERY) {
			/* Bursts (a fill of thousands of objects, big lists) leave the malloc heaps
			 * full of free fragments glibc keeps resident; hand whole free pages back
			 * (Go's runtime scavenger does the same for upstream). */
			last_trim = now;
			malloc_trim(0);
		}
		for (int i = 0; i < s->n; i++) {
			wc_cache *c = &s->caches[i];
			wake_list wl;
			memset(&wl, 0, sizeof(wl));
			pthread_mutex_lock(&c->mu);
			for (wc_watcher *w = c->watchers; w; w = w->next) {
				if (now >= w->deadline)
					w->closed = 1;
				else if (w->suspended && !w->closed && w_peer_gone(w)) {
					kc_log_v(3, "watch of %s closed by the client", c->d->plural);
					w->closed = 1;
				}
				else if (w->bookmarks && now - w->last_bookmark >= WC_BOOKMARK_EVERY) {
					w->last_bookmark = now;
					w_bookmark(w, c->cur_rev > w->last_rv ? c->cur_rev : w->last_rv);
				}
				if (w->closed || w->len > w->off)
					w_wake(w, &wl);
			}
			pthread_mutex_unlock(&c->mu);
			wake_flush(&wl);
		}
	}
	return NULL;
}

int wc_start(reg *r, wc_set **out)
{
	int64_t rev;
	int rc = reg_revision(r, &rev);
	if (rc)
		return rc;
	wc_set *s = calloc(1, sizeof(*s));
	int n = 0;
	for (int i = 0; res_all[i]; i++)
		n += !res_all[i]->storage; /* versions on another's storage share its cache */
	s->r = r;
	s->n = n;
	s->caches = calloc((size_t)n, sizeof(wc_cache));
	if (!s->caches) {
		free(s);
		return -ENOMEM;
	}
	for (int i = 0, k = 0; res_all[i]; i++) {
		if (res_all[i]->storage)
			continue;
		wc_cache *c = &s->caches[k++];
		c->set = s;
		c->d = res_all[i];
		pthread_mutex_init(&c->mu, NULL);
		c->floor = c->cur_rev = rev;
		if (pthread_create(&c->thread, NULL, watch_thread, c) == 0)
			c->started = 1;
	}
	if (pthread_create(&s->timer, NULL, timer_thread, s) == 0)
		s->timer_started = 1;
	*out = s;
	return 0;
}

int wc_ready(wc_set *s)
{
	for (int i = 0; i < s->n; i++)
		if (!atomic_load(&s->caches[i].ready))
			return 0;
	return 1;
}

void wc_stop(wc_set *s)
{
	if (!s)
		return;
	atomic_store(&s->stop, 1);
	for (int i = 0; i < s->n; i++) {
		close_all(&s->caches[i], -1);
	}
	for (int i = 0; i < s->n; i++)
		if (s->caches[i].started)
			pthread_join(s->caches[i].thread, NULL);
	if (s->timer_started)
		pthread_join(s->timer, NULL);
}

void wc_free(wc_set *s)
{
	if (!s)
		return;
	/* Watchers still attached belong to MHD responses the daemon's shutdown has freed. */
	for (int i = 0; i < s->n; i++) {
		ring_clear(&s->caches[i]);
		pthread_mutex_destroy(&s->caches[i].mu);
	}
	free(s->caches);
	free(s);
}

/* ---- MHD glue ---- */

static ssize_t w_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	(void)pos;
	wc_watcher *w = cls;
	wc_cache *c = w->c;
	pthread_mutex_lock(&c->mu);
	ssize_t n;
	if (w->len > w->off) {
		size_t k = w->len - w->off < max ? w->len - w->off : max;
		memcpy(buf, w->buf + w->off, k);
		w->off += k;
		n = (ssize_t)k;
		if (w->off == w->len && w->cap > WC_KEEP_BUFFER) {
			/* A burst (the initial list of a big collection) grew the buffer; an
			 * idle watch should not keep megabytes for the rest of its life. */
			free(w->buf);
			w->buf = NULL;
			w->len = w->off = w->cap = 0;
		}
	} else if (w->closed) {
		n = MHD_CONTENT_READER_END_OF_STREAM;
	} else {
		/* Nothing to send: park the connection until an event, a bookmark or the
		 * timeout resumes it. */
		w->suspended = 1;
		MHD_suspend_connection(w->conn);
		n = 0;
	}
	pthread_mutex_unlock(&c->mu);
	return n;
}

static void w_free(void *cls)
{
	wc_watcher *w = cls;
	wc_cache *c = w->c;
	pthread_mutex_lock(&c->mu);
	for (wc_watcher **pp = &c->watchers; *pp; pp = &(*pp)->next)
		if (*pp == w) {
			*pp = w->next;
			break;
		}
	pthread_mutex_unlock(&c->mu);
	kc_selector_close(&w->ls);
	kc_fields_close(&w->fs);
	free(w->buf);
	free(w);
}

static wc_cache *cache_for(wc_set *s, const res_desc *d)
{
	for (int i = 0; i < s->n; i++)
		if (s->caches[i].d == d)
			return &s->caches[i];
	return NULL;
}

int wc_watch(wc_set *s, const res_desc *d, const wc_params *p, struct MHD_Connection *conn,
	     struct MHD_Response **resp, cJSON **err)
{
	*resp = NULL;
	*err = NULL;
	const res_desc *view = d;
	if (d->storage)
		d = d->storage; /* one cache per storage; events converted per watcher */
	wc_cache *c = cache_for(s, d);
	if (!c) {
		*err = st_internal("no watch cache for %s", d->plural);
		return 500;
	}
	wc_watcher *w = calloc(1, sizeof(*w));
	if (!w) {
		*err = st_internal("out of memory");
		return 500;
	}
	w->c = c;
	w->view = view;
	w->conn = conn;
	snprintf(w->ns, sizeof(w->ns), "%s", (d->namespaced && p->ns) ? p->ns : "");
	w->table = p->table;
	w->include = p->include;
	w->bookmarks = p->bookmarks;
	int64_t tmo = p->timeout_sec > 0 ? p->timeout_sec : WC_DEFAULT_TIMEOUT;
	if (tmo > 366LL * 86400) /* no overflow for absurd values */
		tmo = 366LL * 86400;
	w->deadline = mono_sec() + tmo;
	w->last_bookmark = mono_sec();
	if (reg_parse_selectors(d, p->label_selector, p->field_selector, &w->ls, &w->fs, err)) {
		free(w);
		return st_code(*err);
	}
	const char *rv = p->rv ? p->rv : "";
	int64_t want = 0;
	cJSON *initial = NULL;
	if (!rv[0] || !strcmp(rv, "0")) {
		/* Start with the current state: an ADDED per object, then changes. */
		reg_list_opts lo = { .label_selector = p->label_selector,
				     .field_selector = p->field_selector };
		int code = reg_list(s->r, d, w->ns, &lo, &initial);
		if (code != 200) {
			*err = initial;
			w_free(w);
			return code;
		}
		want = kc_json_get_int64(initial, "metadata.resourceVersion", 0);
		if (!want)
			want = strtoll(kc_json_get_string(initial, "metadata.resourceVersion", "0"),
				       NULL, 10);
	} else {
		char *endp;
		want = strtoll(rv, &endp, 10);
		if (*endp || want < 0) {
			*err = st_bad_request("resourceVersion: Invalid value: \"%s\": strconv."
					      "ParseUint: parsing \"%s\": invalid syntax", rv, rv);
			w_free(w);
			return 400;
		}
	}
	pthread_mutex_lock(&c->mu);
	if (!initial && want < c->floor) {
		pthread_mutex_unlock(&c->mu);
		/* Too old: an ERROR event with 410 Expired, as the cacher sends. */
		cJSON *st = st_new(410, "Expired", "too old resource version: %lld (%lld)",
				   (long long)want, (long long)c->floor);
		w_send(w, "ERROR", st);
		cJSON_Delete(st);
		w->closed = 1;
		pthread_mutex_lock(&c->mu);
	}
	w->last_rv = want;
	const cJSON *it;
	cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(initial, "items"))
	{
		cJSON *o = cJSON_Duplicate(it, 1);
		char apiv[96];
		if (!cJSON_GetObjectItemCaseSensitive(o, "kind")) {
			cJSON_AddStringToObject(o, "kind", d->kind);
			cJSON_AddStringToObject(o, "apiVersion", res_api_version(d, apiv, sizeof(apiv)));
		}
		w_send(w, "ADDED", o);
		cJSON_Delete(o);
	}
	if (!w->closed)
		ring_replay(c, w);
	w->next = c->watchers;
	c->watchers = w;
	pthread_mutex_unlock(&c->mu);
	cJSON_Delete(initial);
	*resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4 * 1024, w_read, w, w_free);
	if (!*resp) {
		w_free(w);
		*err = st_internal("cannot create the watch response");
		return 500;
	}
	MHD_add_response_header(*resp, "Content-Type", "application/json");
	/* A watch may be quiet for its whole timeout: no idle timeout on this connection. */
	MHD_set_connection_option(conn, MHD_CONNECTION_OPTION_TIMEOUT, (unsigned int)0);
	return 200;
}

void wc_watcher_counts(wc_set *s, void (*fn)(const res_desc *d, int n, void *arg), void *arg)
{
	for (int i = 0; i < s->n; i++) {
		wc_cache *c = &s->caches[i];
		pthread_mutex_lock(&c->mu);
		int n = 0;
		for (wc_watcher *w = c->watchers; w; w = w->next)
			n++;
		fn(c->d, n, arg);
		pthread_mutex_unlock(&c->mu);
	}
}
