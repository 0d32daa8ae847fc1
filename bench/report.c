/*
 * Rows, targets, the printed table and the JSON document (schema in
 * bench/README.md; keep the two in step, tools read the file).
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "bench.h"

/* ---- rows ---------------------------------------------------------------------- */

static bench_row *g_rows;
static size_t g_nrows, g_caprows;

size_t bench_row_count(void)
{
    return g_nrows;
}

bench_row *bench_row_at(size_t i)
{
    return i < g_nrows ? &g_rows[i] : NULL;
}

bench_row *bench_row_add(const char *connector, const char *operation, size_t size)
{
    if (g_nrows == g_caprows) {
        size_t cap = g_caprows ? g_caprows * 2 : 256;
        bench_row *p = ps_realloc(g_rows, cap * sizeof *p);
        if (!p) {
            fprintf(stderr, "ps_bench: out of memory for rows\n");
            exit(3);
        }
        g_rows = p;
        g_caprows = cap;
    }
    bench_row *r = &g_rows[g_nrows++];
    memset(r, 0, sizeof *r);
    snprintf(r->connector, sizeof r->connector, "%s", connector);
    snprintf(r->operation, sizeof r->operation, "%s", operation);
    r->size = size;
    r->batch = 1;
    r->clients = 1;
    r->status = BENCH_SKIPPED;
    r->ratio = -1;
    r->holds = -1;
    r->token_bytes = -1;
    r->overhead = NAN;
    return r;
}

bench_row *bench_row_skip(const char *connector, const char *operation, size_t size,
                          const char *fmt, ...)
{
    bench_row *r = bench_row_add(connector, operation, size);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->note, sizeof r->note, fmt, ap);
    va_end(ap);
    return r;
}

bench_row *bench_row_find(const char *connector, const char *operation, size_t size)
{
    for (size_t i = 0; i < g_nrows; i++)
        if (strcmp(g_rows[i].connector, connector) == 0 &&
            strcmp(g_rows[i].operation, operation) == 0 && g_rows[i].size == size)
            return &g_rows[i];
    return NULL;
}

void bench_row_set_raw(bench_row *row, const char *raw_name, const char *unit)
{
    snprintf(row->raw_name, sizeof row->raw_name, "%s", raw_name);
    row->raw_unit = unit;
    row->raw_value = 0;
    row->ratio = -1;
    const bench_raw *raw = bench_raw_find(raw_name);
    if (!raw)
        return;
    bool rate = strcmp(unit, "ops/s") == 0;
    row->raw_value = rate ? raw->ops_per_sec : raw->mb_per_sec;
    double ours = rate ? row->st.ops_per_sec : row->st.mb_per_sec;
    if (row->raw_value > 0 && row->status == BENCH_OK)
        row->ratio = ours / row->raw_value;
}

/* ---- targets ----------------------------------------------------------------------- */

typedef enum target_kind {
    T_RATIO_GE,    /* row ratio to its raw limit >= limit */
    T_MEDIAN_LT,   /* row median latency < limit ns */
    T_OVERHEAD_LE, /* row overhead (a paired measurement, see cases.c) <= limit */
    T_TOKEN_LE,    /* row token_bytes <= limit */
} target_kind;

typedef struct bench_target {
    const char *id;
    const char *text;
    const char *connector;
    const char *operation;
    size_t size;
    target_kind kind;
    double limit;
} bench_target;

