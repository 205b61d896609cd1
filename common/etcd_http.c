/* The etcd client's own HTTP/1.1 transport for unary calls to plain-http endpoints (the
 * apiserver's store is on loopback http://). Every Txn of a pod create or binding went
 * through libcurl's easy interface, whose per-request work (handle reset and options, URL
 * parsing, header building and parsing, sscanf on the status line, the poll before each
 * read, proxy environment look-ups) cost more CPU than the JSON and the kernel's TCP work
 * together. Here one request is one sendmsg and, for a small answer, one recv on a
 * blocking keep-alive socket.
 *
 * Scope, so that nothing a caller sees changes: only http:// endpoints of the form
 * host[:port] (no path, userinfo, query) and only when no proxy variable that libcurl would
 * honour is set; everything else (https, streams, health) stays on libcurl. Failures are
 * reported with the CURLcode libcurl would have given, so messages, return codes and the
 * endpoint failover of kc_etcd__do_post are unchanged. As libcurl does, a request whose
 * reused keep-alive connection turns out closed before any byte of the answer arrived is
 * sent once more on a fresh connection. */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "etcd_int.h"

/* Headers larger than this are not an etcd gateway's answer. */
#define HTTP_MAX_HEADER (64u * 1024)

static bool proxy_env_set(void)
{
	/* libcurl reads http_proxy (lowercase only for http) and all_proxy/ALL_PROXY. */
	static const char *const vars[] = { "http_proxy", "all_proxy", "ALL_PROXY" };
	for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++) {
		const char *v = getenv(vars[i]);
		if (v && v[0])
			return true;
	}
	return false;
}

/* host and port of "http://host[:port]" (IPv6 as [addr]); false for anything else. */
static bool parse_endpoint(const char *url, char *host, size_t hn, char *port, size_t pn)
{
	if (strncmp(url, "http://", 7) != 0)
		return false;
	const char *h = url + 7;
	if (strpbrk(h, "/?#@ ") || !*h)
		return false;
	const char *hend, *colon;
	if (*h == '[') {
		hend = strchr(h, ']');
		if (!hend)
			return false;
		h++;
		colon = hend[1] == ':' ? hend + 1 : NULL;
		if (!colon && hend[1])
			return false;
	} else {
		colon = strchr(h, ':');
		hend = colon ? colon : h + strlen(h);
	}
	size_t l = (size_t)(hend - h);
	if (l == 0 || l >= hn)
		return false;
	memcpy(host, h, l);
	host[l] = 0;
	const char *p = colon ? colon + 1 : "80";
	size_t plen = strlen(p);
	if (plen == 0 || plen >= pn || strspn(p, "0123456789") != plen || atoi(p) <= 0 ||
	    atoi(p) > 65535)
		return false;
	memcpy(port, p, plen + 1);
	return true;
}

int kc_etcd__http_init(kc_etcd *c)
{
	c->hep = calloc(c->n_endpoints, sizeof(*c->hep));
	if (!c->hep)
		return -ENOMEM;
	bool proxy = proxy_env_set();
	for (size_t i = 0; i < c->n_endpoints; i++) {
		struct kc_etcd__hep *e = &c->hep[i];
		if (proxy || !parse_endpoint(c->endpoints[i], e->host, sizeof(e->host), e->port,
					     sizeof(e->port)))
			continue;
		e->fast = true;
		/* Host header as libcurl writes it: the URL's authority */
		snprintf(e->authority, sizeof(e->authority), "%s", c->endpoints[i] + 7);
	}
	return 0;
}

