/* Keep-alive HTTP/1.1 POSTs for the binding cycle; see poster.h. */
#include "poster.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "errors.h"
#include "json.h"

#define POOL_MAX 32
#define RESP_MAX ((size_t)1 << 20)
#define HEAD_MAX ((size_t)64 << 10)
#define IO_TIMEOUT_S 60          /* kc_client's default whole-request timeout */
#define CONNECT_TIMEOUT_MS 10000 /* and its connect timeout */

typedef struct conn {
	int fd;
	SSL *ssl; /* NULL for http:// */
} conn;

struct sched_poster {
	bool tls, insecure;
	char *host, *port, *prefix;
	char *url_base;    /* for messages, as kc_client's base URL */
	char *verify_name; /* tls-server-name, else the host */
	char *hdrs;        /* the fixed request headers, each ending in CRLF */
	SSL_CTX *ctx;
	pthread_mutex_t mu;
	conn pool[POOL_MAX];
	int npool;
};

static bool env_set(const char *name)
{
	const char *v = getenv(name);
	return v && *v;
}

static bool is_ip(const char *s)
{
	unsigned char buf[sizeof(struct in6_addr)];
	return inet_pton(AF_INET, s, buf) == 1 || inet_pton(AF_INET6, s, buf) == 1;
}

/* http(s)://host[:port][/prefix], nothing else (no user info, query or fragment). */
static int parse_url(sched_poster *p, const char *url)
{
	const char *rest;
	if (!strncmp(url, "https://", 8)) {
		p->tls = true;
		rest = url + 8;
	} else if (!strncmp(url, "http://", 7)) {
		rest = url + 7;
	} else {
		return -ENOTSUP;
	}
	if (strpbrk(rest, "?#@ \t\r\n%"))
		return -ENOTSUP;
	const char *slash = strchr(rest, '/');
	size_t hl = slash ? (size_t)(slash - rest) : strlen(rest);
	char hp[300];
	if (hl == 0 || hl >= sizeof(hp))
		return -ENOTSUP;
	memcpy(hp, rest, hl);
	hp[hl] = '\0';
	char *host = hp, *port = NULL;
	if (hp[0] == '[') {
		char *end = strchr(hp, ']');
		if (!end)
			return -ENOTSUP;
		*end = '\0';
		host = hp + 1;
		if (end[1] == ':')
			port = end + 2;
		else if (end[1])
			return -ENOTSUP;
	} else {
		char *colon = strchr(hp, ':');
		if (colon) {
			if (strchr(colon + 1, ':'))
				return -ENOTSUP;
			*colon = '\0';
			port = colon + 1;
		}
	}
	const char *dflt = p->tls ? "443" : "80";
	if (port && (!*port || strspn(port, "0123456789") != strlen(port) || atoi(port) <= 0 ||
		     atoi(port) > 65535))
		return -ENOTSUP;
	p->host = strdup(host);
	p->port = strdup(port ? port : dflt);
	/* the prefix without trailing slashes, as kc_client's base */
	size_t pl = slash ? strlen(slash) : 0;
	while (pl > 0 && slash[pl - 1] == '/')
		pl--;
	p->prefix = strndup(slash ? slash : "", pl);
	if (!p->host || !p->port || !p->prefix)
		return -ENOMEM;
	/* Host header as libcurl writes it: the port only when it is not the default */
	bool v6 = strchr(host, ':') != NULL;
	char hosthdr[320];
	if (port && strcmp(port, dflt) != 0)
		snprintf(hosthdr, sizeof(hosthdr), "%s%s%s:%s", v6 ? "[" : "", host, v6 ? "]" : "",
			 port);
	else
		snprintf(hosthdr, sizeof(hosthdr), "%s%s%s", v6 ? "[" : "", host, v6 ? "]" : "");
	p->url_base = NULL;
	return asprintf(&p->hdrs, "Host: %s\r\n", hosthdr) < 0 ? -ENOMEM : 0;
}