static const bench_target g_targets[] = {
    {"redis.put.100B", "redis put 100 B >= 90% of redis-benchmark -c 1 -P 1 SET ops/s", "redis",
     "put", 100, T_RATIO_GE, 0.90},
    {"redis.get.100B", "redis get 100 B >= 90% of redis-benchmark -c 1 -P 1 GET ops/s", "redis",
     "get", 100, T_RATIO_GE, 0.90},
    {"redis.put_batch", "redis put_batch 1000x1 KiB >= 70% of redis-benchmark -c 1 -P 100 SET",
     "redis", "put_batch", 1024, T_RATIO_GE, 0.70},
    {"redis.get_batch", "redis get_batch 1000x1 KiB >= 70% of redis-benchmark -c 1 -P 100 GET",
     "redis", "get_batch", 1024, T_RATIO_GE, 0.70},
    {"redis.get.100MiB", "redis get 100 MiB >= 70% of redis-benchmark GET MB/s (1 MiB values)",
     "redis", "get", 100 * BENCH_MIB, T_RATIO_GE, 0.70},
    {"endpoint.get.100MiB", "endpoint get 100 MiB >= 50% of loopback TCP (iperf3)", "endpoint",
     "get", 100 * BENCH_MIB, T_RATIO_GE, 0.50},
    {"endpoint.get_8clients", "endpoint 1 KiB gets, 8 clients >= 40% of redis-benchmark -c 8 GET",
     "endpoint", "get_8clients", 1024, T_RATIO_GE, 0.40},
    {"multi.put.1KiB", "multi routing overhead per 1 KiB put <= 5% over local directly", "multi",
     "put_routed", 1024, T_OVERHEAD_LE, 0.05},
    {"shm.put.100MiB", "shm put 100 MiB >= 50% of memcpy", "shm", "put", 100 * BENCH_MIB,
     T_RATIO_GE, 0.50},
    {"shm.get.100MiB", "shm zero-copy get 100 MiB < 50 us", "shm", "get", 100 * BENCH_MIB,
     T_MEDIAN_LT, 50e3},
    {"shm.roundtrip.100B", "shm round trip 100 B < 2 us", "shm", "roundtrip", 100, T_MEDIAN_LT,
     2e3},
    {"local.roundtrip.100B", "store round trip 100 B through local < 1 us median", "local",
     "roundtrip", 100, T_MEDIAN_LT, 1e3},
    {"cache.hit", "cache hit < 100 ns median", "local", "get_cached", 100, T_MEDIAN_LT, 100},
    {"local.roundtrip.100MiB", "local round trip 100 MiB >= 50% of memcpy bandwidth", "local",
     "roundtrip", 100 * BENCH_MIB, T_RATIO_GE, 0.50},
    {"shm.roundtrip.100MiB", "shm round trip 100 MiB >= 50% of memcpy bandwidth", "shm",
     "roundtrip", 100 * BENCH_MIB, T_RATIO_GE, 0.50},
    {"file.put.100MiB", "file put 100 MiB >= 60% of page-cache write", "file", "put",
     100 * BENCH_MIB, T_RATIO_GE, 0.60},
    {"file.get.100MiB", "file get 100 MiB >= 60% of page-cache read", "file", "get",
     100 * BENCH_MIB, T_RATIO_GE, 0.60},
    {"token.size", "token of a file-store proxy <= 256 bytes", "file", "token_encode", 1024,
     T_TOKEN_LE, 256},
    {"fresh.resolve", "fresh process resolves a 1 KiB file proxy < 5 ms from exec", "file",
     "proxy_resolve_fresh", 1024, T_MEDIAN_LT, 5e6},
};
#define NTARGETS (sizeof g_targets / sizeof g_targets[0])

typedef struct target_result {
    int holds;       /* 1, 0, -1 unknown */
    double measured; /* ratio, ns, fraction or bytes */
    char note[200];
} target_result;

static target_result g_tres[NTARGETS];

static const char *target_unit(target_kind k)
{
    switch (k) {
    case T_RATIO_GE:
        return "ratio";
    case T_MEDIAN_LT:
        return "ns";
    case T_OVERHEAD_LE:
        return "fraction";
    case T_TOKEN_LE:
        return "bytes";
    }
    return "";
}

void bench_targets_evaluate(void)
{
    for (size_t i = 0; i < NTARGETS; i++) {
        const bench_target *t = &g_targets[i];
        target_result *res = &g_tres[i];
        res->holds = -1;
        res->measured = NAN;
        res->note[0] = '\0';
        bench_row *row = bench_row_find(t->connector, t->operation, t->size);
        if (!row) {
            snprintf(res->note, sizeof res->note, "no row (case filtered out)");
            continue;
        }
        snprintf(row->target, sizeof row->target, "%s", t->text);
        if (row->status != BENCH_OK) {
            snprintf(res->note, sizeof res->note, "%.199s", row->note);
            continue;
        }
        switch (t->kind) {
        case T_RATIO_GE:
            if (row->ratio < 0) {
                snprintf(res->note, sizeof res->note, "raw limit %s not measured",
                         row->raw_name[0] ? row->raw_name : "(none)");
                break;
            }
            res->measured = row->ratio;
            res->holds = row->ratio >= t->limit;
            break;
        case T_MEDIAN_LT:
            res->measured = row->st.median_ns;
            res->holds = row->st.median_ns < t->limit;
            break;
        case T_TOKEN_LE:
            res->measured = row->token_bytes;
            res->holds = row->token_bytes >= 0 && row->token_bytes <= t->limit;
            break;
        case T_OVERHEAD_LE:
            if (isnan(row->overhead)) {
                snprintf(res->note, sizeof res->note, "overhead not measured");
                break;
            }
            res->measured = row->overhead;
            res->holds = row->overhead <= t->limit;
            snprintf(res->note, sizeof res->note, "%.199s", row->note);
            break;
        }
        row->holds = res->holds;
    }
}

