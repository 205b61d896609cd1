#!/usr/bin/python3
"""Where a pod's start-up time goes inside the kubelet, from its log (klog lines at -v 2+).

usage: timeline.py KUBELET_LOG PREFIX

For every pod named PREFIX-* it takes the klog timestamps of
  "SyncLoop ADD"        the pod reached the kubelet (watch event -> pod manager)
  "Created pod sandbox" RunPodSandbox returned
  "Pulled" event        PodSandboxStatus + ImageStatus returned (image present)
  "Created container"   CreateContainer returned
  "Started container"   StartContainer returned
  "Patch status"        the status PATCH that follows (first one after the start)
and prints p50/p99 of each step, of ADD -> Started (the kubelet's own share of the
start-up, CRI included), and the spread of ADD and Started instants, so the figures can
be set beside containerd alone (ctrd_anchor.c): if ADD -> Started is about the anchor's
per-pod time at the same concurrency, the kubelet adds nothing on the CRI path."""
import re, sys
from datetime import datetime

path, prefix = sys.argv[1], sys.argv[2]
LINE = re.compile(r'^[IWE](\d{4} \d\d:\d\d:\d\d\.\d+)\s+\d+ \S+\] (.*)$')
POD = re.compile(r'(?:pod|object)="default/(%s-\d+)"' % re.escape(prefix))
STEPS = [("add", '"SyncLoop ADD"'), ("sandbox", '"Created pod sandbox"'), ("pulled", 'reason="Pulled"'),
         ("created", '"Created container"'), ("started", '"Started container"'),
         ("patched", '"Patch status for pod"')]
t = {}
year = datetime.now().year
for line in open(path, errors="replace"):
    m = LINE.match(line)
    if not m:
        continue
    p = POD.search(m.group(2))
    if not p:
        continue
    ts = datetime.strptime("%d%s" % (year, m.group(1)), "%Y%m%d %H:%M:%S.%f").timestamp()
    d = t.setdefault(p.group(1), {})
    for key, needle in STEPS:
        if needle in m.group(2) and key not in d:
            # the status PATCH that counts is the first one after the start
            if key == "patched" and "started" not in d:
                continue
            d[key] = ts
            break
full = [d for d in t.values() if all(k in d for k, _ in STEPS)]
if not full:
    print("timeline: no complete pod timeline for %s-* in %s" % (prefix, path))
    sys.exit(0)


def pct(v, q):
    v = sorted(v)
    return v[min(len(v) - 1, int(round(q * (len(v) - 1))))]


def show(label, a, b):
    v = [d[b] - d[a] for d in full]
    return "%s p50 %.2f/p99 %.2fs" % (label, pct(v, .5), pct(v, .99))


t0 = min(d["add"] for d in full)
print("kubelet log timeline (%d pods): ADD spread %.2fs, last Started %.2fs after the first ADD" %
      (len(full), max(d["add"] for d in full) - t0, max(d["started"] for d in full) - t0))
print("  " + "; ".join([show("ADD->sandbox", "add", "sandbox"), show("sandbox->image ok", "sandbox", "pulled"),
                        show("->Created", "pulled", "created"), show("->Started", "created", "started"),
                        show("->status PATCH", "started", "patched")]))
print("  " + show("ADD->Started (kubelet + CRI)", "add", "started"))
