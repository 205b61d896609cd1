/* exec/attach bridge: WebSocket channel protocol outside, SPDY to the runtime inside; see
 * streaming.h. */
#include "streaming.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "cri_client.h"
#include "errors.h"
#include "json.h"
#include "log.h"
#include "pod_worker_int.h" /* the manager's CRI client */
#include "spdy.h"
#include "websocket.h"

/* A WebSocket message from kubectl is at most one stdin read (32 KiB) plus the channel
 * byte; allow more, but bound what a client can make us buffer. */
#define KST_MAX_MSG (1024 * 1024)
/* Bytes we let the runtime's frames pile up before giving up on it. */
#define KST_MAX_FRAME_BUF (SPDY_MAX_FRAME + 16)
/* How long the runtime has to answer the upgrade and the stream creations. */
#define KST_SETUP_TIMEOUT_MS 30000
/* How long, after our close frame, we wait for the client's before closing anyway. */
#define KST_LINGER_MS 10000

/* remotecommand's channel numbers (k8s.io/apimachinery/pkg/util/remotecommand) */
enum { CH_STDIN = 0, CH_STDOUT = 1, CH_STDERR = 2, CH_ERROR = 3, CH_RESIZE = 4, CH_CLOSE = 255 };

/* The container's spec.containers[].tty (0 when not found). */
static int spec_tty(pw_manager *m, const char *ns, const char *pod, const char *container)
{
	cJSON *list = pw_pod_list(m);
	int tty = 0;
	const cJSON *p;
	cJSON_ArrayForEach(p, cJSON_GetObjectItemCaseSensitive(list, "items"))
	{
		if (strcmp(kc_json_get_string(p, "metadata.namespace", ""), ns) ||
		    strcmp(kc_json_get_string(p, "metadata.name", ""), pod))
			continue;
		const cJSON *c;
		cJSON_ArrayForEach(c, kc_json_get(p, "spec.containers"))
			if (!strcmp(kc_json_get_string(c, "name", ""), container))
				tty = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(c, "tty"));
	}
	cJSON_Delete(list);
	return tty;
}

int kst_resolve(pw_manager *m, const char *ns, const char *pod, const char *container, const char *const *cmd,
		size_t ncmd, kst_opts *o, char **url, char *msg, size_t msglen)
{
	pw_pod_view *v = NULL;
	int n = 0;
	if (pw_pod_views(m, &v, &n) < 0) {
		snprintf(msg, msglen, "out of memory");
		return 500;
	}
	int found_pod = 0;
	char id[96] = "";
	for (int i = 0; i < n; i++) {
		if (strcmp(v[i].ns, ns) || strcmp(v[i].name, pod))
			continue;
		found_pod = 1;
		for (int j = 0; j < v[i].nc; j++)
			if (!strcmp(v[i].c[j].name, container) && v[i].c[j].id[0] &&
			    v[i].c[j].state == PW_CTR_RUNNING)
				snprintf(id, sizeof(id), "%s", v[i].c[j].id);
	}
	pw_pod_views_free(v, n);
	if (!found_pod) {
		/* server.go getExec: response.WriteError(http.StatusNotFound, "pod does not exist") */
		snprintf(msg, msglen, "pod does not exist");
		return 404;
	}
	if (!id[0]) {
		/* kubelet.findContainer: no running instance of that name */
		snprintf(msg, msglen, "container not found (\"%s\")", container);
		return 500;
	}
	if (!cmd) {
		/* kubelet GetAttach: "The TTY setting for attach must match the TTY setting in
		 * the initial container configuration" (the client's tty flag is overridden) */
		o->tty = spec_tty(m, ns, pod, container);
		if (o->tty)
			o->err = 0;
	}
	cri_grpc_status st = { 0 };
	int rc = cmd ? cri_exec(m->cri, id, cmd, ncmd, o->tty, o->in, o->out, o->err, url, &st)
		     : cri_attach(m->cri, id, o->tty, o->in, o->out, o->err, url, &st);
	if (rc == 0)
		return 0;
	if (st.code == CRI_GRPC_UNIMPLEMENTED) {
		snprintf(msg, msglen, "the container runtime does not support %s: %s", cmd ? "exec" : "attach",
			 st.message);
		return 501;
	}
	snprintf(msg, msglen, "%s", st.message[0] ? st.message : kc_strerror(rc));
	return 500;
}

