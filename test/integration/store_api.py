#!/usr/bin/python3
"""etcd v3 JSON API comparison suite: the same request sequence to a reference server
(Debian's etcd 3.4) and to a candidate (kube-store), responses compared field by field.

Usage: store_api.py --ref http://127.0.0.1:P --cand http://127.0.0.1:Q [--only NAME]

Both servers must be fresh and started with the same flags (store_api.sh does that, with
--max-request-bytes 16384 so the oversized-request case is cheap). Run with --cand equal to
--ref to check the harness itself: every case must pass.

Each case is a function of one server handle that returns a transcript (a list of
observations: HTTP status, content type where it matters, the decoded body). The case runs
on the reference, then on the candidate, and the two transcripts must be equal after
normalisation:

  * cluster_id, member_id and raft_term are removed from every header (they are random
    per cluster / depend on elections; the issue allows it).
  * Revisions (header.revision, create_revision, mod_revision, compact_revision, and the
    revision in nested headers) are rewritten relative to the revision at which the case
    started, so one failed case does not shift every later one.

Deliberate exceptions (each with its reason):
  * status: version, dbSize, dbSizeInUse, raftIndex, raftAppliedIndex, leader are compared
    by presence and type only: they describe each server's own storage engine and Raft log.
  * member/list: ID, name, peerURLs and clientURLs are compared by shape only (the member ID
    is random, the URLs carry each server's own ports).
  * lease IDs chosen by the server are replaced by a placeholder (they are random in etcd);
    the cases use client-chosen IDs wherever the value matters.
  * timetolive "TTL" (the remaining time) is compared as "0 < TTL <= grantedTTL": the two
    servers are asked a moment apart and may round the remaining second differently.
  * JSON syntax errors: HTTP status and code are compared, the message only for being
    present. The text is Go's encoding/json wording ("invalid character 'b' looking for
    ...") which is an artefact of etcd's implementation language, not of the API.
"""

import argparse
import base64
import difflib
import http.client
import json
import socket
import sys
import time
import urllib.parse

STREAM_TIMEOUT = 10.0  # seconds to wait for one watch message before failing the case


def b64(s):
    if isinstance(s, str):
        s = s.encode()
    return base64.b64encode(s).decode()


class CaseError(Exception):
    pass


class Server:
    """One target: unary POSTs and streaming watches over http.client."""

    def __init__(self, url):
        u = urllib.parse.urlparse(url)
        self.host, self.port = u.hostname, u.port
        self.rev0 = 0

    def conn(self, timeout=10):
        return http.client.HTTPConnection(self.host, self.port, timeout=timeout)

    def raw(self, method, path, body=None, headers=None):
        c = self.conn()
        try:
            h = {"Content-Type": "application/json"}
            if headers:
                h.update(headers)
            if isinstance(body, (dict, list)):
                body = json.dumps(body)
            c.request(method, path, body=body, headers=h)
            r = c.getresponse()
            data = r.read()
            return r.status, r.getheader("Content-Type", ""), data
        finally:
            c.close()

    def post(self, path, body):
        st, ct, data = self.raw("POST", path, body)
        try:
            j = json.loads(data) if data else None
        except ValueError:
            j = {"_text": data.decode(errors="replace")}
        return st, j

    def revision(self):
        st, j = self.post("/v3/kv/range", {"key": b64("\0"), "range_end": b64("\0"), "count_only": True})
        if st != 200:
            raise CaseError("cannot read the current revision: %s %s" % (st, j))
        return int(j["header"]["revision"])

    def watch(self, *reqs):
        return WatchStream(self, reqs)


class WatchStream:
    def __init__(self, server, reqs):
        self.c = server.conn(timeout=STREAM_TIMEOUT)
        body = "".join(json.dumps(r) for r in reqs)
        self.c.request("POST", "/v3/watch", body=body, headers={"Content-Type": "application/json"})
        self.r = self.c.getresponse()
        self.status = self.r.status

    def next(self):
        """The next {"result":...} message, decoded (None at end of stream)."""
        try:
            line = self.r.readline()
        except (socket.timeout, TimeoutError):
            raise CaseError("no watch message within %.0fs" % STREAM_TIMEOUT)
        if not line:
            return None
        line = line.strip()
        if not line:
            return self.next()
        return json.loads(line)

    def close(self):
        try:
            self.c.close()
        except OSError:
            pass


# ---------------------------------------------------------------- normalisation

REV_FIELDS = {"revision", "create_revision", "mod_revision", "compact_revision"}
DROP_HEADER = {"cluster_id", "member_id", "raft_term"}


def normalise(obj, rev0):
    if isinstance(obj, dict):
        out = {}
        for k, v in obj.items():
            if k == "header" and isinstance(v, dict):
                v = {hk: hv for hk, hv in v.items() if hk not in DROP_HEADER}
            if k in REV_FIELDS and isinstance(v, str) and v.lstrip("-").isdigit():
                out[k] = "R%+d" % (int(v) - rev0) if int(v) > 0 else v
                continue
            out[k] = normalise(v, rev0)
        return out
    if isinstance(obj, list):
        return [normalise(x, rev0) for x in obj]
    return obj


