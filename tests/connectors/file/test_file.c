/*
 * The file connector beyond the conformance suite: the exact on-disk layout,
 * objects written by upstream Python ProxyStore, keys that try to leave the
 * directory, relative directories and chdir, upstream's clear semantics,
 * I/O errors (file-size limit, a full tmpfs) leaving no partial object, and a
 * reader process that must never see a partially written object.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"
#include "proxystore/connectors/file.h"
#include "proxystore/connectors/local.h"

static char *tmp_root; /* one temporary directory per run */
static unsigned dir_counter;

/* A fresh path below tmp_root (not created). */
static char *fresh_path(const char *tag)
{
    char buf[4096];
    snprintf(buf, sizeof buf, "%s/%s-%u", tmp_root, tag, ++dir_counter);
    char *p = strdup(buf);
    assert_non_null(p);
    return p;
}

static bool path_exists(const char *path)
{
    struct stat sb;
    return lstat(path, &sb) == 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The names in `dir` (without . and ..), sorted, joined by ',' into out. */
static void list_dir(const char *dir, char *out, size_t size)
{
    char *names[64];
    size_t n = 0;
    DIR *d = opendir(dir);
    assert_non_null(d);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        assert_true(n < 64);
        names[n++] = strdup(e->d_name);
    }
    closedir(d);
    qsort(names, n, sizeof names[0], cmp_str);
    out[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        if (i)
            strncat(out, ",", size - strlen(out) - 1);
        strncat(out, names[i], size - strlen(out) - 1);
        free(names[i]);
    }
}

