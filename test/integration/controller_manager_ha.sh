# Two kube-controller-manager replicas against one kube-apiserver (on etcd 3.4): only the
# leader acts; kill -9 of the leader (found from the Lease's holderIdentity) hands the
# kube-system/kube-controller-manager Lease to the other replica, which then scales a
# Deployment from 3 to 5 pods exactly once: the 3 pods stay, 2 are added, one ReplicaSet,
# no pod created twice. Short leader-election timings (upstream's flags). On the way, the
# leader's root-ca-cert-publisher keeps kube-root-ca.crt in every namespace.
KUBEC_ROOT=${KUBEC_ROOT:-$(pwd)}
KUBEC_BUILD=${KUBEC_BUILD:-$KUBEC_ROOT/build}
. "$KUBEC_ROOT/test/integration/lib/apiserver_env.sh"

for tool in curl openssl /usr/bin/etcd /usr/bin/kubectl "$PY"; do
	command -v "$tool" >/dev/null 2>&1 || { echo "SKIP: $tool missing"; exit 77; }
done
for b in kube-apiserver kube-controller-manager; do
	[ -x "$KUBEC_BUILD/bin/$b" ] || { echo "FAIL: $b not built"; exit 1; }
done

trap 'kc_cleanup' EXIT INT TERM
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
LEASE=4

# wait_for SECONDS CMD...: until CMD succeeds (a deadline, not a timing assertion)
wait_for() {
	secs=$1; shift
	end=$(($(date +%s) + secs))
	while [ "$(date +%s)" -lt "$end" ]; do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.2
	done
	return 1
}

# start_cm NAME: sets PID_<NAME> and PORT_<NAME>
start_cm() {
	port=$(free_port)
	"$KUBEC_BUILD/bin/kube-controller-manager" --kubeconfig "$T/kubeconfig" \
		--secure-port "$port" --bind-address 127.0.0.1 \
		--leader-elect-lease-duration ${LEASE}s --leader-elect-renew-deadline 3s \
		--leader-elect-retry-period 1s --v=2 > "$T/$1.log" 2>&1 &
	eval "PID_$1=$!; PORT_$1=$port"
	KC_PIDS="$KC_PIDS $!"
	KC_LOGS="$KC_LOGS $T/$1.log"
}
identity() {
	sed -n 's/.*leader election identity: \(.*\)$/\1/p' "$T/$1.log" | head -1
}
holder() {
	$K -n kube-system get lease kube-controller-manager \
		-o jsonpath='{.spec.holderIdentity}' 2>/dev/null
}
holder_is() {
	[ "$(holder)" = "$1" ]
}
pods_are() {
	[ "$($K get pods -l app=web --no-headers 2>/dev/null | wc -l)" = "$1" ]
}
master_status() {
	curl -sk "https://127.0.0.1:$1/metrics" |
		sed -n 's/^leader_election_master_status{name="kube-controller-manager"} //p'
}

start_cm a
start_cm b
wait_url "https://127.0.0.1:$PORT_a/healthz" 20 -k || die "a: /healthz not ready"
wait_url "https://127.0.0.1:$PORT_b/healthz" 20 -k || die "b: /healthz not ready"
ID_a=$(identity a)
ID_b=$(identity b)
[ -n "$ID_a" ] && [ -n "$ID_b" ] && [ "$ID_a" != "$ID_b" ] || die "identities: '$ID_a' '$ID_b'"

# the leader is whoever the Lease names
wait_for 30 sh -c "h=\$($K -n kube-system get lease kube-controller-manager -o jsonpath='{.spec.holderIdentity}'); [ \"\$h\" = '$ID_a' ] || [ \"\$h\" = '$ID_b' ]" ||
	die "no replica holds the lease (holder '$(holder)')"
if holder_is "$ID_a"; then
	LEADER=a; FOLLOWER=b
else
	LEADER=b; FOLLOWER=a
fi
eval "LPID=\$PID_$LEADER; LPORT=\$PORT_$LEADER; FPORT=\$PORT_$FOLLOWER; FID=\$ID_$FOLLOWER"
echo "leader: $LEADER ($(holder)), follower: $FOLLOWER"
wait_for 20 grep -q "Caches are synced" "$T/$LEADER.log" || die "leader never started its controllers"

cat > "$T/web.yaml" <<'EOF'
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 3
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
wait_for 30 pods_are 3 || die "3 pods: $($K get pods 2>&1)"
# only the leader acts: the follower neither leads nor started controllers
grep -q "Started leading" "$T/$FOLLOWER.log" && die "the follower leads too"
grep -q "Caches are synced" "$T/$FOLLOWER.log" && die "the follower started its controllers"
[ "$(master_status "$LPORT")" = 1 ] || die "leader metric on the leader: $(master_status "$LPORT")"
[ "$(master_status "$FPORT")" = 0 ] || die "leader metric on the follower: $(master_status "$FPORT")"
$K get pods -l app=web -o jsonpath='{range .items[*]}{.metadata.name}{"\n"}{end}' | sort > "$T/pods3.txt"

