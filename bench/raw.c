/*
 * Raw limits: what the hardware and the servers do without ProxyStore.
 *
 * Measured here, at 1 MiB and 100 MiB (the sizes rows compare with them):
 * memcpy bandwidth and page-cache file write/read throughput (in the
 * scratch directory the file stores use). Loaded from outputs that
 * scripts/bench.sh writes into --raw-dir during the same run:
 *   redis-c<C>-P<P>-d<D>.csv  redis-benchmark --csv -t set,get -c C -P P -d D
 *   iperf3.json               iperf3 -c 127.0.0.1 --json (loopback TCP)
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "bench.h"

#define RAW_MAX 64

static bench_raw g_raw[RAW_MAX];
static size_t g_nraw;

static bench_raw *raw_add(const char *name)
{
    if (g_nraw == RAW_MAX)
        return NULL;
    bench_raw *r = &g_raw[g_nraw++];
    memset(r, 0, sizeof *r);
    snprintf(r->name, sizeof r->name, "%s", name);
    return r;
}

size_t bench_raw_count(void)
{
    return g_nraw;
}

const bench_raw *bench_raw_at(size_t i)
{
    return i < g_nraw ? &g_raw[i] : NULL;
}

const bench_raw *bench_raw_find(const char *name)
{
    for (size_t i = 0; i < g_nraw; i++)
        if (strcmp(g_raw[i].name, name) == 0)
            return (g_raw[i].ops_per_sec > 0 || g_raw[i].mb_per_sec > 0) ? &g_raw[i] : NULL;
    return NULL;
}

void bench_raw_redis_name(char *buf, size_t size, int clients, int pipeline, size_t dsize,
                          const char *cmd)
{
    snprintf(buf, size, "redis-benchmark -c %d -P %d -d %zu %s", clients, pipeline, dsize, cmd);
}

/* ---- memcpy ------------------------------------------------------------------ */

typedef struct copy_arg {
    void *dst;
    const void *src;
    size_t n;
} copy_arg;

static ps_status run_memcpy(void *arg, size_t i)
{
    (void)i;
    copy_arg *a = arg;
    memcpy(a->dst, a->src, a->n);
    /* Keep the copy from being optimized away. */
    __asm__ __volatile__("" : : "r"(a->dst) : "memory");
    return PS_OK;
}

/* Bandwidth from the median time of one op of `bytes`. */
static double median_mb_per_sec(const bench_stats *st, size_t bytes)
{
    return st->median_ns > 0 ? (double)bytes / st->median_ns * 1e3 : 0;
}

static void raw_memcpy(size_t n)
{
    char name[96], label[32];
    snprintf(name, sizeof name, "memcpy %s", bench_size_label(n, label, sizeof label));
    bench_raw *r = raw_add(name);
    if (bench_g_opts.quick && n > BENCH_QUICK_MAX_SIZE) {
        snprintf(r->note, sizeof r->note, "not measured (quick run)");
        return;
    }
    void *src = bench_pattern(n, 1), *dst = bench_pattern(n, 2);
    if (!src || !dst) {
        snprintf(r->note, sizeof r->note, "out of memory for 2 x %zu bytes", n);
        goto out;
    }
    copy_arg a = {dst, src, n};
    bench_op op = {run_memcpy, NULL, &a, 1, 1, n};
    bench_stats st;
    if (bench_measure(&op, false, &st) == PS_OK) {
        r->mb_per_sec = median_mb_per_sec(&st, n);
        r->size = n;
        snprintf(r->note, sizeof r->note, "memcpy between pre-faulted buffers, median");
    }
out:
    ps_free(src);
    ps_free(dst);
}

/* ---- page cache -------------------------------------------------------------- */

typedef struct file_arg {
    char path[4096];
    void *buf;
    size_t n;
} file_arg;

static ps_status write_all(int fd, const void *buf, size_t n, const char *path)
{
    const char *p = buf;
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return ps_error(PS_EIO, "write %s: %s", path, strerror(errno));
        }
        p += w;
        n -= (size_t)w;
    }
    return PS_OK;
}

