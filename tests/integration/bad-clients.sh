#!/bin/bash
# Hostile or broken clients must not take the server down: garbage on the
# port, a client that hangs up mid-handshake, one that connects and says
# nothing. The next real client still gets a picture.
. "$(dirname "$0")/lib.sh"
need spicy-screenshot

start_zerospice --source testpattern,size=640x480,fps=30

send() { # bytes on a fresh connection, then hang up
	exec 3<>"/dev/tcp/127.0.0.1/$ZS_PORT" || fail "cannot connect"
	printf "$1" >&3
	exec 3>&-
}
for i in 1 2 3; do
	head -c 5000 /dev/urandom >"$TMP/garbage"
	exec 3<>"/dev/tcp/127.0.0.1/$ZS_PORT" || fail "cannot connect"
	cat "$TMP/garbage" >&3
	exec 3>&-
done
# "REDQ", version 2.2, then a link message that stops half-way
send 'REDQ\x02\x00\x00\x00\x02\x00\x00\x00\x40\x00\x00\x00\x00\x00\x00\x00\x01'
# a link header announcing a huge message
send 'REDQ\x02\x00\x00\x00\x02\x00\x00\x00\xff\xff\xff\x7f'
# connect and say nothing while the real client connects
exec 4<>"/dev/tcp/127.0.0.1/$ZS_PORT"

sleep 0.5
zerospice_alive || fail "zerospice died after bad input"
screenshot "$TMP/ok.ppm" || fail "no screenshot after bad clients"
[ -n "$(stamp_field "$TMP/ok.ppm" frame_id)" ] || fail "no frame stamp after bad clients"
exec 4>&-
zerospice_alive || fail "zerospice died"
log "PASS"
