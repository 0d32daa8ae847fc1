/*
 * DAOS connector tests on the libdaos emulation (loaded with dlopen through
 * PROXYSTORE_DAOS_LIBRARY, the way the real library is loaded):
 * pydaos's on-storage layout (root record bytes, key encoding), namespace
 * creation and the insert race (in-process and across processes), wrong
 * layout type, missing pool/container, option and key refusals, batches
 * with more operations than fit in flight and values larger than the first
 * read buffer, deferred puts, close(clear) over many keys, proxies and
 * connector objects resolved in another (fork+exec'd) process.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "daos_emu.h"
#include "daos_testenv.h"
#include "testutil.h"
#include "proxystore/connectors/daos.h"
#include "proxystore/proxy.h"
#include "proxystore/store.h"
#include "proxystore/sys/connector.h"

static char *g_root;

static ps_connector *open_ns(const char *ns, int clear)
{
    ps_connector *c = NULL;
    PS_ASSERT_OK(ps_connector_open("daos", pstd_options("pool1", "cont1", ns, clear), &c));
    return c;
}

static void expect_bytes(ps_connector *c, const ps_key *k, const void *data, size_t len)
{
    ps_bytes b = PS_BYTES_INIT;
    PS_ASSERT_OK(ps_connector_get(c, k, &b));
    assert_int_equal(b.len, len);
    assert_memory_equal(b.data, data, len);
    ps_bytes_free(&b);
}

static bool exists(ps_connector *c, const ps_key *k)
{
    bool ex = false;
    PS_ASSERT_OK(ps_connector_exists(c, k, &ex));
    return ex;
}

/* Read a whole file of the emulation's store; returns its length or -1. */
static long read_file(const char *path, unsigned char *buf, size_t size)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return -1;
    size_t n = fread(buf, 1, size, f);
    fclose(f);
    return (long)n;
}

static unsigned long long oid_counter(const char *cont)
{
    char path[4096];
    unsigned char buf[64] = {0};
    snprintf(path, sizeof path, "%s/pool1/%s/.oid", g_root, cont);
    assert_true(read_file(path, buf, sizeof buf - 1) > 0);
    return strtoull((char *)buf, NULL, 10);
}

/* Root object of a container in the emulation: lo 0, hi = 1 group | KV_HASHED type. */
#define ROOT_DIR_FMT "%s/pool1/cont1/o.0000000000000000.0800000100000000"

static void test_layout(void **state)
{
    (void)state;
    ps_connector *c = open_ns("layout-ns", 0);
    ps_key *k = NULL;
    PS_ASSERT_OK(ps_connector_put(c, "hello pydaos", 12, NULL, &k));
    /* the key text */
    assert_int_equal(ps_key_nfields(k), 4);
    char want[128];
    snprintf(want, sizeof want, "daos:pool1/cont1/layout-ns/%s", ps_key_field(k, 3));
    assert_string_equal(ps_key_str(k), want);
    assert_true(ps_uuid_is_canonical(ps_key_field(k, 3)));

    /* the root record: exactly 64 bytes {lo, hi, otype=0, reserved zero} */
    char path[4096];
    unsigned char rec[128];
    snprintf(path, sizeof path, ROOT_DIR_FMT "/layout-ns", g_root);
    assert_int_equal(read_file(path, rec, sizeof rec), 64);
    uint64_t lo, hi;
    uint32_t otype;
    memcpy(&lo, rec, 8);
    memcpy(&hi, rec + 8, 8);
    memcpy(&otype, rec + 16, 4);
    assert_int_equal(otype, 0);
    for (int i = 20; i < 64; i++)
        assert_int_equal(rec[i], 0);
    assert_int_equal(hi >> 56, DAOS_OT_KV_HASHED);         /* encoded by daos_obj_generate_oid2 */
    assert_int_equal(hi & 0xffffffffu, lo == 0 ? 100 : 0); /* pydaos's user bits */
    assert_true(lo >= 1);

    /* the dictionary object: dkey = UUID text, value = the bytes */
    snprintf(path, sizeof path, "%s/pool1/cont1/o.%016" PRIx64 ".%016" PRIx64 "/%s", g_root, lo, hi,
             ps_key_field(k, 3));
    unsigned char val[64];
    assert_int_equal(read_file(path, val, sizeof val), 12);
    assert_memory_equal(val, "hello pydaos", 12);

    /* the same through the DAOS API, as pydaos's DCont.get reads it */
    const ps__daos_api *api = pstd_api();
    assert_int_equal(api->daos_init(), 0);
    daos_handle_t poh, coh, roh;
    assert_int_equal(api->daos_pool_connect2("pool1", NULL, DAOS_PC_RO, &poh, NULL, NULL), 0);
    assert_int_equal(api->daos_cont_open2(poh, "cont1", DAOS_COO_RW, &coh, NULL, NULL), 0);
    daos_prop_t *prop = api->daos_prop_alloc(0); /* all properties, as pydaos asks */
    assert_int_equal(api->daos_cont_query(coh, NULL, prop, NULL), 0);
    daos_obj_id_t root = {0, 0};
    for (uint32_t i = 0; i < prop->dpp_nr; i++) {
        if (prop->dpp_entries[i].dpe_type == DAOS_PROP_CO_LAYOUT_TYPE)
            assert_int_equal(prop->dpp_entries[i].dpe_val, DAOS_PROP_CO_LAYOUT_PYTHON);
        if (prop->dpp_entries[i].dpe_type == DAOS_PROP_CO_ROOTS)
            root = ((struct daos_prop_co_roots *)prop->dpp_entries[i].dpe_val_ptr)->cr_oids[0];
    }
    api->daos_prop_free(prop);
    assert_int_equal(root.hi >> 56, 0); /* type bits 0 in the property */
    assert_int_not_equal(root.hi, 0);   /* but not an all-zero OID */
    /* without the KV type bits the root cannot be opened as a KV */
    assert_int_equal(api->daos_kv_open(coh, root, DAOS_OO_RW, &roh, NULL), -DER_INVAL);
    root.hi |= (uint64_t)DAOS_OT_KV_HASHED << 56;
    assert_int_equal(api->daos_kv_open(coh, root, DAOS_OO_RW, &roh, NULL), 0);
    daos_size_t size = 64;
    unsigned char rec2[64];
    assert_int_equal(api->daos_kv_get(roh, DAOS_TX_NONE, 0, "layout-ns", &size, rec2, NULL), 0);
    assert_int_equal(size, 64);
    assert_memory_equal(rec, rec2, 64);
    /* a 63-byte buffer is too small: -DER_REC2BIG with the real size */
    size = 63;
    assert_int_equal(api->daos_kv_get(roh, DAOS_TX_NONE, 0, "layout-ns", &size, rec2, NULL),
                     -DER_REC2BIG);
    assert_int_equal(size, 64);
    /* a missing name reads as size 0 */
    size = 64;
    assert_int_equal(api->daos_kv_get(roh, DAOS_TX_NONE, 0, "no-such-ns", &size, rec2, NULL), 0);
    assert_int_equal(size, 0);
    api->daos_kv_close(roh, NULL);
    api->daos_cont_close(coh, NULL);
    api->daos_pool_disconnect(poh, NULL);
    api->daos_fini();

    /* opening the namespace again reuses the dictionary: no new OID */
    unsigned long long before = oid_counter("cont1");
    ps_connector *c2 = open_ns("layout-ns", 0);
    expect_bytes(c2, k, "hello pydaos", 12);
    assert_int_equal(oid_counter("cont1"), before);
    PS_ASSERT_OK(ps_connector_close(c2, PS_CLEAR_KEEP));
    ps_key_free(k);
    PS_ASSERT_OK(ps_connector_close(c, PS_CLEAR_ALL));
}

