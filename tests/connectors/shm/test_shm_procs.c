/*
 * The shm connector across processes (fork/exec):
 *  - an exec'd child maps an object the parent put (zero-copy: the bytes lie
 *    in a mapping of the object's segment) and resolves a proxy token;
 *  - a child killed with SIGKILL in the middle of a large put leaves no
 *    visible object, only a temporary segment that gc removes;
 *  - children killed while putting small objects leave only complete
 *    objects; a process that dies holding the index mutex is repaired.
 * The program re-executes itself for the child roles (argv[1] = "child-...").
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "connectors/shm/shm_internal.h"
#include "shm_testutil.h"
#include "testutil.h"
#include "proxystore/connectors/shm.h"
#include "proxystore/sys/connector.h"

static char *g_dir;
static char g_self[4096];

/* ---- child roles ------------------------------------------------------------------ */

/* Is `p` inside a mapping of a file whose path contains `needle`? */
static bool mapped_from(const void *p, const char *needle)
{
    FILE *f = fopen("/proc/self/maps", "r");
    if (f == NULL)
        return false;
    char line[8192];
    bool found = false;
    while (!found && fgets(line, sizeof line, f)) {
        unsigned long lo, hi;
        if (sscanf(line, "%lx-%lx", &lo, &hi) == 2 && (uintptr_t)p >= lo && (uintptr_t)p < hi)
            found = strstr(line, needle) != NULL;
    }
    fclose(f);
    return found;
}

static bool check_pattern(const void *data, size_t len, uint32_t seed)
{
    unsigned char *want = malloc(len ? len : 1);
    if (want == NULL)
        return false;
    pst_fill(want, len, seed);
    bool ok = memcmp(data, want, len) == 0;
    free(want);
    return ok;
}

/* child-get DIR NAME KEY SIZE SEED: exit 0 when the object is right and a
 * zero-copy view of its segment (objects above PS_SHM_SMALL_MAX). */
static int child_get(char **argv)
{
    ps_connector *c = NULL;
    ps_key *k = NULL;
    if (pst_shm_open(argv[2], argv[3], "", &c) != PS_OK || ps_key_parse(argv[4], &k) != PS_OK)
        return 10;
    size_t len = strtoull(argv[5], NULL, 10);
    uint32_t seed = (uint32_t)strtoul(argv[6], NULL, 10);
    ps_bytes b = PS_BYTES_INIT;
    ps_status st = ps_connector_get(c, k, &b);
    if (st != PS_OK) {
        fprintf(stderr, "child: get: %s\n", ps_last_error());
        return 11;
    }
    if (b.len != len || !check_pattern(b.data, len, seed))
        return 12;
    if (len > PS_SHM_SMALL_MAX) {
        char needle[256];
        snprintf(needle, sizeof needle, "proxystore-shm.%s/%s", argv[3], ps_key_field(k, 0));
        if (b.release == NULL || !mapped_from(b.data, needle))
            return 13;
    }
    ps_bytes_free(&b);
    ps_key_free(k);
    ps_connector_close(c, PS_CLEAR_KEEP);
    return 0;
}

/* child-resolve TOKEN SIZE SEED NAME: resolve a proxy token made by the
 * parent; the target must be the segment's mapping. */
static int child_resolve(char **argv)
{
    ps_proxy *p = NULL;
    if (ps_proxy_decode(argv[2], &p) != PS_OK) {
        fprintf(stderr, "child: decode: %s\n", ps_last_error());
        return 20;
    }
    const void *data = NULL;
    size_t len = 0;
    if (ps_proxy_resolve(p, &data, &len) != PS_OK) {
        fprintf(stderr, "child: resolve: %s\n", ps_last_error());
        return 21;
    }
    if (len != strtoull(argv[3], NULL, 10) ||
        !check_pattern(data, len, (uint32_t)strtoul(argv[4], NULL, 10)))
        return 22;
    char needle[256];
    snprintf(needle, sizeof needle, "proxystore-shm.%s/%s", argv[5],
             ps_key_field(ps_proxy_key(p), 0));
    if (!mapped_from(data, needle))
        return 23;
    ps_proxy_unref(p);
    return 0;
}

/* child-put-large DIR NAME SIZE FD: one large put; writes "done" to FD after. */
static int child_put_large(char **argv)
{
    ps_connector *c = NULL;
    if (pst_shm_open(argv[2], argv[3], "", &c) != PS_OK)
        return 30;
    size_t len = strtoull(argv[4], NULL, 10);
    int fd = atoi(argv[5]);
    unsigned char *d = malloc(len);
    if (d == NULL)
        return 31;
    memset(d, 0x42, len);
    ps_key *k = NULL;
    if (ps_connector_put(c, d, len, NULL, &k) != PS_OK)
        return 32;
    if (write(fd, "done", 4) != 4)
        return 33;
    pause();
    return 0;
}

