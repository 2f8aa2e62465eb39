/* zerospice — fake VA driver: HEVC Main "encoding".
 *
 * The picture is written as the application's packed VPS/SPS/PPS, then
 * its packed slice segment header followed by slice data in which every
 * coding unit is PCM. HEVC slice data is CABAC-coded, so this file holds
 * a minimal CABAC encoder (ITU-T H.265 9.3, the encoder of 9.3.5) for the
 * few bins around each CU: with all CUs at the minimum coding block size
 * (which the SPS's PCM range must include), a CTB is
 *
 *   split_cu_flag = 1 at every depth above the minimum where the block
 *                   lies inside the picture (outside it is inferred)
 *   per CU:  cu_skip_flag = 0, pred_mode_flag = 1 (intra)  [P, B slices]
 *            part_mode = 2Nx2N (one bin, coded at the minimum CB size)
 *            pcm_flag = 1 (terminating bin: the engine flushes)
 *            pcm_alignment_zero_bits, 8-bit luma then Cb then Cr samples,
 *            and the arithmetic coder starts afresh (9.3.2.5)
 *   end_of_slice_segment_flag (terminating bin) after each CTB.
 *
 * Such a stream is lossless (pcm_loop_filter_disabled_flag keeps the
 * deblocking filter off PCM samples) and any HEVC decoder reads it.
 * Before writing anything the parameter buffers are checked against each
 * other and against the packed headers; a mismatch is a test failure. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fake-va.h"
#include <va/va_enc_hevc.h>

#include "bitwriter.h"

/* ---- what the driver says ---- */

static void hevc_blocks_knob(unsigned *log2_ctb, unsigned *log2_min_cb,
	bool *report)
{
	const char *v = getenv("ZS_FAKE_VA_HEVC_BLOCKS");
	unsigned ctb = 32, cb = 8;

	*report = !(v && strcmp(v, "none") == 0);
	if (v && *report && (sscanf(v, "%u,%u", &ctb, &cb) != 2 ||
	    (ctb != 16 && ctb != 32 && ctb != 64) ||
	    (cb != 8 && cb != 16 && cb != 32) || cb > ctb)) {
		ctb = 32;
		cb = 8;
	}
	*log2_ctb = (unsigned)__builtin_ctz(ctb);
	*log2_min_cb = (unsigned)__builtin_ctz(cb);
}

uint32_t fake_h265_block_sizes(void)
{
	VAConfigAttribValEncHEVCBlockSizes b = { .value = 0 };
	unsigned ctb, cb, max_pcm;
	bool report;

	hevc_blocks_knob(&ctb, &cb, &report);
	if (!report)
		return VA_ATTRIB_NOT_SUPPORTED;
	max_pcm = ctb < 5 ? ctb : 5;
	b.bits.log2_max_coding_tree_block_size_minus3 = ctb - 3;
	b.bits.log2_min_coding_tree_block_size_minus3 = 1;
	b.bits.log2_min_luma_coding_block_size_minus3 = cb - 3;
	b.bits.log2_max_luma_transform_block_size_minus2 = 3;
	b.bits.log2_min_luma_transform_block_size_minus2 = 0;
	b.bits.max_max_transform_hierarchy_depth_inter = 2;
	b.bits.max_max_transform_hierarchy_depth_intra = 2;
	/* PCM at the minimum CB size, where this driver codes every CU */
	b.bits.log2_min_pcm_coding_block_size_minus3 = cb - 3;
	b.bits.log2_max_pcm_coding_block_size_minus3 = max_pcm - 3;
	return b.value;
}

uint32_t fake_h265_features(void)
{
	VAConfigAttribValEncHEVCFeatures f = { .value = 0 };

	f.bits.pcm = VA_FEATURE_REQUIRED;
	f.bits.temporal_mvp = VA_FEATURE_SUPPORTED;
	f.bits.cu_qp_delta = VA_FEATURE_SUPPORTED;
	f.bits.deblocking_filter_disable = VA_FEATURE_SUPPORTED;
	return f.value;
}

uint32_t fake_h265_prediction_direction(void)
{
	return VA_PREDICTION_DIRECTION_PREVIOUS |
		(fake_env_flag("ZS_FAKE_VA_HEVC_LOW_DELAY_B") ?
			VA_PREDICTION_DIRECTION_BI_NOT_EMPTY : 0);
}

/* ---- the packed headers read back ---- */

enum {
	NAL_TRAIL_R = 1,
	NAL_IDR_W_RADL = 19,
	NAL_VPS = 32,
	NAL_SPS = 33,
	NAL_PPS = 34,
};

/* The RBSP of a packed parameter set of type nal_type, unescaped into a
 * reader over *rbsp (freed by the caller). */
