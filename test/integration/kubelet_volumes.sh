#!/bin/sh
# kubelet volumes, env sources and init containers against a real containerd:
# kube-store + kube-apiserver (with service-account token signing) + a private containerd
# + the kubelet.  A pod whose init container writes into an emptyDir that the app
# container serves over HTTP; env from configMapKeyRef / secretKeyRef / resourceFieldRef /
# envFrom (prefix, an invalid key skipped with its event); configMap (items, mode),
# secret (tmpfs, defaultMode), memory emptyDir (tmpfs with size), downwardAPI, projected
# (serviceAccountToken with audience, configMap) and hostPath volumes; /etc/hosts;
# a configMap update reaching the mounted file through the ..data swap; the termination
# message; missing configMap / key -> CreateContainerConfigError with upstream's message;
# an unsupported volume type and a failed hostPath type check; init containers that fail
# (Init:Error / Failed under Never, Init:CrashLoopBackOff under Always); deletion leaves
# no mount and no pod directory.  Real kubectl throughout.
set -u
: "${KUBEC_BUILD:?}"
KUBEC_ROOT=${KUBEC_ROOT:-$(pwd)}
. "$KUBEC_ROOT/test/integration/lib/apiserver_env.sh"
. "$KUBEC_ROOT/test/integration/kubelet/containerd.sh"
. "$KUBEC_ROOT/test/integration/kubelet/kubelet_env.sh"
kl_require
kl_newdir
openssl genrsa -out "$T/sa.key" 2048 2>/dev/null || fail "sa key"
kl_start_control_plane --service-account-signing-key-file "$T/sa.key" \
	--service-account-key-file "$T/sa.key" --service-account-issuer https://kubernetes.default.svc
kl_write_config </dev/null
kl_start_kubelet kubec-vol

kubectl create serviceaccount default >/dev/null 2>&1
kubectl get serviceaccount default >/dev/null || fail "no default serviceaccount"
# What the controller-manager's root-ca-cert-publisher would publish: every pod gets the
# kube-api-access projected volume (ServiceAccount admission), which needs it.
kubectl create configmap kube-root-ca.crt --from-file=ca.crt="$T/ca.crt" >/dev/null || fail "kube-root-ca.crt"
kubectl create configmap cfg --from-literal=greeting=hello --from-literal=mode=fast \
	--from-literal=1bad=skipped >/dev/null || fail "create configmap"
kubectl create secret generic sec --from-literal=password=s3cret >/dev/null || fail "create secret"
mkdir -p "$T/hostfiles"

# 1. the full pod
cat >"$T/vols.yaml" <<YAML
apiVersion: v1
kind: Pod
metadata:
  name: vols
  labels: {app: vols, tier: "web"}
  annotations: {note: 'say "hi"'}
spec:
  nodeName: $NODE
  terminationGracePeriodSeconds: 1
  initContainers:
  - name: fill
    image: busybox:1.35
    command: ["sh", "-c", "echo from-init > /work/index.html"]
    volumeMounts: [{name: work, mountPath: /work}]
  containers:
  - name: web
    image: busybox:1.35
    command: ["httpd", "-f", "-p", "8080", "-h", "/work"]
    resources:
      limits: {memory: 64Mi, cpu: 250m}
    envFrom:
    - configMapRef: {name: cfg}
      prefix: CFG_
    - secretRef: {name: nope, optional: true}
    - configMapRef: {name: cfg}
    env:
    - {name: GREETING, valueFrom: {configMapKeyRef: {name: cfg, key: greeting}}}
    - {name: PASS, valueFrom: {secretKeyRef: {name: sec, key: password}}}
    - {name: OPT, valueFrom: {configMapKeyRef: {name: cfg, key: missing, optional: true}}}
    - {name: MEM_MI, valueFrom: {resourceFieldRef: {resource: limits.memory, divisor: 1Mi}}}
    - {name: CPU_M, valueFrom: {resourceFieldRef: {resource: limits.cpu, divisor: 1m}}}
    - {name: BOTH, value: "\$(GREETING)-\$(CFG_mode)"}
    volumeMounts:
    - {name: work, mountPath: /work}
    - {name: cfg, mountPath: /etc/cfg}
    - {name: cfg, mountPath: /etc/mode-file, subPath: mode}
    - {name: sec, mountPath: /etc/sec}
    - {name: mem, mountPath: /mem}
    - {name: info, mountPath: /etc/info}
    - {name: tok, mountPath: /var/run/tok}
    - {name: host, mountPath: /host}
  volumes:
  - {name: work, emptyDir: {}}
  - name: cfg
    configMap: {name: cfg, items: [{key: greeting, path: conf/greet.txt, mode: 0400}, {key: mode, path: mode}]}
  - {name: sec, secret: {secretName: sec, defaultMode: 0440}}
  - {name: mem, emptyDir: {medium: Memory, sizeLimit: 16Mi}}
  - name: info
    downwardAPI:
      items:
      - {path: labels, fieldRef: {fieldPath: metadata.labels}}
      - {path: annotations, fieldRef: {fieldPath: metadata.annotations}}
      - {path: name, fieldRef: {fieldPath: metadata.name}}
      - {path: mem, resourceFieldRef: {containerName: web, resource: limits.memory, divisor: 1Mi}}
  - name: tok
    projected:
      sources:
      - serviceAccountToken: {audience: kubec-test, expirationSeconds: 3600, path: token}
      - configMap: {name: cfg, items: [{key: mode, path: cfg-mode}]}
  - {name: host, hostPath: {path: $T/hostfiles/made, type: DirectoryOrCreate}}
