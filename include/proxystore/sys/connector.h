/*
 * For connector authors: the connector vtable and registration.
 * Applications never include this header.
 *
 * A connector type is a `static const ps_connector_ops` registered once with
 * ps_connector_register(). The core (src/core/connector.c) owns the common
 * checks: it validates every argument, refuses keys whose type is not
 * ops->name, serializes calls into types without PS_CONNECTOR_THREADSAFE,
 * loops over put/get for types without batch functions, and fills in a
 * message when a function fails without leaving one. A function of the
 * vtable may therefore assume non-NULL arguments and keys of its own type,
 * but must still check the fields of a key (directory, namespace, ...).
 *
 * Options and configurations are jansson values (include <jansson.h>).
 * Buffers returned through ps_bytes are allocated with ps_malloc() or carry
 * their own release function.
 */
#ifndef PROXYSTORE_SYS_CONNECTOR_H
#define PROXYSTORE_SYS_CONNECTOR_H

#include <jansson.h>

#include "../connector.h"

#ifdef __cplusplus
extern "C" {
#endif

#define PS_CONNECTOR_OPS_VERSION 1

/** ops->flags: the functions may be called from many threads at once. */
#define PS_CONNECTOR_THREADSAFE 0x1u

typedef struct ps_connector_ops {
    unsigned version; /**< PS_CONNECTOR_OPS_VERSION */
    const char *name; /**< type name, [a-z0-9_]+: the key type and config "kind" */
    unsigned flags;   /**< PS_CONNECTOR_* flags */

    /**
     * Build an instance from `options` (a JSON object, borrowed; never NULL).
     * An unknown option or a value of the wrong type is PS_EINVAL with a
     * message naming it. Returns PS_OK, PS_EINVAL, PS_ENOMEM, PS_EIO,
     * PS_ECONN, PS_EAUTH, PS_EUNAVAILABLE.
     */
    ps_status (*open)(json_t *options, void **priv);

    /**
     * Release the instance. `clear` is PS_CLEAR_KEEP or PS_CLEAR_ALL (the core
     * resolves PS_CLEAR_DEFAULT through default_clear). Must free `priv`
     * whatever it returns. Returns PS_OK or the first error met while clearing.
     */
    ps_status (*close)(void *priv, ps_clear clear);

    /** Whether close(PS_CLEAR_DEFAULT) clears, from the configuration. */
    bool (*default_clear)(void *priv);

    /**
     * The options that rebuild this instance, as a new JSON object (the
     * caller takes the reference). open(config()) must give an equal instance.
     * Returns PS_OK or PS_ENOMEM; `*options` is NULL on failure.
     */
    ps_status (*config)(void *priv, json_t **options);

    /** Store bytes under a new key (`*key` new). opts may be NULL.
     *  Returns PS_OK, PS_ENOMEM, PS_EIO, PS_ECONN, PS_EPROTO, PS_ETOOBIG, ... */
    ps_status (*put)(void *priv, const void *data, size_t len, const ps_put_options *opts,
                     ps_key **key);

    /**
     * Fetch. Returns PS_OK with `*out` filled (the caller's, ps_bytes_free);
     * PS_NOT_FOUND when no object is stored under the key (not a failure:
     * `*out` stays empty and no message is needed); PS_EINVAL for a key of
     * another directory/namespace/store; or a transport or storage error
     * (PS_EIO, PS_ECONN, PS_ETIMEDOUT, PS_EPROTO, PS_EAUTH, PS_ENOMEM) with a
     * message. `*out` is empty on every status but PS_OK.
     */
    ps_status (*get)(void *priv, const ps_key *key, ps_bytes *out);

    /**
     * Existence test. Returns PS_OK with `*exists` set (a missing object is
     * PS_OK with false, never PS_NOT_FOUND); PS_EINVAL for a key of another
     * directory/namespace/store; or a transport or storage error as for get.
     */
    ps_status (*exists)(void *priv, const ps_key *key, bool *exists);

    /**
     * Remove. Returns PS_OK, also when no object was stored under the key
     * (never PS_NOT_FOUND); PS_EINVAL for a key of another
     * directory/namespace/store; or a transport or storage error as for get.
     */
    ps_status (*evict)(void *priv, const ps_key *key);

    /** Optional (NULL: the core loops over put). Same contract as
     *  ps_connector_put_batch. */
    ps_status (*put_batch)(void *priv, size_t n, const ps_iov *items, const ps_put_options *opts,
                           ps_key **keys);

    /** Optional (NULL: the core loops over get). Same contract as
     *  ps_connector_get_batch, except `found` is never NULL. */
    ps_status (*get_batch)(void *priv, size_t n, const ps_key *const *keys, ps_bytes *outs,
                           bool *found);

    /** Optional pair for deferred puts (NULL: PS_ENOTSUP). */
    ps_status (*new_key)(void *priv, ps_key **key);
    ps_status (*set)(void *priv, const ps_key *key, const void *data, size_t len);
} ps_connector_ops;

/**
 * Register a connector type. `ops` is not copied: it must live as long as the
 * process (make it static const). A name already taken is PS_EEXIST; a bad
 * version, name or missing required function is PS_EINVAL.
 * Thread safety: safe.
 * Ownership: `ops` is borrowed for the rest of the process (static storage).
 */
PS_API ps_status ps_connector_register(const ps_connector_ops *ops);

/**
 * Find a registered type by name, matched as ps_connector_open() does.
 * Returns NULL when unknown. Ownership: borrowed.
 */
PS_API const ps_connector_ops *ps_connector_find(const char *kind);

/**
 * Open a connector of `ops` type from borrowed JSON options (NULL: {}).
 * Ownership: `*out` is new; close with ps_connector_close().
 */
PS_API ps_status ps_connector_open_json(const ps_connector_ops *ops, json_t *options,
                                        ps_connector **out);

/**
 * The configuration as a new JSON object {"kind": ..., "options": ...}.
 * Ownership: the caller owns the returned reference (json_decref).
 */
PS_API ps_status ps_connector_config_json(ps_connector *conn, json_t **config);

/**
 * Open a connector from a configuration object {"kind": ..., "options": ...}
 * as produced by ps_connector_config_json. Unknown fields are PS_EINVAL.
 * Ownership: `config` borrowed; `*out` new.
 */
PS_API ps_status ps_connector_from_config_json(json_t *config, ps_connector **out);

/**
 * The instance data of `conn` when it is an instance of type `ops`, else
 * NULL. For a connector type's own public functions that take a
 * ps_connector (e.g. ps_multi_connector_entry). Ownership: borrowed; valid
 * while `conn` is open.
 */
PS_API void *ps_connector_priv(ps_connector *conn, const ps_connector_ops *ops);

#ifdef __cplusplus
}
#endif
#endif
