/* The shm connector: options, keys, heap and segment objects, views, limits,
 * set, list/remove/gc, reattach after removal. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "connectors/shm/shm_internal.h"
#include "shm_testutil.h"
#include "testutil.h"
#include "proxystore/connectors/shm.h"
#include "proxystore/sys/connector.h"

static char *g_dir;

static void *pattern(size_t n, uint32_t seed)
{
    void *p = malloc(n ? n : 1);
    assert_non_null(p);
    pst_fill(p, n, seed);
    return p;
}

static void expect(ps_connector *c, const ps_key *k, const void *data, size_t len, bool view)
{
    ps_bytes b = PS_BYTES_INIT;
    PS_ASSERT_OK(ps_connector_get(c, k, &b));
    assert_int_equal(b.len, len);
    if (len)
        assert_memory_equal(b.data, data, len);
    if (view)
        assert_non_null(b.release);
    else
        assert_null(b.release);
    ps_bytes_free(&b);
}

static json_t *list(const char *name)
{
    char *text = NULL;
    PS_ASSERT_OK(ps_shm_list(g_dir, name, &text));
    json_t *j = json_loads(text, 0, NULL);
    assert_non_null(j);
    ps_free(text);
    return j;
}

static char *sdir_of(const char *name)
{
    char *p = malloc(4400);
    assert_non_null(p);
    snprintf(p, 4400, "%s/proxystore-shm.%s", g_dir, name);
    return p;
}

static void test_options(void **state)
{
    (void)state;
    ps_connector *c = NULL;
    PS_ASSERT_STATUS(ps_connector_open("shm", "{}", &c), PS_EINVAL);
    assert_non_null(strstr(ps_last_error(), "name"));
    PS_ASSERT_STATUS(ps_connector_open("shm", "{\"name\": \"a/b\"}", &c), PS_EINVAL);
    PS_ASSERT_STATUS(ps_connector_open("shm", "{\"name\": \"..\"}", &c), PS_EINVAL);
    PS_ASSERT_STATUS(ps_connector_open("shm", "{\"name\": \"\"}", &c), PS_EINVAL);
    PS_ASSERT_STATUS(ps_connector_open("shm", "{\"name\": \"x\", \"dir\": \"rel\"}", &c),
                     PS_EINVAL);
    PS_ASSERT_STATUS(ps_connector_open("shm", "{\"name\": \"x\", \"colour\": 1}", &c), PS_EINVAL);
    assert_non_null(strstr(ps_last_error(), "colour"));
    PS_ASSERT_STATUS(ps_connector_open("shm", "{\"name\": \"x\", \"max_objects\": 0}", &c),
                     PS_EINVAL);
    PS_ASSERT_STATUS(ps_connector_open("shm", "{\"name\": \"x\", \"max_bytes\": -1}", &c),
                     PS_EINVAL);
    PS_ASSERT_STATUS(ps_connector_open("shm", "{\"name\": \"x\", \"clear\": 1}", &c), PS_EINVAL);
    PS_ASSERT_STATUS(
        ps_connector_open("shm", "{\"name\": \"x\", \"dir\": \"/nonexistent/dir\"}", &c), PS_EIO);
    assert_non_null(strstr(ps_last_error(), "/nonexistent/dir"));
    PS_ASSERT_STATUS(
        ps_shm_connector_open(&(ps_shm_options){.version = PS_SHM_OPTIONS_VERSION,
                                                .name = NULL,
                                                .max_objects = PS_SHM_DEFAULT_MAX_OBJECTS},
                              &c),
        PS_EINVAL);
    PS_ASSERT_STATUS(
        ps_shm_connector_open(&(ps_shm_options){.version = PS_SHM_OPTIONS_VERSION,
                                                .name = "bad name",
                                                .max_objects = PS_SHM_DEFAULT_MAX_OBJECTS},
                              &c),
        PS_EINVAL);
    assert_null(c);

    /* config: name plus the non-default options, in a round trip */
    PS_ASSERT_OK(pst_shm_open(g_dir, "opts",
                              ", \"max_bytes\": 1000000, \"max_objects\": 100, "
                              "\"copy_on_get\": true, \"clear\": true",
                              &c));
    char *cfg = NULL;
    PS_ASSERT_OK(ps_connector_config(c, &cfg));
    json_t *j = json_loads(cfg, 0, NULL);
    json_t *o = json_object_get(j, "options");
    assert_string_equal(json_string_value(json_object_get(o, "name")), "opts");
    assert_string_equal(json_string_value(json_object_get(o, "dir")), g_dir);
    assert_int_equal(json_integer_value(json_object_get(o, "max_bytes")), 1000000);
    assert_int_equal(json_integer_value(json_object_get(o, "max_objects")), 100);
    assert_true(json_is_true(json_object_get(o, "copy_on_get")));
    assert_true(json_is_true(json_object_get(o, "clear")));
    json_decref(j);
    ps_free(cfg);
    /* "clear": true makes close(DEFAULT) remove the store */
    PS_ASSERT_OK(ps_connector_close(c, PS_CLEAR_DEFAULT));
    char *sd = sdir_of("opts");
    struct stat sb;
    assert_int_equal(stat(sd, &sb), -1);
    free(sd);

    /* defaults: only the name (and our non-default dir) */
    PS_ASSERT_OK(pst_shm_open(g_dir, "opts2", "", &c));
    PS_ASSERT_OK(ps_connector_config(c, &cfg));
    char want[4600];
    snprintf(want, sizeof want,
             "{\"kind\":\"shm\",\"options\":{\"dir\":\"%s\",\"name\":\"opts2\"}}", g_dir);
    assert_string_equal(cfg, want);
    /* the typed open with ps_shm_options_init's defaults writes the same */
    ps_shm_options so;
    ps_shm_options_init(&so);
    so.name = "opts2";
    so.dir = g_dir;
    ps_connector *typed = NULL;
    PS_ASSERT_OK(ps_shm_connector_open(&so, &typed));
    char *tcfg = NULL;
    PS_ASSERT_OK(ps_connector_config(typed, &tcfg));
    assert_string_equal(tcfg, want);
    ps_free(tcfg);
    PS_ASSERT_OK(ps_connector_close(typed, PS_CLEAR_KEEP));
    /* and refuses what the JSON form refuses, plus an unknown version */
    so.max_objects = 0;
    PS_ASSERT_STATUS(ps_shm_connector_open(&so, &typed), PS_EINVAL);
    ps_shm_options_init(&so);
    so.name = "opts2";
    so.version = 0;
    PS_ASSERT_STATUS(ps_shm_connector_open(&so, &typed), PS_EINVAL);
    assert_non_null(strstr(ps_last_error(), "unknown options version"));
    assert_null(typed);
    ps_free(cfg);
    PS_ASSERT_OK(ps_connector_close(c, PS_CLEAR_DEFAULT)); /* keeps: clear is false */
    sd = sdir_of("opts2");
    assert_int_equal(stat(sd, &sb), 0);
    free(sd);
    PS_ASSERT_OK(ps_shm_remove(g_dir, "opts2"));
    PS_ASSERT_STATUS(ps_shm_remove(g_dir, "opts2"), PS_NOT_FOUND);
}

