#!/bin/bash
# Builds zerospice and runs it on its embedded default: the test pattern,
# software encoder, listening on 127.0.0.1:5900. Extra arguments go to
# zerospice (see --help). Connect with: remote-viewer spice://127.0.0.1:5900
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
"$top/tools/install-deps.sh"
[ -d "$top/build" ] || meson setup "$top/build" "$top"
ninja -C "$top/build" server/zerospice
exec "$top/build/server/zerospice" "$@"
