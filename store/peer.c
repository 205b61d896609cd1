/* Raft peer transport: persistent TCP connections carrying length-prefixed raft_codec
 * frames. See peer.h for the wire format and the threading contract.
 *
 * One thread runs a poll() loop over: an eventfd that peer_send/peer_add/peer_remove/
 * peer_wake write to, the listening sockets, one outbound socket per remote and the
 * accepted inbound sockets. Outbound state (queues, sockets, counters) lives under `mu`
 * because callers touch the queues; inbound connections belong to the thread alone, and
 * the recv callback runs with `mu` released so it may call peer_send. */
#include "peer.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "errors.h"
#include "log.h"
#include "peer_members.h"
#include "peer_tls.h"
#include "raft_codec.h"

#define PEER_READ_CHUNK 65536
#define PEER_POLL_MAX_MS 1000
#define PEER_FLUSH_BUDGET (1u << 20)

enum remote_state { R_IDLE, R_CONNECTING, R_TLS, R_UP };

struct peer_frame {
	uint8_t *buf; /* 4-byte length prefix + payload */
	size_t len;
};

struct peer_remote {
	uint64_t id;
	char *url;
	char host[256]; /* what the accepting member's certificate must cover */
	struct sockaddr_storage addr;
	socklen_t addrlen;
	/* ring of queued frames */
	struct peer_frame *q;
	size_t q_head, q_n;
	/* connection */
	struct peer_io io;
	enum remote_state state;
	uint8_t hs[4 + PEER_HANDSHAKE_LEN];
	size_t hs_off; /* == sizeof hs once written */
	struct peer_frame cur;
	size_t cur_off;
	int64_t next_dial;
	int64_t up_since; /* when the current connection was established */
	bool removed;
	struct peer_remote_stats st;
	struct peer_remote *next;
};

struct peer_conn {
	struct peer_io io;
	bool hs_done;
	bool superseded; /* a newer stream from the same member replaced this one */
	uint64_t from;
	char addr[64]; /* remote address, for log lines */
	int64_t accepted_at;
	uint8_t *rbuf;
	size_t rcap, rpos, rlen; /* valid bytes are rbuf[rpos, rlen) */
	uint8_t *wbuf;           /* a member-list answer being written (then closed) */
	size_t wlen, woff;
	struct peer_conn *next;
};

struct peer_transport {
	uint64_t id;
	_Atomic uint64_t cluster_id; /* 0: adopt the first one a known member presents */
	size_t queue_cap;
	uint32_t max_frame;
	int64_t backoff_min, backoff_max;
	kc_clock_t *clock;
	peer_recv_fn recv;
	void *recv_arg;
	peer_members_fn members_fn; /* under mu */
	void *members_arg;
	SSL_CTX *srv_ctx, *cli_ctx; /* both NULL: plain TCP */

	int lfd[PEER_MAX_LISTEN];
	int lport[PEER_MAX_LISTEN];
	size_t n_listen;
	int wakefd;

	pthread_mutex_t mu;
	bool stop;
	struct peer_remote *remotes; /* under mu; freed only by the thread or at free */
	struct peer_transport_stats st;  /* under mu */

	struct peer_conn *conns; /* transport thread only */
	size_t n_conns;
	pthread_t thread;
	bool thread_started;

	struct pollfd *pfd;
	void **pown;
	size_t pcap;
};

static void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static uint32_t get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put_be64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (56 - 8 * i));
}

static uint64_t get_be64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

int peer_parse_url(const char *url, char *host, size_t hostcap, uint16_t *port, bool *https)
{
	if (!url || !host || !hostcap || !port)
		return -EINVAL;
	const char *sep = strstr(url, "://");
	if (!sep)
		return -EINVAL;
	/* etcd also accepts unix peers; only TCP (http, or https with TLS) is implemented. */
	bool tls = (size_t)(sep - url) == 5 && strncasecmp(url, "https", 5) == 0;
	if (!tls && ((size_t)(sep - url) != 4 || strncasecmp(url, "http", 4) != 0))
		return -EPROTONOSUPPORT;
	if (https)
		*https = tls;
	const char *h = sep + 3, *hend, *p;
	if (*h == '[') {
		hend = strchr(h, ']');
		if (!hend || hend[1] != ':')
			return -EINVAL;
		p = hend + 2;
		h++;
	} else {
		hend = strrchr(h, ':');
		if (!hend)
			return -EINVAL;
		p = hend + 1;
	}
	size_t hl = (size_t)(hend - h);
	if (hl == 0 || hl >= hostcap || memchr(h, '/', hl))
		return -EINVAL;
	unsigned long v = 0;
	const char *q = p;
	while (*q >= '0' && *q <= '9' && q - p < 6)
		v = v * 10 + (unsigned long)(*q++ - '0');
	if (q == p || v > 65535 || (*q && strcmp(q, "/") != 0))
		return -EINVAL;
	memcpy(host, h, hl);
	host[hl] = '\0';
	*port = (uint16_t)v;
	return 0;
}

/* Resolves url; its scheme must be https exactly when the transport uses TLS (etcd
 * refuses an https peer URL without a certificate, and a plain URL would hide that the
 * stream is encrypted). host (>= 256 bytes) receives the URL's host if non-NULL. */
