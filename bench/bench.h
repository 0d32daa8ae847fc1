/*
 * ps_bench: the benchmark harness behind `make bench` (see bench/README.md).
 *
 * Layout of the program:
 *   main.c     arguments, the run order, the child mode of the fresh-process case
 *   stats.c    timed sampling (groups of fast ops), median / p99, threads
 *   raw.c      raw limits: memcpy, page cache, redis-benchmark and iperf3 results
 *   cases.c    the connector case table and the store operations measured on each
 *   proxy.c    proxy creation, tokens and resolves (same and fresh process)
 *   report.c   targets, the printed table and bench/results/latest.json
 *
 * Everything the harness measures through the library goes through the
 * public API. The store and proxy APIs are bound weakly (api.h) so that the
 * harness builds and runs while those parts are still missing: their rows
 * then say "skipped: not built".
 */
#ifndef PS_BENCH_H
#define PS_BENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proxystore/proxystore.h"
#include "proxystore/sys/connector.h" /* ps_error */

#define BENCH_KIB ((size_t)1024)
#define BENCH_MIB ((size_t)1024 * 1024)

/** A quick run skips objects larger than this (rows say "skipped: quick run"). */
#define BENCH_QUICK_MAX_SIZE BENCH_MIB

/** Version of the JSON layout written to latest.json (bench/README.md). */
#define BENCH_SCHEMA "proxystore-bench/1"

/* ---- options -------------------------------------------------------------- */

typedef struct bench_opts {
    bool quick;               /* short run: small budgets, few samples */
    const char *out_path;     /* JSON output (NULL: do not write) */
    const char *raw_dir;      /* directory with redis-benchmark / iperf3 outputs */
    const char *tmpdir;       /* scratch directory for file stores */
    int redis_port;           /* redis-server on 127.0.0.1 (0: none) */
    const char *endpoint_url; /* running proxystore-endpoint (NULL: none) */
    const char *only;         /* run only cases whose name contains this */
    const char *self_exe;     /* this program, for the fresh-process case */
    double budget_s;          /* time per row */
    size_t min_samples;       /* per row, at least */
    size_t max_samples;       /* per row, at most */
} bench_opts;

extern bench_opts bench_g_opts;

/* ---- sampling (stats.c) ---------------------------------------------------- */

/* One measured operation. run() does one op (timed); after() undoes the last
 * n runs untimed (e.g. evicts the objects n puts made); both may be NULL-safe
 * no-ops. `i` is the index of the run inside its timed group. */
typedef struct bench_op {
    ps_status (*run)(void *arg, size_t i);
    ps_status (*after)(void *arg, size_t n);
    void *arg;
    size_t max_group;    /* most runs per timed group (1: time every run) */
    size_t ops_per_run;  /* logical operations per run (a batch: its length) */
    size_t bytes_per_op; /* payload bytes per logical operation */
} bench_op;

typedef struct bench_stats {
    size_t samples;     /* timed samples (groups) */
    size_t ops;         /* logical operations timed */
    double total_ns;    /* timed nanoseconds */
    double median_ns;   /* per logical operation (per run for batches) */
    double p99_ns;      /* per logical operation (per run for batches) */
    double ops_per_sec; /* logical operations per second */
    double mb_per_sec;  /* payload 1e6 bytes per second */
    size_t group;       /* runs per timed group */
} bench_stats;

/* Run `op` until the time budget and sample bounds are met. Returns the
 * first failing status of run/after (with ps_last_error set).
 * `latency_per_run` says whether median/p99 are per run (batches) or per
 * logical operation. */
ps_status bench_measure(const bench_op *op, bool latency_per_run, bench_stats *st);

/* Same, from `nthreads` threads, each with its own op (ops[t]). Throughput is
 * the sum over threads; latencies are over the samples of all threads. */
ps_status bench_measure_threads(const bench_op *ops, size_t nthreads, bench_stats *st);

/* Elapsed-time guard for one row: stop sampling when this many seconds have
 * passed even if min_samples is not reached (slow sanitizer builds). */
#define BENCH_ROW_HARD_LIMIT_S 20.0

/* Fill `st` from `n` timed samples of `runs` runs each (sorts `ns`). */
void bench_stats_from_samples(double *ns, size_t n, size_t runs, const bench_op *op,
                              bool latency_per_run, bench_stats *st);

/* ---- raw limits (raw.c) ----------------------------------------------------- */

typedef struct bench_raw {
    char name[96];      /* e.g. "redis-benchmark -c 1 -P 1 -d 100 GET" */
    double ops_per_sec; /* 0 when not a rate */
    double mb_per_sec;  /* 0 when not a bandwidth */
    size_t size;        /* payload bytes per op (0: n/a) */
    char note[160];     /* why it is missing, or how it was measured */
} bench_raw;

