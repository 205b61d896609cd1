#!/bin/sh
# OOMKilled as a user sees it (issue 8), one node, real containerd + runc: a container
# that allocates past resources.limits.memory (16Mi) is killed by the kernel's memory
# cgroup; the kubelet reports what the CRI says (reason OOMKilled, exit code 137) as the
# container's lastState.terminated and restarts it with CrashLoopBackOff, as upstream's
# kuberuntime does.  `kubectl describe pod` is printed and its lines are checked.
set -u
: "${KUBEC_BUILD:?}"
KUBEC_ROOT=${KUBEC_ROOT:-$(pwd)}
export KUBEC_BUILD KUBEC_ROOT
. "$KUBEC_ROOT/test/e2e/lib/flow_cluster.sh"
flow_scenario_init oom

# The shell holds 200 MB of 'a's in a variable: far past the 16Mi limit, so the kernel
# kills it (a `dd | tail` pipe would hold the memory in tail, the same outcome).
cat >"$FLOW_T/hog.yaml" <<'YAML'
apiVersion: v1
kind: Pod
metadata:
  name: hog
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: hog
    image: busybox:1.35
    command: ["sh", "-c", "echo allocating; x=$(head -c 200000000 /dev/zero | tr '\\0' a); echo survived"]
    resources:
      requests:
        memory: 16Mi
      limits:
        memory: 16Mi
YAML
kubectl apply -f "$FLOW_T/hog.yaml" >/dev/null || flow_fail "create pod hog"

jp() { kubectl get pod hog -o jsonpath="$1" 2>/dev/null; }
last_oom() { [ "$(jp '{.status.containerStatuses[0].lastState.terminated.reason}')" = OOMKilled ]; }
flow_wait_for 90 last_oom || flow_fail "lastState never OOMKilled; status: $(jp '{.status.containerStatuses[0]}')"
echo "ok lastState.terminated.reason=OOMKilled"
code=$(jp '{.status.containerStatuses[0].lastState.terminated.exitCode}')
[ "$code" = 137 ] || flow_fail "lastState exitCode $code, want 137"
echo "ok lastState.terminated.exitCode=137"
crashloop() { [ "$(jp '{.status.containerStatuses[0].state.waiting.reason}')" = CrashLoopBackOff ]; }
flow_wait_for 60 crashloop || flow_fail "never CrashLoopBackOff; status: $(jp '{.status.containerStatuses[0]}')"
echo "ok state.waiting.reason=CrashLoopBackOff"
rc=$(jp '{.status.containerStatuses[0].restartCount}')
[ "${rc:-0}" -ge 1 ] || flow_fail "restartCount $rc, want >= 1"
echo "ok restartCount=$rc"
# the memory limit the kernel enforced is the one asked for
lim=$(jp '{.spec.containers[0].resources.limits.memory}')
[ "$lim" = 16Mi ] || flow_fail "limit $lim"

kubectl describe pod hog >"$FLOW_T/describe.txt" 2>&1 || flow_fail "kubectl describe pod hog: $(tail -n 3 "$FLOW_T/describe.txt")"
echo "---- kubectl describe pod hog ----"
cat "$FLOW_T/describe.txt"
echo "----"
# the container's section: State Waiting (CrashLoopBackOff), Last State Terminated with
# Reason OOMKilled and Exit Code 137, as upstream's describe prints them
sect=$(sed -n '/^Containers:/,/^Conditions:/p' "$FLOW_T/describe.txt")
echo "$sect" | grep -q 'State: *Waiting' || flow_fail "describe: State is not Waiting"
echo "$sect" | grep -q 'Reason: *CrashLoopBackOff' || flow_fail "describe: no Reason CrashLoopBackOff"
echo "$sect" | grep -q 'Last State: *Terminated' || flow_fail "describe: no Last State Terminated"
echo "$sect" | sed -n '/Last State:/,/Ready:/p' | grep -q 'Reason: *OOMKilled' || flow_fail "describe: Last State reason is not OOMKilled"
echo "$sect" | sed -n '/Last State:/,/Ready:/p' | grep -q 'Exit Code: *137' || flow_fail "describe: Last State exit code is not 137"
echo "$sect" | grep -q 'memory: *16Mi' || flow_fail "describe: no memory limit 16Mi"
grep -E 'BackOff .*Back-off restarting failed container' "$FLOW_T/describe.txt" >/dev/null ||
	flow_fail "describe: no BackOff event"
echo "ok kubectl describe: State Waiting CrashLoopBackOff; Last State Terminated, Reason OOMKilled, Exit Code 137; BackOff event"

kubectl delete pod hog --wait=false >/dev/null || flow_fail "delete pod hog"
gone() { ! kubectl get pod hog >/dev/null 2>&1; }
flow_wait_for 60 gone || flow_fail "pod hog not deleted"
echo "ok pod hog deleted"
flow_pass
