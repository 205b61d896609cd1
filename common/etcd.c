/* Client of etcd v3's JSON gateway (see etcd.h and docs/STORE_API.md): the client and its
 * endpoint failover, the HTTP transport, the JSON codec and the unary calls. The streamed
 * calls (lease keep-alive, snapshot, watch) are in etcd_stream.c; the internals the two
 * files share are declared in etcd_int.h. */
#include "etcd.h"

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"
#include "etcd_int.h"


/* ------------------------------------------------------------------ base64 */

static const char b64chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Two base64 characters per 12 input bits, in memory order: every txn carries the object
 * base64-encoded, and a character at a time was the largest part of encoding one. */
static uint16_t b64pairs[4096];
static pthread_once_t b64pairs_once = PTHREAD_ONCE_INIT;

static void b64pairs_init(void)
{
	for (int i = 0; i < 4096; i++) {
		unsigned char two[2] = { (unsigned char)b64chars[i >> 6],
					 (unsigned char)b64chars[i & 63] };
		memcpy(&b64pairs[i], two, 2);
	}
}

/* Standard padded base64 of in[0..len) into o (room for 4 * ((len + 2) / 3)), no NUL;
 * returns the length written. */
static size_t b64_encode_into(const uint8_t *in, size_t len, char *o)
{
	pthread_once(&b64pairs_once, b64pairs_init);
	size_t j = 0, i = 0;
	for (; i + 3 <= len; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
		memcpy(o + j, &b64pairs[v >> 12], 2);
		memcpy(o + j + 2, &b64pairs[v & 0xfff], 2);
		j += 4;
	}
	if (i < len) {
		uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < len ? (uint32_t)in[i + 1] << 8 : 0);
		o[j++] = b64chars[v >> 18];
		o[j++] = b64chars[(v >> 12) & 63];
		o[j++] = i + 1 < len ? b64chars[(v >> 6) & 63] : '=';
		o[j++] = '=';
	}
	return j;
}

int kc_etcd_b64_encode(const void *in, size_t len, char **out)
{
	char *o = malloc(4 * ((len + 2) / 3) + 1);
	if (!o)
		return -ENOMEM;
	o[b64_encode_into(in, len, o)] = 0;
	*out = o;
	return 0;
}

/* Go's base64.StdEncoding, which etcd's gateway uses: padding required. */
int kc_etcd_b64_decode(const char *in, size_t in_len, uint8_t **out, size_t *out_len)
{
	uint8_t *o = malloc(kc_etcd__b64_max(in_len) + 1);
	if (!o)
		return -ENOMEM;
	size_t j = 0;
	int rc = kc_etcd__b64_decode_into(in, in_len, o, &j);
	if (rc) {
		free(o);
		return rc;
	}
	o[j] = 0;
	*out = o;
	*out_len = j;
	return 0;
}

size_t kc_etcd_prefix_end(const void *prefix, size_t len, uint8_t *out)
{
	const uint8_t *p = prefix;
	/* clientv3.GetPrefixRangeEnd: increment the last byte < 0xff, drop what follows. */
	for (size_t i = len; i > 0; i--) {
		if (p[i - 1] < 0xff) {
			memcpy(out, p, i - 1);
			out[i - 1] = (uint8_t)(p[i - 1] + 1);
			return i;
		}
	}
	out[0] = 0;
	return 1;
}

/* ------------------------------------------------------------------ errors */

void kc_etcd__set_err(struct kc_etcd_error *err, int http, int code, const char *fmt, ...)
{
	if (!err)
		return;
	err->http_status = http;
	err->grpc_code = code;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
	va_end(ap);
}

int kc_etcd__map_grpc(int code, const char *msg, long http)
{
	switch (code) {
	case 11:
		return msg && strstr(msg, "compacted") ? KC_EGONE : KC_EINVALID;
	case 3:
		return KC_EINVALID;
	case 5:
		return KC_ENOTFOUND;
	case 6:
	case 9:
		return KC_EEXIST;
	case 8:
		return KC_ETOOLARGE;
	case 2:
	case 4:
	case 14:
		return KC_ETIMEOUT;
	case 16:
		return KC_EUNAUTH;
	case 7:
		return KC_EFORBIDDEN;
	default:
		break;
	}
	if (http == 404)
		return KC_ENOTFOUND;
	if (http >= 500)
		return KC_ESERVER;
	if (http == 400)
		return KC_EINVALID;
	return code ? KC_ESERVER : KC_EHTTP;
}

/* Decodes an etcd error body {"error","message","code"} (or a plain-text one). */
int kc_etcd__decode_error(long http, const char *body, struct kc_etcd_error *err)
{
	int code = 0;
	char msg[512] = "";
	cJSON *j = body ? cJSON_Parse(body) : NULL;
	if (j && cJSON_IsObject(j)) {
		cJSON *m = cJSON_GetObjectItemCaseSensitive(j, "message");
		if (!cJSON_IsString(m))
			m = cJSON_GetObjectItemCaseSensitive(j, "error");
		if (cJSON_IsString(m))
			snprintf(msg, sizeof(msg), "%s", m->valuestring);
		cJSON *cd = cJSON_GetObjectItemCaseSensitive(j, "code");
		if (cJSON_IsNumber(cd))
			code = cd->valueint;
	} else if (body) {
		snprintf(msg, sizeof(msg), "%s", body);
		size_t n = strlen(msg);
		while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
			msg[--n] = 0;
	}
	cJSON_Delete(j);
	if (!msg[0])
		snprintf(msg, sizeof(msg), "HTTP %ld", http);
	kc_etcd__set_err(err, (int)http, code, "%s", msg);
	return kc_etcd__map_grpc(code, msg, http);
}

