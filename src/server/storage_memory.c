/*
 * Memory storage with LRU spill to files: the seed's EndpointStorage + Blob.
 *
 * Policy (exact LRU over the blobs held in memory):
 *  - `memory_bytes` counts the bytes of blobs held in memory; with a limit
 *    (max_size), a set or a reload of `n` bytes first writes the least
 *    recently used in-memory blobs to `dump_dir` until memory_bytes + n fits
 *    (or nothing is left in memory).
 *  - A get of a blob in memory makes it the most recently used. A get of a
 *    spilled blob makes room, reads the file back, deletes it, and makes the
 *    blob the most recently used (the seed's Blob.load()).
 *  - A blob larger than max_size (or max_object_size) is refused.
 *  - Unlike the seed, replacing a key releases the old value (its size and
 *    its dump file), and clear() resets the byte count and deletes the files.
 *
 * Structures: a chained hash table (power-of-two buckets, doubled at load 1)
 * and an intrusive doubly linked list of the in-memory blobs with a sentinel
 * (next of the sentinel = least recently used). Every step is O(1) apart
 * from the file I/O.
 *
 * Dump files are named "<16 hex digits>.blob" from a per-storage counter,
 * never from the key, so no key reaches the file system.
 *
 * Thread safety: one mutex around everything (file I/O included; spilling
 * only happens under memory pressure).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/internal.h"
#include "storage_impl.h"

typedef struct lru_link {
    struct lru_link *prev, *next; /* NULL when not in memory */
} lru_link;

typedef struct blob {
    lru_link link; /* first member: a lru_link * is a blob * */
    struct blob *hnext;
    uint64_t hash;
    ep_buf *data; /* NULL when spilled */
    size_t size;
    uint64_t file_id; /* 0: no dump file */
    size_t klen;
    char key[];
} blob;

typedef struct mem {
    pthread_mutex_t lock;
    blob **buckets;
    size_t nbuckets; /* power of two */
    size_t count;
    lru_link lru; /* sentinel */
    uint64_t max_size;
    char *dump_dir;
    uint64_t next_file;
    uint64_t memory_bytes;
    uint64_t spilled;
    uint64_t spill_writes;
    uint64_t spill_reads;
} mem;

/* ---- LRU list ------------------------------------------------------------ */

static void lru_unlink(blob *b)
{
    lru_link *l = &b->link;
    if (l->prev != NULL) {
        l->prev->next = l->next;
        l->next->prev = l->prev;
        l->prev = l->next = NULL;
    }
}

static void lru_push_mru(mem *m, blob *b)
{
    lru_link *l = &b->link;
    l->prev = m->lru.prev;
    l->next = &m->lru;
    m->lru.prev->next = l;
    m->lru.prev = l;
}

/* ---- hash table ------------------------------------------------------------ */

static blob **slot_of(mem *m, const char *key, size_t klen, uint64_t h)
{
    blob **pp = &m->buckets[h & (m->nbuckets - 1)];
    while (*pp != NULL &&
           !((*pp)->hash == h && (*pp)->klen == klen && memcmp((*pp)->key, key, klen) == 0))
        pp = &(*pp)->hnext;
    return pp;
}

static void grow(mem *m)
{
    size_t n = m->nbuckets * 2;
    blob **nb = ps_calloc(n, sizeof *nb);
    if (nb == NULL)
        return; /* keep the old table: longer chains, still correct */
    for (size_t i = 0; i < m->nbuckets; i++) {
        blob *b = m->buckets[i];
        while (b != NULL) {
            blob *nx = b->hnext;
            b->hnext = nb[b->hash & (n - 1)];
            nb[b->hash & (n - 1)] = b;
            b = nx;
        }
    }
    ps_free(m->buckets);
    m->buckets = nb;
    m->nbuckets = n;
}

/* ---- dump files ----------------------------------------------------------- */

static void file_path(const mem *m, uint64_t id, char *buf, size_t size)
{
    snprintf(buf, size, "%s/%016llx.blob", m->dump_dir, (unsigned long long)id);
}

static ps_status write_all(int fd, const unsigned char *p, size_t n, const char *path)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return ps__seterr(PS_EIO, "spill file %s: write: %s", path, strerror(errno));
        p += w;
        n -= (size_t)w;
    }
    return PS_OK;
}

