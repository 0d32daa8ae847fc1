/* Proxy tokens: round trips, size, and refusal of garbage, truncation and alteration. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "testutil.h"
#include "proxy/proxy_internal.h"

#define UUID "0f8e4c3a-9b1d-4e2f-8a7b-6c5d4e3f2a1b"

/* A file store configuration as the CLI's default store writes it. */
static const char *file_config(const char *dir)
{
    static char buf[2048];
    snprintf(buf, sizeof buf,
             "{\"name\": \"default\", \"connector\": {\"kind\": \"file\", \"options\": "
             "{\"store_dir\": \"%s\", \"clear\": false, \"buffering\": -1}}, \"codec\": \"raw\", "
             "\"cache_size\": 16, \"cache_bytes\": 0, \"metrics\": false, \"populate_target\": "
             "true, \"auto_register\": false}",
             dir);
    return buf;
}

static ps_proxy *make_proxy(const char *config, const char *codec, bool evict)
{
    const char *fields[] = {UUID, "9c1f0e2d3b4a5968"};
    ps_key *key = NULL;
    PS_ASSERT_OK(ps_key_new("file", 2, fields, &key));
    ps_proxy_options o;
    ps_proxy_options_init(&o);
    o.codec = codec;
    o.evict = evict;
    ps_proxy *p = NULL;
    PS_ASSERT_OK(ps_proxy_new(key, config, &o, &p));
    ps_key_free(key);
    return p;
}

static bool token_chars_ok(const char *t)
{
    for (; *t; t++)
        if (!((*t >= 'A' && *t <= 'Z') || (*t >= 'a' && *t <= 'z') || (*t >= '0' && *t <= '9') ||
              *t == '-' || *t == '_' || *t == '.'))
            return false;
    return true;
}

/* Canonical JSON text of `json` (sorted keys, compact). */
static char *canon(const char *json)
{
    json_t *v = json_loads(json, 0, NULL);
    assert_non_null(v);
    char *s = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(v);
    return s;
}

static void test_round_trip(void **state)
{
    (void)state;
    const char *cfg = file_config("/home/alice/.local/share/proxystore/default");
    ps_proxy *p = make_proxy(cfg, "zstd", true);
    char *tok = NULL;
    PS_ASSERT_OK(ps_proxy_encode(p, &tok));
    assert_memory_equal(tok, "ps1.", 4);
    assert_true(token_chars_ok(tok));
    assert_true(strlen(tok) <= 256);
    ps_proxy *q = NULL;
    PS_ASSERT_OK(ps_proxy_decode(tok, &q));
    assert_true(ps_key_equal(ps_proxy_key(p), ps_proxy_key(q)));
    char *a = canon(ps_proxy_store_config(p)), *b = canon(ps_proxy_store_config(q));
    assert_string_equal(a, b);
    free(a);
    free(b);
    assert_string_equal(ps_proxy_codec(q), "zstd");
    assert_true(ps_proxy_evicts(q));
    assert_false(ps_proxy_is_locked(q));
    assert_false(ps_proxy_is_resolved(q));
    assert_string_equal(ps_proxy_store_name(q), "default");
    /* encoding is deterministic */
    char *tok2 = NULL;
    PS_ASSERT_OK(ps_proxy_encode(q, &tok2));
    assert_string_equal(tok, tok2);
    ps_free(tok);
    ps_free(tok2);
    ps_proxy_unref(p);
    ps_proxy_unref(q);
}

