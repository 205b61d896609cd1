#!/usr/bin/python3
"""Load generator for the scheduler benchmark (scheduler_perf's SchedulingBasic shape).

  loadgen.py API CAFILE TOKEN NODES PODS CONCURRENCY SCHED_PID

SCHED_PID 0 selects the "precreate" mode: every pod is created first, then the
scheduler is started (command line in $SCHED_CMD, its pid written to $SCHED_PIDFILE),
and throughput is pods / (last bound - scheduler start): the scheduler's own rate,
informer sync included, without the creation rate as a cap. Latencies are not reported
in that mode (pods waited for the scheduler to exist).

1. creates NODES hollow Node objects through the API (CONCURRENCY keep-alive HTTPS
   connections, one per thread), status set through pods/status when the create drops it;
2. starts $BENCH_PODCREATE_BIN (podcreate.c, built by run.sh), which opens a pod watch
   from the current resourceVersion and says "ready" once the apiserver answered 200;
3. samples the CPU of the stack, tells podcreate to go: it creates PODS pending pods with
   requests (cpu 100m, memory 500Mi as upstream's pod-default.yaml) with CONCURRENCY
   threads (BENCH_CREATOR=python: this script's threads create them, make_pod, and
   podcreate only watches);
4. podcreate's watch records, per pod, when it was first seen and first seen bound
   (spec.nodeName set), until every pod is bound (or a deadline, or 30 s without events),
   and writes those times to a file this script reads.

Prints one JSON object: creation rate, throughput (pods / (last bound - first create)),
p50/p90/p99 latency from the pod's ADDED event to its bound event (both as seen by the
watch), and the scheduler's CPU seconds during the pod phase plus its RSS / peak RSS
(from /proc/SCHED_PID), and the CPU milliseconds per bound pod of the scheduler, the
apiserver ($BENCH_API_PID), the store ($BENCH_STORE_PID) and the benchmark harness itself
(podcreate's creators and watcher plus this script) over the same phase (in the
concurrent mode the apiserver's share includes creating the pods). Exit 1 when some pods
were not bound before the deadline.
"""
import http.client
import json
import os
import resource
import shlex
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

API, CAFILE, TOKEN = sys.argv[1], sys.argv[2], sys.argv[3]
NODES, PODS, CONC = int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
SCHED_PID = int(sys.argv[7])
# BENCH_SHAPE=affinity: issue 6's second case, nodes in 3 zones and pods of 50 apps, each
# pod with required anti-affinity to its app on the host and a DoNotSchedule spread
# (maxSkew 1) of its app over the zones (upstream scheduler_perf's
# SchedulingPodAntiAffinity / TopologySpreading shapes); "basic" (default): SchedulingBasic
SHAPE = os.environ.get("BENCH_SHAPE", "basic")
U = urllib.parse.urlparse(API)
HDRS = {"Authorization": "Bearer " + TOKEN, "Content-Type": "application/json",
        "Accept": "application/json"}


def conn():
    ctx = ssl.create_default_context(cafile=CAFILE)
    return http.client.HTTPSConnection(U.hostname, U.port, context=ctx, timeout=120)


def call(c, method, path, body=None, ctype=None):
    h = dict(HDRS)
    if ctype:
        h["Content-Type"] = ctype
    c.request(method, path, body=json.dumps(body) if body is not None else None, headers=h)
    r = c.getresponse()
    data = r.read()
    return r.status, data


def run_parallel(n, fn):
    """fn(c, i) for i in range(n) over CONC threads, each with its own connection."""
    errors = []
    lock = threading.Lock()
    nxt = [0]

    def worker():
        c = conn()
        while True:
            with lock:
                i = nxt[0]
                nxt[0] += 1
            if i >= n:
                break
            for attempt in range(5):
                try:
                    err = fn(c, i)
                    break
                except (OSError, http.client.HTTPException) as e:  # reconnect, retry
                    err = str(e)
                    c.close()
                    c = conn()
            if err:
                with lock:
                    errors.append(err)
        c.close()

    ts = [threading.Thread(target=worker) for _ in range(CONC)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return errors


def make_node(c, i):
    name = "hollow-%05d" % i
    res = {"cpu": "4", "memory": "32Gi", "pods": "110"}
    labels = {"kubernetes.io/hostname": name}
    if SHAPE == "affinity":
        labels["topology.kubernetes.io/zone"] = "zone-%d" % (i % 3)
    body = {"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": name, "labels": labels},
            "status": {"capacity": res, "allocatable": res,
                       "conditions": [{"type": "Ready", "status": "True"}]}}
    st, data = call(c, "POST", "/api/v1/nodes", body)
    if st != 201:
        return "node %s: HTTP %d %s" % (name, st, data[:200])
    got = json.loads(data).get("status", {}).get("allocatable", {})
    if got.get("memory") != "32Gi":
        st, data = call(c, "PATCH", "/api/v1/nodes/%s/status" % name,
                        {"status": {"capacity": res, "allocatable": res}},
                        "application/merge-patch+json")
        if st != 200:
            return "node %s status: HTTP %d %s" % (name, st, data[:200])
    return None


