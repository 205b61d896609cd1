# OpenAPI through real kubectl v1.32 with a fresh KUBECACHEDIR: kubectl explain (fields,
# nested fields, --recursive), apply's validation (server-side strict for single objects,
# client-side from /openapi/v2 for `kind: List`), `get -o yaml | apply -f -` without
# --validate=false, multi-document files, examples/, and the documents' caching headers.
KUBEC_ROOT=${KUBEC_ROOT:-$(pwd)}
KUBEC_BUILD=${KUBEC_BUILD:-$KUBEC_ROOT/build}
. "$KUBEC_ROOT/test/integration/lib/apiserver_env.sh"

for tool in curl openssl /usr/bin/etcd /usr/bin/kubectl "$PY"; do
	command -v "$tool" >/dev/null 2>&1 || { echo "SKIP: $tool missing"; exit 77; }
done
[ -x "$KUBEC_BUILD/bin/kube-apiserver" ] || { echo "FAIL: kube-apiserver not built"; exit 1; }

FAILED=0
trap 'kc_cleanup' EXIT INT TERM
fail() { echo "FAIL: $*"; FAILED=1; }

kc_newdir
gen_certs "$T" || { echo "FAIL: certificates"; exit 1; }
start_etcd "$T" || { kc_dump_logs; echo "FAIL: etcd"; exit 1; }
start_apiserver "$T" "$ETCD_URL" || { kc_dump_logs; echo "FAIL: apiserver not ready"; exit 1; }
write_kubeconfig "$T" "$API"
export KUBECONFIG="$T/kubeconfig" KUBECACHEDIR="$T/kcache" HOME="$T"
C="curl -s --cacert $T/ca.crt --cert $T/admin.crt --key $T/admin.key"
TAB=$(printf '\t')

# has OUTPUT LINE: OUTPUT has exactly that line.
has() { printf '%s\n' "$1" | grep -qxF -- "$2"; }

# ---- kubectl explain
out=$(kubectl explain pods 2>&1)
has "$out" "KIND:       Pod" || fail "explain pods KIND: $out"
has "$out" "VERSION:    v1" || fail "explain pods VERSION: $out"
has "$out" "  spec${TAB}<PodSpec>" || fail "explain pods spec: $out"
has "$out" "  metadata${TAB}<ObjectMeta>" || fail "explain pods metadata: $out"
has "$out" "  status${TAB}<Object>" || fail "explain pods status: $out"
printf '%s\n' "$out" | grep -q "Pod is a collection of containers" || fail "explain pods description: $out"

out=$(kubectl explain deployment.spec.strategy 2>&1)
has "$out" "GROUP:      apps" || fail "explain strategy GROUP: $out"
has "$out" "FIELD: strategy <DeploymentStrategy>" || fail "explain strategy FIELD: $out"
has "$out" "  rollingUpdate${TAB}<RollingUpdateDeployment>" || fail "explain strategy rollingUpdate: $out"
has "$out" "  type${TAB}<string>" || fail "explain strategy type: $out"
out=$(kubectl explain deploy.spec.strategy.rollingUpdate.maxSurge 2>&1)
has "$out" "FIELD: maxSurge <IntOrString>" || fail "explain maxSurge: $out"
out=$(kubectl explain deploy.spec 2>&1)
has "$out" "  selector${TAB}<LabelSelector> -required-" || fail "explain deploy.spec selector: $out"
has "$out" "  replicas${TAB}<integer>" || fail "explain deploy.spec replicas: $out"

out=$(kubectl explain pods --recursive 2>&1)
has "$out" "    containers${TAB}<[]Container> -required-" || fail "explain --recursive containers: $out"
has "$out" "        containerPort${TAB}<integer> -required-" || fail "explain --recursive containerPort: $out"
has "$out" "      image${TAB}<string>" || fail "explain --recursive image: $out"
has "$out" "    labels${TAB}<map[string]string>" || fail "explain --recursive labels: $out"
[ "$(printf '%s\n' "$out" | wc -l)" -gt 100 ] || fail "explain --recursive is short: $out"

