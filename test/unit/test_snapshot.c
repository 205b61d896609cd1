/* Snapshots: automatic every snapshot-count entries (old WAL segments released), restart
 * from snapshot + WAL equals the original state, the streamed snapshot restores into a
 * fresh data dir, and a damaged snapshot refuses to start. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>

#include "../../store/kv.h"
#include "kc_test.h"

#include "kvtest.h"

static int count_files(const char *dir, const char *suffix)
{
	DIR *d = opendir(dir);
	if (!d)
		return -1;
	int n = 0;
	struct dirent *e;
	size_t sl = strlen(suffix);
	while ((e = readdir(d))) {
		size_t l = strlen(e->d_name);
		if (l > sl && strcmp(e->d_name + l - sl, suffix) == 0)
			n++;
	}
	closedir(d);
	return n;
}

static struct kv *open_small(const char *dir, uint64_t snapcount)
{
	struct kv_config cfg;
	memset(&cfg, 0, sizeof(cfg));
	cfg.data_dir = dir;
	cfg.snapshot_count = snapcount;
	cfg.wal_segment_bytes = 2048;
	cfg.unsafe_no_fsync = true;
	struct kv *kv = NULL;
	int rc = kv_open(&cfg, &kv);
	ck_assert_msg(rc == 0, "open: %s", kv_errmsg(rc));
	return kv;
}

static void workload(struct kv *kv, int n, int64_t lease)
{
	char k[32], v[32];
	for (int i = 0; i < n; i++) {
		snprintf(k, sizeof(k), "key/%03d", i % 40);
		snprintf(v, sizeof(v), "value-%d", i);
		kvt_put(kv, k, v);
		if (i % 17 == 16)
			kvt_del(kv, k, NULL);
	}
	Kvpb__LeaseGrantRequest g = KVPB__LEASE_GRANT_REQUEST__INIT;
	g.id = lease;
	g.ttl = 3600;
	Kvpb__LeaseGrantResponse *gr = NULL;
	ck_assert_int_eq(kv_lease_grant(kv, &g, &gr), 0);
	kvpb__lease_grant_response__free_unpacked(gr, NULL);
	Kvpb__PutRequest p = KVPB__PUT_REQUEST__INIT;
	p.key = kvt_bin("leased");
	p.value = kvt_bin("x");
	p.lease = lease;
	Kvpb__PutResponse *pr = NULL;
	ck_assert_int_eq(kv_put(kv, &p, &pr), 0);
	kvpb__put_response__free_unpacked(pr, NULL);
}

START_TEST(restart_from_snapshot_and_wal_equals_original)
{
	char *dir = kvt_tmpdir();
	char *snapdir = NULL, *waldir = NULL;
	ck_assert(asprintf(&snapdir, "%s/member/snap", dir) > 0);
	ck_assert(asprintf(&waldir, "%s/member/wal", dir) > 0);
	struct kv *kv = open_small(dir, 50);
	workload(kv, 130, 4242);
	Kvpb__CompactionRequest c = KVPB__COMPACTION_REQUEST__INIT;
	c.revision = 60;
	Kvpb__CompactionResponse *cr = NULL;
	ck_assert_int_eq(kv_compact(kv, &c, &cr), 0);
	kvpb__compaction_response__free_unpacked(cr, NULL);
	workload(kv, 20, 4343); /* entries after the last snapshot live only in the WAL */
	struct kv_stats st;
	kv_stats(kv, &st);
	ck_assert_uint_ge(st.snapshots, 2);
	ck_assert_int_eq(count_files(snapdir, ".snap"), 1); /* older ones removed */
	uint32_t h = kvt_state_hash(kv);
	int64_t rev = kv_current_rev(kv);
	char v[64];
	ck_assert_int_eq(kvt_get_at(kv, "key/005", 70, v, sizeof(v), NULL), 0);
	char hist[64];
	strcpy(hist, v);
	kv_close(kv);
	/* released: far fewer segments than the ~170 records x ~40 bytes / 2 KiB written */
	ck_assert_int_le(count_files(waldir, ".wal"), 3);

	kv = open_small(dir, 50);
	ck_assert_int_eq(kv_current_rev(kv), rev);
	ck_assert_int_eq(kv_compact_rev(kv), 60);
	ck_assert_uint_eq(kvt_state_hash(kv), h);
	ck_assert_int_eq(kvt_get_at(kv, "key/005", 70, v, sizeof(v), NULL), 0);
	ck_assert_str_eq(v, hist); /* history survives restarts */
	ck_assert_int_eq(kvt_get_at(kv, "key/005", 59, v, sizeof(v), NULL), KV_ECOMPACTED);
	/* the lease and its key came back attached */
	Kvpb__LeaseTimeToLiveRequest tq = KVPB__LEASE_TIME_TO_LIVE_REQUEST__INIT;
	tq.id = 4343; /* "leased" moved from lease 4242 to 4343 */
	tq.keys = true;
	Kvpb__LeaseTimeToLiveResponse *tr = NULL;
	ck_assert_int_eq(kv_lease_timetolive(kv, &tq, &tr), 0);
	ck_assert_int_eq(tr->grantedttl, 3600);
	ck_assert_int_le(tr->ttl, 3600);
	ck_assert_uint_eq(tr->n_keys, 1);
	kvpb__lease_time_to_live_response__free_unpacked(tr, NULL);
	kv_close(kv);
	free(snapdir);
	free(waldir);
	kvt_rm_rf(dir);
	free(dir);
}
END_TEST