void kc_etcd__http_close(kc_etcd *c)
{
	for (size_t i = 0; i < c->n_idle; i++)
		close(c->idle[i].fd);
	c->n_idle = 0;
	free(c->hep);
	c->hep = NULL;
}

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void set_rcvtimeo(int fd, long ms)
{
	if (ms < 1)
		ms = 1;
	struct timeval tv = { .tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000 };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

/* Connects to endpoint ep within the dial timeout (and the request deadline).
 * Returns the blocking socket or -1 with *rc set. */
static int dial(kc_etcd *c, int ep, int64_t deadline, CURLcode *rc)
{
	const struct kc_etcd__hep *e = &c->hep[ep];
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM };
	struct addrinfo *res = NULL;
	if (getaddrinfo(e->host, e->port, &hints, &res) != 0 || !res) {
		*rc = CURLE_COULDNT_RESOLVE_HOST;
		return -1;
	}
	int64_t dial_end = now_ms() + c->dial_timeout_ms;
	if (dial_end > deadline)
		dial_end = deadline;
	*rc = CURLE_COULDNT_CONNECT;
	int fd = -1;
	for (struct addrinfo *a = res; a; a = a->ai_next) {
		fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, a->ai_protocol);
		if (fd < 0)
			continue;
		int r = connect(fd, a->ai_addr, a->ai_addrlen);
		if (r != 0 && errno == EINPROGRESS) {
			struct pollfd p = { .fd = fd, .events = POLLOUT };
			int64_t left = dial_end - now_ms();
			int pr = left > 0 ? poll(&p, 1, (int)left) : 0;
			if (pr == 0) {
				*rc = CURLE_OPERATION_TIMEDOUT;
				r = -1;
			} else {
				int soerr = 0;
				socklen_t sl = sizeof(soerr);
				if (pr < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) != 0 || soerr)
					r = -1;
				else
					r = 0;
			}
		}
		if (r == 0)
			break;
		close(fd);
		fd = -1;
		if (*rc == CURLE_OPERATION_TIMEDOUT)
			break;
	}
	freeaddrinfo(res);
	if (fd < 0)
		return -1;
	int fl = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &fl, sizeof(fl)); /* CURLOPT_TCP_NODELAY */
	/* blocking from here on; reads and writes time out with the request */
	int flags = fcntl(fd, F_GETFL);
	if (flags < 0 || fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) != 0) {
		close(fd);
		*rc = CURLE_COULDNT_CONNECT;
		return -1;
	}
	set_rcvtimeo(fd, c->request_timeout_ms);
	return fd;
}

/* ---- the idle keep-alive connections (c->mu) ---- */

static bool conn_take(kc_etcd *c, int ep, struct kc_etcd__conn *k)
{
	bool found = false;
	pthread_mutex_lock(&c->mu);
	for (size_t i = c->n_idle; i-- > 0;) {
		if (c->idle[i].ep != ep)
			continue;
		*k = c->idle[i];
		c->idle[i] = c->idle[--c->n_idle];
		found = true;
		break;
	}
	pthread_mutex_unlock(&c->mu);
	return found;
}

static void conn_put(kc_etcd *c, struct kc_etcd__conn *k)
{
	if (k->to_ms != c->request_timeout_ms) {
		set_rcvtimeo(k->fd, c->request_timeout_ms);
		k->to_ms = c->request_timeout_ms;
	}
	pthread_mutex_lock(&c->mu);
	if (c->n_idle < KC_ETCD__POOL_MAX) {
		c->idle[c->n_idle++] = *k;
		k->fd = -1;
	}
	pthread_mutex_unlock(&c->mu);
	if (k->fd >= 0)
		close(k->fd);
	k->fd = -1;
}

/* ---- one exchange ---- */

static CURLcode send_all(struct kc_etcd__conn *k, struct iovec *iov, int n, int64_t deadline)
{
	while (n > 0) {
		struct msghdr m = { .msg_iov = iov, .msg_iovlen = (size_t)n };
		ssize_t w = sendmsg(k->fd, &m, MSG_NOSIGNAL);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			if ((errno == EAGAIN || errno == EWOULDBLOCK) && now_ms() < deadline)
				continue;
			return errno == EAGAIN || errno == EWOULDBLOCK ? CURLE_OPERATION_TIMEDOUT :
									 CURLE_SEND_ERROR;
		}
		size_t left = (size_t)w;
		while (n > 0 && left >= iov->iov_len) {
			left -= iov->iov_len;
			iov++;
			n--;
		}
		if (n > 0) {
			iov->iov_base = (char *)iov->iov_base + left;
			iov->iov_len -= left;
		}
	}
	return CURLE_OK;
}

