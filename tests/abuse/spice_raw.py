#!/usr/bin/env python3
"""Raw SPICE clients for the abuse tests (stdlib only): link messages built
by hand, the ticket encrypted with RSA-OAEP in pure Python, sockets bound to
a chosen loopback source address. Every action is bounded in count and time.
Prints one result line per action; exit status 0 unless the run itself
broke (a refusal is a result, not an error)."""
import argparse
import hashlib
import os
import socket
import ssl
import struct
import sys
import time

MAGIC = b"REDQ"
CH_MAIN, CH_DISPLAY = 1, 2
CAP_AUTH_SELECTION, CAP_AUTH_SPICE, CAP_AUTH_SASL, CAP_MINI_HEADER = 0, 1, 2, 3
ERR_NAMES = {0: "OK", 1: "ERROR", 2: "INVALID_MAGIC", 3: "INVALID_DATA",
             4: "VERSION_MISMATCH", 5: "NEED_SECURED", 6: "NEED_UNSECURED",
             7: "PERMISSION_DENIED", 8: "BAD_CONNECTION_ID",
             9: "CHANNEL_NOT_AVAILABLE"}


def link_message(channel, conn_id=0, channel_id=0, sasl=False):
    caps = (1 << CAP_AUTH_SELECTION) | (1 << CAP_AUTH_SPICE) | \
        (1 << CAP_MINI_HEADER)
    if sasl:
        caps |= 1 << CAP_AUTH_SASL
    mess = struct.pack("<IBBIII", conn_id, channel, channel_id, 1, 0, 18)
    mess += struct.pack("<I", caps)
    return MAGIC + struct.pack("<III", 2, 2, len(mess)) + mess


def recv_exact(s, n, deadline):
    buf = b""
    while len(buf) < n:
        s.settimeout(max(0.01, deadline - time.monotonic()))
        chunk = s.recv(n - len(buf))
        if not chunk:
            raise EOFError("closed after %d of %d bytes" % (len(buf), n))
        buf += chunk
    return buf


# ---- RSA-OAEP (SHA-1, MGF1), as spice-gtk encrypts the ticket ----

def der_items(data):
    """(tag, content) pairs of a DER sequence's content."""
    out, i = [], 0
    while i < len(data):
        tag, ln = data[i], data[i + 1]
        i += 2
        if ln & 0x80:
            k = ln & 0x7f
            ln = int.from_bytes(data[i:i + k], "big")
            i += k
        out.append((tag, data[i:i + ln]))
        i += ln
    return out


def rsa_public_key(der):
    (_, spki), = der_items(der)
    items = der_items(spki)
    bits = items[1][1][1:]  # BIT STRING: skip the unused-bits byte
    (_, rsakey), = der_items(bits)
    n, e = [int.from_bytes(v, "big") for _, v in der_items(rsakey)]
    return n, e


def mgf1(seed, length):
    out, c = b"", 0
    while len(out) < length:
        out += hashlib.sha1(seed + struct.pack(">I", c)).digest()
        c += 1
    return out[:length]


def oaep_encrypt(n, e, msg):
    k = (n.bit_length() + 7) // 8
    h = hashlib.sha1(b"").digest()
    ps = b"\0" * (k - len(msg) - 2 * len(h) - 2)
    db = h + ps + b"\1" + msg
    seed = os.urandom(len(h))
    masked_db = bytes(a ^ b for a, b in zip(db, mgf1(seed, k - len(h) - 1)))
    masked_seed = bytes(a ^ b for a, b in zip(seed, mgf1(masked_db, len(h))))
    m = int.from_bytes(b"\0" + masked_seed + masked_db, "big")
    return pow(m, e, n).to_bytes(k, "big")


# ---- one link ----

def connect(args, tls=False, src=None):
    if args.unix:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(args.timeout)
        s.connect(args.unix)
        return s
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    src = args.src if src is None else src
    if src:
        s.bind((src, 0))
    s.settimeout(args.timeout)
    s.connect((args.host, args.port))
    if tls:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        s = ctx.wrap_socket(s)
    return s


