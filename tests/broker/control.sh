#!/bin/bash
# The control API (org.zerospice.Server1) through zerospice-ctl on the
# --control socket and through gdbus on a private dbus-daemon: every method,
# bad arguments answered with a clear D-Bus error while the session goes on,
# an expired ticket refused while a connected client keeps its picture,
# AddClient from a proxy over a socketpair, and Leaving before exit.
. "$(dirname "$0")/lib.sh"
need python3 spicy-screenshot
BENCH="$(dirname "$ZEROSPICE")/../tools/zerospice-bench/zerospice-bench"
[ -x "$BENCH" ] || skip "zerospice-bench was not built (no spice-client-glib)"

start_zerospice --source testpattern,size=800x600,fps=30 --control "unix:$CONTROL"
wait_for 50 test -S "$CONTROL" || fail "no control socket"
[ "$(stat -c %a "$CONTROL")" = 600 ] || fail "control socket mode $(stat -c %a "$CONTROL")"
ctl status >"$TMP/status" || fail "status failed"
grep -q "^source: testpattern" "$TMP/status" || fail "status: $(cat "$TMP/status")"
grep -q "^size: 800x600" "$TMP/status" || fail "status size: $(cat "$TMP/status")"
grep -q "^ticket: none" "$TMP/status" || fail "status ticket: $(cat "$TMP/status")"

# ---- bad arguments: a clear error, the session goes on ----
expect_ctl_error "InvalidArgs" set-ticket abc --expiry bogus
expect_ctl_error "1..60 bytes" set-ticket "$(printf 'x%.0s' $(seq 1 61))"
expect_ctl_error "InvalidArgs" bitrate 0
expect_ctl_error "NotSupported" reload-certs
expect_ctl_error "is not http" vv --proxy ftp://proxy
expect_ctl_error "ticket-lifetime" vv --fresh-ticket --lifetime 0
echo notasocket >"$TMP/plain.txt"
expect_ctl_error "not a connected stream socket" add-client --fd 5 5<"$TMP/plain.txt"
ctl frobnicate 2>/dev/null; [ $? = 2 ] || fail "unknown command did not exit 2"
zerospice_alive || fail "zerospice died on bad arguments"
screenshot "$TMP/after-bad.ppm" || fail "no picture after bad arguments"
log "bad arguments: refused with clear errors, session kept"

# ---- methods that work ----
ctl keyframe || fail "RequestKeyframe"
ctl bitrate 2500 || fail "SetBitrate"
grep -q "control: bitrate 2500" "$TMP/zerospice.log" || fail "bitrate not applied"
screenshot "$TMP/after-bitrate.ppm" || fail "no picture after SetBitrate"
grep -q "encoder: gst:.* @ 2500 kbps\|@ 2500 kbps" "$TMP/zerospice.log" ||
	fail "the encoder did not restart at 2500 kbps: $(grep 'encoder:' "$TMP/zerospice.log")"

# ---- tickets ----
ctl set-ticket s3cret --expiry never || fail "SetTicket"
ctl status | grep -q "^ticket: set" || fail "TicketState not set"
screenshot_pw "$TMP/wrong.ppm" wrong && fail "a wrong ticket got in"
screenshot_pw "$TMP/right.ppm" s3cret || fail "the right ticket was refused"
printf 's3cret\n' >"$TMP/ticket"

# a client stays connected across ExpireTicket and keeps its picture
ctl monitor >"$TMP/monitor.txt" 2>&1 &
MON_PID=$!
EXTRA_PIDS="$MON_PID"
"$BENCH" --connect "spice://127.0.0.1:$ZS_PORT" --ticket-file "$TMP/ticket" \
	--duration 30 --warmup 1 --json "$TMP/bench.json" >"$TMP/bench.log" 2>&1 &
BENCH_PID=$!
EXTRA_PIDS="$MON_PID $BENCH_PID"
wait_for 300 sh -c "'$ZEROSPICE_CTL' --control 'unix:$CONTROL' status | grep -Eq ', ([3-9]|[1-9][0-9]) channels'" ||
	fail "the client never showed in Clients with its channels: $(ctl status)"
