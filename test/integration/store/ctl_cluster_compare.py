#!/usr/bin/python3
"""kube-storectl vs etcdctl 3.4 on a 3-member cluster: member list|add|remove|update|promote,
endpoint status|health (--cluster, tables), move-leader; outputs compared after masking what
differs between two runs (ids, ports, sizes, raft indexes; see ctl_compare.py).

ctl_cluster_compare.py STORECTL WORKDIR [STORE_BIN]

Phase "etcd": etcdctl, then kube-storectl, run the sequence on one 3-member etcd 3.4 cluster.
Phase "kube-store" (when STORE_BIN is given and forms a 3-member cluster): kube-storectl on
a kube-store cluster vs etcdctl on the etcd cluster. Exit 0 when all outputs match.
"""

import itertools
import json
import os
import re
import signal
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from cluster import Cluster  # noqa: E402
import ctl_compare  # noqa: E402

ETCDCTL = ctl_compare.ETCDCTL


def pre_mask(s):
    # etcdctl prints member ids with %16x (space padded) or %x: one token either way
    s = re.sub(r" +\b[0-9a-f]{8,16}\b", " <ID>", s)
    s = re.sub(r"^[0-9a-f]{8,16}\b", "<ID>", s, flags=re.M)
    s = re.sub(r"127\.0\.0\.1:\d+", "127.0.0.1:<port>", s)
    # the new member's place in ETCD_INITIAL_CLUSTER follows its random id: compare as a set
    def sort_conf(m):
        return 'ETCD_INITIAL_CLUSTER="%s"' % ",".join(sorted(m.group(1).split(",")))
    return re.sub(r'ETCD_INITIAL_CLUSTER="([^"]*)"', sort_conf, s)


def run(tool, eps, args):
    rc, out, err = ctl_compare.run(tool, eps, args)
    return rc, pre_mask(out), pre_mask(err)


def hexid(c, i):
    return "%x" % c.member_id(i)


# etcd 3.4 derives a new member's ID from its peer URLs and the Unix second of the add
# (membership.newMember: sha1(sorted peerURLs + cluster name "" + now.Unix()), called with
# time.Now() by v3rpc's MemberAdd) and refuses a removed ID forever (ValidateConfigurationChange:
# ErrIDRemoved, sent as "etcdserver: member not found"). A turn takes under a second on a fast
# machine, so a second turn on the same cluster re-adding the same peer URLs can land in the
# same second as the first turn's add of them, get the removed ID back and fail. Each turn
# therefore adds members with peer URLs of its own: ports base .. base-5 (never dialled:
# the members stay unstarted), base 1999 for the first turn and 10 lower for each next one.
PEER_PORT_BASE = 1999
PEER_PORT_STEP = 10
_turns = itertools.count()  # turns played so far in this process


class Side:
    def __init__(self, tool, c):
        self.tool = tool
        self.c = c
        self.all = ",".join(m.client_url.replace("http://", "") for m in c.members)
        self.base = PEER_PORT_BASE

    def one(self, i):
        return self.c.members[i].client_url.replace("http://", "")

    def new_turn(self):
        self.base = PEER_PORT_BASE - PEER_PORT_STEP * next(_turns)

    def peer(self, *offsets):
        """--peer-urls value: this turn's ports base-k for each k, comma-separated"""
        return ",".join("http://127.0.0.1:%d" % (self.base - k) for k in offsets)

    def unstarted_id(self):
        rc, out, _ = ctl_compare.run(self.tool, self.all, ["member", "list"])
        for line in out.splitlines():
            f = line.split(", ")
            if len(f) > 1 and f[1] == "unstarted":
                return f[0]
        return "0"


