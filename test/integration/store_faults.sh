#!/bin/sh
# Process-level fault tests of a 3-member store cluster (issue #4), driver
# test/integration/store/faults.py: kill -9 the leader, SIGSTOP leader and follower,
# partitions of a follower and of the leader through network namespaces + iptables,
# restart from an old data dir, quorum loss. Every scenario records a client history
# checked by lincheck.py, then checks that each acknowledged put is on every member and
# that the members' hashes agree.
# STORE_BIN=/usr/bin/etcd runs the same test against etcd 3.4 (validates the harness).
# Exit 77 when the binary has no working cluster mode yet, or when ip netns is unavailable.
set -u
ROOT=${KUBEC_ROOT:-$(pwd)}
BUILD=${KUBEC_BUILD:-$ROOT/build}
PY=/usr/bin/python3
BIN=${STORE_BIN:-$BUILD/bin/kube-store}
[ -x "$PY" ] || { echo "SKIP: $PY missing"; exit 77; }
[ -x "$BIN" ] || { echo "FAIL: $BIN not built"; exit 1; }
TMP=$(mktemp -d /tmp/store_faults.XXXXXX)
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
timeout "${STORE_FAULTS_TIMEOUT:-360}" $PY "$ROOT/test/integration/store/faults.py" --bin "$BIN" --dir "$TMP" \
	--scenarios "${STORE_FAULTS_SCENARIOS:-abdec}" &
DRIVER=$!
wait "$DRIVER"
rc=$?
DRIVER=""
exit $rc
