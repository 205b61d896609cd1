#!/bin/sh
# kube-store smoke test: start it on a free port in a temp dir, drive etcd's v3 JSON API
# with curl (put/get/delete/txn/lease/watch, bad input), compare the exact JSON etcd 3.4
# answers with (docs STORE_API.md), restart it and check the data survived.
set -u
: "${KUBEC_BUILD:?}"
PY=/usr/bin/python3
command -v curl >/dev/null 2>&1 || { echo "curl missing"; exit 77; }
[ -x "$PY" ] || { echo "$PY missing"; exit 77; }
# KUBE_STORE_BIN=/usr/bin/etcd runs the same checks against etcd 3.4 (the reference).
BIN=${KUBE_STORE_BIN:-$KUBEC_BUILD/bin/kube-store}
[ -x "$BIN" ] || { echo "FAIL: $BIN not built"; exit 1; }

T=$(mktemp -d)
PID=""
WPID=""
cleanup() {
	[ -n "$WPID" ] && kill "$WPID" 2>/dev/null
	if [ -n "$PID" ]; then
		kill "$PID" 2>/dev/null
		wait "$PID" 2>/dev/null
	fi
	rm -rf "$T"
}
trap cleanup EXIT

free_port() {
	$PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
PORT=$(free_port)
PPORT=$(free_port)
E=http://127.0.0.1:$PORT
FAILS=0

fail() {
	echo "FAIL: $*"
	FAILS=$((FAILS + 1))
}

dump_logs() {
	for f in "$T"/store*.log; do
		[ -f "$f" ] || continue
		echo "---- $f"
		tail -n 60 "$f"
	done
}

start_store() {
	"$BIN" --name smoke --data-dir "$T/data" --listen-client-urls "$E" \
		--advertise-client-urls "$E" --listen-peer-urls "http://127.0.0.1:$PPORT" \
		--initial-advertise-peer-urls "http://127.0.0.1:$PPORT" \
		--initial-cluster "smoke=http://127.0.0.1:$PPORT" >>"$T/store$1.log" 2>&1 &
	PID=$!
	deadline=$(($(date +%s) + 30))
	while :; do
		if [ "$(curl -s -m 2 "$E/health" 2>/dev/null)" = '{"health":"true"}' ]; then
			return 0
		fi
		if ! kill -0 "$PID" 2>/dev/null; then
			echo "FAIL: kube-store exited during start-up"
			dump_logs
			exit 1
		fi
		if [ "$(date +%s)" -ge "$deadline" ]; then
			echo "FAIL: kube-store not healthy within 30s"
			dump_logs
			exit 1
		fi
		sleep 0.1
	done
}

stop_store() {
	kill -TERM "$PID"
	deadline=$(($(date +%s) + 20))
	while kill -0 "$PID" 2>/dev/null; do
		if [ "$(date +%s)" -ge "$deadline" ]; then
			fail "kube-store did not exit within 20s of SIGTERM"
			kill -9 "$PID"
			break
		fi
		sleep 0.1
	done
	wait "$PID"
	rc=$?
	# 0 from kube-store's clean shutdown; 143 is etcd's (killed by the signal).
	[ "$rc" -eq 0 ] || [ "$rc" -eq 143 ] || fail "kube-store exited $rc after SIGTERM"
	PID=""
}

# The cluster/member ids and raft term differ per data dir: replace them by C, M, T.
norm() {
	sed -e 's/"cluster_id":"[0-9]*"/"cluster_id":"C"/g' \
		-e 's/"member_id":"[0-9]*"/"member_id":"M"/g' \
		-e 's/"raft_term":"[0-9]*"/"raft_term":"T"/g'
}

# post PATH BODY -> "STATUS BODY" (normalised)
post() {
	curl -s -m 10 -o "$T/body" -w '%{http_code}' -X POST "$E$1" -d "$2" >"$T/code"
	printf '%s %s' "$(cat "$T/code")" "$(norm <"$T/body")"
}

# check NAME PATH BODY EXPECTED
check() {
	got=$(post "$2" "$3")
	if [ "$got" != "$4" ]; then
		fail "$1"
		echo "  request:  POST $2 $3"
		echo "  expected: $4"
		echo "  got:      $got"
	fi
}

H='"header":{"cluster_id":"C","member_id":"M"'
start_store 1

# ---- KV ----
check "first put" /v3/kv/put '{"key":"Zm9v","value":"YmFy"}' \
	"200 {$H,\"revision\":\"2\",\"raft_term\":\"T\"}}"
check "put with prev_kv" /v3/kv/put '{"key":"Zm9v","value":"YmF6","prev_kv":true}' \
	"200 {$H,\"revision\":\"3\",\"raft_term\":\"T\"},\"prev_kv\":{\"key\":\"Zm9v\",\"create_revision\":\"2\",\"mod_revision\":\"2\",\"version\":\"1\",\"value\":\"YmFy\"}}"
check "range one key" /v3/kv/range '{"key":"Zm9v"}' \
	"200 {$H,\"revision\":\"3\",\"raft_term\":\"T\"},\"kvs\":[{\"key\":\"Zm9v\",\"create_revision\":\"2\",\"mod_revision\":\"3\",\"version\":\"2\",\"value\":\"YmF6\"}],\"count\":\"1\"}"
check "range missing key" /v3/kv/range '{"key":"bm9uZXhpc3Q="}' \
	"200 {$H,\"revision\":\"3\",\"raft_term\":\"T\"}}"
check "v3beta alias, camelCase input" /v3beta/kv/range '{"key":"Zm9v","countOnly":true}' \
	"200 {$H,\"revision\":\"3\",\"raft_term\":\"T\"},\"count\":\"1\"}"
post /v3/kv/put '{"key":"Zm9vMQ==","value":"MQ=="}' >/dev/null
post /v3/kv/put '{"key":"Zm9vMg==","value":"Mg=="}' >/dev/null
check "prefix range with limit" /v3/kv/range '{"key":"Zm9v","range_end":"Zm9w","limit":2,"keys_only":true}' \
	"200 {$H,\"revision\":\"5\",\"raft_term\":\"T\"},\"kvs\":[{\"key\":\"Zm9v\",\"create_revision\":\"2\",\"mod_revision\":\"3\",\"version\":\"2\"},{\"key\":\"Zm9vMQ==\",\"create_revision\":\"4\",\"mod_revision\":\"4\",\"version\":\"1\"}],\"more\":true,\"count\":\"3\"}"
check "delete with prev_kv" /v3/kv/deleterange '{"key":"Zm9vMg==","prev_kv":true}' \
	"200 {$H,\"revision\":\"6\",\"raft_term\":\"T\"},\"deleted\":\"1\",\"prev_kvs\":[{\"key\":\"Zm9vMg==\",\"create_revision\":\"5\",\"mod_revision\":\"5\",\"version\":\"1\",\"value\":\"Mg==\"}]}"
check "delete nothing" /v3/kv/deleterange '{"key":"bm90aGVyZQ=="}' \
	"200 {$H,\"revision\":\"6\",\"raft_term\":\"T\"}}"

# ---- txn ----
TXN='{"compare":[{"key":"Zm9v","result":"EQUAL","target":"VALUE","value":"YmF6"}],"success":[{"request_put":{"key":"Zm9v","value":"cXV4"}}],"failure":[{"request_range":{"key":"Zm9v"}}]}'
check "txn success" /v3/kv/txn "$TXN" \
	"200 {$H,\"revision\":\"7\",\"raft_term\":\"T\"},\"succeeded\":true,\"responses\":[{\"response_put\":{\"header\":{\"revision\":\"7\"}}}]}"
check "txn failure" /v3/kv/txn "$TXN" \
	"200 {$H,\"revision\":\"7\",\"raft_term\":\"T\"},\"responses\":[{\"response_range\":{\"header\":{\"revision\":\"7\"},\"kvs\":[{\"key\":\"Zm9v\",\"create_revision\":\"2\",\"mod_revision\":\"7\",\"version\":\"3\",\"value\":\"cXV4\"}],\"count\":\"1\"}}]}"

# ---- bad input: etcd's statuses and bodies, and the server keeps serving ----
check "unpadded base64" /v3/kv/range '{"key":"Zm9vMQ"}' \
	'400 {"error":"illegal base64 data at input byte 4","message":"illegal base64 data at input byte 4","code":3}'
check "malformed JSON" /v3/kv/range '{bad}' \
	"400 {\"error\":\"invalid character 'b' looking for beginning of object key string\",\"message\":\"invalid character 'b' looking for beginning of object key string\",\"code\":3}"
check "missing key" /v3/kv/put '{"value":"YQ=="}' \
	'400 {"error":"etcdserver: key is not provided","message":"etcdserver: key is not provided","code":3}'
check "unknown path" /v3/kv/bogus '{}' "404 Not Found"
code=$(curl -s -o "$T/body" -w '%{http_code}' "$E/v3/kv/range")
[ "$code" = 405 ] && [ "$(cat "$T/body")" = "Method Not Allowed" ] || fail "GET on a POST endpoint gave $code $(cat "$T/body")"
check "compacted revision read" /v3/kv/range '{"key":"Zm9v","revision":"99999"}' \
	'400 {"error":"etcdserver: mvcc: required revision is a future revision","message":"etcdserver: mvcc: required revision is a future revision","code":11}'
[ "$(curl -s "$E/version")" = '{"etcdserver":"3.4.23","etcdcluster":"3.4.0"}' ] || fail "/version"
curl -s "$E/metrics" | grep -q '^etcd_server_has_leader 1' || fail "/metrics lacks etcd_server_has_leader 1"

# ---- leases ----
check "lease grant with ID" /v3/lease/grant '{"TTL":"60","ID":"7587"}' \
	"200 {$H,\"revision\":\"7\",\"raft_term\":\"T\"},\"ID\":\"7587\",\"TTL\":\"60\"}"
check "lease exists" /v3/lease/grant '{"TTL":"60","ID":"7587"}' \
	'412 {"error":"etcdserver: lease already exists","message":"etcdserver: lease already exists","code":9}'
check "put with lease" /v3/kv/put '{"key":"bGVhc2Vk","value":"dg==","lease":"7587"}' \
	"200 {$H,\"revision\":\"8\",\"raft_term\":\"T\"}}"
got=$(post /v3/lease/timetolive '{"ID":"7587","keys":true}')
case "$got" in
"200 {$H,\"revision\":\"8\",\"raft_term\":\"T\"},\"ID\":\"7587\",\"TTL\":\""*"\",\"grantedTTL\":\"60\",\"keys\":[\"bGVhc2Vk\"]}") ;;
*) fail "lease timetolive: $got" ;;
esac
check "leases" /v3/lease/leases '{}' \
	"200 {$H,\"revision\":\"8\",\"raft_term\":\"T\"},\"leases\":[{\"ID\":\"7587\"}]}"
