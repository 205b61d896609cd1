# Sourced helper: a private containerd (Debian's, runc, CRI plugin) for kubelet tests.
# Everything lives under one temp dir; see /work/shared/docs/RUNTIME.md for the config.
#
#   . test/integration/kubelet/containerd.sh
#   kc_ctrd_require            # exit 77 with a reason if this machine cannot run it
#   kc_ctrd_start              # sets CTRD_DIR CTRD_SOCK CTRD_ENDPOINT CTRD_BRIDGE CTRD_SUBNET CTRD_CGROUP
#   kc_ctrd_import_images DIR  # busybox-oci.tar and pause-oci.tar from test/images/build.sh
#   kc_ctrd_restart            # SIGTERM containerd, start it again on the same state
#   kc_ctrd_cleanup            # call from the EXIT trap: kills and unmounts everything
#   kc_ctrd_dump_logs
#   kc_registry_start PORT     # docker-registry on 127.0.0.1:PORT, data under CTRD_DIR (after kc_ctrd_start)
#   kc_registry_push ARCHIVE:TAG REPO:TAG   # skopeo copy of an OCI archive into it
#   kc_ctrd_mirror HOST        # make containerd pull HOST/* (e.g. docker.io) from the local registry
#                              # (kc_ctrd_cleanup stops the registry too)
#
# Clean-up contract: after kc_ctrd_cleanup no containerd, shim or container process, no
# mount under the temp dir, no netns, no CNI bridge/veth and no cgroup made by the test
# remain, and net.ipv4.ip_forward is back to its old value.

CTRD_DIR=""
CTRD_PID=""
CTRD_SOCK=""
CTRD_ENDPOINT=""
CTRD_BRIDGE=""
CTRD_SUBNET=""
CTRD_CGROUP=""
CTRD_OLD_FORWARD=""
REG_PID=""
REG_ADDR=""

kc_ctrd_require() {
	for b in containerd containerd-shim-runc-v2 ctr runc ip; do
		command -v "$b" >/dev/null 2>&1 || { echo "SKIP: $b missing (apt-get install containerd runc iproute2)"; exit 77; }
	done
	[ -x /usr/lib/cni/bridge ] && [ -x /usr/lib/cni/host-local ] && [ -x /usr/lib/cni/loopback ] ||
		{ echo "SKIP: CNI plugins missing (apt-get install containernetworking-plugins)"; exit 77; }
	[ "$(id -u)" = 0 ] || { echo "SKIP: containerd needs root"; exit 77; }
	grep -qw overlay /proc/filesystems || { echo "SKIP: no overlay filesystem"; exit 77; }
}

_kc_rand_byte() {
	od -An -N1 -tu1 /dev/urandom | tr -d ' '
}

# A /24 in 10.251.0.0/16 that no route on this host uses yet.
_kc_pick_subnet() {
	i=0
	while [ $i -lt 50 ]; do
		n=$(_kc_rand_byte)
		if ! ip -4 route show | grep -q "^10\.251\.$n\."; then
			echo "10.251.$n"
			return 0
		fi
		i=$((i + 1))
	done
	return 1
}

