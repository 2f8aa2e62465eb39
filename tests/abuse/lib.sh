# Shared by the abuse scripts: the integration helpers, plus the checks
# every case ends with: a real spicy-screenshot with the right ticket still
# gets a picture, and zerospice's fds and RSS come back within bounds.
. "$(dirname "$0")/../integration/lib.sh"

RAW="python3 $(dirname "$0")/spice_raw.py"
TICKET=abuse-ticket
# after a case: fds back to the baseline (+ this), RSS within this
FD_SLACK=2
RSS_SLACK_KIB=$((24 * 1024))
# AddressSanitizer keeps freed memory in a quarantine (256 MiB by default),
# so RSS grows without a leak: keep it small and allow for it.
if ldd "$ZEROSPICE" 2>/dev/null | grep -q libasan; then
	export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=16"
	RSS_SLACK_KIB=$((64 * 1024))
fi

# zs_fd_count and zs_rss_kib come from the integration helpers
zs_fds() { zs_fd_count; }

# start_abuse_server ARGS...: zerospice with a ticket file (mode 0600),
# then one screenshot to warm the encoder up, then the baseline.
start_abuse_server() {
	need spicy-screenshot python3
	printf '%s\n' "$TICKET" >"$TMP/ticket"
	chmod 600 "$TMP/ticket"
	ZS_DEBUG=1 start_zerospice --source testpattern,size=640x480,fps=30 \
		--ticket-file "$TMP/ticket" "$@"
	[ -r "/proc/$ZS_PID/fd" ] ||
		skip "cannot read /proc/$ZS_PID/fd (run as root or the same uid with ptrace rights)"
	screenshot "$TMP/warm.ppm" -w "$TICKET" || fail "no first screenshot"
	sleep 1
	BASE_FDS=$(zs_fds)
	BASE_RSS=$(zs_rss_kib)
	log "baseline: $BASE_FDS fds, RSS $BASE_RSS KiB"
}

# check_after CASE: the right ticket still gets a correct picture, and fds
# and RSS are back (waits up to 20 s for deadlines to close what is left).
check_after() {
	local name=$1 fds rss
	zerospice_alive || fail "$name: zerospice died"
	rm -f "$TMP/after.ppm"
	screenshot "$TMP/after.ppm" -w "$TICKET" || fail "$name: no screenshot with the right ticket afterwards"
	[ "$(ppm_size "$TMP/after.ppm")" = "640 480" ] || fail "$name: picture of size $(ppm_size "$TMP/after.ppm")"
	[ -n "$(stamp_field "$TMP/after.ppm" frame_id)" ] || fail "$name: no frame stamp in the picture"
	for _ in $(seq 1 40); do
		fds=$(zs_fds)
		[ "$fds" -le $((BASE_FDS + FD_SLACK)) ] && break
		sleep 0.5
	done
	rss=$(zs_rss_kib)
	log "figures: $name: fds $BASE_FDS -> $fds ($((fds - BASE_FDS))), RSS $BASE_RSS -> $rss KiB ($((rss - BASE_RSS)))"
	[ "$fds" -le $((BASE_FDS + FD_SLACK)) ] ||
		{ ls -l "/proc/$ZS_PID/fd" >&2; fail "$name: $fds fds, baseline $BASE_FDS"; }
	[ "$rss" -le $((BASE_RSS + RSS_SLACK_KIB)) ] || fail "$name: RSS $rss KiB, baseline $BASE_RSS KiB"
}

# start_zerospice_at HOST ARGS...: like start_zerospice (LeakSanitizer,
# fatal criticals) with a ticket file and the test pattern, but listening
# on HOST (inside a network namespace of the test's own); sets ZS_PID,
# ZS_PORT and ZS_TLS_PORT (empty without TLS).
start_zerospice_at() {
	local host=$1; shift
	# emptied before the background job's own redirection: the port must
	# not be read from the previous zerospice's output
	: >"$TMP/zerospice.out"
	ASAN_OPTIONS="${ASAN_OPTIONS:-}${ASAN_OPTIONS:+:}detect_leaks=1" \
	LSAN_OPTIONS="suppressions=$ZS_LSAN_SUPP:print_suppressions=0:fast_unwind_on_malloc=0" \
	G_DEBUG=fatal-criticals ZS_DEBUG=1 \
		"$ZEROSPICE" --listen "$host:0" --source testpattern,size=640x480,fps=30 \
		--ticket-file "$TMP/ticket" "$@" >"$TMP/zerospice.out" 2>"$TMP/zerospice.log" &
	ZS_PID=$!
	ZS_PORT= ZS_TLS_PORT=
	for _ in $(seq 1 100); do
		ZS_PORT=$(sed -n "s/.*listening on ${host//./\\.}:\\([0-9]*\\).*/\\1/p" "$TMP/zerospice.out")
		[ -n "$ZS_PORT" ] && break
		zerospice_alive || { cat "$TMP/zerospice.out" "$TMP/zerospice.log" >&2; fail "zerospice exited at start"; }
		sleep 0.1
	done
	[ -n "$ZS_PORT" ] || fail "zerospice did not report its port"
	ZS_TLS_PORT=$(sed -n "s/.*TLS on ${host//./\\.}:\\([0-9]*\\).*/\\1/p" "$TMP/zerospice.out")
}
