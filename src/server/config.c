/* Endpoint config.toml: validation like upstream's pydantic model, I/O. */
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "eputil.h"
#include "core/internal.h"
#include "core/toml.h"

bool ep_valid_name(const char *name)
{
    if (name == NULL || *name == '\0')
        return false;
    for (const char *p = name; *p; p++)
        if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
              *p == '_' || *p == '-'))
            return false;
    return true;
}

static ps_status want(const json_t *v, json_type type, const char *what, const char *field)
{
    static const char *const names[] = {"a table", "an array",  "a string",  "an integer",
                                        "a float", "a boolean", "a boolean", "null"};
    if (v != NULL && json_typeof(v) != type && !(type == JSON_TRUE && json_typeof(v) == JSON_FALSE))
        return ps__seterr(PS_EINVAL, "%s: %s must be %s", what, field, names[type]);
    return PS_OK;
}

static ps_status parse_storage(const json_t *st, const char *what, ep_config *c)
{
    const json_t *v;
    PS__FORWARD(want(st, JSON_OBJECT, what, "storage"));
    if (st == NULL)
        return PS_OK;
    v = json_object_get(st, "database_path");
    PS__FORWARD(want(v, JSON_STRING, what, "storage.database_path"));
    c->database_path = json_string_value(v);
    v = json_object_get(st, "max_object_size");
    PS__FORWARD(want(v, JSON_INTEGER, what, "storage.max_object_size"));
    if (v != NULL) {
        PS__RETURN_IF(json_integer_value(v) < 1, PS_EINVAL,
                      "%s: Max object size must be None or greater than zero.", what);
        c->max_object_size = (uint64_t)json_integer_value(v);
    }
    v = json_object_get(st, "max_memory");
    if (json_is_string(v)) {
        ps_status s = ep_parse_size(json_string_value(v), &c->max_memory);
        if (s != PS_OK)
            return ps__preferr(s, "%s: storage.max_memory", what);
    } else if (v != NULL) {
        PS__FORWARD(want(v, JSON_INTEGER, what, "storage.max_memory"));
        PS__RETURN_IF(json_integer_value(v) < 1, PS_EINVAL,
                      "%s: storage.max_memory must be at least 1", what);
        c->max_memory = (uint64_t)json_integer_value(v);
    }
    v = json_object_get(st, "dump_dir");
    PS__FORWARD(want(v, JSON_STRING, what, "storage.dump_dir"));
    c->dump_dir = json_string_value(v);
    PS__RETURN_IF((c->max_memory > 0) != (c->dump_dir != NULL && *c->dump_dir), PS_EINVAL,
                  "%s: storage.max_memory and storage.dump_dir go together: Either both of "
                  "max_size and dump_dir should be specified or neither.",
                  what);
    return PS_OK;
}

static ps_status parse_relay(const json_t *r, const char *what, ep_config *c)
{
    PS__FORWARD(want(r, JSON_OBJECT, what, "relay"));
    if (r == NULL)
        return PS_OK;
    const json_t *v = json_object_get(r, "address");
    PS__FORWARD(want(v, JSON_STRING, what, "relay.address"));
    c->relay_address = json_string_value(v);
    if (c->relay_address != NULL)
        PS__RETURN_IF(strncmp(c->relay_address, "ws://", 5) != 0 &&
                          strncmp(c->relay_address, "wss://", 6) != 0,
                      PS_EINVAL, "%s: relay.address: Server must start with ws:// or wss://.",
                      what);
    v = json_object_get(r, "peer_channels");
    PS__FORWARD(want(v, JSON_INTEGER, what, "relay.peer_channels"));
    PS__RETURN_IF(v != NULL && json_integer_value(v) < 1, PS_EINVAL,
                  "%s: relay.peer_channels: Peer channels must be >= 1.", what);
    PS__FORWARD(want(json_object_get(r, "verify_certificate"), JSON_TRUE, what,
                     "relay.verify_certificate"));
    const json_t *auth = json_object_get(r, "auth");
    PS__FORWARD(want(auth, JSON_OBJECT, what, "relay.auth"));
    if (auth != NULL) {
        const char *k;
        const json_t *av;
        json_object_foreach((json_t *)auth, k, av)
        {
            PS__RETURN_IF(strcmp(k, "method") != 0 && strcmp(k, "kwargs") != 0, PS_EINVAL,
                          "%s: relay.auth: unknown field \"%s\"", what, k);
        }
        av = json_object_get(auth, "method");
        PS__FORWARD(want(av, JSON_STRING, what, "relay.auth.method"));
        PS__RETURN_IF(av != NULL && strcmp(json_string_value(av), "globus") != 0, PS_EINVAL,
                      "%s: relay.auth.method must be \"globus\"", what);
        PS__FORWARD(want(json_object_get(auth, "kwargs"), JSON_OBJECT, what, "relay.auth.kwargs"));
    }
    return PS_OK;
}

