#!/usr/bin/python3
"""Start, stop and kill a lab host's component the way systemd would, from its unit file.

    unit-run.py start   HOSTDIR UNIT [--wait-ready] [--timeout SECS]
    unit-run.py stop    HOSTDIR UNIT [--timeout SECS] [--kill]
    unit-run.py kill    HOSTDIR UNIT            (SIGKILL to the main process, a crash)
    unit-run.py restart HOSTDIR UNIT [--wait-ready] [--timeout SECS]
    unit-run.py status  HOSTDIR UNIT            (exit 0 when running; prints the pid)
    unit-run.py show    HOSTDIR UNIT            (the supervisor's state: STATE PID MS RESTARTS)
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
  * Stop: SIGTERM, then SIGKILL after TimeoutStopSec (capped by --timeout); --kill sends
    SIGKILL at once (the lab's teardown).  A stopped unit is never restarted.
  * Restart= and RestartSec=, by a supervisor per unit (a detached process, the parent of
    the main process, pid in pids/UNIT.sup, state in pids/UNIT.state): when the main
    process exits, it is started again after RestartSec (default 100ms) if Restart=always,
    or Restart=on-failure and the exit was unclean (systemd.service(5): a non-zero exit
    status, a signal other than SIGHUP, SIGINT, SIGTERM and SIGPIPE, or no READY=1 within
    TimeoutStartSec), or Restart=on-abnormal and it died by such a signal or timed out.
    `kill` (SIGKILL) is therefore a crash the supervisor repairs, as `systemctl kill -s
    KILL` on a real host; `stop` is the stop request, after which nothing restarts.
    StartLimitIntervalSec= (10s) / StartLimitBurst= (5): more starts than that within
    the interval and the unit is left failed, as systemd's start rate limit.  A `start`
    while the supervisor waits out RestartSec waits for that restart instead of racing it.
    Each exit and restart is logged in the unit's log with a wall-clock ms timestamp.
Not mirrored: dependencies (the lab orders the starts), resource limits other than
LimitNOFILE, ExecStartPre/ExecStop, the watchdog.
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
        self.restart = "no"
        self.restart_sec = 0.1
        self.start_limit_interval = 10.0
        self.start_limit_burst = 5
        for k, v in self.items:
            if k == "Type":
                self.type = v
            elif k == "TimeoutStartSec":
                self.timeout_start = timespan(v, 90.0)
            elif k == "TimeoutStopSec":
                self.timeout_stop = timespan(v, 90.0)
            elif k == "TimeoutSec":
                self.timeout_start = self.timeout_stop = timespan(v, 90.0)
            elif k == "Restart":
                self.restart = v
            elif k == "RestartSec":
                self.restart_sec = timespan(v, 0.1)
            elif k in ("StartLimitIntervalSec", "StartLimitInterval"):
                self.start_limit_interval = timespan(v, 10.0)
            elif k == "StartLimitBurst":
                try:
                    self.start_limit_burst = int(v)
                except ValueError:
                    pass
            elif k == "LimitNOFILE":
                try:
                    self.nofile = int(v.split(":")[0])
                except ValueError:
                    pass
        self.pidfile = os.path.join(hostdir, "pids", self.name + ".pid")
        self.supfile = os.path.join(hostdir, "pids", self.name + ".sup")
        self.statefile = os.path.join(hostdir, "pids", self.name + ".state")
        self.stopfile = os.path.join(hostdir, "pids", self.name + ".stop")
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

    def sup_pid(self):
        try:
            with open(self.supfile) as f:
                return int(f.read().strip())
        except (OSError, ValueError):
            return None

    def state(self):
        """(STATE, PID, MS, RESTARTS) as the supervisor last wrote it, or None."""
        try:
            with open(self.statefile) as f:
                w = f.read().split()
            return (w[0], int(w[1]), int(w[2]), int(w[3]))
        except (OSError, ValueError, IndexError):
            return None


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


def write_atomic(path, text):
    with open(path + ".tmp", "w") as f:
        f.write(text)
    os.rename(path + ".tmp", path)


def unlink_quiet(path):
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def epoch_ms():
    return int(time.time() * 1000)


# systemd.service(5): "clean" exits are status 0 and the signals SIGHUP, SIGINT, SIGTERM
# and SIGPIPE; everything else is unclean.
CLEAN_SIGNALS = (signal.SIGHUP, signal.SIGINT, signal.SIGTERM, signal.SIGPIPE)


def should_restart(policy, rc, timed_out):
    """systemd's table for Restart= (systemd.service(5)): rc is Popen's returncode
    (negative = killed by that signal); timed_out = no READY=1 within TimeoutStartSec."""
    by_signal = rc is not None and rc < 0
    clean = not timed_out and (rc == 0 or (by_signal and -rc in CLEAN_SIGNALS))
    if policy == "always":
        return True
    if policy == "on-failure":
        return not clean
    if policy == "on-abnormal":
        return timed_out or (by_signal and -rc not in CLEAN_SIGNALS)
    if policy == "on-abort":
        return by_signal and -rc not in CLEAN_SIGNALS
    if policy == "on-success":
        return clean
    return False


def describe_exit(rc, timed_out):
    if timed_out:
        return "result=timeout (no READY=1)"
    if rc is not None and rc < 0:
        try:
            return "code=killed, signal=%s" % signal.Signals(-rc).name[3:]
        except ValueError:
            return "code=killed, signal=%d" % -rc
    return "code=exited, status=%s" % rc


class Supervisor:
    """The per-unit supervisor: runs in its own session, detached from the caller."""

    def __init__(self, u, env, argv, notify, report_fd):
        self.u, self.env, self.argv, self.notify = u, env, argv, notify
        self.report_fd = report_fd
        self.restarts = 0

    def report(self, line):
        """The first start's outcome, to the `start` command waiting on the pipe."""
        if self.report_fd is None:
            return
        try:
            os.write(self.report_fd, (line + "\n").encode())
            os.close(self.report_fd)
        except OSError:
            pass
        self.report_fd = None

    def log(self, msg):
        try:
            with open(self.u.logfile, "ab") as f:
                f.write(("---- unit-run: %d %s\n" % (epoch_ms(), msg)).encode())
        except OSError:
            pass

    def set_state(self, st, pid):
        write_atomic(self.u.statefile, "%s %d %d %d\n" % (st, pid or 0, epoch_ms(), self.restarts))

    def stop_requested(self):
        return os.path.exists(self.u.stopfile)

    def host_gone(self):
        # the lab's teardown removed the host: nothing to restart into
        return not os.path.exists(self.u.ns["NETNS"]) or not os.path.exists(self.u.ns["MNTNS"])

    def launch(self):
        """Start the main process once; returns (Popen, ok, timed_out, ms)."""
        u = self.u
        env = dict(self.env)
        sock = sockpath = None
        if self.notify:
            ndir = os.path.join(u.hostdir, "notify")
            os.makedirs(ndir, exist_ok=True)
            sockpath = os.path.join(ndir, u.name + ".sock")
            unlink_quiet(sockpath)
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            sock.bind(sockpath)
            env["NOTIFY_SOCKET"] = sockpath
        log = open(u.logfile, "ab")
        log.write(("---- unit-run: %d start %s on %s: %s\n" %
                   (epoch_ms(), u.name, u.ns["NAME"], " ".join(self.argv))).encode())
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
            p = subprocess.Popen(nsenter_prefix(u.ns) + self.argv, env=env,
                                 stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                 start_new_session=True, preexec_fn=pre, cwd="/")
        except OSError as e:
            log.close()
            if sock:
                sock.close()
                unlink_quiet(sockpath)
            self.log("%s: cannot start %s: %s" % (u.name, self.argv[0], e))
            return None, False, False, 0
        log.close()
        write_atomic(u.pidfile, "%d\n" % p.pid)
        if not self.notify:
            self.set_state("running", p.pid)
            return p, True, False, 0
        self.set_state("starting", p.pid)
        limit = u.timeout_start
        if self.first_cap and self.restarts == 0:
            limit = min(limit, self.first_cap)
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
            if p.poll() is not None or self.stop_requested():
                break
        sock.close()
        unlink_quiet(sockpath)
        ms = int((time.monotonic() - t0) * 1000)
        if ready:
            self.set_state("ready", p.pid)
            return p, True, False, ms
        if p.poll() is None and not self.stop_requested():
            # systemd kills a unit that sends no READY=1 within TimeoutStartSec
            self.log("%s sent no READY=1 within %.0fs: killed" % (u.name, limit))
            p.kill()
            p.wait()
            return p, False, True, ms
        return p, False, False, ms

    def run(self, first_cap):
        u = self.u
        self.first_cap = first_cap
        write_atomic(u.supfile, "%d\n" % os.getpid())
        starts = []
        while True:
            now = time.monotonic()
            starts = [t for t in starts if now - t < u.start_limit_interval]
            if len(starts) >= u.start_limit_burst:
                self.log("%s: start request repeated too quickly (%d starts in %.0fs): failed"
                         % (u.name, len(starts), u.start_limit_interval))
                self.set_state("failed", 0)
                break
            starts.append(now)
            p, ok, timed_out, ms = self.launch()
            if p is None:
                self.report("failed cannot-exec")
                self.set_state("failed", 0)
                break
            if self.report_fd is not None:
                if ok:
                    self.report("%s %d %d" % ("ready" if self.notify else "started", p.pid, ms))
                else:
                    rc = p.poll()
                    self.report("failed %s" % ("timeout" if timed_out else
                                               "exit %s" % rc if rc is not None else "stopped"))
                    # the first start failed: the caller reports it; systemd would retry
                    # with Restart=, but `start` already failed, so the lab sees it
                    self.set_state("failed", 0)
                    break
            elif ok and self.notify:
                self.log("%s ready in %d ms (pid %d, restart %d)" % (u.name, ms, p.pid, self.restarts))
            rc = p.wait()
            if self.stop_requested():
                break
            policy = u.restart
            again = should_restart(policy, rc, timed_out)
            self.log("%s main process %d exited, %s; Restart=%s: %s" %
                     (u.name, p.pid, describe_exit(rc, timed_out), policy,
                      "restart in %gs" % u.restart_sec if again else "not restarted"))
            if not again:
                self.set_state("failed" if rc != 0 else "dead", 0)
                break
            self.set_state("auto-restart", 0)
            end = time.monotonic() + u.restart_sec
            while time.monotonic() < end and not self.stop_requested() and not self.host_gone():
                time.sleep(0.1)
            if self.stop_requested() or self.host_gone():
                break
            self.restarts += 1
        # a pidfile naming a dead process is removed; a stop removes it itself
        if not u.running():
            unlink_quiet(u.pidfile)
        if not self.stop_requested() and self.u.state() and self.u.state()[0] not in ("failed", "dead"):
            self.set_state("dead", 0)
        unlink_quiet(u.supfile)


