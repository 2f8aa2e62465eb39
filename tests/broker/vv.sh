#!/bin/bash
# A .vv connection file from ConnectionFile (zerospice-ctl vv) opened by
# remote-viewer under Xvfb: TLS only, so the file's tls-port, escaped ca and
# host-subject must be right, and its fresh ticket must let it in. The
# viewer shows the desktop (the test pattern's frame stamp is read from a
# root-window screenshot), deletes the file (delete-this-file=1), and keeps
# its picture after the ticket expires while a new client is refused.
. "$(dirname "$0")/lib.sh"
need remote-viewer Xvfb import openssl spicy-screenshot

make_test_ca "$TMP/pki" zerospice-vv
start_zerospice --source testpattern,size=1024x640,fps=30 --tls-port 0 \
	--x509-dir "$TMP/pki" --tls-only --control "unix:$CONTROL" --title "vm one"
TLS_PORT=$(zs_tls_port)
[ -n "$TLS_PORT" ] || fail "no TLS port reported"
wait_for 50 test -S "$CONTROL" || fail "no control socket"

ctl vv --fresh-ticket --lifetime 60 -o "$TMP/vm1.vv" || fail "zerospice-ctl vv failed"
[ "$(stat -c %a "$TMP/vm1.vv")" = 600 ] || fail ".vv file mode $(stat -c %a "$TMP/vm1.vv")"
python3 - "$TMP/vm1.vv" "$TMP/pki/ca-cert.pem" "$TLS_PORT" <<'PY' || fail ".vv content: $(sed 's/password=.*/password=…/' "$TMP/vm1.vv")"
import configparser, sys
cp = configparser.RawConfigParser()
cp.read(sys.argv[1])
v = cp["virt-viewer"]
assert v["type"] == "spice" and v["host"] == "127.0.0.1", dict(v)
assert v["tls-port"] == sys.argv[3] and "port" not in v, dict(v)   # --tls-only
assert len(v["password"]) >= 16
ca = v["ca"].replace("\\n", "\n")
assert ca.strip() == open(sys.argv[2]).read().strip(), "ca differs"
assert "\n" not in v["ca"]
assert v["host-subject"] == "CN=127.0.0.1", v["host-subject"]
assert v["title"] == "vm one" and v["delete-this-file"] == "1"
PY
ctl status | grep -q "^ticket: set (expires at" || fail "the fresh ticket has no expiry"

start_xvfb
DISABLE_GSTVIDEOOVERLAY=1 remote-viewer "$TMP/vm1.vv" >"$TMP/remote-viewer.log" 2>&1 &
RV_PID=$!
EXTRA_PIDS="$RV_PID"
grab() { import -window root "ppm:$1" 2>>"$TMP/import.log"; }
found=
for _ in $(seq 1 80); do
	grab "$TMP/root.ppm"
	if [ -n "$(stamp_field "$TMP/root.ppm" frame_id)" ]; then found=1; break; fi
	kill -0 "$RV_PID" 2>/dev/null || fail "remote-viewer exited"
	sleep 0.5
done
[ -n "$found" ] || fail "remote-viewer shows no desktop from the .vv file"
id1=$(stamp_field "$TMP/root.ppm" frame_id)
log "remote-viewer shows the desktop from the .vv file (frame $id1)"
[ ! -e "$TMP/vm1.vv" ] || fail "remote-viewer did not delete the file (delete-this-file=1)"

# the ticket expires: the viewer keeps its picture, new clients are refused
ctl expire || fail "ExpireTicket"
sleep 2
grab "$TMP/later.ppm"
id2=$(stamp_field "$TMP/later.ppm" frame_id)
[ "${id2:-0}" -gt "$id1" ] || fail "the viewer's picture stopped after ExpireTicket ($id1 → $id2)"
kill -0 "$RV_PID" || fail "remote-viewer went away after ExpireTicket"
rm -f "$TMP/new.ppm"
timeout 30 spicy-screenshot -h 127.0.0.1 -s "$TLS_PORT" -w anything -o "$TMP/new.ppm" \
	>>"$TMP/spicy.log" 2>&1 && fail "a new client got in after ExpireTicket"