out=$(kubectl explain pods.spec.nope 2>&1); rc=$?
[ $rc -ne 0 ] && printf '%s\n' "$out" | grep -q 'field "nope" does not exist' || fail "explain unknown field: rc=$rc $out"
for r in services nodes configmaps secrets namespaces jobs cronjobs statefulsets daemonsets \
	replicasets ingresses networkpolicies leases endpointslices poddisruptionbudgets \
	horizontalpodautoscalers priorityclasses storageclasses persistentvolumeclaims \
	resourcequotas limitranges serviceaccounts events endpoints persistentvolumes \
	controllerrevisions; do
	out=$(kubectl explain "$r" 2>&1) || fail "explain $r: $out"
done

# ---- apply: single objects are validated by the server (fieldValidation=Strict)
cat > "$T/bad.yaml" <<'YAML'
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  foo: 1
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: nginx}]
YAML
out=$(kubectl apply -f "$T/bad.yaml" 2>&1); rc=$?
[ $rc -ne 0 ] || fail "apply with an unknown field succeeded: $out"
printf '%s\n' "$out" | grep -qF 'strict decoding error: unknown field "spec.foo"' || fail "apply unknown field: $out"
out=$(kubectl get deploy web 2>&1)
printf '%s\n' "$out" | grep -q NotFound || fail "the bad deployment was stored: $out"

cat > "$T/multi.yaml" <<'YAML'
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, labels: {app: web}}
spec:
  replicas: 2
  strategy: {type: RollingUpdate, rollingUpdate: {maxSurge: 1, maxUnavailable: "25%"}}
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: web
        image: nginx:1.25
        ports: [{containerPort: 80, protocol: TCP}]
        resources: {limits: {cpu: 500m, memory: 128Mi}}
        env: [{name: A, value: "1"}]
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{port: 80, targetPort: 80}]
---
apiVersion: v1
kind: ConfigMap
metadata: {name: cfg}
data: {a: b}
YAML
out=$(kubectl apply -f "$T/multi.yaml" 2>&1)
for w in "deployment.apps/web created" "service/web created" "configmap/cfg created"; do
	printf '%s\n' "$out" | grep -qF "$w" || fail "multi-document apply: $out"
done

# Client-side apply computes its strategic merge patch from /openapi/v2: DeploymentSpec.strategy
# is retainKeys, so switching to Recreate drops rollingUpdate.
sed 's/^  strategy: .*$/  strategy: {type: Recreate}/' "$T/multi.yaml" > "$T/recreate.yaml"
out=$(kubectl apply -f "$T/recreate.yaml" 2>&1) || fail "apply Recreate: $out"
printf '%s\n' "$out" | grep -qF "deployment.apps/web configured" || fail "apply Recreate output: $out"
out=$(kubectl get deploy web -o jsonpath='{.spec.strategy}' 2>&1)
[ "$out" = '{"type":"Recreate"}' ] || fail "strategy after Recreate: $out"
kubectl apply -f "$T/multi.yaml" > /dev/null 2>&1 || fail "apply back to RollingUpdate"

# ---- kind: List (get -o yaml | apply -f -) is validated on the client from /openapi/v2
out=$(kubectl get deploy,svc,cm -o yaml | kubectl apply -f - 2>&1); rc=$?
[ $rc = 0 ] || fail "get -o yaml | apply -f -: rc=$rc $out"
printf '%s\n' "$out" | grep -qE "deployment.apps/web (configured|unchanged)" || fail "List apply deployment: $out"
printf '%s\n' "$out" | grep -qE "configmap/cfg (configured|unchanged)" || fail "List apply configmap: $out"
kubectl get deploy web -o yaml > "$T/one.yaml"
out=$(kubectl get deploy -o yaml > "$T/list.yaml" && kubectl apply -f "$T/list.yaml" 2>&1) || fail "List file apply: $out"
sed 's/^    replicas: 2$/    replicas: 2\n    foo: 3/' "$T/list.yaml" > "$T/badlist.yaml"
grep -q "foo: 3" "$T/badlist.yaml" || fail "test setup: no foo in $(cat "$T/badlist.yaml")"
out=$(kubectl apply -f "$T/badlist.yaml" 2>&1); rc=$?
[ $rc -ne 0 ] || fail "List with an unknown field applied: $out"
printf '%s\n' "$out" | grep -qF 'ValidationError(Deployment.spec): unknown field "foo" in io.k8s.api.apps.v1.DeploymentSpec' ||
	fail "List unknown field message: $out"
