/* /v3/watch streams over suspended MHD connections: see watchstream.h. */
#include "watchstream.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <microhttpd.h>

#include "jsonpb.h"
#include "kv.h"
#include "log.h"
#include "metrics.h"
#include "server.h"

struct wmsg {
	struct wmsg *next;
	size_t len, off;
	char data[];
};

struct watcher {
	struct ws *ws;
	int64_t id;
	struct kv_watch *w;
	bool lagging; /* refused a message (queue full): resume once drained */
};

struct ws {
	struct kv *kv;
	struct MHD_Connection *conn;
	uint64_t serial;
	struct ws *prev, *next; /* registry */
	int fd;                 /* registered with the reaper, or -1 */

	/* request side (MHD thread only) */
	struct jpb_buf in;
	size_t in_off;
	bool decoded_any, stop_reading;
	struct watcher **watchers;
	size_t n_watchers, cap_watchers;
	int64_t next_id;

	/* response side (mu) */
	pthread_mutex_t mu;
	struct wmsg *head, *tail;
	size_t queued;
	bool responding, suspended, gone;
};

/* ---- registry and hang-up reaper ---- */

static pthread_mutex_t reg_mu = PTHREAD_MUTEX_INITIALIZER;
static struct ws *reg_head;
static uint64_t reg_serial;
static int reaper_ep = -1, reaper_wake = -1;
static pthread_t reaper_thr;
static bool reaper_running;
static bool closing; /* server shutdown: new streams end at once */

/* Mark ws finished and get MHD to look at it again (it then ends the response with an
 * error, closes the connection and calls ws_free via request-completed). */
static void ws_kick(struct ws *ws)
{
	pthread_mutex_lock(&ws->mu);
	ws->gone = true;
	if (ws->suspended) {
		ws->suspended = false;
		MHD_resume_connection(ws->conn);
	}
	pthread_mutex_unlock(&ws->mu);
}

static void *reaper_main(void *arg)
{
	(void)arg;
	struct epoll_event evs[64];
	for (;;) {
		int n = epoll_wait(reaper_ep, evs, 64, -1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			kc_error("watch reaper: epoll_wait: %s", strerror(errno));
			return NULL;
		}
		for (int i = 0; i < n; i++) {
			uint64_t serial = evs[i].data.u64;
			if (serial == 0)
				return NULL; /* the wake pipe: shutting down */
			pthread_mutex_lock(&reg_mu);
			for (struct ws *w = reg_head; w; w = w->next) {
				if (w->serial != serial)
					continue;
				if (w->fd >= 0) {
					epoll_ctl(reaper_ep, EPOLL_CTL_DEL, w->fd, NULL);
					w->fd = -1;
				}
				kc_log_v(2, "watch stream %llu: client hung up",
					 (unsigned long long)serial);
				ws_kick(w);
				break;
			}
			pthread_mutex_unlock(&reg_mu);
		}
	}
}

int ws_global_start(void)
{
	int p[2];
	reaper_ep = epoll_create1(EPOLL_CLOEXEC);
	if (reaper_ep < 0)
		return -errno;
	if (pipe2(p, O_CLOEXEC) < 0) {
		close(reaper_ep);
		return -errno;
	}
	reaper_wake = p[1];
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = 0 };
	epoll_ctl(reaper_ep, EPOLL_CTL_ADD, p[0], &ev);
	int rc = pthread_create(&reaper_thr, NULL, reaper_main, NULL);
	if (rc) {
		close(p[0]);
		close(p[1]);
		close(reaper_ep);
		return -rc;
	}
	reaper_running = true;
	return 0;
}

void ws_global_shutdown(void)
{
	pthread_mutex_lock(&reg_mu);
	closing = true;
	for (struct ws *w = reg_head; w; w = w->next)
		ws_kick(w);
	pthread_mutex_unlock(&reg_mu);
}