/* child-put-small DIR NAME: put self-checking small objects forever. Object
 * layout: 4-byte seed, 4-byte length, then pst_fill(seed) bytes. */
static int child_put_small(char **argv)
{
    ps_connector *c = NULL;
    if (pst_shm_open(argv[2], argv[3], "", &c) != PS_OK)
        return 40;
    unsigned char buf[4096];
    for (uint32_t i = 0;; i++) {
        uint32_t seed = (uint32_t)getpid() * 7919u + i;
        uint32_t len = 8 + (seed % 4000);
        memcpy(buf, &seed, 4);
        memcpy(buf + 4, &len, 4);
        pst_fill(buf + 8, len - 8, seed);
        ps_key *k = NULL;
        ps_status st = ps_connector_put(c, buf, len, NULL, &k);
        if (st != PS_OK) {
            fprintf(stderr, "child-put-small: put %u: %s\n", (unsigned)i, ps_last_error());
            return 41;
        }
        /* Keep one object in 16 for the parent to check: an optimized build
         * puts fast enough to reach max_objects over 20 rounds otherwise. */
        if (i % 16 != 0)
            ps_connector_evict(c, k);
        ps_key_free(k);
    }
}

/* child-die-locked DIR NAME: take the index mutex, leave a carved block no
 * slot names and a half-written slot, and exit while holding the mutex. */
static int child_die_locked(char **argv)
{
    char sdir[4400];
    snprintf(sdir, sizeof sdir, "%s/proxystore-shm.%s", argv[2], argv[3]);
    ps__shm_arena a;
    if (ps__shm_arena_open_existing(sdir, "child", &a) != PS_OK)
        return 50;
    if (ps__shm_lock(&a, "child") != PS_OK)
        return 51;
    uint64_t off;
    void *data;
    if (ps__shm_heap_alloc(&a, 1000, &off, &data, "child") != PS_OK)
        return 52;
    memset(data, 0x77, 1000);
    _exit(0); /* holding the mutex */
}

/* ---- helpers ---------------------------------------------------------------------------- */

static pid_t spawn(const char *const args[], int keep_fd)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        for (int fd = 3; fd < 256; fd++)
            if (fd != keep_fd)
                close(fd);
        execv(g_self, (char *const *)args);
        _exit(127);
    }
    return pid;
}

