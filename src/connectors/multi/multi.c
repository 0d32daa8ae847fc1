/*
 * The multi connector: named (connector, policy) entries behind one
 * connector (upstream's MultiConnector). See
 * include/proxystore/connectors/multi.h for the contract.
 *
 * The instance is immutable after open: an array of entries in the given
 * order and a slot table of the entries put() may choose, sorted by priority
 * (stable, so ties keep the given order). Whether each policy matches this
 * host is decided once at open, so put() only compares sizes and tags. Inner
 * connectors are called through the public ps_connector_* API (put through
 * its inlined routed form), which checks their keys and serializes the types
 * that are not thread-safe; the multi connector itself is therefore
 * thread-safe.
 */
#include <stdio.h>
#include <string.h>

#include "connector/connector_internal.h"
#include "core/key_internal.h"
#include "connectors/multi/policy_internal.h"
#include "connector/builtin.h"
#include "core/internal.h"
#include "proxystore/connectors/multi.h"
#include "proxystore/sys/connector.h"

/* Longest host name we look at (POSIX HOST_NAME_MAX is 255). */
#define PS__MULTI_HOST_MAX 256

typedef struct ps__multi_entry {
    /* what a put reads of the entry it chose, first */
    ps__key_wrap_spec wrap; /* keys "multi:<name>/<inner>", checked once */
    ps_connector *conn;     /* NULL when dormant */
    char *name;
    ps_multi_policy *policy;
    json_t *dormant; /* the configuration {"kind", "options"} of a dormant entry */
    bool host_ok;    /* the policy matches this host: put() may choose it */
} ps__multi_entry;

/* What put() reads to choose an entry, packed (the slot table): the entries it may choose,
 * highest priority first, ties in given order. */
typedef struct ps__multi_slot {
    uint64_t min_size, max_size; /* the policy's size range */
    ps__multi_entry *e;
    int64_t priority;
    bool superset; /* the policy wants superset tags: no put without tags matches */
} ps__multi_slot;

typedef struct ps__multi {
    size_t n;
    ps__multi_entry *e;
    ps__multi_slot *slots; /* see ps__multi_sort */
    size_t nslots;
    /* Set by default_clear: the coming close is close(PS_CLEAR_DEFAULT), so
     * every inner connector closes as its own configuration says. */
    bool close_default;
} ps__multi;

/* ---- building ------------------------------------------------------------------ */

static void ps__multi_free(ps__multi *m, bool close_conns)
{
    if (m == NULL)
        return;
    for (size_t i = 0; i < m->n; i++) {
        ps__multi_entry *e = &m->e[i];
        if (close_conns && e->conn)
            ps_connector_close(e->conn, PS_CLEAR_KEEP);
        json_decref(e->dormant);
        ps_multi_policy_free(e->policy);
        ps_free(e->name);
    }
    ps_free(m->e);
    ps_free(m->slots);
    ps_free(m);
}

static ps_status ps__multi_alloc(size_t n, ps__multi **out)
{
    *out = NULL;
    ps__multi *m = ps_calloc(1, sizeof *m);
    if (m == NULL)
        return PS__ENOMEM("multi connector");
    if (n > 0) {
        m->e = ps_calloc(n, sizeof *m->e);
        m->slots = ps_calloc(n, sizeof *m->slots);
        if (m->e == NULL || m->slots == NULL) {
            ps__multi_free(m, false);
            return PS__ENOMEM("multi connector entries");
        }
    }
    *out = m;
    return PS_OK;
}

/* Build the slot table put() chooses from: every entry that is active and
 * whose policy matches this host, highest priority first, ties in the given
 * order (a stable insertion sort), with its rules for a put without tags
 * (ps__policy_put_rules). Call it once the entries' connectors are set. */
static void ps__multi_sort(ps__multi *m)
{
    m->nslots = 0;
    for (size_t i = 0; i < m->n; i++) {
        ps__multi_entry *e = &m->e[i];
        if (e->conn == NULL || !e->host_ok)
            continue;
        ps__multi_slot r = {.e = e, .priority = ps_multi_policy_priority(e->policy)};
        ps__policy_put_rules(e->policy, &r.min_size, &r.max_size, &r.superset);
        size_t j = m->nslots++;
        for (; j > 0 && m->slots[j - 1].priority < r.priority; j--)
            m->slots[j] = m->slots[j - 1];
        m->slots[j] = r;
    }
}

