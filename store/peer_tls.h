/* Mutual TLS for the Raft peer transport (store/peer.c), with etcd's peer flag semantics:
 *
 *   --peer-cert-file / --peer-key-file  this member's certificate, presented both when it
 *                                       accepts a stream and when it dials one
 *   --peer-trusted-ca-file              CA bundle that verifies other members' certificates
 *                                       (without it, the system's default roots)
 *   --peer-client-cert-auth             the accepting side demands a client certificate
 *                                       signed by the trusted CA
 *
 * The dialling side always verifies the accepting member's certificate, including that its
 * SANs cover the host of the peer URL (an IP SAN for an IP literal), as Go's TLS client does
 * for etcd. TLS 1.2 is the minimum (etcd's default).
 *
 * Also the byte I/O shared by plain and TLS connections, for non-blocking sockets. */
#ifndef KUBEC_STORE_PEER_TLS_H
#define KUBEC_STORE_PEER_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include <openssl/ssl.h>

struct peer_tls_config {
	const char *cert_file;       /* borrowed; NULL = TLS off */
	const char *key_file;        /* borrowed */
	const char *trusted_ca_file; /* borrowed; NULL = default roots */
	bool client_cert_auth;
};

/* Server and client contexts built from c (files read now). 0, -EINVAL for missing
 * cert/key, KC_EINVALID if a file cannot be loaded (logged with OpenSSL's reason), -ENOMEM. */
int peer_tls_ctx_new(const struct peer_tls_config *c, bool server, SSL_CTX **out);

/* One connection's transport: ssl NULL means plain TCP. */
struct peer_io {
	int fd;
	SSL *ssl;
	bool established; /* TLS handshake complete (always true for plain TCP) */
	short want;       /* poll events the last -EAGAIN waits for */
	char err[200];    /* why the TLS handshake failed, for the caller's log line */
};

/* Starts a TLS session on io->fd (ctx borrowed). For the dialling side, host (borrowed)
 * is the name or IP literal the certificate must cover. 0 or -ENOMEM / -EINVAL. */
int peer_io_tls_start(struct peer_io *io, SSL_CTX *ctx, bool server, const char *host);

/* Advances the TLS handshake: 0 when established, -EAGAIN (io->want set), or KC_EUNAUTH
 * when the peer's certificate or the handshake is refused (reason in io->err). */
int peer_io_handshake(struct peer_io *io);

/* >0 bytes, 0 at orderly EOF, -EAGAIN (io->want set), or a negative error. */
ssize_t peer_io_read(struct peer_io *io, void *buf, size_t n);
ssize_t peer_io_write(struct peer_io *io, const void *buf, size_t n);

/* Bytes already decrypted and buffered (poll cannot see them). */
bool peer_io_pending(const struct peer_io *io);

/* Frees the session and closes fd (if >= 0); io is left closed (fd -1). */
void peer_io_close(struct peer_io *io);

#endif
