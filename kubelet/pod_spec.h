/* Pure functions from a pod's spec to what the runtime is asked for, as upstream's
 * kuberuntime_container.go / helpers_linux.go / qos.go / expansion.go.  Prefix pspec_.
 * No I/O, no time source: everything here is unit-tested (test/unit/test_kubelet_pod.c). */
#ifndef KUBELET_POD_SPEC_H
#define KUBELET_POD_SPEC_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

/* A name=value list (env).  Strings owned by the list. */
typedef struct pspec_env {
	char **names;
	char **values;
	size_t n, cap;
} pspec_env;

void pspec_env_close(pspec_env *e);
/* Append (both copied); a later duplicate name replaces the earlier value, as the
 * kubelet's env map does.  0 or -ENOMEM. */
int pspec_env_set(pspec_env *e, const char *name, const char *value);
/* The value of name, or NULL (borrowed). */
const char *pspec_env_get(const pspec_env *e, const char *name);

/* Upstream third_party/forked/golang/expansion: "$(VAR)" is replaced by VAR's value when
 * VAR is in env (NULL: none), "$$" becomes "$", an undefined "$(VAR)" and any other "$"
 * stay literally.  Returns a malloc'd string (NULL on ENOMEM). */
char *pspec_expand(const char *in, const pspec_env *env);

/* Where configMapKeyRef / secretKeyRef / envFrom / volumes read their objects.
 * fetch: GET <resource> ("configmaps" / "secrets" / "services") ns/name, or the list of
 * the namespace when name is NULL; 0 with *out (a new tree the
 * caller deletes), KC_ENOTFOUND when the object does not exist, another negative error
 * with err set otherwise.  event: a Warning event about the pod (reason, message); may
 * be NULL.  The kubelet passes GETs through the apiserver (upstream reads a cache). */
typedef struct pspec_sources {
	int (*fetch)(void *arg, const char *resource, const char *ns, const char *name, cJSON **out, char *err,
		     size_t errlen);
	void (*event)(void *arg, const char *reason, const char *message);
	void *arg;
} pspec_sources;

/* What fieldRef / resourceFieldRef / the pod-level facts env needs. All borrowed. */
typedef struct pspec_podinfo {
	const char *pod_ip;
	const char *host_ip;
	const char *node_name;
	const pspec_sources *src;   /* NULL: any configMap/secret source is an error */
	/* node allocatable: the limit a container without one reports through the downward
	 * API (defaultPodLimitsForDownwardAPI); 0 = unknown */
	int64_t alloc_cpu_milli, alloc_memory, alloc_ephemeral;
} pspec_podinfo;

/* The container's environment, as makeEnvironmentVariables: first the service
 * variables (envvars.FromServices: <SVC>_SERVICE_HOST, <SVC>_SERVICE_PORT[_<PORT>],
 * <SVC>_PORT, <SVC>_PORT_<port>_<PROTO>[_PROTO|_PORT|_ADDR]) of default/kubernetes and,
 * unless spec.enableServiceLinks is false, of every service of the pod's namespace with a
 * cluster IP (fetch(resource "services", name NULL) lists them), then envFrom
 * (configMapRef / secretRef, keys with `prefix`, keys that are not valid variable names
 * skipped with an InvalidEnvironmentVariableNames event, a missing object skipped when
 * optional), then env in order, each value expanded with the variables defined before
 * it, later entries replacing earlier ones; valueFrom.fieldRef (metadata.name,
 * metadata.namespace, metadata.uid, metadata.labels['k'], metadata.annotations['k'],
 * spec.nodeName, spec.serviceAccountName, status.podIP, status.hostIP),
 * resourceFieldRef (pspec_resource_value), configMapKeyRef and secretKeyRef (optional
 * honoured).  Errors use upstream's messages (`configmap "x" not found`, `couldn't find
 * key k in ConfigMap ns/x`) and are reported as CreateContainerConfigError. */
int pspec_build_env(const cJSON *pod, const cJSON *container, const pspec_podinfo *pi, pspec_env *out,
		    char *err, size_t errlen);

/* Upstream IsEnvVarName: [-._a-zA-Z][-._a-zA-Z0-9]* */
int pspec_is_env_var_name(const char *s);

/* A fieldRef path's value (the env's list plus metadata.labels / metadata.annotations
 * for volumes); NULL for an unsupported path.  Borrowed from pod or pi. */
const char *pspec_field_ref(const cJSON *pod, const pspec_podinfo *pi, const char *path);

/* resourceFieldRef (ExtractContainerResourceValue): resource "limits.cpu",
 * "limits.memory", "limits.ephemeral-storage", "requests.cpu", "requests.memory",
 * "requests.ephemeral-storage"; divisor (NULL/absent = "1"); cpu is
 * ceil(milli / divisor milli), the others ceil(value / divisor value); a limit that is
 * not set is the node's allocatable.  Writes the decimal text into buf; -EINVAL with err
 * for an unsupported resource or a bad divisor. */
int pspec_resource_value(const cJSON *container, const char *resource, const cJSON *divisor,
			 const pspec_podinfo *pi, char *buf, size_t len, char *err, size_t errlen);

/* Decode a Secret's data value (standard base64) into a new NUL-terminated buffer
 * (*len excludes the NUL).  0, KC_EPARSE or -ENOMEM. */
int pspec_secret_value(const char *b64, char **out, size_t *len);

/* "Guaranteed" / "Burstable" / "BestEffort" (pkg/apis/core/v1/helper/qos GetPodQOS,
 * for cpu and memory; a request missing where a limit is set counts as the limit). */
const char *pspec_qos_class(const cJSON *pod);

typedef struct pspec_resources {
	int64_t cpu_shares;   /* from the cpu request: milli*1024/1000, at least 2 */
	int64_t cpu_quota;    /* from the cpu limit: milli*period/1000, at least 1000; 0 = none */
	int64_t cpu_period;   /* 100000 */
	int64_t memory_limit; /* bytes; 0 = none */
} pspec_resources;

/* Resources of one container (helpers_linux.go milliCPUToShares / milliCPUToQuota).
 * -EINVAL with err for a quantity that does not parse. */
int pspec_container_resources(const cJSON *container, pspec_resources *out, char *err, size_t errlen);

/* Cgroup parent of a pod, as the cgroupfs pod container manager names it:
 * "<root>/kubepods/pod<uid>" (Guaranteed), "<root>/kubepods/burstable/pod<uid>",
 * "<root>/kubepods/besteffort/pod<uid>".  root "" or "/" is the top.  Returns the length
 * or -ENAMETOOLONG. */
int pspec_cgroup_parent(char *buf, size_t len, const char *root, const char *qos, const char *uid);

/* CrashLoopBackOff: the delay before restart number `restarts`+1 of a container that
 * has already been restarted `restarts` times: 0 for the first restart, then 10 s
 * doubling up to 300 s (kubelet's backOff: initial 10s, MaxContainerBackOff 300s). */
int64_t pspec_backoff_ns(int restarts);

/* Whether a container that exited with exit_code is restarted under the pod's
 * restartPolicy ("Always" default, "OnFailure", "Never"). */
int pspec_should_restart(const char *restart_policy, int exit_code);

/* A port of a probe or containerPort: an integer, or a name looked up in the
 * container's ports.  Returns the port (1..65535) or -EINVAL. */
int pspec_resolve_port(const cJSON *container, const cJSON *port);

#endif
