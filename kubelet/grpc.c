/* Unary gRPC over HTTP/2 with nghttp2: framing, trailers, and a multiplexed connection
 * driven by one I/O thread.  See grpc.h for the contract. */
#include "grpc.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <nghttp2/nghttp2.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "errors.h"
#include "log.h"

/* ------------------------------------------------------------------ framing */

int cri_grpc_prefix_encode(size_t len, uint8_t out[CRI_GRPC_PREFIX_LEN])
{
	if (len > UINT32_MAX)
		return -EMSGSIZE;
	out[0] = 0; /* not compressed */
	out[1] = (uint8_t)(len >> 24);
	out[2] = (uint8_t)(len >> 16);
	out[3] = (uint8_t)(len >> 8);
	out[4] = (uint8_t)len;
	return 0;
}

void cri_grpc_decoder_init(cri_grpc_decoder *d, size_t max_msg)
{
	memset(d, 0, sizeof(*d));
	d->max_msg = max_msg ? max_msg : CRI_GRPC_DEFAULT_MAX_MSG;
}

void cri_grpc_decoder_close(cri_grpc_decoder *d)
{
	free(d->msg);
	d->msg = NULL;
}

int cri_grpc_decoder_feed(cri_grpc_decoder *d, const uint8_t *data, size_t len)
{
	if (d->err)
		return d->err;
	while (len > 0) {
		if (d->complete) {
			/* unary: anything after the one message is a protocol violation */
			d->err = -EPROTO;
			return d->err;
		}
		if (d->prefix_have < CRI_GRPC_PREFIX_LEN) {
			size_t n = CRI_GRPC_PREFIX_LEN - d->prefix_have;
			if (n > len)
				n = len;
			memcpy(d->prefix + d->prefix_have, data, n);
			d->prefix_have += n;
			data += n;
			len -= n;
			if (d->prefix_have < CRI_GRPC_PREFIX_LEN)
				break;
			if (d->prefix[0] == 1) {
				d->err = -ENOTSUP;
				return d->err;
			}
			if (d->prefix[0] != 0) {
				d->err = -EPROTO;
				return d->err;
			}
			uint32_t ml = ((uint32_t)d->prefix[1] << 24) | ((uint32_t)d->prefix[2] << 16) |
				      ((uint32_t)d->prefix[3] << 8) | (uint32_t)d->prefix[4];
			if ((size_t)ml > d->max_msg) {
				d->err = -EMSGSIZE;
				d->msg_len = ml; /* for the error message */
				return d->err;
			}
			d->msg_len = ml;
			d->msg_have = 0;
			if (ml > 0) {
				d->msg = malloc(ml);
				if (!d->msg) {
					d->err = -ENOMEM;
					return d->err;
				}
			} else {
				d->complete = 1;
			}
			continue;
		}
		size_t n = d->msg_len - d->msg_have;
		if (n > len)
			n = len;
		memcpy(d->msg + d->msg_have, data, n);
		d->msg_have += n;
		data += n;
		len -= n;
		if (d->msg_have == d->msg_len)
			d->complete = 1;
	}
	return 0;
}

int cri_grpc_decoder_take(cri_grpc_decoder *d, uint8_t **msg, size_t *len)
{
	if (d->err)
		return d->err;
	if (!d->complete)
		return -ENODATA;
	*msg = d->msg;
	*len = d->msg_len;
	d->msg = NULL;
	return 0;
}

int cri_grpc_parse_status(const char *s, size_t len, int *code)
{
	if (!s || len == 0 || len > 9)
		return -EPROTO;
	int v = 0;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EPROTO;
		v = v * 10 + (s[i] - '0');
	}
	*code = v > CRI_GRPC_UNAUTHENTICATED ? CRI_GRPC_UNKNOWN : v;
	return 0;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