static void write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    if (len)
        assert_int_equal(fwrite(data, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

static off_t file_size(const char *path)
{
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    return sb.st_size;
}

/* ---- layout ------------------------------------------------------------------------ */

static void test_layout(void **state)
{
    (void)state;
    char *dir = fresh_path("layout");
    ps_connector *c = NULL;
    PS_ASSERT_OK(ps_file_connector_open(
        &(ps_file_options){.version = PS_FILE_OPTIONS_VERSION, .store_dir = dir, .clear = true},
        &c));
    assert_true(path_exists(dir));
    ps_key *k = NULL;
    PS_ASSERT_OK(ps_connector_put(c, "hello\0world", 11, NULL, &k));
    const char *uuid = ps_key_field(k, 0);
    assert_true(ps_uuid_is_canonical(uuid));
    char want[256], got[4096];
    snprintf(want, sizeof want, "%s,%s.ready", uuid, uuid);
    list_dir(dir, got, sizeof got);
    assert_string_equal(got, want);
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", dir, uuid);
    assert_int_equal(file_size(path), 11);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    char buf[16];
    assert_int_equal(fread(buf, 1, sizeof buf, f), 11);
    fclose(f);
    assert_memory_equal(buf, "hello\0world", 11);
    snprintf(path, sizeof path, "%s/%s.ready", dir, uuid);
    assert_int_equal(file_size(path), 0);
    /* set overwrites in place: still exactly the two files */
    PS_ASSERT_OK(ps_connector_set(c, k, "x", 1));
    list_dir(dir, got, sizeof got);
    assert_string_equal(got, want);
    /* new_key writes nothing */
    ps_key *k2 = NULL;
    PS_ASSERT_OK(ps_connector_new_key(c, &k2));
    list_dir(dir, got, sizeof got);
    assert_string_equal(got, want);
    /* evict removes both files */
    PS_ASSERT_OK(ps_connector_evict(c, k));
    list_dir(dir, got, sizeof got);
    assert_string_equal(got, "");
    /* the key text: file:<uuid>/<8 hex digits> */
    assert_int_equal(ps_key_nfields(k), 2);
    assert_int_equal(strlen(ps_key_field(k, 1)), 8);
    assert_int_equal(strspn(ps_key_field(k, 1), "0123456789abcdef"), 8);
    ps_key_free(k2);
    ps_key_free(k);
    PS_ASSERT_OK(ps_connector_close(c, PS_CLEAR_DEFAULT));
    assert_false(path_exists(dir));
    free(dir);
}

/* Files made the way upstream's FileConnector makes them are readable. */
static void test_upstream_files(void **state)
{
    (void)state;
    char *dir = fresh_path("upstream");
    assert_int_equal(mkdir(dir, 0755), 0);
    const char *uuid = "3f1c7a52-8e0b-4d6e-9a41-2b5c8d7e9f10";
    char path[4200], marker[4300];
    snprintf(path, sizeof path, "%s/%s", dir, uuid);
    snprintf(marker, sizeof marker, "%s.ready", path);
    /* upstream's codec output for b"data": "BS\n" + bytes */
    write_file(path, "BS\ndata", 7);

    ps_connector *c = NULL;
    PS_ASSERT_OK(ps_file_connector_open(
        &(ps_file_options){.version = PS_FILE_OPTIONS_VERSION, .store_dir = dir, .clear = false},
        &c));
    ps_key *k = NULL;
    PS_ASSERT_OK(ps_file_key_from_uuid(c, uuid, &k));
    assert_string_equal(ps_key_field(k, 0), uuid);
    /* the data file alone (no marker yet) is not an object */
    bool ex = true;
    PS_ASSERT_OK(ps_connector_exists(c, k, &ex));
    assert_false(ex);
    ps_bytes b = PS_BYTES_INIT;
    PS_ASSERT_STATUS(ps_connector_get(c, k, &b), PS_NOT_FOUND);
    write_file(marker, "", 0);
    PS_ASSERT_OK(ps_connector_exists(c, k, &ex));
    assert_true(ex);
    PS_ASSERT_OK(ps_connector_get(c, k, &b));
    assert_int_equal(b.len, 7);
    assert_memory_equal(b.data, "BS\ndata", 7);
    ps_bytes_free(&b);
    /* the same key from the directory path, spelled differently */
    char spelled[4300];
    snprintf(spelled, sizeof spelled, "%s/./../%s//", dir, strrchr(dir, '/') + 1);
    ps_key *k2 = NULL;
    PS_ASSERT_OK(ps_file_key_for_dir(spelled, uuid, &k2));
    assert_true(ps_key_equal(k, k2));
    ps_key_free(k2);
    /* a marker without its data file (evicted in between) is not found, not an error */
    PS_ASSERT_OK(ps_connector_evict(c, k));
    assert_false(path_exists(path));
    assert_false(path_exists(marker));
    write_file(marker, "", 0);
    PS_ASSERT_STATUS(ps_connector_get(c, k, &b), PS_NOT_FOUND);
    PS_ASSERT_OK(ps_connector_evict(c, k));
    assert_false(path_exists(marker));
    /* bad uuids and connectors */
    PS_ASSERT_STATUS(ps_file_key_from_uuid(c, "../../etc/passwd", &k2), PS_EINVAL);
    assert_null(k2);
    PS_ASSERT_STATUS(ps_file_key_from_uuid(c, NULL, &k2), PS_EINVAL);
    PS_ASSERT_STATUS(ps_file_key_from_uuid(NULL, uuid, &k2), PS_EINVAL);
    PS_ASSERT_STATUS(ps_file_key_from_uuid(c, uuid, NULL), PS_EINVAL);
    PS_ASSERT_STATUS(ps_file_key_for_dir(dir, "3F1C7A52-8E0B-4D6E-9A41-2B5C8D7E9F10", &k2),
                     PS_EINVAL);
    PS_ASSERT_STATUS(ps_file_key_for_dir(NULL, uuid, &k2), PS_EINVAL);
    ps_connector *l = NULL;
    PS_ASSERT_OK(ps_local_connector_open(NULL, &l));
    PS_ASSERT_STATUS(ps_file_key_from_uuid(l, uuid, &k2), PS_EINVAL);
    PS_ASSERT_OK(ps_connector_close(l, PS_CLEAR_ALL));
    ps_key_free(k);
    /* clear=false: the directory stays on close */
    PS_ASSERT_OK(ps_connector_close(c, PS_CLEAR_DEFAULT));
    assert_true(path_exists(dir));
    pst_rmtree(dir);
    free(dir);
}

/* Keys never name a path outside the directory. */
static void test_traversal(void **state)
{
    (void)state;
    char *dir = fresh_path("traversal");
    ps_connector *c = NULL;
    PS_ASSERT_OK(ps_file_connector_open(
        &(ps_file_options){.version = PS_FILE_OPTIONS_VERSION, .store_dir = dir, .clear = true},
        &c));
    ps_key *good = NULL;
    PS_ASSERT_OK(ps_connector_put(c, "x", 1, NULL, &good));
    const char *tag = ps_key_field(good, 1);
    /* a victim file next to the directory */
    char victim[4200];
    snprintf(victim, sizeof victim, "%s/victim", tmp_root);
    write_file(victim, "keep", 4);
    char victim_marker[4300];
    snprintf(victim_marker, sizeof victim_marker, "%s.ready", victim);
    write_file(victim_marker, "", 0);
    char rel[4300];
    snprintf(rel, sizeof rel, "../victim");
    const char *ids[] = {"../../etc/passwd",
                         "a/b",
                         ".",
                         "..",
                         "",
                         rel,
                         "/etc/passwd",
                         "victim",
                         "3f1c7a52-8e0b-4d6e-9a41-2b5c8d7e9f10/../../victim"};
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
        const char *fields[2] = {ids[i], tag};
        ps_key *bad = NULL;
        PS_ASSERT_OK(ps_key_new("file", 2, fields, &bad));
        ps_bytes b = PS_BYTES_INIT;
        bool ex = true;
        PS_ASSERT_STATUS(ps_connector_get(c, bad, &b), PS_EINVAL);
        PS_ASSERT_STATUS(ps_connector_exists(c, bad, &ex), PS_EINVAL);
        PS_ASSERT_STATUS(ps_connector_evict(c, bad), PS_EINVAL);
        PS_ASSERT_STATUS(ps_connector_set(c, bad, "pwned", 5), PS_EINVAL);
        assert_non_null(strstr(ps_last_error(), "UUID"));
        ps_key_free(bad);
    }
    /* the same through key text */
    char text[512];
    snprintf(text, sizeof text, "file:..%%2Fvictim/%s", tag);
    ps_key *parsed = NULL;
    PS_ASSERT_OK(ps_key_parse(text, &parsed));
    PS_ASSERT_STATUS(ps_connector_evict(c, parsed), PS_EINVAL);
    ps_key_free(parsed);
    /* the victim is untouched */
    assert_int_equal(file_size(victim), 4);
    assert_true(path_exists(victim_marker));
    unlink(victim);
    unlink(victim_marker);
    ps_key_free(good);
    PS_ASSERT_OK(ps_connector_close(c, PS_CLEAR_ALL));
    free(dir);
}

/* A relative store_dir is made absolute at open: chdir later does not matter. */
static void test_relative_dir_chdir(void **state)
{
    (void)state;
    char cwd[PATH_MAX];
    assert_non_null(getcwd(cwd, sizeof cwd));
    char *base = fresh_path("rel");
    assert_int_equal(mkdir(base, 0755), 0);
    char *elsewhere = fresh_path("elsewhere");
    assert_int_equal(mkdir(elsewhere, 0755), 0);
    assert_int_equal(chdir(base), 0);
    ps_connector *c = NULL;
    PS_ASSERT_OK(ps_connector_open("file", "{\"store_dir\": \"./sub/../store\"}", &c));
    ps_key *k = NULL;
    PS_ASSERT_OK(ps_connector_put(c, "before", 6, NULL, &k));
    assert_int_equal(chdir(elsewhere), 0);
    ps_key *k2 = NULL;
    PS_ASSERT_OK(ps_connector_put(c, "after", 5, NULL, &k2));
    ps_bytes b = PS_BYTES_INIT;
    PS_ASSERT_OK(ps_connector_get(c, k, &b));
    assert_memory_equal(b.data, "before", 6);
    ps_bytes_free(&b);
    /* the objects are in base/store, nothing was written under elsewhere */
    char path[4300], got[4096];
    snprintf(path, sizeof path, "%s/store/%s.ready", base, ps_key_field(k2, 0));
    assert_true(path_exists(path));
    list_dir(elsewhere, got, sizeof got);
    assert_string_equal(got, "");
    /* the config names the absolute, normalized directory */
    char *cfg = NULL;
    PS_ASSERT_OK(ps_connector_config(c, &cfg));
    char want[4400];
    snprintf(want, sizeof want, "\"store_dir\":\"%s/store\"", base);
    assert_non_null(strstr(cfg, want));
    ps_free(cfg);
    ps_key_free(k);
    ps_key_free(k2);
    PS_ASSERT_OK(ps_connector_close(c, PS_CLEAR_DEFAULT));
    snprintf(path, sizeof path, "%s/store", base);
    assert_false(path_exists(path));
    assert_int_equal(chdir(cwd), 0);
    free(base);
    free(elsewhere);
}

/* Upstream's file_test.py clear semantics. */
static void test_clear_semantics(void **state)
{
    (void)state;
    /* close() with the default clear=true removes the directory */
    char *dir = fresh_path("clear");
    ps_connector *c = NULL;
    PS_ASSERT_STATUS(ps_connector_open("FileConnector", NULL, &c), PS_EINVAL);
    char opts[4300];
    snprintf(opts, sizeof opts, "{\"store_dir\": \"%s\"}", dir);
    PS_ASSERT_OK(ps_connector_open("proxystore.connectors.file.FileConnector", opts, &c));
    ps_key *k = NULL;
    PS_ASSERT_OK(ps_connector_put(c, "x", 1, NULL, &k));
    ps_key_free(k);
    PS_ASSERT_OK(ps_connector_close(c, PS_CLEAR_DEFAULT));
    assert_false(path_exists(dir));

    /* close(clear=False) overrides the constructor's clear=True */
    PS_ASSERT_OK(ps_connector_open("file", opts, &c));
    PS_ASSERT_OK(ps_connector_put(c, "x", 1, NULL, &k));
    PS_ASSERT_OK(ps_connector_close(c, PS_CLEAR_KEEP));
    assert_true(path_exists(dir));
    /* ... and the object is still there for the next connector */
    PS_ASSERT_OK(ps_connector_open("file", opts, &c));
    bool ex = false;
    PS_ASSERT_OK(ps_connector_exists(c, k, &ex));
    assert_true(ex);
    ps_key_free(k);

    /* two connectors on one dir can both close(clear=True) */
    ps_connector *c2 = NULL;
    PS_ASSERT_OK(ps_file_connector_open(
        &(ps_file_options){.version = PS_FILE_OPTIONS_VERSION, .store_dir = dir, .clear = true},
        &c2));
    PS_ASSERT_OK(ps_connector_close(c, PS_CLEAR_ALL));
    assert_false(path_exists(dir));
    PS_ASSERT_OK(ps_connector_close(c2, PS_CLEAR_ALL));
    assert_false(path_exists(dir));

    /* clear=false keeps by default, close(PS_CLEAR_ALL) still clears; nested dirs go too */
    PS_ASSERT_OK(ps_file_connector_open(
        &(ps_file_options){.version = PS_FILE_OPTIONS_VERSION, .store_dir = dir, .clear = false},
        &c));
    char sub[4400];
    snprintf(sub, sizeof sub, "%s/nested/deeper", dir);
    assert_int_equal(pst_system("mkdir -p '%s' && touch '%s/f'", sub, sub), 0);
    PS_ASSERT_OK(ps_connector_close(c, PS_CLEAR_ALL));
    assert_false(path_exists(dir));
    free(dir);
}

static void test_options(void **state)
{
    (void)state;
    char *dir = fresh_path("options");
    char opts[4400];
    ps_connector *c = NULL;
    /* store_dir is required and must be a string */
    PS_ASSERT_STATUS(ps_connector_open("file", "{}", &c), PS_EINVAL);
    assert_non_null(strstr(ps_last_error(), "store_dir"));
    PS_ASSERT_STATUS(ps_connector_open("file", "{\"store_dir\": 3}", &c), PS_EINVAL);
    PS_ASSERT_STATUS(ps_connector_open("file", "{\"store_dir\": \"\"}", &c), PS_EINVAL);
    snprintf(opts, sizeof opts, "{\"store_dir\": \"%s\", \"clear\": \"yes\"}", dir);
    PS_ASSERT_STATUS(ps_connector_open("file", opts, &c), PS_EINVAL);
    snprintf(opts, sizeof opts, "{\"store_dir\": \"%s\", \"buffering\": -2}", dir);
    PS_ASSERT_STATUS(ps_connector_open("file", opts, &c), PS_EINVAL);
    snprintf(opts, sizeof opts, "{\"store_dir\": \"%s\", \"colour\": 1}", dir);
    PS_ASSERT_STATUS(ps_connector_open("file", opts, &c), PS_EINVAL);
    assert_non_null(strstr(ps_last_error(), "colour"));
    assert_null(c);
    PS_ASSERT_STATUS(ps_file_connector_open(&(ps_file_options){.version = PS_FILE_OPTIONS_VERSION,
                                                               .store_dir = NULL,
                                                               .clear = true},
                                            &c),
                     PS_EINVAL);
    PS_ASSERT_STATUS(
        ps_file_connector_open(
            &(ps_file_options){.version = PS_FILE_OPTIONS_VERSION, .store_dir = "", .clear = true},
            &c),
        PS_EINVAL);
    PS_ASSERT_STATUS(
        ps_file_connector_open(
            &(ps_file_options){.version = PS_FILE_OPTIONS_VERSION, .store_dir = dir, .clear = true},
            NULL),
        PS_EINVAL);
    PS_ASSERT_STATUS(ps_file_connector_open(NULL, &c), PS_EINVAL);
    ps_file_options fo;
    ps_file_options_init(&fo);
    assert_true(fo.clear); /* upstream's default */
    assert_false(fo.fsync);
    fo.store_dir = dir;
    fo.version = 7;
    PS_ASSERT_STATUS(ps_file_connector_open(&fo, &c), PS_EINVAL);
    assert_non_null(strstr(ps_last_error(), "unknown options version 7"));
    fo.version = PS_FILE_OPTIONS_VERSION;
    fo.store_dir = "bad\xff";
    PS_ASSERT_STATUS(ps_file_connector_open(&fo, &c), PS_EINVAL);
    assert_non_null(strstr(ps_last_error(), "ps_file_connector_open"));
    assert_null(c);
    assert_false(path_exists(dir));
    /* the typed open's fsync reaches the configuration */
    fo.store_dir = dir;
    fo.fsync = true;
    PS_ASSERT_OK(ps_file_connector_open(&fo, &c));
    char *fcfg = NULL;
    PS_ASSERT_OK(ps_connector_config(c, &fcfg));
    assert_non_null(strstr(fcfg, "\"fsync\":true"));
    ps_free(fcfg);
    PS_ASSERT_OK(ps_connector_close(c, PS_CLEAR_ALL));
    assert_false(path_exists(dir));
    /* buffering and fsync round-trip through config */
    snprintf(opts, sizeof opts,
             "{\"store_dir\": \"%s\", \"clear\": false, \"buffering\": 4096, \"fsync\": true}",
             dir);
    PS_ASSERT_OK(ps_connector_open("file", opts, &c));
    char *cfg = NULL;
    PS_ASSERT_OK(ps_connector_config(c, &cfg));
    char want[4600];
    snprintf(want, sizeof want,
             "{\"kind\":\"file\",\"options\":{\"buffering\":4096,\"clear\":false,\"fsync\":true,"
             "\"store_dir\":\"%s\"}}",
             dir);
    assert_string_equal(cfg, want);
    ps_free(cfg);
    ps_key *k = NULL;
    PS_ASSERT_OK(ps_connector_put(c, "synced", 6, NULL, &k));
    ps_bytes b = PS_BYTES_INIT;
    PS_ASSERT_OK(ps_connector_get(c, k, &b));
    assert_memory_equal(b.data, "synced", 6);
    ps_bytes_free(&b);
    ps_key_free(k);
    PS_ASSERT_OK(ps_connector_close(c, PS_CLEAR_DEFAULT));
    assert_true(path_exists(dir));
    /* defaults: upstream's three fields, fsync omitted */
    PS_ASSERT_OK(ps_file_connector_open(
        &(ps_file_options){.version = PS_FILE_OPTIONS_VERSION, .store_dir = dir, .clear = true},
        &c));
    PS_ASSERT_OK(ps_connector_config(c, &cfg));
    snprintf(
        want, sizeof want,
        "{\"kind\":\"file\",\"options\":{\"buffering\":-1,\"clear\":true,\"store_dir\":\"%s\"}}",
        dir);
    assert_string_equal(cfg, want);
    ps_free(cfg);
    assert_true(ps_connector_is_threadsafe(c));
    assert_true(ps_connector_is_deferrable(c));
    PS_ASSERT_OK(ps_connector_close(c, PS_CLEAR_DEFAULT));
    assert_false(path_exists(dir));
    free(dir);
}

/* ---- I/O errors ----------------------------------------------------------------------- */

static void test_eio_messages(void **state)
{
    (void)state;
    /* a store_dir below a regular file cannot be created */
    char *blocker = fresh_path("blocker");
    write_file(blocker, "x", 1);
    char dir[4300];
    snprintf(dir, sizeof dir, "%s/store", blocker);
    ps_connector *c = NULL;
    PS_ASSERT_STATUS(
        ps_file_connector_open(
            &(ps_file_options){.version = PS_FILE_OPTIONS_VERSION, .store_dir = dir, .clear = true},
            &c),
        PS_EIO);
    assert_null(c);
    assert_non_null(strstr(ps_last_error(), blocker));
    assert_non_null(strstr(ps_last_error(), strerror(ENOTDIR)));
    /* a store_dir that is a regular file */
    PS_ASSERT_STATUS(ps_file_connector_open(&(ps_file_options){.version = PS_FILE_OPTIONS_VERSION,
                                                               .store_dir = blocker,
                                                               .clear = true},
                                            &c),
                     PS_EIO);
    assert_non_null(strstr(ps_last_error(), blocker));
    unlink(blocker);
    free(blocker);

    /* the directory removed behind the connector's back */
    char *gone = fresh_path("gone");
    PS_ASSERT_OK(ps_file_connector_open(
        &(ps_file_options){.version = PS_FILE_OPTIONS_VERSION, .store_dir = gone, .clear = true},
        &c));
    ps_key *k = NULL;
    PS_ASSERT_OK(ps_connector_put(c, "x", 1, NULL, &k));
    pst_rmtree(gone);
    ps_key *k2 = NULL;
    PS_ASSERT_STATUS(ps_connector_put(c, "y", 1, NULL, &k2), PS_EIO);
    assert_null(k2);
    assert_non_null(strstr(ps_last_error(), gone));
    assert_non_null(strstr(ps_last_error(), strerror(ENOENT)));
    /* reads of a vanished directory are "not found", not errors */
    ps_bytes b = PS_BYTES_INIT;
    PS_ASSERT_STATUS(ps_connector_get(c, k, &b), PS_NOT_FOUND);
    PS_ASSERT_OK(ps_connector_evict(c, k));
    ps_key_free(k);
    PS_ASSERT_OK(ps_connector_close(c, PS_CLEAR_ALL));
    free(gone);
}

/*
 * In a child process: put `len` bytes into `dir` and report the status and
 * message through a pipe. `setup` runs first in the child (limits, mounts);
 * it returns 0, or 77 to skip.
 */
typedef struct child_result {
    int status; /* ps_status, or -1 when the child could not run */
    int skipped;
    char msg[1024];
    char listing[1024];
} child_result;

static void run_put_in_child(const char *dir, size_t len, int (*setup)(const char *dir),
                             child_result *res)
{
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        child_result r;
        memset(&r, 0, sizeof r);
        r.status = -1;
        int s = setup(dir);
        if (s == 77) {
            r.skipped = 1;
        } else if (s == 0) {
            ps_connector *c = NULL;
            ps_status st = ps_file_connector_open(
                &(ps_file_options){
                    .version = PS_FILE_OPTIONS_VERSION, .store_dir = dir, .clear = false},
                &c);
            if (st == PS_OK) {
                void *buf = calloc(1, len);
                ps_key *k = NULL;
                st = buf ? ps_connector_put(c, buf, len, NULL, &k) : PS_ENOMEM;
                snprintf(r.msg, sizeof r.msg, "%s", ps_last_error());
                free(buf);
                ps_key_free(k);
                ps_connector_close(c, PS_CLEAR_KEEP);
            } else {
                snprintf(r.msg, sizeof r.msg, "open: %s", ps_last_error());
            }
            r.status = (int)st;
            list_dir(dir, r.listing, sizeof r.listing);
        }
        ssize_t w = write(fds[1], &r, sizeof r);
        _exit(w == (ssize_t)sizeof r ? 0 : 1);
    }
    close(fds[1]);
    memset(res, 0, sizeof *res);
    ssize_t got = read(fds[0], res, sizeof *res);
    close(fds[0]);
    int wst = 0;
    assert_int_equal(waitpid(pid, &wst, 0), pid);
    assert_int_equal(got, (ssize_t)sizeof *res);
    assert_true(WIFEXITED(wst) && WEXITSTATUS(wst) == 0);
}

