#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "client.h"
#include "errors.h"
#include "kc_test.h"
#include "testsrv.h"

/* ---- a scripted server: answers request i with statuses[i] / bodies[i] (the last one
 * repeats), records what it saw ---- */

struct script {
	pthread_mutex_t mu;
	int nreq;
	int status[8];
	const char *body[8];
	int retry_after[8];
	int n;
	char method[16], path[256], ua[256], auth[512], ctype[128], accept[128], body_seen[4096];
	char q_watch[16], q_extra[64], host[128];
	int client_cert;
	int block; /* handlers wait while set */
	pthread_cond_t cv;
	testsrv_stream *stream; /* watch answers stream this (a reference is added) */
};

static void script_handler(const testsrv_req *req, testsrv_resp *resp, void *arg)
{
	struct script *s = arg;
	pthread_mutex_lock(&s->mu);
	int i = s->nreq < s->n ? s->nreq : s->n - 1;
	s->nreq++;
#define COPY(dst, src) snprintf(dst, sizeof(dst), "%s", (src) ? (src) : "")
	COPY(s->method, req->method);
	COPY(s->path, req->path);
	COPY(s->ua, testsrv_header(req, "User-Agent"));
	COPY(s->auth, testsrv_header(req, "Authorization"));
	COPY(s->ctype, testsrv_header(req, "Content-Type"));
	COPY(s->accept, testsrv_header(req, "Accept"));
	COPY(s->host, testsrv_header(req, "Host"));
	COPY(s->body_seen, req->body);
	COPY(s->q_watch, testsrv_arg(req, "watch"));
	COPY(s->q_extra, testsrv_arg(req, "labelSelector"));
	s->client_cert = req->has_client_cert;
	pthread_cond_broadcast(&s->cv);
	while (s->block)
		pthread_cond_wait(&s->cv, &s->mu);
	if (i >= 0) {
		resp->status = s->status[i];
		resp->body = s->body[i] ? strdup(s->body[i]) : NULL;
		resp->retry_after = s->retry_after[i] ? s->retry_after[i] : -1;
	}
	if (s->stream && i >= 0 && s->status[i] == 200 && strcmp(s->q_watch, "1") == 0)
		resp->stream = testsrv_stream_ref(s->stream);
	pthread_mutex_unlock(&s->mu);
}

static void script_init(struct script *s)
{
	memset(s, 0, sizeof(*s));
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->cv, NULL);
}

static void script_add(struct script *s, int status, const char *body, int retry_after)
{
	s->status[s->n] = status;
	s->body[s->n] = body;
	s->retry_after[s->n] = retry_after;
	s->n++;
}

static int script_nreq(struct script *s)
{
	pthread_mutex_lock(&s->mu);
	int n = s->nreq;
	pthread_mutex_unlock(&s->mu);
	return n;
}

/* ---- a clock whose sleeps return at once and are recorded ---- */

struct rec_clock {
	kc_clock_t base;
	int64_t slept[16];
	int n;
};

static int64_t rc_mono(kc_clock_t *c)
{
	return kc_now_mono(kc_clock_real());
}
static int64_t rc_wall(kc_clock_t *c)
{
	return kc_now_wall(kc_clock_real());
}
static uint64_t rc_rand(kc_clock_t *c)
{
	return 4;
}
static void rc_sleep(kc_clock_t *c, int64_t ns)
{
	struct rec_clock *r = (struct rec_clock *)c;
	if (r->n < 16)
		r->slept[r->n++] = ns;
}

static void rec_clock_init(struct rec_clock *r)
{
	memset(r, 0, sizeof(*r));
	r->base = (kc_clock_t){ rc_mono, rc_wall, rc_rand, rc_sleep };
}

static kc_client *client_for(const char *url, const char *token, struct rec_clock *clk)
{
	kc_kubeconfig kc;
	ck_assert_int_eq(kc_kubeconfig_from_parts(&kc, url, NULL, NULL, NULL, token), 0);
	kc_client_opts o = { .user_agent = "kube-test/v1.0 (linux/amd64)",
			     .clock = clk ? &clk->base : NULL };
	kc_client *c;
	ck_assert_int_eq(kc_client_new(&kc, &o, &c), 0);
	kc_kubeconfig_close(&kc);
	return c;
}

/* ---- paths and status mapping ---- */

