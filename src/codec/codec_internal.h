/*
 * The codec layer's internal interface. Not installed.
 */
#ifndef PS_CODEC_INTERNAL_H
#define PS_CODEC_INTERNAL_H

#include <stddef.h>

#include "proxystore/codec.h"

/* Copy up to `max` registered codec names (static strings) into `names`, in
 * registration order (the builtins first). Returns how many were copied. */
size_t ps__codec_names(const char **names, size_t max);

/* The "proxystore" codec: upstream's serialization framing (proxystore.c). */
extern const ps_codec ps__codec_proxystore;

#endif
