/* The etcd client's streaming calls (see etcd.h): the framing of grpc-gateway's streamed
 * bodies, lease keep-alive, the snapshot stream, the watch decoder and kc_etcd_watch.
 * The client itself, its transport and the unary calls are in etcd.c; what both halves
 * share is declared in etcd_int.h. */
#include "etcd.h"

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "errors.h"
#include "etcd_int.h"

/* ------------------------------------------------------------------ stream framing */

/* grpc-gateway writes a server stream as concatenated JSON objects, usually one per line. */

struct stream {
	struct kc_etcd__buf b;
	size_t scan;   /* bytes already scanned in b */
	size_t start;  /* start of the current object (where depth went 0 -> 1) */
	int depth;
	bool in_str, esc;
	int (*on_obj)(void *ud, const char *p, size_t n);
	void *ud;
	int stop_rc;   /* nonzero: abort the transfer, return this */
	bool overflow;
};

/* Feeds bytes; calls on_obj for each complete top-level object. Tolerates any split across
 * chunks and any whitespace between objects. */
static int stream_feed(struct stream *s, const char *d, size_t n)
{
	if (kc_etcd__buf_append(&s->b, d, n) != 0)
		return -ENOMEM;
	size_t i = s->scan;
	size_t consumed = 0;
	for (; i < s->b.len; i++) {
		char ch = s->b.p[i];
		if (s->in_str && !s->esc && ch != '"' && ch != '\\') {
			/* inside a string (a base64 value, mostly): jump to the next quote or
			 * backslash */
			const char *q = memchr(s->b.p + i, '"', s->b.len - i);
			size_t stop = q ? (size_t)(q - s->b.p) : s->b.len;
			const char *bs = memchr(s->b.p + i, '\\', stop - i);
			i = bs ? (size_t)(bs - s->b.p) : stop;
			if (i >= s->b.len)
				break;
			ch = s->b.p[i];
		}
		if (s->in_str) {
			if (s->esc)
				s->esc = false;
			else if (ch == '\\')
				s->esc = true;
			else if (ch == '"')
				s->in_str = false;
			continue;
		}
		if (ch == '"') {
			s->in_str = true;
		} else if (ch == '{' || ch == '[') {
			if (s->depth++ == 0)
				s->start = i;
		} else if (ch == '}' || ch == ']') {
			if (s->depth == 0)
				return KC_EPARSE;
			if (--s->depth == 0) {
				int rc = s->on_obj(s->ud, s->b.p + s->start, i + 1 - s->start);
				consumed = i + 1;
				if (rc)
					return rc;
			}
		} else if (s->depth == 0 && ch != ' ' && ch != '\n' && ch != '\r' && ch != '\t') {
			return KC_EPARSE;
		}
	}
	/* Drop what has been delivered; keep the partial object. */
	if (s->depth == 0)
		consumed = s->b.len;
	else if (consumed < s->start)
		consumed = s->start;
	if (consumed > 0) {
		memmove(s->b.p, s->b.p + consumed, s->b.len - consumed);
		s->b.len -= consumed;
		s->b.p[s->b.len] = 0;
		s->start -= s->depth ? consumed : s->start;
		i -= consumed;
	}
	s->scan = i;
	if (s->b.len > 64u * 1024 * 1024) { /* one message larger than 64 MiB: not etcd */
		s->overflow = true;
		return KC_ETOOLARGE;
	}
	return 0;
}

static size_t stream_write(char *ptr, size_t sz, size_t nm, void *ud)
{
	struct stream *s = ud;
	size_t n = sz * nm;
	if (s->stop_rc)
		return 0;
	int rc = stream_feed(s, ptr, n);
	if (rc) {
		s->stop_rc = rc;
		return 0;
	}
	return n;
}

/* The body of a streamed message: {"result":{...}}; a gateway stream error is
 * {"error":{"grpc_code":N,"http_code":N,"message":"..."}}. */