void ws_global_stop(void)
{
	if (!reaper_running)
		return;
	if (write(reaper_wake, "x", 1) < 0)
		kc_warn("watch reaper: wake: %s", strerror(errno));
	pthread_join(reaper_thr, NULL);
	reaper_running = false;
	closing = false;
	close(reaper_wake);
	close(reaper_ep);
	reaper_ep = reaper_wake = -1;
}

/* ---- outgoing messages ---- */

static void header_fill(struct kv *kv, Kvpb__ResponseHeader *h, int64_t rev)
{
	h->cluster_id = kv_cluster_id(kv);
	h->member_id = kv_member_id(kv);
	h->revision = rev;
	h->raft_term = kv_raft_term(kv);
}

/* Encode resp as {"result":...}\n into a new queue node. */
static struct wmsg *encode_msg(const Kvpb__WatchResponse *resp)
{
	struct jpb_buf b;
	jpb_buf_init(&b);
	if (jpb_buf_puts(&b, "{\"result\":") || jpb_encode(&resp->base, &b) ||
	    jpb_buf_puts(&b, "}\n")) {
		jpb_buf_free(&b);
		return NULL;
	}
	struct wmsg *m = malloc(sizeof(*m) + b.len);
	if (m) {
		m->next = NULL;
		m->len = b.len;
		m->off = 0;
		memcpy(m->data, b.data, b.len);
	}
	jpb_buf_free(&b);
	return m;
}

static void enqueue_locked(struct ws *ws, struct wmsg *m)
{
	if (ws->tail)
		ws->tail->next = m;
	else
		ws->head = m;
	ws->tail = m;
	ws->queued += m->len;
	if (ws->suspended && ws->responding) {
		ws->suspended = false;
		MHD_resume_connection(ws->conn);
	}
}

static void enqueue(struct ws *ws, const Kvpb__WatchResponse *resp)
{
	struct wmsg *m = encode_msg(resp);
	if (!m) {
		kc_error("watch stream %llu: out of memory encoding a message",
			 (unsigned long long)ws->serial);
		return;
	}
	pthread_mutex_lock(&ws->mu);
	enqueue_locked(ws, m);
	pthread_mutex_unlock(&ws->mu);
}

/* The engine's callback (engine thread, engine locks held: no kv_* calls here). */
static int on_watch_event(void *arg, const Kvpb__WatchResponse *resp)
{
	struct watcher *w = arg;
	struct ws *ws = w->ws;
	bool must = resp->created || resp->canceled;
	pthread_mutex_lock(&ws->mu);
	bool full = ws->queued > WS_MAX_QUEUE;
	if (full && !must) {
		w->lagging = true;
		pthread_mutex_unlock(&ws->mu);
		return -EAGAIN;
	}
	pthread_mutex_unlock(&ws->mu);
	struct wmsg *m = encode_msg(resp);
	if (!m) {
		if (must)
			kc_error("watch %lld: out of memory for a control message", (long long)w->id);
		pthread_mutex_lock(&ws->mu);
		w->lagging = true;
		pthread_mutex_unlock(&ws->mu);
		return -EAGAIN;
	}
	pthread_mutex_lock(&ws->mu);
	enqueue_locked(ws, m);
	pthread_mutex_unlock(&ws->mu);
	return 0;
}

/* ---- incoming requests ---- */

static struct watcher *find_watcher(struct ws *ws, int64_t id, size_t *idx)
{
	for (size_t i = 0; i < ws->n_watchers; i++)
		if (ws->watchers[i]->id == id) {
			if (idx)
				*idx = i;
			return ws->watchers[i];
		}
	return NULL;
}

