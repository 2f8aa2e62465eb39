#!/bin/bash
# zerospice under a real libvirt: libvirtd (Debian 12: 9.0) runs in this
# test only, unprivileged (qemu:///session: every path under this test's
# directory), and starts a transient domain with <graphics type='dbus'/>
# under TCG. libvirt then runs the VM's private dbus-daemon and QEMU with
# -display dbus,addr=…; the bus address is in the domain's live XML.
# zerospice attaches to that bus as the same user as QEMU (what libvirt's
# display helpers do) and spicy-screenshot must show the VM's picture:
# the benchmark guest's frame stamp at 1280x720 (then remote-viewer too,
# and a key typed in it reaches the guest), or, without the guest, the
# picture libvirt's own `virsh screenshot` takes.
#
# ZS_GUEST_DIR: where tools/guest/build.sh puts the benchmark guest.
# Skips (77) saying exactly what failed when libvirt cannot run here.
. "$(dirname "$0")/lib.sh"
need spicy-screenshot setpriv compare
for b in virsh qemu-system-x86_64 dbus-daemon; do
	command -v "$b" >/dev/null || skip "$b is not installed (tools/debian-packages-optional.txt: libvirt-clients, qemu-system-x86, dbus-daemon)"
done
LIBVIRTD=
for d in /usr/sbin/libvirtd /usr/sbin/virtqemud; do
	[ -x "$d" ] && { LIBVIRTD=$d; break; }
done
[ -n "$LIBVIRTD" ] || skip "neither libvirtd nor virtqemud is installed (libvirt-daemon, libvirt-daemon-driver-qemu)"
[ -e /usr/lib/x86_64-linux-gnu/libvirt/connection-driver/libvirt_driver_qemu.so ] ||
	skip "libvirt's QEMU driver is not installed (libvirt-daemon-driver-qemu)"

# libvirt's session mode is for a user other than root: as root, run it all
# (libvirtd, QEMU, zerospice) as nobody.
AS=()
if [ "$(id -u)" = 0 ]; then
	AS=(setpriv --reuid=nobody --regid=nogroup --clear-groups)
fi
LV=$TMP/lv
mkdir -p "$LV/home" "$LV/run"
chmod 711 "$TMP"
[ "$(id -u)" = 0 ] && chown -R nobody:nogroup "$LV"
chmod 700 "$LV/run"
ENVV=(env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME="$LV/home"
	XDG_RUNTIME_DIR="$LV/run" XDG_CONFIG_HOME="$LV/home/.config"
	XDG_CACHE_HOME="$LV/home/.cache" LANG=C.UTF-8)
