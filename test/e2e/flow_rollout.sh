#!/bin/sh
# Rolling update with zero failed requests (issue 9 item 3), one node, real containerd:
# kubectl apply -f examples/web-rolling.yaml (3 replicas, readiness probes, resources,
# RollingUpdate maxUnavailable 0 / maxSurge 1, 5 s of serving after SIGTERM) -> 3 Ready
# pods -> a client loop on the host requests the ClusterIP every ~50 ms -> the pod
# template's `version` label and VERSION env change from v1 to v2 (kubectl apply) ->
# `kubectl rollout status` reports success, no v1 pod is left -> the loop saw no failed
# request, answers from v1 and then v2 pods, and only v2 at the end.
# What makes it hold: kube-proxy only routes to ready endpoints (a new pod gets traffic
# once its readiness probe passes; a terminating pod is dropped from the KUBE-SVC chain
# as soon as its EndpointSlice says ready=false, upstream's behaviour), and the old pod
# keeps serving during its 5 s of grace.
set -u
: "${KUBEC_BUILD:?}"
KUBEC_ROOT=${KUBEC_ROOT:-$(pwd)}
export KUBEC_BUILD KUBEC_ROOT
. "$KUBEC_ROOT/test/e2e/lib/flow_cluster.sh"
flow_scenario_init rollout
STOP=$FLOW_T/stop-client
LOOP_PID=""
stop_loop() {
	: >"$STOP"
	[ -n "$LOOP_PID" ] && wait "$LOOP_PID" 2>/dev/null
	LOOP_PID=""
}
trap 'stop_loop; _flow_scenario_exit' EXIT

M=$KUBEC_ROOT/examples/web-rolling.yaml
kubectl apply -f "$M" >/dev/null || flow_fail "kubectl apply -f examples/web-rolling.yaml"
three_ready() { [ "$(flow_ready_pods app=web-rolling,version="$1" | grep -c .)" = 3 ]; }
flow_wait_for 90 three_ready v1 || flow_fail "3 v1 pods never Ready: $(kubectl get pods -o wide 2>&1)"
eps3() { [ "$(flow_ready_endpoints web-rolling)" = 3 ]; }
flow_wait_for 30 eps3 || flow_fail "Service web-rolling never had 3 ready endpoints"
CIP=$(kubectl get svc web-rolling -o jsonpath='{.spec.clusterIP}')
[ -n "$CIP" ] || flow_fail "Service web-rolling has no clusterIP"
flow_wait_for 20 curl -sf --max-time 2 "http://$CIP/" || flow_fail "http://$CIP/ never answered"
echo "ok 3 v1 pods Ready behind ClusterIP $CIP"

# ---- the client loop: one line per request, "ok <pod> <version>" or "FAILED <curl exit>"
(
	while [ ! -e "$STOP" ]; do
		if r=$(curl -s --max-time 2 "http://$CIP/"); then
			echo "ok $r"
		else
			echo "FAILED $?"
		fi
		sleep 0.05
	done
) >"$FLOW_T/client.log" 2>&1 &
LOOP_PID=$!
got_v() { grep -q "^ok .* $1\$" "$FLOW_T/client.log"; }
flow_wait_for 20 got_v v1 || flow_fail "the client loop got no answer"

# ---- roll out v2
sed 's/^\(  *version: \)v1$/\1v2/; s/^\(  *value: \)v1$/\1v2/' "$M" >"$FLOW_T/web-rolling-v2.yaml"
grep -q 'version: v2' "$FLOW_T/web-rolling-v2.yaml" || flow_fail "could not make the v2 manifest"
T0=$(date +%s)
kubectl apply -f "$FLOW_T/web-rolling-v2.yaml" >/dev/null || flow_fail "kubectl apply (v2)"
kubectl rollout status deployment/web-rolling --timeout=120s >"$FLOW_T/rollout.txt" 2>&1 ||
	flow_fail "kubectl rollout status: $(tail -n 3 "$FLOW_T/rollout.txt")"
no_v1() { [ -z "$(kubectl get pods -l app=web-rolling,version=v1 -o name)" ]; }
flow_wait_for 60 no_v1 || flow_fail "v1 pods left after the rollout: $(kubectl get pods -o wide 2>&1)"
flow_wait_for 30 three_ready v2 || flow_fail "not 3 Ready v2 pods: $(kubectl get pods -o wide 2>&1)"
echo "ok rolled out to v2 in $(($(date +%s) - T0))s ($(tail -n 1 "$FLOW_T/rollout.txt"))"
# a few more requests after the last old pod is gone
n0=$(grep -c . "$FLOW_T/client.log")
more() { [ $(($(grep -c . "$FLOW_T/client.log") - n0)) -ge 20 ]; }
flow_wait_for 30 more || flow_fail "the client loop stalled"
stop_loop

total=$(grep -c . "$FLOW_T/client.log")
failed=$(grep -c '^FAILED' "$FLOW_T/client.log")
v1=$(grep -c ' v1$' "$FLOW_T/client.log")
v2=$(grep -c ' v2$' "$FLOW_T/client.log")
echo "client loop: $total requests, $failed failed, $v1 answered by v1 pods, $v2 by v2 pods"
[ "$failed" = 0 ] || flow_fail "$failed of $total requests failed during the rollout: $(grep -n '^FAILED' "$FLOW_T/client.log" | head -n 5 | tr '\n' ' ')"
[ "$v1" -gt 0 ] && [ "$v2" -gt 0 ] || flow_fail "expected answers from both versions"
[ "$(grep -c . "$FLOW_T/client.log")" = $((v1 + v2)) ] || flow_fail "unexpected answers: $(grep -v ' v[12]$' "$FLOW_T/client.log" | head -n 3)"
tail -n 10 "$FLOW_T/client.log" | grep -q ' v1$' && flow_fail "v1 still answering after the rollout"
echo "ok zero failed requests through the rollout"

kubectl delete -f "$M" --wait=false >/dev/null || flow_fail "kubectl delete -f examples/web-rolling.yaml"
no_pods() { [ -z "$(kubectl get pods -o name 2>/dev/null)" ]; }
flow_wait_for 60 no_pods || flow_fail "pods remain after deleting the Deployment: $(kubectl get pods -o wide 2>&1)"
echo "ok web-rolling deleted"
flow_pass
