/*
 * Connectors: where the bytes live.
 *
 * A ps_connector is an open instance of a connector type ("local", "file",
 * "redis", ...) found by name in a process-wide registry. Applications open
 * one from a type name and JSON options, hand it to a store, or call it
 * directly. Implementing a new type: see proxystore/sys/connector.h.
 *
 * Every operation checks its arguments (PS_EINVAL and a message), refuses keys
 * of another connector type or of another directory/namespace (PS_EINVAL),
 * and reports a missing object as PS_NOT_FOUND.
 *
 * Thread safety: a connector instance may be used from many threads at once.
 * Types that are not thread-safe themselves (see ps_connector_is_threadsafe)
 * are serialized by an internal mutex.
 */
#ifndef PROXYSTORE_CONNECTOR_H
#define PROXYSTORE_CONNECTOR_H

#include <stdbool.h>
#include <stddef.h>

#include "bytes.h"
#include "key.h"
#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ps_connector ps_connector;

/** How close() treats stored data. */
typedef enum ps_clear {
    PS_CLEAR_DEFAULT = -1, /**< what the connector's configuration says */
    PS_CLEAR_KEEP = 0,     /**< keep every object */
    PS_CLEAR_ALL = 1       /**< remove the objects this connector owns */
} ps_clear;

#define PS_PUT_OPTIONS_VERSION 1

/**
 * Per-put placement hints, used by the multi connector (others ignore them).
 * Pass NULL for none. Tags are borrowed for the duration of the call.
 */
typedef struct ps_put_options {
    unsigned version; /**< PS_PUT_OPTIONS_VERSION */
    const char *const *subset_tags;
    size_t n_subset_tags;
    const char *const *superset_tags;
    size_t n_superset_tags;
} ps_put_options;

/** Initialize `o` to no hints. Ownership: `*o` is the caller's. */
PS_API void ps_put_options_init(ps_put_options *o);

/**
 * Open a connector of type `kind` with options given as a JSON object text
 * ("{}" or NULL for the type's defaults). `kind` is matched as upstream
 * ProxyStore does: "file", "FILE", "FileConnector" and
 * "proxystore.connectors.file.FileConnector" all name the file connector.
 * An unknown kind or option is PS_EINVAL with a message naming it.
 * Ownership: `*out` is new; close it with ps_connector_close().
 */
PS_API ps_status ps_connector_open(const char *kind, const char *options_json, ps_connector **out);

/**
 * Close and free a connector. `clear` says whether its objects are removed
 * (PS_CLEAR_DEFAULT: as configured). Accepts NULL. Returns the first error met
 * while clearing; the connector is freed regardless.
 * Ownership: ends the caller's ownership of `conn`, whatever it returns
 * (but an invalid `clear` is PS_EINVAL and closes nothing).
 */
PS_API ps_status ps_connector_close(ps_connector *conn, ps_clear clear);

/** The connector's type name ("file"). Ownership: borrowed, static. */
PS_API const char *ps_connector_kind(const ps_connector *conn);

/** True when the type declares itself thread-safe (no internal serialization). Ownership: none. */
PS_API bool ps_connector_is_threadsafe(const ps_connector *conn);

/** True when the type supports new_key + set (deferred put). Ownership: none. */
PS_API bool ps_connector_is_deferrable(const ps_connector *conn);

/**
 * Store `len` bytes (len may be 0) and return their new key.
 * `opts` may be NULL. Ownership: `data` is borrowed; `*key` is new, free it
 * with ps_key_free().
 */
PS_API ps_status ps_connector_put(ps_connector *conn, const void *data, size_t len,
                                  const ps_put_options *opts, ps_key **key);

/**
 * Fetch an object. PS_NOT_FOUND when absent.
 * Ownership: `*out` belongs to the caller; free with ps_bytes_free().
 */
PS_API ps_status ps_connector_get(ps_connector *conn, const ps_key *key, ps_bytes *out);

/** Set `*exists` to whether an object is stored under `key`. Ownership: none. Returns PS_OK with
 * `*exists` set, PS_EINVAL, or the connector's error (PS_EIO, PS_ECONN, ...). */
PS_API ps_status ps_connector_exists(ps_connector *conn, const ps_key *key, bool *exists);

/** Remove an object. Evicting a missing key is not an error (PS_OK). Ownership: none. */
PS_API ps_status ps_connector_evict(ps_connector *conn, const ps_key *key);

/**
 * Store `n` objects; `keys[i]` gets the key of `items[i]`. On failure no key
 * is returned and the objects already written are evicted (best effort).
 * Ownership: `keys` is a caller array of n pointers; each new key is freed
 * with ps_key_free() (ps_key_free_array).
 */
PS_API ps_status ps_connector_put_batch(ps_connector *conn, size_t n, const ps_iov *items,
                                        const ps_put_options *opts, ps_key **keys);

/**
 * Fetch `n` objects. `outs[i]` gets object i and `found[i]` (optional, may be
 * NULL) whether it exists; a missing object is an empty buffer with found
 * false, not an error. Returns an error only when the batch as a whole
 * failed, then no buffer is returned.
 * Ownership: caller arrays of n; free the buffers with ps_bytes_free_array().
 */
PS_API ps_status ps_connector_get_batch(ps_connector *conn, size_t n, const ps_key *const *keys,
                                        ps_bytes *outs, bool *found);

/**
 * Reserve a key without storing anything (exists is false until
 * ps_connector_set). PS_ENOTSUP for types that are not deferrable.
 * Ownership: `*key` is new; free with ps_key_free().
 */
PS_API ps_status ps_connector_new_key(ps_connector *conn, ps_key **key);

/** Store bytes under a key made by ps_connector_new_key (overwrites). Ownership: `key` and `data`
 * are borrowed for the call (the key stays the caller's). */
PS_API ps_status ps_connector_set(ps_connector *conn, const ps_key *key, const void *data,
                                  size_t len);

/**
 * The connector's configuration as JSON text: {"kind": "<type>", "options":
 * {...}}. Opening the same kind with these options gives an equal connector.
 * Ownership: `*json` is new; free with ps_free().
 */
PS_API ps_status ps_connector_config(ps_connector *conn, char **json);

/** Number of registered connector types. Ownership: none. */
PS_API size_t ps_connector_type_count(void);

/** Name of registered type `i`, or NULL past the end. Ownership: static. */
PS_API const char *ps_connector_type_name(size_t i);

#ifdef __cplusplus
}
#endif
#endif