got=$(curl -s -X POST "$E/v3/lease/keepalive" -d '{"ID":"7587"}{"ID":"12345"}' | norm)
exp=$(printf '{"result":{%s,"revision":"8","raft_term":"T"},"ID":"7587","TTL":"60"}}\n{"result":{%s,"revision":"8","raft_term":"T"},"ID":"12345"}}' "$H" "$H")
[ "$got" = "$exp" ] || { fail "keepalive stream"; echo "  got: $got"; echo "  exp: $exp"; }
check "lease revoke deletes its keys" /v3/lease/revoke '{"ID":"7587"}' \
	"200 {$H,\"revision\":\"9\",\"raft_term\":\"T\"}}"
check "lease revoke again" /v3/lease/revoke '{"ID":"7587"}' \
	'404 {"error":"etcdserver: requested lease not found","message":"etcdserver: requested lease not found","code":5}'
check "leased key gone" /v3/kv/range '{"key":"bGVhc2Vk"}' \
	"200 {$H,\"revision\":\"9\",\"raft_term\":\"T\"}}"

# ---- watch: created, then a live event, then a history replay on a second stream ----
: >"$T/watch.out"
curl -s -N -X POST "$E/v3/watch" -d '{"create_request":{"key":"dy9h","prev_kv":true}}' >>"$T/watch.out" 2>/dev/null &
WPID=$!
wait_lines() { # FILE N
	deadline=$(($(date +%s) + 10))
	while [ "$(wc -l <"$1")" -lt "$2" ]; do
		[ "$(date +%s)" -ge "$deadline" ] && return 1
		sleep 0.05
	done
	return 0
}
wait_lines "$T/watch.out" 1 || fail "watch: no created message within 10s"
post /v3/kv/put '{"key":"dy9h","value":"MQ=="}' >/dev/null
post /v3/kv/put '{"key":"dy9h","value":"Mg=="}' >/dev/null
wait_lines "$T/watch.out" 3 || fail "watch: events not delivered within 10s"
kill "$WPID" 2>/dev/null
wait "$WPID" 2>/dev/null
WPID=""
exp=$(printf '%s\n%s\n%s' \
	"{\"result\":{$H,\"revision\":\"9\",\"raft_term\":\"T\"},\"created\":true}}" \
	"{\"result\":{$H,\"revision\":\"10\",\"raft_term\":\"T\"},\"events\":[{\"kv\":{\"key\":\"dy9h\",\"create_revision\":\"10\",\"mod_revision\":\"10\",\"version\":\"1\",\"value\":\"MQ==\"}}]}}" \
	"{\"result\":{$H,\"revision\":\"11\",\"raft_term\":\"T\"},\"events\":[{\"kv\":{\"key\":\"dy9h\",\"create_revision\":\"10\",\"mod_revision\":\"11\",\"version\":\"2\",\"value\":\"Mg==\"},\"prev_kv\":{\"key\":\"dy9h\",\"create_revision\":\"10\",\"mod_revision\":\"10\",\"version\":\"1\",\"value\":\"MQ==\"}}]}}")
