/*
 * Proxies: pass an object by reference and resolve it just in time.
 *
 * A ps_proxy holds a *factory* (upstream's StoreFactory): the object's key,
 * the configuration of the store that holds it, whether to evict the object
 * after the first successful resolve, an optional decoder (codec) override,
 * and the metrics flag of the store configuration. ps_proxy_resolve() fetches
 * the object once, in any process: it finds the store by name in the process
 * registry or builds it from the configuration and registers it
 * (ps_store_get_or_create), gets and decodes the bytes, and keeps them.
 *
 * A proxy crosses processes as a *token* (ps_proxy_encode/ps_proxy_decode):
 * "ps1." followed by unpadded base64url, printable ASCII with no whitespace
 * or shell-special characters; at most 256 bytes for a single-connector store
 * with a UUID key and a typical configuration. The byte layout is documented
 * in docs/proxy.md. Decoding a token never loads code; resolving it connects
 * at most to what its configuration names.
 *
 * Lifetime: proxies are reference counted (atomic). Functions that make a
 * proxy return a new reference; ps_proxy_ref() adds one, ps_proxy_unref()
 * drops one and the last frees the proxy and its target.
 *
 * Thread safety: every function may be called from many threads on the same
 * proxy. Concurrent resolves fetch once; the others wait for that fetch.
 * Not implemented (upstream has them): lifetimes, owned/borrowed references,
 * polling factories (futures).
 */
#ifndef PROXYSTORE_PROXY_H
#define PROXYSTORE_PROXY_H

#include <stdbool.h>
#include <stddef.h>

#include "bytes.h"
#include "connector.h"
#include "key.h"
#include "status.h"
#include "store.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ps_proxy ps_proxy;

/** Text that starts every token of the current format. */
#define PS_PROXY_TOKEN_PREFIX "ps1."
/** Longest token ps_proxy_decode() accepts, in bytes without the NUL. */
#define PS_PROXY_TOKEN_MAX 65536

#define PS_PROXY_OPTIONS_VERSION 1

typedef struct ps_proxy_options {
    unsigned version;  /**< PS_PROXY_OPTIONS_VERSION */
    bool evict;        /**< evict the object after the first successful resolve */
    const char *codec; /**< decode with this codec instead of the store's; NULL: store's */
    ps_populate populate_target; /**< PS_POPULATE_DEFAULT (the store's), _NO or _YES */
    const ps_put_options *put;   /**< placement hints for the put (multi connector); NULL: none */
    /**
     * Reserved for upstream's lifetimes, which are not implemented: must be
     * NULL. Non-NULL together with evict is PS_EINVAL ("The evict and lifetime
     * parameters are mutually exclusive", upstream's ValueError); non-NULL
     * alone is PS_ENOTSUP.
     */
    const void *lifetime;
} ps_proxy_options;

/** Fill `o` with the defaults: no evict, store's codec, store's
 *  populate_target, no placement hints, no lifetime. Accepts NULL.
 * Ownership: `*o` is the caller's.
 */
PS_API void ps_proxy_options_init(ps_proxy_options *o);

/* ---- making proxies (upstream Store.proxy*) ----------------------------- */

/**
 * Put `len` bytes into `store` and make a proxy of them (upstream
 * Store.proxy). With populate_target (the option, else the store's default)
 * the proxy starts resolved holding a copy of `data` (no I/O to resolve; a
 * codec override is then not applied locally, as upstream). Records
 * "store.proxy" when the store has metrics on.
 * Ownership: `data` borrowed; `*out` is a new reference (ps_proxy_unref).
 * `opts` may be NULL for the defaults.
 */
PS_API ps_status ps_store_proxy(ps_store *store, const void *data, size_t len,
                                const ps_proxy_options *opts, ps_proxy **out);

/**
 * Put `n` objects in one batch and make one proxy each (upstream
 * Store.proxy_batch); `out[i]` is the proxy of `items[i]`. On failure no
 * proxy is returned (every out[i] is NULL).
 * Ownership: `items` borrowed; `out` is a caller array of n pointers, each a
 * new reference.
 */
PS_API ps_status ps_store_proxy_batch(ps_store *store, size_t n, const ps_iov *items,
                                      const ps_proxy_options *opts, ps_proxy **out);

/**
 * A lazy proxy of an object already stored under `key` (upstream
 * Store.proxy_from_key). The key's existence is not checked: resolving a
 * missing key fails later with PS_NOT_FOUND. opts->populate_target is ignored.
 * Ownership: `key` borrowed (copied); `*out` a new reference.
 */
PS_API ps_status ps_store_proxy_from_key(ps_store *store, const ps_key *key,
                                         const ps_proxy_options *opts, ps_proxy **out);

/**
 * As ps_store_proxy, but the proxy is locked (upstream Store.locked_proxy /
 * ProxyLocker): resolving it is PS_ESTATE until ps_proxy_unlock(). The lock
 * travels in the token.
 * Ownership: as ps_store_proxy.
 */
PS_API ps_status ps_store_locked_proxy(ps_store *store, const void *data, size_t len,
                                       const ps_proxy_options *opts, ps_proxy **out);

/**
 * A proxy from its parts (upstream StoreFactory(key, store_config, evict,
 * deserializer)): the store's configuration as ps_store_config() writes it.
 * The configuration must be a JSON object with a non-empty "name" and a
 * "connector" object with a "kind"; it is not opened here.
 * opts->populate_target is ignored (the proxy is lazy).
 * Ownership: inputs borrowed (copied); `*out` a new reference.
 */
PS_API ps_status ps_proxy_new(const ps_key *key, const char *store_config_json,
                              const ps_proxy_options *opts, ps_proxy **out);

/* ---- references ------------------------------------------------------------ */

