/*
 * Connector cases: what is measured on every connector.
 *
 * A case is one entry of g_cases: a row name, the connector type, its
 * options as a JSON template, what it needs running, and which raw limits
 * its rows compare to. Adding a connector means adding one entry (see
 * bench/README.md, "Adding a case"). A type that is not registered in this
 * build (ps_connector_find() is NULL) gives rows noted "skipped: not built".
 *
 * Template variables in options: ${DIR} (a scratch directory of this case),
 * ${ID} (a unique word), ${REDIS_PORT}, ${ENDPOINT_URL}.
 *
 * Rows of every case, through a ps_store with the raw codec:
 *   put, get (cache off), get_cached (cache hit), roundtrip (put + get) at
 *   every size in g_sizes; put_batch and get_batch of 1000 x 1 KiB;
 *   get_8clients (1 KiB, 8 threads with a connector each) when the case asks;
 *   put_8clients, get_64clients and put_64clients (the same with puts and
 *   with 64 threads) when the case asks for CASE_CLIENTS;
 *   the proxy rows (proxy.c) when the case asks.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api.h"
#include "bench.h"
#include "proxystore/sys/connector.h"

/* Most runs in one timed group (key arrays are this long). */
#define GROUP_MAX  64
#define BATCH_N    1000
#define BATCH_SIZE 1024
#define MT_CLIENTS 8
#define MT_MANY    64

/* Raw-limit families a case compares to. */
typedef enum raw_family {
    RAW_NONE,      /* no raw limit */
    RAW_MEMCPY,    /* memcpy bandwidth (MB/s) */
    RAW_PAGECACHE, /* page-cache write for puts, read for gets (MB/s) */
    RAW_REDIS,     /* redis-benchmark -c 1 -P 1 of the same size, SET/GET */
    RAW_TCP,       /* iperf3 loopback TCP (MB/s) */
} raw_family;

/* Case flags. */
#define CASE_NEEDS_REDIS    0x01u /* skip without a redis-server */
#define CASE_NEEDS_ENDPOINT 0x02u /* skip without a proxystore-endpoint */
#define CASE_MT             0x04u /* get_8clients row */
#define CASE_PROXY          0x08u /* proxy rows */
#define CASE_FRESH          0x10u /* proxy rows include a fresh process */
#define CASE_BATCH_REDIS    0x20u /* batches compare to redis-benchmark -P 100 */
#define CASE_CLIENTS        0x40u /* put_8clients, get_64clients, put_64clients rows */
#define CASE_ROUTED         0x80u /* put_routed row: interleaved with the chosen connector */

typedef struct bench_case {
    const char *name;      /* row "connector" column */
    const char *kind;      /* connector type (ps_connector_find) */
    const char *options;   /* JSON template */
    const char *env;       /* environment variable that replaces options (or NULL) */
    unsigned flags;        /* CASE_* */
    raw_family raw_small;  /* raw limit for sizes below 1 MiB */
    raw_family raw_large;  /* raw limit for 1 MiB and more */
    const char *skip_note; /* when env is unset: skip with this note (NULL: use options) */
} bench_case;

static const bench_case g_cases[] = {
    {"local", "local", "{\"store_id\": \"bench-${ID}\"}", NULL, CASE_PROXY, RAW_NONE, RAW_MEMCPY,
     NULL},
    {"file", "file", "{\"store_dir\": \"${DIR}/file\", \"clear\": false}", NULL,
     CASE_PROXY | CASE_FRESH, RAW_NONE, RAW_PAGECACHE, NULL},
    {"redis", "redis", "{\"hostname\": \"127.0.0.1\", \"port\": ${REDIS_PORT}, \"clear\": false}",
     NULL, CASE_NEEDS_REDIS | CASE_MT | CASE_PROXY | CASE_FRESH | CASE_BATCH_REDIS, RAW_REDIS,
     RAW_REDIS, NULL},
    {"endpoint", "endpoint", "{\"url\": \"${ENDPOINT_URL}\"}", NULL,
     CASE_NEEDS_ENDPOINT | CASE_MT | CASE_CLIENTS | CASE_BATCH_REDIS, RAW_REDIS, RAW_TCP, NULL},
    /* 1 KiB puts go to "small" (local): the multi target compares them with
     * the local connector's puts. Large objects go to a file directory. */
    {"multi", "multi",
     "{\"connectors\": ["
     "{\"name\": \"small\", \"connector\": {\"kind\": \"local\", \"options\": "
     "{\"store_id\": \"bench-multi-${ID}\"}}, \"policy\": {\"priority\": 2, "
     "\"max_size_bytes\": 1048576}},"
     "{\"name\": \"large\", \"connector\": {\"kind\": \"file\", \"options\": "
     "{\"store_dir\": \"${DIR}/multi-file\", \"clear\": false}}, \"policy\": "
     "{\"priority\": 1, \"min_size_bytes\": 1048577}}]}",
     NULL, CASE_ROUTED, RAW_NONE, RAW_PAGECACHE, NULL},
    {"daos", "daos", NULL, "PS_BENCH_DAOS_OPTIONS", CASE_PROXY, RAW_NONE, RAW_NONE,
     "skipped: no DAOS emulation configured (PS_BENCH_DAOS_OPTIONS)"},
    {"shm", "shm", "{\"name\": \"psbench-${ID}\"}", NULL, CASE_PROXY | CASE_FRESH, RAW_NONE,
     RAW_MEMCPY, NULL},
};

