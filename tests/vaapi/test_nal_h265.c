/* The HEVC NAL writer, parsed back with GStreamer's codec parsers (an
 * independent reader): every field we write must come back as written. */
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#define GST_USE_UNSTABLE_API
#include <gst/codecparsers/gsth265parser.h>

#include "bitwriter.h"
#include "nal.h"

struct hevc_case {
	const char *name;
	uint32_t width, height, fps, kbps;
	uint8_t log2_ctb, log2_min_cb;
	uint8_t want_level;
	/* SPS options */
	bool amp, sao, tmvp, pcm;
	uint8_t log2_min_pcm, log2_max_pcm;
	/* PPS */
	int8_t init_qp_minus26;
	bool cu_qp_delta, deblocking_control, deblocking_disabled;
	/* the slice */
	bool idr;
	uint8_t slice_type;
	uint32_t poc_lsb;
	int8_t qp_delta;
	bool slice_tmvp, sao_luma, sao_chroma;
};

static const struct hevc_case hevc_cases[] = {
	{ "720p60-idr", 1280, 720, 60, 6000, 5, 4, 120, .idr = true,
	  .slice_type = ZS_H265_SLICE_I },
	{ "800x600-p-min-cb-8", 800, 600, 30, 2000, 5, 3, 90,
	  .slice_type = ZS_H265_SLICE_P, .poc_lsb = 7, .qp_delta = -3 },
	{ "1080p-ctb64-p-tmvp-cu-qp", 1920, 1080, 30, 8000, 6, 3, 120,
	  .tmvp = true, .cu_qp_delta = true, .slice_type = ZS_H265_SLICE_P,
	  .poc_lsb = 255, .slice_tmvp = true, .qp_delta = 12 },
	{ "1080p60-low-delay-b", 1920, 1080, 60, 12000, 5, 4, 123,
	  .tmvp = true, .slice_type = ZS_H265_SLICE_B, .poc_lsb = 1,
	  .slice_tmvp = true, .init_qp_minus26 = -4 },
	{ "4k-sao-amp-deblock-off", 3840, 2160, 30, 40000, 6, 3, 153,
	  .amp = true, .sao = true, .deblocking_control = true,
	  .deblocking_disabled = true, .slice_type = ZS_H265_SLICE_P,
	  .poc_lsb = 100, .sao_luma = true, .qp_delta = -26 },
	{ "odd-multiple-crop-pcm", 642, 482, 25, 1500, 4, 3, 90,
	  .pcm = true, .log2_min_pcm = 3, .log2_max_pcm = 4, .idr = true,
	  .slice_type = ZS_H265_SLICE_I },
	{ "pcm-16-p", 336, 200, 30, 1000, 5, 4, 60, .pcm = true,
	  .log2_min_pcm = 4, .log2_max_pcm = 5, .slice_type = ZS_H265_SLICE_P,
	  .poc_lsb = 3 },
	{ "tiny-16x16", 16, 16, 1, 64, 4, 3, 30, .idr = true,
	  .slice_type = ZS_H265_SLICE_I },
};

struct parsed {
	GstH265Parser *parser;
	GstH265VPS vps;
	GstH265SPS sps;
	GstH265PPS pps;
	GstH265SliceHdr slice;
	GstH265NalUnit nalus[4];
	int n_nalus;
};

static void build(const struct hevc_case *c, struct zs_h265_sps *sps,
	struct zs_h265_pps *pps, struct zs_h265_slice_header *sh)
{
	cr_assert(zs_h265_sps_init(sps, c->width, c->height, c->fps, c->kbps,
		c->log2_ctb, c->log2_min_cb), "%s: sps_init", c->name);
	sps->amp = c->amp;
	sps->sao = c->sao;
	sps->temporal_mvp = c->tmvp;
	sps->pcm = c->pcm;
	sps->log2_min_pcm = c->log2_min_pcm;
	sps->log2_max_pcm = c->log2_max_pcm;
	sps->pcm_loop_filter_disabled = c->pcm;
	*pps = (struct zs_h265_pps){
		.init_qp_minus26 = c->init_qp_minus26,
		.cu_qp_delta = c->cu_qp_delta,
		.deblocking_control = c->deblocking_control,
		.deblocking_disabled = c->deblocking_disabled,
	};
	*sh = (struct zs_h265_slice_header){
		.idr = c->idr, .slice_type = c->slice_type,
		.poc_lsb = c->poc_lsb, .temporal_mvp = c->slice_tmvp,
		.sao_luma = c->sao_luma, .sao_chroma = c->sao_chroma,
		.slice_qp_delta = c->qp_delta,
	};
}

