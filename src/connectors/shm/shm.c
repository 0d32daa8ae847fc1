/*
 * The shared-memory connector ("shm"). Contract: include/proxystore/
 * connectors/shm.h; design: docs/connectors-shm.md; the arena (index, heap,
 * mutex, repair) is in shm/arena.c.
 *
 * An instance holds one mapping of its store's arena behind a read-write
 * lock: operations hold it shared; when an operation finds the arena dead
 * (the store was removed by another process or instance) it takes the lock
 * exclusively, attaches the store's current arena by path (creating a fresh
 * one) and retries.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "connector/builtin.h"
#include "connectors/shm/shm_internal.h"

#define PS__SHM_DEFAULT_MAX_OBJECTS 65536
#define PS__SHM_MAX_OBJECTS_LIMIT   16777216
#define PS__SHM_PREFIX              "proxystore-shm."
#define PS__SHM_IO_CHUNK            ((size_t)1 << 30)
#define PS__SHM_RETRIES             8
#define PS__SHM_SPARE               ".spare"
#define PS__SHM_SPARE_MAX           ((uint64_t)1 << 30) /* largest segment kept as the spare */

typedef struct ps__shm {
    char name[PS_SHM_NAME_MAX + 1];
    char what[PS_SHM_NAME_MAX + 32]; /* "shm store NAME", for messages */
    char *dir;                       /* base directory (tmpfs) */
    char *sdir;                      /* <dir>/proxystore-shm.<name> */
    uint64_t max_bytes;              /* 0: no limit */
    uint64_t max_objects;
    bool copy_on_get;
    bool clear;
    pthread_rwlock_t maplock; /* shared by operations, exclusive to reattach */
    ps__shm_arena arena;
} ps__shm;

/* ---- names and paths ------------------------------------------------------------ */

static bool ps__shm_name_ok(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > PS_SHM_NAME_MAX || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return false;
    }
    return true;
}

/* Check `dir` (absolute, not too long) and copy it without trailing slashes. */
static ps_status ps__shm_dir_norm(const char *dir, char **out)
{
    if (dir == NULL)
        dir = PS_SHM_DEFAULT_DIR;
    size_t n = strlen(dir);
    PS__RETURN_IF(n == 0 || dir[0] != '/', PS_EINVAL,
                  "shm connector: \"dir\" must be an absolute path, not \"%.200s\"", dir);
    PS__RETURN_IF(n > 3800, PS_EINVAL, "shm connector: \"dir\" is too long (%zu bytes)", n);
    while (n > 1 && dir[n - 1] == '/')
        n--;
    char *d = ps_malloc(n + 1);
    if (d == NULL)
        return PS__ENOMEM("shm dir");
    memcpy(d, dir, n);
    d[n] = '\0';
    *out = d;
    return PS_OK;
}

static char *ps__shm_store_dir(const char *dir, const char *name)
{
    size_t n = strlen(dir) + sizeof PS__SHM_PREFIX + strlen(name) + 2;
    char *s = ps_malloc(n);
    if (s)
        snprintf(s, n, "%s/%s%s", strcmp(dir, "/") == 0 ? "" : dir, PS__SHM_PREFIX, name);
    return s;
}

static bool ps__pid_alive(long pid)
{
    if (pid <= 0 || pid > INT_MAX)
        return false;
    return kill((pid_t)pid, 0) == 0 || errno == EPERM;
}

/* Parse ".<uuid>.<pid>.tmp"; `*pid` gets the writer. */
static bool ps__shm_temp_name(const char *fname, long *pid)
{
    size_t n = strlen(fname);
    if (n < 1 + PS_UUID_STR_LEN + 6 || fname[0] != '.' || strcmp(fname + n - 4, ".tmp") != 0)
        return false;
    char uuid[PS_UUID_STR_LEN + 1];
    memcpy(uuid, fname + 1, PS_UUID_STR_LEN);
    uuid[PS_UUID_STR_LEN] = '\0';
    if (!ps_uuid_is_canonical(uuid) || fname[1 + PS_UUID_STR_LEN] != '.')
        return false;
    char *end;
    errno = 0;
    long p = strtol(fname + 2 + PS_UUID_STR_LEN, &end, 10);
    if (errno != 0 || end != fname + n - 4 || p <= 0)
        return false;
    *pid = p;
    return true;
}

/* Remove a directory tree (best effort); returns 0 or an errno value. */
static int ps__shm_rmtree(const char *path)
{
    DIR *d = opendir(path);
    if (d == NULL)
        return errno == ENOENT ? 0 : errno;
    struct dirent *e;
    char p[4400];
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        snprintf(p, sizeof p, "%s/%s", path, e->d_name);
        if (unlink(p) != 0 && errno == EISDIR)
            ps__shm_rmtree(p);
    }
    closedir(d);
    return rmdir(path) == 0 || errno == ENOENT ? 0 : errno;
}

/* Parse ".index.<pid>.<hex>.tmp" (an arena being created by <pid>). */
static bool ps__shm_index_temp_name(const char *fname, long *pid)
{
    if (strncmp(fname, ".index.", 7) != 0)
        return false;
    char *end;
    errno = 0;
    long p = strtol(fname + 7, &end, 10);
    if (errno != 0 || p <= 0 || *end != '.')
        return false;
    *pid = p;
    return true;
}

/* Remove a store directory without an index: every file but the arena
 * temporaries of live processes, then the directory. Returns 0, EAGAIN when
 * an index appeared (a store now exists: remove it properly), or errno. */
static int ps__shm_rmtree_stale(const char *path)
{
    DIR *d = opendir(path);
    if (d == NULL)
        return errno;
    struct dirent *e;
    char p[4400];
    while ((e = readdir(d)) != NULL) {
        long pid;
        if (strcmp(e->d_name, "index") == 0) {
            closedir(d); /* a store was created meanwhile: remove it properly */
            return EAGAIN;
        }
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0 ||
            (ps__shm_index_temp_name(e->d_name, &pid) && ps__pid_alive(pid)))
            continue;
        snprintf(p, sizeof p, "%s/%s", path, e->d_name);
        unlink(p);
    }
    closedir(d);
    return rmdir(path) == 0 ? 0 : errno;
}

