/*
 * A 3 GiB object (more than INT_MAX bytes: where int lengths and single
 * read/write calls break) through the file connector and through a store
 * over it. Memory: one 3 GiB buffer in, freed before the one coming out;
 * contents are compared through hashes of 64 MiB chunks. Label "large": run
 * with `ctest -L large`.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "testutil.h"
#include "proxystore/connectors/file.h"

#define BIG     ((size_t)3 << 30)
#define CHUNK   ((size_t)64 << 20)
#define NCHUNKS (BIG / CHUNK)

static char *tmp_root;

/* A fast 64-bit hash of a chunk (8 bytes at a time; len is a multiple of 8). */
static uint64_t chunk_hash(const unsigned char *p, size_t len)
{
    uint64_t h = 0x9e3779b97f4a7c15ull ^ len;
    for (size_t i = 0; i < len; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        h ^= w;
        h *= 0xff51afd7ed558ccdull;
        h ^= h >> 29;
    }
    return h;
}

/* A 3 GiB buffer whose every chunk differs (so a misplaced chunk is caught). */
static unsigned char *make_big(uint64_t hashes[NCHUNKS])
{
    unsigned char *buf = malloc(BIG);
    assert_non_null(buf);
    for (size_t c = 0; c < NCHUNKS; c++) {
        pst_fill(buf + c * CHUNK, CHUNK, (uint32_t)c + 17);
        hashes[c] = chunk_hash(buf + c * CHUNK, CHUNK);
    }
    return buf;
}

static void check_big(const ps_bytes *b, const uint64_t hashes[NCHUNKS])
{
    assert_int_equal(b->len, BIG);
    for (size_t c = 0; c < NCHUNKS; c++)
        if (chunk_hash((const unsigned char *)b->data + c * CHUNK, CHUNK) != hashes[c])
            fail_msg("chunk %zu of the 3 GiB object differs", c);
}

static void test_connector_3gib(void **state)
{
    (void)state;
    static uint64_t hashes[NCHUNKS];
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/connector", tmp_root);
    ps_connector *c = NULL;
    PS_ASSERT_OK(ps_file_connector_open(
        &(ps_file_options){.version = PS_FILE_OPTIONS_VERSION, .store_dir = dir, .clear = true},
        &c));
    unsigned char *in = make_big(hashes);
    ps_key *k = NULL;
    PS_ASSERT_OK(ps_connector_put(c, in, BIG, NULL, &k));
    free(in);
    char path[4300];
    snprintf(path, sizeof path, "%s/%s", dir, ps_key_field(k, 0));
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal((size_t)sb.st_size, BIG);
    bool ex = false;
    PS_ASSERT_OK(ps_connector_exists(c, k, &ex));
    assert_true(ex);
    ps_bytes out = PS_BYTES_INIT;
    PS_ASSERT_OK(ps_connector_get(c, k, &out));
    check_big(&out, hashes);
    ps_bytes_free(&out);
    PS_ASSERT_OK(ps_connector_evict(c, k));
    ps_key_free(k);
    PS_ASSERT_OK(ps_connector_close(c, PS_CLEAR_ALL));
}

static void test_store_3gib(void **state)
{
    (void)state;
    static uint64_t hashes[NCHUNKS];
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/store", tmp_root);
    ps_connector *c = NULL;
    PS_ASSERT_OK(ps_file_connector_open(
        &(ps_file_options){.version = PS_FILE_OPTIONS_VERSION, .store_dir = dir, .clear = true},
        &c));
    ps_store_options o;
    ps_store_options_init(&o);
    o.cache_size = 0; /* do not keep a third copy */
    ps_store *s = NULL;
    PS_ASSERT_OK(ps_store_new("large-file-3gib", c, &o, &s));
    unsigned char *in = make_big(hashes);
    ps_key *k = NULL;
    PS_ASSERT_OK(ps_store_put(s, in, BIG, NULL, &k));
    free(in);
    ps_bytes out = PS_BYTES_INIT;
    PS_ASSERT_OK(ps_store_get(s, k, NULL, &out));
    check_big(&out, hashes);
    ps_bytes_free(&out);
    PS_ASSERT_OK(ps_store_evict(s, k));
    ps_key_free(k);
    PS_ASSERT_OK(ps_store_close(s, PS_CLEAR_ALL));
}

static int setup(void **state)
{
    (void)state;
    tmp_root = pst_mkdtemp("large");
    return tmp_root ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    pst_rmtree(tmp_root);
    free(tmp_root);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_connector_3gib),
        cmocka_unit_test(test_store_3gib),
    };
    return pst_exit(cmocka_run_group_tests_name("large.file_3gib", tests, setup, teardown));
}
