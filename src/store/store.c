/*
 * ps_store: a connector plus a codec, an LRU cache of decoded objects and
 * optional metrics (upstream's proxystore.store.base.Store), and the
 * process-wide registry of stores. The JSON configuration (config,
 * from_config, the building half of get_or_create) is in config.c.
 *
 * Dependency: one way, store.c -> registry.c. The registry (registry.c) is
 * below this file and knows stores only through ps__store_reg_ops below;
 * this file owns the one registry of stores (ps__stores) and implements the
 * public ps_store_register / unregister / lookup / get_or_create over it.
 *
 * Locking: operations that call the connector hold the store's rwlock for
 * reading; close takes it for writing, so close waits for in-flight calls
 * and no call reaches a closed connector. Cache hits do not take the rwlock
 * (they read the atomic `closed` flag and the cache has its own mutex).
 * Reference counts are atomic; the memory goes with the last reference.
 */
#include <limits.h>
#include <string.h>

#include "proxystore/metrics.h"
#include "proxystore/sys/connector.h"
#include "store/registry.h"
#include "store/store_internal.h"

/* ---- helpers --------------------------------------------------------------- */

static bool ps__is_closed(const ps_store *s)
{
    return atomic_load_explicit(&s->closed, memory_order_acquire);
}

/* The process registry of stores, and what it may do with a store. */
static void *ps__store_reg_ref(void *obj)
{
    return ps_store_ref(obj);
}

static bool ps__store_reg_is_open(const void *obj)
{
    return !ps__is_closed(obj);
}

static const ps__reg_ops ps__store_reg_ops = {"store", ps__store_reg_ref, ps__store_reg_is_open};
static ps__registry ps__stores = PS__REGISTRY_INIT(&ps__store_reg_ops);

static uint64_t ps__t0(const ps_store *s)
{
    return s->metrics ? ps_now_ns() : 0;
}

static void ps__rec_time(ps_store *s, const char *name, uint64_t t0)
{
    if (s->metrics)
        ps__metrics_add_time(s->metrics, name, ps_now_ns() - t0);
}

static ps_status ps__closed_err(const ps_store *s, const char *op)
{
    return ps__seterr(PS_ESTATE, "store \"%s\": %s: the store is closed", s->name, op);
}

/* Take the read lock for a connector operation; PS_ESTATE when closed. */
static ps_status ps__begin(ps_store *s, const char *op)
{
    pthread_rwlock_rdlock(&s->lock);
    if (s->conn == NULL) {
        pthread_rwlock_unlock(&s->lock);
        return ps__closed_err(s, op);
    }
    return PS_OK;
}

static void ps__end(ps_store *s)
{
    pthread_rwlock_unlock(&s->lock);
}

/* Add the store's name to the message of a failed connector call. */
static ps_status ps__conn_fail(const ps_store *s, ps_status st)
{
    if (st != PS_OK && st != PS_NOT_FOUND)
        ps__preferr(st, "store \"%s\"", s->name);
    return st;
}

/* The checks get and get_batch make after their own: the get options, and
 * that the store is open. `*codec` is the codec to decode with. The common
 * case (no options, an open store) stays inline: a cache hit costs tens of
 * nanoseconds, and an out-of-line call with this function's error paths
 * added a sixth to it. */
static ps_status ps__read_check_slow(ps_store *s, const char *op, const ps_get_options *o,
                                     const ps_codec **codec)
{
    if (o != NULL) {
        PS__RETURN_IF(o->version != PS_GET_OPTIONS_VERSION, PS_EINVAL,
                      "get options: unknown version %u (call ps_get_options_init)", o->version);
        PS__RETURN_IF(o->has_default && o->default_data == NULL && o->default_len > 0, PS_EINVAL,
                      "get options: default_data is NULL but default_len is %zu", o->default_len);
        if (o->codec) {
            *codec = ps_codec_find(o->codec);
            PS__RETURN_IF(*codec == NULL, PS_EINVAL, "get options: unknown codec \"%.64s\"",
                          o->codec);
        }
    }
    if (ps__is_closed(s))
        return ps__closed_err(s, op);
    return PS_OK;
}

