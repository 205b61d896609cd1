/* Pod lifecycle event generator (pkg/kubelet/pleg/generic.go, GenericPLEG): one relist
 * per period (upstream: 1 s) for the whole node, a ListPodSandbox + a ListContainers
 * without filter, compared with the previous relist; every sandbox or container whose
 * state changed, that appeared or that disappeared yields an event for its pod uid (the
 * io.kubernetes.pod.uid label), and the kubelet wakes only that pod's worker.  Replaces
 * each worker polling PodSandboxStatus + ContainerStatus twice a second.  Prefix pleg_.
 *
 * Threading: pleg_start runs the relist loop on its own thread; the callback is called
 * from it (never under a pleg lock), so it must not block for long. */
#ifndef KUBELET_PLEG_H
#define KUBELET_PLEG_H

#include <stddef.h>
#include <stdint.h>

#include "cri_client.h"

/* upstream's PodLifecycleEventType */
typedef enum pleg_event_type {
	PLEG_CONTAINER_STARTED = 0, /* a container appeared running / went running */
	PLEG_CONTAINER_DIED,        /* a container went exited */
	PLEG_CONTAINER_REMOVED,     /* a container is gone from the runtime */
	PLEG_CONTAINER_CHANGED,     /* any other state change (created, unknown) */
	PLEG_SANDBOX_CHANGED,       /* a sandbox appeared, changed state or is gone */
} pleg_event_type;

typedef struct pleg_event {
	const char *uid; /* the pod's uid */
	const char *id;  /* the container or sandbox id */
	pleg_event_type type;
} pleg_event;

/* Called for each event; ev and its strings are borrowed for the call. */
typedef void (*pleg_fn)(const pleg_event *ev, void *arg);

/* One record of a relist: a sandbox or a container of a pod. */
typedef struct pleg_record {
	char id[96];
	char uid[64];
	int sandbox; /* 1 sandbox, 0 container */
	int state;   /* Runtime__V1__PodSandboxState / Runtime__V1__ContainerState value */
} pleg_record;

/* Sort records by (sandbox, id), as pleg_diff wants them.  r borrowed. */
void pleg_sort(pleg_record *r, size_t n);
/* Compare two relists (each sorted with pleg_sort) and call fn for each difference,
 * as generic.go's computeEvents.  Returns how many events were emitted.  Both arrays
 * borrowed. */
int pleg_diff(const pleg_record *old, size_t nold, const pleg_record *cur, size_t ncur, pleg_fn fn, void *arg);

typedef struct pleg pleg;

/* cri borrowed (outlives the pleg); period_ns <= 0 means 1 s.  fn may be NULL. */
int pleg_new(cri_client *cri, int64_t period_ns, pleg_fn fn, void *arg, pleg **out);
/* One relist now (the thread's step; tests call it directly): 0, or the CRI error with
 * the previous relist kept (a failed relist emits nothing, as upstream). */
int pleg_relist(pleg *p);
/* Start the relist thread.  0 or -errno. */
int pleg_start(pleg *p);
/* Stop the thread and free.  NULL ok. */
void pleg_free(pleg *p);
/* Monotonic ns of the last successful relist (0 before the first): upstream's
 * PLEG health check ("PLEG is not healthy: pleg was last seen active ..."). */
int64_t pleg_last_relist_ns(pleg *p);
/* How many relists have succeeded (tests wait on it). */
uint64_t pleg_relists(pleg *p);

#endif
