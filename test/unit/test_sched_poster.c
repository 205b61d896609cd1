/* The binding POST path (scheduler/poster.c): the request a server sees is the one
 * kc_client sends, connections are kept alive, TLS settings from the kubeconfig are
 * honoured, and a binding's outcome and error text are the same through the poster as
 * through kc_client (scheduler/api.c falls back to the client when nothing was sent). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "errors.h"
#include "json.h"
#include "kc_test.h"
#include "kubeconfig.h"
#include "testsrv.h"
#include "fixtures.h"
#include "../../scheduler/api.h"
#include "../../scheduler/event_sink.h"
#include "../../scheduler/poster.h"

struct seen {
	pthread_mutex_t mu;
	int n;
	int status;
	const char *answer;
	char method[16], path[256], ua[128], auth[128], ctype[64], accept[64], host[64];
	char body[2048];
	int client_cert;
};

static void handler(const testsrv_req *req, testsrv_resp *resp, void *arg)
{
	struct seen *s = arg;
	pthread_mutex_lock(&s->mu);
	s->n++;
#define COPY(dst, src) snprintf(dst, sizeof(dst), "%s", (src) ? (src) : "")
	COPY(s->method, req->method);
	COPY(s->path, req->path);
	COPY(s->ua, testsrv_header(req, "User-Agent"));
	COPY(s->auth, testsrv_header(req, "Authorization"));
	COPY(s->ctype, testsrv_header(req, "Content-Type"));
	COPY(s->accept, testsrv_header(req, "Accept"));
	COPY(s->host, testsrv_header(req, "Host"));
	COPY(s->body, req->body);
	s->client_cert = req->has_client_cert;
	resp->status = s->status;
	resp->body = s->answer ? strdup(s->answer) : NULL;
	pthread_mutex_unlock(&s->mu);
}

static void seen_init(struct seen *s, int status, const char *answer)
{
	memset(s, 0, sizeof(*s));
	pthread_mutex_init(&s->mu, NULL);
	s->status = status;
	s->answer = answer;
}

#define UA "kubec/v0.1 (linux/amd64)"
static const char *const status_ok = "{\"kind\":\"Status\",\"apiVersion\":\"v1\","
				     "\"metadata\":{},\"status\":\"Success\",\"code\":201}";

START_TEST(post_headers_body_and_keep_alive)
{
	struct seen s;
	seen_init(&s, 201, status_ok);
	testsrv *srv;
	ck_assert_int_eq(testsrv_start(&srv, handler, &s), 0);
	kc_kubeconfig kc;
	ck_assert_int_eq(kc_kubeconfig_from_parts(&kc, testsrv_url(srv), NULL, NULL, NULL, "tok"),
			 0);
	sched_poster *p;
	ck_assert_int_eq(sched_poster_new(&kc, UA, &p), 0);
	const char *body = "{\"kind\":\"Binding\"}";
	for (int i = 0; i < 3; i++) {
		char *resp = NULL, err[256];
		size_t rl = 0;
		ck_assert_int_eq(sched_poster_post(p, "/api/v1/namespaces/d/pods/a/binding", body,
						   strlen(body), &resp, &rl, err, sizeof(err)),
				 201);
		ck_assert_str_eq(resp, status_ok);
		ck_assert_uint_eq(rl, strlen(status_ok));
		free(resp);
	}
	ck_assert_str_eq(s.method, "POST");
	ck_assert_str_eq(s.path, "/api/v1/namespaces/d/pods/a/binding");
	ck_assert_str_eq(s.body, body);
	ck_assert_str_eq(s.ua, UA);
	ck_assert_str_eq(s.auth, "Bearer tok");
	ck_assert_str_eq(s.ctype, "application/json");
	ck_assert_str_eq(s.accept, "application/json");
	char want_host[64];
	snprintf(want_host, sizeof(want_host), "127.0.0.1:%u", testsrv_port(srv));
	ck_assert_str_eq(s.host, want_host);
	ck_assert_int_eq(s.n, 3);
	ck_assert_int_eq(testsrv_connections(srv), 1); /* one kept-alive connection */
	/* a bad path is refused before anything is sent */
	char *resp = NULL, err[256];
	size_t rl;
	ck_assert_int_eq(sched_poster_post(p, "/a b", body, strlen(body), &resp, &rl, err,
					   sizeof(err)),
			 -EINVAL);
	ck_assert_int_eq(s.n, 3);
	sched_poster_free(p);
	testsrv_stop(srv);
	/* nobody listening: nothing was sent, the caller may use kc_client */
	ck_assert_int_eq(sched_poster_new(&kc, UA, &p), 0);
	ck_assert_int_eq(sched_poster_post(p, "/x", body, strlen(body), &resp, &rl, err,
					   sizeof(err)),
			 -EPIPE);
	sched_poster_free(p);
	kc_kubeconfig_close(&kc);
}
END_TEST

