#!/usr/bin/python3
"""Load generator for the controller-manager benchmark.

  loadgen.py API CAFILE TOKEN DEPLOYMENTS REPLICAS CONCURRENCY CM_PID DEADLINE_S

1. opens a pod watch and a Deployment watch from the current resourceVersion (threads);
2. creates DEPLOYMENTS Deployments of REPLICAS replicas with CONCURRENCY keep-alive
   HTTPS connections (one per thread), all at once;
3. waits until the watch has seen DEPLOYMENTS*REPLICAS pods added and every Deployment
   reporting status.replicas == REPLICAS (or DEADLINE_S passes).

Prints one JSON object: creation time, time to all pods, time to all Deployment
statuses (both from the first create), and the controller-manager's CPU seconds over
the run and its RSS / peak RSS (VmRSS / VmHWM of CM_PID). Exit 1 on timeout.
"""
import http.client
import json
import os
import ssl
import sys
import threading
import time
import urllib.parse

API, CAFILE, TOKEN = sys.argv[1], sys.argv[2], sys.argv[3]
NDEP, REPL, CONC = int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
CM_PID, DEADLINE = int(sys.argv[7]), float(sys.argv[8])
U = urllib.parse.urlparse(API)
HDRS = {"Authorization": "Bearer " + TOKEN, "Content-Type": "application/json",
        "Accept": "application/json"}
TICK = os.sysconf("SC_CLK_TCK")


def conn(timeout=120):
    ctx = ssl.create_default_context(cafile=CAFILE)
    return http.client.HTTPSConnection(U.hostname, U.port, context=ctx, timeout=timeout)


def call(c, method, path, body=None):
    c.request(method, path, body=json.dumps(body) if body is not None else None,
              headers=HDRS)
    r = c.getresponse()
    data = r.read()
    return r.status, data


def cpu_s(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def mem_kb(pid, key):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


lock = threading.Lock()
pods_seen = set()
deps_done = set()
t_pods = [None]
t_deps = [None]
t0 = [None]
errors = []


def watch(path, rv, handle):
    c = conn(timeout=DEADLINE + 60)
    c.request("GET", "%s?watch=true&resourceVersion=%s&allowWatchBookmarks=false" % (path, rv),
              headers=HDRS)
    r = c.getresponse()
    if r.status != 200:
        errors.append("watch %s: %d" % (path, r.status))
        return
    while True:
        line = r.readline()
        if not line:
            return
        try:
            ev = json.loads(line)
        except ValueError:
            continue
        if handle(ev):
            return


def on_pod(ev):
    if ev.get("type") != "ADDED":
        return False
    with lock:
        pods_seen.add(ev["object"]["metadata"]["name"])
        if len(pods_seen) >= NDEP * REPL and t_pods[0] is None:
            t_pods[0] = time.monotonic()
            return True
    return False


def on_dep(ev):
    if ev.get("type") not in ("ADDED", "MODIFIED"):
        return False
    o = ev["object"]
    if (o.get("status") or {}).get("replicas") == REPL:
        with lock:
            deps_done.add(o["metadata"]["name"])
            if len(deps_done) >= NDEP and t_deps[0] is None:
                t_deps[0] = time.monotonic()
                return True
    return False


def dep(i):
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "bench-%04d" % i},
            "spec": {"replicas": REPL,
                     "selector": {"matchLabels": {"app": "bench-%04d" % i}},
                     "template": {"metadata": {"labels": {"app": "bench-%04d" % i}},
                                  "spec": {"containers": [{"name": "c",
                                                           "image": "registry.k8s.io/pause:3.9"}]}}}}


def creator(k):
    c = conn()
    for i in range(k, NDEP, CONC):
        for attempt in range(5):
            try:
                st, data = call(c, "POST", "/apis/apps/v1/namespaces/default/deployments", dep(i))
            except Exception as e:  # reconnect once the server closed a keep-alive
                c = conn()
                st, data = 0, str(e).encode()
            if st in (200, 201, 409):
                break
            time.sleep(0.1 * (attempt + 1))
        else:
            errors.append("create %d: %s %s" % (i, st, data[:200]))


def main():
    c = conn()
    st, data = call(c, "GET", "/api/v1/namespaces/default/pods?limit=1")
    rv_p = json.loads(data)["metadata"]["resourceVersion"]
    st, data = call(c, "GET", "/apis/apps/v1/namespaces/default/deployments?limit=1")
    rv_d = json.loads(data)["metadata"]["resourceVersion"]
    for path, rv, h in (("/api/v1/namespaces/default/pods", rv_p, on_pod),
                        ("/apis/apps/v1/namespaces/default/deployments", rv_d, on_dep)):
        threading.Thread(target=watch, args=(path, rv, h), daemon=True).start()
    cpu0 = cpu_s(CM_PID)
    rss0 = mem_kb(CM_PID, "VmRSS")
    t0[0] = time.monotonic()
    ts = [threading.Thread(target=creator, args=(k,)) for k in range(CONC)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    t_created = time.monotonic()
    end = t0[0] + DEADLINE
    peak = 0
    while time.monotonic() < end and (t_pods[0] is None or t_deps[0] is None):
        peak = max(peak, mem_kb(CM_PID, "VmRSS"))
        time.sleep(0.2)
    cpu1 = cpu_s(CM_PID)
    res = {
        "deployments": NDEP, "replicas": REPL, "concurrency": CONC,
        "create_s": round(t_created - t0[0], 2),
        "pods_seen": len(pods_seen), "deployments_done": len(deps_done),
        "all_pods_s": round(t_pods[0] - t0[0], 2) if t_pods[0] else None,
        "all_status_s": round(t_deps[0] - t0[0], 2) if t_deps[0] else None,
        "cm_cpu_s": round(cpu1 - cpu0, 2),
        "cm_rss_before_mb": round(rss0 / 1024, 1),
        "cm_rss_mb": round(mem_kb(CM_PID, "VmRSS") / 1024, 1),
        "cm_peak_rss_mb": round(max(peak, mem_kb(CM_PID, "VmHWM")) / 1024, 1),
        "errors": errors[:5],
    }
    print(json.dumps(res))
    return 0 if t_pods[0] and t_deps[0] else 1


sys.exit(main())
