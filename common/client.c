/* Kubernetes REST client on libcurl (see client.h).
 *
 * Each call borrows an easy handle from the client's pool and gives it back afterwards;
 * an easy handle keeps its own keep-alive connection, so calls from any thread reuse
 * connections (as Go's http.Transport does for client-go). Pooled handles keep the
 * options that never change (TLS, share, timeouts, user agent) and each call sets only
 * its own (URL, method, body, headers, callbacks): resetting the handle, re-applying a
 * dozen options, copying the CA and key blobs and building a header list per call was
 * measurable in the scheduler's bindings. DNS and TLS sessions are shared through a
 * CURLSH. The connection cache itself is NOT put in the CURLSH: libcurl does not
 * support sharing connections between concurrent threads (CURLSHOPT_SHARE(3)). */
#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "client.h"
#include "errors.h"
#include "json.h"
#include "log.h"

#define RESP_MAX ((size_t)512 << 20) /* refuse bodies above 512 MiB */
#define BACKOFF_CAP_MS 5000
#define RETRY_AFTER_CAP_S 30
#define POOL_MAX 16 /* idle handles (= idle keep-alive connections) kept */

struct kc_client {
	kc_kubeconfig kc;
	kc_client_opts opts;
	char *user_agent;
	char *base;             /* URL prefix used in requests (no trailing slash) */
	char *server;           /* as configured, no trailing slash */
	struct curl_slist *connect_to; /* tls-server-name: connect to the real address */
	char *host_header;      /* "Host: real:port" when base names tls-server-name */
	char *auth_header;      /* "Authorization: Bearer ..." */
	/* the header lists of bodiless and JSON requests, built once (the common case;
	 * other content types build theirs per request) */
	struct curl_slist *hdrs_none, *hdrs_json;
	CURLSH *share;
	pthread_mutex_t locks[CURL_LOCK_DATA_LAST];
	pthread_mutex_t pool_mu;
	CURL *pool[POOL_MAX];
	int npool;
};

static struct curl_slist *build_headers(const kc_client *c, const char *content_type);

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static void global_init(void)
{
	curl_global_init(CURL_GLOBAL_ALL);
}

/* ---- status ---- */

void kc_status_clear(kc_status *st)
{
	memset(st, 0, sizeof(*st));
	st->retry_after = -1;
}

static void copy_str(char *dst, size_t n, const cJSON *item)
{
	if (cJSON_IsString(item))
		snprintf(dst, n, "%s", item->valuestring);
}

void kc_status_from_json(kc_status *st, const cJSON *obj, long http_code)
{
	st->http_code = http_code;
	st->code = (int)http_code;
	if (!cJSON_IsObject(obj))
		return;
	const cJSON *kind = cJSON_GetObjectItemCaseSensitive(obj, "kind");
	if (cJSON_IsString(kind) && strcmp(kind->valuestring, "Status") != 0)
		return;
	const cJSON *code = cJSON_GetObjectItemCaseSensitive(obj, "code");
	if (cJSON_IsNumber(code) && code->valuedouble >= 0 && code->valuedouble < 1000)
		st->code = (int)code->valuedouble;
	copy_str(st->status, sizeof(st->status), cJSON_GetObjectItemCaseSensitive(obj, "status"));
	copy_str(st->reason, sizeof(st->reason), cJSON_GetObjectItemCaseSensitive(obj, "reason"));
	copy_str(st->message, sizeof(st->message),
		 cJSON_GetObjectItemCaseSensitive(obj, "message"));
	const cJSON *d = cJSON_GetObjectItemCaseSensitive(obj, "details");
	if (cJSON_IsObject(d)) {
		copy_str(st->details.name, sizeof(st->details.name),
			 cJSON_GetObjectItemCaseSensitive(d, "name"));
		copy_str(st->details.group, sizeof(st->details.group),
			 cJSON_GetObjectItemCaseSensitive(d, "group"));
		copy_str(st->details.kind, sizeof(st->details.kind),
			 cJSON_GetObjectItemCaseSensitive(d, "kind"));
		const cJSON *ra = cJSON_GetObjectItemCaseSensitive(d, "retryAfterSeconds");
		if (cJSON_IsNumber(ra) && ra->valuedouble > 0 && ra->valuedouble < 86400)
			st->details.retry_after_seconds = (int)ra->valuedouble;
	}
}

