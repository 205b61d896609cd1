/* Internals shared by the pod worker's files (pod_worker.c: the workers and their sync;
 * pod_api.c: API reads for env/volumes and the kubelet server's views).  Not a public
 * interface: only kubelet/pod_*.c include it. */
#ifndef KUBELET_POD_WORKER_INT_H
#define KUBELET_POD_WORKER_INT_H

#include <pthread.h>
#include <stdint.h>
#include <time.h>

#include "events.h"
#include "informer.h"
#include "pod_spec.h"
#include "pod_status.h"
#include "pod_worker.h"
#include "prober.h"
#include "volumes.h"

#define SEC 1000000000LL
/* backoff reset: a container that ran this long before exiting starts over at 10 s
 * (kubelet's backOffPeriod reset, 2 * MaxContainerBackOff) */
#define BACKOFF_RESET_NS (600 * SEC)

typedef struct cstate {
	char id[96];              /* current CRI container id, "" when none */
	int attempt;              /* attempt of the current/next container = restartCount */
	int backoff_n;            /* restarts counted for the back-off */
	int exit_seen;            /* the exit of `id` was handled (back-off computed) */
	int64_t backoff_until;    /* monotonic */
	int pull_fail_n;
	int64_t pull_backoff_until;
	char pull_err[256];
	int cfg_fail_n;           /* consecutive CreateContainerConfigError starts */
	int64_t cfg_retry_at;     /* monotonic: no new start before this */
	int image_evt_attempt;    /* attempt + 1 whose "already present" event was sent */
	probe_spec rp, lp, sp;    /* readiness, liveness, startup */
	probe_state rs, ls, ss;
	int startup_done;         /* startup probe succeeded (or none): liveness/readiness run */
	int probes_ok;            /* probes parsed */
	char probe_err[256];
	pstat_container st;       /* what the status says */
	int init;                 /* an init container */
	int sidecar;              /* an init container with restartPolicy Always: started
				   * in order, kept running beside the app containers,
				   * restarted on exit, stopped after them */
	int init_done;            /* init container that exited 0 (not run again) */
	char term_path[1400];     /* host file behind terminationMessagePath */
} cstate;

typedef struct pw_worker {
	struct pw_manager *m;
	char uid[64], ns[256], name[256];
	pthread_t th;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	cJSON *pod;          /* latest object, under mu */
	int removed;         /* gone from the API / bound elsewhere (under mu) */
	int stop;            /* kubelet shutdown (under mu) */
	int dirty;           /* under mu */
	int done;            /* thread has finished its work (under mu) */
	/* worker thread only: */
	int adopted;
	int sandbox_stopped;  /* the pod reached Succeeded/Failed and its sandbox was stopped */
	int sandbox_attempt;  /* PodSandboxMetadata.attempt of the next sandbox */
	int sweep_pending;    /* an old sandbox could not be removed yet: retry each sync */
	int kill_tries;       /* termination attempts that left something behind */
	char sandbox_id[96];
	char pod_ip[64];
	int64_t start_wall_ns;
	int64_t seen_mono_ns;     /* first seen by this kubelet (pod start duration) */
	int start_observed;       /* kubelet_pod_start_duration_seconds recorded */
	int synced_once;          /* the first sync ("create") happened */
	cstate *cs;               /* init containers [0, nics), then app containers */
	int ncs, nics;
	vol_pod vp;
	char mount_err[512];      /* last FailedMount message (one event per change) */
	cJSON *cur_pod;           /* the pod of the current sync (for callbacks) */
	char *last_status;
	/* for the server (under mu): the latest status view */
	pstat_container *view;
	int nview;
	cJSON *view_status;
	int view_sandbox_ready;   /* the sandbox is ready (kubelet_running_pods) */
	/* scheduling (worker thread only): a full sync (runtime status of every container)
	 * runs on a change (informer, PLEG, own kill) and at next_full_ns (resync, back-off
	 * and retry timers); in between only the probes due run */
	int64_t next_full_ns;
	int64_t resync_ns;        /* the periodic resync */
	int unsettled;            /* the last sync left something to retry soon */
	/* static pods (static_pods.h): from a manifest, not the API; the status goes to the
	 * mirror pod once one exists */
	int is_static;
	int initialized;          /* an app container has started in this sandbox: sidecars
				   * that restart no longer hold the app containers back */
	int apps_done;            /* restartPolicy Never/OnFailure and every app container
				   * finished: the sidecars are stopped, not restarted */
	char mirror_uid[64];      /* under mu: the mirror pod seen in the API ("" none) */
	int repost;               /* under mu: a new mirror pod: post the status again */
	struct pw_worker *next;
} pw_worker;

