/* Leader election on a coordination.k8s.io/v1 Lease, as client-go's
 * tools/leaderelection (leaderelection.go) with the Lease lock (resourcelock/leaselock.go).
 *
 * Candidates race to write their identity into the Lease. A candidate takes the lease
 * when it is absent, when its holderIdentity is empty (released), when it already holds
 * it, or when the record has not changed for leaseDurationSeconds *as measured by this
 * candidate's own clock since it last saw the record change*; the renewTime written by
 * the holder is never compared with our clock, so clock skew between machines cannot
 * steal a lease (upstream's observedTime). Writes carry the resourceVersion read last, so
 * two candidates racing for an expired lease cannot both win: the loser gets a Conflict
 * and tries again next retry period.
 *
 * The leader renews every retry period; if no renewal succeeds within the renew
 * deadline it stops leading (on_stopped_leading) and the run ends, as upstream; the
 * process is then expected to exit (kube-controller-manager: "leaderelection lost").
 *
 * Time, the lock and randomness come in through interfaces (kc_clock_t, kc_leader_lock),
 * so the logic is unit-tested with a fake clock and an in-memory lock; kc_leader_step
 * advances the state machine by hand, kc_leader_start runs it on its own thread. */
#ifndef KC_LEADER_H
#define KC_LEADER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "clock.h"

/* Upstream defaults (kube-controller-manager / kube-scheduler --leader-elect-*). */
#define KC_LEADER_DEFAULT_LEASE_DURATION_NS (15 * KC_NSEC_PER_SEC)
#define KC_LEADER_DEFAULT_RENEW_DEADLINE_NS (10 * KC_NSEC_PER_SEC)
#define KC_LEADER_DEFAULT_RETRY_PERIOD_NS (2 * KC_NSEC_PER_SEC)
/* wait.JitterUntil factor used while acquiring (leaderelection.JitterFactor). */
#define KC_LEADER_JITTER_FACTOR 1.2

#define KC_LEADER_HOLDER_MAX 256

/* resourcelock.LeaderElectionRecord, i.e. the Lease spec. Times are wall-clock
 * nanoseconds since the epoch, 0 meaning unset (null). */
typedef struct kc_leader_record {
	char holder[KC_LEADER_HOLDER_MAX]; /* holderIdentity; "" when none */
	int lease_duration_s;              /* leaseDurationSeconds */
	int64_t acquire_time_ns;           /* acquireTime */
	int64_t renew_time_ns;             /* renewTime */
	int lease_transitions;             /* leaseTransitions */
} kc_leader_record;

/* The lock interface (resourcelock.Interface). One lock object is used by one elector.
 * The implementation remembers the resourceVersion of the object it last read or wrote
 * and sends it with update (optimistic concurrency). Returns 0 or a negative code:
 *   get:    KC_ENOTFOUND when the lease does not exist;
 *   create: KC_EEXIST when someone created it first;
 *   update: KC_ECONFLICT when the lease changed since our last get/create/update. */
typedef struct kc_leader_lock kc_leader_lock;
struct kc_leader_lock {
	int (*get)(kc_leader_lock *l, kc_leader_record *out);
	int (*create)(kc_leader_lock *l, const kc_leader_record *rec);
	int (*update)(kc_leader_lock *l, const kc_leader_record *rec);
	/* "namespace/name", for logs; borrowed from the lock */
	const char *(*describe)(kc_leader_lock *l);
};

/* Callbacks run on the elector's thread (the one calling kc_leader_step / kc_leader_run),
 * with no elector lock held; they must not block: start or stop your work elsewhere
 * (upstream runs them as goroutines). As upstream's Run, on_stopped_leading is called
 * once when the run ends, whether or not this candidate ever led. */
typedef struct kc_leader_callbacks {
	void (*on_started_leading)(void *arg);
	void (*on_stopped_leading)(void *arg);
	/* a different holder was observed (including the first one, and ourselves) */
	void (*on_new_leader)(void *arg, const char *identity);
	void *arg;
} kc_leader_callbacks;

