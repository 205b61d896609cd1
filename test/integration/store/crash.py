#!/usr/bin/python3
"""Crash test driver for kube-store (run by test/integration/store_crash.sh).

Writers put unique keys in a loop and record every acknowledged put (key, value,
revision). The driver kills the store with SIGKILL at random moments, restarts it on the
same data dir, waits for /health, and then checks that every acknowledged write is there
with its value and mod_revision, and that the current revision never went backwards.

Usage: crash.py --bin BINARY --dir WORKDIR [--kills 20] [--writers 4] [--seed N]
"""

import argparse
import base64
import http.client
import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time


def b64(s):
    return base64.b64encode(s.encode()).decode()


def free_ports(n):
    socks = []
    for _ in range(n):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


class Store:
    def __init__(self, binary, workdir):
        self.binary = binary
        self.workdir = workdir
        self.data = os.path.join(workdir, "data")
        self.cport, self.pport = free_ports(2)
        self.proc = None
        self.logs = []
        self.starts = 0

    def start(self):
        self.starts += 1
        log = open(os.path.join(self.workdir, "store.%d.log" % self.starts), "w")
        self.logs.append(log.name)
        self.proc = subprocess.Popen(
            [self.binary, "--name", "crash", "--data-dir", self.data,
             "--listen-client-urls", "http://127.0.0.1:%d" % self.cport,
             "--advertise-client-urls", "http://127.0.0.1:%d" % self.cport,
             "--listen-peer-urls", "http://127.0.0.1:%d" % self.pport,
             # small snapshot count so restarts also go through snapshot + WAL replay
             "--snapshot-count", "500"],
            stdout=log, stderr=subprocess.STDOUT)
        log.close()

    def wait_healthy(self, limit=30.0):
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("kube-store exited with %s during start-up" % self.proc.returncode)
            try:
                c = http.client.HTTPConnection("127.0.0.1", self.cport, timeout=1)
                c.request("GET", "/health")
                r = c.getresponse()
                body = r.read()
                c.close()
                if r.status == 200 and json.loads(body).get("health") == "true":
                    return
            except (OSError, ValueError, http.client.HTTPException):
                pass
            time.sleep(0.02)  # readiness polling interval
        raise RuntimeError("kube-store not healthy within %.0fs" % limit)

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    def post(self, path, body, timeout=10):
        c = http.client.HTTPConnection("127.0.0.1", self.cport, timeout=timeout)
        try:
            c.request("POST", path, body=json.dumps(body))
            r = c.getresponse()
            data = r.read()
            return r.status, json.loads(data) if data else {}
        finally:
            c.close()


class Writer(threading.Thread):
    def __init__(self, wid, store, stop):
        super().__init__(daemon=True)
        self.wid = wid
        self.store = store
        self.stop = stop
        self.acked = []  # (key, value, revision)
        self.seq = 0
        self.errors = 0
        self.lock = threading.Lock()

    def run(self):
        conn = None
        while not self.stop.is_set():
            key = "crash/w%d/%08d" % (self.wid, self.seq)
            value = "v-%d-%d-%s" % (self.wid, self.seq, os.urandom(6).hex())
            self.seq += 1
            try:
                if conn is None:
                    conn = http.client.HTTPConnection("127.0.0.1", self.store.cport, timeout=5)
                conn.request("POST", "/v3/kv/put", body=json.dumps({"key": b64(key), "value": b64(value)}))
                r = conn.getresponse()
                data = r.read()
                if r.status == 200:
                    rev = int(json.loads(data)["header"]["revision"])
                    with self.lock:
                        self.acked.append((key, value, rev))
                else:
                    self.errors += 1
            except (OSError, http.client.HTTPException, ValueError, KeyError):
                # the store is down (killed): not acknowledged; retry until it is back
                self.errors += 1
                if conn is not None:
                    conn.close()
                conn = None
                time.sleep(0.01)  # back-off while the server is restarting
        if conn is not None:
            conn.close()

    def snapshot(self):
        with self.lock:
            return list(self.acked)


def verify(store, acked, last_rev):
    st, j = store.post("/v3/kv/range", {"key": b64("crash/"), "range_end": b64("crash0")}, timeout=30)
    if st != 200:
        return ["range failed: %s %s" % (st, j)], last_rev
    have = {}
    for kv in j.get("kvs", []):
        have[base64.b64decode(kv["key"]).decode()] = (base64.b64decode(kv.get("value", "")).decode(),
                                                      int(kv["mod_revision"]))
    rev = int(j["header"]["revision"])
    problems = []
    if rev < last_rev:
        problems.append("revision went backwards: %d after %d" % (rev, last_rev))
    for key, value, r in acked:
        got = have.get(key)
        if got is None:
            problems.append("acknowledged write lost: %s (rev %d)" % (key, r))
        elif got != (value, r):
            problems.append("acknowledged write changed: %s want (%s, %d) got %s" % (key, value, r, got))
        if len(problems) > 20:
            break
    return problems, max(rev, last_rev)


def on_term(signum, frame):
    raise SystemExit("terminated by signal %d" % signum)


def main():
    # `timeout` sends SIGTERM: unwind through the finally below so the store is killed.
    signal.signal(signal.SIGTERM, on_term)
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--dir", required=True)
    ap.add_argument("--kills", type=int, default=20)
    ap.add_argument("--writers", type=int, default=4)
    ap.add_argument("--seed", type=int, default=None)
    a = ap.parse_args()
    seed = a.seed if a.seed is not None else int.from_bytes(os.urandom(4), "little")
    rnd = random.Random(seed)
    print("crash test: seed %d, %d kills, %d writers" % (seed, a.kills, a.writers))
    store = Store(a.bin, a.dir)
    stop = threading.Event()
    writers = []
    failed = []
    last_rev = 0
    kills = 0
    try:
        store.start()
        store.wait_healthy()
        writers = [Writer(i, store, stop) for i in range(a.writers)]
        for w in writers:
            w.start()
        for k in range(a.kills):
            # Let the writers run for a random moment, then SIGKILL the store.
            target = sum(len(w.acked) for w in writers) + rnd.randint(5, 200)
            deadline = time.monotonic() + rnd.uniform(0.05, 0.8)
            while time.monotonic() < deadline and sum(len(w.acked) for w in writers) < target:
                time.sleep(0.005)  # the kill moment is random on purpose
            store.kill()
            kills += 1
            acked = [x for w in writers for x in w.snapshot()]
            store.start()
            store.wait_healthy()
            problems, last_rev = verify(store, acked, last_rev)
            print("kill %2d: %6d acknowledged writes verified, revision %d%s" %
                  (kills, len(acked), last_rev, "" if not problems else ", %d PROBLEMS" % len(problems)))
            if problems:
                failed.extend(problems)
                break
            if acked:
                last_rev = max(last_rev, max(r for _, _, r in acked))
        stop.set()
        for w in writers:
            w.join(10)
        if not failed:
            acked = [x for w in writers for x in w.snapshot()]
            problems, last_rev = verify(store, acked, last_rev)
            failed.extend(problems)
            total = len(acked)
            print("crash test figures: kills=%d acknowledged=%d verified=%d final_revision=%d" %
                  (kills, total, total if not problems else 0, last_rev))
    except RuntimeError as e:
        failed.append(str(e))
    finally:
        stop.set()
        store.kill()
    if failed:
        print("FAIL:")
        for p in failed[:20]:
            print("   ", p)
        for name in store.logs[-2:]:
            print("==== %s (last 30 lines)" % name)
            with open(name, errors="replace") as f:
                for line in f.readlines()[-30:]:
                    print("    " + line.rstrip())
        return 1
    print("PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
