#!/bin/bash
# Several monitors: a VM with two heads (QEMU 7.2, TCG, virtio-vga with
# max_outputs=2, so D-Bus consoles 0 and 1) and zerospice with its default
# --console all. A spice-client-glib client (zs-display-shot) is offered
# exactly displays 0 and 1 (the stub QXL stays hidden), and each display's
# picture matches QEMU's screendump of that head: head 0 shows SeaBIOS
# (720x400), head 1 QEMU's "not initialized" page (640x480). remote-viewer
# under Xvfb opens one window per display. --console 1,0 swaps them. A
# console QEMU does not have is a clear error. With --reconnect, a new QEMU
# gets both displays back. On a private bus (-display dbus,addr=, as
# libvirt runs it) both displays come too. Last, a guest agent (the agent test guest,
# tools/guest/agent.c, bridged) learns from spice-server which head of
# which device each display channel shows (STREAM_TYPE_DEVICE_DISPLAY_INFO
# → VD_AGENT_GRAPHICS_DEVICE_INFO).
#
# ZS_QEMU: the QEMU binary (default qemu-system-x86_64, Debian 12's 7.2).
. "$(dirname "$0")/lib.sh"
QEMU=${ZS_QEMU:-qemu-system-x86_64}
need "$QEMU" compare
[ -n "$DISPLAY_SHOT" ] && [ -x "$DISPLAY_SHOT" ] ||
	skip "no zs-display-shot (spice-client-glib missing at build time)"
QMP="/usr/bin/python3 $(dirname "$0")/qmp.py"

start_qemu() {
	"$QEMU" -machine pc,accel=tcg -m 64 -nodefaults \
		-device virtio-vga,id=gpu0,max_outputs=2 \
		-display dbus,p2p=yes -boot menu=on,splash-time=60000 \
		-qmp "unix:$TMP/qmp.sock,server=on,wait=off" \
		-qmp "unix:$TMP/qmp-test.sock,server=on,wait=off" \
		>>"$TMP/qemu.log" 2>&1 &
	QEMU_PID=$!
	EXTRA_PIDS="$EXTRA_PIDS $QEMU_PID"
}
start_qemu
log "qemu: $("$QEMU" --version | head -n 1)"

start_zerospice --insecure-no-auth --source "qemu,qmp=$TMP/qmp.sock"
# the boot menu prompt stays for 60 s: still pictures on both heads
sleep 4
grep -q "QEMU console 1: SPICE display 1" "$TMP/zerospice.log" ||
	fail "zerospice did not add console 1: $(tail -n 3 "$TMP/zerospice.log")"

# shot ROUND: every display's picture as $TMP/ROUND-ID.ppm; prints the
# display ids offered, in order
shot() {
	ASAN_OPTIONS=detect_leaks=0 timeout 60 "$DISPLAY_SHOT" \
		"spice://127.0.0.1:$ZS_PORT" "$TMP/$1" 40 2>>"$TMP/display-shot.log" |
		sed -n 's/^displays: //p'
}
ids=$(shot shot | tr ' ' '\n' | sort -n | tr '\n' ' ' | sed 's/ $//')
log "displays offered: $ids"
[ "$ids" = "0 1" ] || fail "expected displays 0 and 1, the client was offered: ${ids:-none}"

# matches ROUND: display N of ROUND is QEMU's head N (size, >= 30 dB)
matches() {
	local head psnr
	for head in 0 1; do
		$QMP "$TMP/qmp-test.sock" screendump \
			"{\"filename\": \"$TMP/$1-qemu-$head.ppm\", \"device\": \"gpu0\", \"head\": $head}" >/dev/null ||
			fail "$1: QMP screendump of head $head failed"
		[ "$(ppm_size "$TMP/$1-$head.ppm")" = "$(ppm_size "$TMP/$1-qemu-$head.ppm")" ] ||
			fail "$1: display $head is $(ppm_size "$TMP/$1-$head.ppm"), head $head $(ppm_size "$TMP/$1-qemu-$head.ppm")"
		psnr=$(compare -metric PSNR "$TMP/$1-$head.ppm" "$TMP/$1-qemu-$head.ppm" null: 2>&1 | awk '{ print $1 }')
		log "$1: display $head vs head $head: PSNR $psnr dB"
		awk -v p="$psnr" 'BEGIN { exit !(p == "inf" || p + 0 >= 30) }' ||
			fail "$1: display $head: PSNR $psnr dB < 30 against head $head"
	done
}

