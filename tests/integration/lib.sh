# Shared helpers for integration tests: sourced by the test scripts.
# Environment from meson: ZEROSPICE (binary), STAMP_READ (zs-stamp-read).
set -u

TMP=$(mktemp -d /tmp/zs-it.XXXXXX)
ZS_PID=
XVFB_PID=
EXTRA_PIDS=

log() { printf '%s: %s\n' "$(basename "$0")" "$*" >&2; }
fail() { log "FAIL: $*"; dump_logs; exit 1; }
skip() { log "SKIP: $*"; exit 77; }

dump_logs() {
	for f in "$TMP"/*.log; do
		[ -f "$f" ] || continue
		echo "---- $(basename "$f") ----" >&2
		tail -n 40 "$f" >&2
	done
}

# zs_stop: SIGTERM, then zerospice must exit with status 0 within 20 s (a
# sanitizer report, a leak or a GLib critical at shutdown makes it
# non-zero). Returns 1 with the reason in ZS_STOP_ERROR otherwise. Clears
# ZS_PID. stop_zerospice: the same, failing the test.
zs_stop() {
	local pid=$ZS_PID rc
	ZS_STOP_ERROR=
	[ -n "$pid" ] || return 0
	ZS_PID=
	kill -TERM "$pid" 2>/dev/null
	for _ in $(seq 1 200); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then
		kill -KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
		ZS_STOP_ERROR="zerospice did not exit within 20 s of SIGTERM"
		return 1
	fi
	wait "$pid"; rc=$?
	if [ "$rc" != 0 ]; then
		ZS_STOP_ERROR="zerospice exited with status $rc after SIGTERM"
		return 1
	fi
}
stop_zerospice() { zs_stop || fail "$ZS_STOP_ERROR"; }

cleanup() {
	local rc=$?
	# A passing script must also shut down cleanly; a failing or skipping
	# one keeps its own status. zerospice goes first: the peers it serves
	# (QEMU among EXTRA_PIDS) going away first would end it with status 1
	# (source ended) by design.
	if [ -n "$ZS_PID" ]; then
		if [ "$rc" = 0 ]; then
			zs_stop || { log "FAIL: $ZS_STOP_ERROR"; dump_logs; rc=1; }
		else
			kill -KILL "$ZS_PID" 2>/dev/null
			wait "$ZS_PID" 2>/dev/null
		fi
	fi
	for pid in $EXTRA_PIDS $XVFB_PID; do
		kill "$pid" 2>/dev/null
	done
	for pid in $EXTRA_PIDS $XVFB_PID; do
		wait "$pid" 2>/dev/null
	done
	rm -rf "$TMP"
	exit "$rc"
}
trap cleanup EXIT

need() {
	for p in "$@"; do
		command -v "$p" >/dev/null 2>&1 || skip "$p is not installed"
	done
}

# start_zerospice ARGS... : starts zerospice on a free loopback port and sets
# ZS_PID, ZS_PORT. Output goes to $TMP/zerospice.log.
#
# zerospice runs with LeakSanitizer on (the clients keep test.sh's
# detect_leaks=0: they are not ours) and the reviewed suppressions in
# lsan-zerospice.supp, and with GLib criticals fatal.
ZS_LSAN_SUPP=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lsan-zerospice.supp
start_zerospice() {
	# emptied here, not only by the redirection below: that happens in
	# the background job, maybe after the first look for the port, which
	# would then find the previous zerospice's
	: >"$TMP/zerospice.out"
	ASAN_OPTIONS="${ASAN_OPTIONS:-}${ASAN_OPTIONS:+:}detect_leaks=1" \
	LSAN_OPTIONS="suppressions=$ZS_LSAN_SUPP:print_suppressions=0:fast_unwind_on_malloc=0" \
	G_DEBUG=fatal-criticals \
		"$ZEROSPICE" --listen 127.0.0.1:0 "$@" >"$TMP/zerospice.out" 2>"$TMP/zerospice.log" &
	ZS_PID=$!
	ZS_PORT=
	for _ in $(seq 1 100); do
		ZS_PORT=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$TMP/zerospice.out")
		[ -n "$ZS_PORT" ] && return 0
		kill -0 "$ZS_PID" 2>/dev/null || { cat "$TMP/zerospice.out" >&2; fail "zerospice exited at start"; }
		sleep 0.1
	done
	fail "zerospice did not report its port"
}

zerospice_alive() { kill -0 "$ZS_PID" 2>/dev/null; }

# zs_fd_count, zs_rss_kib: zerospice's open fds and resident memory.
zs_fd_count() { ls "/proc/$ZS_PID/fd" 2>/dev/null | wc -l; }
zs_rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$ZS_PID/status"; }

# screenshot OUT.ppm [ARGS...]: one spicy-screenshot of display 0.
screenshot() {
	local out=$1; shift
	timeout 30 spicy-screenshot -h 127.0.0.1 -p "$ZS_PORT" -o "$out" "$@" \
		>>"$TMP/spicy.log" 2>&1
}

# ppm_size FILE: prints "W H" from a P6 header (no comments: spicy writes none).
ppm_size() { head -c 64 "$1" | tr '\n' ' ' | awk '{ print $2, $3 }'; }

# stamp_field FILE KEY: one field of zs-stamp-read's output, empty if absent.
stamp_field() {
	"$STAMP_READ" "$1" 2>>"$TMP/stamp.log" | tr ' ' '\n' | sed -n "s/^$2=//p" | head -n 1
}

# ---- connection front: TLS, Xvfb, video margins ----

# zs_tls_port: the TLS port zerospice reported (start_zerospice with
# --tls-port 0), empty when it reported none.
zs_tls_port() {
	sed -n 's/.*TLS on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$TMP/zerospice.out"
}

# make_test_ca DIR NAME: a CA (DIR/ca-cert.pem) and a server certificate for
# 127.0.0.1 signed by it (DIR/server-cert.pem, DIR/server-key.pem), as
# --x509-dir wants them. Needs openssl.
make_test_ca() {
	local dir=$1 name=$2
	mkdir -p "$dir"
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=$name test CA" \
		-keyout "$dir/ca-key.pem" -out "$dir/ca-cert.pem" >>"$TMP/openssl.log" 2>&1 &&
	openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" \
		-keyout "$dir/server-key.pem" -out "$dir/server.csr" >>"$TMP/openssl.log" 2>&1 &&
	printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' >"$dir/ext.cnf" &&
	openssl x509 -req -in "$dir/server.csr" -CA "$dir/ca-cert.pem" \
		-CAkey "$dir/ca-key.pem" -CAcreateserial -days 2 \
		-extfile "$dir/ext.cnf" -out "$dir/server-cert.pem" >>"$TMP/openssl.log" 2>&1 ||
		fail "openssl could not make a test CA"
}

# start_xvfb: a private X server; sets XVFB_PID and DISPLAY.
start_xvfb() {
	Xvfb -displayfd 5 -screen 0 1600x1000x24 -nolisten tcp 5>"$TMP/xvfb.num" >"$TMP/xvfb.log" 2>&1 &
	XVFB_PID=$!
	for _ in $(seq 1 100); do [ -s "$TMP/xvfb.num" ] && break; sleep 0.1; done
	[ -s "$TMP/xvfb.num" ] || fail "Xvfb did not start"
	export DISPLAY=":$(cat "$TMP/xvfb.num")"
}

# video_margins LOG: the `video margin: N` values spice-gtk logged with
# SPICE_DEBUG=1 (one per received frame), oldest first.
video_margins() {
	sed -n 's/.*display-[0-9]*:[0-9]*: video margin: \(-\{0,1\}[0-9]*\)$/\1/p' "$1"
}

# wait_margins LOG N: waits (up to 60 s) until LOG has N video margins.
wait_margins() {
	for _ in $(seq 1 120); do
		[ "$(video_margins "$1" | wc -l)" -ge "$2" ] && return 0
		sleep 0.5
	done
	return 1
}