/* created+canceled for a watch etcd refuses (watch_id -1, as etcd 3.4). */
static void refuse_create(struct ws *ws, const char *reason)
{
	Kvpb__ResponseHeader h = KVPB__RESPONSE_HEADER__INIT;
	header_fill(ws->kv, &h, kv_current_rev(ws->kv));
	Kvpb__WatchResponse r = KVPB__WATCH_RESPONSE__INIT;
	r.header = &h;
	r.watch_id = -1;
	r.created = 1;
	r.canceled = 1;
	r.cancel_reason = (char *)reason;
	enqueue(ws, &r);
}

static void do_create(struct ws *ws, Kvpb__WatchCreateRequest *cr)
{
	static const Kvpb__WatchCreateRequest empty = KVPB__WATCH_CREATE_REQUEST__INIT;
	if (!cr)
		cr = (Kvpb__WatchCreateRequest *)&empty;
	/* etcd's recvLoop: an empty key means "\0"; range_end "\0" means "to the end";
	 * then watchStream.Watch refuses key >= range_end. */
	const uint8_t *key = cr->key.data;
	size_t klen = cr->key.len;
	static const uint8_t zero = 0;
	if (klen == 0) {
		key = &zero;
		klen = 1;
	}
	const ProtobufCBinaryData *re = &cr->range_end;
	bool to_end = re->len == 1 && re->data[0] == 0;
	if (re->len && !to_end) {
		size_t l = klen < re->len ? klen : re->len;
		int c = memcmp(key, re->data, l);
		if (c > 0 || (c == 0 && klen >= re->len)) {
			refuse_create(ws, "mvcc: watcher range is empty");
			return;
		}
	}
	int64_t id = cr->watch_id;
	if (id == 0) {
		/* AutoWatchID: the stream's next free id, from 0. */
		while (find_watcher(ws, ws->next_id, NULL))
			ws->next_id++;
		id = ws->next_id++;
	} else if (find_watcher(ws, id, NULL)) {
		refuse_create(ws, "mvcc: duplicate watch ID provided on the WatchStream");
		return;
	}
	if (ws->n_watchers == ws->cap_watchers) {
		size_t cap = ws->cap_watchers ? ws->cap_watchers * 2 : 4;
		struct watcher **nw = realloc(ws->watchers, cap * sizeof(*nw));
		if (!nw) {
			refuse_create(ws, "out of memory");
			return;
		}
		ws->watchers = nw;
		ws->cap_watchers = cap;
	}
	struct watcher *w = calloc(1, sizeof(*w));
	if (!w) {
		refuse_create(ws, "out of memory");
		return;
	}
	w->ws = ws;
	w->id = id;
	/* Registered before the call: the created message arrives from inside it. */
	ws->watchers[ws->n_watchers++] = w;
	int rc = kv_watch_create(ws->kv, cr, id, on_watch_event, w, &w->w);
	if (rc) {
		ws->n_watchers--;
		free(w);
		refuse_create(ws, kv_errmsg(rc));
		return;
	}
	met_watchers_add(1);
}

static void do_cancel(struct ws *ws, int64_t id)
{
	size_t idx;
	struct watcher *w = find_watcher(ws, id, &idx);
	if (!w)
		return; /* etcd sends nothing for an unknown id */
	ws->watchers[idx] = ws->watchers[--ws->n_watchers];
	kv_watch_cancel(ws->kv, w->w, true);
	free(w);
	met_watchers_add(-1);
}

static void do_progress(struct ws *ws)
{
	int64_t rev;
	struct kv_watch **list = NULL;
	if (ws->n_watchers) {
		list = malloc(ws->n_watchers * sizeof(*list));
		if (!list)
			return;
		for (size_t i = 0; i < ws->n_watchers; i++)
			list[i] = ws->watchers[i]->w;
	}
	int rc = kv_watch_progress(ws->kv, list, ws->n_watchers, &rev);
	free(list);
	if (rc)
		return; /* some watcher lags: etcd 3.4 then sends nothing */
	Kvpb__ResponseHeader h = KVPB__RESPONSE_HEADER__INIT;
	header_fill(ws->kv, &h, rev);
	Kvpb__WatchResponse r = KVPB__WATCH_RESPONSE__INIT;
	r.header = &h;
	r.watch_id = -1;
	enqueue(ws, &r);
}

