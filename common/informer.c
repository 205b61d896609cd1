/* Informer: list + watch into an indexed cache, with handlers (see informer.h).
 *
 * Mirrors client-go's tools/cache: Reflector.ListAndWatch (paginated list, watch from the
 * list's resourceVersion, relist on 410, backoff), the thread-safe Indexer, and the
 * shared informer's handler distribution (including DeletedFinalStateUnknown on relist).
 *
 * Concurrency: the cache is only written by the informer thread, always while holding
 * deliver_mu and the write lock. Handlers run with deliver_mu held (so they are
 * serialised with resync) and without the cache lock, so they may read the cache. The
 * resync thread iterates the cache under deliver_mu alone: nobody can write meanwhile. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "errors.h"
#include "informer.h"
#include "log.h"

#define MAX_HANDLERS 16
#define MAX_INDEXES 16
#define RV_LEN 128

/* ---- a string-keyed hash map ---- */

struct hent {
	char *key;
	void *val;
	uint64_t h;
	struct hent *next;
};

struct hmap {
	struct hent **b;
	size_t nb, n;
};

static uint64_t hash_str(const char *s)
{
	uint64_t h = 1469598103934665603ULL; /* FNV-1a */
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

static struct hent *hmap_find(const struct hmap *m, const char *key)
{
	if (!m->nb)
		return NULL;
	uint64_t h = hash_str(key);
	for (struct hent *e = m->b[h & (m->nb - 1)]; e; e = e->next)
		if (e->h == h && strcmp(e->key, key) == 0)
			return e;
	return NULL;
}

static void *hmap_get(const struct hmap *m, const char *key)
{
	struct hent *e = hmap_find(m, key);
	return e ? e->val : NULL;
}

static int hmap_grow(struct hmap *m)
{
	size_t nb = m->nb ? m->nb * 2 : 64;
	struct hent **b = calloc(nb, sizeof(*b));
	if (!b)
		return -ENOMEM;
	for (size_t i = 0; i < m->nb; i++) {
		struct hent *e = m->b[i], *next;
		for (; e; e = next) {
			next = e->next;
			e->next = b[e->h & (nb - 1)];
			b[e->h & (nb - 1)] = e;
		}
	}
	free(m->b);
	m->b = b;
	m->nb = nb;
	return 0;
}

/* Insert a new key (must be absent). The key is copied. */
static int hmap_add(struct hmap *m, const char *key, void *val)
{
	if (m->n + 1 > m->nb && hmap_grow(m) < 0)
		return -ENOMEM;
	struct hent *e = malloc(sizeof(*e));
	if (!e || !(e->key = strdup(key))) {
		free(e);
		return -ENOMEM;
	}
	e->val = val;
	e->h = hash_str(key);
	e->next = m->b[e->h & (m->nb - 1)];
	m->b[e->h & (m->nb - 1)] = e;
	m->n++;
	return 0;
}

/* Remove key; returns its value (NULL if absent). */
static void *hmap_del(struct hmap *m, const char *key)
{
	if (!m->nb)
		return NULL;
	uint64_t h = hash_str(key);
	for (struct hent **pp = &m->b[h & (m->nb - 1)]; *pp; pp = &(*pp)->next) {
		struct hent *e = *pp;
		if (e->h == h && strcmp(e->key, key) == 0) {
			void *v = e->val;
			*pp = e->next;
			free(e->key);
			free(e);
			m->n--;
			return v;
		}
	}
	return NULL;
}

/* Free the map's entries, calling fn on every value (fn may be NULL). */
static void hmap_clear(struct hmap *m, void (*fn)(void *))
{
	for (size_t i = 0; i < m->nb; i++) {
		struct hent *e = m->b[i], *next;
		for (; e; e = next) {
			next = e->next;
			if (fn)
				fn(e->val);
			free(e->key);
			free(e);
		}
	}
	free(m->b);
	memset(m, 0, sizeof(*m));
}

#define HMAP_FOREACH(m, e)                                 \
	for (size_t _i = 0; _i < (m)->nb; _i++)            \
		for (struct hent *e = (m)->b[_i]; e; e = e->next)

/* ---- cache items and indexes ---- */

struct kc_index_keys {
	char **v;
	int n, cap;
	int err;
};

int kc_index_keys_add(kc_index_keys *k, const char *key)
{
	if (!key)
		return -EINVAL;
	for (int i = 0; i < k->n; i++)
		if (strcmp(k->v[i], key) == 0)
			return 0;
	if (k->n == k->cap) {
		int cap = k->cap ? k->cap * 2 : 4;
		char **nv = realloc(k->v, (size_t)cap * sizeof(*nv));
		if (!nv)
			return k->err = -ENOMEM;
		k->v = nv;
		k->cap = cap;
	}
	if (!(k->v[k->n] = strdup(key)))
		return k->err = -ENOMEM;
	k->n++;
	return 0;
}

static void keys_free(kc_index_keys *k)
{
	for (int i = 0; i < k->n; i++)
		free(k->v[i]);
	free(k->v);
	memset(k, 0, sizeof(*k));
}

struct item {
	char *key;
	cJSON *obj;
	int nik;
	kc_index_keys ik[]; /* this object's values in each index (nik = the informer's) */
};

/* The objects sharing one index value. */
struct bucket {
	struct item **items;
	size_t n, cap;
};

struct index {
	char *name;
	kc_index_fn fn;
	void *arg;
	struct hmap values; /* value -> struct bucket */
};

struct kc_informer {
	kc_client *client;
	char *path, *label_selector, *field_selector, *name;
	int64_t resync_ms, backoff_min_ms, backoff_max_ms;
	void (*transform)(cJSON *obj, void *arg);
	void *transform_arg;
	int page_size;

	kc_informer_handlers handlers[MAX_HANDLERS];
	int nhandlers;
	struct index indexes[MAX_INDEXES];
	int nindexes;

	pthread_rwlock_t lock;  /* cache + indexes */
	struct hmap cache;      /* key -> struct item */
	pthread_mutex_t deliver_mu;

	pthread_mutex_t state_mu; /* below */
	pthread_cond_t state_cv;  /* synced / stop */
	int started, stopped, synced;
	char last_rv[RV_LEN];
	atomic_int stop;

	pthread_t thread, resync_thread;
	int has_resync_thread;
	unsigned long watch_events; /* events of the current watch */
};

static void item_free(void *p)
{
	struct item *it = p;
	if (!it)
		return;
	for (int i = 0; i < it->nik; i++)
		keys_free(&it->ik[i]);
	cJSON_Delete(it->obj);
	free(it->key);
	free(it);
}

static void bucket_free(void *p)
{
	struct bucket *b = p;
	free(b->items);
	free(b);
}

static void index_remove(struct index *ix, const char *value, struct item *it)
{
	struct bucket *b = hmap_get(&ix->values, value);
	if (!b)
		return;
	for (size_t i = 0; i < b->n; i++) {
		if (b->items[i] == it) {
			b->items[i] = b->items[--b->n];
			break;
		}
	}
	if (b->n == 0)
		bucket_free(hmap_del(&ix->values, value));
}

static int index_insert(struct index *ix, const char *value, struct item *it)
{
	struct bucket *b = hmap_get(&ix->values, value);
	if (!b) {
		b = calloc(1, sizeof(*b));
		if (!b)
			return -ENOMEM;
		if (hmap_add(&ix->values, value, b) < 0) {
			free(b);
			return -ENOMEM;
		}
	}
	if (b->n == b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 4;
		struct item **ni = realloc(b->items, cap * sizeof(*ni));
		if (!ni)
			return -ENOMEM;
		b->items = ni;
		b->cap = cap;
	}
	b->items[b->n++] = it;
	return 0;
}

static void unindex(kc_informer *inf, struct item *it)
{
	for (int i = 0; i < inf->nindexes; i++) {
		for (int k = 0; k < it->ik[i].n; k++)
			index_remove(&inf->indexes[i], it->ik[i].v[k], it);
		keys_free(&it->ik[i]);
	}
}

static void reindex(kc_informer *inf, struct item *it)
{
	for (int i = 0; i < inf->nindexes; i++) {
		struct index *ix = &inf->indexes[i];
		ix->fn(it->obj, &it->ik[i], ix->arg);
		for (int k = 0; k < it->ik[i].n; k++)
			if (index_insert(ix, it->ik[i].v[k], it) < 0)
				kc_error("informer %s: out of memory indexing %s", inf->name, it->key);
	}
}

/* Put obj (taken) at key; returns the replaced object (caller frees) or NULL.
 * *stored receives the cached object. Write lock held by the caller. */
static int cache_put(kc_informer *inf, const char *key, cJSON *obj, cJSON **old,
		     const cJSON **stored)
{
	*old = NULL;
	struct item *it = hmap_get(&inf->cache, key);
	if (it) {
		unindex(inf, it);
		*old = it->obj;
		it->obj = obj;
	} else {
		/* Indexes are fixed at start, so each item holds exactly that many key sets. */
		it = calloc(1, sizeof(*it) + (size_t)inf->nindexes * sizeof(it->ik[0]));
		if (it)
			it->nik = inf->nindexes;
		if (!it || !(it->key = strdup(key)) || hmap_add(&inf->cache, key, it) < 0) {
			if (it)
				free(it->key);
			free(it);
			cJSON_Delete(obj);
			return -ENOMEM;
		}
		it->obj = obj;
	}
	reindex(inf, it);
	*stored = it->obj;
	return 0;
}

/* Remove key; returns the removed object (caller frees) or NULL. Write lock held. */
static cJSON *cache_del(kc_informer *inf, const char *key)
{
	struct item *it = hmap_del(&inf->cache, key);
	if (!it)
		return NULL;
	unindex(inf, it);
	cJSON *obj = it->obj;
	it->obj = NULL;
	item_free(it);
	return obj;
}

/* ---- built-in index functions ---- */

static const char *str_at(const cJSON *obj, const char *a, const char *b)
{
	const cJSON *x = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(obj, a), b);
	return cJSON_IsString(x) ? x->valuestring : NULL;
}

