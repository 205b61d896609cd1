/* Event recorder; see events.h. Upstream: client-go tools/record/event.go (makeEvent,
 * recordToSink, recordEvent) and tools/record/events_cache.go (EventCorrelator). */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "client.h"
#include "errors.h"
#include "events.h"
#include "log.h"
#include "workqueue.h"

/* ---- a bounded LRU cache (groupcache/lru as upstream), string keys ---- */

struct lru_ent {
	char *key;
	void *val;
	struct lru_ent *prev, *next; /* recency list, head = most recent */
	struct lru_ent *hnext;
};

struct lru {
	struct lru_ent **b;
	size_t nb, n, cap;
	struct lru_ent *head, *tail;
	void (*free_val)(void *);
};

static uint64_t str_hash(const char *s)
{
	uint64_t h = 1469598103934665603ull;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h;
}

static int lru_init(struct lru *l, size_t cap, void (*free_val)(void *))
{
	memset(l, 0, sizeof(*l));
	l->nb = 1;
	while (l->nb < cap)
		l->nb <<= 1;
	l->b = calloc(l->nb, sizeof(*l->b));
	l->cap = cap;
	l->free_val = free_val;
	return l->b ? 0 : -ENOMEM;
}

static void lru_unlink(struct lru *l, struct lru_ent *e)
{
	if (e->prev)
		e->prev->next = e->next;
	else
		l->head = e->next;
	if (e->next)
		e->next->prev = e->prev;
	else
		l->tail = e->prev;
	e->prev = e->next = NULL;
}

static void lru_push_front(struct lru *l, struct lru_ent *e)
{
	e->next = l->head;
	e->prev = NULL;
	if (l->head)
		l->head->prev = e;
	l->head = e;
	if (!l->tail)
		l->tail = e;
}

static void lru_remove(struct lru *l, struct lru_ent *e)
{
	struct lru_ent **pp = &l->b[str_hash(e->key) & (l->nb - 1)];
	while (*pp != e)
		pp = &(*pp)->hnext;
	*pp = e->hnext;
	lru_unlink(l, e);
	if (l->free_val)
		l->free_val(e->val);
	free(e->key);
	free(e);
	l->n--;
}

/* Look up key, marking it most recently used. */
static void *lru_get(struct lru *l, const char *key)
{
	for (struct lru_ent *e = l->b[str_hash(key) & (l->nb - 1)]; e; e = e->hnext) {
		if (!strcmp(e->key, key)) {
			lru_unlink(l, e);
			lru_push_front(l, e);
			return e->val;
		}
	}
	return NULL;
}

/* Store val (taken on success) under key, replacing (and freeing) an older value,
 * evicting the least recently used entry when full. */
static int lru_put(struct lru *l, const char *key, void *val)
{
	size_t h = str_hash(key) & (l->nb - 1);
	for (struct lru_ent *e = l->b[h]; e; e = e->hnext) {
		if (!strcmp(e->key, key)) {
			if (e->val != val && l->free_val)
				l->free_val(e->val);
			e->val = val;
			lru_unlink(l, e);
			lru_push_front(l, e);
			return 0;
		}
	}
	struct lru_ent *e = calloc(1, sizeof(*e));
	if (!e || !(e->key = strdup(key))) {
		free(e);
		return -ENOMEM;
	}
	e->val = val;
	e->hnext = l->b[h];
	l->b[h] = e;
	lru_push_front(l, e);
	l->n++;
	if (l->n > l->cap)
		lru_remove(l, l->tail);
	return 0;
}

static void lru_close(struct lru *l)
{
	while (l->head)
		lru_remove(l, l->head);
	free(l->b);
	memset(l, 0, sizeof(*l));
}

/* ---- small JSON helpers ---- */

static const char *jstr(const cJSON *o, const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
	return cJSON_IsString(v) ? v->valuestring : "";
}

static const char *jpath2(const cJSON *o, const char *a, const char *b)
{
	return jstr(cJSON_GetObjectItemCaseSensitive(o, a), b);
}

static int set_str(cJSON *o, const char *name, const char *v)
{
	cJSON *s = cJSON_CreateString(v);
	if (!s)
		return -ENOMEM;
	if (cJSON_GetObjectItemCaseSensitive(o, name))
		cJSON_ReplaceItemInObjectCaseSensitive(o, name, s);
	else
		cJSON_AddItemToObject(o, name, s);
	return 0;
}

static int set_num(cJSON *o, const char *name, double v)
{
	cJSON *s = cJSON_CreateNumber(v);
	if (!s)
		return -ENOMEM;
	if (cJSON_GetObjectItemCaseSensitive(o, name))
		cJSON_ReplaceItemInObjectCaseSensitive(o, name, s);
	else
		cJSON_AddItemToObject(o, name, s);
	return 0;
}