/* ---- attach / retry ---------------------------------------------------------------- */

/* Reattach when the arena `seen` turned out dead (exclusive map lock). */
static ps_status ps__shm_reattach(ps__shm *s, const ps__shm_hdr *seen)
{
    ps_status st = PS_OK;
    pthread_rwlock_wrlock(&s->maplock);
    if (s->arena.h == seen) {
        ps__shm_arena_detach(&s->arena);
        st = ps__shm_arena_attach(s->sdir, s->what, s->max_objects, &s->arena);
    }
    pthread_rwlock_unlock(&s->maplock);
    return st;
}

typedef ps_status (*ps__shm_fn)(ps__shm *s, void *arg);

/* Run `fn` with the arena mapped (map lock shared); reattach and retry while
 * it reports PS__SHM_STALE. */
static ps_status ps__shm_run(ps__shm *s, ps__shm_fn fn, void *arg)
{
    for (int i = 0;; i++) {
        pthread_rwlock_rdlock(&s->maplock);
        const ps__shm_hdr *seen = s->arena.h;
        ps_status st = seen ? fn(s, arg) : PS__SHM_STALE;
        pthread_rwlock_unlock(&s->maplock);
        if (st != PS__SHM_STALE)
            return st;
        if (i == PS__SHM_RETRIES)
            return ps__seterr(PS_EIO, "%s: the store keeps being removed while in use", s->what);
        PS__FORWARD(ps__shm_reattach(s, seen));
    }
}

/* ---- gc ------------------------------------------------------------------------------ */

/*
 * Remove temporary segments of dead writers and, when `orphans` (arena
 * mutex taken here), segments the index does not name. `*removed` counts.
 */
static ps_status ps__shm_gc_dir(ps__shm_arena *a, const char *sdir, const char *what, bool orphans,
                                size_t *removed)
{
    DIR *d = opendir(sdir);
    if (d == NULL)
        return errno == ENOENT ? PS_OK
                               : ps__seterr(PS_EIO, "%s: %s: %s", what, sdir, strerror(errno));
    bool locked = false;
    ps_status st = PS_OK;
    if (orphans && a) {
        st = ps__shm_lock(a, what);
        if (st != PS_OK) {
            closedir(d);
            return st;
        }
        locked = true;
    }
    struct dirent *e;
    char p[4400];
    while ((e = readdir(d)) != NULL) {
        long pid;
        uint8_t id[16];
        bool rm = false;
        if (ps__shm_temp_name(e->d_name, &pid))
            rm = !ps__pid_alive(pid);
        else if (orphans && strcmp(e->d_name, PS__SHM_SPARE) == 0)
            rm = true; /* memory kept for speed only: give it back */
        else if (locked && ps__uuid_parse(e->d_name, id))
            rm = ps__shm_find(a->h, id) == NULL;
        if (rm) {
            snprintf(p, sizeof p, "%s/%s", sdir, e->d_name);
            if (unlink(p) == 0)
                (*removed)++;
        }
    }
    if (locked)
        ps__shm_unlock(a);
    closedir(d);
    return st;
}

/* ---- operations ------------------------------------------------------------------------ */

static void ps__shm_free(ps__shm *s)
{
    if (s == NULL)
        return;
    ps__shm_arena_detach(&s->arena);
    pthread_rwlock_destroy(&s->maplock);
    ps_free(s->dir);
    ps_free(s->sdir);
    ps_free(s);
}

static ps_status ps__shm_get_u64(json_t *options, const char *name, uint64_t lo, uint64_t hi,
                                 uint64_t *out)
{
    long long v = (long long)*out;
    PS__FORWARD(ps__json_get_int(options, "shm connector options", name, &v));
    PS__RETURN_IF(v < 0 || (uint64_t)v < lo || (uint64_t)v > hi, PS_EINVAL,
                  "shm connector: \"%s\" must be in %llu..%llu, not %lld", name,
                  (unsigned long long)lo, (unsigned long long)hi, v);
    *out = (uint64_t)v;
    return PS_OK;
}