START_TEST(paths)
{
	char p[256];
	ck_assert_int_gt(kc_client_path(p, sizeof(p),
					&(kc_ref){ "v1", "pods", "default", "web-1", NULL }), 0);
	ck_assert_str_eq(p, "/api/v1/namespaces/default/pods/web-1");
	kc_client_path(p, sizeof(p), &(kc_ref){ "apps/v1", "deployments", "kube-system", NULL, NULL });
	ck_assert_str_eq(p, "/apis/apps/v1/namespaces/kube-system/deployments");
	kc_client_path(p, sizeof(p), &(kc_ref){ "v1", "nodes", NULL, "n1", "status" });
	ck_assert_str_eq(p, "/api/v1/nodes/n1/status");
	kc_client_path(p, sizeof(p), &(kc_ref){ "v1", "pods", "", NULL, NULL });
	ck_assert_str_eq(p, "/api/v1/pods");
	kc_client_path(p, sizeof(p), &(kc_ref){ "coordination.k8s.io/v1", "leases", "ns", "l", NULL });
	ck_assert_str_eq(p, "/apis/coordination.k8s.io/v1/namespaces/ns/leases/l");
	ck_assert_int_eq(kc_client_path(p, sizeof(p), &(kc_ref){ "v1", "pods", "default", "a/b", NULL }),
			 -EINVAL);
	ck_assert_int_eq(kc_client_path(p, sizeof(p), &(kc_ref){ "v1", "pods", "..", "a", NULL }),
			 -EINVAL);
	ck_assert_int_eq(kc_client_path(p, sizeof(p), &(kc_ref){ "v1", "pods", "x", "a?b", NULL }),
			 -EINVAL);
	ck_assert_int_eq(kc_client_path(p, sizeof(p), &(kc_ref){ "v1", "pods", "x", NULL, "status" }),
			 -EINVAL);
	ck_assert_int_eq(kc_client_path(p, sizeof(p), &(kc_ref){ "a/b/c", "pods", NULL, NULL, NULL }),
			 -EINVAL);
	ck_assert_int_eq(kc_client_path(p, sizeof(p), &(kc_ref){ NULL, "pods", NULL, NULL, NULL }),
			 -EINVAL);
	ck_assert_int_eq(kc_client_path(p, 10, &(kc_ref){ "v1", "pods", "default", "x", NULL }),
			 -ENAMETOOLONG);
}
END_TEST

START_TEST(query_escape)
{
	char *e = kc_client_query_escape("app=web,tier in (a b)&x/y~z");
	ck_assert_str_eq(e, "app%3Dweb%2Ctier%20in%20%28a%20b%29%26x%2Fy~z");
	free(e);
}
END_TEST

START_TEST(status_codes_map)
{
	ck_assert_int_eq(kc_status_to_err(200, NULL), 0);
	ck_assert_int_eq(kc_status_to_err(201, NULL), 0);
	ck_assert_int_eq(kc_status_to_err(404, "NotFound"), KC_ENOTFOUND);
	ck_assert_int_eq(kc_status_to_err(409, "AlreadyExists"), KC_EEXIST);
	ck_assert_int_eq(kc_status_to_err(409, "Conflict"), KC_ECONFLICT);
	ck_assert_int_eq(kc_status_to_err(410, "Expired"), KC_EGONE);
	ck_assert_int_eq(kc_status_to_err(422, "Invalid"), KC_EINVALID);
	ck_assert_int_eq(kc_status_to_err(401, NULL), KC_EUNAUTH);
	ck_assert_int_eq(kc_status_to_err(403, NULL), KC_EFORBIDDEN);
	ck_assert_int_eq(kc_status_to_err(503, NULL), KC_ESERVER);
	ck_assert_int_eq(kc_status_to_err(504, NULL), KC_ETIMEOUT);
	ck_assert_int_eq(kc_status_to_err(418, NULL), KC_EHTTP);
}
END_TEST

/* ---- requests against a live server ---- */

START_TEST(get_sends_headers_and_decodes)
{
	struct script s;
	testsrv *srv;
	script_init(&s);
	script_add(&s, 200, "{\"kind\":\"Pod\",\"metadata\":{\"name\":\"web-1\"}}", 0);
	ck_assert_int_eq(testsrv_start(&srv, script_handler, &s), 0);
	kc_client *c = client_for(testsrv_url(srv), "s3cret", NULL);
	cJSON *out;
	kc_status st;
	ck_assert_int_eq(kc_client_get(c, &(kc_ref){ "v1", "pods", "default", "web-1", NULL }, NULL,
				       &out, &st),
			 0);
	ck_assert_str_eq(cJSON_GetObjectItem(out, "kind")->valuestring, "Pod");
	ck_assert_int_eq(st.http_code, 200);
	ck_assert_str_eq(s.method, "GET");
	ck_assert_str_eq(s.path, "/api/v1/namespaces/default/pods/web-1");
	ck_assert_str_eq(s.ua, "kube-test/v1.0 (linux/amd64)");
	ck_assert_str_eq(s.auth, "Bearer s3cret");
	ck_assert_str_eq(s.accept, "application/json");
	cJSON_Delete(out);
	/* A list with a selector query. */
	ck_assert_int_eq(kc_client_get(c, &(kc_ref){ "v1", "pods", NULL, NULL, NULL },
				       "labelSelector=app%3Dweb", &out, NULL),
			 0);
	ck_assert_str_eq(s.path, "/api/v1/pods");
	ck_assert_str_eq(s.q_extra, "app=web");
	cJSON_Delete(out);
	kc_client_free(c);
	testsrv_stop(srv);
}
END_TEST

