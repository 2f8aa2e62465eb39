#!/bin/bash
# The binary's hardening (issue 9, item 12) and core dumps off while a
# ticket is held (item 10), checked on the built binary and the running
# process:
#  1. PIE, full RELRO (GNU_RELRO and BIND_NOW), a non-executable stack, the
#     stack protector; FORTIFY_SOURCE's checked calls in optimised builds
#     without ASan (meson.build leaves it out under ASan, which replaces
#     those calls);
#  2. zerospice run as nobody: with a ticket its /proc files belong to root
#     (PR_SET_DUMPABLE 0: no core dump, no ptrace by its own uid); without
#     one they belong to nobody (the check can tell the two apart).
. "$(dirname "$0")/../integration/lib.sh"
need readelf

# ---- 1. the binary ----
hdr=$(readelf -h "$ZEROSPICE")
dyn=$(readelf -d "$ZEROSPICE")
prog=$(readelf -lW "$ZEROSPICE")
syms=$(readelf -W --dyn-syms "$ZEROSPICE")
echo "$hdr" | grep -q "Type:.*DYN" || fail "not a position-independent executable: $(echo "$hdr" | grep Type:)"
echo "$prog" | grep -q "GNU_RELRO" || fail "no GNU_RELRO segment"
echo "$dyn" | grep -Eq "\(BIND_NOW\)|\(FLAGS\).*BIND_NOW|\(FLAGS_1\).*NOW" ||
	fail "partial RELRO only: no BIND_NOW"
echo "$prog" | grep "GNU_STACK" | grep -q "RW " || fail "executable stack: $(echo "$prog" | grep GNU_STACK)"
echo "$syms" | grep -q "__stack_chk_fail" || fail "no stack protector (__stack_chk_fail not used)"
fortify=$(echo "$syms" | grep -Eo "__[a-z0-9_]+_chk@" | sort -u | tr -d '@' | tr '\n' ' ')
# meson.build adds FORTIFY_SOURCE to optimised builds without ASan: the
# build says whether this one is (ZS_EXPECT_FORTIFY, tests/abuse/meson.build)
if [ "${ZS_EXPECT_FORTIFY:-0}" = 1 ]; then
	[ -n "$fortify" ] || fail "an optimised build without ASan calls no FORTIFY checked function"
else
	log "FORTIFY_SOURCE is left out of this build (unoptimised or ASan) by design"
fi
log "figures: PIE, GNU_RELRO + BIND_NOW, non-executable stack, stack protector; FORTIFY calls: ${fortify:-none}"

# ---- 2. core dumps off while a ticket is held ----
if [ "$(id -u)" -ne 0 ] || ! command -v setpriv >/dev/null; then
	log "not root or no setpriv: the dumpable check needs another uid; only the binary was checked"
	log "PASS"
	exit 0
fi
NOBODY=$(id -u nobody)
chmod 0711 "$TMP"
mkdir -m 0700 "$TMP/nobody"
printf 'hardening-ticket\n' >"$TMP/nobody/ticket"
chmod 600 "$TMP/nobody/ticket"
chown -R nobody "$TMP/nobody"

# owner_of_proc ARGS...: zerospice as nobody with ARGS; OWNER gets the
# owner uid of its /proc/PID/environ once it listens; then stops it
# (status 0).
owner_of_proc() {
	# (no stale banner from the previous run)
	rm -f "$TMP/nobody.out"
	# LeakSanitizer's exit check ptraces the process's threads, which a
	# non-dumpable process of an unprivileged uid does not allow
	ASAN_OPTIONS="${ASAN_OPTIONS:-}${ASAN_OPTIONS:+:}detect_leaks=0" G_DEBUG=fatal-criticals \
		setpriv --reuid="$NOBODY" --regid="$(id -g nobody)" --clear-groups \
		"$ZEROSPICE" --listen 127.0.0.1:0 --source testpattern,size=640x480,fps=10 "$@" \
		>"$TMP/nobody.out" 2>"$TMP/nobody.log" &
	local pid=$! rc
	for _ in $(seq 1 100); do
		grep -qs "listening on" "$TMP/nobody.out" && break
		kill -0 "$pid" 2>/dev/null || fail "zerospice as nobody exited at start: $(cat "$TMP/nobody.log")"
		sleep 0.1
	done
	OWNER=$(stat -c %u "/proc/$pid/environ")
	kill -TERM "$pid"
	wait "$pid"; rc=$?
	[ "$rc" -eq 0 ] || fail "zerospice as nobody exited $rc after SIGTERM: $(tail -n 5 "$TMP/nobody.log")"
}
owner_of_proc
without=$OWNER
owner_of_proc --ticket-file "$TMP/nobody/ticket"
with=$OWNER
log "figures: zerospice as uid $NOBODY: /proc/PID owned by uid $without without a ticket, by uid $with with one"
[ "$without" = "$NOBODY" ] || fail "without a ticket /proc/PID belongs to uid $without, not $NOBODY (the check cannot tell)"
[ "$with" = 0 ] || fail "with a ticket zerospice is still dumpable (/proc/PID owned by uid $with)"
log "PASS"
