/* Snapshots: automatic every snapshot-count entries (old WAL segments released), restart
 * from snapshot + WAL equals the original state, the streamed snapshot restores into a
 * fresh data dir, and a damaged snapshot refuses to start. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>

#include "../../store/kv.h"
#include "kc_test.h"

/* ---- test helpers (temp data dirs, engine open, request builders) ---- */
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static __attribute__((unused)) int rm_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	(void)st;
	(void)flag;
	(void)f;
	return remove(p);
}

static __attribute__((unused)) void rm_rf(const char *dir)
{
	nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static __attribute__((unused)) char *tmpdir(void)
{
	char *d = strdup("/tmp/kvtest.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(d));
	return d;
}

static __attribute__((unused)) struct kv *open_kv(const char *dir, kc_clock_t *clock, uint64_t snapcount)
{
	struct kv_config cfg;
	memset(&cfg, 0, sizeof(cfg));
	cfg.data_dir = dir;
	cfg.name = "test";
	cfg.clock = clock;
	cfg.snapshot_count = snapcount;
	cfg.unsafe_no_fsync = true;
	struct kv *kv = NULL;
	int rc = kv_open(&cfg, &kv);
	ck_assert_msg(rc == 0, "kv_open: %s", kv_errmsg(rc));
	return kv;
}

static __attribute__((unused)) ProtobufCBinaryData bin(const char *s)
{
	ProtobufCBinaryData b = { strlen(s), (uint8_t *)s };
	return b;
}

static __attribute__((unused)) int64_t put(struct kv *kv, const char *k, const char *v)
{
	Kvpb__PutRequest r = KVPB__PUT_REQUEST__INIT;
	r.key = bin(k);
	r.value = bin(v);
	Kvpb__PutResponse *resp = NULL;
	int rc = kv_put(kv, &r, &resp);
	ck_assert_msg(rc == 0, "put %s: %s", k, kv_errmsg(rc));
	int64_t rev = resp->header->revision;
	kvpb__put_response__free_unpacked(resp, NULL);
	return rev;
}

static __attribute__((unused)) int64_t del(struct kv *kv, const char *k, const char *end)
{
	Kvpb__DeleteRangeRequest r = KVPB__DELETE_RANGE_REQUEST__INIT;
	r.key = bin(k);
	if (end)
		r.range_end = end[0] ? bin(end) : (ProtobufCBinaryData){ 1, (uint8_t *)"" };
	Kvpb__DeleteRangeResponse *resp = NULL;
	int rc = kv_delete_range(kv, &r, &resp);
	ck_assert_msg(rc == 0, "delete %s: %s", k, kv_errmsg(rc));
	int64_t n = resp->deleted;
	kvpb__delete_range_response__free_unpacked(resp, NULL);
	return n;
}

/* Value of k at rev (0 = latest) into buf ("" when absent); returns the range error. */
static __attribute__((unused)) int get_at(struct kv *kv, const char *k, int64_t rev, char *buf, size_t cap,
		  Kvpb__KeyValue *meta)
{
	Kvpb__RangeRequest r = KVPB__RANGE_REQUEST__INIT;
	r.key = bin(k);
	r.revision = rev;
	Kvpb__RangeResponse *resp = NULL;
	int rc = kv_range(kv, &r, &resp);
	buf[0] = 0;
	if (rc)
		return rc;
	if (resp->n_kvs) {
		size_t n = resp->kvs[0]->value.len < cap - 1 ? resp->kvs[0]->value.len : cap - 1;
		memcpy(buf, resp->kvs[0]->value.data, n);
		buf[n] = 0;
		if (meta) {
			*meta = *resp->kvs[0];
			meta->key.data = NULL;
			meta->value.data = NULL;
		}
	} else if (meta) {
		kvpb__key_value__init(meta);
	}
	kvpb__range_response__free_unpacked(resp, NULL);
	return 0;
}

static __attribute__((unused)) uint32_t state_hash(struct kv *kv)
{
	Kvpb__HashRequest r = KVPB__HASH_REQUEST__INIT;
	Kvpb__HashResponse *resp = NULL;
	ck_assert_int_eq(kv_hash(kv, &r, &resp), 0);
	uint32_t h = resp->hash;
	kvpb__hash_response__free_unpacked(resp, NULL);
	return h;
}
/* ---- end helpers ---- */

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
		put(kv, k, v);
		if (i % 17 == 16)
			del(kv, k, NULL);
	}
	Kvpb__LeaseGrantRequest g = KVPB__LEASE_GRANT_REQUEST__INIT;
	g.id = lease;
	g.ttl = 3600;
	Kvpb__LeaseGrantResponse *gr = NULL;
	ck_assert_int_eq(kv_lease_grant(kv, &g, &gr), 0);
	kvpb__lease_grant_response__free_unpacked(gr, NULL);
	Kvpb__PutRequest p = KVPB__PUT_REQUEST__INIT;
	p.key = bin("leased");
	p.value = bin("x");
	p.lease = lease;
	Kvpb__PutResponse *pr = NULL;
	ck_assert_int_eq(kv_put(kv, &p, &pr), 0);
	kvpb__put_response__free_unpacked(pr, NULL);
}

START_TEST(restart_from_snapshot_and_wal_equals_original)
{
	char *dir = tmpdir();
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
	uint32_t h = state_hash(kv);
	int64_t rev = kv_current_rev(kv);
	char v[64];
	ck_assert_int_eq(get_at(kv, "key/005", 70, v, sizeof(v), NULL), 0);
	char hist[64];
	strcpy(hist, v);
	kv_close(kv);
	/* released: far fewer segments than the ~170 records x ~40 bytes / 2 KiB written */
	ck_assert_int_le(count_files(waldir, ".wal"), 3);

	kv = open_small(dir, 50);
	ck_assert_int_eq(kv_current_rev(kv), rev);
	ck_assert_int_eq(kv_compact_rev(kv), 60);
	ck_assert_uint_eq(state_hash(kv), h);
	ck_assert_int_eq(get_at(kv, "key/005", 70, v, sizeof(v), NULL), 0);
	ck_assert_str_eq(v, hist); /* history survives restarts */
	ck_assert_int_eq(get_at(kv, "key/005", 59, v, sizeof(v), NULL), KV_ECOMPACTED);
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
	rm_rf(dir);
	free(dir);
}
END_TEST

START_TEST(streamed_snapshot_restores_elsewhere)
{
	char *dir = tmpdir(), *dir2 = tmpdir();
	struct kv *kv = open_small(dir, 0);
	workload(kv, 60, 1);
	uint32_t h = state_hash(kv);
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
	ck_assert_uint_eq(state_hash(kv), h);
	put(kv, "after", "restore"); /* and it keeps going */
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
	rm_rf(dir);
	rm_rf(dir2);
	free(dir);
	free(dir2);
}
END_TEST

START_TEST(damaged_snapshot_refuses_to_start)
{
	char *dir = tmpdir();
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
	rm_rf(dir);
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
