/* Tests for zerospice-bench's stamp reader: it finds the stamps in a client
 * surface by looking near the last position, and elsewhere only when asked
 * for a full search. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "stamp-reader.h"

struct surface {
	uint8_t *px;
	uint32_t w, h, stride;
};

static struct surface surface_new(uint32_t w, uint32_t h)
{
	struct surface s = { calloc((size_t)w * h, 4), w, h, w * 4 };
	cr_assert_not_null(s.px);
	/* a desktop-ish background with grid lines */
	for (uint32_t y = 0; y < h; y++) {
		uint32_t *row = (uint32_t *)(s.px + (size_t)y * s.stride);
		for (uint32_t x = 0; x < w; x++)
			row[x] = (x % 64 == 0 || y % 64 == 0) ? 0x404040 :
				 (0x20 + x * 160 / w) << 16 | (0x20 + y * 160 / h) << 8 | 0x70;
	}
	return s;
}

static struct zs_image image_of(const struct surface *s)
{
	return (struct zs_image){ s->px, s->w, s->h, s->stride, 4 };
}

static void draw_frame(struct surface *s, int32_t x, int32_t y, uint32_t id,
	uint64_t us)
{
	uint8_t p[ZS_STAMP_PAYLOAD_BYTES];
	zs_stamp_pack_frame(p, id, us);
	zs_stamp_draw(s->px, s->stride, s->w, s->h, x, y, p);
}

static void draw_input(struct surface *s, int32_t x, int32_t y,
	uint16_t key_events, uint16_t button_events)
{
	uint8_t p[ZS_STAMP_PAYLOAD_BYTES];
	struct zs_stamp_input in = { .last_key = 0x2a, .key_events = key_events,
		.button_events = button_events, .pointer_x = 640, .pointer_y = 540 };
	zs_stamp_pack_input(p, &in);
	zs_stamp_draw(s->px, s->stride, s->w, s->h, x, y, p);
}

Test(bench_stamp_reader, reads_both_stamps_where_the_test_pattern_draws_them)
{
	struct surface s = surface_new(1280, 720);
	draw_frame(&s, ZB_FRAME_STAMP_X, ZB_FRAME_STAMP_Y, 4242, UINT64_C(123456789012));
	draw_input(&s, ZB_INPUT_STAMP_X, ZB_INPUT_STAMP_Y, 17, 3);
	struct zs_image img = image_of(&s);

	struct zb_stamp_reader fr, ir;
	zb_stamp_reader_init(&fr, ZS_STAMP_TYPE_FRAME);
	zb_stamp_reader_init(&ir, ZS_STAMP_TYPE_INPUT);
	uint32_t id = 0;
	uint64_t us = 0;
	cr_assert(zb_stamp_read_frame(&fr, &img, false, &id, &us));
	cr_assert_eq(id, 4242);
	cr_assert_eq(us, UINT64_C(123456789012));
	struct zs_stamp_input in;
	cr_assert(zb_stamp_read_input(&ir, &img, false, &in));
	cr_assert_eq(in.key_events, 17);
	cr_assert_eq(in.button_events, 3);
	cr_assert_eq(in.last_key, 0x2a);
	cr_assert_eq(fr.full_searches, 0);
	free(s.px);
}

Test(bench_stamp_reader, the_frame_reader_does_not_return_the_input_stamp)
{
	struct surface s = surface_new(640, 360);
	draw_input(&s, ZB_FRAME_STAMP_X, ZB_FRAME_STAMP_Y, 1, 1);
	struct zs_image img = image_of(&s);
	struct zb_stamp_reader fr;
	zb_stamp_reader_init(&fr, ZS_STAMP_TYPE_FRAME);
	uint32_t id;
	uint64_t us;
	cr_assert_not(zb_stamp_read_frame(&fr, &img, true, &id, &us));
	/* and a reader of one type refuses the other's helper */
	struct zs_stamp_input in;
	cr_assert_not(zb_stamp_read_input(&fr, &img, true, &in));
	free(s.px);
}

Test(bench_stamp_reader, a_few_pixels_off_is_still_found_in_the_window)
{
	struct surface s = surface_new(1280, 720);
	draw_frame(&s, ZB_FRAME_STAMP_X + 9, ZB_FRAME_STAMP_Y + 5, 7, 99);
	struct zs_image img = image_of(&s);
	struct zb_stamp_reader fr;
	zb_stamp_reader_init(&fr, ZS_STAMP_TYPE_FRAME);
	uint32_t id;
	uint64_t us;
	cr_assert(zb_stamp_read_frame(&fr, &img, false, &id, &us));
	cr_assert_eq(id, 7);
	cr_assert_eq(fr.x, ZB_FRAME_STAMP_X + 9);
	cr_assert_eq(fr.y, ZB_FRAME_STAMP_Y + 5);
	free(s.px);
}

