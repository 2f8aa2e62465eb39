/* Tests for frames, memfd buffers, the test pattern and its source. */
#include <criterion/criterion.h>
#include <drm_fourcc.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "zs-dmabuf.h"

Test(memfd, buffer_has_size_seals_and_cloexec)
{
	struct zs_memfd_buffer buf;
	cr_assert_eq(zs_memfd_buffer_init(&buf, "t", 33, 17, DRM_FORMAT_XRGB8888), 0);
	cr_assert_eq(buf.stride, 33 * 4);
	cr_assert_eq(buf.size, 33 * 4 * 17);
	struct stat st;
	cr_assert_eq(fstat(buf.fd, &st), 0);
	cr_assert_eq((size_t)st.st_size, buf.size);
	int seals = fcntl(buf.fd, F_GET_SEALS);
	cr_assert(seals & F_SEAL_SHRINK);
	cr_assert(seals & F_SEAL_GROW);
	cr_assert(fcntl(buf.fd, F_GETFD) & FD_CLOEXEC);
	cr_assert_lt(ftruncate(buf.fd, 10), 0);
	cr_assert_lt(ftruncate(buf.fd, (off_t)buf.size * 2), 0);
	buf.pixels[buf.size - 1] = 0x5a;
	zs_memfd_buffer_finish(&buf);
	cr_assert_eq(buf.fd, -1);
	cr_assert_null(buf.pixels);
	zs_memfd_buffer_finish(&buf);
}

Test(memfd, finish_is_safe_on_zeroed_buffer)
{
	struct zs_memfd_buffer buf;
	memset(&buf, 0, sizeof(buf));
	zs_memfd_buffer_finish(&buf);
	cr_assert_eq(buf.fd, -1);
	/* fd 0 was not closed by mistake */
	cr_assert_neq(fcntl(0, F_GETFD), -1);
}

Test(memfd, rejects_unknown_format_and_zero_size)
{
	struct zs_memfd_buffer buf;
	cr_assert_eq(zs_memfd_buffer_init(&buf, "t", 0, 10, DRM_FORMAT_XRGB8888), -EINVAL);
	cr_assert_eq(zs_memfd_buffer_init(&buf, "t", 10, 10, DRM_FORMAT_NV12), -EINVAL);
	cr_assert_eq(buf.fd, -1);
}

static struct zs_frame frame_for(const struct zs_memfd_buffer *buf)
{
	struct zs_frame f = {
		.width = buf->width, .height = buf->height,
		.fourcc = buf->fourcc, .modifier = DRM_FORMAT_MOD_LINEAR,
		.y0_top = true, .n_planes = 1,
		.planes = { { .fd = buf->fd, .offset = 0, .stride = buf->stride } },
	};
	return f;
}

Test(frame, map_reads_the_pixels)
{
	struct zs_memfd_buffer buf;
	cr_assert_eq(zs_memfd_buffer_init(&buf, "t", 64, 32, DRM_FORMAT_XRGB8888), 0);
	buf.pixels[5 * buf.stride + 7] = 0xab;
	struct zs_frame f = frame_for(&buf);
	struct zs_frame_map map;
	cr_assert_eq(zs_frame_map(&f, &map), 0);
	cr_assert_eq(map.pixels[5 * map.stride + 7], 0xab);
	cr_assert_eq(map.sync_fd, -1);
	zs_frame_unmap(&map);
	cr_assert_null(map.base);
	zs_frame_unmap(&map);
	zs_memfd_buffer_finish(&buf);
}

