/* Pod creator and pod watcher for the scheduler benchmark, in one process so that the
 * harness costs the two shared cores as little as honest measurement allows (the
 * benchmark runs on the same cores as the stack it measures).
 *
 *   podcreate API TOKEN CAFILE PODS CONC SHAPE RV TIMESFILE DEADLINE_S
 *   podcreate --scan FILE        (prints what the event scanner sees in each line)
 *
 * 1. a watcher thread opens GET /api/v1/namespaces/default/pods?watch=1&resourceVersion=RV
 *    and, once the apiserver answered 200, prints "ready" on stdout;
 * 2. after a line on stdin ("go": loadgen.py samples the CPU of the stack first), CONC
 *    threads create pods bench-000000 .. bench-(PODS-1) (loadgen.py's make_pod: the same
 *    bodies) over keep-alive HTTP/1.1 TLS connections, one per thread, and print
 *    "created T0 T1 FAILED" (CLOCK_REALTIME seconds of the first and last creation).
 *    CONC 0: no creation (loadgen.py's Python creator does it), "created" is printed at once;
 * 3. the watcher records, per pod index, the CLOCK_REALTIME time it first saw the pod
 *    and the time it first saw it with spec.nodeName set, until every pod is bound, the
 *    deadline (DEADLINE_S seconds after start) passes, the watch is idle for 30 s or ends
 *    (loadgen.py's former Python watcher did the same);
 * 4. writes "INDEX ADDED BOUND" lines (BOUND 0: never seen bound) to TIMESFILE, prints
 *    "done SEEN BOUND CREATORS_CPU WATCH_CPU" (CPU seconds of the creator threads and of
 *    the watcher thread) and exits 0 (1 when a pod could not be created: first error on
 *    stderr).
 *
 * Raw OpenSSL and blocking sockets rather than libcurl: one write and about one read per
 * pod, none of libcurl's poll/state machinery (the libcurl creator took 0.083-0.090 ms of
 * CPU per pod on this machine, this one 0.04-0.056 ms, TLS handshakes included; the
 * Python watcher 0.045-0.062 ms per pod, this one 0.005-0.015 ms). The watch events are
 * located with a one-pass JSON scanner (scan_event) rather than a full parse: the name
 * is taken from object.metadata.name and the binding from object.spec.nodeName, at those
 * exact nesting levels, so that the same strings inside labels, annotations, env or
 * managedFields cannot confuse it (run.sh checks it against json.loads first, see
 * scan_check.py; malformed JSON inside the values it skips is not diagnosed: the
 * apiserver prints valid, compact JSON, one event per line).
 *
 * Build: cc -O2 -Wall -Wextra -o podcreate podcreate.c -lssl -lcrypto -pthread */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

/* ---------- the event scanner ---------- */