static ps__multi_entry *ps__multi_find(ps__multi *m, const char *name)
{
    for (size_t i = 0; i < m->n; i++)
        if (strcmp(m->e[i].name, name) == 0)
            return &m->e[i];
    return NULL;
}

/* Whether `p` matches this host; the host name is looked up once, lazily. */
static ps_status ps__multi_host_ok(const ps_multi_policy *p, char *host, bool *have_host, bool *ok)
{
    if (!ps_multi_policy_has_host_patterns(p)) {
        *ok = true;
        return PS_OK;
    }
    if (!*have_host) {
        PS__FORWARD(ps_hostname(host, PS__MULTI_HOST_MAX));
        *have_host = true;
    }
    return ps_multi_policy_matches_host(p, host, ok);
}

/* One entry of the configuration, normalized: borrowed JSON values. */
typedef struct ps__multi_spec {
    const char *name;
    json_t *connector;    /* new reference: {"kind": .., "options": ..} */
    const json_t *policy; /* may be NULL */
} ps__multi_spec;

/* Read one {"name", "connector", "policy"} item (array form). */
static ps_status ps__multi_spec_item(json_t *item, size_t i, ps__multi_spec *s)
{
    PS__RETURN_IF(!json_is_object(item), PS_EINVAL,
                  "multi connector: \"connectors\" item %zu must be an object", i);
    static const char *const fields[] = {"name", "connector", "policy", NULL};
    char what[64];
    snprintf(what, sizeof what, "multi connector: \"connectors\" item %zu", i);
    PS__FORWARD(ps__json_check_fields(item, what, fields));
    PS__FORWARD(ps__json_get_string(item, what, "name", &s->name));
    PS__RETURN_IF(s->name == NULL, PS_EINVAL, "%s: missing \"name\"", what);
    json_t *c = json_object_get(item, "connector");
    PS__RETURN_IF(!json_is_object(c), PS_EINVAL,
                  "multi connector entry \"%.100s\": \"connector\" must be an object "
                  "{\"kind\": ..., \"options\": ...}",
                  s->name);
    s->connector = json_incref(c);
    s->policy = json_object_get(item, "policy");
    return PS_OK;
}

/* Read one "<name>": {...} or "<name>": [kind, options, policy] (object form). */
static ps_status ps__multi_spec_named(const char *name, json_t *v, ps__multi_spec *s)
{
    s->name = name;
    if (json_is_array(v)) {
        /* Upstream's triple: (class path, connector config, policy dict). */
        PS__RETURN_IF(json_array_size(v) != 3 || !json_is_string(json_array_get(v, 0)) ||
                          !json_is_object(json_array_get(v, 1)),
                      PS_EINVAL,
                      "multi connector entry \"%.100s\": expected [\"<kind>\", {options}, "
                      "{policy}]",
                      name);
        s->connector =
            json_pack("{s:O, s:O}", "kind", json_array_get(v, 0), "options", json_array_get(v, 1));
        if (s->connector == NULL)
            return PS__ENOMEM("multi connector entry");
        s->policy = json_array_get(v, 2);
        return PS_OK;
    }
    PS__RETURN_IF(!json_is_object(v), PS_EINVAL,
                  "multi connector entry \"%.100s\": expected an object {\"connector\": ..., "
                  "\"policy\": ...}",
                  name);
    static const char *const fields[] = {"connector", "policy", NULL};
    char what[160];
    snprintf(what, sizeof what, "multi connector entry \"%.100s\"", name);
    PS__FORWARD(ps__json_check_fields(v, what, fields));
    json_t *c = json_object_get(v, "connector");
    PS__RETURN_IF(!json_is_object(c), PS_EINVAL,
                  "%s: \"connector\" must be an object {\"kind\": ..., \"options\": ...}", what);
    s->connector = json_incref(c);
    s->policy = json_object_get(v, "policy");
    return PS_OK;
}

