/* The write-ahead log: replay order, torn tails truncated, corruption refused, segment
 * rotation, and group commit through the engine (every acknowledged write survives). */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <linux/fiemap.h>
#include <linux/fs.h>
#include <stdbool.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../store/kv.h"
#include "../../store/wal.h"
#include "kc_test.h"

#include "kvtest.h"

struct seen {
	uint64_t idx[64];
	char data[64][32];
	int n;
};

static int record(void *arg, uint64_t index, const uint8_t *data, size_t len)
{
	struct seen *s = arg;
	if (s->n < 64) {
		s->idx[s->n] = index;
		size_t k = len < 31 ? len : 31;
		memcpy(s->data[s->n], data, k);
		s->data[s->n][k] = 0;
		s->n++;
	}
	return 0;
}

static void append(struct wal *w, const char *payload)
{
	size_t len = strlen(payload);
	uint8_t buf[256];
	uint64_t idx = w->last_index + 1;
	wal_encode(buf, idx, (const uint8_t *)payload, len);
	ck_assert_int_eq(wal_write(w, buf, wal_record_size(len), idx, idx), 0);
	ck_assert_int_eq(wal_sync(w), 0);
}

static char *only_segment(const char *dir)
{
	char *path = NULL;
	ck_assert(asprintf(&path, "%s/%016x-%016x.wal", dir, 0, 1) > 0);
	return path;
}

START_TEST(replays_in_order_after_reopen)
{
	char *dir = kvt_tmpdir();
	struct wal w;
	struct seen s = { .n = 0 };
	ck_assert_int_eq(wal_open(&w, dir, 0, true, 0, record, &s), 0);
	ck_assert_int_eq(s.n, 0);
	append(&w, "one");
	append(&w, "two");
	append(&w, "three");
	wal_close(&w);
	ck_assert_int_eq(wal_open(&w, dir, 0, true, 0, record, &s), 0);
	ck_assert_int_eq(s.n, 3);
	ck_assert_str_eq(s.data[0], "one");
	/* a second opener of the same directory is refused while the first holds it */
	struct wal w2;
	ck_assert_int_eq(wal_open(&w2, dir, 0, true, 0, NULL, NULL), -EBUSY);
	ck_assert_str_eq(s.data[2], "three");
	ck_assert_uint_eq(s.idx[2], 3);
	wal_close(&w);
	/* "after" skips records a snapshot covers */
	s.n = 0;
	ck_assert_int_eq(wal_open(&w, dir, 0, true, 2, record, &s), 0);
	ck_assert_int_eq(s.n, 1);
	ck_assert_str_eq(s.data[0], "three");
	wal_close(&w);
	kvt_rm_rf(dir);
	free(dir);
}
END_TEST

START_TEST(torn_final_record_is_truncated)
{
	char *dir = kvt_tmpdir();
	struct wal w;
	struct seen s = { .n = 0 };
	ck_assert_int_eq(wal_open(&w, dir, 0, true, 0, record, &s), 0);
	append(&w, "alpha");
	append(&w, "beta");
	append(&w, "gamma-gamma");
	off_t end = w.off;
	wal_close(&w);
	/* Cut the file in the middle of the last record (a crash mid-write). */
	char *seg = only_segment(dir);
	ck_assert_int_eq(truncate(seg, end - 5), 0);
	s.n = 0;
	ck_assert_int_eq(wal_open(&w, dir, 0, true, 0, record, &s), 0);
	ck_assert_int_eq(s.n, 2);
	ck_assert_str_eq(s.data[1], "beta");
	/* the log continues cleanly after the cut */
	append(&w, "delta");
	wal_close(&w);
	s.n = 0;
	ck_assert_int_eq(wal_open(&w, dir, 0, true, 0, record, &s), 0);
	ck_assert_int_eq(s.n, 3);
	ck_assert_str_eq(s.data[2], "delta");
	ck_assert_uint_eq(s.idx[2], 3);
	wal_close(&w);
	/* A garbage tail (zeros then junk inside the preallocated area, no valid record
	 * after it) is also a torn write. */
	int fd = open(seg, O_WRONLY);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pwrite(fd, "\x07\x00\x00\x00garbage", 11, 4096), 11);
	close(fd);
	s.n = 0;
	ck_assert_int_eq(wal_open(&w, dir, 0, true, 0, record, &s), 0);
	ck_assert_int_eq(s.n, 3);
	wal_close(&w);
	free(seg);
	kvt_rm_rf(dir);
	free(dir);
}
END_TEST