START_TEST(create_update_patch_delete_bodies)
{
	struct script s;
	testsrv *srv;
	script_init(&s);
	script_add(&s, 201, "{\"metadata\":{\"name\":\"x\",\"resourceVersion\":\"5\"}}", 0);
	ck_assert_int_eq(testsrv_start(&srv, script_handler, &s), 0);
	kc_client *c = client_for(testsrv_url(srv), NULL, NULL);
	cJSON *obj = cJSON_Parse("{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"x\"},"
				 "\"data\":{\"k\":\"v\"}}");
	cJSON *out = NULL, *echo;
	kc_ref cm = { "v1", "configmaps", "ns1", NULL, NULL };
	ck_assert_int_eq(kc_client_create(c, &cm, obj, &out, NULL), 0);
	ck_assert_str_eq(s.method, "POST");
	ck_assert_str_eq(s.path, "/api/v1/namespaces/ns1/configmaps");
	ck_assert_str_eq(s.ctype, "application/json");
	ck_assert_str_eq(s.auth, "");
	echo = cJSON_Parse(s.body_seen);
	ck_assert(cJSON_Compare(echo, obj, 1));
	cJSON_Delete(echo);
	ck_assert_str_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(out, "metadata"), "resourceVersion")->valuestring,
			 "5");
	cJSON_Delete(out);

	cm.name = "x";
	ck_assert_int_eq(kc_client_update(c, &cm, obj, NULL, NULL), 0);
	ck_assert_str_eq(s.method, "PUT");
	ck_assert_str_eq(s.path, "/api/v1/namespaces/ns1/configmaps/x");

	cJSON *patch = cJSON_Parse("{\"data\":{\"k\":null}}");
	ck_assert_int_eq(kc_client_patch(c, &cm, KC_PATCH_MERGE, patch, NULL, NULL, NULL), 0);
	ck_assert_str_eq(s.method, "PATCH");
	ck_assert_str_eq(s.ctype, "application/merge-patch+json");
	ck_assert_str_eq(s.body_seen, "{\"data\":{\"k\":null}}");
	ck_assert_int_eq(kc_client_patch(c, &cm, KC_PATCH_STRATEGIC, patch, NULL, NULL, NULL), 0);
	ck_assert_str_eq(s.ctype, "application/strategic-merge-patch+json");
	cJSON_Delete(patch);

	ck_assert_int_eq(kc_client_delete(c, &cm, NULL, NULL, NULL), 0);
	ck_assert_str_eq(s.method, "DELETE");
	ck_assert_str_eq(s.body_seen, "");
	/* the same pooled handle carries nothing over from the calls before: a GET and a
	 * HEAD without body or Content-Type, then a POST with its own body again */
	ck_assert_int_eq(kc_client_get(c, &cm, NULL, NULL, NULL), 0);
	ck_assert_str_eq(s.method, "GET");
	ck_assert_str_eq(s.ctype, "");
	ck_assert_str_eq(s.body_seen, "");
	ck_assert_int_eq(kc_client_request(c, "HEAD", "/api/v1/namespaces/ns1/configmaps/x", NULL,
					   NULL, NULL, NULL), 0);
	ck_assert_str_eq(s.method, "HEAD");
	ck_assert_str_eq(s.body_seen, "");
	cm.name = NULL;
	ck_assert_int_eq(kc_client_create(c, &cm, obj, NULL, NULL), 0);
	ck_assert_str_eq(s.method, "POST");
	ck_assert_str_eq(s.ctype, "application/json");
	echo = cJSON_Parse(s.body_seen);
	ck_assert(cJSON_Compare(echo, obj, 1));
	cJSON_Delete(echo);
	ck_assert_int_eq(kc_client_get(c, &cm, NULL, NULL, NULL), 0);
	ck_assert_str_eq(s.method, "GET");
	ck_assert_str_eq(s.body_seen, "");
	cm.name = "x";
	/* Name-less update/patch/delete are refused before any request. */
	int before = script_nreq(&s);
	cm.name = NULL;
	ck_assert_int_eq(kc_client_update(c, &cm, obj, NULL, NULL), -EINVAL);
	ck_assert_int_eq(kc_client_delete(c, &cm, NULL, NULL, NULL), -EINVAL);
	ck_assert_int_eq(script_nreq(&s), before);
	cJSON_Delete(obj);
	kc_client_free(c);
	testsrv_stop(srv);
}
END_TEST

static const char *const status_404 =
	"{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\","
	"\"message\":\"pods \\\"nope\\\" not found\",\"reason\":\"NotFound\","
	"\"details\":{\"name\":\"nope\",\"kind\":\"pods\"},\"code\":404}";

