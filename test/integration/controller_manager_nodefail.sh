#!/bin/sh
# The whole control plane on two hollow nodes (kubelets on the fake runtime), driven by
# real kubectl, printing a transcript a user would see (issue 7's closing note):
#   - a Deployment of 4 is applied and `kubectl rollout status` says it rolled out;
#   - a new image: rollout status prints upstream's progress messages, rollout history
#     shows 2 revisions, rollout undo brings back revision 1's template as revision 3
#     and reuses its ReplicaSet;
#   - node failure: kubelet 2 is killed with SIGKILL. After --node-monitor-grace-period
#     (8 s here) the node is Ready=Unknown, tainted node.kubernetes.io/unreachable
#     NoExecute, its pods not Ready; after the pods' unreachable toleration (5 s here, by
#     the apiserver's --default-unreachable-toleration-seconds) they are evicted and the
#     ReplicaSet replaces them on node 1 (4 available again, all on node 1);
#   - kubelet 2 comes back: Ready=True, the taint is gone, and the evicted pods it still
#     held are gone from the API.
set -u
: "${KUBEC_BUILD:?}"
KUBEC_ROOT=${KUBEC_ROOT:-$(pwd)}
. "$KUBEC_ROOT/test/integration/lib/apiserver_env.sh"
for tool in kubectl openssl curl "$PY"; do
	command -v "$tool" >/dev/null 2>&1 || { echo "SKIP: $tool missing"; exit 77; }
done
for b in kube-store kube-apiserver kube-controller-manager kube-scheduler kubelet; do
	[ -x "$KUBEC_BUILD/bin/$b" ] || { echo "FAIL: $KUBEC_BUILD/bin/$b not built"; exit 1; }
done

kc_newdir
FAILED=1
on_exit() {
	if [ "$FAILED" != 0 ]; then
		kc_dump_logs
		for i in 1 2; do echo "===== kubelet $i log"; tail -n 40 "$T/k$i/kubelet.log" 2>/dev/null; done
	fi
	kc_cleanup
}
trap on_exit EXIT
trap 'exit 130' INT TERM
fail() { echo "FAIL: $*"; exit 1; }
# show CMD...: print the command as a user would type it, then its output
show() {
	echo "\$ $*"
	"$@" 2>&1 | sed 's/^/  /'
}
# wait_for SECONDS CMD...: until CMD succeeds
wait_for() {
	end=$(($(date +%s) + $1)); shift
	while [ "$(date +%s)" -lt "$end" ]; do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.3
	done
	return 1
}
now_ms() { date +%s%3N; }

gen_certs "$T" || fail "certificates"
start_kube_store "$T" || fail "kube-store did not start"
start_apiserver "$T" "$ETCD_URL" --default-unreachable-toleration-seconds 5 \
	--default-not-ready-toleration-seconds 5 || fail "kube-apiserver did not become ready"
write_kubeconfig "$T" "$API"
export KUBECONFIG="$T/kubeconfig"

CMPORT=$(free_port)
"$KUBEC_BUILD/bin/kube-controller-manager" --kubeconfig "$T/kubeconfig" --leader-elect=false \
	--bind-address 127.0.0.1 --secure-port "$CMPORT" --node-monitor-period 1s \
	--node-monitor-grace-period 8s --v=2 > "$T/cm.log" 2>&1 &
KC_PIDS="$KC_PIDS $!"
KC_LOGS="$KC_LOGS $T/cm.log"
SPORT=$(free_port)
"$KUBEC_BUILD/bin/kube-scheduler" --kubeconfig "$T/kubeconfig" --bind-address 127.0.0.1 \
	--secure-port "$SPORT" --leader-elect=false --v=2 > "$T/scheduler.log" 2>&1 &
KC_PIDS="$KC_PIDS $!"
KC_LOGS="$KC_LOGS $T/scheduler.log"
wait_url "https://127.0.0.1:$CMPORT/healthz" 30 -k || fail "controller-manager /healthz"
wait_url "https://127.0.0.1:$SPORT/healthz" 30 -k || fail "scheduler /healthz"