class T:
    """A transcript being recorded for one server."""

    def __init__(self, server):
        self.s = server
        self.items = []

    def note(self, label, value):
        self.items.append({"step": label, "value": normalise(value, self.s.rev0)})

    def post(self, label, path, body):
        st, j = self.s.post(path, body)
        self.note(label, {"status": st, "body": j})
        return st, j

    def raw(self, label, method, path, body=None, headers=None, keep_body=True):
        st, ct, data = self.s.raw(method, path, body, headers)
        ct = ct.split(";")[0].strip()
        v = {"status": st, "content_type": ct}
        if keep_body:
            try:
                v["body"] = json.loads(data)
            except ValueError:
                v["body"] = data.decode(errors="replace").strip()
        self.note(label, v)
        return st, data


def rel(s, n):
    """An absolute revision n steps after the case's start, as a request value."""
    return str(s.rev0 + n)


# ---------------------------------------------------------------- cases: KV

def case_put_and_range_single(t):
    s = t.s
    t.post("put", "/v3/kv/put", {"key": b64("put/a"), "value": b64("1")})
    t.post("put prev_kv", "/v3/kv/put", {"key": b64("put/a"), "value": b64("2"), "prev_kv": True})
    t.post("put empty value", "/v3/kv/put", {"key": b64("put/empty")})
    t.post("range", "/v3/kv/range", {"key": b64("put/a")})
    t.post("range empty value", "/v3/kv/range", {"key": b64("put/empty")})
    t.post("range missing", "/v3/kv/range", {"key": b64("put/nothere")})
    t.post("put binary", "/v3/kv/put", {"key": b64(b"put/\x00\xff"), "value": b64(b"\x00\x01\xfe")})
    t.post("range binary", "/v3/kv/range", {"key": b64(b"put/\x00\xff")})
    t.post("put camel+numbers", "/v3/kv/put", {"key": b64("put/a"), "value": b64("3"), "prevKv": True})


def case_put_errors(t):
    t.post("no key", "/v3/kv/put", {"value": b64("a")})
    t.post("ignore_value on missing key", "/v3/kv/put", {"key": b64("perr/none"), "ignore_value": True})
    t.post("put", "/v3/kv/put", {"key": b64("perr/a"), "value": b64("x")})
    t.post("ignore_value keeps value", "/v3/kv/put", {"key": b64("perr/a"), "ignore_value": True, "prev_kv": True})
    t.post("range", "/v3/kv/range", {"key": b64("perr/a")})
    t.post("unknown lease", "/v3/kv/put", {"key": b64("perr/b"), "value": b64("x"), "lease": "123456"})
    t.post("ignore_lease without lease", "/v3/kv/put", {"key": b64("perr/a"), "value": b64("y"), "ignore_lease": True})
    t.post("range empty body", "/v3/kv/range", {})


def case_range_options(t):
    s = t.s
    for i, k in enumerate(["rng/a", "rng/b", "rng/c", "rng/d", "rng/e"]):
        t.post("put " + k, "/v3/kv/put", {"key": b64(k), "value": b64("v%d" % (5 - i))})
    t.post("update rng/b", "/v3/kv/put", {"key": b64("rng/b"), "value": b64("v9")})
    pre, end = b64("rng/"), b64("rng0")
    t.post("prefix", "/v3/kv/range", {"key": pre, "range_end": end})
    t.post("limit", "/v3/kv/range", {"key": pre, "range_end": end, "limit": 2})
    t.post("limit as string", "/v3/kv/range", {"key": pre, "range_end": end, "limit": "3"})
    t.post("count_only", "/v3/kv/range", {"key": pre, "range_end": end, "count_only": True})
    t.post("countOnly camel", "/v3/kv/range", {"key": pre, "rangeEnd": end, "countOnly": True})
    t.post("keys_only", "/v3/kv/range", {"key": pre, "range_end": end, "keys_only": True})
    t.post("sort key descend", "/v3/kv/range", {"key": pre, "range_end": end, "sort_order": "DESCEND", "sort_target": "KEY"})
    t.post("sort numeric enums", "/v3/kv/range", {"key": pre, "range_end": end, "sort_order": 2, "sort_target": 0})
    t.post("sort value ascend", "/v3/kv/range", {"key": pre, "range_end": end, "sort_order": "ASCEND", "sort_target": "VALUE"})
    t.post("sort mod descend limit", "/v3/kv/range", {"key": pre, "range_end": end, "sort_order": "DESCEND", "sort_target": "MOD", "limit": 2})
    t.post("sort version", "/v3/kv/range", {"key": pre, "range_end": end, "sort_order": "DESCEND", "sort_target": "VERSION", "limit": 1})
    t.post("sort create", "/v3/kv/range", {"key": pre, "range_end": end, "sort_order": "DESCEND", "sort_target": "CREATE"})
    t.post("historical revision", "/v3/kv/range", {"key": pre, "range_end": end, "revision": rel(s, 3)})
    t.post("historical single", "/v3/kv/range", {"key": b64("rng/b"), "revision": int(rel(s, 2))})
    t.post("min_mod_revision", "/v3/kv/range", {"key": pre, "range_end": end, "min_mod_revision": rel(s, 4)})
    t.post("max_mod_revision", "/v3/kv/range", {"key": pre, "range_end": end, "max_mod_revision": rel(s, 2)})
    t.post("min_create_revision", "/v3/kv/range", {"key": pre, "range_end": end, "min_create_revision": rel(s, 5)})
    t.post("max_create_revision", "/v3/kv/range", {"key": pre, "range_end": end, "max_create_revision": rel(s, 1)})
    t.post("serializable", "/v3/kv/range", {"key": pre, "range_end": end, "serializable": True})
    t.post("range_end < key", "/v3/kv/range", {"key": end, "range_end": pre})
    t.post("from key (range_end \\0)", "/v3/kv/range", {"key": b64("rng/d"), "range_end": b64("\0"), "keys_only": True, "limit": 2})
    t.post("future revision", "/v3/kv/range", {"key": pre, "revision": rel(s, 1000)})
    t.post("bogus field ignored", "/v3/kv/range", {"key": b64("rng/a"), "bogus": 1})


