/* kube-store as a Raft cluster: three real engines in one process, each with its own data
 * dir, talking over real peer transports on 127.0.0.1. Writes through the leader and
 * through followers, linearizable reads from every member, a restarted member rejoining,
 * a fourth member added that catches up by InstallSnapshot, a follower-forwarded write
 * across a leader change (acknowledged => durable, else KV_ETIMEOUT), and the Raft WAL
 * replay rules (a conflicting suffix replaced). Every wait is a blocking engine call
 * (a put waits for a leader and its commit; a linearizable read waits for its ReadIndex),
 * bounded by the engine's request timeout. */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>

#include "../../store/cluster.h"
#include "../../store/kv.h"
#include "../../store/raft_wal.h"
#include "kc_test.h"

#include "kvtest.h"

#define NMAX 4

struct member {
	char *dir;
	char name[16];
	char peer[64], client[64];
	struct kv *kv;
};

struct cluster {
	struct member m[NMAX];
	size_t n;
	char initial[512];
};

static int free_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert_int_ge(fd, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	socklen_t l = sizeof(a);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &l), 0);
	close(fd);
	return ntohs(a.sin_port);
}

static void member_init(struct member *m, int i)
{
	m->dir = kvt_tmpdir();
	snprintf(m->name, sizeof(m->name), "m%d", i);
	snprintf(m->peer, sizeof(m->peer), "http://127.0.0.1:%d", free_port());
	snprintf(m->client, sizeof(m->client), "http://127.0.0.1:%d", free_port());
}

static int member_open(struct member *m, const char *initial, bool existing,
		       uint64_t snapcount)
{
	struct kv_config cfg;
	memset(&cfg, 0, sizeof(cfg));
	const char *peers[1] = { m->peer }, *clients[1] = { m->client };
	cfg.data_dir = m->dir;
	cfg.name = m->name;
	cfg.peer_urls = peers;
	cfg.n_peer_urls = 1;
	cfg.client_urls = clients;
	cfg.n_client_urls = 1;
	cfg.listen_peer_urls = peers;
	cfg.n_listen_peer_urls = 1;
	cfg.initial_cluster = initial;
	cfg.initial_cluster_existing = existing;
	cfg.heartbeat_ms = 50;
	cfg.election_ms = 500;
	cfg.snapshot_count = snapcount;
	cfg.unsafe_no_fsync = true;
	return kv_open(&cfg, &m->kv);
}

static void cluster_start(struct cluster *c, size_t n, uint64_t snapcount)
{
	memset(c, 0, sizeof(*c));
	c->n = n;
	size_t off = 0;
	for (size_t i = 0; i < n; i++) {
		member_init(&c->m[i], (int)i + 1);
		off += (size_t)snprintf(c->initial + off, sizeof(c->initial) - off, "%s%s=%s",
					i ? "," : "", c->m[i].name, c->m[i].peer);
	}
	for (size_t i = 0; i < n; i++)
		ck_assert_int_eq(member_open(&c->m[i], c->initial, false, snapcount), 0);
}

static void cluster_stop(struct cluster *c)
{
	for (size_t i = 0; i < NMAX; i++) {
		kv_close(c->m[i].kv);
		c->m[i].kv = NULL;
		if (c->m[i].dir) {
			kvt_rm_rf(c->m[i].dir);
			free(c->m[i].dir);
			c->m[i].dir = NULL;
		}
	}
}

/* Index of the member that member i believes leads (after a committed write). */
static int leader_index(struct cluster *c, size_t i)
{
	uint64_t lead = kv_leader(c->m[i].kv);
	for (size_t k = 0; k < NMAX; k++)
		if (c->m[k].kv && kv_member_id(c->m[k].kv) == lead)
			return (int)k;
	return -1;
}

static void expect_value(struct kv *kv, const char *k, const char *want)
{
	char buf[64];
	ck_assert_int_eq(kvt_get_at(kv, k, 0, buf, sizeof(buf), NULL), 0);
	ck_assert_str_eq(buf, want);
}

