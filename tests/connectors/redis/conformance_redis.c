/*
 * The conformance suite against the redis connector, on the shared fixture
 * server: over TCP (argument "tcp") or the unix socket (argument "unix").
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conformance.h"
#include "redis_testutil.h"
#include "testutil.h"

typedef struct redis_ctx {
    char *options; /* JSON */
    char host[256];
    char sock[1024];
    int port;
    bool unix_socket;
} redis_ctx;

static ps_status open_redis(void *vctx, ps_connector **out)
{
    redis_ctx *ctx = vctx;
    return ps_connector_open("redis", ctx->options, out);
}

/* Look at the server with a raw client: each key's bare uuid must be gone. */
static ps_status cleared_redis(void *vctx, const ps_key *const *keys, size_t n, bool *gone)
{
    redis_ctx *ctx = vctx;
    redisContext *c =
        ctx->unix_socket ? pstr_raw_unix(ctx->sock) : pstr_raw_tcp(ctx->host, ctx->port);
    if (c == NULL)
        return PS_ECONN;
    *gone = true;
    ps_status st = PS_OK;
    for (size_t i = 0; i < n && st == PS_OK; i++) {
        int ex = pstr_raw_exists(c, ps_key_field(keys[i], 0));
        if (ex < 0)
            st = PS_EPROTO;
        else if (ex)
            *gone = false;
    }
    redisFree(c);
    return st;
}

int main(int argc, char **argv)
{
    redis_ctx ctx;
    memset(&ctx, 0, sizeof ctx);
    ctx.unix_socket = argc > 1 && strcmp(argv[1], "unix") == 0;
    if (!pstr_shared(ctx.host, sizeof ctx.host, &ctx.port, ctx.sock, sizeof ctx.sock))
        return 1;
    ctx.options = ctx.unix_socket ? pstr_shared_unix_json(NULL) : pstr_shared_tcp_json(NULL);
    if (ctx.options == NULL) {
        fprintf(stderr, "no %s address for the shared redis server\n",
                ctx.unix_socket ? "unix socket" : "TCP");
        return 1;
    }
    pst_conformance_target t = {
        .name = ctx.unix_socket ? "conformance.redis.unix" : "conformance.redis.tcp",
        .ctx = &ctx,
        .open = open_redis,
        /* Keys carry no server or database (docs/connectors-redis.md): a key
         * of another server is a well-formed key that is simply missing. */
        .foreign_key = NULL,
        .check_cleared = cleared_redis,
    };
    int failed = pst_conformance_run(&t);
    free(ctx.options);
    return failed;
}
