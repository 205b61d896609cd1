#!/bin/sh
# The seed flow end to end on one node, real containerd and real kubectl (issue 9 item 3):
# kubectl apply -f examples/web.yaml -> 3 pods Running and Ready -> requests to the
# ClusterIP from the host reach all 3 pods (each serves its own hostname) -> a deleted pod
# is replaced and comes back Ready -> scale to 1 and back to 3 -> the NodePort answers on
# the node IP -> kill -9 kube-apiserver, kube-scheduler and kube-controller-manager in turn:
# the pods keep serving through the Service meanwhile, and after the restart a deleted pod is
# replaced -> delete the Deployment: the pods go away, the Service has no endpoints and
# connections to it are REJECTed (curl fails fast instead of timing out).
#
# Everything lives in one temp dir on free ports (test/e2e/lib/flow_cluster.sh); `.run/` is
# never touched.  kube-proxy's chains are global to the host's network namespace, so when
# another kube-proxy (e.g. `make up`'s) runs, this test skips (77) and says why.
set -u
: "${KUBEC_BUILD:?}"
KUBEC_ROOT=${KUBEC_ROOT:-$(pwd)}
export KUBEC_BUILD KUBEC_ROOT
. "$KUBEC_ROOT/test/e2e/lib/flow_cluster.sh"
flow_require
if flow_proxy_running; then
	echo "SKIP: a kube-proxy already runs on this host (make up?); its iptables chains are global, run 'make down' first"
	exit 77
fi
sh "$KUBEC_ROOT/test/images/build.sh" "$KUBEC_BUILD/images" >/dev/null || { echo "FAIL: test/images/build.sh"; exit 1; }

T=$(mktemp -d /tmp/kubec-e2e-flow.XXXXXX)
FAILED=1
on_exit() {
	if [ "$FAILED" != 0 ]; then
		echo "===== kubectl get pods,svc,endpointslices -o wide"
		kubectl get pods,svc,endpointslices -o wide 2>&1 | head -n 40
		echo "===== iptables-save -t nat | grep KUBE (first 60)"
		iptables-save -t nat 2>/dev/null | grep KUBE | head -n 60
		flow_dump_logs "$T"
	fi
	flow_down "$T" >/dev/null
	rm -rf "$T"
}
trap on_exit EXIT
trap 'exit 130' INT TERM

fail() { echo "FAIL: $*"; exit 1; }
START=$(date +%s)

# wait_for SECONDS CMD...: until CMD succeeds
wait_for() {
	end=$(($(date +%s) + $1)); shift
	while [ "$(date +%s)" -lt "$end" ]; do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.3
	done
	return 1
}

flow_up "$T" test || fail "cluster did not start"
. "$T/cluster.env"
export KUBECONFIG="$T/admin.kubeconfig"
echo "ok cluster up in $(($(date +%s) - START))s (node $FLOW_NODE, IP $FLOW_NODE_IP, pods $FLOW_POD_CIDR)"

