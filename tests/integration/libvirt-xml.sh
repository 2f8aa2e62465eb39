#!/bin/bash
# The libvirt XML the README gives for each session feature makes the QEMU
# options the README gives: libvirt's own QEMU driver translates it, in
# process, without a daemon (virsh -c 'qemu:///embed?root=DIR'
# domxml-to-native qemu-argv). Checks the guest agent and USB redirection
# chardevs, D-Bus audio and display, QEMU's clipboard (qemu-vdagent).
. "$(dirname "$0")/lib.sh"
for b in virsh qemu-system-x86_64 setpriv; do
	command -v "$b" >/dev/null || skip "$b is not installed (tools/debian-packages-optional.txt: libvirt-clients, qemu-system-x86)"
done
[ -e /usr/lib/x86_64-linux-gnu/libvirt/connection-driver/libvirt_driver_qemu.so ] ||
	skip "libvirt's QEMU driver is not installed (libvirt-daemon-driver-qemu)"

# as root the embedded driver wants the libvirt-qemu user: run as nobody
AS=()
if [ "$(id -u)" = 0 ]; then
	AS=(setpriv --reuid=nobody --regid=nogroup --clear-groups)
	chmod 711 "$TMP"
	mkdir -p "$TMP/lv"
	chown nobody:nogroup "$TMP/lv"
else
	mkdir -p "$TMP/lv"
fi

# domain.xml NAME, devices on stdin
domain() {
	{
		echo "<domain type='qemu'><name>$1</name><memory unit='MiB'>256</memory>"
		echo "<os><type arch='x86_64' machine='pc'>hvm</type></os><devices>"
		echo "<emulator>$(command -v qemu-system-x86_64)</emulator>"
		cat
		echo "</devices></domain>"
	} >"$TMP/lv/$1.xml"
}

to_argv() {
	"${AS[@]}" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME="$TMP/lv" \
		virsh -c "qemu:///embed?root=$TMP/lv/root" domxml-to-native \
		qemu-argv "$TMP/lv/$1.xml" >"$TMP/$1.argv" 2>"$TMP/$1-virsh.log" ||
		fail "libvirt refused $1.xml: $(tail -n 2 "$TMP/$1-virsh.log")"
}

# expect NAME STRING: the argv has STRING
expect() {
	grep -qF -- "$2" "$TMP/$1.argv" || fail "$1: no '$2' in: $(cat "$TMP/$1.argv")"
}

# the README's XML: guest agent, USB redirection (two ports), audio
domain agent <<'EOF'
<graphics type='dbus' p2p='yes'><audio id='1'/></graphics>
<audio id='1' type='dbus'/>
<sound model='ich9'><audio id='1'/></sound>
<video><model type='virtio' heads='1'/></video>
<controller type='usb' model='qemu-xhci'/>
<channel type='dbus'><source channel='org.spice-space.vdagent.0'/><target type='virtio' name='com.redhat.spice.0'/></channel>
<redirdev bus='usb' type='dbus'/>
<redirdev bus='usb' type='dbus'/>
EOF
to_argv agent
expect agent "-display dbus,p2p=on,audiodev=audio1"
expect agent '"id":"audio1","driver":"dbus"'
expect agent "dbus,id=charchannel0,name=org.spice-space.vdagent.0"
expect agent '"driver":"virtserialport"'
expect agent '"name":"com.redhat.spice.0"'
expect agent "dbus,id=charredir0,name=org.qemu.usbredir"
expect agent "dbus,id=charredir1,name=org.qemu.usbredir"
expect agent '"driver":"usb-redir","chardev":"charredir1"'
expect agent '"driver":"qemu-xhci"'
expect agent '"driver":"hda-duplex"'
log "agent, USB, audio: $(tr ' ' '\n' <"$TMP/agent.argv" | grep -E 'dbus|usb-redir' | tr '\n' ' ')"

# QEMU's clipboard (qemu-vdagent) instead of a bridged agent
domain clipboard <<'EOF'
<graphics type='dbus' p2p='yes'/>
<channel type='qemu-vdagent'><source><clipboard copypaste='yes'/></source><target type='virtio' name='com.redhat.spice.0'/></channel>
EOF
to_argv clipboard
expect clipboard "qemu-vdagent,id=charchannel0,name=vdagent,clipboard=on"
expect clipboard "\"name\":\"com.redhat.spice.0\""
log "QEMU's clipboard: $(tr ' ' '\n' <"$TMP/clipboard.argv" | grep -E 'qemu-vdagent' | tr '\n' ' ')"
log "PASS"
