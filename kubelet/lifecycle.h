/* Container lifecycle hooks (pkg/kubelet/lifecycle/handlers.go): postStart and preStop
 * handlers of kind exec (ExecSync in the container), httpGet (to the pod IP unless `host`
 * is set; 2xx/3xx succeed) and sleep (LifecycleSleepAction).  Prefix hook_.
 *
 * The pod worker runs postStart right after StartContainer (a failure kills the container
 * with a FailedPostStartHook event, which then restarts per the restart policy) and
 * preStop before StopContainer within the grace period, as killContainer: the hook's
 * duration is taken from the grace period, leaving at least 2 s
 * (minimumGracePeriodInSeconds). */
#ifndef KUBELET_LIFECYCLE_H
#define KUBELET_LIFECYCLE_H

#include <cjson/cJSON.h>
#include <stdint.h>

#include "cri_client.h"

/* Whether container.lifecycle.<which> ("postStart" / "preStop") is set. */
int hook_present(const cJSON *container, const char *which);

/* Run it, waiting at most timeout_s.  0 on success; -1 with msg in upstream's words
 * (`Exec lifecycle hook ([cmd]) for Container "c" in Pod "p_ns(uid)" failed - error:
 * ...`); -EINVAL with msg for a handler without exec/httpGet/sleep.  pod_desc is
 * "<name>_<namespace>(<uid>)".  Borrowed arguments. */
int hook_run(const cJSON *container, const char *which, cri_client *cri, const char *pod_ip,
	     const char *container_id, const char *pod_desc, int64_t timeout_s, char *msg, size_t msglen);

/* The grace period StopContainer gets after a preStop hook that took hook_s of
 * grace_s (killContainer): grace_s - hook_s, at least 2. */
int64_t hook_remaining_grace(int64_t grace_s, int64_t hook_s);

#endif
