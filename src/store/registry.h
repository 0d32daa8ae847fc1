/*
 * A process-wide registry: name -> counted object, with build-once
 * get-or-create. Not installed.
 *
 * Dependency: the registry sits below store.c. It knows nothing of ps_store:
 * it holds objects as `void *` and reaches them only through ps__reg_ops
 * (take a reference, is it still open). store.c owns the one registry of
 * stores and implements the public ps_store_register / unregister / lookup /
 * get_or_create over these functions; registry.c calls nothing in store.c.
 *
 * No function here drops a reference: a reference the registry gives up is
 * handed back through a `dropped` result, for the caller to release after
 * the registry's lock is gone (releasing a store may close its connector).
 */
#ifndef PS_STORE_REGISTRY_H
#define PS_STORE_REGISTRY_H

#include <pthread.h>
#include <stdbool.h>

#include "core/internal.h"

/* What the registry needs from the objects it holds. Both calls are made
 * with the registry's lock held: they must be quick and not use the
 * registry. */
typedef struct ps__reg_ops {
    const char *what;                 /* in messages: "store" */
    void *(*ref)(void *obj);          /* a new reference to `obj` */
    bool (*is_open)(const void *obj); /* false once closed: counts as absent */
} ps__reg_ops;

typedef struct ps__reg_entry ps__reg_entry;

typedef struct ps__registry {
    pthread_mutex_t lock;
    pthread_cond_t cond; /* a "building" placeholder went away or was filled */
    ps__reg_entry *head;
    const ps__reg_ops *ops;
} ps__registry;

#define PS__REGISTRY_INIT(ops_)                                                                    \
    {                                                                                              \
        PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, NULL, (ops_)                          \
    }

/*
 * Register `obj` under `name` (the registry takes its own reference).
 * A name that holds an open object is PS_EEXIST ("A store named ... already
 * exists."), unless `replace`; a closed one is replaced.
 * Ownership: borrows `name` and `obj`; `*dropped` is the reference the
 * registry held for the replaced object (or NULL), the caller's to release.
 */
ps_status ps__registry_add(ps__registry *r, const char *name, void *obj, bool replace,
                           void **dropped);

/*
 * Remove the entry `name`; when `only` is not NULL, only if it holds `only`.
 * Without `only`, waits for a placeholder under that name to settle.
 * Returns the reference the registry held (the caller's to release), or
 * NULL when nothing was removed.
 */
void *ps__registry_remove(ps__registry *r, const char *name, const void *only);

/* A new reference to the open object registered as `name`, or NULL. */
void *ps__registry_lookup(ps__registry *r, const char *name);

/*
 * First half of get-or-create. Waits for a placeholder under `name` to
 * settle, then either sets `*found` to a new reference to the open object
 * registered there, or inserts a placeholder and sets `*ticket`: the caller
 * builds the object (without the lock) and must then call
 * ps__registry_settle(ticket). Other callers for `name` wait meanwhile.
 * A closed object left under `name` is unlinked into `*dropped`.
 * Returns PS_ENOMEM (nothing inserted) when the placeholder cannot be made.
 */
ps_status ps__registry_claim(ps__registry *r, const char *name, void **found,
                             ps__reg_entry **ticket, void **dropped);

/* Second half: fill the placeholder with `obj` (the registry takes its own
 * reference), or, with `obj` NULL (the build failed), remove it; wakes the
 * waiters. */
void ps__registry_settle(ps__registry *r, ps__reg_entry *ticket, void *obj);

#endif
