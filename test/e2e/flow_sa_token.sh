#!/bin/sh
# Service-account token volumes end to end (issue 5), one node, real containerd: a pod
# created with no volumes gets ServiceAccount admission's kube-api-access-<5> projected
# volume; the kubelet fills it (TokenRequest bound to the pod, the controller-manager's
# kube-root-ca.crt ConfigMap, the namespace via the downward API) and the container reads
# /var/run/secrets/kubernetes.io/serviceaccount/{token,ca.crt,namespace}. The token it
# read authenticates against the apiserver (with only the CA and the token, no client
# certificate) as system:serviceaccount:default:default bound to that pod, per
# `kubectl auth whoami`, and stops authenticating once the pod is deleted.
set -u
: "${KUBEC_BUILD:?}"
KUBEC_ROOT=${KUBEC_ROOT:-$(pwd)}
export KUBEC_BUILD KUBEC_ROOT
. "$KUBEC_ROOT/test/e2e/lib/flow_cluster.sh"
flow_scenario_init sa-token

cat >"$FLOW_T/reader.yaml" <<'YAML'
apiVersion: v1
kind: Pod
metadata:
  name: sa-reader
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: reader
    image: busybox:1.35
    command: ["sh", "-c", "d=/var/run/secrets/kubernetes.io/serviceaccount; echo TOKEN=$(cat $d/token); echo NS=$(cat $d/namespace); echo CA-BEGIN; cat $d/ca.crt; echo CA-END; exec sleep 3600"]
YAML
kubectl create -f "$FLOW_T/reader.yaml" >/dev/null || flow_fail "create sa-reader"
VOL=$(kubectl get pod sa-reader -o jsonpath='{.spec.volumes[0].name}')
case "$VOL" in kube-api-access-?????) ;; *) flow_fail "no kube-api-access volume: '$VOL'" ;; esac
MNT=$(kubectl get pod sa-reader -o jsonpath='{.spec.containers[0].volumeMounts[0].mountPath} {.spec.containers[0].volumeMounts[0].readOnly}')
[ "$MNT" = "/var/run/secrets/kubernetes.io/serviceaccount true" ] || flow_fail "mount: '$MNT'"
echo "ok admission added $VOL mounted read-only at /var/run/secrets/kubernetes.io/serviceaccount"

running() { [ "$(kubectl get pod sa-reader -o jsonpath='{.status.phase}')" = Running ]; }
flow_wait_for 90 running || flow_fail "sa-reader never Running: $(kubectl get pod sa-reader -o jsonpath='{.status}' 2>&1)"
read_all() { flow_pod_log sa-reader reader | grep -q '^CA-END'; }
flow_wait_for 30 read_all || flow_fail "the pod did not print the three files: $(flow_pod_log sa-reader reader)"
flow_pod_log sa-reader reader >"$FLOW_T/reader.out"
kubectl logs sa-reader >"$FLOW_T/reader.kubectl" 2>&1 || flow_fail "kubectl logs sa-reader: $(cat "$FLOW_T/reader.kubectl")"
cmp -s "$FLOW_T/reader.out" "$FLOW_T/reader.kubectl" || flow_fail "kubectl logs differs from the CRI log"

grep -qx 'NS=default' "$FLOW_T/reader.out" || flow_fail "namespace file: $(grep '^NS=' "$FLOW_T/reader.out")"
sed -n '/^CA-BEGIN$/,/^CA-END$/p' "$FLOW_T/reader.out" | sed '1d;$d' >"$FLOW_T/pod-ca.crt"
# The published CA is the cluster CA the apiserver's serving certificate chains to.
kubectl get configmap kube-root-ca.crt -o jsonpath='{.data.ca\.crt}' >"$FLOW_T/cm-ca.crt"
[ -s "$FLOW_T/pod-ca.crt" ] && cmp -s "$FLOW_T/pod-ca.crt" "$FLOW_T/cm-ca.crt" ||
	flow_fail "ca.crt in the pod differs from the kube-root-ca.crt ConfigMap"
. "$FLOW_T/cluster.env"
API=$(kubectl config view --minify -o jsonpath='{.clusters[0].cluster.server}')
curl -sf --cacert "$FLOW_T/pod-ca.crt" "$API/readyz" >/dev/null ||
	flow_fail "the pod's ca.crt does not verify the apiserver"
TOK=$(sed -n 's/^TOKEN=//p' "$FLOW_T/reader.out")
[ -n "$TOK" ] || flow_fail "empty token"
echo "ok the pod read token, ca.crt and namespace=default"

# kubectl with nothing but the server, the pod's CA and the pod's token.
sak() { kubectl --kubeconfig=/dev/null --server "$API" --certificate-authority "$FLOW_T/pod-ca.crt" --token "$TOK" "$@"; }
sak auth whoami -o json >"$FLOW_T/whoami.json" 2>&1 || flow_fail "kubectl auth whoami with the pod's token: $(cat "$FLOW_T/whoami.json")"
PUID=$(kubectl get pod sa-reader -o jsonpath='{.metadata.uid}')
$FLOW_PY - "$FLOW_T/whoami.json" "$PUID" <<'PYEOF' || flow_fail "whoami: $(cat "$FLOW_T/whoami.json")"
import json, sys
u = json.load(open(sys.argv[1]))["status"]["userInfo"]
assert u["username"] == "system:serviceaccount:default:default", u
assert "system:serviceaccounts:default" in u["groups"], u
ex = u.get("extra", {})
assert ex.get("authentication.kubernetes.io/pod-name") == ["sa-reader"], u
assert ex.get("authentication.kubernetes.io/pod-uid") == [sys.argv[2]], u
PYEOF
sak get pods sa-reader >/dev/null 2>&1 || flow_fail "kubectl get pods with the pod's token"
echo "ok the token authenticates as system:serviceaccount:default:default bound to pod sa-reader"

kubectl delete pod sa-reader --wait=false >/dev/null || flow_fail "delete sa-reader"
gone() { ! kubectl get pod sa-reader >/dev/null 2>&1; }
flow_wait_for 60 gone || flow_fail "sa-reader never went away"
out=$(sak get pods 2>&1) && flow_fail "the token still works after the pod is gone: $out"
case "$out" in *Unauthorized*) ;; *) flow_fail "want Unauthorized after the pod is gone, got: $out" ;; esac
echo "ok the pod's token is rejected once the pod is deleted"
flow_pass