/* Build entry `i` of `m` from a spec: an active connector or a dormant one. */
static ps_status ps__multi_build_entry(ps__multi *m, size_t i, const ps__multi_spec *s, char *host,
                                       bool *have_host)
{
    ps__multi_entry *e = &m->e[i];
    PS__RETURN_IF(s->name[0] == '\0', PS_EINVAL, "multi connector: an entry has an empty name");
    for (size_t j = 0; j < i; j++)
        PS__RETURN_IF(strcmp(m->e[j].name, s->name) == 0, PS_EINVAL,
                      "multi connector: two entries are named \"%.100s\"", s->name);
    e->name = ps_strdup(s->name);
    if (e->name == NULL)
        return PS__ENOMEM("multi connector entry name");
    PS__FORWARD(ps__key_wrap_prepare("multi", e->name, &e->wrap));
    char what[160];
    snprintf(what, sizeof what, "multi connector entry \"%.100s\": policy", s->name);
    if (s->policy == NULL || json_is_null(s->policy))
        PS__FORWARD(ps_multi_policy_new(&e->policy));
    else
        PS__FORWARD(ps__policy_from_jsonv(s->policy, what, &e->policy));
    ps_status st = ps__multi_host_ok(e->policy, host, have_host, &e->host_ok);
    if (st != PS_OK)
        return ps__preferr(st, "multi connector entry \"%.100s\"", s->name);
    if (!e->host_ok) {
        /* Dormant: keep the configuration as given, written back by config(). */
        e->dormant = json_deep_copy(s->connector);
        if (e->dormant == NULL)
            return PS__ENOMEM("multi connector dormant entry");
        return PS_OK;
    }
    st = ps_connector_from_config_json(s->connector, &e->conn);
    if (st != PS_OK)
        return ps__preferr(st, "multi connector entry \"%.100s\"", s->name);
    return PS_OK;
}

static ps_status ps__multi_open(json_t *options, void **priv)
{
    *priv = NULL;
    static const char *const fields[] = {"connectors", NULL};
    PS__FORWARD(ps__json_check_fields(options, "multi connector options", fields));
    json_t *list = json_object_get(options, "connectors");
    PS__RETURN_IF(list == NULL, PS_EINVAL, "multi connector: missing option \"connectors\"");
    PS__RETURN_IF(!json_is_array(list) && !json_is_object(list), PS_EINVAL,
                  "multi connector: \"connectors\" must be a list of {\"name\", \"connector\", "
                  "\"policy\"} objects");
    size_t n = json_is_array(list) ? json_array_size(list) : json_object_size(list);
    ps__multi *m;
    PS__FORWARD(ps__multi_alloc(n, &m));
    ps__multi_spec *specs = n ? ps_calloc(n, sizeof *specs) : NULL;
    if (n && specs == NULL) {
        ps__multi_free(m, false);
        return PS__ENOMEM("multi connector entries");
    }
    ps_status st = PS_OK;
    if (json_is_array(list)) {
        for (size_t i = 0; i < n && st == PS_OK; i++)
            st = ps__multi_spec_item(json_array_get(list, i), i, &specs[i]);
    } else {
        /* jansson iterates an object in the order of the text it parsed. */
        size_t i = 0;
        const char *name;
        json_t *v;
        json_object_foreach(list, name, v)
        {
            if (st == PS_OK)
                st = ps__multi_spec_named(name, v, &specs[i++]);
        }
    }
    char host[PS__MULTI_HOST_MAX];
    bool have_host = false;
    for (size_t i = 0; i < n && st == PS_OK; i++) {
        st = ps__multi_build_entry(m, i, &specs[i], host, &have_host);
        m->n = i + 1; /* so that a failure frees this entry's parts too */
    }
    for (size_t i = 0; i < n; i++)
        json_decref(specs[i].connector);
    ps_free(specs);
    if (st != PS_OK) {
        /* closing the entries already open clears the message: keep it */
        char msg[PS__ERRMSG_SIZE];
        snprintf(msg, sizeof msg, "%s", ps_last_error());
        ps__multi_free(m, true);
        return ps__seterr(st, "%s", msg);
    }
    m->n = n;
    ps__multi_sort(m);
    *priv = m;
    return PS_OK;
}