/* Join parts with a unit separator (upstream joins with "", which can collide). */
static char *join_key(const char **parts, int n)
{
	size_t len = 1;
	for (int i = 0; i < n; i++)
		len += strlen(parts[i]) + 1;
	char *k = malloc(len), *p = k;
	if (!k)
		return NULL;
	for (int i = 0; i < n; i++) {
		size_t l = strlen(parts[i]);
		memcpy(p, parts[i], l);
		p += l;
		*p++ = '\x1f';
	}
	*p = 0;
	return k;
}

/* ---- building events ---- */

int kc_event_format_time(int64_t wall_ns, char *buf, size_t len)
{
	if (!buf || len < 21)
		return -EINVAL;
	time_t secs = (time_t)(wall_ns / KC_NSEC_PER_SEC);
	if (wall_ns < 0 && wall_ns % KC_NSEC_PER_SEC)
		secs--;
	struct tm tm;
	if (!gmtime_r(&secs, &tm))
		return -EINVAL;
	if (strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		return -ENAMETOOLONG;
	return 0;
}

static int add_nonempty(cJSON *o, const char *name, const char *v)
{
	if (!v || !*v)
		return 0;
	return cJSON_AddStringToObject(o, name, v) ? 0 : -ENOMEM;
}

/* ref.GetReference: an ObjectReference for obj, or NULL (-EINVAL / -ENOMEM). */
static cJSON *make_ref(const cJSON *obj, int *err)
{
	const char *kind, *ns, *name, *uid, *apiv, *rv, *fp = "";
	const cJSON *meta = cJSON_GetObjectItemCaseSensitive(obj, "metadata");
	kind = jstr(obj, "kind");
	apiv = jstr(obj, "apiVersion");
	if (cJSON_IsObject(meta)) {
		ns = jstr(meta, "namespace");
		name = jstr(meta, "name");
		uid = jstr(meta, "uid");
		rv = jstr(meta, "resourceVersion");
	} else {
		ns = jstr(obj, "namespace");
		name = jstr(obj, "name");
		uid = jstr(obj, "uid");
		rv = jstr(obj, "resourceVersion");
		fp = jstr(obj, "fieldPath");
	}
	if (!*kind || !*name) {
		*err = -EINVAL;
		return NULL;
	}
	cJSON *r = cJSON_CreateObject();
	if (!r || add_nonempty(r, "kind", kind) || add_nonempty(r, "namespace", ns) ||
	    add_nonempty(r, "name", name) || add_nonempty(r, "uid", uid) ||
	    add_nonempty(r, "apiVersion", apiv) || add_nonempty(r, "resourceVersion", rv) ||
	    add_nonempty(r, "fieldPath", fp)) {
		cJSON_Delete(r);
		*err = -ENOMEM;
		return NULL;
	}
	return r;
}

cJSON *kc_event_object_ref(const cJSON *obj, const char *api_version, const char *kind,
			   const char *field_path)
{
	int err;
	if (!cJSON_IsObject(obj))
		return NULL;
	cJSON *tmp = cJSON_Duplicate(obj, 1);
	if (!tmp)
		return NULL;
	if ((!*jstr(tmp, "kind") && kind && set_str(tmp, "kind", kind) < 0) ||
	    (!*jstr(tmp, "apiVersion") && api_version && set_str(tmp, "apiVersion", api_version) < 0)) {
		cJSON_Delete(tmp);
		return NULL;
	}
	cJSON *ref = make_ref(tmp, &err);
	cJSON_Delete(tmp);
	if (ref && field_path && *field_path) {
		cJSON_DeleteItemFromObjectCaseSensitive(ref, "fieldPath");
		if (!cJSON_AddStringToObject(ref, "fieldPath", field_path)) {
			cJSON_Delete(ref);
			return NULL;
		}
	}
	return ref;
}

/* The common part of makeEvent and the aggregator's copy. */
static cJSON *event_skeleton(const char *name, const char *ns, const cJSON *ref,
			     const char *type, const char *reason, const char *message,
			     const cJSON *source, int64_t wall_ns)
{
	char nm[512], ts[40];
	snprintf(nm, sizeof(nm), "%s.%" PRIx64, name, (uint64_t)wall_ns);
	if (kc_event_format_time(wall_ns, ts, sizeof(ts)) < 0)
		return NULL;
	cJSON *e = cJSON_CreateObject(), *meta, *r, *src;
	if (!e)
		return NULL;
	if (!cJSON_AddStringToObject(e, "apiVersion", "v1") ||
	    !cJSON_AddStringToObject(e, "kind", "Event") ||
	    !(meta = cJSON_AddObjectToObject(e, "metadata")) ||
	    !cJSON_AddStringToObject(meta, "name", nm) ||
	    !cJSON_AddStringToObject(meta, "namespace", ns) ||
	    !(r = cJSON_Duplicate(ref, 1))) {
		cJSON_Delete(e);
		return NULL;
	}
	cJSON_AddItemToObject(e, "involvedObject", r);
	if (!cJSON_AddStringToObject(e, "reason", reason) ||
	    !cJSON_AddStringToObject(e, "message", message) ||
	    !(src = cJSON_Duplicate(source, 1))) {
		cJSON_Delete(e);
		return NULL;
	}
	cJSON_AddItemToObject(e, "source", src);
	if (!cJSON_AddStringToObject(e, "firstTimestamp", ts) ||
	    !cJSON_AddStringToObject(e, "lastTimestamp", ts) ||
	    !cJSON_AddNumberToObject(e, "count", 1) ||
	    !cJSON_AddStringToObject(e, "type", type)) {
		cJSON_Delete(e);
		return NULL;
	}
	return e;
}

cJSON *kc_event_new(const char *component, const char *host, const cJSON *obj,
		    const char *type, const char *reason, const char *message, int64_t wall_ns,
		    int *err)
{
	int dummy;
	if (!err)
		err = &dummy;
	*err = -EINVAL;
	if (!component || !*component || !obj || !type || !reason || !message)
		return NULL;
	/* util.ValidateEventType */
	if (strcmp(type, "Normal") && strcmp(type, "Warning")) {
		kc_error("Unsupported event type: '%s'", type);
		return NULL;
	}
	cJSON *ref = make_ref(obj, err);
	if (!ref) {
		if (*err == -EINVAL)
			kc_error("Could not construct reference to object without kind and name. "
				 "Will not report event: '%s' '%s' '%s'", type, reason, message);
		return NULL;
	}
	*err = -ENOMEM;
	cJSON *src = cJSON_CreateObject(), *e = NULL;
	if (src && !add_nonempty(src, "component", component) && !add_nonempty(src, "host", host)) {
		const char *ns = jstr(ref, "namespace");
		e = event_skeleton(jstr(ref, "name"), *ns ? ns : "default", ref, type, reason,
				   message, src, wall_ns);
		if (e && (!cJSON_AddStringToObject(e, "reportingComponent", component) ||
			  !cJSON_AddStringToObject(e, "reportingInstance", host ? host : ""))) {
			cJSON_Delete(e);
			e = NULL;
		}
	}
	cJSON_Delete(src);
	cJSON_Delete(ref);
	if (e)
		*err = 0;
	return e;
}

/* ---- the correlator ---- */

struct spam_rec {
	double tokens;
	int64_t last; /* mono */
};

struct agg_rec {
	char *keys[KC_EVENTS_AGGREGATE_MAX]; /* distinct messages, oldest first */
	int n;
	int64_t last; /* wall */
};

struct ev_log {
	int count;
	char *first_ts, *name, *rv;
};

struct kc_event_correlator {
	pthread_mutex_t mu;
	kc_clock_t *clock;
	struct lru spam, agg, log;
};

static void agg_free(void *p)
{
	struct agg_rec *a = p;
	for (int i = 0; a && i < a->n; i++)
		free(a->keys[i]);
	free(a);
}

static void log_free(void *p)
{
	struct ev_log *l = p;
	if (!l)
		return;
	free(l->first_ts);
	free(l->name);
	free(l->rv);
	free(l);
}

int kc_event_correlator_new(kc_clock_t *clock, kc_event_correlator **out)
{
	if (!out)
		return -EINVAL;
	kc_event_correlator *c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	pthread_mutex_init(&c->mu, NULL);
	c->clock = clock ? clock : kc_clock_real();
	if (lru_init(&c->spam, KC_EVENTS_LRU_SIZE, free) < 0 ||
	    lru_init(&c->agg, KC_EVENTS_LRU_SIZE, agg_free) < 0 ||
	    lru_init(&c->log, KC_EVENTS_LRU_SIZE, log_free) < 0) {
		kc_event_correlator_free(c);
		return -ENOMEM;
	}
	*out = c;
	return 0;
}

void kc_event_correlator_free(kc_event_correlator *c)
{
	if (!c)
		return;
	lru_close(&c->spam);
	lru_close(&c->agg);
	lru_close(&c->log);
	pthread_mutex_destroy(&c->mu);
	free(c);
}

/* getEventKey */
static char *event_key(const cJSON *e)
{
	const cJSON *io = cJSON_GetObjectItemCaseSensitive(e, "involvedObject");
	const char *p[] = { jpath2(e, "source", "component"), jpath2(e, "source", "host"),
			    jstr(io, "kind"), jstr(io, "namespace"), jstr(io, "name"),
			    jstr(io, "fieldPath"), jstr(io, "uid"), jstr(io, "apiVersion"),
			    jstr(e, "type"), jstr(e, "reason"), jstr(e, "message") };
	return join_key(p, 11);
}

/* getSpamKey */
static char *spam_key(const cJSON *e)
{
	const cJSON *io = cJSON_GetObjectItemCaseSensitive(e, "involvedObject");
	const char *p[] = { jpath2(e, "source", "component"), jpath2(e, "source", "host"),
			    jstr(io, "kind"), jstr(io, "namespace"), jstr(io, "name"),
			    jstr(io, "uid"), jstr(io, "apiVersion") };
	return join_key(p, 7);
}

/* EventAggregatorByReasonFunc's aggregateKey (the local key is the message) */
static char *aggregate_key(const cJSON *e)
{
	const cJSON *io = cJSON_GetObjectItemCaseSensitive(e, "involvedObject");
	const char *p[] = { jpath2(e, "source", "component"), jpath2(e, "source", "host"),
			    jstr(io, "kind"), jstr(io, "namespace"), jstr(io, "name"),
			    jstr(io, "uid"), jstr(io, "apiVersion"), jstr(e, "type"),
			    jstr(e, "reason"), jstr(e, "reportingComponent"),
			    jstr(e, "reportingInstance") };
	return join_key(p, 11);
}

/* EventAggregate: returns the event to use (event itself or a new aggregate, in which
 * case event is freed) and its cache key (malloc'd). mu held. */
static int aggregate(kc_event_correlator *c, cJSON **event, char **key)
{
	cJSON *e = *event;
	int64_t now = kc_now_wall(c->clock);
	char *akey = aggregate_key(e), *ekey = event_key(e);
	const char *msg = jstr(e, "message");
	if (!akey || !ekey)
		goto nomem;
	struct agg_rec *rec = lru_get(&c->agg, akey);
	if (!rec || now - rec->last > KC_EVENTS_AGGREGATE_INTERVAL_NS) {
		struct agg_rec *fresh = calloc(1, sizeof(*fresh));
		if (!fresh || lru_put(&c->agg, akey, fresh) < 0) {
			free(fresh);
			goto nomem;
		}
		rec = fresh;
	}
	bool have = false;
	for (int i = 0; i < rec->n && !have; i++)
		have = !strcmp(rec->keys[i], msg);
	if (!have) {
		if (rec->n == KC_EVENTS_AGGREGATE_MAX) { /* cannot happen: popped below */
			free(rec->keys[0]);
			memmove(rec->keys, rec->keys + 1, (size_t)(--rec->n) * sizeof(char *));
		}
		if (!(rec->keys[rec->n] = strdup(msg)))
			goto nomem;
		rec->n++;
	}
	rec->last = now;
	if (rec->n < KC_EVENTS_AGGREGATE_MAX) {
		free(akey);
		*key = ekey;
		return 0;
	}
	/* do not grow the set any larger: drop one (upstream PopAny; we drop the oldest) */
	free(rec->keys[0]);
	memmove(rec->keys, rec->keys + 1, (size_t)(--rec->n) * sizeof(char *));

	size_t ml = strlen(KC_EVENTS_AGGREGATE_PREFIX) + strlen(msg) + 1;
	char *amsg = malloc(ml);
	if (!amsg)
		goto nomem;
	snprintf(amsg, ml, "%s%s", KC_EVENTS_AGGREGATE_PREFIX, msg);
	const cJSON *io = cJSON_GetObjectItemCaseSensitive(e, "involvedObject");
	cJSON *agg = event_skeleton(jstr(io, "name"), jpath2(e, "metadata", "namespace"), io,
				    jstr(e, "type"), jstr(e, "reason"), amsg,
				    cJSON_GetObjectItemCaseSensitive(e, "source"), now);
	free(amsg);
	if (!agg)
		goto nomem;
	cJSON_Delete(e);
	*event = agg;
	free(ekey);
	*key = akey;
	return 0;
nomem:
	free(akey);
	free(ekey);
	return -ENOMEM;
}

/* eventObserve: if key was seen, turn event into an update of the earlier Event and
 * build the patch {count, lastTimestamp, message}. mu held. */
static int observe(kc_event_correlator *c, cJSON *e, const char *key, cJSON **patch)
{
	struct ev_log *last = lru_get(&c->log, key);
	*patch = NULL;
	if (last && last->count > 0) {
		cJSON *meta = cJSON_GetObjectItemCaseSensitive(e, "metadata");
		if (set_str(meta, "name", last->name) < 0 ||
		    set_str(e, "firstTimestamp", last->first_ts) < 0 ||
		    set_num(e, "count", last->count + 1) < 0)
			return -ENOMEM;
		if (last->rv && *last->rv && set_str(meta, "resourceVersion", last->rv) < 0)
			return -ENOMEM;
		/* CreateTwoWayMergePatch against a copy with count 0, lastTimestamp at the
		 * epoch and no message: exactly these three fields differ */
		cJSON *p = cJSON_CreateObject();
		if (!p || !cJSON_AddNumberToObject(p, "count", last->count + 1) ||
		    !cJSON_AddStringToObject(p, "lastTimestamp", jstr(e, "lastTimestamp")) ||
		    (*jstr(e, "message") && !cJSON_AddStringToObject(p, "message", jstr(e, "message")))) {
			cJSON_Delete(p);
			return -ENOMEM;
		}
		*patch = p;
	}
	struct ev_log *nl = calloc(1, sizeof(*nl));
	if (!nl)
		goto nomem;
	nl->count = (int)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(e, "count"));
	nl->first_ts = strdup(jstr(e, "firstTimestamp"));
	nl->name = strdup(jpath2(e, "metadata", "name"));
	nl->rv = strdup(jpath2(e, "metadata", "resourceVersion"));
	if (!nl->first_ts || !nl->name || !nl->rv || lru_put(&c->log, key, nl) < 0) {
		log_free(nl);
		goto nomem;
	}
	return 0;
nomem:
	cJSON_Delete(*patch);
	*patch = NULL;
	return -ENOMEM;
}

