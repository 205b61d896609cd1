#!/bin/sh
# kubectl exec / attach / cp / port-forward end to end (issue 8 item 8), one node, real
# containerd:
# kubectl 1.32 upgrades pods/exec to WebSocket v5.channel.k8s.io at the apiserver, which
# proxies the upgrade to the kubelet's 10250 server, which bridges it to containerd's
# streaming server over SPDY.  Checked: output and exit codes, stdin EOF through v5's close
# frame (`echo hi | kubectl exec -i ... cat` returns), a tty (tty, stty size), upstream's
# errors for a missing container / pod / container name, kubectl cp both ways, kubectl
# attach to a tty container, kubectl port-forward (SPDY tunneled through a WebSocket, which
# the kubelet carries to containerd's port-forward server).
set -u
: "${KUBEC_BUILD:?}"
KUBEC_ROOT=${KUBEC_ROOT:-$(pwd)}
export KUBEC_BUILD KUBEC_ROOT
. "$KUBEC_ROOT/test/e2e/lib/flow_cluster.sh"
command -v script >/dev/null 2>&1 || { echo "SKIP: script (bsdutils) missing"; exit 77; }
flow_scenario_init exec

cat >"$FLOW_T/pods.yaml" <<'YAML'
apiVersion: v1
kind: Pod
metadata:
  name: web-x
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: web
    image: busybox:1.35
    command: ["sh", "-c", "exec sleep 3600"]
---
apiVersion: v1
kind: Pod
metadata:
  name: two
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: a
    image: busybox:1.35
    command: ["sleep", "3600"]
  - name: b
    image: busybox:1.35
    command: ["sleep", "3600"]
---
apiVersion: v1
kind: Pod
metadata:
  name: web-pf
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: web
    image: busybox:1.35
    command: ["sh", "-c", "mkdir -p /www && echo hello-pf >/www/index.html && head -c 1000000 /dev/urandom >/www/big && md5sum </www/big >/www/big.md5 && exec httpd -f -p 8080 -h /www"]
---
apiVersion: v1
kind: Pod
metadata:
  name: nowhere
spec:
  nodeSelector:
    no-such-label: "true"
  containers:
  - name: c
    image: busybox:1.35
---
apiVersion: v1
kind: Pod
metadata:
  name: tty-x
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: sh
    image: busybox:1.35
    command: ["sh"]
    stdin: true
    tty: true
YAML
kubectl create -f "$FLOW_T/pods.yaml" >/dev/null || flow_fail "create pods"
running() {
	for p in web-x two tty-x web-pf; do
		[ "$(kubectl get pod "$p" -o jsonpath='{.status.phase}')" = Running ] || return 1
	done
}
flow_wait_for 90 running || flow_fail "pods never Running: $(kubectl get pods -o wide 2>&1)"

# t LIMIT CMD...: run with a deadline so that a hung stream fails the test instead of
# hanging it; the exit status is CMD's (124 on timeout)
t() {
	_lim=$1
	shift
	timeout -k 5 "$_lim" "$@"
}

# 1. plain output
out=$(t 30 kubectl exec web-x -- hostname 2>&1) || flow_fail "kubectl exec web-x -- hostname: $out"
[ "$out" = web-x ] || flow_fail "hostname printed '$out', want web-x"
out=$(t 30 kubectl exec web-x -- sh -c 'echo out; echo err >&2' 2>"$FLOW_T/err") || flow_fail "exec echo: $out"
[ "$out" = out ] && [ "$(cat "$FLOW_T/err")" = err ] ||
	flow_fail "stdout '$out' / stderr '$(cat "$FLOW_T/err")' not separated"
# several times: a session that ends while output is still in flight is where a proxy that
# closes too early loses the tail (FLOW_EXEC_BIG_RUNS raises the count for stress runs)
i=0
while [ "$i" -lt "${FLOW_EXEC_BIG_RUNS:-3}" ]; do
	n=$(t 60 kubectl exec web-x -- head -c 3000000 /dev/zero | wc -c)
	[ "$n" = 3000000 ] || flow_fail "3 MB of stdout arrived as $n bytes (run $((i + 1)))"
	i=$((i + 1))