ctl status >"$TMP/status"
grep -Eq "client [0-9]+: 127.0.0.1:[0-9]+, [0-9]+ channels" "$TMP/status" || fail "client entry: $(cat "$TMP/status")"
channels=$(sed -n 's/.*, \([0-9]*\) channels.*/\1/p' "$TMP/status")
[ "${channels:-0}" -ge 3 ] || fail "only $channels channels counted"
wait_for 30 sh -c "'$ZEROSPICE_CTL' --control 'unix:$CONTROL' status | grep -Eq '^codec: [hvm]'" ||
	fail "Codec property while streaming: $(ctl status | grep codec)"
ctl status | grep -Eq '^encoder: (software|vaapi): ' || fail "Encoder property: $(ctl status | grep encoder)"
ctl status >"$TMP/status"
grep -Eq "^codec: (h264|vp8|vp9|h265|mjpeg)$" "$TMP/status" || fail "Codec property while streaming: $(grep codec "$TMP/status")"
grep -Eq ", (h264|vp8|vp9|h265|mjpeg)$" "$TMP/status" || fail "the client entry has no codec: $(cat "$TMP/status")"
grep -q "'frames-sent': <uint64 [1-9]" "$TMP/status" || fail "Stats: $(grep stats "$TMP/status")"
if "$ZEROSPICE" --help | grep -q -- "--metrics"; then
	# server/stats.c's figures: rates, encode time, the client's bytes
	grep -Eq "'fps-out': <[1-9][0-9.]*>" "$TMP/status" || fail "Stats fps-out: $(grep stats "$TMP/status")"
	grep -Eq "'encode-us-p50': <uint32 [1-9]" "$TMP/status" || fail "Stats encode time: $(grep stats "$TMP/status")"
	grep -Eq "'clients': <\[\{'address': <'127.0.0.1'>, 'connections': <uint32 [1-9][0-9]*>, 'bytes-sent': <uint64 [1-9]" "$TMP/status" ||
		fail "Stats per client: $(grep stats "$TMP/status")"
fi
log "while streaming: $(grep -E '^(codec|encoder)' "$TMP/status" | tr '\n' ' ')"
# RequestKeyframe: the stream has no periodic keyframes, so the count only
# moves when one is asked for
keyframes() { ctl status | sed -n "s/.*'keyframes': <uint64 \([0-9]*\)>.*/\1/p"; }
# (under load a dropped frame forces one too: wait for a quiet moment)
stable=
for _ in $(seq 1 8); do
	k1=$(keyframes); sleep 2.5; k0=$(keyframes)
	[ "$k0" = "$k1" ] && { stable=1; break; }
done
if [ -n "$stable" ]; then
	ctl keyframe || fail "RequestKeyframe while streaming"
	k2=$k1
	for _ in $(seq 1 40); do
		k2=$(keyframes)
		[ "${k2:-0}" -gt "${k1:-0}" ] && break
		sleep 0.1
	done
	[ "${k2:-0}" -gt "${k1:-0}" ] ||
		fail "RequestKeyframe made no keyframe (still $(keyframes), was $k1)"
	log "RequestKeyframe: keyframes $k1 → $k2"
else
	ctl keyframe || fail "RequestKeyframe while streaming"
	log "RequestKeyframe: the machine is too loaded for a quiet moment (frames dropped all along); only the call was checked"
fi
sleep 2
ctl expire || fail "ExpireTicket"
ctl status | grep -q "^ticket: expired" || fail "TicketState not expired"
kill -0 "$BENCH_PID" || fail "the bench ended before the ticket expired"
screenshot_pw "$TMP/expired.ppm" s3cret && fail "an expired ticket got in"
log "expired ticket refused while a client is connected"
wait "$BENCH_PID" || fail "bench failed: $(tail -n 5 "$TMP/bench.log")"
EXTRA_PIDS="$MON_PID"
python3 - "$TMP/bench.json" <<'PY' || fail "the connected client lost its picture after ExpireTicket"
import json, sys
c = json.load(open(sys.argv[1]))["clients"][0]
fps = c["fps_series"]
print("fps per second:", fps)
assert c["connected"] and not c["disconnected"], c
assert len(fps) >= 6 and all(v and v > 5 for v in fps[-3:]), fps
PY
wait_for 50 grep -q "ClientDisconnected" "$TMP/monitor.txt" || fail "no ClientDisconnected: $(cat "$TMP/monitor.txt")"
grep -q "ClientConnected ([0-9]*, '127.0.0.1:" "$TMP/monitor.txt" || fail "no ClientConnected: $(cat "$TMP/monitor.txt")"