size_t cri_grpc_percent_decode(const char *in, size_t len, char *out, size_t cap)
{
	size_t o = 0;
	if (cap == 0)
		return 0;
	for (size_t i = 0; i < len && o + 1 < cap; i++) {
		if (in[i] == '%' && i + 2 < len + 0 && hexval(in[i + 1]) >= 0 && hexval(in[i + 2]) >= 0) {
			out[o++] = (char)(hexval(in[i + 1]) * 16 + hexval(in[i + 2]));
			i += 2;
		} else {
			out[o++] = in[i];
		}
	}
	out[o] = '\0';
	return o;
}

int cri_grpc_code_to_err(int code)
{
	switch (code) {
	case CRI_GRPC_OK: return 0;
	case CRI_GRPC_CANCELLED: return -ECANCELED;
	case CRI_GRPC_INVALID_ARGUMENT: return -EINVAL;
	case CRI_GRPC_DEADLINE_EXCEEDED: return KC_ETIMEOUT;
	case CRI_GRPC_NOT_FOUND: return KC_ENOTFOUND;
	case CRI_GRPC_ALREADY_EXISTS: return KC_EEXIST;
	case CRI_GRPC_PERMISSION_DENIED: return KC_EFORBIDDEN;
	case CRI_GRPC_RESOURCE_EXHAUSTED: return KC_ETOOLARGE;
	case CRI_GRPC_FAILED_PRECONDITION: return -EBUSY;
	case CRI_GRPC_ABORTED: return KC_ECONFLICT;
	case CRI_GRPC_OUT_OF_RANGE: return -ERANGE;
	case CRI_GRPC_UNIMPLEMENTED: return -ENOSYS;
	case CRI_GRPC_UNAVAILABLE: return -ECONNREFUSED;
	case CRI_GRPC_DATA_LOSS: return -EIO;
	case CRI_GRPC_UNAUTHENTICATED: return KC_EUNAUTH;
	case CRI_GRPC_INTERNAL:
	case CRI_GRPC_UNKNOWN:
	default: return KC_ESERVER;
	}
}

const char *cri_grpc_code_name(int code)
{
	static const char *const names[] = {
		"OK", "Canceled", "Unknown", "InvalidArgument", "DeadlineExceeded", "NotFound",
		"AlreadyExists", "PermissionDenied", "ResourceExhausted", "FailedPrecondition",
		"Aborted", "OutOfRange", "Unimplemented", "Internal", "Unavailable", "DataLoss",
		"Unauthenticated",
	};
	if (code < 0 || code > CRI_GRPC_UNAUTHENTICATED)
		return "Unknown";
	return names[code];
}

/* --------------------------------------------------------------- connection */

struct cri_call {
	const char *path;
	uint8_t *req; /* prefix + message, owned */
	size_t req_len, req_off;
	int64_t timeout_ms;
	int64_t deadline_ns;
	int32_t stream_id;
	int http_status;
	int bad_content_type; /* a content-type that is not application/grpc[+...|;...] */
	int have_grpc_status;
	int grpc_code;
	char grpc_msg[CRI_GRPC_MSG_MAX];
	cri_grpc_decoder dec;
	int done;
	int result;
	uint8_t *resp;
	size_t resp_len;
	struct cri_call *next, *prev;
};

struct cri_conn {
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	size_t max_msg;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	pthread_t thr;
	int thr_started;
	int stop;
	int wake[2];
	int fd;
	nghttp2_session *sess;
	struct cri_call *pending; /* FIFO, not yet submitted (singly linked via next) */
	struct cri_call *pending_tail;
	struct cri_call *inflight; /* doubly linked */
	unsigned long dials;
};

static int64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Called with c->mu held.  Finishes a call and wakes its caller; the I/O thread never
 * touches the call again. */
static void call_finish(cri_conn *c, struct cri_call *call, int code, const char *msg)
{
	if (call->done)
		return;
	call->grpc_code = code;
	if (msg)
		snprintf(call->grpc_msg, sizeof(call->grpc_msg), "%s", msg);
	call->result = cri_grpc_code_to_err(code);
	call->done = 1;
	pthread_cond_broadcast(&c->cv);
}

static void inflight_remove(cri_conn *c, struct cri_call *call)
{
	if (call->prev)
		call->prev->next = call->next;
	else if (c->inflight == call)
		c->inflight = call->next;
	if (call->next)
		call->next->prev = call->prev;
	call->next = call->prev = NULL;
}

