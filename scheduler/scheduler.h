/* The scheduler proper (upstream pkg/scheduler/scheduler.go, schedule_one.go,
 * eventhandlers.go): informer event handlers feed the cache and the queue; each
 * scheduling cycle pops one pod, runs its profile over the cache's nodes, assumes the pod
 * on the chosen node and binds it; a pod that does not fit gets a FailedScheduling event
 * and the PodScheduled=False condition and waits in the queue.
 *
 * All writes to the API go through sched_api (a small vtable) so that the whole cycle is
 * unit-tested with a fake; api.c has the real one on kc_client + kc_recorder.
 * Ownership: cfg, api and clock are borrowed and must outlive the scheduler. */
#ifndef SCHED_SCHEDULER_H
#define SCHED_SCHEDULER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "cache.h"
#include "clock.h"
#include "config.h"
#include "framework.h"
#include "queue.h"

typedef struct sched_api sched_api;
struct sched_api {
	/* POST pods/<name>/binding. 0, or a negative code with err set. */
	int (*bind)(sched_api *a, const sched_pod *pod, const char *node, char *err,
		    size_t errlen);
	/* PodScheduled=False with reason ("Unschedulable" / "SchedulerError") and message. */
	int (*set_condition)(sched_api *a, const sched_pod *pod, const char *reason,
			     const char *message);
	/* An Event about the pod ("Normal"/"Warning"). */
	void (*event)(sched_api *a, const sched_pod *pod, const char *type, const char *reason,
		      const char *message);
	/* Preemption (either may be NULL: preemption then only nominates in memory).
	 * DELETE the victim pod; 0 (also when already gone) or negative with err set. */
	int (*delete_pod)(sched_api *a, const sched_pod *pod, char *err, size_t errlen);
	/* PATCH pods/status so that status.nominatedNodeName = node. */
	int (*set_nominated_node)(sched_api *a, const sched_pod *pod, const char *node);
};

/* A Prometheus histogram with exponential buckets start * 2^i, i < nbuckets. */
#define SCHED_HIST_MAX_BUCKETS 20

typedef struct sched_histogram {
	double start;
	int nbuckets;
	atomic_ulong buckets[SCHED_HIST_MAX_BUCKETS]; /* not cumulative; summed on print */
	atomic_ulong count;
	atomic_ulong sum_us;
} sched_histogram;

typedef struct sched_metrics {
	atomic_ulong scheduled, unschedulable, error;
	/* scheduler_preemption_attempts_total, scheduler_preemption_victims (a sum here) */
	atomic_ulong preemption_attempts, preemption_victims;
	/* scheduler_scheduling_attempt_duration_seconds: 1 ms * 2^i, 15 buckets */
	sched_histogram attempt;
	/* scheduler_pod_scheduling_sli_duration_seconds: from entering the queue to bound,
	 * over all attempts; 10 ms * 2^i, 20 buckets (upstream's also has an attempts label) */
	sched_histogram e2e;
} sched_metrics;

typedef struct sched_bind_job sched_bind_job;

typedef struct sched_scheduler {
	const sched_config *cfg;
	sched_api *api;
	kc_clock_t *clock;
	sched_cache cache;
	sched_queue queue;
	sched_state state;
	sched_result res; /* the scheduling loop's, reused each cycle */
	sched_metrics metrics;
	/* binding cycles (upstream runs each in its own goroutine): a pool of binder
	 * threads when started, else inline in sched_schedule_one */
	pthread_mutex_t bmu;
	pthread_cond_t bcv, bidle;
	sched_bind_job *bhead, *btail;
	int bbusy;
	bool bstop;
	pthread_t *binders;
	int nbinders;
	/* the nominator: pods nominated to a node by preemption, until bound or deleted
	 * (owned copies; guarded by cache.mu) */
	sched_nominated *nom;
	int nnom, capnom;
	/* nnom as last set under cache.mu, read without the lock: a bound or deleted pod
	 * (two per pod) skips taking cache.mu, which the scheduling loop holds through every
	 * cycle, when nothing is nominated (nearly always) */
	atomic_int nnom_pub;
	/* PodDisruptionBudgets from their informer, for preemption (guarded by cache.mu) */
	sched_pdb *pdbs;
	int npdbs, cappdbs;
} sched_scheduler;

int sched_scheduler_init(sched_scheduler *s, const sched_config *cfg, sched_api *api,
			 kc_clock_t *clock);
void sched_scheduler_close(sched_scheduler *s);

/* The profile for a schedulerName, or NULL when no profile is responsible. */
const sched_profile *sched_scheduler_profile(const sched_scheduler *s, const char *name);

/* Event handlers (objects borrowed), as eventhandlers.go: unassigned pods of our
 * profiles go to the queue, assigned pods to the cache; node events and assigned pod
 * deletions move unschedulable pods back. */
void sched_on_pod_add(sched_scheduler *s, const cJSON *pod);
void sched_on_pod_update(sched_scheduler *s, const cJSON *old_pod, const cJSON *new_pod);
void sched_on_pod_delete(sched_scheduler *s, const cJSON *pod);
void sched_on_node_add(sched_scheduler *s, const cJSON *node);
void sched_on_node_update(sched_scheduler *s, const cJSON *old_node, const cJSON *new_node);
void sched_on_node_delete(sched_scheduler *s, const cJSON *node);

/* PodDisruptionBudget informer handlers (objects borrowed). */
void sched_on_pdb_upsert(sched_scheduler *s, const cJSON *pdb);
void sched_on_pdb_delete(sched_scheduler *s, const cJSON *pdb);

/* Start n binder threads: from then on sched_schedule_one hands the binding cycle
 * (POST binding, events, forget on failure) to them and returns at once. 0 or -errno. */
int sched_scheduler_start_binders(sched_scheduler *s, int n);
/* Wait (real time) until no binding is queued or running: 0 or -ETIMEDOUT. */
int sched_scheduler_wait_binds(sched_scheduler *s, int64_t timeout_ns);

/* One scheduling cycle: pop a pod (waiting up to timeout_ns, real time; 0 = do not
 * wait), schedule and bind it. Returns 1 if a pod was handled, 0 if none was ready.
 * One caller at a time (the scheduling loop, as upstream's scheduleOne): the cycle's
 * scratch (state, res) is reused from call to call. */
int sched_schedule_one(sched_scheduler *s, int64_t timeout_ns);

/* The node pod key is nominated to, copied into buf ("" when none). */
void sched_scheduler_nominated_node(sched_scheduler *s, const char *key, char *buf, size_t len);

/* The Prometheus text of /metrics (malloc'd, NULL on ENOMEM). */
char *sched_metrics_text(sched_scheduler *s);

#endif
