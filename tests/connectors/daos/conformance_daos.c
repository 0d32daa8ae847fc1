/*
 * The conformance suite against the DAOS connector, on the libdaos
 * emulation loaded with dlopen (PROXYSTORE_DAOS_LIBRARY).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>

#include "conformance.h"
#include "daos_testenv.h"
#include "testutil.h"
#include "proxystore/sys/connector.h"

typedef struct daos_ctx {
    unsigned counter;
    char ns[64];
} daos_ctx;

/* Each case gets its own namespace (dictionary) in one container. */
static ps_status open_daos(void *vctx, ps_connector **out)
{
    daos_ctx *ctx = vctx;
    snprintf(ctx->ns, sizeof ctx->ns, "conformance-%u", ++ctx->counter);
    return ps_connector_open("daos", pstd_options("pool1", "cont1", ctx->ns, 0), out);
}

static ps_status foreign_daos(void *vctx, ps_connector *conn, ps_key **out)
{
    (void)vctx;
    (void)conn;
    const char *fields[] = {"pool1", "cont1", "another-namespace",
                            "0f8fad5b-d9cb-469f-a165-70867728950e"};
    return ps_key_new("daos", 4, fields, out);
}

/* Reopen the namespace the case used and check that no key is left. */
static ps_status cleared_daos(void *vctx, const ps_key *const *keys, size_t n, bool *gone)
{
    daos_ctx *ctx = vctx;
    ps_connector *c = NULL;
    ps_status st = ps_connector_open("daos", pstd_options("pool1", "cont1", ctx->ns, 0), &c);
    if (st != PS_OK)
        return st;
    *gone = true;
    for (size_t i = 0; i < n && st == PS_OK; i++) {
        bool ex = true;
        st = ps_connector_exists(c, keys[i], &ex);
        if (ex)
            *gone = false;
    }
    ps_connector_close(c, PS_CLEAR_KEEP);
    return st;
}

int main(void)
{
    char *root = pstd_setup("conf-daos");
    if (root == NULL)
        return 1;
    int rc = pstd_create_cont("pool1", "cont1", DAOS_PROP_CO_LAYOUT_PYTHON);
    if (rc != 0) {
        fprintf(stderr, "cannot create the test container: %d\n", rc);
        return 1;
    }
    daos_ctx ctx = {0, ""};
    pst_conformance_target t = {
        .name = "conformance.daos",
        .ctx = &ctx,
        .open = open_daos,
        .foreign_key = foreign_daos,
        .check_cleared = cleared_daos,
    };
    int failed = pst_conformance_run(&t);
    pst_rmtree(root);
    free(root);
    return failed;
}
