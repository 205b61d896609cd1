#!/bin/sh
# Sidecar init containers (issue 8; restartPolicy Always on an init container, on by
# default in 1.32), one node, real containerd:
#  - a Job-like pod (restartPolicy Never): the sidecar starts first and the next init
#    container waits until its startup probe passed (it checks the file the sidecar
#    wrote); the sidecar keeps running beside the app container (initContainerStatuses:
#    running, started, ready; Initialized True); once the app exits 0 the kubelet stops
#    the sidecar and the pod is Succeeded;
#  - a long-running pod whose sidecar exits every few seconds: it is restarted
#    (restartCount grows) while the app container keeps running unrestarted; on deletion
#    the app container is stopped before the sidecar.
set -u
: "${KUBEC_BUILD:?}"
KUBEC_ROOT=${KUBEC_ROOT:-$(pwd)}
export KUBEC_BUILD KUBEC_ROOT
. "$KUBEC_ROOT/test/e2e/lib/flow_cluster.sh"
flow_scenario_init sidecar
PY=/usr/bin/python3

cat >"$FLOW_T/job.yaml" <<'YAML'
apiVersion: v1
kind: Pod
metadata:
  name: sidecar-job
spec:
  restartPolicy: Never
  terminationGracePeriodSeconds: 5
  volumes:
  - name: shared
    emptyDir: {}
  initContainers:
  - name: proxy
    image: busybox:1.35
    restartPolicy: Always
    command: ["sh", "-c", "sleep 2; touch /shared/up; trap 'exit 0' TERM; while true; do sleep 1; done"]
    volumeMounts:
    - {name: shared, mountPath: /shared}
    startupProbe:
      exec:
        command: ["test", "-f", "/shared/up"]
      periodSeconds: 1
      failureThreshold: 30
    readinessProbe:
      exec:
        command: ["true"]
      periodSeconds: 1
  - name: check
    image: busybox:1.35
    command: ["sh", "-c", "test -f /shared/up && echo sidecar was up"]
    volumeMounts:
    - {name: shared, mountPath: /shared}
  containers:
  - name: app
    image: busybox:1.35
    command: ["sh", "-c", "test -f /shared/up && sleep 8 && echo app done"]
    volumeMounts:
    - {name: shared, mountPath: /shared}
YAML
kubectl apply -f "$FLOW_T/job.yaml" >/dev/null || flow_fail "create pod sidecar-job"

# while the app runs: the sidecar runs, started and ready; the regular init container
# completed after it; Initialized True
app_running() {
	kubectl get pod sidecar-job -o json >"$FLOW_T/job.json" 2>/dev/null || return 1
	$PY - "$FLOW_T/job.json" <<'PYEOF'
import json, sys
p = json.load(open(sys.argv[1])); st = p.get("status", {})
cs = st.get("containerStatuses", [])
ics = {c["name"]: c for c in st.get("initContainerStatuses", [])}
if not cs or "running" not in cs[0].get("state", {}):
    sys.exit(1)
proxy, check = ics.get("proxy", {}), ics.get("check", {})
# the sidecar's readiness probe may not have run yet when the app starts
if not proxy.get("ready"):
    sys.exit(1)
assert "running" in proxy.get("state", {}) and proxy.get("started") is True, proxy
t = check.get("state", {}).get("terminated", {})
assert t.get("exitCode") == 0 and t.get("reason") == "Completed", check
cond = {c["type"]: c["status"] for c in st.get("conditions", [])}
assert cond.get("Initialized") == "True", cond
assert st.get("phase") == "Running", st.get("phase")
print("ok while the app runs: sidecar proxy running (started, ready), init check Completed, Initialized True, phase Running")
PYEOF
}
flow_wait_for 60 app_running || { app_running; flow_fail "sidecar-job never had its app running beside a started sidecar: $(kubectl get pod sidecar-job -o jsonpath='{.status}')"; }
app_running
kubectl logs sidecar-job -c check >"$FLOW_T/check.log" 2>&1 || flow_fail "kubectl logs -c check: $(cat "$FLOW_T/check.log")"
grep -q 'sidecar was up' "$FLOW_T/check.log" || flow_fail "the init container after the sidecar did not see it started"
echo "ok the init container after the sidecar started once the sidecar's startup probe passed"
kubectl get pod sidecar-job
succeeded() { [ "$(kubectl get pod sidecar-job -o jsonpath='{.status.phase}')" = Succeeded ]; }
flow_wait_for 60 succeeded || flow_fail "sidecar-job not Succeeded: $(kubectl get pod sidecar-job -o jsonpath='{.status}')"
kubectl get pod sidecar-job -o json >"$FLOW_T/job.json"
$PY - "$FLOW_T/job.json" <<'PYEOF' || flow_fail "sidecar-job final status"
import json, sys
st = json.load(open(sys.argv[1]))["status"]
proxy = [c for c in st["initContainerStatuses"] if c["name"] == "proxy"][0]
app = st["containerStatuses"][0]
assert app["state"]["terminated"]["exitCode"] == 0, app
assert "terminated" in proxy["state"], proxy
assert proxy["restartCount"] == 0, proxy
print("ok app exited 0 -> the kubelet stopped the sidecar (terminated, exit %d) -> phase Succeeded"
      % proxy["state"]["terminated"]["exitCode"])
