#!/bin/sh
# A static pod on real containerd (issue 8): kube-store + kube-apiserver + a private
# containerd + a kubelet with staticPodPath.  The manifest's busybox httpd runs without
# any API pod: its mirror pod appears (config.mirror, Running, a pod IP) and the pod
# serves over that IP from the host; removing the manifest stops it, deletes the mirror
# pod and leaves no container of it in containerd.
set -u
: "${KUBEC_BUILD:?}"
KUBEC_ROOT=${KUBEC_ROOT:-$(pwd)}
. "$KUBEC_ROOT/test/integration/lib/apiserver_env.sh"
. "$KUBEC_ROOT/test/integration/kubelet/containerd.sh"
. "$KUBEC_ROOT/test/integration/kubelet/kubelet_env.sh"
kl_require
kl_newdir
kl_start_control_plane
mkdir -p "$T/manifests"
cat >"$T/manifests/web.yaml" <<'YAML'
apiVersion: v1
kind: Pod
metadata:
  name: static-web
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: web
    image: busybox:1.35
    command: ["httpd", "-f", "-p", "8080", "-h", "/etc"]
YAML
kl_write_config <<YAML
staticPodPath: "$T/manifests"
fileCheckFrequency: 1s
YAML
kl_start_kubelet kubec-static

running() {
	[ "$(kubectl get pod "static-web-$NODE" -o jsonpath='{.status.phase}')" = Running ] &&
		[ -n "$(kubectl get pod "static-web-$NODE" -o jsonpath='{.status.podIP}')" ]
}
wait_for 60 running || fail "mirror pod static-web-$NODE not Running with a pod IP: $(kubectl get pod "static-web-$NODE" -o jsonpath='{.status}' 2>&1)"
HASH=$(kubectl get pod "static-web-$NODE" -o jsonpath='{.metadata.annotations.kubernetes\.io/config\.mirror}')
SRC=$(kubectl get pod "static-web-$NODE" -o jsonpath='{.metadata.annotations.kubernetes\.io/config\.source}')
[ -n "$HASH" ] && [ "$SRC" = file ] || fail "mirror annotations: mirror=$HASH source=$SRC"
IP=$(kubectl get pod "static-web-$NODE" -o jsonpath='{.status.podIP}')
serves() { curl -sf --max-time 5 "http://$IP:8080/passwd" | grep -q '^root:'; }
wait_for 20 serves || fail "curl http://$IP:8080/passwd"
NCTR=$(ctr -a "$CTRD_SOCK" -n k8s.io containers ls -q | wc -l)
[ "$NCTR" -ge 2 ] || fail "containerd holds $NCTR containers, want the pause and web"
echo "ok static pod static-web-$NODE runs on containerd (mirror pod Running, config.mirror=$HASH), serves on $IP:8080"
kubectl get pods -o wide

rm -f "$T/manifests/web.yaml"
gone() {
	! kubectl get pod "static-web-$NODE" >/dev/null 2>&1 &&
		[ "$(ctr -a "$CTRD_SOCK" -n k8s.io containers ls -q | wc -l)" = 0 ]
}
wait_for 60 gone || fail "manifest removed: mirror pod or containers left: $(ctr -a "$CTRD_SOCK" -n k8s.io containers ls -q | wc -l) containers"
! serves || fail "still serving after the manifest was removed"
echo "ok manifest removed: pod stopped, mirror pod deleted, no container left"
FAILED=0
echo "PASS kubelet_static_ctrd"