START_TEST(proxy_in_environment_is_left_to_libcurl)
{
	kc_kubeconfig kc;
	ck_assert_int_eq(kc_kubeconfig_from_parts(&kc, "http://127.0.0.1:1", NULL, NULL, NULL,
						  NULL),
			 0);
	sched_poster *p = NULL;
	setenv("https_proxy", "http://proxy.test:3128", 1);
	ck_assert_int_eq(sched_poster_new(&kc, UA, &p), -ENOTSUP);
	unsetenv("https_proxy");
	ck_assert_int_eq(sched_poster_new(&kc, UA, &p), 0);
	sched_poster_free(p);
	kc_kubeconfig_close(&kc);
	ck_assert_int_eq(kc_kubeconfig_from_parts(&kc, "http://u@127.0.0.1:1", NULL, NULL, NULL,
						  NULL),
			 0);
	ck_assert_int_eq(sched_poster_new(&kc, UA, &p), -ENOTSUP);
	kc_kubeconfig_close(&kc);
}
END_TEST

/* The Event sink's creates go over the poster; what the recorder reads of the answer
 * (count, firstTimestamp, metadata.name and resourceVersion) is what the server sent,
 * also when the answer needs the full parse (an escaped name), and a failure gives the
 * Status's code and no answer. */
START_TEST(event_sink_create_answer)
{
	static const char *const plain =
		"{\"kind\":\"Event\",\"apiVersion\":\"v1\",\"metadata\":{\"name\":\"web-1.1\","
		"\"namespace\":\"d\",\"resourceVersion\":\"77\",\"managedFields\":[{\"manager\":"
		"\"kube-scheduler\",\"fieldsV1\":{\"f:count\":{}}}]},\"involvedObject\":{\"kind\":"
		"\"Pod\",\"name\":\"web-1\",\"resourceVersion\":\"70\"},\"reason\":\"Scheduled\","
		"\"firstTimestamp\":\"2026-11-26T02:10:11Z\",\"count\":1}";
	static const char *const escaped =
		"{\"metadata\":{\"name\":\"web\\u002d2.1\",\"resourceVersion\":\"78\"},"
		"\"firstTimestamp\":\"2026-11-26T02:10:12Z\",\"count\":2}";
	static const char *const exists =
		"{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\","
		"\"message\":\"events \\\"web-1.1\\\" already exists\",\"reason\":\"AlreadyExists\","
		"\"code\":409}";
	struct seen s;
	seen_init(&s, 201, plain);
	testsrv *srv;
	ck_assert_int_eq(testsrv_start(&srv, handler, &s), 0);
	kc_kubeconfig kc;
	ck_assert_int_eq(kc_kubeconfig_from_parts(&kc, testsrv_url(srv), NULL, NULL, NULL, "tok"),
			 0);
	kc_client *c;
	ck_assert_int_eq(kc_client_new(&kc, NULL, &c), 0);
	sched_poster *p;
	ck_assert_int_eq(sched_poster_new(&kc, UA, &p), 0);
	kc_event_sink *sink;
	ck_assert_int_eq(sched_event_sink_new(c, p, &sink), 0);
	cJSON *ev = NULL;
	ck_assert_int_eq(kc_json_parse_str("{\"metadata\":{\"namespace\":\"d\","
					   "\"name\":\"web-1.1\"},\"reason\":\"Scheduled\"}",
					   &ev, NULL, 0),
			 0);
	cJSON *out = NULL;
	ck_assert_int_eq(sink->create(sink, ev, &out), 0);
	ck_assert_str_eq(s.path, "/api/v1/namespaces/d/events");
	ck_assert_ptr_nonnull(out);
	ck_assert_str_eq(kc_json_get_string(out, "metadata.name", ""), "web-1.1");
	ck_assert_str_eq(kc_json_get_string(out, "metadata.resourceVersion", ""), "77");
	ck_assert_str_eq(kc_json_get_string(out, "firstTimestamp", ""), "2026-11-26T02:10:11Z");
	ck_assert_int_eq(kc_json_get_int64(out, "count", 0), 1);
	cJSON_Delete(out);
	pthread_mutex_lock(&s.mu);
	s.answer = escaped;
	pthread_mutex_unlock(&s.mu);
	ck_assert_int_eq(sink->create(sink, ev, &out), 0);
	ck_assert_str_eq(kc_json_get_string(out, "metadata.name", ""), "web-2.1");
	ck_assert_str_eq(kc_json_get_string(out, "metadata.resourceVersion", ""), "78");
	ck_assert_int_eq(kc_json_get_int64(out, "count", 0), 2);
	cJSON_Delete(out);
	pthread_mutex_lock(&s.mu);
	s.status = 409;
	s.answer = exists;
	pthread_mutex_unlock(&s.mu);
	out = NULL;
	ck_assert_int_eq(sink->create(sink, ev, &out), KC_EEXIST);
	ck_assert_ptr_null(out);
	cJSON_Delete(ev);
	sched_event_sink_free(sink);
	sched_poster_free(p);
	kc_client_free(c);
	testsrv_stop(srv);
	kc_kubeconfig_close(&kc);
}
END_TEST