int kc_status_to_err(int code, const char *reason)
{
	if (code >= 200 && code < 300)
		return 0;
	switch (code) {
	case 400: return KC_EINVALID;
	case 401: return KC_EUNAUTH;
	case 403: return KC_EFORBIDDEN;
	case 404: return KC_ENOTFOUND;
	case 409:
		/* apimachinery's errors.NewAlreadyExists vs NewConflict: same code, the
		 * reason tells them apart. */
		if (reason && strcmp(reason, "AlreadyExists") == 0)
			return KC_EEXIST;
		return KC_ECONFLICT;
	case 410: return KC_EGONE;
	case 413: return KC_ETOOLARGE;
	case 422: return KC_EINVALID;
	case 429: return KC_ESERVER;
	case 504: return KC_ETIMEOUT;
	}
	if (code >= 500 && code < 600)
		return KC_ESERVER;
	return KC_EHTTP;
}

/* ---- construction ---- */

static void opts_defaults(kc_client_opts *o)
{
	if (!o->timeout_ms)
		o->timeout_ms = 60000;
	if (!o->connect_timeout_ms)
		o->connect_timeout_ms = 10000;
	if (!o->max_retries)
		o->max_retries = 3;
	if (o->max_retries < 0)
		o->max_retries = 0;
	if (!o->retry_base_ms)
		o->retry_base_ms = 200;
	if (!o->clock)
		o->clock = kc_clock_real();
}

static void share_lock(CURL *h, curl_lock_data data, curl_lock_access acc, void *arg)
{
	kc_client *c = arg;
	if ((unsigned)data < CURL_LOCK_DATA_LAST)
		pthread_mutex_lock(&c->locks[data]);
}

static void share_unlock(CURL *h, curl_lock_data data, void *arg)
{
	kc_client *c = arg;
	if ((unsigned)data < CURL_LOCK_DATA_LAST)
		pthread_mutex_unlock(&c->locks[data]);
}

/* For tls-server-name: requests go to https://<tls-name>:<port><path>, curl connects to the
 * configured host instead (CONNECT_TO), and the Host header keeps the configured host, so
 * only SNI and the certificate check see the override (as Go's tls.Config.ServerName). */
static int setup_server_name(kc_client *c)
{
	CURLU *u = curl_url();
	char *scheme = NULL, *host = NULL, *port = NULL, *path = NULL;
	int rc = -EINVAL;
	if (!u)
		return -ENOMEM;
	if (curl_url_set(u, CURLUPART_URL, c->server, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) != CURLUE_OK)
		goto out;
	if (curl_url_get(u, CURLUPART_PATH, &path, 0) != CURLUE_OK)
		path = NULL;
	const char *p = (path && strcmp(path, "/") != 0) ? path : "";
	rc = -ENOMEM;
	char *ct = NULL;
	if (asprintf(&c->base, "%s://%s:%s%s", scheme, c->kc.tls_server_name, port, p) < 0) {
		c->base = NULL;
		goto out;
	}
	size_t bl = strlen(c->base);
	if (bl > 0 && c->base[bl - 1] == '/')
		c->base[bl - 1] = '\0';
	if (asprintf(&ct, "%s:%s:%s:%s", c->kc.tls_server_name, port, host, port) < 0)
		goto out;
	c->connect_to = curl_slist_append(NULL, ct);
	free(ct);
	if (!c->connect_to)
		goto out;
	if (asprintf(&c->host_header, "Host: %s:%s", host, port) < 0) {
		c->host_header = NULL;
		goto out;
	}
	rc = 0;
out:
	curl_free(scheme);
	curl_free(host);
	curl_free(port);
	curl_free(path);
	curl_url_cleanup(u);
	return rc;
}

/* No control bytes or spaces: the value goes into a header or a URL. */
static int printable(const char *s, int allow_space)
{
	for (; s && *s; s++) {
		unsigned char ch = (unsigned char)*s;
		if (ch < 0x20 || ch == 0x7f || (ch == ' ' && !allow_space))
			return 0;
	}
	return 1;
}

static int valid_hostname(const char *s)
{
	if (!s || !*s)
		return 1; /* unset */
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '.' && *s != '-' && *s != '_')
			return 0;
	return 1;
}

