/*
 * A store's metrics table (internal): times, counters and attributes by name.
 *
 * Names live in one open-addressing hash table per store, guarded by one
 * mutex. A name is copied on its first use; later records of it allocate
 * nothing. Record functions are no-ops on a NULL table (metrics off).
 */
#ifndef PS_STORE_METRICS_TABLE_H
#define PS_STORE_METRICS_TABLE_H

#include <stdint.h>

#include "core/internal.h"
#include "proxystore/metrics.h"

typedef struct ps__metrics ps__metrics;

typedef enum ps__metric_kind {
    PS__METRIC_TIME = 0,
    PS__METRIC_COUNTER = 1,
    PS__METRIC_ATTRIBUTE = 2
} ps__metric_kind;

/* A new empty table. Ownership: free with ps__metrics_free. */
ps_status ps__metrics_new(ps__metrics **out);
/* Free the table; accepts NULL. */
void ps__metrics_free(ps__metrics *m);
/* Forget every metric. */
void ps__metrics_reset(ps__metrics *m);

/* Record `ns` nanoseconds under `name` (count, total, min, max, avg, last,
 * last_timestamp). */
void ps__metrics_add_time(ps__metrics *m, const char *name, uint64_t ns);
/* Add `n` to counter `name`. */
void ps__metrics_add_counter(ps__metrics *m, const char *name, uint64_t n);
/* Set attribute `name` to `value` (the last value wins). */
void ps__metrics_set_attribute(ps__metrics *m, const char *name, uint64_t value);

/* Read a metric: PS_OK, or PS_NOT_FOUND (no message) when never recorded. */
ps_status ps__metrics_get_time(ps__metrics *m, const char *name, ps_time_stats *out);
ps_status ps__metrics_get_value(ps__metrics *m, ps__metric_kind kind, const char *name,
                                uint64_t *out);

/* Everything as JSON text (the format of ps_store_metrics_json).
 * Ownership: `*json` from ps_malloc. */
ps_status ps__metrics_json(ps__metrics *m, char **json);

#endif