/* ---- printing ------------------------------------------------------------------------ */

static const char *fmt_ns(double ns, char *buf, size_t n)
{
    if (!(ns > 0))
        snprintf(buf, n, "-");
    else if (ns < 1e3)
        snprintf(buf, n, "%.0f ns", ns);
    else if (ns < 1e6)
        snprintf(buf, n, "%.1f us", ns / 1e3);
    else if (ns < 1e9)
        snprintf(buf, n, "%.1f ms", ns / 1e6);
    else
        snprintf(buf, n, "%.2f s", ns / 1e9);
    return buf;
}

static const char *fmt_num(double v, char *buf, size_t n)
{
    if (!(v > 0))
        snprintf(buf, n, "-");
    else if (v >= 1e6)
        snprintf(buf, n, "%.2fM", v / 1e6);
    else if (v >= 1e4)
        snprintf(buf, n, "%.1fk", v / 1e3);
    else
        snprintf(buf, n, "%.1f", v);
    return buf;
}

static const char *holds_word(int h)
{
    return h == 1 ? "HOLDS" : h == 0 ? "FAILS" : "unknown";
}

void bench_report_print(void)
{
    printf("\n%-9s %-20s %-9s %9s %9s %9s %9s  %-34s %6s  %s\n", "connector", "operation", "size",
           "ops/s", "median", "p99", "MB/s", "raw limit", "ratio", "target");
    for (size_t i = 0; i < g_nrows; i++) {
        const bench_row *r = &g_rows[i];
        char size[48], ops[32], med[32], p99[32], mbs[32], sz[16];
        bench_size_label(r->size, sz, sizeof sz);
        if (r->batch > 1)
            snprintf(size, sizeof size, "%zux%s", r->batch, sz);
        else
            snprintf(size, sizeof size, "%s", sz);
        if (r->status != BENCH_OK) {
            printf("%-9s %-20s %-9s %s\n", r->connector, r->operation, size, r->note);
            continue;
        }
        char ratio[16] = "";
        if (r->ratio >= 0)
            snprintf(ratio, sizeof ratio, "%.2f", r->ratio);
        char raw[48] = "";
        if (r->raw_name[0])
            snprintf(raw, sizeof raw, "%.34s", r->raw_name);
        char target[32] = "";
        if (r->target[0])
            snprintf(target, sizeof target, "%s", holds_word(r->holds));
        printf("%-9s %-20s %-9s %9s %9s %9s %9s  %-34s %6s  %s", r->connector, r->operation, size,
               fmt_num(r->st.ops_per_sec, ops, sizeof ops),
               fmt_ns(r->st.median_ns, med, sizeof med), fmt_ns(r->st.p99_ns, p99, sizeof p99),
               fmt_num(r->st.mb_per_sec, mbs, sizeof mbs), raw, ratio, target);
        if (r->token_bytes >= 0)
            printf(" (token %.0f B)", r->token_bytes);
        if (!isnan(r->overhead))
            printf(" (overhead %+.1f %%)", 100.0 * r->overhead);
        printf("\n");
    }
    printf("\nRaw limits:\n");
    for (size_t i = 0; i < bench_raw_count(); i++) {
        const bench_raw *w = bench_raw_at(i);
        char a[32], b[32];
        printf("  %-42s %10s ops/s %10s MB/s  %s\n", w->name, fmt_num(w->ops_per_sec, a, sizeof a),
               fmt_num(w->mb_per_sec, b, sizeof b), w->note);
    }
    size_t held = 0, failed = 0, unknown = 0;
    printf("\nTargets:\n");
    for (size_t i = 0; i < NTARGETS; i++) {
        const target_result *res = &g_tres[i];
        char m[48] = "-";
        if (!isnan(res->measured)) {
            if (g_targets[i].kind == T_MEDIAN_LT)
                fmt_ns(res->measured, m, sizeof m);
            else if (g_targets[i].kind == T_TOKEN_LE)
                snprintf(m, sizeof m, "%.0f B", res->measured);
            else if (g_targets[i].kind == T_OVERHEAD_LE)
                snprintf(m, sizeof m, "%+.1f%%", res->measured * 100);
            else
                snprintf(m, sizeof m, "%.0f%%", res->measured * 100);
        }
        held += res->holds == 1;
        failed += res->holds == 0;
        unknown += res->holds < 0;
        printf("  %-7s %-72s %10s  %s\n", holds_word(res->holds), g_targets[i].text, m, res->note);
    }
    printf("\n%zu targets: %zu hold, %zu fail, %zu not measured\n", NTARGETS, held, failed,
           unknown);
}

