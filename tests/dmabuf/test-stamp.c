/* Tests for the stamp barcode and the PPM reader. */
#include <criterion/criterion.h>
#include <errno.h>
#include <gst/app/gstappsink.h>
#include <gst/app/gstappsrc.h>
#include <gst/gst.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "zs-stamp.h"

struct canvas {
	uint8_t *px;
	uint32_t w, h, stride;
};

static struct canvas canvas_new(uint32_t w, uint32_t h, uint32_t seed)
{
	struct canvas c = { malloc((size_t)w * h * 4), w, h, w * 4 };
	cr_assert_not_null(c.px);
	/* busy background: stripes and noise, so the search has things to
	 * reject */
	for (uint32_t y = 0; y < h; y++) {
		uint32_t *row = (uint32_t *)(c.px + (size_t)y * c.stride);
		for (uint32_t x = 0; x < w; x++) {
			seed = seed * 1103515245u + 12345u;
			uint32_t v = ((x / 16 + y / 16) & 1) ? 0x00ffffff : 0;
			if ((seed >> 16) % 4 == 0)
				v = (seed >> 8) & 0xffffff;
			row[x] = v;
		}
	}
	return c;
}

static struct zs_image canvas_image(const struct canvas *c)
{
	return (struct zs_image){ c->px, c->w, c->h, c->stride, 4 };
}

Test(stamp, frame_payload_round_trips)
{
	uint8_t p[ZS_STAMP_PAYLOAD_BYTES];
	zs_stamp_pack_frame(p, 0xdeadbeef, UINT64_C(0x00abcdef01234567));
	cr_assert_eq(p[0], ZS_STAMP_TYPE_FRAME);
	uint32_t id;
	uint64_t us;
	zs_stamp_unpack_frame(p, &id, &us);
	cr_assert_eq(id, 0xdeadbeef);
	cr_assert_eq(us, UINT64_C(0x00abcdef01234567));
}

Test(stamp, found_at_odd_offsets_in_a_big_busy_image)
{
	static const int32_t pos[][2] = {
		{ 16, 16 }, { 17, 33 }, { 301, 555 }, { 1920 - 448 - 16, 1200 - 80 - 16 },
		{ 999, 3 }, { 0, 0 },
	};
	for (size_t i = 0; i < sizeof(pos) / sizeof(pos[0]); i++) {
		struct canvas c = canvas_new(1920, 1200, (uint32_t)i + 1);
		uint8_t p[ZS_STAMP_PAYLOAD_BYTES], out[ZS_STAMP_PAYLOAD_BYTES];
		zs_stamp_pack_frame(p, 1000 + (uint32_t)i, 123456789 + i);
		zs_stamp_draw(c.px, c.stride, c.w, c.h, pos[i][0], pos[i][1], p);
		struct zs_image img = canvas_image(&c);
		int32_t x = -1, y = -1;
		cr_assert(zs_stamp_find(&img, ZS_STAMP_TYPE_FRAME, out, &x, &y),
			"stamp at %d,%d not found", pos[i][0], pos[i][1]);
		cr_assert_arr_eq(out, p, sizeof(p));
		cr_assert_eq(x, pos[i][0]);
		cr_assert_eq(y, pos[i][1]);
		free(c.px);
	}
}

Test(stamp, found_in_rgb_image)
{
	struct canvas c = canvas_new(640, 400, 7);
	uint8_t p[ZS_STAMP_PAYLOAD_BYTES], out[ZS_STAMP_PAYLOAD_BYTES];
	zs_stamp_pack_frame(p, 42, 4242);
	zs_stamp_draw(c.px, c.stride, c.w, c.h, 101, 77, p);
	uint8_t *rgb = malloc((size_t)c.w * c.h * 3);
	for (size_t i = 0; i < (size_t)c.w * c.h; i++) {
		rgb[i * 3 + 0] = c.px[i * 4 + 2];
		rgb[i * 3 + 1] = c.px[i * 4 + 1];
		rgb[i * 3 + 2] = c.px[i * 4 + 0];
	}
	struct zs_image img = { rgb, c.w, c.h, c.w * 3, 3 };
	int32_t x, y;
	cr_assert(zs_stamp_find(&img, ZS_STAMP_TYPE_FRAME, out, &x, &y));
	cr_assert_arr_eq(out, p, sizeof(p));
	cr_assert_eq(x, 101);
	cr_assert_eq(y, 77, "x %d y %d", x, y);
	free(rgb);
	free(c.px);
}

