/* kubelet/grpc.c and cri_client.c: gRPC framing across partial reads, trailer parsing,
 * size limits, and the client against an in-process HTTP/2 gRPC server (nghttp2 server
 * session on a unix socket): headers, trailers-only errors, deadlines, oversize replies,
 * missing trailers, malformed protobuf, connection loss + reconnect, and many concurrent
 * calls multiplexed on one connection. */
#include <errno.h>
#include <ftw.h>
#include <nghttp2/nghttp2.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "errors.h"
#include "kc_test.h"
#include "../../kubelet/cri_client.h"
#include "../../kubelet/grpc.h"

/* ------------------------------------------------------------ framing */

START_TEST(prefix_is_flag_and_big_endian_length)
{
	uint8_t p[5];
	ck_assert_int_eq(cri_grpc_prefix_encode(0x01020304, p), 0);
	ck_assert_uint_eq(p[0], 0);
	ck_assert_uint_eq(p[1], 1);
	ck_assert_uint_eq(p[2], 2);
	ck_assert_uint_eq(p[3], 3);
	ck_assert_uint_eq(p[4], 4);
	ck_assert_int_eq(cri_grpc_prefix_encode((size_t)UINT32_MAX + 1, p), -EMSGSIZE);
}
END_TEST

static size_t frame(const char *msg, uint8_t *out)
{
	size_t n = strlen(msg);
	cri_grpc_prefix_encode(n, out);
	memcpy(out + 5, msg, n);
	return n + 5;
}

START_TEST(decoder_reassembles_byte_by_byte)
{
	uint8_t buf[64];
	size_t n = frame("hello, runtime", buf);
	cri_grpc_decoder d;
	cri_grpc_decoder_init(&d, 1024);
	uint8_t *msg;
	size_t len;
	for (size_t i = 0; i < n; i++) {
		ck_assert_int_eq(cri_grpc_decoder_take(&d, &msg, &len), -ENODATA);
		ck_assert_int_eq(cri_grpc_decoder_feed(&d, buf + i, 1), 0);
	}
	ck_assert_int_eq(cri_grpc_decoder_take(&d, &msg, &len), 0);
	ck_assert_uint_eq(len, 14);
	ck_assert(memcmp(msg, "hello, runtime", 14) == 0);
	free(msg);
	cri_grpc_decoder_close(&d);
}
END_TEST

START_TEST(decoder_handles_split_prefix_and_body)
{
	uint8_t buf[64];
	size_t n = frame("abcdef", buf);
	cri_grpc_decoder d;
	cri_grpc_decoder_init(&d, 1024);
	ck_assert_int_eq(cri_grpc_decoder_feed(&d, buf, 3), 0);     /* half a prefix */
	ck_assert_int_eq(cri_grpc_decoder_feed(&d, buf + 3, 4), 0); /* rest + 2 body bytes */
	ck_assert_int_eq(cri_grpc_decoder_feed(&d, buf + 7, n - 7), 0);
	uint8_t *msg;
	size_t len;
	ck_assert_int_eq(cri_grpc_decoder_take(&d, &msg, &len), 0);
	ck_assert_uint_eq(len, 6);
	ck_assert(memcmp(msg, "abcdef", 6) == 0);
	free(msg);
	cri_grpc_decoder_close(&d);
}
END_TEST

START_TEST(decoder_accepts_empty_message)
{
	/* StartContainerResponse{} serializes to zero bytes: prefix only */
	uint8_t buf[5];
	cri_grpc_prefix_encode(0, buf);
	cri_grpc_decoder d;
	cri_grpc_decoder_init(&d, 1024);
	ck_assert_int_eq(cri_grpc_decoder_feed(&d, buf, 5), 0);
	uint8_t *msg = (uint8_t *)"x";
	size_t len = 99;
	ck_assert_int_eq(cri_grpc_decoder_take(&d, &msg, &len), 0);
	ck_assert_ptr_null(msg);
	ck_assert_uint_eq(len, 0);
	cri_grpc_decoder_close(&d);
}
END_TEST

START_TEST(decoder_rejects_oversize_before_buffering)
{
	uint8_t p[5];
	cri_grpc_prefix_encode(2048, p);
	cri_grpc_decoder d;
	cri_grpc_decoder_init(&d, 1024);
	ck_assert_int_eq(cri_grpc_decoder_feed(&d, p, 5), -EMSGSIZE);
	ck_assert_ptr_null(d.msg); /* nothing allocated for the oversize body */
	uint8_t more[8] = { 0 };
	ck_assert_int_eq(cri_grpc_decoder_feed(&d, more, 8), -EMSGSIZE); /* sticky */
	uint8_t *msg;
	size_t len;
	ck_assert_int_eq(cri_grpc_decoder_take(&d, &msg, &len), -EMSGSIZE);
	cri_grpc_decoder_close(&d);

	/* exactly at the limit is fine */
	cri_grpc_decoder_init(&d, 4);
	uint8_t buf[16];
	size_t n = frame("abcd", buf);
	ck_assert_int_eq(cri_grpc_decoder_feed(&d, buf, n), 0);
	ck_assert_int_eq(cri_grpc_decoder_take(&d, &msg, &len), 0);
	free(msg);
	cri_grpc_decoder_close(&d);
}
END_TEST

