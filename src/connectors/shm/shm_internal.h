/*
 * Internals of the shm connector shared by its files. Not installed.
 *
 *   arena.c    the shared index file: header, robust mutex, index, heap, repair
 *   shm.c      options, open/close/config, the retry on a removed store, the
 *              ps_connector_ops table and the typed open
 *   ops.c      keys, limits, put/set of small objects, get/exists/evict
 *   segment.c  large objects in their own segments, the spare segment, reads
 *   admin.c    store directories (names, paths, gc, removal) and
 *              ps_shm_remove / ps_shm_gc / ps_shm_list
 *
 * The design is written down in docs/connectors-shm.md.
 */
#ifndef PS_SHM_INTERNAL_H
#define PS_SHM_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/internal.h"
#include "proxystore/connectors/shm.h"
#include "proxystore/sys/connector.h"

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

/* ---- an instance (shm.c) --------------------------------------------------- */

#define PS__SHM_RETRIES 8        /* reattaches of one operation; removal attempts */
#define PS__SHM_SPARE   ".spare" /* the store's spare segment (segment.c) */

typedef struct ps__shm {
    char name[PS_SHM_NAME_MAX + 1];
    char what[PS_SHM_NAME_MAX + 32]; /* "shm store NAME", for messages */
    char *dir;                       /* base directory (tmpfs) */
    char *sdir;                      /* <dir>/proxystore-shm.<name> */
    uint64_t max_bytes;              /* 0: no limit */
    uint64_t max_objects;
    bool copy_on_get;
    bool clear;
    pthread_rwlock_t maplock; /* shared by operations, exclusive to reattach */
    ps__shm_arena arena;
} ps__shm;

typedef ps_status (*ps__shm_fn)(ps__shm *s, void *arg);

/* Run `fn` with the arena mapped (map lock shared); reattach and retry while
 * it reports PS__SHM_STALE. */
ps_status ps__shm_run(ps__shm *s, ps__shm_fn fn, void *arg);

/* ---- the operations (ops.c), for the ops table in shm.c -------------------- */

ps_status ps__shm_new_key(void *priv, ps_key **key);
ps_status ps__shm_put(void *priv, const void *data, size_t len, const ps_put_options *opts,
                      ps_key **key);
ps_status ps__shm_set(void *priv, const ps_key *key, const void *data, size_t len);
ps_status ps__shm_get(void *priv, const ps_key *key, ps_bytes *out);
ps_status ps__shm_exists(void *priv, const ps_key *key, bool *exists);
ps_status ps__shm_evict(void *priv, const ps_key *key);

/* Limits for storing `len` bytes under `id` (mutex held): PS_ENOSPC when the
 * object or byte limit or the index would be exceeded. */
ps_status ps__shm_check_limits(ps__shm *s, const uint8_t id[16], size_t len);

/* What a put stores: `len` bytes of `data` under `id` (`uuid` its text). */
typedef struct ps__shm_put_arg {
    const uint8_t *id;
    const char *uuid;
    const void *data;
    size_t len;
} ps__shm_put_arg;

/* ---- large objects (segment.c) --------------------------------------------- */

/* A large object (a ps__shm_fn taking a ps__shm_put_arg): written to a
 * temporary segment, renamed into place and published under the mutex. */
ps_status ps__shm_put_large_fn(ps__shm *s, void *varg);
/* Under the arena mutex, with the slot of a segment just removed: keep the
 * file as the store's spare when nobody maps it, else unlink it (0 or -1 with
 * errno). */
int ps__shm_retire_segment(ps__shm *s, const char *path, uint64_t size);
/* Map (or copy) the segment of object `uuid` into `out`. PS_NOT_FOUND when it
 * is gone (evicted since the lookup). */
ps_status ps__shm_read_segment(ps__shm *s, const char *uuid, ps_bytes *out);

/* ---- store directories (admin.c) ------------------------------------------- */

/* A valid store name: [A-Za-z0-9._-]{1,PS_SHM_NAME_MAX}, not "." or "..". */
bool ps__shm_name_ok(const char *name);
/* Check `dir` (absolute, not too long; NULL: the default) and copy it without
 * trailing slashes into `*out` (new). PS_EINVAL, PS_ENOMEM. */
ps_status ps__shm_dir_norm(const char *dir, char **out);
/* The store directory <dir>/proxystore-shm.<name> (new), or NULL when out of
 * memory. */
char *ps__shm_store_dir(const char *dir, const char *name);
/* Remove temporary segments of dead writers and, when `orphans` (arena mutex
 * taken here), the spare and the segments the index does not name; `a` may
 * be NULL when not `orphans`. `*removed` counts. */
ps_status ps__shm_gc_dir(ps__shm_arena *a, const char *sdir, const char *what, bool orphans,
                         size_t *removed);
/* Remove the store of `s` (its arena mapped): mark the arena dead, move the
 * directory away and remove it. PS__SHM_STALE when it was already removed. */
ps_status ps__shm_remove_store(ps__shm *s);

#endif