/* do_bind through the poster and through kc_client: same result, same error text */
static int bind_with(kc_kubeconfig *kc, bool fast, sched_pod *pod, char *err, size_t errlen)
{
	kc_client *c;
	ck_assert_int_eq(kc_client_new(kc, NULL, &c), 0);
	sched_client_api a;
	sched_client_api_init(&a, c, NULL, NULL);
	sched_poster *p = NULL;
	if (fast) {
		ck_assert_int_eq(sched_poster_new(kc, UA, &p), 0);
		a.poster = p;
	}
	err[0] = '\0';
	int rc = a.base.bind(&a.base, pod, "node-1", err, errlen);
	sched_poster_free(p);
	kc_client_free(c);
	return rc;
}

START_TEST(bind_outcome_same_as_client)
{
	static const char *const conflict =
		"{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\","
		"\"message\":\"Operation cannot be fulfilled on pods/binding \\\"a\\\": pod a is "
		"already assigned to node \\\"n2\\\"\",\"reason\":\"Conflict\",\"details\":{\"name\":"
		"\"a\",\"kind\":\"pods/binding\"},\"code\":409}";
	struct {
		int status;
		const char *answer;
	} cases[] = { { 201, status_ok }, { 409, conflict }, { 500, "not json at all" },
		      { 404, NULL } };
	sched_pod *pod = fx_sched_pod("{\"metadata\":{\"name\":\"a\",\"namespace\":\"d\","
				      "\"uid\":\"u-1\"},\"spec\":{\"containers\":[]}}");
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct seen s;
		seen_init(&s, cases[i].status, cases[i].answer);
		testsrv *srv;
		ck_assert_int_eq(testsrv_start(&srv, handler, &s), 0);
		kc_kubeconfig kc;
		ck_assert_int_eq(kc_kubeconfig_from_parts(&kc, testsrv_url(srv), NULL, NULL, NULL,
							  NULL),
				 0);
		char e1[1024], e2[1024];
		int r1 = bind_with(&kc, false, pod, e1, sizeof(e1));
		char body1[2048];
		snprintf(body1, sizeof(body1), "%s", s.body);
		int r2 = bind_with(&kc, true, pod, e2, sizeof(e2));
		ck_assert_int_eq(r1, r2);
		ck_assert_str_eq(e1, e2);
		ck_assert_str_eq(s.body, body1);
		ck_assert_str_eq(s.path, "/api/v1/namespaces/d/pods/a/binding");
		ck_assert_int_eq(s.n, 2);
		if (cases[i].status == 409) {
			ck_assert_int_eq(r2, KC_ECONFLICT);
			ck_assert(strstr(e2, "already assigned") != NULL);
		}
		if (cases[i].status == 500)
			ck_assert_str_eq(e2, "not json at all");
		kc_kubeconfig_close(&kc);
		testsrv_stop(srv);
	}
	sched_pod_free(pod);
}
END_TEST