static int resolve(const char *url, bool passive, bool tls, struct sockaddr_storage *ss,
		   socklen_t *sl, char *hostout)
{
	char host[256], portstr[8];
	uint16_t port;
	bool https;
	int rc = peer_parse_url(url, host, sizeof host, &port, &https);
	if (rc < 0)
		return rc;
	if (https != tls)
		return -EINVAL;
	if (hostout)
		memcpy(hostout, host, strlen(host) + 1);
	snprintf(portstr, sizeof portstr, "%u", port);
	struct addrinfo hints = { 0 }, *res = NULL;
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV | (passive ? AI_PASSIVE : 0);
	if (getaddrinfo(host, portstr, &hints, &res) != 0 || !res)
		return -ENOENT;
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	*sl = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

static int sock_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof ss;
	if (getsockname(fd, (struct sockaddr *)&ss, &sl) < 0)
		return -errno;
	if (ss.ss_family == AF_INET)
		return ntohs(((struct sockaddr_in *)&ss)->sin_port);
	if (ss.ss_family == AF_INET6)
		return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	return -EAFNOSUPPORT;
}

static void sock_addr_str(int fd, char *out, size_t cap)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof ss;
	char h[INET6_ADDRSTRLEN] = "?";
	int port = 0;
	if (getpeername(fd, (struct sockaddr *)&ss, &sl) == 0) {
		if (ss.ss_family == AF_INET) {
			inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, h, sizeof h);
			port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
		} else if (ss.ss_family == AF_INET6) {
			inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, h, sizeof h);
			port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
		}
	}
	snprintf(out, cap, "%s:%d", h, port);
}

static int listen_url(const char *url, bool tls, int *fdout)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	int rc = resolve(url, true, tls, &ss, &sl, NULL);
	if (rc < 0)
		return rc;
	int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (bind(fd, (struct sockaddr *)&ss, sl) < 0 || listen(fd, 128) < 0) {
		rc = -errno;
		close(fd);
		return rc;
	}
	*fdout = fd;
	return 0;
}

static void wake(struct peer_transport *t)
{
	uint64_t one = 1;
	/* EAGAIN means the counter is already non-zero: the thread will wake anyway. */
	ssize_t n = write(t->wakefd, &one, sizeof one);
	(void)n;
}

void peer_wake(struct peer_transport *t)
{
	if (t)
		wake(t);
}

static struct peer_remote *find_remote(struct peer_transport *t, uint64_t id)
{
	for (struct peer_remote *r = t->remotes; r; r = r->next)
		if (r->id == id && !r->removed)
			return r;
	return NULL;
}

/* ---- outbound side (called with mu held) ---- */

static void remote_close(struct peer_remote *r)
{
	peer_io_close(&r->io);
	r->state = R_IDLE;
	r->st.connected = false;
	/* A half-written frame cannot be resumed on a new connection; an untouched one can. */
	if (r->cur.buf && r->cur_off > 0) {
		free(r->cur.buf);
		r->cur.buf = NULL;
	}
	r->cur_off = 0;
}

/* Dial r at the next loop pass with a fresh backoff (mu held). A member whose own stream
 * just reached us is up, so the backoff grown while it was down (up to backoff_max) must
 * not delay our stream to it: with two voters that delay is the leader's quorum. */
static void redial_now(struct peer_transport *t, struct peer_remote *r)
{
	if (r->state != R_IDLE || r->removed)
		return;
	r->st.backoff_ns = 0;
	r->next_dial = kc_now_mono(t->clock);
}

/* A joiner learnt the cluster id (mu held): streams it opened with id 0 only said hello
 * and are refused; start them again at once with the id. */
static void learned_cluster_id(struct peer_transport *t)
{
	for (struct peer_remote *r = t->remotes; r; r = r->next) {
		if (r->removed)
			continue;
		if (r->state != R_IDLE)
			remote_close(r);
		redial_now(t, r);
	}
	wake(t);
}

static void remote_fail(struct peer_transport *t, struct peer_remote *r, int err, int64_t now)
{
	bool was_up = r->state == R_UP;
	/* A connection that lived a while and then died (the peer restarted) retries after
	 * the minimum; one that died young (the peer refuses our handshake) keeps backing off
	 * so a refusing member is not redialled every 100 ms. */
	bool long_lived = was_up && now - r->up_since >= t->backoff_max;
	remote_close(r);
	if (!was_up)
		r->st.dial_failures++;
	/* Exponential backoff as etcd's rafthttp/grpc dialers: min, doubling, capped. */
	if (long_lived || r->st.backoff_ns == 0)
		r->st.backoff_ns = t->backoff_min;
	else if (r->st.backoff_ns < t->backoff_max / 2)
		r->st.backoff_ns *= 2;
	else
		r->st.backoff_ns = t->backoff_max;
	r->next_dial = now + r->st.backoff_ns;
	kc_log_v(2, "peer %llx: connection to %s %s: %s; retrying in %lld ms",
		 (unsigned long long)r->id, r->url, was_up ? "lost" : "failed",
		 kc_strerror(err), (long long)(r->st.backoff_ns / KC_NSEC_PER_MSEC));
}

