/* Test HTTP server on libmicrohttpd (see testsrv.h). */
#include <arpa/inet.h>
#include <dlfcn.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <microhttpd.h>

#include "testsrv.h"

struct testsrv_stream {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int refs;
	char *buf;
	size_t len, cap;
	int closed;  /* 1 = end normally, 2 = abort */
};

#define MAX_STREAMS 256

struct testsrv {
	struct MHD_Daemon *d;
	testsrv_handler h;
	void *arg;
	unsigned short port;
	char url[64];
	int tls;
	pthread_mutex_t mu;
	testsrv_stream *streams[MAX_STREAMS];
	int nstreams;
	int connections;
};

struct conn_state {
	char *body;
	size_t len, cap;
};

testsrv_stream *testsrv_stream_new(void)
{
	testsrv_stream *st = calloc(1, sizeof(*st));
	if (!st)
		abort();
	pthread_mutex_init(&st->mu, NULL);
	pthread_cond_init(&st->cv, NULL);
	st->refs = 1;
	return st;
}

testsrv_stream *testsrv_stream_ref(testsrv_stream *st)
{
	pthread_mutex_lock(&st->mu);
	st->refs++;
	pthread_mutex_unlock(&st->mu);
	return st;
}

void testsrv_stream_unref(testsrv_stream *st)
{
	if (!st)
		return;
	pthread_mutex_lock(&st->mu);
	int left = --st->refs;
	pthread_mutex_unlock(&st->mu);
	if (left)
		return;
	pthread_mutex_destroy(&st->mu);
	pthread_cond_destroy(&st->cv);
	free(st->buf);
	free(st);
}

void testsrv_stream_write(testsrv_stream *st, const char *data, size_t len)
{
	pthread_mutex_lock(&st->mu);
	if (!st->closed) {
		if (st->len + len > st->cap) {
			st->cap = (st->len + len) * 2 + 64;
			st->buf = realloc(st->buf, st->cap);
			if (!st->buf)
				abort();
		}
		memcpy(st->buf + st->len, data, len);
		st->len += len;
		pthread_cond_broadcast(&st->cv);
	}
	pthread_mutex_unlock(&st->mu);
}

void testsrv_stream_puts(testsrv_stream *st, const char *s)
{
	testsrv_stream_write(st, s, strlen(s));
}

static void stream_end(testsrv_stream *st, int how)
{
	pthread_mutex_lock(&st->mu);
	if (!st->closed)
		st->closed = how;
	pthread_cond_broadcast(&st->cv);
	pthread_mutex_unlock(&st->mu);
}

void testsrv_stream_close(testsrv_stream *st)
{
	stream_end(st, 1);
}

void testsrv_stream_abort(testsrv_stream *st)
{
	stream_end(st, 2);
}

/* MHD content reader: blocks (thread per connection) until data or the end. */
static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	testsrv_stream *st = cls;
	pthread_mutex_lock(&st->mu);
	while (st->len == 0 && !st->closed)
		pthread_cond_wait(&st->cv, &st->mu);
	ssize_t r;
	if (st->closed == 2) {
		r = MHD_CONTENT_READER_END_WITH_ERROR;
	} else if (st->len > 0) {
		size_t n = st->len < max ? st->len : max;
		memcpy(buf, st->buf, n);
		memmove(st->buf, st->buf + n, st->len - n);
		st->len -= n;
		r = (ssize_t)n;
	} else {
		r = MHD_CONTENT_READER_END_OF_STREAM;
	}
	pthread_mutex_unlock(&st->mu);
	return r;
}

static void stream_free(void *cls)
{
	testsrv_stream_unref(cls);
}

const char *testsrv_arg(const testsrv_req *r, const char *key)
{
	return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, key);
}

const char *testsrv_header(const testsrv_req *r, const char *key)
{
	return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, key);
}

/* Whether the TLS peer sent a certificate. libgnutls is already loaded by libmicrohttpd;
 * look the symbol up at run time so the unit runners need not link it. */
