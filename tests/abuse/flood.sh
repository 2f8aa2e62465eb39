#!/bin/bash
# Unauthenticated clients cannot starve the session: 500 silent sockets
# from 127.0.0.2 while a real client connects from 127.0.0.1; a MAIN link
# that never sends its ticket; a non-MAIN link naming a session that does
# not exist; half-close after the link message; SASL asked for; 100 wrong
# tickets in a row (the address gets blocked, the right ticket from another
# address still works, and so does it from the same one once the block
# ends).
. "$(dirname "$0")/lib.sh"
start_abuse_server

# ---- 500 silent sockets from 127.0.0.2, a real client from 127.0.0.1 ----
$RAW silent --port "$ZS_PORT" --src 127.0.0.2 --count 500 --hold 6 \
	>"$TMP/silent.out" 2>&1 &
SILENT=$!
sleep 1
screenshot "$TMP/during.ppm" -w "$TICKET" ||
	fail "a real client got no picture while 127.0.0.2 held 500 sockets"
wait "$SILENT"
log "$(cat "$TMP/silent.out")"
grep -q "opened=500 .*closed-by-server=500" "$TMP/silent.out" ||
	fail "silent sockets were not all closed by the server: $(cat "$TMP/silent.out")"
grep -Eq "127.0.0.2 holds [0-9]+ connections without a ticket yet" "$TMP/zerospice.log" ||
	fail "no per-address refusal logged"
check_after "500 silent sockets"

# ---- a MAIN link that never sends its ticket ----
out=$($RAW link --port "$ZS_PORT" --no-ticket --hold 20)
log "$out"
case $out in
"no-ticket: closed by server after "*) ;;
*) fail "MAIN without a ticket: $out" ;;
esac
grep -q "no ticket accepted in 10 s" "$TMP/zerospice.log" || fail "no ticket deadline logged"
check_after "MAIN link without a ticket"

# ---- a DISPLAY link naming a session that does not exist ----
out=$($RAW link --port "$ZS_PORT" --channel 2 --conn-id 12345)
log "$out"
[ "$out" = "link: stage=reply error=BAD_CONNECTION_ID session=0" ] ||
	fail "bogus connection id: $out"
check_after "DISPLAY link with a bogus connection id"

# ---- half-close after the link message ----
out=$($RAW link --port "$ZS_PORT" --half-close --hold 15)
log "$out"
case $out in
"half-close: closed by server after "*) ;;
*) fail "half-close: $out" ;;
esac
check_after "half-close after the link message"

# ---- SASL asked for ----
# spice-server 0.15.1 (built with libsasl2) offers the host's SASL
# mechanisms to a client that picks SASL even with SASL off: the front
# must refuse the choice before spice-server reads it
out=$($RAW link --port "$ZS_PORT" --sasl)
log "$out"
[ "$out" = "link: stage=sasl-refused error=INVALID_DATA session=0" ] ||
	fail "SASL was not refused by the front: $out"
grep -q "the client chose SASL" "$TMP/zerospice.log" || fail "the SASL refusal was not logged"
check_after "SASL asked for"

# ---- 100 wrong tickets in a row from 127.0.0.2 ----
out=$($RAW wrong-tickets --port "$ZS_PORT" --src 127.0.0.2 --count 100)
log "$out"
checked=$(printf '%s' "$out" | sed -n 's/.*result:PERMISSION_DENIED=\([0-9]*\).*/\1/p')
blocked=$(printf '%s' "$out" | sed -n 's/.*reply:PERMISSION_DENIED=\([0-9]*\).*/\1/p')
[ -n "$blocked" ] && [ "$blocked" -ge 50 ] ||
	fail "wrong tickets were not rate limited: $out"
[ -n "$checked" ] && [ "$checked" -le 10 ] ||
	fail "spice-server checked ${checked:-0} of 100 wrong tickets (want <= 10)"
grep -q "wrong tickets from 127.0.0.2: blocked" "$TMP/zerospice.log" ||
	fail "the block was not logged"
# the right ticket from another address works at once
out=$($RAW link --port "$ZS_PORT" --ticket "$TICKET")
case $out in
"link: stage=result error=OK session="*) ;;
*) fail "right ticket from 127.0.0.1 during the block: $out" ;;
esac
# and from the blocked address once the block is over (at most 30 s)
ok=
for _ in $(seq 1 35); do
	out=$($RAW link --port "$ZS_PORT" --src 127.0.0.2 --ticket "$TICKET")
	case $out in "link: stage=result error=OK session="*) ok=1; break ;; esac
	sleep 1
done
[ -n "$ok" ] || fail "127.0.0.2 still refused the right ticket: $out"
check_after "100 wrong tickets"
log "PASS"
