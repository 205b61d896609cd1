# kube-scheduler against a real kube-apiserver on etcd: hollow Node objects created through
# the API, a pod bound to a fitting node (Scheduled event), an unschedulable pod with
# upstream's FailedScheduling message and PodScheduled condition (also seen through
# kubectl describe), scheduled as soon as a big enough node is added; a nodeSelector pod
# scheduled once a node is labelled; leader election on the kube-system/kube-scheduler
# Lease with failover to a second replica; /healthz and /metrics; preemption: a
# high-priority pod evicts a low-priority one from a full node (Preempted event,
# status.nominatedNodeName) and is bound there once the victim is gone; a victim
# protected by a PodDisruptionBudget is spared in favour of another node's pod.
KUBEC_ROOT=${KUBEC_ROOT:-$(pwd)}
KUBEC_BUILD=${KUBEC_BUILD:-$KUBEC_ROOT/build}
. "$KUBEC_ROOT/test/integration/lib/apiserver_env.sh"

for tool in curl openssl /usr/bin/etcd "$PY"; do
	command -v "$tool" >/dev/null 2>&1 || { echo "SKIP: $tool missing"; exit 77; }
done
for b in kube-apiserver kube-scheduler; do
	[ -x "$KUBEC_BUILD/bin/$b" ] || { echo "FAIL: $b not built"; exit 1; }
done

FAILED=0
trap 'kc_cleanup' EXIT INT TERM
fail() {
	echo "FAIL: $*"
	FAILED=1
}

T=$(mktemp -d /tmp/kubec-scheduler-test.XXXXXX)
[ -n "$T" ] && [ -d "$T" ] || { echo "FAIL: mktemp"; exit 1; }
KC_DIRS="$KC_DIRS $T"
gen_certs "$T" || { echo "FAIL: certificates"; exit 1; }
start_etcd "$T" || { kc_dump_logs; echo "FAIL: etcd did not start"; exit 1; }
start_apiserver "$T" "$ETCD_URL" || { kc_dump_logs; echo "FAIL: apiserver did not start"; exit 1; }
write_kubeconfig "$T" "$API"

req() { # req METHOD PATH [curl args]: body in $T/out, code in $CODE
	m=$1; p=$2; shift 2
	CODE=$(curl -s -o "$T/out" -w '%{http_code}' --cacert "$T/ca.crt" \
		-H "Authorization: Bearer test-token" -H "Content-Type: ${CT:-application/json}" \
		-X "$m" "$@" "$API$p")
}

node() { # node NAME CPU MEMORY [TAINTS_JSON]
	body="{\"apiVersion\":\"v1\",\"kind\":\"Node\",\"metadata\":{\"name\":\"$1\",\"labels\":{\"kubernetes.io/hostname\":\"$1\"}},\"spec\":{\"taints\":${4:-[]}},\"status\":{\"capacity\":{\"cpu\":\"$2\",\"memory\":\"$3\",\"pods\":\"110\"},\"allocatable\":{\"cpu\":\"$2\",\"memory\":\"$3\",\"pods\":\"110\"},\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\"}]}}"
	req POST /api/v1/nodes -d "$body"
	[ "$CODE" = 201 ] || fail "create node $1: HTTP $CODE $(head -c 300 "$T/out")"
	# the status may be dropped on create: set it through the status subresource too
	alloc=$(jq_get "$T/out" status.allocatable.memory)
	if [ "$alloc" != "$3" ]; then
		CT=application/merge-patch+json req PATCH "/api/v1/nodes/$1/status" \
			-d "{\"status\":{\"capacity\":{\"cpu\":\"$2\",\"memory\":\"$3\",\"pods\":\"110\"},\"allocatable\":{\"cpu\":\"$2\",\"memory\":\"$3\",\"pods\":\"110\"}}}"
		[ "$CODE" = 200 ] || fail "node $1 status: HTTP $CODE $(head -c 300 "$T/out")"
	fi
}

pod() { # pod NAME MEMORY
	req POST /api/v1/namespaces/default/pods -d "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"$1\"},\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"nginx\",\"resources\":{\"requests\":{\"cpu\":\"100m\",\"memory\":\"$2\"}}}]}}"
	[ "$CODE" = 201 ] || fail "create pod $1: HTTP $CODE $(head -c 300 "$T/out")"
}