/** Add a reference (atomic). Returns `proxy`; accepts NULL. Ownership: the caller owns the added
 * reference (ps_proxy_unref). */
PS_API ps_proxy *ps_proxy_ref(ps_proxy *proxy);

/**
 * Drop a reference (atomic). The last one waits for a pending asynchronous
 * resolve (which holds its own reference, so this cannot happen while one is
 * running) and frees the proxy and its target. Accepts NULL.
 * Ownership: ends the caller's reference.
 */
PS_API void ps_proxy_unref(ps_proxy *proxy);

/* ---- resolving ------------------------------------------------------------- */

/**
 * Resolve the proxy and give its target: the first call fetches (or waits for
 * a fetch in progress, including one started by ps_proxy_resolve_async); the
 * next calls do no I/O. With evict-on-resolve the object is evicted exactly
 * once, after the first successful fetch. Records "factory.resolve" when the
 * store has metrics on.
 * Returns PS_OK; PS_NOT_FOUND when the store has no object under the key,
 * with the message "Cannot resolve target object with key='<key>' from
 * Store(name='<name>') because there is no object associated with the key.";
 * PS_ESTATE when the proxy is locked; or the store's error (PS_ECODEC,
 * PS_EIO, PS_ECONN, unknown connector type: PS_EINVAL, ...). A failed fetch
 * leaves the proxy unresolved: a later call tries again. Threads that waited
 * for a fetch that failed get its status and message.
 * Ownership: `*data` (may be NULL if not wanted, as may `len`) is borrowed:
 * valid as long as the caller holds its reference to the proxy. Read-only.
 */
PS_API ps_status ps_proxy_resolve(ps_proxy *proxy, const void **data, size_t *len);

/**
 * Start resolving on the process-wide worker pool and return at once
 * (upstream resolve_async). A no-op when resolved or already resolving. A
 * later ps_proxy_resolve waits for this fetch and returns its result. The
 * pool starts lazily on first use (4 threads) and stops at process exit or
 * with ps_proxy_pool_shutdown(). Returns PS_ESTATE when locked, PS_ENOMEM or
 * PS_EIO (threads could not start).
 * Ownership: the job holds its own reference to the proxy while it runs.
 */
PS_API ps_status ps_proxy_resolve_async(ps_proxy *proxy);

/**
 * Finish every queued asynchronous resolve, stop the pool's threads and wait
 * for them. Called automatically at exit; a later ps_proxy_resolve_async
 * starts the pool again. Thread safety: safe, but not from a pool thread.
 * Ownership: none.
 */
PS_API void ps_proxy_pool_shutdown(void);

/** True when the proxy holds its target (resolve would do no I/O). Ownership: none. */
PS_API bool ps_proxy_is_resolved(ps_proxy *proxy);

/** Unlock a locked proxy (upstream ProxyLocker.unlock); PS_OK if not locked. Ownership: none. */
PS_API ps_status ps_proxy_unlock(ps_proxy *proxy);

/** True when the proxy is locked. Ownership: none. */
PS_API bool ps_proxy_is_locked(ps_proxy *proxy);

/* ---- the factory's parts ----------------------------------------------------- */

/** The key (upstream get_key). Ownership: borrowed; lives as long as the proxy. */
PS_API const ps_key *ps_proxy_key(const ps_proxy *proxy);

/** The store's name from its configuration. Ownership: borrowed. */
PS_API const char *ps_proxy_store_name(const ps_proxy *proxy);

/** The store's configuration as JSON text. Ownership: borrowed. */
PS_API const char *ps_proxy_store_config(const ps_proxy *proxy);

/** The decoder override, or NULL for the store's codec. Ownership: borrowed. */
PS_API const char *ps_proxy_codec(const ps_proxy *proxy);

/** Whether the object is evicted after the first successful resolve. Ownership: none. */
PS_API bool ps_proxy_evicts(const ps_proxy *proxy);

/** The metrics flag of the store configuration (metrics recorded on resolve). Ownership: none. */
PS_API bool ps_proxy_metrics(const ps_proxy *proxy);

/**
 * The store this proxy resolves from: the one registered under the
 * configuration's name, else a new one built from the configuration and
 * registered (upstream get_store(proxy) / StoreFactory.get_store).
 * Ownership: `*out` is a new reference (ps_store_unref).
 */
PS_API ps_status ps_proxy_get_store(ps_proxy *proxy, ps_store **out);

/**
 * The factory as JSON text, for people:
 *   {"key": "<key text>", "store": {<store configuration>}, "evict": b,
 *    "codec": "<name>"|null, "locked": b, "resolved": b}
 * Ownership: `*json` is new; free with ps_free().
 */
PS_API ps_status ps_proxy_to_json(ps_proxy *proxy, char **json);

/* ---- tokens -------------------------------------------------------------------- */

/**
 * Encode the proxy's factory (not its target) as a token: key, store
 * configuration, evict, codec override and the lock.
 * Ownership: `*token` is new, NUL-terminated; free with ps_free().
 * Returns PS_EINVAL when the configuration holds something a token cannot
 * carry (e.g. a non-finite number).
 */
PS_API ps_status ps_proxy_encode(ps_proxy *proxy, char **token);

/**
 * Make an unresolved proxy from a token written by ps_proxy_encode in any
 * process. Garbage, truncated or altered tokens, or a newer format, are
 * PS_EINVAL with a message; the input is never trusted (every length is
 * bounds-checked, and a CRC-32 detects alteration). Nothing is opened.
 * Ownership: `token` borrowed; `*out` is a new reference.
 */
PS_API ps_status ps_proxy_decode(const char *token, ps_proxy **out);

#ifdef __cplusplus
}
#endif
#endif
