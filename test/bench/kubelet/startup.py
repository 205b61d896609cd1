#!/usr/bin/python3
"""Pod startup latency on one node, as upstream's pod startup SLI
(https://github.com/kubernetes/community/blob/master/sig-scalability/slos/pod_startup_latency.md):
from the pod's creation to the watch event in which it is Running with every container
started, minus image pulling (0 here: images are present).

usage: startup.py NODE COUNT PREFIX

Creates COUNT pods (busybox:1.35 `sleep 3600`) bound to NODE with spec.nodeName, all at
once from 16 threads, while a watch (started before the first POST) records when each
pod is first seen Running with all containers started.  Prints one JSON line:
{"n":..., "sli": [...], "client": [...], "wall": seconds from first POST to last Running,
 "cpu": this script's own CPU seconds (it shares the machine with containerd)}
where "sli" latencies count from metadata.creationTimestamp (RFC 3339, whole seconds, as
upstream's) and "client" from the moment this script sent the POST (sub-second)."""
import json, resource, sys, threading, time
from concurrent.futures import ThreadPoolExecutor
from kubernetes import client, config, watch

node, count, prefix = sys.argv[1], int(sys.argv[2]), sys.argv[3]
config.load_kube_config()
api = client.CoreV1Api()
sent, running, created = {}, {}, {}
done = threading.Event()

def started(p):
    st = p.status
    if not st or st.phase != "Running" or not st.container_statuses:
        return False
    if len(st.container_statuses) != len(p.spec.containers):
        return False
    return all(c.state and c.state.running and c.started for c in st.container_statuses)

def watcher(rv):
    w = watch.Watch()
    for ev in w.stream(api.list_namespaced_pod, "default", label_selector="bench=" + prefix,
                       resource_version=rv, timeout_seconds=300):
        now = time.time()
        p = ev["object"]
        n = p.metadata.name
        if n not in running and started(p):
            running[n] = now
            created[n] = p.metadata.creation_timestamp.timestamp()
            if len(running) >= count:
                break
    done.set()

rv = api.list_namespaced_pod("default", label_selector="bench=" + prefix).metadata.resource_version
t = threading.Thread(target=watcher, args=(rv,), daemon=True)
t.start()
time.sleep(0.2)  # the watch request is on the wire before the first POST

def create(i):
    name = "%s-%03d" % (prefix, i)
    body = {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "labels": {"bench": prefix}},
            "spec": {"nodeName": node, "automountServiceAccountToken": False, "terminationGracePeriodSeconds": 1,
                     "containers": [{"name": "c", "image": "busybox:1.35", "imagePullPolicy": "IfNotPresent",
                                     "command": ["sleep", "3600"]}]}}
    sent[name] = time.time()
    api.create_namespaced_pod("default", body)

t0 = time.time()
with ThreadPoolExecutor(16) as ex:
    list(ex.map(create, range(count)))
if not done.wait(240):
    print(json.dumps({"error": "only %d of %d pods started" % (len(running), count)}))
    sys.exit(1)
sli = sorted(running[n] - created[n] for n in running)
cl = sorted(running[n] - sent[n] for n in running)
ru = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({"n": len(running), "sli": sli, "client": cl, "wall": max(running.values()) - t0,
                  "cpu": ru.ru_utime + ru.ru_stime}))