/* The packed slice header (start code, NAL header, header bits through
 * byte_alignment) plus one byte standing for slice data, escaped. */
static size_t close_slice_nal(const struct zs_bitwriter *sh, uint8_t *out)
{
	size_t n = zs_bitwriter_bytes(sh);
	uint8_t *body = malloc(n + 1);

	memcpy(body, sh->data + 6, n - 6);
	body[n - 6] = 0x80;
	memcpy(out, sh->data, 6);
	n = zs_nal_escape(body, n - 5, out + 6) + 6;
	free(body);
	return n;
}

static void build_and_parse(const struct hevc_case *c, struct parsed *p,
	struct zs_h265_sps *sps, struct zs_h265_pps *pps,
	struct zs_h265_slice_header *sh, size_t *sh_bits)
{
	struct zs_bitwriter ps, slice;
	uint8_t *stream;
	size_t len, off = 0;

	build(c, sps, pps, sh);
	zs_bitwriter_init(&ps);
	zs_bitwriter_init(&slice);
	cr_assert(zs_h265_write_vps(&ps, sps), "%s: write_vps", c->name);
	cr_assert(zs_h265_write_sps(&ps, sps), "%s: write_sps", c->name);
	cr_assert(zs_h265_write_pps(&ps, sps, pps), "%s: write_pps", c->name);
	cr_assert(zs_h265_write_slice_header(&slice, sps, pps, sh),
		"%s: write_slice_header", c->name);
	cr_assert(zs_bitwriter_aligned(&slice), "%s: byte_alignment()",
		c->name);
	/* after the 4-byte start code and the 2-byte NAL header */
	*sh_bits = slice.bits - 48;

	len = zs_bitwriter_bytes(&ps);
	stream = malloc(len + zs_nal_escaped_max(zs_bitwriter_bytes(&slice)) + 8);
	memcpy(stream, ps.data, len);
	len += close_slice_nal(&slice, stream + len);

	p->parser = gst_h265_parser_new();
	while (off < len) {
		GstH265NalUnit nalu;
		GstH265ParserResult r = gst_h265_parser_identify_nalu(p->parser,
			stream, (guint)off, len, &nalu);
		cr_assert(r == GST_H265_PARSER_OK ||
			r == GST_H265_PARSER_NO_NAL_END,
			"%s: identify_nalu at %zu: %d", c->name, off, r);
		cr_assert_lt(p->n_nalus, 4, "%s: too many NAL units", c->name);
		p->nalus[p->n_nalus++] = nalu;
		cr_expect_eq(nalu.layer_id, 0, "%s", c->name);
		cr_expect_eq(nalu.temporal_id_plus1, 1, "%s", c->name);
		switch (nalu.type) {
		case GST_H265_NAL_VPS:
			cr_assert_eq(gst_h265_parser_parse_vps(p->parser, &nalu,
				&p->vps), GST_H265_PARSER_OK, "%s: parse_vps",
				c->name);
			break;
		case GST_H265_NAL_SPS:
			cr_assert_eq(gst_h265_parser_parse_sps(p->parser, &nalu,
				&p->sps, TRUE), GST_H265_PARSER_OK, "%s: parse_sps",
				c->name);
			break;
		case GST_H265_NAL_PPS:
			cr_assert_eq(gst_h265_parser_parse_pps(p->parser, &nalu,
				&p->pps), GST_H265_PARSER_OK, "%s: parse_pps",
				c->name);
			break;
		case GST_H265_NAL_SLICE_TRAIL_R:
		case GST_H265_NAL_SLICE_IDR_W_RADL:
			cr_assert_eq(gst_h265_parser_parse_slice_hdr(p->parser,
				&nalu, &p->slice), GST_H265_PARSER_OK,
				"%s: parse_slice_hdr", c->name);
			break;
		default:
			cr_assert_fail("%s: unexpected NAL type %d", c->name,
				nalu.type);
		}
		off = nalu.offset + nalu.size;
	}
	free(stream);
	zs_bitwriter_finish(&ps);
	zs_bitwriter_finish(&slice);
}

