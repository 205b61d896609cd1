# Shared helpers for apiserver integration and e2e tests (sourced by sh).
# Provides: kc_newdir (sets T), free_port, gen_certs DIR, start_etcd DIR, start_kube_store DIR,
# start_apiserver DIR ETCD_URL, wait_url URL SECONDS [curl args], jq_get FILE PATH,
# and a cleanup that kills every recorded pid and removes recorded dirs.

PY=/usr/bin/python3
KC_PIDS=""
KC_DIRS=""
KC_LOGS=""

kc_cleanup() {
	for p in $KC_PIDS; do kill "$p" 2>/dev/null; done
	for p in $KC_PIDS; do
		i=0
		while kill -0 "$p" 2>/dev/null && [ $i -lt 50 ]; do i=$((i + 1)); sleep 0.1; done
		kill -9 "$p" 2>/dev/null
	done
	for d in $KC_DIRS; do rm -rf "$d"; done
}

kc_dump_logs() {
	for l in $KC_LOGS; do
		echo "===== $l"
		tail -n 60 "$l" 2>/dev/null
	done
}

# kc_newdir: a fresh temp dir in $T, removed by kc_cleanup (not a $(...) subshell, so the
# dir is recorded in this shell).
kc_newdir() {
	T=$(mktemp -d /tmp/kubec-apiserver-test.XXXXXX)
	KC_DIRS="$KC_DIRS $T"
}

free_port() {
	$PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# wait_url URL SECONDS [extra curl args]: until the URL answers 200.
wait_url() {
	url=$1; secs=$2; shift 2
	end=$(($(date +%s) + secs))
	while [ "$(date +%s)" -lt "$end" ]; do
		code=$(curl -s -o /dev/null -w '%{http_code}' "$@" "$url" 2>/dev/null)
		[ "$code" = 200 ] && return 0
		sleep 0.2
	done
	return 1
}

gen_certs() {
	d=$1
	openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=kubec-ca \
		-keyout "$d/ca.key" -out "$d/ca.crt" 2>/dev/null || return 1
	openssl req -newkey rsa:2048 -nodes -subj /CN=kube-apiserver \
		-keyout "$d/server.key" -out "$d/server.csr" 2>/dev/null || return 1
	printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n' > "$d/server.ext"
	openssl x509 -req -in "$d/server.csr" -CA "$d/ca.crt" -CAkey "$d/ca.key" -CAcreateserial \
		-days 1 -extfile "$d/server.ext" -out "$d/server.crt" 2>/dev/null || return 1
	openssl req -newkey rsa:2048 -nodes -subj "/CN=admin/O=system:masters" \
		-keyout "$d/admin.key" -out "$d/admin.csr" 2>/dev/null || return 1
	printf 'extendedKeyUsage=clientAuth\n' > "$d/client.ext"
	openssl x509 -req -in "$d/admin.csr" -CA "$d/ca.crt" -CAkey "$d/ca.key" -CAcreateserial \
		-days 1 -extfile "$d/client.ext" -out "$d/admin.crt" 2>/dev/null || return 1
	# A client certificate from a CA the server does not trust.
	openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj "/CN=mallory/O=system:masters" \
		-keyout "$d/rogue.key" -out "$d/rogue.crt" 2>/dev/null || return 1
	echo 'test-token,alice,1001,"system:masters,dev"' > "$d/tokens.csv"
}

# start_etcd DIR -> sets ETCD_URL
start_etcd() {
	d=$1
	cp=$(free_port); pp=$(free_port)
	ETCD_URL=http://127.0.0.1:$cp
	/usr/bin/etcd --name t --data-dir "$d/etcd" --listen-client-urls "$ETCD_URL" \
		--advertise-client-urls "$ETCD_URL" --listen-peer-urls "http://127.0.0.1:$pp" \
		--initial-advertise-peer-urls "http://127.0.0.1:$pp" \
		--initial-cluster "t=http://127.0.0.1:$pp" > "$d/etcd.log" 2>&1 &
	KC_PIDS="$KC_PIDS $!"
	KC_LOGS="$KC_LOGS $d/etcd.log"
	wait_url "$ETCD_URL/health" 20
}

# start_kube_store DIR -> sets ETCD_URL; fails if the store does not answer.
start_kube_store() {
	d=$1
	cp=$(free_port); pp=$(free_port)
	ETCD_URL=http://127.0.0.1:$cp
	"$KUBEC_BUILD/bin/kube-store" --name t --data-dir "$d/store" --listen-client-urls "$ETCD_URL" \
		--advertise-client-urls "$ETCD_URL" --listen-peer-urls "http://127.0.0.1:$pp" \
		--initial-advertise-peer-urls "http://127.0.0.1:$pp" \
		--initial-cluster "t=http://127.0.0.1:$pp" > "$d/store.log" 2>&1 &
	KC_PIDS="$KC_PIDS $!"
	KC_LOGS="$KC_LOGS $d/store.log"
	# The store must answer a real range, not only /health.
	end=$(($(date +%s) + 20))
	while [ "$(date +%s)" -lt "$end" ]; do
		if curl -s -X POST -d '{"key":"Lw=="}' "$ETCD_URL/v3/kv/range" 2>/dev/null | grep -q '"header"'; then
			return 0
		fi
		sleep 0.2
	done
	return 1
}

# start_apiserver DIR ETCD_URL [extra flags] -> sets API, APIPID
start_apiserver() {
	d=$1; e=$2; shift 2
	port=$(free_port)
	API=https://127.0.0.1:$port
	"$KUBEC_BUILD/bin/kube-apiserver" --etcd-servers "$e" --secure-port "$port" \
		--bind-address 127.0.0.1 --tls-cert-file "$d/server.crt" \
		--tls-private-key-file "$d/server.key" --client-ca-file "$d/ca.crt" \
		--token-auth-file "$d/tokens.csv" --authorization-mode Node,RBAC \
		--allow-privileged=true --v=2 "$@" >> "$d/apiserver.log" 2>&1 &
	APIPID=$!
	KC_PIDS="$KC_PIDS $APIPID"
	KC_LOGS="$KC_LOGS $d/apiserver.log"
	wait_url "$API/readyz" 30 --cacert "$d/ca.crt"
}

# write_kubeconfig DIR API -> DIR/kubeconfig (client certificate user)
write_kubeconfig() {
	d=$1; a=$2
	cat > "$d/kubeconfig" <<KCFG
apiVersion: v1
kind: Config
clusters:
- cluster:
    certificate-authority-data: $(base64 -w0 "$d/ca.crt")
    server: $a
  name: kubec
users:
- name: admin
  user:
    client-certificate-data: $(base64 -w0 "$d/admin.crt")
    client-key-data: $(base64 -w0 "$d/admin.key")
contexts:
- context: {cluster: kubec, user: admin}
  name: kubec
current-context: kubec
KCFG
}

# jq_get FILE DOTTED.PATH: prints the value (JSON for objects, plain for scalars).
jq_get() {
	$PY - "$1" "$2" <<'PYEOF'
import json, sys
try:
    v = json.load(open(sys.argv[1]))
except Exception as e:
    print("<not json: %s>" % e); sys.exit(0)
for k in [p for p in sys.argv[2].split(".") if p]:
    if isinstance(v, list):
        v = v[int(k)] if int(k) < len(v) else None
    elif isinstance(v, dict):
        v = v.get(k)
    else:
        v = None
print(json.dumps(v) if isinstance(v, (dict, list)) else ("" if v is None else v))
PYEOF
}