# wait_for SECONDS PATH DOTTED VALUE: until the field equals VALUE ("?" = non-empty).
wait_for() {
	end=$(($(date +%s) + $1))
	while [ "$(date +%s)" -lt "$end" ]; do
		req GET "$2"
		got=$(jq_get "$T/out" "$3")
		if [ "$4" = "?" ]; then [ -n "$got" ] && return 0; else [ "$got" = "$4" ] && return 0; fi
		sleep 0.2
	done
	return 1
}

node cp 4 8Gi '[{"key":"node-role.kubernetes.io/control-plane","effect":"NoSchedule"}]'
node node-1 2 2Gi
node node-2 2 2Gi

SPORT=$(free_port)
"$KUBEC_BUILD/bin/kube-scheduler" --kubeconfig "$T/kubeconfig" --bind-address 127.0.0.1 \
	--secure-port "$SPORT" --leader-elect=true --v=2 > "$T/scheduler.log" 2>&1 &
SCHED_A=$!
KC_PIDS="$KC_PIDS $SCHED_A"
KC_LOGS="$KC_LOGS $T/scheduler.log"
wait_url "https://127.0.0.1:$SPORT/healthz" 20 -k || fail "scheduler /healthz not ready"
# 10259 is HTTPS as upstream's (self-signed serving certificate when none is given):
# a plain-HTTP request gets no HTTP answer
[ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://127.0.0.1:$SPORT/healthz")" = 000 ] ||
	fail "the scheduler answered plain HTTP on --secure-port"

# 1. a small pod lands on a worker, never the control plane
pod web-1 100Mi
if wait_for 30 /api/v1/namespaces/default/pods/web-1 spec.nodeName "?"; then
	n=$(jq_get "$T/out" spec.nodeName)
	case "$n" in node-1 | node-2) ;; *) fail "web-1 bound to '$n'" ;; esac
	end=$(($(date +%s) + 20)); ok=0
	while [ "$(date +%s)" -lt "$end" ]; do
		req GET "/api/v1/namespaces/default/events"
		if grep -q "Successfully assigned default/web-1 to $n" "$T/out"; then ok=1; break; fi
		sleep 0.2
	done
	[ $ok = 1 ] || fail "no Scheduled event for web-1: $(head -c 600 "$T/out")"
else
	fail "web-1 not bound within 30s"
fi

# 2. a pod that fits nowhere: upstream's message in the condition and the event
pod big 16Gi
WANT='0/3 nodes are available: 1 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }, 2 Insufficient memory. preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling..'
if wait_for 30 /api/v1/namespaces/default/pods/big status.conditions.0.reason Unschedulable; then
	got=$(jq_get "$T/out" status.conditions.0.message)
	[ "$got" = "$WANT" ] || fail "condition message: '$got'"
	[ "$(jq_get "$T/out" status.conditions.0.type)" = PodScheduled ] || fail "condition type"
	[ "$(jq_get "$T/out" status.conditions.0.status)" = False ] || fail "condition status"
else
	fail "big has no Unschedulable condition: $(head -c 600 "$T/out")"
fi
if command -v kubectl >/dev/null 2>&1; then
	end=$(($(date +%s) + 20)); ok=0
	while [ "$(date +%s)" -lt "$end" ]; do
		kubectl --kubeconfig "$T/kubeconfig" describe pod big > "$T/describe" 2>&1
		if grep -q "FailedScheduling" "$T/describe" && grep -q "2 Insufficient memory" "$T/describe"; then ok=1; break; fi
		sleep 0.5
	done
	[ $ok = 1 ] || fail "kubectl describe pod big: $(cat "$T/describe")"
	echo "--- kubectl describe pod big (events)"
	sed -n '/^Events:/,$p' "$T/describe"
fi

# 3. the cause goes away: a big node joins and the pod is bound to it
node node-big 8 32Gi
wait_for 30 /api/v1/namespaces/default/pods/big spec.nodeName node-big ||
	fail "big not bound to node-big after it joined: $(jq_get "$T/out" spec.nodeName)"

# 4. nodeSelector: no node has the label until one is labelled through the API
req POST /api/v1/namespaces/default/pods -d '{"apiVersion":"v1","kind":"Pod","metadata":{"name":"picky"},"spec":{"nodeSelector":{"disktype":"ssd"},"containers":[{"name":"c","image":"nginx"}]}}'
[ "$CODE" = 201 ] || fail "create pod picky: HTTP $CODE"
WANT='0/4 nodes are available: 1 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }, 3 node(s) didn'"'"'t match Pod'"'"'s node affinity/selector. preemption: 0/4 nodes are available: 4 Preemption is not helpful for scheduling..'
if wait_for 30 /api/v1/namespaces/default/pods/picky status.conditions.0.reason Unschedulable; then
	got=$(jq_get "$T/out" status.conditions.0.message)
	[ "$got" = "$WANT" ] || fail "picky condition message: '$got'"
