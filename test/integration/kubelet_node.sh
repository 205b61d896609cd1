#!/bin/sh
# kubelet node registration: kube-store + kube-apiserver + a private containerd, then the
# kubelet with a KubeletConfiguration file, --node-labels, --register-with-taints and
# --node-ip registers its Node (capacity, allocatable, addresses, nodeInfo with the
# runtime version from the CRI, conditions with Ready=True KubeletReady once the runtime
# reports RuntimeReady and NetworkReady), keeps its Lease in kube-node-lease renewed, updates
# its status, re-registers after a restart without duplicating, and exits 0 on SIGTERM.
# Checked with the real kubectl.
set -u
: "${KUBEC_BUILD:?}"
KUBEC_ROOT=${KUBEC_ROOT:-$(pwd)}
. "$KUBEC_ROOT/test/integration/lib/apiserver_env.sh"
. "$KUBEC_ROOT/test/integration/kubelet/containerd.sh"
kc_ctrd_require
command -v kubectl >/dev/null 2>&1 || { echo "SKIP: kubectl missing"; exit 77; }
command -v openssl >/dev/null 2>&1 || { echo "SKIP: openssl missing"; exit 77; }
for b in kube-store kube-apiserver kubelet; do
	[ -x "$KUBEC_BUILD/bin/$b" ] || { echo "FAIL: $KUBEC_BUILD/bin/$b not built"; exit 1; }
done

