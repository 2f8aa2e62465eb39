/* Tests for the one-pass RGB to I420 conversion (encoder/yuv.c) against
 * GStreamer's own converter (what videoconvert runs), which it replaces
 * for H.264/H.265: same matrix, range and colours. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gst/video/video.h>

#include "yuv.h"

struct planes {
	uint8_t *y, *u, *v;
	uint32_t w, h;
};

static struct planes ours(const uint8_t *bgrx, uint32_t w, uint32_t h,
	enum zs_yuv_matrix m)
{
	struct planes p = { malloc((size_t)w * h), malloc((size_t)w * h / 4),
		malloc((size_t)w * h / 4), w, h };
	cr_assert(p.y && p.u && p.v);
	zs_yuv_from_bgrx(bgrx, (ptrdiff_t)w * 4, w, h, m, p.y, w, p.u, p.v,
		w / 2);
	return p;
}

/* GStreamer's converter, I420 at GStreamer's default colorimetry for the
 * size (what the encoder pipeline negotiated before). */
static struct planes theirs(const uint8_t *bgrx, uint32_t w, uint32_t h)
{
	GstVideoInfo in, out;
	GstVideoFrame fin, fout;
	gst_init(NULL, NULL);
	gst_video_info_set_format(&in, GST_VIDEO_FORMAT_BGRx, w, h);
	gst_video_info_set_format(&out, GST_VIDEO_FORMAT_I420, w, h);
	GstBuffer *bin = gst_buffer_new_wrapped_full(GST_MEMORY_FLAG_READONLY,
		(gpointer)bgrx, in.size, 0, in.size, NULL, NULL);
	GstBuffer *bout = gst_buffer_new_allocate(NULL, out.size, NULL);
	cr_assert(gst_video_frame_map(&fin, &in, bin, GST_MAP_READ));
	cr_assert(gst_video_frame_map(&fout, &out, bout, GST_MAP_WRITE));
	GstVideoConverter *c = gst_video_converter_new(&in, &out, NULL);
	cr_assert_not_null(c);
	gst_video_converter_frame(c, &fin, &fout);
	struct planes p = { malloc((size_t)w * h), malloc((size_t)w * h / 4),
		malloc((size_t)w * h / 4), w, h };
	for (uint32_t r = 0; r < h; r++)
		memcpy(p.y + (size_t)r * w, (uint8_t *)GST_VIDEO_FRAME_PLANE_DATA(
			&fout, 0) + (size_t)r * GST_VIDEO_FRAME_PLANE_STRIDE(&fout, 0), w);
	for (uint32_t r = 0; r < h / 2; r++) {
		memcpy(p.u + (size_t)r * w / 2, (uint8_t *)GST_VIDEO_FRAME_PLANE_DATA(
			&fout, 1) + (size_t)r * GST_VIDEO_FRAME_PLANE_STRIDE(&fout, 1), w / 2);
		memcpy(p.v + (size_t)r * w / 2, (uint8_t *)GST_VIDEO_FRAME_PLANE_DATA(
			&fout, 2) + (size_t)r * GST_VIDEO_FRAME_PLANE_STRIDE(&fout, 2), w / 2);
	}
	gst_video_converter_free(c);
	gst_video_frame_unmap(&fin);
	gst_video_frame_unmap(&fout);
	gst_buffer_unref(bin);
	gst_buffer_unref(bout);
	return p;
}

static void planes_free(struct planes *p)
{
	free(p->y);
	free(p->u);
	free(p->v);
}

static int max_diff(const uint8_t *a, const uint8_t *b, size_t n)
{
	int m = 0;
	for (size_t i = 0; i < n; i++)
		m = MAX(m, abs((int)a[i] - (int)b[i]));
	return m;
}

static double psnr(const uint8_t *a, const uint8_t *b, size_t n)
{
	double se = 0;
	for (size_t i = 0; i < n; i++)
		se += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
	return se == 0 ? 99.0 : 10 * log10(255.0 * 255.0 * (double)n / se);
}

/* Random pixels (a worst case for chroma siting) and smooth gradients. */
static uint8_t *picture(uint32_t w, uint32_t h, bool smooth)
{
	uint8_t *px = malloc((size_t)w * h * 4);
	cr_assert_not_null(px);
	srand(7);
	for (uint32_t y = 0; y < h; y++) {
		for (uint32_t x = 0; x < w; x++) {
			uint8_t *p = px + ((size_t)y * w + x) * 4;
			if (smooth) {
				p[0] = (uint8_t)(x * 255 / w);
				p[1] = (uint8_t)(y * 255 / h);
				p[2] = (uint8_t)((x + y) * 255 / (w + h));
			} else {
				p[0] = (uint8_t)rand();
				p[1] = (uint8_t)rand();
				p[2] = (uint8_t)rand();
			}
			p[3] = 0xff;
		}
	}
	return px;
}