static void test_keys(void **state)
{
    (void)state;
    ps_connector *c = NULL;
    PS_ASSERT_OK(pst_shm_open(g_dir, "keys", "", &c));
    ps_key *k = NULL;
    PS_ASSERT_OK(ps_connector_put(c, "abc", 3, NULL, &k));
    assert_string_equal(ps_key_type(k), "shm");
    assert_int_equal(ps_key_nfields(k), 2);
    assert_true(ps_uuid_is_canonical(ps_key_field(k, 0)));
    assert_string_equal(ps_key_field(k, 1), "keys");
    /* parse the canonical text back */
    ps_key *k2 = NULL;
    PS_ASSERT_OK(ps_key_parse(ps_key_str(k), &k2));
    expect(c, k2, "abc", 3, false);
    ps_key_free(k2);
    /* a key of another store name, a non-UUID id, a wrong field count */
    const char *bad[] = {"shm:0f8fad5b-d9cb-469f-a165-70867728950e/other",
                         "shm:..%2F..%2Fetc%2Fpasswd/keys",
                         "shm:0F8FAD5B-D9CB-469F-A165-70867728950E/keys",
                         "shm:0f8fad5b-d9cb-469f-a165-70867728950e"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ps_key *b = NULL;
        PS_ASSERT_OK(ps_key_parse(bad[i], &b));
        ps_bytes out = PS_BYTES_INIT;
        bool ex;
        PS_ASSERT_STATUS(ps_connector_get(c, b, &out), PS_EINVAL);
        PS_ASSERT_STATUS(ps_connector_exists(c, b, &ex), PS_EINVAL);
        PS_ASSERT_STATUS(ps_connector_evict(c, b), PS_EINVAL);
        PS_ASSERT_STATUS(ps_connector_set(c, b, "x", 1), PS_EINVAL);
        ps_key_free(b);
    }
    ps_key_free(k);
    PS_ASSERT_OK(ps_connector_close(c, PS_CLEAR_ALL));
}