static bool open_parameter_set(const struct packed *p, unsigned nal_type,
	struct reader *r, uint8_t **rbsp)
{
	size_t len = p->bits / 8;
	size_t sc = start_code_len(p->data, len);

	*rbsp = NULL;
	if (!sc || len < sc + 3 || ((p->data[sc] >> 1) & 0x3f) != nal_type)
		return false;
	*rbsp = malloc(len);
	if (!*rbsp)
		return false;
	*r = (struct reader){ .data = *rbsp };
	r->bits = 8 * unescape(p->data + sc + 2, len - sc - 2, *rbsp);
	return true;
}

static unsigned nal_type_of(const struct packed *p)
{
	size_t sc = start_code_len(p->data, p->bits / 8);

	return sc && p->bits / 8 > sc + 1 ? (p->data[sc] >> 1) & 0x3f : 64;
}

static bool parse_sps(const struct packed *p, struct fake_hevc_sps *sps)
{
	struct reader r;
	uint8_t *rbsp;
	bool ok;

	if (!open_parameter_set(p, NAL_SPS, &r, &rbsp))
		return false;
	read_bits(&r, 4);                      /* sps_video_parameter_set_id */
	if (read_bits(&r, 3) != 0)             /* sps_max_sub_layers_minus1 */
		r.overrun = true;
	read_bits(&r, 1);
	/* profile_tier_level(1, 0): 96 bits, general_profile_idc in 3..7 */
	if ((read_bits(&r, 8) & 0x1f) != 1)
		r.overrun = true;              /* Main only */
	read_bits(&r, 32);
	read_bits(&r, 32);
	read_bits(&r, 24);
	read_ue(&r);                           /* sps_seq_parameter_set_id */
	if (read_ue(&r) != 1)                  /* chroma_format_idc */
		r.overrun = true;
	sps->width = read_ue(&r);
	sps->height = read_ue(&r);
	if (read_bits(&r, 1)) {                /* conformance_window_flag */
		for (int i = 0; i < 4; i++)
			read_ue(&r);
	}
	if (read_ue(&r) != 0 || read_ue(&r) != 0) /* 8 bits */
		r.overrun = true;
	sps->log2_max_poc_lsb = read_ue(&r) + 4;
	if (read_bits(&r, 1)) {                /* sub_layer_ordering_info */
		read_ue(&r);
		read_ue(&r);
		read_ue(&r);
	}
	sps->log2_min_cb = read_ue(&r) + 3;
	sps->log2_ctb = sps->log2_min_cb + read_ue(&r);
	read_ue(&r);                           /* transform block sizes */
	read_ue(&r);
	read_ue(&r);                           /* transform depths */
	read_ue(&r);
	if (read_bits(&r, 1))                  /* scaling_list_enabled_flag */
		r.overrun = true;
	sps->amp = read_bits(&r, 1);
	sps->sao = read_bits(&r, 1);
	sps->pcm = read_bits(&r, 1);
	if (sps->pcm) {
		sps->pcm_depth_luma = read_bits(&r, 4) + 1;
		sps->pcm_depth_chroma = read_bits(&r, 4) + 1;
		sps->log2_min_pcm = read_ue(&r) + 3;
		sps->log2_max_pcm = sps->log2_min_pcm + read_ue(&r);
		sps->pcm_loop_filter_disabled = read_bits(&r, 1);
	}
	ok = !r.overrun;
	free(rbsp);
	return ok;
}

struct parsed_pps {
	int init_qp;
	bool cabac_init_present, transquant_bypass, tiles, wpp;
	bool dependent_slices, extra_bits;
};

static bool parse_pps(const struct packed *p, struct parsed_pps *pps)
{
	struct reader r;
	uint8_t *rbsp;
	bool ok;

	if (!open_parameter_set(p, NAL_PPS, &r, &rbsp))
		return false;
	read_ue(&r);                           /* pps_pic_parameter_set_id */
	read_ue(&r);                           /* pps_seq_parameter_set_id */
	pps->dependent_slices = read_bits(&r, 1);
	pps->extra_bits = read_bits(&r, 1);    /* output_flag_present_flag */
	pps->extra_bits |= read_bits(&r, 3) != 0; /* num_extra_slice_header_bits */
	read_bits(&r, 1);                      /* sign_data_hiding */
	pps->cabac_init_present = read_bits(&r, 1);
	read_ue(&r);
	read_ue(&r);
	pps->init_qp = 26 + read_se(&r);
	read_bits(&r, 1);                      /* constrained_intra_pred */
	read_bits(&r, 1);                      /* transform_skip */
	if (read_bits(&r, 1))                  /* cu_qp_delta_enabled_flag */
		read_ue(&r);
	read_se(&r);
	read_se(&r);
	read_bits(&r, 1);                      /* slice chroma qp offsets */
	read_bits(&r, 1);                      /* weighted_pred_flag */
	read_bits(&r, 1);                      /* weighted_bipred_flag */
	pps->transquant_bypass = read_bits(&r, 1);
	pps->tiles = read_bits(&r, 1);
	pps->wpp = read_bits(&r, 1);
	ok = !r.overrun;
	free(rbsp);
	return ok;
}