/* A namespace name that needs escaping in the emulation is still the raw dkey. */
static void test_namespace_utf8(void **state)
{
    (void)state;
    ps_connector *c = open_ns("d\xc3\xa9j\xc3\xa0 vu", 0);
    char path[4096];
    unsigned char rec[128];
    snprintf(path, sizeof path, ROOT_DIR_FMT "/d%%C3%%A9j%%C3%%A0%%20vu", g_root);
    assert_int_equal(read_file(path, rec, sizeof rec), 64);
    PS_ASSERT_OK(ps_connector_close(c, PS_CLEAR_ALL));
    /* not UTF-8: refused before anything is created */
    ps_connector *bad = NULL;
    PS_ASSERT_STATUS(ps_daos_connector_open(&(ps_daos_options){.version = PS_DAOS_OPTIONS_VERSION,
                                                               .pool = "pool1",
                                                               .container = "cont1",
                                                               .namespace_ = "caf\xe9",
                                                               .clear = false},
                                            &bad),
                     PS_EINVAL);
    assert_null(bad);
    assert_non_null(strstr(ps_last_error(), "UTF-8"));
}

/* The creator's insert loses a race: it must fall back to the winner's entry. */
static void test_insert_race(void **state)
{
    (void)state;
    ps_connector *c = open_ns("race-ns", 0);
    ps_key *k = NULL;
    PS_ASSERT_OK(ps_connector_put(c, "winner", 6, NULL, &k));
    daos_emu_force_absent_gets_fn force = NULL;
    void *sym = pstd_emu_sym("daos_emu_force_absent_gets");
    assert_non_null(sym);
    memcpy(&force, &sym, sizeof sym);
    unsigned long long before = oid_counter("cont1");
    force(1); /* the next lookup of "race-ns" sees nothing */
    ps_connector *c2 = open_ns("race-ns", 0);
    force(0);
    /* it allocated an OID (wasted, as in pydaos) but uses the existing dictionary */
    assert_int_equal(oid_counter("cont1"), before + 1);
    expect_bytes(c2, k, "winner", 6);
    PS_ASSERT_OK(ps_connector_close(c2, PS_CLEAR_KEEP));
    ps_key_free(k);
    PS_ASSERT_OK(ps_connector_close(c, PS_CLEAR_ALL));
}

/* Several processes create the same namespace at once: all end up in one dictionary. */
static void test_insert_race_processes(void **state)
{
    (void)state;
    enum { N = 6 };
    pid_t pids[N];
    char uuids[N][40];
    for (int i = 0; i < N; i++)
        snprintf(uuids[i], sizeof uuids[i], "00000000-0000-4000-8000-%012d", i);
    for (int i = 0; i < N; i++) {
        pids[i] = fork();
        assert_true(pids[i] >= 0);
        if (pids[i] == 0) {
            ps_connector *c = NULL;
            if (ps_connector_open("daos", pstd_options("pool1", "cont1", "multi-race", 0), &c) !=
                PS_OK)
                _exit(2);
            const char *f[] = {"pool1", "cont1", "multi-race", uuids[i]};
            ps_key *k = NULL;
            int rc = ps_key_new("daos", 4, f, &k) == PS_OK &&
                             ps_connector_set(c, k, uuids[i], strlen(uuids[i])) == PS_OK
                         ? 0
                         : 3;
            ps_key_free(k);
            ps_connector_close(c, PS_CLEAR_KEEP);
            _exit(rc);
        }
    }
    for (int i = 0; i < N; i++) {
        int status = 0;
        assert_int_equal(waitpid(pids[i], &status, 0), pids[i]);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
    }
    ps_connector *c = open_ns("multi-race", 0);
    for (int i = 0; i < N; i++) {
        const char *f[] = {"pool1", "cont1", "multi-race", uuids[i]};
        ps_key *k = NULL;
        PS_ASSERT_OK(ps_key_new("daos", 4, f, &k));
        expect_bytes(c, k, uuids[i], strlen(uuids[i]));
        ps_key_free(k);
    }
    PS_ASSERT_OK(ps_connector_close(c, PS_CLEAR_ALL));
}

