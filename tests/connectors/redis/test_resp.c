/*
 * The redis connector's RESP2 reader and writer (src/connectors/redis/resp.c)
 * on byte buffers, no server: every reply type, nested arrays, replies split
 * over many reads, bulk strings read around the buffer, and malformed input,
 * which must give a status with a message and leave nothing allocated.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "connectors/redis/resp.h"

#define WHERE "test:1"
#define WHAT  "TEST"

/* Read sizes every input is fed with: all at once, then in small pieces. */
static const size_t g_steps[] = {0, 1, 2, 3, 7, 64};
#define NSTEPS (sizeof g_steps / sizeof g_steps[0])

/* A reader over `len` bytes of `data`, handed out `step` bytes at a time. */
typedef struct src {
    ps__resp_mem mem;
    ps__resp_reader rd;
} src;

static void src_open(src *s, const char *data, size_t len, size_t step, size_t cap)
{
    s->mem = (ps__resp_mem){data, len, 0, step};
    PS_ASSERT_OK(ps__resp_reader_init(&s->rd, cap, WHERE, ps__resp_mem_recv, &s->mem));
}

static void src_close(src *s)
{
    ps__resp_reader_free(&s->rd);
}

/* Parse one reply from `text` (NUL-terminated) with every read size; each
 * must consume all the input. The last parse stays in `rep`. */
static void parse_ok(const char *text, ps__resp_reply *rep)
{
    for (size_t i = 0; i < NSTEPS; i++) {
        src s;
        src_open(&s, text, strlen(text), g_steps[i], PS__RESP_READ_BUF);
        if (i > 0)
            ps__resp_reply_clear(rep);
        PS_ASSERT_OK(ps__resp_read(&s.rd, WHAT, rep));
        assert_int_equal(s.mem.pos, s.mem.len);
        assert_int_equal(ps__resp_reader_unread(&s.rd), 0);
        src_close(&s);
    }
}

/* Every read size gives `want` with a message holding `why`, and nothing is
 * left in the reply. */
static void parse_bad_len(const char *data, size_t len, size_t cap, ps_status want, const char *why)
{
    for (size_t i = 0; i < NSTEPS; i++) {
        src s;
        src_open(&s, data, len, g_steps[i], cap);
        ps__resp_reply rep;
        memset(&rep, 0xa5, sizeof rep);
        ps_clear_error();
        PS_ASSERT_STATUS(ps__resp_read(&s.rd, WHAT, &rep), want);
        const char *msg = ps_last_error();
        if (strncmp(msg, "redis " WHERE ": " WHAT ": ", strlen("redis " WHERE ": " WHAT ": ")) !=
                0 ||
            strstr(msg, why) == NULL)
            fail_msg("input %.40s (read size %zu): message \"%s\", want one with \"%s\"", data,
                     g_steps[i], msg, why);
        assert_null(rep.str);
        assert_null(rep.elems);
        assert_int_equal(rep.n, 0);
        src_close(&s);
    }
}

static void parse_bad(const char *text, ps_status want, const char *why)
{
    parse_bad_len(text, strlen(text), PS__RESP_READ_BUF, want, why);
}

/* ---- well-formed replies ------------------------------------------------------- */

static void test_simple_types(void **state)
{
    (void)state;
    ps__resp_reply r;
    parse_ok("+OK\r\n", &r);
    assert_int_equal(r.type, PS__RESP_STATUS);
    assert_string_equal(r.str, "OK");
    assert_int_equal(r.len, 2);
    ps__resp_reply_clear(&r);

    parse_ok("-ERR wrong number of arguments\r\n", &r);
    assert_int_equal(r.type, PS__RESP_ERROR);
    assert_string_equal(r.str, "ERR wrong number of arguments");
    ps__resp_reply_clear(&r);

    parse_ok("+\r\n", &r); /* an empty status */
    assert_int_equal(r.type, PS__RESP_STATUS);
    assert_string_equal(r.str, "");
    ps__resp_reply_clear(&r);

    parse_ok(":42\r\n", &r);
    assert_int_equal(r.type, PS__RESP_INT);
    assert_true(r.integer == 42);
    ps__resp_reply_clear(&r);

    parse_ok(":-9223372036854775808\r\n", &r);
    assert_int_equal(r.type, PS__RESP_INT);
    assert_true(r.integer == (-9223372036854775807LL - 1));
    ps__resp_reply_clear(&r);

    parse_ok("$-1\r\n", &r);
    assert_int_equal(r.type, PS__RESP_NIL);
    assert_null(r.str);
    ps__resp_reply_clear(&r);

    parse_ok("*-1\r\n", &r);
    assert_int_equal(r.type, PS__RESP_NIL);
    ps__resp_reply_clear(&r);
}