static const size_t g_sizes[] = {100, BENCH_KIB, 10 * BENCH_KIB, BENCH_MIB, 100 * BENCH_MIB};
#define NSIZES (sizeof g_sizes / sizeof g_sizes[0])

static const char *const g_size_ops[] = {"put", "get", "get_cached", "roundtrip"};
#define NSIZE_OPS (sizeof g_size_ops / sizeof g_size_ops[0])

static const char *const g_proxy_ops[] = {"proxy_create", "token_encode", "token_decode",
                                          "proxy_resolve", "proxy_resolve_fresh"};

/* Concurrent-client rows: 1 KiB objects, every client a thread with its own
 * connector. */
static const struct {
    const char *op;
    bool put;
    size_t clients;
    unsigned flag; /* the case flag that asks for the row */
} g_mt_rows[] = {
    {"get_8clients", false, MT_CLIENTS, CASE_MT},
    {"put_8clients", true, MT_CLIENTS, CASE_CLIENTS},
    {"get_64clients", false, MT_MANY, CASE_CLIENTS},
    {"put_64clients", true, MT_MANY, CASE_CLIENTS},
};
#define NMT_ROWS (sizeof g_mt_rows / sizeof g_mt_rows[0])

/* ---- options templates ----------------------------------------------------------- */

/* Replace every ${NAME} of `tmpl`; NULL with a message on an unknown name. */
static char *expand(const char *tmpl, const char *dir, const char *id)
{
    char port[16];
    snprintf(port, sizeof port, "%d", bench_g_opts.redis_port);
    const char *names[] = {"DIR", "ID", "REDIS_PORT", "ENDPOINT_URL"};
    const char *vals[] = {dir, id, port,
                          bench_g_opts.endpoint_url ? bench_g_opts.endpoint_url : ""};
    size_t cap = strlen(tmpl) + 1;
    for (size_t i = 0; i < 4; i++)
        cap += 8 * strlen(vals[i]); /* generous: a variable may repeat */
    char *out = ps_malloc(cap);
    if (!out)
        return NULL;
    size_t len = 0;
    for (const char *p = tmpl; *p;) {
        if (p[0] == '$' && p[1] == '{') {
            const char *end = strchr(p, '}');
            size_t i = 0;
            for (; end && i < 4; i++)
                if (strlen(names[i]) == (size_t)(end - p - 2) &&
                    strncmp(p + 2, names[i], strlen(names[i])) == 0)
                    break;
            if (!end || i == 4) {
                ps_free(out);
                ps_error(PS_EINVAL, "bench: unknown template variable in %s", tmpl);
                return NULL;
            }
            size_t vl = strlen(vals[i]);
            if (len + vl + 1 > cap) {
                ps_free(out);
                ps_error(PS_EINVAL, "bench: template %s too long", tmpl);
                return NULL;
            }
            memcpy(out + len, vals[i], vl);
            len += vl;
            p = end + 1;
        } else {
            out[len++] = *p++;
        }
    }
    out[len] = '\0';
    return out;
}

/* ---- stores ------------------------------------------------------------------------ */

typedef struct case_env {
    const bench_case *c;
    char *options; /* expanded options JSON */
    char dir[4096];
    char id[64];
    int serial; /* for unique store names */
} case_env;

/* Open a new store over a new connector of kind `kind` with `options`. */
static ps_status open_store_of(case_env *e, const char *kind, const char *options, long cache_size,
                               bool reg, ps_store **out)
{
    ps_connector *conn = NULL;
    ps_status s = ps_connector_open(kind, options, &conn);
    if (s != PS_OK)
        return s;
    ps_store_options o;
    ps_store_options_init(&o);
    o.cache_size = cache_size;
    o.register_store = reg;
    char name[128];
    snprintf(name, sizeof name, "bench-%s-%s-%d", e->c->name, e->id, e->serial++);
    ps_status st = ps_store_new(name, conn, &o, out);
    if (st != PS_OK)
        ps_connector_close(conn, PS_CLEAR_KEEP);
    return st;
}

/* Open a new store over a new connector of the case. */
static ps_status open_store(case_env *e, long cache_size, bool reg, ps_store **out)
{
    return open_store_of(e, e->c->kind, e->options, cache_size, reg, out);
}

/* ---- operations ------------------------------------------------------------------------ */

