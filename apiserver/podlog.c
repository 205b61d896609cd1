/* pods/log: a libcurl transfer to the kubelet on its own thread, streamed to the client
 * through a libmicrohttpd callback response. The reader parks the connection (MHD suspend)
 * while no log bytes are buffered; the transfer thread resumes it when bytes arrive or the
 * transfer ends. Either side may finish first; the stream is freed by the last one. */
#include "podlog.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#include "json.h"
#include "log.h"
#include "registry.h"
#include "resource.h"
#include "status.h"

/* Upstream reads at most this much of a kubelet error body (rest.maxReadLength is 50000). */
#define PL_ERR_MAX 50000
/* A follower that does not read: stop pulling from the kubelet past this much. */
#define PL_BUF_MAX (1024 * 1024)

static struct {
	char *cert, *key, *ca, *preferred;
} pl_cfg;

static char *dup_or_null(const char *s, int *oom)
{
	if (!s || !s[0])
		return NULL;
	char *d = strdup(s);
	if (!d)
		*oom = 1;
	return d;
}

int pl_configure(const char *client_cert, const char *client_key, const char *ca_file,
		 const char *preferred)
{
	int oom = 0;
	pl_cfg.cert = dup_or_null(client_cert, &oom);
	pl_cfg.key = dup_or_null(client_key, &oom);
	pl_cfg.ca = dup_or_null(ca_file, &oom);
	pl_cfg.preferred = dup_or_null(preferred, &oom);
	return oom ? -ENOMEM : 0;
}

typedef struct pl_stream {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int refs; /* the transfer thread, and the request side (handler, then the MHD response) */
	CURL *curl;
	struct MHD_Connection *conn;
	int fd;                /* client socket, for noticing a follower that went away */
	char *buf;
	size_t len, off, cap;
	long code;             /* kubelet's HTTP status once headers_done */
	int headers_done, done, gone, suspended, streaming;
	CURLcode result;
	char errbuf[CURL_ERROR_SIZE];
	char url[2048];
} pl_stream;

static void pl_unref(pl_stream *s)
{
	pthread_mutex_lock(&s->mu);
	int last = --s->refs == 0;
	pthread_mutex_unlock(&s->mu);
	if (!last)
		return;
	if (s->curl)
		curl_easy_cleanup(s->curl);
	pthread_mutex_destroy(&s->mu);
	pthread_cond_destroy(&s->cv);
	free(s->buf);
	free(s);
}

/* Resumes a parked client connection; called with s->mu held, releases nothing. Returns the
 * connection to resume once the lock is dropped (MHD_resume_connection takes MHD's locks),
 * NULL if none. A suspended connection cannot be closed by MHD, so it stays valid. */
static struct MHD_Connection *wake(pl_stream *s)
{
	if (!s->suspended)
		return NULL;
	s->suspended = 0;
	return s->conn;
}

static size_t on_header(char *b, size_t size, size_t n, void *ud)
{
	pl_stream *s = ud;
	size_t len = size * n;
	if (len <= 2 && (b[0] == '\r' || b[0] == '\n')) {
		long code = 0;
		curl_easy_getinfo(s->curl, CURLINFO_RESPONSE_CODE, &code);
		if (code >= 200) { /* not a 100 Continue */
			pthread_mutex_lock(&s->mu);
			s->code = code;
			s->headers_done = 1;
			pthread_cond_broadcast(&s->cv);
			pthread_mutex_unlock(&s->mu);
		}
	}
	return len;
}

