/* zerospice — H.264 parameter sets and slice headers, written by us and
 * handed to VA-API drivers as packed headers. Private to encoder/.
 *
 * Every write function appends one NAL unit to the writer, starting with a
 * four-byte start code. Parameter sets are complete NAL units with
 * emulation prevention applied. A slice header is left open and unescaped
 * (the encoder appends slice data, trailing bits and emulation prevention),
 * which is what VA-API's packed slice header with has_emulation_bytes = 0
 * means. */
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