typedef struct op_ctx {
    ps_store *store;
    const void *data;
    size_t len;
    ps_key *keys[GROUP_MAX];
    const ps_key *key; /* object to get */
    /* batches */
    size_t n;
    ps_iov *items;
    ps_key **bkeys;
    ps_bytes *outs;
    bool *found;
} op_ctx;

static ps_status check_len(const ps_bytes *b, size_t want)
{
    if (b->len != want)
        return ps_error(PS_EINTERNAL, "bench: got %zu bytes, want %zu", b->len, want);
    return PS_OK;
}

static ps_status run_put(void *arg, size_t i)
{
    op_ctx *c = arg;
    return ps_store_put(c->store, c->data, c->len, NULL, &c->keys[i]);
}

static ps_status after_put(void *arg, size_t n)
{
    op_ctx *c = arg;
    ps_status first = PS_OK;
    for (size_t i = 0; i < n; i++) {
        if (!c->keys[i])
            continue;
        ps_status s = ps_store_evict(c->store, c->keys[i]);
        if (s != PS_OK && first == PS_OK)
            first = s;
        ps_key_free(c->keys[i]);
        c->keys[i] = NULL;
    }
    return first;
}

static ps_status run_get(void *arg, size_t i)
{
    (void)i;
    op_ctx *c = arg;
    ps_bytes b = PS_BYTES_INIT;
    ps_status s = ps_store_get(c->store, c->key, NULL, &b);
    if (s == PS_OK)
        s = check_len(&b, c->len);
    ps_bytes_free(&b);
    return s;
}

static ps_status run_roundtrip(void *arg, size_t i)
{
    op_ctx *c = arg;
    ps_status s = ps_store_put(c->store, c->data, c->len, NULL, &c->keys[i]);
    if (s != PS_OK)
        return s;
    ps_bytes b = PS_BYTES_INIT;
    s = ps_store_get(c->store, c->keys[i], NULL, &b);
    if (s == PS_OK)
        s = check_len(&b, c->len);
    ps_bytes_free(&b);
    return s;
}

static ps_status run_put_batch(void *arg, size_t i)
{
    (void)i;
    op_ctx *c = arg;
    return ps_store_put_batch(c->store, c->n, c->items, NULL, c->bkeys);
}

static ps_status after_put_batch(void *arg, size_t n)
{
    (void)n;
    op_ctx *c = arg;
    ps_status first = PS_OK;
    for (size_t i = 0; i < c->n; i++) {
        if (!c->bkeys[i])
            continue;
        ps_status s = ps_store_evict(c->store, c->bkeys[i]);
        if (s != PS_OK && first == PS_OK)
            first = s;
        ps_key_free(c->bkeys[i]);
        c->bkeys[i] = NULL;
    }
    return first;
}

static ps_status run_get_batch(void *arg, size_t i)
{
    (void)i;
    op_ctx *c = arg;
    ps_status s = ps_store_get_batch(c->store, c->n, (const ps_key *const *)c->bkeys, NULL, c->outs,
                                     c->found);
    if (s != PS_OK)
        return s;
    for (size_t k = 0; k < c->n && s == PS_OK; k++)
        if (!c->found[k] || c->outs[k].len != c->len)
            s = ps_error(PS_EINTERNAL, "bench: batch item %zu missing or short", k);
    ps_bytes_free_array(c->outs, c->n);
    return s;
}

/* ---- rows ------------------------------------------------------------------------------- */

static void attach_raw(bench_row *row, const bench_case *c)
{
    const char *op = row->operation;
    bool is_put = strcmp(op, "put") == 0 || strcmp(op, "put_batch") == 0;
    bool is_get = strncmp(op, "get", 3) == 0 && strcmp(op, "get_cached") != 0;
    bool is_rt = strcmp(op, "roundtrip") == 0;
    char name[96];
    if (row->clients > 1) { /* get_8clients, put_64clients, ... */
        bench_raw_redis_name(name, sizeof name, (int)row->clients, 1, BATCH_SIZE,
                             strncmp(op, "put", 3) == 0 ? "SET" : "GET");
        bench_row_set_raw(row, name, "ops/s");
        return;
    }
    if (row->batch > 1) {
        if (c->flags & CASE_BATCH_REDIS) {
            bench_raw_redis_name(name, sizeof name, 1, 100, BATCH_SIZE, is_put ? "SET" : "GET");
            bench_row_set_raw(row, name, "ops/s");
        }
        return;
    }
    if (!is_put && !is_get && !is_rt)
        return;
    raw_family f = row->size >= BENCH_MIB ? c->raw_large : c->raw_small;
    char label[32];
    bench_size_label(row->size, label, sizeof label);
    switch (f) {
    case RAW_NONE:
        break;
    case RAW_MEMCPY:
        snprintf(name, sizeof name, "memcpy %s", label);
        bench_row_set_raw(row, name, "MB/s");
        break;
    case RAW_PAGECACHE:
        snprintf(name, sizeof name, "pagecache.%s %s", is_put ? "write" : "read", label);
        if (!is_rt)
            bench_row_set_raw(row, name, "MB/s");
        break;
    case RAW_REDIS:
        if (is_rt)
            break;
        /* redis-benchmark runs up to 1 MiB values: larger objects compare
         * with the bandwidth of 1 MiB values. */
        bench_raw_redis_name(name, sizeof name, 1, 1, row->size > BENCH_MIB ? BENCH_MIB : row->size,
                             is_put ? "SET" : "GET");
        bench_row_set_raw(row, name, row->size >= BENCH_MIB ? "MB/s" : "ops/s");
        break;
    case RAW_TCP:
        if (!is_rt)
            bench_row_set_raw(row, "iperf3 loopback TCP", "MB/s");
        break;
    }
}