static void test_bulk(void **state)
{
    (void)state;
    ps__resp_reply r;
    parse_ok("$5\r\nhello\r\n", &r);
    assert_int_equal(r.type, PS__RESP_BULK);
    assert_int_equal(r.len, 5);
    assert_memory_equal(r.str, "hello", 6); /* NUL-terminated */
    ps__resp_reply_clear(&r);

    parse_ok("$0\r\n\r\n", &r);
    assert_int_equal(r.type, PS__RESP_BULK);
    assert_int_equal(r.len, 0);
    assert_non_null(r.str);
    assert_string_equal(r.str, "");
    ps__resp_reply_clear(&r);

    /* Binary bytes, CRLF and NUL inside. */
    static const char bin[] = "$6\r\na\r\n\0b\xff\r\n";
    for (size_t i = 0; i < NSTEPS; i++) {
        src s;
        src_open(&s, bin, sizeof bin - 1, g_steps[i], PS__RESP_READ_BUF);
        PS_ASSERT_OK(ps__resp_read(&s.rd, WHAT, &r));
        assert_int_equal(r.type, PS__RESP_BULK);
        assert_int_equal(r.len, 6);
        assert_memory_equal(r.str, "a\r\n\0b\xff", 6);
        ps__resp_reply_clear(&r);
        src_close(&s);
    }
}

/* Bulk strings larger than the reader's buffer: the rest is read straight
 * into the result, never past the reply. */
static void test_bulk_around_buffer(void **state)
{
    (void)state;
    const size_t sizes[] = {7, 8, 9, 15, 16, 17, 100, 4096};
    for (size_t z = 0; z < sizeof sizes / sizeof sizes[0]; z++) {
        size_t n = sizes[z];
        char *value = malloc(n);
        assert_non_null(value);
        pst_fill(value, n, (uint32_t)n);
        /* "$<n>\r\n<value>\r\n:7\r\n": the integer after it must still parse. */
        char head[32];
        int h = snprintf(head, sizeof head, "$%zu\r\n", n);
        size_t len = (size_t)h + n + 2 + 4;
        char *in = malloc(len);
        assert_non_null(in);
        memcpy(in, head, (size_t)h);
        memcpy(in + h, value, n);
        memcpy(in + (size_t)h + n, "\r\n:7\r\n", 6);
        for (size_t i = 0; i < NSTEPS; i++) {
            src s;
            src_open(&s, in, len, g_steps[i], 16);
            ps__resp_reply r[2];
            PS_ASSERT_OK(ps__resp_read_n(&s.rd, WHAT, r, 2));
            assert_int_equal(r[0].type, PS__RESP_BULK);
            assert_int_equal(r[0].len, n);
            assert_memory_equal(r[0].str, value, n);
            assert_int_equal(r[1].type, PS__RESP_INT);
            assert_true(r[1].integer == 7);
            assert_int_equal(ps__resp_reader_unread(&s.rd), 0);
            ps__resp_reply_clear(&r[0]);
            ps__resp_reply_clear(&r[1]);
            src_close(&s);
        }
        free(in);
        free(value);
    }
}

