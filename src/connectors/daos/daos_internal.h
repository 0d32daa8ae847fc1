/*
 * Internals of the DAOS connector shared by its files. Not installed.
 *
 * The connector keeps objects in a pydaos dictionary (DDict) of a DAOS
 * container, through libdaos loaded at run time. See
 * include/proxystore/connectors/daos.h for the contract and spec/daos-abi.md
 * for the facts followed here.
 *
 *   daos.c       options, open/close/config, the ps_connector_ops table and
 *                ps_daos_connector_open
 *   container.c  the pool, the container and pydaos's layout in it: the root
 *                KV, the namespace's dictionary (found or created as
 *                DCont.dict does), and clearing the dictionary (clear_all)
 *   kv.c         keys and the operations: put/get/exists/evict/set and the
 *                batches, in pydaos's single-value layout (with the
 *                empty-object markers)
 *   batch.c      the batch engine: up to PS_DAOS_MAX_INFLIGHT operations in
 *                flight on a pooled event queue
 *   errors.c     DER codes: their names, their ps_status, the messages
 *   loader.c     libdaos loaded with dlopen into a table (daos_loader.h)
 */
#ifndef PS_DAOS_INTERNAL_H
#define PS_DAOS_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#include "connectors/daos/daos_loader.h"
#include "proxystore/sys/connector.h"

/* First buffer size for a get; a larger value costs one more round trip. */
#define PS__DAOS_GET_INITIAL (64u * 1024u)
/* Key-listing state (pydaos's starting values). */
#define PS__DAOS_LIST_NR  256u
#define PS__DAOS_LIST_BUF 4096u

typedef struct ps__daos {
    const ps__daos_api *api;
    char *pool;
    char *cont;
    char *ns;
    bool clear;
    bool inited;
    daos_handle_t poh;
    daos_handle_t coh;
    daos_handle_t root_oh;
    daos_handle_t oh;
    daos_obj_id_t dict_oid;
    pthread_mutex_t eq_lock;
    daos_handle_t *eqs; /* idle event queues */
    size_t neqs;
    size_t eqs_cap;
} ps__daos;

/* Suffix of the dkey that marks an empty object (see ps__daos_store in kv.c). */
#define PS__DAOS_EMPTY_SUFFIX "#empty"

/* ---- errors (errors.c) --------------------------------------------------------- */

/* The name of DER code `rc` (d_errstr's when libdaos has it); never NULL. */
const char *ps__daos_errname(const ps__daos_api *api, int rc);
/* Message "daos pool/cont/ns: <call>[ key]: DER_X (-n)" and the mapped status. */
ps_status ps__daos_fail(const ps__daos *d, int rc, const char *call, const char *key);

/* ---- container and layout (container.c) ---------------------------------------- */

/*
 * daos_init, connect the pool, open the container, check its layout, open the
 * root KV and the namespace's dictionary (created when absent). On failure
 * the handles opened so far stay in `d` for the caller's teardown.
 */
ps_status ps__daos_connect(ps__daos *d);
/* Remove every key of the dictionary. */
ps_status ps__daos_clear_all(ps__daos *d);

/* ---- keys and operations (kv.c) ------------------------------------------------ */

/* Strict UTF-8 (no overlongs, surrogates or code points past U+10FFFF). */
bool ps__daos_utf8_ok(const char *s);
/* The marker dkey of `dkey` (ps_malloc'd), or NULL when out of memory. */
char *ps__daos_marker(const char *dkey);

ps_status ps__daos_new_key(void *priv, ps_key **key);
ps_status ps__daos_put(void *priv, const void *data, size_t len, const ps_put_options *opts,
                       ps_key **key);
ps_status ps__daos_set(void *priv, const ps_key *key, const void *data, size_t len);
ps_status ps__daos_get(void *priv, const ps_key *key, ps_bytes *out);
ps_status ps__daos_exists(void *priv, const ps_key *key, bool *exists);
ps_status ps__daos_evict(void *priv, const ps_key *key);
ps_status ps__daos_put_batch(void *priv, size_t n, const ps_iov *items, const ps_put_options *opts,
                             ps_key **keys);
ps_status ps__daos_get_batch(void *priv, size_t n, const ps_key *const *keys, ps_bytes *outs,
                             bool *found);

/* ---- batches (batch.c) --------------------------------------------------------- */

typedef enum { PS__DAOS_PUT, PS__DAOS_GET, PS__DAOS_REMOVE } ps__daos_opkind;

typedef struct ps__daos_batch {
    ps__daos *d;
    ps__daos_opkind kind;
    size_t n;
    const char *const *dkeys;
    const ps_iov *items; /* PUT */
    ps_bytes *outs;      /* GET */
    bool *found;         /* GET */
    ps_status st;        /* first error */
} ps__daos_batch;

/*
 * Run `b` with up to PS_DAOS_MAX_INFLIGHT operations in flight; after the
 * first error nothing new is launched, what is in flight is drained, and the
 * first error is returned (also left in b->st).
 */
ps_status ps__daos_run_batch(ps__daos_batch *b);

#endif