done
echo "ok kubectl exec web-x -- hostname prints web-x; stdout and stderr arrive on their own streams; 3 MB of output intact, ${FLOW_EXEC_BIG_RUNS:-3} times"

# 2. exit codes
t 30 kubectl exec web-x -- sh -c 'exit 3' >"$FLOW_T/exit.out" 2>&1
rc=$?
[ "$rc" = 3 ] || flow_fail "exit 3 gave kubectl status $rc: $(cat "$FLOW_T/exit.out")"
grep -q 'command terminated with exit code 3' "$FLOW_T/exit.out" ||
	flow_fail "no 'command terminated with exit code 3': $(cat "$FLOW_T/exit.out")"
echo "ok sh -c 'exit 3' -> kubectl exits 3 with 'command terminated with exit code 3'"

# 3. stdin, and its EOF through v5's close frame
out=$(echo hi | t 30 kubectl exec -i web-x -- cat 2>&1) || flow_fail "echo hi | kubectl exec -i web-x -- cat: rc $? $out"
[ "$out" = hi ] || flow_fail "cat echoed '$out'"
head -c 300000 /dev/urandom >"$FLOW_T/big"
t 60 kubectl exec -i web-x -- sh -c 'cat >/tmp/big; md5sum /tmp/big' <"$FLOW_T/big" >"$FLOW_T/big.sum" 2>&1 ||
	flow_fail "300 kB through stdin: $(cat "$FLOW_T/big.sum")"
[ "$(cut -d' ' -f1 "$FLOW_T/big.sum")" = "$(md5sum "$FLOW_T/big" | cut -d' ' -f1)" ] ||
	flow_fail "300 kB stdin arrived damaged: $(cat "$FLOW_T/big.sum")"
echo "ok echo hi | kubectl exec -i web-x -- cat prints hi and returns; 300 kB of stdin arrive intact"

# 4. a terminal: kubectl -it needs its own stdin to be a tty; script(1) gives it one.  The
# size kubectl sends on the resize channel reaches the pty shortly after the process
# starts (as upstream: the runtime starts the process, then applies resize events), so the
# command polls for it.
cat >"$FLOW_T/tty.sh" <<'SH'
stty rows 33 cols 77
kubectl exec -it web-x -- sh -c 'tty; i=0; while [ $i -lt 100 ]; do s=$(stty size 2>/dev/null); [ -n "$s" ] && [ "$s" != "0 0" ] && break; i=$((i+1)); sleep 0.1; done; echo "size $s"'
SH
TERM=xterm t 60 script -qfec "sh $FLOW_T/tty.sh" /dev/null </dev/null >"$FLOW_T/tty.out" 2>&1 ||
	flow_fail "kubectl exec -it: $(cat "$FLOW_T/tty.out")"
# script(1) passes its stdin's EOF on as a control byte the pty may echo ("^@"): ignore it
tr -d '\r\000' <"$FLOW_T/tty.out" | sed 's/\^@//g' >"$FLOW_T/tty.txt"
grep -q '^/dev/pts/[0-9]' "$FLOW_T/tty.txt" || flow_fail "tty printed no /dev/pts: $(cat "$FLOW_T/tty.txt")"
grep -q 'size 33 77$' "$FLOW_T/tty.txt" || flow_fail "stty size is not '33 77' (resize not applied): $(cat "$FLOW_T/tty.txt")"
echo "ok kubectl exec -it: the command runs on $(grep '^/dev/pts' "$FLOW_T/tty.txt"), size 33x77 from the client's terminal"

# 5. errors as upstream's
out=$(t 30 kubectl exec web-x -c nope -- true 2>&1) && flow_fail "exec into a missing container succeeded"
echo "$out" | grep -q 'container nope is not valid for pod web-x' || flow_fail "missing container: $out"
out=$(t 30 kubectl exec nosuch -- true 2>&1) && flow_fail "exec into a missing pod succeeded"
echo "$out" | grep -q 'pods "nosuch" not found' || flow_fail "missing pod: $out"
out=$(t 30 kubectl exec two -c b -- hostname 2>&1) || flow_fail "exec -c b into a two-container pod: $out"
[ "$out" = two ] || flow_fail "exec -c b printed '$out'"
out=$(t 30 kubectl exec nowhere -- true 2>&1) && flow_fail "exec into an unscheduled pod succeeded"
echo "$out" | grep -q 'pod nowhere does not have a host assigned' || flow_fail "unscheduled pod: $out"
echo "ok errors: 'container nope is not valid for pod web-x', 'pods \"nosuch\" not found', 'pod nowhere does not have a host assigned'; -c picks a container"

