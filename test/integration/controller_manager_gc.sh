# kube-controller-manager's garbage collector, namespace and ServiceAccount controllers
# against a real kube-apiserver (on etcd 3.4), driven by kubectl:
#   - kubectl delete deployment: its ReplicaSet and pods go (background propagation);
#   - --cascade=orphan: the Deployment goes, its ReplicaSet (now ownerless) and pods stay;
#   - --cascade=foreground: all three go, the Deployment last;
#   - a new namespace gets a `default` ServiceAccount; deleting it removes its contents
#     and the namespace itself;
#   - node lifecycle: a node whose Lease and status stop is Ready=Unknown after the
#     (shortened) grace period, tainted unreachable, its pods not Ready, a pod tolerating
#     the taint for 3 s evicted after it (one with the default 300 s is not); the node
#     coming back loses the taints;
#   - pod GC: deleting the node force-deletes the pods bound to it.
KUBEC_ROOT=${KUBEC_ROOT:-$(pwd)}
KUBEC_BUILD=${KUBEC_BUILD:-$KUBEC_ROOT/build}
. "$KUBEC_ROOT/test/integration/lib/apiserver_env.sh"

for tool in curl openssl /usr/bin/etcd /usr/bin/kubectl "$PY"; do
	command -v "$tool" >/dev/null 2>&1 || { echo "SKIP: $tool missing"; exit 77; }
done
for b in kube-apiserver kube-controller-manager; do
	[ -x "$KUBEC_BUILD/bin/$b" ] || { echo "FAIL: $b not built"; exit 1; }
done

FAILED=0
trap 'kc_cleanup' EXIT INT TERM
fail() {
	echo "FAIL: $*"
	FAILED=1
}
die() {
	echo "FAIL: $*"
	kc_dump_logs
	exit 1
}

kc_newdir
gen_certs "$T" || die "certificates"
start_etcd "$T" || die "etcd did not start"
start_apiserver "$T" "$ETCD_URL" || die "kube-apiserver did not start"
write_kubeconfig "$T" "$API"
export KUBECONFIG="$T/kubeconfig"
K="/usr/bin/kubectl --request-timeout=10s"

# wait_for SECONDS CMD...: until CMD succeeds
wait_for() {
	secs=$1; shift
	end=$(($(date +%s) + secs))
	while [ "$(date +%s)" -lt "$end" ]; do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.2
	done
	return 1
}
# count KIND [ARGS...]: objects listed
count() {
	$K get "$@" --no-headers 2>/dev/null | grep -c .
}
is_count() {
	want=$1; shift
	[ "$(count "$@")" = "$want" ]
}

CMPORT=$(free_port)
"$KUBEC_BUILD/bin/kube-controller-manager" --kubeconfig "$T/kubeconfig" \
	--secure-port "$CMPORT" --bind-address 127.0.0.1 --leader-elect=false --v=2 \
	--node-monitor-grace-period=4s --node-monitor-period=1s \
	> "$T/cm.log" 2>&1 &
KC_PIDS="$KC_PIDS $!"
KC_LOGS="$KC_LOGS $T/cm.log"
wait_url "https://127.0.0.1:$CMPORT/healthz" 20 -k || die "controller-manager /healthz not ready"
wait_for 20 grep -q "Caches are synced" "$T/cm.log" || die "controller-manager caches never synced"

# deploy NAME [NS]: a 2-replica Deployment; waits for its ReplicaSet and 2 pods
deploy() {
	ns=${2:-default}
	cat <<EOF | $K apply -n "$ns" -f - >/dev/null || fail "apply $1"
apiVersion: apps/v1
kind: Deployment
metadata:
  name: $1
spec:
  replicas: 2
  selector:
    matchLabels: {app: $1}
  template:
    metadata:
      labels: {app: $1}
    spec:
      containers:
      - name: c
        image: nginx:1.25
EOF
	wait_for 30 is_count 2 pods -n "$ns" -l "app=$1" || fail "$1: want 2 pods, have $(count pods -n "$ns" -l "app=$1")"
	wait_for 10 is_count 1 rs -n "$ns" -l "app=$1" || fail "$1: no ReplicaSet"
}

