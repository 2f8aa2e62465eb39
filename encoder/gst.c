/* zerospice — GStreamer software encoder backend.
 *
 *   appsrc ! videoflip ! videoconvert ! video/x-raw,format=I420
 *          ! <x264enc|openh264enc|vp8enc|vp9enc|x265enc|jpegenc>
 *          [! h264parse|h265parse ! byte-stream,au caps] ! appsink
 *
 * One frame in flight: encode() pushes one wrapped (not copied) frame and
 * pulls exactly one sample. Every encoder is configured so that it neither
 * reorders nor holds frames back (no B-frames, no lookahead, no lag), and
 * so that the only keyframes are the first one and the ones we force. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <drm_fourcc.h>
#include <gst/app/gstappsink.h>
#include <gst/app/gstappsrc.h>
#include <gst/base/gstbasetransform.h>
#include <gst/gst.h>
#include <gst/video/video.h>

#include "encoder-private.h"
#include "gst-encoder.h"
#include "gst-probe.h"
#include "gst-settings.h"
#include "yuv.h"
#include "zs-dmabuf.h"

/* How long encode() waits for the encoder's output before giving up; the
 * first frame also pays for the encoder's initialisation (x265 and libvpx
 * take up to ~0.8 s at 1080p on a loaded 2-core machine). */
#define PULL_TIMEOUT_NS (2 * GST_SECOND)
#define FIRST_PULL_TIMEOUT_NS (10 * GST_SECOND)
#define PULL_SLICE_NS (10 * GST_MSECOND)

/* x264, openh264 and x265 refuse odd sizes in 4:2:0, and H.264/H.265
 * cropping works in 2-pixel units there, so an odd width or height cannot
 * be coded exactly: such frames are padded by one column or row repeating
 * the edge, the stream is one pixel larger and FORMAT keeps the real size
 * (spice-gtk draws the decoded picture into the stream's rectangle).
 * libvpx and jpegenc code odd sizes as they are. */
static const bool needs_even[ZS_CODEC_COUNT] = {
	[ZS_CODEC_H264] = true,
	[ZS_CODEC_H265] = true,
};

/* DRM fourccs are little-endian words; GStreamer names bytes in memory
 * order, hence the reversal. */
static const struct {
	uint32_t fourcc;
	GstVideoFormat format;
} formats[] = {
	{ DRM_FORMAT_XRGB8888, GST_VIDEO_FORMAT_BGRx },
	{ DRM_FORMAT_XBGR8888, GST_VIDEO_FORMAT_RGBx },
	{ DRM_FORMAT_ARGB8888, GST_VIDEO_FORMAT_BGRA },
	{ DRM_FORMAT_ABGR8888, GST_VIDEO_FORMAT_RGBA },
	{ DRM_FORMAT_BGRX8888, GST_VIDEO_FORMAT_xRGB },
	{ DRM_FORMAT_RGBX8888, GST_VIDEO_FORMAT_xBGR },
	{ DRM_FORMAT_BGRA8888, GST_VIDEO_FORMAT_ARGB },
	{ DRM_FORMAT_RGBA8888, GST_VIDEO_FORMAT_ABGR },
};

static GstVideoFormat format_for_fourcc(uint32_t fourcc)
{
	for (size_t i = 0; i < G_N_ELEMENTS(formats); i++) {
		if (formats[i].fourcc == fourcc)
			return formats[i].format;
	}
	return GST_VIDEO_FORMAT_UNKNOWN;
}

/* ---- the encoder ---- */

static const struct zs_encoder_impl gst_impl;

/* The refine level whose budget a requested keyframe gets. */
#define KEYFRAME_BOOST 1

static struct gst_encoder *gst_encoder_from(struct zs_encoder *enc)
{
	g_assert(enc->impl == &gst_impl);
	return container_of(enc, struct gst_encoder, base);
}

/* Keeps errors and warnings on the bus for us to pop; everything else
 * (state changes, stream-start, qos…) would only pile up, since nothing
 * runs a bus watch. A sync handler that drops a message must unref it:
 * each leaked message holds its element, so the whole pipeline (and the
 * socketpair of its GstPoll) leaked at every encoder change. */