static int wait_exit(pid_t pid)
{
    int ws = 0;
    while (waitpid(pid, &ws, 0) < 0 && errno == EINTR) {
    }
    if (WIFEXITED(ws))
        return WEXITSTATUS(ws);
    return 128 + (WIFSIGNALED(ws) ? WTERMSIG(ws) : 0);
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
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

/* ---- tests -------------------------------------------------------------------------------- */

static void test_child_maps_view(void **state)
{
    (void)state;
    ps_connector *c = NULL;
    PS_ASSERT_OK(pst_shm_open(g_dir, "procs", "", &c));
    size_t sizes[] = {100, (size_t)8 << 20};
    for (size_t i = 0; i < 2; i++) {
        void *d = malloc(sizes[i]);
        pst_fill(d, sizes[i], (uint32_t)(i + 5));
        ps_key *k = NULL;
        PS_ASSERT_OK(ps_connector_put(c, d, sizes[i], NULL, &k));
        free(d);
        char len[32], seed[32];
        snprintf(len, sizeof len, "%zu", sizes[i]);
        snprintf(seed, sizeof seed, "%zu", i + 5);
        const char *args[] = {g_self, "child-get", g_dir, "procs", ps_key_str(k), len, seed, NULL};
        assert_int_equal(wait_exit(spawn(args, -1)), 0);
        ps_key_free(k);
    }
    PS_ASSERT_OK(ps_connector_close(c, PS_CLEAR_ALL));
}

static void test_child_resolves_token(void **state)
{
    (void)state;
    ps_connector *c = NULL;
    PS_ASSERT_OK(pst_shm_open(g_dir, "tokens", "", &c));
    ps_store *store = NULL;
    PS_ASSERT_OK(ps_store_new("shm-token-store", c, NULL, &store));
    size_t n = (size_t)4 << 20;
    void *d = malloc(n);
    pst_fill(d, n, 77);
    ps_proxy *p = NULL;
    PS_ASSERT_OK(ps_store_proxy(store, d, n, NULL, &p));
    free(d);
    char *token = NULL;
    PS_ASSERT_OK(ps_proxy_encode(p, &token));
    print_message("shm token (%zu bytes): %s\n", strlen(token), token);
    char len[32];
    snprintf(len, sizeof len, "%zu", n);
    const char *args[] = {g_self, "child-resolve", token, len, "77", "tokens", NULL};
    assert_int_equal(wait_exit(spawn(args, -1)), 0);
    ps_free(token);
    ps_proxy_unref(p);
    PS_ASSERT_OK(ps_store_close(store, PS_CLEAR_ALL));
}

/* SIGKILL in the middle of a 1 GiB put (found writing: its temporary segment
 * exists). Retried when the put finished before the kill. */
static void test_kill_during_large_put(void **state)
{
    (void)state;
    char sdir[4400];
    snprintf(sdir, sizeof sdir, "%s/proxystore-shm.killbig", g_dir);
    bool caught = false;
    for (int attempt = 0; attempt < 5 && !caught; attempt++) {
        ps_connector *c = NULL;
        PS_ASSERT_OK(pst_shm_open(g_dir, "killbig", "", &c));
        int fds[2];
        assert_int_equal(pipe(fds), 0);
        char fdtext[16];
        snprintf(fdtext, sizeof fdtext, "%d", fds[1]);
        const char *args[] = {g_self, "child-put-large", g_dir, "killbig", "1073741824", fdtext,
                              NULL};
        pid_t pid = spawn(args, fds[1]);
        close(fds[1]);
        /* wait until the temporary segment has grown to a few MiB */
        bool writing = false;
        for (int i = 0; i < 20000 && !writing; i++) {
            json_t *j = list("killbig");
            json_t *t = json_array_get(json_object_get(j, "temp_files"), 0);
            if (t) {
                char p[4600];
                snprintf(p, sizeof p, "%s/%s", sdir, json_string_value(json_object_get(t, "file")));
                struct stat sb;
                writing = stat(p, &sb) == 0 && sb.st_blocks * 512 > (8 << 20);
            }
            json_decref(j);
            if (!writing)
                sleep_ms(1);
        }
        kill(pid, SIGKILL);
        assert_int_equal(wait_exit(pid), 128 + SIGKILL);
        char buf[8];
        int fl = fcntl(fds[0], F_GETFL);
        fcntl(fds[0], F_SETFL, fl | O_NONBLOCK);
        bool done = read(fds[0], buf, sizeof buf) == 4;
        close(fds[0]);
        json_t *j = list("killbig");
        if (!done && writing) {
            caught = true;
            /* nothing visible; one stale temporary segment of a dead writer */
            assert_int_equal(json_array_size(json_object_get(j, "objects")), 0);
            json_t *temps = json_object_get(j, "temp_files");
            assert_int_equal(json_array_size(temps), 1);
            assert_false(json_is_true(json_object_get(json_array_get(temps, 0), "alive")));
            size_t removed = 0;
            PS_ASSERT_OK(ps_shm_gc(g_dir, "killbig", &removed));
            assert_int_equal(removed, 1);
            assert_int_equal(pst_count_entries(sdir), 1); /* the index only */
            /* the store still works */
            ps_key *k = NULL;
            PS_ASSERT_OK(ps_connector_put(c, "after", 5, NULL, &k));
            ps_key_free(k);
        }
        json_decref(j);
        PS_ASSERT_OK(ps_connector_close(c, PS_CLEAR_ALL));
    }
    assert_true(caught);
}

/* Children putting small objects are killed at random moments; every object
 * left visible must be complete, and the store must stay usable. */
static void test_kill_during_small_puts(void **state)
{
    (void)state;
    ps_connector *c = NULL;
    PS_ASSERT_OK(pst_shm_open(g_dir, "killsmall", "", &c));
    for (int round = 0; round < 20; round++) {
        const char *args[] = {g_self, "child-put-small", g_dir, "killsmall", NULL};
        pid_t pid = spawn(args, -1);
        sleep_ms(20 + round * 3);
        kill(pid, SIGKILL);
        assert_int_equal(wait_exit(pid), 128 + SIGKILL);
        /* our own put (takes the mutex; repairs if the child died holding it) */
        ps_key *k = NULL;
        PS_ASSERT_OK(ps_connector_put(c, "parent", 6, NULL, &k));
        ps_connector_evict(c, k);
        ps_key_free(k);
    }
    json_t *j = list("killsmall");
    json_t *objs = json_object_get(j, "objects");
    size_t i;
    json_t *v;
    size_t n = 0;
    json_array_foreach(objs, i, v)
    {
        char text[200];
        snprintf(text, sizeof text, "shm:%s/killsmall",
                 json_string_value(json_object_get(v, "id")));
        ps_key *k = NULL;
        PS_ASSERT_OK(ps_key_parse(text, &k));
        ps_bytes b = PS_BYTES_INIT;
        PS_ASSERT_OK(ps_connector_get(c, k, &b));
        uint32_t seed, len;
        assert_true(b.len >= 8);
        memcpy(&seed, b.data, 4);
        memcpy(&len, (char *)b.data + 4, 4);
        assert_int_equal(len, b.len);
        assert_true(check_pattern((char *)b.data + 8, len - 8, seed));
        ps_bytes_free(&b);
        ps_key_free(k);
        n++;
    }
    assert_true(n > 0);
    json_decref(j);
    /* the counters agree with the index */
    char sdir[4400];
    snprintf(sdir, sizeof sdir, "%s/proxystore-shm.killsmall", g_dir);
    ps__shm_arena a;
    PS_ASSERT_OK(ps__shm_arena_open_existing(sdir, "test", &a));
    PS_ASSERT_OK(ps__shm_lock(&a, "test"));
    assert_int_equal(a.h->n_objects, n);
    print_message("%zu complete objects after 20 kills; %llu repairs after a dead owner\n", n,
                  (unsigned long long)a.h->repairs);
    ps__shm_unlock(&a);
    ps__shm_arena_detach(&a);
    PS_ASSERT_OK(ps_connector_close(c, PS_CLEAR_ALL));
}

/* A process that dies holding the mutex (deterministically): the next locker
 * repairs, objects survive, the orphaned heap block is reused. */
static void test_owner_dead_repair(void **state)
{
    (void)state;
    ps_connector *c = NULL;
    PS_ASSERT_OK(pst_shm_open(g_dir, "ownerdead", "", &c));
    ps_key *k1 = NULL, *k2 = NULL;
    PS_ASSERT_OK(ps_connector_put(c, "first", 5, NULL, &k1));
    const char *args[] = {g_self, "child-die-locked", g_dir, "ownerdead", NULL};
    assert_int_equal(wait_exit(spawn(args, -1)), 0);
    /* the mutex's owner is dead: this get repairs */
    ps_bytes b = PS_BYTES_INIT;
    PS_ASSERT_OK(ps_connector_get(c, k1, &b));
    assert_int_equal(b.len, 5);
    assert_memory_equal(b.data, "first", 5);
    ps_bytes_free(&b);
    char sdir[4400];
    snprintf(sdir, sizeof sdir, "%s/proxystore-shm.ownerdead", g_dir);
    ps__shm_arena a;
    PS_ASSERT_OK(ps__shm_arena_open_existing(sdir, "test", &a));
    PS_ASSERT_OK(ps__shm_lock(&a, "test"));
    assert_int_equal(a.h->repairs, 1);
    assert_int_equal(a.h->n_objects, 1);
    uint64_t bump = a.h->heap_bump;
    ps__shm_unlock(&a);
    /* a 1000-byte object reuses the block the dead process carved */
    char d[1000];
    memset(d, 1, sizeof d);
    PS_ASSERT_OK(ps_connector_put(c, d, sizeof d, NULL, &k2));
    PS_ASSERT_OK(ps__shm_lock(&a, "test"));
    assert_int_equal(a.h->heap_bump, bump);
    assert_int_equal(a.h->n_objects, 2);
    ps__shm_unlock(&a);
    ps__shm_arena_detach(&a);
    ps_key_free(k1);
    ps_key_free(k2);
    PS_ASSERT_OK(ps_connector_close(c, PS_CLEAR_ALL));
}

int main(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "child-get") == 0 && argc == 7)
        return child_get(argv);
    if (argc >= 2 && strcmp(argv[1], "child-resolve") == 0 && argc == 6)
        return child_resolve(argv);
    if (argc >= 2 && strcmp(argv[1], "child-put-large") == 0 && argc == 6)
        return child_put_large(argv);
    if (argc >= 2 && strcmp(argv[1], "child-put-small") == 0 && argc == 4)
        return child_put_small(argv);
    if (argc >= 2 && strcmp(argv[1], "child-die-locked") == 0 && argc == 4)
        return child_die_locked(argv);
    ssize_t n = readlink("/proc/self/exe", g_self, sizeof g_self - 1);
    if (n <= 0)
        return 1;
    g_self[n] = '\0';
    g_dir = pst_shm_mkdtemp("procs");
    if (g_dir == NULL)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_child_maps_view),       cmocka_unit_test(test_child_resolves_token),
        cmocka_unit_test(test_kill_during_large_put), cmocka_unit_test(test_kill_during_small_puts),
        cmocka_unit_test(test_owner_dead_repair),
    };
    int failed = cmocka_run_group_tests_name("shm.procs", tests, NULL, NULL);
    int left = pst_count_entries(g_dir);
    if (left != 0) {
        fprintf(stderr, "shm.procs: %d entries left in %s\n", left, g_dir);
        failed++;
    }
    pst_rmtree(g_dir);
    free(g_dir);
    return pst_exit(failed);
}
