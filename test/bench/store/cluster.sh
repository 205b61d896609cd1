#!/bin/sh
# 3-member cluster benchmark (issue #4): kube-store and etcd 3.4, each as 3 members on
# loopback with fsync on and etcd's default timing, in the same run and with the same load
# generator (loadgen.c, libcurl multi) aimed at the leader:
#   puts at 16 and 64 clients, linearizable reads at 16 and 64 clients,
#   failover: leader kill -9 to the first acknowledged put (3 times, median).
# Driver: test/integration/store/bench_cluster.py. Env: BENCH_SECS (per cell, default 3),
# KUBEC_BUILD. Not part of make test. When kube-store does not form a 3-member cluster,
# only etcd is measured (its column says n/a).
set -u
ROOT=${KUBEC_ROOT:-$(cd "$(dirname "$0")/../../.." && pwd)}
BUILD=${KUBEC_BUILD:-$ROOT/build}
SECS=${BENCH_SECS:-3}
PY=/usr/bin/python3
STORE=${STORE_BIN:-$BUILD/bin/kube-store}
ETCD=/usr/bin/etcd
[ -x "$ETCD" ] || { echo "etcd not installed"; exit 77; }

TMP=$(mktemp -d /tmp/bench_cluster.XXXXXX)
DRIVER=""
cleanup() {
	# the driver kills its members itself (on SIGTERM too); this catches a driver that died first
	if [ -n "$DRIVER" ] && kill -0 "$DRIVER" 2>/dev/null; then
		kill -TERM "$DRIVER" 2>/dev/null
		wait "$DRIVER" 2>/dev/null
	fi
	$PY "$ROOT/test/integration/store/cluster.py" cleanup "$TMP"
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

cc -O2 -o "$TMP/loadgen" "$ROOT/test/bench/store/loadgen.c" -lcurl || { echo "cannot build loadgen"; exit 1; }
set --
if [ -x "$STORE" ]; then
	set -- --store "$STORE"
else
	echo "NOTE: $STORE not built; only etcd is measured" >&2
fi
$PY "$ROOT/test/integration/store/bench_cluster.py" --loadgen "$TMP/loadgen" --dir "$TMP" --secs "$SECS" "$@" &
DRIVER=$!
wait "$DRIVER"
rc=$?
DRIVER=""
exit $rc
