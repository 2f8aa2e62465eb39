/* zerospice — HEVC VPS/SPS/PPS/slice segment header writer (ITU-T H.265
 * 7.3), Main profile. */
#include <stdlib.h>

#include "nal.h"

/* Table A.8, Main tier: MaxLumaPs, MaxLumaSr, MaxBR (1000 bit/s). */
static const struct {
	uint8_t level_idc;
	uint32_t max_luma_ps;
	uint64_t max_luma_sr;
	uint32_t max_br;
} levels[] = {
	{ 30, 36864, 552960, 128 },
	{ 60, 122880, 3686400, 1500 },
	{ 63, 245760, 7372800, 3000 },
	{ 90, 552960, 16588800, 6000 },
	{ 93, 983040, 33177600, 10000 },
	{ 120, 2228224, 66846720, 12000 },
	{ 123, 2228224, 133693440, 20000 },
	{ 150, 8912896, 267386880, 25000 },
	{ 153, 8912896, 534773760, 40000 },
	{ 156, 8912896, 1069547520, 60000 },
	{ 180, 35651584, 1069547520, 60000 },
	{ 183, 35651584, 2139095040, 120000 },
	{ 186, 35651584, 4278190080ull, 240000 },
};

uint8_t zs_h265_level_for(uint32_t width, uint32_t height, uint32_t fps,
	uint32_t bitrate_kbps)
{
	uint64_t ps = (uint64_t)width * height;
	uint64_t sr = ps * fps;

	for (size_t i = 0; i < sizeof(levels) / sizeof(levels[0]); i++) {
		/* A.4.1: neither dimension may exceed sqrt(8 * MaxLumaPs). */
		uint64_t max_dim_sq = 8ull * levels[i].max_luma_ps;
		if (ps > levels[i].max_luma_ps || sr > levels[i].max_luma_sr ||
		    (uint64_t)width * width > max_dim_sq ||
		    (uint64_t)height * height > max_dim_sq)
			continue;
		/* CpbBrVclFactor of Main: 1000 */
		if ((uint64_t)bitrate_kbps > levels[i].max_br)
			continue;
		return levels[i].level_idc;
	}
	return 0;
}

bool zs_h265_sps_init(struct zs_h265_sps *sps, uint32_t width,
	uint32_t height, uint32_t fps, uint32_t bitrate_kbps, uint8_t log2_ctb,
	uint8_t log2_min_cb)
{
	uint32_t min_cb;

	*sps = (struct zs_h265_sps){ 0 };
	if (width == 0 || height == 0 || fps == 0 || (width | height) & 1 ||
	    width > 16384 || height > 16384 || log2_ctb < 4 || log2_ctb > 6 ||
	    log2_min_cb < 3 || log2_min_cb > log2_ctb)
		return false;
	min_cb = 1u << log2_min_cb;
	sps->width = (width + min_cb - 1) / min_cb * min_cb;
	sps->height = (height + min_cb - 1) / min_cb * min_cb;
	sps->crop_right = sps->width - width;
	sps->crop_bottom = sps->height - height;
	sps->level_idc = zs_h265_level_for(sps->width, sps->height, fps,
		bitrate_kbps);
	if (sps->level_idc == 0) {
		/* Over every level's bitrate: the level describes size and rate
		 * then, and decoders do not police bitrates. */
		sps->level_idc = zs_h265_level_for(sps->width, sps->height, fps,
			0);
	}
	if (sps->level_idc == 0)
		return false;
	sps->log2_ctb = log2_ctb;
	sps->log2_min_cb = log2_min_cb;
	sps->log2_min_tb = 2;
	sps->log2_max_tb = log2_ctb < 5 ? log2_ctb : 5;
	sps->max_transform_depth_inter = 2;
	sps->max_transform_depth_intra = 2;
	sps->log2_max_poc_lsb = 8;
	/* the reference and the picture being decoded; no reordering, so
	 * decoders output each picture as soon as it is decoded */
	sps->max_dec_pic_buffering = 2;
	sps->max_num_reorder = 0;

	sps->vui = true;
	sps->video_full_range = false;
	sps->colour_primaries = 1;        /* BT.709 */
	sps->transfer_characteristics = 1;
	sps->matrix_coefficients = 1;
	sps->timing_info = true;
	sps->num_units_in_tick = 1;       /* one tick per picture */
	sps->time_scale = fps;
	return true;
}

