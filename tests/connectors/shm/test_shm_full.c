/*
 * A full tmpfs: the test mounts a small tmpfs (8 MiB; needs root and
 * mount(2), skipped otherwise) and points the connector's "dir" at it.
 * Filling it must give PS_ENOSPC with a message, never SIGBUS: the connector
 * reserves every page with posix_fallocate before touching it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "shm_testutil.h"
#include "testutil.h"
#include "proxystore/connectors/shm.h"

static char *g_dir;
static bool g_mounted;

static void on_sigbus(int sig)
{
    (void)sig;
    static const char msg[] = "shm.full: SIGBUS\n";
    if (write(2, msg, sizeof msg - 1) < 0) {
    }
    _exit(99);
}

static int setup(void **state)
{
    (void)state;
    char buf[] = "/tmp/pstest-shmfull-XXXXXX";
    if (mkdtemp(buf) == NULL)
        return -1;
    g_dir = strdup(buf);
    if (mount("tmpfs", g_dir, "tmpfs", 0, "size=8m,mode=0700") != 0) {
        fprintf(stderr, "shm.full: cannot mount a tmpfs on %s (%s): skipping\n", g_dir,
                strerror(errno));
        return 0;
    }
    g_mounted = true;
    signal(SIGBUS, on_sigbus);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    if (g_mounted)
        umount2(g_dir, MNT_DETACH);
    rmdir(g_dir);
    free(g_dir);
    return 0;
}

static void need_mount(void)
{
    if (!g_mounted)
        PST_SKIP("shm.full: no tmpfs could be mounted (needs root and mount(8))");
}

/* Touch every page of a buffer (a SIGBUS would strike here). */
static unsigned long touch(const ps_bytes *b)
{
    unsigned long sum = 0;
    for (size_t i = 0; i < b->len; i += 4096)
        sum += ((const unsigned char *)b->data)[i];
    return sum;
}

static void test_segments_fill(void **state)
{
    (void)state;
    need_mount();
    ps_connector *c = NULL;
    PS_ASSERT_OK(pst_shm_open(g_dir, "full", ", \"max_objects\": 100", &c));
    enum { MAX = 64 };
    ps_key *keys[MAX] = {NULL};
    size_t n = (size_t)1 << 20;
    unsigned char *d = malloc(n);
    memset(d, 0xab, n);
    size_t ok = 0;
    ps_status st = PS_OK;
    while (ok < MAX && (st = ps_connector_put(c, d, n, NULL, &keys[ok])) == PS_OK)
        ok++;
    assert_int_equal(st, PS_ENOSPC);
    print_message("%zu objects of 1 MiB fit; then: %s\n", ok, ps_last_error());
    assert_non_null(strstr(ps_last_error(), "No space left on device"));
    assert_non_null(strstr(ps_last_error(), g_dir));
    assert_true(ok >= 4 && ok < 8);
    /* no temporary segment left: the index and the stored segments only */
    char sdir[4400];
    snprintf(sdir, sizeof sdir, "%s/proxystore-shm.full", g_dir);
    assert_int_equal(pst_count_entries(sdir), (int)ok + 1);
    /* every stored object reads back completely */
    for (size_t i = 0; i < ok; i++) {
        ps_bytes b = PS_BYTES_INIT;
        PS_ASSERT_OK(ps_connector_get(c, keys[i], &b));
        assert_int_equal(b.len, n);
        assert_int_equal(touch(&b), 0xabul * (n / 4096));
        assert_memory_equal(b.data, d, n);
        ps_bytes_free(&b);
    }
    /* small objects also fail cleanly once the heap cannot grow */
    ps_key *small = NULL;
    size_t nsmall = 0;
    for (; nsmall < 1000; nsmall++) {
        st = ps_connector_put(c, d, 60000, NULL, &small);
        if (st != PS_OK)
            break;
        ps_key_free(small);
    }
    assert_int_equal(st, PS_ENOSPC);
    print_message("%zu small objects more; then: %s\n", nsmall, ps_last_error());
    assert_true(nsmall > 0); /* the heap grows page by page when nearly full */
    /* evicting makes room again */
    PS_ASSERT_OK(ps_connector_evict(c, keys[0]));
    ps_key_free(keys[0]);
    PS_ASSERT_OK(ps_connector_put(c, d, n, NULL, &keys[0]));
    ps_key_free_array(keys, MAX);
    free(d);
    PS_ASSERT_OK(ps_connector_close(c, PS_CLEAR_ALL));
    assert_int_equal(pst_count_entries(g_dir), 0);
}