static bool ps__multi_default_clear(void *priv)
{
    /* The core asks this only right before close(); answering "clear" and
     * remembering the question lets close() pass PS_CLEAR_DEFAULT on, so each
     * inner connector decides by its own configuration (as upstream's
     * MultiConnector.close() calls close() on each). */
    ps__multi *m = priv;
    m->close_default = true;
    return true;
}

static ps_status ps__multi_close(void *priv, ps_clear clear)
{
    ps__multi *m = priv;
    ps_clear inner = m->close_default ? PS_CLEAR_DEFAULT : clear;
    ps_status first = PS_OK;
    char msg[PS__ERRMSG_SIZE] = "";
    for (size_t i = 0; i < m->n; i++) {
        ps__multi_entry *e = &m->e[i];
        if (e->conn == NULL)
            continue;
        ps_status st = ps_connector_close(e->conn, inner);
        e->conn = NULL;
        if (st != PS_OK && first == PS_OK) {
            first = st;
            snprintf(msg, sizeof msg, "multi connector entry \"%.100s\": %s", e->name,
                     ps_last_error());
        }
    }
    ps__multi_free(m, false);
    if (first != PS_OK)
        return ps__seterr(first, "%s", msg);
    return PS_OK;
}

static ps_status ps__multi_config(void *priv, json_t **options)
{
    ps__multi *m = priv;
    *options = NULL;
    json_t *arr = json_array();
    if (arr == NULL)
        return PS__ENOMEM("multi connector config");
    ps_status st = PS_OK;
    for (size_t i = 0; i < m->n && st == PS_OK; i++) {
        ps__multi_entry *e = &m->e[i];
        json_t *conn = NULL, *pol = NULL;
        if (e->conn)
            st = ps_connector_config_json(e->conn, &conn);
        else if ((conn = json_deep_copy(e->dormant)) == NULL)
            st = PS__ENOMEM("multi connector config");
        if (st == PS_OK)
            st = ps__policy_to_jsonv(e->policy, &pol);
        if (st == PS_OK) {
            json_t *item =
                json_pack("{s:s, s:o, s:o}", "name", e->name, "connector", conn, "policy", pol);
            conn = pol = NULL; /* "o" stole them, also on failure */
            if (item == NULL || json_array_append_new(arr, item) != 0)
                st = PS__ENOMEM("multi connector config");
        } else if (e->conn) {
            ps__preferr(st, "multi connector entry \"%.100s\"", e->name);
        }
        json_decref(conn);
        json_decref(pol);
    }
    if (st == PS_OK) {
        *options = json_pack("{s:o}", "connectors", arr);
        if (*options == NULL)
            st = PS__ENOMEM("multi connector config");
    } else {
        json_decref(arr);
    }
    return st;
}

/* ---- keys ------------------------------------------------------------------------ */

/* The key of an object put through entry `name`: "multi:<name>/<inner key
 * text>", holding `inner` (taken on success only) so that routing it back
 * needs no parsing and its text is only written when someone reads it. */
static ps_status ps__multi_make_key(const ps__multi_entry *e, ps_key *inner, ps_key **out)
{
    ps_status st = ps__key_wrap_with(&e->wrap, inner, out);
    if (st != PS_OK)
        return ps__preferr(st, "multi connector: key for entry \"%.100s\"", e->name);
    return PS_OK;
}

ps_status ps_multi_key_connector_name(const ps_key *key, const char **name)
{
    PS__RETURN_IF(name == NULL, PS_EINVAL, "ps_multi_key_connector_name: name is NULL");
    *name = NULL;
    PS__RETURN_IF(key == NULL, PS_EINVAL, "ps_multi_key_connector_name: key is NULL");
    PS__RETURN_IF(strcmp(ps_key_type(key), "multi") != 0 || ps_key_nfields(key) != 2, PS_EINVAL,
                  "key \"%.200s\" is not a multi connector key (want multi:<name>/<inner key>)",
                  ps_key_str(key));
    *name = ps_key_field(key, 0);
    return PS_OK;
}

