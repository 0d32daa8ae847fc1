/*
 * The shm connector's arena: one shared file per store holding a header with
 * a process-shared robust mutex, a hash index of every object and a heap of
 * size-classed blocks for small objects. See docs/connectors-shm.md.
 *
 * Crash safety. Everything in the arena changes only under the mutex, and in
 * an order that leaves a state the repair can read at any point:
 *  - a heap block's header is written before the heap's end moves past it;
 *    a block is marked used before an index slot names it;
 *  - a slot's fields are written while it is EMPTY and its state is set USED
 *    last (an atomic release store); deleting shifts later slots back by
 *    copying each into an EMPTY slot, so a crash leaves at worst a duplicate;
 *  - the counters are recomputed by the repair.
 * When a process dies holding the mutex, the next locker gets EOWNERDEAD and
 * runs ps__shm_repair(): it keeps every complete USED slot (deduplicated),
 * rebuilds the hash table, marks every heap block no slot names free, and
 * recomputes the counters. A put that died before publishing its slot is
 * thereby undone.
 *
 * Every offset read from the arena is checked before use: the file is
 * shared with other processes and may be damaged; a bad offset gives an
 * error or a repair, never a wild access.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "connectors/shm/shm_internal.h"

#define PS__PAGE ((uint64_t)4096)

static uint64_t ps__round_up(uint64_t v, uint64_t to)
{
    return (v + to - 1) / to * to;
}

static uint64_t ps__shm_block_size(uint32_t cls)
{
    return PS__SHM_BLOCK_MIN << cls;
}

static ps__shm_slot *ps__shm_slots(ps__shm_hdr *h)
{
    return (ps__shm_slot *)(void *)((unsigned char *)h + h->index_off);
}

static unsigned char *ps__shm_heap(ps__shm_hdr *h)
{
    return (unsigned char *)h + h->heap_off;
}

static uint64_t ps__shm_hash(const uint8_t id[16])
{
    /* UUID4s are random; FNV mixes in case ids are not. */
    return ps__hash64(id, 16);
}

static void ps__shm_set_state(ps__shm_slot *s, uint32_t state)
{
    __atomic_store_n(&s->state, state, __ATOMIC_RELEASE);
}

/* ---- UUIDs --------------------------------------------------------------------- */

/* ---- heap ------------------------------------------------------------------------ */

/* The block at `off` if it lies wholly inside the carved heap. */
static ps__shm_blk *ps__shm_blk_at(ps__shm_hdr *h, uint64_t off)
{
    if (off % PS__SHM_BLOCK_MIN != 0 || off >= h->heap_bump ||
        h->heap_bump - off < PS__SHM_BLOCK_MIN)
        return NULL;
    ps__shm_blk *b = (ps__shm_blk *)(void *)(ps__shm_heap(h) + off);
    if (b->cls >= PS__SHM_NCLASS || h->heap_bump - off < ps__shm_block_size(b->cls))
        return NULL;
    return b;
}

void *ps__shm_heap_data(ps__shm_hdr *h, uint64_t off, uint64_t size)
{
    ps__shm_blk *b = ps__shm_blk_at(h, off);
    if (b == NULL || b->magic != PS__SHM_BLK_USED ||
        size > ps__shm_block_size(b->cls) - PS__SHM_BLK_HDR)
        return NULL;
    return (unsigned char *)b + PS__SHM_BLK_HDR;
}

static void ps__shm_heap_free(ps__shm_hdr *h, uint64_t off)
{
    ps__shm_blk *b = ps__shm_blk_at(h, off);
    if (b == NULL || b->magic != PS__SHM_BLK_USED)
        return; /* not a used block: nothing to free (the repair keeps lists sane) */
    b->next = h->free_head[b->cls];
    b->magic = PS__SHM_BLK_FREE;
    h->free_head[b->cls] = off + 1;
}

