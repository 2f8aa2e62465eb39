#!/bin/bash
# With zerospice's fd limit at 128 (prlimit, like `ulimit -n 128`): 300 connections from 127.0.0.2 that send a valid
# DISPLAY link header and then stall (half of them the whole link message
# naming no live session). Before the front checked links these reached
# spice-server with no deadline and exhausted the fds. Now they are capped,
# refused or timed out, and a real client still gets in.
. "$(dirname "$0")/lib.sh"
need prlimit
start_abuse_server
# only zerospice's limit: the raw clients need their 300 sockets
prlimit --pid "$ZS_PID" --nofile=128:128 || skip "prlimit cannot lower zerospice's fd limit"

$RAW stall --port "$ZS_PORT" --src 127.0.0.2 --count 300 --conn-id 777 \
	--hold 15 >"$TMP/stall.out" 2>&1 &
STALL=$!
sleep 1
screenshot "$TMP/during.ppm" -w "$TICKET" ||
	fail "a real client got no picture while DISPLAY links stalled"
wait "$STALL"
log "$(cat "$TMP/stall.out")"
grep -q "opened=300 connect-failed=0 closed-by-server=300 " "$TMP/stall.out" ||
	fail "stalled DISPLAY links were left open: $(cat "$TMP/stall.out")"
# Refusal logs are limited to one a second (the per-address limit's may
# take the slot), so the refusal is checked where it cannot be lost: the
# BAD_CONNECTION_ID link replies the stalled clients read.
bad=$(sed -n 's/.*bad-connection-id=\([0-9]*\).*/\1/p' "$TMP/stall.out")
[ "${bad:-0}" -ge 1 ] ||
	grep -q "names session 777, which has not passed the ticket" "$TMP/zerospice.log" ||
	fail "the bogus session was not refused with BAD_CONNECTION_ID"
grep -q "accept: .*not accepting" "$TMP/zerospice.log" &&
	log "the listener paused for want of fds (EMFILE path taken)"
check_after "300 stalled DISPLAY links under ulimit -n 128"

# ---- out of fds for real: the limit just above what zerospice holds ----
# accept() then fails with EMFILE: the listener must shed and pause, not
# spin (it used to log and return with the connection still waiting).
prlimit --pid "$ZS_PID" --nofile=$((BASE_FDS + 4)):128
$RAW silent --port "$ZS_PORT" --src 127.0.0.2 --count 40 --hold 8 \
	>"$TMP/emfile.out" 2>&1 &
EMFILE=$!
sleep 1
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$ZS_PID/stat"; }
t0=$(cpu_ticks)
sleep 4
used=$(( $(cpu_ticks) - t0 ))
hz=$(getconf CLK_TCK)
log "out of fds: zerospice used $used ticks of CPU in 4 s ($hz per s)"
wait "$EMFILE"
log "$(cat "$TMP/emfile.out")"
grep -q "accept: Too many open files; not accepting connections" "$TMP/zerospice.log" ||
	fail "the listener did not pause on EMFILE"
[ "$(grep -c "not accepting connections" "$TMP/zerospice.log")" -le 30 ] ||
	fail "the EMFILE pause logged more than once a second"
# a spinning accept loop burns the whole core; the 30 fps test pattern
# alone is far below that
[ "$used" -le $((hz * 3)) ] || fail "zerospice spun while out of fds: $used ticks in 4 s"
prlimit --pid "$ZS_PID" --nofile=128:128
sleep 2
check_after "out of fds (EMFILE) with 40 connections waiting"
log "PASS"
