#!/bin/bash
# A still screen gets sharp, and then nothing more is sent: zerospice's test
# pattern stands still from its first frame (a whole new picture, as after a
# big change on a desktop) at a tight 2 Mbit/s; a spice-client-glib client
# (zerospice-bench --psnr) watches it for 4 s and measures the luma PSNR of
# its picture against the source picture. (While the pattern moves, its
# static parts converge over many P frames anyway: the picture that needs
# refining is a new one.) With --refine on it must reach
# 45 dB; the server must encode a bounded number of refinement frames
# (ZS_ENCODER_REFINE_MAX) and none in the last 2 s; with --refine off the same
# measure stays below 45 dB (the threshold means something on this content).
# No timing thresholds: the client gets 4 s for what should take ~0.3 s.
. "$(dirname "$0")/../integration/lib.sh"
need python3
[ -x "${ZEROSPICE_BENCH:-}" ] || skip "zerospice-bench was not built (libspice-client-glib-2.0-dev missing)"
REFINE_MAX=6 # ZS_ENCODER_REFINE_MAX

# run_still ON|OFF: sets PSNR (final luma PSNR) and REFINED (server's count)
run_still() {
	ZS_DEBUG=1 start_zerospice --source testpattern,size=1280x720,fps=60,still-after=1 \
		--codec h264 --encoder software --bitrate 2000 --refine "$1"
	"$ZEROSPICE_BENCH" --connect "spice://127.0.0.1:$ZS_PORT" --duration 4 --warmup 0 \
		--probe none --psnr --quiet --json "$TMP/still-$1.json" \
		>"$TMP/bench-$1.out" 2>"$TMP/bench-$1.log" ||
		{ cat "$TMP/bench-$1.out" >&2; fail "zerospice-bench failed (--refine $1)"; }
	# refinement frames the server encoded, and how many in the last 2 s
	REFINED=$(grep -c "refine: level" "$TMP/zerospice.log")
	local before=$REFINED
	sleep 2
	REFINED_LATE=$(( $(grep -c "refine: level" "$TMP/zerospice.log") - before ))
	kill "$ZS_PID"; wait "$ZS_PID" 2>/dev/null
	cp "$TMP/zerospice.log" "$TMP/zerospice-$1.log"
	PSNR=$(python3 -c 'import json,sys; s=json.load(open(sys.argv[1]))["still"]; print(s["psnr_db_final"] if s["psnr_db_final"] is not None else -1)' "$TMP/still-$1.json") ||
		fail "no still section in the JSON"
	log "--refine $1: final luma PSNR $PSNR dB, $REFINED refinement frames, $REFINED_LATE later"
}

run_still on
python3 -c "import sys; sys.exit(0 if float(sys.argv[1]) >= 45 else 1)" "$PSNR" ||
	fail "still picture at $PSNR dB after 4 s with --refine on (want >= 45)"
[ "$REFINED" -ge 1 ] && [ "$REFINED" -le "$REFINE_MAX" ] ||
	fail "$REFINED refinement frames (want 1..$REFINE_MAX)"
[ "$REFINED_LATE" -eq 0 ] || fail "refinement went on: $REFINED_LATE frames in the 2 s after the run"
grep -q "refine: done after $REFINE_MAX frames" "$TMP/zerospice-on.log" ||
	fail "refinement did not finish"

run_still off
[ "$REFINED" -eq 0 ] || fail "--refine off encoded $REFINED refinement frames"
python3 -c "import sys; sys.exit(0 if float(sys.argv[1]) < 45 else 1)" "$PSNR" ||
	fail "without refinement the picture is already at $PSNR dB: the test cannot tell"
log "PASS"