static int setup_fsize_limit(const char *dir)
{
    (void)dir;
    signal(SIGXFSZ, SIG_IGN);
    struct rlimit rl;
    if (getrlimit(RLIMIT_FSIZE, &rl) != 0)
        return 1;
    rl.rlim_cur = 1 << 20;
    return setrlimit(RLIMIT_FSIZE, &rl) == 0 ? 0 : 1;
}

/* A file-size limit (EFBIG) in the middle of a write: PS_EIO, nothing left behind. */
static void test_write_failure_fsize(void **state)
{
    (void)state;
    char *dir = fresh_path("fsize");
    child_result r;
    run_put_in_child(dir, 4 << 20, setup_fsize_limit, &r);
    assert_int_equal(r.status, PS_EIO);
    assert_non_null(strstr(r.msg, dir));
    assert_non_null(strstr(r.msg, strerror(EFBIG)));
    /* no <uuid>, no .ready, no temporary file */
    assert_string_equal(r.listing, "");
    char got[1024];
    list_dir(dir, got, sizeof got);
    assert_string_equal(got, "");
    /* the same size works without the limit */
    ps_connector *c = NULL;
    PS_ASSERT_OK(ps_file_connector_open(
        &(ps_file_options){.version = PS_FILE_OPTIONS_VERSION, .store_dir = dir, .clear = true},
        &c));
    void *buf = calloc(1, 4 << 20);
    ps_key *k = NULL;
    PS_ASSERT_OK(ps_connector_put(c, buf, 4 << 20, NULL, &k));
    free(buf);
    ps_key_free(k);
    PS_ASSERT_OK(ps_connector_close(c, PS_CLEAR_ALL));
    free(dir);
}

