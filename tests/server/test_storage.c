/*
 * Endpoint storages in process: upstream's storage_test.py (DictStorage and
 * SQLiteStorage) and the legacy v0.4 EndpointStorage/Blob tests for the
 * memory+spill tier, with real files in a temporary directory.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "server/storage.h"
#include "testutil.h"

static ep_buf *mkbuf(const void *data, size_t n)
{
    ep_buf *b = ep_buf_new(n);
    assert_non_null(b);
    if (n > 0)
        memcpy(b->data, data, n);
    b->len = n;
    return b;
}

static void set_str(ep_storage *s, const char *key, const char *val)
{
    PS_ASSERT_OK(ep_storage_set(s, key, mkbuf(val, strlen(val))));
}

static void assert_value(ep_storage *s, const char *key, const void *want, size_t n)
{
    ep_buf *b = NULL;
    PS_ASSERT_OK(ep_storage_get(s, key, &b));
    assert_int_equal(b->len, n);
    assert_memory_equal(b->data, want, n);
    ep_buf_unref(b);
}

/* Names of the files in `dir`, sorted, joined by spaces (malloc'd). */
static char *list_dir(const char *dir, int *count)
{
    char *names[256];
    int n = 0;
    DIR *d = opendir(dir);
    if (d == NULL) {
        *count = -1;
        return strdup("");
    }
    struct dirent *e;
    while ((e = readdir(d)) != NULL && n < 256)
        if (e->d_name[0] != '.')
            names[n++] = strdup(e->d_name);
    closedir(d);
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0 && strcmp(names[j - 1], names[j]) > 0; j--) {
            char *t = names[j];
            names[j] = names[j - 1];
            names[j - 1] = t;
        }
    size_t len = 1;
    for (int i = 0; i < n; i++)
        len += strlen(names[i]) + 1;
    char *out = calloc(1, len);
    for (int i = 0; i < n; i++) {
        strcat(out, names[i]);
        strcat(out, " ");
        free(names[i]);
    }
    *count = n;
    return out;
}

/* The operations every storage has (upstream storage_test.py). */
static void basic_ops(ep_storage *s)
{
    bool ex = true;
    ep_buf *b = (ep_buf *)0x1;
    PS_ASSERT_OK(ep_storage_evict(s, "missing"));
    PS_ASSERT_OK(ep_storage_exists(s, "missing", &ex));
    assert_false(ex);
    PS_ASSERT_STATUS(ep_storage_get(s, "missing", &b), PS_NOT_FOUND);
    assert_null(b);

    set_str(s, "key", "value");
    PS_ASSERT_OK(ep_storage_exists(s, "key", &ex));
    assert_true(ex);
    assert_value(s, "key", "value", 5);
    set_str(s, "key", "replaced"); /* overwrite */
    assert_value(s, "key", "replaced", 8);

    PS_ASSERT_OK(ep_storage_evict(s, "key"));
    PS_ASSERT_OK(ep_storage_exists(s, "key", &ex));
    assert_false(ex);
    PS_ASSERT_STATUS(ep_storage_get(s, "key", &b), PS_NOT_FOUND);

    /* Empty key, binary values, empty value. */
    unsigned char bin[256];
    for (int i = 0; i < 256; i++)
        bin[i] = (unsigned char)i;
    PS_ASSERT_OK(ep_storage_set(s, "", mkbuf(bin, sizeof bin)));
    assert_value(s, "", bin, sizeof bin);
    PS_ASSERT_OK(ep_storage_set(s, "empty", mkbuf("", 0)));
    assert_value(s, "empty", "", 0);

    /* Key length limit. */
    char longkey[EP_MAX_KEY_LEN + 2];
    memset(longkey, 'k', sizeof longkey - 1);
    longkey[sizeof longkey - 1] = '\0';
    PS_ASSERT_STATUS(ep_storage_set(s, longkey, mkbuf("x", 1)), PS_EINVAL);
    longkey[EP_MAX_KEY_LEN] = '\0';
    set_str(s, longkey, "max length");
    assert_value(s, longkey, "max length", 10);

    ep_storage_stats stats;
    ep_storage_get_stats(s, &stats);
    assert_int_equal(stats.objects, 3);
    PS_ASSERT_OK(ep_storage_clear(s));
    ep_storage_get_stats(s, &stats);
    assert_int_equal(stats.objects, 0);
    assert_int_equal(stats.memory_bytes, 0);

    /* Bad arguments. */
    PS_ASSERT_STATUS(ep_storage_get(s, NULL, &b), PS_EINVAL);
    PS_ASSERT_STATUS(ep_storage_exists(s, "k", NULL), PS_EINVAL);
    PS_ASSERT_STATUS(ep_storage_set(s, "k", NULL), PS_EINVAL);
    PS_ASSERT_STATUS(ep_storage_set(NULL, "k", mkbuf("x", 1)), PS_EINVAL);
}

