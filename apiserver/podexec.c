/* pods/exec and pods/attach: validation, the upgrade request to the kubelet, and the byte
 * splice after both sides switched protocols; see podexec.h. */
#include "podexec.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "json.h"
#include "log.h"
#include "podlog.h"
#include "status.h"
#include "websocket.h"

/* The longest kubelet answer head we accept, and how much of an error body we keep
 * (rest.maxReadLength, as pods/log). */
#define PX_HEAD_MAX 16384
#define PX_ERR_MAX 50000
#define PX_TIMEOUT_MS 30000

typedef struct px_conn {
	int websocket;           /* the upgrade is a WebSocket: watch for the close frame */
	CURL *curl;
	int kfd;                 /* the kubelet socket (curl's) */
	uint8_t *pending;        /* kubelet bytes read past the 101 head, for the client */
	size_t npending;
} px_conn;

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int wait_fd(int fd, short ev, int64_t deadline)
{
	int64_t left = deadline - now_ms();
	if (left <= 0)
		return -ETIMEDOUT;
	struct pollfd p = { .fd = fd, .events = ev };
	int r = poll(&p, 1, left > 1000 ? 1000 : (int)left);
	return r < 0 && errno != EINTR ? -errno : 0;
}

static int k_send(px_conn *k, const void *buf, size_t len, int64_t deadline)
{
	const uint8_t *p = buf;
	while (len) {
		size_t n = 0;
		CURLcode rc = curl_easy_send(k->curl, p, len, &n);
		if (rc == CURLE_AGAIN) {
			if (wait_fd(k->kfd, POLLOUT, deadline) < 0)
				return -ETIMEDOUT;
			continue;
		}
		if (rc != CURLE_OK)
			return -EIO;
		p += n;
		len -= n;
	}
	return 0;
}

/* curl_easy_recv: bytes, 0 at EOF, -EAGAIN, -EIO */
static ssize_t k_recv(px_conn *k, void *buf, size_t cap)
{
	size_t n = 0;
	CURLcode rc = curl_easy_recv(k->curl, buf, cap, &n);
	if (rc == CURLE_AGAIN)
		return -EAGAIN;
	if (rc != CURLE_OK)
		return -EIO;
	return (ssize_t)n;
}

static int fd_write_all(int fd, const void *buf, size_t len)
{
	return kc_ws_send_all(fd, buf, len, 60000);
}

static void px_conn_free(px_conn *k)
{
	if (!k)
		return;
	if (k->curl)
		curl_easy_cleanup(k->curl);
	free(k->pending);
	free(k);
}

/* ---- the splice ---- */

typedef struct px_splice {
	px_conn *k;
	int cfd;
	uint8_t *extra;
	size_t extra_len;
	struct MHD_UpgradeResponseHandle *urh;
	struct px_splice *next;
} px_splice;

/* The live splices: MHD_stop_daemon aborts the process while upgraded connections are
 * open, so px_close_all ends them first. */
static pthread_mutex_t px_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t px_cv = PTHREAD_COND_INITIALIZER;
static px_splice *px_live;

static void px_register(px_splice *sp)
{
	pthread_mutex_lock(&px_mu);
	sp->next = px_live;
	px_live = sp;
	pthread_mutex_unlock(&px_mu);
}

static void px_unregister(px_splice *sp)
{
	pthread_mutex_lock(&px_mu);
	for (px_splice **pp = &px_live; *pp; pp = &(*pp)->next) {
		if (*pp == sp) {
			*pp = sp->next;
			break;
		}
	}
	pthread_cond_broadcast(&px_cv);
	pthread_mutex_unlock(&px_mu);
}

void px_close_all(void)
{
	struct timespec dl;
	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += 5;
	pthread_mutex_lock(&px_mu);
	for (px_splice *sp = px_live; sp; sp = sp->next) {
		shutdown(sp->cfd, SHUT_RDWR);
		if (sp->k->kfd >= 0)
			shutdown(sp->k->kfd, SHUT_RDWR);
	}
	while (px_live)
		if (pthread_cond_timedwait(&px_cv, &px_mu, &dl) == ETIMEDOUT)
			break;
	pthread_mutex_unlock(&px_mu);
}