static ps_status ps__shm_open(json_t *options, void **priv)
{
    static const char *const fields[] = {"name",        "dir",   "max_bytes", "max_objects",
                                         "copy_on_get", "clear", NULL};
    const char *what = "shm connector options";
    PS__FORWARD(ps__json_check_fields(options, what, fields));
    const char *name = NULL, *dir = NULL;
    bool copy = false, clear = false;
    uint64_t max_bytes = 0, max_objects = PS__SHM_DEFAULT_MAX_OBJECTS;
    PS__FORWARD(ps__json_get_string(options, what, "name", &name));
    PS__FORWARD(ps__json_get_string(options, what, "dir", &dir));
    PS__FORWARD(ps__json_get_bool(options, what, "copy_on_get", &copy));
    PS__FORWARD(ps__json_get_bool(options, what, "clear", &clear));
    PS__FORWARD(ps__shm_get_u64(options, "max_bytes", 0, (uint64_t)LLONG_MAX, &max_bytes));
    PS__FORWARD(
        ps__shm_get_u64(options, "max_objects", 1, PS__SHM_MAX_OBJECTS_LIMIT, &max_objects));
    PS__RETURN_IF(name == NULL, PS_EINVAL, "shm connector: the \"name\" option is required");
    PS__RETURN_IF(!ps__shm_name_ok(name), PS_EINVAL,
                  "shm connector: invalid store name \"%.120s\" (want [A-Za-z0-9._-]{1,%d}, not "
                  "\".\" or \"..\")",
                  name, PS_SHM_NAME_MAX);
    ps__shm *s = ps_calloc(1, sizeof *s);
    if (s == NULL)
        return PS__ENOMEM("shm connector");
    s->arena.fd = -1;
    pthread_rwlock_init(&s->maplock, NULL);
    snprintf(s->name, sizeof s->name, "%s", name);
    snprintf(s->what, sizeof s->what, "shm store %s", name);
    s->max_bytes = max_bytes;
    s->max_objects = max_objects;
    s->copy_on_get = copy;
    s->clear = clear;
    ps_status st = ps__shm_dir_norm(dir, &s->dir);
    if (st == PS_OK) {
        s->sdir = ps__shm_store_dir(s->dir, s->name);
        st = s->sdir ? PS_OK : PS__ENOMEM("shm store path");
    }
    if (st == PS_OK) {
        struct stat sb;
        if (stat(s->dir, &sb) != 0)
            st = ps__seterr(PS_EIO, "shm connector: directory %s: %s", s->dir, strerror(errno));
        else if (!S_ISDIR(sb.st_mode))
            st = ps__seterr(PS_EIO, "shm connector: %s is not a directory", s->dir);
    }
    if (st == PS_OK)
        st = ps__shm_arena_attach(s->sdir, s->what, s->max_objects, &s->arena);
    if (st == PS_OK) {
        /* temporary segments of writers that died (no lock needed) */
        size_t removed = 0;
        ps__shm_gc_dir(NULL, s->sdir, s->what, false, &removed);
        ps_clear_error();
    }
    if (st != PS_OK) {
        ps__shm_free(s);
        return st;
    }
    *priv = s;
    return PS_OK;
}

/* Remove the store: every object, then the arena and the directory. The
 * arena is marked dead and the directory renamed away under the mutex, so
 * no other process can publish into it afterwards. */
static ps_status ps__shm_clear_fn(ps__shm *s, void *arg)
{
    (void)arg;
    ps__shm_arena *a = &s->arena;
    PS__FORWARD(ps__shm_lock(a, s->what));
    char trash[4400];
    unsigned char rnd[4] = {0};
    ps_random_bytes(rnd, sizeof rnd);
    snprintf(trash, sizeof trash, "%s/.%s%s.removed.%ld.%02x%02x%02x%02x", s->dir, PS__SHM_PREFIX,
             s->name, (long)getpid(), rnd[0], rnd[1], rnd[2], rnd[3]);
    a->h->dead = 1;
    int err = 0;
    if (rename(s->sdir, trash) != 0 && errno != ENOENT)
        err = errno;
    ps__shm_unlock(a);
    if (err != 0) {
        /* could not move it away: remove in place (segments, then index) */
        ps__shm_rmtree(s->sdir);
        return PS_OK;
    }
    int e = ps__shm_rmtree(trash);
    if (e != 0)
        return ps__seterr(PS_EIO, "%s: cannot remove %s: %s", s->what, trash, strerror(e));
    return PS_OK;
}

static ps_status ps__shm_close(void *priv, ps_clear clear)
{
    ps__shm *s = priv;
    ps_status st = PS_OK;
    if (clear == PS_CLEAR_ALL) {
        pthread_rwlock_rdlock(&s->maplock);
        st = s->arena.h ? ps__shm_clear_fn(s, NULL) : PS_OK;
        pthread_rwlock_unlock(&s->maplock);
        if (st == PS__SHM_STALE)
            st = PS_OK; /* already removed by someone else */
    }
    ps__shm_free(s);
    return st;
}

static bool ps__shm_default_clear(void *priv)
{
    return ((ps__shm *)priv)->clear;
}

static ps_status ps__shm_config(void *priv, json_t **options)
{
    ps__shm *s = priv;
    json_t *o = json_pack("{s:s}", "name", s->name);
    if (o == NULL)
        return PS__ENOMEM("shm connector config");
    int r = 0;
    if (strcmp(s->dir, PS_SHM_DEFAULT_DIR) != 0)
        r |= json_object_set_new(o, "dir", json_string(s->dir));
    if (s->max_bytes != 0)
        r |= json_object_set_new(o, "max_bytes", json_integer((json_int_t)s->max_bytes));
    if (s->max_objects != PS__SHM_DEFAULT_MAX_OBJECTS)
        r |= json_object_set_new(o, "max_objects", json_integer((json_int_t)s->max_objects));
    if (s->copy_on_get)
        r |= json_object_set_new(o, "copy_on_get", json_true());
    if (s->clear)
        r |= json_object_set_new(o, "clear", json_true());
    if (r != 0) {
        json_decref(o);
        return PS__ENOMEM("shm connector config");
    }
    *options = o;
    return PS_OK;
}

/* Check that `key` names an object of this store; `id` gets its UUID. */
static ps_status ps__shm_check_key(const ps__shm *s, const ps_key *key, uint8_t id[16])
{
    PS__RETURN_IF(ps_key_nfields(key) != 2, PS_EINVAL,
                  "shm connector: malformed key \"%.200s\" (want shm:<uuid>/<store name>)",
                  ps_key_str(key));
    PS__RETURN_IF(!ps__uuid_parse(ps_key_field(key, 0), id), PS_EINVAL,
                  "shm connector: malformed key \"%.200s\": object id is not a UUID",
                  ps_key_str(key));
    PS__RETURN_IF(strcmp(ps_key_field(key, 1), s->name) != 0, PS_EINVAL,
                  "shm connector: key \"%.200s\" belongs to shm store \"%.100s\", not \"%s\"",
                  ps_key_str(key), ps_key_field(key, 1), s->name);
    return PS_OK;
}