struct parsed_slice {
	size_t sc;
	unsigned nal_type, slice_type, poc_lsb;
	bool first_in_pic;
};

/* The first fields of our packed slice segment header. */
static bool parse_slice(const struct packed *p, unsigned log2_max_poc_lsb,
	struct parsed_slice *s)
{
	struct reader r;

	s->sc = start_code_len(p->data, p->bits / 8);
	if (!s->sc || p->bits < 8 * (s->sc + 3) || p->bits % 8)
		return false;
	s->nal_type = (p->data[s->sc] >> 1) & 0x3f;
	r = (struct reader){ .data = p->data, .bits = p->bits,
		.pos = 8 * (s->sc + 2) };
	s->first_in_pic = read_bits(&r, 1);
	if (s->nal_type >= 16 && s->nal_type <= 23)
		read_bits(&r, 1);              /* no_output_of_prior_pics_flag */
	read_ue(&r);                           /* slice_pic_parameter_set_id */
	s->slice_type = read_ue(&r);
	s->poc_lsb = s->nal_type == NAL_IDR_W_RADL ? 0 :
		read_bits(&r, log2_max_poc_lsb);
	return !r.overrun && (s->nal_type == NAL_TRAIL_R ||
		s->nal_type == NAL_IDR_W_RADL);
}

/* ---- CABAC, the encoder side (9.3.5) ---- */

static const uint8_t range_lps[64][4] = {
	{ 128, 176, 208, 240 }, { 128, 167, 197, 227 }, { 128, 158, 187, 216 },
	{ 123, 150, 178, 205 }, { 116, 142, 169, 195 }, { 111, 135, 160, 185 },
	{ 105, 128, 152, 175 }, { 100, 122, 144, 166 }, { 95, 116, 137, 158 },
	{ 90, 110, 130, 150 }, { 85, 104, 123, 142 }, { 81, 99, 117, 135 },
	{ 77, 94, 111, 128 }, { 73, 89, 105, 122 }, { 69, 85, 100, 116 },
	{ 66, 80, 95, 110 }, { 62, 76, 90, 104 }, { 59, 72, 86, 99 },
	{ 56, 69, 81, 94 }, { 53, 65, 77, 89 }, { 51, 62, 73, 85 },
	{ 48, 59, 69, 80 }, { 46, 56, 66, 76 }, { 43, 53, 63, 72 },
	{ 41, 50, 59, 69 }, { 39, 48, 56, 65 }, { 37, 45, 54, 62 },
	{ 35, 43, 51, 59 }, { 33, 41, 48, 56 }, { 32, 39, 46, 53 },
	{ 30, 37, 43, 50 }, { 29, 35, 41, 48 }, { 27, 33, 39, 45 },
	{ 26, 31, 37, 43 }, { 24, 30, 35, 41 }, { 23, 28, 33, 39 },
	{ 22, 27, 32, 37 }, { 21, 26, 30, 35 }, { 20, 24, 29, 33 },
	{ 19, 23, 27, 31 }, { 18, 22, 26, 30 }, { 17, 21, 25, 28 },
	{ 16, 20, 23, 27 }, { 15, 19, 22, 25 }, { 14, 18, 21, 24 },
	{ 14, 17, 20, 23 }, { 13, 16, 19, 22 }, { 12, 15, 18, 21 },
	{ 12, 14, 17, 20 }, { 11, 14, 16, 19 }, { 11, 13, 15, 18 },
	{ 10, 12, 15, 17 }, { 10, 12, 14, 16 }, { 9, 11, 13, 15 },
	{ 9, 11, 12, 14 }, { 8, 10, 12, 14 }, { 8, 9, 11, 13 },
	{ 7, 9, 11, 12 }, { 7, 9, 10, 12 }, { 7, 8, 10, 11 },
	{ 6, 8, 9, 11 }, { 6, 7, 9, 10 }, { 6, 7, 8, 9 }, { 2, 2, 2, 2 },
};

static const uint8_t trans_lps[64] = {
	0, 0, 1, 2, 2, 4, 4, 5, 6, 7, 8, 9, 9, 11, 11, 12,
	13, 13, 15, 15, 16, 16, 18, 18, 19, 19, 21, 21, 22, 22, 23, 24,
	24, 25, 26, 26, 27, 27, 28, 29, 29, 30, 30, 30, 31, 32, 32, 33,
	33, 33, 34, 34, 35, 35, 35, 36, 36, 36, 37, 37, 37, 38, 38, 63,
};