/* ---- JSON --------------------------------------------------------------------------------- */

static json_t *num_or_null(double v, bool ok)
{
    return ok && isfinite(v) ? json_real(v) : json_null();
}

static const char *status_word(bench_status s)
{
    return s == BENCH_OK ? "ok" : s == BENCH_SKIPPED ? "skipped" : "error";
}

static json_t *row_json(const bench_row *r)
{
    bool ok = r->status == BENCH_OK;
    char label[32];
    json_t *o = json_object();
    json_object_set_new(o, "connector", json_string(r->connector));
    json_object_set_new(o, "operation", json_string(r->operation));
    json_object_set_new(o, "size", json_integer((json_int_t)r->size));
    json_object_set_new(o, "size_label",
                        json_string(bench_size_label(r->size, label, sizeof label)));
    json_object_set_new(o, "batch", json_integer((json_int_t)r->batch));
    json_object_set_new(o, "clients", json_integer((json_int_t)r->clients));
    json_object_set_new(o, "status", json_string(status_word(r->status)));
    json_object_set_new(o, "note", r->note[0] ? json_string(r->note) : json_null());
    json_object_set_new(o, "samples", json_integer(ok ? (json_int_t)r->st.samples : 0));
    json_object_set_new(o, "group", json_integer(ok ? (json_int_t)r->st.group : 0));
    json_object_set_new(o, "ops_per_sec", num_or_null(r->st.ops_per_sec, ok));
    json_object_set_new(o, "median_ns", num_or_null(r->st.median_ns, ok));
    json_object_set_new(o, "p99_ns", num_or_null(r->st.p99_ns, ok));
    json_object_set_new(o, "mb_per_sec", num_or_null(r->st.mb_per_sec, ok && r->st.mb_per_sec > 0));
    if (r->raw_name[0]) {
        json_t *raw = json_object();
        json_object_set_new(raw, "name", json_string(r->raw_name));
        json_object_set_new(raw, "unit", json_string(r->raw_unit));
        json_object_set_new(raw, "value", num_or_null(r->raw_value, r->raw_value > 0));
        json_object_set_new(o, "raw_limit", raw);
    } else {
        json_object_set_new(o, "raw_limit", json_null());
    }
    json_object_set_new(o, "ratio", num_or_null(r->ratio, r->ratio >= 0));
    if (r->target[0]) {
        json_t *t = json_object();
        json_object_set_new(t, "text", json_string(r->target));
        json_object_set_new(t, "holds", r->holds < 0 ? json_null() : json_boolean(r->holds));
        json_object_set_new(o, "target", t);
    } else {
        json_object_set_new(o, "target", json_null());
    }
    json_object_set_new(o, "token_bytes", num_or_null(r->token_bytes, r->token_bytes >= 0));
    json_object_set_new(o, "overhead", num_or_null(r->overhead, !isnan(r->overhead)));
    return o;
}