START_TEST(writes_through_any_member_read_linearizably_everywhere)
{
	struct cluster c;
	cluster_start(&c, 3, 0);
	/* Every member derived the same cluster id from --initial-cluster. */
	ck_assert_uint_ne(kv_cluster_id(c.m[0].kv), 0);
	ck_assert_uint_eq(kv_cluster_id(c.m[0].kv), kv_cluster_id(c.m[1].kv));
	ck_assert_uint_eq(kv_cluster_id(c.m[0].kv), kv_cluster_id(c.m[2].kv));
	ck_assert_uint_ne(kv_member_id(c.m[0].kv), kv_member_id(c.m[1].kv));
	/* A put waits for an elected leader, then for its commit. */
	ck_assert_int_gt(kvt_put(c.m[0].kv, "first", "1"), 0);
	int l = leader_index(&c, 0);
	ck_assert_int_ge(l, 0);
	size_t f = (size_t)(l + 1) % 3;
	/* through the leader and through a follower */
	int64_t r1 = kvt_put(c.m[l].kv, "via-leader", "L");
	int64_t r2 = kvt_put(c.m[f].kv, "via-follower", "F");
	ck_assert_int_gt(r1, 0);
	ck_assert_int_gt(r2, r1);
	for (size_t i = 0; i < 3; i++) {
		expect_value(c.m[i].kv, "via-leader", "L");
		expect_value(c.m[i].kv, "via-follower", "F");
		ck_assert_int_ge(kv_current_rev(c.m[i].kv), r2);
	}
	/* Every member lists all three. */
	Kvpb__MemberListRequest mr = KVPB__MEMBER_LIST_REQUEST__INIT;
	Kvpb__MemberListResponse *ml = NULL;
	ck_assert_int_eq(kv_member_list(c.m[f].kv, &mr, &ml), 0);
	ck_assert_uint_eq(ml->n_members, 3);
	kvpb__member_list_response__free_unpacked(ml, NULL);
	/* status: the follower names the leader; raft indexes move */
	Kvpb__StatusRequest sq = KVPB__STATUS_REQUEST__INIT;
	Kvpb__StatusResponse *st = NULL;
	ck_assert_int_eq(kv_status(c.m[f].kv, &sq, &st), 0);
	ck_assert_uint_eq(st->leader, kv_member_id(c.m[l].kv));
	ck_assert_uint_ge(st->raftappliedindex, 4);
	ck_assert_uint_ge(st->raftterm, 1);
	kvpb__status_response__free_unpacked(st, NULL);
	/* equal state everywhere once every member served a linearizable read */
	uint32_t h = kvt_state_hash(c.m[0].kv);
	ck_assert_uint_eq(kvt_state_hash(c.m[1].kv), h);
	ck_assert_uint_eq(kvt_state_hash(c.m[2].kv), h);
	cluster_stop(&c);
}
END_TEST

START_TEST(restarted_member_rejoins_and_catches_up)
{
	struct cluster c;
	cluster_start(&c, 3, 0);
	ck_assert_int_gt(kvt_put(c.m[0].kv, "a", "1"), 0);
	int l = leader_index(&c, 0);
	size_t down = (size_t)(l + 1) % 3, up = (size_t)(l + 2) % 3;
	kv_close(c.m[down].kv);
	c.m[down].kv = NULL;
	/* two of three still commit */
	for (int i = 0; i < 20; i++) {
		char k[16];
		snprintf(k, sizeof(k), "while-down-%d", i);
		ck_assert_int_gt(kvt_put(c.m[up].kv, k, "x"), 0);
	}
	ck_assert_int_eq(member_open(&c.m[down], c.initial, false, 0), 0);
	/* The linearizable read on the restarted member waits until it applied the
	 * leader's commit index. */
	expect_value(c.m[down].kv, "while-down-19", "x");
	expect_value(c.m[down].kv, "a", "1");
	ck_assert_uint_eq(kvt_state_hash(c.m[down].kv), kvt_state_hash(c.m[up].kv));
	cluster_stop(&c);
}
END_TEST

struct async_put {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int done, ok, timeouts, other;
};

struct put_slot {
	struct async_put *ap;
	bool acked;
};

