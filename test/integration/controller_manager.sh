# kube-controller-manager against a real kube-apiserver (on etcd 3.4), driven by kubectl:
# a 3-replica Deployment rolls out while a helper plays kubelet (pods Running and Ready),
# a new image with maxUnavailable 0 never drops available pods below 3, rollout history /
# undo reuse the old ReplicaSet, scale, /healthz and /metrics, and leader election: two
# replicas, only the leader acts, killing it hands over without duplicate pods.
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

# start_cm NAME: a controller-manager with short leader-election timings; sets CMPID, CMPORT
start_cm() {
	CMPORT=$(free_port)
	"$KUBEC_BUILD/bin/kube-controller-manager" --kubeconfig "$T/kubeconfig" \
		--secure-port "$CMPORT" --bind-address 127.0.0.1 \
		--leader-elect-lease-duration 4s --leader-elect-renew-deadline 3s \
		--leader-elect-retry-period 1s --cluster-cidr 10.244.0.0/16 --v=2 \
		> "$T/$1.log" 2>&1 &
	CMPID=$!
	KC_PIDS="$KC_PIDS $CMPID"
	KC_LOGS="$KC_LOGS $T/$1.log"
	wait_url "https://127.0.0.1:$CMPORT/healthz" 20 -k || die "$1: /healthz not ready"
}

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

# The kubelet stand-in: every pod not yet Running becomes Running and Ready.
cat > "$T/kubelet.sh" <<'EOF'
i=0
while :; do
	for p in $(/usr/bin/kubectl get pods -o jsonpath='{range .items[*]}{.metadata.name}{" "}{.status.phase}{"\n"}{end}' 2>/dev/null | awk '$2!="Running"{print $1}'); do
		now=$(date -u +%Y-%m-%dT%H:%M:%SZ)
		i=$((i + 1))
		ip="10.244.$((i / 250)).$((i % 250 + 1))"
		/usr/bin/kubectl patch pod "$p" --subresource=status --type=merge -p "{\"status\":{\"phase\":\"Running\",\"podIP\":\"$ip\",\"podIPs\":[{\"ip\":\"$ip\"}],\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\",\"lastTransitionTime\":\"$now\"}]}}" >/dev/null 2>&1
	done
	sleep 0.3
done
EOF

start_cm cm1
CM1=$CMPID
CM1PORT=$CMPORT
wait_for 20 grep -q "Started leading" "$T/cm1.log" || die "cm1 never led"
grep -q "have no effect without --allocate-node-cidrs" "$T/cm1.log" || fail "no warning for --cluster-cidr without --allocate-node-cidrs"
start_cm cm2
CM2=$CMPID
CM2PORT=$CMPORT

cat > "$T/web.yaml" <<'EOF'
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 3
  strategy:
    rollingUpdate: {maxSurge: 1, maxUnavailable: 0}
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: nginx
        image: nginx:1.25
EOF
$K apply -f "$T/web.yaml" >/dev/null || die "apply"
sh "$T/kubelet.sh" &
KC_PIDS="$KC_PIDS $!"

$K rollout status deploy/web --timeout=40s > "$T/rollout1.txt" 2>&1 ||
	{ cat "$T/rollout1.txt"; die "first rollout"; }
grep -q 'deployment "web" successfully rolled out' "$T/rollout1.txt" || fail "rollout status text"
n=$($K get pods --no-headers | wc -l)
[ "$n" = 3 ] || fail "want 3 pods, have $n"
rs1=$($K get rs -o jsonpath='{.items[0].metadata.name}')
hash=$($K get rs "$rs1" -o jsonpath='{.metadata.labels.pod-template-hash}')
[ "$rs1" = "web-$hash" ] || fail "ReplicaSet name $rs1 is not web-<pod-template-hash>"
owner=$($K get pods -o jsonpath='{.items[0].metadata.ownerReferences[0].kind}/{.items[0].metadata.ownerReferences[0].name}/{.items[0].metadata.ownerReferences[0].controller}')
[ "$owner" = "ReplicaSet/$rs1/true" ] || fail "pod ownerReference $owner"
$K get events -o jsonpath='{range .items[*]}{.reason}: {.message}{"\n"}{end}' > "$T/events.txt"
grep -q "^ScalingReplicaSet: Scaled up replica set $rs1 from 0 to 3" "$T/events.txt" || fail "no ScalingReplicaSet event"
grep -q "^SuccessfulCreate: Created pod: $rs1-" "$T/events.txt" || fail "no SuccessfulCreate event"
# only the leader acts
grep -q "Started leading" "$T/cm2.log" && fail "cm2 leads while cm1 holds the lease"

# A new image with maxUnavailable 0: watch availability during the rollout.
(while :; do $K get deploy web -o jsonpath='{.status.availableReplicas}{"\n"}' 2>/dev/null; sleep 0.2; done) > "$T/avail.txt" &
WATCH=$!
KC_PIDS="$KC_PIDS $WATCH"
$K set image deploy/web nginx=nginx:1.26 >/dev/null || fail "set image"
$K rollout status deploy/web --timeout=60s > "$T/rollout2.txt" 2>&1 || { cat "$T/rollout2.txt"; fail "second rollout"; }
kill "$WATCH" 2>/dev/null
grep -q "new replicas have been updated" "$T/rollout2.txt" || fail "no progress messages: $(cat "$T/rollout2.txt")"
echo "availability samples during the rollout: $(grep -c . "$T/avail.txt"), minimum $(sort -n "$T/avail.txt" | head -1)"
low=$(awk 'NF && $1 < 3' "$T/avail.txt" | head -1)
[ -z "$low" ] || fail "available replicas dropped to $low during a maxUnavailable=0 rollout"
[ "$($K get rs --no-headers | wc -l)" = 2 ] || fail "want 2 ReplicaSets after the rollout"
[ "$($K get rs "$rs1" -o jsonpath='{.spec.replicas}')" = 0 ] || fail "old ReplicaSet not scaled to 0"