def case_range_all_keys(t):
    # "~" sorts after every other prefix used by the suite, so this sees only its own keys.
    for k in ["~all/1", "~all/2", "~all/3"]:
        t.post("put " + k, "/v3/kv/put", {"key": b64(k), "value": b64("x")})
    t.post("key >= ~all/", "/v3/kv/range", {"key": b64("~all/"), "range_end": b64("\0"), "keys_only": True})
    t.post("key >= ~all/2", "/v3/kv/range", {"key": b64("~all/2"), "range_end": b64("\0"), "count_only": True})


def case_delete(t):
    for k in ["del/a", "del/b", "del/c", "del/d"]:
        t.post("put " + k, "/v3/kv/put", {"key": b64(k), "value": b64("v-" + k)})
    t.post("delete one", "/v3/kv/deleterange", {"key": b64("del/a")})
    t.post("delete prev_kv", "/v3/kv/deleterange", {"key": b64("del/b"), "prev_kv": True})
    t.post("delete missing", "/v3/kv/deleterange", {"key": b64("del/zzz")})
    t.post("delete range prev_kv", "/v3/kv/deleterange", {"key": b64("del/"), "range_end": b64("del0"), "prev_kv": True})
    t.post("range after", "/v3/kv/range", {"key": b64("del/"), "range_end": b64("del0")})
    t.post("recreate", "/v3/kv/put", {"key": b64("del/a"), "value": b64("again")})
    t.post("range recreated (version 1)", "/v3/kv/range", {"key": b64("del/a")})
    t.post("delete no key", "/v3/kv/deleterange", {})


# ---------------------------------------------------------------- cases: txn

def case_txn_compare_targets(t):
    s = t.s
    t.post("grant lease", "/v3/lease/grant", {"TTL": 300, "ID": "77001"})
    t.post("put", "/v3/kv/put", {"key": b64("txc/k"), "value": b64("m"), "lease": "77001"})
    t.post("put again", "/v3/kv/put", {"key": b64("txc/k"), "value": b64("m"), "lease": "77001"})
    # key now: value "m", version 2, create R+1, mod R+2, lease 77001 (a grant does not
    # move the revision). Each target is compared below, at and above its value.
    targets = [
        ("VALUE", "value", [b64("a"), b64("m"), b64("z")]),
        ("VERSION", "version", ["1", "2", "3"]),
        ("CREATE", "create_revision", [rel(s, 0), rel(s, 1), rel(s, 2)]),
        ("MOD", "mod_revision", [rel(s, 1), rel(s, 2), rel(s, 3)]),
        ("LEASE", "lease", ["77000", "77001", "77002"]),
    ]
    for target, field, vals in targets:
        for result in ["EQUAL", "GREATER", "LESS", "NOT_EQUAL"]:
            for i, v in enumerate(vals):
                t.post("%s %s [%d]" % (target, result, i), "/v3/kv/txn", {
                    "compare": [{"key": b64("txc/k"), "target": target, "result": result, field: v}],
                    "success": [{"request_range": {"key": b64("txc/k"), "keys_only": True}}],
                })
    t.post("numeric enums", "/v3/kv/txn", {
        "compare": [{"key": b64("txc/k"), "target": 2, "result": 0, "mod_revision": rel(s, 2)}]})
    t.post("compare on missing key version 0", "/v3/kv/txn", {
        "compare": [{"key": b64("txc/none"), "target": "VERSION", "result": "EQUAL", "version": "0"}]})
    t.post("compare with range_end", "/v3/kv/txn", {
        "compare": [{"key": b64("txc/"), "range_end": b64("txc0"), "target": "VERSION", "result": "GREATER", "version": "0"}]})
    t.post("revoke", "/v3/lease/revoke", {"ID": "77001"})


