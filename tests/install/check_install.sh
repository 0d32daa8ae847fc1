#!/usr/bin/env bash
# Install the build into a temporary prefix and build a consumer against it
# three ways: pkg-config + shared library, pkg-config --static + static
# library, and CMake's find_package(ProxyStore). Each consumer must run.
#   check_install.sh BUILD_DIR SOURCE_DIR "SANITIZER_FLAGS"
set -euo pipefail
BUILD="$1"
SRC="$2"
SANFLAGS="${3:-}"
T=$(mktemp -d "${TMPDIR:-/tmp}/ps-install-XXXXXX")
trap 'rm -rf "$T"' EXIT
fail() { echo "install check: $*" >&2; exit 1; }

cmake --install "$BUILD" --prefix "$T/prefix" >"$T/install.log" || fail "cmake --install failed"
for f in include/proxystore/proxystore.h include/proxystore/sys/connector.h \
         lib/libproxystore.a lib/pkgconfig/proxystore.pc lib/cmake/ProxyStore/ProxyStoreConfig.cmake \
         bin/proxystore bin/proxystore-endpoint share/man/man1/proxystore.1 \
         share/man/man8/proxystore-endpoint.8; do
    [ -e "$T/prefix/$f" ] || fail "missing $f"
done
ls "$T/prefix"/lib/libproxystore.so.0 >/dev/null || fail "no soname link libproxystore.so.0"
readelf -d "$T/prefix/lib/libproxystore.so" | grep -q 'SONAME.*libproxystore.so.0' || fail "bad SONAME"
# Only the public ps_ API is exported.
if nm -D --defined-only "$T/prefix/lib/libproxystore.so" | awk '$2 != "A" {print $3}' | grep -v '^ps_[a-z]' | grep -q .; then
    nm -D --defined-only "$T/prefix/lib/libproxystore.so" | awk '$2 != "A" {print $3}' | grep -v '^ps_[a-z]' >&2
    fail "symbols outside the ps_ API are exported"
fi

export PKG_CONFIG_PATH="$T/prefix/lib/pkgconfig"
# shellcheck disable=SC2046
cc -std=c11 -Wall -Wextra -Werror $SANFLAGS "$SRC/tests/install/consumer.c" -o "$T/consumer_shared" \
   $(pkg-config --cflags --libs proxystore) || fail "pkg-config shared build failed"
LD_LIBRARY_PATH="$T/prefix/lib" "$T/consumer_shared" "$T/store1" | grep -q ' ok$' || fail "shared consumer"

# shellcheck disable=SC2046
cc -std=c11 -Wall -Wextra -Werror $SANFLAGS "$SRC/tests/install/consumer.c" -o "$T/consumer_static" \
   $(pkg-config --cflags proxystore) "$T/prefix/lib/libproxystore.a" \
   $(pkg-config --static --libs-only-l proxystore | sed 's/-lproxystore//') \
   || fail "static build failed"
"$T/consumer_static" "$T/store2" | grep -q ' ok$' || fail "static consumer"

cmake -S "$SRC/tests/install" -B "$T/cm" -DCMAKE_PREFIX_PATH="$T/prefix" \
      -DCMAKE_C_FLAGS="$SANFLAGS" -DCMAKE_EXE_LINKER_FLAGS="$SANFLAGS" >"$T/cm.log" 2>&1 \
      || { cat "$T/cm.log" >&2; fail "find_package(ProxyStore) failed"; }
cmake --build "$T/cm" >"$T/cmb.log" 2>&1 || { cat "$T/cmb.log" >&2; fail "CMake consumer build failed"; }
LD_LIBRARY_PATH="$T/prefix/lib" "$T/cm/consumer_cmake" "$T/store3" | grep -q ' ok$' || fail "CMake consumer"
echo "install check: headers, shared+static library, pkg-config and CMake package all work"