ps_status ps__shm_heap_alloc(ps__shm_arena *a, size_t len, uint64_t *off, void **data,
                             const char *what)
{
    ps__shm_hdr *h = a->h;
    uint32_t cls = 0;
    while (cls < PS__SHM_NCLASS && ps__shm_block_size(cls) - PS__SHM_BLK_HDR < len)
        cls++;
    if (cls == PS__SHM_NCLASS)
        return PS__SHM_HEAPFULL;
    uint64_t head = h->free_head[cls];
    if (head != 0) {
        ps__shm_blk *b = ps__shm_blk_at(h, head - 1);
        if (b == NULL || b->magic != PS__SHM_BLK_FREE || b->cls != cls) {
            /* a damaged free list: rebuild it from the index, then carve */
            ps__shm_repair(h);
        } else {
            h->free_head[cls] = b->next;
            b->next = 0;
            b->magic = PS__SHM_BLK_USED;
            *off = head - 1;
            *data = (unsigned char *)b + PS__SHM_BLK_HDR;
            return PS_OK;
        }
    }
    uint64_t bsize = ps__shm_block_size(cls);
    if (h->heap_bump > h->heap_size || h->heap_size - h->heap_bump < bsize)
        return PS__SHM_HEAPFULL;
    uint64_t end = h->heap_bump + bsize;
    if (end > h->heap_reserved) {
        uint64_t grow = ps__round_up(end - h->heap_reserved, PS__SHM_HEAP_STEP);
        if (grow > h->heap_size - h->heap_reserved)
            grow = h->heap_size - h->heap_reserved;
        int r = posix_fallocate(a->fd, (off_t)(h->heap_off + h->heap_reserved), (off_t)grow);
        if (r == ENOSPC && grow > end - h->heap_reserved) {
            /* nearly full: reserve just this block */
            grow = ps__round_up(end - h->heap_reserved, PS__PAGE);
            r = posix_fallocate(a->fd, (off_t)(h->heap_off + h->heap_reserved), (off_t)grow);
        }
        if (r != 0)
            return ps__seterr(r == ENOSPC ? PS_ENOSPC : PS_EIO,
                              "%s: cannot reserve %llu more bytes of shared memory for the heap: "
                              "%s",
                              what, (unsigned long long)grow, strerror(r));
        h->heap_reserved += grow;
    }
    ps__shm_blk *b = (ps__shm_blk *)(void *)(ps__shm_heap(h) + h->heap_bump);
    b->magic = PS__SHM_BLK_USED;
    b->cls = cls;
    b->next = 0;
    *off = h->heap_bump;
    *data = (unsigned char *)b + PS__SHM_BLK_HDR;
    __atomic_store_n(&h->heap_bump, end, __ATOMIC_RELEASE);
    return PS_OK;
}

/* ---- index ------------------------------------------------------------------------ */

uint64_t ps__shm_index_cap(const ps__shm_hdr *h)
{
    return h->nslots / 4 * 3;
}

ps__shm_slot *ps__shm_find(ps__shm_hdr *h, const uint8_t id[16])
{
    ps__shm_slot *slots = ps__shm_slots(h);
    uint64_t mask = h->nslots - 1;
    uint64_t i = ps__shm_hash(id) & mask;
    for (uint64_t n = 0; n < h->nslots; n++, i = (i + 1) & mask) {
        ps__shm_slot *s = &slots[i];
        if (s->state == PS__SHM_SLOT_EMPTY)
            return NULL;
        if (s->state == PS__SHM_SLOT_USED && memcmp(s->id, id, 16) == 0)
            return s;
    }
    return NULL;
}

/* Put an entry in the first empty slot of its probe sequence (no checks). */
static bool ps__shm_place(ps__shm_hdr *h, const uint8_t id[16], uint32_t kind, uint64_t size,
                          uint64_t off)
{
    ps__shm_slot *slots = ps__shm_slots(h);
    uint64_t mask = h->nslots - 1;
    uint64_t i = ps__shm_hash(id) & mask;
    for (uint64_t n = 0; n < h->nslots; n++, i = (i + 1) & mask) {
        ps__shm_slot *s = &slots[i];
        if (s->state == PS__SHM_SLOT_EMPTY) {
            memcpy(s->id, id, 16);
            s->kind = kind;
            s->size = size;
            s->off = off;
            ps__shm_set_state(s, PS__SHM_SLOT_USED);
            return true;
        }
    }
    return false;
}