kc_newdir
KPID=""
FAILED=1
on_exit() {
	if [ -n "$KPID" ]; then kill "$KPID" 2>/dev/null; wait "$KPID" 2>/dev/null; fi
	if [ "$FAILED" != 0 ]; then
		kc_dump_logs
		echo "===== kubelet log"; tail -n 40 "$T/kubelet.log" 2>/dev/null
		kc_ctrd_dump_logs
	fi
	kc_ctrd_cleanup
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
kc_ctrd_start || fail "containerd"

NODE="kubec-node-$(od -An -N3 -tx1 /dev/urandom | tr -d ' ')"
KPORT=$(free_port)
HPORT=$(free_port)
export KPORT
cat >"$T/kubelet-config.yaml" <<YAML
kind: KubeletConfiguration
apiVersion: kubelet.config.k8s.io/v1beta1
port: $KPORT
healthzPort: $HPORT
authentication:
  anonymous:
    enabled: false
  webhook:
    enabled: true
  x509:
    clientCAFile: "$T/ca.crt"
authorization:
  mode: Webhook
cgroupDriver: cgroupfs
containerRuntimeEndpoint: "$CTRD_ENDPOINT"
clusterDomain: cluster.local
clusterDNS: ["10.32.0.10"]
podCIDR: 10.200.7.0/24
maxPods: 42
nodeLeaseDurationSeconds: 4
nodeStatusUpdateFrequency: 2s
evictionHard:
  memory.available: 100Mi
YAML

start_kubelet() {
	"$KUBEC_BUILD/bin/kubelet" --config "$T/kubelet-config.yaml" --kubeconfig "$T/kubeconfig" \
		--hostname-override "$NODE" --node-ip 127.0.0.1 --root-dir "$T/kubelet-root" \
		--node-labels "kubec.io/role=test,zone=a" --register-with-taints "kubec.io/dedicated=test:NoSchedule" \
		--v 2 >>"$T/kubelet.log" 2>&1 &
	KPID=$!
}

# wait_for SECONDS CMD...: until CMD succeeds
wait_for() {
	end=$(($(date +%s) + $1)); shift
	while [ "$(date +%s)" -lt "$end" ]; do
		"$@" >/dev/null 2>&1 && return 0
		kill -0 "$KPID" 2>/dev/null || return 1
		sleep 0.2
	done
	return 1
}

start_kubelet
wait_for 30 kubectl get node "$NODE" || fail "node $NODE never registered"
kubectl get node "$NODE" -o json >"$T/node.json" || fail "kubectl get node"

$PY - "$T/node.json" "$NODE" <<'PYEOF' || exit 1
import json, sys
n = json.load(open(sys.argv[1])); name = sys.argv[2]
bad = []
def check(cond, what):
    if not cond: bad.append(what)
md, spec, st = n["metadata"], n.get("spec", {}), n.get("status", {})
lb = md.get("labels", {})
check(lb.get("kubernetes.io/hostname") == name, "hostname label %r" % lb)
check(lb.get("kubernetes.io/os") == "linux" and lb.get("kubernetes.io/arch") == "amd64", "os/arch labels")
check(lb.get("kubec.io/role") == "test" and lb.get("zone") == "a", "--node-labels %r" % lb)
check(spec.get("podCIDR") == "10.200.7.0/24", "podCIDR %r" % spec.get("podCIDR"))
check({"key": "kubec.io/dedicated", "value": "test", "effect": "NoSchedule"} in spec.get("taints", []), "taints %r" % spec.get("taints"))
cap, alloc = st.get("capacity", {}), st.get("allocatable", {})
check(cap.get("pods") == "42" and alloc.get("pods") == "42", "pods capacity %r" % cap)
check(int(cap.get("cpu", "0")) >= 1, "cpu %r" % cap.get("cpu"))
check(cap.get("memory", "").endswith("Ki") and alloc.get("memory", "") != cap.get("memory"), "memory cap/alloc %r %r" % (cap.get("memory"), alloc.get("memory")))
check("ephemeral-storage" in cap and "ephemeral-storage" in alloc, "ephemeral-storage")
mem_ki = int(cap["memory"][:-2]); alloc_ki = int(alloc["memory"][:-2])
check(mem_ki - alloc_ki == 100 * 1024, "allocatable memory = capacity - 100Mi (%d vs %d)" % (mem_ki, alloc_ki))
addrs = {a["type"]: a["address"] for a in st.get("addresses", [])}
check(addrs.get("InternalIP") == "127.0.0.1" and addrs.get("Hostname") == name, "addresses %r" % addrs)
ni = st.get("nodeInfo", {})
check(ni.get("kubeletVersion") == "v1.32.0", "kubeletVersion %r" % ni.get("kubeletVersion"))
check(ni.get("containerRuntimeVersion", "").startswith("containerd://1."), "containerRuntimeVersion %r" % ni.get("containerRuntimeVersion"))
check(ni.get("operatingSystem") == "linux" and ni.get("architecture") == "amd64" and ni.get("kernelVersion"), "nodeInfo %r" % ni)
conds = {c["type"]: c for c in st.get("conditions", [])}
for t, s in (("MemoryPressure", "False"), ("DiskPressure", "False"), ("PIDPressure", "False"), ("Ready", "True")):
    check(conds.get(t, {}).get("status") == s, "condition %s %r" % (t, conds.get(t)))
check(conds.get("Ready", {}).get("reason") == "KubeletReady", "Ready reason %r" % conds.get("Ready"))
check(conds.get("Ready", {}).get("message") == "kubelet is posting ready status", "Ready message")
import os
check(st.get("daemonEndpoints", {}).get("kubeletEndpoint", {}).get("Port") == int(os.environ["KPORT"]), "daemonEndpoints")
if bad:
    print("FAIL: node object:\n  " + "\n  ".join(bad)); sys.exit(1)
print("ok node object")
PYEOF

# the Lease: created, owned by the Node, renewed (duration 4 s -> every 1 s)
wait_for 15 kubectl -n kube-node-lease get lease "$NODE" || fail "no lease kube-node-lease/$NODE"
kubectl -n kube-node-lease get lease "$NODE" -o json >"$T/lease1.json"
[ "$(jq_get "$T/lease1.json" spec.holderIdentity)" = "$NODE" ] || fail "lease holderIdentity: $(cat "$T/lease1.json")"
[ "$(jq_get "$T/lease1.json" spec.leaseDurationSeconds)" = 4 ] || fail "leaseDurationSeconds"
[ "$(jq_get "$T/lease1.json" metadata.ownerReferences.0.kind)" = Node ] || fail "lease ownerReference"
[ "$(jq_get "$T/lease1.json" metadata.ownerReferences.0.uid)" = "$(jq_get "$T/node.json" metadata.uid)" ] || fail "lease owner uid"
R1=$(jq_get "$T/lease1.json" spec.renewTime)
renewed() { [ "$(kubectl -n kube-node-lease get lease "$NODE" -o jsonpath='{.spec.renewTime}')" != "$R1" ]; }
wait_for 10 renewed || fail "lease not renewed (renewTime stuck at $R1)"
echo "ok lease renewed"

# status updates: heartbeat time moves (nodeStatusUpdateFrequency 2s), transition time stays
H1=$(kubectl get node "$NODE" -o jsonpath='{.status.conditions[?(@.type=="Ready")].lastHeartbeatTime}')
T1=$(kubectl get node "$NODE" -o jsonpath='{.status.conditions[?(@.type=="Ready")].lastTransitionTime}')
beat() { [ "$(kubectl get node "$NODE" -o jsonpath='{.status.conditions[?(@.type=="Ready")].lastHeartbeatTime}')" != "$H1" ]; }
wait_for 15 beat || fail "node status heartbeat not updated"
T2=$(kubectl get node "$NODE" -o jsonpath='{.status.conditions[?(@.type=="Ready")].lastTransitionTime}')
[ "$T1" = "$T2" ] || fail "lastTransitionTime changed without a transition ($T1 -> $T2)"
echo "ok status updated"

# SIGTERM: clean exit; a restart re-registers the same Node (same uid), no error
kill "$KPID"; wait "$KPID"; krc=$?; KPID=""
[ "$krc" = 0 ] || fail "kubelet exit $krc on SIGTERM"
UID1=$(jq_get "$T/node.json" metadata.uid)
start_kubelet
wait_for 20 grep -q 'Successfully registered node' "$T/kubelet.log" || fail "no re-registration"
[ "$(grep -c 'Successfully registered node' "$T/kubelet.log")" -ge 2 ] || wait_for 20 sh -c "[ \$(grep -c 'Successfully registered node' '$T/kubelet.log') -ge 2 ]" || fail "restart did not register"
[ "$(kubectl get node "$NODE" -o jsonpath='{.metadata.uid}')" = "$UID1" ] || fail "node uid changed on restart"
[ "$(kubectl get nodes -o name | grep -c "node/$NODE")" = 1 ] || fail "duplicate nodes"
kill "$KPID"; wait "$KPID"; KPID=""
echo "ok restart"

# bad input is rejected with a clear message, not a crash
printf 'kind: KubeletConfiguration\napiVersion: kubelet.config.k8s.io/v1beta1\nmaxPods: lots\n' >"$T/bad.yaml"
"$KUBEC_BUILD/bin/kubelet" --config "$T/bad.yaml" --kubeconfig "$T/kubeconfig" >"$T/bad.log" 2>&1
[ $? = 1 ] && grep -q 'KubeletConfiguration.maxPods of type int32' "$T/bad.log" || fail "bad config: $(cat "$T/bad.log")"
"$KUBEC_BUILD/bin/kubelet" --config "$T/kubelet-config.yaml" --kubeconfig "$T/kubeconfig" \
	--hostname-override bad-node --root-dir "$T/bad-root" --register-with-taints "oops:Sometimes" >"$T/bad2.log" 2>&1 &
BPID=$!
end=$(($(date +%s) + 20))
while kill -0 "$BPID" 2>/dev/null && [ "$(date +%s)" -lt "$end" ]; do sleep 0.1; done
kill "$BPID" 2>/dev/null; wait "$BPID"; brc=$?
[ "$brc" = 1 ] && grep -q 'unsupported taint effect' "$T/bad2.log" || fail "bad taint (exit $brc): $(cat "$T/bad2.log")"
echo "ok bad input"

FAILED=0
echo "PASS kubelet_node"