int kc_client_new(const kc_kubeconfig *kc, const kc_client_opts *opts, kc_client **out)
{
	*out = NULL;
	if (!kc || !kc->server || !*kc->server || !printable(kc->server, 0) ||
	    !printable(kc->token, 0) || !valid_hostname(kc->tls_server_name) ||
	    (opts && opts->user_agent && !printable(opts->user_agent, 1)))
		return -EINVAL;
	if (strncmp(kc->server, "http://", 7) != 0 && strncmp(kc->server, "https://", 8) != 0)
		return -EINVAL;
	pthread_once(&global_once, global_init);
	kc_client *c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
		pthread_mutex_init(&c->locks[i], NULL);
	pthread_mutex_init(&c->pool_mu, NULL);
	int rc = kc_kubeconfig_copy(&c->kc, kc);
	if (rc < 0)
		goto fail;
	rc = -ENOMEM;
	if (opts)
		c->opts = *opts;
	opts_defaults(&c->opts);
	c->user_agent = strdup(c->opts.user_agent ? c->opts.user_agent : "kubec/v0.1 (linux/amd64)");
	c->server = strdup(kc->server);
	if (!c->user_agent || !c->server)
		goto fail;
	size_t sl = strlen(c->server);
	while (sl > 0 && c->server[sl - 1] == '/')
		c->server[--sl] = '\0';
	c->opts.user_agent = c->user_agent;
	if (c->kc.tls_server_name && *c->kc.tls_server_name &&
	    strncmp(c->server, "https://", 8) == 0) {
		rc = setup_server_name(c);
		if (rc < 0)
			goto fail;
		rc = -ENOMEM;
	} else if (!(c->base = strdup(c->server))) {
		goto fail;
	}
	if (c->kc.token && *c->kc.token &&
	    asprintf(&c->auth_header, "Authorization: Bearer %s", c->kc.token) < 0) {
		c->auth_header = NULL;
		goto fail;
	}
	c->share = curl_share_init();
	if (!c->share)
		goto fail;
	curl_share_setopt(c->share, CURLSHOPT_LOCKFUNC, share_lock);
	curl_share_setopt(c->share, CURLSHOPT_UNLOCKFUNC, share_unlock);
	curl_share_setopt(c->share, CURLSHOPT_USERDATA, c);
	curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
	curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
	c->hdrs_none = build_headers(c, NULL);
	c->hdrs_json = build_headers(c, "application/json");
	if (!c->hdrs_none || !c->hdrs_json)
		goto fail;
	*out = c;
	return 0;
fail:
	kc_client_free(c);
	return rc;
}

void kc_client_free(kc_client *c)
{
	if (!c)
		return;
	for (int i = 0; i < c->npool; i++)
		curl_easy_cleanup(c->pool[i]);
	curl_slist_free_all(c->hdrs_none);
	curl_slist_free_all(c->hdrs_json);
	pthread_mutex_destroy(&c->pool_mu);
	if (c->share)
		curl_share_cleanup(c->share);
	for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
		pthread_mutex_destroy(&c->locks[i]);
	curl_slist_free_all(c->connect_to);
	free(c->host_header);
	if (c->auth_header) {
		explicit_bzero(c->auth_header, strlen(c->auth_header));
		free(c->auth_header);
	}
	free(c->user_agent);
	free(c->base);
	free(c->server);
	kc_kubeconfig_close(&c->kc);
	free(c);
}

const char *kc_client_server(const kc_client *c)
{
	return c->server;
}

/* ---- one transfer ---- */

struct membuf {
	char *p;
	size_t len, cap;
	size_t max;
};

static int membuf_add(struct membuf *b, const void *data, size_t n)
{
	if (b->len + n + 1 > b->max)
		return -1;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		while (cap < b->len + n + 1)
			cap *= 2;
		char *np = realloc(b->p, cap);
		if (!np)
			return -1;
		b->p = np;
		b->cap = cap;
	}
	memcpy(b->p + b->len, data, n);
	b->len += n;
	b->p[b->len] = '\0';
	return 0;
}

static size_t body_write(char *ptr, size_t size, size_t nmemb, void *arg)
{
	size_t n = size * nmemb;
	if (membuf_add(arg, ptr, n) < 0)
		return 0; /* too large: CURLE_WRITE_ERROR */
	return n;
}

/* Captures Retry-After (seconds form; the HTTP-date form is ignored, as client-go). */
static size_t header_write(char *ptr, size_t size, size_t nmemb, void *arg)
{
	size_t n = size * nmemb;
	int *retry_after = arg;
	static const char name[] = "retry-after:";
	if (n > sizeof(name) - 1 && strncasecmp(ptr, name, sizeof(name) - 1) == 0) {
		char tmp[32];
		size_t vl = n - (sizeof(name) - 1);
		if (vl >= sizeof(tmp))
			vl = sizeof(tmp) - 1;
		memcpy(tmp, ptr + sizeof(name) - 1, vl);
		tmp[vl] = '\0';
		char *end;
		long v = strtol(tmp, &end, 10);
		while (*end == ' ' || *end == '\r' || *end == '\n')
			end++;
		if (end != tmp && *end == '\0' && v >= 0)
			*retry_after = v > RETRY_AFTER_CAP_S ? RETRY_AFTER_CAP_S : (int)v;
	}
	return n;
}

