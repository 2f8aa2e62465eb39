/* The H.264 NAL writer, parsed back with GStreamer's codec parsers (an
 * independent reader): every field we write must come back as written. */
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#define GST_USE_UNSTABLE_API
#include <gst/codecparsers/gsth264parser.h>

#include "bitwriter.h"
#include "nal.h"

/* ---- bit writer ---- */

static uint32_t bits_of(const struct zs_bitwriter *bw)
{
	uint32_t v = 0;
	for (size_t i = 0; i < bw->bits; i++)
		v = v << 1 | ((bw->data[i / 8] >> (7 - i % 8)) & 1u);
	return v;
}

Test(bitwriter, ue_and_se_codes_match_table_9_2)
{
	static const struct {
		int32_t value;
		bool is_se;
		const char *code;
	} cases[] = {
		{ 0, false, "1" }, { 1, false, "010" }, { 2, false, "011" },
		{ 3, false, "00100" }, { 6, false, "00111" },
		{ 7, false, "0001000" }, { 25, false, "000011010" },
		{ 0, true, "1" }, { 1, true, "010" }, { -1, true, "011" },
		{ 2, true, "00100" }, { -2, true, "00101" },
		{ -26, true, "00000110101" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct zs_bitwriter bw;
		uint32_t want = 0;
		size_t len = strlen(cases[i].code);

		zs_bitwriter_init(&bw);
		if (cases[i].is_se)
			zs_bitwriter_put_se(&bw, cases[i].value);
		else
			zs_bitwriter_put_ue(&bw, (uint32_t)cases[i].value);
		for (size_t b = 0; b < len; b++)
			want = want << 1 | (uint32_t)(cases[i].code[b] - '0');
		cr_expect_eq(bw.bits, len, "%s(%d): %zu bits, want %zu",
			cases[i].is_se ? "se" : "ue", cases[i].value, bw.bits, len);
		cr_expect_eq(bits_of(&bw), want, "%s(%d) code",
			cases[i].is_se ? "se" : "ue", cases[i].value);
		zs_bitwriter_finish(&bw);
	}
}

Test(bitwriter, large_ue_and_unaligned_bytes)
{
	struct zs_bitwriter bw;
	static const uint8_t bytes[] = { 0xa5, 0x5a };

	zs_bitwriter_init(&bw);
	zs_bitwriter_put_ue(&bw, 0xfffffffeu); /* 31 zeros, then 32 bits */
	cr_expect_eq(bw.bits, 63);
	cr_expect(zs_bitwriter_ok(&bw));
	zs_bitwriter_put_ue(&bw, 0xffffffffu);
	cr_expect_not(zs_bitwriter_ok(&bw), "ue(2^32-1) must be refused");
	zs_bitwriter_reset(&bw);
	zs_bitwriter_put(&bw, 1, 1);
	zs_bitwriter_put_bytes(&bw, bytes, 2);
	zs_bitwriter_trailing_bits(&bw);
	cr_expect_eq(zs_bitwriter_bytes(&bw), 3);
	cr_expect_eq(bw.data[0], 0xd2);
	cr_expect_eq(bw.data[1], 0xad);
	cr_expect_eq(bw.data[2], 0x40);
	zs_bitwriter_finish(&bw);
}

Test(bitwriter, emulation_prevention)
{
	static const struct {
		uint8_t in[8];
		size_t in_len;
		uint8_t out[12];
		size_t out_len;
	} cases[] = {
		{ { 0, 0, 1 }, 3, { 0, 0, 3, 1 }, 4 },
		{ { 0, 0, 3, 0 }, 4, { 0, 0, 3, 3, 0, 3 }, 6 },
		{ { 0, 0, 4 }, 3, { 0, 0, 4 }, 3 },
		{ { 0, 0, 0, 0, 0 }, 5, { 0, 0, 3, 0, 0, 3, 0, 3 }, 8 },
		{ { 1, 0, 0, 2, 0, 0 }, 6, { 1, 0, 0, 3, 2, 0, 0, 3 }, 8 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint8_t out[32];
		size_t n = zs_nal_escape(cases[i].in, cases[i].in_len, out);
		cr_expect_leq(n, zs_nal_escaped_max(cases[i].in_len));
		cr_expect_eq(n, cases[i].out_len, "case %zu: %zu bytes", i, n);
		cr_expect_arr_eq(out, cases[i].out, cases[i].out_len,
			"case %zu", i);
	}
}

/* ---- SPS / PPS / slice headers through gst_h264_parser ---- */

struct nal_case {
	const char *name;
	uint8_t profile_idc;
	uint32_t width, height, fps, kbps;
	bool cabac, deblocking_control, transform_8x8;
	int8_t pic_init_qp_minus26;
	bool poc0; /* pic_order_cnt_type 0 instead of our 2 */
	/* the slice */
	bool idr;
	uint8_t slice_type;
	uint32_t frame_num;
	uint16_t idr_pic_id;
	int8_t qp_delta;
	uint8_t disable_deblocking;
	bool override;
	uint8_t cabac_init_idc;
	uint8_t want_level;
};

static const struct nal_case nal_cases[] = {
	{ "cb-720p-idr", 66, 1280, 720, 60, 6000, .idr = true,
	  .slice_type = ZS_H264_SLICE_I, .want_level = 32 },
	{ "cb-800x600-p", 66, 800, 600, 30, 2000, .slice_type = ZS_H264_SLICE_P,
	  .frame_num = 7, .qp_delta = -3, .want_level = 31 },
	{ "main-1080p-cabac-p", 77, 1920, 1080, 30, 8000, .cabac = true,
	  .slice_type = ZS_H264_SLICE_P, .frame_num = 255, .cabac_init_idc = 2,
	  .override = true, .qp_delta = 12, .want_level = 40 },
	{ "main-1080p-idr-deblock", 77, 1920, 1080, 60, 12000, .cabac = true,
	  .deblocking_control = true, .disable_deblocking = 1, .idr = true,
	  .slice_type = ZS_H264_SLICE_I, .idr_pic_id = 513,
	  .pic_init_qp_minus26 = -4, .want_level = 42 },
	{ "high-4k-8x8", 100, 3840, 2160, 30, 40000, .cabac = true,
	  .transform_8x8 = true, .deblocking_control = true,
	  .disable_deblocking = 2, .slice_type = ZS_H264_SLICE_P,
	  .frame_num = 1, .qp_delta = -26, .want_level = 51 },
	{ "high-odd-crop-poc0", 100, 642, 482, 25, 1500, .poc0 = true,
	  .idr = true, .slice_type = ZS_H264_SLICE_I, .idr_pic_id = 1,
	  .want_level = 30 },
	{ "cb-tiny-16x16", 66, 16, 16, 1, 64, .idr = true,
	  .slice_type = ZS_H264_SLICE_I, .want_level = 10 },
};

struct parsed {
	GstH264NalParser *parser;
	GstH264SPS sps;
	GstH264PPS pps;
	GstH264SliceHdr slice;
	GstH264NalUnit slice_nalu;
	int n_nalus;
};

/* Turns a packed slice header (raw bits after start code and NAL header)
 * into a whole NAL unit the parser accepts: trailing bits, escaping. */
static size_t close_slice_nal(const struct zs_bitwriter *sh, uint8_t *out)
{
	struct zs_bitwriter body;
	size_t n;

	zs_bitwriter_init(&body);
	/* bits after the 5-byte start code + NAL header */
	for (size_t i = 40; i < sh->bits; i++)
		zs_bitwriter_put(&body,
			(sh->data[i / 8] >> (7 - i % 8)) & 1u, 1);
	zs_bitwriter_trailing_bits(&body);
	memcpy(out, sh->data, 5);
	n = zs_nal_escape(body.data, zs_bitwriter_bytes(&body), out + 5);
	zs_bitwriter_finish(&body);
	return n + 5;
}

static void build_and_parse(const struct nal_case *c, struct parsed *p,
	struct zs_h264_sps *sps, struct zs_h264_pps *pps,
	struct zs_h264_slice_header *sh, size_t *sh_bits)
{
	struct zs_bitwriter ps, slice;
	uint8_t *stream;
	size_t len, off = 0;

	cr_assert(zs_h264_sps_init(sps, c->profile_idc, c->width, c->height,
		c->fps, c->kbps), "%s: sps_init", c->name);
	if (c->poc0) {
		sps->pic_order_cnt_type = 0;
		sps->log2_max_poc_lsb_minus4 = 2;
	}
	*pps = (struct zs_h264_pps){
		.entropy_coding_mode = c->cabac,
		.pic_init_qp_minus26 = c->pic_init_qp_minus26,
		.deblocking_filter_control_present = c->deblocking_control,
		.transform_8x8_mode = c->transform_8x8,
	};
	*sh = (struct zs_h264_slice_header){
		.idr = c->idr, .nal_ref_idc = 3, .slice_type = c->slice_type,
		.frame_num = c->frame_num, .idr_pic_id = c->idr_pic_id,
		.pic_order_cnt_lsb = c->idr ? 0 : 6,
		.num_ref_idx_override = c->override,
		.cabac_init_idc = c->cabac_init_idc,
		.slice_qp_delta = c->qp_delta,
		.disable_deblocking_filter_idc = c->disable_deblocking,
	};

	zs_bitwriter_init(&ps);
	zs_bitwriter_init(&slice);
	cr_assert(zs_h264_write_sps(&ps, sps), "%s: write_sps", c->name);
	cr_assert(zs_h264_write_pps(&ps, sps, pps), "%s: write_pps", c->name);
	cr_assert(zs_h264_write_slice_header(&slice, sps, pps, sh),
		"%s: write_slice_header", c->name);
	*sh_bits = slice.bits - 40;

	len = zs_bitwriter_bytes(&ps);
	stream = malloc(len + zs_nal_escaped_max(zs_bitwriter_bytes(&slice)) + 8);
	memcpy(stream, ps.data, len);
	len += close_slice_nal(&slice, stream + len);

	p->parser = gst_h264_nal_parser_new();
	while (off < len) {
		GstH264NalUnit nalu;
		GstH264ParserResult r = gst_h264_parser_identify_nalu(p->parser,
			stream, (guint)off, len, &nalu);
		cr_assert(r == GST_H264_PARSER_OK ||
			r == GST_H264_PARSER_NO_NAL_END,
			"%s: identify_nalu at %zu: %d", c->name, off, r);
		p->n_nalus++;
		switch (nalu.type) {
		case GST_H264_NAL_SPS:
			cr_assert_eq(gst_h264_parser_parse_sps(p->parser, &nalu,
				&p->sps), GST_H264_PARSER_OK, "%s: parse_sps",
				c->name);
			break;
		case GST_H264_NAL_PPS:
			cr_assert_eq(gst_h264_parser_parse_pps(p->parser, &nalu,
				&p->pps), GST_H264_PARSER_OK, "%s: parse_pps",
				c->name);
			break;
		case GST_H264_NAL_SLICE:
		case GST_H264_NAL_SLICE_IDR:
			p->slice_nalu = nalu;
			cr_assert_eq(gst_h264_parser_parse_slice_hdr(p->parser,
				&nalu, &p->slice, TRUE, TRUE), GST_H264_PARSER_OK,
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

Test(nal_h264, sps_pps_and_slice_headers_parse_back_field_by_field)
{
	for (size_t i = 0; i < sizeof(nal_cases) / sizeof(nal_cases[0]); i++) {
		const struct nal_case *c = &nal_cases[i];
		struct zs_h264_sps sps;
		struct zs_h264_pps pps;
		struct zs_h264_slice_header sh;
		struct parsed p = { 0 };
		size_t sh_bits;
		const GstH264VUIParams *vui = &p.sps.vui_parameters;

		build_and_parse(c, &p, &sps, &pps, &sh, &sh_bits);
		cr_expect_eq(p.n_nalus, 3, "%s: %d NAL units", c->name, p.n_nalus);

		/* SPS */
		cr_expect_eq(p.sps.profile_idc, c->profile_idc, "%s", c->name);
		cr_expect_eq(p.sps.constraint_set0_flag, c->profile_idc == 66,
			"%s: constraint_set0", c->name);
		cr_expect_eq(p.sps.constraint_set1_flag, c->profile_idc != 100,
			"%s: constraint_set1", c->name);
		cr_expect_eq(p.sps.level_idc, c->want_level, "%s: level %d",
			c->name, p.sps.level_idc);
		cr_expect_eq(p.sps.chroma_format_idc, 1, "%s", c->name);
		cr_expect_eq(p.sps.log2_max_frame_num_minus4,
			sps.log2_max_frame_num_minus4, "%s", c->name);
		cr_expect_eq(p.sps.pic_order_cnt_type, sps.pic_order_cnt_type,
			"%s", c->name);
		if (sps.pic_order_cnt_type == 0)
			cr_expect_eq(p.sps.log2_max_pic_order_cnt_lsb_minus4,
				sps.log2_max_poc_lsb_minus4, "%s", c->name);
		cr_expect_eq(p.sps.num_ref_frames, 1, "%s", c->name);
		cr_expect_eq(p.sps.frame_mbs_only_flag, 1, "%s", c->name);
		cr_expect_eq(p.sps.pic_width_in_mbs_minus1 + 1,
			(c->width + 15) / 16, "%s: width in MBs", c->name);
		cr_expect_eq(p.sps.pic_height_in_map_units_minus1 + 1,
			(c->height + 15) / 16, "%s: height in MBs", c->name);
		cr_expect_eq(p.sps.frame_cropping_flag,
			c->width % 16 != 0 || c->height % 16 != 0, "%s", c->name);
		cr_expect_eq(p.sps.frame_cropping_flag ? p.sps.crop_rect_width :
			p.sps.width, (gint)c->width, "%s: cropped width",
			c->name);
		cr_expect_eq(p.sps.frame_cropping_flag ? p.sps.crop_rect_height :
			p.sps.height, (gint)c->height, "%s: cropped height",
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
		cr_expect_eq(vui->time_scale, 2 * c->fps, "%s", c->name);
		cr_expect_eq(vui->bitstream_restriction_flag, 1, "%s", c->name);
		cr_expect_eq(vui->num_reorder_frames, 0, "%s", c->name);
		cr_expect_eq(vui->max_dec_frame_buffering, 1, "%s", c->name);

		/* PPS */
		cr_expect_eq(p.pps.entropy_coding_mode_flag, c->cabac, "%s",
			c->name);
		cr_expect_eq(p.pps.pic_init_qp_minus26, c->pic_init_qp_minus26,
			"%s", c->name);
		cr_expect_eq(p.pps.deblocking_filter_control_present_flag,
			c->deblocking_control, "%s", c->name);
		cr_expect_eq(p.pps.transform_8x8_mode_flag, c->transform_8x8,
			"%s", c->name);
		cr_expect_eq(p.pps.num_ref_idx_l0_active_minus1, 0, "%s", c->name);

		/* slice header */
		cr_expect_eq(p.slice_nalu.type, c->idr ? 5 : 1, "%s", c->name);
		cr_expect_eq(p.slice_nalu.ref_idc, 3, "%s", c->name);
		cr_expect_eq(p.slice.first_mb_in_slice, 0, "%s", c->name);
		cr_expect_eq(p.slice.type % 5, c->slice_type, "%s: slice_type %u",
			c->name, p.slice.type);
		cr_expect_eq(p.slice.frame_num, c->frame_num, "%s", c->name);
		if (c->idr) {
			cr_expect_eq(p.slice.idr_pic_id, c->idr_pic_id, "%s",
				c->name);
			cr_expect_eq(p.slice.dec_ref_pic_marking
				.no_output_of_prior_pics_flag, 0, "%s", c->name);
		} else {
			cr_expect_eq(p.slice.dec_ref_pic_marking
				.adaptive_ref_pic_marking_mode_flag, 0, "%s",
				c->name);
		}
		if (sps.pic_order_cnt_type == 0)
			cr_expect_eq(p.slice.pic_order_cnt_lsb,
				sh.pic_order_cnt_lsb, "%s", c->name);
		if (c->slice_type == ZS_H264_SLICE_P)
			cr_expect_eq(p.slice.num_ref_idx_active_override_flag,
				c->override, "%s", c->name);
		if (c->cabac && c->slice_type == ZS_H264_SLICE_P)
			cr_expect_eq(p.slice.cabac_init_idc, c->cabac_init_idc,
				"%s", c->name);
		cr_expect_eq(p.slice.slice_qp_delta, c->qp_delta, "%s", c->name);
		if (c->deblocking_control)
			cr_expect_eq(p.slice.disable_deblocking_filter_idc,
				c->disable_deblocking, "%s", c->name);
		/* the parser's header size counts escaped bits too */
		cr_expect_eq(p.slice.header_size -
			8 * p.slice.n_emulation_prevention_bytes, sh_bits,
			"%s: slice header is %u bits, we wrote %zu", c->name,
			p.slice.header_size, sh_bits);

		gst_h264_sps_clear(&p.sps);
		gst_h264_pps_clear(&p.pps);
		gst_h264_nal_parser_free(p.parser);
	}
}

Test(nal_h264, refuses_what_h264_cannot_carry)
{
	struct zs_h264_sps sps;
	struct zs_h264_pps pps = { .transform_8x8_mode = true };
	struct zs_h264_slice_header sh = { .idr = true, .nal_ref_idc = 3,
		.slice_type = ZS_H264_SLICE_P };
	struct zs_bitwriter bw;

	cr_expect_not(zs_h264_sps_init(&sps, 66, 641, 480, 30, 1000),
		"odd width");
	cr_expect_not(zs_h264_sps_init(&sps, 66, 16384, 16384, 30, 1000),
		"larger than level 6.2");
	cr_assert(zs_h264_sps_init(&sps, 66, 640, 480, 30, 1000));
	zs_bitwriter_init(&bw);
	cr_expect_not(zs_h264_write_pps(&bw, &sps, &pps),
		"8x8 transform outside High");
	cr_expect_not(zs_h264_write_slice_header(&bw, &sps, &pps, &sh),
		"an IDR P slice");
	sh.idr = false;
	sh.frame_num = 1u << 8;
	cr_expect_not(zs_h264_write_slice_header(&bw, &sps, &pps, &sh),
		"frame_num wider than log2_max_frame_num");
	zs_bitwriter_finish(&bw);
}

Test(nal_h264, level_follows_size_rate_and_bitrate)
{
	cr_expect_eq(zs_h264_level_for(66, 80, 45, 30, 5000), 31);
	cr_expect_eq(zs_h264_level_for(66, 80, 45, 60, 5000), 32);
	cr_expect_eq(zs_h264_level_for(77, 120, 68, 30, 30000), 41);
	/* High allows 1.25x the bitrate: 25 Mbit/s fits 4.0 */
	cr_expect_eq(zs_h264_level_for(100, 120, 68, 30, 25000), 40);
	cr_expect_eq(zs_h264_level_for(77, 120, 68, 30, 25000), 41);
	cr_expect_eq(zs_h264_level_for(66, 1024, 1024, 30, 1000), 0);
}
