#!/bin/sh
# kube-proxy integration: apply rules inside a private network namespace (the host's
# iptables are never touched), check them with iptables-save, send real traffic to a
# ClusterIP and a NodePort and see it reach "pods" (HTTP servers in a second namespace
# joined by a veth pair), see a Service without endpoints REJECT, update the endpoints,
# run the daemon against a fake apiserver and follow a watch event, then --cleanup.
set -u
: "${KUBEC_BUILD:?}"
PY=/usr/bin/python3
KP=$KUBEC_BUILD/bin/kube-proxy
HERE=$(cd "$(dirname "$0")" && pwd)
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root for network namespaces"; exit 77; }
for t in ip iptables iptables-save iptables-restore curl; do
	command -v $t >/dev/null 2>&1 || { echo "SKIP: $t missing"; exit 77; }
done
[ -x "$PY" ] || { echo "SKIP: $PY missing"; exit 77; }
[ -x "$KP" ] || { echo "FAIL: $KP not built"; exit 1; }

NS=kubec-proxy-test-$$
POD=kubec-proxy-pod-$$
VH=kpxh$$
VP=kpxp$$
T=$(mktemp -d)
PIDS=""
FAILS=0

cleanup() {
	for p in $PIDS; do kill "$p" 2>/dev/null; done
	for p in $PIDS; do wait "$p" 2>/dev/null; done
	ip netns del "$NS" 2>/dev/null
	ip netns del "$POD" 2>/dev/null
	ip link del "$VH" 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

fail() {
	echo "FAIL: $*"
	FAILS=$((FAILS + 1))
}
dump() {
	for f in "$T"/*.log; do
		[ -f "$f" ] || continue
		echo "----- $f"
		tail -n 60 "$f"
	done
	echo "----- iptables-save in $NS"
	ip netns exec "$NS" iptables-save 2>&1 | tail -n 80
}
# Background processes must be started with a plain `ip netns exec ... &` (it execs, so
# $! is the process itself); a backgrounded shell function would be a subshell whose
# kill leaves the child running.
inns() { ip netns exec "$NS" "$@"; }
inpod() { ip netns exec "$POD" "$@"; }

iptables --version
# ---- topology: NS (the node, 10.99.0.1) <-veth-> POD (pods 10.99.0.2 and 10.99.0.3)
ip netns add "$NS" || { echo "FAIL: ip netns add"; exit 1; }
ip netns add "$POD" || { echo "FAIL: ip netns add"; exit 1; }
ip link add "$VH" type veth peer name "$VP" || { echo "FAIL: veth"; exit 1; }
ip link set "$VH" netns "$NS"
ip link set "$VP" netns "$POD"
inns ip link set lo up
inns ip addr add 10.99.0.1/24 dev "$VH"
inns ip link set "$VH" up
inns sysctl -qw net.ipv4.ip_forward=1
# A node has a default route; without one, locally sent packets to a ClusterIP fail the
# routing lookup before the nat OUTPUT hook can DNAT them.
inns ip route add default dev "$VH"
inpod ip link set lo up
inpod ip addr add 10.99.0.2/24 dev "$VP"
inpod ip addr add 10.99.0.3/24 dev "$VP"
inpod ip link set "$VP" up
inpod ip route add default via 10.99.0.1

# Two "pods": HTTP servers answering their own name.
for p in a:10.99.0.2 b:10.99.0.3; do
	name=${p%%:*}
	ip=${p#*:}
	mkdir -p "$T/www-$name"
	echo "pod-$name" >"$T/www-$name/index.html"
	ip netns exec "$POD" $PY -m http.server 8080 --bind "$ip" --directory "$T/www-$name" \
		>"$T/pod-$name.log" 2>&1 &
	PIDS="$PIDS $!"
done
deadline=$(($(date +%s) + 20))
for ip in 10.99.0.2 10.99.0.3; do
	until inns curl -s -o /dev/null --max-time 1 "http://$ip:8080/"; do
		[ "$(date +%s)" -lt "$deadline" ] || { echo "FAIL: pod $ip not serving"; dump; exit 1; }
		sleep 0.1
	done
done

# ---- the model: web (2 endpoints), empty (no endpoints), web-np (NodePort 30080)
slice() { # name service ips...
	n=$1; s=$2; shift 2
	eps=""
	for ip in "$@"; do
		eps="$eps${eps:+,}{\"addresses\":[\"$ip\"],\"conditions\":{\"ready\":true},\"nodeName\":\"node1\"}"
	done
	printf '{"kind":"EndpointSlice","apiVersion":"discovery.k8s.io/v1","metadata":{"namespace":"default","name":"%s","labels":{"kubernetes.io/service-name":"%s"}},"addressType":"IPv4","ports":[{"name":"http","port":8080,"protocol":"TCP"}],"endpoints":[%s]}' "$n" "$s" "$eps"
}
model() { # web endpoint ips...
	cat <<JSON
{"kind":"List","apiVersion":"v1","items":[
{"kind":"Service","apiVersion":"v1","metadata":{"namespace":"default","name":"web"},"spec":{"clusterIP":"10.96.0.10","ports":[{"name":"http","port":80,"protocol":"TCP","targetPort":8080}]}},
{"kind":"Service","apiVersion":"v1","metadata":{"namespace":"default","name":"empty"},"spec":{"clusterIP":"10.96.0.11","ports":[{"name":"http","port":80,"protocol":"TCP"}]}},
{"kind":"Service","apiVersion":"v1","metadata":{"namespace":"default","name":"web-np"},"spec":{"type":"NodePort","clusterIP":"10.96.0.12","ports":[{"name":"http","port":80,"protocol":"TCP","nodePort":30080}]}},
$(slice web-1 web "$@"),
$(slice web-np-1 web-np "$@")
]}
JSON
}
SVC_CHAIN=$($PY -c 'import hashlib,base64;print("KUBE-SVC-"+base64.b32encode(hashlib.sha256(b"default/web:httptcp").digest()).decode()[:16])')

# Distinct bodies seen in N requests to URL (from the node namespace).
hits() { # url n
	i=0
	while [ $i -lt "$2" ]; do
		inns curl -s --max-time 2 "$1"
		i=$((i + 1))
	done | sort | uniq -c
}

# ---- 1. apply once from a file
model 10.99.0.2 10.99.0.3 >"$T/model.json"
if ! inns "$KP" --sync-once-from "$T/model.json" --cluster-cidr 10.99.0.0/24 \
	--hostname-override node1 >"$T/once.log" 2>&1; then
	fail "kube-proxy --sync-once-from failed"
	dump
	exit 1
fi
inns iptables-save -t nat >"$T/nat.txt"
inns iptables-save -t filter >"$T/filter.txt"
grep -q "^:$SVC_CHAIN " "$T/nat.txt" || fail "chain $SVC_CHAIN (default/web:http) missing"
grep -q -- "-A KUBE-SERVICES -d 10.96.0.10/32 -p tcp -m comment --comment \"default/web:http cluster IP\" -m tcp --dport 80 -j $SVC_CHAIN" "$T/nat.txt" ||
	fail "ClusterIP jump missing"
grep -q -- "--probability 0.50000000000 -j KUBE-SEP-" "$T/nat.txt" || fail "statistic rule missing"
[ "$(grep -c -- '-j DNAT --to-destination 10.99.0.[23]:8080' "$T/nat.txt")" = 4 ] ||
	fail "expected 4 DNAT rules (2 services x 2 endpoints)"
grep -q -- '-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES' "$T/nat.txt" ||
	fail "PREROUTING jump missing"
grep -q -- '-A POSTROUTING -m comment --comment "kubernetes postrouting rules" -j KUBE-POSTROUTING' "$T/nat.txt" ||
	fail "POSTROUTING jump missing"
grep -q -- '"default/empty:http has no endpoints"' "$T/filter.txt" || fail "REJECT rule missing"
grep -q -- '-A KUBE-NODEPORTS -p tcp -m comment --comment "default/web-np:http" -m tcp --dport 30080 -j KUBE-EXT-' "$T/nat.txt" ||
	fail "NodePort rule missing"

# ---- 2. real traffic
H=$(hits http://10.96.0.10/ 30)
echo "ClusterIP 10.96.0.10 (30 requests):"; echo "$H"
echo "$H" | grep -q pod-a || fail "ClusterIP never reached pod-a"
echo "$H" | grep -q pod-b || fail "ClusterIP never reached pod-b"
if inns curl -s --max-time 3 http://10.96.0.11/ >/dev/null 2>&1; then
	fail "service without endpoints answered"
fi
# REJECT answers at once with "connection refused" (curl exit 7), not a timeout (28).
inns curl -s --max-time 3 http://10.96.0.11/ >/dev/null 2>&1
rc=$?
[ $rc = 7 ] || fail "service without endpoints: curl exit $rc, want 7 (refused)"
# NodePort on the node's address, from the pod namespace (masqueraded back).
NP=$(inpod curl -s --max-time 3 http://10.99.0.1:30080/)
echo "NodePort 10.99.0.1:30080 -> $NP"
case "$NP" in pod-a | pod-b) ;; *) fail "NodePort did not reach a pod (got '$NP')" ;; esac

# ---- 3. an endpoint goes away: its chains are deleted, traffic goes to the other
model 10.99.0.3 >"$T/model.json"
inns "$KP" --sync-once-from "$T/model.json" --cluster-cidr 10.99.0.0/24 \
	--hostname-override node1 >>"$T/once.log" 2>&1 || fail "second sync failed"
inns iptables-save -t nat >"$T/nat2.txt"
grep -q '10.99.0.2' "$T/nat2.txt" && fail "rules for removed endpoint 10.99.0.2 remain"
[ "$(grep -c '^:KUBE-SEP-' "$T/nat2.txt")" = 2 ] || fail "stale KUBE-SEP chains not deleted"
H=$(hits http://10.96.0.10/ 10)
echo "after removing 10.99.0.2:"; echo "$H"
echo "$H" | grep -q pod-a && fail "removed endpoint still gets traffic"
echo "$H" | grep -q "10 pod-b" || fail "not all requests reached pod-b"

# ---- 4. --cleanup removes every kube chain and jump
inns "$KP" --cleanup >"$T/cleanup.log" 2>&1 || fail "--cleanup failed"
if inns iptables-save | grep -q KUBE-; then
	fail "--cleanup left KUBE- rules or chains"
fi
inns curl -s --max-time 2 http://10.96.0.10/ >/dev/null 2>&1 && fail "ClusterIP works after cleanup"

# ---- 5. the daemon, against a fake apiserver, follows a watch event
mkdir -p "$T/api"
model 10.99.0.2 10.99.0.3 >"$T/api/model.json"
: >"$T/api/events-services.jsonl"
: >"$T/api/events-endpointslices.jsonl"
ip netns exec "$NS" $PY "$HERE/proxy/fake_apiserver.py" "$T/api" >"$T/fake-apiserver.log" 2>&1 &
PIDS="$PIDS $!"
deadline=$(($(date +%s) + 15))
until [ -s "$T/api/port" ]; do
	[ "$(date +%s)" -lt "$deadline" ] || { fail "fake apiserver did not start"; dump; exit 1; }
	sleep 0.1
done
APORT=$(cat "$T/api/port")
free_port() { inns $PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
HP=$(free_port)
MP=$(free_port)
ip netns exec "$NS" "$KP" --master "http://127.0.0.1:$APORT" --cluster-cidr 10.99.0.0/24 \
	--hostname-override node1 --healthz-bind-address "127.0.0.1:$HP" \
	--metrics-bind-address "127.0.0.1:$MP" --iptables-min-sync-period 100ms -v=2 \
	>"$T/kube-proxy.log" 2>&1 &
KPID=$!
PIDS="$PIDS $KPID"
deadline=$(($(date +%s) + 30))
until inns iptables-save -t nat 2>/dev/null | grep -q "^:$SVC_CHAIN "; do
	[ "$(date +%s)" -lt "$deadline" ] || { fail "daemon did not program $SVC_CHAIN"; dump; exit 1; }
	sleep 0.1
done
code=$(inns curl -s -o "$T/healthz.json" -w '%{http_code}' "http://127.0.0.1:$HP/healthz")
[ "$code" = 200 ] || fail "/healthz answered $code"
grep -q '"lastUpdated"' "$T/healthz.json" || fail "/healthz body: $(cat "$T/healthz.json")"
H=$(hits http://10.96.0.10/ 20)
echo "$H" | grep -q pod-a || fail "daemon rules: ClusterIP never reached pod-a"
# The watch event: web-1 now holds only 10.99.0.3.
printf '{"type":"MODIFIED","object":%s}\n' "$(slice web-1 web 10.99.0.3)" \
	>>"$T/api/events-endpointslices.jsonl"
deadline=$(($(date +%s) + 15))
while inns iptables-save -t nat | grep -q -- "-A $SVC_CHAIN .*10.99.0.2:8080"; do
	[ "$(date +%s)" -lt "$deadline" ] || { fail "daemon did not drop endpoint 10.99.0.2"; dump; break; }
	sleep 0.05
done
H=$(hits http://10.96.0.10/ 10)
echo "daemon, after the watch event:"; echo "$H"
echo "$H" | grep -q "10 pod-b" || fail "after the watch event not all requests reached pod-b"
M=$(inns curl -s "http://127.0.0.1:$MP/metrics")
echo "$M" | grep -q '^kubeproxy_sync_proxy_rules_duration_seconds_count [1-9]' ||
	fail "/metrics lacks the sync histogram"
echo "$M" | grep -q '^kubeproxy_sync_proxy_rules_last_timestamp_seconds [1-9]' ||
	fail "/metrics lacks the last sync timestamp"
[ "$(inns curl -s "http://127.0.0.1:$MP/proxyMode")" = iptables ] || fail "/proxyMode"
kill "$KPID"
wait "$KPID"
rc=$?
[ $rc = 0 ] || fail "kube-proxy exit status $rc after SIGTERM"
inns "$KP" --cleanup >>"$T/cleanup.log" 2>&1 || fail "--cleanup failed"
inns iptables-save | grep -q KUBE- && fail "--cleanup left KUBE- rules after the daemon"

# ---- 6. flags: an unsupported mode is a clear error
if out=$("$KP" --proxy-mode ipvs 2>&1); then
	fail "--proxy-mode ipvs accepted"
else
	echo "$out" | grep -q 'mode: Unsupported value: "ipvs"' || fail "--proxy-mode ipvs message: $out"
fi

if [ $FAILS -ne 0 ]; then
	dump
	echo "proxy_rules: $FAILS failure(s)"
	exit 1
fi
echo "proxy_rules: PASS"
exit 0