static void index_namespace(const cJSON *obj, kc_index_keys *keys, void *arg)
{
	const char *ns = str_at(obj, "metadata", "namespace");
	kc_index_keys_add(keys, ns ? ns : "");
}

static void index_nodename(const cJSON *obj, kc_index_keys *keys, void *arg)
{
	const char *n = str_at(obj, "spec", "nodeName");
	if (n && *n)
		kc_index_keys_add(keys, n);
}

static void index_label(const cJSON *obj, kc_index_keys *keys, void *arg)
{
	const cJSON *labels = cJSON_GetObjectItemCaseSensitive(
		cJSON_GetObjectItemCaseSensitive(obj, "metadata"), "labels");
	const cJSON *l;
	cJSON_ArrayForEach(l, labels)
	{
		if (!cJSON_IsString(l) || !l->string)
			continue;
		char *kv;
		if (asprintf(&kv, "%s=%s", l->string, l->valuestring) < 0) {
			keys->err = -ENOMEM;
			return;
		}
		kc_index_keys_add(keys, kv);
		free(kv);
	}
}

/* ---- construction ---- */

int kc_informer_key(const cJSON *obj, char *buf, size_t len)
{
	const char *name = str_at(obj, "metadata", "name");
	const char *ns = str_at(obj, "metadata", "namespace");
	if (len)
		buf[0] = '\0';
	if (!name || !*name)
		return -EINVAL;
	int n = ns && *ns ? snprintf(buf, len, "%s/%s", ns, name) : snprintf(buf, len, "%s", name);
	if (n < 0 || (size_t)n >= len)
		return -ENAMETOOLONG;
	return 0;
}

