/*
 * The store and proxy APIs, bound weakly.
 *
 * ps_bench links the shared library. While the store (src/store) or the
 * proxy layer (src/proxy) is not in the library yet, their functions resolve
 * to NULL instead of failing the link, and the rows that need them are
 * reported as "skipped: not built". Once they are built nothing changes: the
 * symbols bind normally.
 */
#ifndef PS_BENCH_API_H
#define PS_BENCH_API_H

#include <stdbool.h>

#include "proxystore/proxy.h"
#include "proxystore/store.h"

#pragma weak ps_store_options_init
#pragma weak ps_store_new
#pragma weak ps_store_close
#pragma weak ps_store_put
#pragma weak ps_store_put_batch
#pragma weak ps_store_get
#pragma weak ps_store_get_batch
#pragma weak ps_store_evict
#pragma weak ps_store_is_cached

#pragma weak ps_proxy_options_init
#pragma weak ps_store_proxy
#pragma weak ps_proxy_unref
#pragma weak ps_proxy_encode
#pragma weak ps_proxy_decode
#pragma weak ps_proxy_resolve
#pragma weak ps_proxy_key

/* True when every store function the harness calls is in the library. */
static inline bool bench_have_store(void)
{
    return ps_store_options_init && ps_store_new && ps_store_close && ps_store_put &&
           ps_store_put_batch && ps_store_get && ps_store_get_batch && ps_store_evict &&
           ps_store_is_cached;
}

/* True when every proxy function the harness calls is in the library. */
static inline bool bench_have_proxy(void)
{
    return bench_have_store() && ps_proxy_options_init && ps_store_proxy && ps_proxy_unref &&
           ps_proxy_encode && ps_proxy_decode && ps_proxy_resolve && ps_proxy_key;
}

#endif