static int curl_err(CURLcode rc)
{
	switch (rc) {
	case CURLE_OK: return 0;
	case CURLE_COULDNT_CONNECT: return -ECONNREFUSED;
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY: return -EHOSTUNREACH;
	case CURLE_OPERATION_TIMEDOUT: return KC_ETIMEOUT;
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE: return -ECONNRESET;
	case CURLE_WRITE_ERROR: return KC_ETOOLARGE;
	case CURLE_ABORTED_BY_CALLBACK: return -ECANCELED;
	case CURLE_OUT_OF_MEMORY: return -ENOMEM;
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_ENGINE_NOTFOUND:
	case CURLE_SSL_ENGINE_SETFAILED:
	case CURLE_USE_SSL_FAILED: return -EPROTO;
	default: return -EIO;
	}
}

static int retriable_transport(CURLcode rc)
{
	return rc == CURLE_COULDNT_CONNECT || rc == CURLE_COULDNT_RESOLVE_HOST ||
	       rc == CURLE_SEND_ERROR || rc == CURLE_RECV_ERROR || rc == CURLE_GOT_NOTHING;
}

/* The request headers: Accept, Content-Type (when content_type is non-NULL), Host (with
 * tls-server-name), Authorization, and an empty Expect so that libcurl never waits for a
 * 100 Continue before sending a body. NULL on ENOMEM. */
static struct curl_slist *build_headers(const kc_client *c, const char *content_type)
{
	struct curl_slist *l = NULL, *t;
	char ct[160];
	snprintf(ct, sizeof(ct), "Content-Type: %s", content_type ? content_type : "");
	const char *fixed[] = { "Accept: application/json", content_type ? ct : NULL,
				c->host_header, c->auth_header, "Expect:" };
	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++) {
		if (!fixed[i])
			continue;
		t = curl_slist_append(l, fixed[i]);
		if (!t) {
			curl_slist_free_all(l);
			return NULL;
		}
		l = t;
	}
	return l;
}

/* The header list for a request: one of the client's prebuilt lists (*owned NULL) or a
 * new one the caller frees after the transfer (*owned). NULL on ENOMEM. */
static struct curl_slist *request_headers(kc_client *c, const char *content_type,
					  struct curl_slist **owned)
{
	*owned = NULL;
	if (!content_type)
		return c->hdrs_none;
	if (strcmp(content_type, "application/json") == 0)
		return c->hdrs_json;
	*owned = build_headers(c, content_type);
	return *owned;
}

/* The options every request of this client shares: set once on a new handle. */
static void easy_setup(kc_client *c, CURL *h)
{
	curl_easy_setopt(h, CURLOPT_SHARE, c->share);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
	curl_easy_setopt(h, CURLOPT_USERAGENT, c->user_agent);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, c->opts.connect_timeout_ms);
	curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	/* libcurl 7.88 allocates a 64 KiB upload buffer for every transfer and frees it at
	 * the end. That is above jemalloc's thread cache (32 KiB), so with the daemons'
	 * dirty_decay_ms:0 (malloc_conf.c) each request returned 68 KiB to the kernel
	 * (madvise, a TLB shootdown across the threads) and faulted it back in: measured
	 * as one madvise per request in the scheduler. The minimum, 16 KiB, stays in the
	 * thread cache; bodies given as POSTFIELDS do not go through it anyway. */
	curl_easy_setopt(h, CURLOPT_UPLOAD_BUFFERSIZE, 16384L);
	if (c->connect_to)
		curl_easy_setopt(h, CURLOPT_CONNECT_TO, c->connect_to);
	const kc_kubeconfig *kc = &c->kc;
	if (kc->ca_data || kc->ca_file) {
		/* Only the configured CA, as client-go's TLS config (no system roots). */
		curl_easy_setopt(h, CURLOPT_CAPATH, NULL);
		if (kc->ca_data) {
			struct curl_blob b = { kc->ca_data, kc->ca_len, CURL_BLOB_COPY };
			curl_easy_setopt(h, CURLOPT_CAINFO, NULL);
			curl_easy_setopt(h, CURLOPT_CAINFO_BLOB, &b);
		} else {
			curl_easy_setopt(h, CURLOPT_CAINFO, kc->ca_file);
		}
	}
	if (kc->insecure_skip_tls_verify) {
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	if (kc->cert_data) {
		struct curl_blob b = { kc->cert_data, kc->cert_len, CURL_BLOB_COPY };
		curl_easy_setopt(h, CURLOPT_SSLCERT_BLOB, &b);
		curl_easy_setopt(h, CURLOPT_SSLCERTTYPE, "PEM");
	} else if (kc->cert_file) {
		curl_easy_setopt(h, CURLOPT_SSLCERT, kc->cert_file);
		curl_easy_setopt(h, CURLOPT_SSLCERTTYPE, "PEM");
	}
	if (kc->key_data) {
		struct curl_blob b = { kc->key_data, kc->key_len, CURL_BLOB_COPY };
		curl_easy_setopt(h, CURLOPT_SSLKEY_BLOB, &b);
		curl_easy_setopt(h, CURLOPT_SSLKEYTYPE, "PEM");
	} else if (kc->key_file) {
		curl_easy_setopt(h, CURLOPT_SSLKEY, kc->key_file);
		curl_easy_setopt(h, CURLOPT_SSLKEYTYPE, "PEM");
	}
}

