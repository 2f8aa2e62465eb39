/* zerospice — the GStreamer encoder's frames in: each frame wrapped for
 * appsrc as it is (a padded copy at odd sizes the codec cannot code), or
 * converted to I420 by our own one-pass conversion (yuv.h). The buffers
 * are counted in g->live_buffers until the pipeline lets go of them. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <gst/gst.h>
#include <gst/video/video.h>

#include "encoder-private.h"
#include "gst-encoder.h"
#include "yuv.h"
#include "zs-dmabuf.h"

struct wrapped_frame {
	struct zs_frame_map map;
	uint8_t *padded; /* the padded copy, or NULL: map is wrapped */
	struct gst_encoder *g;
};

static void wrapped_frame_free(gpointer data)
{
	struct wrapped_frame *w = data;
	struct gst_encoder *g = w->g;

	if (!w->padded)
		zs_frame_unmap(&w->map);
	free(w->padded);
	free(w);
	g_mutex_lock(&g->lock);
	g->live_buffers--;
	g_cond_broadcast(&g->unmapped);
	g_mutex_unlock(&g->lock);
}

/* H.264 and H.265 from B,G,R,X pictures of an even size get our one-pass
 * conversion (yuv.h): same matrix and range as videoconvert would pick
 * (GStreamer's default colorimetry of I420 at that size, in the caps), so
 * clients see the same colours. Anything else keeps videoconvert. */
void zs_gst_use_own_conversion(struct gst_encoder *g)
{
	const struct zs_encoder_config *cfg = &g->base.config;
	GstVideoInfo info;

	if ((cfg->codec != ZS_CODEC_H264 && cfg->codec != ZS_CODEC_H265) ||
	    (g->in_format != GST_VIDEO_FORMAT_BGRx &&
	     g->in_format != GST_VIDEO_FORMAT_BGRA) ||
	    g->coded_width != cfg->width || g->coded_height != cfg->height ||
	    (cfg->width & 1) || (cfg->height & 1))
		return;
	gst_video_info_set_format(&info, GST_VIDEO_FORMAT_I420, cfg->width,
		cfg->height);
	if (info.colorimetry.range != GST_VIDEO_COLOR_RANGE_16_235)
		return;
	if (info.colorimetry.matrix == GST_VIDEO_COLOR_MATRIX_BT709)
		g->yuv_matrix = ZS_YUV_BT709;
	else if (info.colorimetry.matrix == GST_VIDEO_COLOR_MATRIX_BT601)
		g->yuv_matrix = ZS_YUV_BT601;
	else
		return;
	g->yuv = malloc(GST_VIDEO_INFO_SIZE(&info));
	if (!g->yuv)
		return; /* videoconvert then */
	g->yuv_info = info;
	/* reads the picture once, writes I420 once: as videoconvert */
}

static void yuv_released(gpointer data)
{
	struct gst_encoder *g = data;

	g_mutex_lock(&g->lock);
	g->live_buffers--;
	g_cond_broadcast(&g->unmapped);
	g_mutex_unlock(&g->lock);
}

/* Converts the frame into g->yuv and wraps that. */
GstBuffer *zs_gst_convert_frame(struct gst_encoder *g,
	const struct zs_frame *frame, int *ret)
{
	const struct zs_encoder_config *cfg = &g->base.config;
	const GstVideoInfo *info = &g->yuv_info;
	struct zs_frame_map map;

	*ret = zs_frame_map(frame, &map);
	if (*ret < 0) {
		g_warning("%s: cannot map frame %" G_GUINT64_FORMAT ": %s",
			g->base.description, frame->id, strerror(-*ret));
		return NULL;
	}
	if (map.stride > G_MAXINT || map.stride < cfg->width * BYTES_PER_PIXEL) {
		g_warning("%s: frame %" G_GUINT64_FORMAT " mapped with stride %u",
			g->base.description, frame->id, map.stride);
		zs_frame_unmap(&map);
		*ret = -EINVAL;
		return NULL;
	}
	const uint8_t *src = map.pixels;
	ptrdiff_t stride = (ptrdiff_t)map.stride;
	if (!frame->y0_top) {
		src += (size_t)map.stride * (cfg->height - 1);
		stride = -stride;
	}
	zs_yuv_from_bgrx(src, stride, cfg->width, cfg->height, g->yuv_matrix,
		g->yuv + GST_VIDEO_INFO_PLANE_OFFSET(info, 0),
		(size_t)GST_VIDEO_INFO_PLANE_STRIDE(info, 0),
		g->yuv + GST_VIDEO_INFO_PLANE_OFFSET(info, 1),
		g->yuv + GST_VIDEO_INFO_PLANE_OFFSET(info, 2),
		(size_t)GST_VIDEO_INFO_PLANE_STRIDE(info, 1));
	zs_frame_unmap(&map);

	g_mutex_lock(&g->lock);
	g->live_buffers++;
	g_mutex_unlock(&g->lock);
	GstBuffer *buf = gst_buffer_new_wrapped_full(GST_MEMORY_FLAG_READONLY,
		g->yuv, GST_VIDEO_INFO_SIZE(info), 0, GST_VIDEO_INFO_SIZE(info),
		g, yuv_released);
	gst_buffer_add_video_meta_full(buf, GST_VIDEO_FRAME_FLAG_NONE,
		GST_VIDEO_FORMAT_I420, cfg->width, cfg->height,
		GST_VIDEO_INFO_N_PLANES(info), (gsize *)info->offset,
		(gint *)info->stride);
	return buf;
}

