#!/bin/sh
# Build each test/fuzz/fuzz_*.c with clang + libFuzzer + ASan/UBSan against the common
# sources, then run each for $1 seconds (default 60) on its seed corpus.
set -eu
secs=${1:-60}
O=build-fuzz
mkdir -p "$O"
CFLAGS="-g -O1 -std=gnu11 -D_GNU_SOURCE -Icommon -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined"
LIBS=$(pkg-config --cflags --libs libmicrohttpd gnutls libcurl libcjson openssl yaml-0.1 libprotobuf-c)
fail=0
for f in test/fuzz/fuzz_*.c; do
	[ -f "$f" ] || continue
	name=$(basename "$f" .c)
	echo "== fuzz: building $name"
	# fuzz_store_* harnesses also link the store's sources and generated protobufs
	# (run `make` first so build/gen exists).
	extra=""
	case $name in
	fuzz_store_*) extra="$(ls store/*.c | grep -v '^store/main.c$') build/gen/store/*.pb-c.c -Ibuild/gen -lprotobuf-c" ;;
	esac
	# shellcheck disable=SC2086
	clang $CFLAGS -o "$O/$name" "$f" common/*.c $extra $LIBS -lpthread -lm
	corpus="$O/corpus-$name"
	mkdir -p "$corpus"
	[ -d "test/fuzz/corpus/$name" ] && cp -n test/fuzz/corpus/"$name"/* "$corpus"/ 2>/dev/null || true
	echo "== fuzz: running $name for ${secs}s"
	if ! "$O/$name" -max_total_time="$secs" -print_final_stats=1 "$corpus" >"$O/$name.log" 2>&1; then
		echo "!! fuzz: $name found a crash:"; tail -40 "$O/$name.log"; fail=1
	else
		grep -E 'stat::number_of_executed_units|Done' "$O/$name.log" | tail -2
	fi
done
exit $fail