/* Give a handle back to the pool (options and live connection kept) or free it. */
static void easy_put(kc_client *c, CURL *h)
{
	pthread_mutex_lock(&c->pool_mu);
	if (c->npool < POOL_MAX) {
		c->pool[c->npool++] = h;
		h = NULL;
	}
	pthread_mutex_unlock(&c->pool_mu);
	if (h)
		curl_easy_cleanup(h);
}

/* pooled: an idle handle (with its connection) if there is one, to be returned with
 * easy_put; otherwise, or when !pooled, a new one. Either way with easy_setup's
 * options, nothing per request. NULL on ENOMEM. */
static CURL *easy_get(kc_client *c, int pooled)
{
	CURL *h = NULL;
	if (pooled) {
		pthread_mutex_lock(&c->pool_mu);
		if (c->npool > 0)
			h = c->pool[--c->npool];
		pthread_mutex_unlock(&c->pool_mu);
		if (h)
			return h;
	}
	h = curl_easy_init();
	if (h)
		easy_setup(c, h);
	return h;
}

static int valid_method(const char *m)
{
	static const char *const ok[] = { "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD" };
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		if (strcmp(m, ok[i]) == 0)
			return 1;
	return 0;
}

static int valid_path(const char *p)
{
	if (!p || p[0] != '/')
		return 0;
	for (; *p; p++)
		if ((unsigned char)*p <= 0x20 || *p == 0x7f || *p == '#')
			return 0;
	return 1;
}

static char *make_url(kc_client *c, const char *path, const char *query)
{
	char *url;
	int n;
	if (query && *query)
		n = asprintf(&url, "%s%s%c%s", c->base, path, strchr(path, '?') ? '&' : '?', query);
	else
		n = asprintf(&url, "%s%s", c->base, path);
	return n < 0 ? NULL : url;
}

/* Fill st from a failure answer and return its KC_E* code. */
static int fail_status(kc_status *st, long http, const struct membuf *b)
{
	cJSON *obj = NULL;
	if (b->len)
		kc_json_parse(b->p, b->len, b->len, &obj, NULL, 0);
	int ra = st->retry_after;
	kc_status_clear(st);
	st->retry_after = ra;
	kc_status_from_json(st, obj, http);
	if (!st->message[0] && b->len && !obj)
		snprintf(st->message, sizeof(st->message), "%.*s", (int)b->len, b->p);
	cJSON_Delete(obj);
	return kc_status_to_err((int)http, st->reason[0] ? st->reason : NULL);
}

static void backoff_sleep(kc_client *c, int attempt, int retry_after)
{
	int64_t ms;
	if (retry_after >= 0) {
		ms = (int64_t)retry_after * 1000;
	} else {
		ms = c->opts.retry_base_ms;
		for (int i = 0; i < attempt && ms < BACKOFF_CAP_MS; i++)
			ms *= 2;
		if (ms > BACKOFF_CAP_MS)
			ms = BACKOFF_CAP_MS;
	}
	if (ms > 0)
		c->opts.clock->sleep_ns(c->opts.clock, ms * KC_NSEC_PER_MSEC);
}

static int xfer_stop(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
		     curl_off_t ulnow)
{
	const atomic_int *stop = arg;
	return atomic_load(stop) ? 1 : 0;
}

int kc_client_request(kc_client *c, const char *method, const char *path_with_query,
		      const cJSON *body, const char *content_type, cJSON **out, kc_status *st)
{
	return kc_client_request_cancel(c, method, path_with_query, body, content_type, out, st,
					NULL);
}

