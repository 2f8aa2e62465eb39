#!/bin/bash
# Who may stand in for QEMU, and who may connect:
#  1. --source qemu without --ticket-file or --insecure-no-auth is refused;
#  2. the --listen unix socket is 0600 (or --socket-mode) from the start;
#  3. a QMP socket owned by another uid (a fake QMP run as nobody) is
#     refused with the uid in the message, and accepted with --qemu-uid;
#  4. a QMP peer that accepts and never greets: zerospice gives up after
#     the bound, saying why, and its loop answers SIGTERM meanwhile.
. "$(dirname "$0")/../integration/lib.sh"
need python3

# A fake QMP server: MODE silent (accept, say nothing) or greet (greeting,
# then silence).
fake_qmp() {
	python3 - "$1" "$2" <<'PY' &
import os, socket, sys, time
path, mode = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX)
s.bind(path)
s.listen(8)
conns = []
while True:
    c, _ = s.accept()
    conns.append(c)
    if mode == "greet":
        try:
            c.sendall(b'{"QMP": {"version": {}, "capabilities": []}}\r\n')
        except OSError:
            pass
PY
	FAKE_PID=$!
	EXTRA_PIDS="$EXTRA_PIDS $FAKE_PID"
	for _ in $(seq 1 50); do
		[ -S "$1" ] && return 0
		sleep 0.1
	done
	fail "the fake QMP server did not start"
}

# 1. a VM source needs a password
out=$("$ZEROSPICE" --source "qemu,qmp=$TMP/none.sock" 2>&1); rc=$?
log "no ticket: exit $rc: $out"
[ "$rc" -eq 2 ] || fail "--source qemu without a ticket: exit $rc, not 2"
echo "$out" | grep -q -- "--ticket-file" || fail "the refusal does not name --ticket-file"

# 2. unix socket modes
for mode in default 0660; do
	args=(--listen "unix:$TMP/zs-$mode.sock")
	[ "$mode" = default ] || args+=(--socket-mode "$mode")
	: >"$TMP/unix.out" # not the previous mode's banner
	"$ZEROSPICE" "${args[@]}" >"$TMP/unix.out" 2>"$TMP/unix-$mode.log" &
	pid=$!
	EXTRA_PIDS="$EXTRA_PIDS $pid"
	# the socket exists before the signal handlers: wait for the banner
	for _ in $(seq 1 100); do
		grep -q "listening on" "$TMP/unix.out" && break
		sleep 0.1
	done
	got=$(stat -c %a "$TMP/zs-$mode.sock")
	want=${mode#0}; [ "$mode" = default ] && want=600
	log "--listen unix with socket mode $mode: $got"
	[ "$got" = "$want" ] || fail "socket mode $got, want $want"
	kill -TERM "$pid"; wait "$pid"; rc=$?
	[ "$rc" -eq 0 ] || fail "zerospice exited $rc after SIGTERM"
done

# 3. a QMP socket owned by another uid
if [ "$(id -u)" -eq 0 ] && command -v setpriv >/dev/null; then
	chmod 0711 "$TMP" # nobody must reach its directory
	mkdir -m 0777 "$TMP/nobody"
	FAKE_UID=$(id -u nobody)
	setpriv --reuid="$FAKE_UID" --regid="$(id -g nobody)" --clear-groups \
		/usr/bin/python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); s.listen(8)
conns = []
while True:
    c, _ = s.accept()
    conns.append(c)
    try:
        c.sendall(b"{\"QMP\": {\"version\": {}, \"capabilities\": []}}\r\n")
    except OSError:
        pass
' "$TMP/nobody/qmp.sock" &
	FAKE_PID=$!
	EXTRA_PIDS="$EXTRA_PIDS $FAKE_PID"
	for _ in $(seq 1 50); do [ -S "$TMP/nobody/qmp.sock" ] && break; sleep 0.1; done
	start_zerospice --insecure-no-auth --source "qemu,qmp=$TMP/nobody/qmp.sock"
	wait "$ZS_PID"; rc=$?; ZS_PID=
	msg=$(grep -F "source ended" "$TMP/zerospice.log")
	log "QMP socket of uid $FAKE_UID: exit $rc: $msg"
	[ "$rc" -eq 1 ] || fail "a QMP peer of another uid: exit $rc, not 1"
	echo "$msg" | grep -q "uid $FAKE_UID" || fail "the refusal does not give the uid"
	# allowed on purpose: it gets as far as the QMP exchange
	start_zerospice --insecure-no-auth --qemu-uid "$FAKE_UID" \
		--source "qemu,qmp=$TMP/nobody/qmp.sock"
	wait "$ZS_PID"; rc=$?; ZS_PID=
	msg=$(grep -F "source ended" "$TMP/zerospice.log")
	log "with --qemu-uid $FAKE_UID: exit $rc: $msg"
	echo "$msg" | grep -q "uid $FAKE_UID" && fail "--qemu-uid did not allow uid $FAKE_UID"
	echo "$msg" | grep -q "no answer in time" || fail "unexpected end: $msg"