static void inflight_add(cri_conn *c, struct cri_call *call)
{
	call->prev = NULL;
	call->next = c->inflight;
	if (c->inflight)
		c->inflight->prev = call;
	c->inflight = call;
}

/* Stream is over (closed by the server, reset, or connection lost): decide the result. */
static void call_complete_stream(cri_conn *c, struct cri_call *call, uint32_t h2_error)
{
	inflight_remove(c, call);
	if (call->dec.err == -EMSGSIZE) {
		char m[128];
		snprintf(m, sizeof(m), "grpc: received message larger than max (%zu vs. %zu)",
			 call->dec.msg_len, call->dec.max_msg);
		call_finish(c, call, CRI_GRPC_RESOURCE_EXHAUSTED, m);
		return;
	}
	if (call->dec.err) {
		char m[128];
		snprintf(m, sizeof(m), "grpc: malformed response message: %s", kc_strerror(call->dec.err));
		call_finish(c, call, CRI_GRPC_INTERNAL, m);
		return;
	}
	if (h2_error != NGHTTP2_NO_ERROR && !call->have_grpc_status) {
		char m[128];
		snprintf(m, sizeof(m), "stream reset by runtime: %s", nghttp2_http2_strerror(h2_error));
		call_finish(c, call, h2_error == NGHTTP2_REFUSED_STREAM ? CRI_GRPC_UNAVAILABLE
									  : CRI_GRPC_INTERNAL, m);
		return;
	}
	if (call->bad_content_type) {
		call_finish(c, call, CRI_GRPC_INTERNAL, "transport: received unexpected content-type from runtime");
		return;
	}
	if (call->http_status != 200 && !call->have_grpc_status) {
		char m[128];
		snprintf(m, sizeof(m), "unexpected HTTP status code %d from runtime", call->http_status);
		call_finish(c, call, CRI_GRPC_UNKNOWN, m);
		return;
	}
	if (!call->have_grpc_status) {
		call_finish(c, call, CRI_GRPC_INTERNAL, "server closed the stream without sending trailers");
		return;
	}
	if (call->grpc_code != CRI_GRPC_OK) {
		char m[CRI_GRPC_MSG_MAX];
		memcpy(m, call->grpc_msg, sizeof(m));
		call_finish(c, call, call->grpc_code, m);
		return;
	}
	int rc = cri_grpc_decoder_take(&call->dec, &call->resp, &call->resp_len);
	if (rc < 0) {
		call_finish(c, call, CRI_GRPC_INTERNAL, "grpc: no response message before OK status");
		return;
	}
	call_finish(c, call, CRI_GRPC_OK, "");
}

static void conn_drop(cri_conn *c, const char *why)
{
	if (c->sess) {
		nghttp2_session_del(c->sess);
		c->sess = NULL;
	}
	if (c->fd >= 0) {
		close(c->fd);
		c->fd = -1;
	}
	while (c->inflight) {
		struct cri_call *call = c->inflight;
		inflight_remove(c, call);
		call_finish(c, call, CRI_GRPC_UNAVAILABLE, why);
	}
}

/* nghttp2 callbacks: all run on the I/O thread with c->mu held. */

static ssize_t cb_send(nghttp2_session *s, const uint8_t *data, size_t len, int flags, void *ud)
{
	cri_conn *c = ud;
	ssize_t n = send(c->fd, data, len, MSG_NOSIGNAL);
	if (n < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return NGHTTP2_ERR_WOULDBLOCK;
		if (errno == EINTR)
			return NGHTTP2_ERR_WOULDBLOCK;
		return NGHTTP2_ERR_CALLBACK_FAILURE;
	}
	return n;
}