/* ------------------------------------------------------------------ client */

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_init_once(void) { curl_global_init(CURL_GLOBAL_DEFAULT); }

static char *dup_or_null(const char *s) { return s ? strdup(s) : NULL; }

int kc_etcd_new(const struct kc_etcd_config *cfg, kc_etcd **out)
{
	if (!cfg || !out || !cfg->endpoints || cfg->n_endpoints == 0)
		return -EINVAL;
	for (size_t i = 0; i < cfg->n_endpoints; i++) {
		const char *e = cfg->endpoints[i];
		if (!e || (strncmp(e, "http://", 7) != 0 && strncmp(e, "https://", 8) != 0))
			return -EINVAL;
	}
	pthread_once(&curl_once, curl_init_once);
	kc_etcd *c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->endpoints = calloc(cfg->n_endpoints, sizeof(char *));
	if (!c->endpoints)
		goto nomem;
	c->n_endpoints = cfg->n_endpoints;
	for (size_t i = 0; i < cfg->n_endpoints; i++) {
		size_t n = strlen(cfg->endpoints[i]);
		c->endpoints[i] = strdup(cfg->endpoints[i]);
		if (!c->endpoints[i])
			goto nomem;
		while (n > 0 && c->endpoints[i][n - 1] == '/') /* "http://h:p/" */
			c->endpoints[i][--n] = 0;
	}
	c->cacert = dup_or_null(cfg->cacert);
	c->cert = dup_or_null(cfg->cert);
	c->key = dup_or_null(cfg->key);
	if ((cfg->cacert && !c->cacert) || (cfg->cert && !c->cert) || (cfg->key && !c->key))
		goto nomem;
	c->dial_timeout_ms = cfg->dial_timeout_ms > 0 ? cfg->dial_timeout_ms : 2000;
	c->request_timeout_ms = cfg->request_timeout_ms > 0 ? cfg->request_timeout_ms : 5000;
	c->insecure = cfg->insecure_skip_verify;
	/* Expect: off (curl would wait for a 100 Continue on big bodies) */
	struct curl_slist *h1 = curl_slist_append(NULL, "Content-Type: application/json");
	c->hdrs = h1 ? curl_slist_append(h1, "Expect:") : NULL;
	if (!c->hdrs) {
		curl_slist_free_all(h1);
		goto nomem;
	}
	if (kc_etcd__http_init(c) != 0) {
		curl_slist_free_all(c->hdrs);
		goto nomem;
	}
	atomic_init(&c->preferred, 0);
	pthread_mutex_init(&c->mu, NULL);
	*out = c;
	return 0;
nomem:
	if (c->endpoints)
		for (size_t i = 0; i < c->n_endpoints; i++)
			free(c->endpoints[i]);
	free(c->endpoints);
	free(c->cacert);
	free(c->cert);
	free(c->key);
	free(c);
	return -ENOMEM;
}

void kc_etcd_free(kc_etcd *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n_pool; i++)
		curl_easy_cleanup(c->pool[i]);
	curl_slist_free_all(c->hdrs);
	kc_etcd__http_close(c);
	for (size_t i = 0; i < c->n_endpoints; i++)
		free(c->endpoints[i]);
	free(c->endpoints);
	free(c->cacert);
	free(c->cert);
	free(c->key);
	pthread_mutex_destroy(&c->mu);
	free(c);
}

CURL *kc_etcd__pool_get(kc_etcd *c)
{
	CURL *h = NULL;
	pthread_mutex_lock(&c->mu);
	if (c->n_pool > 0)
		h = c->pool[--c->n_pool];
	pthread_mutex_unlock(&c->mu);
	if (h)
		curl_easy_reset(h); /* keeps the connection cache */
	else
		h = curl_easy_init();
	return h;
}

void kc_etcd__pool_put(kc_etcd *c, CURL *h)
{
	pthread_mutex_lock(&c->mu);
	if (c->n_pool < KC_ETCD__POOL_MAX) {
		c->pool[c->n_pool++] = h;
		h = NULL;
	}
	pthread_mutex_unlock(&c->mu);
	if (h)
		curl_easy_cleanup(h);
}

int kc_etcd__buf_reserve(struct kc_etcd__buf *b, size_t n)
{
	if (b->len + n + 1 <= b->cap)
		return 0;
	size_t nc = b->cap ? b->cap : 1024;
	while (nc < b->len + n + 1)
		nc *= 2;
	char *np = realloc(b->p, nc);
	if (!np)
		return -ENOMEM;
	b->p = np;
	b->cap = nc;
	return 0;
}

int kc_etcd__buf_append(struct kc_etcd__buf *b, const void *d, size_t n)
{
	if (kc_etcd__buf_reserve(b, n) != 0)
		return -ENOMEM;
	memcpy(b->p + b->len, d, n);
	b->len += n;
	b->p[b->len] = 0;
	return 0;
}

