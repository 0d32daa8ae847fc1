/*
 * A consumer process for the multi-process proxy tests: decodes a token made
 * by another process and resolves it through the file store its
 * configuration names (built and registered in this fresh process).
 *
 *   proxy_consumer resolve TOKEN LEN SEED   resolve, check LEN bytes of pst_fill(SEED)
 *   proxy_consumer async   TOKEN LEN SEED   resolve_async, then resolve and check
 *   proxy_consumer locked  TOKEN LEN SEED   resolve is PS_ESTATE; unlock; resolve and check
 *   proxy_consumer evict   TOKEN LEN SEED   resolve and check; then the store lacks the key
 *   proxy_consumer missing TOKEN            resolve is PS_NOT_FOUND naming key and store
 *
 * Exit: 0 as expected, 1 wrong bytes or behaviour, 2 bad usage, 3 library error.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"

static int fail(int code, const char *what, ps_status st)
{
    fprintf(stderr, "proxy_consumer: %s: %s: %s\n", what, ps_status_name(st), ps_last_error());
    return code;
}

static int check(ps_proxy *p, size_t len, uint32_t seed)
{
    const void *d = NULL;
    size_t n = 0;
    ps_status st = ps_proxy_resolve(p, &d, &n);
    if (st != PS_OK)
        return fail(3, "resolve", st);
    unsigned char *want = malloc(len ? len : 1);
    pst_fill(want, len, seed);
    int ok = n == len && (len == 0 || memcmp(d, want, len) == 0);
    free(want);
    if (!ok) {
        fprintf(stderr, "proxy_consumer: got %zu bytes, want %zu of seed %u\n", n, len, seed);
        return 1;
    }
    printf("ok %zu\n", n);
    return 0;
}

static int run(const char *mode, ps_proxy *p, int argc, char **argv)
{
    if (strcmp(mode, "missing") == 0) {
        ps_status st = ps_proxy_resolve(p, NULL, NULL);
        if (st != PS_NOT_FOUND)
            return fail(1, "resolve of a missing key", st);
        char want[256];
        snprintf(want, sizeof want, "key='%s' from Store(name='%s')", ps_key_str(ps_proxy_key(p)),
                 ps_proxy_store_name(p));
        if (strstr(ps_last_error(), want) == NULL)
            return fail(1, "message lacks key and store", st);
        printf("missing: %s\n", ps_last_error());
        return 0;
    }
    if (argc < 5)
        return 2;
    size_t len = strtoull(argv[3], NULL, 10);
    uint32_t seed = (uint32_t)strtoul(argv[4], NULL, 10);
    if (strcmp(mode, "resolve") == 0)
        return check(p, len, seed);
    if (strcmp(mode, "async") == 0) {
        ps_status st = ps_proxy_resolve_async(p);
        if (st != PS_OK)
            return fail(3, "resolve_async", st);
        return check(p, len, seed);
    }
    if (strcmp(mode, "locked") == 0) {
        if (!ps_proxy_is_locked(p))
            return fail(1, "token lost the lock", PS_OK);
        ps_status st = ps_proxy_resolve(p, NULL, NULL);
        if (st != PS_ESTATE)
            return fail(1, "resolve of a locked proxy", st);
        ps_proxy_unlock(p);
        return check(p, len, seed);
    }
    if (strcmp(mode, "evict") == 0) {
        int rc = check(p, len, seed);
        if (rc != 0)
            return rc;
        ps_store *s = NULL;
        ps_status st = ps_proxy_get_store(p, &s);
        if (st != PS_OK)
            return fail(3, "get_store", st);
        bool ex = true;
        st = ps_store_exists(s, ps_proxy_key(p), &ex);
        ps_store_unref(s);
        if (st != PS_OK)
            return fail(3, "exists", st);
        return ex ? fail(1, "object still exists after evict-on-resolve", PS_OK) : 0;
    }
    return 2;
}

int main(int argc, char **argv)
{
    alarm(120); /* never outlive a hung test */
    if (argc < 3) {
        fprintf(stderr, "usage: proxy_consumer MODE TOKEN [LEN SEED]\n");
        return 2;
    }
    ps_proxy *p = NULL;
    ps_status st = ps_proxy_decode(argv[2], &p);
    if (st != PS_OK)
        return fail(3, "decode", st);
    int rc = run(argv[1], p, argc, argv);
    /* close the store this process built and registered while resolving */
    ps_store_close(ps_store_lookup(ps_proxy_store_name(p)), PS_CLEAR_KEEP);
    ps_proxy_unref(p);
    return rc;
}
