# Shared helpers of the kubec bootstrap scripts (kubec-init, kubec-join-control-plane,
# kubec-join-worker). Sourced, POSIX sh, needs only the openssl CLI, tar and base64.
#
# Every file is written under $KB_ROOT (the --root option, default /), but the contents
# name the real paths (/etc/kubec/..., /var/lib/...), as on the machine that runs them.
# The PKI follows kubeadm's "certs" phase (cmd/kubeadm/app/phases/certs/certlist.go):
# the same file names, common names, organisations and extended key usages, moved from
# /etc/kubernetes to /etc/kubec.

KB_ETC=/etc/kubec           # the real path, written into units, kubeconfigs, configs
KB_PKI=$KB_ETC/pki
KB_ROOT=/
KB_TMP=""

kb_die() {
	echo "$KB_PROG: error: $*" >&2
	exit 1
}

kb_log() {
	echo "[$KB_PROG] $*"
}

kb_cleanup() {
	if [ -n "$KB_TMP" ]; then
		rm -rf "$KB_TMP"
		rmdir "$(dirname "$KB_TMP")" 2>/dev/null
	fi
	KB_TMP=""
}

# kb_start: the temp dir for CSRs, extension files and the unpacked bundle, removed on
# exit. It holds copies of the CA keys, so it lives in /etc/kubec/tmp (mode 0700), as
# kubeadm keeps its temporary files in /etc/kubernetes/tmp: even a kill -9 leaves them
# only where the keys already are.
kb_start() {
	command -v openssl >/dev/null 2>&1 || kb_die "openssl not found in PATH (apt-get install openssl)"
	_kb_t=$(kb_path "$KB_ETC/tmp")
	mkdir -p "$(kb_path "$KB_ETC")" && (umask 077 && mkdir -p "$_kb_t") || kb_die "cannot create $_kb_t"
	KB_TMP=$(mktemp -d "$_kb_t/bootstrap.XXXXXX") || kb_die "cannot create a temp dir in $_kb_t"
	trap kb_cleanup EXIT
	# a signal (a closed pipe too) still removes the temp dir: it may hold CA keys
	trap 'exit 130' INT TERM HUP PIPE
	# the openssl configuration used for every request: nothing from the distribution's
	# openssl.cnf (its v3_ca/req defaults would add extensions kubeadm does not set)
	cat >"$KB_TMP/req.cnf" <<'EOF'
[req]
distinguished_name = dn
[dn]
[v3_ca]
basicConstraints = critical,CA:TRUE
keyUsage = critical,digitalSignature,keyEncipherment,keyCertSign
subjectKeyIdentifier = hash
EOF
}

# kb_path REALPATH: where REALPATH is written under the root
kb_path() {
	case $KB_ROOT in
	/) echo "$1" ;;
	*) echo "${KB_ROOT%/}$1" ;;
	esac
}

# kb_need_value OPTION VALUE: an option's argument must be there
kb_need_value() {
	[ -n "${2:-}" ] || kb_die "option $1 needs a value (see --help)"
	case $2 in
	--*) kb_die "option $1 needs a value, got '$2' (see --help)" ;;
	esac
}

# ------------------------------------------------------------------ validation

# kb_ip_to_int IP: prints the 32-bit value; non-zero if IP is not a dotted IPv4 quad
kb_ip_to_int() {
	case $1 in
	*[!0-9.]* | .* | *. | *..*) return 1 ;;
	esac
	_kb_old_ifs=$IFS
	IFS=.
	# shellcheck disable=SC2086 # the split on dots is the point
	set -- $1
	IFS=$_kb_old_ifs
	[ $# -eq 4 ] || return 1
	_kb_v=0
	for _kb_o in "$@"; do
		[ ${#_kb_o} -le 3 ] || return 1
		# no leading zeros (0 itself is fine): 010 is octal in some parsers
		case $_kb_o in 0?*) return 1 ;; esac
		[ "$_kb_o" -le 255 ] || return 1
		_kb_v=$((_kb_v * 256 + _kb_o))
	done
	echo "$_kb_v"
}

kb_int_to_ip() {
	echo "$(($1 >> 24 & 255)).$(($1 >> 16 & 255)).$(($1 >> 8 & 255)).$(($1 & 255))"
}

kb_check_ip() { # OPTION VALUE
	kb_ip_to_int "$2" >/dev/null || kb_die "$1: '$2' is not an IPv4 address"
	case $2 in
	0.0.0.0 | 255.255.255.255) kb_die "$1: '$2' cannot be a host's address" ;;
	esac
}