static int cb_header(nghttp2_session *s, const nghttp2_frame *frame, const uint8_t *name, size_t namelen,
		     const uint8_t *value, size_t valuelen, uint8_t flags, void *ud)
{
	if (frame->hd.type != NGHTTP2_HEADERS)
		return 0;
	struct cri_call *call = nghttp2_session_get_stream_user_data(s, frame->hd.stream_id);
	if (!call)
		return 0;
	if (namelen == 7 && memcmp(name, ":status", 7) == 0) {
		int v = 0;
		for (size_t i = 0; i < valuelen && i < 4; i++)
			v = v * 10 + (value[i] >= '0' && value[i] <= '9' ? value[i] - '0' : 0);
		call->http_status = v;
	} else if (namelen == 12 && memcmp(name, "content-type", 12) == 0) {
		/* PROTOCOL-HTTP2.md: "application/grpc" optionally followed by "+proto" etc. */
		call->bad_content_type = !(valuelen >= 16 && memcmp(value, "application/grpc", 16) == 0 &&
					   (valuelen == 16 || value[16] == '+' || value[16] == ';'));
	} else if (namelen == 11 && memcmp(name, "grpc-status", 11) == 0) {
		int code;
		if (cri_grpc_parse_status((const char *)value, valuelen, &code) == 0) {
			call->grpc_code = code;
		} else {
			call->grpc_code = CRI_GRPC_UNKNOWN;
			snprintf(call->grpc_msg, sizeof(call->grpc_msg), "malformed grpc-status %.*s",
				 (int)(valuelen > 32 ? 32 : valuelen), (const char *)value);
		}
		call->have_grpc_status = 1;
	} else if (namelen == 12 && memcmp(name, "grpc-message", 12) == 0) {
		cri_grpc_percent_decode((const char *)value, valuelen, call->grpc_msg, sizeof(call->grpc_msg));
	}
	return 0;
}

static int cb_data_chunk(nghttp2_session *s, uint8_t flags, int32_t stream_id, const uint8_t *data,
			 size_t len, void *ud)
{
	struct cri_call *call = nghttp2_session_get_stream_user_data(s, stream_id);
	if (!call)
		return 0;
	if (cri_grpc_decoder_feed(&call->dec, data, len) < 0)
		nghttp2_submit_rst_stream(s, NGHTTP2_FLAG_NONE, stream_id, NGHTTP2_CANCEL);
	return 0;
}

static int cb_stream_close(nghttp2_session *s, int32_t stream_id, uint32_t error_code, void *ud)
{
	cri_conn *c = ud;
	struct cri_call *call = nghttp2_session_get_stream_user_data(s, stream_id);
	if (!call)
		return 0;
	nghttp2_session_set_stream_user_data(s, stream_id, NULL);
	call_complete_stream(c, call, error_code);
	return 0;
}

static ssize_t cb_read_body(nghttp2_session *s, int32_t stream_id, uint8_t *buf, size_t length,
			    uint32_t *data_flags, nghttp2_data_source *src, void *ud)
{
	struct cri_call *call = nghttp2_session_get_stream_user_data(s, stream_id);
	if (!call)
		return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
	size_t n = call->req_len - call->req_off;
	if (n > length)
		n = length;
	memcpy(buf, call->req + call->req_off, n);
	call->req_off += n;
	if (call->req_off == call->req_len)
		*data_flags |= NGHTTP2_DATA_FLAG_EOF;
	return (ssize_t)n;
}

static int conn_dial(cri_conn *c)
{
	/* Non-blocking from the start: a unix connect never waits (EAGAIN when the
	 * runtime's backlog is full), so a wedged runtime cannot stall the I/O thread. */
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	struct sockaddr_un sa;
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, c->path, strlen(c->path) + 1);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = -errno;
		close(fd);
		return e;
	}

	nghttp2_session_callbacks *cbs;
	if (nghttp2_session_callbacks_new(&cbs) != 0) {
		close(fd);
		return -ENOMEM;
	}
	nghttp2_session_callbacks_set_send_callback(cbs, cb_send);
	nghttp2_session_callbacks_set_on_header_callback(cbs, cb_header);
	nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, cb_data_chunk);
	nghttp2_session_callbacks_set_on_stream_close_callback(cbs, cb_stream_close);
	nghttp2_session *sess;
	int rc = nghttp2_session_client_new(&sess, cbs, c);
	nghttp2_session_callbacks_del(cbs);
	if (rc != 0) {
		close(fd);
		return -ENOMEM;
	}
	/* A large stream window so a big ListContainers reply is not throttled by
	 * round trips; nghttp2 sends WINDOW_UPDATEs as we consume. */
	nghttp2_settings_entry iv[] = {
		{ NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, 100 },
		{ NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, 1 << 20 },
	};
	nghttp2_submit_settings(sess, NGHTTP2_FLAG_NONE, iv, 2);
	nghttp2_session_set_local_window_size(sess, NGHTTP2_FLAG_NONE, 0, 4 << 20);
	c->fd = fd;
	c->sess = sess;
	c->dials++;
	kc_log_v(2, "CRI: connected to unix://%s (connection %lu)", c->path, c->dials);
	return 0;
}