else
	fail "picky has no Unschedulable condition"
fi
CT=application/merge-patch+json req PATCH /api/v1/nodes/node-1 -d '{"metadata":{"labels":{"disktype":"ssd"}}}'
[ "$CODE" = 200 ] || fail "label node-1: HTTP $CODE"
wait_for 30 /api/v1/namespaces/default/pods/picky spec.nodeName node-1 ||
	fail "picky not bound to node-1 after the label: '$(jq_get "$T/out" spec.nodeName)'"

# 5. the lease and the metrics
req GET /apis/coordination.k8s.io/v1/namespaces/kube-system/leases/kube-scheduler
[ "$CODE" = 200 ] || fail "no kube-scheduler lease: HTTP $CODE"
case "$(jq_get "$T/out" spec.holderIdentity)" in "") fail "lease has no holder" ;; esac
curl -sk "https://127.0.0.1:$SPORT/metrics" > "$T/metrics"
grep -q 'scheduler_schedule_attempts_total{profile="default-scheduler",result="scheduled"} 3' "$T/metrics" ||
	fail "metrics: $(grep attempts "$T/metrics")"

# 6. a second replica waits while the first holds the lease, and takes over when the
#    first dies without releasing it (kill -9: only the lease expiry frees it)
HOLDER_A=$(jq_get "$T/out" spec.holderIdentity)
SPORT_B=$(free_port)
"$KUBEC_BUILD/bin/kube-scheduler" --kubeconfig "$T/kubeconfig" --bind-address 127.0.0.1 \
	--secure-port "$SPORT_B" --leader-elect=true --v=2 > "$T/scheduler-b.log" 2>&1 &
SCHED_B=$!
KC_PIDS="$KC_PIDS $SCHED_B"
KC_LOGS="$KC_LOGS $T/scheduler-b.log"
wait_url "https://127.0.0.1:$SPORT_B/healthz" 20 -k || fail "second scheduler /healthz not ready"
pod web-2 100Mi
wait_for 30 /api/v1/namespaces/default/pods/web-2 spec.nodeName "?" || fail "web-2 not bound"
grep -q "Successfully bound" "$T/scheduler-b.log" && fail "the standby replica bound a pod"
req GET /apis/coordination.k8s.io/v1/namespaces/kube-system/leases/kube-scheduler
[ "$(jq_get "$T/out" spec.holderIdentity)" = "$HOLDER_A" ] || fail "lease moved while the leader lived"
kill -9 "$SCHED_A"
pod web-3 100Mi
# lease duration 15 s + retry period 2 s, with slack
if wait_for 60 /api/v1/namespaces/default/pods/web-3 spec.nodeName "?"; then
	grep -q 'Successfully bound pod to node pod="default/web-3"' "$T/scheduler-b.log" ||
		fail "web-3 was not bound by the new leader"
	req GET /apis/coordination.k8s.io/v1/namespaces/kube-system/leases/kube-scheduler
	h=$(jq_get "$T/out" spec.holderIdentity)
	[ -n "$h" ] && [ "$h" != "$HOLDER_A" ] || fail "lease holder after failover: '$h'"
else
	fail "web-3 not bound after the leader was killed"
fi

# 7. --config: a second profile from KubeSchedulerConfiguration, no leader election,
#    the kubeconfig from clientConnection; it schedules only pods that name it
cat > "$T/sched.yaml" <<CFG
apiVersion: kubescheduler.config.k8s.io/v1
kind: KubeSchedulerConfiguration
clientConnection:
  kubeconfig: $T/kubeconfig
leaderElection:
  leaderElect: false
profiles:
- schedulerName: bin-packer
  pluginConfig:
  - name: NodeResourcesFit
    args:
      scoringStrategy:
        type: MostAllocated
CFG
SPORT_C=$(free_port)
"$KUBEC_BUILD/bin/kube-scheduler" --config "$T/sched.yaml" --bind-address 127.0.0.1 \
	--secure-port "$SPORT_C" --v=2 > "$T/scheduler-c.log" 2>&1 &