def make_pod(c, i):
    name = "bench-%06d" % i
    body = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"containers": [{"name": "pause", "image": "registry.k8s.io/pause:3.10",
                                     "resources": {"requests": {"cpu": "100m",
                                                                "memory": "500Mi"}}}]}}
    if SHAPE == "affinity":
        app = {"app": "app-%d" % (i % 50)}
        body["metadata"]["labels"] = app
        body["spec"]["affinity"] = {"podAntiAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": [
                {"labelSelector": {"matchLabels": app},
                 "topologyKey": "kubernetes.io/hostname"}]}}
        body["spec"]["topologySpreadConstraints"] = [
            {"maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone",
             "whenUnsatisfiable": "DoNotSchedule", "labelSelector": {"matchLabels": app}}]
    st, data = call(c, "POST", "/api/v1/namespaces/default/pods", body)
    if st != 201:
        return "pod %s: HTTP %d %s" % (name, st, data[:200])
    return None


def proc_cpu(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def proc_mem(pid):
    rss = hwm = 0
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1]) // 1024
            elif line.startswith("VmHWM:"):
                hwm = int(line.split()[1]) // 1024
    return rss, hwm


def store_counts():
    """Counters of the store ($BENCH_STORE_URL /metrics): WAL fsyncs, applied proposals and
    the Range / Txn RPCs served, to split the store's cost per pod. {} without the URL."""
    url = os.environ.get("BENCH_STORE_URL", "")
    if not url:
        return {}
    import urllib.request
    out = {"fsync": 0.0, "proposals": 0.0, "Range": 0.0, "Txn": 0.0}
    try:
        text = urllib.request.urlopen(url + "/metrics", timeout=10).read().decode()
    except OSError:
        return {}
    for line in text.splitlines():
        if line.startswith("etcd_disk_wal_fsync_duration_seconds_count"):
            out["fsync"] = float(line.split()[-1])
        elif line.startswith("etcd_server_proposals_applied_total"):
            out["proposals"] = float(line.split()[-1])
        elif line.startswith("grpc_server_handled_total{"):
            for m in ("Range", "Txn"):
                if 'grpc_method="%s"' % m in line:
                    out[m] += float(line.split()[-1])
    return out


def pct(sorted_vals, p):
    if not sorted_vals:
        return float("nan")
    k = min(len(sorted_vals) - 1, int(round(p / 100.0 * (len(sorted_vals) - 1))))
    return sorted_vals[k]


def main():
    t0 = time.time()
    errs = run_parallel(NODES, make_node)
    t_nodes = time.time() - t0
    if errs:
        print(json.dumps({"error": "node creation", "first": errs[:3], "count": len(errs)}))
        return 1
    c = conn()
    st, data = call(c, "GET", "/api/v1/namespaces/default/pods?limit=1")
    c.close()
    if st != 200:
        print(json.dumps({"error": "list pods: HTTP %d" % st}))
        return 1
    rv = json.loads(data)["metadata"]["resourceVersion"]
    tmp = tempfile.mkdtemp(prefix="loadgen.")
    procs = []
    try:
        return pod_phase(rv, t_nodes, tmp, procs)
    finally:
        for p in procs:  # podcreate, when an error left it running
            if p.poll() is None:
                p.kill()
                p.wait()
        for f in os.listdir(tmp):
            os.unlink(os.path.join(tmp, f))
        os.rmdir(tmp)