/* Measure memcpy and the page cache, load external results from raw_dir. */
void bench_raw_collect(void);

/* The raw limit named `name`, or NULL when it was not measured. */
const bench_raw *bench_raw_find(const char *name);

/* All raw limits (measured or not) for the report. */
size_t bench_raw_count(void);
const bench_raw *bench_raw_at(size_t i);

/* Name of the redis-benchmark raw limit for (clients, pipeline, size, SET|GET). */
void bench_raw_redis_name(char *buf, size_t size, int clients, int pipeline, size_t dsize,
                          const char *cmd);

/* ---- rows (report.c) --------------------------------------------------------- */

typedef enum bench_status { BENCH_OK, BENCH_SKIPPED, BENCH_ERROR } bench_status;

typedef struct bench_row {
    char connector[32];
    char operation[32];
    size_t size;    /* payload bytes per logical operation */
    size_t batch;   /* objects per call (1 unless a batch) */
    size_t clients; /* concurrent clients (threads) */
    bench_status status;
    char note[320];
    bench_stats st;
    /* the matching raw limit (raw_name empty: none) */
    char raw_name[96];
    const char *raw_unit; /* "ops/s" or "MB/s" */
    double raw_value;
    double ratio; /* ours / raw in raw_unit; < 0 when none */
    /* the target checked on this row (target empty: none) */
    char target[160];
    int holds;          /* 1 holds, 0 does not, -1 unknown (not measured) */
    double token_bytes; /* token rows: encoded size; else < 0 */
    double overhead;    /* put_routed rows: median paired time ratio - 1; else NAN */
} bench_row;

/* Append a row (copied) and return it for further edits. */
bench_row *bench_row_add(const char *connector, const char *operation, size_t size);

/* A row that was not run, with a reason ("not built", ...). */
bench_row *bench_row_skip(const char *connector, const char *operation, size_t size,
                          const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Number of rows so far, and row i. */
size_t bench_row_count(void);
bench_row *bench_row_at(size_t i);

/* Find a row, or NULL. */
bench_row *bench_row_find(const char *connector, const char *operation, size_t size);

/* Attach the raw limit `raw_name` to `row`, comparing in `unit` (ops/s or MB/s). */
void bench_row_set_raw(bench_row *row, const char *raw_name, const char *unit);

/* Evaluate every target on the rows (report.c keeps the target table). */
void bench_targets_evaluate(void);

/* Print the table and the target summary to stdout. */
void bench_report_print(void);

/* Write the JSON document; PS_EIO with a message on failure. */
ps_status bench_report_write(const char *path, double duration_s);

/* Validate a results file against the schema (for the bench.quick test):
 * prints what is wrong and returns false. Rows with status "error" also
 * fail the check (a case that cannot run any more has rotted). */
bool bench_report_check(const char *path);

/* ---- cases ------------------------------------------------------------------- */

/* Run every connector case (cases.c). */
void bench_cases_run(void);

/* Proxy rows of one connector (proxy.c): 1 KiB objects in `store`, which is
 * registered; `fresh` adds the fresh-process resolve. */
void bench_proxy_case(const char *connector, ps_store *store, bool fresh);

/* Child mode of the fresh-process case: decode `token`, resolve, print the
 * monotonic time and the length. Returns the process exit code. */
int bench_proxy_child(const char *token);

/* ---- fresh processes (spawn.c) ------------------------------------------------ */

/* Run this program again with `args` (NULL-terminated, at most 6) and its
 * standard output in `buf` (NUL-terminated, truncated to bufsz - 1).
 * `*t_spawn` is ps_now_ns() just before posix_spawn, `*t_exit` just after
 * the child was reaped. A child that fails is PS_EIO. */
ps_status bench_spawn_self(const char *const *args, char *buf, size_t bufsz, uint64_t *t_spawn,
                           uint64_t *t_exit);
#define PS__BENCH_FORWARD(expr)                                                                    \
    do {                                                                                           \
        ps_status ps__bf_ = (expr);                                                                \
        if (ps__bf_ != PS_OK)                                                                      \
            return ps__bf_;                                                                        \
    } while (0)

/* The multi case's put_routed measurement in this (fresh) process: prints
 * one result line for the parent (cases.c). */
int bench_routed_child(const char *multi_options, const char *direct_options, const char *quick);

/* ---- small helpers (stats.c) ------------------------------------------------- */

/* "100 B", "10 KiB", "1 MiB", "100 MiB". */
const char *bench_size_label(size_t size, char *buf, size_t bufsize);

/* A buffer of `n` pattern bytes from ps_malloc (pre-faulted). */
void *bench_pattern(size_t n, uint32_t seed);

/* printf into a ps_malloc'd string; NULL on failure. */
char *bench_strdupf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