START_TEST(decoder_rejects_compressed_bad_flag_and_extra_bytes)
{
	uint8_t buf[32];
	cri_grpc_decoder d;
	size_t n = frame("abc", buf);
	buf[0] = 1; /* compressed: we never offered grpc-accept-encoding */
	cri_grpc_decoder_init(&d, 1024);
	ck_assert_int_eq(cri_grpc_decoder_feed(&d, buf, n), -ENOTSUP);
	cri_grpc_decoder_close(&d);

	buf[0] = 7;
	cri_grpc_decoder_init(&d, 1024);
	ck_assert_int_eq(cri_grpc_decoder_feed(&d, buf, n), -EPROTO);
	cri_grpc_decoder_close(&d);

	/* unary: a second message (or any trailing byte) is a protocol error */
	buf[0] = 0;
	cri_grpc_decoder_init(&d, 1024);
	ck_assert_int_eq(cri_grpc_decoder_feed(&d, buf, n), 0);
	ck_assert_int_eq(cri_grpc_decoder_feed(&d, buf, 1), -EPROTO);
	uint8_t *msg;
	size_t len;
	ck_assert_int_eq(cri_grpc_decoder_take(&d, &msg, &len), -EPROTO);
	cri_grpc_decoder_close(&d);
}
END_TEST

START_TEST(decoder_truncated_body_is_nodata)
{
	uint8_t buf[32];
	size_t n = frame("abcdef", buf);
	cri_grpc_decoder d;
	cri_grpc_decoder_init(&d, 1024);
	ck_assert_int_eq(cri_grpc_decoder_feed(&d, buf, n - 1), 0);
	uint8_t *msg;
	size_t len;
	ck_assert_int_eq(cri_grpc_decoder_take(&d, &msg, &len), -ENODATA);
	cri_grpc_decoder_close(&d);
}
END_TEST

/* ------------------------------------------------------------ trailers */

START_TEST(status_parsing)
{
	int code = -1;
	ck_assert_int_eq(cri_grpc_parse_status("0", 1, &code), 0);
	ck_assert_int_eq(code, CRI_GRPC_OK);
	ck_assert_int_eq(cri_grpc_parse_status("5", 1, &code), 0);
	ck_assert_int_eq(code, CRI_GRPC_NOT_FOUND);
	ck_assert_int_eq(cri_grpc_parse_status("16", 2, &code), 0);
	ck_assert_int_eq(code, CRI_GRPC_UNAUTHENTICATED);
	ck_assert_int_eq(cri_grpc_parse_status("42", 2, &code), 0);
	ck_assert_int_eq(code, CRI_GRPC_UNKNOWN);
	ck_assert_int_eq(cri_grpc_parse_status("", 0, &code), -EPROTO);
	ck_assert_int_eq(cri_grpc_parse_status("-1", 2, &code), -EPROTO);
	ck_assert_int_eq(cri_grpc_parse_status("1x", 2, &code), -EPROTO);
	ck_assert_int_eq(cri_grpc_parse_status("99999999999", 11, &code), -EPROTO);
}
END_TEST

START_TEST(message_percent_decoding)
{
	char out[64];
	const char *in = "not%20found%3A%20%E2%9C%93";
	ck_assert_uint_eq(cri_grpc_percent_decode(in, strlen(in), out, sizeof(out)), strlen("not found: \xe2\x9c\x93"));
	ck_assert_str_eq(out, "not found: \xe2\x9c\x93");
	/* invalid escapes stay literal, as the gRPC spec asks */
	in = "100% sure %zz %4";
	cri_grpc_percent_decode(in, strlen(in), out, sizeof(out));
	ck_assert_str_eq(out, "100% sure %zz %4");
	/* truncation keeps a NUL */
	in = "abcdefgh";
	ck_assert_uint_eq(cri_grpc_percent_decode(in, strlen(in), out, 4), 3);
	ck_assert_str_eq(out, "abc");
}
END_TEST