int kst_resolve_portforward(pw_manager *m, const char *ns, const char *pod, const int32_t *ports, size_t nports,
			    char **url, char *msg, size_t msglen)
{
	pw_pod_view *v = NULL;
	int n = 0;
	if (pw_pod_views(m, &v, &n) < 0) {
		snprintf(msg, msglen, "out of memory");
		return 500;
	}
	char uid[64] = "";
	for (int i = 0; i < n; i++)
		if (!strcmp(v[i].ns, ns) && !strcmp(v[i].name, pod))
			snprintf(uid, sizeof(uid), "%s", v[i].uid);
	pw_pod_views_free(v, n);
	if (!uid[0]) {
		snprintf(msg, msglen, "pod does not exist");
		return 404;
	}
	/* kuberuntime GetPortForward: the pod's ready sandbox */
	Runtime__V1__PodSandboxFilter__LabelSelectorEntry e = RUNTIME__V1__POD_SANDBOX_FILTER__LABEL_SELECTOR_ENTRY__INIT;
	e.key = PW_LABEL_POD_UID;
	e.value = uid;
	Runtime__V1__PodSandboxFilter__LabelSelectorEntry *ep = &e;
	Runtime__V1__PodSandboxStateValue ready = RUNTIME__V1__POD_SANDBOX_STATE_VALUE__INIT;
	ready.state = RUNTIME__V1__POD_SANDBOX_STATE__SANDBOX_READY;
	Runtime__V1__PodSandboxFilter f = RUNTIME__V1__POD_SANDBOX_FILTER__INIT;
	f.state = &ready;
	f.n_label_selector = 1;
	f.label_selector = &ep;
	Runtime__V1__ListPodSandboxResponse *r = NULL;
	cri_grpc_status st = { 0 };
	char id[96] = "";
	if (cri_list_pod_sandbox(m->cri, &f, &r, &st) == 0 && r->n_items > 0 && r->items[0]->id)
		snprintf(id, sizeof(id), "%s", r->items[0]->id);
	cri_msg_free(r);
	if (!id[0]) {
		snprintf(msg, msglen, "pod not found (\"%s\")", pod);
		return 500;
	}
	int rc = cri_port_forward(m->cri, id, ports, nports, url, &st);
	if (rc == 0)
		return 0;
	if (st.code == CRI_GRPC_UNIMPLEMENTED) {
		snprintf(msg, msglen, "the container runtime does not support port-forward: %s", st.message);
		return 501;
	}
	snprintf(msg, msglen, "%s", st.message[0] ? st.message : kc_strerror(rc));
	return 500;
}

/* ---- I/O helpers ---- */

static int write_all(int fd, const void *buf, size_t len)
{
	return kc_ws_send_all(fd, buf, len, 60000);
}

/* One unmasked binary message [ch, data...] to the client (ch < 0: no channel byte, the
 * port-forward tunnel). */
static int ws_send_channel(int fd, int ch, const uint8_t *data, size_t len)
{
	uint8_t hdr[KC_WS_MAX_HEADER + 1];
	size_t o = kc_ws_frame_header(hdr, 1, KC_WS_BINARY, len + (ch >= 0));
	if (ch >= 0)
		hdr[o++] = (uint8_t)ch;
	int rc = write_all(fd, hdr, o);
	return rc < 0 || !len ? rc : write_all(fd, data, len);
}

static int ws_send_binary(int fd, const uint8_t *data, size_t len)
{
	return ws_send_channel(fd, -1, data, len);
}

static int ws_send_control(int fd, int opcode, const uint8_t *data, size_t len)
{
	uint8_t f[KC_WS_MAX_HEADER + KC_WS_MAX_CONTROL];
	size_t n = kc_ws_frame_encode(f, sizeof(f), 1, opcode, NULL, data, len);
	return n ? write_all(fd, f, n) : -EINVAL;
}

