#!/bin/sh
# kubelet pod lifecycle against a real containerd: kube-store + kube-apiserver + a private
# containerd (test/integration/kubelet/containerd.sh) + the kubelet.  A busybox httpd pod
# with an httpGet readinessProbe, bound by spec.nodeName (no scheduler), becomes Running
# and Ready with a pod IP that answers from the host; the node turns Ready; a container
# that exits 1 goes CrashLoopBackOff with a growing restartCount; a pod with an image that
# does not exist goes ErrImagePull / ImagePullBackOff; `kubectl delete pod` returns once
# the kubelet has stopped and removed everything and confirmed with gracePeriodSeconds=0;
# at the end no sandbox or container is left in containerd.  Real kubectl throughout.
set -u
: "${KUBEC_BUILD:?}"
KUBEC_ROOT=${KUBEC_ROOT:-$(pwd)}
. "$KUBEC_ROOT/test/integration/lib/apiserver_env.sh"
. "$KUBEC_ROOT/test/integration/kubelet/containerd.sh"
kc_ctrd_require
for b in kubectl openssl curl umoci; do
	command -v "$b" >/dev/null 2>&1 || { echo "SKIP: $b missing"; exit 77; }
done
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
		echo "===== kubelet log"; tail -n 80 "$T/kubelet.log" 2>/dev/null
		kubectl get pods -o yaml 2>/dev/null | tail -n 120
		kc_ctrd_dump_logs
	fi
	kc_ctrd_cleanup
	kc_cleanup
}
trap on_exit EXIT
trap 'exit 130' INT TERM

fail() { echo "FAIL: $*"; exit 1; }

# wait_for SECONDS CMD...: until CMD succeeds (the kubelet must stay alive)
wait_for() {
	end=$(($(date +%s) + $1)); shift
	while [ "$(date +%s)" -lt "$end" ]; do
		"$@" >/dev/null 2>&1 && return 0
		kill -0 "$KPID" 2>/dev/null || { echo "kubelet died"; return 1; }
		sleep 0.3
	done
	return 1
}

sh "$KUBEC_ROOT/test/images/build.sh" "$KUBEC_BUILD/images" >/dev/null || fail "image build"
gen_certs "$T" || fail "certificates"
start_kube_store "$T" || fail "kube-store did not start"
start_apiserver "$T" "$ETCD_URL" || fail "kube-apiserver did not become ready"
write_kubeconfig "$T" "$API"
export KUBECONFIG="$T/kubeconfig"
kc_ctrd_start || fail "containerd"
kc_ctrd_import_images "$KUBEC_BUILD/images" || fail "ctr images import"

NODE="kubec-pods-$(od -An -N3 -tx1 /dev/urandom | tr -d ' ')"
cat >"$T/kubelet-config.yaml" <<YAML
kind: KubeletConfiguration
apiVersion: kubelet.config.k8s.io/v1beta1
port: $(free_port)
healthzPort: $(free_port)
cgroupDriver: cgroupfs
containerRuntimeEndpoint: "$CTRD_ENDPOINT"
nodeStatusUpdateFrequency: 2s
YAML
start_kubelet() {
	"$KUBEC_BUILD/bin/kubelet" --config "$T/kubelet-config.yaml" --kubeconfig "$T/kubeconfig" \
	--hostname-override "$NODE" --node-ip 127.0.0.1 --root-dir "$T/kubelet-root" \
	--pod-logs-dir "$T/pod-logs" --cgroup-root "$CTRD_CGROUP" --v 3 >>"$T/kubelet.log" 2>&1 &
	KPID=$!
}
start_kubelet

wait_for 30 kubectl get node "$NODE" || fail "node $NODE never registered"
node_ready() { [ "$(kubectl get node "$NODE" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}')" = True ]; }
wait_for 20 node_ready || fail "node not Ready: $(kubectl get node "$NODE" -o jsonpath='{.status.conditions[?(@.type=="Ready")]}')"
[ "$(kubectl get node "$NODE" -o jsonpath='{.status.conditions[?(@.type=="Ready")].reason}')" = KubeletReady ] || fail "Ready reason"
echo "ok node Ready (KubeletReady)"

# 1. a web pod with a readiness probe
cat >"$T/web.yaml" <<YAML
apiVersion: v1
kind: Pod
metadata:
  name: web
  labels: {app: web}
