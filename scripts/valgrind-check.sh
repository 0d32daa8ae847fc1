#!/usr/bin/env bash
# `make check-valgrind`: run the library's unit tests, the in-process
# conformance suites (local, file) and the endpoint connector's tests (its
# HTTP client against a python3 server and against a real proxystore-endpoint,
# which themselves run outside valgrind) under valgrind memcheck, in a build
# without sanitizers. Any memory error or definite/indirect leak fails.
# Programs that fork children which leave with _exit() while other threads
# hold memory (test_unit_file, test_http_threads) run with leak checking off:
# valgrind would count the child's copy of the parent's heap as leaked.
# Memory errors still fail them.
#   scripts/valgrind-check.sh BUILD_DIR
set -uo pipefail
BUILD="${1:-build}"
VG=(valgrind --quiet --error-exitcode=99 --leak-check=full
    --errors-for-leak-kinds=definite,indirect --show-leak-kinds=definite,indirect
    --track-fds=no --child-silent-after-fork=yes)
pass=0
fail=0
for t in "$BUILD"/tests/test_unit_* "$BUILD"/tests/test_conformance_local \
    "$BUILD"/tests/test_conformance_file "$BUILD"/tests/test_http_client \
    "$BUILD"/tests/test_http_threads "$BUILD"/tests/test_endpoint_connector; do
    [ -x "$t" ] || continue
    name=$(basename "$t")
    extra=()
    case "$name" in
    test_unit_file | test_http_threads) extra=(--leak-check=no) ;;
    esac
    if CMOCKA_MESSAGE_OUTPUT=STDOUT PS_TEST_BUILD_DIR="$BUILD" "${VG[@]}" "${extra[@]}" "$t" \
        >"$BUILD/valgrind-$name.log" 2>&1; then
        pass=$((pass + 1))
        echo "valgrind: $name clean"
    else
        fail=$((fail + 1))
        echo "valgrind: $name FAILED (see $BUILD/valgrind-$name.log)"
        tail -30 "$BUILD/valgrind-$name.log"
    fi
done
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