sed 's/^    replicas: 2$/    replicas: "two"/' "$T/list.yaml" > "$T/badtype.yaml"
out=$(kubectl apply -f "$T/badtype.yaml" 2>&1); rc=$?
[ $rc -ne 0 ] && printf '%s\n' "$out" | grep -q 'ValidationError(Deployment.spec.replicas): invalid type for io.k8s.api.apps.v1.DeploymentSpec.replicas: got "string", expected "integer"' ||
	fail "List wrong type: rc=$rc $out"

out=$(kubectl apply -f "$KUBEC_ROOT/examples/web.yaml" 2>&1) || fail "apply examples/web.yaml: $out"

# ---- the documents and their caching headers
$C "$API/openapi/v3" > "$T/root.json"
url=$(jq_get "$T/root.json" "paths.apis/apps/v1.serverRelativeURL")
case "$url" in /openapi/v3/apis/apps/v1\?hash=*) ;; *) fail "v3 root: $(cat "$T/root.json")";; esac
hash=${url#*hash=}
$C -D "$T/h1" -o "$T/apps.json" "$API$url"
grep -qi '^Cache-Control: public, immutable' "$T/h1" || fail "hashed v3 caching: $(cat "$T/h1")"
grep -qi "^ETag: \"$hash\"" "$T/h1" || fail "v3 ETag: $(cat "$T/h1")"
grep -qi '^Expires: ' "$T/h1" || fail "v3 Expires: $(cat "$T/h1")"
code=$($C -o /dev/null -w '%{http_code} %{redirect_url}' "$API/openapi/v3/apis/apps/v1?hash=OLD")
[ "$code" = "301 $API$url" ] || fail "stale hash: $code"
code=$($C -o /dev/null -w '%{http_code}' -H "If-None-Match: \"$hash\"" "$API/openapi/v3/apis/apps/v1")
[ "$code" = 304 ] || fail "If-None-Match: $code"
code=$($C -o "$T/v2.pb" -w '%{http_code} %{content_type}' \
	-H 'Accept: application/com.github.proto-openapi.spec.v2@v1.0+protobuf' "$API/openapi/v2")
[ "$code" = "200 application/com.github.proto-openapi.spec.v2.v1.0+protobuf" ] || fail "v2 protobuf: $code"
[ "$(wc -c < "$T/v2.pb")" -gt 10000 ] || fail "v2 protobuf is small"
$C "$API/openapi/v2" > "$T/v2.json"
[ "$(jq_get "$T/v2.json" swagger)" = "2.0" ] || fail "v2 JSON: $(head -c 300 "$T/v2.json")"
$PY - "$T/v2.json" <<'PYEOF' || fail "v2 JSON definitions"
import json, sys
d = json.load(open(sys.argv[1]))["definitions"]
dep = d["io.k8s.api.apps.v1.Deployment"]
assert dep["x-kubernetes-group-version-kind"] == [{"group": "apps", "kind": "Deployment", "version": "v1"}], dep
assert d["io.k8s.api.apps.v1.DeploymentSpec"]["properties"]["template"]["$ref"] == "#/definitions/io.k8s.api.core.v1.PodTemplateSpec"
PYEOF

if [ "$FAILED" != 0 ]; then
	kc_dump_logs
	exit 1
fi
echo "PASS: kubectl_openapi"