static char *dup_opt(const char *s, int *rc)
{
	if (!s || !*s)
		return NULL;
	char *d = strdup(s);
	if (!d)
		*rc = -ENOMEM;
	return d;
}

int kc_informer_new(kc_client *c, const kc_informer_opts *opts, kc_informer **out)
{
	*out = NULL;
	if (!c || !opts || !opts->path || opts->path[0] != '/' || strchr(opts->path, '?'))
		return -EINVAL;
	kc_informer *inf = calloc(1, sizeof(*inf));
	if (!inf)
		return -ENOMEM;
	int rc = 0;
	inf->client = c;
	inf->path = dup_opt(opts->path, &rc);
	inf->label_selector = dup_opt(opts->label_selector, &rc);
	inf->field_selector = dup_opt(opts->field_selector, &rc);
	inf->name = dup_opt(opts->name ? opts->name : opts->path, &rc);
	inf->resync_ms = opts->resync_ms > 0 ? opts->resync_ms : 0;
	inf->transform = opts->transform;
	inf->transform_arg = opts->transform_arg;
	inf->page_size = opts->page_size ? opts->page_size : 500;
	inf->backoff_min_ms = opts->backoff_min_ms > 0 ? opts->backoff_min_ms : 800;
	inf->backoff_max_ms = opts->backoff_max_ms > 0 ? opts->backoff_max_ms : 30000;
	if (inf->backoff_max_ms < inf->backoff_min_ms)
		inf->backoff_max_ms = inf->backoff_min_ms;
	pthread_rwlock_init(&inf->lock, NULL);
	pthread_mutex_init(&inf->deliver_mu, NULL);
	pthread_mutex_init(&inf->state_mu, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&inf->state_cv, &ca);
	pthread_condattr_destroy(&ca);
	atomic_init(&inf->stop, 0);
	if (rc == 0 && !opts->no_default_indexes)
		rc = kc_informer_add_index(inf, KC_INDEX_NAMESPACE, index_namespace, NULL);
	if (rc == 0 && !opts->no_default_indexes)
		rc = kc_informer_add_index(inf, KC_INDEX_NODENAME, index_nodename, NULL);
	if (rc == 0 && !opts->no_default_indexes)
		rc = kc_informer_add_index(inf, KC_INDEX_LABEL, index_label, NULL);
	if (rc < 0) {
		kc_informer_free(inf);
		return rc;
	}
	*out = inf;
	return 0;
}

