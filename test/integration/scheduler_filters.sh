#!/bin/sh
# Each filter plugin's unschedulable case through the real stack (kube-store,
# kube-apiserver, kube-scheduler; hollow Node objects created through the API, no kubelet),
# driven by real kubectl: the pod stays Pending, `kubectl describe pod` shows upstream's
# FailedScheduling message for that filter, and the pod is bound as soon as the cause is
# removed (issue 6's acceptance):
#   NodeUnschedulable   cordoned nodes              -> uncordon
#   TaintToleration     untolerated NoSchedule taint -> taint removed
#   NodeAffinity        nodeSelector nobody matches -> node labelled
#   NodeResourcesFit    more cpu than any node has  -> a bigger node added
#   NodePorts           hostPort taken everywhere   -> the holder pod deleted
#   InterPodAffinity    required anti-affinity      -> the conflicting pod deleted
#                       required affinity           -> a matching pod created
#   PodTopologySpread   DoNotSchedule maxSkew 1     -> the skewing pods deleted
# (NodeName cannot be reached through the scheduler: a pod with spec.nodeName is never
# queued; its message is covered by the unit tests.)  Preemption (victim deleted) is in
# scheduler_basic.sh.
set -u
: "${KUBEC_BUILD:?}"
KUBEC_ROOT=${KUBEC_ROOT:-$(pwd)}
. "$KUBEC_ROOT/test/integration/lib/apiserver_env.sh"
for tool in kubectl openssl curl "$PY"; do
	command -v "$tool" >/dev/null 2>&1 || { echo "SKIP: $tool missing"; exit 77; }
done
for b in kube-store kube-apiserver kube-scheduler; do
	[ -x "$KUBEC_BUILD/bin/$b" ] || { echo "FAIL: $KUBEC_BUILD/bin/$b not built"; exit 1; }
done

kc_newdir
FAILED=1
on_exit() {
	[ "$FAILED" = 0 ] || kc_dump_logs
	kc_cleanup
}
trap on_exit EXIT
trap 'exit 130' INT TERM
fail() { echo "FAIL: $*"; exit 1; }
wait_for() { # wait_for SECONDS CMD...
	end=$(($(date +%s) + $1)); shift
	while [ "$(date +%s)" -lt "$end" ]; do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.2
	done
	return 1
}

gen_certs "$T" || fail "certificates"
start_kube_store "$T" || fail "kube-store did not start"
start_apiserver "$T" "$ETCD_URL" || fail "kube-apiserver did not become ready"
write_kubeconfig "$T" "$API"
export KUBECONFIG="$T/kubeconfig"
kubectl create serviceaccount default >/dev/null 2>&1 || true

node() { # node NAME CPU MEMORY ZONE
	cat <<YAML | kubectl create -f - >/dev/null || fail "create node $1"
apiVersion: v1
kind: Node
metadata:
  name: $1
  labels: {kubernetes.io/hostname: $1, topology.kubernetes.io/zone: $4}
YAML
	kubectl patch node "$1" --subresource=status --type=merge -p \
		"{\"status\":{\"capacity\":{\"cpu\":\"$2\",\"memory\":\"$3\",\"pods\":\"110\"},\"allocatable\":{\"cpu\":\"$2\",\"memory\":\"$3\",\"pods\":\"110\"},\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\"}]}}" \
		>/dev/null || fail "node $1 status"
}
node n1 2 4Gi a
node n2 2 4Gi b

SPORT=$(free_port)
"$KUBEC_BUILD/bin/kube-scheduler" --kubeconfig "$T/kubeconfig" --bind-address 127.0.0.1 \
	--secure-port "$SPORT" --leader-elect=false --v=2 > "$T/scheduler.log" 2>&1 &
KC_PIDS="$KC_PIDS $!"
KC_LOGS="$KC_LOGS $T/scheduler.log"
wait_url "https://127.0.0.1:$SPORT/healthz" 20 -k || fail "scheduler /healthz"