/* Objects up to PS_SHM_SMALL_MAX live in the heap and are copied out; larger
 * ones are segments handed out as views that outlive evict and clear. */
static void test_heap_and_segments(void **state)
{
    (void)state;
    ps_connector *c = NULL;
    PS_ASSERT_OK(pst_shm_open(g_dir, "where", "", &c));
    size_t sizes[] = {
        0, 1, 48, 49, 100, 4000, PS_SHM_SMALL_MAX, PS_SHM_SMALL_MAX + 1, (size_t)3 << 20};
    enum { N = sizeof sizes / sizeof sizes[0] };
    ps_key *keys[N];
    void *data[N];
    for (size_t i = 0; i < N; i++) {
        data[i] = pattern(sizes[i], (uint32_t)i + 1);
        PS_ASSERT_OK(ps_connector_put(c, data[i], sizes[i], NULL, &keys[i]));
    }
    for (size_t i = 0; i < N; i++)
        expect(c, keys[i], data[i], sizes[i], sizes[i] > PS_SHM_SMALL_MAX);
    json_t *j = list("where");
    json_t *objs = json_object_get(j, "objects");
    assert_int_equal(json_array_size(objs), N);
    size_t i;
    json_t *v;
    size_t segs = 0;
    json_array_foreach(objs, i, v)
    {
        const char *w = json_string_value(json_object_get(v, "where"));
        json_int_t sz = json_integer_value(json_object_get(v, "size"));
        assert_true(strcmp(w, sz > (json_int_t)PS_SHM_SMALL_MAX ? "segment" : "heap") == 0);
        segs += strcmp(w, "segment") == 0;
    }
    assert_int_equal(segs, 2);
    json_decref(j);

    /* a view stays valid after evict */
    ps_bytes view = PS_BYTES_INIT;
    PS_ASSERT_OK(ps_connector_get(c, keys[N - 1], &view));
    PS_ASSERT_OK(ps_connector_evict(c, keys[N - 1]));
    bool ex = true;
    PS_ASSERT_OK(ps_connector_exists(c, keys[N - 1], &ex));
    assert_false(ex);
    ps_bytes gone = PS_BYTES_INIT;
    PS_ASSERT_STATUS(ps_connector_get(c, keys[N - 1], &gone), PS_NOT_FOUND);
    assert_memory_equal(view.data, data[N - 1], sizes[N - 1]);
    /* ... and after the whole store is removed */
    ps_bytes view2 = PS_BYTES_INIT;
    PS_ASSERT_OK(ps_connector_get(c, keys[N - 2], &view2));
    PS_ASSERT_OK(ps_connector_close(c, PS_CLEAR_ALL));
    assert_memory_equal(view.data, data[N - 1], sizes[N - 1]);
    assert_memory_equal(view2.data, data[N - 2], sizes[N - 2]);
    ps_bytes_free(&view);
    ps_bytes_free(&view2);
    char *sd = sdir_of("where");
    struct stat sb;
    assert_int_equal(stat(sd, &sb), -1);
    free(sd);
    for (size_t k = 0; k < N; k++)
        free(data[k]);
    ps_key_free_array(keys, N);
}