const ps_key *ps_multi_key_inner(const ps_key *key)
{
    const char *name;
    const ps_key *inner;
    if (ps_multi_key_connector_name(key, &name) != PS_OK)
        return NULL;
    ps_status st = ps__key_inner_of(key, &inner);
    if (st != PS_OK) {
        ps__preferr(st, "multi connector key \"%.200s\": inner key", ps_key_str(key));
        return NULL;
    }
    return inner;
}

/*
 * Find the active entry named by `key` and its inner key (borrowed from
 * `key`: held by a key this process made, else parsed from its text once and
 * kept in the key).
 */
static ps_status ps__multi_route(ps__multi *m, const ps_key *key, ps__multi_entry **entry,
                                 const ps_key **inner)
{
    *entry = NULL;
    *inner = NULL;
    const char *name;
    PS__FORWARD(ps_multi_key_connector_name(key, &name));
    ps__multi_entry *e = ps__multi_find(m, name);
    PS__RETURN_IF(e == NULL, PS_EINVAL,
                  "multi connector: the connector \"%.100s\" which created key \"%.200s\" does "
                  "not exist",
                  name, ps_key_str(key));
    PS__RETURN_IF(e->conn == NULL, PS_EINVAL,
                  "multi connector: the connector \"%.100s\" associated with key \"%.200s\" is "
                  "dormant (its policy does not match this host)",
                  name, ps_key_str(key));
    ps_status st = ps__key_inner_of(key, inner);
    if (st != PS_OK)
        return ps__preferr(st, "multi connector key \"%.200s\": inner key", ps_key_str(key));
    *entry = e;
    return PS_OK;
}

/* ---- operations -------------------------------------------------------------------- */

/* Append a Python-style tag list "['a', 'b']" to buf. */
static void ps__fmt_tags(char *buf, size_t size, const char *const *tags, size_t n)
{
    size_t len = strlen(buf);
    len += (size_t)snprintf(buf + len, len < size ? size - len : 0, "[");
    for (size_t i = 0; i < n && len < size; i++)
        len += (size_t)snprintf(buf + len, size - len, "%s'%.64s'", i ? ", " : "", tags[i]);
    if (len < size)
        snprintf(buf + len, size - len, "]");
}

static ps_status ps__multi_no_policy(size_t size, const ps_put_options *opts)
{
    char tags[512] = "subset_tags=";
    ps__fmt_tags(tags, sizeof tags, opts ? opts->subset_tags : NULL,
                 opts ? opts->n_subset_tags : 0);
    size_t len = strlen(tags);
    if (len < sizeof tags)
        snprintf(tags + len, sizeof tags - len, ", superset_tags=");
    ps__fmt_tags(tags, sizeof tags, opts ? opts->superset_tags : NULL,
                 opts ? opts->n_superset_tags : 0);
    return ps__seterr(PS_ENOPOLICY,
                      "multi connector: no connector policy was suitable for the constraints: "
                      "size_bytes=%zu, %s",
                      size, tags);
}

/* The first entry, by priority, that takes an object of `size` bytes. A put
 * without tags is decided from the rules cached in the entries. */
static inline __attribute__((always_inline)) ps__multi_entry *
ps__multi_choose(ps__multi *m, size_t size, const ps_put_options *opts)
{
    bool tags = opts && (opts->n_subset_tags > 0 || opts->n_superset_tags > 0);
    for (size_t k = 0; k < m->nslots; k++) {
        const ps__multi_slot *r = &m->slots[k];
        if ((uint64_t)size < r->min_size || (uint64_t)size > r->max_size)
            continue;
        if (tags ? ps__policy_accepts(r->e->policy, (uint64_t)size, opts) : !r->superset)
            return r->e;
    }
    return NULL;
}

/* An object is stored but its key could not be made: evict it and free the
 * inner key, keeping the message of the failure `st`. Out of line, so the
 * put path does not carry its message buffer on the stack. */
__attribute__((noinline, cold)) static void ps__multi_take_back(ps__multi_entry *e, ps_key *inner,
                                                                ps_status st)
{
    char msg[PS__ERRMSG_SIZE];
    snprintf(msg, sizeof msg, "%s", ps_last_error());
    ps_connector_evict(e->conn, inner);
    ps_key_free(inner);
    ps__seterr(st, "%s", msg);
}

