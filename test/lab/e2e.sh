#!/bin/sh
# The lab e2e (issue #10 item 4), run by `make test-lab`: 3 control-plane hosts cp1..cp3
# and KUBEC_LAB_WORKERS (default 1) worker-only hosts w1.. (kubec-join-worker) from the
# bootstrap scripts alone (test/lab/lab.sh up), then
#   1. a Deployment of one web pod per host (topologySpreadConstraints on
#      kubernetes.io/hostname), a ClusterIP and a NodePort Service;
#   2. client pods on cp1 and on w1 get answers through the ClusterIP from pods on the
#      other hosts; the NodePort answers on every host's address;
#   3. kill -9 the store leader: writes resume after re-election (figure: kill -> first
#      successful kubectl create), kubectl works through another host's apiserver; the
#      unit's supervisor (Restart=on-failure) brings the member back;
#   3b. kill -9 one host's kube-apiserver: the supervisor alone restarts it after the
#      unit's RestartSec (figure: kill -> kubectl through that apiserver works again);
#   4. take a worker away (its link down): NotReady after the grace period, its pods
#      evicted and replaced on the others, the endpoints follow; a client loop against
#      the Service counts its failed requests (figure: loss -> pods Running elsewhere);
#      link up: Ready and schedulable again;
#   5. a rolling restart of the control plane, one host at a time, under a client loop to
#      the Service that must see no failed request;
#   6. figures: total RSS of the control-plane processes; teardown leaves nothing behind.
# Exit 0 pass, 77 when a tool is missing, 1 otherwise.  Always tears the lab down.
set -u
KUBEC_ROOT=${KUBEC_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
KUBEC_BUILD=${KUBEC_BUILD:-$KUBEC_ROOT/build}
export KUBEC_ROOT KUBEC_BUILD
KUBEC_LAB_DIR=${KUBEC_LAB_DIR:-/tmp/kubec-lab-e2e}
KUBEC_LAB_HOSTS=3 # the scenarios below are written for cp1..cp3
KUBEC_LAB_WORKERS=${KUBEC_LAB_WORKERS:-1}
export KUBEC_LAB_DIR KUBEC_LAB_HOSTS KUBEC_LAB_WORKERS
. "$KUBEC_ROOT/test/lab/lib.sh"

E2E_T0=$(date +%s)
ALL=$(i=1; while [ $i -le "$LAB_T" ]; do echo $i; i=$((i + 1)); done) # every host's index
REPLICAS=$LAB_T # one web pod per host
E2E_FAILED=1
E2E_OUT=""
CLIENT_PID=""
WRITER=""

say() { echo "[$(($(date +%s) - E2E_T0))s] $*"; }
fail() {
	echo "FAIL: $*"
	exit 1
}

# ---- client loops: one request every ~100 ms, one line per request ("ok <pod>" or
# "FAILED <curl exit>") with a ms timestamp, until the stop file appears
client_start() { # LOG CMD...
	client_stop
	_log=$1; shift
	CLIENT_STOP=$E2E_OUT/client-stop
	rm -f "$CLIENT_STOP"
	(
		while [ ! -e "$CLIENT_STOP" ]; do
			if r=$("$@" 2>/dev/null) && [ -n "$r" ]; then
				echo "$(date +%s%3N) ok $r"
			else
				echo "$(date +%s%3N) FAILED $?"
			fi
			sleep 0.1
		done
	) >>"$_log" 2>&1 &
	CLIENT_PID=$!
}
client_stop() {
	[ -n "$CLIENT_PID" ] || return 0
	: >"$CLIENT_STOP"
	wait "$CLIENT_PID" 2>/dev/null
	CLIENT_PID=""
}
count() { grep -c -- "$2" "$1" 2>/dev/null || true; }

on_exit() {
	_rc=$?
	client_stop
	[ -n "$WRITER" ] && kill "$WRITER" 2>/dev/null
	if [ "$_rc" = 77 ]; then
		lab_down >/dev/null 2>&1
		rm -rf "$E2E_OUT"
		exit 77
	fi
	if [ "$E2E_FAILED" != 0 ] && [ -f "$LAB/admin.conf" ]; then
		echo "===== kubectl get nodes,pods,endpointslices -o wide"
		lab_kubectl get nodes,pods,endpointslices -o wide 2>&1 | head -n 40
		echo "===== kubectl get events"
		lab_kubectl get events 2>&1 | tail -n 30
		lab_status 2>&1 | head -n 20
		lab_dump_logs 40
		# KUBEC_LAB_KEEP_LOGS=1: the whole logs, kept past the teardown for a closer look
		KEEP=/tmp/kubec-lab-e2e-logs
		[ "${KUBEC_LAB_KEEP_LOGS:-0}" = 1 ] && rm -rf "$KEEP" && for hd in "$LAB"/hosts/*; do
			[ -d "$hd/logs" ] && mkdir -p "$KEEP/${hd##*/}" && cp "$hd"/logs/*.log "$KEEP/${hd##*/}/" 2>/dev/null
		done
		[ "${KUBEC_LAB_KEEP_LOGS:-0}" = 1 ] && cp "$E2E_OUT"/*.log "$KEEP/" 2>/dev/null &&
			echo "logs kept in $KEEP"
	fi
	lab_down || E2E_FAILED=1
	rm -rf "$E2E_OUT"
	if [ "$E2E_FAILED" = 0 ]; then
		echo "PASS lab e2e in $(($(date +%s) - E2E_T0))s"
		exit 0
	fi
	exit 1
}

lab_require
if ip link show "$LAB_BR" >/dev/null 2>&1 || ip netns list 2>/dev/null | grep -Eq '^(cp|w)[0-9]+\b'; then
	echo "FAIL: another lab is up (bridge $LAB_BR or netns cp1 exists): run 'test/lab/lab.sh down' (or with its KUBEC_LAB_DIR)"
	exit 1
fi
[ -e "$LAB" ] && { lab_down >/dev/null 2>&1 || fail "stale $LAB could not be removed"; }
E2E_OUT=$(mktemp -d /tmp/kubec-lab-e2e-out.XXXXXX)
trap on_exit EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------------------- lab up
# unit-run.py's Restart= supervision on its own first (no lab, a few seconds)
sh "$KUBEC_ROOT/test/lab/unit-run-test.sh" || fail "test/lab/unit-run-test.sh"
say "lab up: $LAB_N control-plane hosts + $LAB_W worker-only, node grace $LAB_GRACE, default toleration ${LAB_TOLERATION}s"
lab_up || fail "lab up"
export KUBECONFIG="$LAB/admin.conf"
for n in $ALL; do
	lab_host $n
	lab_node_ready "$NAME" || fail "node $NAME not Ready after up"
done
for n in 1 2 3; do
	_lab_api_ready $n || fail "cp$n's apiserver /readyz fails after up"
	[ "$(lab_kubectl_on $n get nodes --no-headers 2>/dev/null | grep -c ' Ready ')" = "$LAB_T" ] ||
		fail "kubectl through cp$n's apiserver (10.240.0.1$n:6443, the bootstrap's admin.conf) does not list $LAB_T Ready nodes"
done
WORKERS_NOTE=""
if [ "$LAB_W" -gt 0 ]; then
	lab_host $((LAB_N + 1))
	for u in kube-store kube-apiserver kube-controller-manager kube-scheduler; do
		[ ! -e "$H/root/etc/systemd/system/$u.service" ] || fail "worker $NAME has a $u unit"
	done
	lab_unit status $((LAB_N + 1)) kubelet >/dev/null || fail "worker $NAME's kubelet is not running"
	lab_unit status $((LAB_N + 1)) kube-proxy >/dev/null || fail "worker $NAME's kube-proxy is not running"
	lab_host $((LAB_N + 1))
	WORKERS_NOTE=", worker-only $NAME ($IP, kubec-join-worker: containerd, kubelet, kube-proxy) Ready"
fi
members=$(_lab_store_ctl 1 member list 2>&1) || fail "kube-storectl member list: $members"
[ "$(echo "$members" | grep -c ', started, cp[1-3], https://10.240.0.1[1-3]:2380')" = 3 ] ||
	fail "the store has not 3 started members cp1..cp3: $members"
health=$(_lab_store_ctl 1 endpoint health --cluster 2>&1) || fail "store members not all healthy: $health"
say "ok lab up: $LAB_T nodes Ready, 3 healthy store members, kubectl through each of the 3 apiservers$WORKERS_NOTE"

# ------------------------------------------------------------- 1. spread Deployment
sed "s/^  replicas: 3\$/  replicas: $REPLICAS/" "$KUBEC_ROOT/test/lab/web-spread.yaml" >"$E2E_OUT/web-spread.yaml"
lab_kubectl apply -f "$E2E_OUT/web-spread.yaml" >/dev/null || fail "kubectl apply web-spread.yaml"

# web_ready_nodes: "pod node" of the Ready, Running, not terminating web pods
web_ready() {
	lab_kubectl get pods -l app=web -o json 2>/dev/null | $LAB_PY -c '
import json, sys
for p in json.load(sys.stdin)["items"]:
    st = p.get("status", {})
    conds = {c["type"]: c["status"] for c in st.get("conditions", [])}
    if p["metadata"].get("deletionTimestamp") or st.get("phase") != "Running" or conds.get("Ready") != "True":
        continue
    print(p["metadata"]["name"], p["spec"].get("nodeName", ""))'
}
ready_eps() { # number of ready endpoint addresses of Service web
	lab_kubectl get endpointslices -l kubernetes.io/service-name=web -o json 2>/dev/null | $LAB_PY -c '
import json, sys
print(sum(len(e.get("addresses", [])) for s in json.load(sys.stdin)["items"]
          for e in (s.get("endpoints") or []) if (e.get("conditions") or {}).get("ready", True)))'
}
spread() {
	web_ready >"$E2E_OUT/web"
	[ "$(awk '{print $2}' "$E2E_OUT/web" | sort -u | grep -c .)" = "$REPLICAS" ]
}
lab_wait 120 spread || fail "$REPLICAS web pods never Ready on $REPLICAS distinct hosts: $(lab_kubectl get pods -o wide 2>&1)"
eps_all() { [ "$(ready_eps)" = "$REPLICAS" ]; }
lab_wait 30 eps_all || fail "Service web never had $REPLICAS ready endpoints"
CIP=$(lab_kubectl get svc web -o jsonpath='{.spec.clusterIP}')
NP=$(lab_kubectl get svc web-nodeport -o jsonpath='{.spec.ports[0].nodePort}')
[ -n "$CIP" ] && [ -n "$NP" ] || fail "no clusterIP / nodePort"
# every host's kube-proxy has programmed all endpoints: each host reaches every pod
sees_all() { # N: host N's ClusterIP rules lead to every web pod
	: >"$E2E_OUT/seen$1"
	for _k in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do
		lab_net "$1" curl -s --max-time 2 "http://$CIP/" >>"$E2E_OUT/seen$1" && echo >>"$E2E_OUT/seen$1"
	done
	[ "$(sort -u "$E2E_OUT/seen$1" | grep -c .)" = "$REPLICAS" ]
}
for n in $ALL; do
	lab_wait 30 sees_all $n || fail "host $(_lab_name $n) does not reach all $REPLICAS pods through $CIP: $(sort "$E2E_OUT/seen$n" | uniq -c | tr '\n' ' ')"
done
say "ok $REPLICAS web pods, one per host: $(awk '{printf "%s@%s ", $1, $2}' "$E2E_OUT/web")(ClusterIP $CIP, NodePort $NP)"

# ------------------------------- 2. pods on cp1 (and w1) -> Service -> the other hosts
client_yaml() { # POD HOST
	cat <<EOF
apiVersion: v1
kind: Pod
metadata:
  name: $1
spec:
  restartPolicy: Never
  terminationGracePeriodSeconds: 1
  nodeSelector:
    kubernetes.io/hostname: $2
  containers:
  - name: client
    image: busybox:1.35
    command:
    - sh
    - -c
    - |
      i=0
      while [ \$i -lt 45 ]; do
        r=\$(printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 3 $CIP 80 2>/dev/null)
        case "\$r" in "HTTP/1."*" 200 "*) echo "answer \$(printf '%s\\n' "\$r" | tail -n 1)" ;; *) echo FAILED ;; esac
        i=\$((i + 1))
      done
      echo done
EOF
}
CLIENTS="client:cp1"
[ "$LAB_W" -gt 0 ] && CLIENTS="$CLIENTS client-w1:w1"
for c in $CLIENTS; do
	client_yaml "${c%%:*}" "${c#*:}" >"$E2E_OUT/${c%%:*}.yaml"
	lab_kubectl apply -f "$E2E_OUT/${c%%:*}.yaml" >/dev/null || fail "create the client pod ${c%%:*}"
done
from_host() { # OUT HOST: distinct answering pods that run on HOST
	sed -n 's/^answer //p' "$1" | sort -u | while read -r p; do
		grep "^$p $2\$" "$E2E_OUT/web"
	done | grep -c .
}
for c in $CLIENTS; do
	pod=${c%%:*} on=${c#*:}
	client_done() { [ "$(lab_kubectl get pod "$pod" -o jsonpath='{.status.phase}')" = Succeeded ]; }
	lab_wait 90 client_done || fail "client pod $pod did not succeed: $(lab_kubectl get pod "$pod" -o wide 2>&1)"
	[ "$(lab_kubectl get pod "$pod" -o jsonpath='{.spec.nodeName}')" = "$on" ] || fail "client pod $pod not on $on"
	out=$E2E_OUT/$pod.out
	lab_kubectl logs "$pod" >"$out" 2>&1 || fail "kubectl logs $pod: $(cat "$out")"
	grep -q '^done' "$out" || fail "client pod $pod output incomplete: $(head -c 500 "$out")"
	[ "$(count "$out" FAILED)" = 0 ] || fail "client pod $pod on $on: $(count "$out" FAILED) of 45 requests failed"
	# answers from the pod of every other host
	for n in $ALL; do
		hn=$(_lab_name $n)
		[ "$hn" = "$on" ] && continue
		[ "$(from_host "$out" "$hn")" -ge 1 ] || fail "pod on $on -> ClusterIP: no answer from the pod on $hn: $(sort "$out" | uniq -c | tr '\n' ' ')"
	done
	say "ok pod on $on -> ClusterIP $CIP: 45 requests, 0 failed, answers from the pods on every other host ($(sed -n 's/^answer //p' "$out" | sort | uniq -c | awk '{printf "%s x%s ", $2, $1}'))"
done
NPIPS=""
for n in $ALL; do
	lab_host $n
	body=$(curl -s --max-time 3 "http://$IP:$NP/")
	grep -q "^$body " "$E2E_OUT/web" || fail "NodePort $IP:$NP answered '$body'"
	NPIPS="$NPIPS $IP"
done
say "ok NodePort $NP answers on$NPIPS (from the root namespace, over the bridge)"
for c in $CLIENTS; do lab_kubectl delete pod "${c%%:*}" --wait=false >/dev/null 2>&1; done

# ------------------------------------------------------------ 3. kill -9 store leader
L=$(lab_store_leader) || fail "no store leader found (kube-storectl endpoint status)"
O=$((L % 3 + 1)) # another host: its apiserver serves kubectl meanwhile
say "store leader is cp$L; kill -9 its kube-store, writes through cp$O's apiserver"
# Two clocks from the kill: a new leader reported by the surviving members (polled), and
# the first kubectl create that succeeds (a writer loop, 2 s per attempt at most).
rm -f "$E2E_OUT/write-ok"
t0=$(lab_now_ms)
lab_unit kill "$L" kube-store >/dev/null || fail "kill -9 cp$L/kube-store"
(
	k=0
	while [ $(($(lab_now_ms) - t0)) -lt 60000 ]; do
		if lab_kubectl_on $O --request-timeout=2s create configmap "failover-$k" --from-literal=k=v >/dev/null 2>&1; then
			echo "$(lab_now_ms) $k" >"$E2E_OUT/write-ok"
			exit 0
		fi
		k=$((k + 1))
		sleep 0.1
	done
) &
WRITER=$!
NL=""
while [ $(($(lab_now_ms) - t0)) -lt 60000 ]; do
	NL=$(lab_store_leader) && [ "$NL" != "$L" ] && break
	NL=""
	sleep 0.1
done
ELECT_MS=$(($(lab_now_ms) - t0))
wait $WRITER
WRITER=""
[ -n "$NL" ] || fail "no new store leader within 60 s of killing cp$L's member"
[ -s "$E2E_OUT/write-ok" ] || fail "no write succeeded within 60 s of killing the store leader"
read -r t1 k <"$E2E_OUT/write-ok"
FAILOVER_MS=$((t1 - t0))
say "ok store failover: kill -9 -> new leader cp$NL seen in ${ELECT_MS} ms, first successful kubectl create in ${FAILOVER_MS} ms ($k failed attempts)"
lab_kubectl_on $O get configmap "failover-$k" >/dev/null || fail "kubectl via cp$O cannot read its write"
lab_kubectl_on $O get nodes >/dev/null || fail "kubectl via cp$O fails after failover"
say "ok kubectl through cp$O reads the write and lists nodes"
if lab_kubectl_on "$L" get nodes >/dev/null 2>&1; then
	say "ok kubectl through cp$L's apiserver still works (its store is down; it reaches another member)"
else
	say "note: cp$L's apiserver fails while its local store is down (STORE_SERVERS: $(grep '^STORE_SERVERS' "$LAB/hosts/cp$L/root/etc/kubec/kube-apiserver.env" | tail -n 1))"
fi
# Restart=on-failure, RestartSec=5: the unit's supervisor brings the member back; the
# test only waits.
member_ok() { _lab_store_ctl "$1" endpoint health >/dev/null 2>&1; }
lab_wait 60 member_ok "$L" || fail "cp$L's store member not back (supervisor: $(lab_unit show "$L" kube-store))"
STORE_BACK_MS=$(($(lab_now_ms) - t0))
grep -q "kube-store main process .* exited, code=killed, signal=KILL; Restart=on-failure: restart in 5s" \
	"$LAB/hosts/cp$L/logs/kube-store.log" || fail "cp$L's kube-store log has no supervisor restart after the kill"
# an apiserver that gave up on its store (it exits) is restarted by its supervisor too
lab_wait 120 _lab_api_ready "$L" || fail "cp$L's apiserver not ready after its store came back (supervisor: $(lab_unit show "$L" kube-apiserver))"
say "ok cp$L's store member restarted by its supervisor, healthy ${STORE_BACK_MS} ms after the kill; its apiserver ready"

# ---------------------------------- 3b. kill -9 an apiserver: the supervisor repairs it
A=$((O % 3 + 1))
lab_host $A
old_pid=$(lab_unit pid $A kube-apiserver) || fail "cp$A's kube-apiserver not running"
api_ok() { lab_kubectl_on $A --request-timeout=2s get nodes >/dev/null 2>&1; }
api_ok || fail "kubectl through cp$A fails before the kill"
say "kill -9 cp$A's kube-apiserver (pid $old_pid); only its supervisor may restart it"
t0=$(lab_now_ms)
lab_unit kill $A kube-apiserver >/dev/null || fail "kill -9 cp$A/kube-apiserver"
api_down() { ! api_ok; }
lab_wait 5 api_down || fail "kubectl through cp$A still works after its apiserver was killed"
lab_wait 90 api_ok || fail "kubectl through cp$A does not work again within 90 s (supervisor: $(lab_unit show $A kube-apiserver))"
API_BACK_MS=$(($(lab_now_ms) - t0))
new_pid=$(lab_unit pid $A kube-apiserver) || fail "cp$A's kube-apiserver not running after the repair"
[ "$new_pid" != "$old_pid" ] || fail "cp$A's kube-apiserver pid unchanged"
# the restart came RestartSec (5 s) after the exit, by the supervisor's own clock
lab_host $A
ex=$(sed -n 's/^---- unit-run: \([0-9]*\) kube-apiserver main process '"$old_pid"' exited.*restart in 5s$/\1/p' "$H/logs/kube-apiserver.log")
st=$(sed -n 's/^---- unit-run: \([0-9]*\) start kube-apiserver .*/\1/p' "$H/logs/kube-apiserver.log" | tail -n 1)
[ -n "$ex" ] && [ -n "$st" ] || fail "no exit/restart lines of the supervisor in cp$A's kube-apiserver.log"
[ $((st - ex)) -ge 5000 ] || fail "the supervisor restarted cp$A's apiserver $((st - ex)) ms after the exit (RestartSec=5)"
API_RESTART_MS=$((st - ex))
say "ok cp$A's apiserver: kill -9 -> restarted by its supervisor ${API_RESTART_MS} ms after the exit (RestartSec=5), kubectl through it works again ${API_BACK_MS} ms after the kill (pid $old_pid -> $new_pid)"

# ------------------------------------------------------------- 4. take a worker away
# A host other than cp1 (the client's) and the store leader, so the store keeps its leader.
L=$(lab_store_leader) || fail "no store leader"
W=3
[ "$L" = 3 ] && W=2
lab_host $W; WN=$NAME
OLD_ON_W=$(web_ready | awk -v n="$WN" '$2 == n {print $1}')
[ -n "$OLD_ON_W" ] || fail "no web pod on $WN before taking it away"
: >"$E2E_OUT/loss.log"
client_start "$E2E_OUT/loss.log" lab_net 1 curl -s --max-time 2 "http://$CIP/"
lab_wait 10 grep -q ok "$E2E_OUT/loss.log" || fail "client loop on cp1 gets no answer before the loss"
say "taking $WN away: link kclab-$WN down (pods there: $OLD_ON_W)"
t_loss=$(lab_now_ms)
ip link set "kclab-$WN" down || fail "ip link set kclab-$WN down"
notready() { ! lab_node_ready "$WN"; }
lab_wait 120 notready || fail "$WN never became NotReady"
t_nr=$(lab_now_ms)
replaced() {
	web_ready >"$E2E_OUT/web2"
	[ "$(grep -c . "$E2E_OUT/web2")" = "$REPLICAS" ] && ! grep -q " $WN\$" "$E2E_OUT/web2"
}
lab_wait 180 replaced || fail "the pods of $WN were not replaced on the others: $(lab_kubectl get pods -o wide 2>&1)"
t_rep=$(lab_now_ms)
# evicted: the taint manager deleted them (Terminating until the kubelet of $WN confirms)
for p in $OLD_ON_W; do
	dt=$(lab_kubectl get pod "$p" -o jsonpath='{.metadata.deletionTimestamp}' 2>/dev/null)
	[ -n "$dt" ] || ! lab_kubectl get pod "$p" >/dev/null 2>&1 || fail "pod $p on the lost $WN was not evicted"
done
eps_moved() {
	lab_kubectl get endpointslices -l kubernetes.io/service-name=web -o json | $LAB_PY -c '
import json, sys
eps = [e for s in json.load(sys.stdin)["items"] for e in (s.get("endpoints") or [])
       if (e.get("conditions") or {}).get("ready", True)]
sys.exit(0 if len(eps) == int(sys.argv[2]) and all(e.get("nodeName") != sys.argv[1] for e in eps) else 1)' "$WN" "$REPLICAS"
}
lab_wait 60 eps_moved || fail "endpoints of web still point at $WN or are not $REPLICAS"
t_eps=$(lab_now_ms)
# the client must be served again: 20 answers after the endpoints moved; a failure that
# ends more than 3 s later (kube-proxy's 1 s min sync + the client's 2 s timeout) is late
n0=$(grep -c . "$E2E_OUT/loss.log")
ok_after() { tail -n +"$((n0 + 1))" "$E2E_OUT/loss.log" | grep -c ' ok ' | awk '{exit !($1 >= 20)}'; }
lab_wait 30 ok_after || fail "client loop not served again after the replacement"
client_stop
late_fail=$(awk -v t="$((t_eps + 3000))" '$2 == "FAILED" && $1 > t' "$E2E_OUT/loss.log" | grep -c . || true)
nf=$(count "$E2E_OUT/loss.log" FAILED); nt=$(grep -c . "$E2E_OUT/loss.log")
win=$(awk '/FAILED/ {if (!f) f = $1; l = $1} END {if (f) printf "%.1f", (l - f) / 1000; else print 0}' "$E2E_OUT/loss.log")
LOSS_NR_S=$(awk -v a="$t_loss" -v b="$t_nr" 'BEGIN {printf "%.1f", (b - a) / 1000}')
LOSS_REP_S=$(awk -v a="$t_loss" -v b="$t_rep" 'BEGIN {printf "%.1f", (b - a) / 1000}')
say "ok $WN NotReady ${LOSS_NR_S}s after the loss; its pods evicted and replaced, Running+Ready elsewhere ${LOSS_REP_S}s after the loss: $(awk '{printf "%s@%s ", $1, $2}' "$E2E_OUT/web2")"
say "ok endpoints of web follow ($REPLICAS ready, none on $WN); client loop: $nf of $nt requests failed, error window ${win}s, $late_fail failed after the replacement"
[ "$late_fail" = 0 ] || fail "$late_fail client requests failed after the pods were replaced"
ip link set "kclab-$WN" up || fail "ip link set kclab-$WN up"
t_back=$(lab_now_ms)
lab_wait 120 lab_node_ready "$WN" || fail "$WN not Ready again after its link came back"
BACK_S=$(awk -v a="$t_back" -v b="$(lab_now_ms)" 'BEGIN {printf "%.1f", (b - a) / 1000}')
untainted() { [ -z "$(lab_kubectl get node "$WN" -o jsonpath='{.spec.taints}')" ]; }
lab_wait 60 untainted || fail "$WN keeps taints: $(lab_kubectl get node "$WN" -o jsonpath='{.spec.taints}')"
cat >"$E2E_OUT/probe.yaml" <<EOF
apiVersion: v1
kind: Pod
metadata:
  name: probe-$WN
spec:
  terminationGracePeriodSeconds: 1
  nodeSelector:
    kubernetes.io/hostname: $WN
  containers:
  - name: p
    image: busybox:1.35
    command: ["sleep", "3600"]
EOF
lab_kubectl apply -f "$E2E_OUT/probe.yaml" >/dev/null || fail "create probe-$WN"
probe_running() { [ "$(lab_kubectl get pod "probe-$WN" -o jsonpath='{.status.phase}')" = Running ]; }
lab_wait 60 probe_running || fail "a pod for $WN never ran there after it came back: $(lab_kubectl get pod "probe-$WN" -o wide 2>&1)"
lab_kubectl delete pod "probe-$WN" --wait=false >/dev/null 2>&1
gone_old() { ! lab_kubectl get pods -o name | grep -q -F "$(echo "$OLD_ON_W" | head -n 1)"; }
lab_wait 60 gone_old || say "note: evicted pod $OLD_ON_W still listed after $WN came back"
say "ok $WN back: Ready ${BACK_S}s after link up, no taints, schedulable (a pod for it runs there)"

# --------------------------------------------------- 5. rolling control-plane restart
: >"$E2E_OUT/roll.log"
client_start "$E2E_OUT/roll.log" lab_net 1 curl -s --max-time 2 "http://$CIP/"
lab_wait 10 grep -q ok "$E2E_OUT/roll.log" || fail "client loop gets no answer before the rolling restart"
# For the rare failed request (README, known gaps): what cp1's kube-proxy had programmed
# for web (its KUBE-SEP rules) and what the EndpointSlice said, every ~0.5 s, so a failure
# can be told apart: endpoints briefly fewer (the controller-manager's hand-over, a
# kube-proxy resync) versus rules intact and the packet lost (conntrack, ARP).
(
	while [ ! -e "$E2E_OUT/client-stop" ]; do
		seps=$(lab_net 1 iptables-save -t nat 2>/dev/null | grep -c -- '-A KUBE-SEP-.*default/web[: "].*DNAT')
		echo "$(lab_now_ms) rules cp1 web-sep=$seps eps=$(ready_eps 2>/dev/null)"
		sleep 0.5
	done
) >"$E2E_OUT/roll-rules.log" 2>&1 &
ROLL_REC=$!
ROLL=""
for n in 1 2 3; do
	t0=$(lab_now_ms)
	echo "$t0 restart cp$n" >>"$E2E_OUT/roll-marks.log"
	for u in kube-scheduler kube-controller-manager kube-apiserver kube-store; do
		lab_unit stop $n $u --timeout 30 >/dev/null || fail "stop cp$n/$u"
	done
	lab_start_cp $n >"$E2E_OUT/start.out" 2>&1 || fail "restart cp$n's control plane: $(cat "$E2E_OUT/start.out")"
	lab_wait 60 member_ok $n || fail "cp$n's store member unhealthy after restart"
	lab_wait 60 _lab_api_ready $n || fail "cp$n's apiserver not ready after restart"
	lab_wait 60 lab_node_ready "cp$n" || fail "node cp$n not Ready after its control plane restarted"
	ms=$(($(lab_now_ms) - t0))
	echo "$(lab_now_ms) cp$n healthy" >>"$E2E_OUT/roll-marks.log"
	ROLL="$ROLL cp$n=${ms}ms"
	say "ok cp$n: store, apiserver, controller-manager, scheduler restarted and healthy in ${ms} ms"
done
lab_wait 30 eps_all || fail "Service web lost endpoints after the rolling restart"
client_stop
wait "$ROLL_REC" 2>/dev/null
nf=$(count "$E2E_OUT/roll.log" FAILED); nt=$(grep -c . "$E2E_OUT/roll.log")
if [ "$nf" != 0 ]; then
	echo "rolling restart timeline (ms, client failures and restarts):"
	grep FAILED "$E2E_OUT/roll.log" | cat - "$E2E_OUT/roll-marks.log" | sort -n | sed 's/^/    /'
	echo "cp1's web rules and the ready endpoints, 5 s around each failure:"
	for t in $(awk '$2 == "FAILED" {print $1}' "$E2E_OUT/roll.log"); do
		awk -v t="$t" '$1 > t - 5000 && $1 < t + 5000' "$E2E_OUT/roll-rules.log"
	done | sort -u -n | sed 's/^/    /'
	echo "cp1 neighbours:"
	lab_net 1 ip neigh show dev eth0 2>/dev/null | sed 's/^/    /'
	echo "cp1 nat table (KUBE-SVC/SEP of web):"
	lab_net 1 iptables-save -t nat 2>/dev/null | grep -E "default/web[ :\"]" | head -n 20 | sed 's/^/    /'
	fail "rolling restart: $nf of $nt client requests failed"
fi
say "ok rolling restart of the control plane ($ROLL): $nt client requests to the Service, 0 failed"
lab_kubectl get nodes >/dev/null || fail "kubectl after the rolling restart"
LEADER_NOW=$(lab_store_leader) || fail "no store leader after the rolling restart"

# ------------------------------------------------------------------------- figures
rss_of() { # UNIT: total VmRSS (kB) of UNIT's processes over the hosts
	t=0
	for n in $ALL; do
		p=$(lab_unit pid $n "$1" 2>/dev/null) || continue
		r=$(awk '/^VmRSS/ {print $2}' "/proc/$p/status" 2>/dev/null)
		t=$((t + ${r:-0}))
	done
	echo $t
}
RSS_TOTAL=0
RSS_LINE=""
for u in $LAB_CP_UNITS; do
	r=$(rss_of $u)
	RSS_TOTAL=$((RSS_TOTAL + r))
	RSS_LINE="$RSS_LINE $u=$((r / 1024))MB"
done
RSS_NODE=""
for u in kubelet kube-proxy containerd; do
	RSS_NODE="$RSS_NODE $u=$(($(rss_of $u) / 1024))MB"
done
echo "================ figures"
echo "store failover (kill -9 leader): new leader seen after ${ELECT_MS} ms, first successful kubectl create after ${FAILOVER_MS} ms; member back by its supervisor after ${STORE_BACK_MS} ms"
echo "apiserver kill -9 -> restarted by its supervisor ${API_RESTART_MS} ms after the exit (RestartSec=5); kubectl through it again after ${API_BACK_MS} ms"
echo "worker loss -> NotReady: ${LOSS_NR_S} s; -> its pods Running+Ready elsewhere: ${LOSS_REP_S} s"
echo "  (--node-monitor-grace-period=$LAB_GRACE, --node-monitor-period=2s, not-ready/unreachable tolerationSeconds=$LAB_TOLERATION)"
echo "worker back -> Ready: ${BACK_S} s; rolling control-plane restart:$ROLL"
echo "control-plane RSS, 3 hosts: $((RSS_TOTAL / 1024)) MB ($RSS_LINE )"
echo "node agents RSS, $LAB_T hosts:$RSS_NODE; store leader now cp$LEADER_NOW"
E2E_FAILED=0
