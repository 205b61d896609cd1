#!/bin/sh
# Hollow nodes: kube-store + kube-apiserver + three kubelets on the fake runtime
# (--container-runtime-endpoint=fake://, as kubemark's hollow kubelet), each with its own
# node name, ports, root and podCIDR.  No containerd and nothing root-only: volumes are
# plain directories, no cgroup is made, pod IPs are fake.  30 pods bound directly with
# spec.nodeName (10 per node; some with exec / httpGet / tcpSocket readiness probes, which
# the fake passes) all become Running and Ready with an IP from their node's podCIDR;
# each Node reports containerRuntimeVersion fakeRuntime://0.1.0; /metrics and
# /metrics/resource answer with the client certificate (running pods and containers,
# runtime operations, pod start durations, node usage) and refuse without one; deleting
# the pods removes them all (the kubelets confirm) and leaves no pod directory behind.
set -u
: "${KUBEC_BUILD:?}"
KUBEC_ROOT=${KUBEC_ROOT:-$(pwd)}
. "$KUBEC_ROOT/test/integration/lib/apiserver_env.sh"
command -v kubectl >/dev/null 2>&1 || { echo "SKIP: kubectl missing"; exit 77; }
command -v openssl >/dev/null 2>&1 || { echo "SKIP: openssl missing"; exit 77; }
command -v curl >/dev/null 2>&1 || { echo "SKIP: curl missing"; exit 77; }
for b in kube-store kube-apiserver kubelet; do
	[ -x "$KUBEC_BUILD/bin/$b" ] || { echo "FAIL: $KUBEC_BUILD/bin/$b not built"; exit 1; }
done

kc_newdir
FAILED=1
on_exit() {
	if [ "$FAILED" != 0 ]; then
		kc_dump_logs
		for i in 1 2 3; do echo "===== kubelet $i log"; tail -n 40 "$T/k$i/kubelet.log" 2>/dev/null; done
	fi
	kc_cleanup
}
trap on_exit EXIT
trap 'exit 130' INT TERM

fail() { echo "FAIL: $*"; exit 1; }

gen_certs "$T" || fail "certificates"
start_kube_store "$T" || fail "kube-store did not start"
start_apiserver "$T" "$ETCD_URL" || fail "kube-apiserver did not become ready"
write_kubeconfig "$T" "$API"
export KUBECONFIG="$T/kubeconfig"

SUF=$(od -An -N3 -tx1 /dev/urandom | tr -d ' ')
for i in 1 2 3; do
	d="$T/k$i"
	mkdir -p "$d"
	port=$(free_port); hport=$(free_port)
	echo "$port" >"$d/port"
	cat >"$d/config.yaml" <<YAML
kind: KubeletConfiguration
apiVersion: kubelet.config.k8s.io/v1beta1
port: $port
healthzPort: $hport
authentication:
  anonymous:
    enabled: false
  x509:
    clientCAFile: "$T/ca.crt"
authorization:
  mode: Webhook
cgroupDriver: cgroupfs
containerRuntimeEndpoint: "fake://"
podCIDR: 10.210.$i.0/24
nodeStatusUpdateFrequency: 2s
YAML
	"$KUBEC_BUILD/bin/kubelet" --config "$d/config.yaml" --kubeconfig "$T/kubeconfig" \
		--hostname-override "hollow-$SUF-$i" --node-ip 127.0.0.1 --root-dir "$d/root" \
		--pod-logs-dir "$d/logs" --cgroup-root "/kubec-hollow-$SUF-$i" --v 2 >"$d/kubelet.log" 2>&1 &
	KC_PIDS="$KC_PIDS $!"
	echo "$hport" >"$d/hport"
done
for i in 1 2 3; do
	wait_url "http://127.0.0.1:$(cat "$T/k$i/hport")/healthz" 30 || fail "kubelet $i healthz"
done

# wait_for SECONDS CMD...: until CMD succeeds
wait_for() {
	end=$(($(date +%s) + $1)); shift
	while [ "$(date +%s)" -lt "$end" ]; do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.3
	done
	return 1
}
for i in 1 2 3; do
	wait_for 30 kubectl get node "hollow-$SUF-$i" || fail "node hollow-$SUF-$i never registered"