Test(stamp, corrupted_cell_fails_crc_and_is_not_found)
{
	struct canvas c = canvas_new(800, 300, 3);
	uint8_t p[ZS_STAMP_PAYLOAD_BYTES], out[ZS_STAMP_PAYLOAD_BYTES];
	zs_stamp_pack_frame(p, 77, 88);
	zs_stamp_draw(c.px, c.stride, c.w, c.h, 40, 50, p);
	struct zs_image img = canvas_image(&c);
	cr_assert(zs_stamp_find(&img, ZS_STAMP_TYPE_FRAME, out, NULL, NULL));
	/* invert data cell (row 2, col 5) */
	for (uint32_t y = 50 + 2 * 16; y < 50 + 3 * 16; y++) {
		uint32_t *row = (uint32_t *)(c.px + (size_t)y * c.stride);
		for (uint32_t x = 40 + 5 * 16; x < 40 + 6 * 16; x++)
			row[x] ^= 0x00ffffff;
	}
	cr_assert_not(zs_stamp_find(&img, ZS_STAMP_TYPE_FRAME, out, NULL, NULL));
	free(c.px);
}

Test(stamp, search_filters_by_type)
{
	struct canvas c = canvas_new(640, 480, 9);
	uint8_t f[ZS_STAMP_PAYLOAD_BYTES], in[ZS_STAMP_PAYLOAD_BYTES];
	uint8_t out[ZS_STAMP_PAYLOAD_BYTES];
	struct zs_stamp_input si = { .last_key = 0xe048, .last_key_down = 1,
		.key_events = 513, .pointer_x = 1279, .pointer_y = 719,
		.buttons = 0x1f, .button_events = 65535 };
	zs_stamp_pack_frame(f, 5, 6);
	zs_stamp_pack_input(in, &si);
	zs_stamp_draw(c.px, c.stride, c.w, c.h, 16, 16, f);
	zs_stamp_draw(c.px, c.stride, c.w, c.h, 16, 16 + 80 + 32, in);
	struct zs_image img = canvas_image(&c);
	int32_t x, y;
	cr_assert(zs_stamp_find(&img, ZS_STAMP_TYPE_INPUT, out, &x, &y));
	cr_assert_eq(y, 128);
	struct zs_stamp_input got;
	zs_stamp_unpack_input(out, &got);
	cr_assert_eq(got.last_key, si.last_key);
	cr_assert_eq(got.last_key_down, 1);
	cr_assert_eq(got.key_events, si.key_events);
	cr_assert_eq(got.pointer_x, si.pointer_x);
	cr_assert_eq(got.pointer_y, si.pointer_y);
	cr_assert_eq(got.buttons, si.buttons);
	cr_assert_eq(got.button_events, si.button_events);
	cr_assert(zs_stamp_find(&img, ZS_STAMP_TYPE_FRAME, out, &x, &y));
	cr_assert_eq(y, 16);
	free(c.px);
}

Test(stamp, absent_from_plain_image)
{
	struct canvas c = canvas_new(1280, 720, 11);
	uint8_t out[ZS_STAMP_PAYLOAD_BYTES];
	struct zs_image img = canvas_image(&c);
	cr_assert_not(zs_stamp_find(&img, ZS_STAMP_TYPE_FRAME, out, NULL, NULL));
	free(c.px);
}

/* ---- lossy H.264 round trip ---- */

#define H264_W 640
#define H264_H 360
#define H264_FRAMES 10

