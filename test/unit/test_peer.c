/* The Raft peer transport (store/peer.c) over real loopback sockets: delivery in every
 * direction, reconnect with backoff (driven by a fake clock), restart of a member, refusal
 * of bad frames, and the bounded send queue. Every wait is on a condition under a
 * deadline. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "clock.h"
#include "errors.h"
#include "kc_test.h"
#include "../../store/peer.h"
#include "../../store/raft_codec.h"

#define CID 0xc1u
#define MAXID 16
#define DEADLINE_MS 10000

struct sink {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct peer_transport *echo; /* if set, the callback answers each message through it */
	uint64_t entry_bytes; /* payload bytes of entries that arrived intact */
	uint64_t corrupt;     /* entries whose bytes differ from what was sent */
	uint64_t count[MAXID];
	uint64_t last_ctx[MAXID];
	bool in_order[MAXID];
	uint64_t total;
};

static void sink_init(struct sink *s)
{
	memset(s, 0, sizeof *s);
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->cv, NULL);
	for (int i = 0; i < MAXID; i++)
		s->in_order[i] = true;
}

static void sink_close(struct sink *s)
{
	pthread_mutex_destroy(&s->mu);
	pthread_cond_destroy(&s->cv);
}

static void on_recv(void *arg, const struct raft_msg *m)
{
	struct sink *s = arg;
	pthread_mutex_lock(&s->mu);
	/* Entries carry bytes (index + i) % 251 so corruption anywhere is seen. */
	for (size_t e = 0; e < m->n_entries; e++) {
		const struct raft_entry *en = &m->entries[e];
		bool ok = true;
		for (size_t i = 0; i < en->len && ok; i++)
			ok = en->data[i] == (uint8_t)((en->index + i) % 251);
		if (ok)
			s->entry_bytes += en->len;
		else
			s->corrupt++;
	}
	if (m->from < MAXID) {
		if (m->ctx <= s->last_ctx[m->from])
			s->in_order[m->from] = false;
		s->count[m->from]++;
		s->last_ctx[m->from] = m->ctx;
	}
	s->total++;
	struct peer_transport *echo = s->echo;
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mu);
	/* Raft answers from the thread that delivered the message: peer_send must work there. */
	if (echo) {
		struct raft_msg r;
		memset(&r, 0, sizeof r);
		r.type = RAFT_MSG_HEARTBEAT_RESP;
		r.from = m->to;
		r.to = m->from;
		r.term = m->term;
		r.ctx = m->ctx;
		peer_send(echo, &r);
	}
}

static struct timespec deadline_after(int64_t ms)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (ms % 1000) * 1000000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	return ts;
}

/* Waits until s->count[from] >= n, at most ms; returns the count seen. */
static uint64_t sink_wait(struct sink *s, uint64_t from, uint64_t n, int64_t ms)
{
	struct timespec dl = deadline_after(ms);
	pthread_mutex_lock(&s->mu);
	while (s->count[from] < n)
		if (pthread_cond_timedwait(&s->cv, &s->mu, &dl) != 0)
			break;
	uint64_t c = s->count[from];
	pthread_mutex_unlock(&s->mu);
	return c;
}

static uint64_t sink_count(struct sink *s, uint64_t from)
{
	pthread_mutex_lock(&s->mu);
	uint64_t c = s->count[from];
	pthread_mutex_unlock(&s->mu);
	return c;
}

static struct raft_msg hb(uint64_t from, uint64_t to, uint64_t ctx)
{
	struct raft_msg m;
	memset(&m, 0, sizeof m);
	m.type = RAFT_MSG_HEARTBEAT;
	m.from = from;
	m.to = to;
	m.term = 3;
	m.commit = 7;
	m.ctx = ctx;
	return m;
}

/* Everything a test creates lives here so the checked fixture tears it down in one place. */
#define MAXT 8
static struct {
	kc_fake_clock fc;
	struct sink s[MAXID];
	struct peer_transport *t[MAXT];
} W;

static void world_setup(void)
{
	memset(&W, 0, sizeof W);
	kc_fake_clock_init(&W.fc, 0, 1);
	for (int i = 0; i < MAXID; i++)
		sink_init(&W.s[i]);
}

static void world_teardown(void)
{
	for (int i = 0; i < MAXT; i++)
		peer_transport_free(W.t[i]);
	for (int i = 0; i < MAXID; i++)
		sink_close(&W.s[i]);
	kc_fake_clock_close(&W.fc);
}

/* Registers t for teardown. */
static struct peer_transport *keep(struct peer_transport *t)
{
	for (int i = 0; i < MAXT; i++)
		if (!W.t[i]) {
			W.t[i] = t;
			return t;
		}
	ck_abort_msg("too many transports");
	return t;
}

/* Frees t now (a member "killed" mid-test). */
static void drop(struct peer_transport *t)
{
	for (int i = 0; i < MAXT; i++)
		if (W.t[i] == t)
			W.t[i] = NULL;
	peer_transport_free(t);
}

