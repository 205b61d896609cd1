#include "watchcache.h"

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
#include "objcache.h"
#include "status.h"
#include "table.h"

#define WC_RING 4096
#define WC_DEFAULT_TIMEOUT 1800 /* upstream: minRequestTimeout 1800 s (x random 1..2) */
#define WC_BOOKMARK_EVERY 60    /* upstream sends bookmarks about once a minute */
#define WC_MAX_BUFFER (64 << 20)
#define WC_KEEP_BUFFER (64 << 10) /* a drained buffer larger than this is released */
#define WC_FRESH_WAIT_MS 2000     /* how long a cached read waits for this server's writes */
#define WC_RECENT_MAX 16384       /* objects a WC_OBJ_RECENT map keeps (the latest touched) */
#define WC_RECENT_LOG (2 * WC_RECENT_MAX) /* its insertion log (stale records included) */

enum { EV_ADDED, EV_MODIFIED, EV_DELETED };
static const char *const ev_names[] = { "ADDED", "MODIFIED", "DELETED" };

/* One state of an event's object: its stored bytes (no resourceVersion), read through a
 * scan of them (oc_raw) while only its namespace, name, labels or a few top-level members
 * are needed, and parsed only when something needs the whole tree (a Table, a conversion,
 * a selector on a member the scan cannot hand out, a replay). A pod event's fan-out to
 * watches without Tables then never builds a tree: the event text is spliced from the
 * stored bytes (oc_raw_with_rv) and selectors read a partial object. */
typedef struct wc_objref {
	const char *bytes; /* borrowed; NULL: unknown (or only the tree below is known) */
	size_t n;
	int64_t rev;    /* its resourceVersion once parsed */
	oc_raw *scan;   /* storage for the scan (NULL: do not scan) */
	int scan_state; /* 0 not tried, 1 scan valid, -1 refused or not tried: use the tree */
	cJSON *tree;    /* owned, valid once tree_done */
	int tree_done;
	cJSON *view;    /* owned partial object for selectors (ref_view) */
} wc_objref;

static int ref_scanned(wc_objref *o)
{
	if (o->scan_state == 0)
		o->scan_state = o->scan && o->bytes && oc_raw_scan(o->bytes, o->n, o->scan) == 0
					? 1
					: -1;
	return o->scan_state == 1;
}

static const cJSON *ref_tree(wc_objref *o)
{
	if (!o->tree_done) {
		o->tree_done = 1;
		o->tree = o->bytes ? reg_decode(o->bytes, o->n, o->rev) : NULL;
	}
	return o->tree;
}

static void ref_close(wc_objref *o)
{
	cJSON_Delete(o->tree);
	cJSON_Delete(o->view);
	o->tree = o->view = NULL;
	o->tree_done = 0;
}

typedef struct wc_event {
	int type;
	int64_t rev;
	wc_objref cur; /* current object (for DELETED: the last state with the delete's RV) */
	/* Previous state for MODIFIED (selector transitions), read only when a watcher's
	 * selector needs it: a watch without selectors matches the old state exactly when it
	 * matches the new one, since an object's namespace never changes. */
	wc_objref prev;
} wc_event;

/* What the ring keeps of an event: its objects as compact JSON text, parsed again only when
 * a watch starting at an older resourceVersion replays it. A parsed pod costs about five
 * times its text (a cJSON node and a malloc'd key per member), and the ring of a resource
 * holds 4,096 events: parsed, the pods' ring alone was tens of MB with 10,000 pods stored. */
typedef struct wc_slot {
	int type;
	int64_t rev;
	char *obj;  /* NUL-terminated JSON */
	char *prev; /* the previous state's stored bytes (NUL-terminated), may be NULL */
	size_t obj_n, prev_n;
	int64_t prev_rev; /* its mod_revision (its resourceVersion once parsed) */
} wc_slot;