static void test_wrong_layout(void **state)
{
    (void)state;
    assert_int_equal(pstd_create_cont("pool1", "posix-cont", DAOS_PROP_CO_LAYOUT_POSIX), 0);
    ps_connector *c = NULL;
    PS_ASSERT_STATUS(ps_connector_open("daos", pstd_options("pool1", "posix-cont", "ns", 0), &c),
                     PS_EINVAL);
    assert_null(c);
    assert_non_null(strstr(ps_last_error(), "POSIX"));
    assert_non_null(strstr(ps_last_error(), "--type PYTHON"));
    assert_non_null(strstr(ps_last_error(), "posix-cont"));
    /* a container created without a layout type is refused too */
    assert_int_equal(pstd_create_cont("pool1", "plain-cont", DAOS_PROP_CO_LAYOUT_UNKNOWN), 0);
    PS_ASSERT_STATUS(ps_connector_open("daos", pstd_options("pool1", "plain-cont", "ns", 0), &c),
                     PS_EINVAL);
    assert_non_null(strstr(ps_last_error(), "UNKNOWN"));
}

static void test_missing_pool_container(void **state)
{
    (void)state;
    ps_connector *c = NULL;
    PS_ASSERT_STATUS(ps_connector_open("daos", pstd_options("no-pool", "cont1", "ns", 0), &c),
                     PS_EINVAL);
    assert_non_null(strstr(ps_last_error(), "no-pool"));
    assert_non_null(strstr(ps_last_error(), "DER_NONEXIST"));
    PS_ASSERT_STATUS(ps_connector_open("daos", pstd_options("pool1", "no-cont", "ns", 0), &c),
                     PS_EINVAL);
    assert_non_null(strstr(ps_last_error(), "no-cont"));
    assert_null(c);
}

static void test_by_uuid(void **state)
{
    (void)state;
    char path[4096], pool_uuid[40], cont_uuid[40];
    unsigned char buf[512] = {0};
    snprintf(path, sizeof path, "%s/pool1/.uuid", g_root);
    assert_true(read_file(path, buf, sizeof buf - 1) > 0);
    assert_int_equal(sscanf((char *)buf, "uuid %39s", pool_uuid), 1);
    memset(buf, 0, sizeof buf);
    snprintf(path, sizeof path, "%s/pool1/cont1/.props", g_root);
    assert_true(read_file(path, buf, sizeof buf - 1) > 0);
    assert_int_equal(sscanf((char *)buf, "uuid %39s", cont_uuid), 1);
    /* the same dictionary, reached by UUIDs; keys name the pool as configured */
    ps_connector *by_label = open_ns("uuid-ns", 0);
    ps_connector *by_uuid = NULL;
    PS_ASSERT_OK(
        ps_connector_open("daos", pstd_options(pool_uuid, cont_uuid, "uuid-ns", 0), &by_uuid));
    ps_key *k = NULL;
    PS_ASSERT_OK(ps_connector_put(by_uuid, "via uuid", 8, NULL, &k));
    assert_string_equal(ps_key_field(k, 0), pool_uuid);
    const char *f[] = {"pool1", "cont1", "uuid-ns", ps_key_field(k, 3)};
    ps_key *k2 = NULL;
    PS_ASSERT_OK(ps_key_new("daos", 4, f, &k2));
    expect_bytes(by_label, k2, "via uuid", 8);
    ps_key_free(k2);
    ps_key_free(k);
    PS_ASSERT_OK(ps_connector_close(by_uuid, PS_CLEAR_KEEP));
    PS_ASSERT_OK(ps_connector_close(by_label, PS_CLEAR_ALL));
}