static struct peer_transport *mk(uint64_t id, int port, struct sink *s, kc_clock_t *clk,
				 size_t qcap)
{
	char url[64];
	snprintf(url, sizeof url, "http://127.0.0.1:%d", port);
	const char *urls[1] = { url };
	struct peer_config cfg = {
		.id = id,
		.cluster_id = CID,
		.listen_urls = urls,
		.n_listen = 1,
		.queue_cap = qcap,
		.clock = clk,
		.recv = on_recv,
		.recv_arg = s,
	};
	struct peer_transport *t = NULL;
	ck_assert_int_eq(peer_transport_new(&cfg, &t), 0);
	ck_assert_ptr_nonnull(t);
	return keep(t);
}

static void add(struct peer_transport *t, uint64_t id, int port)
{
	char url[64];
	snprintf(url, sizeof url, "http://127.0.0.1:%d", port);
	ck_assert_int_eq(peer_add(t, id, url), 0);
}

/* A loopback port nobody listens on (bind(0), read back, close). */
static int free_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t l = sizeof a;
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &l), 0);
	close(fd);
	return ntohs(a.sin_port);
}

static struct peer_remote_stats rstats(struct peer_transport *t, uint64_t id)
{
	struct peer_remote_stats st;
	ck_assert_int_eq(peer_remote_stats_get(t, id, &st), 0);
	return st;
}

static struct peer_transport_stats tstats(struct peer_transport *t)
{
	struct peer_transport_stats st;
	peer_transport_stats_get(t, &st);
	return st;
}

enum counter { C_HANDSHAKES, C_REJECTED, C_INBOUND, C_DIAL_FAILURES };

static uint64_t counter(struct peer_transport *t, enum counter c, uint64_t id)
{
	switch (c) {
	case C_HANDSHAKES:
		return tstats(t).handshakes;
	case C_REJECTED:
		return tstats(t).rejected;
	case C_INBOUND:
		return tstats(t).inbound;
	case C_DIAL_FAILURES:
		return rstats(t, id).dial_failures;
	}
	return 0;
}

/* Polls a counter until it reaches n, or falls to n when down (the transport offers no
 * event for a refused connection or a failed dial); fails the test at the deadline. */
static void wait_counter_dir(struct peer_transport *t, enum counter c, uint64_t id, uint64_t n,
			     bool down)
{
	struct timespec start, now, tick = { 0, 1000000 };
	clock_gettime(CLOCK_MONOTONIC, &start);
	while (down ? counter(t, c, id) > n : counter(t, c, id) < n) {
		clock_gettime(CLOCK_MONOTONIC, &now);
		ck_assert_msg(now.tv_sec - start.tv_sec < DEADLINE_MS / 1000,
			      "counter %d stuck below %llu", (int)c, (unsigned long long)n);
		nanosleep(&tick, NULL);
	}
}

static void wait_counter(struct peer_transport *t, enum counter c, uint64_t id, uint64_t n)
{
	wait_counter_dir(t, c, id, n, false);
}

static struct peer_remote_stats wait_dials(struct peer_transport *t, uint64_t id, uint64_t n)
{
	wait_counter(t, C_DIAL_FAILURES, id, n);
	return rstats(t, id);
}

START_TEST(three_members_all_directions)
{
	struct sink *s = W.s;
	struct peer_transport *t[4] = { 0 };
	int port[4];
	for (int i = 1; i <= 3; i++) {
		t[i] = mk((uint64_t)i, 0, &s[i], NULL, 0);
		port[i] = peer_listen_port(t[i], 0);
		ck_assert_int_gt(port[i], 0);
	}
	for (int i = 1; i <= 3; i++)
		for (int j = 1; j <= 3; j++)
			if (i != j)
				add(t[i], (uint64_t)j, port[j]);
	/* A member refuses a handshake from a member it has not been told about (as etcd's
	 * rafthttp answers "sender not found"), so connections made while the others were
	 * still being added were refused and retried: wait until every member has accepted
	 * both others' streams. */
	for (int i = 1; i <= 3; i++)
		wait_counter(t[i], C_HANDSHAKES, 0, 2);
	const int N = 200;
	for (int k = 1; k <= N; k++)
		for (int i = 1; i <= 3; i++)
			for (int j = 1; j <= 3; j++)
				if (i != j) {
					struct raft_msg m = hb((uint64_t)i, (uint64_t)j, (uint64_t)k);
					ck_assert_int_eq(peer_send(t[i], &m), 0);
				}
	for (int j = 1; j <= 3; j++)
		for (int i = 1; i <= 3; i++)
			if (i != j) {
				ck_assert_uint_eq(sink_wait(&s[j], (uint64_t)i, N, DEADLINE_MS), N);
				ck_assert_msg(s[j].in_order[i], "%d->%d reordered", i, j);
				ck_assert_uint_eq(s[j].last_ctx[i], N);
			}
	for (int i = 1; i <= 3; i++) {
		ck_assert_uint_eq(s[i].count[i], 0);
		ck_assert_uint_eq(tstats(t[i]).handshakes, 2);
		ck_assert_uint_eq(tstats(t[i]).inbound, 2);
		ck_assert_uint_eq(tstats(t[i]).received, 2 * N);
	}
	/* A message to a member that was never added is refused, not queued. */
	struct raft_msg m = hb(1, 9, 1);
	ck_assert_int_eq(peer_send(t[1], &m), -ENOENT);
}
END_TEST

