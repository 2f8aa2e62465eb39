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
grep -q "TLS handshake" "$TMP/zerospice.log" || fail "zerospice did not log the failed handshake"

if tls_screenshot "$TMP/wrong.ppm" "$TMP/pki/ca-cert.pem" -s "$TLS_PORT" -w wrong-ticket; then
	fail "a wrong ticket was accepted over TLS"
fi

if echo | timeout 10 openssl s_client -connect "127.0.0.1:$TLS_PORT" -tls1_1 \
	-CAfile "$TMP/pki/ca-cert.pem" >"$TMP/s_client.log" 2>&1; then
	grep -q "Protocol  *: TLSv1.1" "$TMP/s_client.log" && fail "TLS 1.1 was accepted"
fi

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
kill "$ZS_PID"; wait "$ZS_PID" 2>/dev/null; ZS_PID=

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
