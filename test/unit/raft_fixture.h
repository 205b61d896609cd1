/* A deterministic cluster of Raft cores for tests (after canonical/raft's fixture.h):
 * an in-memory network with loss, duplication, delay/reordering and partitions, a fake
 * clock in slots (several per tick so nodes tick out of phase), crashes that keep only
 * durable state (hard state + appended entries + snapshot), and invariant checks after
 * every step: Election Safety, Leader Append-Only, Log Matching, Leader Completeness,
 * State Machine Safety, committed entries never changing, and ReadIndex answers never
 * older than a commit observed before the request. Every symbol is raft_fixture_*. */
#ifndef KUBEC_TEST_RAFT_FIXTURE_H
#define KUBEC_TEST_RAFT_FIXTURE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "../../store/raft.h"

#define RAFT_FIXTURE_MAX 10

struct raft_fixture_node {
	uint64_t id;
	struct raft *r;
	bool alive, removed, member;
	/* durable state */
	struct raft_hard_state hs;
	bool has_snap;
	struct raft_snapshot_meta snap;
	uint64_t snap_hash;
	struct raft_entry *ents;
	size_t n_ents, cap_ents;
	struct raft_conf initial;
	/* volatile */
	uint64_t applied, sm_hash, checked_commit;
	uint64_t rng;
	int phase;
	uint64_t la_term, la_last, la_last_term; /* leader append-only tracking */
	uint64_t reads_done;
};

struct raft_fixture_msg {
	uint64_t at, from, to;
	uint8_t *buf; /* a raftpb frame */
	size_t len;
};

struct raft_fixture_commit {
	uint64_t term, hash, commit_term, sm_hash;
	bool set, applied_set;
};

struct raft_fixture {
	size_t n;
	struct raft_fixture_node nodes[RAFT_FIXTURE_MAX];
	uint64_t seed, rng, now;
	int slots_per_tick;
	int election_ticks;
	bool pre_vote, check_quorum;
	struct raft_fixture_msg *net;
	size_t n_net, cap_net;
	bool cut[RAFT_FIXTURE_MAX][RAFT_FIXTURE_MAX];
	unsigned drop_pct, dup_pct; /* per message, percent */
	int min_delay, max_delay;   /* slots */
	size_t max_msg_entries, max_inflight; /* for nodes booted from now on */
	uint64_t *term_leader;
	size_t cap_term_leader;
	struct raft_fixture_commit *cm; /* by index */
	size_t cap_cm;
	uint64_t max_commit;
	uint64_t *read_floor; /* by read ctx: max commit when requested */
	size_t cap_reads;
	uint64_t next_ctx;
	uint64_t proposals;
	uint64_t msgs_delivered;
	bool failed;
	bool trace; /* print every delivered message */
	char err[512];
};

/* n voters with ids 1..n, all in the bootstrap configuration. */
int raft_fixture_init(struct raft_fixture *f, size_t n, uint64_t seed);
void raft_fixture_close(struct raft_fixture *f);
uint64_t raft_fixture_rand(struct raft_fixture *f);

/* Advance one slot: deliver due messages (random order), tick nodes in phase, process
 * every Ready, check all invariants. Returns 0, or -1 with f->err set on a violation. */
int raft_fixture_step(struct raft_fixture *f);
/* Run for ticks heartbeat intervals; stops at the first violation (-1). */
int raft_fixture_run(struct raft_fixture *f, int ticks);
/* Run until pred(f, arg) holds or max_ticks pass: 0, -ETIMEDOUT, or -1 on a violation. */
int raft_fixture_run_until(struct raft_fixture *f, int max_ticks,
			   bool (*pred)(struct raft_fixture *f, void *arg), void *arg);

/* Index of the alive leader with the highest term, or -1. */
int raft_fixture_leader(struct raft_fixture *f);
/* The alive leader that every alive member of its configuration follows, or -1. */
int raft_fixture_stable_leader(struct raft_fixture *f);
void raft_fixture_crash(struct raft_fixture *f, size_t i);
int raft_fixture_restart(struct raft_fixture *f, size_t i);
void raft_fixture_cut(struct raft_fixture *f, size_t i, size_t j, bool cut);
void raft_fixture_isolate(struct raft_fixture *f, size_t i, bool cut);
void raft_fixture_heal(struct raft_fixture *f);
/* Propose a fresh unique payload on node i. */
int raft_fixture_propose(struct raft_fixture *f, size_t i, uint64_t *index);
/* Snapshot node i's state machine at its applied index and compact its log. */
int raft_fixture_compact(struct raft_fixture *f, size_t i);
/* Ask node i for a read index; the answer is checked when it arrives. */
int raft_fixture_read(struct raft_fixture *f, size_t i);
/* A new empty node (empty configuration) that can be added by a membership change. */
int raft_fixture_add_node(struct raft_fixture *f);
/* Every alive member of node i's configuration has applied >= index. */
bool raft_fixture_all_applied(struct raft_fixture *f, size_t leader, uint64_t index);
/* Full invariant check (also done by step). */
int raft_fixture_check(struct raft_fixture *f);
/* Print every node's state (debugging a replayed seed). */
void raft_fixture_dump(struct raft_fixture *f, FILE *out);
int raft_fixture_index_of(struct raft_fixture *f, uint64_t id);

#endif