def do_link(s, channel, conn_id=0, ticket=None, sasl=False, deadline=None):
    """Link; returns (stage, error, session_id). stage: 'reply' when the
    link reply carried the error, 'result' for the result after the
    ticket."""
    deadline = deadline or time.monotonic() + 10
    s.sendall(link_message(channel, conn_id, sasl=sasl))
    hdr = recv_exact(s, 16, deadline)
    if hdr[:4] != MAGIC:
        return "reply", -1, 0
    size = struct.unpack("<I", hdr[12:16])[0]
    body = recv_exact(s, size, deadline)
    err = struct.unpack("<I", body[:4])[0]
    if err != 0:
        return "reply", err, 0
    if sasl:
        # SASL: spice-server answers with its mechanism list (a length,
        # then the names); a refusal is a link error reply (magic first)
        s.sendall(struct.pack("<I", CAP_AUTH_SASL))
        first = recv_exact(s, 4, deadline)
        if first == MAGIC:
            hdr = first + recv_exact(s, 12, deadline)
            size = struct.unpack("<I", hdr[12:16])[0]
            reply = recv_exact(s, size, deadline)
            return "sasl-refused", struct.unpack("<I", reply[:4])[0], 0
        n = struct.unpack("<I", first)[0]
        mechs = recv_exact(s, min(n, 4096), deadline) if n else b""
        return "sasl-offered " + mechs.decode(errors="replace"), 0, 0
    s.sendall(struct.pack("<I", CAP_AUTH_SPICE))
    if ticket is None:
        enc = os.urandom(128)
    else:
        n, e = rsa_public_key(body[4:4 + 162])
        enc = oaep_encrypt(n, e, ticket.encode() + b"\0")
    s.sendall(enc)
    res = struct.unpack("<I", recv_exact(s, 4, deadline))[0]
    session = 0
    if res == 0 and channel == CH_MAIN:
        mtype, msize = struct.unpack("<HI", recv_exact(s, 6, deadline))
        init = recv_exact(s, msize, deadline)
        if mtype == 103:
            session = struct.unpack("<I", init[:4])[0]
    return "result", res, session


def name(err):
    return ERR_NAMES.get(err, str(err))


# ---- actions ----

def act_silent(args):
    """N connections that send nothing; counts how many the server closed
    within --hold seconds."""
    socks, refused = [], 0
    for _ in range(args.count):
        try:
            socks.append(connect(args))
        except OSError:
            refused += 1
    end = time.monotonic() + args.hold
    closed = 0
    for s in socks:
        s.settimeout(max(0.01, end - time.monotonic()))
        try:
            s.recv(4096)  # a link error or EOF: the server let go
            closed += 1
        except socket.timeout:
            pass
        except OSError:
            closed += 1
    for s in socks:
        s.close()
    print("silent: opened=%d connect-failed=%d closed-by-server=%d"
          % (len(socks), refused, closed))


def act_link(args):
    s = connect(args, tls=args.tls)
    try:
        if args.stall_after_header:
            s.sendall(link_message(args.channel, args.conn_id)[:16])
            t0 = time.monotonic()
            try:
                s.settimeout(args.hold)
                data = s.recv(4096)
                print("stall: closed by server after %.1f s (%d bytes)"
                      % (time.monotonic() - t0, len(data)))
            except socket.timeout:
                print("stall: still open after %.1f s" % args.hold)
            return
        if args.half_close:
            s.sendall(link_message(args.channel, args.conn_id))
            s.shutdown(socket.SHUT_WR)
            t0 = time.monotonic()
            got = b""
            try:
                s.settimeout(args.hold)
                while True:
                    d = s.recv(4096)
                    if not d:
                        break
                    got += d
                print("half-close: closed by server after %.1f s (%d bytes)"
                      % (time.monotonic() - t0, len(got)))
            except socket.timeout:
                print("half-close: still open after %.1f s" % args.hold)
            return
        if args.no_ticket:
            s.sendall(link_message(args.channel, args.conn_id))
            t0 = time.monotonic()
            try:
                s.settimeout(args.hold)
                while s.recv(4096):
                    pass
                print("no-ticket: closed by server after %.1f s"
                      % (time.monotonic() - t0))
            except socket.timeout:
                print("no-ticket: still open after %.1f s" % args.hold)
            return
        stage, err, session = do_link(s, args.channel, args.conn_id,
                                      args.ticket, args.sasl)
        print("link: stage=%s error=%s session=%d" % (stage, name(err),
                                                       session))
        sys.stdout.flush()
        if args.hold_open and not args.then_display:
            time.sleep(args.hold)
        if args.then_display and err == 0 and session:
            d = connect(args, tls=args.tls)
            stage, err, _ = do_link(d, CH_DISPLAY, session, args.ticket)
            print("display: stage=%s error=%s" % (stage, name(err)))
            if args.stop_reading:
                # a display channel that asks for the stream, then never
                # reads while its MAIN is reset by a new client
                d.sendall(struct.pack("<HI", 101, 14) + b"\0" * 14)
                time.sleep(args.hold)
            elif args.hold_open:
                time.sleep(args.hold)
            d.close()
    except (EOFError, OSError) as e:
        print("link: closed (%s)" % e)
    finally:
        s.close()