/* Limits for storing `len` bytes under `id` (mutex held). */
static ps_status ps__shm_check_limits(ps__shm *s, const uint8_t id[16], size_t len)
{
    ps__shm_hdr *h = s->arena.h;
    const ps__shm_slot *old = ps__shm_find(h, id);
    uint64_t objs = h->n_objects + (old ? 0 : 1);
    uint64_t bytes = h->n_bytes - (old ? old->size : 0);
    PS__RETURN_IF(objs > s->max_objects, PS_ENOSPC, "%s: object limit reached (max_objects %llu)",
                  s->what, (unsigned long long)s->max_objects);
    PS__RETURN_IF(objs > ps__shm_index_cap(h), PS_ENOSPC,
                  "%s: the index is full (%llu objects; the process that created the store sized "
                  "it for its max_objects)",
                  s->what, (unsigned long long)h->n_objects);
    PS__RETURN_IF(s->max_bytes != 0 && (len > s->max_bytes || bytes > s->max_bytes - len),
                  PS_ENOSPC,
                  "%s: byte limit reached: %zu more bytes would exceed max_bytes %llu (%llu "
                  "stored)",
                  s->what, len, (unsigned long long)s->max_bytes, (unsigned long long)bytes);
    return PS_OK;
}

typedef struct ps__shm_put_arg {
    const uint8_t *id;
    const char *uuid;
    const void *data;
    size_t len;
} ps__shm_put_arg;

/* A small object: copied into a heap block under the mutex, then published. */
static ps_status ps__shm_put_small_fn(ps__shm *s, void *varg)
{
    ps__shm_put_arg *p = varg;
    ps__shm_arena *a = &s->arena;
    PS__FORWARD(ps__shm_lock(a, s->what));
    ps_status st = ps__shm_check_limits(s, p->id, p->len);
    uint64_t off = 0;
    void *dst = NULL;
    if (st == PS_OK)
        st = ps__shm_heap_alloc(a, p->len, &off, &dst, s->what);
    if (st == PS_OK) {
        if (p->len)
            memcpy(dst, p->data, p->len);
        ps__shm_slot *old = ps__shm_find(a->h, p->id);
        if (old && old->kind == PS__SHM_KIND_SEGMENT) {
            /* set() of a small object over a large one: drop its segment */
            char path[4400];
            snprintf(path, sizeof path, "%s/%s", s->sdir, p->uuid);
            unlink(path);
        }
        if (old)
            ps__shm_remove_slot(a->h, old);
        st = ps__shm_insert(a->h, p->id, PS__SHM_KIND_HEAP, p->len, off, s->what);
        if (st != PS_OK) {
            /* give the block back: a slot-less used block is freed by the repair */
            a->h->needs_repair = 1;
        }
    }
    ps__shm_unlock(a);
    return st;
}

static ps_status ps__shm_errno_status(int e)
{
    return e == ENOSPC || e == EDQUOT ? PS_ENOSPC : e == EFBIG ? PS_ETOOBIG : PS_EIO;
}

/*
 * Segment recycling. Allocating tmpfs pages costs about as much as copying
 * into them, so an evicted segment that no process maps is kept (at most one
 * per store, of at most PS__SHM_SPARE_MAX bytes) under the name `.spare` and
 * the next large put writes into its already allocated pages.
 *
 * Who maps a segment is known from flock(2): every reader takes a shared lock
 * on the segment before mapping or reading it, and the lock lives as long as
 * the mapping (it belongs to the open file description, which the mapping
 * references after the descriptor is closed). The evictor recycles a segment
 * only when it gets the exclusive lock without waiting, and renames it while
 * holding that lock; a reader that opened the file before the rename checks,
 * once it holds its shared lock, that the key's path still names the file it
 * opened (ps__shm_read_segment), so it never reads a recycled file.
 */

/* Under the arena mutex, with the slot of a segment just removed: keep the
 * file as the store's spare when nobody maps it, else unlink it. */
static int ps__shm_retire_segment(ps__shm *s, const char *path, uint64_t size)
{
    if (size > 0 && size <= PS__SHM_SPARE_MAX && (s->max_bytes == 0 || size <= s->max_bytes)) {
        int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd >= 0) {
            if (flock(fd, LOCK_EX | LOCK_NB) == 0) {
                char spare[4400];
                snprintf(spare, sizeof spare, "%s/" PS__SHM_SPARE, s->sdir);
                if (rename(path, spare) == 0) { /* replaces an older spare */
                    close(fd);
                    return 0;
                }
            }
            close(fd);
        }
    }
    return unlink(path);
}

/* Take the store's spare segment as the temporary file `tmp`: returns its
 * descriptor and in `*have` its size (all of it allocated), or -1 when there is
 * no usable spare. */
static int ps__shm_claim_spare(ps__shm *s, const char *tmp, off_t *have)
{
    char spare[4400];
    snprintf(spare, sizeof spare, "%s/" PS__SHM_SPARE, s->sdir);
    if (rename(spare, tmp) != 0)
        return -1;
    int fd = open(tmp, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
    struct stat sb;
    /* a reader still holding a lock on it opened it as an old object and will
     * find the name gone; do not write under it */
    if (fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) == 0 && fstat(fd, &sb) == 0 &&
        S_ISREG(sb.st_mode)) {
        *have = sb.st_size;
        return fd;
    }
    if (fd >= 0)
        close(fd);
    unlink(tmp);
    return -1;
}

/* A large object: written to a temporary segment (reserved with
 * posix_fallocate first), renamed into place and published under the mutex. */