kc_ctrd_write_config() {
	d=$CTRD_DIR
	mkdir -p "$d/root" "$d/state" "$d/opt" "$d/certs.d" "$d/cni/net.d" "$d/cni/ipam" "$d/logs"
	cat >"$d/config.toml" <<TOML
version = 2
root  = "$d/root"
state = "$d/state"
[grpc]
  address = "$CTRD_SOCK"
[ttrpc]
  address = ""
[debug]
  level = "info"
[plugins]
  [plugins."io.containerd.internal.v1.opt"]
    path = "$d/opt"
  [plugins."io.containerd.grpc.v1.cri"]
    sandbox_image = "registry.k8s.io/pause:3.6"
    netns_mounts_under_state_dir = true
    # no CAP_SYS_RESOURCE on these VMs: the pause container's oom_score_adj -998 is refused
    restrict_oom_score_adj = true
    stream_server_address = "127.0.0.1"
    stream_server_port = "0"
    [plugins."io.containerd.grpc.v1.cri".cni]
      bin_dir  = "/usr/lib/cni"
      conf_dir = "$d/cni/net.d"
      max_conf_num = 1
    [plugins."io.containerd.grpc.v1.cri".containerd]
      snapshotter = "overlayfs"
      default_runtime_name = "runc"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
        runtime_type = "io.containerd.runc.v2"
        [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
          SystemdCgroup = false
    [plugins."io.containerd.grpc.v1.cri".registry]
      config_path = "$d/certs.d"
TOML
	# bridge + host-local only (no portmap, no ipMasq): nothing to undo in iptables.
	cat >"$d/cni/net.d/10-kubec.conflist" <<JSON
{"cniVersion":"1.0.0","name":"kubec-test-$CTRD_BRIDGE","plugins":[
 {"type":"bridge","bridge":"$CTRD_BRIDGE","isGateway":true,"ipMasq":false,"hairpinMode":true,
  "ipam":{"type":"host-local","dataDir":"$d/cni/ipam",
          "ranges":[[{"subnet":"$CTRD_SUBNET.0/24","gateway":"$CTRD_SUBNET.1"}]],
          "routes":[{"dst":"0.0.0.0/0"}]}}]}
JSON
}

_kc_ctrd_launch() {
	containerd --config "$CTRD_DIR/config.toml" >>"$CTRD_DIR/logs/containerd.log" 2>&1 &
	CTRD_PID=$!
	deadline=$(($(date +%s) + 30))
	while :; do
		if ctr -a "$CTRD_SOCK" version >/dev/null 2>&1; then
			return 0
		fi
		if ! kill -0 "$CTRD_PID" 2>/dev/null; then
			echo "FAIL: containerd exited during start-up"
			return 1
		fi
		if [ "$(date +%s)" -ge "$deadline" ]; then
			echo "FAIL: containerd not ready after 30 s"
			return 1
		fi
		sleep 0.1
	done
}

kc_ctrd_start() {
	CTRD_DIR=$(mktemp -d /tmp/kubec-ctrd.XXXXXX)
	CTRD_SOCK="$CTRD_DIR/containerd.sock"
	CTRD_ENDPOINT="unix://$CTRD_SOCK"
	CTRD_BRIDGE="kcbr$(printf '%02x%02x%02x' "$(_kc_rand_byte)" "$(_kc_rand_byte)" "$(_kc_rand_byte)")"
	CTRD_SUBNET=$(_kc_pick_subnet) || { echo "FAIL: no free 10.251.x.0/24"; return 1; }
	CTRD_CGROUP="/kubec-test-$(basename "$CTRD_DIR")"
	CTRD_OLD_FORWARD=$(cat /proc/sys/net/ipv4/ip_forward)
	kc_ctrd_write_config
	_kc_ctrd_launch
}

# Works from another shell too (set CTRD_DIR, CTRD_SOCK and CTRD_PID first): it polls
# rather than `wait`s, since containerd may not be this shell's child.
kc_ctrd_restart() {
	if [ -n "$CTRD_PID" ]; then
		kill "$CTRD_PID" 2>/dev/null
		i=0
		while kill -0 "$CTRD_PID" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
		kill -0 "$CTRD_PID" 2>/dev/null && { echo "FAIL: containerd ignored SIGTERM"; return 1; }
	fi
	CTRD_PID=""
	_kc_ctrd_launch
}

kc_ctrd_import_images() {
	ctr -a "$CTRD_SOCK" -n k8s.io images import --base-name registry.k8s.io/pause "$1/pause-oci.tar" >/dev/null &&
		ctr -a "$CTRD_SOCK" -n k8s.io images import --base-name docker.io/library/busybox "$1/busybox-oci.tar" >/dev/null
}

kc_ctrd_dump_logs() {
	[ -n "$CTRD_DIR" ] || return 0
	echo "---- containerd log (last 80 lines)"
	tail -n 80 "$CTRD_DIR/logs/containerd.log" 2>/dev/null
	if [ -f "$CTRD_DIR/logs/registry.log" ]; then
		echo "---- registry log (last 20 lines)"
		tail -n 20 "$CTRD_DIR/logs/registry.log"
	fi
}

# A local docker-registry (distribution 2.8, RUNTIME.md section 5) on 127.0.0.1:$1.
kc_registry_start() {
	command -v docker-registry >/dev/null 2>&1 || { echo "SKIP: docker-registry missing"; exit 77; }
	REG_ADDR="127.0.0.1:$1"
	mkdir -p "$CTRD_DIR/registry"
	cat >"$CTRD_DIR/registry/config.yml" <<YML
version: 0.1
log:
  level: info
storage:
  filesystem:
    rootdirectory: $CTRD_DIR/registry/data
http:
  addr: $REG_ADDR
YML
	docker-registry serve "$CTRD_DIR/registry/config.yml" >"$CTRD_DIR/logs/registry.log" 2>&1 &
	REG_PID=$!
	deadline=$(($(date +%s) + 20))
	until curl -fs -m 2 "http://$REG_ADDR/v2/" >/dev/null 2>&1; do
		kill -0 "$REG_PID" 2>/dev/null || { echo "FAIL: docker-registry exited"; return 1; }
		[ "$(date +%s)" -lt "$deadline" ] || { echo "FAIL: docker-registry not ready after 20 s"; return 1; }
		sleep 0.1
	done
}

# kc_registry_push oci-archive-path:tag repo:tag
kc_registry_push() {
	command -v skopeo >/dev/null 2>&1 || { echo "SKIP: skopeo missing"; exit 77; }
	skopeo copy -q --dest-tls-verify=false "oci-archive:$1" "docker://$REG_ADDR/$2"
}

# Pull HOST/... from the local registry (certs.d/<host>/hosts.toml, reread on every pull).
kc_ctrd_mirror() {
	mkdir -p "$CTRD_DIR/certs.d/$1"
	cat >"$CTRD_DIR/certs.d/$1/hosts.toml" <<TOML
server = "https://$1"
[host."http://$REG_ADDR"]
  capabilities = ["pull", "resolve"]
  skip_verify = true
TOML
}

# pids of processes whose command line mentions our temp dir (shims, containerd).
_kc_ctrd_our_pids() {
	for p in /proc/[0-9]*; do
		if tr '\0' ' ' 2>/dev/null <"$p/cmdline" | grep -q -- "$CTRD_DIR"; then
			echo "${p#/proc/}"
		fi
	done
}

# Remove our cgroup subtree (deepest first) in every v1 hierarchy and in cgroup2.
_kc_ctrd_rm_cgroups() {
	[ -n "$CTRD_CGROUP" ] || return 0
	for h in /sys/fs/cgroup/* /sys/fs/cgroup; do
		[ -d "$h$CTRD_CGROUP" ] || continue
		find "$h$CTRD_CGROUP" -depth -type d -exec rmdir {} \; 2>/dev/null
	done
}

kc_ctrd_cleanup() {
	if [ -n "$REG_PID" ]; then
		kill "$REG_PID" 2>/dev/null
		wait "$REG_PID" 2>/dev/null
		REG_PID=""
	fi
	[ -n "$CTRD_DIR" ] || return 0
	if [ -n "$CTRD_PID" ] && kill -0 "$CTRD_PID" 2>/dev/null; then
		# kill every task (sandboxes and containers) while containerd still runs
		for t in $(ctr -a "$CTRD_SOCK" -n k8s.io tasks ls -q 2>/dev/null); do
			ctr -a "$CTRD_SOCK" -n k8s.io tasks kill -s SIGKILL "$t" >/dev/null 2>&1
		done
		for t in $(ctr -a "$CTRD_SOCK" -n k8s.io tasks ls -q 2>/dev/null); do
			ctr -a "$CTRD_SOCK" -n k8s.io tasks delete -f "$t" >/dev/null 2>&1
		done
		for c in $(ctr -a "$CTRD_SOCK" -n k8s.io containers ls -q 2>/dev/null); do
			ctr -a "$CTRD_SOCK" -n k8s.io containers delete "$c" >/dev/null 2>&1
		done
		kill "$CTRD_PID" 2>/dev/null
		i=0
		while kill -0 "$CTRD_PID" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
		kill -9 "$CTRD_PID" 2>/dev/null
		wait "$CTRD_PID" 2>/dev/null
	fi
	# shims (their cmdline carries our socket path) and anything else of ours
	for p in $(_kc_ctrd_our_pids); do
		[ "$p" = "$$" ] || kill -9 "$p" 2>/dev/null
	done
	# container processes left in our cgroups (only if a shim died uncleanly)
	if [ -n "$CTRD_CGROUP" ]; then
		for f in $(find /sys/fs/cgroup/*"$CTRD_CGROUP" -name cgroup.procs 2>/dev/null); do
			for p in $(cat "$f" 2>/dev/null); do kill -9 "$p" 2>/dev/null; done
		done
	fi
	sleep 0.2
	# every mount under the temp dir: rootfs overlays, shm, netns bind mounts (deepest first)
	awk -v d="$CTRD_DIR" 'index($2, d) == 1 { print $2 }' /proc/self/mounts | sort -r | while read -r m; do
		umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null
	done
	ip link del "$CTRD_BRIDGE" 2>/dev/null
	# veths whose netns vanished disappear with it; any left attached to our bridge:
	for v in $(ip -o link show master "$CTRD_BRIDGE" 2>/dev/null | awk -F': ' '{print $2}' | cut -d@ -f1); do
		ip link del "$v" 2>/dev/null
	done
	_kc_ctrd_rm_cgroups
	[ -n "$CTRD_OLD_FORWARD" ] && echo "$CTRD_OLD_FORWARD" >/proc/sys/net/ipv4/ip_forward 2>/dev/null
	# containerd 1.6 hard-codes these; remove them only when empty (others may use them)
	for x in /run/containerd/s /run/containerd/fifo /run/containerd/runc/k8s.io /run/containerd/runc \
		/run/containerd/io.containerd.runtime.v2.task/k8s.io /run/containerd/io.containerd.runtime.v2.task \
		/run/containerd; do
		rmdir "$x" 2>/dev/null
	done
	rm -rf "$CTRD_DIR"
	CTRD_DIR=""
}
