/*
 * The pool, the container and pydaos's layout in it. Opening does what
 * pydaos's DCont(pool, cont) and DCont.get/dict do:
 *   daos_init; daos_pool_connect2(pool, RO); daos_cont_open2(cont, RW);
 *   query LAYOUT_TYPE (must be PYTHON) and ROOTS; open the root KV
 *   (roots[0] with the KV_HASHED type bits ORed in); look the namespace up
 *   in the root (a 64-byte record {oid.lo, oid.hi, otype, reserved}); when
 *   absent, allocate an OID the way pydaos does (daos_cont_alloc_oids, hi
 *   from 0, or from 100 when lo is 0), encode it with
 *   daos_obj_generate_oid2(KV_HASHED, class 0) and insert the record with
 *   DAOS_COND_KEY_INSERT; if another client won that race (-DER_EXIST),
 *   look the name up again. Then open the dictionary's KV.
 * Clearing lists the dictionary's keys and removes them in batches.
 */
#include <stdint.h>
#include <string.h>

#include "connectors/daos/daos_internal.h"
#include "core/internal.h"

/* Open the root KV from the container's ROOTS property, checking the layout type. */
static ps_status ps__daos_open_root(ps__daos *d)
{
    const ps__daos_api *api = d->api;
    daos_prop_t *prop = api->daos_prop_alloc(2);
    if (prop == NULL)
        return PS__ENOMEM("daos container properties");
    prop->dpp_entries[0].dpe_type = DAOS_PROP_CO_LAYOUT_TYPE;
    prop->dpp_entries[1].dpe_type = DAOS_PROP_CO_ROOTS;
    int rc = api->daos_cont_query(d->coh, NULL, prop, NULL);
    if (rc != 0) {
        api->daos_prop_free(prop);
        return ps__daos_fail(d, rc, "daos_cont_query", NULL);
    }
    const struct daos_prop_entry *layout = &prop->dpp_entries[0];
    const struct daos_prop_entry *roots = &prop->dpp_entries[1];
    ps_status st = PS_OK;
    daos_obj_id_t root = {0, 0};
    if (layout->dpe_type != DAOS_PROP_CO_LAYOUT_TYPE ||
        (layout->dpe_flags & DAOS_PROP_ENTRY_NOT_SET) ||
        layout->dpe_val != DAOS_PROP_CO_LAYOUT_PYTHON) {
        uint64_t v = (layout->dpe_flags & DAOS_PROP_ENTRY_NOT_SET) ? 0 : layout->dpe_val;
        static const char *const names[] = {"UNKNOWN", "POSIX", "HDF5", "PYTHON"};
        st = ps__seterr(PS_EINVAL,
                        "daos pool \"%s\" container \"%s\": layout type is %s (%llu), not PYTHON "
                        "(3); the DAOS connector (like pydaos) needs a container made with `daos "
                        "cont create %s <label> --type PYTHON`",
                        d->pool, d->cont, v < 4 ? names[v] : "other", (unsigned long long)v,
                        d->pool);
    } else if (roots->dpe_type != DAOS_PROP_CO_ROOTS || roots->dpe_val_ptr == NULL) {
        st = ps__seterr(PS_EPROTO, "daos pool \"%s\" container \"%s\": no ROOTS property", d->pool,
                        d->cont);
    } else {
        memcpy(&root, &((const struct daos_prop_co_roots *)roots->dpe_val_ptr)->cr_oids[0],
               sizeof root);
        if (root.lo == 0 && root.hi == 0)
            st = ps__seterr(PS_EPROTO,
                            "daos pool \"%s\" container \"%s\": the root object id is zero",
                            d->pool, d->cont);
    }
    api->daos_prop_free(prop);
    PS__FORWARD(st);
    /* The root OID has type bits 0; pydaos opens it as a hashed KV. */
    root.hi |= (uint64_t)DAOS_OT_KV_HASHED << 56;
    rc = api->daos_kv_open(d->coh, root, DAOS_OO_RW, &d->root_oh, NULL);
    if (rc != 0)
        return ps__daos_fail(d, rc, "daos_kv_open (root)", NULL);
    return PS_OK;
}