static inline ps_status ps__read_check(ps_store *s, const char *op, const ps_get_options *o,
                                       const ps_codec **codec)
{
    *codec = s->codec;
    if (o == NULL && !ps__is_closed(s))
        return PS_OK;
    return ps__read_check_slow(s, op, o, codec);
}

/* Decode what the connector returned; consumes `*raw`. */
static ps_status ps__decode(ps_store *s, const ps_codec *codec, const ps_key *key, ps_bytes *raw,
                            ps_bytes *out)
{
    uint64_t t0 = ps__t0(s);
    ps_clear_error();
    ps_status st = ps_codec_decode(codec, raw, out);
    ps__rec_time(s, "store.get.deserialize", t0);
    if (st != PS_OK) {
        char cause[PS__ERRMSG_SIZE];
        snprintf(cause, sizeof cause, "%s", ps_last_error());
        /* Out of memory stays PS_ENOMEM; anything else the codec reports is
         * a decoding failure (upstream's SerializationError). */
        return ps__seterr(st == PS_ENOMEM ? PS_ENOMEM : PS_ECODEC,
                          "Failed to deserialize object (codec=%s, key=%.300s): %s", codec->name,
                          ps_key_str(key), cause[0] ? cause : ps_strerror(st));
    }
    return PS_OK;
}

static ps_status ps__encode(ps_store *s, const void *data, size_t len, ps_bytes *out)
{
    ps_status st = ps_codec_encode(s->codec, data, len, out);
    if (st != PS_OK)
        return ps__preferr(st, "store \"%s\": failed to serialize object (codec=%s)", s->name,
                           s->codec->name);
    return PS_OK;
}

/* ---- lifetime ------------------------------------------------------------- */

void ps_store_options_init(ps_store_options *o)
{
    if (o == NULL)
        return;
    memset(o, 0, sizeof *o);
    o->version = PS_STORE_OPTIONS_VERSION;
    o->codec = NULL;
    o->cache_size = PS_STORE_DEFAULT_CACHE_SIZE;
    o->cache_bytes = 0;
    o->metrics = false;
    o->register_store = false;
    o->populate_target = PS_POPULATE_YES;
}

void ps_get_options_init(ps_get_options *o)
{
    if (o == NULL)
        return;
    memset(o, 0, sizeof *o);
    o->version = PS_GET_OPTIONS_VERSION;
}

/* Strict UTF-8 (no overlongs, surrogates or code points past U+10FFFF), as
 * JSON text needs: config() must be able to write the name. */