static int stream_result(const char *p, size_t n, cJSON **root, const cJSON **result, struct kc_etcd_error *err)
{
	cJSON *j = cJSON_ParseWithLength(p, n);
	if (!j || !cJSON_IsObject(j)) {
		cJSON_Delete(j);
		kc_etcd__set_err(err, 200, 0, "undecodable stream message");
		return KC_EPARSE;
	}
	const cJSON *r = cJSON_GetObjectItemCaseSensitive(j, "result");
	if (cJSON_IsObject(r)) {
		*root = j;
		*result = r;
		return 0;
	}
	const cJSON *e = cJSON_GetObjectItemCaseSensitive(j, "error");
	int code = 0;
	const char *msg = "stream error";
	if (cJSON_IsObject(e)) {
		const cJSON *m = cJSON_GetObjectItemCaseSensitive(e, "message");
		const cJSON *cd = cJSON_GetObjectItemCaseSensitive(e, "grpc_code");
		if (!cd)
			cd = cJSON_GetObjectItemCaseSensitive(e, "code");
		if (cJSON_IsString(m))
			msg = m->valuestring;
		if (cJSON_IsNumber(cd))
			code = cd->valueint;
	} else if (cJSON_IsString(e)) {
		msg = e->valuestring;
		const cJSON *cd = cJSON_GetObjectItemCaseSensitive(j, "code");
		if (cJSON_IsNumber(cd))
			code = cd->valueint;
	} else {
		/* An unwrapped object: accept it as the result itself. */
		*root = j;
		*result = j;
		return 0;
	}
	kc_etcd__set_err(err, 200, code, "%s", msg);
	int rc = kc_etcd__map_grpc(code, msg, 200);
	cJSON_Delete(j);
	return rc;
}

/* ------------------------------------------------------------------ lease keep-alive */

struct ka_ctx {
	int64_t ttl, id;
	bool got;
	int rc;
	struct kc_etcd_error *err;
};

static int ka_obj(void *ud, const char *p, size_t n)
{
	struct ka_ctx *k = ud;
	cJSON *root;
	const cJSON *r;
	int rc = stream_result(p, n, &root, &r, k->err);
	if (rc) {
		k->rc = rc;
		return 0;
	}
	if (!k->got) {
		if (kc_etcd__get_i64(r, "TTL", &k->ttl) || kc_etcd__get_i64(r, "ID", &k->id))
			k->rc = KC_EPARSE;
		k->got = true;
	}
	cJSON_Delete(root);
	return 0;
}

int kc_etcd_lease_keepalive_once(kc_etcd *c, int64_t id, int64_t *ttl_out, struct kc_etcd_error *err)
{
	char body[64];
	snprintf(body, sizeof(body), "{\"ID\":\"%" PRId64 "\"}", id);
	struct ka_ctx k = { .err = err };
	struct stream s = { .on_obj = ka_obj, .ud = &k };
	long status = 0;
	int rc = kc_etcd__do_post(c, -1, "/v3/lease/keepalive", body, false, stream_write, &s, NULL, &status, err);
	if (rc == 0 && status != 200)
		rc = kc_etcd__decode_error(status, s.b.p, err);
	else if (rc == 0 && s.stop_rc)
		rc = s.stop_rc;
	else if (rc == 0 && k.rc)
		rc = k.rc;
	else if (rc == 0 && !k.got) {
		kc_etcd__set_err(err, (int)status, 0, "keepalive: empty response");
		rc = KC_EPARSE;
	} else if (rc == 0 && k.ttl <= 0) {
		/* clientv3's KeepAliveOnce: TTL <= 0 means the lease is gone. */
		kc_etcd__set_err(err, (int)status, 5, "etcdserver: requested lease not found");
		rc = KC_ENOTFOUND;
	}
	free(s.b.p);
	if (rc == 0 && ttl_out)
		*ttl_out = k.ttl;
	return rc;
}

/* ------------------------------------------------------------------ snapshot */

struct snap_ctx {
	int fd;
	uint64_t bytes;
	int rc;
	struct kc_etcd_error *err;
};

