/* zerospice — fake VA driver: H.264 "encoding".
 *
 * The picture is written as the application's packed SPS/PPS, then per
 * slice its packed slice header followed by slice data in which every
 * macroblock is I_PCM (CAVLC: mb_skip_run 0 in P slices, mb_type 25 or
 * 5 + 25, alignment, 256 luma and 2 x 64 chroma bytes). Such a stream is
 * lossless and decodes with any H.264 decoder.
 *
 * Before writing anything the parameter buffers are checked against each
 * other and against the packed headers; a mismatch is a test failure. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fake-va.h"
#include <va/va_enc_h264.h>

#include "bitwriter.h"

struct parsed_sps {
	unsigned profile_idc, width_mbs, height_mbs;
	unsigned log2_max_frame_num, poc_type;
};

static bool parse_sps(const struct packed *p, struct parsed_sps *sps)
{
	size_t sc = start_code_len(p->data, p->bits / 8);
	uint8_t *rbsp;
	struct reader r;
	bool ok;

	if (!sc || p->bits / 8 <= sc + 1 || (p->data[sc] & 0x1f) != 7)
		return false;
	rbsp = malloc(p->bits / 8);
	if (!rbsp)
		return false;
	r = (struct reader){ .data = rbsp };
	r.bits = 8 * unescape(p->data + sc + 1, p->bits / 8 - sc - 1, rbsp);
	sps->profile_idc = read_bits(&r, 8);
	read_bits(&r, 16); /* constraint flags, level */
	read_ue(&r);       /* sps id */
	if (sps->profile_idc == 100) {
		if (read_ue(&r) != 1)
			r.overrun = true; /* only 4:2:0 */
		read_ue(&r);
		read_ue(&r);
		read_bits(&r, 1);
		if (read_bits(&r, 1))
			r.overrun = true; /* no scaling lists here */
	}
	sps->log2_max_frame_num = read_ue(&r) + 4;
	sps->poc_type = read_ue(&r);
	if (sps->poc_type == 0)
		read_ue(&r);
	else if (sps->poc_type != 2)
		r.overrun = true;
	read_ue(&r);       /* max_num_ref_frames */
	read_bits(&r, 1);  /* gaps */
	sps->width_mbs = read_ue(&r) + 1;
	sps->height_mbs = read_ue(&r) + 1;
	if (read_bits(&r, 1) != 1) /* frame_mbs_only */
		r.overrun = true;
	ok = !r.overrun;
	free(rbsp);
	return ok;
}

static bool parse_pps_cabac(const struct packed *p, bool *cabac)
{
	size_t sc = start_code_len(p->data, p->bits / 8);
	uint8_t rbsp[16];
	struct reader r = { .data = rbsp };
	size_t n;

	if (!sc || p->bits / 8 <= sc + 1 || (p->data[sc] & 0x1f) != 8)
		return false;
	n = p->bits / 8 - sc - 1;
	if (n > sizeof(rbsp))
		n = sizeof(rbsp);
	r.bits = 8 * unescape(p->data + sc + 1, n, rbsp);
	read_ue(&r);
	read_ue(&r);
	*cabac = read_bits(&r, 1);
	return !r.overrun;
}

struct parsed_slice {
	size_t sc;            /* start code bytes */
	unsigned nal_type, nal_ref_idc;
	unsigned first_mb, slice_type, frame_num;
};

static bool parse_slice(const struct packed *p, unsigned log2_max_frame_num,
	struct parsed_slice *s)
{
	struct reader r;

	s->sc = start_code_len(p->data, p->bits / 8);
	if (!s->sc || p->bits < 8 * (s->sc + 1))
		return false;
	s->nal_type = p->data[s->sc] & 0x1f;
	s->nal_ref_idc = (p->data[s->sc] >> 5) & 3;
	r = (struct reader){ .data = p->data, .bits = p->bits,
		.pos = 8 * (s->sc + 1) };
	s->first_mb = read_ue(&r);
	s->slice_type = read_ue(&r) % 5;
	read_ue(&r); /* pps id */
	s->frame_num = read_bits(&r, log2_max_frame_num);
	return !r.overrun && (s->nal_type == 1 || s->nal_type == 5);
}

