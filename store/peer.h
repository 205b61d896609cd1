/* Raft peer transport: carries struct raft_msg between the members of one cluster.
 *
 * Wire format (kubec's own, not etcd's rafthttp): raw TCP streams, no HTTP. Peer URLs keep
 * etcd's spelling (`http://host:port`, as --listen-peer-urls and
 * --initial-advertise-peer-urls) so etcd flags carry over, but only the host and port are
 * used. With a certificate configured (peer_config.tls, etcd's --peer-* flags, see
 * peer_tls.h) every stream is mutual TLS and every URL must be `https://`; without one every
 * URL must be `http://` (-EINVAL otherwise). Other schemes (unix) give -EPROTONOSUPPORT.
 *
 * Every connection is one-directional, like etcd's rafthttp streams: each member keeps one
 * persistent outbound connection to every other member and only writes on it; it only reads
 * on the connections it accepted. Everything on a connection is a frame:
 *
 *     uint32 big-endian length | payload (length bytes, 0 < length <= max_frame)
 *
 * The first frame on a connection is the handshake (PEER_HANDSHAKE_LEN bytes: the magic
 * "KCPEER01", then the sender's cluster id and member id, both uint64 big-endian). Every
 * later frame is one raft_codec-encoded message. The receiver closes the connection on a
 * handshake from another cluster or an unknown member (as etcd's rafthttp answers a
 * mismatched X-Etcd-Cluster-ID with 412), a length of 0 or over max_frame, bytes that do not
 * decode, a message stamped with another cluster id, or a message whose `from` is not the
 * member that shook hands or whose `to` is not this member. Other connections carry on.
 * A member that does not know its cluster id yet (a joiner, peer_config.cluster_id 0) only
 * says hello: its handshake carries id 0 and peer_send refuses to queue anything, so no
 * frame stamped with a wrong id is ever refused halfway (etcd's joiner fetches the cluster
 * before it starts raft). A known member's hello is closed quietly and answered by dialling
 * it at once, which tells it the id; the joiner then redials everyone at once. More
 * generally any handshake from a known member makes our own stream to it due now, whatever
 * backoff it had reached while that member was down.
 * A connection whose first frame is a member-list request (peer_members.h) instead of a
 * handshake is answered with this member's cluster id and member list, from the source set
 * with peer_set_members_source, and then closed (etcd serves GET /members on its peer
 * port); without a source, or before the cluster id is known, it is closed unanswered.
 * A connection that sends no handshake within PEER_HANDSHAKE_TIMEOUT is closed, and a new
 * stream from a member replaces (closes) its older one, so stale sockets left by a crash or
 * partition cannot pile up. A member only accepts handshakes from members it was told
 * about with peer_add (etcd: "sender not found"), so members add each other before traffic
 * flows; until then the dialler backs off and retries.
 *
 * Sending never blocks: peer_send encodes and appends to a bounded per-peer queue and the
 * transport thread writes it out. When the queue is full the message is dropped and counted;
 * Raft tolerates loss (etcd's streamBufSize is 4096 and it drops too). While a peer is down
 * messages stay queued up to the bound. A failed or lost connection is retried with
 * exponential backoff (100 ms doubling to 5 s by default), measured on the injectable
 * kc_clock_t so tests can drive it with a fake clock.
 *
 * Threads: one transport thread runs a poll() loop for all sockets; received messages are
 * delivered to the recv callback on that thread. All functions below are thread-safe; the
 * callback may call peer_send but must not call peer_transport_free. */
#ifndef KUBEC_STORE_PEER_H
#define KUBEC_STORE_PEER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "clock.h"
#include "peer_tls.h"
#include "raft.h"

#define PEER_HANDSHAKE_LEN 24
#define PEER_HANDSHAKE_MAGIC "KCPEER01"
#define PEER_MAX_LISTEN 8
#define PEER_DEFAULT_QUEUE 4096                 /* etcd's streamBufSize */
#define PEER_DEFAULT_MAX_FRAME (64u << 20)      /* also bounds snapshot messages */
#define PEER_DEFAULT_BACKOFF_MIN (100 * KC_NSEC_PER_MSEC)
#define PEER_DEFAULT_BACKOFF_MAX (5 * KC_NSEC_PER_SEC)
#define PEER_MAX_INBOUND 64                     /* accepted connections held at once */
#define PEER_HANDSHAKE_TIMEOUT (10 * KC_NSEC_PER_SEC)

struct peer_transport;

/* Called on the transport thread for every accepted message. m and everything it points
 * to are borrowed and valid only during the call; m->from is the authenticated sender. */
typedef void (*peer_recv_fn)(void *arg, const struct raft_msg *m);

