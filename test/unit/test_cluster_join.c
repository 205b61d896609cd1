/* Joining a running cluster with etcd 3.4's runtime member ids (store/cluster.c,
 * store/peer_members.c, store/backend_join.c):
 *   - the runtime id is sha1(sorted peer URLs + Unix second of the add), checked against an
 *     id observed from etcd 3.4.23;
 *   - cluster_assign_ids is etcd's ValidateClusterAndAssignIDs (ids taken by peer URLs,
 *     "member count is unequal", "unmatched member while checking PeerURLs (...)");
 *   - the member-list exchange on the peer port, answered by a peer transport;
 *   - an engine joining with --initial-cluster-state existing takes its runtime id from the
 *     running member, and one whose peer URLs the cluster does not list refuses to start. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "errors.h"
#include "kc_test.h"
#include "kvtest.h"
#include "../../store/cluster.h"
#include "../../store/peer.h"
#include "../../store/peer_members.h"

START_TEST(runtime_id_is_etcds)
{
	/* etcd 3.4.23, `etcdctl member add x --learner --peer-urls=http://10.9.8.7:2380` at
	 * Unix second 1795635663 answered ID 7145937427856575481 (the default token
	 * "etcd-cluster" is not part of a runtime id). */
	const char *u[1] = { "http://10.9.8.7:2380" };
	ck_assert_uint_eq(cluster_runtime_member_id(u, 1, 1795635663), UINT64_C(7145937427856575481));
	/* a second later, another id: the same host can come back */
	ck_assert_uint_ne(cluster_runtime_member_id(u, 1, 1795635664),
			  UINT64_C(7145937427856575481));
	/* and it is not the bootstrap id of those URLs */
	ck_assert_uint_ne(cluster_member_id(u, 1, "etcd-cluster", 0),
			  cluster_runtime_member_id(u, 1, 1795635663));
	/* URL order does not matter (etcd sorts them) */
	const char *ab[2] = { "http://a:1", "http://b:1" }, *ba[2] = { "http://b:1", "http://a:1" };
	ck_assert_uint_eq(cluster_runtime_member_id(ab, 2, 42), cluster_runtime_member_id(ba, 2, 42));
}
END_TEST

/* The running cluster as a joiner would see it: a and b bootstrapped with token "tok", c
 * added at runtime at second t (not started: no name), d removed long ago. */
static void running(struct cluster_members *ex, int64_t t, const char *curl)
{
	char err[256];
	ck_assert_int_eq(cluster_parse_initial("a=http://10.0.0.1:2380,b=http://10.0.0.2:2380",
					       "tok", ex, err, sizeof(err)), 0);
	const char *c[1] = { curl };
	ck_assert_int_eq(cluster_add(ex, cluster_runtime_member_id(c, 1, t), "", c, 1, NULL, 0,
				     true), 0);
	const char *d[1] = { "http://10.0.0.9:2380" };
	uint64_t did = cluster_runtime_member_id(d, 1, t - 100);
	ck_assert_int_eq(cluster_add(ex, did, "d", d, 1, NULL, 0, false), 0);
	ck_assert_int_eq(cluster_remove(ex, did), 0);
}

START_TEST(assign_ids_takes_the_running_clusters_ids)
{
	struct cluster_members ex, local;
	running(&ex, 1000, "http://10.0.0.3:2380");
	char err[512] = "";
	/* --initial-cluster as `member add` printed it, in another order */
	ck_assert_int_eq(cluster_parse_initial("c=http://10.0.0.3:2380,b=http://10.0.0.2:2380,"
					       "a=http://10.0.0.1:2380", "tok", &local, err,
					       sizeof(err)), 0);
	const char *c[1] = { "http://10.0.0.3:2380" };
	uint64_t cid = cluster_runtime_member_id(c, 1, 1000);
	ck_assert_int_eq(cluster_assign_ids(&local, &ex, err, sizeof(err)), 0);
	ck_assert_uint_eq(local.n, 3);
	for (size_t i = 0; i < local.n; i++) {
		/* every id is the running cluster's one for the same URLs, names kept */
		const struct cluster_member *e = cluster_find(&ex, local.v[i].id);
		ck_assert_ptr_nonnull(e);
		ck_assert_str_eq(e->peer_urls[0], local.v[i].peer_urls[0]);
		if (i)
			ck_assert_uint_lt(local.v[i - 1].id, local.v[i].id); /* still sorted */
	}
	const struct cluster_member *me = cluster_find(&local, cid);
	ck_assert_ptr_nonnull(me);
	ck_assert_str_eq(me->name, "c");
	cluster_members_free(&local);
	cluster_members_free(&ex);
}
END_TEST

