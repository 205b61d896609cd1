#!/usr/bin/python3
"""Linearizability checker for single-register histories (kube-store's fault tests).

    lincheck.py HISTORY.jsonl [BUDGET_S]  -> "linearizable" (exit 0) or an explanation (exit 1;
                                            also when the search exceeds BUDGET_S, default 120)
    lincheck.py --self-test [-v]          -> known-good / known-bad histories (exit 0 when all behave)
    exit 2: unreadable or malformed history

The algorithm is Wing & Gong's search with Lowe's memoisation, as Knossos (Jepsen) and
porcupine implement it: call and return events sorted by time in a doubly linked list; walk
it, at each call try to linearize that operation now (its effect on the model must match its
observed result), remember (linearized-set bitmask, model state) pairs already explored, and
backtrack when a return event is reached whose operation has not been linearized yet. The
history is split per key first (P-compositionality, Herlihy & Wing: a history is
linearizable iff each per-object sub-history is), so each register is checked on its own.

History: one JSON object per line:
    {"process": 3, "key": "k1", "op": "write"|"read"|"cas",
     "value": <write: the value (null = delete); read: what was read (null = absent);
               cas: [expected, new]>,
     "result": <cas only: true if it swapped>,
     "invoke_ns": <monotonic ns>, "complete_ns": <monotonic ns>,
     "status": "ok"|"fail"|"info", "serializable": <optional, true = not checked>}
"ok": the operation completed with that result. "fail": a definite error: it did not
happen (dropped). "info": outcome unknown (timeout, connection reset): it may have taken
effect at any moment after its invocation, or never (Jepsen's :info; it completes at
+infinity). Reads that are info or fail constrain nothing and are dropped. Reads marked
"serializable" may legitimately be stale (etcd serves them locally) and are not checked.
No third-party modules: runs under Debian's /usr/bin/python3.
"""

import json
import random
import sys
import time

INF = float("inf")


class Op:
    __slots__ = ("idx", "process", "key", "kind", "value", "result", "invoke", "complete", "status")

    def __init__(self, idx, process, key, kind, value, result, invoke, complete, status):
        self.idx = idx
        self.process = process
        self.key = key
        self.kind = kind
        self.value = value
        self.result = result
        self.invoke = invoke
        self.complete = complete
        self.status = status

    def describe(self):
        if self.kind == "write":
            what = "write %s" % json.dumps(self.value)
        elif self.kind == "read":
            what = "read -> %s" % json.dumps(self.value)
        else:
            what = "cas %s -> %s (%s)" % (json.dumps(self.value[0]), json.dumps(self.value[1]),
                                          "swapped" if self.result else "not swapped")
        end = "+inf (%s)" % self.status if self.complete == INF else "%d" % self.complete
        return "process %s %s [%d .. %s]" % (self.process, what, self.invoke, end)


def hashable(v):
    """Model states must be hashable for the memo: JSON values become their canonical text."""
    return v if v is None or isinstance(v, (str, int, float, bool)) else json.dumps(v, sort_keys=True)


def step(state, op):
    """The register model: (legal, next state) for op applied to state."""
    if op.kind == "write":
        return True, hashable(op.value)
    if op.kind == "read":
        return hashable(op.value) == state, state
    # cas: an info cas may have swapped (if it never did, the search leaves it out)
    expected, new = hashable(op.value[0]), hashable(op.value[1])
    if op.status == "info" or op.result:
        return (state == expected), (new if state == expected else state)
    return (state != expected), state


class BadHistory(ValueError):
    pass


def parse_line(idx, obj):
    try:
        kind = obj["op"]
        status = obj.get("status", obj.get("type"))
        if kind not in ("write", "read", "cas"):
            raise BadHistory("unknown op %r" % kind)
        if status not in ("ok", "fail", "info"):
            raise BadHistory("unknown status %r" % status)
        invoke = int(obj["invoke_ns"])
        complete = obj.get("complete_ns")
        complete = INF if status == "info" or complete is None else int(complete)
        if complete < invoke:
            raise BadHistory("completes before it is invoked")
        value = obj.get("value")
        if kind == "cas" and (not isinstance(value, list) or len(value) != 2):
            raise BadHistory("cas value must be [expected, new]")
        return Op(idx, obj.get("process"), str(obj.get("key", "")), kind, value, obj.get("result"), invoke,
                  complete, status)
    except (KeyError, TypeError) as e:
        raise BadHistory("missing or malformed field %s" % e)


