/*
 * example_thread_pool: pass proxies, not buffers, to worker threads.
 *
 * The main thread proxies a few objects and puts the (lazy) proxies on a
 * queue; each worker takes a proxy, resolves it just in time, and sums its
 * bytes. A proxy is reference counted: the queue holds one reference and the
 * worker drops it when done. Objects live in a "local" (in-process) store.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <proxystore/proxystore.h>

#define NWORKERS 3
#define NJOBS    8

static ps_proxy *queue[NJOBS];
static int head, tail;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t ready = PTHREAD_COND_INITIALIZER;

static ps_proxy *take(void)
{
    pthread_mutex_lock(&lock);
    while (head == tail && tail < NJOBS)
        pthread_cond_wait(&ready, &lock);
    ps_proxy *p = head < tail ? queue[head++] : NULL; /* NULL: no more work */
    pthread_mutex_unlock(&lock);
    return p;
}

static void *worker(void *arg)
{
    long id = (long)arg;
    ps_proxy *p;
    while ((p = take()) != NULL) {
        const void *data;
        size_t len;
        if (ps_proxy_resolve(p, &data, &len) == PS_OK) {
            unsigned long sum = 0;
            for (size_t i = 0; i < len; i++)
                sum += ((const unsigned char *)data)[i];
            printf("worker %ld: %zu bytes, sum %lu\n", id, len, sum);
        } else {
            fprintf(stderr, "worker %ld: %s\n", id, ps_last_error());
        }
        ps_proxy_unref(p);
    }
    return NULL;
}

int main(void)
{
    ps_connector *conn = NULL;
    ps_store *store = NULL;
    ps_store_options so;
    ps_store_options_init(&so);
    so.register_store = true;            /* proxies find their store by name */
    so.populate_target = PS_POPULATE_NO; /* lazy proxies: workers fetch */
    if (ps_connector_open("local", NULL, &conn) != PS_OK ||
        ps_store_new("pool-example", conn, &so, &store) != PS_OK)
        return fprintf(stderr, "%s\n", ps_last_error()), 1;

    pthread_t threads[NWORKERS];
    for (long i = 0; i < NWORKERS; i++)
        pthread_create(&threads[i], NULL, worker, (void *)i);

    static unsigned char buf[1 << 16];
    for (int j = 0; j < NJOBS; j++) {
        memset(buf, j, sizeof buf);
        ps_proxy *p = NULL;
        if (ps_store_proxy(store, buf, sizeof buf, NULL, &p) != PS_OK)
            return fprintf(stderr, "%s\n", ps_last_error()), 1;
        ps_proxy_resolve_async(p); /* optional: start fetching before a worker asks */
        pthread_mutex_lock(&lock);
        queue[tail++] = p; /* the queue owns this reference now */
        pthread_cond_broadcast(&ready);
        pthread_mutex_unlock(&lock);
    }
    for (int i = 0; i < NWORKERS; i++)
        pthread_join(threads[i], NULL);
    ps_store_close(store, PS_CLEAR_ALL);
    return 0;
}
