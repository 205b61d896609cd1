#!/bin/sh
# kube-storectl's cluster commands (member add|remove|update|promote|list, endpoint
# status|health --cluster and tables, move-leader) compared with etcdctl 3.4's output on a
# 3-member etcd cluster; and, once kube-store forms a 3-member cluster (issue #4), on
# kube-store too (driver: test/integration/store/ctl_cluster_compare.py).
set -u
ROOT=${KUBEC_ROOT:-$(pwd)}
BUILD=${KUBEC_BUILD:-$ROOT/build}
PY=/usr/bin/python3
BIN=${STORE_BIN:-$BUILD/bin/kube-store}
[ -x "$PY" ] || { echo "SKIP: $PY missing"; exit 77; }
[ -x /usr/bin/etcd ] && [ -x /usr/bin/etcdctl ] || { echo "SKIP: etcd/etcdctl 3.4 missing"; exit 77; }
[ -x "$BUILD/bin/kube-storectl" ] || { echo "FAIL: $BUILD/bin/kube-storectl not built"; exit 1; }
TMP=$(mktemp -d /tmp/store_ctl_cluster.XXXXXX)
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
CAND=""
[ -x "$BIN" ] && CAND=$BIN
# In make test only kube-storectl on kube-store vs etcdctl on etcd is compared: the phase
# that drives one etcd 3.4 cluster with both tools in turn hits an etcd-side "member not
# found" on member add too often (CTL_CLUSTER_ETCD_PHASE=1 runs it).
CTL_CLUSTER_ETCD_PHASE=${CTL_CLUSTER_ETCD_PHASE:-0}
export CTL_CLUSTER_ETCD_PHASE
# attempt N: the whole comparison on fresh clusters in $TMP/N
attempt() {
	mkdir -p "$TMP/$1"
	timeout 240 $PY "$ROOT/test/integration/store/ctl_cluster_compare.py" "$BUILD/bin/kube-storectl" "$TMP/$1" $CAND &
	DRIVER=$!
	wait "$DRIVER"
	rc=$?
	DRIVER=""
	$PY "$ROOT/test/integration/store/cluster.py" cleanup "$TMP/$1"
	return $rc
}
attempt 1
rc=$?
if [ $rc -ne 0 ] && [ $rc -ne 77 ]; then
	# Membership changes on the reference etcd 3.4 cluster, driven by two tools in turn,
	# have been seen to fail once in a while inside etcd itself ("member not found" on an
	# add right after a remove). One fresh retry; a real difference fails both times.
	echo "NOTE: first comparison failed (above); retrying once on fresh clusters"
	attempt 2
	rc=$?
fi
exit $rc
