#!/bin/bash
# --metrics: the Prometheus endpoint, read with the Prometheus project's own
# text parser (python3-prometheus-client). Checks the figures against what
# happens: nothing streamed without a client; with one real client
# (zerospice-bench, spice-client-glib) frames flow, the client is listed
# with its connections and the bytes its TCP acknowledged; it is gone after
# it leaves. Then 500 scrapes must not grow zerospice's memory.
. "$(dirname "$0")/lib.sh"
# Debian's python3 has the parser; a python3 earlier on PATH may not.
PY=
for p in python3 /usr/bin/python3; do
	"$p" -c 'import prometheus_client.parser' 2>/dev/null && { PY=$p; break; }
done
[ -n "$PY" ] || skip "python3-prometheus-client is not installed"
[ -n "${ZEROSPICE_BENCH:-}" ] && [ -x "$ZEROSPICE_BENCH" ] ||
	skip "zerospice-bench was not built (spice-client-glib-2.0 missing)"

# ASan keeps freed memory in quarantine (RSS grows with every allocation,
# leaked or not): without it, RSS measures what the process really keeps.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=0"

start_zerospice --source testpattern,size=640x360,fps=30 --metrics 127.0.0.1:0
M_PORT=$(sed -n 's|.*metrics on http://127\.0\.0\.1:\([0-9]*\)/metrics$|\1|p' "$TMP/zerospice.out")
[ -n "$M_PORT" ] || fail "zerospice did not report its metrics address"
URL="http://127.0.0.1:$M_PORT/metrics"
log "metrics on $URL"

# scrape [EXPR...]: prints "ok" or why not; each EXPR is a Python
# expression over m (name -> value for unlabelled samples), c (client
# address -> {field: value}), info (stream_info labels).
cat >"$TMP/scrape.py" <<'PY'
import sys, urllib.request
from prometheus_client.parser import text_string_to_metric_families
url, exprs = sys.argv[1], sys.argv[2:]
with urllib.request.urlopen(url, timeout=5) as r:
    ctype = r.headers.get("Content-Type", "")
    text = r.read().decode()
assert ctype.startswith("text/plain; version=0.0.4"), ctype
m, c, info, enc = {}, {}, {}, None
for fam in text_string_to_metric_families(text):
    for s in fam.samples:
        if "client" in s.labels:
            c.setdefault(s.labels["client"], {})[s.name] = s.value
        elif s.name == "zerospice_stream_info":
            info = dict(s.labels)
        elif s.name == "zerospice_encoder_info":
            enc = s.labels["encoder"]
        else:
            m[s.name] = s.value
for e in exprs:
    if not eval(e):
        print("false: %s  (m=%r c=%r info=%r)" % (e, m, c, info))
        sys.exit(1)
print("ok")
PY
check() { "$PY" "$TMP/scrape.py" "$URL" "$@"; }

# A connection that never sends a request: zerospice drops it (10 s).
"$PY" - "$M_PORT" >"$TMP/idle.txt" 2>&1 <<'PY' &
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.settimeout(60)
t = time.time()
try:
    d = s.recv(100)
    print("closed %.1f %d" % (time.time() - t, len(d)))
except OSError as e:
    print("error %s" % e)
PY
IDLE_PID=$!

sleep 1.5
out=$(check 'm["zerospice_frames_in_total"] > 0' \
	'm["zerospice_clients_connected"] == 0' \
	'm["zerospice_frames_sent_total"] == 0' 'info["codec"] == "none"' \
	'not c' 'm["zerospice_start_time_seconds"] > 1.6e9') ||
	fail "before any client: $out"
log "no client: source frames counted, nothing sent"

"$ZEROSPICE_BENCH" -c "spice://127.0.0.1:$ZS_PORT" -d 6 -w 1 -q --no-margins \
	-j "$TMP/bench.json" >"$TMP/bench.log" 2>&1 &
BENCH_PID=$!
EXTRA_PIDS="$BENCH_PID"
ok=
for _ in $(seq 1 60); do
	if check 'm["zerospice_clients_connected"] == 1' \
		'm["zerospice_frames_sent_total"] >= 30' >/dev/null 2>&1; then
		ok=1
		break
	fi
	kill -0 "$BENCH_PID" 2>/dev/null || break
	sleep 0.5
