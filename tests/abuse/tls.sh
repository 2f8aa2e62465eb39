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
	# the 20 clients append to one file: lines may run together, so
	# count the reports, not the lines
	closed=$(grep -o "closed by server" "$TMP/partial$mode.out" | wc -l)
	log "TLS ${mode:-no ClientHello}: $closed of 20 closed by the server"
	[ "$closed" -eq 20 ] || fail "TLS ${mode:-no ClientHello}: $(sort "$TMP/partial$mode.out" | uniq -c)"
	tls_screenshot "$TMP/tls.ppm" || fail "no TLS screenshot after partial handshakes"
	check_after "TLS ${mode:-no ClientHello} x20"
done

# ---- a renegotiation attempt (TLS 1.2: "R" asks s_client to renegotiate) ----
( printf 'R\n'; sleep 2 ) | timeout 15 openssl s_client -connect "127.0.0.1:$TLS_PORT" \
	-tls1_2 -CAfile "$TMP/pki/ca-cert.pem" >"$TMP/reneg.log" 2>&1
grep -q "RENEGOTIATING" "$TMP/reneg.log" || fail "s_client did not try to renegotiate"
# SSL_OP_NO_RENEGOTIATION: the server answers with a no_renegotiation alert
grep -q "no renegotiation" "$TMP/reneg.log" ||
	fail "the renegotiation was not refused: $(sed -n '/RENEGOTIATING/,$p' "$TMP/reneg.log" | head -n 5)"
log "renegotiation: $(grep -o "no renegotiation" "$TMP/reneg.log" | head -n 1)"
tls_screenshot "$TMP/tls.ppm" || fail "no TLS screenshot after a renegotiation attempt"
check_after "TLS renegotiation attempt"

# ---- SIGHUP reads the TLS files again: a new CA for new clients, a TLS
# client already connected stays, a broken set keeps the old one ----
cp -r "$TMP/pki" "$TMP/pki-old"
make_test_ca "$TMP/pki-new" renewed
$RAW link --port "$TLS_PORT" --tls --ticket "$TICKET" --hold-open --hold 5 \
	>"$TMP/tls-live.out" 2>&1 &
LIVE=$!
sleep 2
cp "$TMP/pki-new/ca-cert.pem" "$TMP/pki-new/server-cert.pem" "$TMP/pki-new/server-key.pem" "$TMP/pki/"
kill -HUP "$ZS_PID"
sleep 1
grep -q "SIGHUP: read the TLS files again" "$TMP/zerospice.log" || fail "SIGHUP did not re-read the TLS files"
wait "$LIVE"
grep -q "link: stage=result error=OK" "$TMP/tls-live.out" || fail "TLS client across SIGHUP: $(cat "$TMP/tls-live.out")"
port=$(sed -n '/SIGHUP: read the TLS/q; s/.*TLS client 127.0.0.1:\([0-9]*\): channel 1:0 passed.*/\1/p' "$TMP/zerospice.log" | tail -n 1)
awk -v p="127.0.0.1:$port: closed" '/SIGHUP: read the TLS/ { s = 1 } s && index($0, p) { f = 1 } END { exit !f }' \
	"$TMP/zerospice.log" || fail "the connected TLS client was dropped by SIGHUP"
tls_screenshot "$TMP/tls-new.ppm" || fail "no TLS screenshot trusting the new CA after SIGHUP"
if SSL_CERT_FILE="$TMP/pki-old/ca-cert.pem" SSL_CERT_DIR=/nonexistent timeout 30 \
	spicy-screenshot -h 127.0.0.1 -s "$TLS_PORT" -w "$TICKET" -o "$TMP/tls-old.ppm" \
	>>"$TMP/spicy.log" 2>&1; then
	fail "a client trusting only the old CA still connected after SIGHUP"
fi
# a key that does not match: refused, the new set stays
cp "$TMP/pki-old/server-key.pem" "$TMP/pki/server-key.pem"
kill -HUP "$ZS_PID"
sleep 1
grep -q "SIGHUP: TLS: .*server-key.pem does not match.*the previous TLS files stay" "$TMP/zerospice.log" ||
	fail "a mismatched key on SIGHUP was not refused"
tls_screenshot "$TMP/tls-kept.ppm" || fail "TLS stopped working after a refused reload"
check_after "SIGHUP TLS reload"

log "PASS"
