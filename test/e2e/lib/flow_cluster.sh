# Sourced helper: a whole one-node kubec cluster (containerd + every daemon) in one directory.
# Shared by examples/local-up.sh (`make up`, state in .run/) and test/e2e/flow.sh (temp dir).
#
#   flow_require                 exit 77 with a reason if this machine cannot run it
#   flow_up DIR MODE             MODE "local" (fixed ports, bridge kubec0, 10.244.0.0/24) or
#                                "test" (free ports, random bridge and 10.251.x.0/24);
#                                writes DIR/cluster.env (everything flow_down needs) and
#                                DIR/admin.kubeconfig; returns non-zero if a daemon fails.
#                                PKI as kubeadm lays it out: DIR/pki/{ca,apiserver,
#                                apiserver-kubelet-client}.{crt,key}, sa.{key,pub}, and one
#                                kubeconfig per identity: DIR/admin.conf (kubernetes-admin,
#                                system:masters; admin.kubeconfig links to it),
#                                controller-manager.conf, scheduler.conf, kubelet.conf
#                                (system:node:<node>, system:nodes), kube-proxy.conf
#   flow_down DIR                stop everything recorded in DIR/cluster.env: kubelet first,
#                                then kube-proxy (+ --cleanup), scheduler, controller-manager,
#                                apiserver, store, then containerd with its shims, mounts,
#                                bridge, veths, netns and cgroups (containerd.sh's clean-up)
#   flow_kill9 DIR NAME          SIGKILL one daemon (kube-apiserver, kube-scheduler, ...)
#   flow_restart DIR NAME        start it again with its first command line (DIR/NAME.cmd)
#   flow_restart_wait DIR NAME SECS   the same, then wait for flow_healthy NAME; prints ms
#   flow_healthy NAME            0 if NAME's health endpoint answers 200
#   flow_dump_logs DIR           the tail of every log
#   flow_proxy_running           0 if a kube-proxy daemon runs in this network namespace
#   flow_sched_healthy           0 if kube-scheduler's /healthz answers (HTTPS or HTTP)
#
# Needs KUBEC_ROOT and KUBEC_BUILD.  Every pid goes into DIR/<name>.pid so `make down` from
# another shell stops exactly what `make up` started.

. "$KUBEC_ROOT/test/integration/kubelet/containerd.sh"

FLOW_PY=/usr/bin/python3

flow_require() {
	kc_ctrd_require
	for b in kubectl openssl curl umoci iptables iptables-save; do
		command -v "$b" >/dev/null 2>&1 || { echo "SKIP: $b missing"; exit 77; }
	done
	for b in kube-store kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy; do
		[ -x "$KUBEC_BUILD/bin/$b" ] || { echo "FAIL: $KUBEC_BUILD/bin/$b not built (run make)"; exit 1; }
	done
}

_flow_free_port() {
	$FLOW_PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# A kube-proxy daemon (not a --cleanup run) in this shell's network namespace?  One in
# another netns (test/integration/proxy_rules.sh) has its own iptables and does not count.
flow_proxy_running() {
	mynet=$(readlink /proc/self/ns/net)
	for p in /proc/[0-9]*; do
		[ "$(readlink "$p/ns/net" 2>/dev/null)" = "$mynet" ] || continue
		c=$(tr '\0' ' ' 2>/dev/null <"$p/cmdline") || continue
		case "$c" in
		*/kube-proxy\ *--cleanup*) ;;
		*/kube-proxy\ *) return 0 ;;
		esac
	done
	return 1
}

# _flow_wait SECONDS NAME CMD...: until CMD succeeds; fails early if NAME's pid died.
_flow_wait() {
	secs=$1; name=$2; shift 2
	end=$(($(date +%s) + secs))
	while [ "$(date +%s)" -lt "$end" ]; do
		"$@" >/dev/null 2>&1 && return 0
		if [ -f "$FLOW_DIR/$name.pid" ] && ! kill -0 "$(cat "$FLOW_DIR/$name.pid")" 2>/dev/null; then
			echo "$name exited; its log:" >&2
			tail -n 30 "$FLOW_DIR/logs/$name.log" >&2
			return 1
		fi
		sleep 0.2
	done
	echo "$name not ready after ${secs}s; its log:" >&2
	tail -n 30 "$FLOW_DIR/logs/$name.log" >&2
	return 1
}