size_t kc_etcd__write_buf(char *ptr, size_t sz, size_t nm, void *ud)
{
	struct kc_etcd__buf *b = ud;
	size_t n = sz * nm;
	if (b->len + n > ETCD_MAX_RESPONSE || kc_etcd__buf_append(b, ptr, n) != 0)
		return 0;
	return n;
}

void kc_etcd__setup_handle(kc_etcd *c, CURL *h, const char *url, const char *body, struct curl_slist *hdrs,
                         bool stream)
{
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, c->dial_timeout_ms);
	if (!stream) {
		curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, c->request_timeout_ms);
	} else {
		/* A long stream has no deadline: TCP keepalive notices a peer that vanished
		 * (clientv3 sends gRPC keepalive pings for the same reason). */
		curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
		curl_easy_setopt(h, CURLOPT_TCP_KEEPIDLE, 10L);
		curl_easy_setopt(h, CURLOPT_TCP_KEEPINTVL, 5L);
	}
	if (body) {
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
	}
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(h, CURLOPT_TCP_NODELAY, 1L);
	if (c->cacert)
		curl_easy_setopt(h, CURLOPT_CAINFO, c->cacert);
	if (c->cert)
		curl_easy_setopt(h, CURLOPT_SSLCERT, c->cert);
	if (c->key)
		curl_easy_setopt(h, CURLOPT_SSLKEY, c->key);
	if (c->insecure) {
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
	}
}

/* Transport errors before anything was sent: safe to retry on another endpoint. */
bool kc_etcd__is_connect_error(CURLcode rc)
{
	switch (rc) {
	case CURLE_COULDNT_CONNECT:
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_OPERATION_TIMEDOUT:
		return true;
	default:
		return false;
	}
}

int kc_etcd__curl_to_err(CURLcode rc)
{
	if (rc == CURLE_OPERATION_TIMEDOUT)
		return -ETIMEDOUT;
	if (rc == CURLE_COULDNT_CONNECT || rc == CURLE_COULDNT_RESOLVE_HOST)
		return -ECONNREFUSED;
	return -EIO;
}

/* POST body to path. ep >= 0 pins an endpoint; -1 fails over. With wfn the body goes to
 * wfn(ud) (streams); otherwise to *out. */
int kc_etcd__do_post(kc_etcd *c, int ep, const char *path, const char *body, bool stream, kc_etcd__write_fn wfn,
                   void *ud, struct kc_etcd__buf *out, long *status, struct kc_etcd_error *err)
{
	CURL *h = NULL; /* taken from the pool only when libcurl serves the call */
	struct curl_slist *hdrs = c->hdrs;
	int n = (int)c->n_endpoints;
	int start = ep >= 0 ? ep : atomic_load(&c->preferred);
	int tries = ep >= 0 ? 1 : n;
	int ret = -ECONNREFUSED;
	if (ep >= n) {
		ret = -EINVAL;
		tries = 0;
	}
	for (int t = 0; t < tries; t++) {
		int i = (start + t) % n;
		CURLcode rc;
		curl_off_t connected = 0;
		if (!wfn && !stream && body && c->hep[i].fast) {
			/* a unary call to a plain-http endpoint: the own transport */
			bool conn = false;
			rc = kc_etcd__http_post(c, i, path, body, out, status, &conn);
			connected = conn;
		} else {
			if (!h) {
				h = kc_etcd__pool_get(c);
				if (!h)
					return -ENOMEM;
			} else {
				curl_easy_reset(h);
			}
			char url[1024];
			snprintf(url, sizeof(url), "%s%s", c->endpoints[i], path);
			kc_etcd__setup_handle(c, h, url, body, hdrs, stream);
			if (wfn) {
				curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, wfn);
				curl_easy_setopt(h, CURLOPT_WRITEDATA, ud);
			} else {
				out->len = 0;
				curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, kc_etcd__write_buf);
				curl_easy_setopt(h, CURLOPT_WRITEDATA, out);
			}
			rc = curl_easy_perform(h);
			if (rc == CURLE_OK)
				curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, status);
			else
				curl_easy_getinfo(h, CURLINFO_CONNECT_TIME_T, &connected);
		}
		if (rc == CURLE_OK) {
			if (ep < 0)
				atomic_store(&c->preferred, i);
			ret = 0;
			break;
		}
		kc_etcd__set_err(err, 0, 0, "%s: %s", c->endpoints[i], curl_easy_strerror(rc));
		ret = kc_etcd__curl_to_err(rc);
		/* Only retry what cannot have reached a server: a timeout after connecting
		 * may have applied a write (and a stream may have delivered data). */
		if (!kc_etcd__is_connect_error(rc) || (rc == CURLE_OPERATION_TIMEDOUT && connected > 0))
			break;
	}
	if (h)
		kc_etcd__pool_put(c, h);
	return ret;
}

