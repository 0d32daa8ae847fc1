/*
 * A store's JSON configuration: ps_store_config writes it (upstream's
 * Store.config(): the name, the connector's configuration, the codec and the
 * options), ps_store_from_config builds a store from it, and
 * ps_store_get_or_create (store.c, with the registry) builds from it here.
 */
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "proxystore/sys/connector.h"
#include "store/store_internal.h"

ps_status ps_store_config(ps_store *store, char **json)
{
    PS__RETURN_IF(json == NULL, PS_EINVAL, "ps_store_config: out is NULL");
    *json = NULL;
    PS__CHECK_STORE(store, "ps_store_config");
    json_t *conn = NULL;
    ps_status st = ps__store_connector_config(store, &conn);
    if (st != PS_OK)
        return st;
    const ps_store_options *o = &store->opts;
    json_t *cfg = json_pack(
        "{s:s, s:o, s:s, s:I, s:I, s:b, s:b, s:b}", "name", store->name, "connector", conn, "codec",
        store->codec->name, "cache_size", (json_int_t)o->cache_size, "cache_bytes",
        (json_int_t)o->cache_bytes, "metrics", (int)o->metrics, "populate_target",
        (int)(o->populate_target != PS_POPULATE_NO), "auto_register", (int)o->register_store);
    if (cfg == NULL)
        return PS__ENOMEM("store config");
    st = ps__json_dump(cfg, json);
    json_decref(cfg);
    return st;
}

static const char *const ps__store_config_fields[] = {
    "name",    "connector",       "codec",         "cache_size", "cache_bytes",
    "metrics", "populate_target", "auto_register", NULL};

ps_status ps__store_config_name(json_t *cfg, const char **name)
{
    *name = NULL;
    PS__FORWARD(ps__json_get_string(cfg, "store config", "name", name));
    PS__RETURN_IF(*name == NULL, PS_EINVAL, "store config: missing \"name\"");
    size_t n = strnlen(*name, PS__STORE_NAME_MAX + 1);
    PS__RETURN_IF(n == 0 || n > PS__STORE_NAME_MAX, PS_EINVAL,
                  "store config: \"name\" must be 1 to %d bytes", PS__STORE_NAME_MAX);
    return PS_OK;
}

/* Parse a configuration object into options and the connector config. */
static ps_status ps__store_config_parse(json_t *cfg, const char **name, json_t **conn_cfg,
                                        ps_store_options *o)
{
    PS__RETURN_IF(!json_is_object(cfg), PS_EINVAL, "store config: expected a JSON object");
    PS__FORWARD(ps__json_check_fields(cfg, "store config", ps__store_config_fields));
    PS__FORWARD(ps__store_config_name(cfg, name));
    *conn_cfg = json_object_get(cfg, "connector");
    PS__RETURN_IF(*conn_cfg == NULL, PS_EINVAL, "store config \"%s\": missing \"connector\"",
                  *name);
    PS__RETURN_IF(!json_is_object(*conn_cfg), PS_EINVAL,
                  "store config \"%s\": field \"connector\" must be an object", *name);
    ps_store_options_init(o);
    long long cache_size = o->cache_size, cache_bytes = 0;
    PS__FORWARD(ps__json_get_string(cfg, "store config", "codec", &o->codec));
    PS__FORWARD(ps__json_get_int(cfg, "store config", "cache_size", &cache_size));
    PS__FORWARD(ps__json_get_int(cfg, "store config", "cache_bytes", &cache_bytes));
    PS__FORWARD(ps__json_get_bool(cfg, "store config", "metrics", &o->metrics));
    bool populate = true;
    PS__FORWARD(ps__json_get_bool(cfg, "store config", "populate_target", &populate));
    o->populate_target = populate ? PS_POPULATE_YES : PS_POPULATE_NO;
    PS__FORWARD(ps__json_get_bool(cfg, "store config", "auto_register", &o->register_store));
    PS__RETURN_IF(cache_size < 0 || cache_size > LONG_MAX, PS_EINVAL,
                  "store config \"%s\": Cache size cannot be negative. Got %lld.", *name,
                  cache_size);
    PS__RETURN_IF(cache_bytes < 0, PS_EINVAL,
                  "store config \"%s\": cache_bytes cannot be negative. Got %lld.", *name,
                  cache_bytes);
    o->cache_size = (long)cache_size;
    o->cache_bytes = (size_t)cache_bytes;
    return PS_OK;
}

ps_status ps__store_from_config_obj(json_t *cfg, bool do_register, ps_store **out)
{
    const char *name = NULL;
    json_t *conn_cfg = NULL;
    ps_store_options o;
    PS__FORWARD(ps__store_config_parse(cfg, &name, &conn_cfg, &o));
    const ps_codec *codec = NULL;
    PS__FORWARD(ps__store_check_new(name, &o, &codec));
    ps_connector *conn = NULL;
    ps_status st = ps_connector_from_config_json(conn_cfg, &conn);
    if (st != PS_OK)
        return ps__preferr(st, "store config \"%s\"", name);
    st = ps__store_create(name, conn, &o, do_register && o.register_store, out);
    if (st != PS_OK) {
        /* Keep the store's message, not whatever close leaves. */
        char msg[PS__ERRMSG_SIZE];
        snprintf(msg, sizeof msg, "%s", ps_last_error());
        ps_connector_close(conn, PS_CLEAR_KEEP);
        ps__seterr(st, "%s", msg);
    }
    return st;
}

ps_status ps_store_from_config(const char *config_json, ps_store **out)
{
    PS__RETURN_IF(out == NULL, PS_EINVAL, "ps_store_from_config: out is NULL");
    *out = NULL;
    PS__RETURN_IF(config_json == NULL, PS_EINVAL, "ps_store_from_config: config is NULL");
    json_t *cfg = NULL;
    PS__FORWARD(ps__json_parse_object(config_json, "store config", &cfg));
    ps_status st = ps__store_from_config_obj(cfg, true, out);
    json_decref(cfg);
    return st;
}
