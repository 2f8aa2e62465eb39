/* zerospice — VA-API encoder backend.
 *
 *   frame fds ─(DRM_PRIME_2 import, cached per buffer)─► RGB surface
 *     ─(VPP: BT.709 limited, mirror for bottom-up frames)─► NV12 surface
 *     ─(H.264 EncSliceLP/EncSlice, our packed SPS/PPS/slice headers)─►
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
#include "vaapi.h"

#define N_RECON 2
#define MAX_RENDER_BUFFERS 16
#define CQP_QP 26

/* ---- device selection and probing (process-wide, cached) ---- */

static GMutex probe_lock;
static char *device_override;
static struct {
	bool done, usable;
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
	char why[256];

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
	} else if (!zs_va_select_h264(probed.cands, probed.n, 0, 0, &choice,
			why, sizeof(why))) {
		g_snprintf(probed.why, sizeof(probed.why), "%s (%s): %s",
			probed.path, probed.vendor, why);
	} else {
		probed.usable = true;
		g_message("vaapi: %s (%s): H.264 %s/%s %s", probed.path,
			probed.vendor, zs_va_profile_name(choice.profile),
			zs_va_entrypoint_name(choice.entrypoint),
			zs_va_rc_name(choice.rc_mode));
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
	mask = probed.usable ? ZS_CODEC_BIT(ZS_CODEC_H264) : 0;
	g_mutex_unlock(&probe_lock);
	return mask;
}

static const char *vaapi_element_name(enum zs_codec codec)
{
	return codec == ZS_CODEC_H264 ? "vaapi-h264" : NULL;
}

/* ---- the encoder ---- */

struct va_encoder {
	struct zs_encoder base;
	struct zs_va_device dev;
	struct zs_va_choice choice;

	VAConfigID vpp_config, enc_config;
	VAContextID vpp_ctx, enc_ctx;
	VASurfaceID input;            /* VPP output, encoder input */
	VASurfaceID recon[N_RECON];
	VABufferID coded_buf;
	bool can_mirror;
	bool try_prime2;              /* false once the driver refused it */
	struct zs_va_surface_cache cache;

	struct zs_h264_sps sps;
	struct zs_h264_pps pps;
	uint64_t frames_since_idr;
	uint16_t idr_pic_id;
	int cur_recon;
	bool have_ref;

	/* after a driver failure: the software encoder takes over */
	struct zs_encoder *fallback;
};

static const struct zs_encoder_impl vaapi_impl;

static struct va_encoder *va_encoder_from(struct zs_encoder *enc)
{
	g_assert(enc->impl == &vaapi_impl);
	return container_of(enc, struct va_encoder, base);
}

/* Logs a failed VA call once, with what it concerned. */
static bool va_ok(struct va_encoder *v, VAStatus status, const char *what)
{
	if (status == VA_STATUS_SUCCESS)
		return true;
	g_warning("%s: %s: %s", v->base.description, what, vaErrorStr(status));
	return false;
}

static void release_va(struct va_encoder *v)
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
	struct va_encoder *v = va_encoder_from(enc);

	zs_encoder_destroy(v->fallback);
	release_va(v);
	free(v);
}

static bool setup_vpp(struct va_encoder *v, char *err, size_t err_len)
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

static bool setup_encode(struct va_encoder *v, char *err, size_t err_len)
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
		g_snprintf(err, err_len, "vaCreateConfig(H.264 %s/%s): %s",
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
		g_snprintf(err, err_len, "vaCreateContext(H.264): %s",
			vaErrorStr(st));
		return false;
	}
	/* Room for an uncompressed 4:2:0 picture plus emulation prevention
	 * and headers: any real encoder's worst case, and the fake
	 * driver's I_PCM output. */
	coded_size = v->sps.width_mbs * v->sps.height_mbs * 384u * 3u / 2u +
		(64u << 10);
	st = vaCreateBuffer(v->dev.display, v->enc_ctx, VAEncCodedBufferType,
		coded_size, 1, NULL, &v->coded_buf);
	if (st != VA_STATUS_SUCCESS) {
		g_snprintf(err, err_len, "vaCreateBuffer(coded, %u bytes): %s",
			coded_size, vaErrorStr(st));
		return false;
	}
	return true;
}