static void row_done(bench_row *row, const bench_case *c, ps_status s, const bench_stats *st,
                     const char *what)
{
    if (s != PS_OK) {
        row->status = BENCH_ERROR;
        snprintf(row->note, sizeof row->note, "error: %s: %s: %s", what, ps_status_name(s),
                 ps_last_error());
        return;
    }
    row->st = *st;
    row->status = BENCH_OK;
    attach_raw(row, c);
}

/* Add every row a case would produce, not run, with `note`. */
static void mark_case(const bench_case *c, bench_status status, const char *note)
{
    size_t first = bench_row_count();
    for (size_t i = 0; i < NSIZES; i++)
        for (size_t j = 0; j < NSIZE_OPS; j++)
            bench_row_skip(c->name, g_size_ops[j], g_sizes[i], "%s", note);
    bench_row_skip(c->name, "put_batch", BATCH_SIZE, "%s", note)->batch = BATCH_N;
    bench_row_skip(c->name, "get_batch", BATCH_SIZE, "%s", note)->batch = BATCH_N;
    for (size_t i = 0; i < NMT_ROWS; i++)
        if (c->flags & g_mt_rows[i].flag)
            bench_row_skip(c->name, g_mt_rows[i].op, BATCH_SIZE, "%s", note)->clients =
                g_mt_rows[i].clients;
    if (c->flags & CASE_PROXY)
        for (size_t i = 0; i < sizeof g_proxy_ops / sizeof g_proxy_ops[0]; i++)
            if (i != 4 || (c->flags & CASE_FRESH))
                bench_row_skip(c->name, g_proxy_ops[i], BENCH_KIB, "%s", note);
    for (size_t i = first; i < bench_row_count(); i++)
        bench_row_at(i)->status = status;
}

static void run_sizes(case_env *e, ps_store *plain, ps_store *cached)
{
    const bench_case *c = e->c;
    for (size_t si = 0; si < NSIZES; si++) {
        size_t size = g_sizes[si];
        if (bench_g_opts.quick && size > BENCH_QUICK_MAX_SIZE) {
            for (size_t j = 0; j < NSIZE_OPS; j++)
                bench_row_skip(c->name, g_size_ops[j], size, "skipped: quick run");
            continue;
        }
        void *data = bench_pattern(size, (uint32_t)si + 7);
        if (!data) {
            for (size_t j = 0; j < NSIZE_OPS; j++)
                bench_row_skip(c->name, g_size_ops[j], size, "skipped: out of memory");
            continue;
        }
        op_ctx ctx = {.store = plain, .data = data, .len = size};
        bench_stats st;
        ps_status s;
        bench_row *row;

        /* put */
        row = bench_row_add(c->name, "put", size);
        bench_op put = {run_put, after_put, &ctx, GROUP_MAX, 1, size};
        s = bench_measure(&put, false, &st);
        after_put(&ctx, GROUP_MAX); /* keys left by a failed group */
        row_done(row, c, s, &st, "put");

        /* get (cache off) and get_cached (cache hit) of one stored object */
        ps_key *key = NULL;
        s = ps_store_put(plain, data, size, NULL, &key);
        row = bench_row_add(c->name, "get", size);
        if (s == PS_OK) {
            ctx.key = key;
            bench_op get = {run_get, NULL, &ctx, GROUP_MAX, 1, size};
            s = bench_measure(&get, false, &st);
        }
        row_done(row, c, s, &st, "get");

        row = bench_row_add(c->name, "get_cached", size);
        if (s == PS_OK) {
            op_ctx cctx = {.store = cached, .data = data, .len = size, .key = key};
            bench_op hit = {run_get, NULL, &cctx, GROUP_MAX, 1, size};
            s = bench_measure(&hit, false, &st);
            if (s == PS_OK && !ps_store_is_cached(cached, key))
                s = ps_error(PS_EINTERNAL, "the object was not in the cache after gets");
        }
        row_done(row, c, s, &st, "get_cached");
        if (key) {
            ps_store_evict(plain, key);
            ps_store_evict(cached, key);
            ps_key_free(key);
        }

        /* roundtrip: put + get; the object is evicted untimed */
        row = bench_row_add(c->name, "roundtrip", size);
        bench_op rt = {run_roundtrip, after_put, &ctx, GROUP_MAX, 1, size};
        s = bench_measure(&rt, false, &st);
        after_put(&ctx, GROUP_MAX);
        row_done(row, c, s, &st, "roundtrip");
        ps_free(data);
    }
}

