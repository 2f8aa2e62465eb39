#!/bin/bash
# Memory per SPICE client: starts zerospice (ZEROSPICE, default the build's)
# with SPICE_DEBUG_ALLOW_MC=1 on the test pattern, then N remote-viewer
# clients under Xvfb one after another (SETTLE seconds each), and prints
# zerospice's VmRSS after each, and the mean cost of each client after the
# first. Loopback only; bounded: N clients, N * SETTLE seconds.
# Usage: rss-per-client.sh [N] [SETTLE]
set -u
n=${1:-4}
settle=${2:-6}
zs=${ZEROSPICE:-$(dirname "$0")/../../build/server/zerospice}
tmp=$(mktemp -d /tmp/zs-rss.XXXXXX)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
SPICE_DEBUG_ALLOW_MC=1 "$zs" --listen 127.0.0.1:0 \
	--source testpattern,size=1280x720,fps=30 >"$tmp/out" 2>"$tmp/log" &
zpid=$!
pids+=("$zpid")
port=
for _ in $(seq 1 100); do
	port=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$tmp/out")
	[ -n "$port" ] && break
	sleep 0.1
done
[ -n "$port" ] || { echo "zerospice did not start" >&2; cat "$tmp/log" >&2; exit 1; }
Xvfb -displayfd 5 -screen 0 1600x1000x24 -nolisten tcp 5>"$tmp/xnum" 2>/dev/null &
pids+=("$!")
for _ in $(seq 1 100); do [ -s "$tmp/xnum" ] && break; sleep 0.1; done
export DISPLAY=":$(cat "$tmp/xnum")"
rss() { awk '/^VmRSS:/ { print $2 }' "/proc/$zpid/status"; }
sleep 2
echo "clients rss_kib"
echo "0 $(rss)"
first=
for i in $(seq 1 "$n"); do
	DISABLE_GSTVIDEOOVERLAY=1 remote-viewer "spice://127.0.0.1:$port" \
		>"$tmp/rv-$i.log" 2>&1 &
	pids+=("$!")
	sleep "$settle"
	r=$(rss)
	echo "$i $r"
	[ "$i" = 1 ] && first=$r
	last=$r
done
if [ "$n" -gt 1 ]; then
	echo "per extra client: $(( (last - first) / (n - 1) )) KiB"
fi
grep -c "refused a link" "$tmp/log" >/dev/null 2>&1 || true
