/*
 * Internals of the redis connector shared by its files. Not installed.
 *
 *   resp.c      RESP2: the request writer and the reply reader (resp.h)
 *   pool.c      connections, the pool, the retry on a lost connection (pool.h)
 *   commands.c  the commands each operation sends and the replies it checks
 *   keyset.c    the set of keys an instance wrote (for close(clear))
 *   redis.c     options, open/close/config and the ps_connector_ops table
 *
 * The design is written down in docs/connectors-redis.md.
 */
#ifndef PS_REDIS_INTERNAL_H
#define PS_REDIS_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include "connectors/redis/pool.h"
#include "proxystore/sys/connector.h"

/* A key names a Redis string by its bare UUID text. */
#define PS__REDIS_UUID_LEN 36

/* ---- the set of written keys (keyset.c) -------------------------------------- */

typedef struct ps__redis_uuid {
    unsigned char b[16];
} ps__redis_uuid;

/* Open addressing with linear probing; zero-initialise. Not locked. */
typedef struct ps__redis_keyset {
    ps__redis_uuid *slots;
    unsigned char *used;
    size_t cap; /* power of two, or 0 */
    size_t n;
} ps__redis_keyset;

ps_status ps__redis_keyset_add(ps__redis_keyset *s, const ps__redis_uuid *u);
void ps__redis_keyset_remove(ps__redis_keyset *s, const ps__redis_uuid *u);
void ps__redis_keyset_free(ps__redis_keyset *s);
/* Every member as UUID text: ids[i] points into text, (PS__REDIS_UUID_LEN
 * + 1) bytes each; both hold s->n entries. Returns s->n. */
size_t ps__redis_keyset_text(const ps__redis_keyset *s, char *text, const char **ids);

/* ---- commands (commands.c): ps__redis_fn for ps__redis_run -------------------- */

/* One key: SET (data, len), GET (out), EXISTS (exists) or DEL. */
typedef struct ps__redis_one {
    const char *id;
    const void *data; /* SET */
    size_t len;
    ps_bytes *out; /* GET */
    bool *exists;  /* EXISTS */
} ps__redis_one;

/* SET: PS_OK once stored. */
ps_status ps__redis_do_set(ps__redis_pool *p, ps__redis_conn *c, void *one);
/* GET: PS_OK with the value in one->out (ps_malloc'd), or PS_NOT_FOUND. */
ps_status ps__redis_do_get(ps__redis_pool *p, ps__redis_conn *c, void *one);
/* EXISTS: *one->exists. */
ps_status ps__redis_do_exists(ps__redis_pool *p, ps__redis_conn *c, void *one);
/* DEL (a missing key is fine). */
ps_status ps__redis_do_del(ps__redis_pool *p, ps__redis_conn *c, void *one);

/* Many keys: MSET (items), MGET (outs and found) or DEL (neither). */
typedef struct ps__redis_batch {
    size_t n;
    const char *const *ids; /* n UUIDs */
    const ps_iov *items;    /* MSET values, or NULL */
    ps_bytes *outs;         /* MGET results */
    bool *found;
} ps__redis_batch;

/* Pipelined in chunks, one round trip. MGET hands out values only when every
 * reply checked out. */
ps_status ps__redis_do_batch(ps__redis_pool *p, ps__redis_conn *c, void *batch);

#endif