static int setup_tmpfs(const char *dir)
{
    /* a private mount namespace: the mount vanishes with this process */
    if (unshare(CLONE_NEWNS) != 0)
        return 77;
    if (mount("none", "/", "none", MS_REC | MS_PRIVATE, NULL) != 0)
        return 77;
    if (mkdir(dir, 0755) != 0)
        return 1;
    if (mount("tmpfs", dir, "tmpfs", 0, "size=1m") != 0)
        return 77;
    return 0;
}

/* A really full file system (a 1 MiB tmpfs): PS_EIO naming the path, nothing left. */
static void test_write_failure_enospc(void **state)
{
    (void)state;
    char *dir = fresh_path("enospc");
    child_result r;
    run_put_in_child(dir, 4 << 20, setup_tmpfs, &r);
    if (r.skipped) {
        pst_rmtree(dir);
        free(dir);
        PST_SKIP("file: cannot mount a tmpfs here (needs root and mount(8))");
    }
    assert_int_equal(r.status, PS_EIO);
    assert_non_null(strstr(r.msg, dir));
    assert_non_null(strstr(r.msg, strerror(ENOSPC)));
    assert_string_equal(r.listing, "");
    pst_rmtree(dir);
    free(dir);
}

static int setup_readonly(const char *dir)
{
    int r = setup_tmpfs(dir);
    if (r != 0)
        return r;
    return mount("tmpfs", dir, "tmpfs", MS_REMOUNT | MS_RDONLY, "size=1m") == 0 ? 0 : 77;
}

