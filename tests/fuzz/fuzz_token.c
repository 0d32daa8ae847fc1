/*
 * libFuzzer target for the proxy token decoder.
 *
 * An input that starts with "ps1." is decoded as token text through the
 * public ps_proxy_decode(). Any other input is taken as a binary payload
 * (format byte first) to which the harness appends the right CRC-32, so that
 * the fuzzer explores the structure behind the checksum.
 *
 * Whatever decodes must re-encode, decode again and re-encode to the same
 * token (encoding is canonical); a mismatch aborts.
 *
 * Built two ways (tests/proxy.cmake): with -fsanitize=fuzzer as the
 * libFuzzer program fuzz_token (PS_FUZZ=ON, clang), and with
 * replay_main.c as the CTest test fuzz.token_replay, which feeds every file
 * of tests/corpus/token/ to the same function.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proxy/proxy_internal.h"
#include "proxystore/proxystore.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_canonical(const ps__token *t)
{
    char *tok1 = NULL, *tok2 = NULL;
    ps__token t2;
    if (ps__token_encode(t, &tok1) != PS_OK) {
        fprintf(stderr, "re-encode failed: %s\n", ps_last_error());
        abort();
    }
    if (ps__token_decode(tok1, strlen(tok1), &t2) != PS_OK) {
        fprintf(stderr, "decode of re-encoded token failed: %s\n", ps_last_error());
        abort();
    }
    if (ps__token_encode(&t2, &tok2) != PS_OK || strcmp(tok1, tok2) != 0 ||
        !ps_key_equal(t->key, t2.key) || strcmp(t->config, t2.config) != 0) {
        fprintf(stderr, "encoding is not canonical:\n%s\n%s\n", tok1, tok2 ? tok2 : "(null)");
        abort();
    }
    ps__token_clear(&t2);
    ps_free(tok1);
    ps_free(tok2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size >= 4 && memcmp(data, PS_PROXY_TOKEN_PREFIX, 4) == 0) {
        char *text = malloc(size + 1);
        if (text == NULL)
            return 0;
        memcpy(text, data, size);
        text[size] = '\0';
        ps_proxy *p = NULL;
        if (ps_proxy_decode(text, &p) == PS_OK) {
            char *json = NULL, *tok = NULL;
            if (ps_proxy_to_json(p, &json) != PS_OK || ps_proxy_encode(p, &tok) != PS_OK) {
                fprintf(stderr, "decoded proxy cannot be shown or encoded: %s\n", ps_last_error());
                abort();
            }
            ps_free(json);
            ps_free(tok);
            ps_proxy_unref(p);
        } else if (ps_last_error()[0] == '\0') {
            abort(); /* every failure leaves a message */
        }
        ps__token t;
        if (ps__token_decode(text, size, &t) == PS_OK) {
            check_canonical(&t);
            ps__token_clear(&t);
        }
        free(text);
        return 0;
    }
    if (size > PS_PROXY_TOKEN_MAX)
        return 0;
    unsigned char *buf = malloc(size + 4);
    if (buf == NULL)
        return 0;
    if (size)
        memcpy(buf, data, size);
    uint32_t c = ps__crc32(buf, size);
    buf[size] = (unsigned char)c;
    buf[size + 1] = (unsigned char)(c >> 8);
    buf[size + 2] = (unsigned char)(c >> 16);
    buf[size + 3] = (unsigned char)(c >> 24);
    ps__token t;
    if (ps__token_decode_payload(buf, size + 4, &t) == PS_OK) {
        check_canonical(&t);
        ps__token_clear(&t);
    } else if (ps_last_error()[0] == '\0') {
        abort();
    }
    free(buf);
    return 0;
}
