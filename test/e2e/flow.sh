#!/bin/sh
# The seed flow end to end on one node, real containerd and real kubectl (issue 9 item 3):
# every component authenticates as kubeadm's identity for it (kubectl auth whoami with each
# .conf) -> kubectl apply -f examples/web.yaml -> 3 pods Running and Ready -> requests to
# the ClusterIP from the host reach all 3 pods (each serves its own hostname) -> delete a
# pod while a client loop hits the Service: it is replaced, no request fails -> scale to 5
# and to 1 (then back to 3) -> the NodePort answers on the node IP -> delete the Deployment:
# the pods go away, the Service has no endpoints and connections to it are REJECTed (curl
# fails fast instead of timing out).
# The control plane's failure modes (kill -9 of each component) are flow_control_plane.sh;
# the rolling update, CrashLoopBackOff, in-pod clients and scale to zero have their own
# flow_*.sh.
#
# Everything lives in one temp dir on free ports (test/e2e/lib/flow_cluster.sh); `.run/` is
# never touched.  kube-proxy's chains are global to the host's network namespace, so when
# another kube-proxy (e.g. `make up`'s) runs, this test skips (77) and says why.
set -u
: "${KUBEC_BUILD:?}"
KUBEC_ROOT=${KUBEC_ROOT:-$(pwd)}
export KUBEC_BUILD KUBEC_ROOT
. "$KUBEC_ROOT/test/e2e/lib/flow_cluster.sh"
flow_scenario_init flow
T=$FLOW_T

# ---- 0. each kubeconfig authenticates as the identity kubeadm gives that component
# whoami CONF USER GROUP...: `kubectl auth whoami` (a SelfSubjectReview) with CONF reports
# username USER and at least the groups GROUP... (the certificate's O) and
# system:authenticated, which the apiserver adds to every authenticated user as upstream
whoami() {
	conf=$1; user=$2; shift 2
	kubectl --kubeconfig "$T/$conf" auth whoami -o json >"$T/whoami.json" 2>&1 ||
		flow_fail "kubectl auth whoami --kubeconfig $conf: $(cat "$T/whoami.json")"
	got=$($FLOW_PY -c '
import json, sys
u = json.load(open(sys.argv[1]))["status"]["userInfo"]
print(u.get("username", ""), " ".join(sorted(u.get("groups") or [])))' "$T/whoami.json")
	[ "${got#* }" = "$got" ] && got="$got "
	[ "${got%% *}" = "$user" ] || flow_fail "$conf authenticates as '${got%% *}', want '$user'"
	for g in "$@" system:authenticated; do
		case " ${got#* } " in
		*" $g "*) ;;
		*) flow_fail "$conf: groups '${got#* }' lack $g" ;;
		esac
	done
	echo "ok $conf is $got"
}
whoami admin.conf kubernetes-admin system:masters
whoami admin.kubeconfig kubernetes-admin system:masters
whoami controller-manager.conf system:kube-controller-manager
whoami scheduler.conf system:kube-scheduler
whoami kubelet.conf "system:node:$FLOW_NODE" system:nodes
whoami kube-proxy.conf system:kube-proxy
# a component's identity is not in system:masters (only the admin's is)
for conf in controller-manager.conf scheduler.conf kubelet.conf kube-proxy.conf; do
	kubectl --kubeconfig "$T/$conf" auth whoami -o jsonpath='{.status.userInfo.groups}' |
		grep -q system:masters && flow_fail "$conf is in system:masters"
done
# and the apiserver calls the kubelet as kube-apiserver-kubelet-client
grep -q -- '--kubelet-client-certificate [^ ]*/pki/apiserver-kubelet-client.crt' "$T/kube-apiserver.cmd" ||
	flow_fail "kube-apiserver does not use apiserver-kubelet-client.crt: $(cat "$T/kube-apiserver.cmd")"
subj=$(openssl x509 -in "$T/pki/apiserver-kubelet-client.crt" -noout -subject -nameopt compat)
[ "$subj" = "subject=/O=system:masters/CN=kube-apiserver-kubelet-client" ] ||
	flow_fail "apiserver-kubelet-client.crt: $subj"
openssl verify -CAfile "$T/pki/ca.crt" "$T/pki/apiserver-kubelet-client.crt" "$T/pki/apiserver.crt" >/dev/null ||
	flow_fail "pki certificates not signed by pki/ca.crt"
echo "ok kube-apiserver calls the kubelet with apiserver-kubelet-client ($subj)"

# all_names: every app=web pod, whatever its state
all_names() {
	kubectl get pods -l app=web -o jsonpath='{range .items[*]}{.metadata.name}{"\n"}{end}'
}
# exactly_ready N: N app=web pods exist and all N are Running+Ready
exactly_ready() {
	[ "$(all_names | grep -c .)" = "$1" ] && [ "$(flow_ready_pods app=web | grep -c .)" = "$1" ]
}
# endpoints_ready N: Service web's EndpointSlices list N ready endpoints
endpoints_ready() { [ "$(flow_ready_endpoints web)" = "$1" ]; }

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
	flow_ready_pods app=web | sort >"$T/want"
	responders "$1" 60 >"$T/got"
	grep -qx FAILED "$T/got" && { echo "failed requests to $1"; return 1; }
	if ! cmp -s "$T/want" "$T/got"; then
		echo "responders differ from Ready pods: want $(tr '\n' ' ' <"$T/want") got $(tr '\n' ' ' <"$T/got")"
		return 1
	fi
	return 0
}

