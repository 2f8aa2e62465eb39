#!/bin/bash
# Builds zerospice with -Dwerror=true under AddressSanitizer and
# UndefinedBehaviorSanitizer and runs every test: unit, fuzz regression
# loops, integration against real clients, abuse cases; then builds the
# libFuzzer targets with clang and runs each for a bounded time. Installs
# what it needs.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${ZS_TEST_BUILD:-$top/build-test}
"$top/tools/install-deps.sh"
# libvirt for integration-libvirt, best effort: without it that test skips.
timeout 900 "$top/tools/install-deps.sh" "$top/tools/debian-packages-optional.txt" ||
	echo "test.sh: optional packages not installed; integration-libvirt will skip" >&2
# QEMU 10 from bookworm-backports for integration-qemu-10, best effort: if
# the mirror cannot be reached that test skips and prints why.
timeout 600 "$top/tools/qemu-backports.sh" ||
	echo "test.sh: QEMU 10 not fetched; integration-qemu-10 will skip" >&2
if [ ! -d "$build" ]; then
	meson setup "$build" "$top" -Dwerror=true -Db_sanitize=address,undefined \
		-Db_lundef=false
fi
ninja -C "$build"
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
# Leaks are off for the clients the integration tests start (not ours);
# the zerospice binary runs with them on (tests/integration/lib.sh), as do
# the unit tests that set their own ASAN_OPTIONS and the fuzzers.
export ASAN_OPTIONS=detect_leaks=0:abort_on_error=1
meson test -C "$build" --print-errorlogs --num-processes 2 "$@"

# libFuzzer, bounded: every target the fuzz build defines, ZS_FUZZ_SECONDS
# (default 30) each, from the seeds in tests/fuzz/corpus/; any crash fails.
# Skipped when test.sh is asked for particular tests, or ZS_FUZZ_SECONDS=0.
if [ $# -eq 0 ] && [ "${ZS_FUZZ_SECONDS:-30}" != 0 ]; then
	fuzz_build=${ZS_FUZZ_BUILD:-$top/build-fuzz}
	if [ ! -d "$fuzz_build" ]; then
		CC=clang meson setup "$fuzz_build" "$top" -Dwerror=true -Dfuzz=true \
			-Dintegration_tests=false
	fi
	ninja -C "$fuzz_build" fuzzers
	meson test -C "$fuzz_build" --no-rebuild --print-errorlogs \
		--num-processes 2 --suite libfuzzer
	grep -h "executions in" "$fuzz_build/meson-logs/testlog.txt" || true
fi
