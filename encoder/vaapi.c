/* zerospice — VA-API encoder backend.
 *
 *   frame fds ─(DRM_PRIME_2 import, cached per buffer)─► RGB surface
 *     ─(VPP: BT.709 limited, mirror for bottom-up frames)─► NV12 surface
 *     ─(H.264 or HEVC EncSliceLP/EncSlice, our packed parameter sets and
 *       slice headers)─►
 *     coded buffer segments ─► one Annex-B access unit
 *
 * No pixel crosses the CPU: cpu_pixel_bytes stays 0. One frame in flight;
 * infinite GOP, IDR on request; P frames reference the previous picture.
 * When the driver fails mid-stream the encoder switches to the software
 * backend for good, starting with a keyframe. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <drm_fourcc.h>
#include <glib.h>
#include <va/va.h>
#include <va/va_enc_h264.h>
#include <va/va_vpp.h>

#include "encoder-private.h"
#include "nal.h"
#include "vaapi-encoder.h"


/* ---- device selection and probing (process-wide, cached) ---- */

static GMutex probe_lock;
static char *device_override;
static struct {
	bool done, usable;
	uint32_t mask; /* ZS_CODEC_BIT of what the driver can encode */
	char path[256];
	char why[256];
	char vendor[128];
	struct zs_va_candidate cands[ZS_VA_MAX_CANDIDATES];
	size_t n;
} probed;

void zs_encoder_set_va_device(const char *path)
{
	g_mutex_lock(&probe_lock);
	g_free(device_override);
	device_override = path && *path ? g_strdup(path) : NULL;
	probed.done = false;
	g_mutex_unlock(&probe_lock);
}

static void probe_locked(void)
{
	struct zs_va_device dev;
	struct zs_va_choice choice;
	bool vpp = false;
	char why[256], why_hevc[256];

	if (probed.done)
		return;
	memset(&probed, 0, sizeof(probed));
	probed.done = true;
	if (device_override) {
		g_snprintf(probed.path, sizeof(probed.path), "%s", device_override);
	} else if (!zs_va_default_device(probed.path, sizeof(probed.path),
			probed.why, sizeof(probed.why))) {
		g_message("vaapi: no hardware encoder: %s", probed.why);
		return;
	}
	if (!zs_va_device_open(&dev, probed.path, why, sizeof(why))) {
		g_snprintf(probed.why, sizeof(probed.why), "%s", why);
		g_message("vaapi: no hardware encoder: %s", probed.why);
		return;
	}
	g_snprintf(probed.vendor, sizeof(probed.vendor), "%s",
		dev.vendor ? dev.vendor : "unknown driver");
	if (!zs_va_device_probe(&dev, probed.cands, &probed.n, &vpp, why,
		sizeof(why))) {
		g_snprintf(probed.why, sizeof(probed.why), "%s: %s", probed.path,
			why);
	} else if (!vpp) {
		g_snprintf(probed.why, sizeof(probed.why), "%s (%s) has no video "
			"processing entrypoint for RGB → NV12", probed.path,
			probed.vendor);
	} else {
		if (zs_va_select_h264(probed.cands, probed.n, 0, 0, &choice, why,
			sizeof(why))) {
			probed.mask |= ZS_CODEC_BIT(ZS_CODEC_H264);
			g_message("vaapi: %s (%s): H.264 %s/%s %s", probed.path,
				probed.vendor, zs_va_profile_name(choice.profile),
				zs_va_entrypoint_name(choice.entrypoint),
				zs_va_rc_name(choice.rc_mode));
		}
		if (zs_va_select_h265(probed.cands, probed.n, 0, 0, &choice,
			why_hevc, sizeof(why_hevc))) {
			probed.mask |= ZS_CODEC_BIT(ZS_CODEC_H265);
			g_message("vaapi: %s (%s): HEVC %s/%s %s%s", probed.path,
				probed.vendor, zs_va_profile_name(choice.profile),
				zs_va_entrypoint_name(choice.entrypoint),
				zs_va_rc_name(choice.rc_mode),
				choice.hevc.low_delay_b ? " low-delay B" : "");
		} else if (probed.mask) {
			g_debug("vaapi: %s: no HEVC: %s", probed.path, why_hevc);
		}
		probed.usable = probed.mask != 0;
		if (!probed.usable)
			g_snprintf(probed.why, sizeof(probed.why), "%s (%s): %s",
				probed.path, probed.vendor, why);
	}
	if (!probed.usable)
		g_message("vaapi: no hardware encoder: %s", probed.why);
	zs_va_device_close(&dev);
}

