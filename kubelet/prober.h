/* Container probes (pkg/kubelet/prober): httpGet, tcpSocket and exec, with upstream's
 * defaults (periodSeconds 10, timeoutSeconds 1, successThreshold 1, failureThreshold 3,
 * initialDelaySeconds 0) and its result bookkeeping (worker.go: a result flips only after
 * successThreshold / failureThreshold consecutive results).  Prefix probe_. */
#ifndef KUBELET_PROBER_H
#define KUBELET_PROBER_H

#include <cjson/cJSON.h>
#include <stdint.h>

#include "cri_client.h"

enum probe_kind { PROBE_NONE = 0, PROBE_HTTP, PROBE_TCP, PROBE_EXEC };

typedef struct probe_spec {
	enum probe_kind kind;
	int port;                 /* http / tcp */
	char host[64];            /* "" = the pod IP */
	char path[512];           /* http, default "/" */
	int https;                /* scheme HTTPS: not supported (probe fails with a message) */
	char **cmd;               /* exec, owned */
	int ncmd;
	int32_t initial_delay_s, period_s, timeout_s, success_threshold, failure_threshold;
} probe_spec;

/* Parse container[field] ("readinessProbe", "livenessProbe").  No probe: kind NONE, 0.
 * -EINVAL with err for a probe naming no handler or a port that does not resolve. */
int probe_parse(const cJSON *container, const char *field, probe_spec *out, char *err, size_t errlen);
void probe_spec_close(probe_spec *p);

/* Result bookkeeping of one probe. */
typedef struct probe_state {
	int result;             /* current result: 1 success, 0 failure */
	int consecutive;        /* how many of the latest results equal `last` */
	int last;
	int64_t next_ns;        /* monotonic time of the next run */
} probe_state;

/* initial: the result before any run (readiness: 0, liveness: 1). */
void probe_state_init(probe_state *s, int initial, int64_t start_ns, const probe_spec *p);
/* Record one run's outcome at now_ns; returns 1 when s->result changed. */
int probe_state_record(probe_state *s, const probe_spec *p, int ok, int64_t now_ns);

/* Run once against pod_ip / container_id: 1 success, 0 failure (msg says why). */
int probe_run(const probe_spec *p, cri_client *cri, const char *pod_ip, const char *container_id, char *msg,
	      size_t msglen);

#endif