spec:
  nodeName: $NODE
  terminationGracePeriodSeconds: 2
  containers:
  - name: httpd
    image: busybox:1.35
    command: ["httpd", "-f", "-p", "\$(PORT)", "-h", "/etc"]
    env:
    - {name: PORT, value: "8080"}
    - {name: MY_POD, valueFrom: {fieldRef: {fieldPath: metadata.name}}}
    resources:
      requests: {cpu: 100m, memory: 32Mi}
      limits: {cpu: 200m, memory: 64Mi}
    readinessProbe:
      httpGet: {path: /passwd, port: 8080}
      periodSeconds: 1
YAML
kubectl apply -f "$T/web.yaml" >/dev/null || fail "create web"
web_ready() {
	[ "$(kubectl get pod web -o jsonpath='{.status.phase}')" = Running ] &&
		[ "$(kubectl get pod web -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}')" = True ] &&
		[ -n "$(kubectl get pod web -o jsonpath='{.status.podIP}')" ]
}
wait_for 60 web_ready || fail "web never Running+Ready: $(kubectl get pod web -o jsonpath='{.status}')"
kubectl get pod web -o json >"$T/web.json"
$PY - "$T/web.json" "$CTRD_SUBNET" <<'PYEOF' || exit 1
import json, sys
p = json.load(open(sys.argv[1])); subnet = sys.argv[2]
st = p["status"]; bad = []
def check(c, what):
    if not c: bad.append(what)
check(st.get("podIP", "").startswith(subnet + "."), "podIP %r not in %s.0/24" % (st.get("podIP"), subnet))
check(st.get("podIPs") == [{"ip": st.get("podIP")}], "podIPs %r" % st.get("podIPs"))
check(st.get("hostIP") == "127.0.0.1", "hostIP %r" % st.get("hostIP"))
check(st.get("qosClass") == "Burstable", "qosClass %r" % st.get("qosClass"))
check(bool(st.get("startTime")), "startTime")
conds = {c["type"]: c["status"] for c in st.get("conditions", [])}
for t in ("PodScheduled", "PodReadyToStartContainers", "Initialized", "ContainersReady", "Ready"):
    check(conds.get(t) == "True", "condition %s %r" % (t, conds.get(t)))
cs = st.get("containerStatuses", [{}])[0]
check(cs.get("name") == "httpd" and cs.get("ready") is True and cs.get("started") is True, "container status %r" % cs)
check("running" in cs.get("state", {}), "state %r" % cs.get("state"))
check(cs.get("containerID", "").startswith("containerd://"), "containerID %r" % cs.get("containerID"))
check(cs.get("imageID", "") != "" and cs.get("restartCount") == 0, "imageID/restartCount %r" % cs)
if bad:
    print("FAIL: web pod status:\n  " + "\n  ".join(bad)); sys.exit(1)