log "after ExpireTicket: viewer frame $id1 → $id2, new client refused"

# a .vv without a fresh ticket carries no expired password; options are checked
ctl vv --keep-file --host viewer.example --proxy http://proxy.example:3128 >"$TMP/plain.vv" ||
	fail "vv without a fresh ticket"
grep -q "^host=viewer.example$" "$TMP/plain.vv" || fail "host option ignored"
grep -q "^proxy=http://proxy.example:3128$" "$TMP/plain.vv" || fail "proxy missing"
grep -q "^password=" "$TMP/plain.vv" && fail "an expired ticket was put in the file"
grep -q "^delete-this-file" "$TMP/plain.vv" && fail "--keep-file ignored"
# ReloadCertificates: new files on disk reach new TLS connections; broken
# files are refused and the certificates in use stay
tls_ok() { # CA_FILE
	echo | timeout 10 openssl s_client -connect "127.0.0.1:$TLS_PORT" -CAfile "$1" \
		-verify_return_error >>"$TMP/s_client.log" 2>&1
}
cp "$TMP/pki/ca-cert.pem" "$TMP/old-ca.pem"
tls_ok "$TMP/old-ca.pem" || fail "TLS with the first CA failed"
make_test_ca "$TMP/pki2" zerospice-vv-2
cp "$TMP/pki2/ca-cert.pem" "$TMP/pki2/server-cert.pem" "$TMP/pki2/server-key.pem" "$TMP/pki/"
tls_ok "$TMP/old-ca.pem" || fail "the certificates changed before ReloadCertificates"
ctl reload-certs || fail "ReloadCertificates"
tls_ok "$TMP/pki2/ca-cert.pem" || fail "the reloaded certificate is not served"
tls_ok "$TMP/old-ca.pem" && fail "the old certificate is still served after ReloadCertificates"
echo garbage >"$TMP/pki/server-key.pem"
expect_ctl_error "server-key.pem\|key" reload-certs
tls_ok "$TMP/pki2/ca-cert.pem" || fail "a failed reload dropped the certificates in use"
kill -0 "$RV_PID" || fail "remote-viewer went away during certificate reloads"
log "ReloadCertificates: ok"

# Proxmox's pattern end to end: a one-time ticket in a .vv file whose
# proxy= is an HTTP CONNECT proxy; remote-viewer goes through it
kill "$RV_PID"; wait "$RV_PID" 2>/dev/null
python3 "$(dirname "$0")/connect-proxy.py" "$TMP/cproxy.port" "$TMP/cproxy.log" 90 &
CPROXY_PID=$!
EXTRA_PIDS="$CPROXY_PID"
wait_for 100 test -s "$TMP/cproxy.port" || fail "the CONNECT proxy did not start"
ctl vv --fresh-ticket --lifetime 30 --proxy "http://127.0.0.1:$(cat "$TMP/cproxy.port")" \
	-o "$TMP/proxied.vv" || fail "vv with a proxy"
DISABLE_GSTVIDEOOVERLAY=1 remote-viewer "$TMP/proxied.vv" >"$TMP/remote-viewer2.log" 2>&1 &
RV_PID=$!
EXTRA_PIDS="$CPROXY_PID $RV_PID"
found=
for _ in $(seq 1 80); do
	grab "$TMP/root2.ppm"
	if [ -n "$(stamp_field "$TMP/root2.ppm" frame_id)" ]; then found=1; break; fi
	kill -0 "$RV_PID" 2>/dev/null || fail "remote-viewer exited (proxy)"
	sleep 0.5
done
[ -n "$found" ] || fail "remote-viewer shows no desktop through the proxy= of the .vv file"
grep -q "^CONNECT 127.0.0.1:$TLS_PORT$" "$TMP/cproxy.log" || fail "remote-viewer did not go through the proxy: $(cat "$TMP/cproxy.log")"
log "through an HTTP CONNECT proxy: $(sort -u "$TMP/cproxy.log" | tr '\n' ' ')"
log "PASS"
