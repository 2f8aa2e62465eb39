/* zerospice tests — the encode pipeline with a real spice-server display
 * (no client: the test plays spice-server's reader by dropping what is
 * queued) and the software encoder: a bad frame costs that frame, not the
 * codec; cursor messages do not pile up while nobody reads. */
#include <criterion/criterion.h>
#include <drm_fourcc.h>
#include <spice/stream-device.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "internal.h"
#include "zs-dmabuf.h"

#define W 320
#define H 240

static void ev_start_stop(void *d, unsigned o, uint32_t m)
{
	(void)d; (void)o; (void)m;
}
static void ev_drained(void *d, unsigned o) { (void)d; (void)o; }
static void ev_key(void *d, uint32_t c, bool down) { (void)d; (void)c; (void)down; }
static void ev_abs(void *d, uint32_t id, int32_t x, int32_t y, uint32_t b)
{
	(void)d; (void)id; (void)x; (void)y; (void)b;
}
static void ev_rel(void *d, int32_t x, int32_t y, uint32_t b)
{
	(void)d; (void)x; (void)y; (void)b;
}

static const struct zs_display_events events = {
	.start_stop = ev_start_stop,
	.drained = ev_drained,
	.key = ev_key,
	.pointer_abs = ev_abs,
	.pointer_rel = ev_rel,
};

struct fixture {
	struct zs_display *display;
	struct zs_output *output;
	struct zs_pipeline *pipeline;
	struct zs_memfd_buffer good;
	int empty_fd;
	int released;
};

static struct fixture F;

static void setup(void)
{
	char err[256] = "";
	struct zs_display_config dcfg = { .width = W, .height = H };
	struct zs_pipeline_config pcfg = {
		.backend = ZS_ENCODER_SOFTWARE,
		.forced_codec = ZS_CODEC_NONE,
		.fps = 30,
	};

	memset(&F, 0, sizeof(F));
	F.display = zs_display_create(&dcfg, &events, NULL, err, sizeof(err));
	cr_assert_not_null(F.display, "%s", err);
	F.output = zs_display_output(F.display, 0);
	cr_assert_not_null(F.output);
	F.pipeline = zs_pipeline_create(&pcfg, F.output, err, sizeof(err));
	if (!F.pipeline) {
		/* Criterion's skip exits 0: say why and fail loudly instead. */
		cr_assert_fail("no software encoder: %s", err);
	}
	cr_assert_eq(zs_memfd_buffer_init(&F.good, "zs-test", W, H,
		DRM_FORMAT_XRGB8888), 0);
	memset(F.good.pixels, 0x80, F.good.size);
	F.empty_fd = memfd_create("zs-empty", MFD_CLOEXEC);
	cr_assert(F.empty_fd >= 0);
}

static void teardown(void)
{
	zs_pipeline_destroy(F.pipeline);
	zs_display_destroy(F.display);
	zs_memfd_buffer_finish(&F.good);
	close(F.empty_fd);
}

static void release(struct zs_frame *f, void *data)
{
	(void)data;
	F.released++;
	free(f);
}

static struct zs_frame *frame(bool bad, uint64_t id)
{
	struct zs_frame *f = calloc(1, sizeof(*f));

	f->width = W;
	f->height = H;
	f->fourcc = DRM_FORMAT_XRGB8888;
	f->modifier = DRM_FORMAT_MOD_LINEAR;
	f->y0_top = true;
	f->n_planes = 1;
	/* bad: a buffer that shrank to nothing under us */
	f->planes[0].fd = bad ? F.empty_fd : F.good.fd;
	f->planes[0].stride = F.good.stride;
	f->id = id;
	f->release = release;
	return f;
}

/* One main-loop iteration, or a short sleep when there was nothing. */
static void spin(unsigned sleep_us)
{
	if (!g_main_context_iteration(NULL, FALSE))
		g_usleep(sleep_us);
}

/* Plays spice-server reading everything: the pipeline may go on. */
static void drain(void)
{
	zs_output_drop_unsent(F.output);
	zs_pipeline_drained(F.pipeline);
}

/* Feeds one frame and waits for its result. */
static void feed(bool bad, uint64_t id)
{
	int want = F.released + 1;

	zs_pipeline_frame(F.pipeline, frame(bad, id));
	for (int i = 0; i < 1000 && F.released < want; i++)
		spin(2000);
	cr_assert(F.released >= want, "frame %" G_GUINT64_FORMAT
		" never came back", id);
	/* the result reaches the main thread just after the release */
	for (int i = 0; i < 50; i++)
		spin(1000);
	drain();
}

TestSuite(pipeline, .init = setup, .fini = teardown, .timeout = 60);