def wait_supervised_ready(u, notify, limit):
    """A supervisor already owns the unit (running, or waiting out RestartSec): wait for
    its main process to be up (and ready, for a notify unit), as `systemctl start` on a
    unit in the auto-restart state waits for the restart rather than starting a second."""
    end = time.monotonic() + limit
    while time.monotonic() < end:
        st = u.state()
        if st and st[0] in ("failed", "dead") and not alive(u.sup_pid()):
            break
        if st and alive(st[1]) and (st[0] == "ready" or (st[0] == "running" and not notify)):
            print("%s/%s running under its supervisor (pid %d)" % (u.ns["NAME"], u.name, st[1]))
            return 0
        time.sleep(0.1)
    sys.stderr.write("unit-run: %s/%s: its supervisor did not bring it up within %.0fs (state %s)\n"
                     % (u.ns["NAME"], u.name, limit, u.state()))
    return 1


def cmd_start(u, wait_ready, cap):
    notify = u.type == "notify" or wait_ready
    limit = min(u.timeout_start, cap) if cap else u.timeout_start
    if alive(u.sup_pid()):
        return wait_supervised_ready(u, notify, limit)
    if u.running():
        print("%s/%s already running (pid %d)" % (u.ns["NAME"], u.name, u.pid()))
        return 0
    env = u.environment()
    argv = u.argv(env)
    os.makedirs(os.path.dirname(u.logfile), exist_ok=True)
    os.makedirs(os.path.dirname(u.pidfile), exist_ok=True)
    unlink_quiet(u.stopfile)
    unlink_quiet(u.statefile)
    r, w = os.pipe()
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        # the supervisor: its own session, no tie to the caller's terminal or pipes (a
        # caller reading our stdout through $(...) must see EOF when `start` returns)
        code = 1
        try:
            os.close(r)
            os.setsid()
            dn = os.open(os.devnull, os.O_RDWR)
            for fd in (0, 1, 2):
                os.dup2(dn, fd)
            os.close(dn)
            # nor any other descriptor the caller passed down (a make jobserver's pipe,
            # a test's log): a long-lived process must not keep them open
            os.closerange(3, w)
            os.closerange(w + 1, 65536)
            Supervisor(u, env, argv, notify, w).run(cap)
            code = 0
        finally:
            os._exit(code)
    os.close(w)
    data = b""
    while True:
        chunk = os.read(r, 4096)
        if not chunk:
            break
        data += chunk
    os.close(r)
    words = data.decode().split()
    if words and words[0] == "ready":
        print("%s/%s ready in %s ms (pid %s)" % (u.ns["NAME"], u.name, words[2], words[1]))
        return 0
    if words and words[0] == "started":
        print("%s/%s started (pid %s)" % (u.ns["NAME"], u.name, words[1]))
        return 0
    what = " ".join(words[1:]) or "supervisor died"
    if what.startswith("timeout"):
        sys.stderr.write("unit-run: %s/%s sent no READY=1 within %.0fs: killed; log tail:\n" %
                         (u.ns["NAME"], u.name, limit))
    else:
        sys.stderr.write("unit-run: %s/%s failed before READY=1 (%s); log tail:\n" %
                         (u.ns["NAME"], u.name, what))
    os.system("tail -n 25 '%s' >&2" % u.logfile)
    return 1