START_TEST(errors_carry_status)
{
	struct {
		int http;
		const char *body;
		int want;
		const char *reason;
	} cases[] = {
		{ 404, status_404, KC_ENOTFOUND, "NotFound" },
		{ 409, "{\"kind\":\"Status\",\"reason\":\"AlreadyExists\",\"code\":409}", KC_EEXIST, "AlreadyExists" },
		{ 409, "{\"kind\":\"Status\",\"reason\":\"Conflict\",\"code\":409}", KC_ECONFLICT, "Conflict" },
		{ 410, "{\"kind\":\"Status\",\"reason\":\"Expired\",\"code\":410}", KC_EGONE, "Expired" },
		{ 422, "{\"kind\":\"Status\",\"reason\":\"Invalid\",\"code\":422}", KC_EINVALID, "Invalid" },
		{ 401, "{\"kind\":\"Status\",\"reason\":\"Unauthorized\",\"code\":401}", KC_EUNAUTH, "Unauthorized" },
		{ 403, "{\"kind\":\"Status\",\"reason\":\"Forbidden\",\"code\":403}", KC_EFORBIDDEN, "Forbidden" },
		{ 418, "not json at all", KC_EHTTP, "" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct script s;
		testsrv *srv;
		script_init(&s);
		script_add(&s, cases[i].http, cases[i].body, 0);
		ck_assert_int_eq(testsrv_start(&srv, script_handler, &s), 0);
		kc_client *c = client_for(testsrv_url(srv), NULL, NULL);
		cJSON *out = (cJSON *)1;
		kc_status st;
		cJSON *obj = cJSON_Parse("{\"metadata\":{\"name\":\"nope\"}}");
		int rc = kc_client_create(c, &(kc_ref){ "v1", "pods", "d", NULL, NULL }, obj, &out, &st);
		cJSON_Delete(obj);
		ck_assert_int_eq(rc, cases[i].want);
		ck_assert_ptr_null(out);
		ck_assert_int_eq(st.http_code, cases[i].http);
		ck_assert_int_eq(st.code, cases[i].http);
		ck_assert_str_eq(st.reason, cases[i].reason);
		if (i == 0) {
			ck_assert_str_eq(st.message, "pods \"nope\" not found");
			ck_assert_str_eq(st.details.name, "nope");
			ck_assert_str_eq(st.status, "Failure");
		}
		if (cases[i].http == 418)
			ck_assert_str_eq(st.message, "not json at all");
		kc_client_free(c);
		testsrv_stop(srv);
	}
}
END_TEST

START_TEST(non_json_success_body_is_parse_error)
{
	struct script s;
	testsrv *srv;
	script_init(&s);
	script_add(&s, 200, "<html>", 0);
	ck_assert_int_eq(testsrv_start(&srv, script_handler, &s), 0);
	kc_client *c = client_for(testsrv_url(srv), NULL, NULL);
	cJSON *out;
	ck_assert_int_eq(kc_client_request(c, "GET", "/healthz", NULL, NULL, &out, NULL), KC_EPARSE);
	ck_assert_ptr_null(out);
	ck_assert_int_eq(kc_client_request(c, "BREW", "/healthz", NULL, NULL, &out, NULL), -EINVAL);
	ck_assert_int_eq(kc_client_request(c, "GET", "no-slash", NULL, NULL, &out, NULL), -EINVAL);
	ck_assert_int_eq(kc_client_request(c, "GET", "/a b", NULL, NULL, &out, NULL), -EINVAL);
	kc_client_free(c);
	testsrv_stop(srv);
}
END_TEST

START_TEST(get_retries_5xx_with_backoff)
{
	struct script s;
	struct rec_clock clk;
	testsrv *srv;
	script_init(&s);
	rec_clock_init(&clk);
	script_add(&s, 500, "{\"kind\":\"Status\",\"code\":500}", 0);
	script_add(&s, 503, "{}", 0);
	script_add(&s, 200, "{\"ok\":true}", 0);
	ck_assert_int_eq(testsrv_start(&srv, script_handler, &s), 0);
	kc_client *c = client_for(testsrv_url(srv), NULL, &clk);
	cJSON *out;
	ck_assert_int_eq(kc_client_request(c, "GET", "/x", NULL, NULL, &out, NULL), 0);
	ck_assert(cJSON_IsTrue(cJSON_GetObjectItem(out, "ok")));
	cJSON_Delete(out);
	ck_assert_int_eq(script_nreq(&s), 3);
	/* Exponential: 200 ms, then 400 ms. */
	ck_assert_int_eq(clk.n, 2);
	ck_assert_int_eq(clk.slept[0], 200 * KC_NSEC_PER_MSEC);
	ck_assert_int_eq(clk.slept[1], 400 * KC_NSEC_PER_MSEC);
	kc_client_free(c);
	testsrv_stop(srv);
}
END_TEST

START_TEST(post_is_not_retried)
{
	struct script s;
	struct rec_clock clk;
	testsrv *srv;
	script_init(&s);
	rec_clock_init(&clk);
	script_add(&s, 500, "{\"kind\":\"Status\",\"code\":500,\"message\":\"boom\"}", 0);
	script_add(&s, 200, "{}", 0);
	ck_assert_int_eq(testsrv_start(&srv, script_handler, &s), 0);
	kc_client *c = client_for(testsrv_url(srv), NULL, &clk);
	cJSON *obj = cJSON_CreateObject();
	kc_status st;
	ck_assert_int_eq(kc_client_request(c, "POST", "/x", obj, NULL, NULL, &st), KC_ESERVER);
	ck_assert_str_eq(st.message, "boom");
	ck_assert_int_eq(script_nreq(&s), 1);
	ck_assert_int_eq(clk.n, 0);
	cJSON_Delete(obj);
	kc_client_free(c);
	testsrv_stop(srv);
}
END_TEST

START_TEST(retry_after_is_honoured_and_bounded)
{
	struct script s;
	struct rec_clock clk;
	testsrv *srv;
	script_init(&s);
	rec_clock_init(&clk);
	script_add(&s, 429, "{\"kind\":\"Status\",\"code\":429}", 3);
	ck_assert_int_eq(testsrv_start(&srv, script_handler, &s), 0);
	kc_client *c = client_for(testsrv_url(srv), NULL, &clk);
	kc_status st;
	ck_assert_int_eq(kc_client_request(c, "GET", "/x", NULL, NULL, NULL, &st), KC_ESERVER);
	ck_assert_int_eq(st.http_code, 429);
	ck_assert_int_eq(st.retry_after, 3);
	/* Default max_retries 3: four requests, three sleeps of Retry-After seconds. */
	ck_assert_int_eq(script_nreq(&s), 4);
	ck_assert_int_eq(clk.n, 3);
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(clk.slept[i], 3 * KC_NSEC_PER_SEC);
	kc_client_free(c);
	testsrv_stop(srv);
}
END_TEST

START_TEST(connection_refused)
{
	struct script s;
	struct rec_clock clk;
	testsrv *srv;
	script_init(&s);
	rec_clock_init(&clk);
	script_add(&s, 200, "{}", 0);
	ck_assert_int_eq(testsrv_start(&srv, script_handler, &s), 0);
	char url[64];
	snprintf(url, sizeof(url), "%s", testsrv_url(srv));
	testsrv_stop(srv); /* nobody listens on that port any more */
	kc_client *c = client_for(url, NULL, &clk);
	kc_status st;
	ck_assert_int_eq(kc_client_request(c, "GET", "/x", NULL, NULL, NULL, &st), -ECONNREFUSED);
	ck_assert_int_eq(st.http_code, 0);
	ck_assert_int_eq(clk.n, 3); /* retried */
	ck_assert_int_eq(kc_client_request(c, "PUT", "/x", NULL, NULL, NULL, &st), -ECONNREFUSED);
	ck_assert_int_eq(clk.n, 3); /* not retried */
	kc_client_free(c);
}
END_TEST

START_TEST(bad_server_rejected)
{
	kc_kubeconfig kc;
	kc_client *c;
	ck_assert_int_eq(kc_kubeconfig_from_parts(&kc, "ftp://x", NULL, NULL, NULL, NULL), 0);
	ck_assert_int_eq(kc_client_new(&kc, NULL, &c), -EINVAL);
	kc_kubeconfig_close(&kc);
	ck_assert_int_eq(kc_kubeconfig_from_parts(&kc, "", NULL, NULL, NULL, NULL), -EINVAL);
	/* A token that would inject a header line. */
	ck_assert_int_eq(kc_kubeconfig_from_parts(&kc, "https://x", NULL, NULL, NULL,
						  "abc\r\nX-Evil: 1"), 0);
	ck_assert_int_eq(kc_client_new(&kc, NULL, &c), -EINVAL);
	kc_kubeconfig_close(&kc);
	ck_assert_int_eq(kc_kubeconfig_from_parts(&kc, "https://x", NULL, NULL, NULL, NULL), 0);
	kc.tls_server_name = strdup("evil/host@x");
	ck_assert_int_eq(kc_client_new(&kc, NULL, &c), -EINVAL);
	kc_kubeconfig_close(&kc);
}
END_TEST

struct hammer {
	kc_client *c;
	int ok;
};

static void *hammer_thread(void *arg)
{
	struct hammer *h = arg;
	for (int i = 0; i < 50; i++) {
		cJSON *out = NULL;
		if (kc_client_get(h->c, &(kc_ref){ "v1", "pods", "d", "p", NULL }, NULL, &out,
				  NULL) == 0 &&
		    cJSON_IsObject(out))
			h->ok++;
		cJSON_Delete(out);
	}
	return NULL;
}

START_TEST(concurrent_calls_share_connections)
{
	struct script s;
	testsrv *srv;
	script_init(&s);
	script_add(&s, 200, "{\"kind\":\"Pod\"}", 0);
	ck_assert_int_eq(testsrv_start(&srv, script_handler, &s), 0);
	kc_client *c = client_for(testsrv_url(srv), NULL, NULL);
	struct hammer h[4];
	pthread_t t[4];
	for (int i = 0; i < 4; i++) {
		h[i] = (struct hammer){ c, 0 };
		pthread_create(&t[i], NULL, hammer_thread, &h[i]);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		ck_assert_int_eq(h[i].ok, 50);
	}
	ck_assert_int_eq(script_nreq(&s), 200);
	/* Keep-alive connections are reused: at most one per concurrent caller (plus
	 * slack for a connection closed under a race), far fewer than 200 requests. */
	ck_assert_int_le(testsrv_connections(srv), 8);
	kc_client_free(c);
	testsrv_stop(srv);
}
END_TEST

struct cancel_args {
	kc_client *c;
	atomic_int stop;
	int rc;
};

static void *cancel_thread(void *arg)
{
	struct cancel_args *a = arg;
	a->rc = kc_client_request_cancel(a->c, "GET", "/slow", NULL, NULL, NULL, NULL, &a->stop);
	return NULL;
}

START_TEST(request_cancel_aborts_a_hung_call)
{
	struct script s;
	testsrv *srv;
	script_init(&s);
	script_add(&s, 200, "{}", 0);
	s.block = 1;
	ck_assert_int_eq(testsrv_start(&srv, script_handler, &s), 0);
	struct cancel_args a = { .c = client_for(testsrv_url(srv), NULL, NULL) };
	atomic_init(&a.stop, 0);
	pthread_t t;
	pthread_create(&t, NULL, cancel_thread, &a);
	/* Wait (10 s) until the server holds the request, then cancel it. */
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 10;
	pthread_mutex_lock(&s.mu);
	while (s.nreq < 1)
		if (pthread_cond_timedwait(&s.cv, &s.mu, &ts) != 0)
			break;
	pthread_mutex_unlock(&s.mu);
	ck_assert_int_eq(script_nreq(&s), 1);
	atomic_store(&a.stop, 1);
	pthread_join(t, NULL);
	ck_assert_int_eq(a.rc, -ECANCELED);
	ck_assert_int_eq(script_nreq(&s), 1); /* not retried */
	pthread_mutex_lock(&s.mu);
	s.block = 0;
	pthread_cond_broadcast(&s.cv);
	pthread_mutex_unlock(&s.mu);
	kc_client_free(a.c);
	testsrv_stop(srv);
}
END_TEST

/* ---- watch ---- */

struct evlog {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	char log[2048];
	int n;
	int return_err; /* return ERROR events' err */
};

static int evlog_cb(kc_watch_event *ev, void *arg)
{
	struct evlog *l = arg;
	const cJSON *name = cJSON_GetObjectItem(cJSON_GetObjectItem(ev->object, "metadata"), "name");
	pthread_mutex_lock(&l->mu);
	size_t len = strlen(l->log);
	snprintf(l->log + len, sizeof(l->log) - len, "%s%s:%s", len ? " " : "",
		 kc_watch_type_name(ev->type), cJSON_IsString(name) ? name->valuestring : "-");
	l->n++;
	pthread_cond_broadcast(&l->cv);
	pthread_mutex_unlock(&l->mu);
	if (ev->type == KC_WATCH_ERROR && l->return_err)
		return ev->err;
	return 0;
}

static void evlog_init(struct evlog *l)
{
	memset(l, 0, sizeof(*l));
	pthread_mutex_init(&l->mu, NULL);
	pthread_cond_init(&l->cv, NULL);
}

/* Wait (10 s deadline) until the log has n events. */
static int evlog_wait(struct evlog *l, int n)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 10;
	pthread_mutex_lock(&l->mu);
	while (l->n < n)
		if (pthread_cond_timedwait(&l->cv, &l->mu, &ts) != 0)
			break;
	int got = l->n;
	pthread_mutex_unlock(&l->mu);
	return got >= n;
}

