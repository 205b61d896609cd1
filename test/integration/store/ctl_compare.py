#!/usr/bin/python3
"""kube-storectl vs etcdctl 3.4: the same command sequence, outputs compared.

ctl_compare.py STORECTL REF_URL CAND_URL

Phase "etcd": etcdctl and kube-storectl both against the reference etcd, each in its own
key prefix. Phase "kube-store": kube-storectl against the candidate vs etcdctl against etcd.
Outputs are compared after masking what legitimately differs between two runs or two
servers: the key prefix, lease and member IDs (random), revisions inside JSON, timings
("took"), ports, member names, versions, DB sizes and Raft indexes.
"""

import base64
import json
import os
import re
import subprocess
import sys

ETCDCTL = "/usr/bin/etcdctl"


def run(tool, url, args, stdin=None):
    env = dict(os.environ, ETCDCTL_API="3")
    ep = url.replace("http://", "")
    p = subprocess.run([tool, "--endpoints=" + ep] + args, input=stdin, capture_output=True, text=True,
                       env=env, timeout=30)
    # etcdctl logs gRPC retries as JSON lines on stderr: not part of the output contract.
    err = "\n".join(l for l in p.stderr.splitlines() if not l.startswith('{"level"'))
    return p.returncode, p.stdout, err


def mask_text(s, prefix):
    s = s.replace(prefix, "<P>")
    s = re.sub(r"\b[0-9a-f]{16}\b", "<ID>", s)
    s = re.sub(r"took = \S+", "took = <T>", s)
    s = re.sub(r"127\.0\.0\.1:\d+", "127.0.0.1:<port>", s)
    s = re.sub(r"remaining\(\d+s\)", "remaining(<n>s)", s)
    return s


def mask_json(v, prefix):
    if isinstance(v, dict):
        out = {}
        for k, x in v.items():
            if k in ("key", "value") and isinstance(x, str):
                try:
                    out[k] = base64.b64decode(x).decode(errors="replace").replace(prefix, "<P>")
                except ValueError:
                    out[k] = x
                continue
            if k in ("header", "Header", "cluster_id", "member_id", "revision", "raft_term", "create_revision",
                     "mod_revision", "ID", "id", "leader", "dbSize", "dbSizeInUse", "raftIndex",
                     "raftAppliedIndex", "raftTerm", "version", "took", "name", "peerURLs", "clientURLs",
                     "Endpoint", "endpoint", "ttl"):
                out[k] = "<masked>" if k != "version" or not isinstance(x, int) else x
                continue
            out[k] = mask_json(x, prefix)
        if "raftIndex" in v:
            # A status: etcd's dbSize is bbolt's file size (never 0); kube-store's is the
            # bytes of stored revisions, 0 (so omitted, proto3) for an empty store.
            out.setdefault("dbSize", "<masked>")
            out.setdefault("dbSizeInUse", "<masked>")
        return out
    if isinstance(v, list):
        return [mask_json(x, prefix) for x in v]
    return v


TABLE_MASK_COLS = {"ID", "VERSION", "DB SIZE", "RAFT TERM", "RAFT INDEX", "RAFT APPLIED INDEX", "TOOK",
                   "NAME", "PEER ADDRS", "CLIENT ADDRS", "ENDPOINT"}


def table_cells(s):
    """Rows of cells of an etcdctl table, with volatile columns masked; plus the border
    shape (a line of '+---+' per separator) checked separately for alignment."""
    lines = s.strip("\n").splitlines()
    if not lines or not lines[0].startswith("+"):
        return None
    rows = [[c.strip() for c in l.strip().strip("|").split("|")] for l in lines if l.startswith("|")]
    hdr = rows[0]
    out = [hdr]
    for r in rows[1:]:
        out.append(["<m>" if hdr[i] in TABLE_MASK_COLS else c for i, c in enumerate(r)])
    # every line of a table has the same width; headers centred, cells right-aligned
    widths = {len(l) for l in lines}
    aligned = all(l[-1] in "+|" for l in lines) and len(widths) == 1
    return {"cells": out, "aligned": aligned, "separators": sum(1 for l in lines if l.startswith("+"))}


# Simple (comma-separated) lines: fields that describe the server itself.
SIMPLE_MASK = {("endpoint", "status"): {1, 2, 3, 6, 7, 8}, ("member", "list"): {0, 2, 3, 4}}


def normal(out, prefix, args=()):
    cols = SIMPLE_MASK.get(tuple(args[:2])) if len(args) == 2 else None
    if cols:
        return [["<m>" if i in cols else f for i, f in enumerate(l.split(", "))]
                for l in mask_text(out, prefix).strip("\n").splitlines()]
    t = table_cells(out)
    if t is not None:
        return t
    lines = out.strip("\n")
    try:
        return mask_json(json.loads(mask_text(lines, prefix)), prefix)
    except ValueError:
        return mask_text(out, prefix)


