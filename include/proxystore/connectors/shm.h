/*
 * The shared-memory connector ("shm"): objects in POSIX shared memory
 * (tmpfs, /dev/shm by default), shared by every process of the host that
 * knows the store's name. Reference: docs/connectors-shm.md.
 *
 * Layout. A store named NAME is the directory <dir>/proxystore-shm.NAME/
 * holding
 *   index           the arena: a header with a process-shared robust mutex,
 *                   counters and limits, a hash index of every object, and a
 *                   heap of size-classed blocks for small objects
 *   <uuid>          one segment per large object (more than
 *                   PS_SHM_SMALL_MAX bytes, or when the heap is full)
 *   .<uuid>.<pid>.tmp  a large object being written by process <pid>
 * An object exists exactly when the index holds it; the index is changed
 * only under the mutex, after the object's bytes are complete (small ones
 * are copied into their block first, large ones are written to a temporary
 * segment that is renamed to <uuid> under the mutex). So readers never see a
 * partial object, and a process killed in the middle of a put leaves nothing
 * visible: the next process that takes the mutex after an owner died
 * (EOWNERDEAD) rebuilds the index, the heap's free lists and the counters;
 * temporary segments of dead writers are removed by ps_shm_gc() (also run at
 * open and before a put fails with PS_ENOSPC).
 *
 * Memory is reserved with posix_fallocate(3) before it is touched (segments,
 * the index, heap growth), so a full tmpfs or a capacity limit is PS_ENOSPC
 * with a message, never SIGBUS.
 *
 * get() of a large object returns a zero-copy, read-only view of its segment
 * (mmap; ps_bytes_free unmaps it). It stays valid after evict, set or clear
 * (the kernel keeps the pages while mapped). Small objects are copied out of
 * the heap (cheaper than a mapping, and no reference count lives in shared
 * memory that a crash could leak). With "copy_on_get" every get copies.
 *
 * Options (JSON object given to ps_connector_open("shm", ...)):
 *   "name"         string [A-Za-z0-9._-]{1,100} (not "." or ".."), required
 *   "dir"          string, absolute path of a tmpfs directory; default
 *                  "/dev/shm"
 *   "max_bytes"    integer >= 0: most bytes of objects the store holds
 *                  (all processes together); 0 (default) = no limit but the
 *                  file system's
 *   "max_objects"  integer 1..16777216, default 65536: most objects; the
 *                  process that creates the store sizes the index for it
 *   "copy_on_get"  bool, default false: get() returns owned copies
 *   "clear"        bool, default false: close(PS_CLEAR_DEFAULT) keeps the
 *                  objects, so they outlive the producer until evicted or
 *                  removed (ps_shm_remove, `proxystore shm rm NAME`)
 * config() writes "name" and every option that differs from its default.
 *
 * Keys: "shm:<uuid>/<name>". A key of another store name, or whose object id
 * is not a canonical UUID, is refused with PS_EINVAL.
 *
 * close(PS_CLEAR_ALL) removes every object and the store's directory; other
 * processes (or instances) still open on the store notice it on their next
 * call and continue on a fresh, empty store of the same name.
 *
 * Files are created mode 0600 (directories 0700): processes of the same
 * user share a store.
 *
 * Thread safety: fully thread-safe (PS_CONNECTOR_THREADSAFE); any number of
 * processes may open the same store.
 */
#ifndef PROXYSTORE_CONNECTORS_SHM_H
#define PROXYSTORE_CONNECTORS_SHM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../connector.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Longest store name accepted, in bytes. */
#define PS_SHM_NAME_MAX 100
/** Largest object kept in the shared heap; larger ones get a segment. */
#define PS_SHM_SMALL_MAX ((size_t)65536 - 16)
/** The default "dir". */
#define PS_SHM_DEFAULT_DIR "/dev/shm"

/** The default "max_objects". */
#define PS_SHM_DEFAULT_MAX_OBJECTS 65536

#define PS_SHM_OPTIONS_VERSION 1

/** Options of ps_shm_connector_open(), the C form of the JSON options. */
typedef struct ps_shm_options {
    unsigned version;     /**< PS_SHM_OPTIONS_VERSION */
    const char *name;     /**< required: the store's name */
    const char *dir;      /**< absolute tmpfs directory; NULL: PS_SHM_DEFAULT_DIR */
    uint64_t max_bytes;   /**< most bytes of objects; 0: no limit */
    uint64_t max_objects; /**< most objects, 1..16777216; default PS_SHM_DEFAULT_MAX_OBJECTS */
    bool copy_on_get;     /**< get() returns owned copies; default false */
    bool clear;           /**< close(PS_CLEAR_DEFAULT) removes the store; default false */
} ps_shm_options;

/** Fill `o` with the defaults (no name, "/dev/shm", no byte limit, 65536
 *  objects, views, keep on close). Accepts NULL.
 *  Ownership: `*o` is the caller's. */
PS_API void ps_shm_options_init(ps_shm_options *o);

/**
 * Open (creating it if needed) the shm store opts->name.
 * Returns PS_EINVAL (NULL options, bad name or option, unknown options
 * version), PS_EIO, PS_ENOSPC, PS_ENOMEM.
 * Ownership: `opts` is copied; `*out` is new; close it with
 * ps_connector_close().
 */
PS_API ps_status ps_shm_connector_open(const ps_shm_options *opts, ps_connector **out);

/**
 * Describe shm stores as JSON text. With `name` NULL, every store in `dir`
 * (NULL: "/dev/shm"):
 *   {"dir": D, "stores": [{"name": N, "objects": n, "bytes": b,
 *     "segments": s, "temp_files": t, "stale_temp_files": st}, ...]}
 * With a name, that store's objects:
 *   {"dir": D, "name": N, "objects": [{"id": UUID, "size": b,
 *     "where": "heap"|"segment"}, ...],
 *    "temp_files": [{"file": F, "pid": p, "alive": bool}, ...]}
 * A store whose index cannot be read is listed with "error": message.
 * Returns PS_NOT_FOUND when the named store does not exist, PS_EINVAL, PS_EIO.
 * Ownership: `*json` is new; free with ps_free().
 * Thread safety: safe; takes the store's mutex briefly.
 */
PS_API ps_status ps_shm_list(const char *dir, const char *name, char **json);

/**
 * Remove the store `name` in `dir` (NULL: "/dev/shm") with all its objects,
 * as close(PS_CLEAR_ALL) does. Open instances elsewhere continue on a fresh
 * store. Views handed out stay valid. Returns PS_NOT_FOUND when there is no
 * such store, PS_EINVAL, PS_EIO.
 * Ownership: none.
 */
PS_API ps_status ps_shm_remove(const char *dir, const char *name);

/**
 * Remove what crashed processes left in the store `name`: temporary segments
 * of writers that are no longer alive and segments the index does not name;
 * repair the index if its mutex owner died. `*removed` (may be NULL) gets the
 * number of files removed. Objects stay. Returns PS_NOT_FOUND when there is
 * no such store, PS_EINVAL, PS_EIO.
 * Ownership: none.
 */
PS_API ps_status ps_shm_gc(const char *dir, const char *name, size_t *removed);

#ifdef __cplusplus
}
#endif
#endif