static void expect_ptl(const GstH265ProfileTierLevel *ptl,
	const struct hevc_case *c, const char *what)
{
	cr_expect_eq(ptl->profile_space, 0, "%s %s", c->name, what);
	cr_expect_eq(ptl->tier_flag, 0, "%s %s: Main tier", c->name, what);
	cr_expect_eq(ptl->profile_idc, 1, "%s %s: Main profile", c->name, what);
	for (int j = 0; j < 32; j++)
		cr_expect_eq(ptl->profile_compatibility_flag[j], j == 1 || j == 2,
			"%s %s: compatibility flag %d", c->name, what, j);
	cr_expect_eq(ptl->progressive_source_flag, 1, "%s %s", c->name, what);
	cr_expect_eq(ptl->interlaced_source_flag, 0, "%s %s", c->name, what);
	cr_expect_eq(ptl->frame_only_constraint_flag, 1, "%s %s", c->name,
		what);
	cr_expect_eq(ptl->level_idc, c->want_level, "%s %s: level_idc %u",
		c->name, what, ptl->level_idc);
}

Test(nal_h265, vps_sps_pps_and_slice_headers_parse_back_field_by_field)
{
	for (size_t i = 0; i < sizeof(hevc_cases) / sizeof(hevc_cases[0]); i++) {
		const struct hevc_case *c = &hevc_cases[i];
		struct zs_h265_sps sps;
		struct zs_h265_pps pps;
		struct zs_h265_slice_header sh;
		struct parsed p = { 0 };
		size_t sh_bits;
		uint32_t min_cb = 1u << c->log2_min_cb;
		uint32_t coded_w = (c->width + min_cb - 1) / min_cb * min_cb;
		uint32_t coded_h = (c->height + min_cb - 1) / min_cb * min_cb;
		const GstH265VUIParams *vui = &p.sps.vui_params;
		const GstH265ShortTermRefPicSet *rps;

		build_and_parse(c, &p, &sps, &pps, &sh, &sh_bits);
		cr_expect_eq(p.n_nalus, 4, "%s: %d NAL units", c->name, p.n_nalus);
		cr_expect_eq(p.nalus[0].type, GST_H265_NAL_VPS, "%s", c->name);
		cr_expect_eq(p.nalus[1].type, GST_H265_NAL_SPS, "%s", c->name);
		cr_expect_eq(p.nalus[2].type, GST_H265_NAL_PPS, "%s", c->name);

		/* VPS */
		cr_expect_eq(p.vps.id, 0, "%s", c->name);
		cr_expect_eq(p.vps.base_layer_internal_flag, 1, "%s", c->name);
		cr_expect_eq(p.vps.base_layer_available_flag, 1, "%s", c->name);
		cr_expect_eq(p.vps.max_layers_minus1, 0, "%s", c->name);
		cr_expect_eq(p.vps.max_sub_layers_minus1, 0, "%s", c->name);
		cr_expect_eq(p.vps.temporal_id_nesting_flag, 1, "%s", c->name);
		expect_ptl(&p.vps.profile_tier_level, c, "VPS");
		cr_expect_eq(p.vps.max_dec_pic_buffering_minus1[0], 1, "%s",
			c->name);
		cr_expect_eq(p.vps.max_num_reorder_pics[0], 0, "%s", c->name);
		cr_expect_eq(p.vps.timing_info_present_flag, 1, "%s", c->name);
		cr_expect_eq(p.vps.num_units_in_tick, 1, "%s", c->name);
		cr_expect_eq(p.vps.time_scale, c->fps, "%s", c->name);
		cr_expect_eq(p.vps.num_hrd_parameters, 0, "%s", c->name);

		/* SPS */
		expect_ptl(&p.sps.profile_tier_level, c, "SPS");
		cr_expect_eq(p.sps.chroma_format_idc, 1, "%s: 4:2:0", c->name);
		cr_expect_eq(p.sps.bit_depth_luma_minus8, 0, "%s", c->name);
		cr_expect_eq(p.sps.bit_depth_chroma_minus8, 0, "%s", c->name);
		cr_expect_eq(p.sps.pic_width_in_luma_samples, coded_w,
			"%s: coded width %u", c->name,
			p.sps.pic_width_in_luma_samples);
		cr_expect_eq(p.sps.pic_height_in_luma_samples, coded_h,
			"%s: coded height %u", c->name,
			p.sps.pic_height_in_luma_samples);
		cr_expect_eq(p.sps.conformance_window_flag,
			coded_w != c->width || coded_h != c->height, "%s",
			c->name);
		cr_expect_eq(p.sps.conformance_window_flag ?
			p.sps.crop_rect_width : p.sps.width, (gint)c->width,
			"%s: cropped width", c->name);
		cr_expect_eq(p.sps.conformance_window_flag ?
			p.sps.crop_rect_height : p.sps.height, (gint)c->height,
			"%s: cropped height", c->name);
		cr_expect_eq(p.sps.conf_win_left_offset, 0, "%s", c->name);
		cr_expect_eq(p.sps.conf_win_top_offset, 0, "%s", c->name);
		cr_expect_eq(p.sps.log2_max_pic_order_cnt_lsb_minus4, 4, "%s",
			c->name);
		cr_expect_eq(p.sps.max_dec_pic_buffering_minus1[0], 1,
			"%s: one reference", c->name);
		cr_expect_eq(p.sps.max_num_reorder_pics[0], 0,
			"%s: no reordering", c->name);
		cr_expect_eq(p.sps.log2_min_luma_coding_block_size_minus3 + 3,
			c->log2_min_cb, "%s", c->name);
		cr_expect_eq(p.sps.log2_min_luma_coding_block_size_minus3 + 3 +
			p.sps.log2_diff_max_min_luma_coding_block_size,
			c->log2_ctb, "%s: CTB size", c->name);
		cr_expect_eq(p.sps.log2_min_transform_block_size_minus2, 0, "%s",
			c->name);
		cr_expect_eq(p.sps.log2_min_transform_block_size_minus2 + 2 +
			p.sps.log2_diff_max_min_transform_block_size,
			c->log2_ctb < 5 ? c->log2_ctb : 5, "%s: max TB", c->name);
		cr_expect_eq(p.sps.scaling_list_enabled_flag, 0, "%s", c->name);
		cr_expect_eq(p.sps.amp_enabled_flag, c->amp, "%s", c->name);
		cr_expect_eq(p.sps.sample_adaptive_offset_enabled_flag, c->sao,
			"%s", c->name);
		cr_expect_eq(p.sps.pcm_enabled_flag, c->pcm, "%s", c->name);
		if (c->pcm) {
			cr_expect_eq(p.sps.pcm_sample_bit_depth_luma_minus1, 7,
				"%s", c->name);
			cr_expect_eq(p.sps.pcm_sample_bit_depth_chroma_minus1, 7,
				"%s", c->name);
			cr_expect_eq(p.sps.log2_min_pcm_luma_coding_block_size_minus3
				+ 3, c->log2_min_pcm, "%s", c->name);
			cr_expect_eq(p.sps.log2_min_pcm_luma_coding_block_size_minus3
				+ 3 + p.sps.log2_diff_max_min_pcm_luma_coding_block_size,
				c->log2_max_pcm, "%s", c->name);
			cr_expect_eq(p.sps.pcm_loop_filter_disabled_flag, 1, "%s",
				c->name);
		}
		cr_expect_eq(p.sps.num_short_term_ref_pic_sets, 1, "%s", c->name);
		rps = &p.sps.short_term_ref_pic_set[0];
		cr_expect_eq(rps->NumNegativePics, 1, "%s", c->name);
		cr_expect_eq(rps->NumPositivePics, 0, "%s", c->name);
		cr_expect_eq(rps->DeltaPocS0[0], -1, "%s: the previous picture",
			c->name);
		cr_expect_eq(rps->UsedByCurrPicS0[0], 1, "%s", c->name);
		cr_expect_eq(p.sps.long_term_ref_pics_present_flag, 0, "%s",
			c->name);
		cr_expect_eq(p.sps.temporal_mvp_enabled_flag, c->tmvp, "%s",
			c->name);
		cr_expect_eq(p.sps.vui_parameters_present_flag, 1, "%s", c->name);
		cr_expect_eq(vui->aspect_ratio_idc, 1, "%s", c->name);
		cr_expect_eq(vui->video_signal_type_present_flag, 1, "%s", c->name);
		cr_expect_eq(vui->video_full_range_flag, 0, "%s: limited range",
			c->name);
		cr_expect_eq(vui->colour_description_present_flag, 1, "%s",
			c->name);
		cr_expect_eq(vui->colour_primaries, 1, "%s: BT.709", c->name);
		cr_expect_eq(vui->transfer_characteristics, 1, "%s", c->name);
		cr_expect_eq(vui->matrix_coefficients, 1, "%s", c->name);
		cr_expect_eq(vui->timing_info_present_flag, 1, "%s", c->name);
		cr_expect_eq(vui->num_units_in_tick, 1, "%s", c->name);
		cr_expect_eq(vui->time_scale, c->fps, "%s", c->name);
		cr_expect_eq(p.sps.sps_extension_flag, 0, "%s", c->name);

		/* PPS */
		cr_expect_eq(p.pps.init_qp_minus26, c->init_qp_minus26, "%s",
			c->name);
		cr_expect_eq(p.pps.cu_qp_delta_enabled_flag, c->cu_qp_delta, "%s",
			c->name);
		cr_expect_eq(p.pps.num_ref_idx_l0_default_active_minus1, 0, "%s",
			c->name);
		cr_expect_eq(p.pps.num_ref_idx_l1_default_active_minus1, 0, "%s",
			c->name);
		cr_expect_eq(p.pps.deblocking_filter_control_present_flag,
			c->deblocking_control, "%s", c->name);
		cr_expect_eq(p.pps.deblocking_filter_disabled_flag,
			c->deblocking_disabled, "%s", c->name);
		cr_expect_eq(p.pps.tiles_enabled_flag, 0, "%s", c->name);
		cr_expect_eq(p.pps.entropy_coding_sync_enabled_flag, 0, "%s",
			c->name);
		cr_expect_eq(p.pps.cabac_init_present_flag, 0, "%s", c->name);

		/* slice segment header */
		cr_expect_eq(p.nalus[3].type, c->idr ?
			GST_H265_NAL_SLICE_IDR_W_RADL : GST_H265_NAL_SLICE_TRAIL_R,
			"%s: NAL type %u", c->name, p.nalus[3].type);
		cr_expect_eq(p.slice.first_slice_segment_in_pic_flag, 1, "%s",
			c->name);
		cr_expect_eq(p.slice.type, c->slice_type, "%s: slice_type %u",
			c->name, p.slice.type);
		if (!c->idr) {
			cr_expect_eq(p.slice.pic_order_cnt_lsb, c->poc_lsb, "%s",
				c->name);
			cr_expect_eq(p.slice.short_term_ref_pic_set_sps_flag, 1,
				"%s", c->name);
			cr_expect_eq(p.slice.temporal_mvp_enabled_flag,
				c->slice_tmvp, "%s", c->name);
		} else {
			cr_expect_eq(p.slice.no_output_of_prior_pics_flag, 0, "%s",
				c->name);
		}
		cr_expect_eq(p.slice.sao_luma_flag, c->sao_luma, "%s", c->name);
		cr_expect_eq(p.slice.sao_chroma_flag, c->sao_chroma, "%s",
			c->name);
		if (c->slice_type != ZS_H265_SLICE_I) {
			cr_expect_eq(p.slice.num_ref_idx_active_override_flag, 0,
				"%s", c->name);
			cr_expect_eq(p.slice.num_ref_idx_l0_active_minus1, 0, "%s",
				c->name);
			cr_expect_eq(p.slice.five_minus_max_num_merge_cand, 0,
				"%s", c->name);
			cr_expect_eq(p.slice.NumPocTotalCurr, 1,
				"%s: the previous picture is the reference",
				c->name);
		}
		if (c->slice_type == ZS_H265_SLICE_B) {
			cr_expect_eq(p.slice.num_ref_idx_l1_active_minus1, 0, "%s",
				c->name);
			cr_expect_eq(p.slice.mvd_l1_zero_flag, 0, "%s", c->name);
			if (c->slice_tmvp)
				cr_expect_eq(p.slice.collocated_from_l0_flag, 1,
					"%s", c->name);
		}
		cr_expect_eq(p.slice.qp_delta, c->qp_delta, "%s", c->name);
		cr_expect_eq(p.slice.deblocking_filter_disabled_flag,
			c->deblocking_disabled, "%s", c->name);
		/* through byte_alignment(); the parser counts escaped bits */
		cr_expect_eq(p.slice.header_size -
			8 * p.slice.n_emulation_prevention_bytes, sh_bits,
			"%s: slice header is %u bits, we wrote %zu", c->name,
			p.slice.header_size, sh_bits);

		gst_h265_parser_free(p.parser);
	}
}