static uint32_t vaapi_probe(void)
{
	uint32_t mask;

	g_mutex_lock(&probe_lock);
	probe_locked();
	mask = probed.mask;
	g_mutex_unlock(&probe_lock);
	return mask;
}

static const char *vaapi_element_name(enum zs_codec codec)
{
	switch (codec) {
	case ZS_CODEC_H264: return "vaapi-h264";
	case ZS_CODEC_H265: return "vaapi-h265";
	default: return NULL;
	}
}

/* ---- the encoder ---- */


static const struct zs_encoder_impl vaapi_impl;

static struct zs_va_encoder *va_encoder_from(struct zs_encoder *enc)
{
	g_assert(enc->impl == &vaapi_impl);
	return container_of(enc, struct zs_va_encoder, base);
}

bool zs_va_ok(struct zs_va_encoder *v, VAStatus status, const char *what)
{
	if (status == VA_STATUS_SUCCESS)
		return true;
	g_warning("%s: %s: %s", v->base.description, what, vaErrorStr(status));
	return false;
}

static void release_va(struct zs_va_encoder *v)
{
	VADisplay d = v->dev.display;
	VASurfaceID s;

	if (!d)
		return;
	while ((s = zs_va_surface_cache_evict(&v->cache, 0)) != VA_INVALID_SURFACE)
		vaDestroySurfaces(d, &s, 1);
	if (v->coded_buf != VA_INVALID_ID)
		vaDestroyBuffer(d, v->coded_buf);
	if (v->enc_ctx != VA_INVALID_ID)
		vaDestroyContext(d, v->enc_ctx);
	if (v->vpp_ctx != VA_INVALID_ID)
		vaDestroyContext(d, v->vpp_ctx);
	for (int i = 0; i < N_RECON; i++) {
		if (v->recon[i] != VA_INVALID_SURFACE)
			vaDestroySurfaces(d, &v->recon[i], 1);
	}
	if (v->input != VA_INVALID_SURFACE)
		vaDestroySurfaces(d, &v->input, 1);
	if (v->enc_config != VA_INVALID_ID)
		vaDestroyConfig(d, v->enc_config);
	if (v->vpp_config != VA_INVALID_ID)
		vaDestroyConfig(d, v->vpp_config);
	v->coded_buf = v->enc_ctx = v->vpp_ctx = VA_INVALID_ID;
	v->enc_config = v->vpp_config = VA_INVALID_ID;
	v->input = v->recon[0] = v->recon[1] = VA_INVALID_SURFACE;
	zs_va_device_close(&v->dev);
}

static void vaapi_destroy(struct zs_encoder *enc)
{
	struct zs_va_encoder *v = va_encoder_from(enc);

	zs_encoder_destroy(v->fallback);
	release_va(v);
	free(v);
}