START_TEST(assign_ids_refuses_what_etcd_refuses)
{
	struct cluster_members ex, local;
	running(&ex, 1000, "http://10.0.0.3:2380");
	char err[512];
	/* a joiner that lists only itself and one member */
	ck_assert_int_eq(cluster_parse_initial("c=http://10.0.0.3:2380,a=http://10.0.0.1:2380",
					       "tok", &local, err, sizeof(err)), 0);
	uint64_t before = local.v[0].id;
	ck_assert_int_eq(cluster_assign_ids(&local, &ex, err, sizeof(err)), -EINVAL);
	ck_assert_str_eq(err, "member count is unequal");
	ck_assert_uint_eq(local.v[0].id, before); /* unchanged on refusal */
	cluster_members_free(&local);
	/* a joiner whose peer URL was never added */
	ck_assert_int_eq(cluster_parse_initial("c=http://10.0.0.4:2380,b=http://10.0.0.2:2380,"
					       "a=http://10.0.0.1:2380", "tok", &local, err,
					       sizeof(err)), 0);
	ck_assert_int_eq(cluster_assign_ids(&local, &ex, err, sizeof(err)), -EINVAL);
	ck_assert_str_eq(err, "unmatched member while checking PeerURLs "
			      "(\"http://10.0.0.3:2380\"(resolved from \"http://10.0.0.3:2380\") != "
			      "\"http://10.0.0.4:2380\"(resolved from \"http://10.0.0.4:2380\"))");
	cluster_members_free(&local);
	/* a joiner that gives itself two URLs where the cluster has one */
	ck_assert_int_eq(cluster_parse_initial("c=http://10.0.0.3:2380,c=http://10.0.0.5:2380,"
					       "b=http://10.0.0.2:2380,a=http://10.0.0.1:2380",
					       "tok", &local, err, sizeof(err)), 0);
	ck_assert_int_eq(cluster_assign_ids(&local, &ex, err, sizeof(err)), -EINVAL);
	ck_assert_str_eq(err, "unmatched member while checking PeerURLs (len([\"http://10.0.0.3:2380\"]) "
			      "!= len([\"http://10.0.0.3:2380\" \"http://10.0.0.5:2380\"]))");
	cluster_members_free(&local);
	cluster_members_free(&ex);
}
END_TEST

START_TEST(cluster_string_is_etcds)
{
	struct cluster_members m = { 0 };
	const char *p[1] = { "http://localhost:2380" }, *c[1] = { "http://localhost:2379" };
	ck_assert_int_eq(cluster_add(&m, 0x8e9e05c52164694dULL, "default", p, 1, c, 1, false), 0);
	ck_assert_int_eq(cluster_add(&m, 0x1234, "x", p, 0, NULL, 0, true), 0);
	ck_assert_int_eq(cluster_remove(&m, 0x1234), 0);
	char buf[512];
	cluster_string(&m, 0xcdf818194e3a8c32ULL, buf, sizeof(buf));
	ck_assert_str_eq(buf, "{ClusterID:cdf818194e3a8c32 Members:[&{ID:8e9e05c52164694d "
			      "RaftAttributes:{PeerURLs:[http://localhost:2380] IsLearner:false} "
			      "Attributes:{Name:default ClientURLs:[http://localhost:2379]}}] "
			      "RemovedMemberIDs:[1234]}");
	char small[16];
	cluster_string(&m, 1, small, sizeof(small)); /* truncated, still terminated */
	ck_assert_uint_eq(strlen(small), sizeof(small) - 1);
	cluster_members_free(&m);
}
END_TEST

/* ---- the exchange on the peer port ---- */

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

static struct cluster_members served;

static int serve(void *arg, uint8_t **blob, size_t *len)
{
	(void)arg;
	return cluster_encode(&served, blob, len);
}