Test(frame, map_rejects_planes_past_the_end)
{
	struct zs_memfd_buffer buf;
	cr_assert_eq(zs_memfd_buffer_init(&buf, "t", 64, 32, DRM_FORMAT_XRGB8888), 0);
	struct zs_frame_map map;
	struct zs_frame f = frame_for(&buf);
	f.planes[0].offset = 4;
	cr_assert_eq(zs_frame_map(&f, &map), -ERANGE);
	f = frame_for(&buf);
	f.planes[0].stride += 4;
	cr_assert_eq(zs_frame_map(&f, &map), -ERANGE);
	f = frame_for(&buf);
	f.planes[0].stride = UINT32_MAX;
	f.planes[0].offset = UINT32_MAX;
	cr_assert_eq(zs_frame_map(&f, &map), -ERANGE);
	f = frame_for(&buf);
	f.planes[0].stride = 64 * 4 - 4; /* narrower than a row */
	cr_assert_eq(zs_frame_map(&f, &map), -EINVAL);
	f = frame_for(&buf);
	f.n_planes = 0;
	cr_assert_eq(zs_frame_map(&f, &map), -EINVAL);
	f = frame_for(&buf);
	f.height = 31;
	f.planes[0].offset = buf.stride; /* exactly fits */
	cr_assert_eq(zs_frame_map(&f, &map), 0);
	zs_frame_unmap(&map);
	zs_memfd_buffer_finish(&buf);
}

Test(frame, map_uses_the_producers_mapping)
{
	struct zs_memfd_buffer buf;
	cr_assert_eq(zs_memfd_buffer_init(&buf, "t", 64, 32, DRM_FORMAT_XRGB8888), 0);
	buf.pixels[buf.stride + 3] = 0x5a;
	struct zs_frame f = frame_for(&buf);
	f.cpu_pixels = buf.pixels;
	f.cpu_size = buf.size;
	f.height = 31;
	f.planes[0].offset = buf.stride;
	struct zs_frame_map map;
	cr_assert_eq(zs_frame_map(&f, &map), 0);
	/* no second mapping: the producer's pointer, offset applied */
	cr_assert_null(map.base);
	cr_assert_eq(map.pixels, buf.pixels + buf.stride);
	cr_assert_eq(map.pixels[3], 0x5a);
	zs_frame_unmap(&map);
	/* the producer's size bounds the plane as the file's does */
	f.cpu_size = buf.size - 1;
	cr_assert_eq(zs_frame_map(&f, &map), -ERANGE);
	f.planes[0].stride = 64 * 4 - 4;
	cr_assert_eq(zs_frame_map(&f, &map), -EINVAL);
	zs_memfd_buffer_finish(&buf);
}

Test(frame, damage_is_clipped_and_collapses_when_full)
{
	struct zs_frame f = { .width = 100, .height = 50 };
	zs_frame_add_damage(&f, (struct zs_rect){ -10, -10, 20, 20 });
	cr_assert_eq(f.n_damage, 1);
	cr_assert_eq(f.damage[0].x, 0);
	cr_assert_eq(f.damage[0].width, 10);
	cr_assert_eq(f.damage[0].height, 10);
	zs_frame_add_damage(&f, (struct zs_rect){ 200, 0, 5, 5 });
	cr_assert_eq(f.n_damage, 1);
	for (int i = 0; i < ZS_FRAME_MAX_DAMAGE + 3; i++)
		zs_frame_add_damage(&f, (struct zs_rect){ i * 4, 40, 2, 2 });
	cr_assert_leq(f.n_damage, ZS_FRAME_MAX_DAMAGE);
	/* every added rect is still covered */
	for (int i = 0; i < ZS_FRAME_MAX_DAMAGE + 3; i++) {
		int32_t x = i * 4, y = 40;
		bool covered = false;
		for (int d = 0; d < f.n_damage; d++) {
			const struct zs_rect *r = &f.damage[d];
			covered |= x >= r->x && x + 2 <= r->x + r->width &&
				   y >= r->y && y + 2 <= r->y + r->height;
		}
		cr_assert(covered, "rect %d lost", i);
	}
}

static int released;
static void count_release(struct zs_frame *frame, void *data)
{
	released += *(int *)data;
}

