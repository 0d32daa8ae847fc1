#!/usr/bin/env bash
# The C example in README.md compiles against the built library and runs.
#   readme_example.sh SOURCE_DIR LIBPROXYSTORE_A "SANITIZER_FLAGS"
set -euo pipefail
SRC="$1"
LIB="$2"
SANFLAGS="${3:-}"
T=$(mktemp -d "${TMPDIR:-/tmp}/ps-readme-XXXXXX")
trap 'rm -rf "$T"' EXIT
# The first ```c block, wrapped in main(); its #include lines stay on top.
awk '/^```c$/ {on = 1; next} on && /^```$/ {exit} on {print}' "$SRC/README.md" >"$T/block.c"
[ -s "$T/block.c" ] || { echo "README.md has no C example" >&2; exit 1; }
{
    grep '^#include' "$T/block.c"
    echo '#include <stdio.h>'
    echo 'int main(void)'
    echo '{'
    grep -v '^#include' "$T/block.c"
    echo '    return 0;'
    echo '}'
} >"$T/example.c"
# shellcheck disable=SC2046
cc -std=c11 -Wall -Wextra -Werror $SANFLAGS -I"$SRC/include" "$T/example.c" -o "$T/example" \
    "$LIB" $(pkg-config --libs jansson libzstd hiredis libpcre2-8) -ldl -lpthread -lm -lrt
out=$("$T/example")
echo "$out"
echo "$out" | grep -q -- '-> hello$' || { echo "README example printed: $out" >&2; exit 1; }