/* A start code and the two-byte NAL unit header (layer 0, temporal id 0). */
static void put_start_code_and_header(struct zs_bitwriter *bw,
	uint8_t nal_unit_type)
{
	static const uint8_t start_code[4] = { 0, 0, 0, 1 };

	zs_bitwriter_align_zero(bw);
	zs_bitwriter_put_bytes(bw, start_code, sizeof(start_code));
	zs_bitwriter_put(bw, 0, 1);             /* forbidden_zero_bit */
	zs_bitwriter_put(bw, nal_unit_type, 6);
	zs_bitwriter_put(bw, 0, 6);             /* nuh_layer_id */
	zs_bitwriter_put(bw, 1, 3);             /* nuh_temporal_id_plus1 */
}

/* Appends the RBSP in rbsp to bw as a complete NAL unit. */
static bool put_nal(struct zs_bitwriter *bw, uint8_t nal_unit_type,
	struct zs_bitwriter *rbsp)
{
	uint8_t *escaped;
	size_t len;

	if (!zs_bitwriter_ok(rbsp) || !zs_bitwriter_aligned(rbsp))
		return false;
	escaped = malloc(zs_nal_escaped_max(zs_bitwriter_bytes(rbsp)));
	if (!escaped)
		return false;
	len = zs_nal_escape(rbsp->data, zs_bitwriter_bytes(rbsp), escaped);
	put_start_code_and_header(bw, nal_unit_type);
	zs_bitwriter_put_bytes(bw, escaped, len);
	free(escaped);
	return zs_bitwriter_ok(bw);
}

/* profile_tier_level(1, 0): Main profile, Main tier. */
static void put_profile_tier_level(struct zs_bitwriter *r,
	const struct zs_h265_sps *sps)
{
	zs_bitwriter_put(r, 0, 2);       /* general_profile_space */
	zs_bitwriter_put_flag(r, false); /* general_tier_flag: Main */
	zs_bitwriter_put(r, 1, 5);       /* general_profile_idc: Main */
	/* general_profile_compatibility_flag[j], j = 0 first: Main (1),
	 * and Main 10 (2) decoders take a Main stream */
	zs_bitwriter_put(r, (1u << 30) | (1u << 29), 32);
	zs_bitwriter_put_flag(r, true);  /* general_progressive_source_flag */
	zs_bitwriter_put_flag(r, false); /* general_interlaced_source_flag */
	zs_bitwriter_put_flag(r, false); /* general_non_packed_constraint_flag */
	zs_bitwriter_put_flag(r, true);  /* general_frame_only_constraint_flag */
	zs_bitwriter_put(r, 0, 32);      /* 43 reserved zero bits … */
	zs_bitwriter_put(r, 0, 11);
	zs_bitwriter_put_flag(r, false); /* … and general_inbld_flag */
	zs_bitwriter_put(r, sps->level_idc, 8);
}

