/* The VA-API backend end to end, through the real libva.
 *
 * With the fake driver (LIBVA_DRIVER_NAME=zsfake, meson test 'vaapi'):
 * memfd frames are imported, converted by VPP and coded as I_PCM, so
 * avdec_h264 must give back exactly the reference BT.709 limited-range
 * conversion of the source (±1 for rounding). Fallbacks are provoked
 * through the driver's knobs.
 *
 * On a machine with a GPU (meson test 'vaapi-hw', LIBVA_DRIVER_NAME
 * unset, /dev/dri/renderD* present, /dev/udmabuf to turn memfds into
 * dma-bufs) the same encode runs on the real driver and the decoded
 * pictures must be close to the reference (lossy: PSNR). */
#include <dlfcn.h>
#include <fcntl.h>
#include <glob.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <drm_fourcc.h>
#include <gst/app/gstappsink.h>
#include <gst/app/gstappsrc.h>
#include <gst/gst.h>
#include <gst/video/video.h>
#include <linux/udmabuf.h>

#include "fake-va.h"
#include "vaapi.h"
#include "zs-dmabuf.h"
#include "zs-encoder.h"

/* ---- modes ---- */

static bool fake_mode(void)
{
	const char *d = getenv("LIBVA_DRIVER_NAME");
	return d && strcmp(d, "zsfake") == 0;
}

static void require_fake(void)
{
	if (!fake_mode())
		cr_skip_test("needs the fake VA driver (run as meson test "
			"'vaapi', which sets LIBVA_DRIVER_NAME=zsfake)");
	zs_encoder_set_va_device("/dev/null");
}

static char hw_device[64];

static void require_hw(void)
{
	glob_t g;

	if (!getenv("ZS_VA_TEST_HW"))
		cr_skip_test("hardware tests run as meson test 'vaapi-hw'");
	if (getenv("LIBVA_DRIVER_NAME"))
		cr_skip_test("LIBVA_DRIVER_NAME is set: hardware tests use the "
			"driver libva picks for the GPU");
	if (glob("/dev/dri/renderD*", 0, NULL, &g) != 0)
		cr_skip_test("no /dev/dri/renderD*: VA-API hardware tests need "
			"a GPU (Intel: iHD driver, intel-media-va-driver)");
	snprintf(hw_device, sizeof(hw_device), "%s", g.gl_pathv[0]);
	globfree(&g);
	if (access("/dev/udmabuf", R_OK | W_OK) != 0)
		cr_skip_test("no usable /dev/udmabuf: the hardware test turns "
			"memfds into dma-bufs with it");
	zs_encoder_set_va_device(hw_device);
}

static struct zs_fake_va_stats *fake_stats(void)
{
	struct zs_fake_va_stats *s = dlsym(RTLD_DEFAULT, "zs_fake_va_stats");
	cr_assert(s, "fake driver not loaded");
	return s;
}

/* ---- source pictures ---- */

struct picture {
	struct zs_memfd_buffer buf;
	int dmabuf_fd; /* hardware mode: a udmabuf of buf.fd */
	uint64_t modifier;
	uint32_t width, height, stride, fourcc;
	uint8_t *rgb; /* width x height x 3, top row first, for the reference */
};