#define WEV(type, name) "{\"type\":\"" type "\",\"object\":{\"metadata\":{\"name\":\"" name "\"}}}\n"

struct watch_args {
	kc_client *c;
	struct evlog *log;
	atomic_int stop;
	int rc;
	const char *query;
	kc_status st;
};

static void *watch_thread(void *arg)
{
	struct watch_args *w = arg;
	w->rc = kc_client_watch(w->c, "/api/v1/pods", w->query, evlog_cb, w->log, &w->stop, &w->st);
	return NULL;
}

START_TEST(watch_streams_until_server_ends)
{
	struct script s;
	struct evlog l;
	testsrv *srv;
	script_init(&s);
	evlog_init(&l);
	script_add(&s, 200, NULL, 0);
	s.stream = testsrv_stream_new();
	ck_assert_int_eq(testsrv_start(&srv, script_handler, &s), 0);
	struct watch_args w = { .c = client_for(testsrv_url(srv), "t", NULL), .log = &l,
				.query = "labelSelector=app%3Dweb" };
	pthread_t t;
	pthread_create(&t, NULL, watch_thread, &w);
	/* Events arrive as they are written, split at odd places. */
	const char *evs = WEV("ADDED", "a") WEV("MODIFIED", "a");
	testsrv_stream_write(s.stream, evs, 10);
	testsrv_stream_write(s.stream, evs + 10, strlen(evs) - 10);
	ck_assert(evlog_wait(&l, 2));
	testsrv_stream_puts(s.stream, WEV("DELETED", "a"));
	ck_assert(evlog_wait(&l, 3));
	testsrv_stream_close(s.stream);
	pthread_join(t, NULL);
	ck_assert_int_eq(w.rc, 0);
	ck_assert_str_eq(l.log, "ADDED:a MODIFIED:a DELETED:a");
	ck_assert_str_eq(s.q_watch, "1");
	ck_assert_str_eq(s.q_extra, "app=web");
	ck_assert_str_eq(s.auth, "Bearer t");
	kc_client_free(w.c);
	testsrv_stop(srv);
	testsrv_stream_unref(s.stream);
}
END_TEST

