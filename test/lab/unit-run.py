#!/usr/bin/python3
"""Start, stop and kill a lab host's component the way systemd would, from its unit file.

    unit-run.py start   HOSTDIR UNIT [--wait-ready] [--timeout SECS]
    unit-run.py stop    HOSTDIR UNIT [--timeout SECS]
    unit-run.py kill    HOSTDIR UNIT            (SIGKILL, a crash)
    unit-run.py restart HOSTDIR UNIT [--wait-ready] [--timeout SECS]
    unit-run.py status  HOSTDIR UNIT            (exit 0 when running; prints the pid)
    unit-run.py pid     HOSTDIR UNIT
    unit-run.py argv    HOSTDIR UNIT            (print the expanded command line, one arg a line)

HOSTDIR is a lab host ($LAB/hosts/NAME) holding ns.env (the host's namespace files:
NETNS=, MNTNS=, UTSNS=), root/etc/systemd/system/UNIT.service (written by the bootstrap
scripts), logs/ and pids/.  What this mirrors of systemd (systemd.service(5), systemd.exec(5)):

  * EnvironmentFile=: read as the host sees the path (inside its mount namespace); a
    leading '-' makes a missing file fine; KEY=VALUE lines, '#'/';' comments, single or
    double quotes removed, a trailing backslash continues the line; later files and later
    lines override earlier ones.  Environment= lines are applied in order too.
  * ExecStart=: backslash-newline continuations, words split on whitespace with quotes,
    the '-', '@', '+', '!', ':' prefixes stripped; "${VAR}" is replaced by the exact
    value (never split), a word that is exactly "$VAR" becomes the value split on
    whitespace (zero or more words), "$$" is a literal '$'.
  * A clean environment (PATH as systemd's default, LANG unset) plus the variables above.
  * Type=notify: NOTIFY_SOCKET names a datagram socket; start returns once READY=1 came,
    and fails when the process exits first or TimeoutStartSec (capped by --timeout)
    passes (the process is then killed, as systemd does).  --wait-ready does the same for a
    Type=simple unit (the lab's equivalent of a "Type=notify" drop-in: every kubec daemon
    sends READY=1).
  * Stop: SIGTERM, then SIGKILL after TimeoutStopSec (capped by --timeout).
Not mirrored: Restart= (the lab restarts by hand, so that kill -9 stays a crash the test
can measure), dependencies (the lab orders the starts), resource limits other than
LimitNOFILE.
"""
import os
import re
import signal
import socket
import subprocess
import sys
import time

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def die(msg, code=1):
    sys.stderr.write("unit-run: %s\n" % msg)
    sys.exit(code)


def read_ns(hostdir):
    ns = {}
    try:
        with open(os.path.join(hostdir, "ns.env")) as f:
            for line in f:
                line = line.strip()
                if "=" in line and not line.startswith("#"):
                    k, v = line.split("=", 1)
                    ns[k] = v.strip("'\"")
    except OSError as e:
        die("%s: %s (is the host set up?)" % (hostdir, e))
    for k in ("NAME", "NETNS", "MNTNS", "UTSNS"):
        if not ns.get(k):
            die("%s/ns.env lacks %s" % (hostdir, k))
    return ns


def nsenter_prefix(ns):
    return ["nsenter", "--net=" + ns["NETNS"], "--mount=" + ns["MNTNS"],
            "--uts=" + ns["UTSNS"], "--"]


# ---- unit file -----------------------------------------------------------------------

