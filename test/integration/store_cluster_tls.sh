#!/bin/sh
# Three kube-store members whose peer links are mutual TLS (etcd's --peer-cert-file,
# --peer-key-file, --peer-trusted-ca-file, --peer-client-cert-auth, https:// peer URLs):
# they elect a leader, a write through a follower is read back linearizably from every
# member; a fourth member added with a certificate from another CA never joins (its peers
# refuse the handshake) while the cluster keeps serving, and is removed again.
# Certificates are generated here with openssl.
set -u
ROOT=${KUBEC_ROOT:-$(pwd)}
BUILD=${KUBEC_BUILD:-$ROOT/build}
PY=/usr/bin/python3
STORE=$BUILD/bin/kube-store
[ -x "$PY" ] || { echo "SKIP: $PY not installed"; exit 77; }
command -v openssl >/dev/null || { echo "SKIP: openssl not installed"; exit 77; }
[ -x "$STORE" ] || { echo "FAIL: $STORE not built"; exit 1; }

TMP=$(mktemp -d /tmp/store_tls.XXXXXX)
cleanup() {
	if [ -f "$TMP/pids" ]; then
		for p in $(cat "$TMP/pids"); do kill -9 "$p" 2>/dev/null; done
	fi
	rm -rf "$TMP"
}
trap cleanup EXIT INT TERM

# ca NAME: a CA; cert CA NAME: a peer certificate (server + client auth, SAN 127.0.0.1)
ca() {
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=$1" \
		-keyout "$TMP/$1.key" -out "$TMP/$1.crt" 2>/dev/null
}
cert() {
	printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n' >"$TMP/ext"
	openssl req -newkey rsa:2048 -nodes -subj "/CN=$2" -keyout "$TMP/$2.key" \
		-out "$TMP/$2.csr" 2>/dev/null &&
	openssl x509 -req -in "$TMP/$2.csr" -CA "$TMP/$1.crt" -CAkey "$TMP/$1.key" \
		-CAcreateserial -days 2 -extfile "$TMP/ext" -out "$TMP/$2.crt" 2>/dev/null
}
ca ca && ca rogue-ca && cert ca m1 && cert ca m2 && cert ca m3 && cert rogue-ca m4 ||
	{ echo "FAIL: certificate generation"; exit 1; }

cat >"$TMP/t.py" <<'EOF'
import base64, json, subprocess, sys, time, urllib.request, urllib.error

STORE, TMP, ROOT = sys.argv[1], sys.argv[2], sys.argv[3]
ports = [int(p) for p in subprocess.check_output(
    [sys.executable, ROOT + "/test/integration/store/freeport.py", "10"]).split()]
names = ["m1", "m2", "m3", "m4", "m5"]
client = {n: ports[2 * i] for i, n in enumerate(names)}
peer = {n: ports[2 * i + 1] for i, n in enumerate(names)}

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

def purl(name, tls=True):
    return "%s://127.0.0.1:%d" % ("https" if tls else "http", peer[name])

def start(name, members, state="new", certname=None, tls=True):
    cluster = ",".join("%s=%s" % (m, purl(m, tls if m == name else True)) for m in members)
    args = [STORE, "--name", name, "--data-dir", "%s/%s.etcd" % (TMP, name),
            "--listen-client-urls", "http://127.0.0.1:%d" % client[name],
            "--advertise-client-urls", "http://127.0.0.1:%d" % client[name],
            "--listen-peer-urls", purl(name, tls),
            "--initial-advertise-peer-urls", purl(name, tls),
            "--initial-cluster", cluster, "--initial-cluster-state", state,
            "--heartbeat-interval", "100", "--election-timeout", "1000"]
    if tls:
        c = certname or name
        args += ["--peer-cert-file", "%s/%s.crt" % (TMP, c), "--peer-key-file", "%s/%s.key" % (TMP, c),
                 "--peer-trusted-ca-file", "%s/ca.crt" % TMP, "--peer-client-cert-auth"]
    p = subprocess.Popen(args, stdout=open("%s/%s.log" % (TMP, name), "a"), stderr=subprocess.STDOUT)
    with open(TMP + "/pids", "a") as f:
        f.write("%d\n" % p.pid)
    return p