def case_txn_ops(t):
    s = t.s
    t.post("put", "/v3/kv/put", {"key": b64("txo/a"), "value": b64("1")})
    t.post("success ops", "/v3/kv/txn", {
        "compare": [{"key": b64("txo/a"), "target": "VALUE", "result": "EQUAL", "value": b64("1")}],
        "success": [{"request_put": {"key": b64("txo/a"), "value": b64("2"), "prev_kv": True}},
                    {"request_put": {"key": b64("txo/b"), "value": b64("b")}},
                    {"request_range": {"key": b64("txo/"), "range_end": b64("txo0")}},
                    {"request_delete_range": {"key": b64("txo/nothere")}}],
        "failure": [{"request_range": {"key": b64("txo/a")}}]})
    t.post("failure ops", "/v3/kv/txn", {
        "compare": [{"key": b64("txo/a"), "target": "VALUE", "result": "EQUAL", "value": b64("1")}],
        "success": [{"request_put": {"key": b64("txo/a"), "value": b64("x")}}],
        "failure": [{"request_range": {"key": b64("txo/a")}},
                    {"request_delete_range": {"key": b64("txo/b"), "prev_kv": True}}]})
    # The apiserver's optimistic update: if mod_revision(key) == rv then put else get.
    t.post("guaranteed update, stale rv", "/v3/kv/txn", {
        "compare": [{"key": b64("txo/a"), "target": "MOD", "result": "EQUAL", "mod_revision": rel(s, 1)}],
        "success": [{"request_put": {"key": b64("txo/a"), "value": b64("y")}}],
        "failure": [{"request_range": {"key": b64("txo/a")}}]})
    t.post("create if absent", "/v3/kv/txn", {
        "compare": [{"key": b64("txo/new"), "target": "CREATE", "result": "EQUAL", "create_revision": "0"}],
        "success": [{"request_put": {"key": b64("txo/new"), "value": b64("n")}}]})
    t.post("create if absent again", "/v3/kv/txn", {
        "compare": [{"key": b64("txo/new"), "target": "CREATE", "result": "EQUAL", "create_revision": "0"}],
        "success": [{"request_put": {"key": b64("txo/new"), "value": b64("n")}}]})
    t.post("empty txn", "/v3/kv/txn", {})
    t.post("delete in txn", "/v3/kv/txn", {
        "success": [{"request_delete_range": {"key": b64("txo/"), "range_end": b64("txo0"), "prev_kv": True}}]})
    t.post("range after", "/v3/kv/range", {"key": b64("txo/"), "range_end": b64("txo0")})


def case_txn_nested(t):
    t.post("nested", "/v3/kv/txn", {
        "success": [{"request_put": {"key": b64("txn/outer"), "value": b64("o")}},
                    {"request_txn": {
                        "compare": [{"key": b64("txn/outer"), "target": "VERSION", "result": "EQUAL", "version": "0"}],
                        "success": [{"request_put": {"key": b64("txn/inner"), "value": b64("i")}}],
                        "failure": [{"request_range": {"key": b64("txn/zzz")}}]}}]})
    t.post("range", "/v3/kv/range", {"key": b64("txn/"), "range_end": b64("txn0")})
    t.post("nested with success", "/v3/kv/txn", {
        "success": [{"request_txn": {"success": [{"request_put": {"key": b64("txn/deep"), "value": b64("d")}}]}}]})


def case_txn_limits(t):
    ops = [{"request_put": {"key": b64("txl/%03d" % i), "value": b64("x")}} for i in range(129)]
    t.post("129 ops", "/v3/kv/txn", {"success": ops})
    t.post("128 ops", "/v3/kv/txn", {"success": ops[:128]})
    t.post("duplicate put keys", "/v3/kv/txn", {
        "success": [{"request_put": {"key": b64("txl/dup"), "value": b64("1")}},
                    {"request_put": {"key": b64("txl/dup"), "value": b64("2")}}]})
    t.post("put + delete same key", "/v3/kv/txn", {
        "success": [{"request_put": {"key": b64("txl/000"), "value": b64("1")}},
                    {"request_delete_range": {"key": b64("txl/000")}}]})
    t.post("duplicate in different branches is fine", "/v3/kv/txn", {
        "success": [{"request_put": {"key": b64("txl/dup2"), "value": b64("1")}}],
        "failure": [{"request_put": {"key": b64("txl/dup2"), "value": b64("2")}}]})
    t.post("range count", "/v3/kv/range", {"key": b64("txl/"), "range_end": b64("txl0"), "count_only": True})


# ---------------------------------------------------------------- compaction

def case_compaction(t):
    s = t.s
    for i in range(6):
        t.post("put %d" % i, "/v3/kv/put", {"key": b64("cmp/k"), "value": b64("v%d" % i)})
    t.post("compact R+3", "/v3/kv/compaction", {"revision": rel(s, 3)})
    t.post("range at compacted R+2", "/v3/kv/range", {"key": b64("cmp/k"), "revision": rel(s, 2)})
    t.post("range at compact rev R+3", "/v3/kv/range", {"key": b64("cmp/k"), "revision": rel(s, 3)})
    t.post("range at R+5", "/v3/kv/range", {"key": b64("cmp/k"), "revision": rel(s, 5)})
    t.post("compact again lower", "/v3/kv/compaction", {"revision": rel(s, 2)})
    t.post("compact same", "/v3/kv/compaction", {"revision": rel(s, 3)})
    t.post("compact future", "/v3/kv/compaction", {"revision": rel(s, 1000)})
    t.post("compact physical", "/v3/kv/compaction", {"revision": rel(s, 5), "physical": True})
    t.post("current read", "/v3/kv/range", {"key": b64("cmp/k")})
    t.post("txn range at compacted", "/v3/kv/txn", {
        "success": [{"request_range": {"key": b64("cmp/k"), "revision": rel(s, 4)}}]})


# ---------------------------------------------------------------- leases