static ps_status parse_peers(const json_t *p, const char *what, ep_config *c)
{
    PS__FORWARD(want(p, JSON_OBJECT, what, "peers"));
    if (p == NULL || json_object_size(p) == 0)
        return PS_OK;
    c->peers = ps_calloc(json_object_size(p), sizeof *c->peers);
    if (c->peers == NULL)
        return PS__ENOMEM("peers");
    const char *k;
    const json_t *v;
    json_object_foreach((json_t *)p, k, v)
    {
        ep_peer *e = &c->peers[c->npeers];
        PS__RETURN_IF(!ep_parse_uuid4(k, strlen(k), e->uuid), PS_EINVAL,
                      "%s: peers: \"%s\" is not a valid UUID4", what, k);
        PS__FORWARD(want(v, JSON_STRING, what, "each peers entry"));
        const char *url = json_string_value(v);
        PS__RETURN_IF(strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0,
                      PS_EINVAL, "%s: peers.\"%s\": \"%s\" is not an http:// or https:// URL", what,
                      k, url);
        e->url = ps_strdup(url);
        if (e->url == NULL)
            return PS__ENOMEM("peers");
        c->npeers++;
    }
    return PS_OK;
}

static ps_status from_doc(json_t *doc, const char *what, ep_config *c)
{
    PS__RETURN_IF(!json_is_object(doc), PS_EINVAL, "%s: not a table", what);
    const json_t *v = json_object_get(doc, "name");
    PS__RETURN_IF(v == NULL, PS_EINVAL, "%s: name: Field required", what);
    PS__FORWARD(want(v, JSON_STRING, what, "name"));
    c->name = json_string_value(v);
    PS__RETURN_IF(!ep_valid_name(c->name), PS_EINVAL,
                  "%s: Name must only contain alphanumeric characters, dashes, and "
                  " underscores. Got %s.",
                  what, c->name);
    v = json_object_get(doc, "uuid");
    PS__RETURN_IF(v == NULL, PS_EINVAL, "%s: uuid: Field required", what);
    PS__FORWARD(want(v, JSON_STRING, what, "uuid"));
    c->uuid_text = json_string_value(v);
    PS__RETURN_IF(!ep_parse_uuid4(c->uuid_text, strlen(c->uuid_text), c->uuid), PS_EINVAL,
                  "%s: \"%s\" is not a valid UUID4 string.", what, c->uuid_text);
    v = json_object_get(doc, "port");
    PS__RETURN_IF(v == NULL, PS_EINVAL, "%s: port: Field required", what);
    PS__FORWARD(want(v, JSON_INTEGER, what, "port"));
    PS__RETURN_IF(json_integer_value(v) < 1 || json_integer_value(v) > 65535, PS_EINVAL,
                  "%s: Port must be in range [1, 65535].", what);
    c->port = (int)json_integer_value(v);
    v = json_object_get(doc, "host");
    PS__FORWARD(want(v, JSON_STRING, what, "host"));
    c->host = json_string_value(v);
    v = json_object_get(doc, "host_type");
    PS__FORWARD(want(v, JSON_STRING, what, "host_type"));
    c->host_type = v ? json_string_value(v) : "ip";
    PS__RETURN_IF(strcmp(c->host_type, "ip") != 0 && strcmp(c->host_type, "fqdn") != 0 &&
                      strcmp(c->host_type, "static") != 0,
                  PS_EINVAL, "%s: host_type must be \"fqdn\", \"ip\" or \"static\", not \"%s\"",
                  what, c->host_type);
    PS__FORWARD(parse_relay(json_object_get(doc, "relay"), what, c));
    c->max_object_size = 100000000ULL;
    PS__FORWARD(parse_storage(json_object_get(doc, "storage"), what, c));
    const json_t *auth = json_object_get(doc, "auth");
    PS__FORWARD(want(auth, JSON_OBJECT, what, "auth"));
    if (auth != NULL) {
        v = json_object_get(auth, "token");
        PS__FORWARD(want(v, JSON_STRING, what, "auth.token"));
        c->token = json_string_value(v);
        PS__RETURN_IF(c->token != NULL && (c->token[0] == '\0' || strlen(c->token) > 512 ||
                                           strpbrk(c->token, "\r\n") != NULL),
                      PS_EINVAL, "%s: auth.token must be 1 to 512 characters on one line", what);
    }
    return parse_peers(json_object_get(doc, "peers"), what, c);
}

