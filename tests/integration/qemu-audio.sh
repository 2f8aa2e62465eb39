#!/bin/bash
# Guest sound reaches a SPICE client: QEMU (-audiodev dbus, the PC speaker
# on it) runs the benchmark guest with zsg.tone=1000; zerospice bridges
# QEMU's D-Bus audio to a SPICE playback channel; zs-audio-client
# (spice-client-glib) receives PCM whose dominant frequency is 1000 Hz, and
# then, with AC97 and the guest recording (zsg.mic=1), the client's 440 Hz
# microphone must be read by QEMU and heard in the guest at 440 Hz.
# Then Debian 12's QEMU 7.2,
# which crashes when a peer-to-peer client registers for audio: zerospice
# must leave audio off and QEMU must live.
#
# ZS_QEMU10: QEMU >= 8.1 (default: tools/qemu-backports.sh's QEMU 10).
. "$(dirname "$0")/lib.sh"
QEMU10=${ZS_QEMU10:-/var/cache/zerospice/qemu-10/qemu-system-x86_64}
need qemu-system-x86_64
[ -x "$QEMU10" ] || skip "no QEMU >= 8.1 at $QEMU10 (tools/qemu-backports.sh fetches it)"
[ -x "${AUDIO_CLIENT:-}" ] || skip "zs-audio-client was not built (spice-client-glib missing)"
top=$(cd "$(dirname "$0")/../.." && pwd)
out=$("$top/tools/guest/build.sh" "${ZS_GUEST_DIR:-$top/build/guest}" 2>"$TMP/guest-build.log")
rc=$?
[ $rc -eq 77 ] && skip "no test guest: $(grep SKIP "$TMP/guest-build.log")"
[ $rc -eq 0 ] || fail "tools/guest/build.sh failed"
kernel=$(echo "$out" | sed -n 1p)
initrd=$(echo "$out" | sed -n 2p)

# AC97 too: its output voice exists but stays silent, the speaker's plays
"$QEMU10" -machine pc,accel=tcg,pcspk-audiodev=snd0 -m 256 -nodefaults \
	-no-user-config -device VGA -audiodev dbus,id=snd0 \
	-device AC97,audiodev=snd0 \
	-display dbus,p2p=yes,audiodev=snd0 \
	-qmp "unix:$TMP/qmp.sock,server=on,wait=off" \
	-serial "file:$TMP/guest.log" -kernel "$kernel" -initrd "$initrd" \
	-append "console=ttyS0 loglevel=4 zsg.fps=10 zsg.tone=1000" \
	>"$TMP/qemu.log" 2>&1 &
EXTRA_PIDS=$!
log "qemu: $("$QEMU10" --version | head -n 1)"
start_zerospice --insecure-no-auth --source "qemu,qmp=$TMP/qmp.sock"
for _ in $(seq 1 360); do
	grep -q "PC speaker" "$TMP/guest.log" 2>/dev/null && break
	sleep 0.5
done
grep -q "PC speaker" "$TMP/guest.log" || fail "the guest did not start its tone"
grep -q "QEMU audio: playback listener registered" "$TMP/zerospice.log" ||
	fail "no playback listener registered with QEMU"

"$AUDIO_CLIENT" --port "$ZS_PORT" --seconds 4 --expect-hz 1000 --mic-hz 440 \
	>"$TMP/audio-client.log" 2>&1 || fail "playback: $(tail -n 2 "$TMP/audio-client.log")"
log "$(grep '^playback:' "$TMP/audio-client.log")"
grep -q "QEMU audio: playback voice .*Hz" "$TMP/zerospice.log" || fail "no playback voice logged"
zerospice_alive || fail "zerospice died"
kill "$ZS_PID"; wait "$ZS_PID" 2>/dev/null
kill $EXTRA_PIDS; wait $EXTRA_PIDS 2>/dev/null

# The client's microphone reaches the guest: AC97 on the same audiodev,
# the guest records (zsg.mic=1; ac97_clock=48000 spares snd-intel8x0 its
# clock measurement, which fails under TCG) and prints each 1 s window's
# level; the client sends a 440 Hz sine.
"$QEMU10" -machine pc,accel=tcg -m 256 -nodefaults -no-user-config \
	-device VGA -audiodev dbus,id=snd0 -device AC97,audiodev=snd0 \
	-display dbus,p2p=yes,audiodev=snd0 \
	-qmp "unix:$TMP/qmp-mic.sock,server=on,wait=off" \
	-serial "file:$TMP/guest-mic.log" -kernel "$kernel" -initrd "$initrd" \
	-append "console=ttyS0 loglevel=4 zsg.fps=5 zsg.mic=1 snd_intel8x0.ac97_clock=48000" \
	>"$TMP/qemu-mic.log" 2>&1 &