static ps_status ps__multi_put(void *priv, const void *data, size_t len, const ps_put_options *opts,
                               ps_key **key)
{
    ps__multi *m = priv;
    ps__multi_entry *e = ps__multi_choose(m, len, opts);
    if (e == NULL)
        return ps__multi_no_policy(len, opts);
    ps_key *inner;
    ps__key_reserve_wrap(&e->wrap); /* the inner key gets room for ours */
    ps_status st = ps__connector_put_routed(e->conn, data, len, opts, &inner);
    ps__key_reserve_clear();
    if (st != PS_OK)
        return ps__preferr(st, "multi connector entry \"%.100s\"", e->name);
    st = ps__multi_make_key(e, inner, key);
    if (st != PS_OK)
        ps__multi_take_back(e, inner, st);
    return st;
}

static ps_status ps__multi_get(void *priv, const ps_key *key, ps_bytes *out)
{
    ps__multi_entry *e;
    const ps_key *inner;
    PS__FORWARD(ps__multi_route(priv, key, &e, &inner));
    ps_status st = ps_connector_get(e->conn, inner, out);
    if (st != PS_OK && st != PS_NOT_FOUND)
        return ps__preferr(st, "multi connector entry \"%.100s\"", e->name);
    return st;
}

static ps_status ps__multi_exists(void *priv, const ps_key *key, bool *exists)
{
    ps__multi_entry *e;
    const ps_key *inner;
    PS__FORWARD(ps__multi_route(priv, key, &e, &inner));
    ps_status st = ps_connector_exists(e->conn, inner, exists);
    if (st != PS_OK)
        return ps__preferr(st, "multi connector entry \"%.100s\"", e->name);
    return PS_OK;
}

static ps_status ps__multi_evict(void *priv, const ps_key *key)
{
    ps__multi_entry *e;
    const ps_key *inner;
    PS__FORWARD(ps__multi_route(priv, key, &e, &inner));
    ps_status st = ps_connector_evict(e->conn, inner);
    if (st != PS_OK)
        return ps__preferr(st, "multi connector entry \"%.100s\"", e->name);
    return PS_OK;
}

/* Scratch arrays for the batch calls, one allocation. */
typedef struct ps__multi_scratch {
    size_t *entry;       /* entry index per item */
    size_t *pos;         /* positions of the items of one entry */
    ps_key **inner;      /* new inner keys of one group (put_batch) */
    const ps_key **view; /* inner keys per item, borrowed from the keys (get_batch) */
    const ps_key **sub;  /* inner keys of one group (get_batch) */
    ps_iov *iov;         /* items of one group (put_batch) */
    ps_bytes *outs;      /* results of one group (get_batch) */
    bool *found;         /* flags of one group (get_batch) */
} ps__multi_scratch;

static void *ps__multi_scratch_new(size_t n, ps__multi_scratch *s)
{
    size_t each = sizeof(size_t) * 2 + sizeof(ps_key *) * 3 + sizeof(ps_iov) + sizeof(ps_bytes) +
                  sizeof(bool);
    if (n == 0 || n > SIZE_MAX / each)
        return NULL;
    unsigned char *p = ps_calloc(n, each);
    if (p == NULL)
        return NULL;
    /* Largest alignment first. */
    s->outs = (ps_bytes *)p;
    s->iov = (ps_iov *)(s->outs + n);
    s->entry = (size_t *)(s->iov + n);
    s->pos = s->entry + n;
    s->inner = (ps_key **)(s->pos + n);
    s->view = (const ps_key **)(s->inner + n);
    s->sub = s->view + n;
    s->found = (bool *)(s->sub + n);
    return p;
}

