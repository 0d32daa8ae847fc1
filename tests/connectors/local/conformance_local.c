/* The conformance suite against the local connector. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "conformance.h"
#include "testutil.h"
#include "proxystore/connectors/local.h"
#include "proxystore/sys/connector.h"

/*
 * Each open() uses a fresh store_id and keeps a second "keeper" instance on
 * the same map, so check_cleared can look at the map after the tested
 * instance was closed (otherwise closing the last instance frees the map and
 * the check would prove nothing).
 */
typedef struct local_ctx {
    unsigned counter;
    ps_connector *keeper;
} local_ctx;

static ps_status open_local(void *vctx, ps_connector **out)
{
    local_ctx *ctx = vctx;
    char id[64];
    snprintf(id, sizeof id, "conformance-%u", ++ctx->counter);
    ps_connector_close(ctx->keeper, PS_CLEAR_KEEP);
    ctx->keeper = NULL;
    ps_status st = ps_local_connector_open(
        &(ps_local_options){.version = PS_LOCAL_OPTIONS_VERSION, .store_id = id}, &ctx->keeper);
    if (st != PS_OK)
        return st;
    return ps_local_connector_open(
        &(ps_local_options){.version = PS_LOCAL_OPTIONS_VERSION, .store_id = id}, out);
}

static ps_status foreign_local(void *vctx, ps_connector *conn, ps_key **out)
{
    (void)vctx;
    (void)conn;
    const char *extra[] = {"some-other-local-store"};
    return ps_key_new_uuid("local", 1, extra, out);
}

static ps_status cleared_local(void *vctx, const ps_key *const *keys, size_t n, bool *gone)
{
    local_ctx *ctx = vctx;
    *gone = true;
    for (size_t i = 0; i < n; i++) {
        bool ex = true;
        ps_status st = ps_connector_exists(ctx->keeper, keys[i], &ex);
        if (st != PS_OK)
            return st;
        if (ex)
            *gone = false;
    }
    return PS_OK;
}

int main(void)
{
    local_ctx ctx = {0, NULL};
    pst_conformance_target t = {
        .name = "conformance.local",
        .ctx = &ctx,
        .open = open_local,
        .foreign_key = foreign_local,
        .check_cleared = cleared_local,
    };
    int failed = pst_conformance_run(&t);
    ps_connector_close(ctx.keeper, PS_CLEAR_KEEP);
    return failed;
}