SUF=$(od -An -N2 -tx1 /dev/urandom | tr -d ' ')
N1=node-$SUF-1
N2=node-$SUF-2
# start_kubelet I: a hollow kubelet for node-<suf>-I (same ports and root on a restart)
start_kubelet() {
	d="$T/k$1"
	if [ ! -f "$d/config.yaml" ]; then
		mkdir -p "$d"
		cat >"$d/config.yaml" <<YAML
kind: KubeletConfiguration
apiVersion: kubelet.config.k8s.io/v1beta1
port: $(free_port)
healthzPort: $(free_port)
authentication:
  anonymous:
    enabled: false
  x509:
    clientCAFile: "$T/ca.crt"
cgroupDriver: cgroupfs
containerRuntimeEndpoint: "fake://"
podCIDR: 10.212.$1.0/24
nodeStatusUpdateFrequency: 2s
YAML
	fi
	"$KUBEC_BUILD/bin/kubelet" --config "$d/config.yaml" --kubeconfig "$T/kubeconfig" \
		--hostname-override "node-$SUF-$1" --node-ip 127.0.0.1 --root-dir "$d/root" \
		--pod-logs-dir "$d/logs" --cgroup-root "/kubec-nodefail-$SUF-$1" --v 2 >>"$d/kubelet.log" 2>&1 &
	echo $! >"$d/pid"
	KC_PIDS="$KC_PIDS $!"
}
node_ready() { # node_ready NAME STATUS
	[ "$(kubectl get node "$1" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}')" = "$2" ]
}
start_kubelet 1
start_kubelet 2
wait_for 40 node_ready "$N1" True || fail "$N1 never Ready"
wait_for 40 node_ready "$N2" True || fail "$N2 never Ready"
show kubectl get nodes

cat >"$T/web.yaml" <<'YAML'
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 4
  selector:
    matchLabels: {app: web}
  strategy:
    rollingUpdate: {maxSurge: 1, maxUnavailable: 0}
  template:
    metadata:
      labels: {app: web}
    spec:
      automountServiceAccountToken: false
      terminationGracePeriodSeconds: 2
      topologySpreadConstraints:
      - maxSkew: 1
        topologyKey: kubernetes.io/hostname
        whenUnsatisfiable: ScheduleAnyway
        labelSelector:
          matchLabels: {app: web}
      containers:
      - name: web
        image: busybox:1.35
        command: ["httpd", "-f", "-p", "80"]
YAML
wait_for 20 kubectl get serviceaccount default || fail "no default ServiceAccount"
echo
echo "### a rollout"
show kubectl apply -f "$T/web.yaml"
show kubectl rollout status deployment/web --timeout=60s
kubectl rollout status deployment/web --timeout=5s 2>&1 | grep -q 'deployment "web" successfully rolled out' ||
	fail "first rollout"
show kubectl get pods -o wide

kubectl set image deployment/web web=busybox:1.36 >/dev/null || fail "set image"
echo "\$ kubectl set image deployment/web web=busybox:1.36"
kubectl rollout status deployment/web --timeout=60s >"$T/rollout2.txt" 2>&1 || { cat "$T/rollout2.txt"; fail "second rollout"; }
echo "\$ kubectl rollout status deployment/web"
sed 's/^/  /' "$T/rollout2.txt"
# (the progress lines appear only when the rollout outlasts kubectl's first look; hollow
# nodes can finish first: controller_manager.sh checks those messages with a slower kubelet)
grep -q 'successfully rolled out' "$T/rollout2.txt" || fail "second rollout not finished"
show kubectl rollout history deployment/web
[ "$(kubectl rollout history deployment/web | grep -cE '^[0-9]+ ')" = 2 ] || fail "want 2 revisions"
rs1=$(kubectl get rs -o jsonpath='{range .items[?(@.metadata.annotations.deployment\.kubernetes\.io/revision=="1")]}{.metadata.name}{end}')
[ -n "$rs1" ] || fail "no revision-1 ReplicaSet"

