#!/bin/sh
# The kubelet's server against a real containerd: kube-store + kube-apiserver (with
# --kubelet-client-certificate/key) + a private containerd + the kubelet on free ports.
# /healthz on the plain healthz port and on HTTPS; client-certificate authentication
# (no certificate or one from another CA -> 401); /pods as a PodList;
# /containerLogs with tailLines, timestamps, limitBytes, sinceTime, sinceSeconds, follow
# (chunked, new lines arrive while streaming), previous (the dead instance's log), and
# upstream's errors; /exec answers 501; daemonEndpoints carries the port; and
# `kubectl logs` through the apiserver's pods/log proxy.  Real kubectl, real curl.
set -u
: "${KUBEC_BUILD:?}"
KUBEC_ROOT=${KUBEC_ROOT:-$(pwd)}
. "$KUBEC_ROOT/test/integration/lib/apiserver_env.sh"
. "$KUBEC_ROOT/test/integration/kubelet/containerd.sh"
. "$KUBEC_ROOT/test/integration/kubelet/kubelet_env.sh"
kl_require
kl_newdir
# the apiserver's kubelet client certificate is the admin one gen_certs writes
kl_start_control_plane --kubelet-client-certificate "$T/admin.crt" --kubelet-client-key "$T/admin.key" \
	--kubelet-preferred-address-types InternalIP
kl_write_config <<YAML
authentication:
  anonymous: {enabled: false}
  x509: {clientCAFile: "$T/ca.crt"}
authorization: {mode: Webhook}
YAML
kl_start_kubelet kubec-logs