ps_status ps__shm_insert(ps__shm_hdr *h, const uint8_t id[16], uint32_t kind, uint64_t size,
                         uint64_t off, const char *what)
{
    PS__RETURN_IF(h->n_objects >= ps__shm_index_cap(h), PS_ENOSPC,
                  "%s: the index is full (%llu objects; the store was created for at most that "
                  "many, see max_objects)",
                  what, (unsigned long long)h->n_objects);
    if (!ps__shm_place(h, id, kind, size, off))
        return ps__seterr(PS_ENOSPC, "%s: the index is full", what);
    h->n_objects++;
    h->n_bytes += size;
    if (kind == PS__SHM_KIND_HEAP)
        h->n_heap++;
    return PS_OK;
}

void ps__shm_remove_slot(ps__shm_hdr *h, ps__shm_slot *slot)
{
    ps__shm_slot *slots = ps__shm_slots(h);
    uint64_t mask = h->nslots - 1;
    uint32_t kind = slot->kind;
    uint64_t size = slot->size, off = slot->off;
    uint64_t i = (uint64_t)(slot - slots);
    /* Linear probing deletion by backward shift: move every later entry of
     * the cluster that may sit at i into i. Each copy goes into an EMPTY
     * slot whose state is set USED last. */
    ps__shm_set_state(&slots[i], PS__SHM_SLOT_EMPTY);
    uint64_t j = i;
    for (uint64_t n = 0; n < h->nslots; n++) {
        j = (j + 1) & mask;
        ps__shm_slot *sj = &slots[j];
        if (sj->state != PS__SHM_SLOT_USED)
            break;
        uint64_t k = ps__shm_hash(sj->id) & mask;
        bool stays = (i <= j) ? (i < k && k <= j) : (i < k || k <= j);
        if (stays)
            continue;
        ps__shm_slot *si = &slots[i];
        memcpy(si->id, sj->id, 16);
        si->kind = sj->kind;
        si->size = sj->size;
        si->off = sj->off;
        ps__shm_set_state(si, PS__SHM_SLOT_USED);
        ps__shm_set_state(sj, PS__SHM_SLOT_EMPTY);
        i = j;
    }
    if (h->n_objects > 0)
        h->n_objects--;
    h->n_bytes = h->n_bytes >= size ? h->n_bytes - size : 0;
    if (kind == PS__SHM_KIND_HEAP) {
        if (h->n_heap > 0)
            h->n_heap--;
        ps__shm_heap_free(h, off);
    }
}

/* ---- repair ----------------------------------------------------------------------- */

static int ps__shm_cmp_id(const void *a, const void *b)
{
    return memcmp(((const ps__shm_slot *)a)->id, ((const ps__shm_slot *)b)->id, 16);
}

static int ps__shm_cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