got=$(norm <"$T/watch.out")
[ "$got" = "$exp" ] || { fail "watch stream"; echo "  got: $got"; echo "  exp: $exp"; }

# Two watches on one stream: ids 0 (omitted) and 1; history from revision 10.
: >"$T/watch2.out"
curl -s -N -X POST "$E/v3/watch" \
	-d '{"create_request":{"key":"dy9h","start_revision":"10"}} {"create_request":{"key":"eg=="}}' >>"$T/watch2.out" 2>/dev/null &
WPID=$!
wait_lines "$T/watch2.out" 3 || fail "watch 2: expected created, history and created within 10s"
kill "$WPID" 2>/dev/null
wait "$WPID" 2>/dev/null
WPID=""
got=$(norm <"$T/watch2.out" | sed -e 's/"value":"[A-Za-z0-9=]*"/V/g' | tr '\n' '|')
case "$got" in
*"\"created\":true}}"*"\"watch_id\":\"1\",\"created\":true}}"*) ;;
*) fail "watch 2 ids: $got" ;;
esac
case "$got" in
*"\"events\":[{\"kv\":{\"key\":\"dy9h\",\"create_revision\":\"10\",\"mod_revision\":\"10\",\"version\":\"1\",V}},{\"kv\":{\"key\":\"dy9h\",\"create_revision\":\"10\",\"mod_revision\":\"11\",\"version\":\"2\",V}}]}}"*) ;;
*) fail "watch 2 history: $got" ;;
esac
code=$(curl -s -o "$T/body" -w '%{http_code}' -X POST "$E/v3/watch" -d 'bad')
[ "$code" = 500 ] || fail "watch with a bad first request gave $code, want 500"

