/* Snapshot files: serialise / load the engine state (see snapshot.h). */
#include "snapshot.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clock.h"
#include "kv.h"
#include "log.h"
#include "wal.h"

#define SNAP_MAGIC "KCSNAP01"

struct wbuf {
	int fd;
	uint8_t *b;
	size_t n, cap;
	uint32_t crc;
	int64_t total;
	int err;
};

static void wflush(struct wbuf *w)
{
	if (w->err || !w->n)
		return;
	w->crc = wal_crc32c(w->crc, w->b, w->n);
	size_t done = 0;
	while (done < w->n) {
		ssize_t r = write(w->fd, w->b + done, w->n - done);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			w->err = r < 0 ? -errno : -EIO;
			return;
		}
		done += (size_t)r;
	}
	w->total += (int64_t)w->n;
	w->n = 0;
}

static void wput(struct wbuf *w, const void *p, size_t n)
{
	const uint8_t *s = p;
	while (n && !w->err) {
		if (w->n == w->cap)
			wflush(w);
		size_t k = w->cap - w->n < n ? w->cap - w->n : n;
		memcpy(w->b + w->n, s, k);
		w->n += k;
		s += k;
		n -= k;
	}
}

static void w64(struct wbuf *w, uint64_t v)
{
	uint8_t b[8];
	for (int i = 0; i < 8; i++)
		b[i] = (uint8_t)(v >> (8 * i));
	wput(w, b, 8);
}
static void w32(struct wbuf *w, uint32_t v)
{
	uint8_t b[4];
	for (int i = 0; i < 4; i++)
		b[i] = (uint8_t)(v >> (8 * i));
	wput(w, b, 4);
}
static void w8(struct wbuf *w, uint8_t v) { wput(w, &v, 1); }

static int write_key(void *arg, struct mvcc_key *k)
{
	struct wbuf *w = arg;
	/* Revisions oldest first so loading can append to the chain. */
	struct mvcc_rev *stack[64], **revs = stack;
	size_t n = 0;
	for (struct mvcc_rev *r = k->head; r; r = r->older)
		n++;
	if (n > 64) {
		revs = malloc(n * sizeof(*revs));
		if (!revs) {
			w->err = -ENOMEM;
			return w->err;
		}
	}
	size_t i = n;
	for (struct mvcc_rev *r = k->head; r; r = r->older)
		revs[--i] = r;
	w8(w, 'K');
	w32(w, k->klen);
	wput(w, mvcc_key_bytes(k), k->klen);
	w32(w, (uint32_t)n);
	for (i = 0; i < n; i++) {
		struct mvcc_rev *r = revs[i];
		w64(w, (uint64_t)r->main);
		w32(w, r->sub);
		w8(w, r->tomb);
		w64(w, (uint64_t)r->create);
		w64(w, (uint64_t)r->version);
		w64(w, (uint64_t)r->lease);
		w32(w, r->vlen);
		wput(w, r->value, r->vlen);
	}
	if (revs != stack)
		free(revs);
	return w->err;
}

static int write_lease(void *arg, struct lease *ls)
{
	struct wbuf *w = arg;
	w8(w, 'L');
	w64(w, (uint64_t)ls->id);
	w64(w, (uint64_t)ls->ttl);
	return w->err;
}

int64_t snapshot_write_fd(int fd, const struct mvcc *s, const struct lessor *l,
			  const struct snap_meta *m)
{
	struct wbuf w = { .fd = fd, .cap = 1 << 20 };
	w.b = malloc(w.cap);
	if (!w.b)
		return -ENOMEM;
	wput(&w, SNAP_MAGIC, 8);
	w64(&w, m->index);
	w64(&w, (uint64_t)s->rev);
	w64(&w, (uint64_t)s->compact_rev);
	w32(&w, (uint32_t)m->nalarms);
	for (size_t i = 0; i < m->nalarms; i++) {
		w64(&w, m->alarms[i].member);
		w32(&w, m->alarms[i].type);
	}
	mvcc_each_key(s, write_key, &w);
	lessor_each(l, write_lease, &w);
	if (m->raft_len || m->term) {
		w8(&w, 'R');
		w64(&w, m->term);
		w32(&w, (uint32_t)m->raft_len);
		if (m->raft_len)
			wput(&w, m->raft, m->raft_len);
	}
	w8(&w, 'E');
	wflush(&w);
	if (!w.err) {
		uint8_t b[4];
		for (int i = 0; i < 4; i++)
			b[i] = (uint8_t)(w.crc >> (8 * i));
		memcpy(w.b, b, 4);
		w.n = 4;
		wflush(&w);
	}
	free(w.b);
	return w.err ? w.err : w.total;
}