Test(frame, release_calls_the_producer_once)
{
	int one = 1;
	struct zs_frame f = { .release = count_release, .release_data = &one };
	released = 0;
	zs_frame_release(&f);
	zs_frame_release(&f);
	zs_frame_release(NULL);
	cr_assert_eq(released, 1);
}

Test(frame, fourcc_helpers)
{
	char buf[5];
	cr_assert_str_eq(zs_fourcc_str(DRM_FORMAT_XRGB8888, buf), "XR24");
	cr_assert_eq(zs_fourcc_bpp(DRM_FORMAT_XRGB8888), 4);
	cr_assert_eq(zs_fourcc_bpp(DRM_FORMAT_BGR888), 3);
	cr_assert_eq(zs_fourcc_bpp(DRM_FORMAT_NV12), 0);
}

/* ---- test pattern ---- */

#include <glib.h>
#include <inttypes.h>
#include <sys/mman.h>

struct mapped {
	struct zs_frame_map map;
	struct zs_image img;
};

static void map_frame(const struct zs_frame *f, struct mapped *m)
{
	cr_assert_eq(zs_frame_map(f, &m->map), 0);
	m->img = (struct zs_image){ m->map.pixels, f->width, f->height,
		m->map.stride, 4 };
}

static void assert_frame_stamp(const struct zs_frame *f, uint32_t id,
	uint64_t capture_us)
{
	struct mapped m;
	map_frame(f, &m);
	uint8_t p[ZS_STAMP_PAYLOAD_BYTES];
	int32_t x, y;
	cr_assert(zs_stamp_find(&m.img, ZS_STAMP_TYPE_FRAME, p, &x, &y),
		"no frame stamp in frame %u", id);
	uint32_t got_id;
	uint64_t got_us;
	zs_stamp_unpack_frame(p, &got_id, &got_us);
	cr_assert_eq(got_id, id);
	cr_assert_eq(got_us, capture_us);
	cr_assert_eq(x, 16);
	cr_assert_eq(y, 16);
	zs_frame_unmap(&m.map);
}

Test(testpattern, rejects_sizes_out_of_range)
{
	cr_assert_null(zs_testpattern_create(ZS_TESTPATTERN_MIN_WIDTH - 1, 480, 2));
	cr_assert_null(zs_testpattern_create(640, ZS_TESTPATTERN_MIN_HEIGHT - 1, 2));
	cr_assert_null(zs_testpattern_create(ZS_TESTPATTERN_MAX_DIM + 1, 480, 2));
	cr_assert_null(zs_testpattern_create(640, 480, 0));
}

Test(testpattern, frames_have_size_format_and_decodable_stamp)
{
	static const uint32_t sizes[][2] = {
		{ 1280, 720 }, { ZS_TESTPATTERN_MIN_WIDTH, ZS_TESTPATTERN_MIN_HEIGHT },
		{ 641, 363 }, { 1920, 1080 },
	};
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		struct zs_testpattern *tp =
			zs_testpattern_create(sizes[i][0], sizes[i][1], 2);
		cr_assert_not_null(tp, "%ux%u", sizes[i][0], sizes[i][1]);
		for (uint32_t id = 1; id <= 3; id++) {
			struct zs_frame *f = zs_testpattern_render(tp, id, 1000 * id + 7);
			cr_assert_not_null(f);
			cr_assert_eq(f->width, sizes[i][0]);
			cr_assert_eq(f->height, sizes[i][1]);
			cr_assert_eq(f->fourcc, DRM_FORMAT_XRGB8888);
			cr_assert_eq(f->n_planes, 1);
			cr_assert_geq(f->planes[0].stride, f->width * 4);
			cr_assert_eq(f->id, id);
			cr_assert_eq(f->capture_us, 1000 * id + 7);
			assert_frame_stamp(f, id, 1000 * id + 7);
			zs_frame_release(f);
		}
		zs_testpattern_destroy(tp);
	}
}