def act_wrong_tickets(args):
    counts = {}
    t0 = time.monotonic()
    for _ in range(args.count):
        try:
            s = connect(args)
            stage, err, _ = do_link(s, CH_MAIN)
            key = "%s:%s" % (stage, name(err))
            s.close()
        except (EOFError, OSError) as e:
            key = "closed"
        counts[key] = counts.get(key, 0) + 1
    print("wrong-tickets: %.1f s %s" % (time.monotonic() - t0, " ".join(
        "%s=%d" % kv for kv in sorted(counts.items()))))


def act_cycles(args):
    ok = 0
    for _ in range(args.count):
        s = connect(args)
        stage, err, session = do_link(s, CH_MAIN, ticket=args.ticket)
        if err == 0 and session:
            d = connect(args)
            _, derr, _ = do_link(d, CH_DISPLAY, session, args.ticket)
            d.close()
            ok += derr == 0
        s.close()
    print("cycles: %d/%d linked MAIN and DISPLAY" % (ok, args.count))


def act_stall(args):
    """N connections that send a DISPLAY link header (or the whole link
    message naming a bogus session) and then nothing; counts how many the
    server closed or refused within --hold seconds."""
    socks, failed = [], 0
    for i in range(args.count):
        try:
            s = connect(args)
            msg = link_message(CH_DISPLAY, args.conn_id)
            s.sendall(msg[:16] if i % 2 == 0 else msg)
            socks.append(s)
        except OSError:
            failed += 1
    end = time.monotonic() + args.hold
    closed = refused = 0
    for s in socks:
        s.settimeout(max(0.01, end - time.monotonic()))
        try:
            data = s.recv(4096)
            closed += 1
            if len(data) >= 20 and struct.unpack("<I", data[16:20])[0] == 8:
                refused += 1
        except socket.timeout:
            pass
        except OSError:
            closed += 1
        s.close()
    print("stall: opened=%d connect-failed=%d closed-by-server=%d "
          "bad-connection-id=%d" % (len(socks), failed, closed, refused))