static ps_status ps__shm_put_large_fn(ps__shm *s, void *varg)
{
    ps__shm_put_arg *p = varg;
    ps__shm_arena *a = &s->arena;
    /* fail fast before writing */
    PS__FORWARD(ps__shm_lock(a, s->what));
    ps_status st = ps__shm_check_limits(s, p->id, p->len);
    ps__shm_unlock(a);
    if (st != PS_OK)
        return st;
    char tmp[4400], path[4400];
    snprintf(tmp, sizeof tmp, "%s/.%s.%ld.tmp", s->sdir, p->uuid, (long)getpid());
    snprintf(path, sizeof path, "%s/%s", s->sdir, p->uuid);
    off_t have = 0; /* bytes of the file already allocated (a recycled spare) */
    int fd = ps__shm_claim_spare(s, tmp, &have);
    if (fd < 0)
        fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        int e = errno;
        if (e == ENOENT) {
            /* the store directory is gone: was the store removed? */
            PS__FORWARD(ps__shm_lock(a, s->what));
            ps__shm_unlock(a);
        }
        return ps__seterr(ps__shm_errno_status(e), "%s: cannot create %s: %s", s->what, tmp,
                          strerror(e));
    }
    int r = 0;
    if (have > (off_t)p->len && ftruncate(fd, (off_t)p->len) != 0)
        r = errno;
    else if (have < (off_t)p->len)
        r = posix_fallocate(fd, have, (off_t)p->len - have);
    if (r != 0) {
        st = ps__seterr(ps__shm_errno_status(r),
                        "%s: cannot reserve %zu bytes of shared memory in %s: %s", s->what, p->len,
                        s->dir, strerror(r));
        goto fail;
    }
    const unsigned char *src = p->data;
    for (size_t done = 0; done < p->len;) {
        size_t n = p->len - done < PS__SHM_IO_CHUNK ? p->len - done : PS__SHM_IO_CHUNK;
        ssize_t w = pwrite(fd, src + done, n, (off_t)done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            int e = w < 0 ? errno : EIO;
            st = ps__seterr(ps__shm_errno_status(e), "%s: writing %s: %s", s->what, tmp,
                            strerror(e));
            goto fail;
        }
        done += (size_t)w;
    }
    close(fd); /* drops the claim's flock before readers can see the segment */
    fd = -1;
    st = ps__shm_lock(a, s->what);
    if (st != PS_OK)
        goto fail;
    st = ps__shm_check_limits(s, p->id, p->len);
    if (st == PS_OK && rename(tmp, path) != 0)
        st = ps__seterr(PS_EIO, "%s: cannot rename %s: %s", s->what, tmp, strerror(errno));
    if (st == PS_OK) {
        ps__shm_slot *old = ps__shm_find(a->h, p->id);
        if (old)
            ps__shm_remove_slot(a->h, old); /* the rename replaced an old segment */
        st = ps__shm_insert(a->h, p->id, PS__SHM_KIND_SEGMENT, p->len, 0, s->what);
        if (st != PS_OK)
            unlink(path);
    }
    ps__shm_unlock(a);
    if (st != PS_OK)
        unlink(tmp);
    return st;
fail:
    if (fd >= 0)
        close(fd);
    unlink(tmp);
    return st;
}

static ps_status ps__shm_store_bytes(ps__shm *s, const char *uuid, const void *data, size_t len)
{
    uint8_t id[16];
    PS__RETURN_IF(!ps__uuid_parse(uuid, id), PS_EINTERNAL, "%s: bad object id", s->what);
    ps__shm_put_arg p = {id, uuid, data, len};
    ps_status st = PS__SHM_HEAPFULL;
    if (len <= PS_SHM_SMALL_MAX)
        st = ps__shm_run(s, ps__shm_put_small_fn, &p);
    if (st == PS__SHM_HEAPFULL)
        st = ps__shm_run(s, ps__shm_put_large_fn, &p);
    if (st == PS_ENOSPC) {
        /* reclaim what crashed writers left, then try once more */
        size_t removed = 0;
        char msg[PS__ERRMSG_SIZE];
        snprintf(msg, sizeof msg, "%s", ps_last_error());
        pthread_rwlock_rdlock(&s->maplock);
        if (s->arena.h)
            ps__shm_gc_dir(&s->arena, s->sdir, s->what, true, &removed);
        pthread_rwlock_unlock(&s->maplock);
        if (removed == 0)
            return ps__seterr(PS_ENOSPC, "%s", msg);
        return ps__shm_store_bytes(s, uuid, data, len);
    }
    return st;
}

static ps_status ps__shm_new_key(void *priv, ps_key **key)
{
    ps__shm *s = priv;
    const char *extra[] = {s->name};
    return ps_key_new_uuid("shm", 1, extra, key);
}

static ps_status ps__shm_put(void *priv, const void *data, size_t len, const ps_put_options *opts,
                             ps_key **key)
{
    (void)opts;
    ps_key *k = NULL;
    PS__FORWARD(ps__shm_new_key(priv, &k));
    ps_status st = ps__shm_store_bytes(priv, ps_key_field(k, 0), data, len);
    if (st != PS_OK) {
        ps_key_free(k);
        return st;
    }
    *key = k;
    return PS_OK;
}

static ps_status ps__shm_set(void *priv, const ps_key *key, const void *data, size_t len)
{
    ps__shm *s = priv;
    uint8_t id[16];
    PS__FORWARD(ps__shm_check_key(s, key, id));
    return ps__shm_store_bytes(s, ps_key_field(key, 0), data, len);
}

typedef struct ps__shm_get_arg {
    const uint8_t *id;
    bool exists_only;
    bool exists;
    uint32_t kind;
    uint64_t size;
    ps_bytes *out; /* heap objects are copied here under the mutex */
} ps__shm_get_arg;

static ps_status ps__shm_lookup_fn(ps__shm *s, void *varg)
{
    ps__shm_get_arg *g = varg;
    ps__shm_arena *a = &s->arena;
    PS__FORWARD(ps__shm_lock(a, s->what));
    ps_status st = PS_OK;
    ps__shm_slot *slot = ps__shm_find(a->h, g->id);
    g->exists = slot != NULL;
    if (slot && !g->exists_only) {
        g->kind = slot->kind;
        g->size = slot->size;
        if (slot->kind == PS__SHM_KIND_HEAP) {
            const void *src = ps__shm_heap_data(a->h, slot->off, slot->size);
            if (src == NULL) {
                a->h->needs_repair = 1;
                st = ps__seterr(PS_EIO, "%s: damaged index entry (repaired on the next call)",
                                s->what);
            } else {
                void *buf = ps_malloc(slot->size ? slot->size : 1);
                if (buf == NULL) {
                    st = PS__ENOMEM("shm get");
                } else {
                    memcpy(buf, src, slot->size);
                    g->out->data = buf;
                    g->out->len = slot->size;
                }
            }
        }
    }
    ps__shm_unlock(a);
    return st;
}