/* Keepalive so a member that vanished (power loss, partition) is noticed even when
 * nothing is being sent; etcd sets 30 s keepalives on its peer connections too. The user
 * timeout breaks a stream whose unacknowledged data sits for 15 s, so the sender redials
 * instead of filling its queue behind a dead connection. */
static void tune_socket(int fd, bool sender)
{
	int one = 1, idle = 30, intvl = 10, cnt = 3;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle);
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof intvl);
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof cnt);
	if (sender) {
		unsigned int ut = 15000;
		setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &ut, sizeof ut);
	}
}

static void remote_up(struct peer_transport *t, struct peer_remote *r, int64_t now)
{
	r->state = R_UP;
	r->st.connected = true;
	r->hs_off = 0;
	put_be64(r->hs + 12, atomic_load(&t->cluster_id)); /* may have been learned since */
	r->up_since = now;
	kc_log_v(1, "peer %llx: connected to %s", (unsigned long long)r->id, r->url);
}

static void remote_handshake(struct peer_transport *t, struct peer_remote *r, int64_t now)
{
	int rc = peer_io_handshake(&r->io);
	if (rc == -EAGAIN)
		return;
	if (rc < 0) {
		kc_warn("peer %llx: %s: %s", (unsigned long long)r->id, r->url, r->io.err);
		remote_fail(t, r, rc, now);
	} else {
		remote_up(t, r, now);
	}
}

/* TCP is up: start TLS if configured, else the stream is ready. */
static void remote_established(struct peer_transport *t, struct peer_remote *r, int64_t now)
{
	tune_socket(r->io.fd, true);
	if (!t->cli_ctx) {
		remote_up(t, r, now);
		return;
	}
	int rc = peer_io_tls_start(&r->io, t->cli_ctx, false, r->host);
	if (rc < 0) {
		remote_fail(t, r, rc, now);
		return;
	}
	r->state = R_TLS;
	remote_handshake(t, r, now);
}

static void remote_dial(struct peer_transport *t, struct peer_remote *r, int64_t now)
{
	r->st.dials++;
	int fd = socket(r->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		remote_fail(t, r, -errno, now);
		return;
	}
	r->io.fd = fd;
	if (connect(fd, (struct sockaddr *)&r->addr, r->addrlen) == 0) {
		remote_established(t, r, now);
	} else if (errno == EINPROGRESS) {
		r->state = R_CONNECTING;
	} else {
		remote_fail(t, r, -errno, now);
	}
}

/* Writes until the socket is full or PEER_FLUSH_BUDGET bytes went out (this runs under
 * `mu`, which peer_send takes: a fast reader must not keep senders waiting; the rest goes
 * on the next pass, which polls POLLOUT). On a write error the connection is failed. */
static void remote_flush(struct peer_transport *t, struct peer_remote *r, int64_t now)
{
	size_t budget = PEER_FLUSH_BUDGET;
	while (r->state == R_UP && budget > 0) {
		const uint8_t *p;
		size_t left;
		bool hs = r->hs_off < sizeof r->hs;
		if (hs) {
			p = r->hs + r->hs_off;
			left = sizeof r->hs - r->hs_off;
		} else {
			if (!r->cur.buf) {
				if (r->q_n == 0)
					return;
				r->cur = r->q[r->q_head];
				r->q[r->q_head].buf = NULL;
				r->q_head = (r->q_head + 1) % t->queue_cap;
				r->q_n--;
				r->cur_off = 0;
			}
			p = r->cur.buf + r->cur_off;
			left = r->cur.len - r->cur_off;
		}
		if (left > budget)
			left = budget;
		ssize_t n = peer_io_write(&r->io, p, left);
		if (n < 0) {
			if (n != -EAGAIN)
				remote_fail(t, r, (int)n, now);
			return;
		}
		budget -= (size_t)n;
		if (hs) {
			r->hs_off += (size_t)n;
			continue;
		}
		r->cur_off += (size_t)n;
		if (r->cur_off == r->cur.len) {
			free(r->cur.buf);
			r->cur.buf = NULL;
			r->cur_off = 0;
			r->st.sent++;
		}
	}
}

static bool remote_has_output(const struct peer_remote *r)
{
	return r->hs_off < sizeof r->hs || r->cur.buf || r->q_n > 0;
}

static void remote_free(struct peer_remote *r, size_t cap)
{
	remote_close(r);
	free(r->cur.buf);
	for (size_t i = 0; i < r->q_n; i++)
		free(r->q[(r->q_head + i) % cap].buf);
	free(r->q);
	free(r->url);
	free(r);
}

static void remote_event(struct peer_transport *t, struct peer_remote *r, short rev, int64_t now)
{
	if (r->state == R_CONNECTING) {
		if (!(rev & (POLLOUT | POLLERR | POLLHUP)))
			return;
		int err = 0;
		socklen_t el = sizeof err;
		if (getsockopt(r->io.fd, SOL_SOCKET, SO_ERROR, &err, &el) < 0)
			err = errno;
		if (err) {
			remote_fail(t, r, -err, now);
			return;
		}
		remote_established(t, r, now);
		return;
	}
	if (r->state == R_TLS) {
		remote_handshake(t, r, now);
		if (r->state != R_UP)
			return;
	}
	if (r->state != R_UP)
		return;
	if (rev & (POLLIN | POLLERR | POLLHUP)) {
		/* The receiver never writes on our stream: readable means EOF, an error, or a
		 * protocol violation. Any of them ends this connection. */
		uint8_t b[64];
		ssize_t n = peer_io_read(&r->io, b, sizeof b);
		if (n != -EAGAIN) {
			remote_fail(t, r, n < 0 ? (int)n : n == 0 ? KC_ECLOSED : -EPROTO, now);
			return;
		}
	}
	remote_flush(t, r, now);
}

