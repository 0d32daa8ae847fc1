/*
 * The builtin connector types: the one place where the connector layer names
 * the connectors of src/connectors/ (as curl's url.c lists its protocols).
 * Each connector includes this header, so its definition is checked against
 * the declaration here; the table that registers them, in this order, is
 * ps__builtin_connectors in builtin.c. Adding a connector: a line here and a
 * line in the table.
 */
#ifndef PS_CONNECTOR_BUILTIN_H
#define PS_CONNECTOR_BUILTIN_H

#include <stddef.h>

#include <jansson.h>

#include "proxystore/sys/connector.h"

extern const ps_connector_ops ps__connector_local;    /* connectors/local/    */
extern const ps_connector_ops ps__connector_file;     /* connectors/file/     */
extern const ps_connector_ops ps__connector_redis;    /* connectors/redis/    */
extern const ps_connector_ops ps__connector_endpoint; /* connectors/endpoint/ */
extern const ps_connector_ops ps__connector_multi;    /* connectors/multi/    */
extern const ps_connector_ops ps__connector_daos;     /* connectors/daos/     */
extern const ps_connector_ops ps__connector_shm;      /* connectors/shm/      */

/* A builtin type and, optionally, what it adds to the "features" object of
 * ps_version_info() (a run-time fact, such as whether libdaos loads). */
typedef struct ps__builtin_connector {
    const ps_connector_ops *ops;
    void (*features)(json_t *features);
} ps__builtin_connector;

/* The DAOS connector's feature report (connectors/daos/loader.c): adds
 * "daos": {"available": bool, "library": path, "detail": text}, loading
 * libdaos if that was not yet tried. */
void ps__daos_features_report(json_t *features);

/*
 * What every typed open function (ps_<kind>_connector_open) does after
 * PS__TYPED_OPEN_CHECK: build the JSON options with json_pack(`fmt`, ...)
 * (jansson's format; "s*" leaves out a NULL string) and open them through
 * ps_connector_open_json(). `fn` names the public function in messages. A
 * string that is not UTF-8 is PS_EINVAL.
 */
ps_status ps__connector_open_pack(ps_connector **out, const ps_connector_ops *ops, const char *fn,
                                  const char *fmt, ...);

/* The start of every typed open: clear `*out`, refuse a NULL `out`, NULL
 * options and an options version this build does not know (`want`). */
#define PS__TYPED_OPEN_CHECK(fn, opts, want, out)                                                  \
    do {                                                                                           \
        if ((out) == NULL)                                                                         \
            return ps_error(PS_EINVAL, "%s: out is NULL", (fn));                                   \
        *(out) = NULL;                                                                             \
        if ((opts) == NULL)                                                                        \
            return ps_error(PS_EINVAL, "%s: options are NULL", (fn));                              \
        if ((opts)->version != (want))                                                             \
            return ps_error(PS_EINVAL,                                                             \
                            "%s: unknown options version %u (this library knows %u; fill the "     \
                            "options with their _options_init function)",                          \
                            (fn), (opts)->version, (unsigned)(want));                              \
    } while (0)

extern const ps__builtin_connector ps__builtin_connectors[];
extern const size_t ps__builtin_connector_count;

#endif
