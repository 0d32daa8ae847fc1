/*
 * The local connector ("local"): objects in this process's memory.
 *
 * Like upstream ProxyStore's LocalConnector, the objects live in a map that
 * several connector instances may share. Every instance belongs to exactly
 * one map, named by its "store_id" option: instances opened with the same
 * store_id (in the same process) see the same objects, and an instance opened
 * without one gets a fresh private map with a generated id. The id is part
 * of config(), so opening from the configuration (what a proxy resolved in
 * this process does) reaches the same objects. Proxies of a local store
 * resolve only inside the process that made them.
 *
 * Options (JSON object given to ps_connector_open("local", ...)):
 *   "store_id"               string, [A-Za-z0-9._-]{1,64}; default: a fresh
 *                            random id (a private map)
 *   "include_data_in_config" upstream's option; only false is accepted
 *                            (a C configuration never carries the objects)
 *
 * Keys: "local:<uuid>/<store_id>". A key of another map is refused with
 * PS_EINVAL, and so is a key whose first field is not a canonical UUID.
 *
 * Lifetime: a map lives while at least one instance is open on it; closing
 * the last one frees its objects. close(PS_CLEAR_ALL) empties the map at once
 * (also for the other instances sharing it); the default is to keep them
 * (upstream's close() is a no-op).
 *
 * get() returns a zero-copy, read-only view of the stored object (reference
 * counted: it stays valid after evict, set or close until ps_bytes_free);
 * call ps_bytes_own() for a private writable copy.
 *
 * Thread safety: fully thread-safe (PS_CONNECTOR_THREADSAFE, sharded locks).
 */
#ifndef PROXYSTORE_CONNECTORS_LOCAL_H
#define PROXYSTORE_CONNECTORS_LOCAL_H

#include "../connector.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Longest store_id accepted, in bytes. */
#define PS_LOCAL_STORE_ID_MAX 64

#define PS_LOCAL_OPTIONS_VERSION 1

/** Options of ps_local_connector_open(), the C form of the JSON options. */
typedef struct ps_local_options {
    unsigned version;     /**< PS_LOCAL_OPTIONS_VERSION */
    const char *store_id; /**< the map to open; NULL: a fresh private map */
} ps_local_options;

/** Fill `o` with the defaults (a fresh private map). Accepts NULL.
 *  Ownership: `*o` is the caller's. */
PS_API void ps_local_options_init(ps_local_options *o);

/**
 * Open a local connector on the map named opts->store_id (created if no open
 * instance uses it yet), or on a fresh private map when it is NULL. `opts`
 * may be NULL for the defaults.
 * Returns PS_EINVAL for a malformed store_id or unknown options version,
 * PS_ENOMEM.
 * Ownership: `opts` is copied; `*out` is new; close it with
 * ps_connector_close().
 */
PS_API ps_status ps_local_connector_open(const ps_local_options *opts, ps_connector **out);

#ifdef __cplusplus
}
#endif
#endif
