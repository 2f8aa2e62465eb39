#!/bin/bash
# QEMU killed with SIGKILL mid-stream, ROUNDS times in a row (default 20):
#  1. with --reconnect: one zerospice outlives every QEMU; its fd count and
#     RSS after the last round stay within bounds of those after the first
#     rounds, and it still shows the last VM and exits 0 on SIGTERM;
#  2. without --reconnect: each zerospice ends with status 1 and says why
#     (no crash, no hang).
# A client watches throughout, so every QEMU dies while frames flow.
#
# ZS_QEMU: the QEMU binary (default qemu-system-x86_64).
. "$(dirname "$0")/../integration/lib.sh"
QEMU=${ZS_QEMU:-qemu-system-x86_64}
ROUNDS=${ZS_ROUNDS:-20}
need "$QEMU" spicy-screenshot convert
# ASan keeps freed memory in quarantine (256 MiB by default): keep it small
# so that RSS says what is really held.
export ASAN_OPTIONS="${ASAN_OPTIONS:-}:quarantine_size_mb=4"
QEMU_PID=

start_qemu() {
	"$QEMU" -machine pc,accel=tcg -m 64 -nodefaults -device VGA \
		-display dbus,p2p=yes -boot menu=on,splash-time=60000 \
		-qmp "unix:$TMP/qmp.sock,server=on,wait=off" \
		>>"$TMP/qemu.log" 2>&1 &
	QEMU_PID=$!
}

kill_qemu() {
	kill -KILL "$QEMU_PID" 2>/dev/null
	wait "$QEMU_PID" 2>/dev/null
	QEMU_PID=
}

count_in_log() { grep -c -F "$1" "$TMP/zerospice.log"; }

# wait_log TEXT N: waits (up to 30 s) for N zerospice log lines with TEXT.
wait_log() {
	for _ in $(seq 1 300); do
		[ "$(count_in_log "$1")" -ge "$2" ] && return 0
		zerospice_alive || return 1
		sleep 0.1
	done
	return 1
}

fds() { ls "/proc/$ZS_PID/fd" | wc -l; }
rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$ZS_PID/status"; }

# A client that stays connected (and so keeps the stream running).
WATCH_PID=
watch_start() {
	(while :; do
		timeout 20 spicy-screenshot -h 127.0.0.1 -p "$ZS_PORT" \
			-o "$TMP/watch.ppm" >>"$TMP/watch.log" 2>&1
		sleep 0.2
	done) &
	WATCH_PID=$!
	EXTRA_PIDS="$EXTRA_PIDS $WATCH_PID"
}
watch_stop() {
	kill "$WATCH_PID" 2>/dev/null
	pkill -P "$WATCH_PID" 2>/dev/null
	wait "$WATCH_PID" 2>/dev/null
	WATCH_PID=
}

# ---- 1. --reconnect
start_zerospice --insecure-no-auth --reconnect --source "qemu,qmp=$TMP/qmp.sock"
watch_start
base_fds= base_rss=
for i in $(seq 1 "$ROUNDS"); do
	start_qemu
	wait_log "listener registered" "$i" ||
		fail "round $i: not attached: $(tail -n 3 "$TMP/zerospice.log")"
	sleep 0.7 # frames flow
	kill_qemu
	wait_log "waiting for a new QEMU" "$i" ||
		fail "round $i: no wait after the kill: $(tail -n 3 "$TMP/zerospice.log")"
	if [ "$i" -eq 3 ]; then
		# counted with no client connected, like the end
		watch_stop
		sleep 1
		base_fds=$(fds) base_rss=$(rss_kb)
		log "after round 3: $base_fds fds, RSS $base_rss kB"
		watch_start
	fi
done
watch_stop
sleep 1
end_fds=$(fds) end_rss=$(rss_kb)
log "after round $ROUNDS: $end_fds fds, RSS $end_rss kB"
log "--reconnect, $ROUNDS kills: fds $base_fds -> $end_fds, RSS $base_rss -> $end_rss kB ($(( (end_rss - base_rss) )) kB)"
[ "$end_fds" -le "$base_fds" ] || {
	ls -l "/proc/$ZS_PID/fd" >&2
	fail "fds grew from $base_fds to $end_fds over $ROUNDS QEMU kills"
}
[ "$end_rss" -le $((base_rss + 16384)) ] ||
	fail "RSS grew by $((end_rss - base_rss)) kB over $ROUNDS QEMU kills"

# still serving: the next VM is shown
start_qemu
wait_log "listener registered" $((ROUNDS + 1)) || fail "no attach after $ROUNDS kills"
sleep 2
screenshot "$TMP/last.ppm" || fail "no picture after $ROUNDS kills"
lit=$(convert "$TMP/last.ppm" -fuzz 10% -fill black -opaque black -fill white \
	+opaque black -format '%[fx:int(mean*w*h+0.5)]' info: 2>/dev/null)
log "the VM after $ROUNDS kills: $(ppm_size "$TMP/last.ppm"), ${lit:-?} pixels lit"
[ -n "$lit" ] && [ "$lit" -gt 100 ] || fail "the last VM's picture is black"
kill_qemu
kill -TERM "$ZS_PID"
wait "$ZS_PID"; rc=$?
ZS_PID=
[ "$rc" -eq 0 ] || fail "zerospice exited $rc after SIGTERM"

# ---- 2. without --reconnect: each zerospice ends, saying why
for i in $(seq 1 "$ROUNDS"); do
	start_qemu
	for _ in $(seq 1 100); do
		[ -S "$TMP/qmp.sock" ] && break
		sleep 0.1
	done
	start_zerospice --insecure-no-auth --source "qemu,qmp=$TMP/qmp.sock"
	wait_log "listener registered" 1 ||
		fail "round $i: not attached: $(tail -n 3 "$TMP/zerospice.log")"
	screenshot "$TMP/once.ppm" || fail "round $i: no picture"
	kill_qemu
	for _ in $(seq 1 100); do
		zerospice_alive || break
		sleep 0.1
	done
	zerospice_alive && fail "round $i: zerospice still runs 10 s after QEMU died"
	wait "$ZS_PID"; rc=$?
	ZS_PID=
	[ "$rc" -eq 1 ] || fail "round $i: zerospice exited $rc, not 1: $(tail -n 5 "$TMP/zerospice.log")"
	grep -q "source ended" "$TMP/zerospice.log" ||
		fail "round $i: no reason given: $(tail -n 3 "$TMP/zerospice.log")"
done
log "without --reconnect: $ROUNDS zerospices ended with status 1 and a reason: $(grep -F 'source ended' "$TMP/zerospice.log" | tail -n 1)"
log "PASS"
