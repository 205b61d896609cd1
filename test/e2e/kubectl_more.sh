# Real kubectl v1.32 (and the Python client) against kube-apiserver on etcd 3.4: the second
# milestone's kinds (job, cronjob, statefulset, daemonset, HPA v1/v2, PDB, ingress, network
# policy, priority/storage classes, PV/PVC, quota, limit range, events.k8s.io), Strict and
# Warn field validation, service-account tokens (kubectl create token, bearer auth, the
# Python client with the token), YAML bodies and /metrics.
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

ISS=https://kubernetes.default.svc.cluster.local

# more_suite STORE-NAME: the whole sequence against $ETCD_URL (certificates in $T).
more_suite() {
echo "--- suite on $1"
openssl genrsa -out "$T/sa.key" 2048 2>/dev/null && openssl rsa -in "$T/sa.key" -pubout -out "$T/sa.pub" 2>/dev/null ||
	{ fail "service-account key"; return; }
start_apiserver "$T" "$ETCD_URL" --service-account-signing-key-file "$T/sa.key" \
	--service-account-key-file "$T/sa.pub" --service-account-issuer "$ISS" ||
	{ fail "apiserver did not become ready on $1"; return; }
write_kubeconfig "$T" "$API"
export KUBECONFIG="$T/kubeconfig" KUBECACHEDIR="$T/kcache" HOME="$T"
# ServiceAccount admission is on (the signing key is set) and no controller-manager makes
# the default account: create it as the serviceaccount controller would.
kubectl create serviceaccount default >/dev/null 2>&1 || fail "create serviceaccount default"

k() { # k WANT_RC EXPECTED_SUBSTRING kubectl-args...
	want_rc=$1; want=$2; shift 2
	out=$(kubectl "$@" 2>&1); rc=$?
	[ "$rc" = "$want_rc" ] || { fail "kubectl $*: rc=$rc want $want_rc: $out"; return; }
	case "$out" in *"$want"*) ;; *) fail "kubectl $*: output lacks '$want': $out";; esac
}

# Discovery: every new kind, with short names and the preferred autoscaling/v2.
out=$(kubectl api-resources 2>&1)
for re in '^statefulsets +sts +apps/v1 +true +StatefulSet$' '^daemonsets +ds +apps/v1 +true +DaemonSet$' \
	'^controllerrevisions +apps/v1 +true +ControllerRevision$' '^jobs +batch/v1 +true +Job$' \
	'^cronjobs +cj +batch/v1 +true +CronJob$' '^horizontalpodautoscalers +hpa +autoscaling/v2 +true' \
	'^poddisruptionbudgets +pdb +policy/v1 +true' '^ingresses +ing +networking.k8s.io/v1 +true' \
	'^networkpolicies +netpol +networking.k8s.io/v1 +true' '^priorityclasses +pc +scheduling.k8s.io/v1 +false' \
	'^storageclasses +sc +storage.k8s.io/v1 +false' '^persistentvolumes +pv +v1 +false' \
	'^persistentvolumeclaims +pvc +v1 +true' '^resourcequotas +quota +v1 +true' \
	'^limitranges +limits +v1 +true' '^events +ev +events.k8s.io/v1 +true'; do
	echo "$out" | grep -Eq "$re" || fail "api-resources lacks /$re/"
done
k 0 "autoscaling/v1" api-versions

# Built-in priority classes.
k 0 "system-node-critical      2000001000" get priorityclasses
k 0 "system-cluster-critical   2000000000" get pc

# Jobs and cronjobs through kubectl create (protobuf bodies).
k 0 "job.batch/pi created" create job pi --image=busybox -- echo hi
k 0 "pi     Running   0/1" get job pi
k 0 "batch.kubernetes.io/controller-uid=" get job pi -o wide
k 0 "Completions:      1" describe job pi
k 0 "restartPolicy: Never" get job pi -o yaml
k 0 "cronjob.batch/tick created" create cronjob tick --image=busybox --schedule='*/5 * * * *' -- date
k 0 "*/5 * * * *" get cj tick
k 0 "Schedule:                      */5 * * * *" describe cronjob tick
k 1 "unparseable schedule" create cronjob bad --image=busybox --schedule='every minute' -- date

cat > "$T/kinds.yaml" <<'YAML'
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db}
spec:
  serviceName: db
  replicas: 2
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec: {containers: [{name: db, image: "postgres:16"}]}
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent}
spec:
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent}}
    spec: {containers: [{name: a, image: "busybox:1.36"}]}
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: db}
spec: {minAvailable: 1, selector: {matchLabels: {app: db}}}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: web}
spec:
  rules:
  - host: web.example.com
    http:
      paths:
      - {path: /, pathType: Prefix, backend: {service: {name: web, port: {number: 80}}}}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny}