static void put_done(void *arg, int err, void *resp)
{
	struct put_slot *slot = arg;
	struct async_put *ap = slot->ap;
	pthread_mutex_lock(&ap->mu);
	if (!err) {
		ap->ok++;
		slot->acked = true;
	} else if (err == KV_ETIMEOUT) {
		ap->timeouts++;
	} else {
		ap->other++;
	}
	ap->done++;
	pthread_cond_signal(&ap->cv);
	pthread_mutex_unlock(&ap->mu);
	if (resp)
		kvpb__put_response__free_unpacked(resp, NULL);
}

START_TEST(forwarded_writes_across_leader_loss_are_durable_or_time_out)
{
	struct cluster c;
	cluster_start(&c, 3, 0);
	ck_assert_int_gt(kvt_put(c.m[0].kv, "warm", "1"), 0);
	int l = leader_index(&c, 0);
	size_t f = (size_t)(l + 1) % 3;
	static struct async_put ap;
	static struct put_slot slots[64];
	memset(&ap, 0, sizeof(ap));
	memset(slots, 0, sizeof(slots));
	pthread_mutex_init(&ap.mu, NULL);
	pthread_cond_init(&ap.cv, NULL);
	const int N = 40;
	for (int i = 0; i < N; i++) {
		char k[16];
		snprintf(k, sizeof(k), "fw-%02d", i);
		Kvpb__PutRequest r = KVPB__PUT_REQUEST__INIT;
		r.key = kvt_bin(k);
		r.value = kvt_bin("v");
		slots[i].ap = &ap;
		ck_assert_int_eq(kv_put_async(c.m[f].kv, &r, put_done, &slots[i]), 0);
		if (i == N / 2) {
			/* the leader goes away mid-stream */
			kv_close(c.m[l].kv);
			c.m[l].kv = NULL;
		}
	}
	pthread_mutex_lock(&ap.mu);
	while (ap.done < N)
		pthread_cond_wait(&ap.cv, &ap.mu); /* each callback comes by the request timeout */
	pthread_mutex_unlock(&ap.mu);
	ck_assert_int_eq(ap.other, 0);
	ck_assert_int_eq(ap.ok + ap.timeouts, N);
	/* every acknowledged write is on both survivors (never a false success) */
	size_t s2 = (size_t)(l + 2) % 3;
	ck_assert_int_gt(kvt_put(c.m[s2].kv, "after", "1"), 0);
	for (int i = 0; i < N; i++) {
		if (!slots[i].acked)
			continue;
		char k[16];
		snprintf(k, sizeof(k), "fw-%02d", i);
		expect_value(c.m[f].kv, k, "v");
		expect_value(c.m[s2].kv, k, "v");
	}
	ck_assert_uint_ne(kv_leader(c.m[f].kv), 0);
	cluster_stop(&c);
}
END_TEST

struct watch_seen {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int events, canceled;
	bool seen[40];
};

static int on_watch(void *arg, const Kvpb__WatchResponse *resp)
{
	struct watch_seen *w = arg;
	pthread_mutex_lock(&w->mu);
	for (size_t i = 0; i < resp->n_events; i++) {
		const Kvpb__KeyValue *kv = resp->events[i]->kv;
		int k;
		if (kv && kv->key.len == 3 && kv->key.data[0] == 'k' &&
		    sscanf((const char *)kv->key.data + 1, "%2d", &k) == 1 && k >= 0 && k < 40 &&
		    !w->seen[k]) {
			w->seen[k] = true;
			w->events++;
		}
	}
	if (resp->canceled)
		w->canceled++;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
	return 0;
}