/* EventSourceObjectSpamFilter.Filter: true = drop. mu held. */
static bool spam_filtered(kc_event_correlator *c, const cJSON *e)
{
	char *k = spam_key(e);
	if (!k)
		return false;
	int64_t now = kc_now_mono(c->clock);
	struct spam_rec *r = lru_get(&c->spam, k);
	if (!r) {
		r = malloc(sizeof(*r));
		if (!r || lru_put(&c->spam, k, r) < 0) {
			free(r);
			free(k);
			return false;
		}
		r->tokens = KC_EVENTS_SPAM_BURST; /* a new bucket starts full */
		r->last = now;
	}
	free(k);
	r->tokens += (double)(now - r->last) / (double)KC_NSEC_PER_SEC * KC_EVENTS_SPAM_QPS;
	if (r->tokens > KC_EVENTS_SPAM_BURST)
		r->tokens = KC_EVENTS_SPAM_BURST;
	r->last = now;
	if (r->tokens >= 1.0) {
		r->tokens -= 1.0;
		return false;
	}
	return true;
}

int kc_event_correlate(kc_event_correlator *c, cJSON *event, kc_event_correlation *res)
{
	memset(res, 0, sizeof(*res));
	if (!c || !cJSON_IsObject(event)) {
		cJSON_Delete(event);
		return -EINVAL;
	}
	pthread_mutex_lock(&c->mu);
	char *key = NULL;
	cJSON *patch = NULL;
	int rc = aggregate(c, &event, &key);
	if (rc == 0)
		rc = observe(c, event, key, &patch);
	if (rc == 0 && spam_filtered(c, event)) {
		res->skip = true;
		cJSON_Delete(event);
		cJSON_Delete(patch);
		free(key);
		pthread_mutex_unlock(&c->mu);
		return 0;
	}
	pthread_mutex_unlock(&c->mu);
	if (rc < 0) {
		cJSON_Delete(event);
		free(key);
		return rc;
	}
	res->event = event;
	res->patch = patch;
	res->key = key;
	return 0;
}