static void test_read_into(void **state)
{
    (void)state;
    char dst[8];
    for (size_t i = 0; i < NSTEPS; i++) {
        src s;
        static const char in[] = "$5\r\nhello\r\n$-1\r\n-ERR no\r\n";
        src_open(&s, in, sizeof in - 1, g_steps[i], 16);
        ps__resp_reply r;
        memset(dst, 'x', sizeof dst);
        PS_ASSERT_OK(ps__resp_read_into(&s.rd, WHAT, &r, dst, 5));
        assert_int_equal(r.type, PS__RESP_BULK);
        assert_int_equal(r.len, 5);
        assert_null(r.str);
        assert_memory_equal(dst, "hellox", 6); /* exactly 5 bytes written */
        PS_ASSERT_OK(ps__resp_read_into(&s.rd, WHAT, &r, dst, 5));
        assert_int_equal(r.type, PS__RESP_NIL);
        PS_ASSERT_OK(ps__resp_read_into(&s.rd, WHAT, &r, dst, 5));
        assert_int_equal(r.type, PS__RESP_ERROR); /* not a bulk: allocated as usual */
        assert_string_equal(r.str, "ERR no");
        ps__resp_reply_clear(&r);
        src_close(&s);

        /* Longer than the caller's room. */
        static const char big[] = "$6\r\nhello!\r\n";
        src_open(&s, big, sizeof big - 1, g_steps[i], 16);
        ps_clear_error();
        PS_ASSERT_STATUS(ps__resp_read_into(&s.rd, WHAT, &r, dst, 5), PS_EPROTO);
        assert_non_null(strstr(ps_last_error(), "range reply longer than asked for"));
        src_close(&s);
    }
}

static void test_arrays(void **state)
{
    (void)state;
    ps__resp_reply r;
    parse_ok("*0\r\n", &r);
    assert_int_equal(r.type, PS__RESP_ARRAY);
    assert_int_equal(r.n, 0);
    ps__resp_reply_clear(&r);

    parse_ok("*5\r\n:1\r\n$3\r\nabc\r\n$-1\r\n+OK\r\n-ERR x\r\n", &r);
    assert_int_equal(r.type, PS__RESP_ARRAY);
    assert_int_equal(r.n, 5);
    assert_int_equal(r.elems[0].type, PS__RESP_INT);
    assert_int_equal(r.elems[1].type, PS__RESP_BULK);
    assert_string_equal(r.elems[1].str, "abc");
    assert_int_equal(r.elems[2].type, PS__RESP_NIL);
    assert_int_equal(r.elems[3].type, PS__RESP_STATUS);
    assert_int_equal(r.elems[4].type, PS__RESP_ERROR);
    ps__resp_reply_clear(&r);
    assert_int_equal(r.n, 0);
    assert_null(r.elems);

    /* CONFIG GET's answer, as the handshake reads it. */
    parse_ok("*2\r\n$18\r\nproto-max-bulk-len\r\n$9\r\n536870912\r\n", &r);
    assert_int_equal(r.n, 2);
    long long v = 0;
    assert_true(ps__resp_parse_ll(r.elems[1].str, &v));
    assert_true(v == 536870912);
    ps__resp_reply_clear(&r);
}

static void test_nesting(void **state)
{
    (void)state;
    /* The top reply and PS__RESP_MAX_DEPTH - 1 arrays inside it. */
    char in[256] = "";
    for (int d = 0; d < PS__RESP_MAX_DEPTH; d++)
        strcat(in, "*2\r\n:1\r\n");
    strcat(in, ":2\r\n");
    ps__resp_reply r;
    parse_ok(in, &r);
    const ps__resp_reply *at = &r;
    for (int d = 0; d < PS__RESP_MAX_DEPTH; d++) {
        assert_int_equal(at->type, PS__RESP_ARRAY);
        assert_int_equal(at->n, 2);
        assert_int_equal(at->elems[0].type, PS__RESP_INT);
        at = &at->elems[1];
    }
    assert_int_equal(at->type, PS__RESP_INT);
    assert_true(at->integer == 2);
    ps__resp_reply_clear(&r);

    /* A nil array is allowed at any depth: it holds nothing. */
    char nil[256] = "";
    for (int d = 0; d < PS__RESP_MAX_DEPTH; d++)
        strcat(nil, "*1\r\n");
    strcat(nil, "*-1\r\n");
    parse_ok(nil, &r);
    ps__resp_reply_clear(&r);

    /* One level more is refused, after what was read is freed. */
    char deep[256] = "";
    for (int d = 0; d <= PS__RESP_MAX_DEPTH; d++)
        strcat(deep, "*2\r\n$3\r\nabc\r\n");
    strcat(deep, ":1\r\n:2\r\n:3\r\n:4\r\n:5\r\n:6\r\n");
    parse_bad(deep, PS_EPROTO, "protocol error: arrays nested too deep");
}

