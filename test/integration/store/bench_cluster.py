#!/usr/bin/python3
"""3-member cluster benchmark driver (test/bench/store/cluster.sh): kube-store and etcd 3.4
in the same run, each as 3 members on loopback with fsync on and etcd's default timing
(--heartbeat-interval 100 --election-timeout 1000), the same load generator
(test/bench/store/loadgen.c) against the leader:
  puts at 16 and 64 clients, linearizable single-key ranges at 16 and 64 clients,
  failover: kill -9 the leader, time to the first acknowledged put on a survivor
  (3 times, median).
Prints one table with both servers side by side and the ratio (kube-store / etcd).

bench_cluster.py --loadgen PATH --dir DIR [--secs 3] [--store BIN] [--etcd BIN]
"""

import argparse
import http.client
import json
import os
import signal
import statistics
import subprocess
import sys
import threading
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from cluster import Cluster, b64  # noqa: E402


def loadgen(path, mode, url, n, secs):
    p = subprocess.run([path, mode, url, str(n), str(secs)], capture_output=True, text=True, timeout=secs + 120)
    out = {}
    for tok in p.stdout.split():
        if "=" in tok:
            k, v = tok.split("=", 1)
            out[k] = v
    if p.returncode != 0 or not out:
        out["error"] = (p.stderr or p.stdout).strip()[:200]
    return out


def failover_once(c):
    """kill -9 the leader; put attempts start every 20 ms on the survivors (each may wait
    for the election); returns ms from the kill to the first acknowledged put."""
    lead = c.wait_leader(30)
    survivors = [i for i in range(c.n) if i != lead]
    done = threading.Event()
    first = []
    lock = threading.Lock()

    def attempt(i, seq):
        m = c.members[i]
        try:
            conn = http.client.HTTPConnection(m.host, m.cport, timeout=10)
            conn.request("POST", "/v3/kv/put", body=json.dumps({"key": b64("bench/failover"),
                                                                "value": b64("v%d" % seq)}))
            r = conn.getresponse()
            r.read()
            conn.close()
            if r.status == 200:
                t = time.monotonic()
                with lock:
                    first.append(t)
                done.set()
        except (OSError, http.client.HTTPException):
            pass

    threads = []
    t0 = time.monotonic()
    c.kill(lead)
    seq = 0
    while not done.is_set() and time.monotonic() - t0 < 30:
        th = threading.Thread(target=attempt, args=(survivors[seq % len(survivors)], seq), daemon=True)
        th.start()
        threads.append(th)
        seq += 1
        done.wait(0.02)  # the attempt cadence: one new put every 20 ms until one succeeds
    for th in threads:
        th.join(12)
    c.start(lead)
    c.wait_healthy(60)
    c.wait_converged(60)
    return (min(first) - t0) * 1000 if first else None


def bench(name, binary, workdir, lg, secs, failovers):
    res = {}
    c = Cluster(binary, workdir, heartbeat_ms=100, election_ms=1000, token="bench-" + name)
    os.makedirs(workdir, exist_ok=True)
    try:
        c.start_all()
        try:
            c.wait_healthy(30)
        except RuntimeError as e:
            print("NOTE: %s did not form a 3-member cluster: %s" % (name, e), file=sys.stderr)
            return None
        for mode, label in (("put", "put"), ("range", "range")):
            for n in (16, 64):
                lead = c.wait_leader(30)
                res["%s%d" % (label, n)] = loadgen(lg, mode, c.members[lead].client_url, n, secs)
                print("== %s %s%d: %s" % (name, label, n, res["%s%d" % (label, n)]), file=sys.stderr)
        fos = []
        for _ in range(failovers):
            fos.append(failover_once(c))
        print("== %s failovers (ms): %s" % (name, fos), file=sys.stderr)
        ok = [f for f in fos if f is not None]
        res["failover"] = {"median_ms": "%.0f" % statistics.median(ok) if ok else "n/a",
                           "all_ms": "/".join("%.0f" % f if f is not None else "none" for f in fos)}
    finally:
        c.close()
    return res


def fmt_row(ph, s, e, key="ops_per_s"):
    def g(r, k):
        return (r or {}).get(ph, {}).get(k, "n/a")
    a, b = g(s, key), g(e, key)
    try:
        ratio = "%.2f" % (float(a) / float(b))
    except (ValueError, ZeroDivisionError):
        ratio = "n/a"
    return "%-18s | %10s %8s %8s | %10s %8s %8s | %6s" % (ph, a, g(s, "p50_ms"), g(s, "p99_ms"), b, g(e, "p50_ms"),
                                                         g(e, "p99_ms"), ratio)


def on_term(signum, frame):
    raise SystemExit("terminated by signal %d" % signum)


def main():
    # the calling script's trap sends SIGTERM: unwind through the finally blocks that kill
    # the members
    signal.signal(signal.SIGTERM, on_term)
    ap = argparse.ArgumentParser()
    ap.add_argument("--loadgen", required=True)
    ap.add_argument("--dir", required=True)
    ap.add_argument("--secs", type=float, default=3)
    ap.add_argument("--store", default=None)
    ap.add_argument("--etcd", default="/usr/bin/etcd")
    ap.add_argument("--failovers", type=int, default=3)
    a = ap.parse_args()
    s = None
    if a.store:
        s = bench("kube-store", a.store, os.path.join(a.dir, "store"), a.loadgen, a.secs, a.failovers)
    e = bench("etcd", a.etcd, os.path.join(a.dir, "etcd"), a.loadgen, a.secs, a.failovers)
    print()
    print("3-member kube-store vs 3-member etcd 3.4 (%g s per cell, fsync on, to the leader; ratio = kube-store / etcd)"
          % a.secs)
    print("%-18s | %10s %8s %8s | %10s %8s %8s | %6s" % ("phase", "store op/s", "p50ms", "p99ms", "etcd op/s", "p50ms",
                                                        "p99ms", "ratio"))
    print("-------------------+------------------------------+------------------------------+-------")
    for ph in ("put16", "put64", "range16", "range64"):
        print(fmt_row(ph, s, e))
    fs = (s or {}).get("failover", {})
    fe = (e or {}).get("failover", {})
    try:
        ratio = "%.2f" % (float(fs.get("median_ms")) / float(fe.get("median_ms")))
    except (TypeError, ValueError, ZeroDivisionError):
        ratio = "n/a"
    print("%-18s | %10s %17s | %10s %17s | %6s" % ("failover ms (med)", fs.get("median_ms", "n/a"), fs.get("all_ms", ""),
                                                   fe.get("median_ms", "n/a"), fe.get("all_ms", ""), ratio))
    for name, r in (("kube-store", s), ("etcd", e)):
        for ph, v in (r or {}).items():
            if isinstance(v, dict) and (v.get("error") or v.get("errors", "0") not in ("0", None)):
                print("NOTE: %s %s: errors=%s %s" % (name, ph, v.get("errors"), v.get("error", "")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