static void draw_h264_frame(uint8_t *px, int n)
{
	/* a desktop-like picture: a static gradient with a moving box, so the
	 * stamp competes with other changes for the few bits per frame */
	for (uint32_t y = 0; y < H264_H; y++) {
		uint32_t *row = (uint32_t *)(px + (size_t)y * H264_W * 4);
		for (uint32_t x = 0; x < H264_W; x++) {
			uint32_t r = (x * 255 / H264_W) & 0xff;
			uint32_t g = (y * 255 / H264_H) & 0xff;
			uint32_t b = ((x ^ y) & 0x40) ? 0xc0 : 0x30;
			bool box = x >= 200u + (uint32_t)n * 12 &&
				   x < 296u + (uint32_t)n * 12 && y >= 200 && y < 296;
			row[x] = box ? 0x00ff00ff : (r << 16 | g << 8 | b);
		}
	}
	uint8_t p[ZS_STAMP_PAYLOAD_BYTES];
	zs_stamp_pack_frame(p, 100 + (uint32_t)n, 1000000 + (uint64_t)n * 16667);
	zs_stamp_draw(px, H264_W * 4, H264_W, H264_H, 16 + n, 40, p);
}

Test(stamp, survives_lossy_h264_at_300_kbps)
{
	gst_init(NULL, NULL);
	GError *error = NULL;
	GstElement *pipe = gst_parse_launch(
		"appsrc name=src format=time is-live=false "
		"caps=video/x-raw,format=BGRx,width=640,height=360,framerate=30/1 "
		"! videoconvert ! x264enc bitrate=300 speed-preset=ultrafast "
		"tune=zerolatency key-int-max=30 ! avdec_h264 ! videoconvert "
		"! video/x-raw,format=RGB ! appsink name=sink sync=false",
		&error);
	cr_assert_not_null(pipe, "pipeline: %s", error ? error->message : "?");
	GstElement *src = gst_bin_get_by_name(GST_BIN(pipe), "src");
	GstElement *sink = gst_bin_get_by_name(GST_BIN(pipe), "sink");
	cr_assert_eq(gst_element_set_state(pipe, GST_STATE_PLAYING),
		GST_STATE_CHANGE_ASYNC);

	for (int n = 0; n < H264_FRAMES; n++) {
		GstBuffer *buf = gst_buffer_new_allocate(NULL, H264_W * H264_H * 4, NULL);
		GstMapInfo mi;
		gst_buffer_map(buf, &mi, GST_MAP_WRITE);
		draw_h264_frame(mi.data, n);
		gst_buffer_unmap(buf, &mi);
		GST_BUFFER_PTS(buf) = gst_util_uint64_scale(n, GST_SECOND, 30);
		GST_BUFFER_DURATION(buf) = GST_SECOND / 30;
		cr_assert_eq(gst_app_src_push_buffer(GST_APP_SRC(src), buf), GST_FLOW_OK);
	}
	gst_app_src_end_of_stream(GST_APP_SRC(src));

	int decoded = 0;
	for (int n = 0; n < H264_FRAMES; n++) {
		GstSample *s = gst_app_sink_try_pull_sample(GST_APP_SINK(sink),
			10 * GST_SECOND);
		cr_assert_not_null(s, "decoded frame %d missing", n);
		GstMapInfo mi;
		GstBuffer *buf = gst_sample_get_buffer(s);
		gst_buffer_map(buf, &mi, GST_MAP_READ);
		struct zs_image img = { mi.data, H264_W, H264_H, H264_W * 3, 3 };
		uint8_t out[ZS_STAMP_PAYLOAD_BYTES];
		int32_t x, y;
		cr_assert(zs_stamp_find(&img, ZS_STAMP_TYPE_FRAME, out, &x, &y),
			"no stamp in decoded frame %d", n);
		uint32_t id;
		uint64_t us;
		zs_stamp_unpack_frame(out, &id, &us);
		cr_assert_eq(id, 100u + (uint32_t)n, "frame %d: id %u at %d,%d", n, id, x, y);
		cr_assert_eq(us, 1000000 + (uint64_t)n * 16667);
		/* edges blur: the position may be a pixel or two off */
		cr_assert_leq(abs(x - (16 + n)), 2, "frame %d at x %d", n, x);
		cr_assert_leq(abs(y - 40), 2, "frame %d at y %d", n, y);
		decoded++;
		gst_buffer_unmap(buf, &mi);
		gst_sample_unref(s);
	}
	cr_assert_eq(decoded, H264_FRAMES);
	gst_element_set_state(pipe, GST_STATE_NULL);
	gst_object_unref(src);
	gst_object_unref(sink);
	gst_object_unref(pipe);
	gst_deinit();
}