void kc_event_correlation_close(kc_event_correlation *res)
{
	if (!res)
		return;
	cJSON_Delete(res->event);
	cJSON_Delete(res->patch);
	free(res->key);
	memset(res, 0, sizeof(*res));
}

void kc_event_correlator_update_state(kc_event_correlator *c, const char *key,
				      const cJSON *ev)
{
	if (!c || !key || !ev)
		return;
	struct ev_log *nl = calloc(1, sizeof(*nl));
	if (!nl)
		return;
	nl->count = (int)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(ev, "count"));
	nl->first_ts = strdup(jstr(ev, "firstTimestamp"));
	nl->name = strdup(jpath2(ev, "metadata", "name"));
	nl->rv = strdup(jpath2(ev, "metadata", "resourceVersion"));
	if (nl->count <= 0 || !nl->first_ts || !nl->name || !nl->rv || !*nl->name) {
		log_free(nl);
		return;
	}
	pthread_mutex_lock(&c->mu);
	if (lru_put(&c->log, key, nl) < 0)
		log_free(nl);
	pthread_mutex_unlock(&c->mu);
}

/* ---- the recorder ---- */

struct kc_recorder {
	pthread_mutex_t mu;
	pthread_cond_t cv;      /* work arrived / stop */
	pthread_cond_t stop_cv; /* stop (retry sleeps wait on it, so that cv's signals
				 * always reach an idle worker) */
	pthread_cond_t idle_cv; /* queue drained */
	kc_clock_t *clock;
	kc_event_sink *sink;
	kc_event_correlator *corr;
	char *component, *host;
	int max_tries;
	int64_t retry_sleep;

