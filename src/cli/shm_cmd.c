/*
 * proxystore shm: list and remove shared-memory stores (the shm connector).
 *
 *   proxystore shm ls [--dir DIR] [--json] [NAME]
 *   proxystore shm rm [--dir DIR] [--stale] NAME...
 *
 * Thin over ps_shm_list / ps_shm_remove / ps_shm_gc
 * (include/proxystore/connectors/shm.h). Reference: docs/connectors-shm.md.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli.h"
#include "proxystore/connectors/shm.h"
#include "proxystore/proxystore.h"

static const char psc_shm_usage[] =
    "usage: proxystore shm ls [--dir DIR] [--json] [NAME]\n"
    "       proxystore shm rm [--dir DIR] [--stale] NAME...\n"
    "\n"
    "Shared-memory stores (store SPEC shm:NAME) live in DIR/proxystore-shm.NAME/.\n"
    "  ls           list the stores in DIR (objects, bytes, segments, temporary files)\n"
    "  ls NAME      list the objects of store NAME and its temporary files\n"
    "  rm NAME      remove store NAME with all its objects (processes that still use it\n"
    "               continue on a fresh, empty store; data they map stays readable)\n"
    "  rm --stale NAME  remove only what crashed processes left: temporary segments of\n"
    "               dead writers and segments no index entry names; objects stay\n"
    "\n"
    "  -d, --dir DIR   the shared-memory directory (default /dev/shm)\n"
    "  -j, --json      print JSON (ps_shm_list's format)\n"
    "Exit status: 0 success, 1 no such store, 2 usage, 3 other errors.\n";

static int psc_shm_fail(int code, const char *what)
{
    fprintf(stderr, "proxystore shm: %s\n", what);
    return code;
}

static int psc_shm_code(ps_status st)
{
    return st == PS_OK          ? PSC_OK
           : st == PS_NOT_FOUND ? PSC_NOT_FOUND
           : st == PS_EINVAL    ? PSC_USAGE
                                : PSC_OTHER;
}

static void psc_shm_print_list(json_t *j, const char *name)
{
    size_t i;
    json_t *v;
    if (name == NULL) {
        json_t *stores = json_object_get(j, "stores");
        printf("%-32s %10s %16s %9s %11s\n", "NAME", "OBJECTS", "BYTES", "SEGMENTS", "STALE-TEMP");
        json_array_foreach(stores, i, v)
        {
            printf("%-32s %10lld %16lld %9lld %11lld",
                   json_string_value(json_object_get(v, "name")),
                   (long long)json_integer_value(json_object_get(v, "objects")),
                   (long long)json_integer_value(json_object_get(v, "bytes")),
                   (long long)json_integer_value(json_object_get(v, "segments")),
                   (long long)json_integer_value(json_object_get(v, "stale_temp_files")));
            json_t *err = json_object_get(v, "error");
            if (err)
                printf("  (%s)", json_string_value(err));
            putchar('\n');
        }
        return;
    }
    json_t *err = json_object_get(j, "error");
    if (err)
        printf("# error: %s\n", json_string_value(err));
    printf("%-36s %16s %s\n", "ID", "SIZE", "WHERE");
    json_array_foreach(json_object_get(j, "objects"), i, v)
    {
        printf("%-36s %16lld %s\n", json_string_value(json_object_get(v, "id")),
               (long long)json_integer_value(json_object_get(v, "size")),
               json_string_value(json_object_get(v, "where")));
    }
    json_array_foreach(json_object_get(j, "temp_files"), i, v)
    {
        printf("# temporary file %s of pid %lld (%s)\n",
               json_string_value(json_object_get(v, "file")),
               (long long)json_integer_value(json_object_get(v, "pid")),
               json_is_true(json_object_get(v, "alive")) ? "writing" : "dead: stale");
    }
}

int psc_shm_main(int argc, char **argv)
{
    if (argc < 2)
        return fputs(psc_shm_usage, stderr), PSC_USAGE;
    const char *sub = argv[1];
    if (strcmp(sub, "-h") == 0 || strcmp(sub, "--help") == 0 || strcmp(sub, "help") == 0)
        return fputs(psc_shm_usage, stdout), PSC_OK;
    bool ls = strcmp(sub, "ls") == 0, rm = strcmp(sub, "rm") == 0;
    if (!ls && !rm) {
        fprintf(stderr, "proxystore shm: unknown subcommand \"%s\"\n", sub);
        return fputs(psc_shm_usage, stderr), PSC_USAGE;
    }
    static const struct option opts[] = {{"dir", required_argument, NULL, 'd'},
                                         {"json", no_argument, NULL, 'j'},
                                         {"stale", no_argument, NULL, 's'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *dir = NULL;
    bool json = false, stale = false;
    optind = 1;
    int c;
    while ((c = getopt_long(argc - 1, argv + 1, "+d:jsh", opts, NULL)) != -1) {
        switch (c) {
        case 'd':
            dir = optarg;
            break;
        case 'j':
            json = true;
            break;
        case 's':
            stale = true;
            break;
        case 'h':
            return fputs(psc_shm_usage, stdout), PSC_OK;
        default:
            return fputs(psc_shm_usage, stderr), PSC_USAGE;
        }
    }
    int nargs = argc - 1 - optind;
    char **args = argv + 1 + optind;
    if ((ls && (nargs > 1 || stale)) || (rm && (nargs < 1 || json)))
        return fputs(psc_shm_usage, stderr), PSC_USAGE;
    if (ls) {
        const char *name = nargs ? args[0] : NULL;
        char *text = NULL;
        ps_status st = ps_shm_list(dir, name, &text);
        if (st == PS_NOT_FOUND) {
            fprintf(stderr, "proxystore shm: no shm store \"%s\" in %s\n", name,
                    dir ? dir : PS_SHM_DEFAULT_DIR);
            return PSC_NOT_FOUND;
        }
        if (st != PS_OK)
            return psc_shm_fail(psc_shm_code(st), ps_last_error());
        if (json) {
            printf("%s\n", text);
        } else {
            json_t *j = json_loads(text, 0, NULL);
            if (j == NULL) {
                ps_free(text);
                return psc_shm_fail(PSC_OTHER, "cannot parse the listing");
            }
            psc_shm_print_list(j, name);
            json_decref(j);
        }
        ps_free(text);
        return PSC_OK;
    }
    int rc = PSC_OK;
    for (int i = 0; i < nargs; i++) {
        ps_status st;
        size_t removed = 0;
        if (stale)
            st = ps_shm_gc(dir, args[i], &removed);
        else
            st = ps_shm_remove(dir, args[i]);
        if (st == PS_NOT_FOUND) {
            fprintf(stderr, "proxystore shm: no shm store \"%s\" in %s\n", args[i],
                    dir ? dir : PS_SHM_DEFAULT_DIR);
            if (rc == PSC_OK)
                rc = PSC_NOT_FOUND;
        } else if (st != PS_OK) {
            psc_shm_fail(psc_shm_code(st), ps_last_error());
            rc = psc_shm_code(st);
        } else if (stale) {
            printf("%s: removed %zu stale file%s\n", args[i], removed, removed == 1 ? "" : "s");
        }
    }
    return rc;
}