struct context {
	uint8_t state, mps;
};

struct cabac {
	struct zs_bitwriter *bw;
	uint32_t low, range;
	uint32_t outstanding;
	bool first_bit;
};

static int floor_div16(int v)
{
	return v >= 0 ? v / 16 : -((-v + 15) / 16);
}

/* 9.3.2.2: a context's state from its initValue at the slice QP. */
static struct context context_init(uint8_t init_value, int qp)
{
	int m = (init_value >> 4) * 5 - 45;
	int n = ((init_value & 15) << 3) - 16;
	int pre = floor_div16(m * (qp < 0 ? 0 : qp > 51 ? 51 : qp)) + n;

	pre = pre < 1 ? 1 : pre > 126 ? 126 : pre;
	if (pre <= 63)
		return (struct context){ .state = (uint8_t)(63 - pre), .mps = 0 };
	return (struct context){ .state = (uint8_t)(pre - 64), .mps = 1 };
}

static void cabac_init(struct cabac *c, struct zs_bitwriter *bw)
{
	*c = (struct cabac){ .bw = bw, .low = 0, .range = 510,
		.first_bit = true };
}

static void put_bit(struct cabac *c, unsigned b)
{
	if (c->first_bit)
		c->first_bit = false;
	else
		zs_bitwriter_put(c->bw, b, 1);
	for (; c->outstanding > 0; c->outstanding--)
		zs_bitwriter_put(c->bw, 1 - b, 1);
}

static void renorm(struct cabac *c)
{
	while (c->range < 256) {
		if (c->low < 256) {
			put_bit(c, 0);
		} else if (c->low >= 512) {
			c->low -= 512;
			put_bit(c, 1);
		} else {
			c->low -= 256;
			c->outstanding++;
		}
		c->range <<= 1;
		c->low <<= 1;
	}
}

static void encode_decision(struct cabac *c, struct context *ctx,
	unsigned bin)
{
	uint32_t lps = range_lps[ctx->state][(c->range >> 6) & 3];

	c->range -= lps;
	if (bin != ctx->mps) {
		c->low += c->range;
		c->range = lps;
		if (ctx->state == 0)
			ctx->mps = (uint8_t)(1 - ctx->mps);
		ctx->state = trans_lps[ctx->state];
	} else if (ctx->state < 62) {
		ctx->state++;
	}
	renorm(c);
}

/* A terminating bin; 1 flushes the engine, whose last bit written is 1
 * (for end_of_slice_segment_flag that bit is rbsp_stop_one_bit). */
static void encode_terminate(struct cabac *c, unsigned bin)
{
	c->range -= 2;
	if (!bin) {
		renorm(c);
		return;
	}
	c->low += c->range;
	c->range = 2;
	renorm(c);
	put_bit(c, (c->low >> 9) & 1);
	zs_bitwriter_put(c->bw, ((c->low >> 7) & 3) | 1, 2);
}

/* ---- slice data ---- */

/* Table 9-5 … 9-11: initValue of the contexts we code, by initType
 * (0: I, 1: P, 2: B, cabac_init_flag 0). part_mode is its first bin. */
static const uint8_t init_split[3][3] = {
	{ 139, 141, 157 }, { 107, 139, 126 }, { 107, 139, 126 },
};
static const uint8_t init_skip[3][3] = {
	{ 154, 154, 154 }, { 197, 185, 201 }, { 197, 185, 201 },
};
static const uint8_t init_pred_mode[3] = { 154, 149, 134 };
static const uint8_t init_part_mode[3] = { 184, 154, 154 };

struct slice_coder {
	struct cabac cabac;
	struct context split[3], skip[3], pred_mode, part_mode;
	const struct fake_surface *src;
	uint32_t width, height; /* coded, luma */
	unsigned log2_min_cb;
	bool inter;
};

static uint8_t sample(const struct fake_surface *s, uint32_t x, uint32_t y,
	int plane)
{
	uint32_t luma_rows = s->nv12_height;

	/* the coded size may pass the surface's padding: repeat its edge */
	if (plane == 0) {
		x = x < s->nv12_pitch ? x : s->nv12_pitch - 1;
		y = y < luma_rows ? y : luma_rows - 1;
		return s->nv12[(size_t)y * s->nv12_pitch + x];
	}
	x = x < s->nv12_pitch / 2 ? x : s->nv12_pitch / 2 - 1;
	y = y < luma_rows / 2 ? y : luma_rows / 2 - 1;
	return s->nv12[(size_t)luma_rows * s->nv12_pitch +
		(size_t)y * s->nv12_pitch + 2 * x + (plane == 2)];
}