/* Slice data for macroblocks [first, first + count) of src, after the
 * packed header bits. */
static bool write_slice(struct output *o, const struct packed *hdr,
	const struct parsed_slice *ps, const struct fake_surface *src,
	uint32_t width_mbs, uint32_t first, uint32_t count)
{
	struct zs_bitwriter bw;
	const uint8_t *luma = src->nv12;
	const uint8_t *chroma = src->nv12 + (size_t)src->nv12_pitch *
		src->nv12_height;
	uint8_t *escaped;
	size_t len;
	bool p_slice = ps->slice_type == 0;

	zs_bitwriter_init(&bw);
	/* the header's bits after start code and NAL header byte */
	for (size_t i = 8 * (ps->sc + 1); i < hdr->bits; i++)
		zs_bitwriter_put(&bw, (hdr->data[i / 8] >> (7 - i % 8)) & 1u, 1);
	for (uint32_t mb = first; mb < first + count; mb++) {
		uint32_t mx = mb % width_mbs, my = mb / width_mbs;
		uint8_t pcm[384];

		if (p_slice)
			zs_bitwriter_put_ue(&bw, 0); /* mb_skip_run */
		zs_bitwriter_put_ue(&bw, p_slice ? 5 + 25 : 25); /* I_PCM */
		zs_bitwriter_align_zero(&bw); /* pcm_alignment_zero_bit */
		for (int r = 0; r < 16; r++)
			memcpy(pcm + 16 * r, luma + (size_t)(my * 16 + r) *
				src->nv12_pitch + mx * 16, 16);
		for (int r = 0; r < 8; r++) {
			const uint8_t *c = chroma + (size_t)(my * 8 + r) *
				src->nv12_pitch + mx * 16;
			for (int i = 0; i < 8; i++) {
				pcm[256 + 8 * r + i] = c[2 * i];
				pcm[320 + 8 * r + i] = c[2 * i + 1];
			}
		}
		zs_bitwriter_put_bytes(&bw, pcm, sizeof(pcm));
	}
	zs_bitwriter_trailing_bits(&bw);
	if (!zs_bitwriter_ok(&bw)) {
		zs_bitwriter_finish(&bw);
		return false;
	}
	len = zs_bitwriter_bytes(&bw);
	escaped = malloc(ps->sc + 1 + zs_nal_escaped_max(len));
	if (!escaped) {
		zs_bitwriter_finish(&bw);
		return false;
	}
	memcpy(escaped, hdr->data, ps->sc + 1);
	len = ps->sc + 1 + zs_nal_escape(bw.data, len, escaped + ps->sc + 1);
	emit(o, escaped, len);
	free(escaped);
	zs_bitwriter_finish(&bw);
	return true;
}

/* ---- the picture ---- */

static VAProfile profile_for_idc(unsigned idc)
{
	switch (idc) {
	case 66: return VAProfileH264ConstrainedBaseline;
	case 77: return VAProfileH264Main;
	case 100: return VAProfileH264High;
	default: return VAProfileNone;
	}
}

#define MAX_SLICES 64
#define MAX_PACKED 16