# scale_to N: kubectl scale, then exactly N Ready pods, N ready endpoints, all N reached
scale_to() {
	kubectl scale deployment web --replicas="$1" >/dev/null || flow_fail "scale to $1"
	flow_wait_for 90 exactly_ready "$1" || flow_fail "never exactly $1 Ready pods after scale to $1: $(kubectl get pods -o wide 2>&1)"
	flow_wait_for 30 endpoints_ready "$1" || flow_fail "endpoints not $1 after scale to $1"
	flow_wait_for 20 all_reached "http://$CIP/" || flow_fail "ClusterIP with $1 pods: $(all_reached "http://$CIP/")"
	echo "ok scaled to $1: $1 Ready pods, $1 endpoints, all $1 answer through the ClusterIP"
}

# ---- 1. apply -> 3 pods Running and Ready
kubectl apply -f "$KUBEC_ROOT/examples/web.yaml" >/dev/null || flow_fail "kubectl apply -f examples/web.yaml"
flow_wait_for 90 exactly_ready 3 || flow_fail "3 web pods never Running+Ready: $(kubectl get pods -o wide 2>&1)"
echo "ok 3 pods Running and Ready: $(flow_ready_pods app=web | tr '\n' ' ')"

# ---- 2. the ClusterIP from the host reaches all 3 pods
CIP=$(kubectl get svc web -o jsonpath='{.spec.clusterIP}')
[ -n "$CIP" ] || flow_fail "Service web has no clusterIP"
flow_wait_for 30 endpoints_ready 3 || flow_fail "Service web never had 3 ready endpoints"
flow_wait_for 20 curl -sf --max-time 2 "http://$CIP/" || flow_fail "http://$CIP/ never answered"
all_reached "http://$CIP/" || flow_fail "ClusterIP $CIP did not reach all 3 pods"
echo "ok ClusterIP $CIP:80 reaches 3 distinct pods"

# ---- 3. delete a pod while a client loop hits the Service: it is replaced, the
# replacement serves, and no request fails (the EndpointSlice marks the terminating pod
# not ready and kube-proxy drops it)
: >"$T/client.log"
flow_client_start "http://$CIP/" "$T/client.log"
got_some() { [ "$(flow_client_lines "$T/client.log" '^ok ')" -ge "$1" ]; }
flow_wait_for 20 got_some 10 || flow_fail "the client loop got no answers: $(head -n 3 "$T/client.log")"
VICTIM=$(flow_ready_pods app=web | head -n 1)
kubectl delete pod "$VICTIM" --wait=false >/dev/null || flow_fail "delete pod $VICTIM"
replaced() { exactly_ready 3 && ! all_names | grep -qx "$VICTIM"; }
flow_wait_for 60 replaced || flow_fail "pod $VICTIM not replaced by a Ready pod: $(kubectl get pods -o wide 2>&1)"
flow_wait_for 30 endpoints_ready 3 || flow_fail "endpoints not back to 3 after the replacement"
NEW=$(flow_ready_pods app=web | sort | comm -13 "$T/want" -)
[ -n "$NEW" ] || flow_fail "no new pod name among $(flow_ready_pods app=web | tr '\n' ' ')"
answered_by_new() { grep -qx "ok $NEW" "$T/client.log"; }
flow_wait_for 20 answered_by_new || flow_fail "the replacement $NEW never answered the client loop"
flow_client_stop
total=$(flow_client_lines "$T/client.log")
failed=$(flow_client_lines "$T/client.log" '^FAILED')
echo "client loop while $VICTIM was replaced by $NEW: $total requests, $failed failed"
[ "$failed" = 0 ] || flow_fail "$failed of $total requests failed while a pod was replaced: $(grep -n '^FAILED' "$T/client.log" | head -n 5 | tr '\n' ' ')"
flow_wait_for 20 all_reached "http://$CIP/" || flow_fail "ClusterIP does not reach the replacement: $(all_reached "http://$CIP/")"
echo "ok pod $VICTIM replaced by $NEW with no failed request"

# ---- 4. scale to 5, to 1, and back to 3
scale_to 5
scale_to 1
scale_to 3

# ---- 5. NodePort on the node IP
NP=$(kubectl get svc web-nodeport -o jsonpath='{.spec.ports[0].nodePort}')
[ -n "$NP" ] || flow_fail "web-nodeport has no nodePort"
NPURL="http://$FLOW_NODE_IP:$NP/"
flow_wait_for 20 curl -sf --max-time 2 "$NPURL" || flow_fail "NodePort $NPURL never answered"
body=$(curl -s --max-time 3 "$NPURL")
flow_ready_pods app=web | grep -qx "$body" || flow_fail "NodePort answered '$body', not a Ready pod's name"
echo "ok NodePort $NPURL answered by $body"

# ---- 6. delete the Deployment: its ReplicaSet and pods gone, no endpoints, the ClusterIP REJECTs
kubectl delete deployment web >/dev/null || flow_fail "delete deployment web"
no_pods() { [ "$(all_names | grep -c .)" = 0 ] && [ -z "$(kubectl get rs -l app=web -o name)" ]; }
flow_wait_for 60 no_pods || flow_fail "pods or ReplicaSets remain after deleting the Deployment: $(kubectl get rs,pods -o wide 2>&1)"
flow_wait_for 30 endpoints_ready 0 || flow_fail "Service web still has ready endpoints"
# REJECT (icmp port-unreachable) makes curl fail at once with "connection refused" (7);
# a missing rule would hang until --max-time (28).
rejected() {
	curl -s -o /dev/null --max-time 5 "http://$CIP/"
	[ $? = 7 ]
}
flow_wait_for 20 rejected || flow_fail "http://$CIP/ not REJECTed (curl exit $(curl -s -o /dev/null --max-time 5 "http://$CIP/"; echo $?))"
echo "ok Deployment deleted: no ReplicaSet, no pods, no endpoints, ClusterIP $CIP REJECTs"

flow_pass
