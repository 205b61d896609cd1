#!/bin/sh
# A member joins a running kube-store as kubeadm's etcd phase (and test/lab) does: one
# member, a write, `kube-storectl member add`, then the new member starts with
# --initial-cluster-state existing a while later (long enough for the leader, now one of
# two voters, to lose its quorum). Checks:
#   * the joiner is never refused for a cluster ID mismatch (it only says hello until the
#     leader's stream tells it the id) and the two agree on a leader and take writes
#     within a few election timeouts of its start (the lab once waited 110 s);
#   * removed member ids never come back (etcd's RaftCluster.removed): after
#     `member remove`, adding the same peer URLs again (the same id: ids derive from peer
#     URLs + token) is answered 404 "etcdserver: member not found", also after a restart
#     of the remaining member; other URLs are still accepted.
set -u
ROOT=${KUBEC_ROOT:-$(pwd)}
BUILD=${KUBEC_BUILD:-$ROOT/build}
PY=/usr/bin/python3
[ -x "$PY" ] || { echo "SKIP: $PY not installed"; exit 77; }
for b in kube-store kube-storectl; do
	[ -x "$BUILD/bin/$b" ] || { echo "FAIL: $BUILD/bin/$b not built"; exit 1; }
done

TMP=$(mktemp -d /tmp/store_join.XXXXXX)
cleanup() {
	if [ -f "$TMP/pids" ]; then
		for p in $(cat "$TMP/pids"); do kill -9 "$p" 2>/dev/null; done
	fi
	rm -rf "$TMP"
}
trap cleanup EXIT INT TERM

cat >"$TMP/t.py" <<'PYEOF'
import base64, json, subprocess, sys, time, urllib.request, urllib.error

BIN, TMP, ROOT = sys.argv[1], sys.argv[2], sys.argv[3]
ports = [int(p) for p in subprocess.check_output(
    [sys.executable, ROOT + "/test/integration/store/freeport.py", "6"]).split()]
client = {"cp1": ports[0], "cp2": ports[2], "cp3": ports[4]}
peer = {"cp1": ports[1], "cp2": ports[3], "cp3": ports[5]}
procs = {}
failed = []
ELECTION_S = 1.0

def purl(n):
    return "http://127.0.0.1:%d" % peer[n]

def call(name, path, body, timeout=5):
    req = urllib.request.Request("http://127.0.0.1:%d%s" % (client[name], path),
                                 data=json.dumps(body).encode(), method="POST")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, json.loads(r.read() or b"{}")
    except urllib.error.HTTPError as e:
        try:
            return e.code, json.loads(e.read() or b"{}")
        except ValueError:
            return e.code, {}
    except OSError as e:
        return 0, {"error": str(e)}

def start(name, cluster, state):
    log = open("%s/%s.log" % (TMP, name), "a")
    p = subprocess.Popen([BIN + "/kube-store", "--name", name,
                          "--data-dir", "%s/%s.etcd" % (TMP, name),
                          "--listen-client-urls", "http://127.0.0.1:%d" % client[name],
                          "--advertise-client-urls", "http://127.0.0.1:%d" % client[name],
                          "--listen-peer-urls", purl(name),
                          "--initial-advertise-peer-urls", purl(name),
                          "--initial-cluster", cluster, "--initial-cluster-state", state,
                          "--heartbeat-interval", "100",
                          "--election-timeout", str(int(ELECTION_S * 1000))],
                         stdout=log, stderr=subprocess.STDOUT)
    procs[name] = p
    with open(TMP + "/pids", "a") as f:
        f.write("%d\n" % p.pid)

def wait(what, fn, limit):
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        v = fn()
        if v:
            return v
        time.sleep(0.05)  # polling a condition under a deadline
    return None

def check(cond, msg):
    if not cond:
        failed.append(msg)
        print("FAIL: " + msg)

def b64(s):
    return base64.b64encode(s.encode()).decode()

def put(name, k, v, timeout=5):
    return call(name, "/v3/kv/put", {"key": b64(k), "value": b64(v)}, timeout)[0] == 200

def ctl(*args):
    p = subprocess.run([BIN + "/kube-storectl", "--endpoints=127.0.0.1:%d" % client["cp1"]]
                       + list(args), capture_output=True, text=True, timeout=30)
    return p.returncode, p.stdout + p.stderr

