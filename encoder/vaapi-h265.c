/* zerospice — VA-API backend: one HEVC Main picture. Sequence and rate
 * control parameters with every IDR, our packed VPS/SPS/PPS/slice
 * header, and a single slice segment: I for an IDR, else P referring to
 * the previous picture (or, where the driver codes no P slices, a
 * low-delay B slice with that picture in both lists). Infinite GOP. */
#include <string.h>

#include <glib.h>
#include <va/va.h>
#include <va/va_enc_hevc.h>

#include "vaapi-encoder.h"

static void add_sequence(struct zs_va_encoder *v,
	struct zs_va_render_list *list)
{
	const struct zs_encoder_config *cfg = &v->base.config;
	const struct zs_h265_sps *sps = &v->hevc_sps;
	VAEncSequenceParameterBufferHEVC seq = {
		.general_profile_idc = 1, /* Main */
		.general_level_idc = sps->level_idc,
		.general_tier_flag = 0,
		.intra_period = 0,      /* we choose every picture's type */
		.intra_idr_period = 0,
		.ip_period = 1,         /* no reordering */
		.bits_per_second = v->choice.rc_mode == VA_RC_CQP ? 0 :
			cfg->bitrate_kbps * 1000u,
		.pic_width_in_luma_samples = (uint16_t)sps->width,
		.pic_height_in_luma_samples = (uint16_t)sps->height,
		.seq_fields.bits = {
			.chroma_format_idc = 1,
			.amp_enabled_flag = sps->amp,
			.sample_adaptive_offset_enabled_flag = sps->sao,
			.pcm_enabled_flag = sps->pcm,
			.pcm_loop_filter_disabled_flag =
				sps->pcm && sps->pcm_loop_filter_disabled,
			.sps_temporal_mvp_enabled_flag = sps->temporal_mvp,
			.strong_intra_smoothing_enabled_flag =
				sps->strong_intra_smoothing,
			.low_delay_seq = 1,
		},
		.log2_min_luma_coding_block_size_minus3 =
			(uint8_t)(sps->log2_min_cb - 3),
		.log2_diff_max_min_luma_coding_block_size =
			(uint8_t)(sps->log2_ctb - sps->log2_min_cb),
		.log2_min_transform_block_size_minus2 =
			(uint8_t)(sps->log2_min_tb - 2),
		.log2_diff_max_min_transform_block_size =
			(uint8_t)(sps->log2_max_tb - sps->log2_min_tb),
		.max_transform_hierarchy_depth_inter =
			sps->max_transform_depth_inter,
		.max_transform_hierarchy_depth_intra =
			sps->max_transform_depth_intra,
		.vui_parameters_present_flag = sps->vui,
		.vui_fields.bits = {
			.aspect_ratio_info_present_flag = 1,
			.vui_timing_info_present_flag = sps->timing_info,
		},
		.aspect_ratio_idc = 1,
		.vui_num_units_in_tick = sps->num_units_in_tick,
		.vui_time_scale = sps->time_scale,
	};

	if (sps->pcm) {
		seq.pcm_sample_bit_depth_luma_minus1 = 7;
		seq.pcm_sample_bit_depth_chroma_minus1 = 7;
		seq.log2_min_pcm_luma_coding_block_size_minus3 =
			sps->log2_min_pcm - 3u;
		seq.log2_max_pcm_luma_coding_block_size_minus3 =
			sps->log2_max_pcm - 3u;
	}
	zs_va_add_buffer(v, list, VAEncSequenceParameterBufferType, &seq,
		sizeof(seq));
	zs_va_add_rate_control(v, list);
}

static void invalidate(VAPictureHEVC *pic)
{
	pic->picture_id = VA_INVALID_SURFACE;
	pic->pic_order_cnt = 0;
	pic->flags = VA_PICTURE_HEVC_INVALID;
}

/* VPS and SPS go as packed sequence headers, the PPS as the picture
 * header (va_enc_hevc.h, VAEncPackedHeaderTypeHEVC). */
static bool add_parameter_sets(struct zs_va_encoder *v,
	struct zs_va_render_list *list)
{
	struct zs_bitwriter bw;
	bool ok;

	zs_bitwriter_init(&bw);
	ok = zs_h265_write_vps(&bw, &v->hevc_sps);
	if (ok)
		zs_va_add_packed(v, list, VAEncPackedHeaderSequence, &bw, true);
	zs_bitwriter_reset(&bw);
	ok = ok && zs_h265_write_sps(&bw, &v->hevc_sps);
	if (ok)
		zs_va_add_packed(v, list, VAEncPackedHeaderSequence, &bw, true);
	zs_bitwriter_reset(&bw);
	ok = ok && zs_h265_write_pps(&bw, &v->hevc_sps, &v->hevc_pps);
	if (ok)
		zs_va_add_packed(v, list, VAEncPackedHeaderPicture, &bw, true);
	zs_bitwriter_finish(&bw);
	if (!ok)
		g_warning("%s: cannot write the VPS/SPS/PPS", v->base.description);
	return ok;
}

