#!/bin/bash
# zerospice --encoder vaapi on the fake VA driver (LIBVA_DRIVER_NAME=zsfake,
# --va-device /dev/null: no DRM node needed) seen by a real SPICE client:
# the screenshot's frame stamp decodes and the picture is the test pattern
# of that frame; the driver found no parameter mismatch; the CPU touched no
# pixels. Then the driver "loses the device" mid-stream and the session
# goes on in software.
. "$(dirname "$0")/../integration/lib.sh"
need spicy-screenshot
[ "${LIBVA_DRIVER_NAME:-}" = zsfake ] || skip "run through meson (fake VA driver)"

# The I_PCM stream is lossless; what is left is 4:2:0 chroma and YUV
# rounding on the text and barcode edges.
MIN_PSNR=30

echo "vaapi-ticket" >"$TMP/ticket"
chmod 600 "$TMP/ticket" # zerospice refuses a ticket others may read
start_zerospice --source testpattern,size=800x600,fps=30 \
	--ticket-file "$TMP/ticket" --encoder vaapi --va-device /dev/null

screenshot "$TMP/a.ppm" -w vaapi-ticket || fail "spicy-screenshot failed"
[ "$(ppm_size "$TMP/a.ppm")" = "800 600" ] || fail "screenshot is $(ppm_size "$TMP/a.ppm")"
id=$(stamp_field "$TMP/a.ppm" frame_id)
[ -n "$id" ] || fail "no frame stamp in the screenshot"
cmp=$("$PATTERN_COMPARE" "$TMP/a.ppm" "$MIN_PSNR") || fail "not the test pattern: $cmp"
log "frame $id: $cmp"
grep -q "vaapi:/dev/null h264" "$TMP/zerospice.log" || fail "the stream was not encoded through VA-API"
grep -q "streaming h264" "$TMP/zerospice.log" || fail "no h264 stream"
! grep -q "fake-va: FAIL" "$TMP/zerospice.log" || fail "the fake driver found a parameter mismatch"
! grep -q "switching to software" "$TMP/zerospice.log" || fail "fell back to software"
zerospice_alive || fail "zerospice died"
stop_zerospice

# device lost after a few frames: the session survives in software
mv "$TMP/zerospice.log" "$TMP/first-run.txt"
ZS_FAKE_VA_FAIL_AFTER=5 start_zerospice --source testpattern,size=800x600,fps=30 \
	--ticket-file "$TMP/ticket" --encoder vaapi --va-device /dev/null
screenshot "$TMP/b.ppm" -w vaapi-ticket || fail "spicy-screenshot after the fallback failed"
cmp=$("$PATTERN_COMPARE" "$TMP/b.ppm" 25) || fail "after the fallback, not the test pattern: $cmp"
log "after the fallback: $cmp"
grep -q "switching to software encoding" "$TMP/zerospice.log" ||
	fail "the driver failure was not logged"
zerospice_alive || fail "zerospice died"
log "PASS"