static int snap_obj(void *ud, const char *p, size_t n)
{
	struct snap_ctx *s = ud;
	cJSON *root;
	const cJSON *r;
	int rc = stream_result(p, n, &root, &r, s->err);
	if (rc)
		return rc;
	uint8_t *blob;
	size_t len;
	rc = kc_etcd__get_bytes(r, "blob", &blob, &len);
	cJSON_Delete(root);
	if (rc)
		return rc;
	size_t off = 0;
	while (off < len) {
		ssize_t w = write(s->fd, blob + off, len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			rc = -errno;
			kc_etcd__set_err(s->err, 0, 0, "write snapshot: %s", strerror(errno));
			break;
		}
		off += (size_t)w;
	}
	s->bytes += off;
	free(blob);
	return rc;
}

int kc_etcd_snapshot(kc_etcd *c, int fd, uint64_t *bytes_out, struct kc_etcd_error *err)
{
	struct snap_ctx sc = { .fd = fd, .err = err };
	struct stream s = { .on_obj = snap_obj, .ud = &sc };
	long status = 0;
	int rc = kc_etcd__do_post(c, -1, "/v3/maintenance/snapshot", "{}", true, stream_write, &s, NULL, &status, err);
	if (rc == 0 && status != 200)
		rc = kc_etcd__decode_error(status, s.b.p, err);
	else if (s.stop_rc)
		rc = s.stop_rc;
	else if (rc == 0 && s.depth != 0) {
		kc_etcd__set_err(err, (int)status, 0, "snapshot stream ended mid-message");
		rc = KC_ECLOSED;
	}
	free(s.b.p);
	if (bytes_out)
		*bytes_out = sc.bytes;
	return rc;
}

/* ------------------------------------------------------------------ watch */

struct watch_ctx {
	kc_etcd_watch_cb cb;
	void *arg;
	struct kc_etcd_error *err;
	int rc; /* final result once set */
	bool done;
	/* Reused from one message to the next, so a watch event costs no allocation once
	 * the stream is warm: the tokens, the events, and one arena holding every decoded
	 * key and value (the callback borrows them for the call only, as etcd.h says). */
	struct kc_etcd__scan sc;
	struct kc_etcd_event *evs;
	size_t evs_cap;
	uint8_t *arena;
	size_t arena_cap;
};

static void watch_ctx_init(struct watch_ctx *wc, kc_etcd_watch_cb cb, void *arg, struct kc_etcd_error *err)
{
	memset(wc, 0, sizeof(*wc));
	wc->cb = cb;
	wc->arg = arg;
	wc->err = err;
	kc_etcd__scan_init(&wc->sc);
}

static void watch_ctx_close(struct watch_ctx *wc)
{
	kc_etcd__scan_close(&wc->sc);
	free(wc->evs);
	free(wc->arena);
	wc->evs = NULL;
	wc->arena = NULL;
	wc->evs_cap = wc->arena_cap = 0;
}

static void events_free(struct kc_etcd_event *ev, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		kc_etcd__kv_free(&ev[i].kv);
		kc_etcd__kv_free(&ev[i].prev_kv);
	}
	free(ev);
}

static int decode_watch_resp(const cJSON *r, struct kc_etcd_watch_resp *w, struct kc_etcd_event **evs)
{
	memset(w, 0, sizeof(*w));
	*evs = NULL;
	int rc = kc_etcd__decode_header(r, &w->header);
	if (rc)
		return rc;
	if (kc_etcd__get_i64(r, "watch_id", &w->watch_id) || kc_etcd__get_i64(r, "compact_revision", &w->compact_revision))
		return KC_EPARSE;
	w->created = kc_etcd__get_bool(r, "created");
	w->canceled = kc_etcd__get_bool(r, "canceled");
	w->fragment = kc_etcd__get_bool(r, "fragment");
	const cJSON *cr = cJSON_GetObjectItemCaseSensitive(r, "cancel_reason");
	w->cancel_reason = cJSON_IsString(cr) ? cr->valuestring : NULL;
	const cJSON *arr;
	size_t n;
	rc = kc_etcd__get_array(r, "events", &arr, &n);
	if (rc || n == 0)
		return rc;
	struct kc_etcd_event *ev = calloc(n, sizeof(*ev));
	if (!ev)
		return -ENOMEM;
	size_t i = 0;
	const cJSON *it;
	cJSON_ArrayForEach(it, arr)
	{
		const cJSON *t = cJSON_GetObjectItemCaseSensitive(it, "type");
		if (!t)
			ev[i].type = KC_ETCD_EVENT_PUT;
		else if (cJSON_IsString(t) && strcmp(t->valuestring, "PUT") == 0)
			ev[i].type = KC_ETCD_EVENT_PUT;
		else if ((cJSON_IsString(t) && strcmp(t->valuestring, "DELETE") == 0) ||
		         (cJSON_IsNumber(t) && t->valueint == 1))
			ev[i].type = KC_ETCD_EVENT_DELETE;
		else if (cJSON_IsNumber(t) && t->valueint == 0)
			ev[i].type = KC_ETCD_EVENT_PUT;
		else
			rc = KC_EPARSE;
		const cJSON *kv = cJSON_GetObjectItemCaseSensitive(it, "kv");
		const cJSON *pkv = cJSON_GetObjectItemCaseSensitive(it, "prev_kv");
		if (!rc)
			rc = kv ? kc_etcd__decode_kv(kv, &ev[i].kv) : KC_EPARSE;
		if (!rc && pkv) {
			rc = kc_etcd__decode_kv(pkv, &ev[i].prev_kv);
			ev[i].has_prev_kv = rc == 0;
		}
		i++;
		if (rc) {
			events_free(ev, i);
			return rc;
		}
	}
	*evs = ev;
	w->events = ev;
	w->n_events = i;
	return 0;
}