static void test_options(void **state)
{
    (void)state;
    ps_connector *c = NULL;
    PS_ASSERT_STATUS(
        ps_connector_open("daos", "{\"pool\": \"pool1\", \"container\": \"cont1\"}", &c),
        PS_EINVAL);
    assert_non_null(strstr(ps_last_error(), "namespace"));
    PS_ASSERT_STATUS(ps_connector_open("daos", "{}", &c), PS_EINVAL);
    PS_ASSERT_STATUS(ps_connector_open("daos",
                                       "{\"pool\": \"pool1\", \"container\": \"cont1\", "
                                       "\"namespace\": \"x\", \"clear\": 1}",
                                       &c),
                     PS_EINVAL);
    PS_ASSERT_STATUS(ps_connector_open("daos",
                                       "{\"pool\": \"pool1\", \"container\": \"cont1\", "
                                       "\"namespace\": \"x\", \"colour\": \"red\"}",
                                       &c),
                     PS_EINVAL);
    assert_non_null(strstr(ps_last_error(), "colour"));
    assert_null(c);
    /* upstream's class names are accepted as the kind */
    PS_ASSERT_OK(ps_connector_open("proxystore_ex.connectors.daos.DAOSConnector",
                                   pstd_options("pool1", "cont1", "opts-ns", 1), &c));
    char *cfg = NULL;
    PS_ASSERT_OK(ps_connector_config(c, &cfg));
    assert_string_equal(cfg, "{\"kind\":\"daos\",\"options\":{\"clear\":true,\"container\":"
                             "\"cont1\",\"namespace\":\"opts-ns\",\"pool\":\"pool1\"}}");
    ps_free(cfg);
    PS_ASSERT_OK(ps_connector_close(c, PS_CLEAR_DEFAULT));
    /* the C convenience */
    PS_ASSERT_OK(ps_daos_connector_open(&(ps_daos_options){.version = PS_DAOS_OPTIONS_VERSION,
                                                           .pool = "pool1",
                                                           .container = "cont1",
                                                           .namespace_ = "opts-ns",
                                                           .clear = false},
                                        &c));
    assert_string_equal(ps_connector_kind(c), "daos");
    assert_true(ps_connector_is_threadsafe(c));
    assert_true(ps_connector_is_deferrable(c));
    PS_ASSERT_OK(ps_connector_close(c, PS_CLEAR_ALL));
    PS_ASSERT_STATUS(ps_daos_connector_open(&(ps_daos_options){.version = PS_DAOS_OPTIONS_VERSION,
                                                               .pool = NULL,
                                                               .container = "cont1",
                                                               .namespace_ = "x",
                                                               .clear = false},
                                            &c),
                     PS_EINVAL);
}

static void test_foreign_keys(void **state)
{
    (void)state;
    ps_connector *c = open_ns("keys-ns", 0);
    ps_key *k = NULL;
    PS_ASSERT_OK(ps_connector_put(c, "mine", 4, NULL, &k));
    const char *u = ps_key_field(k, 3);
    const char *variants[][4] = {
        {"pool2", "cont1", "keys-ns", u},
        {"pool1", "cont2", "keys-ns", u},
        {"pool1", "cont1", "other-ns", u},
    };
    for (size_t i = 0; i < 3; i++) {
        ps_key *bad = NULL;
        PS_ASSERT_OK(ps_key_new("daos", 4, variants[i], &bad));
        ps_bytes b = PS_BYTES_INIT;
        PS_ASSERT_STATUS(ps_connector_get(c, bad, &b), PS_EINVAL);
        assert_non_null(strstr(ps_last_error(), "does not match"));
        PS_ASSERT_STATUS(ps_connector_evict(c, bad), PS_EINVAL);
        PS_ASSERT_STATUS(ps_connector_set(c, bad, "x", 1), PS_EINVAL);
        ps_key_free(bad);
    }
    /* wrong field count, empty object key, non-UTF-8 object key */
    const char *three[] = {"pool1", "cont1", "keys-ns"};
    const char *empty[] = {"pool1", "cont1", "keys-ns", ""};
    const char *latin1[] = {"pool1", "cont1", "keys-ns", "caf\xe9"};
    ps_key *bad = NULL;
    bool ex = true;
    PS_ASSERT_OK(ps_key_new("daos", 3, three, &bad));
    PS_ASSERT_STATUS(ps_connector_exists(c, bad, &ex), PS_EINVAL);
    ps_key_free(bad);
    PS_ASSERT_OK(ps_key_new("daos", 4, empty, &bad));
    PS_ASSERT_STATUS(ps_connector_exists(c, bad, &ex), PS_EINVAL);
    ps_key_free(bad);
    PS_ASSERT_OK(ps_key_new("daos", 4, latin1, &bad));
    PS_ASSERT_STATUS(ps_connector_exists(c, bad, &ex), PS_EINVAL);
    assert_non_null(strstr(ps_last_error(), "UTF-8"));
    ps_key_free(bad);
    /* a key written by another client (any UTF-8 text) is fine */
    const char *py[] = {"pool1", "cont1", "keys-ns", "written-by-python"};
    PS_ASSERT_OK(ps_key_new("daos", 4, py, &bad));
    PS_ASSERT_OK(ps_connector_set(c, bad, "py", 2));
    expect_bytes(c, bad, "py", 2);
    ps_key_free(bad);
    expect_bytes(c, k, "mine", 4);
    ps_key_free(k);
    PS_ASSERT_OK(ps_connector_close(c, PS_CLEAR_ALL));
}