static void test_memory_basic(void **state)
{
    (void)state;
    ep_storage_options o = {EP_STORAGE_MEMORY, 0, 0, NULL, NULL};
    ep_storage *s = NULL;
    PS_ASSERT_OK(ep_storage_open(&o, &s));
    assert_string_equal(ep_storage_kind_name(s), "memory");
    basic_ops(s);
    /* Acts like a dict: 10 items. */
    for (int i = 0; i < 10; i++) {
        char k[8], v[8];
        snprintf(k, sizeof k, "%d", i);
        snprintf(v, sizeof v, "v%d", i);
        set_str(s, k, v);
    }
    for (int i = 0; i < 10; i++) {
        char k[8], v[8];
        snprintf(k, sizeof k, "%d", i);
        snprintf(v, sizeof v, "v%d", i);
        assert_value(s, k, v, strlen(v));
    }
    ep_storage_stats st;
    ep_storage_get_stats(s, &st);
    assert_int_equal(st.objects, 10);
    ep_storage_close(s, true); /* cleanup without a dump dir */
    ep_storage_close(NULL, true);
}

static void test_memory_options(void **state)
{
    (void)state;
    ep_storage *s = (ep_storage *)0x1;
    ep_storage_options o = {EP_STORAGE_MEMORY, 0, 100, NULL, NULL};
    PS_ASSERT_STATUS(ep_storage_open(&o, &s), PS_EINVAL);
    assert_null(s);
    assert_string_equal(ps_last_error(),
                        "Either both of max_size and dump_dir should be specified or neither.");
    ep_storage_options o2 = {EP_STORAGE_MEMORY, 0, 0, "/tmp/x", NULL};
    PS_ASSERT_STATUS(ep_storage_open(&o2, &s), PS_EINVAL);
    ep_storage_options o3 = {EP_STORAGE_MEMORY, 0, 10, "/proc/no/such/dir", NULL};
    PS_ASSERT_STATUS(ep_storage_open(&o3, &s), PS_EIO);
    assert_non_null(strstr(ps_last_error(), "/proc/no/such/dir"));
    ep_storage_options o4 = {(ep_storage_kind)7, 0, 0, NULL, NULL};
    PS_ASSERT_STATUS(ep_storage_open(&o4, &s), PS_EINVAL);
    PS_ASSERT_STATUS(ep_storage_open(NULL, &s), PS_EINVAL);
    ep_storage_options o5 = {EP_STORAGE_SQLITE, 0, 0, NULL, NULL};
    PS_ASSERT_STATUS(ep_storage_open(&o5, &s), PS_EINVAL);
    ep_storage_options o6 = {EP_STORAGE_SQLITE, 0, 0, NULL, "/proc/no/such/dir/x.db"};
    PS_ASSERT_STATUS(ep_storage_open(&o6, &s), PS_EIO);
    assert_non_null(strstr(ps_last_error(), "/proc/no/such/dir/x.db"));
}