/* Room the event's kv needs in the arena: each bytes field decoded plus its NUL. */
static int arena_need(const struct kc_etcd__scan *s, int kv, size_t *need)
{
	if (kv < 0)
		return 0;
	if (s->t[kv].type != KC_ETCD__TOBJ)
		return KC_EPARSE;
	size_t k, v;
	if (kc_etcd__scan_bytes_len(s, kc_etcd__scan_find(s, kv, "key"), &k) ||
	    kc_etcd__scan_bytes_len(s, kc_etcd__scan_find(s, kv, "value"), &v))
		return KC_EPARSE;
	*need += k + v + 2;
	return 0;
}

/* One KeyValue into *kv with its bytes in the arena at *at; as kc_etcd__decode_kv: a
 * missing key reads as "" (non-NULL), a missing value as NULL/0. */
static int arena_kv(const struct kc_etcd__scan *s, int o, struct kc_etcd_kv *kv, uint8_t **at)
{
	memset(kv, 0, sizeof(*kv));
	int kt = kc_etcd__scan_find(s, o, "key"), vt = kc_etcd__scan_find(s, o, "value");
	kv->key = *at;
	if (kt >= 0 && kc_etcd__scan_bytes_into(s, kt, kv->key, &kv->key_len))
		return KC_EPARSE;
	kv->key[kv->key_len] = 0;
	*at += kv->key_len + 1;
	if (vt >= 0) {
		kv->value = *at;
		if (kc_etcd__scan_bytes_into(s, vt, kv->value, &kv->value_len))
			return KC_EPARSE;
		kv->value[kv->value_len] = 0;
		*at += kv->value_len + 1;
	}
	if (kc_etcd__scan_i64(s, o, "create_revision", &kv->create_revision) ||
	    kc_etcd__scan_i64(s, o, "mod_revision", &kv->mod_revision) ||
	    kc_etcd__scan_i64(s, o, "version", &kv->version) || kc_etcd__scan_i64(s, o, "lease", &kv->lease))
		return KC_EPARSE;
	return 0;
}

static int event_type(const struct kc_etcd__scan *s, int ev, enum kc_etcd_event_type *type)
{
	int t = kc_etcd__scan_find(s, ev, "type");
	*type = KC_ETCD_EVENT_PUT;
	if (t < 0)
		return 0;
	const char *p = s->js + s->t[t].start;
	size_t n = s->t[t].end - s->t[t].start;
	if (s->t[t].type == KC_ETCD__TSTR && !s->t[t].esc) {
		if (n == 3 && memcmp(p, "PUT", 3) == 0)
			return 0;
		if (n == 6 && memcmp(p, "DELETE", 6) == 0) {
			*type = KC_ETCD_EVENT_DELETE;
			return 0;
		}
		return KC_EPARSE;
	}
	int64_t v;
	if (s->t[t].type == KC_ETCD__TPRIM && kc_etcd__scan_tok_i64(s, t, &v) == 0 && (v == 0 || v == 1)) {
		*type = v == 1 ? KC_ETCD_EVENT_DELETE : KC_ETCD_EVENT_PUT;
		return 0;
	}
	return KC_EPARSE;
}