START_TEST(peer_port_answers_the_member_list)
{
	running(&served, 1000, "http://10.0.0.3:2380");
	const char *listen[1] = { "http://127.0.0.1:0" };
	struct peer_config cfg = { .id = 7, .cluster_id = 0xc1u, .listen_urls = listen, .n_listen = 1 };
	struct peer_transport *t = NULL;
	ck_assert_int_eq(peer_transport_new(&cfg, &t), 0);
	char url[64], err[512];
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", peer_listen_port(t, 0));
	uint64_t cid = 0;
	struct cluster_members got;
	/* no source yet (a member still starting): closed unanswered, never a wrong list */
	ck_assert_int_eq(peer_members_fetch(url, NULL, 5 * KC_NSEC_PER_SEC, &cid, &got, err,
					    sizeof(err)), KC_ECLOSED);
	peer_set_members_source(t, serve, NULL);
	ck_assert_int_eq(peer_members_fetch(url, NULL, 5 * KC_NSEC_PER_SEC, &cid, &got, err,
					    sizeof(err)), 0);
	ck_assert_uint_eq(cid, 0xc1u);
	ck_assert_uint_eq(got.n, served.n);
	for (size_t i = 0; i < got.n; i++) {
		ck_assert_uint_eq(got.v[i].id, served.v[i].id);
		ck_assert_str_eq(got.v[i].peer_urls[0], served.v[i].peer_urls[0]);
		ck_assert_int_eq(got.v[i].learner, served.v[i].learner);
	}
	ck_assert_uint_eq(got.n_removed, 1);
	ck_assert(cluster_is_removed(&got, served.removed[0]));
	cluster_members_free(&got);
	struct peer_transport_stats st;
	peer_transport_stats_get(t, &st);
	ck_assert_uint_eq(st.members_served, 1);
	/* a dead port, a bad URL, a scheme that does not match the TLS setting */
	char dead[64];
	snprintf(dead, sizeof(dead), "http://127.0.0.1:%d", free_port());
	ck_assert_int_eq(peer_members_fetch(dead, NULL, 5 * KC_NSEC_PER_SEC, &cid, &got, err,
					    sizeof(err)), -ECONNREFUSED);
	ck_assert_int_eq(peer_members_fetch("127.0.0.1:1", NULL, KC_NSEC_PER_SEC, &cid, &got, err,
					    sizeof(err)), -EINVAL);
	ck_assert_int_eq(peer_members_fetch("https://127.0.0.1:1", NULL, KC_NSEC_PER_SEC, &cid, &got,
					    err, sizeof(err)), -EINVAL);
	/* the transport still serves after answering */
	ck_assert_int_eq(peer_members_fetch(url, NULL, 5 * KC_NSEC_PER_SEC, &cid, &got, err,
					    sizeof(err)), 0);
	cluster_members_free(&got);
	peer_transport_free(t);
	cluster_members_free(&served);
}
END_TEST

/* ---- engines ---- */

struct node {
	char *dir;
	char name[16], peer[64], client[64];
	struct kv *kv;
};

static void node_init(struct node *n, const char *name)
{
	n->dir = kvt_tmpdir();
	snprintf(n->name, sizeof(n->name), "%s", name);
	snprintf(n->peer, sizeof(n->peer), "http://127.0.0.1:%d", free_port());
	snprintf(n->client, sizeof(n->client), "http://127.0.0.1:%d", free_port());
	n->kv = NULL;
}

static int node_open(struct node *n, const char *initial, bool existing)
{
	struct kv_config cfg;
	memset(&cfg, 0, sizeof(cfg));
	const char *peers[1] = { n->peer }, *clients[1] = { n->client };
	cfg.data_dir = n->dir;
	cfg.name = n->name;
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
	cfg.unsafe_no_fsync = true;
	return kv_open(&cfg, &n->kv);
}

static void node_free(struct node *n)
{
	kv_close(n->kv);
	n->kv = NULL;
	kvt_rm_rf(n->dir);
	free(n->dir);
}

