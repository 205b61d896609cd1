#!/bin/sh
# The multi-host lab (issue #10): N hosts as network + mount + UTS namespaces on one
# bridge, each a control-plane host and a worker, configured only by examples/bootstrap/.
#
#   test/lab/lab.sh up        build the hosts, bootstrap and start every component
#   test/lab/lab.sh status    units per host, nodes, store members
#   test/lab/lab.sh down      remove everything (also after a failed or half-done up) and
#                             say what, if anything, was left behind
#   test/lab/lab.sh kill|stop|start|restart HOST UNIT   one component of one host (cpI or
#                             wK), as systemctl would (kill = SIGKILL of the main process,
#                             a crash its supervisor repairs after RestartSec; stop = no restart)
#   test/lab/lab.sh show HOST UNIT   the unit's supervisor state: STATE PID MS RESTARTS
#
# Environment: KUBEC_LAB_DIR (state, default /tmp/kubec-lab), KUBEC_LAB_HOSTS (default 3),
# KUBEC_LAB_WORKERS (worker-only hosts w1.., kubec-join-worker; default 0),
# KUBEC_BUILD, KUBEC_ROOT, KUBEC_LAB_NODE_GRACE (default 20s), KUBEC_LAB_TOLERATION
# (default 10).  See test/lab/README.md.
KUBEC_ROOT=${KUBEC_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$KUBEC_ROOT/test/lab/lib.sh"

case "${1:-}" in
up)
	if lab_up; then
		lab_usage_note
		exit 0
	fi
	lab_err "up failed; the state is kept for inspection in $LAB (logs under hosts/*/logs): run '$0 down'"
	exit 1
	;;
down) lab_down ;;
status) lab_status ;;
start | stop | restart | kill | show)
	# lab.sh kill cp1 kube-store: one unit on one host, by name (test/lab/unit-run.py)
	[ $# -eq 3 ] || { echo "usage: $0 $1 cpI|wK UNIT" >&2; exit 2; }
	[ -f "$LAB/lab.env" ] && . "$LAB/lab.env"
	idx=$(lab_idx "$2") || { echo "$0: host must be cpI or wK, not '$2'" >&2; exit 2; }
	w=""
	[ "$1" = start ] || [ "$1" = restart ] && case $3 in kube-store | kube-apiserver | containerd) ;; *) w=--wait-ready ;; esac
	lab_unit "$1" "$idx" "$3" $w
	;;
*)
	echo "usage: $0 up|down|status | start|stop|restart|kill|show cpI|wK UNIT" >&2
	exit 2
	;;
esac