ps_status bench_report_write(const char *path, double duration_s)
{
    json_t *doc = json_object();
    json_object_set_new(doc, "schema", json_string(BENCH_SCHEMA));
    json_object_set_new(doc, "library_version", json_string(ps_version()));
    json_object_set_new(doc, "quick", json_boolean(bench_g_opts.quick));
    char when[64];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
    json_object_set_new(doc, "finished_at", json_string(when));
    json_object_set_new(doc, "duration_s", json_real(duration_s));

    json_t *host = json_object();
    char hn[256] = "";
    gethostname(hn, sizeof hn - 1);
    struct utsname u;
    json_object_set_new(host, "hostname", json_string(hn));
    json_object_set_new(host, "cpus", json_integer(sysconf(_SC_NPROCESSORS_ONLN)));
    if (uname(&u) == 0) {
        char k[400];
        snprintf(k, sizeof k, "%s %s %s", u.sysname, u.release, u.machine);
        json_object_set_new(host, "kernel", json_string(k));
    }
    json_object_set_new(doc, "host", host);

    json_t *raws = json_array();
    for (size_t i = 0; i < bench_raw_count(); i++) {
        const bench_raw *w = bench_raw_at(i);
        json_t *o = json_object();
        json_object_set_new(o, "name", json_string(w->name));
        json_object_set_new(o, "size", w->size ? json_integer((json_int_t)w->size) : json_null());
        json_object_set_new(o, "ops_per_sec", num_or_null(w->ops_per_sec, w->ops_per_sec > 0));
        json_object_set_new(o, "mb_per_sec", num_or_null(w->mb_per_sec, w->mb_per_sec > 0));
        json_object_set_new(o, "note", json_string(w->note));
        json_array_append_new(raws, o);
    }
    json_object_set_new(doc, "raw_limits", raws);

    json_t *rows = json_array();
    for (size_t i = 0; i < g_nrows; i++)
        json_array_append_new(rows, row_json(&g_rows[i]));
    json_object_set_new(doc, "results", rows);

    json_t *targets = json_array();
    size_t held = 0, failed = 0, unknown = 0;
    for (size_t i = 0; i < NTARGETS; i++) {
        const bench_target *t = &g_targets[i];
        const target_result *res = &g_tres[i];
        json_t *o = json_object();
        json_object_set_new(o, "id", json_string(t->id));
        json_object_set_new(o, "text", json_string(t->text));
        json_object_set_new(o, "connector", json_string(t->connector));
        json_object_set_new(o, "operation", json_string(t->operation));
        json_object_set_new(o, "size", json_integer((json_int_t)t->size));
        json_object_set_new(o, "holds", res->holds < 0 ? json_null() : json_boolean(res->holds));
        json_object_set_new(o, "measured", num_or_null(res->measured, !isnan(res->measured)));
        json_object_set_new(o, "limit", json_real(t->limit));
        json_object_set_new(o, "unit", json_string(target_unit(t->kind)));
        json_object_set_new(o, "note", res->note[0] ? json_string(res->note) : json_null());
        json_array_append_new(targets, o);
        held += res->holds == 1;
        failed += res->holds == 0;
        unknown += res->holds < 0;
    }
    json_object_set_new(doc, "targets", targets);
    json_t *sum = json_object();
    json_object_set_new(sum, "targets", json_integer((json_int_t)NTARGETS));
    json_object_set_new(sum, "hold", json_integer((json_int_t)held));
    json_object_set_new(sum, "fail", json_integer((json_int_t)failed));
    json_object_set_new(sum, "unknown", json_integer((json_int_t)unknown));
    json_object_set_new(doc, "summary", sum);

    /* Write to a temporary name, then rename: readers never see half a file. */
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp%ld", path, (long)getpid());
    int rc = json_dump_file(doc, tmp, JSON_INDENT(1) | JSON_REAL_PRECISION(6));
    json_decref(doc);
    if (rc != 0) {
        unlink(tmp);
        return ps_error(PS_EIO, "cannot write %s", tmp);
    }
    if (rename(tmp, path) != 0) {
        unlink(tmp);
        return ps_error(PS_EIO, "cannot rename %s to %s", tmp, path);
    }
    return PS_OK;
}

/* ---- schema check -----------------------------------------------------------------------------
 */

typedef enum jt { J_STR, J_INT, J_NUM, J_BOOL, J_OBJ, J_ARR } jt;

static bool type_ok(json_t *v, jt t, bool nullable)
{
    if (!v)
        return false;
    if (json_is_null(v))
        return nullable;
    switch (t) {
    case J_STR:
        return json_is_string(v);
    case J_INT:
        return json_is_integer(v);
    case J_NUM:
        return json_is_number(v);
    case J_BOOL:
        return json_is_boolean(v);
    case J_OBJ:
        return json_is_object(v);
    case J_ARR:
        return json_is_array(v);
    }
    return false;
}

typedef struct field {
    const char *name;
    jt type;
    bool nullable;
} field;

static bool check_fields(json_t *o, const field *f, size_t n, const char *where)
{
    bool ok = true;
    for (size_t i = 0; i < n; i++) {
        if (!type_ok(json_object_get(o, f[i].name), f[i].type, f[i].nullable)) {
            fprintf(stderr, "%s: field \"%s\" missing or of the wrong type\n", where, f[i].name);
            ok = false;
        }
    }
    return ok;
}

