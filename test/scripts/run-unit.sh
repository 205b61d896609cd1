#!/bin/sh
# Run every Check runner in $1/test and print each one's summary; fail if any failed.
set -u
O=${1:-build}
fail=0; n=0
for t in "$O"/test/test_*; do
	[ -x "$t" ] || continue
	n=$((n + 1))
	echo "== unit: $(basename "$t")"
	# CK_FORK stays on so one crashing test does not hide the others.
	if ! CK_VERBOSITY=${CK_VERBOSITY:-normal} "$t"; then
		echo "!! unit: $(basename "$t") FAILED"
		fail=$((fail + 1))
	fi
done
echo "== unit: $n suites, $fail failed"
[ "$fail" -eq 0 ]
