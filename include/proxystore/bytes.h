/*
 * Byte buffers handed across the API.
 *
 * A ps_bytes is either an owned buffer from ps_malloc() or a view (a cache
 * entry, a shared-memory mapping, ...) with its own release function. Either
 * way the holder gives it back with ps_bytes_free(), so callers never need to
 * know which it is. Treat the bytes of a view as read-only.
 */
#ifndef PROXYSTORE_BYTES_H
#define PROXYSTORE_BYTES_H

#include <stddef.h>

#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ps_bytes {
    void *data; /**< the bytes; may be NULL when len is 0 */
    size_t len; /**< number of bytes */
    /** How to give the bytes back; NULL means ps_free(data). */
    void (*release)(void *opaque, void *data, size_t len);
    void *opaque; /**< passed to release */
} ps_bytes;

#define PS_BYTES_INIT                                                                              \
    {                                                                                              \
        NULL, 0, NULL, NULL                                                                        \
    }

/** A read-only input slice, for batch calls. Never owns its bytes. */
typedef struct ps_iov {
    const void *data;
    size_t len;
} ps_iov;

/**
 * Release `b`'s bytes and reset it to empty. Accepts NULL and empty buffers.
 * Ownership: ends the caller's ownership of the bytes.
 */
PS_API void ps_bytes_free(ps_bytes *b);

/** Release every element of an array of n buffers (ps_bytes_free each). Ownership: ends the
 * caller's ownership of every element's bytes; the array itself stays the caller's. */
PS_API void ps_bytes_free_array(ps_bytes *arr, size_t n);

/**
 * Copy `len` bytes from `data` into a new owned buffer in `*out`.
 * Ownership: the caller frees `*out` with ps_bytes_free().
 * Returns PS_EINVAL (NULL out, or NULL data with len > 0) or PS_ENOMEM.
 */
PS_API ps_status ps_bytes_copy(const void *data, size_t len, ps_bytes *out);

/**
 * Make `*out` a view of `data` that is never released (static or caller-owned
 * memory that outlives the view). Ownership: none transferred.
 */
PS_API void ps_bytes_view(const void *data, size_t len, ps_bytes *out);

/**
 * Make sure `*b` owns its bytes (copy a view into an owned ps_malloc buffer),
 * so that `b->data` may be passed to ps_free() or written.
 * Ownership: `*b` stays the caller's (ps_bytes_free); on failure it is unchanged.
 */
PS_API ps_status ps_bytes_own(ps_bytes *b);

#ifdef __cplusplus
}
#endif
#endif
