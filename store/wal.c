/* Write-ahead log segments: framing, group writes, recovery (see wal.h). */
#include "wal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <nmmintrin.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kv.h"
#include "log.h"

/* ---- CRC-32C (Castagnoli, as etcd's WAL) ---- */

static uint32_t crc_table[8][256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;
static int crc_hw_ok;

static void crc_init(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;
		for (int k = 0; k < 8; k++)
			c = c & 1 ? (c >> 1) ^ 0x82F63B78u : c >> 1;
		crc_table[0][i] = c;
	}
	for (uint32_t i = 0; i < 256; i++)
		for (int t = 1; t < 8; t++)
			crc_table[t][i] = (crc_table[t - 1][i] >> 8) ^
					  crc_table[0][crc_table[t - 1][i] & 0xff];
	__builtin_cpu_init();
	crc_hw_ok = __builtin_cpu_supports("sse4.2");
}

__attribute__((target("sse4.2"))) static uint32_t crc_hw(uint32_t c, const uint8_t *p, size_t n)
{
	uint64_t c64 = c;
	while (n >= 8) {
		uint64_t v;
		memcpy(&v, p, 8);
		c64 = _mm_crc32_u64(c64, v);
		p += 8;
		n -= 8;
	}
	c = (uint32_t)c64;
	while (n--)
		c = _mm_crc32_u8(c, *p++);
	return c;
}