for head in 0 1; do
	[ -s "$TMP/shot-$head.ppm" ] || fail "display $head: no picture"
	$QMP "$TMP/qmp-test.sock" screendump \
		"{\"filename\": \"$TMP/qemu-$head.ppm\", \"device\": \"gpu0\", \"head\": $head}" >/dev/null ||
		fail "QMP screendump of head $head failed"
	[ "$(ppm_size "$TMP/shot-$head.ppm")" = "$(ppm_size "$TMP/qemu-$head.ppm")" ] ||
		fail "display $head: size $(ppm_size "$TMP/shot-$head.ppm"), QEMU's head $head is $(ppm_size "$TMP/qemu-$head.ppm")"
	psnr=$(compare -metric PSNR "$TMP/shot-$head.ppm" "$TMP/qemu-$head.ppm" null: 2>&1 | awk '{ print $1 }')
	log "display $head vs QEMU head $head: $(ppm_size "$TMP/qemu-$head.ppm"), PSNR $psnr dB"
	awk -v p="$psnr" 'BEGIN { exit !(p == "inf" || p + 0 >= 30) }' ||
		fail "display $head: PSNR $psnr dB < 30 against head $head"
done
# the two heads show different things: the displays must not be swapped
# or copies of one console
[ "$(ppm_size "$TMP/shot-0.ppm")" != "$(ppm_size "$TMP/shot-1.ppm")" ] ||
	fail "both displays are $(ppm_size "$TMP/shot-0.ppm"): one console shown twice?"

# one encoder per console, each started once for the client
n_enc=$(grep -c 'encoder: gst:' "$TMP/zerospice.log")
log "encoders started: $n_enc"
[ "$n_enc" -ge 2 ] || fail "expected an encoder per display, the log shows $n_enc"

# a second client at once: both displays again (the stream devices were
# renewed when the first left)
ids2=$(shot again | tr ' ' '\n' | sort -n | tr '\n' ' ' | sed 's/ $//')
[ "$ids2" = "0 1" ] && [ -s "$TMP/again-0.ppm" ] && [ -s "$TMP/again-1.ppm" ] ||
	fail "a second client got displays '${ids2:-none}' or no pictures"

# remote-viewer: one window per display
if command -v remote-viewer >/dev/null && command -v Xvfb >/dev/null && command -v xdotool >/dev/null; then
	start_xvfb
	EXTRA_PIDS="$EXTRA_PIDS $XVFB_PID"
	DISABLE_GSTVIDEOOVERLAY=1 remote-viewer "spice://127.0.0.1:$ZS_PORT" >"$TMP/remote-viewer.log" 2>&1 &
	RV_PID=$!
	EXTRA_PIDS="$EXTRA_PIDS $RV_PID"
	n=0
	for _ in $(seq 1 40); do
		sleep 0.5
		n=$(xdotool search --onlyvisible --class remote-viewer 2>/dev/null | wc -l)
		[ "$n" -ge 2 ] && break
	done
	xwininfo -root -tree 2>/dev/null | grep -i "remote viewer\|zerospice" >>"$TMP/windows.log"
	log "remote-viewer windows: $n"
	[ "$n" = 2 ] || fail "remote-viewer shows $n windows, expected one per display (2)"
	kill "$RV_PID" 2>/dev/null
	wait "$RV_PID" 2>/dev/null
else
	log "remote-viewer, Xvfb or xdotool missing: window count not checked"
fi

stop_zerospice