# kb_check_cidr OPTION VALUE: an IPv4 CIDR whose host bits are zero
kb_check_cidr() {
	case $2 in
	*/*) ;;
	*) kb_die "$1: '$2' is not a CIDR (want a.b.c.d/len)" ;;
	esac
	_kb_ip=${2%/*}
	_kb_len=${2#*/}
	case $_kb_len in
	'' | *[!0-9]*) kb_die "$1: '$2' has no valid prefix length" ;;
	esac
	[ "$_kb_len" -ge 1 ] && [ "$_kb_len" -le 30 ] || kb_die "$1: prefix length of '$2' must be 1..30"
	_kb_n=$(kb_ip_to_int "$_kb_ip") || kb_die "$1: '$2' is not an IPv4 CIDR"
	_kb_mask=$(((0xffffffff << (32 - _kb_len)) & 0xffffffff))
	[ $((_kb_n & _kb_mask)) -eq "$_kb_n" ] ||
		kb_die "$1: '$2' has host bits set (did you mean $(kb_int_to_ip $((_kb_n & _kb_mask)))/$_kb_len?)"
}

# kb_check_pod_cidr POD_CIDR CLUSTER_CIDR: a node's podCIDR lies inside the cluster's
# (kube-proxy treats traffic from outside clusterCIDR as external and masquerades it)
kb_check_pod_cidr() {
	[ -n "$1" ] || return 0
	_kb_pl=${1#*/} _kb_cl=${2#*/}
	_kb_pn=$(kb_ip_to_int "${1%/*}") && _kb_cn=$(kb_ip_to_int "${2%/*}") || kb_die "internal: CIDR $1 / $2"
	_kb_cm=$(((0xffffffff << (32 - _kb_cl)) & 0xffffffff))
	[ "$_kb_pl" -ge "$_kb_cl" ] && [ $((_kb_pn & _kb_cm)) -eq "$_kb_cn" ] ||
		kb_die "--pod-cidr $1 is not inside the cluster CIDR $2"
}

# kb_cidr_ip CIDR N: the Nth address of CIDR (kubeadm: the apiserver's service IP is the
# first, the cluster DNS the tenth; GetAPIServerVirtualIP / GetDNSIP)
kb_cidr_ip() {
	_kb_n=$(kb_ip_to_int "${1%/*}") || return 1
	kb_int_to_ip $((_kb_n + $2))
}

# kb_check_name OPTION VALUE: a node name as Kubernetes accepts one (a lowercase RFC 1123
# subdomain), which also keeps it safe in file contents, certificate subjects and sed
kb_check_name() {
	case $2 in
	'') kb_die "$1 is required" ;;
	*[!a-z0-9.-]*) kb_die "$1: '$2' must be lowercase letters, digits, '-' and '.' (an RFC 1123 subdomain)" ;;
	[!a-z0-9]* | *[!a-z0-9]) kb_die "$1: '$2' must start and end with a letter or digit" ;;
	esac
	[ ${#2} -le 63 ] || kb_die "$1: '$2' is longer than 63 characters"
}

# kb_check_url OPTION VALUE: https://IPv4:PORT, as the interface passes them
kb_check_url() {
	case $2 in
	https://*:*) ;;
	*) kb_die "$1: '$2' is not an https://IP:PORT URL" ;;
	esac
	_kb_hp=${2#https://}
	_kb_hp=${_kb_hp%/}
	_kb_port=${_kb_hp##*:}
	case $_kb_port in
	'' | *[!0-9]*) kb_die "$1: '$2' has no valid port" ;;
	esac
	[ "$_kb_port" -ge 1 ] && [ "$_kb_port" -le 65535 ] || kb_die "$1: port of '$2' out of range"
	kb_ip_to_int "${_kb_hp%:*}" >/dev/null || kb_die "$1: the host of '$2' must be an IPv4 address"
}

kb_check_root() {
	[ -n "$KB_ROOT" ] || kb_die "--root is empty"
	case $KB_ROOT in
	/*) ;;
	*) KB_ROOT=$(cd "$KB_ROOT" 2>/dev/null && pwd) || kb_die "--root: no such directory" ;;
	esac
	[ -d "$KB_ROOT" ] || kb_die "--root $KB_ROOT: no such directory"
}

# ------------------------------------------------------------------ files

# kb_write REALPATH MODE: stdin into the file under the root, atomically (a crash leaves
# the old file, never half a new one)
kb_write() {
	_kb_f=$(kb_path "$1")
	mkdir -p "$(dirname "$_kb_f")" || kb_die "cannot create $(dirname "$_kb_f")"
	cat >"$_kb_f.tmp.$$" || kb_die "cannot write $_kb_f"
	chmod "$2" "$_kb_f.tmp.$$" && mv -f "$_kb_f.tmp.$$" "$_kb_f" || kb_die "cannot write $_kb_f"
}

# kb_units NAME...: copy examples/systemd/NAME.service into /etc/systemd/system
kb_units() {
	_kb_ud=${KUBEC_UNIT_DIR:-$KB_DIR/../systemd}
	for _kb_u in "$@"; do
		[ -f "$_kb_ud/$_kb_u.service" ] ||
			kb_die "unit $_kb_ud/$_kb_u.service not found (set KUBEC_UNIT_DIR to examples/systemd)"
		kb_write "/etc/systemd/system/$_kb_u.service" 0644 <"$_kb_ud/$_kb_u.service"
	done
}

# ------------------------------------------------------------------ PKI

# kb_ca BASE CN: REALPATH BASE.{crt,key}, a self-signed CA (10 years, as kubeadm's), made
# only when neither file exists. An existing CA is never replaced: every certificate and
# kubeconfig of the cluster chains to it.
kb_ca() {
	_kb_crt=$(kb_path "$1.crt")
	_kb_key=$(kb_path "$1.key")
	if [ -f "$_kb_crt" ] && [ -f "$_kb_key" ]; then
		openssl x509 -in "$_kb_crt" -noout 2>/dev/null || kb_die "$_kb_crt is not a certificate"
		return 0
	fi
	[ -f "$_kb_crt" ] && kb_die "$_kb_crt exists without its key $_kb_key: restore the key or remove both"
	[ -f "$_kb_key" ] && kb_die "$_kb_key exists without its certificate $_kb_crt: restore it or remove both"
	mkdir -p "$(dirname "$_kb_crt")"
	(umask 077 && openssl req -x509 -config "$KB_TMP/req.cnf" -extensions v3_ca \
		-newkey rsa:2048 -nodes -sha256 -days 3650 -subj "/CN=$2" \
		-set_serial "0x$(openssl rand -hex 16)" \
		-keyout "$_kb_key.tmp" -out "$_kb_crt.tmp") >"$KB_TMP/openssl.log" 2>&1 ||
		kb_die "openssl could not make the CA $1: $(tail -n 3 "$KB_TMP/openssl.log")"
	chmod 600 "$_kb_key.tmp" && chmod 644 "$_kb_crt.tmp" &&
		mv -f "$_kb_key.tmp" "$_kb_key" && mv -f "$_kb_crt.tmp" "$_kb_crt" ||
		kb_die "cannot write $_kb_crt"
	kb_log "created CA $1 (CN=$2)"
}

# _kb_subject CRT: the subject as /O=.../CN=... (openssl's compat form, no spaces)
_kb_subject() {
	openssl x509 -in "$1" -noout -subject -nameopt compat 2>/dev/null | sed 's/^subject=//' | tr -d ' '
}

# _kb_sans CRT: the subjectAltNames as DNS:a,IP:b (the form given to kb_cert)
_kb_sans() {
	openssl x509 -in "$1" -noout -ext subjectAltName 2>/dev/null | sed 1d |
		sed 's/IP Address:/IP:/g' | tr -d ' \n'
}

_kb_eku() {
	openssl x509 -in "$1" -noout -ext extendedKeyUsage 2>/dev/null | sed 1d | tr -d ' \n'
}

# kb_leaf_ok CA_CRT CRT KEY SUBJ EKU_TEXT SANS: the existing pair can be kept: it chains to
# the CA, names the wanted subject, usages and SANs, and the key is the certificate's
kb_leaf_ok() {
	[ -f "$2" ] && [ -f "$3" ] || return 1
	openssl verify -CAfile "$1" "$2" >/dev/null 2>&1 || return 1
	[ "$(_kb_subject "$2")" = "$(printf '%s' "$4" | tr -d ' ')" ] || return 1
	[ "$(_kb_eku "$2")" = "$5" ] || return 1
	[ "$(_kb_sans "$2")" = "$6" ] || return 1
	_kb_p1=$(openssl x509 -in "$2" -noout -pubkey 2>/dev/null) || return 1
	_kb_p2=$(openssl pkey -in "$3" -pubout 2>/dev/null) || return 1
	[ "$_kb_p1" = "$_kb_p2" ]
}

# kb_sign CA_CRT CA_KEY OUT_CRT OUT_KEY SUBJ USAGE [SANS]: a leaf certificate (1 year, as
# kubeadm's) in files OUT_* (absolute paths on this machine), kept if already right.
# USAGE: server, client or peer (serverAuth + clientAuth, kubeadm's etcd server/peer).
kb_sign() {
	case $6 in
	server) _kb_ekux=serverAuth; _kb_ekut="TLSWebServerAuthentication" ;;
	client) _kb_ekux=clientAuth; _kb_ekut="TLSWebClientAuthentication" ;;
	peer) _kb_ekux=serverAuth,clientAuth
		_kb_ekut="TLSWebServerAuthentication,TLSWebClientAuthentication" ;;
	*) kb_die "internal: usage $6" ;;
	esac
	_kb_sans=${7:-}
	if kb_leaf_ok "$1" "$3" "$4" "$5" "$_kb_ekut" "$_kb_sans"; then
		return 0
	fi
	{
		echo "basicConstraints = critical,CA:FALSE"
		echo "keyUsage = critical,digitalSignature,keyEncipherment"
		echo "extendedKeyUsage = $_kb_ekux"
		echo "authorityKeyIdentifier = keyid"
		if [ -n "$_kb_sans" ]; then echo "subjectAltName = $_kb_sans"; fi
	} >"$KB_TMP/leaf.ext"
	mkdir -p "$(dirname "$3")"
	(umask 077 && openssl req -new -config "$KB_TMP/req.cnf" -newkey rsa:2048 -nodes \
		-subj "$5" -keyout "$4.tmp" -out "$KB_TMP/leaf.csr" &&
		openssl x509 -req -in "$KB_TMP/leaf.csr" -CA "$1" -CAkey "$2" -sha256 -days 365 \
			-set_serial "0x$(openssl rand -hex 16)" -extfile "$KB_TMP/leaf.ext" \
			-out "$3.tmp") >"$KB_TMP/openssl.log" 2>&1 ||
		kb_die "openssl could not sign $3: $(tail -n 3 "$KB_TMP/openssl.log")"
	chmod 600 "$4.tmp" && chmod 644 "$3.tmp" && mv -f "$4.tmp" "$4" && mv -f "$3.tmp" "$3" ||
		kb_die "cannot write $3"
	kb_log "signed ${KB_LABEL:-$(basename "$3")} ($5)"
}

# kb_pki_sign CA BASE SUBJ USAGE [SANS]: kb_sign for REALPATHs under /etc/kubec/pki, the CA
# given as a base (ca or etcd/ca), signing with its key under the root
kb_pki_sign() {
	KB_LABEL=pki/$2.crt
	_kb_cab=$(kb_path "$KB_PKI/$1")
	kb_sign "$_kb_cab.crt" "${KB_CA_KEY_OVERRIDE:-$_kb_cab.key}" \
		"$(kb_path "$KB_PKI/$2.crt")" "$(kb_path "$KB_PKI/$2.key")" "$3" "$4" "${5:-}"
}

# kb_sa_keys: the service-account signing key pair (kubeadm: sa.key, sa.pub), kept if there
kb_sa_keys() {
	_kb_k=$(kb_path "$KB_PKI/sa.key")
	_kb_p=$(kb_path "$KB_PKI/sa.pub")
	if [ -f "$_kb_k" ] && [ -f "$_kb_p" ]; then
		return 0
	fi
	[ -f "$_kb_k" ] || [ -f "$_kb_p" ] &&
		kb_die "only one of $_kb_k and $_kb_p exists: restore the other or remove both"
	mkdir -p "$(dirname "$_kb_k")"
	(umask 077 && openssl genrsa -out "$_kb_k.tmp" 2048 &&
		openssl rsa -in "$_kb_k.tmp" -pubout -out "$_kb_p.tmp") >"$KB_TMP/openssl.log" 2>&1 ||
		kb_die "openssl could not make the service-account key pair"
	chmod 600 "$_kb_k.tmp" && chmod 644 "$_kb_p.tmp" &&
		mv -f "$_kb_k.tmp" "$_kb_k" && mv -f "$_kb_p.tmp" "$_kb_p" || kb_die "cannot write $_kb_k"
	kb_log "created the service-account key pair sa.key/sa.pub"
}

# ------------------------------------------------------------------ kubeconfigs

# kb_kubeconfig NAME USER SUBJ SERVER: /etc/kubec/NAME.conf as kubeadm writes its
# kubeconfigs (cluster "kubernetes", context USER@kubernetes, the CA and the client
# certificate embedded as -data), with a client certificate for SUBJ signed by the cluster
# CA. An existing file is kept when its certificate is still right and it names SERVER.
kb_kubeconfig() {
	_kb_conf=$(kb_path "$KB_ETC/$1.conf")
	_kb_cc=$KB_TMP/$1.conf.crt
	_kb_ck=$KB_TMP/$1.conf.key
	rm -f "$_kb_cc" "$_kb_ck"
	if [ -f "$_kb_conf" ] && grep -qxF "    server: $4" "$_kb_conf"; then
		sed -n 's/^ *client-certificate-data: *//p' "$_kb_conf" | base64 -d >"$_kb_cc" 2>/dev/null
		sed -n 's/^ *client-key-data: *//p' "$_kb_conf" | base64 -d >"$_kb_ck" 2>/dev/null
	fi
	KB_LABEL="the client certificate of $1.conf"
	_kb_ca=$(kb_path "$KB_PKI/ca.crt")
	kb_sign "$_kb_ca" "${KB_CA_KEY_OVERRIDE:-$(kb_path "$KB_PKI/ca.key")}" "$_kb_cc" "$_kb_ck" \
		"$3" client
	kb_write "$KB_ETC/$1.conf" 0600 <<EOF
apiVersion: v1
kind: Config
clusters:
- name: kubernetes
  cluster:
    server: $4
    certificate-authority-data: $(base64 -w0 <"$_kb_ca")
users:
- name: $2
  user:
    client-certificate-data: $(base64 -w0 <"$_kb_cc")
    client-key-data: $(base64 -w0 <"$_kb_ck")
contexts:
- name: $2@kubernetes
  context:
    cluster: kubernetes
    user: $2
current-context: $2@kubernetes
preferences: {}
EOF
	rm -f "$_kb_cc" "$_kb_ck"
}

# ------------------------------------------------------------------ node (worker) files

# kb_node_files NAME IP APISERVER CLUSTER_CIDR SERVICE_CIDR POD_CIDR: everything a worker
# runs from: the kubelet's serving certificate, kubelet.conf (system:node:NAME in
# system:nodes, as kubeadm's) and kube-proxy.conf (system:kube-proxy, the user upstream's
# system:node-proxier binding names), the two component configs, env files, units and,
# with a podCIDR, the CNI configuration.
kb_node_files() {
	_kb_name=$1 _kb_ip=$2 _kb_api=$3 _kb_ccidr=$4 _kb_scidr=$5 _kb_pcidr=$6
	# The kubelet's serving certificate, as a serverTLSBootstrap CSR asks for it
	# (CN=system:node:NAME, O=system:nodes, SANs the node's name and address).
	kb_pki_sign ca kubelet "/O=system:nodes/CN=system:node:$_kb_name" server \
		"DNS:$_kb_name,IP:$_kb_ip"
	kb_kubeconfig kubelet "system:node:$_kb_name" "/O=system:nodes/CN=system:node:$_kb_name" "$_kb_api"
	kb_kubeconfig kube-proxy system:kube-proxy "/O=system:node-proxier/CN=system:kube-proxy" "$_kb_api"

	_kb_dns=$(kb_cidr_ip "$_kb_scidr" 10)
	{
		cat <<EOF
# KubeletConfiguration written by $KB_PROG (kubeadm's defaults, kubec's paths).
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
authentication:
  anonymous:
    enabled: false
  webhook:
    enabled: true
  x509:
    clientCAFile: $KB_PKI/ca.crt
authorization:
  mode: Webhook
tlsCertFile: $KB_PKI/kubelet.crt
tlsPrivateKeyFile: $KB_PKI/kubelet.key
clusterDomain: cluster.local
clusterDNS:
- $_kb_dns
cgroupDriver: cgroupfs
containerRuntimeEndpoint: unix:///run/containerd/containerd.sock
resolvConf: /etc/resolv.conf
EOF
		if [ -n "$_kb_pcidr" ]; then echo "podCIDR: $_kb_pcidr"; fi
	} | kb_write "$KB_ETC/kubelet/config.yaml" 0644

	kb_write "$KB_ETC/kube-proxy/config.yaml" 0644 <<EOF
# KubeProxyConfiguration written by $KB_PROG.
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection:
  kubeconfig: $KB_ETC/kube-proxy.conf
mode: iptables
clusterCIDR: $_kb_ccidr
hostnameOverride: $_kb_name
EOF

	kb_write "$KB_ETC/kubelet.env" 0644 <<EOF
# kubelet.service's per-host values (examples/systemd/README.md)
NODE_IP=$_kb_ip
KUBELET_ARGS=--hostname-override=$_kb_name
EOF
	kb_write "$KB_ETC/kube-proxy.env" 0644 <<EOF
# kube-proxy.service's extra flags (hostname and cluster CIDR are in kube-proxy/config.yaml)
KUBE_PROXY_ARGS=
EOF
	kb_units kubelet kube-proxy

	if [ -n "$_kb_pcidr" ]; then
		# "Kubernetes the Hard Way"'s 10-bridge.conf (a cni0 bridge, host-local IPAM on
		# the node's podCIDR, masquerade out) as a list, with its 99-loopback.conf as
		# the second plugin. cniVersion 1.0.0: Debian's plugins stop there.
		kb_write /etc/cni/net.d/10-kubec-bridge.conflist 0644 <<EOF
{
  "cniVersion": "1.0.0",
  "name": "bridge",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "cni0",
      "isGateway": true,
      "ipMasq": true,
      "ipam": {
        "type": "host-local",
        "ranges": [
          [{"subnet": "$_kb_pcidr"}]
        ],
        "routes": [{"dst": "0.0.0.0/0"}]
      }
    },
    {
      "type": "loopback"
    }
  ]
}
EOF
	fi
}