/* ---- inbound side (transport thread only, mu not held) ---- */

static void conn_close(struct peer_transport *t, struct peer_conn **link)
{
	struct peer_conn *c = *link;
	*link = c->next;
	t->n_conns--;
	/* Counted before the close so whoever sees the EOF also sees the count. */
	pthread_mutex_lock(&t->mu);
	t->st.inbound = t->n_conns;
	pthread_mutex_unlock(&t->mu);
	peer_io_close(&c->io);
	free(c->rbuf);
	free(c->wbuf);
	free(c);
}

static void conn_reject(struct peer_transport *t, struct peer_conn *c, const char *why)
{
	if (c->hs_done || c->from)
		kc_warn("peer: closing connection from member %llx (%s): %s",
			(unsigned long long)c->from, c->addr, why);
	else
		kc_warn("peer: closing connection from %s: %s", c->addr, why);
	pthread_mutex_lock(&t->mu);
	t->st.rejected++;
	pthread_mutex_unlock(&t->mu);
}

/* A joiner asks for the member list (peer_members.h; etcd's GET /members on the peer
 * port): queue the answer, written by conn_flush, after which the connection closes.
 * false: close it now. */
static bool conn_members_request(struct peer_transport *t, struct peer_conn *c)
{
	uint64_t cid = atomic_load(&t->cluster_id);
	pthread_mutex_lock(&t->mu);
	peer_members_fn fn = t->members_fn;
	void *arg = t->members_arg;
	pthread_mutex_unlock(&t->mu);
	if (!fn || cid == 0) {
		kc_warn("peer: member list requested by %s before this member can answer", c->addr);
		return false;
	}
	uint8_t *blob = NULL;
	size_t blen = 0;
	int rc = fn(arg, &blob, &blen);
	if (rc == 0 && blen > PEER_MEMBERS_MAX_REPLY - 16)
		rc = KC_ETOOLARGE;
	if (rc == 0 && !(c->wbuf = malloc(4 + 16 + blen)))
		rc = -ENOMEM;
	if (rc) {
		free(blob);
		kc_warn("peer: cannot answer the member list request from %s: %s", c->addr,
			kc_strerror(rc));
		return false;
	}
	put_be32(c->wbuf, (uint32_t)(16 + blen));
	memcpy(c->wbuf + 4, PEER_MEMBERS_MAGIC, 8);
	put_be64(c->wbuf + 12, cid);
	if (blen)
		memcpy(c->wbuf + 20, blob, blen);
	free(blob);
	c->wlen = 4 + 16 + blen;
	c->woff = 0;
	kc_log_v(1, "peer: answering a member list request from %s", c->addr);
	return true;
}

/* Writes the pending answer. false: done (or failed), close the connection. */
static bool conn_flush(struct peer_transport *t, struct peer_conn *c)
{
	while (c->woff < c->wlen) {
		ssize_t n = peer_io_write(&c->io, c->wbuf + c->woff, c->wlen - c->woff);
		if (n == -EAGAIN)
			return true;
		if (n <= 0) {
			kc_log_v(1, "peer: member list answer to %s failed: %s", c->addr,
				 kc_strerror(n < 0 ? (int)n : KC_ECLOSED));
			return false;
		}
		c->woff += (size_t)n;
	}
	pthread_mutex_lock(&t->mu);
	t->st.members_served++;
	pthread_mutex_unlock(&t->mu);
	return false;
}