static const char *ws(const char *p, const char *e)
{
	while (p < e && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n'))
		p++;
	return p;
}

/* p at an opening quote: the byte after the closing quote, NULL when unterminated */
static const char *skip_string(const char *p, const char *e)
{
	p++;
	for (;;) {
		const char *q = memchr(p, '"', (size_t)(e - p));
		if (!q)
			return NULL;
		size_t bs = 0;
		while (q - bs > p && q[-1 - (ptrdiff_t)bs] == '\\')
			bs++;
		if (!(bs & 1))
			return q + 1;
		p = q + 1;
	}
}

/* p at the first byte of a value: the byte after it, NULL when malformed */
static const char *skip_value(const char *p, const char *e)
{
	if (p >= e)
		return NULL;
	if (*p == '"')
		return skip_string(p, e);
	if (*p == '{' || *p == '[') {
		int depth = 0;
		while (p < e) {
			char ch = *p;
			if (ch == '"') {
				if (!(p = skip_string(p, e)))
					return NULL;
				continue;
			}
			if (ch == '{' || ch == '[')
				depth++;
			else if (ch == '}' || ch == ']') {
				if (--depth == 0)
					return p + 1;
			}
			p++;
		}
		return NULL;
	}
	/* true, false, null or a number (its digits not checked further) */
	const char *s = p;
	while (p < e && *p != ',' && *p != '}' && *p != ']' && *p != ' ' && *p != '\t' &&
	       *p != '\r' && *p != '\n')
		p++;
	size_t n = (size_t)(p - s);
	if ((n == 4 && (memcmp(s, "true", 4) == 0 || memcmp(s, "null", 4) == 0)) ||
	    (n == 5 && memcmp(s, "false", 5) == 0))
		return p;
	if (n == 0 || strspn(s, "-+.0123456789eE") < n)
		return NULL;
	return p;
}

/* Next member of an object whose '{' was consumed: 1 with the raw key and *pp at its
 * value, 0 at the closing '}' (consumed), -1 when malformed. */
static int obj_next(const char **pp, const char *e, int *first, const char **k, size_t *kl)
{
	const char *p = ws(*pp, e);
	if (p >= e)
		return -1;
	if (*p == '}') {
		*pp = p + 1;
		return 0;
	}
	if (!*first) {
		if (*p != ',')
			return -1;
		p = ws(p + 1, e);
	}
	*first = 0;
	if (p >= e || *p != '"')
		return -1;
	const char *ks = p + 1;
	if (!(p = skip_string(p, e)))
		return -1;
	*k = ks;
	*kl = (size_t)(p - 1 - ks);
	p = ws(p, e);
	if (p >= e || *p != ':')
		return -1;
	p = ws(p + 1, e);
	if (p >= e)
		return -1;
	*pp = p;
	return 1;
}

#define KEY_IS(k, kl, lit) ((kl) == sizeof(lit) - 1 && memcmp((k), lit, sizeof(lit) - 1) == 0)

struct scan {
	const char *name; /* raw bytes of object.metadata.name, NULL if absent */
	size_t name_len;
	int bound; /* object.spec.nodeName is a non-empty string */
};

/* p at '{' of an object whose member KEY (a string) or non-empty-string test is wanted:
 * walks the object; the last KEY wins, as in a JSON decoder. */
static const char *walk_for_string(const char *p, const char *e, const char *key, size_t keylen,
				   const char **val, size_t *vlen)
{
	int first = 1, r;
	const char *k;
	size_t kl;
	p++;
	while ((r = obj_next(&p, e, &first, &k, &kl)) == 1) {
		const char *v = p;
		if (!(p = skip_value(p, e)))
			return NULL;
		if (kl == keylen && memcmp(k, key, kl) == 0) {
			if (*v == '"') {
				*val = v + 1;
				*vlen = (size_t)(p - 1 - (v + 1));
			} else {
				*val = NULL;
				*vlen = 0;
			}
		}
	}
	return r == 0 ? p : NULL;
}

static const char *walk_pod(const char *p, const char *e, struct scan *s)
{
	int first = 1, r;
	const char *k;
	size_t kl;
	p++;
	while ((r = obj_next(&p, e, &first, &k, &kl)) == 1) {
		if (KEY_IS(k, kl, "metadata") && *p == '{') {
			s->name = NULL;
			p = walk_for_string(p, e, "name", 4, &s->name, &s->name_len);
		} else if (KEY_IS(k, kl, "spec") && *p == '{') {
			const char *nn = NULL;
			size_t nl = 0;
			p = walk_for_string(p, e, "nodeName", 8, &nn, &nl);
			s->bound = nn && nl > 0;
		} else {
			if (KEY_IS(k, kl, "metadata"))
				s->name = NULL;
			else if (KEY_IS(k, kl, "spec"))
				s->bound = 0;
			p = skip_value(p, e);
		}
		if (!p)
			return NULL;
	}
	return r == 0 ? p : NULL;
}

/* One watch event line {"type":...,"object":{...}}: 0 and *s filled when the whole line
 * is one well-formed object, -1 otherwise (the caller skips it, as the Python watcher
 * skipped lines json.loads rejected). */
static int scan_event(const char *line, size_t n, struct scan *s)
{
	const char *p = ws(line, line + n), *e = line + n, *k;
	size_t kl;
	int first = 1, r;
	memset(s, 0, sizeof(*s));
	if (p >= e || *p != '{')
		return -1;
	p++;
	while ((r = obj_next(&p, e, &first, &k, &kl)) == 1) {
		if (KEY_IS(k, kl, "object") && *p == '{') {
			memset(s, 0, sizeof(*s));
			p = walk_pod(p, e, s);
		} else {
			if (KEY_IS(k, kl, "object"))
				memset(s, 0, sizeof(*s));
			p = skip_value(p, e);
		}
		if (!p)
			return -1;
	}
	if (r != 0 || ws(p, e) != e)
		return -1;
	return 0;
}

/* "bench-NNNNNN" -> NNNNNN, -1 for any other name */
static long bench_index(const struct scan *s)
{
	if (!s->name || s->name_len != 12 || memcmp(s->name, "bench-", 6) != 0)
		return -1;
	long v = 0;
	for (int i = 6; i < 12; i++) {
		if (s->name[i] < '0' || s->name[i] > '9')
			return -1;
		v = v * 10 + (s->name[i] - '0');
	}
	return v;
}

/* ---------- HTTP/1.1 over TLS ---------- */

static const char *api, *cafile, *shape;
static char host[256], port[16], auth[600];
static int host_is_ip;
static SSL_CTX *ctx;

struct hconn {
	int fd;
	SSL *ssl;
	char buf[65536];
	size_t off, len;
};

static double now_real(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* CPU seconds of the calling thread, for the split printed at the end */
static double thread_cpu(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void hc_close(struct hconn *c)
{
	if (c->ssl) {
		SSL_free(c->ssl);
		c->ssl = NULL;
	}
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	c->off = c->len = 0;
}

/* TLS connection to host:port verified against CAFILE (IP SAN or host name), blocking
 * with a receive timeout of rcv_secs */
static int hc_connect(struct hconn *c, int rcv_secs, char *err, size_t errlen)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM }, *ai = NULL;
	c->fd = -1;
	c->ssl = NULL;
	c->off = c->len = 0;
	int rc = getaddrinfo(host, port, &hints, &ai);
	if (rc) {
		snprintf(err, errlen, "resolve %s: %s", host, gai_strerror(rc));
		return -1;
	}
	for (struct addrinfo *a = ai; a; a = a->ai_next) {
		c->fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
		if (c->fd < 0)
			continue;
		if (connect(c->fd, a->ai_addr, a->ai_addrlen) == 0)
			break;
		close(c->fd);
		c->fd = -1;
	}
	freeaddrinfo(ai);
	if (c->fd < 0) {
		snprintf(err, errlen, "connect %s:%s: %s", host, port, strerror(errno));
		return -1;
	}
	int one = 1;
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	struct timeval tv = { .tv_sec = rcv_secs };
	setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	tv.tv_sec = 120;
	setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	c->ssl = SSL_new(ctx);
	if (!c->ssl)
		goto tls_err;
	X509_VERIFY_PARAM *vp = SSL_get0_param(c->ssl);
	if (host_is_ip) {
		if (!X509_VERIFY_PARAM_set1_ip_asc(vp, host))
			goto tls_err;
	} else if (!SSL_set_tlsext_host_name(c->ssl, host) || !SSL_set1_host(c->ssl, host)) {
		goto tls_err;
	}
	if (!SSL_set_fd(c->ssl, c->fd) || SSL_connect(c->ssl) != 1)
		goto tls_err;
	return 0;
tls_err:;
	const char *why = ERR_reason_error_string(ERR_peek_last_error());
	snprintf(err, errlen, "TLS to %s:%s: %s", host, port, why ? why : "handshake failed");
	ERR_clear_error();
	hc_close(c);
	return -1;
}

/* more bytes into buf[len..]: > 0 read, -1 on EOF, error or receive timeout */
static int hc_fill(struct hconn *c)
{
	if (c->off) {
		memmove(c->buf, c->buf + c->off, c->len - c->off);
		c->len -= c->off;
		c->off = 0;
	}
	if (c->len == sizeof(c->buf))
		return -1;
	int n = SSL_read(c->ssl, c->buf + c->len, (int)(sizeof(c->buf) - c->len));
	if (n <= 0) {
		ERR_clear_error();
		return -1;
	}
	c->len += (size_t)n;
	return n;
}

/* a CRLF-terminated line at buf+off: its length without CRLF (off unchanged), -1 */
static long hc_line(struct hconn *c)
{
	for (;;) {
		char *s = c->buf + c->off;
		char *q = memmem(s, c->len - c->off, "\r\n", 2);
		if (q)
			return q - s;
		if (hc_fill(c) < 0)
			return -1;
	}
}

struct resp {
	int status;
	long clen; /* -1: none */
	int chunked, close;
};

static int hdr_has(const char *v, size_t vl, const char *word)
{
	size_t wl = strlen(word);
	for (size_t i = 0; i + wl <= vl; i++)
		if (strncasecmp(v + i, word, wl) == 0)
			return 1;
	return 0;
}

static int hc_head(struct hconn *c, struct resp *r)
{
	memset(r, 0, sizeof(*r));
	r->clen = -1;
	long n = hc_line(c);
	if (n < 12 || memcmp(c->buf + c->off, "HTTP/1.", 7) != 0)
		return -1;
	r->status = atoi(c->buf + c->off + 9);
	if (c->buf[c->off + 7] == '0')
		r->close = 1;
	c->off += (size_t)n + 2;
	while ((n = hc_line(c)) > 0) {
		const char *h = c->buf + c->off, *colon = memchr(h, ':', (size_t)n);
		if (colon) {
			size_t kl = (size_t)(colon - h), vl = (size_t)(n - (long)kl - 1);
			const char *v = colon + 1;
			if (kl == 14 && strncasecmp(h, "content-length", 14) == 0)
				r->clen = strtol(v, NULL, 10);
			else if (kl == 17 && strncasecmp(h, "transfer-encoding", 17) == 0)
				r->chunked = hdr_has(v, vl, "chunked");
			else if (kl == 10 && strncasecmp(h, "connection", 10) == 0 && hdr_has(v, vl, "close"))
				r->close = 1;
		}
		c->off += (size_t)n + 2;
	}
	if (n < 0)
		return -1;
	c->off += 2;
	return 0;
}

/* sink(arg, data, n): 0 to go on, non-zero to stop reading (hc_body returns 1) */
typedef int (*sink_fn)(void *arg, const char *data, size_t n);

static int hc_take(struct hconn *c, size_t want, sink_fn sink, void *arg)
{
	while (want) {
		if (c->off == c->len && hc_fill(c) < 0)
			return -1;
		size_t n = c->len - c->off < want ? c->len - c->off : want;
		int stop = sink ? sink(arg, c->buf + c->off, n) : 0;
		c->off += n;
		want -= n;
		if (stop)
			return 1;
	}
	return 0;
}

/* the body: Content-Length, chunked, or up to EOF without either; 0 complete, 1 stopped by
 * the sink, -1 transport error */
static int hc_body(struct hconn *c, const struct resp *r, sink_fn sink, void *arg)
{
	if (!r->chunked) {
		if (r->clen >= 0)
			return hc_take(c, (size_t)r->clen, sink, arg);
		for (;;) {
			if (c->off < c->len) {
				int stop = sink ? sink(arg, c->buf + c->off, c->len - c->off) : 0;
				c->off = c->len;
				if (stop)
					return 1;
			}
			if (hc_fill(c) < 0)
				return 0;
		}
	}
	for (;;) {
		long n = hc_line(c);
		if (n < 0)
			return -1;
		char *end;
		unsigned long sz = strtoul(c->buf + c->off, &end, 16);
		if (end == c->buf + c->off)
			return -1;
		c->off += (size_t)n + 2;
		if (sz == 0) { /* trailers up to the empty line */
			while ((n = hc_line(c)) > 0)
				c->off += (size_t)n + 2;
			if (n < 0)
				return -1;
			c->off += 2;
			return 0;
		}
		int rc = hc_take(c, sz, sink, arg);
		if (rc)
			return rc;
		if (hc_line(c) != 0)
			return -1;
		c->off += 2;
	}
}

static int hc_write(struct hconn *c, const char *data, size_t n)
{
	if (SSL_write(c->ssl, data, (int)n) != (int)n) {
		ERR_clear_error();
		return -1;
	}
	return 0;
}

/* ---------- the creators ---------- */

static int npods;
static atomic_int next_pod, failed;
static pthread_mutex_t err_mu = PTHREAD_MUTEX_INITIALIZER;
static char first_err[512];
static double creators_cpu; /* under err_mu */

static void fail(int i, const char *what)
{
	pthread_mutex_lock(&err_mu);
	if (!first_err[0])
		snprintf(first_err, sizeof(first_err), "pod bench-%06d: %s", i, what);
	pthread_mutex_unlock(&err_mu);
	atomic_fetch_add(&failed, 1);
}

/* loadgen.py's make_pod: requests as upstream's pod-default.yaml; the affinity shape adds
 * required anti-affinity to its app on the host and a DoNotSchedule zone spread */
static int pod_body(char *b, size_t cap, int i)
{
	if (strcmp(shape, "affinity") == 0)
		return snprintf(b, cap,
				"{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"bench-%06d\","
				"\"labels\":{\"app\":\"app-%d\"}},\"spec\":{\"containers\":[{\"name\":\"pause\","
				"\"image\":\"registry.k8s.io/pause:3.10\",\"resources\":{\"requests\":{\"cpu\":"
				"\"100m\",\"memory\":\"500Mi\"}}}],\"affinity\":{\"podAntiAffinity\":{"
				"\"requiredDuringSchedulingIgnoredDuringExecution\":[{\"labelSelector\":{"
				"\"matchLabels\":{\"app\":\"app-%d\"}},\"topologyKey\":\"kubernetes.io/hostname\"}]}},"
				"\"topologySpreadConstraints\":[{\"maxSkew\":1,\"topologyKey\":"
				"\"topology.kubernetes.io/zone\",\"whenUnsatisfiable\":\"DoNotSchedule\","
				"\"labelSelector\":{\"matchLabels\":{\"app\":\"app-%d\"}}}]}}",
				i, i % 50, i % 50, i % 50);
	return snprintf(b, cap,
			"{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"bench-%06d\"},"
			"\"spec\":{\"containers\":[{\"name\":\"pause\",\"image\":\"registry.k8s.io/pause:3.10\","
			"\"resources\":{\"requests\":{\"cpu\":\"100m\",\"memory\":\"500Mi\"}}}]}}",
			i);
}

static void *creator(void *arg)
{
	(void)arg;
	struct hconn *c = calloc(1, sizeof(*c));
	char body[2048], req[4096], err[256];
	if (!c) {
		fail(-1, "out of memory");
		return NULL;
	}
	c->fd = -1;
	for (;;) {
		int i = atomic_fetch_add(&next_pod, 1);
		if (i >= npods)
			break;
		int bl = pod_body(body, sizeof(body), i);
		int n = snprintf(req, sizeof(req),
				 "POST /api/v1/namespaces/default/pods HTTP/1.1\r\nHost: %s:%s\r\n%s\r\n"
				 "Content-Type: application/json\r\nAccept: application/json\r\n"
				 "Content-Length: %d\r\n\r\n%s",
				 host, port, auth, bl, body);
		if (bl < 0 || (size_t)bl >= sizeof(body) || n < 0 || (size_t)n >= sizeof(req)) {
			fail(i, "request too long");
			continue;
		}
		int status = 0;
		snprintf(err, sizeof(err), "no attempt");
		/* transport errors: reconnect and retry, as the libcurl version did; a retry can find
		 * the pod created by the attempt whose answer was lost (409) */
		for (int attempt = 0; attempt < 5; attempt++) {
			if (c->fd < 0 && hc_connect(c, 120, err, sizeof(err)) < 0)
				continue;
			struct resp r;
			if (hc_write(c, req, (size_t)n) < 0 || hc_head(c, &r) < 0 ||
			    hc_body(c, &r, NULL, NULL) < 0) {
				snprintf(err, sizeof(err), "transport error");
				hc_close(c);
				continue;
			}
			if (r.close)
				hc_close(c);
			status = r.status;
			if (status == 409 && attempt > 0)
				status = 201;
			break;
		}
		if (status == 0)
			fail(i, err);
		else if (status != 201) {
			snprintf(err, sizeof(err), "HTTP %d (not 201)", status);
			fail(i, err);
		}
	}
	hc_close(c);
	free(c);
	double cpu = thread_cpu();
	pthread_mutex_lock(&err_mu);
	creators_cpu += cpu;
	pthread_mutex_unlock(&err_mu);
	return NULL;
}

/* ---------- the watcher ---------- */

struct watch {
	const char *rv;
	double deadline;
	double *added, *bound; /* per pod index, 0 = not seen */
	int seen, nbound;
	char *line;
	size_t llen, lcap;
	/* readiness handshake with main */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int state; /* 0 connecting, 1 ready, -1 failed */
	char err[300];
	const char *why; /* why the watch ended */
	double cpu;      /* the watcher thread's CPU seconds */
};

static void watch_line(struct watch *w, const char *l, size_t n, double t)
{
	struct scan s;
	if (scan_event(l, n, &s) < 0)
		return;
	long i = bench_index(&s);
	if (i < 0 || i >= npods)
		return;
	if (w->added[i] == 0) {
		w->added[i] = t;
		w->seen++;
	}
	if (s.bound && w->bound[i] == 0) {
		w->bound[i] = t;
		w->nbound++;
	}
}

/* watch body bytes -> lines; stops when every pod was seen bound or at the deadline */
static int watch_sink(void *arg, const char *data, size_t n)
{
	struct watch *w = arg;
	while (n) {
		const char *nl = memchr(data, '\n', n);
		size_t take = nl ? (size_t)(nl - data) : n;
		if (w->llen + take > w->lcap) {
			size_t cap = (w->llen + take) * 2;
			char *nb = realloc(w->line, cap);
			if (!nb) {
				w->why = "out of memory";
				return 1;
			}
			w->line = nb;
			w->lcap = cap;
		}
		if (take) {
			memcpy(w->line + w->llen, data, take);
			w->llen += take;
		}
		if (!nl)
			break;
		double t = now_real();
		if (w->llen)
			watch_line(w, w->line, w->llen, t);
		w->llen = 0;
		data += take + 1;
		n -= take + 1;
		if (w->nbound >= npods) {
			w->why = "all bound";
			return 1;
		}
		if (t >= w->deadline) {
			w->why = "deadline";
			return 1;
		}
	}
	return 0;
}

static void watch_state(struct watch *w, int st)
{
	pthread_mutex_lock(&w->mu);
	w->state = st;
	pthread_cond_broadcast(&w->cv);
	pthread_mutex_unlock(&w->mu);
}

static void *watcher(void *arg)
{
	struct watch *w = arg;
	struct hconn *c = calloc(1, sizeof(*c));
	char req[1024];
	struct resp r;
	if (!c) {
		snprintf(w->err, sizeof(w->err), "out of memory");
		watch_state(w, -1);
		return NULL;
	}
	/* an idle half minute means the scheduler stalled (as the Python watcher) */
	if (hc_connect(c, 30, w->err, sizeof(w->err)) < 0) {
		watch_state(w, -1);
		free(c);
		return NULL;
	}
	int n = snprintf(req, sizeof(req),
			 "GET /api/v1/namespaces/default/pods?watch=1&resourceVersion=%s HTTP/1.1\r\n"
			 "Host: %s:%s\r\n%s\r\nAccept: application/json\r\n\r\n",
			 w->rv, host, port, auth);
	if (n < 0 || (size_t)n >= sizeof(req) || hc_write(c, req, (size_t)n) < 0 || hc_head(c, &r) < 0) {
		snprintf(w->err, sizeof(w->err), "watch: no HTTP answer");
		goto failed;
	}
	if (r.status != 200) {
		snprintf(w->err, sizeof(w->err), "watch: HTTP %d", r.status);
		goto failed;
	}
	watch_state(w, 1);
	w->why = "watch ended";
	if (hc_body(c, &r, watch_sink, w) < 0)
		w->why = "watch idle 30 s or broken";
	hc_close(c);
	free(c);
	w->cpu = thread_cpu();
	return NULL;
failed:
	hc_close(c);
	free(c);
	watch_state(w, -1);
	return NULL;
}

/* ---------- main ---------- */

/* podcreate --scan FILE: "INDEX BOUND" per line the scanner accepts as a bench pod,
 * "other" for another well-formed event, "skip" for a malformed line (test hook for
 * run.sh's check of the scanner against a JSON decoder) */
static int scan_file(const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		perror(path);
		return 2;
	}
	char *l = NULL;
	size_t cap = 0;
	ssize_t n;
	npods = 1000000;
	while ((n = getline(&l, &cap, f)) >= 0) {
		if (n && l[n - 1] == '\n')
			n--;
		struct scan s;
		if (scan_event(l, (size_t)n, &s) < 0) {
			puts("skip");
			continue;
		}
		long i = bench_index(&s);
		if (i < 0)
			printf("other %d\n", s.bound);
		else
			printf("%ld %d\n", i, s.bound);
	}
	free(l);
	fclose(f);
	return 0;
}

