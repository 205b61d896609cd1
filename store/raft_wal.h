/* The Raft log on disk: typed records on top of wal.c's CRC'd frames, as etcd's wal
 * package stores raftpb.Entry, HardState and snapshot records.
 *
 * wal.c numbers its frames with a consecutive record sequence (the segment file names
 * carry the first sequence of the segment); the payload of every frame is one record:
 *   'E' u64 term | u64 index | u8 type | data      a raft entry
 *   'H' u64 term | u64 vote | u64 commit           the hard state
 *   'S' u64 index | u64 term                       a snapshot installed from the leader
 *                                                  (its file was saved first)
 *   'M' u8 voters | u64 self id | u64 cluster id | cluster_encode() blob
 *                                                  the bootstrap member list and our ids
 *                                                  (written once, when the data dir is
 *                                                  created; etcd's WAL metadata)
 * (little endian). Replay mirrors etcd's wal.ReadAll: an entry whose index is <= the last
 * one read truncates the tail first (a follower's conflicting suffix was replaced), an 'S'
 * record drops every entry, the last 'H' wins. Framing damage is handled by wal_open
 * (torn final record truncated with a warning, corruption elsewhere is KV_ECORRUPT naming
 * the file and offset); a record that passed its CRC but does not parse is KV_ECORRUPT. */
#ifndef KUBEC_STORE_RAFT_WAL_H
#define KUBEC_STORE_RAFT_WAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cluster.h"
#include "raft.h"
#include "wal.h"

struct rwal_mark {
	uint64_t index, seq; /* first entry index of a write and the record sequence it got */
};

struct rwal {
	struct wal w;
	/* Replay results (valid after rwal_open until rwal_drop_replay). */
	struct raft_hard_state hs;
	bool has_hs;
	uint64_t base_index, base_term;   /* entries start at base_index + 1 */
	struct raft_entry *ents;          /* data malloc'd per entry */
	size_t n, cap;
	struct cluster_members boot;      /* 'M' record */
	bool has_boot, boot_voters;
	uint64_t boot_self, boot_cluster;
	uint64_t records;                 /* records replayed (0: fresh data dir) */
	/* Release bookkeeping. */
	struct rwal_mark *marks;
	size_t nmarks, capmarks;
	/* Write buffer. */
	uint8_t *buf;
	size_t bufcap;
};

/* Open the WAL in dir and replay it. snap_index/snap_term: the snapshot file the caller
 * loaded (0 if none); entries at or below it are skipped. dir borrowed. */
int rwal_open(struct rwal *rw, const char *dir, size_t seg_bytes, bool no_fsync,
	      uint64_t snap_index, uint64_t snap_term);
/* Free the replayed entries and boot list (after raft_load copied them). */
void rwal_drop_replay(struct rwal *rw);
void rwal_close(struct rwal *rw);

/* Persist one Ready: hard state (if changed), snapshot marker (if any), entries; fsync
 * once when etcd's MustSync says so (entries, a snapshot, or a term/vote change).
 * *synced tells whether an fdatasync ran. rd borrowed. */
int rwal_save(struct rwal *rw, const struct raft_ready *rd, bool *synced);
/* Write and sync the 'M' record. m borrowed. voters: the members are the bootstrap
 * configuration (a new cluster), not only metadata (joining an existing one). */
int rwal_save_boot(struct rwal *rw, const struct cluster_members *m, bool voters,
		   uint64_t self, uint64_t cluster);
/* Delete whole segments that hold only entries <= index (and older hard states), never
 * the active segment. */
int rwal_release(struct rwal *rw, uint64_t index);

#endif