/* Unary call: JSON body in, parsed JSON out (or a decoded error). */
int kc_etcd__call_json(kc_etcd *c, int ep, const char *path, cJSON *req, cJSON **resp, struct kc_etcd_error *err)
{
	char *body = req ? cJSON_PrintUnformatted(req) : strdup("{}");
	if (!body)
		return -ENOMEM;
	struct kc_etcd__buf b = { 0 };
	long status = 0;
	int rc = kc_etcd__do_post(c, ep, path, body, false, NULL, NULL, &b, &status, err);
	free(body);
	if (rc < 0) {
		free(b.p);
		return rc;
	}
	if (status != 200) {
		rc = kc_etcd__decode_error(status, b.p, err);
		free(b.p);
		return rc;
	}
	cJSON *j = b.p ? cJSON_ParseWithLength(b.p, b.len) : NULL;
	free(b.p);
	if (!j || !cJSON_IsObject(j)) {
		cJSON_Delete(j);
		kc_etcd__set_err(err, (int)status, 0, "undecodable response from %s", path);
		return KC_EPARSE;
	}
	*resp = j;
	return 0;
}

int kc_etcd_post_raw(kc_etcd *c, const char *path, const char *body, char **resp_out, long *status_out,
                     struct kc_etcd_error *err)
{
	struct kc_etcd__buf b = { 0 };
	long status = 0;
	int rc = kc_etcd__do_post(c, -1, path, body, false, NULL, NULL, &b, &status, err);
	if (rc < 0) {
		free(b.p);
		return rc;
	}
	if (!b.p && kc_etcd__buf_append(&b, "", 0) != 0)
		return -ENOMEM;
	*resp_out = b.p;
	*status_out = status;
	return 0;
}

/* ------------------------------------------------------------------ JSON helpers */

int kc_etcd__add_bytes(cJSON *o, const char *name, const void *p, size_t len)
{
	char *s;
	if (kc_etcd_b64_encode(p ? p : "", p ? len : 0, &s) != 0)
		return -ENOMEM;
	cJSON *it = cJSON_AddStringToObject(o, name, s);
	free(s);
	return it ? 0 : -ENOMEM;
}

int kc_etcd__add_i64(cJSON *o, const char *name, int64_t v)
{
	char s[32];
	snprintf(s, sizeof(s), "%" PRId64, v);
	return cJSON_AddStringToObject(o, name, s) ? 0 : -ENOMEM;
}

int kc_etcd__add_u64(cJSON *o, const char *name, uint64_t v)
{
	char s[32];
	snprintf(s, sizeof(s), "%" PRIu64, v);
	return cJSON_AddStringToObject(o, name, s) ? 0 : -ENOMEM;
}

int kc_etcd__add_true(cJSON *o, const char *name) { return cJSON_AddTrueToObject(o, name) ? 0 : -ENOMEM; }

/* int64 from a JSON string or number; absent = 0. Returns -1 on a malformed value. */
int kc_etcd__get_i64(const cJSON *o, const char *name, int64_t *v)
{
	const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, name);
	*v = 0;
	if (!it)
		return 0;
	if (cJSON_IsNumber(it)) {
		/* Out of int64's range (or NaN) the conversion is undefined: malformed, as
		 * an out-of-range string is below. */
		double d = it->valuedouble;
		if (!(d >= -9223372036854775808.0 && d < 9223372036854775808.0))
			return -1;
		*v = (int64_t)d;
		return 0;
	}
	if (!cJSON_IsString(it))
		return -1;
	char *end;
	errno = 0;
	long long x = strtoll(it->valuestring, &end, 10);
	if (errno || end == it->valuestring || *end)
		return -1;
	*v = x;
	return 0;
}

int kc_etcd__get_u64(const cJSON *o, const char *name, uint64_t *v)
{
	const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, name);
	*v = 0;
	if (!it)
		return 0;
	if (cJSON_IsNumber(it)) {
		*v = it->valuedouble < 0 ? 0 : (uint64_t)it->valuedouble;
		return 0;
	}
	if (!cJSON_IsString(it) || it->valuestring[0] == '-')
		return -1;
	char *end;
	errno = 0;
	unsigned long long x = strtoull(it->valuestring, &end, 10);
	if (errno || end == it->valuestring || *end)
		return -1;
	*v = x;
	return 0;
}

bool kc_etcd__get_bool(const cJSON *o, const char *name)
{
	return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, name));
}

/* Base64 bytes field; absent = NULL/0. */
int kc_etcd__get_bytes(const cJSON *o, const char *name, uint8_t **p, size_t *len)
{
	const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, name);
	*p = NULL;
	*len = 0;
	if (!it)
		return 0;
	if (!cJSON_IsString(it))
		return KC_EPARSE;
	return kc_etcd_b64_decode(it->valuestring, strlen(it->valuestring), p, len);
}

int kc_etcd__decode_header(const cJSON *o, struct kc_etcd_header *h)
{
	memset(h, 0, sizeof(*h));
	const cJSON *hj = cJSON_GetObjectItemCaseSensitive(o, "header");
	if (!hj)
		return 0;
	if (!cJSON_IsObject(hj))
		return KC_EPARSE;
	if (kc_etcd__get_u64(hj, "cluster_id", &h->cluster_id) || kc_etcd__get_u64(hj, "member_id", &h->member_id) ||
	    kc_etcd__get_i64(hj, "revision", &h->revision) || kc_etcd__get_u64(hj, "raft_term", &h->raft_term))
		return KC_EPARSE;
	return 0;
}

