/* Tests for the test pattern's buffer pool: idle buffers give their pages
 * back and are redrawn whole, a release after a skipped render is
 * announced, and the source draws the skipped frame at that release. */
#include <criterion/criterion.h>
#include <drm_fourcc.h>
#include <errno.h>
#include <glib.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/stat.h>

#include "zs-dmabuf.h"

#define W 640
#define H 480

/* Bytes of the file the kernel holds pages for. */
static long long resident_bytes(int fd)
{
	struct stat st;
	cr_assert_eq(fstat(fd, &st), 0);
	return (long long)st.st_blocks * 512;
}

static bool same_picture(const struct zs_frame *a, const struct zs_frame *b)
{
	struct zs_frame_map ma, mb;
	cr_assert_eq(zs_frame_map(a, &ma), 0);
	cr_assert_eq(zs_frame_map(b, &mb), 0);
	bool same = true;
	for (uint32_t y = 0; y < a->height && same; y++)
		same = memcmp(ma.pixels + (size_t)y * ma.stride,
			mb.pixels + (size_t)y * mb.stride, (size_t)a->width * 4) == 0;
	zs_frame_unmap(&ma);
	zs_frame_unmap(&mb);
	return same;
}

/* The only free buffer gave its pages back (or was never drawn) and
 * another frame is held: the first render puts it off, the second draws. */
static struct zs_frame *render_cold(struct zs_testpattern *tp, uint64_t id)
{
	cr_assert_null(zs_testpattern_render(tp, id, 0),
		"a given-back buffer drawn at once for frame %" PRIu64, id);
	struct zs_frame *f = zs_testpattern_render(tp, id, 0);
	cr_assert_not_null(f, "frame %" PRIu64 " put off twice", id);
	return f;
}

static uint32_t stamp_id(const struct zs_frame *f)
{
	struct zs_frame_map m;
	cr_assert_eq(zs_frame_map(f, &m), 0);
	struct zs_image img = { m.pixels, f->width, f->height, m.stride, 4 };
	uint8_t p[ZS_STAMP_PAYLOAD_BYTES];
	cr_assert(zs_stamp_find(&img, ZS_STAMP_TYPE_FRAME, p, NULL, NULL));
	uint32_t id;
	uint64_t us;
	zs_stamp_unpack_frame(p, &id, &us);
	zs_frame_unmap(&m);
	return id;
}

Test(memfd, discard_gives_the_pages_back_and_keeps_size_and_mapping)
{
	struct zs_memfd_buffer buf;
	cr_assert_eq(zs_memfd_buffer_init(&buf, "t", 256, 256, DRM_FORMAT_XRGB8888), 0);
	memset(buf.pixels, 0x7f, buf.size);
	cr_assert_geq(resident_bytes(buf.fd), (long long)buf.size);
	cr_assert_eq(zs_memfd_buffer_discard(&buf), 0);
	cr_assert_eq(resident_bytes(buf.fd), 0);
	struct stat st;
	cr_assert_eq(fstat(buf.fd, &st), 0);
	cr_assert_eq((size_t)st.st_size, buf.size);
	/* the mapping stays usable: zeros, then writable again */
	cr_assert_eq(buf.pixels[buf.size / 2], 0);
	buf.pixels[0] = 1;
	cr_assert_gt(resident_bytes(buf.fd), 0);
	zs_memfd_buffer_finish(&buf);
	cr_assert_eq(zs_memfd_buffer_discard(&buf), -EINVAL);
	cr_assert_eq(zs_memfd_buffer_discard(NULL), -EINVAL);
}

/* A consumer that keeps up uses the first buffer; the second, drawn once
 * under load, gives its pages back after ZS_TESTPATTERN_IDLE_RENDERS and
 * is then redrawn whole: its picture equals a fresh pool's. */
