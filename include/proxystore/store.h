/*
 * Stores: the application's interface to put, get and proxy objects.
 *
 * A ps_store wraps one connector with a codec, an LRU cache of decoded
 * objects and optional metrics, and can be registered by name in a
 * process-wide registry (how proxies find it). It follows upstream
 * ProxyStore's proxystore.store.base.Store.
 *
 * Lifetime: stores are reference counted. ps_store_new() returns the first
 * reference; ps_store_ref(), ps_store_unref() and ps_store_close() (and how
 * close differs from unref) are described once, under "Reference verbs" in
 * proxystore.h. After a close, other holders get PS_ESTATE from every
 * operation.
 *
 * Thread safety: every function is safe to call from many threads on the same
 * store; calls into a connector that is not thread-safe are serialized.
 */
#ifndef PROXYSTORE_STORE_H
#define PROXYSTORE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bytes.h"
#include "connector.h"
#include "key.h"
#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ps_store ps_store;

/** Whether a proxy starts resolved (the populate_target option of stores
 *  and proxies): one type for both. */
typedef enum ps_populate {
    PS_POPULATE_DEFAULT = -1, /**< proxy options: the store's setting; store options: YES */
    PS_POPULATE_NO = 0,       /**< the proxy starts unresolved (lazy) */
    PS_POPULATE_YES = 1       /**< the proxy starts resolved with a copy of the object */
} ps_populate;

/* 2: populate_target became a ps_populate (was bool). */
#define PS_STORE_OPTIONS_VERSION 2
/** Default number of decoded objects a store caches (upstream's 16). */
#define PS_STORE_DEFAULT_CACHE_SIZE 16

typedef struct ps_store_options {
    unsigned version;            /**< PS_STORE_OPTIONS_VERSION */
    const char *codec;           /**< codec name; NULL means "raw" */
    long cache_size;             /**< max cached objects; 0 disables; < 0 is PS_EINVAL */
    size_t cache_bytes;          /**< max cached bytes (decoded); 0 means no byte bound */
    bool metrics;                /**< record metrics */
    bool register_store;         /**< register by name at creation (PS_EEXIST if taken) */
    ps_populate populate_target; /**< proxies made by the store start resolved
                                      (PS_POPULATE_YES, the default) or lazy (NO) */
} ps_store_options;

/** Fill `o` with the defaults: raw codec, 16 objects, no byte bound, no
 *  metrics, not registered, populate_target PS_POPULATE_YES.
 * Ownership: `*o` is the caller's.
 */
PS_API void ps_store_options_init(ps_store_options *o);

/**
 * Make a store named `name` (non-empty, at most 255 bytes, UTF-8) over
 * `connector`. `opts` may be NULL for the defaults.
 * Returns PS_OK; PS_EINVAL (bad name, options or codec name); PS_EEXIST
 * (opts->register_store and the name is taken); PS_ENOMEM.
 * Ownership: takes `connector` when it returns PS_OK (closing the store
 * closes it); on failure `connector` is still the caller's, open and
 * untouched. `name` and `opts` are copied. `*out` is a new reference.
 */
PS_API ps_status ps_store_new(const char *name, ps_connector *connector,
                              const ps_store_options *opts, ps_store **out);

/**
 * Build a store from its JSON configuration (as ps_store_config writes it):
 *   {"name": ..., "connector": {"kind": ..., "options": {...}}, "codec": ...,
 *    "cache_size": ..., "cache_bytes": ..., "metrics": ...,
 *    "populate_target": ..., "auto_register": ...}
 * Missing fields take the defaults; unknown fields are PS_EINVAL.
 * Ownership: `*out` is a new reference.
 */
PS_API ps_status ps_store_from_config(const char *config_json, ps_store **out);

/**
 * The store's configuration as JSON text (see ps_store_from_config);
 * from_config(config()) gives an equal store.
 * Ownership: `*json` is new; free with ps_free().
 */
PS_API ps_status ps_store_config(ps_store *store, char **json);

/** Add a reference. Returns `store`; accepts NULL.
 *  Ownership: the caller owns the added reference (ps_store_unref). */
PS_API ps_store *ps_store_ref(ps_store *store);

/** Drop a reference without closing. The last one frees the store (and
 *  closes its connector with PS_CLEAR_KEEP if still open). Accepts NULL.
 *  Ownership: ends the caller's reference. */
PS_API void ps_store_unref(ps_store *store);

/**
 * Unregister the store (if registered under its name), close its connector
 * (`clear` as in ps_connector_close) and drop the caller's reference.
 * Accepts NULL. A second close of the same store (through another reference)
 * is PS_OK and does nothing. Returns the connector's close status.
 * Ownership: ends the caller's reference, whatever it returns (but an
 * invalid `clear` is PS_EINVAL and changes nothing).
 */
PS_API ps_status ps_store_close(ps_store *store, ps_clear clear);

/** The store's name. Ownership: borrowed, valid while the store lives. */
PS_API const char *ps_store_name(const ps_store *store);

