/* The Raft consensus core: a pure, deterministic state machine.
 *
 * No threads, no clock, no sockets, no disk. The caller drives it:
 *   raft_step(r, msg)      a message from a peer (borrowed for the call)
 *   raft_tick(r)           one heartbeat interval elapsed (default 100 ms)
 *   raft_propose / raft_read_index / raft_transfer_leader / raft_change_membership
 * and collects the effects as a Ready batch, as etcd's raft.Node.Ready():
 *   raft_ready(r, &rd)     hard state, entries to append, a snapshot to install,
 *                          messages to send, committed entries to apply, read states
 *   ... persist rd.hs + rd.entries (+ rd.snap) durably, THEN send rd.msgs,
 *       apply rd.committed in order, answer rd.reads once applied >= their index ...
 *   raft_advance(r, &rd)   acknowledge; the views in rd are invalid afterwards.
 * No other raft_* call may be made between raft_ready and raft_advance.
 *
 * Randomness (election timeouts) comes from cfg.rand, so a seeded generator makes a run
 * reproducible (see test/unit/raft_fixture.c, which runs thousands of seeds).
 *
 * Membership changes are single-server (Ongaro's dissertation §4.1) and take effect as soon
 * as the configuration entry is APPENDED to a server's log, committed or not (not at apply,
 * as etcd's conf-change-v1 does); a truncated configuration entry reverts to the previous one.
 * A leader accepts a change only when the previous one is committed and it has committed an
 * entry of its own term (the fix in Ongaro's raft-dev post of 2015). Learners (non-voting
 * members) are supported. A leader that removes itself keeps leading until the entry
 * commits, then steps down (§4.2.2). */
#ifndef KUBEC_STORE_RAFT_H
#define KUBEC_STORE_RAFT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RAFT_NONE 0 /* no node: server ids are non-zero */
#define RAFT_MAX_MEMBERS 16

struct raft;

enum raft_role { RAFT_FOLLOWER = 0, RAFT_PRECANDIDATE, RAFT_CANDIDATE, RAFT_LEADER };

enum raft_entry_type {
	RAFT_ENTRY_NORMAL = 0, /* caller data (an InternalRequest for kube-store) */
	RAFT_ENTRY_CONF = 1,   /* a full membership configuration, raft_conf_encode() */
	RAFT_ENTRY_NOOP = 2,   /* appended by every new leader (§8 of the Raft paper) */
};

struct raft_entry {
	uint64_t term, index;
	uint8_t type; /* enum raft_entry_type */
	uint8_t *data;
	size_t len;
};

/* A membership configuration: voters count for elections and commit, learners only
 * receive the log. */
struct raft_conf {
	size_t n;
	uint64_t ids[RAFT_MAX_MEMBERS];
	bool learner[RAFT_MAX_MEMBERS];
};

struct raft_hard_state {
	uint64_t term, vote, commit;
};

struct raft_snapshot_meta {
	uint64_t index, term; /* last entry the snapshot covers */
	struct raft_conf conf;  /* configuration as of index */
};

enum raft_msg_type {
	RAFT_MSG_PREVOTE = 1,
	RAFT_MSG_PREVOTE_RESP,
	RAFT_MSG_VOTE,
	RAFT_MSG_VOTE_RESP,
	RAFT_MSG_APPEND,
	RAFT_MSG_APPEND_RESP,
	RAFT_MSG_HEARTBEAT,
	RAFT_MSG_HEARTBEAT_RESP,
	RAFT_MSG_SNAPSHOT,
	RAFT_MSG_TIMEOUT_NOW,
	RAFT_MSG_READ_INDEX,
	RAFT_MSG_READ_INDEX_RESP,
	RAFT_MSG_PROPOSE,
	RAFT_MSG_TYPE_MAX = RAFT_MSG_PROPOSE,
};

