#!/bin/sh
# The kubeadm-style bootstrap scripts (examples/bootstrap/, issue 10 item 2).
#
# 1. kubec-init into a temp --root (node cp1, address 127.0.0.2: the unit also listens on
#    127.0.0.1): every file the interface lists is there; every certificate chains to its
#    CA (and not to the other one), with kubeadm's CN/O, extended key usages and SANs;
#    every kubeconfig parses with kubectl and carries its identity; configs, env files,
#    CNI list and join bundle hold what they should.
# 2. Re-running init changes nothing (same CA, same certificates, same kubeconfigs); a new
#    advertise address keeps the CA and remakes the apiserver certificate for it.
# 3. kubec-join-worker from the bundle: the node's files, signed by the same CA, no CA key
#    left on the worker; a host of another cluster is refused; bad arguments are refused.
# 4. systemd-analyze verify on the generated units (if installed).
# 5. The control plane runs from the generated files: kube-store, kube-apiserver,
#    kube-controller-manager and kube-scheduler started from their unit's ExecStart and
#    EnvironmentFile as systemd would, with only paths moved into the temp root and ports
#    by bind(0) (extra flags through the units' *_ARGS variables); each becomes healthy,
#    kubectl works with admin.conf, both leaders take their Lease with their own
#    kubeconfig; the kubelets of cp1 and the worker (fake runtime, no containerd needed)
#    register their Nodes with their podCIDRs; the kubelet's serving certificate verifies;
#    kube-proxy's config is loaded (a dry-run sync shows its clusterCIDR).
# 6. kubec-join-control-plane against that running store: member add happened (two
#    members, the new one unstarted), kube-store.env says existing with both members,
#    STORE_SERVERS starts with its own; a re-run adds nothing. Then cp2's kube-store
#    starts from its unit (when 127.0.0.3:2380, the peer URL the interface fixes, is
#    free): two started members, and a write through cp1 reads back from cp2.
set -u
: "${KUBEC_BUILD:?}"
: "${KUBEC_ROOT:=$(pwd)}"
PY=/usr/bin/python3
[ -x "$PY" ] || { echo "SKIP: $PY missing"; exit 77; }
for t in openssl kubectl curl tar base64; do
	command -v "$t" >/dev/null 2>&1 || { echo "SKIP: $t missing"; exit 77; }
done
BINS="kube-store kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy kube-storectl"
for b in $BINS; do
	[ -x "$KUBEC_BUILD/bin/$b" ] || { echo "FAIL: $KUBEC_BUILD/bin/$b not built"; exit 1; }
done
B=$KUBEC_ROOT/examples/bootstrap
for s in kubec-init kubec-join-control-plane kubec-join-worker; do
	[ -x "$B/$s" ] || { echo "FAIL: $B/$s missing or not executable"; exit 1; }
done