START_TEST(watch_stops_on_flag)
{
	struct script s;
	struct evlog l;
	testsrv *srv;
	script_init(&s);
	evlog_init(&l);
	script_add(&s, 200, NULL, 0);
	s.stream = testsrv_stream_new();
	ck_assert_int_eq(testsrv_start(&srv, script_handler, &s), 0);
	struct watch_args w = { .c = client_for(testsrv_url(srv), NULL, NULL), .log = &l };
	atomic_init(&w.stop, 0);
	pthread_t t;
	pthread_create(&t, NULL, watch_thread, &w);
	testsrv_stream_puts(s.stream, WEV("ADDED", "a"));
	ck_assert(evlog_wait(&l, 1));
	/* The stream stays open; only the flag ends the call. */
	atomic_store(&w.stop, 1);
	pthread_join(t, NULL);
	ck_assert_int_eq(w.rc, -ECANCELED);
	kc_client_free(w.c);
	testsrv_stop(srv);
	testsrv_stream_unref(s.stream);
}
END_TEST

START_TEST(watch_error_event_and_http_errors)
{
	struct script s;
	struct evlog l;
	testsrv *srv;
	script_init(&s);
	evlog_init(&l);
	l.return_err = 1;
	script_add(&s, 200, NULL, 0);
	script_add(&s, 403, "{\"kind\":\"Status\",\"reason\":\"Forbidden\",\"code\":403,"
			    "\"message\":\"pods is forbidden\"}", 0);
	s.stream = testsrv_stream_new();
	ck_assert_int_eq(testsrv_start(&srv, script_handler, &s), 0);
	struct watch_args w = { .c = client_for(testsrv_url(srv), NULL, NULL), .log = &l };
	pthread_t t;
	pthread_create(&t, NULL, watch_thread, &w);
	testsrv_stream_puts(s.stream, WEV("ADDED", "a")
			    "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"code\":410,"
			    "\"reason\":\"Expired\"}}\n" WEV("ADDED", "never"));
	pthread_join(t, NULL);
	ck_assert_int_eq(w.rc, KC_EGONE);
	ck_assert_str_eq(l.log, "ADDED:a ERROR:-");
	/* Second request: the watch itself is refused. */
	pthread_create(&t, NULL, watch_thread, &w);
	pthread_join(t, NULL);
	ck_assert_int_eq(w.rc, KC_EFORBIDDEN);
	ck_assert_int_eq(w.st.http_code, 403);
	ck_assert_str_eq(w.st.message, "pods is forbidden");
	kc_client_free(w.c);
	testsrv_stop(srv);
	testsrv_stream_unref(s.stream);
}
END_TEST

