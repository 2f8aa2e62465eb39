#!/bin/bash
# libvirt's model with a real VM: QEMU (TCG, VGA) on a private per-VM bus
# (-display dbus,addr=), zerospice given only --dbus-address (the QEMU
# source and the control API both on that bus, as libvirt starts its display
# helpers): the VM's picture reaches spicy-screenshot, the control API says
# source qemu at the VM's size, and when QEMU goes away zerospice emits
# Leaving("source ended: …") on the bus and exits 1.
. "$(dirname "$0")/lib.sh"
QEMU=${ZS_QEMU:-qemu-system-x86_64}
need "$QEMU" spicy-screenshot dbus-monitor
start_bus
dbus-monitor --address "$BUS" "type='signal',interface='org.zerospice.Server1'" \
	>"$TMP/dbus-monitor.txt" 2>&1 &
EXTRA_PIDS="$EXTRA_PIDS $!"

"$QEMU" -machine pc,accel=tcg -m 64 -nodefaults -device VGA \
	-display "dbus,addr=${BUS//,/,,}" -boot menu=on,splash-time=60000 \
	>"$TMP/qemu.log" 2>&1 &
QEMU_PID=$!
EXTRA_PIDS="$EXTRA_PIDS $QEMU_PID"

start_zerospice --dbus-address "$BUS"
sleep 3
zerospice_alive || fail "zerospice exited: $(tail -n 3 "$TMP/zerospice.log")"
# a QEMU source starts locked (the VM's keyboard): the broker sets the ticket
screenshot "$TMP/locked.ppm" && fail "a client got the VM before any ticket"
"$ZEROSPICE_CTL" --dbus-address "$BUS" set-ticket vmticket --expiry +600 ||
	fail "SetTicket on the VM's bus"
rm -f "$TMP/vm.ppm"
timeout 30 spicy-screenshot -h 127.0.0.1 -p "$ZS_PORT" -w vmticket -o "$TMP/vm.ppm" \
	>>"$TMP/spicy.log" 2>&1 || fail "no picture of the VM through --dbus-address"
size=$(ppm_size "$TMP/vm.ppm")
log "VM picture $size"
"$ZEROSPICE_CTL" --dbus-address "$BUS" status >"$TMP/status" || fail "control API not on the VM's bus"
grep -q "^source: qemu" "$TMP/status" || fail "status: $(cat "$TMP/status")"
grep -q "^size: ${size/ /x}$" "$TMP/status" || fail "Size property $(grep size "$TMP/status") vs picture $size"

kill "$QEMU_PID"; wait "$QEMU_PID" 2>/dev/null
wait "$ZS_PID"; rc=$?; ZS_PID=
[ "$rc" = 1 ] || fail "exit status $rc when QEMU went away (expected 1)"
grep -q "source ended" "$TMP/zerospice.log" || fail "no reason on stderr"
wait_for 50 grep -q "member=Leaving" "$TMP/dbus-monitor.txt" || fail "no Leaving on the bus: $(cat "$TMP/dbus-monitor.txt")"
grep -A1 "member=Leaving" "$TMP/dbus-monitor.txt" | grep -q "source ended" ||
	fail "Leaving without the reason: $(cat "$TMP/dbus-monitor.txt")"
log "QEMU gone: Leaving($(grep -A1 member=Leaving "$TMP/dbus-monitor.txt" | tail -n 1 | sed 's/^ *string //')) then exit 1"
log "PASS"
