#!/usr/bin/python3
"""A cluster of N store members (kube-store or etcd 3.4: same flags, same JSON API) for the
fault tests and the cluster benchmark.

Members run either on loopback (ports from bind(0)) or, for partitions, each in its own
network namespace (NetnsNet below): a veth pair per member into a bridge in the root
namespace, the member listening on its own 10.x address, so an iptables DROP inside one
member's namespace cuts it from its peers while clients in the root namespace still reach it.

Used as a module (faults.py, bench_cluster.py). Every process is started by this module and
killed by its pid; pids are also written to <workdir>/pids so the calling shell's trap can
kill them if Python itself dies.
"""

import base64
import fcntl
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import time

NETNS_PREFIX = "kcfl"          # every namespace, link and rule this module creates
NETNS_SUBNET = "10.213.47"     # bridge .1, member i at .(11 + i)
NETNS_LOCK = "/tmp/kubec-store-netns.lock"


def b64(s):
    return base64.b64encode(s.encode() if isinstance(s, str) else s).decode()


def unb64(s):
    return base64.b64decode(s).decode(errors="replace")


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


def sh(cmd, check=True):
    p = subprocess.run(cmd, shell=True, capture_output=True, text=True)
    if check and p.returncode != 0:
        raise RuntimeError("%s: %s" % (cmd, (p.stderr or p.stdout).strip()))
    return p


class NetnsNet:
    """Namespaces kcfl-m<i>, veths kcfl-v<i> (root side, enslaved to bridge kcfl-br) and
    kcfl-p<i> (member side). One run at a time (flock), leftovers of a crashed run deleted
    first by the name prefix."""

    def __init__(self, n):
        self.n = n
        self.lock = None

    @staticmethod
    def available():
        if shutil.which("ip") is None or shutil.which("iptables") is None or os.geteuid() != 0:
            return False
        name = "%s-probe%d" % (NETNS_PREFIX, os.getpid() % 100000)
        ok = sh("ip netns add %s" % name, check=False).returncode == 0
        if ok:
            ok = sh("ip netns exec %s iptables -S" % name, check=False).returncode == 0
            sh("ip netns del %s" % name, check=False)
        return ok

    def ns(self, i):
        return "%s-m%d" % (NETNS_PREFIX, i)

    def ip(self, i):
        return "%s.%d" % (NETNS_SUBNET, 11 + i)

    @staticmethod
    def cleanup_leftovers():
        out = sh("ip netns list", check=False).stdout
        for line in out.splitlines():
            name = line.split()[0] if line.split() else ""
            if name.startswith(NETNS_PREFIX + "-"):
                # processes a crashed earlier run of this test left inside its namespace
                for pid in sh("ip netns pids %s" % name, check=False).stdout.split():
                    try:
                        os.kill(int(pid), signal.SIGKILL)
                    except (OSError, ValueError):
                        pass
                sh("ip netns del %s" % name, check=False)
        out = sh("ip -o link show", check=False).stdout
        for line in out.splitlines():
            parts = line.split(":")
            if len(parts) > 1:
                ifname = parts[1].strip().split("@")[0]
                if ifname.startswith(NETNS_PREFIX + "-"):
                    sh("ip link del %s" % ifname, check=False)
        rules = sh("iptables -S FORWARD", check=False).stdout
        for r in rules.splitlines():
            if "--comment %s" % NETNS_PREFIX in r and r.startswith("-A "):
                sh("iptables " + r.replace("-A ", "-D ", 1), check=False)

    def setup(self):
        self.lock = open(NETNS_LOCK, "w")
        fcntl.flock(self.lock, fcntl.LOCK_EX)
        self.cleanup_leftovers()
        br = "%s-br" % NETNS_PREFIX
        sh("ip link add %s type bridge" % br)
        sh("ip addr add %s.1/24 dev %s" % (NETNS_SUBNET, br))
        sh("ip link set %s up" % br)
        # With br_netfilter loaded, bridged frames cross the root FORWARD chain: let ours pass
        # whatever its policy is (docker sets DROP).
        if os.path.exists("/proc/sys/net/bridge/bridge-nf-call-iptables"):
            sh("iptables -I FORWARD -i %s -o %s -m comment --comment %s -j ACCEPT" % (br, br, NETNS_PREFIX),
               check=False)
        for i in range(self.n):
            ns, v, p = self.ns(i), "%s-v%d" % (NETNS_PREFIX, i), "%s-p%d" % (NETNS_PREFIX, i)
            sh("ip netns add %s" % ns)
            sh("ip link add %s type veth peer name %s" % (v, p))
            sh("ip link set %s netns %s" % (p, ns))
            sh("ip link set %s master %s" % (v, br))
            sh("ip link set %s up" % v)
            sh("ip -n %s link set lo up" % ns)
            sh("ip -n %s addr add %s/24 dev %s" % (ns, self.ip(i), p))
            sh("ip -n %s link set %s up" % (ns, p))

    def partition(self, i):
        """Drops member i's traffic to and from its peers (inside its own namespace);
        traffic from the bridge address (the clients) still flows."""
        for j in range(self.n):
            if j != i:
                sh("ip netns exec %s iptables -A INPUT -s %s -j DROP" % (self.ns(i), self.ip(j)))
                sh("ip netns exec %s iptables -A OUTPUT -d %s -j DROP" % (self.ns(i), self.ip(j)))

    def heal(self, i):
        sh("ip netns exec %s iptables -F INPUT" % self.ns(i))
        sh("ip netns exec %s iptables -F OUTPUT" % self.ns(i))

    def teardown(self):
        self.cleanup_leftovers()
        if self.lock:
            fcntl.flock(self.lock, fcntl.LOCK_UN)
            self.lock.close()
            self.lock = None


