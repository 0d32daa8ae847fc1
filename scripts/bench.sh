#!/usr/bin/env bash
# Run the ProxyStore-C benchmarks: `make bench` calls `scripts/bench.sh build [--quick]`.
#
#   scripts/bench.sh BUILD_DIR [--quick] [--no-build] [--out FILE] [--only NAME]
#
# Builds ps_bench (and proxystore-endpoint when it exists) in BUILD_DIR,
# starts a redis-server, an iperf3 server and a proxystore-endpoint on free
# 127.0.0.1 ports, measures the raw limits (redis-benchmark, iperf3), runs
# BUILD_DIR/bin/ps_bench and writes bench/results/latest.json (or --out).
# Every server is stopped by its PID when the script exits, also on failure
# or Ctrl-C. Tools that are missing only turn their rows into "skipped".
# See bench/README.md.
set -euo pipefail

usage() {
    sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'
}

[[ $# -ge 1 ]] || { usage >&2; exit 2; }
build=$1
shift
quick=0
nobuild=0
out=
only=
while [[ $# -gt 0 ]]; do
    case $1 in
    --quick) quick=1 ;;
    --no-build) nobuild=1 ;;
    --out) out=${2:?--out needs a file}; shift ;;
    --only) only=${2:?--only needs a name}; shift ;;
    -h | --help) usage; exit 0 ;;
    *) echo "bench.sh: unknown argument $1" >&2; usage >&2; exit 2 ;;
    esac
    shift