bool bench_report_check(const char *path)
{
    json_error_t err;
    json_t *doc = json_load_file(path, 0, &err);
    if (!doc) {
        fprintf(stderr, "%s:%d: %s\n", path, err.line, err.text);
        return false;
    }
    static const field top[] = {
        {"schema", J_STR, false},      {"library_version", J_STR, false}, {"quick", J_BOOL, false},
        {"finished_at", J_STR, false}, {"duration_s", J_NUM, false},      {"host", J_OBJ, false},
        {"raw_limits", J_ARR, false},  {"results", J_ARR, false},         {"targets", J_ARR, false},
        {"summary", J_OBJ, false},
    };
    static const field row[] = {
        {"connector", J_STR, false},  {"operation", J_STR, false},  {"size", J_INT, false},
        {"size_label", J_STR, false}, {"batch", J_INT, false},      {"clients", J_INT, false},
        {"status", J_STR, false},     {"note", J_STR, true},        {"samples", J_INT, false},
        {"group", J_INT, false},      {"ops_per_sec", J_NUM, true}, {"median_ns", J_NUM, true},
        {"p99_ns", J_NUM, true},      {"mb_per_sec", J_NUM, true},  {"raw_limit", J_OBJ, true},
        {"ratio", J_NUM, true},       {"target", J_OBJ, true},      {"token_bytes", J_NUM, true},
        {"overhead", J_NUM, true},
    };
    static const field raw[] = {{"name", J_STR, false},
                                {"size", J_INT, true},
                                {"ops_per_sec", J_NUM, true},
                                {"mb_per_sec", J_NUM, true},
                                {"note", J_STR, false}};
    static const field tgt[] = {
        {"id", J_STR, false},        {"text", J_STR, false},  {"connector", J_STR, false},
        {"operation", J_STR, false}, {"size", J_INT, false},  {"holds", J_BOOL, true},
        {"measured", J_NUM, true},   {"limit", J_NUM, false}, {"unit", J_STR, false},
        {"note", J_STR, true},
    };
    bool ok = check_fields(doc, top, sizeof top / sizeof top[0], path);
    if (ok && strcmp(json_string_value(json_object_get(doc, "schema")), BENCH_SCHEMA) != 0) {
        fprintf(stderr, "%s: schema is not %s\n", path, BENCH_SCHEMA);
        ok = false;
    }
    size_t i;
    json_t *v;
    size_t measured = 0;
    json_array_foreach(json_object_get(doc, "results"), i, v)
    {
        char where[64];
        snprintf(where, sizeof where, "results[%zu]", i);
        if (!json_is_object(v) || !check_fields(v, row, sizeof row / sizeof row[0], where)) {
            ok = false;
            continue;
        }
        const char *st = json_string_value(json_object_get(v, "status"));
        if (strcmp(st, "ok") != 0 && strcmp(st, "skipped") != 0 && strcmp(st, "error") != 0) {
            fprintf(stderr, "%s: bad status \"%s\"\n", where, st);
            ok = false;
        }
        if (strcmp(st, "error") == 0) {
            /* A case that errors has rotted (bad options, a broken
             * connector): the check fails so bench.quick notices. */
            const char *note = json_string_value(json_object_get(v, "note"));
            fprintf(stderr, "%s: %s %s %s: %s\n", where,
                    json_string_value(json_object_get(v, "connector")),
                    json_string_value(json_object_get(v, "operation")),
                    json_string_value(json_object_get(v, "size_label")), note ? note : "error");
            ok = false;
        }
        if (strcmp(st, "ok") == 0) {
            measured++;
            if (!json_is_number(json_object_get(v, "ops_per_sec")) ||
                !json_is_number(json_object_get(v, "median_ns")) ||
                !json_is_number(json_object_get(v, "p99_ns"))) {
                fprintf(stderr, "%s: an ok row without ops_per_sec/median_ns/p99_ns\n", where);
                ok = false;
            }
        }
    }
    json_array_foreach(json_object_get(doc, "raw_limits"), i, v)
    {
        char where[64];
        snprintf(where, sizeof where, "raw_limits[%zu]", i);
        if (!json_is_object(v) || !check_fields(v, raw, sizeof raw / sizeof raw[0], where))
            ok = false;
    }
    json_array_foreach(json_object_get(doc, "targets"), i, v)
    {
        char where[64];
        snprintf(where, sizeof where, "targets[%zu]", i);
        if (!json_is_object(v) || !check_fields(v, tgt, sizeof tgt / sizeof tgt[0], where))
            ok = false;
    }
    if (measured == 0) {
        fprintf(stderr, "%s: no row was measured\n", path);
        ok = false;
    }
    json_decref(doc);
    return ok;
}