START_TEST(watch_garbage_and_cut_stream)
{
	struct script s;
	struct evlog l;
	testsrv *srv;
	script_init(&s);
	evlog_init(&l);
	script_add(&s, 200, NULL, 0);
	s.stream = testsrv_stream_new();
	ck_assert_int_eq(testsrv_start(&srv, script_handler, &s), 0);
	struct watch_args w = { .c = client_for(testsrv_url(srv), NULL, NULL), .log = &l };
	pthread_t t;
	pthread_create(&t, NULL, watch_thread, &w);
	testsrv_stream_puts(s.stream, WEV("ADDED", "a") "this is not json\n");
	pthread_join(t, NULL);
	ck_assert_int_eq(w.rc, KC_EPARSE);
	ck_assert_int_eq(l.n, 1);
	testsrv_stop(srv);
	testsrv_stream_unref(s.stream);

	/* A stream cut without its final chunk is a transport error, not a clean end. */
	script_init(&s);
	script_add(&s, 200, NULL, 0);
	s.stream = testsrv_stream_new();
	ck_assert_int_eq(testsrv_start(&srv, script_handler, &s), 0);
	kc_client_free(w.c);
	w.c = client_for(testsrv_url(srv), NULL, NULL);
	pthread_create(&t, NULL, watch_thread, &w);
	testsrv_stream_puts(s.stream, WEV("ADDED", "b"));
	ck_assert(evlog_wait(&l, 2));
	testsrv_stream_abort(s.stream);
	pthread_join(t, NULL);
	ck_assert_int_eq(w.rc, -ECONNRESET);
	kc_client_free(w.c);
	testsrv_stop(srv);
	testsrv_stream_unref(s.stream);
}
END_TEST

/* ---- TLS (certificates made with the openssl CLI) ---- */

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

/* CA, a server cert for 127.0.0.1 + "kubernetes.test", a server cert only valid for
 * "only.test", and a client cert; all signed by the CA. Returns 0 or -1 (no openssl). */
