#!/bin/sh
# Startup probes and lifecycle hooks against a real containerd: kube-store +
# kube-apiserver + a private containerd + the kubelet.  A slow-starting container is not
# `started` (and neither liveness nor readiness runs) until its startup probe succeeds;
# a startup probe that keeps failing restarts the container; postStart runs after the
# start (a failing one gives FailedPostStartHook and a restart); preStop runs before the
# stop on deletion, inside the grace period; a failing httpGet preStop gives
# FailedPreStopHook with upstream's message.  Real kubectl throughout.
set -u
: "${KUBEC_BUILD:?}"
KUBEC_ROOT=${KUBEC_ROOT:-$(pwd)}
. "$KUBEC_ROOT/test/integration/lib/apiserver_env.sh"
. "$KUBEC_ROOT/test/integration/kubelet/containerd.sh"
. "$KUBEC_ROOT/test/integration/kubelet/kubelet_env.sh"
kl_require
kl_newdir
kl_start_control_plane
kl_write_config </dev/null
kl_start_kubelet kubec-hooks

cat >"$T/pods.yaml" <<YAML
apiVersion: v1
kind: Pod
metadata: {name: slowstart}
spec:
  nodeName: $NODE
  terminationGracePeriodSeconds: 1
  containers:
  - name: c
    image: busybox:1.35
    command: ["sh", "-c", "sleep 4; touch /tmp/started; exec sleep 3600"]
    startupProbe: {exec: {command: ["cat", "/tmp/started"]}, periodSeconds: 1, failureThreshold: 30}
    livenessProbe: {exec: {command: ["cat", "/tmp/started"]}, periodSeconds: 1, failureThreshold: 1}
    readinessProbe: {exec: {command: ["true"]}, periodSeconds: 1}
---
apiVersion: v1
kind: Pod
metadata: {name: nostart}
spec:
  nodeName: $NODE
  terminationGracePeriodSeconds: 1
  containers:
  - name: c
    image: busybox:1.35
    command: ["sleep", "3600"]
    startupProbe: {exec: {command: ["false"]}, periodSeconds: 1, failureThreshold: 2}
---
apiVersion: v1
kind: Pod
metadata: {name: hooks}
spec:
  nodeName: $NODE
  terminationGracePeriodSeconds: 20
  containers:
  - name: c
    image: busybox:1.35
    command: ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 0.2; done"]
    volumeMounts: [{name: h, mountPath: /hooks}]
    lifecycle:
      postStart: {exec: {command: ["sh", "-c", "echo post > /hooks/post"]}}
      preStop: {exec: {command: ["sh", "-c", "sleep 2; echo pre > /hooks/pre"]}}
  volumes:
  - {name: h, hostPath: {path: $T/hooks, type: DirectoryOrCreate}}
---
apiVersion: v1
kind: Pod
metadata: {name: badpost}
spec:
  nodeName: $NODE
  terminationGracePeriodSeconds: 1
  containers:
  - name: c
    image: busybox:1.35
    command: ["sleep", "3600"]
    lifecycle:
      postStart: {exec: {command: ["sh", "-c", "exit 3"]}}
---
apiVersion: v1
kind: Pod
metadata: {name: httphook}
spec:
  nodeName: $NODE
  terminationGracePeriodSeconds: 2
  containers:
  - name: c
    image: busybox:1.35
    command: ["httpd", "-f", "-p", "8080", "-h", "/etc"]
    ports: [{name: web, containerPort: 8080}]
    lifecycle:
      preStop: {httpGet: {path: /nope, port: web}}
YAML
kubectl create -f "$T/pods.yaml" >/dev/null || fail "create pods"

# 1. startup gates liveness and readiness
SEEN_UNSTARTED=0
slow_started() {
	st=$(kubectl get pod slowstart -o jsonpath='{.status.containerStatuses[0].state.running.startedAt}/{.status.containerStatuses[0].started}/{.status.containerStatuses[0].ready}')
	case "$st" in
	?*/false/false) SEEN_UNSTARTED=1 ;;
	?*/true/true) [ "$SEEN_UNSTARTED" = 1 ] && return 0 ;;
	esac
	return 1
}
end=$(($(date +%s) + 40))
while ! slow_started; do
	[ "$(date +%s)" -lt "$end" ] || fail "slowstart: running+unstarted then started+ready not seen (unstarted seen: $SEEN_UNSTARTED): $(kubectl get pod slowstart -o jsonpath='{.status.containerStatuses}')"
	sleep 0.3
