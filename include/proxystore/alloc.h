/*
 * Allocator hooks.
 *
 * Every allocation the library makes goes through these functions, and every
 * buffer it hands out is freed with ps_free(). Replace them once, before any
 * other library call or while nothing allocated by the library is alive.
 * The functions must be thread-safe.
 *
 * Not covered: memory allocated inside the libraries we build on, which keep
 * their own allocators: hiredis 0.14 (which aborts on out-of-memory), libcurl,
 * jansson, libzstd. Buffers they return are copied or released internally;
 * nothing the caller frees comes from them.
 */
#ifndef PROXYSTORE_ALLOC_H
#define PROXYSTORE_ALLOC_H

#include <stddef.h>

#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define PS_ALLOCATOR_VERSION 1

typedef struct ps_allocator {
    unsigned version; /**< PS_ALLOCATOR_VERSION */
    void *ctx;        /**< passed to every function */
    void *(*malloc)(void *ctx, size_t size);
    void *(*realloc)(void *ctx, void *ptr, size_t size);
    void (*free)(void *ctx, void *ptr);
} ps_allocator;

/**
 * Install `alloc` (copied), or restore the C library's malloc when NULL.
 * Memory the library keeps for reuse on its own (the endpoint connector's
 * spare body buffer) is freed first, with the allocator that made it.
 * Returns PS_EINVAL when a function pointer is missing or the version is
 * unknown.
 * Ownership: `alloc` is copied.
 */
PS_API ps_status ps_set_allocator(const ps_allocator *alloc);

/** Allocate `size` bytes. Ownership: the caller frees with ps_free(). */
PS_API void *ps_malloc(size_t size);
/** Allocate `n * size` zeroed bytes; NULL on overflow.
 *  Ownership: new; free with ps_free(). */
PS_API void *ps_calloc(size_t n, size_t size);
/** Resize; like realloc(3). Ownership: takes `ptr` when the result is not NULL (on NULL, `ptr` is
 * still the caller's, as with realloc(3)); the result is new (ps_free). */
PS_API void *ps_realloc(void *ptr, size_t size);
/** Free memory from the functions above, or that the library handed out.
 *  Accepts NULL; keeps errno unchanged.
 * Ownership: ends the caller's ownership of `ptr`.
 */
PS_API void ps_free(void *ptr);
/** Duplicate a C string. Ownership: the caller frees with ps_free(). */
PS_API char *ps_strdup(const char *s);

#ifdef __cplusplus
}
#endif
#endif