static size_t on_data(char *b, size_t size, size_t n, void *ud)
{
	pl_stream *s = ud;
	size_t len = size * n;
	pthread_mutex_lock(&s->mu);
	if (s->code < 200 || s->code > 206) {
		/* An error body: keep the head of it for the Status message. */
		size_t room = s->len < PL_ERR_MAX ? PL_ERR_MAX - s->len : 0;
		len = len < room ? len : room;
	}
	while (!s->gone && s->len - s->off > PL_BUF_MAX)
		pthread_cond_wait(&s->cv, &s->mu);
	if (s->gone) {
		pthread_mutex_unlock(&s->mu);
		return 0; /* aborts the transfer */
	}
	if (s->off && s->off == s->len)
		s->off = s->len = 0;
	if (s->len + len > s->cap) {
		if (s->off) {
			memmove(s->buf, s->buf + s->off, s->len - s->off);
			s->len -= s->off;
			s->off = 0;
		}
		size_t nc = s->cap ? s->cap : 16384;
		while (nc < s->len + len)
			nc *= 2;
		char *nb = realloc(s->buf, nc);
		if (!nb) {
			pthread_mutex_unlock(&s->mu);
			return 0;
		}
		s->buf = nb;
		s->cap = nc;
	}
	memcpy(s->buf + s->len, b, len);
	s->len += len;
	struct MHD_Connection *c = wake(s);
	pthread_mutex_unlock(&s->mu);
	if (c)
		MHD_resume_connection(c);
	return size * n;
}

/* Called by curl about once a second while idle: ends the transfer when the client is gone
 * (its socket hung up while we had nothing to send, so MHD could not notice). */
static int on_progress(void *ud, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
	(void)dt, (void)dn, (void)ut, (void)un;
	pl_stream *s = ud;
	pthread_mutex_lock(&s->mu);
	int stop = s->gone;
	if (!stop && s->streaming && s->suspended && s->fd >= 0) {
		struct pollfd p = { .fd = s->fd, .events = POLLRDHUP };
		if (poll(&p, 1, 0) > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR)))
			stop = 1;
	}
	pthread_mutex_unlock(&s->mu);
	return stop;
}

static void *transfer(void *arg)
{
	pl_stream *s = arg;
	CURLcode rc = curl_easy_perform(s->curl);
	pthread_mutex_lock(&s->mu);
	s->result = rc;
	if (!s->headers_done && rc == CURLE_OK) {
		curl_easy_getinfo(s->curl, CURLINFO_RESPONSE_CODE, &s->code);
		s->headers_done = 1;
	}
	s->done = 1;
	pthread_cond_broadcast(&s->cv);
	struct MHD_Connection *c = wake(s);
	pthread_mutex_unlock(&s->mu);
	if (c)
		MHD_resume_connection(c);
	if (rc != CURLE_OK && rc != CURLE_WRITE_ERROR && rc != CURLE_ABORTED_BY_CALLBACK)
		kc_log_v(2, "pods/log %s: %s", s->url, s->errbuf[0] ? s->errbuf : curl_easy_strerror(rc));
	pl_unref(s);
	return NULL;
}

static ssize_t pl_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	(void)pos;
	pl_stream *s = cls;
	ssize_t n;
	pthread_mutex_lock(&s->mu);
	if (s->len > s->off) {
		size_t k = s->len - s->off < max ? s->len - s->off : max;
		memcpy(buf, s->buf + s->off, k);
		s->off += k;
		n = (ssize_t)k;
		pthread_cond_broadcast(&s->cv); /* a writer may wait for room */
	} else if (s->done || s->gone) {
		n = MHD_CONTENT_READER_END_OF_STREAM;
	} else {
		s->suspended = 1;
		MHD_suspend_connection(s->conn);
		n = 0;
	}
	pthread_mutex_unlock(&s->mu);
	return n;
}

static void pl_response_free(void *cls)
{
	pl_stream *s = cls;
	pthread_mutex_lock(&s->mu);
	s->gone = 1;
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mu);
	pl_unref(s);
}

/* ---- request side ---- */

static const char *qarg(const api_req *q, const char *name)
{
	return q->conn ? MHD_lookup_connection_value(q->conn, MHD_GET_ARGUMENT_KIND, name) : NULL;
}

static int qbool(const api_req *q, const char *name, int *out, api_resp *resp)
{
	const char *v = qarg(q, name);
	*out = 0;
	if (!v)
		return 0;
	if (api_bool(v)) {
		*out = 1;
		return 0;
	}
	if (!strcmp(v, "0") || !strcmp(v, "f") || !strcmp(v, "F") || !strcmp(v, "false") ||
	    !strcmp(v, "FALSE") || !strcmp(v, "False") || !v[0])
		return 0;
	api_json(resp, 400, st_bad_request("strconv.ParseBool: parsing \"%s\": invalid syntax", v),
		 NULL);
	return -1;
}