START_TEST(codes_map_to_project_errors)
{
	ck_assert_int_eq(cri_grpc_code_to_err(CRI_GRPC_OK), 0);
	ck_assert_int_eq(cri_grpc_code_to_err(CRI_GRPC_NOT_FOUND), KC_ENOTFOUND);
	ck_assert_int_eq(cri_grpc_code_to_err(CRI_GRPC_DEADLINE_EXCEEDED), KC_ETIMEOUT);
	ck_assert_int_eq(cri_grpc_code_to_err(CRI_GRPC_ALREADY_EXISTS), KC_EEXIST);
	ck_assert_int_eq(cri_grpc_code_to_err(CRI_GRPC_UNAVAILABLE), -ECONNREFUSED);
	ck_assert_int_eq(cri_grpc_code_to_err(CRI_GRPC_RESOURCE_EXHAUSTED), KC_ETOOLARGE);
	ck_assert_int_eq(cri_grpc_code_to_err(99), KC_ESERVER);
	ck_assert_str_eq(cri_grpc_code_name(CRI_GRPC_NOT_FOUND), "NotFound");
	ck_assert_str_eq(cri_grpc_code_name(1000), "Unknown");
}
END_TEST

/* ------------------------------------------------- in-process gRPC server */

struct sstream {
	int32_t id;
	char path[128];
	uint8_t body[4096];
	size_t body_len;
	int overflow;
	uint8_t *resp;
	size_t resp_len, resp_off;
	int with_trailers;
	struct sstream *next;
};

struct srv {
	char dir[96];
	char path[108];
	int lfd;
	int cfd;
	pthread_t th;
	atomic_int stop;
	atomic_int conns;
	pthread_mutex_t mu;
	/* headers of the last request */
	char method[16], scheme[16], te[32], ctype[64], timeout[32], authority[64];
	/* canned reply (framed by the server) for /runtime.v1.* paths */
	uint8_t canned[512];
	size_t canned_len;
	int close_now;
	struct sstream *streams;
};

static struct sstream *sstream_get(struct srv *s, int32_t id)
{
	for (struct sstream *x = s->streams; x; x = x->next)
		if (x->id == id)
			return x;
	return NULL;
}

static ssize_t srv_send(nghttp2_session *ss, const uint8_t *data, size_t len, int flags, void *ud)
{
	struct srv *s = ud;
	ssize_t n = send(s->cfd, data, len, MSG_NOSIGNAL);
	if (n < 0)
		return errno == EAGAIN ? NGHTTP2_ERR_WOULDBLOCK : NGHTTP2_ERR_CALLBACK_FAILURE;
	return n;
}

static int srv_begin_headers(nghttp2_session *ss, const nghttp2_frame *f, void *ud)
{
	struct srv *s = ud;
	if (f->hd.type != NGHTTP2_HEADERS || f->headers.cat != NGHTTP2_HCAT_REQUEST)
		return 0;
	struct sstream *x = calloc(1, sizeof(*x));
	x->id = f->hd.stream_id;
	x->next = s->streams;
	s->streams = x;
	return 0;
}

static void copyv(char *dst, size_t cap, const uint8_t *v, size_t vl)
{
	size_t n = vl < cap - 1 ? vl : cap - 1;
	memcpy(dst, v, n);
	dst[n] = '\0';
}

static int srv_header(nghttp2_session *ss, const nghttp2_frame *f, const uint8_t *name, size_t nl,
		      const uint8_t *v, size_t vl, uint8_t flags, void *ud)
{
	struct srv *s = ud;
	struct sstream *x = sstream_get(s, f->hd.stream_id);
	if (!x)
		return 0;
	pthread_mutex_lock(&s->mu);
	if (nl == 5 && !memcmp(name, ":path", 5))
		copyv(x->path, sizeof(x->path), v, vl);
	else if (nl == 7 && !memcmp(name, ":method", 7))
		copyv(s->method, sizeof(s->method), v, vl);
	else if (nl == 7 && !memcmp(name, ":scheme", 7))
		copyv(s->scheme, sizeof(s->scheme), v, vl);
	else if (nl == 10 && !memcmp(name, ":authority", 10))
		copyv(s->authority, sizeof(s->authority), v, vl);
	else if (nl == 2 && !memcmp(name, "te", 2))
		copyv(s->te, sizeof(s->te), v, vl);
	else if (nl == 12 && !memcmp(name, "content-type", 12))
		copyv(s->ctype, sizeof(s->ctype), v, vl);
	else if (nl == 12 && !memcmp(name, "grpc-timeout", 12))
		copyv(s->timeout, sizeof(s->timeout), v, vl);
	pthread_mutex_unlock(&s->mu);
	return 0;
}

static int srv_data(nghttp2_session *ss, uint8_t flags, int32_t id, const uint8_t *d, size_t len, void *ud)
{
	struct sstream *x = sstream_get(ud, id);
	if (!x)
		return 0;
	if (x->body_len + len > sizeof(x->body)) {
		x->overflow = 1;
		return 0;
	}
	memcpy(x->body + x->body_len, d, len);
	x->body_len += len;
	return 0;
}

