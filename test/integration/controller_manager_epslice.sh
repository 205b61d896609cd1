# The EndpointSlice controller writes each slice once (issue #7 follow-up): Services
# without pods, updated several times right after creation so that syncs run while the
# controller's slice cache may still lag behind its own creates, get exactly one
# placeholder each -- a watch on EndpointSlices from before the first Service sees one
# ADDED name per Service and no DELETED. A pod then turns the placeholder into the data
# slice in place (same name, still no delete), as upstream's reconciler does.
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

kc_newdir
gen_certs "$T" || die "certificates"
start_etcd "$T" || die "etcd did not start"
start_apiserver "$T" "$ETCD_URL" || die "kube-apiserver did not start"
write_kubeconfig "$T" "$API"
export KUBECONFIG="$T/kubeconfig"
K="/usr/bin/kubectl --request-timeout=10s"
CURL="curl -s --cacert $T/ca.crt --cert $T/admin.crt --key $T/admin.key"

CMPORT=$(free_port)
"$KUBEC_BUILD/bin/kube-controller-manager" --kubeconfig "$T/kubeconfig" \
	--secure-port "$CMPORT" --bind-address 127.0.0.1 --leader-elect=false \
	--controllers endpointslice --v=4 > "$T/cm.log" 2>&1 &
KC_PIDS="$KC_PIDS $!"
KC_LOGS="$KC_LOGS $T/cm.log"
wait_url "https://127.0.0.1:$CMPORT/healthz" 20 -k || die "controller-manager: /healthz not ready"

# every EndpointSlice event from now on
RV=$($CURL "$API/apis/discovery.k8s.io/v1/endpointslices" |
	$PY -c 'import json,sys; print(json.load(sys.stdin)["metadata"]["resourceVersion"])') ||
	die "list endpointslices"
$CURL -N "$API/apis/discovery.k8s.io/v1/endpointslices?watch=1&resourceVersion=$RV" \
	> "$T/events.jsonl" 2>"$T/watch.err" &
KC_PIDS="$KC_PIDS $!"

N=12
# Each Service is created and then patched three times on the same connection, a few
# milliseconds apart: the Service events reach the controller while its first sync is
# writing the placeholder, so the next sync starts before the slice watch has shown it.
SVCS="$API/api/v1/namespaces/default/services"
i=1
while [ $i -le $N ]; do
	set -- -X POST -H 'Content-Type: application/json' \
		-d "{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"name\":\"s$i\"},\"spec\":{\"selector\":{\"app\":\"s$i\"},\"ports\":[{\"name\":\"http\",\"port\":80,\"targetPort\":8080}]}}" \
		-o /dev/null "$SVCS"
	for a in one two three; do
		set -- "$@" --next --cacert "$T/ca.crt" --cert "$T/admin.crt" --key "$T/admin.key" \
			-X PATCH -H 'Content-Type: application/merge-patch+json' \
			-d "{\"metadata\":{\"annotations\":{\"test/$a\":\"x\"}}}" -o /dev/null "$SVCS/s$i"
	done
	$CURL "$@" || die "create and patch service s$i"
	i=$((i + 1))
done

# analyse EVENTS: per service-name label, the ADDED names and the DELETED count
cat > "$T/count.py" <<'EOF'
import json, sys
added, deleted = {}, {}
for line in open(sys.argv[1]):
    line = line.strip()
    if not line:
        continue
    try:
        ev = json.loads(line)
    except ValueError:
        continue
    o = ev.get("object", {})
    svc = o.get("metadata", {}).get("labels", {}).get("kubernetes.io/service-name")
    if not svc:
        continue
    if ev.get("type") == "ADDED":
        added.setdefault(svc, set()).add(o["metadata"]["name"])
    elif ev.get("type") == "DELETED":
        deleted[svc] = deleted.get(svc, 0) + 1
mode = sys.argv[2]
if mode == "seen":  # every service in argv[3:] has an ADDED slice
    sys.exit(0 if all(s in added for s in sys.argv[3:]) else 1)
for s in sorted(set(added) | set(deleted)):
    print(s, len(added.get(s, ())), deleted.get(s, 0), " ".join(sorted(added.get(s, ()))))
EOF
all_svcs=$(i=1; while [ $i -le $N ]; do printf 's%d ' $i; i=$((i + 1)); done)
wait_for 30 $PY "$T/count.py" "$T/events.jsonl" seen $all_svcs ||
	die "not every Service got a slice: $($PY "$T/count.py" "$T/events.jsonl" list)"
# each Service settles at one slice
one_each() {
	for s in $all_svcs; do
		[ "$($K get endpointslices -l kubernetes.io/service-name=$s -o name | wc -l)" = 1 ] || return 1
	done
}
wait_for 30 one_each || die "slices per Service: $($K get endpointslices 2>&1)"
# a barrier: a Service created now gets its slice after anything the earlier syncs wrote
$K create service clusterip barrier --tcp=80:80 >/dev/null || die "create barrier"
wait_for 20 $PY "$T/count.py" "$T/events.jsonl" seen barrier || die "barrier slice never seen"

$PY "$T/count.py" "$T/events.jsonl" list > "$T/counts.txt"
cat "$T/counts.txt"
bad=$(awk '$1 != "kubernetes" && ($2 != 1 || $3 != 0)' "$T/counts.txt")
[ -z "$bad" ] || die "a Service got more than one placeholder (service added deleted names): $bad"
grep -c "EndpointSlice informer cache is out of date" "$T/cm.log" |
	sed 's/^/syncs refused for a stale cache: /'

# A pod for s1: the placeholder becomes its data slice in place.
ph=$($K get endpointslices -l kubernetes.io/service-name=s1 -o jsonpath='{.items[0].metadata.name}')
cat > "$T/pod.yaml" <<'EOF'
apiVersion: v1
kind: Pod
metadata: {name: p1, labels: {app: s1}}
spec:
  containers: [{name: c, image: nginx, ports: [{containerPort: 8080}]}]
EOF
$K apply -f "$T/pod.yaml" >/dev/null || die "create pod"
now=$(date -u +%Y-%m-%dT%H:%M:%SZ)
$K patch pod p1 --subresource=status --type=merge -p "{\"status\":{\"phase\":\"Running\",\"podIP\":\"10.244.0.9\",\"podIPs\":[{\"ip\":\"10.244.0.9\"}],\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\",\"lastTransitionTime\":\"$now\"}]}}" >/dev/null ||
	die "patch pod status"
has_ep() {
	[ "$($K get endpointslices -l kubernetes.io/service-name=s1 -o jsonpath='{.items[*].endpoints[*].addresses[0]}')" = 10.244.0.9 ]
}
wait_for 30 has_ep || die "s1's slice never got the pod: $($K get endpointslices -l kubernetes.io/service-name=s1 -o yaml 2>&1)"
names=$($K get endpointslices -l kubernetes.io/service-name=s1 -o jsonpath='{.items[*].metadata.name}')
[ "$names" = "$ph" ] || die "s1's slices are '$names', want the placeholder $ph reused"
$PY "$T/count.py" "$T/events.jsonl" list | awk '$1 == "s1" && ($2 != 1 || $3 != 0) { exit 1 }' ||
	die "s1's placeholder was deleted and recreated: $($PY "$T/count.py" "$T/events.jsonl" list)"
echo "PASS: one placeholder per Service ($N Services), reused for the first endpoint"
exit 0