static int is_snap_name(const char *n, uint64_t *idx)
{
	char tail[8];
	return strlen(n) == 21 && sscanf(n, "%16" SCNx64 "%6s", idx, tail) == 2 &&
	       strcmp(tail, ".snap") == 0;
}

int snapshot_latest(const char *dir, char **path)
{
	*path = NULL;
	DIR *d = opendir(dir);
	if (!d)
		return errno == ENOENT ? 0 : -errno;
	struct dirent *e;
	uint64_t best = 0;
	bool found = false;
	while ((e = readdir(d))) {
		uint64_t idx;
		if (is_snap_name(e->d_name, &idx) && (!found || idx > best)) {
			best = idx;
			found = true;
		}
	}
	closedir(d);
	if (found && asprintf(path, "%s/%016" PRIx64 ".snap", dir, best) < 0)
		return -ENOMEM;
	return 0;
}

int snapshot_save(const char *dir, const struct mvcc *s, const struct lessor *l,
		  const struct snap_meta *m)
{
	char *tmp = NULL, *fin = NULL;
	if (asprintf(&tmp, "%s/%016" PRIx64 ".snap.tmp", dir, m->index) < 0)
		return -ENOMEM;
	if (asprintf(&fin, "%s/%016" PRIx64 ".snap", dir, m->index) < 0) {
		free(tmp);
		return -ENOMEM;
	}
	int rc = 0;
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		rc = -errno;
		goto out;
	}
	int64_t n = snapshot_write_fd(fd, s, l, m);
	if (n < 0)
		rc = (int)n;
	else if (fsync(fd) != 0)
		rc = -errno;
	close(fd);
	if (!rc && rename(tmp, fin) != 0)
		rc = -errno;
	if (rc) {
		unlink(tmp);
		goto out;
	}
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		fsync(dfd);
		close(dfd);
	}
	/* Remove older snapshots (and stale temporaries). */
	DIR *d = opendir(dir);
	if (d) {
		struct dirent *e;
		while ((e = readdir(d))) {
			uint64_t idx;
			bool stale_tmp = strstr(e->d_name, ".snap.tmp") != NULL;
			if ((is_snap_name(e->d_name, &idx) && idx < m->index) || stale_tmp) {
				char *p = NULL;
				if (asprintf(&p, "%s/%s", dir, e->d_name) >= 0)
					unlink(p);
				free(p);
			}
		}
		closedir(d);
	}
out:
	free(tmp);
	free(fin);
	return rc;
}

struct rbuf {
	const uint8_t *b;
	size_t n, off;
	bool bad;
};

