/* kc_etcd's own HTTP/1.1 transport (common/etcd_http.c) against a raw socket server that
 * answers with scripted bytes: keep-alive reuse, chunked and Content-Length bodies, interim
 * 100 answers, a kept-alive connection the server closed, timeouts, refused endpoints and
 * failover, and answers that are not HTTP. */
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "errors.h"
#include "etcd.h"
#include "kc_test.h"

#define MAX_STEPS 8

/* What the server does with the i-th request it reads. */
struct step {
	const char *raw;  /* bytes to answer (NULL: never answer; wait to be stopped) */
	int close_after;  /* close the connection after answering */
};

struct rawsrv {
	int lfd;
	unsigned short port;
	pthread_t th;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct step steps[MAX_STEPS];
	int n_steps;
	int requests, connections;
	char last_req[8192];
	int stop;
	int cfd; /* the connection being served, -1 */
};

static int read_request(int fd, char *buf, size_t cap)
{
	size_t len = 0;
	for (;;) {
		char *e = len >= 4 ? memmem(buf, len, "\r\n\r\n", 4) : NULL;
		if (e) {
			size_t hl = (size_t)(e - buf) + 4;
			const char *cl = strcasestr(buf, "content-length:");
			size_t need = hl + (cl && cl < e ? (size_t)atol(cl + 15) : 0);
			while (len < need) {
				ssize_t r = recv(fd, buf + len, cap - 1 - len, 0);
				if (r <= 0)
					return -1;
				len += (size_t)r;
			}
			buf[len] = 0;
			return 0;
		}
		if (len + 1 >= cap)
			return -1;
		ssize_t r = recv(fd, buf + len, cap - 1 - len, 0);
		if (r <= 0)
			return -1;
		len += (size_t)r;
		buf[len] = 0;
	}
}

static void *srv_main(void *arg)
{
	struct rawsrv *s = arg;
	for (;;) {
		int fd = accept(s->lfd, NULL, NULL);
		if (fd < 0)
			return NULL;
		pthread_mutex_lock(&s->mu);
		if (s->stop) {
			pthread_mutex_unlock(&s->mu);
			close(fd);
			return NULL;
		}
		s->connections++;
		s->cfd = fd;
		pthread_mutex_unlock(&s->mu);
		char buf[8192];
		while (read_request(fd, buf, sizeof(buf)) == 0) {
			pthread_mutex_lock(&s->mu);
			int i = s->requests++;
			snprintf(s->last_req, sizeof(s->last_req), "%s", buf);
			struct step st = i < s->n_steps ? s->steps[i] : (struct step){ NULL, 1 };
			if (!st.raw) {
				while (!s->stop)
					pthread_cond_wait(&s->cv, &s->mu);
			}
			pthread_mutex_unlock(&s->mu);
			if (!st.raw)
				break;
			size_t n = strlen(st.raw), off = 0;
			while (off < n) {
				ssize_t w = send(fd, st.raw + off, n - off, MSG_NOSIGNAL);
				if (w <= 0)
					break;
				off += (size_t)w;
			}
			if (st.close_after)
				break;
		}
		pthread_mutex_lock(&s->mu);
		s->cfd = -1;
		pthread_mutex_unlock(&s->mu);
		close(fd);
	}
}

static struct rawsrv srv;