void kc_etcd__kv_free(struct kc_etcd_kv *kv)
{
	free(kv->key);
	free(kv->value);
	memset(kv, 0, sizeof(*kv));
}

int kc_etcd__decode_kv(const cJSON *o, struct kc_etcd_kv *kv)
{
	memset(kv, 0, sizeof(*kv));
	if (!cJSON_IsObject(o))
		return KC_EPARSE;
	int rc = kc_etcd__get_bytes(o, "key", &kv->key, &kv->key_len);
	if (rc == 0)
		rc = kc_etcd__get_bytes(o, "value", &kv->value, &kv->value_len);
	if (rc == 0 && (kc_etcd__get_i64(o, "create_revision", &kv->create_revision) ||
	                kc_etcd__get_i64(o, "mod_revision", &kv->mod_revision) || kc_etcd__get_i64(o, "version", &kv->version) ||
	                kc_etcd__get_i64(o, "lease", &kv->lease)))
		rc = KC_EPARSE;
	if (rc == 0 && !kv->key) { /* an empty key is never valid in etcd, but keep it non-NULL */
		kv->key = calloc(1, 1);
		if (!kv->key)
			rc = -ENOMEM;
	}
	if (rc)
		kc_etcd__kv_free(kv);
	return rc;
}

int kc_etcd__get_array(const cJSON *o, const char *name, const cJSON **arr, size_t *n)
{
	*arr = cJSON_GetObjectItemCaseSensitive(o, name);
	*n = 0;
	if (!*arr)
		return 0;
	if (!cJSON_IsArray(*arr))
		return KC_EPARSE;
	*n = (size_t)cJSON_GetArraySize(*arr);
	return 0;
}

void kc_etcd__kvs_free(struct kc_etcd_kv *kvs, size_t n)
{
	for (size_t i = 0; i < n; i++)
		kc_etcd__kv_free(&kvs[i]);
	free(kvs);
}

/* ------------------------------------------------------------------ KV */

static const char *sort_order_name(enum kc_etcd_sort_order o)
{
	switch (o) {
	case KC_ETCD_SORT_ASCEND: return "ASCEND";
	case KC_ETCD_SORT_DESCEND: return "DESCEND";
	default: return "NONE";
	}
}

static const char *sort_target_name(enum kc_etcd_sort_target t)
{
	switch (t) {
	case KC_ETCD_SORT_VERSION: return "VERSION";
	case KC_ETCD_SORT_CREATE: return "CREATE";
	case KC_ETCD_SORT_MOD: return "MOD";
	case KC_ETCD_SORT_VALUE: return "VALUE";
	default: return "KEY";
	}
}

/* The KV requests are written straight into the body text, base64 included: no cJSON
 * tree (a malloc per field) and no second pass to print it. Encoders emit zero values as
 * etcd's own clients do: not at all. */
struct jw {
	struct kc_etcd__buf b;
	bool first; /* no member written yet in the innermost object */
	int err;
};

static void jw_raw(struct jw *w, const char *s, size_t n)
{
	if (!w->err && kc_etcd__buf_append(&w->b, s, n) != 0)
		w->err = -ENOMEM;
}

static void jw_open(struct jw *w)
{
	jw_raw(w, "{", 1);
	w->first = true;
}

static void jw_close(struct jw *w)
{
	jw_raw(w, "}", 1);
	w->first = false;
}

/* ,"name": (name is a plain ASCII field name: no escaping needed) */
static void jw_key(struct jw *w, const char *name)
{
	if (!w->first)
		jw_raw(w, ",", 1);
	w->first = false;
	jw_raw(w, "\"", 1);
	jw_raw(w, name, strlen(name));
	jw_raw(w, "\":", 2);
}

/* Room for n more bytes and the NUL, grown once for a whole base64 string. */
static int jw_reserve(struct jw *w, size_t n)
{
	if (w->err)
		return w->err;
	if (w->b.len + n + 1 <= w->b.cap)
		return 0;
	size_t nc = w->b.cap ? w->b.cap : 1024;
	while (nc < w->b.len + n + 1)
		nc *= 2;
	char *np = realloc(w->b.p, nc);
	if (!np)
		return w->err = -ENOMEM;
	w->b.p = np;
	w->b.cap = nc;
	return 0;
}

static void jw_bytes(struct jw *w, const char *name, const void *p, size_t len)
{
	jw_key(w, name);
	if (w->err)
		return;
	if (!p)
		len = 0;
	size_t olen = 4 * ((len + 2) / 3) + 2;
	if (jw_reserve(w, olen) != 0)
		return;
	char *o = w->b.p + w->b.len;
	size_t j = 0;
	o[j++] = '"';
	j += b64_encode_into(p, len, o + j);
	o[j++] = '"';
	w->b.len += j;
	w->b.p[w->b.len] = 0;
}

/* int64 as a JSON string, as grpc-gateway writes it */
static void jw_i64(struct jw *w, const char *name, int64_t v)
{
	char s[32];
	int n = snprintf(s, sizeof(s), "\"%" PRId64 "\"", v);
	jw_key(w, name);
	jw_raw(w, s, (size_t)n);
}

static void jw_true(struct jw *w, const char *name)
{
	jw_key(w, name);
	jw_raw(w, "true", 4);
}

