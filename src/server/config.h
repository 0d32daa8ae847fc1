/*
 * Endpoint configuration: <home>/<name>/config.toml, upstream's
 * EndpointConfig (spec 1.10) plus our own keys, which upstream ignores:
 *
 *   name = "my-endpoint"            # [A-Za-z0-9_-]+
 *   uuid = "…"                      # a UUID (parsed as UUID4, like upstream)
 *   port = 14538                    # 1..65535
 *   host = "10.0.0.5"               # written by `start`
 *   host_type = "ip"                # "ip" | "fqdn" | "static"
 *   [relay] …                       # upstream's relay settings, validated, unused
 *   [storage]
 *   database_path = "…/blobs.db"    # SQLite storage when set
 *   max_object_size = 100000000     # bytes, >= 1
 *   max_memory = 1000000000         # ours: bytes held in memory (int, or "1GB")
 *   dump_dir = "…/dump"             # ours: spill directory (with max_memory)
 *   [auth]
 *   token = "…"                     # ours: bearer token required by the server
 *   [peers]
 *   "<uuid>" = "http://host:port"   # ours: forward requests naming this endpoint
 *
 * Validation follows upstream's pydantic model in strict mode: types must
 * match exactly; unknown top-level keys and unknown [storage]/[relay] keys
 * are ignored; [relay.auth] allows only method and kwargs.
 */
#ifndef PS_ENDPOINT_CONFIG_H
#define PS_ENDPOINT_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "proxystore/status.h"
#include "server.h"

#define EP_CONFIG_FILE   "config.toml"
#define EP_DATABASE_FILE "blobs.db"
#define EP_LOG_FILE      "log.txt"
#define EP_PID_FILE      "daemon.pid"

typedef struct ep_config {
    json_t *doc; /* the whole document, written back as it was read */
    const char *name;
    const char *uuid_text; /* as written in the file */
    char uuid[37];         /* canonical, after upstream's UUID4 parsing */
    int port;
    const char *host;      /* NULL when unset */
    const char *host_type; /* "ip" when unset */
    const char *relay_address;
    const char *database_path;
    uint64_t max_object_size;
    uint64_t max_memory;
    const char *dump_dir;
    const char *token;
    ep_peer *peers;
    size_t npeers;
} ep_config;

/*
 * Validate a parsed document. `what` names it in messages. Takes a reference
 * to `doc` on success. PS_EINVAL with the field and the reason.
 * Ownership: release with ep_config_free().
 */
ps_status ep_config_from_doc(json_t *doc, const char *what, ep_config *out);

/*
 * Read <dir>/config.toml. PS_NOT_FOUND when the file does not exist;
 * PS_EINVAL when it does not parse or validate ("Unable to parse (<path>):
 * <reason>.").
 */
ps_status ep_config_read(const char *dir, ep_config *out);

/* Write `cfg->doc` to <dir>/config.toml (atomically; mode 0600 when a token
 * is set). Creates `dir` if needed. */
ps_status ep_config_write(const char *dir, const ep_config *cfg);

/* Set `host` in the document (and cfg->host). */
ps_status ep_config_set_host(ep_config *cfg, const char *host);

/* Release everything. Accepts NULL and zeroed configs. */
void ep_config_free(ep_config *cfg);

/* True when `name` is non-empty and only [A-Za-z0-9_-]. */
bool ep_valid_name(const char *name);

#endif
