/*
 * Keys and objects. dkey = the key's UUID text (no NUL), value = the bytes,
 * through daos_kv_put/get/remove, which gives pydaos's akey '0' single-value
 * layout; an empty object is a marker dkey (see ps__daos_store). Batches run
 * on the engine of batch.c.
 */
#include <stdint.h>
#include <string.h>

#include "connectors/daos/daos_internal.h"
#include "core/internal.h"

/* ---- keys ---------------------------------------------------------------------- */

bool ps__daos_utf8_ok(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        unsigned c = *p;
        size_t n;
        unsigned cp;
        if (c < 0x80) {
            p++;
            continue;
        } else if (c >= 0xC2 && c <= 0xDF) {
            n = 1;
            cp = c & 0x1F;
        } else if (c >= 0xE0 && c <= 0xEF) {
            n = 2;
            cp = c & 0x0F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            n = 3;
            cp = c & 0x07;
        } else {
            return false;
        }
        for (size_t i = 1; i <= n; i++) {
            if ((p[i] & 0xC0) != 0x80)
                return false;
            cp = (cp << 6) | (p[i] & 0x3F);
        }
        if ((n == 2 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
            (n == 3 && (cp < 0x10000 || cp > 0x10FFFF)))
            return false;
        p += n + 1;
    }
    return true;
}

char *ps__daos_marker(const char *dkey)
{
    size_t n = strlen(dkey);
    char *m = ps_malloc(n + sizeof PS__DAOS_EMPTY_SUFFIX);
    if (m) {
        memcpy(m, dkey, n);
        memcpy(m + n, PS__DAOS_EMPTY_SUFFIX, sizeof PS__DAOS_EMPTY_SUFFIX);
    }
    return m;
}

/* Check that `key` is one of this connector's; `*dkey` gets its dictionary key. */
static ps_status ps__daos_check_key(const ps__daos *d, const ps_key *key, const char **dkey)
{
    PS__RETURN_IF(ps_key_nfields(key) != 4, PS_EINVAL,
                  "daos connector: malformed key \"%.200s\" (want "
                  "daos:<pool>/<container>/<namespace>/<key>)",
                  ps_key_str(key));
    PS__RETURN_IF(strcmp(ps_key_field(key, 0), d->pool) != 0 ||
                      strcmp(ps_key_field(key, 1), d->cont) != 0 ||
                      strcmp(ps_key_field(key, 2), d->ns) != 0,
                  PS_EINVAL,
                  "daos connector: at least one of the pool, container, or namespace of the key "
                  "\"%.200s\" does not match the connector (pool \"%s\", container \"%s\", "
                  "namespace \"%s\")",
                  ps_key_str(key), d->pool, d->cont, d->ns);
    const char *k = ps_key_field(key, 3);
    PS__RETURN_IF(*k == '\0', PS_EINVAL, "daos connector: key \"%.200s\" has an empty object key",
                  ps_key_str(key));
    PS__RETURN_IF(!ps__daos_utf8_ok(k), PS_EINVAL,
                  "daos connector: key \"%.200s\": the object key is not UTF-8 (pydaos could "
                  "not list the dictionary)",
                  ps_key_str(key));
    size_t kl = strlen(k), sl = sizeof PS__DAOS_EMPTY_SUFFIX - 1;
    PS__RETURN_IF(kl >= sl && memcmp(k + kl - sl, PS__DAOS_EMPTY_SUFFIX, sl) == 0, PS_EINVAL,
                  "daos connector: key \"%.200s\": object keys ending in \"%s\" are reserved "
                  "(empty-object markers)",
                  ps_key_str(key), PS__DAOS_EMPTY_SUFFIX);
    *dkey = k;
    return PS_OK;
}

ps_status ps__daos_new_key(void *priv, ps_key **key)
{
    ps__daos *d = priv;
    char uuid[PS_UUID_STR_LEN + 1];
    PS__FORWARD(ps_uuid4(uuid));
    const char *fields[] = {d->pool, d->cont, d->ns, uuid};
    return ps_key_new("daos", 4, fields, key);
}

/* ---- operations ------------------------------------------------------------------ */

/*
 * Store a value under `dkey`. A DAOS KV cannot hold an empty value (an update
 * of size 0 removes the key, and pydaos reads an empty value as absent), so
 * an empty object is the marker dkey "<dkey>#empty" holding one NUL byte,
 * with `dkey` itself absent: pydaos then sees the key as absent, which is
 * what it makes of an empty value itself. Unless `fresh` (a key never
 * written), the other form is removed, so set() may switch between the two.
 */