/* An unwritable directory (a read-only file system: root ignores mode bits). */
static void test_write_failure_readonly(void **state)
{
    (void)state;
    char *dir = fresh_path("readonly");
    child_result r;
    run_put_in_child(dir, 100, setup_readonly, &r);
    if (r.skipped) {
        pst_rmtree(dir);
        free(dir);
        PST_SKIP("file: cannot mount a tmpfs here (needs root and mount(8))");
    }
    assert_int_equal(r.status, PS_EIO);
    assert_non_null(strstr(r.msg, dir));
    assert_non_null(strstr(r.msg, strerror(EROFS)));
    assert_string_equal(r.listing, "");
    pst_rmtree(dir);
    free(dir);
}

/* ---- a concurrent reader process ------------------------------------------------------------ */

#define NVERSIONS 3
static size_t version_len(int v)
{
    return v == 0 ? (size_t)64 << 20 : v == 1 ? (size_t)40 << 20 : ((size_t)64 << 20) + 12345;
}

/*
 * The child polls get() on `key` until the parent closes the pipe; every
 * object it reads must be exactly one of the versions. Exit status: 0 when it
 * saw at least one complete object and nothing else, 1 on a partial or
 * foreign object, 2 when it never saw the object, 3 on an error.
 */
static int reader_main(const char *dir, const char *key_text, int done_fd)
{
    unsigned char *want[NVERSIONS];
    for (int v = 0; v < NVERSIONS; v++) {
        want[v] = malloc(version_len(v));
        if (want[v] == NULL)
            return 3;
        pst_fill(want[v], version_len(v), 1000u + (uint32_t)v);
    }
    ps_connector *c = NULL;
    ps_key *k = NULL;
    if (ps_file_connector_open(&(ps_file_options){.version = PS_FILE_OPTIONS_VERSION,
                                                  .store_dir = dir,
                                                  .clear = false},
                               &c) != PS_OK ||
        ps_key_parse(key_text, &k) != PS_OK)
        return 3;
    int seen = 0, rc = 0;
    fcntl(done_fd, F_SETFL, O_NONBLOCK);
    for (;;) {
        char ch;
        ssize_t n = read(done_fd, &ch, 1);
        bool done = (n == 0);
        bool ex = false;
        if (ps_connector_exists(c, k, &ex) != PS_OK) {
            rc = 3;
            break;
        }
        ps_bytes b = PS_BYTES_INIT;
        ps_status st = ps_connector_get(c, k, &b);
        if (st == PS_OK) {
            bool match = false;
            for (int v = 0; v < NVERSIONS && !match; v++)
                match = b.len == version_len(v) && memcmp(b.data, want[v], b.len) == 0;
            ps_bytes_free(&b);
            if (!match) {
                fprintf(stderr, "reader: saw a partial or mixed object\n");
                rc = 1;
                break;
            }
            seen++;
        } else if (st != PS_NOT_FOUND) {
            fprintf(stderr, "reader: get: %s\n", ps_last_error());
            rc = 3;
            break;
        }
        if (done)
            break;
    }
    if (rc == 0 && seen == 0)
        rc = 2;
    ps_key_free(k);
    ps_connector_close(c, PS_CLEAR_KEEP);
    for (int v = 0; v < NVERSIONS; v++)
        free(want[v]);
    return rc;
}