spec: {podSelector: {matchLabels: {app: db}}}
---
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata: {name: local, annotations: {storageclass.kubernetes.io/is-default-class: "true"}}
provisioner: kubernetes.io/no-provisioner
volumeBindingMode: WaitForFirstConsumer
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: data}
spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}
---
apiVersion: v1
kind: ResourceQuota
metadata: {name: q}
spec: {hard: {pods: "10"}}
---
apiVersion: scheduling.k8s.io/v1
kind: PriorityClass
metadata: {name: high}
value: 1000
YAML
k 0 "statefulset.apps/db created" apply -f "$T/kinds.yaml"
k 0 "statefulset.apps/db unchanged" apply -f "$T/kinds.yaml"
k 0 "db     0/2" get sts db
k 0 "Replicas:           2 desired" describe statefulset db
k 0 "statefulset.apps/db scaled" scale sts db --replicas=3
k 0 "db     0/3" get sts db
k 0 "agent   0         0         0       0            0           <none>" get ds agent
k 0 "db     1               N/A               0" get pdb
k 0 "web    <none>   web.example.com" get ingress
k 0 "app=db" get netpol deny
k 0 "local (default)   kubernetes.io/no-provisioner   Delete          WaitForFirstConsumer" get sc
k 0 "data   Pending" get pvc
k 0 "resourcequota/q" get quota q -o name
k 0 "high" get pc high
k 1 "maximum allowed value of a user defined priority is 1000000000" create priorityclass huge --value=2000000000
# Priority admission: the class name resolves to spec.priority; an unknown class is 403.
kubectl run prio --image=busybox --overrides='{"spec":{"priorityClassName":"high"}}' >/dev/null 2>&1 || fail "run prio"
k 0 "1000 PreemptLowerPriority" get pod prio -o 'jsonpath={.spec.priority} {.spec.preemptionPolicy}'
k 1 'pods "noclass" is forbidden: no PriorityClass with name nope was found' run noclass --image=busybox --overrides='{"spec":{"priorityClassName":"nope"}}'
kubectl delete pod prio --grace-period=0 --force >/dev/null 2>&1

# pods/eviction honours the PodDisruptionBudget "db" (selector app=db).
ev() { # ev POD -> HTTP code of an eviction, body in $T/out
	curl -s -o "$T/out" -w '%{http_code}' --cacert "$T/ca.crt" -H "Authorization: Bearer test-token" \
		-H "Content-Type: application/json" -X POST \
		-d "{\"apiVersion\":\"policy/v1\",\"kind\":\"Eviction\",\"metadata\":{\"name\":\"$1\"}}" \
		"$API/api/v1/namespaces/default/pods/$1/eviction"
}
for p in db-0 db-1; do
	kubectl run "$p" --image=busybox --labels=app=db >/dev/null 2>&1 || fail "run $p"
	kubectl patch pod "$p" --subresource=status --type=merge -p '{"status":{"phase":"Running"}}' >/dev/null 2>&1 || fail "pod $p Running"
done
code=$(ev db-0)
[ "$code" = 429 ] || fail "eviction with an unprocessed PDB: HTTP $code $(cat "$T/out")"
grep -q "is still being processed by the server" "$T/out" || fail "429 cause: $(cat "$T/out")"
kubectl patch pdb db --subresource=status --type=merge -p '{"status":{"observedGeneration":1,"disruptionsAllowed":1,"currentHealthy":2,"desiredHealthy":1,"expectedPods":2}}' >/dev/null 2>&1 || fail "pdb status"
code=$(ev db-0)
[ "$code" = 201 ] || fail "eviction allowed by the PDB: HTTP $code $(cat "$T/out")"
k 0 "db     1               N/A               0" get pdb db
code=$(ev db-1)
[ "$code" = 429 ] || fail "second eviction: HTTP $code $(cat "$T/out")"
grep -q "Cannot evict pod as it would violate the pod's disruption budget." "$T/out" || fail "429 message: $(cat "$T/out")"
k 0 "db-1" get pod db-1
kubectl delete pod db-1 --grace-period=0 --force >/dev/null 2>&1

# HPA: kubectl autoscale posts autoscaling/v1 (protobuf); stored as v2, served as both.
k 0 "horizontalpodautoscaler.autoscaling/db autoscaled" autoscale statefulset db --max=5 --cpu-percent=70
k 0 "StatefulSet/db   cpu: <unknown>/70%" get hpa db
k 0 '"targetCPUUtilizationPercentage":70' get --raw /apis/autoscaling/v1/namespaces/default/horizontalpodautoscalers/db
k 0 '"averageUtilization":70' get --raw /apis/autoscaling/v2/namespaces/default/horizontalpodautoscalers/db

