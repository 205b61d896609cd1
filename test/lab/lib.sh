# Sourced by test/lab/lab.sh and test/lab/e2e.sh: the multi-host lab (issue #10).
#
# N control-plane hosts (KUBEC_LAB_HOSTS, default 3) named cp1..cpN and M worker-only
# hosts (KUBEC_LAB_WORKERS, default 0) named w1..wM, each a network namespace plus its
# own mount and UTS namespaces, joined by veth pairs to one bridge in the root namespace:
#
#   root ns: bridge kubeclab0 10.240.0.1/24 -- veth kclab-cpI -- eth0 10.240.0.(10+I) in cpI
#                                           -- veth kclab-wK  -- eth0 10.240.0.(20+K) in wK
#   cpI:     hostname cpI, podCIDR 10.244.I.0/24 (CNI bridge from the bootstrap's conflist),
#   wK:      hostname wK, podCIDR 10.244.(20+K).0/24, joined by kubec-join-worker only,
#            a route to every other host's podCIDR via that host (the Hard Way's "pod
#            network routes"), ip_forward on, its own iptables
#
# Inside each host's mount namespace the real paths are bind mounts of per-host dirs, so
# the units the bootstrap scripts write run unchanged:
#   $H/root/etc/kubec -> /etc/kubec          $H/root/etc/cni/net.d -> /etc/cni/net.d
#   $H/root/etc/containerd -> /etc/containerd   $H/etc/hosts -> /etc/hosts
#   $H/var/lib/{kube-store,kubelet,containerd,cni} -> /var/lib/...
#   $H/var/log/pods -> /var/log/pods         $H/run -> /run  (containerd's socket, xtables lock)
#   $KUBEC_BUILD/bin -> /usr/local/bin
# where H=$LAB/hosts/cpI and LAB=${KUBEC_LAB_DIR:-/tmp/kubec-lab}.  Every component is
# started by test/lab/unit-run.py from the unit file in $H/root/etc/systemd/system.
#
# Hosts are numbered 1..LAB_T: 1..N are cp1..cpN, N+1..N+M are w1..wM.
# Functions: lab_up, lab_down (then lab_check_clean), lab_status, lab_host I (sets H NAME
# IP PODCIDR ROLE), lab_idx NAME (the index of cpI/wK), lab_on I CMD (on host I: its net, mount and UTS namespaces), lab_net I CMD
# (its network namespace only), lab_ns I (the nsenter prefix as text), lab_unit
# start|stop|kill|restart|status|pid I UNIT [opts] (test/lab/unit-run.py), lab_kubectl
# (admin.conf: cp1's apiserver), lab_kubectl_on I (host I's apiserver), lab_store_leader
# (the leader's host index), lab_node_ready NAME, lab_wait SECS CMD, lab_dump_logs [LINES].