static ps_status run_file_write(void *arg, size_t i)
{
    (void)i;
    file_arg *a = arg;
    int fd = open(a->path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return ps_error(PS_EIO, "open %s: %s", a->path, strerror(errno));
    ps_status s = write_all(fd, a->buf, a->n, a->path);
    if (close(fd) != 0 && s == PS_OK)
        s = ps_error(PS_EIO, "close %s: %s", a->path, strerror(errno));
    return s;
}

static ps_status after_file_write(void *arg, size_t n)
{
    (void)n;
    file_arg *a = arg;
    if (unlink(a->path) != 0)
        return ps_error(PS_EIO, "unlink %s: %s", a->path, strerror(errno));
    return PS_OK;
}

static ps_status run_file_read(void *arg, size_t i)
{
    (void)i;
    file_arg *a = arg;
    int fd = open(a->path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return ps_error(PS_EIO, "open %s: %s", a->path, strerror(errno));
    char *p = a->buf;
    size_t left = a->n;
    ps_status s = PS_OK;
    while (left > 0) {
        ssize_t r = read(fd, p, left);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            s = ps_error(PS_EIO, "read %s: %s", a->path, r < 0 ? strerror(errno) : "short file");
            break;
        }
        p += r;
        left -= (size_t)r;
    }
    close(fd);
    return s;
}

static void raw_pagecache(size_t n)
{
    char name[96], label[32];
    bench_size_label(n, label, sizeof label);
    snprintf(name, sizeof name, "pagecache.write %s", label);
    bench_raw *w = raw_add(name);
    snprintf(name, sizeof name, "pagecache.read %s", label);
    bench_raw *r = raw_add(name);
    if (bench_g_opts.quick && n > BENCH_QUICK_MAX_SIZE) {
        snprintf(w->note, sizeof w->note, "not measured (quick run)");
        snprintf(r->note, sizeof r->note, "not measured (quick run)");
        return;
    }
    file_arg a;
    snprintf(a.path, sizeof a.path, "%s/pagecache-%ld.bin", bench_g_opts.tmpdir, (long)getpid());
    a.n = n;
    a.buf = bench_pattern(n, 3);
    if (!a.buf) {
        snprintf(w->note, sizeof w->note, "out of memory");
        snprintf(r->note, sizeof r->note, "out of memory");
        return;
    }
    bench_stats st;
    bench_op wop = {run_file_write, after_file_write, &a, 1, 1, n};
    if (bench_measure(&wop, false, &st) == PS_OK) {
        w->mb_per_sec = median_mb_per_sec(&st, n);
        w->size = n;
        snprintf(w->note, sizeof w->note, "open+write+close of a new file, no fsync, median");
    } else {
        snprintf(w->note, sizeof w->note, "%s", ps_last_error());
    }
    bench_op rop = {run_file_read, NULL, &a, 1, 1, n};
    if (run_file_write(&a, 0) == PS_OK && bench_measure(&rop, false, &st) == PS_OK) {
        r->mb_per_sec = median_mb_per_sec(&st, n);
        r->size = n;
        snprintf(r->note, sizeof r->note,
                 "open+read+close of a cached file into a pre-faulted buffer, median");
    } else {
        snprintf(r->note, sizeof r->note, "%s", ps_last_error());
    }
    unlink(a.path);
    ps_free(a.buf);
}

/* ---- external tools ------------------------------------------------------------ */

/* Read a whole small text file (ps_malloc'd, NUL-terminated) or NULL. */
static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 4096, len = 0;
    char *buf = ps_malloc(cap);
    while (buf) {
        size_t r = fread(buf + len, 1, cap - len - 1, f);
        len += r;
        if (r == 0)
            break;
        if (len + 1 == cap) {
            char *nb = ps_realloc(buf, cap * 2);
            if (!nb) {
                ps_free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
    }
    fclose(f);
    if (buf)
        buf[len] = '\0';
    return buf;
}

/* The requests-per-second of `cmd` in redis-benchmark --csv output: the line
 * "\"SET\",\"12345.67\",..." (Redis 6 and 7). 0 when absent. */
static double csv_rps(const char *text, const char *cmd)
{
    char want[32];
    snprintf(want, sizeof want, "\"%s\",\"", cmd);
    for (const char *line = text; line && *line;) {
        if (strncmp(line, want, strlen(want)) == 0)
            return strtod(line + strlen(want), NULL);
        line = strchr(line, '\n');
        if (line)
            line++;
    }
    return 0;
}

#define REDIS_RUNS 3

static void raw_redis(void)
{
    /* 64 clients are measured with 1 KiB values only (scripts/bench.sh). */
    static const int cp[][2] = {{1, 1}, {1, 100}, {8, 1}, {64, 1}};
    static const size_t sizes[] = {100, 1024, 10 * 1024, 1024 * 1024};
    static const char *const cmds[] = {"SET", "GET"};
    for (size_t i = 0; i < sizeof cp / sizeof cp[0]; i++) {
        for (size_t j = 0; j < sizeof sizes / sizeof sizes[0]; j++) {
            if (cp[i][0] == 64 && sizes[j] != 1024)
                continue;
            /* Up to REDIS_RUNS runs of the same test (scripts/bench.sh
             * writes .csv, .csv.2, .csv.3): the median requests/s. */
            char *text[REDIS_RUNS] = {NULL};
            size_t nt = 0;
            for (size_t run = 0; run < REDIS_RUNS && bench_g_opts.raw_dir; run++) {
                char path[4096], suffix[8] = "";
                if (run > 0)
                    snprintf(suffix, sizeof suffix, ".%zu", run + 1);
                snprintf(path, sizeof path, "%s/redis-c%d-P%d-d%zu.csv%s", bench_g_opts.raw_dir,
                         cp[i][0], cp[i][1], sizes[j], suffix);
                if ((text[nt] = slurp(path)) != NULL)
                    nt++;
            }
            for (size_t k = 0; k < 2; k++) {
                char name[96];
                bench_raw_redis_name(name, sizeof name, cp[i][0], cp[i][1], sizes[j], cmds[k]);
                bench_raw *r = raw_add(name);
                if (!r)
                    break;
                r->size = sizes[j];
                double v[REDIS_RUNS];
                size_t nv = 0;
                for (size_t t = 0; t < nt; t++) {
                    double x = csv_rps(text[t], cmds[k]);
                    if (!(x > 0))
                        continue;
                    size_t at = nv++;
                    for (; at > 0 && v[at - 1] > x; at--) /* insertion sort */
                        v[at] = v[at - 1];
                    v[at] = x;
                }
                double rps = nv ? v[nv / 2] : 0;
                if (rps > 0) {
                    r->ops_per_sec = rps;
                    r->mb_per_sec = rps * (double)sizes[j] / 1e6;
                    snprintf(r->note, sizeof r->note,
                             "redis-benchmark --csv, 127.0.0.1, median of %zu run(s)", nv);
                } else {
                    snprintf(r->note, sizeof r->note, "not measured (%s)",
                             !bench_g_opts.raw_dir ? "no --raw-dir"
                             : nt                  ? "no line in redis-benchmark output"
                                                   : "no redis-benchmark output");
                }
            }
            for (size_t t = 0; t < nt; t++)
                ps_free(text[t]);
        }
    }
}

static void raw_iperf(void)
{
    bench_raw *r = raw_add("iperf3 loopback TCP");
    if (!bench_g_opts.raw_dir) {
        snprintf(r->note, sizeof r->note, "not measured (no --raw-dir)");
        return;
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/iperf3.json", bench_g_opts.raw_dir);
    json_error_t err;
    json_t *doc = json_load_file(path, 0, &err);
    if (!doc) {
        snprintf(r->note, sizeof r->note, "not measured (iperf3.json: %.100s)", err.text);
        return;
    }
    json_t *bps = json_object_get(json_object_get(json_object_get(doc, "end"), "sum_received"),
                                  "bits_per_second");
    if (json_is_number(bps) && json_number_value(bps) > 0) {
        r->mb_per_sec = json_number_value(bps) / 8.0 / 1e6;
        snprintf(r->note, sizeof r->note, "iperf3 --json end.sum_received, one stream");
    } else {
        json_t *e = json_object_get(doc, "error");
        snprintf(r->note, sizeof r->note, "not measured (iperf3: %s)",
                 json_is_string(e) ? json_string_value(e) : "no end.sum_received");
    }
    json_decref(doc);
}

void bench_raw_collect(void)
{
    g_nraw = 0;
    raw_memcpy(BENCH_MIB);
    raw_memcpy(100 * BENCH_MIB);
    raw_pagecache(BENCH_MIB);
    raw_pagecache(100 * BENCH_MIB);
    raw_redis();
    raw_iperf();
}