# fieldValidation: Strict by default in kubectl (400), Warn prints warnings and creates.
cat > "$T/bad.yaml" <<'YAML'
apiVersion: batch/v1
kind: Job
metadata: {name: typo}
spec:
  backofLimit: 2
  template:
    spec:
      restartPolicy: Never
      containers: [{name: c, image: busybox, imagee: x}]
YAML
k 1 'strict decoding error: unknown field "spec.backofLimit", unknown field "spec.template.spec.containers[0].imagee"' apply -f "$T/bad.yaml"
k 1 "unknown field" create -f "$T/bad.yaml"
k 1 "NotFound" get job typo
k 0 'Warning: unknown field "spec.backofLimit"' apply -f "$T/bad.yaml" --validate=warn
k 0 '"backofLimit":2' get --raw /apis/batch/v1/namespaces/default/jobs/typo

# events.k8s.io/v1 shares the core events storage.
cat > "$T/ev.json" <<'JSON'
{"apiVersion":"events.k8s.io/v1","kind":"Event","metadata":{"name":"e1"},"eventTime":"2026-11-25T13:00:00.000000Z",
 "reportingController":"e2e","reportingInstance":"e2e-1","action":"Check","reason":"Checked","type":"Normal",
 "note":"from events.k8s.io","regarding":{"kind":"Job","name":"pi","namespace":"default"}}
JSON
k 0 "event.events.k8s.io/e1 created" create -f "$T/ev.json"
k 0 '"message":"from events.k8s.io"' get --raw /api/v1/namespaces/default/events/e1
k 0 "job/pi   from events.k8s.io" get events
k 0 '"note":"from events.k8s.io"' get --raw '/apis/events.k8s.io/v1/namespaces/default/events?fieldSelector=regarding.name%3Dpi'
out=$(kubectl get --raw '/apis/events.k8s.io/v1/namespaces/default/events?fieldSelector=regarding.name%3Dother' 2>&1)
case "$out" in *'"items":[]'*) ;; *) fail "events.k8s.io field selector regarding.name=other: $out";; esac

# YAML request body.
code=$(curl -s -o "$T/out" -w '%{http_code}' --cacert "$T/ca.crt" -H "Authorization: Bearer test-token" \
	-H "Content-Type: application/yaml" --data-binary "$(printf 'metadata:\n  name: y1\ndata:\n  port: "8080"\n')" \
	"$API/api/v1/namespaces/default/configmaps")
[ "$code" = 201 ] && [ "$(jq_get "$T/out" data.port)" = 8080 ] || fail "YAML create: $code $(cat "$T/out")"

# Service-account tokens.
kubectl create serviceaccount default >/dev/null 2>&1
kubectl create serviceaccount builder >/dev/null 2>&1 || fail "create serviceaccount builder"
TOKEN=$(kubectl create token builder 2>&1) || fail "kubectl create token: $TOKEN"
claims=$(printf '%s' "$TOKEN" | cut -d. -f2 | tr '_-' '/+' | $PY -c 'import sys,base64,json; s=sys.stdin.read().strip(); print(json.dumps(json.loads(base64.b64decode(s+"="*(-len(s)%4)))))')
case "$claims" in *'"sub": "system:serviceaccount:default:builder"'*'"iss"'*|*'"iss"'*'"sub": "system:serviceaccount:default:builder"'*) ;; *) fail "token claims: $claims";; esac
case "$claims" in *"\"aud\": [\"$ISS\"]"*) ;; *) fail "token audience: $claims";; esac
k 0 "eyJ" create token default --duration=20m
k 1 "may not specify a duration less than 10 minutes" create token default --duration=1m
code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$T/ca.crt" -H "Authorization: Bearer $TOKEN" "$API/api/v1/namespaces/default/configmaps")
[ "$code" = 200 ] || fail "bearer SA token: HTTP $code"
code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$T/ca.crt" -H "Authorization: Bearer ${TOKEN}x" "$API/api/v1/namespaces/default/configmaps")
[ "$code" = 401 ] || fail "tampered SA token: HTTP $code"
TOKEN="$TOKEN" CA="$T/ca.crt" API="$API" $PY - <<'PYEOF' || fail "python client with a service-account token"
import os
from kubernetes import client
cfg = client.Configuration()
cfg.host = os.environ["API"]
cfg.ssl_ca_cert = os.environ["CA"]
cfg.api_key = {"authorization": "Bearer " + os.environ["TOKEN"]}
api = client.ApiClient(cfg)
core = client.CoreV1Api(api)
names = [c.metadata.name for c in core.list_namespaced_config_map("default").items]
assert "y1" in names, names
batch = client.BatchV1Api(api)
job = batch.read_namespaced_job("pi", "default")
assert job.spec.completions == 1 and job.spec.backoff_limit == 6, job.spec
jobs = [j.metadata.name for j in batch.list_namespaced_job("default").items]
assert "pi" in jobs, jobs
print("python ok")
PYEOF
# A token bound to a pod (kubectl create token --bound-object-*, a protobuf TokenRequest):
# the pod's name and uid in the claims, refused for another uid, dead with the pod; and
# kubectl auth whoami with it.
kubectl run tokpod --image=busybox >/dev/null 2>&1 || fail "run tokpod"
PUID=$(kubectl get pod tokpod -o jsonpath='{.metadata.uid}')
BTOK=$(kubectl create token default --bound-object-kind Pod --bound-object-name tokpod --bound-object-uid "$PUID" 2>&1) ||
	fail "kubectl create token --bound-object-kind Pod: $BTOK"