static GstBusSyncReply bus_filter(GstBus *bus, GstMessage *msg, gpointer data)
{
	switch (GST_MESSAGE_TYPE(msg)) {
	case GST_MESSAGE_ERROR:
	case GST_MESSAGE_WARNING:
		return GST_BUS_PASS;
	default:
		gst_message_unref(msg);
		return GST_BUS_DROP;
	}
}

/* Logs queued bus messages; true when one was an error. */
static bool drain_bus(struct gst_encoder *g)
{
	GstMessage *msg;
	bool error_seen = false;

	if (!g->bus)
		return false;
	while ((msg = gst_bus_pop(g->bus))) {
		GError *error = NULL;
		gchar *debug = NULL;
		const char *from = GST_MESSAGE_SRC_NAME(msg);

		if (GST_MESSAGE_TYPE(msg) == GST_MESSAGE_ERROR) {
			gst_message_parse_error(msg, &error, &debug);
			g_warning("%s: %s: %s (%s)", g->base.description,
				from ? from : "?", error->message,
				debug ? debug : "no details");
			error_seen = true;
		} else if (GST_MESSAGE_TYPE(msg) == GST_MESSAGE_WARNING) {
			gst_message_parse_warning(msg, &error, &debug);
			g_message("%s: %s: %s (%s)", g->base.description,
				from ? from : "?", error->message,
				debug ? debug : "no details");
		}
		g_clear_error(&error);
		g_free(debug);
		gst_message_unref(msg);
	}
	return error_seen;
}

/* Stops the pipeline for good: drops every buffer it holds (so no wrapped
 * frame outlives the encode call that borrowed it) and makes later encodes
 * fail. */
static bool wait_unmapped(struct gst_encoder *g);

static void fail(struct gst_encoder *g)
{
	g->failed = true;
	gst_element_set_state(g->pipeline, GST_STATE_NULL);
	if (!wait_unmapped(g))
		g_warning("%s: a frame is still referenced after stopping",
			g->base.description);
}


static GstCaps *output_caps(enum zs_codec codec)
{
	const char *media = codec == ZS_CODEC_H264 ? "video/x-h264" :
		"video/x-h265";
	return gst_caps_new_simple(media, "stream-format", G_TYPE_STRING,
		"byte-stream", "alignment", G_TYPE_STRING, "au", NULL);
}