static bool sps_valid(const struct zs_h265_sps *sps)
{
	uint32_t min_cb = 1u << sps->log2_min_cb;
	uint8_t max_pcm = sps->log2_ctb < 5 ? sps->log2_ctb : 5;
	uint8_t min_pcm_floor = sps->log2_min_cb < 5 ? sps->log2_min_cb : 5;

	if (sps->log2_ctb < 4 || sps->log2_ctb > 6 || sps->log2_min_cb < 3 ||
	    sps->log2_min_cb > sps->log2_ctb || sps->log2_min_tb < 2 ||
	    sps->log2_min_tb >= sps->log2_min_cb ||
	    sps->log2_max_tb < sps->log2_min_tb || sps->log2_max_tb > 5 ||
	    sps->log2_max_tb > sps->log2_ctb ||
	    sps->max_transform_depth_inter > sps->log2_ctb - sps->log2_min_tb ||
	    sps->max_transform_depth_intra > sps->log2_ctb - sps->log2_min_tb ||
	    sps->log2_max_poc_lsb < 4 || sps->log2_max_poc_lsb > 16 ||
	    sps->max_dec_pic_buffering < 2 ||
	    sps->max_num_reorder >= sps->max_dec_pic_buffering)
		return false;
	if (sps->width == 0 || sps->height == 0 || sps->width % min_cb ||
	    sps->height % min_cb || sps->crop_right >= sps->width ||
	    sps->crop_bottom >= sps->height ||
	    ((sps->crop_right | sps->crop_bottom) & 1))
		return false;
	if (sps->pcm && (sps->log2_min_pcm < min_pcm_floor ||
	    sps->log2_min_pcm > sps->log2_max_pcm ||
	    sps->log2_max_pcm > max_pcm))
		return false;
	return true;
}

bool zs_h265_write_vps(struct zs_bitwriter *bw, const struct zs_h265_sps *sps)
{
	struct zs_bitwriter r;
	bool ok;

	if (!sps_valid(sps))
		return false;
	zs_bitwriter_init(&r);
	zs_bitwriter_put(&r, 0, 4);        /* vps_video_parameter_set_id */
	zs_bitwriter_put_flag(&r, true);   /* vps_base_layer_internal_flag */
	zs_bitwriter_put_flag(&r, true);   /* vps_base_layer_available_flag */
	zs_bitwriter_put(&r, 0, 6);        /* vps_max_layers_minus1 */
	zs_bitwriter_put(&r, 0, 3);        /* vps_max_sub_layers_minus1 */
	zs_bitwriter_put_flag(&r, true);   /* vps_temporal_id_nesting_flag */
	zs_bitwriter_put(&r, 0xffff, 16);  /* vps_reserved_0xffff_16bits */
	put_profile_tier_level(&r, sps);
	zs_bitwriter_put_flag(&r, true);   /* vps_sub_layer_ordering_info_present */
	zs_bitwriter_put_ue(&r, sps->max_dec_pic_buffering - 1u);
	zs_bitwriter_put_ue(&r, sps->max_num_reorder);
	zs_bitwriter_put_ue(&r, 0);        /* vps_max_latency_increase_plus1 */
	zs_bitwriter_put(&r, 0, 6);        /* vps_max_layer_id */
	zs_bitwriter_put_ue(&r, 0);        /* vps_num_layer_sets_minus1 */
	zs_bitwriter_put_flag(&r, sps->timing_info);
	if (sps->timing_info) {
		zs_bitwriter_put(&r, sps->num_units_in_tick, 32);
		zs_bitwriter_put(&r, sps->time_scale, 32);
		zs_bitwriter_put_flag(&r, false); /* vps_poc_proportional_to_timing */
		zs_bitwriter_put_ue(&r, 0);       /* vps_num_hrd_parameters */
	}
	zs_bitwriter_put_flag(&r, false);  /* vps_extension_flag */
	zs_bitwriter_trailing_bits(&r);
	ok = put_nal(bw, ZS_H265_NAL_VPS, &r);
	zs_bitwriter_finish(&r);
	return ok;
}

