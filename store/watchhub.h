/* The watch hub: every watcher of the engine, fed from the MVCC revision log.
 *
 * As etcd's watchableStore (server/mvcc/watchable_store.go): a watcher is "synced" when it
 * has been handed every event up to the last applied revision; the committer then feeds
 * it live, one message per revision. A watcher created with a past start_revision, or
 * whose consumer refused a message (callback returned -EAGAIN: its buffer is full), is
 * "unsynced": the hub's sync thread replays its events from the history (at most 1000
 * revisions per message, etcd's watchBatchMaxRevs) until it catches up. A watcher whose
 * next revision has been compacted is canceled with compact_revision. Watchers cost no
 * thread; the sync thread also sends periodic progress notifications.
 *
 * Locking: the hub mutex guards the watcher list; history is read under the engine's state
 * lock held for reading. The committer calls watchhub_notify after releasing the state
 * write lock (it is the only thread that mutates or frees MVCC memory). */
#ifndef KUBEC_STORE_WATCHHUB_H
#define KUBEC_STORE_WATCHHUB_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "clock.h"
#include "kv.h"
#include "mvcc.h"

struct watchhub {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct kv_watch *head;
	int64_t notified_rev;     /* last revision the committer fed to watchers */
	bool stop, kick, started;
	pthread_t thread;
	const struct mvcc *s;     /* borrowed */
	pthread_rwlock_t *lock;   /* the engine's state lock; borrowed */
	kc_clock_t *clock;
	int64_t progress_ns;
	uint64_t cluster_id, member_id;
	_Atomic uint64_t raft_term; /* updated by the raft thread (watchhub_set_term) */
	/* scratch for building messages (guarded by mu) */
	Kvpb__Event *evs;
	Kvpb__Event **evp;
	Kvpb__KeyValue *kvs;
	size_t cap;
};

int watchhub_init(struct watchhub *h, const struct mvcc *s, pthread_rwlock_t *lock,
		  kc_clock_t *clock, int64_t progress_ns, uint64_t cluster_id,
		  uint64_t member_id, uint64_t raft_term);
int watchhub_start(struct watchhub *h);
/* Stop the thread and free every watcher without further callbacks. */
void watchhub_close(struct watchhub *h);

int watchhub_create(struct watchhub *h, const Kvpb__WatchCreateRequest *req, int64_t watch_id,
		    kv_watch_cb cb, void *arg, struct kv_watch **out);
void watchhub_cancel(struct watchhub *h, struct kv_watch *w, bool notify);
void watchhub_resume(struct watchhub *h, struct kv_watch *w);
int watchhub_progress(struct watchhub *h, struct kv_watch *const *ws, size_t n, int64_t *rev);
/* Revisions (h->notified_rev, to] were applied: feed synced watchers. */
void watchhub_notify(struct watchhub *h, int64_t to);
/* The Raft term stamped on headers from now on (any thread). */
void watchhub_set_term(struct watchhub *h, uint64_t term);
/* The whole state was replaced (a snapshot installed from the Raft leader): every watcher
 * becomes unsynced and is resent from the new history (canceled with compact_revision if
 * what it needs is compacted there), as etcd's watchableStore.Restore. Call without the
 * state lock. */
void watchhub_reset(struct watchhub *h, int64_t rev);
/* Number of watchers (metrics). */
size_t watchhub_count(struct watchhub *h);

#endif
