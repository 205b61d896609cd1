#!/bin/sh
# The control plane's failure modes (issue 9 item 3), one node, real containerd:
# kubectl apply -f examples/web.yaml -> 3 Ready pods behind the ClusterIP -> kill -9
# kube-apiserver, kube-scheduler and kube-controller-manager in turn.  While each is down a
# client loop through the ClusterIP keeps succeeding (the data plane, kube-proxy's iptables
# rules and the pods, needs no control plane).  Then reconciliation, as upstream:
#   kube-apiserver down: kubectl fails; after the restart (same command line) the
#     controllers' watches resume: a pod deleted then is replaced and its endpoints follow.
#   kube-scheduler down: a pod deleted meanwhile is replaced by the controller-manager, but
#     the replacement stays Pending with no node until the scheduler is back, then runs.
#   kube-controller-manager down: a pod deleted meanwhile is not replaced (nothing creates
#     pods); once the controller-manager is back the ReplicaSet has 3 Ready pods again and
#     the EndpointSlice lists exactly their IPs.
# The client loop runs while the component is down and no pod is being deleted: a pod
# killed while the controller-manager is down stays in the EndpointSlice (its controller is
# down) so requests sent to it fail, upstream too; that window is not what this checks.
# Each restart waits on the component's health endpoint; the recovery times are printed,
# not asserted (a restarted leader-elected component first waits for the dead one's Lease
# to expire: leaseDuration 15 s, as upstream).
set -u
: "${KUBEC_BUILD:?}"
KUBEC_ROOT=${KUBEC_ROOT:-$(pwd)}
export KUBEC_BUILD KUBEC_ROOT
. "$KUBEC_ROOT/test/e2e/lib/flow_cluster.sh"
flow_scenario_init control-plane
T=$FLOW_T

all_names() { kubectl get pods -l app=web -o jsonpath='{range .items[*]}{.metadata.name}{"\n"}{end}'; }
exactly_ready() { [ "$(all_names | grep -c .)" = "$1" ] && [ "$(flow_ready_pods app=web | grep -c .)" = "$1" ]; }
endpoints_ready() { [ "$(flow_ready_endpoints web)" = "$1" ]; }
now_ms() { date +%s%3N; }
# endpoints_follow: the EndpointSlices' ready addresses are exactly the Ready pods' IPs
endpoints_follow() {
	kubectl get pods -l app=web -o json | $FLOW_PY -c '
import json, sys
for p in json.load(sys.stdin)["items"]:
    st = p.get("status", {})
    conds = {c["type"]: c["status"] for c in st.get("conditions", [])}
    if not p["metadata"].get("deletionTimestamp") and conds.get("Ready") == "True":
        print(st.get("podIP", ""))' | sort >"$T/pod-ips"
	kubectl get endpointslices -l kubernetes.io/service-name=web -o json | $FLOW_PY -c '
import json, sys
for s in json.load(sys.stdin)["items"]:
    for e in s.get("endpoints") or []:
        if (e.get("conditions") or {}).get("ready", True):
            for a in e.get("addresses", []):
                print(a)' | sort >"$T/ep-ips"
	[ "$(grep -c . "$T/pod-ips")" = 3 ] && cmp -s "$T/pod-ips" "$T/ep-ips"
}
# all_reached: 60 requests through the ClusterIP, none fails, answered by exactly the Ready pods
all_reached() {
	flow_ready_pods app=web | sort >"$T/want"
	i=0
	while [ $i -lt 60 ]; do
		curl -s --max-time 3 "http://$CIP/" || echo FAILED
		i=$((i + 1))
	done | sort -u >"$T/got"
	cmp -s "$T/want" "$T/got"
}

kubectl apply -f "$KUBEC_ROOT/examples/web.yaml" >/dev/null || flow_fail "kubectl apply -f examples/web.yaml"
flow_wait_for 90 exactly_ready 3 || flow_fail "3 web pods never Ready: $(kubectl get pods -o wide 2>&1)"
flow_wait_for 30 endpoints_follow || flow_fail "Service web's endpoints never matched the 3 pods"
CIP=$(kubectl get svc web -o jsonpath='{.spec.clusterIP}')
[ -n "$CIP" ] || flow_fail "Service web has no clusterIP"
flow_wait_for 20 all_reached || flow_fail "ClusterIP $CIP did not reach all 3 pods: $(tr '\n' ' ' <"$T/got")"
echo "ok 3 Ready pods behind ClusterIP $CIP: $(tr '\n' ' ' <"$T/want")"

# crash COMP: note the serving pods (the API may be gone next), then kill -9 COMP
crash() {
	flow_ready_pods app=web | sort >"$T/serving"
	[ "$(grep -c . "$T/serving")" = 3 ] || flow_fail "not 3 serving pods before killing $1: $(tr '\n' ' ' <"$T/serving")"
	flow_kill9 "$T" "$1" || flow_fail "kill -9 $1"
}