/* One Raft message. Field use per type:
 *   (PRE)VOTE:        index/log_term = candidate's last entry; transfer = campaign caused
 *                     by TimeoutNow (bypasses the leader lease)
 *   (PRE)VOTE_RESP:   reject
 *   APPEND:           index/log_term = entry preceding `entries`; commit = leader commit
 *   APPEND_RESP:      index = last index matched (success) or the rejected prev index;
 *                     reject_hint/log_term = follower's guess of the conflict point
 *   HEARTBEAT:        commit; ctx = ReadIndex round; HEARTBEAT_RESP echoes ctx
 *   SNAPSHOT:         snap = meta; snap_data/snap_len = the bytes. Outgoing snapshot
 *                     messages carry meta only: the sender attaches the bytes of its own
 *                     snapshot at snap.index (the one it reported with raft_compact).
 *   READ_INDEX:       ctx = caller context; READ_INDEX_RESP: index = read index, ctx.
 *   PROPOSE:          entries = proposals (data and type only) a follower forwards to its
 *                     leader (etcd's MsgProp); term is ignored (as etcd's local messages),
 *                     the leader appends them unless it is transferring leadership, any
 *                     other member drops them. */
struct raft_msg {
	uint8_t type;
	uint64_t from, to, term;
	uint64_t log_term, index, commit;
	bool reject, transfer;
	uint64_t reject_hint;
	uint64_t ctx;
	const struct raft_entry *entries;
	size_t n_entries;
	struct raft_snapshot_meta snap;
	const uint8_t *snap_data;
	size_t snap_len;
	uint32_t pool_off; /* internal: offset of entries in the outbox pool */
};

/* A confirmed ReadIndex: reads for ctx are linearizable once applied >= index. */
struct raft_read_state {
	uint64_t ctx, index;
};

/* One batch of work; every pointer is owned by the core and valid until raft_advance.
 * Order: persist hs + snap + entries (fsync), then send msgs, then apply committed, then
 * answer reads whose index <= applied. */
struct raft_ready {
	bool hs_changed;
	struct raft_hard_state hs;
	/* Entries to append durably; a caller's log holding entries at or after
	 * entries[0].index must drop them first (a conflicting suffix was replaced). */
	const struct raft_entry *entries;
	size_t n_entries;
	/* A snapshot received from the leader: it replaces the caller's whole log and
	 * state machine. Persist it (dropping every log entry), install it, then append
	 * `entries` and apply `committed` (which start after snap.index). */
	bool has_snap;
	struct raft_snapshot_meta snap;
	const uint8_t *snap_data;
	size_t snap_len;
	const struct raft_msg *msgs;
	size_t n_msgs;
	const struct raft_entry *committed;
	size_t n_committed;
	const struct raft_read_state *reads;
	size_t n_reads;
	/* Volatile state, for status reporting. */
	uint64_t lead;
	enum raft_role role;
};

struct raft_config {
	uint64_t id;                /* this server, != RAFT_NONE */
	int election_ticks;         /* default 10; timeouts are random in [T, 2T) */
	int heartbeat_ticks;        /* default 1 */
	size_t max_msg_entries;     /* batching: entries per APPEND (default 64) */
	size_t max_msg_bytes;       /* batching: data bytes per APPEND (default 1 MiB) */
	size_t max_inflight;        /* pipelining: unacked APPENDs per follower (default 64) */
	bool disable_pre_vote;      /* pre-vote (§9.6) is on unless set */
	bool disable_check_quorum;  /* check-quorum + leader lease are on unless set */
	/* The configuration when neither the log nor a snapshot holds one: the bootstrap
	 * members of a new cluster; empty for a server joining an existing one. */
	struct raft_conf initial;
	/* Random numbers for election timeouts. Required. */
	uint64_t (*rand)(void *arg);
	void *rand_arg;
};

/* Allocate a server from cfg (copied). Returns 0 or -EINVAL / -ENOMEM. */
int raft_new(const struct raft_config *cfg, struct raft **out);
void raft_free(struct raft *r);

/* Restore durable state after a restart, before any other call: hs, snap (NULL = none)
 * and the entries after it (all borrowed; copied). Entries must be consecutive and start
 * at snap->index + 1 (or 1). -EINVAL on inconsistent input. */