/* Several replies in one input (a pipeline), also read one by one. */
static void test_pipeline(void **state)
{
    (void)state;
    static const char in[] = "+OK\r\n:3\r\n$2\r\nhi\r\n*1\r\n$-1\r\n-ERR x\r\n";
    for (size_t i = 0; i < NSTEPS; i++) {
        src s;
        src_open(&s, in, sizeof in - 1, g_steps[i], 16);
        ps__resp_reply r[5];
        PS_ASSERT_OK(ps__resp_read_n(&s.rd, WHAT, r, 5));
        assert_int_equal(r[0].type, PS__RESP_STATUS);
        assert_int_equal(r[1].type, PS__RESP_INT);
        assert_string_equal(r[2].str, "hi");
        assert_int_equal(r[3].type, PS__RESP_ARRAY);
        assert_int_equal(r[4].type, PS__RESP_ERROR);
        for (int k = 0; k < 5; k++)
            ps__resp_reply_clear(&r[k]);
        assert_int_equal(ps__resp_reader_unread(&s.rd), 0);
        /* The input is used up: the next read fails. */
        ps__resp_reply more;
        PS_ASSERT_STATUS(ps__resp_read(&s.rd, WHAT, &more), PS_ECONN);
        src_close(&s);
    }

    /* read_n keeps nothing when a later reply fails. */
    static const char bad[] = "$3\r\nabc\r\n*1\r\n$1\r\nx\r\n?\r\n";
    src s;
    src_open(&s, bad, sizeof bad - 1, 0, 16);
    ps__resp_reply r[3];
    PS_ASSERT_STATUS(ps__resp_read_n(&s.rd, WHAT, r, 3), PS_EPROTO);
    assert_null(r[0].str);
    assert_null(r[1].elems);
    src_close(&s);
}

/* ---- malformed input ----------------------------------------------------------- */

static void test_bad_type(void **state)
{
    (void)state;
    parse_bad("?what\r\n", PS_EPROTO, "protocol error: unknown reply type");
    parse_bad("OK\r\n", PS_EPROTO, "unknown reply type");
    parse_bad("%2\r\n", PS_EPROTO, "unknown reply type"); /* RESP3 map */
    parse_bad("\r\n", PS_EPROTO, "protocol error: empty reply line");
    parse_bad_len("\0\r\n", 3, PS__RESP_READ_BUF, PS_EPROTO, "unknown reply type");
    parse_bad("*3\r\n:1\r\n!x\r\n:3\r\n", PS_EPROTO, "unknown reply type");
}

static void test_bad_numbers(void **state)
{
    (void)state;
    parse_bad(":\r\n", PS_EPROTO, "protocol error: bad integer reply");
    parse_bad(":12a\r\n", PS_EPROTO, "bad integer reply");
    parse_bad(":99999999999999999999\r\n", PS_EPROTO, "bad integer reply");
    parse_bad("$\r\n", PS_EPROTO, "protocol error: bad bulk length");
    parse_bad("$-2\r\n", PS_EPROTO, "bad bulk length");
    parse_bad("$abc\r\n", PS_EPROTO, "bad bulk length");
    parse_bad("$3x\r\nabc\r\n", PS_EPROTO, "bad bulk length");
    parse_bad("$9223372036854775808\r\n", PS_EPROTO, "bad bulk length");
    parse_bad("*\r\n", PS_EPROTO, "protocol error: bad array length");
    parse_bad("*-2\r\n", PS_EPROTO, "bad array length");
    parse_bad("*1e3\r\n", PS_EPROTO, "bad array length");
    parse_bad("*9223372036854775807\r\n", PS_EPROTO, "bad array length");
    parse_bad("*2\r\n$-5\r\n:1\r\n", PS_EPROTO, "bad bulk length");
}

