#!/bin/sh
# Three real kube-store processes on loopback as one Raft cluster:
#   write through a follower and read it back linearizably from every member; kill -9 the
#   leader, see a new leader elected and writes succeed through the survivors (failover
#   time printed, not asserted); restart the killed member and see it catch up (equal hash
#   at the same revision); SIGTERM the leader and see leadership handed over before it
#   exits; member remove and add through the JSON API (the added member catches up).
set -u
ROOT=${KUBEC_ROOT:-$(pwd)}
BUILD=${KUBEC_BUILD:-$ROOT/build}
PY=/usr/bin/python3
STORE=$BUILD/bin/kube-store
[ -x "$PY" ] || { echo "SKIP: $PY not installed"; exit 77; }
[ -x "$STORE" ] || { echo "FAIL: $STORE not built"; exit 1; }

TMP=$(mktemp -d /tmp/store_cluster.XXXXXX)
cleanup() {
	if [ -f "$TMP/pids" ]; then
		for p in $(cat "$TMP/pids"); do kill -9 "$p" 2>/dev/null; done
	fi
	[ "${STORE_CLUSTER_KEEP:-0}" = 1 ] || rm -rf "$TMP"
}
trap cleanup EXIT INT TERM

cat >"$TMP/t.py" <<'EOF'
import base64, json, os, signal, subprocess, sys, time, urllib.request, urllib.error

STORE, TMP, ROOT = sys.argv[1], sys.argv[2], sys.argv[3]
ports = subprocess.check_output([sys.executable, ROOT + "/test/integration/store/freeport.py", "8"]).split()
ports = [int(p) for p in ports]
names = ["m1", "m2", "m3", "m4"]
client = {n: ports[2 * i] for i, n in enumerate(names)}
peer = {n: ports[2 * i + 1] for i, n in enumerate(names)}
procs = {}
failed = []

def b64(s):
    return base64.b64encode(s.encode()).decode()

def call(name, path, body, timeout=10):
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

def start(name, members, state="new"):
    cluster = ",".join("%s=http://127.0.0.1:%d" % (m, peer[m]) for m in members)
    log = open("%s/%s.log" % (TMP, name), "a")
    p = subprocess.Popen([STORE, "--name", name, "--data-dir", "%s/%s.etcd" % (TMP, name),
                          "--listen-client-urls", "http://127.0.0.1:%d" % client[name],
                          "--advertise-client-urls", "http://127.0.0.1:%d" % client[name],
                          "--listen-peer-urls", "http://127.0.0.1:%d" % peer[name],
                          "--initial-advertise-peer-urls", "http://127.0.0.1:%d" % peer[name],
                          "--initial-cluster", cluster, "--initial-cluster-state", state,
                          "--heartbeat-interval", "100", "--election-timeout", "1000",
                          "--snapshot-count", "40"],
                         stdout=log, stderr=subprocess.STDOUT)
    procs[name] = p
    with open(TMP + "/pids", "a") as f:
        f.write("%d\n" % p.pid)

def wait(what, fn, limit=20.0):
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        v = fn()
        if v:
            return v
        time.sleep(0.05)  # polling a condition under a deadline
    raise SystemExit("FAIL: timed out waiting for " + what)

def status(name):
    code, st = call(name, "/v3/maintenance/status", {}, timeout=2)
    return st if code == 200 else None

def leader_of(alive):
    ids = {}
    for n in alive:
        st = status(n)
        if not st or not st.get("leader"):
            return None
        ids[n] = (st["leader"], st["header"]["member_id"])
    leaders = set(v[0] for v in ids.values())
    if len(leaders) != 1:
        return None
    lid = leaders.pop()
    for n, (l, me) in ids.items():
        if me == lid:
            return n
    return None

def check(cond, msg):
    if not cond:
        failed.append(msg)
        print("FAIL: " + msg)

def put(name, k, v, timeout=10):
    return call(name, "/v3/kv/put", {"key": b64(k), "value": b64(v)}, timeout)

def get(name, k, serializable=False):
    code, r = call(name, "/v3/kv/range", {"key": b64(k), "serializable": serializable})
    if code != 200:
        return None
    kvs = r.get("kvs", [])
    return base64.b64decode(kvs[0]["value"]).decode() if kvs else ""

def hash_at(name):
    code, r = call(name, "/v3/maintenance/hash", {})
    return (r.get("header", {}).get("revision"), r.get("hash")) if code == 200 else None

alive = ["m1", "m2", "m3"]
for n in alive:
    start(n, alive)
lead = wait("a leader", lambda: leader_of(alive))
print("leader:", lead)
follower = [n for n in alive if n != lead][0]

# write through a follower, read back linearizably everywhere
code, r = put(follower, "k1", "v1")
check(code == 200, "put through follower %s: %s %s" % (follower, code, r))
for n in alive:
    check(get(n, "k1") == "v1", "linearizable read of k1 on " + n)
# member list shows all three with names and client URLs (published)
def listed():
    code, r = call(lead, "/v3/cluster/member/list", {})
    ms = r.get("members", [])
    return len(ms) == 3 and all(m.get("name") and m.get("clientURLs") for m in ms) and ms