START_TEST(joiner_takes_its_runtime_id_from_the_cluster)
{
	struct node a, b, c;
	node_init(&a, "a");
	node_init(&b, "b");
	node_init(&c, "c");
	char initial[256];
	snprintf(initial, sizeof(initial), "a=%s", a.peer);
	ck_assert_int_eq(node_open(&a, initial, false), 0);
	ck_assert_int_gt(kvt_put(a.kv, "k", "v"), 0);
	/* b is added as a learner (a stays the only voter, so the test needs no quorum) */
	char *urls[1] = { b.peer };
	Kvpb__MemberAddRequest ar = KVPB__MEMBER_ADD_REQUEST__INIT;
	ar.peerurls = urls;
	ar.n_peerurls = 1;
	ar.islearner = true;
	Kvpb__MemberAddResponse *resp = NULL;
	ck_assert_int_eq(kv_member_add(a.kv, &ar, &resp), 0);
	uint64_t bid = resp->member->id;
	kvpb__member_add_response__free_unpacked(resp, NULL);
	const char *bu[1] = { b.peer };
	/* a runtime id: not derivable from --initial-cluster */
	ck_assert_uint_ne(bid, cluster_member_id(bu, 1, "etcd-cluster", 0));

	/* c's peer URL was never added: etcd's "unmatched member" refusal, nothing started */
	snprintf(initial, sizeof(initial), "a=%s,c=%s", a.peer, c.peer);
	ck_assert_int_eq(node_open(&c, initial, true), -EINVAL);
	ck_assert_ptr_null(c.kv);
	/* b listing a member the cluster does not have: "member count is unequal" */
	snprintf(initial, sizeof(initial), "a=%s,b=%s,c=%s", a.peer, b.peer, c.peer);
	ck_assert_int_eq(node_open(&b, initial, true), -EINVAL);
	ck_assert_ptr_null(b.kv);
	/* b listing only itself has nobody to ask ("cannot fetch cluster info") */
	snprintf(initial, sizeof(initial), "b=%s", b.peer);
	ck_assert_int_eq(node_open(&b, initial, true), -EINVAL);
	/* b with the list `member add` printed joins under the id the cluster gave it */
	snprintf(initial, sizeof(initial), "a=%s,b=%s", a.peer, b.peer);
	ck_assert_int_eq(node_open(&b, initial, true), 0);
	ck_assert_uint_eq(kv_member_id(b.kv), bid);
	ck_assert_uint_eq(kv_cluster_id(b.kv), kv_cluster_id(a.kv));
	/* it catches up: a serializable read on b sees the write (poll under a deadline) */
	char buf[16] = "";
	int64_t deadline = kc_now_mono(kc_clock_real()) + 20 * KC_NSEC_PER_SEC;
	while (kc_now_mono(kc_clock_real()) < deadline) {
		Kvpb__RangeRequest rr = KVPB__RANGE_REQUEST__INIT;
		rr.key = kvt_bin("k");
		rr.serializable = true;
		Kvpb__RangeResponse *rs = NULL;
		if (kv_range(b.kv, &rr, &rs) == 0) {
			bool got = rs->n_kvs == 1;
			if (got)
				snprintf(buf, sizeof(buf), "%.*s", (int)rs->kvs[0]->value.len,
					 (const char *)rs->kvs[0]->value.data);
			kvpb__range_response__free_unpacked(rs, NULL);
			if (got)
				break;
		}
		struct timespec ts = { 0, 20 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
	ck_assert_str_eq(buf, "v");
	/* after a restart b keeps its id (from its WAL, no fetch) */
	kv_close(b.kv);
	b.kv = NULL;
	ck_assert_int_eq(node_open(&b, "b=http://127.0.0.1:1", true), 0);
	ck_assert_uint_eq(kv_member_id(b.kv), bid);
	node_free(&b);
	node_free(&c);
	node_free(&a);
}
END_TEST

static Suite *cluster_join_suite(void)
{
	Suite *s = suite_create("cluster_join");
	TCase *tc = tcase_create("join");
	tcase_set_timeout(tc, 90);
	tcase_add_test(tc, runtime_id_is_etcds);
	tcase_add_test(tc, assign_ids_takes_the_running_clusters_ids);
	tcase_add_test(tc, assign_ids_refuses_what_etcd_refuses);
	tcase_add_test(tc, cluster_string_is_etcds);
	tcase_add_test(tc, peer_port_answers_the_member_list);
	tcase_add_test(tc, joiner_takes_its_runtime_id_from_the_cluster);
	suite_add_tcase(s, tc);
	return s;
}

KC_TEST_MAIN(cluster_join_suite)
