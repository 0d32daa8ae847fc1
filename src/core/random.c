/*
 * Random bytes and UUID4 strings.
 *
 * Each thread keeps a pool of kernel randomness (getrandom) and refills it
 * when empty, so ps_uuid4() makes one system call per 256 UUIDs. A fork
 * handler bumps a generation counter so that a child never reuses bytes its
 * parent already had in its pools.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/random.h>

#include "core/internal.h"

#define PS__POOL_SIZE 4096

static atomic_uint ps__fork_generation;
static pthread_once_t ps__atfork_once = PTHREAD_ONCE_INIT;

static _Thread_local struct {
    unsigned char bytes[PS__POOL_SIZE];
    size_t pos;
    unsigned generation;
    bool filled;
} ps__pool;

static void ps__on_fork_child(void)
{
    atomic_fetch_add(&ps__fork_generation, 1);
}

static void ps__register_atfork(void)
{
    pthread_atfork(NULL, NULL, ps__on_fork_child);
}

static ps_status ps__fill(unsigned char *buf, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = getrandom(buf + got, n - got, 0);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return ps__seterr(PS_EIO, "getrandom: %s", strerror(errno));
        }
        got += (size_t)r;
    }
    return PS_OK;
}

ps_status ps_random_bytes(void *buf, size_t n)
{
    PS__RETURN_IF(buf == NULL && n > 0, PS_EINVAL, "ps_random_bytes: buf is NULL");
    if (n == 0)
        return PS_OK;
    pthread_once(&ps__atfork_once, ps__register_atfork);
    unsigned gen = atomic_load(&ps__fork_generation);
    if (!ps__pool.filled || ps__pool.generation != gen) {
        ps__pool.pos = PS__POOL_SIZE; /* discard: refill below */
        ps__pool.generation = gen;
        ps__pool.filled = true;
    }
    if (n > PS__POOL_SIZE / 2)
        return ps__fill(buf, n);
    if (PS__POOL_SIZE - ps__pool.pos < n) {
        PS__FORWARD(ps__fill(ps__pool.bytes, PS__POOL_SIZE));
        ps__pool.pos = 0;
    }
    memcpy(buf, ps__pool.bytes + ps__pool.pos, n);
    /* Never hand the same bytes out twice. */
    memset(ps__pool.bytes + ps__pool.pos, 0, n);
    ps__pool.pos += n;
    return PS_OK;
}

ps_status ps_uuid4(char out[PS_UUID_STR_LEN + 1])
{
    PS__RETURN_IF(out == NULL, PS_EINVAL, "ps_uuid4: out is NULL");
    unsigned char b[16];
    PS__FORWARD(ps_random_bytes(b, sizeof b));
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40); /* version 4 */
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80); /* RFC 4122 variant */
    ps__uuid_format(b, out);
    return PS_OK;
}

void ps__uuid_format(const uint8_t id[16], char out[PS_UUID_STR_LEN + 1])
{
    static const char hex[] = "0123456789abcdef";
    char *p = out;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            *p++ = '-';
        *p++ = hex[id[i] >> 4];
        *p++ = hex[id[i] & 15];
    }
    *p = '\0';
}

/* 1 for lower-case hex digits. A table, not range tests: the digits of a
 * random UUID would mispredict the branches of the tests. */
static const unsigned char ps__lower_hex[256] = {
    ['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1, ['6'] = 1, ['7'] = 1,
    ['8'] = 1, ['9'] = 1, ['a'] = 1, ['b'] = 1, ['c'] = 1, ['d'] = 1, ['e'] = 1, ['f'] = 1,
};

bool ps_uuid_is_canonical(const char *s)
{
    /* The length first (so nothing past a NUL is read), then the four
     * hyphens and the 32 digits, unrolled: no branch per byte. */
    static const unsigned char digit_at[32] = {0,  1,  2,  3,  4,  5,  6,  7,  9,  10, 11,
                                               12, 14, 15, 16, 17, 19, 20, 21, 22, 24, 25,
                                               26, 27, 28, 29, 30, 31, 32, 33, 34, 35};
    if (s == NULL || strnlen(s, PS_UUID_STR_LEN + 1) != PS_UUID_STR_LEN)
        return false;
    const unsigned char *u = (const unsigned char *)s;
    unsigned ok = (u[8] == '-') & (u[13] == '-') & (u[18] == '-') & (u[23] == '-');
#pragma GCC unroll 32
    for (int i = 0; i < 32; i++)
        ok &= ps__lower_hex[u[digit_at[i]]];
    return ok != 0;
}

bool ps__uuid_parse(const char *text, uint8_t id[16])
{
    if (!ps_uuid_is_canonical(text))
        return false;
    size_t k = 0;
    for (size_t i = 0; i < PS_UUID_STR_LEN; i++) {
        if (text[i] == '-')
            continue;
        id[k++] = (uint8_t)(ps__hex_digit(text[i]) << 4 | ps__hex_digit(text[i + 1]));
        i++;
    }
    return true;
}