# an explicit list, in its order: display 0 is head 1, display 1 head 0
start_zerospice --insecure-no-auth --source "qemu,qmp=$TMP/qmp.sock" --console 1,0
sleep 3
ids=$(shot swap | tr ' ' '\n' | sort -n | tr '\n' ' ' | sed 's/ $//')
[ "$ids" = "0 1" ] || fail "--console 1,0: displays '${ids:-none}', expected 0 1"
for d in 0 1; do
	head=$((1 - d))
	psnr=$(compare -metric PSNR "$TMP/swap-$d.ppm" "$TMP/qemu-$head.ppm" null: 2>&1 | awk '{ print $1 }')
	log "--console 1,0: display $d vs head $head: $(ppm_size "$TMP/swap-$d.ppm"), PSNR $psnr dB"
	[ "$(ppm_size "$TMP/swap-$d.ppm")" = "$(ppm_size "$TMP/qemu-$head.ppm")" ] &&
	awk -v p="$psnr" 'BEGIN { exit !(p == "inf" || p + 0 >= 30) }' ||
		fail "--console 1,0: display $d is not head $head"
done
stop_zerospice

# a console the VM does not have: a clear error, exit 1
start_zerospice --insecure-no-auth --source "qemu,qmp=$TMP/qmp.sock" --console 0,5
for _ in $(seq 1 100); do zerospice_alive || break; sleep 0.2; done
zerospice_alive && fail "zerospice kept running without console 5"
wait "$ZS_PID"
rc=$?
ZS_PID=
[ "$rc" = 1 ] || fail "exit status $rc without console 5, expected 1"
grep -q "no console 5" "$TMP/zerospice.log" ||
	fail "no clear error for the missing console: $(tail -n 3 "$TMP/zerospice.log")"
log "missing console: $(grep -o 'error: .*' "$TMP/zerospice.log" | head -n 1)"

# --reconnect: QEMU killed and started again; both displays come back
start_zerospice --insecure-no-auth --reconnect --source "qemu,qmp=$TMP/qmp.sock"
registered() { grep -c "listener registered on console $1" "$TMP/zerospice.log"; }
for _ in $(seq 1 100); do [ "$(registered 1)" -ge 1 ] && break; sleep 0.2; done
[ "$(registered 1)" -ge 1 ] || fail "--reconnect: console 1 not registered"
kill -KILL "$QEMU_PID"
wait "$QEMU_PID" 2>/dev/null
start_qemu
for _ in $(seq 1 150); do
	[ "$(registered 0)" -ge 2 ] && [ "$(registered 1)" -ge 2 ] && break
	sleep 0.2
done
[ "$(registered 0)" -ge 2 ] && [ "$(registered 1)" -ge 2 ] ||
	fail "--reconnect: the new QEMU's consoles were not both registered: $(tail -n 5 "$TMP/zerospice.log")"
[ "$(grep -c 'QEMU console 1: SPICE display' "$TMP/zerospice.log")" = 1 ] ||
	fail "--reconnect: console 1 was added as a new display again"
sleep 3
ids=$(shot re | tr ' ' '\n' | sort -n | tr '\n' ' ' | sed 's/ $//')
[ "$ids" = "0 1" ] || fail "--reconnect: displays '${ids:-none}', expected 0 1"
matches re
stop_zerospice
kill "$QEMU_PID" 2>/dev/null
wait "$QEMU_PID" 2>/dev/null

# on a private bus (libvirt's way): both consoles through one connection
if command -v dbus-daemon >/dev/null; then
	dbus-daemon --config-file="$(dirname "$0")/../broker/bus.conf" --nofork \
		--print-address=5 5>"$TMP/bus.addr" 2>"$TMP/dbus.log" &
	EXTRA_PIDS="$EXTRA_PIDS $!"
	for _ in $(seq 1 50); do [ -s "$TMP/bus.addr" ] && break; sleep 0.1; done
	BUS=$(head -n 1 "$TMP/bus.addr")
	[ -n "$BUS" ] || fail "dbus-daemon did not start"
	"$QEMU" -machine pc,accel=tcg -m 64 -nodefaults \
		-device virtio-vga,id=gpu0,max_outputs=2 \
		-display "dbus,addr=${BUS//,/,,}" -boot menu=on,splash-time=60000 \
		-qmp "unix:$TMP/qmp-test.sock,server=on,wait=off" \
		>>"$TMP/qemu.log" 2>&1 &
	QEMU_PID=$!
	EXTRA_PIDS="$EXTRA_PIDS $QEMU_PID"
	start_zerospice --insecure-no-auth --dbus-address "$BUS"
	sleep 4
	ids=$(shot bus | tr ' ' '\n' | sort -n | tr '\n' ' ' | sed 's/ $//')
	[ "$ids" = "0 1" ] || fail "on a bus: displays '${ids:-none}', expected 0 1"
	matches bus
	stop_zerospice
	kill "$QEMU_PID" 2>/dev/null
	wait "$QEMU_PID" 2>/dev/null