int kc_informer_add_handlers(kc_informer *inf, const kc_informer_handlers *h)
{
	if (!h)
		return -EINVAL;
	if (inf->started)
		return -EBUSY;
	if (inf->nhandlers == MAX_HANDLERS)
		return -ENOSPC;
	inf->handlers[inf->nhandlers++] = *h;
	return 0;
}

int kc_informer_add_index(kc_informer *inf, const char *name, kc_index_fn fn, void *arg)
{
	if (!name || !*name || !fn)
		return -EINVAL;
	if (inf->started)
		return -EBUSY;
	for (int i = 0; i < inf->nindexes; i++)
		if (strcmp(inf->indexes[i].name, name) == 0)
			return -EEXIST;
	if (inf->nindexes == MAX_INDEXES)
		return -ENOSPC;
	struct index *ix = &inf->indexes[inf->nindexes];
	memset(ix, 0, sizeof(*ix));
	if (!(ix->name = strdup(name)))
		return -ENOMEM;
	ix->fn = fn;
	ix->arg = arg;
	inf->nindexes++;
	return 0;
}

/* ---- handler distribution (deliver_mu held) ---- */

static void notify_add(kc_informer *inf, const cJSON *obj)
{
	for (int i = 0; i < inf->nhandlers; i++)
		if (inf->handlers[i].on_add)
			inf->handlers[i].on_add(obj, inf->handlers[i].arg);
}

static void notify_update(kc_informer *inf, const cJSON *old, const cJSON *obj)
{
	for (int i = 0; i < inf->nhandlers; i++)
		if (inf->handlers[i].on_update)
			inf->handlers[i].on_update(old, obj, inf->handlers[i].arg);
}

static void notify_delete(kc_informer *inf, const cJSON *obj, int unknown)
{
	for (int i = 0; i < inf->nhandlers; i++)
		if (inf->handlers[i].on_delete)
			inf->handlers[i].on_delete(obj, unknown, inf->handlers[i].arg);
}

static void set_rv(kc_informer *inf, const char *rv)
{
	if (!rv || !*rv)
		return;
	pthread_mutex_lock(&inf->state_mu);
	snprintf(inf->last_rv, sizeof(inf->last_rv), "%s", rv);
	pthread_mutex_unlock(&inf->state_mu);
}

/* ---- waiting ---- */

/* Sleep ms or until stop; returns non-zero if stopping. */
static int wait_stop(kc_informer *inf, int64_t ms)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (ms % 1000) * 1000000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&inf->state_mu);
	while (!atomic_load(&inf->stop))
		if (pthread_cond_timedwait(&inf->state_cv, &inf->state_mu, &ts) != 0)
			break;
	pthread_mutex_unlock(&inf->state_mu);
	return atomic_load(&inf->stop);
}

/* ---- list ---- */

static int append_query(char *q, size_t len, const char *key, const char *val)
{
	if (!val || !*val)
		return 0;
	char *e = kc_client_query_escape(val);
	if (!e)
		return -ENOMEM;
	size_t l = strlen(q);
	int n = snprintf(q + l, len - l, "%s%s=%s", l ? "&" : "", key, e);
	free(e);
	return (n < 0 || (size_t)n >= len - l) ? -ENAMETOOLONG : 0;
}