ms = wait("every member published", listed)
check(sorted(m["name"] for m in ms) == alive, "member names %s" % ms)
# enough writes for a snapshot and a compacted log (snapshot-count 40)
for i in range(60):
    code, r = put(alive[i % 3], "bulk%03d" % i, "x" * 100)
    check(code == 200, "bulk put %d through %s: %s %s" % (i, alive[i % 3], code, r))

# kill -9 the leader; a new one is elected and writes succeed through survivors
t0 = time.monotonic()
procs[lead].kill()
procs[lead].wait()
survivors = [n for n in alive if n != lead]
def write_ok():
    code, _ = put(survivors[0], "after-failover", "yes", timeout=2)
    return code == 200
wait("a write after the leader was killed", write_ok, 30)
print("failover: kill -9 to first successful write %.0f ms" % ((time.monotonic() - t0) * 1000))
newlead = wait("a new leader", lambda: leader_of(survivors))
check(newlead != lead, "new leader differs from the killed one")
for n in survivors:
    code, _ = put(n, "through-" + n, "ok")
    check(code == 200, "write through survivor " + n)

# restart the killed member: it catches up (equal hash at the same revision)
start(lead, alive)
def caught_up(writer):
    put(writer, "sync", str(time.monotonic()))
    hs = [hash_at(n) for n in alive]
    return all(hs) and len(set(hs)) == 1 and hs
hs = wait("the restarted member to catch up", lambda: caught_up(newlead), 30)
print("hash after catch-up:", hs[0])
check(get(lead, "after-failover") == "yes", "restarted member has the write made while it was down")

# SIGTERM the leader: leadership moves to another member before it exits
cur = wait("a leader", lambda: leader_of(alive))
procs[cur].send_signal(signal.SIGTERM)
rc = procs[cur].wait(timeout=20)
check(rc == 0, "leader exited 0 after SIGTERM (rc %s)" % rc)
rest = [n for n in alive if n != cur]
logtxt = open("%s/%s.log" % (TMP, cur)).read()
check("leadership transferred to" in logtxt, "SIGTERM'd leader logged the transfer")
nl = wait("a leader after SIGTERM", lambda: leader_of(rest), 10)
check(nl in rest, "leadership moved to a remaining member")
start(cur, alive)
wait("the SIGTERM'd member back", lambda: leader_of(alive))

# MoveLeader (etcd's /v3/maintenance/transfer-leadership): only the leader moves it
cur = leader_of(alive)
target = [n for n in alive if n != cur][0]
tid = status(target)["header"]["member_id"]
code, r = call(target, "/v3/maintenance/transfer-leadership", {"targetID": tid})
check(code != 200 and "not leader" in r.get("error", ""), "move_leader on a follower: %s %s" % (code, r))
code, r = call(cur, "/v3/maintenance/transfer-leadership", {"targetID": tid})
check(code == 200, "move_leader: %s %s" % (code, r))
check(wait("the moved leader", lambda: leader_of(alive)) == target, "leadership moved to " + target)

# member remove and add through the JSON API
cur = leader_of(alive)
victim = [n for n in alive if n != cur][0]
vid = status(victim)["header"]["member_id"]
code, r = call(cur, "/v3/cluster/member/remove", {"ID": vid})
check(code == 200 and len(r.get("members", [])) == 2, "member remove: %s %s" % (code, r))
procs[victim].wait(timeout=20)
code, r = call(cur, "/v3/cluster/member/remove", {"ID": vid})
check(code == 404 and "member not found" in r.get("error", ""), "remove again: %s %s" % (code, r))
alive = [n for n in alive if n != victim]
code, r = call(cur, "/v3/cluster/member/add", {"peerURLs": ["http://127.0.0.1:%d" % peer["m4"]]})
check(code == 200 and r.get("member", {}).get("peerURLs") == ["http://127.0.0.1:%d" % peer["m4"]],
      "member add: %s %s" % (code, r))
code, r2 = call(cur, "/v3/cluster/member/add", {"peerURLs": ["http://127.0.0.1:%d" % peer["m4"]]})
check(code != 200 and "Peer URLs already exists" in r2.get("error", ""), "add again: %s %s" % (code, r2))
start("m4", alive + ["m4"], "existing")
alive = alive + ["m4"]
wait("the added member to catch up", lambda: caught_up(cur), 30)
check(get("m4", "k1", serializable=True) == "v1", "added member has k1")
logm4 = open(TMP + "/m4.log").read()
check("installed snapshot" in logm4, "added member caught up by InstallSnapshot")
for n in alive:
    code, _ = put(n, "final-" + n, "ok")
    check(code == 200, "write through " + n + " after add")

for p in procs.values():
    if p.poll() is None:
        p.terminate()
for p in procs.values():
    try:
        p.wait(timeout=20)
    except subprocess.TimeoutExpired:
        p.kill()
sys.exit(1 if failed else 0)
EOF

$PY "$TMP/t.py" "$STORE" "$TMP" "$ROOT"
rc=$?
if [ $rc != 0 ]; then
	for f in "$TMP"/*.log; do
		echo "==== $f (last 40 lines)"
		tail -n 40 "$f"
	done
	echo "store_cluster: FAIL"
	exit 1
fi
echo "store_cluster: PASS"
exit 0
