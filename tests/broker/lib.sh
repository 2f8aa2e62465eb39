# Helpers for the broker tests, on top of tests/integration/lib.sh.
# Environment from meson: ZEROSPICE, ZEROSPICE_CTL, STAMP_READ, MANPAGE,
# BROKER_EXAMPLE.
. "$(dirname "$0")/../integration/lib.sh"

CONTROL="$TMP/control.sock"

# ctl ARGS...: zerospice-ctl on the --control socket of start_zerospice.
ctl() { "$ZEROSPICE_CTL" --control "unix:$CONTROL" "$@"; }

# expect_ctl_error PATTERN ARGS...: the call fails (exit 1) with PATTERN on
# stderr.
expect_ctl_error() {
	local pattern=$1; shift
	ctl "$@" >"$TMP/ctl.out" 2>"$TMP/ctl.err"
	local rc=$?
	[ "$rc" = 1 ] || fail "zerospice-ctl $* exited $rc, expected 1 ($(cat "$TMP/ctl.err"))"
	grep -q -- "$pattern" "$TMP/ctl.err" || fail "zerospice-ctl $*: '$pattern' not in: $(cat "$TMP/ctl.err")"
}

# screenshot_pw OUT PASSWORD [PORT]: spicy-screenshot with a password;
# returns its status (non-zero when refused).
screenshot_pw() {
	rm -f "$1"
	timeout 30 spicy-screenshot -h 127.0.0.1 -p "${3:-$ZS_PORT}" -w "$2" \
		-o "$1" >>"$TMP/spicy.log" 2>&1 && [ -s "$1" ]
}

# wait_for COUNT CMD...: retries CMD every 0.1 s, COUNT times.
wait_for() {
	local n=$1; shift
	for _ in $(seq 1 "$n"); do "$@" && return 0; sleep 0.1; done
	return 1
}

# start_bus: a private dbus-daemon (tests/broker/bus.conf); sets BUS and
# BUS_PID (added to EXTRA_PIDS).
start_bus() {
	need dbus-daemon
	dbus-daemon --config-file="$(dirname "$0")/bus.conf" --nofork \
		--print-address=5 5>"$TMP/bus.addr" 2>"$TMP/dbus.log" &
	BUS_PID=$!
	EXTRA_PIDS="$EXTRA_PIDS $BUS_PID"
	wait_for 50 test -s "$TMP/bus.addr" || fail "dbus-daemon did not start"
	BUS=$(head -n 1 "$TMP/bus.addr")
}