/* The legacy spill test: max_size 100, 20 objects of 10 bytes. */
static void test_memory_spill(void **state)
{
    (void)state;
    char *tmp = pst_mkdtemp("spill");
    char dump[4096];
    snprintf(dump, sizeof dump, "%s/dump/nested", tmp); /* created if missing */
    ep_storage_options o = {EP_STORAGE_MEMORY, 0, 100, dump, NULL};
    ep_storage *s = NULL;
    PS_ASSERT_OK(ep_storage_open(&o, &s));
    char val[20][10];
    for (int i = 0; i < 20; i++) {
        char k[8];
        snprintf(k, sizeof k, "%d", i);
        pst_fill(val[i], 10, (uint32_t)i);
        PS_ASSERT_OK(ep_storage_set(s, k, mkbuf(val[i], 10)));
    }
    int n;
    char *first = list_dir(dump, &n);
    assert_int_equal(n, 10); /* keys 0-9 spilled */
    ep_storage_stats st;
    ep_storage_get_stats(s, &st);
    assert_int_equal(st.spilled, 10);
    assert_int_equal(st.memory_bytes, 100);

    for (int i = 0; i < 10; i++) { /* reading 0-9 brings them back, spills 10-19 */
        char k[8];
        snprintf(k, sizeof k, "%d", i);
        assert_value(s, k, val[i], 10);
    }
    char *second = list_dir(dump, &n);
    assert_int_equal(n, 10);
    /* The two file sets are disjoint. */
    for (char *tok = strtok(first, " "); tok != NULL; tok = strtok(NULL, " "))
        assert_null(strstr(second, tok));
    /* Deleting keys 5-14 leaves the files of 15-19 and reloads nothing. */
    for (int i = 5; i < 15; i++) {
        char k[8];
        snprintf(k, sizeof k, "%d", i);
        PS_ASSERT_OK(ep_storage_evict(s, k));
    }
    free(list_dir(dump, &n));
    assert_int_equal(n, 5);
    ep_storage_get_stats(s, &st);
    assert_int_equal(st.objects, 10);
    assert_int_equal(st.memory_bytes, 50);
    /* Everything left round-trips. */
    for (int i = 0; i < 20; i++) {
        if (i >= 5 && i < 15)
            continue;
        char k[8];
        snprintf(k, sizeof k, "%d", i);
        assert_value(s, k, val[i], 10);
    }
    /* No file is named after a key. */
    char path[4200];
    snprintf(path, sizeof path, "%s/15", dump);
    assert_int_not_equal(access(path, F_OK), 0);

    /* A value held by a reader survives being spilled. */
    ep_buf *held = NULL;
    PS_ASSERT_OK(ep_storage_get(s, "0", &held));
    for (int i = 100; i < 112; i++) {
        char k[8];
        snprintf(k, sizeof k, "%d", i);
        set_str(s, k, "0123456789");
    }
    assert_memory_equal(held->data, val[0], 10);
    ep_buf_unref(held);

    /* Overwriting releases the old size and file. */
    ep_storage_get_stats(s, &st);
    uint64_t before = st.memory_bytes;
    set_str(s, "111", "abcdefghij");
    ep_storage_get_stats(s, &st);
    assert_int_equal(st.memory_bytes, before);

    /* Too big for memory: refused with both sizes named. */
    char big[101];
    memset(big, 'b', sizeof big);
    PS_ASSERT_STATUS(ep_storage_set(s, "big", mkbuf(big, sizeof big)), PS_ETOOBIG);
    assert_string_equal(ps_last_error(),
                        "Bytes value has size 101 B which exceeds the 100 B memory limit.");
    PS_ASSERT_STATUS(ep_storage_check_size(s, 101), PS_ETOOBIG);
    PS_ASSERT_OK(ep_storage_check_size(s, 100));

    /* clear deletes the files; cleanup removes the directory. */
    PS_ASSERT_OK(ep_storage_clear(s));
    free(list_dir(dump, &n));
    assert_int_equal(n, 0);
    set_str(s, "again", "x");
    ep_storage_close(s, true);
    struct stat sb;
    assert_int_not_equal(stat(dump, &sb), 0);
    free(first);
    free(second);
    pst_rmtree(tmp);
    free(tmp);
}

static void test_object_limit(void **state)
{
    (void)state;
    char *tmp = pst_mkdtemp("objlimit");
    char db[4096];
    snprintf(db, sizeof db, "%s/blobs.db", tmp);
    ep_storage_options opts[] = {
        {EP_STORAGE_MEMORY, 100, 0, NULL, NULL},
        {EP_STORAGE_SQLITE, 100, 0, NULL, ":memory:"},
        {EP_STORAGE_SQLITE, 100, 0, NULL, db},
    };
    char blob[1000];
    memset(blob, 'x', sizeof blob);
    for (size_t i = 0; i < 3; i++) {
        ep_storage *s = NULL;
        PS_ASSERT_OK(ep_storage_open(&opts[i], &s));
        PS_ASSERT_STATUS(ep_storage_set(s, "k", mkbuf(blob, sizeof blob)), PS_ETOOBIG);
        assert_string_equal(ps_last_error(),
                            "Bytes value has size 1 KB which exceeds the 100 B object limit.");
        PS_ASSERT_OK(ep_storage_set(s, "k", mkbuf(blob, 100))); /* equal is fine */
        ep_storage_close(s, true);
    }
    pst_rmtree(tmp);
    free(tmp);
}