YAML
kubectl create -f "$T/vols.yaml" >/dev/null || fail "create vols"
vols_ready() {
	[ "$(kubectl get pod vols -o jsonpath='{.status.phase}')" = Running ] &&
		[ "$(kubectl get pod vols -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}')" = True ]
}
wait_for 60 vols_ready || fail "vols never Running+Ready: $(kubectl get pod vols -o jsonpath='{.status}')"
kubectl get pod vols -o json >"$T/vols.json"
$PY - "$T/vols.json" <<'PYEOF' || exit 1
import json, sys
st = json.load(open(sys.argv[1]))["status"]; bad = []
ics = st.get("initContainerStatuses", [])
if len(ics) != 1 or ics[0].get("name") != "fill":
    bad.append("initContainerStatuses %r" % ics)
else:
    t = ics[0].get("state", {}).get("terminated", {})
    if t.get("reason") != "Completed" or t.get("exitCode") != 0 or ics[0].get("ready") is not True:
        bad.append("init status %r" % ics[0])
conds = {c["type"]: c["status"] for c in st.get("conditions", [])}
if conds.get("Initialized") != "True":
    bad.append("Initialized %r" % conds.get("Initialized"))
if bad:
    print("FAIL: vols status:\n  " + "\n  ".join(bad)); sys.exit(1)
