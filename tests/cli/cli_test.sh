#!/usr/bin/env bash
# End-to-end test of the `proxystore` command (docs/cli.md).
# usage: cli_test.sh PATH/TO/proxystore
set -u

PS="$1"
T=$(mktemp -d "${TMPDIR:-/tmp}/ps-cli-test-XXXXXX")
REDIS_PID=""
SHM="ps-cli-test-$$"
cleanup() {
    [ -n "$REDIS_PID" ] && kill "$REDIS_PID" 2>/dev/null
    rm -rf "$T" "/dev/shm/proxystore-shm.$SHM" # the shm connector's segment directory
}
trap cleanup EXIT

# Sanitizer reports must not look like our exit codes.
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1}:exitcode=86"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1}:exitcode=86"
# A private home: nothing here touches the user's real data directory.
export HOME="$T/home"
unset PROXYSTORE_HOME XDG_DATA_HOME PROXYSTORE_STORE
mkdir -p "$HOME"

fails=0
n=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
bad() { n=$((n + 1)); fails=$((fails + 1)); echo "not ok $n - $1"; }

# expect CODE DESCRIPTION -- command...   (stdout in $T/out, stderr in $T/err)
expect() {
    local want="$1" what="$2"
    shift 3
    "$@" >"$T/out" 2>"$T/err"
    local got=$?
    if [ "$got" -eq "$want" ]; then ok "$what (exit $got)"; else
        bad "$what: exit $got, want $want"
        sed 's/^/#   stderr: /' "$T/err" | head -5
    fi
}
# expect_err PATTERN DESCRIPTION: the last stderr matches
expect_err() {
    if grep -q -- "$1" "$T/err"; then ok "$2"; else
        bad "$2: stderr lacks \"$1\""
        sed 's/^/#   stderr: /' "$T/err" | head -5
    fi
}
same() { if cmp -s "$1" "$2"; then ok "$3"; else bad "$3: $1 and $2 differ"; fi; }

# ---- the default store: ~/.local/share/proxystore/default ------------------------
printf 'hello\0world\n' >"$T/small"
expect 0 "put into the default store" -- "$PS" put "$T/small"
KEY=$(cat "$T/out")
if [[ "$KEY" =~ ^file:[0-9a-f-]{36}/[0-9a-f]+$ ]]; then ok "put prints a file key"; else bad "key \"$KEY\""; fi
DEF="$HOME/.local/share/proxystore/default"
if [ -d "$DEF" ] && [ -e "$DEF/${KEY:5:36}.ready" ]; then ok "default store under ~/.local/share"; else bad "no object in $DEF"; fi
expect 0 "get to stdout" -- "$PS" get "$KEY"
same "$T/out" "$T/small" "get returns the bytes"
expect 0 "get -o FILE" -- "$PS" get "$KEY" -o "$T/got"
same "$T/got" "$T/small" "get -o writes the bytes"
expect 0 "exists" -- "$PS" exists "$KEY"
[ "$(cat "$T/out")" = "true" ] && ok "exists prints true" || bad "exists printed $(cat "$T/out")"
expect 0 "evict" -- "$PS" evict "$KEY"
expect 0 "exists after evict" -- "$PS" exists "$KEY"
[ "$(cat "$T/out")" = "false" ] && ok "exists prints false" || bad "exists printed $(cat "$T/out")"
expect 0 "evicting a missing key is fine" -- "$PS" evict "$KEY"
expect 1 "get of a missing key" -- "$PS" get "$KEY"
expect_err "no object with key '$KEY'" "missing key message names the key"
[ -d "$DEF" ] && ok "the CLI keeps the default directory" || bad "default directory was removed"

# XDG_DATA_HOME wins over HOME
expect 0 "put with XDG_DATA_HOME" -- env XDG_DATA_HOME="$T/xdg" "$PS" put "$T/small"
XK=$(cat "$T/out")
[ -e "$T/xdg/proxystore/default/${XK:5:36}.ready" ] && ok "default store under \$XDG_DATA_HOME" || bad "not under XDG_DATA_HOME"