def case_leases(t):
    s = t.s
    t.post("grant with ID", "/v3/lease/grant", {"TTL": 60, "ID": "7587"})
    t.post("grant same ID", "/v3/lease/grant", {"TTL": "60", "ID": "7587"})
    t.post("put with lease", "/v3/kv/put", {"key": b64("lease/a"), "value": b64("v"), "lease": "7587"})
    t.post("put with lease 2", "/v3/kv/put", {"key": b64("lease/b"), "value": b64("v"), "lease": "7587"})
    t.post("range shows lease", "/v3/kv/range", {"key": b64("lease/a")})
    st, j = t.s.post("/v3/lease/timetolive", {"ID": "7587", "keys": True})
    ok = st == 200 and 0 < int(j.get("TTL", 0)) <= int(j.get("grantedTTL", 0))
    keys = sorted(j.get("keys", [])) if isinstance(j, dict) else None
    t.note("timetolive keys", {"status": st, "ttl_in_range": ok, "ID": j.get("ID") if isinstance(j, dict) else None,
                               "grantedTTL": j.get("grantedTTL") if isinstance(j, dict) else None, "keys": keys})
    t.post("timetolive unknown", "/v3/lease/timetolive", {"ID": "12345"})
    t.post("timetolive legacy path", "/v3/kv/lease/timetolive", {"ID": "12345"})
    st, j = t.s.post("/v3/lease/leases", {})
    ids = [l.get("ID") for l in j.get("leases", [])] if isinstance(j, dict) else []
    t.note("leases lists 7587", {"status": st, "has": "7587" in ids})
    t.post("put ignore_lease keeps lease", "/v3/kv/put", {"key": b64("lease/a"), "value": b64("w"), "ignore_lease": True})
    t.post("range lease kept", "/v3/kv/range", {"key": b64("lease/a")})
    t.post("put without lease detaches", "/v3/kv/put", {"key": b64("lease/b"), "value": b64("w")})
    t.post("revoke", "/v3/lease/revoke", {"ID": "7587"})
    t.post("range after revoke", "/v3/kv/range", {"key": b64("lease/"), "range_end": b64("lease0")})
    t.post("revoke again", "/v3/lease/revoke", {"ID": "7587"})
    t.post("legacy revoke path", "/v3/kv/lease/revoke", {"ID": "7587"})
    t.post("timetolive revoked", "/v3/lease/timetolive", {"ID": "7587"})
    st, j = t.s.post("/v3/lease/grant", {"TTL": 0})
    t.note("grant TTL 0 (minimum TTL)", {"status": st, "TTL": j.get("TTL"), "has_ID": bool(j.get("ID"))})
    st, j = t.s.post("/v3/lease/grant", {"TTL": 30})
    t.note("grant server ID", {"status": st, "TTL": j.get("TTL"), "has_ID": bool(j.get("ID")),
                               "keys": sorted(j.keys())})


def read_stream(s, path, body):
    c = s.conn()
    try:
        c.request("POST", path, body=body, headers={"Content-Type": "application/json"})
        r = c.getresponse()
        msgs = []
        while True:
            line = r.readline()
            if not line:
                break
            if line.strip():
                msgs.append(json.loads(line))
        return r.status, r.getheader("Transfer-Encoding", ""), msgs
    finally:
        c.close()


def case_lease_keepalive(t):
    s = t.s
    t.post("grant", "/v3/lease/grant", {"TTL": 60, "ID": "8801"})
    st, te, msgs = read_stream(s, "/v3/lease/keepalive", json.dumps({"ID": "8801"}))
    t.note("keepalive", {"status": st, "chunked": te == "chunked", "messages": normalise(msgs, s.rev0)})
    st, te, msgs = read_stream(s, "/v3/lease/keepalive", '{"ID":"8801"}{"ID":"8801"}')
    t.note("keepalive twice", {"status": st, "messages": normalise(msgs, s.rev0)})
    st, te, msgs = read_stream(s, "/v3/lease/keepalive", json.dumps({"ID": "12345"}))
    t.note("keepalive unknown", {"status": st, "messages": normalise(msgs, s.rev0)})
    t.post("revoke", "/v3/lease/revoke", {"ID": "8801"})


# ---------------------------------------------------------------- watch

def wnote(t, label, msg):
    t.note(label, msg)


def case_watch_basic(t):
    s = t.s
    w = s.watch({"create_request": {"key": b64("w/"), "range_end": b64("w0")}})
    try:
        t.note("status", {"status": w.status, "content-type": w.r.getheader("Content-Type"),
                          "chunked": w.r.getheader("Transfer-Encoding") == "chunked"})
        wnote(t, "created", w.next())
        t.post("put w/a", "/v3/kv/put", {"key": b64("w/a"), "value": b64("1")})
        wnote(t, "event put", w.next())
        t.post("put other (not watched)", "/v3/kv/put", {"key": b64("x/a"), "value": b64("1")})
        t.post("put w/a again", "/v3/kv/put", {"key": b64("w/a"), "value": b64("2")})
        wnote(t, "event put 2", w.next())
        t.post("delete w/a", "/v3/kv/deleterange", {"key": b64("w/a")})
        wnote(t, "event delete", w.next())
        t.post("txn 2 keys", "/v3/kv/txn", {"success": [
            {"request_put": {"key": b64("w/b"), "value": b64("b")}},
            {"request_put": {"key": b64("w/c"), "value": b64("c")}}]})
        wnote(t, "one message, two events", w.next())
    finally:
        w.close()