#define NV(n, v) { (uint8_t *)(n), (uint8_t *)(v), sizeof(n) - 1, strlen(v), NGHTTP2_NV_FLAG_NONE }

static void call_submit(cri_conn *c, struct cri_call *call)
{
	char timeout[24] = "";
	/* grpc-timeout: at most 8 digits; milliseconds fit any sane deadline. */
	if (call->timeout_ms > 0)
		snprintf(timeout, sizeof(timeout), "%" PRId64 "m",
			 call->timeout_ms > 99999999 ? (int64_t)99999999 : call->timeout_ms);
	nghttp2_nv hdrs[] = {
		NV(":method", "POST"),
		NV(":scheme", "http"),
		NV(":path", call->path),
		NV(":authority", "localhost"),
		NV("content-type", "application/grpc"),
		NV("te", "trailers"),
		NV("user-agent", "kubec-kubelet/v1.32 grpc-c-nghttp2"),
		NV("grpc-timeout", timeout),
	};
	size_t nh = sizeof(hdrs) / sizeof(hdrs[0]) - (call->timeout_ms > 0 ? 0 : 1);
	nghttp2_data_provider dp = { .source.ptr = call, .read_callback = cb_read_body };
	int32_t id = nghttp2_submit_request(c->sess, NULL, hdrs, nh, &dp, call);
	if (id < 0) {
		char m[128];
		snprintf(m, sizeof(m), "cannot start stream: %s", nghttp2_strerror(id));
		call_finish(c, call, CRI_GRPC_UNAVAILABLE, m);
		return;
	}
	call->stream_id = id;
	inflight_add(c, call);
}