static bool rows_equal(const struct zs_image *a, const struct zs_image *b,
	uint32_t y0, uint32_t y1)
{
	for (uint32_t y = y0; y < y1; y++) {
		if (memcmp(a->pixels + (size_t)y * a->stride,
			    b->pixels + (size_t)y * b->stride, (size_t)a->width * 4))
			return false;
	}
	return true;
}

Test(testpattern, static_area_stays_and_moving_area_changes)
{
	struct zs_testpattern *tp = zs_testpattern_create(1280, 720, 3);
	cr_assert_not_null(tp);
	struct zs_frame *f[6];
	struct mapped m[6];
	for (int i = 0; i < 6; i++) {
		f[i] = zs_testpattern_render(tp, (uint64_t)i + 1, 0);
		cr_assert_not_null(f[i]);
		map_frame(f[i], &m[i]);
		/* a copy, since the buffer is reused after release */
		size_t size = (size_t)m[i].img.stride * 720;
		uint8_t *copy = malloc(size);
		memcpy(copy, m[i].img.pixels, size);
		zs_frame_unmap(&m[i].map);
		m[i].img.pixels = copy;
		zs_frame_release(f[i]);
	}
	/* the colour bars at the bottom sixth are static */
	for (int i = 1; i < 6; i++) {
		cr_assert(rows_equal(&m[0].img, &m[i].img, 720 - 720 / 6, 720),
			"static bars differ in frame %d", i + 1);
		/* the scrolling band just above them moves */
		cr_assert_not(rows_equal(&m[i - 1].img, &m[i].img,
			720 - 720 / 6 - 8 - 48, 720 - 720 / 6 - 8),
			"band did not move in frame %d", i + 1);
	}
	/* reused buffers (frame 4 in frame 1's buffer) restore the background:
	 * the whole picture matches a fresh pool's frame 4 */
	struct zs_testpattern *fresh = zs_testpattern_create(1280, 720, 1);
	struct zs_frame *ff = zs_testpattern_render(fresh, 4, 0);
	struct mapped fm;
	map_frame(ff, &fm);
	cr_assert(rows_equal(&fm.img, &m[3].img, 0, 720),
		"reused buffer differs from a fresh render");
	zs_frame_unmap(&fm.map);
	zs_frame_release(ff);
	zs_testpattern_destroy(fresh);
	for (int i = 0; i < 6; i++)
		free((void *)m[i].img.pixels);
	zs_testpattern_destroy(tp);
}

Test(testpattern, damage_covers_every_changed_pixel)
{
	struct zs_testpattern *tp = zs_testpattern_create(800, 600, 2);
	struct zs_input_state in = { .pointer_x = 100, .pointer_y = 500 };
	uint8_t *prev = NULL;
	for (uint64_t id = 1; id <= 8; id++) {
		in.pointer_x += 37; /* the crosshair moves too */
		in.buttons = id & 1;
		zs_testpattern_set_input(tp, &in);
		struct zs_frame *f = zs_testpattern_render(tp, id, 0);
		struct mapped m;
		map_frame(f, &m);
		if (id == 1)
			cr_assert_eq(f->n_damage, 0);
		if (prev && f->n_damage > 0) {
			for (uint32_t y = 0; y < 600; y++) {
				const uint32_t *a = (const uint32_t *)(prev + (size_t)y * 3200);
				const uint32_t *b = (const uint32_t *)(m.img.pixels +
					(size_t)y * m.img.stride);
				for (uint32_t x = 0; x < 800; x++) {
					if (a[x] == b[x])
						continue;
					bool covered = false;
					for (int d = 0; d < f->n_damage && !covered; d++) {
						const struct zs_rect *r = &f->damage[d];
						covered = (int32_t)x >= r->x &&
							  (int32_t)x < r->x + r->width &&
							  (int32_t)y >= r->y &&
							  (int32_t)y < r->y + r->height;
					}
					cr_assert(covered, "frame %lu: %u,%u changed outside damage",
						(unsigned long)id, x, y);
				}
			}
		}
		free(prev);
		prev = malloc(3200 * 600);
		for (uint32_t y = 0; y < 600; y++)
			memcpy(prev + (size_t)y * 3200,
				m.img.pixels + (size_t)y * m.img.stride, 3200);
		zs_frame_unmap(&m.map);
		zs_frame_release(f);
	}
	free(prev);
	zs_testpattern_destroy(tp);
}

