#!/bin/bash
# A real SPICE client (spicy-screenshot) against zerospice: the picture has
# the stream's size, its frame stamp decodes, later screenshots show later
# frames, and a wrong ticket is refused.
. "$(dirname "$0")/lib.sh"
need spicy-screenshot

echo "right-ticket" >"$TMP/ticket"; chmod 600 "$TMP/ticket"
start_zerospice --source testpattern,size=800x600,fps=30 --ticket-file "$TMP/ticket"

screenshot "$TMP/a.ppm" -w right-ticket || fail "spicy-screenshot with the right ticket failed"
[ "$(ppm_size "$TMP/a.ppm")" = "800 600" ] || fail "screenshot is $(ppm_size "$TMP/a.ppm"), expected 800 600"
id_a=$(stamp_field "$TMP/a.ppm" frame_id)
[ -n "$id_a" ] || fail "no frame stamp in the first screenshot"
log "first screenshot: frame $id_a"

sleep 0.5
screenshot "$TMP/b.ppm" -w right-ticket || fail "second spicy-screenshot failed"
id_b=$(stamp_field "$TMP/b.ppm" frame_id)
[ -n "$id_b" ] || fail "no frame stamp in the second screenshot"
log "second screenshot: frame $id_b"
[ "$id_b" -gt "$id_a" ] || fail "second screenshot shows frame $id_b, not later than $id_a"

if screenshot "$TMP/c.ppm" -w wrong-ticket; then
	fail "a wrong ticket was accepted"
fi
[ ! -s "$TMP/c.ppm" ] || fail "a screenshot was written with a wrong ticket"
zerospice_alive || fail "zerospice died"

# the codec the client gets is one it listed; with --codec vp8 it is vp8
grep -q "streaming h264" "$TMP/zerospice.log" || fail "auto did not choose h264 for spice-gtk"
log "PASS"
