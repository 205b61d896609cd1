/* Removed member ids never come back (etcd's RaftCluster.removed): the set kept in the
 * replicated member metadata (store/cluster.c), its binary form (snapshots and the WAL's
 * member record), and the engine answering a re-add of a removed id with etcd's
 * "member not found", also after a restart that replays the log and after one that starts
 * from a snapshot taken after the removal. Runtime ids carry the Unix second of the add
 * (etcd 3.4's MemberAdd), so a removed id comes back only when the same peer URLs are added
 * within the same second; the engine runs on a fake clock to place the adds. */
#include <errno.h>
#include <stdatomic.h>
#include <string.h>

#include "kc_test.h"
#include "kvtest.h"
#include "../../store/cluster.h"

static struct cluster_members two_members(void)
{
	struct cluster_members ms;
	char err[256];
	ck_assert_int_eq(cluster_parse_initial("a=http://10.0.0.1:2380,b=http://10.0.0.2:2380",
					       "tok", &ms, err, sizeof(err)), 0);
	ck_assert_uint_eq(ms.n, 2);
	return ms;
}

START_TEST(remove_records_the_id)
{
	struct cluster_members ms = two_members();
	uint64_t a = ms.v[0].id, b = ms.v[1].id;
	ck_assert(!cluster_is_removed(&ms, a));
	ck_assert_int_eq(cluster_remove(&ms, a), 0);
	ck_assert(cluster_is_removed(&ms, a));
	ck_assert(!cluster_is_removed(&ms, b));
	ck_assert_int_eq(cluster_remove(&ms, a), -ENOENT); /* not a member any more */
	ck_assert_uint_eq(ms.n_removed, 1);
	ck_assert_int_eq(cluster_remove(&ms, b), 0);
	ck_assert(cluster_is_removed(&ms, a) && cluster_is_removed(&ms, b));
	ck_assert_uint_eq(ms.n, 0);
	/* A copy keeps the set. */
	struct cluster_members cp;
	ck_assert_int_eq(cluster_members_copy(&cp, &ms), 0);
	ck_assert(cluster_is_removed(&cp, a) && cluster_is_removed(&cp, b));
	cluster_members_free(&cp);
	cluster_members_free(&ms);
	ck_assert_uint_eq(ms.n_removed, 0);
}
END_TEST

START_TEST(binary_form_keeps_the_removed_ids)
{
	struct cluster_members ms = two_members();
	uint64_t gone = ms.v[1].id, kept = ms.v[0].id;
	/* The form written before removed ids were kept: members only. */
	uint8_t *old = NULL;
	size_t oldlen = 0;
	ck_assert_int_eq(cluster_remove(&ms, gone), 0);
	struct cluster_members tmp = { 0 };
	ck_assert_int_eq(cluster_members_copy(&tmp, &ms), 0);
	free(tmp.removed);
	tmp.removed = NULL;
	tmp.n_removed = 0;
	ck_assert_int_eq(cluster_encode(&tmp, &old, &oldlen), 0);
	cluster_members_free(&tmp);
	struct cluster_members back;
	ck_assert_int_eq(cluster_decode(old, oldlen - 4, &back), 0); /* no trailing section */
	ck_assert_uint_eq(back.n, 1);
	ck_assert_uint_eq(back.n_removed, 0);
	cluster_members_free(&back);
	free(old);

	uint8_t *blob = NULL;
	size_t len = 0;
	ck_assert_int_eq(cluster_encode(&ms, &blob, &len), 0);
	ck_assert_int_eq(cluster_decode(blob, len, &back), 0);
	ck_assert_uint_eq(back.n, 1);
	ck_assert_uint_eq(back.v[0].id, kept);
	ck_assert(cluster_is_removed(&back, gone));
	ck_assert(!cluster_is_removed(&back, kept));
	cluster_members_free(&back);
	/* Truncated or trailing bytes are refused, never misread. */
	for (size_t cut = 1; cut < 8; cut++)
		ck_assert_int_eq(cluster_decode(blob, len - cut, &back), -EINVAL);
	uint8_t *longer = malloc(len + 1);
	memcpy(longer, blob, len);
	longer[len] = 0;
	ck_assert_int_eq(cluster_decode(longer, len + 1, &back), -EINVAL);
	/* A zero id in the set is refused. */
	memset(longer + len - 8, 0, 8);
	ck_assert_int_eq(cluster_decode(longer, len, &back), -EINVAL);
	free(longer);
	free(blob);
	cluster_members_free(&ms);
}
END_TEST

/* ---- the engine: a single member adds a learner, removes it, and tries again ---- */

static int add_learner(struct kv *kv, const char *url, uint64_t *id)
{
	char *urls[1] = { (char *)url };
	Kvpb__MemberAddRequest req = KVPB__MEMBER_ADD_REQUEST__INIT;
	req.peerurls = urls;
	req.n_peerurls = 1;
	req.islearner = true;
	Kvpb__MemberAddResponse *resp = NULL;
	int rc = kv_member_add(kv, &req, &resp);
	if (rc == 0) {
		ck_assert_ptr_nonnull(resp->member);
		*id = resp->member->id;
		kvpb__member_add_response__free_unpacked(resp, NULL);
	}
	return rc;
}

