/* zerospice — H.264 SPS/PPS/slice header writer (ITU-T H.264 7.3). */
#include <stdlib.h>

#include "nal.h"

/* Table A-1: MaxMBPS, MaxFS, MaxBR (1000 bit/s units of the Baseline and
 * Main profiles; High allows 1.25x). */
static const struct {
	uint8_t level_idc;
	uint32_t max_mbps, max_fs, max_br;
} levels[] = {
	{ 10, 1485, 99, 64 },
	{ 11, 3000, 396, 192 },
	{ 12, 6000, 396, 384 },
	{ 13, 11880, 396, 768 },
	{ 20, 11880, 396, 2000 },
	{ 21, 19800, 792, 4000 },
	{ 22, 20250, 1620, 4000 },
	{ 30, 40500, 1620, 10000 },
	{ 31, 108000, 3600, 14000 },
	{ 32, 216000, 5120, 20000 },
	{ 40, 245760, 8192, 20000 },
	{ 41, 245760, 8192, 50000 },
	{ 42, 522240, 8704, 50000 },
	{ 50, 589824, 22080, 135000 },
	{ 51, 983040, 36864, 240000 },
	{ 52, 2073600, 36864, 240000 },
	{ 60, 4177920, 139264, 240000 },
	{ 61, 8355840, 139264, 480000 },
	{ 62, 16711680, 139264, 800000 },
};

static bool is_high_profile(uint8_t profile_idc)
{
	switch (profile_idc) {
	case 100: case 110: case 122: case 244: case 44:
	case 83: case 86: case 118: case 128: case 138: case 139:
	case 134: case 135:
		return true;
	default:
		return false;
	}
}

uint8_t zs_h264_level_for(uint8_t profile_idc, uint32_t width_mbs,
	uint32_t height_mbs, uint32_t fps, uint32_t bitrate_kbps)
{
	uint64_t fs = (uint64_t)width_mbs * height_mbs;
	uint64_t mbps = fs * fps;
	uint64_t br_factor = is_high_profile(profile_idc) ? 1250 : 1000;

	for (size_t i = 0; i < sizeof(levels) / sizeof(levels[0]); i++) {
		/* A.3.1: neither dimension may exceed sqrt(8 * MaxFS). */
		uint64_t max_dim_sq = 8ull * levels[i].max_fs;
		if (fs > levels[i].max_fs || mbps > levels[i].max_mbps ||
		    (uint64_t)width_mbs * width_mbs > max_dim_sq ||
		    (uint64_t)height_mbs * height_mbs > max_dim_sq)
			continue;
		if ((uint64_t)bitrate_kbps * 1000 > levels[i].max_br * br_factor)
			continue;
		return levels[i].level_idc;
	}
	return 0;
}

bool zs_h264_sps_init(struct zs_h264_sps *sps, uint8_t profile_idc,
	uint32_t width, uint32_t height, uint32_t fps, uint32_t bitrate_kbps)
{
	*sps = (struct zs_h264_sps){ 0 };
	if (width == 0 || height == 0 || fps == 0 || (width | height) & 1)
		return false;
	sps->profile_idc = profile_idc;
	if (profile_idc == ZS_H264_PROFILE_BASELINE)
		/* constraint_set0 and set1: Constrained Baseline, decodable by
		 * Main decoders too. */
		sps->constraint_flags = 0xc0;
	else if (profile_idc == ZS_H264_PROFILE_MAIN)
		sps->constraint_flags = 0x40;
	sps->width_mbs = (width + 15) / 16;
	sps->height_mbs = (height + 15) / 16;
	sps->level_idc = zs_h264_level_for(profile_idc, sps->width_mbs,
		sps->height_mbs, fps, bitrate_kbps);
	if (sps->level_idc == 0) {
		/* Over every level's bitrate: the level describes size and rate
		 * then, and decoders do not police bitrates. */
		sps->level_idc = zs_h264_level_for(profile_idc, sps->width_mbs,
			sps->height_mbs, fps, 0);
	}
	if (sps->level_idc == 0)
		return false;
	sps->log2_max_frame_num_minus4 = 4;
	sps->pic_order_cnt_type = 2;
	sps->max_num_ref_frames = 1;
	sps->crop_right = sps->width_mbs * 16 - width;
	sps->crop_bottom = sps->height_mbs * 16 - height;

	sps->vui = true;
	sps->video_full_range = false;
	sps->colour_primaries = 1;        /* BT.709 */
	sps->transfer_characteristics = 1;
	sps->matrix_coefficients = 1;
	sps->timing_info = true;
	sps->num_units_in_tick = 1;
	sps->time_scale = 2 * fps;        /* two ticks per frame */
	sps->fixed_frame_rate = false;    /* frames come when the screen changes */
	/* No reordering and a one-frame DPB: decoders output each picture
	 * as soon as it is decoded. */
	sps->bitstream_restriction = true;
	sps->max_num_reorder_frames = 0;
	sps->max_dec_frame_buffering = 1;
	return true;
}