print("ok web pod status")
PYEOF
IP=$(jq_get "$T/web.json" status.podIP)
# the $(PORT) expansion made httpd listen on 8080; /etc/passwd from the image
curl -sf --max-time 5 "http://$IP:8080/passwd" | grep -q '^root:' || fail "curl http://$IP:8080/passwd"
echo "ok pod IP $IP serves from the host"
# the log directory layout and the cgroup parent
UID_WEB=$(jq_get "$T/web.json" metadata.uid)
[ -d "$T/pod-logs/default_web_$UID_WEB/httpd" ] || fail "no log dir $T/pod-logs/default_web_$UID_WEB/httpd"
[ -d "/sys/fs/cgroup/memory$CTRD_CGROUP/kubepods/burstable/pod$UID_WEB" ] || fail "pod cgroup not under kubepods/burstable"
grep -rqx 67108864 /sys/fs/cgroup/memory$CTRD_CGROUP/kubepods/burstable/pod$UID_WEB/*/memory.limit_in_bytes ||
	fail "memory limit 64Mi not applied"
# 100m -> 102 shares, 200m -> quota 20000 per 100000 period
grep -rqx 102 /sys/fs/cgroup/cpu$CTRD_CGROUP/kubepods/burstable/pod$UID_WEB/*/cpu.shares || fail "cpu.shares 102 not applied"
grep -rqx 20000 /sys/fs/cgroup/cpu$CTRD_CGROUP/kubepods/burstable/pod$UID_WEB/*/cpu.cfs_quota_us || fail "cfs quota 20000 not applied"
echo "ok log dir, cgroup parent, memory and cpu limits"

# a kubelet restart re-adopts the running pod: same container, no restart
CID=$(jq_get "$T/web.json" status.containerStatuses.0.containerID)
NCTR=$(ctr -a "$CTRD_SOCK" -n k8s.io containers ls -q | wc -l)
kill "$KPID"; wait "$KPID"; krc=$?; KPID=""
[ "$krc" = 0 ] || fail "kubelet exit $krc on SIGTERM"
NPATCH=$(grep -c 'Patch status for pod" pod="default/web"' "$T/kubelet.log")
start_kubelet
patched_again() { [ "$(grep -c 'Patch status for pod" pod="default/web"' "$T/kubelet.log")" -gt "$NPATCH" ]; }
wait_for 30 patched_again || fail "restarted kubelet never synced web"
grep -q 'Adopted pod sandbox from the runtime" pod="default/web"' "$T/kubelet.log" || fail "web not adopted"
[ "$(kubectl get pod web -o jsonpath='{.status.containerStatuses[0].containerID}')" = "$CID" ] || fail "container replaced on kubelet restart"
[ "$(kubectl get pod web -o jsonpath='{.status.containerStatuses[0].restartCount}')" = 0 ] || fail "restartCount moved on kubelet restart"
[ "$(ctr -a "$CTRD_SOCK" -n k8s.io containers ls -q | wc -l)" = "$NCTR" ] || fail "kubelet restart created containers"
wait_for 20 web_ready || fail "web not Ready after kubelet restart"
echo "ok kubelet restart re-adopts the pod"

# the sandbox dies (pause SIGKILLed): a new sandbox, the container started again in it
SID=$(grep 'Created pod sandbox" pod="default/web"' "$T/kubelet.log" | tail -n 1 | sed 's/.*podSandboxID="\([0-9a-f]*\)".*/\1/')
[ -n "$SID" ] || fail "no sandbox id for web in the kubelet log"
ctr -a "$CTRD_SOCK" -n k8s.io tasks kill -s SIGKILL "$SID" || fail "ctr tasks kill $SID"
web_restarted() { [ "$(kubectl get pod web -o jsonpath='{.status.containerStatuses[0].restartCount}')" = 1 ] && web_ready; }
wait_for 40 web_restarted || fail "web not restarted in a new sandbox: $(kubectl get pod web -o jsonpath='{.status}')"
grep -q 'No ready sandbox for pod can be found. Need to start a new one" pod="default/web"' "$T/kubelet.log" || fail "no sandbox-death log"
IP2=$(kubectl get pod web -o jsonpath='{.status.podIP}')
curl -sf --max-time 5 "http://$IP2:8080/passwd" | grep -q '^root:' || fail "curl new pod IP $IP2"
# containerd may refuse the removal until it has cleaned up after the dead shim: the
# kubelet retries on later syncs
old_gone() { ! ctr -a "$CTRD_SOCK" -n k8s.io containers ls -q | grep -q "$SID"; }
wait_for 30 old_gone || fail "dead sandbox $SID not removed"
echo "ok a dead sandbox is replaced (new IP $IP2)"

# exec probes: readiness failure removes Ready; liveness failure restarts the container
cat >"$T/probe.yaml" <<YAML
apiVersion: v1
kind: Pod
metadata: {name: probe}
spec:
  nodeName: $NODE
  terminationGracePeriodSeconds: 1
  containers:
  - name: c
    image: busybox:1.35
    command: ["sh", "-c", "touch /tmp/ready /tmp/alive; exec sleep 3600"]
    readinessProbe: {exec: {command: ["cat", "/tmp/ready"]}, periodSeconds: 1}
    livenessProbe: {exec: {command: ["cat", "/tmp/alive"]}, periodSeconds: 1, failureThreshold: 2}