/* The watch message in p[0..n) decoded from its tokens into *w, borrowing wc's reused
 * buffers. Returns 0, 1 when the message is not a plain {"result":{...}} (a stream error,
 * or text the strict scanner refuses: the cJSON path below decides those), KC_EPARSE for a
 * result that is not a WatchResponse, or -ENOMEM. */
static int watch_scan(struct watch_ctx *wc, const char *p, size_t n, struct kc_etcd_watch_resp *w)
{
	struct kc_etcd__scan *s = &wc->sc;
	memset(w, 0, sizeof(*w));
	int rc = kc_etcd__scan_parse(s, p, n);
	if (rc == -ENOMEM)
		return rc;
	if (rc || s->t[0].type != KC_ETCD__TOBJ)
		return 1;
	int r = kc_etcd__scan_find(s, 0, "result");
	if (r < 0 || s->t[r].type != KC_ETCD__TOBJ)
		return 1;
	if (kc_etcd__scan_header(s, r, &w->header))
		return KC_EPARSE;
	if (kc_etcd__scan_i64(s, r, "watch_id", &w->watch_id) ||
	    kc_etcd__scan_i64(s, r, "compact_revision", &w->compact_revision))
		return KC_EPARSE;
	w->created = kc_etcd__scan_bool(s, r, "created");
	w->canceled = kc_etcd__scan_bool(s, r, "canceled");
	w->fragment = kc_etcd__scan_bool(s, r, "fragment");
	int cr = kc_etcd__scan_find(s, r, "cancel_reason");
	if (cr >= 0 && s->t[cr].type != KC_ETCD__TSTR)
		cr = -1; /* as before: a non-string reason is no reason */
	int arr = kc_etcd__scan_find(s, r, "events");
	size_t nev = 0;
	if (arr >= 0) {
		if (s->t[arr].type != KC_ETCD__TARR)
			return KC_EPARSE;
		nev = (size_t)s->t[arr].size;
	}
	/* pass 1: how much room the decoded bytes need */
	size_t need = cr >= 0 ? s->t[cr].end - s->t[cr].start + 1 : 0;
	int it = arr + 1;
	for (size_t i = 0; i < nev; i++) {
		if (s->t[it].type != KC_ETCD__TOBJ)
			return KC_EPARSE;
		int kv = kc_etcd__scan_find(s, it, "kv");
		if (kv < 0)
			return KC_EPARSE;
		if (arena_need(s, kv, &need) || arena_need(s, kc_etcd__scan_find(s, it, "prev_kv"), &need))
			return KC_EPARSE;
		it = (int)s->t[it].next;
	}
	if (need > wc->arena_cap) {
		size_t nc = wc->arena_cap ? wc->arena_cap : 4096;
		while (nc < need)
			nc *= 2;
		uint8_t *na = realloc(wc->arena, nc);
		if (!na)
			return -ENOMEM;
		wc->arena = na;
		wc->arena_cap = nc;
	}
	if (nev > wc->evs_cap) {
		size_t nc = wc->evs_cap ? wc->evs_cap : 8;
		while (nc < nev)
			nc *= 2;
		struct kc_etcd_event *ne = realloc(wc->evs, nc * sizeof(*ne));
		if (!ne)
			return -ENOMEM;
		wc->evs = ne;
		wc->evs_cap = nc;
	}
	/* pass 2: decode */
	uint8_t *at = wc->arena;
	if (cr >= 0) {
		w->cancel_reason = (const char *)at;
		at += kc_etcd__unescape(s->js + s->t[cr].start, s->t[cr].end - s->t[cr].start, (char *)at) + 1;
	}
	it = arr + 1;
	for (size_t i = 0; i < nev; i++) {
		struct kc_etcd_event *ev = &wc->evs[i];
		memset(ev, 0, sizeof(*ev));
		if (event_type(s, it, &ev->type) || arena_kv(s, kc_etcd__scan_find(s, it, "kv"), &ev->kv, &at))
			return KC_EPARSE;
		int pkv = kc_etcd__scan_find(s, it, "prev_kv");
		if (pkv >= 0) {
			if (arena_kv(s, pkv, &ev->prev_kv, &at))
				return KC_EPARSE;
			ev->has_prev_kv = true;
		}
		it = (int)s->t[it].next;
	}
	w->events = nev ? wc->evs : NULL;
	w->n_events = nev;
	return 0;
}

