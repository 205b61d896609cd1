#!/usr/bin/python3
"""Workload recorder for the store fault tests: N client threads doing random put / get on a
small set of keys against every member's client URL (so followers forward), recording each
operation's invocation and completion (monotonic ns) and outcome in the JSON-lines history
format lincheck.py reads.

Outcomes, as Jepsen's etcd client classifies them:
  * 200 -> "ok" (a get records the value it read, or null when the key is absent);
  * connection refused before anything was sent -> "fail" (the op definitely did not happen);
  * any other error on a put (timeout, reset, an etcd error such as "request timed out" or
    "leader changed") -> "info": the proposal may still commit, so the outcome is unknown;
  * an error on a get -> "fail" (a read has no effect; nothing to check).
Values are unique per write ("p<process>-<seq>") so a read identifies the write it saw.
"""

import http.client
import json
import random
import threading
import time

from cluster import b64, unb64


class Recorder:
    def __init__(self, cluster, prefix, keys=4, threads=6, targets=None, op_timeout=2.0, seed=None,
                 write_ratio=0.5, serializable_targets=()):
        self.cluster = cluster
        self.prefix = prefix
        self.keys = ["%s%d" % (prefix, k) for k in range(keys)]
        self.nthreads = threads
        self.targets = list(targets) if targets is not None else list(range(cluster.n))
        self.serializable_targets = list(serializable_targets)
        self.op_timeout = op_timeout
        self.write_ratio = write_ratio
        self.rnd = random.Random(seed)
        self.ops = []          # dicts in lincheck's format
        self.acked = []        # (key, value, revision) of every acknowledged put
        self.lock = threading.Lock()
        self.stop_ev = threading.Event()
        self.threads = []
        self.next_process = 0

    def _record(self, d, acked=None):
        with self.lock:
            self.ops.append(d)
            if acked:
                self.acked.append(acked)

    def _worker(self, tid, seed):
        rnd = random.Random(seed)
        conns = {}
        seq = 0
        process = tid
        while not self.stop_ev.is_set():
            i = rnd.choice(self.targets)
            key = rnd.choice(self.keys)
            serial = False
            if rnd.random() < self.write_ratio:
                kind = "write"
                value = "p%d-%d" % (tid, seq)
                seq += 1
                path, body = "/v3/kv/put", {"key": b64(key), "value": b64(value)}
            else:
                kind, value = "read", None
                if self.serializable_targets and rnd.random() < 0.3:
                    i = rnd.choice(self.serializable_targets)
                    serial = True
                path, body = "/v3/kv/range", {"key": b64(key)}
                if serial:
                    body["serializable"] = True
            m = self.cluster.members[i]
            conn = conns.get(i)
            invoke = time.monotonic_ns()
            status, result, rev, err = "fail", None, None, None
            try:
                if conn is None:
                    conn = http.client.HTTPConnection(m.host, m.cport, timeout=self.op_timeout)
                    try:
                        conn.connect()
                    except ConnectionRefusedError:
                        conn = None
                        raise
                    conns[i] = conn
                conn.request("POST", path, body=json.dumps(body))
                r = conn.getresponse()
                data = r.read()
                if r.status == 200:
                    j = json.loads(data)
                    status = "ok"
                    if kind == "read":
                        kvs = j.get("kvs") or []
                        result = unb64(kvs[0].get("value", "")) if kvs else None
                    else:
                        rev = int(j["header"]["revision"])
                else:
                    try:
                        err = json.loads(data).get("error") or json.loads(data).get("message")
                    except ValueError:
                        err = data[:200].decode(errors="replace")
                    status = "info" if kind == "write" else "fail"
            except ConnectionRefusedError as e:
                status, err = "fail", str(e)
            except (OSError, http.client.HTTPException, ValueError, KeyError) as e:
                status = "info" if kind == "write" else "fail"
                err = "%s: %s" % (type(e).__name__, e)
                c = conns.pop(i, None)
                if c is not None:
                    c.close()
            complete = time.monotonic_ns()
            d = {"process": process, "key": key, "op": kind,
                 "value": value if kind == "write" else result,
                 "invoke_ns": invoke, "complete_ns": complete if status != "info" else None,
                 "status": status, "member": i}
            if serial:
                d["serializable"] = True
            if err:
                d["error"] = err
            self._record(d, (key, value, rev) if kind == "write" and status == "ok" else None)
            if status == "info":
                # as Jepsen: a process whose op is indeterminate is retired; a fresh id goes on
                with self.lock:
                    self.next_process += 1
                    process = self.nthreads * 1000 + self.next_process
            if status != "ok":
                time.sleep(0.02)  # back off from a member that is down or without a leader
        for c in conns.values():
            c.close()

    def start(self):
        for t in range(self.nthreads):
            th = threading.Thread(target=self._worker, args=(t, self.rnd.random()), daemon=True)
            th.start()
            self.threads.append(th)

    def stop(self):
        self.stop_ev.set()
        for th in self.threads:
            th.join(self.op_timeout + 5)

    def count(self, status="ok", kind=None):
        with self.lock:
            return sum(1 for o in self.ops if o["status"] == status and (kind is None or o["op"] == kind))

    def wait_acked(self, n, limit):
        """Waits until n more puts are acknowledged (progress under the fault), or limit s."""
        target = len(self.acked) + n
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline and len(self.acked) < target:
            time.sleep(0.02)  # polling the recorder's own counter
        return len(self.acked) >= target

    def first_ok_write_after(self, t_ns):
        with self.lock:
            c = [o["complete_ns"] for o in self.ops
                 if o["op"] == "write" and o["status"] == "ok" and o["invoke_ns"] >= t_ns]
        return min(c) if c else None

    def add_final_reads(self):
        """After recovery: a linearizable read of every key from every member, appended to
        the history (a lost last write shows up as a stale read here)."""
        for i in range(self.cluster.n):
            for key in self.keys:
                invoke = time.monotonic_ns()
                st, j = self.cluster.post(i, "/v3/kv/range", {"key": b64(key)}, timeout=10)
                complete = time.monotonic_ns()
                if st != 200:
                    raise RuntimeError("final read of %s from m%d failed: %s %s" % (key, i, st, j))
                kvs = j.get("kvs") or []
                self._record({"process": "final-m%d" % i, "key": key, "op": "read",
                              "value": unb64(kvs[0].get("value", "")) if kvs else None,
                              "invoke_ns": invoke, "complete_ns": complete, "status": "ok", "member": i})

    def write_history(self, path):
        with self.lock:
            ops = sorted(self.ops, key=lambda o: o["invoke_ns"])
        with open(path, "w") as f:
            for o in ops:
                f.write(json.dumps(o) + "\n")
        return len(ops)
