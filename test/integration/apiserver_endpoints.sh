#!/bin/sh
# The lease endpoint reconciler (upstream's default --endpoint-reconciler-type=lease): two
# kube-apiservers on one kube-store, on 127.0.0.2 and 127.0.0.3 with the same port.
#   - each keeps <prefix>/masterleases/<ip> alive under a 15 s store lease;
#   - default/kubernetes Endpoints and EndpointSlice list both, sorted;
#   - SIGTERM: the stopping apiserver removes itself at once (RemoveEndpoints);
#   - kill -9: the dead one drops out when its lease expires (TTL 15 s + the 10 s interval).
set -u
: "${KUBEC_BUILD:?}"
KUBEC_ROOT=${KUBEC_ROOT:-$(pwd)}
. "$KUBEC_ROOT/test/integration/lib/apiserver_env.sh"
for tool in curl openssl "$PY"; do
	command -v "$tool" >/dev/null 2>&1 || { echo "SKIP: $tool missing"; exit 77; }
done
for b in kube-store kube-apiserver; do
	[ -x "$KUBEC_BUILD/bin/$b" ] || { echo "FAIL: $KUBEC_BUILD/bin/$b not built"; exit 1; }
done
kc_newdir
FAILED=1
on_exit() {
	[ "$FAILED" = 0 ] || kc_dump_logs
	kc_cleanup
}
trap on_exit EXIT
trap 'exit 130' INT TERM
fail() { echo "FAIL: $*"; exit 1; }

gen_certs "$T" || fail "certificates"
start_kube_store "$T" || fail "kube-store did not start"
# one port free on both addresses
PORT=$($PY -c '
import socket
for _ in range(50):
    a = socket.socket(); a.bind(("127.0.0.2", 0)); p = a.getsockname()[1]
    b = socket.socket()
    try:
        b.bind(("127.0.0.3", p)); print(p); break
    except OSError:
        pass
    finally:
        a.close(); b.close()
')
[ -n "$PORT" ] || fail "no common free port"

start_one() { # start_one IP
	"$KUBEC_BUILD/bin/kube-apiserver" --etcd-servers "$ETCD_URL" --secure-port "$PORT" \
		--bind-address "$1" --advertise-address "$1" --tls-cert-file "$T/server.crt" \
		--tls-private-key-file "$T/server.key" --client-ca-file "$T/ca.crt" \
		--token-auth-file "$T/tokens.csv" --v=2 >> "$T/apiserver-$1.log" 2>&1 &
	echo $! > "$T/pid-$1"
	KC_PIDS="$KC_PIDS $!"
	KC_LOGS="$KC_LOGS $T/apiserver-$1.log"
	wait_url "https://$1:$PORT/readyz" 30 -k || fail "apiserver on $1 not ready"
}
# addrs: "ips of the Endpoints | ips of the EndpointSlice", each sorted as stored
addrs() {
	curl -sk -H "Authorization: Bearer test-token" \
		"https://127.0.0.2:$PORT/api/v1/namespaces/default/endpoints/kubernetes" > "$T/ep.json" || return 1
	curl -sk -H "Authorization: Bearer test-token" \
		"https://127.0.0.2:$PORT/apis/discovery.k8s.io/v1/namespaces/default/endpointslices/kubernetes" > "$T/es.json" || return 1
	$PY - "$T/ep.json" "$T/es.json" <<'PYEOF'
import json, sys
ep, es = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
a = [x["ip"] for s in ep.get("subsets") or [] for x in s.get("addresses", [])]
ports = {p["port"] for s in ep.get("subsets") or [] for p in s.get("ports", [])}
b = [x for e in es.get("endpoints") or [] for x in e["addresses"]]
print(" ".join(a), "|", " ".join(b), "|", " ".join(str(p) for p in sorted(ports)))
PYEOF
}
# want SECONDS "EXPECTED": until addrs prints EXPECTED; prints how long it took
want() {
	start=$(date +%s%3N); end=$(($(date +%s) + $1))
	while [ "$(date +%s)" -lt "$end" ]; do
		got=$(addrs 2>/dev/null)
		[ "$got" = "$2" ] && { echo "$(($(date +%s%3N) - start))"; return 0; }
		sleep 0.2
	done
	echo "FAIL: want '$2', have '$got'" >&2
	return 1
}

start_one 127.0.0.2
want 10 "127.0.0.2 | 127.0.0.2 | $PORT" >/dev/null || fail "one apiserver"
echo "ok one apiserver: 127.0.0.2"
start_one 127.0.0.3
want 10 "127.0.0.2 127.0.0.3 | 127.0.0.2 127.0.0.3 | $PORT" >/dev/null || fail "two apiservers"
echo "ok both listed: $(addrs)"
kill -TERM "$(cat "$T/pid-127.0.0.3")"
ms=$(want 10 "127.0.0.2 | 127.0.0.2 | $PORT") || fail "SIGTERM'd apiserver still listed"
echo "ok SIGTERM: 127.0.0.3 removed itself (${ms} ms)"
wait "$(cat "$T/pid-127.0.0.3")" 2>/dev/null
start_one 127.0.0.3
want 10 "127.0.0.2 127.0.0.3 | 127.0.0.2 127.0.0.3 | $PORT" >/dev/null || fail "restarted apiserver not listed"
kill -9 "$(cat "$T/pid-127.0.0.3")"
ms=$(want 40 "127.0.0.2 | 127.0.0.2 | $PORT") || fail "killed apiserver never dropped"
echo "ok kill -9: 127.0.0.3 dropped after ${ms} ms (lease TTL 15 s, interval 10 s)"
FAILED=0
echo "PASS apiserver_endpoints"