/* Validates and handles one complete frame. false: the connection must be closed. */
static bool conn_frame(struct peer_transport *t, struct peer_conn *c, const uint8_t *p,
		       uint32_t len)
{
	if (c->wbuf) {
		/* a member-list request is the only frame on its connection */
		conn_reject(t, c, "frame after a member list request");
		return false;
	}
	if (!c->hs_done && len == PEER_HANDSHAKE_LEN && memcmp(p, PEER_MEMBERS_MAGIC, 8) == 0)
		return conn_members_request(t, c);
	if (!c->hs_done) {
		if (len != PEER_HANDSHAKE_LEN || memcmp(p, PEER_HANDSHAKE_MAGIC, 8) != 0) {
			conn_reject(t, c, "bad handshake");
			return false;
		}
		uint64_t cid = get_be64(p + 8), from = get_be64(p + 16);
		c->from = from;
		if (atomic_load(&t->cluster_id) == 0 && cid != 0) {
			/* A member joining an existing cluster learns its id from the first
			 * known member that dials it (etcd's joiner fetches it over HTTP). */
			pthread_mutex_lock(&t->mu);
			bool k = from != t->id && find_remote(t, from) != NULL;
			uint64_t zero = 0;
			if (k && atomic_compare_exchange_strong(&t->cluster_id, &zero, cid)) {
				kc_info("peer: learned cluster id %016llx from member %016llx",
					(unsigned long long)cid, (unsigned long long)from);
				learned_cluster_id(t);
			}
			pthread_mutex_unlock(&t->mu);
		}
		{
			/* The sender just proved it is up: whatever backoff our own stream to
			 * it is in (it may have been down for a while), dial it now. */
			pthread_mutex_lock(&t->mu);
			uint64_t mine = atomic_load(&t->cluster_id);
			struct peer_remote *back = from != t->id ? find_remote(t, from) : NULL;
			if (back && (cid == mine || cid == 0))
				redial_now(t, back);
			pthread_mutex_unlock(&t->mu);
		}
		if (cid == 0 && atomic_load(&t->cluster_id) != 0) {
			/* A member we know that has not learned the cluster id yet: a joiner
			 * started with --initial-cluster-state existing says hello with id 0
			 * and sends nothing else (peer_send refuses until it knows). Our
			 * dial (just made due above) tells it the id; no warning, this is
			 * the normal start of a join. */
			pthread_mutex_lock(&t->mu);
			bool k = from != t->id && find_remote(t, from) != NULL;
			pthread_mutex_unlock(&t->mu);
			if (k) {
				kc_log_v(1, "peer: member %016llx (%s) does not know the cluster id "
					 "yet; dialling it", (unsigned long long)from, c->addr);
				return false;
			}
		}
		if (cid != atomic_load(&t->cluster_id)) {
			/* etcd: "request cluster ID mismatch" (rafthttp checkClusterCompatibility) */
			conn_reject(t, c, "cluster ID mismatch");
			return false;
		}
		pthread_mutex_lock(&t->mu);
		bool known = from != t->id && find_remote(t, from) != NULL;
		if (known)
			t->st.handshakes++;
		pthread_mutex_unlock(&t->mu);
		if (!known) {
			conn_reject(t, c, "unknown member");
			return false;
		}
		c->hs_done = true;
		/* The newest stream from a member wins (as etcd's rafthttp replaces a stream
		 * on re-attach): an older one is a leftover of a restart or partition whose
		 * close we never saw, and would otherwise pin an inbound slot forever. */
		for (struct peer_conn *o = t->conns; o; o = o->next)
			if (o != c && o->hs_done && o->from == from)
				o->superseded = true;
		return true;
	}
	struct raft_decoded d;
	int rc = raft_codec_decode(p, len, &d);
	if (rc < 0) {
		conn_reject(t, c, "undecodable message");
		return false;
	}
	const char *why = NULL;
	if (d.cluster_id != atomic_load(&t->cluster_id))
		why = "message from another cluster";
	else if (d.msg.from != c->from)
		why = "message sender differs from the handshake";
	else if (d.msg.to != t->id)
		why = "message addressed to another member";
	if (why) {
		raft_codec_decoded_free(&d);
		conn_reject(t, c, why);
		return false;
	}
	/* Counted first so that a callback observing the message also observes the count. */
	pthread_mutex_lock(&t->mu);
	t->st.received++;
	pthread_mutex_unlock(&t->mu);
	if (t->recv)
		t->recv(t->recv_arg, &d.msg);
	raft_codec_decoded_free(&d);
	return true;
}

/* Reads what is available and handles every complete frame. false: close it. */
static bool conn_read(struct peer_transport *t, struct peer_conn *c)
{
	for (int rounds = 0; rounds < 16; rounds++) {
		/* Room for the next chunk, but never more than one maximal frame. */
		size_t want = c->rlen - c->rpos + PEER_READ_CHUNK;
		size_t limit = 4 + (size_t)t->max_frame;
		if (want > limit)
			want = limit;
		if (c->rpos > 0) {
			memmove(c->rbuf, c->rbuf + c->rpos, c->rlen - c->rpos);
			c->rlen -= c->rpos;
			c->rpos = 0;
		}
		if (c->rcap < want) {
			uint8_t *nb = realloc(c->rbuf, want);
			if (!nb) {
				conn_reject(t, c, "out of memory");
				return false;
			}
			c->rbuf = nb;
			c->rcap = want;
		}
		if (c->rlen == c->rcap)
			return true; /* cannot happen: a full buffer holds a complete frame */
		ssize_t n = peer_io_read(&c->io, c->rbuf + c->rlen, c->rcap - c->rlen);
		if (n == 0)
			return false;
		if (n < 0)
			return n == -EAGAIN;
		c->rlen += (size_t)n;
		while (c->rlen - c->rpos >= 4) {
			uint32_t len = get_be32(c->rbuf + c->rpos);
			if (!c->hs_done && len != PEER_HANDSHAKE_LEN) {
				conn_reject(t, c, "first frame is not a handshake");
				return false;
			}
			if (len == 0 || len > t->max_frame) {
				conn_reject(t, c, "frame length out of range");
				return false;
			}
			if (c->rlen - c->rpos < 4 + (size_t)len)
				break;
			if (!conn_frame(t, c, c->rbuf + c->rpos + 4, len))
				return false;
			c->rpos += 4 + (size_t)len;
		}
		if (c->rpos == c->rlen)
			c->rpos = c->rlen = 0;
	}
	return true;
}