static void srv_start(void)
{
	memset(&srv, 0, sizeof(srv));
	srv.cfd = -1;
	pthread_mutex_init(&srv.mu, NULL);
	pthread_cond_init(&srv.cv, NULL);
	srv.lfd = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert_int_ge(srv.lfd, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	ck_assert_int_eq(bind(srv.lfd, (struct sockaddr *)&a, sizeof(a)), 0);
	socklen_t al = sizeof(a);
	ck_assert_int_eq(getsockname(srv.lfd, (struct sockaddr *)&a, &al), 0);
	srv.port = ntohs(a.sin_port);
	ck_assert_int_eq(listen(srv.lfd, 16), 0);
	ck_assert_int_eq(pthread_create(&srv.th, NULL, srv_main, &srv), 0);
}

static void srv_stop(void)
{
	pthread_mutex_lock(&srv.mu);
	srv.stop = 1;
	pthread_cond_broadcast(&srv.cv);
	if (srv.cfd >= 0)
		shutdown(srv.cfd, SHUT_RDWR);
	pthread_mutex_unlock(&srv.mu);
	shutdown(srv.lfd, SHUT_RDWR);
	pthread_join(srv.th, NULL);
	close(srv.lfd);
	pthread_mutex_destroy(&srv.mu);
	pthread_cond_destroy(&srv.cv);
}

static void script(int i, const char *raw, int close_after)
{
	srv.steps[i] = (struct step){ raw, close_after };
	if (srv.n_steps <= i)
		srv.n_steps = i + 1;
}

static kc_etcd *client(const char *ep2, long timeout_ms)
{
	char url[64];
	snprintf(url, sizeof(url), "http://127.0.0.1:%u", srv.port);
	const char *eps[2] = { url, ep2 };
	struct kc_etcd_config cfg = { .endpoints = eps, .n_endpoints = ep2 ? 2 : 1,
				      .request_timeout_ms = timeout_ms };
	kc_etcd *c = NULL;
	ck_assert_int_eq(kc_etcd_new(&cfg, &c), 0);
	return c;
}

/* A port nothing listens on. */
static unsigned short dead_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	bind(fd, (struct sockaddr *)&a, sizeof(a));
	socklen_t al = sizeof(a);
	getsockname(fd, (struct sockaddr *)&a, &al);
	close(fd);
	return ntohs(a.sin_port);
}

#define PUT_OK(rev) "{\"header\":{\"revision\":\"" rev "\"}}"
#define CL_ANSWER(body) "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s"

static char *cl_answer(const char *body)
{
	char *s = NULL;
	ck_assert_int_ge(asprintf(&s, CL_ANSWER(body), strlen(body), body), 0);
	return s;
}

static int64_t put(kc_etcd *c, const char *key, int *rc)
{
	struct kc_etcd_put_req req = { .key = key, .key_len = strlen(key), .value = "v", .value_len = 1 };
	struct kc_etcd_put_resp resp;
	struct kc_etcd_error err = { 0 };
	*rc = kc_etcd_put(c, &req, &resp, &err);
	int64_t rev = *rc == 0 ? resp.header.revision : -1;
	if (*rc == 0)
		kc_etcd_put_resp_free(&resp);
	return rev;
}

START_TEST(keepalive_connection_is_reused)
{
	srv_start();
	char *a1 = cl_answer(PUT_OK("11")), *a2 = cl_answer(PUT_OK("12")), *a3 = cl_answer(PUT_OK("13"));
	script(0, a1, 0);
	script(1, a2, 0);
	script(2, a3, 0);
	kc_etcd *c = client(NULL, 2000);
	int rc;
	ck_assert_int_eq(put(c, "a", &rc), 11);
	ck_assert_int_eq(put(c, "b", &rc), 12);
	ck_assert_int_eq(put(c, "c", &rc), 13);
	pthread_mutex_lock(&srv.mu);
	ck_assert_int_eq(srv.connections, 1);
	ck_assert_int_eq(srv.requests, 3);
	/* the request as libcurl sent it: POST, the path, a JSON body with its length */
	ck_assert_ptr_nonnull(strstr(srv.last_req, "POST /v3/kv/put HTTP/1.1\r\n"));
	ck_assert_ptr_nonnull(strstr(srv.last_req, "Content-Type: application/json\r\n"));
	ck_assert_ptr_nonnull(strstr(srv.last_req, "\r\n\r\n{\"key\":\"Yw==\",\"value\":\"dg==\"}"));
	pthread_mutex_unlock(&srv.mu);
	kc_etcd_free(c);
	srv_stop();
	free(a1);
	free(a2);
	free(a3);
}
END_TEST