static void coding_unit(struct slice_coder *sc, uint32_t x0, uint32_t y0)
{
	uint32_t n = 1u << sc->log2_min_cb;
	struct zs_bitwriter *bw = sc->cabac.bw;

	if (sc->inter) {
		/* neighbours are never skipped: ctxInc 0 */
		encode_decision(&sc->cabac, &sc->skip[0], 0);
		encode_decision(&sc->cabac, &sc->pred_mode, 1); /* MODE_INTRA */
	}
	encode_decision(&sc->cabac, &sc->part_mode, 1);         /* 2Nx2N */
	encode_terminate(&sc->cabac, 1);                         /* pcm_flag */
	zs_bitwriter_align_zero(bw);        /* pcm_alignment_zero_bit */
	for (uint32_t y = 0; y < n; y++)
		for (uint32_t x = 0; x < n; x++)
			zs_bitwriter_put(bw, sample(sc->src, x0 + x, y0 + y, 0), 8);
	for (int plane = 1; plane <= 2; plane++)
		for (uint32_t y = 0; y < n / 2; y++)
			for (uint32_t x = 0; x < n / 2; x++)
				zs_bitwriter_put(bw, sample(sc->src, x0 / 2 + x,
					y0 / 2 + y, plane), 8);
	cabac_init(&sc->cabac, bw);
}

static void coding_quadtree(struct slice_coder *sc, uint32_t x0, uint32_t y0,
	unsigned log2_size)
{
	uint32_t half = 1u << (log2_size - 1);

	if (log2_size == sc->log2_min_cb) {
		coding_unit(sc, x0, y0);
		return;
	}
	if (x0 + (1u << log2_size) <= sc->width &&
	    y0 + (1u << log2_size) <= sc->height) {
		/* every CU is deeper than this node: a neighbour counts when
		 * it is available (9.3.4.2.2) */
		unsigned inc = (x0 > 0) + (y0 > 0);
		encode_decision(&sc->cabac, &sc->split[inc], 1);
	}
	coding_quadtree(sc, x0, y0, log2_size - 1);
	if (x0 + half < sc->width)
		coding_quadtree(sc, x0 + half, y0, log2_size - 1);
	if (y0 + half < sc->height)
		coding_quadtree(sc, x0, y0 + half, log2_size - 1);
	if (x0 + half < sc->width && y0 + half < sc->height)
		coding_quadtree(sc, x0 + half, y0 + half, log2_size - 1);
}

/* The slice NAL unit: our header, PCM slice data, trailing bits. */
static bool write_slice(struct output *o, const struct packed *hdr,
	const struct parsed_slice *ps, const struct fake_surface *src,
	const struct fake_hevc_sps *sps, int slice_qp)
{
	struct zs_bitwriter bw;
	struct slice_coder sc = { .src = src, .width = sps->width,
		.height = sps->height, .log2_min_cb = sps->log2_min_cb,
		.inter = ps->slice_type != 2 };
	unsigned init_type = 2 - ps->slice_type;
	uint32_t ctb = 1u << sps->log2_ctb;
	uint32_t ctbs_w = (sps->width + ctb - 1) / ctb;
	uint32_t ctbs = ctbs_w * ((sps->height + ctb - 1) / ctb);
	size_t head = ps->sc + 2, len;
	uint8_t *escaped;

	for (int i = 0; i < 3; i++) {
		sc.split[i] = context_init(init_split[init_type][i], slice_qp);
		sc.skip[i] = context_init(init_skip[init_type][i], slice_qp);
	}
	sc.pred_mode = context_init(init_pred_mode[init_type], slice_qp);
	sc.part_mode = context_init(init_part_mode[init_type], slice_qp);

	zs_bitwriter_init(&bw);
	/* the header after start code and NAL unit header, through its
	 * byte_alignment() */
	zs_bitwriter_put_bytes(&bw, hdr->data + head, hdr->bits / 8 - head);
	cabac_init(&sc.cabac, &bw);
	for (uint32_t i = 0; i < ctbs; i++) {
		coding_quadtree(&sc, (i % ctbs_w) * ctb, (i / ctbs_w) * ctb,
			sps->log2_ctb);
		encode_terminate(&sc.cabac, i + 1 == ctbs);
	}
	/* rbsp_slice_segment_trailing_bits(): the flush wrote the stop bit */
	zs_bitwriter_align_zero(&bw);
	if (!zs_bitwriter_ok(&bw)) {
		zs_bitwriter_finish(&bw);
		return false;
	}
	len = zs_bitwriter_bytes(&bw);
	escaped = malloc(head + zs_nal_escaped_max(len));
	if (!escaped) {
		zs_bitwriter_finish(&bw);
		return false;
	}
	memcpy(escaped, hdr->data, head);
	len = head + zs_nal_escape(bw.data, len, escaped + head);
	emit(o, escaped, len);
	free(escaped);
	zs_bitwriter_finish(&bw);
	return true;
}