static void put_vui(struct zs_bitwriter *r, const struct zs_h265_sps *sps)
{
	zs_nal_put_vui_colour(r, sps->video_full_range, sps->colour_primaries,
		sps->transfer_characteristics, sps->matrix_coefficients);
	zs_bitwriter_put_flag(r, false); /* neutral_chroma_indication_flag */
	zs_bitwriter_put_flag(r, false); /* field_seq_flag */
	zs_bitwriter_put_flag(r, false); /* frame_field_info_present_flag */
	zs_bitwriter_put_flag(r, false); /* default_display_window_flag */
	zs_bitwriter_put_flag(r, sps->timing_info);
	if (sps->timing_info) {
		zs_bitwriter_put(r, sps->num_units_in_tick, 32);
		zs_bitwriter_put(r, sps->time_scale, 32);
		zs_bitwriter_put_flag(r, false); /* vui_poc_proportional_to_timing */
		zs_bitwriter_put_flag(r, false); /* vui_hrd_parameters_present */
	}
	zs_bitwriter_put_flag(r, false); /* bitstream_restriction_flag */
}

bool zs_h265_write_sps(struct zs_bitwriter *bw, const struct zs_h265_sps *sps)
{
	struct zs_bitwriter r;
	bool ok;

	if (!sps_valid(sps))
		return false;
	zs_bitwriter_init(&r);
	zs_bitwriter_put(&r, 0, 4);       /* sps_video_parameter_set_id */
	zs_bitwriter_put(&r, 0, 3);       /* sps_max_sub_layers_minus1 */
	zs_bitwriter_put_flag(&r, true);  /* sps_temporal_id_nesting_flag */
	put_profile_tier_level(&r, sps);
	zs_bitwriter_put_ue(&r, 0);       /* sps_seq_parameter_set_id */
	zs_bitwriter_put_ue(&r, 1);       /* chroma_format_idc: 4:2:0 */
	zs_bitwriter_put_ue(&r, sps->width);
	zs_bitwriter_put_ue(&r, sps->height);
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
	zs_bitwriter_put_ue(&r, 0);       /* bit_depth_luma_minus8 */
	zs_bitwriter_put_ue(&r, 0);       /* bit_depth_chroma_minus8 */
	zs_bitwriter_put_ue(&r, sps->log2_max_poc_lsb - 4u);
	zs_bitwriter_put_flag(&r, true);  /* sps_sub_layer_ordering_info_present */
	zs_bitwriter_put_ue(&r, sps->max_dec_pic_buffering - 1u);
	zs_bitwriter_put_ue(&r, sps->max_num_reorder);
	zs_bitwriter_put_ue(&r, 0);       /* sps_max_latency_increase_plus1 */
	zs_bitwriter_put_ue(&r, sps->log2_min_cb - 3u);
	zs_bitwriter_put_ue(&r, (uint32_t)(sps->log2_ctb - sps->log2_min_cb));
	zs_bitwriter_put_ue(&r, sps->log2_min_tb - 2u);
	zs_bitwriter_put_ue(&r, (uint32_t)(sps->log2_max_tb - sps->log2_min_tb));
	zs_bitwriter_put_ue(&r, sps->max_transform_depth_inter);
	zs_bitwriter_put_ue(&r, sps->max_transform_depth_intra);
	zs_bitwriter_put_flag(&r, false); /* scaling_list_enabled_flag */
	zs_bitwriter_put_flag(&r, sps->amp);
	zs_bitwriter_put_flag(&r, sps->sao);
	zs_bitwriter_put_flag(&r, sps->pcm);
	if (sps->pcm) {
		zs_bitwriter_put(&r, 7, 4); /* pcm_sample_bit_depth_luma_minus1 */
		zs_bitwriter_put(&r, 7, 4); /* pcm_sample_bit_depth_chroma_minus1 */
		zs_bitwriter_put_ue(&r, sps->log2_min_pcm - 3u);
		zs_bitwriter_put_ue(&r,
			(uint32_t)(sps->log2_max_pcm - sps->log2_min_pcm));
		zs_bitwriter_put_flag(&r, sps->pcm_loop_filter_disabled);
	}
	/* st_ref_pic_set(0): the previous picture, used by the current one */
	zs_bitwriter_put_ue(&r, 1);       /* num_short_term_ref_pic_sets */
	zs_bitwriter_put_ue(&r, 1);       /* num_negative_pics */
	zs_bitwriter_put_ue(&r, 0);       /* num_positive_pics */
	zs_bitwriter_put_ue(&r, 0);       /* delta_poc_s0_minus1[0] */
	zs_bitwriter_put_flag(&r, true);  /* used_by_curr_pic_s0_flag[0] */
	zs_bitwriter_put_flag(&r, false); /* long_term_ref_pics_present_flag */
	zs_bitwriter_put_flag(&r, sps->temporal_mvp);
	zs_bitwriter_put_flag(&r, sps->strong_intra_smoothing);
	zs_bitwriter_put_flag(&r, sps->vui);
	if (sps->vui)
		put_vui(&r, sps);
	zs_bitwriter_put_flag(&r, false); /* sps_extension_present_flag */
	zs_bitwriter_trailing_bits(&r);
	ok = put_nal(bw, ZS_H265_NAL_SPS, &r);
	zs_bitwriter_finish(&r);
	return ok;
}

