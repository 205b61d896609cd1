# kube-controller-manager's third milestone against a real kube-apiserver (on etcd 3.4),
# driven by kubectl:
#   - Endpoints: a Service's Endpoints list a Ready pod in addresses and a not-Ready one
#     in notReadyAddresses with the named target port resolved; a pod turning Ready
#     moves; publishNotReadyAddresses publishes both; the `kubernetes` Endpoints stay the
#     apiserver's; deleting the Service deletes its Endpoints;
#   - node IPAM: a node already holding 10.244.0.0/24 when the controller starts keeps
#     it, new nodes get other /24s of --cluster-cidr (never the same twice);
#   - disruption: a PDB (minAvailable 1) over 2 Ready pods reports currentHealthy 2,
#     desiredHealthy 1, disruptionsAllowed 1, condition DisruptionAllowed True;
#   - TTL after finished: a finished Job with ttlSecondsAfterFinished 0 is deleted.
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

wait_for() {
	secs=$1; shift
	end=$(($(date +%s) + secs))
	while [ "$(date +%s)" -lt "$end" ]; do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.2
	done
	return 1
}
jp() { $K get "$1" "$2" -o jsonpath="$3" 2>/dev/null; }
is_eq() { [ "$1" = "$2" ]; }

# a node from "before a restart" already holding the first subnet
cat <<EOF | $K apply -f - >/dev/null || fail "create node old"
apiVersion: v1
kind: Node
metadata: {name: old}
spec: {podCIDR: 10.244.0.0/24, podCIDRs: [10.244.0.0/24]}
EOF

CMPORT=$(free_port)
"$KUBEC_BUILD/bin/kube-controller-manager" --kubeconfig "$T/kubeconfig" \
	--secure-port "$CMPORT" --bind-address 127.0.0.1 --leader-elect=false --v=2 \
	--allocate-node-cidrs --cluster-cidr=10.244.0.0/16 --node-cidr-mask-size=24 \
	--service-cluster-ip-range=10.96.0.0/12 \
	> "$T/cm.log" 2>&1 &
KC_PIDS="$KC_PIDS $!"
KC_LOGS="$KC_LOGS $T/cm.log"
wait_url "https://127.0.0.1:$CMPORT/healthz" 20 -k || die "controller-manager /healthz not ready"
wait_for 20 grep -q "Caches are synced" "$T/cm.log" || die "controller-manager caches never synced"

# ---- Endpoints ----
pod() { # NAME IP READY
	cat <<EOF | $K apply -f - >/dev/null || fail "create pod $1"
apiVersion: v1
kind: Pod
metadata: {name: $1, labels: {app: web}}
spec:
  nodeName: old
  containers: [{name: c, image: nginx, ports: [{name: web, containerPort: 8080}]}]
EOF
	$K patch pod "$1" --subresource=status --type=merge -p "{\"status\":{\"phase\":\"Running\",\"podIP\":\"$2\",\"podIPs\":[{\"ip\":\"$2\"}],\"conditions\":[{\"type\":\"Ready\",\"status\":\"$3\"}]}}" >/dev/null || fail "pod $1 status"
}
pod p1 10.0.0.1 True
pod p2 10.0.0.2 False
cat <<EOF | $K apply -f - >/dev/null || fail "create service"
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{name: http, port: 80, targetPort: web}]
EOF
ready_ips() { jp endpoints web '{.subsets[*].addresses[*].ip}'; }
notready_ips() { jp endpoints web '{.subsets[*].notReadyAddresses[*].ip}'; }
ep_ok() { is_eq "$(ready_ips)" 10.0.0.1 && is_eq "$(notready_ips)" 10.0.0.2; }
wait_for 20 ep_ok || fail "Endpoints web: ready [$(ready_ips)] notReady [$(notready_ips)]: $($K get endpoints web -o yaml 2>&1)"
port=$(jp endpoints web '{.subsets[0].ports[0].port}')
[ "$port" = 8080 ] || fail "named targetPort not resolved: $port"
$K get endpoints web --no-headers | grep -q "10.0.0.1:8080" || fail "kubectl get endpoints: $($K get endpoints web 2>&1)"
$K patch pod p2 --subresource=status --type=merge -p '{"status":{"conditions":[{"type":"Ready","status":"True"}]}}' >/dev/null || fail "ready p2"
both_ready() { is_eq "$(ready_ips)" "10.0.0.1 10.0.0.2" && is_eq "$(notready_ips)" ""; }
wait_for 20 both_ready || fail "p2 not moved to addresses: [$(ready_ips)] [$(notready_ips)]"
# publishNotReadyAddresses
pod p3 10.0.0.3 False
$K patch service web --type=merge -p '{"spec":{"publishNotReadyAddresses":true}}' >/dev/null || fail "patch service"
all3() { is_eq "$(ready_ips)" "10.0.0.1 10.0.0.2 10.0.0.3"; }
wait_for 20 all3 || fail "publishNotReadyAddresses: [$(ready_ips)] [$(notready_ips)]"
# the kubernetes Service's Endpoints are not rewritten by the controller
kip=$(jp endpoints kubernetes '{.subsets[0].addresses[0].ip}')
[ -n "$kip" ] || fail "the kubernetes Endpoints lost their address: $($K get endpoints kubernetes -o yaml 2>&1)"
$K delete service web >/dev/null || fail "delete service"
wait_for 20 sh -c "! $K get endpoints web" || fail "Endpoints of a deleted Service still there"
[ "$(jp endpoints kubernetes '{.subsets[0].addresses[0].ip}')" = "$kip" ] || fail "kubernetes Endpoints changed"