static void ws_close(int fd, unsigned code, const char *reason)
{
	uint8_t p[KC_WS_MAX_CONTROL];
	size_t n = kc_ws_close_payload(p, code, reason);
	ws_send_control(fd, KC_WS_CLOSE, p, n);
}

static void json_escape(const char *in, char *out, size_t cap)
{
	size_t o = 0;
	for (; *in && o + 7 < cap; in++) {
		unsigned char c = (unsigned char)*in;
		if (c == '"' || c == '\\') {
			out[o++] = '\\';
			out[o++] = (char)c;
		} else if (c < 0x20) {
			o += (size_t)snprintf(out + o, cap - o, "\\u%04x", c);
		} else {
			out[o++] = (char)c;
		}
	}
	out[o] = 0;
}

/* A failure the bridge itself hit, told to the client as the runtime would: a Status on
 * the error channel, then a normal close (kubectl then prints the message). */
static void fail_to_client(int fd, const char *fmt, const char *detail)
{
	char m[1024], esc[2048], st[2300];
	snprintf(m, sizeof(m), fmt, detail);
	json_escape(m, esc, sizeof(esc));
	int n = snprintf(st, sizeof(st),
			 "{\"metadata\":{},\"status\":\"Failure\",\"message\":\"%s\",\"reason\":\"InternalError\","
			 "\"code\":500}",
			 esc);
	kc_warn("exec/attach stream: %s", m);
	ws_send_channel(fd, CH_ERROR, (const uint8_t *)st, (size_t)n);
	ws_close(fd, KC_WS_CLOSE_NORMAL, "");
}

/* "http://host:port/path" -> a connected socket and the path.  0 or -errno. */
static int dial(const char *url, int *out, char *hostport, size_t hpcap, const char **path)
{
	if (strncmp(url, "http://", 7)) /* containerd's stream server is plain HTTP on loopback */
		return -EPROTONOSUPPORT;
	const char *h = url + 7;
	const char *slash = strchr(h, '/');
	size_t hl = slash ? (size_t)(slash - h) : strlen(h);
	if (!hl || hl >= hpcap)
		return -EINVAL;
	memcpy(hostport, h, hl);
	hostport[hl] = 0;
	*path = slash ? slash : "/";
	char host[256], port[16] = "80";
	const char *colon;
	if (hostport[0] == '[') {
		const char *rb = strchr(hostport, ']');
		if (!rb || (size_t)(rb - hostport - 1) >= sizeof(host))
			return -EINVAL;
		memcpy(host, hostport + 1, (size_t)(rb - hostport - 1));
		host[rb - hostport - 1] = 0;
		colon = rb[1] == ':' ? rb + 1 : NULL;
	} else {
		colon = strrchr(hostport, ':');
		size_t l = colon ? (size_t)(colon - hostport) : strlen(hostport);
		if (l >= sizeof(host))
			return -EINVAL;
		memcpy(host, hostport, l);
		host[l] = 0;
	}
	if (colon)
		snprintf(port, sizeof(port), "%s", colon + 1);
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res = NULL;
	if (getaddrinfo(host, port, &hints, &res) != 0 || !res)
		return -EHOSTUNREACH;
	int rc = -ECONNREFUSED;
	for (struct addrinfo *a = res; a; a = a->ai_next) {
		int fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
		if (fd < 0)
			continue;
		if (connect(fd, a->ai_addr, a->ai_addrlen) == 0) {
			*out = fd;
			rc = 0;
			break;
		}
		rc = -errno;
		close(fd);
	}
	freeaddrinfo(res);
	return rc;
}

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Our close frame went out: wait for the client's answer (or its hang-up) before the
 * connection is closed.  Closing at once would let libmicrohttpd's TLS relay of the
 * upgraded socket drop whatever output it had not sent yet. */
