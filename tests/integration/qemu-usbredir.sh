#!/bin/bash
# USB redirection through zerospice with no USB hardware: QEMU (TCG) offers
# a usb-redir device on -chardev dbus,name=org.qemu.usbredir; zerospice
# turns it into a spice-server usbredir channel; remote-viewer shares an
# emulated USB CD-ROM (spice-gtk's --spice-share-cd, a usbredir device
# made in software) and redirects it on connect. The usbredir hello goes
# both ways through zerospice and QEMU attaches the device: its
# `info usb` line turns to the CD's high speed (480 Mb/s). A second client
# gets a fresh usbredir session (the first one's device left with it).
. "$(dirname "$0")/lib.sh"
QEMU=${ZS_QEMU:-qemu-system-x86_64}
need "$QEMU" remote-viewer Xvfb
QMP="/usr/bin/python3 $(dirname "$0")/qmp.py"

usb_info() {
	$QMP "$TMP/qmp-test.sock" human-monitor-command '{"command-line": "info usb"}' 2>&1
}

"$QEMU" -machine pc,accel=tcg -m 64 -nodefaults -device VGA \
	-display dbus,p2p=yes \
	-chardev dbus,id=usbredir0,name=org.qemu.usbredir \
	-device qemu-xhci -device usb-redir,chardev=usbredir0,id=redir0 \
	-qmp "unix:$TMP/qmp.sock,server=on,wait=off" \
	-qmp "unix:$TMP/qmp-test.sock,server=on,wait=off" \
	>"$TMP/qemu.log" 2>&1 &
QEMU_PID=$!
EXTRA_PIDS="$QEMU_PID"

start_zerospice --insecure-no-auth --source "qemu,qmp=$TMP/qmp.sock"
for _ in $(seq 1 100); do
	grep -q "usbredir usbredir0: offered" "$TMP/zerospice.log" && break
	sleep 0.1
done
grep -q "usbredir usbredir0: offered" "$TMP/zerospice.log" ||
	fail "zerospice did not offer QEMU's usb-redir chardev"
before=$(usb_info)
log "before a client: $before"
case "$before" in *"480 Mb/s"*) fail "a device is attached before any client" ;; esac

head -c 4194304 /dev/zero >"$TMP/cd.iso"
start_xvfb
viewer() {
	SPICE_DEBUG=1 DISABLE_GSTVIDEOOVERLAY=1 remote-viewer \
		--spice-share-cd="$TMP/cd.iso" \
		--spice-usbredir-redirect-on-connect="-1,-1,-1,-1,1" \
		"spice://127.0.0.1:$ZS_PORT" >"$TMP/$1.log" 2>&1 &
	RV_PID=$!
	EXTRA_PIDS="$EXTRA_PIDS $RV_PID"
}

# wait_usb PATTERN: waits (30 s) for `info usb` to match
wait_usb() {
	for _ in $(seq 1 60); do
		usb_info | grep -q "$1" && return 0
		sleep 0.5
	done
	return 1
}

viewer remote-viewer-1
wait_usb "480 Mb/s" || fail "the shared CD did not reach QEMU: $(usb_info)"
log "with remote-viewer: $(usb_info)"
grep -q "usbredir_hello.*attached" "$TMP/remote-viewer-1.log" ||
	fail "remote-viewer did not get QEMU's usbredir hello"
grep -q "usbredir usbredir0: a SPICE client attached" "$TMP/zerospice.log" ||
	fail "zerospice did not log the usbredir stream"

# the client goes: QEMU's device goes with it
kill "$RV_PID"
wait "$RV_PID" 2>/dev/null
for _ in $(seq 1 60); do
	usb_info | grep -q "480 Mb/s" || break
	sleep 0.5
done
usb_info | grep -q "480 Mb/s" && fail "the device stayed after the client left: $(usb_info)"
grep -q "usbredir usbredir0: stream to QEMU closed" "$TMP/zerospice.log" ||
	fail "zerospice did not close the stream when the client left"
log "after the client left: $(usb_info)"

# a second client: a fresh usbredir session
viewer remote-viewer-2
wait_usb "480 Mb/s" || fail "a second client's CD did not reach QEMU: $(usb_info)"
log "second client: $(usb_info)"
zerospice_alive || fail "zerospice died"
kill "$RV_PID"
wait "$RV_PID" 2>/dev/null
stop_zerospice
cp "$TMP/zerospice.log" "$TMP/zerospice-first.log"
kill "$QEMU_PID"
wait "$QEMU_PID" 2>/dev/null

# A client that connected before the usbredir chardev existed: QEMU starts
# without one, remote-viewer connects (its shared CD has no channel to go
# to), then QEMU gets the chardev and the usb-redir device hot-plugged
# (QMP chardev-add, device_add). zerospice offers the new chardev;
# spice-server 0.15.1 announces a channel registered after the link to
# the live client (a CHANNELS_LIST of the new channel alone, through the
# relay); spice-gtk creates it and redirects the CD on it.
rm -f "$TMP/qmp-test.sock"
"$QEMU" -machine pc,accel=tcg -m 64 -nodefaults -device VGA \
	-display dbus,p2p=yes -device qemu-xhci \
	-qmp "unix:$TMP/qmp2.sock,server=on,wait=off" \
	-qmp "unix:$TMP/qmp-test.sock,server=on,wait=off" \
	>"$TMP/qemu2.log" 2>&1 &