static ssize_t srv_read(nghttp2_session *ss, int32_t id, uint8_t *buf, size_t length, uint32_t *flags,
			nghttp2_data_source *src, void *ud)
{
	struct sstream *x = src->ptr;
	size_t n = x->resp_len - x->resp_off;
	if (n > length)
		n = length;
	memcpy(buf, x->resp + x->resp_off, n);
	x->resp_off += n;
	if (x->resp_off == x->resp_len) {
		*flags |= NGHTTP2_DATA_FLAG_EOF;
		if (x->with_trailers) {
			*flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
			nghttp2_nv tr[] = { { (uint8_t *)"grpc-status", (uint8_t *)"0", 11, 1, 0 } };
			nghttp2_submit_trailer(ss, id, tr, 1);
		}
	}
	return (ssize_t)n;
}

#define SNV(n, v) { (uint8_t *)(n), (uint8_t *)(v), strlen(n), strlen(v), NGHTTP2_NV_FLAG_NONE }

static void respond_data(nghttp2_session *ss, struct sstream *x, const uint8_t *d, size_t len, int trailers)
{
	x->resp = malloc(len ? len : 1);
	memcpy(x->resp, d, len);
	x->resp_len = len;
	x->with_trailers = trailers;
	nghttp2_nv h[] = { SNV(":status", "200"), SNV("content-type", "application/grpc") };
	nghttp2_data_provider dp = { .source.ptr = x, .read_callback = srv_read };
	nghttp2_submit_response(ss, x->id, h, 2, &dp);
}

static void handle_request(struct srv *s, nghttp2_session *ss, struct sstream *x)
{
	if (!strcmp(x->path, "/test.Echo/Echo")) {
		respond_data(ss, x, x->body, x->body_len, 1); /* the framed request, as is */
	} else if (!strcmp(x->path, "/test.Echo/Error")) {
		nghttp2_nv h[] = { SNV(":status", "200"), SNV("content-type", "application/grpc"),
				   SNV("grpc-status", "5"), SNV("grpc-message", "no%20such%20sandbox%3A%20%E2%9C%93") };
		nghttp2_submit_response(ss, x->id, h, 4, NULL); /* trailers-only */
	} else if (!strcmp(x->path, "/test.Echo/Http500")) {
		nghttp2_nv h[] = { SNV(":status", "503") };
		nghttp2_submit_response(ss, x->id, h, 1, NULL);
	} else if (!strcmp(x->path, "/test.Echo/Html")) {
		nghttp2_nv h[] = { SNV(":status", "200"), SNV("content-type", "text/html"), SNV("grpc-status", "0") };
		nghttp2_submit_response(ss, x->id, h, 3, NULL);
	} else if (!strcmp(x->path, "/test.Echo/Big")) {
		uint8_t d[1024] = { 0 };
		cri_grpc_prefix_encode(2u << 20, d);
		respond_data(ss, x, d, sizeof(d), 1);
	} else if (!strcmp(x->path, "/test.Echo/NoTrailers")) {
		respond_data(ss, x, x->body, x->body_len, 0);
	} else if (!strcmp(x->path, "/test.Echo/Hang")) {
		/* never answer */
	} else if (!strcmp(x->path, "/test.Echo/Close")) {
		s->close_now = 1;
	} else if (!strncmp(x->path, "/runtime.v1.", 12)) {
		uint8_t d[600];
		pthread_mutex_lock(&s->mu);
		cri_grpc_prefix_encode(s->canned_len, d);
		memcpy(d + 5, s->canned, s->canned_len);
		size_t n = s->canned_len + 5;
		pthread_mutex_unlock(&s->mu);
		respond_data(ss, x, d, n, 1);
	} else {
		nghttp2_nv h[] = { SNV(":status", "200"), SNV("content-type", "application/grpc"),
				   SNV("grpc-status", "12"), SNV("grpc-message", "unknown method") };
		nghttp2_submit_response(ss, x->id, h, 4, NULL);
	}
}

static int srv_frame_recv(nghttp2_session *ss, const nghttp2_frame *f, void *ud)
{
	struct srv *s = ud;
	if ((f->hd.type == NGHTTP2_DATA || f->hd.type == NGHTTP2_HEADERS) && (f->hd.flags & NGHTTP2_FLAG_END_STREAM)) {
		struct sstream *x = sstream_get(s, f->hd.stream_id);
		if (x)
			handle_request(s, ss, x);
	}
	return 0;
}