bool zs_h265_write_pps(struct zs_bitwriter *bw, const struct zs_h265_sps *sps,
	const struct zs_h265_pps *pps)
{
	struct zs_bitwriter r;
	bool ok;

	if (!sps_valid(sps) || pps->init_qp_minus26 < -26 ||
	    pps->init_qp_minus26 > 25 ||
	    (pps->cu_qp_delta && pps->diff_cu_qp_delta_depth >
		sps->log2_ctb - sps->log2_min_cb) ||
	    (pps->deblocking_disabled && !pps->deblocking_control))
		return false;
	zs_bitwriter_init(&r);
	zs_bitwriter_put_ue(&r, 0);       /* pps_pic_parameter_set_id */
	zs_bitwriter_put_ue(&r, 0);       /* pps_seq_parameter_set_id */
	zs_bitwriter_put_flag(&r, false); /* dependent_slice_segments_enabled */
	zs_bitwriter_put_flag(&r, false); /* output_flag_present_flag */
	zs_bitwriter_put(&r, 0, 3);       /* num_extra_slice_header_bits */
	zs_bitwriter_put_flag(&r, false); /* sign_data_hiding_enabled_flag */
	zs_bitwriter_put_flag(&r, false); /* cabac_init_present_flag */
	zs_bitwriter_put_ue(&r, 0);       /* num_ref_idx_l0_default_active_minus1 */
	zs_bitwriter_put_ue(&r, 0);       /* num_ref_idx_l1_default_active_minus1 */
	zs_bitwriter_put_se(&r, pps->init_qp_minus26);
	zs_bitwriter_put_flag(&r, false); /* constrained_intra_pred_flag */
	zs_bitwriter_put_flag(&r, false); /* transform_skip_enabled_flag */
	zs_bitwriter_put_flag(&r, pps->cu_qp_delta);
	if (pps->cu_qp_delta)
		zs_bitwriter_put_ue(&r, pps->diff_cu_qp_delta_depth);
	zs_bitwriter_put_se(&r, 0);       /* pps_cb_qp_offset */
	zs_bitwriter_put_se(&r, 0);       /* pps_cr_qp_offset */
	zs_bitwriter_put_flag(&r, false); /* pps_slice_chroma_qp_offsets_present */
	zs_bitwriter_put_flag(&r, false); /* weighted_pred_flag */
	zs_bitwriter_put_flag(&r, false); /* weighted_bipred_flag */
	zs_bitwriter_put_flag(&r, false); /* transquant_bypass_enabled_flag */
	zs_bitwriter_put_flag(&r, false); /* tiles_enabled_flag */
	zs_bitwriter_put_flag(&r, false); /* entropy_coding_sync_enabled_flag */
	zs_bitwriter_put_flag(&r, pps->loop_filter_across_slices);
	zs_bitwriter_put_flag(&r, pps->deblocking_control);
	if (pps->deblocking_control) {
		zs_bitwriter_put_flag(&r, false); /* deblocking_filter_override_enabled */
		zs_bitwriter_put_flag(&r, pps->deblocking_disabled);
		if (!pps->deblocking_disabled) {
			zs_bitwriter_put_se(&r, 0); /* pps_beta_offset_div2 */
			zs_bitwriter_put_se(&r, 0); /* pps_tc_offset_div2 */
		}
	}
	zs_bitwriter_put_flag(&r, false); /* pps_scaling_list_data_present_flag */
	zs_bitwriter_put_flag(&r, false); /* lists_modification_present_flag */
	zs_bitwriter_put_ue(&r, 0);       /* log2_parallel_merge_level_minus2 */
	zs_bitwriter_put_flag(&r, false); /* slice_segment_header_extension_present */
	zs_bitwriter_put_flag(&r, false); /* pps_extension_present_flag */
	zs_bitwriter_trailing_bits(&r);
	ok = put_nal(bw, ZS_H265_NAL_PPS, &r);
	zs_bitwriter_finish(&r);
	return ok;
}