struct pw_manager {
	kc_client *api;
	cri_client *cri;
	const kubelet_config *cfg;
	char node_name[256], node_ip[64], logs_dir[1024], cgroup_root[512], root_dir[1024];
	int64_t alloc_cpu_milli, alloc_memory, alloc_ephemeral;
	int64_t next_orphan_ns;  /* monotonic; pw_cleanup_orphans */
	kc_informer *inf;
	struct pleg *pleg;       /* wakes workers whose containers changed; NULL: poll */
	struct sp_source *sp;    /* static pods from staticPodPath; NULL: none */
	char node_uid[64];       /* under mu: the registered Node's uid (mirror owner) */
	kc_event_sink *sink;
	kc_recorder *rec;
	pthread_mutex_t mu;
	pw_worker *workers;
};

/* Upstream resyncs every pod each syncFrequency (1 min); 10 s here also refreshes the
 * configMap/secret volumes (VOL_RESYNC_NS) and catches anything the PLEG missed. */
#define PW_RESYNC_NS (10 * SEC)
/* Without a PLEG (it failed to start) the worker polls the runtime at this period. */
#define PW_POLL_NS (SEC / 2)
/* A sync that left something to retry (sandbox, volumes, start errors) runs again after */
#define PW_RETRY_NS (SEC)

static inline int64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * SEC + ts.tv_nsec;
}

static inline int64_t wall_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * SEC + ts.tv_nsec;
}

/* An Event about the pod (container events carry fieldPath spec.containers{name}, as
 * upstream's recordContainerEvent); never blocks.  pod borrowed. */
void pw_event(pw_worker *w, const cJSON *pod, const char *container, const char *type, const char *reason,
	      const char *fmt, ...) __attribute__((format(printf, 6, 7)));
/* Put a container's status in waiting with reason and message. */
void pw_set_waiting(cstate *c, const char *reason, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* The spec of container name in spec.containers (init: spec.initContainers); borrowed. */
const cJSON *pw_spec_container(const cJSON *pod, const char *name, int init);
/* The worker with this uid (under m->mu); NULL if none. */
pw_worker *pw_find(pw_manager *m, const char *uid);

/* The worker thread (pod_worker.c); arg is the pw_worker.  w->cv uses CLOCK_MONOTONIC. */
void *pw_worker_main(void *arg);
/* Wait on w->cv (w->mu held) until woken or the monotonic deadline passed. */
void pw_wait_until(pw_worker *w, int64_t deadline_mono_ns);
/* Wake w for a full sync (takes w->mu). */
void pw_wake(pw_worker *w);

/* pod_api.c: GET configmaps/secrets and POST serviceaccounts/<sa>/token through the
 * apiserver; Warning events about the pod of the current sync (w->cur_pod). */
int pw_api_fetch(void *arg, const char *resource, const char *ns, const char *name, cJSON **out, char *err,
		 size_t errlen);
void pw_api_event(void *arg, const char *reason, const char *message);
int pw_api_token(void *arg, const char *ns, const char *sa, const cJSON *req, cJSON **out, char *err,
		 size_t errlen);
/* The facts env and volumes need about the pod of w; src borrowed. */
void pw_pod_info(pw_worker *w, const pspec_sources *src, pspec_podinfo *pi);
/* Volumes before the sandbox; 0 when ready, else the containers wait (their status
 * says why). */
int pw_sync_volumes(pw_worker *w, const cJSON *pod);

#endif