static void *io_thread(void *arg)
{
	cri_conn *c = arg;
	uint8_t buf[16384];

	pthread_mutex_lock(&c->mu);
	while (!c->stop) {
		int64_t now = mono_ns();

		/* A session the server has sent GOAWAY on accepts no new streams: let it
		 * drain, then dial a fresh one for whatever is pending. */
		if (c->sess && !nghttp2_session_check_request_allowed(c->sess) && !c->inflight)
			conn_drop(c, "connection draining");
		if (c->pending && !c->sess) {
			int rc = conn_dial(c);
			if (rc < 0) {
				char m[CRI_GRPC_MSG_MAX];
				snprintf(m, sizeof(m), "connection error: dial unix %s: %s", c->path, kc_strerror(rc));
				while (c->pending) {
					struct cri_call *call = c->pending;
					c->pending = call->next;
					call->next = NULL;
					call_finish(c, call, CRI_GRPC_UNAVAILABLE, m);
				}
				c->pending_tail = NULL;
			}
		}
		if (c->sess && nghttp2_session_check_request_allowed(c->sess)) {
			while (c->pending) {
				struct cri_call *call = c->pending;
				c->pending = call->next;
				call->next = NULL;
				call_submit(c, call);
			}
			c->pending_tail = NULL;
		}

		/* Deadlines: reset the stream and report DEADLINE_EXCEEDED as grpc-go does. */
		int64_t next_deadline = INT64_MAX;
		for (struct cri_call *call = c->inflight, *nx; call; call = nx) {
			nx = call->next;
			if (call->deadline_ns && call->deadline_ns <= now) {
				nghttp2_session_set_stream_user_data(c->sess, call->stream_id, NULL);
				nghttp2_submit_rst_stream(c->sess, NGHTTP2_FLAG_NONE, call->stream_id, NGHTTP2_CANCEL);
				inflight_remove(c, call);
				call_finish(c, call, CRI_GRPC_DEADLINE_EXCEEDED, "context deadline exceeded");
			} else if (call->deadline_ns && call->deadline_ns < next_deadline) {
				next_deadline = call->deadline_ns;
			}
		}
		/* Pending calls waiting for a draining session also have deadlines. */
		for (struct cri_call **pp = &c->pending; *pp;) {
			struct cri_call *call = *pp;
			if (call->deadline_ns && call->deadline_ns <= now) {
				*pp = call->next;
				call->next = NULL;
				call_finish(c, call, CRI_GRPC_DEADLINE_EXCEEDED, "context deadline exceeded");
				continue;
			}
			if (call->deadline_ns && call->deadline_ns < next_deadline)
				next_deadline = call->deadline_ns;
			pp = &call->next;
		}
		c->pending_tail = NULL;
		for (struct cri_call *call = c->pending; call; call = call->next)
			c->pending_tail = call;

		if (c->sess) {
			int rc = nghttp2_session_send(c->sess);
			if (rc != 0) {
				conn_drop(c, "connection error: write to runtime failed");
				continue;
			}
			if (!nghttp2_session_want_read(c->sess) && !nghttp2_session_want_write(c->sess)) {
				conn_drop(c, "connection closed by runtime");
				continue;
			}
		}

		struct pollfd pfd[2] = { { .fd = c->wake[0], .events = POLLIN } };
		int nfd = 1;
		if (c->sess) {
			pfd[1].fd = c->fd;
			pfd[1].events = POLLIN | (nghttp2_session_want_write(c->sess) ? POLLOUT : 0);
			nfd = 2;
		}
		int tmo = -1;
		if (next_deadline != INT64_MAX) {
			int64_t ms = (next_deadline - now + 999999) / 1000000;
			tmo = ms > 60000 ? 60000 : (int)(ms < 0 ? 0 : ms);
		}
		pthread_mutex_unlock(&c->mu);
		int pr = poll(pfd, nfd, tmo);
		pthread_mutex_lock(&c->mu);
		if (pr <= 0)
			continue;
		if (pfd[0].revents & POLLIN) {
			char tmp[64];
			while (read(c->wake[0], tmp, sizeof(tmp)) > 0)
				;
		}
		if (nfd == 2 && c->sess && (pfd[1].revents & (POLLIN | POLLHUP | POLLERR))) {
			for (;;) {
				ssize_t n = recv(c->fd, buf, sizeof(buf), 0);
				if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
					break;
				if (n < 0 && errno == EINTR)
					continue;
				if (n <= 0) {
					conn_drop(c, n == 0 ? "connection closed by runtime"
							    : "connection error: read from runtime failed");
					break;
				}
				ssize_t used = nghttp2_session_mem_recv(c->sess, buf, (size_t)n);
				if (used < 0) {
					kc_warn("CRI: HTTP/2 protocol error from runtime: %s", nghttp2_strerror((int)used));
					conn_drop(c, "connection error: HTTP/2 protocol error");
					break;
				}
			}
		}
	}
	conn_drop(c, "client closed");
	while (c->pending) {
		struct cri_call *call = c->pending;
		c->pending = call->next;
		call_finish(c, call, CRI_GRPC_CANCELLED, "client closed");
	}
	pthread_mutex_unlock(&c->mu);
	return NULL;
}