/* The spare segment an eviction keeps (recycling) gives its memory back when
 * the file system fills: it is not a capacity leak. */
static void test_spare_reclaimed(void **state)
{
    (void)state;
    need_mount();
    ps_connector *c = NULL;
    PS_ASSERT_OK(pst_shm_open(g_dir, "spare", ", \"max_objects\": 200", &c));
    size_t n = (size_t)5 << 20;
    unsigned char *d = malloc(n);
    memset(d, 0xcd, n);
    ps_key *k = NULL;
    PS_ASSERT_OK(ps_connector_put(c, d, n, NULL, &k));
    PS_ASSERT_OK(ps_connector_evict(c, k));
    ps_key_free(k);
    char spare[4400];
    snprintf(spare, sizeof spare, "%s/proxystore-shm.spare/.spare", g_dir);
    struct stat sb;
    assert_int_equal(stat(spare, &sb), 0); /* kept for the next large put */
    ps_key *keys[200] = {NULL};
    size_t nsmall = 0;
    ps_status st = PS_OK;
    while (nsmall < 200 && (st = ps_connector_put(c, d, 60000, NULL, &keys[nsmall])) == PS_OK)
        nsmall++;
    assert_int_equal(st, PS_ENOSPC);
    print_message("%zu objects of 60000 B after a 5 MiB spare; then: %s\n", nsmall,
                  ps_last_error());
    assert_true(nsmall * 60000 > n); /* the spare's pages were reused or freed */
    for (size_t i = 0; i < nsmall; i++) {
        ps_bytes b = PS_BYTES_INIT;
        PS_ASSERT_OK(ps_connector_get(c, keys[i], &b));
        assert_int_equal(b.len, 60000);
        assert_memory_equal(b.data, d, 60000);
        ps_bytes_free(&b);
    }
    ps_key_free_array(keys, 200);
    free(d);
    PS_ASSERT_OK(ps_connector_close(c, PS_CLEAR_ALL));
    assert_int_equal(pst_count_entries(g_dir), 0);
}

/* An object larger than the whole file system. */
static void test_too_large(void **state)
{
    (void)state;
    need_mount();
    ps_connector *c = NULL;
    PS_ASSERT_OK(pst_shm_open(g_dir, "huge", ", \"max_objects\": 100", &c));
    size_t n = (size_t)16 << 20;
    void *d = calloc(1, n);
    ps_key *k = NULL;
    PS_ASSERT_STATUS(ps_connector_put(c, d, n, NULL, &k), PS_ENOSPC);
    assert_null(k);
    free(d);
    PS_ASSERT_OK(ps_connector_close(c, PS_CLEAR_ALL));
    assert_int_equal(pst_count_entries(g_dir), 0);
}

/* Creating a store on a full file system fails at open. */
static void test_open_when_full(void **state)
{
    (void)state;
    need_mount();
    char filler[4400];
    snprintf(filler, sizeof filler, "%s/filler", g_dir);
    int fd = open(filler, O_CREAT | O_WRONLY, 0600);
    assert_true(fd >= 0);
    char buf[65536];
    memset(buf, 1, sizeof buf);
    while (write(fd, buf, sizeof buf) > 0) {
    }
    close(fd);
    ps_connector *c = NULL;
    PS_ASSERT_STATUS(pst_shm_open(g_dir, "nospace", "", &c), PS_ENOSPC);
    assert_null(c);
    unlink(filler);
    PS_ASSERT_OK(pst_shm_open(g_dir, "nospace", ", \"max_objects\": 100", &c));
    PS_ASSERT_OK(ps_connector_close(c, PS_CLEAR_ALL));
    /* the failed open left at most an empty store directory */
    char sdir[4400];
    snprintf(sdir, sizeof sdir, "%s/proxystore-shm.nospace", g_dir);
    rmdir(sdir);
    assert_int_equal(pst_count_entries(g_dir), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_segments_fill),
        cmocka_unit_test(test_too_large),
        cmocka_unit_test(test_open_when_full),
        cmocka_unit_test(test_spare_reclaimed),
    };
    return pst_exit(cmocka_run_group_tests_name("shm.full", tests, setup, teardown));
}