static int parse_api(const char *url)
{
	if (strncmp(url, "https://", 8) != 0)
		return -1;
	const char *h = url + 8, *end = h + strcspn(h, "/"), *colon;
	if (*h == '[') { /* [v6]:port */
		const char *rb = memchr(h, ']', (size_t)(end - h));
		if (!rb || rb[1] != ':')
			return -1;
		if ((size_t)(rb - h - 1) >= sizeof(host))
			return -1;
		memcpy(host, h + 1, (size_t)(rb - h - 1));
		host[rb - h - 1] = 0;
		colon = rb + 1;
	} else {
		colon = memchr(h, ':', (size_t)(end - h));
		if (!colon || (size_t)(colon - h) >= sizeof(host))
			return -1;
		memcpy(host, h, (size_t)(colon - h));
		host[colon - h] = 0;
	}
	if ((size_t)(end - colon - 1) >= sizeof(port) || end - colon - 1 < 1)
		return -1;
	memcpy(port, colon + 1, (size_t)(end - colon - 1));
	port[end - colon - 1] = 0;
	unsigned char tmp[16];
	host_is_ip = inet_pton(AF_INET, host, tmp) == 1 || inet_pton(AF_INET6, host, tmp) == 1;
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "--scan") == 0)
		return scan_file(argv[2]);
	if (argc != 10) {
		fprintf(stderr, "usage: podcreate API TOKEN CAFILE PODS CONC SHAPE RV TIMESFILE DEADLINE_S\n"
				"       podcreate --scan FILE\n");
		return 2;
	}
	api = argv[1];
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", argv[2]);
	cafile = argv[3];
	npods = atoi(argv[4]);
	int conc = atoi(argv[5]);
	shape = argv[6];
	const char *timesfile = argv[8];
	double deadline_s = atof(argv[9]);
	if (conc < 0 || conc > 256 || npods < 1 || npods > 999999 || deadline_s <= 0 ||
	    strspn(argv[7], "0123456789") != strlen(argv[7]) || !argv[7][0] || strlen(argv[2]) > 512) {
		fprintf(stderr, "podcreate: bad PODS, CONC, RV, TOKEN or DEADLINE_S\n");
		return 2;
	}
	if (parse_api(api) < 0) {
		fprintf(stderr, "podcreate: API must be https://HOST:PORT, got %s\n", api);
		return 2;
	}
	/* a keep-alive connection the apiserver closed must fail the write (and be reopened),
	 * not kill the process */
	signal(SIGPIPE, SIG_IGN);
	ctx = SSL_CTX_new(TLS_client_method());
	if (!ctx || SSL_CTX_load_verify_locations(ctx, cafile, NULL) != 1) {
		fprintf(stderr, "podcreate: cannot load CA file %s\n", cafile);
		return 1;
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	/* read whole socket buffers rather than a record header then its body: half the
	 * read(2) calls per answer */
	SSL_CTX_set_read_ahead(ctx, 1);

	static struct watch w = { .mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER };
	w.rv = argv[7];
	w.deadline = now_real() + deadline_s;
	w.added = calloc((size_t)npods, sizeof(double));
	w.bound = calloc((size_t)npods, sizeof(double));
	if (!w.added || !w.bound) {
		fprintf(stderr, "podcreate: out of memory\n");
		return 1;
	}
	pthread_t wt;
	if (pthread_create(&wt, NULL, watcher, &w) != 0) {
		fprintf(stderr, "podcreate: cannot start the watcher\n");
		return 1;
	}
	struct timespec until;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 30;
	pthread_mutex_lock(&w.mu);
	while (w.state == 0)
		if (pthread_cond_timedwait(&w.cv, &w.mu, &until) == ETIMEDOUT)
			break;
	int st = w.state;
	pthread_mutex_unlock(&w.mu);
	if (st != 1) {
		printf("error %s\n", st < 0 ? w.err : "watch not ready in 30 s");
		fflush(stdout);
		return 1;
	}
	printf("ready\n");
	fflush(stdout);
	char go[64];
	if (!fgets(go, sizeof(go), stdin))
		return 1;

	double t0 = now_real();
	pthread_t th[256];
	int started = 0;
	for (int i = 0; i < conc; i++)
		if (pthread_create(&th[started], NULL, creator, NULL) == 0)
			started++;
	for (int i = 0; i < started; i++)
		pthread_join(th[i], NULL);
	double t1 = now_real();
	if (conc && !started) {
		atomic_fetch_add(&failed, 1);
		snprintf(first_err, sizeof(first_err), "no creator thread started");
	}
	printf("created %.6f %.6f %d\n", t0, t1, atomic_load(&failed));
	fflush(stdout);
	if (atomic_load(&failed)) {
		fprintf(stderr, "%d pods failed; first: %s\n", atomic_load(&failed), first_err);
		return 1;
	}

	pthread_join(wt, NULL);
	FILE *f = fopen(timesfile, "w");
	if (!f) {
		perror(timesfile);
		return 1;
	}
	for (int i = 0; i < npods; i++)
		if (w.added[i] != 0 || w.bound[i] != 0)
			fprintf(f, "%d %.6f %.6f\n", i, w.added[i], w.bound[i]);
	if (fclose(f) != 0) {
		perror(timesfile);
		return 1;
	}
	fprintf(stderr, "podcreate: watch stopped: %s\n", w.why ? w.why : "?");
	printf("done %d %d %.3f %.3f\n", w.seen, w.nbound, creators_cpu, w.cpu);
	fflush(stdout);
	SSL_CTX_free(ctx);
	return 0;
}
