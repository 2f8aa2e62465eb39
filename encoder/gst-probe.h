/* zerospice — GStreamer initialisation, plugins and element probing
 * (gst-probe.c), shared with the encoder itself (gst.c). Private to
 * encoder/. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <gst/gst.h>

#include "encoder-private.h"

/* Encoder elements per codec, best first, NULL-terminated. */
extern const char *const zs_gst_candidates[ZS_CODEC_COUNT][3];
/* The parser a codec's output goes through, or NULL. */
extern const char *const zs_gst_parser_for[ZS_CODEC_COUNT];

/* gst_init once per process; false when GStreamer is not usable. */
bool zs_gst_ensure_init(void);
/* Whether element `name` can be made here (without loading its plugin). */
bool zs_gst_have_element(const char *name);
/* Bitmask of ZS_CODEC_BIT the backend can encode; probed once. */
uint32_t zs_gst_probe(void);
/* The element that encodes codec here, or NULL. */
const char *zs_gst_element_name(enum zs_codec codec);
/* A new element of factory, its plugin loaded first if need be; NULL with
 * a message in err. */
GstElement *zs_gst_make(const char *factory, char *err, size_t err_len);
