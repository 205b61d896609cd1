/* The joiner's side of the member-list fetch (see peer_members.h): one blocking exchange
 * bounded by a deadline, plain TCP or mutual TLS. The answering side lives in peer.c's
 * accept loop. */
#include "peer_members.h"

#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "errors.h"
#include "peer.h"

static int64_t mono_ns(void)
{
	/* Real time on purpose: this waits on the network, whatever clock the engine uses. */
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Wait until fd is ready for ev or the deadline passes: 0 or -ETIMEDOUT / -errno. */
static int wait_fd(int fd, short ev, int64_t deadline)
{
	for (;;) {
		int64_t left = deadline - mono_ns();
		if (left <= 0)
			return -ETIMEDOUT;
		struct pollfd p = { fd, ev, 0 };
		int n = poll(&p, 1, (int)((left + 999999) / 1000000));
		if (n > 0)
			return 0;
		if (n < 0 && errno != EINTR)
			return -errno;
	}
}

static int connect_to(const char *host, uint16_t port, int64_t deadline, int *fdout)
{
	char portstr[8];
	snprintf(portstr, sizeof portstr, "%u", port);
	struct addrinfo hints = { 0 }, *res = NULL;
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	if (getaddrinfo(host, portstr, &hints, &res) != 0 || !res)
		return -ENOENT;
	int fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int rc = 0;
	if (fd < 0) {
		rc = -errno;
	} else if (connect(fd, res->ai_addr, res->ai_addrlen) < 0) {
		if (errno != EINPROGRESS) {
			rc = -errno;
		} else if ((rc = wait_fd(fd, POLLOUT, deadline)) == 0) {
			int e = 0;
			socklen_t el = sizeof e;
			if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &el) < 0)
				e = errno;
			rc = -e;
		}
	}
	freeaddrinfo(res);
	if (rc < 0) {
		if (fd >= 0)
			close(fd);
		return rc;
	}
	*fdout = fd;
	return 0;
}