START_TEST(corrupt_record_in_the_middle_refuses_to_start)
{
	char *dir = kvt_tmpdir();
	struct wal w;
	struct seen s = { .n = 0 };
	ck_assert_int_eq(wal_open(&w, dir, 0, true, 0, record, &s), 0);
	append(&w, "first");
	off_t second = w.off;
	append(&w, "second");
	append(&w, "third");
	wal_close(&w);
	char *seg = only_segment(dir);
	int fd = open(seg, O_WRONLY);
	ck_assert_int_ge(fd, 0);
	/* flip one payload byte of the second record */
	ck_assert_int_eq(pwrite(fd, "X", 1, second + WAL_HDR + 2), 1);
	close(fd);
	s.n = 0;
	ck_assert_int_eq(wal_open(&w, dir, 0, true, 0, record, &s), KV_ECORRUPT);
	/* and the engine refuses to open that data dir */
	free(seg);
	kvt_rm_rf(dir);
	free(dir);
}
END_TEST

START_TEST(segments_rotate_and_corruption_in_an_old_one_is_fatal)
{
	char *dir = kvt_tmpdir();
	struct wal w;
	struct seen s = { .n = 0 };
	ck_assert_int_eq(wal_open(&w, dir, 64, true, 0, record, &s), 0);
	for (int i = 0; i < 10; i++) {
		char p[48];
		snprintf(p, sizeof(p), "record-%02d-padding-padding", i % 100);
		append(&w, p);
	}
	ck_assert_uint_gt(w.nsegs, 3);
	size_t nsegs = w.nsegs;
	wal_close(&w);
	s.n = 0;
	ck_assert_int_eq(wal_open(&w, dir, 64, true, 0, record, &s), 0);
	ck_assert_int_eq(s.n, 10);
	ck_assert_str_eq(s.data[9], "record-09-padding-padding");
	/* release drops the segments fully covered by index 5 */
	ck_assert_int_eq(wal_release(&w, 5), 0);
	ck_assert_uint_lt(w.nsegs, nsegs);
	wal_close(&w);
	s.n = 0;
	ck_assert_int_eq(wal_open(&w, dir, 64, true, 5, record, &s), 0);
	ck_assert_int_eq(s.n, 5);
	ck_assert_uint_eq(s.idx[0], 6);
	char *first = NULL;
	ck_assert(asprintf(&first, "%s/%016llx-%016llx.wal", dir, (unsigned long long)w.segs[0].seq,
			   (unsigned long long)w.segs[0].first) > 0);
	wal_close(&w);
	/* A bad record in a segment that is not the last is corruption, not a torn tail. */
	int fd = open(first, O_WRONLY);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pwrite(fd, "\xff", 1, WAL_HDR + 1), 1);
	close(fd);
	ck_assert_int_eq(wal_open(&w, dir, 64, true, 5, record, &s), KV_ECORRUPT);
	free(first);
	kvt_rm_rf(dir);
	free(dir);
}
END_TEST


/* Is [off, off + len) of fd backed by written blocks (no hole, no unwritten extent)? */
static bool range_written(int fd, off_t off, off_t len)
{
	struct {
		struct fiemap fm;
		struct fiemap_extent ext[32];
	} q;
	memset(&q, 0, sizeof(q));
	q.fm.fm_start = (uint64_t)off;
	q.fm.fm_length = (uint64_t)len;
	q.fm.fm_flags = FIEMAP_FLAG_SYNC;
	q.fm.fm_extent_count = 32;
	if (ioctl(fd, FS_IOC_FIEMAP, &q.fm) != 0)
		return false;
	uint64_t covered = (uint64_t)off;
	for (uint32_t i = 0; i < q.fm.fm_mapped_extents; i++) {
		const struct fiemap_extent *e = &q.fm.fm_extents[i];
		if (e->fe_logical > covered || (e->fe_flags & FIEMAP_EXTENT_UNWRITTEN))
			return false;
		covered = e->fe_logical + e->fe_length;
	}
	return covered >= (uint64_t)(off + len);
}

/* The WAL writes real zeros ahead of its records, so the next fdatasyncs flush data
 * into written blocks; those zeros still read as the end of the log after a crash (no
 * wal_close) and appends resume right after the last record, across segments. */