LAB=${KUBEC_LAB_DIR:-/tmp/kubec-lab}
LAB_N=${KUBEC_LAB_HOSTS:-3}
LAB_W=${KUBEC_LAB_WORKERS:-0}
LAB_T=$((LAB_N + LAB_W))
LAB_BR=kubeclab0
LAB_NET=10.240.0
LAB_PY=/usr/bin/python3
KUBEC_ROOT=${KUBEC_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
KUBEC_BUILD=${KUBEC_BUILD:-$KUBEC_ROOT/build}
LAB_BOOT=${KUBEC_LAB_BOOTSTRAP:-$KUBEC_ROOT/examples/bootstrap}
# Fault-tolerance knobs passed through the env files the bootstrap writes (see README.md).
LAB_GRACE=${KUBEC_LAB_NODE_GRACE:-20s}
LAB_TOLERATION=${KUBEC_LAB_TOLERATION:-10}
# The real paths bind-mounted per host (mount point on the host -> dir under $H).
LAB_MOUNTS="/etc/kubec:root/etc/kubec /etc/cni/net.d:root/etc/cni/net.d
/etc/containerd:root/etc/containerd /etc/hosts:etc/hosts
/var/lib/kube-store:var/lib/kube-store /var/lib/kubelet:var/lib/kubelet
/var/lib/containerd:var/lib/containerd /var/lib/cni:var/lib/cni /var/log/pods:var/log/pods
/run:run"
# shellcheck disable=SC2034 # used by e2e.sh
LAB_CP_UNITS="kube-store kube-apiserver kube-controller-manager kube-scheduler"

lab_log() { echo "lab: $*"; }
lab_err() { echo "lab: $*" >&2; }
lab_now_ms() { date +%s%3N; }

_lab_name() { # I: cpI for I <= N, else w(I-N)
	if [ "$1" -le "$LAB_N" ]; then echo "cp$1"; else echo "w$(($1 - LAB_N))"; fi
}

lab_idx() { # NAME: the host index of cpI / wK (non-zero status for another name)
	case $1 in
	cp[0-9]*) echo "${1#cp}" ;;
	w[0-9]*) echo $((LAB_N + ${1#w})) ;;
	*) return 1 ;;
	esac
}

lab_host() { # I -> H NAME IP PODCIDR ROLE
	if [ "$1" -le "$LAB_N" ]; then
		NAME=cp$1
		IP=$LAB_NET.$((10 + $1))
		PODCIDR=10.244.$1.0/24
		ROLE=control-plane
	else
		NAME=w$(($1 - LAB_N))
		IP=$LAB_NET.$((20 + $1 - LAB_N))
		PODCIDR=10.244.$((20 + $1 - LAB_N)).0/24
		ROLE=worker
	fi
	H=$LAB/hosts/$NAME
}

lab_ns() { # I: the nsenter prefix that runs a command "on" host I
	_n=$(_lab_name "$1")
	echo "nsenter --net=/run/netns/$_n --mount=$LAB/ns/$_n.mnt --uts=$LAB/ns/$_n.uts --"
}

lab_on() { # I CMD...: run CMD on host I (its network, mount and UTS namespaces)
	_n=$(_lab_name "$1"); shift
	nsenter --net="/run/netns/$_n" --mount="$LAB/ns/$_n.mnt" --uts="$LAB/ns/$_n.uts" -- "$@"
}

lab_net() { # I CMD...: run CMD in host I's network namespace only (root's files)
	_n=$(_lab_name "$1"); shift
	nsenter --net="/run/netns/$_n" -- "$@"
}

lab_unit() { # CMD I UNIT [opts]
	_c=$1; lab_host "$2"; _u=$3; shift 3
	$LAB_PY "$KUBEC_ROOT/test/lab/unit-run.py" "$_c" "$H" "$_u" "$@"
}

lab_kubectl() {
	kubectl --kubeconfig "$LAB/admin.conf" --request-timeout=10s "$@"
}

lab_kubectl_on() { # I args: through host I's apiserver
	_i=$1; shift
	kubectl --kubeconfig "$LAB/admin-cp$_i.conf" --request-timeout=10s "$@"
}

# lab_wait SECS CMD...: until CMD succeeds (every 0.3 s); non-zero after SECS
lab_wait() {
	_lw_end=$(($(date +%s) + $1)); shift
	while :; do
		"$@" >/dev/null 2>&1 && return 0
		[ "$(date +%s)" -lt "$_lw_end" ] || return 1
		sleep 0.3
	done
}

lab_require() {
	[ "$(id -u)" = 0 ] || { echo "SKIP: the lab needs root (namespaces, bridges, mounts)"; exit 77; }
	for b in ip nsenter unshare iptables containerd containerd-shim-runc-v2 ctr runc kubectl openssl curl; do
		command -v "$b" >/dev/null 2>&1 || { echo "SKIP: $b missing"; exit 77; }
	done
	[ -x "$LAB_PY" ] || { echo "SKIP: $LAB_PY missing"; exit 77; }
	for p in bridge host-local loopback; do
		[ -x "/usr/lib/cni/$p" ] || { echo "SKIP: /usr/lib/cni/$p missing (containernetworking-plugins)"; exit 77; }
	done
	for b in kube-store kube-storectl kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy; do
		[ -x "$KUBEC_BUILD/bin/$b" ] || { echo "FAIL: $KUBEC_BUILD/bin/$b not built (run make)"; exit 1; }
	done
	_need=kubec-init
	[ "$LAB_N" -gt 1 ] && _need="$_need kubec-join-control-plane"
	[ "$LAB_W" -gt 0 ] && _need="$_need kubec-join-worker"
	[ "${KUBEC_LAB_NET_ONLY:-}" = 1 ] || for s in $_need; do
		[ -f "$LAB_BOOT/$s" ] || { echo "FAIL: $LAB_BOOT/$s missing (the bootstrap scripts, issue #10 item 2)"; exit 1; }
	done
}

# ---- bring-up -------------------------------------------------------------------------

# The namespaces, link, addresses, routes and bind mounts of host I.
_lab_host_net() {
	lab_host "$1"
	mkdir -p "$H/logs" "$H/pids" "$H/notify" "$H/etc" "$H/run" \
		"$H/root/etc/kubec" "$H/root/etc/cni/net.d" "$H/root/etc/containerd" \
		"$H/root/etc/systemd/system" "$H/var/lib/kube-store" "$H/var/lib/kubelet" \
		"$H/var/lib/containerd" "$H/var/lib/cni" "$H/var/log/pods"
	chmod 700 "$H/var/lib/kube-store"
	cat >"$H/ns.env" <<EOF
NAME=$NAME
NETNS=/run/netns/$NAME
MNTNS=$LAB/ns/$NAME.mnt
UTSNS=$LAB/ns/$NAME.uts
EOF
	ip netns add "$NAME" || return 1
	ip link add "kclab-$NAME" type veth peer name eth0 netns "$NAME" || return 1
	ip link set "kclab-$NAME" master "$LAB_BR" up || return 1
	ip -n "$NAME" link set lo up &&
		ip -n "$NAME" addr add "$IP/24" dev eth0 &&
		ip -n "$NAME" link set eth0 up &&
		ip -n "$NAME" route add default via "$LAB_NET.1" || return 1
	# /proc/sys/net is the opener's network namespace: this is cpI's own switch.
	lab_net "$1" sh -c 'echo 1 >/proc/sys/net/ipv4/ip_forward' || return 1
	_me=$NAME
	j=1
	while [ $j -le "$LAB_T" ]; do
		[ $j -ne "$1" ] && { lab_host $j; ip -n "$_me" route add "$PODCIDR" via "$IP" || return 1; }
		j=$((j + 1))
	done
	lab_host "$1"
	# A mount and a UTS namespace kept alive by bind mounts of their nsfs files (unshare's
	# persistent namespaces); slave propagation: the root's unmounts still reach us.
	: >"$LAB/ns/$NAME.mnt"; : >"$LAB/ns/$NAME.uts"
	unshare --mount="$LAB/ns/$NAME.mnt" --uts="$LAB/ns/$NAME.uts" --propagation slave true || return 1
	lab_on "$1" hostname "$NAME" || return 1
	{
		echo "127.0.0.1 localhost"
		k=1
		while [ $k -le "$LAB_T" ]; do lab_host $k; echo "$IP $NAME"; k=$((k + 1)); done
	} >"$LAB/hosts/$_me/etc/hosts"
	lab_host "$1"
	echo "$LAB_MOUNTS" | tr ' ' '\n' | while IFS=: read -r dst src; do
		[ -n "$dst" ] || continue
		lab_on "$1" mount --bind "$H/$src" "$dst" || exit 1
	done || return 1
	lab_on "$1" mount --bind "$KUBEC_BUILD/bin" /usr/local/bin || return 1
	return 0
}

# containerd as Debian's package runs it (containerd.service, /etc/containerd/config.toml)
# with the CRI settings of test/integration/kubelet/containerd.sh, at the real paths.
_lab_write_containerd() {
	lab_host "$1"
	cat >"$H/root/etc/containerd/config.toml" <<'TOML'
version = 2
root  = "/var/lib/containerd"
state = "/run/containerd"
[grpc]
  address = "/run/containerd/containerd.sock"
[ttrpc]
  address = ""
[plugins]
  [plugins."io.containerd.internal.v1.opt"]
    path = "/var/lib/containerd/opt"
  [plugins."io.containerd.grpc.v1.cri"]
    sandbox_image = "registry.k8s.io/pause:3.6"
    netns_mounts_under_state_dir = true
    restrict_oom_score_adj = true
    stream_server_address = "127.0.0.1"
    stream_server_port = "0"
    [plugins."io.containerd.grpc.v1.cri".cni]
      bin_dir  = "/usr/lib/cni"
      conf_dir = "/etc/cni/net.d"
      max_conf_num = 1
    [plugins."io.containerd.grpc.v1.cri".containerd]
      snapshotter = "overlayfs"
      default_runtime_name = "runc"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
        runtime_type = "io.containerd.runc.v2"
        [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
          SystemdCgroup = false
    [plugins."io.containerd.grpc.v1.cri".registry]
      config_path = "/etc/containerd/certs.d"
TOML
	# Debian's /lib/systemd/system/containerd.service, minus the modprobe.
	cat >"$H/root/etc/systemd/system/containerd.service" <<'UNIT'
[Unit]
Description=containerd container runtime (lab copy of Debian's unit)
After=network.target local-fs.target

[Service]
ExecStart=/usr/bin/containerd
Type=notify
Delegate=yes
KillMode=process
Restart=always
RestartSec=5
LimitNOFILE=infinity

[Install]
WantedBy=multi-user.target
UNIT
}

# lab_env_add I FILE VAR WORDS: append WORDS to VAR in host I's /etc/kubec/FILE (an
# EnvironmentFile: a later assignment wins, so the old value is carried over).
lab_env_add() {
	lab_host "$1"
	f=$H/root/etc/kubec/$2
	[ -f "$f" ] || : >"$f"
	old=$($LAB_PY - "$f" "$3" <<'PY'
import re, sys
val = ""
for line in open(sys.argv[1]):
    s = line.strip()
    if s.startswith(sys.argv[2] + "="):
        v = s.split("=", 1)[1].strip()
        if len(v) >= 2 and v[0] == v[-1] and v[0] in "'\"":
            v = v[1:-1]
        val = v
print(val)
PY
)
	printf '# added by test/lab\n%s="%s"\n' "$3" "$(echo "$old $4" | sed 's/^ *//')" >>"$f"
}

_lab_admin_conf() { # I: admin-cpI.conf pointing at host I's apiserver
	lab_host "$1"
	sed "s#server: https://[0-9.]*:6443#server: https://$IP:6443#" "$LAB/admin.conf" >"$LAB/admin-$NAME.conf"
	chmod 600 "$LAB/admin-$NAME.conf"
}

_lab_store_ctl() { # I args...: kube-storectl as host I's healthcheck client, against its store
	lab_host "$1"; shift
	P=$H/root/etc/kubec/pki/etcd
	"$KUBEC_BUILD/bin/kube-storectl" --endpoints="https://$IP:2379" --cacert="$P/ca.crt" \
		--cert="$P/healthcheck-client.crt" --key="$P/healthcheck-client.key" "$@"
}

_lab_api_ready() { # I: host I's apiserver /readyz
	lab_host "$1"
	P=$H/root/etc/kubec/pki
	[ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 3 --cacert "$P/ca.crt" \
		--cert "$P/apiserver-kubelet-client.crt" --key "$P/apiserver-kubelet-client.key" \
		"https://$IP:6443/readyz")" = 200 ]
}

_lab_https_ok() { # I PORT: host I's HTTPS /healthz on 127.0.0.1:PORT (self-signed)
	[ "$(lab_net "$1" curl -sk -o /dev/null -w '%{http_code}' --max-time 3 "https://127.0.0.1:$2/healthz")" = 200 ]
}

lab_node_ready() { # NAME
	[ "$(lab_kubectl get node "$1" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null)" = True ]
}

# lab_start_cp I: store (already started on a joining host), apiserver, cm, scheduler
lab_start_cp() {
	lab_host "$1"
	lab_unit start "$1" kube-store --timeout 60 || return 1
	lab_unit start "$1" kube-apiserver --timeout 120 || return 1
	lab_unit start "$1" kube-controller-manager --wait-ready --timeout 60 || return 1
	lab_unit start "$1" kube-scheduler --wait-ready --timeout 60 || return 1
}

# lab_start_worker I: containerd (images imported once), kubelet (Node Ready), kube-proxy
lab_start_worker() {
	lab_host "$1"
	lab_unit start "$1" containerd --timeout 30 || return 1
	if [ ! -f "$H/images-imported" ]; then
		# containerd.sh's import, through this host's socket seen from the root namespace
		# shellcheck disable=SC2034 # read by kc_ctrd_import_images
		CTRD_SOCK=$H/run/containerd/containerd.sock
		kc_ctrd_import_images "$KUBEC_BUILD/images" || { lab_err "$NAME: ctr images import failed"; return 1; }
		: >"$H/images-imported"
	fi
	lab_unit start "$1" kubelet --wait-ready --timeout 60 || return 1
	lab_wait 60 lab_node_ready "$NAME" || { lab_err "node $NAME not Ready"; return 1; }
	lab_unit start "$1" kube-proxy --wait-ready --timeout 60 || return 1
}

# The lab's own settings, added to the env files the bootstrap wrote (README.md, "knobs").
_lab_tune_env() {
	lab_host "$1"
	lab_env_add "$1" kubelet.env KUBELET_ARGS "--cgroup-root=/kubec-lab-$NAME"
	[ "$ROLE" = worker ] && return 0
	lab_env_add "$1" kube-controller-manager.env KUBE_CONTROLLER_MANAGER_ARGS \
		"--node-monitor-grace-period=$LAB_GRACE --node-monitor-period=2s"
	lab_env_add "$1" kube-apiserver.env KUBE_APISERVER_ARGS \
		"--default-not-ready-toleration-seconds=$LAB_TOLERATION --default-unreachable-toleration-seconds=$LAB_TOLERATION"
}

lab_up() {
	lab_require
	if [ -e "$LAB/lab.env" ]; then
		lab_err "a lab is already set up in $LAB: run 'test/lab/lab.sh down' first"
		return 1
	fi
	# the bridge, netns names and addresses are fixed: one lab per machine
	if ip link show "$LAB_BR" >/dev/null 2>&1 || ip netns list 2>/dev/null | grep -Eq '^(cp|w)[0-9]'; then
		lab_err "another lab is up (bridge $LAB_BR or a netns cpI exists; another KUBEC_LAB_DIR?): take it down first"
		return 1
	fi
	. "$KUBEC_ROOT/test/integration/kubelet/containerd.sh"
	sh "$KUBEC_ROOT/test/images/build.sh" "$KUBEC_BUILD/images" >/dev/null
	case $? in
	0) ;;
	77) echo "SKIP: the offline test images cannot be built here (test/images/build.sh)"; exit 77 ;;
	*) lab_err "test/images/build.sh failed"; return 1 ;;
	esac
	t0=$(date +%s)
	mkdir -p "$LAB/ns" "$LAB/hosts"
	# Written first: down needs it even after a failed up.
	printf 'LAB_N=%s\nLAB_W=%s\nLAB_T=%s\nLAB_BR=%s\n' "$LAB_N" "$LAB_W" "$LAB_T" "$LAB_BR" >"$LAB/lab.env"
	# Mount points for the per-host bind mounts, made on this machine only if missing
	# (down removes the ones it made).
	for d in /etc/kubec /etc/cni /etc/cni/net.d /etc/containerd /var/lib/kube-store /var/lib/kubelet \
		/var/lib/containerd /var/lib/cni /var/log/pods; do
		[ -d "$d" ] || { mkdir "$d" && echo "$d" >>"$LAB/created-dirs"; } || return 1
	done
	# the persistent namespace files must sit on a private mount (unshare(1))
	mount --bind "$LAB/ns" "$LAB/ns" && mount --make-private "$LAB/ns" || return 1
	ip link add "$LAB_BR" type bridge || return 1
	ip addr add "$LAB_NET.1/24" dev "$LAB_BR" && ip link set "$LAB_BR" up || return 1
	i=1
	while [ $i -le "$LAB_T" ]; do
		_lab_host_net $i || { lab_err "host $(_lab_name $i): network/namespace set-up failed"; return 1; }
		_lab_write_containerd $i
		i=$((i + 1))
	done
	lab_log "$LAB_T hosts' namespaces, links and routes up in $(($(date +%s) - t0))s"
	if [ "${KUBEC_LAB_NET_ONLY:-}" = 1 ]; then
		# development aid: the hosts and their containerd, no cluster
		i=1
		while [ $i -le "$LAB_T" ]; do
			lab_unit start $i containerd --timeout 30 || return 1
			i=$((i + 1))
		done
		return 0
	fi

	# Host 1: kubec-init, as `kubeadm init`.
	lab_host 1
	lab_on 1 env KUBEC_BIN=/usr/local/bin sh "$LAB_BOOT/kubec-init" --node-name "$NAME" \
		--advertise-address "$IP" --root "$H/root" --cluster-cidr 10.244.0.0/16 \
		--pod-cidr "$PODCIDR" >"$H/logs/bootstrap.log" 2>&1 ||
		{ lab_err "cp1: kubec-init failed:"; tail -n 30 "$H/logs/bootstrap.log" >&2; return 1; }
	_lab_tune_env 1
	BUNDLE=$H/root/etc/kubec/join-bundle.tar
	[ -f "$BUNDLE" ] || { lab_err "kubec-init wrote no $BUNDLE"; return 1; }
	[ -f "$H/root/etc/kubec/admin.conf" ] || { lab_err "kubec-init wrote no admin.conf"; return 1; }
	cp "$H/root/etc/kubec/admin.conf" "$LAB/admin.conf" && chmod 600 "$LAB/admin.conf"
	lab_start_cp 1 || return 1
	lab_start_worker 1 || return 1
	lab_log "cp1 up (store, apiserver, controller-manager, scheduler, containerd, kubelet, kube-proxy) at $(($(date +%s) - t0))s"

	# Hosts 2..N: kubec-join-control-plane, as `kubeadm join --control-plane`; the new
	# member's store starts at once (a 2-member cluster has no quorum until it runs).
	i=2
	while [ $i -le "$LAB_N" ]; do
		lab_host $i
		lab_on $i env KUBEC_BIN=/usr/local/bin sh "$LAB_BOOT/kubec-join-control-plane" --bundle "$BUNDLE" \
			--node-name "$NAME" --advertise-address "$IP" --store-endpoint "https://$LAB_NET.11:2379" \
			--root "$H/root" --pod-cidr "$PODCIDR" >"$H/logs/bootstrap.log" 2>&1 ||
			{ lab_err "$NAME: kubec-join-control-plane failed:"; tail -n 30 "$H/logs/bootstrap.log" >&2; return 1; }
		_lab_tune_env $i
		lab_start_cp $i || return 1
		lab_start_worker $i || return 1
		lab_log "$NAME joined at $(($(date +%s) - t0))s"
		i=$((i + 1))
	done
	# Worker-only hosts: kubec-join-worker, as `kubeadm join` of a node; the kubelet and
	# kube-proxy reach cp1's apiserver (the address a user would give, no load balancer).
	while [ $i -le "$LAB_T" ]; do
		lab_host $i
		lab_on $i env KUBEC_BIN=/usr/local/bin sh "$LAB_BOOT/kubec-join-worker" --bundle "$BUNDLE" \
			--node-name "$NAME" --node-ip "$IP" --apiserver "https://$LAB_NET.11:6443" \
			--root "$H/root" --pod-cidr "$PODCIDR" >"$H/logs/bootstrap.log" 2>&1 ||
			{ lab_err "$NAME: kubec-join-worker failed:"; tail -n 30 "$H/logs/bootstrap.log" >&2; return 1; }
		# a worker keeps only the CA certificate of the bundle, never its key
		[ ! -e "$H/root/etc/kubec/pki/ca.key" ] || { lab_err "$NAME: the worker kept the CA key"; return 1; }
		_lab_tune_env $i
		lab_start_worker $i || return 1
		lab_log "$NAME joined as a worker at $(($(date +%s) - t0))s"
		i=$((i + 1))
	done
	i=1
	while [ $i -le "$LAB_N" ]; do _lab_admin_conf $i; i=$((i + 1)); done
	lab_log "lab up in $(($(date +%s) - t0))s"
	return 0
}

lab_usage_note() {
	cat <<EOF
The lab is up: $LAB_N control-plane hosts (cp1..cp$LAB_N, $LAB_NET.11..$LAB_NET.$((10 + LAB_N))) and $LAB_W workers (w1.., $LAB_NET.21..) on bridge $LAB_BR.
  export KUBECONFIG=$LAB/admin.conf           # kubernetes-admin via cp1's apiserver
  kubectl get nodes -o wide
  kubectl --kubeconfig $LAB/admin-cp2.conf get pods -A    # through cp2's apiserver
  nsenter --net=/run/netns/cp1 curl ...                    # run a command on host cp1
  $KUBEC_ROOT/test/lab/lab.sh status | down
Logs: $LAB/hosts/cpI/logs/<unit>.log; units: $LAB/hosts/cpI/root/etc/systemd/system.
EOF
}

# ---- status ---------------------------------------------------------------------------

lab_status() {
	[ -f "$LAB/lab.env" ] || { echo "no lab in $LAB"; return 1; }
	. "$LAB/lab.env"
	LAB_T=$((LAB_N + ${LAB_W:-0}))
	i=1
	while [ $i -le "$LAB_T" ]; do
		lab_host $i
		line="$NAME $IP:"
		us="containerd kubelet kube-proxy"
		[ "$ROLE" = worker ] || us="kube-store kube-apiserver kube-controller-manager kube-scheduler $us"
		for u in $us; do
			if p=$(lab_unit status $i $u 2>/dev/null); then line="$line $u=$p"; else line="$line $u=down"; fi
		done
		echo "$line"
		i=$((i + 1))
	done
	[ -f "$LAB/admin.conf" ] && lab_kubectl get nodes -o wide 2>&1
	[ -f "$LAB/hosts/cp1/root/etc/kubec/pki/etcd/healthcheck-client.crt" ] &&
		_lab_store_ctl 1 endpoint status --cluster -w table 2>&1
	return 0
}

# The host index of the store leader, from kube-storectl endpoint status (any live member).
lab_store_leader() {
	i=1
	while [ $i -le "$LAB_N" ]; do
		# etcdctl-style: a dead member makes the exit status non-zero, the others still print
		out=$(_lab_store_ctl $i endpoint status --cluster -w json 2>/dev/null)
		[ -n "$out" ] && {
			echo "$out" | $LAB_PY -c '
import json, sys
try:
    eps = json.load(sys.stdin)
except ValueError:
    sys.exit(1)
for e in eps:
    st = e.get("Status") or {}
    if st.get("header", {}).get("member_id") == st.get("leader") and st.get("leader"):
        ep = e["Endpoint"]
        host = ep.split("//")[-1].split(":")[0]
        print(int(host.split(".")[-1]) - 10)
        sys.exit(0)
sys.exit(1)' && return 0
		}
		i=$((i + 1))
	done
	return 1
}

lab_dump_logs() {
	for f in "$LAB"/hosts/*/logs/*.log; do
		[ -f "$f" ] || continue
		echo "===== $f (last ${1:-30} lines)"
		tail -n "${1:-30}" "$f"
	done
}

# ---- teardown -------------------------------------------------------------------------

# pids whose network or mount namespace is one of the lab's (daemons, shims, nsenter'd
# helpers) or whose cgroup is under a lab kubelet's --cgroup-root (containers).
_lab_pids() {
	inos=""
	for f in /run/netns/cp[0-9]* /run/netns/w[0-9]* "$LAB"/ns/*.mnt; do
		[ -e "$f" ] || continue
		ino=$(stat -L -c %i "$f" 2>/dev/null) && inos="$inos $ino"
	done
	for p in /proc/[0-9]*; do
		pid=${p#/proc/}
		[ "$pid" = "$$" ] && continue
		for t in net mnt; do
			l=$(readlink "$p/ns/$t" 2>/dev/null) || continue
			n=${l#*[}; n=${n%]}
			case " $inos " in *" $n "*) echo "$pid"; break ;; esac
		done
	done
	# shellcheck disable=SC2044 # cgroup names made by the lab: no spaces
	for f in $(find /sys/fs/cgroup \( -path '*/kubec-lab-cp*' -o -path '*/kubec-lab-w*' \) -name cgroup.procs 2>/dev/null); do
		cat "$f" 2>/dev/null
	done
	_lab_supervisors
}

# the units' supervisors (unit-run.py, in the root namespaces) of this lab's hosts
_lab_supervisors() {
	for p in /proc/[0-9]*; do
		c=$(tr '\0' ' ' 2>/dev/null <"$p/cmdline") || continue
		case $c in *unit-run.py*" $LAB/hosts/"*) echo "${p#/proc/}" ;; esac
	done
}