	cJSON **q; /* ring */
	int qcap, qhead, qlen;
	int active; /* events being delivered by a worker */
	bool stop;
	pthread_t *threads;
	int nthreads;
	kc_recorder_stats st;
};

/* recordEvent: true when done with the event (written, or not worth retrying). */
static bool record_once(kc_recorder *r, kc_event_correlation *res)
{
	cJSON *out = NULL;
	int rc = 0;
	bool patched = false;
	const char *ns = jpath2(res->event, "metadata", "namespace");
	const char *name = jpath2(res->event, "metadata", "name");
	if (res->patch) {
		rc = r->sink->patch(r->sink, ns, name, res->patch, &out);
		patched = rc == 0;
	}
	/* no earlier event, or it expired on the server (404): create it */
	if (!res->patch || rc == KC_ENOTFOUND) {
		cJSON *meta = cJSON_GetObjectItemCaseSensitive(res->event, "metadata");
		cJSON_DeleteItemFromObjectCaseSensitive(meta, "resourceVersion");
		rc = r->sink->create(r->sink, res->event, &out);
	}
	if (rc == 0) {
		kc_event_correlator_update_state(r->corr, res->key, out ? out : res->event);
		cJSON_Delete(out);
		pthread_mutex_lock(&r->mu);
		if (patched)
			r->st.patched++;
		else
			r->st.created++;
		pthread_mutex_unlock(&r->mu);
		return true;
	}
	cJSON_Delete(out);
	/* An answer from the server means the request itself is bad: do not retry.
	 * Transport failures (-errno, timeouts) are worth retrying. */
	if (rc <= -KC_EBASE && rc != KC_ETIMEOUT) {
		if (rc == KC_EEXIST)
			kc_log_v(5, "Server rejected event %s/%s: %s (will not retry!)", ns, name,
				 kc_strerror(rc));
		else
			kc_error("Server rejected event %s/%s: %s (will not retry!)", ns, name,
				 kc_strerror(rc));
		pthread_mutex_lock(&r->mu);
		r->st.failed++;
		pthread_mutex_unlock(&r->mu);
		return true;
	}
	kc_error("Unable to write event %s/%s: %s (may retry after sleeping)", ns, name,
		 kc_strerror(rc));
	return false;
}

