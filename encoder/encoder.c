/* zerospice — encoder interface: codec names, backend selection, dispatch. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <glib.h>

#include "encoder-private.h"
#include "zs-dmabuf.h"

static const char *const codec_names[ZS_CODEC_COUNT] = {
	[ZS_CODEC_NONE] = "none",
	[ZS_CODEC_MJPEG] = "mjpeg",
	[ZS_CODEC_VP8] = "vp8",
	[ZS_CODEC_H264] = "h264",
	[ZS_CODEC_VP9] = "vp9",
	[ZS_CODEC_H265] = "h265",
};

const char *zs_codec_name(enum zs_codec codec)
{
	if ((unsigned)codec >= ZS_CODEC_COUNT)
		return "unknown";
	return codec_names[codec];
}

bool zs_codec_from_name(const char *name, enum zs_codec *codec)
{
	static const struct {
		const char *alias;
		enum zs_codec codec;
	} aliases[] = {
		{ "avc", ZS_CODEC_H264 },
		{ "hevc", ZS_CODEC_H265 },
		{ "jpeg", ZS_CODEC_MJPEG },
	};

	if (!name || !codec)
		return false;
	for (unsigned i = 0; i < ZS_CODEC_COUNT; i++) {
		if (g_ascii_strcasecmp(name, codec_names[i]) == 0) {
			*codec = (enum zs_codec)i;
			return true;
		}
	}
	for (size_t i = 0; i < G_N_ELEMENTS(aliases); i++) {
		if (g_ascii_strcasecmp(name, aliases[i].alias) == 0) {
			*codec = aliases[i].codec;
			return true;
		}
	}
	return false;
}

static bool codec_is_valid(enum zs_codec codec)
{
	return codec > ZS_CODEC_NONE && (unsigned)codec < ZS_CODEC_COUNT;
}

/* Backends ZS_ENCODER_AUTO tries, best first: the media engine when the
 * driver can encode the codec at the size, else software. */
static const struct zs_encoder_backend_ops *const auto_order[] = {
	&zs_encoder_vaapi_backend,
	&zs_encoder_gst_backend,
};

/* The one place that maps (backend, codec) to an implementation. */
static const struct zs_encoder_backend_ops *select_backend(
	enum zs_encoder_backend backend, enum zs_codec codec)
{
	switch (backend) {
	case ZS_ENCODER_SOFTWARE:
		return &zs_encoder_gst_backend;
	case ZS_ENCODER_VAAPI:
		return &zs_encoder_vaapi_backend;
	case ZS_ENCODER_AUTO:
		for (size_t i = 0; i < G_N_ELEMENTS(auto_order); i++) {
			if (auto_order[i]->probe() & ZS_CODEC_BIT(codec))
				return auto_order[i];
		}
		return NULL;
	}
	return NULL;
}

uint32_t zs_encoder_probe(enum zs_encoder_backend backend)
{
	uint32_t mask = 0;

	switch (backend) {
	case ZS_ENCODER_SOFTWARE:
		return zs_encoder_gst_backend.probe();
	case ZS_ENCODER_VAAPI:
		return zs_encoder_vaapi_backend.probe();
	case ZS_ENCODER_AUTO:
		for (size_t i = 0; i < G_N_ELEMENTS(auto_order); i++)
			mask |= auto_order[i]->probe();
		return mask;
	}
	return 0;
}

const char *zs_encoder_element_name(enum zs_encoder_backend backend,
	enum zs_codec codec)
{
	const struct zs_encoder_backend_ops *ops;

	if (!codec_is_valid(codec))
		return NULL;
	ops = select_backend(backend, codec);
	if (!ops || !(ops->probe() & ZS_CODEC_BIT(codec)))
		return NULL;
	return ops->element_name(codec);
}

uint32_t zs_encoder_default_bitrate_kbps(enum zs_codec codec, uint32_t width,
	uint32_t height, uint32_t fps)
{
	/* Bits per pixel per frame: H.264 gets ~6 Mbit/s at 1280x720@60
	 * (0.11 bpp), the newer codecs need less for the same look. MJPEG is
	 * quality-driven; its figure is only what we report. */
	double bpp;
	switch (codec) {
	case ZS_CODEC_H265: bpp = 0.08; break;
	case ZS_CODEC_VP9: bpp = 0.10; break;
	case ZS_CODEC_VP8: bpp = 0.12; break;
	case ZS_CODEC_MJPEG: bpp = 1.0; break;
	case ZS_CODEC_H264:
	default: bpp = 0.11; break;
	}
	double kbps = (double)width * height * fps * bpp / 1000.0;
	/* A floor for small or slow pictures: desktop text needs bits per
	 * frame, and a still screen is shown at its keyframe's quality. At
	 * 720x400 (a firmware screen at QEMU's 33 fps) the scaled figure,
	 * ~1 Mbit/s, gave keyframes of ~31 dB; 4 Mbit/s gives ~45 dB. */
	double floor_kbps = 4000.0 * bpp / 0.11;
	if (kbps < floor_kbps)
		kbps = floor_kbps;
	if (kbps > 200000)
		kbps = 200000;
	return (uint32_t)kbps;
}

