/*
 * The DAOS connector ("daos"): objects in one dictionary of a DAOS
 * container, stored exactly as pydaos stores a DDict, so Python code using
 * pydaos (and upstream ProxyStore's DAOSConnector) reads what we write and
 * the other way round. Reference: docs/connectors-daos.md.
 *
 * libdaos is not linked: it is loaded at run time with dlopen
 * ("libdaos.so.2", or the path in $PROXYSTORE_DAOS_LIBRARY) the first time a
 * DAOS connector is opened. When it cannot be loaded, opening fails with
 * PS_EUNAVAILABLE and dlerror()'s text; the rest of the library is not
 * affected, and ps_version_info() reports it under features.daos.
 *
 * Options (JSON object given to ps_connector_open("daos", ...)), the same as
 * upstream's DAOSConnector(pool, container, namespace, clear):
 *   "pool"      string, required: pool label or UUID
 *   "container" string, required: container label or UUID. The container
 *               must have layout type PYTHON (`daos cont create POOL LABEL
 *               --type PYTHON`); others are refused with PS_EINVAL.
 *   "namespace" string, required: the name of the dictionary in the
 *               container's root (UTF-8, no NUL); created when missing.
 *   "clear"     bool, default false: whether close() removes every key of
 *               the dictionary.
 *
 * Keys: "daos:<pool>/<container>/<namespace>/<uuid>" (percent-encoded
 * fields). A key of another pool, container or namespace is refused with
 * PS_EINVAL, like upstream's _validate_key.
 *
 * Empty objects: a DAOS KV cannot hold an empty value (an update of size 0
 * removes the key, and pydaos reads an empty value as absent). An empty
 * object is therefore stored as the marker key "<uuid>#empty" holding one
 * NUL byte, with "<uuid>" itself absent; pydaos sees such an object as
 * absent, which is what it makes of an empty value itself. Object keys that
 * end in "#empty" are refused (PS_EINVAL). Reading a missing or empty
 * object costs a second lookup (the marker).
 *
 * Thread safety: thread-safe (PS_CONNECTOR_THREADSAFE). Batches run up to 16
 * operations in flight on an event queue taken from a per-connector pool.
 * Like the DAOS client itself, a connector must not be used across fork():
 * open it in the process that uses it.
 */
#ifndef PROXYSTORE_CONNECTORS_DAOS_H
#define PROXYSTORE_CONNECTORS_DAOS_H

#include <stdbool.h>

#include "../connector.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Operations in flight at once in a batch (pydaos's MAX_INFLIGHT). */
#define PS_DAOS_MAX_INFLIGHT 16

#define PS_DAOS_OPTIONS_VERSION 1

/** Options of ps_daos_connector_open(), the C form of the JSON options. */
typedef struct ps_daos_options {
    unsigned version;       /**< PS_DAOS_OPTIONS_VERSION */
    const char *pool;       /**< required: pool label or UUID */
    const char *container;  /**< required: container label or UUID */
    const char *namespace_; /**< required: the dictionary's name */
    bool clear;             /**< close(PS_CLEAR_DEFAULT) removes every key; default false */
} ps_daos_options;

/** Fill `o` with the defaults (no pool, container or namespace; clear
 *  false). Accepts NULL. Ownership: `*o` is the caller's. */
PS_API void ps_daos_options_init(ps_daos_options *o);

/**
 * Open a DAOS connector on dictionary opts->namespace_ of container
 * opts->container in pool opts->pool.
 * Returns PS_EINVAL (NULL options, bad argument, missing pool or container,
 * wrong layout type, unknown options version), PS_EUNAVAILABLE (libdaos
 * cannot be loaded or initialised), PS_ECONN, PS_EIO, PS_ENOMEM.
 * Ownership: `opts` is copied; `*out` is new, close it with
 * ps_connector_close().
 */
PS_API ps_status ps_daos_connector_open(const ps_daos_options *opts, ps_connector **out);

/**
 * Whether libdaos can be loaded in this process (loads it on first call).
 * `detail` (may be NULL) gets "loaded <path>" or dlerror()'s text.
 * Ownership: `*detail` is static; valid for the life of the process.
 * Thread safety: safe.
 */
PS_API bool ps_daos_available(const char **detail);

#ifdef __cplusplus
}
#endif
#endif