static void serve_conn(struct srv *s)
{
	nghttp2_session_callbacks *cb;
	nghttp2_session_callbacks_new(&cb);
	nghttp2_session_callbacks_set_send_callback(cb, srv_send);
	nghttp2_session_callbacks_set_on_begin_headers_callback(cb, srv_begin_headers);
	nghttp2_session_callbacks_set_on_header_callback(cb, srv_header);
	nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, srv_data);
	nghttp2_session_callbacks_set_on_frame_recv_callback(cb, srv_frame_recv);
	nghttp2_session *ss;
	nghttp2_session_server_new(&ss, cb, s);
	nghttp2_session_callbacks_del(cb);
	nghttp2_settings_entry iv[] = { { NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, 1000 } };
	nghttp2_submit_settings(ss, NGHTTP2_FLAG_NONE, iv, 1);
	uint8_t buf[16384];
	while (!atomic_load(&s->stop) && !s->close_now) {
		if (nghttp2_session_send(ss) != 0)
			break;
		struct pollfd p = { .fd = s->cfd, .events = POLLIN };
		if (poll(&p, 1, 50) <= 0)
			continue;
		ssize_t n = recv(s->cfd, buf, sizeof(buf), 0);
		if (n <= 0)
			break;
		if (nghttp2_session_mem_recv(ss, buf, (size_t)n) < 0)
			break;
	}
	nghttp2_session_del(ss);
	while (s->streams) {
		struct sstream *x = s->streams;
		s->streams = x->next;
		free(x->resp);
		free(x);
	}
	close(s->cfd);
	s->cfd = -1;
	s->close_now = 0;
}

static void *srv_main(void *arg)
{
	struct srv *s = arg;
	while (!atomic_load(&s->stop)) {
		struct pollfd p = { .fd = s->lfd, .events = POLLIN };
		if (poll(&p, 1, 50) <= 0)
			continue;
		s->cfd = accept(s->lfd, NULL, NULL);
		if (s->cfd < 0)
			continue;
		atomic_fetch_add(&s->conns, 1);
		serve_conn(s);
	}
	return NULL;
}

/* Every server socket lives under one directory made by the runner (parent) process
 * and removed by it after the test case, even when a forked test fails midway. */
static char g_base[64];

