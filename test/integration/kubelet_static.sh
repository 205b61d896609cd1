#!/bin/sh
# Static pods (issue 8) on the fake runtime (no containerd, nothing root-only):
#  1. standalone mode: a kubelet without --kubeconfig runs the manifests of its
#     staticPodPath (one YAML, one JSON; a hidden file and a broken manifest are
#     ignored, the broken one logged); its /pods lists them as upstream names them
#     (<name>-<node>) with the config.source/hash/seen annotations, Running;
#  2. API mode (kube-store + kube-apiserver): --pod-manifest-path; a mirror pod appears
#     for each static pod with annotation kubernetes.io/config.mirror = the config hash,
#     an ownerReference to the Node, and the kubelet's status (Running, Ready); a changed
#     manifest is a new pod (new hash, the old one killed, the mirror replaced); a deleted
#     mirror pod is created again; a removed manifest kills the pod and deletes its mirror.
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
		for f in "$T"/kubelet-*.log; do echo "===== $f"; tail -n 60 "$f" 2>/dev/null; done
	fi
	kc_cleanup
}
trap on_exit EXIT
trap 'exit 130' INT TERM

fail() { echo "FAIL: $*"; exit 1; }
wait_for() {
	end=$(($(date +%s) + $1)); shift
	while [ "$(date +%s)" -lt "$end" ]; do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.3
	done
	return 1
}

gen_certs "$T" || fail "certificates"
SUF=$(od -An -N3 -tx1 /dev/urandom | tr -d ' ')
NODE="static-$SUF"
MAN="$T/manifests"
mkdir -p "$MAN"
cat >"$MAN/web.yaml" <<'YAML'
apiVersion: v1
kind: Pod
metadata:
  name: web
  labels:
    app: web
spec:
  terminationGracePeriodSeconds: 2
  containers:
  - name: web
    image: busybox:1.35
    command: ["httpd", "-f", "-p", "8080"]
    readinessProbe:
      tcpSocket:
        port: 8080
      periodSeconds: 1
YAML
# JSON, tab-indented (not YAML): parsed as JSON
printf '{\n\t"apiVersion": "v1",\n\t"kind": "Pod",\n\t"metadata": {"name": "db", "namespace": "kube-system"},\n\t"spec": {"containers": [{"name": "db", "image": "busybox:1.35", "command": ["sleep", "3600"]}]}\n}\n' >"$MAN/db.json"
echo 'apiVersion: v1
kind: Pod
metadata: {name: hidden}
spec: {containers: [{name: c, image: busybox:1.35}]}' >"$MAN/.hidden.yaml"
echo 'apiVersion: v1
kind: Deployment
metadata: {name: notapod}' >"$MAN/broken.yaml"

# start_kubelet NAME [flags]: a kubelet on the fake runtime with free ports
start_kubelet() {
	name=$1; shift
	KPORT=$(free_port); HPORT=$(free_port)
	cat >"$T/$name.yaml" <<YAML
kind: KubeletConfiguration
apiVersion: kubelet.config.k8s.io/v1beta1
port: $KPORT
healthzPort: $HPORT
fileCheckFrequency: 1s
authentication:
  anonymous:
    enabled: false
  x509:
    clientCAFile: "$T/ca.crt"
authorization:
  mode: Webhook
cgroupDriver: cgroupfs
containerRuntimeEndpoint: "fake://"
podCIDR: 10.211.0.0/24
nodeStatusUpdateFrequency: 2s
YAML
	"$KUBEC_BUILD/bin/kubelet" --config "$T/$name.yaml" --hostname-override "$NODE" --node-ip 127.0.0.1 \
		--root-dir "$T/$name-root" --pod-logs-dir "$T/$name-logs" --cgroup-root "/kubec-static-$SUF" \
		--v 2 "$@" >"$T/kubelet-$name.log" 2>&1 &
	KPID=$!
	KC_PIDS="$KC_PIDS $KPID"
	wait_url "http://127.0.0.1:$HPORT/healthz" 30 || fail "kubelet $name healthz"
}
stop_kubelet() {
	kill "$KPID" 2>/dev/null
	wait "$KPID" 2>/dev/null
}
kpods() {
	curl -sk --cert "$T/admin.crt" --key "$T/admin.key" "https://127.0.0.1:$KPORT/pods" >"$T/pods.json"
}