/* What a cache keeps of current objects besides the event ring (objcache.h):
 * WC_OBJ_FULL: every object of the resource, filled by a list at the watch's start
 *   revision and kept by the events, so admission plugins read them from memory as
 *   upstream's plugins read their informers' listers (NamespaceLifecycle, ServiceAccount,
 *   Priority, LimitRanger, ResourceQuota);
 * WC_OBJ_RECENT: the latest state of the WC_RECENT_MAX objects most recently changed (not
 *   filled from a list, so a miss says nothing), for optimistic first reads of
 *   read-modify-write paths that compare mod_revision anyway, as upstream's cacher hands
 *   GuaranteedUpdate its cached object (cachedExistingObject). Bounded, unlike upstream's
 *   store of every object, to keep the apiserver's RSS target with 10,000 pods; a miss
 *   only costs a read from the store. */
enum { WC_OBJ_NONE, WC_OBJ_FULL, WC_OBJ_RECENT };

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
	int obj_mode;      /* WC_OBJ_* */
	oc_map objs;
	int filled;        /* WC_OBJ_FULL: objs is the state at cur_rev */
	int64_t wrote_rev; /* latest revision this server wrote to the resource (wc_wrote) */
	/* WC_OBJ_RECENT: insertion log (ring of keys with the seq of their entry), oldest
	 * evicted first when the map is over WC_RECENT_MAX or the log is full. */
	struct recent_rec { char *key; uint64_t seq; } *log;
	size_t log_head, log_count;
	uint64_t seq_next;
	pthread_cond_t moved; /* cur_rev advanced (WC_OBJ_FULL readers wait for wrote_rev) */
	char prefix[512];     /* the resource's key prefix */
	size_t prefix_len;
} wc_cache;

