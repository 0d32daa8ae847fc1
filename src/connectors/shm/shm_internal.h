/*
 * Internals of the shm connector (src/connectors/shm.c, shm/arena.c).
 * Not installed. The design is written down in docs/connectors-shm.md.
 */
#ifndef PS_SHM_INTERNAL_H
#define PS_SHM_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/internal.h"
#include "proxystore/connectors/shm.h"

/* ---- the arena file (<dir>/proxystore-shm.<name>/index) -------------------- */

#define PS__SHM_MAGIC   UINT64_C(0x3130304d48535350) /* "PSSHM001" */
#define PS__SHM_VERSION 2u                           /* 2: readers flock segments (recycling) */

#define PS__SHM_NCLASS    11 /* heap blocks of 64 B << 0..10 (64 B .. 64 KiB) */
#define PS__SHM_BLOCK_MIN ((uint64_t)64)
#define PS__SHM_BLK_HDR   ((uint64_t)16)
#define PS__SHM_HEAP_SIZE ((uint64_t)256 << 20) /* virtual; reserved as it grows */
#define PS__SHM_HEAP_STEP ((uint64_t)1 << 20)   /* heap reservation granule */
#define PS__SHM_MAX_SLOTS ((uint64_t)1 << 25)

#define PS__SHM_SLOT_EMPTY   0u
#define PS__SHM_SLOT_USED    1u
#define PS__SHM_KIND_HEAP    1u
#define PS__SHM_KIND_SEGMENT 2u

#define PS__SHM_BLK_USED 0x44455355u /* "USED" */
#define PS__SHM_BLK_FREE 0x45455246u /* "FREE" */

/* One index entry. A slot's fields are written only while its state is
 * EMPTY, and the state is set USED last, so every USED slot is complete
 * (also after a crash at any point). */
typedef struct ps__shm_slot {
    uint32_t state;
    uint32_t kind;
    uint64_t size; /* object bytes */
    uint64_t off;  /* heap objects: block offset from the heap start */
    uint8_t id[16];
} ps__shm_slot;

/* A heap block's header; the object's bytes follow. */
typedef struct ps__shm_blk {
    uint32_t magic; /* PS__SHM_BLK_USED or _FREE */
    uint32_t cls;
    uint64_t next; /* free blocks: next free block offset + 1 (0: none) */
} ps__shm_blk;

typedef struct ps__shm_hdr {
    /* fixed at creation */
    uint64_t magic;
    uint32_t version;
    uint32_t hdr_size;
    uint64_t file_size;
    uint64_t index_off;
    uint64_t nslots; /* power of two */
    uint64_t heap_off;
    uint64_t heap_size;
    pthread_mutex_t lock; /* process-shared, robust */
    /* guarded by lock */
    uint32_t dead;         /* the store was removed: reattach by path */
    uint32_t needs_repair; /* a repair could not finish (out of memory) */
    uint64_t n_objects;
    uint64_t n_bytes;
    uint64_t n_heap;
    uint64_t heap_bump;     /* end of the carved blocks */
    uint64_t heap_reserved; /* fallocate'd bytes of the heap */
    uint64_t free_head[PS__SHM_NCLASS];
    uint64_t repairs;
} ps__shm_hdr;

/* An attached arena (one mapping of the index file). */
typedef struct ps__shm_arena {
    int fd;
    ps__shm_hdr *h;
    size_t maplen;
} ps__shm_arena;

/* Internal status: the arena was removed; reattach and retry. */
#define PS__SHM_STALE ((ps_status)1000)
/* Internal status: the heap has no room; store in a segment instead. */
#define PS__SHM_HEAPFULL ((ps_status)1001)

/*
 * Attach the store directory `sdir`'s arena, creating the directory and the
 * arena when missing (an index sized for `max_objects`). `what` names the
 * store in messages. Returns PS_OK, PS_EIO, PS_ENOSPC, PS_ENOMEM.
 */
ps_status ps__shm_arena_attach(const char *sdir, const char *what, uint64_t max_objects,
                               ps__shm_arena *a);
/* Attach an existing arena only: PS_NOT_FOUND when there is none. */
ps_status ps__shm_arena_open_existing(const char *sdir, const char *what, ps__shm_arena *a);
void ps__shm_arena_detach(ps__shm_arena *a);

/* Lock the arena's mutex (repairing after a dead owner). PS__SHM_STALE (and
 * unlocked) when the arena is dead. */
ps_status ps__shm_lock(ps__shm_arena *a, const char *what);
void ps__shm_unlock(ps__shm_arena *a);

/* Index operations (mutex held). */
ps__shm_slot *ps__shm_find(ps__shm_hdr *h, const uint8_t id[16]);
/* Insert a new entry (the id must be absent); PS_ENOSPC when the index is full. */
ps_status ps__shm_insert(ps__shm_hdr *h, const uint8_t id[16], uint32_t kind, uint64_t size,
                         uint64_t off, const char *what);
/* Remove the entry `slot` (from ps__shm_find); frees its heap block and
 * updates the counters. Segments are not unlinked here. */
void ps__shm_remove_slot(ps__shm_hdr *h, ps__shm_slot *slot);
/* Most entries the index takes. */
uint64_t ps__shm_index_cap(const ps__shm_hdr *h);

/* Heap (mutex held): a block for `len` bytes; PS__SHM_HEAPFULL when the heap
 * has no room, PS_ENOSPC when tmpfs refuses the pages. `*data` gets the
 * block's payload. */
ps_status ps__shm_heap_alloc(ps__shm_arena *a, size_t len, uint64_t *off, void **data,
                             const char *what);
/* The payload of the block at `off`, or NULL when `off` is not a valid used
 * block holding `size` bytes. */
void *ps__shm_heap_data(ps__shm_hdr *h, uint64_t off, uint64_t size);
/* Rebuild the index, the heap's free lists and the counters (mutex held). */
void ps__shm_repair(ps__shm_hdr *h);

/* UUID text <-> 16 bytes. */

#endif