/* Write an in-memory blob to a new dump file and drop it from memory. */
static ps_status spill(mem *m, blob *b)
{
    char path[4096];
    uint64_t id = ++m->next_file;
    file_path(m, id, path, sizeof path);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        return ps__seterr(PS_EIO, "spill file %s: %s", path, strerror(errno));
    ps_status st = write_all(fd, b->data->data, b->size, path);
    if (close(fd) != 0 && st == PS_OK)
        st = ps__seterr(PS_EIO, "spill file %s: close: %s", path, strerror(errno));
    if (st != PS_OK) {
        unlink(path);
        return st;
    }
    b->file_id = id;
    lru_unlink(b);
    ep_buf_unref(b->data);
    b->data = NULL;
    m->memory_bytes -= b->size;
    m->spilled++;
    m->spill_writes++;
    return PS_OK;
}

static void delete_file(mem *m, blob *b)
{
    if (b->file_id != 0) {
        char path[4096];
        file_path(m, b->file_id, path, sizeof path);
        unlink(path);
        b->file_id = 0;
        m->spilled--;
    }
}

/* Read a spilled blob back into memory and delete its file. */
static ps_status load(mem *m, blob *b)
{
    char path[4096];
    file_path(m, b->file_id, path, sizeof path);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return ps__seterr(PS_EIO, "spill file %s: %s", path, strerror(errno));
    ep_buf *buf = ep_buf_new(b->size);
    if (buf == NULL) {
        close(fd);
        return ps__seterr(PS_ENOMEM, "out of memory reloading %zu bytes from %s", b->size, path);
    }
    size_t got = 0;
    ps_status st = PS_OK;
    while (got < b->size) {
        ssize_t r = read(fd, buf->data + got, b->size - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            st = ps__seterr(PS_EIO, "spill file %s: read: %s", path, strerror(errno));
            break;
        }
        if (r == 0) {
            st = ps__seterr(PS_EIO, "spill file %s: truncated (%zu of %zu bytes)", path, got,
                            b->size);
            break;
        }
        got += (size_t)r;
    }
    close(fd);
    if (st != PS_OK) {
        ep_buf_unref(buf);
        return st;
    }
    buf->len = b->size;
    b->data = buf;
    delete_file(m, b);
    m->memory_bytes += b->size;
    lru_push_mru(m, b);
    m->spill_reads++;
    return PS_OK;
}

/* Spill least recently used blobs until `n` more bytes fit. */
static ps_status make_space(mem *m, size_t n)
{
    while (m->max_size > 0 && m->memory_bytes + n > m->max_size && m->lru.next != &m->lru)
        PS__FORWARD(spill(m, (blob *)m->lru.next));
    return PS_OK;
}

/* Unlink `*pp` from the table and release everything it holds. */
static void remove_at(mem *m, blob **pp)
{
    blob *b = *pp;
    *pp = b->hnext;
    if (b->data != NULL) {
        lru_unlink(b);
        m->memory_bytes -= b->size;
        ep_buf_unref(b->data);
    }
    delete_file(m, b);
    m->count--;
    ps_free(b);
}

/* ---- operations ------------------------------------------------------------ */

static ps_status mkdirs(const char *path)
{
    char tmp[4096];
    size_t n = strlen(path);
    PS__RETURN_IF(n == 0 || n >= sizeof tmp - 32, PS_EINVAL, "dump_dir: invalid path length %zu",
                  n);
    memcpy(tmp, path, n + 1);
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(tmp, 0700) != 0 && errno != EEXIST)
            return ps__seterr(PS_EIO, "dump_dir %s: mkdir %s: %s", path, tmp, strerror(errno));
        *p = '/';
    }
    if (mkdir(tmp, 0700) != 0 && errno != EEXIST)
        return ps__seterr(PS_EIO, "dump_dir %s: %s", path, strerror(errno));
    struct stat sb;
    if (stat(tmp, &sb) != 0 || !S_ISDIR(sb.st_mode))
        return ps__seterr(PS_EIO, "dump_dir %s: not a directory", path);
    if (access(tmp, W_OK | X_OK) != 0)
        return ps__seterr(PS_EIO, "dump_dir %s: %s", path, strerror(errno));
    return PS_OK;
}

static ps_status mem_open(const ep_storage_options *o, void **impl)
{
    bool has_dir = o->dump_dir != NULL && o->dump_dir[0] != '\0';
    PS__RETURN_IF((o->max_size > 0) != has_dir, PS_EINVAL,
                  "Either both of max_size and dump_dir should be specified or neither.");
    if (has_dir)
        PS__FORWARD(mkdirs(o->dump_dir));
    mem *m = ps_calloc(1, sizeof *m);
    if (m == NULL)
        return PS__ENOMEM("memory storage");
    m->nbuckets = 64;
    m->buckets = ps_calloc(m->nbuckets, sizeof *m->buckets);
    m->dump_dir = has_dir ? ps_strdup(o->dump_dir) : NULL;
    if (m->buckets == NULL || (has_dir && m->dump_dir == NULL)) {
        ps_free(m->buckets);
        ps_free(m->dump_dir);
        ps_free(m);
        return PS__ENOMEM("memory storage");
    }
    pthread_mutex_init(&m->lock, NULL);
    m->lru.prev = m->lru.next = &m->lru;
    m->max_size = o->max_size;
    *impl = m;
    return PS_OK;
}