static void ws_linger(int fd, kc_ws_decoder *d)
{
	int64_t deadline = now_ms() + KST_LINGER_MS;
	uint8_t buf[4096];
	for (;;) {
		kc_ws_message m;
		int r;
		while ((r = kc_ws_decoder_next(d, &m)) == 1)
			if (m.opcode == KC_WS_CLOSE)
				return;
		int64_t left = deadline - now_ms();
		if (r < 0 || left <= 0)
			return;
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int pr = poll(&p, 1, (int)left);
		if (pr < 0 && errno == EINTR)
			continue;
		if (pr <= 0)
			return;
		ssize_t n = recv(fd, buf, sizeof(buf), 0);
		if (n <= 0 || kc_ws_decoder_feed(d, buf, (size_t)n) < 0)
			return;
	}
}

/* Read the runtime's answer to the upgrade: 0 on 101 (bytes after the head are left in
 * buf[0..*len)), else -EPROTO with the status line and body head in why. */
static int read_upgrade(int fd, uint8_t *buf, size_t cap, size_t *len, char *why, size_t whylen)
{
	size_t n = 0;
	int64_t deadline = now_ms() + KST_SETUP_TIMEOUT_MS;
	for (;;) {
		buf[n] = 0;
		char *end = strstr((char *)buf, "\r\n\r\n");
		if (end) {
			size_t head = (size_t)(end - (char *)buf) + 4;
			int code = 0;
			if (sscanf((char *)buf, "HTTP/1.%*d %d", &code) != 1)
				code = 0;
			if (code != 101) {
				char *eol = strstr((char *)buf, "\r\n");
				snprintf(why, whylen, "%.*s: %.*s", (int)(eol - (char *)buf), (char *)buf,
					 (int)(n - head > 300 ? 300 : n - head), (char *)buf + head);
				return -EPROTO;
			}
			memmove(buf, buf + head, n - head);
			*len = n - head;
			return 0;
		}
		if (n + 1 >= cap) {
			snprintf(why, whylen, "response head too long");
			return -EPROTO;
		}
		int64_t left = deadline - now_ms();
		struct pollfd pf = { .fd = fd, .events = POLLIN };
		if (left <= 0 || poll(&pf, 1, (int)left) <= 0) {
			snprintf(why, whylen, "timeout awaiting the upgrade response");
			return -ETIMEDOUT;
		}
		ssize_t r = recv(fd, buf + n, cap - 1 - n, 0);
		if (r <= 0) {
			snprintf(why, whylen, "connection closed before the upgrade response");
			return -ECONNRESET;
		}
		n += (size_t)r;
	}
}

/* Dial the runtime's streaming URL and upgrade to SPDY/3.1 offering protocol (as
 * httpstream/spdy's RoundTripper).  0 with *rfd connected and the bytes after the 101 in
 * buf[0..*len); else a negative error with why set (and *rfd possibly open). */
static int runtime_upgrade(const char *url, const char *protocol, int *rfd, uint8_t *buf, size_t cap, size_t *len,
			   char *why, size_t whylen)
{
	char hostport[300];
	const char *path = "/";
	int rc = dial(url, rfd, hostport, sizeof(hostport), &path);
	if (rc < 0) {
		snprintf(why, whylen, "%s: %s", url, kc_strerror(rc));
		return rc;
	}
	char req[1024];
	int rl = snprintf(req, sizeof(req),
			  "POST %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: kubelet\r\nContent-Length: 0\r\n"
			  "Connection: Upgrade\r\nUpgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: %s\r\n\r\n",
			  path, hostport, protocol);
	if (rl >= (int)sizeof(req) || write_all(*rfd, req, (size_t)rl) < 0) {
		snprintf(why, whylen, "cannot send the upgrade request to %s", url);
		return -EIO;
	}
	return read_upgrade(*rfd, buf, cap, len, why, whylen);
}

typedef struct bridge {
	int cfd, rfd;
	kst_opts o;
	spdy_enc enc;
	uint32_t sid_err, sid_in, sid_out, sid_errout, sid_resize;
	int want_replies, replies;
	int stdin_closed;
	uint8_t *rbuf; /* runtime bytes not yet parsed */
	size_t rlen;
} bridge;

