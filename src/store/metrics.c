/*
 * Public metrics API (proxystore/metrics.h) over the store's metrics table.
 */
#include <string.h>

#include "proxystore/metrics.h"
#include "store/store_internal.h"

static ps_status ps__metrics_of(ps_store *store, const char *fn, const char *name, bool need_name)
{
    PS__RETURN_IF(store == NULL, PS_EINVAL, "%s: store is NULL", fn);
    PS__RETURN_IF(need_name && name == NULL, PS_EINVAL, "%s: name is NULL", fn);
    PS__RETURN_IF(store->metrics == NULL, PS_ESTATE, "store \"%s\": metrics are off", store->name);
    return PS_OK;
}

ps_status ps_store_metrics_json(ps_store *store, char **json)
{
    PS__RETURN_IF(json == NULL, PS_EINVAL, "ps_store_metrics_json: out is NULL");
    *json = NULL;
    PS__FORWARD(ps__metrics_of(store, "ps_store_metrics_json", NULL, false));
    return ps__metrics_json(store->metrics, json);
}

ps_status ps_store_metrics_time_stats(ps_store *store, const char *name, ps_time_stats *out)
{
    PS__RETURN_IF(out == NULL, PS_EINVAL, "ps_store_metrics_time_stats: out is NULL");
    PS__RETURN_IF(out->version != PS_TIME_STATS_VERSION, PS_EINVAL,
                  "ps_store_metrics_time_stats: unknown ps_time_stats version %u (fill it with "
                  "ps_time_stats_init first)",
                  out->version);
    ps_time_stats_init(out);
    PS__FORWARD(ps__metrics_of(store, "ps_store_metrics_time_stats", name, true));
    ps_status st = ps__metrics_get_time(store->metrics, name, out);
    out->version = PS_TIME_STATS_VERSION;
    return st;
}

void ps_time_stats_init(ps_time_stats *t)
{
    if (t != NULL)
        *t = (ps_time_stats){.version = PS_TIME_STATS_VERSION};
}

ps_status ps_store_metrics_counter(ps_store *store, const char *name, uint64_t *out)
{
    PS__RETURN_IF(out == NULL, PS_EINVAL, "ps_store_metrics_counter: out is NULL");
    *out = 0;
    PS__FORWARD(ps__metrics_of(store, "ps_store_metrics_counter", name, true));
    return ps__metrics_get_value(store->metrics, PS__METRIC_COUNTER, name, out);
}

ps_status ps_store_metrics_attribute(ps_store *store, const char *name, uint64_t *out)
{
    PS__RETURN_IF(out == NULL, PS_EINVAL, "ps_store_metrics_attribute: out is NULL");
    *out = 0;
    PS__FORWARD(ps__metrics_of(store, "ps_store_metrics_attribute", name, true));
    return ps__metrics_get_value(store->metrics, PS__METRIC_ATTRIBUTE, name, out);
}

void ps_store_metrics_add_time(ps_store *store, const char *name, uint64_t ns)
{
    if (store && name)
        ps__metrics_add_time(store->metrics, name, ns);
}

void ps_store_metrics_reset(ps_store *store)
{
    if (store)
        ps__metrics_reset(store->metrics);
}