START_TEST(added_member_catches_up_by_snapshot)
{
	struct cluster c;
	cluster_start(&c, 3, 10); /* snapshot (and compact the log) every 10 entries */
	for (int i = 0; i < 40; i++) {
		char k[16];
		snprintf(k, sizeof(k), "k%02d", i);
		ck_assert_int_gt(kvt_put(c.m[(size_t)i % 3].kv, k, "val"), 0);
	}
	member_init(&c.m[3], 4);
	Kvpb__MemberAddRequest ar = KVPB__MEMBER_ADD_REQUEST__INIT;
	char *urls[1] = { c.m[3].peer };
	ar.peerurls = urls;
	ar.n_peerurls = 1;
	Kvpb__MemberAddResponse *resp = NULL;
	ck_assert_int_eq(kv_member_add(c.m[1].kv, &ar, &resp), 0);
	ck_assert_ptr_nonnull(resp->member);
	ck_assert_uint_eq(resp->n_members, 4);
	uint64_t new_id = resp->member->id;
	kvpb__member_add_response__free_unpacked(resp, NULL);
	/* adding the same peer URL again is etcd's error */
	ck_assert_int_eq(kv_member_add(c.m[0].kv, &ar, &resp), KV_EPEERURLEXIST);
	char initial[600];
	snprintf(initial, sizeof(initial), "%s,%s=%s", c.initial, c.m[3].name, c.m[3].peer);
	ck_assert_int_eq(member_open(&c.m[3], initial, true, 10), 0);
	ck_assert_uint_eq(kv_member_id(c.m[3].kv), new_id);
	/* A watcher on the new member from revision 1: when the leader's snapshot replaces
	 * the (empty) state, the watcher resyncs from the new history (etcd's
	 * watchableStore.Restore) and sees every key. */
	static struct watch_seen ws;
	memset(&ws, 0, sizeof(ws));
	pthread_mutex_init(&ws.mu, NULL);
	pthread_cond_init(&ws.cv, NULL);
	Kvpb__WatchCreateRequest wr = KVPB__WATCH_CREATE_REQUEST__INIT;
	wr.key = kvt_bin("k");
	wr.range_end = kvt_bin("l");
	wr.start_revision = 1;
	struct kv_watch *w = NULL;
	ck_assert_int_eq(kv_watch_create(c.m[3].kv, &wr, 1, on_watch, &ws, &w), 0);
	/* the linearizable read waits for the new member to catch up */
	expect_value(c.m[3].kv, "k39", "val");
	expect_value(c.m[3].kv, "k00", "val");
	struct kv_stats st;
	kv_stats(c.m[3].kv, &st);
	ck_assert_uint_ge(st.applied_index, 40);
	/* it caught up by InstallSnapshot: its snapshot directory holds the leader's */
	char *snapdir = NULL;
	ck_assert(asprintf(&snapdir, "%s/member/snap", c.m[3].dir) > 0);
	DIR *d = opendir(snapdir);
	ck_assert_ptr_nonnull(d);
	int snaps = 0;
	struct dirent *e;
	while ((e = readdir(d)))
		snaps += strstr(e->d_name, ".snap") != NULL;
	closedir(d);
	free(snapdir);
	ck_assert_int_ge(snaps, 1);
	struct timespec dl;
	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += 30;
	pthread_mutex_lock(&ws.mu);
	while (ws.events < 40 && !ws.canceled &&
	       pthread_cond_timedwait(&ws.cv, &ws.mu, &dl) == 0)
		;
	int got = ws.events, canceled = ws.canceled;
	pthread_mutex_unlock(&ws.mu);
	ck_assert_int_eq(canceled, 0);
	ck_assert_int_eq(got, 40);
	kv_watch_cancel(c.m[3].kv, w, false);
	ck_assert_int_gt(kvt_put(c.m[3].kv, "from-new", "yes"), 0);
	expect_value(c.m[0].kv, "from-new", "yes");
	cluster_stop(&c);
}
END_TEST