static void accept_all(struct peer_transport *t, int lfd, int64_t now)
{
	for (;;) {
		int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return;
		if (t->n_conns >= PEER_MAX_INBOUND) {
			kc_warn("peer: refusing connection: %d inbound connections open",
				PEER_MAX_INBOUND);
			close(fd);
			continue;
		}
		struct peer_conn *c = calloc(1, sizeof *c);
		if (!c) {
			close(fd);
			continue;
		}
		c->io.fd = fd;
		c->io.established = true; /* plain TCP; TLS below resets it */
		sock_addr_str(fd, c->addr, sizeof c->addr);
		c->accepted_at = now;
		tune_socket(fd, false);
		if (t->srv_ctx && peer_io_tls_start(&c->io, t->srv_ctx, true, NULL) < 0) {
			close(fd);
			free(c);
			continue;
		}
		c->next = t->conns;
		t->conns = c;
		t->n_conns++;
		pthread_mutex_lock(&t->mu);
		t->st.accepted++;
		t->st.inbound = t->n_conns;
		pthread_mutex_unlock(&t->mu);
	}
}

/* ---- the loop ---- */

static int pfd_reserve(struct peer_transport *t, size_t n)
{
	if (n <= t->pcap)
		return 0;
	struct pollfd *p = realloc(t->pfd, n * sizeof *p);
	if (!p)
		return -ENOMEM;
	t->pfd = p;
	void **o = realloc(t->pown, n * sizeof *o);
	if (!o)
		return -ENOMEM;
	t->pown = o;
	t->pcap = n;
	return 0;
}

static void *peer_loop(void *arg)
{
	struct peer_transport *t = arg;
	/* OpenSSL writes with write(2), not send(MSG_NOSIGNAL): a peer that went away must
	 * yield EPIPE on this thread, not kill the process. */
	sigset_t pipe_set;
	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipe_set, NULL);
	for (;;) {
		pthread_mutex_lock(&t->mu);
		if (t->stop) {
			pthread_mutex_unlock(&t->mu);
			break;
		}
		int64_t now = kc_now_mono(t->clock);
		int64_t next = now + PEER_POLL_MAX_MS * KC_NSEC_PER_MSEC;
		size_t n_rem = 0;
		for (struct peer_remote **lk = &t->remotes; *lk;) {
			struct peer_remote *r = *lk;
			if (r->removed) {
				*lk = r->next;
				remote_free(r, t->queue_cap);
				continue;
			}
			if (r->state == R_IDLE && now >= r->next_dial)
				remote_dial(t, r, now);
			if (r->state == R_UP)
				remote_flush(t, r, now);
			if (r->state == R_IDLE && r->next_dial < next)
				next = r->next_dial;
			n_rem++;
			lk = &r->next;
		}
		size_t np = 0;
		if (pfd_reserve(t, 1 + t->n_listen + n_rem + t->n_conns) < 0) {
			pthread_mutex_unlock(&t->mu);
			poll(NULL, 0, 10); /* real time: a fake clock would never return */
			continue;
		}
		t->pfd[np] = (struct pollfd){ t->wakefd, POLLIN, 0 };
		t->pown[np++] = NULL;
		for (size_t i = 0; i < t->n_listen; i++) {
			t->pfd[np] = (struct pollfd){ t->lfd[i], POLLIN, 0 };
			t->pown[np++] = NULL;
		}
		size_t rem_start = np;
		for (struct peer_remote *r = t->remotes; r; r = r->next) {
			if (r->io.fd < 0)
				continue;
			short ev = r->state == R_CONNECTING ? POLLOUT
				 : r->state == R_TLS	    ? r->io.want
							    : POLLIN;
			/* an SSL_write that wants to read is covered by POLLIN */
			if (r->state == R_UP && remote_has_output(r))
				ev |= POLLOUT;
			t->pfd[np] = (struct pollfd){ r->io.fd, ev, 0 };
			t->pown[np++] = r;
		}
		pthread_mutex_unlock(&t->mu);
		size_t conn_start = np;
		for (struct peer_conn *c = t->conns; c; c = c->next) {
			if (!c->hs_done && c->accepted_at + PEER_HANDSHAKE_TIMEOUT < next)
				next = c->accepted_at + PEER_HANDSHAKE_TIMEOUT;
			/* decrypted bytes poll cannot see: come straight back */
			if (peer_io_pending(&c->io))
				next = now;
			short ev = c->io.want ? c->io.want : POLLIN;
			if (c->wbuf)
				ev |= POLLOUT;
			t->pfd[np] = (struct pollfd){ c->io.fd, ev, 0 };
			t->pown[np++] = c;
		}
		int64_t wait_ns = next - now;
		int timeout = wait_ns <= 0 ? 0 : (int)((wait_ns + KC_NSEC_PER_MSEC - 1) / KC_NSEC_PER_MSEC);
		if (timeout > PEER_POLL_MAX_MS)
			timeout = PEER_POLL_MAX_MS;
		int pn = poll(t->pfd, (nfds_t)np, timeout);
		if (pn < 0 && errno != EINTR) {
			kc_error("peer: poll: %s", kc_strerror(-errno));
			poll(NULL, 0, 10);
			continue;
		}
		if (pn < 0)
			continue;
		now = kc_now_mono(t->clock);
		if (t->pfd[0].revents) {
			uint64_t v;
			ssize_t rn = read(t->wakefd, &v, sizeof v);
			(void)rn;
		}
		for (size_t i = 0; i < t->n_listen; i++)
			if (t->pfd[1 + i].revents)
				accept_all(t, t->lfd[i], now);
		pthread_mutex_lock(&t->mu);
		for (size_t i = rem_start; i < conn_start; i++) {
			struct peer_remote *r = t->pown[i];
			/* Removal only marks; the remote is freed by this thread next round. */
			if (t->pfd[i].revents && !r->removed && r->io.fd == t->pfd[i].fd)
				remote_event(t, r, t->pfd[i].revents, now);
		}
		pthread_mutex_unlock(&t->mu);
		/* Inbound: conns are only prepended by accept_all, so the polled ones are
		 * still in the list; walk it and match by pointer. */
		for (size_t i = conn_start; i < np; i++) {
			struct peer_conn *target = t->pown[i];
			struct peer_conn **lk = &t->conns;
			while (*lk && *lk != target)
				lk = &(*lk)->next;
			if (!*lk || target->superseded)
				continue;
			bool keep = true;
			if (!target->io.established &&
			    (t->pfd[i].revents & (POLLIN | POLLOUT | POLLERR | POLLHUP))) {
				int hrc = peer_io_handshake(&target->io);
				if (hrc != 0 && hrc != -EAGAIN) {
					conn_reject(t, target, target->io.err);
					keep = false;
				}
			}
			if (keep && target->io.established &&
			    (t->pfd[i].revents || peer_io_pending(&target->io)))
				keep = conn_read(t, target);
			if (keep && target->wbuf)
				keep = conn_flush(t, target);
			if (keep && !target->hs_done &&
			    now - target->accepted_at >= PEER_HANDSHAKE_TIMEOUT) {
				conn_reject(t, target, "no handshake in time");
				keep = false;
			}
			if (!keep)
				conn_close(t, lk);
		}
		for (struct peer_conn **lk = &t->conns; *lk;) {
			if ((*lk)->superseded)
				conn_close(t, lk);
			else
				lk = &(*lk)->next;
		}
	}
	return NULL;
}