# _flow_sign BASE SUBJ EXTFILE: pki/BASE.{key,crt} signed by the cluster CA, unless a
# certificate with that subject is already there (make up keeps the PKI between runs; a
# kubelet certificate for another node name is remade).
_flow_sign() {
	P=$FLOW_DIR/pki
	if [ -f "$P/$1.key" ] && [ -f "$P/$1.crt" ]; then
		want=$(printf '%s' "$2" | tr -d ' ')
		have=$(openssl x509 -in "$P/$1.crt" -noout -subject -nameopt compat 2>/dev/null | sed 's/^subject=//' | tr -d ' ')
		[ "$have" = "$want" ] && return 0
	fi
	openssl req -newkey rsa:2048 -nodes -subj "$2" \
		-keyout "$P/$1.key" -out "$P/$1.csr" 2>/dev/null || return 1
	openssl x509 -req -in "$P/$1.csr" -CA "$P/ca.crt" -CAkey "$P/ca.key" \
		-CAcreateserial -days 3650 -extfile "$3" -out "$P/$1.crt" 2>/dev/null || return 1
	rm -f "$P/$1.csr"
}

# The PKI as kubeadm lays out /etc/kubernetes/pki (kubeadm's certs phase): the cluster CA,
# the apiserver's serving certificate, apiserver-kubelet-client (O=system:masters, for the
# apiserver's logs/exec calls to the kubelet), the service-account key pair; plus one client
# certificate per kubeconfig (kubeadm's kubeconfig phase embeds them in the .conf files).
_flow_gen_certs() {
	P=$FLOW_DIR/pki
	mkdir -p "$P"
	if [ ! -f "$P/ca.crt" ] || [ ! -f "$P/ca.key" ]; then
		# kubeadm's CA: CN=kubernetes (a new CA invalidates every other certificate)
		rm -f "$P"/*.crt "$P"/*.key
		openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=kubernetes" \
			-keyout "$P/ca.key" -out "$P/ca.crt" 2>/dev/null || return 1
	fi
	# SANs as kubeadm gives the apiserver: its names, the loopback and the first service IP.
	cat >"$P/apiserver.ext" <<EOC
subjectAltName=DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local,IP:127.0.0.1,IP:10.96.0.1,IP:$FLOW_NODE_IP
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
EOC
	printf 'keyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n' >"$P/client.ext"
	# the node IP is a SAN: remake the serving certificate when the address changed
	if [ -f "$P/apiserver.crt" ] &&
		! openssl x509 -in "$P/apiserver.crt" -noout -ext subjectAltName 2>/dev/null | grep -q "IP Address:$FLOW_NODE_IP\$\|IP Address:$FLOW_NODE_IP,"; then
		rm -f "$P/apiserver.crt"
	fi
	_flow_sign apiserver "/CN=kube-apiserver" "$P/apiserver.ext" || return 1
	_flow_sign apiserver-kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client" "$P/client.ext" || return 1
	_flow_sign admin "/O=system:masters/CN=kubernetes-admin" "$P/client.ext" || return 1
	_flow_sign controller-manager "/CN=system:kube-controller-manager" "$P/client.ext" || return 1
	_flow_sign scheduler "/CN=system:kube-scheduler" "$P/client.ext" || return 1
	_flow_sign kubelet "/O=system:nodes/CN=system:node:$FLOW_NODE" "$P/client.ext" || return 1
	_flow_sign kube-proxy "/CN=system:kube-proxy" "$P/client.ext" || return 1
	if [ ! -f "$P/sa.key" ] || [ ! -f "$P/sa.pub" ]; then
		openssl genrsa -out "$P/sa.key" 2048 2>/dev/null || return 1
		openssl rsa -in "$P/sa.key" -pubout -out "$P/sa.pub" 2>/dev/null || return 1
	fi
	chmod 600 "$P"/*.key
	return 0
}

# _flow_write_conf FILE USER BASE: a kubeconfig as kubeadm writes them (cluster
# "kubernetes", context USER@kubernetes, certificates embedded as -data), authenticating
# with pki/BASE.{crt,key}
_flow_write_conf() {
	P=$FLOW_DIR/pki
	cat >"$1.tmp" <<EOK
apiVersion: v1
kind: Config
clusters:
- name: kubernetes
  cluster:
    server: https://127.0.0.1:$FLOW_API_PORT
    certificate-authority-data: $(base64 -w0 "$P/ca.crt")
users:
- name: $2
  user:
    client-certificate-data: $(base64 -w0 "$P/$3.crt")
    client-key-data: $(base64 -w0 "$P/$3.key")
contexts:
- name: $2@kubernetes
  context:
    cluster: kubernetes
    user: $2
current-context: $2@kubernetes
EOK
	chmod 600 "$1.tmp" && mv "$1.tmp" "$1"
}

# One kubeconfig per component, named as kubeadm names them in /etc/kubernetes (kube-proxy's
# lives in a ConfigMap there; here it is a file like the others).  admin.kubeconfig, the
# name `make up` printed before, stays valid as a link to admin.conf.
_flow_write_kubeconfig() {
	_flow_write_conf "$FLOW_DIR/admin.conf" kubernetes-admin admin || return 1
	_flow_write_conf "$FLOW_DIR/controller-manager.conf" system:kube-controller-manager controller-manager || return 1
	_flow_write_conf "$FLOW_DIR/scheduler.conf" system:kube-scheduler scheduler || return 1
	_flow_write_conf "$FLOW_DIR/kubelet.conf" "system:node:$FLOW_NODE" kubelet || return 1
	_flow_write_conf "$FLOW_DIR/kube-proxy.conf" system:kube-proxy kube-proxy || return 1
	ln -sfn admin.conf "$FLOW_DIR/admin.kubeconfig"
}

# _flow_start NAME CMD...: background CMD, log in logs/NAME.log, pid in NAME.pid, the
# command line in NAME.cmd (for flow_restart; the paths used hold no spaces)
_flow_start() {
	name=$1; shift
	echo "$*" >"$FLOW_DIR/$name.cmd"
	"$@" >>"$FLOW_DIR/logs/$name.log" 2>&1 &
	echo $! >"$FLOW_DIR/$name.pid"
}

# flow_kill9 DIR NAME: SIGKILL a daemon (a crash), wait until it is gone
flow_kill9() {
	pf=$1/$2.pid
	[ -f "$pf" ] || return 1
	pid=$(cat "$pf")
	kill -9 "$pid" 2>/dev/null || return 1
	# reap it if it is this shell's child (a zombie still answers kill -0)
	wait "$pid" 2>/dev/null
	i=0
	while kill -0 "$pid" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
	! kill -0 "$pid" 2>/dev/null
}

# flow_restart DIR NAME: start NAME again with the command line it was first started with
flow_restart() {
	FLOW_DIR=$1
	[ -f "$FLOW_DIR/$2.cmd" ] || return 1
	# shellcheck disable=SC2046 # word splitting of the recorded command line is intended
	_flow_start "$2" $(cat "$FLOW_DIR/$2.cmd")
}

_flow_http_ok() { # url [curl args]
	u=$1; shift
	[ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$@" "$u")" = 200 ]
}

# kube-scheduler's /healthz: HTTPS with its self-signed serving certificate (as
# upstream's --secure-port), or plain HTTP from builds that serve insecurely.
flow_sched_healthy() {
	_flow_http_ok "https://127.0.0.1:$FLOW_SCHED_PORT/healthz" -k ||
		_flow_http_ok "http://127.0.0.1:$FLOW_SCHED_PORT/healthz"
}

# flow_healthy NAME: 0 if daemon NAME answers on its health endpoint (FLOW_DIR and the
# cluster.env ports set): the store's /health, the apiserver's /readyz, the controller-
# manager's and scheduler's /healthz (HTTPS, self-signed as upstream), the kubelet's
# healthz port and kube-proxy's /healthz
flow_healthy() {
	case $1 in
	kube-store) _flow_http_ok "http://127.0.0.1:$FLOW_STORE_PORT/health" ;;
	kube-apiserver) _flow_http_ok "https://127.0.0.1:$FLOW_API_PORT/readyz" --cacert "$FLOW_DIR/pki/ca.crt" ;;
	kube-controller-manager) _flow_http_ok "https://127.0.0.1:$FLOW_CM_PORT/healthz" -k ;;
	kube-scheduler) flow_sched_healthy ;;
	kubelet) _flow_http_ok "http://127.0.0.1:$FLOW_KUBELET_HZ/healthz" ;;
	kube-proxy) _flow_http_ok "http://127.0.0.1:$FLOW_PROXY_HZ/healthz" ;;
	*) return 1 ;;
	esac
}

# flow_restart_wait DIR NAME SECS: flow_restart, then wait up to SECS for NAME's health
# endpoint (non-zero, with its log, if it dies or stays unhealthy); prints the milliseconds
# from the restart to healthy on stdout
flow_restart_wait() {
	_frw_t0=$(date +%s%3N)
	flow_restart "$1" "$2" || return 1
	_flow_wait "$3" "$2" flow_healthy "$2" || return 1
	echo $(($(date +%s%3N) - _frw_t0))
}

_flow_node_ready() {
	[ "$(kubectl --kubeconfig "$FLOW_DIR/admin.kubeconfig" get node "$FLOW_NODE" \
		-o jsonpath='{.status.conditions[?(@.type=="Ready")].status}')" = True ]
}

flow_up() {
	FLOW_DIR=$1
	mode=$2
	mkdir -p "$FLOW_DIR/logs"
	# The node's address: the first global IPv4 (NodePort is checked on it), else loopback.
	FLOW_NODE_IP=$(ip -4 -o addr show scope global | awk '{sub("/.*", "", $4); print $4; exit}')
	[ -n "$FLOW_NODE_IP" ] || FLOW_NODE_IP=127.0.0.1
	if [ "$mode" = local ]; then
		FLOW_STORE_PORT=2379; FLOW_PEER_PORT=2380; FLOW_API_PORT=6443
		FLOW_CM_PORT=10257; FLOW_SCHED_PORT=10259
		FLOW_PROXY_HZ=10256; FLOW_PROXY_METRICS=10249
		FLOW_KUBELET_PORT=10250; FLOW_KUBELET_HZ=10248
		CTRD_BRIDGE=kubec0
		CTRD_SUBNET=10.244.0
		CTRD_CGROUP=/kubec-local
		FLOW_NODE=$(hostname | tr '[:upper:]' '[:lower:]')
		[ -n "$FLOW_NODE" ] || FLOW_NODE=kubec-node
	else
		FLOW_STORE_PORT=$(_flow_free_port); FLOW_PEER_PORT=$(_flow_free_port)
		FLOW_API_PORT=$(_flow_free_port)
		FLOW_CM_PORT=$(_flow_free_port); FLOW_SCHED_PORT=$(_flow_free_port)
		FLOW_PROXY_HZ=$(_flow_free_port); FLOW_PROXY_METRICS=$(_flow_free_port)
		FLOW_KUBELET_PORT=$(_flow_free_port); FLOW_KUBELET_HZ=$(_flow_free_port)
		CTRD_BRIDGE="kcbr$(printf '%02x%02x%02x' "$(_kc_rand_byte)" "$(_kc_rand_byte)" "$(_kc_rand_byte)")"
		CTRD_SUBNET=$(_kc_pick_subnet) || { echo "no free 10.251.x.0/24" >&2; return 1; }
		CTRD_CGROUP="/kubec-e2e-$(basename "$FLOW_DIR")"
		FLOW_NODE="kubec-e2e-$(od -An -N3 -tx1 /dev/urandom | tr -d ' ')"
	fi
	CTRD_DIR=$FLOW_DIR/containerd
	CTRD_SOCK=$CTRD_DIR/containerd.sock
	CTRD_ENDPOINT=unix://$CTRD_SOCK
	CTRD_OLD_FORWARD=$(cat /proc/sys/net/ipv4/ip_forward)
	FLOW_POD_CIDR=$CTRD_SUBNET.0/24
	# Everything flow_down needs, written before anything starts so a half-started
	# cluster is still torn down completely.
	cat >"$FLOW_DIR/cluster.env" <<ENV
FLOW_NODE='$FLOW_NODE'
FLOW_NODE_IP='$FLOW_NODE_IP'
FLOW_API_PORT='$FLOW_API_PORT'
FLOW_CM_PORT='$FLOW_CM_PORT'
FLOW_SCHED_PORT='$FLOW_SCHED_PORT'
FLOW_STORE_PORT='$FLOW_STORE_PORT'
FLOW_PROXY_HZ='$FLOW_PROXY_HZ'
FLOW_KUBELET_HZ='$FLOW_KUBELET_HZ'
FLOW_POD_CIDR='$FLOW_POD_CIDR'
CTRD_DIR='$CTRD_DIR'
CTRD_SOCK='$CTRD_SOCK'
CTRD_BRIDGE='$CTRD_BRIDGE'
CTRD_SUBNET='$CTRD_SUBNET'
CTRD_CGROUP='$CTRD_CGROUP'
CTRD_OLD_FORWARD='$CTRD_OLD_FORWARD'
ENV
	_flow_gen_certs || { echo "certificate generation failed" >&2; return 1; }
	_flow_write_kubeconfig || { echo "kubeconfig generation failed" >&2; return 1; }
	P=$FLOW_DIR/pki

	# containerd as containerd.sh configures it (CNI bridge + host-local on the podCIDR)
	kc_ctrd_write_config
	mv "$CTRD_DIR/logs/containerd.log" "$CTRD_DIR/logs/containerd.log.old" 2>/dev/null
	_kc_ctrd_launch || return 1
	echo "$CTRD_PID" >"$FLOW_DIR/containerd.pid"
	kc_ctrd_import_images "$KUBEC_BUILD/images" || { echo "ctr images import failed" >&2; return 1; }

	_flow_start kube-store "$KUBEC_BUILD/bin/kube-store" --name local --data-dir "$FLOW_DIR/store" \
		--listen-client-urls "http://127.0.0.1:$FLOW_STORE_PORT" \
		--advertise-client-urls "http://127.0.0.1:$FLOW_STORE_PORT" \
		--listen-peer-urls "http://127.0.0.1:$FLOW_PEER_PORT" \
		--initial-advertise-peer-urls "http://127.0.0.1:$FLOW_PEER_PORT" \
		--initial-cluster "local=http://127.0.0.1:$FLOW_PEER_PORT"
	_flow_wait 20 kube-store flow_healthy kube-store || return 1

	_flow_start kube-apiserver "$KUBEC_BUILD/bin/kube-apiserver" \
		--etcd-servers "http://127.0.0.1:$FLOW_STORE_PORT" \
		--secure-port "$FLOW_API_PORT" --bind-address 127.0.0.1 --advertise-address 127.0.0.1 \
		--tls-cert-file "$P/apiserver.crt" --tls-private-key-file "$P/apiserver.key" \
		--client-ca-file "$P/ca.crt" \
		--service-account-key-file "$P/sa.pub" --service-account-signing-key-file "$P/sa.key" \
		--service-account-issuer https://kubernetes.default.svc.cluster.local \
		--service-cluster-ip-range 10.96.0.0/12 --allow-privileged=true \
		--kubelet-client-certificate "$P/apiserver-kubelet-client.crt" \
		--kubelet-client-key "$P/apiserver-kubelet-client.key" \
		--kubelet-preferred-address-types InternalIP,Hostname --v=2
	_flow_wait 30 kube-apiserver flow_healthy kube-apiserver || return 1

	# Each component authenticates as kubeadm's identity for it (its own .conf).
	_flow_start kube-controller-manager "$KUBEC_BUILD/bin/kube-controller-manager" \
		--kubeconfig "$FLOW_DIR/controller-manager.conf" --leader-elect=true --bind-address 127.0.0.1 \
		--secure-port "$FLOW_CM_PORT" --service-cluster-ip-range 10.96.0.0/12 --v=2
	_flow_wait 30 kube-controller-manager flow_healthy kube-controller-manager || return 1
	_flow_start kube-scheduler "$KUBEC_BUILD/bin/kube-scheduler" \
		--kubeconfig "$FLOW_DIR/scheduler.conf" --leader-elect=true --bind-address 127.0.0.1 \
		--secure-port "$FLOW_SCHED_PORT" --v=2
	_flow_wait 30 kube-scheduler flow_healthy kube-scheduler || return 1

	# The podCIDR is the CNI bridge's subnet: containerd's host-local IPAM hands out the
	# pod IPs, so the kubelet reports that range rather than one the node IPAM chose.
	cat >"$FLOW_DIR/kubelet-config.yaml" <<YAML
kind: KubeletConfiguration
apiVersion: kubelet.config.k8s.io/v1beta1
cgroupDriver: cgroupfs
containerRuntimeEndpoint: "$CTRD_ENDPOINT"
podCIDR: "$FLOW_POD_CIDR"
nodeStatusUpdateFrequency: 2s
port: $FLOW_KUBELET_PORT
healthzPort: $FLOW_KUBELET_HZ
authentication:
  anonymous:
    enabled: false
  x509:
    clientCAFile: "$P/ca.crt"
YAML
	_flow_start kubelet "$KUBEC_BUILD/bin/kubelet" --config "$FLOW_DIR/kubelet-config.yaml" \
		--kubeconfig "$FLOW_DIR/kubelet.conf" --hostname-override "$FLOW_NODE" --node-ip "$FLOW_NODE_IP" \
		--root-dir "$FLOW_DIR/kubelet" --pod-logs-dir "$FLOW_DIR/pod-logs" \
		--cgroup-root "$CTRD_CGROUP" --v 2
	_flow_wait 40 kubelet _flow_node_ready || return 1

	_flow_start kube-proxy "$KUBEC_BUILD/bin/kube-proxy" --kubeconfig "$FLOW_DIR/kube-proxy.conf" \
		--hostname-override "$FLOW_NODE" --cluster-cidr "$FLOW_POD_CIDR" \
		--healthz-bind-address "127.0.0.1:$FLOW_PROXY_HZ" \
		--metrics-bind-address "127.0.0.1:$FLOW_PROXY_METRICS" \
		--iptables-min-sync-period 100ms -v=2
	_flow_wait 30 kube-proxy flow_healthy kube-proxy || return 1
	return 0
}

# _flow_stop NAME: SIGTERM, wait up to 10 s, then SIGKILL
_flow_stop() {
	pf=$FLOW_DIR/$1.pid
	[ -f "$pf" ] || return 0
	pid=$(cat "$pf")
	if kill "$pid" 2>/dev/null; then
		i=0
		while kill -0 "$pid" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
		kill -9 "$pid" 2>/dev/null && echo "$1 (pid $pid) ignored SIGTERM: killed" >&2
		echo "stopped $1 (pid $pid)"
	fi
	rm -f "$pf" "$FLOW_DIR/$1.cmd"
}

flow_down() {
	FLOW_DIR=$1
	[ -f "$FLOW_DIR/cluster.env" ] || return 0
	. "$FLOW_DIR/cluster.env"
	# kubelet first: nothing must restart pods while containerd's tasks are killed below.
	_flow_stop kubelet
	_flow_stop kube-proxy
	"$KUBEC_BUILD/bin/kube-proxy" --cleanup >>"$FLOW_DIR/logs/kube-proxy-cleanup.log" 2>&1 ||
		echo "kube-proxy --cleanup failed; see $FLOW_DIR/logs/kube-proxy-cleanup.log" >&2
	_flow_stop kube-scheduler
	_flow_stop kube-controller-manager
	_flow_stop kube-apiserver
	_flow_stop kube-store
	CTRD_PID=""
	[ -f "$FLOW_DIR/containerd.pid" ] && CTRD_PID=$(cat "$FLOW_DIR/containerd.pid")
	# containerd.sh's clean-up: tasks, containerd, shims, mounts, bridge, veths, cgroups,
	# ip_forward; it removes CTRD_DIR (FLOW_DIR/containerd) itself.
	kc_ctrd_cleanup
	[ -n "$CTRD_PID" ] && echo "stopped containerd (pid $CTRD_PID)"
	rm -f "$FLOW_DIR/containerd.pid" "$FLOW_DIR/cluster.env"
	# The kubelet leaves its pods' volume mounts (projected service-account tokens are
	# tmpfs, as upstream's) when it stops; nothing may stay mounted under the cluster dir,
	# or `rm -rf` of it fails and the mounts leak.  Deepest first.
	awk -v d="$FLOW_DIR/" 'index($2, d) == 1 { print $2 }' /proc/self/mounts | sort -r |
		while read -r m; do
			umount "$m" 2>/dev/null || umount -l "$m"
		done
	# The netns bind mounts live under containerd's state dir (netns_mounts_under_state_dir),
	# removed above; the pod sandboxes' veths went with their netns.
	return 0
}

flow_dump_logs() {
	for l in "$1"/logs/*.log; do
		[ -f "$l" ] || continue
		echo "===== $l (last 40 lines)"
		tail -n 40 "$l"
	done
	[ -n "$CTRD_DIR" ] && [ -f "$CTRD_DIR/logs/containerd.log" ] &&
		{ echo "===== containerd.log (last 40 lines)"; tail -n 40 "$CTRD_DIR/logs/containerd.log"; }
	return 0
}

# ---------------------------------------------------------------------------------------
# The shared frame of the scenario tests (test/e2e/flow_*.sh): one cluster per test in a
# temp dir, torn down (pods, netns, bridge, iptables chains) whatever happens.
#
#   flow_scenario_init NAME      requirements; exit 77 beside another kube-proxy (its
#                                chains are global); offline images; cluster up in
#                                FLOW_T; KUBECONFIG exported; a trap tears it all down and
#                                dumps the logs unless flow_pass ran
#   flow_fail MSG / flow_pass    end the test
#   flow_wait_for SECS CMD...    until CMD succeeds (polls every 0.3 s), else non-zero
#   flow_ready_pods SELECTOR     names of the Running, Ready, not terminating pods
#   flow_ready_endpoints SVC     number of ready endpoints in SVC's EndpointSlices
#   flow_client_start URL LOG    a client loop in the background: one request to URL every
#                                ~50 ms, one line per request in LOG, "ok <body>" or
#                                "FAILED <curl exit>"; flow_client_stop ends it (the exit
#                                trap does too)
#   flow_client_lines LOG [RE]   number of lines of LOG (matching the grep RE)
#   flow_pod_log POD CONTAINER   the container's output (every attempt) from the kubelet's
#                                log files (there is no `kubectl logs` yet: no 10250 server)

flow_fail() {
	echo "FAIL: $*"
	exit 1
}

flow_pass() {
	echo "PASS $FLOW_NAME in $(($(date +%s) - FLOW_START))s"
	FLOW_FAILED=0
}

_flow_scenario_exit() {
	flow_client_stop
	if [ "$FLOW_FAILED" != 0 ] && [ -n "${FLOW_T:-}" ]; then
		echo "===== kubectl get pods,svc,endpointslices -o wide"
		kubectl get pods,svc,endpointslices -o wide 2>&1 | head -n 40
		echo "===== kubectl get events"
		kubectl get events 2>&1 | tail -n 30
		echo "===== iptables-save -t nat | grep KUBE (first 60)"
		iptables-save -t nat 2>/dev/null | grep KUBE | head -n 60
		flow_dump_logs "$FLOW_T"
	fi
	if [ -n "${FLOW_T:-}" ]; then
		flow_down "$FLOW_T" >/dev/null
		rm -rf "$FLOW_T"
	fi
}

flow_scenario_init() {
	FLOW_NAME=$1
	FLOW_FAILED=1
	FLOW_T=""
	flow_require
	if flow_proxy_running; then
		echo "SKIP: a kube-proxy already runs on this host (make up?); its iptables chains are global, run 'make down' first"
		exit 77
	fi
	sh "$KUBEC_ROOT/test/images/build.sh" "$KUBEC_BUILD/images" >/dev/null ||
		flow_fail "test/images/build.sh"
	FLOW_T=$(mktemp -d "/tmp/kubec-e2e-$FLOW_NAME.XXXXXX")
	trap _flow_scenario_exit EXIT
	trap 'exit 130' INT TERM
	FLOW_START=$(date +%s)
	flow_up "$FLOW_T" test || flow_fail "cluster did not start"
	. "$FLOW_T/cluster.env"
	export KUBECONFIG="$FLOW_T/admin.kubeconfig"
	echo "ok cluster up in $(($(date +%s) - FLOW_START))s (node $FLOW_NODE, IP $FLOW_NODE_IP, pods $FLOW_POD_CIDR)"
}

flow_wait_for() {
	_fw_end=$(($(date +%s) + $1))
	shift
	while [ "$(date +%s)" -lt "$_fw_end" ]; do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.3
	done
	return 1
}

flow_ready_pods() {
	kubectl get pods -l "$1" -o json | $FLOW_PY -c '
import json, sys
out = []
for p in json.load(sys.stdin)["items"]:
    st = p.get("status", {})
    conds = {c["type"]: c["status"] for c in st.get("conditions", [])}
    if p["metadata"].get("deletionTimestamp") or st.get("phase") != "Running" or conds.get("Ready") != "True":
        continue
    out.append(p["metadata"]["name"] + "\n")
try:
    sys.stdout.write("".join(out))
    sys.stdout.flush()
except BrokenPipeError:  # a reader such as `head -n 1` may stop early
    pass' 2>/dev/null
}

flow_ready_endpoints() {
	kubectl get endpointslices -l "kubernetes.io/service-name=$1" -o json | $FLOW_PY -c '
import json, sys
n = 0
for s in json.load(sys.stdin)["items"]:
    for e in s.get("endpoints") or []:
        if (e.get("conditions") or {}).get("ready", True):
            n += len(e.get("addresses", []))
print(n)'
}

flow_pod_log() {
	# <pod-logs-dir>/<ns>_<name>_<uid>/<container>/<attempt>.log, CRI format
	# "<time> <stream> <P|F> <text>"
	for f in "$FLOW_T"/pod-logs/default_"$1"_*/"$2"/*.log; do
		[ -f "$f" ] && cut -d' ' -f4- "$f"
	done
}

FLOW_CLIENT_PID=""
FLOW_CLIENT_STOP=""
flow_client_start() {
	flow_client_stop
	FLOW_CLIENT_STOP=$(mktemp -u "${FLOW_T:-/tmp}/client-stop.XXXXXX")
	(
		while [ ! -e "$FLOW_CLIENT_STOP" ]; do
			if r=$(curl -s --max-time 2 "$1"); then
				echo "ok $r"
			else
				echo "FAILED $?"
			fi
			sleep 0.05
		done
	) >>"$2" 2>&1 &
	FLOW_CLIENT_PID=$!
}

flow_client_stop() {
	[ -n "$FLOW_CLIENT_PID" ] || return 0
	: >"$FLOW_CLIENT_STOP"
	wait "$FLOW_CLIENT_PID" 2>/dev/null
	rm -f "$FLOW_CLIENT_STOP"
	FLOW_CLIENT_PID=""
}

flow_client_lines() {
	if [ $# -gt 1 ]; then
		grep -c -- "$2" "$1" 2>/dev/null
	else
		grep -c . "$1" 2>/dev/null
	fi
	return 0
}