/* An optional integer parameter; *set 0 when absent. */
static int qint(const api_req *q, const char *name, long long *out, int *set, api_resp *resp)
{
	const char *v = qarg(q, name);
	*set = 0;
	if (!v)
		return 0;
	char *end = NULL;
	errno = 0;
	long long x = strtoll(v, &end, 10);
	if (!v[0] || *end || errno) {
		api_json(resp, 400, st_bad_request("strconv.ParseInt: parsing \"%s\": invalid syntax",
						   v),
			 NULL);
		return -1;
	}
	*out = x;
	*set = 1;
	return 0;
}

static int has_container(const cJSON *list, const char *name)
{
	const cJSON *c;
	cJSON_ArrayForEach(c, list)
		if (!strcmp(kc_json_get_string(c, "name", ""), name))
			return 1;
	return 0;
}

static void names(const cJSON *list, char *buf, size_t n)
{
	size_t off = 0;
	buf[0] = 0;
	const cJSON *c;
	cJSON_ArrayForEach(c, list)
	{
		int w = snprintf(buf + off, n - off, "%s%s", off ? " " : "",
				 kc_json_get_string(c, "name", ""));
		if (w < 0 || (size_t)w >= n - off)
			break;
		off += (size_t)w;
	}
}

/* nodeutil.GetPreferredNodeAddress: the first address of the first preferred type. */
static const char *node_address(const cJSON *node, char *known, size_t kn)
{
	const char *pref = pl_cfg.preferred ? pl_cfg.preferred
					    : "Hostname,InternalDNS,InternalIP,ExternalDNS,ExternalIP";
	const cJSON *addrs = kc_json_get(node, "status.addresses");
	char types[256];
	snprintf(types, sizeof(types), "%s", pref);
	char *save = NULL;
	for (char *t = strtok_r(types, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		const cJSON *a;
		cJSON_ArrayForEach(a, addrs)
		{
			const char *addr = kc_json_get_string(a, "address", "");
			if (!strcmp(kc_json_get_string(a, "type", ""), t) && addr[0])
				return addr;
		}
		/* Hostname falls back to the kubernetes.io/hostname label (kubelets before
		 * 1.5 did not report it), as upstream. */
		if (!strcmp(t, "Hostname")) {
			const cJSON *lbl = cJSON_GetObjectItemCaseSensitive(
				kc_json_get(node, "metadata.labels"), "kubernetes.io/hostname");
			if (cJSON_IsString(lbl) && lbl->valuestring[0])
				return lbl->valuestring;
		}
	}
	/* Go prints the []NodeAddress as [{Type Address} ...]. */
	size_t off = 0;
	off += (size_t)snprintf(known, kn, "[");
	const cJSON *a;
	int first = 1;
	cJSON_ArrayForEach(a, addrs)
	{
		if (off >= kn)
			break;
		off += (size_t)snprintf(known + off, kn - off, "%s{%s %s}", first ? "" : " ",
					kc_json_get_string(a, "type", ""),
					kc_json_get_string(a, "address", ""));
		first = 0;
	}
	if (off < kn)
		snprintf(known + off, kn - off, "]");
	return NULL;
}

static void add_param(char *q, size_t n, const char *k, const char *v)
{
	size_t l = strlen(q);
	snprintf(q + l, n - l, "%s%s=%s", l ? "&" : "", k, v);
}

/* A kubelet error as upstream's GenericHttpResponseChecker turns it into a Status. */
cJSON *pl_kubelet_status(long code, const char *body, const char *name)
{
	if (code == 400)
		return st_bad_request("%s", body);
	if (code == 500)
		return st_internal("%s", body);
	cJSON *st;
	if (code == 404) {
		st = st_new(404, "NotFound", "the server could not find the requested resource");
	} else if (code == 401) {
		st = st_new(401, "Unauthorized",
			    "the server has asked for the client to provide credentials");
	} else if (code == 403) {
		st = st_new(403, "Forbidden", "%s", body);
	} else if (code > 500) {
		st = st_new((int)code, "InternalError",
			    "an error on the server (\"%s\") has prevented the request from "
			    "succeeding",
			    body);
	} else {
		st = st_new((int)code, "",
			    "the server responded with the status code %ld but did not return "
			    "more information",
			    code);
	}
	st_details(st, name, "", "pods");
	return st;
}

int pl_resolve(api_ctx *c, const char *ns, const char *name, const char *container_q, int for_stream,
	       pl_target *t, api_resp *resp)
{
	memset(t, 0, sizeof(*t));
	cJSON *pod = NULL;
	int code = reg_get(c->r, &res_pods, ns, name, &pod);
	if (code != 200) {
		api_json(resp, code, pod, NULL);
		return -1;
	}
	const cJSON *ctrs = kc_json_get(pod, "spec.containers");
	const cJSON *inits = kc_json_get(pod, "spec.initContainers");
	const cJSON *ephs = kc_json_get(pod, "spec.ephemeralContainers");
	char *container = t->container;
	snprintf(container, sizeof(t->container), "%s", container_q ? container_q : "");
	if (for_stream == 2) {
		/* port-forward names no container */
	} else if (!container[0]) {
		int nc = cJSON_GetArraySize(ctrs);
		if (nc == 1) {
			snprintf(container, sizeof(t->container), "%s",
				 kc_json_get_string(cJSON_GetArrayItem(ctrs, 0), "name", ""));
		} else {
			char msg[1200], cn[512], in[512];
			names(ctrs, cn, sizeof(cn));
			names(inits, in, sizeof(in));
			if (nc == 0)
				snprintf(msg, sizeof(msg), "a container name must be specified for pod %s",
					 name);
			else
				snprintf(msg, sizeof(msg), "a container name must be specified for pod %s, "
					 "choose one of: [%s]%s%s%s", name, cn,
					 in[0] ? " or one of the init containers: [" : "", in,
					 in[0] ? "]" : "");
			cJSON_Delete(pod);
			api_json(resp, 400, st_bad_request("%s", msg), NULL);
			return -1;
		}
	} else if (!has_container(ctrs, container) && !has_container(inits, container) &&
		   !has_container(ephs, container)) {
		cJSON_Delete(pod);
		api_json(resp, 400, st_bad_request("container %s is not valid for pod %s", container,
						   name), NULL);
		return -1;
	}
	char node_name[256];
	snprintf(node_name, sizeof(node_name), "%s", kc_json_get_string(pod, "spec.nodeName", ""));
	cJSON_Delete(pod);
	if (!node_name[0]) {
		if (!for_stream)
			return 1;
		/* pod.streamLocation */
		api_json(resp, 400, st_bad_request("pod %s does not have a host assigned", name), NULL);
		return -1;
	}
	cJSON *node = NULL;
	code = reg_get(c->r, &res_nodes, NULL, node_name, &node);
	if (code != 200) {
		api_json(resp, code, node, NULL);
		return -1;
	}
	char known[512];
	const char *host = node_address(node, known, sizeof(known));
	if (!host) {
		cJSON_Delete(node);
		/* A plain error in upstream: a 500 Status with reason "" (StatusReasonUnknown). */
		api_json(resp, 500, st_new(500, "", "no preferred addresses found; known addresses: %s",
					   known), NULL);
		return -1;
	}
	int64_t port = kc_json_get_int64(node, "status.daemonEndpoints.kubeletEndpoint.Port", 0);
	if (port <= 0 || port > 65535)
		port = 10250;
	snprintf(t->host, sizeof(t->host), "%s", host);
	t->port = (int)port;
	cJSON_Delete(node);
	return 0;
}

void pl_curl_tls(CURL *h, int insecure)
{
	if (pl_cfg.cert)
		curl_easy_setopt(h, CURLOPT_SSLCERT, pl_cfg.cert);
	if (pl_cfg.key)
		curl_easy_setopt(h, CURLOPT_SSLKEY, pl_cfg.key);
	/* kube-apiserver verifies the kubelet's serving certificate only when
	 * --kubelet-certificate-authority is set (and not for insecureSkipTLSVerifyBackend). */
	if (pl_cfg.ca && !insecure) {
		curl_easy_setopt(h, CURLOPT_CAINFO, pl_cfg.ca);
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
	} else {
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
	}
}

void pl_serve_log(api_ctx *c, const api_req *q, const char *ns, const char *name,
		  api_resp *resp)
{
	int follow, previous, timestamps, insecure;
	long long since_s = 0, tail = 0, limit = 0;
	int has_since, has_tail, has_limit;
	if (qbool(q, "follow", &follow, resp) || qbool(q, "previous", &previous, resp) ||
	    qbool(q, "timestamps", &timestamps, resp) ||
	    qbool(q, "insecureSkipTLSVerifyBackend", &insecure, resp) ||
	    qint(q, "sinceSeconds", &since_s, &has_since, resp) ||
	    qint(q, "tailLines", &tail, &has_tail, resp) ||
	    qint(q, "limitBytes", &limit, &has_limit, resp))
		return;
	const char *since_time = qarg(q, "sinceTime");
	/* ValidatePodLogOptions */
	res_errs e = { 0 };
	if (has_tail && tail < 0)
		res_err(&e, "FieldValueInvalid", "tailLines", "Invalid value: %lld: must be greater "
			"than or equal to 0", tail);
	if (has_limit && limit < 1)
		res_err(&e, "FieldValueInvalid", "limitBytes", "Invalid value: %lld: must be "
			"greater than 0", limit);
	if (has_since && since_time && since_time[0])
		res_err(&e, "FieldValueForbidden", "",
			"at most one of `sinceTime` or `sinceSeconds` may be specified");
	else if (has_since && since_s < 1)
		res_err(&e, "FieldValueInvalid", "sinceSeconds", "Invalid value: %lld: must be "
			"greater than 0", since_s);
	int64_t since_t = -1;
	if (since_time && since_time[0] && (since_t = res_parse_time(since_time)) < 0) {
		api_json(resp, 400, st_bad_request("parsing time \"%s\" as \"2006-01-02T15:04:05Z07:00\": "
						   "cannot parse", since_time), NULL);
		return;
	}
	if (e.n) {
		cJSON *st = st_new(422, "Invalid", "PodLogOptions \"%s\" is invalid: %s%s%s", name,
				   e.c[0].field, e.c[0].field[0] ? ": " : "", e.c[0].message);
		api_json(resp, 422, st, NULL);
		return;
	}

	pl_target t;
	int rc = pl_resolve(c, ns, name, qarg(q, "container"), 0, &t, resp);
	if (rc < 0)
		return;
	if (rc == 1) {
		/* "If pod has not been assigned a host, return an empty location": an empty
		 * 200 body, as upstream's LocationStreamer without a location. */
		resp->code = 200;
		resp->body = strdup("");
		resp->len = 0;
		resp->ctype = "text/plain";
		return;
	}

	/* url.Values.Encode: keys sorted. */
	char query[512] = "", num[32];
	if (follow)
		add_param(query, sizeof(query), "follow", "true");
	if (has_limit) {
		snprintf(num, sizeof(num), "%lld", limit);
		add_param(query, sizeof(query), "limitBytes", num);
	}
	if (previous)
		add_param(query, sizeof(query), "previous", "true");
	if (has_since) {
		snprintf(num, sizeof(num), "%lld", since_s);
		add_param(query, sizeof(query), "sinceSeconds", num);
	}
	if (since_t >= 0) {
		char ts[40], enc[64];
		res_fmt_time(since_t, ts, sizeof(ts));
		/* ':' percent-encoded as Go's QueryEscape does. */
		size_t o = 0;
		for (const char *p = ts; *p && o + 4 < sizeof(enc); p++) {
			if (*p == ':') {
				memcpy(enc + o, "%3A", 3);
				o += 3;
			} else {
				enc[o++] = *p;
			}
		}
		enc[o] = 0;
		add_param(query, sizeof(query), "sinceTime", enc);
	}
	if (has_tail) {
		snprintf(num, sizeof(num), "%lld", tail);
		add_param(query, sizeof(query), "tailLines", num);
	}
	if (timestamps)
		add_param(query, sizeof(query), "timestamps", "true");

	pl_stream *s = calloc(1, sizeof(*s));
	if (!s) {
		api_json(resp, 500, st_internal("out of memory"), NULL);
		return;
	}
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->cv, NULL);
	s->refs = 2;
	s->fd = -1;
	s->conn = q->conn;
	int v6 = strchr(t.host, ':') != NULL;
	snprintf(s->url, sizeof(s->url), "https://%s%s%s:%d/containerLogs/%s/%s/%s%s%s", v6 ? "[" : "",
		 t.host, v6 ? "]" : "", t.port, ns, name, t.container, query[0] ? "?" : "", query);
	s->curl = curl_easy_init();
	if (!s->curl) {
		s->refs = 1;
		pl_unref(s);
		api_json(resp, 500, st_internal("out of memory"), NULL);
		return;
	}
	CURL *h = s->curl;
	curl_easy_setopt(h, CURLOPT_URL, s->url);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 30L);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, s->errbuf);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, s);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, s);
	curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(h, CURLOPT_XFERINFODATA, s);
	curl_easy_setopt(h, CURLOPT_HTTP_VERSION, CURL_HTTP_VERSION_1_1);
	pl_curl_tls(h, insecure);
	pthread_t th;
	pthread_attr_t at;
	pthread_attr_init(&at);
	pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&th, &at, transfer, s) != 0) {
		pthread_attr_destroy(&at);
		s->refs = 1;
		pl_unref(s);
		api_json(resp, 500, st_internal("cannot start the kubelet transfer"), NULL);
		return;
	}
	pthread_attr_destroy(&at);

	/* Wait for the kubelet's status line (or failure) before answering. */
	struct timespec dl;
	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += 40;
	pthread_mutex_lock(&s->mu);
	while (!s->headers_done && !s->done)
		if (pthread_cond_timedwait(&s->cv, &s->mu, &dl) == ETIMEDOUT)
			break;
	int ok = s->headers_done && s->code >= 200 && s->code <= 206;
	if (s->headers_done && !ok) {
		while (!s->done)
			if (pthread_cond_timedwait(&s->cv, &s->mu, &dl) == ETIMEDOUT)
				break;
	}
	if (!ok) {
		cJSON *st;
		if (s->headers_done) {
			char *body = strndup(s->buf ? s->buf + s->off : "", s->len - s->off);
			st = pl_kubelet_status(s->code, body ? body : "", name);
			free(body);
		} else {
			st = st_new(500, "", "Get \"%s\": %s", s->url,
				    s->errbuf[0] ? s->errbuf
						 : s->done ? curl_easy_strerror(s->result)
							   : "timeout awaiting response headers");
		}
		s->gone = 1;
		pthread_cond_broadcast(&s->cv);
		pthread_mutex_unlock(&s->mu);
		pl_unref(s);
		int sc = (int)kc_json_get_int64(st, "code", 500);
		api_json(resp, sc, st, NULL);
		return;
	}
	s->streaming = 1;
	if (q->conn) {
		const union MHD_ConnectionInfo *ci =
			MHD_get_connection_info(q->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
		if (ci)
			s->fd = ci->connect_fd;
	}
	pthread_mutex_unlock(&s->mu);
	struct MHD_Response *r =
		MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16 * 1024, pl_read, s,
						  pl_response_free);
	if (!r) {
		pl_response_free(s);
		api_json(resp, 500, st_internal("out of memory"), NULL);
		return;
	}
	MHD_add_response_header(r, "Content-Type", "text/plain");
	MHD_add_response_header(r, "Cache-Control", "no-cache, private");
	resp->code = 200;
	resp->stream = r;
	resp->ctype = "text/plain";
}
