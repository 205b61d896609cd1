#!/bin/sh
# kubelet benchmark (issue 8 item 12): pod startup latency for BENCH_PODS (default 100)
# pods on one node with images present, upstream's SLI (creation -> Running with all
# containers started, observed through a watch; image pulls are 0 here), p50/p99, and the
# kubelet's RSS and CPU with the pods running; first with containerd (kube-store +
# kube-apiserver + a private containerd from test/integration/kubelet/containerd.sh + one
# kubelet), then the same with the fake runtime (fake://) for comparison.
# Targets (issue 8): p99 <= 1.5 s with containerd, kubelet RSS <= 30 MB with 100 pods.
# The anchor, in the same run after the kubelet rounds: containerd alone
# (ctrd_anchor.c: the kubelet's CRI client and request shapes, no apiserver, no
# kubelet) starting the same pods on the same containerd with N concurrent workers, for
# each N in BENCH_ANCHOR (default "100 16 4"; "100x10" = 100 workers over 10 HTTP/2
# connections), so the figures say how much of the start-up time is containerd's.
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
# the store and the apiserver (kc_cleanup's pid list)
cp_ticks() {
	t=0
	for p in $KC_PIDS; do
		[ -r "/proc/$p/stat" ] && t=$((t + $(ticks "$p")))
	done
	echo "$t"
}
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
	cut -d' ' -f1-3 /proc/loadavg >"$T/load-$prefix"
	echo "$label round starts, load average: $(cat "$T/load-$prefix")"
	c0=$(ticks "$KPID"); b0=$(busy); r0=$(ctrd_ticks); p0=$(cp_ticks)
	$PY "$REPO/test/bench/kubelet/startup.py" "$NODE" "$PODS" "$prefix" >"$T/$prefix.json" || {
		cat "$T/$prefix.json"; fail "$label: pods did not all start"; }
	c1=$(ticks "$KPID"); b1=$(busy); r1=$(ctrd_ticks); p1=$(cp_ticks)
	# steady state: 10 s with every pod running (probes none; PLEG relists + resyncs)
	sleep 10
	c2=$(ticks "$KPID"); r2=$(ctrd_ticks)
	[ "$label" = fake ] || echo "$label containerd (daemon + shims) CPU $(echo "$r0 $r1 $r2 $HZ" | awk '{printf "%.2f s during start-up, %.1f %% of a core steady", ($2-$1)/$4, 100*($3-$2)/$4/10}')"
	# what the anchor does not have: the control plane and this benchmark's client share
	# the 2 cores with containerd while the pods start
	echo "$label control plane (store + apiserver) CPU $(echo "$p0 $p1 $HZ" | awk '{printf "%.2f", ($2-$1)/$3}') s, benchmark client (startup.py) CPU $($PY -c 'import json,sys; print("%.2f" % json.load(open(sys.argv[1])).get("cpu", 0))' "$T/$prefix.json") s during start-up"
	echo "$label load average: $(cut -d' ' -f1-3 /proc/loadavg)"
	[ "$label" = fake ] || $PY "$REPO/test/bench/kubelet/timeline.py" "$T/kubelet.log" "$prefix"
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
kill "$KPID"; wait "$KPID" 2>/dev/null; KPID=""

# ---- the anchor: containerd alone, same containerd, same pods, no kubelet
ANCHOR=$T/ctrd_anchor
# shellcheck disable=SC2046 # pkg-config's word list
cc -std=gnu11 -D_GNU_SOURCE -O2 -Wall -Wextra -Wno-unused-parameter -Wshadow -Wmissing-prototypes \
	-Wstrict-prototypes -Werror -pthread -I"$REPO/common" -I"$REPO/kubelet" -I"$KUBEC_BUILD/gen" \
	-o "$ANCHOR" "$REPO/test/bench/kubelet/ctrd_anchor.c" \
	"$KUBEC_BUILD/lib/libkubelet.a" "$KUBEC_BUILD/lib/libkubec.a" \
	$(pkg-config --libs libmicrohttpd gnutls libcurl libcjson openssl libprotobuf-c yaml-0.1 libnghttp2) \
	-lpthread -lm || fail "cannot build ctrd_anchor"
for spec in ${BENCH_ANCHOR:-100 16 4}; do
	w=${spec%%x*}; c=1
	case $spec in *x*) c=${spec#*x} ;; esac
	mkdir -p "$T/anchor-$spec"
	cut -d' ' -f1-3 /proc/loadavg >"$T/load-anchor-$spec"
	echo "anchor $spec round starts, load average: $(cat "$T/load-anchor-$spec")"
	"$ANCHOR" "$CTRD_ENDPOINT" "$CTRD_CGROUP" "$T/anchor-$spec" "$PODS" "$w" "$c" "$CTRD_PID" \
		>"$T/anchor-$spec.txt" 2>"$T/anchor-$spec.err" ||
		{ cat "$T/anchor-$spec.txt" "$T/anchor-$spec.err"; fail "containerd alone ($spec): not every pod started and was removed"; }
	cat "$T/anchor-$spec.txt"
	echo "$(printf '%-34s' '') load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
done

# ---- side by side: the kubelet's burst against containerd's own
echo
echo "side by side ($PODS pods created at once; target p99 <= 1.5 s):"
$PY - "$T/ctrd.json" "$T/fake.json" "$(cat "$T/load-ctrd")" "$(cat "$T/load-fake")" <<'PYEOF'
import json, sys
def pct(v, q):
    return v[min(len(v) - 1, int(round(q * (len(v) - 1))))]
for path, label, load in ((sys.argv[1], "kubelet + containerd", sys.argv[3]),
                          (sys.argv[2], "kubelet + fake runtime", sys.argv[4])):
    r = json.load(open(path))
    cl = r["client"]
    print("  %-34s p50 %6.2f s  p99 %6.2f s  (POST -> watch Running)  load at start %s" %
          (label, pct(cl, .5), pct(cl, .99), load))
PYEOF
for spec in ${BENCH_ANCHOR:-100 16 4}; do
	awk -v load="$(cat "$T/load-anchor-$spec")" '/since burst start/ {
		lbl = $0; sub(/ +pods=.*/, "", lbl)
		for (i = 1; i <= NF; i++) { if ($i == "p50") p50 = $(i+1); if ($i == "p99") p99 = $(i+1) }
		sub(/s$/, "", p50); sub(/s$/, "", p99)
		printf "  %-34s p50 %6.2f s  p99 %6.2f s  (burst -> StartContainer)  load at start %s\n", lbl, p50, p99, load }' \
		"$T/anchor-$spec.txt"
done
echo "  load average now: $(cut -d' ' -f1-3 /proc/loadavg)"
# the floor a burst cannot beat on this machine, whoever drives containerd
for spec in ${BENCH_ANCHOR:-100 16 4}; do
	sed -n "s/^ *CPU per pod/  containerd alone ($spec): CPU per pod/p" "$T/anchor-$spec.txt"
done
FAILED=0