/* Member 2 is down: member 1 redials on the fake clock's schedule 100, 200, 400 ... 5000 ms,
 * keeps what it was asked to send, and delivers once 2 comes up. */
START_TEST(late_peer_backoff_then_delivery)
{
	kc_fake_clock *fc = &W.fc;
	struct sink *s1 = &W.s[1], *s2 = &W.s[2];
	int p2 = free_port();
	struct peer_transport *a = mk(1, 0, s1, &fc->base, 0);
	add(a, 2, p2);
	struct raft_msg m = hb(1, 2, 1);
	ck_assert_int_eq(peer_send(a, &m), 0);

	const int64_t want[] = { 100, 200, 400, 800, 1600, 3200, 5000, 5000 };
	for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
		struct peer_remote_stats st = wait_dials(a, 2, i + 1);
		/* No extra dial happens while the fake clock stands still. */
		ck_assert_uint_eq(st.dials, i + 1);
		ck_assert_int_eq(st.backoff_ns, want[i] * KC_NSEC_PER_MSEC);
		ck_assert_uint_eq(st.queued, 1);
		if (i + 1 < sizeof want / sizeof want[0]) {
			kc_fake_clock_advance(fc, st.backoff_ns);
			peer_wake(a);
		}
	}
	ck_assert_uint_eq(sink_count(s2, 1), 0);

	struct peer_transport *b = mk(2, p2, s2, &fc->base, 0);
	add(b, 1, peer_listen_port(a, 0));
	m = hb(1, 2, 2);
	ck_assert_int_eq(peer_send(a, &m), 0);
	kc_fake_clock_advance(fc, 5000 * KC_NSEC_PER_MSEC);
	peer_wake(a);
	ck_assert_uint_eq(sink_wait(s2, 1, 2, DEADLINE_MS), 2);
	ck_assert_uint_eq(s2->last_ctx[1], 2);
	ck_assert(s2->in_order[1]);
	m = hb(1, 2, 3);
	ck_assert_int_eq(peer_send(a, &m), 0);
	ck_assert_uint_eq(sink_wait(s2, 1, 3, DEADLINE_MS), 3);
	struct peer_remote_stats st = rstats(a, 2);
	ck_assert(st.connected);
	ck_assert_uint_eq(st.sent, 3);
	/* and the other way round */
	m = hb(2, 1, 1);
	ck_assert_int_eq(peer_send(b, &m), 0);
	ck_assert_uint_eq(sink_wait(s1, 2, 1, DEADLINE_MS), 1);
}
END_TEST

/* Sends to `to` once per round until the sink has seen `n` messages from `from`. */
static uint64_t send_until(struct peer_transport *t, struct sink *s, uint64_t from, uint64_t to,
			   uint64_t n, uint64_t *ctx)
{
	uint64_t got = 0;
	for (int round = 0; round < DEADLINE_MS / 50 && got < n; round++) {
		struct raft_msg m = hb(from, to, ++*ctx);
		int rc = peer_send(t, &m);
		ck_assert(rc == 0 || rc == -ENOBUFS);
		got = sink_wait(s, from, n, 50);
	}
	return got;
}

START_TEST(restarted_peer_is_reconnected)
{
	struct sink *s1 = &W.s[1], *s2 = &W.s[2], *s2b = &W.s[5];
	struct peer_transport *a = mk(1, 0, s1, NULL, 0);
	struct peer_transport *b = mk(2, 0, s2, NULL, 0);
	int pa = peer_listen_port(a, 0), pb = peer_listen_port(b, 0);
	add(a, 2, pb);
	add(b, 1, pa);
	uint64_t ctx = 0;
	ck_assert_uint_ge(send_until(a, s2, 1, 2, 1, &ctx), 1);
	uint64_t dials_before = rstats(a, 2).dials;

	/* "kill" member 2: every socket of it closes; then it comes back on the same port. */
	drop(b);
	b = mk(2, pb, s2b, NULL, 0);
	add(b, 1, pa);
	ck_assert_uint_ge(send_until(a, s2b, 1, 2, 3, &ctx), 3);
	ck_assert_uint_gt(rstats(a, 2).dials, dials_before);
	ck_assert(rstats(a, 2).connected);
	uint64_t ctx2 = 0;
	ck_assert_uint_ge(send_until(b, s1, 2, 1, 1, &ctx2), 1);
}
END_TEST

static int raw_connect(int port)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
	return fd;
}

static void raw_write(int fd, const void *p, size_t n)
{
	ck_assert_int_eq(send(fd, p, n, MSG_NOSIGNAL), (ssize_t)n);
}

static void be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static void raw_handshake(int fd, uint64_t cid, uint64_t id)
{
	uint8_t b[4 + PEER_HANDSHAKE_LEN];
	be32(b, PEER_HANDSHAKE_LEN);
	memcpy(b + 4, PEER_HANDSHAKE_MAGIC, 8);
	for (int i = 0; i < 8; i++) {
		b[12 + i] = (uint8_t)(cid >> (56 - 8 * i));
		b[20 + i] = (uint8_t)(id >> (56 - 8 * i));
	}
	raw_write(fd, b, sizeof b);
}

