#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "testutil.h"
#include "torture.h"

char pst_torture_msg[1024];

static long live;           /* allocations not yet freed */
static long countdown = -1; /* fail when it reaches 0; negative: never */
static long total;

static void *t_malloc(void *ctx, size_t n)
{
    (void)ctx;
    if (countdown >= 0 && countdown-- == 0)
        return NULL;
    void *p = malloc(n);
    if (p) {
        live++;
        total++;
    }
    return p;
}

static void *t_realloc(void *ctx, void *p, size_t n)
{
    (void)ctx;
    if (countdown >= 0 && countdown-- == 0)
        return NULL;
    void *q = realloc(p, n);
    if (q && !p) {
        live++;
        total++;
    }
    return q;
}

static void t_free(void *ctx, void *p)
{
    (void)ctx;
    if (p)
        live--;
    free(p);
}

static const ps_allocator torture_alloc = {PS_ALLOCATOR_VERSION, NULL, t_malloc, t_realloc, t_free};

void pst_torture_install(void)
{
    countdown = -1;
    PS_ASSERT_OK(ps_set_allocator(&torture_alloc));
}

long pst_torture_total_allocations(void)
{
    return total;
}

long pst_torture(const char *name, ps_status (*op)(void *ctx), void *ctx,
                 void (*after_each)(void *ctx))
{
    PS_ASSERT_OK(ps_set_allocator(&torture_alloc));
    long n;
    for (n = 0; n < 20000; n++) {
        live = 0;
        countdown = n;
        ps_clear_error();
        pst_torture_msg[0] = '\0';
        ps_status st = op(ctx);
        bool injected = countdown < 0;
        countdown = -1;
        const char *msg = pst_torture_msg[0] ? pst_torture_msg : ps_last_error();
        if (st != PS_OK && st != PS_ENOMEM)
            fail_msg("%s with allocation %ld failing: %s (%s)", name, n, ps_status_name(st), msg);
        if (st != PS_OK && msg[0] == '\0')
            fail_msg("%s with allocation %ld failing left no message", name, n);
        if (live != 0)
            fail_msg("%s leaked %ld allocations when allocation %ld failed", name, live, n);
        if (after_each)
            after_each(ctx);
        if (!injected) {
            if (st != PS_OK)
                fail_msg("%s failed without an injected failure: %s (%s)", name, ps_status_name(st),
                         msg);
            break;
        }
    }
    if (n == 20000)
        fail_msg("%s never ran without an injected failure", name);
    PS_ASSERT_OK(ps_set_allocator(NULL));
    return n;
}
