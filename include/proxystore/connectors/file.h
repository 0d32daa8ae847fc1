/*
 * The file connector ("file"): one file per object in a directory, the
 * layout of upstream ProxyStore's FileConnector, so a shared file system
 * carries objects between processes and hosts, and between Python ProxyStore
 * and this library.
 *
 * Layout (exactly upstream's):
 *   <store_dir>/<uuid>         the object's bytes
 *   <store_dir>/<uuid>.ready   an empty marker, created only after <uuid> is
 *                              complete; an object exists exactly when its
 *                              marker does
 * Writes go to a temporary file in the same directory (a name starting with
 * '.', never a UUID), which is renamed to <uuid> once written and closed;
 * then the marker is created. A reader therefore never sees a partial
 * object, also while set() overwrites one. get() reads only when the marker
 * exists (otherwise PS_NOT_FOUND); evict() removes the marker, then the data.
 *
 * Options (JSON object given to ps_connector_open("file", ...)):
 *   "store_dir"  string, required. Made absolute when the connector is opened
 *                (lexically, like Python's os.path.abspath: no symlinks are
 *                resolved), so a later chdir() does not matter; created with
 *                its parents if missing.
 *   "clear"      bool, default true (as upstream): close(PS_CLEAR_DEFAULT)
 *                removes the whole directory tree. Several connectors on one
 *                directory may all close with clear.
 *   "buffering"  integer >= -1, default -1. Upstream passes it to Python's
 *                open(); it is accepted and kept in config() for
 *                compatibility, and has no effect here: objects are written
 *                and read with direct read(2)/write(2) calls of up to 1 GiB.
 *   "fsync"      bool, default false (written to config() only when true).
 *                Durability policy: by default nothing is fsync'ed (as
 *                upstream); readers are still protected by the rename and
 *                marker ordering, but after a power loss or OS crash an object
 *                may be missing or, if its marker survived, truncated. With
 *                fsync true the data file is fsync'ed before its rename and the
 *                directory after the marker is created.
 *
 * Keys: "file:<uuid>/<tag>", where <tag> is 8 lower-case hex digits derived
 * from the absolute store_dir. A key of another directory is refused with
 * PS_EINVAL, and so is any key whose object id is not a canonical lower-case
 * UUID, so a key can never name a path outside the directory
 * ("../../etc/passwd", "a/b", "." are all refused).
 *
 * Errors: a directory that cannot be created or written, a full disk or a
 * file-size limit give PS_EIO with the path and strerror(errno); the
 * temporary file is removed and no <uuid> or marker of the failed put stays.
 * Temporary files of a process killed mid-write stay until the directory is
 * cleared.
 *
 * Thread safety: fully thread-safe (PS_CONNECTOR_THREADSAFE); processes may
 * share a directory.
 */
#ifndef PROXYSTORE_CONNECTORS_FILE_H
#define PROXYSTORE_CONNECTORS_FILE_H

#include <stdbool.h>

#include "../connector.h"

#ifdef __cplusplus
extern "C" {
#endif

#define PS_FILE_OPTIONS_VERSION 1

/** Options of ps_file_connector_open(), the C form of the JSON options. */
typedef struct ps_file_options {
    unsigned version;      /**< PS_FILE_OPTIONS_VERSION */
    const char *store_dir; /**< required: made absolute, created if missing */
    bool clear;            /**< close(PS_CLEAR_DEFAULT) removes the directory; default true */
    bool fsync;            /**< fsync data and directory; default false */
} ps_file_options;

/** Fill `o` with the defaults (no store_dir, clear true, fsync false).
 *  Accepts NULL. Ownership: `*o` is the caller's. */
PS_API void ps_file_options_init(ps_file_options *o);

/**
 * Open a file connector on opts->store_dir (made absolute against the
 * current directory, created if missing).
 * Returns PS_EINVAL (NULL options or dir, empty dir, unknown options
 * version), PS_EIO (cannot create it), PS_ENOMEM.
 * Ownership: `opts` is copied; `*out` is new, close it with
 * ps_connector_close().
 */
PS_API ps_status ps_file_connector_open(const ps_file_options *opts, ps_connector **out);

/**
 * The key of the object `uuid` in the directory of the file connector `conn`,
 * e.g. for an object written by Python ProxyStore's FileConnector (files
 * <store_dir>/<uuid> and <store_dir>/<uuid>.ready). `uuid` must be a
 * canonical lower-case UUID (PS_EINVAL otherwise); a `conn` that is not a file
 * connector is PS_EINVAL. The object need not exist.
 * Ownership: `*key` is new; free it with ps_key_free().
 */
PS_API ps_status ps_file_key_from_uuid(ps_connector *conn, const char *uuid, ps_key **key);

/**
 * Like ps_file_key_from_uuid, for a directory given by path (made absolute
 * against the current directory as at open). Opens nothing.
 * Ownership: `*key` is new; free it with ps_key_free().
 */
PS_API ps_status ps_file_key_for_dir(const char *store_dir, const char *uuid, ps_key **key);

#ifdef __cplusplus
}
#endif
#endif