static void raw_msg(int fd, const struct raft_msg *m, uint64_t cid)
{
	uint8_t *buf;
	size_t len;
	ck_assert_int_eq(raft_codec_encode(m, cid, &buf, &len), 0);
	uint8_t h[4];
	be32(h, (uint32_t)len);
	raw_write(fd, h, 4);
	raw_write(fd, buf, len);
	free(buf);
}

/* true when the transport closed the connection within the deadline. */
static bool raw_closed(int fd)
{
	struct pollfd p = { fd, POLLIN, 0 };
	if (poll(&p, 1, DEADLINE_MS) <= 0)
		return false;
	char c;
	ssize_t n = recv(fd, &c, 1, 0);
	return n == 0 || (n < 0 && errno == ECONNRESET);
}

START_TEST(bad_frames_close_only_that_connection)
{
	struct sink *s1 = &W.s[1], *s2 = &W.s[2];
	struct peer_transport *a = mk(1, 0, s1, NULL, 0);
	struct peer_transport *b = mk(2, 0, s2, NULL, 0);
	int pa = peer_listen_port(a, 0), pb = peer_listen_port(b, 0);
	add(a, 2, pb);
	add(b, 1, pa);
	add(a, 3, free_port()); /* known but absent: a valid identity for the raw client */
	uint64_t c1 = 0, c2 = 0;
	ck_assert_uint_ge(send_until(b, s1, 2, 1, 1, &c2), 1);

	/* Positive control: a well-formed raw client is heard, so the refusals below are
	 * about the defect each one carries. */
	int fd = raw_connect(pa);
	raw_handshake(fd, CID, 3);
	struct raft_msg m = hb(3, 1, 77);
	raw_msg(fd, &m, CID);
	ck_assert_uint_eq(sink_wait(s1, 3, 1, DEADLINE_MS), 1);
	ck_assert_uint_eq(s1->last_ctx[3], 77);
	close(fd);

	uint8_t huge[4];
	be32(huge, 0xffffffffu);
	uint8_t garbage[4 + 6] = { 0, 0, 0, 6, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

	for (int kase = 0; kase < 7; kase++) {
		fd = raw_connect(pa);
		switch (kase) {
		case 0: /* handshake from another cluster */
			raw_handshake(fd, CID + 1, 3);
			break;
		case 1: /* handshake from a member we do not know */
			raw_handshake(fd, CID, 9);
			break;
		case 2: /* oversize length */
			raw_handshake(fd, CID, 3);
			raw_write(fd, huge, 4);
			break;
		case 3: /* message stamped with another cluster id */
			raw_handshake(fd, CID, 3);
			m = hb(3, 1, 78);
			raw_msg(fd, &m, CID + 1);
			break;
		case 4: /* bytes that are not a message */
			raw_handshake(fd, CID, 3);
			raw_write(fd, garbage, sizeof garbage);
			break;
		case 5: /* sender spoofs another member */
			raw_handshake(fd, CID, 3);
			m = hb(2, 1, 79);
			raw_msg(fd, &m, CID);
			break;
		case 6: /* a raft frame before any handshake */
			m = hb(3, 1, 80);
			raw_msg(fd, &m, CID);
			break;
		}
		ck_assert_msg(raw_closed(fd), "case %d: connection not closed", kase);
		close(fd);
		ck_assert_uint_eq(tstats(a).rejected, (uint64_t)kase + 1);
	}
	/* Nothing from the bad connections reached Raft... */
	ck_assert_uint_eq(sink_count(s1, 3), 1);
	ck_assert_uint_eq(s1->last_ctx[3], 77);
	/* ...and the real peers still talk both ways. */
	uint64_t had = sink_count(s1, 2);
	ck_assert_uint_ge(send_until(b, s1, 2, 1, had + 1, &c2), had + 1);
	ck_assert_uint_ge(send_until(a, s2, 1, 2, 1, &c1), 1);
	ck_assert(rstats(a, 2).connected && rstats(b, 1).connected);
}
END_TEST

/* A member that reconnects without us seeing its old connection close (a partition, a
 * power loss) must not leave the stale stream holding an inbound slot: the newer
 * handshake from the same member closes the older connection. */
START_TEST(newer_stream_replaces_older)
{
	struct sink *s1 = &W.s[1];
	struct peer_transport *a = mk(1, 0, s1, NULL, 0);
	int pa = peer_listen_port(a, 0);
	add(a, 3, free_port());
	int old = raw_connect(pa);
	raw_handshake(old, CID, 3);
	struct raft_msg m = hb(3, 1, 1);
	raw_msg(old, &m, CID);
	ck_assert_uint_eq(sink_wait(s1, 3, 1, DEADLINE_MS), 1);
	ck_assert_uint_eq(tstats(a).inbound, 1);

	int fresh = raw_connect(pa);
	raw_handshake(fresh, CID, 3);
	m = hb(3, 1, 2);
	raw_msg(fresh, &m, CID);
	ck_assert_uint_eq(sink_wait(s1, 3, 2, DEADLINE_MS), 2);
	ck_assert(raw_closed(old));
	ck_assert_uint_eq(tstats(a).inbound, 1);
	ck_assert_uint_eq(tstats(a).rejected, 0);
	/* the new stream keeps working */
	m = hb(3, 1, 3);
	raw_msg(fresh, &m, CID);
	ck_assert_uint_eq(sink_wait(s1, 3, 3, DEADLINE_MS), 3);
	close(old);
	close(fresh);
}
END_TEST

/* A connection that never identifies itself is closed after PEER_HANDSHAKE_TIMEOUT of the
 * transport's clock, so idle sockets cannot pile up to the inbound limit. */
START_TEST(silent_connection_times_out)
{
	kc_fake_clock *fc = &W.fc;
	struct sink *s1 = &W.s[1];
	struct peer_transport *a = mk(1, 0, s1, &fc->base, 0);
	int fd = raw_connect(peer_listen_port(a, 0));
	wait_counter(a, C_INBOUND, 0, 1);
	kc_fake_clock_advance(fc, PEER_HANDSHAKE_TIMEOUT);
	peer_wake(a);
	ck_assert(raw_closed(fd));
	ck_assert_uint_eq(tstats(a).inbound, 0);
	ck_assert_uint_eq(tstats(a).rejected, 1);
	close(fd);
}
END_TEST

START_TEST(callback_may_send)
{
	struct sink *s1 = &W.s[1], *s2 = &W.s[2];
	struct peer_transport *a = mk(1, 0, s1, NULL, 0);
	struct peer_transport *b = mk(2, 0, s2, NULL, 0);
	pthread_mutex_lock(&s2->mu);
	s2->echo = b;
	pthread_mutex_unlock(&s2->mu);
	add(a, 2, peer_listen_port(b, 0));
	add(b, 1, peer_listen_port(a, 0));
	wait_counter(a, C_HANDSHAKES, 0, 1);
	wait_counter(b, C_HANDSHAKES, 0, 1);
	for (uint64_t k = 1; k <= 20; k++) {
		struct raft_msg m = hb(1, 2, k);
		ck_assert_int_eq(peer_send(a, &m), 0);
	}
	/* every answer b's callback sent comes back to a, in order */
	ck_assert_uint_eq(sink_wait(s1, 2, 20, DEADLINE_MS), 20);
	ck_assert(s1->in_order[2]);
	ck_assert_uint_eq(s1->last_ctx[2], 20);
}
END_TEST

/* Messages far larger than a socket buffer (snapshot- and batch-sized) go through partial
 * writes and reassembly intact, in both plain TCP and TLS. */
static void big_messages(struct peer_transport *a, struct sink *sb)
{
	const size_t sz = 3u << 20;
	const int n = 8;
	uint8_t *data = malloc(sz);
	ck_assert_ptr_nonnull(data);
	for (int k = 1; k <= n; k++) {
		struct raft_entry e = { .term = 1, .index = (uint64_t)k, .type = RAFT_ENTRY_NORMAL,
					.data = data, .len = sz };
		for (size_t i = 0; i < sz; i++)
			data[i] = (uint8_t)(((uint64_t)k + i) % 251);
		struct raft_msg m = hb(1, 2, (uint64_t)k);
		m.type = RAFT_MSG_APPEND;
		m.entries = &e;
		m.n_entries = 1;
		ck_assert_int_eq(peer_send(a, &m), 0);
	}
	free(data);
	ck_assert_uint_eq(sink_wait(sb, 1, n, DEADLINE_MS * 3), n);
	ck_assert_uint_eq(sb->corrupt, 0);
	ck_assert_uint_eq(sb->entry_bytes, (uint64_t)n * sz);
	ck_assert(sb->in_order[1]);
}

START_TEST(large_messages_plain)
{
	struct sink *s1 = &W.s[1], *s2 = &W.s[2];
	struct peer_transport *a = mk(1, 0, s1, NULL, 0);
	struct peer_transport *b = mk(2, 0, s2, NULL, 0);
	add(b, 1, peer_listen_port(a, 0));
	add(a, 2, peer_listen_port(b, 0));
	big_messages(a, s2);
	/* Removing a member closes its stream: b sees its inbound connection go. */
	ck_assert_uint_eq(tstats(b).inbound, 1);
	ck_assert_int_eq(peer_remove(a, 2), 0);
	wait_counter_dir(b, C_INBOUND, 0, 0, true);
}
END_TEST

START_TEST(full_queue_drops_and_counts)
{
	kc_fake_clock *fc = &W.fc;
	struct sink *s1 = &W.s[1], *s2 = &W.s[2];
	int p2 = free_port();
	struct peer_transport *a = mk(1, 0, s1, &fc->base, 4);
	add(a, 2, p2);
	for (uint64_t k = 1; k <= 10; k++) {
		struct raft_msg m = hb(1, 2, k);
		ck_assert_int_eq(peer_send(a, &m), k <= 4 ? 0 : -ENOBUFS);
	}
	struct peer_remote_stats st = rstats(a, 2);
	ck_assert_uint_eq(st.queued, 4);
	ck_assert_uint_eq(st.dropped, 6);

	/* When 2 appears, exactly the four queued messages arrive, oldest first. */
	wait_dials(a, 2, 1);
	struct peer_transport *b = mk(2, p2, s2, &fc->base, 4);
	add(b, 1, peer_listen_port(a, 0));
	kc_fake_clock_advance(fc, 5 * KC_NSEC_PER_SEC);
	peer_wake(a);
	ck_assert_uint_eq(sink_wait(s2, 1, 4, DEADLINE_MS), 4);
	ck_assert(s2->in_order[1]);
	ck_assert_uint_eq(s2->last_ctx[1], 4);
	st = rstats(a, 2);
	ck_assert_uint_eq(st.sent, 4);
	ck_assert_uint_eq(st.dropped, 6);
	ck_assert_uint_eq(st.queued, 0);
}
END_TEST

START_TEST(receiver_needs_known_sender)
{
	/* b has not added 1 yet: 1's handshake is refused until it does. */
	struct sink *s1 = &W.s[1], *s2 = &W.s[2];
	struct peer_transport *a = mk(1, 0, s1, NULL, 0);
	struct peer_transport *b = mk(2, 0, s2, NULL, 0);
	add(a, 2, peer_listen_port(b, 0));
	struct raft_msg m = hb(1, 2, 1);
	ck_assert_int_eq(peer_send(a, &m), 0);
	wait_counter(b, C_REJECTED, 0, 1);
	ck_assert_uint_eq(sink_count(s2, 1), 0);
	add(b, 1, peer_listen_port(a, 0));
	uint64_t ctx = 1;
	ck_assert_uint_ge(send_until(a, s2, 1, 2, 1, &ctx), 1);
}
END_TEST

START_TEST(urls_and_limits)
{
	char host[64];
	uint16_t port;
	bool https = true;
	ck_assert_int_eq(peer_parse_url("http://127.0.0.1:2380", host, sizeof host, &port, &https), 0);
	ck_assert_str_eq(host, "127.0.0.1");
	ck_assert_uint_eq(port, 2380);
	ck_assert(!https);
	ck_assert_int_eq(peer_parse_url("http://[::1]:2381/", host, sizeof host, &port, NULL), 0);
	ck_assert_str_eq(host, "::1");
	ck_assert_uint_eq(port, 2381);
	ck_assert_int_eq(peer_parse_url("https://node-1:2380", host, sizeof host, &port, &https), 0);
	ck_assert(https);
	ck_assert_str_eq(host, "node-1");
	ck_assert_int_eq(peer_parse_url("unix://x:1", host, sizeof host, &port, NULL),
			 -EPROTONOSUPPORT);
	ck_assert_int_eq(peer_parse_url("http://10.0.0.1", host, sizeof host, &port, NULL), -EINVAL);
	ck_assert_int_eq(peer_parse_url("http://10.0.0.1:99999", host, sizeof host, &port, NULL),
			 -EINVAL);
	ck_assert_int_eq(peer_parse_url("http://:2380", host, sizeof host, &port, NULL), -EINVAL);
	ck_assert_int_eq(peer_parse_url("10.0.0.1:2380", host, sizeof host, &port, NULL), -EINVAL);
	ck_assert_int_eq(peer_parse_url("http://h:1/path", host, sizeof host, &port, NULL), -EINVAL);

	/* https without a certificate is refused, as etcd refuses it. */
	const char *tls[1] = { "https://127.0.0.1:0" };
	struct peer_config cfg = { .id = 1, .cluster_id = CID, .listen_urls = tls, .n_listen = 1 };
	struct peer_transport *t = NULL;
	ck_assert_int_eq(peer_transport_new(&cfg, &t), -EINVAL);
	cfg.id = 0;
	ck_assert_int_eq(peer_transport_new(&cfg, &t), -EINVAL);

	/* A message larger than max_frame is refused at send time. */
	cfg = (struct peer_config){ .id = 1, .cluster_id = CID, .max_frame = 64 };
	ck_assert_int_eq(peer_transport_new(&cfg, &t), 0);
	ck_assert_int_eq(peer_add(t, 2, "http://127.0.0.1:1"), 0);
	ck_assert_int_eq(peer_add(t, 2, "http://127.0.0.1:1"), -EEXIST);
	ck_assert_int_eq(peer_add(t, 1, "http://127.0.0.1:1"), -EINVAL);
	uint8_t data[200];
	memset(data, 'x', sizeof data);
	struct raft_entry e = { .term = 1, .index = 1, .type = RAFT_ENTRY_NORMAL,
				.data = data, .len = sizeof data };
	struct raft_msg m = hb(1, 2, 1);
	m.type = RAFT_MSG_APPEND;
	m.entries = &e;
	m.n_entries = 1;
	ck_assert_int_eq(peer_send(t, &m), KC_ETOOLARGE);
	ck_assert_uint_eq(rstats(t, 2).queued, 0);
	ck_assert_int_eq(peer_remove(t, 2), 0);
	ck_assert_int_eq(peer_remove(t, 2), -ENOENT);
	m = hb(1, 2, 1);
	ck_assert_int_eq(peer_send(t, &m), -ENOENT);
	peer_transport_free(t);
}
END_TEST

/* ---- mutual TLS ---- */

struct pki {
	char dir[64];
	char ca[128];
	char cert[6][128], key[6][128];
};

static void add_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509V3_set_ctx_nodb(&ctx);
	X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
	X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	ck_assert_ptr_nonnull(e);
	ck_assert_int_eq(X509_add_ext(x, e, -1), 1);
	X509_EXTENSION_free(e);
}