int kc_client_request_cancel(kc_client *c, const char *method, const char *path_with_query,
			     const cJSON *body, const char *content_type, cJSON **out,
			     kc_status *st, const atomic_int *stop)
{
	kc_status local;
	if (!st)
		st = &local;
	kc_status_clear(st);
	if (out)
		*out = NULL;
	if (!c || !method || !valid_method(method) || !valid_path(path_with_query))
		return -EINVAL;
	if (content_type && (strlen(content_type) > 100 || strpbrk(content_type, "\r\n")))
		return -EINVAL;
	char *payload = NULL;
	size_t payload_len = 0;
	if (body) {
		payload = kc_json_print(body);
		if (!payload)
			return -ENOMEM;
		payload_len = strlen(payload);
	}
	char *url = make_url(c, path_with_query, NULL);
	if (!url) {
		free(payload);
		return -ENOMEM;
	}
	int idempotent = strcmp(method, "GET") == 0;
	int rc = 0;
	for (int attempt = 0;; attempt++) {
		struct membuf b = { .max = RESP_MAX };
		struct curl_slist *owned = NULL;
		struct curl_slist *hdrs = request_headers(
			c, payload ? (content_type ? content_type : "application/json") : NULL,
			&owned);
		CURL *h = hdrs ? easy_get(c, 1) : NULL;
		if (!h) {
			curl_slist_free_all(owned);
			rc = -ENOMEM;
			break;
		}
		st->retry_after = -1;
		/* Everything a previous call on this pooled handle set is set again here:
		 * back to a bodiless GET first (POSTFIELDS, even NULL, makes it a POST), then
		 * this request's body, method and callbacks. */
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, NULL);
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, -1L);
		curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
		if (payload) {
			curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)payload_len);
			curl_easy_setopt(h, CURLOPT_POSTFIELDS, payload);
		}
		if (strcmp(method, "HEAD") == 0)
			curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
		curl_easy_setopt(h, CURLOPT_URL, url);
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
		curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
		curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, body_write);
		curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
		curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, header_write);
		curl_easy_setopt(h, CURLOPT_HEADERDATA, &st->retry_after);
		curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, c->opts.timeout_ms);
		if (stop) {
			curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, xfer_stop);
			curl_easy_setopt(h, CURLOPT_XFERINFODATA, (void *)stop);
			curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
		} else {
			curl_easy_setopt(h, CURLOPT_NOPROGRESS, 1L);
		}
		CURLcode cr = curl_easy_perform(h);
		long http = 0;
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &http);
		if (owned) /* the pooled handle must not keep a list freed below */
			curl_easy_setopt(h, CURLOPT_HTTPHEADER, c->hdrs_none);
		if (cr == CURLE_OK || cr == CURLE_HTTP_RETURNED_ERROR)
			easy_put(c, h);
		else
			curl_easy_cleanup(h); /* its connection is in an unknown state */
		curl_slist_free_all(owned);
		int retry = 0;
		if (cr != CURLE_OK) {
			rc = curl_err(cr);
			st->http_code = 0;
			snprintf(st->message, sizeof(st->message), "%s %s: %s", method, url,
				 curl_easy_strerror(cr));
			retry = idempotent && retriable_transport(cr);
		} else if (http >= 200 && http < 300) {
			st->http_code = http;
			st->code = (int)http;
			rc = 0;
			if (out && b.len) {
				char jerr[128];
				rc = kc_json_parse(b.p, b.len, b.len, out, jerr, sizeof(jerr));
				if (rc < 0) {
					if (rc != -ENOMEM)
						rc = KC_EPARSE;
					snprintf(st->message, sizeof(st->message),
						 "%s %s: response is not JSON: %s", method, url, jerr);
				}
			}
		} else {
			rc = fail_status(st, http, &b);
			retry = idempotent && (http >= 500 || http == 429);
		}
		free(b.p);
		if (!retry || attempt >= c->opts.max_retries || (stop && atomic_load(stop)))
			break;
		kc_log_v(4, "%s %s: %s, retry %d/%d", method, url, kc_strerror(rc), attempt + 1,
			 c->opts.max_retries);
		backoff_sleep(c, attempt, st->retry_after);
	}
	free(url);
	free(payload);
	return rc;
}

/* ---- paths ---- */

static int valid_segment(const char *s)
{
	if (!s || !*s || strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
		return 0;
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;
		if (ch <= 0x20 || ch == 0x7f || ch == '/' || ch == '?' || ch == '#' || ch == '%')
			return 0;
	}
	return 1;
}

