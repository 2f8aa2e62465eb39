#!/bin/bash
# tools/broker-example end to end: two desktops with distinct ports and
# tickets, their .vv files, a ticket rotation checked with spicy-screenshot,
# and a clean teardown.
. "$(dirname "$0")/lib.sh"
need spicy-screenshot
"$BROKER_EXAMPLE" --count 2 --check --zerospice "$ZEROSPICE" --ctl "$ZEROSPICE_CTL" \
	--workdir "$TMP" >"$TMP/example.out" 2>"$TMP/example.err"
rc=$?
cat "$TMP/example.out" >&2
[ "$rc" = 0 ] || fail "broker-example exited $rc: $(cat "$TMP/example.err")"
[ "$(grep -c '^    \[virt-viewer\]' "$TMP/example.out")" = 2 ] || fail "not two .vv files printed"
ports=$(sed -n 's/^    port=//p' "$TMP/example.out" | sort -u | wc -l)
[ "$ports" = 2 ] || fail "the .vv files do not have two distinct ports"
grep -q "vm1: old ticket refused, new ticket accepted" "$TMP/example.out" || fail "no rotation check"
grep -q "done: 2 desktops" "$TMP/example.out" || fail "no clean end"
for i in 1 2; do
	pid=$(sed -n "s/.*vm$i: zerospice pid \([0-9]*\) .*/\1/p" "$TMP/example.out")
	[ -n "$pid" ] || fail "no pid for vm$i"
	! kill -0 "$pid" 2>/dev/null || fail "vm$i (pid $pid) still runs"
done
log "PASS"