# ---- node IPAM ----
for n in a b; do
	cat <<EOF | $K apply -f - >/dev/null || fail "create node $n"
apiVersion: v1
kind: Node
metadata: {name: $n}
EOF
done
cidr() { jp node "$1" '{.spec.podCIDR}'; }
has_cidr() { [ -n "$(cidr "$1")" ]; }
wait_for 20 has_cidr a || fail "node a got no podCIDR"
wait_for 20 has_cidr b || fail "node b got no podCIDR"
ca=$(cidr a); cb=$(cidr b)
[ "$(cidr old)" = 10.244.0.0/24 ] || fail "node old lost its podCIDR: $(cidr old)"
case "$ca" in 10.244.*.0/24) ;; *) fail "node a podCIDR $ca not a /24 of 10.244.0.0/16" ;; esac
[ "$ca" != "$cb" ] && [ "$ca" != 10.244.0.0/24 ] && [ "$cb" != 10.244.0.0/24 ] ||
	fail "podCIDRs not distinct: old 10.244.0.0/24 a $ca b $cb"
[ "$(jp node a '{.spec.podCIDRs[0]}')" = "$ca" ] || fail "podCIDRs of a: $(jp node a '{.spec.podCIDRs}')"

# ---- disruption ----
cat <<EOF | $K apply -f - >/dev/null || fail "create pdb"
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: web-pdb}
spec:
  minAvailable: 1
  selector: {matchLabels: {app: web}}
EOF
$K delete pod p3 --grace-period=0 --force >/dev/null 2>&1
pdb_status() {
	jp pdb web-pdb '{.status.currentHealthy} {.status.desiredHealthy} {.status.disruptionsAllowed} {.status.expectedPods} {.status.conditions[?(@.type=="DisruptionAllowed")].status}'
}
pdb_ok() { is_eq "$(pdb_status)" "2 1 1 2 True"; }
wait_for 20 pdb_ok || fail "PDB status: [$(pdb_status)] $($K get pdb web-pdb -o yaml 2>&1)"
$K get pdb web-pdb --no-headers | awk '{print $4}' | grep -qx 1 || fail "kubectl get pdb ALLOWED DISRUPTIONS: $($K get pdb web-pdb 2>&1)"
$K patch pod p1 --subresource=status --type=merge -p '{"status":{"conditions":[{"type":"Ready","status":"False"}]}}' >/dev/null || fail "unready p1"
pdb_blocked() { is_eq "$(pdb_status)" "1 1 0 2 False"; }
wait_for 20 pdb_blocked || fail "PDB after a pod went unready: [$(pdb_status)]"

# ---- TTL after finished ----
cat <<EOF | $K apply -f - >/dev/null || fail "create job"
apiVersion: batch/v1
kind: Job
metadata: {name: done}
spec:
  ttlSecondsAfterFinished: 0
  template:
    spec:
      restartPolicy: Never
      containers: [{name: c, image: busybox}]
EOF
t=$(date -u +%Y-%m-%dT%H:%M:%SZ)
$K patch job done --subresource=status --type=merge -p "{\"status\":{\"startTime\":\"$t\",\"completionTime\":\"$t\",\"succeeded\":1,\"conditions\":[{\"type\":\"Complete\",\"status\":\"True\",\"lastTransitionTime\":\"$t\"}]}}" >/dev/null || fail "job status"
wait_for 20 sh -c "! $K get job done" || fail "finished Job with ttlSecondsAfterFinished 0 not deleted: $($K get job done -o yaml 2>&1)"

if [ "$FAILED" != 0 ]; then
	kc_dump_logs
	exit 1
fi
echo "PASS: controller-manager endpoints, nodeipam, disruption, ttl-after-finished"
exit 0