done
[ -n "$ok" ] || fail "no connected client with frames sent: $(check 'm["zerospice_clients_connected"] == 1' 'm["zerospice_frames_sent_total"] >= 30')"
# All of the client's bytes: the stream plus the other channels, less
# what is still in flight (a frame at most at these sizes).
out=$(check 'list(c) == ["127.0.0.1"]' \
	'c["127.0.0.1"]["zerospice_client_connections"] >= 3' \
	'c["127.0.0.1"]["zerospice_client_bytes_sent_total"] >= 0.5 * m["zerospice_stream_bytes_total"]' \
	'c["127.0.0.1"]["zerospice_client_bytes_sent_total"] > 0' \
	'c["127.0.0.1"]["zerospice_client_connected_since_seconds"] >= m["zerospice_start_time_seconds"]' \
	'info["codec"] == "h264" and info["width"] == "640" and info["height"] == "360"' \
	'm["zerospice_fps_out"] > 0' 'm["zerospice_bitrate_bits_per_second"] > 0' \
	'm["zerospice_link_pacing_bits_per_second"] == 0' \
	'0 < m["zerospice_encode_seconds_p50"] < 5' \
	'0 < m["zerospice_latency_seconds_p50"] < 5' \
	'm["zerospice_cpu_pixel_bytes_total"] >= 640 * 360 * m["zerospice_frames_encoded_total"]' \
	'm["zerospice_keyframes_total"] >= 1' 'enc.startswith("gst:")') ||
	fail "with one client: $out"
log "one client: listed with its connections and acknowledged bytes"

wait "$BENCH_PID" || fail "zerospice-bench failed: $(tail -n 5 "$TMP/bench.log")"
EXTRA_PIDS=
ok=
for _ in $(seq 1 20); do
	check 'm["zerospice_clients_connected"] == 0' 'not c' >/dev/null 2>&1 && { ok=1; break; }
	sleep 0.5
done
[ -n "$ok" ] || fail "the client is still listed after it left: $(check 'not c')"
log "client gone: no longer listed"

# Not found, wrong method: HTTP errors, the endpoint stays up.
code=$("$PY" - "$M_PORT" <<'PY'
import sys, http.client
codes = []
for method, path in (("GET", "/"), ("GET", "/metricsx"), ("POST", "/metrics")):
    h = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]), timeout=5)
    h.request(method, path)
    codes.append(str(h.getresponse().status))
print(" ".join(codes))
PY
)
[ "$code" = "404 404 405" ] || fail "expected 404 404 405, got $code"

# Memory and fds: RSS after 100 scrapes, then after 500 more, each on its
# own connection as curl-like scrapers do (libsoup 3.2 on its own kept an
# fd and a socket object for each).
rss_kib() { sed -n 's/^VmRSS:[[:space:]]*\([0-9]*\).*/\1/p' "/proc/$ZS_PID/status"; }
fds() { ls "/proc/$ZS_PID/fd" | wc -l; }
"$PY" - "$URL" 100 <<'PY' || fail "warm-up scrapes failed"
import sys, urllib.request
for _ in range(int(sys.argv[2])):
    urllib.request.urlopen(sys.argv[1], timeout=5).read()
PY
rss_a=$(rss_kib)
fds_a=$(fds)
"$PY" - "$URL" 500 <<'PY' || fail "500 scrapes failed"
import sys, urllib.request
for _ in range(int(sys.argv[2])):
    urllib.request.urlopen(sys.argv[1], timeout=5).read()
PY
rss_b=$(rss_kib)
fds_b=$(fds)
growth=$((rss_b - rss_a))
log "fds: $fds_a after 100 scrapes, $fds_b after 500 more"
[ "$fds_b" -le $((fds_a + 2)) ] || fail "zerospice holds $((fds_b - fds_a)) more fds after 500 scrapes"
log "RSS ${rss_a} KiB after 100 scrapes, ${rss_b} KiB after 500 more (${growth} KiB)"
# A scrape's body is ~4 KiB: keeping even a tenth of it per scrape would
# grow RSS by ~200 KiB over 500 scrapes (libsoup's own listener lost
# ~170 KiB per 500 connections here).
[ "$growth" -le 128 ] || fail "RSS grew by $growth KiB over 500 scrapes"
for _ in $(seq 1 150); do [ -s "$TMP/idle.txt" ] && break; sleep 0.1; done
wait "$IDLE_PID" 2>/dev/null
read -r what secs _ <"$TMP/idle.txt" || true
[ "$what" = closed ] && awk -v s="$secs" 'BEGIN { exit !(s >= 9 && s <= 20) }' ||
	fail "an idle connection was not dropped after 10 s: $(cat "$TMP/idle.txt")"
log "an idle connection was dropped after $secs s"
zerospice_alive || fail "zerospice died"
log "PASS"
