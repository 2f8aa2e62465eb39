#!/bin/bash
# A real VM as the source: QEMU (TCG, VGA, no disk) with -display
# dbus,p2p=yes; zerospice attaches through QMP; spicy-screenshot's picture
# matches QEMU's own screendump; a key typed in remote-viewer reaches the
# guest (SeaBIOS opens its boot menu on ESC); killing QEMU ends zerospice
# with a non-zero status and a message.
#
# ZS_QEMU: the QEMU binary (default qemu-system-x86_64, Debian 12's 7.2);
# ZS_QEMU_EXPECT_PATH: the listener path zerospice must log that it ran
# (default Scanout: 7.2 sends pixels over the socket; 9.2 and later use
# ScanoutMap, shared memory).
. "$(dirname "$0")/lib.sh"
QEMU=${ZS_QEMU:-qemu-system-x86_64}
EXPECT_PATH=${ZS_QEMU_EXPECT_PATH:-Scanout}
if [ "$QEMU" != qemu-system-x86_64 ] && [ ! -x "$QEMU" ]; then
	why=$(cat "$(dirname "$QEMU").failed" 2>/dev/null)
	skip "no QEMU at $QEMU (tools/qemu-backports.sh fetches it${why:+; it failed: $why})"
fi
need "$QEMU" spicy-screenshot compare
QMP="/usr/bin/python3 $(dirname "$0")/qmp.py"

# listener_paths: the paths zerospice logged, e.g. "Scanout ScanoutMap".
listener_paths() {
	sed -n 's/.*QEMU display: \([A-Za-z0-9]*\) path (.*/\1/p' "$TMP/zerospice.log" | sort -u | tr '\n' ' ' | sed 's/ $//'
}

"$QEMU" -machine pc,accel=tcg -m 64 -nodefaults -device VGA \
	-display dbus,p2p=yes -boot menu=on,splash-time=60000 \
	-qmp "unix:$TMP/qmp.sock,server=on,wait=off" \
	-qmp "unix:$TMP/qmp-test.sock,server=on,wait=off" \
	>"$TMP/qemu.log" 2>&1 &
QEMU_PID=$!
EXTRA_PIDS="$QEMU_PID"
log "qemu: $("$QEMU" --version | head -n 1)"

start_zerospice --insecure-no-auth --source "qemu,qmp=$TMP/qmp.sock"

# SeaBIOS's "Press ESC for boot menu" screen stays for 60 s: a still picture
sleep 3

screenshot "$TMP/spice.ppm" || fail "spicy-screenshot got no picture from the VM"
$QMP "$TMP/qmp-test.sock" screendump "{\"filename\": \"$TMP/qemu.ppm\"}" >/dev/null ||
	fail "QMP screendump failed"
[ "$(ppm_size "$TMP/spice.ppm")" = "$(ppm_size "$TMP/qemu.ppm")" ] ||
	fail "sizes differ: SPICE $(ppm_size "$TMP/spice.ppm"), QEMU $(ppm_size "$TMP/qemu.ppm")"
psnr=$(compare -metric PSNR "$TMP/spice.ppm" "$TMP/qemu.ppm" null: 2>&1 | awk '{ print $1 }')
log "SPICE picture vs QEMU screendump: $(ppm_size "$TMP/qemu.ppm"), PSNR $psnr dB"
awk -v p="$psnr" 'BEGIN { exit !(p == "inf" || p + 0 >= 30) }' || fail "PSNR $psnr dB < 30"
# a second client on the still screen: QEMU sends nothing new, zerospice
# must show it the current picture again
sleep 1
screenshot "$TMP/spice2.ppm" || fail "a second client got no picture of the still screen"
psnr2=$(compare -metric PSNR "$TMP/spice2.ppm" "$TMP/qemu.ppm" null: 2>&1 | awk '{ print $1 }')
log "second client on the still screen: PSNR $psnr2 dB"
awk -v p="$psnr2" 'BEGIN { exit !(p == "inf" || p + 0 >= 30) }' || fail "second client: PSNR $psnr2 dB < 30"

paths=$(listener_paths)
log "listener paths that ran: ${paths:-none}"
case " $paths " in
*" $EXPECT_PATH "*) ;;
*) fail "expected the $EXPECT_PATH path, zerospice logged: ${paths:-none}" ;;
esac

# ESC through a real SPICE client opens SeaBIOS's boot menu
if command -v remote-viewer >/dev/null && command -v Xvfb >/dev/null && command -v xdotool >/dev/null; then
	Xvfb -displayfd 5 -screen 0 1280x1024x24 -nolisten tcp 5>"$TMP/xvfb.num" >"$TMP/xvfb.log" 2>&1 &
	XVFB_PID=$!
	for _ in $(seq 1 100); do [ -s "$TMP/xvfb.num" ] && break; sleep 0.1; done
	export DISPLAY=":$(cat "$TMP/xvfb.num")"
	DISABLE_GSTVIDEOOVERLAY=1 remote-viewer "spice://127.0.0.1:$ZS_PORT" >"$TMP/remote-viewer.log" 2>&1 &
	EXTRA_PIDS="$EXTRA_PIDS $!"
	sleep 4
	$QMP "$TMP/qmp-test.sock" screendump "{\"filename\": \"$TMP/before.ppm\"}" >/dev/null
	xdotool mousemove 200 200 key Escape
	changed=0
	for _ in $(seq 1 20); do
		sleep 0.5
		$QMP "$TMP/qmp-test.sock" screendump "{\"filename\": \"$TMP/after.ppm\"}" >/dev/null
		changed=$(compare -metric AE "$TMP/before.ppm" "$TMP/after.ppm" null: 2>&1 | awk '{ print int($1) }')
		[ "$changed" -gt 100 ] && break
	done
	[ "$changed" -gt 100 ] || fail "ESC typed in remote-viewer did not reach the guest"
	log "ESC reached the guest: $changed pixels changed (boot menu)"
else
	log "SKIP key check: remote-viewer, Xvfb or xdotool missing"
fi

# QEMU goes away: zerospice stops with a message and a failure status
kill -KILL "$QEMU_PID"
for _ in $(seq 1 100); do zerospice_alive || break; sleep 0.1; done
zerospice_alive && fail "zerospice still runs after QEMU died"
wait "$ZS_PID"; rc=$?
ZS_PID=
[ "$rc" -ne 0 ] || fail "zerospice exited 0 after QEMU died"
# a failure status, but its own: no sanitizer report, leak or critical
[ "$rc" -eq 1 ] || fail "zerospice exited $rc after QEMU died, not 1"
! grep -Eq "Sanitizer|runtime error|CRITICAL" "$TMP/zerospice.log" ||
	fail "zerospice reported an error of its own at exit: $(grep -E "Sanitizer|runtime error|CRITICAL" "$TMP/zerospice.log" | head -n 3)"
grep -q "error: source ended" "$TMP/zerospice.log" || fail "no message about QEMU: $(tail -n 3 "$TMP/zerospice.log")"
log "after QEMU died: exit $rc, '$(grep 'source ended' "$TMP/zerospice.log")'"
log "listener paths over the whole run: $(listener_paths)"
log "PASS"