static void test_bad_bulk(void **state)
{
    (void)state;
    /* More bytes than the length says: no CRLF where it must be. */
    parse_bad("$3\r\nabcdef\r\n", PS_EPROTO, "protocol error: bulk string not followed by CRLF");
    parse_bad("$3\r\nabc\n\r", PS_EPROTO, "bulk string not followed by CRLF");
    /* Fewer bytes than the length says: the input ends inside the value. */
    parse_bad("$10\r\nabc\r\n", PS_ECONN, "connection lost: end of input");
    parse_bad("$100000\r\nabc", PS_ECONN, "end of input");
    /* Inside an array, after other elements were read. */
    parse_bad("*3\r\n$3\r\nabc\r\n$3\r\nabcd\r\n:1\r\n", PS_EPROTO,
              "bulk string not followed by CRLF");
    /* With a small buffer the value is read straight into the result. */
    static const char big[] = "$40\r\n0123456789012345678901234567890123456789XX";
    parse_bad_len(big, sizeof big - 1, 16, PS_EPROTO, "bulk string not followed by CRLF");
}

static void test_truncated(void **state)
{
    (void)state;
    parse_bad("", PS_ECONN, "connection lost: end of input");
    parse_bad("+OK", PS_ECONN, "end of input");
    parse_bad("+OK\r", PS_ECONN, "end of input");
    parse_bad(":1\n", PS_ECONN, "end of input");
    parse_bad("*3\r\n:1\r\n:2\r\n", PS_ECONN, "end of input");
    parse_bad("*2\r\n*2\r\n$1\r\na\r\n", PS_ECONN, "end of input");
}

/* A line that does not fit in the reader's buffer. */
static void test_line_too_long(void **state)
{
    (void)state;
    char line[64];
    memset(line, 'a', sizeof line);
    line[0] = '+';
    parse_bad_len(line, sizeof line, 16, PS_EPROTO, "protocol error: reply line too long");
    /* 14 bytes and CRLF fill 16 exactly and parse. */
    static const char fits[] = "+aaaaaaaaaaaaa\r\n";
    src s;
    src_open(&s, fits, sizeof fits - 1, 0, 16);
    ps__resp_reply r;
    PS_ASSERT_OK(ps__resp_read(&s.rd, WHAT, &r));
    assert_int_equal(r.len, 13);
    ps__resp_reply_clear(&r);
    src_close(&s);
}

/* A source that breaks its promise (0 bytes) is an error, not a loop. */
static ps_status zero_recv(ps__resp_reader *rd, const char *what, void *dst, size_t n, size_t *got)
{
    (void)rd;
    (void)what;
    (void)dst;
    (void)n;
    *got = 0;
    return PS_OK;
}

static void test_bad_source(void **state)
{
    (void)state;
    ps__resp_reader rd;
    PS_ASSERT_OK(ps__resp_reader_init(&rd, 64, WHERE, zero_recv, NULL));
    ps__resp_reply r;
    PS_ASSERT_STATUS(ps__resp_read(&rd, WHAT, &r), PS_EINTERNAL);
    ps__resp_reader_free(&rd);
    PS_ASSERT_STATUS(ps__resp_reader_init(&rd, 8, WHERE, zero_recv, NULL), PS_EINVAL);
    PS_ASSERT_STATUS(ps__resp_reader_init(&rd, 64, WHERE, NULL, NULL), PS_EINVAL);
}

/* ---- the writer ---------------------------------------------------------------- */

/* The request's bytes, gathered through its iovecs `max` at a time. */
static char *gather(const ps__resp_out *o, size_t max, size_t chunk, size_t *len)
{
    size_t total = 0;
    for (size_t i = 0; i < o->nsegs; i++)
        total += o->segs[i].len;
    char *all = malloc(total + 1);
    assert_non_null(all);
    size_t seg = 0, skip = 0, at = 0;
    struct iovec iov[8];
    while (seg < o->nsegs) {
        size_t k = ps__resp_out_iov(o, seg, skip, iov, max);
        assert_true(k >= 1 && k <= max);
        /* "Send" at most `chunk` bytes, like a short write. */
        size_t sent = 0;
        for (size_t j = 0; j < k && sent < chunk; j++) {
            size_t m = iov[j].iov_len < chunk - sent ? iov[j].iov_len : chunk - sent;
            memcpy(all + at, iov[j].iov_base, m);
            at += m;
            sent += m;
        }
        ps__resp_out_advance(o, &seg, &skip, sent);
    }
    assert_int_equal(at, total);
    *len = total;
    return all;
}

