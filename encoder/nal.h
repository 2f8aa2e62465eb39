/* zerospice — H.264 and HEVC parameter sets and slice headers, written by
 * us and handed to VA-API drivers as packed headers. Private to encoder/.
 *
 * Every write function appends one NAL unit to the writer, starting with a
 * four-byte start code. Parameter sets are complete NAL units with
 * emulation prevention applied. A slice header is left open and unescaped
 * (the encoder appends slice data, trailing bits and emulation prevention),
 * which is what VA-API's packed slice header with has_emulation_bytes = 0
 * means. (An HEVC slice segment header ends in byte_alignment(), so it
 * is whole bytes, still unescaped.) */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "bitwriter.h"

enum zs_h264_nal_type {
	ZS_H264_NAL_SLICE = 1,
	ZS_H264_NAL_IDR = 5,
	ZS_H264_NAL_SPS = 7,
	ZS_H264_NAL_PPS = 8,
};

enum zs_h264_profile_idc {
	ZS_H264_PROFILE_BASELINE = 66, /* with constraint_set1: Constrained Baseline */
	ZS_H264_PROFILE_MAIN = 77,
	ZS_H264_PROFILE_HIGH = 100,
};

enum zs_h264_slice_type {
	ZS_H264_SLICE_P = 0,
	ZS_H264_SLICE_I = 2,
};

/* Fields of the SPS we use; everything else is written as its neutral
 * value (no scaling lists, frame_mbs_only, 8-bit 4:2:0). */
struct zs_h264_sps {
	uint8_t profile_idc;
	uint8_t constraint_flags; /* constraint_set0_flag is bit 7 … set5 bit 2 */
	uint8_t level_idc;
	uint8_t sps_id;
	uint8_t log2_max_frame_num_minus4;
	uint8_t pic_order_cnt_type;       /* 0 or 2 */
	uint8_t log2_max_poc_lsb_minus4;  /* pic_order_cnt_type 0 only */
	uint8_t max_num_ref_frames;
	uint32_t width_mbs, height_mbs;
	/* Frame cropping in luma pixels (even for 4:2:0). */
	uint32_t crop_right, crop_bottom;

	bool vui;
	bool video_full_range;
	uint8_t colour_primaries, transfer_characteristics, matrix_coefficients;
	bool timing_info;
	uint32_t num_units_in_tick, time_scale;
	bool fixed_frame_rate;
	bool bitstream_restriction;
	uint8_t max_num_reorder_frames, max_dec_frame_buffering;
};

struct zs_h264_pps {
	uint8_t pps_id, sps_id;
	bool entropy_coding_mode; /* CABAC */
	uint8_t num_ref_idx_l0_default_active_minus1;
	int8_t pic_init_qp_minus26;
	bool deblocking_filter_control_present;
	bool transform_8x8_mode; /* High profile only */
};

struct zs_h264_slice_header {
	bool idr;
	uint8_t nal_ref_idc;
	uint32_t first_mb;
	uint8_t slice_type; /* enum zs_h264_slice_type */
	uint32_t frame_num;
	uint16_t idr_pic_id;
	uint32_t pic_order_cnt_lsb; /* pic_order_cnt_type 0 only */
	bool num_ref_idx_override;
	uint8_t num_ref_idx_l0_active_minus1;
	uint8_t cabac_init_idc;
	int8_t slice_qp_delta;
	uint8_t disable_deblocking_filter_idc;
};

/* Fills an SPS for a low-latency stream: one reference frame, no
 * reordering (POC type 2), BT.709 limited range signalled in the VUI,
 * timing for fps, the smallest level that fits size, rate and bitrate.
 * profile_idc 66 means Constrained Baseline. False for sizes H.264
 * cannot code. */
bool zs_h264_sps_init(struct zs_h264_sps *sps, uint8_t profile_idc,
	uint32_t width, uint32_t height, uint32_t fps, uint32_t bitrate_kbps);
/* Smallest level_idc (10 … 62) whose limits hold the stream; 0 if none. */
uint8_t zs_h264_level_for(uint8_t profile_idc, uint32_t width_mbs,
	uint32_t height_mbs, uint32_t fps, uint32_t bitrate_kbps);

bool zs_h264_write_sps(struct zs_bitwriter *bw, const struct zs_h264_sps *sps);
bool zs_h264_write_pps(struct zs_bitwriter *bw, const struct zs_h264_sps *sps,
	const struct zs_h264_pps *pps);
bool zs_h264_write_slice_header(struct zs_bitwriter *bw,
	const struct zs_h264_sps *sps, const struct zs_h264_pps *pps,
	const struct zs_h264_slice_header *sh);