static void handle_request(struct ws *ws, Kvpb__WatchRequest *rq)
{
	switch (rq->request_union_case) {
	case KVPB__WATCH_REQUEST__REQUEST_UNION_CREATE_REQUEST:
		do_create(ws, rq->create_request);
		break;
	case KVPB__WATCH_REQUEST__REQUEST_UNION_CANCEL_REQUEST:
		do_cancel(ws, rq->cancel_request ? rq->cancel_request->watch_id : 0);
		break;
	case KVPB__WATCH_REQUEST__REQUEST_UNION_PROGRESS_REQUEST:
		do_progress(ws);
		break;
	default:
		break; /* an empty {} request: etcd ignores it */
	}
}

/* Decode and act on every complete request in the input buffer. */
static int drain_input(struct ws *ws, bool final, char *err, size_t errlen)
{
	while (!ws->stop_reading) {
		size_t used = 0;
		ProtobufCMessage *m = NULL;
		int rc = jpb_decode(&kvpb__watch_request__descriptor, ws->in.data + ws->in_off,
				    ws->in.len - ws->in_off, &used, &m, err, errlen);
		if (rc == JPB_EOF) {
			ws->in_off = ws->in.len;
			break;
		}
		if (rc == JPB_EPARTIAL && !final)
			break; /* wait for more bytes */
		if (rc) {
			ws->stop_reading = true;
			if (!ws->decoded_any)
				return rc;
			kc_log_v(2, "watch stream %llu: stops reading requests: %s",
				 (unsigned long long)ws->serial, err);
			break;
		}
		ws->in_off += used;
		ws->decoded_any = true;
		handle_request(ws, (Kvpb__WatchRequest *)m);
		protobuf_c_message_free_unpacked(m, NULL);
	}
	/* Drop consumed bytes so a long-lived body does not grow without bound. */
	if (ws->in_off == ws->in.len) {
		ws->in.len = 0;
		ws->in_off = 0;
	}
	return 0;
}

int ws_feed(struct ws *ws, const char *data, size_t len, char *err, size_t errlen)
{
	if (ws->stop_reading)
		return 0;
	if (jpb_buf_append(&ws->in, data, len))
		return -ENOMEM;
	int rc = drain_input(ws, false, err, errlen);
	if (rc == 0 && !ws->stop_reading && ws->in.len - ws->in_off > WS_MAX_REQUEST) {
		/* One request larger than etcd's gRPC server would take. */
		ws->stop_reading = true;
		if (!ws->decoded_any) {
			snprintf(err, errlen, "grpc: received message larger than max (%zu vs. %zu)",
				 ws->in.len - ws->in_off, WS_MAX_REQUEST);
			return JPB_ETYPE;
		}
	}
	return rc;
}

int ws_end_of_body(struct ws *ws, char *err, size_t errlen)
{
	if (ws->stop_reading || ws->in.len == ws->in_off)
		return 0;
	return drain_input(ws, true, err, errlen);
}

/* ---- the response ---- */