K="https://127.0.0.1:$KPORT"
CURL="curl -s --max-time 10 -k --cert $T/admin.crt --key $T/admin.key"
# healthz: plain on the healthz port, and on the HTTPS port without credentials
[ "$(curl -s --max-time 5 "http://127.0.0.1:$HPORT/healthz")" = ok ] || fail "healthz port"
[ "$(curl -s -k --max-time 5 "$K/healthz")" = ok ] || fail "https healthz"
[ "$(kubectl get node "$NODE" -o jsonpath='{.status.daemonEndpoints.kubeletEndpoint.Port}')" = "$KPORT" ] || fail "daemonEndpoints port"
[ -s "$T/kubelet-root/pki/kubelet.crt" ] || fail "no generated serving certificate"
openssl x509 -in "$T/kubelet-root/pki/kubelet.crt" -noout -text | grep -q "DNS:$NODE, IP Address:127.0.0.1" ||
	fail "serving certificate SANs: $(openssl x509 -in "$T/kubelet-root/pki/kubelet.crt" -noout -text | grep -A1 'Alternative')"
# authentication
[ "$(curl -s -k -o /dev/null -w '%{http_code}' --max-time 5 "$K/pods")" = 401 ] || fail "anonymous /pods not 401"
MC=$(curl -s -k -o "$T/mallory.out" -w '%{http_code}' --max-time 5 --cert "$T/mallory.crt" --key "$T/mallory.key" "$K/pods")
# refused in the handshake (000, as upstream's VerifyClientCertIfGiven) or with 401
[ "$MC" = 401 ] || [ "$MC" = 000 ] || fail "a certificate from another CA was accepted: $MC $(head -c 300 "$T/mallory.out")"
echo "ok healthz, daemonEndpoints, generated certificate, client-certificate authentication"

cat >"$T/pods.yaml" <<YAML
apiVersion: v1
kind: Pod
metadata: {name: logger}
spec:
  nodeName: $NODE
  terminationGracePeriodSeconds: 1
  containers:
  - name: c
    image: busybox:1.35
    command: ["sh", "-c", "for i in 1 2 3 4 5; do echo line\$i; done; echo oops >&2; i=0; while true; do i=\$((i+1)); echo tick\$i; sleep 0.5; done"]
---
apiVersion: v1
kind: Pod
metadata: {name: crasher}
spec:
  nodeName: $NODE
  terminationGracePeriodSeconds: 1
  containers:
  - {name: c, image: busybox:1.35, command: ["sh", "-c", "echo run-\$(cat /proc/sys/kernel/random/uuid); exit 1"]}
YAML
kubectl create -f "$T/pods.yaml" >/dev/null || fail "create pods"
running() { [ "$(kubectl get pod logger -o jsonpath='{.status.phase}')" = Running ]; }
wait_for 60 running || fail "logger not Running"
has_ticks() { $CURL "$K/containerLogs/default/logger/c" | grep -q '^tick6$'; }
wait_for 20 has_ticks || fail "no ticks in the log: $($CURL "$K/containerLogs/default/logger/c")"

$CURL "$K/pods" >"$T/pods.json" || fail "GET /pods"
$PY - "$T/pods.json" <<'PYEOF' || fail "/pods"
import json, sys
l = json.load(open(sys.argv[1]))
assert l["kind"] == "PodList" and l["apiVersion"] == "v1", l.get("kind")
names = sorted(p["metadata"]["name"] for p in l["items"])
assert names == ["crasher", "logger"], names
lg = [p for p in l["items"] if p["metadata"]["name"] == "logger"][0]
assert lg["status"]["phase"] == "Running", lg["status"]
PYEOF
echo "ok /pods"

$CURL "$K/containerLogs/default/logger/c" >"$T/all.txt"
# stdout and stderr both (their relative order is the runtime's)
grep -vx oops "$T/all.txt" | head -n 5 | tr '\n' ' ' | grep -q '^line1 line2 line3 line4 line5 $' || fail "full log: $(head -n 7 "$T/all.txt")"
grep -qx oops "$T/all.txt" || fail "no stderr line in the log"
[ "$($CURL "$K/containerLogs/default/logger/c?tailLines=2" | wc -l)" = 2 ] || fail "tailLines=2"
$CURL "$K/containerLogs/default/logger/c?tailLines=2" | grep -qv '^tick' && fail "tail is not the end"
[ "$($CURL "$K/containerLogs/default/logger/c?tail=1" | wc -l)" = 1 ] || fail "legacy tail=1"
$CURL "$K/containerLogs/default/logger/c?limitBytes=9" >"$T/lim.txt"
[ "$(wc -c <"$T/lim.txt")" = 9 ] && head -c 9 "$T/all.txt" | cmp -s - "$T/lim.txt" || fail "limitBytes=9: $(cat "$T/lim.txt")"
$CURL "$K/containerLogs/default/logger/c?timestamps=true&tailLines=3" >"$T/ts.txt"
[ "$(grep -cE '^20[0-9]{2}-[0-9]{2}-[0-9]{2}T[0-9:]{8}\.[0-9]+(Z|[+-][0-9:]{5}) tick[0-9]+$' "$T/ts.txt")" = 3 ] ||
	fail "timestamps: $(cat "$T/ts.txt")"
[ -z "$($CURL "$K/containerLogs/default/logger/c?sinceTime=2999-01-01T00:00:00Z")" ] || fail "sinceTime in the future"
$CURL "$K/containerLogs/default/logger/c?sinceSeconds=3600" | grep -q '^line1$' || fail "sinceSeconds=3600"
# sinceTime: only lines stamped at or after the third timestamped line
T3=$(sed -n 2p "$T/ts.txt" | cut -d' ' -f1)
N3=$($CURL "$K/containerLogs/default/logger/c?sinceTime=$T3" | grep -c .)
[ "$N3" -ge 2 ] && [ "$N3" -lt "$(grep -c . "$T/all.txt")" ] || fail "sinceTime=$T3 gave $N3 lines"
echo "ok containerLogs tailLines, tail, limitBytes, timestamps, sinceTime, sinceSeconds"

# follow: a streaming response that carries lines written after it started
LAST=$($CURL "$K/containerLogs/default/logger/c?tailLines=1" | sed 's/tick//')
curl -s -N -k --max-time 4 --cert "$T/admin.crt" --key "$T/admin.key" -D "$T/follow.hdr" \
	"$K/containerLogs/default/logger/c?follow=true&tailLines=1" >"$T/follow.txt"
grep -qi '^transfer-encoding: chunked' "$T/follow.hdr" || fail "follow not chunked: $(cat "$T/follow.hdr")"
MAXF=$(sed 's/tick//' "$T/follow.txt" | sort -n | tail -n 1)
[ "$(grep -c . "$T/follow.txt")" -ge 4 ] && [ "$MAXF" -gt $((LAST + 2)) ] ||
	fail "follow: $(tr '\n' ' ' <"$T/follow.txt") (last before: $LAST)"
echo "ok follow streams new lines (tick$LAST -> tick$MAXF)"

# previous: the dead instance's log; upstream's errors
restarted() { [ "$(kubectl get pod crasher -o jsonpath='{.status.containerStatuses[0].restartCount}')" -ge 2 ]; }
wait_for 60 restarted || fail "crasher did not restart twice"
P1=$($CURL "$K/containerLogs/default/crasher/c?previous=true")
echo "$P1" | grep -q '^run-' || fail "previous: $P1"
C1=$($CURL "$K/containerLogs/default/crasher/c")
echo "$C1" | grep -q '^run-' || fail "current (last terminated): $C1"
# the previous instance's line is another run's (a new uuid per instance)
CS=$(kubectl get pod crasher -o jsonpath='{.status.containerStatuses[0].state.running}')
[ -n "$CS" ] || [ "$P1" != "$C1" ] || [ "$(ls "$T/pod-logs/"default_crasher_*/c | wc -l)" -ge 2 ] || fail "previous == current: $P1"
err_is() {
	code=$($CURL -o "$T/err.txt" -w '%{http_code}' "$K/containerLogs/$1")
	[ "$code" = "$2" ] && [ "$(cat "$T/err.txt")" = "$3" ] || fail "$1: $code $(cat "$T/err.txt"), want $2 $3"
}
err_is "default/logger/c?previous=true" 400 'previous terminated container "c" in pod "logger" not found'
err_is "default/nope/c" 404 'pod "nope" does not exist'
err_is "default/logger/x" 404 'container "x" not found in pod "logger"'
err_is "default/logger/c?tailLines=x" 400 '{"message": "Unable to decode query."}'
err_is "default/logger/c?tailLines=-1" 422 '{"message": "Invalid request."}'
err_is "default/logger/c?sinceSeconds=1&sinceTime=2020-01-01T00:00:00Z" 422 '{"message": "Invalid request."}'
[ "$($CURL -o "$T/err.txt" -w '%{http_code}' "$K/exec/default/logger/c?command=ls")" = 400 ] &&
	grep -q "you must specify at least 1 of stdin, stdout, stderr" "$T/err.txt" ||
	fail "exec without streams: $(cat "$T/err.txt")"
[ "$($CURL -o "$T/err.txt" -w '%{http_code}' "$K/exec/default/logger/c?command=ls&stdout=1")" = 400 ] &&
	grep -q "unable to upgrade: missing upgrade headers in request" "$T/err.txt" ||
	fail "exec without upgrade headers: $(cat "$T/err.txt")"
echo "ok previous, upstream's errors, exec's request errors"

# kubectl logs through the apiserver's pods/log proxy to this server
kubectl logs logger --tail=2 >"$T/kl.txt" 2>&1 || fail "kubectl logs: $(cat "$T/kl.txt")"
[ "$(grep -c '^tick' "$T/kl.txt")" = 2 ] || fail "kubectl logs --tail=2: $(cat "$T/kl.txt")"
kubectl logs crasher --previous >"$T/klp.txt" 2>&1 || fail "kubectl logs --previous: $(cat "$T/klp.txt")"
grep -q '^run-' "$T/klp.txt" || fail "kubectl logs --previous: $(cat "$T/klp.txt")"
# kubectl logs -f streams through the proxy: new ticks arrive while it runs
timeout 4 kubectl logs -f logger --tail=1 >"$T/klf.txt" 2>&1
[ "$(grep -c '^tick' "$T/klf.txt")" -ge 4 ] || fail "kubectl logs -f: $(tr '\n' ' ' <"$T/klf.txt")"
echo "ok kubectl logs, logs -f and logs --previous through the apiserver"

for p in logger crasher; do
	timeout 60 kubectl delete pod "$p" --wait=true >/dev/null || fail "delete $p"
done
kill "$KPID"; wait "$KPID"; krc=$?; KPID=""
[ "$krc" = 0 ] || fail "kubelet exit $krc on SIGTERM"
# the server is gone with it
curl -s --max-time 2 "http://127.0.0.1:$HPORT/healthz" >/dev/null && fail "healthz still answers"
FAILED=0
echo "PASS kubelet_logs"
