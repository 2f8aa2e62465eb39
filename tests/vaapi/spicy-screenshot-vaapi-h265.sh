#!/bin/bash
# zerospice --encoder vaapi --codec h265 on the fake VA driver (HEVC Main,
# every CU coded as PCM) seen by a real SPICE client: spice-gtk decodes the
# H.265 stream with GStreamer, the screenshot's frame stamp decodes and the
# picture is the test pattern of that frame; the driver found no parameter
# mismatch; nothing fell back to software. A second client joining later
# gets its own IDR and the same picture quality.
. "$(dirname "$0")/../integration/lib.sh"
need spicy-screenshot
[ "${LIBVA_DRIVER_NAME:-}" = zsfake ] || skip "run through meson (fake VA driver)"

# PCM is lossless; what is left is 4:2:0 chroma and YUV rounding on the
# text and barcode edges (as for H.264).
MIN_PSNR=30

echo "vaapi-h265-ticket" >"$TMP/ticket"
chmod 600 "$TMP/ticket" # zerospice refuses a ticket others may read
ZS_FAKE_VA_PROFILES=cb,hevc start_zerospice \
	--source testpattern,size=800x600,fps=30 --ticket-file "$TMP/ticket" \
	--encoder vaapi --va-device /dev/null --codec h265

for shot in a b; do
	if ! screenshot "$TMP/$shot.ppm" -w vaapi-h265-ticket; then
		grep -q "no codec to stream" "$TMP/zerospice.log" &&
			skip "spicy-screenshot does not offer H.265 (no GStreamer H.265 decoder for spice-gtk?); test_vaapi decodes it with avdec_h265"
		fail "spicy-screenshot ($shot) failed"
	fi
	[ "$(ppm_size "$TMP/$shot.ppm")" = "800 600" ] ||
		fail "screenshot $shot is $(ppm_size "$TMP/$shot.ppm")"
	id=$(stamp_field "$TMP/$shot.ppm" frame_id)
	[ -n "$id" ] || fail "no frame stamp in screenshot $shot"
	cmp=$("$PATTERN_COMPARE" "$TMP/$shot.ppm" "$MIN_PSNR") ||
		fail "screenshot $shot is not the test pattern: $cmp"
	log "screenshot $shot, frame $id: $cmp"
done
grep -q "vaapi: /dev/null (zerospice fake VA driver): HEVC hevc-main/lp" "$TMP/zerospice.log" ||
	fail "the probe did not report HEVC"
grep -q "encoder: vaapi:/dev/null h265 hevc-main/lp" "$TMP/zerospice.log" ||
	fail "the stream was not encoded through VA-API HEVC"
grep -q "streaming h265" "$TMP/zerospice.log" || fail "no h265 stream"
! grep -q "fake-va: FAIL" "$TMP/zerospice.log" || fail "the fake driver found a parameter mismatch"
! grep -q "switching to software" "$TMP/zerospice.log" || fail "fell back to software"
zerospice_alive || fail "zerospice died"
log "PASS"