START_TEST(quorum_loss_fails_writes_and_reads_in_bounded_time)
{
	struct cluster c;
	cluster_start(&c, 3, 0);
	ck_assert_int_gt(kvt_put(c.m[0].kv, "a", "1"), 0);
	for (size_t i = 1; i < 3; i++) {
		kv_close(c.m[i].kv);
		c.m[i].kv = NULL;
	}
	/* etcd: "etcdserver: request timed out" after its request timeout, never a hang
	 * and never a success without a quorum. */
	Kvpb__PutRequest r = KVPB__PUT_REQUEST__INIT;
	r.key = kvt_bin("lost");
	r.value = kvt_bin("x");
	Kvpb__PutResponse *resp = NULL;
	ck_assert_int_eq(kv_put(c.m[0].kv, &r, &resp), KV_ETIMEOUT);
	ck_assert_ptr_null(resp);
	char buf[16];
	ck_assert_int_eq(kvt_get_at(c.m[0].kv, "a", 0, buf, sizeof(buf), NULL), KV_ETIMEOUT);
	/* a serializable read is still served locally */
	Kvpb__RangeRequest rr = KVPB__RANGE_REQUEST__INIT;
	rr.key = kvt_bin("a");
	rr.serializable = true;
	Kvpb__RangeResponse *rresp = NULL;
	ck_assert_int_eq(kv_range(c.m[0].kv, &rr, &rresp), 0);
	ck_assert_uint_eq(rresp->n_kvs, 1);
	kvpb__range_response__free_unpacked(rresp, NULL);
	cluster_stop(&c);
}
END_TEST

START_TEST(wal_replay_replaces_a_conflicting_suffix)
{
	char *dir = kvt_tmpdir();
	struct rwal rw;
	ck_assert_int_eq(rwal_open(&rw, dir, 0, true, 0, 0), 0);
	ck_assert_uint_eq(rw.records, 0);
	struct raft_entry e1[5];
	uint8_t d[5] = { 'a', 'b', 'c', 'd', 'e' };
	for (int i = 0; i < 5; i++)
		e1[i] = (struct raft_entry){ 1, (uint64_t)i + 1, RAFT_ENTRY_NORMAL, &d[i], 1 };
	struct raft_ready rd;
	memset(&rd, 0, sizeof(rd));
	rd.hs_changed = true;
	rd.hs = (struct raft_hard_state){ 1, 7, 2 };
	rd.entries = e1;
	rd.n_entries = 5;
	bool synced;
	ck_assert_int_eq(rwal_save(&rw, &rd, &synced), 0);
	ck_assert(synced);
	/* A new leader replaced entries 4.. with its own (term 2). */
	uint8_t x[2] = { 'X', 'Y' };
	struct raft_entry e2[2] = { { 2, 4, RAFT_ENTRY_NORMAL, &x[0], 1 },
				    { 2, 5, RAFT_ENTRY_NOOP, &x[1], 1 } };
	memset(&rd, 0, sizeof(rd));
	rd.hs_changed = true;
	rd.hs = (struct raft_hard_state){ 2, 0, 3 };
	rd.entries = e2;
	rd.n_entries = 2;
	ck_assert_int_eq(rwal_save(&rw, &rd, &synced), 0);
	/* and then only 4 was kept, followed by a new 5 and 6 */
	struct raft_entry e3[2] = { { 3, 5, RAFT_ENTRY_NORMAL, &x[0], 1 },
				    { 3, 6, RAFT_ENTRY_NORMAL, &x[1], 1 } };
	memset(&rd, 0, sizeof(rd));
	rd.entries = e3;
	rd.n_entries = 2;
	ck_assert_int_eq(rwal_save(&rw, &rd, &synced), 0);
	rwal_close(&rw);

	ck_assert_int_eq(rwal_open(&rw, dir, 0, true, 0, 0), 0);
	ck_assert(rw.has_hs);
	ck_assert_uint_eq(rw.hs.term, 2);
	ck_assert_uint_eq(rw.hs.commit, 3);
	ck_assert_uint_eq(rw.n, 6);
	uint64_t want_term[6] = { 1, 1, 1, 2, 3, 3 };
	char want_data[6] = { 'a', 'b', 'c', 'X', 'X', 'Y' };
	for (size_t i = 0; i < 6; i++) {
		ck_assert_uint_eq(rw.ents[i].index, i + 1);
		ck_assert_uint_eq(rw.ents[i].term, want_term[i]);
		ck_assert_int_eq(rw.ents[i].data[0], want_data[i]);
	}
	rwal_close(&rw);
	/* With a snapshot at 4, only 5 and 6 come back. */
	ck_assert_int_eq(rwal_open(&rw, dir, 0, true, 4, 2), 0);
	ck_assert_uint_eq(rw.n, 2);
	ck_assert_uint_eq(rw.ents[0].index, 5);
	rwal_close(&rw);
	kvt_rm_rf(dir);
	free(dir);
}
END_TEST