struct wc_set {
	reg *r;
	wc_cache *caches;
	int n;
	/* The WC_OBJ_FULL caches, for wc_wrote: called on every write, it looked at each
	 * cache's mode, one cache line (and page: a cache holds its ring) per resource. */
	wc_cache **full;
	int nfull;
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
	int has_sel; /* a label or field selector (else only the namespace filters) */
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

/* The partial object w's selectors read of o (scanned): metadata.labels for a label
 * selector, and for each field of the field selector metadata.name, metadata.namespace or
 * the top-level member the field is under. reg_matches reads no more: metadata.name and
 * .namespace itself, the rest through the resource's field function, and every one
 * (res_*.c, as upstream's ToSelectableFields) reads the field's own path, so its first
 * member is enough. The view is kept with the event and grows with what each watcher
 * needs. NULL when the scan cannot answer (another metadata field, out of memory): parse
 * the object. */
static const cJSON *ref_view(wc_objref *o, const wc_watcher *w)
{
	if (!o->view && !(o->view = oc_raw_view_new()))
		return NULL;
	if ((w->ls.nreqs || w->ls.nothing) && oc_raw_view_add_meta(o->scan, o->view, "labels"))
		return NULL;
	for (size_t i = 0; i < w->fs.nreqs; i++) {
		const char *f = w->fs.reqs[i].field;
		if (!strcmp(f, "metadata.name") || !strcmp(f, "metadata.namespace")) {
			if (oc_raw_view_add_meta(o->scan, o->view, f + 9))
				return NULL;
			continue;
		}
		char seg[128];
		size_t l = strcspn(f, ".");
		if (l >= sizeof(seg) || (l == 8 && !memcmp(f, "metadata", 8)))
			return NULL;
		memcpy(seg, f, l);
		seg[l] = 0;
		if (oc_raw_view_add(o->scan, o->view, seg))
			return NULL;
	}
	return o->view;
}

static int w_matches(const wc_watcher *w, wc_objref *o)
{
	if (ref_scanned(o)) {
		if (w->ns[0]) {
			size_t l;
			const char *ns = oc_raw_str(o->scan, o->scan->ns, &l);
			if (l != strlen(w->ns) || memcmp(ns, w->ns, l))
				return 0;
		}
		if (!w->has_sel)
			return 1;
		const cJSON *v = o->tree ? o->tree : ref_view(o, w);
		if (v)
			return reg_matches(w->c->d, v, &w->ls, &w->fs);
	}
	const cJSON *obj = ref_tree(o);
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
	/* The object's compact JSON (borrowed; NULL: print the envelope). The envelope is
	 * then built around it, byte for byte what printing {"type","object"} gives, without
	 * serializing the object a second time. */
	const char *obj;
	size_t obj_n;
} ev_text;

static void ev_text_free(ev_text *t)
{
	for (int i = 0; i < 3; i++)
		free(t->s[i]);
	memset(t, 0, sizeof(*t));
}

/* {"type":"<type>","object":<obj>}\n from the object's text; NULL on out of memory. */
static char *ev_line(int type, const char *obj, size_t obj_n, size_t *len)
{
	char head[40];
	int hn = snprintf(head, sizeof(head), "{\"type\":\"%s\",\"object\":", ev_names[type]);
	char *line = malloc((size_t)hn + obj_n + 3);
	if (!line)
		return NULL;
	memcpy(line, head, (size_t)hn);
	memcpy(line + hn, obj, obj_n);
	memcpy(line + (size_t)hn + obj_n, "}\n", 3);
	*len = (size_t)hn + obj_n + 2;
	return line;
}

static void w_send_ev(wc_watcher *w, int type, wc_event *e, ev_text *t)
{
	if (!t || w->table || w->view != w->c->d || (!t->obj && !t->s[type] && !t->failed[type])) {
		const cJSON *obj = ref_tree(&e->cur);
		if (!obj) {
			w->closed = 1;
			return;
		}
		if (!t || w->table || w->view != w->c->d) {
			w_send(w, ev_names[type], obj);
			return;
		}
		/* no object text (out of memory): print the envelope around the tree */
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
	if (!t->s[type] && !t->failed[type]) {
		t->s[type] = ev_line(type, t->obj, t->obj_n, &t->n[type]);
		t->failed[type] = !t->s[type];
	}
	if (!t->s[type]) {
		w->closed = 1;
		return;
	}
	w_append(w, t->s[type], t->n[type]);
}

/* Delivers one event to one watcher with upstream's selector transitions. t (may be NULL)
 * caches the serialized event across the watchers of one fan-out. */
static void w_deliver(wc_watcher *w, wc_event *e, ev_text *t)
{
	if (e->rev <= w->last_rv || w->closed)
		return;
	w->last_rv = e->rev;
	int cur = w_matches(w, &e->cur);
	if (e->type == EV_DELETED) {
		if (cur)
			w_send_ev(w, EV_DELETED, e, t);
		return;
	}
	int prev = 0;
	if (e->type == EV_MODIFIED)
		prev = w->has_sel ? w_matches(w, &e->prev) : (e->prev.bytes != NULL && cur);
	if (cur && (prev || e->type == EV_ADDED))
		w_send_ev(w, e->type, e, t);
	else if (cur)
		w_send_ev(w, EV_ADDED, e, t);
	else if (prev)
		w_send_ev(w, EV_DELETED, e, t);
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

/* Drops the oldest insertion record, and its entry if no later event replaced it. */
static void recent_pop(wc_cache *c)
{
	struct recent_rec *r = &c->log[c->log_head];
	oc_del_if_seq(&c->objs, r->key, r->seq);
	free(r->key);
	r->key = NULL;
	c->log_head = (c->log_head + 1) % WC_RECENT_LOG;
	c->log_count--;
}

static void recent_clear(wc_cache *c)
{
	while (c->log_count)
		recent_pop(c);
	oc_clear(&c->objs);
}

/* The current-object map after event e, whose text is sl's (c->mu held). */
static void objs_update(wc_cache *c, wc_slot *sl, const char *key)
{
	if (c->obj_mode == WC_OBJ_FULL && c->filled) {
		int rc = sl->type == EV_DELETED
				 ? (oc_del(&c->objs, key), 0)
				 : oc_put(&c->objs, key, sl->obj, sl->obj_n, sl->rev, 0, 0);
		if (rc) {
			/* Out of memory: the map no longer mirrors the store; readers go to
			 * the store until a watch restart fills it again. */
			oc_clear(&c->objs);
			c->filled = 0;
		}
	} else if (c->obj_mode == WC_OBJ_RECENT) {
		if (sl->type == EV_DELETED) {
			oc_del(&c->objs, key);
			return;
		}
		uint64_t seq = c->seq_next++;
		char *k = c->log ? strdup(key) : NULL;
		/* Out of memory the key is dropped: its older entry would be stale. */
		if (!k || oc_put(&c->objs, key, sl->obj, sl->obj_n, sl->rev, seq, 0)) {
			free(k);
			oc_del(&c->objs, key);
			return;
		}
		if (c->log_count == WC_RECENT_LOG)
			recent_pop(c);
		c->log[(c->log_head + c->log_count) % WC_RECENT_LOG] = (struct recent_rec){ k, seq };
		c->log_count++;
		while (c->objs.count > WC_RECENT_MAX && c->log_count)
			recent_pop(c);
	}
}

/* The map key of o ("<namespace>/<name>" or "<name>", as oc_key; ns_too: namespaced
 * resource) into key[600], "" when it does not fit or o cannot be read. */
static void ref_key(wc_objref *o, int ns_too, char *key)
{
	key[0] = 0;
	if (ref_scanned(o)) {
		size_t nl = 0, ml = 0;
		const char *ns = ns_too ? oc_raw_str(o->scan, o->scan->ns, &nl) : "";
		const char *name = oc_raw_str(o->scan, o->scan->name, &ml);
		if (nl + ml + 2 > 600)
			return;
		size_t at = 0;
		if (nl) {
			memcpy(key, ns, nl);
			key[nl] = '/';
			at = nl + 1;
		}
		memcpy(key + at, name, ml);
		key[at + ml] = 0;
		return;
	}
	const cJSON *obj = ref_tree(o);
	if (!obj || oc_key(ns_too ? kc_meta_namespace(obj) : NULL, kc_meta_name(obj), key, 600) < 0)
		key[0] = 0;
}

/* Takes e's objects (freed here) and text, the object's compact JSON with its
 * resourceVersion (NULL: out of memory). */
static void ring_push(wc_cache *c, wc_event *e, char *text, size_t text_n)
{
	wc_slot sl = { .type = e->type, .rev = e->rev, .prev_rev = e->prev.rev };
	int had_prev = e->prev.bytes != NULL;
	char key[600] = "";
	if (c->obj_mode != WC_OBJ_NONE)
		ref_key(&e->cur, c->d->namespaced, key);
	sl.obj = text;
	sl.obj_n = text_n;
	if (had_prev && (sl.prev = malloc(e->prev.n + 1)) != NULL) {
		memcpy(sl.prev, e->prev.bytes, e->prev.n);
		sl.prev[e->prev.n] = 0;
		sl.prev_n = e->prev.n;
	}
	ref_close(&e->cur);
	ref_close(&e->prev);
	e->cur.bytes = e->prev.bytes = NULL;
	if (!sl.obj || (had_prev && !sl.prev) || (c->obj_mode != WC_OBJ_NONE && !key[0])) {
		/* Out of memory: the history is no longer complete, so forget it; watches
		 * from before this revision get 410 and re-list. */
		slot_free(&sl);
		ring_clear(c);
		c->floor = e->rev;
		if (c->obj_mode != WC_OBJ_NONE) {
			recent_clear(c);
			c->filled = 0;
		}
		return;
	}
	if (c->count == WC_RING) {
		wc_slot *old = &c->ring[c->head];
		c->floor = old->rev;
		slot_free(old);
		c->head = (c->head + 1) % WC_RING;
		c->count--;
	}
	objs_update(c, &sl, key);
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
		/* the slot's text has its resourceVersion: the tree is parsed as it is */
		wc_event e = { .type = sl->type,
			       .rev = sl->rev,
			       .cur = { .scan_state = -1, .tree_done = 1 },
			       .prev = { .bytes = sl->prev, .n = sl->prev_n, .rev = sl->prev_rev,
					 .scan_state = -1 } };
		int bad = kc_json_parse(sl->obj, sl->obj_n, sl->obj_n + 1, &e.cur.tree, NULL, 0) != 0;
		if (!bad && sl->prev && w->has_sel && !ref_tree(&e.prev))
			bad = 1;
		if (!bad)
			w_deliver(w, &e, NULL);
		ref_close(&e.cur);
		ref_close(&e.prev);
		if (bad) {
			w->closed = 1;
			return -1;
		}
	}
	return 0;
}

/* ---- store watch ---- */

/* An event the cache cannot use (a value that is not a JSON object, a deletion without its
 * previous value): it still moves cur_rev, and its key leaves the current-object map, whose
 * readers then ask the store. c->mu held. */
static void skip_event(wc_cache *c, const struct kc_etcd_event *ev)
{
	if (ev->kv.mod_revision > c->cur_rev)
		c->cur_rev = ev->kv.mod_revision;
	if (c->obj_mode == WC_OBJ_NONE || ev->kv.key_len <= c->prefix_len ||
	    ev->kv.key_len - c->prefix_len >= 600)
		return;
	char key[600]; /* the store key past the resource prefix is the map's key */
	memcpy(key, ev->kv.key + c->prefix_len, ev->kv.key_len - c->prefix_len);
	key[ev->kv.key_len - c->prefix_len] = 0;
	oc_del(&c->objs, key);
}

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
		oc_raw scan, prev_scan;
		e.rev = ev->kv.mod_revision;
		e.cur.rev = e.rev;
		e.cur.scan = &scan;
		if (ev->type == KC_ETCD_EVENT_DELETE) {
			if (!ev->has_prev_kv) {
				skip_event(c, ev);
				continue;
			}
			e.type = EV_DELETED;
			e.cur.bytes = (const char *)ev->prev_kv.value;
			e.cur.n = ev->prev_kv.value_len;
		} else {
			e.type = ev->kv.create_revision == ev->kv.mod_revision ? EV_ADDED : EV_MODIFIED;
			e.cur.bytes = (const char *)ev->kv.value;
			e.cur.n = ev->kv.value_len;
			if (ev->has_prev_kv && e.type == EV_MODIFIED) {
				e.prev.bytes = (const char *)ev->prev_kv.value;
				e.prev.n = ev->prev_kv.value_len;
				e.prev.rev = ev->prev_kv.mod_revision;
				e.prev.scan = &prev_scan;
			}
		}
		/* The object is serialized once: for the ring, and as the body of every
		 * watcher's event line (ev_text). Stored bytes in the printer's form take
		 * the resourceVersion without a parse and a print (oc_raw_with_rv); others
		 * are parsed as reg_decode does and printed. */
		size_t text_n = 0;
		char *text = NULL;
		if (ref_scanned(&e.cur)) {
			text = oc_raw_with_rv(&scan, e.rev, &text_n);
		} else {
			if (!ref_tree(&e.cur)) {
				skip_event(c, ev);
				continue;
			}
			text = kc_json_print_len(e.cur.tree, &text_n);
		}
		ev_text t;
		memset(&t, 0, sizeof(t));
		t.obj = text;
		t.obj_n = text_n;
		for (wc_watcher *w = c->watchers; w; w = w->next) {
			w_deliver(w, &e, &t);
			if (w->len > w->off || w->closed)
				w_wake(w, &wl);
		}
		ev_text_free(&t);
		ring_push(c, &e, text, text_n);
		if (e.rev > c->cur_rev)
			c->cur_rev = e.rev;
	}
	if (resp->header.revision > c->cur_rev && resp->n_events == 0 && !resp->created)
		c->cur_rev = resp->header.revision;
	if (c->obj_mode == WC_OBJ_FULL)
		pthread_cond_broadcast(&c->moved);
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
		if (c->obj_mode != WC_OBJ_NONE) {
			/* The events in between are lost (deletions too): FULL fills again
			 * before watching, RECENT starts over. */
			recent_clear(c);
			c->filled = 0;
		}
	}
	for (wc_watcher *w = c->watchers; w; w = w->next) {
		w->closed = 1;
		w_wake(w, &wl);
	}
	pthread_mutex_unlock(&c->mu);
	wake_flush(&wl);
}