KC_PIDS="$KC_PIDS $!"
KC_LOGS="$KC_LOGS $T/scheduler-c.log"
wait_url "https://127.0.0.1:$SPORT_C/healthz" 20 -k || fail "config scheduler /healthz not ready"
req POST /api/v1/namespaces/default/pods -d '{"apiVersion":"v1","kind":"Pod","metadata":{"name":"packed"},"spec":{"schedulerName":"bin-packer","containers":[{"name":"c","image":"nginx","resources":{"requests":{"memory":"100Mi"}}}]}}'
[ "$CODE" = 201 ] || fail "create pod packed: HTTP $CODE"
if wait_for 30 /api/v1/namespaces/default/pods/packed spec.nodeName "?"; then
	grep -q 'Successfully bound pod to node pod="default/packed"' "$T/scheduler-c.log" ||
		fail "packed was not bound by the bin-packer profile"
else
	fail "packed not bound by the --config scheduler"
fi

# 8. preemption (upstream DefaultPreemption). Priorities: PriorityClasses are created
#    when the apiserver serves them, and spec.priority is also set directly to the
#    class value (the priority admission accepts an equal value; an apiserver without
#    it keeps spec.priority as given).
PCLASS_LOW="" PCLASS_HIGH="" PCLASS_MID=""
req POST /apis/scheduling.k8s.io/v1/priorityclasses -d '{"apiVersion":"scheduling.k8s.io/v1","kind":"PriorityClass","metadata":{"name":"kubec-low"},"value":10}'
case "$CODE" in 201 | 409) PCLASS_LOW='"priorityClassName":"kubec-low",' ;; esac
req POST /apis/scheduling.k8s.io/v1/priorityclasses -d '{"apiVersion":"scheduling.k8s.io/v1","kind":"PriorityClass","metadata":{"name":"kubec-high"},"value":1000}'
case "$CODE" in 201 | 409) PCLASS_HIGH='"priorityClassName":"kubec-high",' ;; esac
req POST /apis/scheduling.k8s.io/v1/priorityclasses -d '{"apiVersion":"scheduling.k8s.io/v1","kind":"PriorityClass","metadata":{"name":"kubec-mid"},"value":500}'
case "$CODE" in 201 | 409) PCLASS_MID='"priorityClassName":"kubec-mid",' ;; esac
node node-pre 1 1Gi
CT=application/merge-patch+json req PATCH /api/v1/nodes/node-pre -d '{"metadata":{"labels":{"pre":"yes"}}}'
[ "$CODE" = 200 ] || fail "label node-pre: HTTP $CODE"
req POST /api/v1/namespaces/default/pods -d '{"apiVersion":"v1","kind":"Pod","metadata":{"name":"victim"},"spec":{'"$PCLASS_LOW"'"priority":10,"nodeSelector":{"pre":"yes"},"containers":[{"name":"c","image":"nginx","resources":{"requests":{"memory":"800Mi"}}}]}}'
[ "$CODE" = 201 ] || fail "create pod victim: HTTP $CODE $(head -c 300 "$T/out")"
[ "$(jq_get "$T/out" spec.priority)" = 10 ] || fail "victim priority: '$(jq_get "$T/out" spec.priority)'"
wait_for 30 /api/v1/namespaces/default/pods/victim spec.nodeName node-pre ||
	fail "victim not bound to node-pre: '$(jq_get "$T/out" spec.nodeName)'"
req POST /api/v1/namespaces/default/pods -d '{"apiVersion":"v1","kind":"Pod","metadata":{"name":"urgent"},"spec":{'"$PCLASS_HIGH"'"priority":1000,"nodeSelector":{"pre":"yes"},"containers":[{"name":"c","image":"nginx","resources":{"requests":{"memory":"500Mi"}}}]}}'
[ "$CODE" = 201 ] || fail "create pod urgent: HTTP $CODE $(head -c 300 "$T/out")"
URGENT_UID=$(jq_get "$T/out" metadata.uid)
if wait_for 30 /api/v1/namespaces/default/pods/urgent status.nominatedNodeName node-pre; then
	# preemption nominated: the FitError has no "preemption:" part (upstream); later
	# attempts while the victim terminates add "not eligible due to a terminating pod"
	got=$(jq_get "$T/out" status.conditions.0.message)
	WANT="0/5 nodes are available: 1 Insufficient memory, 1 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }, 3 node(s) didn't match Pod's node affinity/selector."
	case "$got" in "$WANT"*) ;; *) fail "urgent condition message: '$got'" ;; esac
	[ -z "$(jq_get "$T/out" spec.nodeName)" ] || fail "urgent bound while the victim runs"
else
	fail "urgent has no nominatedNodeName: $(head -c 800 "$T/out")"
fi
# the victim is being deleted (graceful: no kubelet confirms on a hollow node)
wait_for 30 /api/v1/namespaces/default/pods/victim metadata.deletionTimestamp "?" ||
	fail "victim not deleted: $(head -c 600 "$T/out")"
