#!/bin/sh
# tls_check.sh STORECTL SERVER_BIN NAME: kube-storectl over https with a CA, a client
# certificate and client-cert-auth, against SERVER_BIN started with etcd's TLS flags.
# Prints PASS/FAIL lines; exit 0 when all pass. Certificates come from the openssl CLI.
set -u
CTL=$1 BIN=$2 NAME=$3
ROOT=${KUBEC_ROOT:-$(pwd)}
PY=/usr/bin/python3
command -v openssl >/dev/null 2>&1 || { echo "SKIP tls[$NAME]: openssl missing"; exit 0; }
T=$(mktemp -d /tmp/store_tls.XXXXXX)
PID=""
trap '[ -n "$PID" ] && kill -9 $PID 2>/dev/null; rm -rf "$T"' EXIT INT TERM
(
	cd "$T" || exit 1
	openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 2 -subj /CN=test-ca
	openssl req -x509 -newkey rsa:2048 -nodes -keyout other.key -out other.crt -days 2 -subj /CN=other-ca
	# etcd's gateway dials its own port with the server certificate: it needs clientAuth too
	for c in srv:IP:127.0.0.1:serverAuth,clientAuth cli:DNS:admin:clientAuth; do
		n=${c%%:*} rest=${c#*:}
		san=${rest%:*} eku=${rest##*:}
		openssl req -newkey rsa:2048 -nodes -keyout $n.key -out $n.csr -subj /CN=$n
		printf 'subjectAltName=%s\nextendedKeyUsage=%s\n' "$san" "$eku" >$n.ext
		openssl x509 -req -in $n.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out $n.crt -days 2 -extfile $n.ext
	done
) >"$T/openssl.log" 2>&1 || { echo "FAIL tls[$NAME]: cannot make certificates"; cat "$T/openssl.log"; exit 1; }

set -- $($PY "$ROOT/test/integration/store/freeport.py" 2)
CP=$1 PP=$2
"$BIN" --name tls --data-dir "$T/data" --listen-client-urls "https://127.0.0.1:$CP" \
	--advertise-client-urls "https://127.0.0.1:$CP" --listen-peer-urls "http://127.0.0.1:$PP" \
	--initial-advertise-peer-urls "http://127.0.0.1:$PP" --initial-cluster "tls=http://127.0.0.1:$PP" \
	--cert-file "$T/srv.crt" --key-file "$T/srv.key" --trusted-ca-file "$T/ca.crt" --client-cert-auth \
	>"$T/server.log" 2>&1 &
PID=$!
fails=0
check() { # check LABEL EXPECTED_RC CMD...
	label=$1 want=$2
	shift 2
	out=$("$@" 2>&1)
	rc=$?
	if [ "$rc" = "$want" ] || { [ "$want" = nonzero ] && [ "$rc" != 0 ]; }; then
		echo "PASS tls[$NAME] $label"
	else
		echo "FAIL tls[$NAME] $label: rc=$rc want $want: $out"
		fails=$((fails + 1))
	fi
}
TLS="--endpoints=https://127.0.0.1:$CP --cacert=$T/ca.crt --cert=$T/cli.crt --key=$T/cli.key"
# readiness: the health command itself, under a deadline
i=0
until "$CTL" $TLS --dial-timeout=1s endpoint health >/dev/null 2>&1; do
	i=$((i + 1))
	[ $i -gt 100 ] && break
	kill -0 $PID 2>/dev/null || break
	sleep 0.1 # readiness polling interval
done
check "endpoint health with client cert" 0 "$CTL" $TLS endpoint health
check "put" 0 "$CTL" $TLS put tls/a secure
check "get" 0 sh -c "'$CTL' $TLS get tls/a --print-value-only | grep -qx secure"
check "host:port endpoint picks https from --cacert" 0 "$CTL" --endpoints=127.0.0.1:$CP --cacert=$T/ca.crt \
	--cert=$T/cli.crt --key=$T/cli.key get tls/a
check "no client cert is refused" nonzero "$CTL" --endpoints=https://127.0.0.1:$CP --cacert=$T/ca.crt \
	--dial-timeout=1s --command-timeout=2s get tls/a
check "unknown CA is refused" nonzero "$CTL" --endpoints=https://127.0.0.1:$CP --cacert=$T/other.crt \
	--cert=$T/cli.crt --key=$T/cli.key --dial-timeout=1s --command-timeout=2s get tls/a
check "--insecure-skip-tls-verify without the CA" 0 "$CTL" --endpoints=https://127.0.0.1:$CP \
	--insecure-skip-tls-verify --cert=$T/cli.crt --key=$T/cli.key get tls/a
if [ $fails != 0 ]; then
	echo "==== $NAME server log"
	tail -20 "$T/server.log"
fi
exit $fails
