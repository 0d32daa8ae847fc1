/*
 * Proxy rows: creation, tokens, and resolving in this process and in a
 * freshly started one. All of them use 1 KiB objects.
 *
 *   proxy_create         ps_store_proxy (put + proxy; the proxy starts
 *                        resolved, the store's default)
 *   token_encode         ps_proxy_encode of one proxy; the row records the
 *                        token's length (token_bytes)
 *   token_decode         ps_proxy_decode of that token
 *   proxy_resolve        ps_proxy_resolve of a decoded (unresolved) proxy in
 *                        this process, through the registered store (cache
 *                        off, so every resolve reaches the connector)
 *   proxy_resolve_fresh  time from just before posix_spawn() of
 *                        `ps_bench --resolve-child TOKEN` to the moment the
 *                        child holds the resolved bytes (the child reports
 *                        CLOCK_MONOTONIC, which is system-wide)
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api.h"
#include "bench.h"

#define PGROUP 64
#define PSIZE  1024

typedef struct proxy_ctx {
    ps_store *store;
    const void *data;
    const char *token;
    ps_proxy *p[PGROUP];
    ps_proxy *one; /* the proxy whose token is measured */
} proxy_ctx;

static ps_status run_create(void *arg, size_t i)
{
    proxy_ctx *c = arg;
    return ps_store_proxy(c->store, c->data, PSIZE, NULL, &c->p[i]);
}

static ps_status after_create(void *arg, size_t n)
{
    proxy_ctx *c = arg;
    ps_status first = PS_OK;
    for (size_t i = 0; i < n; i++) {
        if (!c->p[i])
            continue;
        ps_status s = ps_store_evict(c->store, ps_proxy_key(c->p[i]));
        if (s != PS_OK && first == PS_OK)
            first = s;
        ps_proxy_unref(c->p[i]);
        c->p[i] = NULL;
    }
    return first;
}

static ps_status run_encode(void *arg, size_t i)
{
    (void)i;
    proxy_ctx *c = arg;
    char *tok = NULL;
    ps_status s = ps_proxy_encode(c->one, &tok);
    ps_free(tok);
    return s;
}

static ps_status run_decode(void *arg, size_t i)
{
    proxy_ctx *c = arg;
    return ps_proxy_decode(c->token, &c->p[i]);
}

static ps_status after_unref(void *arg, size_t n)
{
    proxy_ctx *c = arg;
    for (size_t i = 0; i < n; i++) {
        ps_proxy_unref(c->p[i]);
        c->p[i] = NULL;
    }
    return PS_OK;
}

static ps_status run_resolve(void *arg, size_t i)
{
    proxy_ctx *c = arg;
    const void *data = NULL;
    size_t len = 0;
    ps_status s = ps_proxy_resolve(c->p[i], &data, &len);
    if (s == PS_OK && len != PSIZE)
        s = ps_error(PS_EINTERNAL, "bench: resolved %zu bytes, want %d", len, PSIZE);
    return s;
}

/* Untimed: replace the n resolved proxies by freshly decoded ones. */
static ps_status after_resolve(void *arg, size_t n)
{
    proxy_ctx *c = arg;
    after_unref(c, n);
    for (size_t i = 0; i < n; i++) {
        ps_status s = ps_proxy_decode(c->token, &c->p[i]);
        if (s != PS_OK)
            return s;
    }
    return PS_OK;
}

static void finish(bench_row *row, ps_status s, const bench_stats *st, const char *what)
{
    if (s != PS_OK) {
        row->status = BENCH_ERROR;
        snprintf(row->note, sizeof row->note, "error: %s: %s: %s", what, ps_status_name(s),
                 ps_last_error());
        return;
    }
    row->status = BENCH_OK;
    row->st = *st;
}

/* One fresh process: returns the ns from spawn to resolved bytes. */
static ps_status fresh_once(const char *token, double *ns, double *total_ns)
{
    const char *args[] = {"--resolve-child", token, NULL};
    char buf[128];
    uint64_t t0 = 0, t_exit = 0;
    PS__BENCH_FORWARD(bench_spawn_self(args, buf, sizeof buf, &t0, &t_exit));
    unsigned long long t_done = 0;
    size_t got = 0;
    if (sscanf(buf, "%llu %zu", &t_done, &got) != 2 || got != PSIZE || t_done < t0)
        return ps_error(PS_EPROTO, "resolve child said \"%s\"", buf);
    *ns = (double)(t_done - t0);
    *total_ns = (double)(t_exit - t0);
    return PS_OK;
}

