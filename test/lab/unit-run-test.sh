#!/bin/sh
# Self-test of test/lab/unit-run.py's Restart= supervision, without a lab: a fake host
# whose namespaces are this process's own (ns.env names /proc/self/ns/*, which nsenter
# resolves in itself), and units running /bin/sh.  Run by test/lab/e2e.sh before the lab
# comes up (a few seconds); alone: sh test/lab/unit-run-test.sh.  Exit 0 pass, 1 fail.
#
#   1. Restart=on-failure: a main process that exits 3 is started again after RestartSec,
#      and again, until StartLimitBurst starts within StartLimitIntervalSec: then failed.
#   2. Restart=on-failure, kill (SIGKILL, a crash): restarted with a new pid; stop: the
#      process ends and nothing restarts it (the supervisor is gone too).
#   3. Restart=on-failure, SIGTERM from outside (a clean signal for systemd): not restarted.
#   4. Restart=always: a clean exit 0 is restarted.
#   5. start while the supervisor waits out RestartSec: waits for that restart, no second
#      process.
set -u
KUBEC_ROOT=${KUBEC_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
PY=/usr/bin/python3
UR="$PY $KUBEC_ROOT/test/lab/unit-run.py"
T=$(mktemp -d /tmp/kubec-unit-run-test.XXXXXX)
H=$T/host
on_exit() {
	for f in "$H"/pids/*.sup "$H"/pids/*.pid; do
		[ -f "$f" ] && kill -9 "$(cat "$f")" 2>/dev/null
	done
	rm -rf "$T"
}
trap on_exit EXIT
trap 'exit 130' INT TERM
fail() {
	echo "FAIL unit-run-test: $*"
	for f in "$H"/logs/*.log; do [ -f "$f" ] && { echo "== $f"; tail -n 20 "$f"; }; done
	exit 1
}
mkdir -p "$H/root/etc/systemd/system" "$H/logs" "$H/pids"
cat >"$H/ns.env" <<EOF
NAME=selftest
NETNS=/proc/self/ns/net
MNTNS=/proc/self/ns/mnt
UTSNS=/proc/self/ns/uts
EOF
unit() { # NAME RESTART RESTARTSEC COMMAND
	cat >"$H/root/etc/systemd/system/$1.service" <<EOF
[Service]
ExecStart=/bin/sh -c '$4'
Restart=$2
RestartSec=$3
StartLimitIntervalSec=10
StartLimitBurst=3
EOF
}
# wait_for SECS CMD...: until CMD succeeds (every 0.1 s)
wait_for() {
	_end=$(($(date +%s) + $1)); shift
	while ! "$@" >/dev/null 2>&1; do
		[ "$(date +%s)" -lt "$_end" ] || return 1
		sleep 0.1
	done
}
state_is() { [ "$($UR show "$H" "$1" 2>/dev/null | cut -d' ' -f1)" = "$2" ]; }
sup_gone() { [ ! -f "$H/pids/$1.sup" ]; }
starts() { grep -c "^---- unit-run: [0-9]* start $1 " "$H/logs/$1.log"; }

# 1. exit 3 -> restarted until the start limit (3 starts within 10 s), then failed
unit crash on-failure 200ms 'exit 3'
$UR start "$H" crash >/dev/null || fail "start crash"
wait_for 10 state_is crash failed || fail "crash: not failed after the start limit ($($UR show "$H" crash))"
[ "$(starts crash)" = 3 ] || fail "crash: $(starts crash) starts, want 3 (StartLimitBurst)"
grep -q "code=exited, status=3; Restart=on-failure: restart in 0.2s" "$H/logs/crash.log" || fail "crash: no exit line"
grep -q "start request repeated too quickly" "$H/logs/crash.log" || fail "crash: no start-limit line"
wait_for 5 sup_gone crash || fail "crash: supervisor still there after failing"

# 2. kill -> restarted with a new pid; stop -> gone for good
unit svc on-failure 300ms 'exec sleep 300'
$UR start "$H" svc >/dev/null || fail "start svc"
p1=$($UR pid "$H" svc) || fail "svc not running"
$UR kill "$H" svc >/dev/null || fail "kill svc"
new_pid() { p=$($UR pid "$H" svc) && [ "$p" != "$p1" ]; }
wait_for 10 new_pid || fail "svc not restarted after kill -9 ($($UR show "$H" svc))"
grep -q "code=killed, signal=KILL; Restart=on-failure: restart in 0.3s" "$H/logs/svc.log" || fail "svc: no kill line"
p2=$($UR pid "$H" svc)
$UR stop "$H" svc >/dev/null || fail "stop svc"
kill -0 "$p2" 2>/dev/null && fail "svc pid $p2 alive after stop"
sup_gone svc || fail "svc: supervisor alive after stop"
# with the supervisor gone nothing can restart it; and nothing did meanwhile
$UR status "$H" svc >/dev/null && fail "svc restarted after stop"
[ "$(starts svc)" = 2 ] || fail "svc: $(starts svc) starts, want 2"

# 3. SIGTERM from outside: a clean exit for Restart=on-failure
$UR start "$H" svc >/dev/null || fail "start svc again"
p3=$($UR pid "$H" svc)
kill -TERM "$p3"
wait_for 10 sup_gone svc || fail "svc: supervisor still running after a clean SIGTERM exit"
grep -q "code=killed, signal=TERM; Restart=on-failure: not restarted" "$H/logs/svc.log" || fail "svc: SIGTERM exit restarted"

# 4. Restart=always restarts a clean exit
unit always always 200ms 'sleep 0.2; exit 0'
$UR start "$H" always >/dev/null || fail "start always"
two() { [ "$(starts always)" -ge 2 ]; }
wait_for 10 two || fail "Restart=always did not restart a clean exit"
$UR stop "$H" always >/dev/null
wait_for 5 sup_gone always || fail "always: supervisor alive after stop"

# 5. start during RestartSec waits for the supervisor's restart (no second process)
unit slow on-failure 2s 'exec sleep 300'
$UR start "$H" slow >/dev/null || fail "start slow"
$UR kill "$H" slow >/dev/null
wait_for 5 state_is slow auto-restart || fail "slow: not in auto-restart after kill"
$UR start "$H" slow --timeout 10 >/dev/null || fail "start during auto-restart failed"
[ "$(starts slow)" = 2 ] || fail "slow: $(starts slow) starts, want 2"
n=$(pgrep -f "^sleep 300\$" -P "$(cat "$H/pids/slow.sup")" | grep -c .)
[ "$n" = 1 ] || fail "slow: $n main processes under the supervisor"
$UR stop "$H" slow >/dev/null

echo "ok unit-run-test: Restart=on-failure/always, RestartSec, start limit, kill vs stop, start during auto-restart"
exit 0