static void compare(uint32_t w, uint32_t h, enum zs_yuv_matrix m)
{
	uint8_t *noise = picture(w, h, false), *smooth = picture(w, h, true);
	struct planes a = ours(noise, w, h, m), b = theirs(noise, w, h);
	/* luma sample by sample; chroma: GStreamer sites it differently
	 * (co-sited for BT.709), so only the mean colour agrees on noise */
	cr_expect_leq(max_diff(a.y, b.y, (size_t)w * h), 1, "%ux%u luma",
		w, h);
	cr_expect_gt(psnr(a.u, b.u, (size_t)w * h / 4), 20.0);
	planes_free(&a);
	planes_free(&b);
	a = ours(smooth, w, h, m);
	b = theirs(smooth, w, h);
	cr_expect_leq(max_diff(a.y, b.y, (size_t)w * h), 1);
	cr_expect_leq(max_diff(a.u, b.u, (size_t)w * h / 4), 2, "%ux%u Cb",
		w, h);
	cr_expect_leq(max_diff(a.v, b.v, (size_t)w * h / 4), 2, "%ux%u Cr",
		w, h);
	planes_free(&a);
	planes_free(&b);
	free(noise);
	free(smooth);
}

Test(yuv, matches_gstreamer_bt709_at_720p)
{
	compare(1280, 720, ZS_YUV_BT709);
}

Test(yuv, matches_gstreamer_bt601_at_sd)
{
	compare(640, 480, ZS_YUV_BT601);
}

Test(yuv, flat_colours_hit_the_limits)
{
	static const struct {
		uint8_t b, g, r, y, u, v;
	} want709[] = {
		{ 0, 0, 0, 16, 128, 128 },
		{ 255, 255, 255, 235, 128, 128 },
		{ 128, 128, 128, 126, 128, 128 },
		{ 0, 0, 255, 63, 102, 240 },
		{ 255, 0, 0, 32, 240, 118 },
	};
	uint8_t px[4 * 4 * 4];
	uint8_t y[16], u[4], v[4];
	for (size_t i = 0; i < sizeof(want709) / sizeof(want709[0]); i++) {
		for (int k = 0; k < 16; k++) {
			px[4 * k] = want709[i].b;
			px[4 * k + 1] = want709[i].g;
			px[4 * k + 2] = want709[i].r;
			px[4 * k + 3] = 0;
		}
		zs_yuv_from_bgrx(px, 16, 4, 4, ZS_YUV_BT709, y, 4, u, v, 2);
		for (int k = 0; k < 16; k++)
			cr_expect_leq(abs(y[k] - want709[i].y), 1, "colour %zu: Y %d",
				i, y[k]);
		for (int k = 0; k < 4; k++) {
			cr_expect_leq(abs(u[k] - want709[i].u), 1, "colour %zu: Cb %d",
				i, u[k]);
			cr_expect_leq(abs(v[k] - want709[i].v), 1, "colour %zu: Cr %d",
				i, v[k]);
		}
	}
}

Test(yuv, a_negative_stride_reads_the_picture_upward)
{
	uint32_t w = 64, h = 32;
	uint8_t *px = picture(w, h, false);
	uint8_t *flipped = malloc((size_t)w * h * 4);
	cr_assert_not_null(flipped);
	for (uint32_t r = 0; r < h; r++)
		memcpy(flipped + (size_t)r * w * 4,
			px + (size_t)(h - 1 - r) * w * 4, (size_t)w * 4);
	struct planes a = ours(flipped, w, h, ZS_YUV_BT709);
	struct planes b = { malloc((size_t)w * h), malloc((size_t)w * h / 4),
		malloc((size_t)w * h / 4), w, h };
	zs_yuv_from_bgrx(px + (size_t)(h - 1) * w * 4, -(ptrdiff_t)w * 4, w,
		h, ZS_YUV_BT709, b.y, w, b.u, b.v, w / 2);
	cr_assert_eq(memcmp(a.y, b.y, (size_t)w * h), 0);
	cr_assert_eq(memcmp(a.u, b.u, (size_t)w * h / 4), 0);
	cr_assert_eq(memcmp(a.v, b.v, (size_t)w * h / 4), 0);
	planes_free(&a);
	planes_free(&b);
	free(px);
	free(flipped);
}