def parse_unit(path):
    """Return the [Service] section as a list of (key, value) in file order."""
    try:
        with open(path) as f:
            raw = f.read()
    except OSError as e:
        die("unit %s: %s" % (path, e))
    lines, cur = [], ""
    for line in raw.split("\n"):
        s = line.rstrip()
        if not cur and (s.lstrip().startswith("#") or s.lstrip().startswith(";")):
            continue
        if s.endswith("\\"):
            cur += s[:-1] + " "
            continue
        cur += s
        lines.append(cur)
        cur = ""
    if cur:
        lines.append(cur)
    section, out = None, []
    for line in lines:
        s = line.strip()
        if not s or s.startswith("#") or s.startswith(";"):
            continue
        if s.startswith("[") and s.endswith("]"):
            section = s[1:-1]
            continue
        if section != "Service" or "=" not in s:
            continue
        k, v = s.split("=", 1)
        out.append((k.strip(), v.strip()))
    return out


def unquote_env_value(v):
    v = v.strip()
    if len(v) >= 2 and v[0] == v[-1] and v[0] in "'\"":
        inner = v[1:-1]
        if v[0] == '"':
            inner = re.sub(r'\\(.)', r'\1', inner)
        return inner
    return v


def parse_env_text(text, env):
    cur = ""
    for line in text.split("\n"):
        if line.endswith("\\"):
            cur += line[:-1]
            continue
        line = cur + line
        cur = ""
        s = line.strip()
        if not s or s[0] in "#;":
            continue
        if "=" not in s:
            continue
        k, v = s.split("=", 1)
        k = k.strip()
        if not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", k):
            continue
        env[k] = unquote_env_value(v)


def read_host_file(ns, path):
    """The file's content as the host sees it (inside its mount namespace); None if absent."""
    r = subprocess.run(nsenter_prefix(ns) + ["cat", path], stdout=subprocess.PIPE,
                       stderr=subprocess.DEVNULL)
    if r.returncode != 0:
        return None
    return r.stdout.decode("utf-8", "replace")


def split_words(s):
    """systemd's extract_first_word with quotes: returns (word, was_quoted) pairs."""
    words, i, n = [], 0, len(s)
    while i < n:
        while i < n and s[i].isspace():
            i += 1
        if i >= n:
            break
        w, quoted = "", False
        while i < n and not s[i].isspace():
            c = s[i]
            if c in "'\"":
                quoted = True
                j = i + 1
                while j < n and s[j] != c:
                    if s[j] == "\\" and c == '"' and j + 1 < n:
                        j += 1
                    w += s[j]
                    j += 1
                i = j + 1
                continue
            if c == "\\" and i + 1 < n:
                w += s[i + 1]
                i += 2
                continue
            w += c
            i += 1
        words.append((w, quoted))
    return words


VAR_BRACED = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def expand_exec(line, env):
    words = split_words(line)
    if not words:
        die("empty ExecStart")
    argv = []
    for idx, (w, quoted) in enumerate(words):
        m = re.match(r"^\$([A-Za-z_][A-Za-z0-9_]*)$", w)
        if m and not quoted:
            argv.extend(env.get(m.group(1), "").split())
            continue
        w = w.replace("$$", "\0")
        w = VAR_BRACED.sub(lambda mm: env.get(mm.group(1), ""), w)
        argv.append(w.replace("\0", "$"))
    # the executable's prefixes: '-' (ignore failure), '@' (argv[0]), '+', '!', ':'
    exe = argv[0]
    while exe and exe[0] in "-@+!:":
        exe = exe[1:]
    argv[0] = exe
    return argv


def timespan(v, default):
    """systemd time span: '30', '30s', '5min', '1min 30s', 'infinity'."""
    if not v:
        return default
    if v == "infinity":
        return 10 ** 9
    total, ok = 0.0, False
    for num, unit in re.findall(r"(\d+(?:\.\d+)?)\s*([a-z]*)", v):
        mult = {"": 1, "s": 1, "sec": 1, "ms": 0.001, "m": 60, "min": 60, "h": 3600}.get(unit)
        if mult is None:
            return default
        total += float(num) * mult
        ok = True
    return total if ok else default