/* ---- public API ---- */

int peer_transport_new(const struct peer_config *cfg, struct peer_transport **out)
{
	if (!cfg || !out || cfg->id == 0 || cfg->n_listen > PEER_MAX_LISTEN ||
	    (cfg->n_listen && !cfg->listen_urls) || cfg->backoff_min_ns < 0 ||
	    cfg->backoff_max_ns < 0)
		return -EINVAL;
	struct peer_transport *t = calloc(1, sizeof *t);
	if (!t)
		return -ENOMEM;
	t->id = cfg->id;
	t->cluster_id = cfg->cluster_id;
	t->queue_cap = cfg->queue_cap ? cfg->queue_cap : PEER_DEFAULT_QUEUE;
	t->max_frame = cfg->max_frame ? cfg->max_frame : PEER_DEFAULT_MAX_FRAME;
	t->backoff_min = cfg->backoff_min_ns ? cfg->backoff_min_ns : PEER_DEFAULT_BACKOFF_MIN;
	t->backoff_max = cfg->backoff_max_ns ? cfg->backoff_max_ns : PEER_DEFAULT_BACKOFF_MAX;
	if (t->backoff_max < t->backoff_min)
		t->backoff_max = t->backoff_min;
	if (t->max_frame < PEER_HANDSHAKE_LEN)
		t->max_frame = PEER_HANDSHAKE_LEN;
	t->clock = cfg->clock ? cfg->clock : kc_clock_real();
	t->recv = cfg->recv;
	t->recv_arg = cfg->recv_arg;
	t->wakefd = -1;
	pthread_mutex_init(&t->mu, NULL);
	int rc = 0;
	bool tls = cfg->tls.cert_file || cfg->tls.key_file;
	if (tls && ((rc = peer_tls_ctx_new(&cfg->tls, true, &t->srv_ctx)) < 0 ||
		    (rc = peer_tls_ctx_new(&cfg->tls, false, &t->cli_ctx)) < 0))
		goto fail;
	for (size_t i = 0; i < cfg->n_listen; i++) {
		rc = listen_url(cfg->listen_urls[i], tls, &t->lfd[i]);
		if (rc < 0) {
			kc_error("peer: cannot listen on %s: %s",
				 cfg->listen_urls[i] ? cfg->listen_urls[i] : "(null)",
				 kc_strerror(rc));
			goto fail;
		}
		t->n_listen++;
		t->lport[i] = sock_port(t->lfd[i]);
	}
	t->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (t->wakefd < 0) {
		rc = -errno;
		goto fail;
	}
	if ((rc = -pthread_create(&t->thread, NULL, peer_loop, t)) < 0)
		goto fail;
	t->thread_started = true;
	*out = t;
	return 0;
fail:
	peer_transport_free(t);
	return rc;
}