static void ps__shm_unmap_release(void *opaque, void *data, size_t len)
{
    (void)opaque;
    if (data && len)
        munmap(data, len);
}

/* Map (or copy) the segment of object `uuid`. PS_NOT_FOUND when it is gone
 * (evicted since the lookup). */
static ps_status ps__shm_read_segment(ps__shm *s, const char *uuid, ps_bytes *out)
{
    char path[4400];
    snprintf(path, sizeof path, "%s/%s", s->sdir, uuid);
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        if (errno == ENOENT)
            return PS_NOT_FOUND;
        return ps__seterr(PS_EIO, "%s: cannot open %s: %s", s->what, path, strerror(errno));
    }
    struct stat sb, now;
    ps_status st = PS_OK;
    /* the shared lock marks the file as in use for as long as it is mapped or
     * read (see ps__shm_retire_segment); EWOULDBLOCK: it is being recycled */
    if (flock(fd, LOCK_SH | LOCK_NB) != 0) {
        if (errno == EWOULDBLOCK)
            st = PS_NOT_FOUND;
        else
            st = ps__seterr(PS_EIO, "%s: cannot lock %s: %s", s->what, path, strerror(errno));
        goto out;
    }
    if (fstat(fd, &sb) != 0) {
        st = ps__seterr(PS_EIO, "%s: %s: %s", s->what, path, strerror(errno));
        goto out;
    }
    /* evicted (and maybe recycled) between the open and the lock? */
    if (stat(path, &now) != 0 || now.st_ino != sb.st_ino || now.st_dev != sb.st_dev) {
        st = PS_NOT_FOUND;
        goto out;
    }
    size_t len = (size_t)sb.st_size;
    if (len == 0) {
        out->data = NULL;
        out->len = 0;
        goto out;
    }
    if (!s->copy_on_get) {
        void *m = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0);
        if (m == MAP_FAILED) {
            st = ps__seterr(errno == ENOMEM ? PS_ENOMEM : PS_EIO, "%s: mmap %s: %s", s->what, path,
                            strerror(errno));
            goto out;
        }
        out->data = m;
        out->len = len;
        out->release = ps__shm_unmap_release;
        out->opaque = NULL;
        goto out;
    }
    unsigned char *buf = ps_malloc(len);
    if (buf == NULL) {
        st = ps__seterr(PS_ENOMEM, "%s: out of memory copying %zu bytes", s->what, len);
        goto out;
    }
    for (size_t done = 0; done < len;) {
        size_t n = len - done < PS__SHM_IO_CHUNK ? len - done : PS__SHM_IO_CHUNK;
        ssize_t r = pread(fd, buf + done, n, (off_t)done);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            st = ps__seterr(PS_EIO, "%s: reading %s: %s", s->what, path,
                            r < 0 ? strerror(errno) : "file shrank");
            ps_free(buf);
            goto out;
        }
        done += (size_t)r;
    }
    out->data = buf;
    out->len = len;
out:
    close(fd);
    return st;
}

static ps_status ps__shm_get(void *priv, const ps_key *key, ps_bytes *out)
{
    ps__shm *s = priv;
    uint8_t id[16];
    PS__FORWARD(ps__shm_check_key(s, key, id));
    ps__shm_get_arg g = {id, false, false, 0, 0, out};
    PS__FORWARD(ps__shm_run(s, ps__shm_lookup_fn, &g));
    if (!g.exists)
        return PS_NOT_FOUND;
    if (g.kind == PS__SHM_KIND_HEAP)
        return PS_OK;
    return ps__shm_read_segment(s, ps_key_field(key, 0), out);
}

static ps_status ps__shm_exists(void *priv, const ps_key *key, bool *exists)
{
    ps__shm *s = priv;
    uint8_t id[16];
    PS__FORWARD(ps__shm_check_key(s, key, id));
    ps__shm_get_arg g = {id, true, false, 0, 0, NULL};
    PS__FORWARD(ps__shm_run(s, ps__shm_lookup_fn, &g));
    *exists = g.exists;
    return PS_OK;
}

typedef struct ps__shm_evict_arg {
    const uint8_t *id;
    const char *uuid;
} ps__shm_evict_arg;

static ps_status ps__shm_evict_fn(ps__shm *s, void *varg)
{
    ps__shm_evict_arg *e = varg;
    ps__shm_arena *a = &s->arena;
    PS__FORWARD(ps__shm_lock(a, s->what));
    ps_status st = PS_OK;
    ps__shm_slot *slot = ps__shm_find(a->h, e->id);
    if (slot) {
        if (slot->kind == PS__SHM_KIND_SEGMENT) {
            char path[4400];
            snprintf(path, sizeof path, "%s/%s", s->sdir, e->uuid);
            if (ps__shm_retire_segment(s, path, slot->size) != 0 && errno != ENOENT)
                st = ps__seterr(PS_EIO, "%s: cannot remove %s: %s", s->what, path, strerror(errno));
        }
        if (st == PS_OK)
            ps__shm_remove_slot(a->h, slot);
    }
    ps__shm_unlock(a);
    return st;
}

static ps_status ps__shm_evict(void *priv, const ps_key *key)
{
    ps__shm *s = priv;
    uint8_t id[16];
    PS__FORWARD(ps__shm_check_key(s, key, id));
    ps__shm_evict_arg e = {id, ps_key_field(key, 0)};
    return ps__shm_run(s, ps__shm_evict_fn, &e);
}

