#!/bin/bash
# zerospice-bench against zerospice for a few seconds: it exits 0, prints its
# summary, and writes a JSON file whose fields are present and sane (frames
# shown, ids, latencies positive, bytes received, the server process found)
# and an SVG plot. No timing thresholds: numbers belong to tools/bench.
. "$(dirname "$0")/../integration/lib.sh"
need python3
[ -x "${ZEROSPICE_BENCH:-}" ] || skip "zerospice-bench was not built (libspice-client-glib-2.0-dev missing)"

start_zerospice --source testpattern,size=640x360,fps=30 --trace-stages "$TMP/trace"

"$ZEROSPICE_BENCH" --connect "spice://127.0.0.1:$ZS_PORT" --duration 3 --warmup 1 \
	--label "integration" --json "$TMP/bench.json" --plot "$TMP/bench.svg" \
	--trace-stages "$TMP/trace" \
	>"$TMP/bench.out" 2>"$TMP/bench.log" || { cat "$TMP/bench.out" >&2; fail "zerospice-bench failed"; }
grep -q "^client 0: 640x360" "$TMP/bench.out" || fail "no summary line for client 0: $(head -n 3 "$TMP/bench.out")"

python3 - "$TMP/bench.json" "$ZS_PID" <<'PY' || fail "the JSON is not sane: $(head -c 600 "$TMP/bench.json")"
import json, math, sys
r = json.load(open(sys.argv[1]))
zs_pid = int(sys.argv[2])
def check(cond, what):
    if not cond:
        print("bench.sh: bad JSON field:", what, file=sys.stderr)
        sys.exit(1)
check(r["tool"] == "zerospice-bench", "tool")
check(r["label"] == "integration", "label")
check(2 <= r["duration_s"] <= 10, "duration_s %r" % r["duration_s"])
check(len(r["clients"]) == 1, "one client")
c = r["clients"][0]
check(c["connected"] is True, "connected")
check(c["surface"] == "640x360", "surface %r" % c["surface"])
check(c["frames_shown"] > 0 and c["fps"] > 0, "frames shown")
check(abs(c["fps"] * r["duration_s"] - c["frames_shown"]) < 1, "fps matches frames_shown")
check(c["frames_dropped"] >= 0 and c["frames_decoded"] > 0, "dropped/decoded")
check(c["bytes"] > 0 and c["bandwidth_kbps"] > 0, "bytes")
check(c["stream_decode_probe"] is True, "decoded frames seen in spice-gtk's pipeline")
check(c["stamp_clock"] == "host", "stamp clock %r" % c["stamp_clock"])
ow = c["one_way_ms"]
check(ow["n"] == c["frames_shown"] and len(ow["samples"]) == ow["n"], "one-way samples")
check(0 < ow["p50"] <= ow["p95"] <= ow["p99"] <= ow["max"], "one-way order %r" % ow)
dec = c["one_way_decoded_ms"]
check(dec["n"] > 0 and 0 < dec["p50"] <= ow["p50"] + 1e-6, "decoded before shown")
check(c["sched_delay_ms"]["n"] > 0 and c["sched_delay_ms"]["p50"] >= 0, "sched delay")
arr, uns, hold = c["one_way_arrival_ms"], c["one_way_unscheduled_ms"], c["sched_hold_ms"]
check(arr["n"] > 0 and arr["p50"] > 0, "arrival matched to decoded frames")
check(hold["n"] == uns["n"] > 0 and hold["p50"] >= 0, "hold %r" % hold)
check(uns["p50"] <= ow["p50"] + 1e-6, "one-way minus hold <= one-way")
check(len(c["fps_series"]) >= 2 and len(c["kbps_series"]) == len(c["fps_series"]) and len(c["one_way_series"]) == len(c["fps_series"]), "series")
s = r["server"]
check(s["pid"] == zs_pid and s["name"] == "zerospice", "server pid %r" % s)
check(s["cpu_cores"] is not None and s["cpu_cores"] > 0, "server cpu")
check(s["rss_kib_end"] > 1000 and s["rss_kib_after_client"][0] > 1000, "server rss")
check(r["harness"]["cpu_cores"] > 0, "harness cpu")
i = r["input_to_display_ms"]
check(i["kind"] == "key" and i["sent"] >= i["answered"] > 0, "probes %r" % {k: i[k] for k in ("sent", "answered", "lost")})
check(i["all"]["p50"] > 0 and len(i["all"]["samples"]) == i["answered"], "probe samples")
check(r["video_margin_ms"]["n"] > 0, "video margins")
# --trace-stages: the budget joined frames, and trace version 2 carried the
# client socket's send queue for frames in the measured window
bm = r["budget_ms"]
check(bm["frames_joined"] > 0 and bm["server_frames"] >= bm["frames_joined"], "budget joined")
q = bm["queue_kib"]
check(q["n"] > 0 and len(q["series"]) == q["n"], "queue samples %r" % q["n"])
check(0 <= q["socket_p50"] <= q["socket_p95"] <= q["socket_max"], "socket queue order")
check(all(len(p) == 4 and p[0] >= 0 and p[3] > 0 for p in q["series"]), "queue series points")
PY
grep -q "^# zerospice stage trace 3:" "$TMP/trace" || fail "trace header: $(head -n 1 "$TMP/trace")"
# every frame line (a test pattern has no key lines): 13 fields, and the
# last (display clients) is 1 once a client watched
awk '!/^#/ && NF != 13 { bad = 1 } !/^#/ && $13 == 1 { one = 1 } END { exit bad || !one }' \
	"$TMP/trace" || fail "trace lines: $(sed -n '2,3p' "$TMP/trace")"
head -c 200 "$TMP/bench.svg" | grep -q "<svg" || fail "no SVG plot"
log "$(sed -n '2,3p' "$TMP/bench.out" | tr -s ' ')"
log "PASS"
