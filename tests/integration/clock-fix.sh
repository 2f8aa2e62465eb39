#!/bin/bash
# The main-channel clock relay with a real client: remote-viewer in its
# appsink path (DISABLE_GSTVIDEOOVERLAY=1, as on Wayland, Windows and
# headless clients) holds each frame until the frame's mm_time on the clock
# the main channel gave it. spice-gtk logs the difference as `video margin`
# for every frame (SPICE_DEBUG=1). With --clock-fix on it must stay under
# 50 ms; with it off it is spice-server's 400 ms. A functional check of the
# clock, not a timing benchmark. Ticket auth goes through the front too:
# the right ticket works, a wrong one is refused.
. "$(dirname "$0")/lib.sh"
need remote-viewer spicy-screenshot Xvfb

echo "clock-ticket" >"$TMP/ticket"; chmod 600 "$TMP/ticket"
start_xvfb

# run_viewer MODE: zerospice with --clock-fix MODE, remote-viewer for the
# frames; leaves the log in $TMP/rv-MODE.log.
run_viewer() {
	local mode=$1
	ZS_DEBUG=1 start_zerospice --source testpattern,size=640x480,fps=30 \
		--ticket-file "$TMP/ticket" --clock-fix "$mode"
	if [ "$mode" = on ]; then
		screenshot "$TMP/right.ppm" -w clock-ticket ||
			fail "spicy-screenshot with the right ticket failed through the front"
		[ -n "$(stamp_field "$TMP/right.ppm" frame_id)" ] ||
			fail "no frame stamp through the front"
		if screenshot "$TMP/wrong.ppm" -w wrong-ticket; then
			fail "a wrong ticket was accepted through the front"
		fi
		zerospice_alive || fail "zerospice died after a refused ticket"
	fi
	DISABLE_GSTVIDEOOVERLAY=1 SPICE_DEBUG=1 remote-viewer \
		"spice://127.0.0.1:$ZS_PORT?password=clock-ticket" \
		>"$TMP/rv-$mode.log" 2>&1 &
	EXTRA_PIDS=$!
	# the first frames carry the stream's start-up; look at 60 after them
	wait_margins "$TMP/rv-$mode.log" 90 ||
		fail "remote-viewer logged $(video_margins "$TMP/rv-$mode.log" | wc -l) video margins with --clock-fix $mode, expected 90"
	kill "$EXTRA_PIDS"; wait "$EXTRA_PIDS" 2>/dev/null; EXTRA_PIDS=
	zerospice_alive || fail "zerospice died"
	cp "$TMP/zerospice.log" "$TMP/zerospice-$mode.log"
	stop_zerospice
}

run_viewer on
margins=$(video_margins "$TMP/rv-on.log" | sed -n '31,90p')
max=$(printf '%s\n' $margins | sort -n | tail -n 1)
med=$(printf '%s\n' $margins | sort -n | sed -n '30p')
log "--clock-fix on: video margin median $med ms, max $max ms"
[ "$max" -lt 50 ] || fail "--clock-fix on: video margin reached $max ms (want < 50)"
grep -q "relayed with the clock fix" "$TMP/zerospice-on.log" ||
	fail "zerospice did not relay the main channel"

run_viewer off
margins=$(video_margins "$TMP/rv-off.log" | sed -n '31,90p')
med=$(printf '%s\n' $margins | sort -n | sed -n '30p')
log "--clock-fix off: video margin median $med ms"
[ "$med" -ge 300 ] && [ "$med" -le 600 ] ||
	fail "--clock-fix off: video margin median $med ms, expected spice-server's ~400"
log "PASS"