/* A certificate for key, signed by (issuer, ikey), or self-signed when issuer is NULL. */
static X509 *make_cert(EVP_PKEY *key, const char *cn, X509 *issuer, EVP_PKEY *ikey,
		       const char *san)
{
	static long serial = 1;
	X509 *x = X509_new();
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), serial++);
	X509_gmtime_adj(X509_getm_notBefore(x), -3600);
	X509_gmtime_adj(X509_getm_notAfter(x), 86400);
	X509_set_pubkey(x, key);
	X509_NAME *n = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
	X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : n);
	X509 *iss = issuer ? issuer : x;
	if (!issuer) {
		add_ext(x, iss, NID_basic_constraints, "critical,CA:TRUE");
		add_ext(x, iss, NID_key_usage, "critical,keyCertSign,cRLSign");
	} else {
		add_ext(x, iss, NID_basic_constraints, "CA:FALSE");
		add_ext(x, iss, NID_ext_key_usage, "serverAuth,clientAuth");
		add_ext(x, iss, NID_subject_alt_name, san);
	}
	ck_assert_int_gt(X509_sign(x, issuer ? ikey : key, EVP_sha256()), 0);
	return x;
}

static void write_cert(const char *path, X509 *x)
{
	FILE *f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(PEM_write_X509(f, x), 1);
	fclose(f);
}