static ps_status ps__daos_store(ps__daos *d, const char *dkey, const void *data, size_t len,
                                bool fresh)
{
    char *marker = ps__daos_marker(dkey);
    if (marker == NULL)
        return PS__ENOMEM("daos marker key");
    const char *target = len > 0 ? dkey : marker;
    const char *other = len > 0 ? marker : dkey;
    ps_status st = PS_OK;
    int rc = d->api->daos_kv_put(d->oh, DAOS_TX_NONE, 0, target, len > 0 ? len : 1,
                                 len > 0 ? data : "", NULL);
    if (rc != 0)
        st = ps__daos_fail(d, rc, "daos_kv_put", target);
    if (st == PS_OK && !fresh) {
        rc = d->api->daos_kv_remove(d->oh, DAOS_TX_NONE, 0, other, NULL);
        if (rc != 0 && rc != -DER_NONEXIST)
            st = ps__daos_fail(d, rc, "daos_kv_remove", other);
    }
    ps_free(marker);
    return st;
}

/* Whether the empty-object marker of `dkey` is present. */
static ps_status ps__daos_marker_present(ps__daos *d, const char *dkey, bool *present)
{
    char *marker = ps__daos_marker(dkey);
    if (marker == NULL)
        return PS__ENOMEM("daos marker key");
    daos_size_t size = DAOS_REC_ANY;
    int rc = d->api->daos_kv_get(d->oh, DAOS_TX_NONE, 0, marker, &size, NULL, NULL);
    ps_status st = rc == 0 ? PS_OK : ps__daos_fail(d, rc, "daos_kv_get (size)", marker);
    *present = rc == 0 && size > 0;
    ps_free(marker);
    return st;
}

ps_status ps__daos_put(void *priv, const void *data, size_t len, const ps_put_options *opts,
                       ps_key **key)
{
    (void)opts;
    ps__daos *d = priv;
    ps_key *k = NULL;
    PS__FORWARD(ps__daos_new_key(d, &k));
    ps_status st = ps__daos_store(d, ps_key_field(k, 3), data, len, true);
    if (st != PS_OK) {
        ps_key_free(k);
        return st;
    }
    *key = k;
    return PS_OK;
}

ps_status ps__daos_set(void *priv, const ps_key *key, const void *data, size_t len)
{
    ps__daos *d = priv;
    const char *dkey;
    PS__FORWARD(ps__daos_check_key(d, key, &dkey));
    return ps__daos_store(d, dkey, data, len, false);
}

ps_status ps__daos_get(void *priv, const ps_key *key, ps_bytes *out)
{
    ps__daos *d = priv;
    const char *dkey;
    PS__FORWARD(ps__daos_check_key(d, key, &dkey));
    size_t cap = PS__DAOS_GET_INITIAL;
    unsigned char *buf = ps_malloc(cap);
    if (buf == NULL)
        return PS__ENOMEM("daos get buffer");
    /* The value may be replaced by a larger one between tries: retry a few times. */
    for (int tries = 0; tries < 8; tries++) {
        daos_size_t size = cap;
        int rc = d->api->daos_kv_get(d->oh, DAOS_TX_NONE, 0, dkey, &size, buf, NULL);
        if (rc == -DER_REC2BIG) {
            unsigned char *nb = size > SIZE_MAX ? NULL : ps_realloc(buf, (size_t)size);
            if (nb == NULL) {
                ps_free(buf);
                return ps__seterr(PS_ENOMEM, "daos %s/%s/%s: out of memory reading %llu bytes",
                                  d->pool, d->cont, d->ns, (unsigned long long)size);
            }
            buf = nb;
            cap = (size_t)size;
            continue;
        }
        if (rc != 0) {
            ps_free(buf);
            return ps__daos_fail(d, rc, "daos_kv_get", dkey);
        }
        if (size == 0) {
            ps_free(buf);
            bool empty = false;
            PS__FORWARD(ps__daos_marker_present(d, dkey, &empty));
            return empty ? PS_OK : PS_NOT_FOUND; /* `out` stays empty */
        }
        size_t len = (size_t)size;
        if (len < cap / 2) {
            unsigned char *shrunk = ps_realloc(buf, len);
            if (shrunk)
                buf = shrunk;
        }
        out->data = buf;
        out->len = len;
        out->release = NULL;
        out->opaque = NULL;
        return PS_OK;
    }
    ps_free(buf);
    return ps__seterr(PS_EIO, "daos %s/%s/%s: get key %s: the value kept growing while read",
                      d->pool, d->cont, d->ns, dkey);
}

