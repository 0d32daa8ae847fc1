/*
 * demo_producer [--size-mib N] [--consumers N] CONSUMER_PROGRAM
 *
 * The `make demo` producer: puts one object (256 MiB by default) into the
 * default file store and proxies it, then hands the proxy's token to
 * separate consumer processes (fork + exec of CONSUMER_PROGRAM, the token on
 * their command line), which resolve it and check its checksum. It prints
 * the store's metrics and finally evicts the object.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>
#include <proxystore/proxystore.h>

static uint64_t checksum(const unsigned char *p, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 1099511628211ull;
    }
    return h;
}

static int fail(const char *what)
{
    fprintf(stderr, "demo_producer: %s: %s\n", what, ps_last_error());
    return 3;
}

/* The default store: a file store under the user's data directory, as the
 * `proxystore` command uses, with metrics on. clear=false: keep the
 * directory when closing. */
static ps_status open_default_store(ps_store **out)
{
    char *dir = NULL;
    ps_status st = ps_data_dir(&dir);
    if (st != PS_OK)
        return st;
    json_t *cfg =
        json_pack("{s:s, s:{s:s, s:{s:s+, s:b}}, s:b}", "name", "default", "connector", "kind",
                  "file", "options", "store_dir", dir, "/default", "clear", 0, "metrics", 1);
    ps_free(dir);
    char *text = json_dumps(cfg, JSON_COMPACT);
    json_decref(cfg);
    st = ps_store_from_config(text, out);
    free(text);
    return st;
}

int main(int argc, char **argv)
{
    size_t mib = 256;
    int consumers = 4;
    int i = 1;
    for (; i + 1 < argc && argv[i][0] == '-'; i += 2) {
        if (strcmp(argv[i], "--size-mib") == 0)
            mib = strtoull(argv[i + 1], NULL, 10);
        else if (strcmp(argv[i], "--consumers") == 0)
            consumers = atoi(argv[i + 1]);
        else
            break;
    }
    if (i != argc - 1 || consumers < 1 || consumers > 64) {
        fprintf(stderr, "usage: demo_producer [--size-mib N] [--consumers N] CONSUMER_PROGRAM\n");
        return 2;
    }
    const char *consumer = argv[i];

    /* 1. an object with a known checksum */
    size_t size = mib << 20;
    unsigned char *obj = malloc(size ? size : 1);
    if (obj == NULL)
        return fprintf(stderr, "demo_producer: out of memory\n"), 3;
    uint64_t x = 88172645463325252ull;
    for (size_t k = 0; k < size; k++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        obj[k] = (unsigned char)x;
    }
    uint64_t sum = checksum(obj, size);

    /* 2. put it into the store and make a proxy; the token is what travels */
    ps_store *store = NULL;
    if (open_default_store(&store) != PS_OK)
        return fail("open the default store");
    ps_proxy_options o;
    ps_proxy_options_init(&o);
    o.populate_target = PS_POPULATE_NO; /* no second copy in this process */
    ps_proxy *proxy = NULL;
    uint64_t t0 = ps_now_ns();
    if (ps_store_proxy(store, obj, size, &o, &proxy) != PS_OK)
        return fail("proxy");
    double put_s = (double)(ps_now_ns() - t0) / 1e9;
    free(obj);
    char *token = NULL;
    if (ps_proxy_encode(proxy, &token) != PS_OK)
        return fail("encode");
    printf("producer: put %zu MiB in %.3f s; key %s\n", mib, put_s,
           ps_key_str(ps_proxy_key(proxy)));
    printf("token (%zu bytes): %s\n", strlen(token), token);
    fflush(stdout);

    /* 3. hand the token to the consumer processes */
    char sum_hex[17], size_s[32];
    snprintf(sum_hex, sizeof sum_hex, "%016" PRIx64, sum);
    snprintf(size_s, sizeof size_s, "%zu", size);
    pid_t pids[64];
    for (int c = 0; c < consumers; c++) {
        pids[c] = fork();
        if (pids[c] == 0) {
            execl(consumer, consumer, token, sum_hex, size_s, (char *)NULL);
            perror(consumer);
            _exit(127);
        }
    }
    int bad = 0;
    for (int c = 0; c < consumers; c++) {
        int ws = 0;
        if (pids[c] < 0 || waitpid(pids[c], &ws, 0) != pids[c] || !WIFEXITED(ws) ||
            WEXITSTATUS(ws) != 0)
            bad++;
    }
    printf("%d of %d consumers resolved the object and verified it\n", consumers - bad, consumers);

    /* 4. the store's metrics (this process: put and proxy) */
    char *metrics = NULL;
    json_t *m = NULL;
    if (ps_store_metrics_json(store, &metrics) == PS_OK && (m = json_loads(metrics, 0, NULL))) {
        printf("store metrics (producer):\n  %-22s %6s %10s %10s\n", "operation", "count", "avg ms",
               "max ms");
        const char *name;
        json_t *t;
        json_object_foreach(json_object_get(m, "times"), name, t)
        {
            printf("  %-22s %6lld %10.3f %10.3f\n", name,
                   (long long)json_integer_value(json_object_get(t, "count")),
                   json_real_value(json_object_get(t, "avg_time_ms")),
                   json_real_value(json_object_get(t, "max_time_ms")));
        }
    }
    json_decref(m);
    ps_free(metrics);

    /* 5. clean up what we stored */
    if (ps_store_evict(store, ps_proxy_key(proxy)) != PS_OK)
        bad++, fail("evict");
    ps_free(token);
    ps_proxy_unref(proxy);
    ps_store_close(store, PS_CLEAR_KEEP);
    return bad ? 1 : 0;
}
