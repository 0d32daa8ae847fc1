#!/usr/bin/env bash
# `make demo`: a producer proxies a 256 MiB object into the default file store
# (~/.local/share/proxystore/default, or $XDG_DATA_HOME/proxystore/default) and
# hands the token to four consumer processes, which resolve it, verify its
# checksum and report their resolve times; then the store's metrics are shown
# and the object is evicted.
#
#   scripts/demo.sh BIN_DIR        (BIN_DIR: the build's bin directory)
#   PS_DEMO_MIB=64 scripts/demo.sh build/bin    for a smaller object
set -euo pipefail

BIN="${1:-build/bin}"
MIB="${PS_DEMO_MIB:-256}"
for prog in proxystore demo_producer demo_consumer; do
    if [ ! -x "$BIN/$prog" ]; then
        echo "demo: $BIN/$prog not found; build first (make)" >&2
        exit 1
    fi
done

OUT=$(mktemp "${TMPDIR:-/tmp}/ps-demo-XXXXXX")
trap 'rm -f "$OUT"' EXIT

echo "== ProxyStore-C demo: one producer, four consumer processes, one ${MIB} MiB object"
echo "\$ demo_producer --size-mib $MIB --consumers 4 demo_consumer"
"$BIN/demo_producer" --size-mib "$MIB" --consumers 4 "$BIN/demo_consumer" | tee "$OUT"
status=${PIPESTATUS[0]}
TOKEN=$(sed -n 's/^token ([0-9]* bytes): //p' "$OUT")

echo
echo "== what the token carries (nothing is fetched to show this)"
echo "\$ proxystore inspect \"\$TOKEN\""
"$BIN/proxystore" inspect "$TOKEN"

echo
echo "== after the producer's cleanup the object is gone"
echo "\$ proxystore resolve \"\$TOKEN\""
set +e
"$BIN/proxystore" resolve "$TOKEN" >/dev/null
rc=$?
set -e
echo "(exit status $rc: 1 means not found, as expected)"

if [ "$status" -ne 0 ] || [ "$rc" -ne 1 ]; then
    echo "demo: FAILED" >&2
    exit 1
fi
echo
echo "demo: ok"
