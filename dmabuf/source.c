/* Frame source vtable wrappers and the test-pattern source. */
#include "zs-dmabuf.h"

#include <glib.h>
#include <stdlib.h>

/* The pipeline holds at most one frame at the encoder and one waiting (a
 * newer one replaces it). A tick that finds a frame at the encoder (it
 * mapped it) is skipped, and the frame is drawn as soon as the encoder
 * releases its buffer: fresher when encoded than one drawn at the tick
 * that would have waited. The second buffer replaces a frame still
 * waiting (a busy output), and is given back when that does not happen.
 * A third buffer (3.5 MB at 720p) only held frames drawn too early. */
#define TP_SOURCE_BUFFERS 2
/* Below the pipeline's wake-up (G_PRIORITY_DEFAULT): when the encoder's
 * release and its result are seen in one main-loop iteration, the
 * encoded frame goes out first and the drawing does not delay it (drawn
 * first, it added up to 5 ms at 1080p to the result's way back, p95). */
#define TP_CATCHUP_PRIORITY (G_PRIORITY_DEFAULT + 1)
#define TP_SOURCE_MAX_FPS 240

void zs_source_destroy(struct zs_source *src)
{
	if (src && src->impl && src->impl->destroy)
		src->impl->destroy(src);
}

void zs_source_key(struct zs_source *src, uint32_t scancode, bool down)
{
	if (src && src->impl && src->impl->key)
		src->impl->key(src, scancode, down);
}

void zs_source_pointer_abs(struct zs_source *src, int32_t x, int32_t y,
	uint32_t buttons)
{
	if (src && src->impl && src->impl->pointer_abs)
		src->impl->pointer_abs(src, x, y, buttons);
}

void zs_source_pointer_rel(struct zs_source *src, int32_t dx, int32_t dy,
	uint32_t buttons)
{
	if (src && src->impl && src->impl->pointer_rel)
		src->impl->pointer_rel(src, dx, dy, buttons);
}

/* ---- test-pattern source ---- */

struct tp_source {
	struct zs_source base;
	struct zs_testpattern *tp;
	GSource *timer;
	/* ready when a buffer was released after a tick found none free */
	GSource *catchup;
	bool missed; /* a tick was skipped for want of a buffer */
	uint32_t width, height;
	int64_t interval_us;
	int64_t next_us; /* CLOCK_MONOTONIC deadline of the next tick */
	uint64_t next_id;
	struct zs_input_state input;
	/* still mode: no new frame after this id (0: never still); a frame
	 * asked for again, or after input, repeats last_id/last_capture_us
	 * with the input drawn */
	uint64_t still_after;
	uint64_t last_id, last_capture_us;
	GSource *repeat; /* idle: render the still picture once */
};

static const struct zs_source_impl tp_source_impl;

static struct tp_source *tp_source_from(struct zs_source *src)
{
	if (!src || src->impl != &tp_source_impl)
		return NULL;
	return (struct tp_source *)src;
}

static gboolean tick_dispatch(GSource *source, GSourceFunc callback,
	gpointer data)
{
	return callback(data);
}

static GSourceFuncs tick_funcs = { .dispatch = tick_dispatch };

static bool tp_source_emit(struct tp_source *s, uint64_t id,
	uint64_t capture_us)
{
	struct zs_frame *frame = zs_testpattern_render(s->tp, id, capture_us);
	if (!frame)
		return false; /* every buffer is held */
	s->last_id = id;
	s->last_capture_us = capture_us;
	if (s->base.events.frame)
		s->base.events.frame(s->base.events_data, frame);
	else
		zs_frame_release(frame);
	return true;
}

static gboolean tp_source_repeat(gpointer data)
{
	struct tp_source *s = data;
	if (!tp_source_emit(s, s->last_id, s->last_capture_us))
		return G_SOURCE_CONTINUE; /* a buffer frees up soon */
	g_source_unref(s->repeat);
	s->repeat = NULL;
	return G_SOURCE_REMOVE;
}

static void tp_source_schedule_repeat(struct tp_source *s)
{
	if (s->repeat || !s->last_id)
		return;
	s->repeat = g_timeout_source_new(1);
	g_source_set_callback(s->repeat, tp_source_repeat, s, NULL);
	g_source_attach(s->repeat, g_source_get_context(s->timer));
}