static int watch_obj(void *ud, const char *p, size_t n)
{
	struct watch_ctx *wc = ud;
	struct kc_etcd_watch_resp w;
	cJSON *root = NULL;
	struct kc_etcd_event *evs = NULL; /* the cJSON path's events (heap) */
	int rc = watch_scan(wc, p, n, &w);
	if (rc == 1) {
		const cJSON *r;
		rc = stream_result(p, n, &root, &r, wc->err);
		if (rc) {
			wc->rc = rc;
			wc->done = true;
			return rc;
		}
		rc = decode_watch_resp(r, &w, &evs);
	}
	if (rc) {
		kc_etcd__set_err(wc->err, 200, 0, "undecodable watch response");
		cJSON_Delete(root);
		wc->rc = rc;
		wc->done = true;
		return rc;
	}
	int cbrc = wc->cb(wc->arg, &w);
	if (cbrc) {
		wc->rc = cbrc;
		wc->done = true;
	} else if (w.canceled) {
		wc->done = true;
		if (w.compact_revision > 0) {
			kc_etcd__set_err(wc->err, 200, 11, "etcdserver: mvcc: required revision has been compacted");
			wc->rc = KC_EGONE;
		} else {
			kc_etcd__set_err(wc->err, 200, 0, "watch canceled%s%s", w.cancel_reason ? ": " : "",
			        w.cancel_reason ? w.cancel_reason : "");
			wc->rc = KC_ECLOSED;
		}
	}
	if (evs)
		events_free(evs, w.n_events);
	cJSON_Delete(root);
	return wc->done ? (wc->rc ? wc->rc : 1) : 0;
}

struct kc_etcd_watch_decoder {
	struct watch_ctx wc;
	struct stream s;
	int final;
};

int kc_etcd_watch_decoder_new(kc_etcd_watch_cb cb, void *arg, struct kc_etcd_error *err,
                              kc_etcd_watch_decoder **out)
{
	if (!cb || !out)
		return -EINVAL;
	kc_etcd_watch_decoder *d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	watch_ctx_init(&d->wc, cb, arg, err);
	d->s.on_obj = watch_obj;
	d->s.ud = &d->wc;
	*out = d;
	return 0;
}

int kc_etcd_watch_decoder_feed(kc_etcd_watch_decoder *d, const char *data, size_t len)
{
	if (d->final)
		return d->final;
	int rc = stream_feed(&d->s, data, len);
	if (d->wc.done)
		rc = d->wc.rc ? d->wc.rc : KC_ECLOSED;
	if (rc)
		d->final = rc;
	return rc;
}

void kc_etcd_watch_decoder_free(kc_etcd_watch_decoder *d)
{
	if (!d)
		return;
	free(d->s.b.p);
	watch_ctx_close(&d->wc);
	free(d);
}

