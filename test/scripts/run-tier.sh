#!/bin/sh
# Run every test/<tier>/*.sh (integration, e2e); each gets the build dir as $KUBEC_BUILD.
# A test that needs something this machine lacks exits 77 and is counted as skipped.
set -u
tier=$1
O=${2:-build}
KUBEC_BUILD=$(cd "$O" && pwd); export KUBEC_BUILD
KUBEC_ROOT=$(pwd); export KUBEC_ROOT
pass=0; fail=0; skip=0
for t in test/"$tier"/*.sh; do
	[ -f "$t" ] || continue
	echo "== $tier: $t"
	sh "$t"
	rc=$?
	case $rc in
	0) pass=$((pass + 1)) ;;
	77) skip=$((skip + 1)); echo "-- $tier: $t skipped" ;;
	*) fail=$((fail + 1)); echo "!! $tier: $t FAILED (exit $rc)" ;;
	esac
done
echo "== $tier: $pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