def load(path):
    ops = []
    with open(path) as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            try:
                obj = json.loads(line)
            except ValueError as e:
                raise BadHistory("line %d: not JSON: %s" % (n, e))
            try:
                ops.append(parse_line(len(ops), obj) if not obj.get("serializable") else None)
            except BadHistory as e:
                raise BadHistory("line %d: %s" % (n, e))
    return [o for o in ops if o is not None]


def prepare(ops):
    """Drops what cannot constrain the register: failed ops (they did not happen), reads whose
    outcome is unknown, and (when the key has no cas) info writes whose value nobody read: if
    such a write took effect no read observed it, so leaving it out is always at least as
    legal, and it keeps the search from doubling on every timed-out write."""
    kept = [o for o in ops if o.status != "fail" and not (o.kind == "read" and o.status == "info")]
    if any(o.kind == "cas" for o in kept):
        return kept
    seen = {hashable(o.value) for o in kept if o.kind == "read"}
    return [o for o in kept if not (o.kind == "write" and o.status == "info" and hashable(o.value) not in seen)]


class Entry:
    __slots__ = ("op", "is_call", "match", "prev", "next")

    def __init__(self, op, is_call):
        self.op = op
        self.is_call = is_call
        self.match = None
        self.prev = None
        self.next = None


def build_list(ops):
    events = []
    for o in ops:
        c, r = Entry(o, True), Entry(o, False)
        c.match = r
        events.append((o.invoke, 0, c))
        events.append((o.complete, 1, r))
    # A return and a call at the same instant are treated as concurrent (call first), as
    # porcupine does: the permissive choice, so a tie never produces a false alarm.
    events.sort(key=lambda e: (e[0], e[1]))
    head = Entry(None, False)
    prev = head
    for _, _, e in events:
        prev.next = e
        e.prev = prev
        prev = e
    return head


def lift(call):
    call.prev.next = call.next
    call.next.prev = call.prev
    ret = call.match
    ret.prev.next = ret.next
    if ret.next is not None:
        ret.next.prev = ret.prev


def unlift(call):
    ret = call.match
    ret.prev.next = ret
    if ret.next is not None:
        ret.next.prev = ret
    call.prev.next = call
    call.next.prev = call


def check_key(ops, budget_s=None):
    """Returns (True, None) or (False, explanation dict); (None, msg) when the budget ran out."""
    ops = sorted(ops, key=lambda o: (o.invoke, o.complete))
    for i, o in enumerate(ops):
        o.idx = i
    head = build_list(ops)
    state = None  # the key starts absent
    linearized = 0
    calls = []
    memo = set()
    best = (-1, None, None, None)  # (count, ops so far, state, blocking entry)
    entry = head.next
    deadline = time.monotonic() + budget_s if budget_s else None
    steps = 0
    while head.next is not None:
        if entry.is_call:
            ok, nstate = step(state, entry.op)
            if ok:
                nlin = linearized | (1 << entry.op.idx)
                if (nlin, nstate) not in memo:
                    memo.add((nlin, nstate))
                    calls.append((entry, state))
                    state = nstate
                    linearized = nlin
                    lift(entry)
                    entry = head.next
                    continue
            entry = entry.next
        else:
            if entry.op.complete == INF:
                # every finite-return op is linearized; the pending info ops may never
                # have happened
                return True, None
            if len(calls) > best[0]:
                best = (len(calls), [c[0].op for c in calls], state, entry)
            if not calls:
                return False, explain(ops, best)
            top, state = calls.pop()
            linearized &= ~(1 << top.op.idx)
            unlift(top)
            entry = top.next
        steps += 1
        if deadline and steps % 4096 == 0 and time.monotonic() > deadline:
            return None, "search budget exhausted after %d steps" % steps
    return True, None


def explain(ops, best):
    count, prefix, state, blocking = best
    prefix = prefix or []
    done = {o.idx for o in prefix}
    op = blocking.op
    # the operations that were candidates at that point: not yet linearized, invoked before
    # the blocking op returned
    cands = [o for o in ops if o.idx not in done and o.invoke <= op.complete]
    return {
        "linearized": count,
        "last": [o.describe() for o in prefix[-5:]],
        "state": state,
        "blocking": op.describe(),
        "candidates": [o.describe() for o in cands[:12]],
    }


