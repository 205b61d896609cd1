/* The pod's status as the kubelet reports it (pkg/kubelet/kubelet_pods.go
 * generateAPIPodStatus / getPhase / convertToAPIContainerStatuses and
 * pkg/kubelet/status/generate.go), computed from a snapshot of what the pod worker
 * knows.  Pure: no I/O, time is passed in.  Prefix pstat_. */
#ifndef KUBELET_POD_STATUS_H
#define KUBELET_POD_STATUS_H

#include <cjson/cJSON.h>
#include <stdint.h>

enum pstat_state { PSTAT_WAITING = 0, PSTAT_RUNNING, PSTAT_TERMINATED };

typedef struct pstat_term {
	int exit_code;
	char reason[64];        /* "Completed" / "Error" / "OOMKilled" */
	char message[256];
	int64_t started_ns, finished_ns;
	char container_id[96];  /* "containerd://<id>" */
	int attempt;            /* the instance's attempt (its log file); not reported */
} pstat_term;

typedef struct pstat_container {
	char name[64];
	char image[256];        /* as in the spec */
	char image_id[256];     /* the runtime's image ref ("" until known) */
	char container_id[96];  /* "containerd://<id>", "" when none */
	enum pstat_state state;
	char reason[64];        /* waiting: "ContainerCreating", "CrashLoopBackOff", "ErrImagePull", ... */
	char message[512];
	int64_t started_ns;     /* running */
	pstat_term term;        /* terminated: this; */
	int has_last;           /* lastState.terminated from the previous instance */
	pstat_term last;
	int restart_count;
	int ready;
	int started;
	int attempt;            /* the current instance's attempt; not reported */
	int init;               /* an init container; not reported */
	int sidecar;            /* an init container with restartPolicy Always (a sidecar,
				 * upstream's restartable init container); not reported */
} pstat_container;

typedef struct pstat_input {
	const cJSON *pod;          /* borrowed: spec (restartPolicy, containers) and old status */
	const char *host_ip;
	const char *pod_ip;        /* "" or NULL before the sandbox has one */
	int sandbox_ready;         /* PodReadyToStartContainers */
	int64_t start_time_ns;     /* when the kubelet first accepted the pod */
	const pstat_container *containers; /* in spec order */
	int n_containers;
	const pstat_container *init_containers; /* spec.initContainers order; NULL/0: none */
	int n_init;
	int64_t now_ns;            /* wall clock, for lastTransitionTime */
} pstat_input;

/* "Pending" / "Running" / "Succeeded" / "Failed" (getPhase). */
const char *pstat_phase(const char *restart_policy, const pstat_container *cs, int n);
/* getPhase with init containers: one running, waiting without a previous run, or not
 * yet started keeps the pod Pending; one that failed (terminated, or waiting after a
 * failed run) makes it Failed under restartPolicy Never.  Sidecars (restartable init
 * containers) keep the pod Pending until started; running they count as running
 * containers; terminated (or waiting after a run) they do not count. */
const char *pstat_phase_init(const char *restart_policy, const pstat_container *ics, int ni, const pstat_container *cs,
			     int n);
/* Whether every regular init container has terminated with exit code 0 and every
 * sidecar is started (the Initialized condition, isInitContainerInitialized). */
int pstat_initialized(const pstat_container *ics, int ni);

/* Build the status object (new tree): phase, conditions (PodReadyToStartContainers,
 * Initialized, Ready, ContainersReady, PodScheduled; lastTransitionTime kept from the
 * old status when the condition's status did not change), hostIP(s), podIP(s),
 * startTime, qosClass, initContainerStatuses (when the pod has init containers),
 * containerStatuses; Initialized is False with reason ContainersNotInitialized and
 * "containers with incomplete status: [a b]" until every init container succeeded
 * (sidecars: started), and True once any app container has started (a restarting
 * sidecar does not undo it); ContainersReady/Ready count the sidecars' readiness.
 * NULL on ENOMEM. */
cJSON *pstat_build(const pstat_input *in);

/* RFC 3339 UTC with second precision ("2026-11-25T13:40:00Z") into buf (>= 21 bytes). */
void pstat_time(char *buf, size_t len, int64_t ns);

#endif
