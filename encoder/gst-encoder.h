/* zerospice — the GStreamer encoder's state, shared by gst.c (the
 * pipeline, encode) and gst-frame.c (the frames pushed into appsrc).
 * Private to encoder/. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include <glib.h>
#include <gst/app/gstappsink.h>
#include <gst/gst.h>
#include <gst/video/video.h>

#include "encoder-private.h"
#include "yuv.h"
#include "zs-dmabuf.h"

#define BYTES_PER_PIXEL 4u

struct gst_encoder {
	struct zs_encoder base;
	const char *element_name;
	GstVideoFormat in_format;
	/* The size the pipeline codes: the frame's, or one more for odd
	 * sizes of codecs in needs_even (frames are then copied, padded). */
	uint32_t coded_width, coded_height;

	GstElement *pipeline;
	GstElement *appsrc, *flip, *encoder;
	GstAppSink *appsink;
	GstBus *bus;

	GstClockTime frame_duration;
	uint64_t n_frames;
	bool flipping;
	/* Sticky: after a bus error or a timeout the pipeline's state is
	 * unknown, so every later encode fails until the caller re-creates. */
	bool failed;
	bool warned_pts;
	GstClockTime pts_offset;
	bool have_pts_offset;
	/* Pixel bytes videoconvert (and videoflip) touch per frame. */
	uint64_t convert_bytes, flip_bytes;
	/* Our own conversion (yuv.c) feeds the encoder I420 in this buffer
	 * instead of videoconvert and videoflip (H.264/H.265 from B,G,R,X at
	 * an even size); NULL: the GStreamer path. encode() is synchronous
	 * and waits until the pipeline let go of it, so one buffer serves
	 * every frame. */
	uint8_t *yuv;
	GstVideoInfo yuv_info;
	enum zs_yuv_matrix yuv_matrix;

	/* Frames still wrapped by a GstBuffer somewhere in the pipeline; the
	 * destroy notify runs on a streaming thread. */
	GMutex lock;
	GCond unmapped;
	unsigned live_buffers;
};

/* Picks our own conversion into g->yuv where it gives what videoconvert
 * would; leaves g->yuv NULL (the GStreamer path) otherwise. */
void zs_gst_use_own_conversion(struct gst_encoder *g);
/* A buffer for appsrc holding frame converted into g->yuv, or NULL with
 * *ret a negative errno. */
GstBuffer *zs_gst_convert_frame(struct gst_encoder *g,
	const struct zs_frame *frame, int *ret);
/* A buffer for appsrc wrapping the mapped frame (or its padded copy), or
 * NULL with *ret a negative errno. The frame stays mapped until the
 * pipeline releases the buffer. */
GstBuffer *zs_gst_wrap_frame(struct gst_encoder *g,
	const struct zs_frame *frame, int *ret);
