/* Raft records on the WAL (see raft_wal.h). */
#include "raft_wal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "kv.h"
#include "log.h"

static void put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

static int push_entry(struct rwal *rw, uint64_t term, uint64_t index, uint8_t type,
		      const uint8_t *data, size_t len)
{
	if (rw->n == rw->cap) {
		size_t nc = rw->cap ? rw->cap * 2 : 256;
		struct raft_entry *ne = realloc(rw->ents, nc * sizeof(*ne));
		if (!ne)
			return -ENOMEM;
		rw->ents = ne;
		rw->cap = nc;
	}
	uint8_t *d = NULL;
	if (len) {
		d = malloc(len);
		if (!d)
			return -ENOMEM;
		memcpy(d, data, len);
	}
	rw->ents[rw->n++] = (struct raft_entry){ term, index, type, d, len };
	return 0;
}

static void truncate_from(struct rwal *rw, uint64_t index)
{
	while (rw->n && rw->ents[rw->n - 1].index >= index) {
		free(rw->ents[rw->n - 1].data);
		rw->n--;
	}
}

static void add_mark(struct rwal *rw, uint64_t index, uint64_t seq)
{
	if (rw->nmarks && rw->marks[rw->nmarks - 1].index >= index) {
		/* A rewritten suffix: older marks at or above index no longer hold. */
		while (rw->nmarks && rw->marks[rw->nmarks - 1].index >= index)
			rw->nmarks--;
	}
	if (rw->nmarks == rw->capmarks) {
		size_t nc = rw->capmarks ? rw->capmarks * 2 : 64;
		struct rwal_mark *nm = realloc(rw->marks, nc * sizeof(*nm));
		if (!nm)
			return; /* only costs disk space: fewer segments get released */
		rw->marks = nm;
		rw->capmarks = nc;
	}
	rw->marks[rw->nmarks++] = (struct rwal_mark){ index, seq };
}

static int replay_one(void *arg, uint64_t seq, const uint8_t *d, size_t len)
{
	struct rwal *rw = arg;
	rw->records++;
	if (len < 1)
		goto bad;
	switch (d[0]) {
	case 'E': {
		if (len < 18)
			goto bad;
		uint64_t term = get64(d + 1), index = get64(d + 9);
		uint8_t type = d[17];
		if (index == 0 || term == 0 || type > RAFT_ENTRY_NOOP)
			goto bad;
		if (index <= rw->base_index)
			return 0; /* covered by the snapshot */
		uint64_t next = rw->base_index + rw->n + 1;
		if (index < next)
			truncate_from(rw, index);
		else if (index > next) {
			kc_error("wal: entry %" PRIu64 " at record %" PRIu64 " leaves a gap after %" PRIu64,
				 index, seq, next - 1);
			return KV_ECORRUPT;
		}
		if (!rw->nmarks || rw->marks[rw->nmarks - 1].index + 1 != index ||
		    seq % 1024 == 0)
			add_mark(rw, index, seq);
		return push_entry(rw, term, index, type, d + 18, len - 18);
	}
	case 'H':
		if (len != 25)
			goto bad;
		rw->hs.term = get64(d + 1);
		rw->hs.vote = get64(d + 9);
		rw->hs.commit = get64(d + 17);
		rw->has_hs = true;
		return 0;
	case 'S': {
		if (len != 17)
			goto bad;
		uint64_t index = get64(d + 1), term = get64(d + 9);
		if (index >= rw->base_index) {
			truncate_from(rw, 0);
			rw->base_index = index;
			rw->base_term = term;
		}
		return 0;
	}
	case 'M': {
		if (len < 18)
			goto bad;
		cluster_members_free(&rw->boot);
		if (cluster_decode(d + 18, len - 18, &rw->boot))
			goto bad;
		rw->has_boot = true;
		rw->boot_voters = d[1] != 0;
		rw->boot_self = get64(d + 2);
		rw->boot_cluster = get64(d + 10);
		return 0;
	}
	}
bad:
	kc_error("wal: record %" PRIu64 " in %s passed its checksum but does not parse", seq,
		 rw->w.dir ? rw->w.dir : "");
	return KV_ECORRUPT;
}

int rwal_open(struct rwal *rw, const char *dir, size_t seg_bytes, bool no_fsync,
	      uint64_t snap_index, uint64_t snap_term)
{
	memset(rw, 0, sizeof(*rw));
	rw->base_index = snap_index;
	rw->base_term = snap_term;
	int rc = wal_open(&rw->w, dir, seg_bytes, no_fsync, 0, replay_one, rw);
	if (rc) {
		rwal_drop_replay(rw);
		free(rw->marks);
		rw->marks = NULL;
		return rc;
	}
	return 0;
}

void rwal_drop_replay(struct rwal *rw)
{
	truncate_from(rw, 0);
	free(rw->ents);
	rw->ents = NULL;
	rw->n = rw->cap = 0;
	cluster_members_free(&rw->boot);
}

