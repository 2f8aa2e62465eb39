#!/bin/bash
# zerospice --reconnect outlives its QEMU: started before any QEMU it waits;
# it shows the first VM (spicy-screenshot matches QEMU's screendump); when
# that QEMU is killed it keeps running, says it waits, and clients see
# black; a new QEMU on the same QMP socket is attached and shown.
#
# ZS_QEMU: the QEMU binary (default qemu-system-x86_64).
. "$(dirname "$0")/lib.sh"
QEMU=${ZS_QEMU:-qemu-system-x86_64}
need "$QEMU" spicy-screenshot compare convert
QMP="/usr/bin/python3 $(dirname "$0")/qmp.py"
QEMU_PID=

start_qemu() {
	"$QEMU" -machine pc,accel=tcg -m 64 -nodefaults -device VGA \
		-display dbus,p2p=yes -boot menu=on,splash-time=60000 \
		-qmp "unix:$TMP/qmp.sock,server=on,wait=off" \
		-qmp "unix:$TMP/qmp-test.sock,server=on,wait=off" \
		>>"$TMP/qemu.log" 2>&1 &
	QEMU_PID=$!
	EXTRA_PIDS="$EXTRA_PIDS $QEMU_PID"
}

# count_in_log TEXT: how many zerospice log lines contain TEXT.
count_in_log() { grep -c -F "$1" "$TMP/zerospice.log"; }

# wait_log TEXT N: waits (up to 30 s) for N log lines containing TEXT.
wait_log() {
	for _ in $(seq 1 300); do
		[ "$(count_in_log "$1")" -ge "$2" ] && return 0
		zerospice_alive || fail "zerospice exited: $(tail -n 3 "$TMP/zerospice.log")"
		sleep 0.1
	done
	return 1
}

# matches_screendump NAME: a spicy-screenshot equal (PSNR >= 30 dB, same
# size) to QEMU's screendump of the same moment.
matches_screendump() {
	screenshot "$TMP/$1-spice.ppm" || fail "$1: spicy-screenshot got no picture"
	$QMP "$TMP/qmp-test.sock" screendump "{\"filename\": \"$TMP/$1-qemu.ppm\"}" >/dev/null ||
		fail "$1: QMP screendump failed"
	local a b psnr
	a=$(ppm_size "$TMP/$1-spice.ppm")
	b=$(ppm_size "$TMP/$1-qemu.ppm")
	[ "$a" = "$b" ] || fail "$1: sizes differ: SPICE $a, QEMU $b"
	psnr=$(compare -metric PSNR "$TMP/$1-spice.ppm" "$TMP/$1-qemu.ppm" null: 2>&1 | awk '{ print $1 }')
	log "$1: SPICE picture vs QEMU screendump: $b, PSNR $psnr dB"
	awk -v p="$psnr" 'BEGIN { exit !(p == "inf" || p + 0 >= 30) }' || fail "$1: PSNR $psnr dB < 30"
}

# lit_pixels FILE: how many pixels are not (near) black.
lit_pixels() {
	convert "$1" -fuzz 10% -fill black -opaque black -fill white +opaque black \
		-format '%[fx:int(mean*w*h+0.5)]' info: 2>/dev/null
}

# 1. zerospice first: it waits for QEMU instead of giving up after 10 s
start_zerospice --insecure-no-auth --reconnect --source "qemu,qmp=$TMP/qmp.sock"
wait_log "waiting for QEMU's QMP socket" 1 || fail "zerospice does not say it waits for QEMU"
log "before QEMU: '$(grep -F "waiting for QEMU's QMP socket" "$TMP/zerospice.log")'"

# 2. the first VM
start_qemu
log "qemu: $("$QEMU" --version | head -n 1)"
wait_log "listener registered" 1 || fail "zerospice did not attach to the first QEMU"
sleep 3
matches_screendump first

# 3. the first VM dies: zerospice stays, says so, clients see black
kill -KILL "$QEMU_PID"
wait "$QEMU_PID" 2>/dev/null
wait_log "waiting for a new QEMU" 1 || fail "zerospice does not say it waits for a new QEMU"
sleep 2
zerospice_alive || fail "zerospice exited after QEMU died: $(tail -n 3 "$TMP/zerospice.log")"
log "after QEMU died: '$(grep -F "waiting for a new QEMU" "$TMP/zerospice.log" | head -n 1)'"
screenshot "$TMP/gone.ppm" || fail "no picture while waiting for QEMU"
lit=$(lit_pixels "$TMP/gone.ppm")
log "while waiting: $(ppm_size "$TMP/gone.ppm"), ${lit:-?} pixels not black"
[ "$(ppm_size "$TMP/gone.ppm")" = "$(ppm_size "$TMP/first-spice.ppm")" ] ||
	fail "the black picture is not at the last size"
[ -n "$lit" ] && [ "$lit" -eq 0 ] || fail "picture while waiting is not black ($lit pixels lit)"

# 4. a new VM on the same QMP socket is attached and shown
start_qemu
wait_log "listener registered" 2 || fail "zerospice did not attach to the new QEMU"
sleep 3
matches_screendump second
lit=$(lit_pixels "$TMP/second-spice.ppm")
log "the new VM: ${lit:-?} pixels not black"
[ -n "$lit" ] && [ "$lit" -gt 100 ] || fail "the new VM's picture is black ($lit pixels lit)"

# 5. SIGTERM still ends it cleanly
stop_zerospice
log "PASS"
