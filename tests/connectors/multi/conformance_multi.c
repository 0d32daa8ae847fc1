/*
 * The conformance suite against the multi connector.
 *
 *   conformance_multi local-file         small objects (<= 1 KiB) in a local
 *                                        connector, the rest in a file one
 *   conformance_multi local-redis-file   <= 100 B local, <= 64 KiB Redis (the
 *                                        shared fixture server), the rest file
 *
 * Each open() builds a fresh multi connector from JSON options, so the suite
 * also exercises open-from-configuration, config() and routing by size. A
 * "keeper" connector per inner store survives the tested instance, so
 * check_cleared can prove that close(PS_CLEAR_ALL) reached every inner one.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "conformance.h"
#include "testutil.h"
#include "proxystore/connectors/local.h"
#include "proxystore/connectors/multi.h"
#include "proxystore/sys/connector.h"

typedef struct multi_ctx {
    bool redis;
    char redis_opts[512];
    char *parent;
    unsigned counter;
    char dir[4096];
    ps_connector *local_keeper;
    ps_connector *redis_keeper;
} multi_ctx;

static ps_status open_multi(void *vctx, ps_connector **out)
{
    multi_ctx *ctx = vctx;
    ctx->counter++;
    char store_id[64];
    snprintf(store_id, sizeof store_id, "conf-multi-%u", ctx->counter);
    snprintf(ctx->dir, sizeof ctx->dir, "%s/store-%u", ctx->parent, ctx->counter);
    ps_connector_close(ctx->local_keeper, PS_CLEAR_KEEP);
    ctx->local_keeper = NULL;
    ps_status st = ps_local_connector_open(
        &(ps_local_options){.version = PS_LOCAL_OPTIONS_VERSION, .store_id = store_id},
        &ctx->local_keeper);
    if (st != PS_OK)
        return st;
    char json[8192];
    if (ctx->redis) {
        snprintf(json, sizeof json,
                 "{\"connectors\": ["
                 "{\"name\": \"small\", \"connector\": {\"kind\": \"local\", \"options\": "
                 "{\"store_id\": \"%s\"}}, \"policy\": {\"priority\": 3, \"max_size_bytes\": 100}},"
                 "{\"name\": \"medium\", \"connector\": {\"kind\": \"redis\", \"options\": %s}, "
                 "\"policy\": {\"priority\": 2, \"max_size_bytes\": 65536}},"
                 "{\"name\": \"big\", \"connector\": {\"kind\": \"file\", \"options\": "
                 "{\"store_dir\": \"%s\"}}, \"policy\": {\"priority\": 1}}]}",
                 store_id, ctx->redis_opts, ctx->dir);
    } else {
        snprintf(json, sizeof json,
                 "{\"connectors\": ["
                 "{\"name\": \"big\", \"connector\": {\"kind\": \"file\", \"options\": "
                 "{\"store_dir\": \"%s\"}}, \"policy\": {\"priority\": 1}},"
                 "{\"name\": \"small\", \"connector\": {\"kind\": \"local\", \"options\": "
                 "{\"store_id\": \"%s\"}}, \"policy\": {\"priority\": 2, \"max_size_bytes\": "
                 "1024}}]}",
                 ctx->dir, store_id);
    }
    return ps_connector_open("multi", json, out);
}

/* A multi key naming a real entry whose inner key belongs to another store. */
static ps_status foreign_multi(void *vctx, ps_connector *conn, ps_key **out)
{
    (void)vctx;
    (void)conn;
    const char *extra[] = {"some-other-local-store"};
    ps_key *inner = NULL;
    ps_status st = ps_key_new_uuid("local", 1, extra, &inner);
    if (st != PS_OK)
        return st;
    const char *fields[] = {"small", ps_key_str(inner)};
    st = ps_key_new("multi", 2, fields, out);
    ps_key_free(inner);
    return st;
}

static ps_status cleared_multi(void *vctx, const ps_key *const *keys, size_t n, bool *gone)
{
    multi_ctx *ctx = vctx;
    *gone = true;
    struct stat sb;
    if (stat(ctx->dir, &sb) == 0 || errno != ENOENT)
        *gone = false; /* the file connector's directory must be removed */
    for (size_t i = 0; i < n; i++) {
        const char *name = NULL;
        ps_status st = ps_multi_key_connector_name(keys[i], &name);
        if (st != PS_OK)
            return st;
        const ps_key *inner = ps_multi_key_inner(keys[i]);
        if (inner == NULL)
            return PS_EINVAL;
        bool ex = false;
        if (strcmp(name, "small") == 0)
            st = ps_connector_exists(ctx->local_keeper, inner, &ex);
        else if (strcmp(name, "medium") == 0)
            st = ps_connector_exists(ctx->redis_keeper, inner, &ex);
        if (st != PS_OK)
            return st;
        if (ex)
            *gone = false;
    }
    return PS_OK;
}

/* The shared Redis fixture's port (PS_TEST_REDIS_DIR/port), or 0. */
static int fixture_port(void)
{
    const char *dir = getenv("PS_TEST_REDIS_DIR");
    if (dir == NULL)
        return 0;
    char path[4096];
    snprintf(path, sizeof path, "%s/port", dir);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return 0;
    int port = 0;
    if (fscanf(f, "%d", &port) != 1)
        port = 0;
    fclose(f);
    return port;
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "local-file";
    multi_ctx ctx;
    memset(&ctx, 0, sizeof ctx);
    char name[64];
    snprintf(name, sizeof name, "conformance.multi.%s", mode);
    if (strcmp(mode, "local-redis-file") == 0) {
        int port = fixture_port();
        if (port <= 0) {
            fprintf(stderr, "conformance_multi: no Redis fixture (PS_TEST_REDIS_DIR)\n");
            return 1;
        }
        ctx.redis = true;
        snprintf(ctx.redis_opts, sizeof ctx.redis_opts,
                 "{\"hostname\": \"127.0.0.1\", \"port\": %d}", port);
        if (ps_connector_open("redis", ctx.redis_opts, &ctx.redis_keeper) != PS_OK) {
            fprintf(stderr, "conformance_multi: redis: %s\n", ps_last_error());
            return 1;
        }
    } else if (strcmp(mode, "local-file") != 0) {
        fprintf(stderr, "usage: %s [local-file|local-redis-file]\n", argv[0]);
        return 2;
    }
    ctx.parent = pst_mkdtemp("conf-multi");
    if (ctx.parent == NULL) {
        perror("mkdtemp");
        return 1;
    }
    pst_conformance_target t = {
        .name = name,
        .ctx = &ctx,
        .open = open_multi,
        .foreign_key = foreign_multi,
        .check_cleared = cleared_multi,
    };
    int failed = pst_conformance_run(&t);
    ps_connector_close(ctx.local_keeper, PS_CLEAR_KEEP);
    ps_connector_close(ctx.redis_keeper, PS_CLEAR_KEEP);
    pst_rmtree(ctx.parent);
    free(ctx.parent);
    return failed;
}