/* ---- a raw server that answers as scripted (chunked, Connection: close, silent
 * closes) ---- */

struct raw {
	int lfd;
	unsigned short port;
	int accepted, requests;
	pthread_t t;
};

/* Read one request (headers + Content-Length body). 0, or -1 when the peer closed. */
static int raw_read_req(int fd)
{
	char buf[8192];
	size_t len = 0;
	for (;;) {
		ssize_t n = read(fd, buf + len, sizeof(buf) - 1 - len);
		if (n <= 0)
			return -1;
		len += (size_t)n;
		buf[len] = '\0';
		char *end = strstr(buf, "\r\n\r\n");
		if (!end)
			continue;
		char *cl = strcasestr(buf, "Content-Length:");
		size_t want = (size_t)(end + 4 - buf) + (cl ? strtoul(cl + 15, NULL, 10) : 0);
		if (len >= want)
			return 0;
	}
}

static void raw_send(int fd, const char *s)
{
	ck_assert_int_eq(write(fd, s, strlen(s)), (ssize_t)strlen(s));
}

static void *raw_main(void *arg)
{
	struct raw *r = arg;
	/* connection 1: a chunked 201, then a 409 that closes the connection */
	int c = accept(r->lfd, NULL, NULL);
	r->accepted++;
	if (raw_read_req(c) == 0) {
		r->requests++;
		raw_send(c, "HTTP/1.1 201 Created\r\nContent-Type: application/json\r\n"
			    "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n"
			    "0\r\n\r\n");
	}
	if (raw_read_req(c) == 0) {
		r->requests++;
		raw_send(c, "HTTP/1.1 409 Conflict\r\nContent-Length: 2\r\nConnection: close\r\n"
			    "\r\n{}");
	}
	close(c);
	/* connection 2: one answer, then closed while idle (a keep-alive timeout) */
	c = accept(r->lfd, NULL, NULL);
	r->accepted++;
	if (raw_read_req(c) == 0) {
		r->requests++;
		raw_send(c, "HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok");
	}
	close(c);
	/* connection 3: one answer; the next request is read and never answered */
	c = accept(r->lfd, NULL, NULL);
	r->accepted++;
	if (raw_read_req(c) == 0) {
		r->requests++;
		raw_send(c, "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\n"
			    "Content-Length: 3\r\n\r\nyes");
	}
	if (raw_read_req(c) == 0)
		r->requests++;
	close(c);
	/* connection 4 (the retry of that request): read, never answered */
	c = accept(r->lfd, NULL, NULL);
	r->accepted++;
	if (raw_read_req(c) == 0)
		r->requests++;
	close(c);
	return NULL;
}

static int post(sched_poster *p, char **resp, char *err, size_t errlen)
{
	size_t rl;
	*resp = NULL;
	return sched_poster_post(p, "/p", "{\"a\":1}", 7, resp, &rl, err, errlen);
}