static int client_cert_present(struct MHD_Connection *conn)
{
	typedef const void *(*get_peers_fn)(void *session, unsigned int *n);
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);
	get_peers_fn fn = (get_peers_fn)dlsym(RTLD_DEFAULT, "gnutls_certificate_get_peers");
	if (!ci || !ci->tls_session || !fn)
		return 0;
	unsigned int n = 0;
	return fn(ci->tls_session, &n) != NULL && n > 0;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version,
				  const char *upload_data, size_t *upload_size, void **con_cls)
{
	testsrv *s = cls;
	struct conn_state *cs = *con_cls;
	if (!cs) {
		cs = calloc(1, sizeof(*cs));
		if (!cs)
			return MHD_NO;
		*con_cls = cs;
		return MHD_YES;
	}
	if (*upload_size) {
		if (cs->len + *upload_size + 1 > cs->cap) {
			cs->cap = (cs->len + *upload_size + 1) * 2;
			char *nb = realloc(cs->body, cs->cap);
			if (!nb)
				return MHD_NO;
			cs->body = nb;
		}
		memcpy(cs->body + cs->len, upload_data, *upload_size);
		cs->len += *upload_size;
		cs->body[cs->len] = '\0';
		*upload_size = 0;
		return MHD_YES;
	}
	testsrv_req req = { method, url, cs->body ? cs->body : "", cs->len, 0, conn };
	if (s->tls)
		req.has_client_cert = client_cert_present(conn);
	testsrv_resp resp = { .status = 200, .retry_after = -1 };
	s->h(&req, &resp, s->arg);
	struct MHD_Response *r;
	if (resp.stream) {
		pthread_mutex_lock(&s->mu);
		if (s->nstreams < MAX_STREAMS)
			s->streams[s->nstreams++] = testsrv_stream_ref(resp.stream);
		pthread_mutex_unlock(&s->mu);
		r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, stream_read,
						      resp.stream, stream_free);
		free(resp.body);
	} else {
		const char *b = resp.body ? resp.body : "";
		r = MHD_create_response_from_buffer(strlen(b), (void *)b, MHD_RESPMEM_MUST_COPY);
		free(resp.body);
	}
	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, "Content-Type",
				resp.content_type ? resp.content_type : "application/json");
	if (resp.retry_after >= 0) {
		char ra[16];
		snprintf(ra, sizeof(ra), "%d", resp.retry_after);
		MHD_add_response_header(r, "Retry-After", ra);
	}
	enum MHD_Result ret = MHD_queue_response(conn, (unsigned)resp.status, r);
	MHD_destroy_response(r);
	return ret;
}

static void on_done(void *cls, struct MHD_Connection *conn, void **con_cls,
		    enum MHD_RequestTerminationCode toe)
{
	struct conn_state *cs = *con_cls;
	if (cs) {
		free(cs->body);
		free(cs);
		*con_cls = NULL;
	}
}

static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
			  enum MHD_ConnectionNotificationCode toe)
{
	testsrv *s = cls;
	if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
		pthread_mutex_lock(&s->mu);
		s->connections++;
		pthread_mutex_unlock(&s->mu);
	}
}

int testsrv_connections(testsrv *s)
{
	pthread_mutex_lock(&s->mu);
	int n = s->connections;
	pthread_mutex_unlock(&s->mu);
	return n;
}

static int start(testsrv **out, testsrv_handler h, void *arg, const char *cert,
		 const char *key, const char *ca)
{
	testsrv *s = calloc(1, sizeof(*s));
	if (!s)
		return -1;
	s->h = h;
	s->arg = arg;
	s->tls = cert != NULL;
	pthread_mutex_init(&s->mu, NULL);
	struct sockaddr_in sa;
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sa.sin_port = 0;
	unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD;
	if (cert)
		flags |= MHD_USE_TLS;
	struct MHD_OptionItem tlsopts[] = {
		{ MHD_OPTION_HTTPS_MEM_CERT, 0, (void *)cert },
		{ MHD_OPTION_HTTPS_MEM_KEY, 0, (void *)key },
		{ ca ? MHD_OPTION_HTTPS_MEM_TRUST : MHD_OPTION_END, 0, (void *)ca },
		{ MHD_OPTION_END, 0, NULL },
	};
	s->d = MHD_start_daemon(flags, 0, NULL, NULL, on_request, s, MHD_OPTION_SOCK_ADDR, &sa,
				MHD_OPTION_NOTIFY_COMPLETED, on_done, s,
				MHD_OPTION_NOTIFY_CONNECTION, on_connection, s,
				MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)120,
				cert ? MHD_OPTION_ARRAY : MHD_OPTION_END, tlsopts, MHD_OPTION_END);
	if (!s->d) {
		pthread_mutex_destroy(&s->mu);
		free(s);
		return -1;
	}
	const union MHD_DaemonInfo *di = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
	s->port = di ? di->port : 0;
	snprintf(s->url, sizeof(s->url), "%s://127.0.0.1:%u", cert ? "https" : "http", s->port);
	*out = s;
	return 0;
}

int testsrv_start(testsrv **out, testsrv_handler h, void *arg)
{
	return start(out, h, arg, NULL, NULL, NULL);
}

int testsrv_start_tls(testsrv **out, testsrv_handler h, void *arg, const char *cert_pem,
		      const char *key_pem, const char *client_ca_pem)
{
	if (!cert_pem || !key_pem)
		return -1;
	return start(out, h, arg, cert_pem, key_pem, client_ca_pem);
}

void testsrv_stop(testsrv *s)
{
	if (!s)
		return;
	pthread_mutex_lock(&s->mu);
	for (int i = 0; i < s->nstreams; i++)
		testsrv_stream_close(s->streams[i]);
	pthread_mutex_unlock(&s->mu);
	MHD_stop_daemon(s->d);
	for (int i = 0; i < s->nstreams; i++)
		testsrv_stream_unref(s->streams[i]);
	pthread_mutex_destroy(&s->mu);
	free(s);
}

unsigned short testsrv_port(const testsrv *s)
{
	return s->port;
}

const char *testsrv_url(const testsrv *s)
{
	return s->url;
}
