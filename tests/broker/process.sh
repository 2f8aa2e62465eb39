#!/bin/bash
# The process contract a broker or service manager relies on: pidfile,
# --ready-fd, sd_notify with a fake NOTIFY_SOCKET, socket activation,
# --print-capabilities as JSON, --log-format json, --config precedence,
# --dbus-address as the qemu source, and the man page listing every option.
. "$(dirname "$0")/lib.sh"
need python3 spicy-screenshot

# ---- --print-capabilities: JSON with what this build can do ----
"$ZEROSPICE" --print-capabilities >"$TMP/caps.json" 2>"$TMP/caps.log" ||
	fail "--print-capabilities exited non-zero"
python3 - "$TMP/caps.json" <<'PY' || fail "capabilities: $(cat "$TMP/caps.json")"
import json, sys
caps = json.load(open(sys.argv[1]))
assert "dbus-address" in caps["features"], caps["features"]
assert caps["control_api"]["interface"] == "org.zerospice.Server1"
assert caps["control_api"]["version"] >= 1
assert set(caps["sources"]) == {"testpattern", "qemu"}
assert isinstance(caps["vaapi"], bool)
assert "software" in caps["encoders"] and "vaapi" in caps["encoders"]
for codec in caps["codecs"]:
    assert codec in ("h264", "vp8", "vp9", "h265", "mjpeg"), codec
    assert codec in caps["encoders"]["software"] or codec in caps["encoders"]["vaapi"]
print("capabilities:", caps["codecs"], "vaapi", caps["vaapi"])
PY

# ---- the man page lists every option of --help ----
[ -f "$MANPAGE" ] || fail "no man page at $MANPAGE"
sed 's/\\-/-/g' "$MANPAGE" >"$TMP/man.txt"
"$ZEROSPICE" --help | grep -o -- '--[a-z0-9-]*' | sort -u >"$TMP/opts"
[ "$(wc -l <"$TMP/opts")" -ge 20 ] || fail "--help lists only $(wc -l <"$TMP/opts") options"
while read -r opt; do
	grep -Eq -- "^\.BR? $opt( |\$)" "$TMP/man.txt" ||
		fail "docs/zerospice.1 has no entry for $opt"
done <"$TMP/opts"
log "man page covers $(wc -l <"$TMP/opts") options"

# ---- --dbus-address is the qemu source on that bus ----
out=$("$ZEROSPICE" --dbus-address 'unix:path=/nonexistent/bus' \
	--source qemu,bus=unix:path=/other 2>&1); rc=$?
[ "$rc" = 2 ] && echo "$out" | grep -q "two buses" || fail "two buses accepted: $rc $out"
out=$("$ZEROSPICE" --dbus-address 'not an address' 2>&1); rc=$?
[ "$rc" = 2 ] && echo "$out" | grep -q "not a D-Bus address" || fail "bad --dbus-address: $rc $out"

# ---- pidfile: written, exclusive, removed at exit ----
start_zerospice --pidfile "$TMP/zs.pid"
wait_for 30 test -s "$TMP/zs.pid" || fail "no pidfile"
[ "$(cat "$TMP/zs.pid")" = "$ZS_PID" ] || fail "pidfile holds $(cat "$TMP/zs.pid"), not $ZS_PID"
timeout 20 "$ZEROSPICE" --listen 127.0.0.1:0 --pidfile "$TMP/zs.pid" >/dev/null 2>"$TMP/second.err"
rc=$?
[ "$rc" = 1 ] || fail "a second zerospice on the same pidfile exited $rc"
grep -q "held by running process $ZS_PID" "$TMP/second.err" || fail "second pidfile error: $(cat "$TMP/second.err")"
[ "$(cat "$TMP/zs.pid")" = "$ZS_PID" ] || fail "the refused second process touched the pidfile"
kill -TERM "$ZS_PID"; wait "$ZS_PID"; rc=$?; ZS_PID=
[ "$rc" = 0 ] || fail "exit $rc after SIGTERM"
[ ! -e "$TMP/zs.pid" ] || fail "pidfile left behind"
log "pidfile: ok"

# ---- --ready-fd: READY=1 once listening ----
rm -f "$TMP/ready.fifo"; mkfifo "$TMP/ready.fifo"
"$ZEROSPICE" --listen 127.0.0.1:0 --ready-fd 7 7>"$TMP/ready.fifo" \
	>"$TMP/zerospice.out" 2>"$TMP/zerospice.log" &
ZS_PID=$!
ready=$(timeout 20 cat "$TMP/ready.fifo") || fail "no readiness on --ready-fd"
[ "$ready" = "READY=1" ] || fail "--ready-fd said '$ready'"
grep -q "listening on 127.0.0.1:" "$TMP/zerospice.out" || fail "ready before listening"
kill "$ZS_PID"; wait "$ZS_PID"; ZS_PID=
# a failed start closes the fd without READY=1
rm -f "$TMP/ready.fifo"; mkfifo "$TMP/ready.fifo"
"$ZEROSPICE" --listen 127.0.0.1:0 --ticket-file "$TMP/missing" --ready-fd 7 \
	7>"$TMP/ready.fifo" >/dev/null 2>"$TMP/failed.log" &