/* One recv into b's free room (NUL kept after the data): >0 bytes read, 0 at EOF, -1 with
 * *rc set, or -3 when nothing came yet (EINTR; EAGAIN, i.e. SO_RCVTIMEO expired): the
 * caller decides whether to wait again. */
static ssize_t recv_into(int fd, struct kc_etcd__buf *b, CURLcode *rc)
{
	ssize_t r = recv(fd, b->p + b->len, b->cap - b->len - 1, 0);
	if (r > 0) {
		b->len += (size_t)r;
		b->p[b->len] = 0;
		return r;
	}
	if (r == 0)
		return 0;
	if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)
		return -3;
	*rc = CURLE_RECV_ERROR;
	return -1;
}

/* Reads more of the answer into b. >0 bytes read, 0 at EOF, or -1 with *rc set. */
static ssize_t read_more(kc_etcd *c, struct kc_etcd__conn *k, struct kc_etcd__buf *b,
			 int64_t deadline, CURLcode *rc)
{
	(void)c;
	/* a page for the usual small answer, doubling for big ones */
	if (b->cap - (b->cap ? b->len + 1 : 0) < 1024 && kc_etcd__buf_reserve(b, b->len ? b->len : 4000) != 0) {
		*rc = CURLE_OUT_OF_MEMORY;
		return -1;
	}
	for (;;) {
		int64_t left = deadline - now_ms();
		if (left <= 0) {
			*rc = CURLE_OPERATION_TIMEDOUT;
			return -1;
		}
		/* The socket's timeout follows the request's deadline (with 100 ms of slack,
		 * so that an ordinary answer costs no extra system call). */
		if (left + 100 < k->to_ms) {
			set_rcvtimeo(k->fd, (long)left);
			k->to_ms = (long)left;
		}
		ssize_t r = recv_into(k->fd, b, rc);
		if (r != -3)
			return r; /* -3: nothing yet; the deadline check decides */
	}
}

static bool hdr_is(const char *line, size_t n, const char *name, const char **val, size_t *vn)
{
	size_t l = strlen(name);
	if (n <= l || line[l] != ':' || strncasecmp(line, name, l) != 0)
		return false;
	const char *v = line + l + 1, *e = line + n;
	while (v < e && (*v == ' ' || *v == '\t'))
		v++;
	while (e > v && (e[-1] == ' ' || e[-1] == '\t'))
		e--;
	*val = v;
	*vn = (size_t)(e - v);
	return true;
}

static bool has_token(const char *v, size_t n, const char *tok)
{
	size_t tl = strlen(tok);
	for (size_t i = 0; i + tl <= n; i++)
		if (strncasecmp(v + i, tok, tl) == 0)
			return true;
	return false;
}

struct head {
	long status;
	bool http10, close, chunked, has_len;
	size_t clen;
};

/* Parses the header block p[0..n) (up to and excluding the blank line). */
static bool parse_head(const char *p, size_t n, struct head *h)
{
	memset(h, 0, sizeof(*h));
	if (n < 12 || memcmp(p, "HTTP/1.", 7) != 0 || (p[7] != '0' && p[7] != '1') || p[8] != ' ')
		return false;
	for (int i = 9; i < 12; i++)
		if (p[i] < '0' || p[i] > '9')
			return false;
	if (n > 12 && p[12] != ' ' && p[12] != '\r')
		return false;
	h->status = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
	h->http10 = p[7] == '0';
	const char *line = memchr(p, '\n', n);
	while (line && (size_t)(line + 1 - p) < n) {
		line++;
		const char *e = memchr(line, '\n', n - (size_t)(line - p));
		size_t ln = e ? (size_t)(e - line) : n - (size_t)(line - p);
		if (ln && line[ln - 1] == '\r')
			ln--;
		const char *v;
		size_t vn;
		if (hdr_is(line, ln, "content-length", &v, &vn)) {
			if (vn == 0 || vn > 18 || strspn(v, "0123456789") < vn)
				return false;
			size_t cl = 0;
			for (size_t i = 0; i < vn; i++)
				cl = cl * 10 + (size_t)(v[i] - '0');
			if (h->has_len && h->clen != cl)
				return false;
			h->has_len = true;
			h->clen = cl;
		} else if (hdr_is(line, ln, "transfer-encoding", &v, &vn)) {
			if (has_token(v, vn, "chunked"))
				h->chunked = true;
		} else if (hdr_is(line, ln, "connection", &v, &vn)) {
			if (has_token(v, vn, "close"))
				h->close = true;
		}
		line = e;
	}
	return true;
}