static ssize_t ws_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
	(void)pos;
	struct ws *ws = cls;
	struct kv_watch *resume[16];
	size_t nresume = 0;
	pthread_mutex_lock(&ws->mu);
	/* Being called means MHD is not (or no longer) holding the connection
	 * suspended, even if a suspend raced with a resume and was skipped. */
	ws->suspended = false;
	if (ws->gone) {
		pthread_mutex_unlock(&ws->mu);
		return MHD_CONTENT_READER_END_WITH_ERROR;
	}
	if (!ws->head) {
		/* Nothing to send: park the connection until the engine queues more. */
		ws->suspended = true;
		MHD_suspend_connection(ws->conn);
		pthread_mutex_unlock(&ws->mu);
		return 0;
	}
	/* One message per chunk, as the gateway flushes each message (a message larger
	 * than MHD's buffer spans several). */
	struct wmsg *m = ws->head;
	size_t n = m->len - m->off;
	if (n > max)
		n = max;
	memcpy(buf, m->data + m->off, n);
	m->off += n;
	if (m->off == m->len) {
		ws->head = m->next;
		if (!ws->head)
			ws->tail = NULL;
		ws->queued -= m->len;
		free(m);
		if (ws->queued < WS_MAX_QUEUE / 2) {
			for (size_t i = 0; i < ws->n_watchers && nresume < 16; i++) {
				struct watcher *w = ws->watchers[i];
				if (w->lagging) {
					w->lagging = false;
					resume[nresume++] = w->w;
				}
			}
		}
	}
	pthread_mutex_unlock(&ws->mu);
	/* Outside ws->mu: the engine calls back into on_watch_event under its locks. */
	for (size_t i = 0; i < nresume; i++)
		kv_watch_resume(ws->kv, resume[i]);
	return (ssize_t)n;
}

static void ws_reader_free(void *cls)
{
	(void)cls; /* the stream is freed by ws_free at request completion */
}

struct MHD_Response *ws_response(struct ws *ws)
{
	struct MHD_Response *r =
		MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 64 * 1024, ws_reader, ws,
						  ws_reader_free);
	if (!r)
		return NULL;
	srv_add_headers(r, true);
	pthread_mutex_lock(&ws->mu);
	ws->responding = true;
	pthread_mutex_unlock(&ws->mu);
	/* Watch the socket for hang-ups while the stream idles suspended. */
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(ws->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
	if (ci && reaper_ep >= 0) {
		pthread_mutex_lock(&reg_mu);
		struct epoll_event ev = { .events = EPOLLRDHUP, .data.u64 = ws->serial };
		if (epoll_ctl(reaper_ep, EPOLL_CTL_ADD, ci->connect_fd, &ev) == 0)
			ws->fd = ci->connect_fd;
		pthread_mutex_unlock(&reg_mu);
	}
	return r;
}

struct ws *ws_new(struct kv *kv, struct MHD_Connection *conn)
{
	struct ws *ws = calloc(1, sizeof(*ws));
	if (!ws)
		return NULL;
	ws->kv = kv;
	ws->conn = conn;
	ws->fd = -1;
	jpb_buf_init(&ws->in);
	pthread_mutex_init(&ws->mu, NULL);
	pthread_mutex_lock(&reg_mu);
	ws->gone = closing;
	ws->serial = ++reg_serial;
	ws->next = reg_head;
	if (reg_head)
		reg_head->prev = ws;
	reg_head = ws;
	pthread_mutex_unlock(&reg_mu);
	met_watch_streams_add(1);
	return ws;
}

void ws_free(struct ws *ws)
{
	if (!ws)
		return;
	pthread_mutex_lock(&reg_mu);
	if (ws->prev)
		ws->prev->next = ws->next;
	else
		reg_head = ws->next;
	if (ws->next)
		ws->next->prev = ws->prev;
	if (ws->fd >= 0 && reaper_ep >= 0)
		epoll_ctl(reaper_ep, EPOLL_CTL_DEL, ws->fd, NULL);
	pthread_mutex_unlock(&reg_mu);
	for (size_t i = 0; i < ws->n_watchers; i++) {
		kv_watch_cancel(ws->kv, ws->watchers[i]->w, false);
		free(ws->watchers[i]);
		met_watchers_add(-1);
	}
	free(ws->watchers);
	struct wmsg *m = ws->head;
	while (m) {
		struct wmsg *n = m->next;
		free(m);
		m = n;
	}
	jpb_buf_free(&ws->in);
	pthread_mutex_destroy(&ws->mu);
	met_watch_streams_add(-1);
	free(ws);
}
