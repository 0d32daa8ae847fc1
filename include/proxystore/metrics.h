/*
 * Store metrics, with upstream ProxyStore's names.
 *
 * When a store is made with metrics on, every operation records its time
 * under its name ("store.put", "store.put.serialize", "store.put.connector",
 * "store.get", "store.get.connector", "store.get.deserialize", "store.exists",
 * "store.exists.connector", "store.evict", "store.evict.connector",
 * "store.put_batch", "store.set", "store.proxy", "factory.resolve", ...),
 * counters ("store.get.cache_hits", "store.get.cache_misses") and attributes
 * ("store.put.object_size", "store.get.object_size", the last value seen).
 * Metrics are aggregated per name over all keys (upstream also keeps them per
 * key; that memory grows without bound, so we do not).
 *
 * Thread safety: recording and reading are safe from many threads.
 */
#ifndef PROXYSTORE_METRICS_H
#define PROXYSTORE_METRICS_H

#include <stdint.h>

#include "status.h"
#include "store.h"

#ifdef __cplusplus
extern "C" {
#endif

#define PS_TIME_STATS_VERSION 1

/** Aggregated times of one operation, in milliseconds. Filled by the
 *  library: set its version with ps_time_stats_init() before the call. */
typedef struct ps_time_stats {
    unsigned version; /**< PS_TIME_STATS_VERSION */
    uint64_t count;
    double total_ms;
    double min_ms; /**< 0 when count is 0 */
    double max_ms;
    double avg_ms;
    double last_ms;
    double last_timestamp; /**< wall clock, seconds since the epoch */
} ps_time_stats;

/**
 * Every metric as JSON text:
 *   {"times": {"store.put": {"count": n, "total_time_ms": x, "avg_time_ms": x,
 *     "min_time_ms": x, "max_time_ms": x, "last_time_ms": x,
 *     "last_timestamp": x}, ...},
 *    "counters": {"store.get.cache_hits": n, ...},
 *    "attributes": {"store.put.object_size": n, ...}}
 * PS_ESTATE when the store has metrics off.
 * Ownership: `*json` is new; free with ps_free().
 */
PS_API ps_status ps_store_metrics_json(ps_store *store, char **json);

/** Fill `t` with zeros and its version. Accepts NULL.
 *  Ownership: `*t` is the caller's. */
PS_API void ps_time_stats_init(ps_time_stats *t);

/** Times recorded under `name` into `*out`, which ps_time_stats_init()
 *  filled first (PS_EINVAL for an unknown version); PS_NOT_FOUND if none,
 *  PS_ESTATE if off. On every status but PS_EINVAL `*out` holds zeros or the
 *  times. Ownership: `*out` is the
 * caller's. */
PS_API ps_status ps_store_metrics_time_stats(ps_store *store, const char *name, ps_time_stats *out);

/** Counter `name`; PS_NOT_FOUND if never incremented, PS_ESTATE if off. Ownership: `*out` is the
 * caller's. */
PS_API ps_status ps_store_metrics_counter(ps_store *store, const char *name, uint64_t *out);

/** Last value of attribute `name`; PS_NOT_FOUND if never set, PS_ESTATE if off. Ownership: `*out`
 * is the caller's. */
PS_API ps_status ps_store_metrics_attribute(ps_store *store, const char *name, uint64_t *out);

/** Record `ns` nanoseconds under `name` (no-op with metrics off). Used by the
 *  proxy layer ("factory.resolve") and available to applications.
 * Ownership: `name` is copied.
 */
PS_API void ps_store_metrics_add_time(ps_store *store, const char *name, uint64_t ns);

/** Forget every metric of the store. Ownership: none. */
PS_API void ps_store_metrics_reset(ps_store *store);

#ifdef __cplusplus
}
#endif
#endif
