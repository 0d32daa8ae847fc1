/*
 * The store object, shared by store.c and metrics.c. Not installed.
 */
#ifndef PS_STORE_INTERNAL_H
#define PS_STORE_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

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

#endif