/* Scans a chunked body p[0..n): 1 complete (*end: its length including the last chunk and
 * trailers), 0 incomplete, -1 malformed. */
static int chunked_scan(const char *p, size_t n, size_t *end)
{
	size_t i = 0;
	for (;;) {
		size_t sz = 0, digits = 0;
		while (i < n) {
			char ch = p[i];
			int v = ch >= '0' && ch <= '9' ? ch - '0' :
				ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 :
				ch >= 'A' && ch <= 'F' ? ch - 'A' + 10 : -1;
			if (v < 0)
				break;
			if (++digits > 15)
				return -1;
			sz = sz * 16 + (size_t)v;
			i++;
		}
		if (i >= n)
			return 0;
		if (!digits)
			return -1;
		const char *nl = memchr(p + i, '\n', n - i); /* chunk extensions up to the LF */
		if (!nl)
			return n - i > 4096 ? -1 : 0;
		i = (size_t)(nl - p) + 1;
		if (sz == 0) {
			/* trailers, then an empty line */
			for (;;) {
				const char *e = memchr(p + i, '\n', n - i);
				if (!e)
					return 0;
				size_t ln = (size_t)(e - (p + i));
				i = (size_t)(e - p) + 1;
				if (ln == 0 || (ln == 1 && p[i - 2] == '\r')) {
					*end = i;
					return 1;
				}
			}
		}
		if (n - i < sz + 1)
			return 0;
		i += sz;
		if (p[i] == '\r') {
			if (n - i < 2)
				return 0;
			if (p[i + 1] != '\n')
				return -1;
			i += 2;
		} else if (p[i] == '\n') {
			i++;
		} else {
			return -1;
		}
	}
}

/* Decodes a chunked body p[0..n) that chunked_scan found complete, in place; returns the
 * data's length. */
static size_t chunked_decode(char *p, size_t n)
{
	size_t i = 0, o = 0;
	while (i < n) {
		size_t sz = 0;
		for (; i < n; i++) {
			char ch = p[i];
			int v = ch >= '0' && ch <= '9' ? ch - '0' :
				ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 :
				ch >= 'A' && ch <= 'F' ? ch - 'A' + 10 : -1;
			if (v < 0)
				break;
			sz = sz * 16 + (size_t)v;
		}
		const char *nl = memchr(p + i, '\n', n - i);
		if (!nl || sz == 0)
			break;
		i = (size_t)(nl - p) + 1;
		memmove(p + o, p + i, sz);
		o += sz;
		i += sz;
		i += p[i] == '\r' ? 2 : 1;
	}
	return o;
}

/* Reads one answer into out (its body only). *got: whether any byte arrived; *keep: the
 * connection may serve another request. */