/* Large objects (4 MiB and more) come back as a read-only view of the file:
 * exact bytes, and the view stays readable after the object is replaced
 * (set) and evicted and the connector closed with clear. */
static void test_large_view(void **state)
{
    (void)state;
    char *dir = fresh_path("large");
    ps_connector *c = NULL;
    PS_ASSERT_OK(ps_file_connector_open(
        &(ps_file_options){.version = PS_FILE_OPTIONS_VERSION, .store_dir = dir, .clear = true},
        &c));
    const size_t sizes[] = {((size_t)4 << 20) - 1, (size_t)4 << 20, ((size_t)6 << 20) + 3};
    ps_bytes views[3] = {PS_BYTES_INIT, PS_BYTES_INIT, PS_BYTES_INIT};
    unsigned char *bufs[3];
    for (size_t i = 0; i < 3; i++) {
        size_t n = sizes[i];
        bufs[i] = malloc(n);
        assert_non_null(bufs[i]);
        for (size_t j = 0; j < n; j++)
            bufs[i][j] = (unsigned char)(j * 31 + i);
        ps_key *k = NULL;
        PS_ASSERT_OK(ps_connector_new_key(c, &k));
        PS_ASSERT_OK(ps_connector_set(c, k, bufs[i], n));
        PS_ASSERT_OK(ps_connector_get(c, k, &views[i]));
        assert_int_equal(views[i].len, n);
        assert_memory_equal(views[i].data, bufs[i], n);
        PS_ASSERT_OK(ps_connector_set(c, k, "new", 3));
        ps_bytes b = PS_BYTES_INIT;
        PS_ASSERT_OK(ps_connector_get(c, k, &b));
        assert_int_equal(b.len, 3);
        assert_memory_equal(b.data, "new", 3);
        ps_bytes_free(&b);
        PS_ASSERT_OK(ps_connector_evict(c, k));
        ps_key_free(k);
    }
    PS_ASSERT_OK(ps_connector_close(c, PS_CLEAR_ALL));
    assert_false(path_exists(dir));
    for (size_t i = 0; i < 3; i++) {
        assert_memory_equal(views[i].data, bufs[i], sizes[i]);
        /* a private copy is writable */
        PS_ASSERT_OK(ps_bytes_own(&views[i]));
        ((unsigned char *)views[i].data)[0] ^= 1;
        ps_bytes_free(&views[i]);
        free(bufs[i]);
    }
    free(dir);
}