static void test_sqlite(void **state)
{
    (void)state;
    ep_storage_options o = {EP_STORAGE_SQLITE, 0, 0, NULL, ":memory:"};
    ep_storage *s = NULL;
    PS_ASSERT_OK(ep_storage_open(&o, &s));
    assert_string_equal(ep_storage_kind_name(s), "sqlite");
    basic_ops(s);
    ep_storage_close(s, true);

    /* A file database persists across instances; close without use works. */
    char *tmp = pst_mkdtemp("sqlite");
    char db[4096];
    snprintf(db, sizeof db, "%s/blobs.db", tmp);
    ep_storage_options f = {EP_STORAGE_SQLITE, 0, 0, NULL, db};
    PS_ASSERT_OK(ep_storage_open(&f, &s));
    ep_storage_close(s, true);
    PS_ASSERT_OK(ep_storage_open(&f, &s));
    size_t big = 3 * 1000 * 1000 + 7;
    unsigned char *data = malloc(big);
    pst_fill(data, big, 7);
    PS_ASSERT_OK(ep_storage_set(s, "persisted", mkbuf(data, big)));
    ep_storage_close(s, true);
    PS_ASSERT_OK(ep_storage_open(&f, &s));
    bool ex = false;
    PS_ASSERT_OK(ep_storage_exists(s, "persisted", &ex));
    assert_true(ex);
    assert_value(s, "persisted", data, big);
    ep_storage_close(s, false);
    /* Upstream's schema and WAL mode, as seen by the sqlite3 tool's library. */
    assert_int_equal(pst_system("python3 -c \"import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); "
                                "assert c.execute('pragma journal_mode').fetchone()[0]=='wal'; "
                                "r=c.execute('select key,length(value) from blobs').fetchall(); "
                                "assert r==[('persisted',%zu)], r\" '%s'",
                                big, db),
                     0);
    free(data);
    pst_rmtree(tmp);
    free(tmp);
}

static void test_readable(void **state)
{
    (void)state;
    static const struct {
        uint64_t n;
        const char *s;
    } cases[] = {{0, "0 B"},
                 {999, "999 B"},
                 {1000, "1 KB"},
                 {1500, "1.5 KB"},
                 {1000001, "1 MB"},
                 {123456789, "123.457 MB"},
                 {100000000, "100 MB"},
                 {2500000000ULL, "2.5 GB"},
                 {5000000000000ULL, "5 TB"}};
    char buf[32];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ep_readable_size(cases[i].n, buf, sizeof buf);
        assert_string_equal(buf, cases[i].s);
    }
}

/* Many threads on one spilling storage: every value round-trips. */
typedef struct worker {
    ep_storage *s;
    int id;
    int failures;
} worker;

static void *work(void *arg)
{
    worker *w = arg;
    unsigned char v[300], got[300];
    for (int round = 0; round < 200; round++) {
        char k[32];
        snprintf(k, sizeof k, "t%d-%d", w->id, round % 25);
        size_t n = 1 + (size_t)((round * 37 + w->id) % 300);
        pst_fill(v, n, (uint32_t)(w->id * 1000 + round % 25));
        ep_buf *b = ep_buf_new(n);
        memcpy(b->data, v, n);
        b->len = n;
        if (ep_storage_set(w->s, k, b) != PS_OK) {
            w->failures++;
            continue;
        }
        ep_buf *r = NULL;
        if (ep_storage_get(w->s, k, &r) != PS_OK || r->len != n) {
            w->failures++;
        } else {
            memcpy(got, r->data, n);
            if (memcmp(got, v, n) != 0)
                w->failures++;
        }
        ep_buf_unref(r);
        if (round % 7 == 0)
            ep_storage_evict(w->s, k);
    }
    return NULL;
}

static void test_threads(void **state)
{
    (void)state;
    char *tmp = pst_mkdtemp("threads");
    char db[4096];
    snprintf(db, sizeof db, "%s/threads.db", tmp);
    ep_storage_options opts[] = {
        {EP_STORAGE_MEMORY, 0, 2000, tmp, NULL},
        {EP_STORAGE_SQLITE, 0, 0, NULL, ":memory:"},
        {EP_STORAGE_SQLITE, 0, 0, NULL, db}, /* with the reader connections */
    };
    for (size_t o = 0; o < 3; o++) {
        ep_storage *s = NULL;
        PS_ASSERT_OK(ep_storage_open(&opts[o], &s));
        pthread_t th[4];
        worker w[4];
        for (int i = 0; i < 4; i++) {
            w[i] = (worker){s, i, 0};
            pthread_create(&th[i], NULL, work, &w[i]);
        }
        for (int i = 0; i < 4; i++) {
            pthread_join(th[i], NULL);
            assert_int_equal(w[i].failures, 0);
        }
        ep_storage_stats st;
        ep_storage_get_stats(s, &st);
        if (o == 0) {
            assert_true(st.memory_bytes <= 2000);
            assert_true(st.spill_writes > 0);
        }
        ep_storage_close(s, false);
    }
    pst_rmtree(tmp);
    free(tmp);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_memory_basic), cmocka_unit_test(test_memory_options),
        cmocka_unit_test(test_memory_spill), cmocka_unit_test(test_object_limit),
        cmocka_unit_test(test_sqlite),       cmocka_unit_test(test_readable),
        cmocka_unit_test(test_threads),
    };
    return pst_exit(cmocka_run_group_tests_name("endpoint.storage", tests, NULL, NULL));
}