VAStatus fake_h264_encode(VADriverContextP ctx, struct fake_context *c,
	const struct fake_config *cfg)
{
	const VAEncSequenceParameterBufferH264 *seq = NULL;
	const VAEncPictureParameterBufferH264 *pic = NULL;
	const VAEncSliceParameterBufferH264 *slices[MAX_SLICES];
	struct packed packed[MAX_PACKED];
	int n_slices = 0, n_packed = 0, n_slice_headers = 0;
	const struct packed *sps_hdr = NULL, *pps_hdr = NULL;
	const struct packed *slice_hdr[MAX_SLICES];
	struct parsed_slice ps[MAX_SLICES];
	struct fake_surface *src, *recon;
	struct fake_buffer *coded;
	struct output out;
	uint32_t width_mbs, height_mbs, next_mb = 0;
	bool rate_control_seen = false;
	const char *fail_after = getenv("ZS_FAKE_VA_FAIL_AFTER");

	if (fail_after && *fail_after &&
	    zs_fake_va_stats.encoded_frames >= strtoull(fail_after, NULL, 10)) {
		fake_info(ctx, "fake-va: device lost (ZS_FAKE_VA_FAIL_AFTER)");
		return VA_STATUS_ERROR_OPERATION_FAILED;
	}

	for (size_t i = 0; i < c->n_bufs; i++) {
		const struct fake_picture_buffer *b = &c->bufs[i];
		switch (b->type) {
		case VAEncSequenceParameterBufferType:
			CHECK(b->size >= sizeof(*seq), "short sequence buffer");
			seq = (const void *)b->data;
			break;
		case VAEncPictureParameterBufferType:
			CHECK(b->size >= sizeof(*pic), "short picture buffer");
			CHECK(!pic, "two picture parameter buffers");
			pic = (const void *)b->data;
			break;
		case VAEncSliceParameterBufferType:
			CHECK(b->size >= sizeof(*slices[0]) &&
				b->size % sizeof(*slices[0]) == 0,
				"slice buffer of %zu bytes", b->size);
			for (size_t k = 0; k < b->size / sizeof(*slices[0]); k++) {
				CHECK(n_slices < MAX_SLICES, "too many slices");
				CHECK(n_slice_headers == n_slices + 1,
					"slice %d has no packed slice header "
					"before it", n_slices);
				slices[n_slices++] = (const void *)(b->data +
					k * sizeof(*slices[0]));
			}
			break;
		case VAEncPackedHeaderParameterBufferType: {
			const VAEncPackedHeaderParameterBuffer *ph =
				(const void *)b->data;
			CHECK(b->size >= sizeof(*ph), "short packed header buffer");
			CHECK(i + 1 < c->n_bufs && c->bufs[i + 1].type ==
				VAEncPackedHeaderDataBufferType,
				"packed header parameters without data");
			CHECK(ph->bit_length > 0 &&
				(ph->bit_length + 7) / 8 <= c->bufs[i + 1].size,
				"packed header of %u bits in %zu bytes",
				ph->bit_length, c->bufs[i + 1].size);
			CHECK(n_packed < MAX_PACKED, "too many packed headers");
			packed[n_packed] = (struct packed){ .type = ph->type,
				.data = c->bufs[i + 1].data, .bits = ph->bit_length,
				.has_emulation_bytes = ph->has_emulation_bytes };
			if (ph->type == VAEncPackedHeaderSequence) {
				sps_hdr = &packed[n_packed];
			} else if (ph->type == VAEncPackedHeaderPicture) {
				pps_hdr = &packed[n_packed];
			} else if (ph->type == VAEncPackedHeaderSlice) {
				CHECK(n_slice_headers < MAX_SLICES,
					"too many slice headers");
				CHECK(!ph->has_emulation_bytes,
					"packed slice header with emulation bytes");
				slice_hdr[n_slice_headers++] = &packed[n_packed];
			} else {
				CHECK(false, "packed header type %u", ph->type);
			}
			CHECK(ph->type == VAEncPackedHeaderSlice ||
				(ph->bit_length % 8 == 0 && ph->has_emulation_bytes),
				"packed SPS/PPS must be whole escaped bytes");
			CHECK(cfg->packed_headers & (ph->type ==
				VAEncPackedHeaderSequence ? VA_ENC_PACKED_HEADER_SEQUENCE :
				ph->type == VAEncPackedHeaderPicture ?
				VA_ENC_PACKED_HEADER_PICTURE : VA_ENC_PACKED_HEADER_SLICE),
				"packed header type %u not enabled in the config",
				ph->type);
			n_packed++;
			i++;
			break;
		}
		case VAEncMiscParameterBufferType: {
			const VAEncMiscParameterBuffer *m = (const void *)b->data;
			CHECK(b->size >= sizeof(*m), "short misc buffer");
			if (m->type == VAEncMiscParameterTypeRateControl) {
				const VAEncMiscParameterRateControl *rc =
					(const void *)m->data;
				CHECK(b->size >= sizeof(*m) + sizeof(*rc),
					"short rate control buffer");
				CHECK(cfg->rc_mode != VA_RC_CQP,
					"rate control parameters in CQP mode");
				CHECK(rc->bits_per_second > 0, "zero bitrate");
				rate_control_seen = true;
			} else if (m->type == VAEncMiscParameterTypeHRD) {
				const VAEncMiscParameterHRD *hrd =
					(const void *)m->data;
				CHECK(b->size >= sizeof(*m) + sizeof(*hrd),
					"short HRD buffer");
				CHECK(hrd->buffer_size > 0, "zero VBV size");
			}
			break;
		}
		default:
			CHECK(false, "unexpected buffer type %d", (int)b->type);
		}
	}

	/* sequence */
	CHECK(pic, "picture without picture parameters");
	if (seq) {
		c->seq = *seq;
		c->have_sequence = true;
		CHECK(cfg->rc_mode == VA_RC_CQP || rate_control_seen ||
			c->pictures > 0, "first sequence of a %s stream without "
			"rate control parameters",
			cfg->rc_mode == VA_RC_CBR ? "CBR" : "VBR");
	}
	CHECK(c->have_sequence, "picture before any sequence parameters");
	width_mbs = (c->width + 15) / 16;
	height_mbs = (c->height + 15) / 16;
	CHECK(c->seq.picture_width_in_mbs == width_mbs &&
		c->seq.picture_height_in_mbs == height_mbs,
		"sequence is %ux%u MBs, context %ux%u pixels",
		c->seq.picture_width_in_mbs, c->seq.picture_height_in_mbs,
		c->width, c->height);
	CHECK(cfg->packed_headers & VA_ENC_PACKED_HEADER_SLICE,
		"the fake driver writes no slice headers of its own");

	/* packed parameter sets against the parameter buffers */
	if (sps_hdr) {
		struct parsed_sps sps;
		CHECK(parse_sps(sps_hdr, &sps), "unreadable packed SPS");
		CHECK(profile_for_idc(sps.profile_idc) == cfg->profile,
			"packed SPS profile_idc %u for config profile %d",
			sps.profile_idc, (int)cfg->profile);
		CHECK(sps.width_mbs == width_mbs && sps.height_mbs == height_mbs,
			"packed SPS is %ux%u MBs, sequence %ux%u", sps.width_mbs,
			sps.height_mbs, width_mbs, height_mbs);
		CHECK(sps.log2_max_frame_num ==
			c->seq.seq_fields.bits.log2_max_frame_num_minus4 + 4u,
			"packed SPS and sequence disagree on log2_max_frame_num");
		CHECK(sps.poc_type == c->seq.seq_fields.bits.pic_order_cnt_type,
			"packed SPS and sequence disagree on pic_order_cnt_type");
		c->log2_max_frame_num = sps.log2_max_frame_num;
		c->sps_seen = true;
	}
	if (pps_hdr) {
		bool cabac;
		CHECK(parse_pps_cabac(pps_hdr, &cabac), "unreadable packed PPS");
		c->pps_cabac = cabac;
	}
	CHECK(c->sps_seen, "slice before any packed SPS");
	CHECK(c->pps_cabac == pic->pic_fields.bits.entropy_coding_mode_flag,
		"packed PPS and picture disagree on CABAC");
	CHECK(!c->pps_cabac, "CABAC I_PCM is not implemented in the fake driver");

	/* picture */
	CHECK(n_slices > 0, "picture without slices");
	CHECK(n_slice_headers == n_slices, "%d slice headers for %d slices",
		n_slice_headers, n_slices);
	for (int i = 0; i < n_slices; i++) {
		CHECK(parse_slice(slice_hdr[i], c->log2_max_frame_num, &ps[i]),
			"unreadable packed slice header %d", i);
		CHECK((ps[i].nal_type == 5) == !!pic->pic_fields.bits.idr_pic_flag,
			"slice %d is NAL type %u, picture idr_pic_flag %u", i,
			ps[i].nal_type, pic->pic_fields.bits.idr_pic_flag);
		CHECK(ps[i].frame_num == pic->frame_num,
			"slice %d frame_num %u, picture %u", i, ps[i].frame_num,
			pic->frame_num);
		CHECK(ps[i].slice_type == slices[i]->slice_type % 5,
			"slice %d: packed type %u, parameters %u", i,
			ps[i].slice_type, slices[i]->slice_type);
		CHECK(ps[i].slice_type == 0 || ps[i].slice_type == 2,
			"slice type %u not coded by the fake", ps[i].slice_type);
		CHECK(!pic->pic_fields.bits.idr_pic_flag || ps[i].slice_type == 2,
			"IDR picture with a P slice");
		CHECK(ps[i].first_mb == slices[i]->macroblock_address &&
			slices[i]->macroblock_address == next_mb &&
			slices[i]->num_macroblocks > 0,
			"slice %d starts at MB %u (header %u), expected %u", i,
			slices[i]->macroblock_address, ps[i].first_mb, next_mb);
		CHECK(!!ps[i].nal_ref_idc == !!pic->pic_fields.bits.reference_pic_flag,
			"slice %d nal_ref_idc %u, reference_pic_flag %u", i,
			ps[i].nal_ref_idc, pic->pic_fields.bits.reference_pic_flag);
		if (ps[i].slice_type == 0)
			CHECK(c->last_recon != VA_INVALID_SURFACE &&
				slices[i]->RefPicList0[0].picture_id == c->last_recon,
				"P slice refers to surface %#x, the last "
				"reconstructed picture is %#x",
				slices[i]->RefPicList0[0].picture_id, c->last_recon);
		next_mb += slices[i]->num_macroblocks;
	}
	CHECK(next_mb == width_mbs * height_mbs,
		"slices cover %u of %u macroblocks", next_mb,
		width_mbs * height_mbs);
	if (pic->pic_fields.bits.idr_pic_flag)
		CHECK(sps_hdr && pps_hdr, "IDR without packed SPS and PPS");

	src = fake_lookup(ctx, c->target, OBJ_SURFACE);
	recon = fake_lookup(ctx, pic->CurrPic.picture_id, OBJ_SURFACE);
	coded = fake_lookup(ctx, pic->coded_buf, OBJ_BUFFER);
	CHECK(src && src->nv12 && src->width == c->width &&
		src->height == c->height, "input surface is not NV12 %ux%u",
		c->width, c->height);
	CHECK(recon && recon->nv12 && pic->CurrPic.picture_id != c->target &&
		recon->width == src->width && recon->height == src->height,
		"reconstructed surface %#x unusable", pic->CurrPic.picture_id);
	CHECK(coded && coded->type == VAEncCodedBufferType,
		"coded_buf %#x is not a coded buffer", pic->coded_buf);

	out = (struct output){ .coded = coded };
	memset(coded->segments, 0, sizeof(coded->segments));
	for (int i = 0; i < n_packed; i++) {
		if (packed[i].type != VAEncPackedHeaderSlice)
			emit(&out, packed[i].data, packed[i].bits / 8);
	}
	for (int i = 0; i < n_slices; i++) {
		if (!write_slice(&out, slice_hdr[i], &ps[i], src, width_mbs,
			slices[i]->macroblock_address,
			slices[i]->num_macroblocks))
			return VA_STATUS_ERROR_ALLOCATION_FAILED;
	}
	if (out.overflow) {
		coded->segments[0].status |= VA_CODED_BUF_STATUS_SLICE_OVERFLOW_MASK;
		fake_fail("coded buffer of %zu bytes overflowed", coded->size);
		return VA_STATUS_ERROR_NOT_ENOUGH_BUFFER;
	}
	/* the reference for the next P picture: a lossless copy */
	memcpy(recon->nv12, src->nv12, (size_t)src->nv12_pitch *
		src->nv12_height * 3 / 2);
	c->last_recon = pic->CurrPic.picture_id;
	c->pictures++;
	zs_fake_va_stats.encoded_frames++;
	if (pic->pic_fields.bits.idr_pic_flag)
		zs_fake_va_stats.idr_frames++;
	zs_fake_va_stats.last_entrypoint = cfg->entrypoint;
	zs_fake_va_stats.last_rc_mode = cfg->rc_mode;
	zs_fake_va_stats.last_profile = cfg->profile;
	return VA_STATUS_SUCCESS;
}
