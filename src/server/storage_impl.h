/* Private interface between storage.c and its two backends. */
#ifndef PS_ENDPOINT_STORAGE_IMPL_H
#define PS_ENDPOINT_STORAGE_IMPL_H

#include "storage.h"

typedef struct ep_storage_ops {
    const char *name;
    ps_status (*open)(const ep_storage_options *opts, void **impl);
    ps_status (*set)(void *impl, const char *key, size_t klen, ep_buf *value);
    ps_status (*get)(void *impl, const char *key, size_t klen, ep_buf **out);
    ps_status (*exists)(void *impl, const char *key, size_t klen, bool *out);
    ps_status (*evict)(void *impl, const char *key, size_t klen);
    ps_status (*clear)(void *impl);
    void (*stats)(void *impl, ep_storage_stats *out);
    void (*close)(void *impl, bool cleanup);
} ep_storage_ops;

extern const ep_storage_ops ep_storage_memory_ops;
extern const ep_storage_ops ep_storage_sqlite_ops;

#endif
