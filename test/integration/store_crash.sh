#!/bin/sh
# Crash test: kill -9 kube-store at random moments (20 times) while writers run; after each
# restart every acknowledged put must be there with its value and mod_revision and the
# revision must never go backwards (driver: test/integration/store/crash.py).
# STORE_CRASH_BIN=/usr/bin/etcd runs the same test against etcd (checks the harness).
set -u
ROOT=${KUBEC_ROOT:-$(pwd)}
BUILD=${KUBEC_BUILD:-$ROOT/build}
PY=/usr/bin/python3
BIN=${STORE_CRASH_BIN:-$BUILD/bin/kube-store}
[ -x "$PY" ] || { echo "SKIP: $PY missing"; exit 77; }
[ -x "$BIN" ] || { echo "FAIL: $BIN not built"; exit 1; }
TMP=$(mktemp -d /tmp/store_crash.XXXXXX)
trap 'rm -rf "$TMP"' EXIT INT TERM
timeout "${STORE_CRASH_TIMEOUT:-300}" $PY "$ROOT/test/integration/store/crash.py" --bin "$BIN" --dir "$TMP" --kills "${STORE_CRASH_KILLS:-20}"