/* Look the namespace up in the root KV. `*present` false when absent. */
static ps_status ps__daos_lookup_ns(ps__daos *d, bool *present)
{
    unsigned char rec[PS__DAOS_ROOT_RECORD_SIZE];
    daos_size_t size = sizeof rec;
    int rc = d->api->daos_kv_get(d->root_oh, DAOS_TX_NONE, 0, d->ns, &size, rec, NULL);
    if (rc == -DER_REC2BIG)
        return ps__seterr(PS_EPROTO,
                          "daos %s/%s: root entry \"%s\" has %llu bytes, not %d: not a pydaos "
                          "dictionary",
                          d->pool, d->cont, d->ns, (unsigned long long)size,
                          PS__DAOS_ROOT_RECORD_SIZE);
    if (rc != 0)
        return ps__daos_fail(d, rc, "daos_kv_get (root entry)", d->ns);
    if (size == 0) {
        *present = false;
        return PS_OK;
    }
    PS__RETURN_IF(size != sizeof rec, PS_EPROTO,
                  "daos %s/%s: root entry \"%s\" has %llu bytes, not %d: not a pydaos dictionary",
                  d->pool, d->cont, d->ns, (unsigned long long)size, PS__DAOS_ROOT_RECORD_SIZE);
    uint32_t otype;
    memcpy(&d->dict_oid.lo, rec + 0, 8);
    memcpy(&d->dict_oid.hi, rec + 8, 8);
    memcpy(&otype, rec + 16, 4);
    PS__RETURN_IF(otype == PS__DAOS_PYDAOS_ARRAY, PS_EINVAL,
                  "daos %s/%s: \"%s\" is a pydaos DArray, not a dictionary", d->pool, d->cont,
                  d->ns);
    PS__RETURN_IF(otype != PS__DAOS_PYDAOS_DICT, PS_EPROTO,
                  "daos %s/%s: root entry \"%s\" has unknown object type %u", d->pool, d->cont,
                  d->ns, otype);
    PS__RETURN_IF(!daos_is_kv(d->dict_oid), PS_EPROTO,
                  "daos %s/%s: root entry \"%s\" names object %llu.%llu, which is not a KV",
                  d->pool, d->cont, d->ns, (unsigned long long)d->dict_oid.hi,
                  (unsigned long long)d->dict_oid.lo);
    *present = true;
    return PS_OK;
}

/*
 * Create the namespace dictionary as pydaos's DCont.dict does. Sets
 * `*raced` when another client inserted the name first.
 */
static ps_status ps__daos_create_ns(ps__daos *d, bool *raced)
{
    const ps__daos_api *api = d->api;
    uint64_t lo = 0;
    int rc = api->daos_cont_alloc_oids(d->coh, 1, &lo, NULL);
    if (rc != 0)
        return ps__daos_fail(d, rc, "daos_cont_alloc_oids", NULL);
    /* pydaos keeps hi < 100 free when lo is 0; one OID per allocation here. */
    daos_obj_id_t oid = {.lo = lo, .hi = lo == 0 ? 100 : 0};
    rc = api->daos_obj_generate_oid2(d->coh, &oid, DAOS_OT_KV_HASHED, OC_UNKNOWN, 0, 0);
    if (rc != 0)
        return ps__daos_fail(d, rc, "daos_obj_generate_oid2", NULL);
    unsigned char rec[PS__DAOS_ROOT_RECORD_SIZE];
    memset(rec, 0, sizeof rec); /* reserved fields zeroed (pydaos leaves garbage) */
    uint32_t otype = PS__DAOS_PYDAOS_DICT;
    memcpy(rec + 0, &oid.lo, 8);
    memcpy(rec + 8, &oid.hi, 8);
    memcpy(rec + 16, &otype, 4);
    rc = api->daos_kv_put(d->root_oh, DAOS_TX_NONE, DAOS_COND_KEY_INSERT, d->ns, sizeof rec, rec,
                          NULL);
    if (rc == -DER_EXIST) {
        *raced = true;
        return PS_OK;
    }
    if (rc != 0)
        return ps__daos_fail(d, rc, "daos_kv_put (root entry)", d->ns);
    *raced = false;
    d->dict_oid = oid;
    return PS_OK;
}

static ps_status ps__daos_open_ns(ps__daos *d)
{
    bool present = false;
    PS__FORWARD(ps__daos_lookup_ns(d, &present));
    if (!present) {
        bool raced = false;
        PS__FORWARD(ps__daos_create_ns(d, &raced));
        if (raced) {
            PS__FORWARD(ps__daos_lookup_ns(d, &present));
            PS__RETURN_IF(!present, PS_EPROTO,
                          "daos %s/%s: root entry \"%s\" exists for insert but not for get",
                          d->pool, d->cont, d->ns);
        }
    }
    int rc = d->api->daos_kv_open(d->coh, d->dict_oid, DAOS_OO_RW, &d->oh, NULL);
    if (rc != 0)
        return ps__daos_fail(d, rc, "daos_kv_open (dictionary)", d->ns);
    return PS_OK;
}