static int load_ca_blob(SSL_CTX *ctx, const unsigned char *data, size_t len)
{
	BIO *b = BIO_new_mem_buf(data, (int)len);
	if (!b)
		return -ENOMEM;
	X509_STORE *st = SSL_CTX_get_cert_store(ctx);
	int n = 0;
	X509 *x;
	while ((x = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL) {
		if (X509_STORE_add_cert(st, x) == 1)
			n++;
		X509_free(x);
	}
	ERR_clear_error();
	BIO_free(b);
	return n > 0 ? 0 : -EINVAL;
}

static int load_cert_blob(SSL_CTX *ctx, const unsigned char *data, size_t len)
{
	BIO *b = BIO_new_mem_buf(data, (int)len);
	if (!b)
		return -ENOMEM;
	int rc = -EINVAL;
	X509 *x = PEM_read_bio_X509(b, NULL, NULL, NULL);
	if (x && SSL_CTX_use_certificate(ctx, x) == 1) {
		rc = 0;
		X509 *ca;
		while ((ca = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL)
			if (SSL_CTX_add0_chain_cert(ctx, ca) != 1)
				X509_free(ca);
	}
	X509_free(x);
	ERR_clear_error();
	BIO_free(b);
	return rc;
}

static int load_key_blob(SSL_CTX *ctx, const unsigned char *data, size_t len)
{
	BIO *b = BIO_new_mem_buf(data, (int)len);
	if (!b)
		return -ENOMEM;
	EVP_PKEY *k = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
	int rc = k && SSL_CTX_use_PrivateKey(ctx, k) == 1 ? 0 : -EINVAL;
	EVP_PKEY_free(k);
	BIO_free(b);
	return rc;
}

static int setup_tls(sched_poster *p, const kc_kubeconfig *kc)
{
	p->ctx = SSL_CTX_new(TLS_client_method());
	if (!p->ctx)
		return -ENOMEM;
	/* read-ahead: the status, headers and body records in one read when they are there */
	SSL_CTX_set_read_ahead(p->ctx, 1);
	static const unsigned char alpn[] = "\x08http/1.1"; /* as libcurl with HTTP/1.1 */
	SSL_CTX_set_alpn_protos(p->ctx, alpn, sizeof(alpn) - 1);
	int rc = 0;
	if (kc->insecure_skip_tls_verify) {
		SSL_CTX_set_verify(p->ctx, SSL_VERIFY_NONE, NULL);
	} else {
		SSL_CTX_set_verify(p->ctx, SSL_VERIFY_PEER, NULL);
		if (kc->ca_data)
			rc = load_ca_blob(p->ctx, kc->ca_data, kc->ca_len);
		else if (kc->ca_file)
			rc = SSL_CTX_load_verify_locations(p->ctx, kc->ca_file, NULL) == 1 ? 0 : -EINVAL;
		else
			return -ENOTSUP; /* system roots: libcurl's bundle; not worth matching */
	}
	if (rc == 0 && kc->cert_data)
		rc = load_cert_blob(p->ctx, kc->cert_data, kc->cert_len);
	else if (rc == 0 && kc->cert_file)
		rc = SSL_CTX_use_certificate_chain_file(p->ctx, kc->cert_file) == 1 ? 0 : -EINVAL;
	if (rc == 0 && kc->key_data)
		rc = load_key_blob(p->ctx, kc->key_data, kc->key_len);
	else if (rc == 0 && kc->key_file)
		rc = SSL_CTX_use_PrivateKey_file(p->ctx, kc->key_file, SSL_FILETYPE_PEM) == 1
			     ? 0
			     : -EINVAL;
	if (rc == 0 && (kc->cert_data || kc->cert_file) && SSL_CTX_check_private_key(p->ctx) != 1)
		rc = -EINVAL;
	ERR_clear_error();
	return rc;
}

void sched_poster_free(sched_poster *p)
{
	if (!p)
		return;
	for (int i = 0; i < p->npool; i++) {
		SSL_free(p->pool[i].ssl);
		close(p->pool[i].fd);
	}
	pthread_mutex_destroy(&p->mu);
	SSL_CTX_free(p->ctx);
	free(p->host);
	free(p->port);
	free(p->prefix);
	free(p->url_base);
	free(p->verify_name);
	free(p->hdrs);
	free(p);
}

int sched_poster_new(const kc_kubeconfig *kc, const char *user_agent, sched_poster **out)
{
	*out = NULL;
	if (!kc || !kc->server || !user_agent || strpbrk(user_agent, "\r\n"))
		return -EINVAL;
	/* libcurl would go through a proxy named in the environment */
	if (env_set("http_proxy") || env_set("HTTP_PROXY") || env_set("https_proxy") ||
	    env_set("HTTPS_PROXY") || env_set("all_proxy") || env_set("ALL_PROXY"))
		return -ENOTSUP;
	if (kc->token && strpbrk(kc->token, "\r\n"))
		return -EINVAL;
	sched_poster *p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	pthread_mutex_init(&p->mu, NULL);
	int rc = parse_url(p, kc->server);
	if (rc < 0)
		goto fail;
	rc = -ENOMEM;
	const char *tsn = kc->tls_server_name && *kc->tls_server_name && p->tls
				  ? kc->tls_server_name
				  : NULL;
	if (!(p->verify_name = strdup(tsn ? tsn : p->host)))
		goto fail;
	/* kc_client's base URL: the tls-server-name stands in for the host there */
	bool v6 = strchr(p->verify_name, ':') != NULL;
	if (asprintf(&p->url_base, "%s://%s%s%s:%s%s", p->tls ? "https" : "http", v6 ? "[" : "",
		     p->verify_name, v6 ? "]" : "", p->port, p->prefix) < 0) {
		p->url_base = NULL;
		goto fail;
	}
	if (!tsn) {
		/* without tls-server-name kc_client's base is the server as configured */
		free(p->url_base);
		p->url_base = strdup(kc->server);
		if (!p->url_base)
			goto fail;
		size_t l = strlen(p->url_base);
		while (l > 0 && p->url_base[l - 1] == '/')
			p->url_base[--l] = '\0';
	}
	if (tsn) {
		/* kc_client's Host header with tls-server-name always names the port */
		bool hv6 = strchr(p->host, ':') != NULL;
		free(p->hdrs);
		if (asprintf(&p->hdrs, "Host: %s%s%s:%s\r\n", hv6 ? "[" : "", p->host,
			     hv6 ? "]" : "", p->port) < 0) {
			p->hdrs = NULL;
			goto fail;
		}
	}
	char *h = NULL;
	if (asprintf(&h, "%sUser-Agent: %s\r\nAccept: application/json\r\n"
			 "Content-Type: application/json\r\n%s%s%s",
		     p->hdrs, user_agent, kc->token && *kc->token ? "Authorization: Bearer " : "",
		     kc->token && *kc->token ? kc->token : "",
		     kc->token && *kc->token ? "\r\n" : "") < 0)
		goto fail;
	free(p->hdrs);
	p->hdrs = h;
	p->insecure = kc->insecure_skip_tls_verify;
	if (p->tls && (rc = setup_tls(p, kc)) != 0)
		goto fail;
	*out = p;
	return 0;
fail:
	sched_poster_free(p);
	return rc;
}

/* ---- connections ---- */

static void conn_close(conn *c)
{
	if (c->ssl)
		SSL_free(c->ssl);
	if (c->fd >= 0)
		close(c->fd);
	c->ssl = NULL;
	c->fd = -1;
}

static int connect_timeout(int fd, const struct sockaddr *sa, socklen_t len)
{
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -errno;
	int rc = connect(fd, sa, len);
	if (rc < 0 && errno == EINPROGRESS) {
		struct pollfd pf = { .fd = fd, .events = POLLOUT };
		rc = poll(&pf, 1, CONNECT_TIMEOUT_MS);
		int soerr = 0;
		socklen_t sl = sizeof(soerr);
		if (rc <= 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0 || soerr)
			return -ECONNREFUSED;
		rc = 0;
	}
	if (rc < 0)
		return -errno;
	return fcntl(fd, F_SETFL, fl) < 0 ? -errno : 0;
}

/* A new connection, TLS handshake done. -EPIPE on any failure (nothing was sent). */
static int conn_open(sched_poster *p, conn *c)
{
	c->fd = -1;
	c->ssl = NULL;
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM };
	struct addrinfo *ai = NULL;
	if (getaddrinfo(p->host, p->port, &hints, &ai) != 0)
		return -EPIPE;
	for (struct addrinfo *a = ai; a; a = a->ai_next) {
		int fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
		if (fd < 0)
			continue;
		if (connect_timeout(fd, a->ai_addr, a->ai_addrlen) == 0) {
			c->fd = fd;
			break;
		}
		close(fd);
	}
	freeaddrinfo(ai);
	if (c->fd < 0)
		return -EPIPE;
	int one = 1;
	struct timeval tv = { .tv_sec = IO_TIMEOUT_S };
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(c->fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
	setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (!p->tls)
		return 0;
	c->ssl = SSL_new(p->ctx);
	if (!c->ssl || SSL_set_fd(c->ssl, c->fd) != 1)
		goto fail;
	bool ip = is_ip(p->verify_name);
	/* SNI with a name only (RFC 6066), as libcurl */
	if (!ip && SSL_set_tlsext_host_name(c->ssl, p->verify_name) != 1)
		goto fail;
	if (!p->insecure) {
		if (ip ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(c->ssl), p->verify_name) != 1
		       : SSL_set1_host(c->ssl, p->verify_name) != 1)
			goto fail;
	}
	if (SSL_connect(c->ssl) != 1)
		goto fail;
	return 0;
fail:
	ERR_clear_error();
	conn_close(c);
	return -EPIPE;
}

/* An idle connection is fit for the next request only if nothing arrived on it since
 * its last answer: data would be an answer to nobody (read as this request's), the end
 * of the stream means the server closed it. One MSG_PEEK, as libcurl's liveness check. */
static bool conn_idle_ok(const conn *c)
{
	if (c->ssl && SSL_has_pending(c->ssl))
		return false;
	char b;
	ssize_t n = recv(c->fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
	return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

static bool pool_take(sched_poster *p, conn *c)
{
	for (;;) {
		bool got = false;
		pthread_mutex_lock(&p->mu);
		if (p->npool > 0) {
			*c = p->pool[--p->npool];
			got = true;
		}
		pthread_mutex_unlock(&p->mu);
		if (!got)
			return false;
		if (conn_idle_ok(c))
			return true;
		conn_close(c);
	}
}

static void pool_put(sched_poster *p, conn *c)
{
	pthread_mutex_lock(&p->mu);
	if (p->npool < POOL_MAX) {
		p->pool[p->npool++] = *c;
		c->fd = -1;
		c->ssl = NULL;
	}
	pthread_mutex_unlock(&p->mu);
	conn_close(c);
}

/* ---- I/O ---- */

/* 0, or -1 on failure (connection unusable). */
static int write_all(conn *c, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n;
		if (c->ssl) {
			int w = SSL_write(c->ssl, buf, len > INT32_MAX ? INT32_MAX : (int)len);
			n = w > 0 ? w : -1;
			if (w <= 0)
				ERR_clear_error();
		} else {
			n = send(c->fd, buf, len, MSG_NOSIGNAL);
			if (n < 0 && errno == EINTR)
				continue;
		}
		if (n <= 0)
			return -1;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Bytes read (> 0), 0 at the end of the stream, -ETIMEDOUT, or -EIO. */
static ssize_t read_some(conn *c, char *buf, size_t len)
{
	for (;;) {
		if (c->ssl) {
			int r = SSL_read(c->ssl, buf, len > INT32_MAX ? INT32_MAX : (int)len);
			if (r > 0)
				return r;
			int e = SSL_get_error(c->ssl, r);
			int en = errno;
			ERR_clear_error();
			if (e == SSL_ERROR_ZERO_RETURN || (e == SSL_ERROR_SYSCALL && r == 0))
				return 0;
			if (e == SSL_ERROR_SYSCALL && (en == EAGAIN || en == EWOULDBLOCK))
				return -ETIMEDOUT;
			if (e == SSL_ERROR_SYSCALL && en == EINTR)
				continue;
			return -EIO;
		}
		ssize_t n = recv(c->fd, buf, len, 0);
		if (n >= 0)
			return n;
		if (errno == EINTR)
			continue;
		return errno == EAGAIN || errno == EWOULDBLOCK ? -ETIMEDOUT : -EIO;
	}
}

typedef struct rbuf {
	char *p;
	size_t len, cap, pos; /* pos: parsed up to */
} rbuf;

/* Read more into b. > 0 bytes, 0 EOF, < 0 error. */
static ssize_t fill(conn *c, rbuf *b)
{
	if (b->cap - b->len < 4096) {
		size_t cap = b->cap ? b->cap * 2 : 8192;
		if (cap > RESP_MAX + HEAD_MAX)
			return -EIO;
		char *np = realloc(b->p, cap);
		if (!np)
			return -ENOMEM;
		b->p = np;
		b->cap = cap;
	}
	ssize_t n = read_some(c, b->p + b->len, b->cap - b->len - 1);
	if (n > 0) {
		b->len += (size_t)n;
		b->p[b->len] = '\0';
	}
	return n;
}

/* Make sure a CRLF-terminated line starts at b->pos; returns its length (without CRLF) or
 * < 0 (0 bytes more means the stream ended). */
static ssize_t need_line(conn *c, rbuf *b)
{
	for (;;) {
		if (b->len > b->pos) {
			char *nl = memmem(b->p + b->pos, b->len - b->pos, "\r\n", 2);
			if (nl)
				return nl - (b->p + b->pos);
			if (b->len - b->pos > HEAD_MAX)
				return -EIO;
		}
		ssize_t n = fill(c, b);
		if (n <= 0)
			return n == 0 ? -EPIPE : n;
	}
}

static int need_bytes(conn *c, rbuf *b, size_t n)
{
	while (b->len - b->pos < n) {
		ssize_t r = fill(c, b);
		if (r <= 0)
			return r == 0 ? -EPIPE : (int)r;
	}
	return 0;
}

typedef struct answer {
	int status;
	bool keep_alive;
	char *body;
	size_t body_len;
} answer;

/* Read one complete answer (skipping 1xx). 0, or < 0 with *got set when any byte of the
 * answer had arrived. */
static int read_answer(conn *c, answer *a, bool *got)
{
	rbuf b = { 0 };
	int rc;
	*got = false;
	for (;;) {
		/* status line */
		ssize_t l = need_line(c, &b);
		if (b.len > 0)
			*got = true;
		if (l < 0) {
			rc = (int)l;
			goto out;
		}
		/* "HTTP/1.x NNN ..." (by hand: sscanf showed in the profile) */
		const char *sl = b.p + b.pos;
		if (l < 12 || strncmp(sl, "HTTP/1.", 7) != 0 || sl[7] < '0' || sl[7] > '9' ||
		    sl[8] != ' ' || sl[9] < '1' || sl[9] > '5' || sl[10] < '0' || sl[10] > '9' ||
		    sl[11] < '0' || sl[11] > '9' || (l > 12 && sl[12] != ' ')) {
			rc = -EIO;
			goto out;
		}
		int minor = sl[7] - '0';
		int status = (sl[9] - '0') * 100 + (sl[10] - '0') * 10 + (sl[11] - '0');
		b.pos += (size_t)l + 2;
		long long clen = -1;
		bool chunked = false, close_hdr = false;
		for (;;) {
			l = need_line(c, &b);
			if (l < 0) {
				rc = (int)l;
				goto out;
			}
			char *line = b.p + b.pos;
			b.pos += (size_t)l + 2;
			if (l == 0)
				break;
			line[l] = '\0';
			if (!strncasecmp(line, "Content-Length:", 15))
				clen = strtoll(line + 15, NULL, 10);
			else if (!strncasecmp(line, "Transfer-Encoding:", 18) &&
				 strcasestr(line + 18, "chunked"))
				chunked = true;
			else if (!strncasecmp(line, "Connection:", 11) && strcasestr(line + 11, "close"))
				close_hdr = true;
			line[l] = '\r';
		}
		if (status < 200)
			continue; /* interim answer: the real one follows */
		a->status = status;
		a->keep_alive = minor >= 1 && !close_hdr;
		size_t start = b.pos;
		if (chunked) {
			/* decode in place: the body is moved down over the chunk framing */
			size_t out = start;
			for (;;) {
				l = need_line(c, &b);
				if (l < 0) {
					rc = (int)l;
					goto out;
				}
				unsigned long long sz = strtoull(b.p + b.pos, NULL, 16);
				b.pos += (size_t)l + 2;
				if (sz > RESP_MAX || out - start + sz > RESP_MAX) {
					rc = -EIO;
					goto out;
				}
				if (sz == 0)
					break;
				if ((rc = need_bytes(c, &b, (size_t)sz + 2)) < 0)
					goto out;
				memmove(b.p + out, b.p + b.pos, (size_t)sz);
				out += (size_t)sz;
				b.pos += (size_t)sz + 2;
			}
			/* trailers up to the empty line */
			for (;;) {
				l = need_line(c, &b);
				if (l < 0) {
					rc = (int)l;
					goto out;
				}
				b.pos += (size_t)l + 2;
				if (l == 0)
					break;
			}
			a->body_len = out - start;
		} else if (clen >= 0) {
			if ((size_t)clen > RESP_MAX) {
				rc = -EIO;
				goto out;
			}
			if ((rc = need_bytes(c, &b, (size_t)clen)) < 0)
				goto out;
			a->body_len = (size_t)clen;
			b.pos += (size_t)clen;
		} else {
			/* delimited by the end of the connection */
			a->keep_alive = false;
			ssize_t n;
			while ((n = fill(c, &b)) > 0)
				;
			if (n < 0) {
				rc = (int)n;
				goto out;
			}
			a->body_len = b.len - start;
			b.pos = b.len;
		}
		/* anything after the answer: not ours, the connection is not reused */
		if (b.pos != b.len)
			a->keep_alive = false;
		a->body = malloc(a->body_len + 1);
		if (!a->body) {
			rc = -ENOMEM;
			goto out;
		}
		memcpy(a->body, b.p + start, a->body_len);
		a->body[a->body_len] = '\0';
		rc = 0;
		goto out;
	}
out:
	free(b.p);
	return rc;
}

int sched_poster_post(sched_poster *p, const char *path, const char *body, size_t len,
		      char **resp, size_t *resp_len, char *err, size_t errlen)
{
	*resp = NULL;
	*resp_len = 0;
	if (errlen)
		err[0] = '\0';
	if (!path || path[0] != '/')
		return -EINVAL;
	for (const char *s = path; *s; s++)
		if ((unsigned char)*s <= 0x20 || *s == 0x7f)
			return -EINVAL;
	char head[4096];
	int hl = snprintf(head, sizeof(head), "POST %s%s HTTP/1.1\r\n%sContent-Length: %zu\r\n\r\n",
			  p->prefix, path, p->hdrs, len);
	if (hl < 0 || (size_t)hl >= sizeof(head))
		return -EINVAL;
	char *req = malloc((size_t)hl + len);
	if (!req)
		return -ENOMEM;
	memcpy(req, head, (size_t)hl);
	memcpy(req + hl, body, len);
	int rc = -EPIPE;
	for (int attempt = 0; attempt < 2; attempt++) {
		conn c;
		/* a second attempt always gets a fresh connection */
		bool reused = attempt == 0 && pool_take(p, &c);
		if (!reused && conn_open(p, &c) != 0) {
			rc = -EPIPE;
			break;
		}
		if (write_all(&c, req, (size_t)hl + len) != 0) {
			conn_close(&c);
			rc = -EPIPE;
			if (reused)
				continue; /* the kept-alive connection was gone: a fresh one */
			break;
		}
		answer a = { 0 };
		bool got = false;
		int r = read_answer(&c, &a, &got);
		if (r == 0) {
			if (a.keep_alive)
				pool_put(p, &c);
			else
				conn_close(&c);
			*resp = a.body;
			*resp_len = a.body_len;
			rc = a.status;
			break;
		}
		conn_close(&c);
		if (r == -ENOMEM) {
			rc = r;
			break;
		}
		if (reused && !got && r != -ETIMEDOUT)
			continue; /* closed before answering (idle timeout): send it again */
		/* the request went out and no (whole) answer came: kc_client's wording */
		CURLcode cc = r == -ETIMEDOUT ? CURLE_OPERATION_TIMEDOUT
				: got         ? CURLE_RECV_ERROR
					      : CURLE_GOT_NOTHING;
		snprintf(err, errlen, "POST %s%s: %s", p->url_base, path, curl_easy_strerror(cc));
		rc = r == -ETIMEDOUT ? KC_ETIMEOUT : -ECONNRESET;
		break;
	}
	free(req);
	return rc;
}

/* sched_poster_post_json without the parse: a 2xx answer is handed back as its text in
 * *resp (new, *resp_len bytes; NULL when empty), other outcomes as there. */
static int post_json_raw(sched_poster *p, const char *path, const cJSON *obj, char **resp,
			 size_t *resp_len, char *err, size_t errlen)
{
	*resp = NULL;
	*resp_len = 0;
	char *payload = kc_json_print(obj);
	if (!payload)
		return -ENOMEM;
	char *body = NULL;
	size_t rlen = 0;
	char terr[1024];
	int http = sched_poster_post(p, path, payload, strlen(payload), &body, &rlen, terr,
				     sizeof(terr));
	free(payload);
	if (http == -EPIPE || http == -EINVAL)
		return 1; /* nothing was sent */
	if (http < 0) {
		snprintf(err, errlen, "%s", *terr ? terr : kc_strerror(http));
		return http;
	}
	if (http >= 200 && http < 300) {
		*resp = body;
		*resp_len = body ? rlen : 0;
		return 0;
	}
	/* as kc_client's failure path: the Status in the body, else the body text */
	cJSON *ans = NULL;
	if (rlen)
		kc_json_parse(body, rlen, rlen, &ans, NULL, 0);
	kc_status st;
	kc_status_clear(&st);
	kc_status_from_json(&st, ans, http);
	if (!st.message[0] && rlen && !ans)
		snprintf(st.message, sizeof(st.message), "%.*s", (int)rlen, body);
	int rc = kc_status_to_err(http, st.reason[0] ? st.reason : NULL);
	snprintf(err, errlen, "%s", *st.message ? st.message : kc_strerror(rc));
	cJSON_Delete(ans);
	free(body);
	return rc;
}

int sched_poster_post_json(sched_poster *p, const char *path, const cJSON *obj, cJSON **out,
			   char *err, size_t errlen)
{
	if (out)
		*out = NULL;
	char *resp = NULL;
	size_t rlen = 0;
	int rc = post_json_raw(p, path, obj, &resp, &rlen, err, errlen);
	/* a 2xx answer nobody reads (a binding's Status) is not parsed */
	if (rc == 0 && out && rlen)
		kc_json_parse(resp, rlen, rlen, out, NULL, 0);
	free(resp);
	return rc;
}