/* ---- HEVC (ITU-T H.265 7.3), Main profile ---- */

enum zs_h265_nal_type {
	ZS_H265_NAL_TRAIL_R = 1,
	ZS_H265_NAL_IDR_W_RADL = 19,
	ZS_H265_NAL_VPS = 32,
	ZS_H265_NAL_SPS = 33,
	ZS_H265_NAL_PPS = 34,
};

enum zs_h265_slice_type {
	ZS_H265_SLICE_B = 0,
	ZS_H265_SLICE_P = 1,
	ZS_H265_SLICE_I = 2,
};

/* What the VPS and SPS say; everything else is written as its neutral
 * value (Main tier, 8-bit 4:2:0, no scaling lists, no long-term
 * references, one short-term reference picture set: the previous
 * picture). Sizes are log2 of luma samples. */
struct zs_h265_sps {
	uint8_t level_idc; /* general_level_idc: 30 x level */
	/* Coded size, multiples of the minimum coding block; the picture is
	 * cropped to the frame size by crop_right/crop_bottom (even). */
	uint32_t width, height;
	uint32_t crop_right, crop_bottom;
	uint8_t log2_min_cb, log2_ctb;
	uint8_t log2_min_tb, log2_max_tb;
	uint8_t max_transform_depth_inter, max_transform_depth_intra;
	uint8_t log2_max_poc_lsb;
	uint8_t max_dec_pic_buffering; /* pictures, the current one included */
	uint8_t max_num_reorder;
	bool amp, sao, temporal_mvp, strong_intra_smoothing;
	bool pcm;
	uint8_t log2_min_pcm, log2_max_pcm;
	bool pcm_loop_filter_disabled;

	bool vui;
	bool video_full_range;
	uint8_t colour_primaries, transfer_characteristics, matrix_coefficients;
	bool timing_info;
	uint32_t num_units_in_tick, time_scale;
};

struct zs_h265_pps {
	int8_t init_qp_minus26;
	bool cu_qp_delta;
	uint8_t diff_cu_qp_delta_depth;
	bool loop_filter_across_slices;
	bool deblocking_control;  /* deblocking_filter_control_present_flag */
	bool deblocking_disabled; /* pps_deblocking_filter_disabled_flag */
};

struct zs_h265_slice_header {
	bool idr;           /* IDR_W_RADL, else TRAIL_R */
	uint8_t slice_type; /* enum zs_h265_slice_type */
	uint32_t poc_lsb;   /* not written for IDR pictures */
	bool temporal_mvp;  /* slice_temporal_mvp_enabled_flag */
	bool sao_luma, sao_chroma;
	int8_t slice_qp_delta;
};

/* Fills an SPS for a low-latency stream at width x height (even): coding
 * blocks of 1 << log2_min_cb up to CTBs of 1 << log2_ctb (Main profile:
 * CTB 16..64), the coded size rounded up to whole minimum coding blocks
 * and cropped back, one reference picture and no reordering, BT.709
 * limited range and timing for fps in the VUI, the smallest level that
 * fits size, rate and bitrate. Transform blocks 4 .. min(32, CTB), depth
 * 2; no AMP, SAO, PCM or temporal MVP (callers turn on what their
 * encoder uses). False for sizes HEVC cannot code. */
bool zs_h265_sps_init(struct zs_h265_sps *sps, uint32_t width,
	uint32_t height, uint32_t fps, uint32_t bitrate_kbps, uint8_t log2_ctb,
	uint8_t log2_min_cb);
/* general_level_idc of the smallest Main tier level whose limits hold the
 * stream (30 … 186); 0 if none. */
uint8_t zs_h265_level_for(uint32_t width, uint32_t height, uint32_t fps,
	uint32_t bitrate_kbps);

bool zs_h265_write_vps(struct zs_bitwriter *bw, const struct zs_h265_sps *sps);
bool zs_h265_write_sps(struct zs_bitwriter *bw, const struct zs_h265_sps *sps);
bool zs_h265_write_pps(struct zs_bitwriter *bw, const struct zs_h265_sps *sps,
	const struct zs_h265_pps *pps);
/* The slice segment header of a picture's only slice, through
 * byte_alignment(). P and B slices refer to the previous picture
 * (the SPS's reference picture set), B slices in both lists. */
bool zs_h265_write_slice_header(struct zs_bitwriter *bw,
	const struct zs_h265_sps *sps, const struct zs_h265_pps *pps,
	const struct zs_h265_slice_header *sh);