static ps_status ps__multi_put_batch(void *priv, size_t n, const ps_iov *items,
                                     const ps_put_options *opts, ps_key **keys)
{
    ps__multi *m = priv;
    ps__multi_scratch s;
    void *mem = ps__multi_scratch_new(n, &s);
    if (mem == NULL)
        return ps__seterr(PS_ENOMEM, "multi connector: put_batch of %zu objects: out of memory", n);
    ps_status st = PS_OK;
    /* Place every object on its own first, so nothing is written when one
     * fits no policy. */
    for (size_t i = 0; i < n; i++) {
        ps__multi_entry *e = ps__multi_choose(m, items[i].len, opts);
        if (e == NULL) {
            st = ps__multi_no_policy(items[i].len, opts);
            ps__preferr(st, "put_batch item %zu", i);
            goto out;
        }
        s.entry[i] = (size_t)(e - m->e);
    }
    /* Then one batch per chosen connector. Keys written so far are in
     * keys[], which the core evicts if a later group fails. */
    for (size_t g = 0; g < m->n; g++) {
        size_t cnt = 0;
        for (size_t i = 0; i < n; i++)
            if (s.entry[i] == g) {
                s.pos[cnt] = i;
                s.iov[cnt++] = items[i];
            }
        if (cnt == 0)
            continue;
        ps__multi_entry *e = &m->e[g];
        st = ps_connector_put_batch(e->conn, cnt, s.iov, opts, s.inner);
        if (st != PS_OK) {
            ps__preferr(st, "multi connector entry \"%.100s\"", e->name);
            goto out;
        }
        char msg[PS__ERRMSG_SIZE] = "";
        for (size_t j = 0; j < cnt; j++) {
            if (st == PS_OK) {
                st = ps__multi_make_key(e, s.inner[j], &keys[s.pos[j]]);
                if (st == PS_OK) { /* the new key holds the inner one */
                    s.inner[j] = NULL;
                    continue;
                }
                snprintf(msg, sizeof msg, "%s", ps_last_error());
            }
            ps_connector_evict(e->conn, s.inner[j]); /* not wrapped: remove it here */
            ps_key_free(s.inner[j]);
            s.inner[j] = NULL;
        }
        if (st != PS_OK) {
            ps__seterr(st, "%s", msg);
            goto out;
        }
    }
out:
    ps_free(mem);
    return st;
}

static ps_status ps__multi_get_batch(void *priv, size_t n, const ps_key *const *keys,
                                     ps_bytes *outs, bool *found)
{
    ps__multi *m = priv;
    ps__multi_scratch s;
    void *mem = ps__multi_scratch_new(n, &s);
    if (mem == NULL)
        return ps__seterr(PS_ENOMEM, "multi connector: get_batch of %zu keys: out of memory", n);
    ps_status st = PS_OK;
    for (size_t i = 0; i < n && st == PS_OK; i++) {
        ps__multi_entry *e;
        st = ps__multi_route(m, keys[i], &e, &s.view[i]);
        if (st == PS_OK)
            s.entry[i] = (size_t)(e - m->e);
    }
    for (size_t g = 0; g < m->n && st == PS_OK; g++) {
        size_t cnt = 0;
        for (size_t i = 0; i < n; i++)
            if (s.entry[i] == g) {
                s.pos[cnt] = i;
                s.sub[cnt++] = s.view[i];
            }
        if (cnt == 0)
            continue;
        st = ps_connector_get_batch(m->e[g].conn, cnt, s.sub, s.outs, s.found);
        if (st != PS_OK) {
            ps__preferr(st, "multi connector entry \"%.100s\"", m->e[g].name);
            break;
        }
        for (size_t j = 0; j < cnt; j++) {
            outs[s.pos[j]] = s.outs[j];
            found[s.pos[j]] = s.found[j];
        }
    }
    ps_free(mem);
    return st;
}

const ps_connector_ops ps__connector_multi = {
    .version = PS_CONNECTOR_OPS_VERSION,
    .name = "multi",
    .flags = PS_CONNECTOR_THREADSAFE,
    .open = ps__multi_open,
    .close = ps__multi_close,
    .default_clear = ps__multi_default_clear,
    .config = ps__multi_config,
    .put = ps__multi_put,
    .get = ps__multi_get,
    .exists = ps__multi_exists,
    .evict = ps__multi_evict,
    .put_batch = ps__multi_put_batch,
    .get_batch = ps__multi_get_batch,
};

/* ---- the C API ------------------------------------------------------------------------ */

void ps_multi_options_init(ps_multi_options *o)
{
    if (o != NULL)
        *o = (ps_multi_options){.version = PS_MULTI_OPTIONS_VERSION};
}

