/*
 * The table of builtin connector types, in the order they are registered
 * and listed (ps_connector_type_name, ps_version_info).
 */
#include "connector/builtin.h"

const ps__builtin_connector ps__builtin_connectors[] = {
    {&ps__connector_local, NULL}, {&ps__connector_file, NULL},
    {&ps__connector_redis, NULL}, {&ps__connector_endpoint, NULL},
    {&ps__connector_multi, NULL}, {&ps__connector_daos, ps__daos_features_report},
    {&ps__connector_shm, NULL},
};

const size_t ps__builtin_connector_count =
    sizeof ps__builtin_connectors / sizeof ps__builtin_connectors[0];
