/*
 * The DAOS connector: objects in a pydaos dictionary (DDict) of a DAOS
 * container, through libdaos loaded at run time (connectors/daos/loader.c).
 * See include/proxystore/connectors/daos.h for the contract and
 * spec/daos-abi.md for the facts followed here; daos_internal.h lists the
 * connector's files.
 *
 * This file: the options, open and close, the configuration, the
 * ps_connector_ops table and the typed open.
 */
#include <pthread.h>
#include <string.h>

#include "connector/builtin.h"
#include "connectors/daos/daos_internal.h"
#include "core/internal.h"
#include "proxystore/connectors/daos.h"

static char *ps__daos_strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = ps_malloc(n);
    if (p)
        memcpy(p, s, n);
    return p;
}

/* ---- open and close ----------------------------------------------------------------- */

/* Release every handle of `d` and `d` itself. */
static void ps__daos_teardown(ps__daos *d)
{
    const ps__daos_api *api = d->api;
    if (api) {
        for (size_t i = 0; i < d->neqs; i++)
            api->daos_eq_destroy(d->eqs[i], 0);
        if (daos_handle_is_valid(d->oh))
            api->daos_kv_close(d->oh, NULL);
        if (daos_handle_is_valid(d->root_oh))
            api->daos_kv_close(d->root_oh, NULL);
        if (daos_handle_is_valid(d->coh))
            api->daos_cont_close(d->coh, NULL);
        if (daos_handle_is_valid(d->poh))
            api->daos_pool_disconnect(d->poh, NULL);
        if (d->inited)
            api->daos_fini();
    }
    pthread_mutex_destroy(&d->eq_lock);
    ps_free(d->eqs);
    ps_free(d->pool);
    ps_free(d->cont);
    ps_free(d->ns);
    ps_free(d);
}

static ps_status ps__daos_open(json_t *options, void **priv)
{
    static const char *const fields[] = {"pool", "container", "namespace", "clear", NULL};
    static const char what[] = "daos connector options";
    PS__FORWARD(ps__json_check_fields(options, what, fields));
    const char *pool = NULL, *cont = NULL, *ns = NULL;
    bool clear = false;
    PS__FORWARD(ps__json_get_string(options, what, "pool", &pool));
    PS__FORWARD(ps__json_get_string(options, what, "container", &cont));
    PS__FORWARD(ps__json_get_string(options, what, "namespace", &ns));
    PS__FORWARD(ps__json_get_bool(options, what, "clear", &clear));
    PS__RETURN_IF(pool == NULL || *pool == '\0', PS_EINVAL,
                  "daos connector: option \"pool\" (label or UUID) is required");
    PS__RETURN_IF(cont == NULL || *cont == '\0', PS_EINVAL,
                  "daos connector: option \"container\" (label or UUID) is required");
    PS__RETURN_IF(ns == NULL || *ns == '\0', PS_EINVAL,
                  "daos connector: option \"namespace\" (dictionary name) is required");
    PS__RETURN_IF(!ps__daos_utf8_ok(ns), PS_EINVAL,
                  "daos connector: namespace is not valid UTF-8 (pydaos could not read it)");

    const ps__daos_api *api = NULL;
    PS__FORWARD(ps__daos_load(&api));

    ps__daos *d = ps_calloc(1, sizeof *d);
    if (d == NULL)
        return PS__ENOMEM("daos connector");
    pthread_mutex_init(&d->eq_lock, NULL);
    d->clear = clear;
    d->pool = ps__daos_strdup(pool);
    d->cont = ps__daos_strdup(cont);
    d->ns = ps__daos_strdup(ns);
    if (d->pool == NULL || d->cont == NULL || d->ns == NULL) {
        ps__daos_teardown(d);
        return PS__ENOMEM("daos connector");
    }
    d->api = api;
    ps_status st = ps__daos_connect(d);
    if (st != PS_OK) {
        ps__daos_teardown(d);
        return st;
    }
    *priv = d;
    return PS_OK;
}

static ps_status ps__daos_close(void *priv, ps_clear clear)
{
    ps__daos *d = priv;
    ps_status st = PS_OK;
    if (clear == PS_CLEAR_ALL)
        st = ps__daos_clear_all(d);
    ps__daos_teardown(d);
    return st;
}

static bool ps__daos_default_clear(void *priv)
{
    return ((ps__daos *)priv)->clear;
}

static ps_status ps__daos_config(void *priv, json_t **options)
{
    ps__daos *d = priv;
    json_t *o = json_pack("{s:s, s:s, s:s, s:b}", "pool", d->pool, "container", d->cont,
                          "namespace", d->ns, "clear", d->clear);
    if (o == NULL)
        return PS__ENOMEM("daos connector config");
    *options = o;
    return PS_OK;
}

const ps_connector_ops ps__connector_daos = {
    .version = PS_CONNECTOR_OPS_VERSION,
    .name = "daos",
    .flags = PS_CONNECTOR_THREADSAFE,
    .open = ps__daos_open,
    .close = ps__daos_close,
    .default_clear = ps__daos_default_clear,
    .config = ps__daos_config,
    .put = ps__daos_put,
    .get = ps__daos_get,
    .exists = ps__daos_exists,
    .evict = ps__daos_evict,
    .put_batch = ps__daos_put_batch,
    .get_batch = ps__daos_get_batch,
    .new_key = ps__daos_new_key,
    .set = ps__daos_set,
};

void ps_daos_options_init(ps_daos_options *o)
{
    if (o != NULL)
        *o = (ps_daos_options){.version = PS_DAOS_OPTIONS_VERSION};
}

ps_status ps_daos_connector_open(const ps_daos_options *opts, ps_connector **out)
{
    PS__TYPED_OPEN_CHECK("ps_daos_connector_open", opts, PS_DAOS_OPTIONS_VERSION, out);
    PS__RETURN_IF(opts->pool == NULL || opts->container == NULL || opts->namespace_ == NULL,
                  PS_EINVAL, "ps_daos_connector_open: pool, container and namespace are required");
    PS__RETURN_IF(!ps__daos_utf8_ok(opts->pool) || !ps__daos_utf8_ok(opts->container) ||
                      !ps__daos_utf8_ok(opts->namespace_),
                  PS_EINVAL, "ps_daos_connector_open: pool, container and namespace must be UTF-8");
    return ps__connector_open_pack(out, &ps__connector_daos, "ps_daos_connector_open",
                                   "{s:s, s:s, s:s, s:b}", "pool", opts->pool, "container",
                                   opts->container, "namespace", opts->namespace_, "clear",
                                   opts->clear);
}