as_user() { "${AS[@]}" "${ENVV[@]}" "$@"; }
virsh_s() { as_user virsh -q -c qemu:///session "$@"; }

LIBVIRTD_PID=
lv_cleanup() {
	if [ -n "$LIBVIRTD_PID" ]; then
		virsh_s destroy zs-lv >/dev/null 2>&1
		for f in "$LV/run/libvirt/virtlogd.pid" "$LV/run/libvirt/qemu/run/dbus/1-zs-lv-dbus.pid" \
			"$LV/run/libvirt/libvirtd.pid"; do
			[ -s "$f" ] && kill "$(cat "$f")" 2>/dev/null
		done
	fi
	cleanup
}
trap lv_cleanup EXIT

# not through as_user: $! must be libvirtd itself (setpriv and env exec)
"${AS[@]}" "${ENVV[@]}" "$LIBVIRTD" >"$TMP/libvirtd.log" 2>&1 &
LIBVIRTD_PID=$!
EXTRA_PIDS="$LIBVIRTD_PID"
for _ in $(seq 1 100); do
	[ -S "$LV/run/libvirt/libvirt-sock" ] && break
	kill -0 "$LIBVIRTD_PID" 2>/dev/null ||
		skip "libvirt cannot run here: $LIBVIRTD exited: $(tail -n 3 "$TMP/libvirtd.log" | tr '\n' ' ')"
	sleep 0.1
done
[ -S "$LV/run/libvirt/libvirt-sock" ] || skip "libvirt cannot run here: $LIBVIRTD made no socket in 10 s"
virsh_s version >"$TMP/virsh-version.log" 2>&1 ||
	skip "libvirt cannot run here: virsh cannot connect to qemu:///session: $(tail -n 2 "$TMP/virsh-version.log" | tr '\n' ' ')"
log "$(grep -i "running hypervisor\|library" "$TMP/virsh-version.log" | tr '\n' ';' | tr -s ' ')"

# The benchmark guest when it can be built, else the BIOS screen.
GUEST_OS=
if [ -n "${ZS_GUEST_DIR:-}" ] && "$(dirname "$0")/../../tools/guest/build.sh" "$ZS_GUEST_DIR" \
	>"$TMP/guest.out" 2>"$TMP/guest.log"; then
	cp "$ZS_GUEST_DIR/vmlinuz" "$ZS_GUEST_DIR/initrd.img" "$LV/"
	[ "$(id -u)" = 0 ] && chown nobody:nogroup "$LV/vmlinuz" "$LV/initrd.img"
	GUEST_OS="<kernel>$LV/vmlinuz</kernel><initrd>$LV/initrd.img</initrd>
    <cmdline>console=ttyS0 loglevel=4 video=1280x720 drm_kms_helper.fbdev_emulation=0</cmdline>"
	log "guest: the benchmark scene"
else
	log "guest: not built ($(tail -n 1 "$TMP/guest.log" 2>/dev/null)); the VM shows its BIOS screen"
fi

cat >"$LV/domain.xml" <<XML
<domain type='qemu'>
  <name>zs-lv</name>
  <memory unit='MiB'>256</memory>
  <vcpu>1</vcpu>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
    $GUEST_OS
  </os>
  <devices>
    <emulator>$(command -v qemu-system-x86_64)</emulator>
    <graphics type='dbus'/>
    <video><model type='vga'/></video>
    <serial type='file'><source path='$LV/serial.log'/></serial>
    <memballoon model='none'/>
  </devices>
</domain>
XML
[ "$(id -u)" = 0 ] && chown nobody:nogroup "$LV/domain.xml"
virsh_s create "$LV/domain.xml" >"$TMP/create.log" 2>&1 ||
	skip "libvirt cannot run here: virsh create failed: $(tr '\n' ' ' <"$TMP/create.log")"

# How a helper finds the VM's bus: the live XML's graphics address.
virsh_s dumpxml zs-lv >"$TMP/live.xml" 2>&1 || fail "virsh dumpxml failed"
BUS=$(sed -n "s|.*<graphics type='dbus' address='\([^']*\)'.*|\1|p" "$TMP/live.xml")
[ -n "$BUS" ] || fail "no dbus address in the live XML: $(grep graphics "$TMP/live.xml")"
log "VM bus: $BUS"
grep -q -- "-display dbus,addr=$BUS" "$LV/home/.cache/libvirt/qemu/log/zs-lv.log" ||
	fail "QEMU was not started on that bus: $(grep -o -- '-display [^ ]*' "$LV/home/.cache/libvirt/qemu/log/zs-lv.log")"

# The option libvirt passes its display helpers, where this build has it.
if "$ZEROSPICE" --help | grep -q -- "--dbus-address"; then
	ATTACH=(--dbus-address "$BUS")
else
	ATTACH=(--source "qemu,bus=$BUS")
fi
log "attaching with ${ATTACH[0]}"

# The VM's dbus-daemon runs as QEMU's user and lets only that user in
# (EXTERNAL auth): another user gets a clear error (docs/libvirt.md).
if [ "$(id -u)" = 0 ]; then
	timeout 20 "$ZEROSPICE" --listen 127.0.0.1:0 --insecure-no-auth "${ATTACH[@]}" \
		>"$TMP/root.out" 2>"$TMP/root.log"
	rc=$?
	[ "$rc" != 0 ] && [ "$rc" != 124 ] ||
		fail "zerospice as root on the VM's bus: exit $rc, expected a refusal"
	log "as root (not QEMU's user): exit $rc: $(grep -i error "$TMP/root.log" | tail -n 1)"
fi

"${AS[@]}" "$ZEROSPICE" --listen 127.0.0.1:0 --insecure-no-auth "${ATTACH[@]}" \
	>"$TMP/zerospice.out" 2>"$TMP/zerospice.log" &
ZS_PID=$!
for _ in $(seq 1 100); do
	ZS_PORT=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$TMP/zerospice.out")
	[ -n "$ZS_PORT" ] && break
	zerospice_alive || fail "zerospice exited: $(tail -n 3 "$TMP/zerospice.log")"
	sleep 0.1
done
[ -n "$ZS_PORT" ] || fail "zerospice did not listen"
for _ in $(seq 1 100); do
	grep -q "listener registered" "$TMP/zerospice.log" && break
	zerospice_alive || fail "zerospice exited: $(tail -n 3 "$TMP/zerospice.log")"
	sleep 0.1
done
grep -q "listener registered" "$TMP/zerospice.log" || fail "zerospice did not register on the VM's console"

if [ -n "$GUEST_OS" ]; then
	# the guest boots under TCG and starts drawing: its stamp at 1280x720
	ok=
	for i in $(seq 1 30); do
		screenshot "$TMP/shot.ppm" || fail "spicy-screenshot got no picture"
		if [ "$(ppm_size "$TMP/shot.ppm")" = "1280 720" ] &&
			[ -n "$(stamp_field "$TMP/shot.ppm" frame_id)" ]; then
			ok=1
			break
		fi
		sleep 2
	done
	[ -n "$ok" ] || fail "no 1280x720 picture with the guest's stamp in 60 s (last: $(ppm_size "$TMP/shot.ppm"))"
	id_a=$(stamp_field "$TMP/shot.ppm" frame_id)
	# a later picture with a later stamp (a screenshot may catch a frame
	# whose stamp does not read: try a few)
	id_b=
	for _ in $(seq 1 10); do
		sleep 1
		screenshot "$TMP/shot2.ppm" || fail "second screenshot failed"
		id_b=$(stamp_field "$TMP/shot2.ppm" frame_id)
		[ -n "$id_b" ] && [ "$id_b" -gt "$id_a" ] && break
	done
	[ -n "$id_b" ] && [ "$id_b" -gt "$id_a" ] || fail "the guest's picture did not move: frame $id_a then ${id_b:-none}"
	log "spicy-screenshot: guest frames $id_a, $id_b at 1280x720"

	# remote-viewer under Xvfb shows the guest too, and a key typed in it
	# reaches the guest through QEMU's keyboard on the VM's bus.
	if command -v remote-viewer >/dev/null && command -v Xvfb >/dev/null &&
		command -v xdotool >/dev/null && command -v import >/dev/null; then
		start_xvfb
		DISABLE_GSTVIDEOOVERLAY=1 remote-viewer "spice://127.0.0.1:$ZS_PORT" \
			>"$TMP/remote-viewer.log" 2>&1 &
		EXTRA_PIDS="$EXTRA_PIDS $!"
		found=
		for _ in $(seq 1 60); do
			import -window root "ppm:$TMP/root.ppm" 2>>"$TMP/import.log"
			[ -n "$(stamp_field "$TMP/root.ppm" frame_id)" ] && { found=1; break; }
			sleep 0.5
		done
		[ -n "$found" ] || fail "no guest frame stamp in the remote-viewer window"
		sx=$(stamp_field "$TMP/root.ppm" x)
		sy=$(stamp_field "$TMP/root.ppm" y)
		# the input stamp's count before typing (a grab may catch a
		# picture where it does not read: a few tries)
		ev0=$(stamp_field "$TMP/root.ppm" key_events)
		for _ in $(seq 1 20); do
			[ -n "$ev0" ] && break
			sleep 0.25
			import -window root "ppm:$TMP/root.ppm" 2>>"$TMP/import.log"
			ev0=$(stamp_field "$TMP/root.ppm" key_events)
		done
		[ -n "$ev0" ] || fail "the guest's input stamp does not read in remote-viewer's window"
		xdotool mousemove $((sx + 300)) $((sy + 300))
		sleep 0.3
		xdotool click 1
		sleep 0.3
		xdotool key a
		ok=
		for _ in $(seq 1 40); do
			sleep 0.25
			import -window root "ppm:$TMP/root.ppm" 2>>"$TMP/import.log"
			ev=$(stamp_field "$TMP/root.ppm" key_events)
			[ -n "$ev" ] && [ -n "$ev0" ] && [ "$ev" -gt "$ev0" ] && { ok=1; break; }
		done
		[ -n "$ok" ] || fail "a key typed in remote-viewer did not reach the guest (key events ${ev0:-?} -> ${ev:-?})"
		log "remote-viewer: guest shown, key events $ev0 -> $ev"
	else
		log "NOT CHECKED: remote-viewer (needs remote-viewer, Xvfb, xdotool, import)"
	fi
else
	sleep 3
	screenshot "$TMP/shot.ppm" || fail "spicy-screenshot got no picture"
	virsh_s screenshot zs-lv "$LV/virsh.ppm" >/dev/null 2>&1 || fail "virsh screenshot failed"
	cp "$LV/virsh.ppm" "$TMP/virsh.ppm"
	[ "$(ppm_size "$TMP/shot.ppm")" = "$(ppm_size "$TMP/virsh.ppm")" ] ||
		fail "sizes differ: SPICE $(ppm_size "$TMP/shot.ppm"), libvirt $(ppm_size "$TMP/virsh.ppm")"
	psnr=$(compare -metric PSNR "$TMP/shot.ppm" "$TMP/virsh.ppm" null: 2>&1 | awk '{ print $1 }')
	awk -v p="$psnr" 'BEGIN { exit !(p == "inf" || p + 0 >= 30) }' || fail "PSNR $psnr dB < 30 against virsh screenshot"
	log "spicy-screenshot matches virsh screenshot: $(ppm_size "$TMP/shot.ppm"), PSNR $psnr dB"
fi
zerospice_alive || fail "zerospice died"

# The VM goes away: zerospice ends with an error, saying so.
virsh_s destroy zs-lv >/dev/null 2>&1 || fail "virsh destroy failed"
for _ in $(seq 1 100); do zerospice_alive || break; sleep 0.1; done
zerospice_alive && fail "zerospice still runs 10 s after the VM was destroyed"
wait "$ZS_PID"; rc=$?
ZS_PID=
[ "$rc" != 0 ] || fail "zerospice exited 0 when its VM went away"
log "VM destroyed: zerospice exited $rc: $(grep -i 'error' "$TMP/zerospice.log" | tail -n 1)"
log "PASS"
