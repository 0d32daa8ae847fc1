/*
 * The process-wide store registry: store name -> store (upstream's
 * proxystore.store register_store / unregister_store / get_store /
 * get_or_create_store).
 *
 * The registry holds its own reference to every registered store. One mutex
 * guards a short linked list (a process has a handful of stores).
 *
 * get_or_create builds a missing store outside the lock (opening a connector
 * may take a while) behind a "building" placeholder entry: threads asking for
 * the same name meanwhile wait on a condition variable, so the store is built
 * once. If the build fails the placeholder goes away and a waiter tries
 * itself. Closed stores still listed (a close racing a lookup) count as
 * absent.
 */
#include <string.h>

#include "proxystore/sys/connector.h"
#include "store/store_internal.h"

typedef struct ps__reg_entry {
    struct ps__reg_entry *next;
    ps_store *store; /* NULL while building */
    char name[PS__STORE_NAME_MAX + 1];
} ps__reg_entry;

static pthread_mutex_t ps__reg_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t ps__reg_cond = PTHREAD_COND_INITIALIZER;
static ps__reg_entry *ps__reg_head;

static bool ps__is_closed(const ps_store *s)
{
    return atomic_load_explicit(&s->closed, memory_order_acquire);
}

/* The link pointing at the entry named `name`, or at the list's end. */
static ps__reg_entry **ps__reg_find(const char *name)
{
    ps__reg_entry **pp = &ps__reg_head;
    while (*pp && strcmp((*pp)->name, name) != 0)
        pp = &(*pp)->next;
    return pp;
}

/* Unlink `*pp` and return the store it held (reference to drop). */
static ps_store *ps__reg_unlink(ps__reg_entry **pp)
{
    ps__reg_entry *e = *pp;
    *pp = e->next;
    ps_store *s = e->store;
    ps_free(e);
    return s;
}

/* Wait until no placeholder for `name` exists; returns its link. Locked. */
static ps__reg_entry **ps__reg_find_ready(const char *name)
{
    ps__reg_entry **pp;
    while (*(pp = ps__reg_find(name)) != NULL && (*pp)->store == NULL)
        pthread_cond_wait(&ps__reg_cond, &ps__reg_lock);
    return pp;
}

ps_status ps_store_register(ps_store *store, bool replace)
{
    PS__RETURN_IF(store == NULL, PS_EINVAL, "ps_store_register: store is NULL");
    PS__RETURN_IF(ps__is_closed(store), PS_ESTATE, "store \"%s\": cannot register a closed store",
                  store->name);
    ps__reg_entry *fresh = ps_calloc(1, sizeof *fresh);
    if (fresh == NULL)
        return PS__ENOMEM("registry entry");
    ps_store *old = NULL;
    ps_status st = PS_OK;
    pthread_mutex_lock(&ps__reg_lock);
    ps__reg_entry **pp = ps__reg_find_ready(store->name);
    ps__reg_entry *e = *pp;
    if (e && e->store == store && !replace) {
        st = ps__seterr(PS_EEXIST, "A store named \"%s\" already exists.", store->name);
    } else if (e && !replace && !ps__is_closed(e->store)) {
        st = ps__seterr(PS_EEXIST, "A store named \"%s\" already exists.", store->name);
    } else if (e) {
        old = e->store;
        e->store = ps_store_ref(store);
    } else {
        snprintf(fresh->name, sizeof fresh->name, "%s", store->name);
        fresh->store = ps_store_ref(store);
        *pp = fresh;
        fresh = NULL;
    }
    pthread_mutex_unlock(&ps__reg_lock);
    ps_free(fresh);
    ps_store_unref(old);
    return st;
}

ps_status ps_store_unregister(const char *name)
{
    PS__RETURN_IF(name == NULL, PS_EINVAL, "ps_store_unregister: name is NULL");
    ps_store *old = NULL;
    pthread_mutex_lock(&ps__reg_lock);
    ps__reg_entry **pp = ps__reg_find_ready(name);
    if (*pp)
        old = ps__reg_unlink(pp);
    pthread_mutex_unlock(&ps__reg_lock);
    ps_store_unref(old);
    return PS_OK;
}

void ps__registry_remove_store(ps_store *store)
{
    ps_store *old = NULL;
    pthread_mutex_lock(&ps__reg_lock);
    ps__reg_entry **pp = ps__reg_find(store->name);
    if (*pp && (*pp)->store == store)
        old = ps__reg_unlink(pp);
    pthread_mutex_unlock(&ps__reg_lock);
    ps_store_unref(old);
}

ps_store *ps_store_lookup(const char *name)
{
    if (name == NULL)
        return NULL;
    ps_store *s = NULL;
    pthread_mutex_lock(&ps__reg_lock);
    ps__reg_entry *e = *ps__reg_find(name);
    if (e && e->store && !ps__is_closed(e->store))
        s = ps_store_ref(e->store);
    pthread_mutex_unlock(&ps__reg_lock);
    return s;
}

ps_status ps_store_get_or_create(const char *config_json, ps_store **out)
{
    PS__RETURN_IF(out == NULL, PS_EINVAL, "ps_store_get_or_create: out is NULL");
    *out = NULL;
    PS__RETURN_IF(config_json == NULL, PS_EINVAL, "ps_store_get_or_create: config is NULL");
    json_t *cfg = NULL;
    PS__FORWARD(ps__json_parse_object(config_json, "store config", &cfg));
    const char *name = NULL;
    ps_status st = ps__store_config_name(cfg, &name);
    if (st != PS_OK) {
        json_decref(cfg);
        return st;
    }
    ps__reg_entry *mine = NULL; /* our placeholder, when we build */
    ps_store *stale = NULL;
    pthread_mutex_lock(&ps__reg_lock);
    ps__reg_entry **pp = ps__reg_find_ready(name);
    if (*pp && !ps__is_closed((*pp)->store)) {
        *out = ps_store_ref((*pp)->store);
    } else {
        if (*pp) /* a closed store left behind: replace it */
            stale = ps__reg_unlink(pp);
        mine = ps_calloc(1, sizeof *mine);
        if (mine == NULL) {
            st = PS__ENOMEM("registry entry");
        } else {
            snprintf(mine->name, sizeof mine->name, "%s", name);
            mine->next = ps__reg_head;
            ps__reg_head = mine;
        }
    }
    pthread_mutex_unlock(&ps__reg_lock);
    ps_store_unref(stale);
    if (*out || mine == NULL) {
        json_decref(cfg);
        return st;
    }

    ps_store *s = NULL;
    st = ps__store_from_config_obj(cfg, false, &s);
    json_decref(cfg);

    pthread_mutex_lock(&ps__reg_lock);
    ps__reg_entry **link = &ps__reg_head;
    while (*link != mine)
        link = &(*link)->next;
    if (st == PS_OK)
        mine->store = ps_store_ref(s);
    else
        ps__reg_unlink(link);
    pthread_cond_broadcast(&ps__reg_cond);
    pthread_mutex_unlock(&ps__reg_lock);
    *out = s;
    return st;
}