static bool setup_vpp(struct zs_va_encoder *v, char *err, size_t err_len)
{
	const struct zs_encoder_config *cfg = &v->base.config;
	VAProcPipelineCaps caps = { 0 };
	VAStatus st;

	st = vaCreateConfig(v->dev.display, VAProfileNone,
		VAEntrypointVideoProc, NULL, 0, &v->vpp_config);
	if (st != VA_STATUS_SUCCESS) {
		g_snprintf(err, err_len, "vaCreateConfig(VideoProc): %s",
			vaErrorStr(st));
		return false;
	}
	st = vaCreateContext(v->dev.display, v->vpp_config, (int)cfg->width,
		(int)cfg->height, VA_PROGRESSIVE, &v->input, 1, &v->vpp_ctx);
	if (st != VA_STATUS_SUCCESS) {
		g_snprintf(err, err_len, "vaCreateContext(VideoProc): %s",
			vaErrorStr(st));
		return false;
	}
	st = vaQueryVideoProcPipelineCaps(v->dev.display, v->vpp_ctx, NULL, 0,
		&caps);
	if (st == VA_STATUS_SUCCESS) {
		v->can_mirror = caps.mirror_flags & VA_MIRROR_VERTICAL;
		if (caps.num_output_color_standards > 0 &&
		    caps.output_color_standards) {
			bool bt709 = false;
			for (uint32_t i = 0; i < caps.num_output_color_standards; i++)
				bt709 |= caps.output_color_standards[i] ==
					VAProcColorStandardBT709;
			if (!bt709) {
				g_snprintf(err, err_len, "VPP cannot output BT.709");
				return false;
			}
		}
	}
	return true;
}

static bool setup_encode(struct zs_va_encoder *v, char *err, size_t err_len)
{
	const struct zs_encoder_config *cfg = &v->base.config;
	VASurfaceID targets[1 + N_RECON];
	VAConfigAttrib attrs[] = {
		{ .type = VAConfigAttribRTFormat, .value = VA_RT_FORMAT_YUV420 },
		{ .type = VAConfigAttribRateControl, .value = v->choice.rc_mode },
		{ .type = VAConfigAttribEncPackedHeaders,
		  .value = v->choice.packed_headers },
	};
	uint32_t coded_size;
	VAStatus st;

	st = vaCreateConfig(v->dev.display, v->choice.profile,
		v->choice.entrypoint, attrs, (int)G_N_ELEMENTS(attrs),
		&v->enc_config);
	if (st != VA_STATUS_SUCCESS) {
		g_snprintf(err, err_len, "vaCreateConfig(%s %s/%s): %s",
			zs_codec_name(cfg->codec),
			zs_va_profile_name(v->choice.profile),
			zs_va_entrypoint_name(v->choice.entrypoint),
			vaErrorStr(st));
		return false;
	}
	targets[0] = v->input;
	for (int i = 0; i < N_RECON; i++)
		targets[1 + i] = v->recon[i];
	st = vaCreateContext(v->dev.display, v->enc_config, (int)cfg->width,
		(int)cfg->height, VA_PROGRESSIVE, targets, 1 + N_RECON,
		&v->enc_ctx);
	if (st != VA_STATUS_SUCCESS) {
		g_snprintf(err, err_len, "vaCreateContext(%s): %s",
			zs_codec_name(cfg->codec), vaErrorStr(st));
		return false;
	}
	/* Room for an uncompressed 4:2:0 picture (in whole 64x64 blocks,
	 * the largest HEVC CTB) plus emulation prevention and headers: any
	 * real encoder's worst case, and the fake driver's PCM output. */
	coded_size = ((cfg->width + 63) / 64) * ((cfg->height + 63) / 64) *
		(64u * 64u * 3u / 2u) * 3u / 2u + (64u << 10);
	st = vaCreateBuffer(v->dev.display, v->enc_ctx, VAEncCodedBufferType,
		coded_size, 1, NULL, &v->coded_buf);
	if (st != VA_STATUS_SUCCESS) {
		g_snprintf(err, err_len, "vaCreateBuffer(coded, %u bytes): %s",
			coded_size, vaErrorStr(st));
		return false;
	}
	return true;
}

static bool init_h264(struct zs_va_encoder *v)
{
	const struct zs_encoder_config *cfg = &v->base.config;

	if (!zs_h264_sps_init(&v->sps, v->choice.profile_idc, cfg->width,
		cfg->height, cfg->fps, cfg->bitrate_kbps))
		return false;
	v->pps = (struct zs_h264_pps){
		.entropy_coding_mode = v->choice.cabac,
		.transform_8x8_mode = v->choice.profile_idc ==
			ZS_H264_PROFILE_HIGH,
		.deblocking_filter_control_present = true,
		.pic_init_qp_minus26 = v->choice.rc_mode == VA_RC_CQP ?
			CQP_QP - 26 : 0,
	};
	return true;
}