void rwal_close(struct rwal *rw)
{
	rwal_drop_replay(rw);
	wal_close(&rw->w);
	free(rw->marks);
	free(rw->buf);
	memset(rw, 0, sizeof(*rw));
	rw->w.fd = rw->w.dirfd = -1;
}

static int reserve(struct rwal *rw, size_t need)
{
	if (need <= rw->bufcap)
		return 0;
	size_t nc = rw->bufcap ? rw->bufcap : 4096;
	while (nc < need)
		nc *= 2;
	uint8_t *nb = realloc(rw->buf, nc);
	if (!nb)
		return -ENOMEM;
	rw->buf = nb;
	rw->bufcap = nc;
	return 0;
}

/* Frame one record (header + payload head + data) at off; returns the new offset. */
static size_t frame(struct rwal *rw, size_t off, uint64_t seq, const uint8_t *head,
		    size_t hlen, const uint8_t *data, size_t dlen)
{
	/* wal_encode wants one contiguous payload: build it in place after the header. */
	uint8_t *p = rw->buf + off + WAL_HDR;
	memcpy(p, head, hlen);
	if (dlen)
		memcpy(p + hlen, data, dlen);
	wal_frame_inplace(rw->buf + off, seq, hlen + dlen);
	return off + wal_record_size(hlen + dlen);
}

int rwal_save(struct rwal *rw, const struct raft_ready *rd, bool *synced)
{
	*synced = false;
	size_t need = 0;
	if (rd->hs_changed)
		need += wal_record_size(25);
	if (rd->has_snap)
		need += wal_record_size(17);
	for (size_t i = 0; i < rd->n_entries; i++)
		need += wal_record_size(18 + rd->entries[i].len);
	if (!need)
		return 0;
	int rc = reserve(rw, need);
	if (rc)
		return rc;
	uint64_t first = rw->w.last_index + 1, seq = first;
	size_t off = 0;
	uint8_t h[25];
	if (rd->hs_changed) {
		h[0] = 'H';
		put64(h + 1, rd->hs.term);
		put64(h + 9, rd->hs.vote);
		put64(h + 17, rd->hs.commit);
		off = frame(rw, off, seq++, h, 25, NULL, 0);
	}
	if (rd->has_snap) {
		h[0] = 'S';
		put64(h + 1, rd->snap.index);
		put64(h + 9, rd->snap.term);
		off = frame(rw, off, seq++, h, 17, NULL, 0);
		rw->nmarks = 0;
	}
	uint64_t first_ent_seq = seq;
	for (size_t i = 0; i < rd->n_entries; i++) {
		const struct raft_entry *e = &rd->entries[i];
		h[0] = 'E';
		put64(h + 1, e->term);
		put64(h + 9, e->index);
		h[17] = e->type;
		off = frame(rw, off, seq++, h, 18, e->data, e->len);
	}
	rc = wal_write(&rw->w, rw->buf, off, first, seq - 1);
	if (rc)
		return rc;
	/* The segment a write lands in is decided by wal_write (it rotates first if the
	 * whole batch does not fit), so the mark's sequence is exact. */
	if (rd->n_entries)
		add_mark(rw, rd->entries[0].index, first_ent_seq);
	bool must = rd->n_entries || rd->has_snap ||
		    (rd->hs_changed && (rw->hs.term != rd->hs.term || rw->hs.vote != rd->hs.vote));
	rw->hs = rd->hs;
	if (must) {
		rc = wal_sync(&rw->w);
		*synced = true;
	}
	return rc;
}

int rwal_save_boot(struct rwal *rw, const struct cluster_members *m, bool voters,
		   uint64_t self, uint64_t cluster)
{
	uint8_t *blob = NULL;
	size_t blen = 0;
	int rc = cluster_encode(m, &blob, &blen);
	if (rc)
		return rc;
	rc = reserve(rw, wal_record_size(18 + blen));
	if (!rc) {
		uint8_t h[18] = { 'M', voters ? 1 : 0 };
		put64(h + 2, self);
		put64(h + 10, cluster);
		uint64_t seq = rw->w.last_index + 1;
		size_t off = frame(rw, 0, seq, h, 18, blob, blen);
		rc = wal_write(&rw->w, rw->buf, off, seq, seq);
		if (!rc)
			rc = wal_sync(&rw->w);
	}
	free(blob);
	return rc;
}

int rwal_release(struct rwal *rw, uint64_t index)
{
	/* The newest mark whose first entry is <= index + 1: every record before its
	 * sequence holds entries <= index (committed, so never rewritten) or superseded
	 * hard states. */
	size_t k = rw->nmarks;
	for (size_t i = 0; i < rw->nmarks; i++)
		if (rw->marks[i].index <= index + 1)
			k = i;
	if (k == rw->nmarks || rw->marks[k].seq <= 1)
		return 0;
	int rc = wal_release(&rw->w, rw->marks[k].seq - 1);
	memmove(rw->marks, rw->marks + k, (rw->nmarks - k) * sizeof(*rw->marks));
	rw->nmarks -= k;
	return rc;
}