const ps_connector_ops ps__connector_shm = {
    .version = PS_CONNECTOR_OPS_VERSION,
    .name = "shm",
    .flags = PS_CONNECTOR_THREADSAFE,
    .open = ps__shm_open,
    .close = ps__shm_close,
    .default_clear = ps__shm_default_clear,
    .config = ps__shm_config,
    .put = ps__shm_put,
    .get = ps__shm_get,
    .exists = ps__shm_exists,
    .evict = ps__shm_evict,
    .new_key = ps__shm_new_key,
    .set = ps__shm_set,
};

/* ---- public functions -------------------------------------------------------------------- */

_Static_assert(PS_SHM_DEFAULT_MAX_OBJECTS == PS__SHM_DEFAULT_MAX_OBJECTS,
               "the public default is the connector's");

void ps_shm_options_init(ps_shm_options *o)
{
    if (o != NULL)
        *o = (ps_shm_options){.version = PS_SHM_OPTIONS_VERSION,
                              .max_objects = PS_SHM_DEFAULT_MAX_OBJECTS};
}

ps_status ps_shm_connector_open(const ps_shm_options *opts, ps_connector **out)
{
    PS__TYPED_OPEN_CHECK("ps_shm_connector_open", opts, PS_SHM_OPTIONS_VERSION, out);
    PS__RETURN_IF(opts->name == NULL, PS_EINVAL, "ps_shm_connector_open: name is NULL");
    return ps__connector_open_pack(
        out, &ps__connector_shm, "ps_shm_connector_open", "{s:s, s:s*, s:I, s:I, s:b, s:b}", "name",
        opts->name, "dir", opts->dir, "max_bytes", (json_int_t)opts->max_bytes, "max_objects",
        (json_int_t)opts->max_objects, "copy_on_get", opts->copy_on_get, "clear", opts->clear);
}

/* Resolve (dir, name) for the store functions; `*sdir` new. */
static ps_status ps__shm_locate(const char *fn, const char *dir, const char *name, char **ndir,
                                char **sdir)
{
    *ndir = *sdir = NULL;
    PS__RETURN_IF(name == NULL, PS_EINVAL, "%s: name is NULL", fn);
    PS__RETURN_IF(!ps__shm_name_ok(name), PS_EINVAL, "%s: invalid store name \"%.120s\"", fn, name);
    PS__FORWARD(ps__shm_dir_norm(dir, ndir));
    *sdir = ps__shm_store_dir(*ndir, name);
    if (*sdir == NULL) {
        ps_free(*ndir);
        *ndir = NULL;
        return PS__ENOMEM("shm store path");
    }
    return PS_OK;
}

ps_status ps_shm_remove(const char *dir, const char *name)
{
    char *ndir, *sdir;
    PS__FORWARD(ps__shm_locate("ps_shm_remove", dir, name, &ndir, &sdir));
    ps__shm s;
    memset(&s, 0, sizeof s);
    snprintf(s.name, sizeof s.name, "%s", name);
    snprintf(s.what, sizeof s.what, "shm store %s", name);
    s.dir = ndir;
    s.sdir = sdir;
    s.arena.fd = -1;
    ps_status st = PS_OK;
    for (int tries = 0;; tries++) {
        st = ps__shm_arena_open_existing(sdir, s.what, &s.arena);
        if (st == PS_OK) {
            st = ps__shm_clear_fn(&s, NULL);
            if (st == PS__SHM_STALE)
                st = PS_OK; /* removed by someone else meanwhile */
            ps__shm_arena_detach(&s.arena);
            break;
        }
        if (st != PS_NOT_FOUND && st != PS_EIO)
            break;
        /* No usable index: remove what the directory holds, except an index
         * another process is creating right now (that store comes after
         * this removal). */
        struct stat sb;
        if (stat(sdir, &sb) != 0) {
            st = PS_NOT_FOUND;
            break;
        }
        /* a damaged index (PS_EIO) goes too: created indexes are complete */
        int e = st == PS_EIO ? ps__shm_rmtree(sdir) : ps__shm_rmtree_stale(sdir);
        if (e == EAGAIN && tries < PS__SHM_RETRIES)
            continue;
        st =
            e == 0 || e == ENOTEMPTY || e == ENOENT
                ? PS_OK
                : ps__seterr(PS_EIO, "shm store %s: cannot remove %s: %s", name, sdir, strerror(e));
        break;
    }
    ps_free(ndir);
    ps_free(sdir);
    return st;
}

ps_status ps_shm_gc(const char *dir, const char *name, size_t *removed)
{
    size_t n = 0;
    if (removed)
        *removed = 0;
    char *ndir, *sdir;
    PS__FORWARD(ps__shm_locate("ps_shm_gc", dir, name, &ndir, &sdir));
    char what[PS_SHM_NAME_MAX + 32];
    snprintf(what, sizeof what, "shm store %s", name);
    ps__shm_arena a;
    ps_status st = ps__shm_arena_open_existing(sdir, what, &a);
    if (st == PS_OK) {
        /* locking repairs when an owner died */
        st = ps__shm_gc_dir(&a, sdir, what, true, &n);
        ps__shm_arena_detach(&a);
    }
    if (st == PS__SHM_STALE)
        st = PS_NOT_FOUND;
    ps_free(ndir);
    ps_free(sdir);
    if (removed)
        *removed = n;
    return st;
}