static bool build_pipeline(struct gst_encoder *g, char *err, size_t err_len)
{
	const struct zs_encoder_config *cfg = &g->base.config;
	GstElement *convert, *raw_filter, *parser = NULL, *out_filter = NULL;
	GstElement *sink;
	GstCaps *caps;
	GstVideoInfo info;
	bool linked;

	g->pipeline = gst_pipeline_new("zs-encoder");
	g->appsrc = zs_gst_make("appsrc", err, err_len);
	g->flip = zs_gst_make("videoflip", err, err_len);
	convert = zs_gst_make("videoconvert", err, err_len);
	raw_filter = zs_gst_make("capsfilter", err, err_len);
	g->encoder = zs_gst_make(g->element_name, err, err_len);
	sink = zs_gst_make("appsink", err, err_len);
	if (zs_gst_parser_for[cfg->codec]) {
		parser = zs_gst_make(zs_gst_parser_for[cfg->codec], err,
			err_len);
		out_filter = zs_gst_make("capsfilter", err, err_len);
	}
	if (!g->pipeline || !g->appsrc || !g->flip || !convert || !raw_filter ||
	    !g->encoder || !sink || (zs_gst_parser_for[cfg->codec] &&
	    (!parser || !out_filter))) {
		/* Unparented elements are floating: sink and drop them. */
		GstElement *all[] = { g->appsrc, g->flip, convert, raw_filter,
			g->encoder, sink, parser, out_filter };
		for (size_t i = 0; i < G_N_ELEMENTS(all); i++) {
			if (all[i])
				gst_object_unref(gst_object_ref_sink(all[i]));
		}
		g->appsrc = g->flip = g->encoder = NULL;
		return false;
	}
	gst_bin_add_many(GST_BIN(g->pipeline), g->appsrc, g->flip, convert,
		raw_filter, g->encoder, sink, NULL);
	if (parser)
		gst_bin_add_many(GST_BIN(g->pipeline), parser, out_filter, NULL);
	g->appsink = GST_APP_SINK(sink);

	if (g->yuv)
		info = g->yuv_info;
	else
		gst_video_info_set_format(&info, g->in_format, g->coded_width,
			g->coded_height);
	info.fps_n = (gint)cfg->fps;
	info.fps_d = 1;
	caps = gst_video_info_to_caps(&info);
	/* videoflip starts at identity but does not pass through: it sets
	 * passthrough only when its method changes (GStreamer 1.22
	 * gst_video_flip_set_method), so at identity it copied every frame
	 * into a pool of its own (a 3.7 MB buffer at 720p, and the copy).
	 * Changing the direction later sets passthrough again either way. */
	gst_base_transform_set_passthrough(GST_BASE_TRANSFORM(g->flip), TRUE);
	g_object_set(g->appsrc, "caps", caps, "is-live", TRUE,
		"do-timestamp", FALSE, "format", GST_FORMAT_TIME,
		"max-buffers", (guint64)2, NULL);
	gst_caps_unref(caps);

	/* 0 = as many threads as cores: the conversion runs while the
	 * encoder waits for it. */
	g_object_set(convert, "n-threads", 0u, NULL);
	caps = gst_caps_new_simple("video/x-raw", "format", G_TYPE_STRING,
		"I420", NULL);
	/* JPEG (JFIF) is full-range BT.601 and jpegenc does not convert:
	 * feeding it video-range YUV washes out every picture. */
	if (cfg->codec == ZS_CODEC_MJPEG)
		gst_caps_set_simple(caps, "colorimetry", G_TYPE_STRING,
			"1:4:0:0", NULL);
	g_object_set(raw_filter, "caps", caps, NULL);
	gst_caps_unref(caps);
	zs_gst_configure(g->encoder, g->element_name, cfg);
	if (parser) {
		/* -1: SPS/PPS (VPS) in front of every IDR, so a client that
		 * joins at a forced keyframe can decode. */
		g_object_set(parser, "config-interval", -1, NULL);
		caps = output_caps(cfg->codec);
		g_object_set(out_filter, "caps", caps, NULL);
		gst_caps_unref(caps);
	}
	g_object_set(sink, "sync", FALSE, "max-buffers", 4u, "drop", FALSE,
		"enable-last-sample", FALSE, NULL);

	if (parser)
		linked = gst_element_link_many(g->appsrc, g->flip, convert,
			raw_filter, g->encoder, parser, out_filter, sink, NULL);
	else
		linked = gst_element_link_many(g->appsrc, g->flip, convert,
			raw_filter, g->encoder, sink, NULL);
	if (!linked) {
		snprintf(err, err_len, "cannot link the %s pipeline",
			g->element_name);
		return false;
	}

	g->bus = gst_pipeline_get_bus(GST_PIPELINE(g->pipeline));
	gst_bus_set_sync_handler(g->bus, bus_filter, NULL, NULL);
	if (gst_element_set_state(g->pipeline, GST_STATE_PLAYING) ==
	    GST_STATE_CHANGE_FAILURE) {
		drain_bus(g);
		snprintf(err, err_len, "cannot start the %s pipeline",
			g->element_name);
		return false;
	}
	return true;
}

/* Waits until every wrapped frame has been released by the pipeline, so
 * that the caller may release the borrowed frame when encode returns. */
static bool wait_unmapped(struct gst_encoder *g)
{
	gint64 deadline = g_get_monotonic_time() + G_TIME_SPAN_SECOND;
	bool done = true;

	g_mutex_lock(&g->lock);
	while (g->live_buffers > 0) {
		if (!g_cond_wait_until(&g->unmapped, &g->lock, deadline)) {
			done = g->live_buffers == 0;
			break;
		}
	}
	g_mutex_unlock(&g->lock);
	return done;
}

static void gst_encoder_free(struct gst_encoder *g)
{
	if (g->pipeline) {
		gst_element_set_state(g->pipeline, GST_STATE_NULL);
		drain_bus(g);
	}
	/* Setting NULL dropped every buffer; this only waits for a streaming
	 * thread that is still inside a destroy notify. If a buffer leaked
	 * anyway, leak the encoder too rather than free what its notify
	 * will touch. */
	if (!wait_unmapped(g)) {
		g_warning("%s: a frame is still referenced at destroy; leaking "
			"the encoder", g->base.description);
		return;
	}
	if (g->bus) {
		gst_bus_set_sync_handler(g->bus, NULL, NULL, NULL);
		gst_object_unref(g->bus);
	}
	if (g->pipeline)
		gst_object_unref(g->pipeline);
	g_mutex_clear(&g->lock);
	g_cond_clear(&g->unmapped);
	free(g->yuv);
	free(g);
}

