/* The "proxystore" codec: byte-exact vectors from upstream's serialize.py (spec section 3). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "proxystore/connectors/file.h"

static const ps_codec *codec(void)
{
    const ps_codec *c = ps_codec_find("proxystore");
    assert_non_null(c);
    return c;
}

/* Decode a copy of `n` bytes; returns the status, fills `out`. */
static ps_status decode(const void *data, size_t n, ps_bytes *out)
{
    ps_bytes in = PS_BYTES_INIT;
    PS_ASSERT_OK(ps_bytes_copy(data, n, &in));
    return ps_codec_decode(codec(), &in, out);
}

static void expect_payload(const char *data, size_t n, const char *want, size_t wn)
{
    ps_bytes out = PS_BYTES_INIT;
    PS_ASSERT_OK(decode(data, n, &out));
    assert_int_equal(out.len, wn);
    if (wn)
        assert_memory_equal(out.data, want, wn);
    ps_bytes_free(&out);
}

static void expect_ecodec(const char *data, size_t n, const char *msg_part)
{
    ps_bytes out = PS_BYTES_INIT;
    PS_ASSERT_STATUS(decode(data, n, &out), PS_ECODEC);
    assert_null(out.data);
    if (msg_part && strstr(ps_last_error(), msg_part) == NULL)
        fail_msg("message \"%s\" lacks \"%s\"", ps_last_error(), msg_part);
}

static void test_encode_vector(void **state)
{
    (void)state;
    /* upstream: serialize(b'abc') == 42 53 0A 61 62 63 */
    ps_bytes out = PS_BYTES_INIT;
    PS_ASSERT_OK(ps_codec_encode(codec(), "abc", 3, &out));
    const unsigned char want[] = {0x42, 0x53, 0x0a, 0x61, 0x62, 0x63};
    assert_int_equal(out.len, sizeof want);
    assert_memory_equal(out.data, want, sizeof want);
    ps_bytes_free(&out);
    PS_ASSERT_OK(ps_codec_encode(codec(), NULL, 0, &out));
    assert_int_equal(out.len, 3);
    assert_memory_equal(out.data, "BS\n", 3);
    ps_bytes_free(&out);
}

static void test_decode_vectors(void **state)
{
    (void)state;
    expect_payload("BS\nabc", 6, "abc", 3);
    /* 'hi' -> 55 53 0A 68 69 */
    expect_payload("\x55\x53\x0a\x68\x69", 5, "hi", 2);
    /* b'BS' without a newline is b'' */
    expect_payload("BS", 2, "", 0);
    expect_payload("BS\n", 3, "", 0);
    /* whitespace around the identifier is tolerated */
    expect_payload(" BS \nabc", 8, "abc", 3);
    expect_payload("\tUS\r\nh\xc3\xa9", 8, "h\xc3\xa9", 3);
    /* v0.6.5 identifiers */
    expect_payload("01\nraw", 6, "raw", 3);
    expect_payload("02\ntext", 7, "text", 4);
    /* binary payload with NULs and newlines kept exactly */
    const char bin[] = "BS\n\x00\n\xff\x00";
    expect_payload(bin, sizeof bin - 1, "\x00\n\xff\x00", 4);
}

static void test_round_trip_large(void **state)
{
    (void)state;
    size_t n = 1 << 20;
    unsigned char *buf = test_malloc(n);
    pst_fill(buf, n, 7);
    ps_bytes enc = PS_BYTES_INIT, dec = PS_BYTES_INIT;
    PS_ASSERT_OK(ps_codec_encode(codec(), buf, n, &enc));
    PS_ASSERT_OK(ps_codec_decode(codec(), &enc, &dec));
    assert_int_equal(dec.len, n);
    assert_memory_equal(dec.data, buf, n);
    ps_bytes_free(&dec);
    test_free(buf);
}

