/* Store SPEC strings of the `proxystore` command, mapped to store configurations. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "cli.h"
#include "proxystore/proxystore.h"

static int psc_err(char *err, size_t errlen, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int psc_err(char *err, size_t errlen, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return code;
}

static uint32_t psc_fnv32(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 16777619u;
    }
    return h;
}

/* Wrap connector options into a store configuration named after them. */
static int psc_store_of(const char *name, const char *kind, json_t *options, char **config,
                        char *err, size_t errlen)
{
    json_t *conn = json_pack("{s:s, s:o}", "kind", kind, "options", options);
    if (conn == NULL)
        return psc_err(err, errlen, PSC_OTHER, "out of memory");
    char stored_name[32];
    if (name == NULL) {
        /* distinct stores get distinct names, so a process resolving tokens of
         * several stores never confuses them in its registry */
        char *text = json_dumps(conn, JSON_COMPACT | JSON_SORT_KEYS);
        snprintf(stored_name, sizeof stored_name, "cli-%08x", text ? psc_fnv32(text) : 0u);
        free(text);
        name = stored_name;
    }
    json_t *cfg = json_pack("{s:s, s:o}", "name", name, "connector", conn);
    char *text = cfg ? json_dumps(cfg, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(cfg);
    if (text == NULL)
        return psc_err(err, errlen, PSC_OTHER, "out of memory");
    *config = text;
    return PSC_OK;
}

static int psc_file_spec(const char *name, const char *dir, char **config, char *err, size_t errlen)
{
    if (*dir == '\0')
        return psc_err(err, errlen, PSC_USAGE, "store spec file:DIR needs a directory");
    char *abs = NULL;
    if (dir[0] != '/') {
        /* the configuration travels to other processes: make it absolute */
        char cwd[4096];
        if (getcwd(cwd, sizeof cwd) == NULL)
            return psc_err(err, errlen, PSC_OTHER, "getcwd: %s", strerror(errno));
        abs = malloc(strlen(cwd) + strlen(dir) + 2);
        if (abs == NULL)
            return psc_err(err, errlen, PSC_OTHER, "out of memory");
        sprintf(abs, "%s/%s", cwd, dir);
        dir = abs;
    }
    /* clear=false: the CLI never deletes a directory when it closes */
    json_t *o = json_pack("{s:s, s:b}", "store_dir", dir, "clear", 0);
    free(abs);
    if (o == NULL)
        return psc_err(err, errlen, PSC_USAGE, "file:DIR: directory is not valid UTF-8");
    return psc_store_of(name, "file", o, config, err, errlen);
}

static int psc_redis_spec(const char *rest, char **config, char *err, size_t errlen)
{
    /* HOST[:PORT] or [IPV6][:PORT] */
    char host[256];
    const char *port_s = NULL;
    if (rest[0] == '[') {
        const char *end = strchr(rest, ']');
        if (end == NULL || (size_t)(end - rest - 1) >= sizeof host)
            return psc_err(err, errlen, PSC_USAGE, "redis://[HOST]:PORT: missing ']'");
        memcpy(host, rest + 1, (size_t)(end - rest - 1));
        host[end - rest - 1] = '\0';
        if (end[1] == ':')
            port_s = end + 2;
        else if (end[1] != '\0' && strcmp(end + 1, "/") != 0)
            return psc_err(err, errlen, PSC_USAGE, "redis spec: unexpected text after ']'");
    } else {
        const char *colon = strrchr(rest, ':');
        size_t n = colon ? (size_t)(colon - rest) : strcspn(rest, "/");
        if (n >= sizeof host)
            return psc_err(err, errlen, PSC_USAGE, "redis spec: host name too long");
        memcpy(host, rest, n);
        host[n] = '\0';
        if (colon)
            port_s = colon + 1;
    }
    if (host[0] == '\0')
        return psc_err(err, errlen, PSC_USAGE, "redis://HOST:PORT needs a host");
    long port = 6379;
    if (port_s) {
        char *end = NULL;
        errno = 0;
        port = strtol(port_s, &end, 10);
        if (errno || end == port_s || (*end != '\0' && strcmp(end, "/") != 0) || port < 1 ||
            port > 65535)
            return psc_err(err, errlen, PSC_USAGE, "redis spec: invalid port \"%s\"", port_s);
    }
    json_t *o =
        json_pack("{s:s, s:I, s:b}", "hostname", host, "port", (json_int_t)port, "clear", 0);
    if (o == NULL)
        return psc_err(err, errlen, PSC_USAGE, "redis spec: host is not valid UTF-8");
    return psc_store_of(NULL, "redis", o, config, err, errlen);
}

static int psc_endpoint_spec(const char *rest, char **config, char *err, size_t errlen)
{
    if (*rest == '\0')
        return psc_err(err, errlen, PSC_USAGE, "endpoint:URL or endpoint:UUID[,UUID...] needed");
    json_t *o;
    if (strncmp(rest, "http://", 7) == 0 || strncmp(rest, "https://", 8) == 0) {
        o = json_pack("{s:[], s:s}", "endpoints", "url", rest);
    } else {
        json_t *list = json_array();
        char *copy = strdup(rest);
        if (list == NULL || copy == NULL) {
            json_decref(list);
            free(copy);
            return psc_err(err, errlen, PSC_OTHER, "out of memory");
        }
        char *save = NULL;
        for (char *u = strtok_r(copy, ",", &save); u; u = strtok_r(NULL, ",", &save)) {
            if (!ps_uuid_is_canonical(u)) {
                int rc = psc_err(err, errlen, PSC_USAGE,
                                 "endpoint spec: \"%s\" is not a lower-case UUID", u);
                free(copy);
                json_decref(list);
                return rc;
            }
            json_array_append_new(list, json_string(u));
        }
        free(copy);
        o = json_pack("{s:o}", "endpoints", list);
    }
    if (o == NULL)
        return psc_err(err, errlen, PSC_USAGE, "endpoint spec: not valid UTF-8");
    return psc_store_of(NULL, "endpoint", o, config, err, errlen);
}

static int psc_daos_spec(const char *rest, char **config, char *err, size_t errlen)
{
    char *copy = strdup(rest);
    if (copy == NULL)
        return psc_err(err, errlen, PSC_OTHER, "out of memory");
    char *pool = copy, *cont = strchr(pool, '/'), *ns = cont ? strchr(cont + 1, '/') : NULL;
    if (cont == NULL || ns == NULL || strchr(ns + 1, '/') != NULL) {
        free(copy);
        return psc_err(err, errlen, PSC_USAGE, "store spec daos:POOL/CONTAINER/NAMESPACE needed");
    }
    *cont++ = '\0';
    *ns++ = '\0';
    if (!*pool || !*cont || !*ns) {
        free(copy);
        return psc_err(err, errlen, PSC_USAGE, "daos spec: empty pool, container or namespace");
    }
    json_t *o = json_pack("{s:s, s:s, s:s, s:b}", "pool", pool, "container", cont, "namespace", ns,
                          "clear", 0);
    free(copy);
    if (o == NULL)
        return psc_err(err, errlen, PSC_USAGE, "daos spec: not valid UTF-8");
    return psc_store_of(NULL, "daos", o, config, err, errlen);
}

static int psc_json_file_spec(const char *path, char **config, char *err, size_t errlen)
{
    json_error_t je;
    json_t *v = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
    if (v == NULL) {
        FILE *f = fopen(path, "r");
        if (f == NULL)
            return psc_err(err, errlen, PSC_OTHER, "%s: %s", path, strerror(errno));
        fclose(f);
        return psc_err(err, errlen, PSC_USAGE, "%s: line %d: %s", path, je.line, je.text);
    }
    if (!json_is_object(v)) {
        json_decref(v);
        return psc_err(err, errlen, PSC_USAGE, "%s: expected a JSON object", path);
    }
    if (json_object_get(v, "name") == NULL && json_object_get(v, "kind") != NULL) {
        /* a connector configuration {"kind": ..., "options": {...}} */
        json_t *kind = json_object_get(v, "kind"), *opts = json_object_get(v, "options");
        if (!json_is_string(kind) || (opts && !json_is_object(opts))) {
            json_decref(v);
            return psc_err(err, errlen, PSC_USAGE, "%s: bad connector configuration", path);
        }
        int rc = psc_store_of(NULL, json_string_value(kind),
                              opts ? json_incref(opts) : json_object(), config, err, errlen);
        json_decref(v);
        return rc;
    }
    char *text = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(v);
    if (text == NULL)
        return psc_err(err, errlen, PSC_OTHER, "out of memory");
    *config = text;
    return PSC_OK;
}

int psc_spec_config(const char *spec, char **config, char *err, size_t errlen)
{
    *config = NULL;
    if (spec == NULL) {
        char *dir = NULL;
        if (ps_data_dir(&dir) != PS_OK)
            return psc_err(err, errlen, PSC_OTHER, "default store: %s", ps_last_error());
        char *path = malloc(strlen(dir) + sizeof "/default");
        if (path == NULL) {
            ps_free(dir);
            return psc_err(err, errlen, PSC_OTHER, "out of memory");
        }
        sprintf(path, "%s/default", dir);
        ps_free(dir);
        int rc = psc_file_spec("default", path, config, err, errlen);
        free(path);
        return rc;
    }
    if (strncmp(spec, "file:", 5) == 0)
        return psc_file_spec(NULL, spec + 5, config, err, errlen);
    if (strncmp(spec, "redis://", 8) == 0)
        return psc_redis_spec(spec + 8, config, err, errlen);
    if (strncmp(spec, "endpoint:", 9) == 0)
        return psc_endpoint_spec(spec + 9, config, err, errlen);
    if (strncmp(spec, "daos:", 5) == 0)
        return psc_daos_spec(spec + 5, config, err, errlen);
    if (strncmp(spec, "shm:", 4) == 0) {
        if (spec[4] == '\0')
            return psc_err(err, errlen, PSC_USAGE, "store spec shm:NAME needs a name");
        json_t *o = json_pack("{s:s}", "name", spec + 4);
        if (o == NULL)
            return psc_err(err, errlen, PSC_USAGE, "shm spec: not valid UTF-8");
        return psc_store_of(NULL, "shm", o, config, err, errlen);
    }
    if (spec[0] == '@' && spec[1] != '\0')
        return psc_json_file_spec(spec + 1, config, err, errlen);
    return psc_err(err, errlen, PSC_USAGE,
                   "unknown store spec \"%s\" (want file:DIR, redis://HOST:PORT, endpoint:URL, "
                   "endpoint:UUID,..., daos:POOL/CONTAINER/NAMESPACE, shm:NAME or @FILE.json)",
                   spec);
}