def cmd_stop(u, cap, sig=signal.SIGTERM, crash=False):
    """The stop request (no restart afterwards) or, with crash=True, a SIGKILL of the main
    process only, which the supervisor treats as any crash."""
    sup = u.sup_pid()
    if not crash and alive(sup):
        write_atomic(u.stopfile, "stop\n")
    pid = u.pid()
    if not alive(pid):
        if not crash:
            if alive(sup):  # waiting out RestartSec: it sees the stop request
                wait_gone(sup, 5)
            unlink_quiet(u.pidfile)
            unlink_quiet(u.stopfile)
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
    if not crash:
        if alive(sup) and not wait_gone(sup, 10):
            sys.stderr.write("unit-run: %s/%s: supervisor %d did not exit: SIGKILL\n" %
                             (u.ns["NAME"], u.name, sup))
            os.kill(sup, signal.SIGKILL)
            wait_gone(sup, 5)
            unlink_quiet(u.supfile)
        unlink_quiet(u.pidfile)
        unlink_quiet(u.stopfile)
    print("%s/%s %s (pid %d)" % (u.ns["NAME"], u.name,
                                 "killed" if sig == signal.SIGKILL else "stopped", pid))
    return 0


def main():
    args = sys.argv[1:]
    wait_ready, cap, kill_now = False, None, False
    rest = []
    i = 0
    while i < len(args):
        a = args[i]
        if a == "--wait-ready":
            wait_ready = True
        elif a == "--kill":
            kill_now = True
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
        return cmd_stop(u, cap, signal.SIGKILL if kill_now else signal.SIGTERM)
    if cmd == "kill":
        return cmd_stop(u, cap, signal.SIGKILL, crash=True)
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
    if cmd == "show":
        st = u.state()
        if not st:
            return 3
        print("%s %d %d %d" % st)
        return 0
    if cmd == "argv":
        print("\n".join(u.argv(u.environment())))
        return 0
    die("unknown command %s" % cmd, 2)


if __name__ == "__main__":
    sys.exit(main())