static void test_copy_on_get(void **state)
{
    (void)state;
    ps_connector *c = NULL;
    PS_ASSERT_OK(pst_shm_open(g_dir, "copy", ", \"copy_on_get\": true", &c));
    size_t n = (size_t)1 << 20;
    void *d = pattern(n, 7);
    ps_key *k = NULL;
    PS_ASSERT_OK(ps_connector_put(c, d, n, NULL, &k));
    expect(c, k, d, n, false);
    /* a copy is writable and owned */
    ps_bytes b = PS_BYTES_INIT;
    PS_ASSERT_OK(ps_connector_get(c, k, &b));
    memset(b.data, 0, n);
    ps_bytes_free(&b);
    expect(c, k, d, n, false);
    ps_key_free(k);
    free(d);
    PS_ASSERT_OK(ps_connector_close(c, PS_CLEAR_ALL));
}

static void test_limits(void **state)
{
    (void)state;
    ps_connector *c = NULL;
    PS_ASSERT_OK(pst_shm_open(g_dir, "limits", ", \"max_objects\": 3, \"max_bytes\": 300000", &c));
    ps_key *k[4] = {NULL};
    PS_ASSERT_OK(ps_connector_put(c, "a", 1, NULL, &k[0]));
    PS_ASSERT_OK(ps_connector_put(c, "b", 1, NULL, &k[1]));
    PS_ASSERT_OK(ps_connector_put(c, "c", 1, NULL, &k[2]));
    PS_ASSERT_STATUS(ps_connector_put(c, "d", 1, NULL, &k[3]), PS_ENOSPC);
    assert_non_null(strstr(ps_last_error(), "max_objects"));
    assert_null(k[3]);
    PS_ASSERT_OK(ps_connector_evict(c, k[0]));
    PS_ASSERT_OK(ps_connector_put(c, "d", 1, NULL, &k[3]));
    PS_ASSERT_OK(ps_connector_evict(c, k[1]));
    PS_ASSERT_OK(ps_connector_evict(c, k[2]));
    PS_ASSERT_OK(ps_connector_evict(c, k[3]));
    ps_key_free_array(k, 4);

    /* bytes: segments and heap objects count alike */
    size_t big = 200000;
    void *d = pattern(big + 10000, 3);
    ps_key *a = NULL, *b = NULL, *s = NULL;
    PS_ASSERT_OK(ps_connector_put(c, d, big, NULL, &a));
    PS_ASSERT_STATUS(ps_connector_put(c, d, big, NULL, &b), PS_ENOSPC);
    assert_non_null(strstr(ps_last_error(), "max_bytes"));
    PS_ASSERT_OK(ps_connector_put(c, d, 60000, NULL, &s));
    PS_ASSERT_STATUS(ps_connector_put(c, d, 60000, NULL, &b), PS_ENOSPC);
    /* no temporary segment is left behind */
    char *sd = sdir_of("limits");
    assert_int_equal(pst_count_entries(sd), 2); /* index + one segment */
    /* set() within the limit replaces: the old size no longer counts */
    PS_ASSERT_OK(ps_connector_set(c, a, d, big + 10000));
    expect(c, a, d, big + 10000, true);
    PS_ASSERT_STATUS(ps_connector_set(c, s, d, 100000), PS_ENOSPC);
    expect(c, s, d, 60000, false);
    PS_ASSERT_OK(ps_connector_evict(c, a));
    PS_ASSERT_OK(ps_connector_put(c, d, big, NULL, &b));
    assert_int_equal(pst_count_entries(sd), 2);
    free(sd);
    ps_key_free(a);
    ps_key_free(b);
    ps_key_free(s);
    free(d);
    PS_ASSERT_OK(ps_connector_close(c, PS_CLEAR_ALL));
}

