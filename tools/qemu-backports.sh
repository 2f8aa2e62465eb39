#!/bin/bash
# Fetches QEMU from Debian 12's bookworm-backports (10.x, which has the
# org.qemu.Display1 Listener.Unix.Map path that 7.2 lacks) and unpacks it
# beside the system's QEMU 7.2, which stays installed and tested.
#
#   tools/qemu-backports.sh [DIR]    (default $ZS_QEMU10_DIR or
#                                     /var/cache/zerospice/qemu-10)
#
# Leaves DIR/qemu-system-x86_64, a wrapper that runs the unpacked binary
# with its own firmware (-L) and display modules (QEMU_MODULE_DIR: the
# D-Bus display is a module, and 7.2's would be refused). Every library
# 10.x needs for -display dbus is in bookworm itself, so no
# LD_LIBRARY_PATH is needed; the script checks that with ldd.
#
# Needs root (adds a bookworm-backports `deb` line, apt-get update of that
# suite only). Does nothing when DIR already holds a working QEMU. On
# failure it exits non-zero and writes the reason to DIR.failed, which
# the integration-qemu-10 test prints when it skips.
set -euo pipefail

dir=${1:-${ZS_QEMU10_DIR:-/var/cache/zerospice/qemu-10}}
list=/etc/apt/sources.list.d/zerospice-bookworm-backports.list
suite=bookworm-backports
pkgs=(qemu-system-x86 qemu-system-common qemu-system-data
	qemu-system-modules-opengl qemu-system-modules-spice seabios)
apt_opts=(-q -o Acquire::http::Timeout=30 -o Acquire::Retries=2
	-o APT::Sandbox::User=root)

case "$dir" in
"" | / | /usr | /var | /tmp) echo "qemu-backports: refusing DIR '$dir'" >&2; exit 2 ;;
esac

say() { echo "qemu-backports: $*" >&2; }
failed() {
	say "FAILED: $*"
	mkdir -p "$(dirname "$dir")"
	echo "$*" >"$dir.failed"
	exit 1
}

wrapper_ok() {
	[ -x "$dir/qemu-system-x86_64" ] &&
		"$dir/qemu-system-x86_64" -display help 2>/dev/null | grep -qx dbus
}

# QEMU's own SPICE server and QXL (tools/bench/compare --qemu 10) are in
# qemu-system-modules-spice. An unpack made before it was in the list gets
# the modules added beside the others; nothing in use is removed.
add_spice_modules() {
	local moddir work
	moddir=$(cd "$dir" && ls -d usr/lib/*/qemu | head -n 1)
	[ -n "$moddir" ] && [ ! -f "$dir/$moddir/ui-spice-core.so" ] || return 0
	work=$(mktemp -d "${TMPDIR:-/tmp}/zs-qemu-bpo.XXXXXX")
	if (cd "$work" && apt-get download "${apt_opts[@]}" \
		"qemu-system-modules-spice/$suite" >"$work/download.log" 2>&1) &&
		dpkg-deb -x "$work"/*.deb "$work/root"; then
		cp -n "$work/root/$moddir"/*.so "$dir/$moddir/"
		say "added QEMU's SPICE modules to $dir/$moddir"
	else
		say "could not add qemu-system-modules-spice (QEMU's own SPICE stays unavailable)"
	fi
	rm -rf "$work"
}

if wrapper_ok; then
	add_spice_modules
	say "$("$dir/qemu-system-x86_64" --version | head -n 1) already in $dir"
	rm -f "$dir.failed"
	exit 0
fi

[ "$(id -u)" = 0 ] || failed "needs root (apt sources and apt-get update)"
command -v apt-get >/dev/null || failed "no apt-get: not a Debian system"
. /etc/os-release
[ "${VERSION_CODENAME:-}" = bookworm ] ||
	failed "bookworm-backports is for Debian 12, this is ${PRETTY_NAME:-unknown}"

# Backports are NotAutomatic: adding the suite changes no installed package
# and no candidate version (apt-get install still picks 7.2).
if [ ! -f "$list" ]; then
	echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian $suite main" >"$list"
	say "added $list"
fi
# Only this suite's index: a slow or broken other source does not matter.
apt-get update "${apt_opts[@]}" -o Dir::Etc::sourcelist="$list" \
	-o Dir::Etc::sourceparts=/nonexistent -o APT::Get::List-Cleanup=0 \
	>/dev/null || failed "apt-get update of $suite failed (mirror unreachable?)"

work=$(mktemp -d "${TMPDIR:-/tmp}/zs-qemu-bpo.XXXXXX")
trap 'rm -rf "$work"' EXIT
(cd "$work" && apt-get download "${apt_opts[@]}" "${pkgs[@]/%//$suite}" \
	>"$work/download.log" 2>&1) ||
	failed "apt-get download from $suite failed: $(grep -E '^(E|Err):' "$work/download.log" | head -n 2 | tr '\n' ' ')"

mkdir -p "$work/root"
for deb in "$work"/*.deb; do
	dpkg-deb -x "$deb" "$work/root" || failed "dpkg-deb -x $(basename "$deb")"
	say "unpacked $(dpkg-deb -f "$deb" Package) $(dpkg-deb -f "$deb" Version)"
done

moddir=$(cd "$work/root" && ls -d usr/lib/*/qemu | head -n 1)
[ -n "$moddir" ] && [ -f "$work/root/$moddir/ui-dbus.so" ] ||
	failed "no ui-dbus.so module in the unpacked packages"
missing=$(for f in "$work/root/usr/bin/qemu-system-x86_64" "$work/root/$moddir/ui-dbus.so"; do
	ldd "$f" | awk '/not found/ { print $1 }'
done | sort -u | tr '\n' ' ')
[ -z "$missing" ] || failed "libraries missing for QEMU $suite: $missing"

cat >"$work/root/qemu-system-x86_64" <<EOF
#!/bin/sh
# QEMU from $suite, unpacked by zerospice's tools/qemu-backports.sh.
here=\$(dirname "\$(readlink -f "\$0")")
export QEMU_MODULE_DIR="\$here/$moddir"
exec "\$here/usr/bin/qemu-system-x86_64" -L "\$here/usr/share/seabios" \\
	-L "\$here/usr/share/qemu" "\$@"
EOF
chmod +x "$work/root/qemu-system-x86_64"

rm -rf "$dir"
mkdir -p "$(dirname "$dir")"
mv "$work/root" "$dir"
wrapper_ok || failed "the unpacked QEMU does not offer -display dbus"
rm -f "$dir.failed"
say "$("$dir/qemu-system-x86_64" --version | head -n 1) in $dir"
