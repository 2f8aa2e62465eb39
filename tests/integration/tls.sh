#!/bin/bash
# TLS terminated by zerospice with OpenSSL: a test CA and server certificate
# made here; a client that trusts the CA connects over TLS (spicy-screenshot
# with the CA as its trust store, remote-viewer with --spice-ca-file) and
# sees the stream; a client that does not trust it, a wrong ticket, TLS 1.1
# and, under --tls-only, a plain connection are refused, and zerospice keeps
# serving.
. "$(dirname "$0")/lib.sh"
need spicy-screenshot openssl

make_test_ca "$TMP/pki" zerospice
make_test_ca "$TMP/other" stranger
echo "tls-ticket" >"$TMP/ticket"; chmod 600 "$TMP/ticket"

# tls_screenshot OUT CA ARGS...: spicy-screenshot (no --spice-ca-file option:
# OpenSSL's default trust store, which SSL_CERT_FILE replaces)
tls_screenshot() {
	local out=$1 ca=$2; shift 2
	SSL_CERT_FILE=$ca SSL_CERT_DIR=/nonexistent timeout 30 spicy-screenshot \
		-h 127.0.0.1 -o "$out" "$@" >>"$TMP/spicy.log" 2>&1
}

start_zerospice --source testpattern,size=640x480,fps=30 --ticket-file "$TMP/ticket" \
	--tls-port 0 --x509-dir "$TMP/pki"
TLS_PORT=$(zs_tls_port)
[ -n "$TLS_PORT" ] || fail "zerospice did not report a TLS port"
log "plain $ZS_PORT, TLS $TLS_PORT"

tls_screenshot "$TMP/tls.ppm" "$TMP/pki/ca-cert.pem" -s "$TLS_PORT" -w tls-ticket ||
	fail "spicy-screenshot over TLS with the right CA failed"
[ -n "$(stamp_field "$TMP/tls.ppm" frame_id)" ] || fail "no frame stamp over TLS"
log "TLS: frame $(stamp_field "$TMP/tls.ppm" frame_id)"

if tls_screenshot "$TMP/untrusted.ppm" "$TMP/other/ca-cert.pem" -s "$TLS_PORT" -w tls-ticket; then
	fail "a client that does not trust the CA connected"
fi
[ ! -s "$TMP/untrusted.ppm" ] || fail "a screenshot was written without trusting the CA"
# the client may give up before zerospice has logged its side
for _ in $(seq 1 50); do
	grep -q "TLS handshake" "$TMP/zerospice.log" && break
	sleep 0.1
done
grep -q "TLS handshake" "$TMP/zerospice.log" || fail "zerospice did not log the failed handshake"

if tls_screenshot "$TMP/wrong.ppm" "$TMP/pki/ca-cert.pem" -s "$TLS_PORT" -w wrong-ticket; then
	fail "a wrong ticket was accepted over TLS"
fi

# accepts_tls11 PORT: a TLS 1.1 handshake with PORT completes. OpenSSL 3
# refuses TLS 1.1 itself at the default security level, so the probe lowers
# it: without that, this check could never fail.
accepts_tls11() {
	echo | timeout 10 openssl s_client -connect "127.0.0.1:$1" -tls1_1 \
		-cipher 'DEFAULT:@SECLEVEL=0' >"$TMP/s_client.log" 2>&1 &&
		grep -q "Protocol  *: TLSv1.1" "$TMP/s_client.log" &&
		! grep -q "Cipher is (NONE)" "$TMP/s_client.log"
}
# the probe sees a server that does take TLS 1.1 (openssl s_server)
port11=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
sleep 15 | openssl s_server -accept "127.0.0.1:$port11" -tls1_1 \
	-cipher 'DEFAULT:@SECLEVEL=0' -cert "$TMP/pki/server-cert.pem" \
	-key "$TMP/pki/server-key.pem" -naccept 1 >"$TMP/s_server.log" 2>&1 &
S_SERVER_PID=$!
EXTRA_PIDS="$S_SERVER_PID"
ok=
for _ in $(seq 1 50); do
	accepts_tls11 "$port11" && { ok=1; break; }
	sleep 0.2