/* Write all of buf: 0 or a negative code. */
static int write_all(struct peer_io *io, const uint8_t *buf, size_t n, int64_t deadline)
{
	while (n > 0) {
		ssize_t w = peer_io_write(io, buf, n);
		if (w == -EAGAIN) {
			int rc = wait_fd(io->fd, io->want, deadline);
			if (rc)
				return rc;
			continue;
		}
		if (w < 0)
			return (int)w;
		buf += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Read exactly n bytes: 0, KC_ECLOSED at EOF, or a negative code. */
static int read_all(struct peer_io *io, uint8_t *buf, size_t n, int64_t deadline)
{
	while (n > 0) {
		ssize_t r = peer_io_read(io, buf, n);
		if (r == -EAGAIN) {
			int rc = wait_fd(io->fd, io->want, deadline);
			if (rc)
				return rc;
			continue;
		}
		if (r == 0)
			return KC_ECLOSED;
		if (r < 0)
			return (int)r;
		buf += r;
		n -= (size_t)r;
	}
	return 0;
}

static uint64_t be64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

static const char *why(int rc)
{
	switch (rc) {
	case -ETIMEDOUT:
		return "timed out";
	case KC_ECLOSED:
		return "connection closed without an answer (not a kube-store peer port, a member "
		       "that is not serving its member list yet, or a refused certificate)";
	case -EPROTO:
		return "TLS error (the member refused our certificate?)";
	default:
		return kc_strerror(rc);
	}
}

static int exchange(struct peer_io *io, const char *host, const struct peer_tls_config *tls,
		    int64_t deadline, uint64_t *cluster_id, struct cluster_members *out, char *err,
		    size_t errlen)
{
	int rc;
	if (tls && tls->cert_file) {
		SSL_CTX *ctx = NULL;
		if ((rc = peer_tls_ctx_new(tls, false, &ctx))) {
			snprintf(err, errlen, "cannot load the peer TLS files: %s", kc_strerror(rc));
			return rc;
		}
		rc = peer_io_tls_start(io, ctx, false, host);
		SSL_CTX_free(ctx); /* the session holds its own reference */
		if (rc) {
			snprintf(err, errlen, "TLS: %s", kc_strerror(rc));
			return rc;
		}
		while ((rc = peer_io_handshake(io)) == -EAGAIN)
			if ((rc = wait_fd(io->fd, io->want, deadline)))
				break;
		if (rc) {
			snprintf(err, errlen, "%s", rc == KC_EUNAUTH ? io->err : why(rc));
			return rc;
		}
	}
	uint8_t req[4 + PEER_HANDSHAKE_LEN] = { 0 };
	req[3] = PEER_HANDSHAKE_LEN;
	memcpy(req + 4, PEER_MEMBERS_MAGIC, 8);
	uint8_t hdr[4];
	if ((rc = write_all(io, req, sizeof req, deadline)) ||
	    (rc = read_all(io, hdr, sizeof hdr, deadline))) {
		snprintf(err, errlen, "%s", why(rc));
		return rc;
	}
	uint32_t len = (uint32_t)hdr[0] << 24 | (uint32_t)hdr[1] << 16 | (uint32_t)hdr[2] << 8 |
		       hdr[3];
	if (len < 16 || len > PEER_MEMBERS_MAX_REPLY) {
		snprintf(err, errlen, "malformed member list reply (length %u)", len);
		return -EINVAL;
	}
	uint8_t *b = malloc(len);
	if (!b)
		return -ENOMEM;
	if ((rc = read_all(io, b, len, deadline))) {
		snprintf(err, errlen, "%s", why(rc));
		free(b);
		return rc;
	}
	uint64_t cid = be64(b + 8);
	if (memcmp(b, PEER_MEMBERS_MAGIC, 8) != 0 || cid == 0) {
		snprintf(err, errlen, "malformed member list reply");
		free(b);
		return -EINVAL;
	}
	rc = cluster_decode(b + 16, len - 16, out);
	free(b);
	if (rc) {
		snprintf(err, errlen, "malformed member list: %s", kc_strerror(rc));
		return rc;
	}
	*cluster_id = cid;
	return 0;
}

int peer_members_fetch(const char *url, const struct peer_tls_config *tls, int64_t timeout_ns,
		       uint64_t *cluster_id, struct cluster_members *out, char *err,
		       size_t errlen)
{
	if (!url || !cluster_id || !out || !err || !errlen || timeout_ns <= 0)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	err[0] = 0;
	char host[256];
	uint16_t port;
	bool https = false;
	int rc = peer_parse_url(url, host, sizeof host, &port, &https);
	if (rc) {
		snprintf(err, errlen, "invalid peer URL %s", url);
		return rc;
	}
	bool use_tls = tls && tls->cert_file;
	if (https != use_tls) {
		/* as peer_add: https exactly when the peer transport uses TLS */
		snprintf(err, errlen, "%s peer URL %s without %s", https ? "https" : "http", url,
			 https ? "--peer-cert-file" : "TLS (--peer-cert-file is set)");
		return -EINVAL;
	}
	int64_t deadline = mono_ns() + timeout_ns;
	struct peer_io io = { .fd = -1, .established = true };
	if ((rc = connect_to(host, port, deadline, &io.fd))) {
		snprintf(err, errlen, "%s", why(rc));
		return rc;
	}
	/* OpenSSL writes with write(2): a member that hangs up must give EPIPE here, not kill
	 * the process. Block SIGPIPE for the exchange and drop one it raised. */
	sigset_t pipe_set, old;
	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
	sigset_t before;
	sigpending(&before);
	rc = exchange(&io, host, use_tls ? tls : NULL, deadline, cluster_id, out, err, errlen);
	peer_io_close(&io);
	sigset_t after;
	sigpending(&after);
	if (sigismember(&after, SIGPIPE) && !sigismember(&before, SIGPIPE)) {
		struct timespec zero = { 0, 0 };
		sigtimedwait(&pipe_set, NULL, &zero);
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc)
		cluster_members_free(out);
	return rc;
}