else
	log "not root or no setpriv: the other-uid case is covered by tests/qemu/test_qemu_qmp.c only"
fi

# 3b. org.qemu on a bus, owned by another uid
if [ "$(id -u)" -eq 0 ] && command -v setpriv >/dev/null &&
   command -v dbus-daemon >/dev/null; then
	cat >"$TMP/bus.conf" <<CONF
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path=$TMP/nobody/bus</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
CONF
	dbus-daemon --config-file="$TMP/bus.conf" --nofork --nopidfile \
		>>"$TMP/bus.log" 2>&1 &
	EXTRA_PIDS="$EXTRA_PIDS $!"
	for _ in $(seq 1 50); do [ -S "$TMP/nobody/bus" ] && break; sleep 0.1; done
	chmod 0666 "$TMP/nobody/bus"
	setpriv --reuid="$FAKE_UID" --regid="$(id -g nobody)" --clear-groups \
		/usr/bin/python3 -c '
import sys
from gi.repository import Gio, GLib
c = Gio.DBusConnection.new_for_address_sync(sys.argv[1],
    Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT |
    Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION, None, None)
c.call_sync("org.freedesktop.DBus", "/org/freedesktop/DBus",
    "org.freedesktop.DBus", "RequestName", GLib.Variant("(su)", ("org.qemu", 4)),
    None, 0, -1, None)
open(sys.argv[2], "w").close()
GLib.MainLoop().run()
' "unix:path=$TMP/nobody/bus" "$TMP/nobody/owned" >>"$TMP/bus.log" 2>&1 &
	EXTRA_PIDS="$EXTRA_PIDS $!"
	for _ in $(seq 1 50); do [ -e "$TMP/nobody/owned" ] && break; sleep 0.1; done
	[ -e "$TMP/nobody/owned" ] || fail "nobody could not take org.qemu: $(tail -n 3 "$TMP/bus.log")"
	start_zerospice --insecure-no-auth --source "qemu,bus=unix:path=$TMP/nobody/bus"
	wait "$ZS_PID"; rc=$?; ZS_PID=
	msg=$(grep -F "source ended" "$TMP/zerospice.log")
	log "org.qemu owned by uid $FAKE_UID: exit $rc: $msg"
	[ "$rc" -eq 1 ] || fail "org.qemu of another uid: exit $rc, not 1"
	echo "$msg" | grep -q "owned by uid $FAKE_UID" || fail "the refusal does not give the uid"
	start_zerospice --insecure-no-auth --qemu-uid "$FAKE_UID" \
		--source "qemu,bus=unix:path=$TMP/nobody/bus"
	wait "$ZS_PID"; rc=$?; ZS_PID=
	msg=$(grep -F "source ended" "$TMP/zerospice.log")
	log "with --qemu-uid $FAKE_UID: exit $rc: $msg"
	echo "$msg" | grep -q "owned by uid" && fail "--qemu-uid did not allow org.qemu's owner"
else
	log "not root, no setpriv or no dbus-daemon: the bus owner case is not run"
fi

# 4. a peer that accepts and never greets
fake_qmp "$TMP/silent.sock" silent
t0=$(date +%s%N)
start_zerospice --insecure-no-auth --source "qemu,qmp=$TMP/silent.sock"
sleep 1
# the loop is free: SIGTERM is handled at once, in the middle of the wait
t1=$(date +%s%N)
kill -TERM "$ZS_PID"; wait "$ZS_PID"; rc=$?; ZS_PID=
ms=$(( ($(date +%s%N) - t1) / 1000000 ))
log "silent QMP peer: SIGTERM during the exchange handled in $ms ms (exit $rc)"
[ "$rc" -eq 0 ] || fail "exit $rc after SIGTERM"
[ "$ms" -lt 3000 ] || fail "SIGTERM took $ms ms: the loop was blocked"
start_zerospice --insecure-no-auth --source "qemu,qmp=$TMP/silent.sock"
t0=$(date +%s%N)
wait "$ZS_PID"; rc=$?; ZS_PID=
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
msg=$(grep -F "source ended" "$TMP/zerospice.log")
log "silent QMP peer: exit $rc after $ms ms: $msg"
[ "$rc" -eq 1 ] || fail "a silent QMP peer: exit $rc, not 1"
echo "$msg" | grep -q "no greeting" || fail "the reason does not say no greeting: $msg"
log "PASS"
