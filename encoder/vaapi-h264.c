/* zerospice — VA-API backend: one H.264 picture. Sequence and rate
 * control parameters with every IDR, our packed SPS/PPS/slice header, a
 * single slice referring to the previous picture, and the coded buffer's
 * segments concatenated into one access unit. */
#include <stdlib.h>
#include <string.h>

#include <glib.h>
#include <va/va.h>
#include <va/va_enc_h264.h>

#include "vaapi-encoder.h"

#define MAX_RENDER_BUFFERS 16

struct render_list {
	VABufferID ids[MAX_RENDER_BUFFERS];
	int n;
	bool failed;
};

static void add_buffer(struct zs_va_encoder *v, struct render_list *list,
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
	if (!zs_va_ok(v, st, "vaCreateBuffer"))
		list->failed = true;
	else
		list->n++;
}

static void add_misc(struct zs_va_encoder *v, struct render_list *list,
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

static void add_packed(struct zs_va_encoder *v, struct render_list *list,
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

static void add_sequence(struct zs_va_encoder *v, struct render_list *list)
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

bool zs_va_encode_h264(struct zs_va_encoder *v, bool idr,
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

	if (!zs_va_ok(v, vaBeginPicture(v->dev.display, v->enc_ctx, v->input),
		"vaBeginPicture(encode)") ||
	    !zs_va_ok(v, vaRenderPicture(v->dev.display, v->enc_ctx, list.ids,
		list.n), "vaRenderPicture(encode)") ||
	    !zs_va_ok(v, vaEndPicture(v->dev.display, v->enc_ctx),
		"vaEndPicture(encode)") ||
	    !zs_va_ok(v, vaSyncSurface(v->dev.display, v->input),
		"vaSyncSurface") ||
	    !zs_va_ok(v, vaMapBuffer(v->dev.display, v->coded_buf, (void **)&seg),
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