/* Sleep ns of the recorder's clock; false if stopped meanwhile. */
static bool sleep_or_stop(kc_recorder *r, int64_t ns)
{
	int64_t deadline = kc_now_mono(r->clock) + ns;
	pthread_mutex_lock(&r->mu);
	while (!r->stop && kc_now_mono(r->clock) < deadline)
		kc_wq_cond_wait_until(r->clock, &r->stop_cv, &r->mu, deadline);
	bool stopped = r->stop;
	pthread_mutex_unlock(&r->mu);
	return !stopped;
}

/* recordToSink */
static void record_to_sink(kc_recorder *r, cJSON *event)
{
	kc_event_correlation res;
	int rc = kc_event_correlate(r->corr, event, &res);
	if (rc < 0) {
		kc_error("dropping event: %s", kc_strerror(rc));
		return;
	}
	if (res.skip) {
		pthread_mutex_lock(&r->mu);
		r->st.spam++;
		pthread_mutex_unlock(&r->mu);
		return;
	}
	for (int tries = 1;; tries++) {
		if (record_once(r, &res))
			break;
		if (tries >= r->max_tries) {
			kc_error("Unable to write event %s/%s (retry limit exceeded!)",
				 jpath2(res.event, "metadata", "namespace"),
				 jpath2(res.event, "metadata", "name"));
			pthread_mutex_lock(&r->mu);
			r->st.failed++;
			pthread_mutex_unlock(&r->mu);
			break;
		}
		/* randomise the first sleep so clients do not retry in lockstep */
		int64_t d = r->retry_sleep;
		if (tries == 1)
			d = (int64_t)((double)d * kc_rand_unit(r->clock));
		if (!sleep_or_stop(r, d)) {
			pthread_mutex_lock(&r->mu);
			r->st.failed++;
			pthread_mutex_unlock(&r->mu);
			break;
		}
	}
	kc_event_correlation_close(&res);
}

static void *recorder_main(void *arg)
{
	kc_recorder *r = arg;
	pthread_mutex_lock(&r->mu);
	for (;;) {
		while (!r->stop && r->qlen == 0) {
			if (r->active == 0)
				pthread_cond_broadcast(&r->idle_cv);
			pthread_cond_wait(&r->cv, &r->mu);
		}
		if (r->stop)
			break;
		cJSON *e = r->q[r->qhead];
		r->qhead = (r->qhead + 1) % r->qcap;
		r->qlen--;
		r->active++;
		pthread_mutex_unlock(&r->mu);
		record_to_sink(r, e);
		pthread_mutex_lock(&r->mu);
		r->active--;
	}
	if (r->active == 0)
		pthread_cond_broadcast(&r->idle_cv);
	pthread_mutex_unlock(&r->mu);
	return NULL;
}