/* Objects and temporary files of one store, as JSON. */
static ps_status ps__shm_list_store(const char *dir, const char *name, const char *sdir,
                                    json_t *out)
{
    char what[PS_SHM_NAME_MAX + 32];
    snprintf(what, sizeof what, "shm store %s", name);
    json_t *objs = json_array(), *temps = json_array();
    if (!objs || !temps || json_object_set_new(out, "dir", json_string(dir)) ||
        json_object_set_new(out, "name", json_string(name)) ||
        json_object_set(out, "objects", objs) || json_object_set(out, "temp_files", temps)) {
        json_decref(objs);
        json_decref(temps);
        return PS__ENOMEM("shm list");
    }
    json_decref(objs);
    json_decref(temps);
    ps__shm_arena a;
    ps_status st = ps__shm_arena_open_existing(sdir, what, &a);
    if (st == PS_NOT_FOUND) {
        struct stat sb;
        if (stat(sdir, &sb) != 0)
            return PS_NOT_FOUND;
        st = ps__seterr(PS_EIO, "%s: %s has no index", what, sdir);
    }
    if (st == PS_OK) {
        st = ps__shm_lock(&a, what);
        if (st == PS_OK) {
            const ps__shm_slot *slots =
                (const ps__shm_slot *)(const void *)((const unsigned char *)a.h + a.h->index_off);
            for (uint64_t i = 0; i < a.h->nslots && st == PS_OK; i++) {
                if (slots[i].state != PS__SHM_SLOT_USED)
                    continue;
                char uuid[PS_UUID_STR_LEN + 1];
                ps__uuid_format(slots[i].id, uuid);
                json_t *o =
                    json_pack("{s:s, s:I, s:s}", "id", uuid, "size", (json_int_t)slots[i].size,
                              "where", slots[i].kind == PS__SHM_KIND_HEAP ? "heap" : "segment");
                if (o == NULL || json_array_append_new(objs, o) != 0)
                    st = PS__ENOMEM("shm list");
            }
            ps__shm_unlock(&a);
        }
        ps__shm_arena_detach(&a);
    }
    if (st == PS__SHM_STALE)
        return PS_NOT_FOUND;
    if (st != PS_OK) {
        json_object_set_new(out, "error", json_string(ps_last_error()));
        ps_clear_error();
    }
    DIR *d = opendir(sdir);
    if (d != NULL) {
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            long pid;
            if (!ps__shm_temp_name(e->d_name, &pid))
                continue;
            json_t *t = json_pack("{s:s, s:I, s:b}", "file", e->d_name, "pid", (json_int_t)pid,
                                  "alive", ps__pid_alive(pid));
            if (t)
                json_array_append_new(temps, t);
        }
        closedir(d);
    }
    return PS_OK;
}

ps_status ps_shm_list(const char *dir, const char *name, char **json)
{
    PS__RETURN_IF(json == NULL, PS_EINVAL, "ps_shm_list: out is NULL");
    *json = NULL;
    char *ndir = NULL;
    PS__FORWARD(ps__shm_dir_norm(dir, &ndir));
    ps_status st = PS_OK;
    json_t *out = json_object();
    if (out == NULL) {
        ps_free(ndir);
        return PS__ENOMEM("shm list");
    }
    if (name != NULL) {
        char *sdir = NULL;
        if (!ps__shm_name_ok(name))
            st = ps__seterr(PS_EINVAL, "ps_shm_list: invalid store name \"%.120s\"", name);
        else if ((sdir = ps__shm_store_dir(ndir, name)) == NULL)
            st = PS__ENOMEM("shm store path");
        else
            st = ps__shm_list_store(ndir, name, sdir, out);
        ps_free(sdir);
    } else {
        json_t *stores = json_array();
        DIR *d = opendir(ndir);
        if (stores == NULL || json_object_set_new(out, "dir", json_string(ndir)) ||
            json_object_set_new(out, "stores", stores)) {
            st = PS__ENOMEM("shm list");
        } else if (d == NULL) {
            st = ps__seterr(PS_EIO, "ps_shm_list: %s: %s", ndir, strerror(errno));
        } else {
            struct dirent *e;
            size_t plen = strlen(PS__SHM_PREFIX);
            while (st == PS_OK && (e = readdir(d)) != NULL) {
                const char *n = e->d_name;
                if (strncmp(n, PS__SHM_PREFIX, plen) != 0 || !ps__shm_name_ok(n + plen))
                    continue;
                json_t *one = json_object();
                char *sdir = ps__shm_store_dir(ndir, n + plen);
                if (one == NULL || sdir == NULL) {
                    json_decref(one);
                    ps_free(sdir);
                    st = PS__ENOMEM("shm list");
                    break;
                }
                ps_status s1 = ps__shm_list_store(ndir, n + plen, sdir, one);
                ps_free(sdir);
                if (s1 == PS_NOT_FOUND) { /* removed meanwhile */
                    json_decref(one);
                    continue;
                }
                if (s1 != PS_OK) {
                    json_decref(one);
                    st = s1;
                    break;
                }
                /* summarize: counts instead of the lists */
                json_t *objs = json_object_get(one, "objects");
                json_t *temps = json_object_get(one, "temp_files");
                json_int_t bytes = 0, segs = 0, stale = 0;
                size_t i;
                json_t *v;
                json_array_foreach(objs, i, v)
                {
                    bytes += json_integer_value(json_object_get(v, "size"));
                    segs += strcmp(json_string_value(json_object_get(v, "where")), "segment") == 0;
                }
                json_array_foreach(temps, i, v) stale += !json_is_true(json_object_get(v, "alive"));
                json_t *sum = json_pack(
                    "{s:s, s:I, s:I, s:I, s:I, s:I}", "name", n + plen, "objects",
                    (json_int_t)json_array_size(objs), "bytes", bytes, "segments", segs,
                    "temp_files", (json_int_t)json_array_size(temps), "stale_temp_files", stale);
                json_t *err = json_object_get(one, "error");
                if (sum && err)
                    json_object_set(sum, "error", err);
                json_decref(one);
                if (sum == NULL || json_array_append_new(stores, sum) != 0)
                    st = PS__ENOMEM("shm list");
            }
        }
        if (d)
            closedir(d);
    }
    if (st == PS_OK)
        st = ps__json_dump(out, json);
    json_decref(out);
    ps_free(ndir);
    return st;
}
