/* The write-ahead log: append-only segment files of CRC-32C-checked records.
 *
 * Segment files are <dir>/<seq:016x>-<first index:016x>.wal, preallocated (fallocate) to
 * the segment size like etcd's 64 MB WAL files; the zero-filled tail marks the end.
 * A record is
 *     u32 len | u32 crc32c(index || payload) | u64 index | payload[len]     (little endian)
 * with indexes consecutive from 1 (a record sequence number; raft_wal.h defines the typed
 * records kube-store stores in the payloads: raft entries, hard states, markers).
 *
 * Recovery (wal_open), as etcd's wal.ReadAll + repair: a bad record (bad CRC, bad index,
 * impossible length, cut short) at the end of the last segment, with nothing valid after
 * it, is a torn write: the log is truncated there with a warning. Anything else is
 * corruption: wal_open logs the file and offset and fails with KV_ECORRUPT. */
#ifndef KUBEC_STORE_WAL_H
#define KUBEC_STORE_WAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define WAL_HDR 16
#define WAL_DEFAULT_SEGMENT (64u << 20)
#define WAL_ZERO_AHEAD (1u << 20)

struct wal_seg {
	uint64_t seq, first;
};

struct wal {
	char *dir;
	int fd, dirfd;
	off_t off;              /* append offset in the active segment */
	off_t zeroed;           /* [off, zeroed) of the active segment has been written with
				 * zeros (see wal_write's zero-ahead) */
	size_t seg_bytes;
	uint64_t last_index;    /* index of the last record written */
	bool no_fsync;
	struct wal_seg *segs;   /* ascending; the last is active */
	size_t nsegs;
};

uint32_t wal_crc32c(uint32_t crc, const void *p, size_t n);

/* Called for every record with index > after, in order. data is borrowed for the call.
 * A non-zero return aborts the open with that value. */
typedef int (*wal_replay_fn)(void *arg, uint64_t index, const uint8_t *data, size_t len);

/* Open (creating dir and a first segment if needed) and replay. after = the index the
 * snapshot covers; a fresh log starts at after + 1. dir borrowed. */
int wal_open(struct wal *w, const char *dir, size_t seg_bytes, bool no_fsync, uint64_t after,
	     wal_replay_fn fn, void *arg);
void wal_close(struct wal *w);

/* Size of the record framing for a payload of len bytes. */
static inline size_t wal_record_size(size_t len) { return WAL_HDR + len; }
/* Frame payload as record `index` into out (wal_record_size(len) bytes). */
void wal_encode(uint8_t *out, uint64_t index, const uint8_t *payload, size_t len);
/* Frame a payload already placed at out + WAL_HDR (len bytes) as record `index`. */
void wal_frame_inplace(uint8_t *out, uint64_t index, size_t len);
/* Write already-framed records (buf, covering indexes first..last) at the end of the log,
 * rotating to a new segment first if they do not fit. Not durable until wal_sync.
 * Keeps WAL_ZERO_AHEAD bytes past the records written with real zeros, so the
 * fdatasync that follows rarely has an unwritten extent to convert. */
int wal_write(struct wal *w, const uint8_t *buf, size_t len, uint64_t first, uint64_t last);
/* fdatasync the active segment (no-op with no_fsync). */
int wal_sync(struct wal *w);
/* Delete segments whose records are all <= index (never the active one). */
int wal_release(struct wal *w, uint64_t index);

#endif