/* How long the splice waits, once the kubelet's close frame went through, for the client
 * to answer with its own close (or hang up) */
#define PX_LINGER_MS 10000

static void *splice_thread(void *arg)
{
	px_splice *sp = arg;
	px_conn *k = sp->k;
	int fl = fcntl(sp->cfd, F_GETFL);
	if (fl >= 0)
		fcntl(sp->cfd, F_SETFL, fl & ~O_NONBLOCK);
	uint8_t *buf = malloc(65536);
	int64_t far = INT64_MAX, linger = 0;
	/* kscan follows the kubelet's frames, cscan the client's */
	kc_ws_scanner kscan = { 0 }, cscan = { 0 };
	if (!buf)
		goto out;
	if (sp->extra_len && k_send(k, sp->extra, sp->extra_len, now_ms() + 60000) < 0)
		goto out;
	if (sp->extra_len && k->websocket && kc_ws_scan(&cscan, sp->extra, sp->extra_len) < 0)
		goto out;
	/* The session ends once both close frames have gone through (the kubelet's, then the
	 * client's answer), or the client hung up, or PX_LINGER_MS after the kubelet's.
	 * Closing as soon as the kubelet's close frame has been written is too early:
	 * libmicrohttpd's TLS relay of an upgraded connection drops what it has not yet sent
	 * when the application closes, and the tail of the output would be lost.  (Waiting
	 * for TCP EOFs alone is not enough either: the same relay can miss a close that races
	 * with it, on either daemon, and both ends would wait for each other.) */
	if (k->npending && fd_write_all(sp->cfd, k->pending, k->npending) < 0)
		goto out;
	if (k->npending && k->websocket) {
		int r = kc_ws_scan(&kscan, k->pending, k->npending);
		if (r < 0)
			goto out;
		if (r)
			linger = now_ms() + PX_LINGER_MS;
	}
	for (;;) {
		if (linger && cscan.closed)
			goto out;
		/* drain the kubelet side completely first: TLS may hold decrypted bytes that
		 * poll() cannot see */
		for (;;) {
			ssize_t n = k_recv(k, buf, 65536);
			if (n == -EAGAIN)
				break;
			if (n <= 0)
				goto out;
			if (linger)
				continue; /* nothing may follow a close frame */
			if (fd_write_all(sp->cfd, buf, (size_t)n) < 0)
				goto out;
			if (k->websocket && kc_ws_scan(&kscan, buf, (size_t)n) != 0) {
				if (kscan.err)
					goto out;
				linger = now_ms() + PX_LINGER_MS;
				if (cscan.closed)
					goto out;
			}
		}
		int timeout = -1;
		if (linger) {
			int64_t left = linger - now_ms();
			if (left <= 0)
				goto out;
			timeout = (int)left;
		}
		struct pollfd pf[2] = { { .fd = k->kfd, .events = POLLIN }, { .fd = sp->cfd, .events = POLLIN } };
		int r = poll(pf, 2, timeout);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			break;
		if (pf[1].revents & (POLLIN | POLLHUP | POLLERR)) {
			ssize_t n = recv(sp->cfd, buf, 65536, 0);
			if (n <= 0)
				break;
			if (k_send(k, buf, (size_t)n, linger ? linger : far) < 0)
				break;
			if (k->websocket && kc_ws_scan(&cscan, buf, (size_t)n) < 0)
				break;
		}
	}
out:
	free(buf);
	pthread_mutex_lock(&px_mu); /* px_close_all must not shut a reused descriptor */
	k->kfd = -1;
	pthread_mutex_unlock(&px_mu);
	if (k->curl) {
		/* closing the kubelet connection first: its relay thread notices the end */
		curl_easy_cleanup(k->curl);
		k->curl = NULL;
	}
	MHD_upgrade_action(sp->urh, MHD_UPGRADE_ACTION_CLOSE);
	px_unregister(sp);
	px_conn_free(k);
	free(sp->extra);
	free(sp);
	return NULL;
}