START_TEST(zeroed_ahead_tail_is_the_end_after_a_crash)
{
	char *dir = kvt_tmpdir();
	struct wal w;
	struct seen s = { .n = 0 };
	const size_t seg = 3u << 20;
	ck_assert_int_eq(wal_open(&w, dir, seg, true, 0, record, &s), 0);
	static uint8_t payload[200 << 10], buf[(200 << 10) + WAL_HDR];
	for (int i = 0; i < 40; i++) { /* 8 MB: three segments, zero-ahead refilled often */
		memset(payload, 'a' + i % 26, sizeof(payload));
		uint64_t idx = w.last_index + 1;
		wal_encode(buf, idx, payload, sizeof(payload));
		ck_assert_int_eq(wal_write(&w, buf, sizeof(buf), idx, idx), 0);
		ck_assert(w.zeroed >= w.off);
	}
	ck_assert_uint_ge(w.nsegs, 3);
	off_t end = w.off;
	int fd = dup(w.fd);
	ck_assert_int_ge(fd, 0);
	/* the megabyte after the last record is written, not a preallocated extent (if the
	 * filesystem reports extents at all) */
	struct stat st;
	ck_assert_int_eq(fstat(fd, &st), 0);
	ck_assert_int_eq(st.st_size, (off_t)seg);
	struct fiemap probe;
	memset(&probe, 0, sizeof(probe));
	probe.fm_length = 1;
	if (ioctl(fd, FS_IOC_FIEMAP, &probe) == 0) {
		off_t ahead = end + (off_t)(WAL_ZERO_AHEAD / 2);
		if (ahead > (off_t)seg)
			ahead = (off_t)seg;
		ck_assert(range_written(fd, 0, ahead));
	}
	close(fd);
	/* "crash": drop the descriptors without wal_close's sync, then reopen */
	close(w.fd);
	close(w.dirfd);
	free(w.segs);
	free(w.dir);
	s.n = 0;
	ck_assert_int_eq(wal_open(&w, dir, seg, true, 0, record, &s), 0);
	ck_assert_int_eq(s.n, 40);
	ck_assert_uint_eq(s.idx[39], 40);
	ck_assert_int_eq(s.data[39][0], 'a' + 39 % 26);
	ck_assert_int_eq(w.off, end);
	append(&w, "after-crash");
	wal_close(&w);
	s.n = 0;
	ck_assert_int_eq(wal_open(&w, dir, seg, true, 0, record, &s), 0);
	ck_assert_int_eq(s.n, 41);
	ck_assert_str_eq(s.data[40], "after-crash");
	wal_close(&w);
	kvt_rm_rf(dir);
	free(dir);
}
END_TEST

#define WRITERS 8
#define PER_WRITER 150

struct writer {
	struct kv *kv;
	int id;
	int64_t revs[PER_WRITER];
	int errors;
};

static void *writer_main(void *arg)
{
	struct writer *w = arg;
	for (int i = 0; i < PER_WRITER; i++) {
		char k[32], v[32];
		snprintf(k, sizeof(k), "w%d/%03d", w->id, i);
		snprintf(v, sizeof(v), "val-%d-%d", w->id, i);
		Kvpb__PutRequest r = KVPB__PUT_REQUEST__INIT;
		r.key = kvt_bin(k);
		r.value = kvt_bin(v);
		Kvpb__PutResponse *resp = NULL;
		if (kv_put(w->kv, &r, &resp) != 0) {
			w->errors++;
			continue;
		}
		w->revs[i] = resp->header->revision;
		kvpb__put_response__free_unpacked(resp, NULL);
	}
	return NULL;
}

START_TEST(group_commit_keeps_every_acknowledged_write)
{
	char *dir = kvt_tmpdir();
	struct kv_config cfg;
	memset(&cfg, 0, sizeof(cfg));
	cfg.data_dir = dir;
	cfg.unsafe_no_fsync = false; /* real fdatasync: the point of group commit */
	struct kv *kv = NULL;
	ck_assert_int_eq(kv_open(&cfg, &kv), 0);
	static struct writer ws[WRITERS];
	pthread_t th[WRITERS];
	for (int i = 0; i < WRITERS; i++) {
		ws[i] = (struct writer){ .kv = kv, .id = i };
		pthread_create(&th[i], NULL, writer_main, &ws[i]);
	}
	for (int i = 0; i < WRITERS; i++)
		pthread_join(th[i], NULL);
	struct kv_stats st;
	kv_stats(kv, &st);
	/* Every acknowledged put was applied once. The member's one-time publish of its own
	 * attributes (backend_raft.c publish()) is also a proposal and, on a loaded machine,
	 * may be applied while the writers run: at most one more. */
	ck_assert_uint_ge(st.proposals, WRITERS * PER_WRITER);
	ck_assert_uint_le(st.proposals, WRITERS * PER_WRITER + 1);
	/* concurrent writers share fsyncs */
	ck_assert_msg(st.wal_fsyncs < WRITERS * PER_WRITER, "fsyncs %llu",
		      (unsigned long long)st.wal_fsyncs);
	uint32_t h = kvt_state_hash(kv);
	int64_t rev = kv_current_rev(kv);
	ck_assert_int_eq(rev, 1 + WRITERS * PER_WRITER);
	kv_close(kv);
	ck_assert_int_eq(kv_open(&cfg, &kv), 0);
	ck_assert_int_eq(kv_current_rev(kv), rev);
	ck_assert_uint_eq(kvt_state_hash(kv), h);
	for (int i = 0; i < WRITERS; i++) {
		ck_assert_int_eq(ws[i].errors, 0);
		for (int j = 0; j < PER_WRITER; j += 37) {
			char k[32], v[64], want[32];
			snprintf(k, sizeof(k), "w%d/%03d", i, j);
			snprintf(want, sizeof(want), "val-%d-%d", i, j);
			Kvpb__KeyValue m;
			ck_assert_int_eq(kvt_get_at(kv, k, 0, v, sizeof(v), &m), 0);
			ck_assert_str_eq(v, want);
			ck_assert_int_eq(m.mod_revision, ws[i].revs[j]);
		}
	}
	kv_close(kv);
	kvt_rm_rf(dir);
	free(dir);
}
END_TEST