Test(testpattern, input_state_shows_in_the_input_stamp)
{
	struct zs_testpattern *tp = zs_testpattern_create(1280, 720, 2);
	struct zs_input_state in = {
		.last_key = 0xe04d, .last_key_down = true, .key_events = 9,
		.pointer_x = 640, .pointer_y = 100,
		.buttons = ZS_BUTTON_LEFT | ZS_BUTTON_RIGHT, .button_events = 3,
	};
	zs_testpattern_set_input(tp, &in);
	struct zs_frame *f = zs_testpattern_render(tp, 5, 6);
	struct mapped m;
	map_frame(f, &m);
	uint8_t p[ZS_STAMP_PAYLOAD_BYTES];
	int32_t x, y;
	cr_assert(zs_stamp_find(&m.img, ZS_STAMP_TYPE_INPUT, p, &x, &y));
	cr_assert_eq(x, 16);
	cr_assert_eq(y, 16 + 80 + 32);
	struct zs_stamp_input got;
	zs_stamp_unpack_input(p, &got);
	cr_assert_eq(got.last_key, 0xe04d);
	cr_assert_eq(got.last_key_down, 1);
	cr_assert_eq(got.key_events, 9);
	cr_assert_eq(got.pointer_x, 640);
	cr_assert_eq(got.pointer_y, 100);
	cr_assert_eq(got.buttons, ZS_BUTTON_LEFT | ZS_BUTTON_RIGHT);
	cr_assert_eq(got.button_events, 3);
	zs_frame_unmap(&m.map);
	zs_frame_release(f);
	zs_testpattern_destroy(tp);
}

Test(testpattern, held_buffers_block_render_until_released)
{
	struct zs_testpattern *tp = zs_testpattern_create(640, 480, 2);
	struct zs_frame *a = zs_testpattern_render(tp, 1, 0);
	/* a buffer never drawn is put off once while another frame waits */
	cr_assert_null(zs_testpattern_render(tp, 2, 0));
	struct zs_frame *b = zs_testpattern_render(tp, 2, 0);
	cr_assert_not_null(a);
	cr_assert_not_null(b);
	cr_assert_neq(a->planes[0].fd, b->planes[0].fd);
	cr_assert_null(zs_testpattern_render(tp, 3, 0));
	int fd_a = a->planes[0].fd;
	zs_frame_release(a);
	struct zs_frame *c = zs_testpattern_render(tp, 3, 0);
	cr_assert_not_null(c);
	cr_assert_eq(c->planes[0].fd, fd_a);
	assert_frame_stamp(c, 3, 0);
	/* destroying the pool with frames out keeps them valid */
	zs_testpattern_destroy(tp);
	assert_frame_stamp(b, 2, 0);
	zs_frame_release(b);
	zs_frame_release(c);
}

/* A consumer that keeps up gets the first buffer every time, so the
 * others never become resident. */