Test(testpattern, an_idle_buffer_gives_its_pages_back)
{
	struct zs_testpattern *tp = zs_testpattern_create(W, H, 2);
	cr_assert_not_null(tp);
	uint64_t id = 1;
	struct zs_frame *a = zs_testpattern_render(tp, id++, 0);
	struct zs_frame *b = render_cold(tp, id++);
	int fd_a = a->planes[0].fd, fd_b = b->planes[0].fd;
	cr_assert_neq(fd_a, fd_b);
	zs_frame_release(a);
	zs_frame_release(b);
	cr_assert_geq(resident_bytes(fd_b), (long long)W * H * 4);

	for (int i = 0; i < ZS_TESTPATTERN_IDLE_RENDERS - 1; i++) {
		struct zs_frame *f = zs_testpattern_render(tp, id++, 0);
		cr_assert_eq(f->planes[0].fd, fd_a);
		zs_frame_release(f);
	}
	cr_assert_geq(resident_bytes(fd_b), (long long)W * H * 4,
		"discarded before it was idle long enough");
	struct zs_frame *f = zs_testpattern_render(tp, id++, 0);
	zs_frame_release(f);
	cr_assert_eq(resident_bytes(fd_b), 0, "idle buffer still resident");
	cr_assert_geq(resident_bytes(fd_a), (long long)W * H * 4);

	/* load again: the discarded buffer is drawn whole */
	a = zs_testpattern_render(tp, id++, 0);
	b = render_cold(tp, id);
	cr_assert_eq(b->planes[0].fd, fd_b);
	cr_assert_eq(stamp_id(b), (uint32_t)id);
	struct zs_testpattern *fresh = zs_testpattern_create(W, H, 1);
	struct zs_frame *ref = zs_testpattern_render(fresh, id, 0);
	cr_assert(same_picture(b, ref), "redrawn buffer differs from a fresh render");
	zs_frame_release(ref);
	zs_testpattern_destroy(fresh);
	zs_frame_release(a);
	zs_frame_release(b);
	zs_testpattern_destroy(tp);
}

/* A buffer held the whole time is not discarded, however long. */
Test(testpattern, a_held_buffer_keeps_its_pages)
{
	struct zs_testpattern *tp = zs_testpattern_create(W, H, 2);
	struct zs_frame *held = zs_testpattern_render(tp, 1, 0);
	int fd = held->planes[0].fd;
	for (uint64_t id = 2; id < 2 + 2 * ZS_TESTPATTERN_IDLE_RENDERS; id++)
		zs_frame_release(zs_testpattern_render(tp, id, 0));
	cr_assert_geq(resident_bytes(fd), (long long)W * H * 4);
	cr_assert_eq(stamp_id(held), 1);
	zs_frame_release(held);
	zs_testpattern_destroy(tp);
}

static atomic_int notified;

static void count_notify(void *data)
{
	cr_assert_eq(data, &notified);
	atomic_fetch_add(&notified, 1);
}

static gpointer release_in_thread(gpointer data)
{
	zs_frame_release(data);
	return NULL;
}

Test(testpattern, a_release_after_a_skipped_render_is_announced_once)
{
	atomic_store(&notified, 0);
	struct zs_testpattern *tp = zs_testpattern_create(W, H, 2);
	zs_testpattern_set_free_notify(tp, count_notify, &notified);
	/* no render was refused: releases say nothing */
	zs_frame_release(zs_testpattern_render(tp, 1, 0));
	struct zs_frame *a = zs_testpattern_render(tp, 2, 0);
	struct zs_frame *b = render_cold(tp, 3);
	cr_assert_eq(atomic_load(&notified), 0);
	cr_assert_null(zs_testpattern_render(tp, 4, 0));
	cr_assert_null(zs_testpattern_render(tp, 4, 0));
	cr_assert_eq(atomic_load(&notified), 0);
	/* the release comes from another thread, as the encoder's does */
	g_thread_join(g_thread_new("release", release_in_thread, a));
	cr_assert_eq(atomic_load(&notified), 1);
	zs_frame_release(b);
	cr_assert_eq(atomic_load(&notified), 1, "announced twice");
	/* once stopped, nothing more */
	a = zs_testpattern_render(tp, 4, 0);
	b = zs_testpattern_render(tp, 5, 0);
	cr_assert_null(zs_testpattern_render(tp, 6, 0));
	zs_testpattern_set_free_notify(tp, NULL, NULL);
	zs_frame_release(a);
	zs_frame_release(b);
	cr_assert_eq(atomic_load(&notified), 1);
	zs_testpattern_destroy(tp);
}

/* ---- the source: a tick skipped while both buffers are held is drawn
 * when one is released, not at the next tick ---- */

struct catchup_run {
	GMainLoop *loop;
	struct zs_frame *frames[4];
	uint64_t capture_us[4];
	int n;
};

static gboolean release_first_later(gpointer data)
{
	struct catchup_run *run = data;
	/* released from another thread, as the encoder releases */
	g_thread_join(g_thread_new("release", release_in_thread, run->frames[0]));
	run->frames[0] = NULL;
	return G_SOURCE_REMOVE;
}

static void catchup_frame(void *data, struct zs_frame *frame)
{
	struct catchup_run *run = data;
	if (run->n >= 3) {
		zs_frame_release(frame);
		return;
	}
	run->capture_us[run->n] = frame->capture_us;
	run->frames[run->n++] = frame;
	if (run->n == 2) {
		/* both buffers held: the tick 1 s after this one is skipped;
		 * one is released 0.2 s after that tick */
		g_timeout_add(1200, release_first_later, run);
	} else if (run->n == 3) {
		g_main_loop_quit(run->loop);
	}
}

