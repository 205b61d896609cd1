# Sourced helper for kubelet integration tests that run kube-store + kube-apiserver + a
# private containerd + one kubelet (after lib/apiserver_env.sh and kubelet/containerd.sh):
#
#   kl_require                 # skip (77) without containerd/kubectl/openssl/curl/umoci; fail without binaries
#   kl_newdir                  # T (a fresh temp dir) and the EXIT trap
#   kl_start_control_plane [apiserver flags...]   # certs, store, apiserver, KUBECONFIG, containerd, images
#   kl_write_config            # $T/kubelet-config.yaml on free ports (extra YAML lines from stdin)
#   kl_start_kubelet PREFIX    # NODE=PREFIX-<random>, ROOT=$T/kubelet-root; waits for the Node
#   fail MSG / wait_for SECONDS CMD...   (wait_for also fails when the kubelet died)
#
# The EXIT trap kills the kubelet, dumps every log when FAILED != 0, stops containerd,
# unmounts anything left under $T and removes it.  A test sets FAILED=0 at its end.

KPID=""
FAILED=1
NODE=""
ROOT=""

kl_require() {
	kc_ctrd_require
	for b in kubectl openssl curl umoci; do
		command -v "$b" >/dev/null 2>&1 || { echo "SKIP: $b missing"; exit 77; }
	done
	for b in kube-store kube-apiserver kubelet; do
		[ -x "$KUBEC_BUILD/bin/$b" ] || { echo "FAIL: $KUBEC_BUILD/bin/$b not built"; exit 1; }
	done
}

_kl_umount_ours() {
	[ -n "${T:-}" ] || return 0
	awk -v d="$T/" 'index($2, d) == 1 { print $2 }' /proc/self/mounts | sort -r | while read -r m; do
		umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null
	done
}

_kl_on_exit() {
	if [ -n "$KPID" ]; then kill "$KPID" 2>/dev/null; wait "$KPID" 2>/dev/null; fi
	if [ "$FAILED" != 0 ]; then
		kc_dump_logs
		echo "===== kubelet log"; tail -n 100 "$T/kubelet.log" 2>/dev/null
		kubectl get pods -o wide 2>/dev/null
		kc_ctrd_dump_logs
	fi
	kc_ctrd_cleanup
	_kl_umount_ours
	kc_cleanup
}

fail() { echo "FAIL: $*"; exit 1; }

# wait_for SECONDS CMD...: until CMD succeeds (the kubelet must stay alive)
wait_for() {
	end=$(($(date +%s) + $1)); shift
	while [ "$(date +%s)" -lt "$end" ]; do
		"$@" >/dev/null 2>&1 && return 0
		kill -0 "$KPID" 2>/dev/null || { echo "kubelet died"; return 1; }
		sleep 0.3
	done
	return 1
}

kl_newdir() {
	kc_newdir
	trap _kl_on_exit EXIT
	trap 'exit 130' INT TERM
}

kl_start_control_plane() {
	[ -n "${T:-}" ] || fail "kl_newdir first"
	sh "$KUBEC_ROOT/test/images/build.sh" "$KUBEC_BUILD/images" >/dev/null || fail "image build"
	gen_certs "$T" || fail "certificates"
	start_kube_store "$T" || fail "kube-store did not start"
	start_apiserver "$T" "$ETCD_URL" "$@" || fail "kube-apiserver did not become ready"
	write_kubeconfig "$T" "$API"
	export KUBECONFIG="$T/kubeconfig"
	kc_ctrd_start || fail "containerd"
	kc_ctrd_import_images "$KUBEC_BUILD/images" || fail "ctr images import"
}

# KPORT / HPORT: the server and healthz ports (free, so tests never share 10250)
kl_write_config() {
	KPORT=$(free_port)
	HPORT=$(free_port)
	{
		cat <<YAML
kind: KubeletConfiguration
apiVersion: kubelet.config.k8s.io/v1beta1
cgroupDriver: cgroupfs
containerRuntimeEndpoint: "$CTRD_ENDPOINT"
nodeStatusUpdateFrequency: 2s
port: $KPORT
healthzPort: $HPORT
YAML
		cat
	} >"$T/kubelet-config.yaml"
}

kl_start_kubelet() {
	NODE="$1-$(od -An -N3 -tx1 /dev/urandom | tr -d ' ')"
	ROOT="$T/kubelet-root"
	"$KUBEC_BUILD/bin/kubelet" --config "$T/kubelet-config.yaml" --kubeconfig "$T/kubeconfig" \
		--hostname-override "$NODE" --node-ip 127.0.0.1 --root-dir "$ROOT" \
		--pod-logs-dir "$T/pod-logs" --cgroup-root "$CTRD_CGROUP" --v 3 >>"$T/kubelet.log" 2>&1 &
	KPID=$!
	wait_for 30 kubectl get node "$NODE" || fail "node $NODE never registered"
}
