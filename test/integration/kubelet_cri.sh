#!/bin/sh
# The kubelet's CRI client against a real containerd (RUNTIME.md): private containerd in
# a temp dir, test images built offline and imported, a local docker-registry for a real
# PullImage, then test/integration/kubelet/cri_smoke.c drives one pod end to end through
# kubelet/cri_client.c: Version, Status, images, RunPodSandbox with CNI (pod IP), httpd
# container reachable from the host, ExecSync, deadlines, 400 concurrent calls on one
# connection, NotFound, reconnect across a containerd restart, stop/remove.  Afterwards
# it checks that nothing is left: processes, mounts, links, cgroups.
set -u
: "${KUBEC_BUILD:?}"
KUBEC_ROOT=${KUBEC_ROOT:-$(pwd)}
PY=/usr/bin/python3
HELPER="$KUBEC_ROOT/test/integration/kubelet/containerd.sh"
. "$HELPER"
kc_ctrd_require
for b in umoci skopeo docker-registry curl cc pkg-config; do
	command -v "$b" >/dev/null 2>&1 || { echo "SKIP: $b missing"; exit 77; }
done
[ -x "$PY" ] || { echo "SKIP: $PY missing"; exit 77; }
for f in "$KUBEC_BUILD/lib/libkubelet.a" "$KUBEC_BUILD/lib/libkubec.a" "$KUBEC_BUILD/bin/kubelet"; do
	[ -f "$f" ] || { echo "FAIL: $f not built"; exit 1; }
done