# pod NAME [EXTRA SPEC YAML (indented 2)] [LABEL app value]: a pod asking 100m cpu
pod() {
	{
		cat <<YAML
apiVersion: v1
kind: Pod
metadata:
  name: $1
  labels: {app: ${3:-$1}}
spec:
  automountServiceAccountToken: false
  containers:
  - name: c
    image: busybox:1.35
    resources: {requests: {cpu: ${CPU:-100m}}}
YAML
		[ -n "${2:-}" ] && printf '%s\n' "$2"
	} | kubectl create -f - >/dev/null || fail "create pod $1"
}
bound_to() { [ "$(kubectl get pod "$1" -o jsonpath='{.spec.nodeName}')" = "$2" ]; }
bound() { [ -n "$(kubectl get pod "$1" -o jsonpath='{.spec.nodeName}')" ]; }
# pending_with POD MESSAGE: kubectl describe shows MESSAGE in a FailedScheduling event
pending_with() {
	kubectl describe pod "$1" >"$T/describe.$1" 2>&1 || return 1
	grep -q "FailedScheduling" "$T/describe.$1" && grep -qF "$2" "$T/describe.$1"
}
CASES=0
# expect POD MESSAGE: the pod stays unbound and describe shows the message
expect() {
	wait_for 30 pending_with "$1" "$2" || { cat "$T/describe.$1"; fail "$1: no FailedScheduling '$2'"; }
	bound "$1" && fail "$1 was bound although '$2'"
	[ "$(kubectl get pod "$1" -o jsonpath='{.status.conditions[?(@.type=="PodScheduled")].reason}')" = Unschedulable ] ||
		fail "$1: PodScheduled condition is not Unschedulable"
	CASES=$((CASES + 1))
}
show_events() { # the Events section of describe, for the closing note
	echo "--- kubectl describe pod $1 (Events)"
	sed -n '/^Events:/,$p' "$T/describe.$1"
}
fixed() { # fixed POD NODE WHAT
	wait_for 30 bound_to "$1" "$2" || fail "$1 not bound to $2 after $3 (on '$(kubectl get pod "$1" -o jsonpath='{.spec.nodeName}')')"
	echo "ok: $1 Pending with the message, bound to $2 once $3"
}

# NodeUnschedulable
kubectl cordon n1 n2 >/dev/null || fail cordon
pod p-cordon
expect p-cordon "0/2 nodes are available: 2 node(s) were unschedulable."
kubectl uncordon n2 >/dev/null || fail uncordon
fixed p-cordon n2 "n2 was uncordoned"
kubectl uncordon n1 >/dev/null
kubectl delete pod p-cordon --force --grace-period=0 >/dev/null 2>&1

# TaintToleration
kubectl taint nodes n1 n2 dedicated=gpu:NoSchedule >/dev/null || fail taint
pod p-taint
expect p-taint "0/2 nodes are available: 2 node(s) had untolerated taint {dedicated: gpu}."
show_events p-taint
kubectl taint nodes n1 dedicated=gpu:NoSchedule- >/dev/null || fail untaint
fixed p-taint n1 "n1's taint was removed"
kubectl taint nodes n2 dedicated=gpu:NoSchedule- >/dev/null
kubectl delete pod p-taint --force --grace-period=0 >/dev/null 2>&1

# NodeAffinity (nodeSelector)
pod p-selector "  nodeSelector: {disk: ssd}"
expect p-selector "0/2 nodes are available: 2 node(s) didn't match Pod's node affinity/selector."
kubectl label node n2 disk=ssd >/dev/null || fail label
fixed p-selector n2 "n2 was labelled disk=ssd"
kubectl delete pod p-selector --force --grace-period=0 >/dev/null 2>&1

# NodeResourcesFit
CPU=3 pod p-cpu
expect p-cpu "0/2 nodes are available: 2 Insufficient cpu."
show_events p-cpu
node n3 4 8Gi c
fixed p-cpu n3 "a 4-cpu node was added"
kubectl delete pod p-cpu --force --grace-period=0 >/dev/null 2>&1
kubectl delete node n3 >/dev/null