START_TEST(chunked_and_interim_answers_are_decoded)
{
	srv_start();
	/* the range answer in three chunks (one with an extension) and a trailer, after an
	 * interim 100 */
	script(0,
	       "HTTP/1.1 100 Continue\r\n\r\n"
	       "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
	       "1a\r\n{\"header\":{\"revision\":\"7\"}\r\n"
	       "5;x=y\r\n,\"kvs\r\n"
	       "2e\r\n\":[{\"key\":\"YQ==\",\"value\":\"eHl6\"}],\"count\":\"1\"}\r\n"
	       "0\r\nX-Trailer: 1\r\n\r\n",
	       0);
	char *a2 = cl_answer(PUT_OK("8"));
	script(1, a2, 0);
	kc_etcd *c = client(NULL, 2000);
	struct kc_etcd_range_req req = { .key = "a", .key_len = 1 };
	struct kc_etcd_range_resp resp;
	struct kc_etcd_error err = { 0 };
	ck_assert_int_eq(kc_etcd_range(c, &req, &resp, &err), 0);
	ck_assert_int_eq(resp.header.revision, 7);
	ck_assert_uint_eq(resp.n_kvs, 1);
	ck_assert_uint_eq(resp.kvs[0].value_len, 3);
	ck_assert_mem_eq(resp.kvs[0].value, "xyz", 3);
	kc_etcd_range_resp_free(&resp);
	/* the connection stays in sync for the next answer */
	int rc;
	ck_assert_int_eq(put(c, "b", &rc), 8);
	pthread_mutex_lock(&srv.mu);
	ck_assert_int_eq(srv.connections, 1);
	pthread_mutex_unlock(&srv.mu);
	kc_etcd_free(c);
	srv_stop();
	free(a2);
}
END_TEST

START_TEST(closed_keepalive_connection_is_replaced)
{
	srv_start();
	char *a1 = cl_answer(PUT_OK("21")), *a2 = cl_answer(PUT_OK("22"));
	/* the server closes right after its first answer (as an idle timeout would);
	 * "Connection: close" answers are not kept either */
	script(0, a1, 1);
	script(1, "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 28\r\n\r\n"
		  "{\"header\":{\"revision\":\"23\"}}", 1);
	script(2, a2, 0);
	kc_etcd *c = client(NULL, 2000);
	int rc;
	ck_assert_int_eq(put(c, "a", &rc), 21);
	ck_assert_int_eq(put(c, "b", &rc), 23);
	ck_assert_int_eq(put(c, "c", &rc), 22);
	pthread_mutex_lock(&srv.mu);
	ck_assert_int_eq(srv.requests, 3); /* each write reached the server once */
	ck_assert_int_eq(srv.connections, 3);
	pthread_mutex_unlock(&srv.mu);
	kc_etcd_free(c);
	srv_stop();
	free(a1);
	free(a2);
}
END_TEST