# ---- 1. standalone mode ----
start_kubelet standalone --pod-manifest-path "$MAN"
sa_running() {
	kpods || return 1
	$PY - "$T/pods.json" "$NODE" <<'PYEOF'
import json, sys
pods = {p["metadata"]["name"]: p for p in json.load(open(sys.argv[1]))["items"]}
node = sys.argv[2]
for n in ("web-" + node, "db-" + node):
    p = pods.get(n)
    if not p or p.get("status", {}).get("phase") != "Running":
        sys.exit(1)
PYEOF
}
wait_for 30 sa_running || { cat "$T/pods.json"; fail "standalone: static pods not Running in /pods"; }
$PY - "$T/pods.json" "$NODE" <<'PYEOF' || fail "standalone: /pods content"
import json, re, sys
pods = {p["metadata"]["name"]: p for p in json.load(open(sys.argv[1]))["items"]}
node = sys.argv[2]
assert set(pods) == {"web-" + node, "db-" + node}, "pods %r (hidden / broken manifests must not run)" % sorted(pods)
web, db = pods["web-" + node], pods["db-" + node]
assert web["metadata"]["namespace"] == "default", web["metadata"]
assert db["metadata"]["namespace"] == "kube-system", db["metadata"]
for p in (web, db):
    md, a = p["metadata"], p["metadata"].get("annotations", {})
    assert a.get("kubernetes.io/config.source") == "file", a
    assert a.get("kubernetes.io/config.hash") == md["uid"], (a, md["uid"])
    assert re.fullmatch(r"[0-9a-f]{32}", md["uid"]), md["uid"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z", a.get("kubernetes.io/config.seen", "")), a
    assert p["spec"]["nodeName"] == node
    assert {"operator": "Exists", "effect": "NoExecute"} in p["spec"].get("tolerations", []), p["spec"]
    assert p["status"]["phase"] == "Running"
assert web["metadata"]["labels"] == {"app": "web"}
print("ok standalone: web-%s (default) and db-%s (kube-system) Running; uid = config.hash, source file, seen set" % (node, node))
PYEOF
grep -q 'broken.yaml.*kind must be Pod' "$T/kubelet-standalone.log" || fail "standalone: the broken manifest was not reported"
grep -q 'Standalone mode' "$T/kubelet-standalone.log" || fail "standalone: no standalone-mode line"
echo "ok standalone: the broken manifest logged, the hidden one ignored"
stop_kubelet

# ---- 2. API mode ----
start_kube_store "$T" || fail "kube-store did not start"
start_apiserver "$T" "$ETCD_URL" || fail "kube-apiserver did not become ready"
write_kubeconfig "$T" "$API"
export KUBECONFIG="$T/kubeconfig"
rm -f "$MAN/broken.yaml"
start_kubelet api --kubeconfig "$T/kubeconfig" --pod-manifest-path "$MAN"
wait_for 30 kubectl get node "$NODE" || fail "node never registered"
NODE_UID=$(kubectl get node "$NODE" -o jsonpath='{.metadata.uid}')

# mirror_ok NAME NS: the mirror pod matches the static pod in /pods and is Running+Ready
mirror_ok() {
	kubectl get pod "$1" -n "$2" -o json >"$T/mirror.json" 2>/dev/null || return 1
	kpods || return 1
	$PY - "$T/mirror.json" "$T/pods.json" "$NODE_UID" "$NODE" "${3:-}" <<'PYEOF'
import json, sys
m = json.load(open(sys.argv[1]))
static = [p for p in json.load(open(sys.argv[2]))["items"] if p["metadata"]["name"] == m["metadata"]["name"]]
node_uid, node, old_hash = sys.argv[3], sys.argv[4], sys.argv[5]
assert len(static) == 1, "static pods named %s in /pods: %d" % (m["metadata"]["name"], len(static))
s = static[0]
a = m["metadata"].get("annotations", {})
h = s["metadata"]["uid"]
assert a.get("kubernetes.io/config.mirror") == h, ("mirror annotation", a, h)
assert a.get("kubernetes.io/config.hash") == h and a.get("kubernetes.io/config.source") == "file", a
assert m["metadata"]["uid"] != h, "the mirror pod has its own uid"
assert not old_hash or h != old_hash, "still the old static pod"
refs = m["metadata"].get("ownerReferences", [])
assert refs == [{"apiVersion": "v1", "kind": "Node", "name": node, "uid": node_uid, "controller": True}], refs
st = m.get("status", {})
assert st.get("phase") == "Running", st
cond = {c["type"]: c["status"] for c in st.get("conditions", [])}
assert cond.get("Ready") == "True", cond
print(m["metadata"]["uid"], h)
PYEOF
}
wait_for 40 mirror_ok "web-$NODE" default || { mirror_ok "web-$NODE" default; cat "$T/mirror.json"; fail "no correct mirror pod for web"; }
wait_for 20 mirror_ok "db-$NODE" kube-system || { mirror_ok "db-$NODE" kube-system; fail "no correct mirror pod for db"; }
set -- $(mirror_ok "web-$NODE" default)
MIRROR_UID=$1; HASH=$2
echo "ok mirror pods: web-$NODE and db-$NODE, config.mirror = config.hash, owned by Node $NODE, status Running/Ready"
kubectl get pods -A -o wide

# a kubelet restart: the same static pod (uid) and mirror pod; the new kubelet posts its
# status to the mirror it finds (the fake runtime starts the containers again: a new
# containerID shows up in the mirror's status)
CID=$(kubectl get pod "web-$NODE" -o jsonpath='{.status.containerStatuses[0].containerID}')
stop_kubelet
"$KUBEC_BUILD/bin/kubelet" --config "$T/api.yaml" --hostname-override "$NODE" --node-ip 127.0.0.1 \
	--root-dir "$T/api-root" --pod-logs-dir "$T/api-logs" --cgroup-root "/kubec-static-$SUF" \
	--v 2 --kubeconfig "$T/kubeconfig" --pod-manifest-path "$MAN" >>"$T/kubelet-api.log" 2>&1 &
KPID=$!
KC_PIDS="$KC_PIDS $KPID"
wait_url "http://127.0.0.1:$HPORT/healthz" 30 || fail "restarted kubelet healthz"
new_status() {
	c=$(kubectl get pod "web-$NODE" -o jsonpath='{.status.containerStatuses[0].containerID}')
	[ -n "$c" ] && [ "$c" != "$CID" ] && mirror_ok "web-$NODE" default >/dev/null
}
wait_for 40 new_status || fail "after a kubelet restart the mirror pod's status was not updated"
set -- $(mirror_ok "web-$NODE" default)
[ "$1" = "$MIRROR_UID" ] && [ "$2" = "$HASH" ] || fail "after a restart: mirror $1 (was $MIRROR_UID), hash $2 (was $HASH)"
echo "ok kubelet restart: same static pod and mirror pod, status posted to it again"

# a deleted mirror pod is created again (a new uid, the same hash)
kubectl delete pod "web-$NODE" --wait=false >/dev/null || fail "delete mirror pod"
recreated() {
	set -- $(mirror_ok "web-$NODE" default) || return 1
	[ -n "${1:-}" ] && [ "$1" != "$MIRROR_UID" ] && [ "$2" = "$HASH" ]
}
wait_for 30 recreated || fail "the deleted mirror pod was not created again"
echo "ok a deleted mirror pod is created again"

# a changed manifest: a new static pod (new hash), the old one killed, the mirror replaced
sed -i 's/app: web/app: web2/' "$MAN/web.yaml"
changed() {
	mirror_ok "web-$NODE" default "$HASH" >/dev/null || return 1
	[ "$(kubectl get pod "web-$NODE" -o jsonpath='{.metadata.labels.app}')" = web2 ]
}
wait_for 40 changed || { mirror_ok "web-$NODE" default "$HASH"; fail "a changed manifest did not replace the pod"; }
grep -q '"Static pod killed: its manifest is gone or changed" pod="default/web-'"$NODE" "$T/kubelet-api.log" ||
	fail "the old static pod was not killed"
echo "ok a changed manifest restarts the pod (new hash, mirror replaced)"

# a removed manifest kills the pod and deletes its mirror
rm -f "$MAN/db.json"
gone() {
	! kubectl get pod "db-$NODE" -n kube-system >/dev/null 2>&1 || return 1
	kpods || return 1
	! grep -q "\"db-$NODE\"" "$T/pods.json"
}
wait_for 40 gone || fail "removed manifest: pod or mirror still there"
echo "ok a removed manifest kills the pod and deletes its mirror pod"
# the kubelet's pod directory of the dead pod is cleaned up
kubectl get pods -A
FAILED=0
echo "PASS kubelet_static"
