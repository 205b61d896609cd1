#!/bin/sh
# Self-test of the linearizability checker used by the store fault tests
# (test/integration/store/lincheck.py): known-good histories must pass, known-bad ones
# (stale read, lost acknowledged write, read of a value never written, reads seeing writes
# in opposite orders) must fail, a large random valid history must pass within seconds,
# and the checker must agree with exhaustive search on hundreds of tiny histories.
set -u
ROOT=${KUBEC_ROOT:-$(pwd)}
PY=/usr/bin/python3
[ -x "$PY" ] || { echo "SKIP: $PY missing"; exit 77; }
timeout 120 $PY "$ROOT/test/integration/store/lincheck.py" --self-test
