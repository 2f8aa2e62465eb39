#!/bin/bash
# The command line a user and a broker see: help, version, errors with a
# reason and the right exit codes, clean exit on SIGTERM/SIGINT.
. "$(dirname "$0")/lib.sh"

"$ZEROSPICE" --help >"$TMP/help" || fail "--help exited non-zero"
for opt in --source --listen --ticket-file --codec --encoder --bitrate --max-fps; do
	grep -q -- "$opt" "$TMP/help" || fail "--help does not mention $opt"
done
"$ZEROSPICE" --version | grep -Eq '^zerospice [0-9]+\.[0-9]+' || fail "--version"

expect_exit() { # CODE PATTERN ARGS...
	local code=$1 pattern=$2; shift 2
	timeout 20 "$ZEROSPICE" "$@" >"$TMP/out" 2>"$TMP/err"
	local rc=$?
	[ "$rc" = "$code" ] || fail "zerospice $* exited $rc, expected $code ($(cat "$TMP/err"))"
	grep -q -- "$pattern" "$TMP/err" || fail "zerospice $*: stderr lacks '$pattern': $(cat "$TMP/err")"
	[ "$(wc -l <"$TMP/err")" -ge 1 ] || fail "no message"
}
expect_exit 2 "unknown option" --frobnicate
expect_exit 2 "--codec" --codec theora
expect_exit 2 "without a password" --listen 0.0.0.0:5900
expect_exit 1 "cannot read ticket file" --listen 127.0.0.1:0 --ticket-file "$TMP/missing"

# a busy port: a second server on the first one's port
start_zerospice
expect_exit 1 "Address already in use" --listen "127.0.0.1:$ZS_PORT"

# clean shutdown on SIGTERM and SIGINT: exit 0
kill -TERM "$ZS_PID"
wait "$ZS_PID"; rc=$?
[ "$rc" = 0 ] || fail "exit status $rc after SIGTERM"
start_zerospice
kill -INT "$ZS_PID"
wait "$ZS_PID"; rc=$?
[ "$rc" = 0 ] || fail "exit status $rc after SIGINT"
ZS_PID=
log "PASS"
