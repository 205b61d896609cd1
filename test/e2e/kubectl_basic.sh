# Real kubectl v1.32 (and the Python client) against kube-apiserver on etcd 3.4, and on
# kube-store when it is built and answers: version, discovery, create (protobuf bodies),
# apply (created/unchanged/configured), get in every output form, describe, label, annotate,
# patch (merge/json/strategic), scale, get -w, delete by name and label; the Python client's
# CRUD, conflict, watch from a resourceVersion and pagination.
KUBEC_ROOT=${KUBEC_ROOT:-$(pwd)}
KUBEC_BUILD=${KUBEC_BUILD:-$KUBEC_ROOT/build}
. "$KUBEC_ROOT/test/integration/lib/apiserver_env.sh"

for tool in curl openssl /usr/bin/etcd /usr/bin/kubectl "$PY"; do
	command -v "$tool" >/dev/null 2>&1 || { echo "SKIP: $tool missing"; exit 77; }
done
$PY -c 'import kubernetes' 2>/dev/null || { echo "SKIP: python3-kubernetes missing"; exit 77; }
[ -x "$KUBEC_BUILD/bin/kube-apiserver" ] || { echo "FAIL: kube-apiserver not built"; exit 1; }

FAILED=0
trap 'kc_cleanup' EXIT INT TERM
fail() { echo "FAIL: $*"; FAILED=1; }

# e2e_suite STORE-NAME: the whole kubectl + Python sequence against $ETCD_URL.
e2e_suite() {
echo "--- suite on $1"
start_apiserver "$T" "$ETCD_URL" || { fail "apiserver did not become ready on $1"; return; }
write_kubeconfig "$T" "$API"
export KUBECONFIG="$T/kubeconfig"
export KUBECACHEDIR="$T/kcache"
export HOME="$T"

# k WANT_RC EXPECTED_SUBSTRING kubectl-args...: runs kubectl, checks rc and output.
k() {
	want_rc=$1; want=$2; shift 2
	out=$(kubectl "$@" 2>&1); rc=$?
	[ "$rc" = "$want_rc" ] || { fail "kubectl $*: rc=$rc want $want_rc: $out"; return; }
	case "$out" in *"$want"*) ;; *) fail "kubectl $*: output lacks '$want': $out";; esac
}

k 0 "Server Version: v1.32.4" version
out=$(kubectl api-resources 2>&1)
echo "$out" | grep -Eq '^deployments +deploy +apps/v1 +true +Deployment$' || fail "api-resources: $out"
echo "$out" | grep -Eq '^pods +po +v1 +true +Pod$' || fail "api-resources pods: $out"
k 0 "namespace/team-a created" create namespace team-a
k 0 "configmap/cfg created" create configmap cfg --from-literal=a=b -n team-a
k 0 "secret/sec created" create secret generic sec --from-literal=p=q -n team-a
k 0 "deployment.apps/hello created" create deployment hello --image=nginx:1.25 -n team-a
k 0 "Opaque" get secret sec -n team-a
k 0 "1 hello nginx:1.25" get deploy hello -n team-a -o jsonpath='{.spec.replicas} {.spec.selector.matchLabels.app} {.spec.template.spec.containers[0].image}'
k 0 "b" get configmap cfg -n team-a -o jsonpath='{.data.a}'
k 0 "namespace/team-b created" create namespace team-b --dry-run=server
k 0 "kube-node-lease" get ns

cat > "$T/web.yaml" <<'YAML'
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {app: web, tier: fe}
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: nginx:1.25
        ports:
        - containerPort: 80
---
apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  selector: {app: web}
  ports:
  - port: 80
YAML
k 0 "deployment.apps/web created" apply -f "$T/web.yaml"
k 0 "service/web unchanged" apply -f "$T/web.yaml"
sed 's/replicas: 2/replicas: 3/' "$T/web.yaml" > "$T/web3.yaml"
k 0 "deployment.apps/web configured" apply -f "$T/web3.yaml"
k 0 "web    0/3     0            0" get deploy web
k 0 "nginx:1.25   app=web" get deploy web -o wide
k 0 '"kind": "Deployment"' get deploy web -o json
k 0 "revisionHistoryLimit: 10" get deploy web -o yaml
k 0 "deployment.apps/web" get deploy -o name
k 0 "3 RollingUpdate" get deploy web -o jsonpath='{.spec.replicas} {.spec.strategy.type}'
k 0 "team-a      hello" get deploy -A
k 0 "app=web,tier=fe" get deploy web --show-labels
k 0 "web" get deploy -l tier=fe -o name
k 0 "80/TCP" get svc web
k 0 "10.0.0.1" get svc kubernetes
k 0 "Replicas:               3 desired" describe deploy web

k 0 "deployment.apps/web labeled" label deploy web env=prod
k 0 "deployment.apps/web annotated" annotate deploy web note=hello
k 0 "deployment.apps/web patched" patch deploy web --type merge -p '{"spec":{"minReadySeconds":5}}'
k 0 "deployment.apps/web patched" patch deploy web --type json -p '[{"op":"replace","path":"/spec/revisionHistoryLimit","value":3}]'
k 0 "deployment.apps/web patched" patch deploy web -p '{"spec":{"template":{"spec":{"containers":[{"name":"web","image":"nginx:1.27"}]}}}}'
k 0 "deployment.apps/web scaled" scale deploy/web --replicas=5
k 0 "5 5 3 nginx:1.27 80 prod hello" get deploy web -o jsonpath='{.spec.replicas} {.spec.minReadySeconds} {.spec.revisionHistoryLimit} {.spec.template.spec.containers[0].image} {.spec.template.spec.containers[0].ports[0].containerPort} {.metadata.labels.env} {.metadata.annotations.note}'
k 1 'Error from server (NotFound): deployments.apps "nope" not found' get deploy nope
cat > "$T/bad.json" <<'JSON'
{"apiVersion":"v1","kind":"Pod","metadata":{"name":"bad"},"spec":{"restartPolicy":"Sometimes","containers":[{"name":"c"}]}}
JSON
k 1 'The Pod "bad" is invalid:' create -f "$T/bad.json"
k 1 '* spec.restartPolicy: Unsupported value: "Sometimes": supported values: "Always", "OnFailure", "Never"' create -f "$T/bad.json"
k 1 'Error from server (AlreadyExists): error when creating' create -f "$T/web.yaml"
k 1 'namespaces "team-b" not found' get ns team-b