struct zs_encoder *zs_encoder_gst_create_element(
	const struct zs_encoder_config *cfg, const char *element, char *err,
	size_t err_len)
{
	struct gst_encoder *g;
	const char *known = NULL;
	GstVideoInfo i420;
	char fourcc[5];

	if (!zs_gst_ensure_init()) {
		snprintf(err, err_len, "GStreamer is not usable");
		return NULL;
	}
	/* Keep the table's string: element may be the caller's. */
	for (const char *const *name = zs_gst_candidates[cfg->codec]; *name;
	    name++) {
		if (strcmp(*name, element) == 0)
			known = *name;
	}
	if (!known || !zs_gst_have_element(known)) {
		snprintf(err, err_len, "gst encoder: %s cannot encode %s here",
			element, zs_codec_name(cfg->codec));
		return NULL;
	}
	if (format_for_fourcc(cfg->fourcc) == GST_VIDEO_FORMAT_UNKNOWN) {
		snprintf(err, err_len, "gst encoder: unsupported pixel format %s",
			zs_encoder_fourcc_str(cfg->fourcc, fourcc));
		return NULL;
	}
	g = calloc(1, sizeof(*g));
	if (!g) {
		snprintf(err, err_len, "out of memory");
		return NULL;
	}
	g->base.impl = &gst_impl;
	g->base.config = *cfg;
	g->element_name = known;
	g->in_format = format_for_fourcc(cfg->fourcc);
	g->coded_width = cfg->width;
	g->coded_height = cfg->height;
	if (needs_even[cfg->codec]) {
		g->coded_width += cfg->width & 1;
		g->coded_height += cfg->height & 1;
	}
	if (g->coded_width != cfg->width || g->coded_height != cfg->height)
		g_message("gst encoder: %s cannot code %ux%u in 4:2:0; coding "
			"%ux%u with the edge repeated (clients get %ux%u)",
			known, cfg->width, cfg->height, g->coded_width,
			g->coded_height, cfg->width, cfg->height);
	g->frame_duration = gst_util_uint64_scale_int(GST_SECOND, 1,
		(gint)cfg->fps);
	g_mutex_init(&g->lock);
	g_cond_init(&g->unmapped);
	if (cfg->codec == ZS_CODEC_MJPEG)
		snprintf(g->base.description, sizeof(g->base.description),
			"gst:%s %s %ux%u @ q%d", g->element_name,
			zs_codec_name(cfg->codec), cfg->width, cfg->height,
			JPEG_QUALITY);
	else
		snprintf(g->base.description, sizeof(g->base.description),
			"gst:%s %s %ux%u @ %u kbps", g->element_name,
			zs_codec_name(cfg->codec), cfg->width, cfg->height,
			cfg->bitrate_kbps);

	/* What the CPU touches per frame, all in videoconvert: it reads the
	 * visible RGB pixels once and writes an I420 picture. The encoder's
	 * own reads of I420 are the codec's work, not a conversion, and are
	 * not counted. videoflip, when the frame is bottom-up, reads and
	 * writes the RGB picture once more. */
	gst_video_info_set_format(&i420, GST_VIDEO_FORMAT_I420, g->coded_width,
		g->coded_height);
	g->convert_bytes = (uint64_t)g->coded_width * g->coded_height *
		BYTES_PER_PIXEL + GST_VIDEO_INFO_SIZE(&i420);
	g->flip_bytes = 2ull * g->coded_width * g->coded_height *
		BYTES_PER_PIXEL;
	/* The padded copy reads and writes the picture once more. */
	if (g->coded_width != cfg->width || g->coded_height != cfg->height)
		g->convert_bytes += 2ull * g->coded_width * g->coded_height *
			BYTES_PER_PIXEL;

	zs_gst_use_own_conversion(g);
	if (!build_pipeline(g, err, err_len)) {
		gst_encoder_free(g);
		return NULL;
	}
	g_debug("created %s", g->base.description);
	return &g->base;
}