/* Parameter sets that use what the driver does (v->choice.hevc). */
static bool init_h265(struct zs_va_encoder *v)
{
	const struct zs_encoder_config *cfg = &v->base.config;
	const struct zs_va_hevc_choice *h = &v->choice.hevc;
	struct zs_h265_sps *sps = &v->hevc_sps;

	if (!zs_h265_sps_init(sps, cfg->width, cfg->height, cfg->fps,
		cfg->bitrate_kbps, h->log2_ctb, h->log2_min_cb))
		return false;
	sps->log2_min_tb = h->log2_min_tb;
	sps->log2_max_tb = h->log2_max_tb;
	sps->max_transform_depth_inter = h->depth_inter;
	sps->max_transform_depth_intra = h->depth_intra;
	sps->amp = h->amp;
	sps->sao = h->sao;
	sps->temporal_mvp = h->temporal_mvp;
	sps->strong_intra_smoothing = h->strong_intra_smoothing;
	sps->pcm = h->pcm;
	sps->log2_min_pcm = h->log2_min_pcm;
	sps->log2_max_pcm = h->log2_max_pcm;
	/* PCM is lossless: filtering it could only make it worse */
	sps->pcm_loop_filter_disabled = h->pcm;
	v->hevc_pps = (struct zs_h265_pps){
		.init_qp_minus26 = v->choice.rc_mode == VA_RC_CQP ?
			CQP_QP - 26 : 0,
		.cu_qp_delta = h->cu_qp_delta,
	};
	return true;
}