/* Empty objects: the marker dkey "<uuid>#empty" (one NUL byte), the key itself absent. */
static void test_empty_objects(void **state)
{
    (void)state;
    ps_connector *c = open_ns("empty-ns", 0);
    ps_key *k = NULL;
    PS_ASSERT_OK(ps_connector_put(c, "", 0, NULL, &k));
    assert_true(exists(c, k));
    ps_bytes b = PS_BYTES_INIT;
    PS_ASSERT_OK(ps_connector_get(c, k, &b));
    assert_int_equal(b.len, 0);
    ps_bytes_free(&b);

    /* what pydaos sees: the key is absent, the marker holds one NUL byte */
    const ps__daos_api *api = pstd_api();
    unsigned char rec[64];
    char path[4096];
    snprintf(path, sizeof path, ROOT_DIR_FMT "/empty-ns", g_root);
    assert_int_equal(read_file(path, rec, sizeof rec), 64);
    uint64_t lo, hi;
    memcpy(&lo, rec, 8);
    memcpy(&hi, rec + 8, 8);
    char objdir[2048];
    snprintf(objdir, sizeof objdir, "%s/pool1/cont1/o.%016" PRIx64 ".%016" PRIx64, g_root, lo, hi);
    unsigned char val[8];
    snprintf(path, sizeof path, "%s/%s", objdir, ps_key_field(k, 3));
    assert_int_equal(read_file(path, val, sizeof val), -1);
    snprintf(path, sizeof path, "%s/%s%%23empty", objdir, ps_key_field(k, 3));
    assert_int_equal(read_file(path, val, sizeof val), 1);
    assert_int_equal(val[0], 0);
    (void)api;

    /* set switches between the two forms */
    PS_ASSERT_OK(ps_connector_set(c, k, "full", 4));
    expect_bytes(c, k, "full", 4);
    assert_int_equal(read_file(path, val, sizeof val), -1); /* marker gone */
    PS_ASSERT_OK(ps_connector_set(c, k, NULL, 0));
    assert_true(exists(c, k));
    PS_ASSERT_OK(ps_connector_get(c, k, &b));
    assert_int_equal(b.len, 0);
    snprintf(path, sizeof path, "%s/%s", objdir, ps_key_field(k, 3));
    assert_int_equal(read_file(path, val, sizeof val), -1); /* value gone */

    /* batches: an empty object among others, read back with a missing key */
    ps_iov items[3] = {{"a", 1}, {"", 0}, {"ccc", 3}};
    ps_key *keys[3];
    PS_ASSERT_OK(ps_connector_put_batch(c, 3, items, NULL, keys));
    ps_key *gone = NULL;
    PS_ASSERT_OK(ps_connector_new_key(c, &gone));
    const ps_key *q[4] = {keys[0], keys[1], gone, keys[2]};
    ps_bytes outs[4];
    bool found[4];
    PS_ASSERT_OK(ps_connector_get_batch(c, 4, q, outs, found));
    assert_true(found[0] && found[1] && !found[2] && found[3]);
    assert_int_equal(outs[1].len, 0);
    assert_int_equal(outs[3].len, 3);
    ps_bytes_free_array(outs, 4);

    /* evict removes either form */
    PS_ASSERT_OK(ps_connector_evict(c, k));
    assert_false(exists(c, k));
    PS_ASSERT_STATUS(ps_connector_get(c, k, &b), PS_NOT_FOUND);
    PS_ASSERT_OK(ps_connector_evict(c, keys[1]));
    assert_false(exists(c, keys[1]));

    /* the marker suffix is reserved in object keys */
    const char *f[] = {"pool1", "cont1", "empty-ns", "abc#empty"};
    ps_key *bad = NULL;
    bool ex;
    PS_ASSERT_OK(ps_key_new("daos", 4, f, &bad));
    PS_ASSERT_STATUS(ps_connector_exists(c, bad, &ex), PS_EINVAL);
    ps_key_free(bad);
    ps_key_free(gone);
    ps_key_free_array(keys, 3);
    ps_key_free(k);
    PS_ASSERT_OK(ps_connector_close(c, PS_CLEAR_ALL));
}

/* The conformance "batch" case with non-empty objects, more than 16 of them,
 * and some larger than the first read buffer (64 KiB). */
static void test_batches(void **state)
{
    (void)state;
    ps_connector *c = open_ns("batch-ns", 0);
    enum { N = 40 };
    ps_iov items[N];
    unsigned char *bufs[N];
    for (size_t i = 0; i < N; i++) {
        size_t len = i % 7 == 3 ? 200000 + i : 10 + i * 13;
        bufs[i] = malloc(len);
        assert_non_null(bufs[i]);
        pst_fill(bufs[i], len, (uint32_t)i);
        items[i].data = bufs[i];
        items[i].len = len;
    }
    ps_key *keys[N];
    PS_ASSERT_OK(ps_connector_put_batch(c, N, items, NULL, keys));
    for (size_t i = 0; i < N; i++) {
        assert_non_null(keys[i]);
        for (size_t j = 0; j < i; j++)
            assert_false(ps_key_equal(keys[i], keys[j]));
        expect_bytes(c, keys[i], items[i].data, items[i].len);
    }
    /* reversed, with a missing key in the middle */
    ps_key *gone = NULL;
    PS_ASSERT_OK(ps_connector_new_key(c, &gone));
    const ps_key *q[N + 1];
    for (size_t i = 0; i < N; i++)
        q[i < N / 2 ? i : i + 1] = keys[N - 1 - i];
    q[N / 2] = gone;
    ps_bytes outs[N + 1];
    bool found[N + 1];
    PS_ASSERT_OK(ps_connector_get_batch(c, N + 1, q, outs, found));
    for (size_t i = 0; i < N + 1; i++) {
        if (i == N / 2) {
            assert_false(found[i]);
            assert_int_equal(outs[i].len, 0);
            assert_null(outs[i].data);
            continue;
        }
        size_t src = N - 1 - (i < N / 2 ? i : i - 1);
        assert_true(found[i]);
        assert_int_equal(outs[i].len, items[src].len);
        assert_memory_equal(outs[i].data, items[src].data, items[src].len);
    }
    ps_bytes_free_array(outs, N + 1);
    /* found may be NULL; an empty batch is fine */
    PS_ASSERT_OK(ps_connector_get_batch(c, N, (const ps_key *const *)keys, outs, NULL));
    for (size_t i = 0; i < N; i++)
        assert_int_equal(outs[i].len, items[i].len);
    ps_bytes_free_array(outs, N);
    PS_ASSERT_OK(ps_connector_put_batch(c, 0, NULL, NULL, NULL));
    PS_ASSERT_OK(ps_connector_get_batch(c, 0, NULL, NULL, NULL));
    /* a foreign key fails the whole batch and returns nothing */
    const char *f[] = {"pool1", "cont1", "elsewhere", ps_key_field(keys[0], 3)};
    ps_key *bad = NULL;
    PS_ASSERT_OK(ps_key_new("daos", 4, f, &bad));
    const ps_key *mixed[2] = {keys[0], bad};
    PS_ASSERT_STATUS(ps_connector_get_batch(c, 2, mixed, outs, found), PS_EINVAL);
    ps_key_free(bad);
    for (size_t i = 0; i < N; i++)
        PS_ASSERT_OK(ps_connector_evict(c, keys[i]));
    for (size_t i = 0; i < N; i++)
        assert_false(exists(c, keys[i]));
    ps_key_free(gone);
    ps_key_free_array(keys, N);
    for (size_t i = 0; i < N; i++)
        free(bufs[i]);
    PS_ASSERT_OK(ps_connector_close(c, PS_CLEAR_ALL));
}