FAILED_PID=$!
ready=$(timeout 20 cat "$TMP/ready.fifo"); rc=$?
[ "$rc" = 0 ] && [ -z "$ready" ] || fail "a failed start said '$ready' on --ready-fd (rc $rc)"
wait "$FAILED_PID"; [ $? = 1 ] || fail "a failed start did not exit 1"
out=$("$ZEROSPICE" --ready-fd 99 2>&1); rc=$?
[ "$rc" = 2 ] && echo "$out" | grep -q "not an open file descriptor" || fail "--ready-fd 99: $rc $out"
log "ready fd: ok"

# ---- sd_notify: READY=1 and STATUS= on a fake NOTIFY_SOCKET ----
python3 - "$TMP/notify.sock" "$TMP/notify.txt" <<'PY' &
import socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
s.settimeout(30)
with open(sys.argv[2], "w") as out:
    while True:
        try:
            msg = s.recv(4096).decode()
        except socket.timeout:
            break
        out.write(msg.replace("\n", "|") + "\n")
        out.flush()
        if "STOPPING=1" in msg:
            break
PY
NOTIFY_PID=$!
EXTRA_PIDS="$NOTIFY_PID"
wait_for 50 test -S "$TMP/notify.sock" || fail "fake notify socket did not appear"
NOTIFY_SOCKET="$TMP/notify.sock" start_zerospice
wait_for 100 grep -q "READY=1" "$TMP/notify.txt" || fail "no READY=1 on NOTIFY_SOCKET"
grep -q "STATUS=serving on 127.0.0.1:$ZS_PORT" "$TMP/notify.txt" || fail "STATUS: $(cat "$TMP/notify.txt")"
kill "$ZS_PID"; wait "$ZS_PID"; ZS_PID=
wait "$NOTIFY_PID"
grep -q "STOPPING=1" "$TMP/notify.txt" || fail "no STOPPING=1: $(cat "$TMP/notify.txt")"
log "sd_notify: $(tr '\n' ' ' <"$TMP/notify.txt")"

# ---- socket activation: a listening socket passed as fd 3 ----
cat >"$TMP/activate.py" <<'PY'
import os, socket, sys
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(16)
print(s.getsockname()[1], flush=True)
if s.fileno() != 3:
    os.dup2(s.fileno(), 3)
os.set_inheritable(3, True)
# exec keeps the pid: LISTEN_PID is zerospice's
os.environ["LISTEN_PID"] = str(os.getpid())
os.environ["LISTEN_FDS"] = "1"
os.environ["LISTEN_FDNAMES"] = "spice"
os.execv(sys.argv[1], sys.argv[1:])
PY
: >"$TMP/zerospice.out" # the banner read below must be this zerospice's
python3 "$TMP/activate.py" "$ZEROSPICE" --listen 127.0.0.1:1 \
	>"$TMP/zerospice.out" 2>"$TMP/zerospice.log" &
ZS_PID=$!
wait_for 100 grep -q "listening on" "$TMP/zerospice.out" || fail "activated zerospice did not start"
ZS_PORT=$(head -n 1 "$TMP/zerospice.out")
grep -q "listening on 127.0.0.1:$ZS_PORT" "$TMP/zerospice.out" ||
	fail "not serving on the passed socket: $(cat "$TMP/zerospice.out")"
screenshot "$TMP/activated.ppm" || fail "no picture through the activated socket"
[ "$(ppm_size "$TMP/activated.ppm")" = "1280 720" ] || fail "activated picture size $(ppm_size "$TMP/activated.ppm")"
kill "$ZS_PID"; wait "$ZS_PID"; ZS_PID=
# two sockets named spice and tls: TLS served on the second
if command -v openssl >/dev/null; then
	make_test_ca "$TMP/pki" zerospice-activation
	cat >"$TMP/activate2.py" <<'PY'
import os, socket, sys
socks = []
for fd in (3, 4):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(16)
    os.dup2(s.fileno(), fd)
    os.set_inheritable(fd, True)
    socks.append(s)