# while_down COMP: with COMP killed, a client loop through the ClusterIP answers 40
# requests (~3 s) from the pods that served before, and none fails
while_down() {
	: >"$T/client-$1.log"
	flow_client_start "http://$CIP/" "$T/client-$1.log"
	CLIENT_LOG=$T/client-$1.log
	enough() { [ "$(flow_client_lines "$CLIENT_LOG")" -ge 40 ]; }
	flow_wait_for 30 enough || flow_fail "client loop stalled with $1 down"
	flow_client_stop
	total=$(flow_client_lines "$T/client-$1.log")
	failed=$(flow_client_lines "$T/client-$1.log" '^FAILED')
	echo "client loop with $1 down: $total requests, $failed failed"
	[ "$failed" = 0 ] || flow_fail "$failed of $total requests failed with $1 down: $(grep -n '^FAILED' "$T/client-$1.log" | head -n 5 | tr '\n' ' ')"
	sed -n 's/^ok //p' "$T/client-$1.log" | sort -u >"$T/answered"
	[ -z "$(comm -13 "$T/serving" "$T/answered")" ] ||
		flow_fail "with $1 down, answers from unknown pods: $(comm -13 "$T/serving" "$T/answered" | tr '\n' ' ')"
}

# restart COMP: flow_restart_wait with the first command line; prints the time to healthy
restart() {
	ms=$(flow_restart_wait "$T" "$1" 60) || flow_fail "$1 did not come back healthy after its restart"
	echo "recovery: $1 healthy ${ms} ms after its restart"
	RESTARTED_MS=$(now_ms)
}

# recovered COMP VICTIM: VICTIM replaced, 3 Ready pods, endpoints follow, all 3 reached
recovered() {
	GONE=$2
	replaced() { exactly_ready 3 && ! all_names | grep -qx "$GONE"; }
	flow_wait_for 90 replaced || flow_fail "after $1's restart, pod $2 not replaced: $(kubectl get pods -o wide 2>&1)"
	flow_wait_for 30 endpoints_follow || flow_fail "after $1's restart the endpoints ($(tr '\n' ' ' <"$T/ep-ips")) do not follow the pods ($(tr '\n' ' ' <"$T/pod-ips"))"
	echo "recovery: after $1's restart, 3 Ready pods and their endpoints in $(($(now_ms) - RESTARTED_MS)) ms"
	flow_wait_for 20 all_reached || flow_fail "after $1's restart the ClusterIP answers $(tr '\n' ' ' <"$T/got"), want $(tr '\n' ' ' <"$T/want")"
	echo "ok kill -9 $1: the Service kept serving; pod $2 replaced and serving"
}

# ---- kube-apiserver
crash kube-apiserver
kubectl get pods --request-timeout=3s >/dev/null 2>&1 && flow_fail "kubectl still works with kube-apiserver killed"
while_down kube-apiserver
restart kube-apiserver
VICTIM=$(flow_ready_pods app=web | head -n 1)
kubectl delete pod "$VICTIM" --wait=false >/dev/null || flow_fail "delete pod $VICTIM after the apiserver's restart"
recovered kube-apiserver "$VICTIM"

# ---- kube-scheduler: a replacement made meanwhile stays Pending, unbound
crash kube-scheduler
while_down kube-scheduler
all_names | sort >"$T/before"
VICTIM=$(flow_ready_pods app=web | head -n 1)
kubectl delete pod "$VICTIM" --wait=false >/dev/null || flow_fail "delete pod $VICTIM with kube-scheduler down"
new_pod() { all_names | sort | comm -13 "$T/before" - | grep .; }
flow_wait_for 30 new_pod || flow_fail "the controller-manager made no replacement for $VICTIM: $(kubectl get pods -o wide 2>&1)"
NEW=$(new_pod | head -n 1)
victim_gone() { ! all_names | grep -qx "$VICTIM"; }
flow_wait_for 60 victim_gone || flow_fail "pod $VICTIM never went away"
node=$(kubectl get pod "$NEW" -o jsonpath='{.spec.nodeName}')
phase=$(kubectl get pod "$NEW" -o jsonpath='{.status.phase}')
if [ -n "$node" ] || [ "$phase" != Pending ]; then
	flow_fail "with kube-scheduler down, replacement $NEW is on node '$node', phase $phase"
fi
echo "ok with kube-scheduler down, replacement $NEW stays Pending with no node"
restart kube-scheduler
recovered kube-scheduler "$VICTIM"
[ -n "$(kubectl get pod "$NEW" -o jsonpath='{.spec.nodeName}')" ] || flow_fail "$NEW was never bound"

# ---- kube-controller-manager: nothing replaces a pod deleted meanwhile
crash kube-controller-manager
while_down kube-controller-manager
all_names | sort >"$T/before"
VICTIM=$(flow_ready_pods app=web | head -n 1)
kubectl delete pod "$VICTIM" --wait=false >/dev/null || flow_fail "delete pod $VICTIM with kube-controller-manager down"
# until the kubelet has stopped it and the pod object is gone, and for 10 checks after,
# no other pod appears
extra=0
polls=0
end=$(($(date +%s) + 60))
while [ "$(date +%s)" -lt "$end" ]; do
	all_names | sort >"$T/now"
	[ -n "$(comm -13 "$T/before" "$T/now")" ] && flow_fail "with kube-controller-manager down, a pod was created: $(comm -13 "$T/before" "$T/now" | tr '\n' ' ')"
	if ! grep -qx "$VICTIM" "$T/now"; then
		extra=$((extra + 1))
		[ $extra -ge 10 ] && break
	fi
	polls=$((polls + 1))
	sleep 0.3
done
[ $extra -ge 10 ] || flow_fail "pod $VICTIM never went away with kube-controller-manager down"
[ "$(grep -c . "$T/now")" = 2 ] || flow_fail "expected 2 pods with kube-controller-manager down, have $(tr '\n' ' ' <"$T/now")"
echo "ok with kube-controller-manager down, deleted pod $VICTIM is gone and not replaced ($((polls + extra)) checks)"
restart kube-controller-manager
recovered kube-controller-manager "$VICTIM"

flow_pass