/* The conformance "deferred" case without the empty set. */
static void test_deferred(void **state)
{
    (void)state;
    ps_connector *c = open_ns("deferred-ns", 0);
    ps_key *k = NULL, *k2 = NULL;
    PS_ASSERT_OK(ps_connector_new_key(c, &k));
    PS_ASSERT_OK(ps_connector_new_key(c, &k2));
    assert_false(ps_key_equal(k, k2));
    assert_false(exists(c, k));
    PS_ASSERT_OK(ps_connector_set(c, k, "first", 5));
    expect_bytes(c, k, "first", 5);
    assert_false(exists(c, k2));
    size_t big = 300000;
    unsigned char *buf = malloc(big);
    assert_non_null(buf);
    pst_fill(buf, big, 9);
    PS_ASSERT_OK(ps_connector_set(c, k, buf, big)); /* grows past the first read buffer */
    expect_bytes(c, k, buf, big);
    PS_ASSERT_OK(ps_connector_set(c, k, "second", 6));
    expect_bytes(c, k, "second", 6);
    free(buf);
    ps_key_free(k2);
    ps_key_free(k);
    PS_ASSERT_OK(ps_connector_close(c, PS_CLEAR_ALL));
}

/* close(clear) lists the whole dictionary with anchors (several list calls). */
static void test_clear_many(void **state)
{
    (void)state;
    enum { N = 300 };
    ps_connector *c = open_ns("clear-ns", 1); /* clear: true in the configuration */
    ps_connector *keep = open_ns("clear-other", 0);
    ps_iov items[N];
    char text[N][16];
    for (size_t i = 0; i < N; i++) {
        items[i].len = (size_t)snprintf(text[i], sizeof text[i], "object %zu", i);
        items[i].data = text[i];
    }
    ps_key *keys[N];
    PS_ASSERT_OK(ps_connector_put_batch(c, N, items, NULL, keys));
    ps_key *other = NULL;
    PS_ASSERT_OK(ps_connector_put(keep, "stays", 5, NULL, &other));
    /* a key of another client, longer than most */
    const char *f[] = {"pool1", "cont1", "clear-ns", "a-much-longer-key-written-by-someone-else"};
    ps_key *longk = NULL;
    PS_ASSERT_OK(ps_key_new("daos", 4, f, &longk));
    PS_ASSERT_OK(ps_connector_set(c, longk, "x", 1));
    PS_ASSERT_OK(ps_connector_close(c, PS_CLEAR_DEFAULT)); /* clears, as configured */
    ps_connector *c2 = open_ns("clear-ns", 0);
    for (size_t i = 0; i < N; i++)
        assert_false(exists(c2, keys[i]));
    assert_false(exists(c2, longk));
    /* the namespace itself stays, and other namespaces are untouched */
    char path[4096];
    unsigned char rec[128];
    snprintf(path, sizeof path, ROOT_DIR_FMT "/clear-ns", g_root);
    assert_int_equal(read_file(path, rec, sizeof rec), 64);
    expect_bytes(keep, other, "stays", 5);
    PS_ASSERT_OK(ps_connector_close(c2, PS_CLEAR_KEEP));
    PS_ASSERT_OK(ps_connector_close(keep, PS_CLEAR_ALL));
    ps_key_free(longk);
    ps_key_free(other);
    ps_key_free_array(keys, N);
}

static void test_features(void **state)
{
    (void)state;
    const char *detail = NULL;
    assert_true(ps_daos_available(&detail));
    assert_non_null(strstr(detail, "libdaos.so.2"));
    char *info = NULL;
    PS_ASSERT_OK(ps_version_info(&info));
    json_error_t err;
    json_t *j = json_loads(info, 0, &err);
    assert_non_null(j);
    json_t *daos = json_object_get(json_object_get(j, "features"), "daos");
    assert_true(json_is_true(json_object_get(daos, "available")));
    json_decref(j);
    ps_free(info);
}