/* WC_OBJ_FULL: the map becomes the resource's state at c->cur_rev, listed from the store at
 * exactly that revision (the watch then continues from the next one). Only the watch thread
 * changes cur_rev, so it cannot move meanwhile. Failure leaves the map unfilled: readers
 * use the store, as before this cache existed. */
static void objs_fill(wc_cache *c)
{
	pthread_mutex_lock(&c->mu);
	int64_t at = c->cur_rev;
	pthread_mutex_unlock(&c->mu);
	cJSON *list = NULL;
	reg_list_opts lo = { .exact_rv = at };
	int code = reg_list(c->set->r, c->d, NULL, &lo, &list);
	oc_map m;
	oc_init(&m, 1);
	int ok = code == 200;
	const cJSON *it;
	const cJSON *items = ok ? cJSON_GetObjectItemCaseSensitive(list, "items") : NULL;
	cJSON_ArrayForEach(it, items)
	{
		char key[600];
		size_t n = 0;
		char *txt = kc_json_print_len(it, &n);
		ok = txt && oc_key(c->d->namespaced ? kc_meta_namespace(it) : NULL, kc_meta_name(it),
				   key, sizeof(key)) >= 0 &&
		     oc_put(&m, key, txt, n, strtoll(kc_meta_resource_version(it), NULL, 10), 0,
			    0) == 0;
		free(txt);
		if (!ok)
			break;
	}
	cJSON_Delete(list);
	pthread_mutex_lock(&c->mu);
	if (ok && c->cur_rev == at) {
		oc_close(&c->objs);
		c->objs = m;
		c->filled = 1;
		pthread_cond_broadcast(&c->moved);
	} else {
		oc_close(&m);
	}
	pthread_mutex_unlock(&c->mu);
	if (!ok)
		kc_log_v(1, "cache of %s not filled (HTTP %d): reads go to the store", c->d->plural,
			 code);
}