# The server still answers after all of the above.
check "still serving" /v3/kv/range '{"key":"Zm9v"}' \
	"200 {$H,\"revision\":\"11\",\"raft_term\":\"T\"},\"kvs\":[{\"key\":\"Zm9v\",\"create_revision\":\"2\",\"mod_revision\":\"7\",\"version\":\"3\",\"value\":\"cXV4\"}],\"count\":\"1\"}"

# ---- restart: everything acknowledged is still there ----
stop_store
grep -q "ready to serve client requests" "$T/store1.log" || fail "no readiness line in the log"
start_store 2
check "data survived restart" /v3/kv/range '{"key":"AA==","range_end":"AA==","keys_only":true}' \
	"200 {$H,\"revision\":\"11\",\"raft_term\":\"T\"},\"kvs\":[{\"key\":\"Zm9v\",\"create_revision\":\"2\",\"mod_revision\":\"7\",\"version\":\"3\"},{\"key\":\"Zm9vMQ==\",\"create_revision\":\"4\",\"mod_revision\":\"4\",\"version\":\"1\"},{\"key\":\"dy9h\",\"create_revision\":\"10\",\"mod_revision\":\"11\",\"version\":\"2\"}],\"count\":\"3\"}"
check "put after restart" /v3/kv/put '{"key":"YWZ0ZXI=","value":"eA=="}' \
	"200 {$H,\"revision\":\"12\",\"raft_term\":\"T\"}}"
