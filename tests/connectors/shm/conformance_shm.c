/* The conformance suite against the shm connector. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conformance.h"
#include "shm_testutil.h"
#include "testutil.h"
#include "proxystore/connectors/shm.h"
#include "proxystore/sys/connector.h"

/* Every open() uses a fresh store name in a private directory on tmpfs. */
typedef struct shm_ctx {
    char *dir;
    unsigned counter;
    char last[64];
} shm_ctx;

static ps_status open_shm(void *vctx, ps_connector **out)
{
    shm_ctx *ctx = vctx;
    snprintf(ctx->last, sizeof ctx->last, "conf-%u", ++ctx->counter);
    char opts[4300];
    snprintf(opts, sizeof opts, "{\"name\": \"%s\", \"dir\": \"%s\", \"max_objects\": 4096}",
             ctx->last, ctx->dir);
    return ps_connector_open("shm", opts, out);
}

static ps_status foreign_shm(void *vctx, ps_connector *conn, ps_key **out)
{
    (void)vctx;
    (void)conn;
    const char *extra[] = {"some-other-shm-store"};
    return ps_key_new_uuid("shm", 1, extra, out);
}

static ps_status cleared_shm(void *vctx, const ps_key *const *keys, size_t n, bool *gone)
{
    shm_ctx *ctx = vctx;
    char path[4400];
    snprintf(path, sizeof path, "%s/proxystore-shm.%s", ctx->dir, ctx->last);
    struct stat sb;
    *gone = stat(path, &sb) != 0 && errno == ENOENT;
    /* and a fresh instance of the same name sees none of the objects */
    ps_connector *c = NULL;
    char opts[4300];
    snprintf(opts, sizeof opts, "{\"name\": \"%s\", \"dir\": \"%s\"}", ctx->last, ctx->dir);
    ps_status st = ps_connector_open("shm", opts, &c);
    if (st != PS_OK)
        return st;
    for (size_t i = 0; i < n; i++) {
        bool ex = true;
        st = ps_connector_exists(c, keys[i], &ex);
        if (st != PS_OK || ex)
            *gone = false;
    }
    return ps_connector_close(c, PS_CLEAR_ALL);
}

int main(void)
{
    shm_ctx ctx = {pst_shm_mkdtemp("conf"), 0, ""};
    if (ctx.dir == NULL) {
        perror("mkdtemp");
        return 1;
    }
    pst_conformance_target t = {
        .name = "conformance.shm",
        .ctx = &ctx,
        .open = open_shm,
        .foreign_key = foreign_shm,
        .check_cleared = cleared_shm,
    };
    int failed = pst_conformance_run(&t);
    /* every case closed with clear: the directory must be empty */
    if (rmdir(ctx.dir) != 0) {
        fprintf(stderr, "conformance.shm: %s not empty after the run: %s\n", ctx.dir,
                strerror(errno));
        pst_rmtree(ctx.dir);
        failed++;
    }
    free(ctx.dir);
    return failed;
}