static int remove_member(struct kv *kv, uint64_t id)
{
	Kvpb__MemberRemoveRequest req = KVPB__MEMBER_REMOVE_REQUEST__INIT;
	req.id = id;
	Kvpb__MemberRemoveResponse *resp = NULL;
	int rc = kv_member_remove(kv, &req, &resp);
	if (resp)
		kvpb__member_remove_response__free_unpacked(resp, NULL);
	return rc;
}

static size_t member_count(struct kv *kv)
{
	Kvpb__MemberListRequest req = KVPB__MEMBER_LIST_REQUEST__INIT;
	Kvpb__MemberListResponse *resp = NULL;
	ck_assert_int_eq(kv_member_list(kv, &req, &resp), 0);
	size_t n = resp->n_members;
	kvpb__member_list_response__free_unpacked(resp, NULL);
	return n;
}

#define T0 INT64_C(1795635663) /* a Unix second; the engine's wall clock starts there */

/* The engine's clock: real monotonic time (Raft ticks, timeouts) and randomness, but a wall
 * clock the test sets, which is what `member add` reads its Unix second from. */
static _Atomic int64_t wall_now;
static int64_t t_mono(kc_clock_t *c) { (void)c; return kc_now_mono(kc_clock_real()); }
static int64_t t_wall(kc_clock_t *c) { (void)c; return atomic_load(&wall_now); }
static uint64_t t_rand(kc_clock_t *c) { (void)c; return kc_rand64(kc_clock_real()); }
static void t_sleep(kc_clock_t *c, int64_t ns)
{
	(void)c;
	kc_clock_real()->sleep_ns(kc_clock_real(), ns);
}
static kc_clock_t test_clock = { t_mono, t_wall, t_rand, t_sleep };

static void engine_case(uint64_t snapcount, int writes_after)
{
	/* mid-second: the test's own run time cannot move the add to another second */
	atomic_store(&wall_now, T0 * KC_NSEC_PER_SEC + KC_NSEC_PER_SEC / 2);
	char *dir = kvt_tmpdir();
	struct kv *kv = kvt_open(dir, &test_clock, snapcount);
	uint64_t id = 0, id2 = 0, other = 0, again = 0;
	const char *u1[1] = { "http://127.0.0.1:1" };
	ck_assert_int_eq(add_learner(kv, u1[0], &id), 0);
	/* etcd 3.4's runtime id: the URLs and the second of the add, no token */
	ck_assert_uint_eq(id, cluster_runtime_member_id(u1, 1, T0));
	ck_assert_uint_eq(member_count(kv), 2);
	ck_assert_int_eq(remove_member(kv, id), 0);
	ck_assert_uint_eq(member_count(kv), 1);
	/* The same peer URLs within the same second give the same id: refused as etcd
	 * refuses a removed id. */
	ck_assert_int_eq(add_learner(kv, u1[0], &id2), KV_EMEMBERNOTFOUND);
	ck_assert_int_eq(remove_member(kv, id), KV_EMEMBERNOTFOUND);
	/* Other URLs are a new member. */
	ck_assert_int_eq(add_learner(kv, "http://127.0.0.1:2", &other), 0);
	ck_assert_uint_ne(other, id);
	for (int i = 0; i < writes_after; i++)
		kvt_put(kv, "k", "v");
	kv_close(kv);
	/* After a restart (log replay, or a snapshot taken after the removal). */
	kv = kvt_open(dir, &test_clock, snapcount);
	ck_assert_uint_eq(member_count(kv), 2);
	ck_assert_int_eq(add_learner(kv, u1[0], &id2), KV_EMEMBERNOTFOUND);
	/* A second later the same host is a new member with a new id (the kubeadm-style
	 * "remove a failed control-plane member, re-join the host"). */
	atomic_store(&wall_now, (T0 + 1) * KC_NSEC_PER_SEC);
	ck_assert_int_eq(add_learner(kv, u1[0], &again), 0);
	ck_assert_uint_eq(again, cluster_runtime_member_id(u1, 1, T0 + 1));
	ck_assert_uint_ne(again, id);
	ck_assert_uint_eq(member_count(kv), 3);
	/* ...and the old id stays refused (etcd never forgets a removed id). */
	ck_assert_int_eq(remove_member(kv, id), KV_EMEMBERNOTFOUND);
	kv_close(kv);
	kvt_rm_rf(dir);
	free(dir);
}

START_TEST(engine_refuses_a_removed_id_across_restarts)
{
	engine_case(100000, 0);
}
END_TEST

START_TEST(engine_refuses_a_removed_id_from_a_snapshot)
{
	/* snapshot-count 5 and enough writes: the restart starts from a snapshot that
	 * covers the removal (the log before it is compacted away). */
	engine_case(5, 20);
}
END_TEST

static Suite *raft_removed_suite(void)
{
	Suite *s = suite_create("raft_removed");
	TCase *tc = tcase_create("removed");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, remove_records_the_id);
	tcase_add_test(tc, binary_form_keeps_the_removed_ids);
	tcase_add_test(tc, engine_refuses_a_removed_id_across_restarts);
	tcase_add_test(tc, engine_refuses_a_removed_id_from_a_snapshot);
	suite_add_tcase(s, tc);
	return s;
}

KC_TEST_MAIN(raft_removed_suite)