static uint32_t crc_sw(uint32_t c, const uint8_t *p, size_t n)
{
	while (n >= 8) {
		uint32_t lo = c ^ ((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
				   (uint32_t)p[3] << 24);
		c = crc_table[7][lo & 0xff] ^ crc_table[6][(lo >> 8) & 0xff] ^
		    crc_table[5][(lo >> 16) & 0xff] ^ crc_table[4][lo >> 24] ^
		    crc_table[3][p[4]] ^ crc_table[2][p[5]] ^ crc_table[1][p[6]] ^
		    crc_table[0][p[7]];
		p += 8;
		n -= 8;
	}
	while (n--)
		c = (c >> 8) ^ crc_table[0][(c ^ *p++) & 0xff];
	return c;
}

uint32_t wal_crc32c(uint32_t crc, const void *p, size_t n)
{
	pthread_once(&crc_once, crc_init);
	uint32_t c = ~crc;
	c = crc_hw_ok ? crc_hw(c, p, n) : crc_sw(c, p, n);
	return ~c;
}

/* ---- framing ---- */

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}
static void put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}
static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint64_t get64(const uint8_t *p)
{
	return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

static uint32_t record_crc(uint64_t index, const uint8_t *payload, size_t len)
{
	uint8_t ib[8];
	put64(ib, index);
	return wal_crc32c(wal_crc32c(0, ib, 8), payload, len);
}

void wal_encode(uint8_t *out, uint64_t index, const uint8_t *payload, size_t len)
{
	put32(out, (uint32_t)len);
	put32(out + 4, record_crc(index, payload, len));
	put64(out + 8, index);
	memcpy(out + WAL_HDR, payload, len);
}

void wal_frame_inplace(uint8_t *out, uint64_t index, size_t len)
{
	put32(out, (uint32_t)len);
	put32(out + 4, record_crc(index, out + WAL_HDR, len));
	put64(out + 8, index);
}

/* ---- segments ---- */

static char *seg_path(const struct wal *w, const struct wal_seg *s)
{
	char *p = NULL;
	if (asprintf(&p, "%s/%016" PRIx64 "-%016" PRIx64 ".wal", w->dir, s->seq, s->first) < 0)
		return NULL;
	return p;
}

static int segcmp(const void *a, const void *b)
{
	const struct wal_seg *x = a, *y = b;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static int list_segments(struct wal *w)
{
	DIR *d = opendir(w->dir);
	if (!d)
		return -errno;
	struct dirent *e;
	size_t cap = 0;
	while ((e = readdir(d))) {
		uint64_t seq, first;
		char tail[8];
		if (sscanf(e->d_name, "%16" SCNx64 "-%16" SCNx64 "%7s", &seq, &first, tail) != 3 ||
		    strcmp(tail, ".wal") != 0 || strlen(e->d_name) != 37)
			continue;
		if (w->nsegs == cap) {
			cap = cap ? cap * 2 : 8;
			struct wal_seg *n = realloc(w->segs, cap * sizeof(*n));
			if (!n) {
				closedir(d);
				return -ENOMEM;
			}
			w->segs = n;
		}
		w->segs[w->nsegs++] = (struct wal_seg){ seq, first };
	}
	closedir(d);
	if (w->nsegs > 1)
		qsort(w->segs, w->nsegs, sizeof(*w->segs), segcmp);
	return 0;
}

static int preallocate(struct wal *w, int fd)
{
	/* Like etcd's fileutil.Preallocate: failure (e.g. EOPNOTSUPP) only costs speed. */
	if (fallocate(fd, 0, 0, (off_t)w->seg_bytes) != 0 && errno != EOPNOTSUPP &&
	    errno != ENOSYS)
		kc_warn("wal: preallocate %s: %s", w->dir, strerror(errno));
	return 0;
}

static int sync_dir(struct wal *w)
{
	if (w->no_fsync)
		return 0;
	return fsync(w->dirfd) == 0 ? 0 : -errno;
}

static int create_segment(struct wal *w, uint64_t seq, uint64_t first)
{
	struct wal_seg s = { seq, first };
	char *p = seg_path(w, &s);
	if (!p)
		return -ENOMEM;
	int fd = open(p, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	int err = fd < 0 ? -errno : 0;
	free(p);
	if (err)
		return err;
	preallocate(w, fd);
	struct wal_seg *n = realloc(w->segs, (w->nsegs + 1) * sizeof(*n));
	if (!n) {
		close(fd);
		return -ENOMEM;
	}
	w->segs = n;
	w->segs[w->nsegs++] = s;
	if (w->fd >= 0) {
		if (!w->no_fsync)
			fdatasync(w->fd);
		close(w->fd);
	}
	w->fd = fd;
	w->off = 0;
	w->zeroed = 0;
	return sync_dir(w);
}

static int read_file(const char *path, uint8_t **buf, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	struct stat st;
	if (fstat(fd, &st) != 0) {
		int e = -errno;
		close(fd);
		return e;
	}
	size_t n = (size_t)st.st_size;
	uint8_t *b = malloc(n ? n : 1);
	if (!b) {
		close(fd);
		return -ENOMEM;
	}
	size_t got = 0;
	while (got < n) {
		ssize_t r = pread(fd, b + got, n - got, (off_t)got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			int e = r < 0 ? -errno : -EIO;
			free(b);
			close(fd);
			return e;
		}
		got += (size_t)r;
	}
	close(fd);
	*buf = b;
	*len = n;
	return 0;
}

/* Does a valid record with index `want` start at off? */
static bool record_ok(const uint8_t *b, size_t n, size_t off, uint64_t want, size_t *next)
{
	if (off + WAL_HDR > n)
		return false;
	uint32_t len = get32(b + off);
	uint64_t idx = get64(b + off + 8);
	if (len == 0 || off + WAL_HDR + len > n || idx != want)
		return false;
	if (record_crc(idx, b + off + WAL_HDR, len) != get32(b + off + 4))
		return false;
	*next = off + WAL_HDR + len;
	return true;
}

static bool all_zero(const uint8_t *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (b[i])
			return false;
	return true;
}

/* Replay one segment. Returns 0 with *end = offset after the last good record, or
 * KV_ECORRUPT. *torn is set when a bad tail was found (only allowed in the last one). */
static int replay_segment(struct wal *w, size_t si, uint64_t after, wal_replay_fn fn,
			  void *arg, size_t *end, bool *torn)
{
	char *path = seg_path(w, &w->segs[si]);
	if (!path)
		return -ENOMEM;
	uint8_t *b = NULL;
	size_t n = 0;
	int rc = read_file(path, &b, &n);
	if (rc) {
		kc_error("wal: cannot read %s: %s", path, strerror(-rc));
		free(path);
		return rc;
	}
	bool last = si + 1 == w->nsegs;
	size_t off = 0;
	*torn = false;
	uint64_t want = w->segs[si].first;
	if (si > 0 && want != w->last_index + 1 && w->last_index != 0) {
		kc_error("wal: %s starts at index %" PRIu64 ", expected %" PRIu64, path, want,
			 w->last_index + 1);
		rc = KV_ECORRUPT;
		goto out;
	}
	while (off < n) {
		size_t next;
		if (record_ok(b, n, off, want, &next)) {
			if (want > after && fn) {
				rc = fn(arg, want, b + off + WAL_HDR, next - off - WAL_HDR);
				if (rc)
					goto out;
			}
			w->last_index = want;
			want++;
			off = next;
			continue;
		}
		/* End of data: the zero-filled preallocated tail. */
		if (all_zero(b + off, n - off))
			break;
		/* A bad record. Corruption if a good record follows it or it is not the tail
		 * of the last segment; otherwise a torn write to truncate. */
		bool corrupt = !last;
		if (!corrupt && off + WAL_HDR <= n) {
			uint32_t len = get32(b + off);
			size_t nx;
			if (len && off + WAL_HDR + len < n &&
			    record_ok(b, n, off + WAL_HDR + len, want + 1, &nx))
				corrupt = true;
		}
		if (corrupt) {
			kc_error("wal: corrupt record in %s at offset %zu (expected index %" PRIu64
				 "); refusing to start", path, off, want);
			rc = KV_ECORRUPT;
			goto out;
		}
		kc_warn("wal: torn final record in %s at offset %zu (index %" PRIu64
			"), truncating %zu bytes", path, off, want, n - off);
		*torn = true;
		break;
	}
	*end = off;
out:
	free(b);
	free(path);
	return rc;
}

int wal_open(struct wal *w, const char *dir, size_t seg_bytes, bool no_fsync, uint64_t after,
	     wal_replay_fn fn, void *arg)
{
	memset(w, 0, sizeof(*w));
	w->fd = w->dirfd = -1;
	w->seg_bytes = seg_bytes ? seg_bytes : WAL_DEFAULT_SEGMENT;
	w->no_fsync = no_fsync;
	w->dir = strdup(dir);
	if (!w->dir)
		return -ENOMEM;
	if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
		int e = -errno;
		kc_error("wal: mkdir %s: %s", dir, strerror(errno));
		wal_close(w);
		return e;
	}
	w->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	/* One writer per data dir, as etcd's flock on its WAL files: a second process on
	 * the same directory would interleave records. The kernel drops the lock when the
	 * process dies, so a crash never leaves it stale. */
	if (w->dirfd >= 0 && flock(w->dirfd, LOCK_EX | LOCK_NB) != 0) {
		int e = errno == EWOULDBLOCK ? -EBUSY : -errno;
		kc_error("wal: %s is locked by another process", dir);
		wal_close(w);
		return e;
	}
	int rc = w->dirfd < 0 ? -errno : list_segments(w);
	if (rc) {
		wal_close(w);
		return rc;
	}
	/* Segments wholly covered by the snapshot may remain if we crashed mid-release. */
	size_t end = 0;
	bool torn = false;
	for (size_t i = 0; i < w->nsegs && !rc; i++) {
		if (i == 0)
			w->last_index = w->segs[0].first ? w->segs[0].first - 1 : 0;
		rc = replay_segment(w, i, after, fn, arg, &end, &torn);
	}
	if (rc) {
		wal_close(w);
		return rc;
	}
	if (w->nsegs == 0 || w->last_index < after) {
		/* Fresh log, or a snapshot restored past the log: every old record is covered
		 * by the snapshot, so drop those segments and start a new one. */
		uint64_t seq = w->nsegs ? w->segs[w->nsegs - 1].seq + 1 : 0;
		for (size_t i = 0; i < w->nsegs; i++) {
			char *p = seg_path(w, &w->segs[i]);
			if (p)
				unlink(p);
			free(p);
		}
		w->nsegs = 0;
		w->last_index = after;
		rc = create_segment(w, seq, after + 1);
		if (rc) {
			wal_close(w);
			return rc;
		}
		return 0;
	}
	char *p = seg_path(w, &w->segs[w->nsegs - 1]);
	if (!p) {
		wal_close(w);
		return -ENOMEM;
	}
	w->fd = open(p, O_RDWR | O_CLOEXEC);
	free(p);
	if (w->fd < 0) {
		rc = -errno;
		wal_close(w);
		return rc;
	}
	w->off = (off_t)end;
	w->zeroed = w->off;
	if (torn) {
		/* Drop the torn bytes and restore the zero tail. */
		if (ftruncate(w->fd, w->off) != 0 || (preallocate(w, w->fd), 0) ||
		    (!no_fsync && fsync(w->fd) != 0)) {
			rc = -errno;
			wal_close(w);
			return rc;
		}
	}
	return 0;
}

void wal_close(struct wal *w)
{
	if (w->fd >= 0) {
		if (!w->no_fsync)
			fdatasync(w->fd);
		close(w->fd);
	}
	if (w->dirfd >= 0)
		close(w->dirfd);
	free(w->segs);
	free(w->dir);
	memset(w, 0, sizeof(*w));
	w->fd = w->dirfd = -1;
}

static int write_all(int fd, const uint8_t *buf, size_t len, off_t at)
{
	size_t done = 0;
	while (done < len) {
		ssize_t r = pwrite(fd, buf + done, len - done, at + (off_t)done);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		done += (size_t)r;
	}
	return 0;
}

/* Write real zeros over [w->zeroed, end). The segment is fallocate()d, but on ext4 (and
 * XFS) a preallocated extent stays "unwritten" until data lands in it, and the
 * fdatasync after the first write into it must also convert the extent and write the
 * inode: measured here, 52-58 us of CPU per fdatasync instead of 37-42 us into
 * already-written blocks. Zeroing a megabyte ahead moves that conversion to one
 * fdatasync per megabyte. Replay already reads zeros as the end of the log, whether
 * they are fallocate's or ours. */
static int zero_ahead(struct wal *w, off_t end)
{
	static const uint8_t zeros[64 << 10];
	while (w->zeroed < end) {
		size_t n = (size_t)(end - w->zeroed);
		if (n > sizeof(zeros))
			n = sizeof(zeros);
		int rc = write_all(w->fd, zeros, n, w->zeroed);
		if (rc)
			return rc;
		w->zeroed += (off_t)n;
	}
	return 0;
}

int wal_write(struct wal *w, const uint8_t *buf, size_t len, uint64_t first, uint64_t last)
{
	if (first != w->last_index + 1)
		return -EINVAL;
	if (w->off > 0 && (size_t)w->off + len > w->seg_bytes) {
		int rc = create_segment(w, w->segs[w->nsegs - 1].seq + 1, first);
		if (rc)
			return rc;
	}
	int rc = write_all(w->fd, buf, len, w->off);
	if (rc)
		return rc;
	w->off += (off_t)len;
	w->last_index = last;
	if (w->zeroed < w->off)
		w->zeroed = w->off;
	if ((size_t)w->zeroed < w->seg_bytes &&
	    (size_t)(w->zeroed - w->off) < WAL_ZERO_AHEAD / 2) {
		/* Refill to a megabyte ahead once less than half of it is left, within the
		 * preallocated segment (a segment never grows past its size by zeroing). */
		off_t end = w->off + (off_t)WAL_ZERO_AHEAD;
		if ((size_t)end > w->seg_bytes)
			end = (off_t)w->seg_bytes;
		rc = zero_ahead(w, end);
	}
	return rc;
}

int wal_sync(struct wal *w)
{
	if (w->no_fsync)
		return 0;
	return fdatasync(w->fd) == 0 ? 0 : -errno;
}

int wal_release(struct wal *w, uint64_t index)
{
	/* Segment i holds [first_i, first_{i+1}); drop it when first_{i+1} <= index + 1. */
	size_t drop = 0;
	while (drop + 1 < w->nsegs && w->segs[drop + 1].first <= index + 1)
		drop++;
	for (size_t i = 0; i < drop; i++) {
		char *p = seg_path(w, &w->segs[i]);
		if (p && unlink(p) != 0)
			kc_warn("wal: remove %s: %s", p, strerror(errno));
		free(p);
	}
	if (drop) {
		memmove(w->segs, w->segs + drop, (w->nsegs - drop) * sizeof(*w->segs));
		w->nsegs -= drop;
		sync_dir(w);
	}
	return 0;
}