/* List everything into a new array (*items) and the list's resourceVersion. */
static int list_all(kc_informer *inf, cJSON **items, char *rv, size_t rvlen)
{
	char cont[4096] = "";
	int paginate = inf->page_size > 0;
	cJSON *all = cJSON_CreateArray();
	if (!all)
		return -ENOMEM;
	for (;;) {
		char q[8192] = "", path[10240], lim[32];
		snprintf(lim, sizeof(lim), "%d", inf->page_size);
		int rc = append_query(q, sizeof(q), "labelSelector", inf->label_selector);
		if (rc == 0)
			rc = append_query(q, sizeof(q), "fieldSelector", inf->field_selector);
		if (rc == 0 && paginate)
			rc = append_query(q, sizeof(q), "limit", lim);
		if (rc == 0 && paginate)
			rc = append_query(q, sizeof(q), "continue", cont);
		if (rc == 0 && snprintf(path, sizeof(path), "%s%s%s", inf->path, *q ? "?" : "", q) >=
				       (int)sizeof(path))
			rc = -ENAMETOOLONG;
		cJSON *resp = NULL;
		kc_status st;
		kc_status_clear(&st);
		if (rc == 0)
			rc = kc_client_request_cancel(inf->client, "GET", path, NULL, NULL, &resp,
						      &st, &inf->stop);
		if (rc == KC_EGONE && cont[0]) {
			/* The continue token expired mid-list: start over with one full list,
			 * as the reflector's pager does. */
			kc_info("informer %s: continue token expired, relisting without paging",
				inf->name);
			cJSON_Delete(all);
			all = cJSON_CreateArray();
			if (!all)
				return -ENOMEM;
			cont[0] = '\0';
			paginate = 0;
			continue;
		}
		if (rc < 0) {
			if (rc != -ECANCELED)
				kc_warn("informer %s: list %s: %s%s%s", inf->name, inf->path,
					kc_strerror(rc), st.message[0] ? ": " : "", st.message);
			cJSON_Delete(all);
			return rc;
		}
		cJSON *list_items = cJSON_DetachItemFromObjectCaseSensitive(resp, "items");
		const char *lrv = str_at(resp, "metadata", "resourceVersion");
		const char *next = str_at(resp, "metadata", "continue");
		if (!cJSON_IsObject(resp) || (list_items && !cJSON_IsArray(list_items) &&
					      !cJSON_IsNull(list_items))) {
			kc_warn("informer %s: list %s: answer is not a list", inf->name, inf->path);
			cJSON_Delete(list_items);
			cJSON_Delete(resp);
			cJSON_Delete(all);
			return KC_EPARSE;
		}
		snprintf(rv, rvlen, "%s", lrv ? lrv : "");
		snprintf(cont, sizeof(cont), "%s", paginate && next ? next : "");
		cJSON *it;
		while (cJSON_IsArray(list_items) && (it = cJSON_DetachItemViaPointer(
							     list_items, list_items->child))) {
			/* Transform page by page, so a large first list never holds every
			 * object untrimmed at once. */
			if (inf->transform)
				inf->transform(it, inf->transform_arg);
			cJSON_AddItemToArray(all, it);
		}
		cJSON_Delete(list_items);
		cJSON_Delete(resp);
		if (!cont[0])
			break;
	}
	*items = all;
	return 0;
}