static void write_key(const char *path, EVP_PKEY *k)
{
	FILE *f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL), 1);
	fclose(f);
}

/* Members 1, 2: signed by the cluster CA for IP 127.0.0.1. Member 3: a stranger signed by
 * another CA. Member 4: the cluster CA, but for a different host name. */
static void pki_make(struct pki *p)
{
	snprintf(p->dir, sizeof p->dir, "/tmp/kubec-peer-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(p->dir));
	EVP_PKEY *cak = EVP_EC_gen("P-256"), *otherk = EVP_EC_gen("P-256");
	X509 *ca = make_cert(cak, "kubec-peer-ca", NULL, NULL, NULL);
	X509 *other = make_cert(otherk, "stranger-ca", NULL, NULL, NULL);
	char dir[64];
	memcpy(dir, p->dir, sizeof dir);
	snprintf(p->ca, sizeof p->ca, "%s/ca.crt", dir);
	write_cert(p->ca, ca);
	for (int i = 1; i <= 4; i++) {
		EVP_PKEY *k = EVP_EC_gen("P-256");
		char cn[32];
		snprintf(cn, sizeof cn, "member-%d", i);
		X509 *x = make_cert(k, cn, i == 3 ? other : ca, i == 3 ? otherk : cak,
				    i == 4 ? "DNS:elsewhere.example" : "IP:127.0.0.1");
		snprintf(p->cert[i], sizeof p->cert[i], "%s/m%d.crt", dir, i);
		snprintf(p->key[i], sizeof p->key[i], "%s/m%d.key", dir, i);
		write_cert(p->cert[i], x);
		write_key(p->key[i], k);
		X509_free(x);
		EVP_PKEY_free(k);
	}
	X509_free(ca);
	X509_free(other);
	EVP_PKEY_free(cak);
	EVP_PKEY_free(otherk);
}

static void pki_remove(struct pki *p)
{
	unlink(p->ca);
	for (int i = 1; i <= 4; i++) {
		unlink(p->cert[i]);
		unlink(p->key[i]);
	}
	rmdir(p->dir);
}

static struct peer_transport *mk_tls(struct pki *p, uint64_t id, struct sink *s)
{
	const char *urls[1] = { "https://127.0.0.1:0" };
	struct peer_config cfg = {
		.id = id,
		.cluster_id = CID,
		.listen_urls = urls,
		.n_listen = 1,
		.recv = on_recv,
		.recv_arg = s,
		.tls = { .cert_file = p->cert[id], .key_file = p->key[id],
			 .trusted_ca_file = p->ca, .client_cert_auth = true },
	};
	struct peer_transport *t = NULL;
	ck_assert_int_eq(peer_transport_new(&cfg, &t), 0);
	return keep(t);
}

static void add_tls(struct peer_transport *t, uint64_t id, struct peer_transport *other)
{
	char url[64];
	snprintf(url, sizeof url, "https://127.0.0.1:%d", peer_listen_port(other, 0));
	ck_assert_int_eq(peer_add(t, id, url), 0);
}

START_TEST(tls_mutual_auth)
{
	struct pki p;
	pki_make(&p);
	struct sink *s = W.s;
	struct peer_transport *a = mk_tls(&p, 1, &s[1]), *b = mk_tls(&p, 2, &s[2]);
	add_tls(a, 2, b);
	add_tls(b, 1, a);
	uint64_t c1 = 0, c2 = 0;
	ck_assert_uint_ge(send_until(a, &s[2], 1, 2, 5, &c1), 5);
	ck_assert_uint_ge(send_until(b, &s[1], 2, 1, 5, &c2), 5);
	ck_assert(s[2].in_order[1] && s[1].in_order[2]);

	/* A plain-TCP client on the TLS port is refused. */
	int fd = raw_connect(peer_listen_port(a, 0));
	raw_handshake(fd, CID, 2);
	ck_assert(raw_closed(fd));
	close(fd);
	ck_assert_uint_eq(tstats(a).rejected, 1);

	/* Member 3 holds a certificate from another CA: a refuses its client certificate
	 * (--peer-client-cert-auth) and nothing it sends reaches Raft. */
	struct peer_transport *c = mk_tls(&p, 3, &s[3]);
	add_tls(a, 3, c);
	add_tls(c, 1, a);
	struct raft_msg m = hb(3, 1, 1);
	ck_assert_int_eq(peer_send(c, &m), 0);
	wait_counter(a, C_REJECTED, 0, 2);
	/* ...and a, dialling 3, does not trust 3's server certificate either. */
	wait_counter(a, C_DIAL_FAILURES, 3, 2);
	ck_assert(!rstats(a, 3).connected);

	/* Member 4 is from the right CA but its certificate does not name 127.0.0.1: the
	 * dialler's host check refuses it. */
	struct peer_transport *d = mk_tls(&p, 4, &s[4]);
	add_tls(a, 4, d);
	m = hb(1, 4, 1);
	ck_assert_int_eq(peer_send(a, &m), 0);
	wait_counter(a, C_DIAL_FAILURES, 4, 2);
	ck_assert(!rstats(a, 4).connected);
	ck_assert_uint_eq(rstats(a, 4).queued, 1);

	ck_assert_uint_eq(sink_count(&s[1], 3), 0);
	ck_assert_uint_eq(sink_count(&s[4], 1), 0);
	ck_assert_uint_eq(tstats(d).received, 0);
	/* The trusted pair still talks. */
	uint64_t had = sink_count(&s[2], 1);
	ck_assert_uint_ge(send_until(a, &s[2], 1, 2, had + 1, &c1), had + 1);

	pki_remove(&p);
}
END_TEST

START_TEST(large_messages_tls)
{
	struct pki p;
	pki_make(&p);
	struct sink *s1 = &W.s[1], *s2 = &W.s[2];
	struct peer_transport *a = mk_tls(&p, 1, s1), *b = mk_tls(&p, 2, s2);
	add_tls(b, 1, a);
	add_tls(a, 2, b);
	big_messages(a, s2);
	pki_remove(&p);
}
END_TEST

START_TEST(tls_config_errors)
{
	struct pki p;
	pki_make(&p);
	const char *https[1] = { "https://127.0.0.1:0" }, *http[1] = { "http://127.0.0.1:0" };
	struct peer_config cfg = { .id = 1, .cluster_id = CID, .listen_urls = https, .n_listen = 1,
				   .tls = { .cert_file = p.cert[1], .key_file = p.key[2],
					    .trusted_ca_file = p.ca } };
	struct peer_transport *t = NULL;
	/* key that does not match the certificate */
	ck_assert_int_eq(peer_transport_new(&cfg, &t), KC_EINVALID);
	cfg.tls.key_file = "/nonexistent/key.pem";
	ck_assert_int_eq(peer_transport_new(&cfg, &t), KC_EINVALID);
	cfg.tls.key_file = NULL;
	ck_assert_int_eq(peer_transport_new(&cfg, &t), -EINVAL);
	/* a certificate with a plain http URL */
	cfg.tls.key_file = p.key[1];
	cfg.listen_urls = http;
	ck_assert_int_eq(peer_transport_new(&cfg, &t), -EINVAL);
	cfg.listen_urls = https;
	ck_assert_int_eq(peer_transport_new(&cfg, &t), 0);
	ck_assert_int_eq(peer_add(t, 2, "http://127.0.0.1:1"), -EINVAL);
	ck_assert_int_eq(peer_add(t, 2, "https://127.0.0.1:1"), 0);
	peer_transport_free(t);
	pki_remove(&p);
}
END_TEST

static Suite *peer_suite(void)
{
	Suite *s = suite_create("peer");
	TCase *tc = tcase_create("transport");
	tcase_set_timeout(tc, 60);
	tcase_add_checked_fixture(tc, world_setup, world_teardown);
	tcase_add_test(tc, three_members_all_directions);
	tcase_add_test(tc, late_peer_backoff_then_delivery);
	tcase_add_test(tc, restarted_peer_is_reconnected);
	tcase_add_test(tc, bad_frames_close_only_that_connection);
	tcase_add_test(tc, newer_stream_replaces_older);
	tcase_add_test(tc, silent_connection_times_out);
	tcase_add_test(tc, full_queue_drops_and_counts);
	tcase_add_test(tc, large_messages_plain);
	tcase_add_test(tc, callback_may_send);
	tcase_add_test(tc, receiver_needs_known_sender);
	tcase_add_test(tc, urls_and_limits);
	tcase_add_test(tc, tls_mutual_auth);
	tcase_add_test(tc, large_messages_tls);
	tcase_add_test(tc, tls_config_errors);
	suite_add_tcase(s, tc);
	return s;
}

KC_TEST_MAIN(peer_suite)