static void test_size_budget(void **state)
{
    (void)state;
    /* a long user name under ~/.local/share and a file key with a dir tag */
    const char *cfg =
        file_config("/home/a-rather-long-user-name.with.dots/.local/share/proxystore/default");
    ps_proxy *p = make_proxy(cfg, NULL, false);
    char *tok = NULL;
    PS_ASSERT_OK(ps_proxy_encode(p, &tok));
    print_message("token (%zu bytes): %s\n", strlen(tok), tok);
    assert_true(strlen(tok) <= 256);
    ps_free(tok);
    ps_proxy_unref(p);
    /* a redis store with a custom name */
    const char *rcfg = "{\"name\":\"cli-1a2b3c4d\",\"connector\":{\"kind\":\"redis\",\"options\":"
                       "{\"hostname\":\"node0042.cluster.example.org\",\"port\":6379,\"clear\":"
                       "false}},\"metrics\":true}";
    const char *fields[] = {UUID};
    ps_key *key = NULL;
    PS_ASSERT_OK(ps_key_new("redis", 1, fields, &key));
    PS_ASSERT_OK(ps_proxy_new(key, rcfg, NULL, &p));
    assert_true(ps_proxy_metrics(p));
    PS_ASSERT_OK(ps_proxy_encode(p, &tok));
    print_message("token (%zu bytes): %s\n", strlen(tok), tok);
    assert_true(strlen(tok) <= 256);
    ps_free(tok);
    ps_proxy_unref(p);
    ps_key_free(key);
}

static void test_any_json_round_trips(void **state)
{
    (void)state;
    const char *cfg =
        "{\"name\":\"n\u00e9\",\"connector\":{\"kind\":\"my_kind\",\"options\":{\"a\":[1,-1,"
        "63,64,-9223372036854775808,9223372036854775807,0.5,-1e300,null,true,false,\"\",\"x\"],"
        "\"nested\":{\"deeper\":{\"k\":\"\\u00e9t\\u00e9 \\\"q\\\"\"}},\"\":\"empty "
        "name\",\"kind\":\"file\"}},"
        "\"codec\":\"zstd\",\"cache_size\":0,\"cache_bytes\":123456789,\"metrics\":true,"
        "\"populate_target\":false,\"auto_register\":true}";
    const char *fields[] = {"not a uuid/with slash", "", "abcdef", "ABCDEF", "abc"};
    ps_key *key = NULL;
    PS_ASSERT_OK(ps_key_new("my_kind", 5, fields, &key));
    ps_proxy *p = NULL, *q = NULL;
    PS_ASSERT_OK(ps_proxy_new(key, cfg, NULL, &p));
    char *tok = NULL;
    PS_ASSERT_OK(ps_proxy_encode(p, &tok));
    PS_ASSERT_OK(ps_proxy_decode(tok, &q));
    assert_true(ps_key_equal(key, ps_proxy_key(q)));
    char *a = canon(cfg), *b = canon(ps_proxy_store_config(q));
    assert_string_equal(a, b);
    free(a);
    free(b);
    ps_free(tok);
    ps_proxy_unref(p);
    ps_proxy_unref(q);
    ps_key_free(key);
}

static void test_defaults_restored(void **state)
{
    (void)state;
    /* a minimal configuration decodes with the documented defaults filled in */
    const char *cfg = "{\"name\":\"m\",\"connector\":{\"kind\":\"local\"}}";
    const char *fields[] = {UUID};
    ps_key *key = NULL;
    PS_ASSERT_OK(ps_key_new("local", 1, fields, &key));
    ps_proxy *p = NULL, *q = NULL;
    PS_ASSERT_OK(ps_proxy_new(key, cfg, NULL, &p));
    char *tok = NULL;
    PS_ASSERT_OK(ps_proxy_encode(p, &tok));
    PS_ASSERT_OK(ps_proxy_decode(tok, &q));
    assert_string_equal(ps_proxy_store_config(q),
                        "{\"auto_register\":false,\"cache_bytes\":0,\"cache_size\":16,\"codec\":"
                        "\"raw\",\"connector\":{\"kind\":\"local\"},\"metrics\":false,\"name\":"
                        "\"m\",\"populate_target\":true}");
    char *js = NULL;
    PS_ASSERT_OK(ps_proxy_to_json(q, &js));
    assert_non_null(strstr(js, "\"key\":\"local:" UUID "\""));
    assert_non_null(strstr(js, "\"evict\":false"));
    assert_non_null(strstr(js, "\"codec\":null"));
    ps_free(js);
    ps_free(tok);
    ps_proxy_unref(p);
    ps_proxy_unref(q);
    ps_key_free(key);
}

