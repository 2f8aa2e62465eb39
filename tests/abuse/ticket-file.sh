#!/bin/bash
# Ticket files zerospice must refuse (with a NUL, mode 0644, empty) or read
# whole (a FIFO written in two parts); SIGHUP reads the file again (the new
# ticket works, the old one no longer does, a connected client stays);
# --ticket-expiry ends the ticket.
. "$(dirname "$0")/lib.sh"
need spicy-screenshot python3

# expect_refused NAME PATTERN: zerospice exits 1 at start, saying PATTERN
expect_refused() {
	local name=$1 pattern=$2 rc=0
	timeout 20 "$ZEROSPICE" --listen 127.0.0.1:0 --ticket-file "$TMP/t-$name" \
		>"$TMP/$name.out" 2>"$TMP/$name.err" || rc=$?
	[ "$rc" -eq 1 ] || fail "ticket file $name: exit status $rc, expected 1"
	grep -q "$pattern" "$TMP/$name.err" || fail "ticket file $name: $(cat "$TMP/$name.err")"
	log "ticket file $name refused: $(tail -n 1 "$TMP/$name.err")"
}
printf 'abc\0def\n' >"$TMP/t-nul"; chmod 600 "$TMP/t-nul"
expect_refused nul "contains a NUL byte"
printf 'abc\n\0' >"$TMP/t-nul2"; chmod 600 "$TMP/t-nul2"
expect_refused nul2 "contains a NUL byte"
printf 'secret\n' >"$TMP/t-mode"; chmod 644 "$TMP/t-mode"
expect_refused mode "mode 0644"
: >"$TMP/t-empty"; chmod 600 "$TMP/t-empty"
expect_refused empty "is empty"

# a FIFO written in two parts
mkfifo -m 600 "$TMP/fifo"
( printf 'fifo-'; sleep 1; printf 'ticket\n' ) >"$TMP/fifo" &
WRITER=$!
ZS_DEBUG=1 start_zerospice --source testpattern,size=640x480,fps=30 --ticket-file "$TMP/fifo"
wait "$WRITER"
screenshot "$TMP/fifo.ppm" -w fifo-ticket || fail "the ticket from a FIFO written in two parts did not work"
if screenshot "$TMP/fifo-part.ppm" -w fifo-; then fail "half the FIFO's ticket worked"; fi
stop_zerospice

# SIGHUP: a new ticket for new clients; a connected client stays
start_abuse_server
$RAW link --port "$ZS_PORT" --ticket "$TICKET" --hold-open \
	--hold 4 >"$TMP/live.out" 2>&1 &
LIVE=$!
sleep 2
printf 'second-ticket\n' >"$TMP/ticket"
kill -HUP "$ZS_PID"
sleep 1
zerospice_alive || fail "zerospice died on SIGHUP"
wait "$LIVE"
grep -q "link: stage=result error=OK" "$TMP/live.out" || fail "the live client: $(cat "$TMP/live.out")"
port=$(sed -n 's/.*plain client 127.0.0.1:\([0-9]*\): channel 1:0 passed.*/\1/p' "$TMP/zerospice.log" | tail -n 1)
grep -q "SIGHUP: read the ticket file again" "$TMP/zerospice.log" || fail "no SIGHUP"
# the connected client was not dropped by the reload: it closed itself
# after the reload, so its relay's end comes after the reload's line
awk -v p="127.0.0.1:$port: closed" '/SIGHUP: read the ticket/ { s = 1 } s && index($0, p) { f = 1 } END { exit !f }' \
	"$TMP/zerospice.log" || fail "the live client was dropped by SIGHUP"
grep -q "SIGHUP: read the ticket file again" "$TMP/zerospice.log" || fail "SIGHUP did not re-read the ticket"
if screenshot "$TMP/old.ppm" -w "$TICKET"; then fail "the old ticket still worked after SIGHUP"; fi
screenshot "$TMP/new.ppm" -w second-ticket || fail "the new ticket did not work after SIGHUP"
# a bad file on SIGHUP keeps the ticket in force
chmod 644 "$TMP/ticket"
kill -HUP "$ZS_PID"
sleep 1
grep -q "SIGHUP: .*mode 0644.*the previous ticket stays" "$TMP/zerospice.log" ||
	fail "a world-readable ticket file on SIGHUP was not refused"
chmod 600 "$TMP/ticket"
TICKET=second-ticket
check_after "SIGHUP ticket reload"
stop_zerospice

# --ticket-expiry
printf 'short-lived\n' >"$TMP/ticket"; chmod 600 "$TMP/ticket"
# The lifetime runs from when the file is read (start-up), and spice-server
# gets what is left of it: leave room for a slow start (ASan, load).
t0=$(date +%s)
start_zerospice --source testpattern,size=640x480,fps=30 --ticket-file "$TMP/ticket" \
	--ticket-expiry 15
screenshot "$TMP/fresh.ppm" -w short-lived || fail "the ticket did not work before it expired (after $(( $(date +%s) - t0 )) s)"
left=$(( t0 + 16 - $(date +%s) ))
[ "$left" -gt 0 ] && sleep "$left"
if screenshot "$TMP/expired.ppm" -w short-lived; then fail "an expired ticket worked"; fi
grep -q "the ticket has expired" "$TMP/zerospice.log" || fail "expiry not logged"
kill -HUP "$ZS_PID"
sleep 1
screenshot "$TMP/renewed.ppm" -w short-lived || fail "SIGHUP did not renew an expired ticket"
log "PASS"
