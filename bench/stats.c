/*
 * Timed sampling.
 *
 * A row is measured by calling op->run repeatedly. Operations far below the
 * clock's cost (a cache hit is ~50 ns, clock_gettime ~20 ns) are timed in
 * groups: the group size is chosen so one timed group lasts about
 * BENCH_GROUP_TARGET_NS, and a sample is the group's time divided by its
 * runs. Median and p99 are taken over these per-sample means, so for grouped
 * operations they describe groups, not single calls (bench/README.md).
 */
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

/* Aim for timed groups of about 5 us (clock cost is ~1 % of that). */
#define BENCH_GROUP_TARGET_NS 5000.0

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

void bench_stats_from_samples(double *ns, size_t n, size_t runs, const bench_op *op,
                              bool latency_per_run, bench_stats *st)
{
    memset(st, 0, sizeof *st);
    st->group = runs;
    if (n == 0)
        return;
    size_t ops_per_run = op->ops_per_run ? op->ops_per_run : 1;
    double total = 0;
    for (size_t i = 0; i < n; i++)
        total += ns[i];
    qsort(ns, n, sizeof *ns, cmp_double);
    double per = (double)runs * (latency_per_run ? 1.0 : (double)ops_per_run);
    double med = (n % 2) ? ns[n / 2] : (ns[n / 2 - 1] + ns[n / 2]) / 2.0;
    size_t p99i = (size_t)ceil(0.99 * (double)n);
    if (p99i > 0)
        p99i--;
    st->samples = n;
    st->ops = n * runs * ops_per_run;
    st->total_ns = total;
    st->median_ns = med / per;
    st->p99_ns = ns[p99i] / per;
    st->ops_per_sec = total > 0 ? (double)st->ops * 1e9 / total : 0;
    st->mb_per_sec = st->ops_per_sec * (double)op->bytes_per_op / 1e6;
}

typedef struct sample_buf {
    double *ns;
    size_t n, cap;
} sample_buf;

static bool sample_push(sample_buf *b, double v)
{
    if (b->n == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 1024;
        double *p = ps_realloc(b->ns, cap * sizeof *p);
        if (!p)
            return false;
        b->ns = p;
        b->cap = cap;
    }
    b->ns[b->n++] = v;
    return true;
}

/* One run (or `n` runs) plus the untimed undo; returns the timed ns. */
static ps_status timed_group(const bench_op *op, size_t n, double *ns)
{
    uint64_t t0 = ps_now_ns();
    for (size_t i = 0; i < n; i++) {
        ps_status s = op->run(op->arg, i);
        if (s != PS_OK)
            return s;
    }
    uint64_t t1 = ps_now_ns();
    *ns = (double)(t1 - t0);
    if (op->after)
        return op->after(op->arg, n);
    return PS_OK;
}

/* Pick the group size from a warm-up run (also warms caches and pools).
 * A quick run skips the warm-up of operations timed one by one (batches,
 * large objects): it would double their cost. */
static ps_status calibrate(const bench_op *op, size_t *group)
{
    *group = 1;
    if (bench_g_opts.quick && op->max_group <= 1)
        return PS_OK;
    double ns = 0;
    ps_status s = timed_group(op, 1, &ns);
    if (s != PS_OK)
        return s;
    *group = 1;
    /* Slow operations are timed one by one (and a probe of many large puts
     * would hold many large objects at once). */
    if (op->max_group <= 1 || ns >= BENCH_GROUP_TARGET_NS)
        return PS_OK;
    size_t probe = op->max_group < 16 ? op->max_group : 16;
    if ((s = timed_group(op, probe, &ns)) != PS_OK)
        return s;
    double per = ns / (double)probe;
    if (per <= 0)
        per = 1;
    double g = ceil(BENCH_GROUP_TARGET_NS / per);
    if (g < 1)
        g = 1;
    if (g > (double)op->max_group)
        g = (double)op->max_group;
    *group = (size_t)g;
    return PS_OK;
}

/* Sample until the budget is spent (and min_samples reached) or max_samples. */
static ps_status sample_loop(const bench_op *op, sample_buf *buf, size_t *group)
{
    const bench_opts *o = &bench_g_opts;
    ps_status s = calibrate(op, group);
    if (s != PS_OK)
        return s;
    uint64_t start = ps_now_ns();
    for (;;) {
        double ns = 0;
        if ((s = timed_group(op, *group, &ns)) != PS_OK)
            return s;
        if (!sample_push(buf, ns))
            return ps_error(PS_ENOMEM, "bench: out of memory for samples");
        double elapsed = (double)(ps_now_ns() - start) / 1e9;
        if (buf->n >= o->max_samples)
            break;
        if (elapsed >= o->budget_s && buf->n >= o->min_samples)
            break;
        if (elapsed >= BENCH_ROW_HARD_LIMIT_S)
            break;
    }
    return PS_OK;
}

ps_status bench_measure(const bench_op *op, bool latency_per_run, bench_stats *st)
{
    sample_buf buf = {0};
    size_t group = 1;
    ps_status s = sample_loop(op, &buf, &group);
    if (s == PS_OK)
        bench_stats_from_samples(buf.ns, buf.n, group, op, latency_per_run, st);
    ps_free(buf.ns);
    return s;
}

