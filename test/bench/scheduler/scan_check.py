#!/usr/bin/python3
"""Checks podcreate's watch event scanner against Python's JSON decoder.

  scan_check.py PODCREATE_BIN EVENTS_FILE

EVENTS_FILE holds watch event lines captured from kube-apiserver (ADDED, bound, deleted
pods, one with "name"/"nodeName" strings in an annotation, an env var and managedFields)
plus edge cases (escaped quotes, spec before metadata, empty/null nodeName, truncated or
malformed lines, other pods). For each line the scanner must report what json.loads
finds at object.metadata.name / object.spec.nodeName, or reject what json.loads
rejects. Then 3,000 random mutations of those lines (deleted, inserted, replaced bytes;
fixed seed) that json.loads still accepts must scan the same way too. (Malformed JSON
inside values the scanner skips is not diagnosed: the apiserver emits valid JSON.)
Exit 0 when all lines agree, 1 otherwise (run.sh runs it before every bench).
"""
import json
import os
import random
import re
import subprocess
import sys
import tempfile


def expected(line):
    try:
        ev = json.loads(line)
    except ValueError:
        return "skip"
    if not isinstance(ev, dict):
        return "skip"
    obj = ev.get("object", {})
    name = obj.get("metadata", {}).get("name", "")
    bound = 1 if obj.get("spec", {}).get("nodeName") else 0
    if isinstance(name, str) and re.fullmatch(r"bench-[0-9]{6}", name):
        return "%d %d" % (int(name[6:]), bound)
    return "other %d" % bound


def compare(binary, lines, what):
    """number of lines where the scanner and json.loads disagree"""
    with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False) as f:
        f.write("".join(l + "\n" for l in lines))
    try:
        got = subprocess.run([binary, "--scan", f.name], stdout=subprocess.PIPE,
                             text=True, check=True).stdout.split("\n")[:-1]
    finally:
        os.unlink(f.name)
    if len(got) != len(lines):
        print("scanner: %d results for %d %s lines" % (len(got), len(lines), what))
        return max(1, len(lines))
    bad = 0
    for n, (line, g) in enumerate(zip(lines, got), 1):
        want = expected(line)
        if g != want:
            bad += 1
            if bad <= 5:
                print("scanner, %s line %d: got %r, json.loads gives %r: %s" %
                      (what, n, g, want, line[:160]))
    return bad


def mutations(lines, n):
    """n mutated lines that are still valid JSON"""
    rnd = random.Random(6)
    alpha = '{}[]",:\\ab0e1- '
    out = []
    while len(out) < n:
        l = rnd.choice(lines)
        for _ in range(rnd.randint(1, 4)):
            if not l:
                break
            i, op = rnd.randrange(len(l)), rnd.randint(0, 2)
            c = rnd.choice(alpha)
            l = l[:i] + l[i + 1:] if op == 0 else l[:i] + c + l[i + (op == 2):]
        if expected(l) != "skip":
            out.append(l)
    return out


def main():
    lines = open(sys.argv[2]).read().split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    bad = compare(sys.argv[1], lines, "corpus")
    mut = mutations(lines, 3000)
    bad += compare(sys.argv[1], mut, "mutated")
    if bad:
        return 1
    print("watch event scanner agrees with json.loads on %d lines and %d valid mutations" %
          (len(lines), len(mut)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