PYEOF
IP=$(jq_get "$T/vols.json" status.podIP)
PUID=$(jq_get "$T/vols.json" metadata.uid)
CID=$(jq_get "$T/vols.json" status.containerStatuses.0.containerID)
CID=${CID#containerd://}
[ "$(curl -sf --max-time 5 "http://$IP:8080/index.html")" = from-init ] || fail "the app does not serve what the init container wrote"
echo "ok init container wrote into the emptyDir the app serves"

N=0
cexec() {
	N=$((N + 1))
	ctr -a "$CTRD_SOCK" -n k8s.io tasks exec --exec-id "t$N" "$CID" "$@"
}
cexec env >"$T/env.txt" || fail "exec env"
for kv in GREETING=hello PASS=s3cret MEM_MI=64 CPU_M=250 CFG_greeting=hello CFG_mode=fast CFG_1bad=skipped \
	mode=fast BOTH=hello-fast; do
	grep -qx "$kv" "$T/env.txt" || fail "env $kv missing: $(cat "$T/env.txt")"
done
KIP=$(kubectl get service kubernetes -o jsonpath='{.spec.clusterIP}')
[ -n "$KIP" ] || fail "no kubernetes service"
for kv in "KUBERNETES_SERVICE_HOST=$KIP" KUBERNETES_SERVICE_PORT=443 "KUBERNETES_PORT=tcp://$KIP:443" \
	KUBERNETES_PORT_443_TCP_PROTO=tcp; do
	grep -qx "$kv" "$T/env.txt" || fail "service env $kv missing: $(grep KUBERNETES "$T/env.txt")"
done
grep -q '^OPT=' "$T/env.txt" && fail "optional missing key was set"
grep -q '^1bad' "$T/env.txt" && fail "invalid env name from envFrom was set"
echo "ok env (service links, configMapKeyRef, secretKeyRef, resourceFieldRef, envFrom prefix, optional)"
inv_event() {
	kubectl get events -o json | $PY -c '
import json, sys
for e in json.load(sys.stdin)["items"]:
    if e["reason"] == "InvalidEnvironmentVariableNames" and e["involvedObject"]["name"] == "vols":
        want = "Keys [1bad] from the EnvFrom configMap default/cfg were skipped since they are considered invalid environment variable names."
        sys.exit(0 if e["message"] == want else 1)
sys.exit(1)'
}
wait_for 15 inv_event || fail "no InvalidEnvironmentVariableNames event"
echo "ok InvalidEnvironmentVariableNames event"

[ "$(cexec cat /etc/cfg/conf/greet.txt)" = hello ] || fail "configMap item"
[ "$(cexec cat /etc/cfg/mode)" = fast ] || fail "configMap item mode"
[ "$(cexec cat /etc/mode-file)" = fast ] || fail "configMap subPath"
[ "$(cexec stat -L -c %a /etc/cfg/conf/greet.txt)" = 400 ] || fail "item mode 0400"
[ "$(cexec cat /etc/sec/password)" = s3cret ] || fail "secret file"
[ "$(cexec stat -L -c %a /etc/sec/password)" = 440 ] || fail "secret defaultMode 0440"
cexec sh -c 'echo x > /etc/cfg/new' 2>/dev/null && fail "configMap volume writable"
VDIR="$ROOT/pods/$PUID/volumes"
[ -L "$VDIR/kubernetes.io~configmap/cfg/..data" ] || fail "no ..data symlink in the configMap volume"
ls -a "$VDIR/kubernetes.io~configmap/cfg" | grep -q '^\.\.20[0-9][0-9]_' || fail "no timestamped payload dir"
grep -q " $VDIR/kubernetes.io~secret/sec tmpfs " /proc/self/mounts || fail "secret volume is not a tmpfs"
grep -q " $VDIR/kubernetes.io~empty-dir/mem tmpfs .*size=16384k" /proc/self/mounts || fail "memory emptyDir not a 16Mi tmpfs"
grep -q " $VDIR/kubernetes.io~projected/tok tmpfs " /proc/self/mounts || fail "projected volume not a tmpfs"
[ -d "$VDIR/kubernetes.io~empty-dir/work" ] || fail "emptyDir not at upstream's path"
echo "ok configMap (items, mode, subPath, read-only), secret on tmpfs, memory emptyDir, layout"

[ "$(cexec cat /etc/info/name)" = vols ] || fail "downwardAPI name"
[ "$(cexec cat /etc/info/labels)" = "$(printf 'app="vols"\ntier="web"')" ] || fail "downwardAPI labels: $(cexec cat /etc/info/labels)"
[ "$(cexec cat /etc/info/annotations)" = 'note="say \"hi\""' ] || fail "downwardAPI annotations: $(cexec cat /etc/info/annotations)"
[ "$(cexec cat /etc/info/mem)" = 64 ] || fail "downwardAPI resourceFieldRef"
echo "ok downwardAPI"

cexec cat /var/run/tok/token >"$T/token" || fail "read token"
[ "$(cexec cat /var/run/tok/cfg-mode)" = fast ] || fail "projected configMap"
$PY - "$T/token" "$PUID" <<'PYEOF' || fail "token claims"
import base64, json, sys
tok = open(sys.argv[1]).read().strip()
p = tok.split(".")[1]; p += "=" * (-len(p) % 4)
c = json.loads(base64.urlsafe_b64decode(p))
aud = c.get("aud"); aud = aud if isinstance(aud, list) else [aud]
assert "kubec-test" in aud, c
assert c.get("sub") == "system:serviceaccount:default:default", c
assert c["exp"] - c["iat"] >= 3600 - 5, c
PYEOF
# the TokenRequest named the pod as its bound object (the apiserver echoes boundObjectRef)
grep -q '"Fetched service account token" pod="default/vols" serviceAccount="default" audience="kubec-test" boundObject="vols" lifetime=3[56][0-9][0-9]s' "$T/kubelet.log" ||
	fail "no bound TokenRequest in the kubelet log"
echo "ok projected serviceAccountToken (audience, bound to the pod)"

cexec sh -c 'echo from-container > /host/f' || fail "write hostPath"
[ "$(cat "$T/hostfiles/made/f")" = from-container ] || fail "hostPath DirectoryOrCreate"
cexec cat /etc/hosts >"$T/hosts" || fail "read /etc/hosts"
grep -q '^# Kubernetes-managed hosts file' "$T/hosts" || fail "/etc/hosts not managed: $(cat "$T/hosts")"
grep -qP "^$IP\tvols$" "$T/hosts" || fail "/etc/hosts has no '$IP vols' line"
cexec sh -c 'echo tmp > /mem/x && echo ok > /work/y' || fail "emptyDirs writable"
echo "ok hostPath, /etc/hosts, writable emptyDirs"

# a configMap update reaches the mounted file (atomic ..data swap)
kubectl patch configmap cfg --type merge -p '{"data":{"mode":"slow"}}' >/dev/null || fail "patch configmap"
updated() { [ "$(cexec cat /etc/cfg/mode)" = slow ]; }
wait_for 40 updated || fail "configMap update did not reach the volume"
[ "$(cexec cat /etc/cfg/conf/greet.txt)" = hello ] || fail "other key lost in the update"
echo "ok configMap update propagated"

# 2. termination message, missing configMap / key, unsupported volume, hostPath check
cat >"$T/bad.yaml" <<YAML
apiVersion: v1
kind: Pod
metadata: {name: msg}
spec:
  nodeName: $NODE
  restartPolicy: Never
  containers:
  - name: c
    image: busybox:1.35
    command: ["sh", "-c", "cat /s/password > /dev/null && echo bye > /dev/termination-log; exit 4"]
    volumeMounts: [{name: s, mountPath: /s}]
  volumes:
  - {name: s, secret: {secretName: sec}}
---
apiVersion: v1
kind: Pod
metadata: {name: nocm}
spec:
  nodeName: $NODE
  containers:
  - name: c
    image: busybox:1.35
    command: ["sleep", "3600"]
    env: [{name: X, valueFrom: {configMapKeyRef: {name: nope, key: k}}}]
---
apiVersion: v1
kind: Pod
metadata: {name: nokey}
spec:
  nodeName: $NODE
  containers:
  - name: c
    image: busybox:1.35
    command: ["sleep", "3600"]
    env: [{name: X, valueFrom: {configMapKeyRef: {name: cfg, key: k}}}]
---
apiVersion: v1
kind: Pod
metadata: {name: pvc}
spec:
  nodeName: $NODE
  containers:
  - {name: c, image: busybox:1.35, command: ["sleep", "3600"], volumeMounts: [{name: d, mountPath: /d}]}
  volumes:
  - {name: d, persistentVolumeClaim: {claimName: claim}}
---
apiVersion: v1
kind: Pod
metadata: {name: hpfile}
spec:
  nodeName: $NODE
  containers:
  - {name: c, image: busybox:1.35, command: ["sleep", "3600"], volumeMounts: [{name: h, mountPath: /h}]}
  volumes:
  - {name: h, hostPath: {path: $T/hostfiles/absent, type: File}}
YAML
kubectl apply -f "$T/bad.yaml" >/dev/null || fail "create bad pods"
waiting_is() {
	[ "$(kubectl get pod "$1" -o jsonpath='{.status.containerStatuses[0].state.waiting.reason}')" = "$2" ] &&
		[ "$(kubectl get pod "$1" -o jsonpath='{.status.containerStatuses[0].state.waiting.message}')" = "$3" ]
}
wait_for 30 waiting_is nocm CreateContainerConfigError 'configmap "nope" not found' ||
	fail "nocm: $(kubectl get pod nocm -o jsonpath='{.status.containerStatuses}')"
wait_for 30 waiting_is nokey CreateContainerConfigError "couldn't find key k in ConfigMap default/cfg" ||
	fail "nokey: $(kubectl get pod nokey -o jsonpath='{.status.containerStatuses}')"
pvc_err() {
	[ "$(kubectl get pod pvc -o jsonpath='{.status.containerStatuses[0].state.waiting.reason}')" = CreateContainerConfigError ] &&
		kubectl get pod pvc -o jsonpath='{.status.containerStatuses[0].state.waiting.message}' | grep -q persistentVolumeClaim
}
wait_for 30 pvc_err || fail "pvc: $(kubectl get pod pvc -o jsonpath='{.status.containerStatuses}')"
msg_done() { [ "$(kubectl get pod msg -o jsonpath='{.status.phase}')" = Failed ]; }
wait_for 30 msg_done || fail "msg pod not Failed"
[ "$(kubectl get pod msg -o jsonpath='{.status.containerStatuses[0].state.terminated.message}')" = "bye" ] ||
	fail "termination message: $(kubectl get pod msg -o jsonpath='{.status.containerStatuses[0].state.terminated}')"
# a terminal pod's volumes are unmounted and removed (its status stays)
MUID=$(kubectl get pod msg -o jsonpath='{.metadata.uid}')
msg_unmounted() { ! grep -q " $ROOT/pods/$MUID/" /proc/self/mounts && [ ! -d "$ROOT/pods/$MUID" ]; }
wait_for 20 msg_unmounted || fail "terminal pod msg still has its volumes: $(grep " $ROOT/pods/$MUID/" /proc/self/mounts)"
hp_event() {
	kubectl get events --field-selector involvedObject.name=hpfile -o jsonpath='{.items[*].message}' |
		grep -q "MountVolume.SetUp failed for volume \"h\" : hostPath type check failed: $T/hostfiles/absent is not a file"
}
wait_for 20 hp_event || fail "no FailedMount event for hpfile: $(kubectl get events --field-selector involvedObject.name=hpfile -o jsonpath='{.items[*].message}')"
[ "$(kubectl get pod hpfile -o jsonpath='{.status.containerStatuses[0].state.waiting.reason}')" = ContainerCreating ] || fail "hpfile not ContainerCreating"
echo "ok missing configMap/key, unsupported volume, hostPath type check, termination message, terminal pod unmounted"

# 3. init containers that fail.  kubectl_reason POD: the STATUS kubectl v1.32 prints for
# a pod with init containers, computed from initContainerStatuses as printPod does
# (pkg/printers/internalversion/printers.go); the apiserver's own Table does not
# implement that part, so the kubelet's statuses are checked through this.
kubectl_reason() {
	kubectl get pod "$1" -o json | $PY -c '
import json, sys
p = json.load(sys.stdin); st = p["status"]; n = len(p["spec"].get("initContainers", []))
reason = st.get("reason") or st.get("phase")
for i, c in enumerate(st.get("initContainerStatuses", [])):
    s = c.get("state", {})
    t, w = s.get("terminated"), s.get("waiting")
    if t and t.get("exitCode") == 0:
        continue
    if t:
        reason = "Init:" + t["reason"] if t.get("reason") else "Init:ExitCode:%d" % t.get("exitCode", 0)
    elif w and w.get("reason") and w["reason"] != "PodInitializing":
        reason = "Init:" + w["reason"]
    else:
        reason = "Init:%d/%d" % (i, n)
    break
print(reason)'
}
cat >"$T/init.yaml" <<YAML
apiVersion: v1
kind: Pod
metadata: {name: initnever}
spec:
  nodeName: $NODE
  restartPolicy: Never
  initContainers:
  - {name: i1, image: busybox:1.35, command: ["sh", "-c", "exit 2"]}
  - {name: i2, image: busybox:1.35, command: ["true"]}
  containers:
  - {name: c, image: busybox:1.35, command: ["sleep", "3600"]}
---
apiVersion: v1
kind: Pod
metadata: {name: initloop}
spec:
  nodeName: $NODE
  initContainers:
  - {name: ok, image: busybox:1.35, command: ["true"]}
  - {name: bad, image: busybox:1.35, command: ["sh", "-c", "exit 1"]}
  containers:
  - {name: c, image: busybox:1.35, command: ["sleep", "3600"]}
YAML
kubectl apply -f "$T/init.yaml" >/dev/null || fail "create init pods"
wait_for 40 sh -c '[ "$(kubectl get pod initnever -o jsonpath={.status.phase})" = Failed ]' ||
	fail "initnever not Failed: $(kubectl get pod initnever -o jsonpath='{.status}')"
[ "$(kubectl_reason initnever)" = Init:Error ] || fail "kubectl's status for initnever: $(kubectl_reason initnever)"
[ "$(kubectl get pod initnever -o jsonpath='{.status.initContainerStatuses[0].state.terminated.exitCode}')" = 2 ] || fail "init exit code"
[ "$(kubectl get pod initnever -o jsonpath='{.status.initContainerStatuses[1].state.waiting.reason}')" = PodInitializing ] || fail "i2 ran"
[ "$(kubectl get pod initnever -o jsonpath='{.status.containerStatuses[0].state.waiting.reason}')" = PodInitializing ] || fail "app ran"
echo "ok failed init container under Never: Failed, Init:Error"
SEEN=""
init_loop() {
	s=$(kubectl_reason initloop)
	case "$s" in Init:Error | Init:CrashLoopBackOff) SEEN="$SEEN $s" ;; esac
	echo "$SEEN" | grep -q CrashLoopBackOff &&
		[ "$(kubectl get pod initloop -o jsonpath='{.status.initContainerStatuses[1].restartCount}')" -ge 1 ]
}
end=$(($(date +%s) + 60))
while ! init_loop; do
	[ "$(date +%s)" -lt "$end" ] || fail "initloop: no Init:CrashLoopBackOff (seen:$SEEN): $(kubectl get pod initloop -o jsonpath='{.status}')"
	sleep 0.3
done
[ "$(kubectl get pod initloop -o jsonpath='{.status.phase}')" = Pending ] || fail "initloop phase"
[ "$(kubectl get pod initloop -o jsonpath='{.status.conditions[?(@.type=="Initialized")].message}')" = "containers with incomplete status: [bad]" ] ||
	fail "Initialized message: $(kubectl get pod initloop -o jsonpath='{.status.conditions}')"
[ "$(kubectl get pod initloop -o jsonpath='{.status.initContainerStatuses[0].restartCount}')" = 0 ] || fail "succeeded init container restarted"
echo "ok failing init container under Always: Init:CrashLoopBackOff (seen:$SEEN), Pending"

# an orphaned pod directory (a kubelet that crashed left it, its pod is gone) with a
# mounted tmpfs is unmounted and removed
OD="$ROOT/pods/0rphan-0000/volumes/kubernetes.io~secret/s"
mkdir -p "$OD" && mount -t tmpfs tmpfs "$OD" || fail "make an orphan"
orphan_gone() { ! grep -q " $OD " /proc/self/mounts && [ ! -d "$ROOT/pods/0rphan-0000" ]; }
wait_for 40 orphan_gone || fail "orphaned pod directory not cleaned up"
grep -q 'Cleaned up orphaned pod directory" podUID="0rphan-0000"' "$T/kubelet.log" || fail "no orphan cleanup log"
[ -d "$ROOT/pods/$PUID" ] || fail "a live pod's directory was removed"
echo "ok orphaned pod directory unmounted and removed"

# 4. deletion: nothing mounted, no pod directory left
for p in vols msg nocm nokey pvc hpfile initnever initloop; do
	timeout 60 kubectl delete pod "$p" --wait=true >/dev/null || fail "kubectl delete pod $p did not return"
done
grep -q " $ROOT/" /proc/self/mounts && fail "mounts left: $(grep " $ROOT/" /proc/self/mounts)"
[ -d "$ROOT/pods/$PUID" ] && fail "pod dir $ROOT/pods/$PUID left: $(find "$ROOT/pods/$PUID" | head)"
[ -z "$(ls -A "$ROOT/pods" 2>/dev/null)" ] || fail "pod dirs left: $(ls "$ROOT/pods")"
[ -f "$T/hostfiles/made/f" ] || fail "hostPath content removed with the pod"
echo "ok deleted: nothing mounted, no pod directory left, hostPath kept"

kill "$KPID"; wait "$KPID"; krc=$?; KPID=""
[ "$krc" = 0 ] || fail "kubelet exit $krc on SIGTERM"
FAILED=0
echo "PASS kubelet_volumes"