static gboolean tp_source_tick(gpointer data)
{
	struct tp_source *s = data;
	int64_t now = g_get_monotonic_time();

	if (s->still_after && s->next_id > s->still_after) {
		/* still: the timer sleeps until the source is destroyed */
		g_source_set_ready_time(s->timer, -1);
		return G_SOURCE_CONTINUE;
	}

	/* Deadlines follow a fixed grid from the start, so rounding of the
	 * poll timeout does not accumulate into drift; missed ticks are
	 * dropped, not caught up. */
	s->next_us += s->interval_us;
	if (s->next_us <= now)
		s->next_us += ((now - s->next_us) / s->interval_us + 1) * s->interval_us;
	g_source_set_ready_time(s->timer, s->next_us);

	if (tp_source_emit(s, s->next_id, (uint64_t)now)) {
		s->next_id++;
		s->missed = false;
	} else {
		/* every buffer is held: catch up at the next release */
		s->missed = true;
	}
	return G_SOURCE_CONTINUE;
}

static gboolean tp_source_catchup(gpointer data)
{
	struct tp_source *s = data;
	g_source_set_ready_time(s->catchup, -1);
	if (!s->missed || (s->still_after && s->next_id > s->still_after))
		return G_SOURCE_CONTINUE;
	if (tp_source_emit(s, s->next_id, (uint64_t)g_get_monotonic_time())) {
		s->next_id++;
		s->missed = false;
	}
	return G_SOURCE_CONTINUE;
}

/* Any thread, under the pool's lock (tp_source_destroy clears it first). */
static void tp_source_buffer_freed(void *data)
{
	struct tp_source *s = data;
	g_source_set_ready_time(s->catchup, 0);
}

static bool tp_source_is_still(const struct tp_source *s)
{
	return s->still_after && s->next_id > s->still_after;
}

static void tp_source_show_input(struct tp_source *s)
{
	zs_testpattern_set_input(s->tp, &s->input);
	/* a still picture changes only when the input drawn on it does */
	if (tp_source_is_still(s))
		tp_source_schedule_repeat(s);
}

static void tp_source_request_frame(struct zs_source *src)
{
	struct tp_source *s = tp_source_from(src);
	/* moving: the next tick comes anyway */
	if (s && tp_source_is_still(s))
		tp_source_schedule_repeat(s);
}

void zs_testpattern_source_set_still_after(struct zs_source *src,
	uint64_t frames)
{
	struct tp_source *s = tp_source_from(src);
	if (s)
		s->still_after = frames;
}

static void tp_source_destroy(struct zs_source *src)
{
	struct tp_source *s = tp_source_from(src);
	if (!s)
		return;
	/* no release calls into s from here on */
	if (s->tp)
		zs_testpattern_set_free_notify(s->tp, NULL, NULL);
	if (s->timer) {
		g_source_destroy(s->timer);
		g_source_unref(s->timer);
	}
	if (s->catchup) {
		g_source_destroy(s->catchup);
		g_source_unref(s->catchup);
	}
	if (s->repeat) {
		g_source_destroy(s->repeat);
		g_source_unref(s->repeat);
	}
	/* Frames still held by consumers keep the pool alive until released. */
	zs_testpattern_destroy(s->tp);
	free(s);
}

static void tp_source_key(struct zs_source *src, uint32_t scancode, bool down)
{
	struct tp_source *s = tp_source_from(src);
	if (!s)
		return;
	s->input.last_key = scancode;
	s->input.last_key_down = down;
	s->input.key_events++;
	tp_source_show_input(s);
}

static void tp_source_buttons(struct tp_source *s, uint32_t buttons)
{
	uint32_t changed = s->input.buttons ^ buttons;
	s->input.button_events += (uint32_t)__builtin_popcount(changed);
	s->input.buttons = buttons;
}

static int32_t clamp_i32(int64_t v, int32_t lo, int32_t hi)
{
	return v < lo ? lo : v > hi ? hi : (int32_t)v;
}

static void tp_source_pointer_abs(struct zs_source *src, int32_t x, int32_t y,
	uint32_t buttons)
{
	struct tp_source *s = tp_source_from(src);
	if (!s)
		return;
	s->input.pointer_x = clamp_i32(x, 0, (int32_t)s->width - 1);
	s->input.pointer_y = clamp_i32(y, 0, (int32_t)s->height - 1);
	tp_source_buttons(s, buttons);
	tp_source_show_input(s);
}

