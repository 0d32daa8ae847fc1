/*
 * The process-wide worker pool behind ps_proxy_resolve_async().
 *
 * A FIFO queue of jobs served by PS__POOL_THREADS threads, started on the
 * first submit. ps_proxy_pool_shutdown() (also registered with atexit) lets
 * the threads finish every queued job, then joins them; a later submit starts
 * the pool again. After fork() the child has none of the parent's threads:
 * a pthread_atfork handler forgets them (and any queued jobs, which belong
 * to the parent's proxies) so the child starts a fresh pool on demand.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"
#include "proxy/proxy_internal.h"
#include "proxystore/proxy.h"

#define PS__POOL_THREADS 4

typedef struct ps__job {
    struct ps__job *next;
    ps__job_fn fn;
    void *arg;
} ps__job;

static pthread_mutex_t ps__pool_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t ps__pool_cond = PTHREAD_COND_INITIALIZER;
static pthread_once_t ps__pool_once = PTHREAD_ONCE_INIT;
static ps__job *ps__pool_head, *ps__pool_tail;
static pthread_t ps__pool_threads[PS__POOL_THREADS];
static size_t ps__pool_nthreads;
static bool ps__pool_stopping;
/* Serializes shutdown (joining) against starting. */
static pthread_mutex_t ps__pool_life = PTHREAD_MUTEX_INITIALIZER;

static void *ps__pool_main(void *unused)
{
    (void)unused;
    pthread_mutex_lock(&ps__pool_lock);
    for (;;) {
        while (ps__pool_head == NULL && !ps__pool_stopping)
            pthread_cond_wait(&ps__pool_cond, &ps__pool_lock);
        ps__job *j = ps__pool_head;
        if (j == NULL)
            break; /* stopping and nothing left */
        ps__pool_head = j->next;
        if (ps__pool_head == NULL)
            ps__pool_tail = NULL;
        pthread_mutex_unlock(&ps__pool_lock);
        j->fn(j->arg);
        ps_free(j);
        pthread_mutex_lock(&ps__pool_lock);
    }
    pthread_mutex_unlock(&ps__pool_lock);
    return NULL;
}

static void ps__pool_atexit(void)
{
    ps_proxy_pool_shutdown();
}

static void ps__pool_child(void)
{
    /* Only this thread exists in the child: reset the state without
     * touching the (possibly locked) parent mutexes' owners. */
    pthread_mutex_init(&ps__pool_lock, NULL);
    pthread_mutex_init(&ps__pool_life, NULL);
    pthread_cond_init(&ps__pool_cond, NULL);
    ps__job *j = ps__pool_head;
    while (j) {
        ps__job *n = j->next;
        ps_free(j); /* the parent's jobs; their proxies' refs stay with the parent */
        j = n;
    }
    ps__pool_head = ps__pool_tail = NULL;
    ps__pool_nthreads = 0;
    ps__pool_stopping = false;
}

static void ps__pool_setup(void)
{
    atexit(ps__pool_atexit);
    pthread_atfork(NULL, NULL, ps__pool_child);
}

/* Start the threads if none run; called with ps__pool_life held. */
static ps_status ps__pool_start(void)
{
    pthread_mutex_lock(&ps__pool_lock);
    size_t have = ps__pool_nthreads;
    ps__pool_stopping = false;
    pthread_mutex_unlock(&ps__pool_lock);
    if (have > 0)
        return PS_OK;
    size_t started = 0;
    int err = 0;
    for (; started < PS__POOL_THREADS; started++) {
        err = pthread_create(&ps__pool_threads[started], NULL, ps__pool_main, NULL);
        if (err != 0)
            break;
    }
    pthread_mutex_lock(&ps__pool_lock);
    ps__pool_nthreads = started;
    pthread_mutex_unlock(&ps__pool_lock);
    if (started == 0)
        return ps__seterr(err == EAGAIN ? PS_ENOMEM : PS_EIO,
                          "proxy worker pool: cannot start a thread: %s", strerror(err));
    return PS_OK;
}

ps_status ps__pool_submit(ps__job_fn fn, void *arg)
{
    PS__RETURN_IF(fn == NULL, PS_EINVAL, "proxy worker pool: job is NULL");
    pthread_once(&ps__pool_once, ps__pool_setup);
    ps__job *j = ps_malloc(sizeof *j);
    if (j == NULL)
        return PS__ENOMEM("proxy worker pool job");
    j->next = NULL;
    j->fn = fn;
    j->arg = arg;
    pthread_mutex_lock(&ps__pool_life);
    ps_status st = ps__pool_start();
    if (st == PS_OK) {
        pthread_mutex_lock(&ps__pool_lock);
        if (ps__pool_tail)
            ps__pool_tail->next = j;
        else
            ps__pool_head = j;
        ps__pool_tail = j;
        pthread_cond_signal(&ps__pool_cond);
        pthread_mutex_unlock(&ps__pool_lock);
    }
    pthread_mutex_unlock(&ps__pool_life);
    if (st != PS_OK)
        ps_free(j);
    return st;
}

void ps_proxy_pool_shutdown(void)
{
    pthread_mutex_lock(&ps__pool_life);
    pthread_mutex_lock(&ps__pool_lock);
    size_t n = ps__pool_nthreads;
    ps__pool_stopping = true;
    pthread_cond_broadcast(&ps__pool_cond);
    pthread_mutex_unlock(&ps__pool_lock);
    for (size_t i = 0; i < n; i++)
        pthread_join(ps__pool_threads[i], NULL);
    pthread_mutex_lock(&ps__pool_lock);
    ps__pool_nthreads = 0;
    ps__pool_stopping = false;
    pthread_mutex_unlock(&ps__pool_lock);
    pthread_mutex_unlock(&ps__pool_life);
}