PYEOF
kubectl get pod sidecar-job

cat >"$FLOW_T/flaky.yaml" <<'YAML'
apiVersion: v1
kind: Pod
metadata:
  name: sidecar-flaky
spec:
  terminationGracePeriodSeconds: 3
  initContainers:
  - name: flaky
    image: busybox:1.35
    restartPolicy: Always
    command: ["sh", "-c", "sleep 3; exit 1"]
  containers:
  - name: app
    image: busybox:1.35
    command: ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1; done"]
YAML
kubectl apply -f "$FLOW_T/flaky.yaml" >/dev/null || flow_fail "create pod sidecar-flaky"
restarted() {
	kubectl get pod sidecar-flaky -o json >"$FLOW_T/flaky.json" 2>/dev/null || return 1
	$PY - "$FLOW_T/flaky.json" <<'PYEOF'
import json, sys
st = json.load(open(sys.argv[1])).get("status", {})
ics = st.get("initContainerStatuses", [])
cs = st.get("containerStatuses", [])
if not ics or not cs or ics[0].get("restartCount", 0) < 1:
    sys.exit(1)
app = cs[0]
assert "running" in app["state"] and app["restartCount"] == 0, app
cond = {c["type"]: c["status"] for c in st.get("conditions", [])}
assert cond.get("Initialized") == "True", cond
assert st.get("phase") == "Running", st.get("phase")
print("ok the sidecar exited and was restarted (restartCount %d, lastState exit %s); the app kept running (restartCount 0), Initialized True"
      % (ics[0]["restartCount"], ics[0].get("lastState", {}).get("terminated", {}).get("exitCode")))
PYEOF
}
flow_wait_for 60 restarted || { restarted; flow_fail "the sidecar was not restarted beside a running app"; }
restarted
kubectl get pod sidecar-flaky
# wait for the sidecar to be running again, then delete: app stopped first
sc_running() { [ -n "$(kubectl get pod sidecar-flaky -o jsonpath='{.status.initContainerStatuses[0].state.running}')" ]; }
flow_wait_for 60 sc_running || flow_fail "sidecar not running again"
kubectl delete pod sidecar-flaky --wait=false >/dev/null || flow_fail "delete sidecar-flaky"
gone() { ! kubectl get pod sidecar-flaky >/dev/null 2>&1; }
flow_wait_for 60 gone || flow_fail "sidecar-flaky not deleted"
grep '"Killing container with a grace period" pod="default/sidecar-flaky"' "$FLOW_T/logs/kubelet.log" >"$FLOW_T/kills" || true
cat "$FLOW_T/kills"
first=$(sed -n 1p "$FLOW_T/kills" | sed 's/.*containerName="\([^"]*\)".*/\1/')
[ "$first" = app ] || flow_fail "on deletion the first container stopped was '$first', want app (sidecars after the app containers)"
grep -q 'containerName="flaky"' "$FLOW_T/kills" || flow_fail "the sidecar was not stopped on deletion"
echo "ok on deletion the app container was stopped before the sidecar"
kubectl delete pod sidecar-job --wait=false >/dev/null
flow_wait_for 60 eval '! kubectl get pod sidecar-job >/dev/null 2>&1' || flow_fail "sidecar-job not deleted"
flow_pass
