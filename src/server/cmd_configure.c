/* `configure NAME ...`: write a new endpoint's config.toml. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "core/internal.h"
#include "manage_impl.h"

static int random_port(void)
{
    unsigned r = 0;
    ps_random_bytes(&r, sizeof r);
    return 10 * 1024 + (int)(r % (10 * 1024 + 1));
}

static char *absolute(const char *p)
{
    if (p[0] == '/')
        return ps_strdup(p);
    char cwd[4096];
    if (getcwd(cwd, sizeof cwd) == NULL)
        return ps_strdup(p);
    size_t n = strlen(cwd) + strlen(p) + 2;
    char *r = ps_malloc(n);
    if (r)
        snprintf(r, n, "%s/%s", cwd, p);
    return r;
}

/* --host: "fqdn" or "ip" (any case, blanks around ignored), else NULL: a
 * static address. */
static const char *host_type_of(const char *host)
{
    char ht[16] = "";
    size_t hl = strlen(host);
    const char *hs = host;
    while (*hs == ' ' || *hs == '\t')
        hs++, hl--;
    while (hl > 0 && (hs[hl - 1] == ' ' || hs[hl - 1] == '\t' || hs[hl - 1] == '\n'))
        hl--;
    if (hl < sizeof ht) {
        for (size_t i = 0; i < hl; i++)
            ht[i] = (char)(hs[i] >= 'A' && hs[i] <= 'Z' ? hs[i] + 32 : hs[i]);
        ht[hl] = '\0';
    }
    return strcmp(ht, "fqdn") == 0 ? "fqdn" : strcmp(ht, "ip") == 0 ? "ip" : NULL;
}

/* The [relay] table, as upstream writes it. */
static json_t *relay_table(const ep_configure_args *a)
{
    json_t *relay = json_object(), *rauth = json_object();
    if (a->relay_server)
        json_object_set_new(
            relay, "address",
            json_string(a->relay_address ? a->relay_address : "wss://relay.proxystore.dev"));
    if (a->relay_auth)
        json_object_set_new(rauth, "method", json_string("globus"));
    json_object_set_new(rauth, "kwargs", json_object());
    json_object_set_new(relay, "auth", rauth);
    json_object_set_new(relay, "peer_channels", json_integer(a->peer_channels));
    json_object_set_new(relay, "verify_certificate", json_true());
    return relay;
}

/* The [storage] table into *out. 0, or 1 with a message. */
static int storage_table(const ep_configure_args *a, const char *dir, json_t **out)
{
    json_t *storage = json_object();
    if (a->persist) {
        char db[4400];
        ep_path(db, sizeof db, dir, EP_DATABASE_FILE);
        json_object_set_new(storage, "database_path", json_string(db));
    }
    uint64_t mos = 100000000ULL, mm = 0;
    if (a->max_object_size != NULL && ep_parse_size(a->max_object_size, &mos) != PS_OK) {
        ep_say(EP_LOG_ERROR, "--max-object-size: %s", ps_last_error());
        json_decref(storage);
        return 1;
    }
    json_object_set_new(storage, "max_object_size", json_integer((json_int_t)mos));
    if (a->max_memory != NULL) {
        if (ep_parse_size(a->max_memory, &mm) != PS_OK) {
            ep_say(EP_LOG_ERROR, "--max-memory: %s", ps_last_error());
            json_decref(storage);
            return 1;
        }
        json_object_set_new(storage, "max_memory", json_integer((json_int_t)mm));
    }
    if (a->dump_dir != NULL) {
        char *abs = absolute(a->dump_dir);
        json_object_set_new(storage, "dump_dir", json_string(abs ? abs : a->dump_dir));
        ps_free(abs);
    }
    *out = storage;
    return 0;
}