static struct zs_encoder *vaapi_create(const struct zs_encoder_config *cfg,
	char *err, size_t err_len)
{
	struct zs_va_candidate cands[ZS_VA_MAX_CANDIDATES];
	struct zs_va_encoder *v;
	char path[256], fourcc[5], why[200];
	size_t n;
	bool vpp;
	VAStatus st;

	if (cfg->codec != ZS_CODEC_H264 && cfg->codec != ZS_CODEC_H265) {
		g_snprintf(err, err_len, "vaapi: %s is not implemented (H.264 "
			"and H.265 only)", zs_codec_name(cfg->codec));
		return NULL;
	}
	if (!zs_va_fourcc_for_drm(cfg->fourcc)) {
		g_snprintf(err, err_len, "vaapi: cannot import %s frames",
			zs_encoder_fourcc_str(cfg->fourcc, fourcc));
		return NULL;
	}
	if ((cfg->width | cfg->height) & 1) {
		g_snprintf(err, err_len, "vaapi: %ux%u: NV12 needs even sizes",
			cfg->width, cfg->height);
		return NULL;
	}
	g_mutex_lock(&probe_lock);
	probe_locked();
	g_snprintf(path, sizeof(path), "%s", probed.path);
	g_snprintf(why, sizeof(why), "%s", probed.why);
	g_mutex_unlock(&probe_lock);

	v = calloc(1, sizeof(*v));
	if (!v) {
		g_snprintf(err, err_len, "out of memory");
		return NULL;
	}
	v->base.impl = &vaapi_impl;
	v->base.config = *cfg;
	v->dev.fd = -1;
	v->coded_buf = v->enc_ctx = v->vpp_ctx = VA_INVALID_ID;
	v->enc_config = v->vpp_config = VA_INVALID_ID;
	v->input = v->recon[0] = v->recon[1] = VA_INVALID_SURFACE;
	v->try_prime2 = true;
	zs_va_surface_cache_init(&v->cache);
	g_snprintf(v->base.description, sizeof(v->base.description),
		"vaapi %s %ux%u", zs_codec_name(cfg->codec), cfg->width,
		cfg->height);

	if (!path[0]) {
		g_snprintf(err, err_len, "vaapi: %s", why[0] ? why : "no device");
		goto err;
	}
	if (!zs_va_device_open(&v->dev, path, why, sizeof(why)) ||
	    !zs_va_device_probe(&v->dev, cands, &n, &vpp, why, sizeof(why))) {
		g_snprintf(err, err_len, "vaapi: %s", why);
		goto err;
	}
	if (!vpp) {
		g_snprintf(err, err_len, "vaapi: %s has no video processing", path);
		goto err;
	}
	if (cfg->codec == ZS_CODEC_H265 ?
	    !zs_va_select_h265(cands, n, cfg->width, cfg->height, &v->choice,
		why, sizeof(why)) :
	    !zs_va_select_h264(cands, n, cfg->width, cfg->height, &v->choice,
		why, sizeof(why))) {
		g_snprintf(err, err_len, "vaapi: %s", why);
		goto err;
	}
	if (cfg->codec == ZS_CODEC_H265 ? !init_h265(v) : !init_h264(v)) {
		g_snprintf(err, err_len, "vaapi: %s cannot code %ux%u",
			zs_codec_name(cfg->codec), cfg->width, cfg->height);
		goto err;
	}
	st = vaCreateSurfaces(v->dev.display, VA_RT_FORMAT_YUV420, cfg->width,
		cfg->height, &v->input, 1, NULL, 0);
	if (st == VA_STATUS_SUCCESS)
		st = vaCreateSurfaces(v->dev.display, VA_RT_FORMAT_YUV420,
			cfg->width, cfg->height, v->recon, N_RECON, NULL, 0);
	if (st != VA_STATUS_SUCCESS) {
		g_snprintf(err, err_len, "vaapi: vaCreateSurfaces(NV12): %s",
			vaErrorStr(st));
		goto err;
	}
	if (!setup_vpp(v, why, sizeof(why)) ||
	    !setup_encode(v, why, sizeof(why))) {
		g_snprintf(err, err_len, "vaapi: %s", why);
		goto err;
	}
	if (v->choice.rc_mode == VA_RC_CQP)
		g_snprintf(v->base.description, sizeof(v->base.description),
			"vaapi:%s %s %s/%s cqp %u %ux%u", path,
			zs_codec_name(cfg->codec),
			zs_va_profile_name(v->choice.profile),
			zs_va_entrypoint_name(v->choice.entrypoint), CQP_QP,
			cfg->width, cfg->height);
	else
		g_snprintf(v->base.description, sizeof(v->base.description),
			"vaapi:%s %s %s/%s %s %ux%u @ %u kbps", path,
			zs_codec_name(cfg->codec),
			zs_va_profile_name(v->choice.profile),
			zs_va_entrypoint_name(v->choice.entrypoint),
			zs_va_rc_name(v->choice.rc_mode), cfg->width,
			cfg->height, cfg->bitrate_kbps);
	g_debug("created %s (%s)", v->base.description, v->dev.vendor);
	return &v->base;

err:
	release_va(v);
	free(v);
	return NULL;
}

/* ---- source import ---- */

static uint64_t fd_size(int fd)
{
	off_t end = lseek(fd, 0, SEEK_END);
	return end < 0 ? 0 : (uint64_t)end;
}

