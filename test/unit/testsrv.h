/* A tiny HTTP(S) server for unit tests (libmicrohttpd, thread per connection), listening
 * on 127.0.0.1 at a port the kernel picks. The test supplies one handler that fills a
 * response; a response may be a stream (chunked body the test writes to while the
 * client reads: watch streams). */
#ifndef TESTSRV_H
#define TESTSRV_H

#include <stddef.h>

typedef struct testsrv testsrv;
typedef struct testsrv_stream testsrv_stream;

typedef struct testsrv_req {
	const char *method;
	const char *path;     /* without the query */
	const char *body;     /* NUL-terminated; "" when none */
	size_t body_len;
	int has_client_cert;  /* TLS only: the client presented a certificate */
	void *conn;           /* for testsrv_arg / testsrv_header */
} testsrv_req;

typedef struct testsrv_resp {
	int status;             /* default 200 */
	char *body;             /* malloc'd, taken; NULL for empty */
	const char *content_type; /* default application/json */
	int retry_after;        /* >= 0 adds a Retry-After header; default -1 */
	testsrv_stream *stream; /* set: chunked body from this stream (reference taken) */
} testsrv_resp;

/* Called on a server thread for every request; may block. */
typedef void (*testsrv_handler)(const testsrv_req *req, testsrv_resp *resp, void *arg);

/* Plain HTTP. Returns 0 or -1. */
int testsrv_start(testsrv **out, testsrv_handler h, void *arg);
/* HTTPS with the given PEM cert/key (borrowed for the call); client_ca_pem non-NULL asks
 * clients for a certificate (reported in has_client_cert, not enforced). */
int testsrv_start_tls(testsrv **out, testsrv_handler h, void *arg, const char *cert_pem,
		      const char *key_pem, const char *client_ca_pem);
/* Ends every open stream, then stops the server and frees it. */
void testsrv_stop(testsrv *s);
unsigned short testsrv_port(const testsrv *s);
/* "http://127.0.0.1:<port>" (or https); borrowed. */
const char *testsrv_url(const testsrv *s);

/* TCP connections accepted so far. */
int testsrv_connections(testsrv *s);

/* Query argument (decoded) / request header, borrowed for the handler call; NULL if absent. */
const char *testsrv_arg(const testsrv_req *r, const char *key);
const char *testsrv_header(const testsrv_req *r, const char *key);

/* A stream starts with one reference (the caller's); putting it in a response takes
 * another, so call testsrv_stream_ref first if the test keeps writing to it. */
testsrv_stream *testsrv_stream_new(void);
testsrv_stream *testsrv_stream_ref(testsrv_stream *st);
void testsrv_stream_unref(testsrv_stream *st);
/* Queue bytes (copied); no-op after close. */
void testsrv_stream_write(testsrv_stream *st, const char *data, size_t len);
void testsrv_stream_puts(testsrv_stream *st, const char *s);
/* End the body (the client sees a normal end of stream once the queue drains). */
void testsrv_stream_close(testsrv_stream *st);
/* Cut the connection without the final chunk (the client sees a transport error). */
void testsrv_stream_abort(testsrv_stream *st);

#endif
