#!/bin/bash
# Hostile clients (issue 9 items 14/15): a relay swaps pairs of 4 KiB chunks
# of zerospice's bytes, so a stock spice-gtk client (remote-viewer) reads
# nonsense and answers with nonsense on every channel it opens. After
# ZS_HOSTILE_SESSIONS such sessions of a few seconds each, zerospice must be
# alive, a clean client must get a correct picture (its frame stamp decodes)
# and zerospice's fds and RSS must be back within bounds.
. "$(dirname "$0")/../integration/lib.sh"
need remote-viewer Xvfb spicy-screenshot python3

sessions=${ZS_HOSTILE_SESSIONS:-12}
session_s=${ZS_HOSTILE_SESSION_S:-3}

# Under ASan, freed memory waits in a quarantine (256 MiB by default):
# keep it small so RSS says something about leaks.
ASAN_OPTIONS="${ASAN_OPTIONS:-}${ASAN_OPTIONS:+:}quarantine_size_mb=4" \
	start_zerospice --source testpattern,size=800x600,fps=30
start_xvfb
sleep 1
# the baseline: one clean client has been through (spice-server allocates
# its per-server state on the first client)
screenshot "$TMP/before.ppm" || fail "no screenshot before the hostile sessions"
fds_before=$(zs_fd_count)
rss_before=$(zs_rss_kib)
log "before: $fds_before fds, RSS $rss_before KiB"

# The stub QXL's display:15 and cursor:15 (past every display, see
# server/display.c) are not offered: a link to either is refused with
# CHANNEL_NOT_AVAILABLE before spice-server sees it, and a link to
# display:0 is not.
link_error() { # TYPE ID: the error code of zerospice's link reply
	python3 - "$ZS_PORT" "$1" "$2" <<'PY'
import socket, struct, sys
port, ctype, cid = (int(a) for a in sys.argv[1:])
s = socket.create_connection(("127.0.0.1", port), timeout=10)
mess = struct.pack("<IBBIII", 0, ctype, cid, 1, 0, 18) + struct.pack("<I", 1 << 3)
s.sendall(struct.pack("<4sIII", b"REDQ", 2, 2, len(mess)) + mess)
reply = b""
while len(reply) < 20:
    chunk = s.recv(20 - len(reply))
    if not chunk:
        break
    reply += chunk
print(struct.unpack_from("<I", reply, 16)[0] if len(reply) == 20 else "none")
PY
}
for ch in "2 15" "4 15"; do
	e=$(link_error $ch)
	[ "$e" = 9 ] || fail "a link to channel ${ch/ /:} got link error '$e', not 9 (CHANNEL_NOT_AVAILABLE)"
done
e=$(link_error 2 0)
[ "$e" != 9 ] || fail "a link to display:0 was refused as not available"

python3 "$(dirname "$0")/hostile-relay.py" --target-port "$ZS_PORT" \
	--max-seconds $((sessions * (session_s + 2) + 30)) \
	>"$TMP/relay.out" 2>"$TMP/relay.log" &
RELAY_PID=$!
EXTRA_PIDS="$RELAY_PID"
relay_port=
for _ in $(seq 1 50); do
	relay_port=$(sed -n 's/^relay listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$TMP/relay.out")
	[ -n "$relay_port" ] && break
	sleep 0.1
done
[ -n "$relay_port" ] || fail "the hostile relay did not start"

for i in $(seq 1 "$sessions"); do
	DISABLE_GSTVIDEOOVERLAY=1 timeout -s KILL "$session_s" \
		remote-viewer "spice://127.0.0.1:$relay_port" \
		>>"$TMP/hostile-viewer.log" 2>&1
	zerospice_alive || fail "zerospice died in hostile session $i"
done
log "$sessions hostile sessions done"
kill "$RELAY_PID" 2>/dev/null
wait "$RELAY_PID" 2>/dev/null
EXTRA_PIDS=

# spice-server tears channels down asynchronously: give it a moment
ok=
for _ in $(seq 1 20); do
	sleep 0.5
	[ "$(zs_fd_count)" -le "$fds_before" ] && { ok=1; break; }
done
zerospice_alive || fail "zerospice died after the hostile sessions"
screenshot "$TMP/after.ppm" ||
	fail "a clean client got no picture after $sessions hostile sessions"
[ "$(ppm_size "$TMP/after.ppm")" = "800 600" ] ||
	fail "clean picture is $(ppm_size "$TMP/after.ppm"), not 800 600"
[ -n "$(stamp_field "$TMP/after.ppm" frame_id)" ] ||
	fail "the clean client's picture carries no frame stamp"
grep -q "streaming" "$TMP/zerospice.log" || fail "zerospice logged no streaming line"

fds_after=$(zs_fd_count)
rss_after=$(zs_rss_kib)
log "after: $fds_after fds, RSS $rss_after KiB"
[ -n "$ok" ] || [ "$fds_after" -le "$fds_before" ] ||
	fail "zerospice holds $fds_after fds, $fds_before before the hostile sessions: $(ls -l /proc/"$ZS_PID"/fd | tail -n +2)"
# Allocator slack only: a leak per session of the size of a client's
# caches (MiBs) is over this. LeakSanitizer checks the rest at exit.
[ $((rss_after - rss_before)) -le 24576 ] ||
	fail "zerospice's RSS grew by $((rss_after - rss_before)) KiB over $sessions hostile sessions"
stop_zerospice
log "PASS"