end=$(($(date +%s) + 20)); ok=0
while [ "$(date +%s)" -lt "$end" ]; do
	req GET "/api/v1/namespaces/default/events?fieldSelector=involvedObject.name=victim"
	if grep -q "Preempted by pod $URGENT_UID on node node-pre" "$T/out"; then ok=1; break; fi
	sleep 0.2
done
[ $ok = 1 ] || fail "no Preempted event on the victim: $(head -c 800 "$T/out")"
# act as the kubelet: confirm the victim's termination; urgent then binds to node-pre
req DELETE "/api/v1/namespaces/default/pods/victim?gracePeriodSeconds=0"
case "$CODE" in 200 | 404) ;; *) fail "force delete victim: HTTP $CODE" ;; esac
wait_for 40 /api/v1/namespaces/default/pods/urgent spec.nodeName node-pre ||
	fail "urgent not bound to node-pre after the victim was gone: '$(jq_get "$T/out" spec.nodeName)'"
if command -v kubectl >/dev/null 2>&1; then
	echo "--- kubectl describe pod urgent (events)"
	kubectl --kubeconfig "$T/kubeconfig" describe pod urgent 2>&1 | sed -n '/^Events:/,$p'
fi

# 9. PodDisruptionBudgets in preemption: the lowest-priority victim is protected by a
#    PDB allowing no disruption (no disruption controller runs, so its status keeps
#    disruptionsAllowed 0), so the preemptor evicts the other node's pod instead.
req POST /apis/policy/v1/namespaces/default/poddisruptionbudgets -d '{"apiVersion":"policy/v1","kind":"PodDisruptionBudget","metadata":{"name":"db"},"spec":{"minAvailable":1,"selector":{"matchLabels":{"app":"db"}}}}'
if [ "$CODE" = 201 ]; then
	node node-pa 1 1Gi
	node node-pb 1 1Gi
	CT=application/merge-patch+json req PATCH /api/v1/nodes/node-pa -d '{"metadata":{"labels":{"pdb":"yes"}}}'
	CT=application/merge-patch+json req PATCH /api/v1/nodes/node-pb -d '{"metadata":{"labels":{"pdb":"yes"}}}'
	req POST /api/v1/namespaces/default/pods -d '{"apiVersion":"v1","kind":"Pod","metadata":{"name":"protected","labels":{"app":"db"}},"spec":{'"$PCLASS_LOW"'"priority":10,"nodeName":"node-pa","containers":[{"name":"c","image":"nginx","resources":{"requests":{"memory":"800Mi"}}}]}}'
	[ "$CODE" = 201 ] || fail "create pod protected: HTTP $CODE $(head -c 300 "$T/out")"
	req POST /api/v1/namespaces/default/pods -d '{"apiVersion":"v1","kind":"Pod","metadata":{"name":"plain"},"spec":{'"$PCLASS_MID"'"priority":500,"nodeName":"node-pb","containers":[{"name":"c","image":"nginx","resources":{"requests":{"memory":"800Mi"}}}]}}'
	[ "$CODE" = 201 ] || fail "create pod plain: HTTP $CODE $(head -c 300 "$T/out")"
	req POST /api/v1/namespaces/default/pods -d '{"apiVersion":"v1","kind":"Pod","metadata":{"name":"urgent2"},"spec":{'"$PCLASS_HIGH"'"priority":1000,"nodeSelector":{"pdb":"yes"},"containers":[{"name":"c","image":"nginx","resources":{"requests":{"memory":"500Mi"}}}]}}'
	[ "$CODE" = 201 ] || fail "create pod urgent2: HTTP $CODE $(head -c 300 "$T/out")"
	wait_for 30 /api/v1/namespaces/default/pods/urgent2 status.nominatedNodeName node-pb ||
		fail "urgent2 nominated to '$(jq_get "$T/out" status.nominatedNodeName)', want node-pb"
	wait_for 30 /api/v1/namespaces/default/pods/plain metadata.deletionTimestamp "?" ||
		fail "plain not preempted"
	req GET /api/v1/namespaces/default/pods/protected
	[ -z "$(jq_get "$T/out" metadata.deletionTimestamp)" ] || fail "the PDB-protected pod was preempted"
else
	echo "NOTE: the apiserver does not serve policy/v1 PodDisruptionBudgets (HTTP $CODE): PDB case skipped"
fi

if [ $FAILED != 0 ]; then
	kc_dump_logs
	exit 1
fi
echo "PASS: scheduler_basic"
