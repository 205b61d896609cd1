# Server-side apply through real kubectl v1.32 against kube-apiserver on etcd 3.4 (and
# kube-store when it answers): managedFields (FieldsV1, shown by --show-managed-fields),
# unchanged re-apply keeps the resourceVersion, conflicts with another manager (kubectl
# scale, kubectl create) as upstream's 409 Status, --force-conflicts, and removal of a field
# dropped from the applied configuration.
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

k() { # k WANT_RC EXPECTED_SUBSTRING kubectl-args...
	want_rc=$1; want=$2; shift 2
	out=$(kubectl "$@" 2>&1); rc=$?
	[ "$rc" = "$want_rc" ] || { fail "kubectl $*: rc=$rc want $want_rc: $out"; return; }
	case "$out" in *"$want"*) ;; *) fail "kubectl $*: output lacks '$want': $out";; esac
}
lacks() { # lacks UNWANTED_SUBSTRING kubectl-args...
	unwanted=$1; shift
	out=$(kubectl "$@" 2>&1)
	case "$out" in *"$unwanted"*) fail "kubectl $*: output has '$unwanted': $out";; esac
}

# deploy REPLICAS "LABEL-LINES": the applied configuration.
deploy() {
	cat > "$T/deploy.yaml" <<YAML
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels:
    app: web
$2
spec:
  replicas: $1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: nginx
        image: nginx:1.25
        ports:
        - containerPort: 80
YAML
}

ssa_suite() {
echo "--- suite on $1"
start_apiserver "$T" "$ETCD_URL" || { fail "apiserver did not become ready on $1"; return; }
write_kubeconfig "$T" "$API"
export KUBECONFIG="$T/kubeconfig" KUBECACHEDIR="$T/kcache" HOME="$T"

deploy 2 "    tier: front"
k 0 "deployment.apps/web serverside-applied" apply --server-side -f "$T/deploy.yaml"
mf=$(kubectl get deploy web -o yaml --show-managed-fields 2>&1)
for want in "manager: kubectl" "operation: Apply" "fieldsType: FieldsV1" "f:replicas: {}" \
	'f:tier: {}' 'k:{"name":"nginx"}:' 'k:{"containerPort":80,"protocol":"TCP"}:' \
	"f:image: {}" "f:selector: {}" "apiVersion: apps/v1"; do
	case "$mf" in *"$want"*) ;; *) fail "managedFields lack '$want': $mf";; esac
done
lacks "managedFields" get deploy web -o yaml
rv1=$(kubectl get deploy web -o jsonpath='{.metadata.resourceVersion}')

# Unchanged re-apply: still "serverside-applied", nothing written.
k 0 "deployment.apps/web serverside-applied" apply --server-side -f "$T/deploy.yaml"
rv2=$(kubectl get deploy web -o jsonpath='{.metadata.resourceVersion}')
[ -n "$rv1" ] && [ "$rv1" = "$rv2" ] || fail "unchanged apply moved resourceVersion $rv1 -> $rv2"

# Another manager takes spec.replicas; applying a different value conflicts.
k 0 "deployment.apps/web scaled" scale deploy web --replicas=5
mf=$(kubectl get deploy web -o yaml --show-managed-fields 2>&1)
case "$mf" in *"operation: Update"*"subresource: scale"*) ;;
	*) fail "scale did not record an Update on the scale subresource: $mf";; esac
deploy 3 "    tier: front"
k 1 "Apply failed with 1 conflict: conflict with" apply --server-side -f "$T/deploy.yaml"
case "$out" in *'.spec.replicas'*) ;; *) fail "conflict does not name .spec.replicas: $out";; esac
k 0 "5" get deploy web -o jsonpath='{.spec.replicas}'

# The same conflict as upstream's Status: 409, reason Conflict, a FieldManagerConflict cause.
$PY - "$T/deploy.yaml" > "$T/deploy.json" <<'PYEOF' || fail "yaml to json"
import json, sys, yaml
print(json.dumps(yaml.safe_load(open(sys.argv[1]))))
PYEOF
code=$(curl -s -o "$T/out" -w '%{http_code}' --cacert "$T/ca.crt" --cert "$T/admin.crt" \
	--key "$T/admin.key" -X PATCH -H 'Content-Type: application/apply-patch+yaml' \
	--data-binary @"$T/deploy.json" \
	"$API/apis/apps/v1/namespaces/default/deployments/web?fieldManager=kubectl")