/* an enum name (plain ASCII) */
static void jw_enum(struct jw *w, const char *name, const char *val)
{
	jw_key(w, name);
	jw_raw(w, "\"", 1);
	jw_raw(w, val, strlen(val));
	jw_raw(w, "\"", 1);
}

/* The KV encoders write one object; they take void pointers so that kv_call below can
 * drive all four, each called only with its own request type. */
static int enc_range(struct jw *w, const void *req)
{
	const struct kc_etcd_range_req *r = req;
	jw_open(w);
	jw_bytes(w, "key", r->key, r->key_len);
	if (r->range_end_len)
		jw_bytes(w, "range_end", r->range_end, r->range_end_len);
	if (r->limit)
		jw_i64(w, "limit", r->limit);
	if (r->revision)
		jw_i64(w, "revision", r->revision);
	if (r->sort_order)
		jw_enum(w, "sort_order", sort_order_name(r->sort_order));
	if (r->sort_target)
		jw_enum(w, "sort_target", sort_target_name(r->sort_target));
	if (r->serializable)
		jw_true(w, "serializable");
	if (r->keys_only)
		jw_true(w, "keys_only");
	if (r->count_only)
		jw_true(w, "count_only");
	if (r->min_mod_revision)
		jw_i64(w, "min_mod_revision", r->min_mod_revision);
	if (r->max_mod_revision)
		jw_i64(w, "max_mod_revision", r->max_mod_revision);
	if (r->min_create_revision)
		jw_i64(w, "min_create_revision", r->min_create_revision);
	if (r->max_create_revision)
		jw_i64(w, "max_create_revision", r->max_create_revision);
	jw_close(w);
	return w->err;
}

static int enc_put(struct jw *w, const void *req)
{
	const struct kc_etcd_put_req *r = req;
	jw_open(w);
	jw_bytes(w, "key", r->key, r->key_len);
	if (r->value_len)
		jw_bytes(w, "value", r->value, r->value_len);
	if (r->lease)
		jw_i64(w, "lease", r->lease);
	if (r->prev_kv)
		jw_true(w, "prev_kv");
	if (r->ignore_value)
		jw_true(w, "ignore_value");
	if (r->ignore_lease)
		jw_true(w, "ignore_lease");
	jw_close(w);
	return w->err;
}

static int enc_delete(struct jw *w, const void *req)
{
	const struct kc_etcd_delete_req *r = req;
	jw_open(w);
	jw_bytes(w, "key", r->key, r->key_len);
	if (r->range_end_len)
		jw_bytes(w, "range_end", r->range_end, r->range_end_len);
	if (r->prev_kv)
		jw_true(w, "prev_kv");
	jw_close(w);
	return w->err;
}

static int dec_range(const struct kc_etcd__scan *s, int j, void *resp)
{
	struct kc_etcd_range_resp *r = resp;
	memset(r, 0, sizeof(*r));
	int rc = kc_etcd__scan_header(s, j, &r->header);
	if (!rc)
		rc = kc_etcd__scan_kvs(s, j, "kvs", &r->kvs, &r->n_kvs);
	if (!rc && kc_etcd__scan_i64(s, j, "count", &r->count))
		rc = KC_EPARSE;
	r->more = kc_etcd__scan_bool(s, j, "more");
	if (rc)
		kc_etcd_range_resp_free(r);
	return rc;
}

static int dec_put(const struct kc_etcd__scan *s, int j, void *resp)
{
	struct kc_etcd_put_resp *r = resp;
	memset(r, 0, sizeof(*r));
	int rc = kc_etcd__scan_header(s, j, &r->header);
	int pk = kc_etcd__scan_find(s, j, "prev_kv");
	if (!rc && pk >= 0) {
		rc = kc_etcd__scan_kv(s, pk, &r->prev_kv);
		r->has_prev_kv = rc == 0;
	}
	return rc;
}

static int dec_delete(const struct kc_etcd__scan *s, int j, void *resp)
{
	struct kc_etcd_delete_resp *r = resp;
	memset(r, 0, sizeof(*r));
	int rc = kc_etcd__scan_header(s, j, &r->header);
	if (!rc && kc_etcd__scan_i64(s, j, "deleted", &r->deleted))
		rc = KC_EPARSE;
	if (!rc)
		rc = kc_etcd__scan_kvs(s, j, "prev_kvs", &r->prev_kvs, &r->n_prev_kvs);
	return rc;
}

void kc_etcd_range_resp_free(struct kc_etcd_range_resp *r)
{
	if (!r)
		return;
	kc_etcd__kvs_free(r->kvs, r->n_kvs);
	memset(r, 0, sizeof(*r));
}

void kc_etcd_put_resp_free(struct kc_etcd_put_resp *r)
{
	if (!r)
		return;
	kc_etcd__kv_free(&r->prev_kv);
	memset(r, 0, sizeof(*r));
}

void kc_etcd_delete_resp_free(struct kc_etcd_delete_resp *r)
{
	if (!r)
		return;
	kc_etcd__kvs_free(r->prev_kvs, r->n_prev_kvs);
	memset(r, 0, sizeof(*r));
}

/* The one shape of the KV calls: encode req into a request object, POST it, decode the
 * answer into resp (zeroed first) from its tokens. The decoders leave resp released on
 * failure. */