START_TEST(chunked_close_and_dead_connections)
{
	struct raw r;
	memset(&r, 0, sizeof(r));
	r.lfd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t sl = sizeof(sa);
	ck_assert_int_eq(bind(r.lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(listen(r.lfd, 8), 0);
	ck_assert_int_eq(getsockname(r.lfd, (struct sockaddr *)&sa, &sl), 0);
	r.port = ntohs(sa.sin_port);
	pthread_create(&r.t, NULL, raw_main, &r);
	char url[64];
	snprintf(url, sizeof(url), "http://127.0.0.1:%u", r.port);
	kc_kubeconfig kc;
	ck_assert_int_eq(kc_kubeconfig_from_parts(&kc, url, NULL, NULL, NULL, NULL), 0);
	sched_poster *p;
	ck_assert_int_eq(sched_poster_new(&kc, UA, &p), 0);
	char *resp, err[512];
	ck_assert_int_eq(post(p, &resp, err, sizeof(err)), 201);
	ck_assert_str_eq(resp, "hello world");
	free(resp);
	ck_assert_int_eq(post(p, &resp, err, sizeof(err)), 409);
	ck_assert_str_eq(resp, "{}");
	free(resp);
	/* the 409 closed connection 1: a new one */
	ck_assert_int_eq(post(p, &resp, err, sizeof(err)), 201);
	ck_assert_str_eq(resp, "ok");
	free(resp);
	/* connection 2 went away while idle: sent again on connection 3, past a 100 */
	ck_assert_int_eq(post(p, &resp, err, sizeof(err)), 201);
	ck_assert_str_eq(resp, "yes");
	free(resp);
	/* read and never answered, on the kept connection and on the fresh one after it:
	 * no answer, in libcurl's words */
	ck_assert_int_eq(post(p, &resp, err, sizeof(err)), -ECONNRESET);
	ck_assert_ptr_null(resp);
	char want[128];
	snprintf(want, sizeof(want), "POST %s/p: Server returned nothing (no headers, no data)",
		 url);
	ck_assert_str_eq(err, want);
	pthread_join(r.t, NULL);
	ck_assert_int_eq(r.accepted, 4);
	ck_assert_int_eq(r.requests, 6); /* the one sent on dead connection 2 never arrived */
	sched_poster_free(p);
	kc_kubeconfig_close(&kc);
	close(r.lfd);
}
END_TEST

/* ---- TLS (certificates made with the openssl CLI, as test_client.c) ---- */

static char tlsdir[256];

static int sh(const char *cmd)
{
	char full[2048];
	snprintf(full, sizeof(full), "cd %s && (%s) >/dev/null 2>&1", tlsdir, cmd);
	return system(full);
}

static char *slurp(const char *name)
{
	char p[512];
	snprintf(p, sizeof(p), "%s/%s", tlsdir, name);
	FILE *f = fopen(p, "rb");
	if (!f)
		return NULL;
	char *buf = calloc(1, 65536);
	size_t n = fread(buf, 1, 65535, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static int make_certs(void)
{
	snprintf(tlsdir, sizeof(tlsdir), "/tmp/kc-test-poster-XXXXXX");
	if (!mkdtemp(tlsdir))
		return -1;
	if (sh("openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 2 "
	       "-subj /CN=test-ca"))
		return -1;
	const char *mk = "openssl req -newkey rsa:2048 -nodes -keyout %s.key -out %s.csr -subj /CN=%s && "
			 "printf 'subjectAltName=%s\\nextendedKeyUsage=%s\\n' > %s.ext && "
			 "openssl x509 -req -in %s.csr -CA ca.crt -CAkey ca.key -CAcreateserial "
			 "-out %s.crt -days 2 -extfile %s.ext";
	char cmd[1024];
	snprintf(cmd, sizeof(cmd), mk, "srv", "srv", "srv", "IP:127.0.0.1", "serverAuth", "srv",
		 "srv", "srv", "srv");
	if (sh(cmd))
		return -1;
	snprintf(cmd, sizeof(cmd), mk, "only", "only", "only", "DNS:only.test", "serverAuth",
		 "only", "only", "only", "only");
	if (sh(cmd))
		return -1;
	snprintf(cmd, sizeof(cmd), mk, "cli", "cli", "admin", "DNS:admin", "clientAuth", "cli",
		 "cli", "cli", "cli");
	return sh(cmd) ? -1 : 0;
}

static void rm_certs(void)
{
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tlsdir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", tlsdir);
}

static int post_once(kc_kubeconfig *kc)
{
	sched_poster *p;
	ck_assert_int_eq(sched_poster_new(kc, UA, &p), 0);
	char *resp = NULL, err[256];
	size_t rl = 0;
	int rc = sched_poster_post(p, "/x", "{}", 2, &resp, &rl, err, sizeof(err));
	free(resp);
	sched_poster_free(p);
	return rc;
}

START_TEST(tls_ca_client_cert_and_server_name)
{
	if (make_certs() < 0) {
		rm_certs();
		fprintf(stderr, "tls test: openssl CLI unusable, skipped\n");
		return;
	}
	char *srv_crt = slurp("srv.crt"), *srv_key = slurp("srv.key"), *ca = slurp("ca.crt");
	char *cli_crt = slurp("cli.crt"), *cli_key = slurp("cli.key");
	char *only_crt = slurp("only.crt"), *only_key = slurp("only.key");
	struct seen s;
	seen_init(&s, 201, status_ok);
	testsrv *srv, *srv2;
	ck_assert_int_eq(testsrv_start_tls(&srv, handler, &s, srv_crt, srv_key, ca), 0);
	char ca_path[300];
	snprintf(ca_path, sizeof(ca_path), "%s/ca.crt", tlsdir);
	kc_kubeconfig kc;

	/* CA file + token */
	ck_assert_int_eq(kc_kubeconfig_from_parts(&kc, testsrv_url(srv), ca_path, NULL, NULL,
						  "tok"),
			 0);
	ck_assert_int_eq(post_once(&kc), 201);
	ck_assert_str_eq(s.auth, "Bearer tok");
	ck_assert_int_eq(s.client_cert, 0);
	kc_kubeconfig_close(&kc);

	/* another CA: the server is not trusted, nothing is sent */
	ck_assert_int_eq(kc_kubeconfig_from_parts(&kc, testsrv_url(srv), NULL, NULL, NULL, NULL),
			 0);
	kc.ca_data = (unsigned char *)strdup(cli_crt); /* a certificate, but not the CA */
	kc.ca_len = strlen(cli_crt);
	int before = s.n;
	ck_assert_int_eq(post_once(&kc), -EPIPE);
	ck_assert_int_eq(s.n, before);
	/* ... unless verification is off */
	kc.insecure_skip_tls_verify = 1;
	ck_assert_int_eq(post_once(&kc), 201);
	kc_kubeconfig_close(&kc);

	/* CA and client certificate/key as in-memory blobs */
	ck_assert_int_eq(kc_kubeconfig_from_parts(&kc, testsrv_url(srv), NULL, NULL, NULL, NULL),
			 0);
	kc.ca_data = (unsigned char *)strdup(ca);
	kc.ca_len = strlen(ca);
	kc.cert_data = (unsigned char *)strdup(cli_crt);
	kc.cert_len = strlen(cli_crt);
	kc.key_data = (unsigned char *)strdup(cli_key);
	kc.key_len = strlen(cli_key);
	ck_assert_int_eq(post_once(&kc), 201);
	ck_assert_int_eq(s.client_cert, 1);
	ck_assert_str_eq(s.auth, "");
	kc_kubeconfig_close(&kc);

	/* tls-server-name: a certificate for another name, accepted under that name only;
	 * the Host header still names the address dialled */
	ck_assert_int_eq(testsrv_start_tls(&srv2, handler, &s, only_crt, only_key, NULL), 0);
	ck_assert_int_eq(kc_kubeconfig_from_parts(&kc, testsrv_url(srv2), ca_path, NULL, NULL,
						  NULL),
			 0);
	ck_assert_int_eq(post_once(&kc), -EPIPE);
	kc.tls_server_name = strdup("only.test");
	ck_assert_int_eq(post_once(&kc), 201);
	char want_host[64];
	snprintf(want_host, sizeof(want_host), "127.0.0.1:%u", testsrv_port(srv2));
	ck_assert_str_eq(s.host, want_host);
	kc_kubeconfig_close(&kc);

	testsrv_stop(srv2);
	testsrv_stop(srv);
	free(srv_crt);
	free(srv_key);
	free(ca);
	free(cli_crt);
	free(cli_key);
	free(only_crt);
	free(only_key);
	rm_certs();
}
END_TEST

static Suite *sched_poster_suite(void)
{
	Suite *s = suite_create("sched_poster");
	TCase *tc = tcase_create("poster");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, post_headers_body_and_keep_alive);
	tcase_add_test(tc, proxy_in_environment_is_left_to_libcurl);
	tcase_add_test(tc, event_sink_create_answer);
	tcase_add_test(tc, bind_outcome_same_as_client);
	tcase_add_test(tc, chunked_close_and_dead_connections);
	tcase_add_test(tc, tls_ca_client_cert_and_server_name);
	suite_add_tcase(s, tc);
	return s;
}

KC_TEST_MAIN(sched_poster_suite)