void ps__shm_repair(ps__shm_hdr *h)
{
    ps__shm_slot *slots = ps__shm_slots(h);
    /* 1. the carved heap: stop at the first block that does not parse */
    if (h->heap_bump > h->heap_reserved)
        h->heap_bump = h->heap_reserved & ~(PS__SHM_BLOCK_MIN - 1);
    uint64_t off = 0;
    while (off < h->heap_bump) {
        ps__shm_blk *b = ps__shm_blk_at(h, off);
        if (b == NULL || (b->magic != PS__SHM_BLK_USED && b->magic != PS__SHM_BLK_FREE))
            break;
        off += ps__shm_block_size(b->cls);
    }
    h->heap_bump = off;

    /* 2. every complete entry, deduplicated */
    uint64_t n = 0;
    for (uint64_t i = 0; i < h->nslots; i++)
        if (slots[i].state == PS__SHM_SLOT_USED)
            n++;
    ps__shm_slot *keep = ps_calloc(n ? n : 1, sizeof *keep);
    uint64_t *used = ps_calloc(n ? n : 1, sizeof *used);
    if (keep == NULL || used == NULL) {
        ps_free(keep);
        ps_free(used);
        h->needs_repair = 1;
        return;
    }
    uint64_t m = 0;
    for (uint64_t i = 0; i < h->nslots; i++) {
        ps__shm_slot *s = &slots[i];
        if (s->state != PS__SHM_SLOT_USED)
            continue;
        if (s->kind == PS__SHM_KIND_HEAP) {
            if (ps__shm_heap_data(h, s->off, s->size) == NULL)
                continue; /* names no valid block: drop it */
        } else if (s->kind != PS__SHM_KIND_SEGMENT) {
            continue;
        }
        keep[m++] = *s;
    }
    qsort(keep, m, sizeof *keep, ps__shm_cmp_id);
    uint64_t u = 0;
    for (uint64_t i = 0; i < m; i++)
        if (u == 0 || memcmp(keep[u - 1].id, keep[i].id, 16) != 0)
            keep[u++] = keep[i];
    m = u;

    /* 3. the hash table, from scratch */
    for (uint64_t i = 0; i < h->nslots; i++)
        ps__shm_set_state(&slots[i], PS__SHM_SLOT_EMPTY);
    h->n_objects = h->n_bytes = h->n_heap = 0;
    uint64_t nu = 0;
    for (uint64_t i = 0; i < m; i++) {
        if (!ps__shm_place(h, keep[i].id, keep[i].kind, keep[i].size, keep[i].off))
            break;
        h->n_objects++;
        h->n_bytes += keep[i].size;
        if (keep[i].kind == PS__SHM_KIND_HEAP) {
            h->n_heap++;
            used[nu++] = keep[i].off;
        }
    }
    qsort(used, nu, sizeof *used, ps__shm_cmp_u64);

    /* 4. free lists: every block no entry names */
    for (uint32_t c = 0; c < PS__SHM_NCLASS; c++)
        h->free_head[c] = 0;
    for (off = 0; off < h->heap_bump;) {
        ps__shm_blk *b = (ps__shm_blk *)(void *)(ps__shm_heap(h) + off);
        uint64_t bs = ps__shm_block_size(b->cls);
        if (bsearch(&off, used, nu, sizeof *used, ps__shm_cmp_u64) != NULL) {
            b->magic = PS__SHM_BLK_USED;
            b->next = 0;
        } else {
            b->magic = PS__SHM_BLK_FREE;
            b->next = h->free_head[b->cls];
            h->free_head[b->cls] = off + 1;
        }
        off += bs;
    }
    ps_free(keep);
    ps_free(used);
    h->needs_repair = 0;
    h->repairs++;
}

/* ---- locking ---------------------------------------------------------------------- */

ps_status ps__shm_lock(ps__shm_arena *a, const char *what)
{
    ps__shm_hdr *h = a->h;
    int r = pthread_mutex_lock(&h->lock);
    if (r == EOWNERDEAD) {
        /* A process died holding the mutex: make the arena consistent. */
        ps__shm_repair(h);
        pthread_mutex_consistent(&h->lock);
    } else if (r != 0) {
        return ps__seterr(PS_EIO, "%s: cannot lock the index: %s", what, strerror(r));
    }
    if (h->dead) {
        pthread_mutex_unlock(&h->lock);
        return PS__SHM_STALE;
    }
    if (h->needs_repair) {
        ps__shm_repair(h);
        if (h->needs_repair) {
            pthread_mutex_unlock(&h->lock);
            return ps__seterr(PS_ENOMEM, "%s: out of memory repairing the index", what);
        }
    }
    return PS_OK;
}

void ps__shm_unlock(ps__shm_arena *a)
{
    pthread_mutex_unlock(&a->h->lock);
}

