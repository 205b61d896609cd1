#!/bin/sh
# kube-controller-manager benchmark (issue 7): kube-store + kube-apiserver +
# kube-controller-manager; BENCH_DEPLOYMENTS Deployments (default 1,000) of
# BENCH_REPLICAS replicas (default 3) created at once by BENCH_CONC concurrent HTTPS
# clients (default 16, loadgen.py); reports the time from the first create until a pod
# watch has seen every pod and a Deployment watch every Deployment with status.replicas
# == replicas, and the controller-manager's CPU seconds and RSS (current and peak).
# No kubelet or scheduler runs: pods stay Pending, which is what the Deployment and
# ReplicaSet controllers are measured on. Targets printed beside the figures: all pods
# within 30 s, controller-manager RSS at most 60 MB. Not part of make test.
set -u
ROOT=${KUBEC_ROOT:-$(cd "$(dirname "$0")/../../.." && pwd)}
KUBEC_ROOT=$ROOT
KUBEC_BUILD=${KUBEC_BUILD:-$ROOT/build}
NDEP=${BENCH_DEPLOYMENTS:-1000}
REPL=${BENCH_REPLICAS:-3}
CONC=${BENCH_CONC:-16}
DEADLINE=${BENCH_DEADLINE:-300}
. "$ROOT/test/integration/lib/apiserver_env.sh"

for b in kube-store kube-apiserver kube-controller-manager; do
	[ -x "$KUBEC_BUILD/bin/$b" ] || { echo "$b not built (make)"; exit 1; }
done
trap 'kc_cleanup' EXIT INT TERM
T=$(mktemp -d /tmp/bench_cm.XXXXXX)
KC_DIRS="$KC_DIRS $T"
gen_certs "$T" || { echo "certificates failed"; exit 1; }
start_kube_store "$T" || { kc_dump_logs; echo "kube-store did not start"; exit 1; }
start_apiserver "$T" "$ETCD_URL" || { kc_dump_logs; echo "kube-apiserver did not start"; exit 1; }
write_kubeconfig "$T" "$API"
CMPORT=$(free_port)
# --v=0: no line per pod created
"$KUBEC_BUILD/bin/kube-controller-manager" --kubeconfig "$T/kubeconfig" --leader-elect=false \
	--bind-address 127.0.0.1 --secure-port "$CMPORT" --v=0 > "$T/cm.log" 2>&1 &
CMPID=$!
KC_PIDS="$KC_PIDS $CMPID"
KC_LOGS="$KC_LOGS $T/cm.log"
wait_url "https://127.0.0.1:$CMPORT/healthz" 20 -k || { kc_dump_logs; echo "controller-manager not ready"; exit 1; }
end=$(($(date +%s) + 30))
until grep -q "Caches are synced" "$T/cm.log"; do
	[ "$(date +%s)" -lt "$end" ] || { kc_dump_logs; echo "controller-manager caches never synced"; exit 1; }
	sleep 0.2
done
# pods need the default ServiceAccount (ServiceAccount admission)
end=$(($(date +%s) + 30))
until curl -s --cacert "$T/ca.crt" -H "Authorization: Bearer test-token" \
	"$API/api/v1/namespaces/default/serviceaccounts/default" | grep -q '"uid"'; do
	[ "$(date +%s)" -lt "$end" ] || { kc_dump_logs; echo "no default ServiceAccount"; exit 1; }
	sleep 0.2
done

echo "controller-manager benchmark: $NDEP Deployments x $REPL replicas, $CONC client connections, $(nproc) cores"
$PY "$ROOT/test/bench/controller-manager/loadgen.py" "$API" "$T/ca.crt" test-token "$NDEP" \
	"$REPL" "$CONC" "$CMPID" "$DEADLINE" > "$T/result.json"
rc=$?
$PY - "$T/result.json" "$NDEP" "$REPL" <<'PYEOF'
import json, sys
try:
    r = json.load(open(sys.argv[1]))
except Exception as e:
    print("no result: %s" % e); sys.exit(1)
n, k = int(sys.argv[2]), int(sys.argv[3])
def fig(v, unit):
    return "%s %s" % (v, unit) if v is not None else "not reached"
print("  Deployments created in            %s" % fig(r["create_s"], "s"))
print("  all %d pods exist after          %-14s (target 30 s; seen %d)" % (n * k, fig(r["all_pods_s"], "s"), r["pods_seen"]))
print("  all Deployments status.replicas=%d %-14s (seen %d of %d)" % (k, fig(r["all_status_s"], "s"), r["deployments_done"], n))
print("  controller-manager CPU            %s s" % r["cm_cpu_s"])
print("  controller-manager RSS            %s MB now, %s MB peak (target 60 MB; %s MB before the load)" % (r["cm_rss_mb"], r["cm_peak_rss_mb"], r["cm_rss_before_mb"]))
if r.get("errors"):
    print("  errors: %s" % r["errors"])
PYEOF
[ $rc = 0 ] || { kc_dump_logs; exit 1; }

# A restart in the populated cluster: the new process lists everything (1,000 Deployments,
# 1,000 ReplicaSets, 3,000 pods) and syncs every key once; its RSS then and at peak.
kill "$CMPID"; wait "$CMPID" 2>/dev/null
t0=$(date +%s%3N)
"$KUBEC_BUILD/bin/kube-controller-manager" --kubeconfig "$T/kubeconfig" --leader-elect=false \
	--bind-address 127.0.0.1 --secure-port "$CMPORT" --v=0 > "$T/cm2.log" 2>&1 &
CMPID=$!
KC_PIDS="$KC_PIDS $CMPID"
end=$(($(date +%s) + 60))
until grep -q "Caches are synced" "$T/cm2.log"; do
	[ "$(date +%s)" -lt "$end" ] || { kc_dump_logs; echo "restarted controller-manager never synced"; exit 1; }
	sleep 0.1
done
t1=$(date +%s%3N)
# let every controller's first sync of every key run: the workqueues drain to 0
end=$(($(date +%s) + 60))
while :; do
	depth=$(curl -sk "https://127.0.0.1:$CMPORT/metrics" | awk '/^workqueue_depth/ {s += $2} END {print s + 0}')
	[ "$depth" = 0 ] && break
	[ "$(date +%s)" -lt "$end" ] || { echo "workqueues never drained ($depth)"; break; }
	sleep 0.2
done
t2=$(date +%s%3N)
rss=$(awk '/VmRSS/ {printf "%.1f", $2 / 1024}' "/proc/$CMPID/status")
hwm=$(awk '/VmHWM/ {printf "%.1f", $2 / 1024}' "/proc/$CMPID/status")
echo "  after a restart (everything cached): caches synced in $((t1 - t0)) ms, queues drained at $((t2 - t0)) ms"
echo "  controller-manager RSS            $rss MB now, $hwm MB peak (target 60 MB)"
exit 0
