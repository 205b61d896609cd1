/* Peer TLS contexts and the non-blocking byte I/O of peer connections. See peer_tls.h. */
#include "peer_tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "errors.h"
#include "log.h"

static void log_ssl(const char *what, const char *file)
{
	unsigned long e = ERR_get_error();
	char buf[256] = "unknown error";
	if (e)
		ERR_error_string_n(e, buf, sizeof buf);
	ERR_clear_error();
	kc_error("peer TLS: %s %s: %s", what, file ? file : "", buf);
}

int peer_tls_ctx_new(const struct peer_tls_config *c, bool server, SSL_CTX **out)
{
	if (!c || !out || !c->cert_file || !c->key_file)
		return -EINVAL;
	SSL_CTX *ctx = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
	if (!ctx)
		return -ENOMEM;
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	/* Partial writes: the sender resumes a frame where the socket stopped taking it. */
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
			      SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	int rc = KC_EINVALID;
	if (SSL_CTX_use_certificate_chain_file(ctx, c->cert_file) != 1) {
		log_ssl("cannot load certificate", c->cert_file);
		goto fail;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, c->key_file, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1) {
		log_ssl("cannot load key", c->key_file);
		goto fail;
	}
	if (c->trusted_ca_file) {
		if (SSL_CTX_load_verify_locations(ctx, c->trusted_ca_file, NULL) != 1) {
			log_ssl("cannot load trusted CA", c->trusted_ca_file);
			goto fail;
		}
	} else if (SSL_CTX_set_default_verify_paths(ctx) != 1) {
		log_ssl("cannot load default trust roots", NULL);
		goto fail;
	}
	if (server) {
		/* Streams are one-directional and the accepting side never writes: session
		 * tickets would be the only bytes it sends, so none are issued. */
		SSL_CTX_set_num_tickets(ctx, 0);
		if (c->client_cert_auth)
			SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT,
					   NULL);
		else
			SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	} else {
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	}
	*out = ctx;
	return 0;
fail:
	SSL_CTX_free(ctx);
	return rc;
}

int peer_io_tls_start(struct peer_io *io, SSL_CTX *ctx, bool server, const char *host)
{
	if (!io || !ctx || io->fd < 0)
		return -EINVAL;
	SSL *ssl = SSL_new(ctx);
	if (!ssl)
		return -ENOMEM;
	if (SSL_set_fd(ssl, io->fd) != 1) {
		SSL_free(ssl);
		return -EINVAL;
	}
	if (server) {
		SSL_set_accept_state(ssl);
	} else {
		SSL_set_connect_state(ssl);
		if (host && *host) {
			unsigned char tmp[16];
			bool ip = inet_pton(AF_INET, host, tmp) == 1 ||
				  inet_pton(AF_INET6, host, tmp) == 1;
			X509_VERIFY_PARAM *vp = SSL_get0_param(ssl);
			int ok = ip ? X509_VERIFY_PARAM_set1_ip_asc(vp, host)
				    : (SSL_set_tlsext_host_name(ssl, host),
				       X509_VERIFY_PARAM_set1_host(vp, host, 0));
			if (ok != 1) {
				SSL_free(ssl);
				return -EINVAL;
			}
		}
	}
	io->ssl = ssl;
	io->established = false;
	return 0;
}

/* Maps an SSL_* result to -EAGAIN (+ want), 0 for EOF, or an error. */
static int ssl_result(struct peer_io *io, int r)
{
	int e = SSL_get_error(io->ssl, r);
	switch (e) {
	case SSL_ERROR_WANT_READ:
		io->want = POLLIN;
		return -EAGAIN;
	case SSL_ERROR_WANT_WRITE:
		io->want = POLLOUT;
		return -EAGAIN;
	case SSL_ERROR_ZERO_RETURN:
		return 0;
	case SSL_ERROR_SYSCALL:
		ERR_clear_error();
		return errno ? -errno : -ECONNRESET;
	default:
		ERR_clear_error();
		return -EPROTO;
	}
}

int peer_io_handshake(struct peer_io *io)
{
	if (!io->ssl || io->established)
		return 0;
	ERR_clear_error();
	int r = SSL_do_handshake(io->ssl);
	if (r == 1) {
		io->established = true;
		io->want = 0;
		return 0;
	}
	int e = SSL_get_error(io->ssl, r);
	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
		return ssl_result(io, r);
	unsigned long ee = ERR_peek_error();
	char buf[256] = "connection closed during handshake";
	if (ee)
		ERR_error_string_n(ee, buf, sizeof buf);
	long vr = SSL_get_verify_result(io->ssl);
	snprintf(io->err, sizeof io->err, "TLS handshake failed: %s%s%s", buf,
		 vr != X509_V_OK ? ": " : "", vr != X509_V_OK ? X509_verify_cert_error_string(vr) : "");
	ERR_clear_error();
	return KC_EUNAUTH;
}

/* recv/send result on a plain socket: a would-block becomes -EAGAIN waiting for `want`. */
static ssize_t plain_result(struct peer_io *io, ssize_t r, short want)
{
	if (r >= 0)
		return r;
	if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
		io->want = want;
		return -EAGAIN;
	}
	return -errno;
}

ssize_t peer_io_read(struct peer_io *io, void *buf, size_t n)
{
	if (!io->ssl)
		return plain_result(io, recv(io->fd, buf, n, MSG_DONTWAIT), POLLIN);
	ERR_clear_error();
	int r = SSL_read(io->ssl, buf, n > INT32_MAX ? INT32_MAX : (int)n);
	return r > 0 ? r : ssl_result(io, r);
}

ssize_t peer_io_write(struct peer_io *io, const void *buf, size_t n)
{
	if (!io->ssl)
		return plain_result(io, send(io->fd, buf, n, MSG_NOSIGNAL | MSG_DONTWAIT), POLLOUT);
	ERR_clear_error();
	int r = SSL_write(io->ssl, buf, n > INT32_MAX ? INT32_MAX : (int)n);
	if (r > 0)
		return r;
	int rc = ssl_result(io, r);
	return rc == 0 ? -EPIPE : rc;
}

bool peer_io_pending(const struct peer_io *io)
{
	return io->ssl && SSL_pending(io->ssl) > 0;
}

void peer_io_close(struct peer_io *io)
{
	if (io->ssl) {
		SSL_free(io->ssl);
		io->ssl = NULL;
	}
	if (io->fd >= 0)
		close(io->fd);
	io->fd = -1;
	io->established = false;
	io->want = 0;
}