# 6. kubectl cp (tar over exec) both ways
printf 'copied %s\n' "$(date +%s%N)" >"$FLOW_T/up.txt"
t 60 kubectl cp "$FLOW_T/up.txt" web-x:/tmp/up.txt >"$FLOW_T/cp.out" 2>&1 || flow_fail "kubectl cp into the pod: $(cat "$FLOW_T/cp.out")"
[ "$(t 30 kubectl exec web-x -- cat /tmp/up.txt)" = "$(cat "$FLOW_T/up.txt")" ] || flow_fail "the copied file differs in the pod"
t 60 kubectl cp web-x:/tmp/up.txt "$FLOW_T/down.txt" >"$FLOW_T/cp.out" 2>&1 || flow_fail "kubectl cp out of the pod: $(cat "$FLOW_T/cp.out")"
cmp -s "$FLOW_T/up.txt" "$FLOW_T/down.txt" || flow_fail "kubectl cp round trip differs"
echo "ok kubectl cp into and out of web-x round-trips a file"

# 7. kubectl attach to a container started with stdin+tty: what we type runs in its shell.
# stdin stays open until the output arrived: containerd detaches an attach whose stdin
# ended (docker's semantics), so closing it early would lose the output.
mkfifo "$FLOW_T/attach.fifo"
t 60 kubectl attach -i tty-x <"$FLOW_T/attach.fifo" >"$FLOW_T/attach.out" 2>&1 &
APID=$!
exec 7>"$FLOW_T/attach.fifo"
echo 'echo attached-$((6*7))' >&7
flow_wait_for 30 grep -q 'attached-42' "$FLOW_T/attach.out"
got=$?
exec 7>&-
wait "$APID"
arc=$?
[ "$got" = 0 ] || flow_fail "kubectl attach -i tty-x showed no output of the typed command: $(cat "$FLOW_T/attach.out")"
[ "$arc" = 0 ] || flow_fail "kubectl attach exited $arc after stdin closed: $(cat "$FLOW_T/attach.out")"
[ "$(kubectl get pod tty-x -o jsonpath='{.status.containerStatuses[0].restartCount}')" = 0 ] ||
	flow_fail "the attached container restarted"
echo "ok kubectl attach -i tty-x ran 'echo attached-\$((6*7))' in the container's shell; closing stdin detached"

# 8. kubectl port-forward: kubectl 1.32 tunnels SPDY through a WebSocket
# (SPDY/3.1+portforward.k8s.io); the kubelet carries it to containerd's port-forward server
PF_PORT=$(_flow_free_port)
t 90 kubectl port-forward web-pf "$PF_PORT:8080" >"$FLOW_T/pf.out" 2>&1 &
PFID=$!
flow_wait_for 30 grep -q "Forwarding from 127.0.0.1:$PF_PORT" "$FLOW_T/pf.out" ||
	flow_fail "kubectl port-forward did not start: $(cat "$FLOW_T/pf.out")"
body=$(curl -s --max-time 10 "http://127.0.0.1:$PF_PORT/")
[ "$body" = hello-pf ] || flow_fail "GET / through port-forward: '$body'; $(cat "$FLOW_T/pf.out")"
curl -s --max-time 20 -o "$FLOW_T/pf.big" "http://127.0.0.1:$PF_PORT/big" || flow_fail "GET /big through port-forward"
want=$(curl -s --max-time 10 "http://127.0.0.1:$PF_PORT/big.md5" | cut -d' ' -f1)
[ -n "$want" ] && [ "$(md5sum <"$FLOW_T/pf.big" | cut -d' ' -f1)" = "$want" ] ||
	flow_fail "1 MB through port-forward arrived damaged ($(wc -c <"$FLOW_T/pf.big") bytes)"
kill "$PFID" 2>/dev/null
wait "$PFID" 2>/dev/null
echo "ok kubectl port-forward web-pf $PF_PORT:8080: three requests, 1 MB intact"

flow_pass