QEMU_PID=$!
EXTRA_PIDS="$QEMU_PID"
for _ in $(seq 1 50); do [ -S "$TMP/qmp-test.sock" ] && break; sleep 0.1; done
start_zerospice --insecure-no-auth --source "qemu,qmp=$TMP/qmp2.sock"
viewer remote-viewer-late
# the client is in (zerospice streams to it), with no usbredir channel
for _ in $(seq 1 60); do
	grep -q "streaming " "$TMP/zerospice.log" && break
	sleep 0.5
done
grep -q "streaming " "$TMP/zerospice.log" || fail "remote-viewer did not connect"
sleep 2
grep -q "usbredir.*offered" "$TMP/zerospice.log" && fail "a usbredir chardev before the hot-plug"
$QMP "$TMP/qmp-test.sock" chardev-add '{"id": "usbredir9", "backend": {"type": "dbus", "data": {"name": "org.qemu.usbredir"}}}' >/dev/null ||
	fail "QMP chardev-add failed"
$QMP "$TMP/qmp-test.sock" device_add '{"driver": "usb-redir", "chardev": "usbredir9", "id": "redir9"}' >/dev/null ||
	fail "QMP device_add usb-redir failed"
for _ in $(seq 1 100); do
	grep -q "usbredir usbredir9: offered" "$TMP/zerospice.log" && break
	sleep 0.1
done
grep -q "usbredir usbredir9: offered" "$TMP/zerospice.log" ||
	fail "zerospice did not offer the hot-plugged chardev: $(grep -i chardev "$TMP/zerospice.log" | tail -n 3)"
wait_usb "480 Mb/s" ||
	fail "the live client did not redirect its CD on the late channel: $(usb_info)"
log "client connected before the chardev: $(usb_info)"
zerospice_alive || fail "zerospice died"
kill "$RV_PID"
wait "$RV_PID" 2>/dev/null
stop_zerospice
cp "$TMP/zerospice.log" "$TMP/zerospice-hotplug.log"
kill "$QEMU_PID"
wait "$QEMU_PID" 2>/dev/null

# The same under --reconnect: the client stays while its QEMU (no usbredir)
# is replaced by one with a usbredir chardev on the same QMP socket.
qemu_on() { # QMP socket, extra options...
	local sock=$1
	shift
	rm -f "$sock" "$TMP/qmp-test.sock"
	"$QEMU" -machine pc,accel=tcg -m 64 -nodefaults -device VGA \
		-display dbus,p2p=yes -device qemu-xhci "$@" \
		-qmp "unix:$sock,server=on,wait=off" \
		-qmp "unix:$TMP/qmp-test.sock,server=on,wait=off" \
		>>"$TMP/qemu3.log" 2>&1 &
	QEMU_PID=$!
	EXTRA_PIDS="$EXTRA_PIDS $QEMU_PID"
	for _ in $(seq 1 50); do [ -S "$sock" ] && break; sleep 0.1; done
}
qemu_on "$TMP/qmp3.sock"
start_zerospice --insecure-no-auth --reconnect --source "qemu,qmp=$TMP/qmp3.sock"
viewer remote-viewer-reconnect
for _ in $(seq 1 60); do
	grep -q "streaming " "$TMP/zerospice.log" && break
	sleep 0.5
done
grep -q "streaming " "$TMP/zerospice.log" || fail "remote-viewer did not connect (reconnect case)"
sleep 2
kill "$QEMU_PID"
wait "$QEMU_PID" 2>/dev/null
for _ in $(seq 1 60); do
	grep -q "waiting for a new QEMU" "$TMP/zerospice.log" && break
	sleep 0.25
done
grep -q "waiting for a new QEMU" "$TMP/zerospice.log" || fail "zerospice does not wait for a new QEMU"
qemu_on "$TMP/qmp3.sock" -chardev dbus,id=usbredir7,name=org.qemu.usbredir \
	-device usb-redir,chardev=usbredir7,id=redir7
for _ in $(seq 1 200); do
	grep -q "usbredir usbredir7: offered" "$TMP/zerospice.log" && break
	sleep 0.1
done
grep -q "usbredir usbredir7: offered" "$TMP/zerospice.log" ||
	fail "zerospice did not offer the new QEMU's chardev: $(tail -n 3 "$TMP/zerospice.log")"
kill -0 "$RV_PID" || fail "remote-viewer left when QEMU was replaced"
wait_usb "480 Mb/s" ||
	fail "the client that stayed did not redirect its CD to the new QEMU: $(usb_info)"
log "client kept across --reconnect: $(usb_info)"
zerospice_alive || fail "zerospice died"
grep -E "runtime error|AddressSanitizer" "$TMP/zerospice.log" "$TMP/zerospice-first.log" \
	"$TMP/zerospice-hotplug.log" && fail "sanitizer report"
log "PASS"