def check(ops, budget_s=None):
    """Returns (verdict, report lines). verdict: True, False, or None (undecided)."""
    by_key = {}
    for o in ops:
        by_key.setdefault(o.key, []).append(o)
    lines = []
    verdict = True
    total = 0
    for key in sorted(by_key):
        kept = prepare(by_key[key])
        total += len(kept)
        ok, why = check_key(kept, budget_s)
        if ok is None:
            verdict = None if verdict else verdict
            lines.append("key %s: undecided: %s" % (key, why))
        elif not ok:
            verdict = False
            lines.append("key %s: no linearization exists" % key)
            lines.append("  longest linearizable prefix: %d ops, ending with:" % why["linearized"])
            for d in why["last"]:
                lines.append("    " + d)
            lines.append("  register then holds %s" % json.dumps(why["state"]))
            lines.append("  but this op must take effect before it returns and cannot: %s" % why["blocking"])
            lines.append("  nor can any other op pending at that point:")
            for d in why["candidates"]:
                lines.append("    " + d)
    lines.insert(0, "%d keys, %d operations checked (%d in the history)" % (len(by_key), total, len(ops)))
    return verdict, lines


# ---------------------------------------------------------------- self-test

def H(*rows):
    """rows: (process, key, op, value, invoke, complete, status[, result])"""
    out = []
    for r in rows:
        d = {"process": r[0], "key": r[1], "op": r[2], "value": r[3], "invoke_ns": r[4], "complete_ns": r[5],
             "status": r[6]}
        if len(r) > 7:
            d["result"] = r[7]
        out.append(parse_line(len(out), d))
    return out


def simulate(seed, processes=16, keys=4, ops_per_process=500, info_rate=0.02, fail_rate=0.02, cas=False):
    """A real register under random concurrency: every op takes effect at a random instant
    inside its [invoke, complete] window (or never, for failed ops and some info ops), so
    the history it produces is linearizable by construction."""
    rnd = random.Random(seed)
    planned = []
    for p in range(processes):
        t = rnd.randint(0, 1000)
        for s in range(ops_per_process):
            key = "k%d" % rnd.randrange(keys)
            dur = rnd.randint(1, 1000)
            invoke, complete = t, t + dur
            point = rnd.uniform(invoke, complete)
            r = rnd.random()
            kind = "write" if r < 0.45 else ("cas" if cas and r < 0.6 else "read")
            status = "ok"
            x = rnd.random()
            if x < info_rate:
                status = "info"
            elif x < info_rate + fail_rate and kind != "read":
                status = "fail"
            planned.append([point, p, key, kind, "v%d-%d" % (p, s), invoke, complete, status])
            t = complete + rnd.randint(0, 200)
    regs = {}
    rows = []
    for point, p, key, kind, val, invoke, complete, status in sorted(planned):
        cur = regs.get(key)
        happened = status == "ok" or (status == "info" and rnd.random() < 0.5)
        if kind == "write":
            if happened:
                regs[key] = val
            rows.append((p, key, "write", val, invoke, complete, status))
        elif kind == "read":
            rows.append((p, key, "read", cur, invoke, complete, status))
        else:
            expected = cur if rnd.random() < 0.5 else "nope"
            swapped = happened and cur == expected
            if swapped:
                regs[key] = val
            rows.append((p, key, "cas", [expected, val], invoke, complete, status, swapped))
    rows.sort(key=lambda r: r[4])
    return H(*rows)


def brute_force(ops):
    """Exhaustive reference for tiny histories: some subset of the info ops plus every ok op,
    in some order that respects real time, replays legally on the register."""
    import itertools
    ops = [o for o in ops if o.status != "fail" and not (o.kind == "read" and o.status == "info")]
    infos = [o for o in ops if o.status == "info"]
    done = [o for o in ops if o.status != "info"]
    for r in range(len(infos) + 1):
        for sub in itertools.combinations(infos, r):
            for perm in itertools.permutations(done + list(sub)):
                if any(b.complete < a.invoke for i, a in enumerate(perm) for b in perm[i + 1:]):
                    continue
                state, legal = None, True
                for o in perm:
                    legal, state = step(state, o)
                    if not legal:
                        break
                if legal:
                    return True
    return False