static int kv_call(kc_etcd *c, const char *path, int (*enc)(struct jw *w, const void *req), const void *req,
                   int (*dec)(const struct kc_etcd__scan *s, int j, void *resp), void *resp,
                   struct kc_etcd_error *err)
{
	struct jw w = { .first = true };
	int rc = enc(&w, req);
	char *body = w.b.p;
	if (rc) {
		free(body);
		return rc;
	}
	struct kc_etcd__buf b = { 0 };
	long status = 0;
	rc = kc_etcd__do_post(c, -1, path, body, false, NULL, NULL, &b, &status, err);
	free(body);
	if (rc < 0) {
		free(b.p);
		return rc;
	}
	if (status != 200) {
		rc = kc_etcd__decode_error(status, b.p, err);
		free(b.p);
		return rc;
	}
	struct kc_etcd__scan sc;
	kc_etcd__scan_init(&sc);
	rc = b.p ? kc_etcd__scan_parse(&sc, b.p, b.len) : KC_EPARSE;
	if (rc == 0 && sc.t[0].type != KC_ETCD__TOBJ)
		rc = KC_EPARSE;
	if (rc == KC_EPARSE || rc == KC_ETOOLARGE)
		kc_etcd__set_err(err, (int)status, 0, "undecodable response from %s", path);
	if (rc == 0)
		rc = dec(&sc, 0, resp);
	kc_etcd__scan_close(&sc);
	free(b.p);
	return rc;
}

int kc_etcd_range(kc_etcd *c, const struct kc_etcd_range_req *req, struct kc_etcd_range_resp *resp,
                  struct kc_etcd_error *err)
{
	memset(resp, 0, sizeof(*resp));
	return kv_call(c, "/v3/kv/range", enc_range, req, dec_range, resp, err);
}

int kc_etcd_put(kc_etcd *c, const struct kc_etcd_put_req *req, struct kc_etcd_put_resp *resp,
                struct kc_etcd_error *err)
{
	memset(resp, 0, sizeof(*resp));
	return kv_call(c, "/v3/kv/put", enc_put, req, dec_put, resp, err);
}

int kc_etcd_delete_range(kc_etcd *c, const struct kc_etcd_delete_req *req, struct kc_etcd_delete_resp *resp,
                         struct kc_etcd_error *err)
{
	memset(resp, 0, sizeof(*resp));
	return kv_call(c, "/v3/kv/deleterange", enc_delete, req, dec_delete, resp, err);
}

/* ------------------------------------------------------------------ txn */

static const char *cmp_result_name(enum kc_etcd_cmp_result r)
{
	switch (r) {
	case KC_ETCD_CMP_GREATER: return "GREATER";
	case KC_ETCD_CMP_LESS: return "LESS";
	case KC_ETCD_CMP_NOT_EQUAL: return "NOT_EQUAL";
	default: return "EQUAL";
	}
}

static const char *cmp_target_name(enum kc_etcd_cmp_target t)
{
	switch (t) {
	case KC_ETCD_CMP_CREATE: return "CREATE";
	case KC_ETCD_CMP_MOD: return "MOD";
	case KC_ETCD_CMP_VALUE: return "VALUE";
	case KC_ETCD_CMP_LEASE: return "LEASE";
	default: return "VERSION";
	}
}

static int enc_txn(struct jw *w, const struct kc_etcd_txn_req *t, int depth);

static int enc_ops(struct jw *w, const char *name, const struct kc_etcd_op *ops, size_t n, int depth)
{
	if (n == 0)
		return 0;
	jw_key(w, name);
	jw_raw(w, "[", 1);
	for (size_t i = 0; i < n; i++) {
		if (i)
			jw_raw(w, ",", 1);
		jw_open(w);
		int rc;
		switch (ops[i].type) {
		case KC_ETCD_OP_RANGE:
			jw_key(w, "request_range");
			rc = enc_range(w, &ops[i].u.range);
			break;
		case KC_ETCD_OP_PUT:
			jw_key(w, "request_put");
			rc = enc_put(w, &ops[i].u.put);
			break;
		case KC_ETCD_OP_DELETE:
			jw_key(w, "request_delete_range");
			rc = enc_delete(w, &ops[i].u.del);
			break;
		case KC_ETCD_OP_TXN:
			jw_key(w, "request_txn");
			rc = ops[i].u.txn ? enc_txn(w, ops[i].u.txn, depth + 1) : -EINVAL;
			break;
		default:
			rc = -EINVAL;
		}
		if (rc)
			return rc;
		jw_close(w);
	}
	jw_raw(w, "]", 1);
	return w->err;
}