lab_down() {
	[ -d "$LAB" ] || { echo "no lab in $LAB"; return 0; }
	[ -f "$LAB/lab.env" ] && . "$LAB/lab.env"
	. "$KUBEC_ROOT/test/integration/kubelet/containerd.sh"
	# The kubelet first (it must not restart pods while their tasks are killed), only
	# where the host's namespaces still exist.
	for hd in "$LAB"/hosts/*; do
		[ -f "$hd/ns.env" ] || continue
		i=$(lab_idx "${hd##*/}") || continue
		for u in kubelet kube-proxy; do
			lab_unit stop "$i" $u --timeout 5 >/dev/null 2>&1
		done
		# the control plane's state is thrown away: no point in a leadership hand-over
		# (a stop request with SIGKILL: the supervisors must not restart them)
		for u in kube-scheduler kube-controller-manager kube-apiserver kube-store; do
			[ -f "$hd/root/etc/systemd/system/$u.service" ] || continue
			lab_unit stop "$i" $u --kill >/dev/null 2>&1
		done
		# every pod's task while containerd still runs, as containerd.sh's clean-up
		s=$hd/run/containerd/containerd.sock
		if [ -S "$s" ] && lab_unit status "$i" containerd >/dev/null 2>&1; then
			for t in $(ctr -a "$s" -n k8s.io tasks ls -q 2>/dev/null); do
				ctr -a "$s" -n k8s.io tasks kill -s SIGKILL "$t" >/dev/null 2>&1
			done
			for t in $(ctr -a "$s" -n k8s.io tasks ls -q 2>/dev/null); do
				ctr -a "$s" -n k8s.io tasks delete -f "$t" >/dev/null 2>&1
			done
		fi
		lab_unit stop "$i" containerd --timeout 10 >/dev/null 2>&1
	done
	# Then whatever is left in the lab's namespaces and cgroups (shims, containers, a
	# process a failed up left behind): SIGKILL, a few rounds.
	r=0
	while [ $r -lt 10 ]; do
		pids=$(_lab_pids | sort -u)
		[ -n "$pids" ] || break
		for p in $pids; do kill -9 "$p" 2>/dev/null; done
		sleep 0.3
		r=$((r + 1))
	done
	# The hosts' mount namespaces end with their last process and their nsfs bind mount;
	# every mount made inside (binds, overlays, netns files, tmpfs volumes) goes with them.
	for f in "$LAB"/ns/*.mnt "$LAB"/ns/*.uts; do
		[ -e "$f" ] && umount "$f" 2>/dev/null
	done
	awk -v d="$LAB/" 'index($2, d) == 1 { print $2 }' /proc/self/mounts | sort -r | while read -r m; do
		umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null
	done
	# network: each netns takes its eth0 and, with it, the root side of the veth
	# (only this lab's: up refuses to start beside another one, so what $LAB lists is ours)
	for hd in "$LAB"/hosts/*; do
		[ -f "$hd/ns.env" ] || continue
		n=${hd##*/}
		ip netns del "$n" 2>/dev/null
		ip link del "kclab-$n" 2>/dev/null
	done
	[ -f "$LAB/lab.env" ] && ip link del "${LAB_BR:-kubeclab0}" 2>/dev/null
	# the kubelets' cgroup roots (deepest first, every v1 hierarchy and cgroup2)
	# shellcheck disable=SC2044 # cgroup names made by the lab: no spaces
	for d in $(find /sys/fs/cgroup -maxdepth 2 -type d \( -name 'kubec-lab-cp*' -o -name 'kubec-lab-w*' \) 2>/dev/null); do
		find "$d" -depth -type d -exec rmdir {} \; 2>/dev/null
	done
	if [ -f "$LAB/created-dirs" ]; then
		sort -r "$LAB/created-dirs" | while read -r d; do rmdir "$d" 2>/dev/null; done
	fi
	rm -rf "$LAB"
	lab_check_clean
}