static void test_writer(void **state)
{
    (void)state;
    size_t big_len = PS__RESP_COPY_MAX;
    char *big = malloc(big_len);
    assert_non_null(big);
    pst_fill(big, big_len, 5);

    ps__resp_out o;
    memset(&o, 0, sizeof o);
    ps__resp_out_begin(&o, 2);
    ps__resp_out_str(&o, "GET");
    ps__resp_out_str(&o, "key");
    ps__resp_out_begin(&o, 3);
    ps__resp_out_str(&o, "SET");
    ps__resp_out_str(&o, "k");
    ps__resp_out_arg(&o, big, big_len);
    assert_false(o.oom);
    /* The large value is referenced, not copied. */
    bool referenced = false;
    for (size_t i = 0; i < o.nsegs; i++)
        referenced = referenced || (o.segs[i].ext == big && o.segs[i].len == big_len);
    assert_true(referenced);

    char head[] = "*2\r\n$3\r\nGET\r\n$3\r\nkey\r\n*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$16384\r\n";
    size_t want_len = strlen(head) + big_len + 2;
    char *want = malloc(want_len);
    assert_non_null(want);
    memcpy(want, head, strlen(head));
    memcpy(want + strlen(head), big, big_len);
    memcpy(want + strlen(head) + big_len, "\r\n", 2);

    const size_t maxes[] = {1, 2, 8}, chunks[] = {1, 5, 4096, 1 << 20};
    for (size_t a = 0; a < 3; a++) {
        for (size_t b = 0; b < 4; b++) {
            size_t len = 0;
            char *got = gather(&o, maxes[a], chunks[b], &len);
            assert_int_equal(len, want_len);
            assert_memory_equal(got, want, want_len);
            free(got);
        }
    }

    /* The writer's output is what the reader reads (a GET with its key). */
    ps__resp_out_reset(&o);
    assert_int_equal(o.nsegs, 0);
    ps__resp_out_begin(&o, 1);
    ps__resp_out_arg(&o, "a\r\nb", 4);
    size_t len = 0;
    char *got = gather(&o, 8, 1 << 20, &len);
    src s;
    src_open(&s, got, len, 1, 16);
    ps__resp_reply r;
    PS_ASSERT_OK(ps__resp_read(&s.rd, WHAT, &r));
    assert_int_equal(r.type, PS__RESP_ARRAY);
    assert_int_equal(r.n, 1);
    assert_int_equal(r.elems[0].len, 4);
    assert_memory_equal(r.elems[0].str, "a\r\nb", 4);
    ps__resp_reply_clear(&r);
    src_close(&s);
    free(got);

    ps__resp_out_free(&o);
    free(want);
    free(big);
}

static void test_type_names(void **state)
{
    (void)state;
    assert_string_equal(ps__resp_type_name(PS__RESP_STATUS), "status");
    assert_string_equal(ps__resp_type_name(PS__RESP_BULK), "bulk string");
    assert_string_equal(ps__resp_type_name(PS__RESP_ARRAY), "array");
    assert_string_equal(ps__resp_type_name(-1), "?");
    assert_string_equal(ps__resp_type_name(PS__RESP_ARRAY + 1), "?");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_simple_types),
        cmocka_unit_test(test_bulk),
        cmocka_unit_test(test_bulk_around_buffer),
        cmocka_unit_test(test_read_into),
        cmocka_unit_test(test_arrays),
        cmocka_unit_test(test_nesting),
        cmocka_unit_test(test_pipeline),
        cmocka_unit_test(test_bad_type),
        cmocka_unit_test(test_bad_numbers),
        cmocka_unit_test(test_bad_bulk),
        cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_line_too_long),
        cmocka_unit_test(test_bad_source),
        cmocka_unit_test(test_writer),
        cmocka_unit_test(test_type_names),
    };
    return pst_exit(cmocka_run_group_tests_name("redis resp", tests, NULL, NULL));
}
