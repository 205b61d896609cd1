/* The MVCC key space, in memory: an ordered index of keys (a skiplist over the key bytes),
 * each key holding its revisions newest first, plus a revision log (main revision -> the
 * revisions written at it, in sub-revision order) that serves watchers from history.
 *
 * Semantics as etcd's mvcc package (server/mvcc/key_index.go, kvstore_txn.go):
 *   - the store revision (main) increments once per write transaction that changes
 *     something; each change inside it gets a sub revision;
 *   - a key's generation starts at a put on an absent key (create_revision = that
 *     revision, version 1), each put increments version, a delete writes a tombstone that
 *     ends the generation;
 *   - reads at revision R see, per key, the newest revision <= R unless it is a tombstone;
 *   - compaction at C keeps, per key, the newest revision <= C (dropped too if it is a
 *     tombstone older than C) and everything newer; reads below C fail.
 *
 * No locking here: the engine (kv.c) holds its state lock around every call. One writer
 * (the committer) mutates; any number of readers may call the read functions at once. */
#ifndef KUBEC_STORE_MVCC_H
#define KUBEC_STORE_MVCC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct mvcc_key;

struct mvcc_rev {
	int64_t main;                  /* mod_revision */
	int64_t create;                /* create_revision of this generation (0 for tombstone) */
	int64_t version;               /* 0 for a tombstone */
	int64_t lease;
	struct mvcc_rev *older;        /* previous revision of the same key, or NULL */
	struct mvcc_rev *next_in_rev;  /* next change in the same main revision */
	struct mvcc_key *key;
	uint32_t sub;
	uint32_t vlen;
	uint8_t tomb;
	char value[];
};

struct mvcc_key {
	struct mvcc_rev *head;                    /* newest revision */
	struct mvcc_key *lease_prev, *lease_next; /* lessor's list of keys attached to a lease */
	uint32_t klen;
	uint8_t level;
	struct mvcc_key *next[];                  /* skiplist links; key bytes follow */
};

static inline const char *mvcc_key_bytes(const struct mvcc_key *k)
{
	return (const char *)&k->next[k->level];
}

/* Byte-wise key order (memcmp, shorter first on a common prefix), etcd's bytes.Compare. */
static inline int mvcc_keycmp(const void *a, size_t alen, const void *b, size_t blen)
{
	size_t n = alen < blen ? alen : blen;
	int c = n ? memcmp(a, b, n) : 0;
	if (c)
		return c;
	return alen < blen ? -1 : alen > blen ? 1 : 0;
}

#define MVCC_MAX_LEVEL 24

struct mvcc {
	struct mvcc_key *head;   /* skiplist sentinel with MVCC_MAX_LEVEL links */
	int level;               /* highest level in use */
	uint64_t rnd;
	int64_t rev;             /* current revision; 1 when empty, as etcd */
	int64_t compact_rev;     /* last compaction revision, 0 if never */
	/* revision log: log[i] = first change at revision log_base + i */
	struct mvcc_rev **log;
	size_t log_len, log_cap;
	int64_t log_base;
	int64_t bytes;           /* accounted size of all stored revisions (see mvcc_rev_cost) */
	int64_t nkeys;           /* keys in the index (live or with history) */
};

/* Accounted size of one stored revision: key + value + 64 bytes of bookkeeping (about what
 * etcd's bbolt spends per revision: the 17-byte revision key plus the KeyValue encoding). */
int64_t mvcc_rev_cost(size_t klen, size_t vlen);

int mvcc_init(struct mvcc *s);
void mvcc_close(struct mvcc *s);

/* Exact lookup of a key in the index (NULL if absent). */
struct mvcc_key *mvcc_find(const struct mvcc *s, const void *key, size_t klen);
/* The revision of k visible at rev (newest <= rev), NULL if none or a tombstone. */
const struct mvcc_rev *mvcc_visible(const struct mvcc_key *k, int64_t rev);

/* Range bounds as etcd: end_len == 0 means the single key; end = "\0" (len 1) means every
 * key >= key; otherwise [key, end). fn returns non-zero to stop (that value is returned). */
typedef int (*mvcc_iter_fn)(void *arg, const struct mvcc_rev *r);
int mvcc_range(const struct mvcc *s, const void *key, size_t klen, const void *end,
	       size_t end_len, int64_t rev, mvcc_iter_fn fn, void *arg);
/* Keys (not revisions) in [key, end) regardless of visibility: for deletes/leases. */
typedef int (*mvcc_key_fn)(void *arg, struct mvcc_key *k);
int mvcc_range_keys(const struct mvcc *s, const void *key, size_t klen, const void *end,
		    size_t end_len, mvcc_key_fn fn, void *arg);

/* A write transaction: all changes share main revision s->rev + 1; the store revision
 * moves only at mvcc_txn_end and only if something changed. */
struct mvcc_txn {
	struct mvcc *s;
	int64_t rev;
	uint32_t sub;
	struct mvcc_rev *first, *last;
};
void mvcc_txn_begin(struct mvcc *s, struct mvcc_txn *t);
/* Put key=value with lease. *prev (may be NULL) gets the previously visible revision.
 * Returns the new revision record (owned by the store) or NULL on -ENOMEM. */
struct mvcc_rev *mvcc_txn_put(struct mvcc_txn *t, const void *key, size_t klen,
			      const void *val, size_t vlen, int64_t lease,
			      const struct mvcc_rev **prev);
/* Same, for a key already in the index (saves the index search). */
struct mvcc_rev *mvcc_txn_put_at(struct mvcc_txn *t, struct mvcc_key *k, const void *val,
				 size_t vlen, int64_t lease, const struct mvcc_rev **prev);
/* Write a tombstone for k (which must have a live head). Returns it or NULL (-ENOMEM). */
struct mvcc_rev *mvcc_txn_delete(struct mvcc_txn *t, struct mvcc_key *k);
/* Revision the txn's writes get (s->rev + 1), or s->rev if nothing changed yet. */
static inline int64_t mvcc_txn_rev(const struct mvcc_txn *t)
{
	return t->sub ? t->rev : t->rev - 1;
}
/* Commit: bump the store revision and log the changes if there were any. */
int mvcc_txn_end(struct mvcc_txn *t);

/* First change at revision rev (follow next_in_rev), or NULL if rev is outside the log. */
const struct mvcc_rev *mvcc_log_at(const struct mvcc *s, int64_t rev);

/* Compact at rev (compact_rev < rev <= s->rev). key_gone is called for every key removed
 * from the index (none is attached to a lease: only tombstoned keys go). */
void mvcc_compact(struct mvcc *s, int64_t rev);

/* Restore path: insert a revision record as-is (records of one key must come oldest
 * first). Revision log is rebuilt by mvcc_restore_finish. */
struct mvcc_rev *mvcc_restore_rev(struct mvcc *s, const void *key, size_t klen,
				  const void *val, size_t vlen, int64_t main, uint32_t sub,
				  int64_t create, int64_t version, int64_t lease, bool tomb);
int mvcc_restore_finish(struct mvcc *s, int64_t rev, int64_t compact_rev);

/* Visit every key in order (snapshot, hash). */
int mvcc_each_key(const struct mvcc *s, mvcc_key_fn fn, void *arg);

#endif