Test(nal_h265, refuses_what_hevc_main_cannot_carry)
{
	struct zs_h265_sps sps;
	struct zs_h265_pps pps = { 0 };
	struct zs_h265_slice_header sh = { .idr = true,
		.slice_type = ZS_H265_SLICE_P };
	struct zs_bitwriter bw;

	cr_expect_not(zs_h265_sps_init(&sps, 641, 480, 30, 1000, 5, 4),
		"odd width");
	cr_expect_not(zs_h265_sps_init(&sps, 640, 480, 30, 1000, 7, 4),
		"CTB 128 is not Main");
	cr_expect_not(zs_h265_sps_init(&sps, 640, 480, 30, 1000, 4, 5),
		"min CB above the CTB");
	cr_expect_not(zs_h265_sps_init(&sps, 16384, 16384, 300, 1000, 6, 3),
		"larger than level 6.2");
	cr_assert(zs_h265_sps_init(&sps, 640, 480, 30, 1000, 5, 4));
	zs_bitwriter_init(&bw);
	cr_expect_not(zs_h265_write_slice_header(&bw, &sps, &pps, &sh),
		"an IDR P slice");
	sh = (struct zs_h265_slice_header){ .slice_type = ZS_H265_SLICE_P,
		.poc_lsb = 256 };
	cr_expect_not(zs_h265_write_slice_header(&bw, &sps, &pps, &sh),
		"POC LSB wider than log2_max_pic_order_cnt_lsb");
	sh = (struct zs_h265_slice_header){ .slice_type = ZS_H265_SLICE_P,
		.temporal_mvp = true };
	cr_expect_not(zs_h265_write_slice_header(&bw, &sps, &pps, &sh),
		"temporal MVP the SPS did not enable");
	sps.pcm = true;
	sps.log2_min_pcm = 3; /* below min(MinCb, 32) = 16 */
	sps.log2_max_pcm = 4;
	cr_expect_not(zs_h265_write_sps(&bw, &sps), "PCM smaller than MinCb");
	sps.log2_min_pcm = 4;
	sps.log2_max_pcm = 6;
	cr_expect_not(zs_h265_write_sps(&bw, &sps), "PCM blocks of 64");
	zs_bitwriter_finish(&bw);
}

Test(nal_h265, level_follows_size_rate_and_bitrate)
{
	cr_expect_eq(zs_h265_level_for(1280, 720, 30, 5000), 93);
	cr_expect_eq(zs_h265_level_for(1280, 720, 60, 5000), 120);
	cr_expect_eq(zs_h265_level_for(1920, 1088, 30, 15000), 123);
	cr_expect_eq(zs_h265_level_for(1920, 1088, 120, 15000), 150);
	cr_expect_eq(zs_h265_level_for(3840, 2160, 60, 50000), 156);
	cr_expect_eq(zs_h265_level_for(8192, 4320, 120, 100000), 186);
	/* wider than sqrt(8 x MaxLumaPs) of level 6.2 */
	cr_expect_eq(zs_h265_level_for(16896, 64, 30, 1000), 0);
}