done
kubectl get nodes -o json >"$T/nodes.json" || fail "get nodes"
$PY - "$T/nodes.json" "$SUF" <<'PYEOF' || exit 1
import json, sys
nodes = {n["metadata"]["name"]: n for n in json.load(open(sys.argv[1]))["items"]}
for i in (1, 2, 3):
    n = nodes.get("hollow-%s-%d" % (sys.argv[2], i))
    assert n, "node %d missing" % i
    rv = n["status"]["nodeInfo"].get("containerRuntimeVersion")
    assert rv == "fakeRuntime://0.1.0", "containerRuntimeVersion %r" % rv
PYEOF

# the default ServiceAccount (no controller-manager here); pods do not mount its token
kubectl create serviceaccount default >/dev/null 2>&1 || true

$PY - "$SUF" >"$T/pods.yaml" <<'PYEOF'
import sys, yaml
suf = sys.argv[1]
items = []
for k in range(30):
    c = {"name": "app", "image": "busybox:1.35", "command": ["sleep", "3600"]}
    if k % 5 == 1:
        c["readinessProbe"] = {"exec": {"command": ["true"]}, "periodSeconds": 1}
    elif k % 5 == 2:
        c["readinessProbe"] = {"httpGet": {"path": "/", "port": 8080}, "periodSeconds": 1}
    elif k % 5 == 3:
        c["readinessProbe"] = {"tcpSocket": {"port": 8080}, "periodSeconds": 1}
    ctrs = [c]
    if k % 3 == 0:
        ctrs.append({"name": "side", "image": "busybox:1.35", "command": ["sleep", "3600"]})
    items.append({"apiVersion": "v1", "kind": "Pod",
                  "metadata": {"name": "hollow-%02d" % k, "labels": {"app": "hollow"}},
                  "spec": {"nodeName": "hollow-%s-%d" % (suf, k % 3 + 1), "automountServiceAccountToken": False,
                           "terminationGracePeriodSeconds": 5, "containers": ctrs}})
print(yaml.safe_dump({"apiVersion": "v1", "kind": "List", "items": items}))
PYEOF
kubectl create -f "$T/pods.yaml" >/dev/null || fail "create pods"

all_ready() {
	kubectl get pods -l app=hollow -o json >"$T/pods.json" 2>/dev/null || return 1
	$PY - "$T/pods.json" "$SUF" <<'PYEOF'
import ipaddress, json, sys
pods = json.load(open(sys.argv[1]))["items"]
bad = []
if len(pods) != 30: bad.append("%d pods" % len(pods))
ips = set()
for p in pods:
    st, name = p.get("status", {}), p["metadata"]["name"]
    node = p["spec"]["nodeName"]
    ready = {c["type"]: c["status"] for c in st.get("conditions", [])}.get("Ready")
    if st.get("phase") != "Running" or ready != "True":
        bad.append("%s %s ready=%s" % (name, st.get("phase"), ready)); continue
    cs = st.get("containerStatuses", [])
    if len(cs) != len(p["spec"]["containers"]) or not all("running" in c.get("state", {}) and c.get("ready") for c in cs):
        bad.append("%s containers %r" % (name, cs)); continue
    i = int(node.rsplit("-", 1)[1])
    ip = st.get("podIP", "")
    if ipaddress.ip_address(ip) not in ipaddress.ip_network("10.210.%d.0/24" % i):
        bad.append("%s IP %s not in node %d's podCIDR" % (name, ip, i))
    if st.get("hostIP") != "127.0.0.1": bad.append("%s hostIP %r" % (name, st.get("hostIP")))
    ips.add(ip)
if not bad and len(ips) != 30: bad.append("duplicate pod IPs: %d distinct" % len(ips))
if bad:
    print("\n".join(bad[:5])); sys.exit(1)
PYEOF
}
wait_for 60 all_ready || { all_ready; fail "pods did not all become Running and Ready"; }
echo "ok: 30 pods Running and Ready on 3 hollow nodes"