# ---- stdin ------------------------------------------------------------------------
head -c 100000 /dev/urandom >"$T/rand"
expect 0 "put from stdin (-)" -- bash -c "\"$PS\" put - <\"$T/rand\""
K2=$(cat "$T/out")
expect 0 "put from a pipe, no FILE" -- bash -c "cat \"$T/rand\" | \"$PS\" put"
K3=$(cat "$T/out")
expect 0 "get of the stdin object" -- "$PS" get "$K2" -o "$T/r2"
same "$T/r2" "$T/rand" "stdin put round trip"
expect 0 "get of the piped object" -- "$PS" get "$K3" -o "$T/r3"
same "$T/r3" "$T/rand" "pipe put round trip"
: >"$T/empty"
expect 0 "put of an empty file" -- "$PS" put "$T/empty"
KE=$(cat "$T/out")
expect 0 "get of an empty object" -- "$PS" get "$KE" -o "$T/e2"
same "$T/e2" "$T/empty" "empty round trip"

# ---- proxies -------------------------------------------------------------------------
expect 0 "proxy" -- "$PS" proxy "$T/rand"
TOK=$(cat "$T/out")
if [[ "$TOK" =~ ^ps1\.[A-Za-z0-9_-]+$ ]] && [ ${#TOK} -le 256 ]; then ok "token is short and shell-safe (${#TOK} bytes)"; else bad "token \"$TOK\""; fi
expect 0 "inspect" -- "$PS" inspect "$TOK"
grep -q '"key": "file:' "$T/out" && grep -q "\"store_dir\": \"$DEF\"" "$T/out" && ok "inspect shows key and store" || bad "inspect output: $(cat "$T/out")"
expect 0 "resolve to stdout" -- "$PS" resolve "$TOK"
same "$T/out" "$T/rand" "resolve returns the bytes"
expect 0 "resolve -o" -- "$PS" resolve "$TOK" -o "$T/res"
same "$T/res" "$T/rand" "resolve -o writes the bytes"
expect 0 "proxy --evict from stdin" -- bash -c "\"$PS\" proxy --evict - <\"$T/small\""
ETOK=$(cat "$T/out")
expect 0 "inspect an evicting token" -- "$PS" inspect "$ETOK"
grep -q '"evict": true' "$T/out" && ok "inspect shows evict" || bad "evict flag missing"
expect 0 "first resolve of an evicting token" -- "$PS" resolve "$ETOK" -o "$T/ev"
same "$T/ev" "$T/small" "evicting resolve returns the bytes"
expect 1 "second resolve finds nothing" -- "$PS" resolve "$ETOK"
expect_err "Cannot resolve target object with key='file:" "missing-object message of resolve"
expect_err "Store(name='default')" "the message names the store"

# ---- PROXYSTORE_STORE and --store -----------------------------------------------------
export PROXYSTORE_STORE="file:$T/envstore"
expect 0 "put with PROXYSTORE_STORE" -- "$PS" put "$T/small"
EK=$(cat "$T/out")
[ -e "$T/envstore/${EK:5:36}.ready" ] && ok "PROXYSTORE_STORE chooses the store" || bad "object not in \$PROXYSTORE_STORE"
expect 0 "--store overrides PROXYSTORE_STORE" -- "$PS" put --store "file:$T/optstore" "$T/small"
OK2=$(cat "$T/out")
[ -e "$T/optstore/${OK2:5:36}.ready" ] && ok "--store chooses the store" || bad "object not in --store dir"
expect 0 "get through PROXYSTORE_STORE" -- "$PS" get "$EK"
same "$T/out" "$T/small" "env store round trip"
expect 3 "a key of another directory is refused" -- "$PS" get -s "file:$T/optstore" "$EK"
expect_err "another directory" "foreign key message"
unset PROXYSTORE_STORE
(cd "$T" && "$PS" put --store file:relative "$T/small" >"$T/out" 2>"$T/err")
RK=$(cat "$T/out")
[ -e "$T/relative/${RK:5:36}.ready" ] && ok "relative file:DIR is made absolute" || bad "relative dir"
expect 0 "token of a relative-dir store resolves from elsewhere" -- bash -c "cd \"$T\" && \"$PS\" proxy -s file:relative \"$T/small\" >\"$T/tok\" && cd / && \"$PS\" resolve \"\$(cat \"$T/tok\")\""
same "$T/out" "$T/small" "relative-dir token round trip"

# @FILE.json: a store configuration, and a connector configuration
cat >"$T/store.json" <<EOF
{"name": "json-store", "connector": {"kind": "file", "options": {"store_dir": "$T/jsonstore", "clear": false}}, "codec": "zstd"}
EOF
expect 0 "put with @FILE.json" -- "$PS" put -s "@$T/store.json" "$T/rand"
JK=$(cat "$T/out")
expect 0 "get with @FILE.json" -- "$PS" get -s "@$T/store.json" "$JK"
same "$T/out" "$T/rand" "zstd store round trip"
expect 0 "proxy with @FILE.json" -- "$PS" proxy -s "@$T/store.json" "$T/rand"
expect 0 "resolve a zstd store's token" -- "$PS" resolve "$(cat "$T/out")"
same "$T/out" "$T/rand" "zstd token round trip"
echo '{"kind": "file", "options": {"store_dir": "'"$T/jsonconn"'", "clear": false}}' >"$T/conn.json"
expect 0 "put with a connector @FILE.json" -- "$PS" put -s "@$T/conn.json" "$T/small"

# ---- a large object ---------------------------------------------------------------------
head -c $((80 << 20)) /dev/urandom >"$T/big"
expect 0 "put of 80 MiB" -- "$PS" put "$T/big"
BK=$(cat "$T/out")
expect 0 "get of 80 MiB" -- "$PS" get "$BK" -o "$T/big2"
same "$T/big2" "$T/big" "80 MiB round trip"
expect 0 "proxy of 80 MiB" -- "$PS" proxy "$T/big"
expect 0 "resolve of 80 MiB" -- "$PS" resolve "$(cat "$T/out")" -o "$T/big3"
same "$T/big3" "$T/big" "80 MiB token round trip"
# progress bars: only on a terminal (script(1) gives us one), never in a pipe
if command -v script >/dev/null; then
    script -qec "\"$PS\" put \"$T/big\" >/dev/null" /dev/null >"$T/tty" 2>&1
    grep -q "reading .*100%.*MiB/s" "$T/tty" && ok "progress bar on a terminal" || bad "no progress bar: $(tr '\r' '\n' <"$T/tty" | tail -2)"
    script -qec "\"$PS\" get \"$BK\" >/dev/null" /dev/null >"$T/tty" 2>&1
    grep -q "writing .*100%" "$T/tty" && ok "progress bar when writing" || bad "no progress bar for get"
fi
expect 0 "no progress bar without a terminal" -- "$PS" get "$BK" -o "$T/big2"
[ -s "$T/err" ] && bad "stderr not empty: $(head -c 200 "$T/err")" || ok "stderr is quiet in a pipe"
rm -f "$T/big" "$T/big2" "$T/big3"

# ---- errors and usage ---------------------------------------------------------------------
expect 2 "no command" -- "$PS"
expect 2 "unknown command" -- "$PS" frobnicate
expect_err "unknown command" "unknown command message"
expect 2 "get without a key" -- "$PS" get
expect 2 "two files" -- "$PS" put a b
expect 2 "unknown option" -- "$PS" put --bogus "$T/small"
expect_err "invalid option" "unknown option message"
expect 2 "--evict is only for proxy" -- "$PS" put --evict "$T/small"
expect 2 "malformed key" -- "$PS" get "not a key"
expect_err "invalid key" "malformed key message"
expect 2 "garbage token" -- "$PS" resolve "ps1.garbage"
expect_err "invalid proxy token" "garbage token message"
expect 2 "truncated token" -- "$PS" resolve "${TOK:0:40}"
expect_err "invalid proxy token" "truncated token message"
expect 2 "altered token" -- "$PS" inspect "${TOK:0:20}A${TOK:21}"
expect 2 "not a token" -- "$PS" inspect "hello"
expect 2 "malformed store spec" -- "$PS" put -s "ftp:x" "$T/small"
expect_err "unknown store spec" "malformed spec message"
expect 2 "redis spec with a bad port" -- "$PS" put -s "redis://localhost:99999" "$T/small"
expect 2 "daos spec without a namespace" -- "$PS" put -s "daos:pool/cont" "$T/small"
echo '{"kind": "nosuch", "options": {}}' >"$T/nosuch.json"
expect 3 "a connector type not built" -- "$PS" put -s "@$T/nosuch.json" "$T/small"
expect_err "unknown connector type" "unknown connector type message"
# shm:NAME maps to the shm connector's "name" option (when this build has it)
"$PS" put -s "shm:$SHM" "$T/small" >"$T/out" 2>"$T/err"
rc=$?
if [ $rc -eq 0 ]; then
    SK=$(cat "$T/out")
    expect 0 "get from shm:NAME in another process" -- "$PS" get -s "shm:$SHM" "$SK"
    same "$T/out" "$T/small" "shm round trip"
    expect 0 "evict from shm:NAME" -- "$PS" evict -s "shm:$SHM" "$SK"
elif grep -q "unknown connector type" "$T/err"; then
    [ $rc -eq 3 ] && ok "shm:NAME without an shm connector (exit 3)" || bad "shm exit $rc"
else
    bad "shm:NAME: exit $rc: $(cat "$T/err")"
fi
expect 3 "missing input file" -- "$PS" put "$T/does-not-exist"
expect_err "No such file or directory" "missing input file message"
expect 3 "a store directory that cannot be created" -- "$PS" put -s "file:$T/small/sub" "$T/small"
expect_err "$T/small/sub" "the message names the directory"
expect 3 "missing @FILE.json" -- "$PS" put -s "@$T/nope.json" "$T/small"
# redis on a closed port (the redis connector connects when opened or on first use)
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' 2>/dev/null || echo 1)
expect 3 "unreachable redis store" -- "$PS" put -s "redis://127.0.0.1:$PORT" "$T/small"
expect_err "127.0.0.1" "the message names the server"
# a token whose store cannot be reached
if command -v redis-server >/dev/null; then
    RPORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    redis-server --port "$RPORT" --bind 127.0.0.1 --save '' --appendonly no --daemonize no >/dev/null 2>&1 &
    REDIS_PID=$!
    for _ in $(seq 50); do redis-cli -p "$RPORT" ping >/dev/null 2>&1 && break; sleep 0.1; done
    expect 0 "proxy into redis" -- "$PS" proxy -s "redis://127.0.0.1:$RPORT" "$T/rand"
    RTOK=$(cat "$T/out")
    expect 0 "resolve from redis" -- "$PS" resolve "$RTOK"
    same "$T/out" "$T/rand" "redis token round trip"
    kill "$REDIS_PID"
    wait "$REDIS_PID" 2>/dev/null
    REDIS_PID=""
    expect 3 "resolve when the redis server is gone" -- "$PS" resolve "$RTOK"
    expect_err "127.0.0.1:$RPORT" "the message names the server"
fi
expect 3 "write error on -o" -- "$PS" resolve "$TOK" -o "$T/no/such/dir/file"
expect_err "$T/no/such/dir/file" "write error names the path"

# ---- help ---------------------------------------------------------------------------------------
for c in put get exists evict proxy resolve inspect; do
    expect 0 "$c --help" -- "$PS" "$c" --help
    grep -q "usage: proxystore $c" "$T/out" && ok "$c --help prints its usage" || bad "$c --help output"
done
expect 0 "--help" -- "$PS" --help
expect 0 "--version" -- "$PS" --version
grep -q '"daos"' "$T/out" && ok "--version reports whether DAOS is available" || bad "--version output"
grep -q '"connectors"' "$T/out" && ok "--version lists the connector types" || bad "--version output"

# ---- a multi store: inspect says which connector holds the key -------------------------------
cat >"$T/multi.json" <<JSON
{"name": "cli-multi", "connector": {"kind": "multi", "options": {"connectors": [
 {"name": "small", "connector": {"kind": "file", "options": {"store_dir": "$T/m-small", "clear": false}},
  "policy": {"max_size_bytes": 100}},
 {"name": "big", "connector": {"kind": "file", "options": {"store_dir": "$T/m-big", "clear": false}},
  "policy": {"min_size_bytes": 101}}]}}}
JSON
printf 'tiny' >"$T/tiny"
expect 0 "proxy a small object into a multi store" -- "$PS" proxy --store "@$T/multi.json" "$T/tiny"
MTOK=$(cat "$T/out")
expect 0 "inspect a multi token" -- "$PS" inspect "$MTOK"
grep -q '"multi_connector": "small"' "$T/out" && ok "inspect names the connector (small)" || bad "inspect: no multi_connector small"
expect 0 "proxy a large object into a multi store" -- "$PS" proxy --store "@$T/multi.json" "$T/rand"
MTOK2=$(cat "$T/out")
expect 0 "inspect the second multi token" -- "$PS" inspect "$MTOK2"
grep -q '"multi_connector": "big"' "$T/out" && ok "inspect names the connector (big)" || bad "inspect: no multi_connector big"
expect 0 "resolve from the multi store" -- "$PS" resolve "$MTOK2"
same "$T/out" "$T/rand" "multi token round trip"

echo "1..$n"
[ "$fails" -eq 0 ] && echo "# all $n passed" || echo "# $fails of $n failed"
exit $((fails > 0))
