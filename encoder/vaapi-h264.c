/* zerospice — VA-API backend: one H.264 picture. Sequence and rate
 * control parameters with every IDR, our packed SPS/PPS/slice header and a
 * single slice referring to the previous picture. */
#include <stdlib.h>
#include <string.h>

#include <glib.h>
#include <va/va.h>
#include <va/va_enc_h264.h>

#include "vaapi-encoder.h"

static void add_sequence(struct zs_va_encoder *v,
	struct zs_va_render_list *list)
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

	zs_va_add_buffer(v, list, VAEncSequenceParameterBufferType, &seq,
		sizeof(seq));
	zs_va_add_rate_control(v, list);
}

static void invalidate(VAPictureH264 *pic)
{
	pic->picture_id = VA_INVALID_SURFACE;
	pic->flags = VA_PICTURE_H264_INVALID;
}

bool zs_va_encode_h264(struct zs_va_encoder *v, bool idr,
	struct zs_access_unit **out)
{
	struct zs_va_render_list list = { .n = 0 };
	struct zs_bitwriter headers, slice_bw;
	uint32_t max_frame_num = 1u << (v->sps.log2_max_frame_num_minus4 + 4);
	uint32_t frame_num;
	VASurfaceID cur = v->recon[v->cur_recon];
	VASurfaceID ref = v->recon[1 - v->cur_recon];
	VAEncPictureParameterBufferH264 pic = { 0 };
	VAEncSliceParameterBufferH264 slice = { 0 };
	struct zs_h264_slice_header sh;
	bool ok = false;

	if (idr) {
		v->frames_since_idr = 0;
		v->idr_pic_id++;
	}
	frame_num = (uint32_t)(v->frames_since_idr % max_frame_num);
	zs_bitwriter_init(&headers);
	zs_bitwriter_init(&slice_bw);

	if (idr)
		add_sequence(v, &list);
	else
		zs_va_add_refine(v, &list);

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
	zs_va_add_buffer(v, &list, VAEncPictureParameterBufferType, &pic, sizeof(pic));

	if (idr) {
		struct zs_bitwriter pps_bw;
		if (!zs_h264_write_sps(&headers, &v->sps)) {
			g_warning("%s: cannot write the SPS", v->base.description);
			goto out;
		}
		zs_va_add_packed(v, &list, VAEncPackedHeaderSequence, &headers, true);
		zs_bitwriter_init(&pps_bw);
		if (!zs_h264_write_pps(&pps_bw, &v->sps, &v->pps)) {
			zs_bitwriter_finish(&pps_bw);
			g_warning("%s: cannot write the PPS", v->base.description);
			goto out;
		}
		zs_va_add_packed(v, &list, VAEncPackedHeaderPicture, &pps_bw, true);
		zs_bitwriter_finish(&pps_bw);
	}

	sh = (struct zs_h264_slice_header){
		.idr = idr,
		.nal_ref_idc = 3,
		.slice_type = idr ? ZS_H264_SLICE_I : ZS_H264_SLICE_P,
		.frame_num = frame_num,
		.idr_pic_id = v->idr_pic_id,
		.slice_qp_delta = (int8_t)zs_va_refine_qp_delta(v,
			26 + v->pps.pic_init_qp_minus26),
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
	slice.slice_qp_delta = sh.slice_qp_delta;
	slice.disable_deblocking_filter_idc = 0;
	if (v->choice.packed_headers & VA_ENC_PACKED_HEADER_SLICE) {
		if (!zs_h264_write_slice_header(&slice_bw, &v->sps, &v->pps, &sh)) {
			g_warning("%s: cannot write a slice header",
				v->base.description);
			goto out;
		}
		zs_va_add_packed(v, &list, VAEncPackedHeaderSlice, &slice_bw, false);
	}
	zs_va_add_buffer(v, &list, VAEncSliceParameterBufferType, &slice,
		sizeof(slice));
	if (!zs_va_submit(v, &list, idr, out))
		goto out;
	ok = true;
	v->frames_since_idr++;
	v->cur_recon = 1 - v->cur_recon;
	v->have_ref = true;

out:
	zs_va_render_list_release(v, &list);
	zs_bitwriter_finish(&headers);
	zs_bitwriter_finish(&slice_bw);
	return ok;
}

