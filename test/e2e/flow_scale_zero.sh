#!/bin/sh
# Scale to zero and back (issue 9 item 3), one node, real containerd:
# kubectl apply -f examples/web.yaml -> 3 Ready pods serving through the ClusterIP ->
# kubectl scale --replicas=0 -> no pods, the Service has no ready endpoints, and both the
# ClusterIP and the NodePort REJECT as upstream's kube-proxy does (filter KUBE-SERVICES /
# KUBE-EXTERNAL-SERVICES: icmp port-unreachable, so curl fails at once with "connection
# refused", exit 7, instead of hanging until its timeout, exit 28) -> scale to 3 -> every
# new pod answers through the ClusterIP and the NodePort works again.
set -u
: "${KUBEC_BUILD:?}"
KUBEC_ROOT=${KUBEC_ROOT:-$(pwd)}
export KUBEC_BUILD KUBEC_ROOT
. "$KUBEC_ROOT/test/e2e/lib/flow_cluster.sh"
flow_scenario_init scale-zero

kubectl apply -f "$KUBEC_ROOT/examples/web.yaml" >/dev/null || flow_fail "kubectl apply -f examples/web.yaml"
n_ready() { [ "$(flow_ready_pods app=web | grep -c .)" = "$1" ]; }
n_pods() { [ "$(kubectl get pods -l app=web -o name | grep -c .)" = "$1" ]; }
n_eps() { [ "$(flow_ready_endpoints web)" = "$1" ]; }
flow_wait_for 90 n_ready 3 || flow_fail "3 web pods never Ready: $(kubectl get pods -o wide 2>&1)"
flow_wait_for 30 n_eps 3 || flow_fail "Service web never had 3 ready endpoints"
CIP=$(kubectl get svc web -o jsonpath='{.spec.clusterIP}')
NP=$(kubectl get svc web-nodeport -o jsonpath='{.spec.ports[0].nodePort}')
[ -n "$CIP" ] && [ -n "$NP" ] || flow_fail "Service web has no clusterIP or web-nodeport no nodePort"
flow_wait_for 20 curl -sf --max-time 2 "http://$CIP/" || flow_fail "http://$CIP/ never answered"
echo "ok 3 pods serve through ClusterIP $CIP and NodePort $FLOW_NODE_IP:$NP"

# all_reached: 60 requests, none fails, the answers are exactly the Ready pods' names
all_reached() {
	flow_ready_pods app=web | sort >"$FLOW_T/want"
	i=0
	while [ $i -lt 60 ]; do
		curl -s --max-time 3 "http://$CIP/" || echo FAILED
		i=$((i + 1))
	done | sort -u >"$FLOW_T/got"
	cmp -s "$FLOW_T/want" "$FLOW_T/got"
}

# ---- scale to 0: no endpoints, REJECT
kubectl scale deployment web --replicas=0 >/dev/null || flow_fail "scale to 0"
flow_wait_for 60 n_pods 0 || flow_fail "pods remain after scale to 0: $(kubectl get pods -o wide 2>&1)"
flow_wait_for 30 n_eps 0 || flow_fail "Service web still has ready endpoints"
# curl_rc URL: curl's exit status (7: refused, 28: timed out, 0: answered)
curl_rc() {
	curl -s -o /dev/null --max-time 5 "$1"
	echo $?
}
rejected() { [ "$(curl_rc "$1")" = 7 ]; }
flow_wait_for 20 rejected "http://$CIP/" || flow_fail "ClusterIP not REJECTed (curl exit $(curl_rc "http://$CIP/"))"
flow_wait_for 20 rejected "http://$FLOW_NODE_IP:$NP/" ||
	flow_fail "NodePort not REJECTed (curl exit $(curl_rc "http://$FLOW_NODE_IP:$NP/"))"
# REJECT, not a dropped packet: every attempt fails fast (5 attempts well under one
# curl timeout of 5 s each)
s0=$(date +%s)
for i in 1 2 3 4 5; do
	rc=$(curl_rc "http://$CIP/")
	[ "$rc" = 7 ] || flow_fail "attempt $i to the ClusterIP: curl exit $rc, want 7 (refused)"
done
[ $(($(date +%s) - s0)) -lt 5 ] || flow_fail "5 refused connections took $(($(date +%s) - s0)) s"
# (iptables-save prints the matches in its own order)
iptables-save -t filter | grep '^-A KUBE-SERVICES ' | grep '"default/web has no endpoints"' |
	grep -- "-d $CIP/32 " | grep -q -- '-j REJECT' ||
	flow_fail "no REJECT rule for default/web in the filter table: $(iptables-save -t filter | grep KUBE-SERVICES | head -n 5)"
echo "ok scaled to 0: no pods, no endpoints, ClusterIP and NodePort refuse connections at once"

# ---- and back to 3
kubectl scale deployment web --replicas=3 >/dev/null || flow_fail "scale to 3"
flow_wait_for 90 n_ready 3 || flow_fail "never 3 Ready pods after scale to 3: $(kubectl get pods -o wide 2>&1)"
flow_wait_for 30 n_eps 3 || flow_fail "endpoints not 3 after scale to 3"
flow_wait_for 30 all_reached || flow_fail "ClusterIP after scale to 3: want $(tr '\n' ' ' <"$FLOW_T/want") got $(tr '\n' ' ' <"$FLOW_T/got")"
body=$(curl -s --max-time 3 "http://$FLOW_NODE_IP:$NP/")
grep -qx "$body" "$FLOW_T/want" || flow_fail "NodePort after scale to 3 answered '$body'"
iptables-save -t filter | grep -q '"default/web has no endpoints"' && flow_fail "REJECT rule still present"
echo "ok scaled back to 3: all 3 new pods answer through the ClusterIP, the NodePort answers"

kubectl delete -f "$KUBEC_ROOT/examples/web.yaml" --wait=false >/dev/null || flow_fail "kubectl delete -f examples/web.yaml"
flow_wait_for 60 n_pods 0 || flow_fail "pods remain after deleting the Deployment"
echo "ok web deleted"
flow_pass
