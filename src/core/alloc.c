/* Allocator hooks. All library allocations go through here. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <pthread.h>
#include <stdbool.h>
#include <string.h>

#include "core/internal.h"

static void *ps__libc_malloc(void *ctx, size_t n)
{
    (void)ctx;
    return malloc(n);
}
static void *ps__libc_realloc(void *ctx, void *p, size_t n)
{
    (void)ctx;
    return realloc(p, n);
}
static void ps__libc_free(void *ctx, void *p)
{
    (void)ctx;
    free(p);
}

static ps_allocator ps__alloc = {PS_ALLOCATOR_VERSION, NULL, ps__libc_malloc, ps__libc_realloc,
                                 ps__libc_free};

/* Functions that free memory the library keeps for reuse (caches that
 * outlive the calls that filled them), run before the allocator changes so
 * that memory is freed by the allocator that made it. */
#define PS__ALLOC_HOOKS 8
static void (*ps__alloc_hooks[PS__ALLOC_HOOKS])(void);
static size_t ps__alloc_nhooks;
static pthread_mutex_t ps__alloc_hooks_lock = PTHREAD_MUTEX_INITIALIZER;

void ps__alloc_on_change(void (*drop)(void))
{
    pthread_mutex_lock(&ps__alloc_hooks_lock);
    bool have = false;
    for (size_t i = 0; i < ps__alloc_nhooks; i++)
        have = have || ps__alloc_hooks[i] == drop;
    if (!have && ps__alloc_nhooks < PS__ALLOC_HOOKS)
        ps__alloc_hooks[ps__alloc_nhooks++] = drop;
    pthread_mutex_unlock(&ps__alloc_hooks_lock);
}

static void ps__alloc_drop_caches(void)
{
    pthread_mutex_lock(&ps__alloc_hooks_lock);
    size_t n = ps__alloc_nhooks;
    void (*hooks[PS__ALLOC_HOOKS])(void);
    memcpy(hooks, ps__alloc_hooks, sizeof hooks);
    pthread_mutex_unlock(&ps__alloc_hooks_lock);
    for (size_t i = 0; i < n; i++)
        hooks[i]();
}

ps_status ps_set_allocator(const ps_allocator *alloc)
{
    ps__alloc_drop_caches();
    if (alloc == NULL) {
        ps__alloc.ctx = NULL;
        ps__alloc.malloc = ps__libc_malloc;
        ps__alloc.realloc = ps__libc_realloc;
        ps__alloc.free = ps__libc_free;
        return PS_OK;
    }
    PS__RETURN_IF(alloc->version != PS_ALLOCATOR_VERSION, PS_EINVAL,
                  "ps_set_allocator: unknown allocator version %u", alloc->version);
    PS__RETURN_IF(!alloc->malloc || !alloc->realloc || !alloc->free, PS_EINVAL,
                  "ps_set_allocator: malloc, realloc and free are all required");
    ps__alloc = *alloc;
    return PS_OK;
}

void *ps_malloc(size_t size)
{
    return ps__alloc.malloc(ps__alloc.ctx, size ? size : 1);
}

void *ps_calloc(size_t n, size_t size)
{
    if (size != 0 && n > SIZE_MAX / size)
        return NULL;
    size_t total = n * size;
    void *p = ps_malloc(total);
    if (p)
        memset(p, 0, total ? total : 1);
    return p;
}

void *ps_realloc(void *ptr, size_t size)
{
    return ps__alloc.realloc(ps__alloc.ctx, ptr, size ? size : 1);
}

void ps_free(void *ptr)
{
    if (ptr == NULL)
        return;
    int saved = errno;
    ps__alloc.free(ps__alloc.ctx, ptr);
    errno = saved;
}

char *ps_strdup(const char *s)
{
    if (s == NULL)
        return NULL;
    size_t n = strlen(s) + 1;
    char *d = ps_malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}