static void put_start_code_and_header(struct zs_bitwriter *bw,
	uint8_t nal_ref_idc, uint8_t nal_unit_type)
{
	static const uint8_t start_code[4] = { 0, 0, 0, 1 };

	zs_bitwriter_align_zero(bw);
	zs_bitwriter_put_bytes(bw, start_code, sizeof(start_code));
	zs_bitwriter_put(bw, 0, 1); /* forbidden_zero_bit */
	zs_bitwriter_put(bw, nal_ref_idc, 2);
	zs_bitwriter_put(bw, nal_unit_type, 5);
}

/* Appends the RBSP in rbsp to bw as a complete NAL unit. */
static bool put_nal(struct zs_bitwriter *bw, uint8_t nal_ref_idc,
	uint8_t nal_unit_type, struct zs_bitwriter *rbsp)
{
	uint8_t *escaped;
	size_t len;
	bool ok;

	if (!zs_bitwriter_ok(rbsp) || !zs_bitwriter_aligned(rbsp))
		return false;
	escaped = malloc(zs_nal_escaped_max(zs_bitwriter_bytes(rbsp)));
	if (!escaped)
		return false;
	len = zs_nal_escape(rbsp->data, zs_bitwriter_bytes(rbsp), escaped);
	put_start_code_and_header(bw, nal_ref_idc, nal_unit_type);
	zs_bitwriter_put_bytes(bw, escaped, len);
	free(escaped);
	ok = zs_bitwriter_ok(bw);
	return ok;
}

static void put_vui(struct zs_bitwriter *r, const struct zs_h264_sps *sps)
{
	zs_nal_put_vui_colour(r, sps->video_full_range, sps->colour_primaries,
		sps->transfer_characteristics, sps->matrix_coefficients);
	zs_bitwriter_put_flag(r, sps->timing_info);
	if (sps->timing_info) {
		zs_bitwriter_put(r, sps->num_units_in_tick, 32);
		zs_bitwriter_put(r, sps->time_scale, 32);
		zs_bitwriter_put_flag(r, sps->fixed_frame_rate);
	}
	zs_bitwriter_put_flag(r, false); /* nal_hrd_parameters_present_flag */
	zs_bitwriter_put_flag(r, false); /* vcl_hrd_parameters_present_flag */
	zs_bitwriter_put_flag(r, false); /* pic_struct_present_flag */
	zs_bitwriter_put_flag(r, sps->bitstream_restriction);
	if (sps->bitstream_restriction) {
		zs_bitwriter_put_flag(r, true); /* motion_vectors_over_pic_boundaries */
		zs_bitwriter_put_ue(r, 0);      /* max_bytes_per_pic_denom */
		zs_bitwriter_put_ue(r, 0);      /* max_bits_per_mb_denom */
		zs_bitwriter_put_ue(r, 16);     /* log2_max_mv_length_horizontal */
		zs_bitwriter_put_ue(r, 16);     /* log2_max_mv_length_vertical */
		zs_bitwriter_put_ue(r, sps->max_num_reorder_frames);
		zs_bitwriter_put_ue(r, sps->max_dec_frame_buffering);
	}
}