START_TEST(ids_are_derived_as_etcd_does)
{
	/* Observed from etcd 3.4.23: --initial-cluster x=http://127.0.0.1:23999
	 * --initial-cluster-token tok gives member 16827659783992644946 in cluster
	 * 16678205608440164366. */
	const char *urls[1] = { "http://127.0.0.1:23999" };
	uint64_t id = cluster_member_id(urls, 1, "tok", 0);
	ck_assert_uint_eq(id, UINT64_C(16827659783992644946));
	ck_assert_uint_eq(cluster_gen_id(&id, 1), UINT64_C(16678205608440164366));
	struct cluster_members ms;
	char err[256];
	ck_assert_int_eq(cluster_parse_initial("x=http://127.0.0.1:23999", "tok", &ms, err,
					       sizeof(err)), 0);
	ck_assert_uint_eq(ms.n, 1);
	ck_assert_uint_eq(ms.v[0].id, id);
	ck_assert_str_eq(ms.v[0].name, "x");
	/* the member list survives its binary form */
	uint8_t *blob = NULL;
	size_t len = 0;
	ck_assert_int_eq(cluster_encode(&ms, &blob, &len), 0);
	struct cluster_members back;
	ck_assert_int_eq(cluster_decode(blob, len, &back), 0);
	ck_assert_uint_eq(back.n, 1);
	ck_assert_uint_eq(back.v[0].id, id);
	ck_assert_str_eq(back.v[0].peer_urls[0], "http://127.0.0.1:23999");
	/* and truncated bytes are refused, not misread */
	cluster_members_free(&ms);
	ck_assert_int_eq(cluster_decode(blob, len - 1, &ms), -EINVAL);
	ck_assert_uint_eq(ms.n, 0);
	free(blob);
	cluster_members_free(&back);
	/* a URL used by two members, or a malformed entry, is refused */
	ck_assert_int_eq(cluster_parse_initial("a=http://h:1,b=http://h:1", "t", &ms, err,
					       sizeof(err)), -EINVAL);
	ck_assert_int_eq(cluster_parse_initial("a", "t", &ms, err, sizeof(err)), -EINVAL);
}
END_TEST

START_TEST(bad_cluster_flags_are_refused)
{
	char *dir = kvt_tmpdir();
	struct member m;
	memset(&m, 0, sizeof(m));
	m.dir = dir;
	snprintf(m.name, sizeof(m.name), "zz");
	snprintf(m.peer, sizeof(m.peer), "http://127.0.0.1:%d", free_port());
	snprintf(m.client, sizeof(m.client), "http://127.0.0.1:%d", free_port());
	/* our name is not in --initial-cluster */
	ck_assert_int_eq(member_open(&m, "a=http://127.0.0.1:1,b=http://127.0.0.1:2", false, 0),
			 -EINVAL);
	/* our advertised peer URL differs from the one --initial-cluster gives us */
	ck_assert_int_eq(member_open(&m, "zz=http://127.0.0.1:3", false, 0), -EINVAL);
	kvt_rm_rf(dir);
	free(dir);
}
END_TEST

static Suite *kv_raft_suite(void)
{
	Suite *s = suite_create("kv_raft");
	TCase *tc = tcase_create("cluster");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, writes_through_any_member_read_linearizably_everywhere);
	tcase_add_test(tc, restarted_member_rejoins_and_catches_up);
	tcase_add_test(tc, forwarded_writes_across_leader_loss_are_durable_or_time_out);
	tcase_add_test(tc, added_member_catches_up_by_snapshot);
	tcase_add_test(tc, quorum_loss_fails_writes_and_reads_in_bounded_time);
	tcase_add_test(tc, wal_replay_replaces_a_conflicting_suffix);
	tcase_add_test(tc, bad_cluster_flags_are_refused);
	tcase_add_test(tc, ids_are_derived_as_etcd_does);
	suite_add_tcase(s, tc);
	return s;
}

KC_TEST_MAIN(kv_raft_suite)