# get -w sees an update made while it watches.
kubectl get deploy web -w --request-timeout=5s > "$T/watch.out" 2>&1 &
wpid=$!
i=0
while ! grep -q "^web" "$T/watch.out" 2>/dev/null && [ $i -lt 50 ]; do i=$((i + 1)); sleep 0.1; done
kubectl scale deploy/web --replicas=1 > /dev/null 2>&1
wait $wpid
grep -q "^web .* 0/1 " "$T/watch.out" || fail "get -w did not see the scale: $(cat "$T/watch.out")"

k 0 'deployment.apps "web" deleted' delete deploy web
k 0 'configmap "cfg" deleted' delete configmap -l '!nonexistent' -n team-a
k 1 'NotFound' get configmap cfg -n team-a
k 0 'No resources found' get deploy -l app=web
# Namespace deletion as upstream, without a controller-manager here: the namespace stays
# Terminating, creates inside are refused, the built-in namespaces cannot be deleted.
k 0 'namespace "team-a" deleted' delete ns team-a --wait=false
k 0 'Terminating' get ns team-a
k 1 'unable to create new content in namespace team-a because it is being terminated' create configmap late -n team-a
k 1 'namespaces "kube-public" is forbidden: this namespace may not be deleted' delete ns kube-public

# The Python client: CRUD, conflict, watch from a resourceVersion, pagination.
cat > "$T/client.py" <<'PYEOF'
import sys
from kubernetes import client, watch
cfg = client.Configuration()
cfg.host = sys.argv[1]
cfg.ssl_ca_cert = sys.argv[2]
cfg.api_key = {"authorization": "Bearer test-token"}
api_client = client.ApiClient(cfg)
v1 = client.CoreV1Api(api_client)
assert client.VersionApi(api_client).get_code().minor == "32"
pod = client.V1Pod(metadata=client.V1ObjectMeta(name="py", labels={"run": "py"}),
                   spec=client.V1PodSpec(containers=[client.V1Container(name="c", image="busybox")]))
p = v1.create_namespaced_pod("default", pod)
assert p.spec.containers[0].image_pull_policy == "Always", p.spec
rv0 = p.metadata.resource_version
p.metadata.labels["x"] = "1"
p2 = v1.replace_namespaced_pod("py", "default", p)
assert int(p2.metadata.resource_version) > int(rv0)
try:
    v1.replace_namespaced_pod("py", "default", p)
    raise SystemExit("stale update succeeded")
except client.ApiException as e:
    assert e.status == 409 and e.reason == "Conflict", (e.status, e.reason)
v1.patch_namespaced_pod("py", "default", {"metadata": {"labels": {"y": "2"}}})
seen = [(ev["type"], ev["object"].metadata.resource_version)
        for ev in watch.Watch().stream(v1.list_namespaced_pod, "default", resource_version=rv0,
                                      timeout_seconds=2)]
assert [t for t, _ in seen] == ["MODIFIED", "MODIFIED"], seen
for i in range(5):
    v1.create_namespaced_config_map("default", client.V1ConfigMap(
        metadata=client.V1ObjectMeta(name="page-%d" % i, labels={"page": "y"}), data={"i": str(i)}))
names, cont, pages = [], None, 0
while True:
    l = v1.list_namespaced_config_map("default", limit=2, label_selector="page=y", _continue=cont)
    names += [c.metadata.name for c in l.items]
    pages += 1
    cont = l.metadata._continue
    if not cont:
        break
assert names == ["page-%d" % i for i in range(5)] and pages == 3, (names, pages)
v1.delete_namespaced_pod("py", "default")
try:
    v1.read_namespaced_pod("py", "default")
    raise SystemExit("pod still there")
except client.ApiException as e:
    assert e.status == 404 and e.reason == "Not Found"
print("python client ok")
PYEOF
out=$($PY "$T/client.py" "$API" "$T/ca.crt" 2>&1) || fail "python client: $out"
}

kc_newdir
gen_certs "$T" || { echo "FAIL: openssl"; exit 1; }
if start_etcd "$T"; then e2e_suite "etcd 3.4"; else fail "etcd did not start"; fi
[ $FAILED = 0 ] || kc_dump_logs
kc_cleanup
KC_PIDS=""; KC_LOGS=""
if [ -x "$KUBEC_BUILD/bin/kube-store" ]; then
	kc_newdir
	gen_certs "$T"
	if start_kube_store "$T"; then
		e2e_suite "kube-store"
	else
		echo "NOTE: kube-store is built but does not answer /v3/kv/range; its suite is skipped"
	fi
fi
[ $FAILED = 0 ] || kc_dump_logs
kc_cleanup
if [ $FAILED = 0 ]; then echo "PASS: kubectl_basic"; exit 0; fi
exit 1