static struct zs_encoder *gst_create(const struct zs_encoder_config *cfg,
	char *err, size_t err_len)
{
	const char *element = zs_gst_element_name(cfg->codec);

	if (!element) {
		snprintf(err, err_len, "gst encoder: no element for %s",
			zs_codec_name(cfg->codec));
		return NULL;
	}
	return zs_encoder_gst_create_element(cfg, element, err, err_len);
}

static void gst_destroy(struct zs_encoder *enc)
{
	gst_encoder_free(gst_encoder_from(enc));
}

static GstSample *pull_output(struct gst_encoder *g, int *ret)
{
	GstClockTime waited = 0;
	GstClockTime timeout = g->n_frames <= 1 ? FIRST_PULL_TIMEOUT_NS :
		PULL_TIMEOUT_NS;

	while (waited < timeout) {
		GstSample *sample = gst_app_sink_try_pull_sample(g->appsink,
			PULL_SLICE_NS);
		if (sample)
			return sample;
		if (drain_bus(g)) {
			*ret = -EIO;
			return NULL;
		}
		if (gst_app_sink_is_eos(g->appsink)) {
			g_warning("%s: the pipeline ended", g->base.description);
			*ret = -EIO;
			return NULL;
		}
		waited += PULL_SLICE_NS;
	}
	g_warning("%s: no output within %" G_GUINT64_FORMAT " ms",
		g->base.description, (guint64)(timeout / GST_MSECOND));
	*ret = -ETIMEDOUT;
	return NULL;
}

static int copy_output(struct gst_encoder *g, GstSample *sample,
	GstClockTime pts, struct zs_access_unit **out)
{
	GstBuffer *buf = gst_sample_get_buffer(sample);
	struct zs_access_unit *au;
	GstMapInfo info;

	if (!buf || !gst_buffer_map(buf, &info, GST_MAP_READ)) {
		g_warning("%s: unreadable output buffer", g->base.description);
		return -EIO;
	}
	/* Some encoders shift every timestamp (x264enc adds 1000 h so that
	 * DTS never goes negative); compare against the first offset. */
	if (!g->have_pts_offset) {
		g->pts_offset = GST_BUFFER_PTS(buf) - pts;
		g->have_pts_offset = true;
	}
	if (GST_BUFFER_PTS(buf) - g->pts_offset != pts && !g->warned_pts) {
		/* Means the encoder holds frames back: one-in-flight is broken
		 * and outputs no longer match inputs. */
		g_warning("%s: output pts %" GST_TIME_FORMAT " for input pts %"
			GST_TIME_FORMAT, g->base.description,
			GST_TIME_ARGS(GST_BUFFER_PTS(buf)), GST_TIME_ARGS(pts));
		g->warned_pts = true;
	}
	au = calloc(1, sizeof(*au));
	if (au && info.size > 0)
		au->data = malloc(info.size);
	if (!au || (info.size > 0 && !au->data)) {
		gst_buffer_unmap(buf, &info);
		free(au);
		return -ENOMEM;
	}
	if (info.size > 0)
		memcpy(au->data, info.data, info.size);
	au->size = info.size;
	/* jpegenc does not mark its output as sync points, but every JPEG
	 * is one. */
	au->keyframe = g->base.config.codec == ZS_CODEC_MJPEG ||
		!GST_BUFFER_FLAG_IS_SET(buf, GST_BUFFER_FLAG_DELTA_UNIT);
	gst_buffer_unmap(buf, &info);
	*out = au;
	return 0;
}

static int gst_set_refine(struct zs_encoder *enc)
{
	struct gst_encoder *g = gst_encoder_from(enc);
	return zs_gst_set_bitrate(g->encoder, g->element_name,
		(uint64_t)g->base.config.bitrate_kbps *
		zs_encoder_refine_factor(g->base.refine_level));
}