print(socks[0].getsockname()[1], socks[1].getsockname()[1], flush=True)
os.environ["LISTEN_PID"] = str(os.getpid())
os.environ["LISTEN_FDS"] = "2"
os.environ["LISTEN_FDNAMES"] = "spice:tls"
os.execv(sys.argv[1], sys.argv[1:])
PY
	: >"$TMP/zerospice.out"
	python3 "$TMP/activate2.py" "$ZEROSPICE" --x509-dir "$TMP/pki" \
		>"$TMP/zerospice.out" 2>"$TMP/zerospice.log" &
	ZS_PID=$!
	wait_for 100 grep -q "TLS on" "$TMP/zerospice.out" || fail "no TLS from the activated socket: $(cat "$TMP/zerospice.out" "$TMP/zerospice.log")"
	read -r plain_port tls_port <"$TMP/zerospice.out"
	grep -q "TLS on 127.0.0.1:$tls_port" "$TMP/zerospice.out" || fail "TLS not on the passed socket: $(cat "$TMP/zerospice.out")"
	echo | timeout 10 openssl s_client -connect "127.0.0.1:$tls_port" \
		-CAfile "$TMP/pki/ca-cert.pem" -verify_return_error >"$TMP/s_client.log" 2>&1 ||
		fail "TLS handshake on the activated socket failed"
	ZS_PORT=$plain_port
	screenshot "$TMP/activated2.ppm" || fail "no picture on the activated plain socket"
	kill "$ZS_PID"; wait "$ZS_PID"; ZS_PID=
	# a TLS socket without certificates is refused
	python3 "$TMP/activate2.py" "$ZEROSPICE" >/dev/null 2>"$TMP/notls.log"; rc=$?
	[ "$rc" = 2 ] && grep -q "no --x509-dir" "$TMP/notls.log" || fail "TLS socket without --x509-dir: $rc $(cat "$TMP/notls.log")"
fi
# a unix socket, as dist/systemd's zerospice@.socket passes it
cat >"$TMP/activate3.py" <<'PY'
import os, socket, sys
s = socket.socket(socket.AF_UNIX)
s.bind(sys.argv[1])
s.listen(16)
if s.fileno() != 3:
    os.dup2(s.fileno(), 3)
os.set_inheritable(3, True)
os.environ["LISTEN_PID"] = str(os.getpid())
os.environ["LISTEN_FDS"] = "1"
os.environ["LISTEN_FDNAMES"] = "spice"
os.execv(sys.argv[2], sys.argv[2:])
PY
: >"$TMP/zerospice.out"
python3 "$TMP/activate3.py" "$TMP/spice.sock" "$ZEROSPICE" >"$TMP/zerospice.out" 2>"$TMP/zerospice.log" &
ZS_PID=$!
wait_for 100 grep -q "listening on unix:$TMP/spice.sock" "$TMP/zerospice.out" ||
	fail "activated unix socket: $(cat "$TMP/zerospice.out" "$TMP/zerospice.log")"
grep -q "spice+unix://$TMP/spice.sock" "$TMP/zerospice.out" || fail "connect line: $(cat "$TMP/zerospice.out")"
timeout 30 spicy-screenshot --uri="spice+unix://$TMP/spice.sock" -o "$TMP/unix.ppm" >>"$TMP/spicy.log" 2>&1 ||
	fail "no picture on the activated unix socket"
kill "$ZS_PID"; wait "$ZS_PID"; ZS_PID=
[ -S "$TMP/spice.sock" ] || fail "zerospice removed the socket the manager owns"
log "socket activation: ok (port $ZS_PORT, unix socket)"

# ---- --log-format json: every stderr line is a JSON object ----
start_zerospice --log-format json
screenshot "$TMP/json.ppm" || fail "no picture with --log-format json"
kill "$ZS_PID"; wait "$ZS_PID"; ZS_PID=
python3 - "$TMP/zerospice.log" <<'PY' || fail "log lines are not JSON: $(head -n 5 "$TMP/zerospice.log")"
import json, sys
lines = [l for l in open(sys.argv[1]) if l.strip()]
assert len(lines) >= 2, lines
for l in lines:
    o = json.loads(l)
    assert o["level"] in ("error", "warning", "notice", "info", "debug"), o
    assert o["message"] and o["time"].endswith("Z"), o
assert any("shutting down" in json.loads(l)["message"] for l in lines)
PY
log "json log: ok"

# ---- --config: keys are the long options; the command line wins ----
cat >"$TMP/zs.conf" <<EOF
[zerospice]
source=testpattern,size=640x360
listen=127.0.0.1:1
codec=vp8
clock-fix=off
EOF
# listen from the command line wins over the file's; size from the file
start_zerospice --config "$TMP/zs.conf" --codec h264
screenshot "$TMP/config.ppm" || fail "no picture with --config"
[ "$(ppm_size "$TMP/config.ppm")" = "640 360" ] || fail "--config size not applied: $(ppm_size "$TMP/config.ppm")"
grep -q "streaming h264" "$TMP/zerospice.log" || fail "command line --codec did not win: $(grep streaming "$TMP/zerospice.log")"
kill "$ZS_PID"; wait "$ZS_PID"; ZS_PID=
printf '[zerospice]\nfrobnicate=1\n' >"$TMP/bad.conf"
out=$("$ZEROSPICE" --config "$TMP/bad.conf" 2>&1); rc=$?
[ "$rc" = 2 ] && echo "$out" | grep -q "unknown key 'frobnicate'" || fail "bad config key: $rc $out"
out=$("$ZEROSPICE" --config "$TMP/missing.conf" 2>&1); rc=$?
[ "$rc" = 2 ] && echo "$out" | grep -q "missing.conf" || fail "missing config: $rc $out"
log "config: ok"
log "PASS"