/* The emulation itself behaves as the spec says libdaos does (the tests above rely on it). */
static void test_emulation_semantics(void **state)
{
    (void)state;
    const ps__daos_api *api = pstd_api();
    daos_handle_t poh, coh, oh, eq;
    assert_int_equal(api->daos_pool_connect2("pool1", NULL, DAOS_PC_RO, &poh, NULL, NULL),
                     -DER_UNINIT);
    assert_int_equal(api->daos_init(), 0);
    assert_int_equal(api->daos_pool_connect2("pool1", NULL, DAOS_PC_RO, &poh, NULL, NULL), 0);
    assert_int_equal(api->daos_cont_open2(poh, "cont1", DAOS_COO_RW, &coh, NULL, NULL), 0);
    uint64_t lo = 0;
    assert_int_equal(api->daos_cont_alloc_oids(coh, 1, &lo, NULL), 0);
    daos_obj_id_t oid = {lo, 0};
    assert_int_equal(api->daos_obj_generate_oid2(coh, &oid, DAOS_OT_KV_HASHED, 0, 0, 0), 0);
    assert_int_equal(api->daos_kv_open(coh, oid, DAOS_OO_RW, &oh, NULL), 0);
    /* conditional flags */
    assert_int_equal(api->daos_kv_put(oh, DAOS_TX_NONE, DAOS_COND_KEY_UPDATE, "k", 1, "a", NULL),
                     -DER_NONEXIST);
    assert_int_equal(api->daos_kv_put(oh, DAOS_TX_NONE, DAOS_COND_KEY_INSERT, "k", 1, "a", NULL),
                     0);
    assert_int_equal(api->daos_kv_put(oh, DAOS_TX_NONE, DAOS_COND_KEY_INSERT, "k", 1, "b", NULL),
                     -DER_EXIST);
    assert_int_equal(api->daos_kv_put(oh, DAOS_TX_NONE, DAOS_COND_KEY_UPDATE, "k", 2, "cd", NULL),
                     0);
    daos_size_t size = 0;
    assert_int_equal(api->daos_kv_get(oh, DAOS_TX_NONE, DAOS_COND_KEY_GET, "zz", &size, NULL, NULL),
                     -DER_NONEXIST);
    assert_int_equal(api->daos_kv_get(oh, DAOS_TX_NONE, 0, "k", &size, NULL, NULL), 0);
    assert_int_equal(size, 2);
    assert_int_equal(api->daos_kv_put(oh, DAOS_TX_NONE, 0, "", 1, "x", NULL), -DER_INVAL);
    assert_int_equal(api->daos_kv_remove(oh, DAOS_TX_NONE, DAOS_COND_PUNCH, "zz", NULL),
                     -DER_NONEXIST);
    assert_int_equal(api->daos_kv_remove(oh, DAOS_TX_NONE, 0, "zz", NULL), 0);
    /* listing: KEY2BIG when the first key does not fit, then anchors to EOF */
    assert_int_equal(api->daos_kv_put(oh, DAOS_TX_NONE, 0, "a-longer-key", 1, "x", NULL), 0);
    assert_int_equal(api->daos_kv_put(oh, DAOS_TX_NONE, 0, "m", 1, "x", NULL), 0);
    daos_key_desc_t kds[2];
    char buf[64];
    d_iov_t iov;
    d_sg_list_t sgl = {1, 0, &iov};
    daos_anchor_t a;
    daos_anchor_init(&a, 0);
    size_t total = 0, calls = 0;
    bool saw_key2big = false;
    size_t cap = 1;
    while (!daos_anchor_is_eof(&a)) {
        uint32_t nr = 2;
        d_iov_set(&iov, buf, cap);
        int rc = api->daos_kv_list(oh, DAOS_TX_NONE, &nr, kds, &sgl, &a, NULL);
        if (rc == -DER_KEY2BIG) {
            saw_key2big = true;
            assert_true(kds[0].kd_key_len > cap);
            cap = sizeof buf;
            continue;
        }
        assert_int_equal(rc, 0);
        total += nr;
        calls++;
    }
    assert_true(saw_key2big);
    assert_int_equal(total, 3);
    assert_true(calls >= 2); /* nr = 2 per call */
    /* an event queue: operations complete asynchronously; poll drains to 0 */
    assert_int_equal(api->daos_eq_create(&eq), 0);
    daos_event_t ev[4];
    daos_size_t sizes[4];
    for (int i = 0; i < 4; i++) {
        assert_int_equal(api->daos_event_init(&ev[i], eq, NULL), 0);
        sizes[i] = 0;
        assert_int_equal(
            api->daos_kv_get(oh, DAOS_TX_NONE, 0, i % 2 ? "k" : "none", &sizes[i], NULL, &ev[i]),
            0);
    }
    int seen = 0;
    for (;;) {
        daos_event_t *evp[4];
        int n = api->daos_eq_poll(eq, 1, DAOS_EQ_WAIT, 4, evp);
        assert_true(n >= 0);
        if (n == 0)
            break;
        for (int j = 0; j < n; j++)
            assert_int_equal(evp[j]->ev_error, 0);
        seen += n;
    }
    assert_int_equal(seen, 4);
    for (int i = 0; i < 4; i++) {
        assert_int_equal(sizes[i], i % 2 ? 2 : 0);
        assert_int_equal(api->daos_event_fini(&ev[i]), 0);
    }
    assert_int_equal(api->daos_eq_destroy(eq, 0), 0);
    /* stale handles */
    assert_int_equal(api->daos_kv_close(oh, NULL), 0);
    assert_int_equal(api->daos_kv_close(oh, NULL), -DER_NO_HDL);
    assert_int_equal(api->daos_kv_get(oh, DAOS_TX_NONE, 0, "k", &size, NULL, NULL), -DER_NO_HDL);
    assert_int_equal(api->daos_cont_close(coh, NULL), 0);
    assert_int_equal(api->daos_pool_disconnect(poh, NULL), 0);
    assert_int_equal(api->daos_fini(), 0);
}

/* ---- another process ------------------------------------------------------------------ */

static int run_child(const char *mode, const char *a1, const char *a2, const char *a3,
                     const char *a4)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        execl("/proc/self/exe", "test_daos_connector", mode, a1, a2, a3, a4, (char *)NULL);
        _exit(127);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