# ready_names: names of the app=web pods that are Running, Ready and not terminating
ready_names() {
	kubectl get pods -l app=web -o json | $FLOW_PY -c '
import json, sys
for p in json.load(sys.stdin)["items"]:
    st = p.get("status", {})
    conds = {c["type"]: c["status"] for c in st.get("conditions", [])}
    if p["metadata"].get("deletionTimestamp") or st.get("phase") != "Running" or conds.get("Ready") != "True":
        continue
    print(p["metadata"]["name"])'
}
# all_names: every app=web pod, whatever its state
all_names() {
	kubectl get pods -l app=web -o jsonpath='{range .items[*]}{.metadata.name}{"\n"}{end}'
}
# exactly_ready N: N app=web pods exist and all N are Running+Ready
exactly_ready() {
	[ "$(all_names | grep -c .)" = "$1" ] && [ "$(ready_names | grep -c .)" = "$1" ]
}
# endpoints_ready N: Service web's EndpointSlices list N ready endpoints
endpoints_ready() {
	n=$(kubectl get endpointslices -l kubernetes.io/service-name=web -o json | $FLOW_PY -c '
import json, sys
n = 0
for s in json.load(sys.stdin)["items"]:
    for e in s.get("endpoints") or []:
        if (e.get("conditions") or {}).get("ready", True):
            n += len(e.get("addresses", []))
print(n)')
	[ "$n" = "$1" ]
}

# responders URL TRIES: distinct bodies of TRIES requests (failed requests print FAILED)
responders() {
	i=0
	while [ $i -lt "$2" ]; do
		curl -s --max-time 3 "$1" || echo FAILED
		i=$((i + 1))
	done | sort -u
}

# all_reached URL: every Ready pod name answers through URL within 60 requests
all_reached() {
	ready_names | sort >"$T/want"
	responders "$1" 60 >"$T/got"
	grep -qx FAILED "$T/got" && { echo "failed requests to $1"; return 1; }
	if ! cmp -s "$T/want" "$T/got"; then
		echo "responders differ from Ready pods: want $(tr '\n' ' ' <"$T/want") got $(tr '\n' ' ' <"$T/got")"
		return 1
	fi
	return 0
}

# ---- 1. apply -> 3 pods Running and Ready
kubectl apply -f "$KUBEC_ROOT/examples/web.yaml" >/dev/null || fail "kubectl apply -f examples/web.yaml"
wait_for 90 exactly_ready 3 || fail "3 web pods never Running+Ready: $(kubectl get pods -o wide 2>&1)"
echo "ok 3 pods Running and Ready: $(ready_names | tr '\n' ' ')"

# ---- 2. the ClusterIP from the host reaches all 3 pods
CIP=$(kubectl get svc web -o jsonpath='{.spec.clusterIP}')
[ -n "$CIP" ] || fail "Service web has no clusterIP"
wait_for 30 endpoints_ready 3 || fail "Service web never had 3 ready endpoints"
wait_for 20 curl -sf --max-time 2 "http://$CIP/" || fail "http://$CIP/ never answered"
all_reached "http://$CIP/" || fail "ClusterIP $CIP did not reach all 3 pods"
echo "ok ClusterIP $CIP:80 reaches 3 distinct pods"

# ---- 3. delete a pod: it is replaced and the replacement becomes Ready
VICTIM=$(ready_names | head -n 1)
kubectl delete pod "$VICTIM" --wait=false >/dev/null || fail "delete pod $VICTIM"
replaced() { exactly_ready 3 && ! all_names | grep -qx "$VICTIM"; }
wait_for 60 replaced || fail "pod $VICTIM not replaced by a Ready pod: $(kubectl get pods -o wide 2>&1)"
wait_for 30 endpoints_ready 3 || fail "endpoints not back to 3 after the replacement"
wait_for 20 all_reached "http://$CIP/" || fail "ClusterIP does not reach the replacement: $(all_reached "http://$CIP/")"
echo "ok pod $VICTIM replaced by a Ready pod that serves through the ClusterIP"

# ---- 4. scale to 1 and back to 3
kubectl scale deployment web --replicas=1 >/dev/null || fail "scale to 1"
wait_for 60 exactly_ready 1 || fail "never exactly 1 pod after scale to 1: $(kubectl get pods -o wide 2>&1)"
wait_for 30 endpoints_ready 1 || fail "endpoints not 1 after scale to 1"
wait_for 20 all_reached "http://$CIP/" || fail "ClusterIP with 1 pod: $(all_reached "http://$CIP/")"
echo "ok scaled to 1"
kubectl scale deployment web --replicas=3 >/dev/null || fail "scale to 3"
wait_for 60 exactly_ready 3 || fail "never 3 Ready pods after scale to 3: $(kubectl get pods -o wide 2>&1)"
wait_for 30 endpoints_ready 3 || fail "endpoints not 3 after scale to 3"
wait_for 20 all_reached "http://$CIP/" || fail "ClusterIP after scale to 3: $(all_reached "http://$CIP/")"
echo "ok scaled back to 3, all reached"

# ---- 5. NodePort on the node IP
NP=$(kubectl get svc web-nodeport -o jsonpath='{.spec.ports[0].nodePort}')
[ -n "$NP" ] || fail "web-nodeport has no nodePort"
NPURL="http://$FLOW_NODE_IP:$NP/"
wait_for 20 curl -sf --max-time 2 "$NPURL" || fail "NodePort $NPURL never answered"
body=$(curl -s --max-time 3 "$NPURL")
ready_names | grep -qx "$body" || fail "NodePort answered '$body', not a Ready pod's name"
echo "ok NodePort $NPURL answered by $body"

# ---- 6. control-plane crashes: kill -9 kube-apiserver, kube-scheduler and
# kube-controller-manager in turn.  The running pods keep serving through the Service while
# the component is down (the data plane does not depend on it); after its restart the
# control loop resumes: a deleted pod is replaced by a new Ready pod.
ready_names | sort >"$T/serving"
# serving_without_api: 30 requests, none fails, each answered by a pod that served before
serving_without_api() {
	responders "http://$CIP/" 30 >"$T/got"
	! grep -qx FAILED "$T/got" && [ -z "$(comm -13 "$T/serving" "$T/got")" ]
}
for comp in kube-apiserver kube-scheduler kube-controller-manager; do
	flow_kill9 "$T" "$comp" || fail "kill -9 $comp"
	serving_without_api || fail "Service traffic failed while $comp was down: $(tr '\n' ' ' <"$T/got")"
	VICTIM=""
	if [ "$comp" != kube-apiserver ]; then
		# the change happens while the component is down
		VICTIM=$(ready_names | head -n 1)
		kubectl delete pod "$VICTIM" --wait=false >/dev/null || fail "delete pod $VICTIM with $comp down"
	fi
	flow_restart "$T" "$comp" || fail "restart $comp"
	case $comp in
	kube-apiserver) wait_for 30 curl -sf --cacert "$T/pki/ca.crt" "https://127.0.0.1:$FLOW_API_PORT/readyz" ;;
	kube-scheduler) wait_for 30 flow_sched_healthy ;;
	*) wait_for 30 curl -sfk "https://127.0.0.1:$FLOW_CM_PORT/healthz" ;;
	esac || fail "$comp not healthy after its restart"
	if [ -z "$VICTIM" ]; then
		VICTIM=$(ready_names | head -n 1)
		kubectl delete pod "$VICTIM" --wait=false >/dev/null || fail "delete pod $VICTIM after $comp restart"
	fi
	# a restarted leader-elected component first waits for the dead one's Lease to expire
	# (leaseDuration 15 s, as upstream)
	wait_for 90 replaced || fail "after kill -9 $comp: pod $VICTIM not replaced: $(kubectl get pods -o wide 2>&1)"
	wait_for 30 endpoints_ready 3 || fail "after kill -9 $comp: endpoints not back to 3"
	wait_for 20 all_reached "http://$CIP/" || fail "after kill -9 $comp: $(all_reached "http://$CIP/")"
	ready_names | sort >"$T/serving"
	echo "ok kill -9 $comp: pods kept serving; after restart pod $VICTIM was replaced and serves"
done

# ---- 7. delete the Deployment: pods gone, no endpoints, the ClusterIP REJECTs
kubectl delete deployment web >/dev/null || fail "delete deployment web"
no_pods() { [ "$(all_names | grep -c .)" = 0 ]; }
wait_for 60 no_pods || fail "pods remain after deleting the Deployment: $(kubectl get pods -o wide 2>&1)"
wait_for 30 endpoints_ready 0 || fail "Service web still has ready endpoints"
# REJECT (icmp port-unreachable) makes curl fail at once with "connection refused" (7);
# a missing rule would hang until --max-time (28).
rejected() {
	curl -s -o /dev/null --max-time 5 "http://$CIP/"
	[ $? = 7 ]
}
wait_for 20 rejected || fail "http://$CIP/ not REJECTed (curl exit $(curl -s -o /dev/null --max-time 5 "http://$CIP/"; echo $?))"
echo "ok Deployment deleted: no pods, no endpoints, ClusterIP $CIP REJECTs"

echo "PASS flow e2e in $(($(date +%s) - START))s"
FAILED=0
