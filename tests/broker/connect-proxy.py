#!/usr/bin/env python3
"""A small HTTP CONNECT proxy, as Proxmox's spiceproxy or oVirt's squid are
for viewers: logs each CONNECT target and relays bytes. Loopback only,
bounded in time.

usage: connect-proxy.py PORTFILE LOGFILE SECONDS"""
import os
import selectors
import socket
import sys
import threading
import time


def relay(a, b, deadline):
    sel = selectors.DefaultSelector()
    sel.register(a, selectors.EVENT_READ, b)
    sel.register(b, selectors.EVENT_READ, a)
    try:
        while time.time() < deadline:
            for key, _ in sel.select(timeout=0.5):
                data = key.fileobj.recv(65536)
                if not data:
                    return
                key.data.sendall(data)
    except OSError:
        pass
    finally:
        a.close()
        b.close()


def handle(conn, log, deadline):
    conn.settimeout(10)
    head = b""
    try:
        while b"\r\n\r\n" not in head and len(head) < 8192:
            chunk = conn.recv(4096)
            if not chunk:
                conn.close()
                return
            head += chunk
        line = head.split(b"\r\n", 1)[0].decode("latin-1")
        method, target, _ = line.split(" ", 2)
        host, port = target.rsplit(":", 1)
        if method != "CONNECT" or host not in ("127.0.0.1", "localhost"):
            conn.sendall(b"HTTP/1.1 403 Forbidden\r\n\r\n")
            conn.close()
            return
        up = socket.create_connection((host, int(port)), timeout=10)
    except (OSError, ValueError):
        conn.close()
        return
    with open(log, "a") as f:
        f.write("CONNECT %s\n" % target)
    conn.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
    rest = head.split(b"\r\n\r\n", 1)[1]
    if rest:
        up.sendall(rest)
    conn.settimeout(None)
    up.settimeout(None)
    relay(conn, up, deadline)


def main():
    portfile, log, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])
    deadline = time.time() + seconds
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen(16)
    ls.settimeout(0.5)
    with open(portfile + ".tmp", "w") as f:
        f.write(str(ls.getsockname()[1]))
    os.rename(portfile + ".tmp", portfile)
    while time.time() < deadline:
        try:
            conn, _ = ls.accept()
        except socket.timeout:
            continue
        threading.Thread(target=handle, args=(conn, log, deadline),
                         daemon=True).start()


main()