# relative and absolute expiry
ctl set-ticket t2 --expiry +3 || fail "SetTicket +3"
screenshot_pw "$TMP/t2.ppm" t2 || fail "a fresh +3 ticket was refused"
sleep 4
screenshot_pw "$TMP/t2b.ppm" t2 && fail "a ticket got in after its +3 s"
ctl set-ticket t3 --expiry 1000 || fail "SetTicket absolute"
ctl status | grep -q "^ticket: expired" || fail "an absolute expiry in the past is not expired"
ctl set-ticket t4 --expiry $(( $(date +%s) + 600 )) || fail "SetTicket absolute future"
screenshot_pw "$TMP/t4.ppm" t4 || fail "an absolute future expiry was refused"
log "expiry: +N and absolute ok"

# ---- DisconnectClients ----
printf 't4\n' >"$TMP/ticket"
"$BENCH" --connect "spice://127.0.0.1:$ZS_PORT" --ticket-file "$TMP/ticket" \
	--duration 6 --warmup 1 --json "$TMP/bench2.json" >"$TMP/bench2.log" 2>&1 &
BENCH_PID=$!
EXTRA_PIDS="$MON_PID $BENCH_PID"
wait_for 300 sh -c "'$ZEROSPICE_CTL' --control 'unix:$CONTROL' status | grep -q '^clients: 1'" ||
	fail "the second client never showed in Clients"
ctl disconnect || fail "DisconnectClients"
wait_for 50 sh -c "'$ZEROSPICE_CTL' --control 'unix:$CONTROL' status | grep -q '^clients: 0'" ||
	fail "the client is still listed after DisconnectClients"
wait "$BENCH_PID"
EXTRA_PIDS="$MON_PID"
grep -q '"disconnected": true' "$TMP/bench2.json" 2>/dev/null ||
	grep -qi "disconnect\|closed" "$TMP/bench2.log" || fail "the bench client was not disconnected: $(tail -n 3 "$TMP/bench2.log")"
screenshot_pw "$TMP/after-disc.ppm" t4 || fail "the ticket stopped working after DisconnectClients"
log "DisconnectClients: ok"

# ---- AddClient: a proxy hands over each connection on a socketpair ----
PROXY_LOG="$TMP/proxy.log"
python3 "$PROXY_PY" "$TMP/proxy.port" 8 40 "$ZEROSPICE_CTL" --control "unix:$CONTROL" \
	-- --skip-auth 2>"$PROXY_LOG" &
PROXY_PID=$!
EXTRA_PIDS="$MON_PID $PROXY_PID"
wait_for 100 test -s "$TMP/proxy.port" || fail "the proxy did not start"
rm -f "$TMP/proxied.ppm"
timeout 30 spicy-screenshot -h 127.0.0.1 -p "$(cat "$TMP/proxy.port")" \
	-o "$TMP/proxied.ppm" >>"$TMP/spicy.log" 2>&1 ||
	fail "no picture through AddClient (skipauth, no password): $(cat "$PROXY_LOG")"
[ "$(ppm_size "$TMP/proxied.ppm")" = "800 600" ] || fail "proxied picture $(ppm_size "$TMP/proxied.ppm")"
grep -q "handed connection" "$PROXY_LOG" || fail "the proxy handed nothing over"
grep -q "control: AddClient (unix socket, without the ticket)" "$TMP/zerospice.log" || fail "AddClient not logged"
kill "$PROXY_PID"; wait "$PROXY_PID" 2>/dev/null
rm -f "$TMP/proxy.port"
# without skipauth the ticket is still needed
python3 "$PROXY_PY" "$TMP/proxy.port" 16 40 "$ZEROSPICE_CTL" --control "unix:$CONTROL" \
	2>"$PROXY_LOG" &
PROXY_PID=$!
EXTRA_PIDS="$MON_PID $PROXY_PID"
wait_for 100 test -s "$TMP/proxy.port" || fail "the proxy did not start"
screenshot_pw "$TMP/proxied2.ppm" wrong "$(cat "$TMP/proxy.port")" && fail "AddClient without skipauth let a wrong ticket in"
screenshot_pw "$TMP/proxied3.ppm" t4 "$(cat "$TMP/proxy.port")" || fail "AddClient without skipauth refused the right ticket"
kill "$PROXY_PID"; wait "$PROXY_PID" 2>/dev/null
EXTRA_PIDS="$MON_PID"
log "AddClient: ok"

