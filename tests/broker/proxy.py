#!/usr/bin/env python3
"""A co-located proxy as brokers run one: accepts SPICE connections on a
loopback port and hands each to zerospice through the control API's
AddClient, over one end of a socketpair, relaying bytes on the other end.

usage: proxy.py PORTFILE MAX_CONNECTIONS SECONDS CTL_COMMAND... (add-client
is appended, with --fd N and the remaining flags after '--')."""
import os
import selectors
import socket
import subprocess
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


def main():
    portfile, max_conns, seconds = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    rest = sys.argv[4:]
    extra = []
    if '--' in rest:
        i = rest.index('--')
        rest, extra = rest[:i], rest[i + 1:]
    deadline = time.time() + seconds
    ls = socket.socket()
    ls.bind(('127.0.0.1', 0))
    ls.listen(16)
    ls.settimeout(0.5)
    with open(portfile + '.tmp', 'w') as f:
        f.write(str(ls.getsockname()[1]))
    os.rename(portfile + '.tmp', portfile)
    handed = 0
    while handed < max_conns and time.time() < deadline:
        try:
            conn, _ = ls.accept()
        except socket.timeout:
            continue
        ours, theirs = socket.socketpair()
        fd = theirs.fileno()
        rc = subprocess.run(rest + ['add-client', '--fd', str(fd)] + extra,
                            pass_fds=[fd]).returncode
        theirs.close()
        if rc != 0:
            print('proxy: add-client failed with %d' % rc, file=sys.stderr)
            conn.close()
            ours.close()
            continue
        handed += 1
        print('proxy: handed connection %d' % handed, file=sys.stderr)
        threading.Thread(target=relay, args=(conn, ours, deadline),
                         daemon=True).start()
    # let the relays finish their session
    while time.time() < deadline and threading.active_count() > 1:
        time.sleep(0.2)


main()