/* The [peers] table ("UUID=URL" arguments) into *out. 0, or 1 with a message. */
static int peers_table(const ep_configure_args *a, json_t **out)
{
    json_t *peers = json_object();
    for (int i = 0; i < a->npeers; i++) {
        const char *eq = strchr(a->peers[i], '=');
        if (eq == NULL) {
            ep_say(EP_LOG_ERROR, "--peer %s: expected UUID=URL", a->peers[i]);
            json_decref(peers);
            return 1;
        }
        char u[37];
        if (!ep_parse_uuid4(a->peers[i], (size_t)(eq - a->peers[i]), u)) {
            ep_say(EP_LOG_ERROR, "--peer %s: %.*s is not a valid UUID4", a->peers[i],
                   (int)(eq - a->peers[i]), a->peers[i]);
            json_decref(peers);
            return 1;
        }
        json_object_set_new(peers, u, json_string(eq + 1));
    }
    *out = peers;
    return 0;
}

/* The whole configuration document, keys in upstream's order. 0, or 1. */
static int config_doc(const ep_configure_args *a, const char *dir, const char *uuid, json_t **out)
{
    const char *host = a->host ? a->host : "ip";
    const char *host_type = host_type_of(host);
    int port = a->port >= 0 ? a->port : random_port();
    json_t *doc = json_object();
    json_object_set_new(doc, "name", json_string(a->name));
    json_object_set_new(doc, "uuid", json_string(uuid));
    json_object_set_new(doc, "port", json_integer(port));
    if (host_type == NULL)
        json_object_set_new(doc, "host", json_string(host));
    json_object_set_new(doc, "host_type", json_string(host_type ? host_type : "static"));
    json_object_set_new(doc, "relay", relay_table(a));
    json_t *storage = NULL, *peers = NULL;
    if (storage_table(a, dir, &storage) != 0) {
        json_decref(doc);
        return 1;
    }
    json_object_set_new(doc, "storage", storage);
    if (a->token != NULL) {
        json_t *auth = json_object();
        json_object_set_new(auth, "token", json_string(a->token));
        json_object_set_new(doc, "auth", auth);
    }
    if (a->npeers > 0) {
        if (peers_table(a, &peers) != 0) {
            json_decref(doc);
            return 1;
        }
        json_object_set_new(doc, "peers", peers);
    }
    *out = doc;
    return 0;
}

/* Check the document and write it as dir/config.toml (a new directory). 0, or 1. */
static int write_new_config(const char *name, const char *dir, json_t *doc)
{
    ep_config cfg;
    char what[64] = "endpoint configuration";
    if (ep_config_from_doc(doc, what, &cfg) != PS_OK) {
        const char *m = ps_last_error();
        ep_say(EP_LOG_ERROR, "%s", strncmp(m, what, strlen(what)) == 0 ? m + strlen(what) + 2 : m);
        return 1;
    }
    int rc = 1;
    if (access(dir, F_OK) == 0) {
        ep_say(EP_LOG_ERROR, "An endpoint named %s already exists.", name);
        ep_say(EP_LOG_INFO, "To reconfigure the endpoint, remove and try again.");
    } else if (ep_config_write(dir, &cfg) != PS_OK) {
        ep_say(EP_LOG_ERROR, "%s", ps_last_error());
    } else {
        ep_say(EP_LOG_INFO, "Configured endpoint: %s <%s>", cfg.name, cfg.uuid_text);
        ep_say(EP_LOG_INFO, "Config and log file directory: %s", dir);
        ep_say(EP_LOG_INFO, "Start the endpoint with:");
        ep_say(EP_LOG_INFO, "  $ proxystore-endpoint start %s", cfg.name);
        rc = 0;
    }
    ep_config_free(&cfg);
    return rc;
}

int ep_cmd_configure(const ep_configure_args *a)
{
    char home[4096], dir[4300];
    if (ep_home_dir(home, sizeof home) != 0)
        return 1;
    if (!ep_valid_name(a->name)) {
        ep_say(EP_LOG_ERROR,
               "Name must only contain alphanumeric characters, dashes, and  underscores. Got "
               "%s.",
               a->name ? a->name : "");
        return 1;
    }
    snprintf(dir, sizeof dir, "%s/%s", home, a->name);
    char uuid[PS_UUID_STR_LEN + 1];
    if (ps_uuid4(uuid) != PS_OK) {
        ep_say(EP_LOG_ERROR, "%s", ps_last_error());
        return 1;
    }
    json_t *doc = NULL;
    if (config_doc(a, dir, uuid, &doc) != 0)
        return 1;
    int rc = write_new_config(a->name, dir, doc);
    json_decref(doc);
    return rc;
}