int kc_recorder_new(const kc_recorder_options *o, kc_recorder **out)
{
	if (!out)
		return -EINVAL;
	*out = NULL;
	if (!o || !o->component || !*o->component || !o->sink || !o->sink->create ||
	    !o->sink->patch || o->queue_len < 0 || o->max_tries < 0 || o->retry_sleep_ns < 0 ||
	    o->workers < 0 || o->workers > KC_EVENTS_MAX_WORKERS)
		return -EINVAL;
	kc_recorder *r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	pthread_mutex_init(&r->mu, NULL);
	pthread_cond_init(&r->idle_cv, NULL);
	r->clock = o->clock ? o->clock : kc_clock_real();
	r->sink = o->sink;
	r->max_tries = o->max_tries ? o->max_tries : KC_EVENTS_MAX_TRIES;
	r->retry_sleep = o->retry_sleep_ns ? o->retry_sleep_ns : KC_EVENTS_RETRY_SLEEP_NS;
	r->qcap = o->queue_len ? o->queue_len : KC_EVENTS_QUEUE_LEN;
	r->q = calloc((size_t)r->qcap, sizeof(cJSON *));
	int nw = o->workers ? o->workers : 1;
	r->threads = calloc((size_t)nw, sizeof(pthread_t));
	r->component = strdup(o->component);
	r->host = o->host ? strdup(o->host) : NULL;
	int rc = -ENOMEM;
	if (!r->q || !r->threads || !r->component || (o->host && !r->host) ||
	    kc_wq_cond_init(&r->cv) < 0)
		goto fail;
	if (kc_wq_cond_init(&r->stop_cv) < 0) {
		pthread_cond_destroy(&r->cv);
		goto fail;
	}
	if ((rc = kc_event_correlator_new(r->clock, &r->corr)) < 0)
		goto fail;
	for (; r->nthreads < nw; r->nthreads++)
		if ((rc = -pthread_create(&r->threads[r->nthreads], NULL, recorder_main, r)) < 0)
			break;
	if (r->nthreads == 0) {
		kc_event_correlator_free(r->corr);
		pthread_cond_destroy(&r->cv);
		pthread_cond_destroy(&r->stop_cv);
		goto fail;
	}
	*out = r;
	return 0;
fail:
	free(r->threads);
	free(r->q);
	free(r->component);
	free(r->host);
	free(r);
	return rc;
}

void kc_recorder_free(kc_recorder *r)
{
	if (!r)
		return;
	pthread_mutex_lock(&r->mu);
	r->stop = true;
	pthread_cond_broadcast(&r->cv);
	pthread_cond_broadcast(&r->stop_cv);
	pthread_mutex_unlock(&r->mu);
	for (int i = 0; i < r->nthreads; i++)
		pthread_join(r->threads[i], NULL);
	free(r->threads);
	if (r->qlen)
		kc_log_v(2, "event recorder %s: dropping %d queued events at shutdown",
			 r->component, r->qlen);
	for (int i = 0; i < r->qlen; i++)
		cJSON_Delete(r->q[(r->qhead + i) % r->qcap]);
	free(r->q);
	kc_event_correlator_free(r->corr);
	free(r->component);
	free(r->host);
	pthread_cond_destroy(&r->cv);
	pthread_cond_destroy(&r->stop_cv);
	pthread_cond_destroy(&r->idle_cv);
	pthread_mutex_destroy(&r->mu);
	free(r);
}

