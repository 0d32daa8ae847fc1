/*
 * The shared-memory connector ("shm"): options, open/close/config, the
 * retry on a removed store, the ps_connector_ops table and the typed open.
 * Contract: include/proxystore/connectors/shm.h; design:
 * docs/connectors-shm.md; the files of the connector are listed in
 * shm_internal.h.
 *
 * An instance holds one mapping of its store's arena behind a read-write
 * lock: operations hold it shared; when an operation finds the arena dead
 * (the store was removed by another process or instance) it takes the lock
 * exclusively, attaches the store's current arena by path (creating a fresh
 * one) and retries.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "connector/builtin.h"
#include "connectors/shm/shm_internal.h"

#define PS__SHM_DEFAULT_MAX_OBJECTS 65536
#define PS__SHM_MAX_OBJECTS_LIMIT   16777216

/* ---- attach / retry ------------------------------------------------------ */

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

/* Run `fn` with the arena mapped (map lock shared); reattach and retry while
 * it reports PS__SHM_STALE. */
ps_status ps__shm_run(ps__shm *s, ps__shm_fn fn, void *arg)
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

/* ---- open / close / config ----------------------------------------------- */

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

static ps_status ps__shm_close(void *priv, ps_clear clear)
{
    ps__shm *s = priv;
    ps_status st = PS_OK;
    if (clear == PS_CLEAR_ALL) {
        pthread_rwlock_rdlock(&s->maplock);
        st = s->arena.h ? ps__shm_remove_store(s) : PS_OK;
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

/* ---- public functions ---------------------------------------------------- */

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