static void run_fresh(const char *connector, const char *token)
{
    bench_row *row = bench_row_add(connector, "proxy_resolve_fresh", PSIZE);
    if (!bench_g_opts.self_exe) {
        row->status = BENCH_SKIPPED;
        snprintf(row->note, sizeof row->note, "skipped: own path unknown");
        return;
    }
    size_t max = bench_g_opts.quick ? 3 : 200;
    size_t min = bench_g_opts.quick ? 2 : 10;
    double *ns = ps_calloc(max, sizeof *ns);
    if (!ns) {
        finish(row, ps_error(PS_ENOMEM, "bench: out of memory"), NULL, "proxy_resolve_fresh");
        return;
    }
    ps_status s = PS_OK;
    size_t n = 0;
    double total = 0;
    uint64_t start = ps_now_ns();
    while (n < max) {
        double t = 0, whole = 0;
        if ((s = fresh_once(token, &t, &whole)) != PS_OK)
            break;
        ns[n++] = t;
        total += whole;
        double elapsed = (double)(ps_now_ns() - start) / 1e9;
        if (n >= min && elapsed >= bench_g_opts.budget_s)
            break;
    }
    bench_stats st;
    if (s == PS_OK) {
        bench_op op = {NULL, NULL, NULL, 1, 1, PSIZE};
        bench_stats_from_samples(ns, n, 1, &op, false, &st);
        snprintf(row->note, sizeof row->note, "spawn to exit: %.0f us mean",
                 total / (double)n / 1e3);
    }
    finish(row, s, &st, "proxy_resolve_fresh");
    ps_free(ns);
}

void bench_proxy_case(const char *connector, ps_store *store, bool fresh)
{
    fprintf(stderr, "ps_bench: %s proxies ...\n", connector);
    void *data = bench_pattern(PSIZE, 17);
    proxy_ctx c = {.store = store, .data = data};
    bench_stats st;
    char *token = NULL;
    ps_status s = data ? PS_OK : ps_error(PS_ENOMEM, "bench: out of memory");

    bench_row *row = bench_row_add(connector, "proxy_create", PSIZE);
    if (s == PS_OK) {
        bench_op op = {run_create, after_create, &c, PGROUP, 1, PSIZE};
        s = bench_measure(&op, false, &st);
        after_create(&c, PGROUP);
    }
    finish(row, s, &st, "proxy_create");

    s = data ? ps_store_proxy(store, data, PSIZE, NULL, &c.one) : PS_ENOMEM;
    if (s == PS_OK)
        s = ps_proxy_encode(c.one, &token);
    c.token = token;

    row = bench_row_add(connector, "token_encode", PSIZE);
    if (s == PS_OK) {
        bench_op op = {run_encode, NULL, &c, PGROUP, 1, 0};
        ps_status s2 = bench_measure(&op, false, &st);
        finish(row, s2, &st, "token_encode");
        row->token_bytes = (double)strlen(token);
    } else {
        finish(row, s, &st, "token_encode");
    }

    row = bench_row_add(connector, "token_decode", PSIZE);
    if (s == PS_OK) {
        bench_op op = {run_decode, after_unref, &c, PGROUP, 1, 0};
        ps_status s2 = bench_measure(&op, false, &st);
        after_unref(&c, PGROUP);
        finish(row, s2, &st, "token_decode");
        row->token_bytes = (double)strlen(token);
    } else {
        finish(row, s, &st, "token_decode");
    }

    row = bench_row_add(connector, "proxy_resolve", PSIZE);
    if (s == PS_OK) {
        ps_status s2 = after_resolve(&c, PGROUP);
        if (s2 == PS_OK) {
            bench_op op = {run_resolve, after_resolve, &c, PGROUP, 1, PSIZE};
            s2 = bench_measure(&op, false, &st);
        }
        after_unref(&c, PGROUP);
        finish(row, s2, &st, "proxy_resolve");
    } else {
        finish(row, s, &st, "proxy_resolve");
    }

    if (fresh) {
        if (s == PS_OK) {
            run_fresh(connector, token);
        } else {
            row = bench_row_add(connector, "proxy_resolve_fresh", PSIZE);
            finish(row, s, &st, "proxy_resolve_fresh");
        }
    }
    if (c.one) {
        ps_store_evict(store, ps_proxy_key(c.one));
        ps_proxy_unref(c.one);
    }
    ps_free(token);
    ps_free(data);
}

int bench_proxy_child(const char *token)
{
    if (!bench_have_proxy()) {
        fprintf(stderr, "ps_bench: the proxy API is not built\n");
        return 3;
    }
    ps_proxy *p = NULL;
    ps_status s = ps_proxy_decode(token, &p);
    const void *data = NULL;
    size_t len = 0;
    if (s == PS_OK)
        s = ps_proxy_resolve(p, &data, &len);
    uint64_t t = ps_now_ns();
    if (s != PS_OK) {
        fprintf(stderr, "ps_bench --resolve-child: %s: %s\n", ps_status_name(s), ps_last_error());
        ps_proxy_unref(p);
        return 3;
    }
    printf("%" PRIu64 " %zu\n", t, len);
    fflush(stdout);
    ps_proxy_unref(p);
    return 0;
}