static gboolean catchup_timeout(gpointer data)
{
	cr_assert_fail("no frame after the release");
	return G_SOURCE_REMOVE;
}

Test(testpattern_source, a_skipped_tick_is_drawn_at_the_next_release)
{
	struct catchup_run run = { .loop = g_main_loop_new(NULL, FALSE) };
	struct zs_source_events ev = { .frame = catchup_frame };
	struct zs_source *src = zs_testpattern_source_create(ZS_TESTPATTERN_MIN_WIDTH,
		ZS_TESTPATTERN_MIN_HEIGHT, 1, &ev, &run);
	cr_assert_not_null(src);
	guint guard = g_timeout_add_seconds(10, catchup_timeout, NULL);
	g_main_loop_run(run.loop);
	g_source_remove(guard);
	cr_assert_eq(run.n, 3);
	cr_assert_eq(run.frames[2]->id, 3, "skipped ticks take no id");
	/* at a tick it would come 2 s after frame 2; it came at the release,
	 * ~1.2 s after (the bound leaves 0.7 s for a loaded machine) */
	int64_t gap = (int64_t)(run.capture_us[2] - run.capture_us[1]);
	cr_assert_lt(gap, 1900000, "frame 3 came %" PRId64 " us after frame 2", gap);
	cr_assert_gt(gap, 1000000, "frame 3 came before the skipped tick");
	zs_frame_release(run.frames[1]);
	zs_frame_release(run.frames[2]);
	zs_source_destroy(src);
	g_main_loop_unref(run.loop);
}

/* Destroying the source with frames out: their later release, from
 * another thread, must not reach the freed source. */
Test(testpattern_source, a_release_after_destroy_reaches_nothing)
{
	struct catchup_run run = { .loop = g_main_loop_new(NULL, FALSE) };
	struct zs_source_events ev = { .frame = catchup_frame };
	struct zs_source *src = zs_testpattern_source_create(ZS_TESTPATTERN_MIN_WIDTH,
		ZS_TESTPATTERN_MIN_HEIGHT, 100, &ev, &run);
	while (run.n < 2)
		g_main_context_iteration(NULL, TRUE);
	/* a tick finds both held */
	for (int i = 0; i < 20; i++) {
		g_main_context_iteration(NULL, FALSE);
		g_usleep(2000);
	}
	zs_source_destroy(src);
	g_thread_join(g_thread_new("release", release_in_thread, run.frames[0]));
	g_thread_join(g_thread_new("release", release_in_thread, run.frames[1]));
	while (g_main_context_iteration(NULL, FALSE))
		;
	g_main_loop_unref(run.loop);
}

/* A frame the consumer has begun to read (mapped: at the encoder) makes
 * the next render wait for its release, although a buffer is free; a
 * frame merely held (waiting) does not. */
Test(testpattern, a_frame_being_read_defers_the_next_render)
{
	atomic_store(&notified, 0);
	struct zs_testpattern *tp = zs_testpattern_create(W, H, 2);
	zs_testpattern_set_free_notify(tp, count_notify, &notified);
	struct zs_frame *a = zs_testpattern_render(tp, 1, 0);
	int fd_a = a->planes[0].fd;
	/* waiting, not read: the second buffer replaces it */
	struct zs_frame *b = render_cold(tp, 2);
	zs_frame_release(a);
	/* b goes to the encoder, which maps it */
	struct zs_frame_map m;
	cr_assert_eq(zs_frame_map(b, &m), 0);
	cr_assert_null(zs_testpattern_render(tp, 3, 0), "drawn while a frame is read");
	zs_frame_unmap(&m);
	cr_assert_eq(atomic_load(&notified), 0);
	g_thread_join(g_thread_new("release", release_in_thread, b));
	cr_assert_eq(atomic_load(&notified), 1);
	struct zs_frame *c = zs_testpattern_render(tp, 3, 0);
	cr_assert_not_null(c);
	cr_assert_eq(c->planes[0].fd, fd_a);
	/* the flag belongs to one hand-out: b's buffer, read before, is not
	 * read once handed out again */
	struct zs_frame *d = zs_testpattern_render(tp, 4, 0);
	cr_assert_not_null(d);
	cr_assert_neq(d->planes[0].fd, fd_a);
	zs_frame_release(c);
	struct zs_frame *e = zs_testpattern_render(tp, 5, 0);
	cr_assert_not_null(e, "a frame no longer read still defers renders");
	cr_assert_eq(stamp_id(d), 4);
	cr_assert_eq(stamp_id(e), 5);
	zs_frame_release(d);
	zs_frame_release(e);
	zs_testpattern_destroy(tp);
}
