/*
 * The conformance suite through the endpoint connector against a real
 * proxystore-endpoint process, with the storage backend named by argv[1]
 * ("memory", "spill" or "sqlite").
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conformance.h"
#include "eptest.h"
#include "testutil.h"

static ept_server server;

static ps_status open_endpoint(void *ctx, ps_connector **out)
{
    (void)ctx;
    char opts[256];
    snprintf(opts, sizeof opts, "{\"url\": \"%s\"}", server.url);
    return ps_connector_open("endpoint", opts, out);
}

int main(int argc, char **argv)
{
    const char *storage = argc > 1 ? argv[1] : "memory";
    char db[1200], dump[1200];
    const char *args_memory[] = {"--storage", "memory", NULL};
    const char *args_sqlite[] = {"--storage", "sqlite", "--database", db, NULL};
    /* 256 KiB of memory: the threads case (8 x up to 70 KB live) spills to
     * disk; objects may not exceed the memory size (the seed's rule). */
    const char *args_spill[] = {"--storage", "memory", "--max-memory", "256KiB", "--dump-dir",
                                dump,        NULL};
    const char *const *args = args_memory;
    char *tmp = pst_mkdtemp("conf-ep");
    snprintf(db, sizeof db, "%s/blobs.db", tmp);
    snprintf(dump, sizeof dump, "%s/dump", tmp);
    if (strcmp(storage, "sqlite") == 0)
        args = args_sqlite;
    else if (strcmp(storage, "spill") == 0)
        args = args_spill;
    if (ept_start(&server, args) != 0) {
        fprintf(stderr, "could not start proxystore-endpoint (%s)\n", storage);
        return 1;
    }
    /* Upstream's API cannot store an empty object ("received empty payload"). */
    char name[64];
    snprintf(name, sizeof name, "conformance.endpoint.%s", storage);
    pst_conformance_target t = {
        .name = name,
        .open = open_endpoint,
        .no_empty_objects = true,
        .max_object_size = strcmp(storage, "spill") == 0 ? 256 * 1024 : 0,
    };
    int failed = pst_conformance_run(&t);
    int rc = ept_stop(&server);
    if (rc != 0) {
        fprintf(stderr, "proxystore-endpoint exited with %d\n", rc);
        failed++;
    }
    pst_rmtree(tmp);
    free(tmp);
    return failed;
}