# ---- Leaving on the control socket, then exit 0 ----
kill -TERM "$ZS_PID"; wait "$ZS_PID"; rc=$?; ZS_PID=
[ "$rc" = 0 ] || fail "exit $rc after SIGTERM"
wait_for 50 grep -q "^closed" "$TMP/monitor.txt" || true
grep -q "^Leaving ('shutting down on a signal',)" "$TMP/monitor.txt" || fail "no Leaving: $(cat "$TMP/monitor.txt")"
wait "$MON_PID"; EXTRA_PIDS=
[ ! -e "$CONTROL" ] || fail "control socket left behind"
log "Leaving on the control socket: ok"

# ---- a ticket read again on SIGHUP outlives DisconnectClients ----
# (the API once re-applied its own last ticket over the file's)
printf 'api-one\n' >"$TMP/zs-ticket"; chmod 600 "$TMP/zs-ticket"
start_zerospice --source testpattern,size=640x480 --ticket-file "$TMP/zs-ticket" \
	--control "unix:$CONTROL"
ctl set-ticket api-two || fail "SetTicket over a ticket file"
printf 'file-three\n' >"$TMP/zs-ticket"
kill -HUP "$ZS_PID"
wait_for 50 grep -q "SIGHUP: read the ticket file again" "$TMP/zerospice.log" ||
	fail "SIGHUP did not read the ticket file"
ctl disconnect || fail "DisconnectClients after SIGHUP"
screenshot_pw "$TMP/hup1.ppm" file-three || fail "DisconnectClients dropped the ticket SIGHUP read"
screenshot_pw "$TMP/hup2.ppm" api-two && fail "DisconnectClients brought back the API's older ticket"
ctl expire || fail "ExpireTicket"
ctl disconnect || fail "DisconnectClients after ExpireTicket"
screenshot_pw "$TMP/hup3.ppm" file-three && fail "DisconnectClients revived an expired ticket"
stop_zerospice
log "ticket file + SIGHUP + DisconnectClients: ok"

