/* Pod workers (pkg/kubelet/pod_workers.go + kuberuntime_manager.go SyncPod/KillPod, much
 * reduced): an informer on the pods bound to this node (fieldSelector
 * spec.nodeName=<node>) and one worker per pod.  Prefix pw_.
 *
 * Threading: one thread per pod for now (upstream: one goroutine per pod); fine for the
 * tens of pods of a test node, to be replaced by a bounded pool.  Each worker syncs its
 * pod when the informer reports a change and at least every second: sandbox, images,
 * containers, restarts with CrashLoopBackOff, readiness/liveness probes, status PATCH,
 * events, a dead sandbox replaced, the sandbox stopped once the pod is
 * Succeeded/Failed, and termination (graceful deletion confirmed with DELETE gracePeriodSeconds=0; pods
 * gone from the API or bound elsewhere are killed).  A kubelet restart re-adopts the
 * sandboxes and containers the runtime reports for a pod uid (labels).
 *
 * Not implemented yet (reported, never faked): init containers, volumes, envFrom and
 * valueFrom other than fieldRef (the container waits with CreateContainerConfigError),
 * startup probes, HTTPS probes, events. */
#ifndef KUBELET_POD_WORKER_H
#define KUBELET_POD_WORKER_H

#include "client.h"
#include "config.h"
#include "cri_client.h"

typedef struct pw_config {
	kc_client *api;              /* borrowed, outlives the manager */
	cri_client *cri;             /* borrowed, outlives the manager */
	const kubelet_config *cfg;   /* borrowed: clusterDNS, clusterDomain */
	const char *node_name;       /* copied */
	const char *node_ip;         /* copied: status.hostIP */
	const char *pod_logs_dir;    /* copied: "/var/log/pods" upstream */
	const char *cgroup_root;     /* copied: pods go under <root>/kubepods; "" = "/" */
} pw_config;

typedef struct pw_manager pw_manager;

int pw_manager_new(const pw_config *cfg, pw_manager **out);
/* Start watching pods (the informer thread; workers start as pods arrive). */
int pw_manager_start(pw_manager *m);
/* Stop the informer and every worker thread; running containers are left alone, as
 * upstream's kubelet does when it exits (the next kubelet re-adopts them). NULL ok. */
void pw_manager_free(pw_manager *m);
/* True once the pod informer has listed. */
int pw_manager_synced(pw_manager *m);

/* Names used on sandboxes and containers (upstream's types/labels.go). */
#define PW_LABEL_POD_NAME "io.kubernetes.pod.name"
#define PW_LABEL_POD_NAMESPACE "io.kubernetes.pod.namespace"
#define PW_LABEL_POD_UID "io.kubernetes.pod.uid"
#define PW_LABEL_CONTAINER_NAME "io.kubernetes.container.name"

#endif
