#!/bin/sh
# The examples a user tries first stay true (issue 9 item 4), one node, real containerd:
# examples/configmap-env.yaml: a ConfigMap as environment (envFrom, configMapKeyRef) and
# as files (configMap volume), a Secret key as environment; the pod prints them and ends
# Completed. (examples/web.yaml runs in flow.sh, flow_pod_client.sh and
# flow_scale_zero.sh; examples/web-rolling.yaml in flow_rollout.sh.)
set -u
: "${KUBEC_BUILD:?}"
KUBEC_ROOT=${KUBEC_ROOT:-$(pwd)}
export KUBEC_BUILD KUBEC_ROOT
. "$KUBEC_ROOT/test/e2e/lib/flow_cluster.sh"
flow_scenario_init examples

M=$KUBEC_ROOT/examples/configmap-env.yaml
kubectl apply -f "$M" >"$FLOW_T/apply.txt" 2>&1 || flow_fail "kubectl apply -f examples/configmap-env.yaml: $(cat "$FLOW_T/apply.txt")"
done_() {
	ph=$(kubectl get pod configmap-demo -o jsonpath='{.status.phase}')
	[ "$ph" = Succeeded ] || [ "$ph" = Failed ]
}
flow_wait_for 90 done_ || flow_fail "configmap-demo never finished: $(kubectl describe pod configmap-demo 2>&1 | tail -n 15)"
row=$(kubectl get pod configmap-demo --no-headers)
echo "$row" | grep -q ' Completed ' || flow_fail "kubectl get pod configmap-demo: $row"
echo "ok kubectl get pod: $row"
flow_pod_log configmap-demo demo >"$FLOW_T/out"
printf '%s\n' "GREETING=hello from a ConfigMap" "LEVEL=debug" "PASSWORD=s3cr3t" \
	"file app.properties:" "color=blue" "size=3" >"$FLOW_T/want"
cmp -s "$FLOW_T/want" "$FLOW_T/out" || flow_fail "configmap-demo printed: $(cat "$FLOW_T/out")"
echo "ok configmap-demo saw the ConfigMap as env and as a file, and the Secret as env"
kubectl delete -f "$M" --wait=false >/dev/null || flow_fail "kubectl delete -f examples/configmap-env.yaml"
gone() { ! kubectl get pod configmap-demo >/dev/null 2>&1; }
flow_wait_for 60 gone || flow_fail "configmap-demo not deleted"
echo "ok deleted"
flow_pass
