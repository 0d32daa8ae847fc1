/*
 * The store's LRU cache of decoded objects (internal).
 *
 * See the policy at the top of cache.c. Values are reference-counted entries:
 * a hit hands out a zero-copy ps_bytes view whose release drops one
 * reference, so an entry evicted (or the whole cache destroyed) while a
 * caller still holds a view stays valid until that view is freed.
 *
 * Thread safety: every function is safe from many threads (one mutex).
 */
#ifndef PS_STORE_CACHE_H
#define PS_STORE_CACHE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/internal.h"

typedef struct ps__centry ps__centry;

/* Intrusive links: LRU list (circular, sentinel in the cache) and hash chain. */
typedef struct ps__clink {
    struct ps__clink *prev, *next;
} ps__clink;

typedef struct ps__cache {
    pthread_mutex_t lock;
    long max_entries;     /* 0: disabled */
    size_t max_bytes;     /* 0: no byte bound */
    size_t count;         /* entries in the table */
    size_t bytes;         /* sum of the entries' value lengths */
    ps__clink lru;        /* lru.next is the most recently used */
    ps__centry **buckets; /* chained hash table, nbuckets a power of two */
    size_t nbuckets;
    _Atomic uint64_t epoch; /* bumped by every remove/clear (see ps__cache_put) */
    uint64_t hits, misses;  /* statistics, under lock */
} ps__cache;

/* Set up a cache of at most `max_entries` objects (0 disables it; negative is
 * PS_EINVAL) and `max_bytes` bytes (0: unbounded). */
ps_status ps__cache_init(ps__cache *c, long max_entries, size_t max_bytes);

/* Drop every entry (views handed out stay valid) and free the table. */
void ps__cache_destroy(ps__cache *c);

/* On a hit, make `*out` a view of the cached value (release with
 * ps_bytes_free), mark the entry most recently used and return true.
 * On a miss leave `*out` untouched and return false. Never allocates. */
bool ps__cache_get(ps__cache *c, const ps_key *key, ps_bytes *out);

/* Membership only (does not change the recency order). */
bool ps__cache_contains(ps__cache *c, const ps_key *key);

/* The current invalidation epoch: read it before fetching an object from
 * the connector and pass it to ps__cache_put. */
uint64_t ps__cache_epoch(ps__cache *c);

/*
 * Offer a decoded object fetched while the epoch was `epoch`. Takes `*value`
 * (reset to empty) in every case and sets `*out` to the bytes for the caller:
 * a view of the new entry when cached, else the value itself. Not cached when
 * the cache is disabled, the value exceeds max_bytes, a remove/clear happened
 * since `epoch` (the value may be stale) or memory runs out.
 * An existing entry for the key is replaced (no duplicates).
 */
void ps__cache_put(ps__cache *c, const ps_key *key, ps_bytes *value, uint64_t epoch, ps_bytes *out);

/* Remove the key (missing is fine) and bump the epoch. */
void ps__cache_remove(ps__cache *c, const ps_key *key);

/* Remove every entry and bump the epoch. */
void ps__cache_clear(ps__cache *c);

/* Number of entries and total cached bytes. */
size_t ps__cache_count(ps__cache *c);
size_t ps__cache_bytes(ps__cache *c);

#endif