YAML
kubectl apply -f "$T/probe.yaml" >/dev/null || fail "create probe"
probe_ready() { [ "$(kubectl get pod probe -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}')" = "$1" ]; }
wait_for 40 probe_ready True || fail "probe pod never Ready: $(kubectl get pod probe -o jsonpath='{.status}')"
PCID=$(kubectl get pod probe -o jsonpath='{.status.containerStatuses[0].containerID}')
PCID=${PCID#containerd://}
ctr -a "$CTRD_SOCK" -n k8s.io tasks exec --exec-id rmready "$PCID" rm /tmp/ready || fail "ctr exec rm /tmp/ready"
wait_for 20 probe_ready False || fail "readiness failure did not remove Ready"
[ "$(kubectl get pod probe -o jsonpath='{.status.conditions[?(@.type=="Ready")].reason}')" = ContainersNotReady ] || fail "Ready reason"
echo "ok readiness failure removes Ready"
ctr -a "$CTRD_SOCK" -n k8s.io tasks exec --exec-id rmalive "$PCID" rm /tmp/alive || fail "ctr exec rm /tmp/alive"
restarted() { [ "$(kubectl get pod probe -o jsonpath='{.status.containerStatuses[0].restartCount}')" -ge 1 ]; }
wait_for 40 restarted || fail "liveness failure did not restart: $(kubectl get pod probe -o jsonpath='{.status.containerStatuses}')"
grep -q 'Container failed liveness probe, will be restarted" pod="default/probe"' "$T/kubelet.log" || fail "no liveness log"
wait_for 30 probe_ready True || fail "restarted container not Ready again"
echo "ok liveness failure restarts the container"

# 2. a crashing container: CrashLoopBackOff and a growing restartCount
cat >"$T/crash.yaml" <<YAML
apiVersion: v1
kind: Pod
metadata: {name: crash}
spec:
  nodeName: $NODE
  containers:
  - {name: c, image: busybox:1.35, command: ["sh", "-c", "exit 1"]}
YAML
kubectl apply -f "$T/crash.yaml" >/dev/null || fail "create crash"
SEEN_CLB=0
crash_looping() {
	r=$(kubectl get pod crash -o jsonpath='{.status.containerStatuses[0].state.waiting.reason}')
	[ "$r" = CrashLoopBackOff ] && SEEN_CLB=1
	n=$(kubectl get pod crash -o jsonpath='{.status.containerStatuses[0].restartCount}')
	[ "$SEEN_CLB" = 1 ] && [ "${n:-0}" -ge 2 ]
}
end=$(($(date +%s) + 60))
while ! crash_looping; do
	[ "$(date +%s)" -lt "$end" ] || fail "no CrashLoopBackOff with restartCount>=2: $(kubectl get pod crash -o jsonpath='{.status.containerStatuses}')"
	sleep 0.3
done
kubectl get pod crash -o json >"$T/crash.json"
[ "$(jq_get "$T/crash.json" status.containerStatuses.0.lastState.terminated.exitCode)" = 1 ] || fail "lastState exitCode"
[ "$(jq_get "$T/crash.json" status.containerStatuses.0.lastState.terminated.reason)" = Error ] || fail "lastState reason"
[ "$(jq_get "$T/crash.json" status.phase)" = Running ] || fail "crash phase $(jq_get "$T/crash.json" status.phase)"
kubectl get pod crash | grep -q CrashLoopBackOff || wait_for 15 sh -c 'kubectl get pod crash | grep -q CrashLoopBackOff' ||
	fail "kubectl get pod does not show CrashLoopBackOff"
echo "ok crash loop ($(jq_get "$T/crash.json" status.containerStatuses.0.state.waiting.message))"

# restartPolicy Never: exit 0 -> Succeeded / Completed, exit 3 -> Failed / Error
for spec in "done:0" "failed:3"; do
	n=${spec%%:*}; code=${spec#*:}
	cat >"$T/$n.yaml" <<YAML
apiVersion: v1
kind: Pod
metadata: {name: $n}
spec:
  nodeName: $NODE
  restartPolicy: Never
  containers:
  - {name: c, image: busybox:1.35, command: ["sh", "-c", "exit $code"]}
YAML
	kubectl apply -f "$T/$n.yaml" >/dev/null || fail "create $n"
done
phase_is() { [ "$(kubectl get pod "$1" -o jsonpath='{.status.phase}')" = "$2" ]; }
wait_for 40 phase_is done Succeeded || fail "done: $(kubectl get pod done -o jsonpath='{.status}')"
wait_for 40 phase_is failed Failed || fail "failed: $(kubectl get pod failed -o jsonpath='{.status}')"
[ "$(kubectl get pod done -o jsonpath='{.status.containerStatuses[0].state.terminated.reason}')" = Completed ] || fail "done reason"
[ "$(kubectl get pod done -o jsonpath='{.status.conditions[?(@.type=="Ready")].reason}')" = PodCompleted ] || fail "done Ready reason"
[ "$(kubectl get pod failed -o jsonpath='{.status.containerStatuses[0].state.terminated.reason}')" = Error ] || fail "failed reason"
[ "$(kubectl get pod failed -o jsonpath='{.status.containerStatuses[0].state.terminated.exitCode}')" = 3 ] || fail "failed exitCode"
[ "$(kubectl get pod failed -o jsonpath='{.status.containerStatuses[0].restartCount}')" = 0 ] || fail "Never restarted"
sandbox_stopped() { grep -q 'Pod is terminal, stopped its sandbox" pod="default/failed" phase="Failed"' "$T/kubelet.log"; }
wait_for 10 sandbox_stopped || fail "terminal pod's sandbox not stopped"
echo "ok restartPolicy Never: Succeeded/Completed, Failed/Error exit 3"

# 3. an image that does not exist
cat >"$T/noimg.yaml" <<YAML
apiVersion: v1
kind: Pod
metadata: {name: noimg}
spec:
  nodeName: $NODE
  containers:
  - {name: c, image: "127.0.0.1:1/kubec/nope:1", command: ["true"]}
YAML
kubectl apply -f "$T/noimg.yaml" >/dev/null || fail "create noimg"
pull_err() {
	r=$(kubectl get pod noimg -o jsonpath='{.status.containerStatuses[0].state.waiting.reason}')
	[ "$r" = ErrImagePull ] || [ "$r" = ImagePullBackOff ]
}
wait_for 30 pull_err || fail "noimg: no ErrImagePull: $(kubectl get pod noimg -o jsonpath='{.status}')"
[ "$(kubectl get pod noimg -o jsonpath='{.status.phase}')" = Pending ] || fail "noimg phase"
echo "ok missing image -> $(kubectl get pod noimg -o jsonpath='{.status.containerStatuses[0].state.waiting.reason}')"

# a pod removed from the API behind the kubelet's back (force delete) is killed
cat >"$T/forced.yaml" <<YAML
apiVersion: v1
kind: Pod
metadata: {name: forced}
spec:
  nodeName: $NODE
  terminationGracePeriodSeconds: 1
  containers:
  - {name: c, image: busybox:1.35, command: ["sleep", "3600"]}
YAML
kubectl apply -f "$T/forced.yaml" >/dev/null || fail "create forced"
forced_running() { [ "$(kubectl get pod forced -o jsonpath='{.status.containerStatuses[0].started}')" = true ]; }
wait_for 40 forced_running || fail "forced never started"
FCID=$(kubectl get pod forced -o jsonpath='{.status.containerStatuses[0].containerID}')
FCID=${FCID#containerd://}
kubectl delete pod forced --grace-period=0 --force >/dev/null 2>&1 || fail "force delete"
# the log line comes after the last CRI call of the kill
forced_killed() { grep -q 'Killed pod no longer bound to this node" pod="default/forced"' "$T/kubelet.log"; }
wait_for 30 forced_killed || fail "no kill log for forced"
ctr -a "$CTRD_SOCK" -n k8s.io containers ls -q | grep -q "$FCID" && fail "force-deleted pod's container still there"
echo "ok a pod removed from the API is killed"

# events as upstream's kubelet records them
events_ok() {
	kubectl get events -o json >"$T/events.json" || return 1
	$PY - "$T/events.json" <<'PYEOF'
import json, sys
seen = {(e["involvedObject"].get("name"), e["reason"]) for e in json.load(open(sys.argv[1]))["items"]
        if e.get("source", {}).get("component") == "kubelet"}
want = {("web", "Pulled"), ("web", "Created"), ("web", "Started"), ("crash", "BackOff"),
        ("probe", "Unhealthy"), ("probe", "Killing"), ("noimg", "Failed")}
missing = want - seen
if missing:
    print("missing events: %r" % sorted(missing)); sys.exit(1)
PYEOF
}
wait_for 20 events_ok || { events_ok; fail "kubelet events"; }
echo "ok events (Pulled, Created, Started, BackOff, Unhealthy, Killing, Failed)"

# 4. deletion: kubectl delete returns once the kubelet confirmed; nothing is left
for p in web crash noimg probe done failed; do
	timeout 60 kubectl delete pod "$p" --wait=true >/dev/null || fail "kubectl delete pod $p did not return"
done
kubectl get pods -o name | grep -q . && fail "pods left: $(kubectl get pods -o name)"
confirmed() { grep -q 'Pod fully terminated and removed" pod="default/web"' "$T/kubelet.log"; }
wait_for 10 confirmed || fail "kubelet did not confirm web's deletion"
left() { ctr -a "$CTRD_SOCK" -n k8s.io containers ls -q; }
gone() { [ -z "$(left)" ]; }
wait_for 15 gone || fail "containers/sandboxes left in containerd: $(left)"
[ -d "/sys/fs/cgroup/memory$CTRD_CGROUP/kubepods/burstable/pod$UID_WEB" ] && fail "pod cgroup left"
[ -d "$T/pod-logs/default_web_$UID_WEB" ] && fail "pod log dir left"
echo "ok deleted; no sandbox, container, cgroup or log dir left"

# 5. the kubelet exits cleanly
kill "$KPID"; wait "$KPID"; krc=$?; KPID=""
[ "$krc" = 0 ] || fail "kubelet exit $krc on SIGTERM"
FAILED=0
echo "PASS kubelet_pods"