bool zs_h265_write_slice_header(struct zs_bitwriter *bw,
	const struct zs_h265_sps *sps, const struct zs_h265_pps *pps,
	const struct zs_h265_slice_header *sh)
{
	bool inter = sh->slice_type != ZS_H265_SLICE_I;
	int qp = 26 + pps->init_qp_minus26 + sh->slice_qp_delta;

	if (sh->slice_type > ZS_H265_SLICE_I || (sh->idr && inter) ||
	    (!sh->idr && sh->poc_lsb >> sps->log2_max_poc_lsb) ||
	    (sh->temporal_mvp && (!sps->temporal_mvp || sh->idr)) ||
	    ((sh->sao_luma || sh->sao_chroma) && !sps->sao) ||
	    qp < 0 || qp > 51)
		return false;
	put_start_code_and_header(bw, sh->idr ? ZS_H265_NAL_IDR_W_RADL :
		ZS_H265_NAL_TRAIL_R);
	zs_bitwriter_put_flag(bw, true);  /* first_slice_segment_in_pic_flag */
	if (sh->idr)
		zs_bitwriter_put_flag(bw, false); /* no_output_of_prior_pics_flag */
	zs_bitwriter_put_ue(bw, 0);       /* slice_pic_parameter_set_id */
	zs_bitwriter_put_ue(bw, sh->slice_type);
	if (!sh->idr) {
		zs_bitwriter_put(bw, sh->poc_lsb, sps->log2_max_poc_lsb);
		/* the SPS's only reference picture set: no index follows */
		zs_bitwriter_put_flag(bw, true); /* short_term_ref_pic_set_sps_flag */
		if (sps->temporal_mvp)
			zs_bitwriter_put_flag(bw, sh->temporal_mvp);
	}
	if (sps->sao) {
		zs_bitwriter_put_flag(bw, sh->sao_luma);
		zs_bitwriter_put_flag(bw, sh->sao_chroma);
	}
	if (inter) {
		/* one reference per list, the PPS default */
		zs_bitwriter_put_flag(bw, false); /* num_ref_idx_active_override */
		if (sh->slice_type == ZS_H265_SLICE_B)
			zs_bitwriter_put_flag(bw, false); /* mvd_l1_zero_flag */
		if (sh->temporal_mvp && sh->slice_type == ZS_H265_SLICE_B)
			zs_bitwriter_put_flag(bw, true); /* collocated_from_l0_flag */
		zs_bitwriter_put_ue(bw, 0);       /* five_minus_max_num_merge_cand */
	}
	zs_bitwriter_put_se(bw, sh->slice_qp_delta);
	if (pps->loop_filter_across_slices &&
	    (sh->sao_luma || sh->sao_chroma || !pps->deblocking_disabled))
		/* slice_loop_filter_across_slices_enabled_flag */
		zs_bitwriter_put_flag(bw, true);
	/* byte_alignment() */
	zs_bitwriter_put_flag(bw, true);
	zs_bitwriter_align_zero(bw);
	return zs_bitwriter_ok(bw);
}
