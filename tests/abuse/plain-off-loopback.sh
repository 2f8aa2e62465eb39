#!/bin/bash
# Off loopback, with a ticket and TLS, plain connections are refused unless
# --allow-plain (issue 9, item 13): they would carry the keyboard in the
# clear. Tested for real without leaving loopback-only isolation: in a
# network namespace of its own (unshare -n, as root) whose lo also carries
# 192.0.2.1 (TEST-NET-1), zerospice listens on 192.0.2.1:
#  1. ticket + TLS: a plain spicy-screenshot is refused (the raw client
#     reads NEED_SECURED on the wire, spicy-screenshot logs that it must
#     switch to TLS and fails, zerospice's log says why); a TLS
#     spicy-screenshot gets a picture;
#  2. the same on 127.0.0.1: plain is accepted (loopback);
#  3. with --allow-plain on 192.0.2.1: plain gets a picture.
if [ -z "${ZS_IN_NETNS:-}" ]; then
	me=$(basename "$0")
	command -v unshare >/dev/null 2>&1 ||
		{ echo "$me: SKIP: unshare is not installed (util-linux)" >&2; exit 77; }
	unshare -n true 2>/dev/null ||
		{ echo "$me: SKIP: unshare -n is not permitted here (needs root or unprivileged user namespaces)" >&2; exit 77; }
	ZS_IN_NETNS=1 exec unshare -n bash "$0" "$@"
fi
. "$(dirname "$0")/lib.sh"
need ip openssl spicy-screenshot python3
ADDR=192.0.2.1
ip link set lo up && ip addr add "$ADDR/32" dev lo ||
	skip "cannot add $ADDR to lo in the namespace"
printf '%s\n' "$TICKET" >"$TMP/ticket"
chmod 600 "$TMP/ticket"

# a CA and a certificate for ADDR
mkdir -p "$TMP/pki"
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=netns test CA" \
	-keyout "$TMP/pki/ca-key.pem" -out "$TMP/pki/ca-cert.pem" >>"$TMP/openssl.log" 2>&1 &&
openssl req -newkey rsa:2048 -nodes -subj "/CN=$ADDR" \
	-keyout "$TMP/pki/server-key.pem" -out "$TMP/pki/server.csr" >>"$TMP/openssl.log" 2>&1 &&
printf 'subjectAltName=IP:%s,IP:127.0.0.1\n' "$ADDR" >"$TMP/pki/ext.cnf" &&
openssl x509 -req -in "$TMP/pki/server.csr" -CA "$TMP/pki/ca-cert.pem" \
	-CAkey "$TMP/pki/ca-key.pem" -CAcreateserial -days 2 \
	-extfile "$TMP/pki/ext.cnf" -out "$TMP/pki/server-cert.pem" >>"$TMP/openssl.log" 2>&1 ||
	fail "openssl could not make a test CA"

# plain_shot HOST OUT / tls_shot HOST OUT: spicy-screenshot, plain or TLS
# only (no -s with -p: spice-gtk would switch to TLS on NEED_SECURED)
plain_shot() {
	timeout 30 spicy-screenshot -h "$1" -p "$ZS_PORT" -w "$TICKET" -o "$2" \
		>"$TMP/spicy-plain.out" 2>&1
}
tls_shot() {
	SSL_CERT_FILE="$TMP/pki/ca-cert.pem" SSL_CERT_DIR=/nonexistent timeout 30 \
		spicy-screenshot -h "$1" -s "$ZS_TLS_PORT" -w "$TICKET" -o "$2" \
		>"$TMP/spicy-tls.out" 2>&1
}
good_picture() {
	[ "$(ppm_size "$1")" = "640 480" ] && [ -n "$(stamp_field "$1" frame_id)" ]
}

# ---- 1. ticket + TLS on 192.0.2.1: plain refused ----
start_zerospice_at "$ADDR" --tls-port 0 --x509-dir "$TMP/pki"
log "$(cat "$TMP/zerospice.out")"
grep -q "TLS on $ADDR:[0-9]* (plain connections refused: a ticket off loopback; --allow-plain to accept them)" \
	"$TMP/zerospice.out" || fail "the banner does not say plain is refused"
out=$($RAW link --host "$ADDR" --port "$ZS_PORT" --ticket "$TICKET")
log "raw plain link on $ADDR: $out"
[ "$out" = "link: stage=reply error=NEED_SECURED session=0" ] ||
	fail "a plain link off loopback was not refused with NEED_SECURED: $out"
rm -f "$TMP/plain.ppm"
# SPICE_DEBUG: spice-gtk says "switching to tls" on NEED_SECURED (and
# only then), and gives up for want of a TLS port
if SPICE_DEBUG=1 plain_shot "$ADDR" "$TMP/plain.ppm"; then
	fail "a plain spicy-screenshot got in off loopback: $(tail -n 5 "$TMP/spicy-plain.out")"
fi
[ -s "$TMP/plain.ppm" ] && fail "a plain spicy-screenshot wrote a picture"
grep -q "main-1:0: switching to tls" "$TMP/spicy-plain.out" ||
	fail "spicy-screenshot did not see NEED_SECURED: $(grep -v DEBUG "$TMP/spicy-plain.out" | tail -n 5)"
log "plain spicy-screenshot: $(grep -o "main-1:0: switching to tls" "$TMP/spicy-plain.out" | head -n 1), then $(grep -v DEBUG "$TMP/spicy-plain.out" | tail -n 1)"
grep -q "refused a plain TCP connection from $ADDR: a ticket off loopback needs TLS (--allow-plain to accept plain connections)" \
	"$TMP/zerospice.log" || fail "the log does not say why plain was refused"
tls_shot "$ADDR" "$TMP/tls.ppm" || fail "no TLS picture on $ADDR: $(tail -n 3 "$TMP/spicy-tls.out")"
good_picture "$TMP/tls.ppm" || fail "the TLS picture is wrong: $(ppm_size "$TMP/tls.ppm")"
log "TLS spicy-screenshot on $ADDR: $(ppm_size "$TMP/tls.ppm"), frame $(stamp_field "$TMP/tls.ppm" frame_id)"
stop_zerospice

# ---- 2. the same on loopback: plain accepted ----
start_zerospice_at 127.0.0.1 --tls-port 0 --x509-dir "$TMP/pki"
grep -q "plain connections refused" "$TMP/zerospice.out" &&
	fail "plain refused on loopback: $(cat "$TMP/zerospice.out")"
plain_shot 127.0.0.1 "$TMP/lo.ppm" || fail "no plain picture on loopback: $(tail -n 3 "$TMP/spicy-plain.out")"
good_picture "$TMP/lo.ppm" || fail "the loopback picture is wrong"
stop_zerospice

# ---- 3. --allow-plain on 192.0.2.1 ----
start_zerospice_at "$ADDR" --tls-port 0 --x509-dir "$TMP/pki" --allow-plain
grep -q "plain connections refused" "$TMP/zerospice.out" &&
	fail "--allow-plain still refuses plain: $(cat "$TMP/zerospice.out")"
plain_shot "$ADDR" "$TMP/allowed.ppm" ||
	fail "no plain picture on $ADDR with --allow-plain: $(tail -n 3 "$TMP/spicy-plain.out")"
good_picture "$TMP/allowed.ppm" || fail "the --allow-plain picture is wrong"
tls_shot "$ADDR" "$TMP/tls2.ppm" || fail "no TLS picture with --allow-plain"
stop_zerospice
log "PASS"