START_TEST(engine_refuses_corrupt_wal)
{
	char *dir = kvt_tmpdir();
	struct kv *kv = kvt_open(dir, NULL, 0);
	kvt_put(kv, "a", "1");
	kvt_put(kv, "b", "2");
	kvt_put(kv, "c", "3");
	kv_close(kv);
	char *seg = NULL;
	ck_assert(asprintf(&seg, "%s/member/wal/%016x-%016x.wal", dir, 0, 1) > 0);
	int fd = open(seg, O_WRONLY);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pwrite(fd, "\xee\xee", 2, WAL_HDR + 3), 2); /* first record */
	close(fd);
	struct kv_config cfg;
	memset(&cfg, 0, sizeof(cfg));
	cfg.data_dir = dir;
	ck_assert_int_eq(kv_open(&cfg, &kv), KV_ECORRUPT);
	free(seg);
	kvt_rm_rf(dir);
	free(dir);
}
END_TEST


START_TEST(random_damage_never_yields_wrong_records)
{
	/* Flip bytes anywhere in the written area: recovery must either refuse to start or
	 * replay a prefix of what was written, never a changed record. */
	uint64_t x = 88172645463325252ull;
	for (int iter = 0; iter < 60; iter++) {
		char *dir = kvt_tmpdir();
		struct wal w;
		struct seen s = { .n = 0 };
		ck_assert_int_eq(wal_open(&w, dir, 0, true, 0, record, &s), 0);
		const char *payloads[] = { "alpha", "bravo-bravo", "charlie", "delta-delta-delta", "echo" };
		for (int i = 0; i < 5; i++)
			append(&w, payloads[i]);
		off_t end = w.off;
		wal_close(&w);
		char *seg = only_segment(dir);
		int fd = open(seg, O_RDWR);
		ck_assert_int_ge(fd, 0);
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		off_t at = (off_t)(x % (uint64_t)end);
		unsigned char b;
		ck_assert_int_eq(pread(fd, &b, 1, at), 1);
		b ^= (unsigned char)(1u << (x >> 60 & 7));
		ck_assert_int_eq(pwrite(fd, &b, 1, at), 1);
		close(fd);
		s.n = 0;
		int rc = wal_open(&w, dir, 0, true, 0, record, &s);
		ck_assert_msg(rc == 0 || rc == KV_ECORRUPT, "rc %d", rc);
		for (int i = 0; i < s.n; i++) {
			ck_assert_str_eq(s.data[i], payloads[i]);
			ck_assert_uint_eq(s.idx[i], (uint64_t)i + 1);
		}
		if (rc == 0)
			wal_close(&w);
		free(seg);
		kvt_rm_rf(dir);
		free(dir);
	}
}
END_TEST

static Suite *wal_suite(void)
{
	Suite *s = suite_create("wal");
	TCase *tc = tcase_create("core");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, replays_in_order_after_reopen);
	tcase_add_test(tc, torn_final_record_is_truncated);
	tcase_add_test(tc, corrupt_record_in_the_middle_refuses_to_start);
	tcase_add_test(tc, segments_rotate_and_corruption_in_an_old_one_is_fatal);
	tcase_add_test(tc, zeroed_ahead_tail_is_the_end_after_a_crash);
	tcase_add_test(tc, group_commit_keeps_every_acknowledged_write);
	tcase_add_test(tc, engine_refuses_corrupt_wal);
	tcase_add_test(tc, random_damage_never_yields_wrong_records);
	suite_add_tcase(s, tc);
	return s;
}

KC_TEST_MAIN(wal_suite)
