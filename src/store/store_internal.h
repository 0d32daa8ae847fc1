/*
 * The store object, shared by store.c, config.c and metrics.c, and the calls
 * between store.c and config.c. Not installed.
 */
#ifndef PS_STORE_INTERNAL_H
#define PS_STORE_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include <jansson.h>

#include "core/internal.h"
#include "proxystore/codec.h"
#include "proxystore/store.h"
#include "store/cache.h"
#include "store/metrics_table.h"

/* Longest store name, in bytes (without the NUL). */
#define PS__STORE_NAME_MAX 255

struct ps_store {
    _Atomic long refs;
    char name[PS__STORE_NAME_MAX + 1];
    const ps_codec *codec;
    ps_store_options opts; /* opts.codec points to codec->name */

    /* Operations that use the connector hold `lock` for reading; close holds
     * it for writing, so it waits for in-flight operations and none starts
     * after it. `closed` is also readable without the lock (cache hits). */
    pthread_rwlock_t lock;
    _Atomic bool closed;
    ps_connector *conn; /* NULL once closed */

    ps__cache cache;
    ps__metrics *metrics; /* NULL when metrics are off */
};

#define PS__CHECK_STORE(s, fn) PS__RETURN_IF((s) == NULL, PS_EINVAL, "%s: store is NULL", fn)

/* ---- store.c ---------------------------------------------------------------- */

/* Check a new store's name and options; `*codec` gets the codec they name. */
ps_status ps__store_check_new(const char *name, const ps_store_options *opts,
                              const ps_codec **codec);

/*
 * Build a store. Like ps_store_new, but registration is up to the caller
 * (`do_register`), so get_or_create can record opts->register_store in the
 * configuration without registering twice.
 * Ownership: takes `conn` whatever happens; `*out` is a new reference.
 */
ps_status ps__store_create(const char *name, ps_connector *conn, const ps_store_options *opts,
                           bool do_register, ps_store **out);

/* The connector's configuration, under the store's read lock; PS_ESTATE when
 * the store is closed. Ownership: `*conn` is a new reference. */
ps_status ps__store_connector_config(ps_store *s, json_t **conn);

/* ---- config.c --------------------------------------------------------------- */

/* Read the "name" field of a configuration (borrowed from `cfg`). */
ps_status ps__store_config_name(json_t *cfg, const char **name);

/*
 * Build a store from a parsed configuration object (borrowed). When
 * `do_register` and the configuration says auto_register, register it too.
 * Ownership: `*out` is a new reference.
 */
ps_status ps__store_from_config_obj(json_t *cfg, bool do_register, ps_store **out);

#endif