def wait_reconfig_ok(c):
    """etcd refuses membership changes until every member has been connected for 5 s
    ("etcdserver: unhealthy cluster"): probe with an add + remove until one is accepted."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        st, j = c.post(0, "/v3/cluster/member/add", {"peerURLs": ["http://127.0.0.1:1"]})
        if st == 200:
            c.post(0, "/v3/cluster/member/remove", {"ID": j["member"]["ID"]})
            return
        time.sleep(0.2)  # polling the server's readiness for reconfiguration
    raise RuntimeError("cluster never accepted a membership change")


def steps(a, b):
    """(label, fn(side) -> args) pairs; fn runs at the moment of the step, so ids are live."""
    L = lambda s: s.c.leader()  # noqa: E731
    F = lambda s: [i for i in range(3) if i != s.c.leader()][0]  # noqa: E731
    return [
        ("member list", lambda s: (s.all, ["member", "list"])),
        ("member list -w table", lambda s: (s.all, ["member", "list", "-w", "table"])),
        ("member list -w json", lambda s: (s.all, ["member", "list", "-w", "json"])),
        ("endpoint status -w table", lambda s: (s.all, ["endpoint", "status", "-w", "table"])),
        ("endpoint status --cluster", lambda s: (s.one(0), ["endpoint", "status", "--cluster"])),
        ("endpoint status --cluster -w table", lambda s: (s.one(1), ["endpoint", "status", "--cluster", "-w", "table"])),
        ("endpoint status --cluster -w json", lambda s: (s.one(2), ["endpoint", "status", "--cluster", "-w", "json"])),
        ("endpoint health --cluster", lambda s: (s.one(0), ["endpoint", "health", "--cluster"])),
        ("member add", lambda s: (s.all, ["member", "add", "newbie", "--peer-urls=" + s.peer(0)])),
        ("member list (unstarted)", lambda s: (s.all, ["member", "list"])),
        ("member update", lambda s: (s.all, ["member", "update", s.unstarted_id(),
                                             "--peer-urls=" + s.peer(1, 2)])),
        ("member list -w table (updated)", lambda s: (s.all, ["member", "list", "-w", "table"])),
        ("member promote (not a learner in sync)", lambda s: (s.all, ["member", "promote", s.unstarted_id()])),
        ("member remove", lambda s: (s.all, ["member", "remove", s.unstarted_id()])),
        ("member add --learner", lambda s: (s.all, ["member", "add", "learner1", "--learner",
                                                    "--peer-urls", s.peer(3)])),
        ("member list (learner)", lambda s: (s.all, ["member", "list"])),
        ("member promote (learner not started)", lambda s: (s.all, ["member", "promote", s.unstarted_id()])),
        ("member remove -w json", lambda s: (s.all, ["member", "remove", s.unstarted_id(), "-w", "json"])),
        ("member add -w json", lambda s: (s.all, ["member", "add", "j", "--peer-urls=" + s.peer(4),
                                                  "-w", "json"])),
        ("member update -w json", lambda s: (s.all, ["member", "update", s.unstarted_id(),
                                                     "--peer-urls=" + s.peer(5), "-w", "json"])),
        ("member remove (cleanup)", lambda s: (s.all, ["member", "remove", s.unstarted_id()])),
        ("member remove unknown id", lambda s: (s.all, ["member", "remove", "1234"])),
        ("member remove bad id", lambda s: (s.all, ["member", "remove", "zz"])),
        ("member add without name", lambda s: (s.all, ["member", "add"])),
        ("member add without peer urls", lambda s: (s.all, ["member", "add", "x"])),
        ("member update without peer urls", lambda s: (s.all, ["member", "update", "1234"])),
        ("member promote without id", lambda s: (s.all, ["member", "promote"])),
        ("move-leader to a follower", lambda s: (s.all, ["move-leader", hexid(s.c, F(s))])),
        ("move-leader via a follower only", lambda s: (s.one(F(s)), ["move-leader", hexid(s.c, L(s))])),
        ("move-leader to the leader itself", lambda s: (s.all, ["move-leader", hexid(s.c, L(s))])),
        ("move-leader unknown id", lambda s: (s.all, ["move-leader", "1234"])),
        ("move-leader without id", lambda s: (s.all, ["move-leader"])),
        ("move-leader bad id", lambda s: (s.all, ["move-leader", "xyz"])),
        ("endpoint status after moves -w table", lambda s: (s.all, ["endpoint", "status", "-w", "table"])),
    ]


def settle(c):
    c.wait_leader(30)
    c.wait_converged(30)


def play(side):
    """Runs the whole sequence with one tool; the sequence leaves the membership as it found
    it, so both tools can take turns on one cluster."""
    out = []
    side.new_turn()
    for label, fn in steps(side, side):
        settle(side.c)
        eps, args = fn(side)
        out.append((label, args, run(side.tool, eps, args)))
    return out


def order_free(v):
    """Rows in any order: which endpoint is the leader moves between the two runs (and
    --cluster lists members by id), but exactly as many rows must say IS LEADER true."""
    if isinstance(v, list) and v and all(isinstance(r, list) for r in v):
        return sorted(v)
    if isinstance(v, dict) and "cells" in v:
        return dict(v, cells=v["cells"][:1] + sorted(v["cells"][1:]))
    if isinstance(v, dict) and isinstance(v.get("members"), list):
        return dict(v, members=sorted(v["members"], key=lambda m: json.dumps(m, sort_keys=True)))
    return v


def normal(out, args):
    if args[:2] == ["endpoint", "status"] and "-w" not in args:
        # the simple lines: mask id, version, size and the raft figures as ctl_compare does
        return [["<m>" if i in (1, 2, 3, 6, 7, 8) else f for i, f in enumerate(l.split(", "))]
                for l in out.strip("\n").splitlines()]
    return ctl_compare.normal(out, "<none>", args)


def phase(name, ref, cand):
    fails = 0
    for (label, args, ra), (_, _, rb) in zip(play(ref), play(cand)):
        na = (ra[0], order_free(normal(ra[1], args)),
              ctl_compare.mask_text(ra[2], "<none>").strip())
        nb = (rb[0], order_free(normal(rb[1], args)),
              ctl_compare.mask_text(rb[2], "<none>").strip())
        if na == nb:
            print("PASS ctl-cluster[%s] %s" % (name, label))
        else:
            fails += 1
            print("FAIL ctl-cluster[%s] %s: %s" % (name, label, " ".join(args)))
            print("    etcdctl:       rc=%s out=%r err=%r" % (ra[0], ra[1][:400], ra[2][:300]))
            print("    kube-storectl: rc=%s out=%r err=%r" % (rb[0], rb[1][:400], rb[2][:300]))
    return fails


def on_term(signum, frame):
    raise SystemExit("terminated by signal %d" % signum)


def main():
    # the calling script's trap sends SIGTERM: unwind through the finally blocks that kill
    # the members
    signal.signal(signal.SIGTERM, on_term)
    storectl, workdir = sys.argv[1], sys.argv[2]
    store_bin = sys.argv[3] if len(sys.argv) > 3 else None
    ref = Cluster("/usr/bin/etcd", os.path.join(workdir, "etcd"))
    os.makedirs(ref.workdir, exist_ok=True)
    cand = None
    fails = 0
    try:
        ref.start_all()
        ref.wait_healthy(30)
        wait_reconfig_ok(ref)
        nsteps = len(steps(None, None))
        phases = 0
        # CTL_CLUSTER_ETCD_PHASE=0 skips kube-storectl-on-etcd (the second turn on one
        # cluster: see PEER_PORT_BASE for why its adds use peer URLs of their own).
        if os.environ.get("CTL_CLUSTER_ETCD_PHASE", "1") != "0":
            fails += phase("etcd", Side(ETCDCTL, ref), Side(storectl, ref))
            phases = 1
        if store_bin:
            cand = Cluster(store_bin, os.path.join(workdir, "store"))
            os.makedirs(cand.workdir, exist_ok=True)
            cand.start_all()
            try:
                cand.wait_healthy(30)
                st, j = cand.post(0, "/v3/cluster/member/list", {})
                if st != 200 or len(j.get("members") or []) != 3:
                    raise RuntimeError("member list: %s %s" % (st, j))
                wait_reconfig_ok(cand)
            except RuntimeError as e:
                print("SKIP ctl-cluster[kube-store]: %s does not form a 3-member cluster yet (issue #4): %s" %
                      (store_bin, e))
                cand.close()
                cand = None
            if cand:
                fails += phase("kube-store", Side(ETCDCTL, ref), Side(storectl, cand))
                phases += 1
        print("storectl cluster comparison: %d commands x %d phase(s), %d failed" % (nsteps, phases, fails))
    finally:
        ref.close()
        if cand:
            cand.close()
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
