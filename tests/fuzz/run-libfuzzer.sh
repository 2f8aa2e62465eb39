#!/bin/bash
# Runs one libFuzzer target for a bounded time (ZS_FUZZ_SECONDS, default
# 30): from the seeds kept in the repo (tests/fuzz/corpus/NAME/, if there)
# and the target's built-in ones. Any crash, leak, sanitizer report or
# timeout fails the test and prints the input. New inputs go to a scratch
# corpus, never into the repo.
# Usage: run-libfuzzer.sh NAME FUZZER CORPUS_DIR
set -u
name=$1 fuzzer=$2 corpus=$3
seconds=${ZS_FUZZ_SECONDS:-30}
work=$(mktemp -d "/tmp/zs-fuzz-$name.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/new" "$work/seeds" "$work/artifacts"
dirs=("$work/new" "$work/seeds")
if [ -d "$corpus" ]; then
	dirs+=("$corpus")
else
	echo "$name: no $corpus in the repo; built-in seeds only" >&2
fi
# leaks count (test.sh turns them off for the rest); crashes end the run
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:symbolize=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
ZS_FUZZ_SEED_DIR="$work/seeds" "$fuzzer" -max_total_time="$seconds" \
	-timeout=10 -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1 \
	-artifact_prefix="$work/artifacts/" "${dirs[@]}" >"$work/log" 2>&1
rc=$?
execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/log")
if [ "$rc" != 0 ]; then
	tail -n 60 "$work/log" >&2
	for f in "$work"/artifacts/*; do
		[ -f "$f" ] || continue
		echo "---- $name: input $(basename "$f") ($(stat -c %s "$f") bytes), hex:" >&2
		od -An -tx1 -v "$f" | head -n 64 >&2
	done
	echo "FAIL: libFuzzer $name exited $rc after ${execs:-?} executions" >&2
	exit 1
fi
echo "$name: ${execs:-?} executions in ${seconds} s, $(ls "$work/new" | wc -l) new corpus inputs, no crash"