static VAStatus import_frame(struct zs_va_encoder *v,
	const struct zs_frame *frame,
	VASurfaceID *out)
{
	uint64_t sizes[ZS_FRAME_MAX_PLANES] = { 0 };
	VASurfaceAttrib attrs[2] = {
		{ .type = VASurfaceAttribMemoryType,
		  .flags = VA_SURFACE_ATTRIB_SETTABLE,
		  .value.type = VAGenericValueTypeInteger },
		{ .type = VASurfaceAttribExternalBufferDescriptor,
		  .flags = VA_SURFACE_ATTRIB_SETTABLE,
		  .value.type = VAGenericValueTypePointer },
	};
	VADRMPRIMESurfaceDescriptor desc;
	VASurfaceAttribExternalBuffers eb;
	uintptr_t fd_slot;
	VAStatus st = VA_STATUS_ERROR_INVALID_PARAMETER;

	for (int i = 0; i < frame->n_planes && i < ZS_FRAME_MAX_PLANES; i++)
		sizes[i] = fd_size(frame->planes[i].fd);
	if (v->try_prime2 && zs_va_build_prime2(frame, sizes, &desc) == 0) {
		attrs[0].value.value.i = VA_SURFACE_ATTRIB_MEM_TYPE_DRM_PRIME_2;
		attrs[1].value.value.p = &desc;
		st = vaCreateSurfaces(v->dev.display, VA_RT_FORMAT_RGB32,
			frame->width, frame->height, out, 1, attrs, 2);
		if (st == VA_STATUS_SUCCESS)
			return st;
		if (st == VA_STATUS_ERROR_UNSUPPORTED_MEMORY_TYPE ||
		    st == VA_STATUS_ERROR_ATTR_NOT_SUPPORTED) {
			g_message("%s: no DRM_PRIME_2 import (%s); using DRM_PRIME",
				v->base.description, vaErrorStr(st));
			v->try_prime2 = false;
		}
	}
	if (zs_va_build_prime_legacy(frame, sizes[0], &eb, &fd_slot) == 0) {
		attrs[0].value.value.i = VA_SURFACE_ATTRIB_MEM_TYPE_DRM_PRIME;
		attrs[1].value.value.p = &eb;
		st = vaCreateSurfaces(v->dev.display, VA_RT_FORMAT_RGB32,
			frame->width, frame->height, out, 1, attrs, 2);
	}
	return st;
}

/* The source surface for frame: cached, or imported now. */
static VAStatus source_surface(struct zs_va_encoder *v,
	const struct zs_frame *frame, VASurfaceID *out)
{
	struct zs_va_buffer_key key;
	VASurfaceID s;
	VAStatus st;
	int ret;

	ret = zs_va_buffer_key_init(&key, frame);
	if (ret < 0) {
		g_warning("%s: frame %" G_GUINT64_FORMAT ": fstat: %s",
			v->base.description, frame->id, strerror(-ret));
		return VA_STATUS_ERROR_INVALID_PARAMETER;
	}
	/* buffers the source stopped sending */
	while ((s = zs_va_surface_cache_evict(&v->cache,
			ZS_VA_CACHE_MAX_AGE)) != VA_INVALID_SURFACE)
		vaDestroySurfaces(v->dev.display, &s, 1);
	*out = zs_va_surface_cache_lookup(&v->cache, &key);
	if (*out != VA_INVALID_SURFACE)
		return VA_STATUS_SUCCESS;
	st = import_frame(v, frame, out);
	if (st != VA_STATUS_SUCCESS) {
		char fourcc[5];
		g_warning("%s: import of frame %" G_GUINT64_FORMAT " (%s, "
			"modifier 0x%" G_GINT64_MODIFIER "x, stride %u) refused: %s",
			v->base.description, frame->id,
			zs_encoder_fourcc_str(frame->fourcc, fourcc),
			frame->modifier, frame->planes[0].stride, vaErrorStr(st));
		return st;
	}
	s = zs_va_surface_cache_insert(&v->cache, &key, *out);
	if (s != VA_INVALID_SURFACE)
		vaDestroySurfaces(v->dev.display, &s, 1);
	return VA_STATUS_SUCCESS;
}

/* ---- per frame ---- */