static CURLcode read_answer(kc_etcd *c, struct kc_etcd__conn *k, int64_t deadline,
			    struct kc_etcd__buf *out, long *status, bool *got, bool *keep)
{
	CURLcode rc = CURLE_OK;
	*keep = false;
	*got = false;
	out->len = 0;
	size_t scanned = 0;
	struct head h;
	size_t body = 0; /* offset of the body in out */
	for (;;) {
		char *e = NULL;
		if (out->len >= 4) {
			size_t from = scanned > 3 ? scanned - 3 : 0;
			e = memmem(out->p + from, out->len - from, "\r\n\r\n", 4);
		}
		if (e) {
			size_t hl = (size_t)(e - out->p);
			if (!parse_head(out->p, hl, &h))
				return CURLE_WEIRD_SERVER_REPLY;
			body = hl + 4;
			if (h.status >= 100 && h.status < 200) {
				/* an interim answer (100 Continue): the real one follows */
				memmove(out->p, out->p + body, out->len - body);
				out->len -= body;
				out->p[out->len] = 0;
				scanned = 0;
				continue;
			}
			break;
		}
		scanned = out->len;
		if (out->len > HTTP_MAX_HEADER)
			return CURLE_WEIRD_SERVER_REPLY;
		ssize_t r = read_more(c, k, out, deadline, &rc);
		if (r < 0)
			return rc;
		if (r == 0)
			return *got ? CURLE_RECV_ERROR : CURLE_GOT_NOTHING;
		*got = true;
	}
	*got = true;
	size_t need = 0;
	bool to_eof = false;
	if (h.status == 204 || h.status == 304)
		need = body;
	else if (h.chunked)
		need = 0; /* decided by chunked_scan */
	else if (h.has_len)
		need = body + h.clen;
	else
		to_eof = true;
	if (!h.chunked && !to_eof && need - body > ETCD_MAX_RESPONSE)
		return CURLE_WRITE_ERROR;
	for (;;) {
		if (out->len - body > ETCD_MAX_RESPONSE)
			return CURLE_WRITE_ERROR;
		if (h.chunked) {
			size_t end = 0;
			int s = chunked_scan(out->p + body, out->len - body, &end);
			if (s < 0)
				return CURLE_RECV_ERROR;
			if (s > 0) {
				need = body + end;
				break;
			}
		} else if (!to_eof && out->len >= need) {
			break;
		}
		ssize_t r = read_more(c, k, out, deadline, &rc);
		if (r < 0)
			return rc;
		if (r == 0) {
			if (to_eof) {
				need = out->len;
				break;
			}
			return CURLE_PARTIAL_FILE;
		}
	}
	/* bytes past the answer: not something to keep a connection in sync with */
	*keep = !to_eof && !h.close && !h.http10 && out->len == need;
	size_t n = need - body;
	memmove(out->p, out->p + body, n);
	out->p[n] = 0;
	if (h.chunked)
		n = chunked_decode(out->p, n);
	out->len = n;
	out->p[n] = 0;
	*status = h.status;
	return CURLE_OK;
}

/* The request line and headers of a POST of blen bytes of JSON to path (what libcurl
 * sent); its length, or -1 when it does not fit in n bytes. */
static int post_head(const struct kc_etcd__hep *e, const char *path, size_t blen, char *head,
		     size_t n)
{
	int hn = snprintf(head, n,
			  "POST %s HTTP/1.1\r\nHost: %s\r\nAccept: */*\r\n"
			  "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n",
			  path, e->authority, blen);
	return hn < 0 || (size_t)hn >= n ? -1 : hn;
}

CURLcode kc_etcd__http_post(kc_etcd *c, int ep, const char *path, const char *body,
			    struct kc_etcd__buf *out, long *status, bool *connected)
{
	int64_t deadline = now_ms() + c->request_timeout_ms;
	size_t blen = strlen(body);
	char head[1400];
	int hn = post_head(&c->hep[ep], path, blen, head, sizeof(head));
	if (hn < 0)
		return CURLE_URL_MALFORMAT;
	*connected = false;
	for (int attempt = 0; attempt < 2; attempt++) {
		struct kc_etcd__conn k = { .fd = -1, .ep = ep };
		bool reused = attempt == 0 && conn_take(c, ep, &k);
		CURLcode rc = CURLE_OK;
		if (!reused) {
			k.fd = dial(c, ep, deadline, &rc);
			if (k.fd < 0)
				return rc;
			k.to_ms = c->request_timeout_ms;
		}
		*connected = true;
		struct iovec iov[2] = { { head, (size_t)hn }, { (void *)body, blen } };
		rc = send_all(&k, iov, blen ? 2 : 1, deadline);
		bool got = false, keep = false;
		if (rc == CURLE_OK)
			rc = read_answer(c, &k, deadline, out, status, &got, &keep);
		if (rc == CURLE_OK && keep) {
			conn_put(c, &k);
			return CURLE_OK;
		}
		close(k.fd);
		if (rc == CURLE_OK)
			return CURLE_OK;
		/* A kept-alive connection the server had closed: send again on a new one, as
		 * libcurl does when a reused connection yields nothing. */
		if (reused && !got && (rc == CURLE_SEND_ERROR || rc == CURLE_RECV_ERROR ||
				       rc == CURLE_GOT_NOTHING))
			continue;
		return rc;
	}
	return CURLE_GOT_NOTHING;
}