int cri_conn_new(const char *endpoint, cri_conn **out)
{
	if (!endpoint || !out)
		return -EINVAL;
	const char *p = endpoint;
	if (strncmp(p, "unix://", 7) == 0)
		p += 7;
	else if (strstr(p, "://"))
		return -EINVAL; /* only unix sockets, as the kubelet on Linux */
	if (p[0] != '/')
		return -EINVAL;
	cri_conn *c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	if (strlen(p) >= sizeof(c->path)) {
		free(c);
		return -ENAMETOOLONG;
	}
	strcpy(c->path, p);
	c->fd = -1;
	c->max_msg = CRI_GRPC_DEFAULT_MAX_MSG;
	if (pipe2(c->wake, O_NONBLOCK | O_CLOEXEC) < 0) {
		int e = -errno;
		free(c);
		return e;
	}
	pthread_mutex_init(&c->mu, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&c->cv, &ca);
	pthread_condattr_destroy(&ca);
	int rc = pthread_create(&c->thr, NULL, io_thread, c);
	if (rc != 0) {
		close(c->wake[0]);
		close(c->wake[1]);
		pthread_mutex_destroy(&c->mu);
		pthread_cond_destroy(&c->cv);
		free(c);
		return -rc;
	}
	c->thr_started = 1;
	*out = c;
	return 0;
}

void cri_conn_free(cri_conn *c)
{
	if (!c)
		return;
	pthread_mutex_lock(&c->mu);
	c->stop = 1;
	pthread_mutex_unlock(&c->mu);
	if (write(c->wake[1], "x", 1) < 0) {
		/* pipe full: the thread is awake anyway */
	}
	if (c->thr_started)
		pthread_join(c->thr, NULL);
	close(c->wake[0]);
	close(c->wake[1]);
	pthread_mutex_destroy(&c->mu);
	pthread_cond_destroy(&c->cv);
	free(c);
}

void cri_conn_set_max_msg(cri_conn *c, size_t max_msg)
{
	pthread_mutex_lock(&c->mu);
	c->max_msg = max_msg ? max_msg : CRI_GRPC_DEFAULT_MAX_MSG;
	pthread_mutex_unlock(&c->mu);
}

unsigned long cri_conn_dials(cri_conn *c)
{
	pthread_mutex_lock(&c->mu);
	unsigned long d = c->dials;
	pthread_mutex_unlock(&c->mu);
	return d;
}

int cri_conn_call(cri_conn *c, const char *path, const uint8_t *req, size_t req_len,
		  int64_t timeout_ms, uint8_t **resp, size_t *resp_len, cri_grpc_status *st)
{
	if (st) {
		st->code = CRI_GRPC_OK;
		st->message[0] = '\0';
	}
	if (!c || !path || path[0] != '/' || !resp || !resp_len || (req_len && !req))
		return -EINVAL;
	*resp = NULL;
	*resp_len = 0;
	struct cri_call call;
	memset(&call, 0, sizeof(call));
	call.path = path;
	call.req_len = CRI_GRPC_PREFIX_LEN + req_len;
	call.req = malloc(call.req_len);
	if (!call.req)
		return -ENOMEM;
	if (cri_grpc_prefix_encode(req_len, call.req) < 0) {
		free(call.req);
		return -EMSGSIZE;
	}
	if (req_len)
		memcpy(call.req + CRI_GRPC_PREFIX_LEN, req, req_len);
	call.timeout_ms = timeout_ms;
	call.deadline_ns = timeout_ms > 0 ? mono_ns() + timeout_ms * 1000000LL : 0;

	pthread_mutex_lock(&c->mu);
	cri_grpc_decoder_init(&call.dec, c->max_msg);
	if (c->stop) {
		pthread_mutex_unlock(&c->mu);
		free(call.req);
		return -ECANCELED;
	}
	if (c->pending_tail)
		c->pending_tail->next = &call;
	else
		c->pending = &call;
	c->pending_tail = &call;
	pthread_mutex_unlock(&c->mu);
	if (write(c->wake[1], "x", 1) < 0) {
		/* pipe full means the I/O thread has a wakeup queued already */
	}
	pthread_mutex_lock(&c->mu);
	while (!call.done)
		pthread_cond_wait(&c->cv, &c->mu);
	pthread_mutex_unlock(&c->mu);

	free(call.req);
	cri_grpc_decoder_close(&call.dec);
	if (st) {
		st->code = call.grpc_code;
		memcpy(st->message, call.grpc_msg, sizeof(st->message));
	}
	if (call.result == 0) {
		*resp = call.resp;
		*resp_len = call.resp_len;
	} else {
		free(call.resp);
	}
	return call.result;
}