else
	log "no dbus-daemon: the bus case is not checked"
fi

# the guest agent is told which head each display is
top=$(cd "$(dirname "$0")/../.." && pwd)
GUEST_DIR=${ZS_GUEST_DIR:-$(dirname "$ZEROSPICE")/../guest}
bash "$top/tools/guest/build.sh" "$GUEST_DIR" >"$TMP/guest-build.out" 2>"$TMP/guest-build.log"
case $? in
0)
	rm -f "$TMP/qmp.sock"
	"$QEMU" -machine pc,accel=tcg -m 256 -nodefaults \
		-device virtio-vga,id=gpu0,max_outputs=2 -display dbus,p2p=yes \
		-kernel "$GUEST_DIR/vmlinuz" -initrd "$GUEST_DIR/agent-initrd.img" \
		-append "console=ttyS0 quiet" -serial "file:$TMP/guest.log" \
		-chardev dbus,id=vdagent0,name=org.spice-space.vdagent.0 \
		-device virtio-serial \
		-device virtserialport,chardev=vdagent0,name=com.redhat.spice.0 \
		-qmp "unix:$TMP/qmp.sock,server=on,wait=off" >>"$TMP/qemu.log" 2>&1 &
	QEMU_PID=$!
	EXTRA_PIDS="$EXTRA_PIDS $QEMU_PID"
	start_zerospice --insecure-no-auth --source "qemu,qmp=$TMP/qmp.sock"
	# a client keeps the session (the agent starts on the peer's caps)
	ASAN_OPTIONS=detect_leaks=0 timeout 170 "$DISPLAY_SHOT" \
		"spice://127.0.0.1:$ZS_PORT" "$TMP/agent" 40 120 >/dev/null 2>>"$TMP/display-shot.log" &
	SHOT_PID=$!
	EXTRA_PIDS="$EXTRA_PIDS $SHOT_PID"
	seen=
	for _ in $(seq 1 240); do
		grep -q "display channel 1 monitor 0 is head 1 of pci/" "$TMP/guest.log" 2>/dev/null &&
			grep -q "display channel 0 monitor 0 is head 0 of pci/" "$TMP/guest.log" && { seen=1; break; }
		sleep 0.5
	done
	grep "zs-agent: display channel" "$TMP/guest.log" | sort -u | while read -r l; do log "guest: $l"; done
	[ -n "$seen" ] || fail "the guest agent was not told display 0 is head 0 and display 1 head 1: $(grep 'zs-agent' "$TMP/guest.log" | tail -n 5)"
	addr0=$(sed -n 's/.*display channel 0 monitor 0 is head 0 of \([^ ]*\).*/\1/p' "$TMP/guest.log" | head -n 1)
	addr1=$(sed -n 's/.*display channel 1 monitor 0 is head 1 of \([^ ]*\).*/\1/p' "$TMP/guest.log" | head -n 1)
	[ "$addr0" = "$addr1" ] || fail "two heads of one device named apart: '$addr0' and '$addr1'"
	kill "$SHOT_PID" 2>/dev/null
	wait "$SHOT_PID" 2>/dev/null
	;;
77) log "no test guest ($(tail -n 1 "$TMP/guest-build.log")): device info to the agent not checked" ;;
*) fail "tools/guest/build.sh failed: $(tail -n 3 "$TMP/guest-build.log")" ;;
esac
log "PASS"