/* ---- streams (watch) ---- */

/* An incremental chunked-transfer decoder: hands each piece of data to wfn as it arrives. */
enum { CK_SIZE, CK_EXT, CK_DATA, CK_DATA_END, CK_DATA_LF, CK_TRAILER, CK_TRAILER_LINE,
       CK_TRAILER_CR, CK_DONE };

struct chunk_dec {
	int st;
	size_t left, digits;
};

/* 1 at the end of the body, 0 for more, -1 with *rc set. */
static int chunk_feed(struct chunk_dec *d, const char *p, size_t n, kc_etcd__write_fn wfn,
		      void *ud, CURLcode *rc)
{
	size_t i = 0;
	while (i < n) {
		char ch = p[i];
		switch (d->st) {
		case CK_SIZE:
		case CK_EXT:
			if (ch == '\n') {
				if (!d->digits) {
					*rc = CURLE_RECV_ERROR;
					return -1;
				}
				d->st = d->left ? CK_DATA : CK_TRAILER;
				d->digits = 0;
			} else if (d->st == CK_SIZE) {
				int v = ch >= '0' && ch <= '9' ? ch - '0' :
					ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 :
					ch >= 'A' && ch <= 'F' ? ch - 'A' + 10 : -1;
				if (v >= 0 && d->digits < 15) {
					d->left = d->left * 16 + (size_t)v;
					d->digits++;
				} else if (v < 0 && d->digits && (ch == ';' || ch == ' ' || ch == '\t' ||
								  ch == '\r')) {
					d->st = CK_EXT;
				} else {
					*rc = CURLE_RECV_ERROR;
					return -1;
				}
			}
			i++;
			break;
		case CK_DATA: {
			size_t k = n - i < d->left ? n - i : d->left;
			if (wfn((char *)p + i, 1, k, ud) != k) {
				*rc = CURLE_WRITE_ERROR;
				return -1;
			}
			d->left -= k;
			i += k;
			if (!d->left)
				d->st = CK_DATA_END;
			break;
		}
		case CK_DATA_END:
		case CK_DATA_LF:
			if (ch == '\r' && d->st == CK_DATA_END) {
				d->st = CK_DATA_LF;
			} else if (ch == '\n') {
				d->st = CK_SIZE;
			} else {
				*rc = CURLE_RECV_ERROR;
				return -1;
			}
			i++;
			break;
		case CK_TRAILER:
			d->st = ch == '\n' ? CK_DONE : ch == '\r' ? CK_TRAILER_CR : CK_TRAILER_LINE;
			i++;
			break;
		case CK_TRAILER_LINE:
			if (ch == '\n')
				d->st = CK_TRAILER;
			i++;
			break;
		case CK_TRAILER_CR:
			if (ch != '\n') {
				*rc = CURLE_RECV_ERROR;
				return -1;
			}
			d->st = CK_DONE;
			i++;
			break;
		default:
			return 1;
		}
		if (d->st == CK_DONE)
			return 1;
	}
	return d->st == CK_DONE;
}

#define STREAM_TICK_MS 100 /* how often a quiet stream looks at its stop flag */

/* Reads more into b for a stream: >0, 0 at EOF, -1 with *rc set, -2 when *stop was set. */
static ssize_t stream_read(int fd, struct kc_etcd__buf *b, const atomic_int *stop, CURLcode *rc)
{
	if (kc_etcd__buf_reserve(b, 16384) != 0) {
		*rc = CURLE_OUT_OF_MEMORY;
		return -1;
	}
	for (;;) {
		if (stop && atomic_load(stop))
			return -2;
		ssize_t r = recv_into(fd, b, rc);
		if (r != -3)
			return r;
	}
}