# ---- on a bus: well-known name, gdbus calls, Leaving seen by dbus-monitor ----
if command -v dbus-daemon >/dev/null && command -v gdbus >/dev/null && command -v dbus-monitor >/dev/null; then
	start_bus
	dbus-monitor --address "$BUS" "type='signal',interface='org.zerospice.Server1'" \
		>"$TMP/dbus-monitor.txt" 2>&1 &
	DM_PID=$!
	EXTRA_PIDS="$EXTRA_PIDS $DM_PID"
	sleep 0.5
	# an explicit --source keeps the test pattern; the API goes on the bus
	start_zerospice --source testpattern,size=640x480 --dbus-address "$BUS"
	gcall() { gdbus call --address "$BUS" --dest org.zerospice.Display \
		--object-path /org/zerospice/Server1 --method "org.zerospice.Server1.$1" "${@:2}"; }
	wait_for 50 sh -c "gdbus introspect --address '$BUS' --dest org.zerospice.Display --object-path /org/zerospice/Server1 >'$TMP/introspect' 2>&1" ||
		fail "org.zerospice.Display not on the bus"
	grep -q "interface org.zerospice.Server1" "$TMP/introspect" || fail "introspection: $(head "$TMP/introspect")"
	gcall SetTicket busticket never >/dev/null || fail "SetTicket over the bus"
	out=$(gcall SetTicket x soon 2>&1) && fail "bad expiry accepted over the bus"
	echo "$out" | grep -q "org.freedesktop.DBus.Error.InvalidArgs" || fail "bus error: $out"
	gcall SetBitrate 1500 >/dev/null || fail "SetBitrate over the bus"
	out=$(gcall ConnectionFile "{'bogus': <1>}" 2>&1) && fail "an unknown .vv option was accepted"
	echo "$out" | grep -q "InvalidArgs.*unknown option bogus" || fail "ConnectionFile error: $out"
	out=$(gcall ConnectionFile "{'fresh-ticket': <'yes'>}" 2>&1) && fail "a mistyped .vv option was accepted"
	echo "$out" | grep -q "InvalidArgs" || fail "ConnectionFile type error: $out"
	vv=$(gcall ConnectionFile "{'fresh-ticket': <true>, 'title': <'vm one'>}") || fail "ConnectionFile over the bus"
	echo "$vv" | grep -q "password=" || fail "no fresh ticket in $vv"
	"$ZEROSPICE_CTL" --dbus-address "$BUS" status | grep -q "^size: 640x480" || fail "zerospice-ctl over the bus"
	screenshot_pw "$TMP/bus.ppm" busticket && fail "the replaced ticket still works"
	# one zerospice per name
	timeout 20 "$ZEROSPICE" --listen 127.0.0.1:0 --dbus-address "$BUS" --source testpattern \
		>/dev/null 2>"$TMP/second.err"; rc=$?
	[ "$rc" = 1 ] && grep -q "org.zerospice.Display is taken" "$TMP/second.err" ||
		fail "a second zerospice on the same name: $rc $(cat "$TMP/second.err")"
	# another console of the same VM gets its own name
	"$ZEROSPICE" --listen 127.0.0.1:0 --dbus-address "$BUS" --source testpattern,size=480x272 \
		--console 1 >"$TMP/c1.out" 2>"$TMP/c1.log" &
	C1_PID=$!
	EXTRA_PIDS="$EXTRA_PIDS $C1_PID"
	wait_for 100 sh -c "'$ZEROSPICE_CTL' --dbus-address '$BUS' --control-name org.zerospice.Display.Console1 status 2>/dev/null | grep -q '^size: 480x272'" ||
		fail "no org.zerospice.Display.Console1: $(cat "$TMP/c1.log")"
	kill "$C1_PID"; wait "$C1_PID"
	kill -TERM "$ZS_PID"; wait "$ZS_PID"; rc=$?; ZS_PID=
	[ "$rc" = 0 ] || fail "exit $rc after SIGTERM (bus)"
	wait_for 50 grep -q "Leaving" "$TMP/dbus-monitor.txt" || fail "dbus-monitor saw no Leaving: $(cat "$TMP/dbus-monitor.txt")"
	grep -A1 "member=Leaving" "$TMP/dbus-monitor.txt" | grep -q "shutting down on a signal" || fail "Leaving reason: $(cat "$TMP/dbus-monitor.txt")"

	# QEMU gone without --reconnect: Leaving with the reason, exit 1
	start_zerospice --source "qemu,qmp=$TMP/no-qemu.qmp" --dbus-address "$BUS"
	wait "$ZS_PID"; rc=$?; ZS_PID=
	[ "$rc" = 1 ] || fail "exit $rc when QEMU never came"
	wait_for 50 grep -q "source ended" "$TMP/dbus-monitor.txt" || fail "no Leaving with the source's reason: $(cat "$TMP/dbus-monitor.txt")"
	log "bus: name, calls, errors, Leaving ok"
else
	log "dbus-daemon, gdbus or dbus-monitor missing: bus part not run"
fi
# ---- a public address with a control API: nobody gets in before SetTicket ----
rm -f "$CONTROL"
: >"$TMP/zerospice.out" # not an earlier zerospice's banner
"$ZEROSPICE" --listen 0.0.0.0:0 --control "unix:$CONTROL" >"$TMP/zerospice.out" 2>"$TMP/zerospice.log" &
ZS_PID=$!
wait_for 100 grep -q "listening on 0.0.0.0:" "$TMP/zerospice.out" || fail "no public listener: $(cat "$TMP/zerospice.log")"
ZS_PORT=$(sed -n 's/.*listening on 0\.0\.0\.0:\([0-9]*\).*/\1/p' "$TMP/zerospice.out")
wait_for 50 test -S "$CONTROL" || fail "no control socket"
ctl status | grep -q "^ticket: expired" || fail "a public listener did not start locked: $(ctl status | grep ticket)"
rm -f "$TMP/open.ppm"
timeout 30 spicy-screenshot -h 127.0.0.1 -p "$ZS_PORT" -o "$TMP/open.ppm" >>"$TMP/spicy.log" 2>&1 &&
	fail "a public listener let a client in before SetTicket"
ctl set-ticket pub --expiry +60 || fail "SetTicket on the public listener"
screenshot_pw "$TMP/pub.ppm" pub || fail "the ticket did not open the public listener"
kill "$ZS_PID"; wait "$ZS_PID"; ZS_PID=
log "public listener: locked until SetTicket"
log "PASS"