static void tp_source_pointer_rel(struct zs_source *src, int32_t dx, int32_t dy,
	uint32_t buttons)
{
	struct tp_source *s = tp_source_from(src);
	if (!s)
		return;
	s->input.pointer_x = clamp_i32((int64_t)s->input.pointer_x + dx, 0,
		(int32_t)s->width - 1);
	s->input.pointer_y = clamp_i32((int64_t)s->input.pointer_y + dy, 0,
		(int32_t)s->height - 1);
	tp_source_buttons(s, buttons);
	tp_source_show_input(s);
}

static const struct zs_source_impl tp_source_impl = {
	.name = "testpattern",
	.destroy = tp_source_destroy,
	.key = tp_source_key,
	.pointer_abs = tp_source_pointer_abs,
	.pointer_rel = tp_source_pointer_rel,
	.request_frame = tp_source_request_frame,
};

/* A classic arrow pointer for clients in absolute mouse mode, which show
 * the server's cursor image: 12x19, black outline, white fill. */
static const char *const arrow_rows[] = {
	"X           ",
	"XX          ",
	"X.X         ",
	"X..X        ",
	"X...X       ",
	"X....X      ",
	"X.....X     ",
	"X......X    ",
	"X.......X   ",
	"X........X  ",
	"X.........X ",
	"X......XXXXX",
	"X...X..X    ",
	"X..XX..X    ",
	"X.X  X..X   ",
	"XX   X..X   ",
	"X     X..X  ",
	"      X..X  ",
	"       XX   ",
};
#define ARROW_W 12
#define ARROW_H 19

static void tp_source_define_cursor(struct tp_source *s)
{
	if (!s->base.events.cursor_define)
		return;
	uint32_t argb[ARROW_W * ARROW_H];
	for (int y = 0; y < ARROW_H; y++)
		for (int x = 0; x < ARROW_W; x++) {
			char c = arrow_rows[y][x];
			argb[y * ARROW_W + x] = c == 'X' ? 0xff000000u :
				c == '.' ? 0xffffffffu : 0;
		}
	s->base.events.cursor_define(s->base.events_data, ARROW_W, ARROW_H,
		0, 0, argb);
}

struct zs_source *zs_testpattern_source_create(uint32_t width, uint32_t height,
	uint32_t fps, const struct zs_source_events *events, void *data)
{
	if (fps == 0 || fps > TP_SOURCE_MAX_FPS) {
		g_warning("testpattern: %u fps out of range 1..%d", fps,
			TP_SOURCE_MAX_FPS);
		return NULL;
	}
	struct tp_source *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->tp = zs_testpattern_create(width, height, TP_SOURCE_BUFFERS);
	if (!s->tp) {
		g_warning("testpattern: cannot create %ux%u (sizes %dx%d..%d)",
			width, height, ZS_TESTPATTERN_MIN_WIDTH,
			ZS_TESTPATTERN_MIN_HEIGHT, ZS_TESTPATTERN_MAX_DIM);
		goto err_free;
	}
	s->base.impl = &tp_source_impl;
	if (events)
		s->base.events = *events;
	s->base.events_data = data;
	s->width = width;
	s->height = height;
	s->interval_us = G_USEC_PER_SEC / fps;
	s->next_id = 1;
	s->input.pointer_x = (int32_t)width / 2;
	s->input.pointer_y = (int32_t)height / 2;
	tp_source_show_input(s);

	GMainContext *ctx = g_main_context_ref_thread_default();
	s->timer = g_source_new(&tick_funcs, sizeof(GSource));
	g_source_set_name(s->timer, "zs-testpattern");
	g_source_set_priority(s->timer, G_PRIORITY_DEFAULT);
	g_source_set_callback(s->timer, tp_source_tick, s, NULL);
	s->next_us = g_get_monotonic_time();
	g_source_set_ready_time(s->timer, s->next_us);
	g_source_attach(s->timer, ctx);
	s->catchup = g_source_new(&tick_funcs, sizeof(GSource));
	g_source_set_name(s->catchup, "zs-testpattern-catchup");
	g_source_set_priority(s->catchup, TP_CATCHUP_PRIORITY);
	g_source_set_callback(s->catchup, tp_source_catchup, s, NULL);
	g_source_attach(s->catchup, ctx);
	g_main_context_unref(ctx);
	zs_testpattern_set_free_notify(s->tp, tp_source_buffer_freed, s);
	tp_source_define_cursor(s);
	return &s->base;

err_free:
	free(s);
	return NULL;
}
