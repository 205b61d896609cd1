#!/bin/sh
# API comparison: the same request sequence to Debian's etcd 3.4 and to kube-store,
# responses compared field by field (test/integration/store_api.py), then kube-storectl's
# output compared with etcdctl's on both servers (test/integration/store/ctl_compare.sh),
# kube-storectl over TLS against both (store/tls_check.sh), and snapshot save/restore
# (store/snapshot_check.sh).
#
# STORE_API_SELFTEST=1 compares etcd with a second etcd instead (checks the harness).
set -u
ROOT=${KUBEC_ROOT:-$(pwd)}
BUILD=${KUBEC_BUILD:-$ROOT/build}
PY=/usr/bin/python3
ETCD=/usr/bin/etcd
STORE=$BUILD/bin/kube-store

[ -x "$ETCD" ] || { echo "SKIP: $ETCD not installed"; exit 77; }
[ -x "$PY" ] || { echo "SKIP: $PY not installed"; exit 77; }
if [ "${STORE_API_SELFTEST:-0}" = 1 ]; then
	CAND_BIN=$ETCD
else
	CAND_BIN=$STORE
	[ -x "$STORE" ] || { echo "FAIL: $STORE not built"; exit 1; }
fi

TMP=$(mktemp -d /tmp/store_api.XXXXXX)
PIDS=""
cleanup() {
	for p in $PIDS; do kill -9 "$p" 2>/dev/null; done
	for p in $PIDS; do wait "$p" 2>/dev/null; done
	rm -rf "$TMP"
}
trap cleanup EXIT INT TERM

dump_logs() {
	for f in "$TMP"/*.log; do
		[ -f "$f" ] || continue
		echo "==== $f (last 40 lines)"
		tail -n 40 "$f"
	done
}

free_ports() {
	$PY "$ROOT/test/integration/store/freeport.py" "$1"
}

# start NAME BINARY: starts a server with etcd's flags in its own dir; sets URL_<NAME>.
start() {
	name=$1 bin=$2
	set -- $(free_ports 2)
	cport=$1 pport=$2
	mkdir -p "$TMP/$name"
	"$bin" --name "$name" --data-dir "$TMP/$name/data" \
		--listen-client-urls "http://127.0.0.1:$cport" \
		--advertise-client-urls "http://127.0.0.1:$cport" \
		--listen-peer-urls "http://127.0.0.1:$pport" \
		--initial-advertise-peer-urls "http://127.0.0.1:$pport" \
		--initial-cluster "$name=http://127.0.0.1:$pport" \
		--max-request-bytes 16384 >"$TMP/$name.log" 2>&1 &
	PIDS="$PIDS $!"
	eval "URL_$name=http://127.0.0.1:$cport"
	if ! $PY "$ROOT/test/integration/store/wait_health.py" "http://127.0.0.1:$cport" 20; then
		echo "FAIL: $name ($bin) did not become healthy"
		dump_logs
		exit 1
	fi
}

start ref "$ETCD"
start cand "$CAND_BIN"

rc=0
$PY "$ROOT/test/integration/store_api.py" --ref "$URL_ref" --cand "$URL_cand" || rc=1

if [ -x "$BUILD/bin/kube-storectl" ] && [ -x /usr/bin/etcdctl ]; then
	sh "$ROOT/test/integration/store/ctl_compare.sh" "$BUILD/bin/kube-storectl" "$URL_ref" "$URL_cand" || rc=1
else
	echo "FAIL: kube-storectl or etcdctl missing, storectl comparison not run"
	rc=1
fi

CTL=$BUILD/bin/kube-storectl
if [ -x "$CTL" ]; then
	sh "$ROOT/test/integration/store/tls_check.sh" "$CTL" "$ETCD" etcd || rc=1
	sh "$ROOT/test/integration/store/tls_check.sh" "$CTL" "$CAND_BIN" candidate || rc=1
	if [ "${STORE_API_SELFTEST:-0}" != 1 ]; then
		sh "$ROOT/test/integration/store/snapshot_check.sh" "$CTL" "$STORE" "$URL_ref" || rc=1
	fi
fi

# The same suite against 3-member clusters (etcd 3.4 and kube-store), each through a
# follower: every write is forwarded to the leader, every read is a ReadIndex round.
# start_cluster PREFIX BINARY: three members PREFIX1..3; sets FOLLOWER_<PREFIX>.
start_cluster() {
	prefix=$1 bin=$2
	set -- $(free_ports 6)
	ic="${prefix}1=http://127.0.0.1:$2,${prefix}2=http://127.0.0.1:$4,${prefix}3=http://127.0.0.1:$6"
	urls=""
	for i in 1 2 3; do
		cport=$1 pport=$2
		shift 2
		"$bin" --name "$prefix$i" --data-dir "$TMP/$prefix$i/data" \
			--listen-client-urls "http://127.0.0.1:$cport" \
			--advertise-client-urls "http://127.0.0.1:$cport" \
			--listen-peer-urls "http://127.0.0.1:$pport" \
			--initial-advertise-peer-urls "http://127.0.0.1:$pport" \
			--initial-cluster "$ic" --initial-cluster-token "api-$prefix" \
			--max-request-bytes 16384 >"$TMP/$prefix$i.log" 2>&1 &
		PIDS="$PIDS $!"
		urls="$urls http://127.0.0.1:$cport"
	done
	for u in $urls; do
		if ! $PY "$ROOT/test/integration/store/wait_health.py" "$u" 30; then
			echo "FAIL: $prefix cluster member $u did not become healthy"
			dump_logs
			exit 1
		fi
	done
	f=$($PY - $urls <<'PYEOF'
import json, sys, urllib.request
for u in sys.argv[1:]:
    req = urllib.request.Request(u + "/v3/maintenance/status", data=b"{}", method="POST")
    st = json.loads(urllib.request.urlopen(req, timeout=5).read())
    if st.get("leader") and st["leader"] != st["header"]["member_id"]:
        print(u)
        break
PYEOF
)
	[ -n "$f" ] || { echo "FAIL: no follower found in the $prefix cluster"; dump_logs; exit 1; }
	eval "FOLLOWER_$prefix=$f"
}

if [ "${STORE_API_SELFTEST:-0}" != 1 ]; then
	start_cluster refc "$ETCD"
	start_cluster candc "$STORE"
	echo "== store_api.py against 3-member clusters through a follower"
	$PY "$ROOT/test/integration/store_api.py" --ref "$FOLLOWER_refc" --cand "$FOLLOWER_candc" || rc=1
fi

if [ $rc != 0 ]; then
	dump_logs
	echo "store_api: FAIL"
else
	echo "store_api: PASS"
fi
exit $rc