int kc_etcd_watch(kc_etcd *c, const struct kc_etcd_watch_req *req, kc_etcd_watch_cb cb, void *arg,
                  const atomic_int *stop, struct kc_etcd_error *err)
{
	if (!req || !cb)
		return -EINVAL;
	cJSON *o = cJSON_CreateObject();
	cJSON *cr = o ? cJSON_AddObjectToObject(o, "create_request") : NULL;
	if (!cr) {
		cJSON_Delete(o);
		return -ENOMEM;
	}
	int rc = kc_etcd__add_bytes(cr, "key", req->key, req->key_len);
	if (!rc && req->range_end_len)
		rc = kc_etcd__add_bytes(cr, "range_end", req->range_end, req->range_end_len);
	if (!rc && req->start_revision)
		rc = kc_etcd__add_i64(cr, "start_revision", req->start_revision);
	if (!rc && req->progress_notify)
		rc = kc_etcd__add_true(cr, "progress_notify");
	if (!rc && req->prev_kv)
		rc = kc_etcd__add_true(cr, "prev_kv");
	if (!rc && (req->filter_noput || req->filter_nodelete)) {
		cJSON *f = cJSON_AddArrayToObject(cr, "filters");
		if (!f)
			rc = -ENOMEM;
		if (!rc && req->filter_noput)
			cJSON_AddItemToArray(f, cJSON_CreateString("NOPUT"));
		if (!rc && req->filter_nodelete)
			cJSON_AddItemToArray(f, cJSON_CreateString("NODELETE"));
	}
	char *body = rc ? NULL : cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	if (rc)
		return rc;
	if (!body)
		return -ENOMEM;

	struct watch_ctx wc;
	watch_ctx_init(&wc, cb, arg, err);
	struct stream s = { .on_obj = watch_obj, .ud = &wc };
	struct curl_slist *hdrs = curl_slist_append(NULL, "Content-Type: application/json");
	hdrs = curl_slist_append(hdrs, "Expect:");
	CURLM *m = curl_multi_init();
	CURL *h = curl_easy_init();
	int n = (int)c->n_endpoints;
	int start = atomic_load(&c->preferred);
	rc = -ECONNREFUSED;
	for (int t = 0; m && h && t < n; t++) {
		int i = (start + t) % n;
		bool stopped = false;
		CURLcode res = CURLE_OK;
		long status = 0;
		if (c->hep[i].fast) {
			/* a plain-http endpoint: the own transport, one blocking read per
			 * arrival instead of libcurl's poll and perform rounds */
			res = kc_etcd__http_stream(c, i, "/v3/watch", body, stream_write, &s, stop,
						   &status, &stopped);
		} else {
			char url[1024];
			snprintf(url, sizeof(url), "%s/v3/watch", c->endpoints[i]);
			curl_easy_reset(h);
			kc_etcd__setup_handle(c, h, url, body, hdrs, true);
			curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, stream_write);
			curl_easy_setopt(h, CURLOPT_WRITEDATA, &s);
			curl_multi_add_handle(m, h);
			for (;;) {
				int running = 0;
				curl_multi_perform(m, &running);
				int q;
				CURLMsg *msg;
				bool finished = false;
				while ((msg = curl_multi_info_read(m, &q))) {
					if (msg->msg == CURLMSG_DONE) {
						res = msg->data.result;
						finished = true;
					}
				}
				if (finished || !running)
					break;
				if (stop && atomic_load(stop)) {
					stopped = true;
					break;
				}
				curl_multi_poll(m, NULL, 0, 100, NULL);
			}
			curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
			curl_multi_remove_handle(m, h);
		}
		if (stopped) {
			rc = 0;
			break;
		}
		if (status != 0 && status != 200) {
			/* Not a stream: an error body (e.g. 500 for an undecodable request). The
			 * framing decoder may have consumed a JSON body already; its error is
			 * in err then. */
			rc = wc.done ? wc.rc : kc_etcd__decode_error(status, s.b.p, err);
			if (wc.done)
				rc = kc_etcd__map_grpc(err ? err->grpc_code : 0, err ? err->message : NULL, status);
			if (err)
				err->http_status = (int)status;
			break;
		}
		if (wc.done) {
			rc = wc.rc;
			break;
		}
		if (res == CURLE_OK) {
			kc_etcd__set_err(err, (int)status, 0, "watch stream ended");
			rc = KC_ECLOSED;
			break;
		}
		if (s.stop_rc) {
			rc = s.stop_rc;
			break;
		}
		kc_etcd__set_err(err, 0, 0, "%s: %s", c->endpoints[i], curl_easy_strerror(res));
		rc = kc_etcd__curl_to_err(res);
		if (status != 0 || !kc_etcd__is_connect_error(res)) {
			rc = KC_ECLOSED;
			break;
		}
	}
	if (h)
		curl_easy_cleanup(h);
	if (m)
		curl_multi_cleanup(m);
	curl_slist_free_all(hdrs);
	free(s.b.p);
	free(body);
	watch_ctx_close(&wc);
	if (!m || !h)
		return -ENOMEM;
	return rc;
}
