/*
 * ps_bench: measure ProxyStore-C against the raw limits of this machine.
 * Usually run through `make bench` (scripts/bench.sh), which starts the
 * servers and the raw tools first. See bench/README.md.
 */
#define _XOPEN_SOURCE 700
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"

bench_opts bench_g_opts;

static void usage(FILE *f)
{
    fprintf(f, "usage: ps_bench [--quick] [--out FILE] [--raw-dir DIR] [--tmpdir DIR]\n"
               "                [--redis-port PORT] [--endpoint-url URL] [--only NAME]\n"
               "       ps_bench --check FILE      validate a results file (schema, no error rows)\n"
               "       ps_bench --resolve-child TOKEN   (internal: the fresh-process case)\n"
               "       ps_bench --routed-child MULTI DIRECT QUICK   (internal: put_routed)\n"
               "\n"
               "  --quick          a short run (well under a minute), for make check\n"
               "  --out FILE       write the JSON results there (schema: bench/README.md)\n"
               "  --raw-dir DIR    redis-benchmark and iperf3 outputs from scripts/bench.sh\n"
               "  --tmpdir DIR     scratch directory for file stores (default: a new one\n"
               "                   under $TMPDIR or /tmp, removed at the end)\n"
               "  --redis-port P   a redis-server on 127.0.0.1:P (redis cases)\n"
               "  --endpoint-url U a running proxystore-endpoint (endpoint cases)\n"
               "  --only NAME      run only the connector cases whose name contains NAME\n");
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    if (remove(path) != 0 && errno != ENOENT)
        fprintf(stderr, "ps_bench: cannot remove %s: %s\n", path, strerror(errno));
    return 0;
}

static const char *need_arg(int argc, char **argv, int *i)
{
    if (*i + 1 >= argc) {
        fprintf(stderr, "ps_bench: %s needs a value\n", argv[*i]);
        usage(stderr);
        exit(2);
    }
    return argv[++*i];
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--resolve-child") == 0)
        return bench_proxy_child(argv[2]);
    if (argc == 5 && strcmp(argv[1], "--routed-child") == 0)
        return bench_routed_child(argv[2], argv[3], argv[4]);
    if (argc == 3 && strcmp(argv[1], "--check") == 0) {
        if (!bench_report_check(argv[2]))
            return 1;
        printf("%s: valid %s\n", argv[2], BENCH_SCHEMA);
        return 0;
    }

    bench_opts *o = &bench_g_opts;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--quick") == 0) {
            o->quick = true;
        } else if (strcmp(a, "--out") == 0) {
            o->out_path = need_arg(argc, argv, &i);
        } else if (strcmp(a, "--raw-dir") == 0) {
            o->raw_dir = need_arg(argc, argv, &i);
        } else if (strcmp(a, "--tmpdir") == 0) {
            o->tmpdir = need_arg(argc, argv, &i);
        } else if (strcmp(a, "--redis-port") == 0) {
            const char *v = need_arg(argc, argv, &i);
            char *end;
            long p = strtol(v, &end, 10);
            if (*end || p < 0 || p > 65535) {
                fprintf(stderr, "ps_bench: bad port %s\n", v);
                return 2;
            }
            o->redis_port = (int)p;
        } else if (strcmp(a, "--endpoint-url") == 0) {
            o->endpoint_url = need_arg(argc, argv, &i);
            if (!*o->endpoint_url)
                o->endpoint_url = NULL;
        } else if (strcmp(a, "--only") == 0) {
            o->only = need_arg(argc, argv, &i);
        } else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return 0;
        } else {
            fprintf(stderr, "ps_bench: unknown argument %s\n", a);
            usage(stderr);
            return 2;
        }
    }
    o->budget_s = o->quick ? 0.02 : 0.5;
    o->min_samples = o->quick ? 1 : 5;
    o->max_samples = o->quick ? 2000 : 1000000;

    static char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n > 0) {
        self[n] = '\0';
        o->self_exe = self;
    }

    char tmpl[PATH_MAX];
    bool own_tmp = false;
    if (!o->tmpdir) {
        const char *t = getenv("TMPDIR");
        snprintf(tmpl, sizeof tmpl, "%s/ps-bench-XXXXXX", t && *t ? t : "/tmp");
        if (!mkdtemp(tmpl)) {
            fprintf(stderr, "ps_bench: mkdtemp %s: %s\n", tmpl, strerror(errno));
            return 3;
        }
        o->tmpdir = tmpl;
        own_tmp = true;
    }

    uint64_t t0 = ps_now_ns();
    fprintf(stderr, "ps_bench: %s run, scratch %s\n", o->quick ? "quick" : "full", o->tmpdir);
    fprintf(stderr, "ps_bench: raw limits ...\n");
    bench_raw_collect();
    bench_cases_run();
    bench_targets_evaluate();
    bench_report_print();
    double secs = (double)(ps_now_ns() - t0) / 1e9;
    int rc = 0;
    if (o->out_path) {
        ps_status s = bench_report_write(o->out_path, secs);
        if (s != PS_OK) {
            fprintf(stderr, "ps_bench: %s\n", ps_last_error());
            rc = 3;
        } else {
            printf("results: %s (%.1f s)\n", o->out_path, secs);
        }
    }
    if (own_tmp)
        nftw(o->tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    return rc;
}
