/*
 * LRU cache of decoded objects.
 *
 * Policy (exact LRU, two bounds):
 *   - At most `max_entries` objects (0 disables the cache) and, when
 *     `max_bytes` is not 0, at most `max_bytes` bytes of decoded values.
 *   - ps__cache_get marks the entry most recently used. ps__cache_contains
 *     does not (it answers exists/is_cached, as upstream's `key in cache`).
 *   - ps__cache_put inserts at the most recently used end, first evicting
 *     from the least recently used end until both bounds hold with the new
 *     value. A value larger than max_bytes is not cached at all (evicting
 *     everything would not make room). Putting a key that is present
 *     replaces its entry: one entry per key (upstream's LRUCache leaves a
 *     duplicate recency entry and evicts a bystander; we do not copy that).
 *   - A put is refused when a remove/clear happened after the caller read
 *     the epoch: the value was fetched before that invalidation and may be
 *     stale (a get racing an evict or set must not resurrect the object).
 *
 * Structure: an intrusive circular doubly linked list (sentinel `lru`) for
 * recency plus a chained hash table keyed by ps_key_hash/ps_key_equal, so
 * get, put, remove and evict are O(1). The table doubles when the entry
 * count exceeds the bucket count (the only allocation besides the entry).
 *
 * Entries are reference counted: the table holds one reference and every
 * view handed out holds one; the entry's memory (value and key) is freed with
 * the last. So eviction while a caller holds a view is safe, and a hit
 * allocates nothing.
 *
 * Locking: one mutex guards the table, the list and the counters; entry
 * reference counts are atomic so views are released without the lock.
 */
#include <string.h>

#include "store/cache.h"

struct ps__centry {
    ps__clink link;      /* LRU list; first member so a link casts to its entry */
    ps__centry *hnext;   /* hash chain */
    _Atomic size_t refs; /* table + views */
    uint64_t hash;
    ps_key *key;    /* own copy */
    ps_bytes value; /* the decoded object */
};

#define PS__CACHE_MIN_BUCKETS 16

static ps__centry *ps__link_entry(ps__clink *l)
{
    return (ps__centry *)(void *)l;
}

static void ps__entry_unref(ps__centry *e)
{
    if (atomic_fetch_sub_explicit(&e->refs, 1, memory_order_acq_rel) == 1) {
        ps_bytes_free(&e->value);
        ps_key_free(e->key);
        ps_free(e);
    }
}

/* ps_bytes release callback of a view. */
static void ps__view_release(void *opaque, void *data, size_t len)
{
    (void)data;
    (void)len;
    ps__entry_unref(opaque);
}

static void ps__make_view(ps__centry *e, ps_bytes *out)
{
    atomic_fetch_add_explicit(&e->refs, 1, memory_order_relaxed);
    out->data = e->value.data;
    out->len = e->value.len;
    out->release = ps__view_release;
    out->opaque = e;
}

ps_status ps__cache_init(ps__cache *c, long max_entries, size_t max_bytes)
{
    PS__RETURN_IF(c == NULL, PS_EINVAL, "cache: NULL cache");
    PS__RETURN_IF(max_entries < 0, PS_EINVAL, "Cache size cannot be negative. Got %ld.",
                  max_entries);
    memset(c, 0, sizeof *c);
    c->max_entries = max_entries;
    c->max_bytes = max_bytes;
    c->lru.prev = c->lru.next = &c->lru;
    atomic_init(&c->epoch, 0);
    pthread_mutex_init(&c->lock, NULL);
    return PS_OK;
}

/* ---- locked helpers ------------------------------------------------------- */

static ps__centry **ps__slot(ps__cache *c, const ps_key *key, uint64_t h)
{
    ps__centry **pp = &c->buckets[h & (c->nbuckets - 1)];
    while (*pp && !((*pp)->hash == h && ps_key_equal((*pp)->key, key)))
        pp = &(*pp)->hnext;
    return pp;
}

static ps__centry *ps__find(ps__cache *c, const ps_key *key)
{
    if (c->count == 0)
        return NULL;
    return *ps__slot(c, key, ps_key_hash(key));
}

static void ps__list_unlink(ps__clink *l)
{
    l->prev->next = l->next;
    l->next->prev = l->prev;
}

static void ps__list_push_front(ps__cache *c, ps__clink *l)
{
    l->prev = &c->lru;
    l->next = c->lru.next;
    c->lru.next->prev = l;
    c->lru.next = l;
}

/* Take `e` out of the table and the list; returns it for unref after the
 * lock is dropped (freeing a value may call back into a connector). */
static ps__centry *ps__detach(ps__cache *c, ps__centry *e)
{
    ps__centry **pp = ps__slot(c, e->key, e->hash);
    *pp = e->hnext;
    e->hnext = NULL;
    ps__list_unlink(&e->link);
    c->count--;
    c->bytes -= e->value.len;
    return e;
}

static void ps__grow(ps__cache *c)
{
    size_t n = c->nbuckets ? c->nbuckets * 2 : PS__CACHE_MIN_BUCKETS;
    ps__centry **nb = ps_calloc(n, sizeof *nb);
    if (nb == NULL)
        return; /* keep the old table: longer chains, still correct */
    for (size_t i = 0; i < c->nbuckets; i++) {
        ps__centry *e = c->buckets[i];
        while (e) {
            ps__centry *next = e->hnext;
            ps__centry **b = &nb[e->hash & (n - 1)];
            e->hnext = *b;
            *b = e;
            e = next;
        }
    }
    ps_free(c->buckets);
    c->buckets = nb;
    c->nbuckets = n;
}

/* ---- public (internal) API ---------------------------------------------- */