class Unit:
    def __init__(self, hostdir, name):
        self.hostdir = hostdir
        self.name = name[:-8] if name.endswith(".service") else name
        self.ns = read_ns(hostdir)
        self.path = os.path.join(hostdir, "root/etc/systemd/system", self.name + ".service")
        self.items = parse_unit(self.path)
        self.type = "simple"
        self.timeout_start = 90.0
        self.timeout_stop = 90.0
        self.nofile = None
        for k, v in self.items:
            if k == "Type":
                self.type = v
            elif k == "TimeoutStartSec":
                self.timeout_start = timespan(v, 90.0)
            elif k == "TimeoutStopSec":
                self.timeout_stop = timespan(v, 90.0)
            elif k == "TimeoutSec":
                self.timeout_start = self.timeout_stop = timespan(v, 90.0)
            elif k == "LimitNOFILE":
                try:
                    self.nofile = int(v.split(":")[0])
                except ValueError:
                    pass
        self.pidfile = os.path.join(hostdir, "pids", self.name + ".pid")
        self.logfile = os.path.join(hostdir, "logs", self.name + ".log")

    def environment(self):
        env = {"PATH": DEFAULT_PATH}
        for k, v in self.items:
            if k == "EnvironmentFile":
                optional = v.startswith("-")
                path = v[1:] if optional else v
                text = read_host_file(self.ns, path)
                if text is None:
                    if optional:
                        continue
                    die("%s: EnvironmentFile %s not found on host %s" %
                        (self.name, path, self.ns["NAME"]))
                parse_env_text(text, env)
            elif k == "Environment":
                for w, _ in split_words(v):
                    if "=" in w:
                        a, b = w.split("=", 1)
                        env[a] = b
        return env

    def argv(self, env):
        execs = [v for k, v in self.items if k == "ExecStart" and v]
        if len(execs) != 1:
            die("%s: want exactly one ExecStart, found %d" % (self.path, len(execs)))
        return expand_exec(execs[0], env)

    # ---- process state ----
    def pid(self):
        try:
            with open(self.pidfile) as f:
                return int(f.read().strip())
        except (OSError, ValueError):
            return None

    def running(self):
        return alive(self.pid())


def alive(pid):
    """True if pid exists and is not a zombie (pid 1 here may not reap)."""
    if not pid:
        return False
    try:
        with open("/proc/%d/stat" % pid) as f:
            st = f.read()
    except OSError:
        return False
    state = st[st.rfind(")") + 2:].split()[0]
    return state not in ("Z", "X")


def wait_gone(pid, secs):
    end = time.monotonic() + secs
    while time.monotonic() < end:
        if not alive(pid):
            return True
        try:
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass
        time.sleep(0.05)
    return not alive(pid)


