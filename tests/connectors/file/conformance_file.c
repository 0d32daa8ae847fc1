/* The conformance suite against the file connector. */
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
#include "proxystore/connectors/file.h"

/* Every open() uses a fresh directory below one temporary parent, two levels
 * deep and not yet existing (so open must create it with its parent). */
typedef struct file_ctx {
    char *parent;
    unsigned counter;
    char last[4096];
} file_ctx;

static ps_status open_file(void *vctx, ps_connector **out)
{
    file_ctx *ctx = vctx;
    ctx->counter++;
    snprintf(ctx->last, sizeof ctx->last, "%s/store-%u/objects", ctx->parent, ctx->counter);
    return ps_file_connector_open(&(ps_file_options){.version = PS_FILE_OPTIONS_VERSION,
                                                     .store_dir = ctx->last,
                                                     .clear = true},
                                  out);
}

static ps_status foreign_file(void *vctx, ps_connector *conn, ps_key **out)
{
    file_ctx *ctx = vctx;
    (void)conn;
    char other[4200];
    snprintf(other, sizeof other, "%s/another-dir", ctx->parent);
    return ps_file_key_for_dir(other, "0f8fad5b-d9cb-469f-a165-70867728950e", out);
}

static ps_status cleared_file(void *vctx, const ps_key *const *keys, size_t n, bool *gone)
{
    file_ctx *ctx = vctx;
    (void)keys;
    (void)n;
    struct stat sb;
    *gone = stat(ctx->last, &sb) != 0 && errno == ENOENT;
    return PS_OK;
}

int main(void)
{
    file_ctx ctx = {pst_mkdtemp("conf-file"), 0, ""};
    if (ctx.parent == NULL) {
        perror("mkdtemp");
        return 1;
    }
    pst_conformance_target t = {
        .name = "conformance.file",
        .ctx = &ctx,
        .open = open_file,
        .foreign_key = foreign_file,
        .check_cleared = cleared_file,
    };
    int failed = pst_conformance_run(&t);
    /* every case closed with clear: only the empty store-N parents remain */
    pst_rmtree(ctx.parent);
    free(ctx.parent);
    return failed;
}