T=$(mktemp -d /tmp/kubec-kubelet-cri.XXXXXX)
FAILED=1
cleanup() {
	if [ "$FAILED" != 0 ]; then
		kc_ctrd_dump_logs
	fi
	if [ -f "$T/ctrd.pid" ]; then CTRD_PID=$(cat "$T/ctrd.pid"); fi
	kc_ctrd_cleanup
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
	$PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# 1. images (idempotent, ~1 s the first time)
sh "$KUBEC_ROOT/test/images/build.sh" "$KUBEC_BUILD/images" || { echo "FAIL: image build"; exit 1; }

# 2. the smoke driver, linked against the kubelet's library
cc -std=gnu11 -D_GNU_SOURCE -O1 -Wall -Wextra -Wno-unused-parameter -Werror \
	-I"$KUBEC_ROOT/common" -I"$KUBEC_ROOT/kubelet" -I"$KUBEC_BUILD/gen" \
	-o "$T/cri_smoke" "$KUBEC_ROOT/test/integration/kubelet/cri_smoke.c" \
	"$KUBEC_BUILD/lib/libkubelet.a" "$KUBEC_BUILD/lib/libkubec.a" \
	$(pkg-config --libs libnghttp2 libprotobuf-c libcurl libcjson openssl yaml-0.1 libmicrohttpd) -pthread -lm ||
	{ echo "FAIL: cannot build cri_smoke"; exit 1; }

# 3. containerd + images
kc_ctrd_start || exit 1
echo "$CTRD_PID" >"$T/ctrd.pid"
echo "containerd on $CTRD_SOCK, bridge $CTRD_BRIDGE, subnet $CTRD_SUBNET.0/24"
kc_ctrd_import_images "$KUBEC_BUILD/images" || { echo "FAIL: ctr images import"; exit 1; }

# 4. local registry with a copy of busybox under new names, for real pulls: one by its
#    localhost address, one as docker.io/... through a containerd mirror (offline)
kc_registry_start "$(free_port)" || exit 1
kc_registry_push "$KUBEC_BUILD/images/busybox-oci.tar:1.35" kubec/smoke:1.35 || { echo "FAIL: skopeo push"; exit 1; }
kc_ctrd_mirror docker.io
RPORT=${REG_ADDR#*:}

# 5. the kubelet binary itself reaches the runtime: without --kubeconfig it runs in
# standalone mode (static pods only) until stopped
mkdir -p "$T/manifests"
cat >"$T/standalone.yaml" <<YAML
kind: KubeletConfiguration
apiVersion: kubelet.config.k8s.io/v1beta1
port: $(free_port)
healthzPort: $(free_port)
staticPodPath: $T/manifests
cgroupDriver: cgroupfs
YAML
"$KUBEC_BUILD/bin/kubelet" --config "$T/standalone.yaml" --container-runtime-endpoint "$CTRD_ENDPOINT" \
	--root-dir "$T/kroot" --pod-logs-dir "$T/klogs" >"$T/kubelet.log" 2>&1 &
KPID=$!
end=$(($(date +%s) + 30))
until grep -q 'Container runtime initialized" containerRuntime="containerd"' "$T/kubelet.log" &&
	grep -q 'Standalone mode' "$T/kubelet.log"; do
	if [ "$(date +%s)" -ge "$end" ] || ! kill -0 "$KPID" 2>/dev/null; then
		kill "$KPID" 2>/dev/null
		echo "FAIL: kubelet start-up:"; cat "$T/kubelet.log"; exit 1
	fi
	sleep 0.2
done
kill -TERM "$KPID"
wait "$KPID"
krc=$?
[ "$krc" = 0 ] || { echo "FAIL: standalone kubelet exit $krc on SIGTERM:"; tail -5 "$T/kubelet.log"; exit 1; }
"$KUBEC_BUILD/bin/kubelet" --container-runtime-endpoint "unix://$T/nope.sock" >"$T/kubelet2.log" 2>&1
if ! grep -q 'code = Unavailable' "$T/kubelet2.log"; then
	echo "FAIL: kubelet against a missing socket:"; cat "$T/kubelet2.log"; exit 1
fi

# 6. the smoke run, with a containerd restart in the middle
cat >"$T/restart.sh" <<SH
. "$HELPER"
CTRD_DIR="$CTRD_DIR"; CTRD_SOCK="$CTRD_SOCK"; CTRD_PID=\$(cat "$T/ctrd.pid")
kc_ctrd_restart || exit 1
echo "\$CTRD_PID" >"$T/ctrd.pid"
SH
mkdir -p "$T/podlogs"
CRI_SMOKE_RESTART="sh $T/restart.sh" "$T/cri_smoke" "$CTRD_ENDPOINT" "$T/podlogs" \
	"$CTRD_CGROUP/pod6a1c3f1e" "localhost:$RPORT/kubec/smoke:1.35" "docker.io/kubec/smoke:1.35"
src=$?
CTRD_PID=$(cat "$T/ctrd.pid")
[ "$src" = 0 ] || { echo "FAIL: cri_smoke exit $src"; exit 1; }
grep -qF '/v2/kubec/smoke/manifests/1.35?ns=docker.io' "$CTRD_DIR/logs/registry.log" ||
	{ echo "FAIL: the docker.io pull did not go through the local mirror"; exit 1; }
[ -s "$T/podlogs/web/0.log" ] && grep -q 'response:200' "$T/podlogs/web/0.log" ||
	{ echo "FAIL: container log (CRI format) missing the httpd access line"; cat "$T/podlogs/web/0.log" 2>/dev/null; exit 1; }

# 7. clean-up leaves nothing behind
dir=$CTRD_DIR br=$CTRD_BRIDGE cg=$CTRD_CGROUP
rm -f "$T/ctrd.pid"
kc_ctrd_cleanup
left=""
grep -q "$dir" /proc/self/mounts && left="$left mounts"
ip link show "$br" >/dev/null 2>&1 && left="$left bridge"
ip -o link show type veth 2>/dev/null | grep -q "master $br" && left="$left veth"
for p in /proc/[0-9]*; do
	tr '\0' ' ' 2>/dev/null <"$p/cmdline" | grep -q -- "$dir" && left="$left pid:${p#/proc/}"
done
for h in /sys/fs/cgroup/*; do [ -d "$h$cg" ] && left="$left cgroup:$h$cg"; done
[ -e "$dir" ] && left="$left tempdir"
if [ -n "$left" ]; then
	echo "FAIL: left behind:$left"
	exit 1
fi
echo "clean-up verified: no processes, mounts, links or cgroups left"
FAILED=0
echo "PASS kubelet_cri"
exit 0
