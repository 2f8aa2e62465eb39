#!/bin/bash
# Builds the benchmark guest: Debian's own kernel (downloaded as a package
# and unpacked, never installed on the host) and an initramfs whose /init is
# zs-guest-scene, a static program drawing an animated 1280x720 desktop with
# the zerospice frame stamp (tools/guest/scene.c).
#
#   tools/guest/build.sh [OUTDIR]     default: build/guest in the source tree
#
# Also builds OUTDIR/agent-initrd.img, the agent test guest (/init is
# tools/guest/agent.c, for tests/integration/qemu-agent.sh).
#
# Prints the OUTDIR/vmlinuz and OUTDIR/initrd.img paths. Cached: the kernel
# is fetched once; the initramfs is rebuilt when its sources change. Exits
# 77 with the reason when something it needs is missing.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:-$top/build/guest}
skip() { echo "guest/build.sh: SKIP: $*" >&2; exit 77; }
for t in apt-get apt-cache dpkg-deb cc python3; do
	command -v "$t" >/dev/null || skip "$t is not installed"
done
[ -e /usr/lib/x86_64-linux-gnu/libc.a ] || skip "static glibc (libc6-dev) is missing"
[ -e /usr/include/libdrm/drm_mode.h ] || skip "DRM headers (libdrm-dev) are missing"
mkdir -p "$out"

# kernel: the version linux-image-amd64 points at
if [ ! -s "$out/vmlinuz" ] || [ ! -d "$out/modules" ]; then
	pkg=$(apt-cache depends linux-image-amd64 2>/dev/null |
		awk '/Depends: linux-image-[0-9]/ { print $2; exit }')
	[ -n "$pkg" ] || skip "apt knows no linux-image-amd64 (run apt-get update)"
	rm -rf "$out/deb" "$out/kernel-root"
	mkdir -p "$out/deb"
	(cd "$out/deb" && apt-get download "$pkg" >"$out/apt.log" 2>&1) ||
		skip "apt-get download $pkg failed: $(tail -n 1 "$out/apt.log")"
	dpkg-deb -x "$out"/deb/*.deb "$out/kernel-root"
	kver=$(ls "$out/kernel-root/lib/modules" | head -n 1)
	cp "$out/kernel-root/boot/vmlinuz-$kver" "$out/vmlinuz.tmp"
	rm -rf "$out/modules"
	mv "$out/kernel-root/lib/modules/$kver/kernel" "$out/modules"
	echo "$kver" >"$out/kernel-version"
	rm -rf "$out/kernel-root" "$out/deb"
	mv "$out/vmlinuz.tmp" "$out/vmlinuz"
fi

# /init: static, so the initramfs needs no libc
src=$top/tools/guest/scene.c
if [ ! -x "$out/init" ] || [ "$src" -nt "$out/init" ] ||
   [ "$top/tools/guest/sound.c" -nt "$out/init" ] ||
   [ "$top/dmabuf/stamp.c" -nt "$out/init" ] || [ "$top/dmabuf/zs-stamp.h" -nt "$out/init" ]; then
	cc -static -O2 -std=gnu11 -Wall -Wextra -Wno-unused-parameter \
		-I "$top/dmabuf" -I /usr/include/libdrm \
		"$src" "$top/tools/guest/sound.c" "$top/dmabuf/stamp.c" -lm \
		-o "$out/init.tmp"
	mv "$out/init.tmp" "$out/init"
fi

# display drivers for -device VGA (bochs), -vga qxl (qxl) and virtio-gpu;
# PS/2 mouse and the evdev interface for input (atkbd is built in); AC97
# sound (snd-intel8x0) for zsg.mic
mk=$top/tools/guest/mkinitramfs.py
if [ ! -s "$out/initrd.img" ] || [ "$out/init" -nt "$out/initrd.img" ] ||
   [ "$mk" -nt "$out/initrd.img" ]; then
	python3 "$mk" "$out/initrd.img" "$out/init" "$out/modules" \
		bochs qxl virtio-gpu virtio_pci evdev psmouse snd-intel8x0 >&2
fi
# the agent test guest: /init is zs-guest-agent (tools/guest/agent.c), a
# clipboard-only SPICE guest agent on the virtio-serial port
asrc=$top/tools/guest/agent.c
if [ ! -x "$out/agent-init" ] || [ "$asrc" -nt "$out/agent-init" ]; then
	cc -static -O2 -std=gnu11 -Wall -Wextra -Wno-unused-parameter \
		$(pkg-config --cflags spice-protocol) "$asrc" -o "$out/agent-init.tmp"
	mv "$out/agent-init.tmp" "$out/agent-init"
fi
if [ ! -s "$out/agent-initrd.img" ] || [ "$out/agent-init" -nt "$out/agent-initrd.img" ] ||
   [ "$mk" -nt "$out/agent-initrd.img" ]; then
	python3 "$mk" "$out/agent-initrd.img" "$out/agent-init" "$out/modules" \
		virtio_pci virtio_console >&2
fi
echo "kernel $(cat "$out/kernel-version"): $out/vmlinuz" >&2
echo "$out/vmlinuz"
echo "$out/initrd.img"