int raft_load(struct raft *r, const struct raft_hard_state *hs,
	      const struct raft_snapshot_meta *snap, const struct raft_entry *ents, size_t n);

/* Inputs. */
int raft_step(struct raft *r, const struct raft_msg *m); /* m borrowed; -EINVAL if malformed */
void raft_tick(struct raft *r);
/* Append data (copied) as a new entry; *index gets its index. On a follower that knows
 * its leader the proposal is forwarded in a RAFT_MSG_PROPOSE (returns 0, *index = 0: the
 * caller learns the outcome only by seeing its data committed; a forwarded proposal may be
 * lost, as etcd's). -EPERM if no leader is known (or a candidate), -EBUSY during a
 * leadership transfer, -EINVAL if too large. */
int raft_propose(struct raft *r, const void *data, size_t len, uint64_t *index);
/* Ask for a read index; the answer arrives as a raft_read_state with ctx. A follower
 * forwards to its leader. -EAGAIN: no leader known, or the leader has not committed an
 * entry of its term yet (retry). Requests lost with a leader change are never answered:
 * callers time out, as etcd's ReadIndex does. */
int raft_read_index(struct raft *r, uint64_t ctx);
/* Hand leadership to id: replicate until it is caught up, then send TimeoutNow. Aborted
 * after an election timeout. -EPERM not leader, -EINVAL not a voter / self. */
int raft_transfer_leader(struct raft *r, uint64_t id);

enum raft_conf_change { RAFT_CC_ADD_VOTER = 1, RAFT_CC_ADD_LEARNER, RAFT_CC_REMOVE };
/* Single-server change. -EPERM not leader, -EBUSY a change is uncommitted or no entry of
 * this term is committed yet, -EINVAL bad id / no-op change. *index = the entry's index. */
int raft_change_membership(struct raft *r, enum raft_conf_change type, uint64_t id,
			   uint64_t *index);

/* The caller has durably stored a snapshot of its state machine at index (<= applied);
 * drop log entries up to index. Later InstallSnapshot messages refer to this index.
 * -EINVAL if index is beyond applied or older than the current snapshot. */
int raft_compact(struct raft *r, uint64_t index);

/* Outputs. */
bool raft_has_ready(const struct raft *r);
void raft_ready(struct raft *r, struct raft_ready *rd);
void raft_advance(struct raft *r, const struct raft_ready *rd);

/* Introspection. */
uint64_t raft_id(const struct raft *r);
uint64_t raft_term(const struct raft *r);
uint64_t raft_leader(const struct raft *r);
enum raft_role raft_role(const struct raft *r);
uint64_t raft_commit_index(const struct raft *r);
uint64_t raft_applied_index(const struct raft *r);
uint64_t raft_last_index(const struct raft *r);
uint64_t raft_first_index(const struct raft *r);
/* Entry at index, or NULL if compacted / not present. Borrowed until the next call. */
const struct raft_entry *raft_entry_at(const struct raft *r, uint64_t index);
const struct raft_conf *raft_configuration(const struct raft *r);
/* Leader only: the highest index known replicated on id (0 otherwise). */
uint64_t raft_match_index(const struct raft *r, uint64_t id);
/* Meta of the latest snapshot (raft_compact or received); index 0 if none. Borrowed. */
const struct raft_snapshot_meta *raft_last_snapshot(const struct raft *r);
const char *raft_role_name(enum raft_role role);
const char *raft_msg_type_name(int type);

/* Configuration encoding in RAFT_ENTRY_CONF data (little endian: u32 n, then n x
 * (u64 id, u8 learner)). encode: out must hold raft_conf_size(c) bytes. */
size_t raft_conf_size(const struct raft_conf *c);
void raft_conf_encode(const struct raft_conf *c, uint8_t *out);
int raft_conf_decode(const uint8_t *data, size_t len, struct raft_conf *c);
/* Index of id in c, or -1. */
int raft_conf_find(const struct raft_conf *c, uint64_t id);
bool raft_conf_is_voter(const struct raft_conf *c, uint64_t id);

#endif