# ------------------------------------------------------------------ the join bundle

# kb_bundle_unpack FILE: the bundle's files into $KB_TMP/bundle; sets the cluster.env
# values (CLUSTER_CIDR SERVICE_CIDR APISERVER_URL STORE_ENDPOINTS)
kb_bundle_unpack() {
	[ -f "$1" ] || kb_die "--bundle $1: no such file (copy /etc/kubec/join-bundle.tar from the first host)"
	mkdir -p "$KB_TMP/bundle"
	tar -xf "$1" -C "$KB_TMP/bundle" --no-same-owner 2>"$KB_TMP/tar.log" ||
		kb_die "--bundle $1: not a tar archive: $(head -n 2 "$KB_TMP/tar.log")"
	for _kb_f in cluster.env pki/ca.crt pki/ca.key pki/sa.key pki/sa.pub pki/etcd/ca.crt pki/etcd/ca.key; do
		[ -f "$KB_TMP/bundle/$_kb_f" ] || kb_die "--bundle $1: $_kb_f missing (was it made by kubec-init?)"
	done
	openssl x509 -in "$KB_TMP/bundle/pki/ca.crt" -noout 2>/dev/null ||
		kb_die "--bundle $1: pki/ca.crt is not a certificate"
	CLUSTER_CIDR="" SERVICE_CIDR="" APISERVER_URL="" STORE_ENDPOINTS=""
	# read the values, do not source the file: it came over the network
	while IFS='=' read -r _kb_k _kb_v; do
		case $_kb_k in
		CLUSTER_CIDR) CLUSTER_CIDR=$_kb_v ;;
		SERVICE_CIDR) SERVICE_CIDR=$_kb_v ;;
		APISERVER_URL) APISERVER_URL=$_kb_v ;;
		STORE_ENDPOINTS) STORE_ENDPOINTS=$_kb_v ;;
		esac
	done <"$KB_TMP/bundle/cluster.env"
	kb_check_cidr "bundle CLUSTER_CIDR" "$CLUSTER_CIDR"
	kb_check_cidr "bundle SERVICE_CIDR" "$SERVICE_CIDR"
}

