/*
 * The shm connector's store directories (<dir>/proxystore-shm.<name>/): names
 * and paths, temporary files of dead writers (gc), removing a store, and the
 * public administration functions ps_shm_remove, ps_shm_gc and ps_shm_list.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "connectors/shm/shm_internal.h"

#define PS__SHM_PREFIX "proxystore-shm."

/* ---- names and paths ----------------------------------------------------- */

bool ps__shm_name_ok(const char *name)
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
ps_status ps__shm_dir_norm(const char *dir, char **out)
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

char *ps__shm_store_dir(const char *dir, const char *name)
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

/* ---- gc ------------------------------------------------------------------ */

/*
 * Remove temporary segments of dead writers and, when `orphans` (arena
 * mutex taken here), segments the index does not name. `*removed` counts.
 */
ps_status ps__shm_gc_dir(ps__shm_arena *a, const char *sdir, const char *what, bool orphans,
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

/* ---- removal ------------------------------------------------------------- */

/* Remove the store: every object, then the arena and the directory. The
 * arena is marked dead and the directory renamed away under the mutex, so
 * no other process can publish into it afterwards. */
ps_status ps__shm_remove_store(ps__shm *s)
{
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

/* ---- public functions ---------------------------------------------------- */

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
            st = ps__shm_remove_store(&s);
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