ps_status ps__daos_connect(ps__daos *d)
{
    const ps__daos_api *api = d->api;
    int rc = api->daos_init();
    if (rc != 0)
        return ps__seterr(PS_EUNAVAILABLE, "daos connector: daos_init failed: %s (%d)",
                          ps__daos_errname(api, rc), rc);
    d->inited = true;
    /* A read-only pool handle is enough to open the container read-write (pydaos 2.6). */
    rc = api->daos_pool_connect2(d->pool, NULL, DAOS_PC_RO, &d->poh, NULL, NULL);
    if (rc == -DER_NONEXIST || rc == -DER_INVAL)
        return ps__seterr(PS_EINVAL, "daos pool \"%s\": cannot connect: %s (%d)", d->pool,
                          ps__daos_errname(api, rc), rc);
    if (rc != 0)
        return ps__daos_fail(d, rc, "daos_pool_connect", NULL);
    rc = api->daos_cont_open2(d->poh, d->cont, DAOS_COO_RW, &d->coh, NULL, NULL);
    if (rc == -DER_NONEXIST || rc == -DER_INVAL)
        return ps__seterr(PS_EINVAL, "daos pool \"%s\" container \"%s\": cannot open: %s (%d)",
                          d->pool, d->cont, ps__daos_errname(api, rc), rc);
    if (rc != 0)
        return ps__daos_fail(d, rc, "daos_cont_open", NULL);
    PS__FORWARD(ps__daos_open_root(d));
    return ps__daos_open_ns(d);
}

/*
 * Remove every key of the dictionary: list them all with anchors (as
 * pydaos's DDictIter does), then remove them in batches.
 */
ps_status ps__daos_clear_all(ps__daos *d)
{
    const ps__daos_api *api = d->api;
    daos_key_desc_t *kds = ps_calloc(PS__DAOS_LIST_NR, sizeof *kds);
    size_t cap = PS__DAOS_LIST_BUF;
    char *buf = ps_malloc(cap);
    char **names = NULL;
    size_t nnames = 0, names_cap = 0;
    ps_status st = PS_OK;
    if (kds == NULL || buf == NULL) {
        st = PS__ENOMEM("daos key listing");
        goto out;
    }
    daos_anchor_t anchor;
    daos_anchor_init(&anchor, 0);
    while (!daos_anchor_is_eof(&anchor)) {
        uint32_t nr = PS__DAOS_LIST_NR;
        d_iov_t iov;
        d_iov_set(&iov, buf, cap);
        d_sg_list_t sgl = {.sg_nr = 1, .sg_nr_out = 0, .sg_iovs = &iov};
        int rc = api->daos_kv_list(d->oh, DAOS_TX_NONE, &nr, kds, &sgl, &anchor, NULL);
        if (rc == -DER_KEY2BIG) {
            size_t need = (size_t)kds[0].kd_key_len;
            size_t ncap = need > cap * 2 ? need : cap * 2;
            char *nb = ps_realloc(buf, ncap);
            if (nb == NULL) {
                st = PS__ENOMEM("daos key listing");
                goto out;
            }
            buf = nb;
            cap = ncap;
            continue;
        }
        if (rc != 0) {
            st = ps__daos_fail(d, rc, "daos_kv_list", NULL);
            goto out;
        }
        size_t off = 0;
        for (uint32_t i = 0; i < nr; i++) {
            size_t kl = (size_t)kds[i].kd_key_len;
            if (kl > cap - off) {
                st = ps__seterr(PS_EPROTO,
                                "daos %s/%s/%s: daos_kv_list returned keys past its buffer",
                                d->pool, d->cont, d->ns);
                goto out;
            }
            if (nnames == names_cap) {
                size_t nc = names_cap ? names_cap * 2 : 64;
                char **nn = ps_realloc(names, nc * sizeof *nn);
                if (nn == NULL) {
                    st = PS__ENOMEM("daos key listing");
                    goto out;
                }
                names = nn;
                names_cap = nc;
            }
            char *name = ps_malloc(kl + 1);
            if (name == NULL) {
                st = PS__ENOMEM("daos key listing");
                goto out;
            }
            memcpy(name, buf + off, kl);
            name[kl] = '\0';
            names[nnames++] = name;
            off += kl;
        }
    }
    if (nnames > 0) {
        ps__daos_batch b = {
            .d = d, .kind = PS__DAOS_REMOVE, .n = nnames, .dkeys = (const char *const *)names};
        st = ps__daos_run_batch(&b);
    }
out:
    for (size_t i = 0; i < nnames; i++)
        ps_free(names[i]);
    ps_free(names);
    ps_free(buf);
    ps_free(kds);
    return st;
}