bool zs_va_encode_h265(struct zs_va_encoder *v, bool idr,
	struct zs_access_unit **out)
{
	const struct zs_h265_sps *sps = &v->hevc_sps;
	const struct zs_h265_pps *pps = &v->hevc_pps;
	struct zs_va_render_list list = { .n = 0 };
	struct zs_bitwriter slice_bw;
	VASurfaceID cur = v->recon[v->cur_recon];
	VASurfaceID ref = v->recon[1 - v->cur_recon];
	VAEncPictureParameterBufferHEVC pic = { 0 };
	VAEncSliceParameterBufferHEVC slice = { 0 };
	struct zs_h265_slice_header sh;
	uint32_t ctb = 1u << sps->log2_ctb;
	uint8_t inter_type = v->choice.hevc.low_delay_b ? ZS_H265_SLICE_B :
		ZS_H265_SLICE_P;
	int32_t poc;
	bool ok = false;

	/* PicOrderCntVal must stay an int32_t: a fresh IDR every 2^30
	 * pictures (over a year at 30 fps) keeps it there */
	if (v->frames_since_idr >= (1u << 30))
		idr = true;
	if (idr)
		v->frames_since_idr = 0;
	/* PicOrderCntVal counts pictures since the IDR; the LSBs go in the
	 * slice header, the decoder tracks the MSBs. */
	poc = (int32_t)v->frames_since_idr;
	zs_bitwriter_init(&slice_bw);

	if (idr)
		add_sequence(v, &list);
	else
		zs_va_add_refine(v, &list);

	pic.decoded_curr_pic.picture_id = cur;
	pic.decoded_curr_pic.pic_order_cnt = poc;
	pic.decoded_curr_pic.flags = 0;
	for (int i = 0; i < 15; i++)
		invalidate(&pic.reference_frames[i]);
	if (!idr) {
		VAPictureHEVC *r = &pic.reference_frames[0];
		r->picture_id = ref;
		r->pic_order_cnt = poc - 1;
		r->flags = VA_PICTURE_HEVC_RPS_ST_CURR_BEFORE;
	}
	pic.coded_buf = v->coded_buf;
	pic.collocated_ref_pic_index = !idr && sps->temporal_mvp ? 0 : 0xff;
	pic.last_picture = 0;
	pic.pic_init_qp = (uint8_t)(26 + pps->init_qp_minus26);
	pic.diff_cu_qp_delta_depth = pps->diff_cu_qp_delta_depth;
	pic.slice_pic_parameter_set_id = 0;
	pic.nal_unit_type = idr ? ZS_H265_NAL_IDR_W_RADL : ZS_H265_NAL_TRAIL_R;
	pic.pic_fields.bits.idr_pic_flag = idr;
	/* 1 I, 2 P; a low-delay B picture is still a P picture whose
	 * slices are B (generalised P and B) */
	pic.pic_fields.bits.coding_type = idr ? 1 : 2;
	pic.pic_fields.bits.reference_pic_flag = 1;
	pic.pic_fields.bits.cu_qp_delta_enabled_flag = pps->cu_qp_delta;
	pic.pic_fields.bits.pps_loop_filter_across_slices_enabled_flag =
		pps->loop_filter_across_slices;
	zs_va_add_buffer(v, &list, VAEncPictureParameterBufferType, &pic,
		sizeof(pic));

	if (idr && !add_parameter_sets(v, &list))
		goto out;

	sh = (struct zs_h265_slice_header){
		.idr = idr,
		.slice_type = idr ? ZS_H265_SLICE_I : inter_type,
		.poc_lsb = (uint32_t)poc & ((1u << sps->log2_max_poc_lsb) - 1),
		.temporal_mvp = !idr && sps->temporal_mvp,
		.slice_qp_delta = (int8_t)zs_va_refine_qp_delta(v,
			26 + pps->init_qp_minus26),
	};
	slice.slice_segment_address = 0;
	slice.num_ctu_in_slice = ((sps->width + ctb - 1) / ctb) *
		((sps->height + ctb - 1) / ctb);
	slice.slice_type = sh.slice_type;
	slice.slice_pic_parameter_set_id = 0;
	for (int i = 0; i < 15; i++) {
		invalidate(&slice.ref_pic_list0[i]);
		invalidate(&slice.ref_pic_list1[i]);
	}
	if (!idr) {
		slice.ref_pic_list0[0] = pic.reference_frames[0];
		if (sh.slice_type == ZS_H265_SLICE_B)
			slice.ref_pic_list1[0] = pic.reference_frames[0];
	}
	slice.max_num_merge_cand = 5;
	slice.slice_qp_delta = sh.slice_qp_delta;
	slice.slice_fields.bits.last_slice_of_pic_flag = 1;
	slice.slice_fields.bits.slice_temporal_mvp_enabled_flag =
		sh.temporal_mvp;
	slice.slice_fields.bits.collocated_from_l0_flag = 1;
	slice.slice_fields.bits.slice_deblocking_filter_disabled_flag =
		pps->deblocking_disabled;
	slice.slice_fields.bits.slice_loop_filter_across_slices_enabled_flag =
		pps->loop_filter_across_slices;
	if (v->choice.packed_headers & VA_ENC_PACKED_HEADER_SLICE) {
		if (!zs_h265_write_slice_header(&slice_bw, sps, pps, &sh)) {
			g_warning("%s: cannot write a slice header",
				v->base.description);
			goto out;
		}
		zs_va_add_packed(v, &list, VAEncPackedHeaderSlice, &slice_bw,
			false);
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
	zs_bitwriter_finish(&slice_bw);
	return ok;
}