# Anything of the lab still on this machine?  Prints each leftover; non-zero if any.
lab_check_clean() {
	left=""
	pids=$(_lab_pids | sort -u | tr '\n' ' ')
	[ -n "$pids" ] && left="$left\n  processes: $pids"
	n=$(ip netns list 2>/dev/null | awk '{print $1}' | grep -E '^(cp|w)[0-9]+$' | tr '\n' ' ')
	[ -n "$n" ] && left="$left\n  network namespaces: $n"
	l=$(ip -o link show 2>/dev/null | awk -F': ' '{print $2}' | cut -d@ -f1 | grep -E "^(kclab-cp|kclab-w|${LAB_BR:-kubeclab0}\$)" | tr '\n' ' ')
	[ -n "$l" ] && left="$left\n  links: $l"
	m=$(awk -v d="$LAB" 'index($2, d) == 1 { print $2 }' /proc/self/mounts | tr '\n' ' ')
	[ -n "$m" ] && left="$left\n  mounts: $m"
	c=$(find /sys/fs/cgroup -maxdepth 2 -type d \( -name 'kubec-lab-cp*' -o -name 'kubec-lab-w*' \) 2>/dev/null | tr '\n' ' ')
	[ -n "$c" ] && left="$left\n  cgroups: $c"
	r=$(iptables-save 2>/dev/null | grep -E "$LAB_NET\.|kubeclab|kclab-" | head -n 5 | tr '\n' ' ')
	[ -n "$r" ] && left="$left\n  root-namespace iptables rules: $r"
	[ -e "$LAB" ] && left="$left\n  state dir: $LAB"
	if [ -n "$left" ]; then
		printf 'lab: teardown left behind:%b\n' "$left" >&2
		return 1
	fi
	echo "lab: down, nothing left behind (processes, netns, links, mounts, cgroups, iptables, $LAB)"
	return 0
}