static void on_upgrade(void *cls, struct MHD_Connection *conn, void *con_cls, const char *extra_in,
		       size_t extra_in_size, MHD_socket sock, struct MHD_UpgradeResponseHandle *urh)
{
	(void)conn;
	(void)con_cls;
	px_splice *sp = calloc(1, sizeof(*sp));
	if (!sp) {
		px_conn_free(cls);
		MHD_upgrade_action(urh, MHD_UPGRADE_ACTION_CLOSE);
		return;
	}
	sp->k = cls;
	sp->cfd = sock;
	sp->urh = urh;
	if (extra_in_size && (sp->extra = malloc(extra_in_size))) {
		memcpy(sp->extra, extra_in, extra_in_size);
		sp->extra_len = extra_in_size;
	}
	px_register(sp);
	pthread_t th;
	pthread_attr_t at;
	pthread_attr_init(&at);
	pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&th, &at, splice_thread, sp) != 0) {
		px_unregister(sp);
		px_conn_free(sp->k);
		MHD_upgrade_action(urh, MHD_UPGRADE_ACTION_CLOSE);
		free(sp->extra);
		free(sp);
	}
	pthread_attr_destroy(&at);
}

/* ---- the request ---- */

static const char *qarg(const api_req *q, const char *name)
{
	return q->conn ? MHD_lookup_connection_value(q->conn, MHD_GET_ARGUMENT_KIND, name) : NULL;
}

typedef struct qbuild {
	char *s;
	size_t len, cap;
	int oom;
} qbuild;

/* Append "&key=value" with value escaped as Go's url.QueryEscape would, except that a
 * space is %20 (both decode the same). */
static void q_add(qbuild *b, const char *key, const char *val)
{
	size_t need = b->len + strlen(key) + 3 * strlen(val) + 3;
	if (need > b->cap) {
		size_t nc = b->cap ? b->cap : 256;
		while (nc < need)
			nc *= 2;
		char *ns = realloc(b->s, nc);
		if (!ns) {
			b->oom = 1;
			return;
		}
		b->s = ns;
		b->cap = nc;
	}
	b->len += (size_t)sprintf(b->s + b->len, "%s%s=", b->len ? "&" : "", key);
	for (const unsigned char *p = (const unsigned char *)val; *p; p++) {
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '-' ||
		    *p == '_' || *p == '.' || *p == '~')
			b->s[b->len++] = (char)*p;
		else
			b->len += (size_t)sprintf(b->s + b->len, "%%%02X", *p);
	}
	b->s[b->len] = 0;
}

static enum MHD_Result each_command(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
	(void)kind;
	if (key && !strcmp(key, "command"))
		q_add(cls, "command", value ? value : "");
	return MHD_YES;
}

/* PodPortForwardOptions.ports -> the kubelet's "port" parameters (pod.streamParams) */
static enum MHD_Result each_port(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
	(void)kind;
	if (key && !strcmp(key, "ports") && value)
		q_add(cls, "port", value);
	return MHD_YES;
}

/* Go's strconv.ParseBool for the PodExecOptions booleans. */
static int qflag(const api_req *q, const char *name, int *out, api_resp *resp)
{
	const char *v = qarg(q, name);
	*out = 0;
	if (!v || !v[0])
		return 0;
	if (api_bool(v)) {
		*out = 1;
		return 0;
	}
	if (!strcmp(v, "0") || !strcmp(v, "f") || !strcmp(v, "F") || !strcasecmp(v, "false"))
		return 0;
	api_json(resp, 400, st_bad_request("strconv.ParseBool: parsing \"%s\": invalid syntax", v), NULL);
	return -1;
}