static int enc_txn(struct jw *w, const struct kc_etcd_txn_req *t, int depth)
{
	if (depth > 32)
		return -EINVAL;
	jw_open(w);
	if (t->n_compare) {
		jw_key(w, "compare");
		jw_raw(w, "[", 1);
		for (size_t i = 0; i < t->n_compare; i++) {
			const struct kc_etcd_compare *cp = &t->compare[i];
			if (i)
				jw_raw(w, ",", 1);
			jw_open(w);
			jw_enum(w, "result", cmp_result_name(cp->result));
			jw_enum(w, "target", cmp_target_name(cp->target));
			jw_bytes(w, "key", cp->key, cp->key_len);
			if (cp->range_end_len)
				jw_bytes(w, "range_end", cp->range_end, cp->range_end_len);
			/* The target_union is always sent, even 0 ("create_revision":"0" is
			 * create-if-absent). */
			switch (cp->target) {
			case KC_ETCD_CMP_VERSION: jw_i64(w, "version", cp->number); break;
			case KC_ETCD_CMP_CREATE: jw_i64(w, "create_revision", cp->number); break;
			case KC_ETCD_CMP_MOD: jw_i64(w, "mod_revision", cp->number); break;
			case KC_ETCD_CMP_LEASE: jw_i64(w, "lease", cp->number); break;
			case KC_ETCD_CMP_VALUE: jw_bytes(w, "value", cp->value, cp->value_len); break;
			default: return -EINVAL;
			}
			jw_close(w);
		}
		jw_raw(w, "]", 1);
	}
	int rc = enc_ops(w, "success", t->success, t->n_success, depth);
	if (!rc)
		rc = enc_ops(w, "failure", t->failure, t->n_failure, depth);
	jw_close(w);
	return rc ? rc : w->err;
}

static int dec_txn(const struct kc_etcd__scan *s, int j, struct kc_etcd_txn_resp *r, int depth);

static void op_resp_free(struct kc_etcd_op_resp *o)
{
	switch (o->type) {
	case KC_ETCD_OP_RANGE: kc_etcd_range_resp_free(&o->u.range); break;
	case KC_ETCD_OP_PUT: kc_etcd_put_resp_free(&o->u.put); break;
	case KC_ETCD_OP_DELETE: kc_etcd_delete_resp_free(&o->u.del); break;
	case KC_ETCD_OP_TXN:
		kc_etcd_txn_resp_free(o->u.txn);
		free(o->u.txn);
		break;
	}
	memset(o, 0, sizeof(*o));
}

void kc_etcd_txn_resp_free(struct kc_etcd_txn_resp *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->n_responses; i++)
		op_resp_free(&r->responses[i]);
	free(r->responses);
	memset(r, 0, sizeof(*r));
}

static int dec_op_resp(const struct kc_etcd__scan *s, int it, struct kc_etcd_op_resp *o, int depth)
{
	int x;
	if ((x = kc_etcd__scan_find(s, it, "response_range")) >= 0) {
		o->type = KC_ETCD_OP_RANGE;
		return s->t[x].type == KC_ETCD__TOBJ ? dec_range(s, x, &o->u.range) : KC_EPARSE;
	}
	if ((x = kc_etcd__scan_find(s, it, "response_put")) >= 0) {
		o->type = KC_ETCD_OP_PUT;
		return s->t[x].type == KC_ETCD__TOBJ ? dec_put(s, x, &o->u.put) : KC_EPARSE;
	}
	if ((x = kc_etcd__scan_find(s, it, "response_delete_range")) >= 0) {
		o->type = KC_ETCD_OP_DELETE;
		return s->t[x].type == KC_ETCD__TOBJ ? dec_delete(s, x, &o->u.del) : KC_EPARSE;
	}
	if ((x = kc_etcd__scan_find(s, it, "response_txn")) >= 0) {
		o->type = KC_ETCD_OP_TXN;
		o->u.txn = calloc(1, sizeof(*o->u.txn));
		if (!o->u.txn)
			return -ENOMEM;
		return dec_txn(s, x, o->u.txn, depth + 1);
	}
	return KC_EPARSE;
}

static int dec_txn(const struct kc_etcd__scan *s, int j, struct kc_etcd_txn_resp *r, int depth)
{
	memset(r, 0, sizeof(*r));
	if (depth > 32 || s->t[j].type != KC_ETCD__TOBJ)
		return KC_EPARSE;
	int rc = kc_etcd__scan_header(s, j, &r->header);
	if (rc)
		return rc;
	r->succeeded = kc_etcd__scan_bool(s, j, "succeeded");
	int arr;
	size_t n;
	rc = kc_etcd__scan_array(s, j, "responses", &arr, &n);
	if (rc || n == 0)
		return rc;
	r->responses = calloc(n, sizeof(*r->responses));
	if (!r->responses)
		return -ENOMEM;
	int it = arr + 1;
	for (size_t i = 0; i < n; i++) {
		rc = dec_op_resp(s, it, &r->responses[r->n_responses], depth);
		r->n_responses++; /* partially decoded entries are freed too */
		if (rc) {
			kc_etcd_txn_resp_free(r);
			return rc;
		}
		it = (int)s->t[it].next;
	}
	return 0;
}

/* The top-level txn for kv_call (nested ones recurse with their depth). */
static int enc_txn_top(struct jw *w, const void *req) { return enc_txn(w, req, 0); }
static int dec_txn_top(const struct kc_etcd__scan *s, int j, void *resp) { return dec_txn(s, j, resp, 0); }

int kc_etcd_txn(kc_etcd *c, const struct kc_etcd_txn_req *req, struct kc_etcd_txn_resp *resp,
                struct kc_etcd_error *err)
{
	memset(resp, 0, sizeof(*resp));
	return kv_call(c, "/v3/kv/txn", enc_txn_top, req, dec_txn_top, resp, err);
}