static bool ps__utf8_ok(const char *str)
{
    const unsigned char *p = (const unsigned char *)str;
    while (*p) {
        unsigned c = *p++;
        int more;
        unsigned cp, min;
        if (c < 0x80)
            continue;
        if (c >= 0xC2 && c <= 0xDF) {
            more = 1, cp = c & 0x1F, min = 0x80;
        } else if (c >= 0xE0 && c <= 0xEF) {
            more = 2, cp = c & 0x0F, min = 0x800;
        } else if (c >= 0xF0 && c <= 0xF4) {
            more = 3, cp = c & 0x07, min = 0x10000;
        } else {
            return false;
        }
        for (int i = 0; i < more; i++, p++) {
            if ((*p & 0xC0) != 0x80)
                return false;
            cp = (cp << 6) | (*p & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return false;
    }
    return true;
}

ps_status ps__store_check_new(const char *name, const ps_store_options *opts,
                              const ps_codec **codec)
{
    PS__RETURN_IF(name == NULL, PS_EINVAL, "ps_store_new: name is NULL");
    size_t n = strnlen(name, PS__STORE_NAME_MAX + 1);
    PS__RETURN_IF(n == 0, PS_EINVAL, "ps_store_new: the store name is empty");
    PS__RETURN_IF(n > PS__STORE_NAME_MAX, PS_EINVAL,
                  "ps_store_new: store name \"%.40s...\" is longer than %d bytes", name,
                  PS__STORE_NAME_MAX);
    PS__RETURN_IF(!ps__utf8_ok(name), PS_EINVAL, "ps_store_new: the store name is not valid UTF-8");
    PS__RETURN_IF(opts->version != PS_STORE_OPTIONS_VERSION, PS_EINVAL,
                  "store \"%s\": unknown options version %u (call ps_store_options_init)", name,
                  opts->version);
    PS__RETURN_IF(opts->populate_target < PS_POPULATE_DEFAULT ||
                      opts->populate_target > PS_POPULATE_YES,
                  PS_EINVAL, "store \"%s\": populate_target must be -1, 0 or 1, not %d", name,
                  (int)opts->populate_target);
    PS__RETURN_IF(opts->cache_size < 0, PS_EINVAL,
                  "store \"%s\": Cache size cannot be negative. Got %ld.", name, opts->cache_size);
    PS__RETURN_IF(opts->cache_bytes > (size_t)LLONG_MAX, PS_EINVAL,
                  "store \"%s\": cache_bytes %zu is too large (0 means no bound)", name,
                  opts->cache_bytes);
    const char *cname = opts->codec ? opts->codec : "raw";
    *codec = ps_codec_find(cname);
    PS__RETURN_IF(*codec == NULL, PS_EINVAL, "store \"%s\": unknown codec \"%.64s\"", name, cname);
    return PS_OK;
}

ps_status ps__store_create(const char *name, ps_connector *conn, const ps_store_options *opts,
                           bool do_register, ps_store **out)
{
    ps_store_options defaults;
    if (opts == NULL) {
        ps_store_options_init(&defaults);
        opts = &defaults;
    }
    ps_status st = PS_OK;
    const ps_codec *codec = NULL;
    ps_store *s = NULL;
    if (out == NULL) {
        st = ps__seterr(PS_EINVAL, "ps_store_new: out is NULL");
        goto fail;
    }
    *out = NULL;
    if (conn == NULL) {
        st = ps__seterr(PS_EINVAL, "ps_store_new: connector is NULL");
        goto fail;
    }
    st = ps__store_check_new(name, opts, &codec);
    if (st != PS_OK)
        goto fail;
    s = ps_calloc(1, sizeof *s);
    if (s == NULL) {
        st = PS__ENOMEM("store");
        goto fail;
    }
    if (opts->metrics && (st = ps__metrics_new(&s->metrics)) != PS_OK) {
        ps_free(s);
        goto fail;
    }
    st = ps__cache_init(&s->cache, opts->cache_size, opts->cache_bytes);
    if (st != PS_OK) {
        ps__metrics_free(s->metrics);
        ps_free(s);
        goto fail;
    }
    atomic_init(&s->refs, 1);
    atomic_init(&s->closed, false);
    snprintf(s->name, sizeof s->name, "%s", name);
    s->codec = codec;
    s->opts = *opts;
    s->opts.codec = codec->name;
    if (s->opts.populate_target == PS_POPULATE_DEFAULT)
        s->opts.populate_target = PS_POPULATE_YES;
    s->conn = conn;
    pthread_rwlock_init(&s->lock, NULL);
    if (do_register) {
        st = ps_store_register(s, false);
        if (st != PS_OK) {
            s->conn = NULL; /* the connector stays the caller's */
            ps_store_unref(s);
            return st;
        }
    }
    *out = s;
    return PS_OK;
fail:
    return st;
}

ps_status ps_store_new(const char *name, ps_connector *connector, const ps_store_options *opts,
                       ps_store **out)
{
    return ps__store_create(name, connector, opts, opts ? opts->register_store : false, out);
}

ps_store *ps_store_ref(ps_store *store)
{
    if (store)
        atomic_fetch_add_explicit(&store->refs, 1, memory_order_relaxed);
    return store;
}

void ps_store_unref(ps_store *store)
{
    if (store == NULL)
        return;
    if (atomic_fetch_sub_explicit(&store->refs, 1, memory_order_acq_rel) != 1)
        return;
    if (store->conn) {
        char msg[PS__ERRMSG_SIZE];
        snprintf(msg, sizeof msg, "%s", ps_last_error());
        ps_connector_close(store->conn, PS_CLEAR_KEEP);
        ps__seterr(PS_OK, "%s", msg);
        store->conn = NULL;
    }
    ps__cache_destroy(&store->cache);
    ps__metrics_free(store->metrics);
    pthread_rwlock_destroy(&store->lock);
    ps_free(store);
}

ps_status ps_store_close(ps_store *store, ps_clear clear)
{
    if (store == NULL)
        return PS_OK;
    PS__RETURN_IF(clear != PS_CLEAR_DEFAULT && clear != PS_CLEAR_KEEP && clear != PS_CLEAR_ALL,
                  PS_EINVAL, "store \"%s\": close: invalid clear value %d", store->name,
                  (int)clear);
    ps_status st = PS_OK;
    pthread_rwlock_wrlock(&store->lock);
    ps_connector *conn = store->conn;
    store->conn = NULL;
    atomic_store_explicit(&store->closed, true, memory_order_release);
    if (conn) {
        st = ps_connector_close(conn, clear);
        if (st != PS_OK)
            ps__preferr(st, "store \"%s\": close", store->name);
    }
    pthread_rwlock_unlock(&store->lock);
    if (conn) {
        ps__cache_clear(&store->cache);
        ps_store_unref(ps__registry_remove(&ps__stores, store->name, store));
    }
    ps_store_unref(store);
    return st;
}

/* ---- properties ------------------------------------------------------------ */

const char *ps_store_name(const ps_store *store)
{
    return store ? store->name : NULL;
}

const char *ps_store_codec(const ps_store *store)
{
    return store ? store->codec->name : NULL;
}

ps_connector *ps_store_connector(ps_store *store)
{
    if (store == NULL)
        return NULL;
    pthread_rwlock_rdlock(&store->lock);
    ps_connector *c = store->conn;
    pthread_rwlock_unlock(&store->lock);
    return c;
}

ps_status ps_store_options_of(const ps_store *store, ps_store_options *out)
{
    PS__RETURN_IF(out == NULL, PS_EINVAL, "ps_store_options_of: out is NULL");
    PS__RETURN_IF(out->version != PS_STORE_OPTIONS_VERSION, PS_EINVAL,
                  "ps_store_options_of: unknown options version %u (fill `out` with "
                  "ps_store_options_init first)",
                  out->version);
    PS__RETURN_IF(store == NULL, PS_EINVAL, "ps_store_options_of: store is NULL");
    *out = store->opts;
    return PS_OK;
}

ps_status ps__store_connector_config(ps_store *s, json_t **conn)
{
    PS__FORWARD(ps__begin(s, "config"));
    ps_status st = ps__conn_fail(s, ps_connector_config_json(s->conn, conn));
    ps__end(s);
    return st;
}

/* ---- writes: put, put_batch and set share one path ------------------------ */

typedef enum ps__write_kind { PS__WRITE_PUT, PS__WRITE_PUT_BATCH, PS__WRITE_SET } ps__write_kind;

/* What differs between the writes: the name in messages and the metrics. */
typedef struct ps__write_op {
    const char *name;      /* "put" */
    const char *total;     /* time of the whole call, when it succeeds */
    const char *serialize; /* time spent encoding */
    const char *connector; /* time spent in the connector */
    const char *size;      /* attribute: encoded bytes (their sum for a batch) */
} ps__write_op;

static const ps__write_op ps__write_ops[] = {
    [PS__WRITE_PUT] = {"put", "store.put", "store.put.serialize", "store.put.connector",
                       "store.put.object_size"},
    [PS__WRITE_PUT_BATCH] = {"put_batch", "store.put_batch", "store.put_batch.serialize",
                             "store.put_batch.connector", "store.put_batch.object_sizes"},
    [PS__WRITE_SET] = {"set", "store.set", "store.set.serialize", "store.set.connector",
                       "store.set.object_size"},
};

/* The checks every write makes after its own: each item's data (clearing
 * the keys a put returns as it goes), then that the store is open. */
static ps_status ps__write_check(ps_store *s, ps__write_kind kind, size_t n, const ps_iov *items,
                                 ps_key **keys)
{
    for (size_t i = 0; i < n; i++) {
        if (keys)
            keys[i] = NULL;
        if (items[i].data != NULL || items[i].len == 0)
            continue;
        if (kind == PS__WRITE_PUT_BATCH)
            return ps__seterr(PS_EINVAL, "store \"%s\": put_batch: item %zu has NULL data", s->name,
                              i);
        return ps__seterr(PS_EINVAL, "store \"%s\": %s: data is NULL", s->name,
                          ps__write_ops[kind].name);
    }
    if (ps__is_closed(s))
        return ps__closed_err(s, ps__write_ops[kind].name);
    return PS_OK;
}

/*
 * Encode `n` checked items into `enc` (n zeroed entries) and `iov` (n, the
 * views the connector gets), call the connector once (put: keys[0] out;
 * put_batch: keys[0..n) out; set: `key` in), record the metrics of `kind`.
 * Frees what `enc` holds. A single put or set passes arrays of one on the
 * stack: no allocation beyond the encoded buffer. Inlined into each caller,
 * so that `kind` and `n` are constants there (a put costs what it did before
 * the three writes shared this path).
 */
static inline __attribute__((always_inline)) ps_status
ps__write(ps_store *s, ps__write_kind kind, size_t n, const ps_iov *items, ps_bytes *enc,
          ps_iov *iov, const ps_put_options *opts, const ps_key *key, ps_key **keys)
{
    const ps__write_op *op = &ps__write_ops[kind];
    uint64_t t0 = ps__t0(s);
    uint64_t ts = ps__t0(s), total = 0;
    ps_status st = PS_OK;
    for (size_t i = 0; i < n && st == PS_OK; i++) {
        st = ps__encode(s, items[i].data, items[i].len, &enc[i]);
        iov[i].data = enc[i].data;
        iov[i].len = enc[i].len;
        total += enc[i].len;
    }
    if (st != PS_OK) {
        ps_bytes_free_array(enc, n);
        return st;
    }
    ps__rec_time(s, op->serialize, ts);
    if (s->metrics)
        ps__metrics_set_attribute(s->metrics, op->size, total);
    st = ps__begin(s, op->name);
    if (st == PS_OK) {
        uint64_t tc = ps__t0(s);
        switch (kind) {
        case PS__WRITE_PUT:
            st = ps_connector_put(s->conn, iov[0].data, iov[0].len, opts, keys);
            break;
        case PS__WRITE_PUT_BATCH:
            st = ps_connector_put_batch(s->conn, n, iov, opts, keys);
            break;
        case PS__WRITE_SET:
            st = ps_connector_set(s->conn, key, iov[0].data, iov[0].len);
            break;
        }
        st = ps__conn_fail(s, st);
        ps__rec_time(s, op->connector, tc);
        ps__end(s);
    }
    for (size_t i = 0; i < n; i++) /* a loop, so that a put's n = 1 costs one call */
        ps_bytes_free(&enc[i]);
    if (kind == PS__WRITE_SET)
        ps__cache_remove(&s->cache, key); /* a set object replaces what was cached */
    if (st == PS_OK)
        ps__rec_time(s, op->total, t0);
    return st;
}

ps_status ps_store_put(ps_store *store, const void *data, size_t len, const ps_put_options *opts,
                       ps_key **key)
{
    PS__RETURN_IF(key == NULL, PS_EINVAL, "ps_store_put: key out-pointer is NULL");
    *key = NULL;
    PS__CHECK_STORE(store, "ps_store_put");
    ps_iov item = {data, len}, iov;
    ps_bytes enc = PS_BYTES_INIT;
    PS__FORWARD(ps__write_check(store, PS__WRITE_PUT, 1, &item, key));
    return ps__write(store, PS__WRITE_PUT, 1, &item, &enc, &iov, opts, NULL, key);
}

ps_status ps_store_put_batch(ps_store *store, size_t n, const ps_iov *items,
                             const ps_put_options *opts, ps_key **keys)
{
    PS__CHECK_STORE(store, "ps_store_put_batch");
    PS__RETURN_IF(n > 0 && (items == NULL || keys == NULL), PS_EINVAL,
                  "store \"%s\": put_batch: items or keys is NULL", store->name);
    PS__FORWARD(ps__write_check(store, PS__WRITE_PUT_BATCH, n, items, keys));
    if (n == 0)
        return PS_OK;
    ps_bytes *enc = ps_calloc(n, sizeof *enc);
    ps_iov *iov = ps_calloc(n, sizeof *iov);
    ps_status st = enc && iov
                       ? ps__write(store, PS__WRITE_PUT_BATCH, n, items, enc, iov, opts, NULL, keys)
                       : PS__ENOMEM("put_batch buffers");
    ps_free(enc);
    ps_free(iov);
    return st;
}

/* ---- reads and the other operations ---------------------------------------- */

ps_status ps_store_get(ps_store *store, const ps_key *key, const ps_get_options *opts,
                       ps_bytes *out)
{
    PS__RETURN_IF(out == NULL, PS_EINVAL, "ps_store_get: out is NULL");
    ps_bytes empty = PS_BYTES_INIT;
    *out = empty;
    PS__CHECK_STORE(store, "ps_store_get");
    PS__RETURN_IF(key == NULL, PS_EINVAL, "store \"%s\": get: key is NULL", store->name);
    const ps_codec *codec = NULL;
    PS__FORWARD(ps__read_check(store, "get", opts, &codec));
    uint64_t t0 = ps__t0(store);

    if (ps__cache_get(&store->cache, key, out)) {
        if (store->metrics) {
            ps__metrics_add_counter(store->metrics, "store.get.cache_hits", 1);
            ps__rec_time(store, "store.get", t0);
        }
        return PS_OK;
    }
    if (store->metrics)
        ps__metrics_add_counter(store->metrics, "store.get.cache_misses", 1);

    ps_bytes raw = PS_BYTES_INIT;
    PS__FORWARD(ps__begin(store, "get"));
    uint64_t epoch = ps__cache_epoch(&store->cache);
    uint64_t tc = ps__t0(store);
    ps_status st = ps__conn_fail(store, ps_connector_get(store->conn, key, &raw));
    ps__rec_time(store, "store.get.connector", tc);
    ps__end(store);

    if (st == PS_NOT_FOUND) {
        ps__rec_time(store, "store.get", t0);
        if (opts && opts->has_default)
            return ps_bytes_copy(opts->default_data, opts->default_len, out);
        return PS_NOT_FOUND;
    }
    if (st != PS_OK)
        return st;
    if (store->metrics)
        ps__metrics_set_attribute(store->metrics, "store.get.object_size", raw.len);
    ps_bytes dec = PS_BYTES_INIT;
    PS__FORWARD(ps__decode(store, codec, key, &raw, &dec));
    ps__cache_put(&store->cache, key, &dec, epoch, out);
    ps__rec_time(store, "store.get", t0);
    return PS_OK;
}

ps_status ps_store_get_batch(ps_store *store, size_t n, const ps_key *const *keys,
                             const ps_get_options *opts, ps_bytes *outs, bool *found)
{
    PS__CHECK_STORE(store, "ps_store_get_batch");
    char who[PS__STORE_NAME_MAX + 32];
    snprintf(who, sizeof who, "store \"%s\": get_batch", store->name);
    PS__FORWARD(ps__batch_outputs_init(who, n, keys, outs, found));
    const ps_codec *codec = NULL;
    PS__FORWARD(ps__read_check(store, "get_batch", opts, &codec));
    if (n == 0)
        return PS_OK;
    uint64_t t0 = ps__t0(store);

    /* Scratch: miss indexes, their keys, raw buffers and found flags. */
    size_t *idx = ps_calloc(n, sizeof *idx);
    const ps_key **mkeys = ps_calloc(n, sizeof *mkeys);
    ps_bytes *raws = ps_calloc(n, sizeof *raws);
    bool *mfound = ps_calloc(n, sizeof *mfound);
    ps_status st = PS_OK;
    size_t m = 0, hits = 0;
    if (!idx || !mkeys || !raws || !mfound) {
        st = PS__ENOMEM("get_batch buffers");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        if (ps__cache_get(&store->cache, keys[i], &outs[i])) {
            hits++;
            if (found)
                found[i] = true;
        } else {
            idx[m] = i;
            mkeys[m] = keys[i];
            m++;
        }
    }
    if (store->metrics) {
        if (hits)
            ps__metrics_add_counter(store->metrics, "store.get.cache_hits", hits);
        if (m)
            ps__metrics_add_counter(store->metrics, "store.get.cache_misses", m);
    }
    if (m > 0) {
        st = ps__begin(store, "get_batch");
        if (st != PS_OK)
            goto out;
        uint64_t epoch = ps__cache_epoch(&store->cache);
        uint64_t tc = ps__t0(store);
        st = ps__conn_fail(store, ps_connector_get_batch(store->conn, m, mkeys, raws, mfound));
        ps__rec_time(store, "store.get_batch.connector", tc);
        ps__end(store);
        if (st != PS_OK)
            goto out;
        for (size_t j = 0; j < m && st == PS_OK; j++) {
            size_t i = idx[j];
            if (mfound[j]) {
                ps_bytes dec = PS_BYTES_INIT;
                st = ps__decode(store, codec, keys[i], &raws[j], &dec);
                if (st == PS_OK) {
                    ps__cache_put(&store->cache, keys[i], &dec, epoch, &outs[i]);
                    if (found)
                        found[i] = true;
                }
            } else if (opts && opts->has_default) {
                st = ps_bytes_copy(opts->default_data, opts->default_len, &outs[i]);
            }
        }
    }
    if (st == PS_OK)
        ps__rec_time(store, "store.get_batch", t0);
out:
    if (raws)
        ps_bytes_free_array(raws, n);
    if (st != PS_OK) {
        ps_bytes_free_array(outs, n);
        if (found)
            for (size_t i = 0; i < n; i++)
                found[i] = false;
    }
    ps_free(idx);
    ps_free(mkeys);
    ps_free(raws);
    ps_free(mfound);
    return st;
}

ps_status ps_store_exists(ps_store *store, const ps_key *key, bool *exists)
{
    PS__RETURN_IF(exists == NULL, PS_EINVAL, "ps_store_exists: out is NULL");
    *exists = false;
    PS__CHECK_STORE(store, "ps_store_exists");
    PS__RETURN_IF(key == NULL, PS_EINVAL, "store \"%s\": exists: key is NULL", store->name);
    if (ps__is_closed(store))
        return ps__closed_err(store, "exists");
    uint64_t t0 = ps__t0(store);
    if (ps__cache_contains(&store->cache, key)) {
        *exists = true;
        ps__rec_time(store, "store.exists", t0);
        return PS_OK;
    }
    PS__FORWARD(ps__begin(store, "exists"));
    uint64_t tc = ps__t0(store);
    ps_status st = ps__conn_fail(store, ps_connector_exists(store->conn, key, exists));
    ps__rec_time(store, "store.exists.connector", tc);
    ps__end(store);
    if (st == PS_OK)
        ps__rec_time(store, "store.exists", t0);
    return st;
}

bool ps_store_is_cached(ps_store *store, const ps_key *key)
{
    if (store == NULL || key == NULL)
        return false;
    return ps__cache_contains(&store->cache, key);
}

ps_status ps_store_evict(ps_store *store, const ps_key *key)
{
    PS__CHECK_STORE(store, "ps_store_evict");
    PS__RETURN_IF(key == NULL, PS_EINVAL, "store \"%s\": evict: key is NULL", store->name);
    uint64_t t0 = ps__t0(store);
    PS__FORWARD(ps__begin(store, "evict"));
    uint64_t tc = ps__t0(store);
    ps_status st = ps__conn_fail(store, ps_connector_evict(store->conn, key));
    ps__rec_time(store, "store.evict.connector", tc);
    ps__end(store);
    ps__cache_remove(&store->cache, key);
    if (st == PS_OK)
        ps__rec_time(store, "store.evict", t0);
    return st;
}

ps_status ps_store_new_key(ps_store *store, ps_key **key)
{
    PS__RETURN_IF(key == NULL, PS_EINVAL, "ps_store_new_key: out is NULL");
    *key = NULL;
    PS__CHECK_STORE(store, "ps_store_new_key");
    PS__FORWARD(ps__begin(store, "new_key"));
    ps_status st = ps__conn_fail(store, ps_connector_new_key(store->conn, key));
    ps__end(store);
    return st;
}

ps_status ps_store_set(ps_store *store, const ps_key *key, const void *data, size_t len)
{
    PS__CHECK_STORE(store, "ps_store_set");
    PS__RETURN_IF(key == NULL, PS_EINVAL, "store \"%s\": set: key is NULL", store->name);
    ps_iov item = {data, len}, iov;
    ps_bytes enc = PS_BYTES_INIT;
    PS__FORWARD(ps__write_check(store, PS__WRITE_SET, 1, &item, NULL));
    return ps__write(store, PS__WRITE_SET, 1, &item, &enc, &iov, NULL, key, NULL);
}

/* ---- the process registry -------------------------------------------------- */

ps_status ps_store_register(ps_store *store, bool replace)
{
    PS__RETURN_IF(store == NULL, PS_EINVAL, "ps_store_register: store is NULL");
    PS__RETURN_IF(ps__is_closed(store), PS_ESTATE, "store \"%s\": cannot register a closed store",
                  store->name);
    void *old = NULL;
    ps_status st = ps__registry_add(&ps__stores, store->name, store, replace, &old);
    ps_store_unref(old);
    return st;
}

ps_status ps_store_unregister(const char *name)
{
    PS__RETURN_IF(name == NULL, PS_EINVAL, "ps_store_unregister: name is NULL");
    ps_store_unref(ps__registry_remove(&ps__stores, name, NULL));
    return PS_OK;
}

ps_store *ps_store_lookup(const char *name)
{
    return name ? ps__registry_lookup(&ps__stores, name) : NULL;
}

ps_status ps_store_get_or_create(const char *config_json, ps_store **out)
{
    PS__RETURN_IF(out == NULL, PS_EINVAL, "ps_store_get_or_create: out is NULL");
    *out = NULL;
    PS__RETURN_IF(config_json == NULL, PS_EINVAL, "ps_store_get_or_create: config is NULL");
    json_t *cfg = NULL;
    PS__FORWARD(ps__json_parse_object(config_json, "store config", &cfg));
    const char *name = NULL;
    ps_status st = ps__store_config_name(cfg, &name);
    void *found = NULL, *stale = NULL;
    ps__reg_entry *mine = NULL; /* our placeholder, when we build */
    if (st == PS_OK)
        st = ps__registry_claim(&ps__stores, name, &found, &mine, &stale);
    ps_store_unref(stale);
    if (mine == NULL) {
        json_decref(cfg);
        *out = found;
        return st;
    }
    ps_store *s = NULL;
    st = ps__store_from_config_obj(cfg, false, &s);
    json_decref(cfg);
    ps__registry_settle(&ps__stores, mine, s);
    *out = s;
    return st;
}