bclaims=$(printf '%s' "$BTOK" | cut -d. -f2 | tr '_-' '/+' | $PY -c 'import sys,base64,json; s=sys.stdin.read().strip(); print(json.dumps(json.loads(base64.b64decode(s+"="*(-len(s)%4)))["kubernetes.io"]["pod"]))')
[ "$bclaims" = "{\"name\": \"tokpod\", \"uid\": \"$PUID\"}" ] || fail "bound pod claims: $bclaims"
k 1 'the UID in the bound object reference (0000) does not match the UID in record' create token default \
	--bound-object-kind Pod --bound-object-name tokpod --bound-object-uid 0000
who=$(kubectl --kubeconfig=/dev/null --server "$API" --certificate-authority "$T/ca.crt" --token "$BTOK" auth whoami 2>&1) ||
	fail "auth whoami with the bound token: $who"
case "$who" in *"system:serviceaccount:default:default"*"authentication.kubernetes.io/pod-name"*tokpod*) ;; *) fail "whoami: $who";; esac
kubectl delete pod tokpod --grace-period=0 --force >/dev/null 2>&1
code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$T/ca.crt" -H "Authorization: Bearer $BTOK" "$API/api/v1/namespaces/default/configmaps")
[ "$code" = 401 ] || fail "token bound to a deleted pod: HTTP $code"
kubectl delete serviceaccount builder >/dev/null 2>&1
code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$T/ca.crt" -H "Authorization: Bearer $TOKEN" "$API/api/v1/namespaces/default/configmaps")
[ "$code" = 401 ] || fail "token of a deleted ServiceAccount: HTTP $code"

# /metrics.
curl -s --cacert "$T/ca.crt" -H "Authorization: Bearer test-token" "$API/metrics" > "$T/metrics"
grep -q 'apiserver_request_total{code="201",component="apiserver",group="batch",resource="jobs",scope="namespace",subresource="",verb="POST",version="v1"}' "$T/metrics" ||
	fail "metrics: no POST jobs 201 counter: $(grep jobs "$T/metrics" | head -3)"
grep -q 'apiserver_request_duration_seconds_bucket{component="apiserver",group="apps",resource="statefulsets",scope="resource",subresource="scale",verb="PATCH",version="v1",le="+Inf"}' "$T/metrics" ||
	fail "metrics: no scale PATCH histogram"
grep -q '^apiserver_registered_watchers{group="",kind="Pod",version="v1"} 0' "$T/metrics" || fail "metrics: watchers gauge"
code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$T/ca.crt" "$API/metrics")
[ "$code" = 401 ] || fail "anonymous /metrics: HTTP $code"

# Clean-up through kubectl.
k 0 'job.batch "pi" deleted' delete job pi
k 0 'statefulset.apps "db" deleted' delete -f "$T/kinds.yaml"

}

kc_newdir
gen_certs "$T" || { echo "FAIL: openssl"; exit 1; }
if start_etcd "$T"; then more_suite "etcd 3.4"; else fail "etcd did not start"; fi
[ $FAILED = 0 ] || kc_dump_logs
kc_cleanup
KC_PIDS=""; KC_LOGS=""
if [ -x "$KUBEC_BUILD/bin/kube-store" ]; then
	kc_newdir
	gen_certs "$T"
	if start_kube_store "$T"; then
		more_suite "kube-store"
	else
		echo "NOTE: kube-store is built but does not answer /v3/kv/range; its suite is skipped"
	fi
fi
[ $FAILED = 0 ] || kc_dump_logs
kc_cleanup
if [ $FAILED = 0 ]; then echo "PASS: kubectl_more"; exit 0; fi
echo "FAIL: kubectl_more"
exit 1