# root-ca-cert-publisher (run by the leader): kube-root-ca.crt in every namespace with
# the kubeconfig's CA, recreated when deleted, restored when edited
rootca() {
	$K -n "$1" get configmap kube-root-ca.crt -o jsonpath='{.data.ca\.crt}' 2>/dev/null
}
rootca_ok() {
	[ "$(rootca "$1")" = "$(cat "$T/ca.crt")" ]
}
$K create namespace team >/dev/null || die "create namespace"
wait_for 20 rootca_ok default || die "kube-root-ca.crt in default: $($K -n default get cm -o yaml 2>&1 | head -30)"
wait_for 20 rootca_ok team || die "kube-root-ca.crt in a new namespace"
$K -n team delete configmap kube-root-ca.crt >/dev/null || die "delete kube-root-ca.crt"
wait_for 20 rootca_ok team || die "kube-root-ca.crt not recreated"
$K -n team patch configmap kube-root-ca.crt --type=merge -p '{"data":{"ca.crt":"tampered","x":"y"}}' >/dev/null ||
	die "edit kube-root-ca.crt"
wait_for 20 sh -c "[ \"\$($K -n team get configmap kube-root-ca.crt -o jsonpath='{.data.x}')\" = '' ]" &&
	wait_for 20 rootca_ok team || die "kube-root-ca.crt not restored: $($K -n team get cm kube-root-ca.crt -o yaml 2>&1)"
[ -n "$($K -n team get configmap kube-root-ca.crt -o jsonpath='{.metadata.annotations.kubernetes\.io/description}')" ] ||
	die "kube-root-ca.crt lacks its description"

# kill -9 the leader: no release of the lease, the follower must wait for it to expire
kill -9 "$LPID"
t0=$(date +%s.%N)
wait_for $((LEASE * 5)) holder_is "$FID" || die "the follower never took the lease (holder '$(holder)')"
t1=$(date +%s.%N)
echo "handover: the follower holds the lease $(echo "$t1 - $t0" | bc 2>/dev/null || echo "?") s after kill -9 (lease duration ${LEASE} s)"
wait_for 20 grep -q "Caches are synced" "$T/$FOLLOWER.log" || die "the new leader did not start its controllers"
[ "$(master_status "$FPORT")" = 1 ] || die "leader metric on the new leader: $(master_status "$FPORT")"

# the new leader still sees 3 pods: nothing created or deleted on take-over
[ "$($K get pods -l app=web --no-headers | wc -l)" = 3 ] || die "pods changed on take-over: $($K get pods 2>&1)"

$K scale deploy/web --replicas=5 >/dev/null || die "scale"
wait_for 30 pods_are 5 || die "5 pods after the handover: $($K get pods 2>&1)"
# settle: the Deployment reports 5 replicas for the current generation
wait_for 30 sh -c "[ \"\$($K get deploy web -o jsonpath='{.status.replicas}/{.status.updatedReplicas}/{.status.observedGeneration}')\" = \"5/5/\$($K get deploy web -o jsonpath='{.metadata.generation}')\" ]" ||
	die "deployment status: $($K get deploy web -o jsonpath='{.status}')"
[ "$($K get rs -l app=web --no-headers | wc -l)" = 1 ] || die "more than one ReplicaSet: $($K get rs 2>&1)"
[ "$($K get rs -l app=web -o jsonpath='{.items[0].status.replicas}')" = 5 ] || die "ReplicaSet status"
$K get pods -l app=web -o jsonpath='{range .items[*]}{.metadata.name}{"\n"}{end}' | sort > "$T/pods5.txt"
[ "$(wc -l < "$T/pods5.txt")" = 5 ] || die "want exactly 5 pods: $(cat "$T/pods5.txt")"
[ "$(comm -23 "$T/pods3.txt" "$T/pods5.txt" | wc -l)" = 0 ] || die "pods of the old leader were replaced: $(comm -23 "$T/pods3.txt" "$T/pods5.txt")"
[ "$($K get pods -l app=web -o jsonpath='{range .items[*]}{.metadata.deletionTimestamp}{end}')" = "" ] ||
	die "pods being deleted"
# what the new leader's ReplicaSet controller asked for (manageReplicas, -v 2)
created=$(sed -n 's/.*Too few replicas for ReplicaSet .*, creating \([0-9]*\)$/\1/p' "$T/$FOLLOWER.log" |
	awk '{s += $1} END {print s + 0}')
echo "the new leader created $created pods (want 2)"
[ "$created" = 2 ] || die "the new leader created $created pods, want 2"

echo "PASS: controller-manager HA"
exit 0
