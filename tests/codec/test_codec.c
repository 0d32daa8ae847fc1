/* Codecs: raw (no copy), zstd, registry. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

static void test_raw_is_zero_copy(void **state)
{
    (void)state;
    const ps_codec *raw = ps_codec_find("raw");
    assert_non_null(raw);
    char data[] = "hello\0world";
    ps_bytes enc = PS_BYTES_INIT, dec = PS_BYTES_INIT;
    PS_ASSERT_OK(ps_codec_encode(raw, data, sizeof data, &enc));
    assert_ptr_equal(enc.data, data);
    assert_int_equal(enc.len, sizeof data);
    ps_bytes_free(&enc);
    ps_bytes owned;
    PS_ASSERT_OK(ps_bytes_copy(data, sizeof data, &owned));
    void *p = owned.data;
    PS_ASSERT_OK(ps_codec_decode(raw, &owned, &dec));
    assert_ptr_equal(dec.data, p); /* moved, not copied */
    assert_null(owned.data);
    assert_memory_equal(dec.data, data, sizeof data);
    ps_bytes_free(&dec);
}

static void round_trip(const ps_codec *c, const void *data, size_t len)
{
    ps_bytes enc = PS_BYTES_INIT, dec = PS_BYTES_INIT;
    PS_ASSERT_OK(ps_codec_encode(c, data, len, &enc));
    PS_ASSERT_OK(ps_bytes_own(&enc));
    PS_ASSERT_OK(ps_codec_decode(c, &enc, &dec));
    assert_int_equal(dec.len, len);
    if (len)
        assert_memory_equal(dec.data, data, len);
    ps_bytes_free(&dec);
}

static void test_zstd(void **state)
{
    (void)state;
    const ps_codec *z = ps_codec_find("zstd");
    assert_non_null(z);
    round_trip(z, "", 0);
    round_trip(z, "abc", 3);
    size_t n = 1 << 20;
    unsigned char *buf = malloc(n);
    pst_fill(buf, n, 7); /* incompressible */
    round_trip(z, buf, n);
    memset(buf, 'a', n); /* very compressible */
    ps_bytes enc = PS_BYTES_INIT;
    PS_ASSERT_OK(ps_codec_encode(z, buf, n, &enc));
    assert_true(enc.len < n / 100);
    ps_bytes_free(&enc);
    round_trip(z, buf, n);
    free(buf);
}

static void test_zstd_rejects_garbage(void **state)
{
    (void)state;
    const ps_codec *z = ps_codec_find("zstd");
    ps_bytes in, out = PS_BYTES_INIT;
    PS_ASSERT_OK(ps_bytes_copy("not zstd at all", 15, &in));
    PS_ASSERT_STATUS(ps_codec_decode(z, &in, &out), PS_ECODEC);
    assert_non_null(strstr(ps_last_error(), "zstd"));
    assert_null(out.data);
    /* A truncated frame. */
    ps_bytes enc = PS_BYTES_INIT;
    char text[4096];
    memset(text, 'q', sizeof text);
    PS_ASSERT_OK(ps_codec_encode(z, text, sizeof text, &enc));
    for (size_t cut = 0; cut < enc.len; cut += 3) {
        PS_ASSERT_OK(ps_bytes_copy(enc.data, cut, &in));
        PS_ASSERT_STATUS(ps_codec_decode(z, &in, &out), PS_ECODEC);
    }
    /* A flipped byte in the payload is caught or decodes to other bytes, never crashes. */
    for (size_t i = 0; i < enc.len; i++) {
        PS_ASSERT_OK(ps_bytes_copy(enc.data, enc.len, &in));
        ((unsigned char *)in.data)[i] ^= 0x5a;
        if (ps_codec_decode(z, &in, &out) == PS_OK)
            ps_bytes_free(&out);
    }
    ps_bytes_free(&enc);
}

static ps_status rev_encode(const void *in, size_t len, ps_bytes *out)
{
    unsigned char *p = ps_malloc(len);
    if (!p)
        return PS_ENOMEM;
    for (size_t i = 0; i < len; i++)
        p[i] = ((const unsigned char *)in)[len - 1 - i];
    out->data = p;
    out->len = len;
    return PS_OK;
}

static ps_status rev_decode(ps_bytes *in, ps_bytes *out)
{
    ps_status st = rev_encode(in->data, in->len, out);
    ps_bytes_free(in);
    return st;
}

static const ps_codec rev = {PS_CODEC_VERSION, "test.reverse", rev_encode, rev_decode};

static void test_register(void **state)
{
    (void)state;
    PS_ASSERT_OK(ps_codec_register(&rev));
    PS_ASSERT_STATUS(ps_codec_register(&rev), PS_EEXIST);
    const ps_codec *c = ps_codec_find("test.reverse");
    assert_ptr_equal(c, &rev);
    round_trip(c, "abcdef", 6);
    static const ps_codec bad_name = {PS_CODEC_VERSION, "bad name", rev_encode, rev_decode};
    static const ps_codec bad_ver = {99, "x", rev_encode, rev_decode};
    static const ps_codec no_fn = {PS_CODEC_VERSION, "nofn", NULL, rev_decode};
    PS_ASSERT_STATUS(ps_codec_register(&bad_name), PS_EINVAL);
    PS_ASSERT_STATUS(ps_codec_register(&bad_ver), PS_EINVAL);
    PS_ASSERT_STATUS(ps_codec_register(&no_fn), PS_EINVAL);
    PS_ASSERT_STATUS(ps_codec_register(NULL), PS_EINVAL);
    assert_null(ps_codec_find("nope"));
    assert_non_null(strstr(ps_last_error(), "nope"));
    assert_null(ps_codec_find(NULL));
    ps_bytes out;
    PS_ASSERT_STATUS(ps_codec_encode(NULL, "a", 1, &out), PS_EINVAL);
    PS_ASSERT_STATUS(ps_codec_encode(c, NULL, 1, &out), PS_EINVAL);
    PS_ASSERT_STATUS(ps_codec_decode(c, NULL, &out), PS_EINVAL);
}

static void test_bytes(void **state)
{
    (void)state;
    ps_bytes b = PS_BYTES_INIT;
    ps_bytes_free(&b);
    ps_bytes_free(NULL);
    static const char s[] = "static";
    ps_bytes_view(s, 6, &b);
    PS_ASSERT_OK(ps_bytes_own(&b));
    assert_ptr_not_equal(b.data, s);
    assert_memory_equal(b.data, "static", 6);
    ps_bytes_free(&b);
    PS_ASSERT_STATUS(ps_bytes_copy(NULL, 3, &b), PS_EINVAL);
    PS_ASSERT_STATUS(ps_bytes_copy("x", 1, NULL), PS_EINVAL);
    PS_ASSERT_OK(ps_bytes_copy(NULL, 0, &b));
    assert_int_equal(b.len, 0);
    ps_bytes_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_raw_is_zero_copy),
        cmocka_unit_test(test_zstd),
        cmocka_unit_test(test_zstd_rejects_garbage),
        cmocka_unit_test(test_register),
        cmocka_unit_test(test_bytes),
    };
    return pst_exit(cmocka_run_group_tests(tests, NULL, NULL));
}