void peer_transport_free(struct peer_transport *t)
{
	if (!t)
		return;
	if (t->thread_started) {
		pthread_mutex_lock(&t->mu);
		t->stop = true;
		pthread_mutex_unlock(&t->mu);
		wake(t);
		pthread_join(t->thread, NULL);
	}
	while (t->remotes) {
		struct peer_remote *r = t->remotes;
		t->remotes = r->next;
		remote_free(r, t->queue_cap);
	}
	while (t->conns)
		conn_close(t, &t->conns);
	for (size_t i = 0; i < t->n_listen; i++)
		close(t->lfd[i]);
	if (t->wakefd >= 0)
		close(t->wakefd);
	free(t->pfd);
	free(t->pown);
	SSL_CTX_free(t->srv_ctx);
	SSL_CTX_free(t->cli_ctx);
	pthread_mutex_destroy(&t->mu);
	free(t);
}

int peer_listen_port(struct peer_transport *t, size_t idx)
{
	if (!t || idx >= t->n_listen)
		return -EINVAL;
	return t->lport[idx];
}

int peer_add(struct peer_transport *t, uint64_t id, const char *url)
{
	if (!t || id == 0 || id == t->id || !url)
		return -EINVAL;
	struct peer_remote *r = calloc(1, sizeof *r);
	if (!r)
		return -ENOMEM;
	r->io.fd = -1;
	r->id = id;
	int rc = resolve(url, false, t->cli_ctx != NULL, &r->addr, &r->addrlen, r->host);
	if (rc < 0) {
		free(r);
		return rc;
	}
	r->url = strdup(url);
	r->q = calloc(t->queue_cap, sizeof *r->q);
	if (!r->url || !r->q) {
		free(r->url);
		free(r->q);
		free(r);
		return -ENOMEM;
	}
	r->hs_off = sizeof r->hs;
	put_be32(r->hs, PEER_HANDSHAKE_LEN);
	memcpy(r->hs + 4, PEER_HANDSHAKE_MAGIC, 8);
	put_be64(r->hs + 12, atomic_load(&t->cluster_id));
	put_be64(r->hs + 20, t->id);
	pthread_mutex_lock(&t->mu);
	if (find_remote(t, id)) {
		pthread_mutex_unlock(&t->mu);
		free(r->url);
		free(r->q);
		free(r);
		return -EEXIST;
	}
	r->next_dial = kc_now_mono(t->clock);
	r->next = t->remotes;
	t->remotes = r;
	pthread_mutex_unlock(&t->mu);
	wake(t);
	return 0;
}

int peer_remove(struct peer_transport *t, uint64_t id)
{
	if (!t)
		return -EINVAL;
	pthread_mutex_lock(&t->mu);
	struct peer_remote *r = find_remote(t, id);
	if (r)
		r->removed = true;
	pthread_mutex_unlock(&t->mu);
	if (!r)
		return -ENOENT;
	wake(t);
	return 0;
}

int peer_send(struct peer_transport *t, const struct raft_msg *m)
{
	if (!t || !m)
		return -EINVAL;
	uint64_t cid = atomic_load(&t->cluster_id);
	if (cid == 0)
		return -EAGAIN; /* a joiner has nothing to say before it knows its cluster */
	uint8_t *payload = NULL;
	size_t len = 0;
	int rc = raft_codec_encode(m, cid, &payload, &len);
	if (rc < 0)
		return rc;
	if (len == 0 || len > t->max_frame) {
		free(payload);
		return len == 0 ? -EINVAL : KC_ETOOLARGE;
	}
	uint8_t *frame = malloc(len + 4);
	if (!frame) {
		free(payload);
		return -ENOMEM;
	}
	put_be32(frame, (uint32_t)len);
	memcpy(frame + 4, payload, len);
	free(payload);

	bool need_wake = false;
	pthread_mutex_lock(&t->mu);
	struct peer_remote *r = find_remote(t, m->to);
	if (!r) {
		rc = -ENOENT;
	} else if (r->q_n >= t->queue_cap) {
		r->st.dropped++;
		rc = -ENOBUFS;
	} else {
		/* The thread polls for POLLOUT only while output is pending; the first queued
		 * frame must wake it. */
		need_wake = r->q_n == 0;
		r->q[(r->q_head + r->q_n) % t->queue_cap] = (struct peer_frame){ frame, len + 4 };
		r->q_n++;
		frame = NULL;
	}
	pthread_mutex_unlock(&t->mu);
	free(frame);
	if (need_wake)
		wake(t);
	return rc;
}

int peer_remote_stats_get(struct peer_transport *t, uint64_t id, struct peer_remote_stats *st)
{
	if (!t || !st)
		return -EINVAL;
	pthread_mutex_lock(&t->mu);
	struct peer_remote *r = find_remote(t, id);
	if (r) {
		*st = r->st;
		st->queued = r->q_n;
	}
	pthread_mutex_unlock(&t->mu);
	return r ? 0 : -ENOENT;
}

void peer_set_members_source(struct peer_transport *t, peer_members_fn fn, void *arg)
{
	if (!t)
		return;
	pthread_mutex_lock(&t->mu);
	t->members_fn = fn;
	t->members_arg = arg;
	pthread_mutex_unlock(&t->mu);
}

void peer_transport_stats_get(struct peer_transport *t, struct peer_transport_stats *st)
{
	if (!t || !st)
		return;
	pthread_mutex_lock(&t->mu);
	*st = t->st;
	pthread_mutex_unlock(&t->mu);
}

uint64_t peer_cluster_id(struct peer_transport *t)
{
	return atomic_load(&t->cluster_id);
}