static void expect_bad(const char *tok)
{
    ps_proxy *q = (ps_proxy *)0x1;
    ps_status st = ps_proxy_decode(tok, &q);
    if (st != PS_EINVAL)
        fail_msg("token \"%s\" gave %s, want PS_EINVAL", tok, ps_status_name(st));
    assert_null(q);
    assert_true(ps_last_error()[0] != '\0');
}

static void test_garbage(void **state)
{
    (void)state;
    const char *bad[] = {"",         "ps1",       "ps1.",          "ps2.AAAA",     "PS1.AAAA",
                         "hello",    "ps1.!!!!",  "ps1.AAAA AAAA", "ps1.A",        "ps1.AAAAAAAAA",
                         " ps1.AAA", "ps1.AAAA=", "ps1.AAAA\n",    "ps1.+/+/+/+/", "ps9.xyz"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        expect_bad(bad[i]);
    ps_proxy *q = NULL;
    PS_ASSERT_STATUS(ps_proxy_decode(NULL, &q), PS_EINVAL);
    PS_ASSERT_STATUS(ps_proxy_decode("ps1.AAAA", NULL), PS_EINVAL);
    ps_proxy_decode("ps2.AAAA", &q);
    assert_non_null(strstr(ps_last_error(), "not supported"));
    /* too long */
    char *big = malloc(PS_PROXY_TOKEN_MAX + 10);
    memcpy(big, "ps1.", 4);
    memset(big + 4, 'A', PS_PROXY_TOKEN_MAX + 4);
    big[PS_PROXY_TOKEN_MAX + 8] = '\0';
    expect_bad(big);
    free(big);
}

static void test_truncated_and_altered(void **state)
{
    (void)state;
    ps_proxy *p =
        make_proxy(file_config("/home/bob/.local/share/proxystore/default"), "zstd", true);
    char *tok = NULL;
    PS_ASSERT_OK(ps_proxy_encode(p, &tok));
    size_t n = strlen(tok);
    char *t = malloc(n + 2);
    for (size_t i = 0; i < n; i++) {
        memcpy(t, tok, i);
        t[i] = '\0';
        expect_bad(t); /* every proper prefix */
    }
    static const char alpha[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    for (size_t i = 0; i < n; i++) {
        for (size_t k = 0; k < sizeof alpha - 1; k += 7) {
            if (alpha[k] == tok[i])
                continue;
            strcpy(t, tok);
            t[i] = alpha[k];
            expect_bad(t); /* every single-character change */
        }
    }
    strcpy(t, tok);
    strcat(t, "A");
    expect_bad(t);
    free(t);
    ps_free(tok);
    ps_proxy_unref(p);
}

/* Build a payload with a valid CRC around `body` (starting after the format byte). */
static ps_status decode_body(const unsigned char *body, size_t n)
{
    unsigned char buf[512];
    assert_true(n + 5 <= sizeof buf);
    buf[0] = PS__TOKEN_FORMAT;
    memcpy(buf + 1, body, n);
    uint32_t c = ps__crc32(buf, n + 1);
    buf[n + 1] = (unsigned char)c;
    buf[n + 2] = (unsigned char)(c >> 8);
    buf[n + 3] = (unsigned char)(c >> 16);
    buf[n + 4] = (unsigned char)(c >> 24);
    ps__token t;
    ps_status st = ps__token_decode_payload(buf, n + 5, &t);
    if (st == PS_OK)
        ps__token_clear(&t);
    return st;
}

static void test_crafted_payloads(void **state)
{
    (void)state;
    /* flags, key type "file" (dict 11), 1 field literal "x",
     * config {connector: {kind: "file"}, name: "n"} (members in byte order) */
    const unsigned char good[] = {0x00, 11, 1, 0x05, 1,  'x', 0x08, 2, 2,
                                  0x08, 1,  3, 0x06, 11, 1,   0x05, 1, 'n'};
    PS_ASSERT_OK(decode_body(good, sizeof good));
    unsigned char b[64];
    /* unknown flag */
    memcpy(b, good, sizeof good);
    b[0] = 0x80;
    PS_ASSERT_STATUS(decode_body(b, sizeof good), PS_EINVAL);
    /* codec flag but no room for a codec */
    b[0] = 0x04;
    PS_ASSERT_STATUS(decode_body(b, sizeof good), PS_EINVAL);
    /* field length past the end */
    memcpy(b, good, sizeof good);
    b[4] = 200;
    PS_ASSERT_STATUS(decode_body(b, sizeof good), PS_EINVAL);
    /* huge varint */
    const unsigned char huge[] = {0x00, 11,   1,    0x05, 0xff, 0xff, 0xff,
                                  0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f};
    PS_ASSERT_STATUS(decode_body(huge, sizeof huge), PS_EINVAL);
    /* zero fields, too many fields */
    memcpy(b, good, sizeof good);
    b[2] = 0;
    PS_ASSERT_STATUS(decode_body(b, sizeof good), PS_EINVAL);
    b[2] = 17;
    PS_ASSERT_STATUS(decode_body(b, sizeof good), PS_EINVAL);
    /* unknown dictionary entry */
    memcpy(b, good, sizeof good);
    b[1] = 250;
    PS_ASSERT_STATUS(decode_body(b, sizeof good), PS_EINVAL);
    /* trailing byte */
    memcpy(b, good, sizeof good);
    b[sizeof good] = 0;
    PS_ASSERT_STATUS(decode_body(b, sizeof good + 1), PS_EINVAL);
    /* members out of order, or repeated */
    const unsigned char order[] = {0x00, 11, 1,   0x05, 1,    'x', 0x08, 2,    1,
                                   0x05, 1,  'n', 2,    0x08, 1,   3,    0x06, 11};
    PS_ASSERT_STATUS(decode_body(order, sizeof order), PS_EINVAL);
    const unsigned char dup[] = {0x00, 11,   1, 0x05, 1, 'x',  0x08, 2,
                                 1,    0x05, 1, 'n',  1, 0x05, 1,    'm'};
    PS_ASSERT_STATUS(decode_body(dup, sizeof dup), PS_EINVAL);
    /* missing connector */
    const unsigned char noconn[] = {0x00, 11, 1, 0x05, 1, 'x', 0x08, 1, 1, 0x05, 1, 'n'};
    PS_ASSERT_STATUS(decode_body(noconn, sizeof noconn), PS_EINVAL);
    /* config not an object */
    const unsigned char notobj[] = {0x00, 11, 1, 0x05, 1, 'x', 0x02};
    PS_ASSERT_STATUS(decode_body(notobj, sizeof notobj), PS_EINVAL);
    /* invalid UTF-8 string */
    memcpy(b, good, sizeof good);
    b[sizeof good - 1] = 0xff;
    PS_ASSERT_STATUS(decode_body(b, sizeof good), PS_EINVAL);
    /* NUL inside a key field */
    memcpy(b, good, sizeof good);
    b[5] = 0;
    PS_ASSERT_STATUS(decode_body(b, sizeof good), PS_EINVAL);
    /* nesting deeper than allowed: arrays of arrays */
    unsigned char deep[128] = {0x00, 11, 1, 0x05, 1, 'x'};
    size_t k = 6;
    for (int i = 0; i < 40; i++) {
        deep[k++] = 0x07;
        deep[k++] = 1;
    }
    deep[k++] = 0x00;
    PS_ASSERT_STATUS(decode_body(deep, k), PS_EINVAL);
    /* unknown value tag */
    memcpy(b, good, sizeof good);
    b[9] = 0x3f;
    PS_ASSERT_STATUS(decode_body(b, sizeof good), PS_EINVAL);
    /* too short */
    ps__token t;
    const unsigned char tiny[] = {1, 0, 0};
    PS_ASSERT_STATUS(ps__token_decode_payload(tiny, sizeof tiny, &t), PS_EINVAL);
    /* format 2 */
    unsigned char f2[] = {2, 0, 0, 0, 0, 0, 0};
    PS_ASSERT_STATUS(ps__token_decode_payload(f2, sizeof f2, &t), PS_EINVAL);
}

static void test_crc_vector(void **state)
{
    (void)state;
    assert_int_equal(ps__crc32("123456789", 9), 0xcbf43926u);
    assert_int_equal(ps__crc32("", 0), 0);
}

static void test_bad_arguments(void **state)
{
    (void)state;
    const char *fields[] = {UUID};
    ps_key *key = NULL;
    ps_proxy *p = (ps_proxy *)0x1;
    PS_ASSERT_OK(ps_key_new("file", 1, fields, &key));
    PS_ASSERT_STATUS(ps_proxy_new(NULL, "{}", NULL, &p), PS_EINVAL);
    assert_null(p);
    PS_ASSERT_STATUS(ps_proxy_new(key, NULL, NULL, &p), PS_EINVAL);
    PS_ASSERT_STATUS(ps_proxy_new(key, "{}", NULL, NULL), PS_EINVAL);
    PS_ASSERT_STATUS(ps_proxy_new(key, "not json", NULL, &p), PS_EINVAL);
    PS_ASSERT_STATUS(
        ps_proxy_new(key, "{\"name\":\"\",\"connector\":{\"kind\":\"file\"}}", NULL, &p),
        PS_EINVAL);
    PS_ASSERT_STATUS(ps_proxy_new(key, "{\"name\":\"x\"}", NULL, &p), PS_EINVAL);
    ps_proxy_options o;
    ps_proxy_options_init(&o);
    o.codec = "no-such-codec";
    PS_ASSERT_STATUS(ps_proxy_new(key, file_config("/tmp"), &o, &p), PS_EINVAL);
    ps_proxy_options_init(&o);
    o.version = 99;
    PS_ASSERT_STATUS(ps_proxy_new(key, file_config("/tmp"), &o, &p), PS_EINVAL);
    ps_proxy_options_init(&o);
    o.lifetime = &o;
    o.evict = true;
    PS_ASSERT_STATUS(ps_proxy_new(key, file_config("/tmp"), &o, &p), PS_EINVAL);
    assert_non_null(strstr(ps_last_error(), "mutually exclusive"));
    o.evict = false;
    PS_ASSERT_STATUS(ps_proxy_new(key, file_config("/tmp"), &o, &p), PS_ENOTSUP);
    char *tok = (char *)0x1;
    PS_ASSERT_STATUS(ps_proxy_encode(NULL, &tok), PS_EINVAL);
    assert_null(tok);
    PS_ASSERT_STATUS(ps_proxy_resolve(NULL, NULL, NULL), PS_EINVAL);
    PS_ASSERT_STATUS(ps_proxy_resolve_async(NULL), PS_EINVAL);
    PS_ASSERT_STATUS(ps_proxy_unlock(NULL), PS_EINVAL);
    assert_null(ps_proxy_key(NULL));
    assert_false(ps_proxy_is_resolved(NULL));
    ps_proxy_unref(NULL);
    assert_null(ps_proxy_ref(NULL));
    ps_key_free(key);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_size_budget),
        cmocka_unit_test(test_any_json_round_trips),
        cmocka_unit_test(test_defaults_restored),
        cmocka_unit_test(test_garbage),
        cmocka_unit_test(test_truncated_and_altered),
        cmocka_unit_test(test_crafted_payloads),
        cmocka_unit_test(test_crc_vector),
        cmocka_unit_test(test_bad_arguments),
    };
    return pst_exit(cmocka_run_group_tests(tests, NULL, NULL));
}
