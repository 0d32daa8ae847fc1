#!/usr/bin/env bash
# The layering check (scripts/check-layers): the tree passes it, and it
# catches an include that points up a layer, one connector including
# another, and a public header with no layer, in a small tree made here.
#   test_layering.sh SOURCE_DIR
set -euo pipefail
src=$1
check=$src/scripts/check-layers
python3 "$check" "$src"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp"/src/core "$tmp"/src/store "$tmp"/src/connectors/file "$tmp"/src/connectors/redis \
    "$tmp"/include/proxystore/connectors
touch "$tmp"/include/proxystore/store.h "$tmp"/include/proxystore/status.h \
    "$tmp"/include/proxystore/connectors/redis.h "$tmp"/src/store/store_internal.h
printf '#include "proxystore/status.h"\n#include "../store/store_internal.h"\n' >"$tmp"/src/core/a.c
printf '#include <proxystore/store.h>\n' >"$tmp"/src/core/b.c
printf '#include "proxystore/connectors/redis.h"\n' >"$tmp"/src/connectors/file/file.c
printf '#include "core/missing.h"\n' >"$tmp"/src/store/store.c
touch "$tmp"/include/proxystore/newthing.h

if out=$(python3 "$check" "$tmp"); then
    echo "check-layers passed a tree with violations:"; echo "$out"; exit 1
fi
echo "$out"
expect() {
    grep -qF -- "$1" <<<"$out" || { echo "missing: $1"; exit 1; }
}
expect "src/core/a.c:2: includes ../store/store_internal.h: layer store is above core"
expect "src/core/b.c:1: includes proxystore/store.h: layer store is above core"
expect "connector file includes connector redis"
expect "src/store/store.c:1: includes core/missing.h, which is not a file of the project"
expect "include/proxystore/newthing.h: public header with no layer"
expect "5 include(s) break the layering"
echo "layering: ok"