ps_status ps_multi_connector_open(const ps_multi_options *opts, ps_connector **out)
{
    PS__TYPED_OPEN_CHECK("ps_multi_connector_open", opts, PS_MULTI_OPTIONS_VERSION, out);
    const ps_multi_entry *entries = opts->entries;
    size_t n = opts->n_entries;
    PS__RETURN_IF(n > 0 && entries == NULL, PS_EINVAL, "ps_multi_connector_open: entries is NULL");
    for (size_t i = 0; i < n; i++) {
        PS__RETURN_IF(entries[i].name == NULL || entries[i].name[0] == '\0', PS_EINVAL,
                      "ps_multi_connector_open: entry %zu has no name", i);
        PS__RETURN_IF(entries[i].connector == NULL, PS_EINVAL,
                      "ps_multi_connector_open: entry \"%.100s\" has no connector",
                      entries[i].name);
        for (size_t j = 0; j < i; j++) {
            PS__RETURN_IF(strcmp(entries[i].name, entries[j].name) == 0, PS_EINVAL,
                          "ps_multi_connector_open: two entries are named \"%.100s\"",
                          entries[i].name);
            PS__RETURN_IF(entries[i].connector == entries[j].connector, PS_EINVAL,
                          "ps_multi_connector_open: entries \"%.100s\" and \"%.100s\" hold the "
                          "same connector",
                          entries[j].name, entries[i].name);
        }
    }
    ps__multi *m;
    PS__FORWARD(ps__multi_alloc(n, &m));
    char host[PS__MULTI_HOST_MAX];
    bool have_host = false;
    ps_status st = PS_OK;
    for (size_t i = 0; i < n && st == PS_OK; i++) {
        ps__multi_entry *e = &m->e[i];
        m->n = i + 1;
        e->name = ps_strdup(entries[i].name);
        if (e->name == NULL) {
            st = PS__ENOMEM("multi connector entry name");
            break;
        }
        if ((st = ps__key_wrap_prepare("multi", e->name, &e->wrap)) != PS_OK)
            break;
        st = entries[i].policy ? ps_multi_policy_dup(entries[i].policy, &e->policy)
                               : ps_multi_policy_new(&e->policy);
        if (st == PS_OK)
            st = ps__multi_host_ok(e->policy, host, &have_host, &e->host_ok);
    }
    /* The instance itself: an empty multi whose entries are then filled in. */
    json_t *shell_opts = st == PS_OK ? json_pack("{s:[]}", "connectors") : NULL;
    if (st == PS_OK && shell_opts == NULL)
        st = PS__ENOMEM("multi connector");
    ps_connector *c = NULL;
    if (st == PS_OK)
        st = ps_connector_open_json(&ps__connector_multi, shell_opts, &c);
    json_decref(shell_opts);
    if (st != PS_OK) {
        ps__multi_free(m, false);
        return st;
    }
    ps__multi *shell = ps_connector_priv(c, &ps__connector_multi);
    /* Swap the filled instance in; the empty one is freed. */
    ps__multi tmp = *shell;
    *shell = *m;
    *m = tmp;
    ps__multi_free(m, false);
    for (size_t i = 0; i < n; i++)
        shell->e[i].conn = entries[i].connector;
    shell->n = n;
    ps__multi_sort(shell);
    *out = c;
    return PS_OK;
}

size_t ps_multi_connector_count(ps_connector *conn)
{
    ps__multi *m = ps_connector_priv(conn, &ps__connector_multi);
    return m ? m->n : 0;
}

ps_status ps_multi_connector_entry(ps_connector *conn, size_t i, const char **name, bool *dormant,
                                   ps_connector **inner)
{
    ps__multi *m = ps_connector_priv(conn, &ps__connector_multi);
    PS__RETURN_IF(m == NULL, PS_EINVAL, "ps_multi_connector_entry: not a multi connector");
    PS__RETURN_IF(i >= m->n, PS_EINVAL,
                  "ps_multi_connector_entry: index %zu out of range (%zu entries)", i, m->n);
    if (name)
        *name = m->e[i].name;
    if (dormant)
        *dormant = m->e[i].conn == NULL;
    if (inner)
        *inner = m->e[i].conn;
    return PS_OK;
}
