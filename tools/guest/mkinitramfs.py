#!/usr/bin/env python3
"""Writes the benchmark guest's initramfs (gzip'd cpio "newc"): /init, the
kernel modules asked for with everything they depend on (read from each
module's .modinfo section: no depmod or modinfo needed), /modules.order in
load order, and /dev/console.

usage: mkinitramfs.py OUT.img INIT MODULES_DIR MODULE...
"""
import gzip
import os
import struct
import sys


def modinfo(path):
    """The .modinfo key=value strings of an ELF64 little-endian module."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:4] != b"\x7fELF" or data[4] != 2:
        raise SystemExit("%s: not an ELF64 module" % path)
    shoff, = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 0x3A)
    sections = []
    for i in range(shnum):
        name, _type, _flags, _addr, off, size = struct.unpack_from(
            "<IIQQQQ", data, shoff + i * shentsize)
        sections.append((name, off, size))
    _, stroff, _ = sections[shstrndx]
    info = {}
    for name, off, size in sections:
        end = data.index(b"\0", stroff + name)
        if data[stroff + name:end] != b".modinfo":
            continue
        for item in data[off:off + size].split(b"\0"):
            if b"=" in item:
                k, v = item.decode(errors="replace").split("=", 1)
                info.setdefault(k, v)
    return info


def main():
    if len(sys.argv) < 4:
        raise SystemExit(__doc__)
    out, init, moddir, wanted = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
    paths = {}
    for root, _dirs, files in os.walk(moddir):
        for fn in files:
            if fn.endswith(".ko"):
                paths[fn[:-3].replace("-", "_")] = os.path.join(root, fn)
    order, seen = [], set()

    def visit(name):
        name = name.replace("-", "_")
        if name in seen:
            return
        seen.add(name)
        if name not in paths:
            raise SystemExit("module %s not found under %s" % (name, moddir))
        for dep in filter(None, modinfo(paths[name]).get("depends", "").split(",")):
            visit(dep)
        order.append(name)

    for w in wanted:
        visit(w)

    entries = []  # (name, mode, data, rdev)
    for d in ("dev", "proc", "sys", "lib", "lib/modules"):
        entries.append((d, 0o040755, b"", (0, 0)))
    entries.append(("dev/console", 0o020600, b"", (5, 1)))
    with open(init, "rb") as f:
        entries.append(("init", 0o100755, f.read(), (0, 0)))
    for name in order:
        with open(paths[name], "rb") as f:
            entries.append(("lib/modules/%s.ko" % name, 0o100644, f.read(), (0, 0)))
    listing = "".join("/lib/modules/%s.ko\n" % n for n in order).encode()
    entries.append(("modules.order", 0o100644, listing, (0, 0)))

    blob = bytearray()
    for ino, (name, mode, data, rdev) in enumerate(entries + [("TRAILER!!!", 0, b"", (0, 0))], 1):
        nb = name.encode() + b"\0"
        hdr = "070701" + "".join("%08x" % v for v in (
            ino, mode, 0, 0, 1, 0, len(data), 0, 0, rdev[0], rdev[1], len(nb), 0))
        blob += hdr.encode() + nb
        blob += b"\0" * (-len(blob) % 4)
        blob += data
        blob += b"\0" * (-len(blob) % 4)
    with open(out + ".tmp", "wb") as f:
        f.write(gzip.compress(bytes(blob), 6))
    os.replace(out + ".tmp", out)
    print("initramfs: %s (%d modules: %s)" % (out, len(order), " ".join(order)))


main()