done

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
[[ -n $out ]] || out=$root/bench/results/latest.json
mkdir -p "$(dirname "$out")"
case $out in /*) ;; *) out=$PWD/$out ;; esac

log() { echo "bench.sh: $*" >&2; }

if ((!nobuild)); then
    targets=(ps_bench)
    if [[ -f $root/src/endpoint/main.c ]]; then
        targets+=(proxystore-endpoint)
    fi
    # The DAOS case runs on the libdaos emulation of the test suite.
    if [[ -f $root/tests/connectors/daos/emu/libdaos_emu.c && -f $root/src/connectors/daos/daos_loader.h ]]; then
        targets+=(ps_bench_daos_setup daos_emu)
    fi
    cmake --build "$build" -j "${JOBS:-2}" --target "${targets[@]}"
fi
bench=$build/bin/ps_bench
[[ -x $bench ]] || { log "$bench not found (build it first)"; exit 3; }

work=$(mktemp -d "${TMPDIR:-/tmp}/ps-bench-sh.XXXXXX")
mkdir -p "$work/raw" "$work/scratch"
pids=()

cleanup() {
    local pid
    for pid in "${pids[@]}"; do
        if kill -0 "$pid" 2>/dev/null; then
            kill "$pid" 2>/dev/null || true
            for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
            kill -9 "$pid" 2>/dev/null || true
        fi
        wait "$pid" 2>/dev/null || true
    done
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A port on 127.0.0.1 that nothing listens on now (servers retry on a race).
free_port() {
    local p
    for _ in $(seq 100); do
        p=$((20000 + RANDOM % 40000))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
            echo "$p"
            return 0
        fi
    done
    return 1
}

# Wait until something accepts connections on 127.0.0.1:$1 while PID $2 lives.
wait_port() {
    for _ in $(seq 100); do
        kill -0 "$2" 2>/dev/null || return 1
        if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then
            return 0
        fi
        sleep 0.05
    done
    return 1
}

# ---- redis-server and redis-benchmark -----------------------------------------
redis_port=0
if command -v redis-server >/dev/null; then
    for _ in 1 2 3; do
        port=$(free_port) || break
        redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no \
            --dir "$work" --logfile "$work/redis.log" --daemonize no &
        pid=$!
        pids+=("$pid")
        if wait_port "$port" "$pid"; then
            redis_port=$port
            break
        fi
        kill "$pid" 2>/dev/null || true
    done
    if ((redis_port)); then
        log "redis-server on 127.0.0.1:$redis_port (pid $pid)"
    else
        log "redis-server did not start (see $work/redis.log); redis rows are skipped"
    fi
else
    log "redis-server not installed; redis rows are skipped"
fi

if ((redis_port)) && command -v redis-benchmark >/dev/null; then
    log "redis-benchmark ... (${SECONDS}s)"
    for cp in "1 1" "1 100" "8 1" "64 1"; do
        read -r c p <<<"$cp"
        for d in 100 1024 10240 1048576; do
            # 64 clients: only 1 KiB values (the endpoint's *_64clients rows).
            if ((c == 64 && d != 1024)); then continue; fi
            # Requests per test: a second or two each in a full run (1 MiB
            # values with -P 100 are slow: 100 MiB per pipeline).
            if ((d >= 1048576)); then
                n=500
                if ((p > 1)); then n=200; fi
            elif ((p > 1)); then
                n=300000
            elif ((c > 1)); then
                n=100000
            else
                n=20000
            fi
            if ((quick)); then
                n=$((n / 100))
                if ((d < 1048576 && n < 100)); then n=100; fi
                if ((n < 20)); then n=20; fi
            fi
            # Fewer requests than one pipeline make redis-benchmark abort.
            if ((n < p)); then n=$p; fi
            # Three runs (a quick run: one); ps_bench takes the median of
            # each test: one short run moves by up to 2x on a shared VM.
            runs=3
            if ((quick)); then runs=1; fi
            for run in $(seq "$runs"); do
                suffix=
                if ((run > 1)); then suffix=.$run; fi
                redis-benchmark -h 127.0.0.1 -p "$redis_port" -c "$c" -P "$p" -d "$d" -n "$n" \
                    -t set,get --csv >"$work/raw/redis-c$c-P$p-d$d.csv$suffix" \
                    2>"$work/raw/redis.err" ||
                    log "redis-benchmark -c $c -P $p -d $d failed: $(tail -1 "$work/raw/redis.err")"
            done
        done
    done
    redis-cli -h 127.0.0.1 -p "$redis_port" flushall >/dev/null 2>&1 || true
fi

# ---- iperf3 (loopback TCP) ------------------------------------------------------
if command -v iperf3 >/dev/null; then
    log "iperf3 ... (${SECONDS}s)"
    secs=3
    if ((quick)); then secs=1; fi
    for _ in 1 2 3; do
        iport=$(free_port) || break
        iperf3 -s -B 127.0.0.1 -p "$iport" -1 >"$work/iperf3-server.log" 2>&1 &
        ipid=$!
        pids+=("$ipid")
        ok=0
        # No probe connection: the one-off server would take it as its client.
        for _ in $(seq 20); do
            sleep 0.1
            kill -0 "$ipid" 2>/dev/null || break
            if iperf3 -c 127.0.0.1 -p "$iport" -t "$secs" --json >"$work/raw/iperf3.json" 2>/dev/null; then
                ok=1
                break
            fi
        done
        kill "$ipid" 2>/dev/null || true
        wait "$ipid" 2>/dev/null || true
        ((ok)) && break
    done
else
    log "iperf3 not installed; the loopback TCP limit is not measured"
fi

# ---- proxystore-endpoint -----------------------------------------------------------
endpoint_url=
ep=$build/bin/proxystore-endpoint
if [[ -x $ep ]]; then
    for _ in 1 2 3; do
        rm -f "$work/endpoint.port"
        "$ep" serve --host 127.0.0.1 --port 0 --port-file "$work/endpoint.port" \
            --max-object-size 1GiB --log-file "$work/endpoint.log" >"$work/endpoint.out" 2>&1 &
        epid=$!
        pids+=("$epid")
        for _ in $(seq 100); do
            [[ -s $work/endpoint.port ]] && break
            kill -0 "$epid" 2>/dev/null || break
            sleep 0.05
        done
        if [[ -s $work/endpoint.port ]] && wait_port "$(cat "$work/endpoint.port")" "$epid"; then
            endpoint_url=http://127.0.0.1:$(cat "$work/endpoint.port")
            log "proxystore-endpoint at $endpoint_url (pid $epid)"
            break
        fi
        kill "$epid" 2>/dev/null || true
    done
    [[ -n $endpoint_url ]] ||
        log "proxystore-endpoint did not start: $(tail -2 "$work/endpoint.out" 2>/dev/null)"
else
    log "$ep not built; endpoint rows are skipped"
fi

# ---- DAOS (the emulation) -------------------------------------------------------------
emu=$build/tests/daos-emu/libdaos.so.2
if [[ -f $emu && -x $build/bin/ps_bench_daos_setup ]]; then
    export PROXYSTORE_DAOS_LIBRARY=$emu DAOS_EMU_ROOT=$work/daos
    mkdir -p "$DAOS_EMU_ROOT"
    if "$build/bin/ps_bench_daos_setup" bench bench; then
        export PS_BENCH_DAOS_OPTIONS='{"pool": "bench", "container": "bench", "namespace": "bench", "clear": true}'
        log "DAOS emulation in $DAOS_EMU_ROOT"
    fi
else
    log "no DAOS emulation built ($emu); daos rows are skipped"
fi

# ---- the benchmarks ---------------------------------------------------------------
args=(--out "$out" --raw-dir "$work/raw" --tmpdir "$work/scratch" --redis-port "$redis_port")
if ((quick)); then args+=(--quick); fi
if [[ -n $endpoint_url ]]; then args+=(--endpoint-url "$endpoint_url"); fi
if [[ -n $only ]]; then args+=(--only "$only"); fi
# The fresh-process case and ps_bench's own stores must not touch the
# user's data directory.
export PROXYSTORE_HOME=$work/home
log "ps_bench ${args[*]}"
"$bench" "${args[@]}"
"$bench" --check "$out"
log "done in ${SECONDS}s"
