/* The peer transport when a member joins (store/peer.c): a member started with
 * --initial-cluster-state existing does not know the cluster id. Before, its streams were
 * refused ("cluster ID mismatch") and the leader's stream to it sat in the backoff it had
 * grown while the joiner was not running (up to 5 s), so with two voters the leader lost
 * its quorum (the multi-host lab's bring-up). Now the joiner only says hello, the member it
 * greets dials it at once (which tells it the id), and the joiner redials at once.
 * The fake clock never moves in these tests: every dial that happens is one made due by an
 * event, not by a backoff expiring. Every wait is on a condition under a deadline. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "kc_test.h"
#include "../../store/peer.h"

#define CID 0x5eedc1u
#define DEADLINE_MS 5000

struct sink {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	uint64_t count, last_ctx;
};

static void on_recv(void *arg, const struct raft_msg *m)
{
	struct sink *s = arg;
	pthread_mutex_lock(&s->mu);
	s->count++;
	s->last_ctx = m->ctx;
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mu);
}

static uint64_t sink_wait(struct sink *s, uint64_t n, int64_t ms)
{
	struct timespec dl;
	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += ms / 1000;
	dl.tv_nsec += (ms % 1000) * 1000000;
	if (dl.tv_nsec >= 1000000000) {
		dl.tv_sec++;
		dl.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&s->mu);
	while (s->count < n)
		if (pthread_cond_timedwait(&s->cv, &s->mu, &dl) != 0)
			break;
	uint64_t c = s->count;
	pthread_mutex_unlock(&s->mu);
	return c;
}

static struct {
	kc_fake_clock fc;
	struct sink s1, s2;
	struct peer_transport *a, *b;
} W;

static void setup(void)
{
	memset(&W, 0, sizeof W);
	kc_fake_clock_init(&W.fc, 0, 1);
	pthread_mutex_init(&W.s1.mu, NULL);
	pthread_cond_init(&W.s1.cv, NULL);
	pthread_mutex_init(&W.s2.mu, NULL);
	pthread_cond_init(&W.s2.cv, NULL);
}

static void teardown(void)
{
	peer_transport_free(W.a);
	peer_transport_free(W.b);
	kc_fake_clock_close(&W.fc);
}

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

static struct peer_transport *mk(uint64_t id, uint64_t cid, int port, struct sink *s)
{
	char url[64];
	snprintf(url, sizeof url, "http://127.0.0.1:%d", port);
	const char *urls[1] = { url };
	struct peer_config cfg = { .id = id, .cluster_id = cid, .listen_urls = urls, .n_listen = 1,
				   .clock = &W.fc.base, .recv = on_recv, .recv_arg = s };
	struct peer_transport *t = NULL;
	ck_assert_int_eq(peer_transport_new(&cfg, &t), 0);
	return t;
}

static void add(struct peer_transport *t, uint64_t id, int port)
{
	char url[64];
	snprintf(url, sizeof url, "http://127.0.0.1:%d", port);
	ck_assert_int_eq(peer_add(t, id, url), 0);
}

static struct raft_msg hb(uint64_t from, uint64_t to, uint64_t ctx)
{
	struct raft_msg m;
	memset(&m, 0, sizeof m);
	m.type = RAFT_MSG_HEARTBEAT;
	m.from = from;
	m.to = to;
	m.term = 1;
	m.ctx = ctx;
	return m;
}

/* Member 1 dialled 2 before 2 ran (the dial failed; its retry is due only when the frozen
 * clock reaches the backoff). */
static int leader_with_unstarted_member(void)
{
	int p2 = free_port();
	W.a = mk(1, CID, 0, &W.s1);
	add(W.a, 2, p2);
	struct raft_msg m = hb(1, 2, 1);
	ck_assert_int_eq(peer_send(W.a, &m), 0);
	struct peer_remote_stats st;
	for (int i = 0; i < DEADLINE_MS; i++) {
		ck_assert_int_eq(peer_remote_stats_get(W.a, 2, &st), 0);
		if (st.dial_failures >= 1)
			break;
		struct timespec ms = { 0, 1000000 };
		nanosleep(&ms, NULL); /* polling a counter: the transport has no event for it */
	}
	ck_assert_uint_ge(st.dial_failures, 1);
	ck_assert_int_gt(st.backoff_ns, 0);
	return p2;
}

START_TEST(joiner_learns_the_id_and_both_directions_flow)
{
	int p2 = leader_with_unstarted_member();
	W.b = mk(2, 0, p2, &W.s2);
	/* Nothing a joiner says before it knows its cluster could be accepted. */
	struct raft_msg m = hb(2, 1, 1);
	ck_assert_int_eq(peer_send(W.b, &m), -EAGAIN);
	add(W.b, 1, peer_listen_port(W.a, 0));
	/* The joiner's hello makes member 1 dial it now: the queued heartbeat arrives and
	 * the joiner adopts the id, without the clock moving. */
	ck_assert_uint_eq(sink_wait(&W.s2, 1, DEADLINE_MS), 1);
	ck_assert_uint_eq(peer_cluster_id(W.b), CID);
	/* And its answers reach member 1 (the joiner redialled at once, with the id). */
	uint64_t got = 0;
	for (uint64_t ctx = 2; got < 1 && ctx < DEADLINE_MS / 20; ctx++) {
		m = hb(2, 1, ctx);
		int rc = peer_send(W.b, &m);
		ck_assert(rc == 0 || rc == -ENOBUFS);
		got = sink_wait(&W.s1, 1, 20);
	}
	ck_assert_uint_ge(got, 1);
	/* The hello is not a refused connection. */
	struct peer_transport_stats ts;
	peer_transport_stats_get(W.a, &ts);
	ck_assert_uint_eq(ts.rejected, 0);
}
END_TEST

/* Two members of the same cluster: 2 was down long enough for 1's backoff to grow; when 2
 * comes back its own stream to 1 makes 1 dial it at once. */
START_TEST(returning_member_is_dialled_at_once)
{
	int p2 = leader_with_unstarted_member();
	W.b = mk(2, CID, p2, &W.s2);
	add(W.b, 1, peer_listen_port(W.a, 0));
	ck_assert_uint_eq(sink_wait(&W.s2, 1, DEADLINE_MS), 1);
	ck_assert_uint_eq(W.s2.last_ctx, 1);
}
END_TEST

static Suite *peer_join_suite(void)
{
	Suite *s = suite_create("peer_join");
	TCase *tc = tcase_create("join");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, joiner_learns_the_id_and_both_directions_flow);
	tcase_add_test(tc, returning_member_is_dialled_at_once);
	suite_add_tcase(s, tc);
	return s;
}

KC_TEST_MAIN(peer_join_suite)