Test(testpattern, a_consumer_that_keeps_up_uses_one_buffer)
{
	struct zs_testpattern *tp = zs_testpattern_create(640, 480, 3);
	struct zs_frame *f = zs_testpattern_render(tp, 1, 0);
	cr_assert_not_null(f);
	int fd0 = f->planes[0].fd;
	zs_frame_release(f);
	for (uint64_t id = 2; id < 6; id++) {
		f = zs_testpattern_render(tp, id, 0);
		cr_assert_not_null(f);
		cr_assert_eq(f->planes[0].fd, fd0, "frame %" PRIu64, id);
		assert_frame_stamp(f, (uint32_t)id, 0);
		zs_frame_release(f);
	}
	/* one held: the next buffer, then the first again once released */
	struct zs_frame *a = zs_testpattern_render(tp, 6, 0);
	cr_assert_null(zs_testpattern_render(tp, 7, 0)); /* put off once */
	struct zs_frame *b = zs_testpattern_render(tp, 7, 0);
	cr_assert_eq(a->planes[0].fd, fd0);
	cr_assert_neq(b->planes[0].fd, fd0);
	zs_frame_release(a);
	struct zs_frame *c = zs_testpattern_render(tp, 8, 0);
	cr_assert_eq(c->planes[0].fd, fd0);
	assert_frame_stamp(c, 8, 0);
	zs_frame_release(b);
	zs_frame_release(c);
	zs_testpattern_destroy(tp);
}

static gpointer release_later(gpointer data)
{
	g_usleep(20000);
	zs_frame_release(data);
	return NULL;
}

Test(testpattern, release_from_another_thread_frees_the_buffer)
{
	struct zs_testpattern *tp = zs_testpattern_create(640, 480, 1);
	struct zs_frame *a = zs_testpattern_render(tp, 1, 0);
	GThread *t = g_thread_new("release", release_later, a);
	g_thread_join(t);
	struct zs_frame *b = zs_testpattern_render(tp, 2, 0);
	cr_assert_not_null(b);
	zs_frame_release(b);
	zs_testpattern_destroy(tp);
}

/* ---- test-pattern source ---- */

struct source_run {
	GMainLoop *loop;
	uint64_t ids[8];
	int n;
	struct zs_source *src;
};

static void on_frame(void *data, struct zs_frame *frame)
{
	struct source_run *run = data;
	if (run->n < 8)
		run->ids[run->n++] = frame->id;
	if (run->n == 3) {
		/* input arriving mid-stream shows in later frames */
		zs_source_key(run->src, 0x1e, true);
		zs_source_pointer_abs(run->src, 5000, -3, ZS_BUTTON_LEFT);
	}
	if (run->n == 8) {
		struct mapped m;
		map_frame(frame, &m);
		uint8_t p[ZS_STAMP_PAYLOAD_BYTES];
		cr_assert(zs_stamp_find(&m.img, ZS_STAMP_TYPE_INPUT, p, NULL, NULL));
		struct zs_stamp_input in;
		zs_stamp_unpack_input(p, &in);
		cr_assert_eq(in.last_key, 0x1e);
		cr_assert_eq(in.key_events, 1);
		cr_assert_eq(in.pointer_x, 639);
		cr_assert_eq(in.pointer_y, 0);
		cr_assert_eq(in.buttons, ZS_BUTTON_LEFT);
		cr_assert_eq(in.button_events, 1);
		zs_frame_unmap(&m.map);
		g_main_loop_quit(run->loop);
	}
	zs_frame_release(frame);
}

static gboolean on_timeout(gpointer data)
{
	cr_assert_fail("source produced too few frames");
	return G_SOURCE_REMOVE;
}

Test(testpattern_source, emits_frames_with_increasing_ids)
{
	struct source_run run = { .loop = g_main_loop_new(NULL, FALSE) };
	struct zs_source_events ev = { .frame = on_frame };
	run.src = zs_testpattern_source_create(640, 480, 60, &ev, &run);
	cr_assert_not_null(run.src);
	guint guard = g_timeout_add_seconds(10, on_timeout, NULL);
	g_main_loop_run(run.loop);
	g_source_remove(guard);
	cr_assert_eq(run.n, 8);
	for (int i = 0; i < 8; i++)
		cr_assert_eq(run.ids[i], (uint64_t)i + 1);
	zs_source_destroy(run.src);
	g_main_loop_unref(run.loop);
}