def random_tiny(rnd):
    rows = []
    vals = ["a", "b", "c"]
    for i in range(rnd.randint(1, 6)):
        inv = rnd.randint(0, 50)
        comp = inv + rnd.randint(0, 30)
        st = rnd.choice(["ok", "ok", "ok", "info", "fail"])
        k = rnd.random()
        if k < 0.4:
            rows.append((i, "k", "write", rnd.choice(vals), inv, comp, st))
        elif k < 0.85:
            rows.append((i, "k", "read", rnd.choice(vals + [None]), inv, comp, st))
        else:
            rows.append((i, "k", "cas", [rnd.choice(vals + [None]), rnd.choice(vals)], inv, comp, st,
                         rnd.random() < 0.5))
    return rows


def self_test():
    cases = [
        # (name, history, expected verdict)
        ("sequential write/read", H(
            (1, "a", "write", "x", 0, 10, "ok"),
            (2, "a", "read", "x", 20, 30, "ok")), True),
        ("read of an absent key", H((1, "a", "read", None, 0, 10, "ok")), True),
        ("concurrent writes, reads agree on one order", H(
            (1, "a", "write", "1", 0, 100, "ok"),
            (2, "a", "write", "2", 0, 100, "ok"),
            (3, "a", "read", "2", 10, 20, "ok"),
            (3, "a", "read", "1", 110, 120, "ok"),
            (4, "a", "read", "1", 130, 140, "ok")), True),
        ("read concurrent with a write may see either", H(
            (1, "a", "write", "x", 0, 10, "ok"),
            (1, "a", "write", "y", 20, 100, "ok"),
            (2, "a", "read", "x", 30, 40, "ok"),
            (3, "a", "read", "y", 30, 40, "ok"),
            (2, "a", "read", "y", 110, 120, "ok")), True),
        ("timed-out write that took effect", H(
            (1, "a", "write", "x", 0, 10, "ok"),
            (1, "a", "write", "y", 20, None, "info"),
            (2, "a", "read", "y", 500, 510, "ok")), True),
        ("timed-out write that never took effect", H(
            (1, "a", "write", "x", 0, 10, "ok"),
            (1, "a", "write", "y", 20, None, "info"),
            (2, "a", "read", "x", 500, 510, "ok")), True),
        ("timed-out write seen, then overwritten", H(
            (1, "a", "write", "y", 0, None, "info"),
            (2, "a", "read", "y", 10, 20, "ok"),
            (2, "a", "write", "z", 30, 40, "ok"),
            (3, "a", "read", "z", 50, 60, "ok")), True),
        ("cas as a register op", H(
            (1, "a", "write", "1", 0, 10, "ok"),
            (2, "a", "cas", ["1", "2"], 20, 30, "ok", True),
            (3, "a", "cas", ["1", "3"], 40, 50, "ok", False),
            (3, "a", "read", "2", 60, 70, "ok")), True),
        ("keys are independent", H(
            (1, "a", "write", "1", 0, 10, "ok"),
            (1, "b", "write", "2", 20, 30, "ok"),
            (2, "a", "read", "1", 40, 50, "ok"),
            (2, "b", "read", "2", 40, 50, "ok")), True),
        # ---- known-bad
        ("stale read after an acknowledged write", H(
            (1, "a", "write", "x", 0, 10, "ok"),
            (1, "a", "write", "y", 20, 30, "ok"),
            (2, "a", "read", "x", 40, 50, "ok")), False),
        ("lost acknowledged write (read finds the key absent)", H(
            (1, "a", "write", "x", 0, 10, "ok"),
            (2, "a", "read", None, 20, 30, "ok")), False),
        ("lost acknowledged write among others", H(
            (1, "a", "write", "1", 0, 10, "ok"),
            (2, "b", "write", "q", 0, 10, "ok"),
            (1, "a", "write", "2", 20, 30, "ok"),
            (3, "a", "read", "1", 40, 50, "ok"),
            (3, "b", "read", "q", 40, 50, "ok")), False),
        ("read of a value never written", H(
            (1, "a", "write", "x", 0, 10, "ok"),
            (2, "a", "read", "ghost", 5, 30, "ok")), False),
        ("read of a failed write's value", H(
            (1, "a", "write", "x", 0, 10, "fail"),
            (2, "a", "read", "x", 20, 30, "ok")), False),
        ("two reads seeing concurrent writes in opposite orders", H(
            (1, "a", "write", "1", 0, 100, "ok"),
            (2, "a", "write", "2", 0, 100, "ok"),
            (3, "a", "read", "1", 10, 20, "ok"),
            (3, "a", "read", "2", 30, 40, "ok"),
            (4, "a", "read", "2", 10, 20, "ok"),
            (4, "a", "read", "1", 30, 40, "ok")), False),
        ("read goes back in time (new value, then old)", H(
            (1, "a", "write", "1", 0, 10, "ok"),
            (1, "a", "write", "2", 20, 100, "ok"),
            (2, "a", "read", "2", 30, 40, "ok"),
            (3, "a", "read", "1", 50, 60, "ok")), False),
        ("timed-out write seen, then the older value again", H(
            (1, "a", "write", "x", 0, 10, "ok"),
            (1, "a", "write", "y", 20, None, "info"),
            (2, "a", "read", "y", 30, 40, "ok"),
            (2, "a", "read", "x", 50, 60, "ok")), False),
        ("cas that swapped from a value the register did not hold", H(
            (1, "a", "write", "1", 0, 10, "ok"),
            (2, "a", "cas", ["0", "2"], 20, 30, "ok", True)), False),
    ]
    failures = 0
    for name, hist, want in cases:
        got, lines = check(hist, budget_s=10)
        status = "PASS" if got is want else "FAIL"
        if got is not want:
            failures += 1
        print("%s lincheck %-55s -> %s" % (status, name, {True: "linearizable", False: "NOT linearizable",
                                                           None: "undecided"}[got]))
        if got is not want or (want is False and "-v" in sys.argv):
            for l in lines:
                print("      " + l)
    # Large random valid histories, generated by simulating a real register.
    for seed, cas in ((1, False), (2, True), (3, False)):
        hist = simulate(seed, cas=cas)
        t0 = time.monotonic()
        got, lines = check(hist, budget_s=30)
        dt = time.monotonic() - t0
        ok = got is True and dt < 20
        failures += 0 if ok else 1
        print("%s lincheck random valid history seed %d (%d ops, cas=%s) in %.2fs" % (
            "PASS" if ok else "FAIL", seed, len(hist), cas, dt))
        if not ok:
            for l in lines[:30]:
                print("      " + l)
        # the same history with one ok read changed to a value never written must fail
        reads = [o for o in hist if o.kind == "read" and o.status == "ok"]
        victim = random.Random(seed).choice(reads)
        victim.value = "never-written"
        got, lines = check(hist, budget_s=30)
        failures += 0 if got is False else 1
        print("%s lincheck the same history with one corrupted read -> %s" % (
            "PASS" if got is False else "FAIL", {True: "linearizable", False: "NOT linearizable",
                                                  None: "undecided"}[got]))
    # Cross-check against exhaustive search on many tiny random histories (about half of
    # them are not linearizable).
    rnd = random.Random(7)
    counts = {True: 0, False: 0}
    bad = 0
    for _ in range(600):
        rows = random_tiny(rnd)
        want = brute_force(H(*rows))
        got, _ = check(H(*rows))
        counts[want] += 1
        if got is not want:
            bad += 1
            print("FAIL lincheck disagrees with exhaustive search on %r: got %s" % (rows, got))
    failures += 1 if bad else 0
    print("%s lincheck agrees with exhaustive search on 600 tiny histories (%d linearizable, %d not)" % (
        "PASS" if not bad else "FAIL", counts[True], counts[False]))
    print("lincheck self-test: %d failures" % failures)
    return 1 if failures else 0


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--self-test":
        return self_test()
    if len(sys.argv) < 2:
        print(__doc__)
        return 2
    try:
        ops = load(sys.argv[1])
    except (OSError, BadHistory) as e:
        print("lincheck: %s" % e)
        return 2
    budget = float(sys.argv[2]) if len(sys.argv) > 2 else 120.0
    verdict, lines = check(ops, budget_s=budget)
    for l in lines:
        print(l)
    if verdict is True:
        print("linearizable")
        return 0
    print("NOT linearizable" if verdict is False else "undecided (search budget exhausted)")
    return 1


if __name__ == "__main__":
    sys.exit(main())