/* Replace the cache with items (taken) and deliver the diff. */
static void replace(kc_informer *inf, cJSON *items, const char *rv)
{
	struct hmap old;
	pthread_mutex_lock(&inf->deliver_mu);
	pthread_rwlock_wrlock(&inf->lock);
	old = inf->cache;
	memset(&inf->cache, 0, sizeof(inf->cache));
	for (int i = 0; i < inf->nindexes; i++)
		hmap_clear(&inf->indexes[i].values, bucket_free);
	/* Old items keep their index keys; they are freed below without unindexing. */
	cJSON *it;
	while ((it = cJSON_DetachItemViaPointer(items, items->child))) {
		char key[1024];
		if (kc_informer_key(it, key, sizeof(key)) < 0 || hmap_get(&inf->cache, key)) {
			kc_warn("informer %s: list item without a usable or unique name, skipped",
				inf->name);
			cJSON_Delete(it);
			continue;
		}
		cJSON *prev;
		const cJSON *stored;
		cache_put(inf, key, it, &prev, &stored); /* transformed by list_all */
	}
	pthread_rwlock_unlock(&inf->lock);
	cJSON_Delete(items);
	set_rv(inf, rv);

	HMAP_FOREACH(&inf->cache, e)
	{
		struct item *ni = e->val;
		struct item *oi = hmap_get(&old, e->key);
		if (oi)
			notify_update(inf, oi->obj, ni->obj);
		else
			notify_add(inf, ni->obj);
	}
	HMAP_FOREACH(&old, e)
	{
		if (!hmap_get(&inf->cache, e->key)) {
			struct item *oi = e->val;
			kc_log_v(4, "informer %s: %s deleted while not watching", inf->name, e->key);
			notify_delete(inf, oi->obj, 1);
		}
	}
	hmap_clear(&old, item_free);
	pthread_mutex_lock(&inf->state_mu);
	if (!inf->synced) {
		inf->synced = 1;
		pthread_cond_broadcast(&inf->state_cv);
	}
	pthread_mutex_unlock(&inf->state_mu);
	pthread_mutex_unlock(&inf->deliver_mu);
}

/* ---- watch ---- */

static int on_event(kc_watch_event *ev, void *arg)
{
	kc_informer *inf = arg;
	if (ev->type == KC_WATCH_ERROR) {
		const cJSON *m = cJSON_GetObjectItemCaseSensitive(ev->object, "message");
		kc_log_v(2, "informer %s: watch error: %s: %s", inf->name, kc_strerror(ev->err),
			 cJSON_IsString(m) ? m->valuestring : "");
		return ev->err;
	}
	inf->watch_events++;
	/* Transform first: everything below reads the object as it will be cached. */
	if (inf->transform && ev->type != KC_WATCH_BOOKMARK)
		inf->transform(ev->object, inf->transform_arg);
	const char *rv = str_at(ev->object, "metadata", "resourceVersion");
	if (ev->type == KC_WATCH_BOOKMARK) {
		set_rv(inf, rv);
		return 0;
	}
	char key[1024];
	if (kc_informer_key(ev->object, key, sizeof(key)) < 0) {
		kc_warn("informer %s: %s event for an object without a usable name, ignored",
			inf->name, kc_watch_type_name(ev->type));
		return 0;
	}
	pthread_mutex_lock(&inf->deliver_mu);
	if (ev->type == KC_WATCH_DELETED) {
		pthread_rwlock_wrlock(&inf->lock);
		cJSON *old = cache_del(inf, key);
		pthread_rwlock_unlock(&inf->lock);
		set_rv(inf, rv);
		notify_delete(inf, ev->object, 0);
		cJSON_Delete(old);
	} else {
		cJSON *obj = ev->object, *old;
		const cJSON *stored;
		ev->object = NULL;
		pthread_rwlock_wrlock(&inf->lock);
		int rc = cache_put(inf, key, obj, &old, &stored);
		pthread_rwlock_unlock(&inf->lock);
		set_rv(inf, rv);
		if (rc == 0) {
			if (old)
				notify_update(inf, old, stored);
			else
				notify_add(inf, stored);
		}
		cJSON_Delete(old);
	}
	pthread_mutex_unlock(&inf->deliver_mu);
	return 0;
}

static int watch_once(kc_informer *inf)
{
	char q[8192] = "", rv[RV_LEN], tmo[16];
	pthread_mutex_lock(&inf->state_mu);
	snprintf(rv, sizeof(rv), "%s", inf->last_rv);
	pthread_mutex_unlock(&inf->state_mu);
	/* The reflector asks for a server-side timeout in [5, 10) minutes so that watches
	 * are spread and periodically re-established. */
	snprintf(tmo, sizeof(tmo), "%d", 300 + (int)(kc_rand64(kc_clock_real()) % 300));
	int rc = append_query(q, sizeof(q), "resourceVersion", rv);
	if (rc == 0)
		rc = append_query(q, sizeof(q), "allowWatchBookmarks", "true");
	if (rc == 0)
		rc = append_query(q, sizeof(q), "timeoutSeconds", tmo);
	if (rc == 0)
		rc = append_query(q, sizeof(q), "labelSelector", inf->label_selector);
	if (rc == 0)
		rc = append_query(q, sizeof(q), "fieldSelector", inf->field_selector);
	if (rc < 0)
		return rc;
	inf->watch_events = 0;
	kc_status st;
	kc_log_v(4, "informer %s: watching from resourceVersion %s", inf->name, rv);
	rc = kc_client_watch(inf->client, inf->path, q, on_event, inf, &inf->stop, &st);
	if (rc < 0 && rc != -ECANCELED && rc != KC_EGONE)
		kc_warn("informer %s: watch %s: %s%s%s", inf->name, inf->path, kc_strerror(rc),
			st.message[0] ? ": " : "", st.message);
	return rc;
}

