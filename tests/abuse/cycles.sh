#!/bin/bash
# 200 connect/disconnect cycles of a real client (spicy-screenshot with the
# right ticket), then 200 of the raw client (MAIN + DISPLAY link with the
# right ticket, hang up): every one gets in, and zerospice's fds and RSS
# end where they started.
. "$(dirname "$0")/lib.sh"
start_abuse_server

N=${ZS_ABUSE_CYCLES:-200}
fails=0
for i in $(seq 1 "$N"); do
	screenshot "$TMP/c.ppm" -w "$TICKET" || fails=$((fails + 1))
done
log "$N spicy-screenshot cycles, $fails failed"
[ "$fails" -eq 0 ] || fail "$fails of $N real clients got no picture"
check_after "$N spicy-screenshot cycles"

out=$($RAW cycles --port "$ZS_PORT" --count "$N" --ticket "$TICKET")
log "$out"
[ "$out" = "cycles: $N/$N linked MAIN and DISPLAY" ] || fail "raw cycles: $out"
check_after "$N raw MAIN+DISPLAY cycles"
log "PASS"
