/*
 * The local connector: objects in this process's memory (upstream's
 * LocalConnector). See include/proxystore/connectors/local.h for the contract.
 *
 * Layout: a process-wide list of maps, each named by a store_id and counted
 * by the instances open on it. A map is PS__LOCAL_SHARDS independent hash
 * tables (chained, keyed by the object's UUID text), each behind its own
 * mutex, so threads working on different objects rarely contend. An object
 * is one reference-counted allocation (header + bytes); get() hands out a
 * view that holds a reference, so no lock is held while the caller reads and
 * evict/set/close never invalidate a buffer already handed out.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#include "connector/builtin.h"
#include "core/internal.h"
#include "proxystore/connectors/local.h"
#include "proxystore/sys/connector.h"

#define PS__LOCAL_SHARDS      16
#define PS__LOCAL_MIN_BUCKETS 16

typedef struct ps__local_blob {
    atomic_size_t refs;
    size_t len;
    unsigned char *data; /* inline[] or, for large objects, its own mapping */
    size_t map_len;      /* length of that mapping; 0 when inline */
    unsigned char inline_data[];
} ps__local_blob;

typedef struct ps__local_entry {
    struct ps__local_entry *next;
    uint64_t hash;
    char id[PS_UUID_STR_LEN + 1];
    ps__local_blob *blob;
} ps__local_entry;

typedef struct ps__local_shard {
    pthread_mutex_t lock;
    ps__local_entry **buckets;
    size_t nbuckets;
    size_t count;
} ps__local_shard;

typedef struct ps__local_map {
    struct ps__local_map *next; /* in the registry list */
    size_t refs;                /* open instances; guarded by ps__local_reg_lock */
    char store_id[PS_LOCAL_STORE_ID_MAX + 1];
    ps__local_shard shards[PS__LOCAL_SHARDS];
} ps__local_map;

typedef struct ps__local {
    ps__local_map *map;
} ps__local;

static pthread_mutex_t ps__local_reg_lock = PTHREAD_MUTEX_INITIALIZER;
static ps__local_map *ps__local_maps;

/* ---- blobs ------------------------------------------------------------------ */

/*
 * One spare large mapping, process-wide: the last one released is kept (with
 * MADV_FREE, so the kernel may take its pages back under memory pressure)
 * and reused by the next large object of the same rounded size. Copying into
 * pages already faulted in runs at memcpy speed; fresh pages cost a fault and
 * zeroing each. Pages the kernel did reclaim come back as zero pages on the
 * next write, which the copy overwrites anyway.
 */
static pthread_mutex_t ps__local_spare_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned char *ps__local_spare;
static size_t ps__local_spare_len;

static void ps__local_unmap(unsigned char *p, size_t len)
{
    pthread_mutex_lock(&ps__local_spare_lock);
    if (ps__local_spare == NULL) {
#ifdef MADV_FREE
        madvise(p, len, MADV_FREE);
#endif
        ps__local_spare = p;
        ps__local_spare_len = len;
        p = NULL;
    }
    pthread_mutex_unlock(&ps__local_spare_lock);
    if (p)
        munmap(p, len);
}

static unsigned char *ps__local_take_spare(size_t len)
{
    unsigned char *p = NULL;
    pthread_mutex_lock(&ps__local_spare_lock);
    if (ps__local_spare != NULL && ps__local_spare_len == len) {
        p = ps__local_spare;
        ps__local_spare = NULL;
    }
    pthread_mutex_unlock(&ps__local_spare_lock);
    return p;
}

static void ps__local_blob_unref(ps__local_blob *b)
{
    if (b && atomic_fetch_sub_explicit(&b->refs, 1, memory_order_acq_rel) == 1) {
        if (b->map_len)
            ps__local_unmap(b->data, b->map_len);
        ps_free(b);
    }
}

static void ps__local_view_release(void *opaque, void *data, size_t len)
{
    (void)data;
    (void)len;
    ps__local_blob_unref(opaque);
}

/* Objects of at least this size get their own anonymous mapping backed by
 * transparent huge pages where the kernel allows (madvise mode): copying into
 * fresh 4 KiB pages costs one page fault per page, which dominates a large
 * put. Smaller objects live inline, after the header, in one ps_malloc block. */
