#!/bin/sh
# snapshot_check.sh STORECTL STORE_BIN REF_URL: `kube-storectl snapshot save|restore`.
#  * against kube-store: save, restore into a new data dir, start kube-store there, and find
#    the same keys, values, revision and history;
#  * against etcd (REF_URL): save, and etcdctl's own `snapshot status` accepts the file
#    (its hash is verified by etcdctl) with the same revision the server reports.
set -u
CTL=$1 BIN=$2 REF=$3
ROOT=${KUBEC_ROOT:-$(pwd)}
PY=/usr/bin/python3
T=$(mktemp -d /tmp/store_snap.XXXXXX)
PIDS=""
trap 'for p in $PIDS; do kill -9 $p 2>/dev/null; done; rm -rf "$T"' EXIT INT TERM
fails=0
ok() { echo "PASS snapshot $1"; }
bad() { echo "FAIL snapshot $1"; fails=$((fails + 1)); }

start_store() { # start_store DATADIR -> sets URL
	set -- "$1" $($PY "$ROOT/test/integration/store/freeport.py" 1)
	"$BIN" --name snap --data-dir "$1" --listen-client-urls "http://127.0.0.1:$2" \
		--advertise-client-urls "http://127.0.0.1:$2" >>"$T/store.log" 2>&1 &
	PIDS="$PIDS $!"
	URL=http://127.0.0.1:$2
	$PY "$ROOT/test/integration/store/wait_health.py" "$URL" 20
}

if start_store "$T/a"; then
	C="$CTL --endpoints=$URL"
	$C put snap/a 1 >/dev/null && $C put snap/a 2 >/dev/null && $C put snap/b "two words" >/dev/null &&
		$C del snap/gone >/dev/null && $C put snap/c 3 >/dev/null
	before=$($C get snap/ --prefix -w json)
	hist=$($C get snap/a --rev 2 --print-value-only)
	if $C snapshot save "$T/s.snap" >/dev/null 2>&1 && [ -s "$T/s.snap" ]; then ok "save from kube-store"; else bad "save from kube-store"; fi
	if $CTL snapshot restore "$T/s.snap" --data-dir "$T/b" 2>/dev/null; then ok "restore"; else bad "restore"; fi
	if $CTL snapshot restore "$T/s.snap" --data-dir "$T/b" 2>/dev/null; then bad "restore refuses an existing data dir"; else ok "restore refuses an existing data dir"; fi
	head -c 100 "$T/s.snap" >"$T/trunc.snap"
	if $CTL snapshot restore "$T/trunc.snap" --data-dir "$T/c" 2>/dev/null; then bad "restore refuses a truncated file"; else ok "restore refuses a truncated file"; fi
	if start_store "$T/b"; then
		C="$CTL --endpoints=$URL"
		after=$($C get snap/ --prefix -w json)
		# same kvs and revision; cluster/member IDs may differ
		strip() { echo "$1" | sed 's/"cluster_id":[0-9]*,"member_id":[0-9]*,//; s/"raft_term":[0-9]*//'; }
		if [ "$(strip "$before")" = "$(strip "$after")" ]; then ok "restored keys, values and revision"; else
			bad "restored keys, values and revision: before=$before after=$after"; fi
		if [ "$($C get snap/a --rev 2 --print-value-only)" = "$hist" ]; then ok "restored history"; else bad "restored history"; fi
	else
		bad "kube-store starts on the restored data dir"
		tail -20 "$T/store.log"
	fi
else
	bad "kube-store did not start"
fi

# etcd: the saved file is a valid etcd snapshot for etcdctl
C="$CTL --endpoints=$REF"
$C put snap/etcd x >/dev/null
rev=$($C get snap/etcd -w json | sed -n 's/.*"revision":\([0-9]*\).*/\1/p')
if $C snapshot save "$T/e.db" >/dev/null 2>&1; then ok "save from etcd"; else bad "save from etcd"; fi
st=$(ETCDCTL_API=3 /usr/bin/etcdctl snapshot status "$T/e.db" -w json 2>/dev/null)
srev=$(echo "$st" | sed -n 's/.*"revision":\([0-9]*\).*/\1/p')
if [ -n "$srev" ] && [ "$srev" = "$rev" ]; then ok "etcdctl snapshot status accepts it (revision $srev)"; else
	bad "etcdctl snapshot status: '$st' want revision $rev"; fi
exit $fails
