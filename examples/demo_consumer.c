/*
 * demo_consumer TOKEN CHECKSUM SIZE
 *
 * One of the demo's consumer processes: resolves a proxy token made by
 * demo_producer (the store is rebuilt from the configuration inside the
 * token), checks the object's checksum and reports the resolve time.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <proxystore/proxystore.h>

/* FNV-1a, 64 bits (the producer uses the same). */
static uint64_t checksum(const unsigned char *p, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 1099511628211ull;
    }
    return h;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: demo_consumer TOKEN CHECKSUM SIZE\n");
        return 2;
    }
    uint64_t want = strtoull(argv[2], NULL, 16);
    size_t size = strtoull(argv[3], NULL, 10);

    ps_proxy *proxy = NULL;
    if (ps_proxy_decode(argv[1], &proxy) != PS_OK) {
        fprintf(stderr, "demo_consumer: %s\n", ps_last_error());
        return 3;
    }
    const void *data = NULL;
    size_t len = 0;
    uint64_t t0 = ps_now_ns();
    ps_status st = ps_proxy_resolve(proxy, &data, &len);
    double secs = (double)(ps_now_ns() - t0) / 1e9;
    if (st != PS_OK) {
        fprintf(stderr, "demo_consumer %d: resolve failed: %s\n", (int)getpid(), ps_last_error());
        ps_proxy_unref(proxy);
        return 3;
    }
    /* With the file store a large object is a zero-copy view of the file:
     * reading it (the checksum) is where the bytes are actually touched, so
     * time that too. */
    uint64_t t1 = ps_now_ns();
    bool ok = len == size && checksum(data, len) == want;
    double check_secs = (double)(ps_now_ns() - t1) / 1e9;
    /* this process's store metrics, when the token's store configuration has them on */
    ps_time_stats conn;
    ps_time_stats_init(&conn);
    ps_store *store = ps_store_lookup(ps_proxy_store_name(proxy));
    ps_store_metrics_time_stats(store, "store.get.connector", &conn);
    printf("consumer %-7d resolved %6.1f MiB in %6.3f s (connector %.1f ms); read and "
           "checksummed it in %6.3f s (%7.1f MiB/s): %s\n",
           (int)getpid(), (double)len / 1048576.0, secs, conn.total_ms, check_secs,
           (double)len / 1048576.0 / (check_secs > 0 ? check_secs : 1e-9),
           ok ? "checksum ok" : "checksum MISMATCH");

    /* The store this process built from the token: close it, keeping the data. */
    ps_store_close(store, PS_CLEAR_KEEP);
    ps_proxy_unref(proxy);
    return ok ? 0 : 1;
}