struct peer_config {
	uint64_t id;         /* this member, != 0 */
	uint64_t cluster_id; /* stamped on every frame; frames from other clusters refused.
	                        0 (a member joining an existing cluster): adopt the id the
	                        first known member presents in its handshake */
	/* URLs to listen on (`http://host:port`, port 0 = any); strings are copied.
	 * 0 listeners is allowed for a send-only transport. */
	const char *const *listen_urls;
	size_t n_listen;
	size_t queue_cap;       /* per-peer queued messages; 0 = PEER_DEFAULT_QUEUE */
	uint32_t max_frame;     /* largest payload accepted or sent; 0 = default */
	int64_t backoff_min_ns; /* 0 = PEER_DEFAULT_BACKOFF_MIN */
	int64_t backoff_max_ns; /* 0 = PEER_DEFAULT_BACKOFF_MAX */
	kc_clock_t *clock;      /* borrowed, must outlive the transport; NULL = real */
	peer_recv_fn recv;      /* may be NULL (messages are then counted and dropped) */
	void *recv_arg;         /* borrowed */
	struct peer_tls_config tls; /* cert_file NULL = plain TCP; files read at new */
};

/* Loads the TLS files if any, binds every listen URL and starts the transport thread. cfg
 * and its strings are borrowed for the call only. 0; -EINVAL for a bad config or URL (or
 * a scheme that does not match the TLS setting); -EPROTONOSUPPORT for a scheme other than
 * http/https; KC_EINVALID for unloadable TLS files; -errno from socket/bind/listen; -ENOMEM. */
int peer_transport_new(const struct peer_config *cfg, struct peer_transport **out);

/* Stops the thread, closes every connection, frees queued messages. NULL is a no-op. */
void peer_transport_free(struct peer_transport *t);

/* The port the idx-th listen URL is bound to (useful after listening on port 0), or -EINVAL. */
int peer_listen_port(struct peer_transport *t, size_t idx);

/* Adds a remote member reachable at url (copied; resolved now). The transport starts
 * connecting at once. -EEXIST if id is known, -EINVAL for id 0 / our own id / a bad URL,
 * -EPROTONOSUPPORT for a non-http(s) URL, -ENOENT if the host does not resolve. */
int peer_add(struct peer_transport *t, uint64_t id, const char *url);

/* Forgets a member: its connection is closed and its queue dropped. -ENOENT if unknown. */
int peer_remove(struct peer_transport *t, uint64_t id);

/* Produces the member list a joiner asks for (peer_members.h): on success *blob is a
 * malloc'd cluster_encode form that the transport frees. Called on the transport thread,
 * without the transport's lock held; must not call peer_transport_free. */
typedef int (*peer_members_fn)(void *arg, uint8_t **blob, size_t *len);

/* Set (or clear, fn NULL) the source of member-list answers; arg borrowed until replaced or
 * the transport is freed. */
void peer_set_members_source(struct peer_transport *t, peer_members_fn fn, void *arg);

/* Queues m (borrowed; encoded before returning) for m->to. Never blocks on the network.
 * 0 when queued; -ENOBUFS when that peer's queue is full (the message is dropped and
 * counted); -EAGAIN while the cluster id is not known (dropped); -ENOENT for an unknown m->to; KC_ETOOLARGE if the encoding exceeds max_frame;
 * -EINVAL for a malformed message; -ENOMEM. */
int peer_send(struct peer_transport *t, const struct raft_msg *m);

/* Makes the transport thread re-read the clock now (tests call it after advancing a fake
 * clock so a due reconnect happens without waiting for the poll timeout). */
void peer_wake(struct peer_transport *t);

/* The cluster id in use (0 until learned, see peer_config.cluster_id). */
uint64_t peer_cluster_id(struct peer_transport *t);

struct peer_remote_stats {
	bool connected;       /* outbound TCP (and TLS) connection up */
	size_t queued;        /* messages waiting */
	uint64_t sent;        /* messages fully written to the socket */
	uint64_t dropped;     /* messages refused because the queue was full */
	uint64_t dials;       /* connection attempts started */
	uint64_t dial_failures;
	int64_t backoff_ns;   /* delay before the next attempt after the last failure */
};

/* Snapshot of one remote's counters. 0 or -ENOENT. */
int peer_remote_stats_get(struct peer_transport *t, uint64_t id, struct peer_remote_stats *st);

struct peer_transport_stats {
	uint64_t accepted;        /* inbound connections accepted */
	uint64_t handshakes;      /* inbound connections that passed the handshake */
	uint64_t received;        /* messages delivered to recv */
	uint64_t rejected;        /* inbound connections closed for a bad frame or TLS */
	uint64_t members_served;  /* member-list requests answered */
	size_t inbound;           /* inbound connections open now */
};

void peer_transport_stats_get(struct peer_transport *t, struct peer_transport_stats *st);

/* Parses `http://host:port` or `https://host:port` (IPv6 as [addr]) into host
 * (NUL-terminated, at most hostcap bytes), port and, if https is non-NULL, whether the
 * scheme is https. 0, -EINVAL, -EPROTONOSUPPORT for another scheme. Exposed for tests and
 * for main.c's flag checks. */
int peer_parse_url(const char *url, char *host, size_t hostcap, uint16_t *port, bool *https);

#endif
