#!/bin/bash
# remote-viewer (virt-viewer) under Xvfb: the window shows the stream (its
# frame stamp decodes from a root-window screenshot), and a key press and a
# click sent with xdotool reach the source (the test pattern's input stamp
# shows them). remote-viewer runs with DISABLE_GSTVIDEOOVERLAY=1: under Xvfb
# the overlay path picks a sink that crashes or shows nothing.
. "$(dirname "$0")/lib.sh"
need remote-viewer Xvfb xdotool import

start_zerospice --source testpattern,size=1024x640,fps=30

Xvfb -displayfd 5 -screen 0 1600x1000x24 -nolisten tcp 5>"$TMP/xvfb.num" >"$TMP/xvfb.log" 2>&1 &
XVFB_PID=$!
for _ in $(seq 1 100); do [ -s "$TMP/xvfb.num" ] && break; sleep 0.1; done
[ -s "$TMP/xvfb.num" ] || fail "Xvfb did not start"
export DISPLAY=":$(cat "$TMP/xvfb.num")"

DISABLE_GSTVIDEOOVERLAY=1 SPICE_DEBUG=1 remote-viewer "spice://127.0.0.1:$ZS_PORT" \
	>"$TMP/remote-viewer.log" 2>&1 &
EXTRA_PIDS=$!

grab() { import -window root "ppm:$1" 2>>"$TMP/import.log"; }

# wait for the stream to show up in the window
found=
for _ in $(seq 1 60); do
	grab "$TMP/root.ppm"
	if [ -n "$(stamp_field "$TMP/root.ppm" frame_id)" ]; then found=1; break; fi
	kill -0 "$EXTRA_PIDS" 2>/dev/null || fail "remote-viewer exited"
	sleep 0.5
done
[ -n "$found" ] || fail "no frame stamp on the remote-viewer window"
id1=$(stamp_field "$TMP/root.ppm" frame_id)
sx=$(stamp_field "$TMP/root.ppm" x)
sy=$(stamp_field "$TMP/root.ppm" y)
# the frame stamp sits at (16,16) of the stream
ox=$((sx - 16)); oy=$((sy - 16))
log "stream shown at $ox,$oy, frame $id1"

# absolute (client) mouse mode on the stream's display, so no pointer grab
grep -q "0:0 mouse mode 2 (client)" "$TMP/remote-viewer.log" ||
	fail "remote-viewer is not in client mouse mode: $(grep 'mouse mode' "$TMP/remote-viewer.log" | tail -n 2)"

# the source's pointer image reached the client's cursor channel of display 0
grep -Eq "cursor-4:0: set_cursor: flags 0, size [1-9]" "$TMP/remote-viewer.log" ||
	fail "remote-viewer got no pointer image"

# pointer into the stream, click, type 'a'
xdotool mousemove $((ox + 300)) $((oy + 400))
sleep 0.3
xdotool click 1
sleep 0.3
xdotool key a
ok=
for _ in $(seq 1 40); do
	sleep 0.25
	grab "$TMP/input.ppm"
	key=$(stamp_field "$TMP/input.ppm" key)
	px=$(stamp_field "$TMP/input.ppm" pointer_x)
	py=$(stamp_field "$TMP/input.ppm" pointer_y)
	bev=$(stamp_field "$TMP/input.ppm" button_events)
	if [ "$key" = "0x1e" ] && [ "${bev:-0}" -ge 2 ]; then ok=1; break; fi
done
[ -n "$ok" ] || fail "input did not arrive: key=$key pointer=$px,$py button_events=$bev"
log "input arrived: key=$key pointer=$px,$py button_events=$bev"
[ "$((px - 300))" -ge -2 ] && [ "$((px - 300))" -le 2 ] || fail "pointer x $px, expected 300"
[ "$((py - 400))" -ge -2 ] && [ "$((py - 400))" -le 2 ] || fail "pointer y $py, expected 400"

id2=$(stamp_field "$TMP/input.ppm" frame_id)
[ "${id2:-0}" -gt "$id1" ] || fail "the picture did not move on ($id1 → $id2)"

# a stalled client: spice-server stops reading our device; zerospice must
# drop frames rather than queue them, and the picture must move on after
rss() { awk '/^VmRSS:/ { print $2 }' "/proc/$ZS_PID/status"; }
rss_before=$(rss)
kill -STOP "$EXTRA_PIDS"
sleep 4
rss_stalled=$(rss)
kill -CONT "$EXTRA_PIDS"
log "zerospice RSS: ${rss_before} kB before, ${rss_stalled} kB after a 4 s client stall"
[ "$rss_stalled" -lt $((rss_before + 65536)) ] || fail "memory grew by $((rss_stalled - rss_before)) kB while a client stalled"
sleep 2
grab "$TMP/after.ppm"
id3=$(stamp_field "$TMP/after.ppm" frame_id)
[ "${id3:-0}" -gt "${id2:-0}" ] || fail "the picture did not resume after the stall ($id2 → $id3)"

# one display: only one remote-viewer toplevel showing a display
n=$(xdotool search --onlyvisible --class remote-viewer 2>/dev/null | wc -l)
[ "$n" = 1 ] || fail "remote-viewer shows $n windows, expected one display"

# a new client mid-stream needs a keyframe: spicy-screenshot decodes a
# picture. spice-server serves one client at a time (as QEMU's SPICE does):
# the new client replaces remote-viewer.
screenshot "$TMP/second.ppm" || fail "a client joining mid-stream got no picture"
[ -n "$(stamp_field "$TMP/second.ppm" frame_id)" ] || fail "the joining client's picture has no frame stamp"

zerospice_alive || fail "zerospice died"
log "PASS"