/* The value of header name in a response head (borrowed), copied into out. */
static int head_value(const char *head, const char *name, char *out, size_t cap)
{
	size_t nl = strlen(name);
	for (const char *p = strstr(head, "\r\n"); p && p[2]; p = strstr(p + 2, "\r\n")) {
		const char *line = p + 2;
		if (!strncasecmp(line, name, nl) && line[nl] == ':') {
			const char *v = line + nl + 1;
			while (*v == ' ' || *v == '\t')
				v++;
			const char *e = strstr(v, "\r\n");
			size_t l = e ? (size_t)(e - v) : strlen(v);
			if (l >= cap)
				l = cap - 1;
			memcpy(out, v, l);
			out[l] = 0;
			return 0;
		}
	}
	return -ENOENT;
}

void px_serve(api_ctx *c, const api_req *q, const char *ns, const char *name, const char *sub,
	      api_resp *resp)
{
	if (strcmp(q->method, "GET") && strcmp(q->method, "POST")) {
		api_json(resp, 405, st_new(405, "MethodNotAllowed", "the server does not allow this method on "
					   "the requested resource"), NULL);
		return;
	}
	const char *upgrade = q->conn ? MHD_lookup_connection_value(q->conn, MHD_HEADER_KIND, "Upgrade") : NULL;
	if (!upgrade) {
		/* proxy.UpgradeAwareHandler with UpgradeRequired, as upstream. */
		api_json(resp, 400, st_bad_request("Upgrade request required"), NULL);
		return;
	}
	int pf = !strcmp(sub, "portforward");
	int in = 0, out = 0, err = 0, tty = 0;
	if (!pf && (qflag(q, "stdin", &in, resp) || qflag(q, "stdout", &out, resp) ||
		    qflag(q, "stderr", &err, resp) || qflag(q, "tty", &tty, resp)))
		return;
	pl_target t;
	if (pl_resolve(c, ns, name, pf ? NULL : qarg(q, "container"), pf ? 2 : 1, &t, resp) < 0)
		return;
	/* Any upgrade is forwarded (upgradeaware.go does not look at the protocol): the
	 * kubelet refuses SPDY itself, after resolving the container, so that a kubectl
	 * falling back to SPDY prints the kubelet's real reason. */
	int websocket = kc_ws_header_has_token(upgrade, "websocket");
	const char *key = MHD_lookup_connection_value(q->conn, MHD_HEADER_KIND, "Sec-WebSocket-Key");
	const char *proto = MHD_lookup_connection_value(q->conn, MHD_HEADER_KIND, "Sec-WebSocket-Protocol");
	const char *wsver = MHD_lookup_connection_value(q->conn, MHD_HEADER_KIND, "Sec-WebSocket-Version");
	const char *spdyver = MHD_lookup_connection_value(q->conn, MHD_HEADER_KIND, "X-Stream-Protocol-Version");
	char accept[KC_WS_ACCEPT_LEN] = "";
	if (websocket && kc_ws_accept(key, accept) < 0) {
		api_json(resp, 400, st_bad_request("websocket: not a websocket handshake: 'Sec-WebSocket-Key' "
						   "header must be Base64 encoded value of 16-byte in length"), NULL);
		return;
	}
	for (const char *p = upgrade; *p; p++) {
		if (*p == '\r' || *p == '\n') {
			api_json(resp, 400, st_bad_request("invalid Upgrade header"), NULL);
			return;
		}
	}
	/* pod.streamParams: the kubelet reads "1" for true; url.Values.Encode sorts keys */
	qbuild b = { 0 };
	if (!strcmp(sub, "exec"))
		MHD_get_connection_values(q->conn, MHD_GET_ARGUMENT_KIND, each_command, &b);
	if (pf)
		MHD_get_connection_values(q->conn, MHD_GET_ARGUMENT_KIND, each_port, &b);
	if (err)
		q_add(&b, "stderr", "1");
	if (in)
		q_add(&b, "stdin", "1");
	if (out)
		q_add(&b, "stdout", "1");
	if (tty)
		q_add(&b, "tty", "1");
	if (b.oom) {
		free(b.s);
		api_json(resp, 500, st_internal("out of memory"), NULL);
		return;
	}
	int v6 = strchr(t.host, ':') != NULL;
	char hostport[300], url[400];
	snprintf(hostport, sizeof(hostport), "%s%s%s:%d", v6 ? "[" : "", t.host, v6 ? "]" : "", t.port);
	snprintf(url, sizeof(url), "https://%s/", hostport);
	size_t reqcap = 2048 + strlen(ns) + strlen(name) + strlen(t.container) + (b.s ? b.len : 0) +
			(proto ? strlen(proto) : 0) + strlen(upgrade) + (spdyver ? strlen(spdyver) : 0);
	char *req = malloc(reqcap);
	px_conn *k = calloc(1, sizeof(*k));
	if (!req || !k) {
		free(req);
		free(k);
		free(b.s);
		api_json(resp, 500, st_internal("out of memory"), NULL);
		return;
	}
	const char *kpath = pf ? "portForward" : sub; /* the kubelet's paths */
	int rl;
	if (websocket)
		rl = snprintf(req, reqcap,
			      "GET /%s/%s/%s%s%s%s%s HTTP/1.1\r\nHost: %s\r\nUser-Agent: kube-apiserver\r\n"
			      "Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: %s\r\n"
			      "Sec-WebSocket-Key: %s\r\n%s%s%s\r\n",
			      kpath, ns, name, pf ? "" : "/", t.container, b.len ? "?" : "", b.s ? b.s : "", hostport,
			      wsver ? wsver : "13", key, proto ? "Sec-WebSocket-Protocol: " : "", proto ? proto : "",
			      proto ? "\r\n" : "");
	else
		rl = snprintf(req, reqcap,
			      "%s /%s/%s/%s%s%s%s%s HTTP/1.1\r\nHost: %s\r\nUser-Agent: kube-apiserver\r\n"
			      "Content-Length: 0\r\nConnection: Upgrade\r\nUpgrade: %s\r\n%s%s%s\r\n",
			      q->method, kpath, ns, name, pf ? "" : "/", t.container, b.len ? "?" : "", b.s ? b.s : "", hostport, upgrade,
			      spdyver ? "X-Stream-Protocol-Version: " : "", spdyver ? spdyver : "", spdyver ? "\r\n" : "");
	free(b.s);
	char errbuf[CURL_ERROR_SIZE] = "";
	char *head = NULL;
	int64_t deadline = now_ms() + PX_TIMEOUT_MS;
	k->curl = curl_easy_init();
	if (!k->curl)
		goto oom;
	curl_easy_setopt(k->curl, CURLOPT_URL, url);
	curl_easy_setopt(k->curl, CURLOPT_CONNECT_ONLY, 1L);
	curl_easy_setopt(k->curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(k->curl, CURLOPT_CONNECTTIMEOUT, 30L);
	curl_easy_setopt(k->curl, CURLOPT_ERRORBUFFER, errbuf);
	pl_curl_tls(k->curl, api_bool(qarg(q, "insecureSkipTLSVerifyBackend")));
	CURLcode cr = curl_easy_perform(k->curl);
	curl_socket_t sock = CURL_SOCKET_BAD;
	if (cr == CURLE_OK)
		curl_easy_getinfo(k->curl, CURLINFO_ACTIVESOCKET, &sock);
	if (cr != CURLE_OK || sock == CURL_SOCKET_BAD) {
		/* upgradeaware.go: "error dialing backend" */
		api_json(resp, 500, st_internal("error dialing backend: %s",
						errbuf[0] ? errbuf : curl_easy_strerror(cr)), NULL);
		goto fail;
	}
	k->kfd = (int)sock;
	k->websocket = websocket;
	if (k_send(k, req, (size_t)rl, deadline) < 0) {
		api_json(resp, 500, st_internal("error proxying the %s request to the kubelet", sub), NULL);
		goto fail;
	}
	/* read the kubelet's head (and, for an error, its body) */
	size_t hcap = PX_HEAD_MAX + PX_ERR_MAX + 1, hn = 0;
	head = malloc(hcap);
	if (!head)
		goto oom;
	char *end = NULL;
	long code = 0;
	size_t body_want = 0;
	for (;;) {
		ssize_t n = k_recv(k, head + hn, hcap - 1 - hn);
		if (n == -EAGAIN) {
			if (wait_fd(k->kfd, POLLIN, deadline) < 0)
				break;
			continue;
		}
		if (n <= 0)
			break;
		hn += (size_t)n;
		head[hn] = 0;
		if (!end && (end = strstr(head, "\r\n\r\n"))) {
			if (sscanf(head, "HTTP/1.%*d %ld", &code) != 1)
				code = 0;
			if (code == 101)
				break;
			char cl[32];
			body_want = head_value(head, "Content-Length", cl, sizeof(cl)) == 0 ? strtoul(cl, NULL, 10)
											      : PX_ERR_MAX;
		}
		if (end && (size_t)(head + hn - (end + 4)) >= body_want)
			break;
		if (!end && hn > PX_HEAD_MAX)
			break;
		if (hn + 1 >= hcap)
			break;
	}
	if (!end || code == 0) {
		api_json(resp, 500, st_internal("error proxying the %s request to the kubelet: no answer", sub),
			 NULL);
		goto fail;
	}
	if (code != 101) {
		*end = 0;
		char *body = end + 4;
		size_t bl = strlen(body);
		while (bl && (body[bl - 1] == '\n' || body[bl - 1] == '\r'))
			body[--bl] = 0;
		cJSON *st = pl_kubelet_status(code, body, name);
		api_json(resp, (int)kc_json_get_int64(st, "code", 500), st, NULL);
		goto fail;
	}
	char kaccept[64] = "", kproto[128] = "", kupgrade[64] = "", kstream[128] = "";
	*end = 0;
	head_value(head, "Sec-WebSocket-Accept", kaccept, sizeof(kaccept));
	head_value(head, "Sec-WebSocket-Protocol", kproto, sizeof(kproto));
	head_value(head, "Upgrade", kupgrade, sizeof(kupgrade));
	head_value(head, "X-Stream-Protocol-Version", kstream, sizeof(kstream));
	size_t after = hn - (size_t)(end + 4 - head);
	if (after) {
		k->pending = malloc(after);
		if (!k->pending)
			goto oom;
		memcpy(k->pending, end + 4, after);
		k->npending = after;
	}
	free(head);
	head = NULL;
	free(req);
	struct MHD_Response *r = MHD_create_response_for_upgrade(on_upgrade, k);
	if (!r) {
		k->npending = 0;
		api_json(resp, 500, st_internal("cannot upgrade the connection"), NULL);
		px_conn_free(k);
		return;
	}
	MHD_add_response_header(r, "Upgrade", websocket ? "websocket" : kupgrade[0] ? kupgrade : upgrade);
	if (websocket)
		MHD_add_response_header(r, "Sec-WebSocket-Accept", kaccept[0] ? kaccept : accept);
	if (kproto[0])
		MHD_add_response_header(r, "Sec-WebSocket-Protocol", kproto);
	if (kstream[0])
		MHD_add_response_header(r, "X-Stream-Protocol-Version", kstream);
	kc_log_v(2, "pods/%s %s/%s container %s: upgraded to %s via %s", sub, ns, name, t.container,
		 kproto[0] ? kproto : "websocket", hostport);
	resp->code = 101;
	resp->stream = r;
	resp->ctype = NULL;
	return;
oom:
	api_json(resp, 500, st_internal("out of memory"), NULL);
fail:
	free(head);
	free(req);
	px_conn_free(k);
}