static uint32_t rng(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

/* Gradients, hard edges and noise: every rounding path gets exercised. */
static void draw(struct picture *p, uint32_t seed)
{
	uint32_t s = seed * 2654435761u + 1;

	for (uint32_t y = 0; y < p->height; y++) {
		for (uint32_t x = 0; x < p->width; x++) {
			uint8_t *c = p->rgb + 3 * ((size_t)y * p->width + x);
			uint32_t n = rng(&s);
			if ((x / 24 + y / 24 + seed) % 3 == 0) {
				c[0] = (uint8_t)n;
				c[1] = (uint8_t)(n >> 8);
				c[2] = (uint8_t)(n >> 16);
			} else {
				c[0] = (uint8_t)(x * 255 / p->width);
				c[1] = (uint8_t)(y * 255 / p->height + seed * 40);
				c[2] = (uint8_t)((x + y) & 0xff);
			}
		}
	}
}

/* Byte offset of pixel (x, y) in the buffer. */
static size_t pixel_at(const struct picture *p, uint32_t x, uint32_t y)
{
	if (p->modifier == I915_FORMAT_MOD_X_TILED) {
		size_t bx = (size_t)x * 4;
		return ((size_t)(y / 8) * (p->stride / 512) + bx / 512) * 4096 +
			(y % 8) * 512 + bx % 512;
	}
	return (size_t)y * p->stride + (size_t)x * 4;
}

/* Stores the picture; bottom_up stores row 0 last. */
static void store(struct picture *p, bool bottom_up)
{
	for (uint32_t y = 0; y < p->height; y++) {
		uint32_t row = bottom_up ? p->height - 1 - y : y;
		for (uint32_t x = 0; x < p->width; x++) {
			const uint8_t *c = p->rgb + 3 * ((size_t)y * p->width + x);
			uint8_t *d = p->buf.pixels + pixel_at(p, x, row);
			bool rgba_order = p->fourcc == DRM_FORMAT_XBGR8888 ||
				p->fourcc == DRM_FORMAT_ABGR8888;
			d[0] = rgba_order ? c[0] : c[2];
			d[1] = c[1];
			d[2] = rgba_order ? c[2] : c[0];
			d[3] = 0xff;
		}
	}
}

static int udmabuf_of(int memfd, size_t size)
{
	struct udmabuf_create create = { .memfd = (uint32_t)memfd,
		.flags = UDMABUF_FLAGS_CLOEXEC, .size = size };
	int dev = open("/dev/udmabuf", O_RDWR | O_CLOEXEC);
	int fd;

	cr_assert_geq(dev, 0, "/dev/udmabuf");
	fd = ioctl(dev, UDMABUF_CREATE, &create);
	close(dev);
	cr_assert_geq(fd, 0, "UDMABUF_CREATE");
	return fd;
}

static void picture_init(struct picture *p, uint32_t w, uint32_t h,
	uint32_t fourcc, uint64_t modifier, uint32_t seed, bool bottom_up)
{
	memset(p, 0, sizeof(*p));
	p->width = w;
	p->height = h;
	p->fourcc = fourcc;
	p->modifier = modifier;
	p->dmabuf_fd = -1;
	if (modifier == I915_FORMAT_MOD_X_TILED) {
		/* whole 512-byte x 8-row tiles, in a buffer of a tiled size */
		p->stride = (w * 4 + 511) / 512 * 512;
		cr_assert_eq(zs_memfd_buffer_init(&p->buf, "tiled",
			p->stride / 4, (h + 7) / 8 * 8, fourcc), 0);
	} else {
		cr_assert_eq(zs_memfd_buffer_init(&p->buf, "linear", w, h,
			fourcc), 0);
		p->stride = p->buf.stride;
	}
	p->rgb = malloc((size_t)w * h * 3);
	draw(p, seed);
	store(p, bottom_up);
}

static void picture_finish(struct picture *p)
{
	if (p->dmabuf_fd >= 0)
		close(p->dmabuf_fd);
	zs_memfd_buffer_finish(&p->buf);
	free(p->rgb);
}

static struct zs_frame frame_of(struct picture *p, uint64_t id, bool y0_top)
{
	struct zs_frame f = {
		.width = p->width, .height = p->height, .fourcc = p->fourcc,
		.modifier = p->modifier, .y0_top = y0_top, .n_planes = 1,
		.id = id,
	};
	int fd = p->buf.fd;

	if (getenv("ZS_VA_TEST_HW")) {
		if (p->dmabuf_fd < 0)
			p->dmabuf_fd = udmabuf_of(p->buf.fd, p->buf.size);
		fd = p->dmabuf_fd;
	}
	f.planes[0] = (struct zs_plane){ .fd = fd, .stride = p->stride };
	return f;
}

/* ---- reference conversion (written from the BT.709 matrix, not from the
 * fake driver's fixed-point code) ---- */

struct yuv {
	uint32_t width, height;
	uint8_t *y, *u, *v; /* I420 planes, tightly packed */
};

static void reference(const struct picture *p, struct yuv *out)
{
	const double kr = 0.2126, kb = 0.0722, kg = 1 - kr - kb;
	uint32_t cw = p->width / 2, ch = p->height / 2;

	out->width = p->width;
	out->height = p->height;
	out->y = malloc((size_t)p->width * p->height);
	out->u = malloc((size_t)cw * ch);
	out->v = malloc((size_t)cw * ch);
	for (uint32_t y = 0; y < p->height; y++) {
		for (uint32_t x = 0; x < p->width; x++) {
			const uint8_t *c = p->rgb + 3 * ((size_t)y * p->width + x);
			double l = kr * c[0] + kg * c[1] + kb * c[2];
			out->y[(size_t)y * p->width + x] =
				(uint8_t)lround(16 + l * 219 / 255);
		}
	}
	for (uint32_t y = 0; y < ch; y++) {
		for (uint32_t x = 0; x < cw; x++) {
			double r = 0, g = 0, b = 0, l;
			for (int dy = 0; dy < 2; dy++) {
				for (int dx = 0; dx < 2; dx++) {
					const uint8_t *c = p->rgb + 3 *
						((size_t)(2 * y + dy) * p->width +
						 2 * x + dx);
					r += c[0] / 4.0;
					g += c[1] / 4.0;
					b += c[2] / 4.0;
				}
			}
			l = kr * r + kg * g + kb * b;
			out->u[(size_t)y * cw + x] = (uint8_t)lround(128 +
				(b - l) / (2 * (1 - kb)) * 224 / 255);
			out->v[(size_t)y * cw + x] = (uint8_t)lround(128 +
				(r - l) / (2 * (1 - kr)) * 224 / 255);
		}
	}
}

static void yuv_free(struct yuv *y)
{
	free(y->y);
	free(y->u);
	free(y->v);
}

/* ---- decoding with avdec_h264 / avdec_h265 ---- */

#define MAX_FRAMES 64

struct decoded {
	int n;
	struct yuv frames[MAX_FRAMES];
};

static void decode(struct zs_access_unit **aus, int n, struct decoded *out)
{
	GstElement *pipeline, *src, *sink;
	GError *error = NULL;

	gst_init(NULL, NULL);
	pipeline = gst_parse_launch(n > 0 && aus[0]->codec == ZS_CODEC_H265 ?
		"appsrc name=src format=time "
		"caps=video/x-h265,stream-format=byte-stream,alignment=au ! "
		"h265parse ! avdec_h265 ! videoconvert ! "
		"video/x-raw,format=I420 ! appsink name=sink sync=false" :
		"appsrc name=src format=time "
		"caps=video/x-h264,stream-format=byte-stream,alignment=au ! "
		"h264parse ! avdec_h264 ! videoconvert ! "
		"video/x-raw,format=I420 ! appsink name=sink sync=false",
		&error);
	cr_assert(pipeline, "decoder pipeline: %s",
		error ? error->message : "?");
	src = gst_bin_get_by_name(GST_BIN(pipeline), "src");
	sink = gst_bin_get_by_name(GST_BIN(pipeline), "sink");
	g_object_set(sink, "max-buffers", (guint)0, NULL);
	gst_element_set_state(pipeline, GST_STATE_PLAYING);
	for (int i = 0; i < n; i++) {
		GstBuffer *b = gst_buffer_new_memdup(aus[i]->data, aus[i]->size);
		GST_BUFFER_PTS(b) = (GstClockTime)i * GST_SECOND / 30;
		cr_assert_eq(gst_app_src_push_buffer(GST_APP_SRC(src), b),
			GST_FLOW_OK);
	}
	gst_app_src_end_of_stream(GST_APP_SRC(src));
	out->n = 0;
	for (;;) {
		GstSample *s = gst_app_sink_try_pull_sample(GST_APP_SINK(sink),
			10 * GST_SECOND);
		GstVideoInfo info;
		GstVideoFrame vf;
		struct yuv *y;

		if (!s)
			break;
		cr_assert_lt(out->n, MAX_FRAMES);
		cr_assert(gst_video_info_from_caps(&info, gst_sample_get_caps(s)));
		cr_assert(gst_video_frame_map(&vf, &info, gst_sample_get_buffer(s),
			GST_MAP_READ));
		y = &out->frames[out->n++];
		y->width = (uint32_t)GST_VIDEO_INFO_WIDTH(&info);
		y->height = (uint32_t)GST_VIDEO_INFO_HEIGHT(&info);
		y->y = malloc((size_t)y->width * y->height);
		y->u = malloc((size_t)y->width * y->height / 4);
		y->v = malloc((size_t)y->width * y->height / 4);
		for (uint32_t r = 0; r < y->height; r++)
			memcpy(y->y + (size_t)r * y->width,
				(uint8_t *)GST_VIDEO_FRAME_PLANE_DATA(&vf, 0) +
				(size_t)r * GST_VIDEO_FRAME_PLANE_STRIDE(&vf, 0),
				y->width);
		for (uint32_t r = 0; r < y->height / 2; r++) {
			memcpy(y->u + (size_t)r * y->width / 2,
				(uint8_t *)GST_VIDEO_FRAME_PLANE_DATA(&vf, 1) +
				(size_t)r * GST_VIDEO_FRAME_PLANE_STRIDE(&vf, 1),
				y->width / 2);
			memcpy(y->v + (size_t)r * y->width / 2,
				(uint8_t *)GST_VIDEO_FRAME_PLANE_DATA(&vf, 2) +
				(size_t)r * GST_VIDEO_FRAME_PLANE_STRIDE(&vf, 2),
				y->width / 2);
		}
		gst_video_frame_unmap(&vf);
		gst_sample_unref(s);
	}
	gst_element_set_state(pipeline, GST_STATE_NULL);
	gst_object_unref(src);
	gst_object_unref(sink);
	gst_object_unref(pipeline);
}

static void decoded_free(struct decoded *d)
{
	for (int i = 0; i < d->n; i++)
		yuv_free(&d->frames[i]);
}

/* Largest |a - b| over a plane; where it is, in *at. */
static int max_diff(const uint8_t *a, const uint8_t *b, size_t n, size_t *at)
{
	int worst = 0;
	for (size_t i = 0; i < n; i++) {
		int d = abs((int)a[i] - (int)b[i]);
		if (d > worst) {
			worst = d;
			*at = i;
		}
	}
	return worst;
}

static double psnr(const uint8_t *a, const uint8_t *b, size_t n)
{
	double se = 0;
	for (size_t i = 0; i < n; i++)
		se += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
	return se == 0 ? 99 : 10 * log10(255.0 * 255.0 * n / se);
}

/* Decoded picture i against the reference of pic: within ±1 everywhere
 * (fake driver) or above a PSNR floor (hardware). */
static void expect_matches(const struct yuv *got, const struct picture *pic,
	const char *what)
{
	struct yuv ref;
	size_t at = 0, luma = (size_t)pic->width * pic->height;
	int dy, du, dv;

	reference(pic, &ref);
	cr_assert_eq(got->width, pic->width, "%s: decoded width %u", what,
		got->width);
	cr_assert_eq(got->height, pic->height, "%s: decoded height %u", what,
		got->height);
	if (fake_mode()) {
		dy = max_diff(got->y, ref.y, luma, &at);
		cr_expect_leq(dy, 1, "%s: luma off by %d at (%zu, %zu)", what, dy,
			at % pic->width, at / pic->width);
		du = max_diff(got->u, ref.u, luma / 4, &at);
		cr_expect_leq(du, 1, "%s: Cb off by %d at %zu", what, du, at);
		dv = max_diff(got->v, ref.v, luma / 4, &at);
		cr_expect_leq(dv, 1, "%s: Cr off by %d at %zu", what, dv, at);
	} else {
		double p = psnr(got->y, ref.y, luma);
		cr_expect_gt(p, 30.0, "%s: luma PSNR %.1f dB", what, p);
	}
	yuv_free(&ref);
}

/* ---- helpers ---- */

static struct zs_encoder *create_codec(enum zs_encoder_backend backend,
	enum zs_codec codec, uint32_t w, uint32_t h, uint32_t fourcc)
{
	struct zs_encoder_config cfg = { .codec = codec, .width = w,
		.height = h, .fourcc = fourcc, .fps = 30 };
	char err[256];
	struct zs_encoder *enc = zs_encoder_create(backend, &cfg, err,
		sizeof(err));

	cr_assert(enc, "zs_encoder_create: %s", err);
	return enc;
}

static struct zs_encoder *create(enum zs_encoder_backend backend, uint32_t w,
	uint32_t h, uint32_t fourcc)
{
	return create_codec(backend, ZS_CODEC_H264, w, h, fourcc);
}

static struct zs_access_unit *encode(struct zs_encoder *enc,
	struct picture *p, uint64_t id, bool key, bool y0_top)
{
	struct zs_frame f = frame_of(p, id, y0_top);
	struct zs_access_unit *au = NULL;
	int ret = zs_encoder_encode(enc, &f, key, &au);

	cr_assert_eq(ret, 0, "encode frame %lu: %d", (unsigned long)id, ret);
	cr_assert(au && au->size > 0);
	return au;
}

static bool starts_with_sps(const struct zs_access_unit *au)
{
	return au->size > 5 && memcmp(au->data, "\0\0\0\1", 4) == 0 &&
		(au->data[4] & 0x1f) == 7;
}

/* ---- tests ---- */

Test(vaapi, probe_sees_h264_through_libva_and_the_fake_driver)
{
	require_fake();
	cr_expect(zs_encoder_probe(ZS_ENCODER_VAAPI) & ZS_CODEC_BIT(ZS_CODEC_H264));
	cr_expect(zs_encoder_probe(ZS_ENCODER_AUTO) & ZS_CODEC_BIT(ZS_CODEC_H264));
	cr_expect_str_eq(zs_encoder_element_name(ZS_ENCODER_VAAPI,
		ZS_CODEC_H264), "vaapi-h264");
	cr_expect_null(zs_encoder_element_name(ZS_ENCODER_VAAPI, ZS_CODEC_VP8));
}

static void run_sequence(uint32_t w, uint32_t h, int n_frames, int n_buffers)
{
	struct picture pics[4];
	struct zs_access_unit *aus[MAX_FRAMES];
	struct zs_encoder *enc;
	struct decoded dec;
	int key_at = n_frames - 2;

	enc = create(ZS_ENCODER_VAAPI, w, h, DRM_FORMAT_XRGB8888);
	cr_log_info("%s", zs_encoder_describe(enc));
	for (int i = 0; i < n_buffers; i++)
		picture_init(&pics[i], w, h, DRM_FORMAT_XRGB8888,
			DRM_FORMAT_MOD_LINEAR, (uint32_t)i, false);
	for (int i = 0; i < n_frames; i++) {
		aus[i] = encode(enc, &pics[i % n_buffers], (uint64_t)i + 1,
			i == key_at, true);
		cr_expect_eq(zs_encoder_cpu_pixel_bytes(enc), 0,
			"frame %d: the CPU touched %lu pixel bytes", i,
			(unsigned long)zs_encoder_cpu_pixel_bytes(enc));
		cr_expect_eq(aus[i]->keyframe, i == 0 || i == key_at,
			"frame %d keyframe flag", i);
		cr_expect_eq(starts_with_sps(aus[i]), i == 0 || i == key_at,
			"frame %d: SPS exactly before keyframes", i);
		cr_expect_eq(aus[i]->frame_id, (uint64_t)i + 1);
	}
	decode(aus, n_frames, &dec);
	cr_assert_eq(dec.n, n_frames, "decoded %d of %d frames", dec.n,
		n_frames);
	for (int i = 0; i < n_frames; i++) {
		char what[32];
		snprintf(what, sizeof(what), "frame %d", i);
		expect_matches(&dec.frames[i], &pics[i % n_buffers], what);
	}
	if (fake_mode()) {
		struct zs_fake_va_stats *st = fake_stats();
		cr_expect_eq(st->check_failures, 0, "driver found parameter "
			"mismatches (see stderr)");
		cr_expect_eq(st->encoded_frames, (uint64_t)n_frames);
		cr_expect_eq(st->idr_frames, 2);
		cr_expect_eq(st->imports_prime2, (uint64_t)n_buffers,
			"one import per buffer, then the cache");
		cr_expect_eq(st->last_entrypoint, VAEntrypointEncSliceLP);
		cr_expect_eq(st->last_rc_mode, VA_RC_CBR);
	}
	decoded_free(&dec);
	for (int i = 0; i < n_frames; i++)
		zs_access_unit_free(aus[i]);
	zs_encoder_destroy(enc);
	if (fake_mode())
		cr_expect_eq(fake_stats()->imported_live, 0,
			"imports released with the encoder");
	for (int i = 0; i < n_buffers; i++)
		picture_finish(&pics[i]);
}

Test(vaapi, stream_decodes_to_the_reference_conversion_bit_exactly,
	.timeout = 60)
{
	require_fake();
	/* 200 rows: not whole macroblocks, so cropping is exercised */
	run_sequence(336, 200, 8, 3);
}

Test(vaapi, every_rgb_layout_converts)
{
	static const uint32_t fourccs[] = { DRM_FORMAT_XRGB8888,
		DRM_FORMAT_ARGB8888, DRM_FORMAT_XBGR8888, DRM_FORMAT_ABGR8888 };

	require_fake();
	for (size_t i = 0; i < sizeof(fourccs) / sizeof(fourccs[0]); i++) {
		struct picture p;
		struct zs_encoder *enc = create(ZS_ENCODER_VAAPI, 96, 64,
			fourccs[i]);
		struct zs_access_unit *au;
		struct decoded dec;
		char what[32];

		picture_init(&p, 96, 64, fourccs[i], DRM_FORMAT_MOD_LINEAR,
			(uint32_t)i, false);
		au = encode(enc, &p, 1, false, true);
		decode(&au, 1, &dec);
		cr_assert_eq(dec.n, 1);
		snprintf(what, sizeof(what), "fourcc %zu", i);
		expect_matches(&dec.frames[0], &p, what);
		decoded_free(&dec);
		zs_access_unit_free(au);
		zs_encoder_destroy(enc);
		picture_finish(&p);
	}
}

static void one_frame(uint64_t modifier, bool bottom_up)
{
	struct picture p;
	struct zs_encoder *enc = create(ZS_ENCODER_VAAPI, 640, 96,
		DRM_FORMAT_XRGB8888);
	struct zs_access_unit *au;
	struct decoded dec;

	picture_init(&p, 640, 96, DRM_FORMAT_XRGB8888, modifier, 7, bottom_up);
	au = encode(enc, &p, 1, false, !bottom_up);
	cr_expect_eq(zs_encoder_cpu_pixel_bytes(enc), 0);
	decode(&au, 1, &dec);
	cr_assert_eq(dec.n, 1);
	expect_matches(&dec.frames[0], &p, bottom_up ? "bottom-up" : "tiled");
	cr_expect_eq(fake_stats()->check_failures, 0);
	decoded_free(&dec);
	zs_access_unit_free(au);
	zs_encoder_destroy(enc);
	picture_finish(&p);
}

Test(vaapi, bottom_up_frames_are_mirrored_by_vpp)
{
	require_fake();
	one_frame(DRM_FORMAT_MOD_LINEAR, true);
}

Test(vaapi, x_tiled_frames_import_with_their_modifier)
{
	require_fake();
	one_frame(I915_FORMAT_MOD_X_TILED, false);
	cr_expect_eq(fake_stats()->imports_prime2, 1);
}

Test(vaapi, legacy_drm_prime_when_prime2_is_missing)
{
	require_fake();
	setenv("ZS_FAKE_VA_NO_PRIME2", "1", 1);
	one_frame(DRM_FORMAT_MOD_LINEAR, false);
	cr_expect_eq(fake_stats()->imports_prime2, 0);
	cr_expect_eq(fake_stats()->imports_prime, 1);
}

Test(vaapi, buffers_the_source_dropped_are_released)
{
	struct picture a, b;
	struct zs_encoder *enc;

	require_fake();
	enc = create(ZS_ENCODER_VAAPI, 64, 64, DRM_FORMAT_XRGB8888);
	picture_init(&a, 64, 64, DRM_FORMAT_XRGB8888, DRM_FORMAT_MOD_LINEAR, 1,
		false);
	picture_init(&b, 64, 64, DRM_FORMAT_XRGB8888, DRM_FORMAT_MOD_LINEAR, 2,
		false);
	zs_access_unit_free(encode(enc, &a, 1, false, true));
	for (int i = 0; i < ZS_VA_CACHE_MAX_AGE + 2; i++)
		zs_access_unit_free(encode(enc, &b, (uint64_t)i + 2, false, true));
	cr_expect_eq(fake_stats()->imports_prime2, 2);
	cr_expect_eq(fake_stats()->imported_live, 1,
		"the import of a buffer not seen for %d frames is released",
		ZS_VA_CACHE_MAX_AGE);
	zs_encoder_destroy(enc);
	picture_finish(&a);
	picture_finish(&b);
}

static void expect_fallback(const char *knob, const char *value,
	int va_frames)
{
	struct picture p;
	struct zs_encoder *enc;
	struct zs_access_unit *aus[6];
	struct decoded dec;

	require_fake();
	enc = create(ZS_ENCODER_VAAPI, 320, 240, DRM_FORMAT_XRGB8888);
	picture_init(&p, 320, 240, DRM_FORMAT_XRGB8888, DRM_FORMAT_MOD_LINEAR,
		3, false);
	for (int i = 0; i < 6; i++) {
		if (i == va_frames)
			setenv(knob, value, 1);
		aus[i] = encode(enc, &p, (uint64_t)i + 1, false, true);
		if (i < va_frames) {
			cr_expect(strncmp(zs_encoder_describe(enc), "vaapi", 5) == 0);
			cr_expect_eq(zs_encoder_cpu_pixel_bytes(enc), 0);
		} else {
			cr_expect(strstr(zs_encoder_describe(enc), "gst:"),
				"frame %d: '%s'", i, zs_encoder_describe(enc));
			cr_expect_gt(zs_encoder_cpu_pixel_bytes(enc), 0,
				"the software path counts its pixel bytes");
		}
		cr_expect_eq(aus[i]->keyframe, i == 0 || i == va_frames,
			"frame %d: keyframe %d", i, aus[i]->keyframe);
	}
	/* the session's stream stays decodable across the switch */
	decode(aus, 6, &dec);
	cr_expect_eq(dec.n, 6, "decoded %d of 6 frames", dec.n);
	decoded_free(&dec);
	for (int i = 0; i < 6; i++)
		zs_access_unit_free(aus[i]);
	zs_encoder_destroy(enc);
	picture_finish(&p);
}

Test(vaapi, device_lost_mid_stream_switches_to_software_at_a_keyframe,
	.timeout = 60)
{
	expect_fallback("ZS_FAKE_VA_FAIL_AFTER", "0", 3);
}

Test(vaapi, refused_import_switches_to_software_at_a_keyframe,
	.timeout = 60)
{
	/* a new buffer the driver will not import */
	struct picture q;
	struct zs_encoder *enc;
	struct zs_access_unit *au;

	require_fake();
	enc = create(ZS_ENCODER_VAAPI, 320, 240, DRM_FORMAT_XRGB8888);
	picture_init(&q, 320, 240, DRM_FORMAT_XRGB8888, DRM_FORMAT_MOD_LINEAR,
		4, false);
	setenv("ZS_FAKE_VA_REFUSE_IMPORT", "1", 1);
	au = encode(enc, &q, 1, false, true);
	cr_expect(au->keyframe);
	cr_expect(strstr(zs_encoder_describe(enc), "gst:"), "'%s'",
		zs_encoder_describe(enc));
	cr_expect_geq(fake_stats()->imports_refused, 1);
	zs_access_unit_free(au);
	zs_encoder_destroy(enc);
	picture_finish(&q);
}

Test(vaapi, auto_uses_vaapi_when_the_size_fits_else_software)
{
	struct zs_encoder *enc;

	require_fake();
	setenv("ZS_FAKE_VA_MAX_SIZE", "320x240", 1);
	enc = create(ZS_ENCODER_AUTO, 320, 240, DRM_FORMAT_XRGB8888);
	cr_expect(strncmp(zs_encoder_describe(enc), "vaapi", 5) == 0, "'%s'",
		zs_encoder_describe(enc));
	zs_encoder_destroy(enc);
	enc = create(ZS_ENCODER_AUTO, 640, 480, DRM_FORMAT_XRGB8888);
	cr_expect(strncmp(zs_encoder_describe(enc), "gst:", 4) == 0, "'%s'",
		zs_encoder_describe(enc));
	zs_encoder_destroy(enc);
}

Test(vaapi, explicit_vaapi_without_a_driver_fails_with_a_reason)
{
	struct zs_encoder_config cfg = { .codec = ZS_CODEC_H264, .width = 64,
		.height = 64, .fourcc = DRM_FORMAT_XRGB8888 };
	char err[256];

	require_fake();
	unsetenv("LIBVA_DRIVER_NAME");
	zs_encoder_set_va_device("/dev/null");
	cr_expect_null(zs_encoder_create(ZS_ENCODER_VAAPI, &cfg, err,
		sizeof(err)));
	cr_expect_eq(zs_encoder_probe(ZS_ENCODER_VAAPI), 0);
	/* auto still works, in software */
	struct zs_encoder *enc = zs_encoder_create(ZS_ENCODER_AUTO, &cfg, err,
		sizeof(err));
	cr_assert(enc, "%s", err);
	cr_expect(strncmp(zs_encoder_describe(enc), "gst:", 4) == 0);
	zs_encoder_destroy(enc);
}

Test(vaapi, cbr_vbr_and_cqp_streams_all_decode)
{
	static const char *const modes[] = { "vbr", "cqp" };

	require_fake();
	for (size_t i = 0; i < 2; i++) {
		struct picture p;
		struct zs_encoder *enc;
		struct zs_access_unit *aus[2];
		struct decoded dec;

		setenv("ZS_FAKE_VA_RC", modes[i], 1);
		enc = create(ZS_ENCODER_VAAPI, 64, 48, DRM_FORMAT_XRGB8888);
		cr_expect(strstr(zs_encoder_describe(enc), modes[i]), "'%s'",
			zs_encoder_describe(enc));
		picture_init(&p, 64, 48, DRM_FORMAT_XRGB8888,
			DRM_FORMAT_MOD_LINEAR, 5, false);
		aus[0] = encode(enc, &p, 1, false, true);
		aus[1] = encode(enc, &p, 2, false, true);
		decode(aus, 2, &dec);
		cr_expect_eq(dec.n, 2);
		if (dec.n == 2)
			expect_matches(&dec.frames[1], &p, modes[i]);
		decoded_free(&dec);
		zs_access_unit_free(aus[0]);
		zs_access_unit_free(aus[1]);
		zs_encoder_destroy(enc);
		picture_finish(&p);
	}
	cr_expect_eq(fake_stats()->check_failures, 0);
}

/* Refinement (zs_encoder_set_refine) in every rate-control mode: a
 * per-picture rate-control buffer with a QP ceiling (CBR, VBR) or a
 * slice_qp_delta (CQP) that our packed slice header carries too; the
 * stream still decodes and the driver sees nothing wrong. */
Test(vaapi, refined_pictures_decode_in_every_rate_control_mode)
{
	static const char *const modes[] = { NULL, "vbr", "cqp" };

	require_fake();
	for (size_t i = 0; i < 3; i++) {
		struct picture p;
		struct zs_encoder *enc;
		struct zs_access_unit *aus[4];
		struct decoded dec;

		if (modes[i])
			setenv("ZS_FAKE_VA_RC", modes[i], 1);
		else
			unsetenv("ZS_FAKE_VA_RC");
		enc = create(ZS_ENCODER_VAAPI, 64, 48, DRM_FORMAT_XRGB8888);
		picture_init(&p, 64, 48, DRM_FORMAT_XRGB8888,
			DRM_FORMAT_MOD_LINEAR, 5, false);
		aus[0] = encode(enc, &p, 1, false, true);
		cr_assert_eq(zs_encoder_set_refine(enc, 2), 0);
		aus[1] = encode(enc, &p, 2, false, true);
		cr_assert_eq(zs_encoder_set_refine(enc, ZS_ENCODER_REFINE_MAX), 0);
		aus[2] = encode(enc, &p, 3, false, true);
		cr_assert_eq(zs_encoder_set_refine(enc, 0), 0);
		aus[3] = encode(enc, &p, 4, false, true);
		decode(aus, 4, &dec);
		cr_expect_eq(dec.n, 4, "%s", zs_encoder_describe(enc));
		if (dec.n == 4)
			expect_matches(&dec.frames[3], &p, modes[i] ? modes[i] : "cbr");
		decoded_free(&dec);
		for (int k = 0; k < 4; k++)
			zs_access_unit_free(aus[k]);
		zs_encoder_destroy(enc);
		picture_finish(&p);
	}
	unsetenv("ZS_FAKE_VA_RC");
	cr_expect_eq(fake_stats()->check_failures, 0);
}

/* The driver side of import validation: libva hands our descriptors to the
 * driver, which must refuse bad ones without crashing. */
Test(vaapi, fake_driver_refuses_bad_descriptors)
{
	struct zs_va_device dev;
	struct picture p;
	char err[256];

	require_fake();
	cr_assert(zs_va_device_open(&dev, "/dev/null", err, sizeof(err)), "%s",
		err);
	picture_init(&p, 64, 64, DRM_FORMAT_XRGB8888, DRM_FORMAT_MOD_LINEAR, 1,
		false);
	for (int c = 0; c < 13; c++) {
		struct zs_frame f = frame_of(&p, 1, true);
		uint64_t sizes[ZS_FRAME_MAX_PLANES] = { p.buf.size };
		VADRMPRIMESurfaceDescriptor d;
		VASurfaceAttrib attrs[2] = {
			{ .type = VASurfaceAttribMemoryType,
			  .flags = VA_SURFACE_ATTRIB_SETTABLE,
			  .value.type = VAGenericValueTypeInteger,
			  .value.value.i = VA_SURFACE_ATTRIB_MEM_TYPE_DRM_PRIME_2 },
			{ .type = VASurfaceAttribExternalBufferDescriptor,
			  .flags = VA_SURFACE_ATTRIB_SETTABLE,
			  .value.type = VAGenericValueTypePointer,
			  .value.value.p = &d },
		};
		VASurfaceID s;
		VAStatus st;
		unsigned w = 64, h = 64;

		cr_assert_eq(zs_va_build_prime2(&f, sizes, &d), 0);
		switch (c) {
		case 0: break; /* the good one */
		case 1: d.num_objects = 0; break;
		case 2: d.num_objects = 5; break;
		case 3: d.objects[0].fd = -1; break;
		case 4: d.objects[0].fd = 9999; break;
		case 5: d.objects[0].size = (uint32_t)p.buf.size * 2; break;
		case 6: d.layers[0].offset[0] = 0xfffff000u; break;
		case 7: d.layers[0].pitch[0] = 4; break;
		case 8: d.layers[0].object_index[0] = 3; break;
		case 9: d.num_layers = 0; break;
		case 10: d.objects[0].drm_format_modifier = 0x0123456789abcdefull;
			break;
		case 11: d.layers[0].drm_format = DRM_FORMAT_NV12; break;
		case 12: attrs[1].value.value.p = NULL; break;
		}
		st = vaCreateSurfaces(dev.display, VA_RT_FORMAT_RGB32, w, h, &s, 1,
			attrs, 2);
		if (c == 0) {
			cr_expect_eq(st, VA_STATUS_SUCCESS, "good descriptor: %s",
				vaErrorStr(st));
			if (st == VA_STATUS_SUCCESS)
				vaDestroySurfaces(dev.display, &s, 1);
		} else {
			cr_expect_neq(st, VA_STATUS_SUCCESS, "bad descriptor %d "
				"accepted", c);
		}
	}
	cr_expect_eq(fake_stats()->imported_live, 0);
	zs_va_device_close(&dev);
	picture_finish(&p);
}

/* The driver's own checks: a stream that breaks the rules is refused
 * loudly, so the equality tests above cannot pass by accident. */
Test(vaapi, fake_driver_rejects_a_picture_before_any_sequence)
{
	struct zs_va_device dev;
	char err[256];
	VAConfigID cfg;
	VAContextID ctx;
	VASurfaceID surf[2];
	VABufferID pic_buf, coded;
	VAConfigAttrib attr = { .type = VAConfigAttribEncPackedHeaders,
		.value = VA_ENC_PACKED_HEADER_SEQUENCE |
			VA_ENC_PACKED_HEADER_PICTURE | VA_ENC_PACKED_HEADER_SLICE };
	VAEncPictureParameterBufferH264 pic = { 0 };

	require_fake();
	cr_assert(zs_va_device_open(&dev, "/dev/null", err, sizeof(err)), "%s",
		err);
	cr_assert_eq(vaCreateConfig(dev.display,
		VAProfileH264ConstrainedBaseline, VAEntrypointEncSlice, &attr, 1,
		&cfg), VA_STATUS_SUCCESS);
	cr_assert_eq(vaCreateSurfaces(dev.display, VA_RT_FORMAT_YUV420, 64, 64,
		surf, 2, NULL, 0), VA_STATUS_SUCCESS);
	cr_assert_eq(vaCreateContext(dev.display, cfg, 64, 64, VA_PROGRESSIVE,
		surf, 2, &ctx), VA_STATUS_SUCCESS);
	cr_assert_eq(vaCreateBuffer(dev.display, ctx, VAEncCodedBufferType,
		1 << 16, 1, NULL, &coded), VA_STATUS_SUCCESS);
	pic.CurrPic.picture_id = surf[1];
	pic.coded_buf = coded;
	pic.pic_fields.bits.idr_pic_flag = 1;
	cr_assert_eq(vaCreateBuffer(dev.display, ctx,
		VAEncPictureParameterBufferType, sizeof(pic), 1, &pic, &pic_buf),
		VA_STATUS_SUCCESS);
	cr_assert_eq(vaBeginPicture(dev.display, ctx, surf[0]),
		VA_STATUS_SUCCESS);
	cr_assert_eq(vaRenderPicture(dev.display, ctx, &pic_buf, 1),
		VA_STATUS_SUCCESS);
	cr_expect_neq(vaEndPicture(dev.display, ctx), VA_STATUS_SUCCESS);
	cr_expect_eq(fake_stats()->check_failures, 1);
	vaDestroyBuffer(dev.display, pic_buf);
	vaDestroyBuffer(dev.display, coded);
	vaDestroyContext(dev.display, ctx);
	vaDestroySurfaces(dev.display, surf, 2);
	vaDestroyConfig(dev.display, cfg);
	zs_va_device_close(&dev);
}

/* ---- HEVC ---- */

/* NAL unit types of an Annex-B access unit, in order. */
static int hevc_nal_types(const struct zs_access_unit *au, unsigned *types,
	int max)
{
	int n = 0;

	for (size_t i = 0; i + 4 < au->size && n < max; i++) {
		if (au->data[i] == 0 && au->data[i + 1] == 0 &&
		    au->data[i + 2] == 1) {
			types[n++] = (au->data[i + 3] >> 1) & 0x3f;
			i += 3;
		}
	}
	return n;
}

Test(vaapi, probe_sees_h265_only_when_the_driver_offers_hevc_main)
{
	require_fake();
	cr_expect_not(zs_encoder_probe(ZS_ENCODER_VAAPI) &
		ZS_CODEC_BIT(ZS_CODEC_H265), "the default fake driver is H.264 only");
	setenv("ZS_FAKE_VA_PROFILES", "cb,hevc", 1);
	zs_encoder_set_va_device("/dev/null"); /* probe again */
	cr_expect(zs_encoder_probe(ZS_ENCODER_VAAPI) & ZS_CODEC_BIT(ZS_CODEC_H265));
	cr_expect(zs_encoder_probe(ZS_ENCODER_VAAPI) & ZS_CODEC_BIT(ZS_CODEC_H264));
	cr_expect_str_eq(zs_encoder_element_name(ZS_ENCODER_VAAPI,
		ZS_CODEC_H265), "vaapi-h265");
	setenv("ZS_FAKE_VA_PROFILES", "hevc", 1);
	zs_encoder_set_va_device("/dev/null");
	cr_expect_eq(zs_encoder_probe(ZS_ENCODER_VAAPI),
		ZS_CODEC_BIT(ZS_CODEC_H265), "an HEVC-only driver is usable");
}

struct hevc_run {
	uint32_t width, height;
	const char *blocks;   /* ZS_FAKE_VA_HEVC_BLOCKS, NULL: default */
	bool low_delay_b;
	const char *rc;       /* ZS_FAKE_VA_RC, NULL: default */
};

/* Encodes frames from n_buffers pictures through the fake driver's PCM
 * HEVC, with a forced IDR two frames before the end, and requires every
 * decoded picture (avdec_h265) to be the reference conversion ±1. */
static void run_hevc(const struct hevc_run *r, int n_frames, int n_buffers)
{
	struct picture pics[4];
	struct zs_access_unit *aus[MAX_FRAMES];
	struct zs_encoder *enc;
	struct decoded dec;
	struct zs_fake_va_stats *st, before;
	int key_at = n_frames - 2;

	require_fake();
	setenv("ZS_FAKE_VA_PROFILES", "hevc", 1);
	if (r->blocks)
		setenv("ZS_FAKE_VA_HEVC_BLOCKS", r->blocks, 1);
	if (r->low_delay_b)
		setenv("ZS_FAKE_VA_HEVC_LOW_DELAY_B", "1", 1);
	if (r->rc)
		setenv("ZS_FAKE_VA_RC", r->rc, 1);
	enc = create_codec(ZS_ENCODER_VAAPI, ZS_CODEC_H265, r->width,
		r->height, DRM_FORMAT_XRGB8888);
	before = *fake_stats(); /* libva loaded the driver by now */
	cr_log_info("%s", zs_encoder_describe(enc));
	cr_expect(strstr(zs_encoder_describe(enc), " h265 hevc-main/lp "),
		"'%s'", zs_encoder_describe(enc));
	for (int i = 0; i < n_buffers; i++)
		picture_init(&pics[i], r->width, r->height, DRM_FORMAT_XRGB8888,
			DRM_FORMAT_MOD_LINEAR, (uint32_t)i, false);
	for (int i = 0; i < n_frames; i++) {
		unsigned types[8];
		int n_types;
		bool key = i == 0 || i == key_at;

		aus[i] = encode(enc, &pics[i % n_buffers], (uint64_t)i + 1,
			i == key_at, true);
		cr_expect_eq(zs_encoder_cpu_pixel_bytes(enc), 0);
		cr_expect_eq(aus[i]->keyframe, key, "frame %d keyframe flag", i);
		n_types = hevc_nal_types(aus[i], types, 8);
		/* every access unit ends with an AUD and the PPS again
		 * (encoder/au-end.c) */
		if (key) {
			cr_expect(n_types == 6 && types[0] == 32 && types[1] == 33 &&
				types[2] == 34 && types[3] == 19 && types[4] == 35 &&
				types[5] == 34,
				"frame %d: VPS, SPS, PPS, IDR_W_RADL, AUD, PPS (%d NAL "
				"units, first type %u)", i, n_types, types[0]);
		} else {
			cr_expect(n_types == 3 && types[0] == 1 && types[1] == 35 &&
				types[2] == 34,
				"frame %d: TRAIL_R, AUD, PPS (%d NAL units, type %u)", i,
				n_types, types[0]);
		}
	}
	st = fake_stats();
	cr_expect_eq(st->check_failures, before.check_failures, "driver found "
		"parameter mismatches (see stderr)");
	cr_expect_eq(st->encoded_frames - before.encoded_frames,
		(uint64_t)n_frames);
	cr_expect_eq(st->idr_frames - before.idr_frames, 2);
	cr_expect_eq(st->last_profile, VAProfileHEVCMain);
	cr_expect_eq(st->last_entrypoint, VAEntrypointEncSliceLP);
	cr_expect_eq(st->last_slice_type, r->low_delay_b ? 0u : 1u,
		"inter pictures are %s slices", r->low_delay_b ? "B" : "P");

	decode(aus, n_frames, &dec);
	cr_assert_eq(dec.n, n_frames, "decoded %d of %d frames", dec.n,
		n_frames);
	for (int i = 0; i < n_frames; i++) {
		char what[48];
		snprintf(what, sizeof(what), "%ux%u frame %d", r->width,
			r->height, i);
		expect_matches(&dec.frames[i], &pics[i % n_buffers], what);
	}
	decoded_free(&dec);
	for (int i = 0; i < n_frames; i++)
		zs_access_unit_free(aus[i]);
	zs_encoder_destroy(enc);
	cr_expect_eq(fake_stats()->imported_live, 0);
	for (int i = 0; i < n_buffers; i++)
		picture_finish(&pics[i]);
}

Test(vaapi, hevc_decodes_to_the_reference_conversion_bit_exactly,
	.timeout = 60)
{
	/* 330x198: not whole 8x8 coding blocks, cropped by the SPS;
	 * CTB 32 with CUs of 8 codes split flags at two depths */
	run_hevc(&(struct hevc_run){ 330, 198 }, 8, 3);
}

Test(vaapi, hevc_without_block_sizes_uses_ctb_32_and_cb_16, .timeout = 60)
{
	/* 200 rows: 13 CBs of 16, the last CTB row half outside */
	run_hevc(&(struct hevc_run){ 336, 200, .blocks = "none" }, 5, 2);
}

Test(vaapi, hevc_ctb_16_and_64, .timeout = 60)
{
	run_hevc(&(struct hevc_run){ 96, 64, .blocks = "16,16" }, 4, 2);
	run_hevc(&(struct hevc_run){ 200, 136, .blocks = "64,8",
		.rc = "cqp" }, 4, 2);
}

Test(vaapi, hevc_low_delay_b_when_the_driver_codes_no_p_slices,
	.timeout = 60)
{
	run_hevc(&(struct hevc_run){ 128, 96, .low_delay_b = true }, 5, 2);
}

/* The HEVC checks refuse what the equality tests could not see: P slices
 * sent to a driver that said B lists may not be empty (the knob changes
 * after the encoder chose P). The encoder then goes on in software. */
Test(vaapi, fake_driver_rejects_p_slices_when_it_said_low_delay_b,
	.timeout = 60)
{
	struct picture p;
	struct zs_encoder *enc;
	struct zs_frame f;
	struct zs_access_unit *au = NULL;

	require_fake();
	setenv("ZS_FAKE_VA_PROFILES", "hevc", 1);
	enc = create_codec(ZS_ENCODER_VAAPI, ZS_CODEC_H265, 64, 64,
		DRM_FORMAT_XRGB8888);
	picture_init(&p, 64, 64, DRM_FORMAT_XRGB8888, DRM_FORMAT_MOD_LINEAR, 1,
		false);
	zs_access_unit_free(encode(enc, &p, 1, false, true));
	cr_expect_eq(fake_stats()->check_failures, 0);
	setenv("ZS_FAKE_VA_HEVC_LOW_DELAY_B", "1", 1);
	f = frame_of(&p, 2, true);
	cr_expect_eq(zs_encoder_encode(enc, &f, false, &au), 0,
		"the software fallback takes the frame");
	cr_expect_eq(fake_stats()->check_failures, 1,
		"the P slice was refused");
	cr_expect(strstr(zs_encoder_describe(enc), "gst:"), "'%s'",
		zs_encoder_describe(enc));
	zs_access_unit_free(au);
	zs_encoder_destroy(enc);
	picture_finish(&p);
}

/* ---- on real hardware ---- */

Test(vaapi_hw, encodes_dma_bufs_on_the_gpu_with_no_cpu_pixel_bytes,
	.timeout = 120)
{
	require_hw();
	cr_assert(zs_encoder_probe(ZS_ENCODER_VAAPI) &
		ZS_CODEC_BIT(ZS_CODEC_H264), "%s cannot encode H.264", hw_device);
	run_sequence(1280, 720, 8, 3);
}
