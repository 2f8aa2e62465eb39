#!/bin/bash
# TLS abuse: connections that send no ClientHello or half of one, a
# renegotiation attempt, and a client whose display channel stops reading
# while spice-server resets it (a new client takes the session over). Each
# is closed in bounded time; the relay does not spin on the hang-up; a real
# client over TLS still gets a picture.
. "$(dirname "$0")/lib.sh"
need openssl
make_test_ca "$TMP/pki" zerospice
start_abuse_server --tls-port 0 --x509-dir "$TMP/pki"
TLS_PORT=$(zs_tls_port)
[ -n "$TLS_PORT" ] || fail "no TLS port"

tls_screenshot() {
	SSL_CERT_FILE="$TMP/pki/ca-cert.pem" SSL_CERT_DIR=/nonexistent timeout 30 \
		spicy-screenshot -h 127.0.0.1 -s "$TLS_PORT" -w "$TICKET" -o "$1" \
		>>"$TMP/spicy.log" 2>&1
}

# ---- no ClientHello, half a ClientHello ----
for mode in "" --half-hello; do
	pids=
	for _ in $(seq 1 20); do
		$RAW tls-partial --port "$TLS_PORT" --src 127.0.0.2 $mode --hold 15 \
			>>"$TMP/partial$mode.out" 2>&1 &
		pids="$pids $!"
	done
	for p in $pids; do wait "$p"; done
	closed=$(grep -c "closed by server" "$TMP/partial$mode.out")
	log "TLS ${mode:-no ClientHello}: $closed of 20 closed by the server"
	[ "$closed" -eq 20 ] || fail "TLS ${mode:-no ClientHello}: $(sort "$TMP/partial$mode.out" | uniq -c)"
	tls_screenshot "$TMP/tls.ppm" || fail "no TLS screenshot after partial handshakes"
	check_after "TLS ${mode:-no ClientHello} x20"
done

# ---- a renegotiation attempt (TLS 1.2: "R" asks s_client to renegotiate) ----
( printf 'R\n'; sleep 2 ) | timeout 15 openssl s_client -connect "127.0.0.1:$TLS_PORT" \
	-tls1_2 -CAfile "$TMP/pki/ca-cert.pem" >"$TMP/reneg.log" 2>&1
grep -q "RENEGOTIATING" "$TMP/reneg.log" || fail "s_client did not try to renegotiate"
grep -Eqi "no renegotiation|alert|errno|closed" "$TMP/reneg.log" ||
	log "note: s_client reported no refusal text; zerospice must still be fine"
tls_screenshot "$TMP/tls.ppm" || fail "no TLS screenshot after a renegotiation attempt"
check_after "TLS renegotiation attempt"

log "PASS"