#define PS__LOCAL_MAP_MIN ((size_t)4 << 20)
#define PS__LOCAL_HUGE    ((size_t)2 << 20)

/* A mapping of at least `len` bytes whose start is huge-page aligned. */
static unsigned char *ps__local_map_big(size_t len, size_t *map_len)
{
    size_t want = (len + PS__LOCAL_HUGE - 1) & ~(PS__LOCAL_HUGE - 1);
    unsigned char *spare = ps__local_take_spare(want);
    if (spare) {
        *map_len = want;
        return spare;
    }
    size_t total = want + PS__LOCAL_HUGE;
    unsigned char *p =
        mmap(NULL, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return NULL;
    /* Trim to an aligned window so that every 2 MiB step can be one huge page. */
    uintptr_t start = ((uintptr_t)p + PS__LOCAL_HUGE - 1) & ~(uintptr_t)(PS__LOCAL_HUGE - 1);
    size_t head = (size_t)(start - (uintptr_t)p);
    if (head)
        munmap(p, head);
    if (total - head > want)
        munmap((unsigned char *)start + want, total - head - want);
#ifdef MADV_HUGEPAGE
    madvise((void *)start, want, MADV_HUGEPAGE); /* advice only: failure is harmless */
#endif
    *map_len = want;
    return (unsigned char *)start;
}

static ps_status ps__local_blob_new(const void *data, size_t len, ps__local_blob **out)
{
    PS__RETURN_IF(len > SIZE_MAX / 2, PS_ENOMEM,
                  "local connector: object of %zu bytes is too large", len);
    bool big = len >= PS__LOCAL_MAP_MIN;
    ps__local_blob *b = ps_malloc(sizeof *b + (big ? 0 : len));
    PS__RETURN_IF(b == NULL, PS_ENOMEM, "local connector: out of memory storing %zu bytes", len);
    b->map_len = 0;
    b->data = b->inline_data;
    if (big) {
        b->data = ps__local_map_big(len, &b->map_len);
        if (b->data == NULL) {
            int err = errno;
            ps_free(b);
            return ps__seterr(PS_ENOMEM, "local connector: mmap of %zu bytes: %s", len,
                              strerror(err));
        }
    }
    atomic_init(&b->refs, 1);
    b->len = len;
    if (len)
        memcpy(b->data, data, len);
    *out = b;
    return PS_OK;
}

/* ---- shards ----------------------------------------------------------------- */

static void ps__local_shard_clear(ps__local_shard *s)
{
    for (size_t i = 0; i < s->nbuckets; i++) {
        ps__local_entry *e = s->buckets[i];
        while (e) {
            ps__local_entry *next = e->next;
            ps__local_blob_unref(e->blob);
            ps_free(e);
            e = next;
        }
        s->buckets[i] = NULL;
    }
    s->count = 0;
}

static ps__local_entry **ps__local_find(ps__local_shard *s, const char *id, uint64_t h)
{
    ps__local_entry **pp = &s->buckets[(h >> 8) % s->nbuckets];
    while (*pp && ((*pp)->hash != h || strcmp((*pp)->id, id) != 0))
        pp = &(*pp)->next;
    return pp;
}

/* Double the bucket array when the load passes 1; failure just keeps chains longer. */
static void ps__local_shard_grow(ps__local_shard *s)
{
    if (s->count < s->nbuckets || s->nbuckets > SIZE_MAX / 2 / sizeof(ps__local_entry *))
        return;
    size_t n = s->nbuckets * 2;
    ps__local_entry **nb = ps_calloc(n, sizeof *nb);
    if (nb == NULL)
        return;
    for (size_t i = 0; i < s->nbuckets; i++) {
        ps__local_entry *e = s->buckets[i];
        while (e) {
            ps__local_entry *next = e->next;
            size_t j = (e->hash >> 8) % n;
            e->next = nb[j];
            nb[j] = e;
            e = next;
        }
    }
    ps_free(s->buckets);
    s->buckets = nb;
    s->nbuckets = n;
}

/* ---- maps and the registry ---------------------------------------------------- */

static void ps__local_map_free(ps__local_map *m)
{
    if (m == NULL)
        return;
    for (int i = 0; i < PS__LOCAL_SHARDS; i++) {
        ps__local_shard *s = &m->shards[i];
        if (s->buckets) {
            ps__local_shard_clear(s);
            ps_free(s->buckets);
        }
        pthread_mutex_destroy(&s->lock);
    }
    ps_free(m);
}

static ps__local_map *ps__local_map_new(const char *store_id)
{
    ps__local_map *m = ps_calloc(1, sizeof *m);
    if (m == NULL)
        return NULL;
    snprintf(m->store_id, sizeof m->store_id, "%s", store_id);
    for (int i = 0; i < PS__LOCAL_SHARDS; i++) {
        ps__local_shard *s = &m->shards[i];
        pthread_mutex_init(&s->lock, NULL);
        s->nbuckets = PS__LOCAL_MIN_BUCKETS;
        s->buckets = ps_calloc(s->nbuckets, sizeof *s->buckets);
        if (s->buckets == NULL) {
            ps__local_map_free(m);
            return NULL;
        }
    }
    return m;
}

/* Find or create the map `store_id` and take a reference on it. */
static ps_status ps__local_map_acquire(const char *store_id, ps__local_map **out)
{
    ps_status st = PS_OK;
    pthread_mutex_lock(&ps__local_reg_lock);
    ps__local_map *m = ps__local_maps;
    while (m && strcmp(m->store_id, store_id) != 0)
        m = m->next;
    if (m == NULL) {
        m = ps__local_map_new(store_id);
        if (m == NULL) {
            st = ps__seterr(PS_ENOMEM, "local connector: out of memory creating store \"%s\"",
                            store_id);
            goto out;
        }
        m->next = ps__local_maps;
        ps__local_maps = m;
    }
    m->refs++;
    *out = m;
out:
    pthread_mutex_unlock(&ps__local_reg_lock);
    return st;
}

static void ps__local_map_release(ps__local_map *m)
{
    pthread_mutex_lock(&ps__local_reg_lock);
    bool last = --m->refs == 0;
    if (last) {
        ps__local_map **pp = &ps__local_maps;
        while (*pp != m)
            pp = &(*pp)->next;
        *pp = m->next;
    }
    pthread_mutex_unlock(&ps__local_reg_lock);
    if (last)
        ps__local_map_free(m);
}

static bool ps__local_store_id_ok(const char *id)
{
    size_t n = strlen(id);
    if (n == 0 || n > PS_LOCAL_STORE_ID_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = id[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return false;
    }
    return true;
}

/* ---- keys -------------------------------------------------------------------- */

/* Check that `key` names an object of this instance's map; `*id` gets its UUID. */
static ps_status ps__local_check_key(const ps__local *l, const ps_key *key, const char **id)
{
    PS__RETURN_IF(ps_key_nfields(key) != 2, PS_EINVAL,
                  "local connector: malformed key \"%.200s\" (want local:<uuid>/<store_id>)",
                  ps_key_str(key));
    const char *uuid = ps_key_field(key, 0);
    PS__RETURN_IF(!ps_uuid_is_canonical(uuid), PS_EINVAL,
                  "local connector: malformed key \"%.200s\": object id is not a UUID",
                  ps_key_str(key));
    PS__RETURN_IF(strcmp(ps_key_field(key, 1), l->map->store_id) != 0, PS_EINVAL,
                  "local connector: key \"%.200s\" belongs to local store \"%.64s\", not \"%s\"",
                  ps_key_str(key), ps_key_field(key, 1), l->map->store_id);
    *id = uuid;
    return PS_OK;
}

/* The table hash of a checked key: the key's own hash (its text is
 * local:<uuid>/<store_id> with this map's store_id, so it varies with the id
 * alone), computed once when the key was made. */
static uint64_t ps__local_hash(const ps_key *key)
{
    return ps_key_hash(key);
}

/* ---- operations ------------------------------------------------------------- */

static ps_status ps__local_open(json_t *options, void **priv)
{
    static const char *const fields[] = {"store_id", "include_data_in_config", NULL};
    PS__FORWARD(ps__json_check_fields(options, "local connector options", fields));
    const char *store_id = NULL;
    bool include_data = false;
    PS__FORWARD(ps__json_get_string(options, "local connector options", "store_id", &store_id));
    PS__FORWARD(ps__json_get_bool(options, "local connector options", "include_data_in_config",
                                  &include_data));
    PS__RETURN_IF(include_data, PS_ENOTSUP,
                  "local connector: include_data_in_config=true is not supported (a C "
                  "configuration never carries the objects; share a store_id instead)");
    char fresh[2 * 8 + 1];
    if (store_id == NULL) {
        unsigned char rnd[8];
        PS__FORWARD(ps_random_bytes(rnd, sizeof rnd));
        for (size_t i = 0; i < sizeof rnd; i++)
            snprintf(fresh + 2 * i, 3, "%02x", rnd[i]);
        store_id = fresh;
    }
    PS__RETURN_IF(!ps__local_store_id_ok(store_id), PS_EINVAL,
                  "local connector: invalid store_id \"%.80s\" (want [A-Za-z0-9._-]{1,%d})",
                  store_id, PS_LOCAL_STORE_ID_MAX);
    ps__local *l = ps_calloc(1, sizeof *l);
    if (l == NULL)
        return PS__ENOMEM("local connector");
    ps_status st = ps__local_map_acquire(store_id, &l->map);
    if (st != PS_OK) {
        ps_free(l);
        return st;
    }
    *priv = l;
    return PS_OK;
}

static ps_status ps__local_close(void *priv, ps_clear clear)
{
    ps__local *l = priv;
    if (clear == PS_CLEAR_ALL) {
        for (int i = 0; i < PS__LOCAL_SHARDS; i++) {
            ps__local_shard *s = &l->map->shards[i];
            pthread_mutex_lock(&s->lock);
            ps__local_shard_clear(s);
            pthread_mutex_unlock(&s->lock);
        }
    }
    ps__local_map_release(l->map);
    ps_free(l);
    return PS_OK;
}

static bool ps__local_default_clear(void *priv)
{
    (void)priv;
    return false;
}

static ps_status ps__local_config(void *priv, json_t **options)
{
    ps__local *l = priv;
    json_t *o = json_pack("{s:s}", "store_id", l->map->store_id);
    if (o == NULL)
        return PS__ENOMEM("local connector config");
    *options = o;
    return PS_OK;
}

static ps_status ps__local_new_key(void *priv, ps_key **key)
{
    ps__local *l = priv;
    const char *extra[] = {l->map->store_id};
    return ps_key_new_uuid("local", 1, extra, key);
}

/* Store a new blob under `id`, replacing (and releasing) any previous one. */
static ps_status ps__local_store(ps__local *l, const ps_key *key, const char *id, const void *data,
                                 size_t len)
{
    ps__local_blob *b = NULL;
    PS__FORWARD(ps__local_blob_new(data, len, &b));
    ps__local_entry *fresh = ps_calloc(1, sizeof *fresh);
    if (fresh == NULL) {
        ps__local_blob_unref(b);
        return PS__ENOMEM("local connector entry");
    }
    uint64_t h = ps__local_hash(key);
    ps__local_shard *s = &l->map->shards[h % PS__LOCAL_SHARDS];
    ps__local_blob *old = NULL;
    pthread_mutex_lock(&s->lock);
    ps__local_entry **pp = ps__local_find(s, id, h);
    if (*pp) {
        old = (*pp)->blob;
        (*pp)->blob = b;
    } else {
        fresh->hash = h;
        memcpy(fresh->id, id, sizeof fresh->id);
        fresh->blob = b;
        fresh->next = *pp;
        *pp = fresh;
        fresh = NULL;
        s->count++;
        ps__local_shard_grow(s);
    }
    pthread_mutex_unlock(&s->lock);
    ps_free(fresh);
    ps__local_blob_unref(old);
    return PS_OK;
}

static ps_status ps__local_set(void *priv, const ps_key *key, const void *data, size_t len)
{
    ps__local *l = priv;
    const char *id = NULL;
    PS__FORWARD(ps__local_check_key(l, key, &id));
    return ps__local_store(l, key, id, data, len);
}

static ps_status ps__local_put(void *priv, const void *data, size_t len, const ps_put_options *opts,
                               ps_key **key)
{
    (void)opts;
    ps__local *l = priv;
    ps_key *k = NULL;
    PS__FORWARD(ps__local_new_key(l, &k));
    ps_status st = ps__local_store(l, k, ps_key_field(k, 0), data, len);
    if (st != PS_OK) {
        ps_key_free(k);
        return st;
    }
    *key = k;
    return PS_OK;
}

/* Look `key` up; on success `*blob` holds a new reference (or NULL when absent). */
static ps_status ps__local_lookup(ps__local *l, const ps_key *key, ps__local_blob **blob)
{
    const char *id = NULL;
    PS__FORWARD(ps__local_check_key(l, key, &id));
    uint64_t h = ps__local_hash(key);
    ps__local_shard *s = &l->map->shards[h % PS__LOCAL_SHARDS];
    pthread_mutex_lock(&s->lock);
    ps__local_entry *e = *ps__local_find(s, id, h);
    ps__local_blob *b = e ? e->blob : NULL;
    if (b)
        atomic_fetch_add_explicit(&b->refs, 1, memory_order_relaxed);
    pthread_mutex_unlock(&s->lock);
    *blob = b;
    return PS_OK;
}

static ps_status ps__local_get(void *priv, const ps_key *key, ps_bytes *out)
{
    ps__local_blob *b = NULL;
    PS__FORWARD(ps__local_lookup(priv, key, &b));
    if (b == NULL)
        return PS_NOT_FOUND;
    out->data = b->data;
    out->len = b->len;
    out->release = ps__local_view_release;
    out->opaque = b;
    return PS_OK;
}

static ps_status ps__local_exists(void *priv, const ps_key *key, bool *exists)
{
    ps__local_blob *b = NULL;
    PS__FORWARD(ps__local_lookup(priv, key, &b));
    *exists = b != NULL;
    ps__local_blob_unref(b);
    return PS_OK;
}

static ps_status ps__local_evict(void *priv, const ps_key *key)
{
    ps__local *l = priv;
    const char *id = NULL;
    PS__FORWARD(ps__local_check_key(l, key, &id));
    uint64_t h = ps__local_hash(key);
    ps__local_shard *s = &l->map->shards[h % PS__LOCAL_SHARDS];
    pthread_mutex_lock(&s->lock);
    ps__local_entry **pp = ps__local_find(s, id, h);
    ps__local_entry *e = *pp;
    if (e) {
        *pp = e->next;
        s->count--;
    }
    pthread_mutex_unlock(&s->lock);
    if (e) {
        ps__local_blob_unref(e->blob);
        ps_free(e);
    }
    return PS_OK;
}

const ps_connector_ops ps__connector_local = {
    .version = PS_CONNECTOR_OPS_VERSION,
    .name = "local",
    .flags = PS_CONNECTOR_THREADSAFE,
    .open = ps__local_open,
    .close = ps__local_close,
    .default_clear = ps__local_default_clear,
    .config = ps__local_config,
    .put = ps__local_put,
    .get = ps__local_get,
    .exists = ps__local_exists,
    .evict = ps__local_evict,
    .new_key = ps__local_new_key,
    .set = ps__local_set,
};

void ps_local_options_init(ps_local_options *o)
{
    if (o != NULL)
        *o = (ps_local_options){.version = PS_LOCAL_OPTIONS_VERSION};
}

ps_status ps_local_connector_open(const ps_local_options *opts, ps_connector **out)
{
    ps_local_options defaults;
    if (opts == NULL) {
        ps_local_options_init(&defaults);
        opts = &defaults;
    }
    PS__TYPED_OPEN_CHECK("ps_local_connector_open", opts, PS_LOCAL_OPTIONS_VERSION, out);
    return ps__connector_open_pack(out, &ps__connector_local, "ps_local_connector_open", "{s:s*}",
                                   "store_id", opts->store_id);
}