static bool convert(struct zs_va_encoder *v, const struct zs_frame *frame,
	VASurfaceID src)
{
	VAProcPipelineParameterBuffer pp = {
		.surface = src,
		.surface_color_standard = VAProcColorStandardBT709,
		.output_background_color = 0xff000000,
		.output_color_standard = VAProcColorStandardBT709,
		.input_color_properties = {
			.color_range = VA_SOURCE_RANGE_FULL,
		},
		.output_color_properties = {
			.color_range = VA_SOURCE_RANGE_REDUCED,
			.colour_primaries = 1,
			.transfer_characteristics = 1,
			.matrix_coefficients = 1,
		},
		.mirror_state = frame->y0_top ? VA_MIRROR_NONE :
			VA_MIRROR_VERTICAL,
	};
	VABufferID buf;
	bool ok;

	if (!zs_va_ok(v, vaCreateBuffer(v->dev.display, v->vpp_ctx,
		VAProcPipelineParameterBufferType, sizeof(pp), 1, &pp, &buf),
		"vaCreateBuffer(VPP)"))
		return false;
	ok = zs_va_ok(v, vaBeginPicture(v->dev.display, v->vpp_ctx, v->input),
		"vaBeginPicture(VPP)") &&
	     zs_va_ok(v, vaRenderPicture(v->dev.display, v->vpp_ctx, &buf, 1),
		"vaRenderPicture(VPP)") &&
	     zs_va_ok(v, vaEndPicture(v->dev.display, v->vpp_ctx),
		"vaEndPicture(VPP)");
	vaDestroyBuffer(v->dev.display, buf);
	return ok;
}

/* After a driver failure: hands this and every later frame to the
 * software backend, starting with a keyframe. */
static int switch_to_software(struct zs_va_encoder *v,
	const struct zs_frame *frame, struct zs_access_unit **out,
	const char *reason)
{
	char err[256];
	int ret;

	g_warning("%s: %s; switching to software encoding at this frame "
		"(a keyframe)", v->base.description, reason);
	release_va(v);
	v->fallback = zs_encoder_gst_backend.create(&v->base.config, err,
		sizeof(err));
	if (!v->fallback) {
		g_warning("%s: no software encoder either: %s",
			v->base.description, err);
		return -EIO;
	}
	g_snprintf(v->base.description, sizeof(v->base.description),
		"%s (after vaapi failed)", v->fallback->description);
	ret = v->fallback->impl->encode(v->fallback, frame, true, out);
	v->base.cpu_pixel_bytes = v->fallback->cpu_pixel_bytes;
	return ret;
}

static int vaapi_encode(struct zs_encoder *enc, const struct zs_frame *frame,
	bool force_keyframe, struct zs_access_unit **out)
{
	struct zs_va_encoder *v = va_encoder_from(enc);
	VASurfaceID src;
	VAStatus st;
	int ret;

	if (v->fallback) {
		zs_encoder_set_refine(v->fallback, v->base.refine_level);
		zs_encoder_set_bitrate(v->fallback, v->base.config.bitrate_kbps);
		ret = v->fallback->impl->encode(v->fallback, frame,
			force_keyframe, out);
		v->base.cpu_pixel_bytes = v->fallback->cpu_pixel_bytes;
		return ret;
	}
	if (!v->dev.display)
		return -EIO;
	if (!frame->y0_top && !v->can_mirror)
		return switch_to_software(v, frame, out,
			"bottom-up frame and no VPP mirroring");
	st = source_surface(v, frame, &src);
	if (st != VA_STATUS_SUCCESS)
		return switch_to_software(v, frame, out, "import refused");
	if (!convert(v, frame, src))
		return switch_to_software(v, frame, out, "colour conversion failed");
	if (v->base.config.codec == ZS_CODEC_H265 ?
	    !zs_va_encode_h265(v, force_keyframe || !v->have_ref, out) :
	    !zs_va_encode_h264(v, force_keyframe || !v->have_ref, out))
		return switch_to_software(v, frame, out, "encoding failed");
	/* the GPU read the frame and wrote the picture; we only copied
	 * the bitstream */
	v->base.cpu_pixel_bytes = 0;
	return 0;
}

static const struct zs_encoder_impl vaapi_impl = {
	.name = "vaapi",
	.encode = vaapi_encode,
	.destroy = vaapi_destroy,
	.reads_refine_level = true,
};

const struct zs_encoder_backend_ops zs_encoder_vaapi_backend = {
	.name = "vaapi",
	.probe = vaapi_probe,
	.element_name = vaapi_element_name,
	.create = vaapi_create,
};