def case_watch_prev_kv_filters(t):
    s = t.s
    w = s.watch({"create_request": {"key": b64("wf/a"), "prev_kv": True}},
                {"create_request": {"key": b64("wf/a"), "filters": ["NOPUT"]}},
                {"create_request": {"key": b64("wf/a"), "filters": ["NODELETE"], "watch_id": "7"}})
    try:
        got = [w.next() for _ in range(3)]
        t.note("three created", got)
        t.post("put", "/v3/kv/put", {"key": b64("wf/a"), "value": b64("1")})
        t.post("put 2", "/v3/kv/put", {"key": b64("wf/a"), "value": b64("2")})
        t.post("delete", "/v3/kv/deleterange", {"key": b64("wf/a")})
        # prev_kv watcher: 3 messages; NOPUT: 1; NODELETE: 2. Order across watchers is not
        # specified, so collect 6 and sort by watch id then revision.
        msgs = [w.next() for _ in range(6)]

        def keyf(m):
            r = m.get("result", {})
            return (int(r.get("watch_id", "0")), int(r.get("header", {}).get("revision", "0")))
        t.note("events by watcher", sorted(msgs, key=keyf))
    finally:
        w.close()


def case_watch_history(t):
    s = t.s
    for i in range(3):
        t.post("put %d" % i, "/v3/kv/put", {"key": b64("wh/a"), "value": b64(str(i))})
    t.post("put other", "/v3/kv/put", {"key": b64("wh/b"), "value": b64("b")})
    w = s.watch({"create_request": {"key": b64("wh/"), "range_end": b64("wh0"), "start_revision": rel(s, 2)}})
    try:
        wnote(t, "created", w.next())
        wnote(t, "history", w.next())
        t.post("live put", "/v3/kv/put", {"key": b64("wh/c"), "value": b64("c")})
        wnote(t, "live event", w.next())
    finally:
        w.close()
    # A start revision in the future: created now, events only from that revision on.
    w = s.watch({"create_request": {"key": b64("wh/"), "range_end": b64("wh0"), "start_revision": rel(s, 8)}})
    try:
        wnote(t, "future start: created", w.next())
        for i in range(3):  # R+6, R+7, R+8
            t.post("put future %d" % i, "/v3/kv/put", {"key": b64("wh/f"), "value": b64(str(i))})
        wnote(t, "future start: first event is R+8", w.next())
    finally:
        w.close()
    # Two watchers on different keys in one stream: each gets only its key's events.
    w = s.watch({"create_request": {"key": b64("wh/x")}}, {"create_request": {"key": b64("wh/y")}})
    try:
        t.note("two created", [w.next(), w.next()])
        t.post("put y", "/v3/kv/put", {"key": b64("wh/y"), "value": b64("y")})
        t.post("put x", "/v3/kv/put", {"key": b64("wh/x"), "value": b64("x")})
        t.note("events", sorted([w.next(), w.next()], key=json.dumps))
    finally:
        w.close()


def case_watch_compacted(t):
    s = t.s
    for i in range(4):
        t.post("put %d" % i, "/v3/kv/put", {"key": b64("wc/a"), "value": b64(str(i))})
    t.post("compact R+3", "/v3/kv/compaction", {"revision": rel(s, 3)})
    w = s.watch({"create_request": {"key": b64("wc/a"), "start_revision": rel(s, 1)}})
    try:
        t.note("status", w.status)
        wnote(t, "created", w.next())
        wnote(t, "canceled with compact_revision", w.next())
    finally:
        w.close()
    w = s.watch({"create_request": {"key": b64("wc/a"), "start_revision": rel(s, 3)}})
    try:
        wnote(t, "start at compact rev: created", w.next())
        wnote(t, "start at compact rev: history", w.next())
    finally:
        w.close()


def case_watch_cancel_progress(t):
    s = t.s
    w = s.watch({"create_request": {"key": b64("wp/a")}},
                {"create_request": {"key": b64("wp/b")}},
                {"progress_request": {}},
                {"cancel_request": {"watch_id": "0"}})
    try:
        msgs = [w.next() for _ in range(4)]
        t.note("created x2, progress, cancel", msgs)
        t.post("put wp/a (canceled watch)", "/v3/kv/put", {"key": b64("wp/a"), "value": b64("1")})
        t.post("put wp/b", "/v3/kv/put", {"key": b64("wp/b"), "value": b64("1")})
        wnote(t, "only watch 1 sees its event", w.next())
    finally:
        w.close()
    w = s.watch({"create_request": {}})
    try:
        wnote(t, "empty create_request", w.next())
    finally:
        w.close()


def case_watch_errors(t):
    s = t.s
    t.raw("invalid JSON watch body", "POST", "/v3/watch", "{bad", keep_body=False)
    st, data = s.raw("POST", "/v3/watch", "{bad")[0], s.raw("POST", "/v3/watch", "{bad")[2]
    try:
        j = json.loads(data)
        t.note("invalid JSON watch: code and message present", {"code": j.get("code"), "has_message": bool(j.get("message"))})
    except ValueError:
        t.note("invalid JSON watch: code and message present", {"body": data.decode(errors="replace")})


# ---------------------------------------------------------------- maintenance / cluster

def shape(v):
    if isinstance(v, dict):
        return {k: shape(x) for k, x in sorted(v.items())}
    if isinstance(v, list):
        return [shape(v[0])] if v else []
    return type(v).__name__


def case_status(t):
    st, j = t.s.post("/v3/maintenance/status", {})
    j = j or {}
    hdr = j.get("header", {})
    t.note("status", {"status": st, "fields": sorted(j.keys()), "header_fields": sorted(hdr.keys()),
                      "types": {k: type(v).__name__ for k, v in sorted(j.items())},
                      "leader_is_self": j.get("leader") == hdr.get("member_id"),
                      "raftTerm_matches_header": j.get("raftTerm") == hdr.get("raft_term")})