done
[ "$(kubectl get pod slowstart -o jsonpath='{.status.containerStatuses[0].restartCount}')" = 0 ] ||
	fail "liveness ran before the startup probe succeeded (restarted)"
echo "ok startup probe gates liveness and readiness (started false, then true and Ready)"

# 2. a startup probe that keeps failing restarts the container
nostart_restarted() { [ "$(kubectl get pod nostart -o jsonpath='{.status.containerStatuses[0].restartCount}')" -ge 1 ]; }
wait_for 40 nostart_restarted || fail "nostart not restarted: $(kubectl get pod nostart -o jsonpath='{.status.containerStatuses}')"
[ "$(kubectl get pod nostart -o jsonpath='{.status.containerStatuses[0].started}')" = false ] || fail "nostart started"
ev() {
	kubectl get events --field-selector "involvedObject.name=$1,reason=$2" -o jsonpath='{.items[*].message}'
}
ev nostart Killing | grep -q 'Container c failed startup probe, will be restarted' || fail "no startup Killing event: $(ev nostart Killing)"
ev nostart Unhealthy | grep -q 'Startup probe failed: ' || fail "no Unhealthy startup event"
echo "ok a failing startup probe restarts the container"

# 3. postStart / preStop exec hooks
hooks_running() { [ "$(kubectl get pod hooks -o jsonpath='{.status.phase}')" = Running ] && [ -f "$T/hooks/post" ]; }
wait_for 40 hooks_running || fail "hooks not Running or no postStart output"
[ "$(cat "$T/hooks/post")" = post ] || fail "postStart output"
badpost() {
	ev badpost FailedPostStartHook | grep -q 'Exec lifecycle hook (\[sh -c exit 3\]) for Container "c" in Pod "badpost_default(' &&
		[ "$(kubectl get pod badpost -o jsonpath='{.status.containerStatuses[0].restartCount}')" -ge 1 ]
}
wait_for 40 badpost || fail "badpost: $(ev badpost FailedPostStartHook) $(kubectl get pod badpost -o jsonpath='{.status.containerStatuses}')"
echo "ok postStart runs after the start; a failing one: FailedPostStartHook and a restart"
wait_for 30 sh -c '[ "$(kubectl get pod httphook -o jsonpath={.status.phase})" = Running ]' || fail "httphook not Running"

T0=$(date +%s)
timeout 60 kubectl delete pod hooks --wait=true >/dev/null || fail "delete hooks"
T1=$(date +%s)
[ "$(cat "$T/hooks/pre" 2>/dev/null)" = pre ] || fail "preStop did not run before the stop"
grep -q 'PreStop hook completed" pod="default/hooks" containerName="c"' "$T/kubelet.log" || fail "no preStop log"
# the stop came after the hook, with what was left of the 20 s grace period
L=$(grep -n 'pod="default/hooks"' "$T/kubelet.log" | grep -E 'PreStop hook completed|Killing container with a grace period' | cut -d: -f1 | tr '\n' ' ')
set -- $L
[ $# = 2 ] && [ "$1" -lt "$2" ] || fail "preStop/stop order: $L"
GP=$(grep 'Killing container with a grace period" pod="default/hooks"' "$T/kubelet.log" | sed 's/.*gracePeriod=//')
[ "$GP" -ge 16 ] && [ "$GP" -le 18 ] || fail "grace period after a 2 s hook: $GP"
[ $((T1 - T0)) -lt 15 ] || fail "deletion took $((T1 - T0)) s: the container ignored SIGTERM?"
echo "ok preStop ran before the stop, within the grace period (stop grace $GP s)"

timeout 60 kubectl delete pod httphook --wait=true >/dev/null || fail "delete httphook"
pre_failed() {
	ev httphook FailedPreStopHook | grep -q 'HTTP lifecycle hook (/nope) for Container "c" in Pod "httphook_default(.*)" failed - error: HTTP probe failed with statuscode: 404'
}
wait_for 20 pre_failed || fail "no FailedPreStopHook: $(ev httphook FailedPreStopHook)"
echo "ok a failing httpGet preStop: FailedPreStopHook, the pod still goes"

for p in slowstart nostart badpost; do
	timeout 60 kubectl delete pod "$p" --wait=true >/dev/null || fail "delete $p"
done
kill "$KPID"; wait "$KPID"; krc=$?; KPID=""
[ "$krc" = 0 ] || fail "kubelet exit $krc on SIGTERM"
FAILED=0
echo "PASS kubelet_hooks"
