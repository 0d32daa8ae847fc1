/*
 * Internal interface of the proxy layer (src/proxy/). Not installed.
 */
#ifndef PS_PROXY_INTERNAL_H
#define PS_PROXY_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proxystore/key.h"
#include "proxystore/status.h"

/* Format version: the first payload byte, and the digit in "ps1.". */
#define PS__TOKEN_FORMAT 1

/* The factory fields a token carries. */
typedef struct ps__token {
    ps_key *key;  /* new */
    char *config; /* store configuration, compact JSON with sorted keys (ps_malloc) */
    char *codec;  /* decoder override or NULL (ps_malloc) */
    bool evict;
    bool locked;
} ps__token;

/* Free the fields of `t` (not `t` itself) and zero them. */
void ps__token_clear(ps__token *t);

/*
 * Encode the binary payload (format byte ... CRC-32) into a new ps_malloc
 * buffer. `config_json` is a store configuration (a JSON object).
 */
ps_status ps__token_encode_payload(const ps__token *t, unsigned char **out, size_t *out_len);

/* Decode a binary payload (with its CRC-32) into `*t` (fields new). */
ps_status ps__token_decode_payload(const unsigned char *buf, size_t len, ps__token *t);

/* Encode as text: PS_PROXY_TOKEN_PREFIX + base64url(payload). */
ps_status ps__token_encode(const ps__token *t, char **token);

/* Decode text of `len` bytes (need not be NUL-terminated). */
ps_status ps__token_decode(const char *text, size_t len, ps__token *t);

/* CRC-32 (IEEE 802.3, reflected, as zlib's crc32). */
uint32_t ps__crc32(const void *data, size_t len);

/* ---- the worker pool (pool.c) -------------------------------------------- */

typedef void (*ps__job_fn)(void *arg);

/* Queue fn(arg) on the process-wide pool, starting it if needed. */
ps_status ps__pool_submit(ps__job_fn fn, void *arg);

#endif
