/* Snapshots of the whole engine state: every stored revision of every key (so history
 * reads and watches survive restarts, as etcd's bbolt keeps them), the leases, raised
 * alarms, current and compacted revisions and the WAL index covered.
 *
 * Format (kube-store's own, little endian):
 *   "KCSNAP01" | u64 index | i64 rev | i64 compact_rev | u32 nalarms | alarms (u64 member,
 *   u32 type)... | then records: 'K' u32 klen key u32 nrevs {i64 main u32 sub u8 tomb
 *   i64 create i64 version i64 lease u32 vlen value}... (oldest first) | 'L' i64 id i64 ttl
 *   | 'R' u64 term u32 len blob (optional, see snap_meta) | 'E' | u32 crc32c of everything
 *   before.
 * Files in the data dir are <dir>/<index:016x>.snap, written to a .tmp, fsync'd, renamed
 * and the directory fsync'd (etcd's snapshotter does the same); older ones are removed. */
#ifndef KUBEC_STORE_SNAPSHOT_H
#define KUBEC_STORE_SNAPSHOT_H

#include <stdint.h>
#include <stddef.h>

#include "lease.h"
#include "mvcc.h"

struct snap_alarm {
	uint64_t member;
	uint32_t type; /* Kvpb__AlarmType */
};

struct snap_meta {
	uint64_t index;
	struct snap_alarm *alarms;  /* snapshot_load: malloc'd, caller frees */
	size_t nalarms;
	/* Raft part (optional 'R' record: u64 term | u32 len | blob, before 'E'): the term
	 * of the entry at index and an opaque blob (kv.c: configuration + member list).
	 * snapshot_load: raft malloc'd (caller frees), NULL when the file has none (a
	 * snapshot written before Raft, or by `snapshot save` of an older build). */
	uint64_t term;
	uint8_t *raft;
	size_t raft_len;
};

/* Serialise to fd. Returns bytes written or negative. Borrowed arguments. */
int64_t snapshot_write_fd(int fd, const struct mvcc *s, const struct lessor *l,
			  const struct snap_meta *m);
/* Write <dir>/<index>.snap durably and remove older snapshots. */
int snapshot_save(const char *dir, const struct mvcc *s, const struct lessor *l,
		  const struct snap_meta *m);
/* Path of the newest snapshot in dir (malloc'd) or NULL if none; 0 or -errno. */
int snapshot_latest(const char *dir, char **path);
/* Load into freshly initialised s and l; leases expire at now_ns + TTL. Returns 0,
 * KV_ECORRUPT (bad magic/CRC/structure, logged with the path) or -errno. */
int snapshot_load(const char *path, struct mvcc *s, struct lessor *l, struct snap_meta *m,
		  int64_t now_ns);

#endif
