/*
 * The shm connector's operations: keys, limits, put/set (small objects into
 * the arena's heap; large ones go to segment.c), get/exists/evict.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "connectors/shm/shm_internal.h"

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
ps_status ps__shm_check_limits(ps__shm *s, const uint8_t id[16], size_t len)
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

ps_status ps__shm_new_key(void *priv, ps_key **key)
{
    ps__shm *s = priv;
    const char *extra[] = {s->name};
    return ps_key_new_uuid("shm", 1, extra, key);
}

ps_status ps__shm_put(void *priv, const void *data, size_t len, const ps_put_options *opts,
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

ps_status ps__shm_set(void *priv, const ps_key *key, const void *data, size_t len)
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

ps_status ps__shm_get(void *priv, const ps_key *key, ps_bytes *out)
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

ps_status ps__shm_exists(void *priv, const ps_key *key, bool *exists)
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

ps_status ps__shm_evict(void *priv, const ps_key *key)
{
    ps__shm *s = priv;
    uint8_t id[16];
    PS__FORWARD(ps__shm_check_key(s, key, id));
    ps__shm_evict_arg e = {id, ps_key_field(key, 0)};
    return ps__shm_run(s, ps__shm_evict_fn, &e);
}