SEQ = [
    (["put", "{p}a", "1"], None),
    (["put", "{p}a", "2", "--prev-kv"], None),
    (["put", "{p}b", "3"], None),
    (["put", "{p}c", "bin\tvalue with spaces"], None),
    (["put", "{p}stdin"], "from stdin"),
    (["get", "{p}a"], None),
    (["get", "{p}", "--prefix"], None),
    (["get", "{p}", "--prefix", "--keys-only"], None),
    (["get", "{p}", "--prefix", "--limit", "1", "-w", "json"], None),
    (["get", "{p}a", "--print-value-only"], None),
    (["get", "{p}", "--prefix", "--sort-by=VALUE", "--order=DESCEND"], None),
    (["get", "{p}a", "{p}c"], None),
    (["get", "{p}", "--from-key", "--keys-only", "--limit=2"], None),
    (["get", "{p}", "--prefix", "-w", "json"], None),
    (["get", "{p}none"], None),
    (["get"], None),
    (["get", "{p}a", "--rev", "99999999"], None),
    (["put", "{p}d", "x", "-w", "json"], None),
    (["del", "{p}b", "--prev-kv"], None),
    (["del", "{p}zz"], None),
    (["del", "{p}d", "-w", "json"], None),
    (["txn"], 'value("{p}a") = "2"\nmod("{p}a") > "0"\n\nput {p}a 3\nget {p}a\ndel {p}nothing\n\nput {p}a failed\n\n'),
    (["txn"], 'value("{p}a") = "zz"\n\nput {p}a never\n\nget {p}a\nput {p}x "quoted value" --prev-kv\n\n'),
    (["txn", "-w", "json"], 'create("{p}new") = "0"\n\nput {p}new n\n\n\n'),
    (["txn", "-i"], 'value("{p}a") = "3"\n\nput {p}i 1\n\nget {p}a\n\n'),
    (["txn"], 'version("{p}new") = "1"\n\ndel {p}new --prev-kv\n\n\n'),
    (["lease", "grant", "100"], None),
    (["lease", "timetolive", "1234"], None),
    (["lease", "revoke", "1234"], None),
    (["lease", "keep-alive", "--once", "1234"], None),
    (["alarm", "list"], None),
    (["member", "list"], None),
    (["member", "list", "-w", "table"], None),
    (["member", "list", "-w", "json"], None),
    (["endpoint", "status"], None),
    (["endpoint", "status", "-w", "table"], None),
    (["endpoint", "status", "-w", "json"], None),
    (["endpoint", "health"], None),
    (["endpoint", "health", "-w", "table"], None),
    (["defrag"], None),
    (["get", "{p}a", "-w", "table"], None),
    (["lease", "list", "-w", "table"], None),
    (["compaction", "1"], None),
]


def phase(name, tool_a, url_a, pa, tool_b, url_b, pb):
    fails = 0
    for args, stdin in SEQ:
        aa = [x.replace("{p}", pa) for x in args]
        ab = [x.replace("{p}", pb) for x in args]
        ia = stdin.replace("{p}", pa) if stdin else None
        ib = stdin.replace("{p}", pb) if stdin else None
        ra = run(tool_a, url_a, aa, ia)
        rb = run(tool_b, url_b, ab, ib)
        # compare exit status, stdout and stderr (etcdctl prints health lines on stderr)
        na = (ra[0], normal(ra[1], pa, args), mask_text(ra[2], pa).strip())
        nb = (rb[0], normal(rb[1], pb, args), mask_text(rb[2], pb).strip())
        label = " ".join(args)
        if na == nb:
            print("PASS ctl[%s] %s" % (name, label))
        else:
            fails += 1
            print("FAIL ctl[%s] %s" % (name, label))
            print("    etcdctl:       rc=%s out=%r err=%r" % (ra[0], ra[1][:300], ra[2][:300]))
            print("    kube-storectl: rc=%s out=%r err=%r" % (rb[0], rb[1][:300], rb[2][:300]))
    return fails


def main():
    storectl, ref, cand = sys.argv[1:4]
    fails = phase("etcd", ETCDCTL, ref, "ctl-e1/", storectl, ref, "ctl-k1/")
    fails += phase("kube-store", ETCDCTL, ref, "ctl-e2/", storectl, cand, "ctl-k2/")
    print("storectl comparison: %d commands x 2 phases, %d failed" % (len(SEQ), fails))
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