static ps_status mem_set(void *impl, const char *key, size_t klen, ep_buf *value)
{
    mem *m = impl;
    blob *nb = ps_malloc(sizeof(blob) + klen + 1);
    if (nb == NULL) {
        ep_buf_unref(value);
        return PS__ENOMEM("blob entry");
    }
    memset(nb, 0, sizeof *nb);
    memcpy(nb->key, key, klen);
    nb->key[klen] = '\0';
    nb->klen = klen;
    nb->hash = ps__hash64(key, klen);
    nb->size = value->len;
    nb->data = value;

    pthread_mutex_lock(&m->lock);
    blob **pp = slot_of(m, key, klen, nb->hash);
    if (*pp != NULL)
        remove_at(m, pp); /* replaced: release the old value and its file */
    ps_status st = make_space(m, nb->size);
    if (st != PS_OK) {
        pthread_mutex_unlock(&m->lock);
        ep_buf_unref(value);
        ps_free(nb);
        return st;
    }
    pp = slot_of(m, key, klen, nb->hash);
    *pp = nb;
    m->count++;
    m->memory_bytes += nb->size;
    lru_push_mru(m, nb);
    if (m->count > m->nbuckets)
        grow(m);
    pthread_mutex_unlock(&m->lock);
    return PS_OK;
}

static ps_status mem_get(void *impl, const char *key, size_t klen, ep_buf **out)
{
    mem *m = impl;
    ps_status st = PS_OK;
    pthread_mutex_lock(&m->lock);
    blob *b = *slot_of(m, key, klen, ps__hash64(key, klen));
    if (b == NULL) {
        st = PS_NOT_FOUND;
    } else if (b->data != NULL) {
        lru_unlink(b);
        lru_push_mru(m, b);
    } else {
        st = make_space(m, b->size);
        if (st == PS_OK)
            st = load(m, b);
    }
    if (st == PS_OK)
        *out = ep_buf_ref(b->data);
    pthread_mutex_unlock(&m->lock);
    return st;
}

static ps_status mem_exists(void *impl, const char *key, size_t klen, bool *out)
{
    mem *m = impl;
    pthread_mutex_lock(&m->lock);
    *out = *slot_of(m, key, klen, ps__hash64(key, klen)) != NULL;
    pthread_mutex_unlock(&m->lock);
    return PS_OK;
}

static ps_status mem_evict(void *impl, const char *key, size_t klen)
{
    mem *m = impl;
    pthread_mutex_lock(&m->lock);
    blob **pp = slot_of(m, key, klen, ps__hash64(key, klen));
    if (*pp != NULL)
        remove_at(m, pp);
    pthread_mutex_unlock(&m->lock);
    return PS_OK;
}

static void clear_locked(mem *m)
{
    for (size_t i = 0; i < m->nbuckets; i++)
        while (m->buckets[i] != NULL)
            remove_at(m, &m->buckets[i]);
}

static ps_status mem_clear(void *impl)
{
    mem *m = impl;
    pthread_mutex_lock(&m->lock);
    clear_locked(m);
    pthread_mutex_unlock(&m->lock);
    return PS_OK;
}

static void mem_stats(void *impl, ep_storage_stats *out)
{
    mem *m = impl;
    pthread_mutex_lock(&m->lock);
    out->objects = m->count;
    out->memory_bytes = m->memory_bytes;
    out->spilled = m->spilled;
    out->spill_writes = m->spill_writes;
    out->spill_reads = m->spill_reads;
    pthread_mutex_unlock(&m->lock);
}

static void mem_close(void *impl, bool cleanup)
{
    mem *m = impl;
    clear_locked(m); /* spill files are useless without the index */
    if (cleanup && m->dump_dir != NULL)
        rmdir(m->dump_dir); /* only when empty: never delete others' files */
    pthread_mutex_destroy(&m->lock);
    ps_free(m->buckets);
    ps_free(m->dump_dir);
    ps_free(m);
}

const ep_storage_ops ep_storage_memory_ops = {
    "memory", mem_open, mem_set, mem_get, mem_exists, mem_evict, mem_clear, mem_stats, mem_close,
};
