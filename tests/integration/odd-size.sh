#!/bin/bash
# Any picture size streams: the test pattern at 641x479 (odd, which 4:2:0
# encoders cannot code as is) reaches spicy-screenshot at exactly 641x479,
# its frame stamp decodes where it was drawn, for H.264 (coded one pixel
# larger, edge repeated) and for VP8 (coded at the odd size).
. "$(dirname "$0")/lib.sh"
need spicy-screenshot

for codec in h264 vp8; do
	start_zerospice --source testpattern,size=641x479,fps=30 --codec "$codec"
	screenshot "$TMP/$codec.ppm" || fail "$codec: spicy-screenshot got no picture"
	size=$(ppm_size "$TMP/$codec.ppm")
	[ "$size" = "641 479" ] || fail "$codec: screenshot is $size, expected 641 479"
	id=$(stamp_field "$TMP/$codec.ppm" frame_id)
	[ -n "$id" ] || fail "$codec: no frame stamp in the 641x479 picture"
	x=$(stamp_field "$TMP/$codec.ppm" x)
	y=$(stamp_field "$TMP/$codec.ppm" y)
	[ "$x $y" = "16 16" ] || fail "$codec: stamp at $x,$y, drawn at 16,16"
	grep -q "streaming $codec" "$TMP/zerospice.log" || fail "$codec: not streamed as $codec"
	log "$codec: 641x479 picture, frame $id, stamp at $x,$y"
	if [ "$codec" = h264 ]; then
		grep -q "coding 642x480 with the edge repeated" "$TMP/zerospice.log" ||
			fail "h264: the log does not say the picture is padded"
	fi
	zerospice_alive || fail "$codec: zerospice died"
	kill "$ZS_PID"; wait "$ZS_PID" 2>/dev/null
done
log "PASS"