ps_status ep_config_from_doc(json_t *doc, const char *what, ep_config *out)
{
    PS__RETURN_IF(out == NULL || doc == NULL, PS_EINVAL, "config: NULL argument");
    memset(out, 0, sizeof *out);
    out->doc = json_incref(doc);
    ps_status st = from_doc(doc, what ? what : "config", out);
    if (st != PS_OK)
        ep_config_free(out);
    return st;
}

ps_status ep_config_read(const char *dir, ep_config *out)
{
    PS__RETURN_IF(dir == NULL || out == NULL, PS_EINVAL, "config: NULL argument");
    memset(out, 0, sizeof *out);
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, EP_CONFIG_FILE);
    json_t *doc = NULL;
    ps_status st = ps__toml_read_file(path, &doc);
    if (st == PS_NOT_FOUND)
        return ps__seterr(PS_NOT_FOUND,
                          "Endpoint directory %s does not contain a valid configuration.", dir);
    if (st != PS_OK)
        return ps__preferr(PS_EINVAL, "Unable to parse (%s)", path);
    char what[4200];
    snprintf(what, sizeof what, "Unable to parse (%s)", path);
    st = ep_config_from_doc(doc, what, out);
    json_decref(doc);
    return st;
}

ps_status ep_config_write(const char *dir, const ep_config *cfg)
{
    PS__RETURN_IF(dir == NULL || cfg == NULL || cfg->doc == NULL, PS_EINVAL,
                  "config: NULL argument");
    PS__FORWARD(ep_mkdirs(dir, 0755));
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, EP_CONFIG_FILE);
    return ps__toml_write_file(path, cfg->doc, cfg->token != NULL);
}

ps_status ep_config_set_host(ep_config *cfg, const char *host)
{
    PS__RETURN_IF(cfg == NULL || cfg->doc == NULL || host == NULL, PS_EINVAL,
                  "config: NULL argument");
    json_t *v = json_string(host);
    PS__RETURN_IF(v == NULL, PS_EINVAL, "config: host \"%s\" is not valid UTF-8", host);
    /* Keep upstream's field order: host comes right after port. */
    if (json_object_get(cfg->doc, "host") == NULL) {
        json_t *nd = json_object();
        const char *k;
        json_t *val;
        if (nd == NULL) {
            json_decref(v);
            return PS__ENOMEM("config");
        }
        json_object_foreach(cfg->doc, k, val)
        {
            json_object_set(nd, k, val);
            if (strcmp(k, "port") == 0)
                json_object_set(nd, "host", v);
        }
        if (json_object_get(nd, "host") == NULL)
            json_object_set(nd, "host", v);
        json_object_clear(cfg->doc);
        json_object_update(cfg->doc, nd);
        json_decref(nd);
    } else {
        json_object_set(cfg->doc, "host", v);
    }
    json_decref(v);
    cfg->host = json_string_value(json_object_get(cfg->doc, "host"));
    /* The other borrowed strings point into values that are still alive. */
    return PS_OK;
}

void ep_config_free(ep_config *cfg)
{
    if (cfg == NULL)
        return;
    for (size_t i = 0; i < cfg->npeers; i++)
        ps_free(cfg->peers[i].url);
    ps_free(cfg->peers);
    json_decref(cfg->doc);
    memset(cfg, 0, sizeof *cfg);
}