$K rollout history deploy/web > "$T/history.txt" 2>&1 || fail "rollout history"
grep -q "^2 " "$T/history.txt" || fail "history lacks revision 2: $(cat "$T/history.txt")"
$K rollout undo deploy/web >/dev/null 2>&1 || fail "rollout undo"
$K rollout status deploy/web --timeout=60s >/dev/null 2>&1 || fail "undo rollout"
[ "$($K get rs --no-headers | wc -l)" = 2 ] || fail "undo made a new ReplicaSet instead of reusing $rs1"
[ "$($K get rs "$rs1" -o jsonpath='{.spec.replicas}')" = 3 ] || fail "undo did not scale $rs1 back"
[ "$($K get deploy web -o jsonpath='{.metadata.annotations.deployment\.kubernetes\.io/revision}')" = 3 ] ||
	fail "deployment revision after undo"

# pause: a template change waits; resume: it rolls
$K rollout pause deploy/web >/dev/null || fail "rollout pause"
$K set image deploy/web nginx=nginx:1.27 >/dev/null || fail "set image while paused"
progress_reason() {
	$K get deploy web -o jsonpath='{.status.conditions[?(@.type=="Progressing")].reason}' 2>/dev/null
}
end=$(($(date +%s) + 20))
while [ "$(progress_reason)" != DeploymentPaused ] && [ "$(date +%s)" -lt "$end" ]; do sleep 0.2; done
[ "$(progress_reason)" = DeploymentPaused ] || fail "paused condition: $(progress_reason)"
[ "$($K get rs --no-headers | wc -l)" = 2 ] || fail "a paused deployment rolled"
$K rollout resume deploy/web >/dev/null || fail "rollout resume"
$K rollout status deploy/web --timeout=60s >/dev/null 2>&1 || fail "rollout after resume"
[ "$($K get rs --no-headers | wc -l)" = 3 ] || fail "resume did not roll the new template"

$K scale deploy/web --replicas=5 >/dev/null || fail "scale"
wait_for 30 sh -c "[ \"\$($K get deploy web -o jsonpath='{.status.availableReplicas}')\" = 5 ]" ||
	fail "scale to 5: $($K get deploy web -o jsonpath='{.status}')"

# EndpointSlices of a Service selecting the pods
cat > "$T/svc.yaml" <<'EOF'
apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  selector: {app: web}
  ports:
  - {name: http, port: 80, targetPort: 8080}
EOF
$K apply -f "$T/svc.yaml" >/dev/null || fail "apply service"
SEL="-l kubernetes.io/service-name=web"
ready_eps() {
	$K get endpointslices $SEL \
		-o jsonpath='{range .items[*].endpoints[*]}{.conditions.ready}{"\n"}{end}' 2>/dev/null |
		grep -c true
}
end=$(($(date +%s) + 30))
while [ "$(ready_eps)" != 5 ] && [ "$(date +%s)" -lt "$end" ]; do sleep 0.2; done
[ "$(ready_eps)" = 5 ] || fail "EndpointSlice with 5 ready endpoints: $($K get endpointslices -o yaml 2>&1 | head -60)"
[ "$($K get endpointslices $SEL -o jsonpath='{.items[0].ports[0].port}')" = 8080 ] ||
	fail "EndpointSlice port"
[ "$($K get endpointslices $SEL -o jsonpath='{.items[0].metadata.ownerReferences[0].kind}')" = Service ] ||
	fail "EndpointSlice owner"
rv1=$($K get endpointslices $SEL -o jsonpath='{.items[0].metadata.resourceVersion}')
sleep 2 # a window for an update loop to show itself (not synchronisation)
rv2=$($K get endpointslices $SEL -o jsonpath='{.items[0].metadata.resourceVersion}')
[ "$rv1" = "$rv2" ] || fail "EndpointSlice keeps changing at rest ($rv1 -> $rv2)"
# the apiserver's own slice for the selector-less `kubernetes` Service is left alone
[ "$($K get endpointslices -l kubernetes.io/service-name=kubernetes -o name 2>/dev/null)" = endpointslice.discovery.k8s.io/kubernetes ] ||
	fail "the controller touched the kubernetes Service's slices: $($K get endpointslices -l kubernetes.io/service-name=kubernetes -o name 2>&1)"

# metrics of the leader
curl -sk "https://127.0.0.1:$CM1PORT/metrics" > "$T/metrics.txt"
grep -q 'workqueue_adds_total{name="deployment"} [1-9]' "$T/metrics.txt" || fail "deployment adds metric"
grep -q 'workqueue_work_duration_seconds_count{name="replicaset"} [1-9]' "$T/metrics.txt" || fail "replicaset latency metric"
grep -q 'leader_election_master_status{name="kube-controller-manager"} 1' "$T/metrics.txt" || fail "leader metric"

# Hand over: kill the leader; the other takes the lease within the lease duration and
# keeps the 5 pods without duplicates.
kill -9 "$CM1"
wait_for 20 grep -q "Started leading" "$T/cm2.log" || fail "cm2 did not take over"
$K scale deploy/web --replicas=6 >/dev/null || fail "scale after handover"
wait_for 30 sh -c "[ \"\$($K get deploy web -o jsonpath='{.status.availableReplicas}')\" = 6 ]" ||
	fail "scale to 6 after handover"
n=$($K get pods --no-headers | wc -l)
[ "$n" = 6 ] || fail "want 6 pods after handover, have $n"

if [ "$FAILED" != 0 ]; then
	kc_dump_logs
	exit 1
fi
echo "PASS: controller-manager"
exit 0
