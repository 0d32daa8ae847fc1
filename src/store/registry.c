/*
 * The process-wide registry: name -> counted object (upstream's
 * proxystore.store register_store / unregister_store / get_store /
 * get_or_create_store keep stores in one).
 *
 * Dependency: one way, store.c -> registry.c. This file is below the store:
 * it includes no store header and calls no store function; it sees the
 * objects it holds only through the ps__reg_ops of its registry (take a
 * reference, is it open). store.c owns the registry of stores and the public
 * ps_store_register / unregister / lookup / get_or_create.
 *
 * The registry holds its own reference to every registered object. One mutex
 * guards a short linked list (a process has a handful of stores).
 *
 * get_or_create builds a missing object outside the lock (opening a connector
 * may take a while) behind a "building" placeholder entry: threads asking for
 * the same name meanwhile wait on a condition variable, so the object is
 * built once. If the build fails the placeholder goes away and a waiter tries
 * itself. Closed objects still listed (a close racing a lookup) count as
 * absent.
 */
#include <string.h>

#include "store/registry.h"

struct ps__reg_entry {
    struct ps__reg_entry *next;
    void *obj; /* NULL while building */
    char name[];
};

static bool ps__reg_open(const ps__registry *r, const void *obj)
{
    return r->ops->is_open(obj);
}

static ps__reg_entry *ps__reg_entry_new(const char *name)
{
    size_t n = strlen(name) + 1;
    ps__reg_entry *e = ps_calloc(1, sizeof *e + n);
    if (e)
        memcpy(e->name, name, n);
    return e;
}

/* The link pointing at the entry named `name`, or at the list's end. */
static ps__reg_entry **ps__reg_find(ps__registry *r, const char *name)
{
    ps__reg_entry **pp = &r->head;
    while (*pp && strcmp((*pp)->name, name) != 0)
        pp = &(*pp)->next;
    return pp;
}

/* Unlink `*pp` and return the object it held (reference to drop). */
static void *ps__reg_unlink(ps__reg_entry **pp)
{
    ps__reg_entry *e = *pp;
    *pp = e->next;
    void *obj = e->obj;
    ps_free(e);
    return obj;
}

/* Wait until no placeholder for `name` exists; returns its link. Locked. */
static ps__reg_entry **ps__reg_find_ready(ps__registry *r, const char *name)
{
    ps__reg_entry **pp;
    while (*(pp = ps__reg_find(r, name)) != NULL && (*pp)->obj == NULL)
        pthread_cond_wait(&r->cond, &r->lock);
    return pp;
}

ps_status ps__registry_add(ps__registry *r, const char *name, void *obj, bool replace,
                           void **dropped)
{
    *dropped = NULL;
    ps__reg_entry *fresh = ps__reg_entry_new(name);
    if (fresh == NULL)
        return PS__ENOMEM("registry entry");
    ps_status st = PS_OK;
    pthread_mutex_lock(&r->lock);
    ps__reg_entry **pp = ps__reg_find_ready(r, name);
    ps__reg_entry *e = *pp;
    if (e && !replace && (e->obj == obj || ps__reg_open(r, e->obj))) {
        st = ps__seterr(PS_EEXIST, "A %s named \"%s\" already exists.", r->ops->what, name);
    } else if (e) {
        *dropped = e->obj;
        e->obj = r->ops->ref(obj);
    } else {
        fresh->obj = r->ops->ref(obj);
        *pp = fresh;
        fresh = NULL;
    }
    pthread_mutex_unlock(&r->lock);
    ps_free(fresh);
    return st;
}

void *ps__registry_remove(ps__registry *r, const char *name, const void *only)
{
    void *old = NULL;
    pthread_mutex_lock(&r->lock);
    ps__reg_entry **pp = only ? ps__reg_find(r, name) : ps__reg_find_ready(r, name);
    if (*pp && (only == NULL || (*pp)->obj == only))
        old = ps__reg_unlink(pp);
    pthread_mutex_unlock(&r->lock);
    return old;
}

void *ps__registry_lookup(ps__registry *r, const char *name)
{
    void *obj = NULL;
    pthread_mutex_lock(&r->lock);
    ps__reg_entry *e = *ps__reg_find(r, name);
    if (e && e->obj && ps__reg_open(r, e->obj))
        obj = r->ops->ref(e->obj);
    pthread_mutex_unlock(&r->lock);
    return obj;
}

ps_status ps__registry_claim(ps__registry *r, const char *name, void **found,
                             ps__reg_entry **ticket, void **dropped)
{
    *found = NULL;
    *ticket = NULL;
    *dropped = NULL;
    ps_status st = PS_OK;
    pthread_mutex_lock(&r->lock);
    ps__reg_entry **pp = ps__reg_find_ready(r, name);
    if (*pp && ps__reg_open(r, (*pp)->obj)) {
        *found = r->ops->ref((*pp)->obj);
    } else {
        if (*pp) /* a closed object left behind: replace it */
            *dropped = ps__reg_unlink(pp);
        ps__reg_entry *mine = ps__reg_entry_new(name);
        if (mine == NULL) {
            st = PS__ENOMEM("registry entry");
        } else {
            mine->next = r->head;
            r->head = mine;
            *ticket = mine;
        }
    }
    pthread_mutex_unlock(&r->lock);
    return st;
}

void ps__registry_settle(ps__registry *r, ps__reg_entry *ticket, void *obj)
{
    pthread_mutex_lock(&r->lock);
    ps__reg_entry **link = &r->head;
    while (*link != ticket)
        link = &(*link)->next;
    if (obj)
        ticket->obj = r->ops->ref(obj);
    else
        ps__reg_unlink(link);
    pthread_cond_broadcast(&r->cond);
    pthread_mutex_unlock(&r->lock);
}