class Member:
    def __init__(self, cluster, i):
        self.cluster = cluster
        self.i = i
        self.name = "m%d" % i
        self.data = os.path.join(cluster.workdir, self.name)
        if cluster.net:
            self.host = cluster.net.ip(i)
            # a private address per namespace: the usual ports cannot collide with anyone
            self.cport, self.pport = 2379, 2380
        else:
            self.host = "127.0.0.1"
            self.cport, self.pport = free_ports(2)
        self.proc = None
        self.starts = 0
        self.logs = []
        self.paused = False

    @property
    def client_url(self):
        return "http://%s:%d" % (self.host, self.cport)

    @property
    def peer_url(self):
        return "http://%s:%d" % (self.host, self.pport)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None


class Cluster:
    def __init__(self, binary, workdir, n=3, netns=False, heartbeat_ms=50, election_ms=500,
                 snapshot_count=None, token="kcfl-token", extra=()):
        self.binary = binary
        self.workdir = workdir
        self.n = n
        self.net = NetnsNet(n) if netns else None
        self.heartbeat_ms = heartbeat_ms
        self.election_ms = election_ms
        self.snapshot_count = snapshot_count
        self.token = token
        self.extra = list(extra)
        if self.net:
            self.net.setup()
        self.members = [Member(self, i) for i in range(n)]
        help_text = subprocess.run([binary, "--help"], capture_output=True, text=True).stdout + \
            subprocess.run([binary, "--help"], capture_output=True, text=True).stderr
        # etcd 3.4 leaves pre-vote off by default (3.5 turned it on); ask for it when the
        # binary has the flag, as the partition scenario expects a returning member not to
        # disrupt the leader.
        self.prevote = "--pre-vote" in help_text
        self.pidfile = os.path.join(workdir, "pids")

    def initial_cluster(self):
        return ",".join("%s=%s" % (m.name, m.peer_url) for m in self.members)

    def _write_pids(self):
        try:
            with open(self.pidfile, "w") as f:
                for m in self.members:
                    if m.alive():
                        f.write("%d\n" % m.proc.pid)
        except OSError:
            pass  # the work dir is gone (the calling script is cleaning up): nothing to record

    def start(self, i, state="new"):
        m = self.members[i]
        if m.alive():
            return
        m.starts += 1
        logname = os.path.join(self.workdir, "%s.%d.log" % (m.name, m.starts))
        m.logs.append(logname)
        args = [self.binary, "--name", m.name, "--data-dir", m.data,
                "--listen-client-urls", m.client_url, "--advertise-client-urls", m.client_url,
                "--listen-peer-urls", m.peer_url, "--initial-advertise-peer-urls", m.peer_url,
                "--initial-cluster", self.initial_cluster(), "--initial-cluster-state", state,
                "--initial-cluster-token", self.token,
                "--heartbeat-interval", str(self.heartbeat_ms), "--election-timeout", str(self.election_ms)]
        if self.snapshot_count:
            args += ["--snapshot-count", str(self.snapshot_count)]
        if self.prevote:
            args += ["--pre-vote"]
        args += self.extra
        if self.net:
            # `ip netns exec` setns()es and execs in place: the pid is the member's own
            args = ["ip", "netns", "exec", self.net.ns(i)] + args
        with open(logname, "w") as log:
            m.proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        m.paused = False
        self._write_pids()

    def start_all(self):
        for i in range(self.n):
            self.start(i)

    def signal(self, i, sig):
        m = self.members[i]
        if m.alive():
            m.proc.send_signal(sig)

    def kill(self, i):
        m = self.members[i]
        if m.alive():
            if m.paused:
                m.proc.send_signal(signal.SIGCONT)
            m.proc.send_signal(signal.SIGKILL)
            m.proc.wait()
        m.paused = False
        self._write_pids()

    def pause(self, i):
        self.signal(i, signal.SIGSTOP)
        self.members[i].paused = True

    def resume(self, i):
        self.signal(i, signal.SIGCONT)
        self.members[i].paused = False

    def close(self):
        try:
            for i in range(self.n):
                self.kill(i)
        finally:
            if self.net:
                self.net.teardown()

    # ---- client calls

    def post(self, i, path, body, timeout=5.0):
        """(status, json) from member i; raises OSError/HTTPException on transport errors."""
        m = self.members[i]
        c = http.client.HTTPConnection(m.host, m.cport, timeout=timeout)
        try:
            c.request("POST", path, body=json.dumps(body))
            r = c.getresponse()
            data = r.read()
            try:
                return r.status, json.loads(data) if data else {}
            except ValueError:
                return r.status, {"error": data.decode(errors="replace")}
        finally:
            c.close()

    def move_leader(self, i, target, timeout=20.0):
        """Asks leader i to hand leadership to member target. etcd 3.4's gateway routes
        MoveLeader at /v3/maintenance/transfer-leadership; /v3/maintenance/move_leader is
        tried when that is 404."""
        body = {"targetID": str(self.member_id(target))}
        st, j = self.post(i, "/v3/maintenance/transfer-leadership", body, timeout=timeout)
        if st == 404:
            st, j = self.post(i, "/v3/maintenance/move_leader", body, timeout=timeout)
        return st, j

    def status(self, i, timeout=1.0):
        """/v3/maintenance/status of member i, or None."""
        if not self.members[i].alive() or self.members[i].paused:
            return None
        try:
            st, j = self.post(i, "/v3/maintenance/status", {}, timeout=timeout)
        except (OSError, http.client.HTTPException):
            return None
        return j if st == 200 else None

    def health(self, i, timeout=1.0):
        m = self.members[i]
        try:
            c = http.client.HTTPConnection(m.host, m.cport, timeout=timeout)
            c.request("GET", "/health")
            r = c.getresponse()
            body = r.read()
            c.close()
            return r.status == 200 and json.loads(body).get("health") == "true"
        except (OSError, ValueError, http.client.HTTPException):
            return False

    def member_id(self, i):
        s = self.status(i)
        return int(s["header"]["member_id"]) if s else None

    def leader(self, among=None):
        """Index of the member that every live member in `among` (default: all live,
        unpaused) names as leader, or None when they do not agree."""
        among = [i for i in (among if among is not None else range(self.n))
                 if self.members[i].alive() and not self.members[i].paused]
        ids, lead = {}, set()
        for i in among:
            s = self.status(i)
            if s is None:
                return None
            ids[int(s["header"]["member_id"])] = i
            lead.add(int(s.get("leader", 0)))
        if len(lead) != 1:
            return None
        lid = lead.pop()
        return ids.get(lid)

    def wait(self, pred, limit, what):
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            v = pred()
            if v is not None and v is not False:
                return v
            for m in self.members:
                if m.proc is not None and m.proc.poll() is not None and m.proc.returncode not in (-9,):
                    raise RuntimeError("member %s exited with %s while waiting for %s" %
                                       (m.name, m.proc.returncode, what))
            time.sleep(0.05)  # polling interval of a readiness probe
        raise RuntimeError("timed out after %.0fs waiting for %s" % (limit, what))

    def wait_leader(self, limit=30.0, among=None):
        return self.wait(lambda: self.leader(among), limit, "an agreed leader")

    def wait_healthy(self, limit=30.0):
        """Every live member healthy (has a leader) and they agree on it."""
        def ok():
            live = [i for i in range(self.n) if self.members[i].alive() and not self.members[i].paused]
            return all(self.health(i) for i in live) and self.leader() is not None
        return self.wait(ok, limit, "a healthy cluster")

    def wait_converged(self, limit=30.0):
        """All members applied the same raft index (no writes in flight); returns it."""
        def same():
            idx = set()
            for i in range(self.n):
                s = self.status(i)
                if s is None:
                    return None
                idx.add(int(s.get("raftAppliedIndex", s.get("raftIndex", 0))))
            return idx.pop() if len(idx) == 1 else None
        return self.wait(same, limit, "members to apply the same index")

    def dump_logs(self, lines=40):
        for m in self.members:
            for name in m.logs[-2:]:
                print("==== %s (last %d lines)" % (name, lines))
                try:
                    with open(name, errors="replace") as f:
                        for l in f.readlines()[-lines:]:
                            print("    " + l.rstrip())
                except OSError:
                    pass


def cleanup(workdir):
    """For the shell scripts' EXIT traps: kills the members listed in workdir/*/pids (a
    driver that died before closing its cluster) and, unless another run holds the netns
    lock, deletes this module's namespaces, links and rules."""
    import glob
    for f in glob.glob(os.path.join(workdir, "*", "pids")):
        with open(f) as fh:
            for line in fh:
                try:
                    os.kill(int(line), signal.SIGKILL)
                except (OSError, ValueError):
                    pass
    if shutil.which("ip") is None:
        return
    with open(NETNS_LOCK, "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return  # a concurrent run owns the namespaces
        if sh("ip netns list", check=False).stdout.find(NETNS_PREFIX + "-") >= 0 or \
                sh("ip -o link show", check=False).stdout.find(NETNS_PREFIX + "-") >= 0:
            NetnsNet.cleanup_leftovers()


if __name__ == "__main__":
    import sys
    if len(sys.argv) == 3 and sys.argv[1] == "cleanup":
        cleanup(sys.argv[2])
    else:
        print("usage: cluster.py cleanup WORKDIR", file=sys.stderr)
        sys.exit(2)