typedef struct kc_leader_config {
	kc_leader_lock *lock;      /* borrowed; must outlive the elector */
	const char *identity;      /* copied; required, at most KC_LEADER_HOLDER_MAX-1 bytes */
	int64_t lease_duration_ns; /* 0 = 15 s; whole seconds are written to the lease */
	int64_t renew_deadline_ns; /* 0 = 10 s */
	int64_t retry_period_ns;   /* 0 = 2 s */
	bool release_on_cancel;    /* clear holderIdentity when cancelled while leading */
	kc_clock_t *clock;         /* borrowed; NULL = kc_clock_real() */
	kc_leader_callbacks cb;    /* on_started_leading and on_stopped_leading required */
} kc_leader_config;

typedef struct kc_leader kc_leader;

/* Validate cfg (borrowed) as upstream's NewLeaderElector: lease duration > renew
 * deadline > 1.2 * retry period > 0, lease duration >= 1 s, identity non-empty, the
 * two required callbacks set. -EINVAL otherwise. */
int kc_leader_new(const kc_leader_config *cfg, kc_leader **out);
/* Free an elector whose thread (if started) has been stopped. */
void kc_leader_free(kc_leader *le);

/* Run on a new thread until cancelled or leadership is lost. */
int kc_leader_start(kc_leader *le);
/* Cancel (releasing the lease if configured) and join the thread from kc_leader_start. */
void kc_leader_stop(kc_leader *le);
/* Run on the calling thread until cancelled or leadership is lost. */
void kc_leader_run(kc_leader *le);
/* Ask the run to end; safe from any thread and from callbacks. */
void kc_leader_cancel(kc_leader *le);

/* One pass of the state machine at the clock's current time: attempt an acquire or a
 * renewal when one is due, detect a missed renew deadline, handle a cancel. Returns the
 * nanoseconds until the next pass is due, or -1 when the run has ended. Single-threaded:
 * only one thread may step an elector (kc_leader_run does exactly this in a loop). */
int64_t kc_leader_step(kc_leader *le);

/* upstream tryAcquireOrRenew: one attempt; true if we hold the lease afterwards. */
bool kc_leader_try_acquire_or_renew(kc_leader *le);
/* upstream release: if we are the observed holder, write holderIdentity "" with
 * leaseDurationSeconds 1. true on success or when there was nothing to release. */
bool kc_leader_release(kc_leader *le);

/* Whether the last observed holder is us (thread-safe). */
bool kc_leader_is_leader(kc_leader *le);
/* Copy the last observed holder (thread-safe); "" if none seen yet. */
void kc_leader_get_leader(kc_leader *le, char *buf, size_t len);
/* upstream LeaderElector.Check, for a /healthz "leaderElection" check: -ETIMEDOUT when we
 * believe we lead but have not renewed for longer than lease duration + max_tolerable_ns
 * (the elector thread is wedged); 0 otherwise, including when not leading. */
int kc_leader_check(kc_leader *le, int64_t max_tolerable_ns);
/* The identity this elector writes (borrowed from le). */
const char *kc_leader_identity(const kc_leader *le);

/* hostname + "_" + a random UUID, as kube-controller-manager and kube-scheduler build
 * their identity (upstream uses a time-based v1 UUID; a random v4 serves the same
 * purpose of telling restarts apart). randomness from c (NULL = real). */
int kc_leader_default_identity(char *buf, size_t len, kc_clock_t *c);


/* Lease <-> record. from_lease reads obj.spec (borrowed) into out: KC_EPARSE when a
 * field has the wrong type or a time does not parse. to_spec returns a new LeaseSpec
 * object (caller owns), NULL on ENOMEM; as upstream, holderIdentity is always written
 * (empty when released). */
int kc_leader_record_from_lease(const cJSON *lease, kc_leader_record *out);
cJSON *kc_leader_record_to_spec(const kc_leader_record *rec);

/* The Lease lock over the REST client at
 * /apis/coordination.k8s.io/v1/namespaces/<ns>/leases/<name>. client is borrowed and
 * must outlive the lock; ns and name are copied. */
struct kc_client;
int kc_leader_lease_lock_new(struct kc_client *client, const char *ns, const char *name,
			     kc_leader_lock **out);
void kc_leader_lease_lock_free(kc_leader_lock *l);

#endif