static void base_setup(void)
{
	snprintf(g_base, sizeof(g_base), "/tmp/kubec-grpc-test.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(g_base));
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	return remove(path);
}

static void base_teardown(void)
{
	nftw(g_base, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
}

static struct srv *srv_start(void)
{
	struct srv *s = calloc(1, sizeof(*s));
	snprintf(s->dir, sizeof(s->dir), "%s/s.XXXXXX", g_base);
	ck_assert_ptr_nonnull(mkdtemp(s->dir));
	snprintf(s->path, sizeof(s->path), "%s/sock", s->dir);
	pthread_mutex_init(&s->mu, NULL);
	s->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	strcpy(sa.sun_path, s->path);
	ck_assert_int_eq(bind(s->lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(listen(s->lfd, 16), 0);
	s->cfd = -1;
	pthread_create(&s->th, NULL, srv_main, s);
	return s;
}

static void srv_stop(struct srv *s)
{
	atomic_store(&s->stop, 1);
	pthread_join(s->th, NULL);
	close(s->lfd);
	unlink(s->path);
	rmdir(s->dir);
	pthread_mutex_destroy(&s->mu);
	free(s);
}

static int call_str(cri_conn *c, const char *path, const char *req, int64_t tmo, char *out, size_t cap,
		    cri_grpc_status *st)
{
	uint8_t *resp = NULL;
	size_t len = 0;
	int rc = cri_conn_call(c, path, (const uint8_t *)req, strlen(req), tmo, &resp, &len, st);
	if (rc == 0 && out) {
		size_t n = len < cap - 1 ? len : cap - 1;
		memcpy(out, resp ? (char *)resp : "", n);
		out[n] = '\0';
	}
	free(resp);
	return rc;
}

START_TEST(call_sends_grpc_headers_and_gets_reply)
{
	struct srv *s = srv_start();
	cri_conn *c;
	ck_assert_int_eq(cri_conn_new(s->path, &c), 0);
	char out[128];
	cri_grpc_status st;
	ck_assert_int_eq(call_str(c, "/test.Echo/Echo", "ping", 5000, out, sizeof(out), &st), 0);
	ck_assert_str_eq(out, "ping");
	ck_assert_int_eq(st.code, CRI_GRPC_OK);
	pthread_mutex_lock(&s->mu);
	ck_assert_str_eq(s->method, "POST");
	ck_assert_str_eq(s->scheme, "http");
	ck_assert_str_eq(s->authority, "localhost");
	ck_assert_str_eq(s->te, "trailers");
	ck_assert_str_eq(s->ctype, "application/grpc");
	ck_assert_str_eq(s->timeout, "5000m");
	pthread_mutex_unlock(&s->mu);
	/* an empty request and reply */
	ck_assert_int_eq(call_str(c, "/test.Echo/Echo", "", 5000, out, sizeof(out), &st), 0);
	ck_assert_str_eq(out, "");
	ck_assert_uint_eq(cri_conn_dials(c), 1);
	cri_conn_free(c);
	srv_stop(s);
}
END_TEST

START_TEST(trailers_only_error_carries_code_and_decoded_message)
{
	struct srv *s = srv_start();
	cri_conn *c;
	ck_assert_int_eq(cri_conn_new("unix://" "", &c), -EINVAL);
	char ep[160];
	snprintf(ep, sizeof(ep), "unix://%s", s->path);
	ck_assert_int_eq(cri_conn_new(ep, &c), 0);
	cri_grpc_status st;
	ck_assert_int_eq(call_str(c, "/test.Echo/Error", "x", 5000, NULL, 0, &st), KC_ENOTFOUND);
	ck_assert_int_eq(st.code, CRI_GRPC_NOT_FOUND);
	ck_assert_str_eq(st.message, "no such sandbox: \xe2\x9c\x93");
	ck_assert_int_eq(call_str(c, "/test.Echo/Nope", "x", 5000, NULL, 0, &st), -ENOSYS);
	ck_assert_int_eq(st.code, CRI_GRPC_UNIMPLEMENTED);
	/* HTTP error without grpc-status: UNKNOWN, with the HTTP status in the message */
	ck_assert_int_lt(call_str(c, "/test.Echo/Http500", "x", 5000, NULL, 0, &st), 0);
	ck_assert_int_eq(st.code, CRI_GRPC_UNKNOWN);
	ck_assert_ptr_nonnull(strstr(st.message, "503"));
	/* a reply that is not gRPC at all is refused even with grpc-status 0 */
	ck_assert_int_lt(call_str(c, "/test.Echo/Html", "x", 5000, NULL, 0, &st), 0);
	ck_assert_int_eq(st.code, CRI_GRPC_INTERNAL);
	ck_assert_ptr_nonnull(strstr(st.message, "content-type"));
	/* the connection survives stream-level errors */
	ck_assert_uint_eq(cri_conn_dials(c), 1);
	cri_conn_free(c);
	srv_stop(s);
}
END_TEST

START_TEST(oversize_reply_is_resource_exhausted)
{
	struct srv *s = srv_start();
	cri_conn *c;
	ck_assert_int_eq(cri_conn_new(s->path, &c), 0);
	cri_conn_set_max_msg(c, 1u << 20);
	cri_grpc_status st;
	ck_assert_int_eq(call_str(c, "/test.Echo/Big", "x", 5000, NULL, 0, &st), KC_ETOOLARGE);
	ck_assert_int_eq(st.code, CRI_GRPC_RESOURCE_EXHAUSTED);
	ck_assert_str_eq(st.message, "grpc: received message larger than max (2097152 vs. 1048576)");
	char out[16];
	ck_assert_int_eq(call_str(c, "/test.Echo/Echo", "still ok", 5000, out, sizeof(out), &st), 0);
	ck_assert_str_eq(out, "still ok");
	cri_conn_free(c);
	srv_stop(s);
}
END_TEST

START_TEST(missing_trailers_is_an_error)
{
	struct srv *s = srv_start();
	cri_conn *c;
	ck_assert_int_eq(cri_conn_new(s->path, &c), 0);
	cri_grpc_status st;
	ck_assert_int_lt(call_str(c, "/test.Echo/NoTrailers", "data", 5000, NULL, 0, &st), 0);
	ck_assert_int_eq(st.code, CRI_GRPC_INTERNAL);
	cri_conn_free(c);
	srv_stop(s);
}
END_TEST

START_TEST(deadline_expires_and_connection_stays_usable)
{
	struct srv *s = srv_start();
	cri_conn *c;
	ck_assert_int_eq(cri_conn_new(s->path, &c), 0);
	cri_grpc_status st;
	ck_assert_int_eq(call_str(c, "/test.Echo/Hang", "x", 50, NULL, 0, &st), KC_ETIMEOUT);
	ck_assert_int_eq(st.code, CRI_GRPC_DEADLINE_EXCEEDED);
	ck_assert_str_eq(st.message, "context deadline exceeded");
	char out[16];
	ck_assert_int_eq(call_str(c, "/test.Echo/Echo", "after", 5000, out, sizeof(out), &st), 0);
	ck_assert_str_eq(out, "after");
	ck_assert_uint_eq(cri_conn_dials(c), 1);
	cri_conn_free(c);
	srv_stop(s);
}
END_TEST

START_TEST(connection_loss_fails_in_flight_then_redials)
{
	struct srv *s = srv_start();
	cri_conn *c;
	ck_assert_int_eq(cri_conn_new(s->path, &c), 0);
	cri_grpc_status st;
	char out[16];
	ck_assert_int_eq(call_str(c, "/test.Echo/Echo", "one", 5000, out, sizeof(out), &st), 0);
	ck_assert_int_eq(call_str(c, "/test.Echo/Close", "x", 5000, NULL, 0, &st), -ECONNREFUSED);
	ck_assert_int_eq(st.code, CRI_GRPC_UNAVAILABLE);
	ck_assert_int_eq(call_str(c, "/test.Echo/Echo", "two", 5000, out, sizeof(out), &st), 0);
	ck_assert_str_eq(out, "two");
	ck_assert_uint_eq(cri_conn_dials(c), 2);
	ck_assert_int_eq(atomic_load(&s->conns), 2);
	cri_conn_free(c);
	srv_stop(s);
}
END_TEST

START_TEST(no_listener_is_unavailable)
{
	cri_conn *c;
	ck_assert_int_eq(cri_conn_new("unix:///nonexistent/kubec/cri.sock", &c), 0);
	cri_grpc_status st;
	ck_assert_int_eq(call_str(c, "/test.Echo/Echo", "x", 1000, NULL, 0, &st), -ECONNREFUSED);
	ck_assert_int_eq(st.code, CRI_GRPC_UNAVAILABLE);
	ck_assert_ptr_nonnull(strstr(st.message, "/nonexistent/kubec/cri.sock"));
	cri_conn_free(c);
	ck_assert_int_eq(cri_conn_new("tcp://127.0.0.1:1", &c), -EINVAL);
	ck_assert_int_eq(cri_conn_new("relative.sock", &c), -EINVAL);
}
END_TEST

struct worker {
	cri_conn *c;
	int id;
	int bad;
};

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	for (int i = 0; i < 50; i++) {
		char req[64], out[64];
		snprintf(req, sizeof(req), "worker %d call %d", w->id, i);
		if (call_str(w->c, "/test.Echo/Echo", req, 10000, out, sizeof(out), NULL) != 0 || strcmp(req, out))
			w->bad++;
	}
	return NULL;
}

START_TEST(concurrent_calls_share_one_connection)
{
	struct srv *s = srv_start();
	cri_conn *c;
	ck_assert_int_eq(cri_conn_new(s->path, &c), 0);
	pthread_t th[8];
	struct worker w[8];
	for (int i = 0; i < 8; i++) {
		w[i] = (struct worker){ .c = c, .id = i };
		pthread_create(&th[i], NULL, worker_main, &w[i]);
	}
	for (int i = 0; i < 8; i++) {
		pthread_join(th[i], NULL);
		ck_assert_int_eq(w[i].bad, 0);
	}
	ck_assert_uint_eq(cri_conn_dials(c), 1);
	ck_assert_int_eq(atomic_load(&s->conns), 1);
	cri_conn_free(c);
	srv_stop(s);
}
END_TEST

/* ------------------------------------------------- typed client validation */

static void set_canned(struct srv *s, const ProtobufCMessage *m)
{
	pthread_mutex_lock(&s->mu);
	s->canned_len = protobuf_c_message_get_packed_size(m);
	ck_assert_uint_le(s->canned_len, sizeof(s->canned));
	protobuf_c_message_pack(m, s->canned);
	pthread_mutex_unlock(&s->mu);
}

START_TEST(typed_version_validates_reply)
{
	struct srv *s = srv_start();
	cri_client cl;
	ck_assert_int_eq(cri_client_init(&cl, s->path, 5000), 0);
	Runtime__V1__VersionResponse vr = RUNTIME__V1__VERSION_RESPONSE__INIT;
	vr.version = "0.1.0";
	vr.runtime_name = "containerd";
	vr.runtime_version = "1.6.20";
	vr.runtime_api_version = "v1";
	set_canned(s, &vr.base);
	Runtime__V1__VersionResponse *out = NULL;
	cri_grpc_status st;
	ck_assert_int_eq(cri_version(&cl, &out, &st), 0);
	ck_assert_str_eq(out->runtime_name, "containerd");
	ck_assert_str_eq(out->runtime_api_version, "v1");
	cri_msg_free(out);

	/* a reply missing runtime_version is refused, as remote_runtime.go does */
	vr.runtime_version = "";
	set_canned(s, &vr.base);
	out = NULL;
	ck_assert_int_eq(cri_version(&cl, &out, &st), -EPROTO);
	ck_assert_ptr_null(out);
	ck_assert_int_eq(st.code, CRI_GRPC_INTERNAL);
	ck_assert_str_eq(st.message, "not all fields are set in VersionResponse");

	/* bytes that are not a protobuf message: an error, never a crash */
	pthread_mutex_lock(&s->mu);
	memcpy(s->canned, "\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff", 11);
	s->canned_len = 11;
	pthread_mutex_unlock(&s->mu);
	ck_assert_int_eq(cri_version(&cl, &out, &st), -EPROTO);
	ck_assert_ptr_nonnull(strstr(st.message, "failed to unmarshal"));
	cri_client_close(&cl);
	srv_stop(s);
}
END_TEST

START_TEST(typed_container_status_rejects_incomplete_status)
{
	struct srv *s = srv_start();
	cri_client cl;
	ck_assert_int_eq(cri_client_init(&cl, s->path, 5000), 0);
	Runtime__V1__ContainerMetadata md = RUNTIME__V1__CONTAINER_METADATA__INIT;
	md.name = "web";
	Runtime__V1__ImageSpec img = RUNTIME__V1__IMAGE_SPEC__INIT;
	img.image = "docker.io/library/busybox:1.35";
	Runtime__V1__ContainerStatus cs = RUNTIME__V1__CONTAINER_STATUS__INIT;
	cs.id = "abc";
	cs.metadata = &md;
	cs.image = &img;
	cs.image_ref = "sha256:1234";
	cs.state = RUNTIME__V1__CONTAINER_STATE__CONTAINER_EXITED;
	cs.created_at = 1;
	cs.exit_code = 137;
	cs.reason = "OOMKilled";
	Runtime__V1__ContainerStatusResponse r = RUNTIME__V1__CONTAINER_STATUS_RESPONSE__INIT;
	r.status = &cs;
	set_canned(s, &r.base);
	Runtime__V1__ContainerStatusResponse *out = NULL;
	cri_grpc_status st;
	ck_assert_int_eq(cri_container_status(&cl, "abc", 0, &out, &st), 0);
	ck_assert_int_eq(out->status->exit_code, 137);
	ck_assert_str_eq(out->status->reason, "OOMKilled");
	ck_assert_int_eq(out->status->state, RUNTIME__V1__CONTAINER_STATE__CONTAINER_EXITED);
	cri_msg_free(out);
	cs.created_at = 0;
	set_canned(s, &r.base);
	ck_assert_int_eq(cri_container_status(&cl, "abc", 0, &out, &st), -EPROTO);
	ck_assert_str_eq(st.message, "status.CreatedAt is not set");
	r.status = NULL;
	set_canned(s, &r.base);
	ck_assert_int_eq(cri_container_status(&cl, "abc", 0, &out, &st), -EPROTO);
	/* arguments are validated before anything is sent */
	ck_assert_int_eq(cri_container_status(&cl, "", 0, &out, &st), -EINVAL);
	ck_assert_int_eq(cri_stop_container(&cl, "abc", -1, &st), -EINVAL);
	cri_client_close(&cl);
	srv_stop(s);
}
END_TEST

static Suite *kubelet_grpc_suite(void)
{
	Suite *s = suite_create("kubelet_grpc");
	TCase *f = tcase_create("framing");
	tcase_add_test(f, prefix_is_flag_and_big_endian_length);
	tcase_add_test(f, decoder_reassembles_byte_by_byte);
	tcase_add_test(f, decoder_handles_split_prefix_and_body);
	tcase_add_test(f, decoder_accepts_empty_message);
	tcase_add_test(f, decoder_rejects_oversize_before_buffering);
	tcase_add_test(f, decoder_rejects_compressed_bad_flag_and_extra_bytes);
	tcase_add_test(f, decoder_truncated_body_is_nodata);
	suite_add_tcase(s, f);
	TCase *t = tcase_create("trailers");
	tcase_add_test(t, status_parsing);
	tcase_add_test(t, message_percent_decoding);
	tcase_add_test(t, codes_map_to_project_errors);
	suite_add_tcase(s, t);
	TCase *c = tcase_create("client");
	tcase_set_timeout(c, 30);
	tcase_add_unchecked_fixture(c, base_setup, base_teardown);
	tcase_add_test(c, call_sends_grpc_headers_and_gets_reply);
	tcase_add_test(c, trailers_only_error_carries_code_and_decoded_message);
	tcase_add_test(c, oversize_reply_is_resource_exhausted);
	tcase_add_test(c, missing_trailers_is_an_error);
	tcase_add_test(c, deadline_expires_and_connection_stays_usable);
	tcase_add_test(c, connection_loss_fails_in_flight_then_redials);
	tcase_add_test(c, no_listener_is_unavailable);
	tcase_add_test(c, concurrent_calls_share_one_connection);
	tcase_add_test(c, typed_version_validates_reply);
	tcase_add_test(c, typed_container_status_rejects_incomplete_status);
	suite_add_tcase(s, c);
	return s;
}

KC_TEST_MAIN(kubelet_grpc_suite)