def case_member_list(t):
    st, j = t.s.post("/v3/cluster/member/list", {})
    j = j or {}
    t.note("member list", {"status": st, "shape": shape(j), "n": len(j.get("members", [])),
                           "header_has_revision": "revision" in j.get("header", {})})
    # one member or three (store_api.sh runs both): some member advertises our URL
    t.note("client URL is ours", {"ok": any(u.endswith(":%d" % t.s.port)
                                            for m in (j.get("members") or [])
                                            for u in m.get("clientURLs", []))})


def case_maintenance_misc(t):
    t.post("alarm list", "/v3/maintenance/alarm", {})
    t.post("alarm list (action GET)", "/v3/maintenance/alarm", {"action": "GET"})
    t.post("defragment", "/v3/maintenance/defragment", {})
    t.raw("health", "GET", "/health")
    st, ct, data = t.s.raw("GET", "/version")
    try:
        j = json.loads(data)
    except ValueError:
        j = {}
    t.note("version fields", {"status": st, "fields": sorted(j.keys())})


# ---------------------------------------------------------------- bad input / HTTP

def case_bad_input(t):
    t.raw("GET instead of POST", "GET", "/v3/kv/range")
    t.raw("unknown path", "POST", "/v3/kv/nope", "{}")
    t.raw("unknown top path", "POST", "/v3/nothing", "{}")
    t.raw("v3alpha", "POST", "/v3alpha/kv/range", "{}")
    t.raw("v3beta alias", "POST", "/v3beta/kv/range", json.dumps({"key": b64("nothing")}))
    t.raw("bad base64 (unpadded)", "POST", "/v3/kv/put", json.dumps({"key": "Zm9vMQ", "value": "YQ=="}))
    t.raw("bad base64 (url-safe)", "POST", "/v3/kv/put", json.dumps({"key": "-_8=", "value": "YQ=="}))
    t.raw("bad base64 in value", "POST", "/v3/kv/put", json.dumps({"key": "Zm9v", "value": "Y*=="}))
    for label, body in [("truncated JSON", '{"key":"Zm9v'), ("not JSON", "hello"),
                        ("wrong type", '{"key":5}'), ("array body", "[]")]:
        st, ct, data = t.s.raw("POST", "/v3/kv/range", body)
        try:
            j = json.loads(data)
            v = {"status": st, "code": j.get("code"), "has_message": bool(j.get("message")),
                 "error_equals_message": j.get("error") == j.get("message")}
        except ValueError:
            v = {"status": st, "body": data.decode(errors="replace")}
        t.note(label, v)
    t.raw("content type ignored", "POST", "/v3/kv/range", json.dumps({"key": b64("nothing")}),
          headers={"Content-Type": "application/x-www-form-urlencoded"})
    t.raw("empty body", "POST", "/v3/kv/range", "")
    t.raw("oversized put (limit 16384)", "POST", "/v3/kv/put",
          json.dumps({"key": b64("big/a"), "value": b64("x" * 20000)}))
    t.raw("under the limit", "POST", "/v3/kv/put", json.dumps({"key": b64("big/b"), "value": b64("x" * 8000)}))
    st, ct, data = t.s.raw("POST", "/v3/kv/range", json.dumps({"key": b64("big/b"), "keys_only": True}))
    t.note("still serving", {"status": st})


def case_http_headers(t):
    c = t.s.conn()
    try:
        c.request("POST", "/v3/kv/range", body=json.dumps({"key": b64("nothing")}))
        r = c.getresponse()
        r.read()
        h = {k.lower(): v for k, v in r.getheaders()}
        t.note("unary success headers", {
            "status": r.status,
            "content-type": h.get("content-type"),
            "grpc-metadata-content-type": h.get("grpc-metadata-content-type"),
            "access-control-allow-origin": h.get("access-control-allow-origin"),
            "access-control-allow-methods": h.get("access-control-allow-methods"),
            "access-control-allow-headers": h.get("access-control-allow-headers"),
            "has content-length": "content-length" in h})
        # keep-alive: a second request on the same connection works
        c.request("POST", "/v3/kv/range", body=json.dumps({"key": b64("nothing")}))
        r = c.getresponse()
        r.read()
        t.note("second request on the same connection", r.status)
        c.request("POST", "/v3/lease/revoke", body=json.dumps({"ID": "424242"}))
        r = c.getresponse()
        body = r.read()
        h = {k.lower(): v for k, v in r.getheaders()}
        t.note("error response", {"status": r.status, "content-type": h.get("content-type"),
                                  "chunked": h.get("transfer-encoding") == "chunked",
                                  "body": json.loads(body)})
        c.request("POST", "/v3/kv/put", body='{"key":"Zm9vMQ"}')
        r = c.getresponse()
        body = r.read()
        h = {k.lower(): v for k, v in r.getheaders()}
        t.note("decode error response", {"status": r.status, "content-type": h.get("content-type"),
                                         "has content-length": "content-length" in h, "body": json.loads(body)})
    finally:
        c.close()