ps_status ps__daos_exists(void *priv, const ps_key *key, bool *exists)
{
    ps__daos *d = priv;
    const char *dkey;
    PS__FORWARD(ps__daos_check_key(d, key, &dkey));
    /* A NULL buffer asks for the size only. */
    daos_size_t size = DAOS_REC_ANY;
    int rc = d->api->daos_kv_get(d->oh, DAOS_TX_NONE, 0, dkey, &size, NULL, NULL);
    if (rc != 0)
        return ps__daos_fail(d, rc, "daos_kv_get (size)", dkey);
    if (size > 0) {
        *exists = true;
        return PS_OK;
    }
    return ps__daos_marker_present(d, dkey, exists);
}

ps_status ps__daos_evict(void *priv, const ps_key *key)
{
    ps__daos *d = priv;
    const char *dkey;
    PS__FORWARD(ps__daos_check_key(d, key, &dkey));
    int rc = d->api->daos_kv_remove(d->oh, DAOS_TX_NONE, 0, dkey, NULL);
    if (rc != 0 && rc != -DER_NONEXIST)
        return ps__daos_fail(d, rc, "daos_kv_remove", dkey);
    char *marker = ps__daos_marker(dkey);
    if (marker == NULL)
        return PS__ENOMEM("daos marker key");
    rc = d->api->daos_kv_remove(d->oh, DAOS_TX_NONE, 0, marker, NULL);
    ps_status st = PS_OK;
    if (rc != 0 && rc != -DER_NONEXIST)
        st = ps__daos_fail(d, rc, "daos_kv_remove", marker);
    ps_free(marker);
    return st;
}

ps_status ps__daos_put_batch(void *priv, size_t n, const ps_iov *items, const ps_put_options *opts,
                             ps_key **keys)
{
    (void)opts;
    ps__daos *d = priv;
    /* Empty objects go to their marker dkeys (see ps__daos_store). */
    const char **dkeys = ps_calloc(n, sizeof *dkeys);
    char **markers = ps_calloc(n, sizeof *markers);
    ps_iov *vals = ps_calloc(n, sizeof *vals);
    ps_status st = PS_OK;
    if (dkeys == NULL || markers == NULL || vals == NULL)
        st = PS__ENOMEM("daos put_batch keys");
    for (size_t i = 0; i < n && st == PS_OK; i++) {
        st = ps__daos_new_key(d, &keys[i]);
        if (st != PS_OK)
            break;
        vals[i] = items[i];
        dkeys[i] = ps_key_field(keys[i], 3);
        if (items[i].len == 0) {
            markers[i] = ps__daos_marker(dkeys[i]);
            if (markers[i] == NULL)
                st = PS__ENOMEM("daos marker key");
            dkeys[i] = markers[i];
            vals[i].data = "";
            vals[i].len = 1;
        }
    }
    if (st == PS_OK) {
        ps__daos_batch b = {.d = d, .kind = PS__DAOS_PUT, .n = n, .dkeys = dkeys, .items = vals};
        st = ps__daos_run_batch(&b);
    }
    /* On failure the core evicts every keys[i] set here, then frees them. */
    for (size_t i = 0; markers && i < n; i++)
        ps_free(markers[i]);
    ps_free(markers);
    ps_free(vals);
    ps_free(dkeys);
    return st;
}

ps_status ps__daos_get_batch(void *priv, size_t n, const ps_key *const *keys, ps_bytes *outs,
                             bool *found)
{
    ps__daos *d = priv;
    const char **dkeys = ps_calloc(n ? n : 1, sizeof *dkeys);
    if (dkeys == NULL)
        return PS__ENOMEM("daos get_batch keys");
    ps_status st = PS_OK;
    for (size_t i = 0; i < n && st == PS_OK; i++) {
        found[i] = false;
        st = ps__daos_check_key(d, keys[i], &dkeys[i]);
    }
    if (st == PS_OK) {
        ps__daos_batch b = {
            .d = d, .kind = PS__DAOS_GET, .n = n, .dkeys = dkeys, .outs = outs, .found = found};
        st = ps__daos_run_batch(&b);
    }
    if (st != PS_OK) {
        ps_bytes_free_array(outs, n);
        for (size_t i = 0; i < n; i++)
            found[i] = false;
    }
    ps_free(dkeys);
    return st;
}
