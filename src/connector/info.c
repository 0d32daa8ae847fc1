/* ps_version_info(): what this build offers (connector types, codecs,
 * run-time features). It lives in the connector layer because it lists
 * connector types and codecs. */
#include <pthread.h>
#include <string.h>

#include "codec/codec_internal.h"
#include "connector/builtin.h"
#include "core/internal.h"
#include "proxystore/version.h"

ps_status ps_version_info(char **json)
{
    PS__RETURN_IF(json == NULL, PS_EINVAL, "ps_version_info: out is NULL");
    *json = NULL;
    json_t *root = json_object();
    json_t *conns = json_array();
    json_t *codecs = json_array();
    json_t *features = json_object();
    ps_status st = PS_OK;
    if (!root || !conns || !codecs || !features) {
        st = PS__ENOMEM("version info");
        goto out;
    }
    for (size_t i = 0; ps_connector_type_name(i); i++)
        json_array_append_new(conns, json_string(ps_connector_type_name(i)));
    const char *names[64];
    size_t n = ps__codec_names(names, 64);
    for (size_t i = 0; i < n; i++)
        json_array_append_new(codecs, json_string(names[i]));
    json_object_set_new(features, "threads", json_true());
    for (size_t i = 0; i < ps__builtin_connector_count; i++)
        if (ps__builtin_connectors[i].features)
            ps__builtin_connectors[i].features(features);
    json_object_set_new(root, "version", json_string(PS_VERSION_STRING));
    json_object_set_new(root, "version_hex", json_integer(PS_VERSION_HEX));
    json_object_set(root, "connectors", conns);
    json_object_set(root, "codecs", codecs);
    json_object_set(root, "features", features);
    st = ps__json_dump(root, json);
out:
    json_decref(conns);
    json_decref(codecs);
    json_decref(features);
    json_decref(root);
    return st;
}