static void test_concurrent_reader(void **state)
{
    (void)state;
    char *dir = fresh_path("reader");
    ps_connector *c = NULL;
    PS_ASSERT_OK(ps_file_connector_open(
        &(ps_file_options){.version = PS_FILE_OPTIONS_VERSION, .store_dir = dir, .clear = true},
        &c));
    ps_key *k = NULL;
    PS_ASSERT_OK(ps_connector_new_key(c, &k));
    unsigned char *vers[NVERSIONS];
    for (int v = 0; v < NVERSIONS; v++) {
        vers[v] = malloc(version_len(v));
        assert_non_null(vers[v]);
        pst_fill(vers[v], version_len(v), 1000u + (uint32_t)v);
    }
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(fds[1]);
        _exit(reader_main(dir, ps_key_str(k), fds[0]));
    }
    close(fds[0]);
    /* write, overwrite, evict and write again while the reader polls */
    for (int round = 0; round < 4; round++) {
        for (int v = 0; v < NVERSIONS; v++)
            PS_ASSERT_OK(ps_connector_set(c, k, vers[v], version_len(v)));
        if (round == 1)
            PS_ASSERT_OK(ps_connector_evict(c, k));
    }
    /* make sure the reader gets to see the final object at least once */
    PS_ASSERT_OK(ps_connector_set(c, k, vers[0], version_len(0)));
    close(fds[1]);
    int wst = 0;
    assert_int_equal(waitpid(pid, &wst, 0), pid);
    assert_true(WIFEXITED(wst));
    assert_int_equal(WEXITSTATUS(wst), 0);
    /* no temporary files are left behind */
    char got[4096], want[256];
    list_dir(dir, got, sizeof got);
    snprintf(want, sizeof want, "%s,%s.ready", ps_key_field(k, 0), ps_key_field(k, 0));
    assert_string_equal(got, want);
    for (int v = 0; v < NVERSIONS; v++)
        free(vers[v]);
    ps_key_free(k);
    PS_ASSERT_OK(ps_connector_close(c, PS_CLEAR_ALL));
    free(dir);
}

static int group_setup(void **state)
{
    (void)state;
    tmp_root = pst_mkdtemp("file");
    return tmp_root ? 0 : -1;
}

static int group_teardown(void **state)
{
    (void)state;
    pst_rmtree(tmp_root);
    free(tmp_root);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_layout),
        cmocka_unit_test(test_upstream_files),
        cmocka_unit_test(test_traversal),
        cmocka_unit_test(test_relative_dir_chdir),
        cmocka_unit_test(test_clear_semantics),
        cmocka_unit_test(test_options),
        cmocka_unit_test(test_eio_messages),
        cmocka_unit_test(test_write_failure_fsize),
        cmocka_unit_test(test_write_failure_enospc),
        cmocka_unit_test(test_write_failure_readonly),
        cmocka_unit_test(test_concurrent_reader),
        cmocka_unit_test(test_large_view),
    };
    return pst_exit(cmocka_run_group_tests_name("file", tests, group_setup, group_teardown));
}