/* Child: open a connector from the configuration and check one object. */
static int child_get(const char *config, const char *keytext, const char *len, const char *seed)
{
    json_error_t err;
    json_t *cfg = json_loads(config, 0, &err);
    ps_connector *c = NULL;
    ps_key *k = NULL;
    if (cfg == NULL || ps_connector_from_config_json(cfg, &c) != PS_OK ||
        ps_key_parse(keytext, &k) != PS_OK) {
        fprintf(stderr, "child: %s\n", ps_last_error());
        return 2;
    }
    json_decref(cfg);
    size_t n = strtoul(len, NULL, 10);
    unsigned char *want = malloc(n);
    pst_fill(want, n, (uint32_t)strtoul(seed, NULL, 10));
    ps_bytes b = PS_BYTES_INIT;
    int rc =
        ps_connector_get(c, k, &b) == PS_OK && b.len == n && memcmp(b.data, want, n) == 0 ? 0 : 1;
    /* and write one back for the parent */
    if (rc == 0 && ps_connector_set(c, k, "from the child", 14) != PS_OK)
        rc = 4;
    ps_bytes_free(&b);
    free(want);
    ps_key_free(k);
    ps_connector_close(c, PS_CLEAR_KEEP);
    return rc;
}

/* Child: resolve a proxy token. */
static int child_resolve(const char *token, const char *len, const char *seed)
{
    ps_proxy *p = NULL;
    if (ps_proxy_decode(token, &p) != PS_OK) {
        fprintf(stderr, "child: %s\n", ps_last_error());
        return 2;
    }
    size_t n = strtoul(len, NULL, 10);
    unsigned char *want = malloc(n);
    pst_fill(want, n, (uint32_t)strtoul(seed, NULL, 10));
    const void *data = NULL;
    size_t got = 0;
    ps_status st = ps_proxy_resolve(p, &data, &got);
    int rc = st == PS_OK && got == n && memcmp(data, want, n) == 0 ? 0 : 1;
    if (st != PS_OK)
        fprintf(stderr, "child: resolve: %s\n", ps_last_error());
    free(want);
    ps_proxy_unref(p);
    return rc;
}

static void test_cross_process_connector(void **state)
{
    (void)state;
    ps_connector *c = open_ns("xproc-ns", 0);
    size_t n = 150000;
    unsigned char *buf = malloc(n);
    pst_fill(buf, n, 42);
    ps_key *k = NULL;
    PS_ASSERT_OK(ps_connector_put(c, buf, n, NULL, &k));
    char *cfg = NULL;
    PS_ASSERT_OK(ps_connector_config(c, &cfg));
    char len[32];
    snprintf(len, sizeof len, "%zu", n);
    assert_int_equal(run_child("--get", cfg, ps_key_str(k), len, "42"), 0);
    expect_bytes(c, k, "from the child", 14);
    /* a wrong expectation makes the child fail (the check can fail) */
    assert_int_equal(run_child("--get", cfg, ps_key_str(k), len, "42"), 1);
    ps_free(cfg);
    ps_key_free(k);
    free(buf);
    PS_ASSERT_OK(ps_connector_close(c, PS_CLEAR_ALL));
}

static void test_cross_process_proxy(void **state)
{
    (void)state;
    ps_connector *c = open_ns("proxy-ns", 0);
    ps_store *s = NULL;
    PS_ASSERT_OK(ps_store_new("daos-proxy-test", c, NULL, &s));
    size_t n = 70000;
    unsigned char *buf = malloc(n);
    pst_fill(buf, n, 7);
    ps_proxy *p = NULL;
    PS_ASSERT_OK(ps_store_proxy(s, buf, n, NULL, &p));
    char *token = NULL;
    PS_ASSERT_OK(ps_proxy_encode(p, &token));
    char len[32];
    snprintf(len, sizeof len, "%zu", n);
    assert_int_equal(run_child("--resolve", token, len, "7", ""), 0);
    assert_int_equal(run_child("--resolve", token, len, "8", ""), 1);
    ps_free(token);
    ps_proxy_unref(p);
    free(buf);
    PS_ASSERT_OK(ps_store_close(s, PS_CLEAR_ALL));
}

int main(int argc, char **argv)
{
    if (argc == 6 && strcmp(argv[1], "--get") == 0)
        return child_get(argv[2], argv[3], argv[4], argv[5]);
    if (argc >= 5 && strcmp(argv[1], "--resolve") == 0)
        return child_resolve(argv[2], argv[3], argv[4]);
    g_root = pstd_setup("daos");
    if (g_root == NULL)
        return 1;
    if (pstd_create_cont("pool1", "cont1", DAOS_PROP_CO_LAYOUT_PYTHON) != 0) {
        fprintf(stderr, "cannot create the test container\n");
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_layout),
        cmocka_unit_test(test_namespace_utf8),
        cmocka_unit_test(test_insert_race),
        cmocka_unit_test(test_insert_race_processes),
        cmocka_unit_test(test_wrong_layout),
        cmocka_unit_test(test_missing_pool_container),
        cmocka_unit_test(test_by_uuid),
        cmocka_unit_test(test_options),
        cmocka_unit_test(test_foreign_keys),
        cmocka_unit_test(test_empty_objects),
        cmocka_unit_test(test_batches),
        cmocka_unit_test(test_deferred),
        cmocka_unit_test(test_clear_many),
        cmocka_unit_test(test_features),
        cmocka_unit_test(test_emulation_semantics),
        cmocka_unit_test(test_cross_process_connector),
        cmocka_unit_test(test_cross_process_proxy),
    };
    int failed = cmocka_run_group_tests_name("daos.connector", tests, NULL, NULL);
    pst_rmtree(g_root);
    free(g_root);
    return pst_exit(failed);
}