# ---- the `default` ServiceAccount ----
wait_for 20 $K get serviceaccount default -n default || fail "no default ServiceAccount in default"
$K create namespace team >/dev/null || fail "create namespace"
wait_for 20 $K get serviceaccount default -n team || fail "no default ServiceAccount in a new namespace"

# ---- background: kubectl delete deployment ----
deploy web
$K delete deployment web >/dev/null || fail "delete deployment web"
wait_for 30 is_count 0 rs -l app=web || fail "ReplicaSet of web still there: $($K get rs -l app=web 2>&1)"
wait_for 30 is_count 0 pods -l app=web || fail "pods of web still there: $($K get pods -l app=web 2>&1)"

# ---- orphan: --cascade=orphan keeps the ReplicaSet and pods ----
deploy keep
rs=$($K get rs -l app=keep -o jsonpath='{.items[0].metadata.name}')
$K delete deployment keep --cascade=orphan >/dev/null || fail "delete --cascade=orphan"
wait_for 30 sh -c "! $K get deployment keep" || fail "orphan-deleted Deployment still there: $($K get deployment keep -o yaml 2>&1)"
[ -n "$($K get rs "$rs" -o name 2>/dev/null)" ] || fail "orphaned ReplicaSet $rs was deleted"
refs=$($K get rs "$rs" -o jsonpath='{.metadata.ownerReferences}' 2>/dev/null)
[ -z "$refs" ] || fail "orphaned ReplicaSet still has owners: $refs"
[ "$(count pods -l app=keep)" = 2 ] || fail "orphaned pods: want 2, have $(count pods -l app=keep)"
owner=$($K get pods -l app=keep -o jsonpath='{.items[0].metadata.ownerReferences[0].name}')
[ "$owner" = "$rs" ] || fail "orphaned pods lost their ReplicaSet owner ($owner)"

# ---- foreground: --cascade=foreground removes the whole chain ----
deploy fg
$K delete deployment fg --cascade=foreground >/dev/null || fail "delete --cascade=foreground"
wait_for 30 sh -c "! $K get deployment fg" || fail "foreground-deleted Deployment still there: $($K get deployment fg -o yaml 2>&1)"
[ "$(count rs -l app=fg)" = 0 ] || fail "foreground: ReplicaSet left"
[ "$(count pods -l app=fg)" = 0 ] || fail "foreground: pods left"

# ---- namespace deletion ----
deploy app team
$K create configmap cfg -n team --from-literal=a=b >/dev/null || fail "create configmap"
$K delete namespace team --timeout=60s >/dev/null || fail "delete namespace"
wait_for 30 sh -c "! $K get namespace team" || fail "namespace team still there: $($K get namespace team -o yaml 2>&1)"
[ "$(count all -n team)" = 0 ] || fail "objects left in the deleted namespace: $($K get all -n team 2>&1)"
[ "$(count configmaps -n team)" = 0 ] || fail "configmaps left in the deleted namespace"
[ "$(count serviceaccounts -n team)" = 0 ] || fail "serviceaccounts left in the deleted namespace: $($K get sa -n team 2>&1)"

# ---- node lifecycle ----
heartbeat() {
	t=$(date -u +%Y-%m-%dT%H:%M:%SZ)
	$K patch node n1 --subresource=status --type=merge -p "{\"status\":{\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\",\"reason\":\"KubeletReady\",\"message\":\"kubelet is posting ready status\",\"lastHeartbeatTime\":\"$t\",\"lastTransitionTime\":\"$t\"}]}}" >/dev/null
}
cat <<EOF | $K apply -f - >/dev/null || fail "create node"
apiVersion: v1
kind: Node
metadata:
  name: n1
EOF
heartbeat || fail "node status"
cat <<EOF | $K apply -f - >/dev/null || fail "create lease"
apiVersion: coordination.k8s.io/v1
kind: Lease
metadata:
  name: n1
  namespace: kube-node-lease