struct hold_run {
	GMainLoop *loop;
	struct zs_frame *held[32];
	uint64_t ids[32];
	int n;
};

static void hold_frame(void *data, struct zs_frame *frame)
{
	struct hold_run *run = data;
	if (run->n < 32) {
		run->ids[run->n] = frame->id;
		run->held[run->n++] = frame;
	}
	else
		zs_frame_release(frame);
}

static gboolean quit_loop(gpointer data)
{
	g_main_loop_quit(data);
	return G_SOURCE_REMOVE;
}

static void run_for_ms(GMainLoop *loop, guint ms)
{
	g_timeout_add(ms, quit_loop, loop);
	g_main_loop_run(loop);
}

Test(testpattern_source, skips_ticks_while_all_buffers_are_held)
{
	struct hold_run run = { .loop = g_main_loop_new(NULL, FALSE) };
	struct zs_source_events ev = { .frame = hold_frame };
	struct zs_source *src = zs_testpattern_source_create(480, 272, 100, &ev, &run);
	cr_assert_not_null(src);
	run_for_ms(run.loop, 300); /* ~30 ticks */
	int first = run.n;
	cr_assert_gt(first, 0);
	cr_assert_lt(first, 16, "%d frames with none released", first);
	for (int i = 0; i < first; i++)
		zs_frame_release(run.held[i]);
	run_for_ms(run.loop, 100);
	cr_assert_gt(run.n, first, "no frames after release");
	/* skipped ticks do not consume ids */
	for (int i = 0; i < run.n; i++)
		cr_assert_eq(run.ids[i], (uint64_t)i + 1);
	for (int i = first; i < run.n; i++)
		zs_frame_release(run.held[i]);
	zs_source_destroy(src);
	g_main_loop_unref(run.loop);
}

static void keep_last(void *data, struct zs_frame *frame)
{
	struct zs_frame **last = data;
	zs_frame_release(*last);
	*last = frame;
}

static void source_input(struct zs_source *src, struct zs_stamp_input *in)
{
	struct zs_frame *last = NULL;
	src->events_data = &last;
	GMainLoop *loop = g_main_loop_new(NULL, FALSE);
	run_for_ms(loop, 100);
	g_main_loop_unref(loop);
	cr_assert_not_null(last);
	struct mapped m;
	map_frame(last, &m);
	uint8_t p[ZS_STAMP_PAYLOAD_BYTES];
	cr_assert(zs_stamp_find(&m.img, ZS_STAMP_TYPE_INPUT, p, NULL, NULL));
	zs_stamp_unpack_input(p, in);
	zs_frame_unmap(&m.map);
	zs_frame_release(last);
	src->events_data = NULL;
}

Test(testpattern_source, pointer_rel_moves_a_clamped_pointer)
{
	struct zs_source_events ev = { .frame = keep_last };
	struct zs_source *src = zs_testpattern_source_create(640, 480, 60, &ev, NULL);
	cr_assert_not_null(src);
	struct zs_stamp_input in;
	source_input(src, &in);
	cr_assert_eq(in.pointer_x, 320);
	cr_assert_eq(in.pointer_y, 240);
	cr_assert_eq(in.key_events, 0);

	zs_source_pointer_rel(src, 15, -40, 0);
	source_input(src, &in);
	cr_assert_eq(in.pointer_x, 335);
	cr_assert_eq(in.pointer_y, 200);

	zs_source_pointer_rel(src, -10000, 10000, ZS_BUTTON_RIGHT);
	zs_source_pointer_rel(src, 0, 0, 0);
	zs_source_key(src, 0x9e, false);
	source_input(src, &in);
	cr_assert_eq(in.pointer_x, 0);
	cr_assert_eq(in.pointer_y, 479);
	cr_assert_eq(in.buttons, 0);
	cr_assert_eq(in.button_events, 2);
	cr_assert_eq(in.last_key, 0x9e);
	cr_assert_eq(in.last_key_down, 0);
	cr_assert_eq(in.key_events, 1);
	zs_source_destroy(src);
}

