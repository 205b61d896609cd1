#!/bin/sh
# kube-proxy benchmark (issue 9 item 5): N Services x 3 hollow endpoints, each size in a
# fresh private network namespace (the host's iptables are never touched).
# Prints, per backend and size: the first full sync (empty tables), a second full sync
# of the same model (steady state), a full sync after one endpoint is removed (each run
# is a new `kube-proxy --sync-once-from` process, so all three are full syncs), and the
# rule and chain counts. Times come from kube-proxy's own
# "synced ... in Xs" log line (model + jump check + iptables-save + generate + restore).
#
# Then, per backend and size, the daemon against a fake apiserver: the delay from an
# EndpointSlice watch event being written to the end of the (partial) sync that applied it
# (klog timestamp of the "synced" line minus the time the event was appended).
#
# Usage: sh test/bench/proxy/run.sh [sizes] [backends]
#   defaults: sizes "1000 10000", backends "legacy nft"; nft at 10000 is skipped unless
#   PROXY_BENCH_NFT_10K=1 (iptables-nft-restore takes minutes at that size).
set -u
ROOT=${KUBEC_ROOT:-$(cd "$(dirname "$0")/../../.." && pwd)}
BUILD=${KUBEC_BUILD:-$ROOT/build}
KP=$BUILD/bin/kube-proxy
PY=/usr/bin/python3
SIZES=${1:-"1000 10000"}
BACKENDS=${2:-"legacy nft"}
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root"; exit 77; }
[ -x "$KP" ] || { echo "FAIL: $KP not built"; exit 1; }
T=$(mktemp -d)
NS=kubec-proxy-bench-$$
KPID=""
FPID=""
cleanup() {
	# the daemon and the fake apiserver of an interrupted run, then their netns
	[ -n "$KPID" ] && kill "$KPID" 2>/dev/null
	[ -n "$FPID" ] && kill "$FPID" 2>/dev/null
	[ -n "$KPID$FPID" ] && wait 2>/dev/null
	ip netns del "$NS" 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP PIPE

secs() { sed -n "s/.* in \([0-9.]*\)s (.*iptables-restore \([0-9.]*\)s.*/\1 (restore \2)/p" "$1" | tail -n 1; }

printf '%-7s %6s %22s %22s %22s %7s %7s\n' backend svcs "first sync s" "second sync s" \
	"endpoint change s" rules chains
for b in $BACKENDS; do
	command -v "iptables-$b-restore" >/dev/null 2>&1 || { echo "no iptables-$b-restore"; continue; }
	for n in $SIZES; do
		if [ "$b" = nft ] && [ "$n" -ge 10000 ] && [ "${PROXY_BENCH_NFT_10K:-0}" != 1 ]; then
			printf '%-7s %6s %s\n' "$b" "$n" "skipped (set PROXY_BENCH_NFT_10K=1; minutes)"
			continue
		fi
		$PY "$(dirname "$0")/gen_model.py" "$n" 3 >"$T/m.json"
		$PY "$(dirname "$0")/gen_model.py" "$n" 3 drop >"$T/m2.json"
		ip netns add "$NS"
		ok=1
		for step in 1 2 3; do
			m=$T/m.json
			[ $step = 3 ] && m=$T/m2.json
			ip netns exec "$NS" "$KP" --iptables-backend "$b" --sync-once-from "$m" \
				--cluster-cidr 172.16.0.0/12 -v=2 >"$T/s$step.log" 2>&1 || {
				echo "FAIL: $b n=$n step $step"
				tail -n 5 "$T/s$step.log"
				ok=0
				break
			}
		done
		if [ $ok = 1 ]; then
			rules=$(ip netns exec "$NS" "iptables-$b-save" | grep -c '^-A')
			chains=$(ip netns exec "$NS" "iptables-$b-save" | grep -c '^:KUBE-')
			printf '%-7s %6s %22s %22s %22s %7s %7s\n' "$b" "$n" "$(secs "$T/s1.log")" \
				"$(secs "$T/s2.log")" "$(secs "$T/s3.log")" "$rules" "$chains"
		fi
		ip netns exec "$NS" "$KP" --iptables-backend "$b" --cleanup >/dev/null 2>&1
		ip netns del "$NS"
	done
done

# ---- endpoint change through the daemon (watch event -> rules in place)
FAKE=$ROOT/test/integration/proxy/fake_apiserver.py
tod() { # klog "I1125 13:22:18.542836 ..." or date's "13:22:18.542836123" -> seconds of day
	echo "$1" | sed -n 's/^[IWE]*[0-9]* *\([0-9]*\):\([0-9]*\):\([0-9.]*\).*/\1 \2 \3/p' |
		awk '{ printf "%.6f", $1 * 3600 + $2 * 60 + $3 }'
}
echo
printf '%-7s %6s %28s\n' backend svcs "watch event -> rules in place"
for b in $BACKENDS; do
for n in $SIZES; do
	command -v "iptables-$b-restore" >/dev/null 2>&1 || continue
	if [ "$b" = nft ] && [ "$n" -ge 10000 ] && [ "${PROXY_BENCH_NFT_10K:-0}" != 1 ]; then
		printf '%-7s %6s %s\n' "$b" "$n" "skipped (set PROXY_BENCH_NFT_10K=1; minutes)"
		continue
	fi
	mkdir -p "$T/api"
	rm -f "$T/api/port"
	$PY "$(dirname "$0")/gen_model.py" "$n" 3 >"$T/api/model.json"
	: >"$T/api/events-services.jsonl"
	: >"$T/api/events-endpointslices.jsonl"
	ip netns add "$NS"
	ip netns exec "$NS" ip link set lo up
	ip netns exec "$NS" $PY "$FAKE" "$T/api" >"$T/fake.log" 2>&1 &
	FPID=$!
	i=0
	until [ -s "$T/api/port" ] || [ $i -ge 100 ]; do sleep 0.1; i=$((i + 1)); done
	: >"$T/kp.log"
	ip netns exec "$NS" "$KP" --iptables-backend $b --master "http://127.0.0.1:$(cat "$T/api/port")" \
		--healthz-bind-address 127.0.0.1:0 --metrics-bind-address 127.0.0.1:0 \
		--iptables-min-sync-period 0s --cluster-cidr 172.16.0.0/12 -v=2 >"$T/kp.log" 2>&1 &
	KPID=$!
	i=0
	until grep -q 'synced ' "$T/kp.log" || [ $i -ge 1200 ]; do sleep 0.1; i=$((i + 1)); done
	ev=$($PY - "$n" <<'PY'
import json, sys
i = 0
eps = [{"addresses": ["172.%d.0.0" % (16 + j)], "conditions": {"ready": True}} for j in range(2)]
print(json.dumps({"type": "MODIFIED", "object": {"kind": "EndpointSlice",
      "apiVersion": "discovery.k8s.io/v1", "metadata": {"namespace": "bench", "name": "svc-0-x",
      "labels": {"kubernetes.io/service-name": "svc-0"}}, "addressType": "IPv4",
      "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}], "endpoints": eps}}))
PY
)
	t0=$(tod "I0000 $(date +%H:%M:%S.%N)")
	echo "$ev" >>"$T/api/events-endpointslices.jsonl"
	i=0
	until [ "$(grep -c 'synced ' "$T/kp.log")" -ge 2 ] || [ $i -ge 6000 ]; do sleep 0.01; i=$((i + 1)); done
	t1=$(tod "$(grep 'synced ' "$T/kp.log" | sed -n 2p)")
	if [ -n "$t1" ]; then
		printf '%-7s %6s %26ss\n' $b "$n" "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')"
		echo "        that sync: $(grep 'synced ' "$T/kp.log" | sed -n '2s/.*] synced //p')"
	else
		printf '%-7s %6s %28s\n' $b "$n" "no second sync"
		tail -n 5 "$T/kp.log"
	fi
	kill "$KPID" "$FPID" 2>/dev/null
	wait "$KPID" "$FPID" 2>/dev/null
	KPID=""
	FPID=""
	ip netns exec "$NS" "$KP" --iptables-backend $b --cleanup >/dev/null 2>&1
	ip netns del "$NS"
done
done