done
[ -n "$ok" ] || fail "the TLS 1.1 probe does not see a server that accepts TLS 1.1: $(tail -n 5 "$TMP/s_client.log")"
kill "$S_SERVER_PID" 2>/dev/null; wait "$S_SERVER_PID" 2>/dev/null; EXTRA_PIDS=
# and zerospice (TLS 1.2 or later) refuses it
accepts_tls11 "$TLS_PORT" && fail "TLS 1.1 was accepted"
grep -q "Cipher is (NONE)" "$TMP/s_client.log" ||
	fail "the TLS 1.1 probe against zerospice did not end as a refused handshake: $(tail -n 5 "$TMP/s_client.log")"

# plain still works without --tls-only
screenshot "$TMP/plain.ppm" -w tls-ticket || fail "plain connection failed without --tls-only"
zerospice_alive || fail "zerospice died"

if command -v remote-viewer >/dev/null && command -v Xvfb >/dev/null; then
	start_xvfb
	DISABLE_GSTVIDEOOVERLAY=1 SPICE_DEBUG=1 remote-viewer \
		--spice-ca-file="$TMP/pki/ca-cert.pem" \
		"spice://127.0.0.1?tls-port=$TLS_PORT&password=tls-ticket" \
		>"$TMP/rv-tls.log" 2>&1 &
	EXTRA_PIDS=$!
	wait_margins "$TMP/rv-tls.log" 60 || fail "remote-viewer over TLS shows no frames"
	grep -q "main-1:0: Using TLS" "$TMP/rv-tls.log" || fail "remote-viewer did not use TLS"
	max=$(video_margins "$TMP/rv-tls.log" | sed -n '31,60p' | sort -n | tail -n 1)
	log "remote-viewer over TLS: video margin max $max ms"
	[ "$max" -lt 50 ] || fail "clock fix over TLS: video margin $max ms"
	kill "$EXTRA_PIDS"; wait "$EXTRA_PIDS" 2>/dev/null; EXTRA_PIDS=
else
	log "remote-viewer or Xvfb missing: TLS checked with spicy-screenshot only"
fi
stop_zerospice

# A bad certificate chain or a key that does not match the certificate:
# zerospice refuses to start, saying which file is wrong.
# refuses_tls_dir DIR WHAT: zerospice exits non-zero at once with an error
# that contains WHAT.
refuses_tls_dir() {
	local rc
	timeout 20 "$ZEROSPICE" --listen 127.0.0.1:0 --source testpattern \
		--tls-port 0 --x509-dir "$1" >"$TMP/bad-tls.out" 2>"$TMP/bad-tls.log"
	rc=$?
	[ "$rc" != 0 ] && [ "$rc" != 124 ] ||
		fail "zerospice started (status $rc) with $1: $(cat "$TMP/bad-tls.log")"
	grep -q "$2" "$TMP/bad-tls.log" ||
		fail "zerospice did not say '$2' for $1: $(cat "$TMP/bad-tls.log")"
}
mkdir -p "$TMP/badchain" "$TMP/badkey"
# the server certificate signed by another CA than the one clients trust
cp "$TMP/pki/server-cert.pem" "$TMP/pki/server-key.pem" "$TMP/badchain/"
cp "$TMP/other/ca-cert.pem" "$TMP/badchain/"
refuses_tls_dir "$TMP/badchain" "does not chain to the CA"
# the right CA and certificate, another certificate's key
cp "$TMP/pki/ca-cert.pem" "$TMP/pki/server-cert.pem" "$TMP/badkey/"
cp "$TMP/other/server-key.pem" "$TMP/badkey/"
refuses_tls_dir "$TMP/badkey" "does not match the certificate"

# --tls-only: plain connections are refused (told to use TLS); a client that
# knows both ports switches to TLS on its own
start_zerospice --source testpattern,size=640x480,fps=30 --ticket-file "$TMP/ticket" \
	--tls-port 0 --x509-dir "$TMP/pki" --tls-only
TLS_PORT=$(zs_tls_port)
if screenshot "$TMP/plain-only.ppm" -w tls-ticket; then
	fail "--tls-only accepted a plain connection"
fi
grep -q "refused a plain TCP connection from .*: --tls-only" "$TMP/zerospice.log" ||
	fail "zerospice did not say why it refused the plain connection"
tls_screenshot "$TMP/switched.ppm" "$TMP/pki/ca-cert.pem" -p "$ZS_PORT" -s "$TLS_PORT" \
	-w tls-ticket || fail "a client with both ports did not get through over TLS"
[ -n "$(stamp_field "$TMP/switched.ppm" frame_id)" ] || fail "no frame stamp after switching to TLS"
zerospice_alive || fail "zerospice died"
log "PASS"