spec:
  holderIdentity: n1
  leaseDurationSeconds: 40
  renewTime: "$(date -u +%Y-%m-%dT%H:%M:%S.000000Z)"
EOF
for p in short long; do
	tol=""
	[ $p = short ] && tol='tolerations: [{key: node.kubernetes.io/unreachable, operator: Exists, effect: NoExecute, tolerationSeconds: 3}]'
	cat <<EOF | $K apply -f - >/dev/null || fail "create pod $p"
apiVersion: v1
kind: Pod
metadata:
  name: $p
spec:
  nodeName: n1
  $tol
  containers: [{name: c, image: nginx}]
EOF
	$K patch pod $p --subresource=status --type=merge -p '{"status":{"phase":"Running","conditions":[{"type":"Ready","status":"True"}]}}' >/dev/null || fail "pod $p status"
done
ready_of() {
	$K get node n1 -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null
}
taints_of() {
	$K get node n1 -o jsonpath='{range .spec.taints[*]}{.key}:{.effect}{" "}{end}' 2>/dev/null
}
pod_ready() {
	$K get pod "$1" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null
}
is_eq() { [ "$1" = "$2" ]; }
node_unknown() { is_eq "$(ready_of)" Unknown; }
has_unreachable() { taints_of | grep -q node.kubernetes.io/unreachable; }
no_unreachable() { ! has_unreachable; }
pod_not_ready() { is_eq "$(pod_ready "$1")" False; }
evicted() {
	[ -n "$($K get pod "$1" -o jsonpath='{.metadata.deletionTimestamp}' 2>/dev/null)" ] ||
		! $K get pod "$1" >/dev/null 2>&1
}
pods_gone() { ! $K get pod long >/dev/null 2>&1 && ! $K get pod short >/dev/null 2>&1; }

[ "$(ready_of)" = True ] || fail "node not Ready at start"
# the node stops posting: Unknown after the 4 s grace period
wait_for 30 node_unknown || fail "node never became Ready=Unknown: $($K get node n1 -o yaml 2>&1)"
msg=$($K get node n1 -o jsonpath='{.status.conditions[?(@.type=="Ready")].message}')
[ "$msg" = "Kubelet stopped posting node status." ] || fail "Ready message: $msg"
wait_for 10 has_unreachable || fail "no unreachable taint: $(taints_of)"
taints_of | grep -q "node.kubernetes.io/unreachable:NoExecute" || fail "no NoExecute taint: $(taints_of)"
taints_of | grep -q "node.kubernetes.io/unreachable:NoSchedule" || fail "no NoSchedule taint: $(taints_of)"
$K get node n1 --no-headers | grep -q NotReady || fail "kubectl get node does not say NotReady"
wait_for 10 pod_not_ready long || fail "pod long not marked not Ready"
# the 3 s toleration runs out: evicted (a bound pod is deleted gracefully: deletionTimestamp)
wait_for 20 evicted short || fail "pod short (3 s toleration) never evicted"
evicted long && fail "pod long (300 s toleration) evicted early"
$K get events --field-selector reason=TaintManagerEviction -o jsonpath='{.items[*].message}' |
	grep -q "Marking for deletion Pod default/short" || fail "no TaintManagerEviction event"
# the node comes back
heartbeat
wait_for 20 no_unreachable || fail "taints not removed when the node came back: $(taints_of)"
[ "$(ready_of)" = True ] || fail "node Ready after coming back: $(ready_of)"

# ---- pod GC: the node goes, its pods are force-deleted ----
$K delete node n1 >/dev/null || fail "delete node"
wait_for 30 pods_gone || fail "pods of a deleted node not collected: $($K get pods -o wide 2>&1)"

grep -q "garbage collector: deleting" "$T/cm.log" || fail "the garbage collector never deleted anything"

if [ "$FAILED" != 0 ]; then
	kc_dump_logs
	exit 1
fi
echo "PASS: controller-manager garbage collector, namespace, serviceaccount"
exit 0
