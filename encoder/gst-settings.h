/* zerospice — GStreamer encoder element settings, shared by gst.c and
 * gst-settings.c. Private to encoder/. */
#pragma once

#include <stdint.h>

#include <gst/gst.h>

#include "encoder-private.h"

/* "Never" for GOP lengths: x264's own X264_KEYINT_MAX_INFINITE. */
#define INFINITE_GOP (1 << 30)
#define JPEG_QUALITY 80

/* Sets an enum property by its nick. */
void zs_gst_set_enum(GstElement *element, const char *property,
	const char *nick);
/* Low-latency settings of element `name` (x264enc, openh264enc, vp8enc,
 * vp9enc, x265enc, jpegenc) for cfg. */
void zs_gst_configure(GstElement *e, const char *name,
	const struct zs_encoder_config *cfg);
/* A new bitrate target while playing, applied from the next frame: 0, or
 * -ENOTSUP for an element without one. */
int zs_gst_set_bitrate(GstElement *e, const char *name, uint64_t kbps);