Test(pipeline, a_bad_frame_costs_that_frame_not_the_codec)
{
	struct zs_pipeline_stats st;
	uint64_t id = 0;

	zs_pipeline_start_stop(F.pipeline, ZS_CODEC_BIT(ZS_CODEC_H264));
	feed(false, ++id);
	zs_pipeline_get_stats(F.pipeline, &st);
	cr_assert_eq(st.frames_sent, 1, "first frame not sent");
	/* A bad frame while the encoder is fresh (the case that used to
	 * disable the codec for good), and one later. */
	zs_pipeline_start_stop(F.pipeline, ZS_CODEC_BIT(ZS_CODEC_H264));
	feed(true, ++id);
	feed(false, ++id);
	feed(true, ++id);
	for (int i = 0; i < 5; i++)
		feed(false, ++id);
	zs_pipeline_get_stats(F.pipeline, &st);
	printf("sent %" G_GUINT64_FORMAT ", failed %" G_GUINT64_FORMAT "\n",
		st.frames_sent, st.frames_failed);
	cr_assert_eq(st.frames_failed, 2);
	cr_assert_eq(st.frames_sent, 1 + 6, "h264 stopped after a bad frame");
}

Test(pipeline, a_codec_that_keeps_failing_is_put_aside_not_dropped)
{
	struct zs_pipeline_stats st;
	uint64_t id = 0;

	zs_pipeline_start_stop(F.pipeline, ZS_CODEC_BIT(ZS_CODEC_H264) |
		ZS_CODEC_BIT(ZS_CODEC_MJPEG));
	/* h264 (the preferred codec) fails three times in a row: mjpeg
	 * takes over, h264 is not forgotten. */
	for (int i = 0; i < 3; i++)
		feed(true, ++id);
	feed(false, ++id);
	zs_pipeline_get_stats(F.pipeline, &st);
	cr_assert_eq(st.frames_failed, 3);
	cr_assert_eq(st.frames_sent, 1, "no codec streams after failures");
}

Test(pipeline, cursor_messages_keep_only_the_newest_while_unread)
{
	const uint32_t dim = 256;
	uint32_t *argb = g_new0(uint32_t, dim * dim);

	zs_pipeline_start_stop(F.pipeline, ZS_CODEC_BIT(ZS_CODEC_H264));
	feed(false, 1);
	/* Nobody reads from here on. */
	zs_output_test_stall_reads = true;
	zs_pipeline_frame(F.pipeline, frame(false, 2));
	for (int i = 0; i < 50; i++)
		spin(2000);
	size_t base = zs_output_queued_bytes(F.output);
	for (int i = 0; i < 2000; i++) {
		argb[0] = (uint32_t)i;
		zs_pipeline_cursor_define(F.pipeline, dim, dim, 1, 1, argb);
		zs_pipeline_cursor_move(F.pipeline, i, i, true);
	}
	size_t queued = zs_output_queued_bytes(F.output);
	printf("queued %zu bytes before the flood, %zu after 2000 shapes of "
		"%ux%u and 2000 moves\n", base, queued, dim, dim);
	/* one shape, one move, whatever was there */
	cr_assert_gt(queued, base, "the cursor was not queued at all");
	cr_assert_leq(queued, base + dim * dim * 4 + 256);
	zs_output_test_stall_reads = false;
	g_free(argb);
	for (int i = 0; i < 200 && F.released < 2; i++)
		spin(2000);
}

static int count_fds(void)
{
	GDir *d = g_dir_open("/proc/self/fd", 0, NULL);
	int n = 0;

	while (g_dir_read_name(d))
		n++;
	g_dir_close(d);
	return n;
}

Test(pipeline, size_changes_recreate_encoders_without_leaking_fds)
{
	struct zs_memfd_buffer other;
	int before = -1;

	cr_assert_eq(zs_memfd_buffer_init(&other, "zs-test", W / 2, H / 2,
		DRM_FORMAT_XRGB8888), 0);
	zs_pipeline_start_stop(F.pipeline, ZS_CODEC_BIT(ZS_CODEC_H264));
	for (int i = 0; i < 12; i++) {
		struct zs_frame *f = frame(false, (uint64_t)i + 1);
		if (i % 2) {
			f->width = W / 2;
			f->height = H / 2;
			f->planes[0].fd = other.fd;
			f->planes[0].stride = other.stride;
		}
		int want = F.released + 1;
		zs_pipeline_frame(F.pipeline, f);
		for (int k = 0; k < 1000 && F.released < want; k++)
			spin(2000);
		for (int k = 0; k < 50; k++)
			spin(1000);
		drain();
		if (i == 3)
			before = count_fds();
	}
	int after = count_fds();
	printf("fds after 4 encoder changes %d, after 12 %d\n", before, after);
	cr_assert_leq(after, before, "fds leak when the encoder is recreated");
	zs_memfd_buffer_finish(&other);
}