bool zs_encoder_normalise_config(struct zs_encoder_config *cfg, char *err,
	size_t err_len)
{
	if (!codec_is_valid(cfg->codec)) {
		snprintf(err, err_len, "invalid codec %d", (int)cfg->codec);
		return false;
	}
	if (cfg->width == 0 || cfg->height == 0 ||
	    cfg->width > ZS_ENCODER_MAX_DIM || cfg->height > ZS_ENCODER_MAX_DIM) {
		snprintf(err, err_len, "invalid size %ux%u (1..%u)", cfg->width,
			cfg->height, ZS_ENCODER_MAX_DIM);
		return false;
	}
	if (cfg->fps == 0)
		cfg->fps = ZS_ENCODER_DEFAULT_FPS;
	if (cfg->fps > 1000) {
		snprintf(err, err_len, "invalid frame rate %u", cfg->fps);
		return false;
	}
	if (cfg->bitrate_kbps == 0)
		cfg->bitrate_kbps = zs_encoder_default_bitrate_kbps(cfg->codec,
			cfg->width, cfg->height, cfg->fps);
	return true;
}

/* The first backend in auto_order that can encode this config; each one
 * passed over is logged with its reason. */
static struct zs_encoder *create_auto(const struct zs_encoder_config *cfg,
	char *err, size_t err_len)
{
	char why[256];

	snprintf(err, err_len, "no %s encoder available",
		zs_codec_name(cfg->codec));
	for (size_t i = 0; i < G_N_ELEMENTS(auto_order); i++) {
		const struct zs_encoder_backend_ops *ops = auto_order[i];
		struct zs_encoder *enc;
		bool last = i + 1 == G_N_ELEMENTS(auto_order);

		if (!(ops->probe() & ZS_CODEC_BIT(cfg->codec))) {
			if (!last)
				g_message("encoder auto: %s cannot encode %s on "
					"this machine; trying %s", ops->name,
					zs_codec_name(cfg->codec),
					auto_order[i + 1]->name);
			continue;
		}
		why[0] = '\0';
		enc = ops->create(cfg, why, sizeof(why));
		if (enc)
			return enc;
		snprintf(err, err_len, "%s", why);
		if (!last)
			g_message("encoder auto: %s cannot encode %s %ux%u: %s; "
				"trying %s", ops->name, zs_codec_name(cfg->codec),
				cfg->width, cfg->height, why,
				auto_order[i + 1]->name);
	}
	return NULL;
}

struct zs_encoder *zs_encoder_create(enum zs_encoder_backend backend,
	const struct zs_encoder_config *config, char *err, size_t err_len)
{
	char dummy[1];
	struct zs_encoder_config cfg;
	const struct zs_encoder_backend_ops *ops;

	if (!err || err_len == 0) {
		err = dummy;
		err_len = sizeof(dummy);
	}
	err[0] = '\0';
	if (!config) {
		snprintf(err, err_len, "no encoder config");
		return NULL;
	}
	cfg = *config;
	if (!zs_encoder_normalise_config(&cfg, err, err_len))
		return NULL;

	if (backend == ZS_ENCODER_AUTO)
		return create_auto(&cfg, err, err_len);
	ops = select_backend(backend, cfg.codec);
	if (!ops) {
		snprintf(err, err_len, "no %s encoder available (backend %d)",
			zs_codec_name(cfg.codec), (int)backend);
		return NULL;
	}
	if (!(ops->probe() & ZS_CODEC_BIT(cfg.codec))) {
		snprintf(err, err_len, "backend %s cannot encode %s on this machine",
			ops->name, zs_codec_name(cfg.codec));
		return NULL;
	}
	return ops->create(&cfg, err, err_len);
}

void zs_encoder_destroy(struct zs_encoder *enc)
{
	if (!enc)
		return;
	enc->impl->destroy(enc);
}

static uint64_t monotonic_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