def self_cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def pod_phase(rv, t_nodes, tmp, procs):
    times_path = os.path.join(tmp, "times")
    err = open(os.path.join(tmp, "podcreate.err"), "w+")
    python_creator = os.environ.get("BENCH_CREATOR", "c") == "python"
    deadline_s = 120 + PODS / 20.0
    pc = subprocess.Popen([os.environ["BENCH_PODCREATE_BIN"], API, TOKEN, CAFILE, str(PODS),
                           "0" if python_creator else str(CONC), SHAPE, str(rv), times_path,
                           str(deadline_s)],
                          stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err, text=True)
    procs.append(pc)

    def fail(what):
        pc.kill()
        pc.wait()
        err.seek(0)
        msg = err.read().strip()
        print(json.dumps({"error": what, "podcreate": msg[-500:]}))
        return 1

    line = pc.stdout.readline().split()
    if line[:1] != ["ready"]:
        return fail("watch not ready: %s" % " ".join(line))
    sched_pid = SCHED_PID
    others = [int(os.environ.get(k, "0") or 0) for k in ("BENCH_API_PID", "BENCH_STORE_PID")]
    cpu0 = proc_cpu(sched_pid) if sched_pid else 0.0
    ocpu0 = [proc_cpu(p) if p else 0.0 for p in others]
    sc0 = store_counts()
    self0 = self_cpu()
    hcpu0 = proc_cpu(pc.pid) + self0  # the harness: podcreate + this script
    t_start = time.time()
    pc.stdin.write("go\n")
    pc.stdin.flush()
    errs = run_parallel(PODS, make_pod) if python_creator else []
    t_created = time.time()
    line = pc.stdout.readline().split()
    if line[:1] != ["created"] or len(line) != 4:
        return fail("podcreate: %s" % " ".join(line))
    if not python_creator:  # podcreate's own clock around its creations
        t_start, t_created = float(line[1]), float(line[2])
        if int(line[3]):
            errs = ["%s pods failed" % line[3]]
    if errs:
        return fail("pod creation: %d errors, first %s" % (len(errs), errs[:3]))
    create_rate = PODS / max(t_created - t_start, 1e-9)
    if not sched_pid:
        log = open(os.environ["SCHED_LOG"], "a")
        ocpu0 = [proc_cpu(p) if p else 0.0 for p in others]
        hcpu0 = proc_cpu(pc.pid) + self_cpu()
        t_start = time.time()
        proc = subprocess.Popen(shlex.split(os.environ["SCHED_CMD"]), stdout=log,
                                stderr=subprocess.STDOUT)
        sched_pid = proc.pid
        with open(os.environ["SCHED_PIDFILE"], "w") as f:
            f.write("%d\n" % sched_pid)
    line = pc.stdout.readline().split()
    # podcreate's whole CPU from its rusage once it exited, this script's up to now
    _, status, ru = os.wait4(pc.pid, 0)
    pc.returncode = os.waitstatus_to_exitcode(status)
    self1 = self_cpu()
    hcpu = ru.ru_utime + ru.ru_stime + self1 - hcpu0
    cpu1 = proc_cpu(sched_pid)
    ocpu1 = [proc_cpu(p) if p else 0.0 for p in others]
    sc1 = store_counts()
    rss, hwm = proc_mem(sched_pid)
    if line[:1] != ["done"] or len(line) != 5 or pc.returncode != 0:
        err.seek(0)
        print(json.dumps({"error": "watch: %s (exit %d)" % (" ".join(line), pc.returncode),
                          "podcreate": err.read().strip()[-500:]}))
        return 1
    added, bound = {}, {}
    with open(times_path) as f:
        for row in f:
            i, a, b = row.split()
            if float(a):
                added[int(i)] = float(a)
            if float(b):
                bound[int(i)] = float(b)
    lat = sorted(bound[n] - added[n] for n in bound if n in added) if SCHED_PID else []
    last = max(bound.values()) if bound else t_start
    out = {
        "mode": "precreate" if not SCHED_PID else "concurrent",
        "nodes": NODES, "pods": PODS, "concurrency": CONC,
        "creator": "python" if python_creator else "c",
        "node_create_s": round(t_nodes, 2),
        "pod_create_per_s": round(create_rate, 1),
        "bound": len(bound),
        "wall_s": round(last - t_start, 2),
        "pods_per_s": round(len(bound) / max(last - t_start, 1e-9), 1),
        "p50_ms": round(pct(lat, 50) * 1000, 1),
        "p90_ms": round(pct(lat, 90) * 1000, 1),
        "p99_ms": round(pct(lat, 99) * 1000, 1),
        "sched_cpu_s": round(cpu1 - cpu0, 2),
        "sched_rss_mb": rss, "sched_peak_rss_mb": hwm,
        "sched_ms_per_pod": round((cpu1 - cpu0) * 1000 / max(len(bound), 1), 2),
        "api_ms_per_pod": round((ocpu1[0] - ocpu0[0]) * 1000 / max(len(bound), 1), 2),
        "store_ms_per_pod": round((ocpu1[1] - ocpu0[1]) * 1000 / max(len(bound), 1), 2),
        "harness_ms_per_pod": round(hcpu * 1000 / max(len(bound), 1), 3),
        # podcreate's creator and watcher threads over their whole life, this script from
        # the first creation (the precreate mode's harness figure starts later)
        "harness_split_ms_per_pod": {
            k: round(v * 1000 / max(len(bound), 1), 3)
            for k, v in (("creators", float(line[3])), ("watch", float(line[4])),
                         ("loadgen", self1 - self0))},
        "api_rss_mb": proc_mem(others[0])[0] if others[0] else 0,
        "store_rss_mb": proc_mem(others[1])[0] if others[1] else 0,
        "store_per_pod": {k: round((sc1.get(k, 0) - sc0.get(k, 0)) / max(len(bound), 1), 2)
                          for k in sc0} if sc0 and sc1 else {},
    }
    print(json.dumps(out))
    return 0 if len(bound) == PODS else 1


if __name__ == "__main__":
    sys.exit(main())