static int gst_encode(struct zs_encoder *enc, const struct zs_frame *frame,
	bool force_keyframe, struct zs_access_unit **out)
{
	struct gst_encoder *g = gst_encoder_from(enc);
	GstClockTime pts = g->n_frames * g->frame_duration;
	GstSample *sample;
	GstFlowReturn flow;
	GstBuffer *buf;
	bool flip;
	int ret = 0;

	if (g->failed)
		return -EIO;
	if (frame->modifier != DRM_FORMAT_MOD_LINEAR &&
	    frame->modifier != DRM_FORMAT_MOD_INVALID) {
		/* INVALID (implicit) is taken as linear: that is what a CPU
		 * mapping of such a buffer shows on the drivers we meet. */
		g_warning("%s: frame %" G_GUINT64_FORMAT " has modifier 0x%"
			G_GINT64_MODIFIER "x; the CPU path needs linear",
			g->base.description, frame->id, frame->modifier);
		return -EINVAL;
	}
	if (drain_bus(g)) {
		fail(g);
		return -EIO;
	}

	buf = g->yuv ? zs_gst_convert_frame(g, frame, &ret) :
		zs_gst_wrap_frame(g, frame, &ret);
	if (!buf)
		return ret;
	GST_BUFFER_PTS(buf) = pts;
	GST_BUFFER_DTS(buf) = pts;
	GST_BUFFER_DURATION(buf) = g->frame_duration;

	/* our conversion reads a bottom-up picture upward itself */
	flip = !frame->y0_top && !g->yuv;
	if (flip != g->flipping) {
		zs_gst_set_enum(g->flip, "video-direction",
			flip ? "vert" : "identity");
		g->flipping = flip;
	}
	/* A keyframe asked for costs a whole picture: under a one-frame VBV
	 * x264's sliced threads split the budget by the previous (P) frame's
	 * row costs and starve the lower slices (QP 51, grey on a busy
	 * screen). Raise the ceiling to a refine level's for that frame. */
	bool boost = force_keyframe && g->base.refine_level < KEYFRAME_BOOST;
	if (boost)
		zs_gst_set_bitrate(g->encoder, g->element_name,
			(uint64_t)g->base.config.bitrate_kbps *
			zs_encoder_refine_factor(KEYFRAME_BOOST));
	if (force_keyframe) {
		GstEvent *event = gst_video_event_new_downstream_force_key_unit(
			pts, GST_CLOCK_TIME_NONE, GST_CLOCK_TIME_NONE, TRUE,
			(guint)g->n_frames);
		if (!gst_element_send_event(g->appsrc, event))
			g_warning("%s: force-key-unit event refused",
				g->base.description);
	}

	flow = gst_app_src_push_buffer(GST_APP_SRC(g->appsrc), buf);
	if (flow != GST_FLOW_OK) {
		g_warning("%s: cannot push frame %" G_GUINT64_FORMAT ": %s",
			g->base.description, frame->id, gst_flow_get_name(flow));
		drain_bus(g);
		fail(g);
		return -EIO;
	}
	/* Counted once pushed, whatever happens next: timestamps must keep
	 * increasing. */
	g->n_frames++;
	sample = pull_output(g, &ret);
	if (!sample) {
		fail(g);
		return ret;
	}
	ret = copy_output(g, sample, pts, out);
	gst_sample_unref(sample);
	if (boost)
		zs_gst_set_bitrate(g->encoder, g->element_name,
			(uint64_t)g->base.config.bitrate_kbps *
			zs_encoder_refine_factor(g->base.refine_level));
	if (!wait_unmapped(g)) {
		g_warning("%s: frame %" G_GUINT64_FORMAT " still held by the "
			"pipeline after encoding", g->base.description, frame->id);
		fail(g);
		zs_access_unit_free(*out);
		*out = NULL;
		return -EIO;
	}
	if (ret < 0)
		return ret;
	if (force_keyframe && !(*out)->keyframe)
		g_warning("%s: frame %" G_GUINT64_FORMAT " was to be a keyframe "
			"but is not", g->base.description, frame->id);
	g->base.cpu_pixel_bytes = g->convert_bytes +
		(flip ? g->flip_bytes : 0);
	return 0;
}

static const struct zs_encoder_impl gst_impl = {
	.name = "gst",
	.encode = gst_encode,
	.destroy = gst_destroy,
	.set_refine = gst_set_refine,
};

const struct zs_encoder_backend_ops zs_encoder_gst_backend = {
	.name = "gst",
	.probe = zs_gst_probe,
	.element_name = zs_gst_element_name,
	.create = gst_create,
};