static void run_batches(case_env *e, ps_store *plain)
{
    const bench_case *c = e->c;
    void *data = bench_pattern((size_t)BATCH_N * BATCH_SIZE, 11);
    ps_iov *items = ps_calloc(BATCH_N, sizeof *items);
    ps_key **keys = ps_calloc(BATCH_N, sizeof *keys);
    ps_bytes *outs = ps_calloc(BATCH_N, sizeof *outs);
    bool *found = ps_calloc(BATCH_N, sizeof *found);
    bench_row *put_row = bench_row_add(c->name, "put_batch", BATCH_SIZE);
    put_row->batch = BATCH_N;
    bench_row *get_row = bench_row_add(c->name, "get_batch", BATCH_SIZE);
    get_row->batch = BATCH_N;
    bench_stats st;
    ps_status s = PS_OK;
    if (!data || !items || !keys || !outs || !found)
        s = ps_error(PS_ENOMEM, "bench: out of memory for a batch");
    if (s == PS_OK) {
        for (size_t i = 0; i < BATCH_N; i++)
            items[i] = (ps_iov){(const char *)data + i * BATCH_SIZE, BATCH_SIZE};
        op_ctx ctx = {.store = plain,
                      .len = BATCH_SIZE,
                      .n = BATCH_N,
                      .items = items,
                      .bkeys = keys,
                      .outs = outs,
                      .found = found};
        bench_op put = {run_put_batch, after_put_batch, &ctx, 1, BATCH_N, BATCH_SIZE};
        s = bench_measure(&put, true, &st);
        if (keys[0])
            after_put_batch(&ctx, 1);
        row_done(put_row, c, s, &st, "put_batch");

        s = ps_store_put_batch(plain, BATCH_N, items, NULL, keys);
        if (s == PS_OK) {
            bench_op get = {run_get_batch, NULL, &ctx, 1, BATCH_N, BATCH_SIZE};
            s = bench_measure(&get, true, &st);
            after_put_batch(&ctx, 1);
        }
        row_done(get_row, c, s, &st, "get_batch");
    } else {
        row_done(put_row, c, s, &st, "put_batch");
        row_done(get_row, c, s, &st, "get_batch");
    }
    ps_free(data);
    ps_free(items);
    ps_free(keys);
    ps_free(outs);
    ps_free(found);
}

/* A put from one of many clients: keys are kept and evicted after the row
 * (an eviction between groups would count in the wall time of the others). */
typedef struct mt_put {
    ps_store *store;
    const void *data;
    ps_key **keys;
    size_t n, cap;
} mt_put;

static ps_status run_put_mt(void *arg, size_t i)
{
    (void)i;
    mt_put *p = arg;
    if (p->n == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 1024;
        ps_key **k = ps_realloc(p->keys, cap * sizeof *k);
        if (!k)
            return ps_error(PS_ENOMEM, "bench: out of memory for keys");
        p->keys = k;
        p->cap = cap;
    }
    ps_status s = ps_store_put(p->store, p->data, BATCH_SIZE, NULL, &p->keys[p->n]);
    if (s == PS_OK)
        p->n++;
    return s;
}

static ps_status evict_mt(mt_put *p)
{
    ps_status first = PS_OK;
    for (size_t i = 0; i < p->n; i++) {
        ps_status s = ps_store_evict(p->store, p->keys[i]);
        if (s != PS_OK && first == PS_OK)
            first = s;
        ps_key_free(p->keys[i]);
    }
    ps_free(p->keys);
    p->keys = NULL;
    p->n = p->cap = 0;
    return first;
}