START_TEST(streamed_snapshot_restores_elsewhere)
{
	char *dir = kvt_tmpdir(), *dir2 = kvt_tmpdir();
	struct kv *kv = open_small(dir, 0);
	workload(kv, 60, 1);
	uint32_t h = kvt_state_hash(kv);
	int64_t rev = kv_current_rev(kv);
	char *file = NULL;
	ck_assert(asprintf(&file, "%s/backup.db", dir2) > 0);
	int fd = open(file, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ck_assert_int_ge(fd, 0);
	int64_t n = kv_snapshot_write(kv, fd);
	ck_assert_int_gt(n, 0);
	close(fd);
	kv_close(kv);
	char *target = NULL;
	ck_assert(asprintf(&target, "%s/restored", dir2) > 0);
	ck_assert_int_eq(kv_snapshot_restore(file, target), 0);
	ck_assert_int_eq(kv_snapshot_restore(file, target), -EEXIST); /* never overwrite */
	kv = open_small(target, 0);
	ck_assert_int_eq(kv_current_rev(kv), rev);
	ck_assert_uint_eq(kvt_state_hash(kv), h);
	kvt_put(kv, "after", "restore"); /* and it keeps going */
	ck_assert_int_eq(kv_current_rev(kv), rev + 1);
	kv_close(kv);
	kv = open_small(target, 0);
	ck_assert_int_eq(kv_current_rev(kv), rev + 1);
	kv_close(kv);
	/* a damaged file is refused by restore */
	fd = open(file, O_WRONLY);
	ck_assert_int_eq(pwrite(fd, "\x01\x02\x03", 3, 40), 3);
	close(fd);
	char *t2 = NULL;
	ck_assert(asprintf(&t2, "%s/restored2", dir2) > 0);
	ck_assert_int_eq(kv_snapshot_restore(file, t2), KV_ECORRUPT);
	free(t2);
	free(target);
	free(file);
	kvt_rm_rf(dir);
	kvt_rm_rf(dir2);
	free(dir);
	free(dir2);
}
END_TEST

START_TEST(damaged_snapshot_refuses_to_start)
{
	char *dir = kvt_tmpdir();
	struct kv *kv = open_small(dir, 10);
	workload(kv, 15, 1);
	kv_close(kv);
	char *snapdir = NULL;
	ck_assert(asprintf(&snapdir, "%s/member/snap", dir) > 0);
	DIR *d = opendir(snapdir);
	struct dirent *e;
	char *snap = NULL;
	while ((e = readdir(d)))
		if (strstr(e->d_name, ".snap"))
			ck_assert(asprintf(&snap, "%s/%s", snapdir, e->d_name) > 0);
	closedir(d);
	ck_assert_ptr_nonnull(snap);
	int fd = open(snap, O_WRONLY);
	ck_assert_int_eq(pwrite(fd, "zz", 2, 30), 2);
	close(fd);
	struct kv_config cfg;
	memset(&cfg, 0, sizeof(cfg));
	cfg.data_dir = dir;
	ck_assert_int_eq(kv_open(&cfg, &kv), KV_ECORRUPT);
	free(snap);
	free(snapdir);
	kvt_rm_rf(dir);
	free(dir);
}
END_TEST

static Suite *snapshot_suite(void)
{
	Suite *s = suite_create("snapshot");
	TCase *tc = tcase_create("core");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, restart_from_snapshot_and_wal_equals_original);
	tcase_add_test(tc, streamed_snapshot_restores_elsewhere);
	tcase_add_test(tc, damaged_snapshot_refuses_to_start);
	suite_add_tcase(s, tc);
	return s;
}

KC_TEST_MAIN(snapshot_suite)