int kc_client_path(char *buf, size_t len, const kc_ref *ref)
{
	if (len > 0)
		buf[0] = '\0';
	if (!ref || !ref->api_version || !ref->resource || !valid_segment(ref->resource))
		return -EINVAL;
	const char *av = ref->api_version;
	const char *slash = strchr(av, '/');
	if (!*av || (slash && (slash == av || !slash[1] || strchr(slash + 1, '/'))))
		return -EINVAL;
	for (const char *p = av; *p; p++)
		if (!isalnum((unsigned char)*p) && *p != '.' && *p != '-' && *p != '/')
			return -EINVAL;
	const char *ns = ref->ns && *ref->ns ? ref->ns : NULL;
	const char *name = ref->name && *ref->name ? ref->name : NULL;
	const char *sub = ref->subresource && *ref->subresource ? ref->subresource : NULL;
	if ((ns && !valid_segment(ns)) || (name && !valid_segment(name)) ||
	    (sub && !valid_segment(sub)) || (sub && !name))
		return -EINVAL;
	int n = snprintf(buf, len, "%s%s%s%s/%s%s%s%s%s", slash ? "/apis/" : "/api/", av,
			 ns ? "/namespaces/" : "", ns ? ns : "", ref->resource,
			 name ? "/" : "", name ? name : "", sub ? "/" : "", sub ? sub : "");
	if (n < 0)
		return -EINVAL;
	if ((size_t)n >= len) {
		if (len > 0)
			buf[0] = '\0';
		return -ENAMETOOLONG;
	}
	return n;
}

char *kc_client_query_escape(const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = strlen(s);
	char *o = malloc(n * 3 + 1), *p = o;
	if (!o)
		return NULL;
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;
		if (isalnum(ch) || ch == '-' || ch == '_' || ch == '.' || ch == '~') {
			*p++ = (char)ch;
		} else {
			*p++ = '%';
			*p++ = hex[ch >> 4];
			*p++ = hex[ch & 15];
		}
	}
	*p = '\0';
	return o;
}

/* ---- verbs ---- */

#define PATH_MAX_LEN 2048

static int verb(kc_client *c, const char *method, const kc_ref *ref, const char *query,
		const cJSON *body, const char *ctype, int need_name, cJSON **out, kc_status *st)
{
	char path[PATH_MAX_LEN];
	if (out)
		*out = NULL;
	if (st)
		kc_status_clear(st);
	int n = kc_client_path(path, sizeof(path) - 1, ref);
	if (n < 0)
		return n;
	if (need_name && !(ref->name && *ref->name))
		return -EINVAL;
	if (query && *query) {
		if (strpbrk(query, " \r\n#"))
			return -EINVAL;
		int m = snprintf(path + n, sizeof(path) - (size_t)n, "?%s", query);
		if (m < 0 || (size_t)m >= sizeof(path) - (size_t)n)
			return -ENAMETOOLONG;
	}
	return kc_client_request(c, method, path, body, ctype, out, st);
}

int kc_client_get(kc_client *c, const kc_ref *ref, const char *query, cJSON **out,
		  kc_status *st)
{
	return verb(c, "GET", ref, query, NULL, NULL, 0, out, st);
}

int kc_client_create(kc_client *c, const kc_ref *ref, const cJSON *obj, cJSON **out,
		     kc_status *st)
{
	if (!obj)
		return -EINVAL;
	return verb(c, "POST", ref, NULL, obj, NULL, 0, out, st);
}

int kc_client_update(kc_client *c, const kc_ref *ref, const cJSON *obj, cJSON **out,
		     kc_status *st)
{
	if (!obj)
		return -EINVAL;
	return verb(c, "PUT", ref, NULL, obj, NULL, 1, out, st);
}

const char *kc_patch_content_type(enum kc_patch_type t)
{
	switch (t) {
	case KC_PATCH_JSON: return "application/json-patch+json";
	case KC_PATCH_MERGE: return "application/merge-patch+json";
	case KC_PATCH_STRATEGIC: return "application/strategic-merge-patch+json";
	case KC_PATCH_APPLY: return "application/apply-patch+yaml";
	}
	return NULL;
}

int kc_client_patch(kc_client *c, const kc_ref *ref, enum kc_patch_type type,
		    const cJSON *patch, const char *query, cJSON **out, kc_status *st)
{
	const char *ct = kc_patch_content_type(type);
	if (!ct || !patch)
		return -EINVAL;
	return verb(c, "PATCH", ref, query, patch, ct, 1, out, st);
}