static void *watch_thread(void *arg)
{
	wc_cache *c = arg;
	wc_set *s = c->set;
	const char *prefix = c->prefix;
	uint8_t end[512];
	size_t el = kc_etcd_prefix_end(prefix, strlen(prefix), end);
	while (!atomic_load(&s->stop)) {
		pthread_mutex_lock(&c->mu);
		int need_fill = c->obj_mode == WC_OBJ_FULL && !c->filled;
		pthread_mutex_unlock(&c->mu);
		if (need_fill)
			objs_fill(c);
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
	while (!atomic_load(&s->stop)) {
		struct timespec ts = { 1, 0 };
		nanosleep(&ts, NULL);
		int64_t now = mono_sec();
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

static int obj_mode_of(const res_desc *d)
{
	if (d == &res_namespaces || d == &res_serviceaccounts || d == &res_priorityclasses ||
	    d == &res_limitranges || d == &res_resourcequotas)
		return WC_OBJ_FULL;
	if (d == &res_pods)
		return WC_OBJ_RECENT;
	return WC_OBJ_NONE;
}

int wc_start(reg *r, wc_set **out)
{
	int64_t rev;
	int rc = reg_revision(r, &rev);
	if (rc)
		return rc;
	wc_set *s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	int n = 0;
	for (int i = 0; res_all[i]; i++)
		n += !res_all[i]->storage; /* versions on another's storage share its cache */
	s->r = r;
	s->n = n;
	s->caches = calloc((size_t)n, sizeof(wc_cache));
	s->full = calloc((size_t)n, sizeof(*s->full));
	if (!s->caches || !s->full) {
		free(s->caches);
		free(s->full);
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
		pthread_condattr_t ca;
		pthread_condattr_init(&ca);
		pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
		pthread_cond_init(&c->moved, &ca);
		pthread_condattr_destroy(&ca);
		c->obj_mode = obj_mode_of(c->d);
		if (c->obj_mode == WC_OBJ_FULL)
			s->full[s->nfull++] = c;
		oc_init(&c->objs, 1);
		if (c->obj_mode == WC_OBJ_RECENT)
			c->log = calloc(WC_RECENT_LOG, sizeof(*c->log)); /* NULL: nothing kept */
		reg_key(r, c->d, NULL, NULL, c->prefix, sizeof(c->prefix));
		c->prefix_len = strlen(c->prefix);
		c->floor = c->cur_rev = rev;
		if (pthread_create(&c->thread, NULL, watch_thread, c) == 0)
			c->started = 1;
	}
	if (pthread_create(&s->timer, NULL, timer_thread, s) == 0)
		s->timer_started = 1;
	r->wc = s;
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
	if (s->r->wc == s)
		s->r->wc = NULL;
	for (int i = 0; i < s->n; i++) {
		ring_clear(&s->caches[i]);
		recent_clear(&s->caches[i]);
		free(s->caches[i].log);
		oc_close(&s->caches[i].objs);
		pthread_cond_destroy(&s->caches[i].moved);
		pthread_mutex_destroy(&s->caches[i].mu);
	}
	free(s->caches);
	free(s->full);
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
	w->has_sel = w->ls.nreqs > 0 || w->ls.nothing || w->fs.nreqs > 0;
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

/* ---- current objects (objcache.h) ---- */

/* A WC_OBJ_FULL cache may answer once it is filled and has seen every write this server
 * made to the resource: read-your-writes for one apiserver, where upstream's admission
 * listers are only eventually consistent. c->mu held; 0 ready, -1 not (yet). */
static int full_ready(wc_cache *c)
{
	if (!c->filled)
		return -1;
	if (c->cur_rev >= c->wrote_rev)
		return 0;
	struct timespec dl;
	clock_gettime(CLOCK_MONOTONIC, &dl);
	dl.tv_sec += WC_FRESH_WAIT_MS / 1000;
	dl.tv_nsec += (long)(WC_FRESH_WAIT_MS % 1000) * 1000000L;
	if (dl.tv_nsec >= 1000000000L) {
		dl.tv_sec++;
		dl.tv_nsec -= 1000000000L;
	}
	while (c->filled && c->cur_rev < c->wrote_rev)
		if (pthread_cond_timedwait(&c->moved, &c->mu, &dl))
			break;
	return c->filled && c->cur_rev >= c->wrote_rev ? 0 : -1;
}

static wc_cache *obj_cache(wc_set *s, const res_desc *d)
{
	if (!s || d->storage)
		return NULL;
	wc_cache *c = cache_for(s, d);
	return c && c->obj_mode != WC_OBJ_NONE ? c : NULL;
}

int wc_get(wc_set *s, const res_desc *d, const char *ns, const char *name, cJSON **out,
	   int64_t *mod)
{
	*out = NULL;
	wc_cache *c = obj_cache(s, d);
	char key[600];
	if (!c || oc_key(d->namespaced ? ns : NULL, name, key, sizeof(key)) < 0)
		return -1;
	int rc = -1;
	pthread_mutex_lock(&c->mu);
	if (c->obj_mode == WC_OBJ_RECENT || full_ready(c) == 0) {
		const oc_entry *e = oc_find(&c->objs, key);
		if (!e)
			rc = c->obj_mode == WC_OBJ_FULL ? 0 : -1;
		else if (!e->deleted && kc_json_parse(e->text, e->n, e->n + 1, out, NULL, 0) == 0) {
			*mod = e->rev;
			rc = 1;
		}
	}
	pthread_mutex_unlock(&c->mu);
	return rc;
}

typedef struct list_ctx {
	const char *prefix; /* "<ns>/" or "" */
	size_t plen;
	const oc_entry **v;
	size_t n, cap;
	int failed;
} list_ctx;

static int list_one(const oc_entry *e, void *arg)
{
	list_ctx *l = arg;
	if (l->plen && strncmp(e->key, l->prefix, l->plen))
		return 0;
	if (l->n == l->cap) {
		size_t nc = l->cap ? l->cap * 2 : 16;
		const oc_entry **nv = realloc(l->v, nc * sizeof(*nv));
		if (!nv) {
			l->failed = 1;
			return 1;
		}
		l->v = nv;
		l->cap = nc;
	}
	l->v[l->n++] = e;
	return 0;
}

static int entry_cmp(const void *a, const void *b)
{
	return strcmp((*(const oc_entry *const *)a)->key, (*(const oc_entry *const *)b)->key);
}

int wc_list(wc_set *s, const res_desc *d, const char *ns, cJSON **items)
{
	*items = NULL;
	wc_cache *c = obj_cache(s, d);
	if (!c || c->obj_mode != WC_OBJ_FULL)
		return -1;
	char prefix[300] = "";
	if (d->namespaced && ns && ns[0] &&
	    (size_t)snprintf(prefix, sizeof(prefix), "%s/", ns) >= sizeof(prefix))
		return -1;
	list_ctx l = { .prefix = prefix, .plen = strlen(prefix) };
	cJSON *arr = cJSON_CreateArray();
	if (!arr)
		return -1;
	pthread_mutex_lock(&c->mu);
	int rc = full_ready(c);
	if (rc == 0)
		oc_foreach(&c->objs, list_one, &l);
	/* In key order, as a list from the store returns them (a LimitRanger with several
	 * ranges, Priority's tie between default classes: the same answer either way). */
	if (rc == 0 && !l.failed && l.n > 1)
		qsort(l.v, l.n, sizeof(*l.v), entry_cmp);
	for (size_t i = 0; rc == 0 && !l.failed && i < l.n; i++) {
		cJSON *o = NULL;
		if (kc_json_parse(l.v[i]->text, l.v[i]->n, l.v[i]->n + 1, &o, NULL, 0))
			l.failed = 1;
		else
			cJSON_AddItemToArray(arr, o);
	}
	pthread_mutex_unlock(&c->mu);
	free(l.v);
	if (rc || l.failed) {
		cJSON_Delete(arr);
		return -1;
	}
	*items = arr;
	return 0;
}

int wc_objs_rev(wc_set *s, const res_desc *d, int64_t *rev)
{
	*rev = 0;
	wc_cache *c = obj_cache(s, d);
	if (!c || c->obj_mode != WC_OBJ_FULL)
		return -1;
	pthread_mutex_lock(&c->mu);
	int rc = full_ready(c);
	if (rc == 0)
		*rev = c->cur_rev;
	pthread_mutex_unlock(&c->mu);
	return rc;
}

void wc_wrote(wc_set *s, const char *key, int64_t rev)
{
	if (!s || !key)
		return;
	for (int i = 0; i < s->nfull; i++) {
		wc_cache *c = s->full[i];
		if (strncmp(key, c->prefix, c->prefix_len))
			continue;
		pthread_mutex_lock(&c->mu);
		if (rev > c->wrote_rev)
			c->wrote_rev = rev;
		pthread_mutex_unlock(&c->mu);
		return;
	}
}