static int64_t next_backoff(kc_informer *inf, int64_t cur)
{
	if (cur <= 0)
		return inf->backoff_min_ms;
	cur *= 2;
	return cur > inf->backoff_max_ms ? inf->backoff_max_ms : cur;
}

static void *run(void *arg)
{
	kc_informer *inf = arg;
	int64_t backoff = 0;
	while (!atomic_load(&inf->stop)) {
		cJSON *items = NULL;
		char rv[RV_LEN];
		int rc = list_all(inf, &items, rv, sizeof(rv));
		if (atomic_load(&inf->stop)) {
			cJSON_Delete(items);
			break;
		}
		if (rc < 0) {
			backoff = next_backoff(inf, backoff);
			if (wait_stop(inf, backoff))
				break;
			continue;
		}
		replace(inf, items, rv);
		/* Watch, re-watching from the last resourceVersion while streams end normally
		 * or drop at the transport level; relist on anything else. */
		for (;;) {
			rc = watch_once(inf);
			if (atomic_load(&inf->stop) || rc == -ECANCELED)
				goto out;
			if (inf->watch_events > 0)
				backoff = 0;
			if (rc == KC_EGONE) {
				kc_info("informer %s: resourceVersion expired, relisting", inf->name);
				break;
			}
			int transport = rc == 0 || rc == -ECONNRESET || rc == -ECONNREFUSED ||
					rc == KC_ETIMEOUT;
			if (rc != 0 || inf->watch_events == 0) {
				backoff = next_backoff(inf, backoff);
				if (wait_stop(inf, backoff))
					goto out;
			}
			if (!transport)
				break;
		}
	}
out:
	return NULL;
}

static void *resync_run(void *arg)
{
	kc_informer *inf = arg;
	while (!wait_stop(inf, inf->resync_ms)) {
		pthread_mutex_lock(&inf->deliver_mu);
		if (!atomic_load(&inf->stop)) {
			HMAP_FOREACH(&inf->cache, e)
			{
				struct item *it = e->val;
				notify_update(inf, it->obj, it->obj);
			}
		}
		pthread_mutex_unlock(&inf->deliver_mu);
	}
	return NULL;
}

int kc_informer_start(kc_informer *inf)
{
	if (inf->started || inf->stopped)
		return -EBUSY;
	atomic_store(&inf->stop, 0);
	pthread_mutex_lock(&inf->state_mu);
	inf->started = 1;
	pthread_mutex_unlock(&inf->state_mu);
	int rc = pthread_create(&inf->thread, NULL, run, inf);
	if (rc != 0) {
		pthread_mutex_lock(&inf->state_mu);
		inf->started = 0;
		pthread_mutex_unlock(&inf->state_mu);
		return -rc;
	}
	if (inf->resync_ms > 0 && inf->nhandlers > 0) {
		rc = pthread_create(&inf->resync_thread, NULL, resync_run, inf);
		if (rc != 0) {
			kc_informer_stop(inf);
			return -rc;
		}
		inf->has_resync_thread = 1;
	}
	return 0;
}

void kc_informer_stop(kc_informer *inf)
{
	if (!inf || !inf->started)
		return;
	pthread_mutex_lock(&inf->state_mu);
	atomic_store(&inf->stop, 1);
	pthread_cond_broadcast(&inf->state_cv);
	pthread_mutex_unlock(&inf->state_mu);
	pthread_join(inf->thread, NULL);
	if (inf->has_resync_thread)
		pthread_join(inf->resync_thread, NULL);
	inf->has_resync_thread = 0;
	pthread_mutex_lock(&inf->state_mu);
	inf->started = 0;
	inf->stopped = 1;
	pthread_mutex_unlock(&inf->state_mu);
}