def case_more_kv_errors(t):
    t.post("put", "/v3/kv/put", {"key": b64("more/a"), "value": b64("1")})
    t.post("ignore_value with a value", "/v3/kv/put", {"key": b64("more/a"), "value": b64("2"), "ignore_value": True})
    t.post("grant", "/v3/lease/grant", {"TTL": 60, "ID": "99001"})
    t.post("ignore_lease with a lease", "/v3/kv/put", {"key": b64("more/a"), "value": b64("2"), "lease": "99001",
                                                       "ignore_lease": True})
    t.post("ignore_lease on missing key", "/v3/kv/put", {"key": b64("more/none"), "value": b64("2"),
                                                         "ignore_lease": True})
    t.post("revoke", "/v3/lease/revoke", {"ID": "99001"})
    t.post("too large TTL", "/v3/lease/grant", {"TTL": "9000000001", "ID": "99002"})
    t.post("limit with count_only", "/v3/kv/range", {"key": b64("more/"), "range_end": b64("more0"), "limit": 1,
                                                     "count_only": True})
    t.post("txn compare value on missing key", "/v3/kv/txn", {
        "compare": [{"key": b64("more/none"), "target": "VALUE", "result": "EQUAL", "value": b64("")}],
        "success": [{"request_range": {"key": b64("more/a")}}]})
    t.post("txn compare value greater", "/v3/kv/txn", {
        "compare": [{"key": b64("more/a"), "target": "VALUE", "result": "GREATER", "value": b64("0")}]})
    for k in ["~del/a", "~del/b"]:
        t.post("put " + k, "/v3/kv/put", {"key": b64(k), "value": b64("x")})
    t.post("delete from key (range_end \\0)", "/v3/kv/deleterange", {"key": b64("~del/"), "range_end": b64("\0"),
                                                                     "prev_kv": True})


def case_lease_expiry(t):
    s = t.s
    t.post("grant TTL 2", "/v3/lease/grant", {"TTL": 2, "ID": "66001"})
    t.post("put with lease", "/v3/kv/put", {"key": b64("exp/a"), "value": b64("1"), "lease": "66001"})
    t.post("put with lease 2", "/v3/kv/put", {"key": b64("exp/b"), "value": b64("2"), "lease": "66001"})
    w = s.watch({"create_request": {"key": b64("exp/"), "range_end": b64("exp0"), "prev_kv": True}})
    try:
        wnote(t, "created", w.next())
        # The lease expires after ~2 s: both keys are deleted in one revision, and the
        # watcher sees the deletes (the wait is for an event, bounded by STREAM_TIMEOUT).
        wnote(t, "expiry deletes", w.next())
    finally:
        w.close()
    t.post("range after expiry", "/v3/kv/range", {"key": b64("exp/"), "range_end": b64("exp0")})
    t.post("timetolive after expiry", "/v3/lease/timetolive", {"ID": "66001"})


def case_metrics(t):
    st, ct, data = t.s.raw("GET", "/metrics")
    text = data.decode(errors="replace")
    names = ["etcd_server_has_leader", "etcd_mvcc_db_total_size_in_bytes", "etcd_server_proposals_committed_total"]
    t.note("metrics", {"status": st, "text": ct.startswith("text/plain"),
                       "has": {n: ("\n" + n + " ") in text or ("\n" + n + "{") in text for n in names}})


CASES = [
    case_put_and_range_single, case_put_errors, case_range_options, case_range_all_keys, case_delete,
    case_txn_compare_targets, case_txn_ops, case_txn_nested, case_txn_limits, case_compaction,
    case_leases, case_lease_keepalive,
    case_watch_basic, case_watch_prev_kv_filters, case_watch_history, case_watch_compacted,
    case_watch_cancel_progress, case_watch_errors,
    case_status, case_member_list, case_maintenance_misc, case_bad_input, case_http_headers,
    case_more_kv_errors, case_lease_expiry, case_metrics,
]


def run_case(fn, server):
    t = T(server)
    try:
        server.rev0 = server.revision()
        fn(t)
    except CaseError as e:
        t.items.append({"step": "ERROR", "value": str(e)})
    except (OSError, http.client.HTTPException, ValueError, KeyError, TypeError) as e:
        t.items.append({"step": "ERROR", "value": "%s: %s" % (type(e).__name__, e)})
    return t.items


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ref", required=True, help="reference server URL (etcd 3.4)")
    ap.add_argument("--cand", required=True, help="candidate server URL (kube-store)")
    ap.add_argument("--only", help="run only the case with this name")
    ap.add_argument("--show", action="store_true", help="print each transcript")
    a = ap.parse_args()
    ref, cand = Server(a.ref), Server(a.cand)
    failed = []
    for fn in CASES:
        name = fn.__name__[len("case_"):]
        if a.only and a.only != name:
            continue
        tr = run_case(fn, ref)
        tc = run_case(fn, cand)
        ref_err = any(i["step"] == "ERROR" for i in tr)
        if a.show:
            print(json.dumps(tr, indent=1))
        if tr == tc and not ref_err:
            print("PASS %s (%d steps)" % (name, len(tr)))
            continue
        failed.append(name)
        why = "reference itself failed" if ref_err else "responses differ"
        print("FAIL %s (%s)" % (name, why))
        a_lines = json.dumps(tr, indent=1, sort_keys=True).splitlines()
        b_lines = json.dumps(tc, indent=1, sort_keys=True).splitlines()
        diff = list(difflib.unified_diff(a_lines, b_lines, "etcd", "candidate", n=4, lineterm=""))
        for line in diff[:80]:
            print("    " + line)
        if len(diff) > 80:
            print("    ... (%d more diff lines)" % (len(diff) - 80))
    total = len([f for f in CASES if not a.only or f.__name__[5:] == a.only])
    print("%d cases, %d passed, %d failed%s" % (total, total - len(failed), len(failed),
                                                  (": " + ", ".join(failed)) if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