# /metrics and /metrics/resource on kubelet 1 with the admin client certificate
P1=$(cat "$T/k1/port")
CURL="curl -sk --cert $T/admin.crt --key $T/admin.key"
$CURL "https://127.0.0.1:$P1/metrics" >"$T/metrics.txt" || fail "GET /metrics"
$CURL "https://127.0.0.1:$P1/metrics/resource" >"$T/resource.txt" || fail "GET /metrics/resource"
code=$(curl -sk -o /dev/null -w '%{http_code}' "https://127.0.0.1:$P1/metrics")
[ "$code" = 401 ] || fail "/metrics without a certificate answered $code, want 401"
$PY - "$T/metrics.txt" "$T/resource.txt" "hollow-$SUF-1" <<'PYEOF' || exit 1
import re, sys
m = open(sys.argv[1]).read(); r = open(sys.argv[2]).read(); node = sys.argv[3]
def val(text, series):
    for line in text.splitlines():
        if line.startswith(series + " "):
            return float(line.split()[1])
    return None
bad = []
def check(c, what):
    if not c: bad.append(what)
check(val(m, 'kubelet_node_name{node="%s"}' % node) == 1, "kubelet_node_name")
check(val(m, "kubelet_running_pods") == 10, "kubelet_running_pods %r" % val(m, "kubelet_running_pods"))
# pods 0,3,6,9,...: k%3==0 have two containers; node 1 holds k%3==0 -> 10 pods x 2
check(val(m, 'kubelet_running_containers{container_state="running"}') == 20,
      "running containers %r" % val(m, 'kubelet_running_containers{container_state="running"}'))
check(val(m, "kubelet_pod_start_duration_seconds_count") == 10, "pod start count %r" % val(m, "kubelet_pod_start_duration_seconds_count"))
check(val(m, 'kubelet_pod_start_duration_seconds_bucket{le="+Inf"}') == 10, "pod start +Inf bucket")
check((val(m, 'kubelet_runtime_operations_total{operation_type="run_podsandbox"}') or 0) >= 10, "run_podsandbox ops")
check((val(m, 'kubelet_runtime_operations_total{operation_type="start_container"}') or 0) >= 20, "start_container ops")
check((val(m, 'kubelet_pod_worker_duration_seconds_count{operation_type="create"}') or 0) == 10, "worker create count")
check("# TYPE kubelet_pod_start_duration_seconds histogram" in m, "histogram TYPE line")
check((val(m, "process_resident_memory_bytes") or 0) > 1e6, "process_resident_memory_bytes")
check((val(r, "node_cpu_usage_seconds_total") or 0) > 0, "node_cpu_usage_seconds_total")
check((val(r, "node_memory_working_set_bytes") or 0) > 0, "node_memory_working_set_bytes")
check("# TYPE pod_memory_working_set_bytes gauge" in r and "# TYPE container_cpu_usage_seconds_total counter" in r, "resource TYPE lines")
check(val(r, "scrape_error") in (0, 1), "scrape_error")
if bad:
    print("FAIL: metrics: " + "; ".join(bad)); sys.exit(1)
PYEOF
echo "ok: /metrics and /metrics/resource"

kubectl delete pods -l app=hollow --wait=false >/dev/null || fail "delete pods"
gone() { [ "$(kubectl get pods -l app=hollow -o name 2>/dev/null | wc -l)" = 0 ]; }
wait_for 60 gone || { kubectl get pods -l app=hollow; fail "pods not removed"; }
for i in 1 2 3; do
	left=$(ls "$T/k$i/root/pods" 2>/dev/null | wc -l)
	[ "$left" = 0 ] || fail "kubelet $i left $left pod directories"
	left=$(ls "$T/k$i/logs" 2>/dev/null | wc -l)
	[ "$left" = 0 ] || fail "kubelet $i left $left pod log directories"
done
$CURL "https://127.0.0.1:$P1/metrics" >"$T/metrics2.txt" || fail "GET /metrics after deletion"
grep -q '^kubelet_running_pods 0$' "$T/metrics2.txt" || fail "kubelet_running_pods after deletion: $(grep '^kubelet_running_pods' "$T/metrics2.txt")"
echo "ok: 30 pods deleted, nothing left behind"
FAILED=0
echo "PASS: kubelet_fake"
