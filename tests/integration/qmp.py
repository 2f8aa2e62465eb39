#!/usr/bin/python3
"""Minimal QMP client for tests: qmp.py SOCKET COMMAND [JSON-ARGS]."""
import json
import socket
import sys


def main():
    path, command = sys.argv[1], sys.argv[2]
    args = json.loads(sys.argv[3]) if len(sys.argv) > 3 else {}
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(20)
    s.connect(path)
    f = s.makefile("rw")
    json.loads(f.readline())  # greeting
    for cmd, a in (("qmp_capabilities", {}), (command, args)):
        f.write(json.dumps({"execute": cmd, "arguments": a}) + "\n")
        f.flush()
        while True:
            reply = json.loads(f.readline())
            if "event" in reply:
                continue
            if "error" in reply:
                print(reply["error"].get("desc", reply), file=sys.stderr)
                return 1
            break
    print(json.dumps(reply.get("return")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