/* 1 KiB gets or puts from `nclients` threads, each with its own connector. */
static void run_mt(case_env *e, ps_store *plain, const char *opname, bool put, size_t nclients)
{
    const bench_case *c = e->c;
    bench_row *row = bench_row_add(c->name, opname, BATCH_SIZE);
    row->clients = nclients;
    ps_store *stores[MT_MANY] = {0};
    op_ctx ctx[MT_MANY];
    mt_put puts[MT_MANY];
    bench_op ops[MT_MANY];
    bench_stats st;
    memset(puts, 0, sizeof puts);
    void *data = bench_pattern(BATCH_SIZE, 13);
    ps_key *key = NULL;
    ps_status s = !data ? ps_error(PS_ENOMEM, "bench: out of memory")
                  : put ? PS_OK
                        : ps_store_put(plain, data, BATCH_SIZE, NULL, &key);
    for (size_t i = 0; i < nclients && s == PS_OK; i++) {
        s = open_store(e, 0, false, &stores[i]);
        if (put) {
            puts[i] = (mt_put){.store = stores[i], .data = data};
            ops[i] = (bench_op){run_put_mt, NULL, &puts[i], GROUP_MAX, 1, BATCH_SIZE};
        } else {
            ctx[i] = (op_ctx){.store = stores[i], .len = BATCH_SIZE, .key = key};
            ops[i] = (bench_op){run_get, NULL, &ctx[i], GROUP_MAX, 1, BATCH_SIZE};
        }
    }
    if (s == PS_OK)
        s = bench_measure_threads(ops, nclients, &st);
    for (size_t i = 0; i < nclients; i++) {
        ps_status es = evict_mt(&puts[i]);
        if (s == PS_OK)
            s = es;
    }
    row_done(row, c, s, &st, opname);
    for (size_t i = 0; i < nclients; i++)
        ps_store_close(stores[i], PS_CLEAR_KEEP);
    if (key)
        ps_store_evict(plain, key);
    ps_key_free(key);
    ps_free(data);
}

static bool wanted(const bench_case *c)
{
    return !bench_g_opts.only || strstr(c->name, bench_g_opts.only) != NULL;
}

/*
 * put_routed (multi case): the routing overhead of a put, measured against
 * the connector the policy chooses (a local connector) called directly.
 * Groups of 64 puts of 1 KiB alternate between a fresh multi store and a
 * fresh store over a plain local connector, in a random order per pair, and
 * the row's `overhead` is the median over pairs of (multi time / direct
 * time) - 1. Pairing cancels the machine's drift, which on a shared VM is
 * larger than the few percent being measured; the random order keeps
 * periodic costs (the UUID pool refills every 256 keys) from landing on one
 * side only. Objects are evicted after each group, untimed.
 *
 * It runs in a fresh process (ps_bench --routed-child): in this one, the
 * cases before it leave the heap in a state that moved the result between
 * +2.4 and +6.4 % from run to run for the same code; fresh, it stays within
 * about a point. Without /proc/self/exe it runs here, and says so.
 */
#define ROUTED_GROUP     64
#define ROUTED_MIN_PAIRS 200

typedef struct routed_result {
    size_t n;                        /* pairs */
    double overhead;                 /* median paired ratio - 1 */
    double median_ns, p99_ns;        /* per routed put */
    double total_ns;                 /* timed ns of the routed puts */
    double mean_routed, mean_direct; /* per put */
} routed_result;

static ps_status routed_group(ps_store *st, const void *data, ps_key **keys, double *ns)
{
    uint64_t t0 = ps_now_ns();
    ps_status s = PS_OK;
    size_t n = 0;
    for (; n < ROUTED_GROUP && s == PS_OK; n++)
        s = ps_store_put(st, data, BENCH_KIB, NULL, &keys[n]);
    *ns = (double)(ps_now_ns() - t0) / ROUTED_GROUP;
    for (size_t i = 0; i < n; i++) {
        if (keys[i] && ps_store_evict(st, keys[i]) != PS_OK && s == PS_OK)
            s = PS_EINTERNAL;
        ps_key_free(keys[i]);
        keys[i] = NULL;
    }
    return s;
}

static ps_status routed_store(const char *kind, const char *options, const char *name,
                              ps_store **out)
{
    ps_connector *conn = NULL;
    PS__BENCH_FORWARD(ps_connector_open(kind, options, &conn));
    ps_store_options o;
    ps_store_options_init(&o);
    o.cache_size = 0;
    o.register_store = false;
    ps_status st = ps_store_new(name, conn, &o, out);
    if (st != PS_OK)
        ps_connector_close(conn, PS_CLEAR_KEEP);
    return st;
}