[ "$code" = 409 ] || fail "conflicting apply: HTTP $code $(cat "$T/out")"
[ "$(jq_get "$T/out" reason)" = Conflict ] || fail "conflict reason: $(cat "$T/out")"
[ "$(jq_get "$T/out" details.causes.0.reason)" = FieldManagerConflict ] || fail "cause type: $(cat "$T/out")"
[ "$(jq_get "$T/out" details.causes.0.field)" = .spec.replicas ] || fail "cause field: $(cat "$T/out")"
# Apply without a fieldManager is refused as upstream.
code=$(curl -s -o "$T/out" -w '%{http_code}' --cacert "$T/ca.crt" --cert "$T/admin.crt" \
	--key "$T/admin.key" -X PATCH -H 'Content-Type: application/apply-patch+yaml' \
	--data-binary @"$T/deploy.json" "$API/apis/apps/v1/namespaces/default/deployments/web")
[ "$code" = 422 ] || fail "apply without fieldManager: HTTP $code $(cat "$T/out")"

# --force-conflicts: the applier wins and takes the field.
k 0 "deployment.apps/web serverside-applied" apply --server-side --force-conflicts -f "$T/deploy.yaml"
k 0 "3" get deploy web -o jsonpath='{.spec.replicas}'
deploy 3 "    tier: front"
k 0 "deployment.apps/web serverside-applied" apply --server-side -f "$T/deploy.yaml"

# A label dropped from the applied configuration is removed; the others stay.
deploy 3 ""
k 0 "deployment.apps/web serverside-applied" apply --server-side -f "$T/deploy.yaml"
k 0 "app:web" get deploy web -o jsonpath='{range .metadata.labels.*}{"app:"}{@}{end}'
lacks "tier" get deploy web -o jsonpath='{.metadata.labels}'
# ...but a field another manager also set stays when the applier drops it.
k 0 "deployment.apps/web labeled" label deploy web team=a
cat > "$T/lbl.yaml" <<'YAML'
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, labels: {app: web, team: a}}
YAML
k 0 "serverside-applied" apply --server-side --field-manager=other -f "$T/lbl.yaml"
cat > "$T/lbl.yaml" <<'YAML'
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, labels: {app: web}}
YAML
k 0 "serverside-applied" apply --server-side --field-manager=other -f "$T/lbl.yaml"
k 0 "team" get deploy web -o jsonpath='{.metadata.labels}'

# A field created by kubectl create belongs to kubectl-create: conflict, then force.
k 0 "configmap/cm created" create configmap cm --from-literal=a=1
cat > "$T/cm.yaml" <<'YAML'
apiVersion: v1
kind: ConfigMap
metadata: {name: cm}
data: {a: "2", b: "x"}
YAML
k 1 'conflict with "kubectl-create" using v1: .data.a' apply --server-side -f "$T/cm.yaml"
k 0 "configmap/cm serverside-applied" apply --server-side --force-conflicts -f "$T/cm.yaml"
k 0 "2" get cm cm -o jsonpath='{.data.a}'
# Client-side apply records its own manager, which server-side apply then conflicts with.
cat > "$T/csa.yaml" <<'YAML'
apiVersion: v1
kind: ConfigMap
metadata: {name: csa}
data: {k: "1"}
YAML
k 0 "configmap/csa created" apply -f "$T/csa.yaml"
k 0 "manager: kubectl-client-side-apply" get cm csa -o yaml --show-managed-fields
sed -i 's/"1"/"9"/' "$T/csa.yaml"
k 1 'conflict with "kubectl-client-side-apply" using v1: .data.k' apply --server-side -f "$T/csa.yaml"

k 0 'deployment.apps "web" deleted' delete deploy web
k 0 'configmap "cm" deleted' delete cm cm
}

kc_newdir
gen_certs "$T" || { echo "FAIL: openssl"; exit 1; }
if start_etcd "$T"; then ssa_suite "etcd 3.4"; else fail "etcd did not start"; fi
[ $FAILED = 0 ] || kc_dump_logs
kc_cleanup
KC_PIDS=""; KC_LOGS=""
if [ -x "$KUBEC_BUILD/bin/kube-store" ]; then
	kc_newdir
	gen_certs "$T"
	if start_kube_store "$T"; then
		ssa_suite "kube-store"
	else
		echo "NOTE: kube-store is built but does not answer /v3/kv/range; its suite is skipped"
	fi
fi
[ $FAILED = 0 ] || kc_dump_logs
kc_cleanup
if [ $FAILED = 0 ]; then echo "PASS: kubectl_ssa"; exit 0; fi
echo "FAIL: kubectl_ssa"
exit 1