/* ---- PPM ---- */

static char *write_tmp(const void *data, size_t len)
{
	char *path = strdup("/tmp/zs-ppm-XXXXXX");
	int fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, data, len), (ssize_t)len);
	close(fd);
	return path;
}

Test(ppm, loads_good_file_with_comments)
{
	const char hdr[] = "P6\n# made by a test\n 3  # width\n2\n255\n";
	uint8_t file[sizeof(hdr) - 1 + 18];
	memcpy(file, hdr, sizeof(hdr) - 1);
	for (int i = 0; i < 18; i++)
		file[sizeof(hdr) - 1 + i] = (uint8_t)(i * 10);
	char *path = write_tmp(file, sizeof(file));
	struct zs_image img;
	char err[256] = "";
	cr_assert_eq(zs_image_load_ppm(path, &img, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(img.width, 3);
	cr_assert_eq(img.height, 2);
	cr_assert_eq(img.bytes_per_pixel, 3);
	cr_assert_eq(img.stride, 9);
	cr_assert_eq(img.pixels[17], 170);
	zs_image_free(&img);
	unlink(path);
	free(path);
}

Test(ppm, scales_16_bit_samples_to_8_bits)
{
	const char hdr[] = "P6 1 1 65535\n";
	uint8_t file[sizeof(hdr) - 1 + 6];
	memcpy(file, hdr, sizeof(hdr) - 1);
	memcpy(file + sizeof(hdr) - 1, "\xff\xff\x80\x00\x00\x00", 6);
	char *path = write_tmp(file, sizeof(file));
	struct zs_image img;
	char err[256] = "";
	cr_assert_eq(zs_image_load_ppm(path, &img, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(img.pixels[0], 255);
	cr_assert_eq(img.pixels[1], 128);
	cr_assert_eq(img.pixels[2], 0);
	zs_image_free(&img);
	unlink(path);
	free(path);
}

Test(ppm, rejects_truncated_pixels)
{
	const char file[] = "P6 4 4 255\nabcdef";
	char *path = write_tmp(file, sizeof(file) - 1);
	struct zs_image img;
	char err[256] = "";
	cr_assert_lt(zs_image_load_ppm(path, &img, err, sizeof(err)), 0);
	cr_assert_not_null(strstr(err, "truncated"), "%s", err);
	cr_assert_null(img.pixels);
	unlink(path);
	free(path);
}

Test(ppm, rejects_bad_headers)
{
	static const char *const bad[] = {
		"P3 1 1 255\n\0\0\0", "P6 x 1 255\n\0\0\0", "P6 1 1 65536\n\0\0\0",
		"P6 0 1 255\n", "P6 1", "", "P6 99999999999 1 255\n",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char *path = write_tmp(bad[i], strlen(bad[i]) + (i < 3 ? 3 : 0));
		struct zs_image img;
		char err[256] = "";
		cr_assert_lt(zs_image_load_ppm(path, &img, err, sizeof(err)), 0,
			"case %zu accepted", i);
		cr_assert_neq(err[0], '\0');
		unlink(path);
		free(path);
	}
}

Test(ppm, refuses_huge_dimensions)
{
	const char file[] = "P6 16385 16 255\n";
	char *path = write_tmp(file, sizeof(file) - 1);
	struct zs_image img;
	char err[256] = "";
	cr_assert_eq(zs_image_load_ppm(path, &img, err, sizeof(err)), -EFBIG);
	unlink(path);
	free(path);
}

Test(ppm, reports_missing_file)
{
	struct zs_image img;
	char err[256] = "";
	cr_assert_eq(zs_image_load_ppm("/nonexistent/x.ppm", &img, err, sizeof(err)),
		-ENOENT);
	cr_assert_not_null(strstr(err, "/nonexistent/x.ppm"));
}