static int rt_data(bridge *b, uint32_t sid, int fin, const uint8_t *p, size_t len)
{
	do {
		size_t k = len > SPDY_MAX_FRAME ? SPDY_MAX_FRAME : len;
		uint8_t h[8];
		spdy_data_header(h, sid, fin && k == len, k);
		int rc = write_all(b->rfd, h, 8);
		if (rc == 0 && k)
			rc = write_all(b->rfd, p, k);
		if (rc < 0)
			return rc;
		p += k;
		len -= k;
	} while (len);
	return 0;
}

/* Create the streams remotecommand's v4 protocol expects (client-go's streamProtocolV4:
 * error, then stdin, stdout, stderr, and resize with a tty), each tagged with its
 * "streamtype" header. */
static int open_streams(bridge *b)
{
	uint32_t next = 1;
	struct {
		int on;
		uint32_t *sid;
		const char *type;
	} s[] = { { 1, &b->sid_err, "error" },
		  { b->o.in, &b->sid_in, "stdin" },
		  { b->o.out, &b->sid_out, "stdout" },
		  { b->o.err && !b->o.tty, &b->sid_errout, "stderr" },
		  { b->o.tty, &b->sid_resize, "resize" } };
	for (size_t i = 0; i < sizeof(s) / sizeof(s[0]); i++) {
		if (!s[i].on)
			continue;
		*s[i].sid = next;
		next += 2;
		const char *kv[] = { "streamtype", s[i].type };
		uint8_t f[256];
		size_t n = spdy_syn_stream(&b->enc, f, sizeof(f), *s[i].sid, kv, 1, 0);
		if (!n || write_all(b->rfd, f, n) < 0)
			return -EIO;
		b->want_replies++;
	}
	return 0;
}

/* Frames from the runtime.  1 when the runtime ended the session, 0 to go on, <0 error. */
static int on_runtime(bridge *b)
{
	size_t off = 0;
	int rc = 0;
	while (off < b->rlen) {
		spdy_frame f;
		long n = spdy_parse(b->rbuf + off, b->rlen - off, &f);
		if (n == 0)
			break;
		if (n < 0) {
			rc = (int)n;
			break;
		}
		off += (size_t)n;
		kc_log_v(5, "exec/attach stream: runtime frame type %d stream %u flags %d len %zu", f.type,
			 (unsigned)f.stream_id, f.flags, f.len);
		if (f.type == SPDY_SYN_REPLY) {
			b->replies++;
		} else if (f.type == SPDY_DATA) {
			int ch = f.stream_id == b->sid_out ? CH_STDOUT
				 : f.stream_id == b->sid_errout ? CH_STDERR
				 : f.stream_id == b->sid_err ? CH_ERROR : -1;
			if (ch >= 0 && f.len && ws_send_channel(b->cfd, ch, f.data, f.len) < 0) {
				rc = -EPIPE;
				break;
			}
		} else if (f.type == SPDY_PING) {
			uint8_t p[12];
			spdy_ping(p, f.stream_id);
			if (write_all(b->rfd, p, sizeof(p)) < 0) {
				rc = -EPIPE;
				break;
			}
		} else if (f.type == SPDY_RST_STREAM && f.stream_id == b->sid_err) {
			rc = 1; /* the server tears the session down after writing the status */
		}
	}
	if (off) {
		memmove(b->rbuf, b->rbuf + off, b->rlen - off);
		b->rlen -= off;
	}
	return rc;
}

/* Messages from the client.  1 when the client closed, 0 to go on, <0 error. */
static int on_client(bridge *b, kc_ws_decoder *d)
{
	kc_ws_message m;
	int r;
	while ((r = kc_ws_decoder_next(d, &m)) == 1) {
		if (m.opcode == KC_WS_PING) {
			if (ws_send_control(b->cfd, KC_WS_PONG, m.data, m.len) < 0)
				return -EPIPE;
			continue;
		}
		if (m.opcode == KC_WS_CLOSE) {
			ws_close(b->cfd, KC_WS_CLOSE_NORMAL, "");
			return 1;
		}
		if (m.opcode != KC_WS_BINARY || m.len < 1)
			continue; /* remotecommand only uses binary messages; pongs need nothing */
		int ch = m.data[0];
		const uint8_t *p = m.data + 1;
		size_t len = m.len - 1;
		int rc = 0;
		if (ch == CH_STDIN && b->sid_in && !b->stdin_closed && len)
			rc = rt_data(b, b->sid_in, 0, p, len);
		else if (ch == CH_RESIZE && b->sid_resize && len)
			rc = rt_data(b, b->sid_resize, 0, p, len);
		else if (ch == CH_CLOSE && b->o.v5 && len >= 1 && p[0] == CH_STDIN && b->sid_in && !b->stdin_closed) {
			/* v5's CLOSE of stdin: half-close the SPDY stream so the process reads EOF */
			b->stdin_closed = 1;
			rc = rt_data(b, b->sid_in, 1, NULL, 0);
		}
		if (rc < 0)
			return rc;
	}
	return r;
}