Test(testpattern_source, wrappers_accept_null_and_bad_args_are_refused)
{
	zs_source_key(NULL, 1, true);
	zs_source_pointer_abs(NULL, 1, 1, 0);
	zs_source_pointer_rel(NULL, 1, 1, 0);
	zs_source_destroy(NULL);
	struct zs_source_impl empty = { .name = "empty" };
	struct zs_source bare = { .impl = &empty };
	zs_source_key(&bare, 1, true);
	zs_source_destroy(&bare);
	cr_assert_null(zs_testpattern_source_create(640, 480, 0, NULL, NULL));
	cr_assert_null(zs_testpattern_source_create(100, 100, 30, NULL, NULL));
}

/* zs_testpattern_psnr: the picture the stamps name is drawn again, so an
 * exact copy measures 100 dB, a disturbed one less, and levels shifted as
 * the clients' colour conversions shift them (white 255 -> 253) cost
 * nothing; a picture without a stamp is -ENOENT. */
Test(testpattern, psnr_of_a_screenshot_against_its_source)
{
	enum { TW = 640, TH = 360 };
	struct zs_testpattern *tp = zs_testpattern_create(TW, TH, 1);
	cr_assert_not_null(tp);
	struct zs_frame *f = zs_testpattern_render(tp, 77, 123456789);
	cr_assert_not_null(f);
	struct zs_frame_map map;
	cr_assert_eq(zs_frame_map(f, &map), 0);
	uint8_t *rgb = malloc((size_t)TW * TH * 3);
	cr_assert_not_null(rgb);
	for (uint32_t y = 0; y < TH; y++)
		for (uint32_t x = 0; x < TW; x++) {
			const uint8_t *s = map.pixels + (size_t)y * map.stride + x * 4;
			uint8_t *d = rgb + ((size_t)y * TW + x) * 3;
			d[0] = s[2];
			d[1] = s[1];
			d[2] = s[0];
		}
	zs_frame_unmap(&map);
	zs_frame_release(f);
	zs_testpattern_destroy(tp);

	struct zs_image img = { rgb, TW, TH, TW * 3, 3 };
	struct zs_psnr q;
	uint32_t id = 0;
	cr_assert_eq(zs_testpattern_psnr(&img, &q, &id), 0);
	cr_expect_eq(id, 77);
	cr_expect_geq(q.y_db, 99.0);
	cr_expect_geq(q.rgb_db, 99.0);
	cr_expect_geq(q.text_db, 99.0);

	/* levels as the decoders map them: still (near) perfect */
	for (size_t i = 0; i < (size_t)TW * TH * 3; i++)
		rgb[i] = (uint8_t)(rgb[i] * 253 / 255);
	cr_assert_eq(zs_testpattern_psnr(&img, &q, &id), 0);
	cr_expect_gt(q.y_db, 50.0, "level-shifted: %.2f dB", q.y_db);

	/* noise outside the stamps: a finite, lower figure */
	for (size_t i = 0; i < (size_t)TW * TH * 3; i += 7) {
		size_t px = i / 3;
		if (px % TW > 500 || px / TW > 250)
			rgb[i] = (uint8_t)(rgb[i] ^ 0x10);
	}
	cr_assert_eq(zs_testpattern_psnr(&img, &q, &id), 0);
	cr_expect_lt(q.y_db, 45.0, "noisy: %.2f dB", q.y_db);
	cr_expect_gt(q.y_db, 20.0, "noisy: %.2f dB", q.y_db);

	/* no stamp at all */
	memset(rgb, 0x40, (size_t)TW * TH * 3);
	cr_expect_eq(zs_testpattern_psnr(&img, &q, &id), -ENOENT);
	cr_expect_eq(zs_testpattern_psnr(NULL, &q, &id), -EINVAL);
	free(rgb);
}