static const uint8_t *take(struct rbuf *r, size_t n)
{
	if (r->bad || r->n - r->off < n) {
		r->bad = true;
		return NULL;
	}
	const uint8_t *p = r->b + r->off;
	r->off += n;
	return p;
}
static uint64_t r64(struct rbuf *r)
{
	const uint8_t *p = take(r, 8);
	uint64_t v = 0;
	for (int i = 0; p && i < 8; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}
static uint32_t r32(struct rbuf *r)
{
	const uint8_t *p = take(r, 4);
	uint32_t v = 0;
	for (int i = 0; p && i < 4; i++)
		v |= (uint32_t)p[i] << (8 * i);
	return v;
}
static uint8_t r8(struct rbuf *r)
{
	const uint8_t *p = take(r, 1);
	return p ? *p : 0;
}

static int attach_leased(void *arg, struct mvcc_key *k)
{
	struct lessor *l = arg;
	if (k->head && !k->head->tomb && k->head->lease)
		lessor_attach(l, k, 0, k->head->lease);
	return 0;
}

static int parse(struct rbuf *r, struct mvcc *s, struct lessor *l, struct snap_meta *m,
		 int64_t now_ns)
{
	const uint8_t *magic = take(r, 8);
	if (!magic || memcmp(magic, SNAP_MAGIC, 8) != 0)
		return KV_ECORRUPT;
	m->index = r64(r);
	int64_t rev = (int64_t)r64(r);
	int64_t crev = (int64_t)r64(r);
	uint32_t na = r32(r);
	if (r->bad || na > 1024 || rev < 1 || crev < 0 || crev > rev)
		return KV_ECORRUPT;
	m->nalarms = na;
	m->alarms = na ? calloc(na, sizeof(*m->alarms)) : NULL;
	if (na && !m->alarms)
		return -ENOMEM;
	for (uint32_t i = 0; i < na; i++) {
		m->alarms[i].member = r64(r);
		m->alarms[i].type = r32(r);
	}
	for (;;) {
		uint8_t tag = r8(r);
		if (r->bad)
			return KV_ECORRUPT;
		if (tag == 'E')
			break;
		if (tag == 'R') {
			m->term = r64(r);
			uint32_t len = r32(r);
			const uint8_t *blob = take(r, len);
			if (r->bad || m->raft)
				return KV_ECORRUPT;
			m->raft = malloc(len ? len : 1);
			if (!m->raft)
				return -ENOMEM;
			if (len)
				memcpy(m->raft, blob, len);
			m->raft_len = len;
			continue;
		}
		if (tag == 'L') {
			int64_t id = (int64_t)r64(r), ttl = (int64_t)r64(r);
			if (r->bad || ttl < 0 || ttl > LEASE_MAX_TTL)
				return KV_ECORRUPT;
			int rc = lessor_grant(l, id, ttl, now_ns + ttl * KC_NSEC_PER_SEC, NULL);
			if (rc == -EEXIST)
				return KV_ECORRUPT;
			if (rc)
				return rc;
			continue;
		}
		if (tag != 'K')
			return KV_ECORRUPT;
		uint32_t klen = r32(r);
		const uint8_t *key = take(r, klen);
		uint32_t nrev = r32(r);
		if (r->bad || klen == 0 || nrev == 0)
			return KV_ECORRUPT;
		int64_t prev_main = 0;
		for (uint32_t i = 0; i < nrev; i++) {
			int64_t main = (int64_t)r64(r);
			uint32_t sub = r32(r);
			uint8_t tomb = r8(r);
			int64_t create = (int64_t)r64(r), version = (int64_t)r64(r);
			int64_t lease = (int64_t)r64(r);
			uint32_t vlen = r32(r);
			const uint8_t *val = take(r, vlen);
			if (r->bad || main <= prev_main || main > rev || tomb > 1)
				return KV_ECORRUPT;
			prev_main = main;
			if (!mvcc_restore_rev(s, key, klen, val, vlen, main, sub, create, version,
					      lease, tomb))
				return -ENOMEM;
		}
	}
	int rc = mvcc_restore_finish(s, rev, crev);
	if (rc)
		return rc;
	mvcc_each_key(s, attach_leased, l);
	return 0;
}

int snapshot_load(const char *path, struct mvcc *s, struct lessor *l, struct snap_meta *m,
		  int64_t now_ns)
{
	memset(m, 0, sizeof(*m));
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	struct stat st;
	if (fstat(fd, &st) != 0) {
		close(fd);
		return -errno;
	}
	size_t n = (size_t)st.st_size;
	uint8_t *b = malloc(n ? n : 1);
	if (!b) {
		close(fd);
		return -ENOMEM;
	}
	size_t got = 0;
	while (got < n) {
		ssize_t k = pread(fd, b + got, n - got, (off_t)got);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			break;
		got += (size_t)k;
	}
	close(fd);
	int rc;
	if (got != n || n < 12) {
		rc = KV_ECORRUPT;
	} else {
		uint32_t want = (uint32_t)b[n - 4] | (uint32_t)b[n - 3] << 8 |
				(uint32_t)b[n - 2] << 16 | (uint32_t)b[n - 1] << 24;
		if (wal_crc32c(0, b, n - 4) != want) {
			rc = KV_ECORRUPT;
		} else {
			struct rbuf r = { b, n - 4, 0, false };
			rc = parse(&r, s, l, m, now_ns);
			if (!rc && r.off != r.n)
				rc = KV_ECORRUPT;
		}
	}
	if (rc == KV_ECORRUPT)
		kc_error("snapshot: %s is corrupt (bad checksum or structure)", path);
	free(b);
	if (rc) {
		free(m->alarms);
		m->alarms = NULL;
		m->nalarms = 0;
		free(m->raft);
		m->raft = NULL;
		m->raft_len = 0;
	}
	return rc;
}