bool ps__cache_get(ps__cache *c, const ps_key *key, ps_bytes *out)
{
    if (c->max_entries == 0 || key == NULL)
        return false;
    pthread_mutex_lock(&c->lock);
    ps__centry *e = ps__find(c, key);
    if (e) {
        if (c->lru.next != &e->link) {
            ps__list_unlink(&e->link);
            ps__list_push_front(c, &e->link);
        }
        ps__make_view(e, out);
        c->hits++;
    } else {
        c->misses++;
    }
    pthread_mutex_unlock(&c->lock);
    return e != NULL;
}

bool ps__cache_contains(ps__cache *c, const ps_key *key)
{
    if (c->max_entries == 0 || key == NULL)
        return false;
    pthread_mutex_lock(&c->lock);
    bool found = ps__find(c, key) != NULL;
    pthread_mutex_unlock(&c->lock);
    return found;
}

uint64_t ps__cache_epoch(ps__cache *c)
{
    return atomic_load_explicit(&c->epoch, memory_order_acquire);
}

/* Unref a chain of detached entries (linked through hnext). */
static void ps__unref_chain(ps__centry *dead)
{
    while (dead) {
        ps__centry *next = dead->hnext;
        ps__entry_unref(dead);
        dead = next;
    }
}

void ps__cache_put(ps__cache *c, const ps_key *key, ps_bytes *value, uint64_t epoch, ps_bytes *out)
{
    ps_bytes empty = PS_BYTES_INIT;
    *out = *value;
    *value = empty;
    if (c->max_entries == 0 || key == NULL || (c->max_bytes && out->len > c->max_bytes))
        return;
    if (ps__cache_epoch(c) != epoch)
        return;
    ps__centry *e = ps_malloc(sizeof *e);
    ps_key *kcopy = NULL;
    if (e == NULL || ps_key_dup(key, &kcopy) != PS_OK) {
        ps_free(e);
        ps_clear_error(); /* not caching is not a failure of the caller's get */
        return;
    }
    e->hnext = NULL;
    atomic_init(&e->refs, 1);
    e->hash = ps_key_hash(key);
    e->key = kcopy;
    e->value = *out;

    ps__centry *dead = NULL;
    pthread_mutex_lock(&c->lock);
    if (atomic_load_explicit(&c->epoch, memory_order_relaxed) != epoch) {
        pthread_mutex_unlock(&c->lock);
        /* Give the value back to the caller, free only the entry shell. */
        ps_key_free(kcopy);
        ps_free(e);
        return;
    }
    ps__centry *old = ps__find(c, key);
    if (old) {
        ps__detach(c, old);
        old->hnext = dead;
        dead = old;
    }
    while (c->count > 0 && ((long)c->count >= c->max_entries ||
                            (c->max_bytes && c->bytes + e->value.len > c->max_bytes))) {
        ps__centry *lru = ps__detach(c, ps__link_entry(c->lru.prev));
        lru->hnext = dead;
        dead = lru;
    }
    if (c->count + 1 > c->nbuckets)
        ps__grow(c);
    if (c->nbuckets == 0) { /* could not allocate a table: do not cache */
        pthread_mutex_unlock(&c->lock);
        ps__unref_chain(dead);
        ps_key_free(kcopy);
        ps_free(e);
        return;
    }
    ps__centry **b = &c->buckets[e->hash & (c->nbuckets - 1)];
    e->hnext = *b;
    *b = e;
    ps__list_push_front(c, &e->link);
    c->count++;
    c->bytes += e->value.len;
    ps__make_view(e, out);
    pthread_mutex_unlock(&c->lock);
    ps__unref_chain(dead);
}

void ps__cache_remove(ps__cache *c, const ps_key *key)
{
    if (c->max_entries == 0 || key == NULL)
        return;
    pthread_mutex_lock(&c->lock);
    atomic_fetch_add_explicit(&c->epoch, 1, memory_order_acq_rel);
    ps__centry *e = ps__find(c, key);
    if (e)
        ps__detach(c, e);
    pthread_mutex_unlock(&c->lock);
    if (e)
        ps__entry_unref(e);
}

/* Detach everything; returns the chain to unref. Caller holds the lock. */
static ps__centry *ps__detach_all(ps__cache *c)
{
    ps__centry *dead = NULL;
    while (c->lru.next != &c->lru) {
        ps__centry *e = ps__detach(c, ps__link_entry(c->lru.next));
        e->hnext = dead;
        dead = e;
    }
    return dead;
}

void ps__cache_clear(ps__cache *c)
{
    if (c->max_entries == 0)
        return;
    pthread_mutex_lock(&c->lock);
    atomic_fetch_add_explicit(&c->epoch, 1, memory_order_acq_rel);
    ps__centry *dead = ps__detach_all(c);
    pthread_mutex_unlock(&c->lock);
    ps__unref_chain(dead);
}

void ps__cache_destroy(ps__cache *c)
{
    if (c == NULL)
        return;
    pthread_mutex_lock(&c->lock);
    ps__centry *dead = ps__detach_all(c);
    ps_free(c->buckets);
    c->buckets = NULL;
    c->nbuckets = 0;
    pthread_mutex_unlock(&c->lock);
    ps__unref_chain(dead);
    pthread_mutex_destroy(&c->lock);
}

size_t ps__cache_count(ps__cache *c)
{
    pthread_mutex_lock(&c->lock);
    size_t n = c->count;
    pthread_mutex_unlock(&c->lock);
    return n;
}

size_t ps__cache_bytes(ps__cache *c)
{
    pthread_mutex_lock(&c->lock);
    size_t n = c->bytes;
    pthread_mutex_unlock(&c->lock);
    return n;
}