T=$(mktemp -d /tmp/kubec-bootstrap-test.XXXXXX)
mkdir -p "$T/logs"
PIDS=""
FAILS=0
cleanup() {
	for p in $PIDS; do kill "$p" 2>/dev/null; done
	for p in $PIDS; do
		i=0
		while kill -0 "$p" 2>/dev/null && [ $i -lt 50 ]; do i=$((i + 1)); sleep 0.1; done
		kill -9 "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

fail() {
	echo "FAIL: $*"
	FAILS=$((FAILS + 1))
}
ok() { echo "ok: $*"; }
dump_logs() {
	for f in "$T"/logs/*.log; do
		[ -f "$f" ] || continue
		echo "----- $f"
		tail -n 30 "$f"
	done
}
fatal() {
	fail "$*"
	dump_logs
	exit 1
}
free_port() {
	$PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
# wait_until SECS CMD...: until CMD succeeds, polling under a deadline
wait_until() {
	_end=$(($(date +%s) + $1))
	shift
	while [ "$(date +%s)" -lt "$_end" ]; do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.2
	done
	return 1
}

CP=$T/cp1          # the first control-plane host's root
W=$T/w1            # a worker's root
mkdir -p "$CP" "$W"
KP=$CP/etc/kubec/pki

# ---------------------------------------------------------------- 1. init
sh "$B/kubec-init" --node-name cp1 --advertise-address 127.0.0.2 --root "$CP" \
	--pod-cidr 10.244.1.0/24 >"$T/logs/init.log" 2>&1 || fatal "kubec-init failed: $(tail -n 5 "$T/logs/init.log")"
grep -q 'kubec-join-worker --bundle' "$T/logs/init.log" &&
	grep -q 'kubec-join-control-plane --bundle' "$T/logs/init.log" ||
	fail "kubec-init did not print the two join commands"

missing=""
for f in pki/ca.crt pki/ca.key pki/apiserver.crt pki/apiserver.key \
	pki/apiserver-kubelet-client.crt pki/apiserver-kubelet-client.key \
	pki/apiserver-etcd-client.crt pki/apiserver-etcd-client.key pki/sa.key pki/sa.pub \
	pki/etcd/ca.crt pki/etcd/ca.key pki/etcd/server.crt pki/etcd/server.key \
	pki/etcd/peer.crt pki/etcd/peer.key pki/etcd/healthcheck-client.crt \
	pki/etcd/healthcheck-client.key pki/kubelet.crt pki/kubelet.key \
	admin.conf controller-manager.conf scheduler.conf kubelet.conf kube-proxy.conf \
	kubelet/config.yaml kube-proxy/config.yaml kube-scheduler/config.yaml \
	kube-store.env kube-apiserver.env kube-controller-manager.env kube-scheduler.env \
	kubelet.env kube-proxy.env join-bundle.tar; do
	[ -f "$CP/etc/kubec/$f" ] || missing="$missing $f"
done
for u in kube-store kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy; do
	[ -f "$CP/etc/systemd/system/$u.service" ] || missing="$missing $u.service"
	cmp -s "$CP/etc/systemd/system/$u.service" "$KUBEC_ROOT/examples/systemd/$u.service" ||
		fail "$u.service is not examples/systemd/$u.service"
done
[ -f "$CP/etc/cni/net.d/10-kubec-bridge.conflist" ] || missing="$missing 10-kubec-bridge.conflist"
[ -z "$missing" ] && ok "init wrote every file" || fail "init did not write:$missing"
# nothing outside etc/ (the contents name /var/lib/..., the script creates none of it)
[ "$(ls "$CP")" = etc ] || fail "init wrote outside etc/: $(ls "$CP")"
# its temp dir (copies of CA keys) is gone
[ -e "$CP/etc/kubec/tmp" ] && fail "init left $CP/etc/kubec/tmp behind"

# ---------------------------------------------------------------- 2. certificates
subject() { openssl x509 -in "$1" -noout -subject -nameopt compat | sed 's/^subject=//' | tr -d ' '; }
sans() { openssl x509 -in "$1" -noout -ext subjectAltName 2>/dev/null | sed 1d | sed 's/IP Address:/IP:/g' | tr -d ' \n'; }
ekus() { openssl x509 -in "$1" -noout -ext extendedKeyUsage 2>/dev/null | sed 1d | tr -d ' \n'; }
# check_cert CRT CA_CRT SUBJECT EKU [SAN...]: chains to CA, subject, usages, each SAN
# present, key matches, key mode 0600
check_cert() {
	crt=$1 ca=$2 subj=$3 eku=$4
	shift 4
	name=${crt#"$T"/}
	if ! openssl verify -CAfile "$ca" "$crt" >/dev/null 2>&1; then
		fail "$name does not chain to $(basename "$(dirname "$ca")")/$(basename "$ca")"
		return
	fi
	[ "$(subject "$crt")" = "$subj" ] || fail "$name: subject $(subject "$crt"), want $subj"
	[ "$(ekus "$crt")" = "$eku" ] || fail "$name: extended key usage '$(ekus "$crt")', want '$eku'"
	openssl x509 -in "$crt" -noout -ext keyUsage | grep -q 'Digital Signature, Key Encipherment' ||
		fail "$name: keyUsage is not digitalSignature, keyEncipherment"
	openssl x509 -in "$crt" -noout -ext basicConstraints | grep -q 'CA:FALSE' ||
		fail "$name: not CA:FALSE"
	have=",$(sans "$crt"),"
	for s in "$@"; do
		case $have in
		*",$s,"*) ;;
		*) fail "$name: SAN $s missing (has ${have#,})" ;;
		esac
	done
	key=${crt%.crt}.key
	[ "$(openssl x509 -in "$crt" -noout -pubkey)" = "$(openssl pkey -in "$key" -pubout 2>/dev/null)" ] ||
		fail "$name: $(basename "$key") is not its key"
	[ "$(stat -c %a "$key")" = 600 ] || fail "$key: mode $(stat -c %a "$key"), want 600"
}
SRV=TLSWebServerAuthentication
CLI=TLSWebClientAuthentication
BOTH=$SRV,$CLI
check_certs() { # ROOT NAME IP: a control-plane host's certificates
	p=$1/etc/kubec/pki
	check_cert "$p/apiserver.crt" "$p/ca.crt" /CN=kube-apiserver $SRV \
		"DNS:$2" DNS:kubernetes DNS:kubernetes.default DNS:kubernetes.default.svc \
		DNS:kubernetes.default.svc.cluster.local DNS:localhost IP:10.96.0.1 "IP:$3" IP:127.0.0.1
	check_cert "$p/apiserver-kubelet-client.crt" "$p/ca.crt" \
		/O=system:masters/CN=kube-apiserver-kubelet-client $CLI
	check_cert "$p/apiserver-etcd-client.crt" "$p/etcd/ca.crt" \
		/O=system:masters/CN=kube-apiserver-etcd-client $CLI
	check_cert "$p/etcd/server.crt" "$p/etcd/ca.crt" "/CN=$2" $BOTH \
		"IP:$3" IP:127.0.0.1 "DNS:$2" DNS:localhost
	check_cert "$p/etcd/peer.crt" "$p/etcd/ca.crt" "/CN=$2" $BOTH \
		"IP:$3" IP:127.0.0.1 "DNS:$2" DNS:localhost
	check_cert "$p/etcd/healthcheck-client.crt" "$p/etcd/ca.crt" \
		/O=system:masters/CN=kube-etcd-healthcheck-client $CLI
	[ "$(openssl pkey -in "$p/sa.key" -pubout 2>/dev/null)" = "$(openssl pkey -pubin -in "$p/sa.pub" 2>/dev/null)" ] ||
		fail "$p/sa.pub is not sa.key's public key"
}
for ca in ca:kubernetes etcd/ca:etcd-ca; do
	f=$KP/${ca%%:*}.crt
	[ "$(subject "$f")" = "/CN=${ca#*:}" ] || fail "$f: subject $(subject "$f"), want /CN=${ca#*:}"
	openssl verify -CAfile "$f" "$f" >/dev/null 2>&1 || fail "$f is not self-signed"
	openssl x509 -in "$f" -noout -ext basicConstraints | grep -q 'CA:TRUE' || fail "$f: not CA:TRUE"
	openssl x509 -in "$f" -noout -ext keyUsage | grep -q 'Certificate Sign' || fail "$f: no keyCertSign"
done
check_certs "$CP" cp1 127.0.0.2
check_cert "$KP/kubelet.crt" "$KP/ca.crt" /O=system:nodes/CN=system:node:cp1 $SRV DNS:cp1 IP:127.0.0.2
# the check bites: the store's CA does not verify the apiserver's certificate
openssl verify -CAfile "$KP/etcd/ca.crt" "$KP/apiserver.crt" >/dev/null 2>&1 &&
	fail "the apiserver certificate verifies against the store's CA"
[ $FAILS -eq 0 ] && ok "certificates chain to their CAs with kubeadm's names, usages and SANs"

# ---------------------------------------------------------------- kubeconfigs
# check_conf FILE USER SUBJECT SERVER CA: kubectl parses it; user, server, embedded CA and
# client certificate (subject, chain) as kubeadm writes them
check_conf() {
	name=${1#"$T"/}
	kubectl config view --kubeconfig "$1" -o jsonpath='{.current-context}' >"$T/view" 2>&1 ||
		{ fail "kubectl cannot parse $name: $(cat "$T/view")"; return; }
	[ "$(cat "$T/view")" = "$2@kubernetes" ] || fail "$name: current-context $(cat "$T/view")"
	[ "$(kubectl config view --kubeconfig "$1" -o jsonpath='{.users[0].name}')" = "$2" ] ||
		fail "$name: user is not $2"
	[ "$(kubectl config view --kubeconfig "$1" -o jsonpath='{.clusters[0].cluster.server}')" = "$4" ] ||
		fail "$name: server is not $4"
	kubectl config view --kubeconfig "$1" --raw -o jsonpath='{.clusters[0].cluster.certificate-authority-data}' |
		base64 -d >"$T/conf-ca.crt"
	cmp -s "$T/conf-ca.crt" "$5" || fail "$name: certificate-authority-data is not the cluster CA"
	kubectl config view --kubeconfig "$1" --raw -o jsonpath='{.users[0].user.client-certificate-data}' |
		base64 -d >"$T/conf.crt"
	kubectl config view --kubeconfig "$1" --raw -o jsonpath='{.users[0].user.client-key-data}' |
		base64 -d >"$T/conf.key"
	chmod 600 "$T/conf.key"
	check_cert "$T/conf.crt" "$5" "$3" $CLI
	[ "$(stat -c %a "$1")" = 600 ] || fail "$name: mode $(stat -c %a "$1"), want 600"
}
F0=$FAILS
API=https://127.0.0.2:6443
check_conf "$CP/etc/kubec/admin.conf" kubernetes-admin /O=system:masters/CN=kubernetes-admin "$API" "$KP/ca.crt"
check_conf "$CP/etc/kubec/controller-manager.conf" system:kube-controller-manager \
	/CN=system:kube-controller-manager "$API" "$KP/ca.crt"
check_conf "$CP/etc/kubec/scheduler.conf" system:kube-scheduler /CN=system:kube-scheduler "$API" "$KP/ca.crt"
check_conf "$CP/etc/kubec/kubelet.conf" system:node:cp1 /O=system:nodes/CN=system:node:cp1 "$API" "$KP/ca.crt"
check_conf "$CP/etc/kubec/kube-proxy.conf" system:kube-proxy \
	/O=system:node-proxier/CN=system:kube-proxy "$API" "$KP/ca.crt"
[ $FAILS -eq "$F0" ] && ok "kubeconfigs parse and carry kubeadm's identities"

# ---------------------------------------------------------------- configs, env, CNI, bundle
F0=$FAILS
# has FILE LINE: the file holds exactly this line
has() { grep -qxF -- "$2" "$1" || fail "${1#"$T"/}: no line '$2'"; }
E=$CP/etc/kubec
has "$E/kube-store.env" STORE_NAME=cp1
has "$E/kube-store.env" STORE_IP=127.0.0.2
has "$E/kube-store.env" STORE_INITIAL_CLUSTER=cp1=https://127.0.0.2:2380
has "$E/kube-store.env" STORE_INITIAL_CLUSTER_STATE=new
has "$E/kube-apiserver.env" APISERVER_ADVERTISE_ADDRESS=127.0.0.2
has "$E/kube-apiserver.env" STORE_SERVERS=https://127.0.0.2:2379
has "$E/kube-apiserver.env" SERVICE_CIDR=10.96.0.0/12
has "$E/kube-controller-manager.env" CLUSTER_CIDR=10.244.0.0/16
has "$E/kubelet.env" NODE_IP=127.0.0.2
has "$E/kubelet/config.yaml" "podCIDR: 10.244.1.0/24"
has "$E/kubelet/config.yaml" "- 10.96.0.10"
has "$E/kubelet/config.yaml" "clusterDomain: cluster.local"
has "$E/kubelet/config.yaml" "    clientCAFile: /etc/kubec/pki/ca.crt"
has "$E/kube-proxy/config.yaml" "clusterCIDR: 10.244.0.0/16"
has "$E/kube-proxy/config.yaml" "mode: iptables"
has "$E/kube-scheduler/config.yaml" "  leaderElect: true"
$PY -c '
import json, sys
c = json.load(open(sys.argv[1]))
b = c["plugins"][0]
assert b["type"] == "bridge" and b["bridge"] == "cni0" and b["isGateway"] and b["ipMasq"], b
assert b["ipam"]["type"] == "host-local"
assert b["ipam"]["ranges"] == [[{"subnet": "10.244.1.0/24"}]], b["ipam"]
assert c["plugins"][1]["type"] == "loopback"
' "$CP/etc/cni/net.d/10-kubec-bridge.conflist" 2>"$T/cni.err" ||
	fail "10-kubec-bridge.conflist: $(tail -n 1 "$T/cni.err")"
[ "$(stat -c %a "$E/join-bundle.tar")" = 600 ] || fail "join-bundle.tar is not mode 0600"
got=$(tar -tf "$E/join-bundle.tar" | grep -v '/$' | sort | tr '\n' ' ')
want="cluster.env pki/ca.crt pki/ca.key pki/etcd/ca.crt pki/etcd/ca.key pki/sa.key pki/sa.pub "
[ "$got" = "$want" ] || fail "join-bundle.tar holds '$got', want '$want'"
tar -xOf "$E/join-bundle.tar" cluster.env >"$T/cluster.env"
has "$T/cluster.env" CLUSTER_CIDR=10.244.0.0/16
has "$T/cluster.env" SERVICE_CIDR=10.96.0.0/12
has "$T/cluster.env" APISERVER_URL=https://127.0.0.2:6443
has "$T/cluster.env" STORE_ENDPOINTS=https://127.0.0.2:2379
[ $FAILS -eq "$F0" ] && ok "env files, component configs, CNI list and join bundle"

# ---------------------------------------------------------------- idempotence
sums() { (cd "$1/etc/kubec" && find pki -type f | sort | xargs sha256sum && sha256sum ./*.conf); }
sums "$CP" >"$T/sums.1"
sh "$B/kubec-init" --node-name cp1 --advertise-address 127.0.0.2 --root "$CP" \
	--pod-cidr 10.244.1.0/24 >"$T/logs/init2.log" 2>&1 || fail "kubec-init re-run failed"
sums "$CP" >"$T/sums.2"
if cmp -s "$T/sums.1" "$T/sums.2"; then
	ok "re-running init keeps the CAs, every certificate, key and kubeconfig"
else
	fail "re-running init changed: $(diff "$T/sums.1" "$T/sums.2" | grep '^>' | awk '{print $3}' | tr '\n' ' ')"
fi
grep -q 'signed\|created' "$T/logs/init2.log" && fail "re-run signed or created something: $(grep 'signed\|created' "$T/logs/init2.log")"
# a new address: the CA stays, the apiserver certificate follows the address
cp -a "$CP" "$T/cp1-moved"
sh "$B/kubec-init" --node-name cp1 --advertise-address 127.0.0.5 --root "$T/cp1-moved" \
	>"$T/logs/init3.log" 2>&1 || fail "kubec-init with a new address failed"
cmp -s "$KP/ca.crt" "$T/cp1-moved/etc/kubec/pki/ca.crt" || fail "a new address replaced the CA"
case ",$(sans "$T/cp1-moved/etc/kubec/pki/apiserver.crt")," in
*,IP:127.0.0.5,*) ok "a new advertise address keeps the CA and remakes the apiserver certificate" ;;
*) fail "apiserver.crt not remade for the new address" ;;
esac
rm -rf "$T/cp1-moved"

# ---------------------------------------------------------------- 3. join-worker
sh "$B/kubec-join-worker" --bundle "$E/join-bundle.tar" --node-name w1 --node-ip 127.0.0.4 \
	--apiserver https://127.0.0.2:6443 --root "$W" --pod-cidr 10.244.2.0/24 \
	>"$T/logs/join-worker.log" 2>&1 || fatal "kubec-join-worker failed: $(tail -n 5 "$T/logs/join-worker.log")"
F0=$FAILS
WE=$W/etc/kubec
for f in pki/ca.crt pki/kubelet.crt pki/kubelet.key kubelet.conf kube-proxy.conf kubelet/config.yaml \
	kube-proxy/config.yaml kubelet.env kube-proxy.env; do
	[ -f "$WE/$f" ] || fail "join-worker did not write $f"
done
for u in kubelet kube-proxy; do
	[ -f "$W/etc/systemd/system/$u.service" ] || fail "join-worker did not write $u.service"
done
for f in pki/ca.key pki/sa.key pki/etcd admin.conf kube-store.env kube-apiserver.env; do
	[ -e "$WE/$f" ] && fail "join-worker wrote $f (a worker keeps no CA key nor control-plane file)"
done
[ -e "$W/etc/systemd/system/kube-apiserver.service" ] && fail "join-worker wrote kube-apiserver.service"
[ -e "$WE/tmp" ] && fail "join-worker left $WE/tmp (the unpacked bundle) behind"
cmp -s "$WE/pki/ca.crt" "$KP/ca.crt" || fail "the worker's ca.crt is not the cluster's"
check_cert "$WE/pki/kubelet.crt" "$KP/ca.crt" /O=system:nodes/CN=system:node:w1 $SRV DNS:w1 IP:127.0.0.4
check_conf "$WE/kubelet.conf" system:node:w1 /O=system:nodes/CN=system:node:w1 "$API" "$KP/ca.crt"
check_conf "$WE/kube-proxy.conf" system:kube-proxy /O=system:node-proxier/CN=system:kube-proxy "$API" "$KP/ca.crt"
has "$WE/kubelet.env" NODE_IP=127.0.0.4
has "$WE/kubelet/config.yaml" "podCIDR: 10.244.2.0/24"
grep -q '"subnet": "10.244.2.0/24"' "$W/etc/cni/net.d/10-kubec-bridge.conflist" 2>/dev/null ||
	fail "the worker's CNI list is not on 10.244.2.0/24"
(cd "$WE" && find . -type f | sort | xargs sha256sum) >"$T/wsums.1"
sh "$B/kubec-join-worker" --bundle "$E/join-bundle.tar" --node-name w1 --node-ip 127.0.0.4 \
	--apiserver https://127.0.0.2:6443 --root "$W" --pod-cidr 10.244.2.0/24 \
	>"$T/logs/join-worker2.log" 2>&1 || fail "kubec-join-worker re-run failed"
(cd "$WE" && find . -type f | sort | xargs sha256sum) >"$T/wsums.2"
cmp -s "$T/wsums.1" "$T/wsums.2" || fail "re-running join-worker changed files"
[ $FAILS -eq "$F0" ] && ok "join-worker: node certificates from the cluster CA, no CA key kept, idempotent"

# refusals: a host of another cluster, and bad arguments, each with a message
F0=$FAILS
mkdir -p "$T/other"
sh "$B/kubec-init" --node-name x1 --advertise-address 127.0.0.6 --root "$T/other" --no-worker \
	>"$T/logs/other.log" 2>&1 || fail "kubec-init of a second cluster failed"
[ -e "$T/other/etc/kubec/kubelet.conf" ] && fail "--no-worker still wrote kubelet.conf"
[ -e "$T/other/etc/systemd/system/kubelet.service" ] && fail "--no-worker still wrote kubelet.service"
# refused RC_PATTERN CMD...: CMD exits non-zero and says PATTERN on stderr
refused() {
	pat=$1
	shift
	if "$@" >"$T/refused.out" 2>"$T/refused.err"; then
		fail "accepted: $*"
	elif ! grep -q -- "$pat" "$T/refused.err"; then
		fail "refused without saying '$pat': $* -> $(head -n 2 "$T/refused.err")"
	fi
}
refused "another cluster" sh "$B/kubec-join-worker" --bundle "$E/join-bundle.tar" --node-name x1 \
	--node-ip 127.0.0.6 --apiserver https://127.0.0.2:6443 --root "$T/other"
cmp -s "$T/other/etc/kubec/pki/ca.crt" "$KP/ca.crt" && fail "the other cluster's CA was replaced"
refused "node-name is required" sh "$B/kubec-init" --advertise-address 127.0.0.2 --root "$T/other"
refused "not an IPv4 address" sh "$B/kubec-init" --node-name a --advertise-address 10.0.0.256 --root "$T/other"
refused "host bits set" sh "$B/kubec-init" --node-name a --advertise-address 10.0.0.1 \
	--service-cidr 10.96.0.1/12 --root "$T/other"
refused "not inside the cluster CIDR" sh "$B/kubec-join-worker" --bundle "$E/join-bundle.tar" \
	--node-name w9 --node-ip 127.0.0.9 --apiserver https://127.0.0.2:6443 --root "$T/other" \
	--pod-cidr 10.245.0.0/24
refused "RFC 1123" sh "$B/kubec-init" --node-name Bad_Name --advertise-address 10.0.0.1 --root "$T/other"
refused "not a tar archive" sh "$B/kubec-join-worker" --bundle "$E/kube-store.env" --node-name w9 \
	--node-ip 127.0.0.9 --apiserver https://127.0.0.2:6443 --root "$T/other"
refused "unknown argument" sh "$B/kubec-join-control-plane" --bogus
sh "$B/kubec-init" --help | grep -q -- '--advertise-address' || fail "kubec-init --help"
[ $FAILS -eq "$F0" ] && ok "a host of another cluster and bad arguments are refused with a message"

# ---------------------------------------------------------------- 4. systemd-analyze verify
if command -v systemd-analyze >/dev/null 2>&1; then
	V=$T/verify
	mkdir -p "$V/bin"
	for b in $BINS; do cp "$KUBEC_BUILD/bin/$b" "$V/bin/"; done
	for f in "$CP"/etc/systemd/system/*.service; do
		sed -e "s#/usr/local/bin/#$V/bin/#g" -e "s#/etc/kubec/#$CP/etc/kubec/#g" "$f" >"$V/$(basename "$f")"
	done
	found=0
	for d in /etc/systemd/system /lib/systemd/system /usr/lib/systemd/system; do
		[ -f "$d/containerd.service" ] && found=1
	done
	[ $found -eq 1 ] ||
		printf '[Unit]\nDescription=containerd stand-in\n[Service]\nExecStart=%s\n' "$(command -v true)" >"$V/containerd.service"
	if (cd "$V" && systemd-analyze verify ./kube-*.service ./kubelet.service) >"$T/verify.out" 2>&1 &&
		[ ! -s "$T/verify.out" ]; then
		ok "systemd-analyze verify: the generated units are clean"
	else
		fail "systemd-analyze verify: $(cat "$T/verify.out")"
	fi
else
	echo "SKIP (verify only): systemd-analyze not installed"
fi

# ---------------------------------------------------------------- 5. run from the units
# run_unit.py UNIT ROOT OLD=>NEW...: exec the unit's ExecStart as systemd does: the
# EnvironmentFile= lines read from under ROOT (a leading - makes one optional), ${VAR}
# replaced in place, $VAR split on whitespace; then every OLD in an argument becomes NEW.
cat >"$T/run_unit.py" <<'PYEOF'
import os, re, shlex, sys
unit, root = sys.argv[1], sys.argv[2]
pairs = [a.split("=>", 1) for a in sys.argv[3:]]
text = open(unit).read()
env = {}
for line in text.split("\n"):
    if not line.startswith("EnvironmentFile="):
        continue
    path = line.split("=", 1)[1]
    optional = path.startswith("-")
    path = root.rstrip("/") + path.lstrip("-")
    if not os.path.exists(path):
        if optional:
            continue
        sys.exit("required EnvironmentFile %s missing" % path)
    for l in open(path):
        l = l.strip()
        if l and not l.startswith("#"):
            k, v = l.split("=", 1)
            env[k.strip()] = v.strip().strip('"')
m = re.search(r"^ExecStart=((?:.*\\\n)*.*)$", text, re.M)
argv = []
for w in shlex.split(m.group(1).replace("\\\n", " ")):
    if re.fullmatch(r"\$\w+", w):
        argv += env.get(w[1:], "").split()
    else:
        argv.append(re.sub(r"\$\{(\w+)\}", lambda mm: env.get(mm.group(1), ""), w))
for i, a in enumerate(argv):
    for old, new in pairs:
        a = a.replace(old, new)
    argv[i] = a
sys.stderr.write("exec: %s\n" % " ".join(argv))
sys.stderr.flush()
os.execv(argv[0], argv)
PYEOF

SPORT=$(free_port)
PPORT=$(free_port)
APORT=$(free_port)
CMPORT=$(free_port)
SCHPORT=$(free_port)
# the hosts' roots as the daemons see them: the same files, the real paths moved into the
# temp root and the apiserver's port moved from 6443 to a free one
R=$T/run-cp1
RW=$T/run-w1
cp -a "$CP" "$R"
cp -a "$W" "$RW"
for d in "$R" "$RW"; do
	find "$d/etc/kubec" -name '*.conf' -o -name '*.yaml' | while read -r f; do
		sed -i -e "s#/etc/kubec/#$d/etc/kubec/#g" -e "s#:6443\$#:$APORT#" "$f"
	done
done
# extra flags through the units' own *_ARGS variables: loopback and free ports for the
# health endpoints, a data dir in the temp root, no fsync for the test store
sed -i "s#^KUBE_STORE_ARGS=.*#KUBE_STORE_ARGS=--unsafe-no-fsync#" "$R/etc/kubec/kube-store.env"
sed -i "s#^KUBE_CONTROLLER_MANAGER_ARGS=.*#KUBE_CONTROLLER_MANAGER_ARGS=--bind-address=127.0.0.1 --secure-port=$CMPORT#" \
	"$R/etc/kubec/kube-controller-manager.env"
sed -i "s#^KUBE_SCHEDULER_ARGS=.*#KUBE_SCHEDULER_ARGS=--bind-address=127.0.0.1 --secure-port=$SCHPORT#" \
	"$R/etc/kubec/kube-scheduler.env"
MAP="/usr/local/bin/=>$KUBEC_BUILD/bin/ /var/lib/kube-store=>$T/store-data
:2379=>:$SPORT :2380=>:$PPORT :6443=>:$APORT --secure-port=6443=>--secure-port=$APORT"
# start NAME ROOT [OLD=>NEW...]: the unit NAME.service of ROOT
start() {
	n=$1 root=$2
	shift 2
	# shellcheck disable=SC2086 # MAP is a list of words
	$PY "$T/run_unit.py" "$root/etc/systemd/system/$n.service" "$root" \
		"/etc/kubec/=>$root/etc/kubec/" $MAP "$@" >"$T/logs/$n-${root##*-}.log" 2>&1 &
	PIDS="$PIDS $!"
}
P=$R/etc/kubec/pki
store_healthy() {
	[ "$(curl -s --max-time 2 --cacert "$P/etcd/ca.crt" --cert "$P/etcd/healthcheck-client.crt" \
		--key "$P/etcd/healthcheck-client.key" "https://127.0.0.2:$SPORT/health")" = '{"health":"true"}' ]
}
http_ok() { [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$@")" = 200 ]; }
ADMIN=$R/etc/kubec/admin.conf

start kube-store "$R"
wait_until 60 store_healthy || fatal "kube-store from kube-store.service not healthy (TLS, client-cert auth) in 60s"
ok "kube-store runs from its unit: https on 127.0.0.2 and 127.0.0.1 with the store's certificates"
start kube-apiserver "$R"
wait_until 60 http_ok --cacert "$R/etc/kubec/pki/ca.crt" "https://127.0.0.2:$APORT/readyz" ||
	fatal "kube-apiserver from kube-apiserver.service not ready in 60s"
who=$(kubectl --kubeconfig "$ADMIN" auth whoami -o jsonpath='{.status.userInfo.username} {.status.userInfo.groups}' 2>&1)
case $who in
"kubernetes-admin "*system:masters*) ok "kube-apiserver runs from its unit; admin.conf authenticates as $who" ;;
*) fail "kubectl with admin.conf: $who" ;;
esac
start kube-controller-manager "$R"
start kube-scheduler "$R"
wait_until 30 http_ok -k "https://127.0.0.1:$CMPORT/healthz" || fail "kube-controller-manager /healthz not ok in 30s"
wait_until 30 http_ok -k "https://127.0.0.1:$SCHPORT/healthz" || fail "kube-scheduler /healthz not ok in 30s"
lease_held() { [ -n "$(kubectl --kubeconfig "$ADMIN" -n kube-system get lease "$1" -o jsonpath='{.spec.holderIdentity}' 2>/dev/null)" ]; }
for l in kube-controller-manager kube-scheduler; do
	wait_until 40 lease_held "$l" && ok "$l runs from its unit and holds its leader Lease" ||
		fail "$l never took its Lease (its kubeconfig or config file is not usable)"
done

# the kubelets of cp1 and w1 from kubelet.service, on the fake runtime instead of containerd
for d in "$R" "$RW"; do
	printf 'port: %s\nhealthzPort: %s\n' "$(free_port)" "$(free_port)" >>"$d/etc/kubec/kubelet/config.yaml"
	sed -i "s#^KUBELET_ARGS=\(.*\)#KUBELET_ARGS=\1 --root-dir=$d/var/lib/kubelet --pod-logs-dir=$d/var/log/pods#" \
		"$d/etc/kubec/kubelet.env"
done
start kubelet "$R" "unix:///run/containerd/containerd.sock=>fake://"
start kubelet "$RW" "unix:///run/containerd/containerd.sock=>fake://"
node_ready() {
	[ "$(kubectl --kubeconfig "$ADMIN" get node "$1" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status} {.spec.podCIDR} {.status.addresses[?(@.type=="InternalIP")].address}' 2>/dev/null)" = "True $2 $3" ]
}
wait_until 40 node_ready cp1 10.244.1.0/24 127.0.0.2 &&
	ok "cp1's kubelet runs from its unit: Node cp1 Ready, podCIDR 10.244.1.0/24, InternalIP 127.0.0.2" ||
	fail "Node cp1 not Ready with podCIDR 10.244.1.0/24 and InternalIP 127.0.0.2 in 40s"
wait_until 40 node_ready w1 10.244.2.0/24 127.0.0.4 &&
	ok "the worker's kubelet runs from its unit: Node w1 Ready, podCIDR 10.244.2.0/24" ||
	fail "Node w1 not Ready with podCIDR 10.244.2.0/24 and InternalIP 127.0.0.4 in 40s"
KPORT=$(sed -n 's/^port: //p' "$R/etc/kubec/kubelet/config.yaml")
# the apiserver's view of the kubelet: its serving certificate verified by the cluster CA
# under the node's address, apiserver-kubelet-client accepted
if http_ok --cacert "$P/ca.crt" --cert "$P/apiserver-kubelet-client.crt" \
	--key "$P/apiserver-kubelet-client.key" "https://127.0.0.2:$KPORT/healthz"; then
	ok "the kubelet serves pki/kubelet.crt on 10250's stand-in; apiserver-kubelet-client is accepted"
else
	fail "kubelet's HTTPS port: serving certificate or client certificate refused"
fi

# kube-proxy from kube-proxy.service: a dry-run sync of one Service, which needs its config
# file (clusterCIDR decides the masquerade rule) and exits
cat >"$T/model.json" <<'EOF'
{"kind":"List","apiVersion":"v1","items":[
{"kind":"Service","apiVersion":"v1","metadata":{"namespace":"default","name":"web"},"spec":{"clusterIP":"10.96.0.20","ports":[{"name":"http","port":80,"protocol":"TCP","targetPort":8080}]}},
{"kind":"EndpointSlice","apiVersion":"discovery.k8s.io/v1","metadata":{"namespace":"default","name":"web-1","labels":{"kubernetes.io/service-name":"web"}},"addressType":"IPv4","ports":[{"name":"http","port":8080,"protocol":"TCP"}],"endpoints":[{"addresses":["10.244.2.5"],"conditions":{"ready":true}}]}]}
EOF
sed -i "s#^KUBE_PROXY_ARGS=.*#KUBE_PROXY_ARGS=--sync-once-from=$T/model.json --dry-run#" "$RW/etc/kubec/kube-proxy.env"
# shellcheck disable=SC2086
if $PY "$T/run_unit.py" "$RW/etc/systemd/system/kube-proxy.service" "$RW" "/etc/kubec/=>$RW/etc/kubec/" $MAP \
	>"$T/proxy.out" 2>"$T/logs/kube-proxy.log" &&
	grep -q -- '-d 10.96.0.20 --dport 80 ! -s 10.244.0.0/16 -j KUBE-MARK-MASQ' "$T/proxy.out"; then
	ok "kube-proxy runs from its unit and config (masquerades from outside clusterCIDR 10.244.0.0/16)"
else
	fail "kube-proxy from its unit: $(tail -n 3 "$T/logs/kube-proxy.log")"
fi

# ---------------------------------------------------------------- 6. join-control-plane
CTL() {
	"$KUBEC_BUILD/bin/kube-storectl" --endpoints="https://127.0.0.2:$SPORT" --cacert="$P/etcd/ca.crt" \
		--cert="$P/etcd/healthcheck-client.crt" --key="$P/etcd/healthcheck-client.key" "$@"
}
J=$T/cp2
mkdir -p "$J"
KUBEC_BIN=$KUBEC_BUILD/bin sh "$B/kubec-join-control-plane" --bundle "$E/join-bundle.tar" \
	--node-name cp2 --advertise-address 127.0.0.3 --store-endpoint "https://127.0.0.2:$SPORT" \
	--root "$J" --pod-cidr 10.244.3.0/24 >"$T/logs/join-cp.log" 2>&1 ||
	fatal "kubec-join-control-plane failed: $(tail -n 5 "$T/logs/join-cp.log")"
F0=$FAILS
CTL member list >"$T/members" 2>&1 || fail "member list: $(cat "$T/members")"
[ "$(grep -c . "$T/members")" -eq 2 ] || fail "member list after join: $(cat "$T/members")"
grep -q ', started, cp1, https://127.0.0.2:'"$PPORT"', ' "$T/members" || fail "cp1 not a started member: $(cat "$T/members")"
grep -q ', unstarted, , https://127.0.0.3:2380, ' "$T/members" || fail "cp2 not an unstarted member: $(cat "$T/members")"
JE=$J/etc/kubec
has "$JE/kube-store.env" STORE_NAME=cp2
has "$JE/kube-store.env" STORE_IP=127.0.0.3
has "$JE/kube-store.env" STORE_INITIAL_CLUSTER_STATE=existing
ic=$(sed -n 's/^STORE_INITIAL_CLUSTER=//p' "$JE/kube-store.env")
for m in "cp1=https://127.0.0.2:$PPORT" cp2=https://127.0.0.3:2380; do
	case ",$ic," in
	*",$m,"*) ;;
	*) fail "STORE_INITIAL_CLUSTER '$ic' does not name $m" ;;
	esac
done
[ "$(echo "$ic" | tr ',' '\n' | grep -c .)" -eq 2 ] || fail "STORE_INITIAL_CLUSTER '$ic' is not two members"
has "$JE/kube-apiserver.env" "STORE_SERVERS=https://127.0.0.3:2379,https://127.0.0.2:$SPORT"
has "$JE/kube-apiserver.env" APISERVER_ADVERTISE_ADDRESS=127.0.0.3
for f in ca.crt ca.key sa.key sa.pub etcd/ca.crt etcd/ca.key; do
	cmp -s "$JE/pki/$f" "$KP/$f" || fail "cp2's pki/$f is not the bundle's"
done
check_certs "$J" cp2 127.0.0.3
check_conf "$JE/admin.conf" kubernetes-admin /O=system:masters/CN=kubernetes-admin https://127.0.0.3:6443 "$KP/ca.crt"
check_conf "$JE/kubelet.conf" system:node:cp2 /O=system:nodes/CN=system:node:cp2 https://127.0.0.3:6443 "$KP/ca.crt"
[ -f "$J/etc/systemd/system/kube-store.service" ] || fail "join-control-plane wrote no kube-store.service"
# a re-run finds itself in the member list and adds nothing
KUBEC_BIN=$KUBEC_BUILD/bin sh "$B/kubec-join-control-plane" --bundle "$E/join-bundle.tar" \
	--node-name cp2 --advertise-address 127.0.0.3 --store-endpoint "https://127.0.0.2:$SPORT" \
	--root "$J" --pod-cidr 10.244.3.0/24 >"$T/logs/join-cp2.log" 2>&1 || fail "join-control-plane re-run failed: $(tail -n 3 "$T/logs/join-cp2.log")"
CTL member list >"$T/members2" 2>&1
[ "$(grep -c . "$T/members2")" -eq 2 ] || fail "re-run changed the member list: $(cat "$T/members2")"
has "$JE/kube-store.env" STORE_INITIAL_CLUSTER="$ic"
[ $FAILS -eq "$F0" ] && ok "join-control-plane: member add (2 members, cp2 unstarted), kube-store.env existing with both, idempotent"

# The joined member starts from its unit and env file (STORE_INITIAL_CLUSTER_STATE=existing)
# and the store has its quorum back. Its peer URL is the interface's fixed
# https://127.0.0.3:2380 (member add registered it), so this part runs only when that
# port is free; its client port is moved to a free one like cp1's.
if $PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.3", 2380))' 2>/dev/null; then
	RJ=$T/run-cp2
	cp -a "$J" "$RJ"
	SPORT2=$(free_port)
	sed -i "s#^KUBE_STORE_ARGS=.*#KUBE_STORE_ARGS=--unsafe-no-fsync#" "$RJ/etc/kubec/kube-store.env"
	$PY "$T/run_unit.py" "$RJ/etc/systemd/system/kube-store.service" "$RJ" "/etc/kubec/=>$RJ/etc/kubec/" \
		"/usr/local/bin/=>$KUBEC_BUILD/bin/" "/var/lib/kube-store=>$T/store-data2" ":2379=>:$SPORT2" \
		>"$T/logs/kube-store-cp2.log" 2>&1 &
	PIDS="$PIDS $!"
	both_started() { [ "$(CTL member list 2>/dev/null | grep -c ', started, ')" -eq 2 ]; }
	if wait_until 60 both_started; then
		ok "cp2's kube-store joins from its unit: two started members"
		# a write through cp1's apiserver is readable from cp2's member (replicated)
		# (a retried create may find the first attempt's object)
		cm_made() {
			kubectl --kubeconfig "$ADMIN" create configmap joined --from-literal=k=v ||
				kubectl --kubeconfig "$ADMIN" get configmap joined
		}
		if wait_until 30 cm_made; then
			JP=$RJ/etc/kubec/pki
			got=$("$KUBEC_BUILD/bin/kube-storectl" --endpoints="https://127.0.0.3:$SPORT2" \
				--cacert="$JP/etcd/ca.crt" --cert="$JP/apiserver-etcd-client.crt" \
				--key="$JP/apiserver-etcd-client.key" get /registry/configmaps/default/joined --keys-only 2>&1)
			[ "$got" = /registry/configmaps/default/joined ] &&
				ok "a write through cp1's apiserver reads back from cp2's member" ||
				fail "cp2's member does not serve the replicated key: $got"
		else
			fail "kubectl create through cp1's apiserver failed after cp2 joined (no quorum?)"
		fi
	else
		fail "cp2's kube-store did not join within 60s: $(CTL member list 2>&1)"
	fi
else
	echo "SKIP (cp2 start only): 127.0.0.3:2380 is in use"
fi

if [ $FAILS -ne 0 ]; then
	dump_logs
	echo "FAIL: $FAILS check(s) failed"
	exit 1
fi
echo "PASS: bootstrap scripts: PKI, kubeconfigs, configs and units as kubeadm's; the control plane and kubelets run from them; joins work"
exit 0