static struct zs_encoder *vaapi_create(const struct zs_encoder_config *cfg,
	char *err, size_t err_len)
{
	struct zs_va_candidate cands[ZS_VA_MAX_CANDIDATES];
	struct va_encoder *v;
	char path[256], fourcc[5], why[200];
	size_t n;
	bool vpp;
	VAStatus st;

	if (cfg->codec != ZS_CODEC_H264) {
		g_snprintf(err, err_len, "vaapi: %s is not implemented (H.264 only)",
			zs_codec_name(cfg->codec));
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
		"vaapi h264 %ux%u", cfg->width, cfg->height);

	if (!path[0]) {
		g_snprintf(err, err_len, "vaapi: no device");
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
	if (!zs_va_select_h264(cands, n, cfg->width, cfg->height, &v->choice,
		why, sizeof(why))) {
		g_snprintf(err, err_len, "vaapi: %s", why);
		goto err;
	}
	if (!zs_h264_sps_init(&v->sps, v->choice.profile_idc, cfg->width,
		cfg->height, cfg->fps, cfg->bitrate_kbps)) {
		g_snprintf(err, err_len, "vaapi: H.264 cannot code %ux%u",
			cfg->width, cfg->height);
		goto err;
	}
	v->pps = (struct zs_h264_pps){
		.entropy_coding_mode = v->choice.cabac,
		.transform_8x8_mode = v->choice.profile_idc ==
			ZS_H264_PROFILE_HIGH,
		.deblocking_filter_control_present = true,
		.pic_init_qp_minus26 = v->choice.rc_mode == VA_RC_CQP ?
			CQP_QP - 26 : 0,
	};
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
			"vaapi:%s h264 %s/%s cqp %u %ux%u", path,
			zs_va_profile_name(v->choice.profile),
			zs_va_entrypoint_name(v->choice.entrypoint), CQP_QP,
			cfg->width, cfg->height);
	else
		g_snprintf(v->base.description, sizeof(v->base.description),
			"vaapi:%s h264 %s/%s %s %ux%u @ %u kbps", path,
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

static VAStatus import_frame(struct va_encoder *v, const struct zs_frame *frame,
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
static VAStatus source_surface(struct va_encoder *v,
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

static bool convert(struct va_encoder *v, const struct zs_frame *frame,
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

	if (!va_ok(v, vaCreateBuffer(v->dev.display, v->vpp_ctx,
		VAProcPipelineParameterBufferType, sizeof(pp), 1, &pp, &buf),
		"vaCreateBuffer(VPP)"))
		return false;
	ok = va_ok(v, vaBeginPicture(v->dev.display, v->vpp_ctx, v->input),
		"vaBeginPicture(VPP)") &&
	     va_ok(v, vaRenderPicture(v->dev.display, v->vpp_ctx, &buf, 1),
		"vaRenderPicture(VPP)") &&
	     va_ok(v, vaEndPicture(v->dev.display, v->vpp_ctx),
		"vaEndPicture(VPP)");
	vaDestroyBuffer(v->dev.display, buf);
	return ok;
}

struct render_list {
	VABufferID ids[MAX_RENDER_BUFFERS];
	int n;
	bool failed;
};

static void add_buffer(struct va_encoder *v, struct render_list *list,
	VABufferType type, const void *data, size_t size)
{
	VAStatus st;

	if (list->failed)
		return;
	if (list->n >= MAX_RENDER_BUFFERS) {
		list->failed = true;
		return;
	}
	st = vaCreateBuffer(v->dev.display, v->enc_ctx, type, (unsigned)size, 1,
		(void *)data, &list->ids[list->n]);
	if (!va_ok(v, st, "vaCreateBuffer"))
		list->failed = true;
	else
		list->n++;
}

static void add_misc(struct va_encoder *v, struct render_list *list,
	VAEncMiscParameterType type, const void *payload, size_t size)
{
	uint8_t buf[sizeof(VAEncMiscParameterBuffer) + 256];
	VAEncMiscParameterBuffer *misc = (void *)buf;

	g_assert(size <= 256);
	memset(buf, 0, sizeof(buf));
	misc->type = type;
	memcpy(misc->data, payload, size);
	add_buffer(v, list, VAEncMiscParameterBufferType, buf,
		sizeof(*misc) + size);
}

static void add_packed(struct va_encoder *v, struct render_list *list,
	uint32_t type, const struct zs_bitwriter *bw, bool escaped)
{
	VAEncPackedHeaderParameterBuffer param = {
		.type = type,
		.bit_length = (uint32_t)bw->bits,
		.has_emulation_bytes = escaped,
	};

	add_buffer(v, list, VAEncPackedHeaderParameterBufferType, &param,
		sizeof(param));
	add_buffer(v, list, VAEncPackedHeaderDataBufferType, bw->data,
		zs_bitwriter_bytes(bw));
}

static void add_sequence(struct va_encoder *v, struct render_list *list)
{
	const struct zs_encoder_config *cfg = &v->base.config;
	const struct zs_h264_sps *sps = &v->sps;
	VAEncSequenceParameterBufferH264 seq = {
		.seq_parameter_set_id = sps->sps_id,
		.level_idc = sps->level_idc,
		.intra_period = 0,      /* we choose every frame's type */
		.intra_idr_period = 0,
		.ip_period = 1,         /* no B-frames */
		.bits_per_second = v->choice.rc_mode == VA_RC_CQP ? 0 :
			cfg->bitrate_kbps * 1000u,
		.max_num_ref_frames = sps->max_num_ref_frames,
		.picture_width_in_mbs = (uint16_t)sps->width_mbs,
		.picture_height_in_mbs = (uint16_t)sps->height_mbs,
		.seq_fields.bits = {
			.chroma_format_idc = 1,
			.frame_mbs_only_flag = 1,
			.direct_8x8_inference_flag = 1,
			.log2_max_frame_num_minus4 = sps->log2_max_frame_num_minus4,
			.pic_order_cnt_type = sps->pic_order_cnt_type,
			.log2_max_pic_order_cnt_lsb_minus4 =
				sps->log2_max_poc_lsb_minus4,
		},
		.frame_cropping_flag = sps->crop_right || sps->crop_bottom,
		.frame_crop_right_offset = sps->crop_right / 2,
		.frame_crop_bottom_offset = sps->crop_bottom / 2,
		.vui_parameters_present_flag = sps->vui,
		.vui_fields.bits = {
			.aspect_ratio_info_present_flag = 1,
			.timing_info_present_flag = sps->timing_info,
			.bitstream_restriction_flag = sps->bitstream_restriction,
			.log2_max_mv_length_horizontal = 16,
			.log2_max_mv_length_vertical = 16,
			.fixed_frame_rate_flag = sps->fixed_frame_rate,
		},
		.aspect_ratio_idc = 1,
		.num_units_in_tick = sps->num_units_in_tick,
		.time_scale = sps->time_scale,
	};

	add_buffer(v, list, VAEncSequenceParameterBufferType, &seq, sizeof(seq));
	if (v->choice.rc_mode != VA_RC_CQP) {
		/* One frame of VBV: the rate controller may not spread a
		 * burst over later frames, which would be latency. */
		uint32_t bps = cfg->bitrate_kbps * 1000u;
		VAEncMiscParameterRateControl rc = {
			.bits_per_second = bps,
			.target_percentage = v->choice.rc_mode == VA_RC_CBR ?
				100 : 90,
			.window_size = (1000u + cfg->fps - 1) / cfg->fps,
			.rc_flags.bits.disable_frame_skip = 1,
		};
		VAEncMiscParameterHRD hrd = {
			.buffer_size = bps / cfg->fps,
			.initial_buffer_fullness = bps / cfg->fps,
		};
		add_misc(v, list, VAEncMiscParameterTypeRateControl, &rc,
			sizeof(rc));
		add_misc(v, list, VAEncMiscParameterTypeHRD, &hrd, sizeof(hrd));
	}
	VAEncMiscParameterFrameRate fr = { .framerate = cfg->fps };
	add_misc(v, list, VAEncMiscParameterTypeFrameRate, &fr, sizeof(fr));
	if (v->choice.quality_level) {
		VAEncMiscParameterBufferQualityLevel q = {
			.quality_level = v->choice.quality_level,
		};
		add_misc(v, list, VAEncMiscParameterTypeQualityLevel, &q,
			sizeof(q));
	}
}

static void invalidate(VAPictureH264 *pic)
{
	pic->picture_id = VA_INVALID_SURFACE;
	pic->flags = VA_PICTURE_H264_INVALID;
}

/* Encodes v->input; the access unit's bytes go to *out. */
static bool encode_picture(struct va_encoder *v, bool idr,
	struct zs_access_unit **out)
{
	struct render_list list = { .n = 0 };
	struct zs_bitwriter headers, slice_bw;
	uint32_t max_frame_num = 1u << (v->sps.log2_max_frame_num_minus4 + 4);
	uint32_t frame_num, total = 0;
	VASurfaceID cur = v->recon[v->cur_recon];
	VASurfaceID ref = v->recon[1 - v->cur_recon];
	VAEncPictureParameterBufferH264 pic = { 0 };
	VAEncSliceParameterBufferH264 slice = { 0 };
	struct zs_h264_slice_header sh;
	VACodedBufferSegment *seg = NULL;
	struct zs_access_unit *au = NULL;
	bool ok = false, mapped = false;

	if (idr) {
		v->frames_since_idr = 0;
		v->idr_pic_id++;
	}
	frame_num = (uint32_t)(v->frames_since_idr % max_frame_num);
	zs_bitwriter_init(&headers);
	zs_bitwriter_init(&slice_bw);

	if (idr)
		add_sequence(v, &list);

	pic.CurrPic.picture_id = cur;
	pic.CurrPic.frame_idx = frame_num;
	pic.CurrPic.TopFieldOrderCnt = (int32_t)(2 * v->frames_since_idr);
	pic.CurrPic.BottomFieldOrderCnt = pic.CurrPic.TopFieldOrderCnt;
	for (int i = 0; i < 16; i++)
		invalidate(&pic.ReferenceFrames[i]);
	if (!idr) {
		VAPictureH264 *r = &pic.ReferenceFrames[0];
		r->picture_id = ref;
		r->frame_idx = (frame_num + max_frame_num - 1) % max_frame_num;
		r->flags = VA_PICTURE_H264_SHORT_TERM_REFERENCE;
		r->TopFieldOrderCnt = (int32_t)(2 * (v->frames_since_idr - 1));
		r->BottomFieldOrderCnt = r->TopFieldOrderCnt;
	}
	pic.coded_buf = v->coded_buf;
	pic.pic_parameter_set_id = v->pps.pps_id;
	pic.seq_parameter_set_id = v->sps.sps_id;
	pic.frame_num = (uint16_t)frame_num;
	pic.pic_init_qp = (uint8_t)(26 + v->pps.pic_init_qp_minus26);
	pic.num_ref_idx_l0_active_minus1 = 0;
	pic.pic_fields.bits.idr_pic_flag = idr;
	pic.pic_fields.bits.reference_pic_flag = 1;
	pic.pic_fields.bits.entropy_coding_mode_flag = v->pps.entropy_coding_mode;
	pic.pic_fields.bits.transform_8x8_mode_flag = v->pps.transform_8x8_mode;
	pic.pic_fields.bits.deblocking_filter_control_present_flag =
		v->pps.deblocking_filter_control_present;
	add_buffer(v, &list, VAEncPictureParameterBufferType, &pic, sizeof(pic));

	if (idr) {
		struct zs_bitwriter pps_bw;
		if (!zs_h264_write_sps(&headers, &v->sps)) {
			g_warning("%s: cannot write the SPS", v->base.description);
			goto out;
		}
		add_packed(v, &list, VAEncPackedHeaderSequence, &headers, true);
		zs_bitwriter_init(&pps_bw);
		if (!zs_h264_write_pps(&pps_bw, &v->sps, &v->pps)) {
			zs_bitwriter_finish(&pps_bw);
			g_warning("%s: cannot write the PPS", v->base.description);
			goto out;
		}
		add_packed(v, &list, VAEncPackedHeaderPicture, &pps_bw, true);
		zs_bitwriter_finish(&pps_bw);
	}

	sh = (struct zs_h264_slice_header){
		.idr = idr,
		.nal_ref_idc = 3,
		.slice_type = idr ? ZS_H264_SLICE_I : ZS_H264_SLICE_P,
		.frame_num = frame_num,
		.idr_pic_id = v->idr_pic_id,
	};
	slice.macroblock_address = 0;
	slice.num_macroblocks = v->sps.width_mbs * v->sps.height_mbs;
	slice.slice_type = sh.slice_type;
	slice.pic_parameter_set_id = v->pps.pps_id;
	slice.idr_pic_id = sh.idr_pic_id;
	for (int i = 0; i < 32; i++) {
		invalidate(&slice.RefPicList0[i]);
		invalidate(&slice.RefPicList1[i]);
	}
	if (!idr)
		slice.RefPicList0[0] = pic.ReferenceFrames[0];
	slice.slice_qp_delta = 0;
	slice.disable_deblocking_filter_idc = 0;
	if (v->choice.packed_headers & VA_ENC_PACKED_HEADER_SLICE) {
		if (!zs_h264_write_slice_header(&slice_bw, &v->sps, &v->pps, &sh)) {
			g_warning("%s: cannot write a slice header",
				v->base.description);
			goto out;
		}
		add_packed(v, &list, VAEncPackedHeaderSlice, &slice_bw, false);
	}
	add_buffer(v, &list, VAEncSliceParameterBufferType, &slice,
		sizeof(slice));
	if (list.failed)
		goto out;

	if (!va_ok(v, vaBeginPicture(v->dev.display, v->enc_ctx, v->input),
		"vaBeginPicture(encode)") ||
	    !va_ok(v, vaRenderPicture(v->dev.display, v->enc_ctx, list.ids,
		list.n), "vaRenderPicture(encode)") ||
	    !va_ok(v, vaEndPicture(v->dev.display, v->enc_ctx),
		"vaEndPicture(encode)") ||
	    !va_ok(v, vaSyncSurface(v->dev.display, v->input),
		"vaSyncSurface") ||
	    !va_ok(v, vaMapBuffer(v->dev.display, v->coded_buf, (void **)&seg),
		"vaMapBuffer(coded)"))
		goto out;
	mapped = true;

	/* Some drivers return one segment per NAL unit: concatenate. */
	for (VACodedBufferSegment *s = seg; s; s = s->next) {
		if (s->status & VA_CODED_BUF_STATUS_SLICE_OVERFLOW_MASK) {
			g_warning("%s: coded buffer overflow", v->base.description);
			goto out;
		}
		if (s->size > UINT32_MAX - total) {
			g_warning("%s: coded segments too large",
				v->base.description);
			goto out;
		}
		total += s->size;
	}
	au = calloc(1, sizeof(*au));
	if (!au || (total && !(au->data = malloc(total)))) {
		g_warning("%s: out of memory for %u bytes", v->base.description,
			total);
		goto out;
	}
	for (VACodedBufferSegment *s = seg; s; s = s->next) {
		if (s->size == 0)
			continue;
		memcpy(au->data + au->size, s->buf, s->size);
		au->size += s->size;
	}
	au->keyframe = idr;
	*out = au;
	au = NULL;
	ok = true;
	v->frames_since_idr++;
	v->cur_recon = 1 - v->cur_recon;
	v->have_ref = true;

out:
	if (mapped)
		vaUnmapBuffer(v->dev.display, v->coded_buf);
	for (int i = 0; i < list.n; i++)
		vaDestroyBuffer(v->dev.display, list.ids[i]);
	zs_bitwriter_finish(&headers);
	zs_bitwriter_finish(&slice_bw);
	zs_access_unit_free(au);
	return ok;
}

/* After a driver failure: hands this and every later frame to the
 * software backend, starting with a keyframe. */
static int switch_to_software(struct va_encoder *v,
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
	struct va_encoder *v = va_encoder_from(enc);
	VASurfaceID src;
	VAStatus st;
	int ret;

	if (v->fallback) {
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
	if (!encode_picture(v, force_keyframe || !v->have_ref, out))
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
};

const struct zs_encoder_backend_ops zs_encoder_vaapi_backend = {
	.name = "vaapi",
	.probe = vaapi_probe,
	.element_name = vaapi_element_name,
	.create = vaapi_create,
};