const char *zs_encoder_fourcc_str(uint32_t fourcc, char buf[5])
{
	for (int i = 0; i < 4; i++) {
		char c = (char)((fourcc >> (8 * i)) & 0xff);
		buf[i] = g_ascii_isprint(c) ? c : '?';
	}
	buf[4] = '\0';
	return buf;
}

/* What every backend needs; plane layout and modifiers are checked by the
 * backend, which knows what it can read. */
static int check_frame(const struct zs_encoder *enc,
	const struct zs_frame *frame)
{
	const struct zs_encoder_config *cfg = &enc->config;
	char got[5], want[5];

	if (frame->width != cfg->width || frame->height != cfg->height) {
		g_warning("%s: frame %" G_GUINT64_FORMAT " is %ux%u, encoder "
			"expects %ux%u", enc->description, frame->id, frame->width,
			frame->height, cfg->width, cfg->height);
		return -EINVAL;
	}
	if (frame->fourcc != cfg->fourcc) {
		g_warning("%s: frame %" G_GUINT64_FORMAT " has format %s, "
			"encoder expects %s", enc->description, frame->id,
			zs_encoder_fourcc_str(frame->fourcc, got),
			zs_encoder_fourcc_str(cfg->fourcc, want));
		return -EINVAL;
	}
	if (frame->n_planes < 1 || frame->n_planes > ZS_FRAME_MAX_PLANES) {
		g_warning("%s: frame %" G_GUINT64_FORMAT " has %d planes",
			enc->description, frame->id, frame->n_planes);
		return -EINVAL;
	}
	return 0;
}

int zs_encoder_encode(struct zs_encoder *enc, const struct zs_frame *frame,
	bool force_keyframe, struct zs_access_unit **out)
{
	struct zs_access_unit *au = NULL;
	uint64_t start_us;
	int ret;

	if (out)
		*out = NULL;
	if (!enc || !frame || !out)
		return -EINVAL;
	ret = check_frame(enc, frame);
	if (ret < 0)
		return ret;

	start_us = monotonic_us();
	ret = enc->impl->encode(enc, frame, force_keyframe, &au);
	if (ret < 0)
		return ret;
	au->frame_id = frame->id;
	au->capture_us = frame->capture_us;
	au->encode_start_us = start_us;
	au->encode_end_us = monotonic_us();
	au->codec = enc->config.codec;
	au->width = enc->config.width;
	au->height = enc->config.height;
	if (zs_au_end_mark(&enc->au_end, au) < 0) {
		zs_access_unit_free(au);
		return -ENOMEM;
	}
	*out = au;
	return 0;
}

int zs_encoder_set_refine(struct zs_encoder *enc, unsigned level)
{
	if (!enc)
		return -EINVAL;
	if (level > ZS_ENCODER_REFINE_MAX)
		level = ZS_ENCODER_REFINE_MAX;
	if (!enc->impl->set_refine && !enc->impl->reads_refine_level)
		return level ? -ENOTSUP : 0;
	if (level == enc->refine_level)
		return 0;
	unsigned old = enc->refine_level;
	enc->refine_level = level;
	if (enc->impl->set_refine) {
		int ret = enc->impl->set_refine(enc);
		if (ret < 0) {
			enc->refine_level = old;
			return ret;
		}
	}
	return 0;
}

int zs_encoder_set_bitrate(struct zs_encoder *enc, uint32_t kbps)
{
	if (!enc || kbps == 0)
		return -EINVAL;
	if (kbps == enc->config.bitrate_kbps)
		return 0;
	if (!enc->impl->set_refine && !enc->impl->reads_refine_level)
		return -ENOTSUP;
	uint32_t old = enc->config.bitrate_kbps;
	enc->config.bitrate_kbps = kbps;
	if (enc->impl->set_refine) {
		int ret = enc->impl->set_refine(enc);
		if (ret < 0) {
			enc->config.bitrate_kbps = old;
			return ret;
		}
	}
	return 0;
}

uint32_t zs_encoder_bitrate_kbps(const struct zs_encoder *enc)
{
	return enc ? enc->config.bitrate_kbps : 0;
}

unsigned zs_encoder_refine_level(const struct zs_encoder *enc)
{
	return enc ? enc->refine_level : 0;
}

void zs_access_unit_free(struct zs_access_unit *au)
{
	if (!au)
		return;
	free(au->data);
	free(au);
}

const char *zs_encoder_describe(const struct zs_encoder *enc)
{
	return enc ? enc->description : "(no encoder)";
}

uint64_t zs_encoder_cpu_pixel_bytes(const struct zs_encoder *enc)
{
	return enc ? enc->cpu_pixel_bytes : 0;
}