echo
echo "### an undo"
show kubectl rollout undo deployment/web
show kubectl rollout status deployment/web --timeout=60s
kubectl rollout status deployment/web --timeout=5s 2>&1 | grep -q 'successfully rolled out' || fail "undo rollout"
show kubectl rollout history deployment/web
show kubectl get rs -o wide
[ "$(kubectl get rs "$rs1" -o jsonpath='{.spec.replicas}')" = 4 ] || fail "undo did not reuse $rs1"
[ "$(kubectl get rs "$rs1" -o jsonpath='{.metadata.annotations.deployment\.kubernetes\.io/revision}')" = 3 ] ||
	fail "$rs1 is not revision 3 after the undo"
[ "$(kubectl get deploy web -o jsonpath='{.spec.template.spec.containers[0].image}')" = busybox:1.35 ] ||
	fail "undo did not restore the image"
show kubectl get pods -o wide
n2pods=$(kubectl get pods -l app=web --field-selector spec.nodeName="$N2" -o name | wc -l)
[ "$n2pods" -ge 1 ] || fail "no web pod on $N2 to evict"

echo
echo "### node failure: kill -9 the kubelet of $N2 ($n2pods web pods there)"
t0=$(now_ms)
kill -9 "$(cat "$T/k2/pid")"
echo "\$ kill -9 <kubelet of $N2>"
wait_for 60 node_ready "$N2" Unknown || fail "$N2 never Ready=Unknown"
t1=$(now_ms)
show kubectl get nodes
show kubectl get node "$N2" -o jsonpath='{range .status.conditions[*]}{.type}={.status} {.reason}: {.message}{"\n"}{end}'
unreach() { kubectl get node "$N2" -o jsonpath='{.spec.taints[*].key}' | grep -q node.kubernetes.io/unreachable; }
wait_for 30 unreach || fail "$N2 not tainted unreachable"
show kubectl describe node "$N2"
# replacements: 4 available, all on node 1
all_on_n1() {
	[ "$(kubectl get deploy web -o jsonpath='{.status.availableReplicas}')" = 4 ] || return 1
	kubectl get pods -l app=web -o json >"$T/pods.json" 2>/dev/null || return 1
	$PY - "$T/pods.json" "$N1" <<'PYEOF'
import json, sys
pods = json.load(open(sys.argv[1]))["items"]
live = [p for p in pods if not p["metadata"].get("deletionTimestamp")]
ok = [p for p in live if p["spec"].get("nodeName") == sys.argv[2] and p.get("status", {}).get("phase") == "Running"
      and any(c["type"] == "Ready" and c["status"] == "True" for c in p["status"].get("conditions", []))]
sys.exit(0 if len(live) == 4 and len(ok) == 4 else 1)
PYEOF
}
wait_for 90 all_on_n1 || { kubectl get pods -o wide; fail "the evicted pods were not replaced on $N1"; }
t2=$(now_ms)
show kubectl get pods -o wide
[ -n "$(kubectl get events --field-selector reason=TaintManagerEviction -o name)" ] ||
	{ kubectl get events -A | tail -20; fail "no TaintManagerEviction event"; }
show kubectl get events --field-selector reason=TaintManagerEviction
echo "node failure: kill -> NotReady(Unknown) $((t1 - t0)) ms (grace 8 s); kill -> 4 pods Running on $N1 $((t2 - t0)) ms (toleration 5 s)"

echo
echo "### $N2 comes back"
start_kubelet 2
wait_for 60 node_ready "$N2" True || fail "$N2 not Ready again"
untainted() { ! kubectl get node "$N2" -o jsonpath='{.spec.taints[*].key}' | grep -q node.kubernetes.io/unreachable; }
wait_for 30 untainted || fail "unreachable taint not removed from $N2"
no_n2() { [ -z "$(kubectl get pods -l app=web --field-selector spec.nodeName="$N2" -o name)" ]; }
wait_for 60 no_n2 || { kubectl get pods -o wide; fail "evicted pods still on $N2"; }
show kubectl get nodes
show kubectl get pods -o wide
FAILED=0
echo "controller_manager_nodefail: PASS"