/* set() moves an object between the heap and a segment and back. */
static void test_set_overwrite(void **state)
{
    (void)state;
    ps_connector *c = NULL;
    PS_ASSERT_OK(pst_shm_open(g_dir, "set", "", &c));
    ps_key *k = NULL;
    PS_ASSERT_OK(ps_connector_new_key(c, &k));
    bool ex = true;
    PS_ASSERT_OK(ps_connector_exists(c, k, &ex));
    assert_false(ex);
    size_t sizes[] = {10, 200000, 5, 0, 1 << 20, 300000, 64};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        void *d = pattern(sizes[i], (uint32_t)(100 + i));
        PS_ASSERT_OK(ps_connector_set(c, k, d, sizes[i]));
        expect(c, k, d, sizes[i], sizes[i] > PS_SHM_SMALL_MAX);
        free(d);
        json_t *j = list("set");
        assert_int_equal(json_array_size(json_object_get(j, "objects")), 1);
        json_decref(j);
    }
    char *sd = sdir_of("set");
    assert_int_equal(pst_count_entries(sd), 1); /* only the index: 64 B is in the heap */
    free(sd);
    ps_key_free(k);
    PS_ASSERT_OK(ps_connector_close(c, PS_CLEAR_ALL));
}

/* Many objects: the index's deletion (backward shift) and heap reuse. */
static void test_many(void **state)
{
    (void)state;
    ps_connector *c = NULL;
    PS_ASSERT_OK(pst_shm_open(g_dir, "many", ", \"max_objects\": 3000", &c));
    enum { N = 3000 };
    ps_key **keys = calloc(N, sizeof *keys);
    char buf[200];
    for (int round = 0; round < 3; round++) {
        for (size_t i = 0; i < N; i++) {
            size_t len = (size_t)snprintf(buf, sizeof buf, "object %zu round %d", i, round);
            PS_ASSERT_OK(ps_connector_put(c, buf, len + (i % 100), NULL, &keys[i]));
        }
        ps_key *extra = NULL;
        PS_ASSERT_STATUS(ps_connector_put(c, "x", 1, NULL, &extra), PS_ENOSPC);
        /* evict every other, check the rest, then evict the rest */
        for (size_t i = 0; i < N; i += 2)
            PS_ASSERT_OK(ps_connector_evict(c, keys[i]));
        for (size_t i = 0; i < N; i++) {
            bool ex;
            PS_ASSERT_OK(ps_connector_exists(c, keys[i], &ex));
            assert_int_equal(ex, i % 2 == 1);
            if (i % 2 == 1) {
                size_t len = (size_t)snprintf(buf, sizeof buf, "object %zu round %d", i, round);
                ps_bytes b = PS_BYTES_INIT;
                PS_ASSERT_OK(ps_connector_get(c, keys[i], &b));
                assert_int_equal(b.len, len + (i % 100));
                assert_memory_equal(b.data, buf, len);
                ps_bytes_free(&b);
            }
        }
        for (size_t i = 1; i < N; i += 2)
            PS_ASSERT_OK(ps_connector_evict(c, keys[i]));
        ps_key_free_array(keys, N);
    }
    /* the heap did not grow after the first round: blocks are reused */
    ps__shm_arena a;
    char *sd = sdir_of("many");
    PS_ASSERT_OK(ps__shm_arena_open_existing(sd, "test", &a));
    assert_true(a.h->heap_bump <= (uint64_t)N * 256);
    assert_int_equal(a.h->n_objects, 0);
    assert_int_equal(a.h->n_bytes, 0);
    ps__shm_arena_detach(&a);
    free(sd);
    free(keys);
    PS_ASSERT_OK(ps_connector_close(c, PS_CLEAR_ALL));
}

/* Another instance (here: ps_shm_remove) removes the store: open instances
 * continue on a fresh one. */