CURLcode kc_etcd__http_stream(kc_etcd *c, int ep, const char *path, const char *body,
			      kc_etcd__write_fn wfn, void *ud, const atomic_int *stop, long *status,
			      bool *stopped)
{
	*status = 0;
	*stopped = false;
	if (stop && atomic_load(stop)) {
		/* asked to stop before anything was sent: no request at all */
		*stopped = true;
		return CURLE_OK;
	}
	size_t blen = strlen(body);
	char head[1400];
	int hn = post_head(&c->hep[ep], path, blen, head, sizeof(head));
	if (hn < 0)
		return CURLE_URL_MALFORMAT;
	CURLcode rc = CURLE_OK;
	int fd = dial(c, ep, INT64_MAX, &rc);
	if (fd < 0)
		return rc;
	/* no deadline: TCP keepalive notices a peer that vanished (as the libcurl path's
	 * CURLOPT_TCP_KEEPALIVE / KEEPIDLE 10 / KEEPINTVL 5) */
	int on = 1, idle = 10, intvl = 5;
	setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof(on));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof(intvl));
	set_rcvtimeo(fd, STREAM_TICK_MS);
	struct kc_etcd__conn k = { .fd = fd, .ep = ep, .to_ms = STREAM_TICK_MS };
	struct iovec iov[2] = { { head, (size_t)hn }, { (void *)body, blen } };
	struct kc_etcd__buf b = { 0 };
	rc = send_all(&k, iov, blen ? 2 : 1, INT64_MAX);
	struct head h = { 0 };
	size_t bodyoff = 0, scanned = 0;
	bool got = false;
	while (rc == CURLE_OK) {
		char *end = b.len >= 4 ? memmem(b.p + (scanned > 3 ? scanned - 3 : 0),
						b.len - (scanned > 3 ? scanned - 3 : 0), "\r\n\r\n", 4) :
					 NULL;
		if (end) {
			size_t hl = (size_t)(end - b.p);
			if (!parse_head(b.p, hl, &h)) {
				rc = CURLE_WEIRD_SERVER_REPLY;
				break;
			}
			bodyoff = hl + 4;
			if (h.status >= 100 && h.status < 200) {
				memmove(b.p, b.p + bodyoff, b.len - bodyoff);
				b.len -= bodyoff;
				scanned = 0;
				continue;
			}
			*status = h.status;
			break;
		}
		scanned = b.len;
		if (b.len > HTTP_MAX_HEADER) {
			rc = CURLE_WEIRD_SERVER_REPLY;
			break;
		}
		ssize_t r = stream_read(fd, &b, stop, &rc);
		if (r == -2) {
			*stopped = true;
			break;
		}
		if (r == 0)
			rc = got ? CURLE_RECV_ERROR : CURLE_GOT_NOTHING;
		got = true;
	}
	if (rc == CURLE_OK && !*stopped) {
		struct chunk_dec cd = { 0 };
		bool no_body = h.status == 204 || h.status == 304 || (h.has_len && !h.chunked && h.clen == 0);
		size_t left = h.has_len ? h.clen : 0;
		/* the bytes after the header block, then whatever arrives */
		size_t have = b.len - bodyoff;
		memmove(b.p, b.p + bodyoff, have);
		b.len = have;
		while (!no_body) {
			if (b.len) {
				if (h.chunked) {
					int s = chunk_feed(&cd, b.p, b.len, wfn, ud, &rc);
					if (s != 0)
						break; /* the end (rc OK), or an error */
				} else {
					size_t n = b.len;
					if (h.has_len && n > left)
						n = left;
					if (wfn(b.p, 1, n, ud) != n) {
						rc = CURLE_WRITE_ERROR;
						break;
					}
					left -= n;
					if (h.has_len && !left)
						break;
				}
				b.len = 0;
			}
			ssize_t r = stream_read(fd, &b, stop, &rc);
			if (r == -2) {
				*stopped = true;
				break;
			}
			if (r < 0)
				break;
			if (r == 0) {
				if (h.chunked || h.has_len)
					rc = CURLE_PARTIAL_FILE;
				break;
			}
		}
	}
	free(b.p);
	close(fd);
	return rc;
}
