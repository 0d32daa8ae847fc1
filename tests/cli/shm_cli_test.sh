#!/bin/bash
# `proxystore shm ls|rm` and the shm:NAME store SPEC end to end.
# Usage: shm_cli_test.sh PATH/TO/proxystore
set -u
PS="$1"
NAME="pstest-cli-$$"
TMP=$(mktemp -d)
fails=0
cleanup() { "$PS" shm rm "$NAME" >/dev/null 2>&1; rm -rf "$TMP"; }
trap cleanup EXIT
check() { # check DESCRIPTION WANT_STATUS COMMAND...
    local what="$1" want="$2"
    shift 2
    "$@" >"$TMP/out" 2>"$TMP/err"
    local got=$?
    if [ "$got" != "$want" ]; then
        echo "FAIL: $what: exit $got, want $want"
        sed 's/^/  stdout: /' "$TMP/out"
        sed 's/^/  stderr: /' "$TMP/err"
        fails=$((fails + 1))
    else
        echo "ok: $what"
    fi
}
expect_out() { # expect_out DESCRIPTION PATTERN
    if ! grep -Eq -- "$2" "$TMP/out"; then
        echo "FAIL: $1: output does not match /$2/"
        sed 's/^/  stdout: /' "$TMP/out"
        fails=$((fails + 1))
    fi
}

head -c 3000000 /dev/urandom >"$TMP/big"
echo "hello shm" >"$TMP/small"
check "put big" 0 "$PS" put --store "shm:$NAME" "$TMP/big"
BIG=$(cat "$TMP/out")
check "put small" 0 "$PS" put --store "shm:$NAME" "$TMP/small"
SMALL=$(cat "$TMP/out")
case "$BIG" in shm:*/"$NAME") ;; *) echo "FAIL: key form $BIG"; fails=$((fails + 1)) ;; esac

check "ls stores" 0 "$PS" shm ls
expect_out "ls stores lists the store" "^$NAME +2 +3000010 +1 +0"
check "ls NAME" 0 "$PS" shm ls "$NAME"
expect_out "ls NAME: the segment" " 3000000 segment$"
expect_out "ls NAME: the heap object" " 10 heap$"
check "ls --json NAME" 0 "$PS" shm ls --json "$NAME"
expect_out "json" "\"where\": ?\"segment\""

check "get big" 0 "$PS" get --store "shm:$NAME" "$BIG" -o "$TMP/big.out"
cmp -s "$TMP/big" "$TMP/big.out" || { echo "FAIL: big bytes differ"; fails=$((fails + 1)); }
check "get small" 0 "$PS" get --store "shm:$NAME" "$SMALL"
expect_out "small bytes" "^hello shm$"
check "proxy" 0 "$PS" proxy --store "shm:$NAME" "$TMP/big"
TOKEN=$(cat "$TMP/out")
check "resolve" 0 "$PS" resolve "$TOKEN" -o "$TMP/tok.out"
cmp -s "$TMP/big" "$TMP/tok.out" || { echo "FAIL: resolved bytes differ"; fails=$((fails + 1)); }

# a stale temporary segment of a dead writer, removed by rm --stale
touch "/dev/shm/proxystore-shm.$NAME/.0f8fad5b-d9cb-469f-a165-70867728950e.999999999.tmp"
check "ls shows the stale file" 0 "$PS" shm ls "$NAME"
expect_out "stale" "pid 999999999 \(dead: stale\)"
check "rm --stale" 0 "$PS" shm rm --stale "$NAME"
expect_out "rm --stale count" "removed 1 stale file$"
check "objects stay after rm --stale" 0 "$PS" exists --store "shm:$NAME" "$BIG"
expect_out "exists" "^true$"

check "rm" 0 "$PS" shm rm "$NAME"
[ -e "/dev/shm/proxystore-shm.$NAME" ] && { echo "FAIL: store directory left"; fails=$((fails + 1)); }
check "ls removed store" 1 "$PS" shm ls "$NAME"
check "rm removed store" 1 "$PS" shm rm "$NAME"
check "resolve after rm" 1 "$PS" resolve "$TOKEN"

check "usage: no subcommand" 2 "$PS" shm
check "usage: unknown subcommand" 2 "$PS" shm frob
check "usage: rm without name" 2 "$PS" shm rm
check "usage: bad name" 2 "$PS" shm rm "a/b"
check "help" 0 "$PS" shm --help
check "bad dir" 3 "$PS" shm ls --dir /nonexistent-dir

# the store is removed again at exit (the resolve above recreated it empty)
echo "$fails failure(s)"
[ "$fails" = 0 ]
