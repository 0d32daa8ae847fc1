/*
 * The table of builtin connector types, in the order they are registered
 * and listed (ps_connector_type_name, ps_version_info).
 */
#include <stdarg.h>

#include "connector/builtin.h"
#include "core/internal.h"

const ps__builtin_connector ps__builtin_connectors[] = {
    {&ps__connector_local, NULL}, {&ps__connector_file, NULL},
    {&ps__connector_redis, NULL}, {&ps__connector_endpoint, NULL},
    {&ps__connector_multi, NULL}, {&ps__connector_daos, ps__daos_features_report},
    {&ps__connector_shm, NULL},
};

const size_t ps__builtin_connector_count =
    sizeof ps__builtin_connectors / sizeof ps__builtin_connectors[0];

ps_status ps__connector_open_pack(ps_connector **out, const ps_connector_ops *ops, const char *fn,
                                  const char *fmt, ...)
{
    json_error_t err;
    va_list ap;
    va_start(ap, fmt);
    json_t *options = json_vpack_ex(&err, 0, fmt, ap);
    va_end(ap);
    if (options == NULL) {
        if (json_error_code(&err) == json_error_out_of_memory)
            return PS__ENOMEM("connector options");
        return ps_error(PS_EINVAL, "%s: %s", fn, err.text);
    }
    ps_status st = ps_connector_open_json(ops, options, out);
    json_decref(options);
    return st;
}
