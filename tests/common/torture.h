/*
 * Allocation-failure ("torture") testing through the library's allocator
 * hook: pst_torture() runs a scenario with allocation N failing, for N = 0,
 * 1, 2, ... until a run in which no failure was injected. Every run must end
 * in PS_OK or PS_ENOMEM, a failure must leave a message, and nothing may
 * leak (the hook's count of live allocations is back to zero). A run may
 * succeed although an allocation failed (a cache insert or a metrics record
 * that could not get memory is skipped); later N are tried too.
 */
#ifndef PS_TORTURE_H
#define PS_TORTURE_H

#include <stddef.h>

#include "proxystore/proxystore.h"

/* The message of the scenario's first failure. Scenarios record it with
 * PST_STEP (cleanup calls may overwrite the thread's message); when it is
 * empty, ps_last_error() at the end of the run is used. */
extern char pst_torture_msg[1024];

/* Run `expr` only while `st` is PS_OK; keep the first failure's message. */
#define PST_STEP(st, expr)                                                                         \
    do {                                                                                           \
        if ((st) == PS_OK && ((st) = (expr)) != PS_OK)                                             \
            snprintf(pst_torture_msg, sizeof pst_torture_msg, "%s", ps_last_error());              \
    } while (0)

/*
 * Torture `op(ctx)` as described above; `after_each(ctx)` (may be NULL) runs
 * after every run for extra checks. Fails the current cmocka test on any
 * violation. Returns the number of failures injected.
 */
long pst_torture(const char *name, ps_status (*op)(void *ctx), void *ctx,
                 void (*after_each)(void *ctx));

/* Allocations made through the torture allocator so far (for hook tests). */
long pst_torture_total_allocations(void);

/* Install the counting allocator without injecting failures (NULL restores
 * the default with ps_set_allocator(NULL)). */
void pst_torture_install(void);

#endif