/* Threads wait on `go` so they all start together: 1 runs, -1 quits. */
typedef struct start_gate {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int go;
} start_gate;

typedef struct thread_job {
    const bench_op *op;
    start_gate *gate;
    sample_buf buf;
    size_t group;
    uint64_t end_ns;
    ps_status status;
    char err[256];
} thread_job;

static void *thread_main(void *arg)
{
    thread_job *j = arg;
    pthread_mutex_lock(&j->gate->mu);
    while (j->gate->go == 0)
        pthread_cond_wait(&j->gate->cv, &j->gate->mu);
    int go = j->gate->go;
    pthread_mutex_unlock(&j->gate->mu);
    if (go < 0)
        return NULL;
    j->status = sample_loop(j->op, &j->buf, &j->group);
    j->end_ns = ps_now_ns();
    if (j->status != PS_OK)
        snprintf(j->err, sizeof j->err, "%s", ps_last_error());
    return NULL;
}

static void gate_open(start_gate *g, int go)
{
    pthread_mutex_lock(&g->mu);
    g->go = go;
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
}

ps_status bench_measure_threads(const bench_op *ops, size_t nthreads, bench_stats *st)
{
    memset(st, 0, sizeof *st);
    if (nthreads == 0 || nthreads > 64)
        return ps_error(PS_EINVAL, "bench: bad thread count %zu", nthreads);
    thread_job *jobs = ps_calloc(nthreads, sizeof *jobs);
    pthread_t *tids = ps_calloc(nthreads, sizeof *tids);
    if (!jobs || !tids) {
        ps_free(jobs);
        ps_free(tids);
        return ps_error(PS_ENOMEM, "bench: cannot set up %zu threads", nthreads);
    }
    start_gate gate = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0};
    size_t started = 0;
    for (; started < nthreads; started++) {
        jobs[started].op = &ops[started];
        jobs[started].gate = &gate;
        if (pthread_create(&tids[started], NULL, thread_main, &jobs[started]) != 0)
            break;
    }
    ps_status s = PS_OK;
    if (started < nthreads)
        s = ps_error(PS_EIO, "bench: pthread_create failed after %zu of %zu threads", started,
                     nthreads);
    uint64_t t0 = ps_now_ns();
    gate_open(&gate, s == PS_OK ? 1 : -1);
    for (size_t i = 0; i < started; i++)
        pthread_join(tids[i], NULL);

    size_t total_n = 0;
    uint64_t end = t0;
    for (size_t i = 0; i < nthreads; i++) {
        if (jobs[i].status != PS_OK && s == PS_OK)
            s = ps_error(jobs[i].status, "thread %zu: %s", i, jobs[i].err);
        total_n += jobs[i].buf.n;
        if (jobs[i].end_ns > end)
            end = jobs[i].end_ns;
    }
    if (s == PS_OK && total_n > 0) {
        /* Latencies: every thread's per-op sample means, merged. */
        double *all = ps_malloc(total_n * sizeof *all);
        if (!all) {
            s = ps_error(PS_ENOMEM, "bench: out of memory merging samples");
        } else {
            size_t k = 0, nops = 0;
            for (size_t i = 0; i < nthreads; i++) {
                size_t per = jobs[i].group * (ops[i].ops_per_run ? ops[i].ops_per_run : 1);
                for (size_t j = 0; j < jobs[i].buf.n; j++)
                    all[k++] = jobs[i].buf.ns[j] / (double)per;
                nops += jobs[i].buf.n * per;
            }
            bench_op one = ops[0];
            one.ops_per_run = 1;
            bench_stats_from_samples(all, total_n, 1, &one, false, st);
            /* Throughput: all operations over the wall time of the run. */
            double wall = (double)(end - t0);
            st->ops = nops;
            st->ops_per_sec = wall > 0 ? (double)nops * 1e9 / wall : 0;
            st->mb_per_sec = st->ops_per_sec * (double)ops[0].bytes_per_op / 1e6;
            st->total_ns = wall;
            ps_free(all);
        }
    }
    for (size_t i = 0; i < nthreads; i++)
        ps_free(jobs[i].buf.ns);
    ps_free(jobs);
    ps_free(tids);
    return s;
}

const char *bench_size_label(size_t size, char *buf, size_t bufsize)
{
    if (size >= BENCH_MIB && size % BENCH_MIB == 0)
        snprintf(buf, bufsize, "%zu MiB", size / BENCH_MIB);
    else if (size >= BENCH_KIB && size % BENCH_KIB == 0)
        snprintf(buf, bufsize, "%zu KiB", size / BENCH_KIB);
    else
        snprintf(buf, bufsize, "%zu B", size);
    return buf;
}

void *bench_pattern(size_t n, uint32_t seed)
{
    unsigned char *p = ps_malloc(n ? n : 1);
    if (!p)
        return NULL;
    uint32_t x = seed * 2654435761u + 1;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        p[i] = (unsigned char)x;
    }
    return p;
}

char *bench_strdupf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return NULL;
    char *s = ps_malloc((size_t)n + 1);
    if (!s)
        return NULL;
    va_start(ap, fmt);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return s;
}
