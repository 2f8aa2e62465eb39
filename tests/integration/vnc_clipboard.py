#!/usr/bin/python3
"""A second clipboard peer of QEMU for tests: a minimal VNC client speaking
QEMU's extended clipboard (ui/vnc-clipboard.c).

  vnc_clipboard.py SOCKET get OUT [TIMEOUT]  waits for QEMU to announce text
      (another peer grabbed the clipboard), asks for it, writes it to OUT
  vnc_clipboard.py SOCKET set FILE           puts FILE's bytes in QEMU's
      clipboard (legacy ClientCutText; QEMU takes at most 1 MiB)
"""
import socket
import struct
import sys
import zlib

CLIPBOARD_EXT = 0xC0A1E5CE
TEXT, CAPS, REQUEST, NOTIFY, PROVIDE = 1, 1 << 24, 1 << 25, 1 << 27, 1 << 28


def recv_exact(s, n):
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            raise EOFError("QEMU closed the VNC connection")
        buf += chunk
    return buf


def handshake(s):
    version = recv_exact(s, 12)
    if not version.startswith(b"RFB "):
        raise RuntimeError("not a VNC server: %r" % version)
    s.sendall(b"RFB 003.008\n")
    n = recv_exact(s, 1)[0]
    types = recv_exact(s, n)
    if 1 not in types:
        raise RuntimeError("VNC server wants authentication: %r" % types)
    s.sendall(b"\x01")
    if struct.unpack(">I", recv_exact(s, 4))[0] != 0:
        raise RuntimeError("VNC security handshake failed")
    s.sendall(b"\x01")  # ClientInit, shared
    recv_exact(s, 20)  # width, height, pixel format
    name_len = struct.unpack(">I", recv_exact(s, 4))[0]
    recv_exact(s, name_len)
    encodings = [0, CLIPBOARD_EXT - (1 << 32)]
    s.sendall(struct.pack(">BBH", 2, 0, len(encodings)) +
              b"".join(struct.pack(">i", e) for e in encodings))


def read_server_msg(s):
    """Returns (flags, payload) of an extended ServerCutText; skips others."""
    while True:
        kind = recv_exact(s, 1)[0]
        if kind == 2:  # bell
            continue
        if kind != 3:
            raise RuntimeError("unexpected VNC message %d" % kind)
        recv_exact(s, 3)
        length = struct.unpack(">i", recv_exact(s, 4))[0]
        if length >= 0:  # legacy cut text
            recv_exact(s, length)
            continue
        body = recv_exact(s, -length)
        return struct.unpack(">I", body[:4])[0], body[4:]


def client_cut_ext(s, flags, payload=b""):
    s.sendall(struct.pack(">B3xiI", 6, -(4 + len(payload)), flags) + payload)


def main():
    path, what = sys.argv[1], sys.argv[2]
    timeout = float(sys.argv[4]) if len(sys.argv) > 4 else 30
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(path)
    handshake(s)
    if what == "set":
        data = open(sys.argv[3], "rb").read()
        s.sendall(struct.pack(">B3xI", 6, len(data)) + data)
        # stay a while: QEMU asks nothing more of a legacy cut, but closing
        # at once would race its reading of the message
        try:
            while True:
                read_server_msg(s)
        except (socket.timeout, EOFError):
            pass
        return 0
    out = sys.argv[3]
    print("ready", flush=True)
    while True:
        flags, payload = read_server_msg(s)
        if flags & CAPS:
            continue
        if flags & NOTIFY and flags & TEXT:
            client_cut_ext(s, REQUEST | TEXT)
        elif flags & PROVIDE and flags & TEXT:
            break
    raw = zlib.decompressobj().decompress(payload)
    size = struct.unpack(">I", raw[:4])[0]
    with open(out, "wb") as f:
        f.write(raw[4:4 + size])
    return 0


if __name__ == "__main__":
    sys.exit(main())