# kb_bundle_install REL...: copy the bundle's pki/REL files into /etc/kubec/pki. A file
# already there must be identical: a host that belongs to another cluster is not silently
# moved (remove /etc/kubec/pki first to re-join).
kb_bundle_install() {
	for _kb_f in "$@"; do
		_kb_dst=$(kb_path "$KB_PKI/$_kb_f")
		if [ -f "$_kb_dst" ]; then
			cmp -s "$_kb_dst" "$KB_TMP/bundle/pki/$_kb_f" ||
				kb_die "$_kb_dst differs from the bundle's: this host was set up for another cluster (remove $(kb_path "$KB_ETC") to start over)"
			continue
		fi
		case $_kb_f in
		*.key) _kb_m=0600 ;;
		*) _kb_m=0644 ;;
		esac
		kb_write "$KB_PKI/$_kb_f" "$_kb_m" <"$KB_TMP/bundle/pki/$_kb_f"
	done
}

# ------------------------------------------------------------------ control-plane files

# kb_control_plane_files NAME IP SERVICE_CIDR CLUSTER_CIDR: this control-plane host's
# certificates (the CAs and sa keys must be in place), the admin, controller-manager and
# scheduler kubeconfigs (pointing at this host's apiserver), the scheduler's config, the
# controller-manager's and scheduler's env files and the four control-plane units.
# kube-store.env and kube-apiserver.env differ between init and join: the callers write them.
kb_control_plane_files() {
	_kb_name=$1 _kb_ip=$2 _kb_scidr=$3 _kb_ccidr=$4
	_kb_api=https://$_kb_ip:6443
	_kb_svc=$(kb_cidr_ip "$_kb_scidr" 1)
	# kubeadm's GetAPIServerAltNames: the node name, kubernetes.default..., the first
	# Service IP and the advertise address; plus the loopback names, which local clients
	# and the units' health checks use.
	kb_pki_sign ca apiserver /CN=kube-apiserver server \
		"DNS:$_kb_name,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local,DNS:localhost,IP:$_kb_svc,IP:$_kb_ip,IP:127.0.0.1"
	kb_pki_sign ca apiserver-kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client" client
	# The store's certificates come from its own CA (kubeadm's etcd-ca); server and peer
	# are named after the node and carry both usages (etcd 3.2+ checks clientAuth on them).
	kb_pki_sign etcd/ca etcd/server "/CN=$_kb_name" peer \
		"DNS:$_kb_name,DNS:localhost,IP:$_kb_ip,IP:127.0.0.1"
	kb_pki_sign etcd/ca etcd/peer "/CN=$_kb_name" peer \
		"DNS:$_kb_name,DNS:localhost,IP:$_kb_ip,IP:127.0.0.1"
	kb_pki_sign etcd/ca etcd/healthcheck-client "/O=system:masters/CN=kube-etcd-healthcheck-client" client
	kb_pki_sign etcd/ca apiserver-etcd-client "/O=system:masters/CN=kube-apiserver-etcd-client" client

	# kubeadm's kubeconfig phase (admin.conf as before kubeadm 1.29 split off super-admin)
	kb_kubeconfig admin kubernetes-admin "/O=system:masters/CN=kubernetes-admin" "$_kb_api"
	kb_kubeconfig controller-manager system:kube-controller-manager \
		/CN=system:kube-controller-manager "$_kb_api"
	kb_kubeconfig scheduler system:kube-scheduler /CN=system:kube-scheduler "$_kb_api"

	kb_write "$KB_ETC/kube-scheduler/config.yaml" 0644 <<EOC
# KubeSchedulerConfiguration written by $KB_PROG ("Kubernetes the Hard Way"'s
# kube-scheduler.yaml): every control-plane host runs one, one leads.
apiVersion: kubescheduler.config.k8s.io/v1
kind: KubeSchedulerConfiguration
clientConnection:
  kubeconfig: $KB_ETC/scheduler.conf
leaderElection:
  leaderElect: true
EOC
	kb_write "$KB_ETC/kube-controller-manager.env" 0644 <<EOC
# kube-controller-manager.service's per-cluster values (examples/systemd/README.md)
CLUSTER_CIDR=$_kb_ccidr
SERVICE_CIDR=$_kb_scidr
KUBE_CONTROLLER_MANAGER_ARGS=
EOC
	kb_write "$KB_ETC/kube-scheduler.env" 0644 <<EOC
# kube-scheduler.service's extra flags (everything else is in kube-scheduler/config.yaml)
KUBE_SCHEDULER_ARGS=
EOC
	kb_units kube-store kube-apiserver kube-controller-manager kube-scheduler
}