int kc_event_vrecord(kc_recorder *r, const cJSON *obj, const char *type, const char *reason,
		     const char *fmt, va_list ap)
{
	if (!r || !obj || !type || !reason || !fmt)
		return -EINVAL;
	/* A full queue drops the event: find that out before building it. Under load (the
	 * scheduler's Scheduled event per bound pod) most events are dropped, and building
	 * each only to delete it was most of the recording cost. Only for an event that
	 * kc_event_new would accept (it logs its refusals) and when nothing is logged
	 * about it at V(3) below, so what is logged and returned is as before. */
	if (kc_log_verbosity < 3 && (!strcmp(type, "Normal") || !strcmp(type, "Warning"))) {
		const cJSON *meta = cJSON_GetObjectItemCaseSensitive(obj, "metadata");
		bool valid = *jstr(obj, "kind") &&
			     *jstr(cJSON_IsObject(meta) ? meta : obj, "name");
		pthread_mutex_lock(&r->mu);
		bool full = valid && !r->stop && r->qlen == r->qcap;
		if (full)
			r->st.queue_full++;
		pthread_mutex_unlock(&r->mu);
		if (full) {
			kc_log_v(2, "event recorder %s: queue full, dropping event %s",
				 r->component, reason);
			return -ENOSPC;
		}
	}
	char *msg = NULL;
	if (vasprintf(&msg, fmt, ap) < 0)
		return -ENOMEM;
	int err;
	cJSON *e = kc_event_new(r->component, r->host, obj, type, reason, msg,
				kc_now_wall(r->clock), &err);
	free(msg);
	if (!e)
		return err;
	/* as the daemons' StartStructuredLogging(3) */
	if (kc_log_verbosity >= 3) {
		const cJSON *io = cJSON_GetObjectItemCaseSensitive(e, "involvedObject");
		const char *ns = jstr(io, "namespace");
		kc_log_v(3, "Event occurred object=\"%s%s%s\" fieldPath=\"%s\" kind=\"%s\" "
			 "apiVersion=\"%s\" type=\"%s\" reason=\"%s\" message=\"%s\"",
			 ns, *ns ? "/" : "", jstr(io, "name"), jstr(io, "fieldPath"), jstr(io, "kind"),
			 jstr(io, "apiVersion"), type, reason, jstr(e, "message"));
	}
	pthread_mutex_lock(&r->mu);
	if (r->stop) {
		pthread_mutex_unlock(&r->mu);
		cJSON_Delete(e);
		return KC_ECLOSED;
	}
	if (r->qlen == r->qcap) {
		r->st.queue_full++;
		pthread_mutex_unlock(&r->mu);
		kc_log_v(2, "event recorder %s: queue full, dropping event %s", r->component,
			 reason);
		cJSON_Delete(e);
		return -ENOSPC;
	}
	r->q[(r->qhead + r->qlen) % r->qcap] = e;
	r->qlen++;
	r->st.recorded++;
	pthread_cond_signal(&r->cv);
	pthread_mutex_unlock(&r->mu);
	return 0;
}

int kc_event_record(kc_recorder *r, const cJSON *obj, const char *type, const char *reason,
		    const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int rc = kc_event_vrecord(r, obj, type, reason, fmt, ap);
	va_end(ap);
	return rc;
}

int kc_recorder_flush(kc_recorder *r, int64_t timeout_ns)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	int64_t at = (int64_t)ts.tv_sec * KC_NSEC_PER_SEC + ts.tv_nsec + timeout_ns;
	ts.tv_sec = at / KC_NSEC_PER_SEC;
	ts.tv_nsec = at % KC_NSEC_PER_SEC;
	int rc = 0;
	pthread_mutex_lock(&r->mu);
	while ((r->qlen > 0 || r->active > 0) && !r->stop) {
		if (pthread_cond_timedwait(&r->idle_cv, &r->mu, &ts) == ETIMEDOUT) {
			rc = (r->qlen > 0 || r->active > 0) ? -ETIMEDOUT : 0;
			break;
		}
	}
	pthread_mutex_unlock(&r->mu);
	return rc;
}

void kc_recorder_get_stats(kc_recorder *r, kc_recorder_stats *st)
{
	pthread_mutex_lock(&r->mu);
	*st = r->st;
	pthread_mutex_unlock(&r->mu);
}

/* ---- the real sink (EventSinkImpl over the REST client) ---- */

struct client_sink {
	kc_event_sink base;
	kc_client *client;
};

static int cs_create(kc_event_sink *s, const cJSON *event, cJSON **out)
{
	struct client_sink *cs = (struct client_sink *)s;
	const char *ns = jpath2(event, "metadata", "namespace");
	kc_ref ref = { .api_version = "v1", .resource = "events", .ns = *ns ? ns : "default" };
	return kc_client_create(cs->client, &ref, event, out, NULL);
}

static int cs_patch(kc_event_sink *s, const char *ns, const char *name, const cJSON *patch,
		    cJSON **out)
{
	struct client_sink *cs = (struct client_sink *)s;
	kc_ref ref = { .api_version = "v1", .resource = "events", .ns = ns, .name = name };
	return kc_client_patch(cs->client, &ref, KC_PATCH_STRATEGIC, patch, NULL, out, NULL);
}

int kc_event_sink_client_new(struct kc_client *client, kc_event_sink **out)
{
	if (!client || !out)
		return -EINVAL;
	struct client_sink *cs = calloc(1, sizeof(*cs));
	if (!cs)
		return -ENOMEM;
	cs->base = (kc_event_sink){ cs_create, cs_patch };
	cs->client = client;
	*out = &cs->base;
	return 0;
}

void kc_event_sink_client_free(kc_event_sink *s)
{
	free(s);
}