static ps_status routed_measure(const char *multi_options, const char *direct_options, bool quick,
                                routed_result *res)
{
    memset(res, 0, sizeof *res);
    ps_store *routed = NULL, *direct = NULL;
    void *data = bench_pattern(BENCH_KIB, 11);
    size_t cap = quick ? ROUTED_MIN_PAIRS : 20000;
    double *ratio = ps_calloc(cap, sizeof *ratio), *mt = ps_calloc(cap, sizeof *mt);
    ps_status s = PS_ENOMEM;
    if (data && ratio && mt)
        s = routed_store("multi", multi_options, "bench-routed", &routed);
    if (s == PS_OK)
        s = routed_store("local", direct_options, "bench-direct", &direct);
    double budget = quick ? 0.05 : 2.0;
    uint64_t rng = 0x9e3779b97f4a7c15ull, t0 = ps_now_ns();
    ps_key *keys[ROUTED_GROUP] = {0};
    double sum_m = 0, sum_d = 0;
    size_t n = 0;
    while (s == PS_OK && n < cap &&
           (n < ROUTED_MIN_PAIRS || (double)(ps_now_ns() - t0) / 1e9 < budget)) {
        rng ^= rng << 13; /* xorshift64: a fixed, reproducible order */
        rng ^= rng >> 7;
        rng ^= rng << 17;
        double tm = 0, td = 0;
        if (rng & 1) {
            s = routed_group(routed, data, keys, &tm);
            if (s == PS_OK)
                s = routed_group(direct, data, keys, &td);
        } else {
            s = routed_group(direct, data, keys, &td);
            if (s == PS_OK)
                s = routed_group(routed, data, keys, &tm);
        }
        if (s == PS_OK && td > 0) {
            ratio[n] = tm / td;
            mt[n] = tm;
            sum_m += tm;
            sum_d += td;
            n++;
        }
    }
    if (s == PS_OK && n > 0) {
        bench_op op = {NULL, NULL, NULL, ROUTED_GROUP, 1, BENCH_KIB};
        bench_stats st, ratios;
        bench_stats_from_samples(mt, n, 1, &op, false, &st);
        bench_stats_from_samples(ratio, n, 1, &op, false, &ratios);
        res->n = n;
        res->overhead = ratios.median_ns - 1.0;
        res->median_ns = st.median_ns;
        res->p99_ns = st.p99_ns;
        res->total_ns = sum_m * ROUTED_GROUP;
        res->mean_routed = sum_m / (double)n;
        res->mean_direct = sum_d / (double)n;
    } else if (s == PS_OK) {
        s = ps_error(PS_EINTERNAL, "bench: no routed pairs measured");
    }
    ps_store_close(direct, PS_CLEAR_ALL);
    /* KEEP: the case's own stores share this one's directory and map (every
     * object measured here was evicted already) */
    ps_store_close(routed, PS_CLEAR_KEEP);
    ps_free(ratio);
    ps_free(mt);
    ps_free(data);
    return s;
}

int bench_routed_child(const char *multi_options, const char *direct_options, const char *quick)
{
    routed_result r;
    ps_status s = routed_measure(multi_options, direct_options, strcmp(quick, "1") == 0, &r);
    if (s != PS_OK) {
        fprintf(stderr, "ps_bench --routed-child: %s: %s\n", ps_status_name(s), ps_last_error());
        return 1;
    }
    printf("%zu %.9g %.9g %.9g %.9g %.9g %.9g\n", r.n, r.overhead, r.median_ns, r.p99_ns,
           r.total_ns, r.mean_routed, r.mean_direct);
    return 0;
}

/* Fresh processes the put_routed row runs (a quick run: one); the row is the
 * one with the median overhead. Each process has its own address-space
 * layout, which moves the result by about a point. */
#define ROUTED_PROCS 3

static void run_routed(case_env *e)
{
    bench_row *row = bench_row_add(e->c->name, "put_routed", BENCH_KIB);
    char *direct = expand("{\"store_id\": \"bench-direct-${ID}\"}", e->dir, e->id);
    routed_result runs[ROUTED_PROCS];
    size_t nruns = bench_g_opts.quick ? 1 : ROUTED_PROCS;
    ps_status s = direct ? PS_OK : PS_ENOMEM;
    const char *where = "fresh processes";
    for (size_t i = 0; i < nruns && s == PS_OK; i++) {
        routed_result *r = &runs[i];
        memset(r, 0, sizeof *r);
        if (!bench_g_opts.self_exe) {
            where = "this process (no /proc/self/exe)";
            nruns = 1;
            s = routed_measure(e->options, direct, bench_g_opts.quick, r);
            break;
        }
        const char *args[] = {"--routed-child", e->options, direct, bench_g_opts.quick ? "1" : "0",
                              NULL};
        char buf[512];
        uint64_t t0, t1;
        s = bench_spawn_self(args, buf, sizeof buf, &t0, &t1);
        if (s == PS_OK &&
            sscanf(buf, "%zu %lg %lg %lg %lg %lg %lg", &r->n, &r->overhead, &r->median_ns,
                   &r->p99_ns, &r->total_ns, &r->mean_routed, &r->mean_direct) != 7)
            s = ps_error(PS_EPROTO, "routed child said \"%.200s\"", buf);
    }
    if (s != PS_OK) {
        row->status = BENCH_ERROR;
        snprintf(row->note, sizeof row->note, "error: %s: %s", ps_status_name(s), ps_last_error());
        ps_free(direct);
        return;
    }
    /* The run with the median overhead (insertion sort of at most 3). */
    size_t order[ROUTED_PROCS];
    for (size_t i = 0; i < nruns; i++) {
        size_t j = i;
        while (j > 0 && runs[order[j - 1]].overhead > runs[i].overhead) {
            order[j] = order[j - 1];
            j--;
        }
        order[j] = i;
    }
    const routed_result *r = &runs[order[nruns / 2]];
    row->status = BENCH_OK;
    row->overhead = r->overhead;
    row->st.samples = r->n;
    row->st.group = ROUTED_GROUP;
    row->st.ops = r->n * ROUTED_GROUP;
    row->st.total_ns = r->total_ns;
    row->st.median_ns = r->median_ns;
    row->st.p99_ns = r->p99_ns;
    row->st.ops_per_sec = r->total_ns > 0 ? (double)row->st.ops * 1e9 / r->total_ns : 0;
    row->st.mb_per_sec = row->st.ops_per_sec * BENCH_KIB / 1e6;
    char each[64] = "";
    for (size_t i = 0, o = 0; i < nruns && o < sizeof each; i++)
        o += (size_t)snprintf(each + o, sizeof each - o, "%s%+.1f%%", i ? " " : "",
                              100.0 * runs[i].overhead);
    snprintf(row->note, sizeof row->note,
             "median of %zu run(s) in %s (%s), each %zu interleaved pairs of %d puts; mean %.0f "
             "ns routed vs %.0f ns direct",
             nruns, where, each, r->n, ROUTED_GROUP, r->mean_routed, r->mean_direct);
    ps_free(direct);
}

