#!/bin/bash
# The clipboard without a guest agent behind zerospice: QEMU's own clipboard
# (org.qemu.Display1.Clipboard) bridged by zerospice to the SPICE agent
# clipboard of remote-viewer (under Xvfb, driven with xclip), read back
# through QEMU's other clipboard peer, its VNC server (vnc_clipboard.py), with
# no guest at all: small text, 1 MiB and 4 MiB from the client, and a client
# that vanishes while QEMU waits for its text (QEMU gets an error; the next
# client's copy works). The other direction needs a peer that grabs with a
# serial (QEMU forwards no other grab to D-Bus; its VNC server has none):
# qemu-agent.sh covers it with a guest agent behind qemu-vdagent.
. "$(dirname "$0")/lib.sh"
QEMU=${ZS_QEMU:-qemu-system-x86_64}
need "$QEMU" remote-viewer Xvfb xclip python3
QMP="/usr/bin/python3 $(dirname "$0")/qmp.py"
VNC="/usr/bin/python3 $(dirname "$0")/vnc_clipboard.py $TMP/vnc.sock"

"$QEMU" -machine pc,accel=tcg -m 64 -nodefaults -device VGA \
	-display dbus,p2p=yes -vnc "unix:$TMP/vnc.sock" \
	-chardev qemu-vdagent,id=vdagent0,name=vdagent,clipboard=on \
	-device virtio-serial \
	-device virtserialport,chardev=vdagent0,name=com.redhat.spice.0 \
	-qmp "unix:$TMP/qmp.sock,server=on,wait=off" \
	>"$TMP/qemu.log" 2>&1 &
QEMU_PID=$!
EXTRA_PIDS="$QEMU_PID"

start_zerospice --source "qemu,qmp=$TMP/qmp.sock"
for _ in $(seq 1 100); do
	grep -q "QEMU clipboard: registered" "$TMP/zerospice.log" && break
	sleep 0.1
done
grep -q "QEMU clipboard: registered" "$TMP/zerospice.log" ||
	fail "zerospice did not register with QEMU's clipboard"

start_xvfb
viewer() {
	SPICE_DEBUG=1 DISABLE_GSTVIDEOOVERLAY=1 remote-viewer \
		"spice://127.0.0.1:$ZS_PORT" >"$TMP/$1.log" 2>&1 &
	RV_PID=$!
	EXTRA_PIDS="$EXTRA_PIDS $RV_PID"
	# the agent answers spice-gtk's capability request once it is up
	for _ in $(seq 1 100); do
		grep -q "main_agent_handle_msg.*ANNOUNCE_CAPABILITIES\|agent caps" \
			"$TMP/$1.log" 2>/dev/null && break
		sleep 0.2
	done
	sleep 1
}

# client_to_qemu FILE: the client copies FILE, the VNC peer must read it
client_to_qemu() {
	rm -f "$TMP/vnc-out"
	$VNC get "$TMP/vnc-out" 30 >"$TMP/vnc-get.log" 2>&1 &
	local vnc=$!
	for _ in $(seq 1 50); do grep -q ready "$TMP/vnc-get.log" && break; sleep 0.1; done
	xclip -selection clipboard -i "$1"
	wait "$vnc" || fail "the VNC peer got no text from QEMU: $(cat "$TMP/vnc-get.log")"
	cmp -s "$1" "$TMP/vnc-out" ||
		fail "QEMU has other text than the client copied ($(wc -c <"$TMP/vnc-out") bytes of $(wc -c <"$1"))"
}

viewer remote-viewer-1
printf 'zerospice: text from the client, ü€' >"$TMP/small-1"
client_to_qemu "$TMP/small-1"
log "client → QEMU: $(cat "$TMP/vnc-out")"

# 1 MiB and 4 MiB
awk 'BEGIN { for (i = 0; i < 120000; i++) printf "line %06d of the zerospice clipboard\n", i }' >"$TMP/lines"
for size in 1048576 4194304; do
	head -c $size "$TMP/lines" >"$TMP/big"
	client_to_qemu "$TMP/big"
	log "client → QEMU: $(wc -c <"$TMP/vnc-out") bytes, identical"
done

# the client vanishes while QEMU waits for its text: the VNC peer asks for
# the client's clipboard, remote-viewer is stopped before it can answer
printf 'zerospice: never delivered' >"$TMP/lost"
rm -f "$TMP/vnc-out"
$VNC get "$TMP/vnc-out" 15 >"$TMP/vnc-get.log" 2>&1 &
vnc=$!
for _ in $(seq 1 50); do grep -q ready "$TMP/vnc-get.log" && break; sleep 0.1; done
xclip -selection clipboard -i "$TMP/lost"
kill -STOP "$RV_PID"
sleep 1
kill -KILL "$RV_PID"
wait "$vnc" 2>/dev/null
wait "$RV_PID" 2>/dev/null
zerospice_alive || fail "zerospice died when the client vanished"
log "client vanished mid-transfer: VNC peer got $( [ -s "$TMP/vnc-out" ] && echo text || echo nothing)"

# a new client: the clipboard works again
viewer remote-viewer-2
printf 'zerospice: after the lost transfer' >"$TMP/small-3"
client_to_qemu "$TMP/small-3"
log "second client → QEMU: $(cat "$TMP/vnc-out")"
zerospice_alive || fail "zerospice died"
grep -E "runtime error|AddressSanitizer" "$TMP/zerospice.log" && fail "sanitizer report"
log "PASS"