/* ---- attach / create -------------------------------------------------------------- */

void ps__shm_arena_detach(ps__shm_arena *a)
{
    if (a->h != NULL)
        munmap(a->h, a->maplen);
    if (a->fd >= 0)
        close(a->fd);
    a->h = NULL;
    a->fd = -1;
    a->maplen = 0;
}

/* Check a header read from a file of `size` bytes. */
static bool ps__shm_hdr_ok(const ps__shm_hdr *h, uint64_t size)
{
    return h->magic == PS__SHM_MAGIC && h->version == PS__SHM_VERSION &&
           h->hdr_size == sizeof(ps__shm_hdr) && h->file_size == size && h->nslots >= 64 &&
           h->nslots <= PS__SHM_MAX_SLOTS && (h->nslots & (h->nslots - 1)) == 0 &&
           h->index_off >= sizeof(ps__shm_hdr) && h->index_off % PS__PAGE == 0 &&
           h->heap_off >= h->index_off + h->nslots * sizeof(ps__shm_slot) &&
           h->heap_off % PS__PAGE == 0 && h->heap_size <= size &&
           h->heap_off <= size - h->heap_size;
}

/* Map the arena open on `fd`. PS__SHM_STALE when it is dead (retry by path). */
static ps_status ps__shm_map(int fd, const char *path, const char *what, ps__shm_arena *a)
{
    struct stat sb;
    ps__shm_hdr hdr;
    if (fstat(fd, &sb) != 0)
        return ps__seterr(PS_EIO, "%s: %s: %s", what, path, strerror(errno));
    ssize_t r = pread(fd, &hdr, sizeof hdr, 0);
    if (r != (ssize_t)sizeof hdr || !ps__shm_hdr_ok(&hdr, (uint64_t)sb.st_size))
        return ps__seterr(PS_EIO, "%s: %s is not a ProxyStore shm index (or a damaged one)", what,
                          path);
    void *m = mmap(NULL, (size_t)sb.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (m == MAP_FAILED)
        return ps__seterr(errno == ENOMEM ? PS_ENOMEM : PS_EIO, "%s: mmap %s: %s", what, path,
                          strerror(errno));
    a->fd = fd;
    a->h = m;
    a->maplen = (size_t)sb.st_size;
    ps_status st = ps__shm_lock(a, what);
    if (st != PS_OK) {
        munmap(m, a->maplen);
        a->h = NULL;
        a->fd = -1;
        return st;
    }
    ps__shm_unlock(a);
    return PS_OK;
}

/* Create a new arena file and link it into place. PS__SHM_STALE when another
 * process won the race (or the directory went away): retry. */
static ps_status ps__shm_create(const char *sdir, const char *what, uint64_t max_objects,
                                ps__shm_arena *a)
{
    uint64_t nslots = 64;
    while (nslots < PS__SHM_MAX_SLOTS && nslots / 4 * 3 < max_objects)
        nslots *= 2;
    uint64_t index_off = ps__round_up(sizeof(ps__shm_hdr), PS__PAGE);
    uint64_t heap_off = ps__round_up(index_off + nslots * sizeof(ps__shm_slot), PS__PAGE);
    uint64_t size = heap_off + PS__SHM_HEAP_SIZE;
    char tmp[4200], path[4200];
    unsigned char rnd[4] = {0};
    ps_random_bytes(rnd, sizeof rnd);
    snprintf(tmp, sizeof tmp, "%s/.index.%ld.%02x%02x%02x%02x.tmp", sdir, (long)getpid(), rnd[0],
             rnd[1], rnd[2], rnd[3]);
    snprintf(path, sizeof path, "%s/index", sdir);
    int fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        if (errno == ENOENT)
            return PS__SHM_STALE;
        return ps__seterr(errno == ENOSPC ? PS_ENOSPC : PS_EIO, "%s: cannot create %s: %s", what,
                          tmp, strerror(errno));
    }
    ps_status st = PS_OK;
    void *m = MAP_FAILED;
    if (ftruncate(fd, (off_t)size) != 0) {
        st = ps__seterr(PS_EIO, "%s: cannot size %s: %s", what, tmp, strerror(errno));
        goto fail;
    }
    int r = posix_fallocate(fd, 0, (off_t)heap_off);
    if (r != 0) {
        st = ps__seterr(r == ENOSPC ? PS_ENOSPC : PS_EIO,
                        "%s: cannot reserve %llu bytes of shared memory for the index in %s: %s",
                        what, (unsigned long long)heap_off, sdir, strerror(r));
        goto fail;
    }
    m = mmap(NULL, (size_t)size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (m == MAP_FAILED) {
        st = ps__seterr(PS_EIO, "%s: mmap %s: %s", what, tmp, strerror(errno));
        goto fail;
    }
    ps__shm_hdr *h = m;
    h->version = PS__SHM_VERSION;
    h->hdr_size = sizeof(ps__shm_hdr);
    h->file_size = size;
    h->index_off = index_off;
    h->nslots = nslots;
    h->heap_off = heap_off;
    h->heap_size = PS__SHM_HEAP_SIZE;
    pthread_mutexattr_t attr;
    pthread_mutexattr_init(&attr);
    pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
    pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST);
    r = pthread_mutex_init(&h->lock, &attr);
    pthread_mutexattr_destroy(&attr);
    if (r != 0) {
        st = ps__seterr(PS_EIO, "%s: cannot initialize the index mutex: %s", what, strerror(r));
        goto fail;
    }
    __atomic_store_n(&h->magic, PS__SHM_MAGIC, __ATOMIC_RELEASE);
    if (link(tmp, path) != 0) {
        int e = errno;
        st = (e == EEXIST || e == ENOENT)
                 ? PS__SHM_STALE
                 : ps__seterr(PS_EIO, "%s: cannot link %s: %s", what, path, strerror(e));
        goto fail;
    }
    unlink(tmp);
    a->fd = fd;
    a->h = h;
    a->maplen = (size_t)size;
    return PS_OK;
fail:
    if (m != MAP_FAILED)
        munmap(m, (size_t)size);
    close(fd);
    unlink(tmp);
    return st;
}

