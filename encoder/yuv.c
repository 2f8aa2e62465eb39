/* zerospice — RGB to I420 in one pass (yuv.h). Built at -O3 (meson): the
 * loops are written for the vectoriser, which -O2 leaves off in GCC 12. */
#include "yuv.h"

/* 8-bit limited range in 1/256: Y = 16 + (kr R + kg G + kb B) / 256;
 * chroma rows sum to 0 so that grey has no colour. Derived from the
 * standard's Kr, Kb scaled by 219/255 (luma) and 224/255 (chroma). */
struct coefs {
	int yr, yg, yb, ur, ug, ub, vr, vg, vb;
};

static const struct coefs table[] = {
	[ZS_YUV_BT601] = { 66, 129, 25, -38, -74, 112, 112, -94, -18 },
	[ZS_YUV_BT709] = { 47, 157, 16, -26, -87, 113, 112, -102, -10 },
};

/* One row of luma: the loop body must stay free of calls and branches. */
static void luma_row(const uint8_t *restrict s, uint8_t *restrict y,
	size_t width, int kr, int kg, int kb)
{
	/* size_t indices: with 32-bit ones GCC cannot prove 4 * x does not
	 * wrap and vectorises nothing */
	for (size_t x = 0; x < width; x++) {
		int v = kr * s[4 * x + 2] + kg * s[4 * x + 1] + kb * s[4 * x] +
			(16 << 8) + 128;
		y[x] = (uint8_t)(v >> 8);
	}
}

/* One row of each chroma plane from two picture rows: sums of 2x2 blocks
 * (4 samples: the division by 4 is in the shift). With the rows summing
 * to 0 the result stays within 16..241 for any input. */
static void chroma_row(const uint8_t *restrict a, const uint8_t *restrict b,
	uint8_t *restrict u, uint8_t *restrict v, size_t half,
	struct coefs k)
{
	for (size_t x = 0; x < half; x++) {
		int bs = a[8 * x] + a[8 * x + 4] + b[8 * x] + b[8 * x + 4];
		int gs = a[8 * x + 1] + a[8 * x + 5] + b[8 * x + 1] +
			b[8 * x + 5];
		int rs = a[8 * x + 2] + a[8 * x + 6] + b[8 * x + 2] +
			b[8 * x + 6];
		u[x] = (uint8_t)((k.ur * rs + k.ug * gs + k.ub * bs +
			(128 << 10) + 512) >> 10);
		v[x] = (uint8_t)((k.vr * rs + k.vg * gs + k.vb * bs +
			(128 << 10) + 512) >> 10);
	}
}

void zs_yuv_from_bgrx(const uint8_t *src, ptrdiff_t src_stride,
	uint32_t width, uint32_t height, enum zs_yuv_matrix matrix,
	uint8_t *y, size_t y_stride, uint8_t *u, uint8_t *v,
	size_t uv_stride)
{
	const struct coefs *k = &table[matrix == ZS_YUV_BT709 ?
		ZS_YUV_BT709 : ZS_YUV_BT601];

	for (uint32_t r = 0; r + 1 < height; r += 2) {
		const uint8_t *s0 = src + (ptrdiff_t)r * src_stride;
		const uint8_t *s1 = s0 + src_stride;
		luma_row(s0, y + (size_t)r * y_stride, width, k->yr, k->yg,
			k->yb);
		luma_row(s1, y + (size_t)(r + 1) * y_stride, width, k->yr,
			k->yg, k->yb);
		chroma_row(s0, s1, u + (size_t)(r / 2) * uv_stride,
			v + (size_t)(r / 2) * uv_stride, width / 2, *k);
	}
}