stop_store

# ---- TLS with --client-cert-auth: a client without a certificate signed by the CA is
# refused; one with it is served. (Needs the openssl CLI to make certificates.)
if command -v openssl >/dev/null 2>&1; then
	C=$T/tls
	mkdir -p "$C"
	(
		cd "$C" &&
			openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 1 -subj /CN=smoke-ca &&
			openssl req -newkey rsa:2048 -nodes -keyout srv.key -out srv.csr -subj /CN=127.0.0.1 &&
			printf 'subjectAltName=IP:127.0.0.1\n' >ext &&
			openssl x509 -req -in srv.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out srv.crt -days 1 -extfile ext &&
			openssl req -newkey rsa:2048 -nodes -keyout cli.key -out cli.csr -subj /CN=client &&
			openssl x509 -req -in cli.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out cli.crt -days 1 &&
			openssl req -x509 -newkey rsa:2048 -nodes -keyout bad.key -out bad.crt -days 1 -subj /CN=stranger
	) >"$T/openssl.log" 2>&1 || { fail "openssl could not make test certificates"; cat "$T/openssl.log"; }
	TPORT=$(free_port)
	TE=https://127.0.0.1:$TPORT
	"$BIN" --name smoke --data-dir "$T/data" --listen-client-urls "$TE" --advertise-client-urls "$TE" \
		--listen-peer-urls "http://127.0.0.1:$PPORT" --initial-advertise-peer-urls "http://127.0.0.1:$PPORT" \
		--initial-cluster "smoke=http://127.0.0.1:$PPORT" --cert-file "$C/srv.crt" --key-file "$C/srv.key" \
		--trusted-ca-file "$C/ca.crt" --client-cert-auth >>"$T/store3.log" 2>&1 &
	PID=$!
	TC="--cacert $C/ca.crt --cert $C/cli.crt --key $C/cli.key"
	deadline=$(($(date +%s) + 30))
	# shellcheck disable=SC2086
	until [ "$(curl -s -m 2 $TC "$TE/health" 2>/dev/null)" = '{"health":"true"}' ]; do
		if [ "$(date +%s)" -ge "$deadline" ] || ! kill -0 "$PID" 2>/dev/null; then
			fail "TLS kube-store not healthy within 30s"
			break
		fi
		sleep 0.1
	done
	# shellcheck disable=SC2086
	got=$(curl -s -m 5 $TC -X POST "$TE/v3/kv/range" -d '{"key":"YWZ0ZXI=","keys_only":true}' | norm)
	[ "$got" = "{$H,\"revision\":\"12\",\"raft_term\":\"T\"},\"kvs\":[{\"key\":\"YWZ0ZXI=\",\"create_revision\":\"12\",\"mod_revision\":\"12\",\"version\":\"1\"}],\"count\":\"1\"}" ] ||
		fail "TLS range with a client certificate: $got"
	if curl -s -m 5 --cacert "$C/ca.crt" -X POST "$TE/v3/kv/range" -d '{"key":"YQ=="}' >"$T/body" 2>&1; then
		fail "TLS request without a client certificate was served: $(cat "$T/body")"
	fi
	if curl -s -m 5 --cacert "$C/ca.crt" --cert "$C/bad.crt" --key "$C/bad.key" -X POST "$TE/v3/kv/range" \
		-d '{"key":"YQ=="}' >"$T/body" 2>&1; then
		fail "TLS request with an untrusted client certificate was served: $(cat "$T/body")"
	fi
	stop_store
else
	echo "store_smoke: openssl missing, TLS checks skipped"
fi

if [ "$FAILS" -ne 0 ]; then
	echo "store_smoke: $FAILS check(s) failed"
	dump_logs
	exit 1
fi
echo "store_smoke: all checks passed"
exit 0