def wait(what, fn, limit=30.0):
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

def leader_of(members):
    ids = set()
    for n in members:
        st = status(n)
        if not st or not st.get("leader"):
            return None
        ids.add(st["leader"])
    return ids.pop() if len(ids) == 1 else None

three = ["m1", "m2", "m3"]
for n in three:
    start(n, three)
lead = wait("one leader over TLS peers", lambda: leader_of(three))
member_of = {status(n)["header"]["member_id"]: n for n in three}
lname = member_of[lead]
follower = [n for n in three if n != lname][0]
print("ok leader %s elected over mutual-TLS peer links" % lname)

code, r = call(follower, "/v3/kv/put", {"key": b64("tls-key"), "value": b64("v1")})
if code != 200:
    raise SystemExit("FAIL: put through follower %s: %s %s" % (follower, code, r))
rev = int(r["header"]["revision"])
for n in three:
    code, r = call(n, "/v3/kv/range", {"key": b64("tls-key")})
    kvs = r.get("kvs") or []
    if code != 200 or not kvs or base64.b64decode(kvs[0]["value"]) != b"v1":
        raise SystemExit("FAIL: linearizable read on %s: %s %s" % (n, code, r))
print("ok write through follower %s at revision %d read back from all three" % (follower, rev))

# A member with a certificate from another CA: added to the membership, but its peers
# refuse its TLS handshake, so it never catches up while the cluster keeps serving.
code, r = call(lname, "/v3/cluster/member/add", {"peerURLs": [purl("m4")]})
if code != 200:
    raise SystemExit("FAIL: member add m4: %s %s" % (code, r))
m4 = start("m4", three + ["m4"], state="existing")
# m4 counts as a voter now: 3 of 4 is still a quorum, so writes go on.
for i in range(5):
    code, r = call(follower, "/v3/kv/put", {"key": b64("tls-key"), "value": b64("v%d" % (i + 2))})
    if code != 200:
        raise SystemExit("FAIL: put with the rogue member present: %s %s" % (code, r))
def refused():
    # the members close the rogue's connections ("peer: closing connection from ...")
    # or it fails to dial them ("peer <id>: <url>: <TLS error>")
    logs = "".join(open("%s/%s.log" % (TMP, n), errors="replace").read() for n in three + ["m4"])
    return "closing connection from" in logs or ("peer " in logs and "certificate" in logs)
wait("a refused TLS handshake logged", refused)
st = status("m4")
applied = int(st.get("raftAppliedIndex", 0)) if st else 0
lst = status(lname)
if st and st.get("header", {}).get("revision") and int(st["header"]["revision"]) >= int(lst["header"]["revision"]):
    raise SystemExit("FAIL: the rogue-CA member caught up: %s" % st)
print("ok a member with a certificate from another CA is refused (applied index %d, revision %s)"
      % (applied, st.get("header", {}).get("revision") if st else "none"))
m4.kill()
code, r = call(lname, "/v3/cluster/member/list", {})
m4id = [m["ID"] for m in r["members"] if purl("m4") in m.get("peerURLs", [])][0]
code, r = call(lname, "/v3/cluster/member/remove", {"ID": m4id})
if code != 200:
    raise SystemExit("FAIL: member remove m4: %s %s" % (code, r))

code, r = call(follower, "/v3/kv/put", {"key": b64("tls-key"), "value": b64("final")})
if code != 200:
    raise SystemExit("FAIL: put after removing the rogue member: %s %s" % (code, r))
for n in three:
    code, r = call(n, "/v3/kv/range", {"key": b64("tls-key")})
    if base64.b64decode(r["kvs"][0]["value"]) != b"final":
        raise SystemExit("FAIL: final read on %s: %s" % (n, r))
print("ok cluster serves after the rogue member is removed")
print("PASS store_cluster_tls")
EOF
timeout 150 "$PY" "$TMP/t.py" "$STORE" "$TMP" "$ROOT"
rc=$?
if [ $rc -ne 0 ]; then
	for f in "$TMP"/*.log; do echo "== $f"; tail -n 15 "$f"; done
fi
exit $rc
