/*
 * Routing overhead of the multi connector: a 1 KiB put through a multi
 * connector versus the same put on the connector it chooses, called
 * directly. Not a test (CTest does not run it); build it in a Release tree:
 *
 *   cmake -S . -B build-rel -G Ninja -DCMAKE_BUILD_TYPE=Release
 *   cmake --build build-rel --target bench_multi && build-rel/bin/bench_multi [rounds]
 *
 * Scenario 1: the multi connector has three entries, tried in priority order: "big"
 * (a file connector, min 1 MiB: rejected by size), "tagged" (a local
 * connector that wants superset tags: rejected), "small" (the local
 * connector measured directly as the baseline). So each routed put checks
 * three policies, as a realistic configuration would.
 * Scenario 2: a multi connector of a local (max 512 B) and a file connector;
 * 1 KiB objects go to the file connector, compared with a file connector
 * called directly.
 *
 * Each round times 1000 puts on one side, then 1000 on the other (the order
 * alternates between rounds), evicting the objects untimed in between. The
 * result is the median per-put time of each side over all rounds, and the
 * overhead (multi - direct) / direct. Also measured: get of 1 KiB both ways.
 * Times are this thread's CPU time (CLOCK_THREAD_CPUTIME_ID), so other
 * processes on a busy machine do not inflate them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "proxystore/connectors/local.h"
#include "proxystore/connectors/multi.h"
#include "proxystore/proxystore.h"

#define BATCH 1000

/* CPU time of this thread in ns: on a loaded machine, time spent descheduled
 * would otherwise swamp the difference being measured. */