bool zs_h264_write_sps(struct zs_bitwriter *bw, const struct zs_h264_sps *sps)
{
	struct zs_bitwriter r;
	bool ok;

	if (sps->width_mbs == 0 || sps->height_mbs == 0 ||
	    (sps->pic_order_cnt_type != 0 && sps->pic_order_cnt_type != 2) ||
	    sps->crop_right >= sps->width_mbs * 16 ||
	    sps->crop_bottom >= sps->height_mbs * 16 ||
	    ((sps->crop_right | sps->crop_bottom) & 1))
		return false;
	zs_bitwriter_init(&r);
	zs_bitwriter_put(&r, sps->profile_idc, 8);
	zs_bitwriter_put(&r, sps->constraint_flags & 0xfc, 8);
	zs_bitwriter_put(&r, sps->level_idc, 8);
	zs_bitwriter_put_ue(&r, sps->sps_id);
	if (is_high_profile(sps->profile_idc)) {
		zs_bitwriter_put_ue(&r, 1);      /* chroma_format_idc: 4:2:0 */
		zs_bitwriter_put_ue(&r, 0);      /* bit_depth_luma_minus8 */
		zs_bitwriter_put_ue(&r, 0);      /* bit_depth_chroma_minus8 */
		zs_bitwriter_put_flag(&r, false); /* qpprime_y_zero_transform_bypass */
		zs_bitwriter_put_flag(&r, false); /* seq_scaling_matrix_present */
	}
	zs_bitwriter_put_ue(&r, sps->log2_max_frame_num_minus4);
	zs_bitwriter_put_ue(&r, sps->pic_order_cnt_type);
	if (sps->pic_order_cnt_type == 0)
		zs_bitwriter_put_ue(&r, sps->log2_max_poc_lsb_minus4);
	zs_bitwriter_put_ue(&r, sps->max_num_ref_frames);
	zs_bitwriter_put_flag(&r, false); /* gaps_in_frame_num_value_allowed */
	zs_bitwriter_put_ue(&r, sps->width_mbs - 1);
	zs_bitwriter_put_ue(&r, sps->height_mbs - 1);
	zs_bitwriter_put_flag(&r, true);  /* frame_mbs_only_flag */
	zs_bitwriter_put_flag(&r, true);  /* direct_8x8_inference_flag */
	if (sps->crop_right || sps->crop_bottom) {
		/* 4:2:0 crops in units of two luma samples. */
		zs_bitwriter_put_flag(&r, true);
		zs_bitwriter_put_ue(&r, 0);
		zs_bitwriter_put_ue(&r, sps->crop_right / 2);
		zs_bitwriter_put_ue(&r, 0);
		zs_bitwriter_put_ue(&r, sps->crop_bottom / 2);
	} else {
		zs_bitwriter_put_flag(&r, false);
	}
	zs_bitwriter_put_flag(&r, sps->vui);
	if (sps->vui)
		put_vui(&r, sps);
	zs_bitwriter_trailing_bits(&r);
	ok = put_nal(bw, 3, ZS_H264_NAL_SPS, &r);
	zs_bitwriter_finish(&r);
	return ok;
}

bool zs_h264_write_pps(struct zs_bitwriter *bw, const struct zs_h264_sps *sps,
	const struct zs_h264_pps *pps)
{
	struct zs_bitwriter r;
	bool ok;

	if (pps->transform_8x8_mode && !is_high_profile(sps->profile_idc))
		return false;
	zs_bitwriter_init(&r);
	zs_bitwriter_put_ue(&r, pps->pps_id);
	zs_bitwriter_put_ue(&r, pps->sps_id);
	zs_bitwriter_put_flag(&r, pps->entropy_coding_mode);
	zs_bitwriter_put_flag(&r, false); /* bottom_field_pic_order_in_frame_present */
	zs_bitwriter_put_ue(&r, 0);       /* num_slice_groups_minus1 */
	zs_bitwriter_put_ue(&r, pps->num_ref_idx_l0_default_active_minus1);
	zs_bitwriter_put_ue(&r, 0);       /* num_ref_idx_l1_default_active_minus1 */
	zs_bitwriter_put_flag(&r, false); /* weighted_pred_flag */
	zs_bitwriter_put(&r, 0, 2);       /* weighted_bipred_idc */
	zs_bitwriter_put_se(&r, pps->pic_init_qp_minus26);
	zs_bitwriter_put_se(&r, 0);       /* pic_init_qs_minus26 */
	zs_bitwriter_put_se(&r, 0);       /* chroma_qp_index_offset */
	zs_bitwriter_put_flag(&r, pps->deblocking_filter_control_present);
	zs_bitwriter_put_flag(&r, false); /* constrained_intra_pred_flag */
	zs_bitwriter_put_flag(&r, false); /* redundant_pic_cnt_present_flag */
	if (pps->transform_8x8_mode) {
		zs_bitwriter_put_flag(&r, true);
		zs_bitwriter_put_flag(&r, false); /* pic_scaling_matrix_present */
		zs_bitwriter_put_se(&r, 0);       /* second_chroma_qp_index_offset */
	}
	zs_bitwriter_trailing_bits(&r);
	ok = put_nal(bw, 3, ZS_H264_NAL_PPS, &r);
	zs_bitwriter_finish(&r);
	return ok;
}

