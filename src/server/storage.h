/*
 * Endpoint blob storage: one interface, two backends.
 *
 *  - "memory": blobs in memory, with the seed's EndpointStorage semantics
 *    (v0.4): max_size bounds the bytes held in memory, and when a new or
 *    reloaded blob does not fit, the least recently used in-memory blobs are
 *    written to files in dump_dir and read back (and their file deleted) on
 *    access. max_size and dump_dir are given together or not at all. Every
 *    operation is O(1) apart from the disk I/O (hash table + intrusive LRU
 *    list).
 *  - "sqlite": a SQLite database (WAL mode, synchronous=FULL) with upstream's
 *    schema `blobs(key TEXT PRIMARY KEY, value BLOB NOT NULL)`, so a set that
 *    returned PS_OK survives the process being killed.
 *
 * Both refuse a blob larger than max_object_size (and, for memory with a
 * limit, larger than max_size) with PS_ETOOBIG and upstream's message
 * ("Bytes value has size 1.5 KB which exceeds the 1 KB object limit.").
 *
 * Values travel as reference-counted ep_buf, so a /get response can send the
 * stored bytes without copying them while the storage stays free to spill or
 * drop the blob.
 *
 * Thread safety: every function may be called from many threads at once.
 */
#ifndef PS_ENDPOINT_STORAGE_H
#define PS_ENDPOINT_STORAGE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proxystore/status.h"

/* Longest key accepted (bytes). Keys are NUL-free strings. */
#define EP_MAX_KEY_LEN 1024

/* Upstream's MAX_OBJECT_SIZE_DEFAULT: 100 MB (decimal). */
#define EP_MAX_OBJECT_SIZE_DEFAULT 100000000ULL

/* ---- reference-counted byte buffers ------------------------------------ */

typedef struct ep_buf {
    atomic_size_t refs;
    size_t len;
    size_t cap;
    unsigned char data[];
} ep_buf;

/* A new buffer with room for `cap` bytes, len 0, one reference.
 * Ownership: release with ep_buf_unref(). NULL when out of memory. */
ep_buf *ep_buf_new(size_t cap);

/* Append `n` bytes, growing geometrically; `*b` may move (only while the
 * caller holds the only reference). PS_ENOMEM leaves `*b` as it was. */
ps_status ep_buf_append(ep_buf **b, const void *data, size_t n);

/* Take another reference. */
ep_buf *ep_buf_ref(ep_buf *b);

/* Drop a reference; frees on the last one. Accepts NULL. */
void ep_buf_unref(ep_buf *b);

/* ---- storage ------------------------------------------------------------ */

typedef enum ep_storage_kind { EP_STORAGE_MEMORY = 0, EP_STORAGE_SQLITE = 1 } ep_storage_kind;

typedef struct ep_storage_options {
    ep_storage_kind kind;
    uint64_t max_object_size;  /* 0: no limit */
    uint64_t max_size;         /* memory: bytes held in memory; 0: no limit */
    const char *dump_dir;      /* memory: where blobs spill; with max_size */
    const char *database_path; /* sqlite: a file path or ":memory:" */
} ep_storage_options;

typedef struct ep_storage ep_storage;

/*
 * Open a storage. The dump directory is created if missing (mode 0700).
 * Returns PS_EINVAL (only one of max_size/dump_dir: "Either both of max_size
 * and dump_dir should be specified or neither."), PS_EIO (directory or
 * database cannot be opened, naming it), PS_ENOMEM.
 * Ownership: close with ep_storage_close().
 */
ps_status ep_storage_open(const ep_storage_options *opts, ep_storage **out);

/*
 * Would a blob of `size` bytes be accepted? PS_ETOOBIG with upstream's
 * message when it exceeds max_object_size ("... object limit.") or max_size
 * ("... memory limit."); PS_OK otherwise. Used before a body is read.
 */
ps_status ep_storage_check_size(ep_storage *s, uint64_t size);

/* The largest blob accepted (the smaller non-zero limit), 0 when unlimited. */
uint64_t ep_storage_limit(const ep_storage *s);

/*
 * Store `value` under `key` (insert or replace). Takes over the caller's
 * reference to `value` in every case (success or failure).
 * Returns PS_ETOOBIG, PS_EINVAL (key too long), PS_EIO (spill or database
 * error, with the path and cause), PS_ENOMEM.
 */
ps_status ep_storage_set(ep_storage *s, const char *key, ep_buf *value);

/*
 * Fetch the blob under `key`. PS_NOT_FOUND when absent (no message).
 * Ownership: `*out` is a new reference; release with ep_buf_unref(). Its
 * bytes must not be modified.
 */
ps_status ep_storage_get(ep_storage *s, const char *key, ep_buf **out);

/* Whether `key` is stored. */
ps_status ep_storage_exists(ep_storage *s, const char *key, bool *out);

/* Remove `key`; removing an absent key is PS_OK. */
ps_status ep_storage_evict(ep_storage *s, const char *key);

/* Remove every blob (and every spill file). */
ps_status ep_storage_clear(ep_storage *s);

/* Statistics (for tests and logs). */
typedef struct ep_storage_stats {
    uint64_t objects;      /* blobs stored */
    uint64_t memory_bytes; /* bytes of blobs held in memory (memory backend) */
    uint64_t spilled;      /* blobs currently in dump files (memory backend) */
    uint64_t spill_writes; /* blobs written to dump files so far */
    uint64_t spill_reads;  /* blobs read back from dump files so far */
} ep_storage_stats;

void ep_storage_get_stats(ep_storage *s, ep_storage_stats *out);

/* The backend's name ("memory" or "sqlite"). Static string. */
const char *ep_storage_kind_name(const ep_storage *s);

/*
 * Close the storage. With `cleanup`, the memory backend also deletes its
 * spill files and removes the dump directory when that leaves it empty
 * (the seed's cleanup()); the SQLite database is never deleted.
 * Accepts NULL.
 */
void ep_storage_close(ep_storage *s, bool cleanup);

/*
 * Upstream's bytes_to_readable(): base-10 units, three decimals, trailing
 * zeros dropped ("1 KB", "1.5 MB", "999 B"). Writes at most `size` bytes.
 */
void ep_readable_size(uint64_t n, char *buf, size_t size);

#endif