static ps_status ps__shm_attach(const char *sdir, const char *what, uint64_t max_objects,
                                bool create, ps__shm_arena *a)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/index", sdir);
    a->fd = -1;
    a->h = NULL;
    for (int tries = 0; tries < 200; tries++) {
        if (tries > 0)
            sched_yield(); /* a removal is racing us: let it finish */
        int fd = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
        if (fd >= 0) {
            ps_status st = ps__shm_map(fd, path, what, a);
            if (st == PS_OK)
                return PS_OK;
            close(fd);
            if (st != PS__SHM_STALE)
                return st;
            continue;
        }
        if (errno != ENOENT)
            return ps__seterr(PS_EIO, "%s: cannot open %s: %s", what, path, strerror(errno));
        if (!create)
            return PS_NOT_FOUND;
        if (mkdir(sdir, 0700) != 0 && errno != EEXIST)
            return ps__seterr(errno == ENOSPC ? PS_ENOSPC : PS_EIO, "%s: cannot create %s: %s",
                              what, sdir, strerror(errno));
        ps_status st = ps__shm_create(sdir, what, max_objects, a);
        if (st != PS__SHM_STALE)
            return st;
    }
    return ps__seterr(PS_EIO, "%s: %s keeps being removed or replaced while opening it", what,
                      path);
}

ps_status ps__shm_arena_attach(const char *sdir, const char *what, uint64_t max_objects,
                               ps__shm_arena *a)
{
    return ps__shm_attach(sdir, what, max_objects, true, a);
}

ps_status ps__shm_arena_open_existing(const char *sdir, const char *what, ps__shm_arena *a)
{
    return ps__shm_attach(sdir, what, 0, false, a);
}
