/*
 * Run-time features reported by ps_version_info(). Each module that has a
 * run-time fact to report adds it here.
 */
#include "internal.h"
#include "connectors/daos/daos_loader.h"

void ps__features_report(json_t *features)
{
    json_object_set_new(features, "threads", json_true());
    ps__daos_features_report(features);
}