/** The codec's name. Ownership: borrowed, static. */
PS_API const char *ps_store_codec(const ps_store *store);

/** The connector. Ownership: borrowed; do not close it. */
PS_API ps_connector *ps_store_connector(ps_store *store);

/**
 * Copy the options the store was made with into `*out` (its codec points to
 * static storage). Not to be confused with ps_get_options, the options of one
 * ps_store_get. Fill `*out` with ps_store_options_init() first: its version
 * says which struct the caller has (PS_EINVAL for one this library does not
 * know). Returns PS_OK or PS_EINVAL (NULL argument, unknown version).
 * Ownership: `*out` is the caller's; its strings are static.
 */
PS_API ps_status ps_store_options_of(const ps_store *store, ps_store_options *out);

/**
 * Encode and store `len` bytes; `*key` gets the new key. Does not populate
 * the cache. Ownership: `data` borrowed; `*key` new (ps_key_free).
 */
PS_API ps_status ps_store_put(ps_store *store, const void *data, size_t len,
                              const ps_put_options *opts, ps_key **key);

/** Store `n` objects in one connector batch; `keys[i]` is the key of
 *  `items[i]`. Ownership: as ps_connector_put_batch (`items` borrowed; each
 *  `keys[i]` new, ps_key_free). */
PS_API ps_status ps_store_put_batch(ps_store *store, size_t n, const ps_iov *items,
                                    const ps_put_options *opts, ps_key **keys);

#define PS_GET_OPTIONS_VERSION 1

typedef struct ps_get_options {
    unsigned version;  /**< PS_GET_OPTIONS_VERSION */
    const char *codec; /**< decode with this codec instead of the store's; NULL: store's */
    bool has_default;  /**< return a copy of default_data instead of PS_NOT_FOUND */
    const void *default_data;
    size_t default_len;
} ps_get_options;

/** Initialize `o`: no override, no default. Ownership: `*o` is the caller's. */
PS_API void ps_get_options_init(ps_get_options *o);

/**
 * Get the decoded object: from the cache when there, else from the connector
 * (then decoded and cached). A missing key is PS_NOT_FOUND, unless
 * opts->has_default. A decoder override is ignored on a cache hit (as
 * upstream). Ownership: `*out` is the caller's (ps_bytes_free); a cache hit
 * is a zero-copy view of the cached object.
 */
PS_API ps_status ps_store_get(ps_store *store, const ps_key *key, const ps_get_options *opts,
                              ps_bytes *out);

/** Get `n` objects; `found[i]` (may be NULL) tells which exist; missing
 *  objects are empty buffers (or the default). Ownership: as
 *  ps_connector_get_batch (`keys` borrowed; each `outs[i]` the caller's,
 *  ps_bytes_free_array). */
PS_API ps_status ps_store_get_batch(ps_store *store, size_t n, const ps_key *const *keys,
                                    const ps_get_options *opts, ps_bytes *outs, bool *found);

/** Whether the key is cached or the connector has it. Ownership: none. */
PS_API ps_status ps_store_exists(ps_store *store, const ps_key *key, bool *exists);

/** Whether the key is in this store's cache (no connector call). Ownership: none. */
PS_API bool ps_store_is_cached(ps_store *store, const ps_key *key);

/** Evict from the connector and the cache; a missing key is PS_OK. Ownership: none. */
PS_API ps_status ps_store_evict(ps_store *store, const ps_key *key);

/** Reserve a key for a deferred put (PS_ENOTSUP if the connector cannot). Ownership: `*key` is new;
 * free with ps_key_free(). */
PS_API ps_status ps_store_new_key(ps_store *store, ps_key **key);

/** Encode and store bytes under a reserved key, and drop the key from this
 *  store's cache (upstream's Store._set).
 * Ownership: `key` and `data` are borrowed for the call.
 */
PS_API ps_status ps_store_set(ps_store *store, const ps_key *key, const void *data, size_t len);

/* ---- process-wide registry ---------------------------------------------- */

/**
 * Register `store` under its name; the registry takes its own reference.
 * A name in use is PS_EEXIST unless `replace`, which replaces the other.
 * Ownership: the registry takes a reference of its own (the caller keeps its reference).
 */
PS_API ps_status ps_store_register(ps_store *store, bool replace);

/** Remove the store registered under `name`; an unknown name is PS_OK. Ownership: the registry
 * drops its reference; `name` is borrowed for the call. */
PS_API ps_status ps_store_unregister(const char *name);

/**
 * The store registered under `name`, or NULL.
 * Ownership: a new reference; drop it with ps_store_unref().
 */
PS_API ps_store *ps_store_lookup(const char *name);

/**
 * The store registered under the configuration's name, else a new one built
 * from `config_json` and registered (upstream's get_or_create_store). Many
 * threads calling this for the same unknown name build the store once.
 * Ownership: `*out` is a new reference (ps_store_unref).
 */
PS_API ps_status ps_store_get_or_create(const char *config_json, ps_store **out);

#ifdef __cplusplus
}
#endif
#endif