def act_stall_channel(args):
    """A live session (MAIN with the right ticket from the default source
    address, held open), then --count links of --channel from --src naming
    it that never send their ticket: when does the server close each? Then,
    from the default address, the same channel with a wrong ticket (refused
    and closed at once) and with the right one (linked)."""
    m = connect(args, src="")
    stage, err, session = do_link(m, CH_MAIN, ticket=args.ticket)
    print("main: stage=%s error=%s session=%d" % (stage, name(err), session))
    sys.stdout.flush()
    if err != 0 or not session:
        return
    socks, replies, t_open = [], {}, {}
    for _ in range(args.count):
        try:
            d = connect(args)
        except OSError:
            replies["connect-failed"] = replies.get("connect-failed", 0) + 1
            continue
        d.sendall(link_message(args.channel, session))
        socks.append(d)
        t_open[d] = time.monotonic()
    # the link reply (OK: spice-server has it and waits for the ticket),
    # then nothing more may come: a read returns only at the close
    end = time.monotonic() + args.hold
    closed_after = []
    for d in socks:
        try:
            hdr = recv_exact(d, 16, end)
            size = struct.unpack("<I", hdr[12:16])[0]
            body = recv_exact(d, size, end)
            key = "reply-" + name(struct.unpack("<I", body[:4])[0])
        except socket.timeout:
            key = "no-reply"
        except (EOFError, OSError):
            key = "closed-without-reply"
        replies[key] = replies.get(key, 0) + 1
    for d in socks:
        d.settimeout(max(0.01, end - time.monotonic()))
        try:
            while d.recv(4096):
                pass
            closed_after.append(time.monotonic() - t_open[d])
        except socket.timeout:
            pass
        except OSError:
            closed_after.append(time.monotonic() - t_open[d])
        d.close()
    print("stalled: opened=%d %s closed-by-server=%d first-close=%.1f "
          "last-close=%.1f" % (len(socks), " ".join(
              "%s=%d" % kv for kv in sorted(replies.items())),
              len(closed_after), min(closed_after, default=-1),
              max(closed_after, default=-1)))
    sys.stdout.flush()
    # a wrong ticket: spice-server answers and lets go; so must we
    w = connect(args, src="")
    stage, err, _ = do_link(w, args.channel, session, "not-" + args.ticket)
    t0 = time.monotonic()
    try:
        w.settimeout(args.hold)
        while w.recv(4096):
            pass
        after = "closed by server after %.1f s" % (time.monotonic() - t0)
    except socket.timeout:
        after = "still open after %.1f s" % args.hold
    except OSError:
        after = "closed by server after %.1f s" % (time.monotonic() - t0)
    w.close()
    print("wrong: stage=%s error=%s %s" % (stage, name(err), after))
    # SASL picked on the channel: spice-server (built with libsasl2)
    # starts SASL whatever zerospice asked for; it must offer nothing
    x = connect(args, src="")
    try:
        stage, err, _ = do_link(x, args.channel, session, sasl=True)
        print("sasl: stage=%s error=%s" % (stage, name(err)))
    except (EOFError, OSError, socket.timeout) as e:
        print("sasl: closed (%s)" % type(e).__name__)
    x.close()
    # the right ticket: the session gets its channel
    g = connect(args, src="")
    stage, err, _ = do_link(g, args.channel, session, args.ticket)
    print("second: stage=%s error=%s" % (stage, name(err)))
    sys.stdout.flush()
    if args.hold_open:
        time.sleep(3)
    g.close()
    # the session lived through it: its MAIN is still open
    m.setblocking(False)
    try:
        alive = m.recv(65536) != b""
    except BlockingIOError:
        alive = True
    except OSError:
        alive = False
    print("main: %s" % ("still open" if alive else "closed"))
    m.close()


def act_tls_partial(args):
    """TLS without a ClientHello, or half of one: the server must close."""
    s = connect(args)
    if args.half_hello:
        # a ClientHello record header announcing 512 bytes, then 100
        s.sendall(bytes([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01,
                         0xfc, 0x03, 0x03]) + os.urandom(89))
    t0 = time.monotonic()
    try:
        s.settimeout(args.hold)
        while s.recv(4096):
            pass
        print("tls-partial: closed by server after %.1f s"
              % (time.monotonic() - t0))
    except socket.timeout:
        print("tls-partial: still open after %.1f s" % args.hold)
    except OSError as e:
        print("tls-partial: closed by server after %.1f s (%s)"
              % (time.monotonic() - t0, e))
    s.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("action", choices=["silent", "link", "wrong-tickets",
                                       "cycles", "tls-partial", "stall",
                                       "stall-channel"])
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--unix", default=None)
    ap.add_argument("--src", default=None)
    ap.add_argument("--count", type=int, default=1)
    ap.add_argument("--hold", type=float, default=5)
    ap.add_argument("--timeout", type=float, default=10)
    ap.add_argument("--channel", type=int, default=CH_MAIN)
    ap.add_argument("--conn-id", type=int, default=0)
    ap.add_argument("--ticket", default=None)
    ap.add_argument("--tls", action="store_true")
    ap.add_argument("--sasl", action="store_true")
    ap.add_argument("--stall-after-header", action="store_true")
    ap.add_argument("--half-close", action="store_true")
    ap.add_argument("--no-ticket", action="store_true")
    ap.add_argument("--half-hello", action="store_true")
    ap.add_argument("--then-display", action="store_true")
    ap.add_argument("--stop-reading", action="store_true")
    ap.add_argument("--hold-open", action="store_true")
    args = ap.parse_args()
    {"silent": act_silent, "link": act_link,
     "wrong-tickets": act_wrong_tickets, "cycles": act_cycles,
     "tls-partial": act_tls_partial, "stall": act_stall,
     "stall-channel": act_stall_channel}[args.action](args)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