START_TEST(error_answers_and_garbage)
{
	srv_start();
	script(0, "HTTP/1.1 400 Bad Request\r\nContent-Length: 62\r\n\r\n"
		  "{\"error\":\"unexpected EOF\",\"message\":\"unexpected EOF\",\"code\":3}", 0);
	script(1, "SSH-2.0-OpenSSH\r\n\r\n", 1);
	script(2, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{\"head", 1);
	kc_etcd *c = client(NULL, 2000);
	struct kc_etcd_put_req req = { .key = "a", .key_len = 1 };
	struct kc_etcd_put_resp resp;
	struct kc_etcd_error err = { 0 };
	ck_assert_int_eq(kc_etcd_put(c, &req, &resp, &err), KC_EINVALID);
	ck_assert_int_eq(err.http_status, 400);
	ck_assert_str_eq(err.message, "unexpected EOF");
	ck_assert_int_eq(kc_etcd_put(c, &req, &resp, &err), -EIO); /* not HTTP */
	ck_assert_int_eq(kc_etcd_put(c, &req, &resp, &err), -EIO); /* cut short */
	ck_assert_ptr_nonnull(strstr(err.message, "Transferred a partial file"));
	kc_etcd_free(c);
	srv_stop();
}
END_TEST

START_TEST(silent_server_times_out)
{
	srv_start();
	script(0, NULL, 0); /* reads the request, never answers */
	kc_etcd *c = client(NULL, 300);
	int rc;
	put(c, "a", &rc);
	ck_assert_int_eq(rc, -ETIMEDOUT);
	kc_etcd_free(c);
	srv_stop();
}
END_TEST

START_TEST(refused_endpoint_fails_over)
{
	srv_start();
	char *a1 = cl_answer(PUT_OK("31"));
	script(0, a1, 0);
	/* the first endpoint refuses: the call goes to the second (the server) */
	char dead[64];
	snprintf(dead, sizeof(dead), "http://127.0.0.1:%u", dead_port());
	const char *eps[2] = { dead, NULL };
	char url[64];
	snprintf(url, sizeof(url), "http://127.0.0.1:%u", srv.port);
	eps[1] = url;
	struct kc_etcd_config cfg = { .endpoints = eps, .n_endpoints = 2 };
	kc_etcd *c = NULL;
	ck_assert_int_eq(kc_etcd_new(&cfg, &c), 0);
	int rc;
	ck_assert_int_eq(put(c, "a", &rc), 31);
	kc_etcd_free(c);
	/* alone, the dead endpoint is ECONNREFUSED */
	const char *one[1] = { dead };
	cfg.endpoints = one;
	cfg.n_endpoints = 1;
	ck_assert_int_eq(kc_etcd_new(&cfg, &c), 0);
	put(c, "a", &rc);
	ck_assert_int_eq(rc, -ECONNREFUSED);
	kc_etcd_free(c);
	srv_stop();
	free(a1);
}
END_TEST

struct wseen {
	int created, events;
	int64_t last_rev;
};

static int on_wresp(void *arg, const struct kc_etcd_watch_resp *r)
{
	struct wseen *w = arg;
	w->created += r->created;
	w->events += (int)r->n_events;
	for (size_t i = 0; i < r->n_events; i++)
		w->last_rev = r->events[i].kv.mod_revision;
	return 0;
}

/* A watch stream whose chunks end mid-message (one with an extension), then a connection
 * cut without the last chunk: every whole message is delivered, then KC_ECLOSED (re-watch). */
START_TEST(watch_stream_chunks_then_cut)
{
	srv_start();
	script(0,
	       "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
	       "1e\r\n{\"result\":{\"header\":{\"revision\r\n"
	       "1d;ext=1\r\n\":\"5\"},\"created\":true}}\n{\"res\r\n"
	       "89\r\nult\":{\"header\":{\"revision\":\"6\"},\"events\":[{\"kv\":{\"key\":\"YQ==\","
	       "\"create_revision\":\"6\",\"mod_revision\":\"6\",\"version\":\"1\",\"value\":\"eA==\"}}]}}\n"
	       "\r\n"
	       "5\r\n{\"res",
	       1);
	kc_etcd *c = client(NULL, 2000);
	struct wseen w = { 0 };
	struct kc_etcd_watch_req req = { .key = "a", .key_len = 1 };
	struct kc_etcd_error err = { 0 };
	ck_assert_int_eq(kc_etcd_watch(c, &req, on_wresp, &w, NULL, &err), KC_ECLOSED);
	ck_assert_int_eq(w.created, 1);
	ck_assert_int_eq(w.events, 1);
	ck_assert_int_eq(w.last_rev, 6);
	pthread_mutex_lock(&srv.mu);
	ck_assert_ptr_nonnull(strstr(srv.last_req, "POST /v3/watch HTTP/1.1\r\n"));
	pthread_mutex_unlock(&srv.mu);
	kc_etcd_free(c);
	srv_stop();
}
END_TEST

static Suite *etcd_http_suite(void)
{
	Suite *s = suite_create("etcd_http");
	TCase *tc = tcase_create("transport");
	tcase_set_timeout(tc, 20);
	tcase_add_test(tc, keepalive_connection_is_reused);
	tcase_add_test(tc, chunked_and_interim_answers_are_decoded);
	tcase_add_test(tc, closed_keepalive_connection_is_replaced);
	tcase_add_test(tc, error_answers_and_garbage);
	tcase_add_test(tc, silent_server_times_out);
	tcase_add_test(tc, refused_endpoint_fails_over);
	tcase_add_test(tc, watch_stream_chunks_then_cut);
	suite_add_tcase(s, tc);
	return s;
}

KC_TEST_MAIN(etcd_http_suite)