# NodePorts
PORT="  nodeSelector: {kubernetes.io/hostname: NODE}
  hostNetwork: false
  containers:
  - name: c
    image: busybox:1.35
    ports: [{containerPort: 8080, hostPort: 8080}]"
for n in n1 n2; do
	printf 'apiVersion: v1\nkind: Pod\nmetadata: {name: holder-%s}\nspec:\n  automountServiceAccountToken: false\n%s\n' \
		"$n" "$(printf '%s' "$PORT" | sed "s/NODE/$n/")" | kubectl create -f - >/dev/null || fail "holder-$n"
	wait_for 30 bound_to "holder-$n" "$n" || fail "holder-$n not bound"
done
printf 'apiVersion: v1\nkind: Pod\nmetadata: {name: p-port}\nspec:\n  automountServiceAccountToken: false\n  containers:\n  - name: c\n    image: busybox:1.35\n    ports: [{containerPort: 8080, hostPort: 8080}]\n' |
	kubectl create -f - >/dev/null || fail "p-port"
expect p-port "0/2 nodes are available: 2 node(s) didn't have free ports for the requested pod ports."
kubectl delete pod holder-n1 --force --grace-period=0 >/dev/null 2>&1
fixed p-port n1 "holder-n1 was deleted"
kubectl delete pod p-port holder-n2 --force --grace-period=0 >/dev/null 2>&1

# InterPodAffinity: required anti-affinity against existing pods
for n in n1 n2; do
	pod "db-$n" "  nodeSelector: {kubernetes.io/hostname: $n}" db
	wait_for 30 bound_to "db-$n" "$n" || fail "db-$n not bound"
done
pod p-anti "  affinity:
    podAntiAffinity:
      requiredDuringSchedulingIgnoredDuringExecution:
      - labelSelector: {matchLabels: {app: db}}
        topologyKey: kubernetes.io/hostname"
expect p-anti "0/2 nodes are available: 2 node(s) didn't match pod anti-affinity rules."
show_events p-anti
kubectl delete pod db-n2 --force --grace-period=0 >/dev/null 2>&1
fixed p-anti n2 "the db pod on n2 was deleted"
kubectl delete pod p-anti db-n1 --force --grace-period=0 >/dev/null 2>&1

# InterPodAffinity: required affinity to a pod that does not exist yet
pod p-aff "  affinity:
    podAffinity:
      requiredDuringSchedulingIgnoredDuringExecution:
      - labelSelector: {matchLabels: {app: cache}}
        topologyKey: kubernetes.io/hostname"
expect p-aff "0/2 nodes are available: 2 node(s) didn't match pod affinity rules."
pod cache "  nodeSelector: {kubernetes.io/hostname: n1}" cache
fixed p-aff n1 "a cache pod landed on n1"
kubectl delete pod p-aff cache --force --grace-period=0 >/dev/null 2>&1

# PodTopologySpread: zone a already has 2 pods of app=s, zone b none; the new pod may only
# go to zone a (nodeSelector), where it would make the skew 3 > maxSkew 1
for i in 1 2; do
	pod "s-$i" "  nodeSelector: {topology.kubernetes.io/zone: a}" s
	wait_for 30 bound_to "s-$i" n1 || fail "s-$i not bound"
done
pod p-spread "  nodeSelector: {topology.kubernetes.io/zone: a}
  topologySpreadConstraints:
  - maxSkew: 1
    topologyKey: topology.kubernetes.io/zone
    whenUnsatisfiable: DoNotSchedule
    nodeAffinityPolicy: Ignore
    labelSelector: {matchLabels: {app: s}}" s
expect p-spread "0/2 nodes are available: 1 node(s) didn't match Pod's node affinity/selector, 1 node(s) didn't match pod topology spread constraints."
kubectl delete pod s-1 s-2 --force --grace-period=0 >/dev/null 2>&1
fixed p-spread n1 "the two skewing pods were deleted"

echo "scheduler filters: $CASES unschedulable cases, each with upstream's message and bound once fixed"
FAILED=0
