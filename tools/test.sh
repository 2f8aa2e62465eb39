#!/bin/bash
# Builds zerospice with -Dwerror=true under AddressSanitizer and
# UndefinedBehaviorSanitizer and runs every test: unit, fuzz regression
# loops and integration against real clients. Installs what it needs.
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
export ASAN_OPTIONS=detect_leaks=0:abort_on_error=1
meson test -C "$build" --print-errorlogs --num-processes 2 "$@"