static uint64_t cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, size_t n)
{
    qsort(v, n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void die(const char *what)
{
    fprintf(stderr, "bench_multi: %s: %s\n", what, ps_last_error());
    exit(1);
}

/* Time BATCH puts on `c` (ns per put); the keys go to `keys`. */
static double time_puts(ps_connector *c, const void *data, size_t len, ps_key **keys)
{
    uint64_t t0 = cpu_ns();
    for (int i = 0; i < BATCH; i++)
        if (ps_connector_put(c, data, len, NULL, &keys[i]) != PS_OK)
            die("put");
    uint64_t t1 = cpu_ns();
    return (double)(t1 - t0) / BATCH;
}

static double time_gets(ps_connector *c, ps_key **keys)
{
    uint64_t t0 = cpu_ns();
    for (int i = 0; i < BATCH; i++) {
        ps_bytes b = PS_BYTES_INIT;
        if (ps_connector_get(c, keys[i], &b) != PS_OK)
            die("get");
        ps_bytes_free(&b);
    }
    uint64_t t1 = cpu_ns();
    return (double)(t1 - t0) / BATCH;
}

static void evict_all(ps_connector *c, ps_key **keys)
{
    for (int i = 0; i < BATCH; i++) {
        if (ps_connector_evict(c, keys[i]) != PS_OK)
            die("evict");
        ps_key_free(keys[i]);
    }
}

/* Median CPU ns per put and get of 1 KiB, directly on `direct` and through
 * `multi` (which routes them to a connector like `direct`). */
static void compare(const char *label, ps_connector *direct, ps_connector *multi, int rounds)
{
    char data[1024];
    memset(data, 'x', sizeof data);
    ps_key **kd = calloc(BATCH, sizeof *kd), **km = calloc(BATCH, sizeof *km);
    double *put_d = calloc((size_t)rounds, sizeof(double));
    double *put_m = calloc((size_t)rounds, sizeof(double));
    double *get_d = calloc((size_t)rounds, sizeof(double));
    double *get_m = calloc((size_t)rounds, sizeof(double));
    if (!kd || !km || !put_d || !put_m || !get_d || !get_m)
        exit(1);
    /* warm up both paths */
    for (int w = 0; w < 3; w++) {
        time_puts(direct, data, sizeof data, kd);
        time_puts(multi, data, sizeof data, km);
        evict_all(direct, kd);
        evict_all(multi, km);
    }
    for (int r = 0; r < rounds; r++) {
        if (r % 2 == 0) {
            put_d[r] = time_puts(direct, data, sizeof data, kd);
            put_m[r] = time_puts(multi, data, sizeof data, km);
            get_d[r] = time_gets(direct, kd);
            get_m[r] = time_gets(multi, km);
        } else {
            put_m[r] = time_puts(multi, data, sizeof data, km);
            put_d[r] = time_puts(direct, data, sizeof data, kd);
            get_m[r] = time_gets(multi, km);
            get_d[r] = time_gets(direct, kd);
        }
        evict_all(direct, kd);
        evict_all(multi, km);
    }
    double pd = median(put_d, (size_t)rounds), pm = median(put_m, (size_t)rounds);
    double gd = median(get_d, (size_t)rounds), gm = median(get_m, (size_t)rounds);
    printf("%s: %d rounds of %d ops (median thread CPU ns per op)\n", label, rounds, BATCH);
    printf("  put 1 KiB  direct %9.1f  multi %9.1f  overhead %+6.1f%% (%+.1f ns; target <= 5%%)\n",
           pd, pm, 100.0 * (pm - pd) / pd, pm - pd);
    printf("  get 1 KiB  direct %9.1f  multi %9.1f  overhead %+6.1f%% (%+.1f ns)\n", gd, gm,
           100.0 * (gm - gd) / gd, gm - gd);
    free(kd);
    free(km);
    free(put_d);
    free(put_m);
    free(get_d);
    free(get_m);
}

static ps_multi_policy *policy(const char *json)
{
    ps_multi_policy *p = NULL;
    if (ps_multi_policy_from_json(json, &p) != PS_OK)
        die("policy");
    return p;
}

int main(int argc, char **argv)
{
    int rounds = argc > 1 ? atoi(argv[1]) : 200;
    if (rounds < 4)
        rounds = 4;
    char tmpl[] = "/tmp/bench-multi-XXXXXX";
    if (mkdtemp(tmpl) == NULL) {
        perror("mkdtemp");
        return 1;
    }
    char opts[512];

    /* 1. the chosen connector is a local one (the third policy tried) */
    ps_connector *direct = NULL, *tagged = NULL, *big = NULL, *small = NULL, *multi = NULL;
    if (ps_local_connector_open(
            &(ps_local_options){.version = PS_LOCAL_OPTIONS_VERSION, .store_id = "bench-direct"},
            &direct) != PS_OK ||
        ps_local_connector_open(
            &(ps_local_options){.version = PS_LOCAL_OPTIONS_VERSION, .store_id = "bench-small"},
            &small) != PS_OK ||
        ps_local_connector_open(
            &(ps_local_options){.version = PS_LOCAL_OPTIONS_VERSION, .store_id = "bench-tagged"},
            &tagged) != PS_OK)
        die("local");
    snprintf(opts, sizeof opts, "{\"store_dir\": \"%s/big\", \"clear\": true}", tmpl);
    if (ps_connector_open("file", opts, &big) != PS_OK)
        die("file");
    ps_multi_policy *p1 = policy("{\"priority\": 3, \"min_size_bytes\": 1048576}");
    ps_multi_policy *p2 = policy("{\"priority\": 2, \"superset_tags\": [\"gpu\"]}");
    ps_multi_policy *p3 = policy("{\"priority\": 1}");
    ps_multi_entry e[3] = {{"big", big, p1}, {"tagged", tagged, p2}, {"small", small, p3}};
    if (ps_multi_connector_open(
            &(ps_multi_options){.version = PS_MULTI_OPTIONS_VERSION, .entries = e, .n_entries = 3},
            &multi) != PS_OK)
        die("multi");
    compare("local chosen (3 policies checked)", direct, multi, rounds);
    ps_connector_close(multi, PS_CLEAR_ALL);
    ps_connector_close(direct, PS_CLEAR_ALL);

    /* 2. the chosen connector is a file one (page cache) */
    ps_connector *fdirect = NULL, *fmulti = NULL, *mem = NULL, *disk = NULL;
    snprintf(opts, sizeof opts, "{\"store_dir\": \"%s/direct\", \"clear\": true}", tmpl);
    if (ps_connector_open("file", opts, &fdirect) != PS_OK)
        die("file");
    snprintf(opts, sizeof opts, "{\"store_dir\": \"%s/disk\", \"clear\": true}", tmpl);
    if (ps_connector_open("file", opts, &disk) != PS_OK || ps_local_connector_open(NULL, &mem))
        die("file");
    ps_multi_policy_free(p1);
    ps_multi_policy_free(p2);
    p1 = policy("{\"priority\": 2, \"max_size_bytes\": 512}");
    p2 = policy("{\"priority\": 1}");
    ps_multi_entry f[2] = {{"mem", mem, p1}, {"disk", disk, p2}};
    if (ps_multi_connector_open(
            &(ps_multi_options){.version = PS_MULTI_OPTIONS_VERSION, .entries = f, .n_entries = 2},
            &fmulti) != PS_OK)
        die("multi");
    compare("file chosen (2 policies checked)", fdirect, fmulti, rounds / 4);
    ps_connector_close(fmulti, PS_CLEAR_ALL);
    ps_connector_close(fdirect, PS_CLEAR_ALL);
    ps_multi_policy_free(p1);
    ps_multi_policy_free(p2);
    ps_multi_policy_free(p3);
    rmdir(tmpl);
    return 0;
}
