/* The in-memory Raft log: entries after a snapshot base, term lookups, truncation.
 *
 * Entries live in one array (ents[0] is index snap_index + 1) so a Ready can hand out a
 * contiguous view. Entry data freed by truncation or compaction is parked on a garbage
 * list until raft_advance, because queued outgoing messages may still point at it.
 * `stable` is the last index the caller has made durable. */
#ifndef KUBEC_STORE_RAFT_LOG_H
#define KUBEC_STORE_RAFT_LOG_H

#include "raft.h"

struct raft_log {
	struct raft_entry *ents;
	size_t n, cap;
	uint64_t snap_index, snap_term;
	uint64_t stable;
	void **garbage;
	size_t ngarbage, garbage_cap;
};

void raft_log_init(struct raft_log *l);
void raft_log_close(struct raft_log *l);
static inline uint64_t raft_log_last_index(const struct raft_log *l)
{
	return l->snap_index + l->n;
}
static inline uint64_t raft_log_first_index(const struct raft_log *l)
{
	return l->snap_index + 1;
}
/* Term of index: 0 and -ENOENT if compacted away (below the snapshot) or beyond the end. */
int raft_log_term(const struct raft_log *l, uint64_t index, uint64_t *term);
/* Term of index, 0 when unknown. */
uint64_t raft_log_term_or0(const struct raft_log *l, uint64_t index);
uint64_t raft_log_last_term(const struct raft_log *l);
/* Entry at index or NULL (borrowed). */
struct raft_entry *raft_log_get(const struct raft_log *l, uint64_t index);
bool raft_log_match(const struct raft_log *l, uint64_t index, uint64_t term);
/* §5.4.1: is (last_index, last_term) at least as up to date as this log? */
bool raft_log_up_to_date(const struct raft_log *l, uint64_t last_index, uint64_t last_term);
/* Append one entry at the end; data copied. -ENOMEM. */
int raft_log_append(struct raft_log *l, uint64_t term, uint8_t type, const void *data,
		    size_t len);
/* Drop every entry with index > index (data parked as garbage); stable follows. */
void raft_log_truncate_after(struct raft_log *l, uint64_t index);
/* Drop entries <= index (which must be <= last index); the base becomes (index, term). */
void raft_log_compact(struct raft_log *l, uint64_t index, uint64_t term);
/* Drop everything and restart the log after a snapshot at (index, term). */
void raft_log_reset(struct raft_log *l, uint64_t index, uint64_t term);
/* Largest index <= index whose term is <= term (etcd's findConflictByTerm), or the
 * snapshot base if none is left. */
uint64_t raft_log_find_conflict_by_term(const struct raft_log *l, uint64_t index, uint64_t term);
void raft_log_free_garbage(struct raft_log *l);

#endif