static void run_case(const bench_case *c, int index)
{
    case_env e = {.c = c};
    snprintf(e.id, sizeof e.id, "%ld-%d", (long)getpid(), index);
    snprintf(e.dir, sizeof e.dir, "%s/%s", bench_g_opts.tmpdir, c->name);

    if (!ps_connector_find(c->kind)) {
        mark_case(c, BENCH_SKIPPED, "skipped: not built");
        return;
    }
    if ((c->flags & CASE_NEEDS_REDIS) && bench_g_opts.redis_port <= 0) {
        mark_case(c, BENCH_SKIPPED, "skipped: no redis-server (run through scripts/bench.sh)");
        return;
    }
    if ((c->flags & CASE_NEEDS_ENDPOINT) && !bench_g_opts.endpoint_url) {
        mark_case(c, BENCH_SKIPPED, "skipped: no proxystore-endpoint running");
        return;
    }
    if (!bench_have_store()) {
        mark_case(c, BENCH_SKIPPED, "skipped: store not built");
        return;
    }
    const char *tmpl = c->options;
    if (c->env && getenv(c->env) && *getenv(c->env))
        tmpl = getenv(c->env);
    else if (c->skip_note) {
        mark_case(c, BENCH_SKIPPED, c->skip_note);
        return;
    }
    e.options = expand(tmpl, e.dir, e.id);
    if (!e.options) {
        mark_case(c, BENCH_SKIPPED, "skipped: bad options template");
        return;
    }

    ps_store *plain = NULL, *cached = NULL;
    ps_status s = open_store(&e, 0, true, &plain);
    if (s == PS_OK)
        s = open_store(&e, PS_STORE_DEFAULT_CACHE_SIZE, false, &cached);
    if (s != PS_OK) {
        char note[320];
        snprintf(note, sizeof note, "error: cannot open %s: %s: %s", c->kind, ps_status_name(s),
                 ps_last_error());
        /* an open that fails is an error of the case, not a skip */
        mark_case(c, BENCH_ERROR, note);
        ps_store_close(plain, PS_CLEAR_ALL);
        ps_free(e.options);
        return;
    }
    fprintf(stderr, "ps_bench: %s ...\n", c->name);
    uint64_t t0 = ps_now_ns();
    if (c->flags & CASE_ROUTED) /* first: before the other rows have shaped the heap */
        run_routed(&e);
    run_sizes(&e, plain, cached);
    run_batches(&e, plain);
    for (size_t i = 0; i < NMT_ROWS; i++)
        if (c->flags & g_mt_rows[i].flag)
            run_mt(&e, plain, g_mt_rows[i].op, g_mt_rows[i].put, g_mt_rows[i].clients);
    if (c->flags & CASE_PROXY) {
        if (bench_have_proxy())
            bench_proxy_case(c->name, plain, (c->flags & CASE_FRESH) != 0);
        else
            for (size_t i = 0; i < sizeof g_proxy_ops / sizeof g_proxy_ops[0]; i++)
                if (i != 4 || (c->flags & CASE_FRESH))
                    bench_row_skip(c->name, g_proxy_ops[i], BENCH_KIB,
                                   "skipped: proxy API not built");
    }
    fprintf(stderr, "ps_bench: %s done in %.1f s\n", c->name, (double)(ps_now_ns() - t0) / 1e9);
    ps_store_close(cached, PS_CLEAR_KEEP);
    s = ps_store_close(plain, PS_CLEAR_ALL);
    if (s != PS_OK)
        fprintf(stderr, "ps_bench: closing %s: %s\n", c->name, ps_last_error());
    ps_free(e.options);
}

void bench_cases_run(void)
{
    for (size_t i = 0; i < sizeof g_cases / sizeof g_cases[0]; i++)
        if (wanted(&g_cases[i]))
            run_case(&g_cases[i], (int)i);
}