int kc_client_delete(kc_client *c, const kc_ref *ref, const cJSON *opts, cJSON **out,
		     kc_status *st)
{
	return verb(c, "DELETE", ref, NULL, opts, NULL, 1, out, st);
}

/* ---- watch ---- */

struct watch_ctx {
	CURL *h;
	kc_watch_decoder dec;
	kc_watch_fn cb;
	void *arg;
	int rc;         /* callback's or decoder's code that aborted the transfer */
	long http;
	struct membuf err; /* body of a non-200 answer */
};

static size_t watch_write(char *ptr, size_t size, size_t nmemb, void *arg)
{
	struct watch_ctx *w = arg;
	size_t n = size * nmemb;
	if (!w->http)
		curl_easy_getinfo(w->h, CURLINFO_RESPONSE_CODE, &w->http);
	if (w->http != 200) {
		membuf_add(&w->err, ptr, n); /* a truncated Status is still decoded */
		return n;
	}
	int rc = kc_watch_decoder_feed(&w->dec, ptr, n, w->cb, w->arg);
	if (rc != 0) {
		w->rc = rc;
		return 0;
	}
	return n;
}

int kc_client_watch(kc_client *c, const char *path, const char *query, kc_watch_fn cb,
		    void *arg, const atomic_int *stop, kc_status *st)
{
	kc_status local;
	if (!st)
		st = &local;
	kc_status_clear(st);
	if (!c || !valid_path(path) || strchr(path, '?') || (query && strpbrk(query, " \r\n#")))
		return -EINVAL;
	char q[4096];
	int qn = snprintf(q, sizeof(q), "watch=1%s%s", query && *query ? "&" : "",
			  query ? query : "");
	if (qn < 0 || (size_t)qn >= sizeof(q))
		return -ENAMETOOLONG;
	char *url = make_url(c, path, q);
	if (!url)
		return -ENOMEM;
	struct watch_ctx w = { .cb = cb, .arg = arg, .err = { .max = 64 * 1024 } };
	kc_watch_decoder_init(&w.dec, 0);
	CURLM *m = curl_multi_init();
	w.h = m ? easy_get(c, 0) : NULL;
	if (!w.h) {
		if (m)
			curl_multi_cleanup(m);
		kc_watch_decoder_close(&w.dec);
		free(url);
		return -ENOMEM;
	}
	curl_easy_setopt(w.h, CURLOPT_URL, url);
	curl_easy_setopt(w.h, CURLOPT_HTTPHEADER, c->hdrs_none);
	curl_easy_setopt(w.h, CURLOPT_WRITEFUNCTION, watch_write);
	curl_easy_setopt(w.h, CURLOPT_WRITEDATA, &w);
	curl_easy_setopt(w.h, CURLOPT_HEADERFUNCTION, header_write);
	curl_easy_setopt(w.h, CURLOPT_HEADERDATA, &st->retry_after);
	curl_multi_add_handle(m, w.h);
	int rc = 0, running = 1;
	CURLcode result = CURLE_OK;
	/* Poll in 100 ms steps so a stop request from another thread is seen promptly. */
	while (running) {
		if (stop && atomic_load(stop)) {
			rc = -ECANCELED;
			break;
		}
		if (curl_multi_perform(m, &running) != CURLM_OK) {
			rc = -EIO;
			break;
		}
		if (!running)
			break;
		curl_multi_poll(m, NULL, 0, 100, NULL);
	}
	if (rc == 0) {
		int left;
		CURLMsg *msg;
		while ((msg = curl_multi_info_read(m, &left)))
			if (msg->msg == CURLMSG_DONE)
				result = msg->data.result;
		if (!w.http)
			curl_easy_getinfo(w.h, CURLINFO_RESPONSE_CODE, &w.http);
		if (w.rc != 0) {
			rc = w.rc;
		} else if (result != CURLE_OK) {
			rc = curl_err(result);
			snprintf(st->message, sizeof(st->message), "watch %s: %s", url,
				 curl_easy_strerror(result));
		} else if (w.http != 200) {
			rc = fail_status(st, w.http, &w.err);
		} else {
			rc = kc_watch_decoder_finish(&w.dec, cb, arg);
		}
	}
	if (w.http == 200)
		st->http_code = st->code = 200;
	curl_multi_remove_handle(m, w.h);
	curl_easy_cleanup(w.h);
	curl_multi_cleanup(m);
	kc_watch_decoder_close(&w.dec);
	free(w.err.p);
	free(url);
	return rc;
}