void kc_informer_free(kc_informer *inf)
{
	if (!inf)
		return;
	kc_informer_stop(inf);
	hmap_clear(&inf->cache, item_free);
	for (int i = 0; i < inf->nindexes; i++) {
		hmap_clear(&inf->indexes[i].values, bucket_free);
		free(inf->indexes[i].name);
	}
	pthread_rwlock_destroy(&inf->lock);
	pthread_mutex_destroy(&inf->deliver_mu);
	pthread_mutex_destroy(&inf->state_mu);
	pthread_cond_destroy(&inf->state_cv);
	free(inf->path);
	free(inf->label_selector);
	free(inf->field_selector);
	free(inf->name);
	free(inf);
}

int kc_informer_has_synced(kc_informer *inf)
{
	pthread_mutex_lock(&inf->state_mu);
	int s = inf->synced;
	pthread_mutex_unlock(&inf->state_mu);
	return s;
}

int kc_informer_wait_for_sync(kc_informer *inf, int64_t timeout_ms)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += timeout_ms / 1000;
	ts.tv_nsec += (timeout_ms % 1000) * 1000000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	int rc = 0;
	pthread_mutex_lock(&inf->state_mu);
	while (!inf->synced) {
		if (atomic_load(&inf->stop) || !inf->started || inf->stopped) {
			rc = KC_ECLOSED;
			break;
		}
		if (pthread_cond_timedwait(&inf->state_cv, &inf->state_mu, &ts) != 0) {
			rc = inf->synced ? 0 : -ETIMEDOUT;
			break;
		}
	}
	pthread_mutex_unlock(&inf->state_mu);
	return rc;
}

void kc_informer_last_rv(kc_informer *inf, char *buf, size_t len)
{
	pthread_mutex_lock(&inf->state_mu);
	snprintf(buf, len, "%s", inf->last_rv);
	pthread_mutex_unlock(&inf->state_mu);
}

/* ---- reads ---- */

int kc_informer_get(kc_informer *inf, const char *key, cJSON **out)
{
	*out = NULL;
	if (!key)
		return -EINVAL;
	int rc = 0;
	pthread_rwlock_rdlock(&inf->lock);
	struct item *it = hmap_get(&inf->cache, key);
	if (!it)
		rc = KC_ENOTFOUND;
	else if (!(*out = cJSON_Duplicate(it->obj, 1)))
		rc = -ENOMEM;
	pthread_rwlock_unlock(&inf->lock);
	return rc;
}

static int add_copy(const cJSON *obj, void *arg)
{
	cJSON *d = cJSON_Duplicate(obj, 1);
	if (!d)
		return -ENOMEM;
	cJSON_AddItemToArray(arg, d);
	return 0;
}

int kc_informer_list(kc_informer *inf, cJSON **out)
{
	return kc_informer_by_index(inf, NULL, NULL, out);
}

int kc_informer_by_index(kc_informer *inf, const char *index, const char *value, cJSON **out)
{
	*out = cJSON_CreateArray();
	if (!*out)
		return -ENOMEM;
	int rc = kc_informer_foreach(inf, index, value, add_copy, *out);
	if (rc != 0) {
		cJSON_Delete(*out);
		*out = NULL;
	}
	return rc;
}

int kc_informer_count(kc_informer *inf)
{
	pthread_rwlock_rdlock(&inf->lock);
	int n = (int)inf->cache.n;
	pthread_rwlock_unlock(&inf->lock);
	return n;
}

int kc_informer_foreach(kc_informer *inf, const char *index, const char *value,
			int (*fn)(const cJSON *obj, void *arg), void *arg)
{
	int rc = 0;
	pthread_rwlock_rdlock(&inf->lock);
	if (!index) {
		HMAP_FOREACH(&inf->cache, e)
		{
			struct item *it = e->val;
			if ((rc = fn(it->obj, arg)) != 0)
				goto out;
		}
		goto out;
	}
	struct index *ix = NULL;
	for (int i = 0; i < inf->nindexes; i++)
		if (strcmp(inf->indexes[i].name, index) == 0)
			ix = &inf->indexes[i];
	if (!ix) {
		rc = -ENOENT;
		goto out;
	}
	struct bucket *b = value ? hmap_get(&ix->values, value) : NULL;
	for (size_t i = 0; b && i < b->n; i++)
		if ((rc = fn(b->items[i]->obj, arg)) != 0)
			break;
out:
	pthread_rwlock_unlock(&inf->lock);
	return rc;
}
