/* Internals shared by the raft_*.c files. Not for callers: use raft.h. */
#ifndef KUBEC_STORE_RAFT_INT_H
#define KUBEC_STORE_RAFT_INT_H

#include "raft.h"
#include "raft_log.h"

/* Replication state of one follower, as etcd's tracker.Progress. */
enum raft_pr_state { RAFT_PR_PROBE = 0, RAFT_PR_REPLICATE, RAFT_PR_SNAPSHOT };

struct raft_progress {
	uint64_t id;
	bool learner;
	uint64_t match, next;
	int state;
	bool paused;           /* probe: one APPEND outstanding, wait for an answer */
	uint64_t pending_snap; /* snapshot state: index of the snapshot sent */
	int snap_ticks;        /* ticks spent waiting for that snapshot */
	bool recent_active;    /* heard from since the last check-quorum round */
	uint64_t read_ack;     /* highest ReadIndex round acknowledged */
	uint8_t vote;          /* RAFT_VOTE_* in the current campaign */
	uint64_t *infl;        /* ring of last indexes of unacknowledged APPENDs */
	size_t infl_start, infl_count;
};

enum { RAFT_VOTE_UNKNOWN = 0, RAFT_VOTE_GRANTED, RAFT_VOTE_REJECTED };

struct raft_pending_read {
	uint64_t ctx, index, round, from;
};

struct raft {
	struct raft_config cfg;
	uint64_t id;
	uint64_t term, vote, lead;
	enum raft_role role;
	struct raft_log log;
	uint64_t commit, applied;
	/* Configuration in effect and the index of the entry it came from (0: snapshot or
	 * initial). */
	struct raft_conf conf;
	uint64_t conf_index;
	struct raft_progress prs[RAFT_MAX_MEMBERS];
	size_t n_prs;
	bool campaign_transfer; /* the current campaign was started by TimeoutNow */
	int elapsed;           /* ticks since last reset (election or check-quorum) */
	int hb_elapsed;
	int rand_timeout;
	uint64_t transferee;
	int transfer_elapsed;
	uint64_t read_round;
	struct raft_pending_read *reads_pending;
	size_t n_reads_pending, cap_reads_pending;
	bool bcast_pending;     /* proposals not yet sent (flushed by raft_ready) */
	bool step_down_pending; /* leader removed itself; leave when that commits */
	/* Outbox (cleared by raft_advance). */
	struct raft_msg *msgs;
	size_t n_msgs, cap_msgs;
	struct raft_entry *pool;
	size_t n_pool, cap_pool;
	struct raft_read_state *reads;
	size_t n_reads, cap_reads;
	uint8_t **fwd; /* copies of forwarded proposals' data (freed by raft_advance) */
	size_t n_fwd, cap_fwd;
	bool has_snap;
	struct raft_snapshot_meta snap;
	uint8_t *snap_data;
	size_t snap_len;
	struct raft_hard_state prev_hs;
	/* Meta of our own latest snapshot (for InstallSnapshot to followers). */
	struct raft_snapshot_meta own_snap;
	struct raft_conf scratch; /* reconfiguration scratch */
};

/* raft_core.c */
struct raft_msg *raft_out(struct raft *r, uint8_t type, uint64_t to);
int raft_out_entries(struct raft *r, struct raft_msg *m, uint64_t from_index, uint64_t max_n,
		     size_t max_bytes);
void raft_push_read_state(struct raft *r, uint64_t ctx, uint64_t index);
int raft_quorum(const struct raft *r);
struct raft_progress *raft_progress_get(struct raft *r, uint64_t id);
void raft_become_follower(struct raft *r, uint64_t term, uint64_t lead);
void raft_reset_term(struct raft *r, uint64_t term);
void raft_apply_conf(struct raft *r, const struct raft_conf *c, uint64_t index);
void raft_rebuild_progress(struct raft *r);
bool raft_is_voter(const struct raft *r);

/* raft_election.c */
void raft_election_tick(struct raft *r);
void raft_campaign(struct raft *r, bool pre, bool transfer);
int raft_election_step(struct raft *r, const struct raft_msg *m);
void raft_become_leader(struct raft *r);
void raft_reset_randomized_timeout(struct raft *r);
bool raft_in_lease(const struct raft *r);
void raft_check_quorum_tick(struct raft *r);

/* raft_replication.c */
void raft_send_append(struct raft *r, struct raft_progress *pr, bool allow_empty);
void raft_broadcast_append(struct raft *r);
void raft_broadcast_heartbeat(struct raft *r, uint64_t ctx);
void raft_handle_append(struct raft *r, const struct raft_msg *m);
void raft_handle_append_resp(struct raft *r, const struct raft_msg *m);
void raft_handle_heartbeat(struct raft *r, const struct raft_msg *m);
void raft_handle_heartbeat_resp(struct raft *r, const struct raft_msg *m);
bool raft_maybe_commit(struct raft *r);
void raft_commit_to(struct raft *r, uint64_t index);
int raft_append_local(struct raft *r, uint8_t type, const void *data, size_t len);
void raft_progress_reset(struct raft_progress *pr, uint64_t next);
void raft_progress_become_probe(struct raft_progress *pr);
void raft_progress_become_replicate(struct raft_progress *pr);

/* raft_snapshot.c */
void raft_send_snapshot(struct raft *r, struct raft_progress *pr);
void raft_handle_snapshot(struct raft *r, const struct raft_msg *m);

/* raft_membership.c */
void raft_conf_after_append(struct raft *r, const struct raft_entry *e);
void raft_conf_after_truncate(struct raft *r);
void raft_conf_recompute(struct raft *r);
void raft_membership_on_commit(struct raft *r);

/* raft_transfer.c */
void raft_handle_timeout_now(struct raft *r, const struct raft_msg *m);
void raft_transfer_check(struct raft *r, struct raft_progress *pr);
void raft_transfer_tick(struct raft *r);
void raft_transfer_abort(struct raft *r);

/* raft_readindex.c */
void raft_handle_read_index(struct raft *r, const struct raft_msg *m);
void raft_handle_read_index_resp(struct raft *r, const struct raft_msg *m);
void raft_readindex_ack(struct raft *r, uint64_t from, uint64_t round);
void raft_readindex_reset(struct raft *r);

#endif