static void test_python_only(void **state)
{
    (void)state;
    /* [1,2,3] pickled by upstream */
    const unsigned char pk[] = {0x50, 0x4b, 0x0a, 0x80, 0x05, 0x95, 0x0b, 0x00, 0x00,
                                0x00, 0x00, 0x00, 0x00, 0x00, 0x5d, 0x94, 0x28, 0x4b,
                                0x01, 0x4b, 0x02, 0x4b, 0x03, 0x65, 0x2e};
    expect_ecodec((const char *)pk, sizeof pk, "b'PK'");
    const char *ids[] = {"CP\nx", "NP\nx", "PD\nx", "PL\nx", "03\nx", "04\nx"};
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++)
        expect_ecodec(ids[i], 4, "C cannot decode");
}

static void test_unknown_and_malformed(void **state)
{
    (void)state;
    expect_ecodec("xxx", 3, "Unknown identifier b'xxx'");
    expect_ecodec("99\nxxx", 6, "Unknown identifier b'99'");
    expect_ecodec("", 0, "Unknown identifier b''");
    expect_ecodec("\n", 1, "Unknown identifier");
    expect_ecodec("B\nS", 3, "Unknown identifier b'B'");
    expect_ecodec("\x01\xff\nabc", 6, "\\x01\\xff");
    /* strings must be UTF-8 */
    expect_ecodec("US\n\xff", 4, "UTF-8");
    expect_ecodec("US\n\xc3", 4, "UTF-8");
    expect_ecodec("US\n\xed\xa0\x80", 6, "UTF-8");     /* surrogate */
    expect_ecodec("US\n\xc0\xaf", 5, "UTF-8");         /* overlong */
    expect_ecodec("02\n\xf4\x90\x80\x80", 7, "UTF-8"); /* > U+10FFFF */
    expect_payload("US\n\xf0\x9f\x98\x80", 7, "\xf0\x9f\x98\x80", 4);
}

/* Files exactly as upstream's FileConnector writes them (<dir>/<uuid> holding
 * serialize(b'...') and an empty <dir>/<uuid>.ready), read through a store with
 * the proxystore codec; and what C writes is byte for byte what Python reads. */
static void test_file_interop(void **state)
{
    (void)state;
    char *dir = pst_mkdtemp("pscodec");
    const char *uuid = "6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b";
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, uuid);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fwrite("BS\nfrom python\0\xff", 1, 16, f); /* serialize(b'from python\x00\xff') */
    fclose(f);
    snprintf(path, sizeof path, "%s/%s.ready", dir, uuid);
    f = fopen(path, "wb");
    assert_non_null(f);
    fclose(f);

    ps_connector *c = NULL;
    PS_ASSERT_OK(ps_file_connector_open(
        &(ps_file_options){.version = PS_FILE_OPTIONS_VERSION, .store_dir = dir, .clear = false},
        &c));
    ps_key *key = NULL;
    PS_ASSERT_OK(ps_file_key_from_uuid(c, uuid, &key));
    ps_store_options o;
    ps_store_options_init(&o);
    o.codec = "proxystore";
    ps_store *s = NULL;
    PS_ASSERT_OK(ps_store_new("pscodec", c, &o, &s));
    ps_bytes b = PS_BYTES_INIT;
    PS_ASSERT_OK(ps_store_get(s, key, NULL, &b));
    assert_int_equal(b.len, 13);
    assert_memory_equal(b.data, "from python\0\xff", 13);
    ps_bytes_free(&b);
    ps_key_free(key);

    /* C writes: the data file holds exactly b'BS\n' + the bytes */
    PS_ASSERT_OK(ps_store_put(s, "from C", 6, NULL, &key));
    snprintf(path, sizeof path, "%s/%s", dir, ps_key_field(key, 0));
    f = fopen(path, "rb");
    assert_non_null(f);
    char buf[32];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    assert_int_equal(n, 9);
    assert_memory_equal(buf, "BS\nfrom C", 9);
    ps_key_free(key);
    ps_store_close(s, PS_CLEAR_KEEP);
    pst_rmtree(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_encode_vector),         cmocka_unit_test(test_decode_vectors),
        cmocka_unit_test(test_round_trip_large),      cmocka_unit_test(test_python_only),
        cmocka_unit_test(test_unknown_and_malformed), cmocka_unit_test(test_file_interop),
    };
    return pst_exit(cmocka_run_group_tests(tests, NULL, NULL));
}
