/*
 * Codecs: named encoders and decoders of bytes.
 *
 * A store encodes every object with its codec before handing it to the
 * connector and decodes what the connector returns. The codec's name is part
 * of the store's configuration, so the process that resolves a proxy knows
 * how to decode it. Built in:
 *   "raw"         identity, no copy.
 *   "zstd"        libzstd frames.
 *   "proxystore"  upstream ProxyStore's serialization framing
 *                 (proxystore/serialize.py: IDENT '\n' payload), so objects
 *                 shared with Python ProxyStore through a common connector
 *                 read as `bytes` on both sides. Encode writes "BS\n" + the
 *                 bytes. Decode takes the first line, whitespace stripped, as
 *                 the identifier: "BS"/"01" (bytes) and "US"/"02" (str, which
 *                 must be valid UTF-8) give the payload as a view of the
 *                 fetched buffer (no copy); pickled, numpy and DataFrame
 *                 objects ("PK", "CP", "NP", "PD", "PL", "03", "04") and
 *                 unknown identifiers are PS_ECODEC.
 * Applications register more with ps_codec_register().
 *
 * Thread safety: the registry is safe to use from many threads; a codec's
 * functions must be thread-safe.
 */
#ifndef PROXYSTORE_CODEC_H
#define PROXYSTORE_CODEC_H

#include <stddef.h>

#include "bytes.h"
#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define PS_CODEC_VERSION 1
/** Longest codec name, without the NUL. */
#define PS_CODEC_NAME_MAX 32

typedef struct ps_codec {
    unsigned version; /**< PS_CODEC_VERSION */
    const char *name; /**< [A-Za-z0-9_.-]+, at most PS_CODEC_NAME_MAX bytes */
    /**
     * Encode `len` bytes at `in` into `*out`. `*out` may be a view of `in`
     * (then it must stay valid as long as `in` does).
     * Returns PS_OK, PS_ENOMEM, PS_ETOOBIG or PS_ECODEC.
     */
    ps_status (*encode)(const void *in, size_t len, ps_bytes *out);
    /**
     * Decode `*in` into `*out`. Takes ownership of `*in` whatever it returns
     * (and may move it into `*out`, as "raw" does).
     * Returns PS_OK, PS_ENOMEM or PS_ECODEC (malformed input).
     */
    ps_status (*decode)(ps_bytes *in, ps_bytes *out);
} ps_codec;

/**
 * Register a codec. The struct is not copied: it must stay valid for the life
 * of the process (make it static const). A name already registered is
 * PS_EEXIST; a bad name, version or missing function is PS_EINVAL.
 * Ownership: `codec` is borrowed for the rest of the process (static storage).
 */
PS_API ps_status ps_codec_register(const ps_codec *codec);

/** Find a codec by name. Returns NULL (and sets a message) when unknown.
 *  Ownership: borrowed, valid for the life of the process. */
PS_API const ps_codec *ps_codec_find(const char *name);

/** Encode with `codec` (see ps_codec.encode). Ownership: `in` borrowed; `*out` is new
 * (ps_bytes_free), possibly a view of `in` valid while `in` is. */
PS_API ps_status ps_codec_encode(const ps_codec *codec, const void *in, size_t len, ps_bytes *out);

/** Decode with `codec` (see ps_codec.decode); `*in` is consumed. Ownership: releases `*in` whatever
 * it returns (as ps_bytes_free would); `*out` is new (ps_bytes_free). */
PS_API ps_status ps_codec_decode(const ps_codec *codec, ps_bytes *in, ps_bytes *out);

#ifdef __cplusplus
}
#endif
#endif
