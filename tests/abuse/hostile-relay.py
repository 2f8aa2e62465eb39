#!/usr/bin/env python3
"""A hostile middlebox for abuse tests (issue 9 items 14/15).

Listens on 127.0.0.1 and relays every connection to zerospice. Client bytes
pass untouched; the server's bytes are cut into 4 KiB chunks and each pair
is swapped, so a stock client reads nonsense and answers with nonsense. The
first --clean-bytes of each connection pass untouched, and a chunk that
stays incomplete for --flush-ms goes out as is, so the link exchange and
the main channel's network test get through and the client goes on to open
its other channels.

Bounded: exits after --max-seconds, and keeps at most --max-conns open.
Prints "relay listening on 127.0.0.1:PORT" once ready.
"""
import argparse
import selectors
import socket
import sys
import time

CHUNK = 4096
MAX_QUEUED = 8 << 20


class Pair:
    def __init__(self, client, server, clean_bytes):
        self.clean_left = clean_bytes
        self.client = client
        self.server = server
        self.pending = b""       # server bytes not yet swapped
        self.pending_since = 0.0
        self.to_client = b""
        self.to_server = b""
        self.swapped = 0
        self.link_seen = False

    def take_server(self, data, now):
        if self.clean_left:
            n = min(self.clean_left, len(data))
            self.to_client += data[:n]
            self.clean_left -= n
            data = data[n:]
            if not data:
                return
        if not self.pending:
            self.pending_since = now
        self.pending += data
        while len(self.pending) >= 2 * CHUNK:
            a = self.pending[:CHUNK]
            b = self.pending[CHUNK:2 * CHUNK]
            self.to_client += b + a
            self.pending = self.pending[2 * CHUNK:]
            self.pending_since = now
            self.swapped += 1

    def flush_stale(self, now, flush_s):
        if self.pending and now - self.pending_since >= flush_s:
            self.to_client += self.pending
            self.pending = b""


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--target-port", type=int, required=True)
    ap.add_argument("--max-seconds", type=float, default=120)
    ap.add_argument("--max-conns", type=int, default=64)
    ap.add_argument("--flush-ms", type=float, default=30)
    # spice-server's first main-channel bytes carry a 256000-byte network
    # test: corrupting those ends the session before any other channel opens
    ap.add_argument("--clean-bytes", type=int, default=262144,
                    help="server bytes passed untouched per connection")
    ap.add_argument("--drop", default="",
                    help="TYPE:ID,... channels whose links are cut (experiments)")
    args = ap.parse_args()
    drop = set(tuple(int(x) for x in c.split(":"))
               for c in args.drop.split(",") if c)

    sel = selectors.DefaultSelector()
    lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(16)
    lsock.setblocking(False)
    sel.register(lsock, selectors.EVENT_READ, None)
    print("relay listening on 127.0.0.1:%d" % lsock.getsockname()[1],
          flush=True)

    pairs = {}  # socket -> Pair
    deadline = time.monotonic() + args.max_seconds
    flush_s = args.flush_ms / 1000.0
    total_swaps = 0

    def close(p):
        nonlocal total_swaps
        total_swaps += p.swapped
        for s in (p.client, p.server):
            if s in pairs:
                del pairs[s]
                try:
                    sel.unregister(s)
                except (KeyError, ValueError):
                    pass
                s.close()

    def rearm(p):
        if len(p.to_client) + len(p.to_server) > MAX_QUEUED:
            close(p)  # a side stopped reading: bounded, drop the pair
            return
        for s, out in ((p.client, p.to_client), (p.server, p.to_server)):
            if s not in pairs:
                continue
            ev = selectors.EVENT_READ | (selectors.EVENT_WRITE if out else 0)
            sel.modify(s, ev, p)

    while time.monotonic() < deadline:
        for key, ev in sel.select(timeout=flush_s / 2):
            if key.data is None:
                try:
                    c, _ = lsock.accept()
                except OSError:
                    continue
                if len(pairs) // 2 >= args.max_conns:
                    c.close()
                    continue
                s = socket.create_connection(("127.0.0.1", args.target_port))
                for x in (c, s):
                    x.setblocking(False)
                    x.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                p = Pair(c, s, args.clean_bytes)
                pairs[c] = p
                pairs[s] = p
                sel.register(c, selectors.EVENT_READ, p)
                sel.register(s, selectors.EVENT_READ, p)
                continue
            p = key.data
            sock = key.fileobj
            if sock not in pairs:
                continue
            try:
                if ev & selectors.EVENT_READ:
                    data = sock.recv(65536)
                    if not data:
                        close(p)
                        continue
                    if sock is p.server:
                        p.take_server(data, time.monotonic())
                    else:
                        p.to_server += data
                        if drop and not p.link_seen and len(p.to_server) >= 22:
                            p.link_seen = True
                            ch = (p.to_server[20], p.to_server[21])
                            if ch in drop:
                                close(p)
                                continue
                if ev & selectors.EVENT_WRITE:
                    if sock is p.client and p.to_client:
                        n = sock.send(p.to_client)
                        p.to_client = p.to_client[n:]
                    elif sock is p.server and p.to_server:
                        n = sock.send(p.to_server)
                        p.to_server = p.to_server[n:]
            except (BlockingIOError, InterruptedError):
                pass
            except OSError:
                close(p)
                continue
            rearm(p)
        now = time.monotonic()
        for p in set(pairs.values()):
            p.flush_stale(now, flush_s)
            rearm(p)
    for p in set(pairs.values()):
        close(p)
    print("relay done: %d chunk pairs swapped" % total_swaps, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