static void test_removed_while_open(void **state)
{
    (void)state;
    ps_connector *a = NULL, *b = NULL;
    PS_ASSERT_OK(pst_shm_open(g_dir, "rm", "", &a));
    PS_ASSERT_OK(pst_shm_open(g_dir, "rm", "", &b));
    ps_key *k1 = NULL, *k2 = NULL;
    PS_ASSERT_OK(ps_connector_put(a, "one", 3, NULL, &k1));
    expect(b, k1, "one", 3, false);
    json_t *j = list(NULL);
    json_t *stores = json_object_get(j, "stores");
    bool seen = false;
    size_t i;
    json_t *v;
    json_array_foreach(stores, i,
                       v) if (strcmp(json_string_value(json_object_get(v, "name")), "rm") == 0)
    {
        seen = true;
        assert_int_equal(json_integer_value(json_object_get(v, "objects")), 1);
    }
    assert_true(seen);
    json_decref(j);
    PS_ASSERT_OK(ps_shm_remove(g_dir, "rm"));
    char *text = NULL;
    PS_ASSERT_STATUS(ps_shm_list(g_dir, "rm", &text), PS_NOT_FOUND);
    bool ex = true;
    PS_ASSERT_OK(ps_connector_exists(b, k1, &ex));
    assert_false(ex);
    PS_ASSERT_OK(ps_connector_put(b, "two", 3, NULL, &k2));
    expect(a, k2, "two", 3, false);
    ps_bytes out = PS_BYTES_INIT;
    PS_ASSERT_STATUS(ps_connector_get(a, k1, &out), PS_NOT_FOUND);
    PS_ASSERT_OK(ps_connector_close(a, PS_CLEAR_ALL));
    PS_ASSERT_OK(ps_connector_close(b, PS_CLEAR_ALL));
    ps_key_free(k1);
    ps_key_free(k2);
    PS_ASSERT_STATUS(ps_shm_remove(g_dir, "rm"), PS_NOT_FOUND);
    PS_ASSERT_STATUS(ps_shm_remove(g_dir, "bad/name"), PS_EINVAL);
    PS_ASSERT_STATUS(ps_shm_list(g_dir, "rm", NULL), PS_EINVAL);
    PS_ASSERT_STATUS(ps_shm_gc(g_dir, "rm", NULL), PS_NOT_FOUND);
}

/* gc removes temporary segments of dead writers and segments no index entry
 * names; live writers' files and objects stay. */
static void test_gc(void **state)
{
    (void)state;
    ps_connector *c = NULL;
    PS_ASSERT_OK(pst_shm_open(g_dir, "gc", "", &c));
    size_t n = 100000;
    void *d = pattern(n, 9);
    ps_key *k = NULL;
    PS_ASSERT_OK(ps_connector_put(c, d, n, NULL, &k));
    char *sd = sdir_of("gc");
    char p[4600];
    const char *junk[] = {".0f8fad5b-d9cb-469f-a165-70867728950e.999999999.tmp", /* dead pid */
                          "1b4e28ba-2fa1-11d2-883f-0016d3cca427"};               /* orphan */
    for (size_t i = 0; i < 2; i++) {
        snprintf(p, sizeof p, "%s/%s", sd, junk[i]);
        int fd = open(p, O_CREAT | O_WRONLY, 0600);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, "junk", 4), 4);
        close(fd);
    }
    /* a live writer's temporary file (ours) stays */
    snprintf(p, sizeof p, "%s/.6fa459ea-ee8a-3ca4-894e-db77e160355e.%ld.tmp", sd, (long)getpid());
    int fd = open(p, O_CREAT | O_WRONLY, 0600);
    assert_true(fd >= 0);
    close(fd);
    json_t *j = list(NULL);
    json_t *v;
    size_t i;
    json_array_foreach(json_object_get(j, "stores"), i,
                       v) if (strcmp(json_string_value(json_object_get(v, "name")), "gc") == 0)
    {
        assert_int_equal(json_integer_value(json_object_get(v, "temp_files")), 2);
        assert_int_equal(json_integer_value(json_object_get(v, "stale_temp_files")), 1);
    }
    json_decref(j);
    size_t removed = 0;
    PS_ASSERT_OK(ps_shm_gc(g_dir, "gc", &removed));
    assert_int_equal(removed, 2);
    assert_int_equal(pst_count_entries(sd), 3); /* index, the object, our temp file */
    unlink(p);
    expect(c, k, d, n, true);
    free(sd);
    free(d);
    ps_key_free(k);
    PS_ASSERT_OK(ps_connector_close(c, PS_CLEAR_ALL));
}