def cmd_start(u, wait_ready, cap):
    if u.running():
        print("%s/%s already running (pid %d)" % (u.ns["NAME"], u.name, u.pid()))
        return 0
    env = u.environment()
    argv = u.argv(env)
    os.makedirs(os.path.dirname(u.logfile), exist_ok=True)
    os.makedirs(os.path.dirname(u.pidfile), exist_ok=True)
    notify = u.type == "notify" or wait_ready
    sock = None
    sockpath = None
    if notify:
        ndir = os.path.join(u.hostdir, "notify")
        os.makedirs(ndir, exist_ok=True)
        sockpath = os.path.join(ndir, u.name + ".sock")
        try:
            os.unlink(sockpath)
        except FileNotFoundError:
            pass
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.bind(sockpath)
        env["NOTIFY_SOCKET"] = sockpath
    log = open(u.logfile, "ab")
    log.write(("---- unit-run: start %s on %s: %s\n" %
               (u.name, u.ns["NAME"], " ".join(argv))).encode())
    log.flush()

    def pre():
        if u.nofile:
            import resource
            try:
                resource.setrlimit(resource.RLIMIT_NOFILE, (u.nofile, u.nofile))
            except (ValueError, OSError):
                pass

    t0 = time.monotonic()
    try:
        p = subprocess.Popen(nsenter_prefix(u.ns) + argv, env=env, stdin=subprocess.DEVNULL,
                             stdout=log, stderr=log, start_new_session=True,
                             preexec_fn=pre, cwd="/")
    except OSError as e:
        die("%s: cannot start %s: %s" % (u.name, argv[0], e))
    with open(u.pidfile + ".tmp", "w") as f:
        f.write("%d\n" % p.pid)
    os.rename(u.pidfile + ".tmp", u.pidfile)
    if not notify:
        print("%s/%s started (pid %d)" % (u.ns["NAME"], u.name, p.pid))
        return 0
    limit = min(u.timeout_start, cap) if cap else u.timeout_start
    sock.settimeout(0.2)
    ready = False
    while time.monotonic() - t0 < limit:
        try:
            data = sock.recv(4096).decode("utf-8", "replace")
            if "READY=1" in data.split("\n"):
                ready = True
                break
        except socket.timeout:
            pass
        if p.poll() is not None:
            break
    sock.close()
    os.unlink(sockpath)
    ms = int((time.monotonic() - t0) * 1000)
    if ready:
        print("%s/%s ready in %d ms (pid %d)" % (u.ns["NAME"], u.name, ms, p.pid))
        return 0
    if p.poll() is not None:
        sys.stderr.write("unit-run: %s/%s exited with %s before READY=1; log tail:\n" %
                         (u.ns["NAME"], u.name, p.returncode))
    else:
        sys.stderr.write("unit-run: %s/%s sent no READY=1 within %.0fs: killed; log tail:\n" %
                         (u.ns["NAME"], u.name, limit))
        p.kill()
        p.wait()
    os.system("tail -n 25 '%s' >&2" % u.logfile)
    return 1


def cmd_stop(u, cap, sig=signal.SIGTERM):
    pid = u.pid()
    if not alive(pid):
        try:
            os.unlink(u.pidfile)
        except FileNotFoundError:
            pass
        return 0
    limit = min(u.timeout_stop, cap) if cap else u.timeout_stop
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass
    if not wait_gone(pid, limit if sig != signal.SIGKILL else 10):
        sys.stderr.write("unit-run: %s/%s ignored SIGTERM for %.0fs: SIGKILL\n" %
                         (u.ns["NAME"], u.name, limit))
        os.kill(pid, signal.SIGKILL)
        wait_gone(pid, 10)
    os.unlink(u.pidfile)
    print("%s/%s %s (pid %d)" % (u.ns["NAME"], u.name,
                                 "killed" if sig == signal.SIGKILL else "stopped", pid))
    return 0


def main():
    args = sys.argv[1:]
    wait_ready, cap = False, None
    rest = []
    i = 0
    while i < len(args):
        a = args[i]
        if a == "--wait-ready":
            wait_ready = True
        elif a == "--timeout" and i + 1 < len(args):
            cap = float(args[i + 1])
            i += 1
        else:
            rest.append(a)
        i += 1
    if len(rest) != 3:
        die(__doc__.strip().split("\n\n")[0], 2)
    cmd, hostdir, name = rest
    u = Unit(hostdir, name)
    if cmd == "start":
        return cmd_start(u, wait_ready, cap)
    if cmd == "stop":
        return cmd_stop(u, cap)
    if cmd == "kill":
        return cmd_stop(u, cap, signal.SIGKILL)
    if cmd == "restart":
        cmd_stop(u, cap)
        return cmd_start(u, wait_ready, cap)
    if cmd == "status":
        if u.running():
            print(u.pid())
            return 0
        return 3
    if cmd == "pid":
        p = u.pid()
        print(p if alive(p) else "")
        return 0 if alive(p) else 3
    if cmd == "argv":
        print("\n".join(u.argv(u.environment())))
        return 0
    die("unknown command %s" % cmd, 2)


if __name__ == "__main__":
    sys.exit(main())
