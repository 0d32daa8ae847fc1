#!/usr/bin/env bash
# `make check-valgrind`: run the library's unit tests (CTest label "unit"),
# the in-process conformance suites (local, file) and the endpoint
# connector's tests (its HTTP client against a python3 server and against a
# real proxystore-endpoint, which themselves run outside valgrind) under
# valgrind memcheck, in a build without sanitizers. The tests are taken from
# CTest (command, arguments and environment as registered), so a test moved
# or renamed in tests/ is still found. Any memory error or definite/indirect
# leak fails.
# Programs that fork children which leave with _exit() while other threads
# hold memory (unit.file, http.threads) run with leak checking off: valgrind
# would count the child's copy of the parent's heap as leaked. Memory errors
# still fail them.
#   scripts/valgrind-check.sh BUILD_DIR
set -uo pipefail
BUILD="${1:-build}"
BUILD=$(cd "$BUILD" && pwd)
VG=(valgrind --quiet --error-exitcode=99 --leak-check=full
    --errors-for-leak-kinds=definite,indirect --show-leak-kinds=definite,indirect
    --track-fds=no --child-silent-after-fork=yes)
EXTRA_TESTS="conformance.local conformance.file http.client http.threads endpoint.connector"

# One line per test: NAME<TAB>ENV (';'-separated)<TAB>COMMAND (NUL-free, tab-separated args).
list=$(cd "$BUILD" && ctest --show-only=json-v1 | python3 -c '
import json, sys
extra = set(sys.argv[1].split())
for t in json.load(sys.stdin)["tests"]:
    props = {p["name"]: p["value"] for p in t.get("properties", [])}
    if "unit" not in props.get("LABELS", []) and t["name"] not in extra:
        continue
    cmd = t.get("command") or []
    if not cmd or not cmd[0].startswith("/") or cmd[0].endswith("bash"):
        continue  # scripts are not run under valgrind
    print(t["name"], ";".join(props.get("ENVIRONMENT", [])), "\t".join(cmd), sep="\x1f")
' "$EXTRA_TESTS")

pass=0
fail=0
while IFS=$'\x1f' read -r name envs cmd; do
    [ -n "$name" ] || continue
    IFS=$'\t' read -r -a argv <<<"$cmd"
    IFS=';' read -r -a envv <<<"$envs"
    extra=()
    case "$name" in
    unit.file | http.threads) extra=(--leak-check=no) ;;
    esac
    log="$BUILD/valgrind-$name.log"
    if (cd "$BUILD/tests" && env "${envv[@]}" CMOCKA_MESSAGE_OUTPUT=STDOUT PS_TEST_BUILD_DIR="$BUILD" \
        "${VG[@]}" "${extra[@]}" "${argv[@]}") >"$log" 2>&1; then
        pass=$((pass + 1))
        echo "valgrind: $name clean"
    else
        rc=$?
        if [ "$rc" -eq 77 ]; then
            echo "valgrind: $name skipped (a case cannot run here; see $log)"
            continue
        fi
        fail=$((fail + 1))
        echo "valgrind: $name FAILED (see $log)"
        tail -30 "$log"
    fi
done <<<"$list"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ] && [ "$pass" -gt 0 ]
