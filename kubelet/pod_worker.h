/* Pod workers (pkg/kubelet/pod_workers.go + kuberuntime_manager.go SyncPod/KillPod, much
 * reduced): an informer on the pods bound to this node (fieldSelector
 * spec.nodeName=<node>) and one worker per pod.  Prefix pw_.
 *
 * Threading: one thread per pod for now (upstream: one goroutine per pod); fine for the
 * tens of pods of a test node, to be replaced by a bounded pool.  Each worker syncs its
 * pod when the informer reports a change, the PLEG reports its containers changed, or one
 * of its timers is due (resync, back-offs), and runs its probes on their own periods
 * between syncs: sandbox, images,
 * containers, restarts with CrashLoopBackOff, readiness/liveness probes, status PATCH,
 * events, a dead sandbox replaced, the sandbox stopped once the pod is
 * Succeeded/Failed, and termination (graceful deletion confirmed with DELETE gracePeriodSeconds=0; pods
 * gone from the API or bound elsewhere are killed).  A kubelet restart re-adopts the
 * sandboxes and containers the runtime reports for a pod uid (labels).
 *
 * Init containers run in order to completion before the app containers (restarted with
 * back-off on failure unless restartPolicy Never, which fails the pod); sidecars
 * (restartPolicy Always on an init container) only need to be started, keep running and
 * are restarted, and are stopped after the app containers; volumes are set
 * up before the sandbox (volumes.h) and torn down with the pod; the environment comes
 * from pspec_build_env with configMaps and secrets read through the apiserver.
 *
 * Startup probes gate liveness/readiness; postStart runs after the start and preStop
 * before the stop (lifecycle.h).
 *
 * Sources: the informer (API pods) and static pods from staticPodPath (static_pods.h,
 * mirror pods: mirror_pod.h).  The PLEG (pleg.h) wakes a worker when its containers
 * change; otherwise a worker syncs on its timers (resync, back-offs) and runs its probes
 * between syncs.
 *
 * Not implemented yet (reported, never faked): HTTPS probes. */
#ifndef KUBELET_POD_WORKER_H
#define KUBELET_POD_WORKER_H

#include "client.h"
#include "config.h"
#include "cri_client.h"

typedef struct pw_config {
	kc_client *api;              /* borrowed, outlives the manager; NULL: standalone
				      * mode (static pods only, no status, no events) */
	cri_client *cri;             /* borrowed, outlives the manager */
	const kubelet_config *cfg;   /* borrowed: clusterDNS, clusterDomain, staticPodPath,
				      * fileCheckFrequency */
	const char *node_name;       /* copied */
	const char *node_ip;         /* copied: status.hostIP */
	const char *pod_logs_dir;    /* copied: "/var/log/pods" upstream */
	const char *cgroup_root;     /* copied: pods go under <root>/kubepods; "" = "/" */
	const char *root_dir;        /* copied: --root-dir, volumes under <root>/pods/<uid> */
	/* node allocatable, for resourceFieldRef of containers without limits */
	int64_t alloc_cpu_milli, alloc_memory, alloc_ephemeral;
} pw_config;

typedef struct pw_manager pw_manager;

int pw_manager_new(const pw_config *cfg, pw_manager **out);
/* Start watching pods (the informer thread; workers start as pods arrive). */
int pw_manager_start(pw_manager *m);
/* Stop the informer and every worker thread; running containers are left alone, as
 * upstream's kubelet does when it exits (the next kubelet re-adopts them). NULL ok. */
void pw_manager_free(pw_manager *m);
/* True once the pod informer has listed (standalone: always). */
int pw_manager_synced(pw_manager *m);
/* The registered Node's uid (copied): mirror pods of static pods are created only once
 * it is known (their ownerReference).  Any thread. */
void pw_manager_set_node_uid(pw_manager *m, const char *uid);

/* Unmount and remove <root-dir>/pods/<uid> directories that no worker owns and whose pod
 * is gone from the API or terminal (upstream's cleanupOrphanedPodDirs): what a kubelet
 * that crashed or restarted left behind.  Does nothing before the informer synced, and
 * at most once every 10 s.  Any thread. */
void pw_cleanup_orphans(pw_manager *m);

/* ---- what the kubelet server reads (any thread) ---- */

/* The pods this kubelet runs as a PodList (upstream's /pods): each pod as last seen from
 * the API with the status this kubelet computed.  New tree, NULL on ENOMEM. */
cJSON *pw_pod_list(pw_manager *m);

/* Where the logs of a container instance are. */
typedef struct pw_log_target {
	char path[2048];   /* the CRI log file */
	char uid[64];
	int attempt;
} pw_log_target;

/* Resolve ns/pod/container (previous: the last terminated instance) to its log file, as
 * the kubelet's validateContainerLogStatus.  0; or KC_ENOTFOUND (*http 404: `pod "p"
 * does not exist`, `container "c" not found in pod "p"`) or -EINVAL (*http 400:
 * `previous terminated container "c" in pod "p" not found`, `container "c" in pod "p"
 * is waiting to start: ContainerCreating`, ...) with msg set. */
int pw_log_target_get(pw_manager *m, const char *ns, const char *pod, const char *container, int previous,
		      pw_log_target *out, int *http, char *msg, size_t msglen);
/* Whether that instance (uid, container, attempt) is still running (a follower stops
 * once it is not and the file is drained). */
int pw_instance_running(pw_manager *m, const char *uid, const char *container, int attempt);

/* What /metrics and /metrics/resource read about each pod (a snapshot). */
enum { PW_CTR_CREATED = 0, PW_CTR_RUNNING, PW_CTR_EXITED, PW_CTR_UNKNOWN, PW_CTR_NONE };
typedef struct pw_ctr_view {
	char name[64];
	char id[96];        /* the runtime's id, "" when none */
	int state;          /* PW_CTR_*: upstream's container_state label */
} pw_ctr_view;
typedef struct pw_pod_view {
	char ns[256], name[256], uid[64];
	char cgroup[1024];  /* the pod's cgroup (pspec_cgroup_parent) */
	int sandbox_ready;
	pw_ctr_view *c;     /* init containers first, then app containers */
	int nc;
} pw_pod_view;
/* Snapshot of every pod this kubelet runs; *out freed with pw_pod_views_free.  0 or
 * -ENOMEM. */
int pw_pod_views(pw_manager *m, pw_pod_view **out, int *n);
void pw_pod_views_free(pw_pod_view *v, int n);

/* Names used on sandboxes and containers (upstream's types/labels.go). */
#define PW_LABEL_POD_NAME "io.kubernetes.pod.name"
#define PW_LABEL_POD_NAMESPACE "io.kubernetes.pod.namespace"
#define PW_LABEL_POD_UID "io.kubernetes.pod.uid"
#define PW_LABEL_CONTAINER_NAME "io.kubernetes.container.name"

#endif