/* ---- the picture ---- */

#define MAX_PACKED 16

static bool same_picture(const VAPictureHEVC *p, VASurfaceID id)
{
	return p->picture_id == id && !(p->flags & VA_PICTURE_HEVC_INVALID);
}

VAStatus fake_h265_encode(VADriverContextP ctx, struct fake_context *c,
	const struct fake_config *cfg)
{
	const VAEncSequenceParameterBufferHEVC *seq = NULL;
	const VAEncPictureParameterBufferHEVC *pic = NULL;
	const VAEncSliceParameterBufferHEVC *slice = NULL;
	struct packed packed[MAX_PACKED];
	const struct packed *slice_hdr = NULL;
	bool vps = false, sps_now = false, pps_now = false;
	int n_packed = 0, n_slices = 0, slice_qp;
	struct fake_hevc_sps *sps = &c->hevc_sps;
	struct parsed_slice ps;
	struct fake_surface *src, *recon;
	struct fake_buffer *coded;
	struct output out;
	uint32_t min_cb, ctb, coded_w, coded_h, ctbs;
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
			CHECK(b->size == sizeof(*slice), "slice buffer of %zu bytes",
				b->size);
			CHECK(n_slices++ == 0, "more than one slice: the fake "
				"driver says VAConfigAttribEncMaxSlices 1");
			CHECK(slice_hdr, "slice without a packed slice header "
				"before it");
			slice = (const void *)b->data;
			break;
		case VAEncPackedHeaderParameterBufferType: {
			const VAEncPackedHeaderParameterBuffer *ph =
				(const void *)b->data;
			struct packed *p = &packed[n_packed];
			CHECK(b->size >= sizeof(*ph), "short packed header buffer");
			CHECK(i + 1 < c->n_bufs && c->bufs[i + 1].type ==
				VAEncPackedHeaderDataBufferType,
				"packed header parameters without data");
			CHECK(ph->bit_length > 0 &&
				(ph->bit_length + 7) / 8 <= c->bufs[i + 1].size,
				"packed header of %u bits in %zu bytes",
				ph->bit_length, c->bufs[i + 1].size);
			CHECK(n_packed < MAX_PACKED, "too many packed headers");
			*p = (struct packed){ .type = ph->type,
				.data = c->bufs[i + 1].data, .bits = ph->bit_length,
				.has_emulation_bytes = ph->has_emulation_bytes };
			CHECK(cfg->packed_headers & (ph->type ==
				VAEncPackedHeaderSequence ? VA_ENC_PACKED_HEADER_SEQUENCE :
				ph->type == VAEncPackedHeaderPicture ?
				VA_ENC_PACKED_HEADER_PICTURE : VA_ENC_PACKED_HEADER_SLICE),
				"packed header type %u not enabled in the config",
				ph->type);
			if (ph->type == VAEncPackedHeaderSequence) {
				unsigned t = nal_type_of(p);
				CHECK(t == NAL_VPS || t == NAL_SPS, "packed sequence "
					"header of NAL type %u", t);
				vps |= t == NAL_VPS;
				sps_now |= t == NAL_SPS;
			} else if (ph->type == VAEncPackedHeaderPicture) {
				CHECK(nal_type_of(p) == NAL_PPS, "packed picture "
					"header of NAL type %u", nal_type_of(p));
				pps_now = true;
			} else if (ph->type == VAEncPackedHeaderSlice) {
				CHECK(!slice_hdr, "two packed slice headers");
				CHECK(!ph->has_emulation_bytes,
					"packed slice header with emulation bytes");
				slice_hdr = p;
			} else {
				CHECK(false, "packed header type %u", ph->type);
			}
			CHECK(ph->type == VAEncPackedHeaderSlice ||
				(ph->bit_length % 8 == 0 && ph->has_emulation_bytes),
				"packed VPS/SPS/PPS must be whole escaped bytes");
			n_packed++;
			i++;
			break;
		}
		case VAEncMiscParameterBufferType: {
			const VAEncMiscParameterBuffer *m = (const void *)b->data;
			CHECK(b->size >= sizeof(*m), "short misc buffer");
			if (m->type == VAEncMiscParameterTypeRateControl) {
				CHECK(cfg->rc_mode != VA_RC_CQP,
					"rate control parameters in CQP mode");
				rate_control_seen = true;
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
		c->hevc_seq = *seq;
		c->have_sequence = true;
		CHECK(cfg->rc_mode == VA_RC_CQP || rate_control_seen ||
			c->pictures > 0, "first sequence of a rate-controlled "
			"stream without rate control parameters");
	}
	CHECK(c->have_sequence, "picture before any sequence parameters");
	seq = &c->hevc_seq;
	CHECK(seq->general_profile_idc == 1, "general_profile_idc %u",
		seq->general_profile_idc);
	CHECK(seq->seq_fields.bits.pcm_enabled_flag, "the fake driver codes "
		"PCM only, and VAConfigAttribEncHEVCFeatures says pcm is "
		"required");
	min_cb = 1u << (seq->log2_min_luma_coding_block_size_minus3 + 3);
	ctb = min_cb << seq->log2_diff_max_min_luma_coding_block_size;
	coded_w = (c->width + min_cb - 1) / min_cb * min_cb;
	coded_h = (c->height + min_cb - 1) / min_cb * min_cb;
	CHECK(seq->pic_width_in_luma_samples == coded_w &&
		seq->pic_height_in_luma_samples == coded_h,
		"sequence is %ux%u, context %ux%u pixels in %u-sample CBs",
		seq->pic_width_in_luma_samples, seq->pic_height_in_luma_samples,
		c->width, c->height, min_cb);
	CHECK(cfg->packed_headers & VA_ENC_PACKED_HEADER_SLICE,
		"the fake driver writes no slice headers of its own");

	/* packed parameter sets against the parameter buffers */
	for (int i = 0; i < n_packed; i++) {
		struct parsed_pps pps;
		if (nal_type_of(&packed[i]) == NAL_SPS) {
			CHECK(parse_sps(&packed[i], sps), "unreadable packed SPS");
			c->sps_seen = true;
		} else if (nal_type_of(&packed[i]) == NAL_PPS) {
			CHECK(parse_pps(&packed[i], &pps), "unreadable packed PPS");
			CHECK(!pps.cabac_init_present && !pps.transquant_bypass &&
				!pps.tiles && !pps.wpp && !pps.dependent_slices &&
				!pps.extra_bits, "packed PPS enables what the fake "
				"driver does not code");
			c->hevc_init_qp = pps.init_qp;
			c->hevc_pps_seen = true;
		}
	}
	CHECK(c->sps_seen && c->hevc_pps_seen, "slice before any packed "
		"SPS and PPS");
	CHECK(sps->width == coded_w && sps->height == coded_h,
		"packed SPS is %ux%u, sequence %ux%u", sps->width, sps->height,
		coded_w, coded_h);
	CHECK(1u << sps->log2_min_cb == min_cb && 1u << sps->log2_ctb == ctb,
		"packed SPS and sequence disagree on block sizes");
	CHECK(sps->pcm && sps->pcm_depth_luma == 8 &&
		sps->pcm_depth_chroma == 8 &&
		sps->log2_min_pcm ==
			seq->log2_min_pcm_luma_coding_block_size_minus3 + 3 &&
		sps->log2_max_pcm ==
			seq->log2_max_pcm_luma_coding_block_size_minus3 + 3 &&
		sps->pcm_loop_filter_disabled ==
			seq->seq_fields.bits.pcm_loop_filter_disabled_flag,
		"packed SPS and sequence disagree on PCM");
	CHECK(sps->log2_min_pcm <= sps->log2_min_cb &&
		sps->log2_min_cb <= sps->log2_max_pcm,
		"PCM blocks of 2^%u..2^%u cannot be coding blocks of 2^%u",
		sps->log2_min_pcm, sps->log2_max_pcm, sps->log2_min_cb);
	CHECK(sps->amp == seq->seq_fields.bits.amp_enabled_flag &&
		sps->sao == seq->seq_fields.bits.sample_adaptive_offset_enabled_flag,
		"packed SPS and sequence disagree on AMP or SAO");
	CHECK(c->hevc_init_qp == pic->pic_init_qp,
		"packed PPS init_qp %d, picture %u", c->hevc_init_qp,
		pic->pic_init_qp);

	/* picture and slice */
	CHECK(n_slices == 1, "%d slices", n_slices);
	CHECK(parse_slice(slice_hdr, sps->log2_max_poc_lsb, &ps),
		"unreadable packed slice header (it must end in byte_alignment())");
	CHECK(ps.first_in_pic, "first_slice_segment_in_pic_flag 0");
	CHECK(ps.nal_type == pic->nal_unit_type, "slice is NAL type %u, "
		"picture nal_unit_type %u", ps.nal_type, pic->nal_unit_type);
	CHECK((ps.nal_type == NAL_IDR_W_RADL) ==
		!!pic->pic_fields.bits.idr_pic_flag,
		"slice is NAL type %u, picture idr_pic_flag %u", ps.nal_type,
		pic->pic_fields.bits.idr_pic_flag);
	CHECK(ps.slice_type == slice->slice_type, "packed slice type %u, "
		"parameters %u", ps.slice_type, slice->slice_type);
	CHECK(ps.slice_type <= 2, "slice type %u", ps.slice_type);
	CHECK(!pic->pic_fields.bits.idr_pic_flag || ps.slice_type == 2,
		"IDR picture with an inter slice");
	CHECK(ps.slice_type != 1 ||
		!fake_env_flag("ZS_FAKE_VA_HEVC_LOW_DELAY_B"),
		"P slice, but the driver said B lists may not be empty");
	CHECK(ps.poc_lsb == ((uint32_t)pic->decoded_curr_pic.pic_order_cnt &
		((1u << sps->log2_max_poc_lsb) - 1)),
		"slice POC LSB %u, picture POC %d", ps.poc_lsb,
		pic->decoded_curr_pic.pic_order_cnt);
	if (ps.slice_type != 2) {
		CHECK(c->last_recon != VA_INVALID_SURFACE &&
			same_picture(&slice->ref_pic_list0[0], c->last_recon) &&
			same_picture(&pic->reference_frames[0], c->last_recon),
			"inter slice refers to surface %#x, the last "
			"reconstructed picture is %#x",
			slice->ref_pic_list0[0].picture_id, c->last_recon);
		CHECK(ps.slice_type != 0 ||
			same_picture(&slice->ref_pic_list1[0], c->last_recon),
			"low-delay B slice without the previous picture in "
			"list 1");
		CHECK(slice->ref_pic_list0[0].pic_order_cnt ==
			pic->decoded_curr_pic.pic_order_cnt - 1,
			"the reference is not the previous picture");
	}
	CHECK(!slice->slice_fields.bits.slice_sao_luma_flag &&
		!slice->slice_fields.bits.slice_sao_chroma_flag,
		"SAO is not coded by the fake driver");
	ctbs = ((coded_w + ctb - 1) / ctb) * ((coded_h + ctb - 1) / ctb);
	CHECK(slice->slice_segment_address == 0 &&
		slice->num_ctu_in_slice == ctbs, "slice covers CTUs %u+%u of %u",
		slice->slice_segment_address, slice->num_ctu_in_slice, ctbs);
	slice_qp = pic->pic_init_qp + slice->slice_qp_delta;
	CHECK(slice_qp >= 0 && slice_qp <= 51, "slice QP %d", slice_qp);
	if (pic->pic_fields.bits.idr_pic_flag)
		CHECK(vps && sps_now && pps_now, "IDR without packed VPS, SPS "
			"and PPS");

	src = fake_lookup(ctx, c->target, OBJ_SURFACE);
	recon = fake_lookup(ctx, pic->decoded_curr_pic.picture_id, OBJ_SURFACE);
	coded = fake_lookup(ctx, pic->coded_buf, OBJ_BUFFER);
	CHECK(src && src->nv12 && src->width == c->width &&
		src->height == c->height, "input surface is not NV12 %ux%u",
		c->width, c->height);
	CHECK(recon && recon->nv12 &&
		pic->decoded_curr_pic.picture_id != c->target &&
		recon->width == src->width && recon->height == src->height,
		"reconstructed surface %#x unusable",
		pic->decoded_curr_pic.picture_id);
	CHECK(coded && coded->type == VAEncCodedBufferType,
		"coded_buf %#x is not a coded buffer", pic->coded_buf);

	out = (struct output){ .coded = coded };
	memset(coded->segments, 0, sizeof(coded->segments));
	for (int i = 0; i < n_packed; i++) {
		if (packed[i].type != VAEncPackedHeaderSlice)
			emit(&out, packed[i].data, packed[i].bits / 8);
	}
	if (!write_slice(&out, slice_hdr, &ps, src, sps, slice_qp))
		return VA_STATUS_ERROR_ALLOCATION_FAILED;
	if (out.overflow) {
		coded->segments[0].status |= VA_CODED_BUF_STATUS_SLICE_OVERFLOW_MASK;
		fake_fail("coded buffer of %zu bytes overflowed", coded->size);
		return VA_STATUS_ERROR_NOT_ENOUGH_BUFFER;
	}
	/* the reference for the next picture: a lossless copy */
	memcpy(recon->nv12, src->nv12, (size_t)src->nv12_pitch *
		src->nv12_height * 3 / 2);
	c->last_recon = pic->decoded_curr_pic.picture_id;
	c->pictures++;
	zs_fake_va_stats.encoded_frames++;
	if (pic->pic_fields.bits.idr_pic_flag)
		zs_fake_va_stats.idr_frames++;
	zs_fake_va_stats.last_entrypoint = cfg->entrypoint;
	zs_fake_va_stats.last_rc_mode = cfg->rc_mode;
	zs_fake_va_stats.last_profile = cfg->profile;
	zs_fake_va_stats.last_slice_type = ps.slice_type;
	return VA_STATUS_SUCCESS;
}
