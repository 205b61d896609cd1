#!/bin/sh
# Store benchmark: kube-store vs etcd 3.4 in the same run, same load generator (loadgen.c,
# libcurl multi), each server with fsync on (the default) and a fresh data dir.
#   puts at 1/16/64 clients (256-byte values), single-key ranges at 1/16/64 clients,
#   watch fan-out (64 watchers, one writer: delivered events/s, lost events),
#   RSS after 100,000 keys (fresh server, 100k distinct keys at 64 clients).
# Env: BENCH_SECS (per cell, default 3), BENCH_FILL (default 100000), KUBEC_BUILD.
# Not part of make test.
set -u
ROOT=${KUBEC_ROOT:-$(cd "$(dirname "$0")/../../.." && pwd)}
BUILD=${KUBEC_BUILD:-$ROOT/build}
SECS=${BENCH_SECS:-3}
FILL=${BENCH_FILL:-100000}
PY=/usr/bin/python3
STORE=$BUILD/bin/kube-store
ETCD=/usr/bin/etcd

TMP=$(mktemp -d /tmp/bench_store.XXXXXX)
PID=""
cleanup() {
	[ -n "$PID" ] && kill -9 "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
	rm -rf "$TMP"
}
trap cleanup EXIT INT TERM

cc -O2 -o "$TMP/loadgen" "$ROOT/test/bench/store/loadgen.c" -lcurl || { echo "cannot build loadgen"; exit 1; }

# start NAME BIN: a fresh server; sets PID and URL
start() {
	set -- "$1" "$2" $($PY "$ROOT/test/integration/store/freeport.py" 2)
	rm -rf "$TMP/data-$1"
	"$2" --name "$1" --data-dir "$TMP/data-$1" \
		--listen-client-urls "http://127.0.0.1:$3" --advertise-client-urls "http://127.0.0.1:$3" \
		--listen-peer-urls "http://127.0.0.1:$4" --initial-advertise-peer-urls "http://127.0.0.1:$4" \
		--initial-cluster "$1=http://127.0.0.1:$4" >"$TMP/$1.log" 2>&1 &
	PID=$!
	URL=http://127.0.0.1:$3
	$PY "$ROOT/test/integration/store/wait_health.py" "$URL" 30 || { echo "$1 did not start"; tail -20 "$TMP/$1.log"; exit 1; }
}

stop() {
	kill -9 "$PID" 2>/dev/null
	wait "$PID" 2>/dev/null
	PID=""
}

field() { # field NAME LINE
	echo "$2" | tr ' ' '\n' | sed -n "s/^$1=//p"
}

# bench NAME BIN: writes $TMP/res-NAME (lines "phase key=value ...")
bench() {
	name=$1 bin=$2 out=$TMP/res-$1
	: >"$out"
	start "$name" "$bin"
	for c in 1 16 64; do
		echo "put$c $("$TMP/loadgen" put "$URL" $c "$SECS")" >>"$out"
	done
	for c in 1 16 64; do
		echo "range$c $("$TMP/loadgen" range "$URL" $c "$SECS")" >>"$out"
	done
	echo "watch64 $("$TMP/loadgen" watch "$URL" 64 "$SECS")" >>"$out"
	stop
	start "$name" "$bin"
	echo "fill $("$TMP/loadgen" fill "$URL" 64 "$FILL")" >>"$out"
	rss=$(sed -n 's/^VmRSS:[[:space:]]*\([0-9]*\) kB/\1/p' /proc/$PID/status)
	echo "rss rss_kb=$rss" >>"$out"
	stop
	echo "== $name done" >&2
}

[ -x "$ETCD" ] || { echo "etcd not installed"; exit 77; }
HAVE_STORE=0
if [ -x "$STORE" ]; then
	HAVE_STORE=1
	bench kube-store "$STORE"
else
	echo "NOTE: $STORE not built; only etcd is measured" >&2
fi
bench etcd "$ETCD"

get() { # get SERVER PHASE FIELD
	[ -f "$TMP/res-$1" ] || { echo "n/a"; return; }
	v=$(field "$3" "$(grep "^$2 " "$TMP/res-$1")")
	echo "${v:-n/a}"
}

ratio() {
	awk -v a="$1" -v b="$2" 'BEGIN { if (a+0 > 0 && b+0 > 0) printf "%.2f", a / b; else printf "n/a" }'
}

echo
echo "kube-store vs etcd 3.4 ($SECS s per cell, fsync on, fresh data dirs; ratio = kube-store / etcd)"
printf '%-18s | %10s %8s %8s | %10s %8s %8s | %6s\n' phase "store op/s" p50ms p99ms "etcd op/s" p50ms p99ms ratio
printf '%s\n' "-------------------+------------------------------+------------------------------+-------"
for ph in put1 put16 put64 range1 range16 range64; do
	s=$(get kube-store $ph ops_per_s); e=$(get etcd $ph ops_per_s)
	printf '%-18s | %10s %8s %8s | %10s %8s %8s | %6s\n' "$ph" "$s" "$(get kube-store $ph p50_ms)" \
		"$(get kube-store $ph p99_ms)" "$e" "$(get etcd $ph p50_ms)" "$(get etcd $ph p99_ms)" "$(ratio "$s" "$e")"
done
s=$(get kube-store watch64 events_per_s); e=$(get etcd watch64 events_per_s)
printf '%-18s | %10s %8s %8s | %10s %8s %8s | %6s\n' "watch64 ev/s" "$s" "lost" "$(get kube-store watch64 lost)" \
	"$e" "lost" "$(get etcd watch64 lost)" "$(ratio "$s" "$e")"
printf '%-18s | %10s %8s %8s | %10s %8s %8s |\n' "watch64 puts" "$(get kube-store watch64 puts)" "" "" \
	"$(get etcd watch64 puts)" "" ""
s=$(get kube-store rss rss_kb); e=$(get etcd rss rss_kb)
printf '%-18s | %10s %8s %8s | %10s %8s %8s | %6s\n' "RSS kB ${FILL}keys" "$s" "" "" "$e" "" "" "$(ratio "$s" "$e")"
printf '%-18s | %10s %8s %8s | %10s %8s %8s | %6s\n' "fill op/s" "$(get kube-store fill ops_per_s)" "" "" \
	"$(get etcd fill ops_per_s)" "" "" "$(ratio "$(get kube-store fill ops_per_s)" "$(get etcd fill ops_per_s)")"
for f in "$TMP"/res-*; do
	if grep -q "errors=[1-9]" "$f"; then echo "NOTE: errors in $(basename "$f"):"; grep "errors=[1-9]" "$f"; fi
done