def log_of(name):
    return open("%s/%s.log" % (TMP, name)).read()

try:
    start("cp1", "cp1=" + purl("cp1"), "new")
    check(wait("cp1 writable", lambda: put("cp1", "k0", "v0", 1), 15), "cp1 takes a write")
    rc, out = ctl("member", "add", "cp2", "--peer-urls=" + purl("cp2"))
    check(rc == 0 and "ETCD_INITIAL_CLUSTER=" in out, "member add cp2: %d %s" % (rc, out))
    # The leader is one of two voters now and steps down after ~2 election timeouts
    # without the joiner (as etcd's does); start the joiner after that.
    time.sleep(2.5 * ELECTION_S)  # the scenario's delay, not a synchronisation
    start("cp2", "cp1=%s,cp2=%s" % (purl("cp1"), purl("cp2")), "existing")
    t0 = time.monotonic()
    ok = wait("both writable", lambda: put("cp1", "k1", "a", 1) and put("cp2", "k2", "b", 1), 30)
    took = time.monotonic() - t0
    print("joined: both members take writes %.2f s after the joiner started" % took)
    check(ok, "the two members never took writes together")
    # a few election timeouts (pre-vote, vote, a round trip): generous for a loaded CI box
    check(took < 5 * ELECTION_S, "join took %.2f s (> 5 election timeouts)" % took)
    check("cluster ID mismatch" not in log_of("cp1"),
          "the leader refused the joiner's stream for a cluster ID mismatch")
    check("learned cluster id" in log_of("cp2"), "the joiner logged the id it learned")

    # ---- removed ids never come back ----
    code, r = call("cp1", "/v3/cluster/member/list", {})
    ids = {m["peerURLs"][0]: m["ID"] for m in r.get("members", []) if m.get("peerURLs")}
    check(code == 200 and purl("cp2") in ids, "member list has cp2: %s %s" % (code, r))
    cp2id = ids.get(purl("cp2"), "0")
    code, r = call("cp1", "/v3/cluster/member/remove", {"ID": cp2id})
    check(code == 200, "member remove cp2: %s %s" % (code, r))
    try:
        procs["cp2"].wait(timeout=20)
    except subprocess.TimeoutExpired:
        check(False, "cp2 did not exit after its removal")
    check("permanently removed" in log_of("cp2"), "cp2 logged its removal")

    def re_add(expect_404):
        code, r = call("cp1", "/v3/cluster/member/add", {"peerURLs": [purl("cp2")]}, 15)
        return code, r
    code, r = re_add(True)
    check(code == 404 and r.get("error") == "etcdserver: member not found",
          "re-adding removed cp2's peer URLs: %s %s" % (code, r))
    rc, out = ctl("member", "add", "cp2", "--peer-urls=" + purl("cp2"))
    check(rc != 0 and "etcdserver: member not found" in out,
          "kube-storectl member add of a removed id: %d %s" % (rc, out))
    # survives a restart of the remaining member (replayed from its WAL)
    procs["cp1"].terminate()
    procs["cp1"].wait(timeout=20)
    start("cp1", "cp1=" + purl("cp1"), "new")
    check(wait("cp1 writable again", lambda: put("cp1", "k3", "c", 1), 15),
          "cp1 takes a write after its restart")
    code, r = re_add(True)
    check(code == 404 and r.get("error") == "etcdserver: member not found",
          "re-adding cp2's URLs after a restart: %s %s" % (code, r))
    # other URLs are a new member
    code, r = call("cp1", "/v3/cluster/member/add", {"peerURLs": [purl("cp3")], "isLearner": True})
    check(code == 200 and r.get("member", {}).get("peerURLs") == [purl("cp3")],
          "adding new peer URLs: %s %s" % (code, r))
finally:
    for p in procs.values():
        if p.poll() is None:
            p.kill()
            p.wait()

if failed:
    for n in ("cp1", "cp2"):
        print("---- %s.log" % n)
        try:
            print(log_of(n)[-6000:])
        except OSError:
            pass
    sys.exit(1)
print("PASS")
PYEOF

"$PY" "$TMP/t.py" "$BUILD/bin" "$TMP" "$ROOT"
