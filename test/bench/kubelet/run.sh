#!/bin/sh
# kubelet benchmark (issue 8 item 12): pod startup latency for BENCH_PODS (default 100)
# pods on one node with images present, upstream's SLI (creation -> Running with all
# containers started, observed through a watch; image pulls are 0 here), p50/p99, and the
# kubelet's RSS and CPU with the pods running; first with containerd (kube-store +
# kube-apiserver + a private containerd from test/integration/kubelet/containerd.sh + one
# kubelet), then the same with the fake runtime (fake://) for comparison.
# Targets (issue 8): p99 <= 1.5 s with containerd, kubelet RSS <= 30 MB with 100 pods.
# Needs root (containerd).  Not part of make test.  BENCH_OUT=DIR keeps each round's
# kubelet log and /proc/<pid>/smaps there.
set -u
REPO=${KUBEC_ROOT:-$(cd "$(dirname "$0")/../../.." && pwd)}
KUBEC_ROOT=$REPO
# `make bench` passes its build directory (relative to the repository) as $1
if [ -z "${KUBEC_BUILD:-}" ] && [ $# -ge 1 ]; then
	case $1 in /*) KUBEC_BUILD=$1 ;; *) KUBEC_BUILD=$REPO/$1 ;; esac
fi
KUBEC_BUILD=${KUBEC_BUILD:-$REPO/build}
PODS=${BENCH_PODS:-100}
. "$REPO/test/integration/lib/apiserver_env.sh"
. "$REPO/test/integration/kubelet/containerd.sh"
. "$REPO/test/integration/kubelet/kubelet_env.sh"
kl_require
kl_newdir
kl_start_control_plane
kubectl create serviceaccount default >/dev/null 2>&1 || true

busy() { awk '/^cpu / {print $2 + $3 + $4 + $7 + $8 + $9, $5 + $6}' /proc/stat; }
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
threads() { awk '/^Threads/ {print $2}' "/proc/$1/status"; }
HZ=$(getconf CLK_TCK)
# containerd's CPU: the daemon and its shims (their -address names our private socket);
# 0 with the fake runtime
ctrd_ticks() {
	t=0
	[ -n "${CTRD_PID:-}" ] && [ -r "/proc/$CTRD_PID/stat" ] && t=$(ticks "$CTRD_PID")
	for p in /proc/[0-9]*; do
		case "$(tr '\0' ' ' 2>/dev/null <"$p/cmdline")" in
		*containerd-shim*"${CTRD_SOCK:-/nonexistent}"*) t=$((t + $(ticks "${p#/proc/}" 2>/dev/null || echo 0))) ;;
		esac
	done
	echo "$t"
}

# bench LABEL PREFIX: one round against the kubelet $KPID on $NODE
bench() {
	label=$1; prefix=$2
	c0=$(ticks "$KPID"); b0=$(busy); r0=$(ctrd_ticks)
	$PY "$REPO/test/bench/kubelet/startup.py" "$NODE" "$PODS" "$prefix" >"$T/$prefix.json" || {
		cat "$T/$prefix.json"; fail "$label: pods did not all start"; }
	c1=$(ticks "$KPID"); b1=$(busy); r1=$(ctrd_ticks)
	# steady state: 10 s with every pod running (probes none; PLEG relists + resyncs)
	sleep 10
	c2=$(ticks "$KPID"); r2=$(ctrd_ticks)
	[ "$label" = fake ] || echo "$label containerd (daemon + shims) CPU $(echo "$r0 $r1 $r2 $HZ" | awk '{printf "%.2f s during start-up, %.1f %% of a core steady", ($2-$1)/$4, 100*($3-$2)/$4/10}')"
	echo "$label load average: $(cut -d' ' -f1-3 /proc/loadavg)"
	$PY - "$T/$prefix.json" "$label" "$(rss_kb "$KPID")" "$(threads "$KPID")" \
		"$(( c1 - c0 ))" "$(( c2 - c1 ))" "$HZ" "$PODS" "$b0" "$b1" <<'PYEOF'
import json, sys
r = json.load(open(sys.argv[1])); label = sys.argv[2]
rss, thr, cstart, csteady, hz, pods = int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6]), int(sys.argv[7]), int(sys.argv[8])
def pct(v, q):
    return v[min(len(v) - 1, int(round(q * (len(v) - 1))))]
sli, cl = r["sli"], r["client"]
print("%-11s pods=%d  startup SLI (creationTimestamp, 1 s resolution): p50 %.2fs p99 %.2fs max %.2fs" %
      (label, r["n"], pct(sli, .5), pct(sli, .99), sli[-1]))
print("%-11s              startup (client POST -> watch Running):          p50 %.3fs p99 %.3fs max %.3fs  all %d running after %.2fs" %
      (label, pct(cl, .5), pct(cl, .99), cl[-1], r["n"], r["wall"]))
b0, b1 = [float(x) for x in sys.argv[9].split()], [float(x) for x in sys.argv[10].split()]
busy, idle = b1[0] - b0[0], b1[1] - b0[1]
print("%-11s machine CPU busy %.0f %% (all cores) while the pods started; the kubelet's share %.0f %%" %
      (label, 100.0 * busy / max(1, busy + idle), 100.0 * cstart / max(1, busy)))
print("%-11s kubelet RSS %.1f MB, %d threads; CPU %.2f s during start-up, %.1f %% of a core steady with %d pods" %
      (label, rss / 1024.0, thr, cstart / hz, 100.0 * csteady / hz / 10, pods))
PYEOF
	# BENCH_OUT=DIR keeps the kubelet's memory map and log of each round for analysis
	if [ -n "${BENCH_OUT:-}" ]; then
		mkdir -p "$BENCH_OUT"
		cp "/proc/$KPID/smaps" "$BENCH_OUT/smaps-$label.txt"
		cp "$T/kubelet.log" "$BENCH_OUT/kubelet-$label.log"
	fi
	kubectl delete pods -l "bench=$prefix" --wait=false >/dev/null
	gone() { [ "$(kubectl get pods -l "bench=$prefix" -o name 2>/dev/null | wc -l)" = 0 ]; }
	wait_for 180 gone || fail "$label: pods not deleted"
}

echo "kubelet benchmark: $PODS pods on one node, images present (targets: p99 <= 1.5 s, RSS <= 30 MB)"
kl_write_config </dev/null
kl_start_kubelet bench-ctrd
bench containerd ctrd
kill "$KPID"; wait "$KPID" 2>/dev/null; KPID=""

# the same with the fake runtime (a hollow node)
KPORT=$(free_port); HPORT=$(free_port)
sed -e "s|^containerRuntimeEndpoint:.*|containerRuntimeEndpoint: \"fake://\"|" \
	-e "s|^port:.*|port: $KPORT|" -e "s|^healthzPort:.*|healthzPort: $HPORT|" \
	"$T/kubelet-config.yaml" >"$T/kubelet-fake.yaml"
NODE="bench-fake-$(od -An -N3 -tx1 /dev/urandom | tr -d ' ')"
"$KUBEC_BUILD/bin/kubelet" --config "$T/kubelet-fake.yaml" --kubeconfig "$T/kubeconfig" \
	--hostname-override "$NODE" --node-ip 127.0.0.1 --root-dir "$T/fake-root" \
	--pod-logs-dir "$T/fake-logs" --cgroup-root "/kubec-bench-fake" --v 2 >>"$T/kubelet.log" 2>&1 &
KPID=$!
wait_for 30 kubectl get node "$NODE" || fail "fake node never registered"
bench fake fake
FAILED=0