/* A copy of the mapped picture at the coded size, the extra column and row
 * repeating the right and bottom edges. A bottom-up frame (flipped later
 * in the pipeline) gets its extra row first in memory, so that it too ends
 * up at the bottom of the picture. NULL when out of memory. */
static uint8_t *pad_copy(const struct gst_encoder *g,
	const struct zs_frame_map *map, bool y0_top)
{
	const struct zs_encoder_config *cfg = &g->base.config;
	size_t row_bytes = (size_t)cfg->width * BYTES_PER_PIXEL;
	size_t out_stride = (size_t)g->coded_width * BYTES_PER_PIXEL;
	uint32_t first = (!y0_top && g->coded_height > cfg->height) ? 1 : 0;
	uint8_t *out = malloc(out_stride * g->coded_height);

	if (!out)
		return NULL;
	for (uint32_t y = 0; y < cfg->height; y++) {
		uint8_t *dst = out + (size_t)(y + first) * out_stride;
		memcpy(dst, map->pixels + (size_t)y * map->stride, row_bytes);
		if (g->coded_width > cfg->width)
			memcpy(dst + row_bytes, dst + row_bytes - BYTES_PER_PIXEL,
				BYTES_PER_PIXEL);
	}
	if (g->coded_height > cfg->height) {
		uint32_t from = first ? 1 : cfg->height - 1;
		uint32_t to = first ? 0 : cfg->height;
		memcpy(out + (size_t)to * out_stride,
			out + (size_t)from * out_stride, out_stride);
	}
	return out;
}

GstBuffer *zs_gst_wrap_frame(struct gst_encoder *g,
	const struct zs_frame *frame, int *ret)
{
	const struct zs_encoder_config *cfg = &g->base.config;
	struct wrapped_frame *w;
	GstBuffer *buf;
	gsize offsets[GST_VIDEO_MAX_PLANES] = { 0 };
	gint strides[GST_VIDEO_MAX_PLANES] = { 0 };
	size_t size;

	w = calloc(1, sizeof(*w));
	if (!w) {
		*ret = -ENOMEM;
		return NULL;
	}
	*ret = zs_frame_map(frame, &w->map);
	if (*ret < 0) {
		g_warning("%s: cannot map frame %" G_GUINT64_FORMAT ": %s",
			g->base.description, frame->id, strerror(-*ret));
		free(w);
		return NULL;
	}
	if (w->map.stride > G_MAXINT ||
	    w->map.stride < cfg->width * BYTES_PER_PIXEL) {
		g_warning("%s: frame %" G_GUINT64_FORMAT " mapped with stride %u",
			g->base.description, frame->id, w->map.stride);
		zs_frame_unmap(&w->map);
		free(w);
		*ret = -EINVAL;
		return NULL;
	}
	w->g = g;
	if (g->coded_width != cfg->width || g->coded_height != cfg->height) {
		w->padded = pad_copy(g, &w->map, frame->y0_top);
		zs_frame_unmap(&w->map);
		if (!w->padded) {
			free(w);
			*ret = -ENOMEM;
			return NULL;
		}
		size = (size_t)g->coded_width * BYTES_PER_PIXEL *
			g->coded_height;
		strides[0] = (gint)(g->coded_width * BYTES_PER_PIXEL);
	} else {
		/* The last row need not be padded to the stride. */
		size = (size_t)w->map.stride * (cfg->height - 1) +
			cfg->width * BYTES_PER_PIXEL;
		strides[0] = (gint)w->map.stride;
	}
	g_mutex_lock(&g->lock);
	g->live_buffers++;
	g_mutex_unlock(&g->lock);
	buf = gst_buffer_new_wrapped_full(GST_MEMORY_FLAG_READONLY,
		w->padded ? w->padded : (gpointer)w->map.pixels, size, 0, size,
		w, wrapped_frame_free);
	gst_buffer_add_video_meta_full(buf, GST_VIDEO_FRAME_FLAG_NONE,
		g->in_format, g->coded_width, g->coded_height, 1, offsets,
		strides);
	return buf;
}