/* A damaged index file is an error with a message, not a crash. */
static void test_damaged_index(void **state)
{
    (void)state;
    char *sd = sdir_of("damaged");
    assert_int_equal(mkdir(sd, 0700), 0);
    char p[4600];
    snprintf(p, sizeof p, "%s/index", sd);
    int fd = open(p, O_CREAT | O_WRONLY, 0600);
    assert_true(fd >= 0);
    char junk[8192];
    memset(junk, 0x5a, sizeof junk);
    assert_int_equal(write(fd, junk, sizeof junk), (ssize_t)sizeof junk);
    close(fd);
    ps_connector *c = NULL;
    PS_ASSERT_STATUS(pst_shm_open(g_dir, "damaged", "", &c), PS_EIO);
    assert_non_null(strstr(ps_last_error(), "not a ProxyStore shm index"));
    char *text = NULL;
    PS_ASSERT_OK(ps_shm_list(g_dir, "damaged", &text));
    assert_non_null(strstr(text, "error"));
    ps_free(text);
    PS_ASSERT_OK(ps_shm_remove(g_dir, "damaged"));
    struct stat sb;
    assert_int_equal(stat(sd, &sb), -1);
    free(sd);
}

static ino_t ino_of(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 ? sb.st_ino : 0;
}

static ino_t seg_ino(const char *sd, const ps_key *k)
{
    char p[4400];
    snprintf(p, sizeof p, "%s/%s", sd, ps_key_field(k, 0));
    return ino_of(p);
}

/* An evicted segment that nobody maps becomes the store's spare and the next
 * large put writes into it; a segment mapped by a view (of this or another
 * process) is never reused; gc gives the spare back. */