static int make_certs(void)
{
	snprintf(tlsdir, sizeof(tlsdir), "/tmp/kc-test-tls-XXXXXX");
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
	snprintf(cmd, sizeof(cmd), mk, "srv", "srv", "srv", "IP:127.0.0.1,DNS:kubernetes.test",
		 "serverAuth", "srv", "srv", "srv", "srv");
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

static int tls_get(const kc_kubeconfig *kc, kc_status *st)
{
	kc_client *c;
	ck_assert_int_eq(kc_client_new(kc, &(kc_client_opts){ .max_retries = -1 }, &c), 0);
	cJSON *out = NULL;
	int rc = kc_client_request(c, "GET", "/version", NULL, NULL, &out, st);
	cJSON_Delete(out);
	kc_client_free(c);
	return rc;
}

START_TEST(tls_ca_token_and_client_cert)
{
	if (make_certs() < 0) {
		rm_certs();
		fprintf(stderr, "tls test: openssl CLI unusable, skipped\n");
		return;
	}
	char *srv_crt = slurp("srv.crt"), *srv_key = slurp("srv.key"), *ca = slurp("ca.crt");
	char *cli_crt = slurp("cli.crt"), *cli_key = slurp("cli.key");
	char *only_crt = slurp("only.crt"), *only_key = slurp("only.key");
	struct script s;
	testsrv *srv, *srv2;
	script_init(&s);
	script_add(&s, 200, "{\"major\":\"1\"}", 0);
	ck_assert_int_eq(testsrv_start_tls(&srv, script_handler, &s, srv_crt, srv_key, ca), 0);
	char ca_path[300];
	snprintf(ca_path, sizeof(ca_path), "%s/ca.crt", tlsdir);
	kc_kubeconfig kc;
	kc_status st;

	/* CA file + token. */
	ck_assert_int_eq(kc_kubeconfig_from_parts(&kc, testsrv_url(srv), ca_path, NULL, NULL, "tok"), 0);
	ck_assert_int_eq(tls_get(&kc, &st), 0);
	ck_assert_str_eq(s.auth, "Bearer tok");
	ck_assert_int_eq(s.client_cert, 0);
	kc_kubeconfig_close(&kc);

	/* Without our CA the server is not trusted. */
	ck_assert_int_eq(kc_kubeconfig_from_parts(&kc, testsrv_url(srv), NULL, NULL, NULL, NULL), 0);
	ck_assert_int_eq(tls_get(&kc, &st), -EPROTO);
	/* ... unless verification is off. */
	kc.insecure_skip_tls_verify = 1;
	ck_assert_int_eq(tls_get(&kc, &st), 0);
	kc_kubeconfig_close(&kc);

	/* CA and client cert/key as in-memory blobs (the kubeconfig "-data" path). */
	ck_assert_int_eq(kc_kubeconfig_from_parts(&kc, testsrv_url(srv), NULL, NULL, NULL, NULL), 0);
	kc.ca_data = (unsigned char *)strdup(ca);
	kc.ca_len = strlen(ca);
	kc.cert_data = (unsigned char *)strdup(cli_crt);
	kc.cert_len = strlen(cli_crt);
	kc.key_data = (unsigned char *)strdup(cli_key);
	kc.key_len = strlen(cli_key);
	ck_assert_int_eq(tls_get(&kc, &st), 0);
	ck_assert_int_eq(s.client_cert, 1);
	ck_assert_str_eq(s.auth, "");
	kc_kubeconfig_close(&kc);

	/* tls-server-name: a cert not valid for 127.0.0.1 is accepted under its own name, and
	 * the Host header still names the address we dialled. */
	ck_assert_int_eq(testsrv_start_tls(&srv2, script_handler, &s, only_crt, only_key, NULL), 0);
	ck_assert_int_eq(kc_kubeconfig_from_parts(&kc, testsrv_url(srv2), ca_path, NULL, NULL, NULL), 0);
	ck_assert_int_eq(tls_get(&kc, &st), -EPROTO);
	kc.tls_server_name = strdup("only.test");
	ck_assert_int_eq(tls_get(&kc, &st), 0);
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

static Suite *client_suite(void)
{
	Suite *s = suite_create("client");
	TCase *tc = tcase_create("core");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, paths);
	tcase_add_test(tc, query_escape);
	tcase_add_test(tc, status_codes_map);
	tcase_add_test(tc, get_sends_headers_and_decodes);
	tcase_add_test(tc, create_update_patch_delete_bodies);
	tcase_add_test(tc, errors_carry_status);
	tcase_add_test(tc, non_json_success_body_is_parse_error);
	tcase_add_test(tc, get_retries_5xx_with_backoff);
	tcase_add_test(tc, post_is_not_retried);
	tcase_add_test(tc, retry_after_is_honoured_and_bounded);
	tcase_add_test(tc, connection_refused);
	tcase_add_test(tc, bad_server_rejected);
	tcase_add_test(tc, concurrent_calls_share_connections);
	tcase_add_test(tc, request_cancel_aborts_a_hung_call);
	tcase_add_test(tc, watch_streams_until_server_ends);
	tcase_add_test(tc, watch_stops_on_flag);
	tcase_add_test(tc, watch_error_event_and_http_errors);
	tcase_add_test(tc, watch_garbage_and_cut_stream);
	suite_add_tcase(s, tc);
	TCase *tls = tcase_create("tls");
	tcase_set_timeout(tls, 60);
	tcase_add_test(tls, tls_ca_token_and_client_cert);
	suite_add_tcase(s, tls);
	return s;
}

KC_TEST_MAIN(client_suite)