void kst_bridge(int fd, const uint8_t *extra, size_t extra_len, const char *url, const kst_opts *o)
{
	bridge b = { .cfd = fd, .rfd = -1, .o = *o };
	int client_closed = 0;
	kc_ws_decoder d;
	kc_ws_decoder_init(&d, 1, KST_MAX_MSG);
	b.rbuf = malloc(KST_MAX_FRAME_BUF);
	int fl = fcntl(fd, F_GETFL);
	if (fl >= 0)
		fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
	if (!b.rbuf) {
		fail_to_client(fd, "%s", "out of memory");
		goto out;
	}
	char why[600];
	if (runtime_upgrade(url, "v4.channel.k8s.io", &b.rfd, b.rbuf, KST_MAX_FRAME_BUF, &b.rlen, why, sizeof(why)) <
	    0) {
		fail_to_client(fd, "error dialing backend: %s", why);
		goto out;
	}
	kc_log_v(4, "exec/attach stream: %s upgraded to SPDY/3.1", url);
	if (open_streams(&b) < 0) {
		fail_to_client(fd, "%s", "cannot create the streams on the runtime's connection");
		goto out;
	}
	if (extra_len && kc_ws_decoder_feed(&d, extra, extra_len) < 0)
		goto out;
	int64_t setup_deadline = now_ms() + KST_SETUP_TIMEOUT_MS;
	uint8_t cbuf[32768];
	for (;;) {
		/* stdin and resize wait until the runtime replied to every stream: spdystream
		 * drops data on a stream it has not replied to yet */
		int ready = b.replies >= b.want_replies;
		if (ready) {
			int r = on_client(&b, &d);
			if (r != 0) {
				client_closed = r > 0;
				if (r < 0)
					ws_close(fd, r == -EMSGSIZE ? KC_WS_CLOSE_TOO_BIG : KC_WS_CLOSE_PROTOCOL, "");
				break;
			}
		} else if (now_ms() > setup_deadline) {
			fail_to_client(fd, "%s", "timeout waiting for the runtime to accept the streams");
			break;
		}
		int r = on_runtime(&b);
		if (r != 0) {
			if (r < 0)
				kc_log_v(2, "exec/attach stream: runtime protocol error %s", kc_strerror(r));
			ws_close(fd, KC_WS_CLOSE_NORMAL, "");
			break;
		}
		if (b.replies >= b.want_replies && !ready)
			continue; /* feed the client bytes that waited for the replies */
		struct pollfd pf[2] = { { .fd = b.rfd, .events = POLLIN }, { .fd = fd, .events = ready ? POLLIN : 0 } };
		int pr = poll(pf, 2, ready ? -1 : 1000);
		if (pr < 0 && errno == EINTR)
			continue;
		if (pr < 0)
			break;
		if (pf[0].revents & (POLLIN | POLLHUP | POLLERR)) {
			if (b.rlen >= KST_MAX_FRAME_BUF) {
				ws_close(fd, KC_WS_CLOSE_NORMAL, "");
				break;
			}
			ssize_t n = recv(b.rfd, b.rbuf + b.rlen, KST_MAX_FRAME_BUF - b.rlen, 0);
			if (n <= 0) {
				/* the runtime finished (after the status on the error stream) */
				ws_close(fd, KC_WS_CLOSE_NORMAL, "");
				break;
			}
			b.rlen += (size_t)n;
		}
		if (pf[1].revents & (POLLIN | POLLHUP | POLLERR)) {
			ssize_t n = recv(fd, cbuf, sizeof(cbuf), 0);
			if (n <= 0) {
				client_closed = 1;
				break; /* the client went away: dropping the runtime connection ends it */
			}
			if (kc_ws_decoder_feed(&d, cbuf, (size_t)n) < 0)
				break;
		}
	}
	if (b.rfd >= 0) {
		uint8_t g[16];
		spdy_goaway(g);
		write_all(b.rfd, g, sizeof(g));
	}
out:
	if (b.rfd >= 0)
		close(b.rfd);
	if (!client_closed)
		ws_linger(fd, &d);
	free(b.rbuf);
	kc_ws_decoder_close(&d);
}

