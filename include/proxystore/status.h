/*
 * Status codes and error messages.
 *
 * Every fallible call returns a ps_status. PS_OK is 0. A missing object is
 * PS_NOT_FOUND: an answer, not a failure. Every other failure also leaves a
 * thread-local message, read with ps_last_error(), that names what failed and
 * why ("file /data/x: No space left on device").
 *
 * Values are pinned: they are never renumbered or removed, new ones are only
 * appended (like CURLcode).
 */
#ifndef PROXYSTORE_STATUS_H
#define PROXYSTORE_STATUS_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum ps_status {
    PS_OK = 0,            /**< success */
    PS_ENOMEM = 1,        /**< out of memory */
    PS_EINVAL = 2,        /**< invalid argument, key, configuration or token */
    PS_NOT_FOUND = 3,     /**< no object is stored under the key */
    PS_EEXIST = 4,        /**< a name is already taken (store registry, codec) */
    PS_EIO = 5,           /**< file system or device error */
    PS_ETIMEDOUT = 6,     /**< an operation timed out */
    PS_ECONN = 7,         /**< could not connect, or the connection dropped */
    PS_EPROTO = 8,        /**< the peer answered with an error or broke the protocol */
    PS_ENOTSUP = 9,       /**< not supported (yet) by this connector or build */
    PS_EUNAVAILABLE = 10, /**< a run-time dependency (e.g. libdaos) is missing */
    PS_ESTATE = 11,       /**< the object is in the wrong state (closed, locked) */
    PS_EINTERNAL = 12,    /**< a bug: an invariant did not hold */
    PS_ETOOBIG = 13,      /**< an object exceeds a configured or protocol size limit */
    PS_ENOPOLICY = 14,    /**< no connector policy matches (multi connector) */
    PS_ECODEC = 15,       /**< encoding or decoding an object failed */
    PS_EAUTH = 16,        /**< authentication was refused */
    PS_ENOSPC = 17        /**< a capacity limit (memory, objects) is reached */
} ps_status;

/** Alias with the errno-style spelling used by STYLE.md. */
#define PS_ENOTFOUND PS_NOT_FOUND

/**
 * A short English description of `status`.
 * Ownership: returns a static string, never NULL; do not free.
 * Thread safety: safe.
 */
PS_API const char *ps_strerror(ps_status status);

/**
 * The enumerator's name ("PS_EINVAL"), or "PS_UNKNOWN" for an unknown value.
 * Ownership: static string, never NULL.
 */
PS_API const char *ps_status_name(ps_status status);

/**
 * The message left by the last failing call on this thread ("" if none).
 * Ownership: points into thread-local storage owned by the library; valid
 * until the next library call on the same thread. Copy it to keep it.
 * Thread safety: each thread has its own message.
 */
PS_API const char *ps_last_error(void);

/** Forget this thread's last message. Ownership: none. */
PS_API void ps_clear_error(void);

/**
 * Set this thread's last-error message and return `status`, for connector
 * implementations: `return ps_error(PS_EIO, "file %s: %s", path, strerror(e));`
 * Ownership: `fmt` and its arguments are borrowed for the call (the message is copied).
 */
PS_API ps_status ps_error(ps_status status, const char *fmt, ...) PS_PRINTF_LIKE(2, 3);

#ifdef __cplusplus
}
#endif
#endif
