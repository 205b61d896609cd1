#!/bin/sh
# CrashLoopBackOff as a user sees it (issue 9 item 3), one node, real containerd: a pod
# whose container exits 1 -> `kubectl get pods` shows STATUS CrashLoopBackOff and a
# RESTARTS count that grows, the restarts come further and further apart (upstream's
# back-off: 10 s doubling up to 5 min), and `kubectl describe pod` lists the BackOff
# event "Back-off restarting failed container ...".
set -u
: "${KUBEC_BUILD:?}"
KUBEC_ROOT=${KUBEC_ROOT:-$(pwd)}
export KUBEC_BUILD KUBEC_ROOT
. "$KUBEC_ROOT/test/e2e/lib/flow_cluster.sh"
flow_scenario_init crashloop

cat >"$FLOW_T/crash.yaml" <<'EOF'
apiVersion: v1
kind: Pod
metadata:
  name: crash
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: crash
    image: busybox:1.35
    command: ["sh", "-c", "echo about to fail; exit 1"]
EOF
kubectl apply -f "$FLOW_T/crash.yaml" >/dev/null || flow_fail "create pod crash"

# The STATUS and RESTARTS columns of `kubectl get pod crash` (the server's Table).
row() { kubectl get pod crash --no-headers 2>/dev/null; }
status() { row | awk '{print $3}'; }
restarts() { row | awk '{print $4}'; }
is_status() { [ "$(status)" = "$1" ]; }
flow_wait_for 60 is_status CrashLoopBackOff || flow_fail "never CrashLoopBackOff; last: $(kubectl get pod crash 2>&1)"
echo "ok kubectl get pods: $(row)"

# Record when each restart count is first seen; the gaps must grow (back-off).
T0=$(date +%s)
last=$(restarts)
: >"$FLOW_T/restarts"
echo "$last $T0" >>"$FLOW_T/restarts"
end=$((T0 + 150))
while [ "$(date +%s)" -lt "$end" ]; do
	r=$(restarts)
	case $r in '' | *[!0-9]*) sleep 0.5; continue ;; esac
	if [ "$r" != "$last" ]; then
		echo "$r $(date +%s)" >>"$FLOW_T/restarts"
		last=$r
	fi
	[ "$(grep -c . "$FLOW_T/restarts")" -ge 3 ] && break
	sleep 0.5
done
echo "restart count first seen at (count epoch-seconds): $(tr '\n' ';' <"$FLOW_T/restarts")"
[ "$(grep -c . "$FLOW_T/restarts")" -ge 3 ] || flow_fail "RESTARTS did not grow twice within 150 s: $(row)"
c1=$(sed -n 1p "$FLOW_T/restarts" | cut -d' ' -f1)
c3=$(sed -n 3p "$FLOW_T/restarts" | cut -d' ' -f1)
[ "$c3" -gt "$c1" ] || flow_fail "RESTARTS went from $c1 to $c3"
t2=$(sed -n 2p "$FLOW_T/restarts" | cut -d' ' -f2)
t3=$(sed -n 3p "$FLOW_T/restarts" | cut -d' ' -f2)
t4=$(($(date +%s)))
# the gap after the second observed restart must be longer than the one before it:
# the back-off doubled (10 s -> 20 s -> 40 s); 2 s of slack for the polling
gap1=$((t3 - t2))
echo "ok RESTARTS grew $c1 -> $c3; $gap1 s between the last two restarts"
nxt() { r=$(restarts); [ -n "$r" ] && [ "$r" -gt "$c3" ]; }
if flow_wait_for $((gap1 * 2 + 30)) nxt; then
	gap2=$(($(date +%s) - t3))
	[ "$gap2" -gt $((gap1 + 2)) ] || flow_fail "back-off did not grow: ${gap1}s then ${gap2}s"
	echo "ok back-off grows: ${gap1}s then ${gap2}s between restarts"
else
	flow_fail "no restart within $((gap1 * 2 + 30)) s after the last one (t=$t4)"
fi
phase=$(kubectl get pod crash -o jsonpath='{.status.phase}')
reason=$(kubectl get pod crash -o jsonpath='{.status.containerStatuses[0].state.waiting.reason}')
echo "status.phase=$phase, waiting reason=$reason"

# describe while the container waits in back-off (it runs only for a moment between)
waiting_backoff() { [ "$(kubectl get pod crash -o jsonpath='{.status.containerStatuses[0].state.waiting.reason}')" = CrashLoopBackOff ]; }
flow_wait_for 60 waiting_backoff || flow_fail "not waiting in CrashLoopBackOff: $(row)"
kubectl describe pod crash >"$FLOW_T/describe.txt" 2>&1 || flow_fail "kubectl describe pod crash: $(tail -n 3 "$FLOW_T/describe.txt")"
echo "---- kubectl describe pod crash ----"
cat "$FLOW_T/describe.txt"
echo "----"
sect=$(sed -n '/^Containers:/,/^Conditions:/p' "$FLOW_T/describe.txt")
echo "$sect" | grep -q 'State: *Waiting' && echo "$sect" | grep -q 'Reason: *CrashLoopBackOff' ||
	flow_fail "kubectl describe: State is not Waiting/CrashLoopBackOff: $sect"
echo "$sect" | sed -n '/Last State:/,/Ready:/p' | grep -q 'Reason: *Error' ||
	flow_fail "kubectl describe: Last State reason is not Error: $sect"
grep -E 'BackOff .*Back-off restarting failed container' "$FLOW_T/describe.txt" >"$FLOW_T/backoff-event" ||
	flow_fail "no BackOff event in kubectl describe: $(sed -n '/^Events:/,$p' "$FLOW_T/describe.txt")"
echo "ok kubectl describe: $(sed 's/  */ /g' "$FLOW_T/backoff-event" | head -n 1)"
grep -q 'Last State: *Terminated' "$FLOW_T/describe.txt" && grep -q 'Exit Code: *1' "$FLOW_T/describe.txt" ||
	flow_fail "kubectl describe does not show the last state Terminated with exit code 1: $(sed -n '/Containers:/,/Conditions:/p' "$FLOW_T/describe.txt")"
echo "ok kubectl describe: Last State Terminated, Exit Code 1"

# Logs through the apiserver's pods/log proxy and the kubelet's 10250 server: the dead
# instance's output is kept for --previous, as upstream.
kubectl logs --previous crash >"$FLOW_T/prev.log" 2>&1 || flow_fail "kubectl logs --previous crash: $(tail -n 3 "$FLOW_T/prev.log")"
grep -q 'about to fail' "$FLOW_T/prev.log" || flow_fail "kubectl logs --previous crash lacks the output: $(head -c 300 "$FLOW_T/prev.log")"
echo "ok kubectl logs --previous: $(head -n 1 "$FLOW_T/prev.log")"

kubectl delete pod crash --wait=false >/dev/null || flow_fail "delete pod crash"
gone() { ! kubectl get pod crash >/dev/null 2>&1; }
flow_wait_for 60 gone || flow_fail "pod crash not deleted"
echo "ok pod crash deleted"
flow_pass