static void test_recycle(void **state)
{
    (void)state;
    ps_connector *c = NULL;
    PS_ASSERT_OK(pst_shm_open(g_dir, "rc", NULL, &c));
    char *sd = sdir_of("rc");
    char spare[4400];
    snprintf(spare, sizeof spare, "%s/.spare", sd);
    size_t n = (size_t)1 << 20;
    void *a = pattern(n, 11), *b = pattern(n, 12), *d = pattern(n, 13);
    ps_key *ka = NULL, *kb = NULL, *kd = NULL, *ke = NULL;

    PS_ASSERT_OK(ps_connector_put(c, a, n, NULL, &ka));
    ino_t ia = seg_ino(sd, ka);
    assert_true(ia != 0);
    PS_ASSERT_OK(ps_connector_evict(c, ka));
    assert_true(ino_of(spare) == ia); /* kept */
    PS_ASSERT_OK(ps_connector_put(c, b, n, NULL, &kb));
    assert_true(ino_of(spare) == 0);    /* taken ... */
    assert_true(seg_ino(sd, kb) == ia); /* ... by the new object */
    expect(c, kb, b, n, true);
    PS_ASSERT_STATUS(ps_connector_get(c, ka, &(ps_bytes){0}), PS_NOT_FOUND);

    /* a view in this process pins the segment */
    ps_bytes v = PS_BYTES_INIT;
    PS_ASSERT_OK(ps_connector_get(c, kb, &v));
    PS_ASSERT_OK(ps_connector_evict(c, kb));
    assert_true(ino_of(spare) == 0); /* unlinked, not kept */
    PS_ASSERT_OK(ps_connector_put(c, d, n, NULL, &kd));
    assert_true(seg_ino(sd, kd) != ia);
    assert_memory_equal(v.data, b, n);
    ps_bytes_free(&v);

    /* a view in another process pins it too */
    int up[2], down[2];
    assert_int_equal(pipe(up), 0);
    assert_int_equal(pipe(down), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        ps_bytes cv = PS_BYTES_INIT;
        char ch = ps_connector_get(c, kd, &cv) == PS_OK ? 'y' : 'n';
        if (write(up[1], &ch, 1) != 1 || read(down[0], &ch, 1) != 1)
            _exit(2);
        _exit(cv.len == n && memcmp(cv.data, d, n) == 0 ? 0 : 1);
    }
    char ch = 0;
    assert_int_equal(read(up[0], &ch, 1), 1);
    assert_int_equal(ch, 'y');
    ino_t id_ = seg_ino(sd, kd);
    PS_ASSERT_OK(ps_connector_evict(c, kd));
    assert_true(ino_of(spare) == 0);
    PS_ASSERT_OK(ps_connector_put(c, a, n, NULL, &ke)); /* must not overwrite the child's view */
    assert_true(seg_ino(sd, ke) != id_);
    assert_int_equal(write(down[1], "x", 1), 1);
    int ws = 0;
    assert_int_equal(waitpid(pid, &ws, 0), pid);
    assert_true(WIFEXITED(ws));
    assert_int_equal(WEXITSTATUS(ws), 0);
    close(up[0]);
    close(up[1]);
    close(down[0]);
    close(down[1]);
    expect(c, ke, a, n, true);

    /* a smaller, then a larger object reuse the spare */
    ino_t ie = seg_ino(sd, ke);
    PS_ASSERT_OK(ps_connector_evict(c, ke));
    assert_true(ino_of(spare) == ie);
    ps_key_free(ka);
    PS_ASSERT_OK(ps_connector_put(c, b, n - 4097, NULL, &ka));
    assert_true(seg_ino(sd, ka) == ie);
    expect(c, ka, b, n - 4097, true);
    PS_ASSERT_OK(ps_connector_evict(c, ka));
    void *big = pattern(3 * n, 14);
    ps_key_free(kb);
    PS_ASSERT_OK(ps_connector_put(c, big, 3 * n, NULL, &kb));
    assert_true(seg_ino(sd, kb) == ie);
    expect(c, kb, big, 3 * n, true);
    PS_ASSERT_OK(ps_connector_evict(c, kb));

    assert_true(ino_of(spare) == ie);
    size_t removed = 0;
    PS_ASSERT_OK(ps_shm_gc(g_dir, "rc", &removed));
    assert_int_equal(removed, 1);
    assert_true(ino_of(spare) == 0);

    PS_ASSERT_OK(ps_connector_close(c, PS_CLEAR_ALL));
    ps_key_free(ka);
    ps_key_free(kb);
    ps_key_free(kd);
    ps_key_free(ke);
    free(a);
    free(b);
    free(d);
    free(big);
    free(sd);
}

int main(void)
{
    g_dir = pst_shm_mkdtemp("unit");
    if (g_dir == NULL) {
        perror("mkdtemp");
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_options),
        cmocka_unit_test(test_keys),
        cmocka_unit_test(test_heap_and_segments),
        cmocka_unit_test(test_copy_on_get),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_set_overwrite),
        cmocka_unit_test(test_many),
        cmocka_unit_test(test_removed_while_open),
        cmocka_unit_test(test_gc),
        cmocka_unit_test(test_damaged_index),
        cmocka_unit_test(test_recycle),
    };
    int failed = cmocka_run_group_tests_name("shm.connector", tests, NULL, NULL);
    int left = pst_count_entries(g_dir);
    if (left != 0) {
        fprintf(stderr, "shm.connector: %d entries left in %s\n", left, g_dir);
        failed++;
    }
    pst_rmtree(g_dir);
    free(g_dir);
    return pst_exit(failed);
}