void kst_tunnel(int fd, const uint8_t *extra, size_t extra_len, const char *url)
{
	int rfd = -1, client_closed = 0;
	kc_ws_decoder d;
	kc_ws_decoder_init(&d, 1, KST_MAX_MSG);
	uint8_t *buf = malloc(KST_MAX_FRAME_BUF);
	int fl = fcntl(fd, F_GETFL);
	if (fl >= 0)
		fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
	char why[600];
	size_t len = 0;
	if (!buf || runtime_upgrade(url, "portforward.k8s.io", &rfd, buf, KST_MAX_FRAME_BUF, &len, why,
				    sizeof(why)) < 0) {
		kc_warn("port-forward tunnel: error dialing backend: %s", buf ? why : "out of memory");
		ws_close(fd, 1011, "error dialing backend");
		goto out;
	}
	kc_log_v(4, "port-forward tunnel: %s upgraded to SPDY/3.1", url);
	if (len && ws_send_binary(fd, buf, len) < 0)
		goto out;
	if (extra_len && kc_ws_decoder_feed(&d, extra, extra_len) < 0)
		goto out;
	for (;;) {
		/* the client's messages carry raw SPDY bytes for the runtime */
		kc_ws_message m;
		int r, end = 0;
		while (!end && (r = kc_ws_decoder_next(&d, &m)) == 1) {
			if (m.opcode == KC_WS_BINARY) {
				if (m.len && write_all(rfd, m.data, m.len) < 0)
					end = 1;
			} else if (m.opcode == KC_WS_PING) {
				if (ws_send_control(fd, KC_WS_PONG, m.data, m.len) < 0)
					end = 1;
			} else if (m.opcode == KC_WS_CLOSE) {
				ws_close(fd, KC_WS_CLOSE_NORMAL, "");
				end = client_closed = 1;
			} else if (m.opcode == KC_WS_TEXT) {
				ws_close(fd, KC_WS_CLOSE_PROTOCOL, "invalid message type received");
				end = 1;
			}
		}
		if (end)
			break;
		if (r < 0) {
			ws_close(fd, r == -EMSGSIZE ? KC_WS_CLOSE_TOO_BIG : KC_WS_CLOSE_PROTOCOL, "");
			break;
		}
		struct pollfd pf[2] = { { .fd = rfd, .events = POLLIN }, { .fd = fd, .events = POLLIN } };
		int pr = poll(pf, 2, -1);
		if (pr < 0 && errno == EINTR)
			continue;
		if (pr < 0)
			break;
		if (pf[0].revents & (POLLIN | POLLHUP | POLLERR)) {
			ssize_t n = recv(rfd, buf, KST_MAX_FRAME_BUF, 0);
			if (n <= 0) {
				ws_close(fd, KC_WS_CLOSE_NORMAL, "");
				break;
			}
			if (ws_send_binary(fd, buf, (size_t)n) < 0)
				break;
		}
		if (pf[1].revents & (POLLIN | POLLHUP | POLLERR)) {
			ssize_t n = recv(fd, buf, KST_MAX_FRAME_BUF, 0);
			client_closed = n <= 0;
			if (n <= 0 || kc_ws_decoder_feed(&d, buf, (size_t)n) < 0)
				break;
		}
	}
out:
	if (rfd >= 0)
		close(rfd);
	if (!client_closed)
		ws_linger(fd, &d);
	free(buf);
	kc_ws_decoder_close(&d);
}