bool zs_h264_write_slice_header(struct zs_bitwriter *bw,
	const struct zs_h264_sps *sps, const struct zs_h264_pps *pps,
	const struct zs_h264_slice_header *sh)
{
	unsigned frame_num_bits = sps->log2_max_frame_num_minus4 + 4u;

	if ((sh->slice_type != ZS_H264_SLICE_P &&
	     sh->slice_type != ZS_H264_SLICE_I) ||
	    (sh->idr && sh->slice_type != ZS_H264_SLICE_I) ||
	    (sh->idr && sh->nal_ref_idc == 0) ||
	    sh->frame_num >> frame_num_bits != 0 || (sh->idr && sh->frame_num))
		return false;
	put_start_code_and_header(bw, sh->nal_ref_idc,
		sh->idr ? ZS_H264_NAL_IDR : ZS_H264_NAL_SLICE);
	zs_bitwriter_put_ue(bw, sh->first_mb);
	/* +5: every slice of the picture has this type. */
	zs_bitwriter_put_ue(bw, sh->slice_type + 5u);
	zs_bitwriter_put_ue(bw, pps->pps_id);
	zs_bitwriter_put(bw, sh->frame_num, frame_num_bits);
	if (sh->idr)
		zs_bitwriter_put_ue(bw, sh->idr_pic_id);
	if (sps->pic_order_cnt_type == 0)
		zs_bitwriter_put(bw, sh->pic_order_cnt_lsb,
			sps->log2_max_poc_lsb_minus4 + 4u);
	if (sh->slice_type == ZS_H264_SLICE_P) {
		zs_bitwriter_put_flag(bw, sh->num_ref_idx_override);
		if (sh->num_ref_idx_override)
			zs_bitwriter_put_ue(bw, sh->num_ref_idx_l0_active_minus1);
		zs_bitwriter_put_flag(bw, false); /* ref_pic_list_modification_flag_l0 */
	}
	if (sh->nal_ref_idc) {
		/* dec_ref_pic_marking(): sliding window. */
		if (sh->idr) {
			zs_bitwriter_put_flag(bw, false); /* no_output_of_prior_pics */
			zs_bitwriter_put_flag(bw, false); /* long_term_reference_flag */
		} else {
			zs_bitwriter_put_flag(bw, false); /* adaptive_ref_pic_marking */
		}
	}
	if (pps->entropy_coding_mode && sh->slice_type != ZS_H264_SLICE_I)
		zs_bitwriter_put_ue(bw, sh->cabac_init_idc);
	zs_bitwriter_put_se(bw, sh->slice_qp_delta);
	if (pps->deblocking_filter_control_present) {
		zs_bitwriter_put_ue(bw, sh->disable_deblocking_filter_idc);
		if (sh->disable_deblocking_filter_idc != 1) {
			zs_bitwriter_put_se(bw, 0); /* slice_alpha_c0_offset_div2 */
			zs_bitwriter_put_se(bw, 0); /* slice_beta_offset_div2 */
		}
	}
	return zs_bitwriter_ok(bw);
}