EXTRA_PIDS=$!
start_zerospice --insecure-no-auth --source "qemu,qmp=$TMP/qmp-mic.sock"
for _ in $(seq 1 360); do
	grep -q "QEMU starts recording" "$TMP/zerospice.log" && break
	sleep 0.5
done
grep -q "QEMU starts recording" "$TMP/zerospice.log" || fail "the guest never started recording"
before=$(grep -c "mic: .*rms" "$TMP/guest-mic.log")
"$AUDIO_CLIENT" --port "$ZS_PORT" --seconds 20 --mic-hz 440 \
	>"$TMP/audio-client-mic.log" 2>&1
grep -q "^record-start" "$TMP/audio-client-mic.log" || fail "the client's record channel was not started"
# the guest's capture mixer (AC97 record gain, QEMU's SetVolume on the
# record voice) reaches the client through spice-server
grep -q "^record-volume: " "$TMP/audio-client-mic.log" ||
	fail "the guest's record volume did not reach the client"
log "guest mixer to client: $(grep '^record-volume: ' "$TMP/audio-client-mic.log" | tail -n 1)"
grep -q "QEMU reads the client's microphone" "$TMP/zerospice.log" ||
	fail "QEMU did not read the client's microphone"
sleep 3
# each 1 s window: rms, the pitch (median dominant frequency of its 100 ms
# pieces that hold sound) and how many pieces held sound
windows=$(sed -n 's/.*mic: .*rms \([0-9]*\), dominant [0-9]* Hz, pitch \([0-9]*\) Hz in \([0-9]*\) of.*/\1 \2 \3/p' \
	"$TMP/guest-mic.log" | tail -n +$((before + 1)))
log "the guest's seconds (rms, pitch Hz, pieces with sound): $(echo "$windows" | tr '\n' ';')"
heard=$(echo "$windows" | awk '$1 > 500 { print; exit }')
[ -n "$heard" ] || fail "the guest recorded only silence: $(grep 'mic:' "$TMP/guest-mic.log" | tail -n 3)"
# the pitch QEMU delivered: 440 Hz within 5 % in a window with at least 5
# pieces of sound
pitched=$(echo "$windows" | awk '$3 >= 5 && $2 >= 418 && $2 <= 462 { print; exit }')
[ -n "$pitched" ] || fail "the guest heard sound but not 440 Hz (rms, pitch, pieces): $(echo "$windows" | tr '\n' ';')"
log "the guest recorded the client's 440 Hz microphone at $(echo "$pitched" | cut -d' ' -f2) Hz (rms $(echo "$pitched" | cut -d' ' -f1), $(echo "$pitched" | cut -d' ' -f3) pieces of 100 ms with sound)"
zerospice_alive || fail "zerospice died"
kill "$ZS_PID"; wait "$ZS_PID" 2>/dev/null
kill $EXTRA_PIDS; wait $EXTRA_PIDS 2>/dev/null

# QEMU 7.2 would crash if asked for audio over a peer-to-peer connection
qemu-system-x86_64 -machine pc,accel=tcg,pcspk-audiodev=snd0 -m 64 -nodefaults \
	-device VGA -audiodev dbus,id=snd0 -display dbus,p2p=yes,audiodev=snd0 \
	-qmp "unix:$TMP/qmp72.sock,server=on,wait=off" >"$TMP/qemu72.log" 2>&1 &
EXTRA_PIDS=$!
start_zerospice --insecure-no-auth --source "qemu,qmp=$TMP/qmp72.sock"
for _ in $(seq 1 40); do
	grep -q "QEMU audio: off" "$TMP/zerospice.log" && break
	sleep 0.25
done
grep -q "QEMU audio: off" "$TMP/zerospice.log" || fail "QEMU 7.2: audio was not left off"
sleep 2
kill -0 "$EXTRA_PIDS" || fail "QEMU 7.2 died"
zerospice_alive || fail "zerospice died with QEMU 7.2"
log "QEMU 7.2: audio left off, QEMU alive"
log "PASS"