Test(bench_stamp_reader, a_moved_stamp_needs_a_full_search_and_is_then_remembered)
{
	struct surface s = surface_new(1280, 720);
	draw_frame(&s, 700, 400, 11, 1000);
	struct zs_image img = image_of(&s);
	struct zb_stamp_reader fr;
	zb_stamp_reader_init(&fr, ZS_STAMP_TYPE_FRAME);
	uint32_t id;
	uint64_t us;
	cr_assert_not(zb_stamp_read_frame(&fr, &img, false, &id, &us));
	cr_assert_eq(fr.missed, 1);
	cr_assert(zb_stamp_read_frame(&fr, &img, true, &id, &us));
	cr_assert_eq(id, 11);
	cr_assert_eq(fr.x, 700);
	cr_assert_eq(fr.y, 400);
	cr_assert_eq(fr.full_searches, 1);

	/* the next frame is found in the window at the new place */
	draw_frame(&s, 700, 400, 12, 2000);
	cr_assert(zb_stamp_read_frame(&fr, &img, false, &id, &us));
	cr_assert_eq(id, 12);
	cr_assert_eq(us, 2000);
	cr_assert_eq(fr.full_searches, 1);
	free(s.px);
}

Test(bench_stamp_reader, window_is_clipped_to_small_surfaces)
{
	struct zb_stamp_reader r;
	zb_stamp_reader_init(&r, ZS_STAMP_TYPE_FRAME);
	int32_t x, y, w, h;
	zb_stamp_reader_window(&r, 1280, 720, &x, &y, &w, &h);
	cr_assert_eq(x, 0);
	cr_assert_eq(y, 0);
	cr_assert_geq(w, ZB_FRAME_STAMP_X + ZS_STAMP_WIDTH_PX + ZS_STAMP_CELL_PX);
	cr_assert_geq(h, ZB_FRAME_STAMP_Y + ZS_STAMP_HEIGHT_PX + ZS_STAMP_CELL_PX);
	cr_assert_lt(w, 1280);
	zb_stamp_reader_window(&r, 100, 50, &x, &y, &w, &h);
	cr_assert_eq(w, 100);
	cr_assert_eq(h, 50);

	/* a surface too small for a stamp reads nothing and does not crash */
	struct surface s = surface_new(100, 50);
	struct zs_image img = image_of(&s);
	uint32_t id;
	uint64_t us;
	cr_assert_not(zb_stamp_read_frame(&r, &img, true, &id, &us));
	free(s.px);
}

Test(bench_stamp_reader, reads_rgb_images_and_rejects_bad_ones)
{
	/* a 24-bit RGB copy of a BGRX surface */
	struct surface s = surface_new(640, 360);
	draw_frame(&s, 16, 16, 5, 55);
	uint8_t *rgb = malloc((size_t)640 * 360 * 3);
	for (size_t i = 0; i < (size_t)640 * 360; i++) {
		rgb[i * 3 + 0] = s.px[i * 4 + 2];
		rgb[i * 3 + 1] = s.px[i * 4 + 1];
		rgb[i * 3 + 2] = s.px[i * 4 + 0];
	}
	struct zs_image img = { rgb, 640, 360, 640 * 3, 3 };
	struct zb_stamp_reader fr;
	zb_stamp_reader_init(&fr, ZS_STAMP_TYPE_FRAME);
	uint32_t id;
	uint64_t us;
	cr_assert(zb_stamp_read_frame(&fr, &img, false, &id, &us));
	cr_assert_eq(id, 5);

	struct zs_image bad = img;
	bad.stride = 100; /* shorter than a row */
	cr_assert_not(zb_stamp_read_frame(&fr, &bad, true, &id, &us));
	bad = img;
	bad.bytes_per_pixel = 2;
	cr_assert_not(zb_stamp_read_frame(&fr, &bad, true, &id, &us));
	bad.pixels = NULL;
	cr_assert_not(zb_stamp_read_frame(&fr, &bad, true, &id, &us));
	free(rgb);
	free(s.px);
}
